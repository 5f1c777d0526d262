/*
 * raftnode — c-raft (Debian's libraft 0.15) on the agent's libuv loop.
 *
 * Owns the raft instance, its libuv I/O backend and TCP transport, and the
 * leadership barrier: a newly elected leader appends a barrier entry and
 * serves default-consistency reads only once it has been applied, so that
 * entries of earlier terms are visible (Raft thesis 6.4).
 *
 * Tuning (LAN): election timeout 1000 ms, heartbeat 100 ms, pre-vote on,
 * install-snapshot timeout 5 s (c-raft's 30 s default stalls a lagging
 * follower for half a minute), snapshot threshold and trailing entries from
 * the config (Consul's raft_snapshot_threshold / raft_trailing_logs).
 */
#ifndef CAIRN_RAFTNODE_H
#define CAIRN_RAFTNODE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "cmd.h"
#include "fsm.h"

struct raftnode;

struct raftnode_options
{
    const char *dir;      /* raft data directory (created if missing) */
    uint64_t id;          /* raft server ID, non-zero */
    const char *address;  /* "host:port" others reach us at */
    const char *bind_address; /* "host:port" to listen on; NULL = address */
    bool bootstrap;       /* bootstrap a one-voter configuration if new */
    unsigned snapshot_threshold;
    unsigned snapshot_trailing;
};

/* Start raft on `loop` applying to `fsm` (borrowed, must outlive the node).
 * Returns 0 and *out, or a negative error with a message in err. */
int raftnode_start(struct raftnode **out, uv_loop_t *loop, struct fsm *fsm,
                   const struct raftnode_options *opt, char *err,
                   size_t errlen);

/* Stop raft: pending applies complete with an error; `cb` runs when raft
 * has closed. The memory stays until raftnode_free, which must be called
 * after the loop has stopped (see raftnode.c on c-raft's close). */
void raftnode_close(struct raftnode *rn, void (*cb)(void *data), void *data);
/* Release a closed node; runs the loop once more to finish closing. */
void raftnode_free(struct raftnode *rn, uv_loop_t *loop);

/* Called when a proposed command has been applied (status 0, `res` valid
 * only during the call) or failed (status = c-raft error code, res NULL). */
typedef void (*raftnode_apply_fn)(void *data, int status,
                                  struct fsm_result *res);

/* Propose a command. On 0, `cb` runs exactly once later unless the request
 * is cancelled with raftnode_cancel(*handle). On error (-EPERM when not
 * leader, -ENOMEM, ...) `cb` never runs. `handle` may be NULL. */
int raftnode_apply(struct raftnode *rn, const struct cmd *c,
                   raftnode_apply_fn cb, void *data, void **handle);

/* Append a barrier (for ?consistent reads); same callback rules, res NULL. */
int raftnode_barrier(struct raftnode *rn, raftnode_apply_fn cb, void *data,
                     void **handle);

/* Forget the callback of a pending apply/barrier (its owner is going away).
 * The request still completes inside raft. */
void raftnode_cancel(void *handle);

/* The accessors below accept rn == NULL (an agent that runs no raft, i.e.
 * a client): no state, no leader, no voters, indexes 0. */

/* Leader with its term's barrier applied: default reads may be served. */
bool raftnode_is_ready_leader(const struct raftnode *rn);
/* Raft state: RAFT_LEADER, RAFT_FOLLOWER, ... */
int raftnode_state(const struct raftnode *rn);
/* Leader's raft id and address, or 0/NULL when unknown. */
uint64_t raftnode_leader(const struct raftnode *rn, const char **address);
/* Voters of the current configuration. */
unsigned raftnode_voters(const struct raftnode *rn, uint64_t *ids,
                         const char **addrs, unsigned max);
uint64_t raftnode_last_index(const struct raftnode *rn);
uint64_t raftnode_applied_index(const struct raftnode *rn);
uint64_t raftnode_term(const struct raftnode *rn);

#endif
