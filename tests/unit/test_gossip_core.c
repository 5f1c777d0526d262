/* Unit tests for the gossip core driven by hand: parameter profiles,
 * addresses, the broadcast queue, and the state rules of spec 1.3 (alive /
 * suspect / dead / left precedence, refutation, suspicion timeouts with
 * confirmations, leave) on one core fed with crafted packets. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

/* ---- params and addresses ------------------------------------------------ */

static void profiles_match_spec(void **state)
{
    struct gossip_params p;
    enum gossip_profile pr;
    (void)state;
    gossip_params_profile(GOSSIP_PROFILE_LAN, &p);
    assert_int_equal(p.probe_interval_ms, 1000);
    assert_int_equal(p.probe_timeout_ms, 500);
    assert_int_equal(p.indirect_checks, 3);
    assert_int_equal(p.retransmit_mult, 4);
    assert_int_equal(p.suspicion_mult, 4);
    assert_int_equal(p.suspicion_max_timeout_mult, 6);
    assert_int_equal(p.push_pull_interval_ms, 30000);
    assert_int_equal(p.gossip_interval_ms, 200);
    assert_int_equal(p.gossip_nodes, 3);
    assert_int_equal(p.gossip_to_dead_ms, 30000);
    assert_int_equal(p.awareness_max, 8);
    assert_int_equal(p.tcp_timeout_ms, 10000);
    assert_int_equal(p.udp_buffer_size, 1400);
    assert_int_equal(gossip_params_validate(&p), 0);
    gossip_params_profile(GOSSIP_PROFILE_WAN, &p);
    assert_int_equal(p.probe_interval_ms, 5000);
    assert_int_equal(p.probe_timeout_ms, 3000);
    assert_int_equal(p.suspicion_mult, 6);
    assert_int_equal(p.push_pull_interval_ms, 60000);
    assert_int_equal(p.gossip_interval_ms, 500);
    assert_int_equal(p.gossip_nodes, 4);
    assert_int_equal(p.gossip_to_dead_ms, 60000);
    assert_int_equal(p.tcp_timeout_ms, 30000);
    assert_int_equal(gossip_params_validate(&p), 0);
    gossip_params_profile(GOSSIP_PROFILE_LOCAL, &p);
    assert_int_equal(p.probe_timeout_ms, 200);
    assert_int_equal(p.indirect_checks, 1);
    assert_int_equal(p.retransmit_mult, 2);
    assert_int_equal(p.suspicion_mult, 3);
    assert_int_equal(p.push_pull_interval_ms, 15000);
    assert_int_equal(p.gossip_interval_ms, 100);
    assert_int_equal(p.gossip_to_dead_ms, 15000);
    assert_int_equal(p.tcp_timeout_ms, 1000);
    assert_int_equal(gossip_params_validate(&p), 0);
    p.probe_timeout_ms = p.probe_interval_ms;
    assert_int_equal(gossip_params_validate(&p), -EINVAL);
    gossip_params_profile(GOSSIP_PROFILE_LAN, &p);
    p.udp_buffer_size = 100;
    assert_int_equal(gossip_params_validate(&p), -EINVAL);
    assert_int_equal(gossip_profile_parse("WAN", &pr), 0);
    assert_int_equal(pr, GOSSIP_PROFILE_WAN);
    assert_int_equal(gossip_profile_parse("local", &pr), 0);
    assert_int_equal(pr, GOSSIP_PROFILE_LOCAL);
    assert_int_equal(gossip_profile_parse("mars", &pr), -EINVAL);
}

static void addresses(void **state)
{
    struct gossip_addr a, b;
    char buf[64];
    (void)state;
    assert_int_equal(gossip_addr_parse("10.1.2.3:8301", 0, &a), 0);
    assert_int_equal(a.family, 4);
    assert_int_equal(a.port, 8301);
    assert_string_equal(gossip_addr_format(&a, buf, sizeof(buf)),
                        "10.1.2.3:8301");
    assert_int_equal(gossip_addr_parse("10.1.2.3", 8301, &b), 0);
    assert_true(gossip_addr_equal(&a, &b));
    assert_int_equal(gossip_addr_parse("[::1]:7946", 0, &a), 0);
    assert_int_equal(a.family, 6);
    assert_string_equal(gossip_addr_format(&a, buf, sizeof(buf)), "[::1]:7946");
    assert_int_equal(gossip_addr_parse("::1", 9, &a), 0);
    assert_int_equal(a.port, 9);
    assert_int_equal(gossip_addr_parse("host.example:1", 0, &a), -EINVAL);
    assert_int_equal(gossip_addr_parse("1.2.3.4:99999", 0, &a), -EINVAL);
    assert_int_equal(gossip_addr_parse("1.2.3.4:", 0, &a), -EINVAL);
    assert_int_equal(gossip_addr_parse("[::1", 0, &a), -EINVAL);
    assert_int_equal(gossip_addr_parse("", 0, &a), -EINVAL);
    assert_string_equal(gossip_strerror(GOSSIP_E_KEY_UNKNOWN),
                        "encrypted with an unknown key (wrong key?)");
    assert_string_equal(gossip_strerror(-ENOMEM), strerror(ENOMEM));
}

/* ---- broadcast queue ------------------------------------------------------
 */

static uint64_t finished_notify;
static void finished(void *arg, uint64_t notify)
{
    (void)arg;
    finished_notify = notify;
}

static void part(uint8_t *buf, uint8_t type, size_t len, uint8_t fill)
{
    buf[0] = type;
    buf[1] = (uint8_t)((len - 3) >> 8);
    buf[2] = (uint8_t)(len - 3);
    memset(buf + 3, fill, len - 3);
}

static void queue_retransmit_limit_and_invalidation(void **state)
{
    struct bqueue q;
    uint8_t p[100], out[1400];
    struct gossip_id k1 = {{1}}, k2 = {{2}};
    unsigned n = 0;
    size_t used;
    (void)state;
    gossip__bq_init(&q, 100, finished, NULL);
    part(p, GOSSIP_MSG_ALIVE, 50, 'a');
    assert_int_equal(gossip__bq_push(&q, BQ_MEMBER, &k1, p, 50, 7), 0);
    part(p, GOSSIP_MSG_SUSPECT, 40, 'b');
    assert_int_equal(gossip__bq_push(&q, BQ_MEMBER, &k2, p, 40, 0), 0);
    /* a newer message about k1 replaces the queued one (and finishes it) */
    part(p, GOSSIP_MSG_DEAD, 30, 'c');
    finished_notify = 0;
    assert_int_equal(gossip__bq_push(&q, BQ_MEMBER, &k1, p, 30, 9), 0);
    assert_int_equal(finished_notify, 7);
    assert_int_equal(gossip__bq_len(&q), 2);
    /* limit 3: three fills, then gone; the larger goes first */
    for (int i = 0; i < 3; i++) {
        n = 0;
        used = gossip__bq_fill(&q, 3, 25, out, sizeof(out), &n, 255);
        assert_int_equal(used, 70);
        assert_int_equal(n, 2);
        assert_int_equal(out[0], GOSSIP_MSG_SUSPECT);
    }
    assert_int_equal(finished_notify, 9);
    assert_int_equal(gossip__bq_len(&q), 0);
    n = 0;
    assert_int_equal(gossip__bq_fill(&q, 3, 25, out, sizeof(out), &n, 255), 0);
    gossip__bq_free(&q);
}

static void queue_fewest_transmits_first_and_room(void **state)
{
    struct bqueue q;
    uint8_t p[600], out[1400];
    unsigned n;
    (void)state;
    gossip__bq_init(&q, 100, NULL, NULL);
    part(p, GOSSIP_MSG_ALIVE, 500, 'o');
    gossip__bq_push(&q, BQ_MEMBER, NULL, p, 500, 0);
    n = 0;
    assert_int_equal(gossip__bq_fill(&q, 10, 25, out, 600, &n, 255), 500);
    part(p, GOSSIP_MSG_ALIVE, 400, 'n');
    gossip__bq_push(&q, BQ_MEMBER, NULL, p, 400, 0);
    /* room for one: the never-sent one wins though it is smaller */
    n = 0;
    assert_int_equal(gossip__bq_fill(&q, 10, 25, out, 600, &n, 255), 400);
    assert_int_equal(out[3], 'n');
    /* nothing fits in 100 bytes */
    n = 0;
    assert_int_equal(gossip__bq_fill(&q, 10, 25, out, 100, &n, 255), 0);
    /* part count cap */
    n = 254;
    assert_int_equal(gossip__bq_fill(&q, 10, 25, out, 1400, &n, 255), 500);
    assert_int_equal(n, 255);
    gossip__bq_free(&q);
}

/* Membership churn must not starve user events (memberlist#299). */
static void queue_user_share(void **state)
{
    struct bqueue q;
    uint8_t p[200], out[1400];
    unsigned n = 0;
    size_t used, user = 0;
    (void)state;
    gossip__bq_init(&q, 1000, NULL, NULL);
    for (int i = 0; i < 50; i++) {
        struct gossip_id k = {{(uint8_t)i, 1}};
        part(p, GOSSIP_MSG_ALIVE, 100, 'm');
        gossip__bq_push(&q, BQ_MEMBER, &k, p, 100, 0);
    }
    for (int i = 0; i < 5; i++) {
        part(p, GOSSIP_MSG_USER, 100, 'u');
        gossip__bq_push(&q, BQ_USER, NULL, p, 100, 0);
    }
    used = gossip__bq_fill(&q, 100, 25, out, 1000, &n, 255);
    for (size_t off = 0; off < used;) {
        size_t len = 3 + ((size_t)out[off + 1] << 8 | out[off + 2]);
        if (out[off] == GOSSIP_MSG_USER)
            user += len;
        off += len;
    }
    assert_int_equal(used, 1000);
    assert_true(user >= 250 - 100); /* 25% of the room, give or take one */
    assert_true(user < 1000);
    gossip__bq_free(&q);
}

/* ---- one core, crafted packets --------------------------------------------
 */

struct fake
{
    uint64_t now, timer_at, rnd;
    bool armed;
    int sends;
    uint8_t last[1500];
    size_t last_len;
    int events[8];
    enum gossip_event_type last_ev;
    struct gossip_member last_m;
    int user_events;
};

static struct fake F;

static uint64_t f_now(void *d)
{
    (void)d;
    return F.now;
}
static uint64_t f_random(void *d)
{
    (void)d;
    F.rnd = F.rnd * 6364136223846793005ull + 1442695040888963407ull;
    return F.rnd >> 11;
}
static int f_send(void *d,
                  const struct gossip_addr *to,
                  const uint8_t *b,
                  size_t n)
{
    (void)d;
    (void)to;
    assert_true(n <= 1400);
    F.sends++;
    memcpy(F.last, b, n);
    F.last_len = n;
    return 0;
}
static void f_timer_start(void *d, uint64_t at)
{
    (void)d;
    F.timer_at = at;
    F.armed = true;
}
static void f_timer_stop(void *d)
{
    (void)d;
    F.armed = false;
}
static void f_member(struct gossip *g,
                     enum gossip_event_type t,
                     const struct gossip_member *m,
                     void *data)
{
    (void)g;
    (void)data;
    F.events[t]++;
    F.last_ev = t;
    F.last_m = *m;
}
static void f_user(struct gossip *g,
                   const struct gossip_user_event *ev,
                   void *data)
{
    (void)g;
    (void)ev;
    (void)data;
    F.user_events++;
}

static struct gossip_id ID(uint8_t v)
{
    struct gossip_id id = {{0}};
    id.b[0] = 0xee;
    id.b[15] = v;
    return id;
}

static struct gossip_addr
ADDR(uint8_t v)
{
    struct gossip_addr a = {4, 7946, {10, 0, 0, v}};
    return a;
}

static struct gossip *
core(void)
{
    struct gossip_config cfg;
    struct gossip_env env = {.now = f_now,
                             .random = f_random,
                             .send = f_send,
                             .timer_start = f_timer_start,
                             .timer_stop = f_timer_stop};
    struct gossip *g;
    memset(&F, 0, sizeof(F));
    F.now = 1000;
    gossip_config_init(&cfg, GOSSIP_PROFILE_LAN);
    cfg.name = "self";
    cfg.id = ID(1);
    cfg.addr = ADDR(1);
    cfg.generation = 5;
    cfg.on_member = f_member;
    cfg.on_user = f_user;
    assert_int_equal(gossip_new(&cfg, &env, &g), 0);
    return g;
}

/* Feed one packet of parts from sender `from`. */
struct part_spec
{
    uint8_t type;
    union
    {
        struct msg_alive alive;
        struct msg_suspect susp;
        struct msg_ping ping;
        struct msg_user user;
    } u;
};

static void feed(struct gossip *g, uint8_t from, struct part_spec *ps, int n)
{
    uint8_t pt[1400], out[1500], tag[4];
    struct wbuf w;
    struct gossip_id fid = ID(from);
    struct gossip_addr fa = ADDR(from);
    gossip__wbuf_fixed(&w, pt, sizeof(pt));
    gossip__enc_hdr(&w, PROTO_KIND_PACKET, &fid, &fa, 0);
    gossip__put_u8(&w, (uint8_t)n);
    for (int i = 0; i < n; i++) {
        size_t m = gossip__part_begin(&w, ps[i].type);
        switch (ps[i].type) {
        case GOSSIP_MSG_ALIVE:
            gossip__enc_alive(&w, &ps[i].u.alive);
            break;
        case GOSSIP_MSG_SUSPECT:
        case GOSSIP_MSG_DEAD:
            gossip__enc_suspect(&w, &ps[i].u.susp);
            break;
        case GOSSIP_MSG_PING:
            gossip__enc_ping(&w, &ps[i].u.ping);
            break;
        case GOSSIP_MSG_USER:
            gossip__enc_user(&w, &ps[i].u.user);
            break;
        }
        gossip__part_end(&w, m);
    }
    assert_int_equal(w.err, 0);
    gossip__label_tag("", 0, tag);
    gossip_on_packet(g, &fa, out, gossip__clear_wrap(0, tag, pt, w.len, out));
}

static void alive(struct gossip *g,
                  uint8_t node,
                  uint64_t gen,
                  uint32_t ctr,
                  const char *meta)
{
    struct part_spec p = {.type = GOSSIP_MSG_ALIVE};
    static char name[16];
    snprintf(name, sizeof(name), "n%u", node);
    p.u.alive.id = ID(node);
    p.u.alive.inc.gen = gen;
    p.u.alive.inc.ctr = ctr;
    p.u.alive.addr = ADDR(node);
    p.u.alive.vsn[0] = p.u.alive.vsn[1] = p.u.alive.vsn[2] = 1;
    p.u.alive.name = name;
    p.u.alive.name_len = (uint8_t)strlen(name);
    p.u.alive.meta = (const uint8_t *)meta;
    p.u.alive.meta_len = (uint16_t)(meta ? strlen(meta) : 0);
    feed(g, node, &p, 1);
}

static void claim(struct gossip *g,
                  uint8_t type,
                  uint8_t sender,
                  uint8_t node,
                  uint64_t gen,
                  uint32_t ctr,
                  uint8_t from)
{
    struct part_spec p = {.type = type};
    p.u.susp.id = ID(node);
    p.u.susp.inc.gen = gen;
    p.u.susp.inc.ctr = ctr;
    p.u.susp.from = ID(from);
    feed(g, sender, &p, 1);
}

static int state_of(struct gossip *g, uint8_t node)
{
    struct gossip_member m;
    struct gossip_id id = ID(node);
    if (gossip_member_by_id(g, &id, &m))
        return -1;
    return (int)m.state;
}

static void advance(struct gossip *g, uint64_t ms)
{
    uint64_t end = F.now + ms;
    while (F.armed && F.timer_at <= end) {
        F.now = F.timer_at > F.now ? F.timer_at : F.now;
        F.armed = false;
        gossip_on_timer(g);
    }
    F.now = end;
}

static void precedence_rules(void **state)
{
    struct gossip *g = core();
    struct gossip_member m;
    (void)state;
    alive(g, 2, 1, 1, "a");
    assert_int_equal(F.events[GOSSIP_EV_JOIN], 1);
    assert_int_equal(state_of(g, 2), GOSSIP_ALIVE);
    /* same incarnation again: nothing */
    alive(g, 2, 1, 1, "b");
    assert_int_equal(F.events[GOSSIP_EV_UPDATE], 0);
    /* higher incarnation with new meta: update */
    alive(g, 2, 1, 2, "b");
    assert_int_equal(F.events[GOSSIP_EV_UPDATE], 1);
    assert_int_equal(F.last_m.meta_len, 1);
    assert_int_equal(F.last_m.meta[0], 'b');
    /* stale suspect is ignored; equal incarnation suspect wins */
    claim(g, GOSSIP_MSG_SUSPECT, 3, 2, 1, 1, 3);
    assert_int_equal(state_of(g, 2), GOSSIP_ALIVE);
    claim(g, GOSSIP_MSG_SUSPECT, 3, 2, 1, 2, 3);
    assert_int_equal(state_of(g, 2), GOSSIP_SUSPECT);
    assert_int_equal(F.events[GOSSIP_EV_SUSPECT], 1);
    /* alive at the same incarnation does not clear a suspicion */
    alive(g, 2, 1, 2, "b");
    assert_int_equal(state_of(g, 2), GOSSIP_SUSPECT);
    /* a refutation (higher) does */
    alive(g, 2, 1, 3, "b");
    assert_int_equal(state_of(g, 2), GOSSIP_ALIVE);
    assert_int_equal(F.events[GOSSIP_EV_ALIVE], 1);
    /* dead at equal incarnation beats alive; then alive needs higher */
    claim(g, GOSSIP_MSG_DEAD, 3, 2, 1, 3, 3);
    assert_int_equal(state_of(g, 2), GOSSIP_DEAD);
    assert_int_equal(F.events[GOSSIP_EV_FAILED], 1);
    claim(g, GOSSIP_MSG_SUSPECT, 3, 2, 1, 3, 4); /* no resurrection */
    assert_int_equal(state_of(g, 2), GOSSIP_DEAD);
    alive(g, 2, 1, 3, "b");
    assert_int_equal(state_of(g, 2), GOSSIP_DEAD);
    /* a restart: higher generation, counter back to 1, new address */
    alive(g, 2, 2, 1, "c");
    assert_int_equal(state_of(g, 2), GOSSIP_ALIVE);
    assert_int_equal(F.events[GOSSIP_EV_JOIN], 2);
    /* left: dead from the node itself */
    claim(g, GOSSIP_MSG_DEAD, 2, 2, 2, 1, 2);
    assert_int_equal(state_of(g, 2), GOSSIP_LEFT);
    assert_int_equal(F.events[GOSSIP_EV_LEFT], 1);
    /* a late alive at the same incarnation does not rejoin it */
    alive(g, 2, 2, 1, "c");
    assert_int_equal(state_of(g, 2), GOSSIP_LEFT);
    /* unknown nodes: suspect/dead ignored */
    claim(g, GOSSIP_MSG_SUSPECT, 3, 9, 1, 1, 3);
    assert_int_equal(state_of(g, 9), -1);
    /* name conflict: a new ID with the name of a live member is refused */
    alive(g, 3, 1, 1, NULL);
    {
        struct part_spec p = {.type = GOSSIP_MSG_ALIVE};
        p.u.alive.id = ID(30);
        p.u.alive.inc.gen = 1;
        p.u.alive.inc.ctr = 1;
        p.u.alive.addr = ADDR(30);
        p.u.alive.vsn[0] = p.u.alive.vsn[1] = p.u.alive.vsn[2] = 1;
        p.u.alive.name = "n3";
        p.u.alive.name_len = 2;
        feed(g, 30, &p, 1);
        assert_int_equal(state_of(g, 30), -1);
        /* ...but it may take the name of a member that left */
        p.u.alive.name = "n2";
        feed(g, 30, &p, 1);
        assert_int_equal(state_of(g, 30), GOSSIP_ALIVE);
        assert_int_equal(state_of(g, 2), -1);
        assert_int_equal(F.events[GOSSIP_EV_REAP], 1);
    }
    assert_int_equal(gossip_member_by_name(g, "n2", &m), 0);
    assert_int_equal(m.id.b[15], 30);
    gossip_delete(g);
}

static void refutes_claims_about_itself(void **state)
{
    struct gossip *g = core();
    struct gossip_member self;
    struct gossip_stats st;
    (void)state;
    alive(g, 2, 1, 1, NULL);
    gossip_self(g, &self);
    assert_int_equal(self.inc.gen, 5);
    assert_int_equal(self.inc.ctr, 1);
    claim(g, GOSSIP_MSG_SUSPECT, 2, 1, 5, 1, 2);
    gossip_self(g, &self);
    assert_int_equal(self.state, GOSSIP_ALIVE);
    assert_int_equal(self.inc.ctr, 2);
    assert_int_equal(gossip_health_score(g), 1);
    /* a dead claim at a higher counter: refute above it */
    claim(g, GOSSIP_MSG_DEAD, 2, 1, 5, 7, 2);
    gossip_self(g, &self);
    assert_int_equal(self.inc.ctr, 8);
    assert_int_equal(gossip_health_score(g), 2);
    /* a stale claim is not refuted again (but answered directly) */
    F.sends = 0;
    claim(g, GOSSIP_MSG_SUSPECT, 2, 1, 5, 3, 2);
    gossip_self(g, &self);
    assert_int_equal(self.inc.ctr, 8);
    assert_int_equal(F.sends, 1);
    gossip_stats(g, &st);
    assert_int_equal(st.refutations, 2);
    assert_true(st.bcast_queued >= 1);
    gossip_delete(g);
}

static void suspicion_timeout_shrinks_with_confirmations(void **state)
{
    struct gossip *g = core();
    uint64_t t0;
    (void)state;
    /* N = 10: min = 4 * 1 * 1 s = 4 s, max = 24 s, K = 2 */
    for (uint8_t i = 2; i <= 10; i++)
        alive(g, i, 1, 1, NULL);
    t0 = F.now;
    claim(g, GOSSIP_MSG_SUSPECT, 3, 2, 1, 1, 3);
    assert_int_equal(state_of(g, 2), GOSSIP_SUSPECT);
    advance(g, 10000);
    assert_int_equal(state_of(g, 2), GOSSIP_SUSPECT); /* max is 24 s */
    /* one confirmation: 24 - 20 * ln2/ln3 = 11.38 s */
    claim(g, GOSSIP_MSG_SUSPECT, 4, 2, 1, 1, 4);
    claim(g, GOSSIP_MSG_SUSPECT, 4, 2, 1, 1, 4); /* duplicate: not counted */
    advance(g, 1300);
    assert_int_equal(state_of(g, 2), GOSSIP_SUSPECT);
    advance(g, 200);
    assert_int_equal(state_of(g, 2), GOSSIP_DEAD);
    assert_true(F.now - t0 >= 11380);
    /* a second node with two confirmations dies at min (4 s) */
    claim(g, GOSSIP_MSG_SUSPECT, 3, 5, 1, 1, 3);
    t0 = F.now;
    claim(g, GOSSIP_MSG_SUSPECT, 4, 5, 1, 1, 4);
    claim(g, GOSSIP_MSG_SUSPECT, 6, 5, 1, 1, 6);
    advance(g, 3900);
    assert_int_equal(state_of(g, 5), GOSSIP_SUSPECT);
    advance(g, 200);
    assert_int_equal(state_of(g, 5), GOSSIP_DEAD);
    gossip_delete(g);
}

static void user_events_dedup(void **state)
{
    struct gossip *g = core();
    struct part_spec p = {.type = GOSSIP_MSG_USER};
    uint64_t lt = 0;
    (void)state;
    alive(g, 2, 1, 1, NULL);
    p.u.user.origin = ID(2);
    p.u.user.ltime = 10;
    p.u.user.name = "deploy";
    p.u.user.name_len = 6;
    p.u.user.payload = (const uint8_t *)"x";
    p.u.user.len = 1;
    feed(g, 2, &p, 1);
    feed(g, 2, &p, 1);
    assert_int_equal(F.user_events, 1);
    /* our next event is ordered after what we witnessed */
    assert_int_equal(gossip_user_event(g, "e", NULL, 0, &lt), 0);
    assert_true(lt > 10);
    assert_int_equal(F.user_events, 2);
    assert_int_equal(gossip_user_event(g, "", NULL, 0, NULL), -EINVAL);
    {
        uint8_t big[GOSSIP_USER_MAX];
        memset(big, 0, sizeof(big));
        assert_int_equal(gossip_user_event(g, "e", big, sizeof(big), NULL),
                         -EINVAL);
    }
    gossip_delete(g);
}

/* Eager push with a queued broadcast and nobody to send it to (a lone
 * agent, or every peer dead): the core must not re-arm its timer for "now"
 * forever. Bounded loop: a spinning core fails instead of hanging. */
static void alone_with_news_does_not_spin(void **state)
{
    struct gossip *g = core();
    int wakeups = 0;
    uint64_t end;
    (void)state;
    gossip_start(g);
    assert_int_equal(gossip_user_event(g, "e", NULL, 0, NULL), 0);
    end = F.now + 2000;
    while (F.armed && F.timer_at <= end && wakeups < 10000) {
        F.now = F.timer_at > F.now ? F.timer_at : F.now;
        F.armed = false;
        gossip_on_timer(g);
        wakeups++;
    }
    /* 2 s: ~2 probe ticks, ~10 gossip ticks, a push/pull or two */
    assert_true(wakeups < 40);
    /* with a peer, the news goes out on an eager round, not the tick */
    alive(g, 2, 1, 1, NULL);
    F.sends = 0;
    assert_int_equal(gossip_user_event(g, "f", NULL, 0, NULL), 0);
    advance(g, 25);
    assert_true(F.sends >= 1);
    gossip_delete(g);
}

static void ping_is_acked_and_packets_fit(void **state)
{
    struct gossip *g = core();
    struct part_spec p = {.type = GOSSIP_MSG_PING};
    uint8_t meta[GOSSIP_META_MAX];
    (void)state;
    /* lots of queued broadcasts with big metadata */
    memset(meta, 'm', sizeof(meta));
    for (uint8_t i = 2; i < 40; i++) {
        char name[8];
        struct part_spec a = {.type = GOSSIP_MSG_ALIVE};
        snprintf(name, sizeof(name), "n%u", i);
        a.u.alive.id = ID(i);
        a.u.alive.inc.gen = 1;
        a.u.alive.inc.ctr = 1;
        a.u.alive.addr = ADDR(i);
        a.u.alive.vsn[0] = a.u.alive.vsn[1] = a.u.alive.vsn[2] = 1;
        a.u.alive.name = name;
        a.u.alive.name_len = (uint8_t)strlen(name);
        a.u.alive.meta = meta;
        a.u.alive.meta_len = sizeof(meta);
        feed(g, i, &a, 1);
    }
    p.u.ping.seq = 1234;
    p.u.ping.target = ID(1);
    F.sends = 0;
    feed(g, 2, &p, 1);
    assert_int_equal(F.sends, 1);
    assert_true(F.last_len <= 1400); /* f_send asserts it too */
    /* a ping for another node ID is not answered */
    p.u.ping.target = ID(77);
    feed(g, 2, &p, 1);
    assert_int_equal(F.sends, 1);
    /* run for a while: every datagram stays within budget */
    gossip_start(g);
    advance(g, 60000);
    assert_true(F.sends > 10);
    gossip_delete(g);
}

static int leave_status = 99;
static void leave_done(struct gossip *g, int status, unsigned n, void *data)
{
    (void)g;
    (void)n;
    (void)data;
    leave_status = status;
}

static void leave_completes(void **state)
{
    struct gossip *g = core();
    struct gossip_member self;
    (void)state;
    gossip_start(g);
    /* alone: done at once */
    assert_int_equal(gossip_leave(g, 1000, leave_done, NULL), 0);
    assert_int_equal(leave_status, 0);
    assert_int_equal(gossip_leave(g, 1000, leave_done, NULL), GOSSIP_E_LEAVING);
    assert_int_equal(gossip_set_meta(g, (const uint8_t *)"x", 1),
                     GOSSIP_E_LEAVING);
    gossip_self(g, &self);
    assert_int_equal(self.state, GOSSIP_LEFT);
    /* claims about us while leaving are not refuted */
    alive(g, 2, 1, 1, NULL);
    claim(g, GOSSIP_MSG_DEAD, 2, 1, 5, 1, 1);
    gossip_self(g, &self);
    assert_int_equal(self.inc.ctr, 1);
    gossip_delete(g);
    /* with others: done once the broadcast is out, or at the timeout */
    g = core();
    alive(g, 2, 1, 1, NULL);
    gossip_start(g);
    leave_status = 99;
    assert_int_equal(gossip_leave(g, 5000, leave_done, NULL), 0);
    assert_int_equal(leave_status, 99);
    advance(g, 10000);
    assert_int_equal(leave_status, 0);
    gossip_delete(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(profiles_match_spec),
        cmocka_unit_test(addresses),
        cmocka_unit_test(queue_retransmit_limit_and_invalidation),
        cmocka_unit_test(queue_fewest_transmits_first_and_room),
        cmocka_unit_test(queue_user_share),
        cmocka_unit_test(precedence_rules),
        cmocka_unit_test(refutes_claims_about_itself),
        cmocka_unit_test(suspicion_timeout_shrinks_with_confirmations),
        cmocka_unit_test(user_events_dedup),
        cmocka_unit_test(ping_is_acked_and_packets_fit),
        cmocka_unit_test(alone_with_news_does_not_spin),
        cmocka_unit_test(leave_completes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
