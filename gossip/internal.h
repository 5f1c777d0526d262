/*
 * internal.h — shared inside gossip/ only: the wire codec (proto.c), the
 * envelope, keyring and replay cache (crypto.c), the broadcast queue
 * (queue.c) and small helpers (util.c). Unit tests include it to reach the
 * codec and the envelope directly; nothing outside gossip/ and tests/ may.
 *
 * Internal non-static symbols are named gossip__*; they are hidden from a
 * shared object by -fvisibility=hidden but still link from libgossip.a.
 */
#ifndef CAIRN_GOSSIP_INTERNAL_H
#define CAIRN_GOSSIP_INTERNAL_H

#include "gossip.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ==== wire layout ==========================================================
 *
 * All integers big-endian. A datagram or stream message is a *frame*:
 *
 *   cleartext frame:  [0xB1][flags:1][label_tag:4] payload [crc32c:4]
 *                     label_tag = first 4 bytes of BLAKE2b(label); the CRC
 *                     covers everything before it.
 *   encrypted frame:  the envelope of spec 4.3 around payload (crypto.c):
 *                     [0xA1][flags:1][key_id:4][sender_ms:8][nonce:24]
 *                     [ciphertext][tag:16], AAD = first 38 bytes || label.
 *   flags: bit0 compressed (never set, reserved), bit1 stream, bit2 error
 *          (cleartext only: a stream reply that reports why we refused).
 *
 * payload:
 *   [version:1][kind:1][sender_id:16][sender_addr][primary_key_id:4]
 *                                                    (the header; key ID 0
 *                                                    = no keyring)
 *   kind 0 (packet): [count:1] count x ([type:1][len:u16][body:len])
 *   kind 1 (stream): [type:1][len:u32][body:len]     (exactly one message)
 *   Nothing may follow the last part.
 *
 * addr:  [family:1 = 4|6][ip:4|16][port:2]
 * inc:   [gen:8][ctr:4]
 * bodies (type numbers are enum gossip_msg_type):
 *   PING      [seq:8][target_id:16]
 *   PING_REQ  [seq:8][target_id:16][target_addr][flags:1 bit0 want_nack]
 *   ACK       [seq:8][inc]                     (the acker's incarnation)
 *   NACK      [seq:8]
 *   ALIVE     [id:16][inc][addr][vsn:3][name_len:1][name][meta_len:2][meta]
 *   SUSPECT   [id:16][inc][from:16]
 *   DEAD      [id:16][inc][from:16]            (from == id: left)
 *   USER      [origin:16][ltime:8][name_len:1][name][len:2][payload]
 *   PUSHPULL  [flags:1 bit0 join bit1 reply][ltime:8][count:4]
 *             count x ([state:1][ALIVE body])
 *             [nuser:2] nuser x ([len:2][USER body])  (recent user events,
 *             so a lost broadcast is repaired by the next push/pull)
 *   ERROR     [code:4] (negative gossip error, two's complement)
 */
#define PROTO_VERSION 1
#define PROTO_CLEAR_MAGIC 0xB1
#define PROTO_ENV_MAGIC 0xA1
#define PROTO_FLAG_STREAM 0x02
#define PROTO_FLAG_ERROR 0x04
#define PROTO_CLEAR_HDR 6
#define PROTO_CLEAR_OVERHEAD 10
#define PROTO_KIND_PACKET 0
#define PROTO_KIND_STREAM 1
#define PROTO_ADDR_MAX 19
#define PROTO_HDR_MAX (2 + 16 + PROTO_ADDR_MAX + 4)
#define PROTO_PART_HDR 3
#define PROTO_MAX_PARTS 255
#define PROTO_ALIVE_MIN (16 + 12 + 7 + 3 + 1 + 1 + 2)
#define PROTO_PUSHPULL_MAX_NODES (1u << 20)

/* Growable or fixed output buffer; any overflow sets err and later writes
 * are ignored, so encoders check once at the end. */
struct wbuf
{
    uint8_t *p;
    size_t len, cap;
    bool grow;    /* realloc instead of failing (stream messages) */
    int err;      /* 0, GOSSIP_E_OVERSIZE or -ENOMEM */
    size_t limit; /* grow limit */
};

void gossip__wbuf_fixed(struct wbuf *w, uint8_t *buf, size_t cap);
void gossip__wbuf_dyn(struct wbuf *w, size_t limit);
void gossip__put_u8(struct wbuf *w, uint8_t v);
void gossip__put_u16(struct wbuf *w, uint16_t v);
void gossip__put_u32(struct wbuf *w, uint32_t v);
void gossip__put_u64(struct wbuf *w, uint64_t v);
void gossip__put_bytes(struct wbuf *w, const void *b, size_t n);

struct rbuf
{
    const uint8_t *p;
    size_t len, off;
    int err; /* first error: GOSSIP_E_TRUNCATED or GOSSIP_E_INVALID */
};

struct proto_hdr
{
    uint8_t version;
    uint8_t kind;
    struct gossip_id sender;
    struct gossip_addr addr;
    uint32_t primary_key; /* sender's primary key ID, 0 = none */
};

struct proto_part
{
    uint8_t type;
    const uint8_t *body;
    uint32_t len;
};

/* A decoded payload; parts point into the input (borrowed). */
struct proto_msg
{
    struct proto_hdr hdr;
    unsigned nparts;
    struct proto_part parts[PROTO_MAX_PARTS];
};

struct msg_ping
{
    uint64_t seq;
    struct gossip_id target;
};
struct msg_ping_req
{
    uint64_t seq;
    struct gossip_id target;
    struct gossip_addr target_addr;
    bool want_nack;
};
struct msg_ack
{
    uint64_t seq;
    struct gossip_inc inc;
};
struct msg_nack
{
    uint64_t seq;
};
struct msg_alive
{
    struct gossip_id id;
    struct gossip_inc inc;
    struct gossip_addr addr;
    uint8_t vsn[3];   /* proto min, max, cur */
    const char *name; /* borrowed, not NUL-terminated */
    uint8_t name_len;
    const uint8_t *meta;
    uint16_t meta_len;
};
struct msg_suspect
{ /* also DEAD */
    struct gossip_id id;
    struct gossip_inc inc;
    struct gossip_id from;
};
struct msg_user
{
    struct gossip_id origin;
    uint64_t ltime;
    const char *name;
    uint8_t name_len;
    const uint8_t *payload;
    uint16_t len;
};
struct msg_pushpull
{
    bool join, reply;
    uint64_t ltime;
    uint32_t count;
    const uint8_t *records; /* count records, already validated */
    size_t records_len;
    uint16_t nuser;
    const uint8_t *user; /* nuser [len][USER body], validated */
    size_t user_len;
};
struct msg_error
{
    int32_t code;
};

/* Header + part framing. */
void gossip__enc_hdr(struct wbuf *w,
                     uint8_t kind,
                     const struct gossip_id *id,
                     const struct gossip_addr *addr,
                     uint32_t primary_key);
void gossip__enc_addr(struct wbuf *w, const struct gossip_addr *a);
/* Reserve a part header; returns its offset for gossip__part_end. */
size_t gossip__part_begin(struct wbuf *w, uint8_t type);
void gossip__part_end(struct wbuf *w, size_t mark);
size_t gossip__stream_begin(struct wbuf *w, uint8_t type);
void gossip__stream_end(struct wbuf *w, size_t mark);

/* Bodies (no part header). */
void gossip__enc_ping(struct wbuf *w, const struct msg_ping *m);
void gossip__enc_ping_req(struct wbuf *w, const struct msg_ping_req *m);
void gossip__enc_ack(struct wbuf *w, const struct msg_ack *m);
void gossip__enc_nack(struct wbuf *w, const struct msg_nack *m);
void gossip__enc_alive(struct wbuf *w, const struct msg_alive *m);
void gossip__enc_suspect(struct wbuf *w, const struct msg_suspect *m);
void gossip__enc_user(struct wbuf *w, const struct msg_user *m);
void gossip__enc_error(struct wbuf *w, const struct msg_error *m);
/* PUSHPULL head; then count x (state byte + alive body). */
void gossip__enc_pushpull_head(struct wbuf *w,
                               bool join,
                               bool reply,
                               uint64_t ltime,
                               uint32_t count);

/* Decoders: 0 or GOSSIP_E_TRUNCATED / _OVERSIZE / _INVALID / _VERSION.
 * Out-structs borrow from the input. A body must be consumed exactly. */
int gossip__dec_payload(const uint8_t *buf, size_t len, struct proto_msg *out);
int gossip__dec_ping(const uint8_t *b, size_t n, struct msg_ping *m);
int gossip__dec_ping_req(const uint8_t *b, size_t n, struct msg_ping_req *m);
int gossip__dec_ack(const uint8_t *b, size_t n, struct msg_ack *m);
int gossip__dec_nack(const uint8_t *b, size_t n, struct msg_nack *m);
int gossip__dec_alive(const uint8_t *b, size_t n, struct msg_alive *m);
int gossip__dec_suspect(const uint8_t *b, size_t n, struct msg_suspect *m);
int gossip__dec_user(const uint8_t *b, size_t n, struct msg_user *m);
int gossip__dec_error(const uint8_t *b, size_t n, struct msg_error *m);
int gossip__dec_pushpull(const uint8_t *b, size_t n, struct msg_pushpull *m);
/* Iterate validated push/pull records: *off starts at 0. Returns 1 with a
 * record, 0 at the end, <0 on error. */
int gossip__pushpull_next(const struct msg_pushpull *pp,
                          size_t *off,
                          uint8_t *state,
                          struct msg_alive *rec);
/* Same for the user events that follow the records. */
int gossip__pushpull_user_next(const struct msg_pushpull *pp,
                               size_t *off,
                               struct msg_user *u);
/* Decode one part by type (validation only): 0 or error. */
int gossip__dec_part(const struct proto_part *p);

/* Cleartext frame. wrap: out must have len + PROTO_CLEAR_OVERHEAD. */
size_t gossip__clear_wrap(uint8_t flags,
                          const uint8_t label_tag[4],
                          const uint8_t *pt,
                          size_t len,
                          uint8_t *out);
/* On 0: *pt and *ptlen point into in; *flags set. */
int gossip__clear_unwrap(const uint8_t label_tag[4],
                         const uint8_t *in,
                         size_t len,
                         const uint8_t **pt,
                         size_t *ptlen,
                         uint8_t *flags);

/* ==== crypto.c: keys, envelope, replay cache ============================ */

#define ENV_HDR_LEN 38
#define ENV_TAG_LEN 16
#define ENV_OVERHEAD (ENV_HDR_LEN + ENV_TAG_LEN)

struct gkey
{
    uint8_t key[GOSSIP_KEY_SIZE];
    uint8_t pkt_key[32];    /* crypto_kdf subkey 1: datagrams */
    uint8_t stream_key[32]; /* crypto_kdf subkey 2: streams */
    uint32_t id;
    uint64_t last_rx;
    uint64_t rx_count;
};

/* keys[0] is primary. */
struct keyring
{
    struct gkey keys[GOSSIP_KEYRING_MAX];
    size_t n;
};

void gossip__keyring_init(struct keyring *kr);
void gossip__keyring_wipe(struct keyring *kr);
int gossip__keyring_install(struct keyring *kr, const uint8_t *key, size_t len);
int gossip__keyring_use(struct keyring *kr, const uint8_t *key, size_t len);
int gossip__keyring_remove(struct keyring *kr, const uint8_t *key, size_t len);
/* Index of key with this 32-bit ID, starting the search at from; -1. */
int gossip__keyring_find_id(const struct keyring *kr, uint32_t id, size_t from);

/* Replay cache: three generations of nonce sets, each `window` long, so a
 * nonce is remembered for at least 2 x window after receipt (a packet is
 * accepted only while |now - sender_time| <= window). */
struct nonce_set
{
    uint64_t *slots; /* 0 = empty */
    size_t cap, n;
};
struct replay
{
    struct nonce_set gen[3];
    uint64_t gen_start; /* local wall ms when gen[0] began */
    uint32_t window;
    size_t max_per_gen;
};
void gossip__replay_init(struct replay *r, uint32_t window_ms);
void gossip__replay_free(struct replay *r);
/* 0 if new (and remembered), GOSSIP_E_REPLAY if seen, -ENOMEM /
 * GOSSIP_E_OVERSIZE if the cache is full (input refused). */
int gossip__replay_check(struct replay *r,
                         uint64_t now_ms,
                         const uint8_t nonce[24]);

void gossip__label_tag(const char *label, size_t len, uint8_t out[4]);

/* Seal pt into out (cap >= len + ENV_OVERHEAD). Returns bytes written or
 * GOSSIP_E_OVERSIZE. */
int gossip__env_seal(const struct gkey *k,
                     bool stream,
                     const char *label,
                     size_t label_len,
                     uint64_t wall_ms,
                     const uint8_t *pt,
                     size_t len,
                     uint8_t *out,
                     size_t cap);
/* Open an envelope. On success returns the plaintext length written to out
 * (cap >= len - ENV_OVERHEAD) and *key_idx. Errors: GOSSIP_E_TRUNCATED,
 * _VERSION, _INVALID (flags), _KEY_UNKNOWN, _AUTH, _STALE, _REPLAY.
 * rc may be NULL (no replay check). */
int gossip__env_open(struct keyring *kr,
                     bool stream,
                     const char *label,
                     size_t label_len,
                     uint64_t wall_now,
                     uint32_t window,
                     struct replay *rc,
                     const uint8_t *in,
                     size_t len,
                     uint8_t *out,
                     size_t cap,
                     int *key_idx);

/* ==== queue.c: transmit-limited broadcast queue ========================= */

enum { BQ_MEMBER = 0, BQ_USER = 1 };

struct bq_item
{
    uint8_t *buf; /* one encoded part: [type][len:u16][body] */
    uint16_t len;
    uint8_t cls;
    bool named;
    struct gossip_id key;
    uint32_t transmits;
    uint64_t seq;
    uint64_t notify; /* nonzero: finished(notify) when done or replaced */
    size_t idx;      /* position in its class heap */
};

struct bqueue
{
    struct bq_item **heap[2]; /* per class, best first */
    size_t hn[2], hcap[2];
    size_t max_items;
    struct bq_item **keys; /* open addressing: named items by key */
    size_t kcap, nkeys;
    uint64_t next_seq;
    uint64_t dropped;
    void (*finished)(void *arg, uint64_t notify);
    void *arg;
};

void gossip__bq_init(struct bqueue *q,
                     size_t max_items,
                     void (*finished)(void *arg, uint64_t notify),
                     void *arg);
void gossip__bq_free(struct bqueue *q);
/* Queue a copy of part. key != NULL: replaces queued items of the same
 * class and key. 0 or -ENOMEM. */
int gossip__bq_push(struct bqueue *q,
                    uint8_t cls,
                    const struct gossip_id *key,
                    const uint8_t *part,
                    size_t len,
                    uint64_t notify);
/* Append queued parts to dst (room bytes, at most max_parts parts), fewest
 * transmits first, then larger, then newer; each taken item counts one
 * transmit and is dropped at limit. When both classes are queued, member
 * messages first get at most (100 - user_pct)% of room. Returns bytes
 * appended; *nparts incremented. */
size_t gossip__bq_fill(struct bqueue *q,
                       uint32_t limit,
                       uint32_t user_pct,
                       uint8_t *dst,
                       size_t room,
                       unsigned *nparts,
                       unsigned max_parts);
size_t gossip__bq_len(const struct bqueue *q);
/* Fewest transmits of any queued message; UINT32_MAX when empty. */
uint32_t gossip__bq_min_transmits(const struct bqueue *q);

/* ==== util.c ============================================================ */

uint32_t gossip__crc32c(uint32_t crc, const uint8_t *p, size_t n);
static inline bool gossip__id_eq(const struct gossip_id *a,
                                 const struct gossip_id *b)
{
    uint64_t a0, a1, b0, b1;
    __builtin_memcpy(&a0, a->b, 8);
    __builtin_memcpy(&a1, a->b + 8, 8);
    __builtin_memcpy(&b0, b->b, 8);
    __builtin_memcpy(&b1, b->b + 8, 8);
    return a0 == b0 && a1 == b1;
}
bool gossip__id_zero(const struct gossip_id *a);
int gossip__inc_cmp(const struct gossip_inc *a, const struct gossip_inc *b);
size_t gossip__addr_len(const struct gossip_addr *a);
/* "xxxxxxxx" short hex of the first 4 ID bytes for logs. */
void gossip__id_short(const struct gossip_id *id, char out[9]);

#endif
