/*
 * http_member — cluster membership (spec 2.2, 2.3) and the gossip keyring
 * (/v1/operator/keyring, spec 9): members, join, leave, force-leave.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "http.h"
#include "json.h"
#include "member.h"

void http_agent_members(struct http_req *r)
{
    const char *seg = http_arg(r, "segment");
    if (http_has_arg(r, "wan") && seg && *seg) {
        http_reply_text(r, 400, "Cannot provide a segment with wan=true");
        return;
    }
    /* Only servers have a WAN pool; cairn has none yet. */
    json_object *arr = http_has_arg(r, "wan") ? json_object_new_array()
                                              : member_list_json(r->agent->member);
    if (http_filter(r, &arr))
        http_reply_json(r, 200, arr);
}

static void join_cb(void *data, int status, unsigned n)
{
    (void)n;
    http_wake(data, status);
}

void http_agent_join(struct http_req *r)
{
    if (r->phase == HTTP_PHASE_APPLIED) {
        if (r->applied_status != 0)
            http_reply_text(r, 500, "Failed to join %s: %s", r->rest,
                            r->applied_status == -ECANCELED
                                ? "agent is shutting down"
                                : member_strerror(r->applied_status));
        else
            http_reply_empty(r, 200);
        return;
    }
    if (http_has_arg(r, "wan")) {
        http_reply_text(r, 500, "WAN join is not supported by cairn yet");
        return;
    }
    if (*r->rest == '\0') {
        http_reply_text(r, 400, "Missing address to join");
        return;
    }
    struct http_token *t = http_wait(r);
    if (t == NULL)
        return;
    char err[256] = "";
    const char *addr = r->rest;
    int rv = member_join(r->agent->member, &addr, 1, join_cb, t, err,
                         sizeof err);
    if (rv != 0)
        http_wake(t, rv);
}

void http_agent_leave(struct http_req *r)
{
    /* Answer first, then leave and shut down (Consul responds before
     * exiting). */
    agent_leave(r->agent);
    http_reply_empty(r, 200);
}

void http_agent_force_leave(struct http_req *r)
{
    if (*r->rest == '\0') {
        http_reply_text(r, 400, "Missing node name");
        return;
    }
    int rv = member_force_leave(r->agent->member, r->rest,
                                http_has_arg(r, "prune"));
    if (rv == -ENOENT) {
        http_reply_text(r, 500, "agent: No node found with name '%s'",
                        r->rest);
        return;
    }
    if (rv != 0) {
        http_reply_text(r, 500, "force-leave %s failed", r->rest);
        return;
    }
    http_reply_empty(r, 200);
}

void http_operator_keyring(struct http_req *r)
{
    struct member *m = r->agent->member;
    if (r->method == HTTP_GET) {
        http_reply_json(r, 200, member_keyring_json(m));
        return;
    }
    char err[256] = "";
    json_object *in = r->body_len
                          ? json_parse(r->body, r->body_len, err, sizeof err)
                          : NULL;
    json_object *key = in ? json_get_ci(in, "Key") : NULL;
    if (key == NULL || !json_object_is_type(key, json_type_string)) {
        http_reply_text(r, 400, "Request decode failed: %s",
                        in ? "missing Key" : r->body_len ? err : "EOF");
        json_object_put(in);
        return;
    }
    const char *op = r->method == HTTP_POST  ? "install"
                     : r->method == HTTP_PUT ? "use"
                                             : "remove";
    int rv = member_keyring_op(m, op, json_object_get_string(key), err,
                               sizeof err);
    json_object_put(in);
    if (rv != 0) {
        http_reply_text(r, 500, "%s", err);
        return;
    }
    http_reply_empty(r, 200);
}
