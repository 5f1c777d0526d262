/*
 * test_filter — api/filter: the go-bexpr ?filter= language on Consul-shaped
 * JSON (ServiceEntry from /v1/health/service, CatalogService from
 * /v1/catalog/service, AgentService from /v1/agent/services).
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

#include "filter.h"
#include "json.h"

/* ------------------------------------------------------------ fixtures */

static const char SERVICE_ENTRY[] =
    "{\"Node\":{\"ID\":\"40e4a748-2192-161a-0510-9bf59fe950b5\","
    "\"Node\":\"foobar\",\"Address\":\"10.1.10.12\",\"Datacenter\":\"dc1\","
    "\"TaggedAddresses\":{\"lan\":\"10.1.10.12\",\"wan\":\"10.1.10.12\"},"
    "\"Meta\":{\"instance_type\":\"t2.medium\",\"rack\":\"r1\","
    "\"dotted.key\":\"yes\"},\"CreateIndex\":5,\"ModifyIndex\":9},"
    "\"Service\":{\"ID\":\"redis-1\",\"Service\":\"redis\","
    "\"Tags\":[\"primary\",\"v1\"],\"Address\":\"10.1.10.12\","
    "\"Port\":8000,\"Meta\":{\"redis_version\":\"4.0\",\"weight.x\":\"3\"},"
    "\"Weights\":{\"Passing\":10,\"Warning\":1},\"EnableTagOverride\":false,"
    "\"Connect\":{},\"CreateIndex\":10,\"ModifyIndex\":9007199254740993},"
    "\"Checks\":[{\"Node\":\"foobar\",\"CheckID\":\"serfHealth\","
    "\"Name\":\"Serf Health Status\",\"Status\":\"passing\","
    "\"ServiceID\":\"\",\"ServiceTags\":[]},"
    "{\"Node\":\"foobar\",\"CheckID\":\"service:redis\","
    "\"Name\":\"Service 'redis' check\",\"Status\":\"critical\","
    "\"ServiceID\":\"redis-1\",\"ServiceTags\":[\"primary\"],"
    "\"Output\":\"line one\\nline two\"}]}";

static const char CATALOG_SERVICE[] =
    "{\"ID\":\"40e4a748-2192-161a-0510-9bf59fe950b5\",\"Node\":\"foobar\","
    "\"Address\":\"192.168.10.10\",\"Datacenter\":\"dc1\","
    "\"TaggedAddresses\":{\"lan\":\"192.168.10.10\"},"
    "\"NodeMeta\":{\"somekey\":\"somevalue\"},\"CreateIndex\":51,"
    "\"ModifyIndex\":51,\"ServiceAddress\":\"172.17.0.3\","
    "\"ServiceEnableTagOverride\":false,"
    "\"ServiceID\":\"32a2a47f7992:nodea:5000\",\"ServiceName\":\"web\","
    "\"ServicePort\":5000,\"ServiceMeta\":{\"web_meta_value\":\"baz\","
    "\"version\":\"1.10\"},\"ServiceTags\":[\"prod\",\"8080\"],"
    "\"ServiceWeights\":{\"Passing\":1,\"Warning\":1},"
    "\"ServiceProxy\":{\"MeshGateway\":{},\"Expose\":{}},"
    "\"ServiceConnect\":{},\"Namespace\":\"default\"}";

static const char AGENT_SERVICE[] =
    "{\"Kind\":\"\",\"ID\":\"redis\",\"Service\":\"redis\",\"Tags\":[],"
    "\"Meta\":{\"redis_version\":\"4.0\"},\"Port\":8000,\"Address\":\"\","
    "\"TaggedAddresses\":null,\"Weights\":{\"Passing\":10,\"Warning\":1},"
    "\"EnableTagOverride\":true,\"Datacenter\":\"dc1\"}";

/* ------------------------------------------------------------- helpers */

static json_object *J(const char *s)
{
    char err[128];
    json_object *o = json_parse(s, strlen(s), err, sizeof(err));
    if (o == NULL && err[0] != '\0') /* "" is a valid null */
        fail_msg("bad fixture %s: %s", s, err);
    return o;
}

static struct filter *parse_ok(const char *expr)
{
    char err[512];
    struct filter *f = filter_parse(expr, err, sizeof(err));
    if (f == NULL)
        fail_msg("filter_parse(%s) failed: %s", expr, err);
    return f;
}

/* filter_eval of `expr` on `doc` (JSON text). */
static int eval_on(const char *expr, const char *doc)
{
    struct filter *f = parse_ok(expr);
    json_object *o = J(doc);
    char err[512] = "";
    int r = filter_eval(f, o, err, sizeof(err));
    if (r < 0 && err[0] == '\0')
        fail_msg("%s: error without a message", expr);
    /* filter_match agrees with filter_eval */
    if (filter_match(f, o) != (r == 1))
        fail_msg("%s: filter_match disagrees with filter_eval", expr);
    json_object_put(o);
    filter_free(f);
    return r;
}

#define MATCH(expr, doc)                                          \
    do {                                                          \
        int r_ = eval_on((expr), (doc));                          \
        if (r_ != 1)                                              \
            fail_msg("expected %s to match, got %d", (expr), r_); \
    } while (0)

#define NO_MATCH(expr, doc)                                           \
    do {                                                              \
        int r_ = eval_on((expr), (doc));                              \
        if (r_ != 0)                                                  \
            fail_msg("expected %s not to match, got %d", (expr), r_); \
    } while (0)

/* An evaluation error whose message contains `want`. */
static void eval_error(const char *expr, const char *doc, const char *want)
{
    struct filter *f = parse_ok(expr);
    json_object *o = J(doc);
    char err[512] = "";
    int r = filter_eval(f, o, err, sizeof(err));
    if (r != -EINVAL)
        fail_msg("expected %s to fail evaluation, got %d", expr, r);
    if (strstr(err, want) == NULL)
        fail_msg("%s: message \"%s\" lacks \"%s\"", expr, err, want);
    assert_false(filter_match(f, o));
    json_object_put(o);
    filter_free(f);
}

/* A parse error whose message contains `want` after its position. */
static void parse_error(const char *expr, const char *want)
{
    char err[512] = "";
    struct filter *f = filter_parse(expr, err, sizeof(err));
    if (f != NULL) {
        filter_free(f);
        fail_msg("expected %s to be rejected", expr);
    }
    /* bexpr's "line:column (offset): " before the reason */
    unsigned line, col, off;
    int used = 0;
    if (sscanf(err, "%u:%u (%u): %n", &line, &col, &off, &used) != 3 ||
        used == 0)
        fail_msg("%s: message \"%s\" does not start with a position", expr,
                 err);
    if (strstr(err, want) == NULL)
        fail_msg("%s: message \"%s\" lacks \"%s\"", expr, err, want);
}

/* ----------------------------------------------------------- operators */

static void equality_on_strings(void **state)
{
    (void)state;
    MATCH("Service.Service == \"redis\"", SERVICE_ENTRY);
    NO_MATCH("Service.Service == \"web\"", SERVICE_ENTRY);
    MATCH("Node.Node == foobar", SERVICE_ENTRY); /* bare word */
    MATCH("Node.Meta.rack == \"r1\"", SERVICE_ENTRY);
    NO_MATCH("Node.Meta.rack == \"r2\"", SERVICE_ENTRY);
    MATCH("ServiceName == web", CATALOG_SERVICE);
    MATCH("ServiceMeta.version == \"1.10\"", CATALOG_SERVICE);
    MATCH("Service == redis", AGENT_SERVICE);
    /* values compare bytes: no trimming, no case folding */
    NO_MATCH("Service == \"Redis\"", AGENT_SERVICE);
    NO_MATCH("Service == \"redis \"", AGENT_SERVICE);
    MATCH("Kind == \"\"", AGENT_SERVICE);
}

static void inequality_on_strings(void **state)
{
    (void)state;
    MATCH("Service.Service != \"web\"", SERVICE_ENTRY);
    NO_MATCH("Service.Service != redis", SERVICE_ENTRY);
    MATCH("ServiceName != db", CATALOG_SERVICE);
    NO_MATCH("ServiceName != web", CATALOG_SERVICE);
}

static void in_and_contains_on_arrays(void **state)
{
    (void)state;
    MATCH("\"primary\" in Service.Tags", SERVICE_ENTRY);
    NO_MATCH("\"secondary\" in Service.Tags", SERVICE_ENTRY);
    MATCH("Service.Tags contains \"v1\"", SERVICE_ENTRY);
    NO_MATCH("Service.Tags contains \"v2\"", SERVICE_ENTRY);
    MATCH("\"secondary\" not in Service.Tags", SERVICE_ENTRY);
    NO_MATCH("\"primary\" not in Service.Tags", SERVICE_ENTRY);
    MATCH("Service.Tags not contains \"v2\"", SERVICE_ENTRY);
    NO_MATCH("Service.Tags not contains \"v1\"", SERVICE_ENTRY);
    /* element equality, not substring */
    NO_MATCH("\"prim\" in Service.Tags", SERVICE_ENTRY);
    /* a bare word value before in */
    MATCH("primary in Service.Tags", SERVICE_ENTRY);
    NO_MATCH("v1 not in Service.Tags", SERVICE_ENTRY);
    MATCH("prod in ServiceTags", CATALOG_SERVICE);
    NO_MATCH("\"x\" in Tags", AGENT_SERVICE);
    MATCH("\"x\" not in Tags", AGENT_SERVICE);
}

static void in_and_contains_on_maps_test_keys(void **state)
{
    (void)state;
    MATCH("\"rack\" in Node.Meta", SERVICE_ENTRY);
    NO_MATCH("\"zone\" in Node.Meta", SERVICE_ENTRY);
    NO_MATCH("\"r1\" in Node.Meta", SERVICE_ENTRY); /* a value, not a key */
    MATCH("Node.Meta contains \"dotted.key\"", SERVICE_ENTRY);
    MATCH("\"zone\" not in Node.Meta", SERVICE_ENTRY);
    MATCH("ServiceMeta not contains \"env\"", CATALOG_SERVICE);
    NO_MATCH("ServiceMeta not contains version", CATALOG_SERVICE);
    /* keys are exact */
    NO_MATCH("\"RACK\" in Node.Meta", SERVICE_ENTRY);
}

static void in_and_contains_on_strings_are_substring(void **state)
{
    (void)state;
    MATCH("\"10.1\" in Node.Address", SERVICE_ENTRY);
    NO_MATCH("Node.Address contains \".99\"", SERVICE_ENTRY);
    MATCH("ServiceID contains \":nodea:\"", CATALOG_SERVICE);
    MATCH("\"\" in ServiceName", CATALOG_SERVICE);
    MATCH("\"xyz\" not in ServiceName", CATALOG_SERVICE);
    NO_MATCH("ServiceName not contains \"we\"", CATALOG_SERVICE);
}

static void is_empty_and_is_not_empty(void **state)
{
    (void)state;
    MATCH("Tags is empty", AGENT_SERVICE); /* [] */
    NO_MATCH("Tags is not empty", AGENT_SERVICE);
    MATCH("Service.Tags is not empty", SERVICE_ENTRY);
    NO_MATCH("Service.Tags is empty", SERVICE_ENTRY);
    MATCH("Service.Connect is empty", SERVICE_ENTRY); /* {} */
    MATCH("Node.Meta is not empty", SERVICE_ENTRY);
    MATCH("Kind is empty", AGENT_SERVICE); /* "" */
    MATCH("Address is empty", AGENT_SERVICE);
    NO_MATCH("ID is empty", AGENT_SERVICE);
    MATCH("TaggedAddresses is empty", AGENT_SERVICE); /* null */
    MATCH("Proxy is empty", AGENT_SERVICE);           /* missing */
    NO_MATCH("Proxy is not empty", AGENT_SERVICE);
    MATCH("ServiceProxy.MeshGateway is empty", CATALOG_SERVICE);
    MATCH("ServiceTags is not empty", CATALOG_SERVICE);
}

static void matches_uses_regex_search(void **state)
{
    (void)state;
    MATCH("Service.Service matches \"^re\"", SERVICE_ENTRY);
    MATCH("Service.Service matches \"dis\"", SERVICE_ENTRY); /* unanchored */
    NO_MATCH("Service.Service matches \"^dis\"", SERVICE_ENTRY);
    MATCH("Service.Service not matches \"^web\"", SERVICE_ENTRY);
    NO_MATCH("Service.Service not matches \"red\"", SERVICE_ENTRY);
    MATCH("Node.Address matches `^10\\.1\\.10\\.12$`", SERVICE_ENTRY);
    NO_MATCH("Node.Address matches `^10\\.1\\.10\\.1$`", SERVICE_ENTRY);
    MATCH("ServiceName matches \"^(web|api)$\"", CATALOG_SERVICE);
    MATCH("ServiceMeta.version matches `^1\\.[0-9]+$`", CATALOG_SERVICE);
    MATCH("Service.Meta.redis_version matches \"4\\\\.0\"", SERVICE_ENTRY);
}

/* The RE2 syntax people write, translated to POSIX. */
static void matches_translates_common_re2_syntax(void **state)
{
    (void)state;
    const char *doc =
        "{\"A\":\"web-01.dc1\",\"B\":\"line one\\nline two\","
        "\"C\":\"caf\\u00e9\\u00e9\",\"D\":\"a]b^c-d[e\\\\f\","
        "\"E\":\"x{y\",\"F\":\"\\u00e9\"}";
    MATCH("A matches `^web-\\d+\\.dc\\d$`", doc); /* \d, not "d" */
    NO_MATCH("A matches `^\\d`", doc);
    MATCH("A matches `^\\w+-\\w+\\.\\w+$`", doc);
    MATCH("A matches `[\\d]{2}`", doc); /* \d inside [] */
    MATCH("A matches `^[\\w.-]+$`", doc);
    NO_MATCH("A matches `^[^\\d]+$`", doc);
    MATCH("A matches `\\s` or A matches `\\S`", doc);
    NO_MATCH("A matches `\\s`", doc);
    MATCH("A matches `(?:web|api)-0`", doc);
    MATCH("A matches `(?P<name>web)`", doc);
    MATCH("A matches `(?i)^WEB`", doc);
    NO_MATCH("A matches `^WEB`", doc);
    MATCH("A matches `^w.*?1`", doc);  /* lazy */
    MATCH("A matches `\\x77eb`", doc); /* \xHH */
    MATCH("A matches `\\Aweb.*dc1\\z`", doc);
    MATCH("A matches `\\bdc1`", doc);
    /* "." does not match a newline unless (?s), as in RE2 */
    NO_MATCH("B matches `one.line`", doc);
    MATCH("B matches `(?s)one.line`", doc);
    MATCH("B matches \"one\\nline\"", doc); /* string escape */
    MATCH("B matches `one\\nline`", doc);   /* regex escape */
    /* ^ and $ are the ends of the text (no multi-line mode) */
    NO_MATCH("B matches `^line two$` or B matches `one$`", doc);
    MATCH("B matches `^line one` and B matches `two$`", doc);
    /* a quantifier applies to a whole UTF-8 character */
    MATCH("C matches `^café+$`", doc);
    MATCH("C matches `^caf\\x{e9}{2}$`", doc);
    /* punctuation inside [] where POSIX reads it literally */
    MATCH("D matches `^[\\]a-z^\\-\\[\\\\]+$`", doc);
    MATCH("D matches `[\\^]`", doc);
    NO_MATCH("D matches `[\\^]x`", doc);
    MATCH("D matches `[[:alpha:]]\\]`", doc);
    MATCH("D matches `[[:word:]]\\^`", doc);
    /* "{" not starting a repeat is literal, as in RE2 */
    MATCH("E matches `x{y`", doc);
    MATCH("E matches `^x\\{`", doc);
    MATCH("A matches `^[a-z]{3}-[0-9]{1,3}\\.`", doc);
    /* known difference: "." is one byte, not one character */
    NO_MATCH("F matches `^.$`", doc);
    MATCH("F matches `^..$`", doc);
}

/* ------------------------------------------------------------- values */

static void numbers_compare_numerically(void **state)
{
    (void)state;
    MATCH("Service.Port == 8000", SERVICE_ENTRY);
    MATCH("Service.Port == \"8000\"", SERVICE_ENTRY); /* coerced, as bexpr */
    NO_MATCH("Service.Port == 8001", SERVICE_ENTRY);
    MATCH("Service.Port != 8001", SERVICE_ENTRY);
    NO_MATCH("Service.Port != 8000", SERVICE_ENTRY);
    MATCH("Service.Port == \"0x1f40\"", SERVICE_ENTRY); /* ParseInt base 0 */
    MATCH("Service.Port == \"8_000\"", SERVICE_ENTRY);
    MATCH("Service.Port == \"+8000\"", SERVICE_ENTRY);
    MATCH("Service.Port == 8000.0", SERVICE_ENTRY);
    NO_MATCH("Service.Port == 8000.5", SERVICE_ENTRY);
    MATCH("Service.Weights.Passing == 10", SERVICE_ENTRY);
    MATCH("ServicePort == 5000", CATALOG_SERVICE);
    MATCH("Offset == -5", "{\"Offset\":-5}");
    NO_MATCH("Offset == 5", "{\"Offset\":-5}");
    MATCH("Offset == -5.0", "{\"Offset\":-5}");
    NO_MATCH("Offset == \"-5.5\"", "{\"Offset\":-5}");
    MATCH("Zero == -0", "{\"Zero\":0}");
    /* floats */
    MATCH("Coord == 0.5", "{\"Coord\":0.5}");
    MATCH("Coord == \"5e-1\"", "{\"Coord\":0.5}");
    NO_MATCH("Coord == 0.25", "{\"Coord\":0.5}");
    MATCH("Coord == 3", "{\"Coord\":3.0}");
    /* in over an array of numbers */
    MATCH("8080 in Ports", "{\"Ports\":[80,8080]}");
    NO_MATCH("81 in Ports", "{\"Ports\":[80,8080]}");
    MATCH("\"80\" in Ports", "{\"Ports\":[80,8080]}");
    /* a mixed array: elements the value does not read as are skipped */
    MATCH("\"abc\" in Mixed", "{\"Mixed\":[1,true,\"abc\",null]}");
    MATCH("1 in Mixed", "{\"Mixed\":[\"x\",1]}");
}

static void numbers_against_strings_compare_text(void **state)
{
    (void)state;
    /* a number literal meeting a string field is its text */
    MATCH("ServiceMeta.version == 1.10", CATALOG_SERVICE);
    NO_MATCH("ServiceMeta.version == 1.1", CATALOG_SERVICE);
    MATCH("\"8080\" in ServiceTags", CATALOG_SERVICE);
    MATCH("8080 in ServiceTags", CATALOG_SERVICE);
    /* a bare dotted word is its text too */
    MATCH("ServiceMeta.version == v1.10",
          "{\"ServiceMeta\":"
          "{\"version\":\"v1.10\"}}");
    MATCH("Name == foo.bar", "{\"Name\":\"foo.bar\"}");
}

static void booleans_take_go_parsebool_words(void **state)
{
    (void)state;
    MATCH("Service.EnableTagOverride == false", SERVICE_ENTRY);
    NO_MATCH("Service.EnableTagOverride == true", SERVICE_ENTRY);
    MATCH("Service.EnableTagOverride != true", SERVICE_ENTRY);
    MATCH("EnableTagOverride == true", AGENT_SERVICE);
    MATCH("EnableTagOverride == \"True\"", AGENT_SERVICE);
    MATCH("EnableTagOverride == T", AGENT_SERVICE);
    MATCH("EnableTagOverride == 1", AGENT_SERVICE);
    MATCH("ServiceEnableTagOverride == 0", CATALOG_SERVICE);
    eval_error("EnableTagOverride == yes", AGENT_SERVICE, "cannot compare");
}

static void uint64_above_2_53_compares_exactly(void **state)
{
    (void)state;
    /* 2^53 + 1: a double would round it to 2^53 */
    MATCH("Service.ModifyIndex == 9007199254740993", SERVICE_ENTRY);
    NO_MATCH("Service.ModifyIndex == 9007199254740992", SERVICE_ENTRY);
    NO_MATCH("Service.ModifyIndex == 9007199254740994", SERVICE_ENTRY);
    const char *kv =
        "{\"Key\":\"lock\",\"Flags\":3304740253564472344,"
        "\"Max\":18446744073709551615,"
        "\"I64\":9223372036854775807,"
        "\"U63\":9223372036854775808,"
        "\"Min\":-9223372036854775808}";
    MATCH("Flags == 3304740253564472344", kv);
    NO_MATCH("Flags == 3304740253564472345", kv);
    MATCH("Flags == \"0x2ddccbc058a50c18\"", kv);
    MATCH("Max == 18446744073709551615", kv);
    NO_MATCH("Max == 18446744073709551614", kv);
    MATCH("I64 == 9223372036854775807", kv);
    NO_MATCH("I64 == 9223372036854775808", kv);
    MATCH("U63 == 9223372036854775808", kv);
    NO_MATCH("U63 == 9223372036854775807", kv);
    MATCH("Min == -9223372036854775808", kv);
    NO_MATCH("Min == -9223372036854775807", kv);
    MATCH("18446744073709551615 in L", "{\"L\":[1,18446744073709551615]}");
    /* beyond uint64 cannot be read as an integer */
    eval_error("Max == 18446744073709551616", kv, "cannot compare");
}

static void missing_fields_follow_bexpr_not_present_rules(void **state)
{
    (void)state;
    NO_MATCH("Session == \"x\"", AGENT_SERVICE);
    MATCH("Session != \"x\"", AGENT_SERVICE);
    NO_MATCH("\"x\" in Session", AGENT_SERVICE);
    MATCH("\"x\" not in Session", AGENT_SERVICE);
    MATCH("Session is empty", AGENT_SERVICE);
    NO_MATCH("Session is not empty", AGENT_SERVICE);
    NO_MATCH("Session matches \".*\"", AGENT_SERVICE);
    MATCH("Session not matches \"x\"", AGENT_SERVICE);
    /* documented deviation: an omitted field is not its zero value */
    NO_MATCH("Session == \"\"", AGENT_SERVICE);
    /* missing on the way */
    NO_MATCH("Service.Proxy.DestinationServiceName == web", SERVICE_ENTRY);
    MATCH("Service.Proxy.DestinationServiceName != web", SERVICE_ENTRY);
    NO_MATCH("Node.Meta.zone == \"z1\"", SERVICE_ENTRY);
    MATCH("Node.Meta.zone != \"z1\"", SERVICE_ENTRY);
    /* null counts as not present */
    NO_MATCH("TaggedAddresses.lan == x", AGENT_SERVICE);
    NO_MATCH("TaggedAddresses == x", AGENT_SERVICE);
}

static void map_keys_with_dots_via_index(void **state)
{
    (void)state;
    MATCH("Node.Meta[\"dotted.key\"] == yes", SERVICE_ENTRY);
    MATCH("Node.Meta[ \"dotted.key\" ] == \"yes\"", SERVICE_ENTRY);
    MATCH("Node.Meta[`dotted.key`] == yes", SERVICE_ENTRY);
    MATCH("Service.Meta[\"weight.x\"] == 3", SERVICE_ENTRY);
    /* the dotted form walks two keys */
    NO_MATCH("Node.Meta.dotted.key == yes", SERVICE_ENTRY);
    /* index and dotted segments mix */
    MATCH("Node[\"Meta\"].rack == r1", SERVICE_ENTRY);
    MATCH(
        "Node.Meta[\"rack\"] == r1 and Node.TaggedAddresses[\"lan\"] == "
        "\"10.1.10.12\"",
        SERVICE_ENTRY);
    /* odd characters */
    MATCH("Meta[\"a b/c:d\"] == ok", "{\"Meta\":{\"a b/c:d\":\"ok\"}}");
    MATCH("Meta[\"\"] == empty", "{\"Meta\":{\"\":\"empty\"}}");
    /* ["..."] is exact; dotted names fall back to any case */
    NO_MATCH("Node.Meta[\"RACK\"] == r1", SERVICE_ENTRY);
    MATCH("node.meta.rack == r1", SERVICE_ENTRY);
    MATCH("service.TAGS contains v1", SERVICE_ENTRY);
}

static void exact_field_name_wins_over_case_folded(void **state)
{
    (void)state;
    const char *doc = "{\"name\":\"lower\",\"Name\":\"upper\"}";
    MATCH("Name == upper", doc);
    MATCH("name == lower", doc);
}

static void raw_and_escaped_strings(void **state)
{
    (void)state;
    MATCH("Path == `C:\\dir\\n`", "{\"Path\":\"C:\\\\dir\\\\n\"}");
    MATCH("Path == \"C:\\\\dir\"", "{\"Path\":\"C:\\\\dir\"}");
    /* Go escapes: \u, \x (a byte), octal, \t */
    MATCH("Name == \"\\u00e9\\t\\x41\\101\"", "{\"Name\":\"\\u00e9\\tAA\"}");
    MATCH("Name == \"\\U0001F600\"", "{\"Name\":\"\\ud83d\\ude00\"}");
    /* a raw string keeps quotes and drops CRs, like Go */
    MATCH("Name == `say \"hi\"`", "{\"Name\":\"say \\\"hi\\\"\"}");
    MATCH("Name == `a\r\nb`", "{\"Name\":\"a\\nb\"}");
    /* NUL inside a value compares as a byte */
    MATCH("Name == \"a\\x00b\"", "{\"Name\":\"a\\u0000b\"}");
    NO_MATCH("Name == \"a\"", "{\"Name\":\"a\\u0000b\"}");
    MATCH("Name matches \"b$\"", "{\"Name\":\"a\\u0000b\"}");
}

/* ------------------------------------------------------- combinators */

static void precedence_not_over_and_over_or(void **state)
{
    (void)state;
    /* a=true, b=false, c=false: a or (b and c) = true; (a or b) and c =
     * false */
    const char *abc = "{\"A\":\"t\",\"B\":\"f\",\"C\":\"f\"}";
    MATCH("A == t or B == t and C == t", abc);
    NO_MATCH("(A == t or B == t) and C == t", abc);
    /* a=false, b=false: (not a) and b = false; not (a and b) = true */
    const char *ab = "{\"A\":\"f\",\"B\":\"f\"}";
    NO_MATCH("not A == t and B == t", ab);
    MATCH("not (A == t and B == t)", ab);
    /* and binds tighter on both sides of or */
    MATCH("A == f and B == t or A == f and B == f", ab);
    NO_MATCH("A == t and B == f or A == t and B == t", ab);
    /* not binds tighter than or */
    MATCH("not A == t or B == t", ab);
    /* not not cancels */
    MATCH("not not A == f", ab);
    NO_MATCH("not not not A == f", ab);
    /* long chains */
    MATCH("A == x or A == y or A == z or B == f", ab);
    NO_MATCH("A == f and B == f and A == x", ab);
}

static void parentheses_group(void **state)
{
    (void)state;
    const char *ab = "{\"A\":\"f\",\"B\":\"t\"}";
    MATCH("(A == f)", ab);
    MATCH("( A == f )", ab);
    MATCH("((A == f) and ((B == t)))", ab);
    MATCH("not (A == t or B == f)", ab);
    NO_MATCH("not (A == f or B == f)", ab);
    MATCH("(A == t or B == t) and (A == f)", ab);
    MATCH("\t\n A == f \r\n", ab);
    MATCH("A==f and B!=f", ab);
    MATCH("(A==f) and (B==t)", ab);
    /* bexpr wants blanks around and/or */
    parse_error("(A == f)and (B == t)", "expected \"and\", \"or\"");
    MATCH(
        "Service.Port == 8000 and (\"primary\" in Service.Tags or "
        "Node.Meta.rack == r2) and not Service.Service matches \"^web\"",
        SERVICE_ENTRY);
}

static void not_as_bare_word_before_in(void **state)
{
    (void)state;
    /* bexpr tries `not Expr`, then a Match whose value is the word "not" */
    MATCH("not in Tags", "{\"Tags\":[\"not\"]}");
    NO_MATCH("not in Tags", "{\"Tags\":[\"x\"]}");
}

/* --------------------------------------------------- arrays of objects */

static void selector_through_array_is_an_evaluation_error(void **state)
{
    (void)state;
    /* bexpr (pointerstructure) has no implicit any/all over arrays */
    eval_error("Checks.Status == passing", SERVICE_ENTRY, "is an array");
    eval_error("Checks.Status != passing", SERVICE_ENTRY, "is an array");
    /* an error is not a false that not can flip */
    eval_error("not Checks.Status == passing", SERVICE_ENTRY, "is an array");
    eval_error("Service.Port == 8000 and Checks.Status == passing",
               SERVICE_ENTRY, "Checks.Status");
    /* short-circuit: never evaluated */
    MATCH("Service.Port == 8000 or Checks.Status == passing", SERVICE_ENTRY);
    NO_MATCH("Service.Port == 1 and Checks.Status == passing", SERVICE_ENTRY);
    /* explicit indexes work */
    MATCH("Checks.0.Status == passing", SERVICE_ENTRY);
    MATCH("Checks.1.Status == critical", SERVICE_ENTRY);
    MATCH("Checks.1.ServiceTags contains primary", SERVICE_ENTRY);
    MATCH("Checks.1.Output matches \"^line one\"", SERVICE_ENTRY);
    eval_error("Checks.2.Status == passing", SERVICE_ENTRY, "out of range");
    /* in over an array of objects */
    eval_error("\"serfHealth\" in Checks", SERVICE_ENTRY, "array holding");
    MATCH("Checks is not empty", SERVICE_ENTRY);
}

static void type_mismatches_are_evaluation_errors(void **state)
{
    (void)state;
    eval_error("Service.Port contains \"80\"", SERVICE_ENTRY, "in/contains");
    eval_error("Service.Tags == v1", SERVICE_ENTRY, "an array");
    eval_error("Node.Meta == x", SERVICE_ENTRY, "an object");
    eval_error("Service.Port == abc", SERVICE_ENTRY, "cannot compare");
    eval_error("Service.Port matches \"8\"", SERVICE_ENTRY,
               "regular expression");
    eval_error("Service.Port is empty", SERVICE_ENTRY, "emptiness");
    eval_error("Service.Port.Foo == 1", SERVICE_ENTRY, "has no fields");
    eval_error("Coord == abc", "{\"Coord\":0.5}", "cannot compare");
    /* selectors on a non-object element */
    eval_error("Name == x", "\"just a string\"", "has no fields");
    NO_MATCH("Name == x", "null");
}

/* -------------------------------------------------------- syntax errors */

static void syntax_errors_name_their_position(void **state)
{
    (void)state;
    char err[512];
    struct filter *f = filter_parse("Service.Port > 80", err, sizeof(err));
    assert_null(f);
    /* what http.c puts after "Failed to create boolean expression
     * evaluator: " */
    assert_string_equal(err,
                        "1:14 (13): no match found, expected an operator "
                        "after the selector: \"==\", \"!=\", \"contains\", "
                        "\"not contains\", \"in\", \"not in\", \"is empty\", "
                        "\"is not empty\", \"matches\" or \"not matches\"");
    /* line:column counts lines and characters, offset counts bytes */
    f = filter_parse("A == \"\u00e9\" and\n  B ~ c", err, sizeof(err));
    assert_null(f);
    assert_int_equal(strncmp(err, "2:5 (18): ", 10), 0);
    /* a small buffer is still a terminated prefix */
    char small[16];
    assert_null(filter_parse("(", small, sizeof(small)));
    assert_int_equal(strlen(small), sizeof(small) - 1);
    /* err may be NULL */
    assert_null(filter_parse("(", NULL, 0));
}

static void syntax_error_kinds(void **state)
{
    (void)state;
    /* unclosed parenthesis */
    parse_error("(Service.Service == redis", "Unmatched parentheses");
    parse_error("((A == b) and (B == c)", "Unmatched parentheses");
    parse_error("(A == b C == d)", "Unmatched parentheses");
    /* missing value / selector / operand */
    parse_error("Service.Service ==", "expected a value");
    parse_error("Service.Service == ", "expected a value");
    parse_error("Service.Tags contains", "expected a value after \"contains\"");
    parse_error("Service.Service matches", "expected a regular expression");
    parse_error("\"x\" in", "expected a selector");
    parse_error("\"x\" in \"/Tags\"", "JSON-pointer selectors are not");
    parse_error("\"x\" in 5", "Invalid selector");
    parse_error("A == b and", "expected an expression after \"and\"");
    parse_error("A == b or ", "expected an expression after \"or\"");
    parse_error("not", "expected an expression after \"not\"");
    parse_error("not(A == b)", "expected whitespace after \"not\"");
    parse_error("and A == b", "expected an operator");
    parse_error("== b", "expected \"(\", \"not\", a selector or a value");
    parse_error("\"x\"", "expected \"in\" or \"not in\" after a value");
    parse_error("\"x\" == A", "expected \"in\" or \"not in\" after a value");
    /* unknown operators */
    parse_error("Service.Port > 80", "expected an operator");
    parse_error("Service.Port = 80", "expected an operator");
    parse_error("Service.Port === 80", "expected a value");
    parse_error("Tags has \"x\"", "expected an operator");
    parse_error("Tags is nil", "expected \"empty\" or \"not empty\"");
    parse_error("Tags is not nil", "expected \"empty\" after \"is not\"");
    parse_error("Tags not has x", "expected \"in\", \"contains\" or");
    parse_error("Tags contains\"x\"", "expected whitespace after");
    parse_error("A == b AND B == c", "expected \"and\", \"or\" or the end");
    parse_error("all Checks as c { c.Status == passing }",
                "expected an operator");
    /* trailing garbage */
    parse_error("Service.Service == redis foo", "expected \"and\", \"or\"");
    parse_error("Service.Service == redis)", "expected \"and\", \"or\"");
    parse_error("A == b ()", "expected \"and\", \"or\"");
    /* literals */
    parse_error("A == \"abc", "Unterminated string literal");
    parse_error("A == `abc", "Unterminated string literal");
    parse_error("A == \"a\\qb\"", "invalid escape sequence \\q");
    parse_error("A == \"a\\\"b\"", "cannot be used");
    parse_error("A == \"a\\'b\"", "invalid escape sequence");
    parse_error("A == \"\\x4\"", "hex digits");
    parse_error("A == \"\\400\"", "octal");
    parse_error("A == \"\\uD800\"", "not a Unicode code point");
    parse_error("A == \"a\nb\"", "newline");
    parse_error("A == 80x", "Invalid number literal");
    parse_error("A == 1.2.3", "Invalid number literal");
    parse_error("A == 08", "Invalid number literal");
    parse_error("A == 1.", "Invalid number literal");
    parse_error("A == -", "expected a value");
    /* selectors */
    parse_error("Meta[rack] == x", "Invalid index");
    parse_error("Meta[\"rack\" == x", "Unclosed index expression");
    parse_error("Meta. == x", "expected a field name or index after \".\"");
    parse_error("Meta._x == x", "expected a field name or index");
    /* empty */
    parse_error("", "expected \"(\", \"not\", a selector or a value");
    parse_error("   \t", "expected \"(\", \"not\", a selector or a value");
}

static void bad_regex_is_a_parse_error(void **state)
{
    (void)state;
    parse_error("A matches \"(\"", "invalid regular expression");
    parse_error("A matches \"[z-a]\"", "invalid character class range");
    parse_error("A matches \"a**\"", "nested repetition");
    parse_error("A matches \"*a\"", "missing argument");
    parse_error("A matches \"a)\"", "unexpected )");
    parse_error("A matches \"[abc\"", "missing closing ]");
    parse_error("A matches `a\\`", "trailing backslash");
    parse_error("A not matches \"a{1001}\"", "invalid repeat count");
    parse_error("A matches \"a{3,2}\"", "invalid repeat count");
    /* RE2 syntax POSIX would misread: rejected, not guessed */
    parse_error("A matches `(\\w)\\1`", "escape \\1 is not supported");
    parse_error("A matches `\\pL`", "escape \\p is not supported");
    parse_error("A matches `(?m)^a`", "flags");
    parse_error("A matches `a(?i)b`", "flags");
    parse_error("A matches `(?i:a)`", "flags");
    parse_error("A matches `[\\D]`", "escape \\D inside [...]");
    parse_error("A matches `[\u00e9]`", "non-ASCII");
    parse_error("A matches `[[:foo:]]`", "[:foo:]");
    parse_error("A matches \"a\\x00b\"", "NUL");
    parse_error("A matches \"\\xff\"", "invalid UTF-8");
    /* bounded: glibc would expand these by copying */
    parse_error("A matches `(a{1000}){1000}`", "too large");
    parse_error("A matches `((a{100}){100})`", "too large");
    /* the budget is for the whole filter */
    filter_free(parse_ok("A matches `(a{1000}){3}`"));
    parse_error("A matches `(a{1000}){3}` or B matches `(a{1000}){3}`",
                "too large");
    char deep[200] = "A matches `";
    for (int i = 0; i < 40; i++)
        strcat(deep, "(");
    strcat(deep, "a");
    for (int i = 0; i < 40; i++)
        strcat(deep, ")");
    strcat(deep, "`");
    parse_error(deep, "groups more than");
    /* common real-world patterns still compile */
    struct filter *f = parse_ok(
        "A matches `^(\\d{1,3}\\.){3}\\d{1,3}$` and B matches `^v\\d+\\.` and "
        "C matches `(?i)^(prod|stag)(uction|ing)?-[a-z0-9-]{1,63}$`");
    filter_free(f);
}

static void nesting_and_length_are_bounded(void **state)
{
    (void)state;
    char buf[FILTER_MAX_LEN + 16];
    /* 64 levels of parentheses are fine, 65 are not */
    for (int depth = FILTER_MAX_DEPTH; depth <= FILTER_MAX_DEPTH + 1; depth++) {
        size_t n = 0;
        for (int i = 0; i < depth; i++)
            buf[n++] = '(';
        memcpy(buf + n, "A == b", 6);
        n += 6;
        for (int i = 0; i < depth; i++)
            buf[n++] = ')';
        buf[n] = '\0';
        if (depth == FILTER_MAX_DEPTH) {
            filter_free(parse_ok(buf));
        } else {
            parse_error(buf, "nested too deeply");
        }
    }
    /* not counts too */
    buf[0] = '\0';
    for (int i = 0; i < FILTER_MAX_DEPTH + 1; i++)
        strcat(buf, "not ");
    strcat(buf, "A == b");
    parse_error(buf, "nested too deeply");
    /* thousands of open parentheses do not recurse past the limit */
    memset(buf, '(', FILTER_MAX_LEN);
    buf[FILTER_MAX_LEN] = '\0';
    parse_error(buf, "nested too deeply");
    /* length: FILTER_MAX_LEN bytes parse, one more does not */
    memset(buf, ' ', FILTER_MAX_LEN);
    memcpy(buf, "A == b", 6);
    buf[FILTER_MAX_LEN] = '\0';
    filter_free(parse_ok(buf));
    buf[FILTER_MAX_LEN] = ' ';
    buf[FILTER_MAX_LEN + 1] = '\0';
    parse_error(buf, "the limit is 4096");
    /* a long flat chain is iterative, not recursive */
    buf[0] = '\0';
    strcat(buf, "A == a");
    while (strlen(buf) + 10 < FILTER_MAX_LEN)
        strcat(buf, " or A == a");
    struct filter *f = parse_ok(buf);
    json_object *o = J("{\"A\":\"b\"}");
    assert_false(filter_match(f, o));
    json_object_put(o);
    filter_free(f);
}

/* ------------------------------------------- filter_array / _values */

static char *dump(json_object *o)
{
    char *s = json_dump(o, false, NULL);
    assert_non_null(s);
    return s;
}

static void filter_array_keeps_order_and_input(void **state)
{
    (void)state;
    json_object *arr =
        J("[{\"Service\":\"web\",\"Port\":80,\"Tags\":[\"a\"]},"
          "{\"Service\":\"db\",\"Port\":5432,\"Tags\":[]},"
          "{\"Service\":\"web\",\"Port\":8080,\"Tags\":[\"b\"]},"
          "{\"Service\":\"api\",\"Port\":80},"
          "{\"Service\":\"web\",\"Port\":81,"
          "\"Checks\":[{\"Status\":\"x\"}]},"
          "null]");
    char *before = dump(arr);
    struct filter *f = parse_ok("Service == web or Port == 80");
    json_object *out = NULL;
    char err[256] = "";
    assert_int_equal(filter_array(f, arr, &out, err, sizeof(err)), 0);
    assert_non_null(out);
    char *got = dump(out);
    assert_string_equal(got,
                        "[{\"Service\":\"web\",\"Port\":80,\"Tags\":[\"a\"]},"
                        "{\"Service\":\"web\",\"Port\":8080,\"Tags\":[\"b\"]},"
                        "{\"Service\":\"api\",\"Port\":80},"
                        "{\"Service\":\"web\",\"Port\":81,"
                        "\"Checks\":[{\"Status\":\"x\"}]}]");
    /* the elements are shared, not copied */
    assert_ptr_equal(json_object_array_get_idx(out, 0),
                     json_object_array_get_idx(arr, 0));
    char *after = dump(arr);
    assert_string_equal(before, after);
    /* dropping the result leaves the input intact */
    json_object_put(out);
    free(after);
    after = dump(arr);
    assert_string_equal(before, after);
    filter_free(f);

    /* nothing matches: an empty array */
    f = parse_ok("Service == none");
    assert_int_equal(filter_array(f, arr, &out, err, sizeof(err)), 0);
    assert_int_equal(json_object_array_length(out), 0);
    json_object_put(out);
    /* not an array */
    assert_int_equal(filter_array(f, NULL, &out, err, sizeof(err)), -EINVAL);
    assert_null(out);
    assert_string_equal(err, "only arrays can be filtered, not null");
    json_object *obj = J("{}");
    assert_int_equal(filter_array(f, obj, &out, NULL, 0), -EINVAL);
    assert_null(out);
    json_object_put(obj);
    filter_free(f);

    free(after);
    after = dump(arr);
    assert_string_equal(before, after);
    free(before);
    free(after);
    free(got);
    json_object_put(arr);
}

static void filter_object_values_keeps_keys_in_order(void **state)
{
    (void)state;
    /* /v1/agent/services: a map of AgentService by ID */
    json_object *svcs =
        J("{\"redis\":{\"ID\":\"redis\",\"Service\":\"redis\",\"Tags\":[],"
          "\"Meta\":{\"env\":\"prod\"},\"Port\":6379},"
          "\"web-2\":{\"ID\":\"web-2\",\"Service\":\"web\",\"Tags\":[\"v2\"],"
          "\"Meta\":{},\"Port\":8081},"
          "\"web-1\":{\"ID\":\"web-1\",\"Service\":\"web\",\"Tags\":[\"v1\"],"
          "\"Meta\":{\"env\":\"prod\"},\"Port\":8080},"
          "\"nil\":null}");
    char *before = dump(svcs);
    struct filter *f = parse_ok("Meta.env == prod or Tags contains v2");
    json_object *out = NULL;
    char err[256] = "";
    assert_int_equal(filter_object_values(f, svcs, &out, err, sizeof(err)), 0);
    assert_non_null(out);
    char *got = dump(out);
    assert_string_equal(
        got,
        "{\"redis\":{\"ID\":\"redis\",\"Service\":\"redis\",\"Tags\":[],"
        "\"Meta\":{\"env\":\"prod\"},\"Port\":6379},"
        "\"web-2\":{\"ID\":\"web-2\",\"Service\":\"web\","
        "\"Tags\":[\"v2\"],\"Meta\":{},\"Port\":8081},"
        "\"web-1\":{\"ID\":\"web-1\",\"Service\":\"web\","
        "\"Tags\":[\"v1\"],\"Meta\":{\"env\":\"prod\"},\"Port\":8080}}");
    assert_ptr_equal(json_object_object_get(out, "web-1"),
                     json_object_object_get(svcs, "web-1"));
    json_object_put(out);
    filter_free(f);

    /* a filter that matches null values keeps them */
    f = parse_ok("Service is empty");
    assert_int_equal(filter_object_values(f, svcs, &out, err, sizeof(err)), 0);
    free(got);
    got = dump(out);
    assert_string_equal(got, "{\"nil\":null}");
    json_object_put(out);
    assert_int_equal(filter_object_values(f, NULL, &out, err, sizeof(err)),
                     -EINVAL);
    assert_null(out);
    json_object *arr = J("[]");
    assert_int_equal(filter_object_values(f, arr, &out, err, sizeof(err)),
                     -EINVAL);
    assert_null(out);
    assert_string_equal(err, "only objects can be filtered, not an array");
    json_object_put(arr);
    filter_free(f);

    char *after = dump(svcs);
    assert_string_equal(before, after);
    free(before);
    free(after);
    free(got);
    json_object_put(svcs);
}

/* filter_array / filter_object_values over `doc`: -EINVAL, no result, and
 * a message containing `want`. */
static void filter_fails(const char *expr, const char *doc, const char *want)
{
    struct filter *f = parse_ok(expr);
    json_object *in = J(doc);
    json_object *out = J("[]"); /* overwritten with NULL */
    json_object *was = out;
    char err[512] = "";
    int r = json_object_is_type(in, json_type_array)
                ? filter_array(f, in, &out, err, sizeof(err))
                : filter_object_values(f, in, &out, err, sizeof(err));
    if (r != -EINVAL)
        fail_msg("%s on %s: expected -EINVAL, got %d", expr, doc, r);
    assert_null(out);
    if (strstr(err, want) == NULL)
        fail_msg("%s: message \"%s\" lacks \"%s\"", expr, err, want);
    json_object_put(was);
    json_object_put(in);
    filter_free(f);
}

static void evaluation_errors_fail_the_whole_filter(void **state)
{
    (void)state;
    /* Consul (bexpr's Filter.Execute) stops at the first element that
     * cannot be evaluated and answers the request with that error: no
     * element is dropped because of one. */
    const char *arr =
        "[{\"Service\":\"web\",\"Port\":80},"
        "{\"Service\":\"db\",\"Port\":5432,"
        "\"Checks\":[{\"Status\":\"x\"}]},"
        "{\"Service\":\"api\",\"Port\":81}]";
    /* a selector through an array, in the second element only */
    filter_fails("Checks.Status == x or Service == db", arr,
                 "selector Checks.Status: the value before \"Status\" is "
                 "an array");
    /* short-circuit: the first operand decides before the bad one */
    struct filter *f = parse_ok("Service == db or Checks.Status == x");
    json_object *in = J("[{\"Service\":\"db\",\"Checks\":[]}]");
    json_object *out = NULL;
    assert_int_equal(filter_array(f, in, &out, NULL, 0), 0);
    assert_int_equal(json_object_array_length(out), 1);
    json_object_put(out);
    json_object_put(in);
    filter_free(f);
    /* type mismatches the parser cannot see */
    filter_fails("Port == abc", arr, "cannot compare a number with \"abc\"");
    filter_fails("Port contains 8", arr,
                 "cannot perform in/contains on a "
                 "number");
    filter_fails("Port matches \"8\"", arr, "cannot match a number");
    filter_fails("Port is empty", arr, "cannot test a number for emptiness");
    /* an element that is not an object */
    filter_fails("Service == web", "[{\"Service\":\"web\"},\"str\"]",
                 "is a string, which has no fields");
    /* an index out of range */
    filter_fails("Checks.1.Status == x", arr, "index 1 is out of range");
    /* the same for map responses (/v1/agent/services) */
    filter_fails("Meta.env == prod or Tags.first == v2",
                 "{\"redis\":{\"Meta\":{\"env\":\"prod\"},\"Tags\":[]},"
                 "\"web\":{\"Meta\":{},\"Tags\":[\"v2\"]}}",
                 "selector Tags.first: the value before \"first\" is an "
                 "array");
}

static void one_filter_evaluates_many_elements(void **state)
{
    (void)state;
    /* parse once, evaluate many times: nothing in the filter changes */
    struct filter *f = parse_ok(
        "Service.Tags contains primary and "
        "Service.Service matches \"^re\" and "
        "Service.Port == 8000");
    json_object *o = J(SERVICE_ENTRY);
    json_object *other = J(CATALOG_SERVICE);
    for (int i = 0; i < 1000; i++) {
        assert_true(filter_match(f, o));
        assert_false(filter_match(f, other));
    }
    json_object_put(o);
    json_object_put(other);
    filter_free(f);
    filter_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(equality_on_strings),
        cmocka_unit_test(inequality_on_strings),
        cmocka_unit_test(in_and_contains_on_arrays),
        cmocka_unit_test(in_and_contains_on_maps_test_keys),
        cmocka_unit_test(in_and_contains_on_strings_are_substring),
        cmocka_unit_test(is_empty_and_is_not_empty),
        cmocka_unit_test(matches_uses_regex_search),
        cmocka_unit_test(matches_translates_common_re2_syntax),
        cmocka_unit_test(numbers_compare_numerically),
        cmocka_unit_test(numbers_against_strings_compare_text),
        cmocka_unit_test(booleans_take_go_parsebool_words),
        cmocka_unit_test(uint64_above_2_53_compares_exactly),
        cmocka_unit_test(missing_fields_follow_bexpr_not_present_rules),
        cmocka_unit_test(map_keys_with_dots_via_index),
        cmocka_unit_test(exact_field_name_wins_over_case_folded),
        cmocka_unit_test(raw_and_escaped_strings),
        cmocka_unit_test(precedence_not_over_and_over_or),
        cmocka_unit_test(parentheses_group),
        cmocka_unit_test(not_as_bare_word_before_in),
        cmocka_unit_test(selector_through_array_is_an_evaluation_error),
        cmocka_unit_test(type_mismatches_are_evaluation_errors),
        cmocka_unit_test(syntax_errors_name_their_position),
        cmocka_unit_test(syntax_error_kinds),
        cmocka_unit_test(bad_regex_is_a_parse_error),
        cmocka_unit_test(nesting_and_length_are_bounded),
        cmocka_unit_test(filter_array_keeps_order_and_input),
        cmocka_unit_test(filter_object_values_keeps_keys_in_order),
        cmocka_unit_test(evaluation_errors_fail_the_whole_filter),
        cmocka_unit_test(one_filter_evaluates_many_elements),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
