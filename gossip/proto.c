/*
 * proto.c — the wire codec: a versioned, bounds-checked binary format (the
 * layout is drawn in internal.h). Encoders write into a struct wbuf that
 * records overflow instead of writing past its end. Decoders never assert on
 * input: every length is checked against what remains, every enum against
 * its range, and a body must be consumed exactly, so truncated, oversized
 * and inconsistent input is an error code (spec 7: cortex#4326).
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- writer -------------------------------------------------------------- */

void gossip__wbuf_fixed(struct wbuf *w, uint8_t *buf, size_t cap)
{
    memset(w, 0, sizeof(*w));
    w->p = buf;
    w->cap = cap;
}

void gossip__wbuf_dyn(struct wbuf *w, size_t limit)
{
    memset(w, 0, sizeof(*w));
    w->grow = true;
    w->limit = limit;
}

static uint8_t *wreserve(struct wbuf *w, size_t n)
{
    if (w->err)
        return NULL;
    if (w->len + n > w->cap) {
        size_t ncap;
        uint8_t *np;
        if (!w->grow || w->len + n > w->limit) {
            w->err = GOSSIP_E_OVERSIZE;
            return NULL;
        }
        ncap = w->cap ? w->cap * 2 : 256;
        while (ncap < w->len + n)
            ncap *= 2;
        if (ncap > w->limit)
            ncap = w->limit;
        np = realloc(w->p, ncap);
        if (!np) {
            w->err = -ENOMEM;
            return NULL;
        }
        w->p = np;
        w->cap = ncap;
    }
    w->len += n;
    return w->p + w->len - n;
}

void gossip__put_u8(struct wbuf *w, uint8_t v)
{
    uint8_t *p = wreserve(w, 1);
    if (p)
        p[0] = v;
}

void gossip__put_u16(struct wbuf *w, uint16_t v)
{
    uint8_t *p = wreserve(w, 2);
    if (p) {
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
    }
}

void gossip__put_u32(struct wbuf *w, uint32_t v)
{
    uint8_t *p = wreserve(w, 4);
    if (p)
        for (int i = 0; i < 4; i++)
            p[i] = (uint8_t)(v >> (24 - 8 * i));
}

void gossip__put_u64(struct wbuf *w, uint64_t v)
{
    uint8_t *p = wreserve(w, 8);
    if (p)
        for (int i = 0; i < 8; i++)
            p[i] = (uint8_t)(v >> (56 - 8 * i));
}

void gossip__put_bytes(struct wbuf *w, const void *b, size_t n)
{
    uint8_t *p = wreserve(w, n);
    if (p && n)
        memcpy(p, b, n);
}

static void put_inc(struct wbuf *w, const struct gossip_inc *inc)
{
    gossip__put_u64(w, inc->gen);
    gossip__put_u32(w, inc->ctr);
}

void gossip__enc_addr(struct wbuf *w, const struct gossip_addr *a)
{
    uint8_t fam = a->family == 6 ? 6 : 4;
    gossip__put_u8(w, fam);
    gossip__put_bytes(w, a->ip, fam == 6 ? 16 : 4);
    gossip__put_u16(w, a->port);
}

void gossip__enc_hdr(struct wbuf *w,
                     uint8_t kind,
                     const struct gossip_id *id,
                     const struct gossip_addr *addr,
                     uint32_t primary_key)
{
    gossip__put_u8(w, PROTO_VERSION);
    gossip__put_u8(w, kind);
    gossip__put_bytes(w, id->b, 16);
    gossip__enc_addr(w, addr);
    gossip__put_u32(w, primary_key);
}

size_t gossip__part_begin(struct wbuf *w, uint8_t type)
{
    size_t mark = w->len;
    gossip__put_u8(w, type);
    gossip__put_u16(w, 0);
    return mark;
}

void gossip__part_end(struct wbuf *w, size_t mark)
{
    size_t body;
    if (w->err)
        return;
    body = w->len - mark - PROTO_PART_HDR;
    if (body > 0xffff) {
        w->err = GOSSIP_E_OVERSIZE;
        return;
    }
    w->p[mark + 1] = (uint8_t)(body >> 8);
    w->p[mark + 2] = (uint8_t)body;
}

size_t gossip__stream_begin(struct wbuf *w, uint8_t type)
{
    size_t mark = w->len;
    gossip__put_u8(w, type);
    gossip__put_u32(w, 0);
    return mark;
}

void gossip__stream_end(struct wbuf *w, size_t mark)
{
    size_t body;
    if (w->err)
        return;
    body = w->len - mark - 5;
    if (body > GOSSIP_STREAM_MAX) {
        w->err = GOSSIP_E_OVERSIZE;
        return;
    }
    for (int i = 0; i < 4; i++)
        w->p[mark + 1 + i] = (uint8_t)(body >> (24 - 8 * i));
}

void gossip__enc_ping(struct wbuf *w, const struct msg_ping *m)
{
    gossip__put_u64(w, m->seq);
    gossip__put_bytes(w, m->target.b, 16);
}

void gossip__enc_ping_req(struct wbuf *w, const struct msg_ping_req *m)
{
    gossip__put_u64(w, m->seq);
    gossip__put_bytes(w, m->target.b, 16);
    gossip__enc_addr(w, &m->target_addr);
    gossip__put_u8(w, m->want_nack ? 1 : 0);
}

void gossip__enc_ack(struct wbuf *w, const struct msg_ack *m)
{
    gossip__put_u64(w, m->seq);
    put_inc(w, &m->inc);
}

void gossip__enc_nack(struct wbuf *w, const struct msg_nack *m)
{
    gossip__put_u64(w, m->seq);
}

void gossip__enc_alive(struct wbuf *w, const struct msg_alive *m)
{
    gossip__put_bytes(w, m->id.b, 16);
    put_inc(w, &m->inc);
    gossip__enc_addr(w, &m->addr);
    gossip__put_bytes(w, m->vsn, 3);
    gossip__put_u8(w, m->name_len);
    gossip__put_bytes(w, m->name, m->name_len);
    gossip__put_u16(w, m->meta_len);
    gossip__put_bytes(w, m->meta, m->meta_len);
}

void gossip__enc_suspect(struct wbuf *w, const struct msg_suspect *m)
{
    gossip__put_bytes(w, m->id.b, 16);
    put_inc(w, &m->inc);
    gossip__put_bytes(w, m->from.b, 16);
}

void gossip__enc_user(struct wbuf *w, const struct msg_user *m)
{
    gossip__put_bytes(w, m->origin.b, 16);
    gossip__put_u64(w, m->ltime);
    gossip__put_u8(w, m->name_len);
    gossip__put_bytes(w, m->name, m->name_len);
    gossip__put_u16(w, m->len);
    gossip__put_bytes(w, m->payload, m->len);
}

void gossip__enc_error(struct wbuf *w, const struct msg_error *m)
{
    gossip__put_u32(w, (uint32_t)m->code);
}

void gossip__enc_pushpull_head(struct wbuf *w,
                               bool join,
                               bool reply,
                               uint64_t ltime,
                               uint32_t count)
{
    gossip__put_u8(w, (uint8_t)((join ? 1 : 0) | (reply ? 2 : 0)));
    gossip__put_u64(w, ltime);
    gossip__put_u32(w, count);
}

/* ---- reader -------------------------------------------------------------- */

static void rinit(struct rbuf *r, const uint8_t *p, size_t n)
{
    r->p = p;
    r->len = n;
    r->off = 0;
    r->err = 0;
}

static const uint8_t *rtake(struct rbuf *r, size_t n)
{
    if (r->err)
        return NULL;
    if (n > r->len - r->off) {
        r->err = GOSSIP_E_TRUNCATED;
        return NULL;
    }
    r->off += n;
    return r->p + r->off - n;
}

static uint8_t get_u8(struct rbuf *r)
{
    const uint8_t *p = rtake(r, 1);
    return p ? p[0] : 0;
}

static uint16_t get_u16(struct rbuf *r)
{
    const uint8_t *p = rtake(r, 2);
    return p ? (uint16_t)((p[0] << 8) | p[1]) : 0;
}

static uint32_t get_u32(struct rbuf *r)
{
    const uint8_t *p = rtake(r, 4);
    uint32_t v = 0;
    if (p)
        for (int i = 0; i < 4; i++)
            v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(struct rbuf *r)
{
    const uint8_t *p = rtake(r, 8);
    uint64_t v = 0;
    if (p)
        for (int i = 0; i < 8; i++)
            v = (v << 8) | p[i];
    return v;
}

static void get_id(struct rbuf *r, struct gossip_id *id)
{
    const uint8_t *p = rtake(r, 16);
    if (p)
        memcpy(id->b, p, 16);
    else
        memset(id->b, 0, 16);
}

static void get_inc(struct rbuf *r, struct gossip_inc *inc)
{
    inc->gen = get_u64(r);
    inc->ctr = get_u32(r);
}

static void rfail(struct rbuf *r, int err)
{
    if (!r->err)
        r->err = err;
}

static void get_addr(struct rbuf *r, struct gossip_addr *a)
{
    uint8_t fam = get_u8(r);
    const uint8_t *p;
    memset(a, 0, sizeof(*a));
    if (r->err)
        return;
    if (fam != 4 && fam != 6) {
        rfail(r, GOSSIP_E_INVALID);
        return;
    }
    a->family = fam;
    p = rtake(r, fam == 6 ? 16 : 4);
    if (p)
        memcpy(a->ip, p, fam == 6 ? 16 : 4);
    a->port = get_u16(r);
}

/* A body must end exactly where its part ends. */
static int rdone(struct rbuf *r)
{
    if (r->err)
        return r->err;
    if (r->off != r->len)
        return GOSSIP_E_INVALID;
    return 0;
}

static bool name_ok(const char *s, size_t n)
{
    if (n == 0)
        return false;
    return memchr(s, 0, n) == NULL;
}

int gossip__dec_payload(const uint8_t *buf, size_t len, struct proto_msg *out)
{
    struct rbuf r;
    uint8_t count;

    rinit(&r, buf, len);
    out->hdr.version = get_u8(&r);
    if (r.err)
        return r.err;
    if (out->hdr.version < GOSSIP_PROTO_MIN ||
        out->hdr.version > GOSSIP_PROTO_MAX)
        return GOSSIP_E_VERSION;
    out->hdr.kind = get_u8(&r);
    get_id(&r, &out->hdr.sender);
    get_addr(&r, &out->hdr.addr);
    out->hdr.primary_key = get_u32(&r);
    if (r.err)
        return r.err;
    if (gossip__id_zero(&out->hdr.sender))
        return GOSSIP_E_INVALID;
    out->nparts = 0;
    if (out->hdr.kind == PROTO_KIND_PACKET) {
        count = get_u8(&r);
        if (r.err)
            return r.err;
        if (count == 0)
            return GOSSIP_E_INVALID;
        for (unsigned i = 0; i < count; i++) {
            struct proto_part *pt = &out->parts[i];
            pt->type = get_u8(&r);
            pt->len = get_u16(&r);
            pt->body = rtake(&r, pt->len);
            if (r.err)
                return r.err;
            if (pt->type == 0 || pt->type >= GOSSIP_MSG_TYPES ||
                pt->type == GOSSIP_MSG_PUSHPULL)
                return GOSSIP_E_INVALID;
        }
        out->nparts = count;
    } else if (out->hdr.kind == PROTO_KIND_STREAM) {
        struct proto_part *pt = &out->parts[0];
        pt->type = get_u8(&r);
        pt->len = get_u32(&r);
        if (r.err)
            return r.err;
        if (pt->len > GOSSIP_STREAM_MAX)
            return GOSSIP_E_OVERSIZE;
        pt->body = rtake(&r, pt->len);
        if (r.err)
            return r.err;
        if (pt->type == 0 || pt->type >= GOSSIP_MSG_TYPES)
            return GOSSIP_E_INVALID;
        out->nparts = 1;
    } else {
        return GOSSIP_E_INVALID;
    }
    return rdone(&r);
}

int gossip__dec_ping(const uint8_t *b, size_t n, struct msg_ping *m)
{
    struct rbuf r;
    rinit(&r, b, n);
    m->seq = get_u64(&r);
    get_id(&r, &m->target);
    return rdone(&r);
}

int gossip__dec_ping_req(const uint8_t *b, size_t n, struct msg_ping_req *m)
{
    struct rbuf r;
    uint8_t flags;
    rinit(&r, b, n);
    m->seq = get_u64(&r);
    get_id(&r, &m->target);
    get_addr(&r, &m->target_addr);
    flags = get_u8(&r);
    if (!r.err && (flags & ~1u))
        rfail(&r, GOSSIP_E_INVALID);
    m->want_nack = flags & 1;
    return rdone(&r);
}

int gossip__dec_ack(const uint8_t *b, size_t n, struct msg_ack *m)
{
    struct rbuf r;
    rinit(&r, b, n);
    m->seq = get_u64(&r);
    get_inc(&r, &m->inc);
    return rdone(&r);
}

int gossip__dec_nack(const uint8_t *b, size_t n, struct msg_nack *m)
{
    struct rbuf r;
    rinit(&r, b, n);
    m->seq = get_u64(&r);
    return rdone(&r);
}

static void get_alive(struct rbuf *r, struct msg_alive *m)
{
    const uint8_t *p;
    get_id(r, &m->id);
    get_inc(r, &m->inc);
    get_addr(r, &m->addr);
    p = rtake(r, 3);
    if (p)
        memcpy(m->vsn, p, 3);
    m->name_len = get_u8(r);
    m->name = (const char *)rtake(r, m->name_len);
    m->meta_len = get_u16(r);
    if (r->err)
        return;
    if (m->meta_len > GOSSIP_META_MAX || m->name_len > GOSSIP_NAME_MAX) {
        rfail(r, GOSSIP_E_OVERSIZE);
        return;
    }
    m->meta = rtake(r, m->meta_len);
    if (r->err)
        return;
    if (!name_ok(m->name, m->name_len) || gossip__id_zero(&m->id) ||
        m->vsn[0] > m->vsn[1] || m->vsn[2] < m->vsn[0] ||
        m->vsn[2] > m->vsn[1] || m->vsn[0] == 0)
        rfail(r, GOSSIP_E_INVALID);
}

int gossip__dec_alive(const uint8_t *b, size_t n, struct msg_alive *m)
{
    struct rbuf r;
    rinit(&r, b, n);
    get_alive(&r, m);
    return rdone(&r);
}

int gossip__dec_suspect(const uint8_t *b, size_t n, struct msg_suspect *m)
{
    struct rbuf r;
    rinit(&r, b, n);
    get_id(&r, &m->id);
    get_inc(&r, &m->inc);
    get_id(&r, &m->from);
    if (!r.err && (gossip__id_zero(&m->id) || gossip__id_zero(&m->from)))
        rfail(&r, GOSSIP_E_INVALID);
    return rdone(&r);
}

int gossip__dec_user(const uint8_t *b, size_t n, struct msg_user *m)
{
    struct rbuf r;
    rinit(&r, b, n);
    get_id(&r, &m->origin);
    m->ltime = get_u64(&r);
    m->name_len = get_u8(&r);
    m->name = (const char *)rtake(&r, m->name_len);
    m->len = get_u16(&r);
    if (r.err)
        return r.err;
    if (m->name_len > GOSSIP_USER_NAME_MAX ||
        (size_t)m->name_len + m->len > GOSSIP_USER_MAX)
        return GOSSIP_E_OVERSIZE;
    m->payload = rtake(&r, m->len);
    if (!r.err && !name_ok(m->name, m->name_len))
        rfail(&r, GOSSIP_E_INVALID);
    return rdone(&r);
}

int gossip__dec_error(const uint8_t *b, size_t n, struct msg_error *m)
{
    struct rbuf r;
    rinit(&r, b, n);
    m->code = (int32_t)get_u32(&r);
    if (!r.err && m->code >= 0)
        rfail(&r, GOSSIP_E_INVALID);
    return rdone(&r);
}

int gossip__dec_pushpull(const uint8_t *b, size_t n, struct msg_pushpull *m)
{
    struct rbuf r;
    uint8_t flags;
    size_t rec_start;
    rinit(&r, b, n);
    flags = get_u8(&r);
    m->ltime = get_u64(&r);
    m->count = get_u32(&r);
    if (r.err)
        return r.err;
    if (flags & ~3u)
        return GOSSIP_E_INVALID;
    m->join = flags & 1;
    m->reply = (flags & 2) != 0;
    if (m->count > PROTO_PUSHPULL_MAX_NODES)
        return GOSSIP_E_OVERSIZE;
    if ((uint64_t)m->count * (1 + PROTO_ALIVE_MIN) > r.len - r.off)
        return GOSSIP_E_TRUNCATED;
    rec_start = r.off;
    /* Validate every record now so merging never stops half way. */
    for (uint32_t i = 0; i < m->count; i++) {
        struct msg_alive a;
        uint8_t st = get_u8(&r);
        get_alive(&r, &a);
        if (r.err)
            return r.err;
        if (st > GOSSIP_LEFT)
            return GOSSIP_E_INVALID;
    }
    m->records = r.p + rec_start;
    m->records_len = r.off - rec_start;
    m->nuser = get_u16(&r);
    if (r.err)
        return r.err;
    m->user = r.p + r.off;
    for (unsigned i = 0; i < m->nuser; i++) {
        struct msg_user u;
        uint16_t len = get_u16(&r);
        const uint8_t *body = rtake(&r, len);
        int rc;
        if (r.err)
            return r.err;
        rc = gossip__dec_user(body, len, &u);
        if (rc)
            return rc;
    }
    m->user_len = (size_t)(r.p + r.off - m->user);
    return rdone(&r);
}

int gossip__pushpull_next(const struct msg_pushpull *pp,
                          size_t *off,
                          uint8_t *state,
                          struct msg_alive *rec)
{
    struct rbuf r;
    if (*off >= pp->records_len)
        return 0;
    rinit(&r, pp->records, pp->records_len);
    r.off = *off;
    *state = get_u8(&r);
    get_alive(&r, rec);
    if (r.err)
        return r.err;
    if (*state > GOSSIP_LEFT)
        return GOSSIP_E_INVALID;
    *off = r.off;
    return 1;
}

int gossip__pushpull_user_next(const struct msg_pushpull *pp,
                               size_t *off,
                               struct msg_user *u)
{
    struct rbuf r;
    uint16_t len;
    const uint8_t *body;
    int rc;
    if (*off >= pp->user_len)
        return 0;
    rinit(&r, pp->user, pp->user_len);
    r.off = *off;
    len = get_u16(&r);
    body = rtake(&r, len);
    if (r.err)
        return r.err;
    rc = gossip__dec_user(body, len, u);
    if (rc)
        return rc;
    *off = r.off;
    return 1;
}

int gossip__dec_part(const struct proto_part *p)
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
        struct msg_error error;
        struct msg_pushpull pp;
    } u;
    switch (p->type) {
    case GOSSIP_MSG_PING:
        return gossip__dec_ping(p->body, p->len, &u.ping);
    case GOSSIP_MSG_PING_REQ:
        return gossip__dec_ping_req(p->body, p->len, &u.preq);
    case GOSSIP_MSG_ACK:
        return gossip__dec_ack(p->body, p->len, &u.ack);
    case GOSSIP_MSG_NACK:
        return gossip__dec_nack(p->body, p->len, &u.nack);
    case GOSSIP_MSG_ALIVE:
        return gossip__dec_alive(p->body, p->len, &u.alive);
    case GOSSIP_MSG_SUSPECT:
    case GOSSIP_MSG_DEAD:
        return gossip__dec_suspect(p->body, p->len, &u.susp);
    case GOSSIP_MSG_USER:
        return gossip__dec_user(p->body, p->len, &u.user);
    case GOSSIP_MSG_ERROR:
        return gossip__dec_error(p->body, p->len, &u.error);
    case GOSSIP_MSG_PUSHPULL:
        return gossip__dec_pushpull(p->body, p->len, &u.pp);
    default:
        return GOSSIP_E_INVALID;
    }
}

/* ---- cleartext frame ----------------------------------------------------- */

size_t gossip__clear_wrap(uint8_t flags,
                          const uint8_t label_tag[4],
                          const uint8_t *pt,
                          size_t len,
                          uint8_t *out)
{
    uint32_t crc;
    out[0] = PROTO_CLEAR_MAGIC;
    out[1] = flags;
    memcpy(out + 2, label_tag, 4);
    memmove(out + PROTO_CLEAR_HDR, pt, len);
    crc = gossip__crc32c(0, out, PROTO_CLEAR_HDR + len);
    for (int i = 0; i < 4; i++)
        out[PROTO_CLEAR_HDR + len + (size_t)i] = (uint8_t)(crc >> (24 - 8 * i));
    return len + PROTO_CLEAR_OVERHEAD;
}

int gossip__clear_unwrap(const uint8_t label_tag[4],
                         const uint8_t *in,
                         size_t len,
                         const uint8_t **pt,
                         size_t *ptlen,
                         uint8_t *flags)
{
    uint32_t crc, want = 0;
    if (len < 1)
        return GOSSIP_E_TRUNCATED;
    if (in[0] != PROTO_CLEAR_MAGIC)
        return GOSSIP_E_VERSION;
    if (len < PROTO_CLEAR_OVERHEAD)
        return GOSSIP_E_TRUNCATED;
    if (in[1] & ~(PROTO_FLAG_STREAM | PROTO_FLAG_ERROR))
        return GOSSIP_E_INVALID;
    crc = gossip__crc32c(0, in, len - 4);
    for (int i = 0; i < 4; i++)
        want = (want << 8) | in[len - 4 + (size_t)i];
    if (crc != want)
        return GOSSIP_E_CHECKSUM;
    if (memcmp(in + 2, label_tag, 4) != 0)
        return GOSSIP_E_LABEL;
    *flags = in[1];
    *pt = in + PROTO_CLEAR_HDR;
    *ptlen = len - PROTO_CLEAR_OVERHEAD;
    return 0;
}
