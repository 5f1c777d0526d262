/*
 * cli_kv — `cairn kv get|put|delete|export|import`, after Consul's
 * command/kv/{get,put,del,exp,imp}: same arguments, messages, and
 * requests as the Go api client makes (GET /v1/kv/<key>[?recurse|?keys],
 * PUT with the raw value as body, DELETE [?recurse|?cas=N]).
 */
#include "cli_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define CLI_N(a) (sizeof(a) / sizeof((a)[0]))

/* Outcome of one KV request, as the Go api client reports it. */
struct cli_kv_result
{
    int rc; /* 0, or -errno: err holds the message */
    struct client_resp resp;
    char err[1024];
};

/* Do `method` on /v1/kv/<key><query>; non-200 (except a 404 on GET) is
 * turned into the Go client's "Unexpected response code" error. */
static void cli_kv_request(struct client *c,
                           const char *method,
                           const char *key,
                           const char *query,
                           const void *body,
                           size_t blen,
                           struct cli_kv_result *res)
{
    char *ek = client_escape(key, true);
    char *path = NULL;

    memset(res, 0, sizeof(*res));
    if (ek == NULL ||
        asprintf(&path, "/v1/kv/%s%s", ek, query ? query : "") < 0) {
        free(ek);
        snprintf(res->err, sizeof(res->err), "out of memory");
        res->rc = -ENOMEM;
        return;
    }
    free(ek);
    res->rc = client_do(c, method, path, body, blen, &res->resp, res->err,
                        sizeof(res->err));
    free(path);
    if (res->rc)
        return;
    long st = res->resp.status;
    if (st == 200 || (st == 404 && strcmp(method, "GET") == 0))
        return;
    client_status_error(&res->resp, res->err, sizeof(res->err));
    client_resp_clear(&res->resp);
    res->rc = -EIO;
}

/* Body "true" (Go: strings.Contains(body, "true")). */
static bool cli_kv_true(const struct client_resp *r)
{
    return r->body && memmem(r->body, r->len, "true", 4) != NULL;
}

/* The Go client refuses keys with a leading '/'. */
static bool cli_kv_key_ok(const char *key, char *err, size_t errlen)
{
    if (key[0] != '/')
        return true;
    snprintf(err, errlen, "Invalid key. Key must not begin with a '/': %s",
             key);
    return false;
}

/* Parse a 200 /v1/kv body (or NULL for 404) into an array. */
static json_object *cli_kv_parse(const struct client_resp *r,
                                 char *err,
                                 size_t errlen)
{
    if (r->status == 404)
        return json_object_new_array();
    json_object *j = json_parse(r->body, r->len, err, errlen);
    if (j == NULL && err[0] == '\0')
        return json_object_new_array(); /* "null" */
    if (j && !json_object_is_type(j, json_type_array)) {
        snprintf(err, errlen,
                 "json: cannot unmarshal %s into Go value of "
                 "type []*api.KVPair",
                 json_object_is_type(j, json_type_object) ? "object" : "value");
        json_object_put(j);
        return NULL;
    }
    return j;
}

static void cli_kv_print_value(const struct cli_kv_pair *p, bool base64)
{
    if (base64) {
        char *s = b64_encode(p->value, p->value_len);
        if (s)
            cli__info(s, strlen(s));
        free(s);
    } else {
        cli__info(p->value ? (const char *)p->value : "", p->value_len);
    }
}

static void cli_kv_print_detailed(const struct cli_kv_pair *p,
                                  bool base64,
                                  bool keys_only)
{
    char *s = cli__kv_detailed(p, base64, keys_only);
    if (s)
        cli__info(s, strlen(s));
    free(s);
}

/* -------------------------------------------------------------- get */

/* The single KEY argument of kv get/delete (leading '/' dropped, as
 * Consul's CLI does). Empty is allowed only when `allow_empty` (a prefix
 * operation). Returns 0, or 1 after printing Consul's error. */
static int key_arg(int argc, char **argv, int first, bool allow_empty,
                   const char **key)
{
    int nargs = argc - first;
    *key = nargs == 1 ? argv[first] : "";
    if (nargs > 1) {
        cli__errorf("Too many arguments (expected 1, got %d)", nargs);
        return 1;
    }
    if ((*key)[0] == '/')
        (*key)++;
    if ((*key)[0] == '\0' && !allow_empty) {
        cli__errorf("Error! Missing KEY argument");
        return 1;
    }
    return 0;
}

int cli__kv_get(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct cli_http http;
    bool base64 = false, detailed = false, keys = false, recurse = false;
    const char *separator = "/";
    const struct cli_flag flags[] = {
        {"base64", CLI_FLAG_BOOL, &base64, NULL,
         "Base64 encode the value. The default value is false."},
        {"detailed", CLI_FLAG_BOOL, &detailed, NULL,
         "Provide additional metadata about the key in addition to the "
         "value such as the ModifyIndex and any flags that may have been "
         "set on the key. The default value is false."},
        {"keys", CLI_FLAG_BOOL, &keys, NULL,
         "List keys which start with the given prefix, but not their "
         "values. This is especially useful if you only need the key names "
         "themselves. This option is commonly combined with the -separator "
         "option. The default value is false."},
        {"recurse", CLI_FLAG_BOOL, &recurse, NULL,
         "Recursively look at all keys prefixed with the given path. The "
         "default value is false."},
        {"separator", CLI_FLAG_STRING, &separator, NULL,
         "String to use as a separator between keys. The default value is "
         "\"/\", but this option is only taken into account when paired "
         "with the -keys flag."},
    };
    int first;
    int rc = cli__parse(cmd, flags, CLI_N(flags), &http, argc, argv, &first);
    if (rc != CLI_CONTINUE)
        return rc;

    const char *key;
    if (key_arg(argc, argv, first, (recurse || keys), &key) != 0)
        return 1;

    struct client *c = cli__client(&http);
    if (c == NULL)
        return 1;

    struct cli_kv_result res = {0};
    char query[512] = "";
    char err[1024] = "";
    if (keys && !recurse) {
        char *es = client_escape(separator, false);
        snprintf(query, sizeof(query), "?keys=%s%s",
                 separator[0] ? "&separator=" : "",
                 separator[0] && es ? es : "");
        free(es);
    } else if (recurse) {
        snprintf(query, sizeof(query), "?recurse=");
    }
    if (cli_kv_key_ok(key, res.err, sizeof(res.err)))
        cli_kv_request(c, "GET", key, query, NULL, 0, &res);
    else
        res.rc = -EINVAL;
    client_delete(c);
    if (res.rc) {
        cli__errorf("Error querying Consul agent: %s", res.err);
        return 1;
    }

    json_object *j = NULL;
    rc = 0;
    if (keys && !recurse) {
        if (res.resp.status == 200) {
            j = json_parse(res.resp.body, res.resp.len, err, sizeof(err));
            if (j == NULL && err[0]) {
                cli__errorf("Error querying Consul agent: %s", err);
                rc = 1;
            }
        }
        size_t n = json_object_is_type(j, json_type_array)
                       ? json_object_array_length(j)
                       : 0;
        for (size_t i = 0; i < n; i++) {
            json_object *k = json_object_array_get_idx(j, i);
            cli__info(json_object_get_string(k),
                      (size_t)json_object_get_string_len(k));
        }
        goto out;
    }

    j = cli_kv_parse(&res.resp, err, sizeof(err));
    if (j == NULL) {
        cli__errorf("Error querying Consul agent: %s", err);
        rc = 1;
        goto out;
    }
    size_t n = json_object_array_length(j);
    if (!recurse && n == 0) {
        cli__errorf("Error! No key exists at: %s", key);
        rc = 1;
        goto out;
    }
    for (size_t i = 0; i < (recurse ? n : 1); i++) {
        struct cli_kv_pair p;
        if (cli__kv_pair_decode(json_object_array_get_idx(j, i), &p, err,
                                sizeof(err)) != 0) {
            cli__errorf("Error querying Consul agent: %s", err);
            rc = 1;
            goto out;
        }
        if (detailed) {
            /* -keys -recurse -detailed: the block without Value. */
            cli_kv_print_detailed(&p, base64, keys);
            if (recurse && i + 1 < n)
                cli__info("", 0);
        } else if (keys) {
            cli__info(p.key, strlen(p.key)); /* -keys -recurse: all keys */
        } else if (recurse) {
            fprintf(cli__out ? cli__out : stdout, "%s:", p.key);
            cli_kv_print_value(&p, base64);
        } else {
            cli_kv_print_value(&p, base64);
        }
        free(p.value);
    }

out:
    json_object_put(j);
    client_resp_clear(&res.resp);
    return rc;
}

/* -------------------------------------------------------------- put */

int cli__kv_put(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct cli_http http;
    bool cas = false, base64 = false, acquire = false, release = false;
    uint64_t kvflags = 0, modify_index = 0;
    const char *session = "";
    const struct cli_flag flags[] = {
        {"cas", CLI_FLAG_BOOL, &cas, NULL,
         "Perform a Check-And-Set operation. Specifying this value also "
         "requires the -modify-index flag to be set. The default value is "
         "false."},
        {"flags", CLI_FLAG_U64, &kvflags, NULL,
         "Unsigned integer value to assign to this key-value pair. This "
         "value is not read by the agent, so clients can use this value "
         "however makes sense for their use case. The default value is 0 "
         "(no flags)."},
        {"base64", CLI_FLAG_BOOL, &base64, NULL,
         "Treat the data as base 64 encoded. The default value is false."},
        {"modify-index", CLI_FLAG_U64, &modify_index, NULL,
         "Unsigned integer representing the ModifyIndex of the key. This is "
         "used in combination with the -cas flag."},
        {"session", CLI_FLAG_STRING, &session, NULL,
         "User-defined identifer for this session as a string. This is "
         "commonly used with the -acquire and -release operations to build "
         "robust locking, but it can be set on any key. The default value "
         "is empty (no session)."},
        {"acquire", CLI_FLAG_BOOL, &acquire, NULL,
         "Obtain a lock on the key. If the key does not exist, this "
         "operation will create the key and obtain the lock. The session "
         "must already exist and be specified via the -session flag. The "
         "default value is false."},
        {"release", CLI_FLAG_BOOL, &release, NULL,
         "Forfeit the lock on the key at the given path. This requires the "
         "-session flag to be set. The key must be held by the session in "
         "order to be unlocked. The default value is false."},
    };
    int first;
    int rc = cli__parse(cmd, flags, CLI_N(flags), &http, argc, argv, &first);
    if (rc != CLI_CONTINUE)
        return rc;

    int nargs = argc - first;
    if (nargs == 0) {
        cli__errorf("Error! Missing KEY argument");
        return 1;
    }
    if (nargs > 2) {
        cli__errorf("Error! Too many arguments (expected 1 or 2, got %d)",
                    nargs);
        return 1;
    }
    const char *key = argv[first];
    char *data = NULL;
    size_t dlen = 0;
    char err[1024];
    if (nargs == 2 && argv[first + 1][0] != '\0') {
        const char *arg = argv[first + 1];
        /* "-x" (not just "-") is literal data, as in Consul. */
        rc = cli__read_data(arg, &data, &dlen, err, sizeof(err));
        if (rc) {
            cli__errorf("Error! %s", err);
            return 1;
        }
    }
    uint8_t *value = (uint8_t *)data;
    size_t vlen = dlen;
    uint8_t *decoded = NULL;
    if (base64) {
        if (b64_decode(data ? data : "", dlen, &decoded, &vlen) != 0) {
            cli__errorf(
                "Error! Cannot base 64 decode data: illegal base64 "
                "data");
            free(data);
            return 1;
        }
        value = decoded;
    }
    rc = 1;
    if ((release || acquire) && session[0] == '\0') {
        cli__errorf(
            "Error! Missing -session (required with -acquire and -release)");
        goto out;
    }
    struct client *c = cli__client(&http);
    if (c == NULL)
        goto out;

    /* Query as the Go client builds it for CAS / Acquire / Release / Put. */
    char query[1200] = "";
    size_t o = 0;
    char sep = '?';
    if (kvflags) {
        o += (size_t)snprintf(query + o, sizeof(query) - o, "%cflags=%" PRIu64,
                              sep, kvflags);
        sep = '&';
    }
    char *es = NULL;
    if (cas)
        snprintf(query + o, sizeof(query) - o, "%ccas=%" PRIu64, sep,
                 modify_index);
    else if ((acquire || release) && (es = client_escape(session, false)))
        snprintf(query + o, sizeof(query) - o, "%c%s=%s", sep,
                 acquire ? "acquire" : "release", es);
    free(es);

    struct cli_kv_result res = {0};
    if (cli_kv_key_ok(key, res.err, sizeof(res.err)))
        cli_kv_request(c, "PUT", key, query, value ? (void *)value : NULL, vlen,
                       &res);
    else
        res.rc = -EINVAL;
    client_delete(c);

    if (cas) {
        if (res.rc)
            cli__errorf("Error! Did not write to %s: %s", key, res.err);
        else if (!cli_kv_true(&res.resp) && modify_index == 0)
            cli__errorf(
                "Error! Did not write to %s: CAS performed with "
                "index=0 and key already exists.",
                key);
        else if (!cli_kv_true(&res.resp))
            cli__errorf("Error! Did not write to %s: CAS failed", key);
        else
            rc = 0;
    } else if (acquire || release) {
        if (res.rc)
            cli__errorf("Error! Failed writing data: %s", res.err);
        else if (!cli_kv_true(&res.resp))
            cli__errorf("Error! Did not %s lock",
                        acquire ? "acquire" : "release");
        else
            rc = 0;
        if (rc == 0)
            fprintf(cli__out ? cli__out : stdout, "Success! Lock %s on: %s\n",
                    acquire ? "acquired" : "released", key);
        goto out_resp;
    } else {
        if (res.rc)
            cli__errorf("Error! Failed writing data: %s", res.err);
        else
            rc = 0;
    }
    if (rc == 0)
        fprintf(cli__out ? cli__out : stdout, "Success! Data written to: %s\n",
                key);
out_resp:
    client_resp_clear(&res.resp);
out:
    free(decoded);
    free(data);
    return rc;
}

/* ----------------------------------------------------------- delete */

int cli__kv_delete(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct cli_http http;
    bool cas = false, recurse = false;
    uint64_t modify_index = 0;
    const struct cli_flag flags[] = {
        {"cas", CLI_FLAG_BOOL, &cas, NULL,
         "Perform a Check-And-Set operation. Specifying this value also "
         "requires the -modify-index flag to be set. The default value is "
         "false."},
        {"modify-index", CLI_FLAG_U64, &modify_index, NULL,
         "Unsigned integer representing the ModifyIndex of the key. This is "
         "used in combination with the -cas flag."},
        {"recurse", CLI_FLAG_BOOL, &recurse, NULL,
         "Recursively delete all keys with the path. The default value is "
         "false."},
    };
    int first;
    int rc = cli__parse(cmd, flags, CLI_N(flags), &http, argc, argv, &first);
    if (rc != CLI_CONTINUE)
        return rc;

    const char *key;
    if (key_arg(argc, argv, first, recurse, &key) != 0)
        return 1;
    if (cas && modify_index == 0) {
        cli__errorf(
            "Cannot delete a key that does not exist. Provide a "
            "-modify-index greater than than 0.");
        return 1;
    }
    if (modify_index != 0 && !cas) {
        cli__errorf("Cannot specify -modify-index without -cas!");
        return 1;
    }
    if (recurse && cas) {
        cli__errorf("Cannot specify both -cas and -recurse!");
        return 1;
    }

    struct client *c = cli__client(&http);
    if (c == NULL)
        return 1;
    char query[64] = "";
    if (recurse)
        snprintf(query, sizeof(query), "?recurse=");
    else if (cas)
        snprintf(query, sizeof(query), "?cas=%" PRIu64, modify_index);
    struct cli_kv_result res = {0};
    cli_kv_request(c, "DELETE", key, query, NULL, 0, &res);
    client_delete(c);

    rc = 1;
    if (recurse) {
        if (res.rc)
            cli__errorf("Error! Did not delete prefix %s: %s", key, res.err);
        else
            rc = 0;
        if (rc == 0)
            fprintf(cli__out ? cli__out : stdout,
                    "Success! Deleted keys with prefix: %s\n", key);
    } else {
        if (res.rc && cas)
            cli__errorf("Error! Did not delete key %s: %s", key, res.err);
        else if (res.rc)
            cli__errorf("Error deleting key %s: %s", key, res.err);
        else if (cas && !cli_kv_true(&res.resp))
            cli__errorf("Error! Did not delete key %s: CAS failed", key);
        else
            rc = 0;
        if (rc == 0)
            fprintf(cli__out ? cli__out : stdout, "Success! Deleted key: %s\n",
                    key);
    }
    client_resp_clear(&res.resp);
    return rc;
}

/* ----------------------------------------------------------- export */

int cli__kv_export(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct cli_http http;
    int first;
    int rc = cli__parse(cmd, NULL, 0, &http, argc, argv, &first);
    if (rc != CLI_CONTINUE)
        return rc;

    const char *key = "";
    int nargs = argc - first;
    if (nargs == 1)
        key = argv[first];
    else if (nargs > 1) {
        cli__errorf("Too many arguments (expected 1, got %d)", nargs);
        return 1;
    }
    if (key[0] == '/')
        key++;

    struct client *c = cli__client(&http);
    if (c == NULL)
        return 1;
    struct cli_kv_result res = {0};
    if (cli_kv_key_ok(key, res.err, sizeof(res.err)))
        cli_kv_request(c, "GET", key, "?recurse=", NULL, 0, &res);
    else
        res.rc = -EINVAL;
    client_delete(c);
    if (res.rc) {
        cli__errorf("Error querying Consul agent: %s", res.err);
        return 1;
    }
    char err[1024] = "";
    json_object *j = cli_kv_parse(&res.resp, err, sizeof(err));
    client_resp_clear(&res.resp);
    if (j == NULL) {
        cli__errorf("Error querying Consul agent: %s", err);
        return 1;
    }
    char *out = cli__kv_export_json(j, err, sizeof(err));
    json_object_put(j);
    if (out == NULL) {
        cli__errorf("Error exporting KV data: %s", err);
        return 1;
    }
    cli__info(out, strlen(out));
    free(out);
    return 0;
}

/* ----------------------------------------------------------- import */

/* Go's error for a field of the wrong type in impexp.Entry. */
static bool cli_import_field(json_object *e,
                             const char *name,
                             enum json_type want,
                             json_object **out,
                             char *err,
                             size_t errlen)
{
    json_object *v = json_get_ci(e, name);

    *out = v;
    if (v == NULL || json_object_is_type(v, want))
        return true;
    snprintf(err, errlen,
             "json: cannot unmarshal %s into Go struct field Entry.%s of "
             "type %s",
             json_object_is_type(v, json_type_string)    ? "string"
             : json_object_is_type(v, json_type_object)  ? "object"
             : json_object_is_type(v, json_type_array)   ? "array"
             : json_object_is_type(v, json_type_boolean) ? "bool"
                                                         : "number",
             name, want == json_type_string ? "string" : "uint64");
    return false;
}

int cli__kv_import(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct cli_http http;
    int first;
    int rc = cli__parse(cmd, NULL, 0, &http, argc, argv, &first);
    if (rc != CLI_CONTINUE)
        return rc;

    int nargs = argc - first;
    if (nargs == 0) {
        cli__errorf("Error! Missing DATA argument");
        return 1;
    }
    if (nargs > 1) {
        cli__errorf("Error! Too many arguments (expected 1, got %d)", nargs);
        return 1;
    }
    const char *arg = argv[first];
    if (arg[0] == '\0') {
        cli__errorf("Error! Empty DATA argument");
        return 1;
    }
    char *data;
    size_t dlen;
    char err[1024] = "";
    if (cli__read_data(arg, &data, &dlen, err, sizeof(err)) != 0) {
        cli__errorf("Error! %s", err);
        return 1;
    }

    struct client *c = cli__client(&http);
    if (c == NULL) {
        free(data);
        return 1;
    }

    json_object *j = json_parse(data, dlen, err, sizeof(err));
    free(data);
    rc = 1;
    if (j == NULL && err[0]) {
        cli__errorf("Cannot unmarshal data: %s", err);
        goto out;
    }
    if (j && !json_object_is_type(j, json_type_array)) {
        cli__errorf(
            "Cannot unmarshal data: json: cannot unmarshal %s into "
            "Go value of type []*impexp.Entry",
            json_object_is_type(j, json_type_object)   ? "object"
            : json_object_is_type(j, json_type_string) ? "string"
                                                       : "value");
        goto out;
    }

    /* Validate every entry first, as json.Unmarshal does before the loop. */
    size_t n = j ? json_object_array_length(j) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(j, i), *v;
        uint64_t fl;
        if (e != NULL && !json_object_is_type(e, json_type_object)) {
            cli__errorf(
                "Cannot unmarshal data: json: cannot unmarshal "
                "value into Go value of type impexp.Entry");
            goto out;
        }
        if (!cli_import_field(e, "key", json_type_string, &v, err,
                              sizeof(err)) ||
            !cli_import_field(e, "value", json_type_string, &v, err,
                              sizeof(err)) ||
            !cli_import_field(e, "flags", json_type_int, &v, err,
                              sizeof(err))) {
            cli__errorf("Cannot unmarshal data: %s", err);
            goto out;
        }
        if (v && json_get_u64(v, &fl) != 0) {
            cli__errorf(
                "Cannot unmarshal data: json: cannot unmarshal "
                "number into Go struct field Entry.flags of type "
                "uint64");
            goto out;
        }
    }

    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(j, i);
        json_object *kv = json_get_ci(e, "key");
        json_object *vv = json_get_ci(e, "value");
        const char *key = kv ? json_object_get_string(kv) : "";
        uint64_t fl = 0;
        json_get_u64(json_get_ci(e, "flags"), &fl);
        uint8_t *value = NULL;
        size_t vlen = 0;
        if (vv && b64_decode(json_object_get_string(vv),
                             (size_t)json_object_get_string_len(vv), &value,
                             &vlen) != 0) {
            cli__errorf(
                "Error base 64 decoding value for key %s: illegal "
                "base64 data",
                key);
            goto out;
        }
        char query[64] = "";
        if (fl)
            snprintf(query, sizeof(query), "?flags=%" PRIu64, fl);
        struct cli_kv_result res = {0};
        if (cli_kv_key_ok(key, res.err, sizeof(res.err)))
            cli_kv_request(c, "PUT", key, query, value, vlen, &res);
        else
            res.rc = -EINVAL;
        free(value);
        client_resp_clear(&res.resp);
        if (res.rc) {
            cli__errorf("Error! Failed writing data for key %s: %s", key,
                        res.err);
            goto out;
        }
        fprintf(cli__out ? cli__out : stdout, "Imported: %s\n", key);
    }
    rc = 0;
out:
    json_object_put(j);
    client_delete(c);
    return rc;
}
