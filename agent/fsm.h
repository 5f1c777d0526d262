/*
 * fsm — the replicated state machine: applies committed Raft entries to the
 * store, wakes the watchers of what changed, and takes and restores
 * snapshots.
 *
 * It is c-raft's `struct raft_fsm` (version 3). Apply runs on the loop
 * thread. A snapshot is taken in two steps so the loop never serialises the
 * store: `snapshot` (loop) takes a reference on every KV entry and pins
 * every catalog record (pointer copies, both are immutable),
 * `snapshot_async` (thread pool) serialises them, `snapshot_finalize`
 * (loop) drops the references and frees the buffers.
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

#include "catalog.h"
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
    /* Catalog commands: rc -EINVAL when the request failed validation (the
     * command was skipped, nothing changed) or -ENOMEM, with Consul's
     * message here (e.g. "Must provide node"; the HTTP layer answers 500
     * with it). "" otherwise. */
    char err[256];
};

struct fsm
{
    struct raft_fsm raft_fsm; /* handed to raft_init; data = this */
    struct raft *raft;        /* borrowed, for the applied index */
    struct kv *kv;            /* owned */
    struct watch_hub *kv_watch; /* owned: waiters on KV keys/prefixes */
    struct catalog *catalog;  /* owned */
    /* owned: waiters on catalog topics ("nodes", "services", "checks",
     * "svc:<lower-cased name>", "node:<name>"; see catalog.h). Watch them
     * exactly (prefix = false): "svc:web" must not wake on "svc:web2". */
    struct watch_hub *catalog_watch;
    struct fsm_result last;   /* result of the latest apply */
    uint64_t index;           /* highest Raft index applied or restored */
    /* snapshot in progress */
    struct kv_entry **snap_entries;
    size_t snap_n;
    uint64_t snap_kv_index;
    uint64_t snap_index;
    struct catalog_pin *snap_catalog;
    unsigned long snapshots_taken;
    unsigned long snapshots_restored;
};

/* Initialise `f` with an empty store. Returns 0 or -ENOMEM. */
int fsm_init(struct fsm *f);
void fsm_bind_raft(struct fsm *f, struct raft *raft);
void fsm_close(struct fsm *f);

/* Apply one encoded command at `index` directly (what the raft callback
 * does; exposed for unit tests). Returns 0, or -EINVAL for an undecodable
 * command (the entry is skipped: every server skips it alike). A catalog
 * command whose payload is not JSON or fails validation is decoded fine
 * (returns 0) but changes nothing; f->last.rc / f->last.err say why. */
int fsm_apply_at(struct fsm *f, const void *buf, size_t len, uint64_t index);

/* Serialise the whole store into one new buffer (malloc) / restore from it.
 * Exposed for tests; the raft callbacks use them. `cat` is a pin of the
 * catalog (catalog_pin); encode only reads it, so it may run on any thread.
 * restore returns -EINVAL for a malformed buffer (KV or catalog section)
 * and leaves the store unchanged; it also accepts the older KV-only format.
 *
 * Format "CAIRNSN2": the "CAIRNSN1" KV layout (see fsm.c) followed by
 * u64 catalog_len | catalog_len bytes of catalog_pin_write JSON. */
int fsm_encode_snapshot(struct kv_entry *const *entries, size_t n,
                        uint64_t kv_index, uint64_t fsm_index,
                        const struct catalog_pin *cat, void **buf,
                        size_t *len);
int fsm_restore_buf(struct fsm *f, const void *buf, size_t len);

#endif
