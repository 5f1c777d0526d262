/* raftnode — see raftnode.h. */
#include "raftnode.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <raft.h>
#include <raft/uv.h>

#include "log.h"

struct raftnode
{
    struct raft raft;
    struct raft_io io;
    struct raft_uv_transport transport;
    uv_timer_t tick; /* watches for leadership to issue the barrier */
    struct fsm *fsm;
    uint64_t ready_term;   /* term whose barrier has been applied */
    uint64_t barrier_term; /* term whose barrier is in flight, or 0 */
    int last_state;
    uv_loop_t *loop;
    unsigned async_inflight; /* snapshot work items on the thread pool */
    bool closing;
    unsigned close_polls;
    void (*close_cb)(void *);
    void *close_data;
};

/* One proposal in flight; freed in its raft callback. */
struct pending
{
    union {
        struct raft_apply apply;
        struct raft_barrier barrier;
    } req;
    struct raftnode *rn;
    raftnode_apply_fn cb; /* NULL once cancelled */
    void *data;
};

/* c-raft 0.15's libuv backend is raft_io version 1: it has no async_work,
 * which version-3 FSMs (snapshot_async) need, and raft_init refuses the
 * combination. struct raft_io is c-raft's public I/O vtable, so we add the
 * one missing method on top of it: run the work on libuv's thread pool and
 * report back on the loop. */
struct async_job
{
    uv_work_t work;
    struct raftnode *rn;
    struct raft_io_async_work *req;
    raft_io_async_work_cb cb;
    int status;
};

static void raft_really_close(struct raftnode *rn);

static void async_job_run(uv_work_t *w)
{
    struct async_job *j = w->data;
    j->status = j->req->work(j->req);
}

static void async_job_done(uv_work_t *w, int status)
{
    struct async_job *j = w->data;
    struct raftnode *rn = j->rn;
    j->cb(j->req, status == UV_ECANCELED ? RAFT_CANCELED : j->status);
    free(j);
    rn->async_inflight--;
}

static int io_async_work(struct raft_io *io, struct raft_io_async_work *req,
                         raft_io_async_work_cb cb)
{
    struct raftnode *rn =
        (struct raftnode *)((char *)io - offsetof(struct raftnode, io));
    struct async_job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return RAFT_NOMEM;
    j->rn = rn;
    j->req = req;
    j->cb = cb;
    j->work.data = j;
    int rv = uv_queue_work(rn->loop, &j->work, async_job_run, async_job_done);
    if (rv != 0) {
        free(j);
        return RAFT_IOERR;
    }
    rn->async_inflight++;
    return 0;
}

static void leader_barrier_cb(struct raft_barrier *req, int status)
{
    struct pending *p = req->data;
    struct raftnode *rn = p->rn;
    if (status == 0) {
        rn->ready_term = rn->barrier_term;
        log_info("raft", "leader ready (term %llu, index %llu)",
                 (unsigned long long)rn->ready_term,
                 (unsigned long long)raft_last_applied(&rn->raft));
    }
    rn->barrier_term = 0;
    free(p);
}

static void tick_cb(uv_timer_t *t)
{
    struct raftnode *rn = t->data;
    int state = raft_state(&rn->raft);
    if (state != rn->last_state) {
        static const char *names[] = {"unavailable", "follower", "candidate",
                                      "leader"};
        log_info("raft", "state %s (term %llu)",
                 state >= 0 && state <= 3 ? names[state] : "?",
                 (unsigned long long)rn->raft.current_term);
        rn->last_state = state;
    }
    if (state != RAFT_LEADER || rn->ready_term == rn->raft.current_term ||
        rn->barrier_term != 0)
        return;
    struct pending *p = calloc(1, sizeof *p);
    if (p == NULL)
        return;
    p->rn = rn;
    p->req.barrier.data = p;
    rn->barrier_term = rn->raft.current_term;
    int rv = raft_barrier(&rn->raft, &p->req.barrier, leader_barrier_cb);
    if (rv != 0) {
        log_warn("raft", "leader barrier: %s", raft_strerror(rv));
        rn->barrier_term = 0;
        free(p);
    }
}

/* Why listening on `address` ("host:port", "[v6-host]:port") fails now,
 * as a libuv error code (-errno), by trying it with a throwaway socket set
 * up as libuv's uv_tcp_bind does (SO_REUSEADDR). 0 when it works or the
 * address is not a literal this can parse. c-raft 0.15's TCP transport
 * turns a failed bind/listen into a bare RAFT_IOERR with no message (and
 * raft_start leaves raft_errmsg empty), so this is how the cause is found
 * for the user. */
static int listen_probe(const char *address)
{
    const char *colon = strrchr(address, ':');
    char host[64], *h = host, *end;
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } sa;
    socklen_t salen;
    if (colon == NULL || (size_t)(colon - address) >= sizeof host)
        return 0;
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = '\0';
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        h++;
    }
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || *end != '\0' || port < 0 ||
        port > 65535)
        return 0;
    if (uv_ip4_addr(h, (int)port, &sa.in4) == 0)
        salen = sizeof sa.in4;
    else if (uv_ip6_addr(h, (int)port, &sa.in6) == 0)
        salen = sizeof sa.in6;
    else
        return 0;
    int fd = socket(sa.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0; /* says nothing about the address */
    int one = 1, rv = 0;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, &sa.sa, salen) != 0 || listen(fd, 1) != 0)
        rv = -errno;
    close(fd);
    return rv;
}

/* The message for a failed raft_start: c-raft's own message when it left
 * one, else what a listen on the raft address says, else the code's text. */
static void start_error(struct raftnode *rn, const char *listen_addr, int rv,
                        char *err, size_t errlen)
{
    const char *why = raft_errmsg(&rn->raft);
    if (why == NULL || *why == '\0')
        why = rn->io.errmsg;
    if (*why == '\0')
        why = rn->transport.errmsg;
    if (*why != '\0') {
        snprintf(err, errlen, "raft start: %s", why);
        return;
    }
    int lv = listen_probe(listen_addr);
    if (lv == UV_EADDRINUSE)
        snprintf(err, errlen,
                 "raft: cannot listen on %s: %s (another process has the "
                 "port; choose another with -raft-port or ports.raft)",
                 listen_addr, uv_strerror(lv));
    else if (lv != 0)
        snprintf(err, errlen, "raft: cannot listen on %s: %s", listen_addr,
                 uv_strerror(lv));
    else
        snprintf(err, errlen, "raft start (listening on %s): %s",
                 listen_addr, raft_strerror(rv));
}

int raftnode_start(struct raftnode **out, uv_loop_t *loop, struct fsm *fsm,
                   const struct raftnode_options *opt, char *err,
                   size_t errlen)
{
    struct raftnode *rn = calloc(1, sizeof *rn);
    int rv;
    if (rn == NULL)
        return -ENOMEM;
    rn->fsm = fsm;
    rn->last_state = -1;
    if (mkdir(opt->dir, 0700) != 0 && errno != EEXIST) {
        rv = -errno;
        snprintf(err, errlen, "raft dir %s: %s", opt->dir, strerror(errno));
        goto err_after_alloc;
    }
    rv = raft_uv_tcp_init(&rn->transport, loop);
    if (rv != 0) {
        snprintf(err, errlen, "raft transport: %s", raft_strerror(rv));
        rv = -EIO;
        goto err_after_alloc;
    }
    if (opt->bind_address)
        raft_uv_tcp_set_bind_address(&rn->transport, opt->bind_address);
    rv = raft_uv_init(&rn->io, loop, opt->dir, &rn->transport);
    if (rv != 0) {
        snprintf(err, errlen, "raft io: %s", rn->io.errmsg);
        rv = -EIO;
        goto err_after_transport;
    }
    rn->loop = loop;
    if (rn->io.version < 2) {
        rn->io.version = 2;
        rn->io.async_work = io_async_work;
    }
    rv = raft_init(&rn->raft, &rn->io, &fsm->raft_fsm, opt->id, opt->address);
    if (rv != 0) {
        snprintf(err, errlen, "raft init: %s", raft_errmsg(&rn->raft));
        rv = -EIO;
        goto err_after_io;
    }
    fsm_bind_raft(fsm, &rn->raft);
    raft_set_election_timeout(&rn->raft, 1000);
    raft_set_heartbeat_timeout(&rn->raft, 100);
    raft_set_install_snapshot_timeout(&rn->raft, 5000);
    raft_set_pre_vote(&rn->raft, true);
    raft_set_snapshot_threshold(&rn->raft, opt->snapshot_threshold);
    raft_set_snapshot_trailing(&rn->raft, opt->snapshot_trailing);

    if (opt->bootstrap) {
        struct raft_configuration conf;
        raft_configuration_init(&conf);
        rv = raft_configuration_add(&conf, opt->id, opt->address, RAFT_VOTER);
        if (rv == 0)
            rv = raft_bootstrap(&rn->raft, &conf);
        raft_configuration_close(&conf);
        if (rv == 0)
            log_info("raft", "bootstrapped a one-voter cluster (%s)",
                     opt->address);
        else if (rv != RAFT_CANTBOOTSTRAP) {
            snprintf(err, errlen, "raft bootstrap: %s", raft_strerror(rv));
            rv = -EIO;
            goto err_after_raft;
        }
    }
    rv = raft_start(&rn->raft);
    if (rv != 0) {
        start_error(rn, opt->bind_address ? opt->bind_address : opt->address,
                    rv, err, errlen);
        rv = -EIO;
        goto err_after_raft;
    }
    uv_timer_init(loop, &rn->tick);
    rn->tick.data = rn;
    uv_timer_start(&rn->tick, tick_cb, 0, 20);
    *out = rn;
    return 0;

    /* raft_close is asynchronous; on a failed start the process exits, so
     * the remaining handles are left to the exit path. */
err_after_raft:
err_after_io:
err_after_transport:
err_after_alloc:
    (void)loop;
    *out = NULL;
    return rv;
}

static void tick_closed(uv_handle_t *h)
{
    struct raftnode *rn = h->data;
    if (rn->close_cb)
        rn->close_cb(rn->close_data);
}

/* c-raft 0.15's libuv backend can run raft's internal close callback a
 * second time after the first (seen under ASan with thousands of entries
 * written at shutdown: raft's address string freed twice; libraft itself
 * is not instrumented, so the stray reads of the closed raft go unseen).
 * That callback frees r->address, the log and the configuration, then
 * calls ours. So, once ours runs, the raft struct is zeroed (a repeat then
 * frees NULLs and calls no callback), and the raft memory and the I/O
 * backend are released only after the loop has stopped (raftnode_free). */
static void raft_closed(struct raft *r)
{
    struct raftnode *rn = (struct raftnode *)r;
    memset(&rn->raft, 0, sizeof rn->raft);
    uv_close((uv_handle_t *)&rn->tick, tick_closed);
}

void raftnode_free(struct raftnode *rn, uv_loop_t *loop)
{
    if (rn == NULL)
        return;
    raft_uv_close(&rn->io);
    raft_uv_tcp_close(&rn->transport);
    uv_run(loop, UV_RUN_DEFAULT); /* let anything they closed finish */
    free(rn);
}

static void raft_really_close(struct raftnode *rn)
{
    raft_close(&rn->raft, raft_closed);
}

/* Raft I/O still in progress: entries being written, a snapshot being
 * taken or stored, snapshot work on the thread pool. */
static bool raft_busy(struct raftnode *rn)
{
    struct raft *r = &rn->raft;
    return rn->async_inflight > 0 || r->snapshot.pending.term != 0 ||
           r->last_stored < raft_last_index(r);
}

/* c-raft 0.15 runs its close callback twice (a double free of the raft
 * address, seen under ASan with thousands of services registered) when
 * raft_close lands while its I/O is in flight. Nothing proposes entries
 * any more when we get here (HTTP, anti-entropy and membership are
 * closed), so close waits for that I/O to drain: polling every 10 ms, at
 * most 10 s. */
static void close_wait_cb(uv_timer_t *t)
{
    struct raftnode *rn = t->data;
    if (raft_busy(rn) && ++rn->close_polls < 1000)
        return;
    uv_timer_stop(&rn->tick);
    raft_really_close(rn);
}

void raftnode_close(struct raftnode *rn, void (*cb)(void *data), void *data)
{
    rn->close_cb = cb;
    rn->close_data = data;
    rn->closing = true;
    uv_timer_stop(&rn->tick);
    if (!raft_busy(rn)) {
        raft_really_close(rn);
        return;
    }
    log_info("raft", "waiting for raft I/O in progress before closing");
    uv_timer_start(&rn->tick, close_wait_cb, 10, 10);
}

static void apply_done(struct raft_apply *req, int status, void *result)
{
    struct pending *p = req->data;
    if (p->cb)
        p->cb(p->data, status, status == 0 ? result : NULL);
    free(p);
}

int raftnode_apply(struct raftnode *rn, const struct cmd *c,
                   raftnode_apply_fn cb, void *data, void **handle)
{
    if (rn == NULL || raft_state(&rn->raft) != RAFT_LEADER)
        return -EPERM;
    struct pending *p = calloc(1, sizeof *p);
    if (p == NULL)
        return -ENOMEM;
    struct raft_buffer buf;
    buf.len = cmd_encoded_size(c);
    buf.base = raft_malloc(buf.len);
    if (buf.base == NULL) {
        free(p);
        return -ENOMEM;
    }
    cmd_encode(c, buf.base);
    p->rn = rn;
    p->cb = cb;
    p->data = data;
    p->req.apply.data = p;
    int rv = raft_apply(&rn->raft, &p->req.apply, &buf, 1, apply_done);
    if (rv != 0) {
        /* The buffer belongs to raft only when raft_apply returns 0. */
        raft_free(buf.base);
        free(p);
        log_warn("raft", "apply: %s", raft_strerror(rv));
        return rv == RAFT_NOTLEADER ? -EPERM : -EIO;
    }
    if (handle)
        *handle = p;
    return 0;
}

static void barrier_done(struct raft_barrier *req, int status)
{
    struct pending *p = req->data;
    if (p->cb)
        p->cb(p->data, status, NULL);
    free(p);
}

int raftnode_barrier(struct raftnode *rn, raftnode_apply_fn cb, void *data,
                     void **handle)
{
    if (rn == NULL || raft_state(&rn->raft) != RAFT_LEADER)
        return -EPERM;
    struct pending *p = calloc(1, sizeof *p);
    if (p == NULL)
        return -ENOMEM;
    p->rn = rn;
    p->cb = cb;
    p->data = data;
    p->req.barrier.data = p;
    int rv = raft_barrier(&rn->raft, &p->req.barrier, barrier_done);
    if (rv != 0) {
        free(p);
        return rv == RAFT_NOTLEADER ? -EPERM : -EIO;
    }
    if (handle)
        *handle = p;
    return 0;
}

void raftnode_cancel(void *handle)
{
    struct pending *p = handle;
    if (p)
        p->cb = NULL;
}

bool raftnode_is_ready_leader(const struct raftnode *rn)
{
    if (rn == NULL)
        return false;
    struct raft *r = (struct raft *)&rn->raft;
    return raft_state(r) == RAFT_LEADER && rn->ready_term == r->current_term;
}

int raftnode_state(const struct raftnode *rn)
{
    if (rn == NULL)
        return RAFT_UNAVAILABLE;
    return raft_state((struct raft *)&rn->raft);
}

uint64_t raftnode_leader(const struct raftnode *rn, const char **address)
{
    raft_id id = 0;
    const char *addr = NULL;
    if (address)
        *address = NULL;
    if (rn == NULL)
        return 0;
    raft_leader((struct raft *)&rn->raft, &id, &addr);
    if (address)
        *address = addr;
    return id;
}

unsigned raftnode_voters(const struct raftnode *rn, uint64_t *ids,
                         const char **addrs, unsigned max)
{
    unsigned n = 0;
    if (rn == NULL)
        return 0;
    const struct raft_configuration *c = &rn->raft.configuration;
    for (unsigned i = 0; i < c->n && n < max; i++) {
        if (c->servers[i].role != RAFT_VOTER)
            continue;
        ids[n] = c->servers[i].id;
        addrs[n] = c->servers[i].address;
        n++;
    }
    return n;
}

uint64_t raftnode_last_index(const struct raftnode *rn)
{
    if (rn == NULL)
        return 0;
    return raft_last_index((struct raft *)&rn->raft);
}

uint64_t raftnode_applied_index(const struct raftnode *rn)
{
    if (rn == NULL)
        return 0;
    return raft_last_applied((struct raft *)&rn->raft);
}

uint64_t raftnode_term(const struct raftnode *rn)
{
    if (rn == NULL)
        return 0;
    return rn->raft.current_term;
}
