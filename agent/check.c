/*
 * check — the threshold state machine, the check lifecycle, and the TTL,
 * TCP and script runners (HTTP lives in check_http.c).
 *
 * Lifetime. A check owns two timers: `timer` (first-probe stagger, then
 * the interval, or the TTL) and `timeout` (the deadline of the probe in
 * flight). A probe in flight is a separate allocation (c->probe) pointing
 * back at its check. When the probe ends, or when the check is stopped or
 * the probe times out, the two are *detached*: the probe's back pointer
 * becomes NULL and the probe releases its own handles and memory on the
 * loop (a killed script is still reaped first). So check_stop never waits:
 * it detaches the probe, closes both timers, and the check's memory goes
 * in the second close callback. Since libuv runs close callbacks on a
 * later loop iteration, a `struct check *` stays readable for the whole
 * call stack that stopped it; code that calls out to the user callback
 * only re-checks c->stopped afterwards.
 *
 * Scheduling follows Consul's runner loop (agent/checks/check.go): first
 * probe after a random stagger, the next one `interval` after the previous
 * probe ENDED, never two at once.
 */
#include "check.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "check_internal.h"
#include "dlcurl.h"
#include "duration.h"
#include "log.h"

#define CHECK_LOG "check"
#define CHECK_OUTPUT_CAP (64u << 20) /* sanity cap on output_max_size */

/* ---- status ---------------------------------------------------------- */

const char *check_status_name(enum check_status st)
{
    switch (st) {
    case CHECK_PASSING:
        return "passing";
    case CHECK_WARNING:
        return "warning";
    case CHECK_CRITICAL:
        return "critical";
    }
    return "unknown";
}

int check_status_parse(const char *s, enum check_status *out)
{
    static const enum check_status all[] = {CHECK_PASSING, CHECK_WARNING,
                                            CHECK_CRITICAL};
    if (!s)
        return -EINVAL;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(s, check_status_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    }
    return -EINVAL;
}

/* ---- state machine --------------------------------------------------- */

void check_sm_init(struct check_sm *sm,
                   unsigned success_before_passing,
                   unsigned failures_before_warning,
                   unsigned failures_before_critical,
                   enum check_status initial)
{
    sm->success_before_passing = success_before_passing;
    sm->failures_before_critical = failures_before_critical;
    /* Consul: "Defaults to same value as failuresBeforeCritical if not
     * set." Without this a 0 would mean "warning at the first failure". */
    sm->failures_before_warning = failures_before_warning
                                      ? failures_before_warning
                                      : failures_before_critical;
    sm->successes = 0;
    sm->failures = 0;
    sm->status = initial;
}

bool check_sm_feed(struct check_sm *sm,
                   enum check_status result,
                   enum check_status *out)
{
    enum check_status st;

    if (result == CHECK_PASSING || result == CHECK_WARNING) {
        if (sm->successes < UINT_MAX)
            sm->successes++;
        sm->failures = 0;
        if (sm->successes < sm->success_before_passing)
            return false;
        st = result;
    } else {
        sm->successes = 0;
        if (sm->failures < UINT_MAX)
            sm->failures++;
        if (sm->failures >= sm->failures_before_critical)
            st = CHECK_CRITICAL;
        else if (sm->failures >= sm->failures_before_warning)
            st = CHECK_WARNING;
        else
            return false;
    }
    sm->status = st;
    if (out)
        *out = st;
    return true;
}

/* ---- small helpers --------------------------------------------------- */

char *check__printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

int check__ring_init(struct check__ring *r, size_t size)
{
    r->size = size ? size : 1;
    r->total = 0;
    r->buf = malloc(r->size);
    return r->buf ? 0 : -ENOMEM;
}

void check__ring_write(struct check__ring *r, const char *p, size_t n)
{
    uint64_t before = r->total;
    r->total += n;
    if (n > r->size) {
        /* Only the last `size` bytes can survive. */
        before += n - r->size;
        p += n - r->size;
        n = r->size;
    }
    size_t pos = (size_t)(before % r->size);
    size_t first = r->size - pos < n ? r->size - pos : n;
    memcpy(r->buf + pos, p, first);
    memcpy(r->buf, p + first, n - first);
}

char *check__ring_string(const struct check__ring *r)
{
    size_t len = r->total < r->size ? (size_t)r->total : r->size;
    char *s = malloc(len + 1);
    if (!s)
        return NULL;
    if (r->total <= r->size) {
        memcpy(s, r->buf, len);
    } else {
        size_t pos = (size_t)(r->total % r->size);
        memcpy(s, r->buf + pos, r->size - pos);
        memcpy(s + (r->size - pos), r->buf, pos);
    }
    s[len] = '\0';
    return s;
}

void check__ring_free(struct check__ring *r)
{
    free(r->buf);
    r->buf = NULL;
}

static uint64_t check_env_random(struct check_env *env)
{
    /* xorshift64*: plenty for spreading first probes. */
    uint64_t x = env->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    env->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static char *check_strdup0(const char *s)
{
    return strdup(s ? s : "");
}

/* ---- definitions ----------------------------------------------------- */

void check_def_init(struct check_def *def, enum check_kind kind)
{
    memset(def, 0, sizeof *def);
    def->kind = kind;
    def->status = CHECK_CRITICAL;
}

static int check_def_fail(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    return -EINVAL;
}

int check_def_validate(const struct check_def *def, char *err, size_t errlen)
{
    if (!def)
        return check_def_fail(err, errlen, "no check definition");
    if (def->status != CHECK_PASSING && def->status != CHECK_WARNING &&
        def->status != CHECK_CRITICAL)
        return check_def_fail(err, errlen, "bad initial status");
    switch (def->kind) {
    case CHECK_KIND_TTL:
        if (def->ttl_ms == 0)
            return check_def_fail(err, errlen, "TTL must be > 0");
        return 0;
    case CHECK_KIND_HTTP:
        if (!def->http || !*def->http)
            return check_def_fail(err, errlen, "HTTP check needs a URL");
        if (def->n_headers && !def->headers)
            return check_def_fail(err, errlen, "headers missing");
        for (size_t i = 0; i < def->n_headers; i++)
            if (!def->headers[i].name)
                return check_def_fail(err, errlen, "header without a name");
        return 0;
    case CHECK_KIND_TCP:
        if (!def->tcp || !*def->tcp)
            return check_def_fail(err, errlen, "TCP check needs host:port");
        return 0;
    case CHECK_KIND_SCRIPT:
        if (!def->argv || !def->argv[0] || !*def->argv[0])
            return check_def_fail(err, errlen, "script check needs args");
        return 0;
    }
    return check_def_fail(err, errlen, "unknown check kind");
}

/* ---- reporting ------------------------------------------------------- */

/* Make (st, output) visible and tell the owner, unless nothing changed. */
static void check_report(struct check *c,
                         enum check_status st,
                         const char *output)
{
    if (c->stopped)
        return;
    if (!output)
        output = "";
    if (st == c->status && strcmp(output, c->output) == 0)
        return;
    char *copy = strdup(output);
    if (copy) {
        free(c->output);
        c->output = copy;
    } else {
        log_error(CHECK_LOG, "check %s: out of memory keeping output", c->id);
    }
    if (st != c->status) {
        if (st == CHECK_PASSING)
            log_info(CHECK_LOG, "check %s is now passing", c->id);
        else
            log_warn(CHECK_LOG, "check %s is now %s", c->id,
                     check_status_name(st));
    }
    c->status = st;
    if (c->cb)
        c->cb(c->data, st, c->output);
}

void check__result(struct check *c,
                   enum check_status result,
                   const char *output)
{
    enum check_status st;

    if (c->stopped)
        return;
    if (!check_sm_feed(&c->sm, result, &st)) {
        log_debug(CHECK_LOG,
                  "check %s: %s result held back by threshold "
                  "(successes %u, failures %u)",
                  c->id, check_status_name(result), c->sm.successes,
                  c->sm.failures);
        return;
    }
    check_report(c, st, output);
}

static void check_on_timer(uv_timer_t *t);

void check__probe_done(struct check *c)
{
    c->probe = NULL;
    if (c->stopped)
        return;
    uv_timer_stop(&c->timeout);
    uv_timer_start(&c->timer, check_on_timer, c->interval_ms, 0);
}

/* ---- TTL ------------------------------------------------------------- */

static void check_ttl_expire(struct check *c)
{
    /* Consul's CheckTTL.getExpiredOutput. The timer is one-shot: only an
     * update re-arms it. */
    char *out = NULL;
    if (c->ttl_last && *c->ttl_last)
        out = check__printf(
            "TTL expired (last output before timeout "
            "follows): %s",
            c->ttl_last);
    log_warn(CHECK_LOG, "check %s missed TTL, is now critical", c->id);
    check_report(c, CHECK_CRITICAL, out ? out : "TTL expired");
    free(out);
}

int check_ttl_update(struct check *c, enum check_status st, const char *output)
{
    if (!c || c->stopped || c->kind != CHECK_KIND_TTL)
        return -EINVAL;
    if (st != CHECK_PASSING && st != CHECK_WARNING && st != CHECK_CRITICAL)
        return -EINVAL;
    if (!output)
        output = "";
    size_t total = strlen(output);
    char *out;
    if (total > c->output_max)
        out = check__printf("%.*s ... (captured %zu of %zu bytes)",
                            (int)c->output_max, output, c->output_max, total);
    else
        out = strdup(output);
    if (!out)
        return -ENOMEM;
    free(c->ttl_last);
    c->ttl_last = out;
    /* Timers count from the loop's cached "now", which may be stale in a
     * long iteration; the TTL is from this moment. */
    uv_update_time(c->loop);
    uv_timer_start(&c->timer, check_on_timer, c->ttl_ms, 0);
    check_report(c, st, out);
    return 0;
}

/* ---- TCP ------------------------------------------------------------- */

/*
 * A TCP probe resolves (unless the host is a literal) and then tries each
 * address in turn, like Go's net.Dialer, until one connects, all failed,
 * or the check's timeout fires. Each attempt has its own uv_tcp_t (a
 * failed handle cannot be reused); the probe is freed once it is detached
 * and its getaddrinfo request and every attempt are gone.
 */
struct tcp_probe
{
    struct check *c; /* NULL once detached */
    uv_loop_t *loop;
    uv_getaddrinfo_t gai;
    struct addrinfo *ai;   /* resolved list (uv_freeaddrinfo) */
    struct addrinfo *next; /* next address to try */
    struct tcp_attempt *cur;
    unsigned refs; /* pending getaddrinfo + attempts not closed */
    bool resolving;
    char *host; /* NULL = local system (empty host) */
    char *port;
    char first_err[256]; /* Go reports the first failure */
};

struct tcp_attempt
{
    uv_tcp_t tcp;
    uv_connect_t req;
    struct tcp_probe *p;
    char addr[INET6_ADDRSTRLEN + 16];
};

static void tcp_probe_unref(struct tcp_probe *p)
{
    if (--p->refs > 0 || p->c)
        return;
    if (p->ai)
        uv_freeaddrinfo(p->ai);
    free(p->host);
    free(p->port);
    free(p);
}

/* End the probe with a result: detach, schedule the next, report. */
static void tcp_probe_finish(struct tcp_probe *p,
                             enum check_status st,
                             const char *output)
{
    struct check *c = p->c;
    /* Callers hold a reference (the begin call, a pending getaddrinfo or
     * an attempt not yet closed), so p outlives this function. */
    assert(p->refs > 0);
    p->c = NULL;
    p->refs++; /* hold p while reporting */
    check__probe_done(c);
    check__result(c, st, output);
    tcp_probe_unref(p);
}

static void tcp_attempt_on_close(uv_handle_t *h)
{
    struct tcp_attempt *a = h->data;
    struct tcp_probe *p = a->p;
    free(a);
    tcp_probe_unref(p);
}

static void tcp_format_addr(const struct sockaddr *sa, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        uv_ip6_name(s6, ip, sizeof ip);
        port = ntohs(s6->sin6_port);
        snprintf(buf, len, "[%s]:%d", ip, port);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        uv_ip4_name(s4, ip, sizeof ip);
        port = ntohs(s4->sin_port);
        snprintf(buf, len, "%s:%d", ip, port);
    }
}

static void tcp_try_next(struct tcp_probe *p);

static void tcp_attempt_failed(struct tcp_probe *p, const char *addr, int err)
{
    char msg[128];
    if (!p->first_err[0])
        snprintf(p->first_err, sizeof p->first_err, "dial tcp %s: connect: %s",
                 addr, uv_strerror_r(err, msg, sizeof msg));
    tcp_try_next(p);
}

static void tcp_on_connect(uv_connect_t *req, int status)
{
    struct tcp_attempt *a = req->data;
    struct tcp_probe *p = a->p;

    if (p->cur == a)
        p->cur = NULL;
    /* Detaching closed it already (we get UV_ECANCELED then). */
    if (!uv_is_closing((uv_handle_t *)&a->tcp))
        uv_close((uv_handle_t *)&a->tcp, tcp_attempt_on_close);
    if (!p->c)
        return; /* detached: timed out or stopped */
    if (status == 0) {
        char *out = check__printf("TCP connect %s: Success", p->c->tcp);
        tcp_probe_finish(p, CHECK_PASSING, out);
        free(out);
        return;
    }
    tcp_attempt_failed(p, a->addr, status);
}

static void tcp_connect_to(struct tcp_probe *p, const struct sockaddr *sa)
{
    struct tcp_attempt *a = calloc(1, sizeof *a);
    if (!a) {
        tcp_probe_finish(p, CHECK_CRITICAL, "out of memory");
        return;
    }
    a->p = p;
    a->tcp.data = a;
    a->req.data = a;
    tcp_format_addr(sa, a->addr, sizeof a->addr);
    int rc = uv_tcp_init(p->loop, &a->tcp);
    if (rc) {
        free(a);
        tcp_attempt_failed(p, "", rc);
        return;
    }
    p->refs++;
    rc = uv_tcp_connect(&a->req, &a->tcp, sa, tcp_on_connect);
    if (rc) {
        char addr[sizeof a->addr];
        memcpy(addr, a->addr, sizeof addr);
        uv_close((uv_handle_t *)&a->tcp, tcp_attempt_on_close);
        tcp_attempt_failed(p, addr, rc);
        return;
    }
    p->cur = a;
}

static void tcp_try_next(struct tcp_probe *p)
{
    struct addrinfo *ai = p->next;
    while (ai && ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
        ai = ai->ai_next;
    if (!ai) {
        tcp_probe_finish(
            p, CHECK_CRITICAL,
            p->first_err[0] ? p->first_err : "dial tcp: no suitable address");
        return;
    }
    p->next = ai->ai_next;
    tcp_connect_to(p, ai->ai_addr);
}

static void tcp_on_resolved(uv_getaddrinfo_t *req,
                            int status,
                            struct addrinfo *res)
{
    struct tcp_probe *p = req->data;
    p->resolving = false;
    p->ai = res;
    p->next = res;
    if (p->c) {
        if (status == 0) {
            tcp_try_next(p);
        } else {
            char msg[128];
            const char *why = status == UV_EAI_NONAME || status == UV_EAI_NODATA
                                  ? "no such host" /* Go's wording */
                                  : uv_strerror_r(status, msg, sizeof msg);
            char *out = check__printf("dial tcp: lookup %s: %s",
                                      p->host ? p->host : "", why);
            tcp_probe_finish(p, CHECK_CRITICAL, out);
            free(out);
        }
    }
    tcp_probe_unref(p);
}

/* Split "host:port" like Go's net.SplitHostPort. Returns NULL or a Go-style
 * reason. */
static const char *tcp_split(const char *s, char **host, char **port)
{
    const char *colon, *h, *hend;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close)
            return "missing ']' in address";
        if (close[1] == '\0')
            return "missing port in address";
        if (close[1] != ':')
            return "missing port in address";
        h = s + 1;
        hend = close;
        colon = close + 1;
        if (strchr(colon + 1, ':') ||
            memchr(s + 1, '[', (size_t)(close - s - 1)))
            return "too many colons in address";
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return "missing port in address";
        if (memchr(s, ':', (size_t)(colon - s)))
            return "too many colons in address";
        if (strchr(s, '[') || strchr(s, ']'))
            return "unexpected '[' or ']' in address";
        h = s;
        hend = colon;
    }
    *host = strndup(h, (size_t)(hend - h));
    *port = strdup(colon + 1);
    if (!*host || !*port) {
        free(*host);
        free(*port);
        *host = *port = NULL;
        return "out of memory";
    }
    return NULL;
}

/* Numeric port 0..65535; -1 if not all digits, -2 if out of range. */
static int tcp_port_number(const char *s)
{
    long v = 0;
    if (!*s)
        return 0; /* Go dials port 0 */
    for (const char *q = s; *q; q++) {
        if (*q < '0' || *q > '9')
            return -1;
        v = v * 10 + (*q - '0');
        if (v > 65535)
            return -2;
    }
    return (int)v;
}

static void tcp_begin(struct check *c)
{
    struct tcp_probe *p = calloc(1, sizeof *p);
    if (!p) {
        check__probe_done(c);
        check__result(c, CHECK_CRITICAL, "out of memory");
        return;
    }
    p->c = c;
    p->loop = c->loop;
    p->refs = 1; /* the begin call itself */
    p->gai.data = p;
    c->probe = p;

    const char *why = tcp_split(c->tcp, &p->host, &p->port);
    int port = why ? 0 : tcp_port_number(p->port);
    if (!why && port == -2)
        why = "invalid port";
    if (why) {
        char *out = check__printf("dial tcp: address %s: %s", c->tcp, why);
        tcp_probe_finish(p, CHECK_CRITICAL, out);
        free(out);
        tcp_probe_unref(p);
        return;
    }

    uv_timer_start(&c->timeout, check_on_timer, c->timeout_ms, 0);

    union
    {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } addr;
    if (port >= 0 && p->host[0] &&
        (uv_ip4_addr(p->host, port, &addr.in4) == 0 ||
         uv_ip6_addr(p->host, port, &addr.in6) == 0)) {
        tcp_connect_to(p, &addr.sa);
    } else {
        struct addrinfo hints;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_protocol = IPPROTO_TCP;
        /* An empty host means the local system, as in Go: getaddrinfo
         * without AI_PASSIVE gives the loopback addresses. */
        const char *node = p->host[0] ? p->host : NULL;
        const char *svc = p->port[0] ? p->port : "0";
        p->refs++;
        p->resolving = true;
        int rc = uv_getaddrinfo(c->loop, &p->gai, tcp_on_resolved, node, svc,
                                &hints);
        if (rc) {
            p->refs--;
            p->resolving = false;
            char msg[128];
            char *out = check__printf("dial tcp: lookup %s: %s", p->host,
                                      uv_strerror_r(rc, msg, sizeof msg));
            tcp_probe_finish(p, CHECK_CRITICAL, out);
            free(out);
        }
    }
    tcp_probe_unref(p);
}

/* Detach: the probe cleans up behind itself. */
static void tcp_detach(struct tcp_probe *p)
{
    p->c = NULL;
    if (p->resolving)
        uv_cancel((uv_req_t *)&p->gai); /* its callback still runs */
    if (p->cur) {
        /* Closing the handle cancels the connect (callback with
         * UV_ECANCELED, then the close callback). */
        uv_close((uv_handle_t *)&p->cur->tcp, tcp_attempt_on_close);
        p->cur = NULL;
    }
    p->refs++;
    tcp_probe_unref(p);
}

static void tcp_timeout(struct check *c)
{
    struct tcp_probe *p = c->probe;
    char *out;
    if (p->resolving)
        out = check__printf("dial tcp: lookup %s: i/o timeout", p->host);
    else if (p->cur)
        out = check__printf("dial tcp %s: i/o timeout", p->cur->addr);
    else
        out = check__printf("dial tcp %s: i/o timeout", c->tcp);
    tcp_detach(p);
    check__probe_done(c);
    check__result(c, CHECK_CRITICAL, out);
    free(out);
}

/* ---- script ---------------------------------------------------------- */

/*
 * A script probe: argv spawned without a shell, in a new session (so a
 * process group of its own, like Consul's Setpgid: the timeout kills the
 * whole tree). stdout and stderr are one pipe, read to the end into a ring
 * that keeps the last output_max bytes: we always drain it, so the child
 * never blocks on a full pipe. The probe ends when the child has exited
 * AND the pipe is at EOF (Go's cmd.Wait also waits for the copy), or at
 * the timeout: SIGKILL to the group, report critical, then wait for the
 * exit before scheduling the next run (Consul: "so we never start another
 * instance concurrently").
 */
struct script_probe
{
    struct check *c; /* NULL once detached */
    uv_process_t proc;
    uv_pipe_t out;
    int pid;
    int open; /* handles not yet closed */
    bool exited;
    bool eof; /* pipe closing or closed */
    bool timed_out;
    int64_t exit_status;
    int term_signal;
    struct check__ring ring;
    char rbuf[16384];
};

static void script_on_close(uv_handle_t *h)
{
    struct script_probe *p = h->data;
    if (--p->open > 0)
        return;
    check__ring_free(&p->ring);
    free(p);
}

static void script_close_pipe(struct script_probe *p)
{
    if (p->eof)
        return;
    p->eof = true;
    uv_close((uv_handle_t *)&p->out, script_on_close);
}

/* Consul's truncateAndLogOutput. */
static char *script_output(const struct script_probe *p)
{
    char *s = check__ring_string(&p->ring);
    if (!s || p->ring.total <= p->ring.size)
        return s;
    char *t = check__printf("Captured %zu of %llu bytes\n...\n%s", p->ring.size,
                            (unsigned long long)p->ring.total, s);
    free(s);
    return t;
}

static void script_maybe_finish(struct script_probe *p)
{
    struct check *c = p->c;
    if (!c || !p->exited)
        return;
    if (p->timed_out) {
        /* Already reported at the timeout; a grandchild that left the
         * group may still hold the pipe: stop listening. */
        script_close_pipe(p);
        p->c = NULL;
        check__probe_done(c);
        return;
    }
    if (!p->eof)
        return;
    enum check_status st = CHECK_CRITICAL;
    if (p->term_signal == 0 && p->exit_status == 0)
        st = CHECK_PASSING;
    else if (p->term_signal == 0 && p->exit_status == 1)
        st = CHECK_WARNING;
    char *out = script_output(p);
    log_debug(CHECK_LOG, "check %s: script exit %lld signal %d", c->id,
              (long long)p->exit_status, p->term_signal);
    p->c = NULL;
    check__probe_done(c);
    check__result(c, st, out);
    free(out);
}

static void script_on_exit(uv_process_t *proc,
                           int64_t exit_status,
                           int term_signal)
{
    struct script_probe *p = proc->data;
    p->exited = true;
    p->exit_status = exit_status;
    p->term_signal = term_signal;
    uv_close((uv_handle_t *)&p->proc, script_on_close);
    if (!p->c) {
        /* Detached (stopped) before the exit: nothing to report. */
        script_close_pipe(p);
        return;
    }
    script_maybe_finish(p);
}

static void script_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct script_probe *p = h->data;
    (void)hint;
    *buf = uv_buf_init(p->rbuf, sizeof p->rbuf);
}

static void script_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct script_probe *p = s->data;
    if (n > 0) {
        check__ring_write(&p->ring, buf->base, (size_t)n);
        return;
    }
    if (n == 0)
        return; /* EAGAIN */
    /* EOF, or an error: either way the output is complete. */
    script_close_pipe(p);
    script_maybe_finish(p);
}

static void script_begin(struct check *c)
{
    struct script_probe *p = calloc(1, sizeof *p);
    if (!p || check__ring_init(&p->ring, c->output_max)) {
        free(p);
        check__probe_done(c);
        check__result(c, CHECK_CRITICAL, "out of memory");
        return;
    }
    p->proc.data = p;
    p->out.data = p;

    uv_file fds[2];
    int rc = uv_pipe(fds, UV_NONBLOCK_PIPE, 0);
    if (rc) {
        char msg[128];
        char *out = check__printf("failed to create pipe: %s",
                                  uv_strerror_r(rc, msg, sizeof msg));
        check__ring_free(&p->ring);
        free(p);
        check__probe_done(c);
        check__result(c, CHECK_CRITICAL, out);
        free(out);
        return;
    }
    uv_pipe_init(c->loop, &p->out, 0);
    p->open = 1;
    rc = uv_pipe_open(&p->out, fds[0]);
    if (rc) {
        close(fds[0]);
        close(fds[1]);
        p->eof = true;
        uv_close((uv_handle_t *)&p->out, script_on_close);
        char msg[128];
        char *out = check__printf("failed to open pipe: %s",
                                  uv_strerror_r(rc, msg, sizeof msg));
        check__probe_done(c);
        check__result(c, CHECK_CRITICAL, out);
        free(out);
        return;
    }

    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_IGNORE; /* /dev/null, as Go's nil Stdin */
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = fds[1];
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = fds[1];
    uv_process_options_t opt;
    memset(&opt, 0, sizeof opt);
    opt.exit_cb = script_on_exit;
    opt.file = c->argv[0];
    opt.args = c->argv;
    opt.stdio = stdio;
    opt.stdio_count = 3;
    opt.flags = UV_PROCESS_DETACHED; /* setsid(): own process group */
    rc = uv_spawn(c->loop, &p->proc, &opt);
    close(fds[1]); /* the child's end; EOF comes when the child's close */
    p->open++;     /* the process handle is initialised even on failure */
    if (rc) {
        p->exited = true;
        uv_close((uv_handle_t *)&p->proc, script_on_close);
        script_close_pipe(p);
        char msg[128];
        char *out;
        uv_strerror_r(rc, msg, sizeof msg);
        if (!strchr(c->argv[0], '/') && (rc == UV_ENOENT || rc == UV_EACCES))
            out = check__printf(
                "exec: \"%s\": executable file not found "
                "in $PATH",
                c->argv[0]);
        else
            out = check__printf("fork/exec %s: %s", c->argv[0], msg);
        log_error(CHECK_LOG, "check %s failed to invoke: %s", c->id,
                  out ? out : msg);
        check__probe_done(c);
        check__result(c, CHECK_CRITICAL, out);
        free(out);
        return;
    }
    p->pid = p->proc.pid;
    p->c = c;
    c->probe = p;
    rc = uv_read_start((uv_stream_t *)&p->out, script_on_alloc, script_on_read);
    if (rc)
        script_close_pipe(p); /* finish on exit alone */
    uv_timer_start(&c->timeout, check_on_timer, c->timeout_ms, 0);
}

static void script_kill(struct script_probe *p)
{
    /* The child called setsid(), so its pid is its process group id, and
     * the group lives on while any member does. */
    if (p->pid > 0)
        uv_kill(-p->pid, SIGKILL);
}

static void script_detach(struct script_probe *p)
{
    p->c = NULL;
    if (!p->exited)
        script_kill(p); /* reaped by script_on_exit, which closes it */
    script_close_pipe(p);
}

static void script_timeout(struct check *c)
{
    struct script_probe *p = c->probe;
    p->timed_out = true;
    script_kill(p);

    char dur[32];
    duration_format((int64_t)c->timeout_ms * 1000000, dur, sizeof dur);
    char *cap = script_output(p);
    char *msg;
    if (cap && *cap)
        msg = check__printf("Timed out (%s) running check\n\n%s", dur, cap);
    else
        msg = check__printf("Timed out (%s) running check", dur);
    free(cap);
    log_warn(CHECK_LOG, "check %s: timed out (%s) running check", c->id, dur);
    check__result(c, CHECK_CRITICAL, msg);
    free(msg);
    /* The next run is scheduled when the killed child has been reaped
     * (unless the callback stopped the check, which detached p). */
    if (c->probe == p)
        script_maybe_finish(p);
}

/* ---- lifecycle ------------------------------------------------------- */

static void check_on_timer(uv_timer_t *t)
{
    struct check *c = t->data;

    if (c->stopped)
        return;
    if (t == &c->timeout) {
        if (!c->probe)
            return;
        if (c->kind == CHECK_KIND_TCP)
            tcp_timeout(c);
        else if (c->kind == CHECK_KIND_SCRIPT)
            script_timeout(c);
        return;
    }
    switch (c->kind) {
    case CHECK_KIND_TTL:
        check_ttl_expire(c);
        break;
    case CHECK_KIND_HTTP:
        check__http_begin(c);
        break;
    case CHECK_KIND_TCP:
        tcp_begin(c);
        break;
    case CHECK_KIND_SCRIPT:
        script_begin(c);
        break;
    }
}

static void check_free(struct check *c)
{
    free(c->id);
    free(c->output);
    free(c->ttl_last);
    free(c->http);
    free(c->method);
    free(c->body);
    if (c->hdrs) /* only made once libcurl is loaded */
        dlcurl->slist_free_all(c->hdrs);
    free(c->hdr_error);
    free(c->curl_error);
    free(c->tcp);
    if (c->argv) {
        for (char **a = c->argv; *a; a++)
            free(*a);
        free(c->argv);
    }
    free(c);
}

static void check_on_close(uv_handle_t *h)
{
    struct check *c = h->data;
    if (--c->open_handles == 0)
        check_free(c);
}

struct check *check_start(struct check_env *env,
                          const struct check_def *def,
                          check_update_fn cb,
                          void *data)
{
    char err[128];
    if (!env || check_def_validate(def, err, sizeof err)) {
        log_error(CHECK_LOG, "check %s: %s", def && def->id ? def->id : "?",
                  env ? err : "no environment");
        return NULL;
    }

    struct check *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->env = env;
    c->loop = env->loop;
    c->kind = def->kind;
    c->cb = cb;
    c->data = data;
    c->status = def->status;
    check_sm_init(&c->sm, def->success_before_passing,
                  def->failures_before_warning, def->failures_before_critical,
                  def->status);
    c->interval_ms = def->interval_ms < env->min_interval_ms
                         ? env->min_interval_ms
                         : def->interval_ms;
    c->timeout_ms =
        def->timeout_ms ? def->timeout_ms : CHECK_DEFAULT_TIMEOUT_MS;
    c->ttl_ms = def->ttl_ms;
    c->output_max =
        def->output_max_size ? def->output_max_size : CHECK_DEFAULT_OUTPUT_MAX;
    if (c->output_max > CHECK_OUTPUT_CAP)
        c->output_max = CHECK_OUTPUT_CAP;

    c->id = strdup(def->id && *def->id ? def->id : "(unnamed)");
    c->output = check_strdup0(def->output);
    if (!c->id || !c->output)
        goto err_after_alloc;
    switch (def->kind) {
    case CHECK_KIND_TTL:
        break;
    case CHECK_KIND_HTTP:
        c->http = strdup(def->http);
        c->method = strdup(def->method && *def->method ? def->method : "GET");
        c->body = def->body && *def->body ? strdup(def->body) : NULL;
        c->tls_skip_verify = def->tls_skip_verify;
        c->disable_redirects = def->disable_redirects;
        if (!c->http || !c->method || (def->body && *def->body && !c->body))
            goto err_after_alloc;
        if (check__http_prepare(c, def))
            goto err_after_alloc;
        break;
    case CHECK_KIND_TCP:
        c->tcp = strdup(def->tcp);
        if (!c->tcp)
            goto err_after_alloc;
        break;
    case CHECK_KIND_SCRIPT: {
        size_t n = 0;
        while (def->argv[n])
            n++;
        c->argv = calloc(n + 1, sizeof *c->argv);
        if (!c->argv)
            goto err_after_alloc;
        for (size_t i = 0; i < n; i++)
            if (!(c->argv[i] = strdup(def->argv[i])))
                goto err_after_alloc;
        break;
    }
    }

    uv_timer_init(c->loop, &c->timer);
    uv_timer_init(c->loop, &c->timeout);
    c->timer.data = c;
    c->timeout.data = c;
    c->open_handles = 2;
    env->n_checks++;

    uv_update_time(c->loop); /* may be called outside the loop's run */
    if (c->kind == CHECK_KIND_TTL) {
        uv_timer_start(&c->timer, check_on_timer, c->ttl_ms, 0);
    } else {
        /* Consul: lib.RandomStagger(interval) before the first probe. */
        uint64_t span = c->interval_ms < env->max_stagger_ms
                            ? c->interval_ms
                            : env->max_stagger_ms;
        uint64_t delay = span ? check_env_random(env) % (span + 1) : 0;
        uv_timer_start(&c->timer, check_on_timer, delay, 0);
    }
    return c;

err_after_alloc:
    check_free(c);
    return NULL;
}

void check_stop(struct check *c)
{
    if (!c)
        return;
    if (c->stopped) {
        log_error(CHECK_LOG, "check %s stopped twice", c->id);
        return;
    }
    c->stopped = true;
    c->cb = NULL;
    if (c->probe) {
        switch (c->kind) {
        case CHECK_KIND_HTTP:
            check__http_abort(c);
            break;
        case CHECK_KIND_TCP:
            tcp_detach(c->probe);
            break;
        case CHECK_KIND_SCRIPT:
            script_detach(c->probe);
            break;
        case CHECK_KIND_TTL:
            break;
        }
        c->probe = NULL;
    }
    c->env->n_checks--;
    c->env = NULL;
    uv_close((uv_handle_t *)&c->timer, check_on_close);
    uv_close((uv_handle_t *)&c->timeout, check_on_close);
}

enum check_status check_get_status(const struct check *c)
{
    return c->status;
}

const char *check_get_output(const struct check *c)
{
    return c->output;
}

/* ---- environment ----------------------------------------------------- */

struct check_env *check_env_new(uv_loop_t *loop)
{
    struct check_env *env = calloc(1, sizeof *env);
    if (!env)
        return NULL;
    env->loop = loop;
    env->min_interval_ms = CHECK_MIN_INTERVAL_MS;
    env->max_stagger_ms = 1000;
    env->rng =
        uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)env;
    if (!env->rng)
        env->rng = 0x9E3779B97F4A7C15ULL;
    return env;
}

void check_env_set_min_interval(struct check_env *env, uint64_t ms)
{
    env->min_interval_ms = ms;
}

void check_env_set_max_stagger(struct check_env *env, uint64_t max_ms)
{
    env->max_stagger_ms = max_ms;
}

void check_env_free(struct check_env *env)
{
    if (!env)
        return;
    if (env->n_checks) {
        /* A caller bug; leaking beats the use-after-free the running
         * checks would commit. */
        log_error(CHECK_LOG,
                  "check_env_free with %u checks running: "
                  "env leaked",
                  env->n_checks);
        return;
    }
    check__env_free(env);
}
