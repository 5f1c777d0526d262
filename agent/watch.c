/* watch — see watch.h. Two ordered maps (exact topics, prefix topics), each
 * node holding a doubly-linked list of waiters. */
#include "watch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rbtree.h"

struct watch_node
{
    RB_ENTRY(watch_node) link;
    struct watch_hub *hub;
    bool prefix;
    struct watch_waiter *head;
    char topic[];
};

static int node_cmp(const struct watch_node *a, const struct watch_node *b)
{
    return strcmp(a->topic, b->topic);
}

RB_HEAD(watch_tree, watch_node);
RB_GENERATE_STATIC(watch_tree, watch_node, link, node_cmp)

struct watch_hub
{
    struct watch_tree exact;
    struct watch_tree prefix;
    unsigned long count;
};

struct watch_hub *watch_hub_new(void)
{
    struct watch_hub *hub = calloc(1, sizeof *hub);
    if (hub == NULL)
        return NULL;
    RB_INIT(&hub->exact);
    RB_INIT(&hub->prefix);
    return hub;
}

static void tree_clear(struct watch_tree *t)
{
    struct watch_node *n, *next;
    RB_FOREACH_SAFE(n, watch_tree, t, next)
    {
        for (struct watch_waiter *w = n->head; w != NULL; w = w->next)
            w->node = NULL;
        RB_REMOVE(watch_tree, t, n);
        free(n);
    }
}

void watch_hub_free(struct watch_hub *hub)
{
    if (hub == NULL)
        return;
    tree_clear(&hub->exact);
    tree_clear(&hub->prefix);
    free(hub);
}

static struct watch_tree *tree_of(struct watch_hub *hub, bool prefix)
{
    return prefix ? &hub->prefix : &hub->exact;
}

/* Look up `topic` of length `len` (not necessarily NUL-terminated) in a
 * tree: a stack key with a flexible member needs a buffer. */
static struct watch_node *lookup(struct watch_tree *t, const char *topic,
                                 size_t len)
{
    char stack[256];
    struct watch_node *key;
    bool heap = len + 1 > sizeof stack - sizeof *key;
    key = heap ? malloc(sizeof *key + len + 1) : (struct watch_node *)stack;
    if (key == NULL)
        return NULL;
    memcpy(key->topic, topic, len);
    key->topic[len] = '\0';
    struct watch_node *n = RB_FIND(watch_tree, t, key);
    if (heap)
        free(key);
    return n;
}

int watch_add(struct watch_hub *hub, const char *topic, bool prefix,
              struct watch_waiter *w)
{
    struct watch_tree *t = tree_of(hub, prefix);
    size_t len = strlen(topic);
    struct watch_node *n = lookup(t, topic, len);
    if (n == NULL) {
        n = malloc(sizeof *n + len + 1);
        if (n == NULL)
            return -ENOMEM;
        memcpy(n->topic, topic, len + 1);
        n->hub = hub;
        n->prefix = prefix;
        n->head = NULL;
        RB_INSERT(watch_tree, t, n);
    }
    w->node = n;
    w->prev = NULL;
    w->next = n->head;
    if (n->head != NULL)
        n->head->prev = w;
    n->head = w;
    hub->count++;
    return 0;
}

void watch_remove(struct watch_waiter *w)
{
    struct watch_node *n = w->node;
    if (n == NULL)
        return;
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        n->head = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    w->node = NULL;
    w->prev = w->next = NULL;
    n->hub->count--;
    if (n->head == NULL) {
        RB_REMOVE(watch_tree, tree_of(n->hub, n->prefix), n);
        free(n);
    }
}

/* Detach the node's whole list, free the node, then fire each waiter: a
 * callback that re-adds to the same topic gets a fresh node. */
static void fire_node(struct watch_hub *hub, struct watch_tree *t,
                      struct watch_node *n)
{
    struct watch_waiter *w = n->head;
    RB_REMOVE(watch_tree, t, n);
    free(n);
    while (w != NULL) {
        struct watch_waiter *next = w->next;
        w->node = NULL;
        w->prev = w->next = NULL;
        hub->count--;
        w->cb(w);
        w = next;
    }
}

void watch_notify(struct watch_hub *hub, const char *key)
{
    size_t len = strlen(key);
    struct watch_node *n = lookup(&hub->exact, key, len);
    if (n != NULL)
        fire_node(hub, &hub->exact, n);
    if (RB_EMPTY(&hub->prefix))
        return;
    for (size_t i = 0; i <= len; i++) {
        n = lookup(&hub->prefix, key, i);
        if (n != NULL)
            fire_node(hub, &hub->prefix, n);
    }
}

unsigned long watch_count(const struct watch_hub *hub)
{
    return hub->count;
}
