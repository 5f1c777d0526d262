/*
 * Simulator scenarios for encryption: key rotation mid-run (install, use,
 * remove, staggered across the cluster) loses no member; a node with a
 * wrong key can neither join nor inject anything and both sides say why; a
 * new node that only has the not-yet-primary key joins (consul#719); a
 * different cluster label is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "sim.h"

#define N 50

static struct sim *cluster(uint64_t seed, int slots, int n)
{
    struct sim_opts o = {.n = slots,
                         .seed = seed,
                         .profile = GOSSIP_PROFILE_LAN,
                         .encrypt = true,
                         .latency_ms = 1,
                         .jitter_ms = 2};
    struct sim *s = sim_new(&o);
    int64_t t = sim_converge(s, n, 20, 60000);
    SIM_CHECK(s, t >= 0, "no full mesh of %d nodes within 60 s", n);
    return s;
}

static void make_key(uint8_t *k, uint8_t seed)
{
    for (int i = 0; i < GOSSIP_KEY_SIZE; i++)
        k[i] = (uint8_t)(seed * 31 + i * 7 + 1);
}

static uint64_t key_rx(struct sim *s, const uint8_t *key)
{
    uint64_t total = 0;
    for (int i = 0; i < s->o.n; i++) {
        struct gossip_key_info ki[GOSSIP_KEYRING_MAX];
        size_t n;
        if (!s->nodes[i].up)
            continue;
        n = gossip_keyring_list(s->nodes[i].g, ki, GOSSIP_KEYRING_MAX);
        for (size_t j = 0; j < n; j++)
            if (!memcmp(ki[j].key, key, GOSSIP_KEY_SIZE))
                total += ki[j].rx_count;
    }
    return total;
}

/* install -> use -> remove across 50 running nodes, each step staggered so
 * the cluster is mixed for a while; no member may be lost. */
static void key_rotation(void **state)
{
    static const uint64_t seeds[] = {401, 402};
    (void)state;
    for (int k = 0; k < 2; k++) {
        struct sim *s = cluster(seeds[k], N, N);
        uint8_t k1[GOSSIP_KEY_SIZE], k2[GOSSIP_KEY_SIZE];
        uint64_t k1_before, k1_after;
        memcpy(k1, s->key, sizeof(k1));
        make_key(k2, (uint8_t)seeds[k]);
        for (int i = 0; i < N; i++) {
            assert_int_equal(gossip_keyring_install(s->nodes[i].g, k2), 0);
            sim_run_for(s, 100);
        }
        sim_run_for(s, 5000);
        for (int i = 0; i < N; i++) {
            int j = (i * 7) % N; /* a different order */
            assert_int_equal(gossip_keyring_use(s->nodes[j].g, k2), 0);
            sim_run_for(s, 200);
        }
        /* After everyone switched, the old key falls out of use as soon as
         * each pair has exchanged a packet (about one probe pass). */
        sim_run_for(s, 120000);
        k1_before = key_rx(s, k1);
        sim_run_for(s, 60000);
        k1_after = key_rx(s, k1);
        SIM_CHECK(s, k1_after == k1_before,
                  "old key still used after everyone switched (%llu -> "
                  "%llu)",
                  (unsigned long long)k1_before, (unsigned long long)k1_after);
        for (int i = 0; i < N; i++) {
            assert_int_equal(gossip_keyring_remove(s->nodes[i].g, k1), 0);
            sim_run_for(s, 100);
        }
        sim_run_for(s, 60000);
        SIM_CHECK(s, s->false_failed == 0, "%llu false failures",
                  (unsigned long long)s->false_failed);
        SIM_CHECK(s, sim_full_mesh(s), "no full mesh after rotation");
        for (int i = 0; i < N; i++) {
            struct gossip_key_info ki[GOSSIP_KEYRING_MAX];
            size_t n = gossip_keyring_list(s->nodes[i].g, ki, 4);
            assert_int_equal(n, 1);
            assert_memory_equal(ki[0].key, k2, GOSSIP_KEY_SIZE);
            assert_true(ki[0].primary);
        }
        sim_free(s);
    }
}

static bool knows(struct sim *s, int j)
{
    for (int i = 0; i < s->o.n; i++)
        if (i != j && s->nodes[i].up && sim_state(s, i, j) >= 0)
            return true;
    return false;
}

/* A node with the wrong key: its join is refused (and it says why), the
 * seed says why, nobody lists it; packets it sends are dropped. */
static void wrong_key_refused(void **state)
{
    struct sim *s = cluster(411, N + 1, N);
    struct sim_node *bad = &s->nodes[N];
    struct gossip_stats st0, st1;
    (void)state;
    make_key(bad->keys[0], 99);
    bad->nkeys = 1;
    sim_boot(bad->sim, N);
    gossip_stats(s->nodes[0].g, &st0);
    sim_join(s, N, 0);
    sim_run_for(s, 20000);
    SIM_CHECK(s, bad->join_status == GOSSIP_E_REJECTED, "join status %d (%s)",
              bad->join_status, gossip_strerror(bad->join_status));
    SIM_CHECK(s, strstr(bad->last_warn, "unknown key") != NULL,
              "joiner's log: %s", bad->last_warn);
    SIM_CHECK(s, strstr(s->nodes[0].last_warn, "unknown key") != NULL,
              "seed's log: %s", s->nodes[0].last_warn);
    SIM_CHECK(s, !knows(s, N), "someone lists the wrong-key node");
    SIM_CHECK(s, gossip_member_count(bad->g) == 1, "bad node learned %zu",
              gossip_member_count(bad->g));

    /* Injection: a well-formed alive for a fake node, sealed with the
     * wrong key, in cleartext, and (control) with the right key. */
    {
        uint8_t pt[512], out[600];
        struct wbuf w;
        struct msg_alive a;
        struct keyring kr;
        struct gossip_id me = {{0x77, 1, 2, 3}};
        struct gossip_addr addr;
        size_t mark;
        int n;
        memset(&a, 0, sizeof(a));
        a.id.b[0] = 0x77;
        a.id.b[1] = 9;
        a.inc.gen = 5;
        a.inc.ctr = 1;
        gossip_addr_parse("10.9.9.9:7946", 7946, &addr);
        a.addr = addr;
        a.vsn[0] = a.vsn[1] = a.vsn[2] = 1;
        a.name = "intruder";
        a.name_len = 8;
        gossip__wbuf_fixed(&w, pt, sizeof(pt));
        gossip__enc_hdr(&w, PROTO_KIND_PACKET, &me, &addr, 0);
        gossip__put_u8(&w, 1);
        mark = gossip__part_begin(&w, GOSSIP_MSG_ALIVE);
        gossip__enc_alive(&w, &a);
        gossip__part_end(&w, mark);
        assert_int_equal(w.err, 0);

        gossip__keyring_init(&kr);
        gossip__keyring_install(&kr, bad->keys[0], GOSSIP_KEY_SIZE);
        n = gossip__env_seal(&kr.keys[0], false, "", 0,
                             1700000000000ull + sim_now_ms(s), pt, w.len, out,
                             sizeof(out));
        assert_true(n > 0);
        sim_inject(s, 1, out, (size_t)n);
        /* cleartext */
        {
            uint8_t tag[4];
            size_t len;
            gossip__label_tag("", 0, tag);
            len = gossip__clear_wrap(0, tag, pt, w.len, out);
            sim_inject(s, 1, out, len);
        }
        sim_run_for(s, 5000);
        {
            struct gossip_member m;
            SIM_CHECK(s,
                      gossip_member_by_id(s->nodes[1].g, &a.id, &m) ==
                          GOSSIP_E_NOT_FOUND,
                      "intruder accepted");
        }
        gossip_stats(s->nodes[1].g, &st1);
        SIM_CHECK(s, st1.pkts_rejected >= 2, "rejected %llu",
                  (unsigned long long)st1.pkts_rejected);
        /* control: the right key is accepted */
        gossip__keyring_wipe(&kr);
        gossip__keyring_init(&kr);
        gossip__keyring_install(&kr, s->key, GOSSIP_KEY_SIZE);
        n = gossip__env_seal(&kr.keys[0], false, "", 0,
                             1700000000000ull + sim_now_ms(s), pt, w.len, out,
                             sizeof(out));
        sim_inject(s, 1, out, (size_t)n);
        {
            struct gossip_member m;
            SIM_CHECK(s, gossip_member_by_id(s->nodes[1].g, &a.id, &m) == 0,
                      "control packet with the right key not accepted");
        }
        /* the same packet again is a replay */
        gossip_stats(s->nodes[1].g, &st0);
        sim_inject(s, 1, out, (size_t)n);
        gossip_stats(s->nodes[1].g, &st1);
        SIM_CHECK(s, st1.pkts_rejected == st0.pkts_rejected + 1,
                  "replay not rejected");
        gossip__keyring_wipe(&kr);
    }
    sim_free(s);
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

/* consul#719: the cluster has K1 primary and K2 installed; a new node that
 * only has K2 joins and stays alive. */
static void join_with_secondary_key(void **state)
{
    struct sim_opts o = {.n = N + 1,
                         .seed = 421,
                         .profile = GOSSIP_PROFILE_LAN,
                         .encrypt = true,
                         .latency_ms = 1,
                         .jitter_ms = 2};
    struct sim *s = sim_new(&o);
    uint8_t k2[GOSSIP_KEY_SIZE];
    struct join_arg a = {N};
    int64_t t;
    (void)state;
    make_key(k2, 42);
    for (int i = 0; i < N; i++) {
        memcpy(s->nodes[i].keys[0], s->key, GOSSIP_KEY_SIZE);
        memcpy(s->nodes[i].keys[1], k2, GOSSIP_KEY_SIZE);
        s->nodes[i].nkeys = 2;
    }
    memcpy(s->nodes[N].keys[0], k2, GOSSIP_KEY_SIZE);
    s->nodes[N].nkeys = 1;
    SIM_CHECK(s, sim_converge(s, N, 20, 60000) >= 0, "no mesh");
    sim_boot(s, N);
    sim_join(s, N, 5);
    t = sim_run_until(s, joined, &a, 10000, 10);
    SIM_CHECK(s, t >= 0, "secondary-key node did not converge");
    sim_run_for(s, 120000);
    SIM_CHECK(s, joined(s, &a), "secondary-key node lost");
    SIM_CHECK(s, s->false_failed == 0, "%llu false failures",
              (unsigned long long)s->false_failed);
    sim_free(s);
}

/* A node with another cluster label (same key) can neither join nor be
 * heard: the label is authenticated as associated data. */
static void other_label_refused(void **state)
{
    struct sim *s = cluster(431, N + 1, 10);
    struct sim_node *o = &s->nodes[N];
    (void)state;
    snprintf(o->label, sizeof(o->label), "other-dc");
    sim_boot(s, N);
    sim_join(s, N, 1);
    sim_run_for(s, 20000);
    SIM_CHECK(s, o->join_status == GOSSIP_E_REJECTED, "join status %d",
              o->join_status);
    SIM_CHECK(s, strstr(s->nodes[1].last_warn, "authentication") != NULL,
              "seed's log: %s", s->nodes[1].last_warn);
    SIM_CHECK(s, !knows(s, N), "someone lists the other-label node");
    sim_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(key_rotation),
        cmocka_unit_test(wrong_key_refused),
        cmocka_unit_test(join_with_secondary_key),
        cmocka_unit_test(other_label_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
