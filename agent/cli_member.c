/*
 * cli_member — `cairn join`, `leave`, `force-leave`, `keygen` and
 * `keyring`, after Consul's command/{join,leave,forceleave,keygen,keyring}:
 * same arguments, messages, exit codes and requests as the Go api client
 * makes (PUT /v1/agent/join/<addr>[?wan=1], PUT /v1/agent/leave,
 * PUT /v1/agent/force-leave/<node>[?prune=1][&wan=1], GET/POST/PUT/DELETE
 * /v1/operator/keyring with the body {"Key":"..."}).
 *
 * `keyring -rotate=KEY` is cairn's own: install KEY, wait until every node
 * holds it, make it primary, wait until every node uses it, remove every
 * other key, and verify — one command, each step printed, bounded by
 * -rotate-timeout per wait.
 */
#include "cli_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "duration.h"
#include "gossip.h"
#include "json.h"

#define CLI_N(a) (sizeof(a) / sizeof((a)[0]))
#define CLI_OUT (cli__out ? cli__out : stdout)
#define CLI_ERR (cli__err ? cli__err : stderr)

#define CLI_ROTATE_POLL_MS 200

/* ------------------------------------------------------------- helpers */

/* One request; a status other than 200 becomes the Go client's
 * "Unexpected response code" error. 0 with the answer in *resp (when not
 * NULL), or -1 with a message in err. */
static int cli_member_do(struct client *c,
                         const char *method,
                         const char *path,
                         const char *body,
                         struct client_resp *resp,
                         char *err,
                         size_t errlen)
{
    struct client_resp r;
    int rc = client_do(c, method, path, body, body ? strlen(body) : 0, &r, err,
                       errlen);
    if (rc)
        return -1;
    if (r.status != 200) {
        client_status_error(&r, err, errlen);
        client_resp_clear(&r);
        return -1;
    }
    if (resp)
        *resp = r;
    else
        client_resp_clear(&r);
    return 0;
}

/* GET `path` and decode the JSON answer (new object, may be NULL for a
 * JSON null). 0 or -1 with err set. */
static int cli_member_get_json(struct client *c,
                               const char *path,
                               json_object **out,
                               char *err,
                               size_t errlen)
{
    struct client_resp r;

    *out = NULL;
    if (cli_member_do(c, "GET", path, NULL, &r, err, errlen))
        return -1;
    err[0] = '\0';
    *out = json_parse(r.body, r.len, err, errlen);
    client_resp_clear(&r);
    return *out == NULL && err[0] ? -1 : 0;
}

static uint64_t cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void cli_sleep_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
                          .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---------------------------------------------------------------- join */

int cli__join(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct cli_http http;
    bool wan = false;
    const struct cli_flag flags[] = {
        {"wan", CLI_FLAG_BOOL, &wan, NULL,
         "Joins a server to another server in the WAN pool."},
    };
    int first;
    int rc = cli__parse(cmd, flags, CLI_N(flags), &http, argc, argv, &first);
    if (rc != CLI_CONTINUE)
        return rc;
    if (first >= argc) {
        cli__errorf("At least one address to join must be specified.");
        cli__errorf("%s", "");
        cli__print_help(CLI_ERR, cmd, flags, CLI_N(flags), true);
        return 1;
    }
    struct client *c = cli__client(&http);
    if (c == NULL)
        return 1;
    int joins = 0;
    for (int i = first; i < argc; i++) {
        char err[1024], *path = NULL;
        char *esc = client_escape(argv[i], false);
        if (esc == NULL || asprintf(&path, "/v1/agent/join/%s%s", esc,
                                    wan ? "?wan=1" : "") < 0) {
            free(esc);
            cli__errorf("Error joining address '%s': out of memory", argv[i]);
            continue;
        }
        free(esc);
        if (cli_member_do(c, "PUT", path, NULL, NULL, err, sizeof(err)))
            cli__errorf("Error joining address '%s': %s", argv[i], err);
        else
            joins++;
        free(path);
    }
    client_delete(c);
    if (joins == 0) {
        cli__errorf("Failed to join any nodes.");
        return 1;
    }
    fprintf(CLI_OUT, "Successfully joined cluster by contacting %d nodes.\n",
            joins);
    return 0;
}

/* --------------------------------------------------------------- leave */

int cli__leave(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct cli_http http;
    int first;
    int rc = cli__parse(cmd, NULL, 0, &http, argc, argv, &first);
    if (rc != CLI_CONTINUE)
        return rc;
    if (first < argc) {
        /* Go prints the slice: [a b] */
        fprintf(CLI_ERR, "Error found unexpected args: [");
        for (int i = first; i < argc; i++)
            fprintf(CLI_ERR, "%s%s", i > first ? " " : "", argv[i]);
        fprintf(CLI_ERR, "]\n");
        cli__print_help(CLI_OUT, cmd, NULL, 0, true);
        return 1;
    }
    struct client *c = cli__client(&http);
    if (c == NULL)
        return 1;
    char err[1024];
    rc = cli_member_do(c, "PUT", "/v1/agent/leave", NULL, NULL, err,
                       sizeof(err));
    client_delete(c);
    if (rc) {
        cli__errorf("Error leaving: %s", err);
        return 1;
    }
    fprintf(CLI_OUT, "Graceful leave complete\n");
    return 0;
}

/* --------------------------------------------------------- force-leave */

int cli__force_leave(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct cli_http http;
    bool prune = false, wan = false;
    const struct cli_flag flags[] = {
        {"prune", CLI_FLAG_BOOL, &prune, NULL,
         "Remove agent completely from list of members"},
        {"wan", CLI_FLAG_BOOL, &wan, NULL,
         "Exclusively leave the agent from the WAN serf pool."},
    };
    int first;
    int rc = cli__parse(cmd, flags, CLI_N(flags), &http, argc, argv, &first);
    if (rc != CLI_CONTINUE)
        return rc;
    if (argc - first != 1) {
        cli__errorf("A single node name must be specified to force leave.");
        cli__errorf("%s", "");
        cli__print_help(CLI_ERR, cmd, flags, CLI_N(flags), true);
        return 1;
    }
    struct client *c = cli__client(&http);
    if (c == NULL)
        return 1;
    char err[1024], *path = NULL;
    char *esc = client_escape(argv[first], false);
    rc = -1;
    if (esc && asprintf(&path, "/v1/agent/force-leave/%s%s%s", esc,
                        prune ? "?prune=1" : "",
                        wan ? (prune ? "&wan=1" : "?wan=1") : "") >= 0)
        rc = cli_member_do(c, "PUT", path, NULL, NULL, err, sizeof(err));
    else
        snprintf(err, sizeof(err), "out of memory");
    free(esc);
    free(path);
    client_delete(c);
    if (rc) {
        cli__errorf("Error force leaving: %s", err);
        return 1;
    }
    return 0;
}

/* -------------------------------------------------------------- keygen */

int cli__keygen_key(char out[45])
{
    uint8_t key[32];

    if (sodium_init() < 0)
        return -1;
    randombytes_buf(key, sizeof(key));
    sodium_bin2base64(out, 45, key, sizeof(key),
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(key, sizeof(key));
    return 0;
}

int cli__keygen(const struct cli_cmd *cmd, int argc, char **argv)
{
    int first;
    int rc = cli__parse(cmd, NULL, 0, NULL, argc, argv, &first);
    if (rc != CLI_CONTINUE)
        return rc;
    char key[45];
    if (cli__keygen_key(key) != 0) {
        cli__errorf("Error reading random data: libsodium unavailable");
        return 1;
    }
    fprintf(CLI_OUT, "%s\n", key);
    sodium_memzero(key, sizeof(key));
    return 0;
}

/* ------------------------------------------------------- keyring format */

static int cli_strp_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names of object `o`, sorted (borrowed strings; new array). */
static const char **cli_sorted_keys(json_object *o, size_t *n)
{
    size_t cnt = json_object_is_type(o, json_type_object)
                     ? (size_t)json_object_object_length(o)
                     : 0;
    const char **k = calloc(cnt + 1, sizeof(*k));
    *n = 0;
    if (k == NULL)
        return NULL;
    if (cnt) {
        json_object_object_foreach(o, name, v)
        {
            (void)v;
            k[(*n)++] = name;
        }
    }
    qsort(k, *n, sizeof(*k), cli_strp_cmp);
    return k;
}

static const char *cli_jstr(json_object *o, const char *name)
{
    json_object *v = json_get_ci(o, name);
    return v && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : "";
}

static long cli_jint(json_object *o, const char *name)
{
    json_object *v = json_get_ci(o, name);
    return v ? (long)json_object_get_int64(v) : 0;
}

static const char *cli_json_kind(json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "bool";
    case json_type_double:
    case json_type_int:
        return "number";
    case json_type_string:
        return "string";
    case json_type_object:
        return "object";
    case json_type_array:
        return "array";
    }
    return "value";
}

/* NULL or an error if `resp` is not an array of objects. */
static int cli_keyring_check(json_object *resp, char *err, size_t errlen)
{
    if (resp == NULL)
        return 0; /* JSON null: no pools */
    if (!json_object_is_type(resp, json_type_array)) {
        snprintf(err, errlen,
                 "json: cannot unmarshal %s into Go value of type "
                 "[]*api.KeyringResponse",
                 cli_json_kind(resp));
        return -1;
    }
    for (size_t i = 0; i < json_object_array_length(resp); i++) {
        json_object *e = json_object_array_get_idx(resp, i);
        if (!json_object_is_type(e, json_type_object)) {
            snprintf(err, errlen,
                     "json: cannot unmarshal %s into Go value of type "
                     "api.KeyringResponse",
                     cli_json_kind(e));
            return -1;
        }
    }
    return 0;
}

char *cli__keyring_format(json_object *resp,
                          bool primary,
                          char *err,
                          size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;

    if (cli_keyring_check(resp, err, errlen))
        return NULL;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    size_t n = resp ? json_object_array_length(resp) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(resp, i);
        json_object *wan = json_get_ci(e, "WAN");
        const char *seg = cli_jstr(e, "Segment");
        const char *part = cli_jstr(e, "Partition");
        fputc('\n', f);
        if (wan && json_object_get_boolean(wan))
            fprintf(f, "WAN");
        else
            fprintf(f, "%s (LAN)", cli_jstr(e, "Datacenter"));
        if (*seg)
            fprintf(f, " [%s]", seg);
        else if (*part && strcmp(part, "default") != 0)
            fprintf(f, " [partition: %s]", part);
        fprintf(f, ":\n");

        json_object *msgs = json_get_ci(e, "Messages");
        size_t nm;
        const char **mk = cli_sorted_keys(msgs, &nm);
        for (size_t k = 0; mk && k < nm; k++)
            fprintf(f, "  ===> %s: %s\n", mk[k], cli_jstr(msgs, mk[k]));
        free(mk);

        json_object *keys = json_get_ci(e, primary ? "PrimaryKeys" : "Keys");
        long total = cli_jint(e, "NumNodes");
        size_t nk;
        const char **kk = cli_sorted_keys(keys, &nk);
        for (size_t k = 0; kk && k < nk; k++)
            fprintf(f, "  %s [%ld/%ld]\n", kk[k], cli_jint(keys, kk[k]), total);
        free(kk);
    }
    /* Each pool is one UI.Output of "\n<pool>:\n<messages><keys>" with
     * the trailing newlines trimmed, plus a newline: what we built. */
    if (fclose(f) != 0 || buf == NULL) {
        free(buf);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return buf;
}

int cli__keyring_view(json_object *resp,
                      const char *key,
                      struct cli_keyring_view *v,
                      char *err,
                      size_t errlen)
{
    memset(v, 0, sizeof(*v));
    if (cli_keyring_check(resp, err, errlen))
        return -1;
    size_t n = resp ? json_object_array_length(resp) : 0;
    if (n == 0) {
        snprintf(err, errlen, "the agent reported no keyring");
        return -1;
    }
    v->all_have = v->all_primary = v->only = true;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(resp, i);
        json_object *keys = json_get_ci(e, "Keys");
        json_object *prim = json_get_ci(e, "PrimaryKeys");
        long nodes = cli_jint(e, "NumNodes");
        long have = json_object_is_type(keys, json_type_object)
                        ? cli_jint(keys, key)
                        : 0;
        long p = json_object_is_type(prim, json_type_object)
                     ? cli_jint(prim, key)
                     : 0;
        v->nodes += nodes;
        v->have += have;
        v->primary += p;
        if (nodes <= 0 || have != nodes)
            v->all_have = false;
        if (nodes <= 0 || p != nodes)
            v->all_primary = false;
        size_t nk, np;
        const char **kk = cli_sorted_keys(keys, &nk);
        const char **pk = cli_sorted_keys(prim, &np);
        for (size_t k = 0; kk && k < nk; k++) {
            if (strcmp(kk[k], key) != 0) {
                v->only = false;
                v->others++;
            }
        }
        for (size_t k = 0; pk && k < np; k++)
            if (strcmp(pk[k], key) != 0)
                v->only = false;
        free(kk);
        free(pk);
    }
    return 0;
}

size_t cli__keyring_stale_members(json_object *members,
                                  const char *key,
                                  char *names,
                                  size_t len)
{
    uint8_t raw[GOSSIP_KEY_SIZE];
    char want[16];
    size_t stale = 0, o = 0;

    if (len)
        names[0] = '\0';
    if (gossip_key_decode(key, raw) != 0)
        return 0;
    snprintf(want, sizeof(want), "%08" PRIx32, gossip_key_id(raw));
    sodium_memzero(raw, sizeof(raw));
    size_t n = json_object_is_type(members, json_type_array)
                   ? json_object_array_length(members)
                   : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(members, i);
        json_object *tags = json_get_ci(m, "Tags");
        json_object *kr = NULL;
        if (cli_jint(m, "Status") != 1 ||
            !json_object_is_type(tags, json_type_object) ||
            !json_object_object_get_ex(tags, "kr", &kr))
            continue; /* not alive, or does not advertise its keys */
        if (strcmp(json_object_get_string(kr), want) == 0)
            continue;
        stale++;
        if (o < len) {
            int w = snprintf(names + o, len - o, "%s%s", o ? ", " : "",
                             cli_jstr(m, "Name"));
            if (w > 0)
                o += (size_t)w;
        }
    }
    return stale;
}

/* ------------------------------------------------------------- keyring */

struct cli_keyring_ctx
{
    struct client *c;
    const char *query; /* "" or "?relay-factor=N" */
};

/* POST/PUT/DELETE /v1/operator/keyring with {"Key": key}. */
static int cli_keyring_op(struct cli_keyring_ctx *k,
                          const char *method,
                          const char *key,
                          char *err,
                          size_t errlen)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "Key", json_object_new_string(key));
    size_t blen;
    char *body = json_dump(o, false, &blen);
    json_object_put(o);
    char *withnl = NULL, *path = NULL;
    int rc = -1;
    /* The Go client's json.Encoder ends the body with a newline. */
    if (body && asprintf(&withnl, "%s\n", body) >= 0 &&
        asprintf(&path, "/v1/operator/keyring%s", k->query) >= 0)
        rc = cli_member_do(k->c, method, path, withnl, NULL, err, errlen);
    else
        snprintf(err, errlen, "out of memory");
    if (withnl)
        sodium_memzero(withnl, strlen(withnl));
    if (body)
        sodium_memzero(body, blen);
    free(withnl);
    free(body);
    free(path);
    return rc;
}

static int cli_keyring_get(struct cli_keyring_ctx *k,
                           const char *extra,
                           json_object **out,
                           char *err,
                           size_t errlen)
{
    char path[256];
    snprintf(path, sizeof(path), "/v1/operator/keyring%s%s", k->query,
             *extra ? (*k->query ? "&" : "?") : "");
    if (*extra)
        snprintf(path + strlen(path), sizeof(path) - strlen(path), "%s", extra);
    if (cli_member_get_json(k->c, path, out, err, errlen))
        return -1;
    if (cli_keyring_check(*out, err, errlen)) {
        json_object_put(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

enum cli_rotate_wait { CLI_WAIT_HAVE, CLI_WAIT_PRIMARY, CLI_WAIT_ONLY };

/* Poll the keyring until `what` holds for `key` or timeout_ms pass; prints
 * progress lines when the counts change. 0, or -1 with err set. */
static int cli_rotate_wait(struct cli_keyring_ctx *k,
                           const char *key,
                           enum cli_rotate_wait what,
                           uint64_t timeout_ms,
                           char *err,
                           size_t errlen)
{
    uint64_t deadline = cli_now_ms() + timeout_ms;
    long last_count = -1, last_nodes = -1;
    struct cli_keyring_view v;
    const char *label = what == CLI_WAIT_HAVE ? "installed on" : "primary on";
    for (;;) {
        json_object *resp;
        if (cli_keyring_get(k, "", &resp, err, errlen))
            return -1;
        int rc = cli__keyring_view(resp, key, &v, err, errlen);
        json_object_put(resp);
        if (rc)
            return -1;
        long count = what == CLI_WAIT_HAVE ? v.have : v.primary;
        bool done = what == CLI_WAIT_HAVE ? v.all_have
                    : what == CLI_WAIT_PRIMARY
                        ? v.all_primary
                        : v.only && v.all_have && v.all_primary;
        if (what == CLI_WAIT_ONLY)
            count = (long)v.others;
        if (count != last_count || v.nodes != last_nodes) {
            if (what == CLI_WAIT_ONLY)
                fprintf(CLI_OUT,
                        "    %zu other key(s) left; new key on %ld/%ld "
                        "nodes, primary on %ld/%ld\n",
                        v.others, v.have, v.nodes, v.primary, v.nodes);
            else
                fprintf(CLI_OUT, "    new key %s %ld/%ld nodes\n", label, count,
                        v.nodes);
            fflush(CLI_OUT);
            last_count = count;
            last_nodes = v.nodes;
        }
        if (done)
            return 0;
        if (cli_now_ms() + CLI_ROTATE_POLL_MS > deadline)
            break; /* the next look would come too late */
        cli_sleep_ms(CLI_ROTATE_POLL_MS);
    }
    char d[32];
    duration_format((int64_t)timeout_ms * 1000000, d, sizeof(d));
    if (what == CLI_WAIT_ONLY)
        snprintf(err, errlen,
                 "timed out after %s: %zu other key(s) still installed, new "
                 "key on %ld/%ld nodes, primary on %ld/%ld",
                 d, v.others, v.have, v.nodes, v.primary, v.nodes);
    else
        snprintf(err, errlen, "timed out after %s: new key %s %ld/%ld nodes", d,
                 label, what == CLI_WAIT_HAVE ? v.have : v.primary, v.nodes);
    return -1;
}

/* Wait until no alive member advertises a key other than `key` (the "kr"
 * tag cairn agents publish; members without it are not checked). */
static int cli_rotate_wait_members(struct cli_keyring_ctx *k,
                                   const char *key,
                                   uint64_t timeout_ms,
                                   char *err,
                                   size_t errlen)
{
    uint64_t deadline = cli_now_ms() + timeout_ms;
    char names[512];
    size_t stale;
    for (;;) {
        json_object *members;
        if (cli_member_get_json(k->c, "/v1/agent/members", &members, err,
                                errlen))
            return -1;
        stale = cli__keyring_stale_members(members, key, names, sizeof(names));
        json_object_put(members);
        if (stale == 0)
            return 0;
        if (cli_now_ms() + CLI_ROTATE_POLL_MS > deadline)
            break; /* the next look would come too late */
        cli_sleep_ms(CLI_ROTATE_POLL_MS);
    }
    char d[32];
    duration_format((int64_t)timeout_ms * 1000000, d, sizeof(d));
    snprintf(err, errlen,
             "timed out after %s: %zu member(s) still hold other keys: %s", d,
             stale, names);
    return -1;
}

static int cli_keyring_rotate(struct cli_keyring_ctx *k,
                              const char *key,
                              uint64_t timeout_ms)
{
    char err[1024];
    uint8_t raw[GOSSIP_KEY_SIZE];

    if (gossip_key_decode(key, raw) != 0) {
        cli__errorf(
            "error: invalid key: want the standard base64 of 32 "
            "bytes, as `cairn keygen` prints");
        return 1;
    }
    sodium_memzero(raw, sizeof(raw));

    fprintf(CLI_OUT, "==> Rotating the gossip encryption key...\n");
    json_object *resp;
    if (cli_keyring_get(k, "", &resp, err, sizeof(err))) {
        cli__errorf("error: %s", err);
        return 1;
    }
    struct cli_keyring_view v;
    if (cli__keyring_view(resp, key, &v, err, sizeof(err))) {
        json_object_put(resp);
        cli__errorf("error: %s", err);
        return 1;
    }
    fprintf(CLI_OUT, "    %ld nodes, %zu other key(s) installed\n", v.nodes,
            v.others);
    json_object_put(resp);

    fprintf(CLI_OUT, "==> Installing new gossip encryption key...\n");
    fflush(CLI_OUT);
    if (cli_keyring_op(k, "POST", key, err, sizeof(err)) ||
        cli_rotate_wait(k, key, CLI_WAIT_HAVE, timeout_ms, err, sizeof(err)))
        goto fail;

    fprintf(CLI_OUT, "==> Changing primary gossip encryption key...\n");
    fflush(CLI_OUT);
    if (cli_keyring_op(k, "PUT", key, err, sizeof(err)) ||
        cli_rotate_wait(k, key, CLI_WAIT_PRIMARY, timeout_ms, err, sizeof(err)))
        goto fail;

    /* Remove every other key the agent knows. */
    if (cli_keyring_get(k, "", &resp, err, sizeof(err)))
        goto fail;
    for (size_t i = 0; resp && i < json_object_array_length(resp); i++) {
        json_object *keys =
            json_get_ci(json_object_array_get_idx(resp, i), "Keys");
        size_t nk;
        const char **kk = cli_sorted_keys(keys, &nk);
        for (size_t j = 0; kk && j < nk; j++) {
            if (strcmp(kk[j], key) == 0)
                continue;
            fprintf(CLI_OUT, "==> Removing gossip encryption key %s...\n",
                    kk[j]);
            fflush(CLI_OUT);
            if (cli_keyring_op(k, "DELETE", kk[j], err, sizeof(err))) {
                free(kk);
                json_object_put(resp);
                goto fail;
            }
        }
        free(kk);
    }
    json_object_put(resp);

    fprintf(CLI_OUT, "==> Verifying the keyring...\n");
    fflush(CLI_OUT);
    if (cli_rotate_wait(k, key, CLI_WAIT_ONLY, timeout_ms, err, sizeof(err)) ||
        cli_rotate_wait_members(k, key, timeout_ms, err, sizeof(err)))
        goto fail;
    fprintf(CLI_OUT,
            "Key rotation complete: the new key is the only key "
            "and the primary key on every node.\n");
    return 0;

fail:
    cli__errorf("error: %s", err);
    return 1;
}

int cli__keyring(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct cli_http http;
    const char *install = "", *use = "", *remove = "", *rotate = "";
    const char *timeout = "30s";
    bool list = false, list_primary = false, local = false;
    uint64_t relay = 0;
    const struct cli_flag flags[] = {
        {"install", CLI_FLAG_STRING, &install, NULL,
         "Install a new encryption key. This will broadcast the new key to "
         "all members in the cluster."},
        {"use", CLI_FLAG_STRING, &use, NULL,
         "Change the primary encryption key, which is used to encrypt "
         "messages. The key must already be installed before this "
         "operation can succeed."},
        {"remove", CLI_FLAG_STRING, &remove, NULL,
         "Remove the given key from the cluster. This operation may only "
         "be performed on keys which are not currently the primary key."},
        {"list", CLI_FLAG_BOOL, &list, NULL,
         "List all keys currently in use within the cluster."},
        {"list-primary", CLI_FLAG_BOOL, &list_primary, NULL,
         "List all primary keys currently in use within the cluster."},
        {"relay-factor", CLI_FLAG_U64, &relay, NULL,
         "Setting this to a non-zero value will cause nodes to relay their "
         "response to the operation through this many randomly-chosen "
         "other nodes in the cluster. The maximum allowed value is 5."},
        {"local-only", CLI_FLAG_BOOL, &local, NULL,
         "Setting this to true will force the keyring query to only hit "
         "local servers (no WAN traffic). This flag can only be set for "
         "list queries."},
        {"rotate", CLI_FLAG_STRING, &rotate, NULL,
         "(cairn) Rotate to the given key cluster-wide in one verified "
         "step: install it, wait until every node has it, make it the "
         "primary key, wait until every node uses it, then remove every "
         "other key and verify. Exits 1 if a step fails or times out."},
        {"rotate-timeout", CLI_FLAG_STRING, &timeout, NULL,
         "(cairn) How long -rotate waits for the cluster at each step. "
         "The default value is 30s."},
    };
    int first;
    int rc = cli__parse(cmd, flags, CLI_N(flags), &http, argc, argv, &first);
    if (rc != CLI_CONTINUE)
        return rc;

    /* Only accept a single action (Consul's check, -rotate included). */
    bool found = list || list_primary;
    const char *acts[] = {install, use, remove, rotate};
    for (size_t i = 0; i < CLI_N(acts); i++) {
        if (found && *acts[i]) {
            cli__errorf("Only a single action is allowed");
            return 1;
        }
        found = found || *acts[i];
    }
    if (!found) {
        cli__print_help(CLI_ERR, cmd, flags, CLI_N(flags), true);
        return 1;
    }
    if (relay > 5) {
        cli__errorf(
            "Error parsing relay factor: Relay factor must be in "
            "range: [0, 5]");
        return 1;
    }
    if (local && !list) {
        cli__errorf(
            "Error validating local-only: local-only can only be set "
            "during list queries");
        return 1;
    }
    int64_t tns = 0;
    if (*rotate && (duration_parse(timeout, &tns) != 0 || tns <= 0)) {
        cli__errorf(
            "invalid value \"%s\" for flag -rotate-timeout: parse "
            "error",
            timeout);
        return 1;
    }

    struct client *c = cli__client(&http);
    if (c == NULL)
        return 1;
    char query[64] = "";
    if (relay)
        snprintf(query, sizeof(query), "?relay-factor=%" PRIu64, relay);
    struct cli_keyring_ctx k = {.c = c, .query = query};
    char err[1024];

    if (list || list_primary) {
        fprintf(CLI_OUT, "==> Gathering installed %sencryption keys...\n",
                list ? "" : "primary ");
        json_object *resp;
        rc = cli_keyring_get(&k, local ? "local-only=true" : "", &resp, err,
                             sizeof(err));
        char *out =
            rc ? NULL : cli__keyring_format(resp, !list, err, sizeof(err));
        json_object_put(resp);
        client_delete(c);
        if (out == NULL) {
            cli__errorf("error: %s", err);
            return 1;
        }
        fputs(out, CLI_OUT);
        free(out);
        return 0;
    }
    if (*rotate) {
        rc = cli_keyring_rotate(&k, rotate, (uint64_t)(tns / 1000000));
        client_delete(c);
        return rc;
    }
    const char *method, *what, *key;
    if (*install) {
        method = "POST";
        what = "Installing new gossip encryption key...";
        key = install;
    } else if (*use) {
        method = "PUT";
        what = "Changing primary gossip encryption key...";
        key = use;
    } else {
        method = "DELETE";
        what = "Removing gossip encryption key...";
        key = remove;
    }
    fprintf(CLI_OUT, "==> %s\n", what);
    rc = cli_keyring_op(&k, method, key, err, sizeof(err));
    client_delete(c);
    if (rc) {
        cli__errorf("error: %s", err);
        return 1;
    }
    return 0;
}
