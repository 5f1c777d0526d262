/* member — see member.h. */
#include "member.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "agent.h"
#include "catalog.h"
#include "cmd.h"
#include "gossip.h"
#include "json.h"
#include "log.h"
#include "raftnode.h"
#include "version.h"

#define KEYRING_EVENT "_cairn-keyring"
#define RECONCILE_MS 30000
#define LEAVE_TIMEOUT_MS 5000
#define SERF_CHECK "serfHealth"
#define MAX_MEMBERS 65536

struct member
{
    struct agent *a;
    struct gossip_uv *uv;
    struct gossip *g;
    char dir[4096];         /* <data_dir>/serf */
    char keyring_path[4200];
    uv_timer_t retry;       /* retry_join */
    uv_timer_t reconcile;   /* leader: members -> catalog */
    int open_handles;
    int retry_attempts;
    bool retry_done;
    bool leader_seen;       /* reconcile once on becoming leader */
    unsigned reconcile_ticks;
    uint64_t started_ms;
    void (*close_cb)(void *);
    void *close_data;
    void (*leave_cb)(void *);
    void *leave_data;
};

/* ---------------------------------------------------------------- tags */

/* "k=v\0k=v\0..." */
static size_t tags_encode(struct member *m, uint8_t *out, size_t cap)
{
    struct agent *a = m->a;
    const struct cfg *c = &a->cfg;
    char kr[GOSSIP_KEYRING_MAX * 9 + 1] = "";
    if (m->g != NULL) {
        struct gossip_key_info keys[GOSSIP_KEYRING_MAX];
        size_t n = gossip_keyring_list(m->g, keys, GOSSIP_KEYRING_MAX);
        for (size_t i = 0; i < n && i < GOSSIP_KEYRING_MAX; i++) {
            size_t l = strlen(kr);
            snprintf(kr + l, sizeof kr - l, "%s%08" PRIx32, i ? "," : "",
                     keys[i].key_id);
        }
    }
    char port[16], expect[16];
    snprintf(port, sizeof port, "%d", c->port_server);
    snprintf(expect, sizeof expect, "%d", c->bootstrap_expect);
    const char *kv[][2] = {
        {"role", c->server ? "consul" : "node"},
        {"dc", c->datacenter},
        {"id", a->node_id},
        {"vsn", "2"},
        {"vsn_min", "2"},
        {"vsn_max", "3"},
        {"build", CAIRN_CONSUL_VERSION ":" CAIRN_REVISION},
        {"segment", ""},
        {"port", c->server ? port : NULL},
        {"raft_vsn", c->server ? "3" : NULL},
        {"bootstrap", c->server && c->bootstrap ? "1" : NULL},
        {"expect", c->server && c->bootstrap_expect ? expect : NULL},
        {"kr", *kr ? kr : NULL},
    };
    size_t len = 0;
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
        if (kv[i][1] == NULL)
            continue;
        int n = snprintf((char *)out + len, cap - len, "%s=%s", kv[i][0],
                         kv[i][1]);
        if (n < 0 || len + (size_t)n + 1 > cap)
            break;
        len += (size_t)n + 1; /* keep the NUL */
    }
    return len;
}

/* Tags of a member as a JSON object (new). */
static json_object *tags_json(const struct gossip_member *gm)
{
    json_object *o = json_object_new_object();
    size_t i = 0;
    while (i < gm->meta_len) {
        const char *p = (const char *)gm->meta + i;
        size_t l = strnlen(p, gm->meta_len - i);
        const char *eq = memchr(p, '=', l);
        if (eq != NULL) {
            char key[128];
            snprintf(key, sizeof key, "%.*s", (int)(eq - p), p);
            json_object_object_add(
                o, key, json_object_new_string_len(eq + 1,
                                                   (int)(l - (size_t)(eq - p) - 1)));
        }
        i += l + 1;
    }
    return o;
}

static const char *tag(json_object *tags, const char *k)
{
    json_object *v = NULL;
    return json_object_object_get_ex(tags, k, &v) ? json_object_get_string(v)
                                                  : "";
}

static void publish_tags(struct member *m)
{
    uint8_t meta[GOSSIP_META_MAX];
    size_t len = tags_encode(m, meta, sizeof meta);
    int rv = gossip_set_meta(m->g, meta, len);
    if (rv != 0)
        log_warn("member", "cannot publish tags: %s", gossip_strerror(rv));
}

/* ------------------------------------------------------ member objects */

static int consul_status(enum gossip_state s)
{
    switch (s) {
    case GOSSIP_ALIVE:
    case GOSSIP_SUSPECT:
        return 1;
    case GOSSIP_LEFT:
        return 3;
    case GOSSIP_DEAD:
        return 4;
    }
    return 0;
}

static json_object *member_json(const struct gossip_member *gm)
{
    char addr[64];
    gossip_addr_format(&gm->addr, addr, sizeof addr);
    /* Addr without the port. */
    char *colon = strrchr(addr, ':');
    if (colon)
        *colon = '\0';
    const char *ip = addr;
    if (*ip == '[') {
        ip++;
        addr[strlen(addr) - 1] = '\0';
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "Name", json_object_new_string(gm->name));
    json_object_object_add(o, "Addr", json_object_new_string(ip));
    json_object_object_add(o, "Port", json_object_new_int(gm->addr.port));
    json_object_object_add(o, "Tags", tags_json(gm));
    json_object_object_add(o, "Status",
                           json_object_new_int(consul_status(gm->state)));
    json_object_object_add(o, "ProtocolMin", json_object_new_int(1));
    json_object_object_add(o, "ProtocolMax", json_object_new_int(5));
    json_object_object_add(o, "ProtocolCur", json_object_new_int(2));
    json_object_object_add(o, "DelegateMin", json_object_new_int(2));
    json_object_object_add(o, "DelegateMax", json_object_new_int(5));
    json_object_object_add(o, "DelegateCur", json_object_new_int(4));
    return o;
}

json_object *member_list_json(struct member *m)
{
    size_t n = gossip_member_count(m->g);
    struct gossip_member *ms = calloc(n ? n : 1, sizeof *ms);
    json_object *arr = json_object_new_array();
    if (ms == NULL)
        return arr;
    n = gossip_members(m->g, ms, n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, member_json(&ms[i]));
    free(ms);
    return arr;
}

json_object *member_self_json(struct member *m)
{
    struct gossip_member self;
    gossip_self(m->g, &self);
    return member_json(&self);
}

static void put_stat(json_object *o, const char *k, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    json_object_object_add(o, k, json_object_new_string(buf));
}

json_object *member_stats_json(struct member *m)
{
    struct gossip_stats st;
    gossip_stats(m->g, &st);
    json_object *o = json_object_new_object();
    put_stat(o, "members", gossip_member_count(m->g));
    put_stat(o, "live", gossip_num_live(m->g));
    put_stat(o, "health_score", st.health_score);
    put_stat(o, "probes", st.probes);
    put_stat(o, "probes_failed", st.probes_failed);
    put_stat(o, "probes_refused", st.probes_refused);
    put_stat(o, "watches_lost", st.watches_lost);
    put_stat(o, "suspicions_raised", st.suspicions_started);
    put_stat(o, "suspicions_refuted", st.suspicions_refuted);
    put_stat(o, "members_failed", st.members_failed);
    put_stat(o, "packets_sent", st.pkts_sent);
    put_stat(o, "packets_received", st.pkts_recv);
    put_stat(o, "bytes_sent", st.bytes_sent);
    put_stat(o, "bytes_received", st.bytes_recv);
    put_stat(o, "packets_rejected", st.pkts_rejected);
    put_stat(o, "streams_sent", st.streams_sent);
    put_stat(o, "streams_received", st.streams_recv);
    static const char *const names[GOSSIP_MSG_TYPES] = {
        NULL,    "ping",  "ping_req", "ack",      "nack", "alive",
        "suspect", "dead", "user",    "pushpull", "error"};
    for (int t = 1; t < GOSSIP_MSG_TYPES; t++) {
        char k[48];
        snprintf(k, sizeof k, "msgs_sent_%s", names[t]);
        put_stat(o, k, st.msgs_sent[t]);
        snprintf(k, sizeof k, "msgs_received_%s", names[t]);
        put_stat(o, k, st.msgs_recv[t]);
    }
    put_stat(o, "encrypted", member_encrypted(m));
    return o;
}

/* ------------------------------------------------- catalog (leader only) */

static void catalog_done(void *data, int status, struct fsm_result *res)
{
    (void)data;
    if (status != 0 || (res && res->rc != 0))
        log_debug("member", "catalog update not applied: %s",
                  res && res->err[0] ? res->err : "no leader");
}

static void catalog_write(struct member *m, enum cmd_type type,
                          json_object *req)
{
    size_t len;
    char *payload = json_dump(req, false, &len);
    json_object_put(req);
    if (payload == NULL)
        return;
    struct cmd c = {.type = type,
                    .payload = (const uint8_t *)payload,
                    .payload_len = len};
    raftnode_apply(m->a->raft, &c, catalog_done, NULL, NULL);
    free(payload);
}

/* Current serfHealth status of `node` in the catalog, or NULL. */
static const char *catalog_serf_status(struct member *m, const char *node)
{
    const json_object *chk =
        catalog_get_check(m->a->fsm.catalog, node, SERF_CHECK);
    json_object *v = NULL;
    if (chk == NULL ||
        !json_object_object_get_ex((json_object *)chk, "Status", &v))
        return NULL;
    return json_object_get_string(v);
}

/* Make the catalog agree with member `gm`: alive/suspect -> node with
 * serfHealth passing, failed -> critical, left -> removed. Our own node
 * is anti-entropy's business. */
static void reconcile_member(struct member *m, const struct gossip_member *gm)
{
    struct agent *a = m->a;
    if (gm->is_self || strcmp(gm->name, a->cfg.node_name) == 0 ||
        !raftnode_is_ready_leader(a->raft))
        return;
    bool in_catalog = catalog_get_node(a->fsm.catalog, gm->name) != NULL;
    if (gm->state == GOSSIP_LEFT) {
        if (in_catalog) {
            json_object *req = json_object_new_object();
            json_object_object_add(req, "Node",
                                   json_object_new_string(gm->name));
            catalog_write(m, CMD_CATALOG_DEREGISTER, req);
            log_info("member", "%s left: deregistered from the catalog",
                     gm->name);
        }
        return;
    }
    bool failed = gm->state == GOSSIP_DEAD;
    const char *want = failed ? "critical" : "passing";
    const char *have = catalog_serf_status(m, gm->name);
    if (in_catalog && have && strcmp(have, want) == 0)
        return;
    json_object *tags = tags_json(gm);
    char addr[64];
    gossip_addr_format(&gm->addr, addr, sizeof addr);
    char *colon = strrchr(addr, ':');
    if (colon)
        *colon = '\0';
    const char *ip = addr[0] == '[' ? addr + 1 : addr;
    if (addr[0] == '[')
        addr[strlen(addr) - 1] = '\0';
    json_object *req = json_object_new_object();
    json_object_object_add(req, "Node", json_object_new_string(gm->name));
    json_object_object_add(req, "Address", json_object_new_string(ip));
    if (*tag(tags, "id"))
        json_object_object_add(req, "ID",
                               json_object_new_string(tag(tags, "id")));
    json_object_object_add(req, "Datacenter",
                           json_object_new_string(*tag(tags, "dc")
                                                      ? tag(tags, "dc")
                                                      : a->cfg.datacenter));
    json_object *ta = json_object_new_object();
    json_object_object_add(ta, "lan", json_object_new_string(ip));
    json_object_object_add(ta, "lan_ipv4", json_object_new_string(ip));
    json_object_object_add(ta, "wan", json_object_new_string(ip));
    json_object_object_add(ta, "wan_ipv4", json_object_new_string(ip));
    json_object_object_add(req, "TaggedAddresses", ta);
    if (in_catalog)
        json_object_object_add(req, "SkipNodeUpdate",
                               json_object_new_boolean(1));
    json_object *chk = json_object_new_object();
    json_object_object_add(chk, "Node", json_object_new_string(gm->name));
    json_object_object_add(chk, "CheckID", json_object_new_string(SERF_CHECK));
    json_object_object_add(chk, "Name",
                           json_object_new_string("Serf Health Status"));
    json_object_object_add(chk, "Status", json_object_new_string(want));
    json_object_object_add(
        chk, "Output",
        json_object_new_string(failed ? "Agent not live or unreachable"
                                      : "Agent alive and reachable"));
    json_object_object_add(req, "Check", chk);
    json_object_put(tags);
    catalog_write(m, CMD_CATALOG_REGISTER, req);
}

static void reconcile_all(struct member *m)
{
    struct agent *a = m->a;
    if (!raftnode_is_ready_leader(a->raft))
        return;
    size_t n = gossip_member_count(m->g);
    struct gossip_member *ms = calloc(n ? n : 1, sizeof *ms);
    if (ms == NULL)
        return;
    n = gossip_members(m->g, ms, n);
    for (size_t i = 0; i < n; i++)
        reconcile_member(m, &ms[i]);
    /* Nodes the catalog knows through serfHealth but gossip does not: only
     * once gossip has had time to find everyone after our start, or a
     * restarted server would deregister the whole cluster and re-add it
     * member by member. */
    if (uv_now(a->loop) - m->started_ms < RECONCILE_MS) {
        free(ms);
        return;
    }
    uint64_t idx;
    json_object *nodes = catalog_nodes(a->fsm.catalog, &idx);
    size_t nn = nodes ? json_object_array_length(nodes) : 0;
    for (size_t i = 0; i < nn; i++) {
        json_object *node = json_object_array_get_idx(nodes, i), *v = NULL;
        if (!json_object_object_get_ex(node, "Node", &v))
            continue;
        const char *name = json_object_get_string(v);
        if (strcmp(name, a->cfg.node_name) == 0 ||
            catalog_get_check(a->fsm.catalog, name, SERF_CHECK) == NULL)
            continue;
        bool member = false;
        for (size_t k = 0; k < n && !member; k++)
            member = strcmp(ms[k].name, name) == 0;
        if (!member) {
            json_object *req = json_object_new_object();
            json_object_object_add(req, "Node", json_object_new_string(name));
            catalog_write(m, CMD_CATALOG_DEREGISTER, req);
        }
    }
    json_object_put(nodes);
    free(ms);
}

/* A 1 s tick: reconcile at once after becoming leader, then every 30 s. */
static void reconcile_cb(uv_timer_t *t)
{
    struct member *m = t->data;
    bool leader = raftnode_is_ready_leader(m->a->raft);
    if (leader && (!m->leader_seen ||
                   ++m->reconcile_ticks >= RECONCILE_MS / 1000)) {
        m->reconcile_ticks = 0;
        reconcile_all(m);
    }
    m->leader_seen = leader;
}

/* ---------------------------------------------------------- callbacks */

static void on_member(struct gossip *g, enum gossip_event_type type,
                      const struct gossip_member *gm, void *data)
{
    struct member *m = data;
    (void)g;
    char addr[64];
    gossip_addr_format(&gm->addr, addr, sizeof addr);
    log_info("member", "%s: %s (%s)", gossip_event_name(type), gm->name,
             addr);
    if (type == GOSSIP_EV_SUSPECT || type == GOSSIP_EV_UPDATE)
        return;
    if (type == GOSSIP_EV_REAP) {
        struct gossip_member left = *gm;
        left.state = GOSSIP_LEFT;
        reconcile_member(m, &left);
        return;
    }
    reconcile_member(m, gm);
}

static int save_keyring(struct member *m)
{
    int rv = gossip_keyring_save_ring(m->g, m->keyring_path);
    if (rv != 0)
        log_error("member", "cannot save keyring %s: %s", m->keyring_path,
                  gossip_strerror(rv));
    return rv;
}

/* Apply a keyring operation locally. */
static int keyring_apply(struct member *m, const char *op,
                         const uint8_t key[GOSSIP_KEY_SIZE])
{
    int rv;
    if (strcmp(op, "install") == 0)
        rv = gossip_keyring_install(m->g, key);
    else if (strcmp(op, "use") == 0)
        rv = gossip_keyring_use(m->g, key);
    else if (strcmp(op, "remove") == 0)
        rv = gossip_keyring_remove(m->g, key);
    else
        return -EINVAL;
    if (rv == 0) {
        save_keyring(m);
        publish_tags(m);
    }
    return rv;
}

static void on_user(struct gossip *g, const struct gossip_user_event *ev,
                    void *data)
{
    struct member *m = data;
    (void)g;
    if (ev->name_len != strlen(KEYRING_EVENT) ||
        memcmp(ev->name, KEYRING_EVENT, ev->name_len) != 0)
        return; /* user events reach the event API later */
    /* payload: "<op> <base64 key>" */
    char buf[128];
    if (ev->payload_len >= sizeof buf)
        return;
    memcpy(buf, ev->payload, ev->payload_len);
    buf[ev->payload_len] = '\0';
    char *sp = strchr(buf, ' ');
    if (sp == NULL)
        return;
    *sp = '\0';
    uint8_t key[GOSSIP_KEY_SIZE];
    if (gossip_key_decode(sp + 1, key) != 0)
        return;
    int rv = keyring_apply(m, buf, key);
    sodium_memzero(key, sizeof key);
    sodium_memzero(buf, sizeof buf);
    if (rv != 0 && rv != GOSSIP_E_KEY_MISSING)
        log_warn("member", "keyring %s from the cluster: %s", buf,
                 gossip_strerror(rv));
}

static void gossip_log(void *data, enum gossip_log_level level,
                       const char *msg)
{
    (void)data;
    enum log_level l = level == GOSSIP_LOG_ERROR  ? LOG_ERROR
                       : level == GOSSIP_LOG_WARN ? LOG_WARN
                       : level == GOSSIP_LOG_INFO ? LOG_INFO
                                                  : LOG_DEBUG;
    log_msg(l, "gossip", "%s", msg);
}

/* --------------------------------------------------------------- join */

struct join_req
{
    struct member *m;
    struct gossip_addr *addrs;
    size_t n, pending, resolved;
    void (*cb)(void *data, int status, unsigned n);
    void *data;
};

struct resolve
{
    uv_getaddrinfo_t req;
    struct join_req *j;
    uint16_t port;
};

static void join_done(struct gossip *g, int status, unsigned n, void *data)
{
    struct join_req *j = data;
    (void)g;
    if (status == 0)
        log_info("member", "joined: %u of %zu seeds answered", n, j->resolved);
    else
        log_warn("member", "join failed: %s", gossip_strerror(status));
    if (j->cb)
        j->cb(j->data, status, n);
    free(j->addrs);
    free(j);
}

static void join_go(struct join_req *j)
{
    if (j->resolved == 0) {
        if (j->cb)
            j->cb(j->data, -EHOSTUNREACH, 0);
        free(j->addrs);
        free(j);
        return;
    }
    int rv = gossip_join(j->m->g, j->addrs, j->resolved, join_done, j);
    if (rv != 0) {
        if (j->cb)
            j->cb(j->data, rv, 0);
        free(j->addrs);
        free(j);
    }
}

static void resolved_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct resolve *r = req->data;
    struct join_req *j = r->j;
    if (status == 0 && res != NULL) {
        char ip[64] = "";
        if (res->ai_family == AF_INET)
            uv_ip4_name((struct sockaddr_in *)res->ai_addr, ip, sizeof ip);
        else if (res->ai_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)res->ai_addr, ip, sizeof ip);
        if (*ip && gossip_addr_parse(ip, r->port, &j->addrs[j->resolved]) == 0)
            j->resolved++;
    }
    uv_freeaddrinfo(res);
    free(r);
    if (--j->pending == 0)
        join_go(j);
}

int member_join(struct member *m, const char *const *addrs, size_t n,
                void (*cb)(void *data, int status, unsigned n), void *data,
                char *err, size_t errlen)
{
    uint16_t defport = (uint16_t)m->a->cfg.port_serf_lan;
    struct join_req *j = calloc(1, sizeof *j);
    if (j == NULL || (j->addrs = calloc(n ? n : 1, sizeof *j->addrs)) == NULL) {
        free(j);
        return -ENOMEM;
    }
    j->m = m;
    j->cb = cb;
    j->data = data;
    j->n = n;
    j->pending = 1; /* held until every lookup is started */
    for (size_t i = 0; i < n; i++) {
        if (gossip_addr_parse(addrs[i], defport, &j->addrs[j->resolved]) == 0) {
            j->resolved++;
            continue;
        }
        /* host[:port] by name */
        char host[256];
        snprintf(host, sizeof host, "%s", addrs[i]);
        uint16_t port = defport;
        char *colon = strrchr(host, ':');
        if (colon != NULL && strchr(host, ':') == colon) {
            char *end;
            long p = strtol(colon + 1, &end, 10);
            if (*end != '\0' || p <= 0 || p > 65535) {
                snprintf(err, errlen, "invalid address \"%s\"", addrs[i]);
                continue;
            }
            port = (uint16_t)p;
            *colon = '\0';
        }
        struct resolve *r = calloc(1, sizeof *r);
        if (r == NULL)
            continue;
        r->j = j;
        r->port = port;
        r->req.data = r;
        struct addrinfo hints = {.ai_socktype = SOCK_DGRAM};
        j->pending++;
        if (uv_getaddrinfo(m->a->loop, &r->req, resolved_cb, host, NULL,
                           &hints) != 0) {
            j->pending--;
            free(r);
            snprintf(err, errlen, "cannot resolve \"%s\"", addrs[i]);
        }
    }
    if (--j->pending == 0)
        join_go(j);
    return 0;
}

/* retry_join: every retry_interval until one join succeeds or retry_max
 * attempts (0 = forever). */
static void retry_result(void *data, int status, unsigned n)
{
    struct member *m = data;
    (void)n;
    if (status == 0) {
        m->retry_done = true;
        uv_timer_stop(&m->retry);
    } else if (m->a->cfg.retry_max > 0 &&
               m->retry_attempts >= m->a->cfg.retry_max) {
        log_error("member", "retry_join: giving up after %d attempts",
                  m->retry_attempts);
        m->retry_done = true;
        uv_timer_stop(&m->retry);
    }
}

static void retry_cb(uv_timer_t *t)
{
    struct member *m = t->data;
    const struct cfg *c = &m->a->cfg;
    if (m->retry_done || c->n_retry_join == 0)
        return;
    m->retry_attempts++;
    char err[256] = "";
    member_join(m, (const char *const *)c->retry_join, c->n_retry_join,
                retry_result, m, err, sizeof err);
    if (*err)
        log_warn("member", "retry_join: %s", err);
}

const char *member_strerror(int status)
{
    return gossip_strerror(status);
}

int member_force_leave(struct member *m, const char *node, bool prune)
{
    int rv = gossip_force_leave(m->g, node, prune);
    if (rv == GOSSIP_E_NOT_FOUND)
        return -ENOENT;
    if (rv == 0) {
        struct gossip_member gm;
        if (gossip_member_by_name(m->g, node, &gm) == 0)
            reconcile_member(m, &gm);
        else {
            /* pruned: remove it from the catalog too */
            memset(&gm, 0, sizeof gm);
            snprintf(gm.name, sizeof gm.name, "%s", node);
            gm.state = GOSSIP_LEFT;
            reconcile_member(m, &gm);
        }
    }
    return rv;
}

/* ------------------------------------------------------------ keyring */

bool member_encrypted(const struct member *m)
{
    struct gossip_key_info k;
    return gossip_keyring_list(m->g, &k, 1) > 0;
}

int member_keyring_op(struct member *m, const char *op, const char *key_b64,
                      char *err, size_t errlen)
{
    uint8_t key[GOSSIP_KEY_SIZE];
    int rv = gossip_key_decode(key_b64 ? key_b64 : "", key);
    if (rv != 0) {
        snprintf(err, errlen, "Invalid key: %s",
                 rv == GOSSIP_E_KEY_SIZE ? "key must be 32 bytes"
                                         : "not base64");
        return -EINVAL;
    }
    if (!member_encrypted(m)) {
        snprintf(err, errlen, "Gossip encryption is not enabled on this "
                              "agent");
        sodium_memzero(key, sizeof key);
        return -EINVAL;
    }
    /* Check locally first, so the caller gets the error. */
    struct gossip_key_info keys[GOSSIP_KEYRING_MAX];
    size_t n = gossip_keyring_list(m->g, keys, GOSSIP_KEYRING_MAX);
    bool have = false, primary = false;
    for (size_t i = 0; i < n; i++)
        if (sodium_memcmp(keys[i].key, key, sizeof key) == 0) {
            have = true;
            primary = keys[i].primary;
        }
    sodium_memzero(keys, sizeof keys);
    const char *why = NULL;
    if (strcmp(op, "use") == 0 && !have)
        why = "Requested key is not in the keyring";
    else if (strcmp(op, "remove") == 0 && primary)
        why = "Removing the primary key is not allowed";
    else if (strcmp(op, "install") == 0 && !have && n >= GOSSIP_KEYRING_MAX)
        why = "keyring is full";
    if (why != NULL) {
        snprintf(err, errlen, "%s", why);
        sodium_memzero(key, sizeof key);
        return -EINVAL;
    }
    /* Disseminate (also applied here through on_user). */
    char payload[96];
    char b64[48];
    gossip_key_encode(key, b64);
    snprintf(payload, sizeof payload, "%s %s", op, b64);
    rv = keyring_apply(m, op, key); /* now, so the answer reflects it */
    if (rv == 0 || rv == GOSSIP_E_KEY_MISSING)
        rv = gossip_user_event(m->g, KEYRING_EVENT, (const uint8_t *)payload,
                               strlen(payload), NULL);
    sodium_memzero(payload, sizeof payload);
    sodium_memzero(b64, sizeof b64);
    sodium_memzero(key, sizeof key);
    if (rv != 0) {
        snprintf(err, errlen, "%s", gossip_strerror(rv));
        return -EIO;
    }
    return 0;
}

json_object *member_keyring_json(struct member *m)
{
    struct gossip_key_info keys[GOSSIP_KEYRING_MAX];
    size_t nk = gossip_keyring_list(m->g, keys, GOSSIP_KEYRING_MAX);
    size_t n = gossip_member_count(m->g);
    struct gossip_member *ms = calloc(n ? n : 1, sizeof *ms);
    n = ms ? gossip_members(m->g, ms, n) : 0;
    json_object *all = json_object_new_object(), *prim = json_object_new_object();
    unsigned live = 0;
    long counts[GOSSIP_KEYRING_MAX] = {0}, pcounts[GOSSIP_KEYRING_MAX] = {0};
    for (size_t i = 0; i < n; i++) {
        if (ms[i].state != GOSSIP_ALIVE && ms[i].state != GOSSIP_SUSPECT)
            continue;
        live++;
        json_object *tags = tags_json(&ms[i]);
        const char *kr = tag(tags, "kr");
        for (size_t k = 0; k < nk; k++) {
            char id[9];
            snprintf(id, sizeof id, "%08" PRIx32, keys[k].key_id);
            const char *hit = strstr(kr, id);
            if (hit) {
                counts[k]++;
                if (hit == kr)
                    pcounts[k]++;
            }
        }
        json_object_put(tags);
    }
    for (size_t k = 0; k < nk; k++) {
        char b64[48];
        gossip_key_encode(keys[k].key, b64);
        json_object_object_add(all, b64, json_object_new_int64(counts[k]));
        if (pcounts[k])
            json_object_object_add(prim, b64,
                                   json_object_new_int64(pcounts[k]));
        sodium_memzero(b64, sizeof b64);
    }
    sodium_memzero(keys, sizeof keys);
    free(ms);
    json_object *e = json_object_new_object();
    json_object_object_add(e, "WAN", json_object_new_boolean(0));
    json_object_object_add(e, "Datacenter",
                           json_object_new_string(m->a->cfg.datacenter));
    json_object_object_add(e, "Segment", json_object_new_string(""));
    json_object_object_add(e, "Keys", all);
    json_object_object_add(e, "PrimaryKeys", prim);
    json_object_object_add(e, "NumNodes", json_object_new_int(live));
    json_object_object_add(e, "Messages", json_object_new_object());
    json_object *arr = json_object_new_array();
    json_object_array_add(arr, e);
    return arr;
}

/* ------------------------------------------------------------ lifecycle */

/* Boot generation: read, +1, persist. */
static uint64_t next_generation(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/generation", dir);
    uint64_t gen = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%" SCNu64, &gen) != 1)
            gen = 0;
        fclose(f);
    }
    gen++;
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f) {
        fprintf(f, "%" PRIu64 "\n", gen);
        fflush(f);
        fsync(fileno(f));
        fclose(f);
        rename(tmp, path);
    }
    return gen;
}

static int node_id_bytes(const char *uuid, struct gossip_id *id)
{
    size_t k = 0;
    for (const char *p = uuid; *p && k < 32; p++) {
        if (*p == '-')
            continue;
        int v = (*p >= '0' && *p <= '9')   ? *p - '0'
                : (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10
                : (*p >= 'A' && *p <= 'F') ? *p - 'A' + 10
                                           : -1;
        if (v < 0)
            return -EINVAL;
        if (k % 2 == 0)
            id->b[k / 2] = (uint8_t)(v << 4);
        else
            id->b[k / 2] |= (uint8_t)v;
        k++;
    }
    return k == 32 ? 0 : -EINVAL;
}

int member_start(struct agent *a, struct member **out, char *err,
                 size_t errlen)
{
    const struct cfg *c = &a->cfg;
    struct member *m = calloc(1, sizeof *m);
    if (m == NULL)
        return -ENOMEM;
    m->a = a;
    m->started_ms = uv_now(a->loop);
    snprintf(m->dir, sizeof m->dir, "%s/serf", a->data_dir);
    snprintf(m->keyring_path, sizeof m->keyring_path, "%s/local.keyring",
             m->dir);
    mkdir(m->dir, 0700);

    /* Keys: the persisted keyring wins (it follows rotations); -encrypt
     * seeds it on first start. */
    uint8_t keys[GOSSIP_KEYRING_MAX][GOSSIP_KEY_SIZE];
    int nkeys = gossip_keyring_load(m->keyring_path, keys, GOSSIP_KEYRING_MAX);
    if (nkeys < 0)
        nkeys = 0;
    if (c->encrypt != NULL) {
        uint8_t k[GOSSIP_KEY_SIZE];
        if (gossip_key_decode(c->encrypt, k) != 0) {
            snprintf(err, errlen, "encrypt: invalid key (want base64 of 32 "
                                  "bytes, as `cairn keygen` prints)");
            free(m);
            return -EINVAL;
        }
        if (nkeys == 0) {
            memcpy(keys[0], k, sizeof k);
            nkeys = 1;
            if (gossip_keyring_save(m->keyring_path,
                                    (const uint8_t(*)[GOSSIP_KEY_SIZE])keys,
                                    1) != 0)
                log_warn("member", "cannot write %s", m->keyring_path);
        } else {
            bool found = false;
            for (int i = 0; i < nkeys; i++)
                found = found || sodium_memcmp(keys[i], k, sizeof k) == 0;
            if (!found)
                log_warn("member", "loaded the keyring from %s; the "
                                   "-encrypt key is not in it and is ignored",
                         m->keyring_path);
        }
        sodium_memzero(k, sizeof k);
    }

    struct gossip_config gc;
    enum gossip_profile prof = GOSSIP_PROFILE_LAN;
    if (c->gossip_profile)
        gossip_profile_parse(c->gossip_profile, &prof);
    gossip_config_init(&gc, prof);
    struct gossip_params *gp = &gc.params;
    if (c->gossip_probe_interval_ms)
        gp->probe_interval_ms = (uint32_t)c->gossip_probe_interval_ms;
    if (c->gossip_probe_timeout_ms)
        gp->probe_timeout_ms = (uint32_t)c->gossip_probe_timeout_ms;
    if (c->gossip_interval_ms)
        gp->gossip_interval_ms = (uint32_t)c->gossip_interval_ms;
    if (c->gossip_nodes)
        gp->gossip_nodes = (uint32_t)c->gossip_nodes;
    if (c->gossip_suspicion_mult)
        gp->suspicion_mult = (uint32_t)c->gossip_suspicion_mult;
    if (c->gossip_retransmit_mult)
        gp->retransmit_mult = (uint32_t)c->gossip_retransmit_mult;
    if (!c->gossip_eager_push)
        gp->eager_gap_ms = 0;
    gp->watch_ring = c->gossip_watch_ring;
    if (gossip_params_validate(gp) != 0) {
        snprintf(err, errlen, "gossip_lan: inconsistent values (e.g. "
                              "probe_timeout must be below probe_interval)");
        free(m);
        return -EINVAL;
    }
    node_id_bytes(a->node_id, &gc.id);
    gc.name = c->node_name;
    if (gossip_addr_parse(a->advertise, (uint16_t)c->port_serf_lan,
                          &gc.addr) != 0) {
        snprintf(err, errlen, "advertise address %s is not an IP address",
                 a->advertise);
        free(m);
        return -EINVAL;
    }
    gc.generation = next_generation(m->dir);
    uint8_t meta[GOSSIP_META_MAX];
    gc.meta = meta;
    gc.meta_len = tags_encode(m, meta, sizeof meta);
    gc.keys = (const uint8_t(*)[GOSSIP_KEY_SIZE])keys;
    gc.nkeys = (size_t)nkeys;
    gc.verify_incoming = c->encrypt_verify_incoming;
    gc.verify_outgoing = c->encrypt_verify_outgoing;
    gc.on_member = on_member;
    gc.on_user = on_user;
    gc.data = m;
    struct gossip_uv_options opt = {
        .bind_ip = c->bind_addr,
        .bind_port = (uint16_t)c->port_serf_lan,
        .log = gossip_log,
        .log_data = m,
    };
    int rv = gossip_uv_new(a->loop, &gc, &opt, &m->uv);
    sodium_memzero(keys, sizeof keys);
    if (rv != 0) {
        snprintf(err, errlen, "gossip on %s:%d: %s", c->bind_addr,
                 c->port_serf_lan, gossip_strerror(rv));
        free(m);
        return rv < 0 ? rv : -EIO;
    }
    m->g = gossip_uv_core(m->uv);
    publish_tags(m); /* now with the keyring IDs */
    gossip_start(m->g);
    log_info("member", "gossip on %s:%d (advertise %s), encryption %s",
             c->bind_addr, c->port_serf_lan, a->advertise,
             nkeys ? "on" : "off");

    uv_timer_init(a->loop, &m->retry);
    uv_timer_init(a->loop, &m->reconcile);
    m->retry.data = m->reconcile.data = m;
    m->open_handles = 2;
    uv_timer_start(&m->reconcile, reconcile_cb, 1000, 1000);
    if (c->n_join > 0) {
        char jerr[256] = "";
        member_join(m, (const char *const *)c->join, c->n_join, NULL, NULL,
                    jerr, sizeof jerr);
        if (*jerr)
            log_warn("member", "join: %s", jerr);
    }
    if (c->n_retry_join > 0)
        uv_timer_start(&m->retry, retry_cb, 0,
                       c->retry_interval_ms ? c->retry_interval_ms : 30000);
    *out = m;
    return 0;
}

static void leave_done(struct gossip *g, int status, unsigned n, void *data)
{
    struct member *m = data;
    (void)g;
    (void)n;
    log_info("member", "left the cluster (%s)",
             status == 0 ? "done" : gossip_strerror(status));
    if (m->leave_cb)
        m->leave_cb(m->leave_data);
}

void member_leave(struct member *m, void (*cb)(void *data), void *data)
{
    m->leave_cb = cb;
    m->leave_data = data;
    if (gossip_leave(m->g, LEAVE_TIMEOUT_MS, leave_done, m) != 0 && cb)
        cb(data);
}

static void closed_all(struct member *m)
{
    void (*cb)(void *) = m->close_cb;
    void *data = m->close_data;
    free(m);
    if (cb)
        cb(data);
}

static void uv_closed(void *data)
{
    struct member *m = data;
    if (--m->open_handles == 0)
        closed_all(m);
}

static void timer_closed(uv_handle_t *h)
{
    uv_closed(h->data);
}

void member_close(struct member *m, void (*cb)(void *data), void *data)
{
    m->close_cb = cb;
    m->close_data = data;
    m->open_handles++; /* the gossip transport */
    uv_close((uv_handle_t *)&m->retry, timer_closed);
    uv_close((uv_handle_t *)&m->reconcile, timer_closed);
    gossip_uv_close(m->uv, uv_closed, m);
}
