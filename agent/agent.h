/*
 * agent — one running `cairn agent`: owns the loop and every module (config,
 * FSM and store, Raft, HTTP), wires them together, handles signals,
 * reload and graceful shutdown.
 */
#ifndef CAIRN_AGENT_H
#define CAIRN_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "cfg.h"
#include "fsm.h"

struct raftnode;
struct http_server;
struct local;
struct check_env;
struct ae;
struct member;

struct agent
{
    uv_loop_t *loop;
    struct cfg cfg;
    char node_id[37];     /* UUID, persisted in data_dir/node-id */
    char *data_dir;       /* cfg.data_dir, or a temporary one in -dev */
    bool tmp_data_dir;    /* remove data_dir at exit */
    uint64_t raft_id;
    char advertise[64];   /* cluster address (IP literal) */
    char rpc_addr[96];    /* advertise:ports.server (what status reports) */
    char raft_addr[96];   /* advertise:ports.raft */
    struct fsm fsm;
    struct raftnode *raft;
    struct raftnode *closed_raft; /* after shutdown, until the loop ends */
    struct http_server *http;
    struct check_env *check_env; /* shared by every check runner */
    struct local *local;         /* this agent's services and checks */
    struct ae *ae;               /* anti-entropy: local state -> catalog */
    struct member *member;       /* gossip membership */
    uv_signal_t sig_int, sig_term, sig_hup;
    uv_timer_t reap_timer;
    uint64_t started_ms;
    bool stopping;
    int exit_code;
};

/* Run `cairn agent` with its flags (argv[0] is the first flag). Returns the
 * process exit code. */
int agent_main(int argc, char **argv);

/* Re-read the config files and apply what can change at run time (log
 * level for now). A bad config leaves the running one in place. Returns 0
 * or -EINVAL with the reason in err. */
int agent_reload(struct agent *a, char *err, size_t errlen);

/* Leave the cluster gracefully, then shut down (PUT /v1/agent/leave). */
void agent_leave(struct agent *a);

/* Highest Raft index this agent has applied (the newest data it can
 * serve); never 0 once the store has data. */
uint64_t agent_max_index(const struct agent *a);

/* Server RPC address ("ip:port") of the current leader, or NULL. */
const char *agent_leader_addr(const struct agent *a);

#endif
