/*
 * http — Consul's HTTP API served by libmicrohttpd on the agent's loop.
 *
 * libmicrohttpd runs without threads in epoll mode: its epoll fd is watched
 * by a uv_poll_t and its timeouts by a uv_timer_t, so every request is
 * handled on the loop thread and handlers touch the store without locks.
 *
 * A request goes through the route table (api/http.c), then its handler is
 * called once the body is in. A handler ends by exactly one of:
 *   - http_reply_* (answer now);
 *   - http_park (blocking query: the connection is suspended until what it
 *     watches changes or its wait runs out; then the handler is called
 *     again, from the top, and decides again);
 *   - http_apply / http_barrier (the connection is suspended until Raft has
 *     applied the command; then the handler is called again with
 *     req->phase == HTTP_PHASE_APPLIED and the outcome in req->applied_*).
 * libmicrohttpd 0.9.75 does not wake an external-epoll loop after
 * MHD_resume_connection, so every resume schedules MHD_run itself.
 * A parked query usually leaves libmicrohttpd while it waits (api/http_park.c):
 * its handler then runs again on a rebuilt request with no connection, and
 * everything above works the same for it.
 */
#ifndef CAIRN_HTTP_H
#define CAIRN_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <uv.h>

#include "kv.h"
#include "watch.h"

struct agent;
struct http_server;
struct http_req;

enum http_method {
    HTTP_GET = 1 << 0,
    HTTP_PUT = 1 << 1,
    HTTP_DELETE = 1 << 2,
    HTTP_POST = 1 << 3,
    HTTP_HEAD = 1 << 4,
};

enum http_phase { HTTP_PHASE_NEW = 0, HTTP_PHASE_APPLIED };

enum http_consistency { HTTP_CONS_DEFAULT, HTTP_CONS_STALE, HTTP_CONS_CONSISTENT };

typedef void (*http_handler_fn)(struct http_req *r);

struct http_hdr
{
    char *name;
    char *value;
    struct http_hdr *next;
};

/* One request (libmicrohttpd's per-connection request context). Public
 * read-only fields for handlers; the rest is private to http.c. */
struct http_req
{
    struct http_server *srv;     /* private */
    struct MHD_Connection *conn; /* private */
    struct agent *agent;         /* the agent serving it */
    enum http_method method;
    const char *path;   /* full decoded path, e.g. "/v1/kv/foo/bar" */
    const char *rest;   /* path after the route's prefix ("foo/bar") */
    char *body;         /* request body (NUL-terminated), or NULL */
    size_t body_len;
    enum http_phase phase;

    /* query options parsed by http_parse_query_opts */
    uint64_t min_index;  /* ?index, 0 if absent */
    uint64_t wait_ms;    /* ?wait (default 5 m, cap 10 m) */
    enum http_consistency consistency;

    /* outcome of http_apply (phase HTTP_PHASE_APPLIED) */
    int applied_status;  /* 0 ok, else an error code */
    int applied_rc;      /* fsm result rc: 0 committed, 1 rolled back */
    uint64_t applied_index;
    struct kv_txn_result applied_txn; /* moved out of the FSM; freed with req */
    char applied_err[256];            /* the FSM's message when rc < 0 */

    /* private */
    const struct http_route *route;
    size_t body_cap;
    size_t body_limit;
    bool body_too_large;
    uint64_t content_length;
    struct http_hdr *headers;
    struct http_park *park;   /* while parked in libmicrohttpd (attached) */
    struct http_park *shell;  /* a detached query running again (no conn) */
    bool detached;            /* parked off libmicrohttpd: let it drop conn */
    bool http10;              /* not HTTP/1.1: never detached */
    uint64_t deadline;        /* loop ms at which a blocking query answers */
    bool timed_out;
    bool gone;                /* client went away while parked */
    bool suspended;
    bool replied;             /* a response is queued: never call fn again */
    void *pending;            /* raftnode handle while applying */
    struct http_token *token; /* while waiting in http_wait */
    bool suspend_deferred;    /* http_wait inside the handler: suspend after */
    bool rerun;               /* woken inside the handler: run it again */
    struct http_req *prev, *next; /* all live requests, for shutdown */
};

/* Start serving on addr:port (addr an IPv4/IPv6 literal). Returns 0 or a
 * negative error with a message in err. */
int http_start(struct http_server **out, struct agent *agent, uv_loop_t *loop,
               const char *addr, int port, unsigned conn_limit_per_ip,
               char *err, size_t errlen);
/* Stop accepting, answer every parked request, close connections and
 * handles; `cb` runs when all handles are closed. */
void http_stop(struct http_server *srv, void (*cb)(void *data), void *data);
/* Parked blocking queries right now. */
unsigned long http_parked(const struct http_server *srv);

/* ---- for handlers ---- */

/* Query argument: NULL when absent, "" when present without a value. */
const char *http_arg(struct http_req *r, const char *name);
bool http_has_arg(struct http_req *r, const char *name);
/* Call `it` (a libmicrohttpd MHD_KeyValueIterator) for every query
 * argument, in the order given. */
void http_each_arg(struct http_req *r, void *it, void *cls);
const char *http_header(struct http_req *r, const char *name);

/* Parse index, wait, stale, consistent, dc. On a bad value replies 400/500
 * (spec 0.4/0.6) and returns -1; 0 otherwise. */
int http_parse_query_opts(struct http_req *r);

/* Add a response header (copied) to the reply about to be made. */
void http_add_header(struct http_req *r, const char *name, const char *value);
/* Add X-Consul-Index (never 0), X-Consul-KnownLeader, X-Consul-LastContact
 * and X-Consul-Effective-Consistency. */
void http_add_index_headers(struct http_req *r, uint64_t index);

/* Replies. Body buffers passed to http_reply are taken (freed by us). */
void http_reply(struct http_req *r, unsigned status, const char *ctype,
                char *body, size_t len);
void http_reply_json(struct http_req *r, unsigned status, json_object *o);
void http_reply_text(struct http_req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void http_reply_empty(struct http_req *r, unsigned status);
/* Map a negative error from the agent to a status and text (500 by
 * default). */
void http_reply_error(struct http_req *r, int err, const char *what);

/* Blocking: true when the handler should park instead of answering: the
 * request has ?index=N, the result index is <= N, the wait has not run out,
 * and N is not beyond everything the store has seen. */
bool http_should_block(struct http_req *r, uint64_t result_index);
/* Park on `topic` of `hub` (exact or prefix). Replies 500 on failure. */
void http_park(struct http_req *r, struct watch_hub *hub, const char *topic,
               bool prefix);

/* Propose a command through Raft; see the file comment. Replies itself
 * with 500 ("No cluster leader", ...) when the proposal cannot be made. */
struct cmd;
void http_apply(struct http_req *r, const struct cmd *c);
/* Raft barrier for ?consistent reads, same flow as http_apply. */
void http_barrier(struct http_req *r);

/* Apply ?filter (go-bexpr, api/filter.h) to *result, an array (each
 * element) or an object (each value): *result is replaced by the filtered
 * copy and true returned. Otherwise replies and returns false, *result
 * released (NULL): 400 for a bad expression, 500 "Failed to evaluate filter
 * expression: <reason>" when an element cannot be evaluated (as Consul,
 * which never drops such an element silently). */
bool http_filter(struct http_req *r, json_object **result);

/* The two halves of http_filter, for endpoints that filter something other
 * than the elements of their answer (catalog/services filters instances
 * before grouping them by name, catalog/node the values of its Services
 * map). http_filter_parse: true with *f a new filter (filter_free), or NULL
 * when the request has no (or an empty) ?filter; false after replying 400
 * for a bad expression. http_filter_fail replies to a failed evaluation:
 * `rc` from filter_eval / filter_array / filter_object_values, `err` its
 * message (500 "Failed to evaluate filter expression: <err>", or 500 "out
 * of memory" for -ENOMEM). */
struct filter;
bool http_filter_parse(struct http_req *r, struct filter **f);
void http_filter_fail(struct http_req *r, int rc, const char *err);

/* Generic asynchronous work: http_wait suspends the request and returns a
 * token; whoever finishes the work calls http_wake(token, status) exactly
 * once, which resumes the request with phase HTTP_PHASE_APPLIED and
 * applied_status = status (the handler runs again). If the request went
 * away meanwhile, http_wake only frees the token. NULL on out-of-memory
 * (after a 500 reply). */
struct http_token;
struct http_token *http_wait(struct http_req *r);
void http_wake(struct http_token *t, int status);

/* For reads in default / consistent mode: false (and a 500 "No cluster
 * leader" reply) when this agent cannot serve them now. */
bool http_check_leader(struct http_req *r);

/* A KV entry as Consul's DirEntry JSON; Value null unless with_value and
 * the value is non-empty. New reference. */
json_object *http_kv_entry_json(const struct kv_entry *e, bool with_value);

/* Route handlers (one file per group). */
void http_kv(struct http_req *r);
void http_txn(struct http_req *r);
void http_status_leader(struct http_req *r);
void http_status_peers(struct http_req *r);
void http_agent_self(struct http_req *r);
void http_agent_members(struct http_req *r);
void http_agent_reload(struct http_req *r);
void http_agent_services(struct http_req *r);
void http_agent_service(struct http_req *r);
void http_agent_service_register(struct http_req *r);
void http_agent_service_deregister(struct http_req *r);
void http_agent_service_maintenance(struct http_req *r);
void http_agent_maintenance(struct http_req *r);
void http_agent_checks(struct http_req *r);
void http_agent_check_register(struct http_req *r);
void http_agent_check_deregister(struct http_req *r);
void http_agent_check_ttl(struct http_req *r);
void http_agent_check_update(struct http_req *r);
void http_agent_health_by_id(struct http_req *r);
void http_agent_health_by_name(struct http_req *r);
void http_catalog_register(struct http_req *r);
void http_catalog_deregister(struct http_req *r);
void http_catalog_datacenters(struct http_req *r);
void http_catalog_nodes(struct http_req *r);
void http_catalog_services(struct http_req *r);
void http_catalog_service(struct http_req *r);
void http_catalog_node(struct http_req *r);
void http_health_node(struct http_req *r);
void http_health_checks(struct http_req *r);
void http_health_service(struct http_req *r);
void http_health_state(struct http_req *r);
void http_agent_join(struct http_req *r);
void http_agent_leave(struct http_req *r);
void http_agent_force_leave(struct http_req *r);
void http_operator_keyring(struct http_req *r);

#endif
