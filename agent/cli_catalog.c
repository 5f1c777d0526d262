/*
 * cli_catalog — the service-discovery commands, after Consul's
 * command/services/{register,deregister}, command/catalog/list/{dc,nodes,
 * services} and command/maint: same flags, requests (as the Go api client
 * makes them), messages and exit codes.
 *
 *   cairn services register [options] [FILE...]
 *   cairn services deregister [options] [ID|FILE...]
 *   cairn catalog datacenters|nodes|services [options]
 *   cairn maint [-enable|-disable] [-service=ID] [-reason=TEXT]
 *
 * Service definition files are Consul config files reduced to what the
 * command needs: a JSON or YAML document whose "service" (one object)
 * and/or "services" (a list) hold service definitions with Consul's field
 * names (PascalCase, lower case or snake_case: they are forwarded to the
 * agent, which accepts all three).
 *
 * Differences from Consul, on purpose: `catalog datacenters` exits 1 when
 * the request fails (Consul prints the error and exits 0); a failed
 * deregistration says "Error deregistering service" (Consul says
 * "registering"); `services deregister` also takes plain service IDs as
 * arguments (an argument that names an existing file, contains a '/' or
 * ends in .json/.yaml/.yml/.hcl is a file); `maint` lists node maintenance
 * first, then services by ID (Consul's order is a Go map's).
 */
#include "cli_internal.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include "json.h"

#define CLI_N(a) (sizeof(a) / sizeof((a)[0]))
#define CLI_OUT (cli__out ? cli__out : stdout)
#define CLI_ERR (cli__err ? cli__err : stderr)

/* ------------------------------------------------------ repeated flags */

/* Names and kinds of the HTTP flags cli__parse adds, so the pre-pass
 * below knows which of them take a value. */
static const struct
{
    const char *name;
    bool is_bool;
} cli_http_flag_names[] = {
    {"datacenter", false}, {"http-addr", false},  {"stale", true},
    {"token", false},      {"token-file", false},
};

int cli__multi_take(const struct cli_flag *flags,
                    size_t n,
                    struct cli_multi *multi,
                    size_t nm,
                    int *argc,
                    char **argv,
                    char *err,
                    size_t errlen)
{
    int i = 0, out = 0;

    for (size_t k = 0; k < nm; k++)
        multi[k].n = 0;
    while (i < *argc) {
        const char *s = argv[i];
        size_t len = strlen(s);
        if (len < 2 || s[0] != '-' || strcmp(s, "--") == 0)
            break;
        const char *name = s[1] == '-' ? s + 2 : s + 1;
        if (name[0] == '\0' || name[0] == '-' || name[0] == '=')
            break; /* cli__parse reports the bad syntax */
        const char *eq = strchr(name + 1, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);

        struct cli_multi *m = NULL;
        for (size_t k = 0; k < nm; k++)
            if (strlen(multi[k].name) == nlen &&
                strncmp(multi[k].name, name, nlen) == 0)
                m = &multi[k];
        if (m) {
            const char *value = eq ? eq + 1 : NULL;
            if (value == NULL) {
                if (i + 1 >= *argc) {
                    snprintf(err, errlen, "flag needs an argument: -%s",
                             m->name);
                    return -1;
                }
                value = argv[i + 1];
                i++;
            }
            i++;
            if (m->is_map && strchr(value, '=') == NULL) {
                snprintf(err, errlen,
                         "invalid value \"%s\" for flag -%s: Missing \"=\" "
                         "value in argument: %s",
                         value, m->name, value);
                return -1;
            }
            if (m->n >= CLI_MULTI_MAX) {
                snprintf(err, errlen,
                         "invalid value \"%s\" for flag -%s: more than %d "
                         "values",
                         value, m->name, CLI_MULTI_MAX);
                return -1;
            }
            m->vals[m->n++] = value;
            continue;
        }

        int kind = -1; /* 0 bool, 1 takes a value */
        for (size_t k = 0; k < n && kind < 0; k++)
            if (strlen(flags[k].name) == nlen &&
                strncmp(flags[k].name, name, nlen) == 0)
                kind = flags[k].kind != CLI_FLAG_BOOL;
        for (size_t k = 0; k < CLI_N(cli_http_flag_names) && kind < 0; k++)
            if (strlen(cli_http_flag_names[k].name) == nlen &&
                strncmp(cli_http_flag_names[k].name, name, nlen) == 0)
                kind = !cli_http_flag_names[k].is_bool;
        if (kind < 0)
            break; /* unknown: cli__parse reports it */
        argv[out++] = argv[i++];
        if (kind == 1 && eq == NULL && i < *argc)
            argv[out++] = argv[i++];
    }
    while (i < *argc)
        argv[out++] = argv[i++];
    *argc = out;
    return 0;
}

/* cli__parse after taking the repeated flags out of argv. */
static int cli_parse_multi(const struct cli_cmd *cmd,
                           const struct cli_flag *flags,
                           size_t n,
                           struct cli_multi *multi,
                           size_t nm,
                           struct cli_http *http,
                           int *argc,
                           char **argv,
                           int *first)
{
    char err[1024];

    if (!cli__wants_help(*argc, argv) &&
        cli__multi_take(flags, n, multi, nm, argc, argv, err, sizeof(err))) {
        cli__errorf("%s", err);
        cli__print_help(CLI_ERR, cmd, flags, n, http != NULL);
        return 1;
    }
    return cli__parse(cmd, flags, n, http, *argc, argv, first);
}

/* ------------------------------------------------------------ helpers */

/* Compare two field names as the agent does: case-insensitive, with
 * underscores ignored ("socket_path" == "SocketPath"). */
static bool cli_key_eq(const char *a, const char *b)
{
    for (;;) {
        while (*a == '_')
            a++;
        while (*b == '_')
            b++;
        if (*a == '\0' || *b == '\0')
            return *a == *b;
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return false;
        a++;
        b++;
    }
}

/* The key of `o` matching `name` (cli_key_eq), exact match preferred;
 * NULL when absent. */
static const char *cli_key_find(json_object *o, const char *name)
{
    const char *found = NULL;

    if (!json_object_is_type(o, json_type_object))
        return NULL;
    json_object_object_foreach(o, k, v)
    {
        (void)v;
        if (strcmp(k, name) == 0)
            return k;
        if (found == NULL && cli_key_eq(k, name))
            found = k;
    }
    return found;
}

static json_object *cli_field(json_object *o, const char *name)
{
    const char *k = cli_key_find(o, name);
    return k ? json_object_object_get(o, k) : NULL;
}

static const char *cli_str(json_object *o, const char *name)
{
    json_object *v = cli_field(o, name);
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                    : "";
}

/* Set field `name` of `o` (replacing a matching key, keeping its
 * spelling). Takes the reference to v. */
static void cli_field_set(json_object *o, const char *name, json_object *v)
{
    const char *k = cli_key_find(o, name);
    char *key = strdup(k ? k : name);

    if (key == NULL) {
        json_object_put(v);
        return;
    }
    json_object_object_add(o, key, v);
    free(key);
}

/* Go's %q for the ASCII-and-UTF-8 strings we print. */
static void cli_quote(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* Append "?k=v" or "&k=v" (v escaped) to a path being built. */
static void cli_q(FILE *f, char *sep, const char *k, const char *v)
{
    char *e = client_escape(v, false);

    fprintf(f, "%c%s=%s", *sep, k, e ? e : "");
    *sep = '&';
    free(e);
}

static int cli_str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The "k=v" flag values of m, one per key (a later value replaces an
 * earlier one, as a Go map), sorted, into v; returns how many. */
static size_t cli_kv_unique(const struct cli_multi *m,
                            const char *v[CLI_MULTI_MAX])
{
    size_t n = 0;

    for (size_t i = 0; i < m->n; i++) {
        size_t kl = strcspn(m->vals[i], "=");
        size_t j;
        for (j = 0; j < n; j++)
            if (strncmp(v[j], m->vals[i], kl) == 0 && v[j][kl] == '=')
                break;
        v[j] = m->vals[i];
        if (j == n)
            n++;
    }
    qsort(v, n, sizeof(v[0]), cli_str_cmp);
    return n;
}

/* node-meta=k:v for each -node-meta=k=v, sorted by key, later values of a
 * key replacing earlier ones (Go map semantics). */
static void cli_q_node_meta(FILE *f, char *sep, const struct cli_multi *m)
{
    const char *v[CLI_MULTI_MAX];
    size_t n = cli_kv_unique(m, v);

    for (size_t i = 0; i < n; i++) {
        char *kv = strdup(v[i]);
        if (kv == NULL)
            continue;
        kv[strcspn(kv, "=")] = ':';
        cli_q(f, sep, "node-meta", kv);
        free(kv);
    }
}

/* One request; non-200 becomes the Go client's error. Returns 0 with the
 * response in *r (client_resp_clear), or -1 with err set. */
static int cli_request(struct client *c,
                       const char *method,
                       const char *path,
                       const char *body,
                       struct client_resp *r,
                       char *err,
                       size_t errlen)
{
    memset(r, 0, sizeof(*r));
    if (path == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (client_do(c, method, path, body, body ? strlen(body) : 0, r, err,
                  errlen) != 0)
        return -1;
    if (r->status != 200) {
        client_status_error(r, err, errlen);
        client_resp_clear(r);
        return -1;
    }
    return 0;
}

/* GET `path` and decode the JSON body (*out NULL for `null`). */
static int cli_get_json(struct client *c,
                        const char *path,
                        json_object **out,
                        char *err,
                        size_t errlen)
{
    struct client_resp r;

    *out = NULL;
    if (cli_request(c, "GET", path, NULL, &r, err, errlen) != 0)
        return -1;
    err[0] = '\0';
    *out = json_parse(r.body, r.len, err, errlen);
    client_resp_clear(&r);
    return *out == NULL && err[0] ? -1 : 0;
}

/* Finish a FILE *memstream into a string (NULL on failure). */
static char *cli_mem_done(FILE *f, char **buf)
{
    if (fclose(f) != 0) {
        free(*buf);
        *buf = NULL;
    }
    return *buf;
}

/* --------------------------------------------------------- YAML / JSON */

static const char *const cli_string_lists[] = {
    "tags", "meta", "args", "script_args", "header", "node_meta",
};

static bool cli_is_string_list(const char *key)
{
    for (size_t i = 0; i < CLI_N(cli_string_lists); i++)
        if (cli_key_eq(key, cli_string_lists[i]))
            return true;
    return false;
}

/* The JSON value of a plain YAML scalar (YAML 1.2 core schema). */
static json_object *cli_yaml_plain(const char *s, size_t n)
{
    static const char *const t[] = {"true", "True", "TRUE"};
    static const char *const f[] = {"false", "False", "FALSE"};
    static const char *const nul[] = {"null", "Null", "NULL", "~"};

    if (n == 0)
        return NULL;
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(s, t[i]) == 0)
            return json_object_new_boolean(1);
        if (strcmp(s, f[i]) == 0)
            return json_object_new_boolean(0);
    }
    for (size_t i = 0; i < 4; i++)
        if (strcmp(s, nul[i]) == 0)
            return NULL;
    const char *p = s + (s[0] == '-' || s[0] == '+');
    if (*p >= '0' && *p <= '9' && strspn(p, "0123456789") == strlen(p)) {
        errno = 0;
        if (s[0] == '-') {
            long long v = strtoll(s, NULL, 10);
            if (errno == 0)
                return json_object_new_int64(v);
        } else {
            unsigned long long v = strtoull(p, NULL, 10);
            if (errno == 0)
                return v <= INT64_MAX ? json_object_new_int64((int64_t)v)
                                      : json_object_new_uint64(v);
        }
    }
    if ((*p >= '0' && *p <= '9') || (*p == '.' && p[1] >= '0' && p[1] <= '9')) {
        char *end;
        double d = strtod(s, &end);
        if (*end == '\0' && strspn(p, "0123456789.eE+-") == strlen(p))
            return json_object_new_double(d);
    }
    return json_object_new_string_len(s, (int)n);
}

static int cli_yaml_node(yaml_document_t *doc,
                         yaml_node_t *node,
                         int depth,
                         bool strings,
                         json_object **out,
                         char *err,
                         size_t errlen)
{
    *out = NULL;
    if (depth > JSON_MAX_DEPTH) {
        snprintf(err, errlen, "nesting too deep at line %zu",
                 node->start_mark.line + 1);
        return -1;
    }
    switch (node->type) {
    case YAML_SCALAR_NODE: {
        const char *s = (const char *)node->data.scalar.value;
        size_t n = node->data.scalar.length;
        if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !strings)
            *out = cli_yaml_plain(s, n);
        else if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                 (n == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0))
            *out = NULL;
        else
            *out = json_object_new_string_len(s, (int)n);
        return 0;
    }
    case YAML_SEQUENCE_NODE: {
        json_object *a = json_object_new_array();
        for (yaml_node_item_t *it = node->data.sequence.items.start;
             it < node->data.sequence.items.top; it++) {
            json_object *v;
            if (cli_yaml_node(doc, yaml_document_get_node(doc, *it), depth + 1,
                              strings, &v, err, errlen) != 0) {
                json_object_put(a);
                return -1;
            }
            json_object_array_add(a, v);
        }
        *out = a;
        return 0;
    }
    case YAML_MAPPING_NODE: {
        json_object *o = json_object_new_object();
        for (yaml_node_pair_t *pr = node->data.mapping.pairs.start;
             pr < node->data.mapping.pairs.top; pr++) {
            yaml_node_t *k = yaml_document_get_node(doc, pr->key);
            if (k == NULL || k->type != YAML_SCALAR_NODE) {
                snprintf(err, errlen,
                         "line %zu, column %zu: mapping keys must be "
                         "strings",
                         (k ? k->start_mark.line : 0) + 1,
                         (k ? k->start_mark.column : 0) + 1);
                json_object_put(o);
                return -1;
            }
            const char *key = (const char *)k->data.scalar.value;
            json_object *v;
            if (cli_yaml_node(doc, yaml_document_get_node(doc, pr->value),
                              depth + 1, strings || cli_is_string_list(key), &v,
                              err, errlen) != 0) {
                json_object_put(o);
                return -1;
            }
            json_object_object_add(o, key, v);
        }
        *out = o;
        return 0;
    }
    default:
        break;
    }
    return 0;
}

/* Parse a YAML document into JSON (NULL for an empty document). */
static int cli_yaml_parse(const char *data,
                          size_t len,
                          json_object **out,
                          char *err,
                          size_t errlen)
{
    yaml_parser_t p;
    yaml_document_t doc;
    int rc = 0;

    *out = NULL;
    if (!yaml_parser_initialize(&p)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
    if (!yaml_parser_load(&p, &doc)) {
        snprintf(err, errlen, "%s at line %zu, column %zu",
                 p.problem ? p.problem : "malformed YAML",
                 p.problem_mark.line + 1, p.problem_mark.column + 1);
        yaml_parser_delete(&p);
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root)
        rc = cli_yaml_node(&doc, root, 0, false, out, err, errlen);
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return rc;
}

int cli__services_parse(const char *data,
                        size_t len,
                        const char *name,
                        json_object **out,
                        char *err,
                        size_t errlen)
{
    json_object *doc = NULL;
    char why[512] = "";
    size_t i = 0;

    *out = NULL;
    while (i < len && isspace((unsigned char)data[i]))
        i++;
    if (i < len && (data[i] == '{' || data[i] == '[')) {
        doc = json_parse(data, len, why, sizeof(why));
        if (doc == NULL && why[0] == '\0')
            snprintf(why, sizeof(why), "the document is null");
    } else if (cli_yaml_parse(data, len, &doc, why, sizeof(why)) == 0 &&
               doc == NULL) {
        snprintf(why, sizeof(why), "the document is empty");
    }
    if (doc == NULL) {
        snprintf(err, errlen, "failed to parse %s: %s", name, why);
        return -EINVAL;
    }
    if (!json_object_is_type(doc, json_type_object)) {
        snprintf(err, errlen,
                 "failed to parse %s: the top level must be an object", name);
        json_object_put(doc);
        return -EINVAL;
    }

    json_object *arr = json_object_new_array();
    json_object_object_foreach(doc, k, v)
    {
        bool one = cli_key_eq(k, "service");
        if (!one && !cli_key_eq(k, "services"))
            continue;
        if (v == NULL)
            continue;
        /* "service" may hold one object (or a list, as HCL blocks
         * decode); "services" a list (or one object). */
        size_t n = json_object_is_type(v, json_type_array)
                       ? json_object_array_length(v)
                       : 1;
        for (size_t j = 0; j < n; j++) {
            json_object *s = json_object_is_type(v, json_type_array)
                                 ? json_object_array_get_idx(v, j)
                                 : v;
            if (!json_object_is_type(s, json_type_object)) {
                snprintf(err, errlen,
                         "%s: %s: expected a service definition (an "
                         "object)%s",
                         name, k, one ? "" : " in the list");
                json_object_put(arr);
                json_object_put(doc);
                return -EINVAL;
            }
            json_object_array_add(arr, json_object_get(s));
        }
    }
    json_object_put(doc);
    if (json_object_array_length(arr) == 0) {
        snprintf(err, errlen,
                 "%s: no service definition (expected a \"service\" or "
                 "\"services\" key)",
                 name);
        json_object_put(arr);
        return -EINVAL;
    }
    *out = arr;
    return 0;
}

/* Read FILE and append its service definitions to `all`. */
static int cli_services_from_file(const char *path,
                                  json_object *all,
                                  char *err,
                                  size_t errlen)
{
    char arg[4096 + 2];
    char *data;
    size_t len;
    char why[1024];

    snprintf(arg, sizeof(arg), "@%s", path);
    if (cli__read_data(arg, &data, &len, why, sizeof(why)) != 0) {
        /* "Failed to read file: open x: ..." -> "open x: ..." */
        const char *p = strstr(why, ": ");
        snprintf(err, errlen, "%s", p ? p + 2 : why);
        return -1;
    }
    json_object *svcs;
    int rc = cli__services_parse(data, len, path, &svcs, err, errlen);
    free(data);
    if (rc)
        return -1;
    for (size_t i = 0; i < json_object_array_length(svcs); i++)
        json_object_array_add(
            all, json_object_get(json_object_array_get_idx(svcs, i)));
    json_object_put(svcs);
    return 0;
}

/* ---------------------------------------------------- services register */

/* Go's net.SplitHostPort + strconv.Atoi, as api.ParseServiceAddr. */
static int cli_service_addr(const char *s,
                            char *host,
                            size_t hlen,
                            int64_t *port,
                            char *err,
                            size_t errlen)
{
    const char *colon;

    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL) {
            snprintf(err, errlen, "address %s: missing ']' in address", s);
            return -1;
        }
        if (end[1] != ':') {
            snprintf(err, errlen, "address %s: missing port in address", s);
            return -1;
        }
        snprintf(host, hlen, "%.*s", (int)(end - s - 1), s + 1);
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL) {
            snprintf(err, errlen, "address %s: missing port in address", s);
            return -1;
        }
        if (strchr(s, ':') != colon) {
            snprintf(err, errlen, "address %s: too many colons in address", s);
            return -1;
        }
        snprintf(host, hlen, "%.*s", (int)(colon - s), s);
    }
    const char *p = colon + 1;
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (*p == '\0' || *end != '\0' || errno) {
        snprintf(err, errlen, "strconv.Atoi: parsing \"%s\": invalid syntax",
                 p);
        return -1;
    }
    *port = v;
    return 0;
}

/* Map flag values "k=v" into an object, keys sorted (later wins). */
static json_object *cli_kv_object(const struct cli_multi *m)
{
    const char *v[CLI_MULTI_MAX];
    size_t n = cli_kv_unique(m, v);

    json_object *o = json_object_new_object();
    for (size_t i = 0; i < n; i++) {
        size_t kl = strcspn(v[i], "=");
        char *k = strndup(v[i], kl);
        if (k == NULL)
            continue;
        json_object_object_add(o, k, json_object_new_string(v[i] + kl + 1));
        free(k);
    }
    return o;
}

struct cli_svc_flags
{
    const char *kind, *id, *name, *address, *socket;
    uint64_t port;
    struct cli_multi *tags, *meta, *tagged;
    json_object *tagged_obj; /* parsed -tagged-address, or NULL */
};

/* The registration body for flags only: AgentServiceRegistration with Go's
 * field order and omitempty. */
static json_object *cli_svc_from_flags(const struct cli_svc_flags *f)
{
    json_object *o = json_object_new_object();

    if (f->kind[0])
        json_object_object_add(o, "Kind", json_object_new_string(f->kind));
    if (f->id[0])
        json_object_object_add(o, "ID", json_object_new_string(f->id));
    if (f->name[0])
        json_object_object_add(o, "Name", json_object_new_string(f->name));
    if (f->tags->n) {
        json_object *t = json_object_new_array();
        for (size_t i = 0; i < f->tags->n; i++)
            json_object_array_add(t, json_object_new_string(f->tags->vals[i]));
        json_object_object_add(o, "Tags", t);
    }
    if (f->port)
        json_object_object_add(o, "Port", json_object_new_uint64(f->port));
    if (f->address[0])
        json_object_object_add(o, "Address",
                               json_object_new_string(f->address));
    if (f->socket[0])
        json_object_object_add(o, "SocketPath",
                               json_object_new_string(f->socket));
    if (f->tagged_obj)
        json_object_object_add(o, "TaggedAddresses",
                               json_object_get(f->tagged_obj));
    if (f->meta->n)
        json_object_object_add(o, "Meta", cli_kv_object(f->meta));
    return o;
}

/* Consul's CombineArgs: a flag fills what the file left out; meta and
 * tagged addresses merge (flags win), tags append. */
static void cli_svc_combine(json_object *svc, const struct cli_svc_flags *f)
{
    static const struct
    {
        const char *field;
        size_t off;
    } strs[] = {
        {"ID", offsetof(struct cli_svc_flags, id)},
        {"Address", offsetof(struct cli_svc_flags, address)},
        {"Kind", offsetof(struct cli_svc_flags, kind)},
        {"SocketPath", offsetof(struct cli_svc_flags, socket)},
    };
    for (size_t i = 0; i < CLI_N(strs); i++) {
        const char *v = *(const char *const *)((const char *)f + strs[i].off);
        if (v[0] && cli_str(svc, strs[i].field)[0] == '\0')
            cli_field_set(svc, strs[i].field, json_object_new_string(v));
    }
    json_object *p = cli_field(svc, "Port");
    if (f->port && (p == NULL || (json_object_is_type(p, json_type_int) &&
                                  json_object_get_int64(p) == 0)))
        cli_field_set(svc, "Port", json_object_new_uint64(f->port));

    if (f->meta->n) {
        json_object *m = cli_field(svc, "Meta");
        if (!json_object_is_type(m, json_type_object)) {
            m = json_object_new_object();
            cli_field_set(svc, "Meta", m);
        }
        json_object *add = cli_kv_object(f->meta);
        json_object_object_foreach(add, k, v)
        {
            json_object_object_add(m, k, json_object_get(v));
        }
        json_object_put(add);
    }
    if (f->tagged_obj) {
        json_object *m = cli_field(svc, "TaggedAddresses");
        if (!json_object_is_type(m, json_type_object)) {
            m = json_object_new_object();
            cli_field_set(svc, "TaggedAddresses", m);
        }
        json_object_object_foreach(f->tagged_obj, k, v)
        {
            json_object_object_add(m, k, json_object_get(v));
        }
    }
    if (f->tags->n) {
        json_object *t = cli_field(svc, "Tags");
        if (!json_object_is_type(t, json_type_array)) {
            t = json_object_new_array();
            cli_field_set(svc, "Tags", t);
        }
        for (size_t i = 0; i < f->tags->n; i++)
            json_object_array_add(t, json_object_new_string(f->tags->vals[i]));
    }
}

static int cli_services_register(const struct cli_cmd *cmd,
                                 int argc,
                                 char **argv)
{
    struct cli_http http;
    struct cli_svc_flags f = {"", "", "", "", "", 0, NULL, NULL, NULL, NULL};
    const char *dummy = NULL;
    struct cli_multi multi[] = {
        {.name = "tag"},
        {.name = "meta", .is_map = true},
        {.name = "tagged-address", .is_map = true},
    };
    const struct cli_flag flags[] = {
        {"address", CLI_FLAG_STRING, &f.address, NULL,
         "Address of the service to register for arg-based registration."},
        {"id", CLI_FLAG_STRING, &f.id, NULL,
         "ID of the service to register for arg-based registration. If "
         "this isn't set, it will default to the -name value."},
        {"kind", CLI_FLAG_STRING, &f.kind, NULL, "The services 'kind'"},
        {"meta", CLI_FLAG_STRING, &dummy, "key=value",
         "Metadata to set on the service, formatted as key=value. This flag "
         "may be specified multiple times to set multiple meta fields."},
        {"name", CLI_FLAG_STRING, &f.name, NULL,
         "Name of the service to register for arg-based registration."},
        {"port", CLI_FLAG_U64, &f.port, NULL,
         "Port of the service to register for arg-based registration."},
        {"socket", CLI_FLAG_STRING, &f.socket, NULL,
         "Path to the Unix domain socket to register for arg-based "
         "registration (conflicts with address and port)."},
        {"tag", CLI_FLAG_STRING, &dummy, NULL,
         "Tag to add to the service. This flag can be specified multiple "
         "times to set multiple tags."},
        {"tagged-address", CLI_FLAG_STRING, &dummy, "key=value",
         "Tagged address to set on the service, formatted as key=value. "
         "This flag may be specified multiple times to set multiple "
         "addresses."},
    };
    int first;
    int rc = cli_parse_multi(cmd, flags, CLI_N(flags), multi, CLI_N(multi),
                             &http, &argc, argv, &first);
    if (rc != CLI_CONTINUE)
        return rc;
    f.tags = &multi[0];
    f.meta = &multi[1];
    f.tagged = &multi[2];

    char err[2048];
    if (f.tagged->n) {
        json_object *all = cli_kv_object(f.tagged);
        f.tagged_obj = json_object_new_object();
        json_object_object_foreach(all, k, v)
        {
            char host[1024];
            int64_t port;
            if (cli_service_addr(json_object_get_string(v), host, sizeof(host),
                                 &port, err, sizeof(err)) != 0) {
                cli__errorf("Invalid Tagged Address: %s", err);
                json_object_put(all);
                json_object_put(f.tagged_obj);
                return 1;
            }
            json_object *a = json_object_new_object();
            json_object_object_add(a, "Address", json_object_new_string(host));
            json_object_object_add(a, "Port", json_object_new_int64(port));
            json_object_object_add(f.tagged_obj, k, a);
        }
        json_object_put(all);
    }

    int nargs = argc - first;
    rc = 1;
    json_object *svcs = json_object_new_array();
    if (nargs == 0 && f.name[0] == '\0') {
        cli__errorf(
            "Service registration requires at least one argument or "
            "flags.");
        goto out;
    } else if (nargs > 0 && f.name[0] != '\0') {
        cli__errorf(
            "Service registration requires arguments or -id, not "
            "both.");
        goto out;
    }
    for (int i = first; i < argc; i++) {
        if (cli_services_from_file(argv[i], svcs, err, sizeof(err)) != 0) {
            cli__errorf("Error: %s", err);
            goto out;
        }
    }
    if (nargs == 0)
        json_object_array_add(svcs, cli_svc_from_flags(&f));
    else
        for (size_t i = 0; i < json_object_array_length(svcs); i++)
            cli_svc_combine(json_object_array_get_idx(svcs, i), &f);

    struct client *c = cli__client(&http);
    if (c == NULL)
        goto out;
    for (size_t i = 0; i < json_object_array_length(svcs); i++) {
        json_object *s = json_object_array_get_idx(svcs, i);
        char *body = json_dump_indent(s, NULL, NULL);
        struct client_resp r;
        int e = cli_request(c, "PUT", "/v1/agent/service/register",
                            body ? body : "", &r, err, sizeof(err));
        free(body);
        if (e) {
            fprintf(CLI_ERR, "Error registering service ");
            cli_quote(CLI_ERR, cli_str(s, "Name"));
            fprintf(CLI_ERR, ": %s\n", err);
            client_delete(c);
            goto out;
        }
        client_resp_clear(&r);
        fprintf(CLI_OUT, "Registered service: %s\n", cli_str(s, "Name"));
    }
    client_delete(c);
    rc = 0;
out:
    json_object_put(svcs);
    json_object_put(f.tagged_obj);
    return rc;
}

/* -------------------------------------------------- services deregister */

/* Is a deregister argument a file (else a service ID)? */
static bool cli_arg_is_file(const char *a)
{
    struct stat st;
    static const char *const ext[] = {".json", ".yaml", ".yml", ".hcl"};
    size_t n = strlen(a);

    if (stat(a, &st) == 0 && S_ISREG(st.st_mode))
        return true;
    if (strchr(a, '/'))
        return true;
    for (size_t i = 0; i < CLI_N(ext); i++) {
        size_t el = strlen(ext[i]);
        if (n > el && strcmp(a + n - el, ext[i]) == 0)
            return true;
    }
    return false;
}

static int cli_services_deregister(const struct cli_cmd *cmd,
                                   int argc,
                                   char **argv)
{
    struct cli_http http;
    const char *id = "";
    const struct cli_flag flags[] = {
        {"id", CLI_FLAG_STRING, &id, NULL,
         "ID to delete. This must not be set if arguments are given."},
    };
    int first;
    int rc = cli__parse(cmd, flags, CLI_N(flags), &http, argc, argv, &first);
    if (rc != CLI_CONTINUE)
        return rc;

    int nargs = argc - first;
    if (nargs == 0 && id[0] == '\0') {
        cli__errorf(
            "Service deregistration requires at least one argument "
            "or -id.");
        return 1;
    } else if (nargs > 0 && id[0] != '\0') {
        cli__errorf(
            "Service deregistration requires arguments or -id, not "
            "both.");
        return 1;
    }

    char err[2048];
    json_object *svcs = json_object_new_array();
    rc = 1;
    if (nargs == 0) {
        json_object *s = json_object_new_object();
        json_object_object_add(s, "ID", json_object_new_string(id));
        json_object_array_add(svcs, s);
    }
    for (int i = first; i < argc; i++) {
        if (cli_arg_is_file(argv[i])) {
            if (cli_services_from_file(argv[i], svcs, err, sizeof(err)) != 0) {
                cli__errorf("Error: %s", err);
                goto out;
            }
        } else {
            json_object *s = json_object_new_object();
            json_object_object_add(s, "ID", json_object_new_string(argv[i]));
            json_object_array_add(svcs, s);
        }
    }

    struct client *c = cli__client(&http);
    if (c == NULL)
        goto out;
    for (size_t i = 0; i < json_object_array_length(svcs); i++) {
        json_object *s = json_object_array_get_idx(svcs, i);
        const char *sid = cli_str(s, "ID");
        if (sid[0] == '\0')
            sid = cli_str(s, "Name");
        if (sid[0] == '\0')
            continue;
        char *esc = client_escape(sid, true);
        char *path = NULL;
        if (esc == NULL ||
            asprintf(&path, "/v1/agent/service/deregister/%s", esc) < 0)
            path = NULL;
        free(esc);
        struct client_resp r;
        int e = cli_request(c, "PUT", path, NULL, &r, err, sizeof(err));
        free(path);
        if (e) {
            fprintf(CLI_ERR, "Error deregistering service ");
            cli_quote(CLI_ERR, sid);
            fprintf(CLI_ERR, ": %s\n", err);
            client_delete(c);
            goto out;
        }
        client_resp_clear(&r);
        fprintf(CLI_OUT, "Deregistered service: %s\n", sid);
    }
    client_delete(c);
    rc = 0;
out:
    json_object_put(svcs);
    return rc;
}

/* ------------------------------------------------- catalog formatting */

/* Consul's mapToKV: "k=v" sorted by key, joined. */
static void cli_map_kv(FILE *f, json_object *m, const char *joiner)
{
    size_t n = json_object_is_type(m, json_type_object)
                   ? (size_t)json_object_object_length(m)
                   : 0;
    const char **keys = calloc(n ? n : 1, sizeof(*keys));
    size_t k = 0;

    if (keys == NULL)
        return;
    if (n) {
        json_object_object_foreach(m, key, v)
        {
            (void)v;
            keys[k++] = key;
        }
    }
    qsort(keys, k, sizeof(*keys), cli_str_cmp);
    for (size_t i = 0; i < k; i++) {
        json_object *v = json_object_object_get(m, keys[i]);
        fprintf(f, "%s%s=", i ? joiner : "", keys[i]);
        if (json_object_is_type(v, json_type_string))
            fputs(json_object_get_string(v), f);
        else if (v) {
            char *s = json_dump_indent(v, NULL, NULL);
            fputs(s ? s : "", f);
            free(s);
        }
    }
    free(keys);
}

char *cli__catalog_nodes_format(json_object *nodes, bool detailed)
{
    size_t n = json_object_is_type(nodes, json_type_array)
                   ? json_object_array_length(nodes)
                   : 0;
    char **lines = calloc(n + 1, sizeof(*lines));
    char *out = NULL;

    if (lines == NULL)
        return NULL;
    lines[0] = strdup(detailed ? "Node\x1fID\x1f"
                                 "Address\x1f"
                                 "DC\x1fTaggedAddresses\x1fMeta"
                               : "Node\x1fID\x1f"
                                 "Address\x1f"
                                 "DC");
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(nodes, i);
        size_t len;
        FILE *f = open_memstream(&lines[i + 1], &len);
        if (f == NULL)
            goto done;
        const char *id = cli_str(o, "ID");
        const char *dash = strchr(id, '-');
        int idlen = (int)strlen(id);
        if (!detailed && dash && dash > id)
            idlen = (int)(dash - id);
        fprintf(f, "%s\x1f%.*s\x1f%s\x1f%s", cli_str(o, "Node"), idlen, id,
                cli_str(o, "Address"), cli_str(o, "Datacenter"));
        if (detailed) {
            /* A CatalogService (catalog nodes -service) calls it NodeMeta. */
            json_object *meta = cli_field(o, "Meta");
            if (meta == NULL)
                meta = cli_field(o, "NodeMeta");
            fputc('\x1f', f);
            cli_map_kv(f, cli_field(o, "TaggedAddresses"), ", ");
            fputc('\x1f', f);
            cli_map_kv(f, meta, ", ");
        }
        if (fclose(f) != 0)
            goto done;
    }
    for (size_t i = 0; i <= n; i++)
        if (lines[i] == NULL)
            goto done;
    out = cli__columnize(lines, n + 1);
done:
    for (size_t i = 0; i <= n; i++)
        free(lines[i]);
    free(lines);
    return out;
}

/* Code points in s (tabwriter widths). */
static size_t cli_width(const char *s)
{
    size_t r = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            r++;
    return r;
}

char *cli__catalog_services_format(json_object *services, bool tags)
{
    size_t n = json_object_is_type(services, json_type_object)
                   ? (size_t)json_object_object_length(services)
                   : 0;
    const char **names = calloc(n ? n : 1, sizeof(*names));
    size_t k = 0, width = 0, len;
    char *buf = NULL;

    if (names == NULL)
        return NULL;
    if (n) {
        json_object_object_foreach(services, key, v)
        {
            (void)v;
            names[k++] = key;
        }
    }
    qsort(names, k, sizeof(*names), cli_str_cmp);
    for (size_t i = 0; i < k; i++)
        if (cli_width(names[i]) > width)
            width = cli_width(names[i]);
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
        free(names);
        return NULL;
    }
    for (size_t i = 0; i < k; i++) {
        if (!tags) {
            fprintf(f, "%s\n", names[i]);
            continue;
        }
        /* tabwriter.NewWriter(w, 0, 2, 6, ' ', 0): the name column is the
         * widest name plus 6; then the sorted tags joined by ",". */
        json_object *t = json_object_object_get(services, names[i]);
        size_t nt = json_object_is_type(t, json_type_array)
                        ? json_object_array_length(t)
                        : 0;
        const char **ts = calloc(nt ? nt : 1, sizeof(*ts));
        if (ts == NULL)
            break;
        for (size_t j = 0; j < nt; j++) {
            json_object *e = json_object_array_get_idx(t, j);
            ts[j] = json_object_is_type(e, json_type_string)
                        ? json_object_get_string(e)
                        : "";
        }
        qsort(ts, nt, sizeof(*ts), cli_str_cmp);
        fputs(names[i], f);
        for (size_t p = cli_width(names[i]); p < width + 6; p++)
            fputc(' ', f);
        for (size_t j = 0; j < nt; j++)
            fprintf(f, "%s%s", j ? "," : "", ts[j]);
        fputc('\n', f);
        free(ts);
    }
    free(names);
    buf = cli_mem_done(f, &buf);
    if (buf && tags) {
        /* strings.TrimSpace, then UI.Output adds one newline */
        size_t l = strlen(buf);
        while (l && isspace((unsigned char)buf[l - 1]))
            l--;
        buf[l] = '\0';
        if (l) {
            char *nb = realloc(buf, l + 2);
            if (nb == NULL) {
                free(buf);
                return NULL;
            }
            buf = nb;
            buf[l] = '\n';
            buf[l + 1] = '\0';
        }
    }
    return buf;
}

/* The -node form: {name: tags...} from a /v1/catalog/node answer, tags of
 * instances of one name appended (not de-duplicated, as Consul). */
json_object *cli__catalog_node_services(json_object *node)
{
    json_object *out = json_object_new_object();
    json_object *svcs = cli_field(node, "Services");

    if (!json_object_is_type(svcs, json_type_object))
        return out;
    json_object_object_foreach(svcs, id, s)
    {
        (void)id;
        const char *name = cli_str(s, "Service");
        json_object *dst = json_object_object_get(out, name);
        if (dst == NULL) {
            dst = json_object_new_array();
            json_object_object_add(out, name, dst);
        }
        json_object *t = cli_field(s, "Tags");
        for (size_t i = 0; json_object_is_type(t, json_type_array) &&
                           i < json_object_array_length(t);
             i++)
            json_object_array_add(
                dst, json_object_get(json_object_array_get_idx(t, i)));
    }
    return out;
}

/* ----------------------------------------------------- catalog commands */

static int cli_too_many(int nargs)
{
    if (nargs > 0) {
        cli__errorf("Too many arguments (expected 0, got %d)", nargs);
        return 1;
    }
    return 0;
}

static int cli_catalog_datacenters(const struct cli_cmd *cmd,
                                   int argc,
                                   char **argv)
{
    struct cli_http http;
    int first;
    int rc = cli__parse(cmd, NULL, 0, &http, argc, argv, &first);
    if (rc != CLI_CONTINUE)
        return rc;
    if (cli_too_many(argc - first))
        return 1;
    struct client *c = cli__client(&http);
    if (c == NULL)
        return 1;
    json_object *j;
    char err[1024];
    rc = cli_get_json(c, "/v1/catalog/datacenters", &j, err, sizeof(err));
    client_delete(c);
    if (rc == 0 && j && !json_object_is_type(j, json_type_array)) {
        snprintf(err, sizeof(err),
                 "json: cannot unmarshal object into Go value of type "
                 "[]string");
        rc = -1;
    }
    if (rc) {
        cli__errorf("Error listing datacenters: %s", err);
        json_object_put(j);
        return 1;
    }
    for (size_t i = 0; j && i < json_object_array_length(j); i++) {
        json_object *d = json_object_array_get_idx(j, i);
        const char *s = json_object_is_type(d, json_type_string)
                            ? json_object_get_string(d)
                            : "";
        cli__info(s, strlen(s));
    }
    json_object_put(j);
    return 0;
}

static int cli_catalog_nodes(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct cli_http http;
    bool detailed = false;
    const char *near = "", *service = "", *filter = "", *dummy = NULL;
    struct cli_multi multi[] = {{.name = "node-meta", .is_map = true}};
    const struct cli_flag flags[] = {
        {"detailed", CLI_FLAG_BOOL, &detailed, NULL,
         "Output detailed information about the nodes including their "
         "addresses and metadata."},
        {"filter", CLI_FLAG_STRING, &filter, NULL,
         "Filter to use with the request"},
        {"near", CLI_FLAG_STRING, &near, NULL,
         "Node name to sort the node list in ascending order based on "
         "estimated round-trip time from that node. Passing \"_agent\" will "
         "use this agent's node for sorting."},
        {"node-meta", CLI_FLAG_STRING, &dummy, "key=value",
         "Metadata to filter nodes with the given key=value pairs. This "
         "flag may be specified multiple times to filter on multiple "
         "sources of metadata."},
        {"service", CLI_FLAG_STRING, &service, "id or name",
         "Service id or name to filter nodes. Only nodes which are "
         "providing the given service will be returned."},
    };
    int first;
    int rc = cli_parse_multi(cmd, flags, CLI_N(flags), multi, CLI_N(multi),
                             &http, &argc, argv, &first);
    if (rc != CLI_CONTINUE)
        return rc;
    if (cli_too_many(argc - first))
        return 1;
    struct client *c = cli__client(&http);
    if (c == NULL)
        return 1;

    char err[1024];
    char *fdata = NULL;
    size_t flen;
    if (filter[0]) {
        if (cli__read_data(filter, &fdata, &flen, err, sizeof(err)) != 0) {
            cli__errorf("Could not process filter argument: %s", err);
            client_delete(c);
            return 1;
        }
    }

    char *path = NULL, *esc = NULL;
    size_t plen;
    FILE *f = open_memstream(&path, &plen);
    if (f == NULL) {
        client_delete(c);
        free(fdata);
        return 1;
    }
    if (service[0]) {
        esc = client_escape(service, true);
        fprintf(f, "/v1/catalog/service/%s", esc ? esc : "");
        free(esc);
    } else {
        fputs("/v1/catalog/nodes", f);
    }
    char sep = '?';
    if (fdata && fdata[0])
        cli_q(f, &sep, "filter", fdata);
    if (near[0])
        cli_q(f, &sep, "near", near);
    cli_q_node_meta(f, &sep, &multi[0]);
    path = cli_mem_done(f, &path);
    free(fdata);

    json_object *j;
    rc = cli_get_json(c, path, &j, err, sizeof(err));
    free(path);
    client_delete(c);
    if (rc == 0 && j && !json_object_is_type(j, json_type_array)) {
        snprintf(err, sizeof(err),
                 "json: cannot unmarshal object into Go value of type "
                 "[]*api.%s",
                 service[0] ? "CatalogService" : "Node");
        rc = -1;
    }
    if (rc) {
        cli__errorf(service[0] ? "Error listing nodes for service: %s"
                               : "Error listing nodes: %s",
                    err);
        json_object_put(j);
        return 1;
    }
    if (j == NULL || json_object_array_length(j) == 0) {
        cli__errorf(
            "No nodes match the given query - try expanding your "
            "search.");
        json_object_put(j);
        return 0;
    }
    char *out = cli__catalog_nodes_format(j, detailed);
    json_object_put(j);
    if (out == NULL) {
        cli__errorf("Error printing nodes: out of memory");
        return 1;
    }
    cli__info(out, strlen(out));
    free(out);
    return 0;
}

static int cli_catalog_services(const struct cli_cmd *cmd,
                                int argc,
                                char **argv)
{
    struct cli_http http;
    bool tags = false;
    const char *node = "", *dummy = NULL;
    struct cli_multi multi[] = {{.name = "node-meta", .is_map = true}};
    const struct cli_flag flags[] = {
        {"node", CLI_FLAG_STRING, &node, "id or name",
         "Node id or name for which to list services."},
        {"node-meta", CLI_FLAG_STRING, &dummy, "key=value",
         "Metadata to filter nodes with the given key=value pairs. If "
         "specified, only services running on nodes matching the given "
         "metadata will be returned. This flag may be specified multiple "
         "times to filter on multiple sources of metadata."},
        {"tags", CLI_FLAG_BOOL, &tags, NULL,
         "Display each service's tags as a comma-separated list beside each "
         "service entry."},
    };
    int first;
    int rc = cli_parse_multi(cmd, flags, CLI_N(flags), multi, CLI_N(multi),
                             &http, &argc, argv, &first);
    if (rc != CLI_CONTINUE)
        return rc;
    if (cli_too_many(argc - first))
        return 1;
    struct client *c = cli__client(&http);
    if (c == NULL)
        return 1;

    char *path = NULL, *esc;
    size_t plen;
    FILE *f = open_memstream(&path, &plen);
    if (f == NULL) {
        client_delete(c);
        return 1;
    }
    if (node[0]) {
        esc = client_escape(node, true);
        fprintf(f, "/v1/catalog/node/%s", esc ? esc : "");
        free(esc);
    } else {
        fputs("/v1/catalog/services", f);
    }
    char sep = '?';
    cli_q_node_meta(f, &sep, &multi[0]);
    path = cli_mem_done(f, &path);

    json_object *j;
    char err[1024];
    rc = cli_get_json(c, path, &j, err, sizeof(err));
    free(path);
    client_delete(c);
    if (rc == 0 && j && !json_object_is_type(j, json_type_object)) {
        snprintf(err, sizeof(err),
                 "json: cannot unmarshal array into Go value of type %s",
                 node[0] ? "api.CatalogNode" : "map[string][]string");
        rc = -1;
    }
    if (rc) {
        cli__errorf(node[0] ? "Error listing services for node: %s"
                            : "Error listing services: %s",
                    err);
        json_object_put(j);
        return 1;
    }
    if (node[0] && j) {
        json_object *m = cli__catalog_node_services(j);
        json_object_put(j);
        j = m;
    }
    if (j == NULL || json_object_object_length(j) == 0) {
        cli__errorf(
            "No services match the given query - try expanding your "
            "search.");
        json_object_put(j);
        return 0;
    }
    char *out = cli__catalog_services_format(j, tags);
    json_object_put(j);
    if (out == NULL) {
        cli__errorf("Error flushing tabwriter: out of memory");
        return 1;
    }
    fputs(out, CLI_OUT);
    free(out);
    return 0;
}

/* ------------------------------------------------------------------ maint */

static int cli_check_cmp(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    bool xn = strcmp(x, "_node_maintenance") == 0;
    bool yn = strcmp(y, "_node_maintenance") == 0;
    if (xn != yn)
        return xn ? -1 : 1;
    return strcmp(x, y);
}

char *cli__maint_format(json_object *checks, const char *node_name)
{
    size_t n = json_object_is_type(checks, json_type_object)
                   ? (size_t)json_object_object_length(checks)
                   : 0;
    const char **ids = calloc(n ? n : 1, sizeof(*ids));
    size_t k = 0, len;
    char *buf = NULL;

    if (ids == NULL)
        return NULL;
    if (n) {
        json_object_object_foreach(checks, key, v)
        {
            (void)v;
            ids[k++] = key;
        }
    }
    qsort(ids, k, sizeof(*ids), cli_check_cmp);
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
        free(ids);
        return NULL;
    }
    for (size_t i = 0; i < k; i++) {
        json_object *ch = json_object_object_get(checks, ids[i]);
        /* Consul reads CheckID from the value, not the map key. */
        const char *cid = cli_str(ch, "CheckID");
        if (strcmp(cid, "_node_maintenance") == 0)
            fprintf(f, "Node:\n  Name:   %s\n  Reason: %s\n\n", node_name,
                    cli_str(ch, "Notes"));
        else if (strncmp(cid, "_service_maintenance:", 21) == 0)
            fprintf(f, "Service:\n  ID:     %s\n  Reason: %s\n\n",
                    cli_str(ch, "ServiceID"), cli_str(ch, "Notes"));
    }
    free(ids);
    return cli_mem_done(f, &buf);
}

static int cli_maint(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct cli_http http;
    bool enable = false, disable = false;
    const char *reason = "", *service = "";
    const struct cli_flag flags[] = {
        {"disable", CLI_FLAG_BOOL, &disable, NULL, "Disable maintenance mode."},
        {"enable", CLI_FLAG_BOOL, &enable, NULL, "Enable maintenance mode."},
        {"reason", CLI_FLAG_STRING, &reason, NULL,
         "Text describing the maintenance reason."},
        {"service", CLI_FLAG_STRING, &service, NULL,
         "Control maintenance mode for a specific service ID."},
    };
    int first;
    int rc = cli__parse(cmd, flags, CLI_N(flags), &http, argc, argv, &first);
    if (rc != CLI_CONTINUE)
        return rc;

    if (enable && disable) {
        cli__errorf("Only one of -enable or -disable may be provided");
        return 1;
    }
    if (!enable && reason[0]) {
        cli__errorf("Reason may only be provided with -enable");
        return 1;
    }
    if (!enable && !disable && service[0]) {
        cli__errorf("Service requires either -enable or -disable");
        return 1;
    }

    struct client *c = cli__client(&http);
    if (c == NULL)
        return 1;
    char err[1024];
    json_object *self;
    if (cli_get_json(c, "/v1/agent/self", &self, err, sizeof(err)) != 0) {
        cli__errorf("Error querying Consul agent: %s", err);
        client_delete(c);
        return 1;
    }
    char *node = strdup(cli_str(cli_field(self, "Config"), "NodeName"));
    json_object_put(self);
    rc = 1;
    if (node == NULL)
        goto out;

    if (!enable && !disable) {
        json_object *checks;
        if (cli_get_json(c, "/v1/agent/checks", &checks, err, sizeof(err))) {
            cli__errorf("Error getting checks: %s", err);
            goto out;
        }
        char *s = cli__maint_format(checks, node);
        json_object_put(checks);
        if (s)
            fputs(s, CLI_OUT);
        free(s);
        rc = s ? 0 : 1;
        goto out;
    }

    char *path = NULL;
    size_t plen;
    FILE *f = open_memstream(&path, &plen);
    if (f == NULL)
        goto out;
    if (service[0]) {
        char *esc = client_escape(service, true);
        fprintf(f, "/v1/agent/service/maintenance/%s", esc ? esc : "");
        free(esc);
    } else {
        fputs("/v1/agent/maintenance", f);
    }
    char sep = '?';
    cli_q(f, &sep, "enable", enable ? "true" : "false");
    if (enable)
        cli_q(f, &sep, "reason", reason);
    path = cli_mem_done(f, &path);

    struct client_resp r;
    int e = cli_request(c, "PUT", path, NULL, &r, err, sizeof(err));
    free(path);
    client_resp_clear(&r);
    const char *verb = enable ? "enabl" : "disabl";
    if (e) {
        cli__errorf("Error %sing %s maintenance: %s", verb,
                    service[0] ? "service" : "node", err);
        goto out;
    }
    if (service[0]) {
        fprintf(CLI_OUT, "Service maintenance is now %sed for ", verb);
        cli_quote(CLI_OUT, service);
        fputc('\n', CLI_OUT);
    } else {
        fprintf(CLI_OUT, "Node maintenance is now %sed\n", verb);
    }
    rc = 0;
out:
    free(node);
    client_delete(c);
    return rc;
}

/* ----------------------------------------------------------- dispatch */

static const struct cli_cmd cli_services_cmds[] = {
    {"services deregister", "Deregister services with the local agent",
     "Usage: cairn services deregister [options] [ID|FILE...]\n"
     "\n"
     "  Deregister one or more services that were previously registered "
     "with\n"
     "  the local agent.\n"
     "\n"
     "      $ cairn services deregister web.json db.yaml\n"
     "\n"
     "  The -id flag (or a plain argument that is not a file) deregisters "
     "a\n"
     "  single service by ID:\n"
     "\n"
     "      $ cairn services deregister -id=web\n"
     "      $ cairn services deregister web\n"
     "\n"
     "  Services are deregistered from the local agent catalog. This "
     "command must\n"
     "  be run against the same agent where the service was registered.",
     cli_services_deregister},
    {"services register", "Register services with the local agent",
     "Usage: cairn services register [options] [FILE...]\n"
     "\n"
     "  Register one or more services using the local agent API. Services "
     "can\n"
     "  be registered from service definition files (JSON or YAML with a\n"
     "  \"service\" object or a \"services\" list, as in the agent's "
     "config files)\n"
     "  or using flags. The service is registered and the command "
     "returns. The\n"
     "  caller must remember to call \"cairn services deregister\" or a "
     "similar API\n"
     "  to deregister the service when complete.\n"
     "\n"
     "      $ cairn services register web.json\n"
     "      $ cairn services register -name=web -port=8080 -tag=v1 "
     "-meta=team=a\n"
     "\n"
     "  Additional flags and more advanced use cases are detailed below.",
     cli_services_register},
};

static const struct cli_cmd cli_catalog_cmds[] = {
    {"catalog datacenters", "Lists all known datacenters",
     "Usage: cairn catalog datacenters [options]\n"
     "\n"
     "  Retrieves the list of all known datacenters. This datacenters are "
     "sorted in\n"
     "  ascending order based on the estimated median round trip time from "
     "the servers\n"
     "  in this datacenter to the servers in the other datacenters.\n"
     "\n"
     "  To retrieve the list of datacenters:\n"
     "\n"
     "      $ cairn catalog datacenters",
     cli_catalog_datacenters},
    {"catalog nodes", "Lists all nodes in the given datacenter",
     "Usage: cairn catalog nodes [options]\n"
     "\n"
     "  Retrieves the list nodes registered in a given datacenter. By "
     "default, the\n"
     "  datacenter of the local agent is queried.\n"
     "\n"
     "  To retrieve the list of nodes:\n"
     "\n"
     "      $ cairn catalog nodes\n"
     "\n"
     "  To print detailed information including full node IDs, tagged "
     "addresses, and\n"
     "  metadata information:\n"
     "\n"
     "      $ cairn catalog nodes -detailed\n"
     "\n"
     "  To list nodes which are running a particular service:\n"
     "\n"
     "      $ cairn catalog nodes -service=web\n"
     "\n"
     "  To filter by node metadata:\n"
     "\n"
     "      $ cairn catalog nodes -node-meta=\"foo=bar\"",
     cli_catalog_nodes},
    {"catalog services", "Lists all registered services in a datacenter",
     "Usage: cairn catalog services [options]\n"
     "\n"
     "  Retrieves the list services registered in a given datacenter. By "
     "default, the\n"
     "  datacenter of the local agent is queried.\n"
     "\n"
     "  To retrieve the list of services:\n"
     "\n"
     "      $ cairn catalog services\n"
     "\n"
     "  To include the services' tags in the output:\n"
     "\n"
     "      $ cairn catalog services -tags\n"
     "\n"
     "  To list services which run on a particular node:\n"
     "\n"
     "      $ cairn catalog services -node=web\n"
     "\n"
     "  To filter services on node metadata:\n"
     "\n"
     "      $ cairn catalog services -node-meta=\"foo=bar\"",
     cli_catalog_services},
};

static const struct cli_cmd cli_maint_cmd = {
    "maint", "Controls node or service maintenance mode",
    "Usage: cairn maint [options]\n"
    "\n"
    "  Places a node or service into maintenance mode. During maintenance "
    "mode,\n"
    "  the node or service will be excluded from all queries through the "
    "DNS\n"
    "  or API interfaces, effectively taking it out of the pool of "
    "available\n"
    "  nodes. This is done by registering an additional critical health "
    "check.\n"
    "\n"
    "  When enabling maintenance mode for a node or service, you may "
    "optionally\n"
    "  specify a reason string. This string will appear in the \"Notes\" "
    "field\n"
    "  of the critical health check which is registered against the node "
    "or\n"
    "  service. If no reason is provided, a default value will be used.\n"
    "\n"
    "  Maintenance mode is persistent, and will be restored in the event of "
    "an\n"
    "  agent restart. It is therefore required to disable maintenance mode "
    "on\n"
    "  a given node or service before it will be placed back into the "
    "pool.\n"
    "\n"
    "  By default, we operate on the node as a whole. By specifying the\n"
    "  \"-service\" argument, this behavior can be changed to enable or "
    "disable\n"
    "  only a specific service.\n"
    "\n"
    "  If no arguments are given, the agent's maintenance status will be "
    "shown.\n"
    "  This will return blank if nothing is currently under maintenance.",
    cli_maint};

static void cli_group_usage(FILE *f,
                            const struct cli_cmd *group,
                            const struct cli_cmd *subs,
                            size_t n)
{
    size_t skip = strlen(group->name) + 1;

    fprintf(f, "%s\n\nSubcommands:\n", group->help);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "    %-11s    %s\n", subs[i].name + skip, subs[i].synopsis);
}

static int cli_group(const struct cli_cmd *group,
                     const struct cli_cmd *subs,
                     size_t n,
                     int argc,
                     char **argv)
{
    if (argc == 0 || argv[0][0] == '-') {
        bool help = argc > 0 && cli__wants_help(1, argv);
        cli_group_usage(help ? CLI_OUT : CLI_ERR, group, subs, n);
        return help ? 0 : 1;
    }
    size_t skip = strlen(group->name) + 1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(subs[i].name + skip, argv[0]) == 0)
            return subs[i].run(&subs[i], argc - 1, argv + 1);
    cli__errorf("Unknown command: %s %s", group->name, argv[0]);
    cli_group_usage(CLI_ERR, group, subs, n);
    return 1;
}

int cli__services(const struct cli_cmd *cmd, int argc, char **argv)
{
    return cli_group(cmd, cli_services_cmds, CLI_N(cli_services_cmds), argc,
                     argv);
}

int cli__catalog(const struct cli_cmd *cmd, int argc, char **argv)
{
    return cli_group(cmd, cli_catalog_cmds, CLI_N(cli_catalog_cmds), argc,
                     argv);
}

int cli__maint(const struct cli_cmd *cmd, int argc, char **argv)
{
    (void)cmd;
    return cli_maint(&cli_maint_cmd, argc, argv);
}
