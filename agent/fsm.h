/*
 * fsm — the replicated state machine: applies committed Raft entries to the
 * store, wakes the watchers of what changed, and takes and restores
 * snapshots.
 *
 * It is c-raft's `struct raft_fsm` (version 3). Apply runs on the loop
 * thread. A snapshot is taken in two steps so the loop never serialises the
 * store: `snapshot` (loop) takes a reference on every entry (pointer copies,
 * entries are immutable), `snapshot_async` (thread pool) serialises them,
 * `snapshot_finalize` (loop) drops the references and frees the buffers.
 *
 * The Raft index of the entry being applied is the Consul index of every
 * change it makes; the FSM learns it from the raft instance bound with
 * fsm_bind_raft (c-raft applies entries in order and bumps last_applied
 * after each apply, so the entry being applied is last_applied + 1).
 */
#ifndef CAIRN_FSM_H
#define CAIRN_FSM_H

#include <stdint.h>

#include <raft.h>

#include "kv.h"
#include "watch.h"

/* What an applied command produced, handed to the apply callback through
 * c-raft's `result` pointer. Owned by the FSM and valid only inside that
 * callback; a callback that wants the txn results moves them out (struct
 * copy, then zero the FSM's). */
struct fsm_result
{
    uint64_t index; /* Raft index of the command */
    int rc;         /* 0 committed, 1 rolled back, <0 error */
    struct kv_txn_result txn;
};

struct fsm
{
    struct raft_fsm raft_fsm; /* handed to raft_init; data = this */
    struct raft *raft;        /* borrowed, for the applied index */
    struct kv *kv;            /* owned */
    struct watch_hub *kv_watch; /* owned: waiters on KV keys/prefixes */
    struct fsm_result last;   /* result of the latest apply */
    uint64_t index;           /* highest Raft index applied or restored */
    /* snapshot in progress */
    struct kv_entry **snap_entries;
    size_t snap_n;
    uint64_t snap_kv_index;
    uint64_t snap_index;
    unsigned long snapshots_taken;
    unsigned long snapshots_restored;
};

/* Initialise `f` with an empty store. Returns 0 or -ENOMEM. */
int fsm_init(struct fsm *f);
void fsm_bind_raft(struct fsm *f, struct raft *raft);
void fsm_close(struct fsm *f);

/* Apply one encoded command at `index` directly (what the raft callback
 * does; exposed for unit tests). Returns 0, or -EINVAL for an undecodable
 * command (the entry is skipped: every server skips it alike). */
int fsm_apply_at(struct fsm *f, const void *buf, size_t len, uint64_t index);

/* Serialise the whole store into one new buffer (malloc) / restore from it.
 * Exposed for tests; the raft callbacks use them. restore returns -EINVAL
 * for a malformed buffer and leaves the store unchanged. */
int fsm_encode_snapshot(struct kv_entry *const *entries, size_t n,
                        uint64_t kv_index, uint64_t fsm_index, void **buf,
                        size_t *len);
int fsm_restore_buf(struct fsm *f, const void *buf, size_t len);

#endif
