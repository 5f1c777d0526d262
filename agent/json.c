/*
 * json — parse, print and read JSON with Go encoding/json semantics.
 *
 * Parsing is json-c's tokener in strict mode plus three fixes: a small
 * lexer first rejects the tokens Go rejects but json-c takes ('x', NaN,
 * "1.", raw control characters in strings); integer literals json-c would
 * clamp (json_parse_uint64 returns UINT64_MAX for 18446744073709551616
 * without an error) are turned into doubles; and a final NUL is fed so that
 * a document ending in a number completes.
 *
 * Printing is our own short recursive walk rather than
 * json_object_to_json_string_ext: json-c's pretty mode uses 2 spaces and
 * prints empty containers as "[ ]", its doubles use %.17g (0.1 becomes
 * 0.10000000000000001) and it does not escape "<", ">", "&" as Go does. The
 * walk writes every scalar itself for the same reason.
 */
#include "sbuf.h"
#include "json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

/* ---------------------------------------------------------------- buffer */

/* --------------------------------------------------------------- parsing */

/* Compare a run of decimal digits (no leading zeros) with `limit`. */
static bool json_digits_exceed(const char *d, size_t n, const char *limit)
{
    size_t ln = strlen(limit);
    if (n != ln)
        return n > ln;
    return memcmp(d, limit, n) > 0;
}

static bool json_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* One pass over the tokens of `buf`. json-c's strict mode still takes
 * single-quoted strings, NaN, Infinity, "1." and raw control characters in
 * strings, all of which Go rejects, so scalars are checked here and json-c
 * only checks the structure. Integer literals outside
 * [INT64_MIN, UINT64_MAX] are counted; if `out` is not NULL, buf is copied
 * to it with ".0" appended to each of them, so json-c reads a double
 * instead of clamping. Returns the count, or -1 with *msg set. */
static long json_lex(const char *buf, size_t len, char *out, const char **msg)
{
    long found = 0;
    size_t o = 0, i = 0;
    int depth = 0;
    bool done = false; /* a whole top-level value has been seen */

    while (i < len) {
        char c = buf[i];
        size_t start = i;

        if (done && c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            *msg = "trailing data";
            return -1;
        }
        if (c == '"') {
            for (i++; i < len && buf[i] != '"'; i++) {
                if ((unsigned char)buf[i] < 0x20) {
                    *msg = "invalid string sequence";
                    return -1;
                }
                if (buf[i] == '\\')
                    i++;
            }
            i = i < len ? i + 1 : len; /* unterminated: json-c says so */
        } else if (c == '-' || json_is_digit(c)) {
            size_t p = i + (c == '-');
            if (p >= len || !json_is_digit(buf[p])) {
                *msg = "number expected";
                return -1;
            }
            size_t dstart = p;
            if (buf[p] == '0')
                p++;
            else
                while (p < len && json_is_digit(buf[p]))
                    p++;
            size_t dend = p;
            if (p < len && buf[p] == '.') {
                if (++p >= len || !json_is_digit(buf[p])) {
                    *msg = "number expected";
                    return -1;
                }
                while (p < len && json_is_digit(buf[p]))
                    p++;
            }
            if (p < len && (buf[p] == 'e' || buf[p] == 'E')) {
                p++;
                if (p < len && (buf[p] == '+' || buf[p] == '-'))
                    p++;
                if (p >= len || !json_is_digit(buf[p])) {
                    *msg = "number expected";
                    return -1;
                }
                while (p < len && json_is_digit(buf[p]))
                    p++;
            }
            i = p;
            if (p == dend &&
                json_digits_exceed(buf + dstart, dend - dstart,
                                   c == '-' ? "9223372036854775808"
                                            : "18446744073709551615")) {
                found++;
                if (out) {
                    memcpy(out + o, buf + start, i - start);
                    o += i - start;
                    memcpy(out + o, ".0", 2);
                    o += 2;
                }
                done = depth <= 0;
                continue;
            }
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            while (i < len && ((buf[i] >= 'a' && buf[i] <= 'z') ||
                               (buf[i] >= 'A' && buf[i] <= 'Z') ||
                               json_is_digit(buf[i]) || buf[i] == '_'))
                i++;
            size_t n = i - start;
            if (!((n == 4 && memcmp(buf + start, "true", 4) == 0) ||
                  (n == 5 && memcmp(buf + start, "false", 5) == 0) ||
                  (n == 4 && memcmp(buf + start, "null", 4) == 0))) {
                *msg = "unexpected character";
                return -1;
            }
        } else if (c == '{' || c == '[') {
            depth++;
            i++;
        } else if (c == '}' || c == ']') {
            depth--;
            i++;
        } else if (c == ',' || c == ':' || c == ' ' || c == '\t' || c == '\n' ||
                   c == '\r') {
            i++;
            if (out)
                out[o++] = c;
            continue;
        } else {
            *msg = "unexpected character";
            return -1;
        }
        done = depth <= 0;
        if (out) {
            memcpy(out + o, buf + start, i - start);
            o += i - start;
        }
    }
    return found;
}

static void json_set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

json_object *json_parse(const char *buf, size_t len, char *err, size_t errlen)
{
    char *fixed = NULL;
    const char *msg = NULL;
    long nbig = json_lex(buf, len, NULL, &msg);

    json_set_err(err, errlen, "");
    if (nbig < 0) {
        json_set_err(err, errlen, msg);
        return NULL;
    }
    if (nbig > 0) {
        fixed = malloc(len + 2 * (size_t)nbig);
        if (fixed == NULL) {
            json_set_err(err, errlen, "out of memory");
            return NULL;
        }
        json_lex(buf, len, fixed, &msg);
        buf = fixed;
        len += 2 * (size_t)nbig;
    }

    struct json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH);
    if (tok == NULL) {
        free(fixed);
        json_set_err(err, errlen, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(
        tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);

    /* json-c refuses len > INT_MAX; nobody sends us 2 GiB of JSON. */
    int ilen = len > (size_t)INT32_MAX ? INT32_MAX : (int)len;
    json_object *o = json_tokener_parse_ex(tok, buf, ilen);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = len;
    if (jerr == json_tokener_continue) {
        /* The value may be complete but unterminated ("12"): a NUL
         * tells json-c the input ended. */
        o = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
    } else if (jerr == json_tokener_success) {
        end = json_tokener_get_parse_end(tok);
    }

    if (jerr != json_tokener_success) {
        json_set_err(err, errlen, json_tokener_error_desc(jerr));
        json_object_put(o);
        o = NULL;
    } else {
        for (size_t i = end; i < len; i++) {
            char c = buf[i];
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                json_set_err(err, errlen, "trailing data");
                json_object_put(o);
                o = NULL;
                break;
            }
        }
    }
    json_tokener_free(tok);
    free(fixed);
    return o;
}

/* -------------------------------------------------------------- printing */

static const char json_hex[] = "0123456789abcdef";

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid; the same
 * rules as Go's utf8.DecodeRune (no overlongs, surrogates, > U+10FFFF). */
static size_t json_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t need;

    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < need + 1)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i <= need; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return need + 1;
}

/* Go's encoding/json string encoder with HTML escaping (the default for
 * json.Marshal). \b and \f come out as \u0008 and \u000c as in the Go
 * releases Consul 1.10-1.17 were built with. */
static void json_put_string(struct sbuf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t start = 0, i = 0;

    sbuf_putc(b, '"');
    while (i < n) {
        unsigned char c = u[i];
        const char *esc = NULL;
        char ubuf[7];
        size_t step = 1;

        if (c < 0x80) {
            if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' &&
                c != '&') {
                i++;
                continue;
            }
            switch (c) {
            case '"':
                esc = "\\\"";
                break;
            case '\\':
                esc = "\\\\";
                break;
            case '\n':
                esc = "\\n";
                break;
            case '\r':
                esc = "\\r";
                break;
            case '\t':
                esc = "\\t";
                break;
            default:
                ubuf[0] = '\\';
                ubuf[1] = 'u';
                ubuf[2] = '0';
                ubuf[3] = '0';
                ubuf[4] = json_hex[c >> 4];
                ubuf[5] = json_hex[c & 0xF];
                ubuf[6] = '\0';
                esc = ubuf;
            }
        } else {
            step = json_utf8_len(u + i, n - i);
            if (step == 0) {
                esc = "\\ufffd";
                step = 1;
            } else if (step == 3 && c == 0xE2 && u[i + 1] == 0x80 &&
                       (u[i + 2] == 0xA8 || u[i + 2] == 0xA9)) {
                esc = u[i + 2] == 0xA8 ? "\\u2028" : "\\u2029";
            } else {
                i += step;
                continue;
            }
        }
        sbuf_put(b, s + start, i - start);
        sbuf_puts(b, esc);
        i += step;
        start = i;
    }
    sbuf_put(b, s + start, n - start);
    sbuf_putc(b, '"');
}

/* Go's float64 encoding: shortest representation that round-trips, in %f
 * style for 1e-6 <= |d| < 1e21, else %e style with a 2-digit minimum
 * exponent except that "e-07" is cleaned to "e-7". NaN and infinities are
 * errors in Go; we print null. */
static void json_put_double(struct sbuf *b, double d)
{
    char tmp[40], digits[24], out[400];
    int prec, exp10;
    size_t nd = 0, o = 0;

    if (!isfinite(d)) {
        sbuf_puts(b, "null");
        return;
    }
    if (d == 0) {
        sbuf_puts(b, signbit(d) ? "-0" : "0");
        return;
    }
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    /* tmp is "[-]d[.ddd]e[+-]XX" */
    const char *p = tmp;
    if (*p == '-') {
        out[o++] = '-';
        p++;
    }
    for (; *p != 'e'; p++)
        if (*p != '.')
            digits[nd++] = *p;
    exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;

    double a = fabs(d);
    if (a < 1e-6 || a >= 1e21) {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            memcpy(out + o, digits + 1, nd - 1);
            o += nd - 1;
        }
        o += (size_t)snprintf(out + o, sizeof(out) - o, "e%c%02d",
                              exp10 < 0 ? '-' : '+', abs(exp10));
        if (o >= 4 && out[o - 4] == 'e' && out[o - 3] == '-' &&
            out[o - 2] == '0') {
            out[o - 2] = out[o - 1];
            o--;
        }
    } else if (exp10 >= 0) {
        for (int k = 0; k <= exp10; k++)
            out[o++] = (size_t)k < nd ? digits[k] : '0';
        if (nd > (size_t)exp10 + 1) {
            out[o++] = '.';
            memcpy(out + o, digits + exp10 + 1, nd - (size_t)exp10 - 1);
            o += nd - (size_t)exp10 - 1;
        }
    } else {
        out[o++] = '0';
        out[o++] = '.';
        for (int k = 0; k < -exp10 - 1; k++)
            out[o++] = '0';
        memcpy(out + o, digits, nd);
        o += nd;
    }
    sbuf_put(b, out, o);
}

static void json_put_newline(struct sbuf *b, const char *indent, int depth)
{
    sbuf_putc(b, '\n');
    for (int i = 0; i < depth; i++)
        sbuf_puts(b, indent);
}

static void json_put_value(struct sbuf *b,
                           json_object *o,
                           const char *indent,
                           int depth)
{
    char num[32];

    switch (json_object_get_type(o)) {
    case json_type_null:
        sbuf_puts(b, "null");
        break;
    case json_type_boolean:
        sbuf_puts(b, json_object_get_boolean(o) ? "true" : "false");
        break;
    case json_type_int: {
        /* json-c keeps either an int64 or a uint64; a negative int64
         * reading tells them apart. */
        int64_t i = json_object_get_int64(o);
        if (i < 0)
            snprintf(num, sizeof(num), "%" PRId64, i);
        else
            snprintf(num, sizeof(num), "%" PRIu64, json_object_get_uint64(o));
        sbuf_puts(b, num);
        break;
    }
    case json_type_double:
        json_put_double(b, json_object_get_double(o));
        break;
    case json_type_string:
        json_put_string(b, json_object_get_string(o),
                        (size_t)json_object_get_string_len(o));
        break;
    case json_type_array: {
        size_t n = json_object_array_length(o);
        sbuf_putc(b, '[');
        for (size_t i = 0; i < n; i++) {
            if (i)
                sbuf_putc(b, ',');
            if (indent)
                json_put_newline(b, indent, depth + 1);
            json_put_value(b, json_object_array_get_idx(o, i), indent,
                           depth + 1);
        }
        if (indent && n)
            json_put_newline(b, indent, depth);
        sbuf_putc(b, ']');
        break;
    }
    case json_type_object: {
        bool first = true;
        sbuf_putc(b, '{');
        json_object_object_foreach(o, key, val)
        {
            if (!first)
                sbuf_putc(b, ',');
            first = false;
            if (indent)
                json_put_newline(b, indent, depth + 1);
            json_put_string(b, key, strlen(key));
            sbuf_puts(b, indent ? ": " : ":");
            json_put_value(b, val, indent, depth + 1);
        }
        if (indent && !first)
            json_put_newline(b, indent, depth);
        sbuf_putc(b, '}');
        break;
    }
    }
}

char *json_dump_indent(json_object *o, const char *indent, size_t *len)
{
    struct sbuf b = {0};

    json_put_value(&b, o, indent, 0);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (len)
        *len = b.len;
    return b.p;
}

char *json_dump(json_object *o, bool pretty, size_t *len)
{
    struct sbuf b = {0};

    json_put_value(&b, o, pretty ? "    " : NULL, 0);
    if (pretty)
        sbuf_putc(&b, '\n');
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (len)
        *len = b.len;
    return b.p;
}

/* --------------------------------------------------------------- reading */

json_object *json_get_ci(json_object *obj, const char *name)
{
    json_object *v = NULL;

    if (!json_object_is_type(obj, json_type_object))
        return NULL;
    if (json_object_object_get_ex(obj, name, &v))
        return v;
    /* Go matches every key that folds to the field name (and the last one
     * in the document wins); preferring the exact spelling only differs
     * for documents that spell one field two ways. */
    json_object_object_foreach(obj, key, val)
    {
        if (strcasecmp(key, name) == 0)
            return val;
    }
    return NULL;
}

int json_get_u64(json_object *v, uint64_t *out)
{
    if (!json_object_is_type(v, json_type_int))
        return -EINVAL;
    if (json_object_get_int64(v) < 0)
        return -EINVAL;
    *out = json_object_get_uint64(v);
    return 0;
}

/* ---------------------------------------------------------------- base64 */

char *b64_encode(const void *p, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(cap);

    if (s == NULL)
        return NULL;
    if (n == 0) {
        s[0] = '\0';
        return s;
    }
    sodium_bin2base64(s, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
    return s;
}

int b64_decode(const char *s, size_t slen, uint8_t **out, size_t *outlen)
{
    const char *end = NULL;
    size_t n = 0;

    *out = NULL;
    *outlen = 0;
    if (slen == 0)
        return 0;
    size_t cap = slen / 4 * 3 + 3;
    uint8_t *buf = malloc(cap);
    if (buf == NULL)
        return -ENOMEM;
    if (sodium_base642bin(buf, cap, s, slen, "\r\n", &n, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != s + slen) {
        free(buf);
        return -EINVAL;
    }
    if (n == 0) {
        free(buf);
        return 0;
    }
    *out = buf;
    *outlen = n;
    return 0;
}
