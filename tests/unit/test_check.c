/* Unit tests for agent/check*.c: Consul's threshold state machine (every
 * threshold combination), then the real runners on a real libuv loop: a
 * tiny HTTP server on 127.0.0.1 whose answers the test flips, TCP against a
 * listener the test closes, TTL expiry and refresh, scripts via /bin/sh,
 * timeouts that kill, output capture, and check_stop leaving nothing
 * behind (uv_loop_close must succeed after the loop drains). Every loop
 * run is bounded by a watchdog timer. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "check.h"
#include "log.h"

/* ======================================================================
 * State machine
 * ====================================================================== */

/* Feed one result, expect an update to `want` (or none when want < 0). */
static void feed(struct check_sm *sm, enum check_status r, int want)
{
    enum check_status out = (enum check_status)99;
    bool upd = check_sm_feed(sm, r, &out);
    if (want < 0) {
        assert_false(upd);
        assert_int_equal(out, 99); /* untouched */
    } else {
        assert_true(upd);
        assert_int_equal(out, want);
        assert_int_equal(sm->status, want);
    }
}

#define P CHECK_PASSING
#define W CHECK_WARNING
#define C CHECK_CRITICAL
#define HOLD (-1)

static void sm_defaults_update_on_every_result(void **state)
{
    (void)state;
    struct check_sm sm;
    check_sm_init(&sm, 0, 0, 0, C);
    assert_int_equal(sm.status, C);
    feed(&sm, P, P);
    feed(&sm, P, P); /* same status still updates (fresh output) */
    feed(&sm, W, W);
    feed(&sm, C, C);
    feed(&sm, C, C);
    feed(&sm, P, P);
}

static void sm_success_before_passing_needs_consecutive_successes(void **state)
{
    (void)state;
    struct check_sm sm;
    check_sm_init(&sm, 3, 0, 0, C);
    feed(&sm, P, HOLD);
    feed(&sm, P, HOLD);
    assert_int_equal(sm.successes, 2);
    assert_int_equal(sm.status, C);
    feed(&sm, C, C); /* resets successes */
    assert_int_equal(sm.successes, 0);
    feed(&sm, P, HOLD);
    feed(&sm, P, HOLD);
    feed(&sm, P, P);
    feed(&sm, P, P); /* stays above the threshold */
    assert_int_equal(sm.successes, 4);
}

static void sm_warning_results_count_as_successes(void **state)
{
    (void)state;
    struct check_sm sm;
    check_sm_init(&sm, 2, 0, 0, C);
    feed(&sm, W, HOLD);
    feed(&sm, P, P); /* second success, reported as its own result */
    feed(&sm, W, W);
    check_sm_init(&sm, 2, 0, 0, C);
    feed(&sm, P, HOLD);
    feed(&sm, W, W);
}

static void sm_failures_before_critical_alone_skips_warning(void **state)
{
    (void)state;
    struct check_sm sm;
    /* FailuresBeforeWarning unset defaults to FailuresBeforeCritical, so
     * nothing shows until the third failure, then critical. */
    check_sm_init(&sm, 0, 0, 3, P);
    assert_int_equal(sm.failures_before_warning, 3);
    feed(&sm, C, HOLD);
    feed(&sm, C, HOLD);
    assert_int_equal(sm.status, P);
    feed(&sm, C, C);
    feed(&sm, C, C);
    assert_int_equal(sm.failures, 4);
}

static void sm_warning_threshold_below_critical_shows_warning_first(
    void **state)
{
    (void)state;
    struct check_sm sm;
    check_sm_init(&sm, 0, 1, 3, P);
    feed(&sm, C, W); /* critical result, shown as warning */
    feed(&sm, C, W);
    feed(&sm, C, C);
    check_sm_init(&sm, 0, 2, 4, P);
    feed(&sm, C, HOLD);
    feed(&sm, C, W);
    feed(&sm, C, W);
    feed(&sm, C, C);
}

static void sm_warning_threshold_above_critical_never_warns(void **state)
{
    (void)state;
    struct check_sm sm;
    check_sm_init(&sm, 0, 5, 2, P);
    feed(&sm, C, HOLD);
    feed(&sm, C, C);
    check_sm_init(&sm, 0, 2, 2, P);
    feed(&sm, C, HOLD);
    feed(&sm, C, C);
}

static void sm_success_resets_failure_count(void **state)
{
    (void)state;
    struct check_sm sm;
    check_sm_init(&sm, 0, 0, 2, P);
    feed(&sm, C, HOLD);
    assert_int_equal(sm.failures, 1);
    feed(&sm, P, P);
    assert_int_equal(sm.failures, 0);
    feed(&sm, C, HOLD); /* counting starts again */
    feed(&sm, W, W);    /* a warning result is a success too */
    feed(&sm, C, HOLD);
    feed(&sm, C, C);
    /* and a failure resets successes */
    check_sm_init(&sm, 2, 0, 2, C);
    feed(&sm, P, HOLD);
    feed(&sm, C, HOLD);
    feed(&sm, P, HOLD);
    feed(&sm, P, P);
}

static void sm_both_thresholds_flap_only_after_streaks(void **state)
{
    (void)state;
    struct check_sm sm;
    check_sm_init(&sm, 2, 1, 2, C);
    feed(&sm, P, HOLD);
    feed(&sm, P, P);
    feed(&sm, C, W);
    feed(&sm, P, HOLD); /* one success is not enough to pass again */
    assert_int_equal(sm.status, W);
    feed(&sm, C, W); /* failures restarted at 1: warning again */
    feed(&sm, C, C);
    feed(&sm, P, HOLD);
    feed(&sm, P, P);
}

/* Every combination of thresholds 0..4: after a fresh start, the k-th
 * consecutive success / failure does what Consul's StatusHandler does. */
static void sm_every_threshold_combination(void **state)
{
    (void)state;
    for (unsigned sbp = 0; sbp <= 4; sbp++)
        for (unsigned fbw = 0; fbw <= 4; fbw++)
            for (unsigned fbc = 0; fbc <= 4; fbc++) {
                unsigned ew = fbw ? fbw : fbc; /* effective warning */
                struct check_sm sm;

                check_sm_init(&sm, sbp, fbw, fbc, C);
                for (unsigned k = 1; k <= 6; k++)
                    feed(&sm, k % 2 ? P : W,
                         k >= sbp ? (int)(k % 2 ? P : W) : HOLD);

                check_sm_init(&sm, sbp, fbw, fbc, P);
                for (unsigned k = 1; k <= 6; k++) {
                    int want = k >= fbc ? (int)C : k >= ew ? (int)W : HOLD;
                    feed(&sm, C, want);
                }

                /* Alternating results never build a streak beyond 1. */
                check_sm_init(&sm, sbp, fbw, fbc, P);
                for (unsigned k = 0; k < 6; k++) {
                    feed(&sm, C, 1 >= fbc ? (int)C : 1 >= ew ? (int)W : HOLD);
                    feed(&sm, P, 1 >= sbp ? (int)P : HOLD);
                    assert_int_equal(sm.successes, 1);
                    assert_int_equal(sm.failures, 0);
                }
            }
}

static void sm_feed_accepts_null_out(void **state)
{
    (void)state;
    struct check_sm sm;
    check_sm_init(&sm, 0, 0, 0, P);
    assert_true(check_sm_feed(&sm, C, NULL));
    assert_int_equal(sm.status, C);
}

static void status_names_round_trip(void **state)
{
    (void)state;
    enum check_status st = CHECK_PASSING;
    assert_string_equal(check_status_name(CHECK_PASSING), "passing");
    assert_string_equal(check_status_name(CHECK_WARNING), "warning");
    assert_string_equal(check_status_name(CHECK_CRITICAL), "critical");
    assert_int_equal(check_status_parse("warning", &st), 0);
    assert_int_equal(st, CHECK_WARNING);
    assert_int_equal(check_status_parse("critical", &st), 0);
    assert_int_equal(st, CHECK_CRITICAL);
    assert_int_equal(check_status_parse("passing", &st), 0);
    assert_int_equal(st, CHECK_PASSING);
    assert_int_equal(check_status_parse("Passing", &st), -EINVAL);
    assert_int_equal(check_status_parse("ok", &st), -EINVAL);
    assert_int_equal(check_status_parse("", &st), -EINVAL);
    assert_int_equal(check_status_parse(NULL, &st), -EINVAL);
    assert_int_equal(st, CHECK_PASSING);
}

static void def_validate_requires_kind_fields(void **state)
{
    (void)state;
    struct check_def d;
    char err[128];
    check_def_init(&d, CHECK_KIND_TTL);
    assert_int_equal(d.status, CHECK_CRITICAL);
    assert_int_equal(check_def_validate(&d, err, sizeof err), -EINVAL);
    d.ttl_ms = 1000;
    assert_int_equal(check_def_validate(&d, err, sizeof err), 0);

    check_def_init(&d, CHECK_KIND_HTTP);
    assert_int_equal(check_def_validate(&d, err, sizeof err), -EINVAL);
    d.http = "http://127.0.0.1:1/";
    assert_int_equal(check_def_validate(&d, NULL, 0), 0);

    check_def_init(&d, CHECK_KIND_TCP);
    d.tcp = "";
    assert_int_equal(check_def_validate(&d, err, sizeof err), -EINVAL);
    d.tcp = "127.0.0.1:1";
    assert_int_equal(check_def_validate(&d, err, sizeof err), 0);

    const char *empty[] = {NULL};
    const char *sh[] = {"/bin/sh", "-c", "true", NULL};
    check_def_init(&d, CHECK_KIND_SCRIPT);
    assert_int_equal(check_def_validate(&d, err, sizeof err), -EINVAL);
    d.argv = empty;
    assert_int_equal(check_def_validate(&d, err, sizeof err), -EINVAL);
    assert_true(strlen(err) > 0);
    d.argv = sh;
    assert_int_equal(check_def_validate(&d, err, sizeof err), 0);

    d.kind = (enum check_kind)42;
    assert_int_equal(check_def_validate(&d, err, sizeof err), -EINVAL);
}

/* ======================================================================
 * Loop fixture: a loop, an env, a watchdog, bounded runs
 * ====================================================================== */

struct fx
{
    uv_loop_t loop;
    struct check_env *env;
    uv_timer_t wd;
    bool wd_fired;
};

static void fx_on_wd(uv_timer_t *t)
{
    struct fx *f = t->data;
    f->wd_fired = true;
    uv_stop(&f->loop);
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->env = check_env_new(&f->loop);
    assert_non_null(f->env);
    check_env_set_min_interval(f->env, 20);
    check_env_set_max_stagger(f->env, 0);
    uv_timer_init(&f->loop, &f->wd);
    f->wd.data = f;
    *state = f;
    return 0;
}

typedef bool (*pred_fn)(void *arg);

/* Run the loop until pred(arg) holds or `ms` pass. Returns pred(arg). */
static bool run_until(struct fx *f, pred_fn pred, void *arg, uint64_t ms)
{
    f->wd_fired = false;
    uv_timer_start(&f->wd, fx_on_wd, ms, 0);
    while (!(pred && pred(arg)) && !f->wd_fired)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_timer_stop(&f->wd);
    return pred && pred(arg);
}

static void run_for(struct fx *f, uint64_t ms)
{
    run_until(f, NULL, NULL, ms);
}

/* Free the env, then run the loop until nothing is left (bounded), and
 * require uv_loop_close to succeed: no handle leaked. */
static int fx_teardown(void **state)
{
    struct fx *f = *state;
    check_env_free(f->env);
    f->wd_fired = false;
    uv_unref((uv_handle_t *)&f->wd); /* the watchdog must not keep it alive */
    uv_timer_start(&f->wd, fx_on_wd, 5000, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_false(f->wd_fired);
    uv_close((uv_handle_t *)&f->wd, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

/* Records every update a check reports. */
struct rec
{
    int n;
    enum check_status st[64];
    enum check_status last;
    char out[16384];
    uint64_t t_last;       /* uv_hrtime of the last update */
    struct check *stop_me; /* stop this check from the callback */
};

static void rec_cb(void *data, enum check_status st, const char *output)
{
    struct rec *r = data;
    if (r->n < 64)
        r->st[r->n] = st;
    r->n++;
    r->last = st;
    snprintf(r->out, sizeof r->out, "%s", output);
    r->t_last = uv_hrtime();
    if (getenv("CHECK_TEST_DEBUG")) /* trace every update while debugging */
        fprintf(stderr, "update %s: %s\n", check_status_name(st), output);
    if (r->stop_me) {
        check_stop(r->stop_me);
        r->stop_me = NULL;
    }
}

struct want
{
    struct rec *r;
    enum check_status st;
    int n;
};

static bool pred_status(void *arg)
{
    struct want *w = arg;
    return w->r->n > 0 && w->r->last == w->st;
}

static bool pred_count(void *arg)
{
    struct want *w = arg;
    return w->r->n >= w->n;
}

static bool wait_status(struct fx *f,
                        struct rec *r,
                        enum check_status st,
                        uint64_t ms)
{
    struct want w = {r, st, 0};
    return run_until(f, pred_status, &w, ms);
}

static bool wait_count(struct fx *f, struct rec *r, int n, uint64_t ms)
{
    struct want w = {r, CHECK_PASSING, n};
    return run_until(f, pred_count, &w, ms);
}

/* ======================================================================
 * A tiny HTTP/1.1 server on 127.0.0.1 (libuv), answers flipped by tests
 * ====================================================================== */

struct conn;

struct srv
{
    uv_loop_t *loop;
    uv_tcp_t listener;
    bool listening;
    int open; /* handles not closed yet */
    int port;
    int status; /* answer with this status code ... */
    const char *reason;
    const char *body; /* ... and this body */
    bool hang;        /* never answer */
    int requests;
    char last_req[8192];
    struct conn *conns;
};

struct conn
{
    uv_tcp_t h;
    struct srv *s;
    char buf[8192];
    size_t len;
    bool answered;
    bool closing;
    uv_write_t wr;
    char resp[16384];
    struct conn *prev, *next;
};

static void conn_on_close(uv_handle_t *h)
{
    struct conn *k = h->data;
    struct srv *s = k->s;
    if (k->prev)
        k->prev->next = k->next;
    else
        s->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    free(k);
    s->open--;
}

static void conn_close(struct conn *k)
{
    if (k->closing)
        return;
    k->closing = true;
    uv_close((uv_handle_t *)&k->h, conn_on_close);
}

static void conn_on_written(uv_write_t *w, int status)
{
    (void)status;
    conn_close(w->data);
}

static void conn_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct conn *k = h->data;
    (void)hint;
    if (k->len >= sizeof k->buf - 1)
        k->len = 0; /* oversized request: start over, tests don't send */
    *buf = uv_buf_init(k->buf + k->len, (unsigned)(sizeof k->buf - 1 - k->len));
}

static void conn_answer(struct conn *k)
{
    struct srv *s = k->s;
    char path[256] = "";
    sscanf(k->buf, "%*s %255s", path);
    int n;
    if (strcmp(path, "/redirect") == 0) {
        n = snprintf(k->resp, sizeof k->resp,
                     "HTTP/1.1 302 Found\r\nLocation: /final\r\n"
                     "Content-Length: 0\r\nConnection: close\r\n\r\n");
    } else {
        const char *body = s->body ? s->body : "";
        n = snprintf(k->resp, sizeof k->resp,
                     "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n"
                     "Content-Type: text/plain\r\nConnection: close\r\n\r\n%s",
                     s->status, s->reason, strlen(body), body);
    }
    uv_buf_t b = uv_buf_init(k->resp, (unsigned)n);
    k->wr.data = k;
    if (uv_write(&k->wr, (uv_stream_t *)&k->h, &b, 1, conn_on_written))
        conn_close(k);
}

static void conn_on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct conn *k = st->data;
    (void)buf;
    if (n < 0) {
        conn_close(k);
        return;
    }
    k->len += (size_t)n;
    k->buf[k->len] = '\0';
    if (k->answered)
        return;
    if ((unsigned char)k->buf[0] == 0x16) { /* a TLS ClientHello */
        k->answered = true;
        conn_answer(k); /* plain text: the client's handshake fails */
        return;
    }
    char *end = strstr(k->buf, "\r\n\r\n");
    if (!end)
        return;
    size_t clen = 0;
    const char *cl = strcasestr(k->buf, "\r\nContent-Length:");
    if (cl && cl < end)
        clen = strtoul(cl + 17, NULL, 10);
    if (k->len < (size_t)(end + 4 - k->buf) + clen)
        return;
    k->answered = true;
    k->s->requests++;
    snprintf(k->s->last_req, sizeof k->s->last_req, "%s", k->buf);
    if (!k->s->hang)
        conn_answer(k);
}

static void srv_on_connection(uv_stream_t *l, int status)
{
    struct srv *s = l->data;
    if (status < 0)
        return;
    struct conn *k = calloc(1, sizeof *k);
    assert_non_null(k);
    k->s = s;
    k->h.data = k;
    uv_tcp_init(s->loop, &k->h);
    s->open++;
    k->next = s->conns;
    if (s->conns)
        s->conns->prev = k;
    s->conns = k;
    if (uv_accept(l, (uv_stream_t *)&k->h) == 0)
        uv_read_start((uv_stream_t *)&k->h, conn_on_alloc, conn_on_read);
    else
        conn_close(k);
}

static void srv_on_close(uv_handle_t *h)
{
    struct srv *s = h->data;
    s->open--;
}

static void srv_start(struct srv *s, uv_loop_t *loop)
{
    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->status = 200;
    s->reason = "OK";
    s->body = "ok";
    struct sockaddr_in a;
    assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &a), 0);
    assert_int_equal(uv_tcp_init(loop, &s->listener), 0);
    s->listener.data = s;
    s->open = 1;
    s->listening = true;
    assert_int_equal(uv_tcp_bind(&s->listener, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(
        uv_listen((uv_stream_t *)&s->listener, 64, srv_on_connection), 0);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    assert_int_equal(
        uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len), 0);
    s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Stop accepting: new connections are refused at once. */
static void srv_unlisten(struct srv *s)
{
    if (!s->listening)
        return;
    s->listening = false;
    uv_close((uv_handle_t *)&s->listener, srv_on_close);
}

static bool pred_srv_closed(void *arg)
{
    return ((struct srv *)arg)->open == 0;
}

static void srv_close(struct fx *f, struct srv *s)
{
    srv_unlisten(s);
    for (struct conn *k = s->conns; k; k = k->next)
        conn_close(k);
    assert_true(run_until(f, pred_srv_closed, s, 3000));
}

static bool pred_requests(void *arg)
{
    struct srv *s = arg;
    return s->requests >= 1;
}

/* ======================================================================
 * TTL
 * ====================================================================== */

static struct check *start_ttl(struct fx *f,
                               struct rec *r,
                               uint64_t ttl_ms,
                               size_t max)
{
    struct check_def d;
    check_def_init(&d, CHECK_KIND_TTL);
    d.id = "ttl";
    d.ttl_ms = ttl_ms;
    d.output_max_size = max;
    struct check *c = check_start(f->env, &d, rec_cb, r);
    assert_non_null(c);
    return c;
}

static void ttl_expires_and_update_refreshes(void **state)
{
    struct fx *f = *state;
    struct rec r = {0};
    uint64_t t0 = uv_hrtime();
    struct check *c = start_ttl(f, &r, 150, 0);
    assert_int_equal(check_get_status(c), CHECK_CRITICAL);
    assert_string_equal(check_get_output(c), "");

    /* Already critical with empty output: expiry changes the output. */
    assert_true(wait_count(f, &r, 1, 3000));
    assert_int_equal(r.last, CHECK_CRITICAL);
    assert_string_equal(r.out, "TTL expired");
    assert_true((r.t_last - t0) / 1000000 >= 140);

    assert_int_equal(check_ttl_update(c, CHECK_PASSING, "all good"), 0);
    assert_int_equal(r.n, 2); /* reported before returning */
    assert_int_equal(r.last, CHECK_PASSING);
    assert_string_equal(r.out, "all good");
    assert_int_equal(check_get_status(c), CHECK_PASSING);
    assert_string_equal(check_get_output(c), "all good");

    /* The same status and output again is not a change. */
    assert_int_equal(check_ttl_update(c, CHECK_PASSING, "all good"), 0);
    assert_int_equal(r.n, 2);

    /* It expires again, quoting the last output like Consul. */
    assert_true(wait_status(f, &r, CHECK_CRITICAL, 3000));
    assert_string_equal(r.out,
                        "TTL expired (last output before timeout "
                        "follows): all good");
    assert_int_equal(r.n, 3);

    assert_int_equal(check_ttl_update(c, CHECK_WARNING, NULL), 0);
    assert_int_equal(r.last, CHECK_WARNING);
    assert_string_equal(r.out, "");
    assert_true(wait_status(f, &r, CHECK_CRITICAL, 3000));
    assert_string_equal(r.out, "TTL expired");
    check_stop(c);
}

static void ttl_updates_keep_it_alive(void **state)
{
    struct fx *f = *state;
    struct rec r = {0};
    struct check *c = start_ttl(f, &r, 300, 0);
    assert_int_equal(check_ttl_update(c, CHECK_PASSING, "beat"), 0);
    for (int i = 0; i < 8; i++) {
        run_for(f, 100);
        assert_int_equal(check_ttl_update(c, CHECK_PASSING, "beat"), 0);
    }
    assert_int_equal(r.n, 1);
    assert_int_equal(r.last, CHECK_PASSING);
    check_stop(c);
    run_for(f, 400); /* a stopped TTL never expires */
    assert_int_equal(r.n, 1);
}

static void ttl_output_truncated_like_consul(void **state)
{
    struct fx *f = *state;
    struct rec r = {0};
    struct check *c = start_ttl(f, &r, 10000, 5);
    assert_int_equal(check_ttl_update(c, CHECK_WARNING, "hello world"), 0);
    assert_string_equal(r.out, "hello ... (captured 5 of 11 bytes)");
    assert_int_equal(check_ttl_update(c, CHECK_PASSING, "12345"), 0);
    assert_string_equal(r.out, "12345");
    assert_int_equal(check_ttl_update(c, (enum check_status)7, "x"), -EINVAL);
    check_stop(c);
}

static void ttl_update_rejects_other_kinds(void **state)
{
    struct fx *f = *state;
    struct check_def d;
    check_def_init(&d, CHECK_KIND_TCP);
    d.tcp = "127.0.0.1:1";
    d.interval_ms = 60000;
    check_env_set_max_stagger(f->env, 60000);
    struct check *c = check_start(f->env, &d, NULL, NULL);
    assert_non_null(c);
    assert_int_equal(check_ttl_update(c, CHECK_PASSING, "x"), -EINVAL);
    check_stop(c);

    check_def_init(&d, CHECK_KIND_TTL); /* ttl_ms missing */
    assert_null(check_start(f->env, &d, NULL, NULL));
}

/* ======================================================================
 * HTTP
 * ====================================================================== */

static struct check *start_http(struct fx *f,
                                struct rec *r,
                                struct check_def *d,
                                const char *url)
{
    d->http = url;
    if (!d->interval_ms)
        d->interval_ms = 50;
    struct check *c = check_start(f->env, d, rec_cb, r);
    assert_non_null(c);
    return c;
}

static void http_status_codes_map_to_health(void **state)
{
    struct fx *f = *state;
    struct srv s;
    struct rec r = {0};
    char url[128], want[256];
    srv_start(&s, &f->loop);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/health", s.port);
    struct check_def d;
    check_def_init(&d, CHECK_KIND_HTTP);
    d.id = "web";
    struct check *c = start_http(f, &r, &d, url);

    s.body = "hello";
    assert_true(wait_status(f, &r, CHECK_PASSING, 3000));
    snprintf(want, sizeof want, "HTTP GET %s: 200 OK Output: hello", url);
    assert_string_equal(r.out, want);

    s.status = 429;
    s.reason = "Too Many Requests";
    s.body = "slow down";
    assert_true(wait_status(f, &r, CHECK_WARNING, 3000));
    snprintf(want, sizeof want,
             "HTTP GET %s: 429 Too Many Requests Output: slow down", url);
    assert_string_equal(r.out, want);

    s.status = 500;
    s.reason = "Internal Server Error";
    s.body = "boom";
    assert_true(wait_status(f, &r, CHECK_CRITICAL, 3000));
    snprintf(want, sizeof want,
             "HTTP GET %s: 500 Internal Server Error Output: boom", url);
    assert_string_equal(r.out, want);

    s.status = 204;
    s.reason = "No Content";
    s.body = "";
    assert_true(wait_status(f, &r, CHECK_PASSING, 3000));
    snprintf(want, sizeof want, "HTTP GET %s: 204 No Content Output: ", url);
    assert_string_equal(r.out, want);

    s.status = 404;
    s.reason = "Not Found";
    assert_true(wait_status(f, &r, CHECK_CRITICAL, 3000));
    s.status = 200;
    s.reason = "OK";
    assert_true(wait_status(f, &r, CHECK_PASSING, 3000));

    /* Nobody listening: a connection error, in Go's words. */
    srv_unlisten(&s);
    assert_true(wait_status(f, &r, CHECK_CRITICAL, 3000));
    snprintf(want, sizeof want,
             "Get \"%s\": dial tcp 127.0.0.1:%d: connect: connection refused",
             url, s.port);
    assert_string_equal(r.out, want);

    check_stop(c);
    srv_close(f, &s);
}

static void http_reports_only_changes(void **state)
{
    struct fx *f = *state;
    struct srv s;
    struct rec r = {0};
    char url[128];
    srv_start(&s, &f->loop);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s.port);
    struct check_def d;
    check_def_init(&d, CHECK_KIND_HTTP);
    d.interval_ms = 20;
    struct check *c = start_http(f, &r, &d, url);
    assert_true(wait_status(f, &r, CHECK_PASSING, 3000));
    run_for(f, 300);
    assert_true(s.requests >= 4);
    assert_int_equal(r.n, 1); /* same status and output every time */
    check_stop(c);
    srv_close(f, &s);
}

static void http_interval_counts_from_end_of_probe(void **state)
{
    struct fx *f = *state;
    struct srv s;
    struct rec r = {0};
    char url[128];
    srv_start(&s, &f->loop);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s.port);
    struct check_def d;
    check_def_init(&d, CHECK_KIND_HTTP);
    d.interval_ms = 250;
    struct check *c = start_http(f, &r, &d, url);
    run_for(f, 1100);
    /* first at ~0, then every ~250 ms: 4 or 5, never a burst */
    assert_true(s.requests >= 3);
    assert_true(s.requests <= 5);
    check_stop(c);
    srv_close(f, &s);
}

static void http_interval_is_raised_to_env_minimum(void **state)
{
    struct fx *f = *state;
    struct srv s;
    struct rec r = {0};
    char url[128];
    srv_start(&s, &f->loop);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s.port);
    check_env_set_min_interval(f->env, 1000); /* Consul's floor */
    struct check_def d;
    check_def_init(&d, CHECK_KIND_HTTP);
    d.interval_ms = 10;
    struct check *c = start_http(f, &r, &d, url);
    run_for(f, 700);
    assert_int_equal(s.requests, 1);
    check_stop(c);
    srv_close(f, &s);
}

static void http_body_keeps_last_output_max_bytes(void **state)
{
    struct fx *f = *state;
    struct srv s;
    struct rec r = {0};
    char url[128], want[256];
    srv_start(&s, &f->loop);
    s.body = "0123456789";
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", s.port);
    struct check_def d;
    check_def_init(&d, CHECK_KIND_HTTP);
    d.output_max_size = 4;
    struct check *c = start_http(f, &r, &d, url);
    assert_true(wait_status(f, &r, CHECK_PASSING, 3000));
    /* Consul reads the body into a 4-byte circular buffer. */
    snprintf(want, sizeof want, "HTTP GET %s: 200 OK Output: 6789", url);
    assert_string_equal(r.out, want);
    check_stop(c);
    srv_close(f, &s);
}

static void http_sends_method_headers_and_body(void **state)
{
    struct fx *f = *state;
    struct srv s;
    struct rec r = {0};
    char url[128], want[256];
    srv_start(&s, &f->loop);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/put", s.port);
    struct check_header h[] = {
        {"X-Token", "abc"}, {"X-Multi", "one"},        {"X-Multi", "two"},
        {"X-Empty", ""},    {"User-Agent", "probe/1"},
    };
    struct check_def d;
    check_def_init(&d, CHECK_KIND_HTTP);
    d.method = "PUT";
    d.headers = h;
    d.n_headers = sizeof h / sizeof h[0];
    d.body = "{\"ping\":1}";
    struct check *c = start_http(f, &r, &d, url);
    assert_true(wait_status(f, &r, CHECK_PASSING, 3000));
    snprintf(want, sizeof want, "HTTP PUT %s: 200 OK Output: ok", url);
    assert_string_equal(r.out, want);
    const char *q = s.last_req;
    assert_memory_equal(q, "PUT /put HTTP/1.1\r\n", 19);
    assert_non_null(strstr(q, "\r\nX-Token: abc\r\n"));
    assert_non_null(strstr(q, "\r\nX-Multi: one\r\n"));
    assert_non_null(strstr(q, "\r\nX-Multi: two\r\n"));
    assert_non_null(strstr(q, "\r\nX-Empty:"));
    assert_non_null(strstr(q, "\r\nUser-Agent: probe/1\r\n"));
    assert_null(strstr(q, "Consul Health Check"));
    assert_non_null(strstr(q, "\r\nAccept: text/plain, text/*, */*\r\n"));
    assert_null(strstr(q, "Expect:"));
    assert_null(strstr(q, "application/x-www-form-urlencoded"));
    assert_non_null(strstr(q, "\r\n\r\n{\"ping\":1}"));
    check_stop(c);
    srv_close(f, &s);
}

static void http_defaults_get_with_consul_headers(void **state)
{
    struct fx *f = *state;
    struct srv s;
    struct rec r = {0};
    char url[128];
    srv_start(&s, &f->loop);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/redirect", s.port);
    struct check_def d;
    check_def_init(&d, CHECK_KIND_HTTP);
    struct check *c = start_http(f, &r, &d, url);
    assert_true(wait_status(f, &r, CHECK_PASSING, 3000));
    /* the redirect was followed to /final */
    assert_memory_equal(s.last_req, "GET /final HTTP/1.1\r\n", 21);
    assert_non_null(
        strstr(s.last_req, "\r\nUser-Agent: Consul Health Check\r\n"));
    assert_int_equal(s.requests, 2);
    check_stop(c);

    /* DisableRedirects: the 302 itself is the answer, and not 2xx. */
    struct rec r2 = {0};
    check_def_init(&d, CHECK_KIND_HTTP);
    d.disable_redirects = true;
    d.status = CHECK_PASSING;
    c = start_http(f, &r2, &d, url);
    assert_true(wait_status(f, &r2, CHECK_CRITICAL, 3000));
    assert_non_null(strstr(r2.out, ": 302 Found Output: "));
    check_stop(c);
    srv_close(f, &s);
}

static void http_bad_header_is_critical_without_request(void **state)
{
    struct fx *f = *state;
    struct srv s;
    struct rec r = {0};
    char url[128], want[256];
    srv_start(&s, &f->loop);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s.port);
    struct check_header h[] = {{"X-Evil", "a\r\nInjected: yes"}};
    struct check_def d;
    check_def_init(&d, CHECK_KIND_HTTP);
    d.status = CHECK_PASSING;
    d.headers = h;
    d.n_headers = 1;
    struct check *c = start_http(f, &r, &d, url);
    assert_true(wait_status(f, &r, CHECK_CRITICAL, 3000));
    snprintf(want, sizeof want,
             "Get \"%s\": net/http: invalid header field value for "
             "\"X-Evil\"",
             url);
    assert_string_equal(r.out, want);
    assert_int_equal(s.requests, 0);
    check_stop(c);
    srv_close(f, &s);
}

static void http_timeout_is_critical(void **state)
{
    struct fx *f = *state;
    struct srv s;
    struct rec r = {0};
    char url[128];
    srv_start(&s, &f->loop);
    s.hang = true;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/slow", s.port);
    struct check_def d;
    check_def_init(&d, CHECK_KIND_HTTP);
    d.status = CHECK_PASSING;
    d.timeout_ms = 300;
    d.interval_ms = 10000;
    uint64_t t0 = uv_hrtime();
    struct check *c = start_http(f, &r, &d, url);
    assert_true(wait_status(f, &r, CHECK_CRITICAL, 3000));
    uint64_t ms = (r.t_last - t0) / 1000000;
    assert_true(ms >= 250 && ms < 2000);
    assert_non_null(strstr(r.out, "Client.Timeout exceeded"));
    assert_int_equal(s.requests, 1);
    check_stop(c);
    srv_close(f, &s);
}

static void http_failures_before_critical_holds_status(void **state)
{
    struct fx *f = *state;
    struct srv s;
    struct rec r = {0};
    char url[128];
    srv_start(&s, &f->loop);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s.port);
    struct check_def d;
    check_def_init(&d, CHECK_KIND_HTTP);
    d.status = CHECK_PASSING;
    d.output = "HTTP GET earlier: 200 OK Output: ok";
    d.failures_before_critical = 3;
    d.success_before_passing = 2;
    d.interval_ms = 60;
    s.status = 500;
    s.reason = "Internal Server Error";
    struct check *c = start_http(f, &r, &d, url);
    assert_true(wait_count(f, &r, 1, 3000));
    assert_int_equal(r.last, CHECK_CRITICAL);
    assert_true(s.requests >= 3); /* held back for the first two */
    int at = s.requests;
    s.status = 200;
    s.reason = "OK";
    assert_true(wait_count(f, &r, 2, 3000));
    assert_int_equal(r.last, CHECK_PASSING);
    assert_true(s.requests >= at + 2);
    assert_int_equal(r.n, 2);
    check_stop(c);
    srv_close(f, &s);
}

/* ======================================================================
 * TCP
 * ====================================================================== */

static void tcp_passes_then_fails_when_listener_closes(void **state)
{
    struct fx *f = *state;
    struct srv s;
    struct rec r = {0};
    char addr[64], want[128];
    srv_start(&s, &f->loop);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", s.port);
    struct check_def d;
    check_def_init(&d, CHECK_KIND_TCP);
    d.tcp = addr;
    d.interval_ms = 50;
    struct check *c = check_start(f->env, &d, rec_cb, &r);
    assert_non_null(c);
    assert_true(wait_status(f, &r, CHECK_PASSING, 3000));
    snprintf(want, sizeof want, "TCP connect %s: Success", addr);
    assert_string_equal(r.out, want);

    srv_unlisten(&s);
    assert_true(wait_status(f, &r, CHECK_CRITICAL, 3000));
    snprintf(want, sizeof want, "dial tcp %s: connect: connection refused",
             addr);
    assert_string_equal(r.out, want);
    check_stop(c);
    srv_close(f, &s);
}

static void tcp_resolves_names(void **state)
{
    struct fx *f = *state;
    struct srv s;
    struct rec r = {0};
    char addr[64], want[128];
    srv_start(&s, &f->loop);
    /* "localhost" may resolve to ::1 first: the dialer tries each
     * address in turn, like Go's. */
    snprintf(addr, sizeof addr, "localhost:%d", s.port);
    struct check_def d;
    check_def_init(&d, CHECK_KIND_TCP);
    d.tcp = addr;
    d.interval_ms = 10000;
    struct check *c = check_start(f->env, &d, rec_cb, &r);
    assert_non_null(c);
    assert_true(wait_count(f, &r, 1, 5000));
    snprintf(want, sizeof want, "TCP connect %s: Success", addr);
    assert_string_equal(r.out, want);
    assert_int_equal(r.last, CHECK_PASSING);
    check_stop(c);
    srv_close(f, &s);
}

static void tcp_bad_address_is_critical(void **state)
{
    struct fx *f = *state;
    static const struct
    {
        const char *addr, *out;
    } cases[] = {
        {"127.0.0.1", "dial tcp: address 127.0.0.1: missing port in address"},
        {"1:2:3", "dial tcp: address 1:2:3: too many colons in address"},
        {"[::1:80", "dial tcp: address [::1:80: missing ']' in address"},
        {"127.0.0.1:70000", "dial tcp: address 127.0.0.1:70000: invalid port"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct rec r = {0};
        struct check_def d;
        check_def_init(&d, CHECK_KIND_TCP);
        d.status = CHECK_PASSING;
        d.tcp = cases[i].addr;
        d.interval_ms = 10000;
        struct check *c = check_start(f->env, &d, rec_cb, &r);
        assert_non_null(c);
        assert_true(wait_count(f, &r, 1, 3000));
        assert_int_equal(r.last, CHECK_CRITICAL);
        assert_string_equal(r.out, cases[i].out);
        check_stop(c);
    }
}

/* ======================================================================
 * Scripts
 * ====================================================================== */

static struct check *start_sh(struct fx *f,
                              struct rec *r,
                              const char *cmd,
                              struct check_def *d)
{
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    d->argv = argv;
    if (!d->interval_ms)
        d->interval_ms = 60000;
    struct check *c = check_start(f->env, d, rec_cb, r);
    assert_non_null(c);
    return c;
}

static void script_exit_codes_map_to_health(void **state)
{
    struct fx *f = *state;
    struct rec r0 = {0}, r1 = {0}, r2 = {0}, r9 = {0};
    struct check_def d;
    check_def_init(&d, CHECK_KIND_SCRIPT);
    struct check *c0 = start_sh(f, &r0, "echo fine; exit 0", &d);
    check_def_init(&d, CHECK_KIND_SCRIPT);
    struct check *c1 = start_sh(f, &r1, "echo meh >&2; exit 1", &d);
    check_def_init(&d, CHECK_KIND_SCRIPT);
    d.status = CHECK_PASSING;
    struct check *c2 = start_sh(f, &r2, "echo bad; exit 2", &d);
    check_def_init(&d, CHECK_KIND_SCRIPT);
    d.status = CHECK_PASSING;
    struct check *c9 = start_sh(f, &r9, "kill -TERM $$", &d);

    assert_true(wait_count(f, &r0, 1, 5000));
    assert_true(wait_count(f, &r1, 1, 5000));
    assert_true(wait_count(f, &r2, 1, 5000));
    assert_true(wait_count(f, &r9, 1, 5000));
    assert_int_equal(r0.last, CHECK_PASSING);
    assert_string_equal(r0.out, "fine\n");
    assert_int_equal(r1.last, CHECK_WARNING);
    assert_string_equal(r1.out, "meh\n"); /* stderr is captured too */
    assert_int_equal(r2.last, CHECK_CRITICAL);
    assert_string_equal(r2.out, "bad\n");
    assert_int_equal(r9.last, CHECK_CRITICAL); /* killed by a signal */
    check_stop(c0);
    check_stop(c1);
    check_stop(c2);
    check_stop(c9);
}

static void script_output_merged_and_tail_kept(void **state)
{
    struct fx *f = *state;
    struct rec r = {0}, r2 = {0};
    struct check_def d;
    check_def_init(&d, CHECK_KIND_SCRIPT);
    d.output_max_size = 8;
    struct check *c = start_sh(f, &r, "printf abcdefghij; printf XYZ >&2", &d);
    assert_true(wait_count(f, &r, 1, 5000));
    assert_int_equal(r.last, CHECK_PASSING);
    /* Consul: circular buffer of 8 bytes plus a note. */
    assert_string_equal(r.out, "Captured 8 of 13 bytes\n...\nfghijXYZ");
    check_stop(c);

    check_def_init(&d, CHECK_KIND_SCRIPT);
    d.output_max_size = 13;
    c = start_sh(f, &r2, "printf abcdefghij; printf XYZ >&2", &d);
    assert_true(wait_count(f, &r2, 1, 5000));
    assert_string_equal(r2.out, "abcdefghijXYZ");
    check_stop(c);
}

static void script_large_output_never_blocks_the_child(void **state)
{
    struct fx *f = *state;
    struct rec r = {0};
    struct check_def d;
    check_def_init(&d, CHECK_KIND_SCRIPT);
    d.timeout_ms = 5000;
    /* 1 MB through a pipe whose buffer is 64 KiB: only works if we keep
     * reading after output_max (4096) bytes. */
    struct check *c = start_sh(
        f, &r, "head -c 1000000 /dev/zero | tr '\\0' a; echo; echo END", &d);
    assert_true(wait_count(f, &r, 1, 6000));
    assert_int_equal(r.last, CHECK_PASSING);
    assert_memory_equal(r.out, "Captured 4096 of 1000005 bytes\n...\n", 35);
    assert_int_equal(strlen(r.out), 35 + 4096);
    assert_string_equal(r.out + strlen(r.out) - 5, "\nEND\n");
    check_stop(c);
}

static bool proc_dead(int pid)
{
    if (kill(pid, 0) != 0)
        return errno == ESRCH;
    /* exists: dead only if a zombie (reparented to a non-reaping init) */
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return true;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

struct dead_arg
{
    int pid;
};

static bool pred_dead(void *arg)
{
    return proc_dead(((struct dead_arg *)arg)->pid);
}

static void script_timeout_kills_process_group(void **state)
{
    struct fx *f = *state;
    struct rec r = {0};
    struct check_def d;
    check_def_init(&d, CHECK_KIND_SCRIPT);
    d.status = CHECK_PASSING;
    d.timeout_ms = 400;
    uint64_t t0 = uv_hrtime();
    /* A grandchild in the same group holds the pipe too. */
    struct check *c =
        start_sh(f, &r, "echo started; sleep 30 & echo $!; wait", &d);
    assert_true(wait_count(f, &r, 1, 5000));
    uint64_t ms = (r.t_last - t0) / 1000000;
    assert_true(ms >= 390);
    assert_true(ms < 400 + 1500);
    assert_int_equal(r.last, CHECK_CRITICAL);
    const char *prefix = "Timed out (400ms) running check\n\nstarted\n";
    assert_memory_equal(r.out, prefix, strlen(prefix));
    struct dead_arg da = {atoi(r.out + strlen(prefix))};
    assert_true(da.pid > 1);
    assert_true(run_until(f, pred_dead, &da, 3000));
    check_stop(c);
}

static void script_timeout_without_output(void **state)
{
    struct fx *f = *state;
    struct rec r = {0};
    struct check_def d;
    check_def_init(&d, CHECK_KIND_SCRIPT);
    d.status = CHECK_PASSING;
    d.timeout_ms = 1500;
    struct check *c = start_sh(f, &r, "exec sleep 30", &d);
    assert_true(wait_count(f, &r, 1, 5000));
    assert_string_equal(r.out, "Timed out (1.5s) running check");
    check_stop(c);
}

static void script_never_runs_twice_at_once(void **state)
{
    struct fx *f = *state;
    struct rec r = {0};
    char dir[] = "/tmp/cairn-check-XXXXXX", cmd[512];
    assert_non_null(mkdtemp(dir));
    /* mkdir is atomic: a second concurrent run would fail and exit 2.
     * Each run takes 150 ms, the interval is 20 ms. */
    snprintf(cmd, sizeof cmd,
             "mkdir %s/lock || exit 2; echo x >> %s/runs; sleep 0.15; "
             "rmdir %s/lock",
             dir, dir, dir);
    struct check_def d;
    check_def_init(&d, CHECK_KIND_SCRIPT);
    d.interval_ms = 20;
    struct check *c = start_sh(f, &r, cmd, &d);
    run_for(f, 1000);
    check_stop(c);
    for (int i = 0; i < r.n && i < 64; i++)
        assert_int_equal(r.st[i], CHECK_PASSING);
    assert_int_equal(r.n, 1);
    /* runs were sequential: about 1000 / (150 + 20) of them */
    char path[600];
    snprintf(path, sizeof path, "%s/runs", dir);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    int runs = 0, ch;
    while ((ch = fgetc(fp)) != EOF)
        runs += ch == '\n';
    fclose(fp);
    assert_true(runs >= 3 && runs <= 7);
    run_for(f, 300); /* let the last (killed) run be reaped */
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void script_missing_program_is_critical(void **state)
{
    struct fx *f = *state;
    struct rec r = {0}, r2 = {0};
    struct check_def d;
    check_def_init(&d, CHECK_KIND_SCRIPT);
    d.status = CHECK_PASSING;
    const char *argv[] = {"/nonexistent/cairn-probe", NULL};
    d.argv = argv;
    d.interval_ms = 10000;
    struct check *c = check_start(f->env, &d, rec_cb, &r);
    assert_non_null(c);
    assert_true(wait_count(f, &r, 1, 3000));
    assert_int_equal(r.last, CHECK_CRITICAL);
    assert_string_equal(r.out,
                        "fork/exec /nonexistent/cairn-probe: no such "
                        "file or directory");
    check_stop(c);

    const char *argv2[] = {"cairn-no-such-probe", "x", NULL};
    d.argv = argv2;
    c = check_start(f->env, &d, rec_cb, &r2);
    assert_non_null(c);
    assert_true(wait_count(f, &r2, 1, 3000));
    assert_string_equal(r2.out,
                        "exec: \"cairn-no-such-probe\": executable "
                        "file not found in $PATH");
    check_stop(c);
}

static void script_found_in_path(void **state)
{
    struct fx *f = *state;
    struct rec r = {0};
    struct check_def d;
    check_def_init(&d, CHECK_KIND_SCRIPT);
    const char *argv[] = {"sh", "-c", "echo via path", NULL};
    d.argv = argv;
    d.interval_ms = 10000;
    struct check *c = check_start(f->env, &d, rec_cb, &r);
    assert_true(wait_count(f, &r, 1, 3000));
    assert_int_equal(r.last, CHECK_PASSING);
    assert_string_equal(r.out, "via path\n");
    check_stop(c);
}

/* ======================================================================
 * Stopping
 * ====================================================================== */

static bool pred_file_has_pid(void *arg)
{
    FILE *fp = fopen(arg, "r");
    int pid = 0;
    if (!fp)
        return false;
    if (fscanf(fp, "%d", &pid) != 1)
        pid = 0;
    fclose(fp);
    return pid > 0;
}

static void stop_with_probes_in_flight_is_silent_and_clean(void **state)
{
    struct fx *f = *state;
    struct srv s;
    struct rec rh = {0}, rs = {0}, rt = {0}, rl = {0}, rw = {0};
    char url[128], addr[64], dir[] = "/tmp/cairn-check-XXXXXX", cmd[512];
    char pidfile[64];
    assert_non_null(mkdtemp(dir));
    snprintf(pidfile, sizeof pidfile, "%s/pid", dir);
    srv_start(&s, &f->loop);
    s.hang = true;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s.port);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", s.port);

    struct check_def d;
    check_def_init(&d, CHECK_KIND_HTTP);
    d.status = CHECK_PASSING;
    struct check *ch = start_http(f, &rh, &d, url);

    check_def_init(&d, CHECK_KIND_SCRIPT);
    d.status = CHECK_PASSING;
    snprintf(cmd, sizeof cmd, "echo $$ > %s.tmp; mv %s.tmp %s; exec sleep 30",
             pidfile, pidfile, pidfile);
    struct check *cs = start_sh(f, &rs, cmd, &d);

    check_def_init(&d, CHECK_KIND_TCP);
    d.tcp = addr;
    d.interval_ms = 20;
    struct check *ct = check_start(f->env, &d, rec_cb, &rt);

    struct check *cl = start_ttl(f, &rl, 200, 0);

    check_def_init(&d, CHECK_KIND_TCP); /* never gets to run */
    d.tcp = addr;
    struct check *cw = check_start(f->env, &d, rec_cb, &rw);
    check_stop(cw);

    assert_true(run_until(f, pred_requests, &s, 3000)); /* HTTP in flight */
    assert_true(run_until(f, pred_file_has_pid, pidfile, 3000));
    FILE *fp = fopen(pidfile, "r");
    assert_non_null(fp);
    struct dead_arg da = {0};
    assert_int_equal(fscanf(fp, "%d", &da.pid), 1);
    fclose(fp);
    assert_false(proc_dead(da.pid));
    assert_int_equal(rh.n, 0);
    assert_int_equal(rs.n, 0);

    check_stop(ch);
    check_stop(cs);
    check_stop(ct);
    check_stop(cl);
    int nt = rt.n;
    run_for(f, 500); /* past the TTL, past any HTTP/script result */
    assert_int_equal(rh.n, 0);
    assert_int_equal(rs.n, 0);
    assert_int_equal(rt.n, nt);
    assert_int_equal(rl.n, 0);
    assert_int_equal(rw.n, 0);
    /* the script was killed and reaped (not even a zombie: libuv waited) */
    assert_true(run_until(f, pred_dead, &da, 3000));
    assert_int_equal(kill(da.pid, 0), -1);

    srv_close(f, &s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    /* fx_teardown: env freed, loop drains, uv_loop_close must be 0 */
}

static void stop_from_inside_the_callback(void **state)
{
    struct fx *f = *state;
    struct srv s;
    struct rec r = {0}, rt = {0};
    char url[128];
    srv_start(&s, &f->loop);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s.port);
    struct check_def d;
    check_def_init(&d, CHECK_KIND_HTTP);
    d.interval_ms = 20;
    struct check *c = start_http(f, &r, &d, url);
    r.stop_me = c;
    assert_true(wait_count(f, &r, 1, 3000));
    int reqs = s.requests;
    run_for(f, 200);
    assert_int_equal(r.n, 1);
    assert_int_equal(s.requests, reqs);

    /* a TTL check stopped by its own expiry callback */
    struct check *ct = start_ttl(f, &rt, 50, 0);
    rt.stop_me = ct;
    assert_true(wait_count(f, &rt, 1, 3000));
    run_for(f, 100);
    assert_int_equal(rt.n, 1);

    /* script: stopped from the timeout report, still reaped */
    struct rec rs = {0};
    check_def_init(&d, CHECK_KIND_SCRIPT);
    d.status = CHECK_PASSING;
    d.timeout_ms = 100;
    struct check *cs = start_sh(f, &rs, "exec sleep 30", &d);
    rs.stop_me = cs;
    assert_true(wait_count(f, &rs, 1, 3000));
    run_for(f, 100);
    assert_int_equal(rs.n, 1);
    srv_close(f, &s);
}

static void https_to_a_plain_server_is_critical(void **state)
{
    struct fx *f = *state;
    struct srv s;
    struct rec r = {0};
    char url[128], want[256];
    srv_start(&s, &f->loop);
    snprintf(url, sizeof url, "https://127.0.0.1:%d/", s.port);
    struct check_def d;
    check_def_init(&d, CHECK_KIND_HTTP);
    d.status = CHECK_PASSING;
    d.tls_skip_verify = true;
    d.timeout_ms = 2000;
    struct check *c = start_http(f, &r, &d, url);
    assert_true(wait_status(f, &r, CHECK_CRITICAL, 5000));
    snprintf(want, sizeof want, "Get \"%s\": ", url);
    assert_memory_equal(r.out, want, strlen(want));
    check_stop(c);
    srv_close(f, &s);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* One full life: env, one check of each kind run a few times, stop,
 * free, drain, close the loop. */
static void one_cycle(void)
{
    void *st = NULL;
    fx_setup(&st);
    struct fx *f = st;
    struct srv s;
    struct rec rh = {0}, rt = {0}, rs = {0}, rl = {0};
    char url[128], addr[64];
    srv_start(&s, &f->loop);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s.port);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", s.port);
    struct check_def d;
    check_def_init(&d, CHECK_KIND_HTTP);
    d.interval_ms = 20;
    struct check *ch = start_http(f, &rh, &d, url);
    check_def_init(&d, CHECK_KIND_TCP);
    d.tcp = addr;
    d.interval_ms = 20;
    struct check *ct = check_start(f->env, &d, rec_cb, &rt);
    check_def_init(&d, CHECK_KIND_SCRIPT);
    d.interval_ms = 20;
    struct check *cs = start_sh(f, &rs, "echo hi", &d);
    struct check *cl = start_ttl(f, &rl, 50, 0);
    run_for(f, 300);
    assert_true(rh.n >= 1 && rt.n >= 1 && rs.n >= 1 && rl.n >= 1);
    check_stop(ch);
    check_stop(ct);
    check_stop(cs);
    check_stop(cl);
    srv_close(f, &s);
    fx_teardown(&st);
}

static void no_fd_leaked_across_env_lifetimes(void **state)
{
    (void)state;
    one_cycle(); /* warm up process-wide state (libuv signal pipe, curl) */
    int before = count_fds();
    one_cycle();
    one_cycle();
    assert_int_equal(count_fds(), before);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0); /* keep messages if a sanitizer aborts */
    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_ERROR);
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sm_defaults_update_on_every_result),
        cmocka_unit_test(sm_success_before_passing_needs_consecutive_successes),
        cmocka_unit_test(sm_warning_results_count_as_successes),
        cmocka_unit_test(sm_failures_before_critical_alone_skips_warning),
        cmocka_unit_test(
            sm_warning_threshold_below_critical_shows_warning_first),
        cmocka_unit_test(sm_warning_threshold_above_critical_never_warns),
        cmocka_unit_test(sm_success_resets_failure_count),
        cmocka_unit_test(sm_both_thresholds_flap_only_after_streaks),
        cmocka_unit_test(sm_every_threshold_combination),
        cmocka_unit_test(sm_feed_accepts_null_out),
        cmocka_unit_test(status_names_round_trip),
        cmocka_unit_test(def_validate_requires_kind_fields),
        T(ttl_expires_and_update_refreshes),
        T(ttl_updates_keep_it_alive),
        T(ttl_output_truncated_like_consul),
        T(ttl_update_rejects_other_kinds),
        T(http_status_codes_map_to_health),
        T(http_reports_only_changes),
        T(http_interval_counts_from_end_of_probe),
        T(http_interval_is_raised_to_env_minimum),
        T(http_body_keeps_last_output_max_bytes),
        T(http_sends_method_headers_and_body),
        T(http_defaults_get_with_consul_headers),
        T(http_bad_header_is_critical_without_request),
        T(http_timeout_is_critical),
        T(http_failures_before_critical_holds_status),
        T(tcp_passes_then_fails_when_listener_closes),
        T(tcp_resolves_names),
        T(tcp_bad_address_is_critical),
        T(script_exit_codes_map_to_health),
        T(script_output_merged_and_tail_kept),
        T(script_large_output_never_blocks_the_child),
        T(script_timeout_kills_process_group),
        T(script_timeout_without_output),
        T(script_never_runs_twice_at_once),
        T(script_missing_program_is_critical),
        T(script_found_in_path),
        T(stop_with_probes_in_flight_is_silent_and_clean),
        T(stop_from_inside_the_callback),
        T(https_to_a_plain_server_is_critical),
        cmocka_unit_test(no_fd_leaked_across_env_lifetimes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
