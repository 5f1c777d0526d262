/*
 * cfg — flags and YAML/JSON config files into struct cfg (see cfg.h).
 *
 * Everything is driven by one table, cfg_directives[] below: each row names
 * a Consul file key (dotted when nested: "ports.http"), the `cairn agent`
 * flag that sets the same thing, the value type, the field of struct cfg it
 * lands in, its default and an optional check. Files, flags, defaults and
 * the -dev layer all store values through the same setter
 * (cfg_set_text), so a key behaves the same wherever it comes from.
 *
 * Layers, lowest first: table defaults, the -dev layer, config files
 * (-config-file in order, then each -config-dir's *.json, *.yaml, *.yml in
 * lexical order), flags. Later layers override scalars; string lists are
 * appended (Consul merges slices the same way) and maps merged key by key.
 *
 * Files are parsed with libyaml's document API, so every node keeps the mark
 * (line, column) it started at, and every error names FILE:LINE:COL
 * (1-based; errors about a key point at the key, errors about one element
 * of a list or map point at that element). JSON files go through the same
 * parser: JSON is YAML flow syntax.
 *
 * Keys Consul defines that cairn does not implement yet are rows flagged
 * CFG_D_IGNORED: they load with one warning naming FILE:LINE, whatever their
 * value. Any other key is an error. To implement one of them (say
 * "services"), give it a real type and field; a key whose value is a whole
 * structure would get a new type with its own node walker next to
 * cfg_set_node's list and map cases.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf, vasprintf, explicit_bzero */
#endif
#include "cfg.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "duration.h"
#include "log.h"
#include "svcdef.h"

/* Largest config file read (a guard against reading a device by mistake). */
#define CFG_FILE_MAX (16u << 20)

enum cfg_type {
    CFG_T_NONE,     /* no value of its own (ignored Consul keys) */
    CFG_T_STR,      /* char *, "" stored as NULL */
    CFG_T_BOOL,     /* bool */
    CFG_T_INT,      /* int within min..max (or -1 with CFG_D_DISABLE) */
    CFG_T_U64,      /* uint64_t */
    CFG_T_DUR_MS,   /* Go duration text, stored as uint64_t milliseconds */
    CFG_T_STRLIST,  /* char ** at off, size_t count at n_off; appends */
    CFG_T_STRMAP,   /* struct cfg_kv * at off, size_t count at n_off */
    CFG_T_LOGLEVEL, /* enum log_level */
    CFG_T_JSONLIST, /* json_object * array at off: a mapping, or a list of
                       mappings, converted to JSON and appended */
};

enum {
    CFG_D_IGNORED = 1u << 0,  /* Consul key cairn lacks: warn and skip */
    CFG_D_INACTIVE = 1u << 1, /* stored, no effect yet: "(not yet active)" */
    CFG_D_DISABLE = 1u << 2,  /* CFG_T_INT: -1 is allowed and disables */
    CFG_D_EARLY = 1u << 3,    /* flag applied before the files are read */
    CFG_D_SECRET = 1u << 4,   /* CFG_T_STR wiped before it is freed */
};

/* Setter results inside this file (callers of cfg_load only see -EINVAL
 * or -ENOMEM): CFG_BAD_TYPE means `why` says what was expected ("expected
 * an integer"); CFG_BAD_VALUE means `why` describes the problem on its own
 * ("70000 out of range 1..65535"). */
#define CFG_BAD_TYPE (-EINVAL)
#define CFG_BAD_VALUE (-ERANGE)

/* Check (and possibly normalise in place) a string value. Returns 0 or
 * CFG_BAD_VALUE with a reason in why. */
typedef int (*cfg_check_cb)(char *value, char *why, size_t whylen);

struct cfg_directive
{
    const char *key;  /* file key, dotted when nested; a trailing '*'
                         matches any suffix (ignored keys only); NULL: flag
                         only */
    const char *flag; /* flag name without the '-'; NULL: file only */
    enum cfg_type type;
    size_t off;         /* field in struct cfg */
    size_t n_off;       /* lists and maps: their size_t count field */
    const char *def;    /* default, parsed like any value; NULL: none */
    int64_t min, max;   /* CFG_T_INT range */
    cfg_check_cb check; /* CFG_T_STR only */
    unsigned opts;      /* CFG_D_* */
    const char *help;   /* flag help line */
};

static int cfg_check_uuid(char *s, char *why, size_t whylen);
static int cfg_check_datacenter(char *s, char *why, size_t whylen);
static int cfg_check_encrypt(char *s, char *why, size_t whylen);
static int cfg_check_profile(char *s, char *why, size_t whylen);

#define F(field) offsetof(struct cfg, field)
#define D_STR(k, fl, field, d, chk, o, h)                                     \
    {.key = k, .flag = fl, .type = CFG_T_STR, .off = F(field), .def = d,      \
     .check = chk, .opts = o, .help = h}
#define D_BOOL(k, fl, field, d, o, h)                                         \
    {.key = k, .flag = fl, .type = CFG_T_BOOL, .off = F(field), .def = d,     \
     .opts = o, .help = h}
#define D_INT(k, fl, field, d, lo, hi, o, h)                                  \
    {.key = k, .flag = fl, .type = CFG_T_INT, .off = F(field), .def = d,      \
     .min = lo, .max = hi, .opts = o, .help = h}
#define D_U64(k, fl, field, d, h)                                             \
    {.key = k, .flag = fl, .type = CFG_T_U64, .off = F(field), .def = d,      \
     .help = h}
#define D_DUR(k, fl, field, d, o, h)                                          \
    {.key = k, .flag = fl, .type = CFG_T_DUR_MS, .off = F(field), .def = d,   \
     .opts = o, .help = h}
#define D_LIST(k, fl, field, o, h)                                            \
    {.key = k, .flag = fl, .type = CFG_T_STRLIST, .off = F(field),            \
     .n_off = F(n_##field), .opts = o, .help = h}
#define D_MAP(k, fl, field, o, h)                                             \
    {.key = k, .flag = fl, .type = CFG_T_STRMAP, .off = F(field),             \
     .n_off = F(n_##field), .opts = o, .help = h}
#define D_LEVEL(k, fl, field, d, h)                                           \
    {.key = k, .flag = fl, .type = CFG_T_LOGLEVEL, .off = F(field), .def = d, \
     .help = h}
/* Accepted, validated as type t when given as a flag, never stored. */
#define D_NOOP(k, fl, t, o, h)                                                \
    {.key = k, .flag = fl, .type = t, .opts = CFG_D_IGNORED | (o), .help = h}
/* Structured definitions (services, checks), kept as JSON. */
#define D_JSON(k, field)                                                      \
    {.key = k, .type = CFG_T_JSONLIST, .off = F(field)}
/* A Consul key cairn does not implement yet. */
#define D_CONSUL(k) {.key = k, .type = CFG_T_NONE, .opts = CFG_D_IGNORED}

static const struct cfg_directive cfg_directives[] = {
    /* identity */
    D_STR("node_name", "node", node_name, NULL, NULL, 0,
          "node name (default: the hostname)"),
    D_STR("node_id", "node-id", node_id, NULL, cfg_check_uuid, 0,
          "node ID, a UUID (default: random)"),
    D_STR("datacenter", "datacenter", datacenter, "dc1", cfg_check_datacenter,
          0, "datacenter name (default dc1)"),
    D_STR("data_dir", "data-dir", data_dir, NULL, NULL, 0,
          "directory for agent state (required unless -dev)"),
    D_MAP("node_meta", "node-meta", node_meta, 0,
          "node metadata as key:value"),

    /* role */
    D_BOOL(NULL, "dev", dev, NULL, CFG_D_EARLY,
           "development mode: one in-memory server on 127.0.0.1"),
    D_BOOL("server", "server", server, "false", 0, "run as a server"),
    D_BOOL("bootstrap", "bootstrap", bootstrap, "false", 0,
           "elect this server leader at once (single server)"),
    D_INT("bootstrap_expect", "bootstrap-expect", bootstrap_expect, "0", 0,
          INT_MAX, 0, "servers to wait for before the first election"),

    /* addresses and ports */
    D_STR("bind_addr", "bind", bind_addr, "0.0.0.0", NULL, 0,
          "cluster (gossip, RPC) address (default 0.0.0.0)"),
    D_STR("advertise_addr", "advertise", advertise_addr, NULL, NULL, 0,
          "address announced to the cluster"),
    D_STR("client_addr", "client", client_addr, "127.0.0.1", NULL, 0,
          "HTTP and DNS listen address (default 127.0.0.1)"),
    D_INT("ports.http", "http-port", port_http, "8500", 1, 65535,
          CFG_D_DISABLE, "HTTP API port (default 8500, -1 disables)"),
    D_INT("ports.dns", "dns-port", port_dns, "8600", 1, 65535,
          CFG_D_DISABLE | CFG_D_INACTIVE,
          "DNS port (default 8600, -1 disables)"),
    D_INT("ports.serf_lan", "serf-lan-port", port_serf_lan, "8301", 1, 65535,
          0, "LAN gossip port (default 8301)"),
    D_INT("ports.serf_wan", "serf-wan-port", port_serf_wan, "8302", 1, 65535,
          CFG_D_DISABLE | CFG_D_INACTIVE,
          "WAN gossip port (default 8302, -1 disables)"),
    D_INT("ports.server", "server-port", port_server, "8300", 1, 65535, 0,
          "server RPC port (default 8300)"),
    D_INT("ports.raft", "raft-port", port_raft, "8303", 1, 65535, 0,
          "Raft port (default 8303; cairn only)"),
    D_CONSUL("ports.https"),
    D_CONSUL("ports.grpc"),
    D_CONSUL("ports.grpc_tls"),
    D_CONSUL("ports.sidecar_*"),
    D_CONSUL("ports.expose_*"),
    D_CONSUL("ports.proxy_*"),

    /* joining the cluster */
    D_LIST("start_join", "join", join, 0, "address to join at start"),
    D_LIST("retry_join", "retry-join", retry_join, 0,
           "address to join, retried until it works"),
    D_DUR("retry_interval", "retry-interval", retry_interval_ms, "30s", 0,
          "time between join attempts (default 30s)"),
    D_INT("retry_max", "retry-max", retry_max, "0", 0, INT_MAX, 0,
          "join attempts before giving up (0: forever)"),
    D_STR("encrypt", "encrypt", encrypt, NULL, cfg_check_encrypt,
          CFG_D_SECRET, "gossip encryption key (base64 of 32 bytes)"),
    /* Gossip timing: Consul's gossip_lan block over cairn's profile (lan,
     * wan or local); 0 keeps the profile's value. */
    D_STR("gossip_profile", NULL, gossip_profile, "lan", cfg_check_profile,
          0, NULL),
    D_DUR("gossip_lan.probe_interval", NULL, gossip_probe_interval_ms, "0",
          0, NULL),
    D_DUR("gossip_lan.probe_timeout", NULL, gossip_probe_timeout_ms, "0", 0,
          NULL),
    D_DUR("gossip_lan.gossip_interval", NULL, gossip_interval_ms, "0", 0,
          NULL),
    D_INT("gossip_lan.gossip_nodes", NULL, gossip_nodes, "0", 0, 64, 0, NULL),
    D_INT("gossip_lan.suspicion_mult", NULL, gossip_suspicion_mult, "0", 0,
          64, 0, NULL),
    D_INT("gossip_lan.retransmit_mult", NULL, gossip_retransmit_mult, "0", 0,
          64, 0, NULL),
    /* cairn extension: eager push (gossip.h eager_gap_ms); false gives
     * memberlist's tick-only dissemination. */
    D_BOOL("gossip_lan.eager_push", NULL, gossip_eager_push, "true", 0, NULL),
    /* cairn extension: the watch ring (gossip.h watch_ring). */
    D_BOOL("gossip_lan.watch_ring", NULL, gossip_watch_ring, "true", 0, NULL),
    D_CONSUL("gossip_wan"),
    D_BOOL("encrypt_verify_incoming", NULL, encrypt_verify_incoming, "true",
           0, NULL),
    D_BOOL("encrypt_verify_outgoing", NULL, encrypt_verify_outgoing, "true",
           0, NULL),

    /* behaviour */
    D_LEVEL("log_level", "log-level", log_level, "info",
            "trace, debug, info, warn or error (default info)"),
    D_BOOL("log_json", "log-json", log_json, "false", 0,
           "log one JSON object per line"),
    D_STR("pid_file", "pid-file", pid_file, NULL, NULL, 0,
          "write the agent's PID to this file"),
    /* Defaults depend on server; see cfg_finish. */
    D_BOOL("leave_on_terminate", NULL, leave_on_terminate, NULL, 0, NULL),
    D_BOOL("skip_leave_on_interrupt", NULL, skip_leave_on_interrupt, NULL, 0,
           NULL),
    D_BOOL("enable_script_checks", NULL, enable_script_checks, "false", 0,
           NULL),
    D_BOOL("enable_local_script_checks", NULL, enable_local_script_checks,
           "false", 0, NULL),
    D_BOOL("disable_update_check", NULL, disable_update_check, "false", 0,
           NULL),
    /* Consul reads these two under "limits"; the spec lists them at the
     * top level. Both spellings land in the same field. */
    D_U64("kv_max_value_size", NULL, kv_max_value_size, "524288", NULL),
    D_U64("limits.kv_max_value_size", NULL, kv_max_value_size, NULL, NULL),
    D_U64("txn_max_req_len", NULL, txn_max_req_len, "524288", NULL),
    D_U64("limits.txn_max_req_len", NULL, txn_max_req_len, NULL, NULL),
    D_INT("limits.http_max_conns_per_client", NULL, http_max_conns_per_client,
          "200", 0, INT_MAX, 0, NULL),
    D_CONSUL("limits.*"),
    D_U64("raft_snapshot_threshold", NULL, raft_snapshot_threshold, "16384",
          NULL),
    D_U64("raft_trailing_logs", NULL, raft_trailing_logs, "10240", NULL),

    /* where the configuration comes from */
    D_LIST(NULL, "config-file", config_files, CFG_D_EARLY,
           "config file to load (.json, .yaml or .yml)"),
    D_LIST(NULL, "config-dir", config_dirs, CFG_D_EARLY,
           "directory of *.json, *.yaml, *.yml files, loaded in order"),

    /* accepted, without effect */
    D_NOOP("ui", "ui", CFG_T_BOOL, 0, "enable the web UI (accepted; no UI)"),
    D_NOOP("recursors", "recursor", CFG_T_STRLIST, CFG_D_INACTIVE,
           "upstream DNS server"),
    D_NOOP("disable_host_node_id", "disable-host-node-id", CFG_T_BOOL, 0,
           "do not derive the node ID from the host (accepted)"),

    /* Consul keys cairn does not implement yet: one warning each. */
    D_CONSUL("acl"),
    D_CONSUL("acl_datacenter"),
    D_CONSUL("acl_default_policy"),
    D_CONSUL("acl_down_policy"),
    D_CONSUL("acl_master_token"),
    D_CONSUL("acl_token"),
    D_CONSUL("acl_ttl"),
    D_CONSUL("addresses"),
    D_CONSUL("advertise_addr_ipv4"),
    D_CONSUL("advertise_addr_ipv6"),
    D_CONSUL("advertise_addr_wan"),
    D_CONSUL("advertise_addr_wan_ipv4"),
    D_CONSUL("advertise_addr_wan_ipv6"),
    D_CONSUL("advertise_reconnect_timeout"),
    D_CONSUL("alt_domain"),
    D_CONSUL("audit"),
    D_CONSUL("auto_config"),
    D_CONSUL("auto_encrypt"),
    D_CONSUL("auto_reload_config"),
    D_CONSUL("autopilot"),
    D_CONSUL("ca_file"),
    D_CONSUL("ca_path"),
    D_CONSUL("cert_file"),
    D_JSON("check", checks),
    D_CONSUL("check_output_max_size"),
    D_CONSUL("check_update_interval"),
    D_JSON("checks", checks),
    D_CONSUL("cloud"),
    D_CONSUL("config_entries"),
    D_CONSUL("connect"),
    D_CONSUL("default_query_time"),
    D_CONSUL("disable_anonymous_signature"),
    D_CONSUL("disable_coordinates"),
    D_CONSUL("disable_http_unprintable_char_filter"),
    D_CONSUL("disable_keyring_file"),
    D_CONSUL("disable_remote_exec"),
    D_CONSUL("discard_check_output"),
    D_CONSUL("discovery_max_stale"),
    D_CONSUL("dns_config"),
    D_CONSUL("domain"),
    D_CONSUL("enable_acl_replication"),
    D_CONSUL("enable_agent_tls_for_checks"),
    D_CONSUL("enable_central_service_config"),
    D_CONSUL("enable_debug"),
    D_CONSUL("enable_syslog"),
    D_CONSUL("experiments"),
    D_CONSUL("http_config"),
    D_CONSUL("key_file"),
    D_CONSUL("license_path"),
    D_CONSUL("locality"),
    D_CONSUL("log_file"),
    D_CONSUL("log_rotate_bytes"),
    D_CONSUL("log_rotate_duration"),
    D_CONSUL("log_rotate_max_files"),
    D_CONSUL("max_query_time"),
    D_CONSUL("peering"),
    D_CONSUL("performance"),
    D_CONSUL("primary_datacenter"),
    D_CONSUL("primary_gateways"),
    D_CONSUL("primary_gateways_retry_interval"),
    D_CONSUL("raft_boltdb"),
    D_CONSUL("raft_logstore"),
    D_CONSUL("raft_protocol"),
    D_CONSUL("raft_snapshot_interval"),
    D_CONSUL("read_replica"),
    D_CONSUL("reconnect_timeout"),
    D_CONSUL("reconnect_timeout_wan"),
    D_CONSUL("rejoin_after_leave"),
    D_CONSUL("reporting"),
    D_CONSUL("retry_interval_wan"),
    D_CONSUL("retry_join_wan"),
    D_CONSUL("retry_max_wan"),
    D_CONSUL("rpc"),
    D_CONSUL("segment"),
    D_CONSUL("segments"),
    D_CONSUL("serf_lan"),
    D_CONSUL("serf_lan_allowed_cidrs"),
    D_CONSUL("serf_wan"),
    D_CONSUL("serf_wan_allowed_cidrs"),
    D_CONSUL("server_name"),
    D_JSON("service", services),
    D_JSON("services", services),
    D_CONSUL("session_ttl_min"),
    D_CONSUL("start_join_wan"),
    D_CONSUL("syslog_facility"),
    D_CONSUL("telemetry"),
    D_CONSUL("tls"),
    D_CONSUL("translate_wan_addrs"),
    D_CONSUL("ui_config"),
    D_CONSUL("ui_content_path"),
    D_CONSUL("ui_dir"),
    D_CONSUL("unix_sockets"),
    D_CONSUL("verify_incoming"),
    D_CONSUL("verify_incoming_https"),
    D_CONSUL("verify_incoming_rpc"),
    D_CONSUL("verify_outgoing"),
    D_CONSUL("verify_server_hostname"),
    D_CONSUL("watches"),
    D_CONSUL("xds"),
};

#define CFG_N_DIRECTIVES (sizeof cfg_directives / sizeof cfg_directives[0])

/* What -dev changes, as a layer between the defaults and the files, so
 * that files and flags still win ("-dev -client 0.0.0.0" works). */
static const struct
{
    const char *key;
    const char *value;
} cfg_dev_layer[] = {
    {"server", "true"},
    {"bootstrap", "true"},
    {"datacenter", "dc1"},
    {"log_level", "debug"},
    {"bind_addr", "127.0.0.1"},
    {"advertise_addr", "127.0.0.1"},
    {"client_addr", "127.0.0.1"},
};

/* State of one cfg_load. */
struct cfg_load
{
    struct cfg *c;
    char *err;
    size_t errlen;
    /* Where each directive was last set explicitly, "FILE:LINE:COL" or
     * "flag -x"; NULL: default (or -dev layer). */
    char *where[CFG_N_DIRECTIVES];
};

/* One file being walked. */
struct cfg_file
{
    const char *path;
    yaml_document_t *doc;
};

/* ------------------------------------------------------------------ */
/* Errors */

static int cfg_fail(struct cfg_load *ld, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int cfg_fail(struct cfg_load *ld, int rc, const char *fmt, ...)
{
    if (ld->err != NULL && ld->errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ld->err, ld->errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* "FILE:LINE:COL: " + message, from a libyaml mark (0-based). */
static int cfg_fail_at(struct cfg_load *ld, const char *path, yaml_mark_t m,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int cfg_fail_at(struct cfg_load *ld, const char *path, yaml_mark_t m,
                       const char *fmt, ...)
{
    if (ld->err == NULL || ld->errlen == 0)
        return -EINVAL;
    int n = snprintf(ld->err, ld->errlen, "%s:%zu:%zu: ", path, m.line + 1,
                     m.column + 1);
    if (n >= 0 && (size_t)n < ld->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* The error for a setter result `rc` about directive `d`, whose value came
 * from the file node at `m` (path != NULL) or from a flag (path == NULL). */
static int cfg_fail_value(struct cfg_load *ld, const char *path,
                          yaml_mark_t m, const char *keyname, int rc,
                          const char *value, const char *why)
{
    if (rc == -ENOMEM)
        return cfg_fail(ld, -ENOMEM, "out of memory");
    if (path != NULL)
        return cfg_fail_at(ld, path, m, "key \"%s\": %s", keyname, why);
    if (rc == CFG_BAD_TYPE)
        return cfg_fail(ld, -EINVAL, "flag -%s: invalid value \"%s\": %s",
                        keyname, value, why);
    return cfg_fail(ld, -EINVAL, "flag -%s: %s", keyname, why);
}

static const char *cfg_type_expect(enum cfg_type t)
{
    switch (t) {
    case CFG_T_STR:
        return "expected a string";
    case CFG_T_BOOL:
        return "expected a boolean (true or false)";
    case CFG_T_INT:
        return "expected an integer";
    case CFG_T_U64:
        return "expected a non-negative integer";
    case CFG_T_DUR_MS:
        return "expected a duration like \"30s\" or \"1m30s\"";
    case CFG_T_STRLIST:
        return "expected a list of strings";
    case CFG_T_STRMAP:
        return "expected a mapping of strings to strings";
    case CFG_T_LOGLEVEL:
        return "expected a log level (trace, debug, info, warn, error)";
    case CFG_T_JSONLIST:
        return "expected a mapping or a list of mappings";
    case CFG_T_NONE:
        break;
    }
    return "unexpected value";
}

/* ------------------------------------------------------------------ */
/* Checks */

static int cfg_check_uuid(char *s, char *why, size_t whylen)
{
    static const size_t groups[] = {8, 4, 4, 4, 12};
    const char *p = s;
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        if (g > 0 && *p++ != '-')
            goto bad;
        for (size_t i = 0; i < groups[g]; i++, p++) {
            bool hex = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
                       (*p >= 'A' && *p <= 'F');
            if (!hex)
                goto bad;
        }
    }
    if (*p != '\0')
        goto bad;
    for (char *q = s; *q; q++)
        if (*q >= 'A' && *q <= 'F')
            *q = (char)(*q - 'A' + 'a');
    return 0;
bad:
    snprintf(why, whylen,
             "invalid UUID \"%s\" (want 8-4-4-4-12 hexadecimal digits)", s);
    return CFG_BAD_VALUE;
}

/* Consul lower-cases the datacenter, then allows only [a-z0-9_-]. */
static int cfg_check_datacenter(char *s, char *why, size_t whylen)
{
    for (char *q = s; *q; q++)
        if (*q >= 'A' && *q <= 'Z')
            *q = (char)(*q - 'A' + 'a');
    for (const char *q = s; *q; q++) {
        if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') ||
              *q == '-' || *q == '_')) {
            snprintf(why, whylen,
                     "invalid datacenter \"%s\": only a-z, 0-9, '-' and '_' "
                     "are allowed",
                     s);
            return CFG_BAD_VALUE;
        }
    }
    return 0;
}

static int cfg_check_profile(char *s, char *why, size_t whylen)
{
    if (strcmp(s, "lan") == 0 || strcmp(s, "wan") == 0 ||
        strcmp(s, "local") == 0)
        return 0;
    snprintf(why, whylen, "gossip_profile must be lan, wan or local");
    return CFG_BAD_VALUE;
}

/* A gossip key: standard base64 (padded) of 16, 24 or 32 bytes. */
static int cfg_check_encrypt(char *s, char *why, size_t whylen)
{
    size_t len = strlen(s), pad = 0;
    bool ok = len > 0 && len % 4 == 0;
    for (size_t i = 0; ok && i < len; i++) {
        char ch = s[i];
        if (ch == '=') {
            pad++;
            ok = i >= len - 2;
        } else {
            ok = pad == 0 && ((ch >= 'A' && ch <= 'Z') ||
                              (ch >= 'a' && ch <= 'z') ||
                              (ch >= '0' && ch <= '9') || ch == '+' ||
                              ch == '/');
        }
    }
    size_t n = ok ? len / 4 * 3 - pad : 0;
    if (n != 16 && n != 24 && n != 32) {
        /* Do not echo the key: it is a secret even when malformed. */
        snprintf(why, whylen,
                 "invalid key: want base64 of 16, 24 or 32 bytes "
                 "(see cairn keygen)");
        return CFG_BAD_VALUE;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Values */

static void *cfg_field(struct cfg *c, const struct cfg_directive *d)
{
    return (char *)c + d->off;
}

static size_t *cfg_count(struct cfg *c, const struct cfg_directive *d)
{
    return (size_t *)(void *)((char *)c + d->n_off);
}

/* true/false as Go's strconv.ParseBool reads them, plus YAML 1.1's
 * yes/no/on/off. */
static bool cfg_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "t", "1", "yes", "on"};
    static const char *const no[] = {"false", "f", "0", "no", "off"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Decimal, optional sign, nothing else. 0, CFG_BAD_TYPE or CFG_BAD_VALUE
 * (beyond int64). */
static int cfg_parse_int(const char *s, int64_t *out)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (*p < '0' || *p > '9')
        return CFG_BAD_TYPE;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return CFG_BAD_TYPE;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE)
        return CFG_BAD_VALUE;
    *out = v;
    return 0;
}

static int cfg_parse_u64(const char *s, uint64_t *out)
{
    const char *p = s;
    if (*p == '+')
        p++;
    if (*p < '0' || *p > '9')
        return CFG_BAD_TYPE;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return CFG_BAD_TYPE;
    errno = 0;
    unsigned long long v = strtoull(p, NULL, 10);
    if (errno == ERANGE)
        return CFG_BAD_VALUE;
    *out = v;
    return 0;
}

static void cfg_free_string(const struct cfg_directive *d, char *s)
{
    if (s != NULL && (d->opts & CFG_D_SECRET))
        explicit_bzero(s, strlen(s));
    free(s);
}

static int cfg_list_append(struct cfg *c, const struct cfg_directive *d,
                           const char *value)
{
    char ***list = cfg_field(c, d);
    size_t *n = cfg_count(c, d);
    char *copy = strdup(value);
    if (copy == NULL)
        return -ENOMEM;
    char **grown = realloc(*list, (*n + 1) * sizeof **list);
    if (grown == NULL) {
        free(copy);
        return -ENOMEM;
    }
    grown[(*n)++] = copy;
    *list = grown;
    return 0;
}

static int cfg_map_put(struct cfg *c, const struct cfg_directive *d,
                       const char *key, size_t keylen, const char *value)
{
    struct cfg_kv **map = cfg_field(c, d);
    size_t *n = cfg_count(c, d);
    char *v = strdup(value);
    if (v == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < *n; i++) {
        if (strlen((*map)[i].key) == keylen &&
            memcmp((*map)[i].key, key, keylen) == 0) {
            free((*map)[i].value);
            (*map)[i].value = v;
            return 0;
        }
    }
    char *k = strndup(key, keylen);
    struct cfg_kv *grown = k ? realloc(*map, (*n + 1) * sizeof **map) : NULL;
    if (grown == NULL) {
        free(k);
        free(v);
        return -ENOMEM;
    }
    grown[*n].key = k;
    grown[*n].value = v;
    (*n)++;
    *map = grown;
    return 0;
}

/* Parse `text` as a value of d and store it in c: scalars replace, a list
 * gets one more element, a map one "key:value" pair (the flag form).
 * Ignored directives are parsed and dropped. Returns 0, CFG_BAD_TYPE or
 * CFG_BAD_VALUE with `why` set, or -ENOMEM. */
static int cfg_set_text(struct cfg *c, const struct cfg_directive *d,
                        const char *text, char *why, size_t whylen)
{
    bool store = !(d->opts & CFG_D_IGNORED);
    int rc = 0;

    switch (d->type) {
    case CFG_T_NONE:
        return 0;
    case CFG_T_JSONLIST: /* only from files (cfg_set_node) */
        snprintf(why, whylen, "%s", cfg_type_expect(d->type));
        return CFG_BAD_TYPE;
    case CFG_T_STR: {
        char *v = NULL;
        if (*text != '\0' && (v = strdup(text)) == NULL)
            return -ENOMEM;
        if (v != NULL && d->check != NULL &&
            (rc = d->check(v, why, whylen)) != 0) {
            cfg_free_string(d, v);
            return rc;
        }
        if (!store) {
            cfg_free_string(d, v);
            return 0;
        }
        char **f = cfg_field(c, d);
        cfg_free_string(d, *f);
        *f = v;
        return 0;
    }
    case CFG_T_BOOL: {
        bool b;
        if (!cfg_parse_bool(text, &b))
            break;
        if (store)
            *(bool *)cfg_field(c, d) = b;
        return 0;
    }
    case CFG_T_INT: {
        int64_t v;
        rc = cfg_parse_int(text, &v);
        if (rc == CFG_BAD_TYPE)
            break;
        if (rc != 0 || ((v < d->min || v > d->max) &&
                        !(v == -1 && (d->opts & CFG_D_DISABLE)))) {
            snprintf(why, whylen, "%s out of range %lld..%lld%s", text,
                     (long long)d->min, (long long)d->max,
                     (d->opts & CFG_D_DISABLE) ? " (or -1 to disable)" : "");
            return CFG_BAD_VALUE;
        }
        if (store)
            *(int *)cfg_field(c, d) = (int)v;
        return 0;
    }
    case CFG_T_U64: {
        uint64_t v;
        rc = cfg_parse_u64(text, &v);
        if (rc == CFG_BAD_TYPE)
            break;
        if (rc != 0) {
            snprintf(why, whylen, "%s out of range", text);
            return CFG_BAD_VALUE;
        }
        if (store)
            *(uint64_t *)cfg_field(c, d) = v;
        return 0;
    }
    case CFG_T_DUR_MS: {
        int64_t ns;
        if (duration_parse(text, &ns) != 0)
            break;
        if (ns < 0) {
            snprintf(why, whylen, "duration \"%s\" must not be negative",
                     text);
            return CFG_BAD_VALUE;
        }
        if (store)
            *(uint64_t *)cfg_field(c, d) = (uint64_t)ns / 1000000u;
        return 0;
    }
    case CFG_T_LOGLEVEL: {
        enum log_level level;
        if (log_level_parse(text, &level) != 0)
            break;
        if (store)
            *(enum log_level *)cfg_field(c, d) = level;
        return 0;
    }
    case CFG_T_STRLIST:
        return store ? cfg_list_append(c, d, text) : 0;
    case CFG_T_STRMAP: {
        /* "key:value" (Consul's -node-meta form); no ':' = empty value. */
        const char *colon = strchr(text, ':');
        size_t klen = colon ? (size_t)(colon - text) : strlen(text);
        if (klen == 0) {
            snprintf(why, whylen, "expected key:value");
            return CFG_BAD_TYPE;
        }
        return store ? cfg_map_put(c, d, text, klen, colon ? colon + 1 : "")
                     : 0;
    }
    }
    snprintf(why, whylen, "%s", cfg_type_expect(d->type));
    return CFG_BAD_TYPE;
}

/* Remember where directive d was set last (for later errors and for
 * defaults that depend on whether a key was given). */
static int cfg_note_set(struct cfg_load *ld, const struct cfg_directive *d,
                        const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int cfg_note_set(struct cfg_load *ld, const struct cfg_directive *d,
                        const char *fmt, ...)
{
    size_t i = (size_t)(d - cfg_directives);
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return cfg_fail(ld, -ENOMEM, "out of memory");
    free(ld->where[i]);
    ld->where[i] = s;
    return 0;
}

/* Where the field at `off` was last set explicitly, or NULL. */
static const char *cfg_where(const struct cfg_load *ld, size_t off)
{
    for (size_t i = 0; i < CFG_N_DIRECTIVES; i++)
        if (!(cfg_directives[i].opts & CFG_D_IGNORED) &&
            cfg_directives[i].off == off && ld->where[i] != NULL)
            return ld->where[i];
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Lookup */

static const struct cfg_directive *cfg_find_key(const char *path)
{
    for (size_t i = 0; i < CFG_N_DIRECTIVES; i++) {
        const char *k = cfg_directives[i].key;
        if (k != NULL && strcmp(k, path) == 0)
            return &cfg_directives[i];
    }
    for (size_t i = 0; i < CFG_N_DIRECTIVES; i++) {
        const char *k = cfg_directives[i].key;
        size_t n = k ? strlen(k) : 0;
        if (n > 0 && k[n - 1] == '*' && strncmp(k, path, n - 1) == 0)
            return &cfg_directives[i];
    }
    return NULL;
}

/* Is `path` a section, a mapping of nested keys ("ports", "limits")? */
static bool cfg_is_section(const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < CFG_N_DIRECTIVES; i++) {
        const char *k = cfg_directives[i].key;
        if (k != NULL && strncmp(k, path, n) == 0 && k[n] == '.')
            return true;
    }
    return false;
}

static const struct cfg_directive *cfg_find_flag(const char *name,
                                                 size_t len)
{
    for (size_t i = 0; i < CFG_N_DIRECTIVES; i++) {
        const char *f = cfg_directives[i].flag;
        if (f != NULL && strlen(f) == len && memcmp(f, name, len) == 0)
            return &cfg_directives[i];
    }
    return NULL;
}

static const struct cfg_directive *cfg_find_exact(const char *key)
{
    const struct cfg_directive *d = cfg_find_key(key);
    return d != NULL && strcmp(d->key, key) == 0 ? d : NULL;
}

/* ------------------------------------------------------------------ */
/* Files */

static bool cfg_node_is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return n->data.scalar.length == 0 || strcmp(v, "~") == 0 ||
           strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

/* A scalar's text, or NULL if it holds a NUL byte. */
static const char *cfg_scalar(const yaml_node_t *n)
{
    const char *v = (const char *)n->data.scalar.value;
    return strlen(v) == n->data.scalar.length ? v : NULL;
}

/* A YAML node as JSON: mappings -> objects, sequences -> arrays, plain
 * scalars true/false/null/integers/floats typed as YAML 1.2's core schema
 * would, everything else a string. NULL on a NUL byte, a non-string key,
 * too deep a nesting or out of memory. */
static json_object *cfg_yaml_json(yaml_document_t *doc, yaml_node_t *n,
                                  int depth)
{
    if (depth > 32)
        return NULL;
    if (n->type == YAML_MAPPING_NODE) {
        json_object *o = json_object_new_object();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
             p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            yaml_node_t *v = yaml_document_get_node(doc, p->value);
            const char *ks = k->type == YAML_SCALAR_NODE ? cfg_scalar(k) : NULL;
            json_object *jv = ks ? cfg_yaml_json(doc, v, depth + 1) : NULL;
            if (jv == NULL && !(ks && cfg_node_is_null(v))) {
                json_object_put(o);
                return NULL;
            }
            json_object_object_add(o, ks, jv);
        }
        return o;
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        json_object *a = json_object_new_array();
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             it < n->data.sequence.items.top; it++) {
            yaml_node_t *e = yaml_document_get_node(doc, *it);
            json_object *je = cfg_yaml_json(doc, e, depth + 1);
            if (je == NULL && !cfg_node_is_null(e)) {
                json_object_put(a);
                return NULL;
            }
            json_object_array_add(a, je);
        }
        return a;
    }
    const char *t = cfg_scalar(n);
    if (t == NULL || cfg_node_is_null(n))
        return NULL;
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        if (strcmp(t, "true") == 0 || strcmp(t, "false") == 0)
            return json_object_new_boolean(t[0] == 't');
        char *end;
        errno = 0;
        long long ll = strtoll(t, &end, 10);
        if (*t && *end == '\0' && errno == 0)
            return json_object_new_int64(ll);
        errno = 0;
        double dv = strtod(t, &end);
        if (*t && *end == '\0' && errno == 0 && strpbrk(t, ".eE"))
            return json_object_new_double(dv);
    }
    return json_object_new_string_len(t, (int)n->data.scalar.length);
}

/* Append mapping node m to the JSON list at d's field, tagged with its
 * position for later error messages. */
static int cfg_json_append(struct cfg_load *ld, const struct cfg_file *f,
                           const struct cfg_directive *d, yaml_node_t *m,
                           const char *path)
{
    if (m->type != YAML_MAPPING_NODE)
        return cfg_fail_at(ld, f->path, m->start_mark, "key \"%s\": %s", path,
                           cfg_type_expect(d->type));
    json_object *o = cfg_yaml_json(f->doc, m, 0);
    if (o == NULL)
        return cfg_fail_at(ld, f->path, m->start_mark,
                           "key \"%s\": unreadable definition", path);
    char pos[4200];
    snprintf(pos, sizeof pos, "%s:%zu:%zu", f->path, m->start_mark.line + 1,
             m->start_mark.column + 1);
    json_object_object_add(o, "__pos", json_object_new_string(pos));
    json_object **list = cfg_field(ld->c, d);
    if (*list == NULL)
        *list = json_object_new_array();
    json_object_array_add(*list, o);
    return 0;
}

/* Set directive d (key node k at `path`) from value node v. */
static int cfg_set_node(struct cfg_load *ld, const struct cfg_file *f,
                        const struct cfg_directive *d, const yaml_node_t *k,
                        yaml_node_t *v, const char *path)
{
    char why[256];
    const char *text;
    int rc;

    switch (d->type) {
    case CFG_T_JSONLIST:
        if (v->type == YAML_SEQUENCE_NODE) {
            for (yaml_node_item_t *it = v->data.sequence.items.start;
                 it < v->data.sequence.items.top; it++) {
                rc = cfg_json_append(ld, f, d,
                                     yaml_document_get_node(f->doc, *it),
                                     path);
                if (rc != 0)
                    return rc;
            }
            return 0;
        }
        return cfg_json_append(ld, f, d, v, path);
    case CFG_T_STRLIST:
        if (v->type != YAML_SEQUENCE_NODE)
            return cfg_fail_at(ld, f->path, k->start_mark, "key \"%s\": %s",
                               path, cfg_type_expect(d->type));
        for (yaml_node_item_t *it = v->data.sequence.items.start;
             it < v->data.sequence.items.top; it++) {
            yaml_node_t *e = yaml_document_get_node(f->doc, *it);
            if (e->type != YAML_SCALAR_NODE || cfg_node_is_null(e) ||
                (text = cfg_scalar(e)) == NULL)
                return cfg_fail_at(ld, f->path, e->start_mark,
                                   "key \"%s\": %s", path,
                                   cfg_type_expect(d->type));
            rc = cfg_set_text(ld->c, d, text, why, sizeof why);
            if (rc != 0)
                return cfg_fail_value(ld, f->path, e->start_mark, path, rc,
                                      text, why);
        }
        return 0;
    case CFG_T_STRMAP:
        if (v->type != YAML_MAPPING_NODE)
            return cfg_fail_at(ld, f->path, k->start_mark, "key \"%s\": %s",
                               path, cfg_type_expect(d->type));
        for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
             p < v->data.mapping.pairs.top; p++) {
            yaml_node_t *mk = yaml_document_get_node(f->doc, p->key);
            yaml_node_t *mv = yaml_document_get_node(f->doc, p->value);
            const char *ktext = NULL, *vtext = NULL;
            if (mk->type == YAML_SCALAR_NODE)
                ktext = cfg_scalar(mk);
            if (ktext == NULL || *ktext == '\0')
                return cfg_fail_at(ld, f->path, mk->start_mark,
                                   "key \"%s\": %s", path,
                                   cfg_type_expect(d->type));
            if (mv->type == YAML_SCALAR_NODE)
                vtext = cfg_node_is_null(mv) ? "" : cfg_scalar(mv);
            if (vtext == NULL)
                return cfg_fail_at(ld, f->path, mv->start_mark,
                                   "key \"%s\": %s", path,
                                   cfg_type_expect(d->type));
            rc = cfg_map_put(ld->c, d, ktext, strlen(ktext), vtext);
            if (rc != 0)
                return cfg_fail(ld, rc, "out of memory");
        }
        return 0;
    default:
        break;
    }

    /* Scalars. Numbers and booleans must be plain: a quoted "8500" is a
     * string, as it would be in Consul's JSON. */
    bool plain_only = d->type == CFG_T_INT || d->type == CFG_T_U64 ||
                      d->type == CFG_T_BOOL;
    if (v->type != YAML_SCALAR_NODE ||
        (plain_only && v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE))
        return cfg_fail_at(ld, f->path, k->start_mark, "key \"%s\": %s", path,
                           cfg_type_expect(d->type));
    if ((text = cfg_scalar(v)) == NULL)
        return cfg_fail_at(ld, f->path, k->start_mark,
                           "key \"%s\": value contains a NUL byte", path);
    rc = cfg_set_text(ld->c, d, text, why, sizeof why);
    if (rc != 0)
        return cfg_fail_value(ld, f->path, k->start_mark, path, rc, text,
                              why);
    return 0;
}

static int cfg_walk_mapping(struct cfg_load *ld, const struct cfg_file *f,
                            yaml_node_t *map, const char *prefix)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(f->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(f->doc, p->value);
        const char *name =
            k->type == YAML_SCALAR_NODE ? cfg_scalar(k) : NULL;
        if (name == NULL)
            return cfg_fail_at(ld, f->path, k->start_mark,
                               "a key must be a string");

        char path[256];
        int n = snprintf(path, sizeof path, "%s%s%s", prefix,
                         *prefix ? "." : "", name);
        const struct cfg_directive *d = NULL;
        /* A '.' inside a name would alias a nested key ("ports.http"). */
        if (n >= 0 && (size_t)n < sizeof path && strchr(name, '.') == NULL)
            d = cfg_find_key(path);
        if (d == NULL) {
            if (strchr(name, '.') != NULL || !cfg_is_section(path))
                return cfg_fail_at(ld, f->path, k->start_mark,
                                   "unknown key \"%s\"", path);
            if (cfg_node_is_null(v))
                continue;
            if (v->type != YAML_MAPPING_NODE)
                return cfg_fail_at(ld, f->path, k->start_mark,
                                   "key \"%s\": expected a mapping", path);
            int rc = cfg_walk_mapping(ld, f, v, path);
            if (rc != 0)
                return rc;
            continue;
        }
        if (d->opts & CFG_D_IGNORED) {
            log_warn("cfg", "%s:%zu: key \"%s\" is not supported by cairn "
                            "yet; ignored",
                     f->path, k->start_mark.line + 1, path);
            continue;
        }
        /* "key:" or "key: null" leaves the key as it was. */
        if (cfg_node_is_null(v))
            continue;
        int rc = cfg_set_node(ld, f, d, k, v, path);
        if (rc == 0)
            rc = cfg_note_set(ld, d, "%s:%zu:%zu", f->path,
                              k->start_mark.line + 1,
                              k->start_mark.column + 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Turn a libyaml failure into "FILE:LINE:COL: malformed YAML: ...". */
static int cfg_yaml_error(struct cfg_load *ld, const char *path,
                          const yaml_parser_t *p, const char *buf, size_t len)
{
    const char *problem = p->problem ? p->problem : "unknown error";
    yaml_mark_t m = p->problem_mark;

    switch (p->error) {
    case YAML_MEMORY_ERROR:
        return cfg_fail(ld, -ENOMEM, "%s: out of memory", path);
    case YAML_READER_ERROR:
        /* The reader reports a byte offset, not a mark: count lines and
         * characters (UTF-8 lead bytes) up to it. */
        memset(&m, 0, sizeof m);
        for (size_t i = 0; i < p->problem_offset && i < len; i++) {
            if (buf[i] == '\n') {
                m.line++;
                m.column = 0;
            } else if (((unsigned char)buf[i] & 0xC0) != 0x80) {
                m.column++;
            }
        }
        return cfg_fail_at(ld, path, m, "malformed YAML: %s", problem);
    case YAML_SCANNER_ERROR:
    case YAML_PARSER_ERROR:
    case YAML_COMPOSER_ERROR:
        if (p->context != NULL)
            return cfg_fail_at(ld, path, m,
                               "malformed YAML: %s (%s started at %zu:%zu)",
                               problem, p->context, p->context_mark.line + 1,
                               p->context_mark.column + 1);
        return cfg_fail_at(ld, path, m, "malformed YAML: %s", problem);
    default:
        return cfg_fail_at(ld, path, m, "malformed YAML: %s", problem);
    }
}

static int cfg_read_file(struct cfg_load *ld, const char *path, char **out,
                         size_t *outlen)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return cfg_fail(ld, -EINVAL, "config file \"%s\": %s", path,
                        strerror(errno));
    if (S_ISDIR(st.st_mode))
        return cfg_fail(ld, -EINVAL,
                        "config file \"%s\": is a directory (use -config-dir)",
                        path);
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return cfg_fail(ld, -EINVAL, "config file \"%s\": %s", path,
                        strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            char *grown = ncap <= CFG_FILE_MAX ? realloc(buf, ncap) : NULL;
            if (grown == NULL) {
                rc = ncap <= CFG_FILE_MAX
                         ? cfg_fail(ld, -ENOMEM, "out of memory")
                         : cfg_fail(ld, -EINVAL,
                                    "config file \"%s\": larger than %u "
                                    "bytes",
                                    path, CFG_FILE_MAX);
                break;
            }
            buf = grown;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, fp);
        len += got;
        if (got == 0) {
            if (ferror(fp))
                rc = cfg_fail(ld, -EINVAL, "config file \"%s\": read error",
                              path);
            break;
        }
    }
    fclose(fp);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *outlen = len;
    return 0;
}

static int cfg_load_file(struct cfg_load *ld, const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = cfg_read_file(ld, path, &buf, &len);
    if (rc != 0)
        return rc;

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        free(buf);
        return cfg_fail(ld, -ENOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    /* Load every document: a syntax error after the first one only shows
     * when the parser gets there. */
    for (bool first = true; rc == 0; first = false) {
        yaml_document_t doc;
        if (!yaml_parser_load(&parser, &doc)) {
            rc = cfg_yaml_error(ld, path, &parser, buf, len);
            break;
        }
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (root == NULL) { /* end of the stream */
            yaml_document_delete(&doc);
            break;
        }
        struct cfg_file f = {.path = path, .doc = &doc};
        if (!first)
            rc = cfg_fail_at(ld, path, root->start_mark,
                             "more than one YAML document");
        else if (cfg_node_is_null(root))
            rc = 0; /* only comments, or "---" */
        else if (root->type != YAML_MAPPING_NODE)
            rc = cfg_fail_at(ld, path, root->start_mark,
                             "expected a mapping of config keys");
        else
            rc = cfg_walk_mapping(ld, &f, root, "");
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    free(buf);
    return rc;
}

static bool cfg_is_config_name(const char *name)
{
    static const char *const exts[] = {".json", ".yaml", ".yml"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        size_t e = strlen(exts[i]);
        if (n > e && strcmp(name + n - e, exts[i]) == 0)
            return true;
    }
    return false;
}

static int cfg_strcmp_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void cfg_free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int cfg_load_dir(struct cfg_load *ld, const char *dir)
{
    DIR *dp = opendir(dir);
    if (dp == NULL)
        return cfg_fail(ld, -EINVAL, "config dir \"%s\": %s", dir,
                        strerror(errno));
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        if (!cfg_is_config_name(de->d_name))
            continue;
        char *name = strdup(de->d_name);
        char **grown = name ? realloc(names, (n + 1) * sizeof *names) : NULL;
        if (grown == NULL) {
            free(name);
            rc = cfg_fail(ld, -ENOMEM, "out of memory");
            break;
        }
        names = grown;
        names[n++] = name;
    }
    closedir(dp);
    if (rc == 0 && n > 0)
        qsort(names, n, sizeof *names, cfg_strcmp_ptr);

    size_t dlen = strlen(dir);
    const char *sep = dlen > 0 && dir[dlen - 1] == '/' ? "" : "/";
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *path = NULL;
        if (asprintf(&path, "%s%s%s", dir, sep, names[i]) < 0) {
            rc = cfg_fail(ld, -ENOMEM, "out of memory");
            break;
        }
        struct stat st;
        /* Only regular files (or links to them): "x.json/" is skipped. */
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            rc = cfg_load_file(ld, path);
        free(path);
    }
    cfg_free_strv(names, n);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Flags */

/* One pass over the flags: in the early pass apply only CFG_D_EARLY ones
 * (-dev, -config-file, -config-dir) but check the syntax of all, so an
 * unknown flag fails before any file is read; in the late pass apply the
 * rest, on top of the files. */
static int cfg_parse_flags(struct cfg_load *ld, int argc, char **argv,
                           bool early)
{
    char why[256];
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            if (i + 1 < argc)
                return cfg_fail(ld, -EINVAL, "unexpected argument \"%s\"",
                                argv[i + 1]);
            break;
        }
        if (a[0] != '-' || a[1] == '\0')
            return cfg_fail(ld, -EINVAL, "unexpected argument \"%s\"", a);
        const char *name = a[1] == '-' ? a + 2 : a + 1;
        if (*name == '\0' || *name == '-' || *name == '=')
            return cfg_fail(ld, -EINVAL, "bad flag syntax: %s", a);
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct cfg_directive *d = cfg_find_flag(name, nlen);
        if (d == NULL)
            return cfg_fail(ld, -EINVAL, "unknown flag -%.*s", (int)nlen,
                            name);

        /* Booleans take no separate value (as with Go's flag package):
         * "-server", "-server=false". */
        const char *value;
        if (eq != NULL)
            value = eq + 1;
        else if (d->type == CFG_T_BOOL)
            value = "true";
        else if (i + 1 < argc)
            value = argv[++i];
        else
            return cfg_fail(ld, -EINVAL, "flag -%s needs a value", d->flag);

        if (early != ((d->opts & CFG_D_EARLY) != 0))
            continue;
        int rc = cfg_set_text(ld->c, d, value, why, sizeof why);
        if (rc != 0) {
            yaml_mark_t none = {0, 0, 0};
            return cfg_fail_value(ld, NULL, none, d->flag, rc, value, why);
        }
        if ((d->opts & CFG_D_IGNORED) && (d->opts & CFG_D_INACTIVE))
            log_warn("cfg", "flag -%s is not yet active; ignored", d->flag);
        if (!(d->opts & CFG_D_IGNORED) &&
            (rc = cfg_note_set(ld, d, "flag -%s", d->flag)) != 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Layers and validation */

static int cfg_apply_defaults(struct cfg_load *ld)
{
    char why[256];
    for (size_t i = 0; i < CFG_N_DIRECTIVES; i++) {
        const struct cfg_directive *d = &cfg_directives[i];
        if (d->def == NULL || (d->opts & CFG_D_IGNORED))
            continue;
        int rc = cfg_set_text(ld->c, d, d->def, why, sizeof why);
        if (rc == -ENOMEM)
            return cfg_fail(ld, rc, "out of memory");
        if (rc != 0) /* a bug in the table */
            return cfg_fail(ld, -EINVAL, "bad default for %s: %s", d->key,
                            why);
    }
    char host[HOST_NAME_MAX + 1];
    if (gethostname(host, sizeof host) == 0) {
        host[HOST_NAME_MAX] = '\0';
        if (host[0] != '\0' && (ld->c->node_name = strdup(host)) == NULL)
            return cfg_fail(ld, -ENOMEM, "out of memory");
    }
    return 0;
}

static int cfg_apply_dev(struct cfg_load *ld)
{
    char why[256];
    for (size_t i = 0; i < sizeof cfg_dev_layer / sizeof cfg_dev_layer[0];
         i++) {
        const struct cfg_directive *d = cfg_find_exact(cfg_dev_layer[i].key);
        int rc = d ? cfg_set_text(ld->c, d, cfg_dev_layer[i].value, why,
                                  sizeof why)
                   : -EINVAL;
        if (rc == -ENOMEM)
            return cfg_fail(ld, rc, "out of memory");
        if (rc != 0) /* a bug in the table */
            return cfg_fail(ld, -EINVAL, "bad -dev setting for %s",
                            cfg_dev_layer[i].key);
    }
    ld->c->pretty = true;
    return 0;
}

/* An error about a field set at `where` (or by default: where == NULL). */
static int cfg_fail_where(struct cfg_load *ld, const char *where,
                          const char *msg)
{
    if (where != NULL)
        return cfg_fail(ld, -EINVAL, "%s: %s", where, msg);
    return cfg_fail(ld, -EINVAL, "%s", msg);
}

/* Defaults that depend on other keys, then checks across keys. */
static int cfg_finish(struct cfg_load *ld)
{
    struct cfg *c = ld->c;

    /* Consul: servers skip the leave on SIGINT, clients leave on
     * SIGTERM, unless the key is given. */
    if (cfg_where(ld, F(leave_on_terminate)) == NULL)
        c->leave_on_terminate = !c->server;
    if (cfg_where(ld, F(skip_leave_on_interrupt)) == NULL)
        c->skip_leave_on_interrupt = c->server;

    if (!c->dev && c->data_dir == NULL)
        return cfg_fail(ld, -EINVAL, "data_dir is required (or use -dev)");

    /* Service and check definitions: decoded now so that a bad one stops
     * the start (or the reload) with its position. */
    struct svcdef_policy pol = {
        .allow_scripts =
            c->enable_script_checks || c->enable_local_script_checks};
    struct svcdef_err se;
    for (size_t i = 0; c->services && i < json_object_array_length(c->services);
         i++) {
        json_object *def = json_object_array_get_idx(c->services, i), *s, *k;
        if (svcdef_service(def, &pol, &s, &k, &se) != 0)
            return cfg_fail(ld, -EINVAL, "%s: service: %s",
                            svcdef_str(def, "__pos"), se.msg);
        json_object_put(s);
        json_object_put(k);
    }
    for (size_t i = 0; c->checks && i < json_object_array_length(c->checks);
         i++) {
        json_object *def = json_object_array_get_idx(c->checks, i), *k;
        if (svcdef_check(def, NULL, NULL, NULL, &pol, &k, &se) != 0)
            return cfg_fail(ld, -EINVAL, "%s: check: %s",
                            svcdef_str(def, "__pos"), se.msg);
        json_object_put(k);
    }
    if (c->node_name == NULL)
        return cfg_fail_where(ld, cfg_where(ld, F(node_name)),
                              "node_name must not be empty");
    if (c->datacenter == NULL)
        return cfg_fail_where(ld, cfg_where(ld, F(datacenter)),
                              "datacenter must not be empty");
    if (c->bind_addr == NULL)
        return cfg_fail_where(ld, cfg_where(ld, F(bind_addr)),
                              "bind_addr must not be empty");
    if (c->client_addr == NULL)
        return cfg_fail_where(ld, cfg_where(ld, F(client_addr)),
                              "client_addr must not be empty");
    if (c->bootstrap_expect > 0) {
        const char *w = cfg_where(ld, F(bootstrap_expect));
        if (c->dev)
            return cfg_fail_where(ld, w,
                                  "bootstrap_expect is not allowed with -dev");
        if (c->bootstrap)
            return cfg_fail_where(
                ld, w, "bootstrap and bootstrap_expect are mutually exclusive");
        if (!c->server)
            return cfg_fail_where(ld, w,
                                  "bootstrap_expect requires server = true");
    }
    if (c->bootstrap && !c->server)
        return cfg_fail_where(ld, cfg_where(ld, F(bootstrap)),
                              "bootstrap requires server = true");
    return 0;
}

/* ------------------------------------------------------------------ */
/* API */

static int cfg_copy_argv(struct cfg_load *ld, int argc, char **argv)
{
    struct cfg *c = ld->c;
    c->argv = calloc((size_t)argc + 1, sizeof *c->argv);
    if (c->argv == NULL)
        return cfg_fail(ld, -ENOMEM, "out of memory");
    for (int i = 0; i < argc; i++) {
        if ((c->argv[i] = strdup(argv[i])) == NULL)
            return cfg_fail(ld, -ENOMEM, "out of memory");
        c->argc = i + 1;
    }
    return 0;
}

int cfg_load(struct cfg *out, int argc, char **argv, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (argc < 0)
        argc = 0;

    struct cfg_load *ld = calloc(1, sizeof *ld);
    if (ld == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    ld->c = out;
    ld->err = err;
    ld->errlen = errlen;

    int rc = cfg_copy_argv(ld, argc, argv);
    if (rc == 0)
        rc = cfg_apply_defaults(ld);
    if (rc == 0)
        rc = cfg_parse_flags(ld, argc, argv, true);
    if (rc == 0 && out->dev)
        rc = cfg_apply_dev(ld);
    for (size_t i = 0; rc == 0 && i < out->n_config_files; i++)
        rc = cfg_load_file(ld, out->config_files[i]);
    for (size_t i = 0; rc == 0 && i < out->n_config_dirs; i++)
        rc = cfg_load_dir(ld, out->config_dirs[i]);
    if (rc == 0)
        rc = cfg_parse_flags(ld, argc, argv, false);
    if (rc == 0)
        rc = cfg_finish(ld);

    for (size_t i = 0; i < CFG_N_DIRECTIVES; i++)
        free(ld->where[i]);
    free(ld);
    if (rc != 0)
        cfg_free(out);
    return rc;
}

int cfg_reload(const struct cfg *old, struct cfg *out, char *err,
               size_t errlen)
{
    return cfg_load(out, old->argc, old->argv, err, errlen);
}

void cfg_free(struct cfg *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < CFG_N_DIRECTIVES; i++) {
        const struct cfg_directive *d = &cfg_directives[i];
        if (d->opts & CFG_D_IGNORED)
            continue;
        /* Two keys may share a field ("limits.kv_max_value_size"). */
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !(cfg_directives[j].opts & CFG_D_IGNORED) &&
                   cfg_directives[j].off == d->off;
        if (seen)
            continue;
        if (d->type == CFG_T_STR) {
            char **f = cfg_field(c, d);
            cfg_free_string(d, *f);
        } else if (d->type == CFG_T_STRLIST) {
            cfg_free_strv(*(char ***)cfg_field(c, d), *cfg_count(c, d));
        } else if (d->type == CFG_T_JSONLIST) {
            json_object_put(*(json_object **)cfg_field(c, d));
        } else if (d->type == CFG_T_STRMAP) {
            struct cfg_kv *map = *(struct cfg_kv **)cfg_field(c, d);
            for (size_t k = 0; k < *cfg_count(c, d); k++) {
                free(map[k].key);
                free(map[k].value);
            }
            free(map);
        }
    }
    if (c->argv != NULL)
        cfg_free_strv(c->argv, (size_t)c->argc);
    memset(c, 0, sizeof *c);
}

static const char *cfg_flag_arg(enum cfg_type t)
{
    switch (t) {
    case CFG_T_INT:
    case CFG_T_U64:
        return " <int>";
    case CFG_T_DUR_MS:
        return " <duration>";
    case CFG_T_STRMAP:
        return " <key:value>";
    case CFG_T_LOGLEVEL:
        return " <level>";
    case CFG_T_STR:
    case CFG_T_STRLIST:
        return " <string>";
    case CFG_T_BOOL:
    case CFG_T_NONE:
    case CFG_T_JSONLIST:
        break;
    }
    return "";
}

void cfg_print_flags(void)
{
    for (size_t i = 0; i < CFG_N_DIRECTIVES; i++) {
        const struct cfg_directive *d = &cfg_directives[i];
        if (d->flag == NULL)
            continue;
        char left[64];
        snprintf(left, sizeof left, "-%s%s", d->flag, cfg_flag_arg(d->type));
        bool many = d->type == CFG_T_STRLIST || d->type == CFG_T_STRMAP;
        printf("  %-32s %s%s%s\n", left, d->help ? d->help : "",
               many ? " (repeatable)" : "",
               (d->opts & CFG_D_INACTIVE) ? " (not yet active)" : "");
    }
}
