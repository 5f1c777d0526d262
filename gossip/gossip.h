/*
 * gossip — SWIM membership and failure detection with the Lifeguard
 * extensions, authenticated encryption (libsodium) and a deterministic core.
 *
 * This is the only header users of the library include. The design is in
 * spec/gossip.md; in short:
 *
 *  - The protocol core (struct gossip) does no I/O. It is driven by three
 *    entry points: gossip_on_packet() (a UDP datagram arrived),
 *    gossip_on_timer() (the single timer it asked for expired) and
 *    gossip_on_stream()/gossip_on_stream_reply() (a reliable request or
 *    reply arrived). It acts on the world only through struct gossip_env:
 *    send a datagram, start a stream request, read the clocks, draw random
 *    numbers, arm its one timer, log. The real environment is libuv
 *    (gossip_uv_*, below); the simulator in tests/sim plugs in a fake one.
 *  - Identity is a random 128-bit node ID plus a human name. The incarnation
 *    is (generation, counter): the caller persists the generation and bumps
 *    it on every boot, so a restarted node outranks its previous life.
 *    The address is data: a node may move without conflicting with itself.
 *  - Every packet goes through one builder that enforces the size budget.
 *
 * Threading: none. Every function must be called from the thread that owns
 * the environment (the loop thread). Callbacks run inside the entry point
 * that caused them; they may read the member table and call gossip_* except
 * gossip_delete().
 *
 * Errors: 0 or a negative code; -errno values or GOSSIP_E_* (reserved range
 * below -10000). gossip_strerror() names both.
 */
#ifndef CAIRN_GOSSIP_H
#define CAIRN_GOSSIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GOSSIP_API __attribute__((visibility("default")))

/* ---- limits -------------------------------------------------------------- */

#define GOSSIP_NAME_MAX 128           /* node name bytes, no NUL inside */
#define GOSSIP_META_MAX 512           /* node metadata (tags) bytes */
#define GOSSIP_LABEL_MAX 255          /* cluster label bytes */
#define GOSSIP_USER_NAME_MAX 128      /* user event name bytes */
#define GOSSIP_USER_MAX 512           /* user event name + payload bytes */
#define GOSSIP_KEY_SIZE 32            /* operator key bytes */
#define GOSSIP_KEYRING_MAX 16         /* keys installed at once */
#define GOSSIP_UDP_MIN 512            /* smallest allowed udp_buffer_size */
#define GOSSIP_UDP_MAX 9000           /* largest allowed udp_buffer_size */
#define GOSSIP_STREAM_MAX (16u << 20) /* largest stream message */
#define GOSSIP_PROTO_MIN 1            /* protocol versions we understand */
#define GOSSIP_PROTO_MAX 1

/* ---- errors -------------------------------------------------------------- */

enum gossip_error {
    GOSSIP_E_TRUNCATED = -10001,   /* input ends inside a field */
    GOSSIP_E_OVERSIZE = -10002,    /* a length or count over its bound */
    GOSSIP_E_INVALID = -10003,     /* inconsistent or out-of-range field */
    GOSSIP_E_VERSION = -10004,     /* unknown format or protocol version */
    GOSSIP_E_CHECKSUM = -10005,    /* cleartext CRC mismatch */
    GOSSIP_E_LABEL = -10006,       /* cluster label mismatch (cleartext) */
    GOSSIP_E_KEY_UNKNOWN = -10007, /* encrypted with a key we don't have */
    GOSSIP_E_AUTH = -10008,        /* authentication failed (key or label) */
    GOSSIP_E_REPLAY = -10009,      /* nonce already seen */
    GOSSIP_E_STALE = -10010,       /* sender time outside the replay window */
    GOSSIP_E_PLAINTEXT = -10011,   /* cleartext refused: encryption is on */
    GOSSIP_E_NO_KEY = -10012,      /* encrypted input, no key configured */
    GOSSIP_E_KEY_SIZE = -10013,    /* a key that is not 32 bytes */
    GOSSIP_E_KEY_PRIMARY = -10014, /* the primary key cannot be removed */
    GOSSIP_E_KEY_MISSING = -10015, /* key not installed */
    GOSSIP_E_KEYRING_FULL = -10016,
    GOSSIP_E_CONFLICT = -10017,    /* name held by another live node ID */
    GOSSIP_E_LEAVING = -10018,     /* operation refused while leaving */
    GOSSIP_E_TIMEOUT = -10019,     /* stream request timed out */
    GOSSIP_E_UNREACHABLE = -10020, /* stream peer refused or unreachable */
    GOSSIP_E_REJECTED = -10021,    /* peer answered with an error frame */
    GOSSIP_E_NOT_FOUND = -10022,   /* no such member */
};

/* Human text for a GOSSIP_E_* code or a negative errno. Never NULL. */
GOSSIP_API const char *gossip_strerror(int err);

/* ---- small value types --------------------------------------------------- */

/* An IPv4 or IPv6 address and port. family is 4 or 6; for 4 only ip[0..4)
 * is used. Plain data: copy freely. */
struct gossip_addr
{
    uint8_t family;
    uint16_t port;
    uint8_t ip[16];
};

/* Parse "1.2.3.4", "1.2.3.4:8301", "[::1]:8301" or "::1" (numeric only;
 * the port defaults to default_port). 0 or -EINVAL. */
GOSSIP_API int gossip_addr_parse(const char *s,
                                 uint16_t default_port,
                                 struct gossip_addr *out);
/* "1.2.3.4:8301" / "[::1]:8301" into buf (truncated to len). Returns buf. */
GOSSIP_API char *gossip_addr_format(const struct gossip_addr *a,
                                    char *buf,
                                    size_t len);
GOSSIP_API bool gossip_addr_equal(const struct gossip_addr *a,
                                  const struct gossip_addr *b);

struct gossip_id
{
    uint8_t b[16];
};

/* Incarnation: compared lexicographically (gen, then ctr). Only the node
 * itself raises it. */
struct gossip_inc
{
    uint64_t gen; /* boot generation, persisted by the caller */
    uint32_t ctr; /* bumped on refutation and metadata change */
};

enum gossip_state {
    GOSSIP_ALIVE = 0,
    GOSSIP_SUSPECT = 1,
    GOSSIP_DEAD = 2, /* "failed" in Consul terms */
    GOSSIP_LEFT = 3,
};

GOSSIP_API const char *gossip_state_name(enum gossip_state s);

/* A copy of one member's entry (read-only snapshot). */
struct gossip_member
{
    struct gossip_id id;
    char name[GOSSIP_NAME_MAX + 1]; /* NUL-terminated */
    struct gossip_addr addr;
    uint8_t meta[GOSSIP_META_MAX];
    uint16_t meta_len;
    enum gossip_state state;
    struct gossip_inc inc;
    uint8_t proto_min, proto_max, proto_cur;
    uint64_t state_change_ms; /* env now() of the last state change */
    bool is_self;
};

/* ---- parameters ---------------------------------------------------------- */

/* Timing and sizing knobs. Fill from a profile, then override what you
 * need; gossip_new() validates. All durations in milliseconds. */
struct gossip_params
{
    uint32_t probe_interval_ms; /* one probe per interval (x health+1) */
    uint32_t probe_timeout_ms;  /* direct-ping wait, never scaled */
    uint32_t indirect_checks;   /* k helpers for ping-req */
    uint32_t retransmit_mult;   /* limit = mult * ceil(log10(N+1)) */
    uint32_t suspicion_mult;    /* min = mult*max(1,log10 N)*probe */
    uint32_t suspicion_max_timeout_mult; /* max = this * min */
    uint32_t push_pull_interval_ms;      /* anti-entropy; scaled above N=32 */
    uint32_t gossip_interval_ms;         /* broadcast fan-out tick */
    uint32_t gossip_nodes;               /* fan-out per tick */
    uint32_t gossip_to_dead_ms;     /* keep gossiping to the dead this long */
    uint32_t awareness_max;         /* health score in [0, max-1] */
    uint32_t tcp_timeout_ms;        /* stream request deadline */
    bool disable_tcp_pings;         /* no stream fallback probe */
    uint32_t udp_buffer_size;       /* largest datagram we build */
    uint32_t dead_node_reclaim_ms;  /* name of a dead node reusable after
                                     * max(this, gossip_to_dead) */
    uint32_t reconnect_interval_ms; /* push/pull to one failed member */
    uint32_t dead_retention_ms;     /* failed members kept this long */
    uint32_t left_retention_ms;     /* left members kept this long */
    uint32_t replay_window_ms;      /* envelope sender-time window */
    uint32_t user_share_pct;        /* packet share reserved for user
                                     * messages when some are queued */
    uint32_t slice_records;         /* anti-entropy records per packet */
    /* Retransmit floor: every member misses a broadcast with probability
     * about e^-limit, so the limit is raised to ln(N) + nines x ln(10),
     * making P(some member misses it) <= 10^-nines (0 = memberlist's
     * formula only). */
    uint32_t bcast_nines;
    uint32_t max_inbound_streams; /* concurrent stream requests served */
    /* Eager push: a new broadcast goes out on an extra gossip round at
     * most this long after the previous round, instead of waiting for the
     * next tick (up to a whole gossip_interval per hop). Each broadcast is
     * still sent at most the retransmit limit times in all, so this changes
     * when bytes go out, not how many; rounds stay this far apart in a
     * burst. 0: broadcasts wait for the tick (memberlist). */
    uint32_t eager_gap_ms;
    /* Watch ring: each member keeps one idle stream connection to its
     * successor by node ID (env->watch). When that process dies its kernel
     * closes the connection at once, and the watcher probes it right away
     * instead of waiting for its turn in the probe order; a probe whose
     * stream fallback is refused (nothing listens: the process is gone) ends
     * as failed without waiting for the indirect round. Failure still goes
     * through suspicion and its Lifeguard timeout: this only starts the
     * suspicion sooner. false: memberlist's probing only. */
    bool watch_ring;
};

enum gossip_profile {
    GOSSIP_PROFILE_LAN = 0,
    GOSSIP_PROFILE_WAN = 1,
    GOSSIP_PROFILE_LOCAL = 2,
};

/* The spec's memberlist-equivalent values (spec/gossip.md section 3). */
GOSSIP_API void gossip_params_profile(enum gossip_profile p,
                                      struct gossip_params *out);
/* "lan", "wan", "local" (any case). 0 or -EINVAL. */
GOSSIP_API int gossip_profile_parse(const char *s, enum gossip_profile *out);
/* 0 or -EINVAL if a value is out of range (zero intervals, timeout >=
 * interval, buffer outside [GOSSIP_UDP_MIN, GOSSIP_UDP_MAX], ...). */
GOSSIP_API int gossip_params_validate(const struct gossip_params *p);

/* ---- environment (the seam for deterministic tests) ----------------------
 *
 * Every callback receives env->data. The core borrows buffers only for the
 * duration of a call: copy what you keep.
 */
enum gossip_log_level {
    GOSSIP_LOG_ERROR = 0,
    GOSSIP_LOG_WARN = 1,
    GOSSIP_LOG_INFO = 2,
    GOSSIP_LOG_DEBUG = 3,
};

struct gossip_env
{
    void *data;
    /* Monotonic milliseconds. Required. */
    uint64_t (*now)(void *data);
    /* Unix milliseconds, for the envelope's replay window. NULL: now(). */
    uint64_t (*wall)(void *data);
    /* 64 uniformly random bits. Required. */
    uint64_t (*random)(void *data);
    /* Send one datagram (len <= udp_buffer_size). Best effort; the return
     * value is only counted in stats. Required. */
    int (*send)(void *data,
                const struct gossip_addr *to,
                const uint8_t *buf,
                size_t len);
    /* Start a reliable request/response exchange (TCP in production): deliver
     * buf to the peer's gossip_on_stream() and hand its reply, or an error,
     * to gossip_on_stream_reply(req) exactly once, within timeout_ms. Not
     * called back from inside this call. Return <0 if it cannot start (then
     * no reply follows). NULL: no streams (join, push/pull and the TCP
     * fallback probe are off). */
    int (*stream)(void *data,
                  const struct gossip_addr *to,
                  const uint8_t *buf,
                  size_t len,
                  uint32_t timeout_ms,
                  uint64_t req);
    /* Arm the single timer at absolute now()-time at_ms (replacing any armed
     * one); call gossip_on_timer() when it passes. Required. */
    /* Watch the member at `to`: keep one connection to its stream port open
     * (a zero-length frame asks the peer's environment to hold it idle) and
     * call gossip_on_watch_lost(token) once when it closes, breaks or cannot
     * be opened, never from inside this call. One watch at a time: a new
     * call or unwatch() drops the previous one silently. Return <0 if it
     * cannot start (no callback follows). NULL: no watch ring. */
    int (*watch)(void *data, const struct gossip_addr *to, uint64_t token);
    void (*unwatch)(void *data);
    void (*timer_start)(void *data, uint64_t at_ms);
    void (*timer_stop)(void *data);
    /* One line, no newline. NULL: silent. */
    void (*log)(void *data, enum gossip_log_level level, const char *msg);
};

/* ---- events -------------------------------------------------------------- */

enum gossip_event_type {
    GOSSIP_EV_JOIN = 0,  /* new member, or back from failed/left */
    GOSSIP_EV_ALIVE = 1, /* a suspect member refuted the suspicion */
    GOSSIP_EV_SUSPECT = 2,
    GOSSIP_EV_FAILED = 3,
    GOSSIP_EV_LEFT = 4,
    GOSSIP_EV_UPDATE = 5, /* metadata or address changed */
    GOSSIP_EV_REAP = 6,   /* entry removed from the table */
};

GOSSIP_API const char *gossip_event_name(enum gossip_event_type t);

struct gossip;

/* m is borrowed for the call. Not called for the local node itself. */
typedef void (*gossip_member_cb)(struct gossip *g,
                                 enum gossip_event_type type,
                                 const struct gossip_member *m,
                                 void *data);

struct gossip_user_event
{
    struct gossip_id origin;
    uint64_t ltime;   /* Lamport time */
    const char *name; /* not NUL-terminated: name_len bytes */
    size_t name_len;
    const uint8_t *payload;
    size_t payload_len;
};
/* ev and its buffers are borrowed for the call. */
typedef void (*gossip_user_cb)(struct gossip *g,
                               const struct gossip_user_event *ev,
                               void *data);

/* Completion of join/leave; status 0 or negative. For join, n is the number
 * of seeds that answered. Runs last in the entry point that completed the
 * operation, so it may call gossip_delete() / gossip_uv_close(). */
typedef void (*gossip_done_cb)(struct gossip *g,
                               int status,
                               unsigned n,
                               void *data);

/* ---- configuration and lifecycle ----------------------------------------- */

struct gossip_config
{
    struct gossip_params params;
    struct gossip_id id;     /* all zero: a random ID is drawn */
    const char *name;        /* copied; 1..GOSSIP_NAME_MAX bytes */
    struct gossip_addr addr; /* advertised address */
    uint64_t generation;     /* persisted by the caller, +1 per boot */
    const uint8_t *meta;     /* copied; <= GOSSIP_META_MAX bytes */
    size_t meta_len;
    const char *label; /* copied; NULL or "" = no label */
    /* Keys, copied: keys[0] becomes primary. nkeys 0 = no encryption. */
    const uint8_t (*keys)[GOSSIP_KEY_SIZE];
    size_t nkeys;
    bool verify_incoming; /* refuse cleartext when a key exists */
    bool verify_outgoing; /* encrypt when a key exists */
    gossip_member_cb on_member;
    gossip_user_cb on_user;
    void *data; /* passed to the callbacks */
};

/* Zero the config and fill params from profile p; verify_* = true. */
GOSSIP_API void gossip_config_init(struct gossip_config *cfg,
                                   enum gossip_profile p);

/* Create a core. cfg is copied; env is copied (its data pointer must stay
 * valid until gossip_delete). The core sends nothing until gossip_start().
 * Returns 0 and *out (new; free with gossip_delete), -EINVAL for a bad
 * config (logged through env->log), or -ENOMEM. */
GOSSIP_API int gossip_new(const struct gossip_config *cfg,
                          const struct gossip_env *env,
                          struct gossip **out);
/* Free everything (keys wiped). Pending stream requests are forgotten: the
 * environment must not call back for them afterwards. */
GOSSIP_API void gossip_delete(struct gossip *g);

/* Begin probing, gossiping and anti-entropy (timers staggered randomly). */
GOSSIP_API void gossip_start(struct gossip *g);

/* ---- entry points from the environment ---------------------------------- */

GOSSIP_API void gossip_on_packet(struct gossip *g,
                                 const struct gossip_addr *from,
                                 const uint8_t *buf,
                                 size_t len);
GOSSIP_API void gossip_on_timer(struct gossip *g);
/* A stream request arrived. On 0, *out is the reply (new; free() it) of
 * *out_len bytes, possibly an error frame. <0: close without a reply. */
GOSSIP_API int gossip_on_stream(struct gossip *g,
                                const struct gossip_addr *from,
                                const uint8_t *buf,
                                size_t len,
                                uint8_t **out,
                                size_t *out_len);
/* The answer to env->stream(req): status 0 with the reply bytes, or a
 * negative code (GOSSIP_E_TIMEOUT, GOSSIP_E_UNREACHABLE, -errno).
 * -ECONNREFUSED (nothing listens at the peer's port) and -ECONNRESET (the
 * peer closed or reset the connection before answering) are evidence
 * against the peer's process, used by the watch ring; other failures
 * should be GOSSIP_E_UNREACHABLE. */
GOSSIP_API void gossip_on_stream_reply(struct gossip *g,
                                       uint64_t req,
                                       int status,
                                       const uint8_t *buf,
                                       size_t len);

/* The watch started with env->watch(token) ended (see gossip_params
 * watch_ring). Stale tokens are ignored. */
GOSSIP_API void gossip_on_watch_lost(struct gossip *g, uint64_t token);

/* ---- operations ---------------------------------------------------------- */

/* Push/pull (join=true) with each seed. cb (may be NULL) runs once when all
 * have answered: status 0 if at least one did (n = how many), else the
 * last error. Returns 0, or <0 (then cb never runs). */
GOSSIP_API int gossip_join(struct gossip *g,
                           const struct gossip_addr *seeds,
                           size_t n,
                           gossip_done_cb cb,
                           void *data);

/* Graceful leave: broadcast our departure and run cb once it has been sent
 * its full retransmit budget, or after timeout_ms. Probing stops; the core
 * keeps answering until deleted. Returns 0 or GOSSIP_E_LEAVING. */
GOSSIP_API int gossip_leave(struct gossip *g,
                            uint32_t timeout_ms,
                            gossip_done_cb cb,
                            void *data);

/* Replace our metadata: bumps the incarnation and broadcasts. 0, -EINVAL
 * (too big) or GOSSIP_E_LEAVING. */
GOSSIP_API int gossip_set_meta(struct gossip *g,
                               const uint8_t *meta,
                               size_t len);

/* Disseminate a user event cluster-wide (also delivered locally through
 * on_user). name 1..GOSSIP_USER_NAME_MAX bytes; name + payload <=
 * GOSSIP_USER_MAX. Returns 0 or -EINVAL; *ltime (optional) gets its time. */
GOSSIP_API int gossip_user_event(struct gossip *g,
                                 const char *name,
                                 const uint8_t *payload,
                                 size_t len,
                                 uint64_t *ltime);

/* Declare a failed member as left and tell the cluster (Consul's
 * force-leave). prune also removes it from the local table at once.
 * GOSSIP_E_NOT_FOUND if no member has that name. An alive member will
 * refute. */
GOSSIP_API int gossip_force_leave(struct gossip *g,
                                  const char *name,
                                  bool prune);

/* ---- queries ------------------------------------------------------------- */

GOSSIP_API size_t gossip_member_count(const struct gossip *g);
/* Copy up to max members (self included) into out; returns how many exist
 * (may exceed max). */
GOSSIP_API size_t gossip_members(const struct gossip *g,
                                 struct gossip_member *out,
                                 size_t max);
/* 0 and *out, or GOSSIP_E_NOT_FOUND. */
GOSSIP_API int gossip_member_by_name(const struct gossip *g,
                                     const char *name,
                                     struct gossip_member *out);
GOSSIP_API int gossip_member_by_id(const struct gossip *g,
                                   const struct gossip_id *id,
                                   struct gossip_member *out);
GOSSIP_API void gossip_self(const struct gossip *g, struct gossip_member *out);
/* Lifeguard local health score (awareness), 0 = healthy. */
GOSSIP_API unsigned gossip_health_score(const struct gossip *g);
/* Number of members that are alive or suspect (self included). */
GOSSIP_API size_t gossip_num_live(const struct gossip *g);

enum gossip_msg_type {
    GOSSIP_MSG_PING = 1,
    GOSSIP_MSG_PING_REQ = 2,
    GOSSIP_MSG_ACK = 3,
    GOSSIP_MSG_NACK = 4,
    GOSSIP_MSG_ALIVE = 5,
    GOSSIP_MSG_SUSPECT = 6,
    GOSSIP_MSG_DEAD = 7,
    GOSSIP_MSG_USER = 8,
    GOSSIP_MSG_PUSHPULL = 9,
    GOSSIP_MSG_ERROR = 10,
    GOSSIP_MSG_TYPES = 11,
};

struct gossip_stats
{
    unsigned health_score;
    uint64_t probes, probes_failed;
    uint64_t suspicions_started; /* by us, as prober */
    uint64_t suspicions_refuted; /* of us, refuted by us */
    uint64_t refutations;        /* incarnation bumps after accusations */
    uint64_t members_failed;     /* FAILED events emitted */
    uint64_t pkts_sent, pkts_recv, bytes_sent, bytes_recv;
    uint64_t pkts_rejected; /* failed decode/decrypt/auth */
    uint64_t streams_sent, streams_recv, stream_bytes_sent, stream_bytes_recv;
    uint64_t msgs_sent[GOSSIP_MSG_TYPES], msgs_recv[GOSSIP_MSG_TYPES];
    /* encoded bytes per message type (part header included; frame and
     * envelope overhead are only in bytes_sent/recv) */
    uint64_t msg_bytes_sent[GOSSIP_MSG_TYPES], msg_bytes_recv[GOSSIP_MSG_TYPES];
    uint64_t bcast_dropped; /* queue overflow */
    uint64_t watches_lost;   /* watch ring connections that broke */
    uint64_t probes_refused; /* probes ended early: stream port refused */
    size_t bcast_queued;
};
GOSSIP_API void gossip_stats(const struct gossip *g, struct gossip_stats *out);

/* ---- keyring ------------------------------------------------------------
 *
 * Keys are 32 random bytes (base64 in configs, like Consul's keygen). Each
 * has a 32-bit key ID sent in every envelope. The primary key encrypts;
 * every installed key decrypts; a peer is answered with the key it last
 * used when we have it, so joins work mid-rotation.
 */
struct gossip_key_info
{
    uint8_t key[GOSSIP_KEY_SIZE];
    uint32_t key_id;
    bool primary;
    uint64_t last_rx_ms; /* env now() when it last decrypted input, or 0 */
    uint64_t rx_count;   /* packets and streams it decrypted */
};

/* Install (first key becomes primary). 0, GOSSIP_E_KEYRING_FULL; installing
 * an installed key is a no-op. */
GOSSIP_API int gossip_keyring_install(struct gossip *g,
                                      const uint8_t key[GOSSIP_KEY_SIZE]);
/* Make an installed key primary. 0 or GOSSIP_E_KEY_MISSING. */
GOSSIP_API int gossip_keyring_use(struct gossip *g,
                                  const uint8_t key[GOSSIP_KEY_SIZE]);
/* 0, GOSSIP_E_KEY_MISSING or GOSSIP_E_KEY_PRIMARY. */
GOSSIP_API int gossip_keyring_remove(struct gossip *g,
                                     const uint8_t key[GOSSIP_KEY_SIZE]);
/* Copies up to max entries, primary first; returns the number installed. */
GOSSIP_API size_t gossip_keyring_list(const struct gossip *g,
                                      struct gossip_key_info *out,
                                      size_t max);

/* 32 random bytes (libsodium). */
GOSSIP_API void gossip_keygen(uint8_t key[GOSSIP_KEY_SIZE]);
/* Standard base64 with padding, as Consul prints keys. Decode returns 0 or
 * GOSSIP_E_KEY_SIZE (not exactly 32 bytes) / -EINVAL (not base64). */
GOSSIP_API int gossip_key_decode(const char *b64, uint8_t key[GOSSIP_KEY_SIZE]);
GOSSIP_API void gossip_key_encode(const uint8_t key[GOSSIP_KEY_SIZE],
                                  char out[48]);
GOSSIP_API uint32_t gossip_key_id(const uint8_t key[GOSSIP_KEY_SIZE]);

/* Keyring file: a JSON array of base64 keys, primary first (Consul's
 * local.keyring shape). Save validates, writes path.tmp with mode 0600,
 * fsyncs and renames. Load returns the count (<= max) or <0. */
GOSSIP_API int gossip_keyring_save(const char *path,
                                   const uint8_t (*keys)[GOSSIP_KEY_SIZE],
                                   size_t n);
GOSSIP_API int gossip_keyring_load(const char *path,
                                   uint8_t (*keys)[GOSSIP_KEY_SIZE],
                                   size_t max);
/* Save the core's current ring (primary first). */
GOSSIP_API int gossip_keyring_save_ring(const struct gossip *g,
                                        const char *path);

/* ---- libuv environment ---------------------------------------------------
 *
 * One UDP socket and one TCP listener on the same port, a uv_timer_t for the
 * core's timer, streams as length-prefixed request/response on short-lived
 * TCP connections.
 */
struct uv_loop_s;
struct gossip_uv;

struct gossip_uv_options
{
    const char *bind_ip; /* "0.0.0.0" if NULL */
    uint16_t bind_port;  /* 0 = ephemeral */
    /* log sink for the core and the transport; NULL = silent */
    void (*log)(void *data, enum gossip_log_level level, const char *msg);
    void *log_data;
};

/* Bind, then create the core with cfg. If cfg->addr.port is 0 it becomes
 * the bound port; if cfg->addr.family is 0 the bind address is advertised
 * (127.0.0.1 if bound to 0.0.0.0). Returns 0 and *out, or <0 (a libuv
 * error, or gossip_new's error); on error the handles are closed through
 * the loop, so run it once more before closing the loop. The core is not
 * started: call gossip_start(gossip_uv_core(u)). */
GOSSIP_API int gossip_uv_new(struct uv_loop_s *loop,
                             const struct gossip_config *cfg,
                             const struct gossip_uv_options *opt,
                             struct gossip_uv **out);
/* The core (borrowed; valid until close). */
GOSSIP_API struct gossip *gossip_uv_core(struct gossip_uv *u);
GOSSIP_API uint16_t gossip_uv_port(const struct gossip_uv *u);
/* Delete the core, close handles and connections; cb(data) runs when all
 * memory is released (after the loop has run). cb may be NULL. */
GOSSIP_API void gossip_uv_close(struct gossip_uv *u,
                                void (*cb)(void *data),
                                void *data);

#endif
