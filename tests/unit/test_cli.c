/*
 * test_cli — the CLI without an agent: Go flag semantics, the formatters
 * (kv -detailed, export, members, columnize) byte for byte against what
 * Consul prints, and whole commands run through cli_main against a tiny
 * fake HTTP server on an ephemeral 127.0.0.1 port that records requests
 * and replays canned answers (tests/unit/fake_http.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "cli_internal.h"
#include "cli_run.h"
#include "fake_http.h"
#include "json.h"

/* ------------------------------------------------------- run cli_main */

/* ------------------------------------------------------------- flags */

static void flags_follow_go_flag_package(void **state)
{
    (void)state;
    bool b = false, c = false;
    const char *s = NULL;
    uint64_t u = 0;
    const struct cli_flag fl[] = {
        {"b", CLI_FLAG_BOOL, &b, NULL, ""},
        {"c", CLI_FLAG_BOOL, &c, NULL, ""},
        {"str", CLI_FLAG_STRING, &s, NULL, ""},
        {"modify-index", CLI_FLAG_U64, &u, NULL, ""},
    };
    char err[256];

    char *a1[] = {"-b", "--str=x=y", "-modify-index", "0x10", "key", "-c"};
    assert_int_equal(cli__flags_parse(fl, 4, 6, a1, err, sizeof(err)), 4);
    assert_true(b);
    assert_false(c); /* after the first positional: not a flag */
    assert_string_equal(s, "x=y");
    assert_true(u == 16);

    char *a2[] = {"-b=false", "-str", "-c", "--", "-b"};
    b = true;
    assert_int_equal(cli__flags_parse(fl, 4, 5, a2, err, sizeof(err)), 4);
    assert_false(b);
    assert_string_equal(s, "-c"); /* a string flag takes the next arg */

    char *a3[] = {"-b", "false"}; /* bools never take the next arg */
    assert_int_equal(cli__flags_parse(fl, 4, 2, a3, err, sizeof(err)), 1);
    char *a4[] = {"-", "-b"};
    assert_int_equal(cli__flags_parse(fl, 4, 2, a4, err, sizeof(err)), 0);

    static const struct
    {
        const char *arg;
        const char *err;
    } bad[] = {
        {"-nope", "flag provided but not defined: -nope"},
        {"-nope=1", "flag provided but not defined: -nope"},
        {"-str", "flag needs an argument: -str"},
        {"-b=maybe", "invalid boolean value \"maybe\" for -b: parse error"},
        {"-modify-index=-1",
         "invalid value \"-1\" for flag -modify-index: parse error"},
        {"-modify-index=18446744073709551616",
         "invalid value \"18446744073709551616\" for flag -modify-index: "
         "value out of range"},
        {"---x", "bad flag syntax: ---x"},
        {"-=x", "bad flag syntax: -=x"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *a[] = {(char *)bad[i].arg};
        assert_int_equal(cli__flags_parse(fl, 4, 1, a, err, sizeof(err)), -1);
        assert_string_equal(err, bad[i].err);
    }
}

static void u64_values_parse_like_strconv(void **state)
{
    (void)state;
    static const struct
    {
        const char *s;
        int rc;
        uint64_t v;
    } cases[] = {
        {"0", 0, 0},
        {"42", 0, 42},
        {"0x2ddccbc058a50c18", 0, 3304740253564472344ULL},
        {"0X10", 0, 16},
        {"010", 0, 8},
        {"0o17", 0, 15},
        {"0b101", 0, 5},
        {"18446744073709551615", 0, UINT64_MAX},
        {"18446744073709551616", -ERANGE, 0},
        {"", -EINVAL, 0},
        {"-1", -EINVAL, 0},
        {"+1", -EINVAL, 0},
        {" 1", -EINVAL, 0},
        {"0x", -EINVAL, 0},
        {"09", -EINVAL, 0},
        {"1.5", -EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 7;
        assert_int_equal(cli__parse_u64(cases[i].s, &v), cases[i].rc);
        if (cases[i].rc == 0)
            assert_true(v == cases[i].v);
    }
}

static void help_flag_found_anywhere_before_double_dash(void **state)
{
    (void)state;
    char *a[] = {"-recurse", "foo", "-h"};
    assert_true(cli__wants_help(3, a));
    char *b[] = {"--", "-help"};
    assert_false(cli__wants_help(2, b));
    char *c[] = {"--help"};
    assert_true(cli__wants_help(1, c));
    char *d[] = {"-hx"};
    assert_false(cli__wants_help(1, d));
}

/* -------------------------------------------------------- formatters */

static void kv_detailed_block_matches_consul(void **state)
{
    (void)state;
    struct cli_kv_pair p = {
        .key = "foo/bar",
        .create_index = 5,
        .modify_index = 7,
        .lock_index = 1,
        .flags = 3304740253564472344ULL,
        .session = "",
        .value = (uint8_t *)"hello",
        .value_len = 5,
    };
    char *s = cli__kv_detailed(&p, false, false);
    assert_string_equal(s,
                        "CreateIndex      5\n"
                        "Flags            3304740253564472344\n"
                        "Key              foo/bar\n"
                        "LockIndex        1\n"
                        "ModifyIndex      7\n"
                        "Session          -\n"
                        "Value            hello");
    free(s);
    p.session = "adf4238a-882b-9ddc-4a9d-5b6758e4159e";
    s = cli__kv_detailed(&p, true, false);
    assert_non_null(strstr(s,
                           "Session          "
                           "adf4238a-882b-9ddc-4a9d-5b6758e4159e\n"));
    assert_non_null(strstr(s, "\nValue            aGVsbG8="));
    free(s);
    s = cli__kv_detailed(&p, false, true);
    assert_null(strstr(s, "Value"));
    assert_true(s[strlen(s) - 1] == '\n');
    free(s);
}

static void kv_pair_decode_reads_agent_json(void **state)
{
    (void)state;
    char err[256];
    const char *j =
        "{\"LockIndex\":0,\"Key\":\"k\",\"Flags\":"
        "18446744073709551615,\"Value\":\"AP8=\",\"CreateIndex\":"
        "3,\"ModifyIndex\":9}";
    json_object *o = json_parse(j, strlen(j), err, sizeof(err));
    struct cli_kv_pair p;
    assert_int_equal(cli__kv_pair_decode(o, &p, err, sizeof(err)), 0);
    assert_string_equal(p.key, "k");
    assert_true(p.flags == UINT64_MAX);
    assert_true(p.modify_index == 9);
    assert_int_equal(p.value_len, 2);
    assert_memory_equal(p.value, "\x00\xff", 2);
    assert_string_equal(p.session, "");
    free(p.value);
    json_object_put(o);

    j = "{\"Key\":\"k\",\"Value\":null,\"Flags\":-1}";
    o = json_parse(j, strlen(j), err, sizeof(err));
    assert_int_equal(cli__kv_pair_decode(o, &p, err, sizeof(err)), -EINVAL);
    json_object_put(o);
}

static void kv_export_json_matches_consul(void **state)
{
    (void)state;
    char err[256];
    const char *j =
        "[{\"Key\":\"a\",\"Flags\":0,\"Value\":\"Yg==\",\"LockIndex\":0,"
        "\"CreateIndex\":1,\"ModifyIndex\":1},"
        "{\"Key\":\"dir/\",\"Flags\":3304740253564472344,\"Value\":null,"
        "\"LockIndex\":0,\"CreateIndex\":2,\"ModifyIndex\":2},"
        "{\"Key\":\"<x>\",\"Flags\":1,\"Value\":\"AP8=\"}]";
    json_object *o = json_parse(j, strlen(j), err, sizeof(err));
    assert_non_null(o);
    char *s = cli__kv_export_json(o, err, sizeof(err));
    assert_string_equal(s,
                        "[\n"
                        "\t{\n"
                        "\t\t\"key\": \"a\",\n"
                        "\t\t\"flags\": 0,\n"
                        "\t\t\"value\": \"Yg==\"\n"
                        "\t},\n"
                        "\t{\n"
                        "\t\t\"key\": \"dir/\",\n"
                        "\t\t\"flags\": 3304740253564472344,\n"
                        "\t\t\"value\": \"\"\n"
                        "\t},\n"
                        "\t{\n"
                        "\t\t\"key\": \"\\u003cx\\u003e\",\n"
                        "\t\t\"flags\": 1,\n"
                        "\t\t\"value\": \"AP8=\"\n"
                        "\t}\n"
                        "]");
    free(s);
    json_object_put(o);

    s = cli__kv_export_json(NULL, err, sizeof(err)); /* 404: nothing */
    assert_string_equal(s, "[]");
    free(s);
}

static void columnize_pads_all_but_last_column(void **state)
{
    (void)state;
    char *lines[] = {
        "Node\x1f"
        "Address\x1fStatus",
        "a\x1f 1.2.3.4:1 \x1f"
        "alive",
        "long-name\x1f\x1f"
        "failed",
        "x"};
    char *s = cli__columnize(lines, 4);
    assert_string_equal(s,
                        "Node       Address    Status\n"
                        "a          1.2.3.4:1  alive\n"
                        "long-name             failed\n"
                        "x");
    free(s);
}

static const char members_json[] =
    "[{\"Name\":\"web1\",\"Addr\":\"10.0.0.7\",\"Port\":8301,\"Tags\":"
    "{\"role\":\"node\",\"dc\":\"dc1\",\"vsn\":\"2\",\"build\":"
    "\"1.16.0:abc\",\"id\":\"x\"},\"Status\":1},"
    "{\"Name\":\"srv2\",\"Addr\":\"10.0.0.2\",\"Port\":8301,\"Tags\":"
    "{\"role\":\"consul\",\"dc\":\"dc1\",\"vsn\":\"2\",\"build\":"
    "\"1.16.0:abc\",\"port\":\"8300\"},\"Status\":4},"
    "{\"Name\":\"srv1\",\"Addr\":\"::1\",\"Port\":8301,\"Tags\":"
    "{\"role\":\"consul\",\"dc\":\"dc1\",\"vsn\":\"2\",\"build\":"
    "\"0.1.0\"},\"Status\":1},"
    "{\"Name\":\"odd\",\"Addr\":\"bogus\",\"Port\":1,\"Tags\":{},"
    "\"Status\":3}]";

static void members_table_matches_consul(void **state)
{
    (void)state;
    char err[256], *out = NULL;
    json_object *o =
        json_parse(members_json, strlen(members_json), err, sizeof(err));
    assert_non_null(o);

    assert_int_equal(
        cli__members_format(o, false, "_all", ".*", &out, err, sizeof(err)), 0);
    assert_string_equal(
        out,
        "Node  Address        Status  Type     Build   Protocol  DC   "
        "Partition  Segment\n"
        "srv1  [::1]:8301     alive   server   0.1.0   2         dc1  "
        "default    <all>\n"
        "srv2  10.0.0.2:8301  failed  server   1.16.0  2         dc1  "
        "default    <all>\n"
        "odd   :1             left    unknown  " /* then 34 spaces */
        "                                  \n"
        "web1  10.0.0.7:8301  alive   client   1.16.0  2         dc1  "
        "default    <default>");
    free(out);

    assert_int_equal(
        cli__members_format(o, true, "_all", "alive", &out, err, sizeof(err)),
        0);
    assert_string_equal(
        out,
        "Node  Address        Status  Tags\n"
        "srv1  [::1]:8301     alive   build=0.1.0,dc=dc1,"
        "partition=default,role=consul,segment=<all>,vsn=2\n"
        "web1  10.0.0.7:8301  alive   build=1.16.0:abc,dc=dc1,id=x,"
        "partition=default,role=node,segment=<default>,vsn=2");
    free(out);

    assert_int_equal(cli__members_format(o, false, "_all", "^leaving$", &out,
                                         err, sizeof(err)),
                     2);
    assert_null(out);
    assert_int_equal(
        cli__members_format(o, false, "_all", "(", &out, err, sizeof(err)), 1);
    assert_non_null(strstr(err, "Failed to compile status regexp: "));
    json_object_put(o);
}

/* ------------------------------------------------- commands, end to end */

static void kv_get_prints_value_and_sends_token_and_dc(void **state)
{
    (void)state;
    struct fake_http *f = fake_http_start(NULL);
    char addr[64];
    struct run r;
    fake_http_add_headers(
        f, 200, "X-Consul-Index: 9\r\nContent-Type: application/json\r\n",
        "[{\"LockIndex\":0,\"Key\":\"foo\",\"Flags\":0,\"Value\":"
        "\"YmFy\",\"CreateIndex\":9,\"ModifyIndex\":9}]");
    fake_http_add_headers(f, 404, "X-Consul-Index: 9\r\n", "");
    fake_http_go(f);

    run_cli(&r, NULL, "kv", "get", ADDR_ARG(f, addr), "-token", "s3cret",
            "-datacenter=dc1", "-stale", "/foo", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "bar\n");
    assert_string_equal(r.err, "");
    run_free(&r);
    fake_http_assert_request_line(f, 0,
                                  "GET /v1/kv/foo?dc=dc1&stale= HTTP/1.1");
    assert_non_null(
        strstr(fake_http_request(f, 0), "\r\nX-Consul-Token: s3cret\r\n"));

    run_cli(&r, NULL, "kv", "get", ADDR_ARG(f, addr), "missing", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "Error! No key exists at: missing\n");
    run_free(&r);
    fake_http_assert_request_line(f, 1, "GET /v1/kv/missing HTTP/1.1");
    assert_null(strstr(fake_http_request(f, 1), "X-Consul-Token"));
    fake_http_stop(f);
}

static void kv_get_recurse_keys_and_detailed(void **state)
{
    (void)state;
    struct fake_http *f = fake_http_start(NULL);
    char addr[64];
    struct run r;
    const char *pairs =
        "[{\"LockIndex\":0,\"Key\":\"web/a\",\"Flags\":0,\"Value\":\"MQ==\","
        "\"CreateIndex\":4,\"ModifyIndex\":4},{\"LockIndex\":0,\"Key\":"
        "\"web/b c\",\"Flags\":2,\"Value\":null,\"CreateIndex\":5,"
        "\"ModifyIndex\":6}]";
    fake_http_add(f, 200, pairs);
    fake_http_add(f, 200, "[\"web/a\",\"web/sub/\"]");
    fake_http_add(f, 200, pairs);
    fake_http_add(f, 404, NULL);
    fake_http_add(f, 200, pairs);
    fake_http_go(f);

    run_cli(&r, NULL, "kv", "get", ADDR_ARG(f, addr), "-recurse", "web", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "web/a:1\nweb/b c:\n");
    run_free(&r);
    fake_http_assert_request_line(f, 0, "GET /v1/kv/web?recurse= HTTP/1.1");

    run_cli(&r, NULL, "kv", "get", ADDR_ARG(f, addr), "-keys", "web/", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "web/a\nweb/sub/\n");
    run_free(&r);
    fake_http_assert_request_line(
        f, 1, "GET /v1/kv/web/?keys=&separator=%2F HTTP/1.1");

    run_cli(&r, NULL, "kv", "get", ADDR_ARG(f, addr), "-recurse", "-detailed",
            "web", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out,
                        "CreateIndex      4\n"
                        "Flags            0\n"
                        "Key              web/a\n"
                        "LockIndex        0\n"
                        "ModifyIndex      4\n"
                        "Session          -\n"
                        "Value            1\n"
                        "\n"
                        "CreateIndex      5\n"
                        "Flags            2\n"
                        "Key              web/b c\n"
                        "LockIndex        0\n"
                        "ModifyIndex      6\n"
                        "Session          -\n"
                        "Value            \n");
    run_free(&r);

    /* Nothing under the prefix: no output, success. */
    run_cli(&r, NULL, "kv", "get", ADDR_ARG(f, addr), "-recurse", "zzz", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "");
    run_free(&r);

    /* -keys -recurse: every key under the prefix, no separator. */
    run_cli(&r, NULL, "kv", "get", ADDR_ARG(f, addr), "-keys", "-recurse",
            "web", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "web/a\nweb/b c\n");
    run_free(&r);
    fake_http_assert_request_line(f, 4, "GET /v1/kv/web?recurse= HTTP/1.1");
    fake_http_stop(f);

    run_cli(&r, NULL, "kv", "get", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "Error! Missing KEY argument\n");
    run_free(&r);
    run_cli(&r, NULL, "kv", "get", "a", "b", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "Too many arguments (expected 1, got 2)\n");
    run_free(&r);
}

static void kv_put_writes_body_flags_and_cas(void **state)
{
    (void)state;
    struct fake_http *f = fake_http_start(NULL);
    char addr[64], file[] = "/tmp/cairn_test_cli_XXXXXX";
    struct run r;
    int fd = mkstemp(file);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "from\nfile", 9), 9);
    close(fd);
    char at[64];
    snprintf(at, sizeof(at), "@%s", file);

    fake_http_add(f, 200, "true");
    fake_http_add(f, 200, "false");
    fake_http_add(f, 200, "true");
    fake_http_add(f, 200, "true");
    fake_http_add(f, 500, "invalid session \"x\"\n");
    fake_http_add(f, 200, "true");
    fake_http_go(f);

    run_cli(&r, NULL, "kv", "put", ADDR_ARG(f, addr), "-flags", "42", "a b/c",
            "v1", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "Success! Data written to: a b/c\n");
    run_free(&r);
    fake_http_assert_request_line(f, 0, "PUT /v1/kv/a%20b/c?flags=42 HTTP/1.1");
    assert_string_equal(fake_http_body(f, 0), "v1");

    run_cli(&r, NULL, "kv", "put", ADDR_ARG(f, addr), "-cas", "-modify-index=5",
            "k", "v", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "Error! Did not write to k: CAS failed\n");
    run_free(&r);
    fake_http_assert_request_line(f, 1, "PUT /v1/kv/k?cas=5 HTTP/1.1");

    run_cli(&r, NULL, "kv", "put", ADDR_ARG(f, addr), "k", at, NULL);
    assert_int_equal(r.rc, 0);
    run_free(&r);
    assert_string_equal(fake_http_body(f, 2), "from\nfile");

    run_cli(&r, "piped\n", "kv", "put", ADDR_ARG(f, addr), "-base64=false", "k",
            "-", NULL);
    assert_int_equal(r.rc, 0);
    run_free(&r);
    assert_string_equal(fake_http_body(f, 3), "piped\n");

    run_cli(&r, NULL, "kv", "put", ADDR_ARG(f, addr), "-acquire", "-session=x",
            "k", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "Error! Failed writing data: Unexpected "
                        "response code: 500 (invalid session "
                        "\"x\")\n");
    run_free(&r);
    fake_http_assert_request_line(f, 4, "PUT /v1/kv/k?acquire=x HTTP/1.1");

    run_cli(&r, NULL, "kv", "put", ADDR_ARG(f, addr), "-base64", "bin",
            "AP8=", NULL);
    assert_int_equal(r.rc, 0);
    run_free(&r);
    assert_memory_equal(fake_http_body(f, 5), "\x00\xff", 2);
    fake_http_stop(f);
    unlink(file);

    /* Checked before any request. */
    run_cli(&r, NULL, "kv", "put", NULL);
    assert_string_equal(r.err, "Error! Missing KEY argument\n");
    run_free(&r);
    run_cli(&r, NULL, "kv", "put", "k", "@/nonexistent/x", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "Error! Failed to read file: open "
                        "/nonexistent/x: no such file or directory\n");
    run_free(&r);
    run_cli(&r, NULL, "kv", "put", "/k", "v", "-http-addr=127.0.0.1:1", NULL);
    assert_int_equal(r.rc, 1);
    run_free(&r);
}

static void kv_delete_variants(void **state)
{
    (void)state;
    struct fake_http *f = fake_http_start(NULL);
    char addr[64];
    struct run r;
    fake_http_add(f, 200, "true");
    fake_http_add(f, 200, "true");
    fake_http_add(f, 200, "false");
    fake_http_go(f);

    run_cli(&r, NULL, "kv", "delete", ADDR_ARG(f, addr), "k", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "Success! Deleted key: k\n");
    run_free(&r);
    fake_http_assert_request_line(f, 0, "DELETE /v1/kv/k HTTP/1.1");

    run_cli(&r, NULL, "kv", "delete", ADDR_ARG(f, addr), "-recurse", "p/",
            NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "Success! Deleted keys with prefix: p/\n");
    run_free(&r);
    fake_http_assert_request_line(f, 1, "DELETE /v1/kv/p/?recurse= HTTP/1.1");

    run_cli(&r, NULL, "kv", "delete", ADDR_ARG(f, addr), "-cas",
            "-modify-index", "3", "k", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "Error! Did not delete key k: CAS failed\n");
    run_free(&r);
    fake_http_assert_request_line(f, 2, "DELETE /v1/kv/k?cas=3 HTTP/1.1");
    fake_http_stop(f);

    run_cli(&r, NULL, "kv", "delete", "-recurse", "-cas", "-modify-index=1",
            "k", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "Cannot specify both -cas and -recurse!\n");
    run_free(&r);
    run_cli(&r, NULL, "kv", "delete", NULL);
    assert_string_equal(r.err, "Error! Missing KEY argument\n");
    run_free(&r);
}

static void kv_export_then_import(void **state)
{
    (void)state;
    struct fake_http *f = fake_http_start(NULL);
    char addr[64];
    struct run r;
    fake_http_add(
        f, 200,
        "[{\"Key\":\"a\",\"Flags\":7,\"Value\":\"eA==\",\"LockIndex\":0,"
        "\"CreateIndex\":1,\"ModifyIndex\":1}]");
    fake_http_add(f, 200, "true");
    fake_http_add(f, 200, "true");
    fake_http_go(f);

    run_cli(&r, NULL, "kv", "export", ADDR_ARG(f, addr), NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out,
                        "[\n\t{\n\t\t\"key\": \"a\",\n\t\t\"flags\": "
                        "7,\n\t\t\"value\": \"eA==\"\n\t}\n]\n");
    run_free(&r);
    fake_http_assert_request_line(f, 0, "GET /v1/kv/?recurse= HTTP/1.1");

    run_cli(&r,
            "[{\"key\":\"a\",\"flags\":7,\"value\":\"eA==\"},"
            "{\"Key\":\"d/\",\"Flags\":0,\"Value\":\"\"}]",
            "kv", "import", ADDR_ARG(f, addr), "-", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "Imported: a\nImported: d/\n");
    run_free(&r);
    fake_http_assert_request_line(f, 1, "PUT /v1/kv/a?flags=7 HTTP/1.1");
    assert_string_equal(fake_http_body(f, 1), "x");
    fake_http_assert_request_line(f, 2, "PUT /v1/kv/d/ HTTP/1.1");
    fake_http_stop(f);

    run_cli(&r, NULL, "kv", "import", "-http-addr=127.0.0.1:1", "{bad", NULL);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "Cannot unmarshal data: "));
    run_free(&r);
    run_cli(&r, NULL, "kv", "import", NULL);
    assert_string_equal(r.err, "Error! Missing DATA argument\n");
    run_free(&r);
}

static void members_and_reload(void **state)
{
    (void)state;
    struct fake_http *f = fake_http_start(NULL);
    char addr[64];
    struct run r;
    fake_http_add(f, 200, members_json);
    fake_http_add(f, 200, NULL);
    fake_http_add(f, 500, "reload failed: bad config\n");
    fake_http_go(f);

    run_cli(&r, NULL, "members", ADDR_ARG(f, addr), "-status=alive", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(
        r.out,
        "Node  Address        Status  Type    Build   Protocol  DC   "
        "Partition  Segment\n"
        "srv1  [::1]:8301     alive   server  0.1.0   2         dc1  "
        "default    <all>\n"
        "web1  10.0.0.7:8301  alive   client  1.16.0  2         dc1  "
        "default    <default>\n");
    run_free(&r);
    fake_http_assert_request_line(f, 0, "GET /v1/agent/members HTTP/1.1");

    run_cli(&r, NULL, "reload", ADDR_ARG(f, addr), NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "Configuration reload triggered\n");
    run_free(&r);
    fake_http_assert_request_line(f, 1, "PUT /v1/agent/reload HTTP/1.1");

    run_cli(&r, NULL, "reload", ADDR_ARG(f, addr), NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "Error reloading: Unexpected response code: "
                        "500 (reload failed: bad config)\n");
    run_free(&r);
    fake_http_stop(f);
}

static void address_comes_from_flag_then_env(void **state)
{
    (void)state;
    struct fake_http *f = fake_http_start(NULL);
    char addr[64];
    struct run r;
    fake_http_add(f, 200, "[\"k\"]");
    fake_http_go(f);

    snprintf(addr, sizeof(addr), "http://127.0.0.1:%d", fake_http_port(f));
    setenv("CAIRN_HTTP_ADDR", addr, 1);
    setenv("CONSUL_HTTP_ADDR", "127.0.0.1:1", 1);
    setenv("CONSUL_HTTP_TOKEN", "envtok", 1);
    run_cli(&r, NULL, "kv", "get", "-keys", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "k\n");
    run_free(&r);
    assert_non_null(
        strstr(fake_http_request(f, 0), "\r\nX-Consul-Token: envtok\r\n"));
    fake_http_stop(f);

    /* CAIRN_HTTP_ADDR beats CONSUL_HTTP_ADDR; the flag beats both. */
    unsetenv("CAIRN_HTTP_ADDR");
    run_cli(&r, NULL, "reload", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "Error reloading: Put "
                        "\"http://127.0.0.1:1/v1/agent/reload\": dial tcp "
                        "127.0.0.1:1: connect: connection refused\n");
    run_free(&r);
    run_cli(&r, NULL, "kv", "get", "-http-addr", "127.0.0.1:2", "x", NULL);
    assert_string_equal(r.err,
                        "Error querying Consul agent: Get "
                        "\"http://127.0.0.1:2/v1/kv/x\": dial tcp "
                        "127.0.0.1:2: connect: connection refused\n");
    run_free(&r);
    unsetenv("CONSUL_HTTP_ADDR");
    unsetenv("CONSUL_HTTP_TOKEN");

    run_cli(&r, NULL, "kv", "get", "-http-addr=https://x:8501", "x", NULL);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err,
                           "Error connecting to Consul agent: HTTPS "
                           "is not supported yet"));
    run_free(&r);
    run_cli(&r, NULL, "members", "-http-addr=unix:///tmp/s", NULL);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "unix sockets are not supported yet"));
    run_free(&r);
}

/* The command list after `header` in `text`, up to a blank line, laid out
 * as Consul's (mitchellh/cli): four spaces, the name padded to the longest
 * name, four spaces, the synopsis, so every synopsis starts in one column.
 * Each name in `want` (NULL-terminated) must be listed. */
static void assert_command_column(const char *text,
                                  const char *header,
                                  const char *const *want)
{
    const char *p = strstr(text, header);
    if (p == NULL)
        fail_msg("no \"%s\" in:\n%s", header, text);
    p += strlen(header);

    size_t longest = 0, col = 0;
    int rows = 0;
    for (const char *line = p; *line != '\n' && *line != '\0'; rows++) {
        const char *eol = strchr(line, '\n');
        assert_non_null(eol);
        if (strncmp(line, "    ", 4) != 0 || line[4] == ' ')
            fail_msg("row not indented by four spaces: \"%.*s\"",
                     (int)(eol - line), line);
        size_t name = strcspn(line + 4, " \n");
        size_t syn = 4 + name + strspn(line + 4 + name, " ");
        if (syn >= (size_t)(eol - line))
            fail_msg("row without a synopsis: \"%.*s\"", (int)(eol - line),
                     line);
        if (rows > 0 && syn != col)
            fail_msg("synopsis at column %zu, not %zu: \"%.*s\"", syn, col,
                     (int)(eol - line), line);
        col = syn;
        if (name > longest)
            longest = name;
        line = eol + 1;
    }
    assert_true(rows > 0);
    /* the longest name is followed by exactly four spaces */
    assert_int_equal(col, 4 + longest + 4);
    for (; *want != NULL; want++) {
        char needle[64];
        snprintf(needle, sizeof(needle), "\n    %s ", *want);
        if (strstr(p - 1, needle) == NULL)
            fail_msg("command %s not listed", *want);
    }
}

static void help_lists_commands_in_one_aligned_column(void **state)
{
    (void)state;
    struct run r;
    static const char *const top[] = {
        "agent", "help",    "kv",       "catalog", "force-leave",
        "join",  "members", "services", "version", NULL};
    static const char *const kv[] = {"get",    "put",    "delete",
                                     "export", "import", NULL};

    run_cli(&r, NULL, "help", NULL);
    assert_int_equal(r.rc, 0);
    assert_command_column(r.out, "\nAvailable commands are:\n", top);
    run_free(&r);

    /* the usage printed on a mistake is the same list */
    run_cli(&r, NULL, "nope", NULL);
    assert_int_equal(r.rc, 1);
    assert_command_column(r.err, "\nAvailable commands are:\n", top);
    run_free(&r);

    run_cli(&r, NULL, "kv", "-h", NULL);
    assert_int_equal(r.rc, 0);
    assert_command_column(r.out, "\nSubcommands:\n", kv);
    run_free(&r);
}

static void help_usage_and_version(void **state)
{
    (void)state;
    struct run r;

    run_cli(&r, NULL, "-h", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "Usage: cairn"));
    assert_non_null(strstr(r.out, "members"));
    assert_string_equal(r.err, "");
    run_free(&r);

    run_cli(&r, NULL, "help", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "kv "));
    run_free(&r);

    run_cli(&r, NULL, "kv", "get", "-recurse", "-h", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "Usage: cairn kv get"));
    assert_non_null(strstr(r.out, "  -separator=<value>\n"));
    assert_non_null(strstr(r.out, "  -http-addr=<address>\n"));
    run_free(&r);

    run_cli(&r, NULL, "help", "kv", "put", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "  -modify-index=<value>\n"));
    run_free(&r);

    run_cli(&r, NULL, "nope", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_non_null(strstr(r.err, "Usage: cairn"));
    run_free(&r);

    run_cli(&r, NULL, "kv", NULL);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "Subcommands:"));
    run_free(&r);

    run_cli(&r, NULL, NULL);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "Usage: cairn"));
    run_free(&r);

    run_cli(&r, NULL, "members", "-bogus", NULL);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "flag provided but not defined: -bogus\n"));
    run_free(&r);

    run_cli(&r, NULL, "version", NULL);
    assert_int_equal(r.rc, 0);
    assert_true(strncmp(r.out, "cairn v", 7) == 0);
    assert_non_null(strstr(r.out, "\nConsul API compatibility: "));
    assert_non_null(strstr(r.out, "\nProtocol 2 spoken by default"));
    run_free(&r);
    run_cli(&r, NULL, "--version", NULL);
    assert_true(strncmp(r.out, "cairn v", 7) == 0);
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flags_follow_go_flag_package),
        cmocka_unit_test(u64_values_parse_like_strconv),
        cmocka_unit_test(help_flag_found_anywhere_before_double_dash),
        cmocka_unit_test(kv_detailed_block_matches_consul),
        cmocka_unit_test(kv_pair_decode_reads_agent_json),
        cmocka_unit_test(kv_export_json_matches_consul),
        cmocka_unit_test(columnize_pads_all_but_last_column),
        cmocka_unit_test(members_table_matches_consul),
        cmocka_unit_test(kv_get_prints_value_and_sends_token_and_dc),
        cmocka_unit_test(kv_get_recurse_keys_and_detailed),
        cmocka_unit_test(kv_put_writes_body_flags_and_cas),
        cmocka_unit_test(kv_delete_variants),
        cmocka_unit_test(kv_export_then_import),
        cmocka_unit_test(members_and_reload),
        cmocka_unit_test(address_comes_from_flag_then_env),
        cmocka_unit_test(help_usage_and_version),
        cmocka_unit_test(help_lists_commands_in_one_aligned_column),
    };
    /* The CLI must not see the developer's environment. */
    unsetenv("CAIRN_HTTP_ADDR");
    unsetenv("CONSUL_HTTP_ADDR");
    unsetenv("CONSUL_HTTP_TOKEN");
    unsetenv("CAIRN_HTTP_TOKEN");
    unsetenv("CONSUL_HTTP_TOKEN_FILE");
    unsetenv("CONSUL_HTTP_SSL");
    unsetenv("CONSUL_HTTP_AUTH");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
