/*
 * http_internal — what api/http.c (route table, libmicrohttpd glue,
 * replies) and api/http_park.c (parked blocking queries) share. Nothing
 * outside those two files includes it.
 */
#ifndef CAIRN_HTTP_INTERNAL_H
#define CAIRN_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>
#include <uv.h>

#include "http.h"
#include "http_sock.h"

enum body_kind { BODY_DEFAULT, BODY_KV, BODY_TXN };

struct http_route
{
    const char *path;
    bool prefix; /* path is a prefix ("/v1/kv/"), rest follows */
    unsigned methods;
    http_handler_fn fn;
    enum body_kind body;
};

struct http_client; /* live connections of one client address (http.c) */

struct http_server
{
    struct agent *agent;
    uv_loop_t *loop;
    struct MHD_Daemon *mhd;
    uv_poll_t poll;   /* MHD's epoll fd */
    uv_timer_t timer; /* MHD_get_timeout, and "run soon" after resumes */
    uv_timer_t stop_timer;
    int open_handles;
    struct http_req *reqs; /* every live request */
    unsigned long parked;
    unsigned long applying;
    bool stopping;
    unsigned stop_ticks;
    void (*stop_cb)(void *);
    void *stop_data;

    /* per-client connection limit (0: none) and the clients counted */
    unsigned conn_limit;
    void *clients;     /* struct client_tree, http.c */
    bool handing_back; /* inside MHD_add_connection for a parked socket */
    bool detaching;    /* access_cb said MHD_NO to drop a detached query */

    /* parked queries (http_park.c) */
    int park_epfd;           /* their sockets, for hang-ups and writes */
    uv_poll_t park_poll;     /* on park_epfd */
    uv_timer_t park_timer;   /* the earliest deadline */
    struct http_park **heap; /* min-heap on deadline */
    uint32_t heap_len, heap_cap;
    struct http_park *ready;    /* detached queries woken, run at next tick */
    struct http_park *detached; /* every detached query, for shutdown */
};

/* Per libmicrohttpd connection (its socket context): how many bytes of the
 * socket's stream its requests took, to tell that libmicrohttpd holds no
 * read-ahead (a pipelined request) when a query leaves it. */
struct http_conn
{
    uint64_t consumed; /* stream offset after the current request */
    bool untracked;    /* offset unknown (chunked body, ...): never detach */
    struct http_client *client; /* counted here, or NULL (no limit) */
};

/* One more / one less live connection of `c` (NULL: no-op). */
void http__client_ref(struct http_client *c);
void http__client_unref(struct http_server *srv, struct http_client *c);
/* Ask for MHD_run on the next loop iteration. */
void http__schedule_run(struct http_server *srv);
void http__headers_free(struct http_req *r);

/* http_park.c. create: after srv->loop is set; 0 or a negative errno.
 * close: stop and close its handles, answering nothing (call
 * http__park_stop first); each closed handle calls `cb`; returns how many
 * handles it closes. */
int http__park_create(struct http_server *srv);
int http__park_close(struct http_server *srv, uv_close_cb cb);
/* Shutdown: answer every parked query (timed out) and close detached
 * sockets once answered. */
void http__park_stop(struct http_server *srv);
/* Run the handlers of detached queries woken since the last tick. */
void http__park_run_ready(struct http_server *srv);
/* The request leaves its watch and deadline (attached requests only:
 * when it is freed or resumed). */
void http__park_release(struct http_req *r);
/* A detached request (r->shell): its reply, written by http_park.c. */
void http__park_reply(struct http_req *r,
                      unsigned status,
                      const char *ctype,
                      char *body,
                      size_t len);
/* Query arguments of a detached request. */
const char *http__park_arg(struct http_req *r, const char *name);
void http__park_each_arg(struct http_req *r,
                         MHD_KeyValueIterator it,
                         void *cls);

#endif
