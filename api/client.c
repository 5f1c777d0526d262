/*
 * client — one libcurl easy handle per client, reset and reused for each
 * request so that `kv import` keeps one connection open. libcurl is loaded
 * by client_new (dlcurl.h): the agent binary does not link it.
 *
 * Error texts imitate what Consul's Go client prints, since scripts and
 * people grep for them ("connection refused", "Unexpected response code").
 */
#include "client.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <sodium.h>

#include "dlcurl.h"

struct client
{
    CURL *curl;
    char *base_url; /* "http://host:port" */
    char *hostport; /* "host:port" as dialled, for messages */
    char *host;     /* host without brackets, for messages */
    char *token;    /* NULL when none; wiped on delete */
    char *userpwd;  /* CONSUL_HTTP_AUTH; wiped on delete */
    char *dc;       /* NULL when none */
    bool stale;
};

static void client_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void client_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const char *client_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static void client_wipe_free(char *s)
{
    if (s) {
        sodium_memzero(s, strlen(s));
        free(s);
    }
}

/* Read a token file: the contents with surrounding whitespace trimmed. */
static int client_read_token_file(const char *path,
                                  char **out,
                                  char *err,
                                  size_t errlen)
{
    FILE *f = fopen(path, "r");
    char buf[4096];
    size_t n;

    if (f == NULL) {
        client_err(err, errlen, "open %s: %s", path, strerror(errno));
        return -EINVAL;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *s = buf, *e = buf + n;
    while (s < e && isspace((unsigned char)*s))
        s++;
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    *out = strndup(s, (size_t)(e - s));
    sodium_memzero(buf, sizeof(buf));
    return *out ? 0 : -ENOMEM;
}

static bool client_env_true(const char *name)
{
    const char *v = client_env(name);
    return v && (strcmp(v, "1") == 0 || strcasecmp(v, "t") == 0 ||
                 strcasecmp(v, "true") == 0);
}

/* Split `addr` into host and port. */
static int client_parse_addr(struct client *c,
                             const char *addr,
                             char *err,
                             size_t errlen)
{
    const char *a = addr;
    const char *sep = strstr(a, "://");

    if (sep) {
        size_t sl = (size_t)(sep - a);
        if (sl == 4 && strncasecmp(a, "http", 4) == 0)
            a = sep + 3;
        else if (sl == 5 && strncasecmp(a, "https", 5) == 0) {
            client_err(err, errlen,
                       "HTTPS is not supported yet (address %s); use "
                       "http://",
                       addr);
            return -EINVAL;
        } else if (sl == 4 && strncasecmp(a, "unix", 4) == 0) {
            client_err(err, errlen,
                       "unix sockets are not supported yet (address %s)", addr);
            return -EINVAL;
        } else {
            client_err(err, errlen, "Unknown protocol scheme in address %s",
                       addr);
            return -EINVAL;
        }
    }
    if (client_env_true("CONSUL_HTTP_SSL")) {
        client_err(err, errlen,
                   "HTTPS is not supported yet (CONSUL_HTTP_SSL is set)");
        return -EINVAL;
    }

    size_t n = strlen(a);
    while (n > 0 && a[n - 1] == '/')
        n--;
    const char *host = a, *port = NULL;
    size_t hlen;
    if (n > 0 && a[0] == '[') {
        const char *rb = memchr(a, ']', n);
        if (rb == NULL)
            goto bad;
        host = a + 1;
        hlen = (size_t)(rb - host);
        if (rb + 1 < a + n) {
            if (rb[1] != ':')
                goto bad;
            port = rb + 2;
        }
    } else {
        const char *colon = memchr(a, ':', n);
        hlen = colon ? (size_t)(colon - a) : n;
        if (colon && memchr(colon + 1, ':', (size_t)(a + n - colon - 1)))
            goto bad; /* bare IPv6 needs brackets */
        port = colon ? colon + 1 : NULL;
    }
    size_t plen = port ? (size_t)(a + n - port) : 0;
    if (hlen == 0 || memchr(host, '/', hlen) || memchr(host, '@', hlen) ||
        (port && plen == 0) || plen > 5)
        goto bad;
    unsigned long pnum = 80; /* Go: no port in the URL means :80 */
    if (port) {
        pnum = 0;
        for (size_t i = 0; i < plen; i++) {
            if (port[i] < '0' || port[i] > '9')
                goto bad;
            pnum = pnum * 10 + (unsigned long)(port[i] - '0');
        }
        if (pnum == 0 || pnum > 65535)
            goto bad;
    }
    bool v6 = memchr(host, ':', hlen) != NULL;
    if (asprintf(&c->hostport, "%s%.*s%s:%lu", v6 ? "[" : "", (int)hlen, host,
                 v6 ? "]" : "", pnum) < 0) {
        c->hostport = NULL;
        return -ENOMEM;
    }
    if (asprintf(&c->base_url, "http://%s", c->hostport) < 0) {
        c->base_url = NULL;
        return -ENOMEM;
    }
    c->host = strndup(host, hlen);
    return c->host ? 0 : -ENOMEM;

bad:
    client_err(err, errlen, "invalid HTTP address %s (want host:port)", addr);
    return -EINVAL;
}

int client_new(const struct client_opts *opts,
               struct client **out,
               char *err,
               size_t errlen)
{
    struct client *c = calloc(1, sizeof(*c));
    const char *addr = NULL, *v;
    int rc;

    *out = NULL;
    if (c == NULL)
        return -ENOMEM;

    if (opts->addr && *opts->addr)
        addr = opts->addr;
    else if ((v = client_env("CAIRN_HTTP_ADDR")))
        addr = v;
    else if ((v = client_env("CONSUL_HTTP_ADDR")))
        addr = v;
    else
        addr = CLIENT_DEFAULT_ADDR;
    rc = client_parse_addr(c, addr, err, errlen);
    if (rc)
        goto err_after_alloc;

    rc = 0;
    if (opts->token && *opts->token)
        c->token = strdup(opts->token);
    else if (opts->token_file && *opts->token_file)
        rc = client_read_token_file(opts->token_file, &c->token, err, errlen);
    else if ((v = client_env("CAIRN_HTTP_TOKEN")) ||
             (v = client_env("CONSUL_HTTP_TOKEN")))
        c->token = strdup(v);
    else if ((v = client_env("CONSUL_HTTP_TOKEN_FILE")))
        rc = client_read_token_file(v, &c->token, err, errlen);
    if (rc)
        goto err_after_alloc;
    if (c->token && strpbrk(c->token, "\r\n")) {
        client_err(err, errlen, "invalid token: contains a line break");
        rc = -EINVAL;
        goto err_after_alloc;
    }
    if (c->token && *c->token == '\0') {
        free(c->token);
        c->token = NULL;
    }
    if ((v = client_env("CONSUL_HTTP_AUTH")))
        c->userpwd = strdup(v);
    if (opts->datacenter && *opts->datacenter)
        c->dc = client_escape(opts->datacenter, false);
    c->stale = opts->stale;

    rc = dlcurl_acquire(err, errlen);
    if (rc < 0)
        goto err_after_alloc;
    c->curl = dlcurl->easy_init();
    if (c->curl == NULL) {
        dlcurl_release();
        client_err(err, errlen, "curl_easy_init failed");
        rc = -ENOMEM;
        goto err_after_alloc;
    }
    *out = c;
    return 0;

err_after_alloc:
    client_delete(c);
    return rc;
}

void client_delete(struct client *c)
{
    if (c == NULL)
        return;
    if (c->curl) {
        dlcurl->easy_cleanup(c->curl);
        dlcurl_release();
    }
    client_wipe_free(c->token);
    client_wipe_free(c->userpwd);
    free(c->base_url);
    free(c->hostport);
    free(c->host);
    free(c->dc);
    free(c);
}

const char *client_base_url(const struct client *c)
{
    return c->base_url;
}

char *client_escape(const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1), *o = out;

    if (out == NULL)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char ch = *p;
        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~' ||
            (keep_slash && ch == '/')) {
            *o++ = (char)ch;
        } else {
            *o++ = '%';
            *o++ = hex[ch >> 4];
            *o++ = hex[ch & 15];
        }
    }
    *o = '\0';
    return out;
}

/* ------------------------------------------------------------- requests */

struct client_rx
{
    struct client_resp *resp;
    size_t cap;
    bool oom;
};

static size_t client_on_body(char *ptr, size_t size, size_t nmemb, void *data)
{
    struct client_rx *rx = data;
    struct client_resp *r = rx->resp;
    size_t n = size * nmemb;

    if (r->len + n + 1 > rx->cap) {
        size_t cap = rx->cap ? rx->cap : 1024;
        while (cap < r->len + n + 1)
            cap *= 2;
        char *p = realloc(r->body, cap);
        if (p == NULL) {
            rx->oom = true;
            return 0; /* aborts the transfer */
        }
        r->body = p;
        rx->cap = cap;
    }
    memcpy(r->body + r->len, ptr, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

static bool client_header_is(const char *line,
                             size_t n,
                             const char *name,
                             const char **value,
                             size_t *vlen)
{
    size_t nl = strlen(name);

    if (n <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
        return false;
    const char *v = line + nl + 1, *e = line + n;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
        e--;
    *value = v;
    *vlen = (size_t)(e - v);
    return true;
}

static size_t client_on_header(char *line,
                               size_t size,
                               size_t nmemb,
                               void *data)
{
    struct client_rx *rx = data;
    struct client_resp *r = rx->resp;
    size_t n = size * nmemb;
    const char *v;
    size_t vlen;

    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new response (after 100 Continue or a redirect). */
        r->has_index = false;
        r->index = 0;
        r->known_leader = false;
    } else if (client_header_is(line, n, "X-Consul-Index", &v, &vlen)) {
        uint64_t x = 0;
        bool ok = vlen > 0 && vlen <= 20;
        for (size_t i = 0; ok && i < vlen; i++) {
            unsigned d = (unsigned)(v[i] - '0');
            if (d > 9 || x > (UINT64_MAX - d) / 10)
                ok = false;
            else
                x = x * 10 + d;
        }
        r->has_index = ok;
        r->index = ok ? x : 0;
    } else if (client_header_is(line, n, "X-Consul-KnownLeader", &v, &vlen)) {
        r->known_leader = vlen == 4 && strncmp(v, "true", 4) == 0;
    }
    return n;
}

/* Go's url.Error prefix: "Get", "Put", "Delete". */
static void client_go_method(const char *method, char *out, size_t n)
{
    size_t i = 0;

    for (; method[i] && i + 1 < n; i++)
        out[i] = (char)(i == 0 ? toupper((unsigned char)method[i])
                               : tolower((unsigned char)method[i]));
    out[i] = '\0';
}

int client_do(struct client *c,
              const char *method,
              const char *path,
              const void *body,
              size_t blen,
              struct client_resp *resp,
              char *err,
              size_t errlen)
{
    struct curl_slist *hdrs = NULL;
    struct client_rx rx = {.resp = resp};
    char ebuf[CURL_ERROR_SIZE] = "";
    char *url = NULL, *tokhdr = NULL;
    bool is_get = strcmp(method, "GET") == 0;
    int rc = 0;

    memset(resp, 0, sizeof(*resp));

    /* Base URL + path + our query parameters. */
    bool has_q = strchr(path, '?') != NULL;
    const char *dc_sep = c->dc ? (has_q ? "&dc=" : "?dc=") : "";
    const char *st = "";
    if (c->stale && is_get)
        st = (has_q || c->dc) ? "&stale=" : "?stale=";
    if (asprintf(&url, "%s%s%s%s%s", c->base_url, path, dc_sep,
                 c->dc ? c->dc : "", st) < 0)
        return -ENOMEM;

    dlcurl->easy_reset(c->curl);
    dlcurl->easy_setopt(c->curl, CURLOPT_URL, url);
    dlcurl->easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    dlcurl->easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 10L);
    dlcurl->easy_setopt(c->curl, CURLOPT_ERRORBUFFER, ebuf);
    dlcurl->easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http");
    dlcurl->easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, client_on_body);
    dlcurl->easy_setopt(c->curl, CURLOPT_WRITEDATA, &rx);
    dlcurl->easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, client_on_header);
    dlcurl->easy_setopt(c->curl, CURLOPT_HEADERDATA, &rx);
    /* Like Go's ProxyFromEnvironment, never proxy the loopback agent. */
    if (!client_env("NO_PROXY") && !client_env("no_proxy"))
        dlcurl->easy_setopt(c->curl, CURLOPT_NOPROXY,
                            "localhost,127.0.0.1,::1");
    if (is_get) {
        dlcurl->easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
    } else {
        dlcurl->easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
        if (body || strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0) {
            dlcurl->easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
                                (curl_off_t)blen);
            dlcurl->easy_setopt(c->curl, CURLOPT_POSTFIELDS,
                                body ? body : (const void *)"");
            hdrs = dlcurl->slist_append(
                hdrs, "Content-Type: application/octet-stream");
        }
    }
    hdrs = dlcurl->slist_append(hdrs, "Expect:");
    if (c->token) {
        if (asprintf(&tokhdr, "X-Consul-Token: %s", c->token) < 0) {
            tokhdr = NULL;
            rc = -ENOMEM;
            goto out;
        }
        hdrs = dlcurl->slist_append(hdrs, tokhdr);
    }
    if (c->userpwd) {
        dlcurl->easy_setopt(c->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        dlcurl->easy_setopt(c->curl, CURLOPT_USERPWD, c->userpwd);
    }
    dlcurl->easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);

    CURLcode cc = dlcurl->easy_perform(c->curl);
    char gm[16];
    client_go_method(method, gm, sizeof(gm));
    if (rx.oom) {
        rc = -ENOMEM;
        client_err(err, errlen, "%s \"%s\": out of memory", gm, url);
    } else if (cc == CURLE_COULDNT_CONNECT) {
        long oserr = 0;
        char es[128];
        dlcurl->easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &oserr);
        snprintf(es, sizeof(es), "%s",
                 oserr ? strerror((int)oserr) : "connection refused");
        es[0] = (char)tolower((unsigned char)es[0]);
        client_err(err, errlen, "%s \"%s\": dial tcp %s: connect: %s", gm, url,
                   c->hostport, es);
        rc = oserr == ECONNREFUSED || oserr == 0 ? -ECONNREFUSED : -EIO;
    } else if (cc == CURLE_COULDNT_RESOLVE_HOST) {
        client_err(err, errlen, "%s \"%s\": dial tcp: lookup %s: no such host",
                   gm, url, c->host);
        rc = -EIO;
    } else if (cc != CURLE_OK) {
        client_err(err, errlen, "%s \"%s\": %s", gm, url,
                   ebuf[0] ? ebuf : dlcurl->easy_strerror(cc));
        rc = -EIO;
    } else {
        dlcurl->easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
        if (resp->body == NULL) {
            resp->body = calloc(1, 1);
            if (resp->body == NULL)
                rc = -ENOMEM;
        }
    }

out:
    dlcurl->easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
    dlcurl->slist_free_all(hdrs);
    client_wipe_free(tokhdr);
    free(url);
    if (rc)
        client_resp_clear(resp);
    return rc;
}

void client_resp_clear(struct client_resp *resp)
{
    free(resp->body);
    memset(resp, 0, sizeof(*resp));
}

void client_status_error(const struct client_resp *resp, char *buf, size_t n)
{
    const char *s = resp->body ? resp->body : "";
    size_t len = resp->body ? resp->len : 0;

    while (len && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    snprintf(buf, n, "Unexpected response code: %ld (%.*s)", resp->status,
             (int)len, s);
}
