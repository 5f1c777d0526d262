/* Unit tests for agent/duration.c: Go's time.ParseDuration and
 * Duration.String(), expected values taken from Go. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "duration.h"

#define NS 1LL
#define US (1000 * NS)
#define MS (1000 * US)
#define SEC (1000 * MS)
#define MIN (60 * SEC)
#define HOUR (60 * MIN)

static int64_t parse_ok(const char *s)
{
    int64_t ns = 12345;
    int rc = duration_parse(s, &ns);
    if (rc != 0)
        fail_msg("duration_parse(\"%s\") = %d, want 0", s, rc);
    return ns;
}

static void parse_fails(const char *s)
{
    int64_t ns = 12345;
    int rc = duration_parse(s, &ns);
    if (rc != -EINVAL)
        fail_msg("duration_parse(\"%s\") = %d (ns %lld), want -EINVAL", s, rc,
                 (long long)ns);
    assert_int_equal(ns, 12345); /* untouched on error */
}

static void parse_every_unit(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("7ns"), 7 * NS);
    assert_int_equal(parse_ok("7us"), 7 * US);
    assert_int_equal(parse_ok("7\xc2\xb5s"), 7 * US); /* micro sign */
    assert_int_equal(parse_ok("7\xce\xbcs"), 7 * US); /* Greek mu */
    assert_int_equal(parse_ok("7ms"), 7 * MS);
    assert_int_equal(parse_ok("7s"), 7 * SEC);
    assert_int_equal(parse_ok("7m"), 7 * MIN);
    assert_int_equal(parse_ok("7h"), 7 * HOUR);
    assert_int_equal(parse_ok("10s"), 10 * SEC);
    assert_int_equal(parse_ok("500ms"), 500 * MS);
    assert_int_equal(parse_ok("250us"), 250 * US);
    assert_int_equal(parse_ok("250\xc2\xb5s"), 250 * US);
}

static void parse_combined_units(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("1m30s"), 90 * SEC);
    assert_int_equal(parse_ok("1h2m3s4ms5us6ns"),
                     HOUR + 2 * MIN + 3 * SEC + 4 * MS + 5 * US + 6 * NS);
    assert_int_equal(parse_ok("2h0m0s"), 2 * HOUR);
    /* Go allows repeated and unordered units. */
    assert_int_equal(parse_ok("1s1s"), 2 * SEC);
    assert_int_equal(parse_ok("1s1m"), MIN + SEC);
    assert_int_equal(parse_ok("0s"), 0);
    assert_int_equal(parse_ok("000010s"), 10 * SEC);
}

static void parse_fractions(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("1.5h"), 90 * MIN);
    assert_int_equal(parse_ok("1.5s"), 1500 * MS);
    assert_int_equal(parse_ok("0.5s"), 500 * MS);
    assert_int_equal(parse_ok(".5s"), 500 * MS);
    assert_int_equal(parse_ok("1.s"), SEC);
    assert_int_equal(parse_ok("1.5us"), 1500 * NS);
    assert_int_equal(parse_ok("0.000000001s"), 1 * NS);
    assert_int_equal(parse_ok("1.0000000001s"), SEC); /* below 1ns: dropped */
    assert_int_equal(parse_ok("0.3333333333333333333h"), 1200 * SEC);
    assert_int_equal(parse_ok("1.004s"), 1004 * MS);
    assert_int_equal(parse_ok("1.5m30.5s"), 2 * MIN + 500 * MS);
}

static void parse_signs_and_zero(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("-3s"), -3 * SEC);
    assert_int_equal(parse_ok("+1h"), HOUR);
    assert_int_equal(parse_ok("-1.5h"), -90 * MIN);
    assert_int_equal(parse_ok("0"), 0);
    assert_int_equal(parse_ok("-0"), 0);
    assert_int_equal(parse_ok("+0"), 0);
    assert_int_equal(parse_ok("-0s"), 0);
}

static void parse_limits(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("9223372036854775807ns"), INT64_MAX);
    assert_int_equal(parse_ok("-9223372036854775808ns"), INT64_MIN);
    assert_int_equal(parse_ok("2562047h"), 2562047 * HOUR);
    assert_int_equal(parse_ok("2562047h47m16.854775807s"), INT64_MAX);
    assert_int_equal(parse_ok("-2562047h47m16.854775808s"), INT64_MIN);
}

static void parse_errors(void **state)
{
    (void)state;
    parse_fails("");
    parse_fails("10");     /* missing unit */
    parse_fails("1x");     /* unknown unit */
    parse_fails("1.5.5s"); /* second '.' */
    assert_int_equal(parse_ok("1.5s.5s"), 2 * SEC); /* as Go: ".5s" */
    parse_fails("s");
    parse_fails(".s");
    parse_fails(".");
    parse_fails("-");
    parse_fails("+");
    parse_fails("--1s");
    parse_fails(" 1s");
    parse_fails("1s ");
    parse_fails("1 s");
    parse_fails("1S");
    parse_fails("1sec");
    parse_fails("1m30");
    parse_fails("00");
    parse_fails("1e3s");
    parse_fails("\xc2s"); /* a stray UTF-8 byte as the unit */
    /* overflow of int64 nanoseconds */
    parse_fails("9223372036854775808ns");
    parse_fails("2562048h");
    parse_fails("2562047h47m16.854775808s");
    parse_fails("-2562047h47m16.854775809s");
    parse_fails("100000000000000000000s");
    parse_fails("9223372036854775807ns1ns");
    assert_int_equal(duration_parse(NULL, &(int64_t){0}), -EINVAL);
}

static void format_is(int64_t ns, const char *want)
{
    char buf[32];
    memset(buf, 'x', sizeof buf);
    duration_format(ns, buf, sizeof buf);
    if (strcmp(buf, want) != 0)
        fail_msg("duration_format(%lld) = \"%s\", want \"%s\"", (long long)ns,
                 buf, want);
}

static void format_like_go(void **state)
{
    (void)state;
    format_is(0, "0s");
    format_is(1, "1ns");
    format_is(999, "999ns");
    format_is(US, "1\xc2\xb5s");
    format_is(1500, "1.5\xc2\xb5s");
    format_is(500 * MS, "500ms");
    format_is(MS + 1, "1.000001ms");
    format_is(SEC, "1s");
    format_is(1500 * MS, "1.5s");
    format_is(90 * SEC, "1m30s");
    format_is(MIN, "1m0s");
    format_is(2 * HOUR, "2h0m0s");
    format_is(HOUR + 2 * MIN + 3 * SEC + 4 * MS, "1h2m3.004s");
    format_is(-3 * SEC, "-3s");
    format_is(-1, "-1ns");
    format_is(-1500, "-1.5\xc2\xb5s");
    format_is(-90 * SEC, "-1m30s");
    format_is(INT64_MAX, "2562047h47m16.854775807s");
    format_is(INT64_MIN, "-2562047h47m16.854775808s");
}

static void format_truncates_to_buffer(void **state)
{
    (void)state;
    char buf[4];
    duration_format(90 * SEC, buf, sizeof buf);
    assert_string_equal(buf, "1m3");
    char one[1] = {'x'};
    duration_format(90 * SEC, one, sizeof one);
    assert_int_equal(one[0], '\0');
    duration_format(90 * SEC, one, 0); /* no room at all: untouched */
    assert_int_equal(one[0], '\0');
}

static void format_then_parse_round_trips(void **state)
{
    (void)state;
    static const int64_t values[] = {
        0,         1,         999,        1000,      1001,     1500,
        MS,        MS + 1,    999 * MS,   SEC,       SEC + 1,  59 * SEC,
        61 * SEC,  HOUR - 1,  HOUR,       25 * HOUR, -1,       -SEC,
        -HOUR - 1, INT64_MAX, INT64_MIN,  123456789, 987654321012345,
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char buf[32];
        duration_format(values[i], buf, sizeof buf);
        int64_t back = 0;
        assert_int_equal(duration_parse(buf, &back), 0);
        assert_int_equal(back, values[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_every_unit),
        cmocka_unit_test(parse_combined_units),
        cmocka_unit_test(parse_fractions),
        cmocka_unit_test(parse_signs_and_zero),
        cmocka_unit_test(parse_limits),
        cmocka_unit_test(parse_errors),
        cmocka_unit_test(format_like_go),
        cmocka_unit_test(format_truncates_to_buffer),
        cmocka_unit_test(format_then_parse_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
