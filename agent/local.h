/*
 * local — the agent's own services and checks (Consul's "local state").
 *
 * Services and checks come from config files and from the agent HTTP API.
 * Each check has a runner (agent/check.h) whose results update its status;
 * TTL checks are updated through local_ttl_update. API registrations and
 * maintenance mode are persisted under <data_dir>/local/ (one file per
 * service or check, written atomically on libuv's thread pool so the loop
 * never waits for the disk) and reloaded at start.
 *
 * Every change marks the entity for anti-entropy (agent/ae.h), which pushes
 * it to the catalog, and notifies the local watch hub with the topics
 * "service:<id>" and "checks" (hash-blocking on /v1/agent/service/<id>).
 * Loop thread only.
 */
#ifndef CAIRN_LOCAL_H
#define CAIRN_LOCAL_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>
#include <uv.h>

#include "svcdef.h"
#include "watch.h"

struct check_env;

enum local_source { LOCAL_API = 0, LOCAL_CONFIG = 1 };

struct local_service
{
    char *id;
    json_object *svc;        /* normalised AgentService (svcdef) */
    enum local_source source;
    /* anti-entropy bookkeeping (agent/ae.c) */
    char synced_hash[17];
    uint64_t synced_index;
    bool dirty;
};

struct local_check
{
    char *id;
    json_object *def;        /* normalised check (svcdef) */
    const char *status;      /* "passing" | "warning" | "critical" */
    char *output;
    enum local_source source;
    uint64_t critical_since; /* loop ms when it turned critical, 0 if not */
    struct check *runner;    /* NULL for TTL-less maintenance checks */
    struct local *owner;
    char synced_hash[17];
    uint64_t synced_index;
    bool dirty;
};

struct local;

/* `persist_dir` (may be NULL: nothing persisted) is created if missing.
 * `on_change` is called (may be NULL) after every change, to schedule an
 * anti-entropy run. */
struct local *local_new(uv_loop_t *loop, struct check_env *env,
                        const char *persist_dir,
                        void (*on_change)(void *data), void *data);
/* Set the `data` handed to on_change (the anti-entropy object exists only
 * after the local state has been loaded). */
void local_set_change_data(struct local *l, void *data);

/* Stops every runner; pending persistence writes finish on the pool. */
void local_free(struct local *l);

/* Load persisted API registrations (call once before the loop runs).
 * Bad files are skipped with a log line. Returns how many were loaded. */
int local_load(struct local *l, const struct svcdef_policy *pol);

/* Add or replace a service and its checks (both taken). With
 * `replace_checks`, the service's other checks are removed. */
int local_add_service(struct local *l, json_object *svc, json_object *checks,
                      enum local_source src, bool replace_checks);
/* Remove a service and its checks. -ENOENT if unknown. */
int local_remove_service(struct local *l, const char *id);
/* Add or replace a check (taken). Its ServiceID, if any, must name a local
 * service: -ENOENT otherwise (the check is released). */
int local_add_check(struct local *l, json_object *def, enum local_source src);
/* -ENOENT if unknown. */
int local_remove_check(struct local *l, const char *id);
/* TTL update: -ENOENT unknown check, -EINVAL not a TTL check. */
int local_ttl_update(struct local *l, const char *id, const char *status,
                     const char *output);

/* Maintenance: adds/removes the critical _node_maintenance or
 * _service_maintenance:<id> check. Service: -ENOENT if unknown. */
void local_node_maint(struct local *l, bool enable, const char *reason);
int local_service_maint(struct local *l, const char *id, bool enable,
                        const char *reason);

/* Replace every config-sourced service and check by these (arrays of raw
 * definitions from the config files; decoded with svcdef). Entries no
 * longer present are removed. Returns 0 or -EINVAL with e set (nothing
 * changed). */
int local_sync_config(struct local *l, json_object *services,
                      json_object *checks, const struct svcdef_policy *pol,
                      struct svcdef_err *e);

/* Durability of API registrations: returns 1 when every change made so
 * far is on disk (fsynced), else 0 and calls cb(data) once it is (or when
 * the local state is freed). -ENOMEM: cb never runs. The agent answers a
 * registration only after this, as Consul does, so an acknowledged
 * registration survives kill -9. */
int local_sync_wait(struct local *l, void (*cb)(void *data), void *data);

/* Lookup and ordered iteration (by ID). Borrowed. */
struct local_service *local_service(struct local *l, const char *id);
struct local_check *local_check(struct local *l, const char *id);
struct local_service *local_services_first(struct local *l);
struct local_service *local_services_next(struct local *l,
                                          struct local_service *s);
struct local_check *local_checks_first(struct local *l);
struct local_check *local_checks_next(struct local *l, struct local_check *c);
unsigned long local_service_count(const struct local *l);
unsigned long local_check_count(const struct local *l);

/* Consul's response shapes (new references). `node` and `dc` fill the
 * Node/Datacenter fields. */
json_object *local_service_json(struct local_service *s, const char *dc);
json_object *local_check_json(struct local *l, struct local_check *c,
                              const char *node);

/* The local watch hub ("service:<id>", "checks"). */
struct watch_hub *local_watch(struct local *l);

/* Services removed or checks removed since the last call, for
 * anti-entropy: each call pops one ID (new string) or returns NULL. */
char *local_pop_removed_service(struct local *l);
char *local_pop_removed_check(struct local *l);

#endif
