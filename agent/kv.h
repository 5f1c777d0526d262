/*
 * kv — the key/value table: an ordered map from key to entry, plus
 * tombstones for deleted keys, plus the KV transaction executor.
 *
 * Pure data structure: no I/O, no clock, no locks. Only the FSM mutates it
 * (every mutation carries the Raft index of the command that caused it), so
 * the same sequence of commands gives the same table on every server.
 *
 * Entries are immutable once stored: a write replaces the entry with a new
 * one. Entries are reference-counted (non-atomically: loop thread only), so
 * a snapshot can hold on to the current set of entries with one pass of
 * kv_entry_ref and serialise them later on another thread while the loop
 * keeps writing (the serialising thread only reads immutable entries).
 *
 * Ordering is bytewise (memcmp-style on the key bytes), so prefix listing is
 * kv_seek(prefix) followed by kv_next until a key no longer starts with the
 * prefix: O(log n + k).
 */
#ifndef CAIRN_KV_H
#define CAIRN_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One key. Public read-only fields; the store owns it. */
struct kv_entry
{
    unsigned refs;          /* private */
    bool deleted;           /* tombstone: key was deleted at modify_index */
    uint64_t flags;         /* opaque client flags */
    uint64_t create_index;  /* index of the write that created the key */
    uint64_t modify_index;  /* index of the last write (or of the delete) */
    uint64_t lock_index;    /* number of successful lock acquisitions */
    char *session;          /* holding session ID, NULL when not locked */
    const uint8_t *value;   /* value bytes (NULL when value_len == 0) */
    size_t value_len;
    size_t key_len;
    char key[];             /* NUL-terminated key */
};

struct kv; /* opaque */

/* New empty table, or NULL on out-of-memory. */
struct kv *kv_new(void);
/* Frees the table and drops its reference on every entry. NULL is a no-op. */
void kv_free(struct kv *kv);

/* Number of live (non-tombstone) entries. */
size_t kv_count(const struct kv *kv);
/* Number of tombstones currently kept. */
size_t kv_tombstones(const struct kv *kv);

/* The table index: highest Raft index that ever changed the table (writes,
 * deletes, reaps). Never decreases. 0 for a table never written. */
uint64_t kv_index(const struct kv *kv);

/* Live entry for `key`, or NULL when absent or deleted. Borrowed: valid until
 * the next mutation of the table (take a ref to keep it longer). */
const struct kv_entry *kv_get(const struct kv *kv, const char *key);

/* First entry (live or tombstone) whose key is >= `key` bytewise, or NULL.
 * kv_next: the entry after `e` in key order, or NULL. Borrowed as kv_get.
 * `e` must be an entry currently in the table (from kv_get/kv_seek/kv_next
 * since the last mutation), not an old entry kept alive by a reference. */
const struct kv_entry *kv_seek(const struct kv *kv, const char *key);
const struct kv_entry *kv_next(const struct kv *kv, const struct kv_entry *e);

/* Highest modify_index among entries and tombstones whose key starts with
 * `prefix`; 0 if there are none. O(log n + k). */
uint64_t kv_prefix_index(const struct kv *kv, const char *prefix);

/* Take / drop a reference on an entry. kv_entry_unref frees it when the last
 * reference goes. Both are for the loop thread only. */
struct kv_entry *kv_entry_ref(const struct kv_entry *e);
void kv_entry_unref(struct kv_entry *e);

/* Called by the table after each key it changes (set, delete, tombstone
 * reaped), with the key. Used by the FSM to wake watchers. May be NULL. */
typedef void (*kv_change_cb)(void *data, const char *key);
void kv_set_change_cb(struct kv *kv, kv_change_cb cb, void *data);

/* ---- Operations (the only way the FSM changes the table) ---- */

/* Verbs of Consul's KV transaction ops (spec 1.4); a plain PUT is a
 * one-op transaction with KV_SET, ?cas with KV_CAS, DELETE with KV_DELETE /
 * KV_DELETE_CAS / KV_DELETE_TREE. */
enum kv_verb {
    KV_SET = 1,
    KV_CAS,
    KV_LOCK,
    KV_UNLOCK,
    KV_GET,
    KV_GET_OR_EMPTY,
    KV_GET_TREE,
    KV_CHECK_INDEX,
    KV_CHECK_SESSION,
    KV_CHECK_NOT_EXISTS,
    KV_DELETE,
    KV_DELETE_TREE,
    KV_DELETE_CAS,
    KV_VERB_MAX = KV_DELETE_CAS
};

/* Consul's verb string ("set", "get-tree", ...) <-> enum. Parse returns 0
 * for an unknown verb (case-sensitive, as Consul); name returns NULL for a
 * value out of range. */
enum kv_verb kv_verb_parse(const char *s);
const char *kv_verb_name(enum kv_verb v);

/* One operation. All pointers borrowed for the duration of the call. */
struct kv_op
{
    enum kv_verb verb;
    const char *key;      /* NUL-terminated */
    const uint8_t *value; /* may be NULL when value_len == 0 */
    size_t value_len;
    uint64_t flags;
    uint64_t index;       /* CAS / check index */
    const char *session;  /* lock/unlock/check-session; NULL otherwise */
};

/* Outcome of kv_txn. On success (n_errors == 0) `results` holds, in op
 * order, one referenced entry per op that yields a result: set, cas,
 * lock, unlock -> the entry as written; get -> the entry; get-or-empty ->
 * the entry, or a NULL slot when the key is absent (Consul answers with a
 * KVPair holding just the op's Key and a null Value); get-tree -> each live
 * entry under the prefix; check-index, check-session -> the entry checked;
 * check-not-exists and delete verbs -> nothing.
 * On failure nothing was changed, `results` is empty and `errors` lists
 * each failing op with Consul's message, e.g.
 *   key "foo" doesn't exist
 *   current modify index 5 != 4
 *   key "k" exists
 *   failed to set key "k", index is stale
 *   failed to delete key "k", index is stale
 * (check-index and check-session use Consul's full texts: "failed index
 * check for key "k", current modify index 5 != 4", "failed session check
 * for key "k", current session "" != "abc"", "failed to check index, key
 * "k" doesn't exist", "failed to check session, key "k" doesn't exist".)
 * Lock verbs fail with "sessions not supported yet" until sessions land. */
struct kv_txn_error
{
    size_t op_index;
    char *what; /* new string */
};
struct kv_txn_result
{
    struct kv_entry **results; /* referenced entries */
    size_t *result_ops;        /* op index that produced each result */
    size_t n_results;
    struct kv_txn_error *errors;
    size_t n_errors;
};

/* Apply `n` ops atomically at Raft index `index`: either every op succeeds
 * and all their writes stay, or the first failing op stops the transaction,
 * every write it had made is undone (the table, its index and every entry
 * are exactly as before) and the error is reported. Reads see the writes
 * of earlier ops in the same transaction.
 * `res` is filled (zeroed first); release it with kv_txn_result_clear.
 * Returns 0 when the transaction committed, 1 when it was rolled back
 * (res->errors says why), -ENOMEM on allocation failure (rolled back). */
int kv_txn(struct kv *kv, const struct kv_op *ops, size_t n, uint64_t index,
           struct kv_txn_result *res);
void kv_txn_result_clear(struct kv_txn_result *res);

/* Remove tombstones with modify_index <= `upto`. Does not move the table
 * index backwards; sets it to `index` (the Raft index of the reap command)
 * when anything was removed. Returns the number removed. */
size_t kv_reap(struct kv *kv, uint64_t upto, uint64_t index);

/* ---- Snapshot support ---- */

/* Insert an entry exactly as given (restore from snapshot). Replaces an
 * existing entry with the same key. Returns 0 or -ENOMEM. */
int kv_restore_entry(struct kv *kv, const char *key, const uint8_t *value,
                     size_t value_len, uint64_t flags, uint64_t create_index,
                     uint64_t modify_index, uint64_t lock_index,
                     const char *session, bool deleted);
/* Set the table index after a restore. */
void kv_set_index(struct kv *kv, uint64_t index);

#endif
