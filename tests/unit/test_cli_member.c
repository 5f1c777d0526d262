/*
 * test_cli_member — `cairn join`, `leave`, `force-leave`, `keygen` and
 * `keyring` without an agent: argument handling and messages as Consul's
 * commands give them, the keyring formatter byte for byte, the rotation
 * bookkeeping (keyring view, members still advertising old keys), and
 * whole commands through cli_main against a fake HTTP server on an
 * ephemeral 127.0.0.1 port that records requests and replays canned
 * answers (tests/unit/fake_http.h), -rotate included.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "cli.h"
#include "cli_internal.h"
#include "cli_run.h"
#include "fake_http.h"
#include "gossip.h"
#include "json.h"

/* Three valid keys (32 bytes of 0x00, 0x01, 0x02). */
#define K0 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define K1 "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
#define K2 "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="

/* ------------------------------------------------------- run cli_main */

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static json_object *parse(const char *s)
{
    char err[256];
    json_object *o = json_parse(s, strlen(s), err, sizeof(err));
    if (o == NULL)
        fail_msg("bad test JSON: %s", err);
    return o;
}

/* ------------------------------------------------------------- keygen */

static void keygen_makes_distinct_32_byte_keys(void **state)
{
    (void)state;
    char a[45], b[45];
    uint8_t raw[64];
    size_t n = 0;

    assert_int_equal(cli__keygen_key(a), 0);
    assert_int_equal(cli__keygen_key(b), 0);
    assert_int_equal(strlen(a), 44);
    assert_int_equal(a[43], '=');
    assert_int_equal(sodium_base642bin(raw, sizeof(raw), a, strlen(a), NULL, &n,
                                       NULL, sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(n, 32);
    assert_string_not_equal(a, b);
    /* what the agent's -encrypt and the keyring accept */
    assert_int_equal(gossip_key_decode(a, raw), 0);

    struct run r;
    run_cli(&r, NULL, "keygen", NULL);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.outlen, 45);
    assert_int_equal(r.out[44], '\n');
    assert_string_equal(r.err, "");
    run_free(&r);

    run_cli(&r, NULL, "keygen", "-bogus", NULL);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "flag provided but not defined: -bogus\n"));
    assert_string_equal(r.out, "");
    run_free(&r);

    run_cli(&r, NULL, "keygen", "-h", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "Usage: cairn keygen"));
    run_free(&r);
}

/* ------------------------------------------------------ keyring format */

static void keyring_list_format_matches_consul(void **state)
{
    (void)state;
    char err[256] = "";
    json_object *o = parse(
        "[{\"WAN\":false,\"Datacenter\":\"dc1\",\"Segment\":\"\","
        "\"Keys\":{\"" K1 "\":3,\"" K0
        "\":10},"
        "\"PrimaryKeys\":{\"" K0 "\":10},\"NumNodes\":10,\"Messages\":{}}]");
    char *s = cli__keyring_format(o, false, err, sizeof(err));
    assert_non_null(s);
    assert_string_equal(s,
                        "\n"
                        "dc1 (LAN):\n"
                        "  " K0
                        " [10/10]\n"
                        "  " K1 " [3/10]\n");
    free(s);
    s = cli__keyring_format(o, true, err, sizeof(err));
    assert_string_equal(s, "\ndc1 (LAN):\n  " K0 " [10/10]\n");
    free(s);
    json_object_put(o);

    /* WAN pool, segment, partition, messages, a pool without keys */
    o = parse("[{\"WAN\":true,\"Datacenter\":\"dc1\",\"Keys\":{\"" K2
              "\":2},\"NumNodes\":2,"
              "\"Messages\":{\"s2\":\"no route\",\"s1\":\"timeout\"}},"
              "{\"WAN\":false,\"Datacenter\":\"dc2\",\"Segment\":\"alpha\","
              "\"Keys\":{},\"NumNodes\":0},"
              "{\"WAN\":false,\"Datacenter\":\"dc3\",\"Partition\":\"p1\","
              "\"Keys\":{\"" K2
              "\":1},\"NumNodes\":1},"
              "{\"WAN\":false,\"Datacenter\":\"dc4\",\"Partition\":"
              "\"default\",\"Keys\":{\"" K2 "\":1},\"NumNodes\":1}]");
    s = cli__keyring_format(o, false, err, sizeof(err));
    assert_string_equal(s,
                        "\n"
                        "WAN:\n"
                        "  ===> s1: timeout\n"
                        "  ===> s2: no route\n"
                        "  " K2
                        " [2/2]\n"
                        "\n"
                        "dc2 (LAN) [alpha]:\n"
                        "\n"
                        "dc3 (LAN) [partition: p1]:\n"
                        "  " K2
                        " [1/1]\n"
                        "\n"
                        "dc4 (LAN):\n"
                        "  " K2 " [1/1]\n");
    free(s);
    json_object_put(o);

    /* null and [] print nothing; anything else is an error */
    s = cli__keyring_format(NULL, false, err, sizeof(err));
    assert_string_equal(s, "");
    free(s);
    o = parse("{\"Keys\":{}}");
    assert_null(cli__keyring_format(o, false, err, sizeof(err)));
    assert_string_equal(err,
                        "json: cannot unmarshal object into Go value of "
                        "type []*api.KeyringResponse");
    json_object_put(o);
    o = parse("[1]");
    assert_null(cli__keyring_format(o, false, err, sizeof(err)));
    assert_non_null(strstr(err, "cannot unmarshal number"));
    json_object_put(o);
}

static void keyring_view_tracks_rotation(void **state)
{
    (void)state;
    char err[256] = "";
    struct cli_keyring_view v;

    json_object *o =
        parse("[{\"Keys\":{\"" K0 "\":10,\"" K1 "\":7},\"PrimaryKeys\":{\"" K0
              "\":10},\"NumNodes\":10}]");
    assert_int_equal(cli__keyring_view(o, K1, &v, err, sizeof(err)), 0);
    assert_int_equal(v.nodes, 10);
    assert_int_equal(v.have, 7);
    assert_int_equal(v.primary, 0);
    assert_int_equal(v.others, 1);
    assert_false(v.all_have);
    assert_false(v.all_primary);
    assert_false(v.only);
    assert_int_equal(cli__keyring_view(o, K0, &v, err, sizeof(err)), 0);
    assert_true(v.all_have);
    assert_true(v.all_primary);
    assert_false(v.only);
    json_object_put(o);

    o = parse("[{\"Keys\":{\"" K1 "\":4},\"PrimaryKeys\":{\"" K1
              "\":4},\"NumNodes\":4},"
              "{\"WAN\":true,\"Keys\":{\"" K1 "\":2},\"PrimaryKeys\":{\"" K1
              "\":2},\"NumNodes\":2}]");
    assert_int_equal(cli__keyring_view(o, K1, &v, err, sizeof(err)), 0);
    assert_int_equal(v.nodes, 6);
    assert_int_equal(v.have, 6);
    assert_true(v.all_have && v.all_primary && v.only);
    json_object_put(o);

    /* one pool short: not done; a primary elsewhere: not the only key */
    o = parse("[{\"Keys\":{\"" K1 "\":4},\"PrimaryKeys\":{\"" K1 "\":3,\"" K0
              "\":1},\"NumNodes\":4},"
              "{\"WAN\":true,\"Keys\":{\"" K1
              "\":1},\"PrimaryKeys\":{},"
              "\"NumNodes\":2}]");
    assert_int_equal(cli__keyring_view(o, K1, &v, err, sizeof(err)), 0);
    assert_false(v.all_have);
    assert_false(v.all_primary);
    assert_false(v.only);
    json_object_put(o);

    /* no node at all is never "everywhere" */
    o = parse("[{\"Keys\":{},\"PrimaryKeys\":{},\"NumNodes\":0}]");
    assert_int_equal(cli__keyring_view(o, K1, &v, err, sizeof(err)), 0);
    assert_false(v.all_have);
    json_object_put(o);

    o = parse("[]");
    assert_int_equal(cli__keyring_view(o, K1, &v, err, sizeof(err)), -1);
    assert_string_equal(err, "the agent reported no keyring");
    json_object_put(o);
    o = parse("\"x\"");
    assert_int_equal(cli__keyring_view(o, K1, &v, err, sizeof(err)), -1);
    json_object_put(o);
}

static void stale_members_are_those_advertising_other_keys(void **state)
{
    (void)state;
    uint8_t raw[32];
    char id1[16], id0[16], js[2048], names[256];

    assert_int_equal(gossip_key_decode(K1, raw), 0);
    snprintf(id1, sizeof(id1), "%08" PRIx32, gossip_key_id(raw));
    assert_int_equal(gossip_key_decode(K0, raw), 0);
    snprintf(id0, sizeof(id0), "%08" PRIx32, gossip_key_id(raw));

    snprintf(js, sizeof(js),
             "[{\"Name\":\"a\",\"Status\":1,\"Tags\":{\"kr\":\"%s\"}},"
             "{\"Name\":\"b\",\"Status\":1,\"Tags\":{\"kr\":\"%s,%s\"}},"
             "{\"Name\":\"c\",\"Status\":1,\"Tags\":{\"role\":\"node\"}},"
             "{\"Name\":\"d\",\"Status\":4,\"Tags\":{\"kr\":\"%s\"}},"
             "{\"Name\":\"e\",\"Status\":1,\"Tags\":{\"kr\":\"%s\"}}]",
             id1, id1, id0, id0, id0);
    json_object *o = parse(js);
    assert_int_equal(cli__keyring_stale_members(o, K1, names, sizeof(names)),
                     2);
    assert_string_equal(names, "b, e");
    assert_int_equal(cli__keyring_stale_members(o, K0, names, sizeof(names)),
                     2);
    assert_string_equal(names, "a, b");
    json_object_put(o);
    assert_int_equal(cli__keyring_stale_members(NULL, K1, names, sizeof(names)),
                     0);
    assert_string_equal(names, "");
}

/* ------------------------------------------------------------ commands */

static void join_counts_successes(void **state)
{
    (void)state;
    struct fake_http *f = fake_http_start(NULL);
    char addr[64];
    struct run r;
    fake_http_add(f, 200, NULL);
    fake_http_add(f, 500, "Failed to join 10.0.0.9: no member answered");
    fake_http_add(f, 200, NULL);
    fake_http_add(f, 500, "nope");
    fake_http_go(f);

    run_cli(&r, NULL, "join", ADDR_ARG(f, addr), "127.0.0.1:8301", "10.0.0.9", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out,
                        "Successfully joined cluster by contacting 1 nodes.\n");
    assert_string_equal(r.err,
                        "Error joining address '10.0.0.9': Unexpected "
                        "response code: 500 (Failed to join 10.0.0.9: "
                        "no member answered)\n");
    run_free(&r);
    fake_http_assert_request_line(
        f, 0, "PUT /v1/agent/join/127.0.0.1%3A8301 HTTP/1.1");
    fake_http_assert_request_line(f, 1, "PUT /v1/agent/join/10.0.0.9 HTTP/1.1");

    run_cli(&r, NULL, "join", ADDR_ARG(f, addr), "-wan", "[::1]:8302", NULL);
    assert_int_equal(r.rc, 0);
    run_free(&r);
    fake_http_assert_request_line(
        f, 2,
        "PUT /v1/agent/join/%5B%3A%3A1%5D%3A8302?wan=1 "
        "HTTP/1.1");

    run_cli(&r, NULL, "join", ADDR_ARG(f, addr), "h", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err,
                        "Error joining address 'h': Unexpected "
                        "response code: 500 (nope)\n"
                        "Failed to join any nodes.\n");
    run_free(&r);

    /* no address: Consul's message and the help, nothing sent */
    run_cli(&r, NULL, "join", ADDR_ARG(f, addr), NULL);
    assert_int_equal(r.rc, 1);
    assert_true(starts_with(r.err,
                            "At least one address to join must be "
                            "specified.\n\nUsage: cairn join"));
    assert_non_null(strstr(r.err, "  -wan\n"));
    run_free(&r);
    assert_int_equal(fake_http_served(f), 4);
    fake_http_stop(f);

    /* no agent */
    run_cli(&r, NULL, "join", "-http-addr=127.0.0.1:1", "x", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "Error joining address 'x': Put "
                        "\"http://127.0.0.1:1/v1/agent/join/x\": dial tcp "
                        "127.0.0.1:1: connect: connection refused\n"
                        "Failed to join any nodes.\n");
    run_free(&r);
}

static void leave_and_force_leave(void **state)
{
    (void)state;
    struct fake_http *f = fake_http_start(NULL);
    char addr[64];
    struct run r;
    fake_http_add(f, 200, NULL);
    fake_http_add(f, 500, "leave failed");
    fake_http_add(f, 200, NULL);
    fake_http_add(f, 200, NULL);
    fake_http_add(f, 200, NULL);
    fake_http_add(f, 500, "agent: No node found with name 'ghost'");
    fake_http_go(f);

    run_cli(&r, NULL, "leave", ADDR_ARG(f, addr), NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "Graceful leave complete\n");
    assert_string_equal(r.err, "");
    run_free(&r);
    fake_http_assert_request_line(f, 0, "PUT /v1/agent/leave HTTP/1.1");

    run_cli(&r, NULL, "leave", ADDR_ARG(f, addr), NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "Error leaving: Unexpected response code: 500 "
                        "(leave failed)\n");
    run_free(&r);

    run_cli(&r, NULL, "leave", ADDR_ARG(f, addr), "now", "please", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "Error found unexpected args: [now please]\n");
    assert_non_null(strstr(r.out, "Usage: cairn leave"));
    run_free(&r);

    run_cli(&r, NULL, "force-leave", ADDR_ARG(f, addr), "web 1", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "");
    run_free(&r);
    fake_http_assert_request_line(f, 2,
                                  "PUT /v1/agent/force-leave/web%201 HTTP/1.1");

    run_cli(&r, NULL, "force-leave", ADDR_ARG(f, addr), "-prune", "n1", NULL);
    assert_int_equal(r.rc, 0);
    run_free(&r);
    fake_http_assert_request_line(
        f, 3, "PUT /v1/agent/force-leave/n1?prune=1 HTTP/1.1");

    run_cli(&r, NULL, "force-leave", ADDR_ARG(f, addr), "-prune", "-wan", "n1", NULL);
    assert_int_equal(r.rc, 0);
    run_free(&r);
    fake_http_assert_request_line(
        f, 4, "PUT /v1/agent/force-leave/n1?prune=1&wan=1 HTTP/1.1");

    run_cli(&r, NULL, "force-leave", ADDR_ARG(f, addr), "ghost", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "Error force leaving: Unexpected response "
                        "code: 500 (agent: No node found with name "
                        "'ghost')\n");
    run_free(&r);

    run_cli(&r, NULL, "force-leave", ADDR_ARG(f, addr), NULL);
    assert_int_equal(r.rc, 1);
    assert_true(starts_with(r.err,
                            "A single node name must be specified to force "
                            "leave.\n\nUsage: cairn force-leave"));
    run_free(&r);
    run_cli(&r, NULL, "force-leave", ADDR_ARG(f, addr), "a", "b", NULL);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "A single node name must be specified"));
    run_free(&r);
    assert_int_equal(fake_http_served(f), 6);
    fake_http_stop(f);
}

static void keyring_actions(void **state)
{
    (void)state;
    struct fake_http *f = fake_http_start(NULL);
    char addr[64];
    struct run r;
    const char *listing =
        "[{\"WAN\":false,\"Datacenter\":\"dc1\",\"Segment\":\"\","
        "\"Keys\":{\"" K0 "\":3,\"" K1 "\":3},\"PrimaryKeys\":{\"" K0
        "\":3},\"NumNodes\":3,\"Messages\":{}}]";
    fake_http_add(f, 200, listing);
    fake_http_add(f, 200, listing);
    fake_http_add(f, 200, listing);
    fake_http_add(f, 200, NULL);
    fake_http_add(f, 200, NULL);
    fake_http_add(f, 200, NULL);
    fake_http_add(f, 500, "Removing the primary key is not allowed");
    fake_http_go(f);

    run_cli(&r, NULL, "keyring", ADDR_ARG(f, addr), "-list", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out,
                        "==> Gathering installed encryption keys...\n"
                        "\n"
                        "dc1 (LAN):\n"
                        "  " K0
                        " [3/3]\n"
                        "  " K1 " [3/3]\n");
    assert_string_equal(r.err, "");
    run_free(&r);
    fake_http_assert_request_line(f, 0, "GET /v1/operator/keyring HTTP/1.1");

    run_cli(&r, NULL, "keyring", ADDR_ARG(f, addr), "-list-primary",
            "-relay-factor=2", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out,
                        "==> Gathering installed primary encryption keys...\n"
                        "\n"
                        "dc1 (LAN):\n"
                        "  " K0 " [3/3]\n");
    run_free(&r);
    fake_http_assert_request_line(
        f, 1, "GET /v1/operator/keyring?relay-factor=2 HTTP/1.1");

    run_cli(&r, NULL, "keyring", ADDR_ARG(f, addr), "-list", "-local-only", NULL);
    assert_int_equal(r.rc, 0);
    run_free(&r);
    fake_http_assert_request_line(
        f, 2, "GET /v1/operator/keyring?local-only=true HTTP/1.1");

    run_cli(&r, NULL, "keyring", ADDR_ARG(f, addr), "-install=" K2, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "==> Installing new gossip encryption key...\n");
    run_free(&r);
    fake_http_assert_request_line(f, 3, "POST /v1/operator/keyring HTTP/1.1");
    assert_string_equal(fake_http_body(f, 3), "{\"Key\":\"" K2 "\"}\n");

    run_cli(&r, NULL, "keyring", ADDR_ARG(f, addr), "-use", K2, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out,
                        "==> Changing primary gossip encryption key...\n");
    run_free(&r);
    fake_http_assert_request_line(f, 4, "PUT /v1/operator/keyring HTTP/1.1");
    assert_string_equal(fake_http_body(f, 4), "{\"Key\":\"" K2 "\"}\n");

    run_cli(&r, NULL, "keyring", ADDR_ARG(f, addr), "-remove=" K0, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "==> Removing gossip encryption key...\n");
    run_free(&r);
    fake_http_assert_request_line(f, 5, "DELETE /v1/operator/keyring HTTP/1.1");
    assert_string_equal(fake_http_body(f, 5), "{\"Key\":\"" K0 "\"}\n");

    run_cli(&r, NULL, "keyring", ADDR_ARG(f, addr), "-remove=" K2, NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "error: Unexpected response code: 500 "
                        "(Removing the primary key is not allowed)\n");
    run_free(&r);

    /* argument errors: nothing sent */
    run_cli(&r, NULL, "keyring", ADDR_ARG(f, addr), NULL);
    assert_int_equal(r.rc, 1);
    assert_true(starts_with(r.err, "Usage: cairn keyring"));
    assert_non_null(strstr(r.err, "  -rotate=<value>\n"));
    assert_string_equal(r.out, "");
    run_free(&r);
    run_cli(&r, NULL, "keyring", ADDR_ARG(f, addr), "-list", "-install=" K2, NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "Only a single action is allowed\n");
    run_free(&r);
    run_cli(&r, NULL, "keyring", ADDR_ARG(f, addr), "-use=" K1, "-rotate=" K2, NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "Only a single action is allowed\n");
    run_free(&r);
    run_cli(&r, NULL, "keyring", ADDR_ARG(f, addr), "-list", "-relay-factor=6", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "Error parsing relay factor: Relay factor "
                        "must be in range: [0, 5]\n");
    run_free(&r);
    run_cli(&r, NULL, "keyring", ADDR_ARG(f, addr), "-install=" K2, "-local-only",
            NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "Error validating local-only: local-only can "
                        "only be set during list queries\n");
    run_free(&r);
    run_cli(&r, NULL, "keyring", ADDR_ARG(f, addr), "-rotate=" K2,
            "-rotate-timeout=soon", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "invalid value \"soon\" for flag "
                        "-rotate-timeout: parse error\n");
    run_free(&r);
    run_cli(&r, NULL, "keyring", ADDR_ARG(f, addr), "-rotate=c2hvcnQ=", NULL);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "error: invalid key"));
    run_free(&r);
    run_cli(&r, NULL, "keyring", ADDR_ARG(f, addr), "-install", NULL);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "flag needs an argument: -install\n"));
    run_free(&r);
    assert_int_equal(fake_http_served(f), 7);
    fake_http_stop(f);
}

static void keyring_rotate_installs_switches_removes_and_verifies(void **state)
{
    (void)state;
    struct fake_http *f = fake_http_start(NULL);
    char addr[64], members[512];
    uint8_t raw[32];
    struct run r;

    assert_int_equal(gossip_key_decode(K2, raw), 0);
    snprintf(members, sizeof(members),
             "[{\"Name\":\"a\",\"Status\":1,\"Tags\":{\"kr\":\"%08" PRIx32
             "\"}},{\"Name\":\"gone\",\"Status\":3,\"Tags\":{}}]",
             gossip_key_id(raw));
    /* 0 */ fake_http_add(f, 200,
                          "[{\"Keys\":{\"" K0 "\":3,\"" K1
                          "\":3},\"PrimaryKeys\":{\"" K0
                          "\":3},\"NumNodes\":3}]");
    /* 1 */ fake_http_add(f, 200, NULL); /* POST */
    /* 2 */ fake_http_add(f, 200,
                          "[{\"Keys\":{\"" K0 "\":3,\"" K1 "\":3,\"" K2
                          "\":1},\"PrimaryKeys\":{\"" K0
                          "\":3},\"NumNodes\":3}]");
    /* 3 */ fake_http_add(f, 200,
                          "[{\"Keys\":{\"" K0 "\":3,\"" K1 "\":3,\"" K2
                          "\":3},\"PrimaryKeys\":{\"" K0
                          "\":3},\"NumNodes\":3}]");
    /* 4 */ fake_http_add(f, 200, NULL); /* PUT */
    /* 5 */ fake_http_add(f, 200,
                          "[{\"Keys\":{\"" K0 "\":3,\"" K1 "\":3,\"" K2
                          "\":3},\"PrimaryKeys\":{\"" K2
                          "\":3},\"NumNodes\":3}]");
    /* 6 */ fake_http_add(f, 200,
                          "[{\"Keys\":{\"" K0 "\":3,\"" K1 "\":3,\"" K2
                          "\":3},\"PrimaryKeys\":{\"" K2
                          "\":3},\"NumNodes\":3}]");
    /* 7 */ fake_http_add(f, 200, NULL); /* DELETE K0 */
    /* 8 */ fake_http_add(f, 200, NULL); /* DELETE K1 */
    /* 9 */ fake_http_add(f, 200,
                          "[{\"Keys\":{\"" K1 "\":2,\"" K2
                          "\":3},\"PrimaryKeys\":{\"" K2
                          "\":3},\"NumNodes\":3}]");
    /* 10 */ fake_http_add(f, 200,
                           "[{\"Keys\":{\"" K2 "\":3},\"PrimaryKeys\":{\"" K2
                           "\":3},\"NumNodes\":3}]");
    /* 11 */ fake_http_add(f, 200, members);
    fake_http_go(f);

    run_cli(&r, NULL, "keyring", ADDR_ARG(f, addr), "-rotate=" K2, NULL);
    assert_string_equal(r.err, "");
    assert_int_equal(r.rc, 0);
    assert_string_equal(
        r.out,
        "==> Rotating the gossip encryption key...\n"
        "    3 nodes, 2 other key(s) installed\n"
        "==> Installing new gossip encryption key...\n"
        "    new key installed on 1/3 nodes\n"
        "    new key installed on 3/3 nodes\n"
        "==> Changing primary gossip encryption key...\n"
        "    new key primary on 3/3 nodes\n"
        "==> Removing gossip encryption key " K0
        "...\n"
        "==> Removing gossip encryption key " K1
        "...\n"
        "==> Verifying the keyring...\n"
        "    1 other key(s) left; new key on 3/3 nodes, primary on 3/3\n"
        "    0 other key(s) left; new key on 3/3 nodes, primary on 3/3\n"
        "Key rotation complete: the new key is the only key and the primary "
        "key on every node.\n");
    run_free(&r);
    assert_int_equal(fake_http_served(f), 12);
    const char *want[] = {
        "GET /v1/operator/keyring HTTP/1.1",
        "POST /v1/operator/keyring HTTP/1.1",
        "GET /v1/operator/keyring HTTP/1.1",
        "GET /v1/operator/keyring HTTP/1.1",
        "PUT /v1/operator/keyring HTTP/1.1",
        "GET /v1/operator/keyring HTTP/1.1",
        "GET /v1/operator/keyring HTTP/1.1",
        "DELETE /v1/operator/keyring HTTP/1.1",
        "DELETE /v1/operator/keyring HTTP/1.1",
        "GET /v1/operator/keyring HTTP/1.1",
        "GET /v1/operator/keyring HTTP/1.1",
        "GET /v1/agent/members HTTP/1.1",
    };
    for (int i = 0; i < 12; i++)
        fake_http_assert_request_line(f, i, want[i]);
    assert_string_equal(fake_http_body(f, 1), "{\"Key\":\"" K2 "\"}\n");
    assert_string_equal(fake_http_body(f, 4), "{\"Key\":\"" K2 "\"}\n");
    assert_string_equal(fake_http_body(f, 7), "{\"Key\":\"" K0 "\"}\n");
    assert_string_equal(fake_http_body(f, 8), "{\"Key\":\"" K1 "\"}\n");
    fake_http_stop(f);
}

static void keyring_rotate_fails_on_timeout_and_errors(void **state)
{
    (void)state;
    struct fake_http *f = fake_http_start(NULL);
    char addr[64];
    struct run r;
    const char *before = "[{\"Keys\":{\"" K0 "\":3},\"PrimaryKeys\":{\"" K0
                         "\":3},\"NumNodes\":3}]";
    /* a node never gets the key: bounded wait, exit 1, no switch */
    fake_http_add(f, 200, before);
    fake_http_add(f, 200, NULL);
    fake_http_add(f, 200,
                  "[{\"Keys\":{\"" K0 "\":3,\"" K2
                  "\":2},\"PrimaryKeys\":{\"" K0 "\":3},\"NumNodes\":3}]");
    /* the agent refuses the install */
    fake_http_add(f, 200, before);
    fake_http_add(f, 500, "Gossip encryption is not enabled on this agent");
    /* a member still advertises the old key after removal */
    fake_http_add(f, 200, before);
    fake_http_add(f, 200, NULL);
    fake_http_add(f, 200,
                  "[{\"Keys\":{\"" K0 "\":3,\"" K2
                  "\":3},\"PrimaryKeys\":{\"" K0 "\":3},\"NumNodes\":3}]");
    fake_http_add(f, 200, NULL);
    fake_http_add(f, 200,
                  "[{\"Keys\":{\"" K0 "\":3,\"" K2
                  "\":3},\"PrimaryKeys\":{\"" K2 "\":3},\"NumNodes\":3}]");
    fake_http_add(f, 200,
                  "[{\"Keys\":{\"" K0 "\":3,\"" K2
                  "\":3},\"PrimaryKeys\":{\"" K2 "\":3},\"NumNodes\":3}]");
    fake_http_add(f, 200, NULL);
    fake_http_add(f, 200,
                  "[{\"Keys\":{\"" K2 "\":3},\"PrimaryKeys\":{\"" K2
                  "\":3},\"NumNodes\":3}]");
    fake_http_add(f, 200,
                  "[{\"Name\":\"slow\",\"Status\":1,\"Tags\":"
                  "{\"kr\":\"00000001\"}}]");
    fake_http_go(f);

    run_cli(&r, NULL, "keyring", ADDR_ARG(f, addr), "-rotate=" K2,
            "-rotate-timeout=1ms", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "error: timed out after 1ms: new key installed "
                        "on 2/3 nodes\n");
    assert_non_null(strstr(r.out, "    new key installed on 2/3 nodes\n"));
    assert_null(strstr(r.out, "Changing primary"));
    run_free(&r);
    assert_int_equal(fake_http_served(f), 3);

    run_cli(&r, NULL, "keyring", ADDR_ARG(f, addr), "-rotate=" K2, NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "error: Unexpected response code: 500 (Gossip "
                        "encryption is not enabled on this agent)\n");
    run_free(&r);
    assert_int_equal(fake_http_served(f), 5);

    run_cli(&r, NULL, "keyring", ADDR_ARG(f, addr), "-rotate=" K2,
            "-rotate-timeout=1ms", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "error: timed out after 1ms: 1 member(s) still "
                        "hold other keys: slow\n");
    run_free(&r);
    assert_int_equal(fake_http_served(f), 14);
    fake_http_stop(f);

    /* no agent */
    run_cli(&r, NULL, "keyring", "-http-addr=127.0.0.1:1", "-rotate=" K2, NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(
        r.err,
        "error: Get \"http://127.0.0.1:1/v1/operator/keyring\": "
        "dial tcp 127.0.0.1:1: connect: connection refused\n");
    run_free(&r);
}

static void commands_are_listed_with_help(void **state)
{
    (void)state;
    struct run r;

    run_cli(&r, NULL, "-h", NULL);
    assert_int_equal(r.rc, 0);
    const char *names[] = {"join",   "leave",   "force-leave",
                           "keygen", "keyring", "members"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char want[32];
        snprintf(want, sizeof(want), "\n    %s ", names[i]);
        if (strstr(r.out, want) == NULL)
            fail_msg("%s missing from the usage", names[i]);
    }
    run_free(&r);

    run_cli(&r, NULL, "help", "keyring", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "Usage: cairn keyring [options]"));
    assert_non_null(strstr(r.out, "  -rotate-timeout=<value>\n"));
    run_free(&r);
    run_cli(&r, NULL, "force-leave", "-h", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "  -prune\n"));
    run_free(&r);
    run_cli(&r, NULL, "leave", "-h", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "Usage: cairn leave"));
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keygen_makes_distinct_32_byte_keys),
        cmocka_unit_test(keyring_list_format_matches_consul),
        cmocka_unit_test(keyring_view_tracks_rotation),
        cmocka_unit_test(stale_members_are_those_advertising_other_keys),
        cmocka_unit_test(join_counts_successes),
        cmocka_unit_test(leave_and_force_leave),
        cmocka_unit_test(keyring_actions),
        cmocka_unit_test(keyring_rotate_installs_switches_removes_and_verifies),
        cmocka_unit_test(keyring_rotate_fails_on_timeout_and_errors),
        cmocka_unit_test(commands_are_listed_with_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
