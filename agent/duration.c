/*
 * duration — a port of Go's time.ParseDuration and Duration.String()
 * (src/time/format.go, src/time/time.go), so that durations read from and
 * written to Consul clients round-trip exactly as Go would.
 */
#include "duration.h"

#include <errno.h>
#include <string.h>

#define NS_MAX_MAGNITUDE ((uint64_t)1 << 63) /* |INT64_MIN| */

static const struct duration_unit
{
    const char *name;
    uint64_t ns;
} duration_units[] = {
    {"ns", 1ULL},
    {"us", 1000ULL},
    {"\xc2\xb5s", 1000ULL}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000ULL}, /* U+03BC Greek small letter mu */
    {"ms", 1000000ULL},
    {"s", 1000000000ULL},
    {"m", 60ULL * 1000000000ULL},
    {"h", 3600ULL * 1000000000ULL},
};

/* Leading decimal digits of *s as an integer; -EINVAL on overflow beyond
 * 1<<63 (Go's leadingInt). Advances *s past the digits. */
static int duration_leading_int(const char **s, uint64_t *out)
{
    uint64_t x = 0;
    const char *p = *s;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (x > NS_MAX_MAGNITUDE / 10)
            return -EINVAL;
        x = x * 10 + (uint64_t)(*p - '0');
        if (x > NS_MAX_MAGNITUDE)
            return -EINVAL;
    }
    *s = p;
    *out = x;
    return 0;
}

/* Leading fraction digits (after the '.'): the digits as an integer and the
 * power of ten they are scaled by. Digits beyond what fits are dropped, as
 * in Go's leadingFraction. */
static void duration_leading_fraction(const char **s, uint64_t *x,
                                      double *scale)
{
    const char *p = *s;
    int overflow = 0;
    *x = 0;
    *scale = 1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (overflow)
            continue;
        if (*x > (NS_MAX_MAGNITUDE - 1) / 10) {
            overflow = 1;
            continue;
        }
        uint64_t y = *x * 10 + (uint64_t)(*p - '0');
        if (y > NS_MAX_MAGNITUDE) {
            overflow = 1;
            continue;
        }
        *x = y;
        *scale *= 10;
    }
    *s = p;
}

int duration_parse(const char *s, int64_t *ns)
{
    if (s == NULL)
        return -EINVAL;
    uint64_t d = 0;
    int neg = 0;
    if (*s == '-' || *s == '+') {
        neg = *s == '-';
        s++;
    }
    if (strcmp(s, "0") == 0) {
        *ns = 0;
        return 0;
    }
    if (*s == '\0')
        return -EINVAL;
    while (*s != '\0') {
        uint64_t v = 0, f = 0;
        double scale = 1;

        /* The next character must be [0-9.]. */
        if (!(*s == '.' || (*s >= '0' && *s <= '9')))
            return -EINVAL;
        const char *start = s;
        if (duration_leading_int(&s, &v) != 0)
            return -EINVAL;
        int pre = s != start;
        int post = 0;
        if (*s == '.') {
            s++;
            const char *fstart = s;
            duration_leading_fraction(&s, &f, &scale);
            post = s != fstart;
        }
        if (!pre && !post)
            return -EINVAL; /* no digits, e.g. ".s" */

        /* The unit runs up to the next digit or '.'. */
        size_t ulen = 0;
        while (s[ulen] != '\0' && s[ulen] != '.' &&
               !(s[ulen] >= '0' && s[ulen] <= '9'))
            ulen++;
        if (ulen == 0)
            return -EINVAL; /* missing unit */
        uint64_t unit = 0;
        for (size_t i = 0; i < sizeof duration_units / sizeof duration_units[0];
             i++) {
            if (strlen(duration_units[i].name) == ulen &&
                memcmp(duration_units[i].name, s, ulen) == 0) {
                unit = duration_units[i].ns;
                break;
            }
        }
        if (unit == 0)
            return -EINVAL; /* unknown unit */
        s += ulen;

        if (v > NS_MAX_MAGNITUDE / unit)
            return -EINVAL;
        v *= unit;
        if (f > 0) {
            /* float64 keeps fractions of hours nanosecond-accurate:
             * f * unit / scale <= 3.6e12. */
            v += (uint64_t)((double)f * ((double)unit / scale));
            if (v > NS_MAX_MAGNITUDE)
                return -EINVAL;
        }
        d += v;
        if (d > NS_MAX_MAGNITUDE)
            return -EINVAL;
    }
    if (neg) {
        *ns = d == NS_MAX_MAGNITUDE ? INT64_MIN : -(int64_t)d;
        return 0;
    }
    if (d > NS_MAX_MAGNITUDE - 1)
        return -EINVAL;
    *ns = (int64_t)d;
    return 0;
}

/* Go's fmtFrac: write the `prec` low decimal digits of v as a fraction
 * (trailing zeros and a bare '.' omitted) ending before buf[w]. */
static size_t duration_fmt_frac(char *buf, size_t w, uint64_t *v, int prec)
{
    int print = 0;
    for (int i = 0; i < prec; i++) {
        uint64_t digit = *v % 10;
        print = print || digit != 0;
        if (print)
            buf[--w] = (char)('0' + digit);
        *v /= 10;
    }
    if (print)
        buf[--w] = '.';
    return w;
}

/* Go's fmtInt: write v in decimal ending before buf[w]. */
static size_t duration_fmt_int(char *buf, size_t w, uint64_t v)
{
    if (v == 0) {
        buf[--w] = '0';
        return w;
    }
    while (v > 0) {
        buf[--w] = (char)('0' + v % 10);
        v /= 10;
    }
    return w;
}

void duration_format(int64_t ns, char *buf, size_t len)
{
    char arr[32];
    size_t w = sizeof arr;
    int neg = ns < 0;
    uint64_t u = neg ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;

    if (len == 0)
        return;
    if (u < 1000000000ULL) {
        /* Under a second: the largest unit below it, like "1.2ms". */
        int prec = 0;
        arr[--w] = 's';
        if (u == 0) {
            arr[--w] = '0';
            neg = 0;
            goto out;
        } else if (u < 1000ULL) {
            prec = 0;
            arr[--w] = 'n';
        } else if (u < 1000000ULL) {
            prec = 3;
            arr[--w] = '\xb5'; /* "µ" is two bytes */
            arr[--w] = '\xc2';
        } else {
            prec = 6;
            arr[--w] = 'm';
        }
        w = duration_fmt_frac(arr, w, &u, prec);
        w = duration_fmt_int(arr, w, u);
    } else {
        arr[--w] = 's';
        w = duration_fmt_frac(arr, w, &u, 9);
        /* u is now whole seconds */
        w = duration_fmt_int(arr, w, u % 60);
        u /= 60;
        if (u > 0) {
            arr[--w] = 'm';
            w = duration_fmt_int(arr, w, u % 60);
            u /= 60;
            if (u > 0) {
                arr[--w] = 'h';
                w = duration_fmt_int(arr, w, u);
            }
        }
    }
out:
    if (neg)
        arr[--w] = '-';
    size_t n = sizeof arr - w;
    if (n > len - 1)
        n = len - 1;
    memcpy(buf, arr + w, n);
    buf[n] = '\0';
}
