/*
 * Simulator scenarios (spec 6): join convergence, dissemination of user
 * events and metadata, graceful leave, crash + restart. N=50, a few seeds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"

#define N 50
static const uint64_t SEEDS[] = {1, 2, 3};
#define NSEEDS (int)(sizeof(SEEDS) / sizeof(SEEDS[0]))

static struct sim *cluster(uint64_t seed, int slots, bool encrypt)
{
    struct sim_opts o = {.n = slots,
                         .seed = seed,
                         .profile = GOSSIP_PROFILE_LAN,
                         .encrypt = encrypt,
                         .latency_ms = 1,
                         .jitter_ms = 2};
    struct sim *s = sim_new(&o);
    int64_t t = sim_converge(s, N, 20, 60000);
    SIM_CHECK(s, t >= 0, "no full mesh of %d nodes within 60 s", N);
    return s;
}

struct join_arg
{
    int node;
};

static bool joined(struct sim *s, void *arg)
{
    int j = ((struct join_arg *)arg)->node;
    for (int i = 0; i < s->o.n; i++) {
        if (i == j || !s->nodes[i].up)
            continue;
        if (sim_state(s, i, j) != GOSSIP_ALIVE ||
            sim_state(s, j, i) != GOSSIP_ALIVE)
            return false;
    }
    return true;
}

/* A new node joining a converged cluster is known by all and knows all
 * within the target (N=50: 2 s). Cold start of all 50 must converge too. */
static void join_convergence(void **state)
{
    uint64_t seeds[8];
    int ns = sim_seeds(seeds, 8, SEEDS, NSEEDS);
    double worst = 0;
    (void)state;
    for (int k = 0; k < ns; k++) {
        struct sim *s = cluster(seeds[k], N + 1, false);
        struct join_arg a = {N};
        int64_t t;
        sim_run_for(s, 5000);
        sim_boot(s, N);
        sim_join(s, N, (int)(seeds[k] % N));
        t = sim_run_until(s, joined, &a, 10000, 10);
        SIM_CHECK(s, t >= 0, "node %d not converged after 10 s", N);
        SIM_CHECK(s, t <= 2000, "join convergence %lld ms > 2000 ms",
                  (long long)t);
        SIM_CHECK(s, s->nodes[N].join_status == 0, "join status %d",
                  s->nodes[N].join_status);
        SIM_CHECK(s, s->false_failed == 0, "%llu false failures",
                  (unsigned long long)s->false_failed);
        if ((double)t > worst)
            worst = (double)t;
        sim_free(s);
    }
    printf(
        "join convergence N=%d: worst %.0f ms over %d seeds (target "
        "2000)\n",
        N, worst, ns);
}

static bool delivered_all(struct sim *s, void *arg)
{
    size_t k = *(size_t *)arg;
    return s->ue[k].delivered >= sim_count_up(s);
}

/* One user event reaches every live node: p50 <= 0.8 s, p99 <= 1.5 s. */
static void dissemination(void **state)
{
    uint64_t seeds[8];
    int ns = sim_seeds(seeds, 8, SEEDS, NSEEDS);
    double times[8 * 10];
    size_t nt = 0;
    (void)state;
    for (int k = 0; k < ns; k++) {
        struct sim *s = cluster(seeds[k], N, k == 0);
        sim_run_for(s, 3000);
        for (int e = 0; e < 10; e++) {
            size_t ev =
                sim_user_event(s, (int)((seeds[k] * 7 + (uint64_t)e * 13) % N));
            int64_t t = sim_run_until(s, delivered_all, &ev, 10000, 10);
            SIM_CHECK(s, t >= 0, "user event %zu reached %d of %d", ev,
                      s->ue[ev].delivered, sim_count_up(s));
            times[nt++] =
                (double)(s->ue[ev].last_us - s->ue[ev].sent_us) / 1000.0;
            sim_run_for(s, 2000);
        }
        SIM_CHECK(s, s->false_failed == 0, "false failures");
        sim_free(s);
    }
    {
        double p50 = sim_pct(times, nt, 50), p99 = sim_pct(times, nt, 99);
        printf(
            "dissemination N=%d: p50 %.0f ms (target 800), p99 %.0f ms "
            "(target 1500), %zu events\n",
            N, p50, p99, nt);
        assert_true(p50 <= 800);
        assert_true(p99 <= 1500);
    }
}

static void no_eager(struct gossip_params *p)
{
    p->eager_gap_ms = 0;
}

/* Eager push (gossip_params.eager_gap_ms): a new broadcast leaves on an
 * extra round instead of waiting for the next 200 ms tick, so one update
 * reaches all N in a few hops' network time; and since every broadcast is
 * still sent at most the retransmit limit times, the bytes on the wire stay
 * about the same as with tick-only gossip. Same seed, same events, both
 * ways. */
static void eager_push(void **state)
{
    double p99[2], bytes[2];
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        struct sim_opts o = {.n = N,
                             .seed = 7,
                             .profile = GOSSIP_PROFILE_LAN,
                             .latency_ms = 1,
                             .jitter_ms = 2,
                             .tweak = mode ? no_eager : NULL};
        struct sim *s = sim_new(&o);
        double times[20];
        uint64_t b0;
        SIM_CHECK(s, sim_converge(s, N, 20, 60000) >= 0, "no full mesh");
        sim_run_for(s, 3000);
        b0 = s->pkt_bytes;
        for (int e = 0; e < 20; e++) {
            size_t ev = sim_user_event(s, (e * 7) % N);
            int64_t t = sim_run_until(s, delivered_all, &ev, 10000, 1);
            SIM_CHECK(s, t >= 0, "user event %zu reached %d of %d", ev,
                      s->ue[ev].delivered, sim_count_up(s));
            times[e] = (double)(s->ue[ev].last_us - s->ue[ev].sent_us) / 1000.0;
            sim_run_for(s, 3000);
        }
        p99[mode] = sim_pct(times, 20, 99);
        bytes[mode] = (double)(s->pkt_bytes - b0);
        SIM_CHECK(s, s->false_failed == 0, "false failures");
        sim_free(s);
    }
    printf("eager push N=%d: p99 %.0f ms (tick only %.0f ms), bytes %.0f "
           "(tick only %.0f)\n",
           N, p99[0], p99[1], bytes[0], bytes[1]);
    assert_true(p99[0] <= 200);          /* a few hops of <= 20 ms + links */
    assert_true(p99[0] * 4 <= p99[1]);   /* and clearly faster than ticks */
    assert_true(bytes[0] <= bytes[1] * 1.3);
}

struct meta_arg
{
    int node;
    const char *meta;
};

static bool meta_everywhere(struct sim *s, void *arg)
{
    struct meta_arg *a = arg;
    struct gossip_member m;
    size_t len = strlen(a->meta);
    for (int i = 0; i < s->o.n; i++) {
        if (!s->nodes[i].up)
            continue;
        if (gossip_member_by_id(s->nodes[i].g, &s->nodes[a->node].id, &m))
            return false;
        if (m.meta_len != len || memcmp(m.meta, a->meta, len) != 0)
            return false;
    }
    return true;
}

static void metadata_update(void **state)
{
    struct sim *s = cluster(11, N, false);
    struct meta_arg a = {5, "role=server,dc=dc1"};
    int64_t t;
    (void)state;
    gossip_set_meta(s->nodes[5].g, (const uint8_t *)a.meta, strlen(a.meta));
    t = sim_run_until(s, meta_everywhere, &a, 10000, 10);
    SIM_CHECK(s, t >= 0 && t <= 1500, "metadata took %lld ms", (long long)t);
    sim_free(s);
}

struct see_arg
{
    int node, st;
};

static bool all_see(struct sim *s, void *arg)
{
    struct see_arg *a = arg;
    return sim_all_see(s, a->node, a->st);
}

/* A graceful leave is seen as "left" everywhere, never "failed". */
static void leave(void **state)
{
    uint64_t seeds[8];
    int ns = sim_seeds(seeds, 8, SEEDS, NSEEDS);
    (void)state;
    for (int k = 0; k < ns; k++) {
        struct sim *s = cluster(seeds[k], N, false);
        struct see_arg a = {7, GOSSIP_LEFT};
        int64_t t;
        sim_run_for(s, 2000);
        sim_leave(s, 7);
        t = sim_run_until(s, all_see, &a, 10000, 10);
        SIM_CHECK(s, t >= 0, "leave not seen everywhere");
        sim_run_for(s, 2000);
        SIM_CHECK(s, s->nodes[7].leave_done && s->nodes[7].leave_status == 0,
                  "leave did not complete (%d)", s->nodes[7].leave_status);
        SIM_CHECK(s, !s->nodes[7].up, "left node still running");
        sim_run_for(s, 60000);
        SIM_CHECK(s, sim_all_see(s, 7, GOSSIP_LEFT), "left became %d",
                  sim_state(s, 1, 7));
        SIM_CHECK(s, s->failed_about[7] == 0, "left node marked failed");
        SIM_CHECK(s, s->false_failed == 0, "false failures");
        printf("leave seen everywhere after %lld ms (seed %llu)\n",
               (long long)t, (unsigned long long)seeds[k]);
        sim_free(s);
    }
}

/* kill -9, then restart with the same ID: failed everywhere, then alive
 * everywhere again (a higher generation outranks the old life). */
static void crash_restart(void **state)
{
    struct sim *s = cluster(21, N, true);
    struct see_arg dead = {9, GOSSIP_DEAD}, alive = {9, GOSSIP_ALIVE};
    int64_t t;
    (void)state;
    sim_kill(s, 9);
    t = sim_run_until(s, all_see, &dead, 60000, 50);
    SIM_CHECK(s, t >= 0, "crash not detected everywhere");
    sim_restart(s, 9, 3);
    t = sim_run_until(s, all_see, &alive, 10000, 10);
    SIM_CHECK(s, t >= 0 && t <= 3000, "restart took %lld ms", (long long)t);
    SIM_CHECK(s, sim_full_mesh(s), "no full mesh after restart");
    SIM_CHECK(s, s->false_failed == 0, "false failures");
    sim_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(join_convergence), cmocka_unit_test(dissemination),
        cmocka_unit_test(eager_push),
        cmocka_unit_test(metadata_update),  cmocka_unit_test(leave),
        cmocka_unit_test(crash_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
