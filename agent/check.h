/*
 * check — health-check runners on the agent's libuv loop.
 *
 * A check is one of four kinds, as in Consul (spec/consul-api.md §2.5):
 *
 *   TTL     the application reports its health itself
 *           (check_ttl_update, i.e. /v1/agent/check/pass|warn|fail|update);
 *           without a report for ttl_ms the check turns critical with
 *           Output "TTL expired".
 *   HTTP    a request every interval through a libcurl multi handle that the
 *           loop drives (curl's multi_socket API, one uv_poll_t per socket,
 *           one uv_timer_t): 2xx passing, 429 warning, anything else,
 *           a connection error or a timeout critical.
 *   TCP     a connect every interval (uv_getaddrinfo unless the host is a
 *           literal, then uv_tcp_connect): connected passing, else critical.
 *   script  argv run with uv_spawn (no shell) every interval in a process
 *           group of its own, stdout and stderr captured together: exit 0
 *           passing, 1 warning, anything else critical; at the timeout the
 *           whole group gets SIGKILL and the check turns critical.
 *
 * Interval checks run their first probe after a small random stagger, then
 * `interval` after the END of the previous probe (Consul's loop), so a
 * check never has two probes in flight.
 *
 * Results of HTTP/TCP/script probes go through the threshold state machine
 * (struct check_sm, Consul's StatusHandler: SuccessBeforePassing,
 * FailuresBeforeWarning, FailuresBeforeCritical); TTL updates and expiry do
 * not (Consul's CheckTTL notifies directly).
 *
 * Nothing here blocks: every wait is a libuv handle or request, and the
 * callback reporting a new status runs on the loop thread. Loop thread only.
 */
#ifndef CAIRN_CHECK_H
#define CAIRN_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* ---- status ---------------------------------------------------------- */

enum check_status { CHECK_PASSING, CHECK_WARNING, CHECK_CRITICAL };

/* "passing", "warning", "critical" (static strings). */
const char *check_status_name(enum check_status st);

/* Parse exactly "passing", "warning" or "critical" (Consul compares these
 * case-sensitively). Returns 0 and sets *out, or -EINVAL (*out untouched). */
int check_status_parse(const char *s, enum check_status *out);

/* ---- the threshold state machine (pure) ------------------------------ */

/*
 * Consul's StatusHandler (agent/checks/check.go), fed one probe result at
 * a time:
 *   passing or warning result: successes++, failures = 0; once
 *       successes >= success_before_passing the visible status becomes
 *       that result, else nothing changes;
 *   critical result: successes = 0, failures++; once
 *       failures >= failures_before_critical it becomes critical, else once
 *       failures >= failures_before_warning it becomes warning, else
 *       nothing changes.
 * Thresholds of 0 mean "at once". failures_before_warning 0 means "same as
 * failures_before_critical" (Consul's default), so a check with only
 * failures_before_critical = 3 goes straight from passing to critical on
 * the third failure. A warning threshold above the critical one never
 * shows warning.
 *
 * All fields are public so tests and the agent can read them; only
 * check_sm_init and check_sm_feed write them.
 */
struct check_sm
{
    unsigned success_before_passing;   /* read-only after init */
    unsigned failures_before_warning;  /* read-only; 0 replaced at init */
    unsigned failures_before_critical; /* read-only after init */
    unsigned successes;                /* consecutive passing/warning */
    unsigned failures;                 /* consecutive critical */
    enum check_status status;          /* the visible status */
};

/* Set the thresholds and the visible status, zero the counters. */
void check_sm_init(struct check_sm *sm,
                   unsigned success_before_passing,
                   unsigned failures_before_warning,
                   unsigned failures_before_critical,
                   enum check_status initial);

/* Feed one probe result. Returns true when Consul would update the check:
 * then *out (may be NULL) and sm->status are the new visible status, and
 * the probe's output should replace the check's output (the status may be
 * unchanged: a new passing result still refreshes the output). Returns
 * false when the result is held back by a threshold: status and output
 * stay as they were. */
bool check_sm_feed(struct check_sm *sm,
                   enum check_status result,
                   enum check_status *out);

/* ---- definitions ----------------------------------------------------- */

enum check_kind {
    CHECK_KIND_TTL,
    CHECK_KIND_HTTP,
    CHECK_KIND_TCP,
    CHECK_KIND_SCRIPT,
};

#define CHECK_DEFAULT_TIMEOUT_MS 10000u /* HTTP, TCP and script */
#define CHECK_DEFAULT_OUTPUT_MAX 4096u  /* bytes (Consul's DefaultBufSize) */
#define CHECK_MIN_INTERVAL_MS 1000u     /* Consul's checks.MinInterval */

/* One request header. A name may appear several times (Consul's Header is
 * {name: [values]}: flatten it into one entry per value). */
struct check_header
{
    const char *name;
    const char *value;
};

/*
 * What to run. Filled by the caller; every pointer is borrowed only for
 * the duration of check_start (everything is copied). Zero means "default"
 * for every number. Use check_def_init: a zeroed struct has status
 * CHECK_PASSING, while a new Consul check starts critical.
 */
struct check_def
{
    enum check_kind kind;
    const char *id; /* for log lines only; may be NULL */

    /* HTTP */
    const char *http;   /* URL (http:// or https://) */
    const char *method; /* NULL or "" = GET; sent as given */
    const struct check_header *headers;
    size_t n_headers;
    const char *body; /* NULL or "" = no body */
    bool tls_skip_verify;
    bool disable_redirects; /* else up to 10 redirects, like Go */

    /* TCP */
    const char *tcp; /* "host:port", "[v6]:port"; host may be a name */

    /* script */
    const char *const *argv; /* NULL-terminated, argv[0] looked up in PATH */

    uint64_t interval_ms; /* HTTP/TCP/script; raised to the env minimum */
    uint64_t timeout_ms;  /* HTTP/TCP/script; 0 = 10 s */
    uint64_t ttl_ms;      /* TTL; required */

    unsigned success_before_passing;
    unsigned failures_before_warning; /* 0 = failures_before_critical */
    unsigned failures_before_critical;

    /* Bytes of probe output kept (HTTP body, script stdout+stderr, TTL
     * note); 0 = 4096. Consul caps this with the agent-wide
     * check_output_max_size: pass the smaller of the two. */
    size_t output_max_size;

    enum check_status status; /* initial status */
    const char *output;       /* initial output (e.g. restored); NULL = "" */
};

/* Zero *def, set kind and status = CHECK_CRITICAL (Consul's initial
 * status). */
void check_def_init(struct check_def *def, enum check_kind kind);

/* Structural checks check_start relies on: kind known, http/tcp/argv[0]
 * present and non-empty for its kind, ttl_ms > 0 for TTL. (Interval 0 is
 * accepted and raised to the minimum; the API layer rejects it before, as
 * Consul does.) Returns 0 or -EINVAL; with `err` non-NULL a message
 * goes there. Bad URLs, addresses and header bytes are not errors here:
 * they turn the check critical at run time with a message, as in Consul. */
int check_def_validate(const struct check_def *def, char *err, size_t errlen);

/* ---- environment ----------------------------------------------------- */

/* Shared by all checks of a loop: the curl multi handle and its loop
 * glue, the interval floor, the stagger and a PRNG. */
struct check_env;

/* New environment on `loop` (borrowed, must outlive the env). NULL on
 * out-of-memory. libcurl is loaded (dlcurl.h) only when the first HTTP
 * check starts; if that fails the HTTP check still starts, critical on
 * every probe with the cause as output. */
struct check_env *check_env_new(uv_loop_t *loop);

/* Free the env. Every check started on it must have been stopped (else it
 * logs an error and leaks the env rather than free it under them); must
 * not be called from a check callback. Its handles close asynchronously:
 * run the loop afterwards so the memory is released. NULL is a no-op. */
void check_env_free(struct check_env *env);

/* Interval floor for checks started afterwards (default 1000 ms, Consul's;
 * tests lower it). */
void check_env_set_min_interval(struct check_env *env, uint64_t ms);

/* The first probe of an interval check runs after a random delay in
 * [0, min(interval, max_ms)] (default 1000 ms). Consul staggers over the
 * whole interval; we start sooner so a new check leaves its initial
 * critical state quickly. 0 = first probe on the next loop iteration. */
void check_env_set_max_stagger(struct check_env *env, uint64_t max_ms);

/* ---- running checks -------------------------------------------------- */

/* Called on the loop thread whenever the check's status or output changes
 * (never with both unchanged). `output` is borrowed for the call. The
 * callback may call check_stop or check_ttl_update on this or any check,
 * and check_start; not check_env_free. */
typedef void (*check_update_fn)(void *data,
                                enum check_status st,
                                const char *output);

struct check;

/* Start a check: TTL arms its timer, interval checks schedule their first
 * probe. The check starts with def->status / def->output and reports only
 * changes. `cb` may be NULL (poll with check_get_status). Returns a new
 * check, to be ended with check_stop; NULL on out-of-memory or if
 * check_def_validate fails. */
struct check *check_start(struct check_env *env,
                          const struct check_def *def,
                          check_update_fn cb,
                          void *data);

/* Stop at once: no callback runs after this returns, a probe in flight is
 * abandoned (a script's process group gets SIGKILL and is still reaped).
 * Handles close asynchronously and free themselves on the loop; `c` must
 * not be used again. NULL is a no-op. */
void check_stop(struct check *c);

/* TTL checks: set status and output (NULL = ""), re-arm the TTL timer
 * (also after expiry). Output longer than output_max_size is cut as Consul
 * does ("<first N bytes> ... (captured N of M bytes)"). The callback runs
 * before this returns if anything changed. Returns 0, or -EINVAL if `c`
 * is not a TTL check, -ENOMEM. */
int check_ttl_update(struct check *c, enum check_status st, const char *output);

/* Current visible status and output (borrowed until the next change). */
enum check_status check_get_status(const struct check *c);
const char *check_get_output(const struct check *c);

#endif
