/* Unit tests for agent/cfg.c: defaults, files (YAML and JSON), flags,
 * layering, -dev, and every error with its FILE:LINE:COL. Each test works
 * in its own mkdtemp directory. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfg.h"

/* Paths here are under /tmp/cairn-test-cfg-XXXXXX: short. */
#define TEST_PATH_MAX 256

struct fixture
{
    char dir[64];
    char path[TEST_PATH_MAX]; /* last file written */
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "/tmp/cairn-test-cfg-XXXXXX");
    if (mkdtemp(fx->dir) == NULL) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

/* Write `text` to dir/name; returns the path (valid until the next call). */
static const char *write_file(struct fixture *fx, const char *name,
                              const char *text)
{
    snprintf(fx->path, sizeof fx->path, "%s/%s", fx->dir, name);
    FILE *f = fopen(fx->path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    return fx->path;
}

static char *in_dir(struct fixture *fx, const char *name)
{
    static char buf[TEST_PATH_MAX];
    snprintf(buf, sizeof buf, "%s/%s", fx->dir, name);
    return buf;
}

#define ARGV(...) ((char *[]){__VA_ARGS__})
#define ARGC(...) ((int)(sizeof ARGV(__VA_ARGS__) / sizeof(char *)))
/* cfg_load with the flags given inline. */
#define LOAD(c, err, ...)                                                     \
    cfg_load((c), ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (err), sizeof(err))

static bool all_zero(const struct cfg *c)
{
    static const struct cfg zero;
    return memcmp(c, &zero, sizeof zero) == 0;
}

/* Load one file (by -config-file, plus extra flags) expecting failure, and
 * check the message is exactly "PATH:LINE:COL: rest". */
static void expect_file_error(struct fixture *fx, const char *name,
                              const char *text, int line, int col,
                              const char *rest)
{
    char path[TEST_PATH_MAX];
    snprintf(path, sizeof path, "%s", write_file(fx, name, text));
    struct cfg c;
    char err[512];
    int rc = LOAD(&c, err, "-data-dir", "/tmp/x", "-config-file", path);
    assert_int_equal(rc, -EINVAL);
    assert_true(all_zero(&c));
    char want[1024];
    snprintf(want, sizeof want, "%s:%d:%d: %s", path, line, col, rest);
    assert_string_equal(err, want);
}

/* Same, but only the start of the message is fixed (libyaml's texts). */
static void expect_file_error_prefix(struct fixture *fx, const char *name,
                                     const char *text, int line, int col,
                                     const char *rest)
{
    char path[TEST_PATH_MAX];
    snprintf(path, sizeof path, "%s", write_file(fx, name, text));
    struct cfg c;
    char err[512];
    int rc = LOAD(&c, err, "-data-dir", "/tmp/x", "-config-file", path);
    assert_int_equal(rc, -EINVAL);
    assert_true(all_zero(&c));
    char want[1024];
    snprintf(want, sizeof want, "%s:%d:%d: %s", path, line, col, rest);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("error \"%s\" does not start with \"%s\"", err, want);
}

/* ------------------------------------------------------------------ */

static void defaults_without_files(void **state)
{
    (void)state;
    struct cfg c;
    char err[256] = "unchanged";
    assert_int_equal(LOAD(&c, err, "-data-dir", "/var/lib/cairn"), 0);
    assert_string_equal(err, "");

    char host[HOST_NAME_MAX + 1] = "";
    gethostname(host, sizeof host);
    assert_string_equal(c.node_name, host);
    assert_null(c.node_id);
    assert_string_equal(c.datacenter, "dc1");
    assert_string_equal(c.data_dir, "/var/lib/cairn");
    assert_int_equal(c.n_node_meta, 0);
    assert_false(c.dev);
    assert_false(c.server);
    assert_false(c.bootstrap);
    assert_int_equal(c.bootstrap_expect, 0);
    assert_string_equal(c.bind_addr, "0.0.0.0");
    assert_null(c.advertise_addr);
    assert_string_equal(c.client_addr, "127.0.0.1");
    assert_int_equal(c.port_http, 8500);
    assert_int_equal(c.port_dns, 8600);
    assert_int_equal(c.port_serf_lan, 8301);
    assert_int_equal(c.port_serf_wan, 8302);
    assert_int_equal(c.port_server, 8300);
    assert_int_equal(c.port_raft, 8303);
    assert_int_equal(c.n_join, 0);
    assert_int_equal(c.n_retry_join, 0);
    assert_int_equal(c.retry_interval_ms, 30000);
    assert_int_equal(c.retry_max, 0);
    assert_null(c.encrypt);
    assert_true(c.encrypt_verify_incoming);
    assert_true(c.encrypt_verify_outgoing);
    assert_int_equal(c.log_level, LOG_INFO);
    assert_false(c.log_json);
    assert_null(c.pid_file);
    assert_false(c.pretty);
    assert_true(c.leave_on_terminate); /* client */
    assert_false(c.skip_leave_on_interrupt);
    assert_false(c.enable_script_checks);
    assert_false(c.enable_local_script_checks);
    assert_false(c.disable_update_check);
    assert_int_equal(c.kv_max_value_size, 524288);
    assert_int_equal(c.txn_max_req_len, 524288);
    assert_int_equal(c.http_max_conns_per_client, 200);
    assert_int_equal(c.raft_snapshot_threshold, 16384);
    assert_int_equal(c.raft_trailing_logs, 10240);
    assert_int_equal(c.n_config_files, 0);
    assert_int_equal(c.n_config_dirs, 0);
    assert_int_equal(c.argc, 2);
    assert_string_equal(c.argv[0], "-data-dir");
    assert_string_equal(c.argv[1], "/var/lib/cairn");
    assert_null(c.argv[2]);
    cfg_free(&c);
    assert_true(all_zero(&c));
    cfg_free(&c); /* twice is harmless */
}

static void server_defaults_for_leaving(void **state)
{
    struct fixture *fx = *state;
    struct cfg c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "-data-dir=/d", "-server", "-bootstrap"),
                     0);
    assert_true(c.server);
    assert_true(c.bootstrap);
    assert_false(c.leave_on_terminate);
    assert_true(c.skip_leave_on_interrupt);
    cfg_free(&c);

    /* Given explicitly, they are kept whatever the role. */
    const char *f = write_file(fx, "a.yaml",
                               "leave_on_terminate: true\n"
                               "skip_leave_on_interrupt: false\n");
    assert_int_equal(LOAD(&c, err, "-data-dir=/d", "-server",
                          "-bootstrap-expect=3", "-config-file", (char *)f),
                     0);
    assert_int_equal(c.bootstrap_expect, 3);
    assert_true(c.leave_on_terminate);
    assert_false(c.skip_leave_on_interrupt);
    cfg_free(&c);
}

static const char yaml_full[] =
    "# a full agent config\n"
    "node_name: web-1\n"
    "node_id: 0F8B2B8C-3C5D-4E6F-8A9B-0C1D2E3F4A5B\n"
    "datacenter: EU-West_1\n"
    "data_dir: /var/lib/cairn\n"
    "node_meta:\n"
    "  rack: r1\n"
    "  zone: \"a\"\n"
    "server: true\n"
    "bootstrap_expect: 3\n"
    "bind_addr: 10.0.0.5\n"
    "advertise_addr: 192.0.2.5\n"
    "client_addr: 0.0.0.0\n"
    "ports:\n"
    "  http: 8501\n"
    "  dns: -1\n"
    "  serf_lan: 9301\n"
    "  serf_wan: -1\n"
    "  server: 9300\n"
    "  raft: 9303\n"
    "start_join: [10.0.0.1]\n"
    "retry_join:\n"
    "  - 10.0.0.2\n"
    "  - 'provider=aws tag_key=consul'\n"
    "retry_interval: 1m30s\n"
    "retry_max: 5\n"
    "encrypt: pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=\n"
    "encrypt_verify_incoming: false\n"
    "encrypt_verify_outgoing: no\n"
    "log_level: WARN\n"
    "log_json: yes\n"
    "pid_file: /run/cairn.pid\n"
    "leave_on_terminate: true\n"
    "skip_leave_on_interrupt: false\n"
    "enable_script_checks: true\n"
    "enable_local_script_checks: true\n"
    "disable_update_check: true\n"
    "kv_max_value_size: 1048576\n"
    "txn_max_req_len: 65536\n"
    "limits:\n"
    "  http_max_conns_per_client: 50\n"
    "raft_snapshot_threshold: 8192\n"
    "raft_trailing_logs: 20000\n";

static const char json_full[] =
    "{\n"
    "\t\"node_name\": \"web-1\",\n"
    "\t\"node_id\": \"0F8B2B8C-3C5D-4E6F-8A9B-0C1D2E3F4A5B\",\n"
    "\t\"datacenter\": \"EU-West_1\",\n"
    "\t\"data_dir\": \"/var/lib/cairn\",\n"
    "\t\"node_meta\": {\"rack\": \"r1\", \"zone\": \"a\"},\n"
    "\t\"server\": true,\n"
    "\t\"bootstrap_expect\": 3,\n"
    "\t\"bind_addr\": \"10.0.0.5\",\n"
    "\t\"advertise_addr\": \"192.0.2.5\",\n"
    "\t\"client_addr\": \"0.0.0.0\",\n"
    "\t\"ports\": {\"http\": 8501, \"dns\": -1, \"serf_lan\": 9301,\n"
    "\t\t\"serf_wan\": -1, \"server\": 9300, \"raft\": 9303},\n"
    "\t\"start_join\": [\"10.0.0.1\"],\n"
    "\t\"retry_join\": [\"10.0.0.2\", \"provider=aws tag_key=consul\"],\n"
    "\t\"retry_interval\": \"1m30s\",\n"
    "\t\"retry_max\": 5,\n"
    "\t\"encrypt\": \"pUqJrVyVRj5jsiYEkM\\/tFQYfWyJIv4s3XkvDwy7Cu5s=\",\n"
    "\t\"encrypt_verify_incoming\": false,\n"
    "\t\"encrypt_verify_outgoing\":false,\n"
    "\t\"log_level\": \"WARN\",\n"
    "\t\"log_json\": true,\n"
    "\t\"pid_file\": \"/run/cairn.pid\",\n"
    "\t\"leave_on_terminate\": true,\n"
    "\t\"skip_leave_on_interrupt\": false,\n"
    "\t\"enable_script_checks\": true,\n"
    "\t\"enable_local_script_checks\": true,\n"
    "\t\"disable_update_check\": true,\n"
    "\t\"kv_max_value_size\": 1048576,\n"
    "\t\"txn_max_req_len\": 65536,\n"
    "\t\"limits\": {\"http_max_conns_per_client\": 50},\n"
    "\t\"raft_snapshot_threshold\": 8192,\n"
    "\t\"raft_trailing_logs\": 20000\n"
    "}\n";

static void check_full(const struct cfg *c)
{
    assert_string_equal(c->node_name, "web-1");
    assert_string_equal(c->node_id, "0f8b2b8c-3c5d-4e6f-8a9b-0c1d2e3f4a5b");
    assert_string_equal(c->datacenter, "eu-west_1");
    assert_string_equal(c->data_dir, "/var/lib/cairn");
    assert_int_equal(c->n_node_meta, 2);
    assert_string_equal(c->node_meta[0].key, "rack");
    assert_string_equal(c->node_meta[0].value, "r1");
    assert_string_equal(c->node_meta[1].key, "zone");
    assert_string_equal(c->node_meta[1].value, "a");
    assert_true(c->server);
    assert_false(c->bootstrap);
    assert_int_equal(c->bootstrap_expect, 3);
    assert_string_equal(c->bind_addr, "10.0.0.5");
    assert_string_equal(c->advertise_addr, "192.0.2.5");
    assert_string_equal(c->client_addr, "0.0.0.0");
    assert_int_equal(c->port_http, 8501);
    assert_int_equal(c->port_dns, -1);
    assert_int_equal(c->port_serf_lan, 9301);
    assert_int_equal(c->port_serf_wan, -1);
    assert_int_equal(c->port_server, 9300);
    assert_int_equal(c->port_raft, 9303);
    assert_int_equal(c->n_join, 1);
    assert_string_equal(c->join[0], "10.0.0.1");
    assert_int_equal(c->n_retry_join, 2);
    assert_string_equal(c->retry_join[0], "10.0.0.2");
    assert_string_equal(c->retry_join[1], "provider=aws tag_key=consul");
    assert_int_equal(c->retry_interval_ms, 90000);
    assert_int_equal(c->retry_max, 5);
    assert_string_equal(c->encrypt,
                        "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=");
    assert_false(c->encrypt_verify_incoming);
    assert_false(c->encrypt_verify_outgoing);
    assert_int_equal(c->log_level, LOG_WARN);
    assert_true(c->log_json);
    assert_string_equal(c->pid_file, "/run/cairn.pid");
    assert_true(c->leave_on_terminate);
    assert_false(c->skip_leave_on_interrupt);
    assert_true(c->enable_script_checks);
    assert_true(c->enable_local_script_checks);
    assert_true(c->disable_update_check);
    assert_int_equal(c->kv_max_value_size, 1048576);
    assert_int_equal(c->txn_max_req_len, 65536);
    assert_int_equal(c->http_max_conns_per_client, 50);
    assert_int_equal(c->raft_snapshot_threshold, 8192);
    assert_int_equal(c->raft_trailing_logs, 20000);
}

static void yaml_file_loads(void **state)
{
    struct fixture *fx = *state;
    const char *f = write_file(fx, "agent.yaml", yaml_full);
    struct cfg c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "-config-file", (char *)f), 0);
    check_full(&c);
    assert_int_equal(c.n_config_files, 1);
    assert_string_equal(c.config_files[0], f);
    cfg_free(&c);
}

/* gossip_lan.eager_push (cairn extension): on unless switched off. */
static void gossip_eager_push(void **state)
{
    struct fixture *fx = *state;
    struct cfg c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "-dev"), 0);
    assert_true(c.gossip_eager_push);
    assert_true(c.gossip_watch_ring);
    cfg_free(&c);
    const char *f = write_file(fx, "g.yaml",
                               "gossip_lan:\n  eager_push: false\n"
                               "  watch_ring: false\n"
                               "  gossip_nodes: 4\n");
    assert_int_equal(LOAD(&c, err, "-dev", "-config-file", (char *)f), 0);
    assert_false(c.gossip_eager_push);
    assert_false(c.gossip_watch_ring);
    assert_int_equal(c.gossip_nodes, 4);
    cfg_free(&c);
    f = write_file(fx, "h.yaml", "gossip_lan:\n  eager_push: sometimes\n");
    assert_int_equal(LOAD(&c, err, "-dev", "-config-file", (char *)f),
                     -EINVAL);
    assert_non_null(strstr(err, "eager_push"));
}

static void json_file_loads(void **state)
{
    struct fixture *fx = *state;
    const char *f = write_file(fx, "agent.json", json_full);
    struct cfg c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "-config-file", (char *)f), 0);
    check_full(&c);
    cfg_free(&c);
}

static void empty_and_null_values(void **state)
{
    struct fixture *fx = *state;
    /* A file of comments only, and keys with null values, change nothing. */
    const char *a = write_file(fx, "a.yaml", "# nothing here\n");
    char pa[TEST_PATH_MAX];
    snprintf(pa, sizeof pa, "%s", a);
    const char *b = write_file(fx, "b.yaml",
                               "pid_file:\nports:\nnode_meta: null\n"
                               "datacenter: ~\nretry_join:\n");
    struct cfg c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "-data-dir=/d", "-config-file", pa,
                          "-config-file", (char *)b),
                     0);
    assert_null(c.pid_file);
    assert_string_equal(c.datacenter, "dc1");
    assert_int_equal(c.port_http, 8500);
    cfg_free(&c);

    /* An empty string unsets an optional string. */
    b = write_file(fx, "c.json", "{\"advertise_addr\": \"\"}");
    assert_int_equal(LOAD(&c, err, "-data-dir=/d", "-advertise", "1.2.3.4",
                          "-config-file", (char *)b),
                     0);
    assert_string_equal(c.advertise_addr, "1.2.3.4"); /* flag wins */
    cfg_free(&c);
    assert_int_equal(LOAD(&c, err, "-dev", "-advertise=", "-config-file",
                          (char *)b),
                     0);
    assert_null(c.advertise_addr);
    cfg_free(&c);
}

static void flags_override_files(void **state)
{
    struct fixture *fx = *state;
    const char *f = write_file(fx, "a.yaml",
                               "datacenter: east\n"
                               "data_dir: /from/file\n"
                               "ports:\n"
                               "  http: 8501\n"
                               "  dns: 8601\n"
                               "log_level: warn\n"
                               "retry_join: [a]\n"
                               "node_meta: {k1: file, k2: file}\n"
                               "server: true\n");
    struct cfg c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "-http-port", "9000", "-config-file",
                          (char *)f, "-datacenter=west", "-retry-join", "b",
                          "-log-level", "debug", "-node-meta", "k2:flag",
                          "-node-meta=k3:", "-server=false"),
                     0);
    assert_int_equal(c.port_http, 9000);
    assert_int_equal(c.port_dns, 8601); /* from the file */
    assert_string_equal(c.datacenter, "west");
    assert_string_equal(c.data_dir, "/from/file");
    assert_int_equal(c.log_level, LOG_DEBUG);
    assert_false(c.server);
    /* Lists append (as Consul merges slices), maps merge by key. */
    assert_int_equal(c.n_retry_join, 2);
    assert_string_equal(c.retry_join[0], "a");
    assert_string_equal(c.retry_join[1], "b");
    assert_int_equal(c.n_node_meta, 3);
    assert_string_equal(c.node_meta[0].value, "file");
    assert_string_equal(c.node_meta[1].value, "flag");
    assert_string_equal(c.node_meta[2].key, "k3");
    assert_string_equal(c.node_meta[2].value, "");
    cfg_free(&c);
}

static void flag_syntax_forms(void **state)
{
    (void)state;
    struct cfg c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "-node", "n1", "--datacenter", "dc2",
                          "-data-dir=/d", "--http-port=8600", "-dns-port",
                          "-1", "--server", "-bootstrap=true", "-log-json",
                          "--pid-file=/p=q", "-retry-interval", "1.5s",
                          "-retry-max=3", "-join", "j1", "--join=j2",
                          "-serf-lan-port=1", "-serf-wan-port", "65535",
                          "-server-port=8400", "-raft-port", "8401", "-bind",
                          "10.1.1.1", "-client=0.0.0.0", "-node-id",
                          "00000000-0000-0000-0000-000000000001", "-encrypt",
                          "AAAAAAAAAAAAAAAAAAAAAA==", "--log-level=TRACE",
                          "-ui", "-disable-host-node-id=false", "-recursor",
                          "8.8.8.8"),
                     0);
    assert_string_equal(c.node_name, "n1");
    assert_string_equal(c.datacenter, "dc2");
    assert_string_equal(c.data_dir, "/d");
    assert_int_equal(c.port_http, 8600);
    assert_int_equal(c.port_dns, -1);
    assert_true(c.server);
    assert_true(c.bootstrap);
    assert_true(c.log_json);
    assert_string_equal(c.pid_file, "/p=q");
    assert_int_equal(c.retry_interval_ms, 1500);
    assert_int_equal(c.retry_max, 3);
    assert_int_equal(c.n_join, 2);
    assert_string_equal(c.join[1], "j2");
    assert_int_equal(c.port_serf_lan, 1);
    assert_int_equal(c.port_serf_wan, 65535);
    assert_int_equal(c.port_server, 8400);
    assert_int_equal(c.port_raft, 8401);
    assert_string_equal(c.bind_addr, "10.1.1.1");
    assert_string_equal(c.client_addr, "0.0.0.0");
    assert_string_equal(c.node_id, "00000000-0000-0000-0000-000000000001");
    assert_string_equal(c.encrypt, "AAAAAAAAAAAAAAAAAAAAAA==");
    assert_int_equal(c.log_level, LOG_TRACE);
    assert_int_equal(c.argc, 36);
    cfg_free(&c);

    /* A value that looks like a flag is still the value. */
    assert_int_equal(LOAD(&c, err, "-dev", "-node", "-x"), 0);
    assert_string_equal(c.node_name, "-x");
    cfg_free(&c);

    /* No flags at all is fine with -dev only; zero argc with NULL argv. */
    assert_int_equal(cfg_load(&c, 0, NULL, err, sizeof err), -EINVAL);
    assert_string_equal(err, "data_dir is required (or use -dev)");
}

static void config_dir_in_lexical_order(void **state)
{
    struct fixture *fx = *state;
    char dir[TEST_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", in_dir(fx, "conf.d"));
    assert_int_equal(mkdir(dir, 0700), 0);
    write_file(fx, "conf.d/b.yaml",
               "datacenter: b\nretry_join: [from-b]\nports: {http: 1002}\n");
    write_file(fx, "conf.d/a.json",
               "{\"datacenter\": \"a\", \"node_name\": \"from-a\","
               " \"retry_join\": [\"from-a\"], \"ports\": {\"http\": 1001}}");
    write_file(fx, "conf.d/c.yml", "datacenter: c\nretry_join: [from-c]\n");
    write_file(fx, "conf.d/10.yaml", "datacenter: ten\nnode_name: ten\n");
    write_file(fx, "conf.d/B.yaml", "retry_join: [from-B]\n");
    write_file(fx, "conf.d/README", "this is not: [config\n");
    write_file(fx, "conf.d/x.hcl", "datacenter = \"hcl\"\n");
    write_file(fx, "conf.d/y.yaml.bak", "bogus: 1\n");
    assert_int_equal(mkdir(in_dir(fx, "conf.d/sub.json"), 0700), 0);
    /* A -config-file is read before any -config-dir, whatever the order. */
    const char *f = write_file(fx, "main.yaml",
                               "datacenter: main\nports: {dns: 1053}\n"
                               "retry_join: [from-main]\n");

    struct cfg c;
    char err[256];
    int rc = LOAD(&c, err, "-data-dir=/d", "-config-dir", dir,
                  "-config-file", (char *)f);
    if (rc != 0)
        fail_msg("%s", err);
    /* 10.yaml < B.yaml < a.json < b.yaml < c.yml (byte order) */
    assert_string_equal(c.datacenter, "c");
    assert_string_equal(c.node_name, "from-a");
    assert_int_equal(c.port_http, 1002);
    assert_int_equal(c.port_dns, 1053);
    assert_int_equal(c.n_retry_join, 5);
    assert_string_equal(c.retry_join[0], "from-main");
    assert_string_equal(c.retry_join[1], "from-B");
    assert_string_equal(c.retry_join[2], "from-a");
    assert_string_equal(c.retry_join[3], "from-b");
    assert_string_equal(c.retry_join[4], "from-c");
    assert_int_equal(c.n_config_dirs, 1);
    assert_string_equal(c.config_dirs[0], dir);
    cfg_free(&c);

    /* An error in a dir file names that file. */
    write_file(fx, "conf.d/d.yaml", "datacenter: d\n\nbogus: 1\n");
    char want[TEST_PATH_MAX + 64];
    snprintf(want, sizeof want, "%s/d.yaml:3:1: unknown key \"bogus\"", dir);
    assert_int_equal(LOAD(&c, err, "-data-dir=/d", "-config-dir", dir),
                     -EINVAL);
    assert_string_equal(err, want);
    assert_true(all_zero(&c));
}

static void dev_mode(void **state)
{
    struct fixture *fx = *state;
    struct cfg c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "-dev"), 0);
    assert_true(c.dev);
    assert_true(c.server);
    assert_true(c.bootstrap);
    assert_string_equal(c.datacenter, "dc1");
    assert_int_equal(c.log_level, LOG_DEBUG);
    assert_string_equal(c.bind_addr, "127.0.0.1");
    assert_string_equal(c.advertise_addr, "127.0.0.1");
    assert_string_equal(c.client_addr, "127.0.0.1");
    assert_true(c.pretty);
    assert_null(c.data_dir);
    assert_int_equal(c.raft_snapshot_threshold, 16384);
    assert_int_equal(c.port_http, 8500);
    assert_int_equal(c.port_dns, 8600);
    assert_true(c.skip_leave_on_interrupt);
    assert_false(c.leave_on_terminate);
    cfg_free(&c);

    /* Files and flags still win over what -dev sets. */
    const char *f = write_file(fx, "dev.yaml",
                               "datacenter: lab\nlog_level: info\n");
    assert_int_equal(LOAD(&c, err, "-client", "0.0.0.0", "-dev",
                          "-config-file", (char *)f, "-log-level=warn"),
                     0);
    assert_true(c.dev);
    assert_string_equal(c.datacenter, "lab");
    assert_int_equal(c.log_level, LOG_WARN);
    assert_string_equal(c.client_addr, "0.0.0.0");
    assert_string_equal(c.bind_addr, "127.0.0.1");
    cfg_free(&c);

    assert_int_equal(LOAD(&c, err, "-dev=false"), -EINVAL);
    assert_string_equal(err, "data_dir is required (or use -dev)");
    assert_int_equal(LOAD(&c, err, "-dev", "-bootstrap-expect=3"), -EINVAL);
    assert_string_equal(err, "flag -bootstrap-expect: bootstrap_expect is "
                             "not allowed with -dev");
}

static void consul_only_keys_load_with_a_warning(void **state)
{
    struct fixture *fx = *state;
    const char *f = write_file(
        fx, "consul.yaml",
        "ui_config:\n"
        "  enabled: true\n"
        "acl:\n"
        "  enabled: true\n"
        "  tokens: {agent: abc}\n"
        "ui: true\n"
        "primary_datacenter: dc1\n"
        "telemetry: {prometheus_retention_time: 1m}\n"
        "connect: {enabled: true}\n"
        "tls: {defaults: {verify_incoming: false}}\n"
        "auto_encrypt: {}\n"
        "performance: {raft_multiplier: 1}\n"
        "autopilot: {cleanup_dead_servers: true}\n"
        "dns_config: {allow_stale: true}\n"
        "domain: consul\n"
        "alt_domain: cairn\n"
        "recursors: [8.8.8.8]\n"
        "services: [{name: web, port: 80}]\n"
        "service: {name: db}\n"
        "checks: []\n"
        "check: {name: c, ttl: 10s}\n"
        "watches: []\n"
        "addresses: {http: 0.0.0.0}\n"
        "segment: s\n"
        "rejoin_after_leave: true\n"
        "enable_syslog: true\n"
        "syslog_facility: LOCAL0\n"
        "verify_incoming: true\n"
        "verify_outgoing: true\n"
        "ca_file: /ca.pem\n"
        "cert_file: /c.pem\n"
        "key_file: /k.pem\n"
        "http_config: {response_headers: {X-A: b}}\n"
        "session_ttl_min: 10s\n"
        "reconnect_timeout: 72h\n"
        "serf_lan: 0.0.0.0\n"
        "serf_wan: 0.0.0.0\n"
        "disable_host_node_id: true\n"
        "limits:\n"
        "  rpc_rate: 100\n"
        "  http_max_conns_per_client: 10\n"
        "  kv_max_value_size: 1000\n"
        "  txn_max_req_len: 2000\n"
        "ports:\n"
        "  https: -1\n"
        "  grpc: 8502\n"
        "  grpc_tls: 8503\n"
        "  sidecar_min_port: 21000\n"
        "  sidecar_max_port: 21255\n"
        "  http: 8555\n"
        "ui_config:\n");
    struct cfg c;
    char err[256];
    int rc = LOAD(&c, err, "-dev", "-config-file", (char *)f);
    if (rc != 0)
        fail_msg("%s", err);
    assert_int_equal(c.http_max_conns_per_client, 10);
    assert_int_equal(c.kv_max_value_size, 1000);
    assert_int_equal(c.txn_max_req_len, 2000);
    assert_int_equal(c.port_http, 8555);
    cfg_free(&c);
}

/* ------------------------------------------------------------------ */
/* Errors in files, with their exact positions */

static void unknown_keys(void **state)
{
    struct fixture *fx = *state;
    expect_file_error(fx, "u1.yaml", "datacenter: dc1\n\nfoo: 1\n", 3, 1,
                      "unknown key \"foo\"");
    expect_file_error(fx, "u2.yaml", "ports:\n  http: 8500\n  bogus: 1\n", 3,
                      3, "unknown key \"ports.bogus\"");
    /* Keys compare exactly. */
    expect_file_error(fx, "u3.yaml", "Datacenter: dc1\n", 1, 1,
                      "unknown key \"Datacenter\"");
    /* A dotted name is not a way into a section. */
    expect_file_error(fx, "u4.yaml", "server: true\nports.http: 1\n", 2, 1,
                      "unknown key \"ports.http\"");
    expect_file_error(fx, "u5.json",
                      "{\"datacenter\": \"dc1\",\n  \"ports\": {\"htp\": 1}}",
                      2, 13, "unknown key \"ports.htp\"");
    expect_file_error(fx, "u6.yaml", "ports: 8500\n", 1, 1,
                      "key \"ports\": expected a mapping");
    expect_file_error(fx, "u7.yaml", "? [a, b]\n: 1\n", 1, 3,
                      "a key must be a string");
}

static void wrong_types(void **state)
{
    struct fixture *fx = *state;
    expect_file_error(fx, "t1.yaml", "ports:\n  http: \"8500\"\n", 2, 3,
                      "key \"ports.http\": expected an integer");
    expect_file_error(fx, "t2.yaml", "ports:\n  http: abc\n", 2, 3,
                      "key \"ports.http\": expected an integer");
    expect_file_error(fx, "t3.json", "{\"ports\": {\"http\": 85.5}}", 1, 12,
                      "key \"ports.http\": expected an integer");
    expect_file_error(fx, "t4.yaml", "node_name:\n  - a\n  - b\n", 1, 1,
                      "key \"node_name\": expected a string");
    expect_file_error(fx, "t5.yaml", "datacenter: {a: b}\n", 1, 1,
                      "key \"datacenter\": expected a string");
    expect_file_error(fx, "t6.yaml", "\nserver: maybe\n", 2, 1,
                      "key \"server\": expected a boolean (true or false)");
    expect_file_error(fx, "t7.json", "{\"server\": \"true\"}", 1, 2,
                      "key \"server\": expected a boolean (true or false)");
    expect_file_error(fx, "t8.yaml", "retry_join: 10.0.0.1\n", 1, 1,
                      "key \"retry_join\": expected a list of strings");
    expect_file_error(fx, "t9.yaml", "retry_join:\n  - a\n  - {x: 1}\n", 3, 5,
                      "key \"retry_join\": expected a list of strings");
    expect_file_error(fx, "t10.yaml", "retry_interval: 10\n", 1, 1,
                      "key \"retry_interval\": expected a duration like "
                      "\"30s\" or \"1m30s\"");
    expect_file_error(fx, "t11.yaml", "retry_interval: -5s\n", 1, 1,
                      "key \"retry_interval\": duration \"-5s\" must not be "
                      "negative");
    expect_file_error(fx, "t12.yaml", "log_level: loud\n", 1, 1,
                      "key \"log_level\": expected a log level (trace, debug, "
                      "info, warn, error)");
    expect_file_error(fx, "t13.yaml", "node_meta: [a]\n", 1, 1,
                      "key \"node_meta\": expected a mapping of strings to "
                      "strings");
    expect_file_error(fx, "t14.yaml", "node_meta:\n  a: b\n  c: [d]\n", 3, 6,
                      "key \"node_meta\": expected a mapping of strings to "
                      "strings");
    expect_file_error(fx, "t15.yaml", "kv_max_value_size: -1\n", 1, 1,
                      "key \"kv_max_value_size\": expected a non-negative "
                      "integer");
    expect_file_error(fx, "t16.yaml", "datacenter: \"a\\0b\"\n", 1, 1,
                      "key \"datacenter\": value contains a NUL byte");
}

static void out_of_range(void **state)
{
    struct fixture *fx = *state;
    expect_file_error(fx, "r1.yaml", "ports:\n  http: 70000\n", 2, 3,
                      "key \"ports.http\": 70000 out of range 1..65535 (or -1 "
                      "to disable)");
    expect_file_error(fx, "r2.yaml", "ports:\n  server: -1\n", 2, 3,
                      "key \"ports.server\": -1 out of range 1..65535");
    expect_file_error(fx, "r3.yaml", "ports: {serf_lan: 0}\n", 1, 9,
                      "key \"ports.serf_lan\": 0 out of range 1..65535");
    expect_file_error(fx, "r4.yaml", "ports: {dns: -2}\n", 1, 9,
                      "key \"ports.dns\": -2 out of range 1..65535 (or -1 to "
                      "disable)");
    expect_file_error(fx, "r5.yaml", "bootstrap_expect: -1\n", 1, 1,
                      "key \"bootstrap_expect\": -1 out of range "
                      "0..2147483647");
    expect_file_error(fx, "r6.yaml", "retry_max: 99999999999999999999\n", 1,
                      1,
                      "key \"retry_max\": 99999999999999999999 out of range "
                      "0..2147483647");
    expect_file_error(fx, "r7.yaml",
                      "raft_trailing_logs: 99999999999999999999\n", 1, 1,
                      "key \"raft_trailing_logs\": 99999999999999999999 out "
                      "of range");
    expect_file_error(fx, "r8.yaml",
                      "limits:\n  http_max_conns_per_client: -5\n", 2, 3,
                      "key \"limits.http_max_conns_per_client\": -5 out of "
                      "range 0..2147483647");
}

static void malformed_yaml(void **state)
{
    struct fixture *fx = *state;
    expect_file_error_prefix(fx, "m1.yaml",
                             "datacenter: dc1\nretry_join: [a, b\n", 3, 1,
                             "malformed YAML: did not find expected ',' or "
                             "']' (while parsing a flow sequence started at "
                             "2:13)");
    expect_file_error_prefix(fx, "m2.yaml", "server: true\n  bind_addr: x\n",
                             2, 12,
                             "malformed YAML: mapping values are not allowed");
    expect_file_error_prefix(fx, "m3.json",
                             "{\n  \"server\": true,\n  \"node_name\" \"x\"\n}",
                             3, 15, "malformed YAML: ");
    expect_file_error_prefix(fx, "m4.yaml",
                             "datacenter: dc1\nnode_name: \xff\n",
                             2, 12, "malformed YAML: invalid leading UTF-8");
    expect_file_error(fx, "m5.yaml", "- a\n- b\n", 1, 1,
                      "expected a mapping of config keys");
    expect_file_error(fx, "m6.yaml", "server: true\n---\nserver: false\n", 3,
                      1, "more than one YAML document");
    expect_file_error_prefix(fx, "m7.yaml", "a: *nope\n", 1, 4,
                             "malformed YAML: found undefined alias");
    /* An error after the first document still shows. */
    expect_file_error_prefix(fx, "m8.yaml", "server: true\n---\n[\n", 4, 1,
                             "malformed YAML: ");
}

static void bad_values_checked(void **state)
{
    struct fixture *fx = *state;
    expect_file_error(fx, "v1.yaml", "server: true\nnode_id: not-a-uuid\n", 2,
                      1,
                      "key \"node_id\": invalid UUID \"not-a-uuid\" (want "
                      "8-4-4-4-12 hexadecimal digits)");
    expect_file_error(fx, "v2.yaml",
                      "node_id: 0f8b2b8c-3c5d-4e6f-8a9b-0c1d2e3f4a5\n", 1, 1,
                      "key \"node_id\": invalid UUID "
                      "\"0f8b2b8c-3c5d-4e6f-8a9b-0c1d2e3f4a5\" (want "
                      "8-4-4-4-12 hexadecimal digits)");
    expect_file_error(fx, "v3.yaml",
                      "node_id: 0f8b2b8c3c5d4e6f8a9b0c1d2e3f4a5b\n",
                      1, 1,
                      "key \"node_id\": invalid UUID "
                      "\"0f8b2b8c3c5d4e6f8a9b0c1d2e3f4a5b\" (want 8-4-4-4-12 "
                      "hexadecimal digits)");
    expect_file_error(fx, "v4.yaml", "datacenter: \"DC 1\"\n", 1, 1,
                      "key \"datacenter\": invalid datacenter \"dc 1\": only "
                      "a-z, 0-9, '-' and '_' are allowed");
    expect_file_error(fx, "v5.json", "{\"datacenter\": \"dc.1\"}", 1, 2,
                      "key \"datacenter\": invalid datacenter \"dc.1\": only "
                      "a-z, 0-9, '-' and '_' are allowed");
    expect_file_error(fx, "v6.yaml", "encrypt: c2VjcmV0\n", 1, 1,
                      "key \"encrypt\": invalid key: want base64 of 16, 24 or "
                      "32 bytes (see cairn keygen)");
}

static void cross_key_checks(void **state)
{
    struct fixture *fx = *state;
    const char *f =
        write_file(fx, "x.yaml", "server: false\n\nbootstrap_expect: 3\n");
    char path[TEST_PATH_MAX];
    snprintf(path, sizeof path, "%s", f);
    struct cfg c;
    char err[512], want[TEST_PATH_MAX + 128];

    assert_int_equal(LOAD(&c, err, "-data-dir=/d", "-config-file", path),
                     -EINVAL);
    snprintf(want, sizeof want,
             "%s:3:1: bootstrap_expect requires server = true", path);
    assert_string_equal(err, want);
    assert_true(all_zero(&c));

    assert_int_equal(LOAD(&c, err, "-data-dir=/d", "-config-file", path,
                          "-server", "-bootstrap"),
                     -EINVAL);
    snprintf(want, sizeof want,
             "%s:3:1: bootstrap and bootstrap_expect are mutually exclusive",
             path);
    assert_string_equal(err, want);

    assert_int_equal(LOAD(&c, err, "-data-dir=/d", "-bootstrap"), -EINVAL);
    assert_string_equal(err, "flag -bootstrap: bootstrap requires server = "
                             "true");

    assert_int_equal(LOAD(&c, err, "-server"), -EINVAL);
    assert_string_equal(err, "data_dir is required (or use -dev)");

    assert_int_equal(LOAD(&c, err, "-dev", "-node="), -EINVAL);
    assert_string_equal(err, "flag -node: node_name must not be empty");
    assert_int_equal(LOAD(&c, err, "-dev", "-client", ""), -EINVAL);
    assert_string_equal(err, "flag -client: client_addr must not be empty");
}

static void missing_files_and_dirs(void **state)
{
    struct fixture *fx = *state;
    struct cfg c;
    char err[512], want[TEST_PATH_MAX + 128];
    char *missing = in_dir(fx, "nope.yaml");
    assert_int_equal(LOAD(&c, err, "-dev", "-config-file", missing), -EINVAL);
    snprintf(want, sizeof want,
             "config file \"%s\": No such file or directory", missing);
    assert_string_equal(err, want);
    assert_true(all_zero(&c));

    missing = in_dir(fx, "nope.d");
    assert_int_equal(LOAD(&c, err, "-dev", "-config-dir", missing), -EINVAL);
    snprintf(want, sizeof want,
             "config dir \"%s\": No such file or directory", missing);
    assert_string_equal(err, want);

    assert_int_equal(LOAD(&c, err, "-dev", "-config-file", fx->dir), -EINVAL);
    snprintf(want, sizeof want,
             "config file \"%s\": is a directory (use -config-dir)", fx->dir);
    assert_string_equal(err, want);

    /* An empty directory is fine. */
    assert_int_equal(LOAD(&c, err, "-dev", "-config-dir", fx->dir), 0);
    cfg_free(&c);
}

/* ------------------------------------------------------------------ */
/* Flags */

static void flag_errors(void **state)
{
    (void)state;
    struct cfg c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "-dev", "-bogus"), -EINVAL);
    assert_string_equal(err, "unknown flag -bogus");
    assert_true(all_zero(&c));
    assert_int_equal(LOAD(&c, err, "--bogus=1", "-dev"), -EINVAL);
    assert_string_equal(err, "unknown flag -bogus");
    /* Consul's file keys are not flags. */
    assert_int_equal(LOAD(&c, err, "-dev", "-data_dir=/d"), -EINVAL);
    assert_string_equal(err, "unknown flag -data_dir");
    assert_int_equal(LOAD(&c, err, "-dev", "stray"), -EINVAL);
    assert_string_equal(err, "unexpected argument \"stray\"");
    assert_int_equal(LOAD(&c, err, "-dev", "-"), -EINVAL);
    assert_string_equal(err, "unexpected argument \"-\"");
    assert_int_equal(LOAD(&c, err, "-dev", "--", "x"), -EINVAL);
    assert_string_equal(err, "unexpected argument \"x\"");
    assert_int_equal(LOAD(&c, err, "-dev", "---x"), -EINVAL);
    assert_string_equal(err, "bad flag syntax: ---x");
    assert_int_equal(LOAD(&c, err, "-dev", "-=x"), -EINVAL);
    assert_string_equal(err, "bad flag syntax: -=x");
    assert_int_equal(LOAD(&c, err, "-dev", "-node"), -EINVAL);
    assert_string_equal(err, "flag -node needs a value");
    assert_int_equal(LOAD(&c, err, "-dev", "-http-port", "x"), -EINVAL);
    assert_string_equal(err, "flag -http-port: invalid value \"x\": expected "
                             "an integer");
    assert_int_equal(LOAD(&c, err, "-dev", "-http-port=70000"), -EINVAL);
    assert_string_equal(err, "flag -http-port: 70000 out of range 1..65535 "
                             "(or -1 to disable)");
    assert_int_equal(LOAD(&c, err, "-dev", "-server=maybe"), -EINVAL);
    assert_string_equal(err, "flag -server: invalid value \"maybe\": expected "
                             "a boolean (true or false)");
    assert_int_equal(LOAD(&c, err, "-dev", "-node-id", "xyz"), -EINVAL);
    assert_string_equal(err, "flag -node-id: invalid UUID \"xyz\" (want "
                             "8-4-4-4-12 hexadecimal digits)");
    assert_int_equal(LOAD(&c, err, "-dev", "-datacenter", "d c"), -EINVAL);
    assert_string_equal(err, "flag -datacenter: invalid datacenter \"d c\": "
                             "only a-z, 0-9, '-' and '_' are allowed");
    assert_int_equal(LOAD(&c, err, "-dev", "-retry-interval=5"), -EINVAL);
    assert_string_equal(err, "flag -retry-interval: invalid value \"5\": "
                             "expected a duration like \"30s\" or \"1m30s\"");
    assert_int_equal(LOAD(&c, err, "-dev", "-log-level", "loud"), -EINVAL);
    assert_string_equal(err, "flag -log-level: invalid value \"loud\": "
                             "expected a log level (trace, debug, info, warn, "
                             "error)");
    assert_int_equal(LOAD(&c, err, "-dev", "-ui=sure"), -EINVAL);
    assert_string_equal(err, "flag -ui: invalid value \"sure\": expected a "
                             "boolean (true or false)");
    assert_int_equal(LOAD(&c, err, "-dev", "-node-meta", ":v"), -EINVAL);
    assert_string_equal(err, "flag -node-meta: invalid value \":v\": expected "
                             "key:value");
    assert_int_equal(LOAD(&c, err, "-dev", "-encrypt=short"), -EINVAL);
    assert_string_equal(err, "flag -encrypt: invalid key: want base64 of 16, "
                             "24 or 32 bytes (see cairn keygen)");
    /* Unknown flags fail before any file is read. */
    assert_int_equal(LOAD(&c, err, "-config-file=/nonexistent", "-bogus"),
                     -EINVAL);
    assert_string_equal(err, "unknown flag -bogus");
}

static void error_buffer_is_bounded(void **state)
{
    (void)state;
    struct cfg c;
    char err[8];
    assert_int_equal(LOAD(&c, err, "-dev", "-bogus"), -EINVAL);
    assert_string_equal(err, "unknown");
    assert_int_equal(cfg_load(&c, 1, ARGV("-bogus"), NULL, 0), -EINVAL);
}

/* services / service and checks / check are real keys: their definitions
 * are kept as JSON and checked at load, errors naming FILE:LINE:COL. */
static void service_definitions_load_and_are_checked(void **state)
{
    struct fixture *fx = *state;
    char path[TEST_PATH_MAX];
    snprintf(path, sizeof path, "%s",
             write_file(fx, "svc.yaml",
                        "services:\n"
                        "  - name: web\n"
                        "    port: 8080\n"
                        "    tags: [v1, blue]\n"
                        "    check: {http: 'http://127.0.0.1/', interval: 10s}\n"
                        "service:\n"
                        "  Name: db\n"
                        "  enable_tag_override: true\n"
                        "checks:\n"
                        "  - {name: disk, ttl: 30s}\n"));
    struct cfg c;
    char err[512];
    assert_int_equal(LOAD(&c, err, "-data-dir", "/tmp/x", "-config-file", path),
                     0);
    assert_int_equal(json_object_array_length(c.services), 2);
    assert_int_equal(json_object_array_length(c.checks), 1);
    json_object *web = json_object_array_get_idx(c.services, 0), *v;
    assert_true(json_object_object_get_ex(web, "port", &v));
    assert_int_equal(json_object_get_int(v), 8080);
    assert_true(json_object_object_get_ex(web, "__pos", &v));
    char want[TEST_PATH_MAX + 32];
    snprintf(want, sizeof want, "%s:2:5", path);
    assert_string_equal(json_object_get_string(v), want);
    cfg_free(&c);

    expect_file_error(fx, "e1.yaml", "services:\n  - port: 80\n", 2, 5,
                      "service: Missing service name");
    expect_file_error(fx, "e2.yaml", "check:\n  name: nokind\n", 2, 3,
                      "check: Invalid check: one of Args, HTTP, TCP or TTL "
                      "must be set");
    expect_file_error(fx, "e3.yaml",
                      "service:\n  name: s\n  check: {args: [/bin/true], "
                      "interval: 5s}\n",
                      2, 3,
                      "service: Scripts are disabled on this agent; to "
                      "enable, configure 'enable_script_checks' or "
                      "'enable_local_script_checks' to true");
    expect_file_error(fx, "e4.yaml", "services: 3\n", 1, 11,
                      "key \"services\": expected a mapping or a list of "
                      "mappings");
    /* Script checks load once the agent allows them. */
    snprintf(path, sizeof path, "%s",
             write_file(fx, "ok.yaml",
                        "enable_local_script_checks: true\n"
                        "service:\n  name: s\n  check: {args: [/bin/true], "
                        "interval: 5s}\n"));
    assert_int_equal(LOAD(&c, err, "-data-dir", "/tmp/x", "-config-file", path),
                     0);
    cfg_free(&c);
}

static void reload_picks_up_changes(void **state)
{
    struct fixture *fx = *state;
    char path[TEST_PATH_MAX];
    snprintf(path, sizeof path, "%s",
             write_file(fx, "r.yaml", "log_level: info\nnode_meta: {v: 1}\n"));
    char *argv[] = {"-dev", "-config-file", path, "-node", "n1"};
    struct cfg old, fresh;
    char err[256];
    assert_int_equal(cfg_load(&old, 5, argv, err, sizeof err), 0);
    argv[4] = "changed"; /* cfg keeps its own copy of argv */
    assert_int_equal(old.log_level, LOG_INFO);
    assert_string_equal(old.node_meta[0].value, "1");

    write_file(fx, "r.yaml", "log_level: error\nnode_meta: {v: 2}\n");
    assert_int_equal(cfg_reload(&old, &fresh, err, sizeof err), 0);
    assert_int_equal(fresh.log_level, LOG_ERROR);
    assert_string_equal(fresh.node_meta[0].value, "2");
    assert_string_equal(fresh.node_name, "n1");
    assert_int_equal(fresh.argc, 5);
    assert_string_equal(fresh.argv[2], path);
    /* old untouched */
    assert_int_equal(old.log_level, LOG_INFO);
    assert_string_equal(old.node_meta[0].value, "1");
    cfg_free(&fresh);

    /* A broken file makes the reload fail and leaves nothing behind. */
    write_file(fx, "r.yaml", "log_level: error\nbogus: 1\n");
    assert_int_equal(cfg_reload(&old, &fresh, err, sizeof err), -EINVAL);
    assert_true(all_zero(&fresh));
    char want[TEST_PATH_MAX + 64];
    snprintf(want, sizeof want, "%s:2:1: unknown key \"bogus\"", path);
    assert_string_equal(err, want);
    cfg_free(&old);
}

static void print_flags_lists_every_flag(void **state)
{
    struct fixture *fx = *state;
    char *out = in_dir(fx, "help.txt");
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, STDOUT_FILENO);
    close(fd);
    cfg_print_flags();
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);

    static char text[16384];
    text[0] = '\n'; /* so that every line starts with "\n  -" */
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    size_t n = fread(text + 1, 1, sizeof text - 2, f);
    fclose(f);
    text[n + 1] = '\0';

    static const char *const flags[] = {
        "dev", "server", "bootstrap", "bootstrap-expect", "node", "node-id",
        "datacenter", "data-dir", "config-file", "config-dir", "bind",
        "advertise", "client", "http-port", "dns-port", "serf-lan-port",
        "serf-wan-port", "server-port", "raft-port", "pid-file", "log-level",
        "log-json", "join", "retry-join", "retry-interval", "retry-max",
        "encrypt", "ui", "recursor", "disable-host-node-id",
    };
    static const char *const inactive[] = {
        "serf-wan-port", "dns-port", "recursor",
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "\n  -%s ", flags[i]);
        char *line = strstr(text, needle);
        if (line == NULL)
            fail_msg("-%s missing from:%s", flags[i], text);
        line++;
        char *end = strchr(line, '\n');
        assert_non_null(end);
        bool want_inactive = false;
        for (size_t j = 0; j < sizeof inactive / sizeof inactive[0]; j++)
            want_inactive = want_inactive || strcmp(flags[i], inactive[j]) == 0;
        *end = '\0';
        bool is_inactive = strstr(line, "(not yet active)") != NULL;
        *end = '\n';
        if (is_inactive != want_inactive)
            fail_msg("-%s: \"(not yet active)\" %s expected", flags[i],
                     want_inactive ? "" : "not");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(defaults_without_files),
        T(server_defaults_for_leaving),
        T(yaml_file_loads),
        T(gossip_eager_push),
        T(json_file_loads),
        T(empty_and_null_values),
        T(flags_override_files),
        T(flag_syntax_forms),
        T(config_dir_in_lexical_order),
        T(dev_mode),
        T(consul_only_keys_load_with_a_warning),
        T(unknown_keys),
        T(wrong_types),
        T(out_of_range),
        T(malformed_yaml),
        T(bad_values_checked),
        T(service_definitions_load_and_are_checked),
        T(cross_key_checks),
        T(missing_files_and_dirs),
        T(flag_errors),
        T(error_buffer_is_bounded),
        T(reload_picks_up_changes),
        T(print_flags_lists_every_flag),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
