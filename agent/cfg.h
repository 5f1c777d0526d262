/*
 * cfg — the agent's configuration: command-line flags and YAML/JSON files
 * with Consul's key names (spec/consul-api.md section 10).
 *
 * One directive table in cfg.c (name, type, field offset, default, check)
 * drives the parsing of files; flags map onto the same directives. Files are
 * read with libyaml (JSON is YAML flow syntax, so .json files work too).
 * Precedence: defaults < files (in order: -config-file in the order given,
 * then each -config-dir's *.json / *.yaml / *.yml / *.hcl? no: *.json,
 * *.yaml, *.yml in lexical order) < flags. Later files override scalars.
 *
 * Errors name file:line:column (from the libyaml mark) and are fatal:
 * unknown keys, wrong types, out-of-range values, malformed YAML. Keys that
 * Consul defines but cairn does not implement yet (acl, ui_config,
 * telemetry, primary_datacenter, ...) are accepted with one warning each
 * naming file:line.
 */
#ifndef CAIRN_CFG_H
#define CAIRN_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "log.h"

struct cfg_kv
{
    char *key;
    char *value;
};

struct cfg
{
    /* identity */
    char *node_name;   /* default: hostname */
    char *node_id;     /* UUID string from -node-id / node_id, or NULL */
    char *datacenter;  /* default "dc1"; lower-cased, DNS-safe checked */
    char *data_dir;    /* required unless dev */
    struct cfg_kv *node_meta;
    size_t n_node_meta;

    /* role */
    bool dev;
    bool server;
    bool bootstrap;
    int bootstrap_expect; /* 0 = none */

    /* addresses and ports (-1 disables a listener where Consul allows it) */
    char *bind_addr;      /* default "0.0.0.0" */
    char *advertise_addr; /* default NULL = derived from bind_addr */
    char *client_addr;    /* default "127.0.0.1" */
    int port_http;        /* 8500 */
    int port_dns;         /* 8600 */
    int port_serf_lan;    /* 8301 */
    int port_serf_wan;    /* 8302 */
    int port_server;      /* 8300 */
    int port_raft;        /* 8303 (cairn: raft has its own port) */

    /* cluster joining (gossip; parsed now, active with the gossip issue) */
    char **join; /* start_join + -join */
    size_t n_join;
    char **retry_join;
    size_t n_retry_join;
    uint64_t retry_interval_ms; /* 30s */
    int retry_max;              /* 0 = forever */
    char *encrypt;              /* base64 key or NULL */
    bool encrypt_verify_incoming;
    bool encrypt_verify_outgoing;
    /* gossip timing: profile (lan/wan/local), then gossip_lan overrides
     * (0 = the profile's value) */
    char *gossip_profile;
    uint64_t gossip_probe_interval_ms;
    uint64_t gossip_probe_timeout_ms;
    uint64_t gossip_interval_ms;
    int gossip_nodes;
    int gossip_suspicion_mult;
    int gossip_retransmit_mult;
    bool gossip_eager_push; /* cairn: new broadcasts skip the tick wait */
    bool gossip_watch_ring; /* cairn: watch the ring successor's process */

    /* behaviour */
    enum log_level log_level; /* info (debug in dev) */
    bool log_json;
    char *pid_file;
    bool pretty;              /* dev: pretty-print every JSON answer */
    bool leave_on_terminate;
    bool skip_leave_on_interrupt;
    bool enable_script_checks;
    bool enable_local_script_checks;
    bool disable_update_check;
    uint64_t kv_max_value_size;  /* 524288 */
    uint64_t txn_max_req_len;    /* 524288 */
    int http_max_conns_per_client; /* limits.http_max_conns_per_client, 200 */

    /* services / service and checks / check from the files: arrays of
     * raw definitions (json-c, new references owned by the cfg), each
     * carrying "__pos": "FILE:LINE:COL". Validated with svcdef at load. */
    json_object *services;
    json_object *checks;

    /* raft tuning (Consul keys) */
    uint64_t raft_snapshot_threshold; /* 16384 (8192 in dev is fine too) */
    uint64_t raft_trailing_logs;      /* 10240 */

    /* where it came from, for reload */
    char **config_files;  /* -config-file, in order */
    size_t n_config_files;
    char **config_dirs;   /* -config-dir, in order */
    size_t n_config_dirs;
    char **argv;          /* the agent flags as given (copied), for reload */
    int argc;
};

/* Parse the flags of `cairn agent` (argv[0] is the first flag, not the
 * program name) and every config file they name, into *out (zeroed first).
 * Both "-flag value" and "-flag=value" (and "--flag") are accepted.
 * Returns 0, or -EINVAL with a one-line message in err ("file:line:col:
 * unknown key \"foo\"", "flag -http-port: invalid value \"x\"", ...).
 * On error *out holds nothing to free. */
int cfg_load(struct cfg *out, int argc, char **argv, char *err, size_t errlen);

/* Re-read the same flags and files as `old` (reload). Same contract as
 * cfg_load; `old` is untouched. */
int cfg_reload(const struct cfg *old, struct cfg *out, char *err,
               size_t errlen);

/* Release everything *c owns. */
void cfg_free(struct cfg *c);

/* Print the agent flags with one line each (for `cairn agent -h`). */
void cfg_print_flags(void);

#endif
