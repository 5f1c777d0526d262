/* fsm — see fsm.h. */
#include "fsm.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "json.h"
#include "log.h"

#define SNAP_MAGIC_V1 "CAIRNSN1" /* KV only */
#define SNAP_MAGIC "CAIRNSN2"    /* KV, then the catalog */

static void on_kv_change(void *data, const char *key)
{
    struct fsm *f = data;
    watch_notify(f->kv_watch, key);
}

static void on_catalog_change(void *data, const char *topic)
{
    struct fsm *f = data;
    watch_notify(f->catalog_watch, topic);
}

/* A catalog register/deregister: the payload is the request body. A
 * request that fails validation changes nothing; every server fails it
 * alike, and the proposer gets the message. */
static void apply_catalog(struct fsm *f, const struct cmd *c, uint64_t index)
{
    struct fsm_result *r = &f->last;
    char perr[128];
    json_object *req =
        c->payload_len > 0
            ? json_parse((const char *)c->payload, c->payload_len, perr,
                         sizeof perr)
            : NULL;
    if (req == NULL) {
        if (c->payload_len == 0 || perr[0] == '\0')
            snprintf(perr, sizeof perr, "%s", "empty body");
        snprintf(r->err, sizeof r->err, "Request decode failed: %s", perr);
        r->rc = -EINVAL;
    } else if (c->type == CMD_CATALOG_REGISTER) {
        r->rc = catalog_register(f->catalog, req, index, r->err,
                                 sizeof r->err);
    } else {
        r->rc = catalog_deregister(f->catalog, req, index, r->err,
                                   sizeof r->err);
    }
    json_object_put(req);
    if (r->rc != 0)
        log_debug("fsm", "entry %llu: catalog command rejected: %s",
                  (unsigned long long)index, r->err);
}

static void result_clear(struct fsm_result *r)
{
    kv_txn_result_clear(&r->txn);
    memset(r, 0, sizeof *r);
}

int fsm_apply_at(struct fsm *f, const void *buf, size_t len, uint64_t index)
{
    struct cmd c;
    result_clear(&f->last);
    f->last.index = index;
    if (index > f->index)
        f->index = index;
    int rv = cmd_decode(buf, len, &c);
    if (rv != 0) {
        log_error("fsm", "entry %llu: undecodable command (%d bytes), skipped",
                  (unsigned long long)index, (int)len);
        f->last.rc = rv;
        return rv;
    }
    switch (c.type) {
    case CMD_KV_TXN:
        f->last.rc = kv_txn(f->kv, c.ops, c.n_ops, index, &f->last.txn);
        break;
    case CMD_KV_REAP:
        kv_reap(f->kv, c.arg, index);
        break;
    case CMD_NOOP:
        break;
    case CMD_CATALOG_REGISTER:
    case CMD_CATALOG_DEREGISTER:
        apply_catalog(f, &c, index);
        break;
    }
    cmd_clear(&c);
    return 0;
}

static int fsm_raft_apply(struct raft_fsm *rf, const struct raft_buffer *buf,
                         void **result)
{
    struct fsm *f = rf->data;
    uint64_t index = f->raft ? raft_last_applied(f->raft) + 1 : f->index + 1;
    fsm_apply_at(f, buf->base, buf->len, index);
    *result = &f->last;
    return 0; /* a bad entry must not stop the state machine */
}

/* ---- snapshot encoding ----
 * "CAIRNSN2" | u64 fsm_index | u64 kv_index | u64 n, then per entry:
 * u8 deleted | u8 zero[3] | u32 key_len | u32 value_len | u32 session_len |
 * u64 flags | u64 create | u64 modify | u64 lock | key | value | session,
 * then u64 catalog_len | catalog JSON (catalog_pin_write).
 * "CAIRNSN1" (older) is the same without the catalog section. */

static void put64(uint8_t **p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        (*p)[i] = (uint8_t)(v >> (8 * i));
    *p += 8;
}
static void put32(uint8_t **p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        (*p)[i] = (uint8_t)(v >> (8 * i));
    *p += 4;
}
static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

#define SNAP_HDR 32
#define SNAP_ENT 48

int fsm_encode_snapshot(struct kv_entry *const *entries, size_t n,
                        uint64_t kv_index, uint64_t fsm_index,
                        const struct catalog_pin *cat, void **buf,
                        size_t *len)
{
    char *cat_json;
    size_t cat_len;
    if (catalog_pin_write(cat, &cat_json, &cat_len) != 0)
        return -ENOMEM;
    size_t total = SNAP_HDR;
    for (size_t i = 0; i < n; i++) {
        const struct kv_entry *e = entries[i];
        total += SNAP_ENT + e->key_len + e->value_len +
                 (e->session ? strlen(e->session) : 0);
    }
    total += 8 + cat_len;
    uint8_t *out = malloc(total), *p = out;
    if (out == NULL) {
        free(cat_json);
        return -ENOMEM;
    }
    memcpy(p, SNAP_MAGIC, 8);
    p += 8;
    put64(&p, fsm_index);
    put64(&p, kv_index);
    put64(&p, n);
    for (size_t i = 0; i < n; i++) {
        const struct kv_entry *e = entries[i];
        size_t slen = e->session ? strlen(e->session) : 0;
        *p++ = e->deleted ? 1 : 0;
        *p++ = 0;
        *p++ = 0;
        *p++ = 0;
        put32(&p, (uint32_t)e->key_len);
        put32(&p, (uint32_t)e->value_len);
        put32(&p, (uint32_t)slen);
        put64(&p, e->flags);
        put64(&p, e->create_index);
        put64(&p, e->modify_index);
        put64(&p, e->lock_index);
        memcpy(p, e->key, e->key_len);
        p += e->key_len;
        if (e->value_len)
            memcpy(p, e->value, e->value_len);
        p += e->value_len;
        if (slen)
            memcpy(p, e->session, slen);
        p += slen;
    }
    put64(&p, cat_len);
    memcpy(p, cat_json, cat_len);
    free(cat_json);
    *buf = out;
    *len = total;
    return 0;
}

int fsm_restore_buf(struct fsm *f, const void *buf, size_t len)
{
    const uint8_t *p = buf, *end = p + len;
    if (len < SNAP_HDR)
        return -EINVAL;
    bool v1 = memcmp(p, SNAP_MAGIC_V1, 8) == 0;
    if (!v1 && memcmp(p, SNAP_MAGIC, 8) != 0)
        return -EINVAL;
    uint64_t fsm_index = get64(p + 8), kv_index = get64(p + 16);
    uint64_t n = get64(p + 24);
    p += SNAP_HDR;
    if (n > len / SNAP_ENT)
        return -EINVAL;
    struct kv *kv = kv_new();
    if (kv == NULL)
        return -ENOMEM;
    char *key = NULL, *session = NULL;
    int rv = -EINVAL;
    for (uint64_t i = 0; i < n; i++) {
        if ((size_t)(end - p) < SNAP_ENT || p[0] > 1 || p[1] || p[2] || p[3])
            goto err;
        uint32_t klen = get32(p + 4), vlen = get32(p + 8), slen = get32(p + 12);
        uint64_t flags = get64(p + 16), create = get64(p + 24),
                 modify = get64(p + 32), lock = get64(p + 40);
        bool deleted = p[0] == 1;
        p += SNAP_ENT;
        if ((uint64_t)klen + vlen + slen > (uint64_t)(end - p))
            goto err;
        key = strndup((const char *)p, klen);
        session = slen ? strndup((const char *)p + klen + vlen, slen) : NULL;
        if (key == NULL || (slen && session == NULL)) {
            rv = -ENOMEM;
            goto err;
        }
        if (strlen(key) != klen || (session && strlen(session) != slen))
            goto err;
        rv = kv_restore_entry(kv, key, vlen ? p + klen : NULL, vlen, flags,
                              create, modify, lock, session, deleted);
        if (rv != 0)
            goto err;
        rv = -EINVAL;
        free(key);
        free(session);
        key = session = NULL;
        p += klen + vlen + slen;
    }
    if (!v1) {
        /* The catalog section ends the buffer exactly. */
        if ((size_t)(end - p) < 8 || get64(p) != (uint64_t)(end - p) - 8)
            goto err;
        p += 8;
        /* Last step that can fail; it changes nothing when it does. */
        rv = catalog_restore(f->catalog, (const char *)p, (size_t)(end - p));
        if (rv != 0)
            goto err;
        p = end;
    } else {
        /* A KV-only snapshot: the catalog is empty at its index. */
        static const char empty[] =
            "{\"Index\":0,\"NodesIndex\":0,\"ServicesIndex\":0,"
            "\"ChecksIndex\":0,\"Nodes\":[],\"Names\":[]}";
        if (p != end)
            goto err;
        rv = catalog_restore(f->catalog, empty, sizeof empty - 1);
        if (rv != 0)
            goto err;
    }
    if (p != end)
        goto err;
    kv_set_index(kv, kv_index);
    kv_set_change_cb(kv, on_kv_change, f);
    kv_free(f->kv);
    f->kv = kv;
    if (fsm_index > f->index)
        f->index = fsm_index;
    f->snapshots_restored++;
    /* Everything may have changed: wake every KV watcher. */
    watch_notify(f->kv_watch, "");
    return 0;
err:
    free(key);
    free(session);
    kv_free(kv);
    return rv;
}

/* Loop thread: pin the current entries. */
static int fsm_raft_snapshot(struct raft_fsm *rf, struct raft_buffer *bufs[],
                            unsigned *n_bufs)
{
    struct fsm *f = rf->data;
    if (f->snap_entries != NULL || f->snap_catalog != NULL)
        return RAFT_BUSY;
    size_t cap = kv_count(f->kv) + kv_tombstones(f->kv) + 1;
    f->snap_entries = malloc(cap * sizeof *f->snap_entries);
    f->snap_catalog = catalog_pin(f->catalog);
    *bufs = calloc(1, sizeof **bufs);
    if (f->snap_entries == NULL || f->snap_catalog == NULL || *bufs == NULL) {
        free(f->snap_entries);
        catalog_pin_free(f->snap_catalog);
        free(*bufs);
        f->snap_entries = NULL;
        f->snap_catalog = NULL;
        *bufs = NULL;
        return RAFT_NOMEM;
    }
    size_t n = 0;
    for (const struct kv_entry *e = kv_seek(f->kv, ""); e && n < cap;
         e = kv_next(f->kv, e))
        f->snap_entries[n++] = kv_entry_ref(e);
    f->snap_n = n;
    f->snap_kv_index = kv_index(f->kv);
    f->snap_index = f->index;
    *n_bufs = 1;
    return 0;
}

/* Thread pool: serialise the pinned, immutable entries and catalog records.
 * Reads nothing the loop writes: entries and records are immutable and
 * refcounts are only touched by the loop in snapshot/finalize. */
static int fsm_raft_snapshot_async(struct raft_fsm *rf,
                                  struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct fsm *f = rf->data;
    void *buf;
    size_t len;
    (void)n_bufs;
    int rv = fsm_encode_snapshot(f->snap_entries, f->snap_n, f->snap_kv_index,
                                 f->snap_index, f->snap_catalog, &buf, &len);
    if (rv != 0)
        return RAFT_NOMEM;
    (*bufs)[0].base = buf;
    (*bufs)[0].len = len;
    return 0;
}

/* Loop thread: release everything snapshot/snapshot_async made. */
static int fsm_raft_snapshot_finalize(struct raft_fsm *rf,
                                     struct raft_buffer *bufs[],
                                     unsigned *n_bufs)
{
    struct fsm *f = rf->data;
    if (*bufs != NULL) {
        for (unsigned i = 0; i < *n_bufs; i++)
            free((*bufs)[i].base);
        free(*bufs);
    }
    *bufs = NULL;
    *n_bufs = 0;
    for (size_t i = 0; i < f->snap_n; i++)
        kv_entry_unref(f->snap_entries[i]);
    free(f->snap_entries);
    f->snap_entries = NULL;
    f->snap_n = 0;
    catalog_pin_free(f->snap_catalog);
    f->snap_catalog = NULL;
    f->snapshots_taken++;
    log_debug("fsm", "snapshot finalized at index %llu",
              (unsigned long long)f->index);
    return 0;
}

static int fsm_raft_restore(struct raft_fsm *rf, struct raft_buffer *buf)
{
    struct fsm *f = rf->data;
    int rv = fsm_restore_buf(f, buf->base, buf->len);
    if (rv != 0) {
        log_error("fsm", "snapshot restore failed: %s", strerror(-rv));
        return RAFT_CORRUPT;
    }
    log_info("fsm",
             "restored snapshot: %zu keys, %zu nodes, %zu services, "
             "%zu checks, index %llu",
             kv_count(f->kv), catalog_count_nodes(f->catalog),
             catalog_count_services(f->catalog),
             catalog_count_checks(f->catalog), (unsigned long long)f->index);
    raft_free(buf->base);
    return 0;
}

int fsm_init(struct fsm *f)
{
    memset(f, 0, sizeof *f);
    f->kv = kv_new();
    f->kv_watch = watch_hub_new();
    f->catalog = catalog_new();
    f->catalog_watch = watch_hub_new();
    if (f->kv == NULL || f->kv_watch == NULL || f->catalog == NULL ||
        f->catalog_watch == NULL) {
        kv_free(f->kv);
        watch_hub_free(f->kv_watch);
        catalog_free(f->catalog);
        watch_hub_free(f->catalog_watch);
        memset(f, 0, sizeof *f);
        return -ENOMEM;
    }
    kv_set_change_cb(f->kv, on_kv_change, f);
    catalog_set_change_cb(f->catalog, on_catalog_change, f);
    f->raft_fsm.version = 3;
    f->raft_fsm.data = f;
    f->raft_fsm.apply = fsm_raft_apply;
    f->raft_fsm.snapshot = fsm_raft_snapshot;
    f->raft_fsm.restore = fsm_raft_restore;
    f->raft_fsm.snapshot_finalize = fsm_raft_snapshot_finalize;
    f->raft_fsm.snapshot_async = fsm_raft_snapshot_async;
    return 0;
}

void fsm_bind_raft(struct fsm *f, struct raft *raft)
{
    f->raft = raft;
}

void fsm_close(struct fsm *f)
{
    result_clear(&f->last);
    for (size_t i = 0; i < f->snap_n; i++)
        kv_entry_unref(f->snap_entries[i]);
    free(f->snap_entries);
    catalog_pin_free(f->snap_catalog);
    kv_free(f->kv);
    watch_hub_free(f->kv_watch);
    catalog_free(f->catalog);
    watch_hub_free(f->catalog_watch);
    memset(f, 0, sizeof *f);
}
