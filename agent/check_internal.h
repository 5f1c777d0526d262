/*
 * check_internal — shared by check.c (core, TTL, TCP, script) and
 * check_http.c (libcurl multi on the loop). Not for use outside agent/check*.
 */
#ifndef CAIRN_CHECK_INTERNAL_H
#define CAIRN_CHECK_INTERNAL_H

#include "check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <uv.h>

struct check__sock; /* one uv_poll_t per curl socket, check_http.c */

struct check_env
{
    uv_loop_t *loop;
    CURLM *multi;              /* NULL until the first HTTP check */
    uv_timer_t curl_timer;     /* curl's CURLMOPT_TIMERFUNCTION, with multi */
    struct check__sock *socks; /* open poll handles, for check_env_free */
    uint64_t min_interval_ms;
    uint64_t max_stagger_ms;
    uint64_t rng;      /* xorshift64 state */
    unsigned n_checks; /* started and not stopped */
};

struct check
{
    struct check_env *env; /* NULL once stopped */
    uv_loop_t *loop;
    enum check_kind kind;
    char *id; /* for logs, never NULL */
    check_update_fn cb;
    void *data;

    struct check_sm sm;       /* thresholds (HTTP, TCP, script) */
    enum check_status status; /* visible status */
    char *output;             /* visible output, never NULL */

    uint64_t interval_ms;
    uint64_t timeout_ms;
    uint64_t ttl_ms;
    size_t output_max;

    char *ttl_last; /* TTL: last output set by an update */

    /* HTTP */
    char *http;
    char *method;
    char *body;
    struct curl_slist *hdrs;
    char *hdr_error;  /* bad header: every probe fails with this */
    char *curl_error; /* libcurl not loadable: every probe's output */
    bool tls_skip_verify;
    bool disable_redirects;
    bool no_proxy; /* loopback host: never via a proxy (as Go) */

    char *tcp;   /* TCP */
    char **argv; /* script */

    uv_timer_t timer;   /* stagger, interval or TTL */
    uv_timer_t timeout; /* probe deadline (TCP, script) */
    void *probe;        /* kind-specific probe in flight, or NULL */
    int open_handles;   /* timers not yet closed */
    bool stopped;
};

/* Keeps the last `size` bytes written and counts them all (Go's circbuf,
 * which Consul uses for HTTP bodies and script output). */
struct check__ring
{
    char *buf;
    size_t size;
    uint64_t total;
};

int check__ring_init(struct check__ring *r, size_t size);
void check__ring_write(struct check__ring *r, const char *p, size_t n);
/* New NUL-terminated copy of the kept bytes, in order; NULL on OOM. */
char *check__ring_string(const struct check__ring *r);
void check__ring_free(struct check__ring *r);

/* malloc'd printf; NULL on OOM. */
char *check__printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A probe finished (or timed out) with `result`: run the state machine and
 * report. `output` may be NULL on OOM (reported as ""). Does not schedule
 * the next probe. */
void check__result(struct check *c,
                   enum check_status result,
                   const char *output);

/* The probe in flight is over: schedule the next one `interval` from now
 * (unless stopped). */
void check__probe_done(struct check *c);

/* HTTP probe (check_http.c). begin: start one request, its end calls
 * check__result + check__probe_done. abort: drop the request in flight at
 * once, no result. */
void check__http_begin(struct check *c);
void check__http_abort(struct check *c);
/* Build c->hdrs / c->hdr_error from the definition. -ENOMEM or 0. */
int check__http_prepare(struct check *c, const struct check_def *def);

/* Free the env (check_env_free once no check runs): closes the curl
 * glue if an HTTP check ever loaded it, else frees at once. */
void check__env_free(struct check_env *env);

#endif
