/*
 * sim.c — the deterministic gossip simulator (see sim.h). Linked into every
 * tests/sim/test_*.c binary.
 */
#include "sim.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WALL_BASE_MS 1700000000000ull

enum { EV_PKT, EV_TIMER, EV_SREQ, EV_SREPLY, EV_SHUTDOWN, EV_WLOST };

struct sim_ev
{
    uint64_t at, seq;
    int kind;
    int node;       /* destination */
    int from;       /* source node (packets, streams) */
    uint32_t epoch; /* destination epoch (timers, replies) */
    uint64_t gen;   /* timer generation / stream request id */
    int status;     /* stream reply status */
    uint32_t timeout;
    uint64_t deadline_us;
    uint32_t from_epoch;
    bool delayed; /* slow-member delay already applied */
    uint8_t *buf;
    size_t len;
};

/* ---- PRNG ---------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double sim_uniform(struct sim *s)
{
    return (double)(splitmix(&s->rng) >> 11) / 9007199254740992.0;
}

/* ---- event heap ---------------------------------------------------------- */

static bool ev_less(const struct sim_ev *a, const struct sim_ev *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void ev_push(struct sim *s, struct sim_ev *e)
{
    size_t i;
    if (s->heap_n == s->heap_cap) {
        s->heap_cap = s->heap_cap ? s->heap_cap * 2 : 1024;
        s->heap = realloc(s->heap, s->heap_cap * sizeof(*s->heap));
        if (!s->heap)
            abort();
    }
    if (e->at < s->now_us)
        e->at = s->now_us;
    e->seq = ++s->seq;
    i = s->heap_n++;
    s->heap[i] = e;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ev_less(s->heap[i], s->heap[p]))
            break;
        struct sim_ev *t = s->heap[p];
        s->heap[p] = s->heap[i];
        s->heap[i] = t;
        i = p;
    }
}

static struct sim_ev *ev_pop(struct sim *s)
{
    struct sim_ev *top = s->heap[0];
    size_t i = 0;
    s->heap[0] = s->heap[--s->heap_n];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->heap_n && ev_less(s->heap[l], s->heap[m]))
            m = l;
        if (r < s->heap_n && ev_less(s->heap[r], s->heap[m]))
            m = r;
        if (m == i)
            break;
        struct sim_ev *t = s->heap[m];
        s->heap[m] = s->heap[i];
        s->heap[i] = t;
        i = m;
    }
    return top;
}

static struct sim_ev *ev_new(int kind, int node, uint64_t at)
{
    struct sim_ev *e = calloc(1, sizeof(*e));
    if (!e)
        abort();
    e->kind = kind;
    e->node = node;
    e->at = at;
    return e;
}

static void ev_free(struct sim_ev *e)
{
    free(e->buf);
    free(e);
}

/* ---- addressing ---------------------------------------------------------- */

static void node_addr(int i, struct gossip_addr *a)
{
    memset(a, 0, sizeof(*a));
    a->family = 4;
    a->ip[0] = 10;
    a->ip[1] = 0;
    a->ip[2] = (uint8_t)(i >> 8);
    a->ip[3] = (uint8_t)i;
    a->port = 7946;
}

static int addr_node(const struct sim *s, const struct gossip_addr *a)
{
    int i;
    if (a->family != 4 || a->ip[0] != 10 || a->ip[1] != 0 || a->port != 7946)
        return -1;
    i = (a->ip[2] << 8) | a->ip[3];
    return i < s->o.n ? i : -1;
}

int sim_node_by_id(const struct sim *s, const struct gossip_id *id)
{
    int i;
    if (id->b[0] != 0x5a)
        return -1;
    i = (id->b[14] << 8) | id->b[15];
    return i < s->o.n ? i : -1;
}

/* ---- link model ---------------------------------------------------------- */

struct sim_link *sim_link(struct sim *s, int from, int to)
{
    return &s->links[(size_t)from * (size_t)s->o.n + (size_t)to];
}

static uint64_t link_delay_us(struct sim *s, const struct sim_link *l)
{
    uint64_t d = (uint64_t)l->latency_ms * 1000;
    if (l->jitter_ms)
        d += splitmix(&s->rng) % ((uint64_t)l->jitter_ms * 1000 + 1);
    return d ? d : 1;
}

/* ---- env callbacks ------------------------------------------------------- */

static uint64_t env_now(void *data)
{
    struct sim_node *n = data;
    return n->sim->now_us / 1000;
}

static uint64_t env_wall(void *data)
{
    struct sim_node *n = data;
    return (uint64_t)((int64_t)(WALL_BASE_MS + n->sim->now_us / 1000) +
                      n->clock_skew_ms);
}

static uint64_t env_random(void *data)
{
    struct sim_node *n = data;
    return splitmix(&n->rng);
}

static int env_send(void *data,
                    const struct gossip_addr *to,
                    const uint8_t *buf,
                    size_t len)
{
    struct sim_node *n = data;
    struct sim *s = n->sim;
    int dst = addr_node(s, to);
    struct sim_link *l;
    struct sim_ev *e;
    s->pkts++;
    s->pkt_bytes += len;
    if (dst < 0)
        return 0;
    l = sim_link(s, n->idx, dst);
    if (l->cut || (l->loss > 0 && sim_uniform(s) < l->loss)) {
        s->dropped++;
        return 0;
    }
    e = ev_new(EV_PKT, dst, s->now_us + link_delay_us(s, l));
    e->from = n->idx;
    e->buf = malloc(len);
    if (!e->buf)
        abort();
    memcpy(e->buf, buf, len);
    e->len = len;
    ev_push(s, e);
    return 0;
}

/* TCP over a lossy link: each loss costs a retransmission timeout. */
static uint64_t stream_delay_us(struct sim *s, const struct sim_link *l)
{
    uint64_t d = link_delay_us(s, l);
    for (int k = 0; k < 6 && l->loss > 0 && sim_uniform(s) < l->loss; k++)
        d += 200000ull << k;
    return d;
}

static void reply_at(struct sim *s,
                     int node,
                     uint32_t epoch,
                     uint64_t req,
                     int status,
                     uint64_t at,
                     uint8_t *buf,
                     size_t len)
{
    struct sim_ev *e = ev_new(EV_SREPLY, node, at);
    e->epoch = epoch;
    e->gen = req;
    e->status = status;
    e->buf = buf;
    e->len = len;
    ev_push(s, e);
}

static int env_stream(void *data,
                      const struct gossip_addr *to,
                      const uint8_t *buf,
                      size_t len,
                      uint32_t timeout_ms,
                      uint64_t req)
{
    struct sim_node *n = data;
    struct sim *s = n->sim;
    int dst = addr_node(s, to);
    struct sim_link *fwd, *back;
    struct sim_ev *e;
    uint64_t deadline = s->now_us + (uint64_t)timeout_ms * 1000;
    s->stream_bytes += len;
    if (dst < 0) {
        reply_at(s, n->idx, n->epoch, req, GOSSIP_E_UNREACHABLE,
                 s->now_us + 1000, NULL, 0);
        return 0;
    }
    fwd = sim_link(s, n->idx, dst);
    back = sim_link(s, dst, n->idx);
    if (fwd->cut || back->cut) {
        reply_at(s, n->idx, n->epoch, req, GOSSIP_E_TIMEOUT, deadline, NULL, 0);
        return 0;
    }
    e = ev_new(EV_SREQ, dst, s->now_us + stream_delay_us(s, fwd));
    if (e->at > deadline) {
        free(e);
        reply_at(s, n->idx, n->epoch, req, GOSSIP_E_TIMEOUT, deadline, NULL, 0);
        return 0;
    }
    e->from = n->idx;
    e->from_epoch = n->epoch;
    e->gen = req;
    e->deadline_us = deadline;
    e->buf = malloc(len);
    if (!e->buf)
        abort();
    memcpy(e->buf, buf, len);
    e->len = len;
    ev_push(s, e);
    return 0;
}

/* The watcher learns the watch broke one link delay from now (a killed
 * process's kernel resets its connections; a refused connect). Nothing
 * arrives over a cut link: TCP stays silent across a partition. */
static void watch_lost_at(struct sim *s, int watcher)
{
    struct sim_node *n = &s->nodes[watcher];
    struct sim_link *l = sim_link(s, n->watch_dst, watcher);
    struct sim_ev *e;
    if (!n->watching || l->cut)
        return;
    e = ev_new(EV_WLOST, watcher, s->now_us + link_delay_us(s, l));
    e->epoch = n->epoch;
    e->gen = n->watch_token;
    ev_push(s, e);
}

static int env_watch(void *data, const struct gossip_addr *to, uint64_t token)
{
    struct sim_node *n = data;
    struct sim *s = n->sim;
    int dst = addr_node(s, to);
    if (dst < 0)
        return -EINVAL;
    n->watching = true;
    n->watch_dst = dst;
    n->watch_epoch = s->nodes[dst].epoch;
    n->watch_token = token;
    if (!s->nodes[dst].up)
        watch_lost_at(s, n->idx); /* connection refused */
    return 0;
}

static void env_unwatch(void *data)
{
    struct sim_node *n = data;
    n->watching = false;
}

static void env_timer_start(void *data, uint64_t at_ms)
{
    struct sim_node *n = data;
    struct sim_ev *e = ev_new(EV_TIMER, n->idx, at_ms * 1000);
    e->gen = ++n->timer_gen;
    e->epoch = n->epoch;
    ev_push(n->sim, e);
}

static void env_timer_stop(void *data)
{
    struct sim_node *n = data;
    n->timer_gen++;
}

static void env_log(void *data, enum gossip_log_level level, const char *msg)
{
    struct sim_node *n = data;
    if (level <= GOSSIP_LOG_WARN) {
        n->warn_logs++;
        snprintf(n->last_warn, sizeof(n->last_warn), "%s", msg);
    }
    if (n->sim->o.verbose && level <= GOSSIP_LOG_INFO)
        printf("[%9.3f] %s: %s\n", (double)n->sim->now_us / 1e6, n->name, msg);
}

static void on_member(struct gossip *g,
                      enum gossip_event_type type,
                      const struct gossip_member *m,
                      void *data)
{
    struct sim_node *n = data;
    struct sim *s = n->sim;
    int subj = sim_node_by_id(s, &m->id);
    (void)g;
    if (subj < 0)
        return;
    if (type == GOSSIP_EV_FAILED) {
        s->failed_about[subj]++;
        if (s->nodes[subj].up)
            s->false_failed++;
        if (s->o.verbose)
            printf("[%9.3f] %s: FAILED %s (%s)\n", (double)s->now_us / 1e6,
                   n->name, m->name, s->nodes[subj].up ? "FALSE" : "true");
    }
    if (type == GOSSIP_EV_SUSPECT)
        s->suspect_events++;
    if (s->hook)
        s->hook(s, n->idx, subj, type, s->hook_arg);
}

static void on_user(struct gossip *g,
                    const struct gossip_user_event *ev,
                    void *data)
{
    struct sim_node *n = data;
    struct sim *s = n->sim;
    uint64_t k = 0;
    (void)g;
    if (ev->payload_len != 8)
        return;
    for (int i = 0; i < 8; i++)
        k = (k << 8) | ev->payload[i];
    n->user_rx++;
    if (k < s->ue_n) {
        s->ue[k].delivered++;
        s->ue[k].last_us = s->now_us;
    }
}

static void join_cb(struct gossip *g, int status, unsigned n_ok, void *data)
{
    struct sim_node *n = data;
    (void)g;
    (void)n_ok;
    n->join_status = status;
}

static void leave_cb(struct gossip *g, int status, unsigned n_ok, void *data)
{
    struct sim_node *n = data;
    struct sim_ev *e;
    (void)g;
    (void)n_ok;
    n->leave_done = true;
    n->leave_status = status;
    /* Shut the core down from the event loop, not from inside it. */
    e = ev_new(EV_SHUTDOWN, n->idx, n->sim->now_us);
    e->epoch = n->epoch;
    ev_push(n->sim, e);
}

/* ---- lifecycle ----------------------------------------------------------- */

struct sim *sim_new(const struct sim_opts *o)
{
    struct sim *s = calloc(1, sizeof(*s));
    const char *v = getenv("SIM_VERBOSE");
    if (!s)
        abort();
    s->o = *o;
    if (!s->o.latency_ms)
        s->o.latency_ms = 1;
    if (v && *v && *v != '0')
        s->o.verbose = true;
    s->rng = o->seed ^ 0x5DEECE66Dull;
    s->nodes = calloc((size_t)o->n, sizeof(*s->nodes));
    s->links = calloc((size_t)o->n * (size_t)o->n, sizeof(*s->links));
    s->failed_about = calloc((size_t)o->n, sizeof(uint64_t));
    if (!s->nodes || !s->links || !s->failed_about)
        abort();
    for (size_t i = 0; i < (size_t)o->n * (size_t)o->n; i++) {
        s->links[i].loss = o->loss;
        s->links[i].latency_ms = s->o.latency_ms;
        s->links[i].jitter_ms = o->jitter_ms;
    }
    for (uint8_t i = 0; i < GOSSIP_KEY_SIZE; i++)
        s->key[i] = (uint8_t)splitmix(&s->rng);
    for (int i = 0; i < o->n; i++) {
        struct sim_node *n = &s->nodes[i];
        n->sim = s;
        n->idx = i;
        snprintf(n->name, sizeof(n->name), "node-%d", i);
        n->id.b[0] = 0x5a;
        n->id.b[1] = (uint8_t)splitmix(&s->rng); /* random-looking IDs */
        n->id.b[2] = (uint8_t)splitmix(&s->rng);
        n->id.b[14] = (uint8_t)(i >> 8);
        n->id.b[15] = (uint8_t)i;
        node_addr(i, &n->addr);
        n->generation = 0;
    }
    return s;
}

void sim_free(struct sim *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->o.n; i++)
        if (s->nodes[i].g)
            gossip_delete(s->nodes[i].g);
    for (size_t i = 0; i < s->heap_n; i++)
        ev_free(s->heap[i]);
    free(s->heap);
    free(s->nodes);
    free(s->links);
    free(s->failed_about);
    free(s->ue);
    free(s);
}

void sim_boot(struct sim *s, int i)
{
    struct sim_node *n = &s->nodes[i];
    struct gossip_config cfg;
    struct gossip_env env = {
        .data = n,
        .now = env_now,
        .wall = env_wall,
        .random = env_random,
        .send = env_send,
        .stream = env_stream,
        .watch = env_watch,
        .unwatch = env_unwatch,
        .timer_start = env_timer_start,
        .timer_stop = env_timer_stop,
        .log = env_log,
    };
    int rc;
    if (n->up)
        return;
    n->generation++;
    n->epoch++;
    n->rng = s->o.seed * 1000003ull + (uint64_t)i * 7919ull + n->generation;
    n->left = false;
    n->leave_done = false;
    gossip_config_init(&cfg, s->o.profile);
    if (s->o.tweak)
        s->o.tweak(&cfg.params);
    cfg.id = n->id;
    cfg.name = n->name;
    cfg.addr = n->addr;
    cfg.generation = n->generation;
    if (s->o.encrypt && n->nkeys == 0) {
        memcpy(n->keys[0], s->key, GOSSIP_KEY_SIZE);
        n->nkeys = 1;
    }
    cfg.keys = (const uint8_t(*)[GOSSIP_KEY_SIZE])n->keys;
    cfg.nkeys = n->nkeys;
    cfg.label = n->label;
    cfg.on_member = on_member;
    cfg.on_user = on_user;
    cfg.data = n;
    rc = gossip_new(&cfg, &env, &n->g);
    if (rc) {
        fprintf(stderr, "sim: gossip_new(%s) = %s\n", n->name,
                gossip_strerror(rc));
        abort();
    }
    n->up = true;
    gossip_start(n->g);
}

void sim_join(struct sim *s, int i, int seed)
{
    struct sim_node *n = &s->nodes[i];
    int rc;
    if (!n->up)
        return;
    n->join_status = 1;
    rc = gossip_join(n->g, &s->nodes[seed].addr, 1, join_cb, n);
    if (rc)
        n->join_status = rc;
}

void sim_boot_all(struct sim *s, uint32_t stagger_ms)
{
    sim_boot(s, 0);
    for (int i = 1; i < s->o.n; i++) {
        if (stagger_ms)
            sim_run_for(s, stagger_ms);
        sim_boot(s, i);
        sim_join(s, i, 0);
    }
}

static bool mesh_pred(struct sim *s, void *arg)
{
    (void)arg;
    return sim_full_mesh(s);
}

int64_t sim_converge(struct sim *s, int n, uint32_t stagger_ms, uint64_t max_ms)
{
    uint64_t start = s->now_us;
    int64_t t;
    sim_boot(s, 0);
    for (int i = 1; i < n; i++) {
        if (stagger_ms)
            sim_run_for(s, stagger_ms);
        sim_boot(s, i);
        sim_join(s, i, 0);
    }
    t = sim_run_until(s, mesh_pred, NULL, max_ms, 50);
    if (t < 0)
        return -1;
    return (int64_t)((s->now_us - start) / 1000);
}

static void node_down(struct sim *s, int i)
{
    struct sim_node *n = &s->nodes[i];
    (void)s;
    if (!n->up)
        return;
    gossip_delete(n->g);
    n->g = NULL;
    n->up = false;
    n->down_us = s->now_us;
    n->watching = false;
    for (int j = 0; j < s->o.n; j++) {
        struct sim_node *w = &s->nodes[j];
        if (w->up && w->watching && w->watch_dst == i &&
            w->watch_epoch == n->epoch)
            watch_lost_at(s, j);
    }
    n->epoch++;
    n->timer_gen++;
}

void sim_kill(struct sim *s, int i)
{
    node_down(s, i);
}

void sim_restart(struct sim *s, int i, int seed)
{
    node_down(s, i);
    sim_boot(s, i);
    sim_join(s, i, seed);
}

void sim_leave(struct sim *s, int i)
{
    struct sim_node *n = &s->nodes[i];
    if (!n->up)
        return;
    n->left = true;
    gossip_leave(n->g, 5000, leave_cb, n);
}

void sim_set_loss(struct sim *s, double loss)
{
    for (size_t i = 0; i < (size_t)s->o.n * (size_t)s->o.n; i++)
        s->links[i].loss = loss;
}

void sim_partition(struct sim *s, const int *side)
{
    for (int i = 0; i < s->o.n; i++)
        for (int j = 0; j < s->o.n; j++)
            sim_link(s, i, j)->cut = side && side[i] != side[j];
}

void sim_cut_one_way(struct sim *s, int from, int to, bool cut)
{
    sim_link(s, from, to)->cut = cut;
}

void sim_set_slow(struct sim *s, int i, uint32_t delay_ms)
{
    s->nodes[i].rx_delay_ms = delay_ms;
}

/* ---- the loop ------------------------------------------------------------ */

static bool delay_if_slow(struct sim *s, struct sim_ev *e)
{
    struct sim_node *n = &s->nodes[e->node];
    if (n->rx_delay_ms && !e->delayed) {
        e->delayed = true;
        e->at = s->now_us + (uint64_t)n->rx_delay_ms * 1000;
        ev_push(s, e);
        return true;
    }
    return false;
}

static void run_event(struct sim *s, struct sim_ev *e)
{
    struct sim_node *n = &s->nodes[e->node];
    s->events_run++;
    switch (e->kind) {
    case EV_PKT:
        if (!n->up)
            break;
        if (delay_if_slow(s, e))
            return;
        gossip_on_packet(n->g, &s->nodes[e->from].addr, e->buf, e->len);
        break;
    case EV_TIMER:
        if (!n->up || e->epoch != n->epoch || e->gen != n->timer_gen)
            break;
        gossip_on_timer(n->g);
        break;
    case EV_SREQ: {
        uint8_t *out = NULL;
        size_t out_len = 0;
        struct sim_link *back = sim_link(s, e->node, e->from);
        uint64_t at;
        int rc;
        if (!n->up) {
            /* Its host refuses the connection; in the first 5 ms of dying
             * the listener may still accept and then reset it (a process's
             * descriptors close in order: its watched connection can go
             * before its listener). */
            int st = s->now_us - n->down_us < 5000 ? -ECONNRESET
                                                   : -ECONNREFUSED;
            reply_at(s, e->from, e->from_epoch, e->gen, st,
                     s->now_us + link_delay_us(s, back), NULL, 0);
            break;
        }
        if (delay_if_slow(s, e))
            return;
        rc = gossip_on_stream(n->g, &s->nodes[e->from].addr, e->buf, e->len,
                              &out, &out_len);
        at = s->now_us + stream_delay_us(s, back);
        if (back->cut || at > e->deadline_us) {
            free(out);
            reply_at(s, e->from, e->from_epoch, e->gen, GOSSIP_E_TIMEOUT,
                     e->deadline_us, NULL, 0);
        } else if (rc < 0) {
            free(out);
            reply_at(s, e->from, e->from_epoch, e->gen, GOSSIP_E_UNREACHABLE,
                     at, NULL, 0);
        } else {
            s->stream_bytes += out_len;
            reply_at(s, e->from, e->from_epoch, e->gen, 0, at, out, out_len);
        }
        break;
    }
    case EV_SREPLY:
        if (!n->up || e->epoch != n->epoch)
            break;
        if (delay_if_slow(s, e))
            return;
        gossip_on_stream_reply(n->g, e->gen, e->status, e->buf, e->len);
        break;
    case EV_WLOST:
        if (!n->up || e->epoch != n->epoch || !n->watching ||
            e->gen != n->watch_token)
            break;
        n->watching = false;
        gossip_on_watch_lost(n->g, e->gen);
        break;
    case EV_SHUTDOWN:
        if (n->up && e->epoch == n->epoch)
            node_down(s, e->node);
        break;
    }
    if (n->up) {
        unsigned h = gossip_health_score(n->g);
        if (h > n->max_health)
            n->max_health = h;
    }
    ev_free(e);
}

void sim_run_for(struct sim *s, uint64_t ms)
{
    uint64_t end = s->now_us + ms * 1000;
    while (s->heap_n && s->heap[0]->at <= end) {
        struct sim_ev *e = ev_pop(s);
        s->now_us = e->at;
        run_event(s, e);
    }
    s->now_us = end;
}

int64_t sim_run_until(struct sim *s,
                      sim_pred pred,
                      void *arg,
                      uint64_t max_ms,
                      uint64_t step_ms)
{
    uint64_t start = s->now_us;
    for (;;) {
        uint64_t el = (s->now_us - start) / 1000;
        if (pred(s, arg))
            return (int64_t)el;
        if (el >= max_ms)
            return -1;
        sim_run_for(s, step_ms);
    }
}

uint64_t sim_now_ms(const struct sim *s)
{
    return s->now_us / 1000;
}

/* ---- views --------------------------------------------------------------- */

int sim_state(struct sim *s, int observer, int subject)
{
    struct gossip_member m;
    struct sim_node *o = &s->nodes[observer];
    if (!o->up)
        return -1;
    if (gossip_member_by_id(o->g, &s->nodes[subject].id, &m) != 0)
        return -1;
    return (int)m.state;
}

bool sim_all_see(struct sim *s, int subject, int st)
{
    for (int i = 0; i < s->o.n; i++) {
        if (i == subject || !s->nodes[i].up || s->nodes[i].left)
            continue;
        if (sim_state(s, i, subject) != st)
            return false;
    }
    return true;
}

bool sim_full_mesh(struct sim *s)
{
    for (int i = 0; i < s->o.n; i++) {
        if (!s->nodes[i].up || s->nodes[i].left)
            continue;
        for (int j = 0; j < s->o.n; j++) {
            if (j == i || !s->nodes[j].up || s->nodes[j].left)
                continue;
            if (sim_state(s, i, j) != GOSSIP_ALIVE)
                return false;
        }
    }
    return true;
}

int sim_count_up(const struct sim *s)
{
    int c = 0;
    for (int i = 0; i < s->o.n; i++)
        c += s->nodes[i].up && !s->nodes[i].left;
    return c;
}

size_t sim_user_event(struct sim *s, int from)
{
    uint8_t payload[8];
    size_t k = s->ue_n;
    if (s->ue_n == s->ue_cap) {
        s->ue_cap = s->ue_cap ? s->ue_cap * 2 : 16;
        s->ue = realloc(s->ue, s->ue_cap * sizeof(*s->ue));
        if (!s->ue)
            abort();
    }
    memset(&s->ue[k], 0, sizeof(s->ue[k]));
    s->ue[k].sent_us = s->now_us;
    s->ue_n++;
    for (int i = 0; i < 8; i++)
        payload[i] = (uint8_t)((uint64_t)k >> (56 - 8 * i));
    if (s->nodes[from].up)
        gossip_user_event(s->nodes[from].g, "sim", payload, sizeof(payload),
                          NULL);
    return k;
}

void sim_inject(struct sim *s, int to, const uint8_t *buf, size_t len)
{
    struct gossip_addr from;
    memset(&from, 0, sizeof(from));
    from.family = 4;
    from.ip[0] = 192;
    from.ip[1] = 0;
    from.ip[2] = 2;
    from.ip[3] = 66;
    from.port = 6666;
    if (s->nodes[to].up)
        gossip_on_packet(s->nodes[to].g, &from, buf, len);
}

int sim_seeds(uint64_t *out, int max, const uint64_t *defaults, int n)
{
    const char *e = getenv("SIM_SEED");
    if (e && *e) {
        out[0] = strtoull(e, NULL, 0);
        return 1;
    }
    if (n > max)
        n = max;
    memcpy(out, defaults, (size_t)n * sizeof(*out));
    return n;
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double sim_pct(double *v, size_t n, double pct)
{
    size_t idx;
    if (!n)
        return 0;
    qsort(v, n, sizeof(*v), dcmp);
    idx = (size_t)ceil(pct / 100.0 * (double)n);
    if (idx > 0)
        idx--;
    if (idx >= n)
        idx = n - 1;
    return v[idx];
}

void sim_report(const struct sim *s, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    printf("sim seed=%llu t=%.3fs: %s\n", (unsigned long long)s->o.seed,
           (double)s->now_us / 1e6, buf);
    fflush(stdout);
}
