/*
 * filter — go-bexpr expressions for Consul's ?filter=, over json-c values.
 *
 * The parser is a hand-written recursive descent over the bytes of the
 * expression that follows go-bexpr's PEG (grammar/grammar.peg) rule for
 * rule; filter.h gives the grammar and the evaluation rules. `and`/`or`
 * chains are parsed iteratively into n-ary nodes (bexpr nests them to the
 * right; and/or are associative, and we evaluate left to right with the
 * same short-circuit, so the results are the same). Only parentheses and
 * `not` recurse, and both count against FILTER_MAX_DEPTH, so the parser,
 * the evaluator and filter_free use bounded stack.
 *
 * Values are kept as text (bexpr's MatchValue.Raw) with their integer,
 * float and boolean readings computed once at parse time; evaluation picks
 * the reading that fits the JSON type it meets, as bexpr's coercion picks
 * the one that fits the Go field's kind.
 *
 * Regular expressions. bexpr compiles `matches` values with Go's regexp
 * (RE2 syntax, leftmost-first search, UTF-8 aware). We use POSIX extended
 * regular expressions (regcomp REG_EXTENDED|REG_NOSUB, glibc), compiled at
 * parse time, after a small translation of the RE2 syntax people actually
 * write; whatever POSIX would read differently from RE2 and we do not
 * translate is a parse error rather than a silent mismatch:
 *   - \d \D \s \S \w \W become bracket expressions (glibc would read \d as
 *     a literal "d"); \A \z become ^ $; \b \B pass through (glibc has
 *     them); \a \f \t \n \r \v \xHH \x{H..} become the character; \ before
 *     punctuation is that literal character.
 *   - Inside [...] RE2 takes backslash escapes and POSIX does not: escapes
 *     are resolved and "]", "^", "-", "[" are moved to where POSIX reads
 *     them literally. [[:name:]] classes pass through ([[:word:]] becomes
 *     0-9A-Za-z_).
 *   - (?:...) and named groups become plain groups; leading (?i) / (?s)
 *     flags become REG_ICASE / a dot that matches newline. Other flags,
 *     \p{..}, \Q..\E, \C, octal escapes and backreferences are rejected.
 *   - "." does not match "\n" (RE2 default): it becomes [^\n] unless (?s).
 *   - Lazy quantifiers (*? +? ?? {n,m}?) become greedy: only whether there
 *     is a match matters here, and laziness never changes that.
 *   - "{" that does not start a valid repeat is a literal, as in RE2; a
 *     repeat count above 1000 is an error, as in RE2.
 *   - A non-ASCII character outside [...] is wrapped in a group so a
 *     quantifier applies to all its bytes. Remaining difference: "." and
 *     negated classes match one byte, not one UTF-8 character (so
 *     `^.$` does not match "é"); non-ASCII inside [...] is rejected.
 *   - glibc expands counted repeats by copying; the translation estimates
 *     the expanded size of all regexes in a filter and rejects large ones
 *     ((a{100}){100}), and group nesting is limited, so regcomp cannot be
 *     made to eat memory or stack.
 *   - (?i) folds ASCII letters only (RE2 folds Unicode). POSIX picks the
 *     leftmost-longest match and RE2 the leftmost-first; with REG_NOSUB
 *     only the yes/no answer is used, which is the same.
 *   - Written for the C locale (the agent never calls setlocale); under a
 *     UTF-8 locale glibc would match "." per character, closer to RE2.
 */
#include "filter.h"

#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbuf.h"
#include "json.h"

/* Regex translation bounds (see the file comment). */
#define RX_MAX_REPEAT 1000
#define RX_MAX_NEST 32
/* Estimated size of all regexes of one filter once glibc has expanded the
 * counted repeats. (a{0,1000}){4} costs regcomp ~35 MB and 25 ms; matching
 * is O(text * size). Real patterns ((\d{1,3}\.){3}\d{1,3}) stay below
 * 100. */
#define RX_MAX_SIZE 4096

/* ------------------------------------------------------------------ AST */

enum filter_op {
    FILTER_OP_EQ,
    FILTER_OP_NE,
    FILTER_OP_IN,
    FILTER_OP_NOT_IN,
    FILTER_OP_EMPTY,
    FILTER_OP_NOT_EMPTY,
    FILTER_OP_MATCHES,
    FILTER_OP_NOT_MATCHES,
};

enum filter_seg_kind {
    FILTER_SEG_NAME,  /* .Name: exact, then case-insensitive */
    FILTER_SEG_KEY,   /* ["key"]: exact */
    FILTER_SEG_INDEX, /* .0: array index, or the key "0" of an object */
};

struct filter_seg
{
    enum filter_seg_kind kind;
    char *name; /* NUL-terminated; a KEY may also hold NULs inside */
    size_t len;
};

/* A value as written, with its readings (0 or -EINVAL/-ERANGE each). */
struct filter_value
{
    char *raw; /* NUL-terminated; may hold NULs inside (escapes) */
    size_t len;
    size_t pos; /* where it starts in the expression, for messages */
    int int_rc; /* Go strconv.ParseInt/ParseUint(raw, 0, 64) */
    bool int_neg;
    uint64_t int_mag;
    int flt_rc; /* Go strconv.ParseFloat(raw, 64) */
    double flt;
    bool flt_integral; /* flt is an integer in -2^63..2^64-1: fint_* */
    bool fint_neg;
    uint64_t fint_mag;
    int bool_rc; /* Go strconv.ParseBool(raw) */
    bool boolean;
};

struct filter_match
{
    enum filter_op op;
    struct filter_seg *segs;
    size_t nsegs;
    char *sel_text; /* the selector as written, for messages */
    struct filter_value val;
    bool has_re;
    regex_t re;
};

enum filter_node_kind {
    FILTER_NODE_AND,
    FILTER_NODE_OR,
    FILTER_NODE_NOT,
    FILTER_NODE_MATCH,
};

struct filter_node
{
    enum filter_node_kind kind;
    struct filter_node **kids; /* AND/OR: nkids >= 2; NOT: 1 */
    size_t nkids;
    struct filter_match m; /* MATCH */
};

struct filter
{
    struct filter_node *root;
};

static void filter_value_clear(struct filter_value *v)
{
    free(v->raw);
    v->raw = NULL;
}

static void filter_segs_free(struct filter_seg *segs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(segs[i].name);
    free(segs);
}

/* Recursion depth is bounded by FILTER_MAX_DEPTH (see file comment). */
static void filter_node_free(struct filter_node *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        filter_node_free(n->kids[i]);
    free(n->kids);
    if (n->kind == FILTER_NODE_MATCH) {
        filter_segs_free(n->m.segs, n->m.nsegs);
        free(n->m.sel_text);
        filter_value_clear(&n->m.val);
        if (n->m.has_re)
            regfree(&n->m.re);
    }
    free(n);
}

/* --------------------------------------------------------------- buffer */

/* Append code point `cp` (valid, not a surrogate) as UTF-8. */
static void filter_buf_put_utf8(struct sbuf *b, uint32_t cp)
{
    char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    sbuf_put(b, u, n);
}

/* ------------------------------------------------- Go strconv readings */

static int filter_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static char filter_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Go's strconv underscoreOK: "_" only between digits or after a base
 * prefix. */
static bool filter_underscore_ok(const char *s, size_t n)
{
    char saw = '^';
    size_t i = 0;
    bool hex = false;

    if (n >= 1 && (s[0] == '-' || s[0] == '+')) {
        s++;
        n--;
    }
    if (n >= 2 && s[0] == '0' &&
        (filter_lower(s[1]) == 'b' || filter_lower(s[1]) == 'o' ||
         filter_lower(s[1]) == 'x')) {
        i = 2;
        saw = '0';
        hex = filter_lower(s[1]) == 'x';
    }
    for (; i < n; i++) {
        char c = filter_lower(s[i]);
        if ((c >= '0' && c <= '9') || (hex && c >= 'a' && c <= 'f')) {
            saw = '0';
            continue;
        }
        if (c == '_') {
            if (saw != '0')
                return false;
            saw = '_';
            continue;
        }
        if (saw == '_')
            return false;
        saw = '!';
    }
    return saw != '_';
}

/* strconv.ParseInt(s, 0, 64) and ParseUint(s, 0, 64) together, as a sign
 * and magnitude: a sign, then 0x/0o/0b or a leading 0 for octal, digits
 * with Go's underscore rule. Accepts -2^63..2^64-1; outside is -ERANGE,
 * malformed -EINVAL. */
static int filter_parse_int(const char *s, size_t n, bool *neg, uint64_t *mag)
{
    const char *s0 = s;
    size_t n0 = n;
    bool minus = false, underscores = false;
    unsigned base = 10;
    uint64_t v = 0;

    if (n >= 1 && (s[0] == '+' || s[0] == '-')) {
        minus = s[0] == '-';
        s++;
        n--;
    }
    if (n == 0)
        return -EINVAL;
    if (s[0] == '0') {
        if (n >= 3 && filter_lower(s[1]) == 'b') {
            base = 2;
            s += 2;
            n -= 2;
        } else if (n >= 3 && filter_lower(s[1]) == 'o') {
            base = 8;
            s += 2;
            n -= 2;
        } else if (n >= 3 && filter_lower(s[1]) == 'x') {
            base = 16;
            s += 2;
            n -= 2;
        } else {
            base = 8;
            s++;
            n--;
        }
    }
    bool range = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '_') {
            underscores = true;
            continue;
        }
        int d = filter_hexval(s[i]);
        if (d < 0 || (unsigned)d >= base)
            return -EINVAL;
        if (v > (UINT64_MAX - (unsigned)d) / base)
            range = true;
        else
            v = v * base + (unsigned)d;
    }
    if (underscores && !filter_underscore_ok(s0, n0))
        return -EINVAL;
    if (range || (minus && v > (uint64_t)INT64_MAX + 1))
        return -ERANGE;
    *neg = minus && v != 0;
    *mag = v;
    return 0;
}

/* strconv.ParseFloat(s, 64), near enough: decimal or hex floats, inf,
 * infinity, nan (any case), no blanks, no underscores. */
static int filter_parse_float(const char *s, size_t n, double *out)
{
    char buf[128];

    if (n == 0 || n >= sizeof(buf) || memchr(s, '\0', n) != NULL)
        return -EINVAL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    /* strtod also takes leading blanks and "nan(...)"; Go takes neither. */
    if (strpbrk(buf, " \t\n\v\f\r(_") != NULL)
        return -EINVAL;
    char *end;
    errno = 0;
    double d = strtod(buf, &end);
    if (end != buf + n)
        return -EINVAL;
    if (errno == ERANGE && isinf(d))
        return -ERANGE;
    *out = d;
    return 0;
}

/* strconv.ParseBool. */
static int filter_parse_bool(const char *s, size_t n, bool *out)
{
    static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (strlen(t[i]) == n && memcmp(s, t[i], n) == 0) {
            *out = true;
            return 0;
        }
        if (strlen(f[i]) == n && memcmp(s, f[i], n) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

/* Compute the readings of v->raw. */
static void filter_value_read(struct filter_value *v)
{
    v->int_rc = filter_parse_int(v->raw, v->len, &v->int_neg, &v->int_mag);
    v->flt_rc = filter_parse_float(v->raw, v->len, &v->flt);
    v->flt_integral = false;
    if (v->flt_rc == 0) {
        /* NaN and infinities fail both range tests; 2^64 and -2^63 are
         * exact doubles. */
        double d = v->flt;
        if (d >= 0 && d < 18446744073709551616.0 && (double)(uint64_t)d == d) {
            v->flt_integral = true;
            v->fint_neg = false;
            v->fint_mag = (uint64_t)d;
        } else if (d < 0 && d >= -9223372036854775808.0 &&
                   (double)(int64_t)d == d) {
            int64_t i = (int64_t)d;
            v->flt_integral = true;
            v->fint_neg = true;
            v->fint_mag = (uint64_t)(-(i + 1)) + 1;
        }
    }
    v->bool_rc = filter_parse_bool(v->raw, v->len, &v->boolean);
}

/* --------------------------------------------------------------- parser */

struct filter_parser
{
    const char *s;
    size_t len;
    size_t pos;
    int depth;
    bool failed;
    bool oom;
    size_t err_pos;
    size_t rx_used; /* estimated regex size so far (RX_MAX_SIZE) */
    char msg[256];
};

static void filter_perr(struct filter_parser *p,
                        size_t at,
                        const char *fmt,
                        ...) __attribute__((format(printf, 3, 4)));

static void filter_perr(struct filter_parser *p,
                        size_t at,
                        const char *fmt,
                        ...)
{
    if (p->failed)
        return;
    p->failed = true;
    p->err_pos = at;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
    va_end(ap);
}

static void filter_poom(struct filter_parser *p)
{
    if (!p->failed)
        p->oom = true;
    filter_perr(p, p->pos, "out of memory");
}

static bool filter_is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool filter_is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool filter_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool filter_is_ident(char c)
{
    return filter_is_alpha(c) || filter_is_digit(c) || c == '_';
}

static char filter_cur(const struct filter_parser *p)
{
    return p->pos < p->len ? p->s[p->pos] : '\0';
}

static bool filter_eof(const struct filter_parser *p)
{
    return p->pos >= p->len;
}

static size_t filter_skip_ws(struct filter_parser *p)
{
    size_t start = p->pos;
    while (p->pos < p->len && filter_is_ws(p->s[p->pos]))
        p->pos++;
    return p->pos - start;
}

/* Is the keyword `kw` at p->pos, not followed by an identifier character? */
static bool filter_word_at(const struct filter_parser *p,
                           size_t at,
                           const char *kw)
{
    size_t n = strlen(kw);
    if (p->len - at < n || memcmp(p->s + at, kw, n) != 0)
        return false;
    return at + n == p->len || !filter_is_ident(p->s[at + n]);
}

/* Consume keyword `kw` at p->pos and the whitespace bexpr requires after
 * it (`kw _`); `what` names the thing that must follow, for the message.
 * Returns false (error set) if the whitespace is missing. */
static bool filter_take_word(struct filter_parser *p,
                             const char *kw,
                             const char *what)
{
    size_t at = p->pos;
    p->pos += strlen(kw);
    if (filter_skip_ws(p) > 0 && !filter_eof(p))
        return true;
    if (filter_eof(p))
        filter_perr(p, at, "expected %s after \"%s\"", what, kw);
    else
        filter_perr(p, p->pos, "expected whitespace after \"%s\"", kw);
    return false;
}

/* The character a one-letter escape stands for in Go strings and RE2
 * (\a \f \n \r \t \v, \\ and, in strings only, \b backspace), or -1. */
static int filter_ctl_escape(char e, bool in_string)
{
    static const char from[] = "afnrtv\\b", to[] = "\a\f\n\r\t\v\\\b";
    const char *f = e != '\0' ? strchr(from, e) : NULL;

    if (f == NULL || (e == 'b' && !in_string) || (e == '\\' && !in_string))
        return -1;
    return to[f - from];
}

/* Double-quoted or raw string literal at p->pos, unquoted as Go's
 * strconv.Unquote does. Like bexpr's grammar, a double-quoted literal ends
 * at the first '"' (so \" cannot be written); a raw one drops CRs. */
static bool filter_parse_string_body(struct filter_parser *p,
                                     struct sbuf *out)
{
    size_t start = p->pos;
    char q = p->s[p->pos];
    const char *body = p->s + start + 1;
    const char *end = memchr(body, q, p->len - start - 1);

    if (end == NULL) {
        filter_perr(p, start, "Unterminated string literal");
        return false;
    }
    size_t n = (size_t)(end - body);
    p->pos = start + 1 + n + 1;
    sbuf_put(out, "", 0); /* an empty literal is "" (not NULL) */
    if (q == '`') {
        for (size_t i = 0; i < n; i++) {
            if (body[i] != '\r')
                sbuf_putc(out, body[i]);
        }
        goto done;
    }
    for (size_t i = 0; i < n;) {
        char c = body[i];
        size_t epos = start + 1 + i;
        if (c == '\n') {
            filter_perr(p, epos,
                        "invalid string literal: newline inside "
                        "a double-quoted string");
            return false;
        }
        if (c != '\\') {
            sbuf_putc(out, c);
            i++;
            continue;
        }
        if (i + 1 >= n) {
            /* "...\" : the backslash would escape the closing quote. */
            filter_perr(p, epos,
                        "invalid string literal: \\\" cannot be "
                        "used (use a `raw string`)");
            return false;
        }
        char e = body[i + 1];
        int ctl = filter_ctl_escape(e, true);
        int digits = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
        uint32_t cp = 0;
        if (ctl >= 0) {
            sbuf_putc(out, (char)ctl);
            i += 2;
            continue;
        }
        if (e >= '0' && e <= '7') {
            /* exactly three octal digits, a byte */
            if (i + 3 < n && body[i + 2] >= '0' && body[i + 2] <= '7' &&
                body[i + 3] >= '0' && body[i + 3] <= '7' && e <= '3') {
                cp = (uint32_t)((e - '0') * 64 + (body[i + 2] - '0') * 8 +
                                (body[i + 3] - '0'));
                sbuf_putc(out, (char)cp);
                i += 4;
                continue;
            }
            filter_perr(p, epos,
                        "invalid escape sequence in string literal "
                        "(octal needs three digits, at most \\377)");
            return false;
        }
        if (digits == 0) {
            filter_perr(p, epos,
                        "invalid escape sequence \\%c in string literal", e);
            return false;
        }
        if (i + 2 + (size_t)digits > n) {
            filter_perr(p, epos,
                        "invalid escape sequence \\%c in string "
                        "literal (needs %d hex digits)",
                        e, digits);
            return false;
        }
        for (int k = 0; k < digits; k++) {
            int h = filter_hexval(body[i + 2 + (size_t)k]);
            if (h < 0) {
                filter_perr(p, epos,
                            "invalid escape sequence \\%c in string "
                            "literal (needs %d hex digits)",
                            e, digits);
                return false;
            }
            cp = cp * 16 + (uint32_t)h;
        }
        if (e == 'x') {
            sbuf_putc(out, (char)cp); /* a byte, not a rune */
        } else if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            filter_perr(p, epos,
                        "invalid escape sequence in string literal "
                        "(not a Unicode code point)");
            return false;
        } else {
            filter_buf_put_utf8(out, cp);
        }
        i += 2 + (size_t)digits;
    }
done:
    if (out->oom) {
        filter_poom(p);
        return false;
    }
    return true;
}

/* As above; on failure `out` is freed and zeroed. */
static bool filter_parse_string(struct filter_parser *p, struct sbuf *out)
{
    if (filter_parse_string_body(p, out))
        return true;
    free(out->p);
    memset(out, 0, sizeof(*out));
    return false;
}

/* A selector at p->pos (which holds a letter). */
static bool filter_parse_selector(struct filter_parser *p,
                                  struct filter_seg **segs_out,
                                  size_t *nsegs_out)
{
    struct filter_seg *segs = NULL;
    size_t n = 0, cap = 0;

    for (bool first = true;; first = false) {
        enum filter_seg_kind kind;
        struct sbuf name = {0};
        size_t at = p->pos;

        if (first) {
            kind = FILTER_SEG_NAME;
        } else if (filter_cur(p) == '.') {
            p->pos++;
            at = p->pos;
            if (filter_is_alpha(filter_cur(p))) {
                kind = FILTER_SEG_NAME;
            } else if (filter_is_digit(filter_cur(p))) {
                kind = FILTER_SEG_INDEX;
            } else {
                filter_perr(p, at - 1,
                            "invalid selector: expected a field "
                            "name or index after \".\"");
                goto fail;
            }
        } else if (filter_cur(p) == '[') {
            p->pos++;
            filter_skip_ws(p);
            if (filter_cur(p) != '"' && filter_cur(p) != '`') {
                filter_perr(p, at,
                            "Invalid index: expected a quoted map key "
                            "inside [ ]");
                goto fail;
            }
            if (!filter_parse_string(p, &name))
                goto fail;
            filter_skip_ws(p);
            if (filter_cur(p) != ']') {
                free(name.p);
                filter_perr(p, at,
                            "Unclosed index expression: expected "
                            "\"]\"");
                goto fail;
            }
            p->pos++;
            kind = FILTER_SEG_KEY;
        } else {
            break;
        }
        if (kind == FILTER_SEG_NAME) {
            while (filter_is_ident(filter_cur(p)))
                p->pos++;
            sbuf_put(&name, p->s + at, p->pos - at);
        } else if (kind == FILTER_SEG_INDEX) {
            while (filter_is_digit(filter_cur(p)))
                p->pos++;
            sbuf_put(&name, p->s + at, p->pos - at);
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            struct filter_seg *ns = realloc(segs, ncap * sizeof(*ns));
            if (ns == NULL)
                name.oom = true;
            else {
                segs = ns;
                cap = ncap;
            }
        }
        if (name.oom) {
            free(name.p);
            filter_poom(p);
            goto fail;
        }
        segs[n].kind = kind;
        segs[n].name = name.p;
        segs[n].len = name.len;
        n++;
    }
    *segs_out = segs;
    *nsegs_out = n;
    return true;
fail:
    filter_segs_free(segs, n);
    return false;
}

/* A Value (bare word, number or string) at p->pos; `after` names what came
 * before it, for the message. */
static bool filter_parse_value(struct filter_parser *p,
                               const char *after,
                               struct filter_value *v)
{
    struct sbuf raw = {0};
    char c = filter_cur(p);
    size_t start = p->pos;

    memset(v, 0, sizeof(*v));
    if (filter_is_alpha(c)) {
        /* bexpr takes a selector here and uses its text, segments joined
         * by "." (Selector.String()). */
        struct filter_seg *segs;
        size_t nsegs;
        if (!filter_parse_selector(p, &segs, &nsegs))
            return false;
        for (size_t i = 0; i < nsegs; i++) {
            if (i > 0)
                sbuf_putc(&raw, '.');
            sbuf_put(&raw, segs[i].name, segs[i].len);
        }
        filter_segs_free(segs, nsegs);
    } else if (c == '-' || filter_is_digit(c)) {
        if (c == '-')
            p->pos++;
        if (filter_cur(p) == '0') {
            p->pos++;
        } else if (filter_is_digit(filter_cur(p))) {
            while (filter_is_digit(filter_cur(p)))
                p->pos++;
        } else {
            filter_perr(p, start,
                        "expected a value (a string, number or "
                        "bare word) after %s",
                        after);
            return false;
        }
        if (filter_cur(p) == '.' && p->pos + 1 < p->len &&
            filter_is_digit(p->s[p->pos + 1])) {
            p->pos++;
            while (filter_is_digit(filter_cur(p)))
                p->pos++;
        }
        if (!filter_eof(p) && !filter_is_ws(filter_cur(p)) &&
            filter_cur(p) != ')') {
            filter_perr(p, start, "Invalid number literal");
            return false;
        }
        sbuf_put(&raw, p->s + start, p->pos - start);
    } else if (c == '"' || c == '`') {
        if (!filter_parse_string(p, &raw))
            return false;
    } else {
        filter_perr(p, start,
                    "expected a value (a string, number or bare "
                    "word) after %s",
                    after);
        return false;
    }
    if (raw.oom) {
        free(raw.p);
        filter_poom(p);
        return false;
    }
    v->raw = raw.p;
    v->len = raw.len;
    v->pos = start;
    filter_value_read(v);
    return true;
}

static int filter_rx_compile(struct filter_parser *p, struct filter_match *m);

static struct filter_node *filter_new_node(struct filter_parser *p,
                                           enum filter_node_kind kind)
{
    struct filter_node *n = calloc(1, sizeof(*n));
    if (n == NULL)
        filter_poom(p);
    else
        n->kind = kind;
    return n;
}

/* The `in Selector` tail of `Value [not] in Selector`, at the "in". */
static bool filter_parse_in_selector(struct filter_parser *p,
                                     struct filter_match *m,
                                     size_t *sel_start)
{
    if (!filter_take_word(p, "in", "a selector"))
        return false;
    if (!filter_is_alpha(filter_cur(p))) {
        filter_perr(p, p->pos,
                    "Invalid selector: expected a field name "
                    "after \"in\"%s",
                    filter_cur(p) == '"'
                        ? " (JSON-pointer selectors are not supported)"
                        : "");
        return false;
    }
    *sel_start = p->pos;
    return filter_parse_selector(p, &m->segs, &m->nsegs);
}

/* Selector _ "not" _ ...: the operator after "not". Returns false with the
 * error set; sets *value_first for `word not in Selector`. */
static bool filter_parse_not_op(struct filter_parser *p,
                                struct filter_match *m,
                                bool *value_first)
{
    if (!filter_take_word(p, "not", "\"in\", \"contains\" or \"matches\""))
        return false;
    if (filter_word_at(p, p->pos, "contains")) {
        m->op = FILTER_OP_NOT_IN;
        return filter_take_word(p, "contains", "a value") &&
               filter_parse_value(p, "\"not contains\"", &m->val);
    }
    if (filter_word_at(p, p->pos, "matches")) {
        m->op = FILTER_OP_NOT_MATCHES;
        return filter_take_word(p, "matches", "a regular expression") &&
               filter_parse_value(p, "\"not matches\"", &m->val);
    }
    if (filter_word_at(p, p->pos, "in")) {
        m->op = FILTER_OP_NOT_IN;
        *value_first = true;
        return true;
    }
    filter_perr(p, p->pos,
                "expected \"in\", \"contains\" or \"matches\" "
                "after \"not\"");
    return false;
}

/* Selector _ "is" _ ...: "empty" or "not" _ "empty". */
static bool filter_parse_is_op(struct filter_parser *p, struct filter_match *m)
{
    if (!filter_take_word(p, "is", "\"empty\" or \"not empty\""))
        return false;
    if (filter_word_at(p, p->pos, "empty")) {
        m->op = FILTER_OP_EMPTY;
        p->pos += 5;
        return true;
    }
    if (filter_word_at(p, p->pos, "not")) {
        if (!filter_take_word(p, "not", "\"empty\""))
            return false;
        if (!filter_word_at(p, p->pos, "empty")) {
            filter_perr(p, p->pos, "expected \"empty\" after \"is not\"");
            return false;
        }
        m->op = FILTER_OP_NOT_EMPTY;
        p->pos += 5;
        return true;
    }
    filter_perr(p, p->pos,
                "expected \"empty\" or \"not empty\" after "
                "\"is\"");
    return false;
}

/* The selector of a Match starting with one, then its operator and value.
 * For `word [not] in Selector` the leading selector was a bare word: it
 * becomes the value and *value_first is set, p->pos left at the "in". */
static bool filter_parse_selector_first(struct filter_parser *p,
                                        struct filter_match *m,
                                        bool *value_first,
                                        size_t *sel_end)
{
    if (!filter_parse_selector(p, &m->segs, &m->nsegs))
        return false;
    *sel_end = p->pos;
    size_t ws = filter_skip_ws(p);
    size_t oppos = p->pos;
    const char *rest = p->s + p->pos;
    size_t left = p->len - p->pos;

    if (left >= 2 &&
        (memcmp(rest, "==", 2) == 0 || memcmp(rest, "!=", 2) == 0)) {
        m->op = rest[0] == '=' ? FILTER_OP_EQ : FILTER_OP_NE;
        p->pos += 2;
        filter_skip_ws(p);
        return filter_parse_value(
            p, m->op == FILTER_OP_EQ ? "\"==\"" : "\"!=\"", &m->val);
    }
    if (ws > 0 && filter_word_at(p, p->pos, "contains")) {
        m->op = FILTER_OP_IN;
        return filter_take_word(p, "contains", "a value") &&
               filter_parse_value(p, "\"contains\"", &m->val);
    }
    if (ws > 0 && filter_word_at(p, p->pos, "matches")) {
        m->op = FILTER_OP_MATCHES;
        return filter_take_word(p, "matches", "a regular expression") &&
               filter_parse_value(p, "\"matches\"", &m->val);
    }
    if (ws > 0 && filter_word_at(p, p->pos, "in")) {
        m->op = FILTER_OP_IN;
        *value_first = true;
    } else if (ws > 0 && filter_word_at(p, p->pos, "is")) {
        return filter_parse_is_op(p, m);
    } else if (ws > 0 && filter_word_at(p, p->pos, "not")) {
        if (!filter_parse_not_op(p, m, value_first))
            return false;
    } else {
        filter_perr(p, oppos,
                    "no match found, expected an operator after the "
                    "selector: \"==\", \"!=\", \"contains\", \"not "
                    "contains\", \"in\", \"not in\", \"is empty\", \"is not "
                    "empty\", \"matches\" or \"not matches\"");
        return false;
    }
    if (!*value_first)
        return true;
    /* bexpr's Value tries Selector first: the text, segments joined by
     * "." (Selector.String()). */
    struct sbuf raw = {0};
    sbuf_put(&raw, "", 0);
    for (size_t i = 0; i < m->nsegs; i++) {
        if (i > 0)
            sbuf_putc(&raw, '.');
        sbuf_put(&raw, m->segs[i].name, m->segs[i].len);
    }
    filter_segs_free(m->segs, m->nsegs);
    m->segs = NULL;
    m->nsegs = 0;
    if (raw.oom) {
        free(raw.p);
        filter_poom(p);
        return false;
    }
    m->val.raw = raw.p;
    m->val.len = raw.len;
    filter_value_read(&m->val);
    return true;
}

/* Match := Selector op Value | Selector is [not] empty
 *        | Value [not] in Selector */
static struct filter_node *filter_parse_match(struct filter_parser *p)
{
    struct filter_node *n = filter_new_node(p, FILTER_NODE_MATCH);
    if (n == NULL)
        return NULL;
    struct filter_match *m = &n->m;
    size_t start = p->pos;
    size_t sel_start = start, sel_end = start;
    bool value_first = false;
    char c = filter_cur(p);

    if (filter_is_alpha(c)) {
        if (!filter_parse_selector_first(p, m, &value_first, &sel_end))
            goto fail;
    } else if (c == '-' || filter_is_digit(c) || c == '"' || c == '`') {
        if (!filter_parse_value(p, "the start of an expression", &m->val))
            goto fail;
        size_t ws = filter_skip_ws(p);
        if (ws > 0 && filter_word_at(p, p->pos, "in")) {
            m->op = FILTER_OP_IN;
        } else if (ws > 0 && filter_word_at(p, p->pos, "not")) {
            if (!filter_take_word(p, "not", "\"in\""))
                goto fail;
            if (!filter_word_at(p, p->pos, "in")) {
                filter_perr(p, p->pos, "expected \"in\" after \"not\"");
                goto fail;
            }
            m->op = FILTER_OP_NOT_IN;
        } else {
            filter_perr(p, p->pos,
                        "no match found, expected \"in\" or \"not "
                        "in\" after a value");
            goto fail;
        }
        value_first = true;
    } else {
        filter_perr(p, start,
                    "no match found, expected \"(\", \"not\", a "
                    "selector or a value");
        goto fail;
    }
    if (value_first) {
        if (!filter_parse_in_selector(p, m, &sel_start))
            goto fail;
        sel_end = p->pos;
    }

    m->sel_text = strndup(p->s + sel_start, sel_end - sel_start);
    if (m->sel_text == NULL) {
        filter_poom(p);
        goto fail;
    }
    if (m->op == FILTER_OP_MATCHES || m->op == FILTER_OP_NOT_MATCHES) {
        if (filter_rx_compile(p, m) < 0)
            goto fail;
    }
    return n;
fail:
    filter_node_free(n);
    return NULL;
}

static struct filter_node *filter_parse_or(struct filter_parser *p);

static bool filter_depth_push(struct filter_parser *p)
{
    if (p->depth + 1 > FILTER_MAX_DEPTH) {
        filter_perr(p, p->pos,
                    "expression nested too deeply (more than %d "
                    "levels of parentheses and \"not\")",
                    FILTER_MAX_DEPTH);
        return false;
    }
    p->depth++;
    return true;
}

/* Not := "not" _ Not | "(" _? Or _? ")" | Match */
static struct filter_node *filter_parse_not(struct filter_parser *p)
{
    size_t start = p->pos;

    if (filter_word_at(p, p->pos, "not") &&
        (p->pos + 3 == p->len || p->s[p->pos + 3] == '(')) {
        filter_perr(p, start,
                    p->pos + 3 == p->len
                        ? "expected an expression after \"not\""
                        : "expected whitespace after \"not\"");
        return NULL;
    }
    if (filter_word_at(p, p->pos, "not") && filter_is_ws(p->s[p->pos + 3])) {
        if (!filter_depth_push(p))
            return NULL;
        p->pos += 3;
        filter_skip_ws(p);
        struct filter_node *kid = NULL;
        if (filter_eof(p))
            filter_perr(p, start, "expected an expression after \"not\"");
        else
            kid = filter_parse_not(p);
        p->depth--;
        if (kid == NULL) {
            /* PEG ordered choice: bexpr then tries Match, where "not" is a
             * bare word (`not in Tags`). Keep the first error if that
             * fails too. */
            struct filter_parser save = *p;
            if (p->oom)
                return NULL;
            p->failed = false;
            p->pos = start;
            kid = filter_parse_match(p);
            if (kid == NULL && !p->oom)
                *p = save;
            return kid;
        }
        if (kid->kind == FILTER_NODE_NOT) {
            /* not not x == x, as bexpr folds it */
            struct filter_node *inner = kid->kids[0];
            kid->nkids = 0;
            filter_node_free(kid);
            return inner;
        }
        struct filter_node *n = filter_new_node(p, FILTER_NODE_NOT);
        struct filter_node **kids = n ? malloc(sizeof(*kids)) : NULL;
        if (kids == NULL) {
            free(n);
            filter_node_free(kid);
            filter_poom(p);
            return NULL;
        }
        kids[0] = kid;
        n->kids = kids;
        n->nkids = 1;
        return n;
    }
    if (filter_cur(p) == '(') {
        if (!filter_depth_push(p))
            return NULL;
        p->pos++;
        filter_skip_ws(p);
        struct filter_node *inner = filter_parse_or(p);
        p->depth--;
        if (inner == NULL)
            return NULL;
        filter_skip_ws(p);
        if (filter_cur(p) != ')') {
            filter_perr(p, p->pos,
                        "Unmatched parentheses: expected \")\", "
                        "\"and\" or \"or\" (the \"(\" is at "
                        "offset %zu)",
                        start);
            filter_node_free(inner);
            return NULL;
        }
        p->pos++;
        return inner;
    }
    return filter_parse_match(p);
}

/* One level of an and/or chain: `first` (_ kw _ next)*. */
static struct filter_node *filter_parse_chain(
    struct filter_parser *p,
    const char *kw,
    enum filter_node_kind kind,
    struct filter_node *(*next)(struct filter_parser *))
{
    struct filter_node *first = next(p);
    struct filter_node *list = NULL;
    size_t cap = 0;

    if (first == NULL)
        return NULL;
    for (;;) {
        size_t save = p->pos;
        if (filter_skip_ws(p) == 0 || !filter_word_at(p, p->pos, kw)) {
            p->pos = save;
            break;
        }
        if (!filter_take_word(p, kw, "an expression"))
            goto fail;
        struct filter_node *kid = next(p);
        if (kid == NULL)
            goto fail;
        if (list == NULL) {
            list = filter_new_node(p, kind);
            if (list == NULL) {
                filter_node_free(kid);
                goto fail;
            }
            list->kids = malloc(4 * sizeof(*list->kids));
            if (list->kids == NULL) {
                filter_node_free(kid);
                filter_poom(p);
                goto fail;
            }
            cap = 4;
            list->kids[list->nkids++] = first;
            first = NULL;
        }
        if (list->nkids == cap) {
            struct filter_node **nk =
                realloc(list->kids, cap * 2 * sizeof(*nk));
            if (nk == NULL) {
                filter_node_free(kid);
                filter_poom(p);
                goto fail;
            }
            list->kids = nk;
            cap *= 2;
        }
        list->kids[list->nkids++] = kid;
    }
    return list ? list : first;
fail:
    filter_node_free(first);
    filter_node_free(list);
    return NULL;
}

static struct filter_node *filter_parse_and(struct filter_parser *p)
{
    return filter_parse_chain(p, "and", FILTER_NODE_AND, filter_parse_not);
}

static struct filter_node *filter_parse_or(struct filter_parser *p)
{
    return filter_parse_chain(p, "or", FILTER_NODE_OR, filter_parse_and);
}

/* ------------------------------------------------- RE2 -> POSIX regex */

struct filter_rx
{
    const char *s;
    size_t n;
    size_t i;
    struct sbuf out;
    bool dotall;
    size_t budget; /* what is left of RX_MAX_SIZE */
    int top;       /* open groups */
    struct
    {
        size_t size; /* estimated expanded size of the group so far */
        size_t last; /* size of its last atom; 0 = nothing to repeat */
        bool quantified;
    } fr[RX_MAX_NEST + 1];
    size_t err_at; /* byte offset in the pattern */
    char why[128];
};

static int filter_rx_fail(struct filter_rx *rx, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int filter_rx_fail(struct filter_rx *rx, size_t at, const char *fmt, ...)
{
    va_list ap;
    rx->err_at = at;
    va_start(ap, fmt);
    vsnprintf(rx->why, sizeof(rx->why), fmt, ap);
    va_end(ap);
    return -1;
}

static int filter_rx_atom(struct filter_rx *rx, size_t size)
{
    rx->fr[rx->top].size += size;
    rx->fr[rx->top].last = size;
    rx->fr[rx->top].quantified = false;
    if (rx->fr[rx->top].size > rx->budget)
        return filter_rx_fail(rx, rx->i, "regular expression too large");
    return 0;
}

static void filter_rx_nonatom(struct filter_rx *rx)
{
    rx->fr[rx->top].last = 0;
    rx->fr[rx->top].quantified = false;
}

static int filter_rx_literal(struct filter_rx *rx, char c)
{
    if (strchr(".[]()*+?{}|^$\\", c) != NULL)
        sbuf_putc(&rx->out, '\\');
    sbuf_putc(&rx->out, c);
    return filter_rx_atom(rx, 1);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t filter_utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        len = 2;
        cp = s[0] & 0x1F;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        len = 3;
        cp = s[0] & 0x0F;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

/* \x.. escape after the 'x' at rx->i: \xHH or \x{H...}. */
static int filter_rx_hex(struct filter_rx *rx, size_t at, uint32_t *cp)
{
    const char *s = rx->s;
    uint32_t v = 0;

    if (rx->i < rx->n && s[rx->i] == '{') {
        size_t k = rx->i + 1, nd = 0;
        for (; k < rx->n && filter_hexval(s[k]) >= 0; k++, nd++) {
            v = v * 16 + (uint32_t)filter_hexval(s[k]);
            if (v > 0x10FFFF)
                break;
        }
        if (nd == 0 || k >= rx->n || s[k] != '}' || v > 0x10FFFF)
            return filter_rx_fail(rx, at, "invalid escape sequence \\x");
        rx->i = k + 1;
    } else {
        if (rx->i + 2 > rx->n || filter_hexval(s[rx->i]) < 0 ||
            filter_hexval(s[rx->i + 1]) < 0)
            return filter_rx_fail(rx, at, "invalid escape sequence \\x");
        v = (uint32_t)(filter_hexval(s[rx->i]) * 16 +
                       filter_hexval(s[rx->i + 1]));
        rx->i += 2;
    }
    if (v == 0)
        return filter_rx_fail(rx, at, "NUL characters are not supported");
    if (v >= 0xD800 && v <= 0xDFFF)
        return filter_rx_fail(rx, at, "invalid escape sequence \\x");
    *cp = v;
    return 0;
}

/* ASCII punctuation: escaped, it stands for itself in RE2. */
static bool filter_is_punct(char c)
{
    return (unsigned char)c < 0x80 && c > ' ' && c != 0x7F &&
           !filter_is_ident(c);
}

/* RE2's Perl classes, as the POSIX bracket contents they stand for. */
struct filter_perl_class
{
    char e;
    bool neg;
    const char *set;
};

static const struct filter_perl_class *filter_perl_class(char e)
{
    static const struct filter_perl_class classes[] = {
        {'d', false, "0-9"},        {'D', true, "0-9"},
        {'s', false, " \t\n\f\r"},  {'S', true, " \t\n\f\r"},
        {'w', false, "0-9A-Za-z_"}, {'W', true, "0-9A-Za-z_"},
    };
    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
        if (classes[i].e == e)
            return &classes[i];
    }
    return NULL;
}

/* One character inside [...] at rx->i: sets *ch to a single ASCII byte, or
 * appends a class (\d \s \w) to `items` and sets *ch = -1. */
static int filter_rx_class_char(struct filter_rx *rx,
                                struct sbuf *items,
                                int *ch)
{
    size_t at = rx->i;
    unsigned char c = (unsigned char)rx->s[rx->i];

    if (c >= 0x80)
        return filter_rx_fail(rx, at,
                              "non-ASCII characters inside [...] "
                              "are not supported");
    rx->i++;
    if (c != '\\') {
        *ch = c;
        return 0;
    }
    if (rx->i >= rx->n)
        return filter_rx_fail(rx, at, "trailing backslash");
    char e = rx->s[rx->i++];
    const struct filter_perl_class *pc = filter_perl_class(e);
    int ctl = filter_ctl_escape(e, false);
    *ch = -1;
    if (pc != NULL && !pc->neg) {
        sbuf_puts(items, pc->set);
        return 0;
    }
    if (ctl >= 0 || filter_is_punct(e)) {
        *ch = ctl >= 0 ? ctl : e;
        return 0;
    }
    if (e == 'x') {
        uint32_t cp;
        if (filter_rx_hex(rx, at, &cp) < 0)
            return -1;
        if (cp >= 0x80)
            return filter_rx_fail(rx, at,
                                  "non-ASCII characters inside [...] are "
                                  "not supported");
        *ch = (int)cp;
        return 0;
    }
    return filter_rx_fail(rx, at, "escape \\%c inside [...] is not supported",
                          e);
}

/* [...] at rx->i (on the '['). */
static int filter_rx_bracket(struct filter_rx *rx)
{
    static const char *const classes[] = {"alnum", "alpha", "blank", "cntrl",
                                          "digit", "graph", "lower", "print",
                                          "punct", "space", "upper", "xdigit"};
    struct sbuf items = {0};
    size_t at = rx->i;
    bool neg = false, rb = false, lb = false, caret = false, dash = false;
    int rc = -1;

    rx->i++;
    if (rx->i < rx->n && rx->s[rx->i] == '^') {
        neg = true;
        rx->i++;
    }
    for (bool first = true;; first = false) {
        if (rx->i >= rx->n) {
            filter_rx_fail(rx, at, "missing closing ]");
            goto out;
        }
        char c = rx->s[rx->i];
        if (c == ']' && !first) {
            rx->i++;
            break;
        }
        if (c == '[' && rx->i + 1 < rx->n && rx->s[rx->i + 1] == ':') {
            const char *end = NULL;
            for (size_t k = rx->i + 2; k + 1 < rx->n; k++) {
                if (rx->s[k] == ':' && rx->s[k + 1] == ']') {
                    end = rx->s + k;
                    break;
                }
            }
            if (end != NULL) {
                const char *name = rx->s + rx->i + 2;
                size_t len = (size_t)(end - name);
                bool ok = false;
                for (size_t k = 0; k < sizeof(classes) / sizeof(*classes);
                     k++) {
                    if (strlen(classes[k]) == len &&
                        memcmp(classes[k], name, len) == 0) {
                        sbuf_puts(&items, "[:");
                        sbuf_put(&items, name, len);
                        sbuf_puts(&items, ":]");
                        ok = true;
                    }
                }
                if (len == 4 && memcmp(name, "word", 4) == 0) {
                    sbuf_puts(&items, "0-9A-Za-z_");
                    ok = true;
                }
                if (!ok) {
                    filter_rx_fail(rx, rx->i,
                                   "character class [:%.*s:] is "
                                   "not supported",
                                   (int)(len > 20 ? 20 : len), name);
                    goto out;
                }
                rx->i = (size_t)(end - rx->s) + 2;
                continue;
            }
        }
        size_t cat = rx->i;
        int lo = -1, hi = -1;
        if (filter_rx_class_char(rx, &items, &lo) < 0)
            goto out;
        bool range =
            rx->i + 1 < rx->n && rx->s[rx->i] == '-' && rx->s[rx->i + 1] != ']';
        if (lo < 0) {
            if (range) {
                filter_rx_fail(rx, cat, "invalid character class range");
                goto out;
            }
            continue;
        }
        if (range) {
            rx->i++;
            if (filter_rx_class_char(rx, &items, &hi) < 0)
                goto out;
            if (hi < 0 || hi < lo) {
                filter_rx_fail(rx, cat, "invalid character class range");
                goto out;
            }
            if (strchr("]^-[", lo) != NULL || strchr("]^-[", hi) != NULL) {
                filter_rx_fail(rx, cat,
                               "a range from or to \"]\", \"^\", "
                               "\"-\" or \"[\" is not supported");
                goto out;
            }
            sbuf_putc(&items, (char)lo);
            sbuf_putc(&items, '-');
            sbuf_putc(&items, (char)hi);
            continue;
        }
        switch (lo) {
        case ']':
            rb = true;
            break;
        case '[':
            lb = true;
            break;
        case '^':
            caret = true;
            break;
        case '-':
            dash = true;
            break;
        default:
            sbuf_putc(&items, (char)lo);
            break;
        }
    }
    /* POSIX reads "]" literally only first, "-" only last, "^" anywhere
     * but first, and "[" anywhere it cannot start "[:", "[." or "[=". */
    if (!neg && !rb && items.len == 0 && !lb && caret && !dash) {
        sbuf_puts(&rx->out, "\\^");
    } else {
        sbuf_putc(&rx->out, '[');
        if (neg)
            sbuf_putc(&rx->out, '^');
        if (rb)
            sbuf_putc(&rx->out, ']');
        if (items.len > 0)
            sbuf_put(&rx->out, items.p, items.len);
        if (lb)
            sbuf_putc(&rx->out, '[');
        if (caret && !neg && !rb && items.len == 0 && !lb) {
            sbuf_puts(&rx->out, "-^"); /* dash is set here */
        } else {
            if (caret)
                sbuf_putc(&rx->out, '^');
            if (dash)
                sbuf_putc(&rx->out, '-');
        }
        sbuf_putc(&rx->out, ']');
    }
    rc = filter_rx_atom(rx, 1);
out:
    free(items.p);
    return rc;
}

/* {n}, {n,}, {n,m} at rx->i? Sets *max to the copies glibc makes. */
static bool filter_rx_repeat(struct filter_rx *rx,
                             size_t *end,
                             long *lo,
                             long *hi)
{
    size_t k = rx->i + 1;
    long a = 0, b;
    size_t nd = 0;

    for (; k < rx->n && filter_is_digit(rx->s[k]) && nd < 8; k++, nd++)
        a = a * 10 + (rx->s[k] - '0');
    if (nd == 0 || k >= rx->n)
        return false;
    b = a;
    if (rx->s[k] == ',') {
        k++;
        b = -1;
        nd = 0;
        long v = 0;
        for (; k < rx->n && filter_is_digit(rx->s[k]) && nd < 8; k++, nd++)
            v = v * 10 + (rx->s[k] - '0');
        if (nd > 0)
            b = v;
    }
    if (k >= rx->n || rx->s[k] != '}')
        return false;
    *end = k + 1;
    *lo = a;
    *hi = b;
    return true;
}

static int filter_rx_quantifier(struct filter_rx *rx, size_t at, size_t copies)
{
    if (rx->fr[rx->top].quantified)
        return filter_rx_fail(rx, at, "invalid nested repetition operator");
    if (rx->fr[rx->top].last == 0)
        return filter_rx_fail(rx, at,
                              "missing argument to repetition "
                              "operator");
    size_t last = rx->fr[rx->top].last;
    if (copies > 1) {
        if (last > rx->budget / copies)
            return filter_rx_fail(rx, at, "regular expression too large");
        rx->fr[rx->top].size += last * (copies - 1);
        if (rx->fr[rx->top].size > rx->budget)
            return filter_rx_fail(rx, at, "regular expression too large");
    }
    rx->fr[rx->top].quantified = true;
    /* A lazy marker changes which match, never whether one exists. */
    if (rx->i < rx->n && rx->s[rx->i] == '?')
        rx->i++;
    return 0;
}

/* A backslash escape outside [...]; rx->i is past the backslash. */
static int filter_rx_escape(struct filter_rx *rx, size_t at)
{
    if (rx->i >= rx->n)
        return filter_rx_fail(rx, at,
                              "trailing backslash at end of "
                              "expression");
    char e = rx->s[rx->i++];
    const struct filter_perl_class *pc = filter_perl_class(e);
    int ctl = filter_ctl_escape(e, false);

    if (pc != NULL) {
        sbuf_puts(&rx->out, pc->neg ? "[^" : "[");
        sbuf_puts(&rx->out, pc->set);
        sbuf_putc(&rx->out, ']');
        return filter_rx_atom(rx, 1);
    }
    if (ctl >= 0 || filter_is_punct(e))
        return filter_rx_literal(rx, ctl >= 0 ? (char)ctl : e);
    if (e == 'b' || e == 'B' || e == 'A' || e == 'z') {
        /* glibc has \b and \B; RE2's \A and \z are ^ and $ without
         * REG_NEWLINE */
        sbuf_puts(&rx->out, e == 'b'   ? "\\b"
                                  : e == 'B' ? "\\B"
                                  : e == 'A' ? "^"
                                             : "$");
        filter_rx_nonatom(rx);
        return 0;
    }
    if (e == 'x') {
        uint32_t cp;
        if (filter_rx_hex(rx, at, &cp) < 0)
            return -1;
        if (cp < 0x80)
            return filter_rx_literal(rx, (char)cp);
        sbuf_putc(&rx->out, '(');
        filter_buf_put_utf8(&rx->out, cp);
        sbuf_putc(&rx->out, ')');
        return filter_rx_atom(rx, 4);
    }
    return filter_rx_fail(rx, at,
                          "escape \\%c is not supported (RE2 syntax POSIX "
                          "regular expressions lack)",
                          e);
}

/* Translate the RE2 pattern s[0..n) (no NULs) into rx->out. */
static int filter_rx_translate(struct filter_rx *rx, int *cflags)
{
    const char *s = rx->s;

    /* Leading flags: (?i) (?s) (?is) (?si). */
    if (rx->n >= 3 && s[0] == '(' && s[1] == '?') {
        size_t k = 2;
        bool any = false;
        while (k < rx->n && (s[k] == 'i' || s[k] == 's')) {
            if (s[k] == 'i')
                *cflags |= REG_ICASE;
            else
                rx->dotall = true;
            k++;
            any = true;
        }
        if (any && k < rx->n && s[k] == ')')
            rx->i = k + 1;
        else if (any ||
                 (k < rx->n && s[k] != ':' && s[k] != 'P' && s[k] != '<'))
            return filter_rx_fail(rx, 0,
                                  "flags other than a leading (?i) "
                                  "or (?s) are not supported");
    }
    while (rx->i < rx->n) {
        size_t at = rx->i;
        unsigned char c = (unsigned char)s[rx->i];
        if (c >= 0x80) {
            size_t len = filter_utf8_len((const unsigned char *)s + rx->i,
                                         rx->n - rx->i);
            if (len == 0)
                return filter_rx_fail(rx, at, "invalid UTF-8");
            sbuf_putc(&rx->out, '(');
            sbuf_put(&rx->out, s + rx->i, len);
            sbuf_putc(&rx->out, ')');
            rx->i += len;
            if (filter_rx_atom(rx, len) < 0)
                return -1;
            continue;
        }
        rx->i++;
        switch (c) {
        case '\\':
            if (filter_rx_escape(rx, at) < 0)
                return -1;
            continue;
        case '.':
            sbuf_puts(&rx->out, rx->dotall ? "." : "[^\n]");
            if (filter_rx_atom(rx, 1) < 0)
                return -1;
            continue;
        case '[':
            rx->i = at;
            if (filter_rx_bracket(rx) < 0)
                return -1;
            continue;
        case '(':
            if (rx->i < rx->n && s[rx->i] == '?') {
                if (rx->i + 1 < rx->n && s[rx->i + 1] == ':') {
                    rx->i += 2;
                } else if (rx->i + 2 < rx->n &&
                           ((s[rx->i + 1] == 'P' && s[rx->i + 2] == '<') ||
                            s[rx->i + 1] == '<')) {
                    size_t k = rx->i + (s[rx->i + 1] == 'P' ? 3 : 2);
                    size_t name = k;
                    while (k < rx->n && filter_is_ident(s[k]))
                        k++;
                    if (k == name || k >= rx->n || s[k] != '>')
                        return filter_rx_fail(rx, at,
                                              "invalid named "
                                              "capture");
                    rx->i = k + 1;
                } else {
                    return filter_rx_fail(rx, at,
                                          "flags other than a "
                                          "leading (?i) or (?s) are "
                                          "not supported");
                }
            }
            if (rx->top == RX_MAX_NEST)
                return filter_rx_fail(rx, at,
                                      "regular expression nests "
                                      "groups more than %d deep",
                                      RX_MAX_NEST);
            rx->top++;
            rx->fr[rx->top].size = 0;
            rx->fr[rx->top].last = 0;
            rx->fr[rx->top].quantified = false;
            sbuf_putc(&rx->out, '(');
            continue;
        case ')': {
            if (rx->top == 0)
                return filter_rx_fail(rx, at, "unexpected )");
            size_t size = rx->fr[rx->top].size ? rx->fr[rx->top].size : 1;
            rx->top--;
            sbuf_putc(&rx->out, ')');
            if (filter_rx_atom(rx, size) < 0)
                return -1;
            continue;
        }
        case '|':
            sbuf_putc(&rx->out, '|');
            filter_rx_nonatom(rx);
            continue;
        case '^':
        case '$':
            sbuf_putc(&rx->out, (char)c);
            filter_rx_nonatom(rx);
            continue;
        case '*':
        case '?':
        case '+':
            if (filter_rx_quantifier(rx, at, c == '+' ? 2 : 1) < 0)
                return -1;
            sbuf_putc(&rx->out, (char)c);
            continue;
        case '{': {
            size_t end;
            long lo, hi;
            rx->i = at;
            if (!filter_rx_repeat(rx, &end, &lo, &hi)) {
                rx->i = at + 1;
                if (filter_rx_literal(rx, '{') < 0)
                    return -1;
                continue;
            }
            if (lo > RX_MAX_REPEAT || hi > RX_MAX_REPEAT ||
                (hi >= 0 && hi < lo))
                return filter_rx_fail(rx, at, "invalid repeat count");
            rx->i = end;
            size_t copies = (size_t)(hi < 0 ? lo + 1 : hi);
            sbuf_put(&rx->out, s + at, end - at);
            if (filter_rx_quantifier(rx, at, copies ? copies : 1) < 0)
                return -1;
            continue;
        }
        default:
            if (filter_rx_literal(rx, (char)c) < 0)
                return -1;
            continue;
        }
    }
    if (rx->top != 0)
        return filter_rx_fail(rx, rx->n, "missing closing )");
    if (rx->out.len == 0)
        sbuf_puts(&rx->out, "()"); /* empty pattern matches all */
    return 0;
}

static int filter_rx_compile(struct filter_parser *p, struct filter_match *m)
{
    size_t at = m->val.pos;
    struct filter_rx rx;
    int cflags = REG_EXTENDED | REG_NOSUB;

    memset(&rx, 0, sizeof(rx));
    rx.s = m->val.raw;
    rx.n = m->val.len;
    rx.budget = RX_MAX_SIZE - p->rx_used;
    if (memchr(rx.s, '\0', rx.n) != NULL) {
        filter_perr(p, at,
                    "invalid regular expression: NUL characters are "
                    "not supported");
        return -1;
    }
    if (filter_rx_translate(&rx, &cflags) < 0) {
        free(rx.out.p);
        filter_perr(p, at,
                    "invalid regular expression \"%.60s%s\": %s (at "
                    "byte %zu of the pattern)",
                    m->val.raw, m->val.len > 60 ? "..." : "", rx.why,
                    rx.err_at);
        return -1;
    }
    if (rx.out.oom) {
        free(rx.out.p);
        filter_poom(p);
        return -1;
    }
    p->rx_used += rx.fr[0].size;
    int rc = regcomp(&m->re, rx.out.p, cflags);
    free(rx.out.p);
    if (rc != 0) {
        char why[128];
        regerror(rc, &m->re, why, sizeof(why));
        if (rc == REG_ESPACE)
            filter_poom(p);
        filter_perr(p, at, "invalid regular expression \"%.60s%s\": %s",
                    m->val.raw, m->val.len > 60 ? "..." : "", why);
        return -1;
    }
    m->has_re = true;
    return 0;
}

/* ----------------------------------------------------------- evaluation */

enum { FILTER_FALSE = 0, FILTER_TRUE = 1, FILTER_ERROR = -1 };

struct filter_ev
{
    char *err;
    size_t errlen;
};

static int filter_ev_fail(struct filter_ev *ev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int filter_ev_fail(struct filter_ev *ev, const char *fmt, ...)
{
    if (ev->err != NULL && ev->errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ev->err, ev->errlen, fmt, ap);
        va_end(ap);
    }
    return FILTER_ERROR;
}

static const char *filter_type_name(json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "a boolean";
    case json_type_double:
    case json_type_int:
        return "a number";
    case json_type_string:
        return "a string";
    case json_type_array:
        return "an array";
    case json_type_object:
        return "an object";
    }
    return "a value";
}

/* Follow m's selector from obj. Returns FILTER_TRUE with *out set (NULL if
 * not present), or FILTER_ERROR. */
static int filter_walk(const struct filter_match *m,
                       json_object *obj,
                       json_object **out,
                       struct filter_ev *ev)
{
    json_object *cur = obj;

    for (size_t i = 0; i < m->nsegs; i++) {
        const struct filter_seg *seg = &m->segs[i];
        json_object *next = NULL;

        if (cur == NULL)
            break;
        switch (json_object_get_type(cur)) {
        case json_type_object:
            if (strlen(seg->name) != seg->len)
                break; /* a key with a NUL cannot be in a json-c object */
            if (seg->kind == FILTER_SEG_KEY)
                json_object_object_get_ex(cur, seg->name, &next);
            else
                next = json_get_ci(cur, seg->name);
            break;
        case json_type_array:
            if (seg->kind == FILTER_SEG_INDEX) {
                size_t idx = 0, len = json_object_array_length(cur);
                bool big = false;
                for (const char *d = seg->name; *d; d++) {
                    if (idx > (SIZE_MAX - 9) / 10)
                        big = true;
                    else
                        idx = idx * 10 + (size_t)(*d - '0');
                }
                if (big || idx >= len)
                    return filter_ev_fail(ev,
                                          "selector %s: index %s is out "
                                          "of range (length %zu)",
                                          m->sel_text, seg->name, len);
                next = json_object_array_get_idx(cur, idx);
                break;
            }
            return filter_ev_fail(ev,
                                  "selector %s: the value before \"%s\" "
                                  "is an array; select an element by "
                                  "index (bexpr has no implicit any/all)",
                                  m->sel_text, seg->name);
        default:
            return filter_ev_fail(ev,
                                  "selector %s: the value before \"%s\" "
                                  "is %s, which has no fields",
                                  m->sel_text, seg->name,
                                  filter_type_name(cur));
        }
        cur = next;
    }
    *out = cur;
    return FILTER_TRUE;
}

/* What bexpr answers when the selected key is missing. */
static int filter_not_present(enum filter_op op)
{
    switch (op) {
    case FILTER_OP_NE:
    case FILTER_OP_NOT_IN:
    case FILTER_OP_EMPTY:
    case FILTER_OP_NOT_MATCHES:
        return FILTER_TRUE;
    default:
        return FILTER_FALSE;
    }
}

enum filter_cmp {
    FILTER_CMP_NE,
    FILTER_CMP_EQ,
    FILTER_CMP_NOCONV, /* the value does not read as the field's type */
    FILTER_CMP_BADTYPE /* array, object or null: no equality in bexpr */
};

static enum filter_cmp filter_cmp_int(bool neg,
                                      uint64_t mag,
                                      bool fneg,
                                      uint64_t fmag)
{
    return (neg == fneg && mag == fmag) ? FILTER_CMP_EQ : FILTER_CMP_NE;
}

static enum filter_cmp filter_value_cmp(const struct filter_value *v,
                                        json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_string: {
        size_t n = (size_t)json_object_get_string_len(o);
        return (n == v->len &&
                memcmp(json_object_get_string(o), v->raw, n) == 0)
                   ? FILTER_CMP_EQ
                   : FILTER_CMP_NE;
    }
    case json_type_int: {
        /* json-c keeps int64 or uint64; get_int64 clamps a uint64 above
         * INT64_MAX to INT64_MAX, where get_uint64 is exact. */
        int64_t i = json_object_get_int64(o);
        bool fneg = i < 0;
        uint64_t fmag = fneg             ? (uint64_t)(-(i + 1)) + 1
                        : i == INT64_MAX ? json_object_get_uint64(o)
                                         : (uint64_t)i;
        if (v->int_rc == 0)
            return filter_cmp_int(v->int_neg, v->int_mag, fneg, fmag);
        /* Go would refuse "80.0" for an int field; a float field whose
         * value is whole prints like an integer, so take integral floats. */
        if (v->int_rc == -EINVAL && v->flt_rc == 0) {
            if (!v->flt_integral)
                return FILTER_CMP_NE;
            return filter_cmp_int(v->fint_neg, v->fint_mag, fneg, fmag);
        }
        return FILTER_CMP_NOCONV;
    }
    case json_type_double:
        if (v->flt_rc != 0)
            return FILTER_CMP_NOCONV;
        return json_object_get_double(o) == v->flt ? FILTER_CMP_EQ
                                                   : FILTER_CMP_NE;
    case json_type_boolean:
        if (v->bool_rc != 0)
            return FILTER_CMP_NOCONV;
        return (json_object_get_boolean(o) != 0) == v->boolean ? FILTER_CMP_EQ
                                                               : FILTER_CMP_NE;
    default:
        return FILTER_CMP_BADTYPE;
    }
}

static int filter_eval_in(const struct filter_match *m,
                          json_object *o,
                          struct filter_ev *ev)
{
    const struct filter_value *v = &m->val;

    switch (json_object_get_type(o)) {
    case json_type_string: {
        const char *s = json_object_get_string(o);
        size_t n = (size_t)json_object_get_string_len(o);
        return v->len == 0 || memmem(s, n, v->raw, v->len) != NULL;
    }
    case json_type_array: {
        size_t n = json_object_array_length(o);
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(o, i);
            if (e == NULL)
                continue;
            switch (filter_value_cmp(v, e)) {
            case FILTER_CMP_EQ:
                return FILTER_TRUE;
            case FILTER_CMP_BADTYPE:
                return filter_ev_fail(ev,
                                      "selector %s: cannot look for a "
                                      "value in an array holding %s",
                                      m->sel_text, filter_type_name(e));
            default:
                /* bexpr skips elements the value does not read as */
                break;
            }
        }
        return FILTER_FALSE;
    }
    case json_type_object:
        if (memchr(v->raw, '\0', v->len) != NULL)
            return FILTER_FALSE;
        return json_object_object_get_ex(o, v->raw, NULL) ? FILTER_TRUE
                                                          : FILTER_FALSE;
    default:
        return filter_ev_fail(ev,
                              "selector %s: cannot perform in/contains "
                              "on %s",
                              m->sel_text, filter_type_name(o));
    }
}

static int filter_eval_match(const struct filter_match *m,
                             json_object *obj,
                             struct filter_ev *ev)
{
    json_object *o = NULL;
    int r;

    if (filter_walk(m, obj, &o, ev) == FILTER_ERROR)
        return FILTER_ERROR;
    if (o == NULL)
        return filter_not_present(m->op);
    switch (m->op) {
    case FILTER_OP_EQ:
    case FILTER_OP_NE:
        switch (filter_value_cmp(&m->val, o)) {
        case FILTER_CMP_EQ:
            r = FILTER_TRUE;
            break;
        case FILTER_CMP_NE:
            r = FILTER_FALSE;
            break;
        case FILTER_CMP_NOCONV:
            return filter_ev_fail(ev,
                                  "selector %s: cannot compare %s with "
                                  "\"%.60s\"",
                                  m->sel_text, filter_type_name(o), m->val.raw);
        default:
            return filter_ev_fail(ev,
                                  "selector %s: cannot compare %s with "
                                  "a value",
                                  m->sel_text, filter_type_name(o));
        }
        return m->op == FILTER_OP_EQ ? r : !r;
    case FILTER_OP_IN:
    case FILTER_OP_NOT_IN:
        r = filter_eval_in(m, o, ev);
        if (r == FILTER_ERROR)
            return r;
        return m->op == FILTER_OP_IN ? r : !r;
    case FILTER_OP_EMPTY:
    case FILTER_OP_NOT_EMPTY:
        switch (json_object_get_type(o)) {
        case json_type_string:
            r = json_object_get_string_len(o) == 0;
            break;
        case json_type_array:
            r = json_object_array_length(o) == 0;
            break;
        case json_type_object:
            r = json_object_object_length(o) == 0;
            break;
        default:
            return filter_ev_fail(ev,
                                  "selector %s: cannot test %s for "
                                  "emptiness",
                                  m->sel_text, filter_type_name(o));
        }
        return m->op == FILTER_OP_EMPTY ? r : !r;
    case FILTER_OP_MATCHES:
    case FILTER_OP_NOT_MATCHES: {
        if (!json_object_is_type(o, json_type_string))
            return filter_ev_fail(ev,
                                  "selector %s: cannot match %s against "
                                  "a regular expression",
                                  m->sel_text, filter_type_name(o));
        /* REG_STARTEND: the string may hold NULs. */
        regmatch_t pm[1];
        pm[0].rm_so = 0;
        pm[0].rm_eo = (regoff_t)json_object_get_string_len(o);
        r = regexec(&m->re, json_object_get_string(o), 1, pm, REG_STARTEND) ==
            0;
        return m->op == FILTER_OP_MATCHES ? r : !r;
    }
    }
    return FILTER_ERROR;
}

/* Recursion depth is bounded by FILTER_MAX_DEPTH. Left to right with
 * short-circuit, an error ending the evaluation, as bexpr's evaluate(). */
static int filter_eval_node(const struct filter_node *n,
                            json_object *obj,
                            struct filter_ev *ev)
{
    int r;

    switch (n->kind) {
    case FILTER_NODE_MATCH:
        return filter_eval_match(&n->m, obj, ev);
    case FILTER_NODE_NOT:
        r = filter_eval_node(n->kids[0], obj, ev);
        return r == FILTER_ERROR ? r : !r;
    case FILTER_NODE_AND:
        for (size_t i = 0; i < n->nkids; i++) {
            r = filter_eval_node(n->kids[i], obj, ev);
            if (r != FILTER_TRUE)
                return r;
        }
        return FILTER_TRUE;
    case FILTER_NODE_OR:
        for (size_t i = 0; i < n->nkids; i++) {
            r = filter_eval_node(n->kids[i], obj, ev);
            if (r != FILTER_FALSE)
                return r;
        }
        return FILTER_FALSE;
    }
    return FILTER_ERROR;
}

/* ----------------------------------------------------------------- API */

struct filter *filter_parse(const char *expr, char *err, size_t errlen)
{
    struct filter_parser p;
    struct filter *f = NULL;
    struct filter_node *root = NULL;
    size_t len = strlen(expr);

    memset(&p, 0, sizeof(p));
    if (len > FILTER_MAX_LEN) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen,
                     "1:%d (%d): expression is %zu bytes long, the limit is "
                     "%d",
                     FILTER_MAX_LEN + 1, FILTER_MAX_LEN, len, FILTER_MAX_LEN);
        return NULL;
    }
    p.s = expr;
    p.len = len;
    filter_skip_ws(&p);
    root = filter_parse_or(&p);
    if (root != NULL) {
        filter_skip_ws(&p);
        if (!filter_eof(&p))
            filter_perr(&p, p.pos,
                        "no match found, expected \"and\", \"or\" "
                        "or the end of the expression");
    }
    if (!p.failed) {
        f = malloc(sizeof(*f));
        if (f == NULL)
            filter_poom(&p);
    }
    if (p.failed) {
        filter_node_free(root);
        free(f);
        if (err != NULL && errlen > 0) {
            /* line:column (runes, as pigeon counts) and byte offset */
            size_t line = 1, col = 1;
            for (size_t i = 0; i < p.err_pos && i < len; i++) {
                if (expr[i] == '\n') {
                    line++;
                    col = 1;
                } else if (((unsigned char)expr[i] & 0xC0) != 0x80) {
                    col++;
                }
            }
            snprintf(err, errlen, "%zu:%zu (%zu): %s", line, col, p.err_pos,
                     p.msg);
        }
        return NULL;
    }
    f->root = root;
    return f;
}

int filter_eval(const struct filter *f,
                json_object *obj,
                char *err,
                size_t errlen)
{
    struct filter_ev ev = {err, errlen};
    int r = filter_eval_node(f->root, obj, &ev);
    return r == FILTER_ERROR ? -EINVAL : r;
}

bool filter_match(const struct filter *f, json_object *obj)
{
    return filter_eval(f, obj, NULL, 0) == 1;
}

int filter_array(const struct filter *f,
                 json_object *arr,
                 json_object **out,
                 char *err,
                 size_t errlen)
{
    *out = NULL;
    if (!json_object_is_type(arr, json_type_array)) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "only arrays can be filtered, not %s",
                     filter_type_name(arr));
        return -EINVAL;
    }
    json_object *res = json_object_new_array();
    if (res == NULL)
        return -ENOMEM;
    size_t n = json_object_array_length(arr);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        /* bexpr's Filter.Execute stops at the first element that fails */
        int r = filter_eval(f, e, err, errlen);
        if (r < 0) {
            json_object_put(res);
            return r;
        }
        if (r == 0)
            continue;
        if (json_object_array_add(res, json_object_get(e)) != 0) {
            json_object_put(e);
            json_object_put(res);
            return -ENOMEM;
        }
    }
    *out = res;
    return 0;
}

int filter_object_values(const struct filter *f,
                         json_object *obj,
                         json_object **out,
                         char *err,
                         size_t errlen)
{
    *out = NULL;
    if (!json_object_is_type(obj, json_type_object)) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "only objects can be filtered, not %s",
                     filter_type_name(obj));
        return -EINVAL;
    }
    json_object *res = json_object_new_object();
    if (res == NULL)
        return -ENOMEM;
    json_object_object_foreach(obj, key, val)
    {
        int r = filter_eval(f, val, err, errlen);
        if (r < 0) {
            json_object_put(res);
            return r;
        }
        if (r == 0)
            continue;
        if (json_object_object_add(res, key, json_object_get(val)) != 0) {
            json_object_put(val);
            json_object_put(res);
            return -ENOMEM;
        }
    }
    *out = res;
    return 0;
}

void filter_free(struct filter *f)
{
    if (f == NULL)
        return;
    filter_node_free(f->root);
    free(f);
}
