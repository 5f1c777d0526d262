/*
 * catalog — the replicated service catalog: nodes, service instances and
 * health checks, as Consul's /v1/catalog and /v1/health endpoints see them.
 *
 * Pure data structure: no I/O, no clock, no locks, loop thread only. Only
 * the FSM changes it (catalog_register / catalog_deregister at the Raft
 * index of the command), so the same sequence of commands gives the same
 * catalog on every server.
 *
 * Records are json-c objects already in Consul's response shapes (spec 3.4
 * Node, 2.4 AgentService, 4.0 HealthCheck) and are IMMUTABLE once stored: a
 * change builds a new object and swaps it in. Read functions therefore
 * return new containers that SHARE stored records by reference
 * (json_object_get): a response costs pointer copies, not deep copies. The
 * rule that makes this safe: nobody modifies an object reachable from a read
 * result or from catalog_get_* (add nothing, delete nothing, do not call
 * json_object_to_json_string*, which writes a cache into the object); print
 * with json_dump (agent/json.h), which only reads.
 *
 * The same immutability gives asynchronous snapshots: catalog_pin (loop)
 * takes a reference on every record, catalog_pin_write (any thread) prints
 * the pinned records while the loop keeps writing, catalog_pin_free (loop)
 * drops the references. Only the loop thread touches reference counts.
 *
 * Indexes (X-Consul-Index of blocking queries, spec 0.4): the catalog keeps
 * one index per table (nodes, services, checks), one per service name
 * (lower-cased) and one per node. Each is the Raft index of the last write
 * that changed what it covers, deletes included, so none ever decreases.
 * A write that changes nothing (an anti-entropy re-sync of identical
 * content) bumps no index and wakes nobody.
 *
 * Topics (catalog_change_cb), emitted once per write after the catalog
 * reached its new state:
 *   "nodes"        the node table changed (a node added, changed, removed)
 *   "services"     any service instance changed
 *   "checks"       any check changed
 *   "svc:<name>"   <name> lower-cased: anything that changes the catalog or
 *                  health answer for that service name: its instances, their
 *                  checks, the node record of a node hosting one, the
 *                  node-level checks of such a node
 *   "node:<node>"  the node, its services or its checks
 * Each per-name / per-node index moves exactly when its topic is emitted.
 *
 * Cost: register and deregister are O(log n) plus the size of the request,
 * except that changing a node record or a node-level check touches every
 * service name on that node. Reads by service name are O(instances of that
 * name x their checks); reads by node are O(that node); catalog_nodes,
 * catalog_services and catalog_health_state walk their whole table.
 */
#ifndef CAIRN_CATALOG_H
#define CAIRN_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct catalog; /* opaque */

/* New empty catalog, or NULL on out-of-memory. */
struct catalog *catalog_new(void);
/* Frees the catalog and drops its references on every record (records
 * still referenced elsewhere, e.g. by a pin or a response, live on).
 * NULL is a no-op. */
void catalog_free(struct catalog *c);

/* Called after each write that changed something, once per topic (see the
 * list above; `topic` is borrowed for the call). The catalog is in its new,
 * consistent state during the call; the callback must not write to it.
 * May be NULL. */
typedef void (*catalog_change_cb)(void *data, const char *topic);
void catalog_set_change_cb(struct catalog *c, catalog_change_cb cb, void *data);

/* ---- Writes (the FSM only) ----
 * `req` is borrowed and never modified; nothing from it is kept (values are
 * copied). `index` is the Raft index of the command; it must be >= every
 * index given before. On error a message goes to `err` (if errlen > 0) and
 * the catalog is exactly as before: every request is validated and every
 * new record built before anything changes. */

/* PUT /v1/catalog/register (spec 3.1). Keys match case-insensitively;
 * snake_case aliases are taken for TaggedAddresses, NodeMeta,
 * SkipNodeUpdate, EnableTagOverride, SocketPath, CheckID, ServiceID,
 * ExposedPort.
 *   Node            required ("Must provide node")
 *   Address         required unless SkipNodeUpdate and the node exists
 *                   ("Must provide address")
 *   ID, Datacenter, TaggedAddresses {str:str}, NodeMeta {str:str}: the node
 *                   record is replaced as a whole (unless SkipNodeUpdate and
 *                   the node exists); missing maps are stored as {}.
 *   Service         AgentService shape: ID defaults to Service (the name;
 *                   "Name" is taken too); Tags [] and Meta {} when absent;
 *                   Weights {Passing:1,Warning:1} by default; Port, Address,
 *                   TaggedAddresses {str:{Address,Port}}, EnableTagOverride,
 *                   Kind, SocketPath, Proxy, Connect kept. Re-registering an
 *                   ID replaces that instance; its existing checks take the
 *                   new ServiceName / ServiceTags.
 *   Check, Checks   HealthCheck shape: CheckID defaults to Name; Status
 *                   defaults to "critical" and must be passing, warning,
 *                   critical or maintenance; ServiceID "" (node-level) or a
 *                   service of this node, existing or in this request
 *                   ("Missing service registration"); ServiceName and
 *                   ServiceTags are filled from that service ([] for node
 *                   checks); Node, if given, must equal Node; Notes, Output,
 *                   Type, Interval, Timeout, ExposedPort, Definition kept.
 * Free-form objects (Definition, Proxy, Connect) may nest at most 32
 * levels (so every snapshot parses back). Map keys (Meta, NodeMeta,
 * TaggedAddresses) are stored sorted, as Go prints maps. CreateIndex is kept on
 * update; ModifyIndex = index when the content changed. Returns 0, -EINVAL (err
 * says why: a missing field, a field of the wrong JSON type, a bad status, an
 * unknown ServiceID), or -ENOMEM. */
int catalog_register(struct catalog *c,
                     json_object *req,
                     uint64_t index,
                     char *err,
                     size_t errlen);

/* PUT /v1/catalog/deregister (spec 3.2): {Node, ServiceID?, CheckID?}.
 * Node alone removes the node with all its services and checks; ServiceID
 * removes that service and its checks; CheckID removes that check (both
 * given: both removed). Unknown node, service or check: 0, nothing changes.
 * Returns 0 or -EINVAL ("Must provide node", wrong JSON types). */
int catalog_deregister(struct catalog *c,
                       json_object *req,
                       uint64_t index,
                       char *err,
                       size_t errlen);

/* Stateless check of a register (deregister = false) or deregister body:
 * -EINVAL when a field has the wrong JSON type (Go's decoder would fail:
 * the HTTP layer answers 400 "Request decode failed: <err>"), else 0.
 * Missing Node / Address are NOT reported here (Consul answers those with
 * 500 from the state machine). */
int catalog_validate(json_object *req,
                     bool deregister,
                     char *err,
                     size_t errlen);

/* ---- Reads ----
 * Each returns a new reference (json_object_put) to a fresh container that
 * shares stored records (see the rule at the top), or NULL on
 * out-of-memory, and sets *index (if not NULL) to the index a blocking
 * query on that read should report and compare with. Once anything was
 * written, the index is never 0 (a table never written reports the
 * catalog's highest index instead). Service names match
 * case-insensitively (ASCII). */

/* [Node] sorted by node name. Index: nodes table. */
json_object *catalog_nodes(const struct catalog *c, uint64_t *index);

/* {name: [tags]}: every service name (as registered; instances spelling it
 * differently are separate keys, as in Consul) with the sorted,
 * de-duplicated union of its instances' tags ([] when none), keys sorted.
 * Index: services table. */
json_object *catalog_services(const struct catalog *c, uint64_t *index);

/* Decides whether a service instance counts: `inst` is its CatalogService
 * record (catalog_service_nodes' element shape; borrowed for the call, not
 * to be modified). Returns 1 to keep it, 0 to drop it, or a negative code
 * that stops the walk. Must not write to the catalog. */
typedef int (*catalog_inst_cb)(void *data, json_object *inst);

/* catalog_services over only the instances `keep` accepts, each judged on
 * its own: a name is listed when at least one of its instances is kept,
 * with the tag union of the kept ones. This is how Consul's ListServices
 * applies ?node-meta and ?filter (to each ServiceNode, then groups by
 * name). Same key order, tag order and index as catalog_services; not
 * cached: O(all instances) per call. Returns a new object, or NULL with
 * *rc (if not NULL) set to the negative code `keep` returned or -ENOMEM;
 * *rc is 0 on success. */
json_object *catalog_services_where(const struct catalog *c,
                                    catalog_inst_cb keep,
                                    void *data,
                                    uint64_t *index,
                                    int *rc);

/* [CatalogService] (spec 3.6 flat shape) of service `name`, sorted by node
 * then ServiceID; [] for an unknown name. Index: that name's index, or the
 * services table index when the name is unknown. Topic: "svc:<name>". */
json_object *catalog_service_nodes(const struct catalog *c,
                                   const char *name,
                                   uint64_t *index);

/* {"Node": Node, "Services": {id: AgentService}} for `node`, or NULL when
 * the node is unknown (the HTTP layer answers 200 `null`; NULL is also the
 * out-of-memory answer). Index: that node's index, or the nodes table index
 * when unknown. Topic: "node:<node>". */
json_object *catalog_node_services(const struct catalog *c,
                                   const char *node,
                                   uint64_t *index);

/* [HealthCheck] of `node`: its node-level checks, then its service checks,
 * each group by CheckID; [] for an unknown node. Index as
 * catalog_node_services. */
json_object *catalog_health_node(const struct catalog *c,
                                 const char *node,
                                 uint64_t *index);

/* [HealthCheck] of the instances of service `name` (by node, service ID,
 * then CheckID); [] when unknown. Index as catalog_service_nodes. */
json_object *catalog_health_checks(const struct catalog *c,
                                   const char *name,
                                   uint64_t *index);

/* [ServiceEntry] {Node, Service, Checks} of service `name`: Checks holds the
 * node-level checks of the instance's node followed by the instance's own
 * checks. Sorted by node then service ID; [] when unknown. Index as
 * catalog_service_nodes. No filtering: ?passing / ?tag are the caller's. */
json_object *catalog_health_service(const struct catalog *c,
                                    const char *name,
                                    uint64_t *index);

/* [HealthCheck] in `state` across all nodes (by node; per node as
 * catalog_health_node). `state` is any, passing, warning or critical;
 * anything else returns NULL with *rc = -EINVAL (HTTP 400). *rc is 0 on
 * success, -ENOMEM on out-of-memory. Index: checks table. */
json_object *catalog_health_state(const struct catalog *c,
                                  const char *state,
                                  uint64_t *index,
                                  int *rc);

/* ---- Direct access (anti-entropy compares its local state with these) ----
 * Borrowed stored records (never modify them), valid until the next write
 * to the catalog (take a json_object_get to keep one longer); NULL when
 * absent. */
const json_object *catalog_get_node(const struct catalog *c, const char *node);
const json_object *catalog_get_service(const struct catalog *c,
                                       const char *node,
                                       const char *service_id);
const json_object *catalog_get_check(const struct catalog *c,
                                     const char *node,
                                     const char *check_id);

/* Visit the services (by ID) or checks (by CheckID) of `node` in ID order.
 * `id` and `rec` are borrowed for the call; `cb` must not write to the
 * catalog. Returns the number visited (0 for an unknown node). */
typedef void (*catalog_visit_cb)(void *data,
                                 const char *id,
                                 const json_object *rec);
size_t catalog_node_foreach_service(const struct catalog *c,
                                    const char *node,
                                    catalog_visit_cb cb,
                                    void *data);
size_t catalog_node_foreach_check(const struct catalog *c,
                                  const char *node,
                                  catalog_visit_cb cb,
                                  void *data);

/* Highest index of any write (0 when never written), and table sizes. */
uint64_t catalog_index(const struct catalog *c);
size_t catalog_count_nodes(const struct catalog *c);
size_t catalog_count_services(const struct catalog *c);
size_t catalog_count_checks(const struct catalog *c);

/* ---- Snapshots ---- */

struct catalog_pin; /* opaque */

/* Loop thread: take a reference on every record and copy the indexes.
 * Returns a new pin, or NULL on out-of-memory. The catalog may be written
 * and even freed afterwards; the pin keeps what it pinned. */
struct catalog_pin *catalog_pin(const struct catalog *c);

/* Any thread, while the pin lives: serialise it as one compact JSON
 * document into a new buffer (*buf, free(); NUL-terminated, *len without
 * the NUL). Touches no reference count. Returns 0 or -ENOMEM. */
int catalog_pin_write(const struct catalog_pin *p, char **buf, size_t *len);

/* Loop thread: drop the pin's references. NULL is a no-op. */
void catalog_pin_free(struct catalog_pin *p);

/* Replace the whole content with a catalog_pin_write document (`len`
 * bytes, need not be NUL-terminated). Returns 0; -EINVAL for malformed
 * input (not JSON, wrong shape or types, duplicate or dangling names) and
 * -ENOMEM, both leaving the catalog unchanged. On success every topic of
 * the old and of the new content is emitted ("nodes", "services",
 * "checks", every "svc:" and "node:"), so every watcher re-reads. */
int catalog_restore(struct catalog *c, const char *buf, size_t len);

#endif
