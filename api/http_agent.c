/*
 * http_agent — /v1/status/leader, /v1/status/peers (spec 6) and the agent
 * endpoints that exist before gossip: /v1/agent/self, /v1/agent/members
 * (this agent alone for now), /v1/agent/reload (spec 2.1, 2.2, 2.11).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "http.h"
#include "json.h"
#include "local.h"
#include "member.h"
#include "raftnode.h"
#include "version.h"

void http_status_leader(struct http_req *r)
{
    const char *leader = agent_leader_addr(r->agent);
    http_reply_json(r, 200, json_object_new_string(leader ? leader : ""));
}

void http_status_peers(struct http_req *r)
{
    struct agent *a = r->agent;
    uint64_t ids[64];
    const char *addrs[64];
    unsigned n = raftnode_voters(a->raft, ids, addrs, 64);
    json_object *arr = json_object_new_array();
    for (unsigned i = 0; i < n; i++)
        json_object_array_add(arr, json_object_new_string(
                                       ids[i] == a->raft_id ? a->rpc_addr
                                                            : addrs[i]));
    http_reply_json(r, 200, arr);
}

static json_object *str(const char *s)
{
    return json_object_new_string(s ? s : "");
}

static json_object *member_json(struct agent *a)
{
    const struct cfg *c = &a->cfg;
    char buf[64];
    json_object *m = json_object_new_object();
    json_object_object_add(m, "Name", str(c->node_name));
    json_object_object_add(m, "Addr", str(a->advertise));
    json_object_object_add(m, "Port", json_object_new_int(c->port_serf_lan));
    json_object *tags = json_object_new_object();
    json_object_object_add(tags, "role", str(c->server ? "consul" : "node"));
    json_object_object_add(tags, "dc", str(c->datacenter));
    json_object_object_add(tags, "id", str(a->node_id));
    if (c->server) {
        snprintf(buf, sizeof buf, "%d", c->port_server);
        json_object_object_add(tags, "port", str(buf));
        if (c->bootstrap)
            json_object_object_add(tags, "bootstrap", str("1"));
        if (c->bootstrap_expect) {
            snprintf(buf, sizeof buf, "%d", c->bootstrap_expect);
            json_object_object_add(tags, "expect", str(buf));
        }
        json_object_object_add(tags, "raft_vsn", str("3"));
    }
    json_object_object_add(tags, "vsn", str("2"));
    json_object_object_add(tags, "vsn_min", str("2"));
    json_object_object_add(tags, "vsn_max", str("3"));
    json_object_object_add(tags, "build",
                           str(CAIRN_CONSUL_VERSION ":" CAIRN_REVISION));
    json_object_object_add(tags, "segment", str(""));
    json_object_object_add(m, "Tags", tags);
    json_object_object_add(m, "Status", json_object_new_int(1));
    json_object_object_add(m, "ProtocolMin", json_object_new_int(1));
    json_object_object_add(m, "ProtocolMax", json_object_new_int(5));
    json_object_object_add(m, "ProtocolCur", json_object_new_int(2));
    json_object_object_add(m, "DelegateMin", json_object_new_int(2));
    json_object_object_add(m, "DelegateMax", json_object_new_int(5));
    json_object_object_add(m, "DelegateCur", json_object_new_int(4));
    return m;
}

static void stat_u64(json_object *sec, const char *k, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    json_object_object_add(sec, k, str(buf));
}

void http_agent_self(struct http_req *r)
{
    struct agent *a = r->agent;
    const struct cfg *c = &a->cfg;
    json_object *o = json_object_new_object();

    json_object *cfg = json_object_new_object();
    json_object_object_add(cfg, "Datacenter", str(c->datacenter));
    json_object_object_add(cfg, "PrimaryDatacenter", str(c->datacenter));
    json_object_object_add(cfg, "NodeName", str(c->node_name));
    json_object_object_add(cfg, "NodeID", str(a->node_id));
    json_object_object_add(cfg, "Revision", str(CAIRN_REVISION));
    json_object_object_add(cfg, "Server", json_object_new_boolean(c->server));
    json_object_object_add(cfg, "Version", str(CAIRN_CONSUL_VERSION));
    json_object_object_add(cfg, "BuildDate", str("2026-11-27T00:00:00Z"));
    json_object_object_add(o, "Config", cfg);

    json_object *dbg = json_object_new_object();
    json_object_object_add(dbg, "DataDir", str(a->data_dir));
    json_object_object_add(dbg, "DevMode", json_object_new_boolean(c->dev));
    json_object_object_add(dbg, "ClientAddr", str(c->client_addr));
    json_object_object_add(dbg, "HTTPPort", json_object_new_int(c->port_http));
    json_object_object_add(dbg, "RaftAddr", str(a->raft_addr));
    json_object_object_add(dbg, "LogLevel",
                           str(log_level_name(log_get_level())));
    json_object_object_add(dbg, "KVMaxValueSize",
                           json_object_new_uint64(c->kv_max_value_size));
    json_object_object_add(o, "DebugConfig", dbg);
    json_object_object_add(o, "Coord", NULL);
    json_object_object_add(o, "Member", a->member ? member_self_json(a->member)
                                                  : member_json(a));

    json_object *stats = json_object_new_object();
    json_object *agent = json_object_new_object();
    stat_u64(agent, "checks", a->local ? local_check_count(a->local) : 0);
    stat_u64(agent, "services", a->local ? local_service_count(a->local) : 0);
    stat_u64(agent, "blocking_queries", http_parked(a->http));
    json_object_object_add(stats, "agent", agent);
    json_object *build = json_object_new_object();
    json_object_object_add(build, "version", str(CAIRN_CONSUL_VERSION));
    json_object_object_add(build, "revision", str(CAIRN_REVISION));
    json_object_object_add(build, "prerelease", str(""));
    json_object_object_add(build, "cairn", str(CAIRN_VERSION));
    json_object_object_add(stats, "build", build);
    json_object *raft = json_object_new_object();
    static const char *states[] = {"Unavailable", "Follower", "Candidate",
                                   "Leader"};
    int st = raftnode_state(a->raft);
    json_object_object_add(raft, "state",
                           str(st >= 0 && st <= 3 ? states[st] : "Unknown"));
    stat_u64(raft, "term", raftnode_term(a->raft));
    stat_u64(raft, "last_log_index", raftnode_last_index(a->raft));
    stat_u64(raft, "applied_index", raftnode_applied_index(a->raft));
    stat_u64(raft, "snapshots_taken", a->fsm.snapshots_taken);
    stat_u64(raft, "snapshots_restored", a->fsm.snapshots_restored);
    json_object_object_add(stats, "raft", raft);
    json_object *consul = json_object_new_object();
    json_object_object_add(consul, "server", str(c->server ? "true" : "false"));
    json_object_object_add(consul, "leader",
                           str(raftnode_state(a->raft) == RAFT_LEADER
                                   ? "true"
                                   : "false"));
    json_object_object_add(consul, "known_datacenters", str("1"));
    json_object_object_add(stats, "consul", consul);
    json_object *kvs = json_object_new_object();
    stat_u64(kvs, "keys", kv_count(a->fsm.kv));
    stat_u64(kvs, "tombstones", kv_tombstones(a->fsm.kv));
    stat_u64(kvs, "index", kv_index(a->fsm.kv));
    json_object_object_add(stats, "kv", kvs);
    if (a->member)
        json_object_object_add(stats, "serf_lan",
                               member_stats_json(a->member));
    json_object_object_add(o, "Stats", stats);

    json_object *meta = json_object_new_object();
    for (size_t i = 0; i < c->n_node_meta; i++)
        json_object_object_add(meta, c->node_meta[i].key,
                               str(c->node_meta[i].value));
    json_object_object_add(o, "Meta", meta);
    http_reply_json(r, 200, o);
}

void http_agent_reload(struct http_req *r)
{
    char err[512];
    if (agent_reload(r->agent, err, sizeof err) != 0) {
        http_reply_text(r, 500, "Failed reloading config: %s", err);
        return;
    }
    http_reply_empty(r, 200);
}
