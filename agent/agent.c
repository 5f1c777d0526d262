/*
 * agent — see agent.h. Start-up order: config, logging, data directory,
 * node ID, FSM, Raft, HTTP, signals; shutdown runs it backwards: HTTP stops
 * accepting and lets in-flight applies finish, then Raft closes, then the
 * remaining handles, then the loop ends.
 */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "ae.h"
#include "check.h"
#include "http.h"
#include "local.h"
#include "member.h"
#include "log.h"
#include "raftnode.h"

/* Tombstones are kept this long so prefix blocking queries wake on deletes
 * (Consul: 15 minutes), then reaped through Raft. */
#define TOMBSTONE_TTL_MS (15 * 60 * 1000ULL)
#define REAP_TICK_MS (60 * 1000ULL)
#define REAP_SAMPLES 32

static struct
{
    uint64_t at_ms[REAP_SAMPLES];
    uint64_t index[REAP_SAMPLES];
    unsigned n, head;
} reap_hist;

uint64_t agent_max_index(const struct agent *a)
{
    uint64_t i = a->fsm.index;
    return i ? i : 1;
}

const char *agent_leader_addr(const struct agent *a)
{
    const char *addr = NULL;
    uint64_t id = raftnode_leader(a->raft, &addr);
    if (id == 0)
        return NULL;
    return id == a->raft_id ? a->rpc_addr : addr;
}

/* ------------------------------------------------------------ node id */

static bool is_uuid(const char *s)
{
    static const char pat[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                   (c >= 'A' && c <= 'F');
        if (pat[i] == '-' ? c != '-' : !hex)
            return false;
    }
    return true;
}

static void uuid_new(char out[37])
{
    uint8_t b[16];
    randombytes_buf(b, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x"
             "%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
             b[11], b[12], b[13], b[14], b[15]);
}

/* Write `data` to dir/name atomically: temp file, fsync, rename, fsync
 * the directory. */
static int write_file_atomic(const char *dir, const char *name,
                             const char *data)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -errno;
    size_t len = strlen(data);
    int rv = 0;
    if (write(fd, data, len) != (ssize_t)len || fsync(fd) != 0)
        rv = -errno ? -errno : -EIO;
    close(fd);
    if (rv == 0 && rename(tmp, path) != 0)
        rv = -errno;
    if (rv != 0) {
        unlink(tmp);
        return rv;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* The node ID: from config, else data_dir/node-id, else a new one that is
 * persisted. A configured ID that differs from the persisted one wins and
 * is persisted. */
static int node_id_setup(struct agent *a, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/node-id", a->data_dir);
    char buf[64] = "";
    FILE *f = fopen(path, "r");
    if (f) {
        if (fgets(buf, sizeof buf, f) == NULL)
            buf[0] = '\0';
        fclose(f);
        buf[strcspn(buf, "\r\n \t")] = '\0';
        if (!is_uuid(buf)) {
            snprintf(err, errlen, "%s: not a UUID: \"%s\"", path, buf);
            return -EINVAL;
        }
    }
    if (a->cfg.node_id)
        snprintf(a->node_id, sizeof a->node_id, "%s", a->cfg.node_id);
    else if (buf[0])
        snprintf(a->node_id, sizeof a->node_id, "%s", buf);
    else
        uuid_new(a->node_id);
    for (char *p = a->node_id; *p; p++)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    if (strcmp(buf, a->node_id) != 0) {
        char line[40];
        snprintf(line, sizeof line, "%s\n", a->node_id);
        int rv = write_file_atomic(a->data_dir, "node-id", line);
        if (rv != 0) {
            snprintf(err, errlen, "writing %s: %s", path, strerror(-rv));
            return rv;
        }
    }
    /* Raft ID: the first 64 bits of the node ID (never 0). */
    uint64_t id = 0;
    for (int i = 0, n = 0; a->node_id[i] && n < 16; i++) {
        char c = a->node_id[i];
        if (c == '-')
            continue;
        id = id << 4 |
             (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
        n++;
    }
    a->raft_id = id ? id : 1;
    return 0;
}

/* ---------------------------------------------------------- addresses */

static void pick_advertise(struct agent *a)
{
    const struct cfg *c = &a->cfg;
    const char *addr = c->advertise_addr;
    if (addr == NULL && strcmp(c->bind_addr, "0.0.0.0") != 0 &&
        strcmp(c->bind_addr, "::") != 0)
        addr = c->bind_addr;
    if (addr) {
        snprintf(a->advertise, sizeof a->advertise, "%s", addr);
        return;
    }
    /* Consul: the single private IPv4 address. We take the first
     * non-loopback IPv4 one and fall back to loopback. */
    snprintf(a->advertise, sizeof a->advertise, "127.0.0.1");
    uv_interface_address_t *ifs;
    int n;
    if (uv_interface_addresses(&ifs, &n) != 0)
        return;
    for (int i = 0; i < n; i++) {
        if (ifs[i].is_internal || ifs[i].address.address4.sin_family != AF_INET)
            continue;
        uv_ip4_name(&ifs[i].address.address4, a->advertise,
                    sizeof a->advertise);
        break;
    }
    uv_free_interface_addresses(ifs, n);
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int mkdir_p(const char *dir)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* ------------------------------------------------------------- reload */

int agent_reload(struct agent *a, char *err, size_t errlen)
{
    struct cfg next;
    int rv = cfg_reload(&a->cfg, &next, err, errlen);
    if (rv != 0) {
        log_error("agent", "reload rejected, keeping the running config: %s",
                  err);
        return rv;
    }
    /* What may change at run time; the rest (node name, ports, data dir,
     * server role) needs a restart, as in Consul. */
    a->cfg.log_level = next.log_level;
    log_set_level(next.log_level);
    struct cfg_kv *meta = a->cfg.node_meta;
    size_t n_meta = a->cfg.n_node_meta;
    a->cfg.node_meta = next.node_meta;
    a->cfg.n_node_meta = next.n_node_meta;
    next.node_meta = meta;
    next.n_node_meta = n_meta;
    a->cfg.kv_max_value_size = next.kv_max_value_size;
    a->cfg.txn_max_req_len = next.txn_max_req_len;
    /* Services and checks from the files: the new set replaces the old
     * one (cfg_reload validated every definition already). */
    struct svcdef_policy pol = {
        .allow_scripts = next.enable_script_checks ||
                         next.enable_local_script_checks};
    struct svcdef_err se;
    if (local_sync_config(a->local, next.services, next.checks, &pol, &se) !=
        0)
        log_error("agent", "reload: services/checks: %s", se.msg);
    json_object *tmp = a->cfg.services;
    a->cfg.services = next.services;
    next.services = tmp;
    tmp = a->cfg.checks;
    a->cfg.checks = next.checks;
    next.checks = tmp;
    a->cfg.enable_script_checks = next.enable_script_checks;
    a->cfg.enable_local_script_checks = next.enable_local_script_checks;
    cfg_free(&next);
    log_info("agent", "configuration reloaded (log level %s)",
             log_level_name(a->cfg.log_level));
    return 0;
}

/* ----------------------------------------------------------- shutdown */

static void handle_closed(uv_handle_t *h)
{
    (void)h;
}

static void raft_closed(void *data)
{
    struct agent *a = data;
    a->closed_raft = a->raft; /* freed after the loop (raftnode_free) */
    a->raft = NULL;
    uv_close((uv_handle_t *)&a->sig_int, handle_closed);
    uv_close((uv_handle_t *)&a->sig_term, handle_closed);
    uv_close((uv_handle_t *)&a->sig_hup, handle_closed);
    uv_close((uv_handle_t *)&a->reap_timer, handle_closed);
    log_info("agent", "shutdown complete");
}

static void member_closed(void *data)
{
    struct agent *a = data;
    a->member = NULL;
    if (a->raft)
        raftnode_close(a->raft, raft_closed, a);
    else
        raft_closed(a);
}

static void http_stopped(void *data)
{
    struct agent *a = data;
    a->http = NULL;
    ae_free(a->ae);
    a->ae = NULL;
    local_free(a->local);
    a->local = NULL;
    check_env_free(a->check_env);
    a->check_env = NULL;
    if (a->member)
        member_close(a->member, member_closed, a);
    else
        member_closed(a);
}

static void shutdown_continue(void *data)
{
    struct agent *a = data;
    if (a->http)
        http_stop(a->http, http_stopped, a);
    else
        http_stopped(a);
}

/* Shut down; with `leave`, first leave the cluster gracefully so the
 * others mark this agent left rather than failed. */
static void agent_shutdown(struct agent *a, bool leave)
{
    if (a->stopping) {
        log_warn("agent", "second signal: exiting now");
        exit(1);
    }
    a->stopping = true;
    log_info("agent", "shutting down%s", leave ? " (leaving the cluster)" : "");
    uv_timer_stop(&a->reap_timer);
    if (leave && a->member)
        member_leave(a->member, shutdown_continue, a);
    else
        shutdown_continue(a);
}

void agent_leave(struct agent *a)
{
    agent_shutdown(a, true);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct agent *a = h->data;
    if (signum == SIGHUP) {
        char err[512];
        log_info("agent", "SIGHUP: reloading configuration");
        agent_reload(a, err, sizeof err);
        return;
    }
    log_info("agent", "caught signal %s", signum == SIGINT ? "SIGINT" : "SIGTERM");
    /* Consul: SIGINT leaves unless skip_leave_on_interrupt (servers skip by
     * default), SIGTERM leaves only with leave_on_terminate (clients). */
    bool leave = signum == SIGINT ? !a->cfg.skip_leave_on_interrupt
                                  : a->cfg.leave_on_terminate;
    agent_shutdown(a, leave);
}

/* --------------------------------------------------- tombstone reaping */

static void reap_noop_cb(void *data, int status, struct fsm_result *res)
{
    (void)data;
    (void)res;
    if (status != 0)
        log_debug("agent", "tombstone reap not applied: %d", status);
}

static void reap_tick(uv_timer_t *t)
{
    struct agent *a = t->data;
    uint64_t now = uv_now(a->loop);
    unsigned slot = (reap_hist.head + reap_hist.n) % REAP_SAMPLES;
    if (reap_hist.n == REAP_SAMPLES) {
        reap_hist.head = (reap_hist.head + 1) % REAP_SAMPLES;
        reap_hist.n--;
    }
    reap_hist.at_ms[slot] = now;
    reap_hist.index[slot] = a->fsm.index;
    reap_hist.n++;
    /* The newest sample at least TOMBSTONE_TTL old bounds what may go. */
    uint64_t upto = 0;
    for (unsigned i = 0; i < reap_hist.n; i++) {
        unsigned s = (reap_hist.head + i) % REAP_SAMPLES;
        if (now - reap_hist.at_ms[s] >= TOMBSTONE_TTL_MS)
            upto = reap_hist.index[s];
    }
    if (upto == 0 || kv_tombstones(a->fsm.kv) == 0 ||
        !raftnode_is_ready_leader(a->raft))
        return;
    struct cmd c = {.type = CMD_KV_REAP, .arg = upto};
    raftnode_apply(a->raft, &c, reap_noop_cb, a, NULL);
}

/* ---------------------------------------------------------------- main */

static void usage_agent(void)
{
    printf("Usage: cairn agent [options]\n\n"
           "  Starts the cairn agent and runs until an interrupt is received.\n"
           "  Flags mirror `consul agent`; config files are YAML or JSON with\n"
           "  Consul's key names.\n\nOptions:\n\n");
    cfg_print_flags();
}

/* Blocking queries hold one connection each: raise the soft limit on open
 * files to the hard limit (Consul's own default soft limit of 1024 is what
 * makes agents fall over at ~1000 watchers). */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t before = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            rl.rlim_cur = before;
    }
    log_info("agent", "open file limit %llu (was %llu, hard limit %llu)",
             (unsigned long long)rl.rlim_cur, (unsigned long long)before,
             (unsigned long long)rl.rlim_max);
}

static int write_pid_file(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -errno;
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
    return 0;
}

int agent_main(int argc, char **argv)
{
    static struct agent agent;
    struct agent *a = &agent;
    char err[1024] = "";
    int rv;

    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "-help") == 0 ||
            strcmp(argv[i], "--help") == 0) {
            usage_agent();
            return 0;
        }
    memset(a, 0, sizeof *a);
    if (cfg_load(&a->cfg, argc, argv, err, sizeof err) != 0) {
        fprintf(stderr, "==> %s\n", err);
        return 1;
    }
    log_set_level(a->cfg.log_level);
    log_set_json(a->cfg.log_json);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    if (a->cfg.dev && a->cfg.data_dir == NULL) {
        char tmpl[] = "/tmp/cairn-dev-XXXXXX";
        if (mkdtemp(tmpl) == NULL) {
            fprintf(stderr, "==> cannot create a temporary data dir: %s\n",
                    strerror(errno));
            goto err_after_cfg;
        }
        a->data_dir = strdup(tmpl);
        a->tmp_data_dir = true;
    } else {
        a->data_dir = strdup(a->cfg.data_dir);
        if (a->data_dir && (rv = mkdir_p(a->data_dir)) != 0) {
            fprintf(stderr, "==> data_dir %s: %s\n", a->data_dir,
                    strerror(-rv));
            goto err_after_cfg;
        }
    }
    if (a->data_dir == NULL)
        goto err_after_cfg;
    if (node_id_setup(a, err, sizeof err) != 0) {
        fprintf(stderr, "==> %s\n", err);
        goto err_after_data_dir;
    }
    pick_advertise(a);
    snprintf(a->rpc_addr, sizeof a->rpc_addr, "%s:%d", a->advertise,
             a->cfg.port_server);
    snprintf(a->raft_addr, sizeof a->raft_addr, "%s:%d", a->advertise,
             a->cfg.port_raft);

    a->loop = malloc(sizeof *a->loop);
    if (a->loop == NULL || uv_loop_init(a->loop) != 0)
        goto err_after_data_dir;
    a->started_ms = uv_now(a->loop);
    if (fsm_init(&a->fsm) != 0)
        goto err_after_loop;

    log_info("agent", "cairn agent starting: node %s (%s), datacenter %s, "
                      "data dir %s%s",
             a->cfg.node_name, a->node_id, a->cfg.datacenter, a->data_dir,
             a->cfg.dev ? " (dev, removed at exit)" : "");
    if (a->cfg.server) {
        char raft_dir[4200], bind[128];
        snprintf(raft_dir, sizeof raft_dir, "%s/raft", a->data_dir);
        snprintf(bind, sizeof bind, "%s:%d", a->cfg.bind_addr,
                 a->cfg.port_raft);
        struct raftnode_options ro = {
            .dir = raft_dir,
            .id = a->raft_id,
            .address = a->raft_addr,
            .bind_address = bind,
            .bootstrap = a->cfg.bootstrap || a->cfg.bootstrap_expect == 1,
            .snapshot_threshold = (unsigned)a->cfg.raft_snapshot_threshold,
            .snapshot_trailing = (unsigned)a->cfg.raft_trailing_logs,
        };
        if (raftnode_start(&a->raft, a->loop, &a->fsm, &ro, err,
                           sizeof err) != 0) {
            fprintf(stderr, "==> %s\n", err);
            goto err_after_fsm;
        }
        if (!ro.bootstrap)
            log_warn("agent", "server without -bootstrap: waiting for "
                              "other servers (not yet active: needs gossip)");
    } else {
        log_warn("agent", "client mode: forwarding to servers is not yet "
                          "active; KV and catalog requests will fail");
    }
    /* The agent's own services and checks: persisted API registrations,
     * then the config files' definitions; anti-entropy pushes them to the
     * catalog. */
    char local_dir[4200];
    snprintf(local_dir, sizeof local_dir, "%s/local", a->data_dir);
    a->check_env = check_env_new(a->loop);
    a->local = a->check_env ? local_new(a->loop, a->check_env, local_dir,
                                        ae_schedule, NULL)
                            : NULL;
    if (a->local == NULL) {
        fprintf(stderr, "==> cannot start the local state\n");
        goto err_after_fsm;
    }
    struct svcdef_policy pol = {
        .allow_scripts = a->cfg.enable_script_checks ||
                         a->cfg.enable_local_script_checks};
    struct svcdef_err se;
    local_load(a->local, &pol);
    if (local_sync_config(a->local, a->cfg.services, a->cfg.checks, &pol,
                          &se) != 0) {
        fprintf(stderr, "==> %s\n", se.msg);
        goto err_after_fsm;
    }
    a->ae = ae_new(a);
    if (a->ae == NULL)
        goto err_after_fsm;
    local_set_change_data(a->local, a->ae);
    if (a->cfg.port_serf_lan > 0 &&
        member_start(a, &a->member, err, sizeof err) != 0) {
        fprintf(stderr, "==> %s\n", err);
        goto err_after_fsm;
    }

    char client[128];
    snprintf(client, sizeof client, "%s", a->cfg.client_addr);
    client[strcspn(client, " ")] = '\0';
    if (a->cfg.port_http > 0 &&
        http_start(&a->http, a, a->loop, client, a->cfg.port_http,
                   a->cfg.http_max_conns_per_client > 0
                       ? (unsigned)a->cfg.http_max_conns_per_client
                       : 0,
                   err, sizeof err) != 0) {
        fprintf(stderr, "==> %s\n", err);
        goto err_after_fsm;
    }
    if (a->cfg.pid_file && write_pid_file(a->cfg.pid_file) != 0)
        log_warn("agent", "cannot write pid file %s", a->cfg.pid_file);

    uv_signal_init(a->loop, &a->sig_int);
    uv_signal_init(a->loop, &a->sig_term);
    uv_signal_init(a->loop, &a->sig_hup);
    a->sig_int.data = a->sig_term.data = a->sig_hup.data = a;
    uv_signal_start(&a->sig_int, on_signal, SIGINT);
    uv_signal_start(&a->sig_term, on_signal, SIGTERM);
    uv_signal_start(&a->sig_hup, on_signal, SIGHUP);
    uv_timer_init(a->loop, &a->reap_timer);
    a->reap_timer.data = a;
    uv_timer_start(&a->reap_timer, reap_tick, REAP_TICK_MS, REAP_TICK_MS);

    uv_run(a->loop, UV_RUN_DEFAULT);
    raftnode_free(a->closed_raft, a->loop);

    uv_loop_close(a->loop);
    free(a->loop);
    fsm_close(&a->fsm);
    if (a->cfg.pid_file)
        unlink(a->cfg.pid_file);
    if (a->tmp_data_dir)
        nftw(a->data_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(a->data_dir);
    cfg_free(&a->cfg);
    return a->exit_code;

    /* Start-up failures exit the process; handles already on the loop are
     * reclaimed by the exit. */
err_after_fsm:
err_after_loop:
err_after_data_dir:
    if (a->tmp_data_dir)
        nftw(a->data_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
err_after_cfg:
    return 1;
}
