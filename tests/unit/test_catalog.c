/* Unit tests for agent/catalog.c: register / deregister semantics, record
 * shapes and defaults, all-or-nothing validation, indexes and change
 * topics, reads, snapshots (pin, write, restore) and scale. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "catalog.h"
#include "json.h"

/* ---- Helpers ---- */

/* Topics seen by the change callback since the last topics_reset. */
static char *topics[4096];
static size_t n_topics;

static void topics_reset(void)
{
    for (size_t i = 0; i < n_topics; i++)
        free(topics[i]);
    n_topics = 0;
}

static void on_change(void *data, const char *topic)
{
    size_t *calls = data;
    (*calls)++;
    assert_true(n_topics < sizeof topics / sizeof topics[0]);
    topics[n_topics++] = strdup(topic);
}

static bool saw(const char *topic)
{
    for (size_t i = 0; i < n_topics; i++) {
        if (strcmp(topics[i], topic) == 0)
            return true;
    }
    return false;
}

static size_t calls;

static struct catalog *new_catalog(void)
{
    struct catalog *c = catalog_new();
    assert_non_null(c);
    catalog_set_change_cb(c, on_change, &calls);
    topics_reset();
    calls = 0;
    return c;
}

static void free_catalog(struct catalog *c)
{
    catalog_free(c);
    topics_reset();
}

static json_object *parse(const char *s)
{
    char err[128];
    json_object *o = json_parse(s, strlen(s), err, sizeof err);
    if (o == NULL)
        fail_msg("bad test JSON (%s): %s", err, s);
    return o;
}

static char last_err[256];

static int reg(struct catalog *c, const char *body, uint64_t index)
{
    json_object *o = parse(body);
    int rv = catalog_register(c, o, index, last_err, sizeof last_err);
    json_object_put(o);
    return rv;
}

static int dereg(struct catalog *c, const char *body, uint64_t index)
{
    json_object *o = parse(body);
    int rv = catalog_deregister(c, o, index, last_err, sizeof last_err);
    json_object_put(o);
    return rv;
}

/* Compact JSON of `o` (taken), as a new string. */
static char *dump_put(json_object *o)
{
    char *s = json_dump(o, false, NULL);
    assert_non_null(s);
    json_object_put(o);
    return s;
}

static void assert_json(json_object *o, const char *want)
{
    char *s = dump_put(o);
    if (strcmp(s, want) != 0)
        fail_msg("got  %s\nwant %s", s, want);
    free(s);
}

/* Field of a borrowed object, must exist. */
static json_object *get(json_object *o, const char *k)
{
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v))
        fail_msg("no field %s", k);
    return v;
}

static const char *gets(json_object *o, const char *k)
{
    return json_object_get_string(get(o, k));
}

static uint64_t getu(json_object *o, const char *k)
{
    uint64_t v = 0;
    assert_int_equal(json_get_u64(get(o, k), &v), 0);
    return v;
}

#define NODE_A "\"Node\":\"a\",\"Address\":\"10.0.0.1\""
#define NODE_B "\"Node\":\"b\",\"Address\":\"10.0.0.2\""

/* ---- Register: shapes and defaults ---- */

static void register_fills_defaults_in_consul_shapes(void **state)
{
    (void)state;
    struct catalog *c = new_catalog();
    assert_int_equal(
        reg(c,
            "{" NODE_A ",\"Service\":{\"Service\":\"web\",\"Port\":80},"
            "\"Check\":{\"Name\":\"alive\",\"ServiceID\":\"web\"},"
            "\"Checks\":[{\"Name\":\"serfHealth\",\"Status\":\"passing\"}]}",
            5),
        0);
    uint64_t ix = 0;
    assert_json(catalog_nodes(c, &ix),
                "[{\"ID\":\"\",\"Node\":\"a\",\"Address\":\"10.0.0.1\","
                "\"Datacenter\":\"\",\"TaggedAddresses\":{},\"Meta\":{},"
                "\"CreateIndex\":5,\"ModifyIndex\":5}]");
    assert_int_equal(ix, 5);
    assert_json(
        catalog_node_services(c, "a", &ix),
        "{\"Node\":{\"ID\":\"\",\"Node\":\"a\",\"Address\":\"10.0.0.1\","
        "\"Datacenter\":\"\",\"TaggedAddresses\":{},\"Meta\":{},"
        "\"CreateIndex\":5,\"ModifyIndex\":5},\"Services\":{\"web\":"
        "{\"ID\":\"web\",\"Service\":\"web\",\"Tags\":[],\"Meta\":{},"
        "\"Port\":80,\"Address\":\"\",\"Weights\":{\"Passing\":1,"
        "\"Warning\":1},\"EnableTagOverride\":false,"
        "\"CreateIndex\":5,\"ModifyIndex\":5}}}");
    assert_json(catalog_health_node(c, "a", &ix),
                "[{\"Node\":\"a\",\"CheckID\":\"serfHealth\",\"Name\":"
                "\"serfHealth\",\"Status\":\"passing\",\"Notes\":\"\","
                "\"Output\":\"\",\"ServiceID\":\"\",\"ServiceName\":\"\","
                "\"ServiceTags\":[],\"Type\":\"\",\"Interval\":\"\","
                "\"Timeout\":\"\",\"ExposedPort\":0,\"Definition\":{},"
                "\"CreateIndex\":5,\"ModifyIndex\":5},"
                "{\"Node\":\"a\",\"CheckID\":\"alive\",\"Name\":\"alive\","
                "\"Status\":\"critical\",\"Notes\":\"\",\"Output\":\"\","
                "\"ServiceID\":\"web\",\"ServiceName\":\"web\","
                "\"ServiceTags\":[],\"Type\":\"\",\"Interval\":\"\","
                "\"Timeout\":\"\",\"ExposedPort\":0,\"Definition\":{},"
                "\"CreateIndex\":5,\"ModifyIndex\":5}]");
    assert_json(catalog_service_nodes(c, "web", &ix),
                "[{\"ID\":\"\",\"Node\":\"a\",\"Address\":\"10.0.0.1\","
                "\"Datacenter\":\"\",\"TaggedAddresses\":{},\"NodeMeta\":{},"
                "\"ServiceKind\":\"\",\"ServiceID\":\"web\",\"ServiceName\":"
                "\"web\",\"ServiceTags\":[],\"ServiceAddress\":\"\","
                "\"ServiceTaggedAddresses\":{},\"ServiceWeights\":{\"Passing\":"
                "1,\"Warning\":1},\"ServiceMeta\":{},\"ServicePort\":80,"
                "\"ServiceSocketPath\":\"\",\"ServiceEnableTagOverride\":false,"
                "\"ServiceProxy\":{},\"ServiceConnect\":{},\"CreateIndex\":5,"
                "\"ModifyIndex\":5}]");
    assert_int_equal(catalog_count_nodes(c), 1);
    assert_int_equal(catalog_count_services(c), 1);
    assert_int_equal(catalog_count_checks(c), 2);
    free_catalog(c);
}

static void register_keeps_given_fields_sorted_maps_and_aliases(void **state)
{
    (void)state;
    struct catalog *c = new_catalog();
    /* Lower-case and snake_case keys, maps given out of order. */
    assert_int_equal(
        reg(c,
            "{\"node\":\"n1\",\"address\":\"192.168.0.9\",\"id\":\"uuid-1\","
            "\"datacenter\":\"dc1\",\"tagged_addresses\":{\"wan\":\"1.2.3.4\","
            "\"lan\":\"192.168.0.9\"},\"node_meta\":{\"z\":\"1\",\"a\":\"2\"},"
            "\"service\":{\"id\":\"db-1\",\"service\":\"db\",\"tags\":"
            "[\"primary\",\"v1\"],\"meta\":{\"version\":\"1\",\"az\":\"x\"},"
            "\"port\":5432,\"address\":\"10.1.1.1\",\"kind\":\"typical\","
            "\"tagged_addresses\":{\"wan\":{\"address\":\"5.6.7.8\",\"port\":"
            "1}},\"weights\":{\"passing\":3},\"enable_tag_override\":true},"
            "\"check\":{\"check_id\":\"db-ttl\",\"name\":\"TTL\",\"status\":"
            "\"warning\",\"notes\":\"n\",\"output\":\"o\",\"service_id\":"
            "\"db-1\",\"type\":\"ttl\",\"interval\":\"10s\",\"timeout\":\"1s\","
            "\"exposedport\":21,\"definition\":{\"TTL\":\"30s\"},"
            "\"node\":\"n1\"}}",
            7),
        0);
    assert_json(
        json_object_get((json_object *)catalog_get_node(c, "n1")),
        "{\"ID\":\"uuid-1\",\"Node\":\"n1\",\"Address\":\"192.168.0.9\","
        "\"Datacenter\":\"dc1\",\"TaggedAddresses\":{\"lan\":"
        "\"192.168.0.9\",\"wan\":\"1.2.3.4\"},\"Meta\":{\"a\":\"2\","
        "\"z\":\"1\"},\"CreateIndex\":7,\"ModifyIndex\":7}");
    assert_json(
        json_object_get((json_object *)catalog_get_service(c, "n1", "db-1")),
        "{\"Kind\":\"typical\",\"ID\":\"db-1\",\"Service\":\"db\",\"Tags\":"
        "[\"primary\",\"v1\"],\"Meta\":{\"az\":\"x\",\"version\":\"1\"},"
        "\"Port\":5432,\"Address\":\"10.1.1.1\",\"TaggedAddresses\":{\"wan\":"
        "{\"Address\":\"5.6.7.8\",\"Port\":1}},\"Weights\":{\"Passing\":3,"
        "\"Warning\":1},\"EnableTagOverride\":true,\"CreateIndex\":7,"
        "\"ModifyIndex\":7}");
    assert_json(
        json_object_get((json_object *)catalog_get_check(c, "n1", "db-ttl")),
        "{\"Node\":\"n1\",\"CheckID\":\"db-ttl\",\"Name\":\"TTL\",\"Status\":"
        "\"warning\",\"Notes\":\"n\",\"Output\":\"o\",\"ServiceID\":\"db-1\","
        "\"ServiceName\":\"db\",\"ServiceTags\":[\"primary\",\"v1\"],"
        "\"Type\":\"ttl\",\"Interval\":\"10s\",\"Timeout\":\"1s\","
        "\"ExposedPort\":21,\"Definition\":{\"TTL\":\"30s\"},"
        "\"CreateIndex\":7,\"ModifyIndex\":7}");
    assert_null(catalog_get_node(c, "nope"));
    assert_null(catalog_get_service(c, "n1", "nope"));
    assert_null(catalog_get_check(c, "nope", "db-ttl"));
    free_catalog(c);
}

static void visit(void *data, const char *id, const json_object *rec)
{
    char *buf = data;
    assert_non_null(rec);
    strcat(buf, id);
    strcat(buf, ",");
}

static void foreach_visits_a_nodes_services_and_checks_in_order(void **state)
{
    (void)state;
    struct catalog *c = new_catalog();
    reg(c, "{" NODE_A ",\"Service\":{\"ID\":\"s2\",\"Service\":\"x\"}}", 1);
    reg(c,
        "{" NODE_A
        ",\"Service\":{\"ID\":\"s1\",\"Service\":\"y\"},"
        "\"Checks\":[{\"CheckID\":\"c2\",\"ServiceID\":\"s1\"},"
        "{\"CheckID\":\"c1\"}]}",
        2);
    char buf[64] = "";
    assert_int_equal(catalog_node_foreach_service(c, "a", visit, buf), 2);
    assert_string_equal(buf, "s1,s2,");
    buf[0] = '\0';
    assert_int_equal(catalog_node_foreach_check(c, "a", visit, buf), 2);
    assert_string_equal(buf, "c1,c2,");
    assert_int_equal(catalog_node_foreach_check(c, "zz", visit, buf), 0);
    free_catalog(c);
}

/* ---- Register: updates ---- */

static void update_keeps_create_index_and_sets_modify_index(void **state)
{
    (void)state;
    struct catalog *c = new_catalog();
    reg(c, "{" NODE_A ",\"Service\":{\"Service\":\"web\",\"Port\":80}}", 3);
    reg(c,
        "{\"Node\":\"a\",\"Address\":\"10.0.0.9\","
        "\"Service\":{\"Service\":\"web\",\"Port\":81}}",
        8);
    json_object *n = (json_object *)catalog_get_node(c, "a");
    json_object *s = (json_object *)catalog_get_service(c, "a", "web");
    assert_int_equal(getu(n, "CreateIndex"), 3);
    assert_int_equal(getu(n, "ModifyIndex"), 8);
    assert_string_equal(gets(n, "Address"), "10.0.0.9");
    assert_int_equal(getu(s, "CreateIndex"), 3);
    assert_int_equal(getu(s, "ModifyIndex"), 8);
    assert_int_equal(json_object_get_int(get(s, "Port")), 81);
    /* Only the changed record moves. */
    reg(c,
        "{\"Node\":\"a\",\"Address\":\"10.0.0.9\","
        "\"Service\":{\"Service\":\"web\",\"Port\":82}}",
        9);
    n = (json_object *)catalog_get_node(c, "a");
    assert_int_equal(getu(n, "ModifyIndex"), 8);
    s = (json_object *)catalog_get_service(c, "a", "web");
    assert_int_equal(getu(s, "ModifyIndex"), 9);
    free_catalog(c);
}

static void records_are_immutable_and_old_reads_stay_valid(void **state)
{
    (void)state;
    struct catalog *c = new_catalog();
    reg(c, "{" NODE_A ",\"Service\":{\"Service\":\"web\",\"Tags\":[\"v1\"]}}",
        1);
    json_object *before = catalog_health_service(c, "web", NULL);
    json_object *rec = (json_object *)catalog_get_service(c, "a", "web");
    /* The read shares the stored record. */
    assert_ptr_equal(get(json_object_array_get_idx(before, 0), "Service"), rec);
    reg(c, "{" NODE_A ",\"Service\":{\"Service\":\"web\",\"Tags\":[\"v2\"]}}",
        2);
    assert_ptr_not_equal(catalog_get_service(c, "a", "web"), rec);
    /* The earlier answer still holds the old, untouched record. */
    assert_json(
        json_object_get(
            get(get(json_object_array_get_idx(before, 0), "Service"), "Tags")),
        "[\"v1\"]");
    json_object_put(before);
    free_catalog(c);
}

static void skip_node_update_leaves_the_node_alone(void **state)
{
    (void)state;
    struct catalog *c = new_catalog();
    reg(c, "{" NODE_A ",\"NodeMeta\":{\"k\":\"v\"}}", 1);
    assert_int_equal(reg(c,
                         "{\"Node\":\"a\",\"SkipNodeUpdate\":true,"
                         "\"Service\":{\"Service\":\"web\"}}",
                         2),
                     0);
    json_object *n = (json_object *)catalog_get_node(c, "a");
    assert_string_equal(gets(n, "Address"), "10.0.0.1");
    assert_string_equal(gets(get(n, "Meta"), "k"), "v");
    assert_int_equal(getu(n, "ModifyIndex"), 1);
    /* Without SkipNodeUpdate the node record is replaced as a whole. */
    reg(c, "{" NODE_A "}", 3);
    n = (json_object *)catalog_get_node(c, "a");
    assert_int_equal(json_object_object_length(get(n, "Meta")), 0);
    /* SkipNodeUpdate for an unknown node still needs an address. */
    assert_int_equal(reg(c, "{\"Node\":\"z\",\"SkipNodeUpdate\":true}", 4),
                     -EINVAL);
    assert_string_equal(last_err, "Must provide address");
    free_catalog(c);
}

static void reregistering_a_service_relinks_its_checks(void **state)
{
    (void)state;
    struct catalog *c = new_catalog();
    reg(c,
        "{" NODE_A
        ",\"Service\":{\"ID\":\"w1\",\"Service\":\"web\","
        "\"Tags\":[\"a\"]},\"Check\":{\"CheckID\":\"c1\","
        "\"ServiceID\":\"w1\"}}",
        1);
    /* New tags: the untouched check follows. */
    reg(c,
        "{" NODE_A
        ",\"Service\":{\"ID\":\"w1\",\"Service\":\"web\","
        "\"Tags\":[\"b\"]}}",
        2);
    json_object *k = (json_object *)catalog_get_check(c, "a", "c1");
    assert_json(json_object_get(get(k, "ServiceTags")), "[\"b\"]");
    assert_int_equal(getu(k, "ModifyIndex"), 2);
    assert_int_equal(getu(k, "CreateIndex"), 1);
    /* Renamed: the instance moves from web to api, the check too. */
    topics_reset();
    reg(c,
        "{" NODE_A
        ",\"Service\":{\"ID\":\"w1\",\"Service\":\"api\","
        "\"Tags\":[\"b\"]}}",
        3);
    assert_true(saw("svc:web"));
    assert_true(saw("svc:api"));
    k = (json_object *)catalog_get_check(c, "a", "c1");
    assert_string_equal(gets(k, "ServiceName"), "api");
    uint64_t ix;
    assert_json(catalog_service_nodes(c, "web", &ix), "[]");
    assert_int_equal(ix, 3); /* unknown now: the services table index */
    json_object *hc = catalog_health_checks(c, "api", &ix);
    assert_int_equal(json_object_array_length(hc), 1);
    assert_int_equal(ix, 3);
    json_object_put(hc);
    /* A check can move from a service to the node. */
    reg(c, "{" NODE_A ",\"Check\":{\"CheckID\":\"c1\"}}", 4);
    hc = catalog_health_checks(c, "api", NULL);
    assert_int_equal(json_object_array_length(hc), 0);
    json_object_put(hc);
    k = (json_object *)catalog_get_check(c, "a", "c1");
    assert_string_equal(gets(k, "ServiceID"), "");
    free_catalog(c);
}

static void later_check_with_the_same_id_wins(void **state)
{
    (void)state;
    struct catalog *c = new_catalog();
    assert_int_equal(reg(c,
                         "{" NODE_A ",\"Checks\":[{\"CheckID\":\"x\","
                         "\"Status\":\"passing\"}],\"Check\":{\"CheckID\":"
                         "\"x\",\"Status\":\"warning\"}}",
                         1),
                     0);
    assert_int_equal(catalog_count_checks(c), 1);
    assert_string_equal(
        gets((json_object *)catalog_get_check(c, "a", "x"), "Status"),
        "warning");
    free_catalog(c);
}

/* ---- Validation: errors change nothing ---- */

static void expect_rejected(struct catalog *c,
                            const char *body,
                            const char *msg_part)
{
    char *before = dump_put(catalog_health_state(c, "any", NULL, NULL));
    char *nodes_before = dump_put(catalog_nodes(c, NULL));
    uint64_t ix = catalog_index(c);
    calls = 0;
    assert_int_equal(reg(c, body, 100), -EINVAL);
    if (strstr(last_err, msg_part) == NULL)
        fail_msg("error \"%s\" lacks \"%s\" for %s", last_err, msg_part, body);
    assert_int_equal(calls, 0);
    assert_int_equal(catalog_index(c), ix);
    char *after = dump_put(catalog_health_state(c, "any", NULL, NULL));
    char *nodes_after = dump_put(catalog_nodes(c, NULL));
    assert_string_equal(before, after);
    assert_string_equal(nodes_before, nodes_after);
    free(before);
    free(after);
    free(nodes_before);
    free(nodes_after);
}

static void validation_errors_leave_nothing_half_done(void **state)
{
    (void)state;
    struct catalog *c = new_catalog();
    reg(c, "{" NODE_A ",\"Service\":{\"Service\":\"web\"}}", 1);
    size_t svcs = catalog_count_services(c);

    expect_rejected(c, "{\"Address\":\"1.1.1.1\"}", "Must provide node");
    expect_rejected(c, "{\"Node\":\"n\"}", "Must provide address");
    /* Valid node and service, then a check naming an unknown service. */
    expect_rejected(c,
                    "{\"Node\":\"new\",\"Address\":\"1.1.1.1\",\"Service\":"
                    "{\"Service\":\"db\"},\"Checks\":[{\"CheckID\":\"ok\"},"
                    "{\"CheckID\":\"bad\",\"ServiceID\":\"nope\"}]}",
                    "Missing service registration");
    /* A service of another node does not count. */
    expect_rejected(c,
                    "{" NODE_B
                    ",\"Check\":{\"CheckID\":\"k\",\"ServiceID\":"
                    "\"web\"}}",
                    "Missing service registration");
    expect_rejected(c,
                    "{" NODE_A
                    ",\"Service\":{\"Service\":\"web\",\"Port\":2},"
                    "\"Check\":{\"CheckID\":\"k\",\"Status\":\"fine\"}}",
                    "status");
    expect_rejected(c, "{" NODE_A ",\"Check\":{\"Notes\":\"no id\"}}",
                    "check ID");
    expect_rejected(c,
                    "{" NODE_A ",\"Check\":{\"CheckID\":\"k\",\"Node\":\"b\"}}",
                    "does not match");
    expect_rejected(c, "{" NODE_A ",\"Service\":{\"ID\":\"x\"}}",
                    "Must provide service name with ID");
    expect_rejected(c, "{" NODE_A ",\"Service\":{\"Port\":1}}",
                    "Must provide service name");
    /* Wrong JSON types. */
    expect_rejected(c, "{\"Node\":1,\"Address\":\"x\"}", "string");
    expect_rejected(c,
                    "{" NODE_A
                    ",\"Service\":{\"Service\":\"w\",\"Port\":"
                    "\"80\"}}",
                    "int");
    expect_rejected(c,
                    "{" NODE_A
                    ",\"Service\":{\"Service\":\"w\",\"Tags\":"
                    "[1]}}",
                    "string");
    expect_rejected(c, "{" NODE_A ",\"NodeMeta\":{\"k\":1}}", "map");
    expect_rejected(c, "{" NODE_A ",\"Checks\":{}}", "HealthChecks");
    expect_rejected(c, "{" NODE_A ",\"Service\":[]}", "NodeService");
    expect_rejected(c, "[]", "RegisterRequest");
    expect_rejected(c,
                    "{" NODE_A
                    ",\"Service\":{\"Service\":\"w\","
                    "\"EnableTagOverride\":\"yes\"}}",
                    "bool");
    expect_rejected(c,
                    "{" NODE_A
                    ",\"Service\":{\"Service\":\"w\","
                    "\"TaggedAddresses\":{\"lan\":\"1.1.1.1\"}}}",
                    "ServiceAddress");
    expect_rejected(c,
                    "{" NODE_A
                    ",\"Check\":{\"CheckID\":\"k\","
                    "\"Definition\":[]}}",
                    "object");

    assert_null(catalog_get_node(c, "new"));
    assert_null(catalog_get_node(c, "b"));
    assert_int_equal(catalog_count_services(c), svcs);
    assert_int_equal(catalog_count_checks(c), 0);
    free_catalog(c);
}

static void validate_reports_only_type_errors(void **state)
{
    (void)state;
    char err[128];
    json_object *o = parse("{\"Service\":{\"Port\":\"x\"}}");
    assert_int_equal(catalog_validate(o, false, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "Port"));
    json_object_put(o);
    o = parse("{}"); /* no Node: a state-machine error, not a decode one */
    assert_int_equal(catalog_validate(o, false, err, sizeof err), 0);
    assert_int_equal(catalog_validate(o, true, err, sizeof err), 0);
    json_object_put(o);
    o = parse("{\"Node\":\"a\",\"ServiceID\":5}");
    assert_int_equal(catalog_validate(o, true, err, sizeof err), -EINVAL);
    json_object_put(o);
}

/* ---- No-op writes ---- */

static void identical_reregistration_bumps_nothing_and_notifies_nobody(
    void **state)
{
    (void)state;
    struct catalog *c = new_catalog();
    const char *body =
        "{" NODE_A
        ",\"NodeMeta\":{\"b\":\"1\",\"a\":\"2\"},"
        "\"Service\":{\"Service\":\"web\",\"Tags\":[\"x\"],\"Meta\":{\"m\":"
        "\"1\"}},\"Checks\":[{\"Name\":\"ttl\",\"ServiceID\":\"web\","
        "\"Status\":\"passing\",\"Definition\":{\"TTL\":\"10s\"}},"
        "{\"Name\":\"serfHealth\",\"Status\":\"passing\"}]}";
    assert_int_equal(reg(c, body, 10), 0);
    uint64_t n_ix, s_ix, h_ix, st_ix;
    json_object_put(catalog_nodes(c, &n_ix));
    json_object_put(catalog_services(c, &s_ix));
    json_object_put(catalog_health_service(c, "web", &h_ix));
    json_object_put(catalog_health_state(c, "any", &st_ix, NULL));
    char *before = dump_put(catalog_health_service(c, "web", NULL));
    calls = 0;
    topics_reset();
    assert_int_equal(reg(c, body, 11), 0);
    assert_int_equal(reg(c, body, 12), 0);
    /* SkipNodeUpdate with a different address: still nothing. */
    assert_int_equal(reg(c,
                         "{\"Node\":\"a\",\"Address\":\"9.9.9.9\","
                         "\"SkipNodeUpdate\":true}",
                         13),
                     0);
    /* Deregistering unknown things neither. */
    assert_int_equal(dereg(c, "{\"Node\":\"a\",\"ServiceID\":\"zz\"}", 14), 0);
    assert_int_equal(dereg(c, "{\"Node\":\"a\",\"CheckID\":\"zz\"}", 15), 0);
    assert_int_equal(dereg(c, "{\"Node\":\"zz\"}", 16), 0);
    assert_int_equal(calls, 0);
    assert_int_equal(catalog_index(c), 10);
    uint64_t ix;
    json_object_put(catalog_nodes(c, &ix));
    assert_int_equal(ix, n_ix);
    json_object_put(catalog_services(c, &ix));
    assert_int_equal(ix, s_ix);
    json_object_put(catalog_health_service(c, "web", &ix));
    assert_int_equal(ix, h_ix);
    json_object_put(catalog_health_state(c, "any", &ix, NULL));
    assert_int_equal(ix, st_ix);
    char *after = dump_put(catalog_health_service(c, "web", NULL));
    assert_string_equal(before, after);
    free(before);
    free(after);
    free_catalog(c);
}

/* ---- Topics and indexes ---- */

static void a_change_to_one_service_notifies_only_its_topics(void **state)
{
    (void)state;
    struct catalog *c = new_catalog();
    reg(c, "{" NODE_A ",\"Service\":{\"Service\":\"a1\"}}", 1);
    reg(c,
        "{" NODE_A
        ",\"Service\":{\"Service\":\"b1\"},\"Check\":"
        "{\"CheckID\":\"bc\",\"ServiceID\":\"b1\"}}",
        2);
    reg(c, "{" NODE_B ",\"Service\":{\"Service\":\"a1\"}}", 3);

    topics_reset();
    reg(c, "{" NODE_A ",\"Service\":{\"Service\":\"a1\",\"Port\":1}}", 4);
    assert_true(saw("services"));
    assert_true(saw("svc:a1"));
    assert_true(saw("node:a"));
    assert_false(saw("svc:b1"));
    assert_false(saw("nodes"));
    assert_false(saw("checks"));
    assert_false(saw("node:b"));
    assert_int_equal(n_topics, 3);

    uint64_t ia, ib, na, nb;
    json_object_put(catalog_health_service(c, "a1", &ia));
    json_object_put(catalog_health_service(c, "b1", &ib));
    json_object_put(catalog_node_services(c, "a", &na));
    json_object_put(catalog_node_services(c, "b", &nb));
    assert_int_equal(ia, 4);
    assert_int_equal(ib, 2);
    assert_int_equal(na, 4);
    assert_int_equal(nb, 3);

    /* A service check change. */
    topics_reset();
    reg(c,
        "{" NODE_A
        ",\"Check\":{\"CheckID\":\"bc\",\"ServiceID\":\"b1\","
        "\"Status\":\"passing\"}}",
        5);
    assert_true(saw("checks"));
    assert_true(saw("svc:b1"));
    assert_true(saw("node:a"));
    assert_false(saw("svc:a1"));
    assert_false(saw("services"));
    assert_int_equal(n_topics, 3);
    uint64_t st;
    json_object_put(catalog_health_state(c, "any", &st, NULL));
    assert_int_equal(st, 5);
    json_object_put(catalog_health_service(c, "a1", &ia));
    assert_int_equal(ia, 4);
    free_catalog(c);
}

static void node_level_changes_notify_every_service_on_the_node(void **state)
{
    (void)state;
    struct catalog *c = new_catalog();
    reg(c, "{" NODE_A ",\"Service\":{\"ID\":\"w1\",\"Service\":\"web\"}}", 1);
    reg(c, "{" NODE_A ",\"Service\":{\"ID\":\"w2\",\"Service\":\"Web\"}}", 2);
    reg(c, "{" NODE_A ",\"Service\":{\"Service\":\"db\"}}", 3);
    reg(c, "{" NODE_B ",\"Service\":{\"Service\":\"cache\"}}", 4);

    topics_reset();
    reg(c, "{" NODE_A ",\"Check\":{\"Name\":\"serfHealth\"}}", 5);
    assert_true(saw("checks"));
    assert_true(saw("node:a"));
    assert_true(saw("svc:web"));
    assert_true(saw("svc:db"));
    assert_false(saw("svc:cache"));
    assert_false(saw("services"));
    assert_int_equal(n_topics, 4); /* svc:web once for both spellings */
    uint64_t ix;
    json_object_put(catalog_health_service(c, "db", &ix));
    assert_int_equal(ix, 5);
    json_object_put(catalog_health_service(c, "cache", &ix));
    assert_int_equal(ix, 4);

    /* The node record changed: nodes + every name on it. */
    topics_reset();
    reg(c, "{\"Node\":\"a\",\"Address\":\"10.9.9.9\"}", 6);
    assert_true(saw("nodes"));
    assert_true(saw("node:a"));
    assert_true(saw("svc:web"));
    assert_true(saw("svc:db"));
    assert_false(saw("svc:cache"));
    assert_false(saw("checks"));
    assert_false(saw("services"));
    json_object_put(catalog_service_nodes(c, "WEB", &ix));
    assert_int_equal(ix, 6);

    /* Removing the node-level check too. */
    topics_reset();
    dereg(c, "{\"Node\":\"a\",\"CheckID\":\"serfHealth\"}", 7);
    assert_true(saw("svc:web") && saw("svc:db") && saw("checks"));
    assert_false(saw("svc:cache"));
    free_catalog(c);
}

static void indexes_never_decrease_and_deletes_bump_them(void **state)
{
    (void)state;
    struct catalog *c = new_catalog();
    uint64_t ix;
    json_object_put(catalog_nodes(c, &ix));
    assert_int_equal(ix, 0); /* nothing written yet */
    reg(c, "{" NODE_A "}", 2);
    /* Tables never written report the catalog index, never 0. */
    json_object_put(catalog_services(c, &ix));
    assert_int_equal(ix, 2);
    json_object_put(catalog_health_state(c, "any", &ix, NULL));
    assert_int_equal(ix, 2);
    json_object_put(catalog_health_service(c, "web", &ix));
    assert_int_equal(ix, 2);

    reg(c,
        "{" NODE_A
        ",\"Service\":{\"Service\":\"web\"},\"Check\":"
        "{\"CheckID\":\"k\",\"ServiceID\":\"web\"}}",
        4);
    reg(c, "{" NODE_B ",\"Service\":{\"Service\":\"db\"}}", 6);
    json_object_put(catalog_health_service(c, "web", &ix));
    assert_int_equal(ix, 4);
    json_object_put(catalog_health_node(c, "a", &ix));
    assert_int_equal(ix, 4);

    topics_reset();
    assert_int_equal(dereg(c, "{\"Node\":\"a\",\"ServiceID\":\"web\"}", 9), 0);
    assert_true(saw("services") && saw("checks") && saw("svc:web") &&
                saw("node:a"));
    assert_false(saw("nodes"));
    assert_null(catalog_get_check(c, "a", "k")); /* its checks went along */
    json_object_put(catalog_health_service(c, "web", &ix));
    assert_int_equal(ix, 9); /* unknown name: services table, bumped */
    json_object_put(catalog_health_state(c, "any", &ix, NULL));
    assert_int_equal(ix, 9);
    json_object_put(catalog_health_node(c, "a", &ix));
    assert_int_equal(ix, 9);

    assert_int_equal(dereg(c, "{\"Node\":\"a\"}", 11), 0);
    json_object_put(catalog_nodes(c, &ix));
    assert_int_equal(ix, 11);
    json_object_put(catalog_health_node(c, "a", &ix));
    assert_int_equal(ix, 11); /* unknown node: nodes table */
    json_object_put(catalog_services(c, &ix));
    assert_int_equal(ix, 9); /* node a had no service left */
    json_object_put(catalog_health_service(c, "db", &ix));
    assert_int_equal(ix, 6);
    free_catalog(c);
}

/* ---- Deregister ---- */

static void deregistering_a_node_cascades(void **state)
{
    (void)state;
    struct catalog *c = new_catalog();
    reg(c,
        "{" NODE_A
        ",\"Service\":{\"ID\":\"w1\",\"Service\":\"web\"},"
        "\"Checks\":[{\"CheckID\":\"c1\",\"ServiceID\":\"w1\"},"
        "{\"CheckID\":\"serfHealth\"}]}",
        1);
    reg(c, "{" NODE_A ",\"Service\":{\"ID\":\"d1\",\"Service\":\"db\"}}", 2);
    reg(c, "{" NODE_B ",\"Service\":{\"ID\":\"w2\",\"Service\":\"web\"}}", 3);
    topics_reset();
    assert_int_equal(dereg(c, "{\"Node\":\"a\"}", 4), 0);
    assert_true(saw("nodes") && saw("services") && saw("checks") &&
                saw("node:a") && saw("svc:web") && saw("svc:db"));
    assert_false(saw("node:b"));
    assert_null(catalog_get_node(c, "a"));
    assert_int_equal(catalog_count_nodes(c), 1);
    assert_int_equal(catalog_count_services(c), 1);
    assert_int_equal(catalog_count_checks(c), 0);
    assert_null(catalog_node_services(c, "a", NULL));
    assert_json(catalog_health_node(c, "a", NULL), "[]");
    assert_json(catalog_services(c, NULL), "{\"web\":[]}");
    json_object *e = catalog_health_service(c, "web", NULL);
    assert_int_equal(json_object_array_length(e), 1);
    json_object_put(e);

    /* Deregistering just a check. */
    reg(c,
        "{" NODE_B
        ",\"Checks\":[{\"CheckID\":\"x\"},{\"CheckID\":"
        "\"y\",\"ServiceID\":\"w2\"}]}",
        5);
    assert_int_equal(dereg(c, "{\"Node\":\"b\",\"CheckID\":\"y\"}", 6), 0);
    assert_null(catalog_get_check(c, "b", "y"));
    assert_non_null(catalog_get_check(c, "b", "x"));
    assert_non_null(catalog_get_service(c, "b", "w2"));
    /* Both ServiceID and CheckID: both go, the node stays. */
    assert_int_equal(
        dereg(c, "{\"node\":\"b\",\"service_id\":\"w2\",\"CheckID\":\"x\"}", 7),
        0);
    assert_non_null(catalog_get_node(c, "b"));
    assert_int_equal(catalog_count_services(c), 0);
    assert_int_equal(catalog_count_checks(c), 0);
    assert_json(catalog_services(c, NULL), "{}");

    assert_int_equal(dereg(c, "{\"ServiceID\":\"w2\"}", 8), -EINVAL);
    assert_string_equal(last_err, "Must provide node");
    assert_int_equal(dereg(c, "{\"Node\":[]}", 8), -EINVAL);
    free_catalog(c);
}

/* ---- Reads ---- */

static void reads_are_sorted(void **state)
{
    (void)state;
    struct catalog *c = new_catalog();
    const char *nodes[] = {"n3", "n1", "n2"};
    for (int i = 0; i < 3; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"Node\":\"%s\",\"Address\":\"1.1.1.%d\",\"Service\":"
                 "{\"ID\":\"web-%d\",\"Service\":\"web\",\"Tags\":[\"t%d\","
                 "\"common\"]}}",
                 nodes[i], i, 2 - i, i);
        assert_int_equal(reg(c, body, (uint64_t)i + 1), 0);
    }
    reg(c,
        "{\"Node\":\"n1\",\"Address\":\"1.1.1.1\",\"Service\":{\"ID\":"
        "\"web-0\",\"Service\":\"web\"}}",
        4);
    reg(c,
        "{\"Node\":\"n1\",\"Address\":\"1.1.1.1\",\"Service\":{\"ID\":"
        "\"Zed\",\"Service\":\"Zeta\"}}",
        5);
    reg(c,
        "{\"Node\":\"n1\",\"Address\":\"1.1.1.1\",\"Service\":{\"ID\":"
        "\"alpha\",\"Service\":\"alpha\",\"Tags\":[\"b\",\"a\",\"b\"]}}",
        6);

    json_object *a = catalog_nodes(c, NULL);
    assert_int_equal(json_object_array_length(a), 3);
    for (size_t i = 0; i < 3; i++) {
        char want[8];
        snprintf(want, sizeof want, "n%zu", i + 1);
        assert_string_equal(gets(json_object_array_get_idx(a, i), "Node"),
                            want);
    }
    json_object_put(a);

    a = catalog_service_nodes(c, "web", NULL);
    assert_int_equal(json_object_array_length(a), 4);
    const char *want[][2] = {
        {"n1", "web-0"}, {"n1", "web-1"}, {"n2", "web-0"}, {"n3", "web-2"}};
    for (size_t i = 0; i < 4; i++) {
        json_object *e = json_object_array_get_idx(a, i);
        assert_string_equal(gets(e, "Node"), want[i][0]);
        assert_string_equal(gets(e, "ServiceID"), want[i][1]);
    }
    json_object_put(a);

    a = catalog_health_service(c, "web", NULL);
    assert_int_equal(json_object_array_length(a), 4);
    for (size_t i = 0; i < 4; i++) {
        json_object *e = json_object_array_get_idx(a, i);
        assert_string_equal(gets(get(e, "Node"), "Node"), want[i][0]);
        assert_string_equal(gets(get(e, "Service"), "ID"), want[i][1]);
    }
    json_object_put(a);

    /* Keys bytewise (Go sorts map keys); tags sorted and de-duplicated. */
    assert_json(catalog_services(c, NULL),
                "{\"Zeta\":[],\"alpha\":[\"a\",\"b\"],\"web\":[\"common\","
                "\"t0\",\"t1\",\"t2\"]}");
    free_catalog(c);
}

/* catalog_services_where: a keep callback that selects instances by a
 * field of the CatalogService record, and counts the calls. */
struct where_ctx
{
    const char *field, *value;
    int calls;
    int fail_at; /* call number that returns -EINVAL, 0: never */
};

static int where_keep(void *data, json_object *inst)
{
    struct where_ctx *w = data;
    w->calls++;
    if (w->fail_at != 0 && w->calls == w->fail_at)
        return -EINVAL;
    /* every instance is shown whole: node and service fields */
    assert_non_null(json_object_object_get(inst, "Node"));
    assert_non_null(json_object_object_get(inst, "ServiceName"));
    json_object *v = json_object_object_get(inst, w->field);
    return v != NULL && strcmp(json_object_get_string(v), w->value) == 0;
}

static void services_where_groups_the_kept_instances(void **state)
{
    (void)state;
    struct catalog *c = new_catalog();
    reg(c,
        "{" NODE_A
        ",\"Service\":{\"ID\":\"w1\",\"Service\":\"web\","
        "\"Tags\":[\"v1\",\"x\"],\"Port\":80}}",
        1);
    reg(c,
        "{" NODE_B
        ",\"Service\":{\"ID\":\"w2\",\"Service\":\"web\","
        "\"Tags\":[\"v2\",\"x\"],\"Port\":81}}",
        2);
    reg(c, "{" NODE_B ",\"Service\":{\"ID\":\"db\",\"Service\":\"db\"}}", 3);
    uint64_t ix = 0, all_ix = 0;
    int rc = 1;
    json_object_put(catalog_services(c, &all_ix));

    /* by a node field: only b's instances, web with w2's tags only */
    struct where_ctx w = {.field = "Node", .value = "b"};
    assert_json(catalog_services_where(c, where_keep, &w, &ix, &rc),
                "{\"db\":[],\"web\":[\"v2\",\"x\"]}");
    assert_int_equal(rc, 0);
    assert_int_equal(w.calls, 3);
    assert_int_equal(ix, all_ix);

    /* by a service field */
    w = (struct where_ctx){.field = "ServiceID", .value = "w1"};
    assert_json(catalog_services_where(c, where_keep, &w, NULL, NULL),
                "{\"web\":[\"v1\",\"x\"]}");

    /* nothing kept: {} */
    w = (struct where_ctx){.field = "ServiceName", .value = "nope"};
    assert_json(catalog_services_where(c, where_keep, &w, NULL, &rc), "{}");
    assert_int_equal(rc, 0);

    /* the callback's error stops the walk and is returned */
    w = (struct where_ctx){.field = "Node", .value = "a", .fail_at = 2};
    assert_null(catalog_services_where(c, where_keep, &w, &ix, &rc));
    assert_int_equal(rc, -EINVAL);
    assert_int_equal(w.calls, 2);

    /* the unfiltered, cached answer is untouched */
    assert_json(catalog_services(c, NULL),
                "{\"db\":[],\"web\":[\"v1\",\"v2\",\"x\"]}");
    free_catalog(c);
}

static void service_names_match_case_insensitively(void **state)
{
    (void)state;
    struct catalog *c = new_catalog();
    reg(c, "{" NODE_A ",\"Service\":{\"ID\":\"1\",\"Service\":\"Web\"}}", 1);
    reg(c, "{" NODE_B ",\"Service\":{\"ID\":\"2\",\"Service\":\"web\"}}", 2);
    uint64_t ix;
    json_object *a = catalog_service_nodes(c, "WEB", &ix);
    assert_int_equal(json_object_array_length(a), 2);
    assert_string_equal(gets(json_object_array_get_idx(a, 0), "ServiceName"),
                        "Web");
    assert_int_equal(ix, 2);
    json_object_put(a);
    a = catalog_health_service(c, "wEb", NULL);
    assert_int_equal(json_object_array_length(a), 2);
    json_object_put(a);
    /* As in Consul, /v1/catalog/services keeps each spelling. */
    assert_json(catalog_services(c, NULL), "{\"Web\":[],\"web\":[]}");
    topics_reset();
    reg(c, "{" NODE_B ",\"Service\":{\"ID\":\"2\",\"Service\":\"WEB\"}}", 3);
    assert_true(saw("svc:web"));
    assert_int_equal(n_topics, 3);
    free_catalog(c);
}

static void health_reads_put_node_checks_first(void **state)
{
    (void)state;
    struct catalog *c = new_catalog();
    reg(c,
        "{" NODE_A
        ",\"Service\":{\"Service\":\"web\"},\"Checks\":["
        "{\"CheckID\":\"a-svc\",\"ServiceID\":\"web\",\"Status\":"
        "\"passing\"},{\"CheckID\":\"z-node\",\"Status\":\"passing\"},"
        "{\"CheckID\":\"m-node\",\"Status\":\"warning\"}]}",
        1);
    reg(c,
        "{" NODE_B
        ",\"Service\":{\"Service\":\"db\"},\"Checks\":["
        "{\"CheckID\":\"db-check\",\"ServiceID\":\"db\"}]}",
        2);
    json_object *a = catalog_health_service(c, "web", NULL);
    json_object *checks = get(json_object_array_get_idx(a, 0), "Checks");
    assert_int_equal(json_object_array_length(checks), 3);
    assert_string_equal(gets(json_object_array_get_idx(checks, 0), "CheckID"),
                        "m-node");
    assert_string_equal(gets(json_object_array_get_idx(checks, 1), "CheckID"),
                        "z-node");
    assert_string_equal(gets(json_object_array_get_idx(checks, 2), "CheckID"),
                        "a-svc");
    json_object_put(a);

    a = catalog_health_node(c, "a", NULL);
    assert_int_equal(json_object_array_length(a), 3);
    assert_string_equal(gets(json_object_array_get_idx(a, 2), "CheckID"),
                        "a-svc");
    json_object_put(a);

    a = catalog_health_checks(c, "web", NULL);
    assert_int_equal(json_object_array_length(a), 1);
    assert_string_equal(gets(json_object_array_get_idx(a, 0), "CheckID"),
                        "a-svc");
    json_object_put(a);
    assert_json(catalog_health_checks(c, "nope", NULL), "[]");
    assert_json(catalog_health_service(c, "nope", NULL), "[]");
    assert_json(catalog_service_nodes(c, "nope", NULL), "[]");
    free_catalog(c);
}

static void health_state_filters_by_status(void **state)
{
    (void)state;
    struct catalog *c = new_catalog();
    reg(c,
        "{" NODE_A
        ",\"Service\":{\"Service\":\"web\"},\"Checks\":["
        "{\"CheckID\":\"p\",\"Status\":\"passing\"},"
        "{\"CheckID\":\"w\",\"Status\":\"warning\",\"ServiceID\":\"web\"},"
        "{\"CheckID\":\"c\"}]}",
        1);
    reg(c,
        "{" NODE_B
        ",\"Checks\":[{\"CheckID\":\"p2\",\"Status\":"
        "\"passing\"},{\"CheckID\":\"m\",\"Status\":\"maintenance\"}]}",
        2);
    int rc = 1;
    uint64_t ix;
    json_object *a = catalog_health_state(c, "any", &ix, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(json_object_array_length(a), 5);
    assert_int_equal(ix, 2);
    json_object_put(a);
    a = catalog_health_state(c, "passing", NULL, &rc);
    assert_int_equal(json_object_array_length(a), 2);
    assert_string_equal(gets(json_object_array_get_idx(a, 0), "Node"), "a");
    assert_string_equal(gets(json_object_array_get_idx(a, 1), "Node"), "b");
    json_object_put(a);
    a = catalog_health_state(c, "warning", NULL, &rc);
    assert_int_equal(json_object_array_length(a), 1);
    json_object_put(a);
    a = catalog_health_state(c, "critical", NULL, &rc);
    assert_int_equal(json_object_array_length(a), 1);
    assert_string_equal(gets(json_object_array_get_idx(a, 0), "CheckID"), "c");
    json_object_put(a);
    assert_null(catalog_health_state(c, "maintenance", NULL, &rc));
    assert_int_equal(rc, -EINVAL);
    assert_null(catalog_health_state(c, "Passing", NULL, &rc));
    assert_int_equal(rc, -EINVAL);
    assert_null(catalog_health_state(c, "", NULL, NULL));
    free_catalog(c);
}

/* ---- Snapshots ---- */

/* Every read of `c` as one string, with indexes. */
static char *everything(struct catalog *c)
{
    json_object *all = json_object_new_array();
    uint64_t ix;
    char num[32];
#define ADD(expr)                                                  \
    do {                                                           \
        json_object_array_add(all, (expr));                        \
        snprintf(num, sizeof num, "%llu", (unsigned long long)ix); \
        json_object_array_add(all, json_object_new_string(num));   \
    } while (0)
    ADD(catalog_nodes(c, &ix));
    ADD(catalog_services(c, &ix));
    ADD(catalog_health_state(c, "any", &ix, NULL));
    const char *names[] = {"web", "db", "gone", "Mixed", "x\"y"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        ADD(catalog_service_nodes(c, names[i], &ix));
        ADD(catalog_health_service(c, names[i], &ix));
        ADD(catalog_health_checks(c, names[i], &ix));
    }
    const char *nodes[] = {"a", "b", "c", "zz"};
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        ADD(catalog_node_services(c, nodes[i], &ix));
        ADD(catalog_health_node(c, nodes[i], &ix));
    }
#undef ADD
    snprintf(num, sizeof num, "%llu", (unsigned long long)catalog_index(c));
    json_object_array_add(all, json_object_new_string(num));
    return dump_put(all);
}

static void populate(struct catalog *c)
{
    reg(c,
        "{" NODE_A
        ",\"NodeMeta\":{\"rack\":\"r1\"},\"Service\":{\"ID\":"
        "\"w1\",\"Service\":\"web\",\"Tags\":[\"v1\"],\"Port\":80,"
        "\"Meta\":{\"big\":\"\\u00e9<>&\"}},\"Checks\":[{\"CheckID\":"
        "\"serfHealth\",\"Status\":\"passing\"},{\"CheckID\":\"w1-ttl\","
        "\"ServiceID\":\"w1\",\"Definition\":{\"TTL\":\"10s\","
        "\"N\":18446744073709551615}}]}",
        3);
    reg(c, "{" NODE_B ",\"Service\":{\"ID\":\"w2\",\"Service\":\"Web\"}}", 5);
    reg(c,
        "{" NODE_B
        ",\"Service\":{\"ID\":\"d\",\"Service\":\"db\"},"
        "\"Check\":{\"CheckID\":\"d\",\"ServiceID\":\"d\",\"Status\":"
        "\"warning\"}}",
        7);
    reg(c,
        "{\"Node\":\"c\",\"Address\":\"x\",\"Service\":{\"Service\":"
        "\"gone\"}}",
        8);
    reg(c,
        "{\"Node\":\"c\",\"Address\":\"x\",\"Service\":{\"Service\":"
        "\"x\\\"y\"}}",
        9);
    dereg(c, "{\"Node\":\"c\",\"ServiceID\":\"gone\"}", 10);
    reg(c, "{" NODE_A ",\"Check\":{\"CheckID\":\"maint\"}}", 12);
}

static void snapshot_round_trip_restores_every_read(void **state)
{
    (void)state;
    struct catalog *c = new_catalog();
    populate(c);
    char *want = everything(c);

    struct catalog_pin *p = catalog_pin(c);
    assert_non_null(p);
    /* Writes (and even freeing the catalog) after the pin do not show. */
    reg(c,
        "{" NODE_A
        ",\"Service\":{\"ID\":\"w1\",\"Service\":\"web\","
        "\"Tags\":[\"v2\"]}}",
        20);
    dereg(c, "{\"Node\":\"b\"}", 21);
    free_catalog(c);

    char *buf;
    size_t len;
    assert_int_equal(catalog_pin_write(p, &buf, &len), 0);
    assert_int_equal(strlen(buf), len);
    catalog_pin_free(p);

    struct catalog *d = new_catalog();
    reg(d,
        "{\"Node\":\"old\",\"Address\":\"1\",\"Service\":{\"Service\":"
        "\"oldsvc\"}}",
        1);
    topics_reset();
    assert_int_equal(catalog_restore(d, buf, len), 0);
    /* Watchers of the old and the new content all wake. */
    assert_true(saw("nodes") && saw("services") && saw("checks"));
    assert_true(saw("node:old") && saw("svc:oldsvc"));
    assert_true(saw("node:a") && saw("node:b") && saw("svc:web") &&
                saw("svc:db"));
    char *got = everything(d);
    assert_string_equal(got, want);
    assert_null(catalog_get_node(d, "old"));

    /* The restored catalog works on: a new write at a later index. */
    assert_int_equal(reg(d,
                         "{" NODE_A ",\"Service\":{\"ID\":\"w1\","
                         "\"Service\":\"web\",\"Tags\":[\"v3\"]}}",
                         30),
                     0);
    json_object *k = (json_object *)catalog_get_check(d, "a", "w1-ttl");
    assert_json(json_object_get(get(k, "ServiceTags")), "[\"v3\"]");
    assert_int_equal(getu(k, "CreateIndex"), 3);

    /* An empty catalog round trips too. */
    struct catalog *e = new_catalog();
    p = catalog_pin(e);
    char *ebuf;
    size_t elen;
    assert_int_equal(catalog_pin_write(p, &ebuf, &elen), 0);
    catalog_pin_free(p);
    assert_int_equal(catalog_restore(d, ebuf, elen), 0);
    assert_int_equal(catalog_count_nodes(d), 0);
    char *e1 = everything(d), *e2 = everything(e);
    assert_string_equal(e1, e2);
    free(e1);
    free(e2);
    free(ebuf);
    free_catalog(e);

    free(got);
    free(want);
    free(buf);
    free_catalog(d);
}

static void malformed_restore_input_changes_nothing(void **state)
{
    (void)state;
    struct catalog *c = new_catalog();
    populate(c);
    struct catalog_pin *p = catalog_pin(c);
    char *buf;
    size_t len;
    assert_int_equal(catalog_pin_write(p, &buf, &len), 0);
    catalog_pin_free(p);

    struct catalog *d = new_catalog();
    reg(d, "{" NODE_A ",\"Service\":{\"Service\":\"keep\"}}", 1);
    char *want = everything(d);
    calls = 0;
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(catalog_restore(d, buf, cut), -EINVAL);
    const char *bad[] = {
        "null",
        "[]",
        "{}",
        "{\"Index\":1,\"NodesIndex\":1,\"ServicesIndex\":1,\"ChecksIndex\":1,"
        "\"Nodes\":{},\"Names\":[]}",
        "{\"Index\":-1,\"NodesIndex\":1,\"ServicesIndex\":1,\"ChecksIndex\":1,"
        "\"Nodes\":[],\"Names\":[]}",
        /* Node without a name. */
        "{\"Index\":1,\"NodesIndex\":1,\"ServicesIndex\":1,\"ChecksIndex\":1,"
        "\"Nodes\":[{\"Index\":1,\"Node\":{},\"Services\":[],\"Checks\":[]}],"
        "\"Names\":[]}",
        /* Duplicate node. */
        "{\"Index\":1,\"NodesIndex\":1,\"ServicesIndex\":1,\"ChecksIndex\":1,"
        "\"Nodes\":[{\"Index\":1,\"Node\":{\"Node\":\"q\"},\"Services\":[],"
        "\"Checks\":[]},{\"Index\":1,\"Node\":{\"Node\":\"q\"},\"Services\":"
        "[],\"Checks\":[]}],\"Names\":[]}",
        /* Duplicate service ID. */
        "{\"Index\":1,\"NodesIndex\":1,\"ServicesIndex\":1,\"ChecksIndex\":1,"
        "\"Nodes\":[{\"Index\":1,\"Node\":{\"Node\":\"q\"},\"Services\":["
        "{\"ID\":\"s\",\"Service\":\"s\"},{\"ID\":\"s\",\"Service\":\"t\"}],"
        "\"Checks\":[]}],\"Names\":[]}",
        /* Check of a service that is not there. */
        "{\"Index\":1,\"NodesIndex\":1,\"ServicesIndex\":1,\"ChecksIndex\":1,"
        "\"Nodes\":[{\"Index\":1,\"Node\":{\"Node\":\"q\"},\"Services\":[],"
        "\"Checks\":[{\"CheckID\":\"k\",\"ServiceID\":\"s\"}]}],"
        "\"Names\":[]}",
        /* Service without a name; check with a numeric ServiceID. */
        "{\"Index\":1,\"NodesIndex\":1,\"ServicesIndex\":1,\"ChecksIndex\":1,"
        "\"Nodes\":[{\"Index\":1,\"Node\":{\"Node\":\"q\"},\"Services\":["
        "{\"ID\":\"s\"}],\"Checks\":[]}],\"Names\":[]}",
        "{\"Index\":1,\"NodesIndex\":1,\"ServicesIndex\":1,\"ChecksIndex\":1,"
        "\"Nodes\":[{\"Index\":1,\"Node\":{\"Node\":\"q\"},\"Services\":[],"
        "\"Checks\":[{\"CheckID\":\"k\",\"ServiceID\":1}]}],\"Names\":[]}",
        /* Bad Names entry. */
        "{\"Index\":1,\"NodesIndex\":1,\"ServicesIndex\":1,\"ChecksIndex\":1,"
        "\"Nodes\":[],\"Names\":[{\"Name\":\"x\",\"Index\":\"1\"}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (catalog_restore(d, bad[i], strlen(bad[i])) != -EINVAL)
            fail_msg("accepted: %s", bad[i]);
    }
    assert_int_equal(calls, 0);
    char *got = everything(d);
    assert_string_equal(got, want);
    free(got);
    free(want);
    free(buf);
    free_catalog(c);
    free_catalog(d);
}

/* Free-form objects nest at most 32 levels, so that every snapshot
 * (which puts them a few levels further down) parses back. */
static void deep_free_form_objects_are_bounded(void **state)
{
    (void)state;
    struct catalog *c = new_catalog();
    char body[512];
    for (int depth = 32; depth <= 33; depth++) {
        char nest[200] = "";
        for (int i = 1; i < depth; i++)
            strcat(nest, "{\"a\":");
        strcat(nest, "{}");
        for (int i = 1; i < depth; i++)
            strcat(nest, "}");
        snprintf(body, sizeof body,
                 "{" NODE_A
                 ",\"Check\":{\"CheckID\":\"k\","
                 "\"Definition\":%s}}",
                 nest);
        assert_int_equal(reg(c, body, (uint64_t)depth),
                         depth == 32 ? 0 : -EINVAL);
    }
    assert_non_null(strstr(last_err, "nesting"));
    struct catalog_pin *p = catalog_pin(c);
    char *buf;
    size_t len;
    assert_int_equal(catalog_pin_write(p, &buf, &len), 0);
    catalog_pin_free(p);
    struct catalog *d = new_catalog();
    assert_int_equal(catalog_restore(d, buf, len), 0);
    assert_non_null(catalog_get_check(d, "a", "k"));
    free(buf);
    free_catalog(d);
    free_catalog(c);
}

/* ---- Scale ---- */

static void ten_thousand_services_read_by_name(void **state)
{
    (void)state;
    struct catalog *c = new_catalog();
    catalog_set_change_cb(c, NULL, NULL);
    uint64_t index = 1;
    char body[512];
    for (int i = 0; i < 10; i++) {
        snprintf(body, sizeof body,
                 "{\"Node\":\"node-%02d\",\"Address\":\"10.0.0.%d\","
                 "\"Check\":{\"CheckID\":\"serfHealth\",\"Status\":"
                 "\"passing\"}}",
                 i, i);
        assert_int_equal(reg(c, body, index++), 0);
    }
    for (int n = 0; n < 1000; n++) {
        for (int i = 0; i < 10; i++) {
            snprintf(body, sizeof body,
                     "{\"Node\":\"node-%02d\",\"Address\":\"10.0.0.%d\","
                     "\"Service\":{\"ID\":\"svc-%04d-%d\",\"Service\":"
                     "\"svc-%04d\",\"Port\":%d,\"Tags\":[\"t%d\"]},"
                     "\"Check\":{\"CheckID\":\"ttl-%04d-%d\",\"ServiceID\":"
                     "\"svc-%04d-%d\",\"Type\":\"ttl\"}}",
                     i, i, n, i, n, 1000 + i, i, n, i, n, i);
            assert_int_equal(reg(c, body, index++), 0);
        }
    }
    assert_int_equal(catalog_count_services(c), 10000);
    assert_int_equal(catalog_count_checks(c), 10010);
    for (int r = 0; r < 1000; r++) {
        char name[32];
        snprintf(name, sizeof name, "svc-%04d", (r * 7) % 1000);
        uint64_t ix;
        json_object *a = catalog_health_service(c, name, &ix);
        assert_int_equal(json_object_array_length(a), 10);
        json_object *e = json_object_array_get_idx(a, 9);
        assert_string_equal(gets(get(e, "Node"), "Node"), "node-09");
        assert_int_equal(json_object_array_length(get(e, "Checks")), 2);
        json_object_put(a);
    }
    uint64_t ix;
    json_object *a = catalog_health_service(c, "svc-0999", &ix);
    assert_int_equal(ix, index - 1);
    json_object_put(a);
    json_object *s = catalog_services(c, NULL);
    assert_int_equal(json_object_object_length(s), 1000);
    json_object_put(s);
    /* Re-registering everything as it is: no index moves. */
    uint64_t before = catalog_index(c);
    snprintf(body, sizeof body,
             "{\"Node\":\"node-03\",\"Address\":\"10.0.0.3\","
             "\"Service\":{\"ID\":\"svc-0500-3\",\"Service\":\"svc-0500\","
             "\"Port\":1003,\"Tags\":[\"t3\"]},\"Check\":{\"CheckID\":"
             "\"ttl-0500-3\",\"ServiceID\":\"svc-0500-3\",\"Type\":\"ttl\"}}");
    assert_int_equal(reg(c, body, index++), 0);
    assert_int_equal(catalog_index(c), before);
    free_catalog(c);
}


/* catalog_services is memoised: the same answer while nothing changes, a
 * fresh one as soon as a service changes (and after a restore). */
static void services_answer_is_cached_until_services_change(void **state)
{
    (void)state;
    struct catalog *c = catalog_new();
    uint64_t i1, i2, i3;
    assert_int_equal(reg(c, "{\"Node\":\"n1\",\"Address\":\"10.0.0.1\","
                            "\"Service\":{\"Service\":\"web\",\"Tags\":[\"a\"]}}",
                         5),
                     0);
    json_object *a = catalog_services(c, &i1);
    json_object *b = catalog_services(c, &i2);
    assert_ptr_equal(a, b); /* cached */
    assert_int_equal(i1, i2);
    assert_int_equal(reg(c, "{\"Node\":\"n1\",\"Address\":\"10.0.0.1\","
                            "\"Service\":{\"Service\":\"db\"}}",
                         6),
                     0);
    json_object *d = catalog_services(c, &i3);
    assert_ptr_not_equal(a, d);
    assert_true(i3 > i1);
    json_object *v;
    assert_true(json_object_object_get_ex(d, "db", &v));
    assert_false(json_object_object_get_ex(a, "db", &v)); /* old answer intact */
    json_object_put(a);
    json_object_put(b);
    json_object_put(d);
    catalog_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(register_fills_defaults_in_consul_shapes),
        cmocka_unit_test(services_answer_is_cached_until_services_change),
        cmocka_unit_test(register_keeps_given_fields_sorted_maps_and_aliases),
        cmocka_unit_test(foreach_visits_a_nodes_services_and_checks_in_order),
        cmocka_unit_test(update_keeps_create_index_and_sets_modify_index),
        cmocka_unit_test(records_are_immutable_and_old_reads_stay_valid),
        cmocka_unit_test(skip_node_update_leaves_the_node_alone),
        cmocka_unit_test(reregistering_a_service_relinks_its_checks),
        cmocka_unit_test(later_check_with_the_same_id_wins),
        cmocka_unit_test(validation_errors_leave_nothing_half_done),
        cmocka_unit_test(validate_reports_only_type_errors),
        cmocka_unit_test(
            identical_reregistration_bumps_nothing_and_notifies_nobody),
        cmocka_unit_test(a_change_to_one_service_notifies_only_its_topics),
        cmocka_unit_test(node_level_changes_notify_every_service_on_the_node),
        cmocka_unit_test(indexes_never_decrease_and_deletes_bump_them),
        cmocka_unit_test(deregistering_a_node_cascades),
        cmocka_unit_test(reads_are_sorted),
        cmocka_unit_test(services_where_groups_the_kept_instances),
        cmocka_unit_test(service_names_match_case_insensitively),
        cmocka_unit_test(health_reads_put_node_checks_first),
        cmocka_unit_test(health_state_filters_by_status),
        cmocka_unit_test(snapshot_round_trip_restores_every_read),
        cmocka_unit_test(malformed_restore_input_changes_nothing),
        cmocka_unit_test(deep_free_form_objects_are_bounded),
        cmocka_unit_test(ten_thousand_services_read_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
