/*
 * test_json — api/json: exact uint64s, Go-identical output, base64, lookup
 * and parse errors. Expected strings are what Go's encoding/json prints.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

static json_object *parse_ok(const char *s)
{
    char err[128];
    json_object *o = json_parse(s, strlen(s), err, sizeof(err));
    if (o == NULL)
        fail_msg("parse of %s failed: %s", s, err);
    return o;
}

static void assert_dump(json_object *o, bool pretty, const char *want)
{
    size_t len = 0;
    char *s = json_dump(o, pretty, &len);
    assert_non_null(s);
    assert_string_equal(s, want);
    assert_int_equal(len, strlen(want));
    free(s);
}

static void uint64_round_trips_exactly(void **state)
{
    (void)state;
    static const uint64_t vals[] = {0, 9007199254740993ULL,
                                    3304740253564472344ULL,
                                    9223372036854775808ULL, UINT64_MAX};
    static const char *const text[] = {
        "0", "9007199254740993", "3304740253564472344", "9223372036854775808",
        "18446744073709551615"};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        uint64_t got = 1;
        /* parse -> read */
        json_object *o = parse_ok(text[i]);
        assert_int_equal(json_get_u64(o, &got), 0);
        assert_true(got == vals[i]);
        assert_dump(o, false, text[i]);
        json_object_put(o);
        /* build -> print -> parse -> read */
        o = json_object_new_object();
        json_object_object_add(o, "Flags", json_object_new_uint64(vals[i]));
        size_t len;
        char *s = json_dump(o, false, &len);
        char want[64];
        snprintf(want, sizeof(want), "{\"Flags\":%s}", text[i]);
        assert_string_equal(s, want);
        json_object_put(o);
        o = parse_ok(s);
        free(s);
        assert_int_equal(json_get_u64(json_get_ci(o, "flags"), &got), 0);
        assert_true(got == vals[i]);
        json_object_put(o);
    }
}

static void get_u64_rejects_non_integers(void **state)
{
    (void)state;
    static const char *const bad[] = {"-1",   "-9223372036854775808",
                                      "1.5",  "1.0",
                                      "1e3",  "\"5\"",
                                      "true", "[1]",
                                      "{}",   "-0.0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t got = 42;
        json_object *o = parse_ok(bad[i]);
        assert_int_equal(json_get_u64(o, &got), -EINVAL);
        assert_true(got == 42);
        json_object_put(o);
    }
    uint64_t got = 42;
    assert_int_equal(json_get_u64(NULL, &got), -EINVAL); /* null */
}

static void integers_beyond_uint64_are_not_clamped(void **state)
{
    (void)state;
    uint64_t got = 42;
    /* json-c alone would read this as UINT64_MAX. */
    json_object *o = parse_ok("18446744073709551616");
    assert_int_equal(json_get_u64(o, &got), -EINVAL);
    assert_true(json_object_is_type(o, json_type_double));
    assert_dump(o, false, "18446744073709552000"); /* Go's float64 form */
    json_object_put(o);

    o = parse_ok(
        "{\"a\":\"99999999999999999999\","
        "\"b\":[99999999999999999999,-9223372036854775809]}");
    assert_string_equal(json_object_get_string(json_get_ci(o, "a")),
                        "99999999999999999999");
    json_object *b = json_get_ci(o, "b");
    assert_int_equal(json_get_u64(json_object_array_get_idx(b, 0), &got),
                     -EINVAL);
    assert_true(
        json_object_is_type(json_object_array_get_idx(b, 1), json_type_double));
    json_object_put(o);

    /* Largest values still exact. */
    o = parse_ok("[18446744073709551615,-9223372036854775808]");
    assert_int_equal(json_get_u64(json_object_array_get_idx(o, 0), &got), 0);
    assert_true(got == UINT64_MAX);
    assert_true(json_object_get_int64(json_object_array_get_idx(o, 1)) ==
                INT64_MIN);
    assert_dump(o, false, "[18446744073709551615,-9223372036854775808]");
    json_object_put(o);
}

static json_object *nested_doc(void)
{
    json_object *o = json_object_new_object();
    json_object_object_add(
        o, "Name",
        json_object_new_string("q\"b\\s/sl \xc3\xa9 \xe2\x98\x83 <&>"));
    json_object_object_add(o, "Port", json_object_new_int(8500));
    json_object_object_add(o, "Neg", json_object_new_int64(-7));
    json_object_object_add(o, "Flags",
                           json_object_new_uint64(3304740253564472344ULL));
    json_object_object_add(o, "Tags", json_object_new_array());
    json_object_object_add(o, "Meta", json_object_new_object());
    json_object_object_add(o, "Session", NULL);
    json_object *inner = json_object_new_object();
    json_object *arr = json_object_new_array();
    json_object_array_add(arr, json_object_new_int(1));
    json_object_array_add(arr, json_object_new_string("x"));
    json_object_array_add(arr, NULL);
    json_object_array_add(arr, json_object_new_boolean(1));
    json_object *k = json_object_new_object();
    json_object_object_add(k, "k", json_object_new_array());
    json_object_array_add(arr, k);
    json_object_object_add(inner, "Vec", arr);
    json_object_object_add(inner, "Error", json_object_new_double(1.5));
    json_object_object_add(inner, "Ok", json_object_new_boolean(0));
    json_object_object_add(o, "Coord", inner);
    return o;
}

static void compact_output_matches_go_marshal(void **state)
{
    (void)state;
    json_object *o = nested_doc();
    assert_dump(o, false,
                "{\"Name\":\"q\\\"b\\\\s/sl \xc3\xa9 \xe2\x98\x83 "
                "\\u003c\\u0026\\u003e\",\"Port\":8500,\"Neg\":-7,"
                "\"Flags\":3304740253564472344,\"Tags\":[],\"Meta\":{},"
                "\"Session\":null,\"Coord\":{\"Vec\":[1,\"x\",null,true,"
                "{\"k\":[]}],\"Error\":1.5,\"Ok\":false}}");
    json_object_put(o);
}

static void pretty_output_matches_go_marshal_indent(void **state)
{
    (void)state;
    json_object *o = nested_doc();
    assert_dump(o, true,
                "{\n"
                "    \"Name\": \"q\\\"b\\\\s/sl \xc3\xa9 \xe2\x98\x83 "
                "\\u003c\\u0026\\u003e\",\n"
                "    \"Port\": 8500,\n"
                "    \"Neg\": -7,\n"
                "    \"Flags\": 3304740253564472344,\n"
                "    \"Tags\": [],\n"
                "    \"Meta\": {},\n"
                "    \"Session\": null,\n"
                "    \"Coord\": {\n"
                "        \"Vec\": [\n"
                "            1,\n"
                "            \"x\",\n"
                "            null,\n"
                "            true,\n"
                "            {\n"
                "                \"k\": []\n"
                "            }\n"
                "        ],\n"
                "        \"Error\": 1.5,\n"
                "        \"Ok\": false\n"
                "    }\n"
                "}\n");
    json_object_put(o);

    /* Top-level empties and scalars. */
    o = json_object_new_array();
    assert_dump(o, true, "[]\n");
    assert_dump(o, false, "[]");
    json_object_put(o);
    assert_dump(NULL, true, "null\n");

    /* Custom indent (kv export uses a tab). */
    o = parse_ok("[{\"key\":\"a\",\"flags\":0,\"value\":\"\"}]");
    char *s = json_dump_indent(o, "\t", NULL);
    assert_string_equal(s,
                        "[\n\t{\n\t\t\"key\": \"a\",\n\t\t\"flags\": 0,\n"
                        "\t\t\"value\": \"\"\n\t}\n]");
    free(s);
    json_object_put(o);
}

static void strings_escape_like_go(void **state)
{
    (void)state;
    static const struct
    {
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
        {"a/b", 3, "\"a/b\""},
        {"\x01\n\r\t\b\f", 6, "\"\\u0001\\n\\r\\t\\u0008\\u000c\""},
        {"\x7f", 1, "\"\x7f\""},
        {"\xe2\x80\xa8\xe2\x80\xa9", 6, "\"\\u2028\\u2029\""},
        {"bad\xff\xc3(", 6, "\"bad\\ufffd\\ufffd(\""},
        {"\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""}, /* surrogate */
        {"\xc0\xaf", 2, "\"\\ufffd\\ufffd\""},            /* overlong */
        {"\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\""},
        {"nul\0x", 5, "\"nul\\u0000x\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object *o =
            json_object_new_string_len(cases[i].in, (int)cases[i].len);
        assert_dump(o, false, cases[i].want);
        json_object_put(o);
    }
}

static void floats_print_like_go(void **state)
{
    (void)state;
    static const struct
    {
        double d;
        const char *want;
    } cases[] = {
        {0.1, "0.1"},
        {3.0, "3"},
        {-2.5, "-2.5"},
        {1e20, "100000000000000000000"},
        {1e21, "1e+21"},
        {1e-7, "1e-7"},
        {0.000001, "0.000001"},
        {1.5e-10, "1.5e-10"},
        {123456.789, "123456.789"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {5e-324, "5e-324"},
        {0.0, "0"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object *o = json_object_new_double(cases[i].d);
        assert_dump(o, false, cases[i].want);
        json_object_put(o);
    }
    json_object *o = parse_ok("[1.0, 2.50, 1E2]");
    assert_dump(o, false, "[1,2.5,100]");
    json_object_put(o);
}

static void base64_round_trips_binary_and_empty(void **state)
{
    (void)state;
    uint8_t bin[256];
    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (uint8_t)(255 - i);

    for (size_t n = 0; n <= sizeof(bin); n += (n < 8 ? 1 : 37)) {
        char *s = b64_encode(bin, n);
        assert_non_null(s);
        assert_int_equal(strlen(s), (n + 2) / 3 * 4);
        uint8_t *out = (uint8_t *)"x";
        size_t outlen = 99;
        assert_int_equal(b64_decode(s, strlen(s), &out, &outlen), 0);
        assert_int_equal(outlen, n);
        if (n == 0)
            assert_null(out);
        else
            assert_memory_equal(out, bin, n);
        free(out);
        free(s);
    }

    static const struct
    {
        const char *plain;
        size_t n;
        const char *enc;
    } vec[] = {{"", 0, ""},
               {"f", 1, "Zg=="},
               {"fo", 2, "Zm8="},
               {"foo", 3, "Zm9v"},
               {"foob", 4, "Zm9vYg=="},
               {"\x00\xff\xfe", 3, "AP/+"}};
    for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        char *s = b64_encode(vec[i].plain, vec[i].n);
        assert_string_equal(s, vec[i].enc);
        free(s);
    }

    /* Go's decoder skips CR and LF. */
    uint8_t *out;
    size_t outlen;
    assert_int_equal(b64_decode("Zm9v\r\nYmFy", 10, &out, &outlen), 0);
    assert_int_equal(outlen, 6);
    assert_memory_equal(out, "foobar", 6);
    free(out);
}

static void base64_rejects_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Zg",   "Zg=",      "Zg===", "Zm9v=",    "!!!!",
        "Zm-_", "Zg==Zg==", "Z",     "Zm9v YmFy"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t *out = (uint8_t *)"x";
        size_t outlen = 5;
        assert_int_equal(b64_decode(bad[i], strlen(bad[i]), &out, &outlen),
                         -EINVAL);
        assert_null(out);
        assert_int_equal(outlen, 0);
    }
}

static void lookup_is_case_insensitive_preferring_exact(void **state)
{
    (void)state;
    json_object *o =
        parse_ok("{\"Name\":\"a\",\"key\":\"b\",\"KEY\":\"c\",\"n\":null}");
    assert_string_equal(json_object_get_string(json_get_ci(o, "name")), "a");
    assert_string_equal(json_object_get_string(json_get_ci(o, "NAME")), "a");
    assert_string_equal(json_object_get_string(json_get_ci(o, "KEY")), "c");
    assert_string_equal(json_object_get_string(json_get_ci(o, "key")), "b");
    assert_string_equal(json_object_get_string(json_get_ci(o, "Key")), "b");
    assert_null(json_get_ci(o, "missing"));
    assert_null(json_get_ci(o, "N"));
    assert_null(json_get_ci(o, "nam"));
    json_object *arr = parse_ok("[1]");
    assert_null(json_get_ci(arr, "name"));
    assert_null(json_get_ci(NULL, "name"));
    json_object_put(arr);
    json_object_put(o);
}

static void malformed_and_trailing_input_rejected(void **state)
{
    (void)state;
    static const struct
    {
        const char *in;
        const char *err; /* NULL: any non-empty message */
    } bad[] = {
        {"", NULL},
        {"{", NULL},
        {"[1,]", NULL},
        {"{'a':1}", NULL},
        {"nul", NULL},
        {"NaN", NULL},
        {"/* c */ 1", NULL},
        {"01", NULL},
        {"\"abc", NULL},
        {"{\"a\" 1}", NULL},
        {"{\"a\":1}x", "trailing data"},
        {"1 2", "trailing data"},
        {"{}{}", "trailing data"},
        {"[] ]", "trailing data"},
        {"  true false", "trailing data"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[128] = "unset";
        json_object *o =
            json_parse(bad[i].in, strlen(bad[i].in), err, sizeof(err));
        if (o != NULL)
            fail_msg("accepted %s", bad[i].in);
        assert_true(err[0] != '\0');
        assert_string_not_equal(err, "unset");
        if (bad[i].err)
            assert_string_equal(err, bad[i].err);
    }

    /* Depth is bounded. */
    char deep[2 * (JSON_MAX_DEPTH + 10) + 1];
    size_t n = 0;
    for (int i = 0; i < JSON_MAX_DEPTH + 10; i++)
        deep[n++] = '[';
    for (int i = 0; i < JSON_MAX_DEPTH + 10; i++)
        deep[n++] = ']';
    char err[128];
    assert_null(json_parse(deep, n, err, sizeof(err)));
    assert_true(err[0] != '\0');

    /* Not NUL-terminated; a number at the very end; whitespace around. */
    const char buf[] = "12345";
    json_object *o = json_parse(buf, 3, err, sizeof(err));
    assert_non_null(o);
    assert_int_equal(json_object_get_int(o), 123);
    json_object_put(o);
    o = parse_ok(" \n{\"a\" : [ 1 , 2 ] }\r\n\t ");
    assert_dump(o, false, "{\"a\":[1,2]}");
    json_object_put(o);

    /* A valid null document: NULL with an empty message. */
    err[0] = 'x';
    assert_null(json_parse("null", 4, err, sizeof(err)));
    assert_string_equal(err, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uint64_round_trips_exactly),
        cmocka_unit_test(get_u64_rejects_non_integers),
        cmocka_unit_test(integers_beyond_uint64_are_not_clamped),
        cmocka_unit_test(compact_output_matches_go_marshal),
        cmocka_unit_test(pretty_output_matches_go_marshal_indent),
        cmocka_unit_test(strings_escape_like_go),
        cmocka_unit_test(floats_print_like_go),
        cmocka_unit_test(base64_round_trips_binary_and_empty),
        cmocka_unit_test(base64_rejects_malformed),
        cmocka_unit_test(lookup_is_case_insensitive_preferring_exact),
        cmocka_unit_test(malformed_and_trailing_input_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
