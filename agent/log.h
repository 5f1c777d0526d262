/*
 * log — levelled, module-tagged logging, one line per event.
 *
 * Lines go to stderr, either as text
 *   2026-11-27T19:20:01.123Z [INFO]  http: listening on 127.0.0.1:8500
 * or, after log_set_json(true), as one JSON object per line
 *   {"@timestamp":"...","@level":"info","@module":"http","@message":"..."}
 * The level can change at any time (reload applies it at once). Not
 * thread-safe by design: only the loop thread logs.
 */
#ifndef CAIRN_LOG_H
#define CAIRN_LOG_H

#include <stdbool.h>

enum log_level { LOG_TRACE, LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Parse "trace", "debug", "info", "warn"/"warning", "error" (any case).
 * Returns 0 and sets *out, or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_set_json(bool on);

/* Emit one line if `level` is enabled. `module` is a short tag ("http",
 * "raft", "cfg", ...). */
void log_msg(enum log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_trace(m, ...) log_msg(LOG_TRACE, m, __VA_ARGS__)
#define log_debug(m, ...) log_msg(LOG_DEBUG, m, __VA_ARGS__)
#define log_info(m, ...) log_msg(LOG_INFO, m, __VA_ARGS__)
#define log_warn(m, ...) log_msg(LOG_WARN, m, __VA_ARGS__)
#define log_error(m, ...) log_msg(LOG_ERROR, m, __VA_ARGS__)

#endif
