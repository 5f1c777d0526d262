/*
 * gossip.c — the protocol core: SWIM failure detection and dissemination
 * with the three Lifeguard extensions, on a member table keyed by node ID.
 * No I/O: everything goes through struct gossip_env (gossip.h).
 *
 * Rounds (spec 1.1-1.2). Members sit in an array walked in order; at the
 * end of a pass the dead are reaped and the array is reshuffled, so every
 * member is probed once per pass (SWIM's round robin over a random
 * permutation). A probe: direct ping, wait probe_timeout, then ping-req
 * through k random members (who nack if the target stays silent) plus a
 * stream (TCP) ping in parallel, all until probe_interval x (health+1).
 * No ack: suspect the target. Death comes only from the suspicion timer.
 *
 * Lifeguard (spec 2). (1) Local health: a score in [0, awareness_max-1]
 * scales the probe deadline and so the probe rate: -1 per successful probe,
 * +(k - nacks) per failed one (+1 without helpers), +1 per refutation. (2)
 * Dynamic suspicion: the timer starts at max = mult_max x min and shrinks
 * towards min with each independent confirmation (distinct accuser),
 * logarithmically; K = max(1, min(mult-2, N-2)) for N >= 3 (spec 7).
 * (3) Buddy system: a ping to a suspect carries the suspicion, so the
 * target refutes at once.
 *
 * Dissemination (spec 1.6). State changes are queued in queue.c and
 * piggybacked on every ping/ack/ping-req, and sent every gossip_interval to
 * gossip_nodes random members when the queue is not empty. Pings also
 * carry a small slice of the member table (Tarantool's anti-entropy), and a
 * push/pull full-state exchange over a stream runs every push_pull_interval
 * (scaled with N), plus a reconnect push/pull to one failed member every
 * reconnect_interval so partitions heal (Serf's reconnect).
 *
 * Beyond memberlist, measured in the simulator (bench/gossip-sim.c), three
 * small repairs for lost refutations, which otherwise expire into false
 * deaths: (a) the retransmit limit has a floor that bounds the chance that
 * anyone misses a broadcast, and is scaled by 1 / (direct-ack rate), capped
 * at 3x, so broadcasts reach everyone under uniform loss; (b) for one
 * maximum suspicion timeout after a refutation our own alive rides on every
 * ping and ack we send; (c) a stale accusation about us (an incarnation we
 * already refuted) is answered with a unicast alive to its sender. Push/pull
 * also carries the last RECENT_USER user events, so a lost user event is
 * repaired at the next exchange (Serf keeps an event buffer for this).
 *
 * Precedence (spec 1.3), incarnation = (generation, counter): alive needs a
 * strictly higher incarnation; at equal incarnation suspect beats alive and
 * dead beats suspect; a node refutes claims about itself by raising its
 * incarnation. Identity is the node ID, so an address change is an update.
 */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define SEEN_MAX 1024       /* user events remembered for dedup */
#define RECENT_USER 32      /* user events carried in push/pull */
#define IREQ_MAX 1024       /* outstanding ping-reqs we serve */
#define SREQ_MAX 1024       /* outstanding stream requests */
#define REJECT_LOG_MS 10000 /* one rejection line per cause per 10 s */
#define LEAVE_NOTIFY 1

struct gossip;

struct gtimer
{
    uint64_t at;
    size_t idx; /* position in the heap, SIZE_MAX when idle */
    void (*fn)(struct gossip *g, struct gtimer *t);
};

struct suspicion;

struct member
{
    struct gossip_id id;
    char name[GOSSIP_NAME_MAX + 1];
    uint8_t name_len;
    struct gossip_addr addr;
    uint8_t *meta;
    uint16_t meta_len;
    uint8_t vsn[3];
    enum gossip_state state;
    struct gossip_inc inc;
    uint64_t state_change;
    struct suspicion *susp;
    size_t pos;                  /* index in g->nodes */
    uint32_t peer_primary;       /* its primary key ID (authenticated), 0 */
    uint64_t last_direct_refute; /* rate limit, see stale_accusation() */
};

struct suspicion
{
    struct gtimer t; /* first: the timer callback casts back */
    struct member *m;
    uint64_t start, min_ms, max_ms, armed_change;
    uint32_t k, n;
    unsigned nfrom;
    struct gossip_id from[34];
};

/* We are the helper of someone's indirect probe. */
struct ireq
{
    struct gtimer t;
    struct ireq *next;
    uint64_t seq, orig_seq;
    struct gossip_id requester;
    struct gossip_addr req_addr;
    bool want_nack;
};

enum sreq_kind { SREQ_JOIN, SREQ_PUSHPULL, SREQ_RECONNECT, SREQ_PING };

struct join_ctx
{
    unsigned pending, ok;
    int last_err;
    gossip_done_cb cb;
    void *data;
};

struct sreq
{
    uint64_t id;
    enum sreq_kind kind;
    struct sreq *next;
    struct join_ctx *join;
    uint64_t probe_seq;
    struct gossip_addr to;
};

struct probe
{
    bool active;
    struct gossip_id target;
    uint64_t seq, start;
    unsigned expected_nacks, nacks;
    bool stream_ok; /* the stream fallback got an ack */
    bool urgent;    /* started because our watch on the target broke */
    bool stream_started;
    struct gtimer t_timeout, t_deadline;
};

struct seen_ev
{
    struct gossip_id origin;
    uint64_t ltime;
};

struct recent_ev
{
    struct gossip_id origin;
    uint64_t ltime;
    uint8_t name_len;
    uint16_t len;
    char name[GOSSIP_USER_NAME_MAX];
    uint8_t payload[GOSSIP_USER_MAX];
};

struct gossip
{
    struct gossip_env env;
    struct gossip_params p;
    gossip_member_cb on_member;
    gossip_user_cb on_user;
    void *data;
    bool verify_in, verify_out;
    char label[GOSSIP_LABEL_MAX + 1];
    size_t label_len;
    uint8_t label_tag[4];
    struct keyring kr;
    struct replay replay;

    struct member *self;
    struct member **nodes; /* probe order */
    size_t n, cap, probe_index;
    struct member **hash;  /* open addressing by ID */
    struct member **nhash; /* open addressing by name, same capacity */
    size_t hcap;

    struct gtimer **heap;
    size_t heap_n, heap_cap;
    bool armed;
    uint64_t armed_at;
    struct gtimer t_probe, t_gossip, t_pushpull, t_reconnect, t_leave;
    struct gtimer t_eager;  /* the extra round for new broadcasts */
    uint64_t last_round;    /* when the last gossip round went out */
    struct probe probe;
    uint64_t next_seq;
    /* watch ring (gossip_params.watch_ring) */
    bool watching;          /* env->watch active on watch_id */
    struct gossip_id watch_id;
    uint64_t watch_token;
    uint64_t watch_lost_at; /* when it last broke or failed to start */
    bool urgent_pending;    /* probe urgent_id as soon as the probe ends */
    struct gossip_id urgent_id;
    struct ireq *ireqs;
    size_t n_ireqs;
    struct sreq *sreqs;
    size_t n_sreqs;
    uint64_t next_sreq;

    struct bqueue bq;
    unsigned health;
    size_t n_live;        /* alive + suspect, self included (exact) */
    size_t n_recent_dead; /* dead/left within gossip_to_dead (cached) */
    bool n_dirty;         /* recount n_recent_dead at the next use */
    uint64_t n_at;

    bool started, leaving, leave_done, leave_fire;
    int leave_status;
    gossip_done_cb leave_cb;
    void *leave_data;

    uint64_t ltime;
    struct seen_ev seen[SEEN_MAX];
    size_t seen_pos, seen_n;
    struct recent_ev recent[RECENT_USER]; /* ring, for push/pull */
    size_t recent_pos, recent_n;

    /* Loss-adaptive retransmits: EWMA of direct-ack success. */
    double ack_rate;
    /* when our incarnation last changed (refutation or metadata): for a
     * while our own alive rides on our pings and acks */
    uint64_t inc_changed_at;

    bool in_rx;
    struct gossip_id rx_sender;
    int rx_key;

    uint64_t last_reject_log[32];
    struct gossip_stats st;
};

/* ---- small helpers ------------------------------------------------------- */

static uint64_t now(const struct gossip *g)
{
    return g->env.now(g->env.data);
}

static uint64_t wall(const struct gossip *g)
{
    return g->env.wall ? g->env.wall(g->env.data) : now(g);
}

static uint64_t rnd(struct gossip *g)
{
    return g->env.random(g->env.data);
}

static size_t rnd_n(struct gossip *g, size_t n)
{
    return n ? (size_t)(rnd(g) % n) : 0;
}

__attribute__((format(printf, 3, 4))) static void
glog(struct gossip *g, enum gossip_log_level lvl, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    if (!g->env.log)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    g->env.log(g->env.data, lvl, buf);
}

/* ---- timers: one min-heap, one env timer ----------------------------------
 */

static void heap_swap(struct gossip *g, size_t a, size_t b)
{
    struct gtimer *t = g->heap[a];
    g->heap[a] = g->heap[b];
    g->heap[b] = t;
    g->heap[a]->idx = a;
    g->heap[b]->idx = b;
}

static void heap_up(struct gossip *g, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (g->heap[p]->at <= g->heap[i]->at)
            break;
        heap_swap(g, p, i);
        i = p;
    }
}

static void heap_down(struct gossip *g, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < g->heap_n && g->heap[l]->at < g->heap[m]->at)
            m = l;
        if (r < g->heap_n && g->heap[r]->at < g->heap[m]->at)
            m = r;
        if (m == i)
            break;
        heap_swap(g, i, m);
        i = m;
    }
}

static void timer_init(struct gtimer *t,
                       void (*fn)(struct gossip *g, struct gtimer *t))
{
    t->at = 0;
    t->idx = SIZE_MAX;
    t->fn = fn;
}

static void timer_stop(struct gossip *g, struct gtimer *t)
{
    size_t i = t->idx;
    if (i == SIZE_MAX)
        return;
    g->heap_n--;
    if (i != g->heap_n) {
        g->heap[i] = g->heap[g->heap_n];
        g->heap[i]->idx = i;
        heap_down(g, i);
        heap_up(g, i);
    }
    t->idx = SIZE_MAX;
}

/* Returns false only on out-of-memory (the timer then stays idle). */
static bool timer_set(struct gossip *g, struct gtimer *t, uint64_t at)
{
    timer_stop(g, t);
    if (g->heap_n == g->heap_cap) {
        size_t nc = g->heap_cap ? g->heap_cap * 2 : 64;
        struct gtimer **nh = realloc(g->heap, nc * sizeof(*nh));
        if (!nh)
            return false;
        g->heap = nh;
        g->heap_cap = nc;
    }
    t->at = at;
    t->idx = g->heap_n;
    g->heap[g->heap_n++] = t;
    heap_up(g, t->idx);
    return true;
}

static void rearm(struct gossip *g)
{
    if (g->heap_n == 0) {
        if (g->armed) {
            g->armed = false;
            g->env.timer_stop(g->env.data);
        }
        return;
    }
    if (!g->armed || g->armed_at != g->heap[0]->at) {
        g->armed = true;
        g->armed_at = g->heap[0]->at;
        g->env.timer_start(g->env.data, g->armed_at);
    }
}

/* End of every entry point: re-arm the env timer, then run the deferred
 * leave completion last (its callback may delete the core). */
static void finish(struct gossip *g)
{
    rearm(g);
    if (g->leave_fire) {
        gossip_done_cb cb = g->leave_cb;
        g->leave_fire = false;
        g->leave_cb = NULL;
        if (cb)
            cb(g, g->leave_status, 0, g->leave_data);
    }
}

/* ---- member table -------------------------------------------------------- */

static bool is_live(enum gossip_state st)
{
    return st == GOSSIP_ALIVE || st == GOSSIP_SUSPECT;
}

static size_t id_hash(const struct gossip_id *id)
{
    uint64_t a, b;
    memcpy(&a, id->b, 8);
    memcpy(&b, id->b + 8, 8);
    a ^= b * 0x9E3779B97F4A7C15ull;
    a ^= a >> 31;
    a *= 0xBF58476D1CE4E5B9ull;
    a ^= a >> 29;
    return (size_t)a;
}

static struct member *find(const struct gossip *g, const struct gossip_id *id)
{
    if (!g->hcap)
        return NULL;
    for (size_t i = id_hash(id) & (g->hcap - 1);; i = (i + 1) & (g->hcap - 1)) {
        struct member *m = g->hash[i];
        if (!m)
            return NULL;
        if (gossip__id_eq(&m->id, id))
            return m;
    }
}

static size_t name_hash(const char *name, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)name[i]) * 0x100000001b3ull;
    return (size_t)(h ^ (h >> 29));
}

static struct member *find_name(const struct gossip *g,
                                const char *name,
                                size_t len)
{
    if (!g->hcap)
        return NULL;
    for (size_t i = name_hash(name, len) & (g->hcap - 1);;
         i = (i + 1) & (g->hcap - 1)) {
        struct member *m = g->nhash[i];
        if (!m)
            return NULL;
        if (m->name_len == len && memcmp(m->name, name, len) == 0)
            return m;
    }
}

static void hash_put(struct member **h, size_t cap, struct member *m)
{
    size_t i = id_hash(&m->id) & (cap - 1);
    while (h[i])
        i = (i + 1) & (cap - 1);
    h[i] = m;
}

static void nhash_put(struct member **h, size_t cap, struct member *m)
{
    size_t i = name_hash(m->name, m->name_len) & (cap - 1);
    while (h[i])
        i = (i + 1) & (cap - 1);
    h[i] = m;
}

static int table_grow(struct gossip *g)
{
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 16;
        struct member **nn = realloc(g->nodes, nc * sizeof(*nn));
        if (!nn)
            return -ENOMEM;
        g->nodes = nn;
        g->cap = nc;
    }
    if ((g->n + 1) * 2 > g->hcap) {
        size_t nc = g->hcap ? g->hcap * 2 : 32;
        struct member **nh = calloc(nc, sizeof(*nh));
        struct member **nnh = calloc(nc, sizeof(*nnh));
        if (!nh || !nnh) {
            free(nh);
            free(nnh);
            return -ENOMEM;
        }
        for (size_t i = 0; i < g->n; i++) {
            hash_put(nh, nc, g->nodes[i]);
            nhash_put(nnh, nc, g->nodes[i]);
        }
        free(g->hash);
        free(g->nhash);
        g->hash = nh;
        g->nhash = nnh;
        g->hcap = nc;
    }
    return 0;
}

/* Backward-shift deletion keeps linear-probing chains intact. */
static void slot_del(struct member **h,
                     size_t cap,
                     size_t i,
                     size_t (*home)(const struct member *))
{
    size_t mask = cap - 1, j = i;
    h[i] = NULL;
    for (;;) {
        size_t k;
        j = (j + 1) & mask;
        if (!h[j])
            break;
        k = home(h[j]) & mask;
        if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
            h[i] = h[j];
            h[j] = NULL;
            i = j;
        }
    }
}

static size_t home_id(const struct member *m)
{
    return id_hash(&m->id);
}

static size_t home_name(const struct member *m)
{
    return name_hash(m->name, m->name_len);
}

static void hash_del(struct gossip *g, struct member *m)
{
    size_t mask = g->hcap - 1, i = id_hash(&m->id) & mask;
    while (g->hash[i] != m)
        i = (i + 1) & mask;
    slot_del(g->hash, g->hcap, i, home_id);
}

static void nhash_del(struct gossip *g, struct member *m)
{
    size_t mask = g->hcap - 1, i = home_name(m) & mask;
    while (g->nhash[i] != m)
        i = (i + 1) & mask;
    slot_del(g->nhash, g->hcap, i, home_name);
}

/* Insert at a random position of the probe array (spec 1.1). */
static int table_insert(struct gossip *g, struct member *m)
{
    size_t r;
    int rc = table_grow(g);
    if (rc)
        return rc;
    hash_put(g->hash, g->hcap, m);
    nhash_put(g->nhash, g->hcap, m);
    g->nodes[g->n] = m;
    m->pos = g->n;
    g->n++;
    if (is_live(m->state))
        g->n_live++;
    r = rnd_n(g, g->n);
    if (r != m->pos) {
        struct member *o = g->nodes[r];
        g->nodes[r] = m;
        g->nodes[m->pos] = o;
        o->pos = m->pos;
        m->pos = r;
    }
    g->n_dirty = true;
    return 0;
}

static void susp_free(struct gossip *g, struct member *m)
{
    if (m->susp) {
        timer_stop(g, &m->susp->t);
        free(m->susp);
        m->susp = NULL;
    }
}

static void member_free(struct gossip *g, struct member *m)
{
    susp_free(g, m);
    free(m->meta);
    free(m);
}

static void fill_member(const struct gossip *g,
                        const struct member *m,
                        struct gossip_member *out)
{
    memset(out, 0, offsetof(struct gossip_member, meta));
    out->id = m->id;
    memcpy(out->name, m->name, m->name_len);
    out->name[m->name_len] = 0;
    out->addr = m->addr;
    if (m->meta_len)
        memcpy(out->meta, m->meta, m->meta_len);
    out->meta_len = m->meta_len;
    out->state = m->state;
    out->inc = m->inc;
    out->proto_min = m->vsn[0];
    out->proto_max = m->vsn[1];
    out->proto_cur = m->vsn[2];
    out->state_change_ms = m->state_change;
    out->is_self = m == g->self;
}

static void emit(struct gossip *g,
                 enum gossip_event_type type,
                 const struct member *m)
{
    struct gossip_member snap;
    if (type == GOSSIP_EV_FAILED)
        g->st.members_failed++;
    if (!g->on_member || m == g->self)
        return;
    fill_member(g, m, &snap);
    g->on_member(g, type, &snap, g->data);
}

static void table_remove(struct gossip *g, struct member *m)
{
    size_t pos = m->pos;
    emit(g, GOSSIP_EV_REAP, m);
    hash_del(g, m);
    nhash_del(g, m);
    if (is_live(m->state))
        g->n_live--;
    g->n--;
    if (pos != g->n) {
        g->nodes[pos] = g->nodes[g->n];
        g->nodes[pos]->pos = pos;
    }
    if (g->probe_index > g->n)
        g->probe_index = g->n;
    g->n_dirty = true;
    member_free(g, m);
}

/* Every state change goes through here so n_live stays exact. */
static void set_state(struct gossip *g, struct member *m, enum gossip_state st)
{
    if (is_live(m->state) != is_live(st)) {
        if (is_live(st))
            g->n_live++;
        else
            g->n_live--;
        g->n_dirty = true;
    }
    m->state = st;
}

/* N as memberlist counts it: every entry still gossiped to. The live part
 * is exact; recently dead members are recounted at most once a second or
 * after a death. */
static size_t n_estimate(struct gossip *g)
{
    uint64_t t = now(g);
    if (g->n_dirty || t >= g->n_at + 1000 || t < g->n_at) {
        size_t c = 0;
        if (g->n_live < g->n) {
            for (size_t i = 0; i < g->n; i++) {
                const struct member *m = g->nodes[i];
                if (!is_live(m->state) &&
                    t - m->state_change < g->p.gossip_to_dead_ms)
                    c++;
            }
        }
        g->n_recent_dead = c;
        g->n_dirty = false;
        g->n_at = t;
    }
    return g->n_live + g->n_recent_dead ? g->n_live + g->n_recent_dead : 1;
}

/* memberlist's limit is mult x ceil(log10(N+1)). A member receives about
 * Poisson(limit) copies of a broadcast, so it misses it with probability
 * e^-limit: at N=50 (limit 8) about one broadcast in 60 misses someone, and
 * a missed refutation becomes a false death. So the limit is at least
 * ln(N) + bcast_nines x ln(10) (P(anyone misses) <= 10^-nines), and it is
 * multiplied by 1 / (direct-ack rate), capped at 3, because a retransmit
 * limit counts sends, not deliveries (about 2x at 30% uniform loss). */
static uint32_t retransmit_limit(struct gossip *g)
{
    double n = (double)n_estimate(g);
    double base = g->p.retransmit_mult * ceil(log10(n + 1.0));
    double floor_ = log(n) + g->p.bcast_nines * log(10.0);
    double f = g->ack_rate > 1.0 / 3 ? 1.0 / g->ack_rate : 3.0;
    if (g->p.bcast_nines && floor_ > base)
        base = floor_;
    return (uint32_t)ceil(base * f);
}

static void ack_sample(struct gossip *g, bool ok)
{
    g->ack_rate += ((ok ? 1.0 : 0.0) - g->ack_rate) / 16.0;
}

static void set_meta(struct member *m,
                     const uint8_t *meta,
                     uint16_t len,
                     uint8_t **spare)
{
    /* spare: a buffer already allocated by the caller (no failure here). */
    free(m->meta);
    m->meta = *spare;
    *spare = NULL;
    if (len)
        memcpy(m->meta, meta, len);
    m->meta_len = len;
}

/* ---- keys per peer --------------------------------------------------------
 *
 * Every payload header carries the sender's primary key ID (inside the
 * envelope, so authenticated). A reply goes out with the key its request
 * came with (consul#719: a new node with only the not-yet-primary key can
 * join). Anything else we send to a peer uses the peer's primary key when
 * we have it installed, else ours. So a node that switched its primary is
 * spoken to with the new key at once, nobody keeps using a key after every
 * node switched away from it, and a node that only has a secondary key of
 * ours is still reachable.
 */
enum key_use { KEY_REPLY, KEY_PEER };

static uint32_t primary_id(const struct gossip *g)
{
    return g->kr.n ? g->kr.keys[0].id : 0;
}

static int key_for(struct gossip *g,
                   const struct gossip_id *peer,
                   enum key_use use)
{
    const struct member *m;
    if (!g->kr.n || !g->verify_out)
        return -1;
    if (use == KEY_REPLY && g->in_rx && g->rx_key >= 0 &&
        (size_t)g->rx_key < g->kr.n && peer &&
        gossip__id_eq(peer, &g->rx_sender))
        return g->rx_key;
    m = peer ? find(g, peer) : NULL;
    if (m && m->peer_primary) {
        int idx = gossip__keyring_find_id(&g->kr, m->peer_primary, 0);
        if (idx >= 0)
            return idx;
    }
    return 0;
}

/* ---- rejections ---------------------------------------------------------- */

static void reject(struct gossip *g,
                   const struct gossip_addr *from,
                   int err,
                   const char *what)
{
    char a[64];
    int slot = (err <= -10001 && err > -10001 - 31) ? -err - 10001 : 31;
    uint64_t t = now(g);
    g->st.pkts_rejected++;
    if (g->last_reject_log[slot] &&
        t - g->last_reject_log[slot] < REJECT_LOG_MS) {
        glog(g, GOSSIP_LOG_DEBUG, "dropping %s from %s: %s", what,
             from ? gossip_addr_format(from, a, sizeof(a)) : "?",
             gossip_strerror(err));
        return;
    }
    g->last_reject_log[slot] = t ? t : 1;
    glog(g, GOSSIP_LOG_WARN, "dropping %s from %s: %s", what,
         from ? gossip_addr_format(from, a, sizeof(a)) : "?",
         gossip_strerror(err));
}

/* ---- packet builder -------------------------------------------------------
 *
 * The one place datagrams are built: the budget is udp_buffer_size minus
 * the frame overhead, and every part (own messages, piggybacked broadcasts,
 * anti-entropy records) must fit or is left out. Nothing larger than the
 * budget is ever sent (memberlist#348).
 */
struct pkt
{
    uint8_t buf[GOSSIP_UDP_MAX];
    struct wbuf w;
    size_t count_off;
    unsigned count;
};

static bool encrypting(const struct gossip *g)
{
    return g->kr.n && g->verify_out;
}

static void pkt_init(struct gossip *g, struct pkt *p)
{
    size_t budget = g->p.udp_buffer_size -
                    (encrypting(g) ? ENV_OVERHEAD : PROTO_CLEAR_OVERHEAD);
    gossip__wbuf_fixed(&p->w, p->buf, budget);
    gossip__enc_hdr(&p->w, PROTO_KIND_PACKET, &g->self->id, &g->self->addr,
                    primary_id(g));
    p->count_off = p->w.len;
    gossip__put_u8(&p->w, 0);
    p->count = 0;
}

static size_t pkt_begin(struct pkt *p, uint8_t type)
{
    if (p->count >= PROTO_MAX_PARTS || p->w.err)
        return SIZE_MAX;
    return gossip__part_begin(&p->w, type);
}

/* Close a part; on overflow roll it back. */
static bool pkt_end(struct pkt *p, size_t mark)
{
    if (mark == SIZE_MAX)
        return false;
    gossip__part_end(&p->w, mark);
    if (p->w.err) {
        p->w.err = 0;
        p->w.len = mark;
        return false;
    }
    p->count++;
    return true;
}

static void pkt_fill(struct gossip *g, struct pkt *p)
{
    size_t used;
    if (p->w.err || p->count >= PROTO_MAX_PARTS)
        return;
    used = gossip__bq_fill(&g->bq, retransmit_limit(g), g->p.user_share_pct,
                           p->buf + p->w.len, p->w.cap - p->w.len, &p->count,
                           PROTO_MAX_PARTS);
    p->w.len += used;
}

static void member_alive_msg(const struct member *m, struct msg_alive *a)
{
    a->id = m->id;
    a->inc = m->inc;
    a->addr = m->addr;
    memcpy(a->vsn, m->vsn, 3);
    a->name = m->name;
    a->name_len = m->name_len;
    a->meta = m->meta;
    a->meta_len = m->meta_len;
}

/* A random contiguous slice of the table: alive and left records. */
static void pkt_slice(struct gossip *g, struct pkt *p)
{
    size_t start, added = 0;
    if (!g->p.slice_records || g->n < 2)
        return;
    start = rnd_n(g, g->n);
    for (size_t i = 0; i < g->n && added < g->p.slice_records; i++) {
        const struct member *m = g->nodes[(start + i) % g->n];
        size_t mark;
        if (m->state == GOSSIP_ALIVE) {
            struct msg_alive a;
            member_alive_msg(m, &a);
            mark = pkt_begin(p, GOSSIP_MSG_ALIVE);
            gossip__enc_alive(&p->w, &a);
        } else if (m->state == GOSSIP_LEFT) {
            struct msg_suspect d = {m->id, m->inc, m->id};
            mark = pkt_begin(p, GOSSIP_MSG_DEAD);
            gossip__enc_suspect(&p->w, &d);
        } else {
            continue;
        }
        if (!pkt_end(p, mark))
            return;
        added++;
    }
}

/* After our incarnation changed (a refutation), our own alive rides on our
 * pings and acks for one maximum suspicion timeout: every member we talk
 * to then learns it directly, even one that missed the broadcast and still
 * holds the suspicion (which would otherwise expire into a false death). */
static uint64_t susp_max_ms(struct gossip *g);

static void pkt_self_alive(struct gossip *g, struct pkt *p)
{
    struct msg_alive a;
    size_t mark;
    if (!g->inc_changed_at || g->leaving ||
        now(g) - g->inc_changed_at > susp_max_ms(g))
        return;
    member_alive_msg(g->self, &a);
    mark = pkt_begin(p, GOSSIP_MSG_ALIVE);
    gossip__enc_alive(&p->w, &a);
    pkt_end(p, mark);
}

static void count_parts(struct gossip_stats *st,
                        const uint8_t *b,
                        size_t n,
                        size_t off,
                        unsigned count)
{
    for (unsigned i = 0; i < count && off + 3 <= n; i++) {
        uint8_t t = b[off];
        size_t len = ((size_t)b[off + 1] << 8) | b[off + 2];
        if (t < GOSSIP_MSG_TYPES) {
            st->msgs_sent[t]++;
            st->msg_bytes_sent[t] += 3 + len;
        }
        off += 3 + len;
    }
}

static void pkt_send(struct gossip *g,
                     struct pkt *p,
                     const struct gossip_addr *to,
                     const struct gossip_id *peer,
                     enum key_use use)
{
    uint8_t out[GOSSIP_UDP_MAX + ENV_OVERHEAD];
    size_t len;
    int key;
    if (p->count == 0 || p->w.err)
        return;
    p->buf[p->count_off] = (uint8_t)p->count;
    count_parts(&g->st, p->buf, p->w.len, p->count_off + 1, p->count);
    key = key_for(g, peer, use);
    if (key >= 0) {
        int n =
            gossip__env_seal(&g->kr.keys[key], false, g->label, g->label_len,
                             wall(g), p->buf, p->w.len, out, sizeof(out));
        if (n < 0)
            return;
        len = (size_t)n;
    } else {
        len = gossip__clear_wrap(0, g->label_tag, p->buf, p->w.len, out);
    }
    if (len > g->p.udp_buffer_size) /* cannot happen: the budget holds */
        return;
    g->st.pkts_sent++;
    g->st.bytes_sent += len;
    g->env.send(g->env.data, to, out, len);
}

/* ---- broadcasts ---------------------------------------------------------- */

static void eager_kick(struct gossip *g);

static void bcast_part(struct gossip *g,
                       uint8_t cls,
                       const struct gossip_id *key,
                       const struct wbuf *w,
                       uint64_t notify)
{
    if (w->err)
        return;
    if (gossip__bq_push(&g->bq, cls, key, w->p, w->len, notify) != 0) {
        g->st.bcast_dropped++;
        return;
    }
    eager_kick(g);
}

static void bcast_alive(struct gossip *g, const struct msg_alive *a)
{
    uint8_t buf[1024];
    struct wbuf w;
    size_t mark;
    gossip__wbuf_fixed(&w, buf, sizeof(buf));
    mark = gossip__part_begin(&w, GOSSIP_MSG_ALIVE);
    gossip__enc_alive(&w, a);
    gossip__part_end(&w, mark);
    bcast_part(g, BQ_MEMBER, &a->id, &w, 0);
}

static void bcast_member(struct gossip *g, const struct member *m)
{
    struct msg_alive a;
    member_alive_msg(m, &a);
    bcast_alive(g, &a);
}

static void bcast_susp(struct gossip *g,
                       uint8_t type,
                       const struct msg_suspect *s,
                       uint64_t notify)
{
    uint8_t buf[64];
    struct wbuf w;
    size_t mark;
    gossip__wbuf_fixed(&w, buf, sizeof(buf));
    mark = gossip__part_begin(&w, type);
    gossip__enc_suspect(&w, s);
    gossip__part_end(&w, mark);
    bcast_part(g, BQ_MEMBER, &s->id, &w, notify);
}

static void bq_finished(void *arg, uint64_t notify)
{
    struct gossip *g = arg;
    if (notify == LEAVE_NOTIFY && g->leaving && !g->leave_done) {
        g->leave_done = true;
        g->leave_status = 0;
        g->leave_fire = true; /* run from finish(), never from the queue */
        timer_stop(g, &g->t_leave);
    }
}

/* ---- Lifeguard: health and suspicion ------------------------------------- */

static void health_add(struct gossip *g, int delta)
{
    int v = (int)g->health + delta;
    if (v < 0)
        v = 0;
    if (v > (int)g->p.awareness_max - 1)
        v = (int)g->p.awareness_max - 1;
    if ((unsigned)v != g->health)
        glog(g, GOSSIP_LOG_DEBUG, "health score %u -> %d", g->health, v);
    g->health = (unsigned)v;
}

static uint64_t susp_max_ms(struct gossip *g)
{
    double f = log10((double)n_estimate(g));
    if (f < 1.0)
        f = 1.0;
    return (uint64_t)(g->p.suspicion_max_timeout_mult * g->p.suspicion_mult *
                      f * g->p.probe_interval_ms);
}

static uint64_t susp_timeout(const struct suspicion *s)
{
    double frac, t;
    if (s->k == 0)
        return s->min_ms;
    frac = log((double)s->n + 1.0) / log((double)s->k + 1.0);
    t = (double)s->max_ms - ((double)s->max_ms - (double)s->min_ms) * frac;
    if (t < (double)s->min_ms)
        t = (double)s->min_ms;
    return (uint64_t)floor(t);
}

static void on_dead(struct gossip *g,
                    const struct gossip_id *id,
                    const struct gossip_inc *inc,
                    const struct gossip_id *from);

static void susp_fire(struct gossip *g, struct gtimer *t)
{
    struct suspicion *s = (struct suspicion *)t;
    struct member *m = s->m;
    uint32_t n = s->n;
    uint64_t armed = s->armed_change;
    struct gossip_inc inc = m->inc;
    struct gossip_id id = m->id;
    m->susp = NULL;
    free(s);
    if (m->state != GOSSIP_SUSPECT || m->state_change != armed)
        return;
    glog(g, GOSSIP_LOG_INFO,
         "marking %s as failed, suspect timeout reached (%u peer "
         "confirmations)",
         m->name, n);
    on_dead(g, &id, &inc, &g->self->id);
}

static void susp_start(struct gossip *g,
                       struct member *m,
                       const struct gossip_id *from)
{
    struct suspicion *s = calloc(1, sizeof(*s));
    size_t n = n_estimate(g);
    double nn = (double)(n ? n : 1), f;
    uint32_t k;
    if (!s)
        return; /* no timer: the node stays suspect until refuted */
    timer_init(&s->t, susp_fire);
    s->m = m;
    f = log10(nn);
    if (f < 1.0)
        f = 1.0;
    s->min_ms = (uint64_t)(g->p.suspicion_mult * f * g->p.probe_interval_ms);
    s->max_ms = g->p.suspicion_max_timeout_mult * s->min_ms;
    /* K = max(1, min(mult - 2, N - 2)) for N >= 3 (spec 7), else 0. */
    k = 0;
    if (n >= 3) {
        uint32_t a = g->p.suspicion_mult > 2 ? g->p.suspicion_mult - 2 : 0;
        uint32_t b = (uint32_t)(n - 2);
        k = a < b ? a : b;
        if (k < 1)
            k = 1;
        if (k > 32)
            k = 32;
    }
    s->k = k;
    s->start = now(g);
    s->armed_change = m->state_change;
    s->from[0] = *from;
    s->nfrom = 1;
    m->susp = s;
    timer_set(g, &s->t, s->start + susp_timeout(s));
}

/* Count an independent confirmation; true if it was new (re-broadcast). */
static bool susp_confirm(struct gossip *g,
                         struct suspicion *s,
                         const struct gossip_id *from)
{
    uint64_t at, t;
    if (s->n >= s->k)
        return false;
    for (unsigned i = 0; i < s->nfrom; i++)
        if (gossip__id_eq(&s->from[i], from))
            return false;
    s->from[s->nfrom++] = *from;
    s->n++;
    t = now(g);
    at = s->start + susp_timeout(s);
    timer_set(g, &s->t, at > t ? at : t);
    return true;
}

/* ---- state transitions (spec 1.3) -----------------------------------------
 */

static void refute(struct gossip *g, const struct gossip_inc *accused)
{
    struct member *s = g->self;
    struct gossip_inc inc = s->inc;
    if (accused->gen > inc.gen) {
        inc.gen = accused->gen;
        inc.ctr = accused->ctr + 1;
    } else if (accused->gen == inc.gen) {
        inc.ctr = (accused->ctr > inc.ctr ? accused->ctr : inc.ctr) + 1;
    } else {
        inc.ctr++;
    }
    s->inc = inc;
    set_state(g, s, GOSSIP_ALIVE);
    g->inc_changed_at = now(g) ? now(g) : 1;
    health_add(g, 1);
    g->st.refutations++;
    glog(g, GOSSIP_LOG_INFO,
         "refuting a suspicion about us: incarnation now %llu.%u",
         (unsigned long long)inc.gen, inc.ctr);
    bcast_member(g, s);
}

static int on_alive(struct gossip *g, const struct msg_alive *a)
{
    struct member *m;
    uint8_t *spare = NULL;
    bool was_dead, changed;
    enum gossip_state old;

    if (gossip__id_eq(&a->id, &g->self->id)) {
        struct member *s = g->self;
        int c;
        if (g->leaving)
            return 0;
        c = gossip__inc_cmp(&a->inc, &s->inc);
        if (c < 0)
            return 0;
        if (c == 0 && gossip_addr_equal(&a->addr, &s->addr) &&
            a->meta_len == s->meta_len &&
            (!a->meta_len || memcmp(a->meta, s->meta, a->meta_len) == 0))
            return 0;
        glog(g, GOSSIP_LOG_WARN,
             "an alive message claims our node ID with incarnation "
             "%llu.%u; refuting",
             (unsigned long long)a->inc.gen, a->inc.ctr);
        refute(g, &a->inc);
        return 0;
    }

    if (a->meta_len) {
        spare = malloc(a->meta_len);
        if (!spare)
            return -ENOMEM;
    }

    m = find(g, &a->id);
    if (!m) {
        struct member *other = find_name(g, a->name, a->name_len);
        if (other) {
            uint64_t hold = g->p.dead_node_reclaim_ms > g->p.gossip_to_dead_ms
                                ? g->p.dead_node_reclaim_ms
                                : g->p.gossip_to_dead_ms;
            bool reclaim =
                other != g->self && (other->state == GOSSIP_LEFT ||
                                     (other->state == GOSSIP_DEAD &&
                                      now(g) - other->state_change >= hold));
            if (!reclaim) {
                char a1[64];
                uint64_t t = now(g);
                if (!g->last_reject_log[30] ||
                    t - g->last_reject_log[30] >= REJECT_LOG_MS) {
                    g->last_reject_log[30] = t ? t : 1;
                    glog(g, GOSSIP_LOG_WARN,
                         "name conflict: %.*s at %s has a new node ID but "
                         "the name is held by a %s member",
                         (int)a->name_len, a->name,
                         gossip_addr_format(&a->addr, a1, sizeof(a1)),
                         other == g->self ? "local"
                                          : gossip_state_name(other->state));
                }
                free(spare);
                return GOSSIP_E_CONFLICT;
            }
            glog(g, GOSSIP_LOG_INFO, "%s reclaimed by a new node ID",
                 other->name);
            table_remove(g, other);
        }
        m = calloc(1, sizeof(*m));
        if (!m) {
            free(spare);
            return -ENOMEM;
        }
        m->id = a->id;
        memcpy(m->name, a->name, a->name_len);
        m->name_len = a->name_len;
        m->addr = a->addr;
        memcpy(m->vsn, a->vsn, 3);
        m->inc = a->inc;
        m->state = GOSSIP_ALIVE;
        m->state_change = now(g);
        set_meta(m, a->meta, a->meta_len, &spare);
        if (table_insert(g, m) != 0) {
            member_free(g, m);
            return -ENOMEM;
        }
        emit(g, GOSSIP_EV_JOIN, m);
        bcast_alive(g, a);
        return 0;
    }

    if (gossip__inc_cmp(&a->inc, &m->inc) <= 0) {
        free(spare);
        return 0;
    }
    old = m->state;
    was_dead = old == GOSSIP_DEAD || old == GOSSIP_LEFT;
    changed = !gossip_addr_equal(&a->addr, &m->addr) ||
              a->meta_len != m->meta_len ||
              (a->meta_len && memcmp(a->meta, m->meta, a->meta_len) != 0) ||
              a->name_len != m->name_len ||
              memcmp(a->name, m->name, a->name_len) != 0;
    susp_free(g, m);
    m->inc = a->inc;
    m->addr = a->addr;
    memcpy(m->vsn, a->vsn, 3);
    if (m->name_len != a->name_len ||
        memcmp(m->name, a->name, a->name_len) != 0) {
        nhash_del(g, m);
        memcpy(m->name, a->name, a->name_len);
        m->name_len = a->name_len;
        m->name[m->name_len] = 0;
        nhash_put(g->nhash, g->hcap, m);
    }
    set_meta(m, a->meta, a->meta_len, &spare);
    if (old != GOSSIP_ALIVE) {
        set_state(g, m, GOSSIP_ALIVE);
        m->state_change = now(g);
    }
    if (was_dead)
        emit(g, GOSSIP_EV_JOIN, m);
    else if (old == GOSSIP_SUSPECT)
        emit(g, GOSSIP_EV_ALIVE, m);
    if (changed && !was_dead)
        emit(g, GOSSIP_EV_UPDATE, m);
    bcast_alive(g, a);
    return 0;
}

static void send_self_alive(struct gossip *g, struct member *to)
{
    struct pkt pk;
    struct msg_alive a;
    size_t mark;
    pkt_init(g, &pk);
    member_alive_msg(g->self, &a);
    mark = pkt_begin(&pk, GOSSIP_MSG_ALIVE);
    gossip__enc_alive(&pk.w, &a);
    pkt_end(&pk, mark);
    pkt_send(g, &pk, &to->addr, &to->id, KEY_PEER);
}

/* A claim about us older than our incarnation reached us from a member
 * that has not heard our refutation (a lost broadcast; its suspicion timer
 * is running). memberlist ignores it; we answer that member directly with
 * our current alive, at most once a second per member. */
static void stale_accusation(struct gossip *g)
{
    struct member *m;
    uint64_t t;
    if (!g->in_rx || g->leaving)
        return;
    m = find(g, &g->rx_sender);
    t = now(g);
    if (!m || m == g->self || m->state == GOSSIP_LEFT ||
        (m->last_direct_refute && t - m->last_direct_refute < 1000))
        return;
    m->last_direct_refute = t ? t : 1;
    send_self_alive(g, m);
}

static void on_suspect(struct gossip *g,
                       const struct gossip_id *id,
                       const struct gossip_inc *inc,
                       const struct gossip_id *from)
{
    struct member *m = find(g, id);
    struct msg_suspect s;
    if (m == g->self && gossip__inc_cmp(inc, &m->inc) < 0) {
        stale_accusation(g);
        return;
    }
    if (!m || gossip__inc_cmp(inc, &m->inc) < 0)
        return;
    s.id = *id;
    s.inc = *inc;
    s.from = *from;
    if (m->susp) {
        if (susp_confirm(g, m->susp, from))
            bcast_susp(g, GOSSIP_MSG_SUSPECT, &s, 0);
        return;
    }
    if (m->state != GOSSIP_ALIVE)
        return;
    if (m == g->self) {
        if (g->leaving)
            return;
        g->st.suspicions_refuted++;
        refute(g, inc);
        return;
    }
    m->inc = *inc;
    set_state(g, m, GOSSIP_SUSPECT);
    m->state_change = now(g);
    susp_start(g, m, from);
    emit(g, GOSSIP_EV_SUSPECT, m);
    bcast_susp(g, GOSSIP_MSG_SUSPECT, &s, 0);
}

static void on_dead(struct gossip *g,
                    const struct gossip_id *id,
                    const struct gossip_inc *inc,
                    const struct gossip_id *from)
{
    struct member *m = find(g, id);
    bool left = gossip__id_eq(id, from);
    struct msg_suspect s;
    if (m == g->self && gossip__inc_cmp(inc, &m->inc) < 0) {
        stale_accusation(g);
        return;
    }
    if (!m || gossip__inc_cmp(inc, &m->inc) < 0)
        return;
    s.id = *id;
    s.inc = *inc;
    s.from = *from;
    if (m == g->self) {
        if (!g->leaving) {
            g->st.suspicions_refuted++;
            refute(g, inc);
        }
        return;
    }
    if (m->state == GOSSIP_LEFT)
        return;
    if (m->state == GOSSIP_DEAD && !left)
        return;
    susp_free(g, m);
    m->inc = *inc;
    set_state(g, m, left ? GOSSIP_LEFT : GOSSIP_DEAD);
    m->state_change = now(g);
    g->n_dirty = true;
    emit(g, left ? GOSSIP_EV_LEFT : GOSSIP_EV_FAILED, m);
    bcast_susp(g, GOSSIP_MSG_DEAD, &s, 0);
}

/* ---- user events ----------------------------------------------------------
 */

static bool seen_event(struct gossip *g,
                       const struct gossip_id *origin,
                       uint64_t ltime)
{
    for (size_t i = 0; i < g->seen_n; i++)
        if (g->seen[i].ltime == ltime &&
            gossip__id_eq(&g->seen[i].origin, origin))
            return true;
    g->seen[g->seen_pos].origin = *origin;
    g->seen[g->seen_pos].ltime = ltime;
    g->seen_pos = (g->seen_pos + 1) % SEEN_MAX;
    if (g->seen_n < SEEN_MAX)
        g->seen_n++;
    return false;
}

static void witness(struct gossip *g, uint64_t ltime)
{
    if (ltime > UINT64_MAX / 2) /* keep the clock far from wrapping */
        return;
    if (ltime >= g->ltime)
        g->ltime = ltime + 1;
}

static void remember_user(struct gossip *g, const struct msg_user *u)
{
    struct recent_ev *r = &g->recent[g->recent_pos];
    r->origin = u->origin;
    r->ltime = u->ltime;
    r->name_len = u->name_len;
    memcpy(r->name, u->name, u->name_len);
    r->len = u->len;
    if (u->len)
        memcpy(r->payload, u->payload, u->len);
    g->recent_pos = (g->recent_pos + 1) % RECENT_USER;
    if (g->recent_n < RECENT_USER)
        g->recent_n++;
}

static void bcast_user(struct gossip *g, const struct msg_user *u)
{
    uint8_t buf[GOSSIP_USER_MAX + 64];
    remember_user(g, u);
    struct wbuf w;
    size_t mark;
    gossip__wbuf_fixed(&w, buf, sizeof(buf));
    mark = gossip__part_begin(&w, GOSSIP_MSG_USER);
    gossip__enc_user(&w, u);
    gossip__part_end(&w, mark);
    bcast_part(g, BQ_USER, NULL, &w, 0);
}

static void deliver_user(struct gossip *g, const struct msg_user *u)
{
    struct gossip_user_event ev;
    if (!g->on_user)
        return;
    ev.origin = u->origin;
    ev.ltime = u->ltime;
    ev.name = u->name;
    ev.name_len = u->name_len;
    ev.payload = u->payload;
    ev.payload_len = u->len;
    g->on_user(g, &ev, g->data);
}

static void on_user(struct gossip *g, const struct msg_user *u)
{
    /* Older than what the dedup ring can vouch for: drop (Serf does too). */
    if (u->ltime > UINT64_MAX / 2 || u->ltime + SEEN_MAX < g->ltime)
        return;
    if (seen_event(g, &u->origin, u->ltime))
        return;
    witness(g, u->ltime);
    bcast_user(g, u);
    deliver_user(g, u);
}

/* ---- probing --------------------------------------------------------------
 */

static void probe_tick(struct gossip *g, struct gtimer *t);

static void probe_schedule_next(struct gossip *g)
{
    uint64_t t = now(g), iv = g->p.probe_interval_ms;
    uint64_t start = g->probe.start, next = start + iv;
    if (g->leaving)
        return;
    if (t >= next)
        next = start + ((t - start) / iv + 1) * iv;
    timer_set(g, &g->t_probe, next);
}

static void probe_start(struct gossip *g, struct member *m, bool urgent);

/* After a probe: an urgent one (a broken watch) goes first, else the next
 * regular tick. */
static void probe_next(struct gossip *g)
{
    if (g->urgent_pending) {
        struct member *m = find(g, &g->urgent_id);
        g->urgent_pending = false;
        if (m && m->state == GOSSIP_ALIVE && !g->leaving) {
            probe_start(g, m, true);
            return;
        }
    }
    probe_schedule_next(g);
}

/* refused: the target's stream port refused the connection, so the failure
 * is the target's, not ours: no health penalty for missing nacks. */
static void probe_end(struct gossip *g, bool ok, bool refused)
{
    struct member *m;
    struct probe *p = &g->probe;
    timer_stop(g, &p->t_timeout);
    timer_stop(g, &p->t_deadline);
    p->active = false;
    if (ok) {
        health_add(g, -1);
        probe_next(g);
        return;
    }
    g->st.probes_failed++;
    if (refused)
        g->st.probes_refused++;
    else if (p->expected_nacks > 0)
        health_add(g,
                   (int)p->expected_nacks - (int)(p->nacks < p->expected_nacks
                                                      ? p->nacks
                                                      : p->expected_nacks));
    else
        health_add(g, 1);
    m = find(g, &p->target);
    if (m && m->state == GOSSIP_ALIVE) {
        glog(g, GOSSIP_LOG_INFO, "suspect %s has failed, %s", m->name,
             refused ? "its stream port refused the connection"
                     : "no acks received");
        g->st.suspicions_started++;
        on_suspect(g, &m->id, &m->inc, &g->self->id);
    } else if (m && m->state == GOSSIP_SUSPECT) {
        on_suspect(g, &m->id, &m->inc, &g->self->id);
    }
    probe_next(g);
}

static void probe_deadline(struct gossip *g, struct gtimer *t)
{
    struct probe *p = &g->probe;
    (void)t;
    if (!p->active)
        return;
    if (p->stream_ok) {
        /* memberlist: only the stream answered; alive, but say so. The
         * health score is left alone (neither evidence nor success). */
        struct member *m = find(g, &p->target);
        glog(g, GOSSIP_LOG_WARN,
             "%s answered over a stream but not over UDP: the network may "
             "be misconfigured",
             m ? m->name : "a member");
        timer_stop(g, &p->t_timeout);
        p->active = false;
        probe_next(g);
        return;
    }
    probe_end(g, false, false);
}

static int stream_send(struct gossip *g,
                       enum sreq_kind kind,
                       const struct gossip_addr *to,
                       const struct gossip_id *peer,
                       struct wbuf *w,
                       uint32_t timeout,
                       struct join_ctx *join,
                       uint64_t probe_seq);

/* The stream (TCP) ping of the current probe, once per probe. */
static void probe_stream(struct gossip *g, struct member *m)
{
    struct probe *p = &g->probe;
    struct wbuf w;
    struct msg_ping ping = {p->seq, m->id};
    uint64_t tn = now(g);
    uint64_t left = p->t_deadline.at > tn ? p->t_deadline.at - tn : 1;
    size_t mark;
    if (!g->env.stream || g->p.disable_tcp_pings || p->stream_started)
        return;
    p->stream_started = true;
    gossip__wbuf_dyn(&w, 4096);
    gossip__enc_hdr(&w, PROTO_KIND_STREAM, &g->self->id, &g->self->addr,
                    primary_id(g));
    mark = gossip__stream_begin(&w, GOSSIP_MSG_PING);
    gossip__enc_ping(&w, &ping);
    gossip__stream_end(&w, mark);
    stream_send(g, SREQ_PING, &m->addr, &m->id, &w, (uint32_t)left, NULL,
                p->seq);
    free(w.p);
}

static void probe_indirect(struct gossip *g, struct gtimer *t)
{
    struct probe *p = &g->probe;
    struct member *m = find(g, &p->target);
    struct member *helpers[16];
    size_t nh = 0, want = g->p.indirect_checks;
    (void)t;
    if (!p->active)
        return;
    ack_sample(g, false);
    if (!m) {
        /* the target vanished (reaped or pruned): nothing to judge */
        timer_stop(g, &p->t_deadline);
        p->active = false;
        probe_next(g);
        return;
    }
    /* k random alive members other than us and the target. */
    if (want > 16)
        want = 16;
    for (size_t tries = 0; tries < 3 * g->n && nh < want; tries++) {
        struct member *h = g->nodes[rnd_n(g, g->n)];
        bool dup = false;
        if (h == g->self || h == m || h->state != GOSSIP_ALIVE)
            continue;
        for (size_t i = 0; i < nh; i++)
            dup |= helpers[i] == h;
        if (!dup)
            helpers[nh++] = h;
    }
    for (size_t i = 0; i < nh; i++) {
        struct pkt pk;
        struct msg_ping_req r;
        size_t mark;
        pkt_init(g, &pk);
        r.seq = p->seq;
        r.target = m->id;
        r.target_addr = m->addr;
        r.want_nack = true;
        mark = pkt_begin(&pk, GOSSIP_MSG_PING_REQ);
        gossip__enc_ping_req(&pk.w, &r);
        if (!pkt_end(&pk, mark))
            continue;
        pkt_fill(g, &pk);
        pkt_send(g, &pk, &helpers[i]->addr, &helpers[i]->id, KEY_PEER);
    }
    p->expected_nacks = (unsigned)nh;
    /* TCP fallback in parallel (spec 1.2 step 5). */
    probe_stream(g, m);
}

static struct member *next_target(struct gossip *g);

static void watch_update(struct gossip *g);

static void probe_tick(struct gossip *g, struct gtimer *t)
{
    struct member *m;
    struct probe *p = &g->probe;
    (void)t;
    if (g->leaving || p->active)
        return;
    watch_update(g);
    m = next_target(g);
    if (!m) {
        p->start = now(g);
        probe_schedule_next(g);
        return;
    }
    probe_start(g, m, false);
}

/* Probe m now: a ping, then indirect pings and the stream fallback after
 * probe_timeout, judged at the deadline. An urgent probe (our watch on m
 * broke) starts the stream ping at once: a refusal ends it early. */
static void probe_start(struct gossip *g, struct member *m, bool urgent)
{
    struct probe *p = &g->probe;
    struct pkt pk;
    struct msg_ping ping;
    size_t mark;
    uint64_t tn = now(g);
    p->start = tn;
    p->active = true;
    p->urgent = urgent;
    p->stream_started = false;
    p->target = m->id;
    p->seq = g->next_seq++;
    p->expected_nacks = 0;
    p->nacks = 0;
    p->stream_ok = false;
    g->st.probes++;

    pkt_init(g, &pk);
    ping.seq = p->seq;
    ping.target = m->id;
    mark = pkt_begin(&pk, GOSSIP_MSG_PING);
    gossip__enc_ping(&pk.w, &ping);
    pkt_end(&pk, mark);
    if (m->state == GOSSIP_SUSPECT) {
        /* Lifeguard buddy system: tell the target it is suspected. */
        struct msg_suspect s = {m->id, m->inc, g->self->id};
        mark = pkt_begin(&pk, GOSSIP_MSG_SUSPECT);
        gossip__enc_suspect(&pk.w, &s);
        pkt_end(&pk, mark);
    }
    pkt_self_alive(g, &pk);
    pkt_fill(g, &pk);
    pkt_slice(g, &pk);
    pkt_send(g, &pk, &m->addr, &m->id, KEY_PEER);

    timer_set(g, &p->t_timeout, tn + g->p.probe_timeout_ms);
    timer_set(g, &p->t_deadline,
              tn + (uint64_t)g->p.probe_interval_ms * (g->health + 1));
    if (urgent)
        probe_stream(g, m);
}

/* ---- watch ring -----------------------------------------------------------
 */

static int id_cmp(const struct gossip_id *a, const struct gossip_id *b)
{
    return memcmp(a->b, b->b, sizeof(a->b));
}

/* Watch our successor by node ID among the alive members (the ring wraps),
 * so every member has exactly one watcher. Runs every probe tick; after a
 * watch broke, the same member is watched again only a probe interval
 * later. */
static void watch_update(struct gossip *g)
{
    struct member *next = NULL, *first = NULL;
    if (!g->env.watch || !g->p.watch_ring)
        return;
    for (size_t i = 0; i < g->n; i++) {
        struct member *m = g->nodes[i];
        if (m == g->self || m->state != GOSSIP_ALIVE)
            continue;
        if (!first || id_cmp(&m->id, &first->id) < 0)
            first = m;
        if (id_cmp(&m->id, &g->self->id) > 0 &&
            (!next || id_cmp(&m->id, &next->id) < 0))
            next = m;
    }
    if (!next)
        next = first;
    if (g->watching && next && gossip__id_eq(&next->id, &g->watch_id))
        return;
    if (g->watching) {
        g->watching = false;
        if (g->env.unwatch)
            g->env.unwatch(g->env.data);
    }
    if (!next)
        return;
    if (g->watch_lost_at && gossip__id_eq(&next->id, &g->watch_id) &&
        now(g) - g->watch_lost_at < g->p.probe_interval_ms)
        return;
    g->watch_id = next->id;
    if (g->env.watch(g->env.data, &next->addr, ++g->watch_token) == 0)
        g->watching = true;
    else
        g->watch_lost_at = now(g);
}

GOSSIP_API void gossip_on_watch_lost(struct gossip *g, uint64_t token)
{
    struct member *m;
    struct probe *p = &g->probe;
    if (!g->watching || token != g->watch_token) {
        finish(g);
        return;
    }
    g->watching = false;
    g->watch_lost_at = now(g);
    if (!g->watch_lost_at)
        g->watch_lost_at = 1;
    g->st.watches_lost++;
    m = find(g, &g->watch_id);
    if (m && m->state == GOSSIP_ALIVE && g->started && !g->leaving) {
        glog(g, GOSSIP_LOG_DEBUG, "watch on %s broke: probing it now",
             m->name);
        if (!p->active) {
            timer_stop(g, &g->t_probe);
            probe_start(g, m, true);
        } else if (gossip__id_eq(&p->target, &m->id)) {
            p->urgent = true;
            probe_stream(g, m);
        } else {
            g->urgent_pending = true;
            g->urgent_id = m->id;
        }
    }
    finish(g);
}

static void shuffle(struct gossip *g)
{
    for (size_t i = g->n; i > 1; i--) {
        size_t j = rnd_n(g, i);
        struct member *t = g->nodes[i - 1];
        g->nodes[i - 1] = g->nodes[j];
        g->nodes[j] = t;
        g->nodes[i - 1]->pos = i - 1;
        g->nodes[j]->pos = j;
    }
}

/* End of a pass: reap long-dead entries, reshuffle (spec 1.1). */
static void reset_pass(struct gossip *g)
{
    uint64_t t = now(g);
    for (size_t i = g->n; i-- > 0;) {
        struct member *m = g->nodes[i];
        if (m == g->self)
            continue;
        if ((m->state == GOSSIP_DEAD &&
             t - m->state_change >= g->p.dead_retention_ms) ||
            (m->state == GOSSIP_LEFT &&
             t - m->state_change >= g->p.left_retention_ms)) {
            glog(g, GOSSIP_LOG_DEBUG, "reaping %s (%s)", m->name,
                 gossip_state_name(m->state));
            table_remove(g, m);
        }
    }
    shuffle(g);
    g->probe_index = 0;
}

static struct member *next_target(struct gossip *g)
{
    for (size_t tries = 0; tries <= g->n + 1; tries++) {
        struct member *m;
        if (g->probe_index >= g->n)
            reset_pass(g);
        if (g->n == 0)
            return NULL;
        m = g->nodes[g->probe_index++];
        if (m == g->self || m->state == GOSSIP_DEAD || m->state == GOSSIP_LEFT)
            continue;
        return m;
    }
    return NULL;
}

/* ---- packet handlers ------------------------------------------------------
 */

static struct gossip_addr reply_addr(const struct proto_hdr *h,
                                     const struct gossip_addr *from)
{
    static const uint8_t zero[16];
    struct gossip_addr a = h->addr;
    if (from && memcmp(a.ip, zero, gossip__addr_len(&a)) == 0) {
        uint16_t port = a.port;
        a = *from;
        a.port = port;
    }
    return a;
}

static void send_ack(struct gossip *g,
                     const struct gossip_addr *to,
                     const struct gossip_id *peer,
                     uint64_t seq,
                     const struct gossip_inc *inc,
                     enum key_use use)
{
    struct pkt pk;
    struct msg_ack ack = {seq, *inc};
    size_t mark;
    pkt_init(g, &pk);
    mark = pkt_begin(&pk, GOSSIP_MSG_ACK);
    gossip__enc_ack(&pk.w, &ack);
    pkt_end(&pk, mark);
    pkt_self_alive(g, &pk);
    pkt_fill(g, &pk);
    pkt_send(g, &pk, to, peer, use);
}

static void handle_ping(struct gossip *g,
                        const struct proto_hdr *h,
                        const struct gossip_addr *from,
                        const struct msg_ping *m)
{
    struct gossip_addr to;
    char id[9];
    if (!gossip__id_eq(&m->target, &g->self->id)) {
        gossip__id_short(&m->target, id);
        glog(g, GOSSIP_LOG_DEBUG, "ping for node ID %s... is not for us", id);
        return;
    }
    to = reply_addr(h, from);
    send_ack(g, &to, &h->sender, m->seq, &g->self->inc, KEY_REPLY);
}

static void ireq_free(struct gossip *g, struct ireq *r)
{
    struct ireq **pp = &g->ireqs;
    while (*pp && *pp != r)
        pp = &(*pp)->next;
    if (*pp)
        *pp = r->next;
    timer_stop(g, &r->t);
    g->n_ireqs--;
    free(r);
}

static void ireq_expire(struct gossip *g, struct gtimer *t)
{
    struct ireq *r = (struct ireq *)t;
    if (r->want_nack) {
        struct pkt pk;
        struct msg_nack n = {r->orig_seq};
        size_t mark;
        pkt_init(g, &pk);
        mark = pkt_begin(&pk, GOSSIP_MSG_NACK);
        gossip__enc_nack(&pk.w, &n);
        pkt_end(&pk, mark);
        pkt_fill(g, &pk);
        pkt_send(g, &pk, &r->req_addr, &r->requester, KEY_PEER);
    }
    ireq_free(g, r);
}

static void handle_ping_req(struct gossip *g,
                            const struct proto_hdr *h,
                            const struct gossip_addr *from,
                            const struct msg_ping_req *m)
{
    struct ireq *r;
    struct pkt pk;
    struct msg_ping ping;
    size_t mark;
    if (g->n_ireqs >= IREQ_MAX || gossip__id_eq(&m->target, &g->self->id))
        return;
    r = calloc(1, sizeof(*r));
    if (!r)
        return;
    timer_init(&r->t, ireq_expire);
    r->seq = g->next_seq++;
    r->orig_seq = m->seq;
    r->requester = h->sender;
    r->req_addr = reply_addr(h, from);
    r->want_nack = m->want_nack;
    r->next = g->ireqs;
    g->ireqs = r;
    g->n_ireqs++;
    timer_set(g, &r->t, now(g) + g->p.probe_timeout_ms);

    pkt_init(g, &pk);
    ping.seq = r->seq;
    ping.target = m->target;
    mark = pkt_begin(&pk, GOSSIP_MSG_PING);
    gossip__enc_ping(&pk.w, &ping);
    pkt_end(&pk, mark);
    pkt_fill(g, &pk);
    pkt_send(g, &pk, &m->target_addr, &m->target, KEY_PEER);
}

static void handle_ack(struct gossip *g, const struct msg_ack *a)
{
    struct probe *p = &g->probe;
    if (p->active && a->seq == p->seq) {
        if (p->t_timeout.idx != SIZE_MAX)
            ack_sample(g, true); /* direct, before the probe timeout */
        probe_end(g, true, false);
        return;
    }
    for (struct ireq *r = g->ireqs; r; r = r->next) {
        if (r->seq == a->seq) {
            send_ack(g, &r->req_addr, &r->requester, r->orig_seq, &a->inc,
                     KEY_PEER);
            ireq_free(g, r);
            return;
        }
    }
}

static void handle_nack(struct gossip *g, const struct msg_nack *n)
{
    if (g->probe.active && n->seq == g->probe.seq)
        g->probe.nacks++;
}

static void dispatch(struct gossip *g,
                     const struct proto_hdr *h,
                     const struct gossip_addr *from,
                     const struct proto_part *pt)
{
    union
    {
        struct msg_ping ping;
        struct msg_ping_req preq;
        struct msg_ack ack;
        struct msg_nack nack;
        struct msg_alive alive;
        struct msg_suspect susp;
        struct msg_user user;
    } u;
    if (pt->type < GOSSIP_MSG_TYPES) {
        g->st.msgs_recv[pt->type]++;
        g->st.msg_bytes_recv[pt->type] += 3 + pt->len;
    }
    switch (pt->type) {
    case GOSSIP_MSG_PING:
        if (gossip__dec_ping(pt->body, pt->len, &u.ping) == 0)
            handle_ping(g, h, from, &u.ping);
        break;
    case GOSSIP_MSG_PING_REQ:
        if (gossip__dec_ping_req(pt->body, pt->len, &u.preq) == 0)
            handle_ping_req(g, h, from, &u.preq);
        break;
    case GOSSIP_MSG_ACK:
        if (gossip__dec_ack(pt->body, pt->len, &u.ack) == 0)
            handle_ack(g, &u.ack);
        break;
    case GOSSIP_MSG_NACK:
        if (gossip__dec_nack(pt->body, pt->len, &u.nack) == 0)
            handle_nack(g, &u.nack);
        break;
    case GOSSIP_MSG_ALIVE:
        if (gossip__dec_alive(pt->body, pt->len, &u.alive) == 0)
            on_alive(g, &u.alive);
        break;
    case GOSSIP_MSG_SUSPECT:
        if (gossip__dec_suspect(pt->body, pt->len, &u.susp) == 0)
            on_suspect(g, &u.susp.id, &u.susp.inc, &u.susp.from);
        break;
    case GOSSIP_MSG_DEAD:
        if (gossip__dec_suspect(pt->body, pt->len, &u.susp) == 0)
            on_dead(g, &u.susp.id, &u.susp.inc, &u.susp.from);
        break;
    case GOSSIP_MSG_USER:
        if (gossip__dec_user(pt->body, pt->len, &u.user) == 0)
            on_user(g, &u.user);
        break;
    default:
        break;
    }
}

/* Open a frame: envelope or cleartext per configuration. On success
 * returns the plaintext length in out (or points *pt into in for
 * cleartext) and *key_idx (-1 for cleartext). */
static int open_frame(struct gossip *g,
                      bool stream,
                      const uint8_t *in,
                      size_t len,
                      uint8_t *out,
                      size_t cap,
                      const uint8_t **pt,
                      size_t *ptlen,
                      int *key_idx)
{
    if (len == 0)
        return GOSSIP_E_TRUNCATED;
    if (in[0] == PROTO_ENV_MAGIC) {
        int n, idx = -1;
        if (!g->kr.n)
            return GOSSIP_E_NO_KEY;
        n = gossip__env_open(&g->kr, stream, g->label, g->label_len, wall(g),
                             g->p.replay_window_ms, &g->replay, in, len, out,
                             cap, &idx);
        if (n < 0)
            return n;
        g->kr.keys[idx].last_rx = now(g) ? now(g) : 1;
        g->kr.keys[idx].rx_count++;
        *pt = out;
        *ptlen = (size_t)n;
        *key_idx = idx;
        return 0;
    }
    if (in[0] == PROTO_CLEAR_MAGIC) {
        uint8_t flags = 0;
        int rc;
        if (g->kr.n && g->verify_in)
            return GOSSIP_E_PLAINTEXT;
        rc = gossip__clear_unwrap(g->label_tag, in, len, pt, ptlen, &flags);
        if (rc)
            return rc;
        if (flags != (stream ? PROTO_FLAG_STREAM : 0))
            return GOSSIP_E_INVALID;
        *key_idx = -1;
        return 0;
    }
    return GOSSIP_E_VERSION;
}

static void rx_begin(struct gossip *g, const struct proto_hdr *h, int key_idx)
{
    struct member *m = find(g, &h->sender);
    g->in_rx = true;
    g->rx_sender = h->sender;
    g->rx_key = key_idx;
    if (m && key_idx >= 0)
        m->peer_primary = h->primary_key;
}

static void rx_end(struct gossip *g, const struct proto_hdr *h, int key_idx)
{
    /* A sender first met in this packet: note its key now. */
    struct member *m = find(g, &h->sender);
    if (m && key_idx >= 0)
        m->peer_primary = h->primary_key;
    g->in_rx = false;
    g->rx_key = -1;
}

GOSSIP_API void gossip_on_packet(struct gossip *g,
                                 const struct gossip_addr *from,
                                 const uint8_t *buf,
                                 size_t len)
{
    uint8_t plain[GOSSIP_UDP_MAX];
    struct proto_msg msg;
    const uint8_t *pt = NULL;
    size_t ptlen = 0;
    int rc, key_idx = -1;

    g->st.pkts_recv++;
    g->st.bytes_recv += len;
    if (len > GOSSIP_UDP_MAX) {
        reject(g, from, GOSSIP_E_OVERSIZE, "packet");
        return;
    }
    rc = open_frame(g, false, buf, len, plain, sizeof(plain), &pt, &ptlen,
                    &key_idx);
    if (rc == 0) {
        rc = gossip__dec_payload(pt, ptlen, &msg);
        if (rc == 0 && msg.hdr.kind != PROTO_KIND_PACKET)
            rc = GOSSIP_E_INVALID;
        for (unsigned i = 0; rc == 0 && i < msg.nparts; i++)
            rc = gossip__dec_part(&msg.parts[i]);
        if (rc == 0 && gossip__id_eq(&msg.hdr.sender, &g->self->id))
            rc = GOSSIP_E_INVALID; /* our own ID from elsewhere */
    }
    if (rc) {
        reject(g, from, rc, "packet");
        sodium_memzero(plain, sizeof(plain));
        return;
    }
    rx_begin(g, &msg.hdr, key_idx);
    for (unsigned i = 0; i < msg.nparts; i++)
        dispatch(g, &msg.hdr, from, &msg.parts[i]);
    rx_end(g, &msg.hdr, key_idx);
    finish(g);
}

GOSSIP_API void gossip_on_timer(struct gossip *g)
{
    uint64_t t = now(g);
    /* The timer may fire early or late; run everything due. The armed
     * deadline is forgotten so rearm() re-arms even at the same time. */
    g->armed = false;
    while (g->heap_n && g->heap[0]->at <= t) {
        struct gtimer *tm = g->heap[0];
        timer_stop(g, tm);
        tm->fn(g, tm);
    }
    finish(g);
}

/* ---- gossip tick, push/pull, reconnect ------------------------------------
 */

/* One round: a packet from the broadcast queue to each of gossip_nodes
 * random members (the dead for a while too, so they learn they were
 * declared dead and refute). */
static bool gossip_round(struct gossip *g)
{
    struct member *targets[64];
    size_t nt = 0, want = g->p.gossip_nodes;
    uint64_t tn = now(g);
    bool sent = false;
    if (gossip__bq_len(&g->bq) == 0 || g->n < 2)
        return false;
    g->last_round = tn;
    if (want > 64)
        want = 64;
    for (size_t tries = 0; tries < 3 * g->n && nt < want; tries++) {
        struct member *m = g->nodes[rnd_n(g, g->n)];
        bool dup = false;
        if (m == g->self || m->state == GOSSIP_LEFT)
            continue;
        if (m->state == GOSSIP_DEAD &&
            tn - m->state_change >= g->p.gossip_to_dead_ms)
            continue;
        for (size_t i = 0; i < nt; i++)
            dup |= targets[i] == m;
        if (!dup)
            targets[nt++] = m;
    }
    for (size_t i = 0; i < nt; i++) {
        struct pkt pk;
        pkt_init(g, &pk);
        pkt_fill(g, &pk);
        if (pk.count == 0)
            break;
        pkt_send(g, &pk, &targets[i]->addr, &targets[i]->id, KEY_PEER);
        sent = true;
    }
    return sent;
}

static void eager_kick(struct gossip *g);

/* Eager rounds go on while some queued broadcast has been sent fewer than
 * half its retransmit limit: one eager round per new message would leave
 * the few members its first wave missed (about e^-fanout of them) waiting
 * for the tick; the second half of the limit is spent on the ticks, spread
 * over time as memberlist does. Only after a round that sent something:
 * with nobody to send to (alone, or every peer dead) the queue cannot
 * drain, and the tick is enough. */
static void eager_more(struct gossip *g, bool sent)
{
    if (sent &&
        gossip__bq_min_transmits(&g->bq) < (retransmit_limit(g) + 1) / 2)
        eager_kick(g);
}

static void gossip_tick(struct gossip *g, struct gtimer *t)
{
    (void)t;
    timer_set(g, &g->t_gossip, now(g) + g->p.gossip_interval_ms);
    timer_stop(g, &g->t_eager);
    eager_more(g, gossip_round(g));
}

static void eager_tick(struct gossip *g, struct gtimer *t)
{
    (void)t;
    eager_more(g, gossip_round(g));
}

/* A broadcast was queued: unless the tick comes first, send an extra round
 * as soon as the previous one is eager_gap_ms old. The timer fires from
 * the loop, after the caller has queued everything it is going to (a
 * push/pull merge queues a whole table at once), so a burst shares
 * packets. */
static void eager_kick(struct gossip *g)
{
    uint64_t at, tn;
    if (!g->p.eager_gap_ms || !g->started)
        return;
    tn = now(g);
    at = g->last_round + g->p.eager_gap_ms;
    if (at < tn)
        at = tn;
    if (g->t_gossip.idx != SIZE_MAX && g->t_gossip.at <= at)
        return; /* the regular tick is sooner */
    if (g->t_eager.idx != SIZE_MAX && g->t_eager.at <= at)
        return;
    timer_set(g, &g->t_eager, at);
}

static uint64_t pushpull_interval(struct gossip *g)
{
    size_t n = n_estimate(g);
    uint64_t iv = g->p.push_pull_interval_ms;
    if (n > 32) {
        double mult = ceil(log2((double)n) - log2(32.0)) + 1.0;
        iv = (uint64_t)((double)iv * mult);
    }
    return iv;
}

static int build_pushpull(struct gossip *g,
                          bool join,
                          bool reply,
                          struct wbuf *w)
{
    size_t mark;
    gossip__wbuf_dyn(w, GOSSIP_STREAM_MAX + PROTO_HDR_MAX + 5);
    gossip__enc_hdr(w, PROTO_KIND_STREAM, &g->self->id, &g->self->addr,
                    primary_id(g));
    mark = gossip__stream_begin(w, GOSSIP_MSG_PUSHPULL);
    gossip__enc_pushpull_head(w, join, reply, g->ltime, (uint32_t)g->n);
    for (size_t i = 0; i < g->n; i++) {
        struct msg_alive a;
        member_alive_msg(g->nodes[i], &a);
        gossip__put_u8(w, (uint8_t)g->nodes[i]->state);
        gossip__enc_alive(w, &a);
    }
    gossip__put_u16(w, (uint16_t)g->recent_n);
    for (size_t i = 0; i < g->recent_n; i++) {
        const struct recent_ev *r = &g->recent[i];
        struct msg_user u = {r->origin,   r->ltime,   r->name,
                             r->name_len, r->payload, r->len};
        size_t lm = w->len;
        gossip__put_u16(w, 0);
        gossip__enc_user(w, &u);
        if (!w->err) {
            size_t bl = w->len - lm - 2;
            w->p[lm] = (uint8_t)(bl >> 8);
            w->p[lm + 1] = (uint8_t)bl;
        }
    }
    gossip__stream_end(w, mark);
    return w->err;
}

static void merge(struct gossip *g,
                  const struct msg_pushpull *pp,
                  const struct gossip_id *sender)
{
    size_t off = 0;
    uint8_t st;
    struct msg_alive a;
    struct msg_user u;
    while (gossip__pushpull_user_next(pp, &off, &u) == 1)
        on_user(g, &u); /* before witnessing: they are not "too old" */
    off = 0;
    witness(g, pp->ltime);
    while (gossip__pushpull_next(pp, &off, &st, &a) == 1) {
        switch (st) {
        case GOSSIP_ALIVE:
            on_alive(g, &a);
            break;
        case GOSSIP_LEFT:
            on_dead(g, &a.id, &a.inc, &a.id);
            break;
        case GOSSIP_DEAD: /* a remote "dead" is only a suspicion here */
        case GOSSIP_SUSPECT:
            on_suspect(g, &a.id, &a.inc, sender);
            break;
        default:
            break;
        }
    }
}

static struct sreq *sreq_take(struct gossip *g, uint64_t id)
{
    for (struct sreq **pp = &g->sreqs; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            struct sreq *r = *pp;
            *pp = r->next;
            g->n_sreqs--;
            return r;
        }
    }
    return NULL;
}

/* Seal w (a stream payload) and start env->stream. Frees nothing. */
static int stream_send(struct gossip *g,
                       enum sreq_kind kind,
                       const struct gossip_addr *to,
                       const struct gossip_id *peer,
                       struct wbuf *w,
                       uint32_t timeout,
                       struct join_ctx *join,
                       uint64_t probe_seq)
{
    struct sreq *r;
    uint8_t *out;
    size_t len;
    int key, rc;
    if (!g->env.stream)
        return -ENOTSUP;
    if (w->err)
        return w->err;
    if (g->n_sreqs >= SREQ_MAX)
        return -EBUSY;
    out = malloc(w->len + ENV_OVERHEAD + PROTO_CLEAR_OVERHEAD);
    r = calloc(1, sizeof(*r));
    if (!out || !r) {
        free(out);
        free(r);
        return -ENOMEM;
    }
    key = key_for(g, peer, KEY_PEER);
    if (key >= 0) {
        rc =
            gossip__env_seal(&g->kr.keys[key], true, g->label, g->label_len,
                             wall(g), w->p, w->len, out, w->len + ENV_OVERHEAD);
        if (rc < 0) {
            free(out);
            free(r);
            return rc;
        }
        len = (size_t)rc;
    } else {
        len = gossip__clear_wrap(PROTO_FLAG_STREAM, g->label_tag, w->p, w->len,
                                 out);
    }
    r->id = ++g->next_sreq;
    r->kind = kind;
    r->join = join;
    r->probe_seq = probe_seq;
    r->to = *to;
    r->next = g->sreqs;
    g->sreqs = r;
    g->n_sreqs++;
    g->st.streams_sent++;
    g->st.stream_bytes_sent += len;
    rc = g->env.stream(g->env.data, to, out, len, timeout, r->id);
    free(out);
    if (rc < 0) {
        sreq_take(g, r->id);
        free(r);
        return rc;
    }
    return 0;
}

static int start_pushpull(struct gossip *g,
                          enum sreq_kind kind,
                          const struct gossip_addr *to,
                          const struct gossip_id *peer,
                          struct join_ctx *join)
{
    struct wbuf w;
    int rc = build_pushpull(g, kind == SREQ_JOIN, false, &w);
    if (rc == 0)
        rc = stream_send(g, kind, to, peer, &w, g->p.tcp_timeout_ms, join, 0);
    free(w.p);
    return rc;
}

static void pushpull_tick(struct gossip *g, struct gtimer *t)
{
    struct member *cand[1];
    size_t nc = 0;
    (void)t;
    timer_set(g, &g->t_pushpull, now(g) + pushpull_interval(g));
    if (g->leaving || g->n < 2)
        return;
    for (size_t tries = 0; tries < 3 * g->n && nc == 0; tries++) {
        struct member *m = g->nodes[rnd_n(g, g->n)];
        if (m != g->self && m->state == GOSSIP_ALIVE)
            cand[nc++] = m;
    }
    if (nc)
        start_pushpull(g, SREQ_PUSHPULL, &cand[0]->addr, &cand[0]->id, NULL);
}

static void reconnect_tick(struct gossip *g, struct gtimer *t)
{
    size_t ndead = 0, pick;
    (void)t;
    timer_set(g, &g->t_reconnect, now(g) + g->p.reconnect_interval_ms);
    if (g->leaving)
        return;
    for (size_t i = 0; i < g->n; i++)
        ndead += g->nodes[i]->state == GOSSIP_DEAD;
    if (!ndead)
        return;
    pick = rnd_n(g, ndead);
    for (size_t i = 0; i < g->n; i++) {
        struct member *m = g->nodes[i];
        if (m->state != GOSSIP_DEAD)
            continue;
        if (pick-- == 0) {
            glog(g, GOSSIP_LOG_DEBUG, "attempting reconnect to %s", m->name);
            start_pushpull(g, SREQ_RECONNECT, &m->addr, &m->id, NULL);
            return;
        }
    }
}

static void leave_timeout(struct gossip *g, struct gtimer *t)
{
    (void)t;
    if (g->leaving && !g->leave_done) {
        g->leave_done = true;
        g->leave_status = GOSSIP_E_TIMEOUT;
        g->leave_fire = true;
    }
}

/* ---- streams ----------------------------------------------------------------
 */

static int error_frame(struct gossip *g,
                       int code,
                       uint8_t **out,
                       size_t *out_len)
{
    uint8_t buf[128];
    struct wbuf w;
    struct msg_error e = {code < 0 && code > INT32_MIN ? code
                                                       : GOSSIP_E_INVALID};
    size_t mark;
    uint8_t *o;
    gossip__wbuf_fixed(&w, buf, sizeof(buf));
    gossip__enc_hdr(&w, PROTO_KIND_STREAM, &g->self->id, &g->self->addr,
                    primary_id(g));
    mark = gossip__stream_begin(&w, GOSSIP_MSG_ERROR);
    gossip__enc_error(&w, &e);
    gossip__stream_end(&w, mark);
    if (w.err)
        return w.err;
    o = malloc(w.len + PROTO_CLEAR_OVERHEAD);
    if (!o)
        return -ENOMEM;
    *out_len = gossip__clear_wrap(PROTO_FLAG_STREAM | PROTO_FLAG_ERROR,
                                  g->label_tag, w.p, w.len, o);
    *out = o;
    return 0;
}

static int seal_reply(struct gossip *g,
                      const struct gossip_id *peer,
                      struct wbuf *w,
                      uint8_t **out,
                      size_t *out_len)
{
    uint8_t *o;
    int key;
    if (w->err)
        return w->err;
    o = malloc(w->len + ENV_OVERHEAD + PROTO_CLEAR_OVERHEAD);
    if (!o)
        return -ENOMEM;
    key = key_for(g, peer, KEY_REPLY);
    if (key >= 0) {
        int n =
            gossip__env_seal(&g->kr.keys[key], true, g->label, g->label_len,
                             wall(g), w->p, w->len, o, w->len + ENV_OVERHEAD);
        if (n < 0) {
            free(o);
            return n;
        }
        *out_len = (size_t)n;
    } else {
        *out_len = gossip__clear_wrap(PROTO_FLAG_STREAM, g->label_tag, w->p,
                                      w->len, o);
    }
    *out = o;
    g->st.stream_bytes_sent += *out_len;
    return 0;
}

/* Decrypt/validate a stream message into msg; plain is the buffer (new,
 * caller frees) holding the plaintext when encrypted. */
static int open_stream(struct gossip *g,
                       const uint8_t *buf,
                       size_t len,
                       uint8_t **plain,
                       struct proto_msg *msg,
                       int *key_idx)
{
    const uint8_t *pt = NULL;
    size_t ptlen = 0;
    int rc;
    *plain = NULL;
    if (len > GOSSIP_STREAM_MAX + PROTO_HDR_MAX + 5 + ENV_OVERHEAD)
        return GOSSIP_E_OVERSIZE;
    *plain = malloc(len ? len : 1);
    if (!*plain)
        return -ENOMEM;
    rc = open_frame(g, true, buf, len, *plain, len, &pt, &ptlen, key_idx);
    if (rc == 0)
        rc = gossip__dec_payload(pt, ptlen, msg);
    if (rc == 0 && msg->hdr.kind != PROTO_KIND_STREAM)
        rc = GOSSIP_E_INVALID;
    if (rc == 0)
        rc = gossip__dec_part(&msg->parts[0]);
    if (rc == 0 && gossip__id_eq(&msg->hdr.sender, &g->self->id))
        rc = GOSSIP_E_INVALID;
    return rc;
}

GOSSIP_API int gossip_on_stream(struct gossip *g,
                                const struct gossip_addr *from,
                                const uint8_t *buf,
                                size_t len,
                                uint8_t **out,
                                size_t *out_len)
{
    struct proto_msg *msg;
    uint8_t *plain = NULL;
    int rc, key_idx = -1;
    const struct proto_part *pt;

    *out = NULL;
    *out_len = 0;
    g->st.streams_recv++;
    g->st.stream_bytes_recv += len;
    msg = malloc(sizeof(*msg));
    if (!msg)
        return -ENOMEM;
    rc = open_stream(g, buf, len, &plain, msg, &key_idx);
    if (rc) {
        reject(g, from, rc, "stream");
        free(plain);
        free(msg);
        return error_frame(g, rc, out, out_len);
    }
    pt = &msg->parts[0];
    if (pt->type < GOSSIP_MSG_TYPES)
        g->st.msgs_recv[pt->type]++;
    rx_begin(g, &msg->hdr, key_idx);
    if (pt->type == GOSSIP_MSG_PING) {
        struct msg_ping ping;
        gossip__dec_ping(pt->body, pt->len, &ping);
        if (gossip__id_eq(&ping.target, &g->self->id)) {
            struct wbuf w;
            struct msg_ack ack = {ping.seq, g->self->inc};
            size_t mark;
            gossip__wbuf_dyn(&w, 4096);
            gossip__enc_hdr(&w, PROTO_KIND_STREAM, &g->self->id, &g->self->addr,
                            primary_id(g));
            mark = gossip__stream_begin(&w, GOSSIP_MSG_ACK);
            gossip__enc_ack(&w, &ack);
            gossip__stream_end(&w, mark);
            rc = seal_reply(g, &msg->hdr.sender, &w, out, out_len);
            free(w.p);
        } else {
            rc = error_frame(g, GOSSIP_E_NOT_FOUND, out, out_len);
        }
    } else if (pt->type == GOSSIP_MSG_PUSHPULL) {
        struct msg_pushpull pp;
        struct wbuf w;
        gossip__dec_pushpull(pt->body, pt->len, &pp);
        if (pp.join) {
            char a[64];
            glog(g, GOSSIP_LOG_DEBUG, "join request from %s",
                 gossip_addr_format(&msg->hdr.addr, a, sizeof(a)));
        }
        /* Merge first so the reply carries any refutation of ours. */
        merge(g, &pp, &msg->hdr.sender);
        rc = build_pushpull(g, pp.join, true, &w);
        if (rc == 0)
            rc = seal_reply(g, &msg->hdr.sender, &w, out, out_len);
        free(w.p);
    } else {
        rc = error_frame(g, GOSSIP_E_INVALID, out, out_len);
    }
    rx_end(g, &msg->hdr, key_idx);
    if (plain)
        sodium_memzero(plain, len);
    free(plain);
    free(msg);
    finish(g);
    return rc;
}

/* A cleartext error frame answers a request we could not have it read. */
static int peer_error(const uint8_t *buf, size_t len, const uint8_t tag[4])
{
    const uint8_t *pt;
    size_t ptlen;
    uint8_t flags = 0;
    struct proto_msg *msg;
    struct msg_error e;
    int rc;
    if (len < 1 || buf[0] != PROTO_CLEAR_MAGIC || len < 2 ||
        !(buf[1] & PROTO_FLAG_ERROR))
        return 0;
    if (gossip__clear_unwrap(tag, buf, len, &pt, &ptlen, &flags) != 0)
        return GOSSIP_E_REJECTED;
    msg = malloc(sizeof(*msg));
    if (!msg)
        return GOSSIP_E_REJECTED;
    rc = gossip__dec_payload(pt, ptlen, msg);
    if (rc == 0 && (msg->hdr.kind != PROTO_KIND_STREAM ||
                    msg->parts[0].type != GOSSIP_MSG_ERROR))
        rc = GOSSIP_E_INVALID;
    if (rc == 0)
        rc = gossip__dec_error(msg->parts[0].body, msg->parts[0].len, &e);
    free(msg);
    return rc == 0 ? e.code : GOSSIP_E_REJECTED;
}

GOSSIP_API void gossip_on_stream_reply(struct gossip *g,
                                       uint64_t req,
                                       int status,
                                       const uint8_t *buf,
                                       size_t len)
{
    struct sreq *r = sreq_take(g, req);
    struct proto_msg *msg = NULL;
    uint8_t *plain = NULL;
    int rc = status, key_idx = -1, perr = 0;
    char a[64];
    struct join_ctx *join;

    bool refused = status == -ECONNREFUSED, reset = status == -ECONNRESET;
    if (!r)
        return;
    if (refused || reset) /* callers see one code for "no answer" */
        rc = GOSSIP_E_UNREACHABLE;
    gossip_addr_format(&r->to, a, sizeof(a));
    if (rc == 0) {
        g->st.stream_bytes_recv += len;
        perr = peer_error(buf, len, g->label_tag);
        if (perr) {
            rc = GOSSIP_E_REJECTED;
            glog(g, r->kind == SREQ_JOIN ? GOSSIP_LOG_ERROR : GOSSIP_LOG_WARN,
                 "%s refused our %s: %s", a,
                 r->kind == SREQ_PING ? "stream ping" : "push/pull",
                 gossip_strerror(perr));
        }
    }
    if (rc == 0) {
        msg = malloc(sizeof(*msg));
        rc = msg ? open_stream(g, buf, len, &plain, msg, &key_idx) : -ENOMEM;
        if (rc)
            reject(g, &r->to, rc, "stream reply");
    }
    if (rc == 0) {
        const struct proto_part *pt = &msg->parts[0];
        rx_begin(g, &msg->hdr, key_idx);
        if (r->kind == SREQ_PING && pt->type == GOSSIP_MSG_ACK) {
            struct msg_ack ack;
            gossip__dec_ack(pt->body, pt->len, &ack);
            /* Counted at the deadline unless a UDP ack comes first. */
            if (g->probe.active && ack.seq == g->probe.seq &&
                ack.seq == r->probe_seq)
                g->probe.stream_ok = true;
        } else if (r->kind != SREQ_PING && pt->type == GOSSIP_MSG_PUSHPULL) {
            struct msg_pushpull pp;
            gossip__dec_pushpull(pt->body, pt->len, &pp);
            merge(g, &pp, &msg->hdr.sender);
        } else {
            rc = GOSSIP_E_INVALID;
        }
        rx_end(g, &msg->hdr, key_idx);
    } else if (!perr && r->kind == SREQ_JOIN) {
        glog(g, GOSSIP_LOG_WARN, "join via %s failed: %s", a,
             gossip_strerror(rc));
    } else if (r->kind == SREQ_PING && g->probe.active &&
               g->probe.seq == r->probe_seq &&
               ((refused &&
                 (g->probe.urgent || g->probe.t_timeout.idx == SIZE_MAX)) ||
                (reset && g->probe.urgent))) {
        /* Nothing listens on its port (a process that died; its host
         * answered with a reset) and either our watch on it broke too or the
         * direct ping went unanswered: judge now, not at the deadline. A
         * connection accepted and then reset without an answer counts too
         * when our watch broke: a dying process closes its listener after
         * the connection we watched (the kernel closes descriptors in
         * order). */
        probe_end(g, false, true);
    }
    if (plain)
        sodium_memzero(plain, len);
    free(plain);
    free(msg);
    join = r->join;
    free(r);
    if (join) {
        if (rc == 0)
            join->ok++;
        else
            join->last_err = rc;
        if (--join->pending == 0) {
            gossip_done_cb cb = join->cb;
            void *data = join->data;
            unsigned ok = join->ok;
            int err = join->last_err;
            free(join);
            finish(g);
            if (cb)
                cb(g, ok ? 0 : err, ok, data);
            return;
        }
    }
    finish(g);
}

/* ---- public operations ------------------------------------------------------
 */

GOSSIP_API void gossip_config_init(struct gossip_config *cfg,
                                   enum gossip_profile p)
{
    memset(cfg, 0, sizeof(*cfg));
    gossip_params_profile(p, &cfg->params);
    cfg->verify_incoming = true;
    cfg->verify_outgoing = true;
}

static int config_error(const struct gossip_env *env, const char *msg)
{
    if (env && env->log)
        env->log(env->data, GOSSIP_LOG_ERROR, msg);
    return -EINVAL;
}

GOSSIP_API int gossip_new(const struct gossip_config *cfg,
                          const struct gossip_env *env,
                          struct gossip **out)
{
    struct gossip *g;
    struct member *s;
    size_t nl;

    *out = NULL;
    if (!env || !env->now || !env->random || !env->send || !env->timer_start ||
        !env->timer_stop)
        return config_error(env, "gossip: incomplete environment");
    if (gossip_params_validate(&cfg->params) != 0)
        return config_error(env, "gossip: invalid parameters");
    nl = cfg->name ? strlen(cfg->name) : 0;
    if (nl == 0 || nl > GOSSIP_NAME_MAX)
        return config_error(env, "gossip: node name must be 1..128 bytes");
    if (cfg->meta_len > GOSSIP_META_MAX || (cfg->meta_len && !cfg->meta))
        return config_error(env, "gossip: metadata over 512 bytes");
    if (cfg->label && strlen(cfg->label) > GOSSIP_LABEL_MAX)
        return config_error(env, "gossip: cluster label over 255 bytes");
    if (cfg->addr.family != 4 && cfg->addr.family != 6)
        return config_error(env, "gossip: advertise address not set");
    if (cfg->nkeys > GOSSIP_KEYRING_MAX || (cfg->nkeys && !cfg->keys))
        return config_error(env, "gossip: too many keys");
    if (sodium_init() < 0)
        return -EIO;

    g = calloc(1, sizeof(*g));
    if (!g)
        return -ENOMEM;
    g->env = *env;
    g->p = cfg->params;
    g->on_member = cfg->on_member;
    g->on_user = cfg->on_user;
    g->data = cfg->data;
    g->verify_in = cfg->verify_incoming;
    g->verify_out = cfg->verify_outgoing;
    if (cfg->label) {
        g->label_len = strlen(cfg->label);
        memcpy(g->label, cfg->label, g->label_len);
    }
    gossip__label_tag(g->label, g->label_len, g->label_tag);
    gossip__keyring_init(&g->kr);
    for (size_t i = 0; i < cfg->nkeys; i++) {
        int rc = gossip__keyring_install(&g->kr, cfg->keys[i], GOSSIP_KEY_SIZE);
        if (rc) {
            gossip_delete(g);
            return config_error(env, "gossip: bad key");
        }
    }
    gossip__replay_init(&g->replay, g->p.replay_window_ms);
    gossip__bq_init(&g->bq, 4096, bq_finished, g);
    timer_init(&g->t_probe, probe_tick);
    timer_init(&g->t_gossip, gossip_tick);
    timer_init(&g->t_pushpull, pushpull_tick);
    timer_init(&g->t_reconnect, reconnect_tick);
    timer_init(&g->t_leave, leave_timeout);
    timer_init(&g->t_eager, eager_tick);
    timer_init(&g->probe.t_timeout, probe_indirect);
    timer_init(&g->probe.t_deadline, probe_deadline);
    g->rx_key = -1;
    g->ack_rate = 1.0;
    g->next_seq = rnd(g);
    g->n_dirty = true;

    s = calloc(1, sizeof(*s));
    if (!s) {
        gossip_delete(g);
        return -ENOMEM;
    }
    s->id = cfg->id;
    if (gossip__id_zero(&s->id))
        randombytes_buf(s->id.b, sizeof(s->id.b));
    memcpy(s->name, cfg->name, nl);
    s->name_len = (uint8_t)nl;
    s->addr = cfg->addr;
    s->vsn[0] = GOSSIP_PROTO_MIN;
    s->vsn[1] = GOSSIP_PROTO_MAX;
    s->vsn[2] = PROTO_VERSION;
    s->inc.gen = cfg->generation;
    s->inc.ctr = 1;
    s->state = GOSSIP_ALIVE;
    s->state_change = now(g);
    if (cfg->meta_len) {
        s->meta = malloc(cfg->meta_len);
        if (!s->meta) {
            free(s);
            gossip_delete(g);
            return -ENOMEM;
        }
        memcpy(s->meta, cfg->meta, cfg->meta_len);
        s->meta_len = (uint16_t)cfg->meta_len;
    }
    if (table_insert(g, s) != 0) {
        member_free(g, s);
        gossip_delete(g);
        return -ENOMEM;
    }
    g->self = s;
    *out = g;
    return 0;
}

GOSSIP_API void gossip_delete(struct gossip *g)
{
    if (!g)
        return;
    if (g->armed)
        g->env.timer_stop(g->env.data);
    for (size_t i = 0; i < g->n; i++)
        member_free(g, g->nodes[i]);
    free(g->nodes);
    free(g->hash);
    free(g->nhash);
    while (g->ireqs) {
        struct ireq *r = g->ireqs;
        g->ireqs = r->next;
        free(r);
    }
    while (g->sreqs) {
        struct sreq *r = g->sreqs;
        g->sreqs = r->next;
        if (r->join && --r->join->pending == 0)
            free(r->join);
        free(r);
    }
    free(g->heap);
    gossip__bq_free(&g->bq);
    gossip__replay_free(&g->replay);
    gossip__keyring_wipe(&g->kr);
    sodium_memzero(g, sizeof(*g));
    free(g);
}

GOSSIP_API void gossip_start(struct gossip *g)
{
    uint64_t t = now(g);
    if (g->started)
        return;
    g->started = true;
    g->probe.start = t;
    timer_set(g, &g->t_probe, t + rnd_n(g, g->p.probe_interval_ms));
    timer_set(g, &g->t_gossip, t + rnd_n(g, g->p.gossip_interval_ms));
    timer_set(g, &g->t_pushpull, t + 1 + rnd_n(g, pushpull_interval(g)));
    timer_set(g, &g->t_reconnect,
              t + g->p.reconnect_interval_ms / 2 +
                  rnd_n(g, g->p.reconnect_interval_ms));
    finish(g);
}

GOSSIP_API int gossip_join(struct gossip *g,
                           const struct gossip_addr *seeds,
                           size_t n,
                           gossip_done_cb cb,
                           void *data)
{
    struct join_ctx *j;
    int last = -EINVAL;
    if (g->leaving)
        return GOSSIP_E_LEAVING;
    if (!n || !seeds)
        return -EINVAL;
    if (!g->env.stream)
        return -ENOTSUP;
    j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    j->cb = cb;
    j->data = data;
    j->pending = 1; /* held while starting */
    for (size_t i = 0; i < n; i++) {
        int rc;
        j->pending++;
        rc = start_pushpull(g, SREQ_JOIN, &seeds[i], NULL, j);
        if (rc) {
            char a[64];
            j->pending--;
            last = rc;
            glog(g, GOSSIP_LOG_WARN, "join via %s failed: %s",
                 gossip_addr_format(&seeds[i], a, sizeof(a)),
                 gossip_strerror(rc));
        }
    }
    if (--j->pending == 0) {
        free(j);
        finish(g);
        return last;
    }
    j->last_err = last;
    finish(g);
    return 0;
}

GOSSIP_API int gossip_leave(struct gossip *g,
                            uint32_t timeout_ms,
                            gossip_done_cb cb,
                            void *data)
{
    struct msg_suspect d;
    size_t others = 0;
    if (g->leaving)
        return GOSSIP_E_LEAVING;
    g->leaving = true;
    g->leave_cb = cb;
    g->leave_data = data;
    timer_stop(g, &g->t_probe);
    timer_stop(g, &g->t_pushpull);
    timer_stop(g, &g->t_reconnect);
    timer_stop(g, &g->probe.t_timeout);
    timer_stop(g, &g->probe.t_deadline);
    g->probe.active = false;
    set_state(g, g->self, GOSSIP_LEFT);
    g->self->state_change = now(g);
    for (size_t i = 0; i < g->n; i++)
        others +=
            g->nodes[i] != g->self && (g->nodes[i]->state == GOSSIP_ALIVE ||
                                       g->nodes[i]->state == GOSSIP_SUSPECT);
    glog(g, GOSSIP_LOG_INFO, "leaving the cluster");
    if (!others) {
        g->leave_done = true;
        g->leave_status = 0;
        g->leave_fire = true;
    } else {
        d.id = g->self->id;
        d.inc = g->self->inc;
        d.from = g->self->id;
        bcast_susp(g, GOSSIP_MSG_DEAD, &d, LEAVE_NOTIFY);
        if (!g->started) /* nobody would send it: gossip anyway */
            timer_set(g, &g->t_gossip, now(g));
        timer_set(g, &g->t_leave, now(g) + timeout_ms);
    }
    finish(g);
    return 0;
}

GOSSIP_API int gossip_set_meta(struct gossip *g,
                               const uint8_t *meta,
                               size_t len)
{
    uint8_t *copy = NULL;
    if (len > GOSSIP_META_MAX || (len && !meta))
        return -EINVAL;
    if (g->leaving)
        return GOSSIP_E_LEAVING;
    if (len) {
        copy = malloc(len);
        if (!copy)
            return -ENOMEM;
    }
    set_meta(g->self, meta, (uint16_t)len, &copy);
    g->self->inc.ctr++;
    g->inc_changed_at = now(g) ? now(g) : 1;
    bcast_member(g, g->self);
    finish(g);
    return 0;
}

GOSSIP_API int gossip_user_event(struct gossip *g,
                                 const char *name,
                                 const uint8_t *payload,
                                 size_t len,
                                 uint64_t *ltime)
{
    struct msg_user u;
    size_t nl = name ? strlen(name) : 0;
    if (nl == 0 || nl > GOSSIP_USER_NAME_MAX || nl + len > GOSSIP_USER_MAX ||
        (len && !payload))
        return -EINVAL;
    u.origin = g->self->id;
    u.ltime = g->ltime++;
    u.name = name;
    u.name_len = (uint8_t)nl;
    u.payload = payload;
    u.len = (uint16_t)len;
    if (ltime)
        *ltime = u.ltime;
    seen_event(g, &u.origin, u.ltime);
    bcast_user(g, &u);
    deliver_user(g, &u);
    finish(g);
    return 0;
}

GOSSIP_API int gossip_force_leave(struct gossip *g,
                                  const char *name,
                                  bool prune)
{
    struct member *m = name ? find_name(g, name, strlen(name)) : NULL;
    if (!m)
        return GOSSIP_E_NOT_FOUND;
    if (m == g->self)
        return -EINVAL;
    if (m->state != GOSSIP_LEFT) {
        struct gossip_id id = m->id;
        struct gossip_inc inc = m->inc;
        on_dead(g, &id, &inc, &id);
    }
    if (prune)
        table_remove(g, m);
    finish(g);
    return 0;
}

/* ---- queries
 * ------------------------------------------------------------------ */

GOSSIP_API size_t gossip_member_count(const struct gossip *g)
{
    return g->n;
}

GOSSIP_API size_t gossip_members(const struct gossip *g,
                                 struct gossip_member *out,
                                 size_t max)
{
    for (size_t i = 0; i < g->n && i < max; i++)
        fill_member(g, g->nodes[i], &out[i]);
    return g->n;
}

GOSSIP_API int gossip_member_by_name(const struct gossip *g,
                                     const char *name,
                                     struct gossip_member *out)
{
    const struct member *m = name ? find_name(g, name, strlen(name)) : NULL;
    if (!m)
        return GOSSIP_E_NOT_FOUND;
    fill_member(g, m, out);
    return 0;
}

GOSSIP_API int gossip_member_by_id(const struct gossip *g,
                                   const struct gossip_id *id,
                                   struct gossip_member *out)
{
    const struct member *m = find(g, id);
    if (!m)
        return GOSSIP_E_NOT_FOUND;
    fill_member(g, m, out);
    return 0;
}

GOSSIP_API void gossip_self(const struct gossip *g, struct gossip_member *out)
{
    fill_member(g, g->self, out);
}

GOSSIP_API unsigned gossip_health_score(const struct gossip *g)
{
    return g->health;
}

GOSSIP_API size_t gossip_num_live(const struct gossip *g)
{
    return g->n_live;
}

GOSSIP_API void gossip_stats(const struct gossip *g, struct gossip_stats *out)
{
    *out = g->st;
    out->health_score = g->health;
    out->bcast_queued = gossip__bq_len(&g->bq);
    out->bcast_dropped += g->bq.dropped;
}

/* ---- keyring
 * ------------------------------------------------------------------ */

GOSSIP_API int gossip_keyring_install(struct gossip *g,
                                      const uint8_t key[GOSSIP_KEY_SIZE])
{
    return gossip__keyring_install(&g->kr, key, GOSSIP_KEY_SIZE);
}

GOSSIP_API int gossip_keyring_use(struct gossip *g,
                                  const uint8_t key[GOSSIP_KEY_SIZE])
{
    return gossip__keyring_use(&g->kr, key, GOSSIP_KEY_SIZE);
}

GOSSIP_API int gossip_keyring_remove(struct gossip *g,
                                     const uint8_t key[GOSSIP_KEY_SIZE])
{
    return gossip__keyring_remove(&g->kr, key, GOSSIP_KEY_SIZE);
}

GOSSIP_API size_t gossip_keyring_list(const struct gossip *g,
                                      struct gossip_key_info *out,
                                      size_t max)
{
    for (size_t i = 0; i < g->kr.n && i < max; i++) {
        memcpy(out[i].key, g->kr.keys[i].key, GOSSIP_KEY_SIZE);
        out[i].key_id = g->kr.keys[i].id;
        out[i].primary = i == 0;
        out[i].last_rx_ms = g->kr.keys[i].last_rx;
        out[i].rx_count = g->kr.keys[i].rx_count;
    }
    return g->kr.n;
}

GOSSIP_API int gossip_keyring_save_ring(const struct gossip *g,
                                        const char *path)
{
    uint8_t keys[GOSSIP_KEYRING_MAX][GOSSIP_KEY_SIZE];
    int rc;
    for (size_t i = 0; i < g->kr.n; i++)
        memcpy(keys[i], g->kr.keys[i].key, GOSSIP_KEY_SIZE);
    rc = gossip_keyring_save(path, (const uint8_t(*)[GOSSIP_KEY_SIZE])keys,
                             g->kr.n);
    sodium_memzero(keys, sizeof(keys));
    return rc;
}
