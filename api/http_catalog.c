/*
 * http_catalog — the catalog endpoints /v1/catalog/... (spec 3) and the
 * health endpoints /v1/health/... (spec 4).
 * Writes (catalog register/deregister) are Raft commands whose payload is
 * the request JSON. Reads come from the replicated catalog (agent/catalog.h)
 * through one path, serve_read: consistency mode and leader check, the
 * ?consistent barrier, parsing ?filter (a bad one is a 400 before
 * anything else), the blocking query on the answer's watch topic ("nodes",
 * "services", "checks", "svc:<name>", "node:<name>") and the index
 * headers. Each endpoint builds its answer and applies the filter to what
 * Consul applies it to: each element of a list answer; each service
 * instance, before grouping by name, for catalog/services; each entry of
 * the Services map for catalog/node. As in Consul's
 * blockingQuery, the filter runs on every pass of a blocking query, and an
 * evaluation error answers at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "agent.h"
#include "catalog.h"
#include "cmd.h"
#include "filter.h"
#include "http.h"
#include "json.h"

#define MAX_MULTI 32

/* ---------------------------------------------------- query arguments */

struct multi
{
    const char *name;
    const char *vals[MAX_MULTI];
    int n;
};

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind,
                               const char *key, const char *value)
{
    struct multi *m = cls;
    (void)kind;
    if (key && strcmp(key, m->name) == 0 && m->n < MAX_MULTI)
        m->vals[m->n++] = value ? value : "";
    return MHD_YES;
}

/* Every value of a repeatable argument (?tag=a&tag=b). */
static void args_all(struct http_req *r, const char *name, struct multi *m)
{
    m->name = name;
    m->n = 0;
    http_each_arg(r, (void *)collect, m);
}

/* ?passing: absent false; "", 1, true true; 0, false false; else 400. */
static int passing_arg(struct http_req *r, bool *out)
{
    const char *v = http_arg(r, "passing");
    *out = false;
    if (v == NULL)
        return 0;
    if (*v == '\0' || strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 ||
        strcmp(v, "t") == 0 || strcmp(v, "T") == 0) {
        *out = true;
        return 0;
    }
    if (strcmp(v, "0") == 0 || strcasecmp(v, "false") == 0 ||
        strcmp(v, "f") == 0 || strcmp(v, "F") == 0)
        return 0;
    http_reply_text(r, 400, "Invalid value for ?passing");
    return -1;
}

static json_object *path_get(json_object *o, const char *a, const char *b)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, a, &v))
        return NULL;
    if (b == NULL)
        return v;
    json_object *w = NULL;
    return json_object_object_get_ex(v, b, &w) ? w : NULL;
}

/* All ?tag values present (case-insensitively) in `tags`. */
static bool has_tags(json_object *tags, const struct multi *want)
{
    for (int i = 0; i < want->n; i++) {
        bool found = false;
        size_t n = tags ? json_object_array_length(tags) : 0;
        for (size_t k = 0; k < n && !found; k++)
            found = strcasecmp(json_object_get_string(
                                   json_object_array_get_idx(tags, k)),
                               want->vals[i]) == 0;
        if (!found)
            return false;
    }
    return true;
}

/* All ?node-meta=k:v present in `meta`. */
static bool has_meta(json_object *meta, const struct multi *want)
{
    for (int i = 0; i < want->n; i++) {
        const char *kv = want->vals[i], *colon = strchr(kv, ':');
        char key[256];
        snprintf(key, sizeof key, "%.*s",
                 (int)(colon ? (size_t)(colon - kv) : strlen(kv)), kv);
        json_object *v = NULL;
        if (meta == NULL || !json_object_object_get_ex(meta, key, &v) ||
            strcmp(json_object_get_string(v), colon ? colon + 1 : "") != 0)
            return false;
    }
    return true;
}

/* ------------------------------------------------------ the read path */

/* Builds the answer (new reference; NULL for JSON null), filtered by `f`
 * (NULL: no ?filter), and says which index and topic a blocking query
 * uses. Returns 0, or -1 after replying (bad argument, or the filter could
 * not be evaluated). */
typedef int (*read_fn)(struct http_req *r, struct catalog *c,
                       const struct filter *f, json_object **out,
                       uint64_t *index, char *topic, size_t topic_len);

/* Keep the elements of the list answer *out that match `f` (NULL: all).
 * Returns 0, or -1 after replying (*out released). */
static int filter_elements(struct http_req *r, const struct filter *f,
                           json_object **out)
{
    if (f == NULL || *out == NULL)
        return 0;
    char err[512] = "";
    json_object *kept = NULL;
    int rc = filter_array(f, *out, &kept, err, sizeof err);
    json_object_put(*out);
    *out = kept;
    if (rc != 0) {
        http_filter_fail(r, rc, err);
        return -1;
    }
    return 0;
}

static void serve_read(struct http_req *r, read_fn fn)
{
    struct agent *a = r->agent;
    if (r->phase == HTTP_PHASE_NEW) {
        if (http_parse_query_opts(r) != 0)
            return;
        if (!http_check_leader(r))
            return;
        if (r->consistency == HTTP_CONS_CONSISTENT) {
            http_barrier(r);
            return;
        }
    } else if (r->applied_status != 0) {
        http_reply_text(r, 500, "No cluster leader");
        return;
    }
    struct filter *f;
    if (!http_filter_parse(r, &f))
        return;
    json_object *out = NULL;
    uint64_t index = 0;
    char topic[600] = "";
    int rc = fn(r, a->fsm.catalog, f, &out, &index, topic, sizeof topic);
    filter_free(f);
    if (rc != 0)
        return;
    if (http_should_block(r, index)) {
        json_object_put(out);
        http_park(r, a->fsm.catalog_watch, topic, false);
        return;
    }
    http_add_index_headers(r, index);
    http_reply_json(r, 200, out);
}

static void lower(char *dst, size_t len, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < len; i++)
        dst[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i]);
    dst[i] = '\0';
}

static void svc_topic(char *topic, size_t len, const char *name)
{
    char l[512];
    lower(l, sizeof l, name);
    snprintf(topic, len, "svc:%s", l);
}

/* Keep the elements of `arr` for which keep(el) holds (new array). */
static json_object *keep_if(json_object *arr,
                            bool (*keep)(json_object *el, void *ctx),
                            void *ctx)
{
    json_object *out = json_object_new_array();
    size_t n = arr ? json_object_array_length(arr) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *el = json_object_array_get_idx(arr, i);
        if (keep(el, ctx))
            json_object_array_add(out, json_object_get(el));
    }
    json_object_put(arr);
    return out;
}

/* -------------------------------------------------------------- catalog */

static bool node_meta_ok(json_object *node, void *ctx)
{
    return has_meta(path_get(node, "Meta", NULL), ctx);
}

static int read_nodes(struct http_req *r, struct catalog *c,
                      const struct filter *f, json_object **out,
                      uint64_t *index, char *topic, size_t tlen)
{
    struct multi meta;
    args_all(r, "node-meta", &meta);
    *out = catalog_nodes(c, index);
    if (meta.n)
        *out = keep_if(*out, node_meta_ok, &meta);
    snprintf(topic, tlen, "nodes");
    return filter_elements(r, f, out);
}

/* ?node-meta and ?filter on one service instance (a CatalogService). */
struct instance_filter
{
    const struct filter *f;
    struct multi meta;
    char err[512];
};

static int instance_ok(void *data, json_object *inst)
{
    struct instance_filter *k = data;
    if (k->meta.n && !has_meta(path_get(inst, "NodeMeta", NULL), &k->meta))
        return 0;
    return k->f ? filter_eval(k->f, inst, k->err, sizeof k->err) : 1;
}

/* Consul's ListServices runs ?node-meta and ?filter on each service
 * instance (a structs.ServiceNode: ID, Node, Address, Datacenter,
 * TaggedAddresses, NodeMeta, ServiceKind, ServiceID, ServiceName,
 * ServiceTags, ServiceAddress, ServiceMeta, ServicePort, ServiceWeights,
 * ...: the CatalogService shape of catalog/service/<name>), then groups
 * the instances kept by name with the union of their tags. So
 * `ServiceName == "web"` and `"v1" in ServiceTags` select here; the
 * grouped answer itself is never filtered. */
static int read_services(struct http_req *r, struct catalog *c,
                         const struct filter *f, json_object **out,
                         uint64_t *index, char *topic, size_t tlen)
{
    struct instance_filter k = {.f = f, .err = ""};
    args_all(r, "node-meta", &k.meta);
    snprintf(topic, tlen, "services");
    if (k.meta.n == 0 && f == NULL) {
        *out = catalog_services(c, index); /* cached */
        return 0;
    }
    int rc = 0;
    *out = catalog_services_where(c, instance_ok, &k, index, &rc);
    if (*out == NULL) {
        http_filter_fail(r, rc, k.err);
        return -1;
    }
    return 0;
}

struct svc_filter
{
    struct multi tags, meta;
};

static bool catalog_service_ok(json_object *el, void *ctx)
{
    struct svc_filter *f = ctx;
    return has_tags(path_get(el, "ServiceTags", NULL), &f->tags) &&
           has_meta(path_get(el, "NodeMeta", NULL), &f->meta);
}

static int read_service(struct http_req *r, struct catalog *c,
                        const struct filter *f, json_object **out,
                        uint64_t *index, char *topic, size_t tlen)
{
    struct svc_filter sf;
    args_all(r, "tag", &sf.tags);
    args_all(r, "node-meta", &sf.meta);
    *out = catalog_service_nodes(c, r->rest, index);
    if (sf.tags.n || sf.meta.n)
        *out = keep_if(*out, catalog_service_ok, &sf);
    svc_topic(topic, tlen, r->rest);
    return filter_elements(r, f, out);
}

/* Consul's NodeServices runs ?filter on each value of the Services map
 * (a structs.NodeService: ID, Service, Tags, Address, Meta, Port, Kind,
 * Weights, ...), so `Service == "web"` keeps the web entries; Node is
 * never filtered, and an unknown node stays `null`. */
static int read_node(struct http_req *r, struct catalog *c,
                     const struct filter *f, json_object **out,
                     uint64_t *index, char *topic, size_t tlen)
{
    *out = catalog_node_services(c, r->rest, index);
    snprintf(topic, tlen, "node:%s", r->rest);
    json_object *svcs = *out ? path_get(*out, "Services", NULL) : NULL;
    if (f == NULL || svcs == NULL)
        return 0;
    char err[512] = "";
    json_object *kept = NULL;
    int rc = filter_object_values(f, svcs, &kept, err, sizeof err);
    /* *out is a fresh container (only the records in it are shared), so
     * its Services value may be replaced */
    if (rc == 0 && json_object_object_add(*out, "Services", kept) != 0) {
        json_object_put(kept);
        rc = -ENOMEM;
    }
    if (rc != 0) {
        json_object_put(*out);
        *out = NULL;
        http_filter_fail(r, rc, err);
        return -1;
    }
    return 0;
}

void http_catalog_nodes(struct http_req *r)
{
    serve_read(r, read_nodes);
}

void http_catalog_services(struct http_req *r)
{
    serve_read(r, read_services);
}

void http_catalog_service(struct http_req *r)
{
    serve_read(r, read_service);
}

void http_catalog_node(struct http_req *r)
{
    serve_read(r, read_node);
}

void http_catalog_datacenters(struct http_req *r)
{
    json_object *arr = json_object_new_array();
    json_object_array_add(arr, json_object_new_string(r->agent->cfg.datacenter));
    http_reply_json(r, 200, arr);
}

/* register / deregister: the body, checked for JSON here, becomes the
 * command's payload; the FSM validates and applies it. */
static void catalog_write(struct http_req *r, enum cmd_type type)
{
    if (r->phase == HTTP_PHASE_APPLIED) {
        if (r->applied_status != 0)
            http_reply_text(r, 500, "%s",
                            r->applied_status == -ECANCELED
                                ? "agent is shutting down"
                                : "failed to apply: leadership lost");
        else if (r->applied_rc != 0)
            http_reply_text(r, 500, "%s",
                            r->applied_err[0] ? r->applied_err
                                              : "catalog update failed");
        else
            http_reply_json(r, 200, json_object_new_boolean(1));
        return;
    }
    if (http_parse_query_opts(r) != 0)
        return;
    char err[256] = "";
    json_object *in = r->body_len
                          ? json_parse(r->body, r->body_len, err, sizeof err)
                          : NULL;
    if (in == NULL || !json_object_is_type(in, json_type_object)) {
        http_reply_text(r, 400, "Request decode failed: %s",
                        in ? "expected a JSON object"
                        : r->body_len == 0 ? "EOF"
                                           : err);
        json_object_put(in);
        return;
    }
    if (catalog_validate(in, type == CMD_CATALOG_DEREGISTER, err,
                         sizeof err) != 0) {
        http_reply_text(r, 400, "Request decode failed: %s", err);
        json_object_put(in);
        return;
    }
    /* Consul fills the datacenter of a registration it accepts. */
    json_object *dc = json_get_ci(in, "Datacenter");
    if (dc == NULL || json_object_get_string_len(dc) == 0)
        json_object_object_add(
            in, "Datacenter",
            json_object_new_string(r->agent->cfg.datacenter));
    size_t len;
    char *payload = json_dump(in, false, &len);
    json_object_put(in);
    if (payload == NULL) {
        http_reply_text(r, 500, "out of memory");
        return;
    }
    struct cmd c = {.type = type,
                    .payload = (const uint8_t *)payload,
                    .payload_len = len};
    http_apply(r, &c);
    free(payload);
}

void http_catalog_register(struct http_req *r)
{
    catalog_write(r, CMD_CATALOG_REGISTER);
}

void http_catalog_deregister(struct http_req *r)
{
    catalog_write(r, CMD_CATALOG_DEREGISTER);
}

/* --------------------------------------------------------------- health */

static int read_health_node(struct http_req *r, struct catalog *c,
                            const struct filter *f, json_object **out,
                            uint64_t *index, char *topic, size_t tlen)
{
    *out = catalog_health_node(c, r->rest, index);
    snprintf(topic, tlen, "node:%s", r->rest);
    return filter_elements(r, f, out);
}

static int read_health_checks(struct http_req *r, struct catalog *c,
                              const struct filter *f, json_object **out,
                              uint64_t *index, char *topic, size_t tlen)
{
    struct multi meta;
    args_all(r, "node-meta", &meta);
    *out = catalog_health_checks(c, r->rest, index);
    if (meta.n) {
        /* Checks carry no node meta: keep those of matching nodes. */
        uint64_t ignore;
        json_object *nodes = catalog_nodes(c, &ignore);
        json_object *keep = json_object_new_array();
        size_t n = json_object_array_length(*out);
        for (size_t i = 0; i < n; i++) {
            json_object *chk = json_object_array_get_idx(*out, i);
            const char *node =
                json_object_get_string(path_get(chk, "Node", NULL));
            for (size_t k = 0; k < json_object_array_length(nodes); k++) {
                json_object *nd = json_object_array_get_idx(nodes, k);
                if (strcmp(json_object_get_string(path_get(nd, "Node", NULL)),
                           node) == 0 &&
                    has_meta(path_get(nd, "Meta", NULL), &meta)) {
                    json_object_array_add(keep, json_object_get(chk));
                    break;
                }
            }
        }
        json_object_put(nodes);
        json_object_put(*out);
        *out = keep;
    }
    svc_topic(topic, tlen, r->rest);
    return filter_elements(r, f, out);
}

struct entry_filter
{
    struct multi tags, meta;
    bool passing;
};

static bool entry_ok(json_object *el, void *ctx)
{
    struct entry_filter *f = ctx;
    if (!has_tags(path_get(el, "Service", "Tags"), &f->tags) ||
        !has_meta(path_get(el, "Node", "Meta"), &f->meta))
        return false;
    if (!f->passing)
        return true;
    json_object *checks = path_get(el, "Checks", NULL);
    size_t n = checks ? json_object_array_length(checks) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *st = json_object_get_string(
            path_get(json_object_array_get_idx(checks, i), "Status", NULL));
        if (st == NULL || strcmp(st, "passing") != 0)
            return false;
    }
    return true;
}

static int read_health_service(struct http_req *r, struct catalog *c,
                               const struct filter *f, json_object **out,
                               uint64_t *index, char *topic, size_t tlen)
{
    struct entry_filter ef;
    if (passing_arg(r, &ef.passing) != 0)
        return -1;
    args_all(r, "tag", &ef.tags);
    args_all(r, "node-meta", &ef.meta);
    *out = catalog_health_service(c, r->rest, index);
    if (ef.tags.n || ef.meta.n || ef.passing)
        *out = keep_if(*out, entry_ok, &ef);
    svc_topic(topic, tlen, r->rest);
    return filter_elements(r, f, out);
}

static int read_health_state(struct http_req *r, struct catalog *c,
                             const struct filter *f, json_object **out,
                             uint64_t *index, char *topic, size_t tlen)
{
    const char *s = r->rest;
    if (strcmp(s, "any") != 0 && strcmp(s, "passing") != 0 &&
        strcmp(s, "warning") != 0 && strcmp(s, "critical") != 0) {
        http_reply_text(r, 400, "Invalid state: %s", s);
        return -1;
    }
    *out = catalog_health_state(c, s, index, NULL);
    snprintf(topic, tlen, "checks");
    return filter_elements(r, f, out);
}

void http_health_node(struct http_req *r)
{
    serve_read(r, read_health_node);
}

void http_health_checks(struct http_req *r)
{
    serve_read(r, read_health_checks);
}

void http_health_service(struct http_req *r)
{
    serve_read(r, read_health_service);
}

void http_health_state(struct http_req *r)
{
    serve_read(r, read_health_state);
}
