/*
 * http_agent_svc — the agent's own services and checks (spec 2.4-2.9):
 * register/deregister, listings, hash blocking on /v1/agent/service/<id>,
 * TTL updates, node and service maintenance, and the load-balancer health
 * endpoints /v1/agent/health/service/{id,name}/<x>.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "http.h"
#include "json.h"
#include "local.h"
#include "svcdef.h"

static struct svcdef_policy policy(struct agent *a)
{
    /* Consul: enable_local_script_checks also allows scripts registered
     * through the local agent API (from loopback). */
    struct svcdef_policy p = {
        .allow_scripts = a->cfg.enable_script_checks ||
                         a->cfg.enable_local_script_checks};
    return p;
}

/* Parse the JSON body; on failure reply 400 "Request decode failed: ..."
 * and return NULL. An empty body is an error too. */
static json_object *body_json(struct http_req *r)
{
    char err[256] = "";
    json_object *o = r->body_len
                         ? json_parse(r->body, r->body_len, err, sizeof err)
                         : NULL;
    if (o == NULL) {
        http_reply_text(r, 400, "Request decode failed: %s",
                        r->body_len == 0 ? "EOF" : err[0] ? err : "null body");
        return NULL;
    }
    return o;
}

static void persisted_cb(void *data)
{
    http_wake(data, 0);
}

/* Answer 200 once the change just made is on disk (local_sync_wait): an
 * acknowledged registration survives kill -9, as in Consul. */
static void reply_when_persisted(struct http_req *r)
{
    struct http_token *t = http_wait(r);
    if (t == NULL)
        return;
    int rv = local_sync_wait(r->agent->local, persisted_cb, t);
    if (rv != 0)
        http_wake(t, rv == 1 ? 0 : rv);
}

/* Second pass of a write handler, after reply_when_persisted. Returns
 * true when it answered. */
static bool answered_after_persist(struct http_req *r)
{
    if (r->phase != HTTP_PHASE_APPLIED)
        return false;
    if (r->applied_status == 0)
        http_reply_empty(r, 200);
    else
        http_reply_text(r, 500, "%s",
                        r->applied_status == -ECANCELED
                            ? "agent is shutting down"
                            : "could not persist the registration");
    return true;
}

static void reply_svcdef_err(struct http_req *r, const struct svcdef_err *e)
{
    http_reply_text(r, e->status ? e->status : 400, "%s", e->msg);
}

void http_agent_services(struct http_req *r)
{
    struct agent *a = r->agent;
    json_object *o = json_object_new_object();
    for (struct local_service *s = local_services_first(a->local); s;
         s = local_services_next(a->local, s))
        json_object_object_add(o, s->id,
                               local_service_json(s, a->cfg.datacenter));
    if (http_filter(r, &o))
        http_reply_json(r, 200, o);
}

void http_agent_service(struct http_req *r)
{
    struct agent *a = r->agent;
    if (r->phase == HTTP_PHASE_NEW && http_parse_query_opts(r) != 0)
        return;
    struct local_service *s = local_service(a->local, r->rest);
    if (s == NULL) {
        http_reply_text(r, 404, "unknown service ID: %s", r->rest);
        return;
    }
    char hash[17];
    svcdef_hash(s->svc, hash);
    const char *want = http_arg(r, "hash");
    if (want && *want && strcmp(want, hash) == 0 && !r->timed_out &&
        !r->gone) {
        char topic[600];
        snprintf(topic, sizeof topic, "service:%s", s->id);
        http_park(r, local_watch(a->local), topic, false);
        return;
    }
    http_add_header(r, "X-Consul-ContentHash", hash);
    http_reply_json(r, 200, local_service_json(s, a->cfg.datacenter));
}

void http_agent_service_register(struct http_req *r)
{
    struct agent *a = r->agent;
    if (answered_after_persist(r))
        return;
    const char *rec = http_arg(r, "replace-existing-checks");
    if (rec && *rec && strcmp(rec, "true") != 0 && strcmp(rec, "false") != 0) {
        http_reply_text(r, 400, "Invalid value for replace-existing-checks");
        return;
    }
    bool replace = rec && (*rec == '\0' || strcmp(rec, "true") == 0);
    json_object *in = body_json(r);
    if (in == NULL)
        return;
    json_object *svc, *checks;
    struct svcdef_err e;
    struct svcdef_policy pol = policy(a);
    int rv = svcdef_service(in, &pol, &svc, &checks, &e);
    json_object_put(in);
    if (rv != 0) {
        reply_svcdef_err(r, &e);
        return;
    }
    rv = local_add_service(a->local, svc, checks, LOCAL_API, replace);
    if (rv != 0) {
        http_reply_error(r, rv, "register");
        return;
    }
    reply_when_persisted(r);
}

void http_agent_service_deregister(struct http_req *r)
{
    if (answered_after_persist(r))
        return;
    local_remove_service(r->agent->local, r->rest);
    reply_when_persisted(r);
}

/* ?enable=true|false, spec 2.5/2.9. Returns 1/0, or -1 after replying. */
static int enable_arg(struct http_req *r)
{
    const char *v = http_arg(r, "enable");
    if (v == NULL || *v == '\0') {
        http_reply_text(r, 400, "Missing value for enable");
        return -1;
    }
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
        strcmp(v, "True") == 0 || strcmp(v, "TRUE") == 0 ||
        strcmp(v, "t") == 0 || strcmp(v, "T") == 0)
        return 1;
    if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 ||
        strcmp(v, "False") == 0 || strcmp(v, "FALSE") == 0 ||
        strcmp(v, "f") == 0 || strcmp(v, "F") == 0)
        return 0;
    http_reply_text(r, 400, "Invalid value for enable: \"%s\"", v);
    return -1;
}

void http_agent_service_maintenance(struct http_req *r)
{
    if (answered_after_persist(r))
        return;
    int en = enable_arg(r);
    if (en < 0)
        return;
    if (local_service_maint(r->agent->local, r->rest, en,
                            http_arg(r, "reason")) == -ENOENT) {
        http_reply_text(r, 404, "Unknown service ID \"%s\"", r->rest);
        return;
    }
    reply_when_persisted(r);
}

void http_agent_maintenance(struct http_req *r)
{
    if (answered_after_persist(r))
        return;
    int en = enable_arg(r);
    if (en < 0)
        return;
    local_node_maint(r->agent->local, en, http_arg(r, "reason"));
    reply_when_persisted(r);
}

void http_agent_checks(struct http_req *r)
{
    struct agent *a = r->agent;
    json_object *o = json_object_new_object();
    for (struct local_check *c = local_checks_first(a->local); c;
         c = local_checks_next(a->local, c))
        json_object_object_add(o, c->id,
                               local_check_json(a->local, c,
                                                a->cfg.node_name));
    if (http_filter(r, &o))
        http_reply_json(r, 200, o);
}

void http_agent_check_register(struct http_req *r)
{
    struct agent *a = r->agent;
    if (answered_after_persist(r))
        return;
    json_object *in = body_json(r);
    if (in == NULL)
        return;
    json_object *chk;
    struct svcdef_err e;
    struct svcdef_policy pol = policy(a);
    int rv = svcdef_check(in, NULL, NULL, NULL, &pol, &chk, &e);
    json_object_put(in);
    if (rv != 0) {
        reply_svcdef_err(r, &e);
        return;
    }
    char sid[512];
    snprintf(sid, sizeof sid, "%s", svcdef_str(chk, "ServiceID"));
    rv = local_add_check(a->local, chk, LOCAL_API);
    if (rv == -ENOENT) {
        http_reply_text(r, 404, "ServiceID \"%s\" does not exist", sid);
        return;
    }
    if (rv != 0) {
        http_reply_error(r, rv, "register");
        return;
    }
    reply_when_persisted(r);
}

static void reply_unknown_check(struct http_req *r, const char *id)
{
    http_reply_text(r, 404,
                    "Unknown check ID \"%s\". Ensure that the check ID is "
                    "passed, not the check name.",
                    id);
}

void http_agent_check_deregister(struct http_req *r)
{
    if (answered_after_persist(r))
        return;
    if (local_remove_check(r->agent->local, r->rest) == -ENOENT) {
        reply_unknown_check(r, r->rest);
        return;
    }
    reply_when_persisted(r);
}

static void ttl_update(struct http_req *r, const char *id, const char *status,
                       const char *output)
{
    int rv = local_ttl_update(r->agent->local, id, status, output);
    if (rv == -ENOENT)
        reply_unknown_check(r, id);
    else if (rv == -EINVAL)
        http_reply_text(r, 500, "CheckID \"%s\" does not have associated TTL",
                        id);
    else if (rv != 0)
        http_reply_error(r, rv, "update");
    else
        http_reply_empty(r, 200);
}

/* /v1/agent/check/{pass,warn,fail}/<id>?note= */
void http_agent_check_ttl(struct http_req *r)
{
    const char *p = r->path + strlen("/v1/agent/check/");
    const char *status = strncmp(p, "pass/", 5) == 0   ? "passing"
                         : strncmp(p, "warn/", 5) == 0 ? "warning"
                                                       : "critical";
    const char *note = http_arg(r, "note");
    ttl_update(r, r->rest, status, note ? note : "");
}

void http_agent_check_update(struct http_req *r)
{
    json_object *in = body_json(r);
    if (in == NULL)
        return;
    json_object *st = json_get_ci(in, "Status");
    json_object *out = json_get_ci(in, "Output");
    const char *s = st ? json_object_get_string(st) : "";
    if (strcmp(s, "passing") != 0 && strcmp(s, "warning") != 0 &&
        strcmp(s, "critical") != 0) {
        http_reply_text(r, 400, "Invalid check status: '%s'", s);
        json_object_put(in);
        return;
    }
    ttl_update(r, r->rest, s, out ? json_object_get_string(out) : "");
    json_object_put(in);
}

/* ---- /v1/agent/health/service/{id,name}/<x> ---- */

static int rank(const char *status)
{
    return strcmp(status, "passing") == 0   ? 0
           : strcmp(status, "warning") == 0 ? 1
                                            : 2;
}

static const char *const rank_names[] = {"passing", "warning", "critical"};
static const unsigned rank_codes[] = {200, 429, 503};

/* One service's entry and its aggregated rank (node checks included, as a
 * node-level critical check makes every service unhealthy). */
static json_object *health_entry(struct agent *a, struct local_service *s,
                                 int *worst)
{
    json_object *checks = json_object_new_array();
    *worst = 0;
    for (struct local_check *c = local_checks_first(a->local); c;
         c = local_checks_next(a->local, c)) {
        const char *sid = svcdef_str(c->def, "ServiceID");
        if (*sid && strcmp(sid, s->id) != 0)
            continue;
        int k = rank(c->status);
        if (k > *worst)
            *worst = k;
        json_object_array_add(checks,
                              local_check_json(a->local, c, a->cfg.node_name));
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "AggregatedStatus",
                           json_object_new_string(rank_names[*worst]));
    json_object_object_add(o, "Service",
                           local_service_json(s, a->cfg.datacenter));
    json_object_object_add(o, "Checks", checks);
    return o;
}

static bool format_text(struct http_req *r)
{
    const char *f = http_arg(r, "format");
    return f && strcmp(f, "text") == 0;
}

void http_agent_health_by_id(struct http_req *r)
{
    struct agent *a = r->agent;
    struct local_service *s = local_service(a->local, r->rest);
    if (s == NULL) {
        http_reply_text(r, 404, "ServiceId %s not found", r->rest);
        return;
    }
    int worst;
    json_object *o = health_entry(a, s, &worst);
    if (format_text(r)) {
        json_object_put(o);
        http_reply_text(r, rank_codes[worst], "%s", rank_names[worst]);
        return;
    }
    http_reply_json(r, rank_codes[worst], o);
}

void http_agent_health_by_name(struct http_req *r)
{
    struct agent *a = r->agent;
    json_object *arr = json_object_new_array();
    int worst = 0;
    for (struct local_service *s = local_services_first(a->local); s;
         s = local_services_next(a->local, s)) {
        if (strcmp(svcdef_str(s->svc, "Service"), r->rest) != 0)
            continue;
        int w;
        json_object_array_add(arr, health_entry(a, s, &w));
        if (w > worst)
            worst = w;
    }
    if (json_object_array_length(arr) == 0) {
        json_object_put(arr);
        http_reply_text(r, 404, "ServiceName %s Not Found", r->rest);
        return;
    }
    if (format_text(r)) {
        json_object_put(arr);
        http_reply_text(r, rank_codes[worst], "%s", rank_names[worst]);
        return;
    }
    http_reply_json(r, rank_codes[worst], arr);
}
