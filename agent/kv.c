/*
 * kv — the key/value table (see kv.h).
 *
 * Memory layout. Every entry is ONE allocation:
 *
 *   | struct kv_node (red-black link, 32 B) | struct kv_entry (72 B)
 *   | key bytes + NUL | value bytes | session + NUL |
 *
 * The tree node is embedded in front of the entry instead of being a second
 * allocation pointing at it: that saves a malloc chunk and a pointer per key
 * (the benchmark compares RSS with etcd at 100k keys) and makes kv_next O(1)
 * amortised (the borrowed entry leads straight to its node). A write
 * allocates a new entry and splices it into the tree in place of the old
 * one (tree_replace: same key, so same position, no rebalancing); the old
 * entry leaves the tree and lives on while someone (a snapshot) holds a
 * reference. Its link fields are then stale and never read again.
 *
 * Only the loop thread touches link fields and refcounts; a snapshot thread
 * only reads the immutable struct kv_entry part, a separate memory location.
 *
 * Transactions keep an undo log of (old entry, new entry) per write, in
 * order. Rolling back walks it backwards and splices each old entry back
 * (or removes the node the txn inserted), then restores the table index, so
 * the table is bit-for-bit what it was. Change notifications are sent once
 * per undo record after the table reached its final state (committed or
 * rolled back), so a watcher never observes a half-applied transaction.
 */
#include "kv.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbuf.h"
#include "rbtree.h"

struct kv_node
{
    RB_ENTRY(kv_node) link;
};

RB_HEAD(kv_tree, kv_node);

struct kv
{
    struct kv_tree tree;
    size_t n_live;
    size_t n_tombstones;
    uint64_t index;
    kv_change_cb change_cb;
    void *change_data;
};

_Static_assert(sizeof(struct kv_node) % _Alignof(struct kv_entry) == 0,
               "entry must be aligned after its node");

static struct kv_entry *kv_node_entry(const struct kv_node *n)
{
    return (struct kv_entry *)(void *)((char *)(uintptr_t)n +
                                       sizeof(struct kv_node));
}

static struct kv_node *kv_entry_node(const struct kv_entry *e)
{
    return (struct kv_node *)(void *)((char *)(uintptr_t)e -
                                      sizeof(struct kv_node));
}

/* Bytewise order, a shorter key before any key it is a prefix of. */
static int kv_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static int kv_node_cmp(struct kv_node *a, struct kv_node *b)
{
    const struct kv_entry *ea = kv_node_entry(a), *eb = kv_node_entry(b);
    return kv_key_cmp(ea->key, ea->key_len, eb->key, eb->key_len);
}

RB_GENERATE_STATIC(kv_tree, kv_node, link, kv_node_cmp)

/* ---- Entries ---- */

static struct kv_entry *kv_entry_alloc(const char *key, size_t key_len,
                                       const uint8_t *value, size_t value_len,
                                       const char *session)
{
    size_t slen = session != NULL ? strlen(session) : 0;
    size_t size = sizeof(struct kv_node) + sizeof(struct kv_entry) +
                  key_len + 1 + value_len + (session != NULL ? slen + 1 : 0);
    struct kv_node *n = malloc(size);
    if (n == NULL)
        return NULL;
    memset(n, 0, sizeof *n);
    struct kv_entry *e = kv_node_entry(n);
    char *p = e->key;
    memset(e, 0, sizeof *e);
    e->refs = 1;
    e->key_len = key_len;
    memcpy(p, key, key_len);
    p[key_len] = '\0';
    p += key_len + 1;
    if (value_len > 0) {
        memcpy(p, value, value_len);
        e->value = (const uint8_t *)p;
        e->value_len = value_len;
        p += value_len;
    }
    if (session != NULL) {
        memcpy(p, session, slen + 1);
        e->session = p;
    }
    return e;
}

struct kv_entry *kv_entry_ref(const struct kv_entry *e)
{
    struct kv_entry *m = (struct kv_entry *)(uintptr_t)e;
    if (m != NULL)
        m->refs++;
    return m;
}

void kv_entry_unref(struct kv_entry *e)
{
    if (e == NULL)
        return;
    assert(e->refs > 0);
    if (--e->refs == 0)
        free(kv_entry_node(e));
}

/* ---- Table ---- */

struct kv *kv_new(void)
{
    struct kv *kv = calloc(1, sizeof *kv);
    if (kv == NULL)
        return NULL;
    RB_INIT(&kv->tree);
    return kv;
}

void kv_free(struct kv *kv)
{
    if (kv == NULL)
        return;
    /* Post-order teardown: RB_NEXT would climb through parents already
     * freed. Detach each leaf from its parent, drop the tree's reference. */
    struct kv_node *n = RB_ROOT(&kv->tree);
    while (n != NULL) {
        if (RB_LEFT(n, link) != NULL) {
            n = RB_LEFT(n, link);
            continue;
        }
        if (RB_RIGHT(n, link) != NULL) {
            n = RB_RIGHT(n, link);
            continue;
        }
        struct kv_node *p = RB_PARENT(n, link);
        if (p != NULL) {
            if (RB_LEFT(p, link) == n)
                RB_LEFT(p, link) = NULL;
            else
                RB_RIGHT(p, link) = NULL;
        }
        kv_entry_unref(kv_node_entry(n));
        n = p;
    }
    free(kv);
}

size_t kv_count(const struct kv *kv)
{
    return kv->n_live;
}

size_t kv_tombstones(const struct kv *kv)
{
    return kv->n_tombstones;
}

uint64_t kv_index(const struct kv *kv)
{
    return kv->index;
}

void kv_set_index(struct kv *kv, uint64_t index)
{
    kv->index = index;
}

void kv_set_change_cb(struct kv *kv, kv_change_cb cb, void *data)
{
    kv->change_cb = cb;
    kv->change_data = data;
}

static void kv_notify(struct kv *kv, const char *key)
{
    if (kv->change_cb != NULL)
        kv->change_cb(kv->change_data, key);
}

static void kv_bump_index(struct kv *kv, uint64_t index)
{
    if (index > kv->index)
        kv->index = index;
}

/* Adds (d = 1) or removes (d = -1) `e` from the live/tombstone counters. */
static void kv_account(struct kv *kv, const struct kv_entry *e, int d)
{
    size_t *c = e->deleted ? &kv->n_tombstones : &kv->n_live;
    if (d > 0)
        (*c)++;
    else
        (*c)--;
}

/* Entry (live or tombstone) with exactly this key, or NULL. */
static struct kv_entry *kv_lookup(const struct kv *kv, const char *key,
                                  size_t key_len)
{
    struct kv_node *n = RB_ROOT(&kv->tree);
    while (n != NULL) {
        const struct kv_entry *e = kv_node_entry(n);
        int c = kv_key_cmp(key, key_len, e->key, e->key_len);
        if (c == 0)
            return kv_node_entry(n);
        n = c < 0 ? RB_LEFT(n, link) : RB_RIGHT(n, link);
    }
    return NULL;
}

/* First node whose key is >= key, or NULL. */
static struct kv_node *kv_lower_bound(const struct kv *kv, const char *key,
                                      size_t key_len)
{
    struct kv_node *n = RB_ROOT(&kv->tree), *best = NULL;
    while (n != NULL) {
        const struct kv_entry *e = kv_node_entry(n);
        int c = kv_key_cmp(key, key_len, e->key, e->key_len);
        if (c == 0)
            return n;
        if (c < 0) {
            best = n;
            n = RB_LEFT(n, link);
        } else {
            n = RB_RIGHT(n, link);
        }
    }
    return best;
}

static bool kv_has_prefix(const struct kv_entry *e, const char *prefix,
                          size_t plen)
{
    return e->key_len >= plen && memcmp(e->key, prefix, plen) == 0;
}

const struct kv_entry *kv_get(const struct kv *kv, const char *key)
{
    const struct kv_entry *e = kv_lookup(kv, key, strlen(key));
    return e != NULL && !e->deleted ? e : NULL;
}

const struct kv_entry *kv_seek(const struct kv *kv, const char *key)
{
    struct kv_node *n = kv_lower_bound(kv, key, strlen(key));
    return n != NULL ? kv_node_entry(n) : NULL;
}

const struct kv_entry *kv_next(const struct kv *kv, const struct kv_entry *e)
{
    (void)kv;
    struct kv_node *n = RB_NEXT(kv_tree, &kv->tree, kv_entry_node(e));
    return n != NULL ? kv_node_entry(n) : NULL;
}

uint64_t kv_prefix_index(const struct kv *kv, const char *prefix)
{
    size_t plen = strlen(prefix);
    uint64_t max = 0;
    for (const struct kv_entry *e = kv_seek(kv, prefix);
         e != NULL && kv_has_prefix(e, prefix, plen); e = kv_next(kv, e)) {
        if (e->modify_index > max)
            max = e->modify_index;
    }
    return max;
}

/* Puts `n` in the tree exactly where `o` is (both have the same key). `o`
 * leaves the tree; its link fields are left stale. */
static void kv_tree_replace(struct kv *kv, struct kv_node *o,
                            struct kv_node *n)
{
    struct kv_node *p = RB_PARENT(o, link);
    n->link = o->link;
    if (p == NULL)
        RB_ROOT(&kv->tree) = n;
    else if (RB_LEFT(p, link) == o)
        RB_LEFT(p, link) = n;
    else
        RB_RIGHT(p, link) = n;
    if (RB_LEFT(o, link) != NULL)
        RB_PARENT(RB_LEFT(o, link), link) = n;
    if (RB_RIGHT(o, link) != NULL)
        RB_PARENT(RB_RIGHT(o, link), link) = n;
}

/* Installs `ne` (taken) in place of `old` (NULL when the key is new). The
 * tree's reference on `old` is handed to the caller. */
static void kv_install(struct kv *kv, struct kv_entry *old,
                       struct kv_entry *ne)
{
    if (old != NULL) {
        kv_tree_replace(kv, kv_entry_node(old), kv_entry_node(ne));
        kv_account(kv, old, -1);
    } else {
        struct kv_node *dup =
            RB_INSERT(kv_tree, &kv->tree, kv_entry_node(ne));
        assert(dup == NULL);
        (void)dup;
    }
    kv_account(kv, ne, +1);
}

int kv_restore_entry(struct kv *kv, const char *key, const uint8_t *value,
                     size_t value_len, uint64_t flags, uint64_t create_index,
                     uint64_t modify_index, uint64_t lock_index,
                     const char *session, bool deleted)
{
    size_t key_len = strlen(key);
    if (deleted)
        value_len = 0;
    struct kv_entry *e =
        kv_entry_alloc(key, key_len, value, value_len, session);
    if (e == NULL)
        return -ENOMEM;
    e->deleted = deleted;
    e->flags = flags;
    e->create_index = create_index;
    e->modify_index = modify_index;
    e->lock_index = lock_index;
    struct kv_entry *old = kv_lookup(kv, key, key_len);
    kv_install(kv, old, e);
    kv_notify(kv, e->key);
    kv_entry_unref(old);
    return 0;
}

size_t kv_reap(struct kv *kv, uint64_t upto, uint64_t index)
{
    size_t removed = 0;
    if (kv->n_tombstones == 0)
        return 0;
    struct kv_node *n = RB_MIN(kv_tree, &kv->tree), *next;
    for (; n != NULL; n = next) {
        /* The successor stays in the tree, so it is still a valid place to
         * continue from after n is removed. */
        next = RB_NEXT(kv_tree, &kv->tree, n);
        struct kv_entry *e = kv_node_entry(n);
        if (!e->deleted || e->modify_index > upto)
            continue;
        RB_REMOVE(kv_tree, &kv->tree, n);
        kv_account(kv, e, -1);
        removed++;
        kv_notify(kv, e->key);
        kv_entry_unref(e);
    }
    if (removed > 0)
        kv_bump_index(kv, index);
    return removed;
}

/* ---- Verbs ---- */

static const char *const kv_verb_names[] = {
    [KV_SET] = "set",
    [KV_CAS] = "cas",
    [KV_LOCK] = "lock",
    [KV_UNLOCK] = "unlock",
    [KV_GET] = "get",
    [KV_GET_OR_EMPTY] = "get-or-empty",
    [KV_GET_TREE] = "get-tree",
    [KV_CHECK_INDEX] = "check-index",
    [KV_CHECK_SESSION] = "check-session",
    [KV_CHECK_NOT_EXISTS] = "check-not-exists",
    [KV_DELETE] = "delete",
    [KV_DELETE_TREE] = "delete-tree",
    [KV_DELETE_CAS] = "delete-cas",
};

enum kv_verb kv_verb_parse(const char *s)
{
    if (s == NULL)
        return 0;
    for (int v = 1; v <= KV_VERB_MAX; v++) {
        if (strcmp(s, kv_verb_names[v]) == 0)
            return (enum kv_verb)v;
    }
    return 0;
}

const char *kv_verb_name(enum kv_verb v)
{
    if ((int)v < 1 || (int)v > KV_VERB_MAX)
        return NULL;
    return kv_verb_names[v];
}

/* ---- Error messages ---- */

/* Decodes one UTF-8 sequence like Go's utf8.DecodeRuneInString: returns the
 * code point and sets *w, or returns -1 with *w = 1 for an invalid byte. */
static long kv_utf8_decode(const unsigned char *s, size_t n, size_t *w)
{
    unsigned char c = s[0];
    long r;
    size_t len;
    *w = 1;
    if (c < 0x80)
        return c;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        r = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        r = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        r = c & 0x07;
    } else {
        return -1;
    }
    if (n < len)
        return -1;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        r = (r << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && r < 0x800) || (len == 4 && r < 0x10000) ||
        r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff))
        return -1;
    *w = len;
    return r;
}

/* Approximates Go's unicode.IsPrint for non-ASCII code points: everything
 * except the common non-graphic ranges (C1 controls, spaces other than
 * U+0020, format characters, separators, private use, non-characters). */
static bool kv_rune_printable(long r)
{
    if (r < 0xa1)
        return false; /* caller handles ASCII; C1 controls and NBSP */
    return !(r == 0xad || r == 0x1680 || (r >= 0x2000 && r <= 0x200f) ||
             (r >= 0x2028 && r <= 0x202f) || (r >= 0x205f && r <= 0x2064) ||
             r == 0x3000 || r == 0xfeff || (r >= 0xe000 && r <= 0xf8ff) ||
             (r >= 0xfff9 && r <= 0xfffb) || (r & 0xfffe) == 0xfffe);
}

/* Appends `s` quoted the way Go's %q (strconv.Quote) does. */
static void kv_sb_quote(struct sbuf *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)(s != NULL ? s : "");
    size_t n = strlen((const char *)u);
    sbuf_put(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        size_t w;
        long r = kv_utf8_decode(u + i, n - i, &w);
        if (r < 0) {
            sbuf_printf(b, "\\x%02x", u[i]);
        } else if (r == '"' || r == '\\') {
            char esc[2] = {'\\', (char)r};
            sbuf_put(b, esc, 2);
        } else if (r >= 0x20 && r < 0x7f) {
            sbuf_put(b, (const char *)u + i, 1);
        } else if (r >= 0x80 && kv_rune_printable(r)) {
            sbuf_put(b, (const char *)u + i, w);
        } else {
            switch (r) {
            case '\a': sbuf_put(b, "\\a", 2); break;
            case '\b': sbuf_put(b, "\\b", 2); break;
            case '\f': sbuf_put(b, "\\f", 2); break;
            case '\n': sbuf_put(b, "\\n", 2); break;
            case '\r': sbuf_put(b, "\\r", 2); break;
            case '\t': sbuf_put(b, "\\t", 2); break;
            case '\v': sbuf_put(b, "\\v", 2); break;
            default:
                if (r < 0x20 || r == 0x7f)
                    sbuf_printf(b, "\\x%02lx", r);
                else if (r < 0x10000)
                    sbuf_printf(b, "\\u%04lx", r);
                else
                    sbuf_printf(b, "\\U%08lx", r);
            }
        }
        i += w;
    }
    sbuf_put(b, "\"", 1);
}

/* Builds an error message from `fmt`, where %q takes a const char * (quoted
 * as Go's %q), %u a uint64_t, and %% is a percent sign. Returns a new string
 * or NULL on out-of-memory. */
static char *kv_errf(const char *fmt, ...)
{
    struct sbuf b = {0};
    va_list ap;
    va_start(ap, fmt);
    for (const char *f = fmt; *f != '\0'; f++) {
        if (*f != '%') {
            sbuf_put(&b, f, 1);
            continue;
        }
        f++;
        if (*f == 'q')
            kv_sb_quote(&b, va_arg(ap, const char *));
        else if (*f == 'u')
            sbuf_printf(&b, "%llu", (unsigned long long)va_arg(ap, uint64_t));
        else
            sbuf_put(&b, "%", 1);
    }
    va_end(ap);
    sbuf_put(&b, "", 0);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ---- Transactions ---- */

struct kv_undo
{
    struct kv_entry *old; /* referenced; NULL when the txn created the key */
    struct kv_entry *ne;  /* borrowed from the tree while committed */
};

struct kv_txn_state
{
    struct kv *kv;
    uint64_t index;
    struct kv_undo *undo;
    size_t n_undo, cap_undo;
    struct kv_txn_result *res;
    size_t cap_results;
    size_t op; /* index of the op running */
};

static int kv_txn_add_result(struct kv_txn_state *t, const struct kv_entry *e)
{
    struct kv_txn_result *r = t->res;
    if (r->n_results == t->cap_results) {
        size_t cap = t->cap_results ? t->cap_results * 2 : 8;
        struct kv_entry **p = realloc(r->results, cap * sizeof *p);
        if (p == NULL)
            return -ENOMEM;
        r->results = p;
        size_t *q = realloc(r->result_ops, cap * sizeof *q);
        if (q == NULL)
            return -ENOMEM;
        r->result_ops = q;
        t->cap_results = cap;
    }
    r->result_ops[r->n_results] = t->op;
    r->results[r->n_results++] = kv_entry_ref(e);
    return 0;
}

/* Replaces `old` (the current entry for the key, or NULL) with `ne` (taken),
 * recording the change for rollback. */
static int kv_txn_write(struct kv_txn_state *t, struct kv_entry *old,
                        struct kv_entry *ne)
{
    if (t->n_undo == t->cap_undo) {
        size_t cap = t->cap_undo ? t->cap_undo * 2 : 8;
        struct kv_undo *p = realloc(t->undo, cap * sizeof *p);
        if (p == NULL) {
            kv_entry_unref(ne);
            return -ENOMEM;
        }
        t->undo = p;
        t->cap_undo = cap;
    }
    kv_install(t->kv, old, ne);
    t->undo[t->n_undo++] = (struct kv_undo){.old = old, .ne = ne};
    kv_bump_index(t->kv, t->index);
    return 0;
}

/* set / cas: writes op's value and flags, keeping create_index, lock_index
 * and session of the live entry (Consul's kvsSetTxn with updateSession
 * false); a tombstone carries nothing over. */
static int kv_txn_set(struct kv_txn_state *t, const struct kv_op *op,
                      struct kv_entry *cur, size_t key_len)
{
    struct kv_entry *live = cur != NULL && !cur->deleted ? cur : NULL;
    struct kv_entry *ne =
        kv_entry_alloc(op->key, key_len, op->value, op->value_len,
                       live != NULL ? live->session : NULL);
    if (ne == NULL)
        return -ENOMEM;
    ne->flags = op->flags;
    ne->create_index = live != NULL ? live->create_index : t->index;
    ne->modify_index = t->index;
    ne->lock_index = live != NULL ? live->lock_index : 0;
    int rv = kv_txn_write(t, cur, ne);
    if (rv != 0)
        return rv;
    return kv_txn_add_result(t, ne);
}

/* Turns the live entry `cur` into a tombstone at the txn index. */
static int kv_txn_tombstone(struct kv_txn_state *t, struct kv_entry *cur)
{
    struct kv_entry *ne = kv_entry_alloc(cur->key, cur->key_len, NULL, 0, NULL);
    if (ne == NULL)
        return -ENOMEM;
    ne->deleted = true;
    ne->flags = cur->flags;
    ne->create_index = cur->create_index;
    ne->modify_index = t->index;
    ne->lock_index = cur->lock_index;
    return kv_txn_write(t, cur, ne);
}

/* Runs one op. Returns 0, -ENOMEM, or 1 with *what set to a new message. */
static int kv_txn_op(struct kv_txn_state *t, const struct kv_op *op,
                     char **what)
{
    const char *key = op->key != NULL ? op->key : "";
    size_t key_len = strlen(key);
    struct kv_entry *cur = kv_lookup(t->kv, key, key_len);
    struct kv_entry *live = cur != NULL && !cur->deleted ? cur : NULL;
    struct kv_op o = *op;
    o.key = key;

    switch (op->verb) {
    case KV_SET:
        return kv_txn_set(t, &o, cur, key_len);

    case KV_CAS:
        /* Index 0: create only if absent; N: only if live at N. */
        if (op->index == 0 ? live != NULL
                           : live == NULL || live->modify_index != op->index) {
            *what = kv_errf("failed to set key %q, index is stale", key);
            break;
        }
        return kv_txn_set(t, &o, cur, key_len);

    case KV_LOCK:
    case KV_UNLOCK:
        *what = kv_errf("sessions not supported yet");
        break;

    case KV_GET:
        if (live == NULL) {
            *what = kv_errf("key %q doesn't exist", key);
            break;
        }
        return kv_txn_add_result(t, live);

    case KV_GET_OR_EMPTY:
        /* NULL slot for an absent key (see struct kv_txn_result). */
        return kv_txn_add_result(t, live);

    case KV_GET_TREE:
        for (const struct kv_entry *e = kv_seek(t->kv, key);
             e != NULL && kv_has_prefix(e, key, key_len);
             e = kv_next(t->kv, e)) {
            if (e->deleted)
                continue;
            int rv = kv_txn_add_result(t, e);
            if (rv != 0)
                return rv;
        }
        return 0;

    case KV_CHECK_INDEX:
        if (live == NULL) {
            *what = kv_errf("failed to check index, key %q doesn't exist", key);
            break;
        }
        if (live->modify_index != op->index) {
            *what = kv_errf("failed index check for key %q, current modify "
                            "index %u != %u",
                            key, live->modify_index, op->index);
            break;
        }
        return kv_txn_add_result(t, live);

    case KV_CHECK_SESSION: {
        if (live == NULL) {
            *what =
                kv_errf("failed to check session, key %q doesn't exist", key);
            break;
        }
        const char *have = live->session != NULL ? live->session : "";
        const char *want = op->session != NULL ? op->session : "";
        if (strcmp(have, want) != 0) {
            *what = kv_errf("failed session check for key %q, current "
                            "session %q != %q",
                            key, have, want);
            break;
        }
        return kv_txn_add_result(t, live);
    }

    case KV_CHECK_NOT_EXISTS:
        if (live != NULL) {
            *what = kv_errf("key %q exists", key);
            break;
        }
        return 0;

    case KV_DELETE:
        /* Absent: nothing changes, no tombstone, table index stays. */
        return live != NULL ? kv_txn_tombstone(t, live) : 0;

    case KV_DELETE_CAS:
        if (live == NULL)
            return 0; /* already gone: success */
        if (live->modify_index != op->index) {
            *what = kv_errf("failed to delete key %q, index is stale", key);
            break;
        }
        return kv_txn_tombstone(t, live);

    case KV_DELETE_TREE: {
        struct kv_entry *e = (struct kv_entry *)(uintptr_t)kv_seek(t->kv, key);
        while (e != NULL && kv_has_prefix(e, key, key_len)) {
            if (!e->deleted) {
                int rv = kv_txn_tombstone(t, e);
                if (rv != 0)
                    return rv;
                /* Continue from the tombstone now in e's place: e's own
                 * links are stale once it left the tree. */
                e = t->undo[t->n_undo - 1].ne;
            }
            e = (struct kv_entry *)(uintptr_t)kv_next(t->kv, e);
        }
        return 0;
    }

    default:
        *what = kv_errf("unknown KV verb %u", (uint64_t)op->verb);
        break;
    }
    return *what != NULL ? 1 : -ENOMEM;
}

void kv_txn_result_clear(struct kv_txn_result *res)
{
    if (res == NULL)
        return;
    for (size_t i = 0; i < res->n_results; i++)
        kv_entry_unref(res->results[i]);
    free(res->results);
    free(res->result_ops);
    for (size_t i = 0; i < res->n_errors; i++)
        free(res->errors[i].what);
    free(res->errors);
    memset(res, 0, sizeof *res);
}

int kv_txn(struct kv *kv, const struct kv_op *ops, size_t n, uint64_t index,
           struct kv_txn_result *res)
{
    struct kv_txn_state t = {.kv = kv, .index = index, .res = res};
    uint64_t saved_index = kv->index;
    char *what = NULL;
    size_t failed_op = 0;
    int rv = 0;

    memset(res, 0, sizeof *res);
    for (size_t i = 0; i < n && rv == 0; i++) {
        t.op = i;
        rv = kv_txn_op(&t, &ops[i], &what);
        failed_op = i;
    }

    if (rv == 0) {
        for (size_t i = 0; i < t.n_undo; i++)
            kv_notify(kv, t.undo[i].ne->key);
        for (size_t i = 0; i < t.n_undo; i++)
            kv_entry_unref(t.undo[i].old);
        free(t.undo);
        return 0;
    }

    /* Roll back in reverse: each record's new entry is the current one for
     * its key once the later records are undone. */
    for (size_t i = t.n_undo; i-- > 0;) {
        struct kv_undo *u = &t.undo[i];
        if (u->old != NULL) {
            kv_tree_replace(kv, kv_entry_node(u->ne), kv_entry_node(u->old));
            kv_account(kv, u->old, +1);
        } else {
            RB_REMOVE(kv_tree, &kv->tree, kv_entry_node(u->ne));
        }
        kv_account(kv, u->ne, -1);
    }
    kv->index = saved_index;
    for (size_t i = 0; i < t.n_undo; i++)
        kv_notify(kv, t.undo[i].ne->key);
    for (size_t i = 0; i < t.n_undo; i++)
        kv_entry_unref(t.undo[i].ne);
    free(t.undo);

    kv_txn_result_clear(res);
    if (rv == 1) {
        res->errors = malloc(sizeof *res->errors);
        if (res->errors == NULL) {
            free(what);
            return -ENOMEM;
        }
        res->errors[0] = (struct kv_txn_error){.op_index = failed_op,
                                               .what = what};
        res->n_errors = 1;
        return 1;
    }
    free(what);
    return rv;
}
