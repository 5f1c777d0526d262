/*
 * client — the CLI's blocking HTTP client for the agent's API (libcurl easy
 * interface, loaded at run time by dlcurl.h; the CLI does not run on the
 * agent's loop).
 *
 * Configuration follows Consul's api.DefaultConfig plus our own variables:
 *   address: opts->addr (-http-addr), else CAIRN_HTTP_ADDR, else
 *            CONSUL_HTTP_ADDR, else 127.0.0.1:8500. Accepted forms:
 *            "host", "host:port", "[v6]:port", "http://host:port".
 *            https:// (or CONSUL_HTTP_SSL=true) and unix:// are rejected
 *            with a clear error for now.
 *   token:   opts->token (-token), else the file opts->token_file
 *            (-token-file), else CAIRN_HTTP_TOKEN, CONSUL_HTTP_TOKEN, else
 *            the file in CONSUL_HTTP_TOKEN_FILE; sent as X-Consul-Token.
 *   basic auth: CONSUL_HTTP_AUTH="user[:pass]".
 *   opts->datacenter is sent as ?dc= on every request (as the Go client
 *   does); opts->stale adds ?stale to GET requests.
 */
#ifndef CAIRN_CLIENT_H
#define CAIRN_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLIENT_DEFAULT_ADDR "127.0.0.1:8500"

struct client;

/* What the command line gave; every pointer is borrowed for the duration of
 * client_new only, NULL or "" means "not given". */
struct client_opts
{
    const char *addr;
    const char *token;
    const char *token_file;
    const char *datacenter;
    bool stale;
};

/* One response. */
struct client_resp
{
    long status;       /* HTTP status code */
    bool has_index;    /* X-Consul-Index was present and numeric */
    uint64_t index;    /* its value */
    bool known_leader; /* X-Consul-KnownLeader: true */
    char *body;        /* new: body bytes plus a NUL (client_resp_clear) */
    size_t len;        /* body length without the NUL */
};

/* Create a client. Returns 0 and a new client in *out (client_delete), or
 * -EINVAL with a message in err (bad address, unsupported scheme, unreadable
 * token file, token with a newline), or -ENOMEM. Loads libcurl on the first
 * call (dlcurl_acquire): if that fails, its code (-ENOENT, -ENOSYS, -EIO)
 * and message ("cannot load libcurl: ..."). */
int client_new(const struct client_opts *opts,
               struct client **out,
               char *err,
               size_t errlen);

/* Free `c` (NULL is fine); the token is wiped. */
void client_delete(struct client *c);

/* "http://host:port" the client talks to (borrowed, lives with c). */
const char *client_base_url(const struct client *c);

/* Do one request. `method` is "GET", "PUT", "DELETE", ...; `path` is the
 * already-escaped path plus optional query ("/v1/kv/a%20b?recurse="),
 * starting with '/'. `body` (borrowed, may be NULL) of `blen` bytes is sent
 * as application/octet-stream; PUT without a body sends Content-Length: 0.
 * On any HTTP answer returns 0 and fills *resp (any status: the caller
 * decides what is an error; free with client_resp_clear). On transport
 * failure returns -ECONNREFUSED or -EIO with a Go-style message in err,
 * e.g. `Get "http://127.0.0.1:8500/v1/kv/a": dial tcp 127.0.0.1:8500:
 * connect: connection refused`; *resp is then empty. */
int client_do(struct client *c,
              const char *method,
              const char *path,
              const void *body,
              size_t blen,
              struct client_resp *resp,
              char *err,
              size_t errlen);

/* Free resp->body and zero *resp (safe on a zeroed struct). */
void client_resp_clear(struct client_resp *resp);

/* The Go client's error for an unexpected status:
 * "Unexpected response code: 500 (body with surrounding space trimmed)". */
void client_status_error(const struct client_resp *resp, char *buf, size_t n);

/* Percent-encode `s` for a URL: every byte but A-Z a-z 0-9 - . _ ~ (and
 * '/' when keep_slash) becomes %XX. Returns a new string (free()), NULL on
 * out-of-memory. */
char *client_escape(const char *s, bool keep_slash);

#endif
