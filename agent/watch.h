/*
 * watch — who is waiting for what to change.
 *
 * A hub maps topics (strings: a KV key, later a service name or node name)
 * to the waiters parked on them. A waiter watches one topic either exactly
 * or as a prefix. When the FSM changes something it calls watch_notify with
 * the changed key; every waiter on that exact key, and every prefix waiter
 * whose prefix the key starts with, fires once and is removed.
 *
 * Cost: a notify does 1 + len(key) ordered-map lookups, whatever the number
 * of waiters; firing is proportional to the waiters that match. So tens of
 * thousands of parked blocking queries cost nothing until what they watch
 * changes. Loop thread only.
 */
#ifndef CAIRN_WATCH_H
#define CAIRN_WATCH_H

#include <stdbool.h>

struct watch_hub;
struct watch_waiter;

/* Fired once, after the waiter has been removed from the hub; the callback
 * may free the waiter or add it again. */
typedef void (*watch_fire_cb)(struct watch_waiter *w);

/* Embedded by the caller (e.g. in an HTTP request). Fields marked private
 * belong to the hub while the waiter is added. */
struct watch_waiter
{
    watch_fire_cb cb;           /* public: set before watch_add */
    void *data;                 /* public */
    struct watch_node *node;    /* private: NULL when not added */
    struct watch_waiter *prev;  /* private */
    struct watch_waiter *next;  /* private */
};

struct watch_hub *watch_hub_new(void);
/* Frees the hub. Waiters still added are detached without firing. */
void watch_hub_free(struct watch_hub *hub);

/* Park `w` on `topic` (copied). `prefix`: fire for any key starting with
 * topic; otherwise only for exactly topic. Returns 0 or -ENOMEM. `w` must
 * not be added already. */
int watch_add(struct watch_hub *hub, const char *topic, bool prefix,
              struct watch_waiter *w);

/* Detach `w` if it is added; no-op otherwise. Does not fire. */
void watch_remove(struct watch_waiter *w);

/* Fire every waiter matching `key`. */
void watch_notify(struct watch_hub *hub, const char *key);

/* Number of waiters currently added (for stats and tests). */
unsigned long watch_count(const struct watch_hub *hub);

#endif
