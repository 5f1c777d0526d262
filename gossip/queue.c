/*
 * queue.c — the transmit-limited broadcast queue (spec 1.6).
 *
 * Every state change and user event is encoded once as a part and queued.
 * Each outgoing packet is filled from the queue: fewest transmits first,
 * then larger, then newer; a message is dropped after `limit` transmits
 * (retransmit_mult x ceil(log10(N+1)), computed by the caller). A new
 * message about node X replaces a queued one about X ("named" broadcasts).
 *
 * Membership and user messages have separate budgets (spec 7, memberlist
 * #299): when both are queued, membership may take at most
 * (100 - user_pct)% of the room first, user messages then take what they
 * need, and membership gets the rest.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void gossip__bq_init(struct bqueue *q, size_t max_items,
                     void (*finished)(void *arg, uint64_t notify), void *arg)
{
    memset(q, 0, sizeof(*q));
    q->max_items = max_items ? max_items : 4096;
    q->finished = finished;
    q->arg = arg;
}

void gossip__bq_free(struct bqueue *q)
{
    for (size_t i = 0; i < q->n; i++)
        free(q->items[i].buf);
    free(q->items);
    free(q->order);
    memset(q, 0, sizeof(*q));
}

size_t gossip__bq_len(const struct bqueue *q)
{
    return q->n;
}

/* Remove item i (order not preserved); fire its notification. */
static void bq_remove(struct bqueue *q, size_t i)
{
    uint64_t notify = q->items[i].notify;
    free(q->items[i].buf);
    q->items[i] = q->items[q->n - 1];
    q->n--;
    if (notify && q->finished)
        q->finished(q->arg, notify);
}

int gossip__bq_push(struct bqueue *q, uint8_t cls, const struct gossip_id *key,
                    const uint8_t *part, size_t len, uint64_t notify)
{
    struct bq_item *it;
    uint8_t *copy;

    if (len > 0xffff)
        return GOSSIP_E_OVERSIZE;
    copy = malloc(len ? len : 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, part, len);
    if (key) {
        for (size_t i = 0; i < q->n; i++) {
            if (q->items[i].named && q->items[i].cls == cls &&
                gossip__id_eq(&q->items[i].key, key)) {
                bq_remove(q, i);
                break; /* at most one per key is ever queued */
            }
        }
    }
    if (q->n >= q->max_items) {
        /* Drop the item closest to its end of life: most transmits, then
         * oldest. */
        size_t worst = 0;
        for (size_t i = 1; i < q->n; i++) {
            const struct bq_item *a = &q->items[i], *b = &q->items[worst];
            if (a->transmits > b->transmits ||
                (a->transmits == b->transmits && a->seq < b->seq))
                worst = i;
        }
        q->dropped++;
        bq_remove(q, worst);
    }
    if (q->n == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 16;
        struct bq_item *ni = realloc(q->items, ncap * sizeof(*ni));
        if (!ni) {
            free(copy);
            return -ENOMEM;
        }
        q->items = ni;
        q->cap = ncap;
    }
    it = &q->items[q->n++];
    memset(it, 0, sizeof(*it));
    it->buf = copy;
    it->len = (uint16_t)len;
    it->cls = cls;
    it->named = key != NULL;
    if (key)
        it->key = *key;
    it->seq = ++q->next_seq;
    it->notify = notify;
    return 0;
}

static int order_cmp(const void *a, const void *b, void *arg)
{
    const struct bqueue *q = arg;
    const struct bq_item *x = &q->items[*(const uint32_t *)a];
    const struct bq_item *y = &q->items[*(const uint32_t *)b];
    if (x->transmits != y->transmits)
        return x->transmits < y->transmits ? -1 : 1;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq > y->seq ? -1 : 1;
    return 0;
}

size_t gossip__bq_fill(struct bqueue *q, uint32_t limit, uint32_t user_pct,
                       uint8_t *dst, size_t room, unsigned *nparts,
                       unsigned max_parts)
{
    size_t used = 0, member_cap = room;
    bool have_user = false, have_member = false;
    uint8_t *taken;
    size_t ntaken = 0;

    if (q->n == 0 || room < PROTO_PART_HDR || *nparts >= max_parts)
        return 0;
    if (q->order_cap < q->n) {
        uint32_t *no = realloc(q->order, q->n * sizeof(*no));
        if (!no)
            return 0;
        q->order = no;
        q->order_cap = q->n;
    }
    for (size_t i = 0; i < q->n; i++) {
        q->order[i] = (uint32_t)i;
        if (q->items[i].cls == BQ_USER)
            have_user = true;
        else
            have_member = true;
    }
    qsort_r(q->order, q->n, sizeof(uint32_t), order_cmp, q);
    if (have_user && have_member)
        member_cap = room * (100 - user_pct) / 100;

    taken = calloc(q->n, 1);
    if (!taken)
        return 0;
    /* pass 0: membership within its cap; 1: user; 2: membership again */
    for (int pass = 0; pass < 3; pass++) {
        uint8_t cls = pass == 1 ? BQ_USER : BQ_MEMBER;
        size_t cap = pass == 0 ? member_cap : room;
        for (size_t k = 0; k < q->n && *nparts < max_parts; k++) {
            uint32_t i = q->order[k];
            struct bq_item *it = &q->items[i];
            if (taken[i] || it->cls != cls)
                continue;
            if (used + it->len > cap)
                continue;
            memcpy(dst + used, it->buf, it->len);
            used += it->len;
            taken[i] = 1;
            ntaken++;
            (*nparts)++;
        }
    }
    /* Count the transmits; drop the items at their limit (from the end so
     * swap-removal does not disturb indexes still to visit). */
    if (ntaken) {
        for (size_t i = q->n; i-- > 0;) {
            if (!taken[i])
                continue;
            q->items[i].transmits++;
            if (q->items[i].transmits >= limit)
                bq_remove(q, i);
        }
    }
    free(taken);
    return used;
}
