/*
 * http — see http.h. The route table, the libmicrohttpd <-> libuv glue,
 * replies, when a blocking query must wait (parking itself is
 * api/http_park.c), the per-client connection count and the Raft apply
 * path.
 */
#include "http_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "agent.h"
#include "cmd.h"
#include "duration.h"
#include "filter.h"
#include "json.h"
#include "log.h"
#include "raftnode.h"
#include "rbtree.h"

#define DEFAULT_WAIT_MS (5 * 60 * 1000ULL)
#define MAX_WAIT_MS (10 * 60 * 1000ULL)
#define DEFAULT_BODY_LIMIT (1024 * 1024)
/* libmicrohttpd's per-connection pool (request line, headers, read and
 * write buffers). Its 32 KiB default is zeroed on every keep-alive request
 * (10% of a GET's CPU in a profile); 16 KiB still takes 8 KiB of headers. */
#define HTTP_CONN_MEMORY (16 * 1024)

/* The one route table. Order matters only for overlapping prefixes. */
static const struct http_route routes[] = {
    {"/v1/kv/", true, HTTP_GET | HTTP_PUT | HTTP_DELETE, http_kv, BODY_KV},
    {"/v1/kv", false, HTTP_GET | HTTP_PUT | HTTP_DELETE, http_kv, BODY_KV},
    {"/v1/txn", false, HTTP_PUT, http_txn, BODY_TXN},
    {"/v1/status/leader", false, HTTP_GET, http_status_leader, BODY_DEFAULT},
    {"/v1/status/peers", false, HTTP_GET, http_status_peers, BODY_DEFAULT},
    {"/v1/agent/self", false, HTTP_GET, http_agent_self, BODY_DEFAULT},
    {"/v1/agent/members", false, HTTP_GET, http_agent_members, BODY_DEFAULT},
    {"/v1/agent/join/", true, HTTP_PUT, http_agent_join, BODY_DEFAULT},
    {"/v1/agent/leave", false, HTTP_PUT, http_agent_leave, BODY_DEFAULT},
    {"/v1/agent/force-leave/", true, HTTP_PUT, http_agent_force_leave,
     BODY_DEFAULT},
    {"/v1/operator/keyring", false,
     HTTP_GET | HTTP_POST | HTTP_PUT | HTTP_DELETE, http_operator_keyring,
     BODY_DEFAULT},
    {"/v1/agent/reload", false, HTTP_PUT, http_agent_reload, BODY_DEFAULT},
    {"/v1/agent/services", false, HTTP_GET, http_agent_services, BODY_DEFAULT},
    {"/v1/agent/service/register", false, HTTP_PUT,
     http_agent_service_register, BODY_DEFAULT},
    {"/v1/agent/service/deregister/", true, HTTP_PUT,
     http_agent_service_deregister, BODY_DEFAULT},
    {"/v1/agent/service/maintenance/", true, HTTP_PUT,
     http_agent_service_maintenance, BODY_DEFAULT},
    {"/v1/agent/service/", true, HTTP_GET, http_agent_service, BODY_DEFAULT},
    {"/v1/agent/maintenance", false, HTTP_PUT, http_agent_maintenance,
     BODY_DEFAULT},
    {"/v1/agent/checks", false, HTTP_GET, http_agent_checks, BODY_DEFAULT},
    {"/v1/agent/check/register", false, HTTP_PUT, http_agent_check_register,
     BODY_DEFAULT},
    {"/v1/agent/check/deregister/", true, HTTP_PUT,
     http_agent_check_deregister, BODY_DEFAULT},
    {"/v1/agent/check/pass/", true, HTTP_PUT, http_agent_check_ttl,
     BODY_DEFAULT},
    {"/v1/agent/check/warn/", true, HTTP_PUT, http_agent_check_ttl,
     BODY_DEFAULT},
    {"/v1/agent/check/fail/", true, HTTP_PUT, http_agent_check_ttl,
     BODY_DEFAULT},
    {"/v1/agent/check/update/", true, HTTP_PUT, http_agent_check_update,
     BODY_DEFAULT},
    {"/v1/agent/health/service/id/", true, HTTP_GET, http_agent_health_by_id,
     BODY_DEFAULT},
    {"/v1/agent/health/service/name/", true, HTTP_GET,
     http_agent_health_by_name, BODY_DEFAULT},
    {"/v1/catalog/register", false, HTTP_PUT, http_catalog_register,
     BODY_DEFAULT},
    {"/v1/catalog/deregister", false, HTTP_PUT, http_catalog_deregister,
     BODY_DEFAULT},
    {"/v1/catalog/datacenters", false, HTTP_GET, http_catalog_datacenters,
     BODY_DEFAULT},
    {"/v1/catalog/nodes", false, HTTP_GET, http_catalog_nodes, BODY_DEFAULT},
    {"/v1/catalog/services", false, HTTP_GET, http_catalog_services,
     BODY_DEFAULT},
    {"/v1/catalog/service/", true, HTTP_GET, http_catalog_service,
     BODY_DEFAULT},
    {"/v1/catalog/node/", true, HTTP_GET, http_catalog_node, BODY_DEFAULT},
    {"/v1/health/node/", true, HTTP_GET, http_health_node, BODY_DEFAULT},
    {"/v1/health/checks/", true, HTTP_GET, http_health_checks, BODY_DEFAULT},
    {"/v1/health/service/", true, HTTP_GET, http_health_service,
     BODY_DEFAULT},
    {"/v1/health/state/", true, HTTP_GET, http_health_state, BODY_DEFAULT},
};

/* ---------------------------------------------------------------- utils */

static const char *method_names(unsigned m, char *buf, size_t len)
{
    static const struct { unsigned bit; const char *name; } tab[] = {
        {HTTP_GET, "GET"}, {HTTP_PUT, "PUT"}, {HTTP_DELETE, "DELETE"},
        {HTTP_POST, "POST"}, {HTTP_HEAD, "HEAD"}};
    snprintf(buf, len, "OPTIONS");
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (m & tab[i].bit) {
            size_t n = strlen(buf);
            snprintf(buf + n, len - n, ",%s", tab[i].name);
        }
    return buf;
}

static int method_parse(const char *s)
{
    if (strcmp(s, "GET") == 0)
        return HTTP_GET;
    if (strcmp(s, "PUT") == 0)
        return HTTP_PUT;
    if (strcmp(s, "DELETE") == 0)
        return HTTP_DELETE;
    if (strcmp(s, "POST") == 0)
        return HTTP_POST;
    if (strcmp(s, "HEAD") == 0)
        return HTTP_HEAD;
    if (strcmp(s, "OPTIONS") == 0)
        return 0;
    return -1;
}

static const struct http_route *route_find(const char *path)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct http_route *rt = &routes[i];
        size_t n = strlen(rt->path);
        if (rt->prefix ? strncmp(path, rt->path, n) == 0
                       : strcmp(path, rt->path) == 0)
            return rt;
    }
    return NULL;
}

const char *http_arg(struct http_req *r, const char *name)
{
    if (r->shell != NULL)
        return http__park_arg(r, name);
    const char *value = NULL;
    size_t vlen = 0;
    if (MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND, name,
                                      strlen(name), &value, &vlen) != MHD_YES)
        return NULL;
    return value ? value : "";
}

bool http_has_arg(struct http_req *r, const char *name)
{
    return http_arg(r, name) != NULL;
}

void http_each_arg(struct http_req *r, void *it, void *cls)
{
    if (r->shell != NULL) {
        http__park_each_arg(r, (MHD_KeyValueIterator)it, cls);
        return;
    }
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND,
                              (MHD_KeyValueIterator)it, cls);
}

const char *http_header(struct http_req *r, const char *name)
{
    if (r->conn == NULL)
        return NULL;
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

void http_add_header(struct http_req *r, const char *name, const char *value)
{
    struct http_hdr *h = malloc(sizeof *h);
    if (h == NULL)
        return;
    h->name = strdup(name);
    h->value = strdup(value);
    if (h->name == NULL || h->value == NULL) {
        free(h->name);
        free(h->value);
        free(h);
        return;
    }
    h->next = r->headers;
    r->headers = h;
}

void http__headers_free(struct http_req *r)
{
    while (r->headers) {
        struct http_hdr *h = r->headers;
        r->headers = h->next;
        free(h->name);
        free(h->value);
        free(h);
    }
}

/* -------------------------------------------------------------- replies */

void http_reply(struct http_req *r, unsigned status, const char *ctype,
                char *body, size_t len)
{
    struct MHD_Response *resp;
    if (r->shell != NULL) {
        http__park_reply(r, status, ctype, body, len);
        return;
    }
    r->replied = true;
    if (body == NULL)
        resp = MHD_create_response_from_buffer(0, (void *)"",
                                               MHD_RESPMEM_PERSISTENT);
    else
        resp = MHD_create_response_from_buffer(len, body,
                                               MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        http__headers_free(r);
        return; /* MHD closes the connection */
    }
    for (struct http_hdr *h = r->headers; h; h = h->next)
        MHD_add_response_header(resp, h->name, h->value);
    http__headers_free(r);
    if (ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, "X-Consul-Default-Acl-Policy", "allow");
    if (MHD_queue_response(r->conn, status, resp) != MHD_YES)
        log_debug("http", "queue response failed for %s", r->path);
    MHD_destroy_response(resp);
}

void http_reply_json(struct http_req *r, unsigned status, json_object *o)
{
    bool pretty = r->agent->cfg.pretty || http_has_arg(r, "pretty");
    size_t len;
    char *s = json_dump(o, pretty, &len);
    json_object_put(o);
    if (s == NULL) {
        http_reply_text(r, 500, "out of memory");
        return;
    }
    http_reply(r, status, "application/json", s, len);
}

void http_reply_text(struct http_req *r, unsigned status, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        http_reply(r, status, NULL, NULL, 0);
        return;
    }
    http_reply(r, status, "text/plain; charset=utf-8", s, (size_t)n);
}

void http_reply_empty(struct http_req *r, unsigned status)
{
    http_reply(r, status, NULL, NULL, 0);
}

void http_reply_error(struct http_req *r, int err, const char *what)
{
    switch (err) {
    case -EPERM:
        http_reply_text(r, 500, "No cluster leader");
        break;
    case -ENOMEM:
        http_reply_text(r, 500, "out of memory");
        break;
    default:
        http_reply_text(r, 500, "%s: %s", what ? what : "error",
                        strerror(err < 0 ? -err : err));
    }
}

void http_add_index_headers(struct http_req *r, uint64_t index)
{
    char buf[32];
    const char *leader = NULL;
    snprintf(buf, sizeof buf, "%llu",
             (unsigned long long)(index ? index : 1));
    http_add_header(r, "X-Consul-Index", buf);
    raftnode_leader(r->agent->raft, &leader);
    http_add_header(r, "X-Consul-KnownLeader", leader ? "true" : "false");
    http_add_header(r, "X-Consul-LastContact", "0");
    http_add_header(r, "X-Consul-Effective-Consistency",
                    r->consistency == HTTP_CONS_STALE ? "stale"
                    : r->consistency == HTTP_CONS_CONSISTENT ? "consistent"
                                                              : "leader");
}

/* ------------------------------------------------------ query options */

static int parse_u64(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return -EINVAL;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int http_parse_query_opts(struct http_req *r)
{
    const char *s;
    const char *dc = http_arg(r, "dc");
    if (dc && *dc && strcasecmp(dc, r->agent->cfg.datacenter) != 0) {
        http_reply_text(r, 500, "No path to datacenter");
        return -1;
    }
    bool stale = http_has_arg(r, "stale");
    bool consistent = http_has_arg(r, "consistent");
    if (stale && consistent) {
        http_reply_text(r, 400, "Cannot specify ?stale with ?consistent, "
                                "conflicting semantics.");
        return -1;
    }
    if (http_has_arg(r, "cached") && consistent) {
        http_reply_text(r, 400, "Cannot specify ?cached with ?consistent, "
                                "conflicting semantics.");
        return -1;
    }
    r->consistency = stale ? HTTP_CONS_STALE
                     : consistent ? HTTP_CONS_CONSISTENT
                                  : HTTP_CONS_DEFAULT;
    r->wait_ms = DEFAULT_WAIT_MS;
    s = http_arg(r, "wait");
    if (s && *s) {
        int64_t ns;
        if (duration_parse(s, &ns) != 0) {
            http_reply_text(r, 400, "Invalid wait time");
            return -1;
        }
        uint64_t ms = ns > 0 ? (uint64_t)ns / 1000000 : 0;
        r->wait_ms = ms == 0 ? DEFAULT_WAIT_MS
                     : ms > MAX_WAIT_MS ? MAX_WAIT_MS
                                        : ms;
    }
    r->min_index = 0;
    s = http_arg(r, "index");
    if (s && *s && parse_u64(s, &r->min_index) != 0) {
        http_reply_text(r, 400, "Invalid index");
        return -1;
    }
    return 0;
}

bool http_filter_parse(struct http_req *r, struct filter **f)
{
    const char *expr = http_arg(r, "filter");
    char err[512];
    *f = NULL;
    if (expr == NULL || *expr == '\0')
        return true;
    *f = filter_parse(expr, err, sizeof err);
    if (*f == NULL) {
        http_reply_text(r, 400,
                        "Failed to create boolean expression evaluator: %s",
                        err);
        return false;
    }
    return true;
}

void http_filter_fail(struct http_req *r, int rc, const char *err)
{
    if (rc == -ENOMEM)
        http_reply_text(r, 500, "out of memory");
    else /* Consul answers bexpr's evaluation error with 500 and its text */
        http_reply_text(r, 500, "Failed to evaluate filter expression: %s",
                        err);
}

bool http_filter(struct http_req *r, json_object **result)
{
    struct filter *f;
    if (!http_filter_parse(r, &f)) {
        json_object_put(*result);
        *result = NULL;
        return false;
    }
    if (f == NULL)
        return true;
    char err[512] = "";
    json_object *out = NULL;
    int rc = json_object_is_type(*result, json_type_array)
                 ? filter_array(f, *result, &out, err, sizeof err)
                 : filter_object_values(f, *result, &out, err, sizeof err);
    filter_free(f);
    json_object_put(*result);
    *result = out;
    if (rc != 0) {
        http_filter_fail(r, rc, err);
        return false;
    }
    return true;
}

bool http_check_leader(struct http_req *r)
{
    if (r->consistency == HTTP_CONS_STALE ||
        raftnode_is_ready_leader(r->agent->raft))
        return true;
    http_reply_text(r, 500, "No cluster leader");
    return false;
}

/* ------------------------------------------------------------- parking */

static void resume(struct http_req *r)
{
    if (!r->suspended)
        return;
    r->suspended = false;
    MHD_resume_connection(r->conn);
    http__schedule_run(r->srv);
}

bool http_should_block(struct http_req *r, uint64_t result_index)
{
    if (r->min_index == 0 || r->timed_out || r->gone || r->srv->stopping)
        return false;
    if (result_index > r->min_index)
        return false;
    /* The client is ahead of us (restore, restarted dev agent): answer now
     * rather than stall it for the whole wait (spec 0.4). */
    if (r->min_index > agent_max_index(r->agent))
        return false;
    return true;
}

unsigned long http_parked(const struct http_server *srv)
{
    return srv->parked;
}

/* ------------------------------------------------------------ applying */

static void apply_cb(void *data, int status, struct fsm_result *res)
{
    struct http_req *r = data;
    r->pending = NULL;
    r->srv->applying--;
    r->applied_status = status;
    if (res != NULL) {
        r->applied_rc = res->rc;
        r->applied_index = res->index;
        r->applied_txn = res->txn;
        memset(&res->txn, 0, sizeof res->txn);
        snprintf(r->applied_err, sizeof r->applied_err, "%s", res->err);
    }
    r->phase = HTTP_PHASE_APPLIED;
    resume(r);
}

/* A detached query running again has no connection to suspend: reads
 * never apply or wait after they parked (the ?consistent barrier comes
 * first), so this is a handler bug, answered rather than crashed. */
static bool no_conn(struct http_req *r, const char *what)
{
    if (r->conn != NULL)
        return false;
    log_error("http", "%s after parking on %s", what, r->path);
    http_reply_text(r, 500, "internal error: %s after parking", what);
    return true;
}

void http_apply(struct http_req *r, const struct cmd *c)
{
    if (no_conn(r, "apply"))
        return;
    int rv = raftnode_apply(r->agent->raft, c, apply_cb, r, &r->pending);
    if (rv != 0) {
        http_reply_error(r, rv, "apply");
        return;
    }
    r->srv->applying++;
    r->suspended = true;
    MHD_suspend_connection(r->conn);
}

struct http_token
{
    struct http_req *r; /* NULL once the request is gone */
};

struct http_token *http_wait(struct http_req *r)
{
    if (no_conn(r, "wait"))
        return NULL;
    struct http_token *t = calloc(1, sizeof *t);
    if (t == NULL) {
        http_reply_text(r, 500, "out of memory");
        return NULL;
    }
    t->r = r;
    r->token = t;
    r->srv->applying++;
    /* The work may finish before the handler returns (http_wake from
     * inside it): libmicrohttpd loses a resume that comes before the
     * suspend took effect, so the suspend happens after the handler. */
    r->suspended = true;
    r->suspend_deferred = true;
    return t;
}

void http_wake(struct http_token *t, int status)
{
    struct http_req *r = t->r;
    free(t);
    if (r == NULL)
        return;
    r->token = NULL;
    r->srv->applying--;
    r->applied_status = status;
    r->phase = HTTP_PHASE_APPLIED;
    if (r->suspend_deferred) { /* still inside the handler */
        r->suspend_deferred = false;
        r->suspended = false;
        r->rerun = true;
        return;
    }
    resume(r);
}

void http_barrier(struct http_req *r)
{
    if (no_conn(r, "barrier"))
        return;
    int rv = raftnode_barrier(r->agent->raft, apply_cb, r, &r->pending);
    if (rv != 0) {
        http_reply_error(r, rv, "barrier");
        return;
    }
    r->srv->applying++;
    r->suspended = true;
    MHD_suspend_connection(r->conn);
}

/* ------------------------------------------------ libmicrohttpd glue */

static size_t body_limit(const struct http_req *r)
{
    switch (r->route->body) {
    case BODY_KV:
        return (size_t)r->agent->cfg.kv_max_value_size;
    case BODY_TXN:
        return (size_t)r->agent->cfg.txn_max_req_len;
    default:
        return DEFAULT_BODY_LIMIT;
    }
}

static void reply_too_large(struct http_req *r, uint64_t size)
{
    const char *key =
        r->route->body == BODY_TXN ? "txn_max_req_len" : "kv_max_value_size";
    http_reply_text(r, 413,
                    "Request body(%llu bytes) too large, max size: %llu "
                    "bytes. See "
                    "https://developer.hashicorp.com/docs/agent/config/"
                    "config-files#%s.",
                    (unsigned long long)size, (unsigned long long)r->body_limit,
                    key);
}

static int body_append(struct http_req *r, const char *data, size_t len)
{
    if (r->body_too_large || r->body_len + len > r->body_limit) {
        r->body_too_large = true;
        r->body_len += len; /* keep counting for the message */
        return 0;
    }
    if (r->body_len + len + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + len + 1)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (b == NULL)
            return -ENOMEM;
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return 0;
}

static void req_link(struct http_server *srv, struct http_req *r)
{
    r->next = srv->reqs;
    if (srv->reqs)
        srv->reqs->prev = r;
    srv->reqs = r;
}

static void req_unlink(struct http_server *srv, struct http_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        srv->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
}

static void req_free(struct http_req *r)
{
    http__park_release(r);
    if (r->pending) {
        raftnode_cancel(r->pending);
        r->srv->applying--;
    }
    if (r->token) {
        r->token->r = NULL;
        r->srv->applying--;
    }
    req_unlink(r->srv, r);
    http__headers_free(r);
    kv_txn_result_clear(&r->applied_txn);
    free(r->body);
    free((char *)r->path);
    free(r);
}

/* First call for a request: headers are in, body not yet. */
/* The bytes of the socket's stream this request takes: its head and its
 * Content-Length body (http_park.c detaches a query only when that is all
 * libmicrohttpd read). A chunked body, or a body that may stay unread after
 * an early answer, makes the count unknown for the rest of the connection.
 * Returns the body length announced. */
static uint64_t conn_account(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct http_conn *hc = ci ? ci->socket_context : NULL;
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                    MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t n = 0;
    bool ok = cl == NULL || parse_u64(cl, &n) == 0;
    if (hc == NULL || hc->untracked)
        return n;
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (ci == NULL || !ok ||
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                    MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL)
        hc->untracked = true;
    else
        hc->consumed += ci->header_size + n;
    return n;
}

static void conn_untrack(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct http_conn *hc = ci ? ci->socket_context : NULL;
    if (hc != NULL)
        hc->untracked = true;
}

static enum MHD_Result req_route(struct http_req *r, const char *url,
                                 const char *method);

static enum MHD_Result req_begin(struct http_server *srv,
                                 struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 void **con_cls)
{
    uint64_t body = conn_account(conn);
    struct http_req *r = calloc(1, sizeof *r);
    if (r == NULL)
        return MHD_NO;
    r->srv = srv;
    r->conn = conn;
    r->agent = srv->agent;
    r->http10 = version == NULL || strcmp(version, "HTTP/1.1") != 0;
    r->path = strdup(url);
    if (r->path == NULL) {
        free(r);
        return MHD_NO;
    }
    req_link(srv, r);
    *con_cls = r;
    enum MHD_Result rv = req_route(r, url, method);
    if (r->replied && body > 0) /* its body may never be read */
        conn_untrack(conn);
    return rv;
}

static enum MHD_Result req_route(struct http_req *r, const char *url,
                                 const char *method)
{
    int m = method_parse(method);
    if (strcmp(url, "/") == 0 && m == HTTP_GET) {
        http_reply_text(r, 200, "Consul Agent");
        return MHD_YES;
    }
    r->route = route_find(url);
    if (r->route == NULL) {
        http_reply_empty(r, 404);
        return MHD_YES;
    }
    r->rest = r->path + strlen(r->route->path);
    char allow[64];
    method_names(r->route->methods, allow, sizeof allow);
    if (m == 0) { /* OPTIONS */
        http_add_header(r, "Allow", allow);
        http_reply_empty(r, 200);
        return MHD_YES;
    }
    if (m < 0 || !((unsigned)m & r->route->methods)) {
        http_add_header(r, "Allow", allow);
        http_reply_text(r, 405, "method %s not allowed", method);
        return MHD_YES;
    }
    r->method = (enum http_method)m;
    r->body_limit = body_limit(r);
    const char *cl = http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t n;
    if (cl && parse_u64(cl, &n) == 0 && n > r->body_limit &&
        r->method != HTTP_GET) {
        reply_too_large(r, n);
        return MHD_YES;
    }
    return MHD_YES;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    struct http_server *srv = cls;
    if (*con_cls == NULL)
        return req_begin(srv, conn, url, method, version, con_cls);
    struct http_req *r = *con_cls;
    if (*upload_data_size != 0) {
        if (body_append(r, upload_data, *upload_data_size) != 0)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->gone) {
        http_reply_empty(r, 200); /* nobody reads it; MHD closes */
        return MHD_YES;
    }
    if (r->body_too_large) {
        reply_too_large(r, r->body_len);
        return MHD_YES;
    }
    if (r->replied || r->route == NULL) /* answered already */
        return MHD_YES;
    r->route->fn(r);
    while (r->rerun && !r->replied) { /* its work finished at once */
        r->rerun = false;
        r->route->fn(r);
    }
    if (r->suspend_deferred) {
        r->suspend_deferred = false;
        MHD_suspend_connection(conn);
    }
    /* Parked off libmicrohttpd (http_park.c holds a duplicate of the
     * socket): it drops the connection without a word. */
    if (!r->detached)
        return MHD_YES;
    srv->detaching = true; /* mhd_logger: not an error */
    return MHD_NO;
}

static void completed_cb(void *cls, struct MHD_Connection *conn,
                         void **con_cls, enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    (void)conn;
    (void)toe;
    srv->detaching = false; /* libmicrohttpd logged before calling us */
    if (*con_cls != NULL)
        req_free(*con_cls);
    *con_cls = NULL;
}

/* ------------------------------------------- connections per client */

/* Consul's limits.http_max_conns_per_client counts every open connection
 * of a client address, parked queries included. Those leave
 * libmicrohttpd (http_park.c), whose own per-IP limit would no longer see
 * them, so we count here: each libmicrohttpd connection (socket context)
 * and each detached query holds a reference on its client. */
struct http_client
{
    RB_ENTRY(http_client) link;
    unsigned count;
    int family;
    unsigned char addr[16];
};

static int client_cmp(const struct http_client *a, const struct http_client *b)
{
    if (a->family != b->family)
        return a->family < b->family ? -1 : 1;
    return memcmp(a->addr, b->addr, sizeof a->addr);
}

RB_HEAD(client_tree, http_client);
RB_GENERATE_STATIC(client_tree, http_client, link, client_cmp)

static bool client_key(const struct sockaddr *sa, struct http_client *key)
{
    memset(key, 0, sizeof *key);
    if (sa == NULL)
        return false;
    key->family = sa->sa_family;
    if (sa->sa_family == AF_INET)
        memcpy(key->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    else if (sa->sa_family == AF_INET6)
        memcpy(key->addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    else
        return false;
    return true;
}

void http__client_ref(struct http_client *c)
{
    if (c != NULL)
        c->count++;
}

void http__client_unref(struct http_server *srv, struct http_client *c)
{
    if (c == NULL || --c->count > 0)
        return;
    RB_REMOVE(client_tree, (struct client_tree *)srv->clients, c);
    free(c);
}

static enum MHD_Result accept_cb(void *cls, const struct sockaddr *addr,
                                 socklen_t addrlen)
{
    struct http_server *srv = cls;
    struct http_client key;
    (void)addrlen;
    if (srv->conn_limit == 0 || srv->handing_back || !client_key(addr, &key))
        return MHD_YES;
    struct http_client *c =
        RB_FIND(client_tree, (struct client_tree *)srv->clients, &key);
    return c != NULL && c->count >= srv->conn_limit ? MHD_NO : MHD_YES;
}

static void notify_conn_cb(void *cls, struct MHD_Connection *conn,
                           void **socket_context,
                           enum MHD_ConnectionNotificationCode toe)
{
    struct http_server *srv = cls;
    struct http_conn *hc = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        if (hc != NULL) {
            http__client_unref(srv, hc->client);
            free(hc);
        }
        *socket_context = NULL;
        return;
    }
    hc = calloc(1, sizeof *hc);
    *socket_context = hc;
    if (hc == NULL)
        return;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    /* A socket handed back after a detached query has read bytes already. */
    int64_t got = ci ? http__sock_read_bytes(ci->connect_fd) : -1;
    if (got < 0)
        hc->untracked = true;
    else
        hc->consumed = (uint64_t)got;
    struct http_client key;
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (srv->conn_limit == 0 || ci == NULL ||
        !client_key(ci->client_addr, &key))
        return;
    struct client_tree *t = srv->clients;
    struct http_client *c = RB_FIND(client_tree, t, &key);
    if (c == NULL) {
        c = malloc(sizeof *c);
        if (c == NULL)
            return;
        *c = key;
        RB_INSERT(client_tree, t, c);
    }
    hc->client = c;
    c->count++;
}

/* ---------------------------------------------------------- the daemon */

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    struct http_server *srv = cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    if (srv->detaching) {
        /* "Application reported internal error, closing connection." is
         * how libmicrohttpd drops a connection whose query we detached */
        srv->detaching = false;
        if (strncmp(buf, "Application reported", 20) == 0)
            return;
    }
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '\n')
        buf[n - 1] = '\0';
    log_debug("http", "libmicrohttpd: %s", buf);
}

static void run_mhd(struct http_server *srv);

static void timer_cb(uv_timer_t *t)
{
    run_mhd(t->data);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    run_mhd(h->data);
}

static void run_mhd(struct http_server *srv)
{
    if (srv->mhd == NULL)
        return;
    http__park_run_ready(srv);
    MHD_run(srv->mhd);
    MHD_UNSIGNED_LONG_LONG to;
    if (MHD_get_timeout(srv->mhd, &to) == MHD_YES)
        uv_timer_start(&srv->timer, timer_cb, to, 0);
    else
        uv_timer_stop(&srv->timer);
}

void http__schedule_run(struct http_server *srv)
{
    uv_timer_start(&srv->timer, timer_cb, 0, 0);
}

int http_start(struct http_server **out, struct agent *agent, uv_loop_t *loop,
               const char *addr, int port, unsigned conn_limit_per_ip,
               char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    /* MHD_USE_TURBO: libmicrohttpd closes sockets without shutdown(2),
     * which http_park.c needs (see there); it also reads before polling. */
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_TURBO;
    memset(&ss, 0, sizeof ss);
    if (uv_ip4_addr(addr, port, (struct sockaddr_in *)&ss) != 0) {
        if (uv_ip6_addr(addr, port, (struct sockaddr_in6 *)&ss) != 0) {
            snprintf(err, errlen, "http: bad address %s", addr);
            return -EINVAL;
        }
        flags |= MHD_USE_IPv6;
    }
    struct http_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return -ENOMEM;
    srv->agent = agent;
    srv->loop = loop;
    srv->conn_limit = conn_limit_per_ip;
    srv->clients = calloc(1, sizeof(struct client_tree));
    if (srv->clients == NULL) {
        free(srv);
        return -ENOMEM;
    }
    RB_INIT((struct client_tree *)srv->clients);
    srv->mhd = MHD_start_daemon(
        flags, (uint16_t)port, accept_cb, srv, access_cb, srv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, srv,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_NOTIFY_COMPLETED, completed_cb, srv,
        MHD_OPTION_NOTIFY_CONNECTION, notify_conn_cb, srv,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)65536,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)0,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)4096,
        MHD_OPTION_END);
    if (srv->mhd == NULL) {
        snprintf(err, errlen, "http: cannot listen on %s:%d (in use?)", addr,
                 port);
        free(srv->clients);
        free(srv);
        return -EADDRINUSE;
    }
    int rv = http__park_create(srv);
    if (rv != 0) {
        snprintf(err, errlen, "http: epoll_create1: %s", strerror(-rv));
        MHD_stop_daemon(srv->mhd);
        free(srv->clients);
        free(srv);
        return rv;
    }
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    uv_poll_init(loop, &srv->poll, di->epoll_fd);
    srv->poll.data = srv;
    uv_poll_start(&srv->poll, UV_READABLE, poll_cb);
    uv_timer_init(loop, &srv->timer);
    srv->timer.data = srv;
    uv_timer_init(loop, &srv->stop_timer);
    srv->stop_timer.data = srv;
    srv->open_handles = 5; /* with park_poll and park_timer */
    *out = srv;
    log_info("http", "listening on %s:%d", addr, port);
    return 0;
}

static void srv_handle_closed(uv_handle_t *h)
{
    struct http_server *srv = h->data;
    if (--srv->open_handles > 0)
        return;
    void (*cb)(void *) = srv->stop_cb;
    void *data = srv->stop_data;
    free(srv->clients); /* empty: every connection was closed */
    free(srv);
    if (cb)
        cb(data);
}

/* Shutdown, step 2: every in-flight apply finished (or we waited long
 * enough); answer parked queries, then close everything. */
static void stop_finish(struct http_server *srv)
{
    uv_timer_stop(&srv->stop_timer);
    http__park_stop(srv); /* every parked query answers now */
    for (struct http_req *r = srv->reqs; r; r = r->next) {
        if (r->pending) {
            raftnode_cancel(r->pending);
            r->pending = NULL;
            srv->applying--;
            r->applied_status = -ECANCELED;
            r->phase = HTTP_PHASE_APPLIED;
            resume(r);
        } else if (r->token) {
            r->token->r = NULL;
            r->token = NULL;
            srv->applying--;
            r->applied_status = -ECANCELED;
            r->phase = HTTP_PHASE_APPLIED;
            resume(r);
        }
    }
    /* Let MHD answer the resumed requests, then stop it. */
    for (int i = 0; i < 4; i++)
        MHD_run(srv->mhd);
    MHD_stop_daemon(srv->mhd);
    srv->mhd = NULL;
    http__park_close(srv, srv_handle_closed);
    uv_poll_stop(&srv->poll);
    uv_close((uv_handle_t *)&srv->poll, srv_handle_closed);
    uv_close((uv_handle_t *)&srv->timer, srv_handle_closed);
    uv_close((uv_handle_t *)&srv->stop_timer, srv_handle_closed);
}

static void stop_tick(uv_timer_t *t)
{
    struct http_server *srv = t->data;
    if (srv->applying == 0 || ++srv->stop_ticks >= 100)
        stop_finish(srv);
}

void http_stop(struct http_server *srv, void (*cb)(void *data), void *data)
{
    srv->stop_cb = cb;
    srv->stop_data = data;
    srv->stopping = true;
    /* Stop accepting; connections already open keep being served while
     * in-flight applies finish (bounded to ~3 s). */
    MHD_socket ls = MHD_quiesce_daemon(srv->mhd);
    if (ls != MHD_INVALID_SOCKET)
        close(ls);
    uv_timer_start(&srv->stop_timer, stop_tick, 0, 30);
}
