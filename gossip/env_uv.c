/*
 * env_uv.c — the production environment of the gossip core on libuv: one
 * UDP socket and one TCP listener on the same port, a uv_timer_t for the
 * core's single timer, and streams as one request/response per short-lived
 * TCP connection framed as [len:u32 big-endian][bytes]. A zero length
 * opens a watch (gossip_params.watch_ring): the connection then stays open
 * and idle until either process goes away, and its closing is the news.
 *
 * Lifetime: every connection owns a uv_tcp_t and a uv_timer_t and is freed
 * when both close callbacks ran. gossip_uv_close() deletes the core first,
 * so no callback reaches it afterwards, then closes every handle; the
 * struct is freed (and the caller's cb runs) after the last close callback.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#define FRAME_MAX (GOSSIP_STREAM_MAX + 1024)
#define WATCHED_MAX 256 /* inbound watches held (one per watcher) */

struct conn
{
    struct gossip_uv *u;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t connect;
    uv_write_t write;
    bool outbound;
    bool watch; /* a watch: ours (outbound) or a watcher's (inbound) */
    bool done;  /* reply delivered / request served / watch reported */
    bool closing;
    int open_handles;
    uint64_t req;
    struct gossip_addr peer;
    uint8_t *out; /* frame being written */
    size_t out_len;
    uint8_t hdr[4];
    size_t hdr_got;
    uint8_t *in; /* frame body being read */
    size_t in_len, in_got;
    struct conn *prev, *next;
};

struct gossip_uv
{
    uv_loop_t *loop;
    uv_udp_t udp;
    uv_tcp_t listener;
    uv_timer_t timer;
    struct gossip *g;
    uint16_t port;
    uint64_t rng;
    void (*log)(void *data, enum gossip_log_level level, const char *msg);
    void *log_data;
    struct conn *conns;
    struct conn *watch; /* our one outbound watch */
    unsigned watched;   /* inbound watches */
    uint8_t scratch[64]; /* reads on watch connections land here */
    unsigned inbound;
    unsigned max_inbound;
    uint32_t tcp_timeout_ms;
    bool closing;
    int open_handles;
    void (*close_cb)(void *data);
    void *close_data;
    /* Last: gossip_uv_new does not zero it, so its pages become resident
     * only as datagrams land in them (64 KiB, one max-size datagram). */
    uint8_t rxbuf[65536];
};

__attribute__((format(printf, 3, 4))) static void
ulog(struct gossip_uv *u, enum gossip_log_level lvl, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    if (!u->log)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    u->log(u->log_data, lvl, buf);
}

/* ---- addresses ----------------------------------------------------------- */

static void to_sockaddr(const struct gossip_addr *a,
                        struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (a->family == 6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(a->port);
        memcpy(&s6->sin6_addr, a->ip, 16);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(a->port);
        memcpy(&s4->sin_addr, a->ip, 4);
    }
}

static bool from_sockaddr(const struct sockaddr *sa, struct gossip_addr *a)
{
    memset(a, 0, sizeof(*a));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        a->family = 4;
        a->port = ntohs(s4->sin_port);
        memcpy(a->ip, &s4->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        a->family = 6;
        a->port = ntohs(s6->sin6_port);
        memcpy(a->ip, &s6->sin6_addr, 16);
        return true;
    }
    return false;
}

/* ---- env callbacks ------------------------------------------------------- */

static uint64_t env_now(void *data)
{
    struct gossip_uv *u = data;
    return uv_now(u->loop);
}

static uint64_t env_wall(void *data)
{
    struct timespec ts;
    (void)data;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t env_random(void *data)
{
    struct gossip_uv *u = data;
    uint64_t z = (u->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

struct udp_send
{
    uv_udp_send_t req;
    uint8_t *buf;
};

static void udp_sent(uv_udp_send_t *req, int status)
{
    struct udp_send *s = (struct udp_send *)req;
    (void)status;
    free(s->buf);
    free(s);
}

static int env_send(void *data,
                    const struct gossip_addr *to,
                    const uint8_t *buf,
                    size_t len)
{
    struct gossip_uv *u = data;
    struct sockaddr_storage ss;
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    struct udp_send *s;
    int rc;
    if (u->closing)
        return -ECANCELED;
    to_sockaddr(to, &ss);
    rc = uv_udp_try_send(&u->udp, &b, 1, (const struct sockaddr *)&ss);
    if (rc >= 0)
        return 0;
    if (rc != UV_EAGAIN)
        return rc;
    /* Socket buffer full: queue a copy. */
    s = malloc(sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->buf = malloc(len);
    if (!s->buf) {
        free(s);
        return -ENOMEM;
    }
    memcpy(s->buf, buf, len);
    b = uv_buf_init((char *)s->buf, (unsigned)len);
    rc = uv_udp_send(&s->req, &u->udp, &b, 1, (const struct sockaddr *)&ss,
                     udp_sent);
    if (rc) {
        free(s->buf);
        free(s);
    }
    return rc;
}

static void on_core_timer(uv_timer_t *t)
{
    struct gossip_uv *u = t->data;
    if (u->g)
        gossip_on_timer(u->g);
}

static void env_timer_start(void *data, uint64_t at_ms)
{
    struct gossip_uv *u = data;
    uint64_t now = uv_now(u->loop);
    if (u->closing)
        return;
    uv_timer_start(&u->timer, on_core_timer, at_ms > now ? at_ms - now : 0, 0);
}

static void env_timer_stop(void *data)
{
    struct gossip_uv *u = data;
    if (!u->closing)
        uv_timer_stop(&u->timer);
}

static void env_log(void *data, enum gossip_log_level level, const char *msg)
{
    struct gossip_uv *u = data;
    if (u->log)
        u->log(u->log_data, level, msg);
}

/* ---- connections --------------------------------------------------------- */

static void maybe_free_uv(struct gossip_uv *u);

static void conn_handle_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    struct gossip_uv *u = c->u;
    if (--c->open_handles > 0)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        u->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (!c->outbound && c->watch)
        u->watched--;
    else if (!c->outbound)
        u->inbound--;
    if (u->watch == c)
        u->watch = NULL;
    free(c->out);
    free(c->in);
    free(c);
    maybe_free_uv(u);
}

static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

/* Outbound only: hand the result to the core exactly once. */
static void conn_reply(struct conn *c,
                       int status,
                       const uint8_t *buf,
                       size_t len)
{
    struct gossip_uv *u = c->u;
    if (c->done)
        return;
    c->done = true;
    conn_close(c);
    if (u->g && !u->closing)
        gossip_on_stream_reply(u->g, c->req, status, buf, len);
}

static struct conn *conn_new(struct gossip_uv *u, bool outbound)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->u = u;
    c->outbound = outbound;
    if (uv_tcp_init(u->loop, &c->tcp) != 0) {
        free(c);
        return NULL;
    }
    uv_timer_init(u->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->open_handles = 2;
    c->next = u->conns;
    if (u->conns)
        u->conns->prev = c;
    u->conns = c;
    if (!outbound)
        u->inbound++;
    return c;
}

static void conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct conn *c = h->data;
    (void)hint;
    if (c->watch) {
        *buf = uv_buf_init((char *)c->u->scratch, sizeof(c->u->scratch));
    } else if (c->hdr_got < 4) {
        *buf = uv_buf_init((char *)c->hdr + c->hdr_got,
                           (unsigned)(4 - c->hdr_got));
    } else {
        *buf = uv_buf_init((char *)c->in + c->in_got,
                           (unsigned)(c->in_len - c->in_got));
    }
}

static void served(uv_write_t *w, int status)
{
    struct conn *c = w->data;
    (void)status;
    conn_close(c);
}

static void serve(struct conn *c)
{
    struct gossip_uv *u = c->u;
    uint8_t *out = NULL;
    size_t out_len = 0;
    uv_buf_t b;
    int rc;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->done = true;
    if (!u->g || u->closing) {
        conn_close(c);
        return;
    }
    rc = gossip_on_stream(u->g, &c->peer, c->in, c->in_len, &out, &out_len);
    if (c->closing) { /* the core was closed from a callback */
        free(out);
        return;
    }
    if (rc < 0 || !out) {
        free(out);
        conn_close(c);
        return;
    }
    c->out = malloc(out_len + 4);
    if (!c->out) {
        free(out);
        conn_close(c);
        return;
    }
    for (int i = 0; i < 4; i++)
        c->out[i] = (uint8_t)(out_len >> (24 - 8 * i));
    memcpy(c->out + 4, out, out_len);
    free(out);
    c->out_len = out_len + 4;
    b = uv_buf_init((char *)c->out, (unsigned)c->out_len);
    c->write.data = c;
    if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, served) != 0)
        conn_close(c);
}

/* Our watch ended: tell the core once. */
static void watch_lost(struct conn *c)
{
    struct gossip_uv *u = c->u;
    if (c->done)
        return;
    c->done = true;
    conn_close(c);
    if (u->watch == c)
        u->watch = NULL;
    if (u->g && !u->closing)
        gossip_on_watch_lost(u->g, c->req);
}

static void conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    struct gossip_uv *u = c->u;
    (void)buf;
    if (n == 0)
        return;
    if (c->watch) { /* nothing is ever sent on a watch: any input ends it */
        if (c->outbound)
            watch_lost(c);
        else
            conn_close(c);
        return;
    }
    if (n < 0) { /* EOF or reset before the whole answer: the peer closed */
        if (c->outbound)
            conn_reply(c,
                       n == UV_EOF || n == UV_ECONNRESET ? -ECONNRESET
                                                         : GOSSIP_E_UNREACHABLE,
                       NULL, 0);
        else
            conn_close(c);
        return;
    }
    if (c->hdr_got < 4) {
        c->hdr_got += (size_t)n;
        if (c->hdr_got < 4)
            return;
        c->in_len = ((size_t)c->hdr[0] << 24) | ((size_t)c->hdr[1] << 16) |
                    ((size_t)c->hdr[2] << 8) | c->hdr[3];
        if (c->in_len == 0 && !c->outbound) {
            /* a watcher: hold the connection, idle, without a deadline */
            if (u->watched >= WATCHED_MAX || !u->g) {
                conn_close(c);
                return;
            }
            c->watch = true;
            u->inbound--;
            u->watched++;
            uv_timer_stop(&c->timer);
            return;
        }
        if (c->in_len == 0 || c->in_len > FRAME_MAX) {
            if (c->outbound)
                conn_reply(c, GOSSIP_E_OVERSIZE, NULL, 0);
            else
                conn_close(c);
            return;
        }
        c->in = malloc(c->in_len);
        if (!c->in) {
            if (c->outbound)
                conn_reply(c, -ENOMEM, NULL, 0);
            else
                conn_close(c);
            return;
        }
        return;
    }
    c->in_got += (size_t)n;
    if (c->in_got < c->in_len)
        return;
    if (c->outbound)
        conn_reply(c, 0, c->in, c->in_len);
    else
        serve(c);
}

static void conn_timeout(uv_timer_t *t)
{
    struct conn *c = t->data;
    if (c->outbound)
        conn_reply(c, GOSSIP_E_TIMEOUT, NULL, 0);
    else
        conn_close(c);
}

static void request_written(uv_write_t *w, int status)
{
    struct conn *c = w->data;
    if (status < 0) {
        conn_reply(c,
                   status == UV_ECONNRESET || status == UV_EPIPE
                       ? -ECONNRESET
                       : GOSSIP_E_UNREACHABLE,
                   NULL, 0);
        return;
    }
    if (!c->closing &&
        uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read) != 0)
        conn_reply(c, GOSSIP_E_UNREACHABLE, NULL, 0);
}

static void connected(uv_connect_t *req, int status)
{
    struct conn *c = req->data;
    uv_buf_t b;
    if (c->closing)
        return;
    if (status < 0) { /* a refusal means: nothing listens there */
        conn_reply(c,
                   status == UV_ECONNREFUSED ? -ECONNREFUSED
                                             : GOSSIP_E_UNREACHABLE,
                   NULL, 0);
        return;
    }
    b = uv_buf_init((char *)c->out, (unsigned)c->out_len);
    c->write.data = c;
    if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, request_written))
        conn_reply(c, GOSSIP_E_UNREACHABLE, NULL, 0);
}

static int env_stream(void *data,
                      const struct gossip_addr *to,
                      const uint8_t *buf,
                      size_t len,
                      uint32_t timeout_ms,
                      uint64_t req)
{
    struct gossip_uv *u = data;
    struct sockaddr_storage ss;
    struct conn *c;
    int rc;
    if (u->closing)
        return -ECANCELED;
    if (len > FRAME_MAX)
        return GOSSIP_E_OVERSIZE;
    c = conn_new(u, true);
    if (!c)
        return -ENOMEM;
    c->req = req;
    c->peer = *to;
    c->out = malloc(len + 4);
    if (!c->out) {
        c->done = true;
        conn_close(c);
        return -ENOMEM;
    }
    for (int i = 0; i < 4; i++)
        c->out[i] = (uint8_t)(len >> (24 - 8 * i));
    memcpy(c->out + 4, buf, len);
    c->out_len = len + 4;
    to_sockaddr(to, &ss);
    c->connect.data = c;
    rc = uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&ss,
                        connected);
    if (rc) {
        c->done = true; /* the caller learns from the return value */
        conn_close(c);
        return rc;
    }
    uv_timer_start(&c->timer, conn_timeout, timeout_ms, 0);
    return 0;
}

static void watch_timeout(uv_timer_t *t)
{
    watch_lost(t->data);
}

static void watch_written(uv_write_t *w, int status)
{
    struct conn *c = w->data;
    if (c->closing)
        return;
    if (status < 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read) != 0)
        watch_lost(c);
}

static void watch_connected(uv_connect_t *req, int status)
{
    struct conn *c = req->data;
    uv_buf_t b;
    if (c->closing)
        return;
    uv_timer_stop(&c->timer);
    if (status < 0) {
        watch_lost(c);
        return;
    }
    b = uv_buf_init((char *)c->out, (unsigned)c->out_len);
    c->write.data = c;
    if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, watch_written))
        watch_lost(c);
}

static void env_unwatch(void *data)
{
    struct gossip_uv *u = data;
    struct conn *c = u->watch;
    if (!c)
        return;
    u->watch = NULL;
    c->done = true; /* dropped silently */
    conn_close(c);
}

static int env_watch(void *data, const struct gossip_addr *to, uint64_t token)
{
    struct gossip_uv *u = data;
    struct sockaddr_storage ss;
    struct conn *c;
    int rc;
    if (u->closing)
        return -ECANCELED;
    env_unwatch(u);
    c = conn_new(u, true);
    if (!c)
        return -ENOMEM;
    c->watch = true;
    c->req = token;
    c->peer = *to;
    c->out = calloc(1, 4); /* a zero-length frame */
    if (!c->out) {
        c->done = true;
        conn_close(c);
        return -ENOMEM;
    }
    c->out_len = 4;
    to_sockaddr(to, &ss);
    c->connect.data = c;
    rc = uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&ss,
                        watch_connected);
    if (rc) {
        c->done = true;
        conn_close(c);
        return rc;
    }
    uv_timer_start(&c->timer, watch_timeout, u->tcp_timeout_ms, 0);
    u->watch = c;
    return 0;
}

static void on_connection(uv_stream_t *server, int status)
{
    struct gossip_uv *u = server->data;
    struct conn *c;
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    if (status < 0 || u->closing)
        return;
    c = conn_new(u, false);
    if (!c)
        return;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    if (u->inbound > u->max_inbound) {
        /* bounded inbound work (memberlist#158) */
        ulog(u, GOSSIP_LOG_WARN,
             "too many concurrent inbound streams; closing one");
        c->done = true;
        conn_close(c);
        return;
    }
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) != 0 ||
        !from_sockaddr((struct sockaddr *)&ss, &c->peer))
        memset(&c->peer, 0, sizeof(c->peer));
    uv_timer_start(&c->timer, conn_timeout, u->tcp_timeout_ms, 0);
    if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read) != 0)
        conn_close(c);
}

/* ---- UDP ----------------------------------------------------------------- */

static void udp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct gossip_uv *u = h->data;
    (void)hint;
    *buf = uv_buf_init((char *)u->rxbuf, sizeof(u->rxbuf));
}

static void udp_recv(uv_udp_t *h,
                     ssize_t n,
                     const uv_buf_t *buf,
                     const struct sockaddr *addr,
                     unsigned flags)
{
    struct gossip_uv *u = h->data;
    struct gossip_addr from;
    if (n <= 0 || !addr || (flags & UV_UDP_PARTIAL) || !u->g || u->closing)
        return;
    if (!from_sockaddr(addr, &from))
        return;
    gossip_on_packet(u->g, &from, (const uint8_t *)buf->base, (size_t)n);
}

/* ---- lifecycle ----------------------------------------------------------- */

/* Bind a TCP and a UDP socket to the same port. With port 0 the kernel
 * picks the TCP port and we retry when that port is taken for UDP. Plain
 * sockets so a failed attempt can be undone synchronously. */
static int bind_pair(const struct gossip_addr *addr,
                     int *tfd,
                     int *ufd,
                     uint16_t *port)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int fam = addr->family == 6 ? AF_INET6 : AF_INET, one = 1, rc = 0;
    for (int attempt = 0; attempt < 32; attempt++) {
        struct gossip_addr a = *addr;
        *tfd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
        *ufd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (*tfd < 0 || *ufd < 0) {
            rc = -errno;
            break;
        }
        setsockopt(*tfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        to_sockaddr(&a, &ss);
        sl = fam == AF_INET6 ? sizeof(struct sockaddr_in6)
                             : sizeof(struct sockaddr_in);
        if (bind(*tfd, (struct sockaddr *)&ss, sl) != 0) {
            rc = -errno;
            break;
        }
        if (getsockname(*tfd, (struct sockaddr *)&ss, &sl) != 0) {
            rc = -errno;
            break;
        }
        from_sockaddr((struct sockaddr *)&ss, &a);
        to_sockaddr(&a, &ss);
        if (bind(*ufd, (struct sockaddr *)&ss, sl) == 0) {
            *port = a.port;
            return 0;
        }
        rc = -errno;
        close(*tfd);
        close(*ufd);
        *tfd = *ufd = -1;
        if (rc != -EADDRINUSE || addr->port != 0)
            return rc;
    }
    if (*tfd >= 0)
        close(*tfd);
    if (*ufd >= 0)
        close(*ufd);
    *tfd = *ufd = -1;
    return rc ? rc : -EADDRINUSE;
}

static void maybe_free_uv(struct gossip_uv *u)
{
    if (!u->closing || u->open_handles > 0 || u->conns)
        return;
    {
        void (*cb)(void *) = u->close_cb;
        void *data = u->close_data;
        sodium_memzero(&u->rng, sizeof(u->rng));
        free(u);
        if (cb)
            cb(data);
    }
}

static void own_handle_closed(uv_handle_t *h)
{
    struct gossip_uv *u = h->data;
    u->open_handles--;
    maybe_free_uv(u);
}

GOSSIP_API int gossip_uv_new(struct uv_loop_s *loop,
                             const struct gossip_config *cfg_in,
                             const struct gossip_uv_options *opt,
                             struct gossip_uv **out)
{
    struct gossip_uv *u;
    struct gossip_config cfg = *cfg_in;
    struct gossip_addr bind;
    int rc;
    struct gossip_env env = {
        .now = env_now,
        .wall = env_wall,
        .random = env_random,
        .send = env_send,
        .stream = env_stream,
        .watch = env_watch,
        .unwatch = env_unwatch,
        .timer_start = env_timer_start,
        .timer_stop = env_timer_stop,
        .log = env_log,
    };

    *out = NULL;
    if (sodium_init() < 0)
        return -EIO;
    if (gossip_addr_parse(opt && opt->bind_ip ? opt->bind_ip : "0.0.0.0",
                          opt ? opt->bind_port : 0, &bind) != 0)
        return -EINVAL;
    u = malloc(sizeof(*u));
    if (!u)
        return -ENOMEM;
    memset(u, 0, offsetof(struct gossip_uv, rxbuf));
    u->loop = loop;
    u->log = opt ? opt->log : NULL;
    u->log_data = opt ? opt->log_data : NULL;
    u->max_inbound = cfg.params.max_inbound_streams;
    u->tcp_timeout_ms = cfg.params.tcp_timeout_ms;
    randombytes_buf(&u->rng, sizeof(u->rng));
    env.data = u;

    uv_udp_init(loop, &u->udp);
    uv_tcp_init(loop, &u->listener);
    uv_timer_init(loop, &u->timer);
    u->udp.data = u->listener.data = u->timer.data = u;
    u->open_handles = 3;

    {
        int tfd = -1, ufd = -1;
        rc = bind_pair(&bind, &tfd, &ufd, &u->port);
        if (rc)
            goto err_after_handles;
        bind.port = u->port;
        rc = uv_tcp_open(&u->listener, tfd);
        if (rc) {
            close(tfd);
            close(ufd);
            goto err_after_handles;
        }
        rc = uv_udp_open(&u->udp, ufd);
        if (rc) {
            close(ufd);
            goto err_after_handles;
        }
    }
    rc = uv_listen((uv_stream_t *)&u->listener, 128, on_connection);
    if (rc)
        goto err_after_handles;
    rc = uv_udp_recv_start(&u->udp, udp_alloc, udp_recv);
    if (rc)
        goto err_after_handles;

    if (cfg.addr.family == 0) {
        static const uint8_t zero[16];
        cfg.addr = bind;
        if (!memcmp(cfg.addr.ip, zero, gossip__addr_len(&cfg.addr)))
            gossip_addr_parse(cfg.addr.family == 6 ? "::1" : "127.0.0.1",
                              bind.port, &cfg.addr);
    }
    if (cfg.addr.port == 0)
        cfg.addr.port = u->port;
    rc = gossip_new(&cfg, &env, &u->g);
    if (rc)
        goto err_after_handles;
    *out = u;
    return 0;

err_after_handles:
    /* Handles must be closed through the loop; free u when they are. */
    ulog(u, GOSSIP_LOG_ERROR, "cannot start gossip on port %u: %s",
         (unsigned)bind.port,
         rc <= -10000 ? gossip_strerror(rc) : uv_strerror(rc));
    u->closing = true;
    uv_close((uv_handle_t *)&u->udp, own_handle_closed);
    uv_close((uv_handle_t *)&u->listener, own_handle_closed);
    uv_close((uv_handle_t *)&u->timer, own_handle_closed);
    return rc;
}

GOSSIP_API struct gossip *gossip_uv_core(struct gossip_uv *u)
{
    return u->g;
}

GOSSIP_API uint16_t gossip_uv_port(const struct gossip_uv *u)
{
    return u->port;
}

GOSSIP_API void gossip_uv_close(struct gossip_uv *u,
                                void (*cb)(void *data),
                                void *data)
{
    struct conn *c, *next;
    if (u->closing)
        return;
    u->close_cb = cb;
    u->close_data = data;
    /* Delete the core first: nothing may call into it from now on. */
    if (u->g) {
        gossip_delete(u->g);
        u->g = NULL;
    }
    u->closing = true;
    uv_udp_recv_stop(&u->udp);
    uv_timer_stop(&u->timer);
    for (c = u->conns; c; c = next) {
        next = c->next;
        c->done = true;
        conn_close(c);
    }
    uv_close((uv_handle_t *)&u->udp, own_handle_closed);
    uv_close((uv_handle_t *)&u->listener, own_handle_closed);
    uv_close((uv_handle_t *)&u->timer, own_handle_closed);
}
