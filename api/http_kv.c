/*
 * http_kv — /v1/kv/<key>: GET (single, ?recurse, ?keys[&separator], ?raw),
 * PUT (?flags, ?cas) and DELETE (?recurse, ?cas), spec section 1.
 * Writes are one-op KV transactions proposed through Raft.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cmd.h"
#include "http.h"
#include "json.h"

#include <microhttpd.h>

/* DirEntry as Consul returns it (field order of structs.DirEntry). */
json_object *http_kv_entry_json(const struct kv_entry *e, bool with_value)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "LockIndex", json_object_new_uint64(e->lock_index));
    json_object_object_add(o, "Key", json_object_new_string(e->key));
    json_object_object_add(o, "Flags", json_object_new_uint64(e->flags));
    json_object *v = NULL;
    if (with_value && e->value_len > 0) {
        char *b = b64_encode(e->value, e->value_len);
        if (b) {
            v = json_object_new_string(b);
            free(b);
        }
    }
    json_object_object_add(o, "Value", v);
    if (e->session)
        json_object_object_add(o, "Session", json_object_new_string(e->session));
    json_object_object_add(o, "CreateIndex",
                           json_object_new_uint64(e->create_index));
    json_object_object_add(o, "ModifyIndex",
                           json_object_new_uint64(e->modify_index));
    return o;
}

static bool has_prefix(const char *s, const char *prefix, size_t plen)
{
    return strncmp(s, prefix, plen) == 0;
}

/* Index of a listing under `prefix` (Consul's kvsListTxn): the highest
 * index of entries and tombstones under it, or the table index when the
 * prefix is empty or nothing is under it. */
static uint64_t list_index(struct kv *kv, const char *prefix)
{
    if (*prefix == '\0')
        return kv_index(kv);
    uint64_t i = kv_prefix_index(kv, prefix);
    return i ? i : kv_index(kv);
}

static void handle_get(struct http_req *r)
{
    struct agent *a = r->agent;
    struct kv *kv = a->fsm.kv;
    const char *key = r->rest;
    bool recurse = http_has_arg(r, "recurse");
    bool keys = http_has_arg(r, "keys");
    bool raw = http_has_arg(r, "raw");
    const char *sep = http_arg(r, "separator");
    if (sep == NULL)
        sep = http_arg(r, "seperator");

    if (r->phase == HTTP_PHASE_NEW) {
        if (http_parse_query_opts(r) != 0)
            return;
        if (!recurse && !keys && *key == '\0') {
            http_reply_text(r, 400, "Missing key name");
            return;
        }
        if (!http_check_leader(r))
            return;
        if (r->consistency == HTTP_CONS_CONSISTENT) {
            http_barrier(r);
            return;
        }
    } else if (r->applied_status != 0) {
        http_reply_text(r, 500, "No cluster leader");
        return;
    }

    size_t plen = strlen(key);
    if (keys) {
        uint64_t idx = list_index(kv, key);
        if (http_should_block(r, idx)) {
            http_park(r, a->fsm.kv_watch, key, true);
            return;
        }
        json_object *arr = json_object_new_array();
        size_t slen = sep ? strlen(sep) : 0;
        const char *last = NULL;
        size_t last_len = 0;
        for (const struct kv_entry *e = kv_seek(kv, key);
             e && has_prefix(e->key, key, plen); e = kv_next(kv, e)) {
            if (e->deleted)
                continue;
            size_t n = e->key_len;
            if (slen) {
                const char *cut = strstr(e->key + plen, sep);
                if (cut)
                    n = (size_t)(cut - e->key) + slen;
            }
            if (last && n == last_len && memcmp(last, e->key, n) == 0)
                continue;
            json_object_array_add(arr,
                                  json_object_new_string_len(e->key, (int)n));
            last = e->key;
            last_len = n;
        }
        http_add_index_headers(r, idx);
        if (json_object_array_length(arr) == 0 && plen > 0) {
            json_object_put(arr);
            http_reply_empty(r, 404);
            return;
        }
        http_reply_json(r, 200, arr);
        return;
    }
    if (recurse) {
        uint64_t idx = list_index(kv, key);
        if (http_should_block(r, idx)) {
            http_park(r, a->fsm.kv_watch, key, true);
            return;
        }
        json_object *arr = json_object_new_array();
        for (const struct kv_entry *e = kv_seek(kv, key);
             e && has_prefix(e->key, key, plen); e = kv_next(kv, e))
            if (!e->deleted)
                json_object_array_add(arr, http_kv_entry_json(e, true));
        http_add_index_headers(r, idx);
        if (json_object_array_length(arr) == 0) {
            json_object_put(arr);
            http_reply_empty(r, 404);
            return;
        }
        http_reply_json(r, 200, arr);
        return;
    }
    uint64_t idx = kv_index(kv);
    if (http_should_block(r, idx)) {
        http_park(r, a->fsm.kv_watch, key, false);
        return;
    }
    const struct kv_entry *e = kv_get(kv, key);
    http_add_index_headers(r, idx);
    if (e == NULL) {
        http_reply_empty(r, 404);
        return;
    }
    if (raw) {
        char *body = NULL;
        if (e->value_len) {
            body = malloc(e->value_len);
            if (body == NULL) {
                http_reply_text(r, 500, "out of memory");
                return;
            }
            memcpy(body, e->value, e->value_len);
        }
        http_add_header(r, "X-Content-Type-Options", "nosniff");
        http_add_header(r, "Content-Security-Policy", "sandbox");
        http_reply(r, 200, "text/plain", body, e->value_len);
        return;
    }
    json_object *arr = json_object_new_array();
    json_object_array_add(arr, http_kv_entry_json(e, true));
    http_reply_json(r, 200, arr);
}

/* Go's url.Values.Encode() of the query: keys sorted, "k=v" joined by
 * '&', each part escaped like url.QueryEscape. */
struct qarg
{
    char *k;
    char *v;
};

struct qcollect
{
    struct qarg *a;
    size_t n, cap;
};

static int qarg_cmp(const void *a, const void *b)
{
    return strcmp(((const struct qarg *)a)->k, ((const struct qarg *)b)->k);
}

static void query_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
            c == '~')
            fputc(c, f);
        else if (c == ' ')
            fputc('+', f);
        else
            fprintf(f, "%%%02X", c);
    }
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind,
                                   const char *key, const char *value)
{
    struct qcollect *q = cls;
    (void)kind;
    if (q->n == q->cap) {
        size_t nc = q->cap ? q->cap * 2 : 8;
        struct qarg *na = realloc(q->a, nc * sizeof *na);
        if (na == NULL)
            return MHD_NO;
        q->a = na;
        q->cap = nc;
    }
    q->a[q->n].k = strdup(key ? key : "");
    q->a[q->n].v = strdup(value ? value : "");
    if (q->a[q->n].k == NULL || q->a[q->n].v == NULL) {
        free(q->a[q->n].k);
        free(q->a[q->n].v);
        return MHD_NO;
    }
    q->n++;
    return MHD_YES;
}

static void reply_conflicting(struct http_req *r)
{
    struct qcollect q = {0};
    http_each_arg(r, collect_arg, &q);
    qsort(q.a, q.n, sizeof *q.a, qarg_cmp);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    for (size_t i = 0; i < q.n; i++) {
        if (f) {
            if (i)
                fputc('&', f);
            query_escape(f, q.a[i].k);
            fputc('=', f);
            query_escape(f, q.a[i].v);
        }
        free(q.a[i].k);
        free(q.a[i].v);
    }
    free(q.a);
    if (f)
        fclose(f);
    http_reply_text(r, 400, "Conflicting flags: %s\n", buf ? buf : "");
    free(buf);
}

/* Parse a uint64 query argument (?flags, ?cas). Consul hands the
 * strconv.ParseUint error back as is, which its HTTP layer turns into a
 * 500 with that text (spec 1.2); we answer the same. Returns 0, or replies
 * and returns -1. */
static int arg_u64(struct http_req *r, const char *name, uint64_t *out)
{
    const char *s = http_arg(r, name);
    char *end;
    errno = 0;
    if (s && *s >= '0' && *s <= '9') {
        unsigned long long v = strtoull(s, &end, 10);
        if (*end == '\0' && errno == 0) {
            *out = v;
            return 0;
        }
        if (*end == '\0' && errno == ERANGE) {
            http_reply_text(r, 500,
                            "strconv.ParseUint: parsing \"%s\": value out of "
                            "range",
                            s);
            return -1;
        }
    }
    http_reply_text(r, 500, "strconv.ParseUint: parsing \"%s\": invalid syntax",
                    s ? s : "");
    return -1;
}

static void reply_bool_result(struct http_req *r)
{
    if (r->applied_status != 0) {
        http_reply_text(r, 500, "%s",
                        r->applied_status == -ECANCELED
                            ? "agent is shutting down"
                            : "failed to apply: leadership lost");
        return;
    }
    if (r->applied_rc < 0) {
        http_reply_text(r, 500, "failed to apply command");
        return;
    }
    if (r->applied_rc == 1 && r->applied_txn.n_errors > 0 &&
        strstr(r->applied_txn.errors[0].what, "not supported")) {
        http_reply_text(r, 500, "%s", r->applied_txn.errors[0].what);
        return;
    }
    http_reply_json(r, 200, json_object_new_boolean(r->applied_rc == 0));
}

static void handle_put(struct http_req *r)
{
    if (r->phase == HTTP_PHASE_APPLIED) {
        reply_bool_result(r);
        return;
    }
    const char *key = r->rest;
    if (http_parse_query_opts(r) != 0)
        return;
    if (*key == '\0') {
        http_reply_text(r, 400, "Missing key name");
        return;
    }
    bool cas = http_has_arg(r, "cas"), acquire = http_has_arg(r, "acquire"),
         release = http_has_arg(r, "release");
    if (cas + acquire + release > 1) {
        reply_conflicting(r);
        return;
    }
    struct kv_op op = {.verb = KV_SET, .key = key};
    if (http_has_arg(r, "flags") && arg_u64(r, "flags", &op.flags) != 0)
        return;
    if (cas) {
        if (arg_u64(r, "cas", &op.index) != 0)
            return;
        op.verb = KV_CAS;
    }
    if (acquire || release) {
        http_reply_text(r, 500, "sessions not supported yet: ?%s needs the "
                                "sessions API",
                        acquire ? "acquire" : "release");
        return;
    }
    op.value = (const uint8_t *)r->body;
    op.value_len = r->body_len;
    struct cmd c = {.type = CMD_KV_TXN, .ops = &op, .n_ops = 1};
    http_apply(r, &c);
}

static void handle_delete(struct http_req *r)
{
    if (r->phase == HTTP_PHASE_APPLIED) {
        reply_bool_result(r);
        return;
    }
    const char *key = r->rest;
    if (http_parse_query_opts(r) != 0)
        return;
    bool recurse = http_has_arg(r, "recurse"), cas = http_has_arg(r, "cas");
    if (recurse && cas) {
        reply_conflicting(r);
        return;
    }
    if (!recurse && *key == '\0') {
        http_reply_text(r, 400, "Missing key name");
        return;
    }
    struct kv_op op = {.verb = recurse ? KV_DELETE_TREE : KV_DELETE,
                       .key = key};
    if (cas) {
        if (arg_u64(r, "cas", &op.index) != 0)
            return;
        op.verb = KV_DELETE_CAS;
    }
    struct cmd c = {.type = CMD_KV_TXN, .ops = &op, .n_ops = 1};
    http_apply(r, &c);
}

void http_kv(struct http_req *r)
{
    switch (r->method) {
    case HTTP_GET:
        handle_get(r);
        break;
    case HTTP_PUT:
        handle_put(r);
        break;
    case HTTP_DELETE:
        handle_delete(r);
        break;
    default:
        http_reply_text(r, 405, "method not allowed");
    }
}
