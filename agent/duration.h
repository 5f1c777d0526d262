/*
 * duration — Go's time.Duration text form, as Consul writes durations in
 * its config files and API ("10s", "1m30s", "1.5h", "500ms").
 */
#ifndef CAIRN_DURATION_H
#define CAIRN_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Parse a Go duration ("10s", "1m30s", "1.5h", "500ms", "250us", "250µs",
 * "-3s", "+1h", "0"), units ns us µs ms s m h, fractions allowed, sign
 * allowed, at least one unit required except for "0". Same rules as Go's
 * time.ParseDuration (the Greek mu "μs" is accepted too). Returns 0 and
 * *ns, or -EINVAL (also on overflow of int64 nanoseconds); *ns is untouched
 * on error. */
int duration_parse(const char *s, int64_t *ns);

/* Format like Go's time.Duration.String(): "0s", "1.5s", "1m30s",
 * "2h0m0s", "500ms", "1µs", "-3s". The result always fits in 32 bytes
 * (NUL included); a smaller buf gets a truncated, NUL-terminated string. */
void duration_format(int64_t ns, char *buf, size_t len);

#endif
