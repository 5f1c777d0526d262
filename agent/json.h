/*
 * json — thin helpers over json-c that give Go encoding/json semantics where
 * Consul clients can tell the difference.
 *
 * - Integers never pass through double: json-c 0.16 keeps int64 and uint64
 *   exactly, and json_get_u64 accepts only JSON integers 0..2^64-1.
 *   Integer literals outside int64/uint64 range, which json-c would silently
 *   clamp, are parsed as doubles instead (as Go's interface{} decoding does),
 *   so json_get_u64 rejects them.
 * - Output looks like Go's json.Marshal (compact) and json.MarshalIndent
 *   (pretty): no spaces, "/" not escaped, "<", ">", "&", U+2028, U+2029
 *   escaped as \u003c..., invalid UTF-8 as \ufffd, floats in Go's shortest
 *   form (3, 0.1, 1e+21, 1e-7), empty containers as [] and {}.
 * - Field lookup is case-insensitive like Go's decoder.
 * - Base64 is the standard alphabet with padding (Go's StdEncoding), done by
 *   libsodium.
 *
 * json_object values follow json-c's reference counting: "new" means the
 * caller owns one reference and drops it with json_object_put().
 */
#ifndef CAIRN_JSON_H
#define CAIRN_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* Maximum nesting accepted by json_parse (Consul bodies are shallow; the
 * bound keeps json-c and our recursive printer off deep stacks). */
#define JSON_MAX_DEPTH 64

/* Parse exactly one JSON value from `buf` (`len` bytes, need not be
 * NUL-terminated). Whitespace around the value is allowed; anything else
 * after it is an error. Parsing is strict (no comments, single quotes, NaN,
 * trailing commas). Returns a new object, or NULL on failure with a short
 * reason in `err` (json-c's tokener text, "trailing data", "out of memory")
 * if `err` is not NULL. Note a valid `null` document also returns NULL: in
 * that case err is set to "" (empty string). */
json_object *json_parse(const char *buf, size_t len, char *err, size_t errlen);

/* Serialise `o` (borrowed; NULL is JSON null). Compact form is Go's
 * json.Marshal; pretty form is json.MarshalIndent(v, "", "    ") plus a
 * trailing newline (what Consul sends for ?pretty). Returns a new
 * NUL-terminated string (free()), its length in *len if `len` is not NULL;
 * NULL only on out-of-memory. */
char *json_dump(json_object *o, bool pretty, size_t *len);

/* Go's json.MarshalIndent(v, "", indent) exactly (no trailing newline);
 * indent NULL means compact (json.Marshal). Same return as json_dump. */
char *json_dump_indent(json_object *o, const char *indent, size_t *len);

/* Field `name` of object `obj`, matching case-insensitively (ASCII) as Go's
 * decoder does; an exact match is preferred over a folded one. Returns a
 * borrowed pointer (valid while obj lives), or NULL when obj is not an
 * object, the field is absent, or its value is JSON null. */
json_object *json_get_ci(json_object *obj, const char *name);

/* Read a uint64 from a JSON integer in 0..2^64-1. Negative numbers, floats
 * (1.0, 1e3), strings, booleans and null give -EINVAL and leave *out
 * unchanged. */
int json_get_u64(json_object *v, uint64_t *out);

/* Standard base64 with padding of `n` bytes at `p` (p may be NULL when
 * n == 0). Returns a new NUL-terminated string (free()), "" for n == 0, or
 * NULL on out-of-memory. */
char *b64_encode(const void *p, size_t n);

/* Decode `slen` characters of standard padded base64 (CR and LF are
 * ignored, as Go does). On success returns 0 with *out a new buffer
 * (free()) of *outlen bytes, or *out = NULL and *outlen = 0 for empty
 * input. Returns -EINVAL on malformed input, -ENOMEM on allocation
 * failure; *out and *outlen are then NULL/0. */
int b64_decode(const char *s, size_t slen, uint8_t **out, size_t *outlen);

#endif
