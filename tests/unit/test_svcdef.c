/* Unit tests for service and check definition decoding: both key styles,
 * defaults and generated IDs, and every rejected case with Consul's status
 * and text. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "svcdef.h"

static const struct svcdef_policy no_scripts = {.allow_scripts = false};
static const struct svcdef_policy scripts = {.allow_scripts = true};

static json_object *J(const char *text)
{
    char err[128];
    json_object *o = json_parse(text, strlen(text), err, sizeof err);
    if (o == NULL)
        fail_msg("bad test JSON: %s", err);
    return o;
}

static void service_ok(const char *text, const struct svcdef_policy *p,
                       json_object **svc, json_object **checks)
{
    struct svcdef_err e;
    json_object *in = J(text);
    int rv = svcdef_service(in, p, svc, checks, &e);
    json_object_put(in);
    if (rv != 0)
        fail_msg("rejected: %u %s", e.status, e.msg);
}

static void service_err(const char *text, const struct svcdef_policy *p,
                        unsigned status, const char *msg_prefix)
{
    struct svcdef_err e;
    json_object *in = J(text), *svc = NULL, *checks = NULL;
    assert_int_equal(svcdef_service(in, p, &svc, &checks, &e), -EINVAL);
    json_object_put(in);
    assert_null(svc);
    assert_null(checks);
    assert_int_equal(e.status, status);
    if (strncmp(e.msg, msg_prefix, strlen(msg_prefix)) != 0)
        fail_msg("message \"%s\" does not start with \"%s\"", e.msg,
                 msg_prefix);
}

static void pascal_lower_and_snake_case_decode_alike(void **state)
{
    (void)state;
    const char *forms[] = {
        "{\"Name\":\"web\",\"Port\":80,\"Tags\":[\"a\"],"
        "\"EnableTagOverride\":true,\"Meta\":{\"v\":\"1\"}}",
        "{\"name\":\"web\",\"port\":80,\"tags\":[\"a\"],"
        "\"enabletagoverride\":true,\"meta\":{\"v\":\"1\"}}",
        "{\"name\":\"web\",\"port\":80,\"tags\":[\"a\"],"
        "\"enable_tag_override\":true,\"meta\":{\"v\":\"1\"}}",
    };
    json_object *first = NULL;
    for (size_t i = 0; i < 3; i++) {
        json_object *svc, *checks;
        service_ok(forms[i], &no_scripts, &svc, &checks);
        assert_string_equal(svcdef_str(svc, "ID"), "web");
        assert_string_equal(svcdef_str(svc, "Service"), "web");
        assert_int_equal(svcdef_int(svc, "Port"), 80);
        if (first == NULL)
            first = json_object_get(svc);
        else
            assert_true(json_object_equal(first, svc));
        json_object_put(svc);
        json_object_put(checks);
    }
    json_object_put(first);
}

static void defaults_are_consuls(void **state)
{
    (void)state;
    json_object *svc, *checks, *v;
    service_ok("{\"Name\":\"db\"}", &no_scripts, &svc, &checks);
    assert_true(json_object_object_get_ex(svc, "Tags", &v));
    assert_int_equal(json_object_array_length(v), 0); /* never null */
    assert_true(json_object_object_get_ex(svc, "Meta", &v));
    assert_int_equal(json_object_object_length(v), 0);
    assert_true(json_object_object_get_ex(svc, "Weights", &v));
    assert_int_equal(svcdef_int(v, "Passing"), 1);
    assert_int_equal(svcdef_int(v, "Warning"), 1);
    assert_int_equal(json_object_array_length(checks), 0);
    json_object_put(svc);
    json_object_put(checks);
}

static void check_ids_and_names_are_generated(void **state)
{
    (void)state;
    json_object *svc, *checks;
    service_ok("{\"Name\":\"web\",\"ID\":\"web1\","
               "\"Check\":{\"TTL\":\"10s\"},"
               "\"Checks\":[{\"HTTP\":\"http://127.0.0.1/\",\"Interval\":"
               "\"5s\"},{\"TCP\":\"127.0.0.1:1\",\"Interval\":\"5s\","
               "\"CheckID\":\"mine\"}]}",
               &no_scripts, &svc, &checks);
    assert_int_equal(json_object_array_length(checks), 3);
    json_object *c0 = json_object_array_get_idx(checks, 0);
    json_object *c1 = json_object_array_get_idx(checks, 1);
    json_object *c2 = json_object_array_get_idx(checks, 2);
    assert_string_equal(svcdef_str(c0, "CheckID"), "service:web1");
    assert_string_equal(svcdef_str(c0, "Name"), "Service 'web' check");
    assert_string_equal(svcdef_str(c0, "Type"), "ttl");
    assert_string_equal(svcdef_str(c0, "Status"), "critical");
    assert_string_equal(svcdef_str(c0, "ServiceID"), "web1");
    assert_int_equal(svcdef_ms(c0, "TTL"), 10000);
    assert_string_equal(svcdef_str(c1, "CheckID"), "service:web1:1");
    assert_string_equal(svcdef_str(c1, "Type"), "http");
    assert_string_equal(svcdef_str(c1, "Timeout"), "10s"); /* default */
    assert_string_equal(svcdef_str(c2, "CheckID"), "mine");
    assert_string_equal(svcdef_str(c2, "Type"), "tcp");
    json_object_put(svc);
    json_object_put(checks);
}

static void args_and_script_args_both_work(void **state)
{
    (void)state;
    const char *forms[] = {
        "{\"Name\":\"s\",\"Check\":{\"Args\":[\"/bin/true\"],\"Interval\":\"1s\"}}",
        "{\"Name\":\"s\",\"Check\":{\"ScriptArgs\":[\"/bin/true\"],\"Interval\":\"1s\"}}",
        "{\"Name\":\"s\",\"Check\":{\"script_args\":[\"/bin/true\"],\"interval\":\"1s\"}}",
    };
    for (size_t i = 0; i < 3; i++) {
        json_object *svc, *checks, *args;
        service_ok(forms[i], &scripts, &svc, &checks);
        json_object *c = json_object_array_get_idx(checks, 0);
        assert_string_equal(svcdef_str(c, "Type"), "script");
        assert_true(json_object_object_get_ex(c, "Args", &args));
        assert_string_equal(
            json_object_get_string(json_object_array_get_idx(args, 0)),
            "/bin/true");
        json_object_put(svc);
        json_object_put(checks);
    }
}

static void invalid_services_are_rejected(void **state)
{
    (void)state;
    service_err("{\"Port\":80}", &no_scripts, 400, "Missing service name");
    service_err("{\"Name\":\"x\",\"Address\":\"0.0.0.0\"}", &no_scripts, 400,
                "Invalid service address");
    service_err("{\"Name\":\"x\",\"Meta\":{\"consul-x\":\"1\"}}", &no_scripts,
                400, "Invalid Service Meta");
    service_err("{\"Name\":\"x\",\"Meta\":{\"bad key\":\"1\"}}", &no_scripts,
                400, "Invalid Service Meta");
    service_err("{\"Name\":\"x\",\"Weights\":{\"Passing\":0}}", &no_scripts,
                400, "Invalid Weights");
    service_err("{\"Name\":\"x\",\"Port\":70000}", &no_scripts, 400,
                "Request decode failed");
    service_err("{\"Name\":\"x\",\"Tags\":[1]}", &no_scripts, 400,
                "Request decode failed");
    service_err("[1]", &no_scripts, 400, "Request decode failed");
}

static void invalid_checks_are_rejected(void **state)
{
    (void)state;
    service_err("{\"Name\":\"x\",\"Check\":{}}", &no_scripts, 400,
                "Invalid check: one of");
    service_err("{\"Name\":\"x\",\"Check\":{\"TTL\":\"1s\",\"TCP\":\"a:1\","
                "\"Interval\":\"1s\"}}",
                &no_scripts, 400, "Invalid check: only one");
    service_err("{\"Name\":\"x\",\"Check\":{\"HTTP\":\"http://a/\"}}",
                &no_scripts, 400, "Invalid check: Interval must be > 0");
    service_err("{\"Name\":\"x\",\"Check\":{\"TTL\":\"1s\",\"Status\":"
                "\"ok\"}}",
                &no_scripts, 400,
                "Status for checks must 'passing', 'warning', 'critical'");
    service_err("{\"Name\":\"x\",\"Check\":{\"GRPC\":\"a:1\",\"Interval\":"
                "\"1s\"}}",
                &no_scripts, 400, "Invalid check: GRPC");
    service_err("{\"Name\":\"x\",\"Check\":{\"TTL\":\"banana\"}}",
                &no_scripts, 400, "Request decode failed");
    service_err("{\"Name\":\"x\",\"Check\":{\"Args\":[\"/bin/true\"],"
                "\"Interval\":\"1s\"}}",
                &no_scripts, 500, "Scripts are disabled on this agent");

    /* A standalone check needs a name and uses the short status text. */
    struct svcdef_err e;
    json_object *c = NULL, *in = J("{\"TTL\":\"5s\"}");
    assert_int_equal(svcdef_check(in, NULL, NULL, NULL, &no_scripts, &c, &e),
                     -EINVAL);
    assert_string_equal(e.msg, "Missing check name");
    json_object_put(in);
    in = J("{\"Name\":\"n\",\"TTL\":\"5s\",\"Status\":\"bad\"}");
    assert_int_equal(svcdef_check(in, NULL, NULL, NULL, &no_scripts, &c, &e),
                     -EINVAL);
    assert_string_equal(e.msg, "Bad check status");
    json_object_put(in);
    in = J("{\"Name\":\"n\",\"TTL\":\"5s\",\"ServiceID\":\"web\"}");
    assert_int_equal(svcdef_check(in, NULL, NULL, NULL, &no_scripts, &c, &e),
                     0);
    assert_string_equal(svcdef_str(c, "CheckID"), "n"); /* ID from Name */
    assert_string_equal(svcdef_str(c, "ServiceID"), "web");
    json_object_put(c);
    json_object_put(in);
}

static void content_hash_follows_content(void **state)
{
    (void)state;
    json_object *a, *b, *ca, *cb;
    service_ok("{\"Name\":\"web\",\"Port\":80}", &no_scripts, &a, &ca);
    service_ok("{\"name\":\"web\",\"port\":80}", &no_scripts, &b, &cb);
    char ha[17], hb[17];
    svcdef_hash(a, ha);
    svcdef_hash(b, hb);
    assert_string_equal(ha, hb);
    json_object_object_add(b, "Port", json_object_new_int(81));
    svcdef_hash(b, hb);
    assert_string_not_equal(ha, hb);
    assert_int_equal(strlen(ha), 16);
    json_object_put(a);
    json_object_put(b);
    json_object_put(ca);
    json_object_put(cb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pascal_lower_and_snake_case_decode_alike),
        cmocka_unit_test(defaults_are_consuls),
        cmocka_unit_test(check_ids_and_names_are_generated),
        cmocka_unit_test(args_and_script_args_both_work),
        cmocka_unit_test(invalid_services_are_rejected),
        cmocka_unit_test(invalid_checks_are_rejected),
        cmocka_unit_test(content_hash_follows_content),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
