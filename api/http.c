/*
 * http — see http.h. The route table, the libmicrohttpd <-> libuv glue,
 * replies, blocking queries (park / wake / timeout / client gone) and the
 * Raft apply path.
 */
#include "http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "agent.h"
#include "cmd.h"
#include "duration.h"
#include "filter.h"
#include "json.h"
#include "log.h"
#include "raftnode.h"

#define DEFAULT_WAIT_MS (5 * 60 * 1000ULL)
#define MAX_WAIT_MS (10 * 60 * 1000ULL)
#define DEFAULT_BODY_LIMIT (1024 * 1024)
/* libmicrohttpd's per-connection pool (request line, headers, read and
 * write buffers). Its 32 KiB default is zeroed on every keep-alive request
 * (10% of a GET's CPU in a profile); 16 KiB still takes 8 KiB of headers. */
#define HTTP_CONN_MEMORY (16 * 1024)

enum body_kind { BODY_DEFAULT, BODY_KV, BODY_TXN };

struct http_route
{
    const char *path;
    bool prefix; /* path is a prefix ("/v1/kv/"), rest follows */
    unsigned methods;
    http_handler_fn fn;
    enum body_kind body;
};

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

struct http_server
{
    struct agent *agent;
    uv_loop_t *loop;
    struct MHD_Daemon *mhd;
    uv_poll_t poll;      /* MHD's epoll fd */
    uv_timer_t timer;    /* MHD_get_timeout, and "run soon" after resumes */
    uv_timer_t stop_timer;
    int open_handles;
    struct http_req *reqs; /* every live request */
    unsigned long parked;
    unsigned long applying;
    bool stopping;
    unsigned stop_ticks;
    void (*stop_cb)(void *);
    void *stop_data;
};

/* Handles that live while a request is parked; freed when both closed. */
struct http_park
{
    uv_timer_t timer;
    uv_poll_t poll;
    bool poll_started;
    int open;
    struct http_req *r; /* NULL once the request stopped caring */
};

static void schedule_run(struct http_server *srv);

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
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND,
                              (MHD_KeyValueIterator)it, cls);
}

const char *http_header(struct http_req *r, const char *name)
{
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

static void headers_free(struct http_req *r)
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
    r->replied = true;
    if (body == NULL)
        resp = MHD_create_response_from_buffer(0, (void *)"",
                                               MHD_RESPMEM_PERSISTENT);
    else
        resp = MHD_create_response_from_buffer(len, body,
                                               MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        headers_free(r);
        return; /* MHD closes the connection */
    }
    for (struct http_hdr *h = r->headers; h; h = h->next)
        MHD_add_response_header(resp, h->name, h->value);
    headers_free(r);
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

static void park_handle_closed(uv_handle_t *h)
{
    struct http_park *p = h->data;
    if (--p->open == 0)
        free(p);
}

/* Stop watching; the park struct frees itself once its handles closed. */
static void park_release(struct http_req *r)
{
    struct http_park *p = r->park;
    watch_remove(&r->waiter);
    if (p == NULL)
        return;
    r->park = NULL;
    p->r = NULL;
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, park_handle_closed);
    if (p->poll_started) {
        uv_poll_stop(&p->poll);
        uv_close((uv_handle_t *)&p->poll, park_handle_closed);
    }
    r->srv->parked--;
}

static void resume(struct http_req *r)
{
    if (!r->suspended)
        return;
    r->suspended = false;
    MHD_resume_connection(r->conn);
    schedule_run(r->srv);
}

static void unpark(struct http_req *r)
{
    park_release(r);
    resume(r);
}

static void park_fire(struct watch_waiter *w)
{
    struct http_req *r = w->data;
    unpark(r);
}

static void park_timeout(uv_timer_t *t)
{
    struct http_park *p = t->data;
    if (p->r == NULL)
        return;
    p->r->timed_out = true;
    unpark(p->r);
}

/* The parked client's socket became readable or hung up: if it closed,
 * drop the waiter now rather than at the deadline. */
static void park_sock(uv_poll_t *h, int status, int events)
{
    struct http_park *p = h->data;
    if (p->r == NULL)
        return;
    int fd = -1;
    uv_fileno((uv_handle_t *)h, &fd);
    bool gone = status < 0 || (events & UV_DISCONNECT);
    if (!gone && (events & UV_READABLE)) {
        char c;
        ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            gone = true;
        else if (n > 0)
            uv_poll_stop(h); /* pipelined data: leave it for MHD */
    }
    if (gone) {
        p->r->gone = true;
        unpark(p->r);
    }
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

void http_park(struct http_req *r, struct watch_hub *hub, const char *topic,
               bool prefix)
{
    struct http_server *srv = r->srv;
    uint64_t now = uv_now(srv->loop);
    if (r->deadline == 0) {
        uint64_t jitter = 0;
        if (r->wait_ms >= 16)
            jitter = randombytes_uniform((uint32_t)(r->wait_ms / 16));
        r->deadline = now + r->wait_ms + jitter;
    }
    struct http_park *p = calloc(1, sizeof *p);
    if (p == NULL) {
        http_reply_text(r, 500, "out of memory");
        return;
    }
    r->waiter.cb = park_fire;
    r->waiter.data = r;
    if (watch_add(hub, topic, prefix, &r->waiter) != 0) {
        free(p);
        http_reply_text(r, 500, "out of memory");
        return;
    }
    p->r = r;
    uv_timer_init(srv->loop, &p->timer);
    p->timer.data = p;
    p->open = 1;
    uv_timer_start(&p->timer, park_timeout,
                   r->deadline > now ? r->deadline - now : 0, 0);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci != NULL && uv_poll_init_socket(srv->loop, &p->poll,
                                          ci->connect_fd) == 0) {
        p->poll.data = p;
        p->open++;
        p->poll_started = true;
        uv_poll_start(&p->poll, UV_READABLE | UV_DISCONNECT, park_sock);
    }
    r->park = p;
    srv->parked++;
    r->suspended = true;
    MHD_suspend_connection(r->conn);
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

void http_apply(struct http_req *r, const struct cmd *c)
{
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
    park_release(r);
    if (r->pending) {
        raftnode_cancel(r->pending);
        r->srv->applying--;
    }
    if (r->token) {
        r->token->r = NULL;
        r->srv->applying--;
    }
    req_unlink(r->srv, r);
    headers_free(r);
    kv_txn_result_clear(&r->applied_txn);
    free(r->body);
    free((char *)r->path);
    free(r);
}

/* First call for a request: headers are in, body not yet. */
static enum MHD_Result req_begin(struct http_server *srv,
                                 struct MHD_Connection *conn, const char *url,
                                 const char *method, void **con_cls)
{
    struct http_req *r = calloc(1, sizeof *r);
    if (r == NULL)
        return MHD_NO;
    r->srv = srv;
    r->conn = conn;
    r->agent = srv->agent;
    r->path = strdup(url);
    if (r->path == NULL) {
        free(r);
        return MHD_NO;
    }
    req_link(srv, r);
    *con_cls = r;

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
    (void)version;
    if (*con_cls == NULL)
        return req_begin(srv, conn, url, method, con_cls);
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
    return MHD_YES;
}

static void completed_cb(void *cls, struct MHD_Connection *conn,
                         void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    if (*con_cls != NULL)
        req_free(*con_cls);
    *con_cls = NULL;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
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
    MHD_run(srv->mhd);
    MHD_UNSIGNED_LONG_LONG to;
    if (MHD_get_timeout(srv->mhd, &to) == MHD_YES)
        uv_timer_start(&srv->timer, timer_cb, to, 0);
    else
        uv_timer_stop(&srv->timer);
}

static void schedule_run(struct http_server *srv)
{
    uv_timer_start(&srv->timer, timer_cb, 0, 0);
}

int http_start(struct http_server **out, struct agent *agent, uv_loop_t *loop,
               const char *addr, int port, unsigned conn_limit_per_ip,
               char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
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
    srv->mhd = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, access_cb, srv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_NOTIFY_COMPLETED, completed_cb, srv,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)65536,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, conn_limit_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)0,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)4096,
        MHD_OPTION_END);
    if (srv->mhd == NULL) {
        snprintf(err, errlen, "http: cannot listen on %s:%d (in use?)", addr,
                 port);
        free(srv);
        return -EADDRINUSE;
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
    srv->open_handles = 3;
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
    free(srv);
    if (cb)
        cb(data);
}

/* Shutdown, step 2: every in-flight apply finished (or we waited long
 * enough); answer parked queries, then close everything. */
static void stop_finish(struct http_server *srv)
{
    uv_timer_stop(&srv->stop_timer);
    for (struct http_req *r = srv->reqs; r; r = r->next) {
        if (r->park) {
            r->timed_out = true;
            unpark(r);
        } else if (r->pending) {
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
