/*
 * ae — anti-entropy: keeps the catalog's view of this node equal to the
 * agent's local state (agent/local.h).
 *
 * A change to a local service or check marks it dirty and schedules a run
 * a few milliseconds later (changes coalesce); a full run every minute
 * (with jitter) also compares every local entity with the catalog and
 * repairs drift both ways: an entry changed or removed in the catalog
 * behind the agent's back is written again, and catalog entries of this
 * node that the agent does not have are removed (except serfHealth, which
 * belongs to the membership layer).
 *
 * Each entity remembers the hash of what it last wrote and the catalog
 * ModifyIndex that write produced; "in sync" means the catalog record still
 * has that ModifyIndex and the local content still has that hash, so a
 * periodic run writes nothing when nothing changed.
 *
 * The agent registers itself as a node with a passing serfHealth check
 * (the gossip layer makes that check real later). Writes go through Raft
 * on the leader; when this agent cannot write (no leader yet) the run is
 * retried a second later. A 1 s tick also reaps services whose checks have
 * been critical longer than their DeregisterCriticalServiceAfter.
 */
#ifndef CAIRN_AE_H
#define CAIRN_AE_H

struct agent;
struct ae;

/* Start anti-entropy for `a` (its loop, local state, catalog and raft
 * must exist). NULL on out-of-memory. */
struct ae *ae_new(struct agent *a);
/* Stop timers and forget pending callbacks; handles close asynchronously
 * and free the object. */
void ae_free(struct ae *ae);
/* Schedule a run soon (used as local_new's on_change callback). */
void ae_schedule(void *ae);

/* Counters, for /v1/agent/self stats and tests. */
unsigned long ae_runs(const struct ae *ae);
unsigned long ae_writes(const struct ae *ae);

#endif
