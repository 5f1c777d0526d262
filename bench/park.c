/*
 * bench/park.c — the blocking-query half of bench/catalog.sh.
 *
 * Parks N blocking queries GET /v1/health/service/<name>?index=<I>&wait=W
 * on one cairn (or Consul) agent, spread round-robin over K names, each
 * with the name's current X-Consul-Index, all connections held at once.
 * It then confirms they are parked (Stats.agent.blocking_queries of
 * /v1/agent/self when the agent has it, else by the absence of answers),
 * reads the agent's RSS, makes one write at T0 (by default failing the TTL
 * check of one instance of one name), waits a settle time and reports who
 * answered: the watchers of the changed name must all get a full answer,
 * every other watcher must stay parked.
 *
 * The connections are split over worker processes (each with its own file
 * table, RLIMIT_NOFILE raised to the hard limit) and over local source
 * addresses 127.0.0.2.. (ephemeral ports are per source/destination pair).
 * Per-connection state lives in one shared mapping, timestamps are
 * CLOCK_MONOTONIC, so T0 (taken by the parent) and answer times (taken by
 * the workers) share a clock.
 *
 * Output: "key=value" lines on stdout (read by bench/catalog.sh), progress
 * on stderr. Exit status 0 when the run completed (whatever the figures),
 * 1 on a setup error (agent unreachable, bad arguments), 2 on usage.
 *
 *   cc -O2 -Wall -Wextra -Werror -o build/bench-park bench/park.c
 *   build/bench-park -p 8500 -P $(pidof cairn) -n 20000
 *
 * All traffic goes to the agent address (127.0.0.1 by default); every loop
 * is bounded in count and time.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define MAX_WORKERS 64
#define MAX_SRCS 250
#define MAX_ANSWER (4 << 20) /* a parked query's answer, bytes */
#define CONNECT_INFLIGHT 256 /* per worker */
/* descriptors left to the agent beyond those it had before parking (the
 * write, /v1/agent/self, Raft, files) when capping to its limit */
#define AGENT_FD_RESERVE 64

/* ---------------------------------------------------------------- options */

static const char *opt_addr = "127.0.0.1";
static int opt_port;
static pid_t opt_pid;
static long opt_n = 20000;
static long opt_names = 1000;
static const char *opt_fmt = "svc-%03ld";
static long opt_changed = 42;
static const char *opt_wmethod = "PUT";
static const char *opt_wpath = "/v1/agent/check/fail/service:svc-042-3";
static const char *opt_wbody = "";
static const char *opt_expect = "critical";
static const char *opt_wait = "5m";
static const char *opt_query = "";
static long opt_settle_ms = 2000;
static long opt_park_secs = 120;
static long opt_workers;
static long opt_srcs = 4;
static int opt_cap = 1;

/* ------------------------------------------------------------ shared state */

enum {
    S_NEW,        /* not started */
    S_CONNECTING, /* connect() in progress */
    S_SENDING,    /* connected, request not fully written */
    S_WAITING,    /* request written, no full answer yet: parked (we hope) */
    S_DONE,       /* full answer received */
    S_CLOSED,     /* connection closed or reset before a full answer */
    S_FAILED,     /* could not connect (or gave up connecting) */
};

struct slot
{
    uint64_t index;      /* index= we sent */
    uint64_t resp_index; /* X-Consul-Index of the answer */
    int64_t t_done;      /* CLOCK_MONOTONIC ns: full answer / close / fail */
    uint32_t name;
    int16_t err; /* errno for S_FAILED / S_CLOSED */
    uint16_t status;
    uint8_t state;
    uint8_t expect; /* answer contains opt_expect */
};

struct ctl
{
    int exit;
    int started[MAX_WORKERS];
    int first_errno[MAX_WORKERS];
    long rlimit[MAX_WORKERS];
};

static struct slot *slots;
static struct ctl *ctl;
static uint64_t *name_index; /* per name */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static uint8_t ld_state(const struct slot *s)
{
    return __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
}

static void st_state(struct slot *s, uint8_t v)
{
    __atomic_store_n(&s->state, v, __ATOMIC_RELEASE);
}

static long raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? 1L << 30 : (long)rl.rlim_cur;
}

static void name_of(long k, char *buf, size_t len)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(buf, len, opt_fmt, k);
#pragma GCC diagnostic pop
}

/* ------------------------------------------------------- HTTP parsing */

/* Value of header NAME in the header block HDR[0..len) (status line
 * first), copied into OUT; false when absent. */
static bool hdr_get(const char *hdr, size_t len, const char *name, char *out,
                    size_t outlen)
{
    size_t nl = strlen(name);
    const char *p = hdr, *end = hdr + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            eol = end;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 &&
            p[nl] == ':') {
            const char *v = p + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            size_t n = (size_t)(ve - v);
            if (n >= outlen)
                n = outlen - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return true;
        }
        p = eol + 1;
    }
    return false;
}

static int status_of(const char *buf, size_t len)
{
    if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0)
        return 0;
    return atoi(buf + 9);
}

/* ------------------------------------------------ blocking one-shot HTTP */

struct resp
{
    int status;
    char *buf; /* whole response, NUL-terminated */
    size_t len;
    size_t hdr_len; /* header block length incl. the blank line */
};

static void resp_free(struct resp *r)
{
    free(r->buf);
    memset(r, 0, sizeof *r);
}

/* One request on a fresh connection (Connection: close), read to EOF.
 * 0 on a parsed answer, -1 with errno-ish text in ERR. */
static int http_do(const char *method, const char *path, const char *body,
                   struct resp *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)opt_port)};
    inet_pton(AF_INET, opt_addr, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(err, errlen, "connect %s:%d: %s", opt_addr, opt_port,
                 strerror(errno));
        close(fd);
        return -1;
    }
    size_t blen = strlen(body);
    char *req = NULL;
    int rl = asprintf(&req,
                      "%s %s HTTP/1.1\r\nHost: %s:%d\r\n"
                      "User-Agent: cairn-bench-park\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                      method, path, opt_addr, opt_port, blen, body);
    if (rl < 0) {
        snprintf(err, errlen, "out of memory");
        close(fd);
        return -1;
    }
    size_t off = 0;
    while (off < (size_t)rl) {
        ssize_t w = send(fd, req + off, (size_t)rl - off, MSG_NOSIGNAL);
        if (w <= 0) {
            snprintf(err, errlen, "send: %s", strerror(errno));
            free(req);
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    free(req);
    size_t cap = 65536;
    int64_t deadline = now_ns() + 60 * 1000000000LL; /* whole answer */
    r->buf = malloc(cap + 1);
    if (r->buf == NULL) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (;;) {
        if (r->len == cap) {
            if (cap >= 64u << 20)
                break;
            char *nb = realloc(r->buf, cap * 2 + 1);
            if (nb == NULL)
                break;
            r->buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, r->buf + r->len, cap - r->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "read: %s", strerror(errno));
            close(fd);
            resp_free(r);
            return -1;
        }
        if (n == 0)
            break;
        r->len += (size_t)n;
        if (now_ns() > deadline) {
            snprintf(err, errlen, "answer not complete within 60 s");
            close(fd);
            resp_free(r);
            return -1;
        }
        /* done at Content-Length even if the server keeps the
         * connection open */
        char *he = memmem(r->buf, r->len, "\r\n\r\n", 4);
        char v[32];
        if (he != NULL &&
            hdr_get(r->buf, (size_t)(he - r->buf), "Content-Length", v,
                    sizeof v) &&
            r->len - (size_t)(he + 4 - r->buf) >= (size_t)atoll(v))
            break;
    }
    close(fd);
    r->buf[r->len] = '\0';
    char *e = strstr(r->buf, "\r\n\r\n");
    r->hdr_len = e ? (size_t)(e - r->buf) + 4 : r->len;
    r->status = status_of(r->buf, r->len);
    if (r->status == 0) {
        snprintf(err, errlen, "no HTTP answer (%zu bytes)", r->len);
        resp_free(r);
        return -1;
    }
    return 0;
}

/* Stats.agent.blocking_queries from /v1/agent/self; -1 when the agent
 * does not answer (200) within the timeout, -2 when the field is absent. */
static long agent_blocking_queries(void)
{
    struct resp r;
    char err[256];
    if (http_do("GET", "/v1/agent/self", "", &r, err, sizeof err) != 0)
        return -1;
    long v = r.status == 200 ? -2 : -1;
    const char *p = r.status == 200 ? strstr(r.buf + r.hdr_len,
                                             "\"blocking_queries\"")
                                    : NULL;
    if (p != NULL) {
        p += strlen("\"blocking_queries\"");
        while (*p == ' ' || *p == ':' || *p == '"')
            p++;
        if (isdigit((unsigned char)*p))
            v = strtol(p, NULL, 10);
    }
    resp_free(&r);
    return v;
}

static long proc_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long v = -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0) {
            v = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static long proc_fd_count(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    long n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* soft "Max open files" of PID, or -1 */
static long proc_nofile(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/limits", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long v = -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "Max open files", 14) == 0) {
            v = strtol(line + 14, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static bool proc_alive(pid_t pid)
{
    return kill(pid, 0) == 0 || errno == EPERM;
}

/* ------------------------------------------------------------- workers */

struct conn
{
    int fd;
    uint32_t sent; /* request bytes written */
    char *buf;     /* answer so far */
    size_t len, cap;
    size_t hdr_len; /* 0 until the header block is complete */
    long long clen; /* Content-Length, -1 unknown */
    bool chunked;
};

static int build_request(long i, char *buf, size_t len)
{
    char name[128];
    name_of((long)slots[i].name, name, sizeof name);
    return snprintf(buf, len,
                    "GET /v1/health/service/%s?index=%" PRIu64
                    "&wait=%s%s HTTP/1.1\r\nHost: %s:%d\r\n"
                    "User-Agent: cairn-bench-park\r\n\r\n",
                    name, slots[i].index, opt_wait, opt_query, opt_addr,
                    opt_port);
}

static void conn_finish(int ep, struct conn *c, struct slot *s, uint8_t st,
                        int err)
{
    s->t_done = now_ns();
    s->err = (int16_t)err;
    if (c->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        /* A finished answer's connection stays open (an idle keep-alive
         * connection, as a real client between two queries); a broken or
         * failed one is closed. */
        if (st != S_DONE) {
            close(c->fd);
            c->fd = -1;
        }
    }
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
    st_state(s, st);
}

/* Parse what we have; true when the answer is complete. */
static bool answer_complete(struct conn *c, struct slot *s)
{
    if (c->hdr_len == 0) {
        char *e = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (e == NULL)
            return false;
        c->hdr_len = (size_t)(e - c->buf) + 4;
        s->status = (uint16_t)status_of(c->buf, c->len);
        char v[64];
        c->clen = -1;
        if (hdr_get(c->buf, c->hdr_len, "Content-Length", v, sizeof v))
            c->clen = atoll(v);
        if (hdr_get(c->buf, c->hdr_len, "Transfer-Encoding", v, sizeof v) &&
            strcasestr(v, "chunked") != NULL)
            c->chunked = true;
        if (hdr_get(c->buf, c->hdr_len, "X-Consul-Index", v, sizeof v))
            s->resp_index = strtoull(v, NULL, 10);
    }
    size_t blen = c->len - c->hdr_len;
    const char *body = c->buf + c->hdr_len;
    bool done = false;
    if (c->chunked)
        done = blen >= 5 && memcmp(body + blen - 5, "0\r\n\r\n", 5) == 0;
    else if (c->clen >= 0)
        done = (long long)blen >= c->clen;
    if (done && opt_expect[0] != '\0')
        s->expect = memmem(body, blen, opt_expect, strlen(opt_expect)) != NULL;
    return done;
}

static void on_readable(int ep, struct conn *c, struct slot *s)
{
    for (int rounds = 0; rounds < 64; rounds++) {
        if (c->len == c->cap) {
            size_t ncap = c->cap ? c->cap * 2 : 16384;
            if (ncap > MAX_ANSWER) {
                conn_finish(ep, c, s, S_CLOSED, EMSGSIZE);
                return;
            }
            char *nb = realloc(c->buf, ncap);
            if (nb == NULL) {
                conn_finish(ep, c, s, S_CLOSED, ENOMEM);
                return;
            }
            c->buf = nb;
            c->cap = ncap;
        }
        ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0) {
            conn_finish(ep, c, s, S_CLOSED, errno);
            return;
        }
        if (n == 0) {
            /* EOF: complete only for an answer delimited by close */
            if (c->hdr_len > 0 && !c->chunked && c->clen < 0) {
                (void)answer_complete(c, s);
                conn_finish(ep, c, s, S_DONE, 0);
            } else {
                if (c->len > 0)
                    (void)answer_complete(c, s); /* status, if any */
                conn_finish(ep, c, s, S_CLOSED, 0);
            }
            return;
        }
        c->len += (size_t)n;
        if (answer_complete(c, s)) {
            conn_finish(ep, c, s, S_DONE, 0);
            return;
        }
    }
}

static void on_writable(int ep, struct conn *c, struct slot *s, long i)
{
    if (ld_state(s) == S_CONNECTING) {
        int e = 0;
        socklen_t el = sizeof e;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el);
        if (e != 0) {
            conn_finish(ep, c, s, S_FAILED, e);
            return;
        }
        st_state(s, S_SENDING);
    }
    char req[512];
    int rl = build_request(i, req, sizeof req);
    if (rl <= 0 || rl >= (int)sizeof req) {
        conn_finish(ep, c, s, S_FAILED, ENAMETOOLONG);
        return;
    }
    while (c->sent < (uint32_t)rl) {
        ssize_t w = send(c->fd, req + c->sent, (size_t)rl - c->sent,
                         MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (w <= 0) {
            conn_finish(ep, c, s, S_CLOSED, errno);
            return;
        }
        c->sent += (uint32_t)w;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP,
                             .data.u64 = (uint64_t)i};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    st_state(s, S_WAITING);
}

/* Worker W owns slots W, W+nw, W+2nw, ... */
static void worker(int w, int nw)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        _exit(1);
    ctl->rlimit[w] = raise_nofile();
    long mine = 0;
    for (long i = w; i < opt_n; i += nw)
        mine++;
    struct conn *conns = calloc((size_t)mine, sizeof *conns);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (conns == NULL || ep < 0) {
        ctl->first_errno[w] = errno ? errno : ENOMEM;
        for (long i = w; i < opt_n; i += nw) {
            slots[i].err = (int16_t)ctl->first_errno[w];
            st_state(&slots[i], S_FAILED);
        }
        _exit(1);
    }
    for (long j = 0; j < mine; j++)
        conns[j].fd = -1;
    __atomic_store_n(&ctl->started[w], 1, __ATOMIC_RELEASE);

    struct sockaddr_in dst = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)opt_port)};
    inet_pton(AF_INET, opt_addr, &dst.sin_addr);

    int64_t deadline = now_ns() + (int64_t)opt_park_secs * 1000000000LL;
    long next = 0; /* next local index to connect */
    long inflight = 0;
    bool gave_up = false;
    struct epoll_event evs[512];
    /* bounded: the parent sets ctl->exit, and dies at the latest after
     * its own bounded phases (PR_SET_PDEATHSIG) */
    while (!__atomic_load_n(&ctl->exit, __ATOMIC_ACQUIRE)) {
        /* start connections, CONNECT_INFLIGHT at a time */
        while (!gave_up && next < mine && inflight < CONNECT_INFLIGHT) {
            long i = w + next * nw;
            struct conn *c = &conns[next];
            struct slot *s = &slots[i];
            next++;
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
                                         SOCK_CLOEXEC, 0);
            if (fd < 0) {
                if (ctl->first_errno[w] == 0)
                    ctl->first_errno[w] = errno;
                conn_finish(ep, c, s, S_FAILED, errno);
                continue;
            }
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (opt_srcs > 0) {
                struct sockaddr_in src = {.sin_family = AF_INET};
                src.sin_addr.s_addr =
                    htonl(0x7f000002u + (uint32_t)(i % opt_srcs));
                setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                           sizeof one);
                if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
                    if (ctl->first_errno[w] == 0)
                        ctl->first_errno[w] = errno;
                    close(fd);
                    conn_finish(ep, c, s, S_FAILED, errno);
                    continue;
                }
            }
            c->fd = fd;
            int rc = connect(fd, (struct sockaddr *)&dst, sizeof dst);
            if (rc != 0 && errno != EINPROGRESS) {
                if (ctl->first_errno[w] == 0)
                    ctl->first_errno[w] = errno;
                conn_finish(ep, c, s, S_FAILED, errno);
                continue;
            }
            st_state(s, S_CONNECTING);
            struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN |
                                               EPOLLRDHUP,
                                     .data.u64 = (uint64_t)i};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
                conn_finish(ep, c, s, S_FAILED, errno);
                continue;
            }
            inflight++;
        }
        int n = epoll_wait(ep, evs, 512, 20);
        for (int k = 0; k < n; k++) {
            long i = (long)evs[k].data.u64;
            struct conn *c = &conns[(i - w) / nw];
            struct slot *s = &slots[i];
            uint8_t st = ld_state(s);
            if (st == S_CONNECTING || st == S_SENDING) {
                if (st == S_CONNECTING)
                    inflight--;
                on_writable(ep, c, s, i);
                st = ld_state(s);
                if (st == S_CONNECTING) /* cannot happen; keep count */
                    inflight++;
            }
            if (ld_state(s) == S_WAITING &&
                (evs[k].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP |
                                  EPOLLERR)))
                on_readable(ep, c, s);
        }
        if (!gave_up && now_ns() > deadline) {
            /* give up on what has not connected or sent by now */
            gave_up = true;
            for (long j = 0; j < mine; j++) {
                struct slot *s = &slots[w + j * nw];
                uint8_t st = ld_state(s);
                if (st == S_NEW || st == S_CONNECTING || st == S_SENDING)
                    conn_finish(ep, &conns[j], s, S_FAILED, ETIMEDOUT);
            }
            inflight = 0;
        }
    }
    /* the kernel closes the rest on exit */
    _exit(0);
}

/* --------------------------------------------------------------- parent */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench-park -p PORT -P AGENT_PID [options]\n"
            "  -a ADDR   agent HTTP address (127.0.0.1)\n"
            "  -n N      blocking queries to park (20000)\n"
            "  -k K      names, format -f, numbered 0..K-1 (1000)\n"
            "  -f FMT    printf format of a name from its number "
            "(svc-%%03ld)\n"
            "  -c NUM    number of the name the write changes (42)\n"
            "  -m METHOD -u PATH -b BODY   the write "
            "(PUT /v1/agent/check/fail/service:svc-042-3)\n"
            "  -e STR    text the changed name's answers must contain "
            "(critical)\n"
            "  -w WAIT   wait= of the parked queries (5m)\n"
            "  -q QUERY  extra query text, e.g. '&passing' (none)\n"
            "  -s MS     settle time after the write (2000)\n"
            "  -t SECS   time allowed to open and park all (120)\n"
            "  -W N      worker processes (auto: by RLIMIT_NOFILE)\n"
            "  -S N      source addresses 127.0.0.2.. (4; 0 = default)\n"
            "  -C 0|1    park at most what the agent's open-file limit leaves\n"
            "            room for, less %d for its own use (1)\n",
            AGENT_FD_RESERVE);
    exit(2);
}

static long num_arg(const char *s, long lo, long hi)
{
    char *e;
    errno = 0;
    long v = strtol(s, &e, 10);
    if (errno != 0 || *e != '\0' || e == s || v < lo || v > hi) {
        fprintf(stderr, "bench-park: bad number %s\n", s);
        usage();
    }
    return v;
}

int main(int argc, char **argv)
{
    int o;
    while ((o = getopt(argc, argv, "a:p:P:n:k:f:c:m:u:b:e:w:q:s:t:W:S:C:")) !=
           -1) {
        switch (o) {
        case 'a': opt_addr = optarg; break;
        case 'p': opt_port = (int)num_arg(optarg, 1, 65535); break;
        case 'P': opt_pid = (pid_t)num_arg(optarg, 1, 1 << 30); break;
        case 'n': opt_n = num_arg(optarg, 1, 10000000); break;
        case 'k': opt_names = num_arg(optarg, 1, 1000000); break;
        case 'f': opt_fmt = optarg; break;
        case 'c': opt_changed = num_arg(optarg, 0, 1000000); break;
        case 'm': opt_wmethod = optarg; break;
        case 'u': opt_wpath = optarg; break;
        case 'b': opt_wbody = optarg; break;
        case 'e': opt_expect = optarg; break;
        case 'w': opt_wait = optarg; break;
        case 'q': opt_query = optarg; break;
        case 's': opt_settle_ms = num_arg(optarg, 0, 600000); break;
        case 't': opt_park_secs = num_arg(optarg, 1, 3600); break;
        case 'W': opt_workers = num_arg(optarg, 1, MAX_WORKERS); break;
        case 'S': opt_srcs = num_arg(optarg, 0, MAX_SRCS); break;
        case 'C': opt_cap = (int)num_arg(optarg, 0, 1); break;
        default: usage();
        }
    }
    if (opt_port == 0 || opt_pid == 0 || opt_changed >= opt_names)
        usage();
    struct in_addr tmp;
    if (inet_pton(AF_INET, opt_addr, &tmp) != 1 ||
        (ntohl(tmp.s_addr) >> 24) != 127) {
        fprintf(stderr, "bench-park: %s is not a 127.0.0.0/8 address\n",
                opt_addr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);

    long nofile = raise_nofile();

    /* 1. the current index of every name */
    name_index = calloc((size_t)opt_names, sizeof *name_index);
    if (name_index == NULL)
        return 1;
    char path[512], name[128], err[256];
    int64_t t_idx = now_ns();
    for (long k = 0; k < opt_names; k++) {
        name_of(k, name, sizeof name);
        snprintf(path, sizeof path, "/v1/health/service/%s%s%s", name,
                 opt_query[0] ? "?" : "", opt_query[0] ? opt_query + 1 : "");
        struct resp r;
        if (http_do("GET", path, "", &r, err, sizeof err) != 0) {
            fprintf(stderr, "bench-park: GET %s: %s\n", path, err);
            return 1;
        }
        char v[64];
        if (r.status != 200 ||
            !hdr_get(r.buf, r.hdr_len, "X-Consul-Index", v, sizeof v)) {
            fprintf(stderr, "bench-park: GET %s: status %d, %s\n", path,
                    r.status, "no X-Consul-Index or not 200");
            resp_free(&r);
            return 1;
        }
        name_index[k] = strtoull(v, NULL, 10);
        resp_free(&r);
    }
    uint64_t imin = UINT64_MAX, imax = 0;
    for (long k = 0; k < opt_names; k++) {
        if (name_index[k] < imin)
            imin = name_index[k];
        if (name_index[k] > imax)
            imax = name_index[k];
    }
    printf("index_fetch_ms=%.0f\nindex_min=%" PRIu64 "\nindex_max=%" PRIu64
           "\n",
           (double)(now_ns() - t_idx) / 1e6, imin, imax);

    long bq_before = agent_blocking_queries();
    long rss_before = proc_rss_kb(opt_pid);
    long fds_before = proc_fd_count(opt_pid);
    long agent_nofile = proc_nofile(opt_pid);
    printf("agent_nofile=%ld\nagent_fds_before=%ld\nbq_before=%ld\n"
           "rss_before_kb=%ld\nparked_asked=%ld\n",
           agent_nofile, fds_before, bq_before, rss_before, opt_n);
    /* Beyond its open-file limit the agent cannot accept: the rest wait in
     * the listen backlog looking parked, and nothing else (the write, the
     * stats) gets through. */
    long room = agent_nofile > 0 && fds_before >= 0
                    ? agent_nofile - fds_before - AGENT_FD_RESERVE
                    : -1;
    if (opt_cap && room > 0 && opt_n > room) {
        fprintf(stderr,
                "bench-park: the agent's open-file limit %ld (%ld in use) "
                "leaves room for %ld parked queries, not %ld: parking %ld\n",
                agent_nofile, fds_before, room, opt_n, room);
        opt_n = room;
    }
    printf("parked_capped=%ld\n", opt_n);

    long per_worker = nofile > 256 ? nofile - 128 : 128;
    int nw = (int)opt_workers;
    if (nw == 0) {
        nw = (int)((opt_n + per_worker - 1) / per_worker);
        if (nw < 2)
            nw = 2;
        if (nw > MAX_WORKERS)
            nw = MAX_WORKERS;
    }
    printf("client_nofile=%ld\nworkers=%d\nsources=%ld\n", nofile, nw,
           opt_srcs);

    /* 2. workers */
    slots = mmap(NULL, (size_t)opt_n * sizeof *slots,
                 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ctl = mmap(NULL, sizeof *ctl, PROT_READ | PROT_WRITE,
               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (slots == MAP_FAILED || ctl == MAP_FAILED) {
        perror("bench-park: mmap");
        return 1;
    }
    for (long i = 0; i < opt_n; i++) {
        slots[i].name = (uint32_t)(i % opt_names);
        slots[i].index = name_index[i % opt_names];
    }
    pid_t kids[MAX_WORKERS];
    int nkids = 0;
    int64_t t_park0 = now_ns();
    for (int w = 0; w < nw; w++) {
        pid_t p = fork();
        if (p < 0) {
            perror("bench-park: fork");
            break;
        }
        if (p == 0)
            worker(w, nw);
        kids[nkids++] = p;
    }

    /* 3. wait until every slot is past sending (bounded) */
    long cnt[S_FAILED + 1];
    int64_t limit = t_park0 + (opt_park_secs + 10) * 1000000000LL;
    int64_t last_print = 0;
    for (;;) {
        memset(cnt, 0, sizeof cnt);
        for (long i = 0; i < opt_n; i++)
            cnt[ld_state(&slots[i])]++;
        long pending = cnt[S_NEW] + cnt[S_CONNECTING] + cnt[S_SENDING];
        int64_t t = now_ns();
        if (t - last_print > 2000000000LL || pending == 0) {
            fprintf(stderr,
                    "bench-park: %ld waiting, %ld connecting/sending, %ld "
                    "answered, %ld closed, %ld failed\n",
                    cnt[S_WAITING], pending - cnt[S_NEW], cnt[S_DONE],
                    cnt[S_CLOSED], cnt[S_FAILED]);
            last_print = t;
        }
        if (pending == 0 || t > limit)
            break;
        if (!proc_alive(opt_pid))
            break;
        sleep_ms(50);
    }
    double park_secs = (double)(now_ns() - t_park0) / 1e9;
    long sent = cnt[S_WAITING];

    /* 4. confirm on the agent side (bounded): blocking_queries reaches the
     * count of our waiting requests, or stops moving for 3 s */
    long bq = agent_blocking_queries(), bq_prev = -2;
    int64_t t_stable = now_ns();
    int64_t t_lim = now_ns() + 30000000000LL;
    while (bq >= 0 && now_ns() < t_lim && proc_alive(opt_pid)) {
        long waiting = 0;
        for (long i = 0; i < opt_n; i++)
            waiting += ld_state(&slots[i]) == S_WAITING;
        if (bq - (bq_before > 0 ? bq_before : 0) >= waiting)
            break;
        if (bq != bq_prev)
            t_stable = now_ns();
        else if (now_ns() - t_stable > 3000000000LL)
            break;
        bq_prev = bq;
        sleep_ms(200);
        bq = agent_blocking_queries();
    }
    sleep_ms(1000);
    bool alive = proc_alive(opt_pid);
    long bq_parked = agent_blocking_queries();
    long rss_parked = proc_rss_kb(opt_pid);
    long fds_parked = proc_fd_count(opt_pid);
    memset(cnt, 0, sizeof cnt);
    for (long i = 0; i < opt_n; i++)
        cnt[ld_state(&slots[i])]++;
    long first_err = 0;
    for (long i = 0; i < opt_n && first_err == 0; i++)
        if (ld_state(&slots[i]) == S_FAILED || ld_state(&slots[i]) == S_CLOSED)
            first_err = slots[i].err;
    long worker_nofile = ctl->rlimit[0];
    printf("park_secs=%.1f\nsent=%ld\nworker_nofile=%ld\n"
           "parked_waiting=%ld\nearly_answered=%ld\nearly_closed=%ld\n"
           "connect_failed=%ld\nfirst_error=%s\nbq_parked=%ld\n"
           "rss_parked_kb=%ld\nagent_fds_parked=%ld\nagent_alive=%d\n",
           park_secs, sent, worker_nofile, cnt[S_WAITING], cnt[S_DONE],
           cnt[S_CLOSED], cnt[S_FAILED],
           first_err ? strerror((int)first_err) : "-", bq_parked,
           rss_parked, fds_parked, alive);
    /* status codes of early answers (a few kinds) */
    {
        int codes[8] = {0};
        long ccount[8] = {0};
        int nc = 0;
        long early_expect = 0;
        for (long i = 0; i < opt_n; i++) {
            if (ld_state(&slots[i]) != S_DONE)
                continue;
            int c = slots[i].status;
            int j;
            for (j = 0; j < nc && codes[j] != c; j++) {
            }
            if (j == nc && nc < 8)
                codes[nc++] = c;
            if (j < 8)
                ccount[j]++;
            early_expect += slots[i].index < slots[i].resp_index;
        }
        printf("early_codes=");
        for (int j = 0; j < nc; j++)
            printf("%s%d:%ld", j ? "," : "", codes[j], ccount[j]);
        printf("%s\nearly_index_advanced=%ld\n", nc ? "" : "-", early_expect);
    }

    /* snapshot of who was waiting at T0 */
    uint8_t *at_t0 = malloc((size_t)opt_n);
    if (at_t0 == NULL)
        return 1;
    for (long i = 0; i < opt_n; i++)
        at_t0[i] = ld_state(&slots[i]);

    /* 5. the write, at T0 */
    int wstatus = 0;
    double wms = -1;
    int64_t t0 = now_ns();
    if (alive) {
        struct resp r;
        int64_t t = now_ns();
        t0 = t;
        if (http_do(opt_wmethod, opt_wpath, opt_wbody, &r, err, sizeof err) ==
            0) {
            wstatus = r.status;
            if (r.status != 200)
                fprintf(stderr, "bench-park: write %s %s: %d %.200s\n",
                        opt_wmethod, opt_wpath, r.status, r.buf + r.hdr_len);
            resp_free(&r);
        } else {
            fprintf(stderr, "bench-park: write %s %s: %s\n", opt_wmethod,
                    opt_wpath, err);
        }
        wms = (double)(now_ns() - t) / 1e6;
    }
    printf("write=%s %s\nwrite_status=%d\nwrite_ms=%.2f\n", opt_wmethod,
           opt_wpath, wstatus, wms);

    /* 6. settle: the changed name's watchers should be in long before;
     * everyone else must still be parked at the end */
    sleep_ms(opt_settle_ms);
    long bq_after = agent_blocking_queries();
    bool alive_after = proc_alive(opt_pid);
    long rss_after = proc_rss_kb(opt_pid);

    long t_watch = 0, t_ans = 0, t_ans_ok = 0, t_closed = 0, t_still = 0;
    long o_watch = 0, o_ans = 0, o_closed = 0, o_still = 0;
    long t_idx_adv = 0, o_idx_adv = 0;
    int64_t *lat = malloc(sizeof(int64_t) * (size_t)opt_n);
    long nlat = 0;
    int64_t o_first = -1;
    long o_names_woken = 0;
    char *name_woken = calloc((size_t)opt_names, 1);
    if (lat == NULL || name_woken == NULL)
        return 1;
    for (long i = 0; i < opt_n; i++) {
        if (at_t0[i] != S_WAITING)
            continue;
        struct slot *s = &slots[i];
        uint8_t st = ld_state(s);
        bool target = (long)s->name == opt_changed;
        if (target) {
            t_watch++;
            if (st == S_DONE) {
                t_ans++;
                t_ans_ok += s->status == 200 && (opt_expect[0] == '\0' ||
                                                 s->expect);
                t_idx_adv += s->resp_index > s->index;
                lat[nlat++] = s->t_done - t0;
            } else if (st == S_CLOSED) {
                t_closed++;
            } else {
                t_still++;
            }
        } else {
            o_watch++;
            if (st == S_DONE) {
                o_ans++;
                o_idx_adv += s->resp_index > s->index;
                if (!name_woken[s->name]) {
                    name_woken[s->name] = 1;
                    o_names_woken++;
                }
                int64_t d = s->t_done - t0;
                if (o_first < 0 || d < o_first)
                    o_first = d;
            } else if (st == S_CLOSED) {
                o_closed++;
            } else {
                o_still++;
            }
        }
    }
    qsort(lat, (size_t)nlat, sizeof *lat, cmp_i64);
    name_of(opt_changed, name, sizeof name);
    printf("changed_name=%s\ntarget_watchers=%ld\ntarget_answered=%ld\n"
           "target_answered_ok=%ld\ntarget_index_advanced=%ld\n"
           "target_closed=%ld\ntarget_still_parked=%ld\n",
           name, t_watch, t_ans, t_ans_ok, t_idx_adv, t_closed, t_still);
    if (nlat > 0)
        printf("target_first_ms=%.2f\ntarget_p50_ms=%.2f\n"
               "target_last_ms=%.2f\n",
               (double)lat[0] / 1e6, (double)lat[nlat / 2] / 1e6,
               (double)lat[nlat - 1] / 1e6);
    else
        printf("target_first_ms=-\ntarget_p50_ms=-\ntarget_last_ms=-\n");
    printf("other_watchers=%ld\nother_answered=%ld\nother_index_advanced=%ld\n"
           "other_names_woken=%ld\nother_closed=%ld\nother_still_parked=%ld\n",
           o_watch, o_ans, o_idx_adv, o_names_woken, o_closed, o_still);
    if (o_first >= 0)
        printf("other_first_ms=%.2f\n", (double)o_first / 1e6);
    else
        printf("other_first_ms=-\n");
    printf("bq_after=%ld\nrss_after_write_kb=%ld\nagent_alive_after=%d\n",
           bq_after, rss_after, alive_after);

    /* 7. stop the workers (bounded), which closes every connection */
    __atomic_store_n(&ctl->exit, 1, __ATOMIC_RELEASE);
    int64_t t_end = now_ns() + 5000000000LL;
    int left = nkids;
    while (left > 0 && now_ns() < t_end) {
        pid_t p = waitpid(-1, NULL, WNOHANG);
        if (p > 0)
            left--;
        else if (p < 0)
            break;
        else
            sleep_ms(20);
    }
    for (int k = 0; k < nkids && left > 0; k++)
        if (kill(kids[k], SIGKILL) == 0)
            waitpid(kids[k], NULL, 0);
    free(lat);
    free(name_woken);
    free(at_t0);
    free(name_index);
    return 0;
}
