/*
 * gossip-sim — the targets table of spec/gossip.md 6.3, measured on the
 * deterministic simulator (tests/sim/sim.c) with LAN parameters and
 * encryption on. For each cluster size and seed, one cluster goes through:
 * cold start (all join one seed at once), one extra join, user-event
 * dissemination, kills, steady-state bandwidth, 1%/min churn (N >= 500),
 * uniform loss at 10% and 30%, and a CPU-starved member. Every figure is
 * printed beside its target.
 *
 *   gossip-sim [-s SEEDS] [-n 50,100,500] [-q]
 *
 * Cost on one core: about 8 s per seed at N=50, 30 s at N=100 and 3 min
 * at N=500, so the full 20-seed table takes a little over an hour; use -s
 * and -n for a quicker look.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

#define MAXV 4096

struct vec
{
    double v[MAXV];
    size_t n;
};

static void push(struct vec *v, double x)
{
    if (v->n < MAXV)
        v->v[v->n++] = x;
}

static double pct(struct vec *v, double p)
{
    return sim_pct(v->v, v->n, p);
}

struct results
{
    struct vec cold, join, dis0, dis10, dis30, det_first, det_all, bw, churn_bw;
    double fp10, fp30, node_hours10, node_hours30;
    double slow_healthy_dead, slow_dead_episodes, slow_episodes;
    unsigned slow_lhm_min;
    double refuted30, susp30;
};

/* ---- predicates ---------------------------------------------------------- */

/* Every up node knows exactly every up node, all alive (counts only: cheap
 * at N=500, exact when no dead entries exist, as in a cold start). */
static bool mesh_by_count(struct sim *s, void *arg)
{
    int up = sim_count_up(s);
    (void)arg;
    for (int i = 0; i < s->o.n; i++)
        if (s->nodes[i].up && !s->nodes[i].left &&
            (int)gossip_num_live(s->nodes[i].g) != up)
            return false;
    return true;
}

static bool joined(struct sim *s, void *arg)
{
    int j = *(int *)arg;
    for (int i = 0; i < s->o.n; i++) {
        if (i == j || !s->nodes[i].up)
            continue;
        if (sim_state(s, i, j) != GOSSIP_ALIVE)
            return false;
    }
    return (int)gossip_num_live(s->nodes[j].g) == sim_count_up(s);
}

static bool delivered(struct sim *s, void *arg)
{
    size_t k = *(size_t *)arg;
    return s->ue[k].delivered >= sim_count_up(s);
}

static bool dead_everywhere(struct sim *s, void *arg)
{
    return sim_all_see(s, *(int *)arg, GOSSIP_DEAD);
}

/* ---- false-positive accounting ------------------------------------------- */

struct fp_track
{
    uint64_t episodes; /* distinct false deaths (subject, until rejoin) */
    uint64_t suspects; /* suspicion episodes about live nodes */
    uint64_t refuted;  /* of which ended alive without a death */
    bool *dead_open, *susp_open;
    int slow; /* subject excluded from "healthy" */
    uint64_t slow_episodes;
    uint64_t first_failed_us;
    int kill_subject;
};

static void fp_hook(struct sim *s,
                    int obs,
                    int subj,
                    enum gossip_event_type t,
                    void *arg)
{
    struct fp_track *f = arg;
    (void)obs;
    if (t == GOSSIP_EV_FAILED && subj == f->kill_subject && !f->first_failed_us)
        f->first_failed_us = s->now_us;
    if (!s->nodes[subj].up)
        return;
    switch (t) {
    case GOSSIP_EV_SUSPECT:
        if (!f->susp_open[subj]) {
            f->susp_open[subj] = true;
            f->suspects++;
        }
        break;
    case GOSSIP_EV_FAILED:
        if (!f->dead_open[subj]) {
            f->dead_open[subj] = true;
            if (subj == f->slow)
                f->slow_episodes++;
            else
                f->episodes++;
        }
        break;
    case GOSSIP_EV_ALIVE:
    case GOSSIP_EV_JOIN:
        if (f->susp_open[subj] && !f->dead_open[subj])
            f->refuted++;
        f->susp_open[subj] = false;
        f->dead_open[subj] = false;
        break;
    default:
        break;
    }
}

static uint64_t total_bytes(struct sim *s)
{
    return s->pkt_bytes + s->stream_bytes;
}

/* ---- one seed ------------------------------------------------------------ */

static void run_seed(int n, uint64_t seed, struct results *r, bool quiet)
{
    struct sim_opts o = {.n = n + 1,
                         .seed = seed,
                         .profile = GOSSIP_PROFILE_LAN,
                         .encrypt = true,
                         .latency_ms = 1,
                         .jitter_ms = 4};
    struct sim *s = sim_new(&o);
    struct fp_track f;
    int64_t t;
    uint64_t b0;
    double node_min;
    memset(&f, 0, sizeof(f));
    f.dead_open = calloc((size_t)n + 1, 1);
    f.susp_open = calloc((size_t)n + 1, 1);
    f.slow = -1;
    f.kill_subject = -1;
    s->hook = fp_hook;
    s->hook_arg = &f;

    /* cold start: n nodes join node 0 at once */
    sim_boot(s, 0);
    for (int i = 1; i < n; i++) {
        sim_boot(s, i);
        sim_join(s, i, 0);
    }
    t = sim_run_until(s, mesh_by_count, NULL, 120000, 100);
    push(&r->cold, t < 0 ? 999 : (double)t / 1000.0);
    sim_run_for(s, 10000);

    /* one more node joins a random member */
    {
        int j = n;
        sim_boot(s, j);
        sim_join(s, j, (int)(seed % (uint64_t)n));
        t = sim_run_until(s, joined, &j, 30000, 10);
        push(&r->join, t < 0 ? 999 : (double)t / 1000.0);
    }
    sim_run_for(s, 5000);

    /* dissemination of user events, 0% loss */
    for (int e = 0; e < 5; e++) {
        size_t k =
            sim_user_event(s, (int)((seed + (uint64_t)e * 7) % (uint64_t)n));
        t = sim_run_until(s, delivered, &k, 30000, 10);
        push(&r->dis0, t < 0 ? 999 : (double)t / 1000.0);
        sim_run_for(s, 1000);
    }

    /* steady-state bandwidth, in + out per node (every byte sent is
     * received once) */
    b0 = total_bytes(s);
    sim_run_for(s, 120000);
    push(&r->bw, 2.0 * (double)(total_bytes(s) - b0) / (n + 1) / 120.0);

    /* kill -9 three nodes, one after the other */
    for (int k = 0; k < 3; k++) {
        int v = 1 + (int)((seed * 31 + (uint64_t)k * 97) % (uint64_t)(n - 1));
        uint64_t t0;
        if (!s->nodes[v].up)
            continue;
        f.kill_subject = v;
        f.first_failed_us = 0;
        t0 = s->now_us;
        sim_kill(s, v);
        t = sim_run_until(s, dead_everywhere, &v, 120000, 10);
        push(&r->det_all, t < 0 ? 999 : (double)t / 1000.0);
        push(&r->det_first,
             f.first_failed_us ? (double)(f.first_failed_us - t0) / 1e6 : 999);
        f.kill_subject = -1;
        sim_restart(s, v, 0);
        sim_run_for(s, 20000);
    }

    /* churn 1%/min for 5 minutes at large N */
    if (n >= 500) {
        int per = n / 100;
        b0 = total_bytes(s);
        for (int m = 0; m < 5; m++) {
            for (int k = 0; k < per; k++) {
                int v =
                    1 + (int)((seed + (uint64_t)m * 13 + (uint64_t)k * 101) %
                              (uint64_t)(n - 1));
                sim_kill(s, v);
                sim_run_for(s, 60000 / (uint64_t)per / 2);
                sim_restart(s, v, 0);
                sim_run_for(s, 60000 / (uint64_t)per / 2);
            }
        }
        push(&r->churn_bw,
             2.0 * (double)(total_bytes(s) - b0) / (n + 1) / 300.0);
        sim_run_for(s, 60000);
    }

    /* uniform loss: false positives per node-hour, dissemination p99 */
    node_min = n >= 500 ? 6 : 30; /* virtual minutes per loss level */
    for (int lv = 0; lv < 2; lv++) {
        double loss = lv ? 0.30 : 0.10;
        uint64_t e0 = f.episodes, s0 = f.suspects, r0 = f.refuted;
        sim_set_loss(s, loss);
        for (int e = 0; e < 3; e++) {
            size_t k =
                sim_user_event(s, (int)((seed + (uint64_t)e) % (uint64_t)n));
            t = sim_run_until(s, delivered, &k, 30000, 10);
            push(lv ? &r->dis30 : &r->dis10, t < 0 ? 999 : (double)t / 1e3);
        }
        sim_run_for(s, (uint64_t)(node_min * 60000));
        sim_set_loss(s, 0);
        sim_run_for(s, 30000); /* let the last suspicions settle */
        if (lv) {
            r->fp30 += (double)(f.episodes - e0);
            r->node_hours30 += (n + 1) * node_min / 60.0;
            r->susp30 += (double)(f.suspects - s0);
            r->refuted30 += (double)(f.refuted - r0);
        } else {
            r->fp10 += (double)(f.episodes - e0);
            r->node_hours10 += (n + 1) * node_min / 60.0;
        }
    }

    /* a CPU-starved member: 2 s late for 60 s, 3 times */
    {
        int slow = 1 + (int)(seed % (uint64_t)(n - 1));
        uint64_t e0 = f.episodes;
        f.slow = slow;
        f.slow_episodes = 0;
        s->nodes[slow].max_health = 0;
        for (int ep = 0; ep < 3; ep++) {
            uint64_t before = f.slow_episodes;
            sim_set_slow(s, slow, 2000);
            sim_run_for(s, 60000);
            sim_set_slow(s, slow, 0);
            sim_run_for(s, 60000);
            r->slow_dead_episodes += f.slow_episodes - before;
            r->slow_episodes += 1;
        }
        r->slow_healthy_dead += (double)(f.episodes - e0);
        if (s->nodes[slow].max_health < r->slow_lhm_min)
            r->slow_lhm_min = s->nodes[slow].max_health;
        f.slow = -1;
    }
    if (!quiet)
        fprintf(stderr, "  N=%d seed %llu done (cold %.1fs)\n", n,
                (unsigned long long)seed, r->cold.v[r->cold.n - 1]);
    free(f.dead_open);
    free(f.susp_open);
    sim_free(s);
}

/* ---- report -------------------------------------------------------------- */

static void row(const char *metric,
                const char *measured,
                const char *target,
                bool ok)
{
    printf("  %-44s %-22s %-18s %s\n", metric, measured, target,
           ok ? "ok" : "MISSED");
}

static void report(int n, int seeds, struct results *r, double secs)
{
    char m[64], t[64];
    double p50, p99;
    printf("\nN=%d, %d seeds, LAN parameters, encryption on (%.0f s wall)\n", n,
           seeds, secs);
    printf("  %-44s %-22s %-18s\n", "metric", "measured", "target");

    p50 = pct(&r->dis0, 50);
    p99 = pct(&r->dis0, 99);
    snprintf(m, sizeof(m), "%.2f / %.2f s", p50, p99);
    {
        double t50 = n <= 50 ? 0.8 : n <= 100 ? 1.0 : 1.3;
        double t99 = n <= 50 ? 1.5 : n <= 100 ? 1.8 : 2.5;
        snprintf(t, sizeof(t), "<= %.1f / %.1f s", t50, t99);
        row("dissemination p50/p99, 0% loss", m, t, p50 <= t50 && p99 <= t99);
    }
    p99 = pct(&r->dis10, 99);
    snprintf(m, sizeof(m), "p99 %.2f s", p99);
    row("dissemination, 10% loss", m, n >= 500 ? "p99 <= 2.5 s" : "-",
        n < 500 || p99 <= 2.5);
    p99 = pct(&r->dis30, 99);
    snprintf(m, sizeof(m), "p99 %.2f s", p99);
    row("dissemination, 30% loss", m, n >= 500 ? "p99 <= 4 s" : "-",
        n < 500 || p99 <= 4.0);

    p99 = pct(&r->join, 100);
    snprintf(m, sizeof(m), "max %.2f s (p50 %.2f)", p99, pct(&r->join, 50));
    {
        double tj = n <= 50 ? 2 : n <= 100 ? 3 : 5;
        snprintf(t, sizeof(t), "<= %.0f s", tj);
        row("join convergence (known by all, knows all)", m, t, p99 <= tj);
    }
    p99 = pct(&r->cold, 100);
    snprintf(m, sizeof(m), "max %.1f s (p50 %.1f)", p99, pct(&r->cold, 50));
    row("cold start, all join one seed at once", m, n >= 500 ? "<= 30 s" : "-",
        n < 500 || p99 <= 30);

    p50 = pct(&r->det_all, 50);
    p99 = pct(&r->det_all, 99);
    snprintf(m, sizeof(m), "%.1f / %.1f s", p50, p99);
    if (n >= 500)
        row("detection kill -> failed everywhere p50/p99", m, "<= 13 / 20 s",
            p50 <= 13 && p99 <= 20);
    else
        row("detection kill -> failed everywhere p50/p99", m,
            n >= 100 ? "<= 10 / 15 s" : "(N=100: 10/15 s)",
            p50 <= 10 && p99 <= 15);
    snprintf(m, sizeof(m), "%.1f s", pct(&r->det_first, 50));
    row("  kill -> first failed, median", m, "-", true);

    snprintf(m, sizeof(m), "%.4f (%.0f in %.0f)", r->fp10 / r->node_hours10,
             r->fp10, r->node_hours10);
    row("false deaths / node-hour, 10% loss", m, "0", r->fp10 == 0);
    snprintf(m, sizeof(m), "%.4f (%.0f in %.0f)", r->fp30 / r->node_hours30,
             r->fp30, r->node_hours30);
    row("false deaths / node-hour, 30% loss", m, "<= 0.01",
        r->fp30 / r->node_hours30 <= 0.01);
    snprintf(m, sizeof(m), "%.0f of %.0f", r->refuted30, r->susp30);
    row("  suspicions refuted, 30% loss", m, "all",
        r->refuted30 + r->fp30 >= r->susp30);
    snprintf(m, sizeof(m), "%.0f", r->slow_healthy_dead);
    row("starved member: healthy nodes declared dead", m, "0",
        r->slow_healthy_dead == 0);
    snprintf(m, sizeof(m), "%.2f", r->slow_dead_episodes / r->slow_episodes);
    row("starved member: its deaths per episode", m, "<= 1",
        r->slow_dead_episodes / r->slow_episodes <= 1);
    snprintf(m, sizeof(m), "min over seeds %u", r->slow_lhm_min);
    row("starved member: its health score", m, ">= 3", r->slow_lhm_min >= 3);

    snprintf(m, sizeof(m), "%.2f KB/s", pct(&r->bw, 50) / 1000.0);
    if (n >= 500)
        row("bandwidth steady, per node in+out", m, "<= 2 KB/s",
            pct(&r->bw, 50) <= 2000);
    else
        row("bandwidth steady, per node in+out", m,
            n >= 100 ? "<= 1.5 KB/s" : "(N=100: 1.5)", pct(&r->bw, 50) <= 1500);
    if (r->churn_bw.n) {
        snprintf(m, sizeof(m), "%.2f KB/s", pct(&r->churn_bw, 50) / 1000.0);
        row("bandwidth, churn 1%/min, per node in+out", m, "<= 10 KB/s",
            pct(&r->churn_bw, 50) <= 10000);
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int seeds = 20, sizes[8] = {50, 100, 500}, nsizes = 3;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-s") && i + 1 < argc) {
            seeds = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
            char *p = argv[++i];
            nsizes = 0;
            while (*p && nsizes < 8) {
                sizes[nsizes++] = (int)strtol(p, &p, 10);
                if (*p == ',')
                    p++;
            }
        } else if (!strcmp(argv[i], "-q")) {
            quiet = true;
        } else {
            fprintf(stderr, "usage: %s [-s SEEDS] [-n 50,100,500] [-q]\n",
                    argv[0]);
            return 2;
        }
    }
    printf("gossip-sim: spec/gossip.md 6.3 targets on the simulator\n");
    for (int k = 0; k < nsizes; k++) {
        struct results *r = calloc(1, sizeof(*r));
        struct timespec a, b;
        if (sizes[k] < 5) {
            free(r);
            continue;
        }
        r->slow_lhm_min = 1000;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int sd = 0; sd < seeds; sd++)
            run_seed(sizes[k], 1000 + (uint64_t)sd, r, quiet);
        clock_gettime(CLOCK_MONOTONIC, &b);
        report(sizes[k], seeds, r,
               (double)(b.tv_sec - a.tv_sec) +
                   (double)(b.tv_nsec - a.tv_nsec) / 1e9);
        free(r);
    }
    return 0;
}
