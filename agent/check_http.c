/*
 * check_http — HTTP checks on libcurl's multi_socket interface, driven by
 * the agent's libuv loop (curl's docs/examples/multi-uv.c pattern).
 *
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION: one
 * uv_poll_t per socket, remembered with curl_multi_assign) and when to call
 * it back without socket activity (CURLMOPT_TIMERFUNCTION: one uv_timer_t
 * per env). Either event calls curl_multi_socket_action, then we collect
 * finished transfers with curl_multi_info_read. Name resolution uses curl's
 * threaded resolver, so nothing blocks the loop. We never call into curl
 * from inside its callbacks: those only touch libuv handles.
 *
 * libcurl is loaded (dlcurl.h) when the env gets its first HTTP check, so
 * an agent without HTTP checks never maps it. If it cannot be loaded the
 * check still registers, and every probe turns it critical with the
 * cause as output.
 *
 * Requests copy what Consul's CheckHTTP does (agent/checks/check.go): no
 * connection reuse (DisableKeepAlives), User-Agent "Consul Health Check"
 * and Accept "text/plain, text/..." unless given, the Host header sets
 * the host, up to 10 redirects unless disabled, a timeout covering the
 * whole request, the body read into a ring that keeps its LAST
 * output_max bytes (Go's circbuf), and Go's texts for the output.
 */
#include "check.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <uv.h>

#include "check_internal.h"
#include "dlcurl.h"
#include "log.h"

#define CHECK_LOG "check"
#define CHECK_HTTP_MAX_REDIRECTS 10L /* Go's http.Client default */

struct check__sock
{
    uv_poll_t poll;
    curl_socket_t fd;
    struct check_env *env;
    struct check__sock *prev;
    struct check__sock *next;
};

struct http_probe
{
    struct check *c;
    CURL *easy;
    struct check__ring body;
    bool body_started;
    char status[128]; /* Go's resp.Status, "" until a response */
    char addr[INET6_ADDRSTRLEN + 16]; /* last address connected to */
    char errbuf[CURL_ERROR_SIZE];
};

/* ---- the curl multi handle on the loop ------------------------------- */

static void env_drain(struct check_env *env);

static void sock_on_close(uv_handle_t *h)
{
    free(h->data);
}

static void sock_close(struct check__sock *k)
{
    struct check_env *env = k->env;
    if (k->prev)
        k->prev->next = k->next;
    else
        env->socks = k->next;
    if (k->next)
        k->next->prev = k->prev;
    uv_close((uv_handle_t *)&k->poll, sock_on_close);
}

static void sock_on_poll(uv_poll_t *h, int status, int events)
{
    struct check__sock *k = h->data;
    struct check_env *env = k->env; /* k may be closed inside curl */
    int flags = 0, running;

    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    } else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    dlcurl->multi_socket_action(env->multi, k->fd, flags, &running);
    env_drain(env);
}

static int env_on_socket(CURL *easy,
                         curl_socket_t s,
                         int what,
                         void *userp,
                         void *socketp)
{
    struct check_env *env = userp;
    struct check__sock *k = socketp;
    (void)easy;

    if (what == CURL_POLL_REMOVE) {
        /* curl forgets socketp itself after this; no curl_multi_assign
         * here, since this also runs inside curl_multi_cleanup. */
        if (k)
            sock_close(k);
        return 0;
    }
    if (!k) {
        k = calloc(1, sizeof *k);
        if (!k)
            return -1;
        int rc = uv_poll_init_socket(env->loop, &k->poll, s);
        if (rc) {
            log_error(CHECK_LOG, "uv_poll_init_socket(%d): %s", (int)s,
                      uv_strerror(rc));
            free(k);
            return -1;
        }
        k->fd = s;
        k->env = env;
        k->poll.data = k;
        k->next = env->socks;
        if (env->socks)
            env->socks->prev = k;
        env->socks = k;
        dlcurl->multi_assign(env->multi, s, k);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&k->poll, events, sock_on_poll);
    return 0;
}

static void env_on_timer(uv_timer_t *t)
{
    struct check_env *env = t->data;
    int running;
    dlcurl->multi_socket_action(env->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    env_drain(env);
}

static int env_on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct check_env *env = userp;
    (void)multi;
    if (timeout_ms < 0) {
        uv_timer_stop(&env->curl_timer);
    } else {
        /* 0 means "as soon as possible". A 0 ms libuv timer started from a
         * timer callback fires again in the same pass; 1 ms avoids
         * spinning there (as curl's multi-uv example does). */
        uv_timer_start(&env->curl_timer, env_on_timer,
                       timeout_ms ? (uint64_t)timeout_ms : 1, 0);
    }
    return 0;
}

/* Load libcurl and make the multi handle, on the env's first HTTP check.
 * Returns 0 (also when already done), or a negative code with the cause
 * in err. */
static int env_curl_start(struct check_env *env, char *err, size_t errlen)
{
    if (env->multi)
        return 0;
    int rc = dlcurl_acquire(err, errlen);
    if (rc < 0)
        return rc;
    env->multi = dlcurl->multi_init();
    if (!env->multi) {
        dlcurl_release();
        snprintf(err, errlen, "curl_multi_init failed");
        return -ENOMEM;
    }
    dlcurl->multi_setopt(env->multi, CURLMOPT_SOCKETFUNCTION, env_on_socket);
    dlcurl->multi_setopt(env->multi, CURLMOPT_SOCKETDATA, env);
    dlcurl->multi_setopt(env->multi, CURLMOPT_TIMERFUNCTION, env_on_curl_timer);
    dlcurl->multi_setopt(env->multi, CURLMOPT_TIMERDATA, env);
    uv_timer_init(env->loop, &env->curl_timer);
    env->curl_timer.data = env;
    return 0;
}

static void env_on_close(uv_handle_t *h)
{
    free(h->data);
}

void check__env_free(struct check_env *env)
{
    if (!env->multi) {
        free(env); /* no HTTP check ever ran: no handles */
        return;
    }
    /* No transfers are left (every check is stopped); cleanup may still
     * report REMOVE for sockets it closes, which closes their polls. */
    dlcurl->multi_cleanup(env->multi);
    env->multi = NULL;
    while (env->socks)
        sock_close(env->socks);
    uv_close((uv_handle_t *)&env->curl_timer, env_on_close);
    dlcurl_release();
}

/* ---- Go-compatible texts --------------------------------------------- */

/* Go's http.StatusText for the codes a health endpoint plausibly returns;
 * used when the status line has no reason phrase (HTTP/2). */
static const char *http_status_text(long code)
{
    switch (code) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 203:
        return "Non-Authoritative Information";
    case 204:
        return "No Content";
    case 205:
        return "Reset Content";
    case 206:
        return "Partial Content";
    case 300:
        return "Multiple Choices";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 418:
        return "I'm a teapot";
    case 421:
        return "Misdirected Request";
    case 422:
        return "Unprocessable Entity";
    case 425:
        return "Too Early";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    }
    return "";
}

/* Go's %q for an ASCII-ish string (bytes >= 0x80 are passed through). */
static char *go_quote(const char *s)
{
    size_t n = strlen(s);
    char *q = malloc(n * 4 + 3), *w = q;
    if (!q)
        return NULL;
    *w++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            *w++ = '\\';
            *w++ = '"';
            break;
        case '\\':
            *w++ = '\\';
            *w++ = '\\';
            break;
        case '\n':
            *w++ = '\\';
            *w++ = 'n';
            break;
        case '\r':
            *w++ = '\\';
            *w++ = 'r';
            break;
        case '\t':
            *w++ = '\\';
            *w++ = 't';
            break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                static const char hex[] = "0123456789abcdef";
                *w++ = '\\';
                *w++ = 'x';
                *w++ = hex[*p >> 4];
                *w++ = hex[*p & 15];
            } else {
                *w++ = (char)*p;
            }
        }
    }
    *w++ = '"';
    *w = '\0';
    return q;
}

/* Go's url.Error text: `Get "http://...": <detail>` (Op is the method with
 * all but the first letter lowered). */
static char *http_error_text(const struct check *c, const char *detail)
{
    char op[64];
    size_t i = 0;
    for (; c->method[i] && i < sizeof op - 1; i++)
        op[i] = i ? (char)tolower((unsigned char)c->method[i]) : c->method[i];
    op[i] = '\0';
    char *url = go_quote(c->http);
    char *s = check__printf("%s %s: %s", op, url ? url : c->http, detail);
    free(url);
    return s;
}

/* ---- request setup --------------------------------------------------- */

static bool http_token_char(unsigned char ch)
{
    return isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool http_valid_name(const char *s)
{
    if (!*s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!http_token_char(*p))
            return false;
    return true;
}

static bool http_valid_value(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return false;
    return true;
}

static bool http_host_is_loopback(const char *url)
{
    bool loop = false;
    char *host = NULL;
    CURLU *u = dlcurl->url();
    if (!u)
        return false;
    if (dlcurl->url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        dlcurl->url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        unsigned char bin[16];
        char buf[64];
        size_t n = strlen(host);
        if (strcasecmp(host, "localhost") == 0) {
            loop = true;
        } else if (inet_pton(AF_INET, host, bin) == 1) {
            loop = bin[0] == 127;
        } else if (n > 2 && n < sizeof buf && host[0] == '[') {
            memcpy(buf, host + 1, n - 2);
            buf[n - 2] = '\0';
            char *pct = strchr(buf, '%');
            if (pct)
                *pct = '\0';
            static const unsigned char one[16] = {[15] = 1};
            loop =
                inet_pton(AF_INET6, buf, bin) == 1 && memcmp(bin, one, 16) == 0;
        }
        dlcurl->free(host);
    }
    dlcurl->url_cleanup(u);
    return loop;
}

static int http_append(struct curl_slist **l, const char *line)
{
    if (!line)
        return -ENOMEM;
    struct curl_slist *n = dlcurl->slist_append(*l, line);
    if (!n)
        return -ENOMEM;
    *l = n;
    return 0;
}

int check__http_prepare(struct check *c, const struct check_def *def)
{
    struct curl_slist *l = NULL;
    bool has_ua = false, has_accept = false, has_ctype = false;
    char why[256];
    int rc = env_curl_start(c->env, why, sizeof why);

    if (rc < 0) {
        /* Not the definition's fault: register the check and let every
         * probe report the cause, as for a bad header. */
        log_error(CHECK_LOG, "check %s: %s", c->id, why);
        c->curl_error = check__printf("HTTP check cannot run: %s", why);
        return c->curl_error ? 0 : -ENOMEM;
    }

    for (size_t i = 0; i < def->n_headers && rc == 0; i++) {
        const char *name = def->headers[i].name;
        const char *value = def->headers[i].value ? def->headers[i].value : "";
        if (!http_valid_name(name) || !http_valid_value(value)) {
            /* Go refuses to send the request; so does every probe. */
            if (!c->hdr_error) {
                char *q = go_quote(name);
                c->hdr_error = check__printf(
                    http_valid_name(name)
                        ? "net/http: invalid header field value for %s"
                        : "net/http: invalid header field name %s",
                    q ? q : "");
                free(q);
                if (!c->hdr_error)
                    rc = -ENOMEM;
            }
            continue;
        }
        has_ua |= strcasecmp(name, "User-Agent") == 0;
        has_accept |= strcasecmp(name, "Accept") == 0;
        has_ctype |= strcasecmp(name, "Content-Type") == 0;
        /* "Name;" is curl's way to send an empty value ("Name:" would
         * remove the header). */
        char *line = *value ? check__printf("%s: %s", name, value)
                            : check__printf("%s;", name);
        rc = http_append(&l, line);
        free(line);
    }
    if (rc == 0 && !has_ua)
        rc = http_append(&l, "User-Agent: Consul Health Check");
    if (rc == 0 && !has_accept)
        rc = http_append(&l, "Accept: text/plain, text/*, */*");
    /* No "Expect: 100-continue" round trip, and no form content type
     * that curl would add for a body (Go sends neither). */
    if (rc == 0)
        rc = http_append(&l, "Expect:");
    if (rc == 0 && c->body && !has_ctype)
        rc = http_append(&l, "Content-Type:");
    if (rc) {
        dlcurl->slist_free_all(l);
        return rc;
    }
    c->hdrs = l;
    c->no_proxy = http_host_is_loopback(c->http);
    return 0;
}

static size_t http_on_body(char *ptr, size_t size, size_t n, void *ud)
{
    struct http_probe *p = ud;
    check__ring_write(&p->body, ptr, size * n);
    p->body_started = true;
    return size * n;
}

/* Remember the last status line: Go's resp.Status is the text after the
 * protocol for HTTP/1.x, and "<code> <StatusText>" for HTTP/2. */
static size_t http_on_header(char *buf, size_t size, size_t n, void *ud)
{
    struct http_probe *p = ud;
    size_t len = size * n;

    if (len < 5 || memcmp(buf, "HTTP/", 5) != 0)
        return len;
    const char *end = buf + len;
    while (end > buf && (end[-1] == '\r' || end[-1] == '\n'))
        end--;
    const char *sp = memchr(buf, ' ', (size_t)(end - buf));
    if (!sp)
        return len;
    bool http1 = len > 6 && buf[5] == '1';
    const char *st = sp;
    while (st < end && *st == ' ')
        st++;
    if (http1) {
        size_t sl = (size_t)(end - st);
        if (sl >= sizeof p->status)
            sl = sizeof p->status - 1;
        memcpy(p->status, st, sl);
        p->status[sl] = '\0';
    } else {
        long code = strtol(st, NULL, 10);
        snprintf(p->status, sizeof p->status, "%ld %s", code,
                 http_status_text(code));
    }
    return len;
}

/* curl's default opens sockets without close-on-exec, and script checks
 * fork on the same loop: open them ourselves. Also remember the address,
 * for Go's "dial tcp <ip>:<port>: connect: ..." (curl leaves
 * CURLINFO_PRIMARY_IP empty when the connect fails). */
static curl_socket_t http_on_open_socket(void *ud,
                                         curlsocktype purpose,
                                         struct curl_sockaddr *a)
{
    struct http_probe *p = ud;
    (void)purpose;
    char ip[INET6_ADDRSTRLEN] = "?";
    if (a->family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->addr;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
        snprintf(p->addr, sizeof p->addr, "[%s]:%u", ip,
                 (unsigned)ntohs(s6->sin6_port));
    } else if (a->family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->addr;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
        snprintf(p->addr, sizeof p->addr, "%s:%u", ip,
                 (unsigned)ntohs(s4->sin_port));
    } else {
        p->addr[0] = '\0';
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static void http_probe_free(struct http_probe *p)
{
    dlcurl->easy_cleanup(p->easy);
    check__ring_free(&p->body);
    free(p);
}

static void http_fail_now(struct check *c, const char *detail)
{
    char *out = http_error_text(c, detail);
    check__probe_done(c);
    check__result(c, CHECK_CRITICAL, out ? out : detail);
    free(out);
}

void check__http_begin(struct check *c)
{
    if (c->curl_error) {
        check__probe_done(c);
        check__result(c, CHECK_CRITICAL, c->curl_error);
        return;
    }
    if (c->hdr_error) {
        http_fail_now(c, c->hdr_error);
        return;
    }
    struct http_probe *p = calloc(1, sizeof *p);
    if (!p || check__ring_init(&p->body, c->output_max)) {
        free(p);
        http_fail_now(c, "out of memory");
        return;
    }
    p->c = c;
    p->easy = dlcurl->easy_init();
    if (!p->easy) {
        check__ring_free(&p->body);
        free(p);
        http_fail_now(c, "out of memory");
        return;
    }
    CURL *e = p->easy;
    dlcurl->easy_setopt(e, CURLOPT_URL, c->http);
    dlcurl->easy_setopt(e, CURLOPT_PRIVATE, p);
    dlcurl->easy_setopt(e, CURLOPT_ERRORBUFFER, p->errbuf);
    dlcurl->easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    dlcurl->easy_setopt(e, CURLOPT_WRITEFUNCTION, http_on_body);
    dlcurl->easy_setopt(e, CURLOPT_WRITEDATA, p);
    dlcurl->easy_setopt(e, CURLOPT_HEADERFUNCTION, http_on_header);
    dlcurl->easy_setopt(e, CURLOPT_HEADERDATA, p);
    dlcurl->easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    dlcurl->easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, http_on_open_socket);
    dlcurl->easy_setopt(e, CURLOPT_OPENSOCKETDATA, p);
    dlcurl->easy_setopt(e, CURLOPT_HTTPHEADER, c->hdrs);
    dlcurl->easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    /* Only http(s), also after a redirect: a check must not read files. */
    dlcurl->easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    dlcurl->easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    dlcurl->easy_setopt(e, CURLOPT_FOLLOWLOCATION,
                        c->disable_redirects ? 0L : 1L);
    dlcurl->easy_setopt(e, CURLOPT_MAXREDIRS, CHECK_HTTP_MAX_REDIRECTS);
    /* Consul disables keep-alives so a stale pooled connection cannot fail
     * a check. */
    dlcurl->easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    dlcurl->easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    if (c->tls_skip_verify) {
        dlcurl->easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        dlcurl->easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (c->no_proxy)
        dlcurl->easy_setopt(e, CURLOPT_NOPROXY, "*");

    const char *m = c->method;
    if (c->body) {
        dlcurl->easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
        dlcurl->easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                            (curl_off_t)strlen(c->body));
        if (strcmp(m, "POST") != 0)
            dlcurl->easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    } else if (strcmp(m, "GET") == 0) {
        dlcurl->easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(m, "HEAD") == 0) {
        dlcurl->easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(m, "POST") == 0) {
        dlcurl->easy_setopt(e, CURLOPT_POSTFIELDS, "");
        dlcurl->easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    } else {
        dlcurl->easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    }

    CURLMcode mc = dlcurl->multi_add_handle(c->env->multi, e);
    if (mc != CURLM_OK) {
        http_probe_free(p);
        http_fail_now(c, dlcurl->multi_strerror(mc));
        return;
    }
    c->probe = p;
}

void check__http_abort(struct check *c)
{
    struct http_probe *p = c->probe;
    dlcurl->multi_remove_handle(c->env->multi, p->easy);
    http_probe_free(p);
    c->probe = NULL;
}

/* The detail of a failed request, in Go's words where we know them. */
static char *http_error_detail(struct http_probe *p, CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT: {
        long err = 0;
        dlcurl->easy_getinfo(p->easy, CURLINFO_OS_ERRNO, &err);
        if (err > 0 && err < 4096 && p->addr[0]) {
            char msg[128];
            uv_strerror_r(-(int)err, msg, sizeof msg);
            return check__printf("dial tcp %s: connect: %s", p->addr, msg);
        }
        break;
    }
    case CURLE_OPERATION_TIMEDOUT:
        return strdup(p->body_started
                          ? "context deadline exceeded (Client.Timeout or "
                            "context cancellation while reading body)"
                          : "context deadline exceeded (Client.Timeout "
                            "exceeded while awaiting headers)");
    case CURLE_TOO_MANY_REDIRECTS:
        return check__printf("stopped after %ld redirects",
                             CHECK_HTTP_MAX_REDIRECTS);
    default:
        break;
    }
    return strdup(p->errbuf[0] ? p->errbuf : dlcurl->easy_strerror(rc));
}

static void http_done(struct check_env *env, CURL *easy, CURLcode rc)
{
    char *priv = NULL;
    dlcurl->easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    struct http_probe *p = (struct http_probe *)priv;
    struct check *c = p->c;
    enum check_status st = CHECK_CRITICAL;
    char *out;

    dlcurl->multi_remove_handle(env->multi, easy);
    long code = 0;
    dlcurl->easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    /* Go decides on the status code once headers are in; an error while
     * reading the body is only logged. */
    if (code > 0 && p->status[0] && (rc == CURLE_OK || p->body_started)) {
        if (rc != CURLE_OK)
            log_debug(CHECK_LOG, "check %s: error reading body: %s", c->id,
                      p->errbuf[0] ? p->errbuf : dlcurl->easy_strerror(rc));
        char *body = check__ring_string(&p->body);
        out = check__printf("HTTP %s %s: %s Output: %s", c->method, c->http,
                            p->status, body ? body : "");
        free(body);
        if (code >= 200 && code <= 299)
            st = CHECK_PASSING;
        else if (code == 429)
            st = CHECK_WARNING;
    } else {
        char *detail = http_error_detail(p, rc);
        out = http_error_text(c, detail ? detail : "out of memory");
        free(detail);
        log_debug(CHECK_LOG, "check %s: HTTP request failed: %s", c->id,
                  out ? out : "");
    }
    http_probe_free(p);
    check__probe_done(c);
    check__result(c, st, out);
    free(out);
}

static void env_drain(struct check_env *env)
{
    CURLMsg *m;
    int left;
    while (env->multi && (m = dlcurl->multi_info_read(env->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        /* m is invalid once the handle is removed: copy first. */
        CURL *easy = m->easy_handle;
        CURLcode rc = m->data.result;
        http_done(env, easy, rc);
    }
}
