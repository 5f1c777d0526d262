/*
 * Simulator scenarios: a partition that heals (both halves declare the
 * other failed, then the reconnect push/pulls merge them back), and a
 * one-way link cut that indirect probes must bridge without any failure.
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
static const uint64_t SEEDS[] = {301, 302, 303};
#define NSEEDS (int)(sizeof(SEEDS) / sizeof(SEEDS[0]))

static struct sim *cluster(uint64_t seed, bool encrypt)
{
    struct sim_opts o = {.n = N,
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

static bool halves_split(struct sim *s, void *arg)
{
    const int *side = arg;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            int st = sim_state(s, i, j);
            if (side[i] != side[j] && st != GOSSIP_DEAD)
                return false;
            if (side[i] == side[j] && i != j && st != GOSSIP_ALIVE)
                return false;
        }
    return true;
}

static bool mesh(struct sim *s, void *arg)
{
    (void)arg;
    return sim_full_mesh(s);
}

static void partition_and_heal(void **state)
{
    uint64_t seeds[8];
    int ns = sim_seeds(seeds, 8, SEEDS, NSEEDS);
    (void)state;
    for (int k = 0; k < ns; k++) {
        struct sim *s = cluster(seeds[k], seeds[k] % 2 == 0);
        int side[N];
        int64_t split, heal;
        for (int i = 0; i < N; i++)
            side[i] = i % 2; /* interleaved halves of 25 */
        sim_run_for(s, 2000);
        sim_partition(s, side);
        split = sim_run_until(s, halves_split, side, 120000, 100);
        SIM_CHECK(s, split >= 0, "halves did not split cleanly in 120 s");
        /* long enough that gossip to the dead has stopped: only the
         * reconnect push/pulls can merge the halves */
        sim_run_for(s, 90000);
        SIM_CHECK(s, halves_split(s, side), "split view did not hold");
        sim_partition(s, NULL);
        heal = sim_run_until(s, mesh, NULL, 180000, 100);
        SIM_CHECK(s, heal >= 0, "no full mesh 180 s after healing");
        printf(
            "partition (seed %llu): split after %.1f s, healed after "
            "%.1f s\n",
            (unsigned long long)seeds[k], (double)split / 1000.0,
            (double)heal / 1000.0);
        /* and it stays healed */
        sim_run_for(s, 60000);
        SIM_CHECK(s, sim_full_mesh(s), "mesh did not hold after healing");
        sim_free(s);
    }
}

/* A -> B cut one way (UDP and streams): B's acks to A and A's pings to B
 * go through helpers; nobody may be declared failed. */
static void one_way_cut(void **state)
{
    uint64_t seeds[8];
    int ns = sim_seeds(seeds, 8, SEEDS, 2);
    (void)state;
    for (int k = 0; k < ns; k++) {
        struct sim *s = cluster(seeds[k], false);
        sim_cut_one_way(s, 3, 4, true);
        sim_cut_one_way(s, 10, 11, true);
        sim_cut_one_way(s, 12, 10, true);
        sim_run_for(s, 10 * 60 * 1000);
        SIM_CHECK(s, s->false_failed == 0, "%llu false failures",
                  (unsigned long long)s->false_failed);
        SIM_CHECK(s, sim_full_mesh(s), "no full mesh");
        sim_free(s);
    }
}

/* A node that is isolated for a while (both directions) is declared
 * failed, then comes back on its own once the network returns. */
static void isolated_node_returns(void **state)
{
    struct sim *s = cluster(311, true);
    int side[N];
    int64_t t;
    (void)state;
    for (int i = 0; i < N; i++)
        side[i] = i == 6;
    sim_partition(s, side);
    sim_run_for(s, 90000);
    SIM_CHECK(s, sim_all_see(s, 6, GOSSIP_DEAD), "isolated node not failed");
    sim_partition(s, NULL);
    t = sim_run_until(s, mesh, NULL, 120000, 100);
    SIM_CHECK(s, t >= 0, "isolated node did not come back");
    printf("isolated node back everywhere after %.1f s\n", (double)t / 1e3);
    sim_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(partition_and_heal),
        cmocka_unit_test(one_way_cut),
        cmocka_unit_test(isolated_node_returns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
