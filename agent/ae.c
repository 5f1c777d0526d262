/* ae — see ae.h. */
#include "ae.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agent.h"
#include "catalog.h"
#include "cmd.h"
#include "json.h"
#include "local.h"
#include "log.h"
#include "raftnode.h"
#include "svcdef.h"

#define SOON_MS 5            /* coalesce bursts of local changes */
#define RETRY_MS 1000        /* no leader yet */
#define FULL_MS (60 * 1000)  /* periodic full sync, plus up to 1/4 jitter */
#define REAP_MS 1000         /* DeregisterCriticalServiceAfter check */
#define SERF_CHECK "serfHealth"
#define CONSUL_SERVICE "consul"

enum ae_kind { AE_NODE, AE_SERVICE, AE_CHECK, AE_DEREG };

/* One write in flight; freed in its callback. */
struct ae_op
{
    struct ae *ae; /* NULL once the ae is gone */
    enum ae_kind kind;
    char *id;
    char hash[17];
    struct ae_op *next;
};

struct ae
{
    struct agent *a;
    uv_timer_t soon, full, reap;
    int open_handles;
    unsigned inflight;
    bool again;      /* a run was requested while writes were in flight */
    bool full_due;   /* next run compares everything with the catalog */
    char node_hash[17];
    uint64_t node_index;
    struct ae_op *ops; /* in flight */
    unsigned long runs, writes;
};

unsigned long ae_runs(const struct ae *ae)
{
    return ae->runs;
}

unsigned long ae_writes(const struct ae *ae)
{
    return ae->writes;
}

static uint64_t record_index(const json_object *rec)
{
    json_object *v = NULL;
    if (rec == NULL ||
        !json_object_object_get_ex((json_object *)rec, "ModifyIndex", &v))
        return 0;
    return json_object_get_uint64(v);
}

static void run(struct ae *ae);
static void soon_cb(uv_timer_t *t);

static void op_done(void *data, int status, struct fsm_result *res)
{
    struct ae_op *op = data;
    struct ae *ae = op->ae;
    if (ae != NULL) {
        /* unlink */
        for (struct ae_op **p = &ae->ops; *p; p = &(*p)->next)
            if (*p == op) {
                *p = op->next;
                break;
            }
        ae->inflight--;
        struct agent *a = ae->a;
        struct catalog *cat = a->fsm.catalog;
        const char *node = a->cfg.node_name;
        bool ok = status == 0 && res != NULL && res->rc == 0;
        if (!ok)
            log_warn("ae", "sync of %s failed: %s", op->id,
                     res && res->err[0] ? res->err : "not applied");
        /* Remember what we wrote and the ModifyIndex it produced; a
         * failed write leaves the entity dirty for the next run. */
        if (op->kind == AE_NODE) {
            if (ok) {
                memcpy(ae->node_hash, op->hash, sizeof op->hash);
                ae->node_index = record_index(catalog_get_node(cat, node));
            }
        } else if (op->kind == AE_SERVICE) {
            struct local_service *s = local_service(a->local, op->id);
            if (s && ok && strcmp(s->synced_hash, "pending") == 0) {
                memcpy(s->synced_hash, op->hash, sizeof op->hash);
                s->synced_index =
                    record_index(catalog_get_service(cat, node, op->id));
            } else if (s && !ok) {
                s->dirty = true;
            }
        } else if (op->kind == AE_CHECK) {
            struct local_check *c = local_check(a->local, op->id);
            if (c && ok && strcmp(c->synced_hash, "pending") == 0) {
                memcpy(c->synced_hash, op->hash, sizeof op->hash);
                c->synced_index =
                    record_index(catalog_get_check(cat, node, op->id));
            } else if (c && !ok) {
                c->dirty = true;
            }
        }
        if (ae->inflight == 0 && ae->again) {
            ae->again = false;
            ae_schedule(ae);
        }
    }
    free(op->id);
    free(op);
}

/* Propose one catalog command built from `req` (taken). */
static void submit(struct ae *ae, enum cmd_type type, json_object *req,
                   enum ae_kind kind, const char *id, const char *hash)
{
    size_t len;
    char *payload = json_dump(req, false, &len);
    json_object_put(req);
    struct ae_op *op = calloc(1, sizeof *op);
    if (payload == NULL || op == NULL || (op->id = strdup(id)) == NULL) {
        free(payload);
        free(op);
        return;
    }
    op->ae = ae;
    op->kind = kind;
    if (hash)
        memcpy(op->hash, hash, sizeof op->hash);
    struct cmd c = {.type = type,
                    .payload = (const uint8_t *)payload,
                    .payload_len = len};
    int rv = raftnode_apply(ae->a->raft, &c, op_done, op, NULL);
    free(payload);
    if (rv != 0) {
        free(op->id);
        free(op);
        return;
    }
    op->next = ae->ops;
    ae->ops = op;
    ae->inflight++;
    ae->writes++;
}

static json_object *str(const char *s)
{
    return json_object_new_string(s ? s : "");
}

/* The node itself, with its serfHealth check (passing while this agent
 * runs; the gossip layer takes it over). */
static json_object *node_request(struct agent *a)
{
    json_object *req = json_object_new_object();
    json_object_object_add(req, "ID", str(a->node_id));
    json_object_object_add(req, "Node", str(a->cfg.node_name));
    json_object_object_add(req, "Address", str(a->advertise));
    json_object_object_add(req, "Datacenter", str(a->cfg.datacenter));
    json_object *ta = json_object_new_object();
    json_object_object_add(ta, "lan", str(a->advertise));
    json_object_object_add(ta, "lan_ipv4", str(a->advertise));
    json_object_object_add(ta, "wan", str(a->advertise));
    json_object_object_add(ta, "wan_ipv4", str(a->advertise));
    json_object_object_add(req, "TaggedAddresses", ta);
    json_object *meta = json_object_new_object();
    for (size_t i = 0; i < a->cfg.n_node_meta; i++)
        json_object_object_add(meta, a->cfg.node_meta[i].key,
                               str(a->cfg.node_meta[i].value));
    json_object_object_add(req, "NodeMeta", meta);
    json_object *chk = json_object_new_object();
    json_object_object_add(chk, "Node", str(a->cfg.node_name));
    json_object_object_add(chk, "CheckID", str(SERF_CHECK));
    json_object_object_add(chk, "Name", str("Serf Health Status"));
    json_object_object_add(chk, "Status", str("passing"));
    json_object_object_add(chk, "Output", str("Agent alive and reachable"));
    json_object_object_add(req, "Check", chk);
    /* Servers appear as the "consul" service (Consul's leader registers
     * it; clients such as Prometheus expect "consul": [] in
     * /v1/catalog/services). */
    if (a->cfg.server) {
        json_object *svc = json_object_new_object();
        json_object_object_add(svc, "ID", str(CONSUL_SERVICE));
        json_object_object_add(svc, "Service", str(CONSUL_SERVICE));
        json_object_object_add(svc, "Port",
                               json_object_new_int(a->cfg.port_server));
        json_object_object_add(req, "Service", svc);
    }
    return req;
}

static json_object *service_request(struct agent *a, struct local_service *s)
{
    json_object *req = json_object_new_object();
    json_object_object_add(req, "Node", str(a->cfg.node_name));
    json_object_object_add(req, "Address", str(a->advertise));
    json_object_object_add(req, "SkipNodeUpdate", json_object_new_boolean(1));
    json_object_object_add(req, "Service", json_object_get(s->svc));
    return req;
}

static json_object *check_request(struct agent *a, struct local_check *c)
{
    json_object *chk = local_check_json(a->local, c, a->cfg.node_name);
    json_object_object_del(chk, "CreateIndex");
    json_object_object_del(chk, "ModifyIndex");
    json_object_object_del(chk, "ServiceTags"); /* the catalog fills it */
    json_object_object_del(chk, "ServiceName");
    json_object *req = json_object_new_object();
    json_object_object_add(req, "Node", str(a->cfg.node_name));
    json_object_object_add(req, "Address", str(a->advertise));
    json_object_object_add(req, "SkipNodeUpdate", json_object_new_boolean(1));
    json_object_object_add(req, "Check", chk);
    return req;
}

static void deregister(struct ae *ae, const char *field, const char *id)
{
    struct agent *a = ae->a;
    json_object *req = json_object_new_object();
    json_object_object_add(req, "Node", str(a->cfg.node_name));
    json_object_object_add(req, field, str(id));
    submit(ae, CMD_CATALOG_DEREGISTER, req, AE_DEREG, id, NULL);
}

/* Catalog entries of this node that the agent does not have. */
struct stray
{
    struct ae *ae;
    bool services;
};

static void visit_stray(void *data, const char *id, const json_object *rec)
{
    struct stray *st = data;
    struct local *l = st->ae->a->local;
    (void)rec;
    if (st->services) {
        if (local_service(l, id) == NULL &&
            !(st->ae->a->cfg.server && strcmp(id, CONSUL_SERVICE) == 0))
            deregister(st->ae, "ServiceID", id);
    } else if (strcmp(id, SERF_CHECK) != 0 && local_check(l, id) == NULL) {
        deregister(st->ae, "CheckID", id);
    }
}

static void run(struct ae *ae)
{
    struct agent *a = ae->a;
    if (a->stopping)
        return;
    if (!raftnode_is_ready_leader(a->raft)) {
        /* Nobody to write to yet (client agents forward once the RPC
         * issue lands): try again in a second. */
        uv_timer_start(&ae->soon, soon_cb, RETRY_MS, 0);
        return;
    }
    if (ae->inflight > 0) {
        ae->again = true;
        return;
    }
    ae->runs++;
    bool full = ae->full_due;
    ae->full_due = false;
    struct catalog *cat = a->fsm.catalog;
    const char *node = a->cfg.node_name;
    char hash[17];

    json_object *nreq = node_request(a);
    svcdef_hash(nreq, hash);
    const json_object *nrec = catalog_get_node(cat, node);
    const json_object *serf = catalog_get_check(cat, node, SERF_CHECK);
    bool consul_ok = !a->cfg.server ||
                     catalog_get_service(cat, node, CONSUL_SERVICE) != NULL;
    if (strcmp(hash, ae->node_hash) != 0 || nrec == NULL || serf == NULL ||
        !consul_ok || record_index(nrec) != ae->node_index)
        submit(ae, CMD_CATALOG_REGISTER, nreq, AE_NODE, node, hash);
    else
        json_object_put(nreq);

    char *id;
    while ((id = local_pop_removed_check(a->local)) != NULL) {
        if (local_check(a->local, id) == NULL)
            deregister(ae, "CheckID", id);
        free(id);
    }
    while ((id = local_pop_removed_service(a->local)) != NULL) {
        if (local_service(a->local, id) == NULL)
            deregister(ae, "ServiceID", id);
        free(id);
    }

    for (struct local_service *s = local_services_first(a->local); s;
         s = local_services_next(a->local, s)) {
        if (!s->dirty && !full)
            continue;
        s->dirty = false;
        json_object *req = service_request(a, s);
        svcdef_hash(req, hash);
        const json_object *rec = catalog_get_service(cat, node, s->id);
        if (rec != NULL && strcmp(hash, s->synced_hash) == 0 &&
            record_index(rec) == s->synced_index) {
            json_object_put(req);
            continue;
        }
        memcpy(s->synced_hash, "pending", 8);
        submit(ae, CMD_CATALOG_REGISTER, req, AE_SERVICE, s->id, hash);
    }
    for (struct local_check *c = local_checks_first(a->local); c;
         c = local_checks_next(a->local, c)) {
        if (!c->dirty && !full)
            continue;
        c->dirty = false;
        json_object *req = check_request(a, c);
        svcdef_hash(req, hash);
        const json_object *rec = catalog_get_check(cat, node, c->id);
        if (rec != NULL && strcmp(hash, c->synced_hash) == 0 &&
            record_index(rec) == c->synced_index) {
            json_object_put(req);
            continue;
        }
        memcpy(c->synced_hash, "pending", 8);
        submit(ae, CMD_CATALOG_REGISTER, req, AE_CHECK, c->id, hash);
    }
    if (full) {
        struct stray st = {.ae = ae, .services = true};
        catalog_node_foreach_service(cat, node, visit_stray, &st);
        st.services = false;
        catalog_node_foreach_check(cat, node, visit_stray, &st);
    }
}

static void soon_cb(uv_timer_t *t)
{
    run(t->data);
}

static void full_cb(uv_timer_t *t)
{
    struct ae *ae = t->data;
    ae->full_due = true;
    run(ae);
    uv_timer_start(&ae->full, full_cb,
                   FULL_MS + randombytes_uniform(FULL_MS / 4), 0);
}

/* Services whose check has been critical for longer than its
 * DeregisterCriticalServiceAfter are removed (Consul's reaper). */
static void reap_cb(uv_timer_t *t)
{
    struct ae *ae = t->data;
    struct agent *a = ae->a;
    uint64_t now = uv_now(a->loop);
    char victim[512] = "";
    for (struct local_check *c = local_checks_first(a->local); c && !*victim;
         c = local_checks_next(a->local, c)) {
        uint64_t after = svcdef_ms(c->def, "DeregisterCriticalServiceAfter");
        const char *sid = svcdef_str(c->def, "ServiceID");
        if (after == 0 || *sid == '\0' || c->critical_since == 0 ||
            strcmp(c->status, "critical") != 0 ||
            now - c->critical_since < after)
            continue;
        snprintf(victim, sizeof victim, "%s", sid);
    }
    if (*victim) {
        log_info("ae", "service %s critical for longer than "
                       "DeregisterCriticalServiceAfter: deregistering",
                 victim);
        local_remove_service(a->local, victim);
    }
}

void ae_schedule(void *data)
{
    struct ae *ae = data;
    if (ae == NULL || ae->a->stopping)
        return;
    if (!uv_is_active((uv_handle_t *)&ae->soon))
        uv_timer_start(&ae->soon, soon_cb, SOON_MS, 0);
}

struct ae *ae_new(struct agent *a)
{
    struct ae *ae = calloc(1, sizeof *ae);
    if (ae == NULL)
        return NULL;
    ae->a = a;
    ae->full_due = true;
    uv_timer_init(a->loop, &ae->soon);
    uv_timer_init(a->loop, &ae->full);
    uv_timer_init(a->loop, &ae->reap);
    ae->soon.data = ae->full.data = ae->reap.data = ae;
    ae->open_handles = 3;
    uv_timer_start(&ae->full, full_cb, FULL_MS, 0);
    uv_timer_start(&ae->reap, reap_cb, REAP_MS, REAP_MS);
    ae_schedule(ae);
    return ae;
}

static void handle_closed(uv_handle_t *h)
{
    struct ae *ae = h->data;
    if (--ae->open_handles == 0)
        free(ae);
}

void ae_free(struct ae *ae)
{
    if (ae == NULL)
        return;
    /* Writes still in flight complete inside raft; forget them here. */
    for (struct ae_op *op = ae->ops; op; op = op->next)
        op->ae = NULL;
    ae->ops = NULL;
    uv_close((uv_handle_t *)&ae->soon, handle_closed);
    uv_close((uv_handle_t *)&ae->full, handle_closed);
    uv_close((uv_handle_t *)&ae->reap, handle_closed);
}
