/*
 * http_park — parked blocking queries (see http.h, "blocking queries" in
 * DESIGN.md).
 *
 * A query that must wait (http_should_block) parks on the watch of what it
 * read, with a deadline (wait plus up to wait/16 jitter), until the watch
 * fires, the deadline passes, the client hangs up or the agent stops. Tens
 * of thousands may wait at once, so a parked query must be small. There
 * are two kinds:
 *
 *  - detached (the usual case): the query leaves libmicrohttpd. We keep a
 *    duplicate of its socket and a record of ~250 bytes: the route, the
 *    path and the decoded query arguments, the query options, the
 *    deadline. libmicrohttpd then drops the connection (access_cb returns
 *    MHD_NO): its 16 KiB memory pool, resident at both ends (request at the
 *    start, parsed headers at the end: a page or more per connection), and
 *    its connection struct. When the query wakes, its handler runs again on
 *    a request rebuilt from the record (r->shell); the reply is written
 *    here, then the socket goes back to libmicrohttpd (MHD_add_connection)
 *    for the next request of a keep-alive client, or is closed.
 *    libmicrohttpd runs with MHD_USE_TURBO, which makes it close sockets
 *    without shutdown(2): a shutdown acts on the socket, not on the
 *    descriptor, and would end our duplicate too.
 *  - attached (fallback): the connection stays suspended in libmicrohttpd
 *    like any waiting request. Used when detaching is not safe or not
 *    possible: libmicrohttpd has read bytes past this request (a pipelined
 *    request, which would be lost with its buffer: told by comparing the
 *    socket's received byte count with the bytes the requests took), an
 *    HTTP/1.0 client, no descriptor left for the duplicate, shutdown.
 *
 * Both kinds share one min-heap of deadlines behind one uv_timer and one
 * epoll set behind one uv_poll, where their sockets are watched so that a
 * client hanging up frees its query at once (a detached one also writes
 * its reply through it). No libuv handle per query.
 */
#include "http_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "agent.h"
#include "log.h"
#include "sbuf.h"

#define HEAP_NONE UINT32_MAX
#define EPOLL_BATCH 64

enum park_state {
    PS_NEW,     /* off its watch and the heap (being set up, or woken) */
    PS_PARKED,  /* on its watch and in the heap */
    PS_READY,   /* detached, woken: its handler runs at the next tick */
    PS_RUNNING, /* detached, its handler is running */
    PS_WRITING, /* detached, its reply is being written */
};

struct http_park
{
    struct watch_waiter waiter; /* waiter.data = this */
    struct http_server *srv;
    struct http_req *r; /* attached: the suspended request; else NULL */
    struct http_park *next_ready;
    struct http_park *dprev, *dnext; /* srv->detached */
    uint64_t deadline;               /* loop ms */
    uint32_t heap_idx;               /* in srv->heap, HEAP_NONE when not */
    int fd;                          /* the socket; ours when detached */
    uint8_t state;
    bool timed_out;
    bool gone;      /* the client hung up */
    bool keepalive; /* detached: hand the socket back after the reply */
    /* detached: what the handler reads when it runs again */
    uint8_t method, phase, consistency;
    struct http_client *client;
    const struct http_route *route;
    uint64_t min_index, wait_ms;
    char *out; /* the reply being written */
    size_t out_len, out_off;
    uint32_t rest_off; /* r->rest = data + rest_off */
    uint32_t args_off, args_len;
    /* the path, NUL, then each argument: a byte (1: has a value, 0: none),
     * the key, NUL, and the value and NUL if it has one */
    char data[];
};

/* ------------------------------------------------------------- helpers */

static void epoll_set(struct http_park *p, int op, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = p};
    if (epoll_ctl(p->srv->park_epfd, op, p->fd, &ev) != 0 &&
        op != EPOLL_CTL_DEL)
        log_debug("http", "epoll_ctl(%d) on a parked socket: %s", op,
                  strerror(errno));
}

/* ---------------------------------------------------------------- heap */

static void heap_set(struct http_server *srv, uint32_t i, struct http_park *p)
{
    srv->heap[i] = p;
    p->heap_idx = i;
}

static void heap_up(struct http_server *srv, uint32_t i)
{
    struct http_park *p = srv->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (srv->heap[parent]->deadline <= p->deadline)
            break;
        heap_set(srv, i, srv->heap[parent]);
        i = parent;
    }
    heap_set(srv, i, p);
}

static void heap_down(struct http_server *srv, uint32_t i)
{
    struct http_park *p = srv->heap[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= srv->heap_len)
            break;
        if (c + 1 < srv->heap_len &&
            srv->heap[c + 1]->deadline < srv->heap[c]->deadline)
            c++;
        if (p->deadline <= srv->heap[c]->deadline)
            break;
        heap_set(srv, i, srv->heap[c]);
        i = c;
    }
    heap_set(srv, i, p);
}

static void park_timeout(uv_timer_t *t);

static void heap_arm(struct http_server *srv)
{
    if (srv->heap_len == 0) {
        uv_timer_stop(&srv->park_timer);
        return;
    }
    uint64_t now = uv_now(srv->loop);
    uint64_t d = srv->heap[0]->deadline;
    uv_timer_start(&srv->park_timer, park_timeout, d > now ? d - now : 0, 0);
}

static int heap_push(struct http_server *srv, struct http_park *p)
{
    if (srv->heap_len == srv->heap_cap) {
        uint32_t cap = srv->heap_cap ? srv->heap_cap * 2 : 1024;
        struct http_park **h = realloc(srv->heap, cap * sizeof *h);
        if (h == NULL)
            return -ENOMEM;
        srv->heap = h;
        srv->heap_cap = cap;
    }
    heap_set(srv, srv->heap_len++, p);
    heap_up(srv, p->heap_idx);
    if (p->heap_idx == 0)
        heap_arm(srv);
    return 0;
}

static void heap_remove(struct http_server *srv, struct http_park *p)
{
    uint32_t i = p->heap_idx;
    if (i == HEAP_NONE)
        return;
    p->heap_idx = HEAP_NONE;
    struct http_park *last = srv->heap[--srv->heap_len];
    if (i < srv->heap_len) {
        heap_set(srv, i, last);
        heap_up(srv, i);
        heap_down(srv, last->heap_idx);
    }
    if (i == 0)
        heap_arm(srv);
}

/* ------------------------------------------------------ attached parks */

/* Leave the watch, the heap and the epoll set (both kinds). */
static void park_unhook(struct http_park *p)
{
    struct http_server *srv = p->srv;
    watch_remove(&p->waiter);
    heap_remove(srv, p);
    if (p->state == PS_PARKED)
        srv->parked--;
    p->state = PS_NEW;
}

void http__park_release(struct http_req *r)
{
    struct http_park *p = r->park;
    if (p == NULL)
        return;
    r->park = NULL;
    park_unhook(p);
    if (p->fd >= 0)
        epoll_set(p, EPOLL_CTL_DEL, 0);
    free(p);
}

/* An attached query wakes: libmicrohttpd runs its handler again. */
static void attached_wake(struct http_park *p)
{
    struct http_req *r = p->r;
    http__park_release(r);
    if (r->suspended) {
        r->suspended = false;
        MHD_resume_connection(r->conn);
        http__schedule_run(r->srv);
    }
}

/* ------------------------------------------------------ detached parks */

static void detached_free(struct http_park *p)
{
    struct http_server *srv = p->srv;
    if (p->dprev)
        p->dprev->dnext = p->dnext;
    else
        srv->detached = p->dnext;
    if (p->dnext)
        p->dnext->dprev = p->dprev;
    http__client_unref(srv, p->client);
    free(p->out);
    free(p);
}

/* Close the socket and forget the query (client gone, write failed). */
static void detached_close(struct http_park *p)
{
    park_unhook(p);
    epoll_set(p, EPOLL_CTL_DEL, 0);
    close(p->fd);
    detached_free(p);
}

/* The reply is out: the socket goes back to libmicrohttpd for the next
 * request (keep-alive), or is closed. */
static void detached_done(struct http_park *p)
{
    struct http_server *srv = p->srv;
    epoll_set(p, EPOLL_CTL_DEL, 0);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (p->keepalive && !srv->stopping && srv->mhd != NULL &&
        getpeername(p->fd, (struct sockaddr *)&ss, &sl) == 0) {
        /* Counted already (p->client): the accept policy lets it in. On
         * failure libmicrohttpd closes the socket. */
        srv->handing_back = true;
        if (MHD_add_connection(srv->mhd, p->fd, (struct sockaddr *)&ss, sl) !=
            MHD_YES)
            log_debug("http", "cannot hand a socket back: %s", strerror(errno));
        srv->handing_back = false;
        http__schedule_run(srv);
    } else {
        close(p->fd);
    }
    detached_free(p);
}

static void detached_write(struct http_park *p)
{
    while (p->out_off < p->out_len) {
        ssize_t n = send(p->fd, p->out + p->out_off, p->out_len - p->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            p->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            epoll_set(p, EPOLL_CTL_MOD, EPOLLOUT);
            return;
        }
        detached_close(p); /* the client went away */
        return;
    }
    detached_done(p);
}

/* A detached query wakes: its handler runs at the next tick (not inside
 * the store's notification, which may be mid-command). */
static void detached_wake(struct http_park *p)
{
    struct http_server *srv = p->srv;
    park_unhook(p);
    p->state = PS_READY;
    p->next_ready = srv->ready;
    srv->ready = p;
    http__schedule_run(srv);
}

static void park_wake(struct http_park *p)
{
    if (p->r != NULL)
        attached_wake(p);
    else
        detached_wake(p);
}

/* Run the handler of a woken detached query on a request rebuilt from its
 * record. It replies (written here), or parks again (http_park with
 * r->shell). */
static void detached_run(struct http_park *p)
{
    struct http_server *srv = p->srv;
    struct http_req *r = calloc(1, sizeof *r);
    if (r == NULL) {
        detached_close(p);
        return;
    }
    r->srv = srv;
    r->agent = srv->agent;
    r->shell = p;
    r->method = (enum http_method)p->method;
    r->path = p->data;
    r->rest = p->data + p->rest_off;
    r->route = p->route;
    r->phase = (enum http_phase)p->phase;
    r->consistency = (enum http_consistency)p->consistency;
    r->min_index = p->min_index;
    r->wait_ms = p->wait_ms;
    r->deadline = p->deadline;
    r->timed_out = p->timed_out;
    p->state = PS_RUNNING;
    r->route->fn(r);
    if (p->state == PS_RUNNING && !r->replied)
        http_reply_text(r, 500, "internal error: no answer");
    http__headers_free(r);
    free(r);
    if (p->state != PS_WRITING)
        return;           /* parked again */
    if (p->out == NULL) { /* out of memory building the reply */
        detached_close(p);
        return;
    }
    detached_write(p);
}

void http__park_run_ready(struct http_server *srv)
{
    while (srv->ready != NULL) {
        struct http_park *p = srv->ready;
        srv->ready = p->next_ready;
        p->next_ready = NULL;
        if (p->gone)
            detached_close(p);
        else
            detached_run(p);
    }
}

static const char *const wday[] = {"Sun", "Mon", "Tue", "Wed",
                                   "Thu", "Fri", "Sat"};
static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* The reply as libmicrohttpd would write it: status line, Date,
 * Connection: close when we close, the handler's headers, Content-Type,
 * X-Consul-Default-Acl-Policy, Content-Length. */
void http__park_reply(struct http_req *r,
                      unsigned status,
                      const char *ctype,
                      char *body,
                      size_t len)
{
    struct http_park *p = r->shell;
    struct sbuf b = {0};
    time_t now = time(NULL);
    struct tm tm;
    const char *reason = MHD_get_reason_phrase_for(status);
    r->replied = true;
    gmtime_r(&now, &tm);
    sbuf_printf(&b, "HTTP/1.1 %u %s\r\n", status,
                reason && *reason ? reason : "Unknown");
    sbuf_printf(&b, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                wday[tm.tm_wday % 7], tm.tm_mday, mon[tm.tm_mon % 12],
                tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (!p->keepalive || p->srv->stopping)
        sbuf_puts(&b, "Connection: close\r\n");
    for (struct http_hdr *h = r->headers; h; h = h->next)
        sbuf_printf(&b, "%s: %s\r\n", h->name, h->value);
    http__headers_free(r);
    if (ctype)
        sbuf_printf(&b, "Content-Type: %s\r\n", ctype);
    if (body == NULL)
        len = 0;
    sbuf_printf(&b,
                "X-Consul-Default-Acl-Policy: allow\r\n"
                "Content-Length: %zu\r\n\r\n",
                len);
    /* head and body in one buffer, one send in the usual case */
    p->out = b.oom ? NULL : malloc(b.len + len);
    if (p->out != NULL) {
        memcpy(p->out, b.p, b.len);
        if (len)
            memcpy(p->out + b.len, body, len);
    }
    p->out_len = b.len + len;
    p->out_off = 0;
    p->state = PS_WRITING;
    free(b.p);
    free(body);
}

const char *http__park_arg(struct http_req *r, const char *name)
{
    const struct http_park *p = r->shell;
    const char *s = p->data + p->args_off, *end = s + p->args_len;
    while (s < end) {
        bool has = *s++ != 0;
        const char *key = s;
        s += strlen(s) + 1;
        const char *val = "";
        if (has) {
            val = s;
            s += strlen(s) + 1;
        }
        if (strcmp(key, name) == 0)
            return val;
    }
    return NULL;
}

void http__park_each_arg(struct http_req *r, MHD_KeyValueIterator it, void *cls)
{
    const struct http_park *p = r->shell;
    const char *s = p->data + p->args_off, *end = s + p->args_len;
    while (s < end) {
        bool has = *s++ != 0;
        const char *key = s;
        s += strlen(s) + 1;
        const char *val = NULL;
        if (has) {
            val = s;
            s += strlen(s) + 1;
        }
        if (it(cls, MHD_GET_ARGUMENT_KIND, key, val) != MHD_YES)
            return;
    }
}

static enum MHD_Result collect_arg(void *cls,
                                   enum MHD_ValueKind kind,
                                   const char *key,
                                   const char *value)
{
    struct sbuf *b = cls;
    (void)kind;
    sbuf_putc(b, value ? 1 : 0);
    sbuf_put(b, key ? key : "", strlen(key ? key : "") + 1);
    if (value)
        sbuf_put(b, value, strlen(value) + 1);
    return MHD_YES;
}

/* Does the request ask to close the connection after the answer? */
static bool wants_close(struct http_req *r)
{
    const char *c = http_header(r, MHD_HTTP_HEADER_CONNECTION);
    if (c == NULL)
        return false;
    for (const char *s = c; *s;) {
        s += strspn(s, " \t,");
        size_t n = strcspn(s, " \t,");
        if (n == 5 && strncasecmp(s, "close", 5) == 0)
            return true;
        s += n;
    }
    return false;
}

/* Take the query out of libmicrohttpd, or NULL when it must stay (see the
 * file comment). */
static struct http_park *detach(struct http_req *r)
{
    struct http_server *srv = r->srv;
    const char *why = NULL;
    int64_t got = -1;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct http_conn *hc = ci ? ci->socket_context : NULL;
    ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (srv->stopping)
        why = "shutting down";
    else if (r->http10 || r->method != HTTP_GET || r->body_len != 0)
        why = "not an HTTP/1.1 GET";
    else if (hc == NULL || hc->untracked || ci == NULL)
        why = "stream offset unknown";
    else if ((got = http__sock_read_bytes(ci->connect_fd)) < 0 ||
             (uint64_t)got != hc->consumed)
        /* libmicrohttpd read past this request (pipelining): that
         * read-ahead would be lost with its buffer */
        why = "read-ahead";
    if (why != NULL) {
        log_debug("http", "%s parks in libmicrohttpd: %s", r->path, why);
        return NULL;
    }

    struct sbuf args = {0};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_arg,
                              &args);
    if (args.oom)
        return NULL;
    size_t plen = strlen(r->path);
    struct http_park *p = calloc(1, sizeof *p + plen + 1 + args.len);
    if (p == NULL) {
        free(args.p);
        return NULL;
    }
    p->fd = fcntl(ci->connect_fd, F_DUPFD_CLOEXEC, 0);
    if (p->fd < 0) { /* descriptor limit: stay in libmicrohttpd */
        log_debug("http", "%s parks in libmicrohttpd: dup: %s", r->path,
                  strerror(errno));
        free(args.p);
        free(p);
        return NULL;
    }
    memcpy(p->data, r->path, plen + 1);
    if (args.len)
        memcpy(p->data + plen + 1, args.p, args.len);
    free(args.p);
    p->srv = srv;
    p->heap_idx = HEAP_NONE;
    p->keepalive = !wants_close(r);
    p->rest_off = (uint32_t)(r->rest - r->path);
    p->args_off = (uint32_t)(plen + 1);
    p->args_len = (uint32_t)args.len;
    p->route = r->route;
    p->method = (uint8_t)r->method;
    p->client = hc->client;
    http__client_ref(p->client);
    p->dnext = srv->detached;
    if (srv->detached)
        srv->detached->dprev = p;
    srv->detached = p;
    epoll_set(p, EPOLL_CTL_ADD, EPOLLIN | EPOLLRDHUP);
    return p;
}

/* The handler's state a re-run needs. */
static void save_opts(struct http_park *p, const struct http_req *r)
{
    p->phase = (uint8_t)r->phase;
    p->consistency = (uint8_t)r->consistency;
    p->min_index = r->min_index;
    p->wait_ms = r->wait_ms;
    p->deadline = r->deadline;
}

static void park_fire(struct watch_waiter *w)
{
    park_wake(w->data);
}

/* Put `p` on the watch and in the heap; 0 or -ENOMEM. */
static int park_hook(struct http_park *p,
                     struct watch_hub *hub,
                     const char *topic,
                     bool prefix)
{
    p->waiter.cb = park_fire;
    p->waiter.data = p;
    if (watch_add(hub, topic, prefix, &p->waiter) != 0)
        return -ENOMEM;
    if (heap_push(p->srv, p) != 0) {
        watch_remove(&p->waiter);
        return -ENOMEM;
    }
    p->state = PS_PARKED;
    p->srv->parked++;
    return 0;
}

void http_park(struct http_req *r,
               struct watch_hub *hub,
               const char *topic,
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

    if (r->shell != NULL) { /* a detached query parks again */
        struct http_park *p = r->shell;
        save_opts(p, r);
        if (park_hook(p, hub, topic, prefix) != 0) {
            http_reply_text(r, 500, "out of memory");
            return;
        }
        epoll_set(p, EPOLL_CTL_MOD, EPOLLIN | EPOLLRDHUP);
        return;
    }

    struct http_park *p = detach(r);
    if (p != NULL) {
        save_opts(p, r);
        if (park_hook(p, hub, topic, prefix) != 0) {
            epoll_set(p, EPOLL_CTL_DEL, 0);
            close(p->fd);
            detached_free(p);
            http_reply_text(r, 500, "out of memory");
            return;
        }
        r->detached = true; /* access_cb lets libmicrohttpd drop it */
        return;
    }

    /* attached: suspended in libmicrohttpd */
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        http_reply_text(r, 500, "out of memory");
        return;
    }
    p->srv = srv;
    p->r = r;
    p->heap_idx = HEAP_NONE;
    p->deadline = r->deadline;
    if (park_hook(p, hub, topic, prefix) != 0) {
        free(p);
        http_reply_text(r, 500, "out of memory");
        return;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    p->fd = ci ? ci->connect_fd : -1;
    if (p->fd >= 0)
        epoll_set(p, EPOLL_CTL_ADD, EPOLLIN | EPOLLRDHUP);
    r->park = p;
    r->suspended = true;
    MHD_suspend_connection(r->conn);
}

/* ----------------------------------------------------- loop callbacks */

static void park_timeout(uv_timer_t *t)
{
    struct http_server *srv = t->data;
    uint64_t now = uv_now(srv->loop);
    while (srv->heap_len > 0 && srv->heap[0]->deadline <= now) {
        struct http_park *p = srv->heap[0];
        p->timed_out = true;
        if (p->r != NULL)
            p->r->timed_out = true;
        park_wake(p); /* takes it out of the heap */
    }
    heap_arm(srv);
}

/* A parked socket is readable or hung up: if the client closed, drop the
 * query now rather than at its deadline. Bytes from the client (a
 * pipelined request) stay in the socket for libmicrohttpd; from then on
 * only a hang-up is watched. */
static void parked_event(struct http_park *p, uint32_t events)
{
    bool gone = (events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) != 0;
    if (!gone && (events & EPOLLIN)) {
        char c;
        ssize_t n = recv(p->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                       errno != EINTR))
            gone = true;
        else if (n > 0)
            epoll_set(p, EPOLL_CTL_MOD, EPOLLRDHUP);
    }
    if (!gone)
        return;
    if (p->r != NULL) {
        p->r->gone = true;
        attached_wake(p);
    } else {
        detached_close(p);
    }
}

static void park_poll_cb(uv_poll_t *h, int status, int events)
{
    struct http_server *srv = h->data;
    struct epoll_event ev[EPOLL_BATCH];
    (void)status;
    (void)events;
    int n = epoll_wait(srv->park_epfd, ev, EPOLL_BATCH, 0);
    for (int i = 0; i < n; i++) {
        struct http_park *p = ev[i].data.ptr;
        switch (p->state) {
        case PS_PARKED:
            parked_event(p, ev[i].events);
            break;
        case PS_WRITING:
            detached_write(p);
            break;
        default: /* woken, runs at the next tick */
            if (ev[i].events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
                p->gone = true;
                epoll_set(p, EPOLL_CTL_MOD, 0);
            }
            break;
        }
    }
}

/* ---------------------------------------------------------- lifecycle */

int http__park_create(struct http_server *srv)
{
    srv->park_epfd = epoll_create1(EPOLL_CLOEXEC);
    if (srv->park_epfd < 0)
        return -errno;
    uv_poll_init(srv->loop, &srv->park_poll, srv->park_epfd);
    srv->park_poll.data = srv;
    uv_poll_start(&srv->park_poll, UV_READABLE, park_poll_cb);
    uv_timer_init(srv->loop, &srv->park_timer);
    srv->park_timer.data = srv;
    return 0;
}

void http__park_stop(struct http_server *srv)
{
    /* Everything parked times out now; detached replies say "Connection:
     * close" (srv->stopping). */
    while (srv->heap_len > 0) {
        struct http_park *p = srv->heap[0];
        p->timed_out = true;
        if (p->r != NULL)
            p->r->timed_out = true;
        park_wake(p);
    }
    http__park_run_ready(srv);
}

int http__park_close(struct http_server *srv, uv_close_cb cb)
{
    /* Replies still being written get one last try, then their sockets
     * close. */
    while (srv->detached != NULL) {
        struct http_park *p = srv->detached;
        if (p->state == PS_WRITING && p->out_off < p->out_len)
            (void)!send(p->fd, p->out + p->out_off, p->out_len - p->out_off,
                        MSG_NOSIGNAL | MSG_DONTWAIT);
        if (p->state == PS_READY) { /* not run: unlink from the list */
            struct http_park **pp = &srv->ready;
            while (*pp != p)
                pp = &(*pp)->next_ready;
            *pp = p->next_ready;
        }
        detached_close(p);
    }
    free(srv->heap);
    srv->heap = NULL;
    srv->heap_len = srv->heap_cap = 0;
    uv_timer_stop(&srv->park_timer);
    uv_poll_stop(&srv->park_poll);
    uv_close((uv_handle_t *)&srv->park_timer, cb);
    uv_close((uv_handle_t *)&srv->park_poll, cb);
    close(srv->park_epfd);
    srv->park_epfd = -1;
    return 2;
}
