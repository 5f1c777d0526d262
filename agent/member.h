/*
 * member — cluster membership for the agent, on the gossip library
 * (gossip/gossip.h: SWIM + Lifeguard, encrypted envelopes).
 *
 * One gossip core per agent, on the agent's loop, bound to
 * bind_addr:ports.serf_lan and advertising advertise_addr. Its identity is
 * the agent's node ID and name; the boot generation (which makes a
 * restarted node outrank its previous life) is persisted in
 * <data_dir>/serf/generation, the keyring in <data_dir>/serf/local.keyring
 * (Consul's path; mode 0600), created from -encrypt on first start.
 *
 * Member tags (Consul's: role, dc, id, port, build, vsn, ...) travel as the
 * member's metadata, "key=value" pairs separated by NUL bytes. One cairn
 * tag, "kr", lists the IDs of the keys a member holds (primary first), so
 * any agent can count keys cluster-wide (GET /v1/operator/keyring) and
 * verify a rotation.
 *
 * Keyring changes are cluster-wide, as in Consul: the agent that receives
 * the request applies it and disseminates it as an internal user event
 * ("_cairn-keyring"); every member applies it and republishes its "kr" tag.
 * (The event travels inside the encrypted envelope.)
 *
 * On the Raft leader, member events become catalog writes: a member that
 * joins (or comes back) is registered as a node with serfHealth passing; a
 * failed one gets serfHealth critical, so its services stop being healthy;
 * one that left is deregistered. A reconcile pass every 30 s repairs what
 * a leadership change may have missed.
 */
#ifndef CAIRN_MEMBER_H
#define CAIRN_MEMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct agent;
struct member;

/* Start membership for `a` (loop, config, data dir and node ID ready).
 * Returns 0, or a negative error with a message in err (bad key, port in
 * use, ...). Joins -join/start_join seeds and starts retry-join. */
int member_start(struct agent *a, struct member **out, char *err,
                 size_t errlen);

/* Leave gracefully (broadcast, bounded wait), then cb(data). */
void member_leave(struct member *m, void (*cb)(void *data), void *data);
/* Close everything; cb(data) when all handles are released. */
void member_close(struct member *m, void (*cb)(void *data), void *data);

/* Join the given "host[:port]" addresses (default port: ports.serf_lan).
 * cb(data, status, n) when done: n = how many answered. Returns 0 or a
 * negative error (bad address) with a message in err. */
int member_join(struct member *m, const char *const *addrs, size_t n,
                void (*cb)(void *data, int status, unsigned n), void *data,
                char *err, size_t errlen);

/* Text for a status handed to a member_join callback (gossip's error
 * names: "no such member", "encrypted with an unknown key", ...). */
const char *member_strerror(int status);

/* Consul's force-leave: 0 or -ENOENT (no such member). */
int member_force_leave(struct member *m, const char *node, bool prune);

/* GET /v1/agent/members: array of Consul Member objects (new). */
json_object *member_list_json(struct member *m);
/* Consul Member object of this agent (new). */
json_object *member_self_json(struct member *m);
/* Stats for /v1/agent/self (new object of string values). */
json_object *member_stats_json(struct member *m);

/* Keyring, cluster-wide (see above). op: "install", "use", "remove".
 * Returns 0, or a negative error with a message (bad key, removing the
 * primary, ...). */
int member_keyring_op(struct member *m, const char *op, const char *key_b64,
                      char *err, size_t errlen);
/* GET /v1/operator/keyring response (new array with one LAN entry). */
json_object *member_keyring_json(struct member *m);
/* Whether gossip encryption is on. */
bool member_encrypted(const struct member *m);

#endif
