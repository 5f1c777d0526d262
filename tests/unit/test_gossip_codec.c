/* Unit tests for gossip/proto.c: round trips of every message, rejection of
 * every truncation, oversized and inconsistent fields, the cleartext frame,
 * and a bounded, seeded fuzz loop (random bytes and mutations of valid
 * packets) through the decoders and through a live core. */
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

static uint64_t rng_state = 0x1234;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static struct gossip_id mkid(uint8_t v)
{
    struct gossip_id id;
    memset(&id, v, sizeof(id));
    return id;
}

static struct gossip_addr mkaddr(const char *s)
{
    struct gossip_addr a;
    assert_int_equal(gossip_addr_parse(s, 7946, &a), 0);
    return a;
}

/* A packet with one of every packet message. Returns its length. */
static size_t build_all(uint8_t *buf, size_t cap)
{
    struct wbuf w;
    struct gossip_id me = mkid(1);
    struct gossip_addr a4 = mkaddr("10.1.2.3:8301");
    struct gossip_addr a6 = mkaddr("[fe80::1]:8301");
    struct msg_ping ping = {42, mkid(2)};
    struct msg_ping_req preq = {43, mkid(3), a6, true};
    struct msg_ack ack = {44, {7, 9}};
    struct msg_nack nack = {45};
    struct msg_alive al = {
        mkid(4), {8, 10}, a4, {1, 1, 1}, "node-a", 6, (const uint8_t *)"meta!",
        5};
    struct msg_suspect su = {mkid(5), {1, 2}, mkid(6)};
    struct msg_suspect de = {mkid(7), {3, 4}, mkid(7)};
    struct msg_user us = {mkid(8), 99, "deploy", 6, (const uint8_t *)"v1.2", 4};
    size_t m;
    gossip__wbuf_fixed(&w, buf, cap);
    gossip__enc_hdr(&w, PROTO_KIND_PACKET, &me, &a4, 0xabcdef01);
    gossip__put_u8(&w, 8);
    m = gossip__part_begin(&w, GOSSIP_MSG_PING);
    gossip__enc_ping(&w, &ping);
    gossip__part_end(&w, m);
    m = gossip__part_begin(&w, GOSSIP_MSG_PING_REQ);
    gossip__enc_ping_req(&w, &preq);
    gossip__part_end(&w, m);
    m = gossip__part_begin(&w, GOSSIP_MSG_ACK);
    gossip__enc_ack(&w, &ack);
    gossip__part_end(&w, m);
    m = gossip__part_begin(&w, GOSSIP_MSG_NACK);
    gossip__enc_nack(&w, &nack);
    gossip__part_end(&w, m);
    m = gossip__part_begin(&w, GOSSIP_MSG_ALIVE);
    gossip__enc_alive(&w, &al);
    gossip__part_end(&w, m);
    m = gossip__part_begin(&w, GOSSIP_MSG_SUSPECT);
    gossip__enc_suspect(&w, &su);
    gossip__part_end(&w, m);
    m = gossip__part_begin(&w, GOSSIP_MSG_DEAD);
    gossip__enc_suspect(&w, &de);
    gossip__part_end(&w, m);
    m = gossip__part_begin(&w, GOSSIP_MSG_USER);
    gossip__enc_user(&w, &us);
    gossip__part_end(&w, m);
    assert_int_equal(w.err, 0);
    return w.len;
}

static int decode_all(const uint8_t *buf, size_t len)
{
    struct proto_msg msg;
    int rc = gossip__dec_payload(buf, len, &msg);
    for (unsigned i = 0; rc == 0 && i < msg.nparts; i++)
        rc = gossip__dec_part(&msg.parts[i]);
    return rc;
}

static void round_trip_every_message(void **state)
{
    uint8_t buf[1400];
    size_t len = build_all(buf, sizeof(buf));
    struct proto_msg msg;
    struct msg_ping ping;
    struct msg_ping_req preq;
    struct msg_ack ack;
    struct msg_nack nack;
    struct msg_alive al;
    struct msg_suspect su;
    struct msg_user us;
    struct gossip_id id1 = mkid(1);
    (void)state;

    assert_int_equal(gossip__dec_payload(buf, len, &msg), 0);
    assert_int_equal(msg.hdr.version, 1);
    assert_int_equal(msg.hdr.kind, PROTO_KIND_PACKET);
    assert_true(gossip__id_eq(&msg.hdr.sender, &id1));
    assert_int_equal(msg.hdr.addr.family, 4);
    assert_int_equal(msg.hdr.addr.port, 8301);
    assert_int_equal(msg.hdr.primary_key, 0xabcdef01);
    assert_int_equal(msg.nparts, 8);

    assert_int_equal(msg.parts[0].type, GOSSIP_MSG_PING);
    assert_int_equal(
        gossip__dec_ping(msg.parts[0].body, msg.parts[0].len, &ping), 0);
    assert_int_equal(ping.seq, 42);
    assert_int_equal(ping.target.b[0], 2);

    assert_int_equal(
        gossip__dec_ping_req(msg.parts[1].body, msg.parts[1].len, &preq), 0);
    assert_int_equal(preq.seq, 43);
    assert_true(preq.want_nack);
    assert_int_equal(preq.target_addr.family, 6);
    assert_int_equal(preq.target_addr.ip[0], 0xfe);
    assert_int_equal(preq.target_addr.ip[15], 1);

    assert_int_equal(gossip__dec_ack(msg.parts[2].body, msg.parts[2].len, &ack),
                     0);
    assert_int_equal(ack.seq, 44);
    assert_int_equal(ack.inc.gen, 7);
    assert_int_equal(ack.inc.ctr, 9);

    assert_int_equal(
        gossip__dec_nack(msg.parts[3].body, msg.parts[3].len, &nack), 0);
    assert_int_equal(nack.seq, 45);

    assert_int_equal(
        gossip__dec_alive(msg.parts[4].body, msg.parts[4].len, &al), 0);
    assert_int_equal(al.inc.gen, 8);
    assert_int_equal(al.inc.ctr, 10);
    assert_int_equal(al.name_len, 6);
    assert_memory_equal(al.name, "node-a", 6);
    assert_int_equal(al.meta_len, 5);
    assert_memory_equal(al.meta, "meta!", 5);
    assert_int_equal(al.addr.port, 8301);

    assert_int_equal(
        gossip__dec_suspect(msg.parts[5].body, msg.parts[5].len, &su), 0);
    assert_int_equal(su.id.b[0], 5);
    assert_int_equal(su.from.b[0], 6);
    assert_int_equal(su.inc.ctr, 2);

    assert_int_equal(msg.parts[6].type, GOSSIP_MSG_DEAD);
    assert_int_equal(
        gossip__dec_suspect(msg.parts[6].body, msg.parts[6].len, &su), 0);
    assert_true(gossip__id_eq(&su.id, &su.from));

    assert_int_equal(gossip__dec_user(msg.parts[7].body, msg.parts[7].len, &us),
                     0);
    assert_int_equal(us.ltime, 99);
    assert_memory_equal(us.name, "deploy", 6);
    assert_int_equal(us.len, 4);
    assert_memory_equal(us.payload, "v1.2", 4);
}

static void every_truncation_rejected(void **state)
{
    uint8_t buf[1400];
    size_t len = build_all(buf, sizeof(buf));
    struct proto_msg msg;
    (void)state;
    assert_int_equal(decode_all(buf, len), 0);
    for (size_t cut = 0; cut < len; cut++) {
        int rc = gossip__dec_payload(buf, cut, &msg);
        if (rc >= 0)
            fail_msg("prefix of %zu/%zu bytes accepted", cut, len);
    }
    /* every body decoder on every prefix of its own body */
    assert_int_equal(gossip__dec_payload(buf, len, &msg), 0);
    for (unsigned i = 0; i < msg.nparts; i++) {
        struct proto_part p = msg.parts[i];
        for (uint32_t cut = 0; cut < p.len; cut++) {
            struct proto_part q = p;
            q.len = cut;
            if (gossip__dec_part(&q) >= 0)
                fail_msg("part %u type %u: prefix %u/%u accepted", i, p.type,
                         cut, p.len);
        }
    }
}

static void trailing_and_inconsistent_rejected(void **state)
{
    uint8_t buf[1500];
    size_t len = build_all(buf, sizeof(buf));
    struct proto_msg msg;
    uint8_t b2[1500];
    (void)state;
    /* trailing byte after the last part */
    memcpy(b2, buf, len);
    b2[len] = 0;
    assert_int_equal(gossip__dec_payload(b2, len + 1, &msg), GOSSIP_E_INVALID);
    /* wrong version */
    memcpy(b2, buf, len);
    b2[0] = 2;
    assert_int_equal(gossip__dec_payload(b2, len, &msg), GOSSIP_E_VERSION);
    /* unknown kind */
    memcpy(b2, buf, len);
    b2[1] = 7;
    assert_int_equal(gossip__dec_payload(b2, len, &msg), GOSSIP_E_INVALID);
    /* zero sender id */
    memcpy(b2, buf, len);
    memset(b2 + 2, 0, 16);
    assert_int_equal(gossip__dec_payload(b2, len, &msg), GOSSIP_E_INVALID);
    /* bad address family */
    memcpy(b2, buf, len);
    b2[18] = 5;
    assert_int_equal(gossip__dec_payload(b2, len, &msg), GOSSIP_E_INVALID);
    /* part count larger than the parts present */
    memcpy(b2, buf, len);
    b2[2 + 16 + 7 + 4] = 9;
    assert_true(gossip__dec_payload(b2, len, &msg) < 0);
    /* count 0 */
    memcpy(b2, buf, len);
    b2[2 + 16 + 7 + 4] = 0;
    assert_true(gossip__dec_payload(b2, len, &msg) < 0);
    /* unknown part type and a push/pull inside a datagram */
    memcpy(b2, buf, len);
    b2[2 + 16 + 7 + 4 + 1] = 0x7f;
    assert_int_equal(gossip__dec_payload(b2, len, &msg), GOSSIP_E_INVALID);
    b2[2 + 16 + 7 + 4 + 1] = GOSSIP_MSG_PUSHPULL;
    assert_int_equal(gossip__dec_payload(b2, len, &msg), GOSSIP_E_INVALID);
}

static void body_field_checks(void **state)
{
    uint8_t b[1024];
    struct wbuf w;
    struct msg_alive al = {
        mkid(4), {1, 1}, mkaddr("10.0.0.1"), {1, 1, 1}, "n", 1, NULL, 0};
    struct msg_alive out;
    struct msg_user us, uo;
    struct msg_ping_req pr = {1, mkid(1), mkaddr("10.0.0.1"), false}, pro;
    struct msg_error e;
    (void)state;

    /* name_len over the limit: oversize */
    gossip__wbuf_fixed(&w, b, sizeof(b));
    gossip__enc_alive(&w, &al);
    b[16 + 12 + 7 + 3] = 200;
    {
        /* make the buffer long enough that it is not just truncated */
        size_t n = w.len + 300;
        memset(b + w.len, 'x', 300);
        assert_int_equal(gossip__dec_alive(b, n, &out), GOSSIP_E_OVERSIZE);
    }
    /* meta over 512 */
    {
        uint8_t meta[600];
        memset(meta, 'm', sizeof(meta));
        al.meta = meta;
        al.meta_len = 600;
        gossip__wbuf_fixed(&w, b, sizeof(b));
        gossip__enc_alive(&w, &al);
        assert_int_equal(gossip__dec_alive(b, w.len, &out), GOSSIP_E_OVERSIZE);
        al.meta = NULL;
        al.meta_len = 0;
    }
    /* empty name, NUL in name, zero id, bad versions */
    al.name_len = 0;
    gossip__wbuf_fixed(&w, b, sizeof(b));
    gossip__enc_alive(&w, &al);
    assert_int_equal(gossip__dec_alive(b, w.len, &out), GOSSIP_E_INVALID);
    al.name = "a\0b";
    al.name_len = 3;
    gossip__wbuf_fixed(&w, b, sizeof(b));
    gossip__enc_alive(&w, &al);
    assert_int_equal(gossip__dec_alive(b, w.len, &out), GOSSIP_E_INVALID);
    al.name = "ok";
    al.name_len = 2;
    al.vsn[0] = 2; /* min > max */
    gossip__wbuf_fixed(&w, b, sizeof(b));
    gossip__enc_alive(&w, &al);
    assert_int_equal(gossip__dec_alive(b, w.len, &out), GOSSIP_E_INVALID);
    al.vsn[0] = 1;
    memset(&al.id, 0, sizeof(al.id));
    gossip__wbuf_fixed(&w, b, sizeof(b));
    gossip__enc_alive(&w, &al);
    assert_int_equal(gossip__dec_alive(b, w.len, &out), GOSSIP_E_INVALID);

    /* user event: name + payload over 512 */
    {
        uint8_t pl[500];
        memset(pl, 1, sizeof(pl));
        us = (struct msg_user){mkid(3), 1,  "0123456789012345678901234567890",
                               31,      pl, 500};
        gossip__wbuf_fixed(&w, b, sizeof(b));
        gossip__enc_user(&w, &us);
        assert_int_equal(gossip__dec_user(b, w.len, &uo), GOSSIP_E_OVERSIZE);
    }
    /* ping-req reserved flag bits */
    gossip__wbuf_fixed(&w, b, sizeof(b));
    gossip__enc_ping_req(&w, &pr);
    b[w.len - 1] = 0x80;
    assert_int_equal(gossip__dec_ping_req(b, w.len, &pro), GOSSIP_E_INVALID);
    /* error frames carry negative codes only */
    gossip__wbuf_fixed(&w, b, sizeof(b));
    gossip__put_u32(&w, 5);
    assert_int_equal(gossip__dec_error(b, w.len, &e), GOSSIP_E_INVALID);
    gossip__wbuf_fixed(&w, b, sizeof(b));
    gossip__put_u32(&w, (uint32_t)GOSSIP_E_KEY_UNKNOWN);
    assert_int_equal(gossip__dec_error(b, w.len, &e), 0);
    assert_int_equal(e.code, GOSSIP_E_KEY_UNKNOWN);
}

static bool with_user;

static size_t build_pushpull(uint8_t *buf,
                             size_t cap,
                             uint32_t count,
                             uint32_t declared)
{
    struct wbuf w;
    size_t m;
    struct gossip_id me = mkid(9);
    struct gossip_addr a = mkaddr("10.0.0.9");
    gossip__wbuf_fixed(&w, buf, cap);
    gossip__enc_hdr(&w, PROTO_KIND_STREAM, &me, &a, 0);
    m = gossip__stream_begin(&w, GOSSIP_MSG_PUSHPULL);
    gossip__enc_pushpull_head(&w, true, false, 77, declared);
    for (uint32_t i = 0; i < count; i++) {
        char name[16];
        struct msg_alive al = {
            mkid((uint8_t)(10 + i)), {1, i}, a, {1, 1, 1}, name, 0,
            (const uint8_t *)"m",    1};
        snprintf(name, sizeof(name), "n%u", i);
        al.name_len = (uint8_t)strlen(name);
        gossip__put_u8(&w, (uint8_t)(i % 4));
        gossip__enc_alive(&w, &al);
    }
    gossip__put_u16(&w, with_user ? 1 : 0);
    if (with_user) {
        struct msg_user us = {mkid(3), 5, "ev", 2, (const uint8_t *)"pl", 2};
        gossip__put_u16(&w, 16 + 8 + 1 + 2 + 2 + 2);
        gossip__enc_user(&w, &us);
    }
    gossip__stream_end(&w, m);
    assert_int_equal(w.err, 0);
    return w.len;
}

static void pushpull_round_trip_and_limits(void **state)
{
    uint8_t buf[4096];
    size_t len, off = 0;
    struct proto_msg msg;
    struct msg_pushpull pp;
    uint8_t st;
    struct msg_alive al;
    struct msg_user us;
    unsigned n = 0;
    (void)state;
    with_user = true;
    len = build_pushpull(buf, sizeof(buf), 5, 5);
    assert_int_equal(gossip__dec_payload(buf, len, &msg), 0);
    assert_int_equal(msg.hdr.kind, PROTO_KIND_STREAM);
    assert_int_equal(msg.parts[0].type, GOSSIP_MSG_PUSHPULL);
    assert_int_equal(
        gossip__dec_pushpull(msg.parts[0].body, msg.parts[0].len, &pp), 0);
    assert_true(pp.join);
    assert_false(pp.reply);
    assert_int_equal(pp.ltime, 77);
    assert_int_equal(pp.count, 5);
    while (gossip__pushpull_next(&pp, &off, &st, &al) == 1) {
        assert_int_equal(st, n % 4);
        assert_int_equal(al.inc.ctr, n);
        n++;
    }
    assert_int_equal(n, 5);
    assert_int_equal(pp.nuser, 1);
    off = 0;
    assert_int_equal(gossip__pushpull_user_next(&pp, &off, &us), 1);
    assert_int_equal(us.ltime, 5);
    assert_memory_equal(us.payload, "pl", 2);
    assert_int_equal(gossip__pushpull_user_next(&pp, &off, &us), 0);
    for (size_t cut = 0; cut < len; cut++)
        assert_true(gossip__dec_payload(buf, cut, &msg) < 0);
    /* every truncation of the push/pull body itself */
    assert_int_equal(gossip__dec_payload(buf, len, &msg), 0);
    for (uint32_t cut = 0; cut < msg.parts[0].len; cut++) {
        struct proto_part q = msg.parts[0];
        q.len = cut;
        assert_true(gossip__dec_part(&q) < 0);
    }
    with_user = false;
    /* declared count above what is there, and below */
    len = build_pushpull(buf, sizeof(buf), 3, 4);
    assert_int_equal(gossip__dec_payload(buf, len, &msg), 0);
    assert_true(gossip__dec_part(&msg.parts[0]) < 0);
    len = build_pushpull(buf, sizeof(buf), 3, 2);
    assert_int_equal(gossip__dec_payload(buf, len, &msg), 0);
    assert_true(gossip__dec_part(&msg.parts[0]) < 0);
    /* a count beyond the node limit */
    len = build_pushpull(buf, sizeof(buf), 0, PROTO_PUSHPULL_MAX_NODES + 1);
    assert_int_equal(gossip__dec_payload(buf, len, &msg), 0);
    assert_int_equal(gossip__dec_part(&msg.parts[0]), GOSSIP_E_OVERSIZE);
    /* a bad state byte */
    len = build_pushpull(buf, sizeof(buf), 1, 1);
    assert_int_equal(gossip__dec_payload(buf, len, &msg), 0);
    ((uint8_t *)msg.parts[0].body)[13] = 9;
    assert_int_equal(gossip__dec_part(&msg.parts[0]), GOSSIP_E_INVALID);
    /* stream length field over the stream limit */
    len = build_pushpull(buf, sizeof(buf), 1, 1);
    buf[2 + 16 + 7 + 4 + 1] = 0x7f;
    assert_int_equal(gossip__dec_payload(buf, len, &msg), GOSSIP_E_OVERSIZE);
}

static void writer_overflow_is_reported(void **state)
{
    uint8_t small[8];
    struct wbuf w;
    (void)state;
    gossip__wbuf_fixed(&w, small, sizeof(small));
    gossip__put_u64(&w, 1);
    assert_int_equal(w.err, 0);
    gossip__put_u8(&w, 1);
    assert_int_equal(w.err, GOSSIP_E_OVERSIZE);
    assert_int_equal(w.len, 8);
    gossip__wbuf_dyn(&w, 16);
    gossip__put_u64(&w, 1);
    gossip__put_u64(&w, 2);
    assert_int_equal(w.err, 0);
    gossip__put_u8(&w, 3);
    assert_int_equal(w.err, GOSSIP_E_OVERSIZE);
    free(w.p);
}

static void cleartext_frame(void **state)
{
    uint8_t tag[4], other[4], out[64];
    const uint8_t *pt;
    size_t ptlen, n;
    uint8_t flags;
    (void)state;
    gossip__label_tag("dc1", 3, tag);
    gossip__label_tag("dc2", 3, other);
    assert_memory_not_equal(tag, other, 4);
    n = gossip__clear_wrap(PROTO_FLAG_STREAM, tag, (const uint8_t *)"hello", 5,
                           out);
    assert_int_equal(n, 5 + PROTO_CLEAR_OVERHEAD);
    assert_int_equal(gossip__clear_unwrap(tag, out, n, &pt, &ptlen, &flags), 0);
    assert_int_equal(ptlen, 5);
    assert_memory_equal(pt, "hello", 5);
    assert_int_equal(flags, PROTO_FLAG_STREAM);
    assert_int_equal(gossip__clear_unwrap(other, out, n, &pt, &ptlen, &flags),
                     GOSSIP_E_LABEL);
    for (size_t cut = 0; cut < n; cut++)
        assert_true(gossip__clear_unwrap(tag, out, cut, &pt, &ptlen, &flags) <
                    0);
    for (size_t i = 0; i < n; i++) {
        out[i] ^= 0x10;
        assert_true(gossip__clear_unwrap(tag, out, n, &pt, &ptlen, &flags) < 0);
        out[i] ^= 0x10;
    }
    out[0] = 0x00;
    assert_int_equal(gossip__clear_unwrap(tag, out, n, &pt, &ptlen, &flags),
                     GOSSIP_E_VERSION);
}

static void crc32c_known_vector(void **state)
{
    (void)state;
    /* RFC 3720 B.4: CRC-32C("123456789") = 0xE3069283 */
    assert_int_equal(gossip__crc32c(0, (const uint8_t *)"123456789", 9),
                     0xE3069283u);
}

/* ---- fuzz ---------------------------------------------------------------- */

static uint64_t fake_now;
static uint64_t env_now(void *d)
{
    (void)d;
    return fake_now;
}
static uint64_t env_random(void *d)
{
    (void)d;
    return rng();
}
static int env_send(void *d,
                    const struct gossip_addr *to,
                    const uint8_t *b,
                    size_t n)
{
    (void)d;
    (void)to;
    (void)b;
    assert_true(n <= 1400);
    return 0;
}
static void env_timer_start(void *d, uint64_t at)
{
    (void)d;
    (void)at;
}
static void env_timer_stop(void *d)
{
    (void)d;
}

static struct gossip *fuzz_core(void)
{
    struct gossip_config cfg;
    struct gossip_env env = {.now = env_now,
                             .random = env_random,
                             .send = env_send,
                             .timer_start = env_timer_start,
                             .timer_stop = env_timer_stop};
    struct gossip *g;
    gossip_config_init(&cfg, GOSSIP_PROFILE_LAN);
    cfg.name = "fuzz";
    cfg.addr = mkaddr("10.0.0.99");
    cfg.id = mkid(0x42);
    assert_int_equal(gossip_new(&cfg, &env, &g), 0);
    gossip_start(g);
    return g;
}

static void fuzz_decoders_and_core(void **state)
{
    uint8_t valid[1400], pkt[1500], framed[1600], tag[4];
    size_t vlen = build_all(valid, sizeof(valid));
    struct gossip *g = fuzz_core();
    struct gossip_addr from = mkaddr("10.0.0.1");
    const char *seed_env = getenv("FUZZ_SEED");
    unsigned accepted = 0;
    (void)state;
    rng_state = seed_env ? strtoull(seed_env, NULL, 0) : 20240601;
    printf("fuzz seed %llu (FUZZ_SEED to repeat)\n",
           (unsigned long long)rng_state);
    gossip__label_tag("", 0, tag);
    for (int it = 0; it < 20000; it++) {
        size_t len;
        int mode = (int)(rng() % 4);
        if (mode == 0) { /* random bytes */
            len = rng() % sizeof(pkt);
            for (size_t i = 0; i < len; i++)
                pkt[i] = (uint8_t)rng();
            if (len > 0 && rng() % 2)
                pkt[0] = PROTO_VERSION;
        } else { /* mutate a valid packet */
            memcpy(pkt, valid, vlen);
            len = vlen;
            for (int k = 0, nm = 1 + (int)(rng() % 4); k < nm; k++) {
                switch (rng() % 4) {
                case 0:
                    pkt[rng() % len] ^= (uint8_t)(1u << (rng() % 8));
                    break;
                case 1:
                    pkt[rng() % len] = (uint8_t)rng();
                    break;
                case 2:
                    len = rng() % (len + 1);
                    break;
                default:
                    if (len + 8 < sizeof(pkt)) {
                        for (int j = 0; j < 8; j++)
                            pkt[len + (size_t)j] = (uint8_t)rng();
                        len += 8;
                    }
                    break;
                }
                if (!len)
                    break;
            }
        }
        if (decode_all(pkt, len) == 0)
            accepted++;
        /* and through the live receive path, framed as cleartext */
        gossip_on_packet(g, &from, framed,
                         gossip__clear_wrap(0, tag, pkt, len, framed));
        gossip_on_packet(g, &from, pkt, len);
        fake_now += 7;
        if (it % 100 == 0)
            gossip_on_timer(g);
    }
    printf("fuzz: %u of 20000 mutated inputs decoded cleanly\n", accepted);
    gossip_delete(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_every_message),
        cmocka_unit_test(every_truncation_rejected),
        cmocka_unit_test(trailing_and_inconsistent_rejected),
        cmocka_unit_test(body_field_checks),
        cmocka_unit_test(pushpull_round_trip_and_limits),
        cmocka_unit_test(writer_overflow_is_reported),
        cmocka_unit_test(cleartext_frame),
        cmocka_unit_test(crc32c_known_vector),
        cmocka_unit_test(fuzz_decoders_and_core),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
