/*
 * sim.h — a deterministic simulator for the gossip core (spec/gossip.md
 * 6.2): the unmodified core on a fake network with a virtual clock.
 *
 * One binary heap of events (packet delivery, stream request/reply, timer
 * expiry), a 64-bit virtual microsecond clock that jumps from event to event,
 * one seeded PRNG for the network and one per node for the core. Links have
 * per-direction loss, latency and jitter, and can be cut one way; a node can
 * be made "slow" (every packet and stream it receives is handled d ms late,
 * Lifeguard's CPU-starvation model), killed, restarted (same ID, generation
 * + 1) or made to leave. Same seed => same run. Failures print the seed; set
 * SIM_SEED=n to rerun one seed.
 */
#ifndef CAIRN_SIM_H
#define CAIRN_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gossip.h"

struct sim;

struct sim_opts
{
    int n; /* node slots (booted with sim_boot) */
    uint64_t seed;
    enum gossip_profile profile;
    bool encrypt;        /* one shared key unless keys set per node */
    uint32_t latency_ms; /* base one-way latency (default 1) */
    uint32_t jitter_ms;  /* uniform extra latency 0..jitter */
    double loss;         /* uniform per-packet loss on every link */
    bool verbose;        /* print core logs (SIM_VERBOSE=1 also) */
    void (*tweak)(struct gossip_params *p); /* adjust params per node */
};

struct sim_node
{
    struct sim *sim;
    int idx;
    struct gossip *g; /* NULL while down */
    bool up;          /* core exists */
    bool left;        /* left gracefully (ground truth) */
    bool leave_done;
    int leave_status;
    uint32_t epoch; /* bumped on kill/restart */
    char name[32];
    struct gossip_id id;
    struct gossip_addr addr;
    uint64_t generation;
    uint64_t rng;
    uint64_t timer_gen;
    uint32_t rx_delay_ms;  /* slow member: handle input this late */
    /* env->watch: the node watched (its epoch when the watch began) */
    bool watching;
    int watch_dst;
    uint32_t watch_epoch;
    uint64_t watch_token;
    uint64_t down_us; /* when it last went down */
    int64_t clock_skew_ms; /* added to this node's wall clock */
    uint8_t keys[GOSSIP_KEYRING_MAX][GOSSIP_KEY_SIZE];
    size_t nkeys;
    char label[32];      /* cluster label ("" = none) */
    int join_status;     /* last join result, 1 = pending */
    unsigned max_health; /* highest health score observed */
    uint64_t user_rx;    /* user events delivered to this node */
    uint64_t warn_logs;  /* WARN/ERROR lines */
    char last_warn[256];
};

struct sim_link
{
    double loss;
    uint32_t latency_ms, jitter_ms;
    bool cut;
};

/* Event hook: every member event seen by any node. */
typedef void (*sim_event_hook)(struct sim *s,
                               int observer,
                               int subject,
                               enum gossip_event_type type,
                               void *arg);

struct sim_user_track
{
    uint64_t sent_us;
    int delivered;
    uint64_t last_us;
};

struct sim
{
    struct sim_opts o;
    uint64_t now_us;
    uint64_t rng;
    uint64_t seq;
    struct sim_ev **heap;
    size_t heap_n, heap_cap;
    struct sim_node *nodes;
    struct sim_link *links; /* n x n, [from * n + to] */
    uint8_t key[GOSSIP_KEY_SIZE];
    /* ground-truth metrics */
    uint64_t false_failed;  /* FAILED about a node that is up (any) */
    uint64_t *failed_about; /* per subject: FAILED events about it */
    uint64_t suspect_events;
    uint64_t events_run;
    uint64_t pkts, pkt_bytes, stream_bytes, dropped;
    sim_event_hook hook;
    void *hook_arg;
    struct sim_user_track *ue;
    size_t ue_n, ue_cap;
    char *fail_prefix;
};

/* New simulator with o->n node slots, all down. */
struct sim *sim_new(const struct sim_opts *o);
void sim_free(struct sim *s);

/* Create and start node i's core (generation starts at 1). */
void sim_boot(struct sim *s, int i);
/* Node i joins via seed j (push/pull). */
void sim_join(struct sim *s, int i, int seed);
/* Boot all n nodes and join each to node 0, staggered by stagger_ms. */
void sim_boot_all(struct sim *s, uint32_t stagger_ms);
/* Boot nodes 0..n-1 (n <= slots), each joining node 0 (stagger_ms apart),
 * then run until full mesh. Returns the virtual ms from the first boot to
 * full mesh, or -1 after max_ms. */
int64_t sim_converge(struct sim *s,
                     int n,
                     uint32_t stagger_ms,
                     uint64_t max_ms);
/* Crash: the core vanishes with no goodbye. */
void sim_kill(struct sim *s, int i);
/* Restart a killed node: same ID and name, generation + 1, joins seed. */
void sim_restart(struct sim *s, int i, int seed);
/* Graceful leave; the core is deleted once the leave completes. */
void sim_leave(struct sim *s, int i);

/* Network. */
struct sim_link *sim_link(struct sim *s, int from, int to);
void sim_set_loss(struct sim *s, double loss); /* every link */
/* Cut (or restore) both directions between groups: nodes with
 * side[i] != side[j] can't talk. side NULL heals everything. */
void sim_partition(struct sim *s, const int *side);
void sim_cut_one_way(struct sim *s, int from, int to, bool cut);
void sim_set_slow(struct sim *s, int i, uint32_t delay_ms);

/* Run the clock. */
void sim_run_for(struct sim *s, uint64_t ms);
/* Run until pred(s, arg) holds (checked every step_ms) or max_ms passed.
 * Returns the virtual ms it took, or -1 on timeout. */
typedef bool (*sim_pred)(struct sim *s, void *arg);
int64_t sim_run_until(struct sim *s,
                      sim_pred pred,
                      void *arg,
                      uint64_t max_ms,
                      uint64_t step_ms);
uint64_t sim_now_ms(const struct sim *s);

/* Views. -1 if unknown to the observer (or observer down). */
int sim_state(struct sim *s, int observer, int subject);
/* Every up node (other than subject) sees subject in state st. */
bool sim_all_see(struct sim *s, int subject, int st);
/* Every up, non-left node sees every other such node alive. */
bool sim_full_mesh(struct sim *s);
int sim_count_up(const struct sim *s);

/* User events: returns a tracking index; delivered counts nodes. */
size_t sim_user_event(struct sim *s, int from);

/* Inject raw bytes as a datagram to node i (from a fake address). */
void sim_inject(struct sim *s, int to, const uint8_t *buf, size_t len);

/* Node index for a member ID, or -1. */
int sim_node_by_id(const struct sim *s, const struct gossip_id *id);

/* Seeds to run: SIM_SEED overrides with one seed. Fills out, returns n. */
int sim_seeds(uint64_t *out, int max, const uint64_t *defaults, int n);

/* Percentile (0..100) of an array of doubles (sorted in place). */
double sim_pct(double *v, size_t n, double pct);

/* Print "sim seed=S t=T: message" to stdout (for failure reports). */
void sim_report(const struct sim *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* cmocka check that names the seed and virtual time when it fails. */
#define SIM_CHECK(s, cond, ...)                                          \
    do {                                                                 \
        if (!(cond)) {                                                   \
            sim_report((s), "check failed: %s (%s:%d)", #cond, __FILE__, \
                       __LINE__);                                        \
            sim_report((s), __VA_ARGS__);                                \
            fail();                                                      \
        }                                                                \
    } while (0)

#endif
