/*
 * http_txn — PUT /v1/txn with KV operations (spec 1.4): the whole list is
 * one Raft command applied all-or-nothing by the FSM. 200 with Results when
 * committed, 409 with Errors when rolled back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cmd.h"
#include "http.h"
#include "json.h"

#define TXN_MAX_OPS 128

struct txn_ops
{
    struct kv_op *ops;
    uint8_t **values; /* decoded base64, owned */
    size_t n;
};

static void txn_ops_free(struct txn_ops *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->values[i]);
    free(t->values);
    free(t->ops);
}

/* Decode the body into ops. Pointers borrow from `root` (keys, sessions)
 * and from t->values. Returns 0 or fills err. */
static int txn_decode(json_object *root, struct txn_ops *t, char *err,
                      size_t errlen, unsigned *status)
{
    *status = 400;
    if (!json_object_is_type(root, json_type_array)) {
        snprintf(err, errlen, "Failed to parse body: expected a JSON array "
                              "of operations");
        return -1;
    }
    size_t n = json_object_array_length(root);
    if (n > TXN_MAX_OPS) {
        *status = 413;
        snprintf(err, errlen,
                 "Transaction contains too many operations (%zu > %d)", n,
                 TXN_MAX_OPS);
        return -1;
    }
    t->ops = calloc(n ? n : 1, sizeof *t->ops);
    t->values = calloc(n ? n : 1, sizeof *t->values);
    if (t->ops == NULL || t->values == NULL) {
        *status = 500;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++, t->n++) {
        json_object *el = json_object_array_get_idx(root, i);
        json_object *kvo = json_get_ci(el, "KV");
        if (!json_object_is_type(el, json_type_object) || kvo == NULL) {
            snprintf(err, errlen,
                     "Failed to parse body: operation %zu: only KV "
                     "operations are supported",
                     i);
            return -1;
        }
        if (!json_object_is_type(kvo, json_type_object)) {
            snprintf(err, errlen, "Failed to parse body: operation %zu: KV "
                                  "must be an object",
                     i);
            return -1;
        }
        struct kv_op *op = &t->ops[i];
        json_object *v = json_get_ci(kvo, "Verb");
        op->verb = v && json_object_is_type(v, json_type_string)
                       ? kv_verb_parse(json_object_get_string(v))
                       : 0;
        if (op->verb == 0) {
            snprintf(err, errlen, "Failed to parse body: operation %zu: "
                                  "unknown KV verb %s",
                     i, v ? json_object_get_string(v) : "(missing)");
            return -1;
        }
        v = json_get_ci(kvo, "Key");
        if (v && !json_object_is_type(v, json_type_string)) {
            snprintf(err, errlen, "Failed to parse body: operation %zu: Key "
                                  "must be a string",
                     i);
            return -1;
        }
        op->key = v ? json_object_get_string(v) : "";
        if (v && strlen(op->key) != (size_t)json_object_get_string_len(v)) {
            snprintf(err, errlen, "Failed to parse body: operation %zu: Key "
                                  "contains NUL",
                     i);
            return -1;
        }
        v = json_get_ci(kvo, "Value");
        if (v && !json_object_is_type(v, json_type_null)) {
            if (!json_object_is_type(v, json_type_string) ||
                b64_decode(json_object_get_string(v),
                           (size_t)json_object_get_string_len(v),
                           &t->values[i], &op->value_len) != 0) {
                snprintf(err, errlen, "Failed to parse body: operation %zu: "
                                      "Value must be base64",
                         i);
                return -1;
            }
            op->value = t->values[i];
        }
        static const char *const u64s[] = {"Flags", "Index"};
        uint64_t *dst[] = {&op->flags, &op->index};
        for (int k = 0; k < 2; k++) {
            v = json_get_ci(kvo, u64s[k]);
            if (v && !json_object_is_type(v, json_type_null) &&
                json_get_u64(v, dst[k]) != 0) {
                snprintf(err, errlen, "Failed to parse body: operation %zu: "
                                      "%s must be an unsigned integer",
                         i, u64s[k]);
                return -1;
            }
        }
        v = json_get_ci(kvo, "Session");
        if (v && json_object_is_type(v, json_type_string) &&
            json_object_get_string_len(v) > 0)
            op->session = json_object_get_string(v);
    }
    return 0;
}

/* Verbs whose results carry the value (Consul returns values only for
 * reads; writes and checks answer with Value null). */
static bool verb_has_value(enum kv_verb v)
{
    return v == KV_GET || v == KV_GET_OR_EMPTY || v == KV_GET_TREE;
}

static void reply_outcome(struct http_req *r, const struct kv_op *ops,
                          size_t n_ops)
{
    const struct kv_txn_result *t = &r->applied_txn;
    if (r->applied_status != 0 || r->applied_rc < 0) {
        http_reply_text(r, 500, "%s",
                        r->applied_status == -ECANCELED
                            ? "agent is shutting down"
                            : "failed to apply transaction");
        return;
    }
    json_object *o = json_object_new_object();
    if (r->applied_rc == 0) {
        json_object *res = json_object_new_array();
        for (size_t i = 0; i < t->n_results; i++) {
            const struct kv_entry *e = t->results[i];
            size_t op = t->result_ops ? t->result_ops[i] : n_ops;
            bool with_value = op < n_ops && verb_has_value(ops[op].verb);
            json_object *kvj;
            if (e != NULL) {
                kvj = http_kv_entry_json(e, with_value);
            } else if (op < n_ops) {
                /* get-or-empty on a missing key: Consul answers with a
                 * KVPair holding just the key. */
                kvj = json_object_new_object();
                json_object_object_add(kvj, "LockIndex",
                                       json_object_new_uint64(0));
                json_object_object_add(kvj, "Key",
                                       json_object_new_string(ops[op].key));
                json_object_object_add(kvj, "Flags", json_object_new_uint64(0));
                json_object_object_add(kvj, "Value", NULL);
                json_object_object_add(kvj, "CreateIndex",
                                       json_object_new_uint64(0));
                json_object_object_add(kvj, "ModifyIndex",
                                       json_object_new_uint64(0));
            } else {
                continue;
            }
            json_object *item = json_object_new_object();
            json_object_object_add(item, "KV", kvj);
            json_object_array_add(res, item);
        }
        if (json_object_array_length(res) == 0) {
            json_object_put(res);
            res = NULL;
        }
        json_object_object_add(o, "Results", res);
        json_object_object_add(o, "Errors", NULL);
        http_reply_json(r, 200, o);
        return;
    }
    json_object *errs = json_object_new_array();
    for (size_t i = 0; i < t->n_errors; i++) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "OpIndex",
                               json_object_new_uint64(t->errors[i].op_index));
        json_object_object_add(e, "What",
                               json_object_new_string(t->errors[i].what));
        json_object_array_add(errs, e);
    }
    json_object_object_add(o, "Results", NULL);
    json_object_object_add(o, "Errors", errs);
    http_reply_json(r, 409, o);
}

void http_txn(struct http_req *r)
{
    char err[256];
    unsigned status;
    struct txn_ops t = {0};
    /* The body is decoded on both passes: the ops borrow from it, and the
     * second pass needs the verbs to shape the results. */
    json_object *root = json_parse(r->body ? r->body : "", r->body_len, err,
                                   sizeof err);
    if (root == NULL) {
        http_reply_text(r, 400, "Failed to parse body: %s", err);
        return;
    }
    if (txn_decode(root, &t, err, sizeof err, &status) != 0) {
        http_reply_text(r, status, "%s", err);
        goto out;
    }
    if (r->phase == HTTP_PHASE_APPLIED) {
        reply_outcome(r, t.ops, t.n);
        goto out;
    }
    if (http_parse_query_opts(r) != 0)
        goto out;
    if (t.n == 0) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "Results", NULL);
        json_object_object_add(o, "Errors", NULL);
        http_reply_json(r, 200, o);
        goto out;
    }
    struct cmd c = {.type = CMD_KV_TXN, .ops = t.ops, .n_ops = t.n};
    http_apply(r, &c);
out:
    txn_ops_free(&t);
    json_object_put(root);
}
