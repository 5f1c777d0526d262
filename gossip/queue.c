/*
 * queue.c — the transmit-limited broadcast queue (spec 1.6).
 *
 * Every state change and user event is encoded once as a part and queued.
 * Each outgoing packet is filled from the queue: fewest transmits first,
 * then larger, then newer; a message is dropped after `limit` transmits
 * (retransmit_mult x ceil(log10(N+1)), computed by the caller). A new
 * message about node X replaces a queued one about X ("named" broadcasts,
 * found through a small hash index so a burst of N joins costs O(N)).
 *
 * Membership and user messages have separate budgets (spec 7, memberlist
 * #299): when both are queued, membership may take at most
 * (100 - user_pct)% of the room first, user messages then take what they
 * need, and membership gets the rest.
 *
 * Each class is a binary heap in priority order; a fill pops at most
 * FILL_WINDOW items per class (a datagram holds a few dozen parts) and
 * pushes them back with their new transmit counts, so a fill costs
 * O(parts x log n) however long the queue is (a burst of N joins).
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FILL_WINDOW 64

void gossip__bq_init(struct bqueue *q,
                     size_t max_items,
                     void (*finished)(void *arg, uint64_t notify),
                     void *arg)
{
    memset(q, 0, sizeof(*q));
    q->max_items = max_items ? max_items : 4096;
    q->finished = finished;
    q->arg = arg;
}

void gossip__bq_free(struct bqueue *q)
{
    for (int c = 0; c < 2; c++) {
        for (size_t i = 0; i < q->hn[c]; i++) {
            free(q->heap[c][i]->buf);
            free(q->heap[c][i]);
        }
        free(q->heap[c]);
    }
    free(q->keys);
    memset(q, 0, sizeof(*q));
}

size_t gossip__bq_len(const struct bqueue *q)
{
    return q->hn[0] + q->hn[1];
}

uint32_t gossip__bq_min_transmits(const struct bqueue *q)
{
    uint32_t m = UINT32_MAX;
    for (int c = 0; c < 2; c++)
        if (q->hn[c] && q->heap[c][0]->transmits < m)
            m = q->heap[c][0]->transmits;
    return m;
}

/* ---- heaps --------------------------------------------------------------- */

/* Priority order: fewer transmits, then larger, then newer. */
static bool before(const struct bq_item *x, const struct bq_item *y)
{
    if (x->transmits != y->transmits)
        return x->transmits < y->transmits;
    if (x->len != y->len)
        return x->len > y->len;
    return x->seq > y->seq;
}

static void hswap(struct bq_item **h, size_t a, size_t b)
{
    struct bq_item *t = h[a];
    h[a] = h[b];
    h[b] = t;
    h[a]->idx = a;
    h[b]->idx = b;
}

static void hup(struct bq_item **h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(h[i], h[p]))
            break;
        hswap(h, i, p);
        i = p;
    }
}

static void hdown(struct bq_item **h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && before(h[l], h[m]))
            m = l;
        if (r < n && before(h[r], h[m]))
            m = r;
        if (m == i)
            return;
        hswap(h, i, m);
        i = m;
    }
}

static int hpush(struct bqueue *q, struct bq_item *it)
{
    int c = it->cls;
    if (q->hn[c] == q->hcap[c]) {
        size_t nc = q->hcap[c] ? q->hcap[c] * 2 : 16;
        struct bq_item **nh = realloc(q->heap[c], nc * sizeof(*nh));
        if (!nh)
            return -ENOMEM;
        q->heap[c] = nh;
        q->hcap[c] = nc;
    }
    it->idx = q->hn[c];
    q->heap[c][q->hn[c]++] = it;
    hup(q->heap[c], it->idx);
    return 0;
}

static void hremove(struct bqueue *q, struct bq_item *it)
{
    int c = it->cls;
    struct bq_item **h = q->heap[c];
    size_t i = it->idx, last = --q->hn[c];
    if (i != last) {
        h[i] = h[last];
        h[i]->idx = i;
        hdown(h, q->hn[c], i);
        hup(h, i);
    }
}

static struct bq_item *hpop(struct bqueue *q, int c)
{
    struct bq_item *top;
    if (!q->hn[c])
        return NULL;
    top = q->heap[c][0];
    hremove(q, top);
    return top;
}

/* ---- key index ----------------------------------------------------------- */

static size_t key_hash(uint8_t cls, const struct gossip_id *id)
{
    uint64_t a, b;
    memcpy(&a, id->b, 8);
    memcpy(&b, id->b + 8, 8);
    a ^= b * 0x9E3779B97F4A7C15ull ^ cls;
    a ^= a >> 31;
    a *= 0xBF58476D1CE4E5B9ull;
    a ^= a >> 29;
    return (size_t)a;
}

static bool key_match(const struct bq_item *it,
                      uint8_t cls,
                      const struct gossip_id *id)
{
    return it->cls == cls && gossip__id_eq(&it->key, id);
}

static struct bq_item **key_slot(struct bqueue *q,
                                 uint8_t cls,
                                 const struct gossip_id *id)
{
    size_t mask = q->kcap - 1;
    for (size_t i = key_hash(cls, id) & mask;; i = (i + 1) & mask)
        if (!q->keys[i] || key_match(q->keys[i], cls, id))
            return &q->keys[i];
}

static void key_del(struct bqueue *q, struct bq_item *it)
{
    size_t mask = q->kcap - 1, i, j;
    struct bq_item **s = key_slot(q, it->cls, &it->key);
    if (*s != it)
        return;
    i = (size_t)(s - q->keys);
    q->keys[i] = NULL;
    q->nkeys--;
    for (j = (i + 1) & mask; q->keys[j]; j = (j + 1) & mask) {
        size_t k = key_hash(q->keys[j]->cls, &q->keys[j]->key) & mask;
        if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
            q->keys[i] = q->keys[j];
            q->keys[j] = NULL;
            i = j;
        }
    }
}

static int key_grow(struct bqueue *q)
{
    size_t nc;
    struct bq_item **nk;
    if ((q->nkeys + 1) * 2 <= q->kcap)
        return 0;
    nc = q->kcap ? q->kcap * 2 : 64;
    nk = calloc(nc, sizeof(*nk));
    if (!nk)
        return -ENOMEM;
    for (size_t i = 0; i < q->kcap; i++) {
        struct bq_item *it = q->keys[i];
        if (it) {
            size_t j = key_hash(it->cls, &it->key) & (nc - 1);
            while (nk[j])
                j = (j + 1) & (nc - 1);
            nk[j] = it;
        }
    }
    free(q->keys);
    q->keys = nk;
    q->kcap = nc;
    return 0;
}

/* ---- items --------------------------------------------------------------- */

/* Free an item that is in no heap; fire its notification. */
static void item_done(struct bqueue *q, struct bq_item *it)
{
    uint64_t notify = it->notify;
    if (it->named)
        key_del(q, it);
    free(it->buf);
    free(it);
    if (notify && q->finished)
        q->finished(q->arg, notify);
}

static void bq_remove(struct bqueue *q, struct bq_item *it)
{
    hremove(q, it);
    item_done(q, it);
}

int gossip__bq_push(struct bqueue *q,
                    uint8_t cls,
                    const struct gossip_id *key,
                    const uint8_t *part,
                    size_t len,
                    uint64_t notify)
{
    struct bq_item *it;

    if (len > 0xffff || cls > BQ_USER)
        return GOSSIP_E_OVERSIZE;
    if (key && key_grow(q) != 0)
        return -ENOMEM;
    if (key) {
        struct bq_item **s = key_slot(q, cls, key);
        if (*s)
            bq_remove(q, *s); /* at most one per key is ever queued */
    }
    if (gossip__bq_len(q) >= q->max_items) {
        /* Drop the item closest to its end of life: most transmits, then
         * oldest. */
        struct bq_item *worst = NULL;
        for (int c = 0; c < 2; c++)
            for (size_t i = 0; i < q->hn[c]; i++) {
                struct bq_item *a = q->heap[c][i];
                if (!worst || a->transmits > worst->transmits ||
                    (a->transmits == worst->transmits && a->seq < worst->seq))
                    worst = a;
            }
        q->dropped++;
        bq_remove(q, worst);
    }
    it = calloc(1, sizeof(*it));
    if (!it)
        return -ENOMEM;
    it->buf = malloc(len ? len : 1);
    if (!it->buf) {
        free(it);
        return -ENOMEM;
    }
    memcpy(it->buf, part, len);
    it->len = (uint16_t)len;
    it->cls = cls;
    it->seq = ++q->next_seq;
    it->notify = notify;
    if (hpush(q, it) != 0) {
        free(it->buf);
        free(it);
        return -ENOMEM;
    }
    if (key) {
        it->named = true;
        it->key = *key;
        *key_slot(q, cls, key) = it;
        q->nkeys++;
    }
    return 0;
}

/* ---- fill ---------------------------------------------------------------- */

struct popped
{
    struct bq_item *it;
    bool taken;
};

size_t gossip__bq_fill(struct bqueue *q,
                       uint32_t limit,
                       uint32_t user_pct,
                       uint8_t *dst,
                       size_t room,
                       unsigned *nparts,
                       unsigned max_parts)
{
    struct popped pop[2][FILL_WINDOW];
    size_t np[2] = {0, 0}, used = 0, member_cap = room;

    if (gossip__bq_len(q) == 0 || room < PROTO_PART_HDR || *nparts >= max_parts)
        return 0;
    if (q->hn[BQ_USER] && q->hn[BQ_MEMBER])
        member_cap = room * (100 - user_pct) / 100;

    /* pass 0: membership within its cap; 1: user; 2: membership again */
    for (int pass = 0; pass < 3; pass++) {
        int c = pass == 1 ? BQ_USER : BQ_MEMBER;
        size_t cap = pass == 0 ? member_cap : room;
        /* first the ones this class already popped and skipped */
        for (size_t k = 0; k < np[c] && *nparts < max_parts; k++) {
            struct popped *p = &pop[c][k];
            if (p->taken || used + p->it->len > cap)
                continue;
            memcpy(dst + used, p->it->buf, p->it->len);
            used += p->it->len;
            p->taken = true;
            (*nparts)++;
        }
        while (np[c] < FILL_WINDOW && *nparts < max_parts &&
               cap >= used + PROTO_PART_HDR + 8) {
            struct bq_item *it = hpop(q, c);
            struct popped *p;
            if (!it)
                break;
            p = &pop[c][np[c]++];
            p->it = it;
            p->taken = false;
            if (used + it->len > cap)
                continue;
            memcpy(dst + used, it->buf, it->len);
            used += it->len;
            p->taken = true;
            (*nparts)++;
        }
    }
    /* Push back what was popped, counting transmits; drop at the limit.
     * Removal may run finished(), which must not touch the queue. */
    for (int c = 0; c < 2; c++)
        for (size_t k = 0; k < np[c]; k++) {
            struct bq_item *it = pop[c][k].it;
            if (pop[c][k].taken && ++it->transmits >= limit) {
                item_done(q, it);
                continue;
            }
            if (hpush(q, it) != 0) /* cannot fail: capacity is there */
                item_done(q, it);
        }
    return used;
}
