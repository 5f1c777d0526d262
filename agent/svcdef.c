/* svcdef — see svcdef.h. Validation texts are Consul's (spec 2.5, 2.7). */
#include "svcdef.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "duration.h"
#include "json.h"

#define META_MAX_PAIRS 64
#define META_KEY_MAX 128
#define META_VALUE_MAX 512
#define DEFAULT_TIMEOUT "10s"
#define DEFAULT_OUTPUT_MAX 4096

static int fail(struct svcdef_err *e, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct svcdef_err *e, unsigned status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    e->status = status;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* Field by its Consul name, case-insensitively, or by its snake_case
 * alias. NULL when absent or null. */
static json_object *field(json_object *o, const char *name, const char *snake)
{
    json_object *v = json_get_ci(o, name);
    if (v == NULL && snake != NULL)
        v = json_get_ci(o, snake);
    return v;
}

static int get_string(json_object *o, const char *name, const char *snake,
                      const char **out, struct svcdef_err *e)
{
    json_object *v = field(o, name, snake);
    *out = "";
    if (v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return fail(e, 400, "Request decode failed: %s: expected a string",
                    name);
    *out = json_object_get_string(v);
    return 0;
}

static int get_bool(json_object *o, const char *name, const char *snake,
                    bool *out, struct svcdef_err *e)
{
    json_object *v = field(o, name, snake);
    *out = false;
    if (v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_boolean))
        return fail(e, 400, "Request decode failed: %s: expected a boolean",
                    name);
    *out = json_object_get_boolean(v);
    return 0;
}

static int get_int(json_object *o, const char *name, const char *snake,
                   int64_t min, int64_t max, int64_t *out,
                   struct svcdef_err *e)
{
    json_object *v = field(o, name, snake);
    if (v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_int))
        return fail(e, 400, "Request decode failed: %s: expected an integer",
                    name);
    errno = 0;
    int64_t x = json_object_get_int64(v);
    if (errno != 0 || x < min || x > max)
        return fail(e, 400, "Request decode failed: %s: %lld out of range",
                    name, (long long)x);
    *out = x;
    return 0;
}

/* A duration given as a Go string or as a number of nanoseconds. Returns
 * 0 with *ns = -1 when absent. */
static int get_duration(json_object *o, const char *name, const char *snake,
                        int64_t *ns, struct svcdef_err *e)
{
    json_object *v = field(o, name, snake);
    *ns = -1;
    if (v == NULL)
        return 0;
    if (json_object_is_type(v, json_type_int)) {
        *ns = json_object_get_int64(v);
        return 0;
    }
    if (json_object_is_type(v, json_type_string) &&
        duration_parse(json_object_get_string(v), ns) == 0)
        return 0;
    return fail(e, 400, "Request decode failed: %s: invalid duration \"%s\"",
                name, json_object_get_string(v));
}

static json_object *string_array(json_object *v, const char *name,
                                 struct svcdef_err *e)
{
    json_object *arr = json_object_new_array();
    if (v == NULL)
        return arr;
    if (!json_object_is_type(v, json_type_array)) {
        json_object_put(arr);
        fail(e, 400, "Request decode failed: %s: expected a list of strings",
             name);
        return NULL;
    }
    size_t n = json_object_array_length(v);
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(v, i);
        if (!json_object_is_type(s, json_type_string)) {
            json_object_put(arr);
            fail(e, 400,
                 "Request decode failed: %s: expected a list of strings",
                 name);
            return NULL;
        }
        json_object_array_add(arr, json_object_get(s));
    }
    return arr;
}

static bool meta_key_ok(const char *k)
{
    if (*k == '\0')
        return false;
    for (; *k; k++)
        if (!isalnum((unsigned char)*k) && *k != '_' && *k != '-')
            return false;
    return true;
}

static json_object *service_meta(json_object *v, struct svcdef_err *e)
{
    json_object *m = json_object_new_object();
    if (v == NULL)
        return m;
    if (!json_object_is_type(v, json_type_object)) {
        json_object_put(m);
        fail(e, 400, "Request decode failed: Meta: expected an object");
        return NULL;
    }
    if (json_object_object_length(v) > META_MAX_PAIRS) {
        json_object_put(m);
        fail(e, 400, "Invalid Service Meta: Node metadata cannot contain more "
                     "than %d key/value pairs",
             META_MAX_PAIRS);
        return NULL;
    }
    json_object_object_foreach(v, k, val)
    {
        const char *why = NULL;
        if (!meta_key_ok(k))
            why = "Key contains invalid characters";
        else if (strlen(k) > META_KEY_MAX)
            why = "Key is too long";
        else if (strncmp(k, "consul-", 7) == 0)
            why = "Key prefix 'consul-' is reserved for internal use";
        else if (!json_object_is_type(val, json_type_string))
            why = "Value must be a string";
        else if (json_object_get_string_len(val) > META_VALUE_MAX)
            why = "Value is too long";
        if (why) {
            json_object_put(m);
            fail(e, 400, "Invalid Service Meta: %s (key \"%s\")", why, k);
            return NULL;
        }
        json_object_object_add(m, k, json_object_get(val));
    }
    return m;
}

static void add_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

static void add_duration(json_object *o, const char *k, int64_t ns)
{
    char buf[40];
    duration_format(ns < 0 ? 0 : ns, buf, sizeof buf);
    add_str(o, k, buf);
}

/* ---------------------------------------------------------------- checks */

int svcdef_check(json_object *in, const char *service_id,
                 const char *service_name, const char *default_id,
                 const struct svcdef_policy *pol, json_object **check,
                 struct svcdef_err *e)
{
    const char *id, *name, *notes, *status, *http, *tcp, *method, *body,
        *script, *sid;
    bool tls_skip, no_redirects;
    int64_t interval, timeout, ttl, dereg;
    int64_t sbp = 0, fbw = 0, fbc = 0, outmax = DEFAULT_OUTPUT_MAX;
    *check = NULL;
    if (!json_object_is_type(in, json_type_object))
        return fail(e, 400, "Request decode failed: check must be an object");
    if (get_string(in, "CheckID", "check_id", &id, e) ||
        get_string(in, "Name", NULL, &name, e) ||
        get_string(in, "Notes", NULL, &notes, e) ||
        get_string(in, "Status", NULL, &status, e) ||
        get_string(in, "HTTP", NULL, &http, e) ||
        get_string(in, "TCP", NULL, &tcp, e) ||
        get_string(in, "Method", NULL, &method, e) ||
        get_string(in, "Body", NULL, &body, e) ||
        get_string(in, "Script", NULL, &script, e) ||
        get_string(in, "ServiceID", "service_id", &sid, e) ||
        get_bool(in, "TLSSkipVerify", "tls_skip_verify", &tls_skip, e) ||
        get_bool(in, "DisableRedirects", "disable_redirects", &no_redirects,
                 e) ||
        get_duration(in, "Interval", NULL, &interval, e) ||
        get_duration(in, "Timeout", NULL, &timeout, e) ||
        get_duration(in, "TTL", NULL, &ttl, e) ||
        get_duration(in, "DeregisterCriticalServiceAfter",
                     "deregister_critical_service_after", &dereg, e) ||
        get_int(in, "SuccessBeforePassing", "success_before_passing", 0,
                INT32_MAX, &sbp, e) ||
        get_int(in, "FailuresBeforeWarning", "failures_before_warning", 0,
                INT32_MAX, &fbw, e) ||
        get_int(in, "FailuresBeforeCritical", "failures_before_critical", 0,
                INT32_MAX, &fbc, e) ||
        get_int(in, "OutputMaxSize", "output_max_size", 0, 1 << 24, &outmax,
                e))
        return -EINVAL;
    if (*id == '\0')
        get_string(in, "ID", NULL, &id, e);
    bool nested = service_name != NULL;
    if (*status && strcmp(status, "passing") != 0 &&
        strcmp(status, "warning") != 0 && strcmp(status, "critical") != 0)
        return fail(e, 400,
                    nested ? "Status for checks must 'passing', 'warning', "
                             "'critical'"
                           : "Bad check status");

    /* argv: Args / ScriptArgs (the Go client sends ScriptArgs), or the
     * legacy Script run through the shell. */
    json_object *args_in = field(in, "Args", "args");
    if (args_in == NULL)
        args_in = field(in, "ScriptArgs", "script_args");
    json_object *args = string_array(args_in, "Args", e);
    if (args == NULL)
        return -EINVAL;
    if (json_object_array_length(args) == 0 && *script) {
        json_object_array_add(args, json_object_new_string("/bin/sh"));
        json_object_array_add(args, json_object_new_string("-c"));
        json_object_array_add(args, json_object_new_string(script));
    }
    static const char *const unsupported[] = {
        "GRPC", "UDP", "H2PING", "DockerContainerID", "AliasNode",
        "AliasService", "OSService"};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
        if (field(in, unsupported[i], NULL) != NULL) {
            json_object_put(args);
            return fail(e, 400, "Invalid check: %s checks are not supported "
                                "by cairn yet",
                        unsupported[i]);
        }
    int kinds = (json_object_array_length(args) > 0) + (*http != '\0') +
                (*tcp != '\0') + (ttl >= 0);
    const char *type = json_object_array_length(args) ? "script"
                       : *http                         ? "http"
                       : *tcp                          ? "tcp"
                       : ttl >= 0                      ? "ttl"
                                                       : NULL;
    int rv = 0;
    if (kinds == 0)
        rv = fail(e, 400, "Invalid check: one of Args, HTTP, TCP or TTL must "
                          "be set");
    else if (kinds > 1)
        rv = fail(e, 400, "Invalid check: only one of Args, HTTP, TCP or TTL "
                          "may be set");
    else if (strcmp(type, "ttl") == 0 && ttl <= 0)
        rv = fail(e, 400, "Invalid check: TTL must be > 0 for TTL checks");
    else if (strcmp(type, "ttl") != 0 && interval <= 0)
        rv = fail(e, 400, "Invalid check: Interval must be > 0 for Script, "
                          "HTTP, or TCP checks");
    else if (strcmp(type, "script") == 0 && !pol->allow_scripts)
        rv = fail(e, 500,
                  "Scripts are disabled on this agent; to enable, configure "
                  "'enable_script_checks' or 'enable_local_script_checks' to "
                  "true");
    if (rv != 0) {
        json_object_put(args);
        return rv;
    }
    if (!nested && *name == '\0') {
        json_object_put(args);
        return fail(e, 400, "Missing check name");
    }
    char gen_name[300];
    if (*name == '\0') {
        snprintf(gen_name, sizeof gen_name, "Service '%s' check",
                 service_name);
        name = gen_name;
    }
    if (*id == '\0')
        id = default_id && *default_id ? default_id : name;
    if (interval > 0 && interval < 1000000000LL)
        interval = 1000000000LL; /* Consul raises intervals below 1 s */
    if (timeout <= 0)
        duration_parse(DEFAULT_TIMEOUT, &timeout);
    /* Consul raises DeregisterCriticalServiceAfter below one minute to one
     * minute (its reaper would not be faster anyway). */
    if (dereg > 0 && dereg < 60000000000LL)
        dereg = 60000000000LL;

    json_object *c = json_object_new_object();
    add_str(c, "CheckID", id);
    add_str(c, "Name", name);
    add_str(c, "ServiceID", nested ? service_id : sid);
    add_str(c, "Notes", notes);
    add_str(c, "Status", *status ? status : "critical");
    add_str(c, "Type", type);
    add_duration(c, "Interval", interval);
    add_duration(c, "Timeout", timeout);
    add_duration(c, "TTL", ttl);
    add_str(c, "HTTP", http);
    add_str(c, "Method", method);
    json_object *hdr = field(in, "Header", NULL);
    if (hdr && json_object_is_type(hdr, json_type_object))
        json_object_object_add(c, "Header", json_object_get(hdr));
    else
        json_object_object_add(c, "Header", NULL);
    add_str(c, "Body", body);
    json_object_object_add(c, "TLSSkipVerify",
                           json_object_new_boolean(tls_skip));
    json_object_object_add(c, "DisableRedirects",
                           json_object_new_boolean(no_redirects));
    add_str(c, "TCP", tcp);
    json_object_object_add(c, "Args", args);
    add_duration(c, "DeregisterCriticalServiceAfter", dereg);
    json_object_object_add(c, "SuccessBeforePassing",
                           json_object_new_int64(sbp));
    json_object_object_add(c, "FailuresBeforeWarning",
                           json_object_new_int64(fbw));
    json_object_object_add(c, "FailuresBeforeCritical",
                           json_object_new_int64(fbc));
    json_object_object_add(c, "OutputMaxSize", json_object_new_int64(outmax));
    *check = c;
    return 0;
}

/* -------------------------------------------------------------- services */

static json_object *tagged_addresses(json_object *v, struct svcdef_err *e)
{
    if (v == NULL)
        return NULL;
    if (!json_object_is_type(v, json_type_object)) {
        fail(e, 400, "Request decode failed: TaggedAddresses: expected an "
                     "object");
        return NULL;
    }
    json_object *out = json_object_new_object();
    json_object_object_foreach(v, k, val)
    {
        const char *addr = "";
        int64_t port = 0;
        if (!json_object_is_type(val, json_type_object) ||
            get_string(val, "Address", NULL, &addr, e) ||
            get_int(val, "Port", NULL, 0, 65535, &port, e)) {
            json_object_put(out);
            if (e->msg[0] == '\0')
                fail(e, 400, "Request decode failed: TaggedAddresses.%s: "
                             "expected {Address, Port}",
                     k);
            return NULL;
        }
        json_object *ta = json_object_new_object();
        add_str(ta, "Address", addr);
        json_object_object_add(ta, "Port", json_object_new_int64(port));
        json_object_object_add(out, k, ta);
    }
    return out;
}

int svcdef_service(json_object *in, const struct svcdef_policy *pol,
                   json_object **svc, json_object **checks,
                   struct svcdef_err *e)
{
    const char *name, *id, *address, *kind;
    int64_t port = 0;
    bool eto;
    *svc = *checks = NULL;
    e->msg[0] = '\0';
    if (!json_object_is_type(in, json_type_object))
        return fail(e, 400, "Request decode failed: expected a JSON object");
    if (get_string(in, "Name", NULL, &name, e) ||
        get_string(in, "ID", NULL, &id, e) ||
        get_string(in, "Address", NULL, &address, e) ||
        get_string(in, "Kind", NULL, &kind, e) ||
        get_int(in, "Port", NULL, 0, 65535, &port, e) ||
        get_bool(in, "EnableTagOverride", "enable_tag_override", &eto, e))
        return -EINVAL;
    if (*name == '\0')
        return fail(e, 400, "Missing service name");
    if (*id == '\0')
        id = name;
    if (strcmp(address, "0.0.0.0") == 0 || strcmp(address, "::") == 0 ||
        strcmp(address, "[::]") == 0)
        return fail(e, 400, "Invalid service address");

    int64_t passing = 1, warning = 1;
    json_object *w = field(in, "Weights", NULL);
    if (w != NULL) {
        if (!json_object_is_type(w, json_type_object))
            return fail(e, 400, "Request decode failed: Weights: expected an "
                                "object");
        passing = warning = 0;
        if (get_int(w, "Passing", NULL, INT32_MIN, INT32_MAX, &passing, e) ||
            get_int(w, "Warning", NULL, INT32_MIN, INT32_MAX, &warning, e))
            return -EINVAL;
        if (passing < 1)
            return fail(e, 400, "Invalid Weights: Passing must be greater "
                                "than 0");
        if (warning < 0)
            return fail(e, 400, "Invalid Weights: Warning must be greater "
                                "or equal than 0");
    }
    json_object *tags = string_array(field(in, "Tags", NULL), "Tags", e);
    if (tags == NULL)
        return -EINVAL;
    json_object *meta = service_meta(field(in, "Meta", NULL), e);
    if (meta == NULL) {
        json_object_put(tags);
        return -EINVAL;
    }
    json_object *ta_in = field(in, "TaggedAddresses", "tagged_addresses");
    json_object *ta = tagged_addresses(ta_in, e);
    if (ta_in != NULL && ta == NULL) {
        json_object_put(tags);
        json_object_put(meta);
        return -EINVAL;
    }

    json_object *s = json_object_new_object();
    if (*kind)
        add_str(s, "Kind", kind);
    add_str(s, "ID", id);
    add_str(s, "Service", name);
    json_object_object_add(s, "Tags", tags);
    json_object_object_add(s, "Meta", meta);
    json_object_object_add(s, "Port", json_object_new_int64(port));
    add_str(s, "Address", address);
    if (ta != NULL && json_object_object_length(ta) > 0)
        json_object_object_add(s, "TaggedAddresses", ta);
    else
        json_object_put(ta);
    json_object *wo = json_object_new_object();
    json_object_object_add(wo, "Passing", json_object_new_int64(passing));
    json_object_object_add(wo, "Warning", json_object_new_int64(warning));
    json_object_object_add(s, "Weights", wo);
    json_object_object_add(s, "EnableTagOverride",
                           json_object_new_boolean(eto));

    /* Check (one, ID service:<id>) and Checks (ID service:<id>:<n>). */
    json_object *out = json_object_new_array();
    json_object *one = field(in, "Check", NULL);
    json_object *many = field(in, "Checks", NULL);
    if (many && !json_object_is_type(many, json_type_array)) {
        fail(e, 400, "Request decode failed: Checks: expected a list");
        goto err;
    }
    char gen[600];
    if (one != NULL) {
        json_object *c;
        snprintf(gen, sizeof gen, "service:%s", id);
        if (svcdef_check(one, id, name, gen, pol, &c, e) != 0)
            goto err;
        json_object_array_add(out, c);
    }
    size_t n = many ? json_object_array_length(many) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *c;
        snprintf(gen, sizeof gen, "service:%s:%zu", id, i + 1);
        if (svcdef_check(json_object_array_get_idx(many, i), id, name, gen,
                         pol, &c, e) != 0)
            goto err;
        json_object_array_add(out, c);
    }
    *svc = s;
    *checks = out;
    return 0;
err:
    json_object_put(s);
    json_object_put(out);
    return -EINVAL;
}

/* ----------------------------------------------------------------- utils */

const char *svcdef_str(json_object *o, const char *name)
{
    json_object *v = NULL;
    if (o == NULL || !json_object_object_get_ex(o, name, &v) ||
        !json_object_is_type(v, json_type_string))
        return "";
    return json_object_get_string(v);
}

int64_t svcdef_int(json_object *o, const char *name)
{
    json_object *v = NULL;
    if (o == NULL || !json_object_object_get_ex(o, name, &v))
        return 0;
    return json_object_get_int64(v);
}

uint64_t svcdef_ms(json_object *o, const char *name)
{
    int64_t ns;
    const char *s = svcdef_str(o, name);
    if (*s == '\0' || duration_parse(s, &ns) != 0 || ns <= 0)
        return 0;
    return (uint64_t)(ns / 1000000);
}

void svcdef_hash(json_object *o, char out[17])
{
    size_t len = 0;
    char *s = json_dump(o, false, &len);
    uint8_t h[8] = {0};
    if (s != NULL)
        crypto_generichash(h, sizeof h, (const uint8_t *)s, len, NULL, 0);
    free(s);
    sodium_bin2hex(out, 17, h, sizeof h);
}
