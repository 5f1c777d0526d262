/*
 * test_cli_catalog — `cairn services`, `cairn catalog` and `cairn maint`
 * without an agent: repeated-flag parsing, service definition files (JSON
 * and YAML), the table formatters byte for byte against what Consul
 * prints, and whole commands through cli_main against a fake HTTP server
 * on an ephemeral 127.0.0.1 port that records requests and replays canned
 * answers (tests/unit/fake_http.h).
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

/* A temporary file holding `text`; path in buf. */
static const char *tmp_file(char *buf,
                            size_t n,
                            const char *suffix,
                            const char *text)
{
    snprintf(buf, n, "/tmp/cairn-test-cli-catalog-XXXXXX%s", suffix);
    int fd = mkstemps(buf, (int)strlen(suffix));
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return buf;
}

static char *dump(json_object *o)
{
    return json_dump_indent(o, NULL, NULL);
}

/* ------------------------------------------------------ repeated flags */

static void multi_flags_are_taken_out_like_go_flags(void **state)
{
    (void)state;
    const char *s = NULL;
    bool b = false;
    const struct cli_flag fl[] = {
        {"name", CLI_FLAG_STRING, &s, NULL, ""},
        {"detailed", CLI_FLAG_BOOL, &b, NULL, ""},
    };
    struct cli_multi m[] = {{.name = "tag"}, {.name = "meta", .is_map = true}};
    char err[256];

    char *a1[] = {"-name",       "web",       "-tag",   "a", "--tag=b",
                  "-meta=k=v=w", "-detailed", "-token", "t", "-meta",
                  "x=",          "file",      "-tag=c"};
    int argc = 13;
    assert_int_equal(cli__multi_take(fl, 2, m, 2, &argc, a1, err, sizeof(err)),
                     0);
    assert_int_equal(argc, 7);
    assert_string_equal(a1[0], "-name");
    assert_string_equal(a1[1], "web");
    assert_string_equal(a1[2], "-detailed");
    assert_string_equal(a1[3], "-token");
    assert_string_equal(a1[4], "t");
    assert_string_equal(a1[5], "file");
    assert_string_equal(a1[6], "-tag=c"); /* after a positional: kept */
    assert_int_equal(m[0].n, 2);
    assert_string_equal(m[0].vals[0], "a");
    assert_string_equal(m[0].vals[1], "b");
    assert_int_equal(m[1].n, 2);
    assert_string_equal(m[1].vals[0], "k=v=w");
    assert_string_equal(m[1].vals[1], "x=");

    /* "--" and unknown flags stop the pre-pass; cli__parse handles them */
    char *a2[] = {"-tag=a", "--", "-tag=b"};
    argc = 3;
    assert_int_equal(cli__multi_take(fl, 2, m, 2, &argc, a2, err, sizeof(err)),
                     0);
    assert_int_equal(argc, 2);
    assert_int_equal(m[0].n, 1);
    char *a3[] = {"-bogus", "-tag=a"};
    argc = 2;
    assert_int_equal(cli__multi_take(fl, 2, m, 2, &argc, a3, err, sizeof(err)),
                     0);
    assert_int_equal(argc, 2);
    assert_int_equal(m[0].n, 0);
    /* a string flag's value that looks like a flag is its value */
    char *a4[] = {"-name", "-tag", "-tag", "x"};
    argc = 4;
    assert_int_equal(cli__multi_take(fl, 2, m, 2, &argc, a4, err, sizeof(err)),
                     0);
    assert_int_equal(argc, 2);
    assert_int_equal(m[0].n, 1);
    assert_string_equal(m[0].vals[0], "x");

    char *b1[] = {"-tag"};
    argc = 1;
    assert_int_equal(cli__multi_take(fl, 2, m, 2, &argc, b1, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "flag needs an argument: -tag");
    char *b2[] = {"-meta", "novalue"};
    argc = 2;
    assert_int_equal(cli__multi_take(fl, 2, m, 2, &argc, b2, err, sizeof(err)),
                     -1);
    assert_string_equal(err,
                        "invalid value \"novalue\" for flag -meta: Missing "
                        "\"=\" value in argument: novalue");
}

/* ---------------------------------------------------- definition files */

static void service_files_json_and_yaml(void **state)
{
    (void)state;
    json_object *a;
    char err[512];
    char *s;

    const char *j1 = " {\"service\": {\"name\": \"web\", \"port\": 80}}";
    assert_int_equal(
        cli__services_parse(j1, strlen(j1), "w.json", &a, err, sizeof(err)), 0);
    s = dump(a);
    assert_string_equal(s, "[{\"name\":\"web\",\"port\":80}]");
    free(s);
    json_object_put(a);

    const char *j2 =
        "{\"Services\": [{\"Name\": \"a\"}, {\"ID\": \"b1\", \"Name\": "
        "\"b\"}], \"Service\": {\"name\": \"c\"}, \"log_level\": \"info\"}";
    assert_int_equal(
        cli__services_parse(j2, strlen(j2), "x.json", &a, err, sizeof(err)), 0);
    s = dump(a);
    assert_string_equal(s,
                        "[{\"Name\":\"a\"},{\"ID\":\"b1\",\"Name\":\"b\"},"
                        "{\"name\":\"c\"}]");
    free(s);
    json_object_put(a);

    const char *y =
        "# agent config\n"
        "log_level: info\n"
        "services:\n"
        "  - name: web\n"
        "    id: web-1\n"
        "    port: 8080\n"
        "    address: \"10.0.0.1\"\n"
        "    enable_tag_override: true\n"
        "    tags: [v1, 2, true]\n"
        "    meta:\n"
        "      version: 1.10\n"
        "      empty: ''\n"
        "    weights: {passing: 3, warning: 1}\n"
        "    check:\n"
        "      args: [/bin/true, 1]\n"
        "      interval: 10s\n"
        "      timeout: 1.5\n"
        "      notes: ~\n"
        "  - name: db\n";
    assert_int_equal(
        cli__services_parse(y, strlen(y), "svc.yaml", &a, err, sizeof(err)), 0);
    s = dump(a);
    assert_string_equal(
        s,
        "[{\"name\":\"web\",\"id\":\"web-1\",\"port\":8080,\"address\":"
        "\"10.0.0.1\",\"enable_tag_override\":true,\"tags\":[\"v1\",\"2\","
        "\"true\"],\"meta\":{\"version\":\"1.10\",\"empty\":\"\"},"
        "\"weights\":{\"passing\":3,\"warning\":1},\"check\":{\"args\":["
        "\"/bin/true\",\"1\"],\"interval\":\"10s\",\"timeout\":1.5,"
        "\"notes\":null}},{\"name\":\"db\"}]");
    free(s);
    json_object_put(a);

    const char *y2 = "service:\n  name: one\n  port: -1\n";
    assert_int_equal(
        cli__services_parse(y2, strlen(y2), "one.yml", &a, err, sizeof(err)),
        0);
    s = dump(a);
    assert_string_equal(s, "[{\"name\":\"one\",\"port\":-1}]");
    free(s);
    json_object_put(a);

    static const struct
    {
        const char *text;
        const char *err;
    } bad[] = {
        {"{\"service\": {\"name\": \"web\"}", "failed to parse f: "},
        {"{\"service\": 1}", "f: service: expected a service definition"},
        {"{\"services\": [1]}",
         "f: services: expected a service definition (an object) in the "
         "list"},
        {"{\"log_level\": \"x\"}",
         "f: no service definition (expected a \"service\" or \"services\" "
         "key)"},
        {"[1]", "failed to parse f: the top level must be an object"},
        {"", "failed to parse f: the document is empty"},
        {"null", "failed to parse f: the document is empty"},
        {"services:\n  - name: a\n   bad: [\n",
         "failed to parse f: did not find expected '-' indicator at line 3, "
         "column 4"},
        {"services: [a, b]",
         "f: services: expected a service definition (an object) in the "
         "list"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        a = (json_object *)1;
        int rc = cli__services_parse(bad[i].text, strlen(bad[i].text), "f", &a,
                                     err, sizeof(err));
        if (rc != -EINVAL || a != NULL ||
            strncmp(err, bad[i].err, strlen(bad[i].err)) != 0)
            fail_msg("case %zu: rc %d, err \"%s\", want prefix \"%s\"", i, rc,
                     err, bad[i].err);
    }
}

/* ---------------------------------------------------------- formatters */

static void catalog_nodes_table_matches_consul(void **state)
{
    (void)state;
    const char *nodes =
        "[{\"ID\":\"5a1b2c3d-aaaa-bbbb-cccc-000000000001\",\"Node\":\"alpha\","
        "\"Address\":\"127.0.0.1\",\"Datacenter\":\"dc1\","
        "\"TaggedAddresses\":{\"wan\":\"1.2.3.4\",\"lan\":\"127.0.0.1\"},"
        "\"Meta\":{\"rack\":\"r1\",\"consul-network-segment\":\"\"},"
        "\"CreateIndex\":5,\"ModifyIndex\":6},"
        "{\"ID\":\"\",\"Node\":\"b\",\"Address\":\"10.0.0.22\","
        "\"Datacenter\":\"dc1\",\"TaggedAddresses\":null,\"Meta\":null}]";
    json_object *j = json_parse(nodes, strlen(nodes), NULL, 0);
    char *s = cli__catalog_nodes_format(j, false);
    assert_string_equal(s,
                        "Node   ID        Address    DC\n"
                        "alpha  5a1b2c3d  127.0.0.1  dc1\n"
                        "b                10.0.0.22  dc1");
    free(s);
    s = cli__catalog_nodes_format(j, true);
    assert_string_equal(
        s,
        "Node   ID                                    Address    DC   "
        "TaggedAddresses             Meta\n"
        "alpha  5a1b2c3d-aaaa-bbbb-cccc-000000000001  127.0.0.1  dc1  "
        "lan=127.0.0.1, wan=1.2.3.4  consul-network-segment=, rack=r1\n"
        /* columnize pads every cell but the last, empty ones too */
        "b                                            10.0.0.22  dc1  "
        "                            ");
    free(s);
    json_object_put(j);

    /* -service: CatalogService entries, node metadata in NodeMeta */
    const char *svcs =
        "[{\"ID\":\"abc-1\",\"Node\":\"n1\",\"Address\":\"127.0.0.1\","
        "\"Datacenter\":\"dc1\",\"TaggedAddresses\":{},\"NodeMeta\":"
        "{\"k\":\"v\"},\"ServiceID\":\"web\"}]";
    j = json_parse(svcs, strlen(svcs), NULL, 0);
    s = cli__catalog_nodes_format(j, true);
    assert_string_equal(s,
                        "Node  ID     Address    DC   TaggedAddresses  Meta\n"
                        "n1    abc-1  127.0.0.1  dc1                   k=v");
    free(s);
    json_object_put(j);
}

static void catalog_services_output_matches_consul(void **state)
{
    (void)state;
    const char *m =
        "{\"web\":[\"v2\",\"v1\"],\"consul\":[],"
        "\"a-long-name\":[\"x\"],\"db\":[\"primary\"]}";
    json_object *j = json_parse(m, strlen(m), NULL, 0);
    char *s = cli__catalog_services_format(j, false);
    assert_string_equal(s, "a-long-name\nconsul\ndb\nweb\n");
    free(s);
    /* tabwriter padding 6 after the widest name (11); a tagless service
     * in the middle keeps its padding, only the end is trimmed */
    s = cli__catalog_services_format(j, true);
    assert_string_equal(s,
                        "a-long-name      x\n"
                        "consul           \n"
                        "db               primary\n"
                        "web              v1,v2\n");
    free(s);
    json_object_put(j);

    const char *one = "{\"consul\":[]}";
    j = json_parse(one, strlen(one), NULL, 0);
    s = cli__catalog_services_format(j, true);
    assert_string_equal(s, "consul\n");
    free(s);
    json_object_put(j);

    const char *node =
        "{\"Node\":{\"Node\":\"n1\"},\"Services\":{"
        "\"web-1\":{\"ID\":\"web-1\",\"Service\":\"web\",\"Tags\":[\"b\"]},"
        "\"web-2\":{\"ID\":\"web-2\",\"Service\":\"web\",\"Tags\":[\"a\"]},"
        "\"db\":{\"ID\":\"db\",\"Service\":\"db\",\"Tags\":[]}}}";
    j = json_parse(node, strlen(node), NULL, 0);
    json_object *ns = cli__catalog_node_services(j);
    s = cli__catalog_services_format(ns, true);
    assert_string_equal(s, "db       \nweb      a,b\n");
    free(s);
    json_object_put(ns);
    json_object_put(j);
}

static void maint_listing_matches_consul(void **state)
{
    (void)state;
    const char *checks =
        "{\"_service_maintenance:web\":{\"CheckID\":\"_service_maintenance:"
        "web\",\"ServiceID\":\"web\",\"Notes\":\"deploy\",\"Status\":"
        "\"critical\"},"
        "\"serfHealth\":{\"CheckID\":\"serfHealth\",\"Notes\":\"\"},"
        "\"_node_maintenance\":{\"CheckID\":\"_node_maintenance\","
        "\"Notes\":\"Maintenance mode is enabled for this node, but no "
        "reason was provided. This is a default message.\"},"
        "\"_service_maintenance:api\":{\"CheckID\":\"_service_maintenance:"
        "api\",\"ServiceID\":\"api\",\"Notes\":\"\"}}";
    json_object *j = json_parse(checks, strlen(checks), NULL, 0);
    char *s = cli__maint_format(j, "node-1");
    assert_string_equal(
        s,
        "Node:\n"
        "  Name:   node-1\n"
        "  Reason: Maintenance mode is enabled for this node, but no reason "
        "was provided. This is a default message.\n"
        "\n"
        "Service:\n"
        "  ID:     api\n"
        "  Reason: \n"
        "\n"
        "Service:\n"
        "  ID:     web\n"
        "  Reason: deploy\n"
        "\n");
    free(s);
    json_object_put(j);
    s = cli__maint_format(NULL, "n");
    assert_string_equal(s, "");
    free(s);
}

/* ------------------------------------------------------------ commands */

static void services_register_from_flags(void **state)
{
    (void)state;
    struct fake_http *f = fake_http_start("X-Consul-Index: 7\r\n");
    char addr[64];
    struct run r;
    fake_http_add(f, 200, NULL);
    fake_http_add(f, 400, "Invalid Service Meta: Key names reserved\n");
    fake_http_go(f);

    run_cli(&r, NULL, "services", "register", ADDR_ARG(f, addr), "-name=web", "-id",
            "web-1", "-port=8080", "-address=10.0.0.5", "-tag=v1", "-tag",
            "primary", "-meta=version=2", "-meta", "a=b=c", "-meta=version=3",
            "-tagged-address=wan=1.2.3.4:80", NULL);
    assert_string_equal(r.err, "");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "Registered service: web\n");
    run_free(&r);
    fake_http_assert_request_line(f, 0,
                                  "PUT /v1/agent/service/register HTTP/1.1");
    assert_string_equal(
        fake_http_body(f, 0),
        "{\"ID\":\"web-1\",\"Name\":\"web\",\"Tags\":[\"v1\",\"primary\"],"
        "\"Port\":8080,\"Address\":\"10.0.0.5\",\"TaggedAddresses\":{"
        "\"wan\":{\"Address\":\"1.2.3.4\",\"Port\":80}},\"Meta\":{\"a\":"
        "\"b=c\",\"version\":\"3\"}}");

    run_cli(&r, NULL, "services", "register", ADDR_ARG(f, addr), "-name=x",
            "-meta=consul-x=1", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err,
                        "Error registering service \"x\": Unexpected response "
                        "code: 400 (Invalid Service Meta: Key names "
                        "reserved)\n");
    run_free(&r);
    fake_http_stop(f);

    /* argument validation happens before any request */
    run_cli(&r, NULL, "services", "register", "-http-addr=127.0.0.1:1", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "Service registration requires at least one "
                        "argument or flags.\n");
    run_free(&r);
    run_cli(&r, NULL, "services", "register", "-http-addr=127.0.0.1:1", "-name=a",
            "file.json", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "Service registration requires arguments or "
                        "-id, not both.\n");
    run_free(&r);
    run_cli(&r, NULL, "services", "register", "-name=a", "-meta=nokey", NULL);
    assert_int_equal(r.rc, 1);
    assert_true(strncmp(r.err,
                        "invalid value \"nokey\" for flag -meta: Missing "
                        "\"=\" value in argument: nokey\nUsage: cairn services "
                        "register",
                        103) == 0);
    run_free(&r);
    run_cli(&r, NULL, "services", "register", "-name=a", "-tagged-address=lan=x",
            NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "Invalid Tagged Address: address x: missing "
                        "port in address\n");
    run_free(&r);
    run_cli(&r, NULL, "services", "register", "-name=a", "-port=http", NULL);
    assert_int_equal(r.rc, 1);
    assert_non_null(
        strstr(r.err, "invalid value \"http\" for flag -port: parse error\n"));
    run_free(&r);
    run_cli(&r, NULL, "services", "register", "/nonexistent/web.json", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "Error: open /nonexistent/web.json: no such "
                        "file or directory\n");
    run_free(&r);
    run_cli(&r, NULL, "services", "register", "-h", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "Usage: cairn services register"));
    assert_non_null(strstr(r.out, "  -tag=<value>\n"));
    assert_non_null(strstr(r.out, "  -meta=<key=value>\n"));
    run_free(&r);
}

static void services_register_from_files(void **state)
{
    (void)state;
    struct fake_http *f = fake_http_start("X-Consul-Index: 7\r\n");
    char addr[64], p1[128], p2[128];
    struct run r;
    for (int i = 0; i < 3; i++)
        fake_http_add(f, 200, NULL);
    fake_http_go(f);

    tmp_file(p1, sizeof(p1), ".json",
             "{\"service\": {\"name\": \"web\", \"Port\": 0, \"Meta\": "
             "{\"a\": \"1\"}, \"tags\": [\"t1\"], \"check\": {\"ttl\": "
             "\"30s\"}}}");
    tmp_file(p2, sizeof(p2), ".yaml",
             "services:\n"
             "  - name: db\n"
             "    id: db-1\n"
             "    port: 5432\n"
             "  - name: cache\n"
             "    socket_path: /run/cache.sock\n");
    /* flags fill what the files leave out (Consul's CombineArgs) */
    run_cli(&r, NULL, "services", "register", ADDR_ARG(f, addr), "-id=override",
            "-port=99", "-tag=t2", "-meta=b=2", "-socket=/s", p1, p2, NULL);
    assert_string_equal(r.err, "");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out,
                        "Registered service: web\n"
                        "Registered service: db\n"
                        "Registered service: cache\n");
    run_free(&r);
    for (int i = 0; i < 3; i++)
        fake_http_assert_request_line(
            f, i, "PUT /v1/agent/service/register HTTP/1.1");
    assert_string_equal(
        fake_http_body(f, 0),
        "{\"name\":\"web\",\"Port\":99,\"Meta\":{\"a\":\"1\",\"b\":\"2\"},"
        "\"tags\":[\"t1\",\"t2\"],\"check\":{\"ttl\":\"30s\"},\"ID\":"
        "\"override\",\"SocketPath\":\"/s\"}");
    assert_string_equal(fake_http_body(f, 1),
                        "{\"name\":\"db\",\"id\":\"db-1\",\"port\":5432,"
                        "\"SocketPath\":\"/s\",\"Meta\":{\"b\":\"2\"},"
                        "\"Tags\":[\"t2\"]}");
    assert_string_equal(fake_http_body(f, 2),
                        "{\"name\":\"cache\",\"socket_path\":\"/run/"
                        "cache.sock\",\"ID\":\"override\",\"Port\":99,"
                        "\"Meta\":{\"b\":\"2\"},\"Tags\":[\"t2\"]}");
    fake_http_stop(f);

    unlink(p1);
    tmp_file(p1, sizeof(p1), ".json", "{\"services\": [{\"name\": ");
    run_cli(&r, NULL, "services", "register", p1, NULL);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "Error: failed to parse "));
    run_free(&r);
    unlink(p1);
    unlink(p2);
}

static void services_deregister_ids_and_files(void **state)
{
    (void)state;
    struct fake_http *f = fake_http_start("X-Consul-Index: 7\r\n");
    char addr[64], p[128];
    struct run r;
    for (int i = 0; i < 5; i++)
        fake_http_add(f, 200, NULL);
    fake_http_add(f, 500, "boom");
    fake_http_go(f);

    run_cli(&r, NULL, "services", "deregister", ADDR_ARG(f, addr), "-id=web 1", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "Deregistered service: web 1\n");
    run_free(&r);
    fake_http_assert_request_line(
        f, 0, "PUT /v1/agent/service/deregister/web%201 HTTP/1.1");

    tmp_file(p, sizeof(p), ".yaml",
             "services:\n  - name: a\n  - name: b\n    id: b-2\n");
    run_cli(&r, NULL, "services", "deregister", ADDR_ARG(f, addr), "db", p, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out,
                        "Deregistered service: db\n"
                        "Deregistered service: a\n"
                        "Deregistered service: b-2\n");
    run_free(&r);
    fake_http_assert_request_line(
        f, 1, "PUT /v1/agent/service/deregister/db HTTP/1.1");
    fake_http_assert_request_line(
        f, 2, "PUT /v1/agent/service/deregister/a HTTP/1.1");
    fake_http_assert_request_line(
        f, 3, "PUT /v1/agent/service/deregister/b-2 HTTP/1.1");
    unlink(p);

    run_cli(&r, NULL, "services", "deregister", ADDR_ARG(f, addr), "x", "y", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "Deregistered service: x\n");
    assert_string_equal(r.err,
                        "Error deregistering service \"y\": Unexpected "
                        "response code: 500 (boom)\n");
    run_free(&r);
    fake_http_stop(f);

    run_cli(&r, NULL, "services", "deregister", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "Service deregistration requires at least one "
                        "argument or -id.\n");
    run_free(&r);
    run_cli(&r, NULL, "services", "deregister", "-id=a", "b", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "Service deregistration requires arguments or "
                        "-id, not both.\n");
    run_free(&r);
    run_cli(&r, NULL, "services", "deregister", "missing.json", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "Error: open missing.json: no such file or "
                        "directory\n");
    run_free(&r);
}

static void catalog_commands(void **state)
{
    (void)state;
    struct fake_http *f = fake_http_start("X-Consul-Index: 7\r\n");
    char addr[64];
    struct run r;
    fake_http_add(f, 200, "[\"dc1\",\"dc2\"]");
    fake_http_add(f, 200,
                  "[{\"ID\":\"11111111-2222\",\"Node\":\"n1\",\"Address\":"
                  "\"127.0.0.1\",\"Datacenter\":\"dc1\"}]");
    fake_http_add(f, 200, "[]");
    fake_http_add(f, 200, "{\"consul\":[],\"web\":[\"b\",\"a\"]}");
    fake_http_add(f, 200, "null");
    fake_http_add(
        f, 200,
        "{\"Node\":{\"Node\":\"n1\"},\"Services\":{\"w\":{\"ID\":\"w\","
        "\"Service\":\"web\",\"Tags\":[\"x\"]}}}");
    fake_http_add(f, 500, "No path to datacenter");
    fake_http_add(f, 400, "Failed to create boolean expression evaluator");
    fake_http_go(f);

    run_cli(&r, NULL, "catalog", "datacenters", ADDR_ARG(f, addr), NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "dc1\ndc2\n");
    run_free(&r);
    fake_http_assert_request_line(f, 0, "GET /v1/catalog/datacenters HTTP/1.1");

    run_cli(&r, NULL, "catalog", "nodes", ADDR_ARG(f, addr), "-node-meta=rack=r 1",
            "-filter", "Meta.rack == r1", "-node-meta", "a=b", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out,
                        "Node  ID        Address    DC\n"
                        "n1    11111111  127.0.0.1  dc1\n");
    run_free(&r);
    fake_http_assert_request_line(
        f, 1,
        "GET /v1/catalog/nodes?filter=Meta.rack%20%3D%3D%20r1"
        "&node-meta=a%3Ab&node-meta=rack%3Ar%201 HTTP/1.1");

    run_cli(&r, NULL, "catalog", "nodes", ADDR_ARG(f, addr), "-service=web",
            "-near=_agent", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err,
                        "No nodes match the given query - try "
                        "expanding your search.\n");
    run_free(&r);
    fake_http_assert_request_line(
        f, 2, "GET /v1/catalog/service/web?near=_agent HTTP/1.1");

    run_cli(&r, NULL, "catalog", "services", ADDR_ARG(f, addr), "-tags", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "consul      \nweb         a,b\n");
    run_free(&r);
    fake_http_assert_request_line(f, 3, "GET /v1/catalog/services HTTP/1.1");

    run_cli(&r, NULL, "catalog", "services", ADDR_ARG(f, addr), "-node=ghost", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.err,
                        "No services match the given query - try "
                        "expanding your search.\n");
    run_free(&r);
    fake_http_assert_request_line(f, 4, "GET /v1/catalog/node/ghost HTTP/1.1");

    run_cli(&r, NULL, "catalog", "services", ADDR_ARG(f, addr), "-node", "n1",
            "-node-meta=k=v", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "web\n");
    run_free(&r);
    fake_http_assert_request_line(f, 5,
                                  "GET /v1/catalog/node/n1?node-meta=k%3Av "
                                  "HTTP/1.1");

    run_cli(&r, NULL, "catalog", "datacenters", ADDR_ARG(f, addr), NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "Error listing datacenters: Unexpected "
                        "response code: 500 (No path to "
                        "datacenter)\n");
    run_free(&r);

    run_cli(&r, NULL, "catalog", "nodes", ADDR_ARG(f, addr), "-filter=bad ==", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "Error listing nodes: Unexpected response "
                        "code: 400 (Failed to create boolean "
                        "expression evaluator)\n");
    run_free(&r);
    fake_http_stop(f);

    run_cli(&r, NULL, "catalog", "nodes", "extra", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "Too many arguments (expected 0, got 1)\n");
    run_free(&r);
    run_cli(&r, NULL, "catalog", "services", "-http-addr=127.0.0.1:1", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "Error listing services: Get "
                        "\"http://127.0.0.1:1/v1/catalog/services\": dial "
                        "tcp 127.0.0.1:1: connect: connection refused\n");
    run_free(&r);
    run_cli(&r, NULL, "catalog", NULL);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "Subcommands:\n"));
    assert_non_null(strstr(r.err, "    nodes "));
    run_free(&r);
    run_cli(&r, NULL, "catalog", "-h", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "Usage: cairn catalog <subcommand>"));
    run_free(&r);
    run_cli(&r, NULL, "catalog", "bogus", NULL);
    assert_int_equal(r.rc, 1);
    assert_true(strncmp(r.err, "Unknown command: catalog bogus\n", 31) == 0);
    run_free(&r);
    run_cli(&r, NULL, "help", "services", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "    register "));
    run_free(&r);
    run_cli(&r, NULL, "catalog", "services", "-h", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "Usage: cairn catalog services [options]"));
    assert_non_null(strstr(r.out, "  -node-meta=<key=value>\n"));
    run_free(&r);
}

static void maint_commands(void **state)
{
    (void)state;
    struct fake_http *f = fake_http_start("X-Consul-Index: 7\r\n");
    char addr[64];
    struct run r;
    const char *self = "{\"Config\":{\"NodeName\":\"node-1\"}}";
    fake_http_add(f, 200, self);
    fake_http_add(f, 200,
                  "{\"_node_maintenance\":{\"CheckID\":\"_node_maintenance\","
                  "\"Notes\":\"upgrade\"}}");
    fake_http_add(f, 200, self);
    fake_http_add(f, 200, NULL);
    fake_http_add(f, 200, self);
    fake_http_add(f, 200, NULL);
    fake_http_add(f, 200, self);
    fake_http_add(f, 404, "Unknown service ID \"redis\"");
    fake_http_add(f, 200, self);
    fake_http_add(f, 200, NULL);
    fake_http_go(f);

    run_cli(&r, NULL, "maint", ADDR_ARG(f, addr), NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out,
                        "Node:\n  Name:   node-1\n  Reason: upgrade\n\n");
    run_free(&r);
    fake_http_assert_request_line(f, 0, "GET /v1/agent/self HTTP/1.1");
    fake_http_assert_request_line(f, 1, "GET /v1/agent/checks HTTP/1.1");

    run_cli(&r, NULL, "maint", ADDR_ARG(f, addr), "-enable", "-reason=new disk",
            NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "Node maintenance is now enabled\n");
    run_free(&r);
    fake_http_assert_request_line(
        f, 3,
        "PUT /v1/agent/maintenance?enable=true&reason=new%"
        "20disk HTTP/1.1");

    run_cli(&r, NULL, "maint", ADDR_ARG(f, addr), "-disable", "-service", "web",
            NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out,
                        "Service maintenance is now disabled for \"web\"\n");
    run_free(&r);
    fake_http_assert_request_line(
        f, 5,
        "PUT /v1/agent/service/maintenance/web?enable=false "
        "HTTP/1.1");

    run_cli(&r, NULL, "maint", ADDR_ARG(f, addr), "-enable", "-service=redis", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err,
                        "Error enabling service maintenance: "
                        "Unexpected response code: 404 (Unknown "
                        "service ID \"redis\")\n");
    run_free(&r);
    fake_http_assert_request_line(
        f, 7,
        "PUT /v1/agent/service/maintenance/redis?enable=true"
        "&reason= HTTP/1.1");

    run_cli(&r, NULL, "maint", ADDR_ARG(f, addr), "-disable", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "Node maintenance is now disabled\n");
    run_free(&r);
    fake_http_assert_request_line(f, 9,
                                  "PUT /v1/agent/maintenance?enable=false "
                                  "HTTP/1.1");
    fake_http_stop(f);

    static const struct
    {
        const char *a, *b, *err;
    } bad[] = {
        {"-enable", "-disable",
         "Only one of -enable or -disable may be provided\n"},
        {"-disable", "-reason=x", "Reason may only be provided with -enable\n"},
        {"-reason=x", NULL, "Reason may only be provided with -enable\n"},
        {"-service=x", NULL, "Service requires either -enable or -disable\n"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        run_cli(&r, NULL, "maint", "-http-addr=127.0.0.1:1", bad[i].a, bad[i].b,
                NULL);
        assert_int_equal(r.rc, 1);
        assert_string_equal(r.err, bad[i].err);
        run_free(&r);
    }
    run_cli(&r, NULL, "maint", "-http-addr=127.0.0.1:1", NULL);
    assert_int_equal(r.rc, 1);
    assert_true(strncmp(r.err, "Error querying Consul agent: Get ", 33) == 0);
    run_free(&r);
    run_cli(&r, NULL, "maint", "-h", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "Usage: cairn maint [options]\n\n  Places"));
    assert_non_null(strstr(r.out, "  -enable\n"));
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(multi_flags_are_taken_out_like_go_flags),
        cmocka_unit_test(service_files_json_and_yaml),
        cmocka_unit_test(catalog_nodes_table_matches_consul),
        cmocka_unit_test(catalog_services_output_matches_consul),
        cmocka_unit_test(maint_listing_matches_consul),
        cmocka_unit_test(services_register_from_flags),
        cmocka_unit_test(services_register_from_files),
        cmocka_unit_test(services_deregister_ids_and_files),
        cmocka_unit_test(catalog_commands),
        cmocka_unit_test(maint_commands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
