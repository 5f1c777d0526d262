/* Light tests of gossip/env_uv.c: real UDP and TCP on 127.0.0.1, a few
 * instances in one process and one loop, with fast timers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "gossip.h"

struct inst
{
    struct gossip_uv *u;
    char name[16];
    int join_status;
    bool closed;
    bool left;
    char last_warn[256];
};

static uv_loop_t loop;
static struct inst *registry[16]; /* for teardown after a failed assert */
static int nregistry;

static void inst_log(void *data, enum gossip_log_level lvl, const char *msg)
{
    struct inst *in = data;
    if (lvl <= GOSSIP_LOG_WARN)
        snprintf(in->last_warn, sizeof(in->last_warn), "%s", msg);
    if (getenv("UV_VERBOSE"))
        fprintf(stderr, "%s: %s\n", in->name, msg);
}

static void fast(struct gossip_params *p)
{
    gossip_params_profile(GOSSIP_PROFILE_LOCAL, p);
    p->probe_interval_ms = 400;
    p->probe_timeout_ms = 200;
    p->gossip_interval_ms = 50;
    p->push_pull_interval_ms = 2000;
    p->reconnect_interval_ms = 2000;
    p->tcp_timeout_ms = 1000;
}

static void (*tweak)(struct gossip_params *p); /* per test, after fast() */

static void start(struct inst *in, const char *name, const uint8_t *key)
{
    struct gossip_config cfg;
    struct gossip_uv_options opt = {.bind_ip = "127.0.0.1",
                                    .bind_port = 0,
                                    .log = inst_log,
                                    .log_data = in};
    uint8_t keys[1][GOSSIP_KEY_SIZE];
    memset(in, 0, sizeof(*in));
    snprintf(in->name, sizeof(in->name), "%s", name);
    if (nregistry < 16)
        registry[nregistry++] = in;
    gossip_config_init(&cfg, GOSSIP_PROFILE_LOCAL);
    fast(&cfg.params);
    if (tweak)
        tweak(&cfg.params);
    cfg.name = in->name;
    cfg.generation = 1;
    if (key) {
        memcpy(keys[0], key, GOSSIP_KEY_SIZE);
        cfg.keys = (const uint8_t(*)[GOSSIP_KEY_SIZE])keys;
        cfg.nkeys = 1;
    }
    assert_int_equal(gossip_uv_new(&loop, &cfg, &opt, &in->u), 0);
    assert_true(gossip_uv_port(in->u) > 0);
    gossip_start(gossip_uv_core(in->u));
    in->join_status = 1;
}

static void joined(struct gossip *g, int status, unsigned n, void *data)
{
    struct inst *in = data;
    (void)g;
    (void)n;
    in->join_status = status;
}

static void join(struct inst *in, struct inst *seed)
{
    struct gossip_addr a;
    char s[32];
    snprintf(s, sizeof(s), "127.0.0.1:%u", gossip_uv_port(seed->u));
    assert_int_equal(gossip_addr_parse(s, 0, &a), 0);
    assert_int_equal(gossip_join(gossip_uv_core(in->u), &a, 1, joined, in), 0);
}

static void closed(void *data)
{
    ((struct inst *)data)->closed = true;
}

static void stop(struct inst *in)
{
    if (in->u && !in->closed) {
        gossip_uv_close(in->u, closed, in);
        in->u = NULL;
    }
}

/* ---- run the loop until a predicate holds -------------------------------- */

typedef bool (*pred_fn)(void *arg);
struct waiter
{
    pred_fn pred;
    void *arg;
    uint64_t deadline;
    bool ok;
};

static void check(uv_timer_t *t)
{
    struct waiter *w = t->data;
    if (w->pred(w->arg)) {
        w->ok = true;
        uv_stop(&loop);
    } else if (uv_now(&loop) >= w->deadline) {
        uv_stop(&loop);
    }
}

static bool wait_for(pred_fn pred, void *arg, uint64_t ms)
{
    uv_timer_t t;
    struct waiter w = {pred, arg, 0, false};
    uv_update_time(&loop);
    w.deadline = uv_now(&loop) + ms;
    uv_timer_init(&loop, &t);
    t.data = &w;
    uv_timer_start(&t, check, 10, 10);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    return w.ok;
}

static int state(struct inst *obs, struct inst *of)
{
    struct gossip_member m;
    if (!obs->u)
        return -1;
    if (gossip_member_by_name(gossip_uv_core(obs->u), of->name, &m))
        return -1;
    return (int)m.state;
}

struct group
{
    struct inst *v;
    int n;
    int want;
    struct inst *subject;
};

static bool all_alive(void *arg)
{
    struct group *gr = arg;
    for (int i = 0; i < gr->n; i++)
        for (int j = 0; j < gr->n; j++)
            if (i != j && state(&gr->v[i], &gr->v[j]) != GOSSIP_ALIVE)
                return false;
    return true;
}

static bool all_see_subject(void *arg)
{
    struct group *gr = arg;
    for (int i = 0; i < gr->n; i++)
        if (&gr->v[i] != gr->subject && gr->v[i].u &&
            state(&gr->v[i], gr->subject) != gr->want)
            return false;
    return true;
}

static bool all_closed(void *arg)
{
    struct group *gr = arg;
    for (int i = 0; i < gr->n; i++)
        if (!gr->v[i].closed && gr->v[i].join_status != -999)
            return false;
    return true;
}

static void shutdown_all(struct inst *v, int n)
{
    struct group gr = {v, n, 0, NULL};
    for (int i = 0; i < n; i++)
        stop(&v[i]);
    assert_true(wait_for(all_closed, &gr, 5000));
}

static bool inst_closed(void *arg)
{
    return ((struct inst *)arg)->closed;
}

static void left_cb(struct gossip *g, int status, unsigned n, void *data)
{
    struct inst *in = data;
    (void)g;
    (void)n;
    in->left = status == 0;
    stop(in); /* closing from inside the callback is allowed */
}

static void three_nodes_encrypted(void **st)
{
    struct inst v[3];
    uint8_t key[GOSSIP_KEY_SIZE];
    struct group gr = {v, 3, 0, NULL};
    (void)st;
    gossip_keygen(key);
    start(&v[0], "alpha", key);
    start(&v[1], "beta", key);
    start(&v[2], "gamma", key);
    join(&v[1], &v[0]);
    join(&v[2], &v[0]);
    assert_true(wait_for(all_alive, &gr, 10000));
    assert_int_equal(v[1].join_status, 0);
    assert_int_equal(v[2].join_status, 0);

    /* gamma crashes (no goodbye): failed on the other two */
    stop(&v[2]);
    gr.subject = &v[2];
    gr.want = GOSSIP_DEAD;
    assert_true(wait_for(all_see_subject, &gr, 30000));

    /* beta leaves gracefully: left, not failed */
    assert_int_equal(gossip_leave(gossip_uv_core(v[1].u), 3000, left_cb, &v[1]),
                     0);
    gr.subject = &v[1];
    gr.want = GOSSIP_LEFT;
    assert_true(wait_for(all_see_subject, &gr, 10000));
    assert_true(wait_for(inst_closed, &v[1], 5000)); /* left_cb closes it */
    shutdown_all(v, 3);
    assert_true(v[1].left);
}

static void slow_probes(struct gossip_params *p)
{
    p->probe_interval_ms = 2000;
    p->probe_timeout_ms = 1000;
}

static bool alpha_suspects_beta(void *arg)
{
    struct inst *v = arg;
    int st = state(&v[0], &v[1]);
    return st == GOSSIP_SUSPECT || st == GOSSIP_DEAD;
}

/* Watch ring: alpha watches beta (its only peer) over an idle stream
 * connection. When beta's process goes away its sockets close; alpha
 * probes at once, the stream ping is refused, and beta is suspect well
 * before even the direct-ping timeout (1 s here) could have passed. */
static void watch_ring_crash(void **st)
{
    struct inst v[2];
    struct group gr = {v, 2, 0, NULL};
    struct gossip_stats s0, s1;
    uint64_t t0;
    (void)st;
    tweak = slow_probes;
    start(&v[0], "alpha", NULL);
    start(&v[1], "beta", NULL);
    tweak = NULL;
    join(&v[1], &v[0]);
    assert_true(wait_for(all_alive, &gr, 10000));
    /* both have had a probe tick (which sets up the watch) */
    wait_for(inst_closed, &v[0], 2600);
    gossip_stats(gossip_uv_core(v[0].u), &s0);
    assert_int_equal(s0.watches_lost, 0);
    uv_update_time(&loop);
    t0 = uv_now(&loop);
    stop(&v[1]); /* a crash: no leave */
    assert_true(wait_for(alpha_suspects_beta, v, 5000));
    uv_update_time(&loop);
    assert_true(uv_now(&loop) - t0 < 300);
    gossip_stats(gossip_uv_core(v[0].u), &s1);
    assert_int_equal(s1.watches_lost, 1);
    assert_true(s1.probes_refused >= 1);
    shutdown_all(v, 2);
}

static bool join_done(void *arg)
{
    return ((struct inst *)arg)->join_status != 1;
}

static void wrong_key_and_cleartext(void **st)
{
    struct inst v[3];
    uint8_t k1[GOSSIP_KEY_SIZE], k2[GOSSIP_KEY_SIZE];
    (void)st;
    gossip_keygen(k1);
    gossip_keygen(k2);
    start(&v[0], "seed", k1);
    start(&v[1], "wrongkey", k2);
    start(&v[2], "cleartext", NULL);
    join(&v[1], &v[0]);
    join(&v[2], &v[0]);
    assert_true(wait_for(join_done, &v[1], 5000));
    assert_true(wait_for(join_done, &v[2], 5000));
    assert_int_equal(v[1].join_status, GOSSIP_E_REJECTED);
    assert_int_equal(v[2].join_status, GOSSIP_E_REJECTED);
    assert_non_null(strstr(v[1].last_warn, "unknown key"));
    assert_non_null(strstr(v[2].last_warn, "unencrypted"));
    assert_int_equal(gossip_member_count(gossip_uv_core(v[0].u)), 1);
    shutdown_all(v, 3);
}

static void cleartext_pair(void **st)
{
    struct inst v[2];
    struct group gr = {v, 2, 0, NULL};
    (void)st;
    start(&v[0], "one", NULL);
    start(&v[1], "two", NULL);
    join(&v[1], &v[0]);
    assert_true(wait_for(all_alive, &gr, 10000));
    shutdown_all(v, 2);
}

static int setup(void **st)
{
    (void)st;
    nregistry = 0;
    return uv_loop_init(&loop);
}

static void close_stray(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Also after a failed assertion: close what is left, never block. */
static int teardown(void **st)
{
    (void)st;
    for (int i = 0; i < nregistry; i++)
        stop(registry[i]);
    for (int i = 0; i < 500 && uv_loop_alive(&loop); i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    uv_walk(&loop, close_stray, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    nregistry = 0;
    return uv_loop_close(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(three_nodes_encrypted, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_key_and_cleartext, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(cleartext_pair, setup, teardown),
        cmocka_unit_test_setup_teardown(watch_ring_crash, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
