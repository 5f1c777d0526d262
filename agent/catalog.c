/*
 * catalog — nodes, services and checks (see catalog.h).
 *
 * Structures. Every table is an ordered map (red-black trees from
 * <bsd/sys/tree.h>):
 *
 *   catalog.nodes        cat_node by node name
 *     node.services      cat_svc by service ID
 *     node.checks        cat_check by CheckID (all checks of the node)
 *     node.node_checks   cat_check by CheckID (node-level checks only)
 *       svc.checks       cat_check by CheckID (that instance's checks)
 *   catalog.names        cat_name by lower-cased service name
 *     name.insts         cat_svc by (node name, service ID)
 *
 * A check sits in node.checks and in exactly one "owner" tree (node-level
 * or its service's), so /v1/health/service/<name> walks name.insts and, per
 * instance, the node-level checks of its node and its own checks: the cost
 * is that of the answer, whatever the size of the catalog.
 *
 * Writes run in three phases so that a request is all-or-nothing: parse
 * (types, defaults, the new records built), plan (checks against the
 * current state, every structure the write needs allocated, records
 * compared with the stored ones so unchanged content is dropped), commit
 * (pointer moves only: nothing can fail). Commit records what it touched in
 * a `struct cat_txn`; cat_txn_finish then sets the indexes, unlinks names
 * left without instances, emits the topics and only then frees what left
 * the catalog (topic strings live in the node and name structures).
 */
#include "catalog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbuf.h"
#include "json.h"
#include "rbtree.h"

/* ------------------------------------------------------------ structures */

struct cat_node;
struct cat_name;

struct cat_check
{
    RB_ENTRY(cat_check) nlink; /* node.checks */
    RB_ENTRY(cat_check) olink; /* node.node_checks or svc.checks */
    char *id;
    struct cat_svc *svc; /* NULL: node-level check */
    json_object *rec;    /* HealthCheck */
};

RB_HEAD(check_tree, cat_check);
RB_HEAD(owned_tree, cat_check);

struct cat_svc
{
    RB_ENTRY(cat_svc) nlink; /* node.services */
    RB_ENTRY(cat_svc) slink; /* name.insts */
    char *id;
    struct cat_node *node;
    struct cat_name *name;
    struct owned_tree checks;
    json_object *rec; /* AgentService */
};

RB_HEAD(svc_tree, cat_svc);
RB_HEAD(inst_tree, cat_svc);

struct cat_node
{
    RB_ENTRY(cat_node) link;
    char *topic;      /* "node:<name>" */
    const char *name; /* topic + 5 */
    json_object *rec; /* Node */
    struct svc_tree services;
    struct check_tree checks;
    struct owned_tree node_checks;
    uint64_t index;
};

RB_HEAD(node_tree, cat_node);

struct cat_name
{
    RB_ENTRY(cat_name) link;
    char *topic;       /* "svc:<lower-cased name>" */
    const char *lname; /* topic + 4 */
    struct inst_tree insts;
    size_t n;
    uint64_t index;
    bool in_tree;
    bool touched; /* in the current txn's touched list */
    struct cat_name *touch_next;
};

RB_HEAD(name_tree, cat_name);

struct catalog
{
    struct node_tree nodes;
    struct name_tree names;
    size_t n_nodes, n_services, n_checks;
    uint64_t index, nodes_index, services_index, checks_index;
    /* catalog_services' answer, kept until the services table changes:
     * with 10,000 instances building it costs ~20 ms, and it is the feed
     * every Prometheus and consul-template polls. */
    json_object *services_cache;
    uint64_t services_cache_index;
    catalog_change_cb change_cb;
    void *change_data;
};

static int check_cmp(struct cat_check *a, struct cat_check *b)
{
    return strcmp(a->id, b->id);
}

static int svc_cmp(struct cat_svc *a, struct cat_svc *b)
{
    return strcmp(a->id, b->id);
}

static int inst_cmp(struct cat_svc *a, struct cat_svc *b)
{
    int r = strcmp(a->node->name, b->node->name);
    return r != 0 ? r : strcmp(a->id, b->id);
}

static int node_cmp(struct cat_node *a, struct cat_node *b)
{
    return strcmp(a->name, b->name);
}

static int name_cmp(struct cat_name *a, struct cat_name *b)
{
    return strcmp(a->lname, b->lname);
}

RB_GENERATE_STATIC(check_tree, cat_check, nlink, check_cmp)
RB_GENERATE_STATIC(owned_tree, cat_check, olink, check_cmp)
RB_GENERATE_STATIC(svc_tree, cat_svc, nlink, svc_cmp)
RB_GENERATE_STATIC(inst_tree, cat_svc, slink, inst_cmp)
RB_GENERATE_STATIC(node_tree, cat_node, link, node_cmp)
RB_GENERATE_STATIC(name_tree, cat_name, link, name_cmp)

/* Lookups take const containers: the trees are not changed by a find. */
static struct cat_node *find_node(const struct catalog *c, const char *name)
{
    struct cat_node key = {.name = name};
    return RB_FIND(node_tree, (struct node_tree *)&c->nodes, &key);
}

static struct cat_name *find_name(const struct catalog *c, const char *lname)
{
    struct cat_name key = {.lname = lname};
    return RB_FIND(name_tree, (struct name_tree *)&c->names, &key);
}

static struct cat_svc *find_svc(const struct cat_node *n, const char *id)
{
    struct cat_svc key = {.id = (char *)id};
    return RB_FIND(svc_tree, (struct svc_tree *)&n->services, &key);
}

static struct cat_check *find_check(const struct cat_node *n, const char *id)
{
    struct cat_check key = {.id = (char *)id};
    return RB_FIND(check_tree, (struct check_tree *)&n->checks, &key);
}

static struct owned_tree *owner_tree(struct cat_node *n, struct cat_svc *s)
{
    return s != NULL ? &s->checks : &n->node_checks;
}

/* ASCII lower-case copy (Consul folds service names), or NULL on OOM. */
static char *lower_dup(const char *s)
{
    char *d = strdup(s);
    if (d == NULL)
        return NULL;
    for (char *p = d; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    }
    return d;
}

static char *topic_dup(const char *prefix, const char *s)
{
    size_t pl = strlen(prefix), sl = strlen(s);
    char *t = malloc(pl + sl + 1);
    if (t == NULL)
        return NULL;
    memcpy(t, prefix, pl);
    memcpy(t + pl, s, sl + 1);
    return t;
}

static struct cat_node *node_alloc(const char *name)
{
    struct cat_node *n = calloc(1, sizeof *n);
    if (n == NULL)
        return NULL;
    n->topic = topic_dup("node:", name);
    if (n->topic == NULL) {
        free(n);
        return NULL;
    }
    n->name = n->topic + 5;
    RB_INIT(&n->services);
    RB_INIT(&n->checks);
    RB_INIT(&n->node_checks);
    return n;
}

/* `lname` must already be lower-cased. */
static struct cat_name *name_alloc(const char *lname)
{
    struct cat_name *nm = calloc(1, sizeof *nm);
    if (nm == NULL)
        return NULL;
    nm->topic = topic_dup("svc:", lname);
    if (nm->topic == NULL) {
        free(nm);
        return NULL;
    }
    nm->lname = nm->topic + 4;
    RB_INIT(&nm->insts);
    return nm;
}

static struct cat_svc *svc_alloc(const char *id)
{
    struct cat_svc *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->id = strdup(id);
    if (s->id == NULL) {
        free(s);
        return NULL;
    }
    RB_INIT(&s->checks);
    return s;
}

static struct cat_check *check_alloc(const char *id)
{
    struct cat_check *k = calloc(1, sizeof *k);
    if (k == NULL)
        return NULL;
    k->id = strdup(id);
    if (k->id == NULL) {
        free(k);
        return NULL;
    }
    return k;
}

static void check_free(struct cat_check *k)
{
    if (k == NULL)
        return;
    json_object_put(k->rec);
    free(k->id);
    free(k);
}

static void svc_free(struct cat_svc *s)
{
    if (s == NULL)
        return;
    json_object_put(s->rec);
    free(s->id);
    free(s);
}

static void name_free(struct cat_name *nm)
{
    if (nm == NULL)
        return;
    free(nm->topic);
    free(nm);
}

/* Frees a node with everything under it, without touching name trees
 * (used when the whole content goes: catalog_free, restore). */
static void node_free_all(struct cat_node *n)
{
    struct cat_check *k;
    struct cat_svc *s;
    if (n == NULL)
        return;
    while ((k = RB_MIN(check_tree, &n->checks)) != NULL) {
        RB_REMOVE(check_tree, &n->checks, k);
        check_free(k);
    }
    while ((s = RB_MIN(svc_tree, &n->services)) != NULL) {
        RB_REMOVE(svc_tree, &n->services, s);
        svc_free(s);
    }
    json_object_put(n->rec);
    free(n->topic);
    free(n);
}

/* The content of a catalog, so restore can build one aside and swap. */
static void content_free(struct node_tree *nodes, struct name_tree *names)
{
    struct cat_node *n;
    struct cat_name *nm;
    while ((n = RB_MIN(node_tree, nodes)) != NULL) {
        RB_REMOVE(node_tree, nodes, n);
        node_free_all(n);
    }
    while ((nm = RB_MIN(name_tree, names)) != NULL) {
        RB_REMOVE(name_tree, names, nm);
        name_free(nm);
    }
}

struct catalog *catalog_new(void)
{
    struct catalog *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    RB_INIT(&c->nodes);
    RB_INIT(&c->names);
    return c;
}

void catalog_free(struct catalog *c)
{
    if (c == NULL)
        return;
    content_free(&c->nodes, &c->names);
    json_object_put(c->services_cache);
    free(c);
}

void catalog_set_change_cb(struct catalog *c, catalog_change_cb cb, void *data)
{
    c->change_cb = cb;
    c->change_data = data;
}

static void emit(const struct catalog *c, const char *topic)
{
    if (c->change_cb != NULL)
        c->change_cb(c->change_data, topic);
}

/* ------------------------------------------------------------ json bits */

#define KEY_FLAGS (JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT)

/* Add `v` (taken; NULL is an allocation failure) under the literal key
 * `k`, which must not be in `o` yet. False on failure (v dropped). */
static bool jset(json_object *o, const char *k, json_object *v)
{
    if (v == NULL)
        return false;
    if (json_object_object_add_ex(o, k, v, KEY_FLAGS) != 0) {
        json_object_put(v);
        return false;
    }
    return true;
}

/* Add a new reference to field `sk` of `src` (JSON null when absent). */
static bool jref(json_object *o,
                 const char *k,
                 json_object *src,
                 const char *sk)
{
    json_object *v = json_object_get(json_object_object_get(src, sk));
    if (json_object_object_add_ex(o, k, v, KEY_FLAGS) != 0) {
        json_object_put(v);
        return false;
    }
    return true;
}

/* A new array with room for `n` elements (a hint: it grows as needed). */
static json_object *new_array(size_t n)
{
    return json_object_new_array_ext(n < 1 ? 1 : n > 4096 ? 4096 : (int)n);
}

/* Append `v` (taken; NULL is a failure) to array `a`. */
static bool jpush(json_object *a, json_object *v)
{
    if (v == NULL)
        return false;
    if (json_object_array_add(a, v) != 0) {
        json_object_put(v);
        return false;
    }
    return true;
}

/* A string field of a stored record, "" when absent or not a string (a
 * restored snapshot is checked only for the fields the catalog keys on). */
static const char *rec_str(json_object *rec, const char *k)
{
    json_object *v = json_object_object_get(rec, k);
    if (!json_object_is_type(v, json_type_string))
        return "";
    return json_object_get_string(v);
}

static bool is_index_key(const char *k)
{
    return strcmp(k, "CreateIndex") == 0 || strcmp(k, "ModifyIndex") == 0;
}

/* Same content: `fresh` (no index fields) against a stored record, whose
 * CreateIndex / ModifyIndex are ignored. */
static bool rec_same(json_object *fresh, json_object *old)
{
    size_t n_old = 0;
    json_object_object_foreach(old, k, v)
    {
        json_object *fv;
        if (is_index_key(k))
            continue;
        n_old++;
        if (!json_object_object_get_ex(fresh, k, &fv) ||
            !json_object_equal(fv, v))
            return false;
    }
    return n_old == (size_t)json_object_object_length(fresh);
}

/* Append CreateIndex (the stored record's, or `index` for a new one) and
 * ModifyIndex = index to a record being built. */
static bool add_indexes(json_object *rec, json_object *old, uint64_t index)
{
    uint64_t create = index;
    if (old != NULL &&
        json_get_u64(json_object_object_get(old, "CreateIndex"), &create) != 0)
        create = index;
    return jset(rec, "CreateIndex", json_object_new_uint64(create)) &&
           jset(rec, "ModifyIndex", json_object_new_uint64(index));
}

/* ------------------------------------------------------ request parsing */

/* Go's name for the JSON type in "cannot unmarshal" messages. */
static const char *go_type(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_boolean:
        return "bool";
    case json_type_int:
    case json_type_double:
        return "number";
    case json_type_string:
        return "string";
    case json_type_array:
        return "array";
    case json_type_object:
        return "object";
    default:
        return "null";
    }
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static int type_err(char *err,
                    size_t errlen,
                    json_object *v,
                    const char *field,
                    const char *want)
{
    return fail(err, errlen,
                "cannot unmarshal %s into Go value of type %s "
                "(field %s)",
                go_type(v), want, field);
}

/* Field `name` (or the snake_case `alias`) of `o`, case-insensitively;
 * NULL when absent or JSON null (Go leaves the zero value). */
static json_object *fld(json_object *o, const char *name, const char *alias)
{
    json_object *v = json_get_ci(o, name);
    if (v == NULL && alias != NULL)
        v = json_get_ci(o, alias);
    return v;
}

static int get_str(json_object *o,
                   const char *name,
                   const char *alias,
                   const char **out,
                   char *err,
                   size_t errlen)
{
    json_object *v = fld(o, name, alias);
    *out = "";
    if (v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return type_err(err, errlen, v, name, "string");
    *out = json_object_get_string(v);
    return 0;
}

static int get_bool(json_object *o,
                    const char *name,
                    const char *alias,
                    bool *out,
                    char *err,
                    size_t errlen)
{
    json_object *v = fld(o, name, alias);
    *out = false;
    if (v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_boolean))
        return type_err(err, errlen, v, name, "bool");
    *out = json_object_get_boolean(v);
    return 0;
}

static int get_int(json_object *o,
                   const char *name,
                   const char *alias,
                   int64_t dflt,
                   int64_t *out,
                   char *err,
                   size_t errlen)
{
    json_object *v = fld(o, name, alias);
    *out = dflt;
    if (v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_int))
        return type_err(err, errlen, v, name, "int");
    *out = json_object_get_int64(v);
    return 0;
}

/* An optional object field, deep-copied so nothing of the request is kept
 * (the caller may modify or free it afterwards). *out NULL when absent. */
/* Nesting depth of `v` (a scalar is 0), counting no further than `limit`.
 */
static int json_depth(json_object *v, int limit)
{
    int max = 0;
    if (limit <= 0)
        return 1;
    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, k, val)
        {
            (void)k;
            int d = json_depth(val, limit - 1);
            if (d > max)
                max = d;
        }
        return 1 + max;
    }
    if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            int d = json_depth(json_object_array_get_idx(v, i), limit - 1);
            if (d > max)
                max = d;
        }
        return 1 + max;
    }
    return 0;
}

/* Free-form objects kept as given (Definition, Proxy, Connect) sit a few
 * levels down in a snapshot, which is read back with json_parse's depth
 * limit: bound them well below it so every snapshot restores. */
#define CAT_FREEFORM_DEPTH 32
_Static_assert(CAT_FREEFORM_DEPTH + 8 <= JSON_MAX_DEPTH,
               "snapshot nesting must stay within json_parse's limit");

static int get_obj_copy(json_object *o,
                        const char *name,
                        const char *alias,
                        json_object **out,
                        char *err,
                        size_t errlen)
{
    json_object *v = fld(o, name, alias);
    *out = NULL;
    if (v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_object))
        return type_err(err, errlen, v, name, "object");
    if (json_depth(v, CAT_FREEFORM_DEPTH + 1) > CAT_FREEFORM_DEPTH)
        return fail(err, errlen, "%s: nesting deeper than %d levels", name,
                    CAT_FREEFORM_DEPTH);
    if (json_object_deep_copy(v, out, NULL) != 0)
        return -ENOMEM;
    return 0;
}

static int str_ptr_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* map[string]string (or map[string]{Address,Port} when `addr_port`) field
 * as a new object with sorted keys ({} when absent). */
static int get_map(json_object *o,
                   const char *name,
                   const char *alias,
                   bool addr_port,
                   json_object **out,
                   char *err,
                   size_t errlen)
{
    json_object *v = fld(o, name, alias);
    *out = NULL;
    if (v != NULL && !json_object_is_type(v, json_type_object))
        return type_err(err, errlen, v, name, "map");
    size_t n = v != NULL ? (size_t)json_object_object_length(v) : 0;
    const char **keys = calloc(n + 1, sizeof *keys);
    json_object *m = json_object_new_object();
    int rv = -ENOMEM;
    if (keys == NULL || m == NULL)
        goto out;
    size_t i = 0;
    if (v != NULL) {
        json_object_object_foreach(v, k, val)
        {
            (void)val;
            if (i < n)
                keys[i++] = k;
        }
    }
    qsort(keys, i, sizeof *keys, str_ptr_cmp);
    for (size_t j = 0; j < i; j++) {
        json_object *val = json_object_object_get(v, keys[j]);
        json_object *nv;
        if (!addr_port) {
            if (!json_object_is_type(val, json_type_string)) {
                rv = type_err(err, errlen, val, name, "map[string]string");
                goto out;
            }
            nv = json_object_new_string(json_object_get_string(val));
        } else {
            const char *addr;
            int64_t port;
            if (!json_object_is_type(val, json_type_object)) {
                rv = type_err(err, errlen, val, name, "ServiceAddress");
                goto out;
            }
            if ((rv = get_str(val, "Address", NULL, &addr, err, errlen)) ||
                (rv = get_int(val, "Port", NULL, 0, &port, err, errlen)))
                goto out;
            rv = -ENOMEM;
            nv = json_object_new_object();
            if (nv != NULL &&
                !(jset(nv, "Address", json_object_new_string(addr)) &&
                  jset(nv, "Port", json_object_new_int64(port)))) {
                json_object_put(nv);
                nv = NULL;
            }
        }
        if (nv == NULL ||
            json_object_object_add(m, keys[j], nv) != 0) { /* key copied */
            json_object_put(nv);
            rv = -ENOMEM;
            goto out;
        }
    }
    *out = m;
    m = NULL;
    rv = 0;
out:
    json_object_put(m);
    free(keys);
    return rv;
}

/* []string field as a new array ([] when absent). */
static int get_tags(json_object *o,
                    const char *name,
                    json_object **out,
                    char *err,
                    size_t errlen)
{
    json_object *v = fld(o, name, NULL);
    *out = NULL;
    if (v != NULL && !json_object_is_type(v, json_type_array))
        return type_err(err, errlen, v, name, "[]string");
    size_t n = v != NULL ? json_object_array_length(v) : 0;
    json_object *a = new_array(n);
    if (a == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_object *t = json_object_array_get_idx(v, i);
        if (!json_object_is_type(t, json_type_string)) {
            json_object_put(a);
            return type_err(err, errlen, t, name, "string");
        }
        if (!jpush(a, json_object_new_string(json_object_get_string(t)))) {
            json_object_put(a);
            return -ENOMEM;
        }
    }
    *out = a;
    return 0;
}

/* One check of the request, before it is linked to its service. */
struct chk_in
{
    const char *node, *id, *name, *status, *notes, *output, *service_id, *type,
        *interval, *timeout;
    int64_t exposed_port;
    json_object *definition; /* owned deep copy, {} when absent */
};

/* What the plan decided for one check (of the request, or an existing check
 * of a re-registered service that takes its new name and tags). */
struct chk_plan
{
    struct chk_in in;
    bool skip;               /* a later check of the request has this ID */
    struct cat_check *cur;   /* stored check with this ID, or NULL */
    struct cat_check *fresh; /* new structure (cur == NULL, changed) */
    struct cat_svc *owner;   /* service after the write; NULL node-level */
    json_object *rec;        /* new record, NULL when unchanged */
};

struct reg
{
    const char *node, *address;
    bool skip_node_update;
    json_object *node_rec; /* built without indexes */

    bool has_svc;
    const char *svc_id, *svc_name;
    char *svc_lname;
    json_object *svc_rec; /* built without indexes */

    struct chk_plan *chks;
    size_t n_chks, cap_chks;

    /* plan */
    struct cat_node *node_cur, *node_fresh;
    bool node_changed;
    struct cat_svc *svc_cur, *svc_fresh;
    struct cat_name *svc_name_new, *svc_target;
    bool svc_changed;
};

static int reg_push_check(struct reg *r, struct chk_plan **out)
{
    if (r->n_chks == r->cap_chks) {
        size_t cap = r->cap_chks ? 2 * r->cap_chks : 4;
        struct chk_plan *p = realloc(r->chks, cap * sizeof *p);
        if (p == NULL)
            return -ENOMEM;
        r->chks = p;
        r->cap_chks = cap;
    }
    *out = &r->chks[r->n_chks++];
    memset(*out, 0, sizeof **out);
    return 0;
}

static int parse_check(json_object *o, struct reg *r, char *err, size_t errlen)
{
    struct chk_plan *p;
    struct chk_in *in;
    int rv;
    if (!json_object_is_type(o, json_type_object))
        return type_err(err, errlen, o, "Check", "HealthCheck");
    if ((rv = reg_push_check(r, &p)) != 0)
        return rv;
    in = &p->in;
    if ((rv = get_str(o, "Node", NULL, &in->node, err, errlen)) ||
        (rv = get_str(o, "CheckID", "check_id", &in->id, err, errlen)) ||
        (rv = get_str(o, "Name", NULL, &in->name, err, errlen)) ||
        (rv = get_str(o, "Status", NULL, &in->status, err, errlen)) ||
        (rv = get_str(o, "Notes", NULL, &in->notes, err, errlen)) ||
        (rv = get_str(o, "Output", NULL, &in->output, err, errlen)) ||
        (rv = get_str(o, "ServiceID", "service_id", &in->service_id, err,
                      errlen)) ||
        (rv = get_str(o, "Type", NULL, &in->type, err, errlen)) ||
        (rv = get_str(o, "Interval", NULL, &in->interval, err, errlen)) ||
        (rv = get_str(o, "Timeout", NULL, &in->timeout, err, errlen)) ||
        (rv = get_int(o, "ExposedPort", "exposed_port", 0, &in->exposed_port,
                      err, errlen)) ||
        (rv =
             get_obj_copy(o, "Definition", NULL, &in->definition, err, errlen)))
        return rv;
    if (in->definition == NULL &&
        (in->definition = json_object_new_object()) == NULL)
        return -ENOMEM;
    return 0;
}

static int parse_service(json_object *o,
                         struct reg *r,
                         char *err,
                         size_t errlen)
{
    const char *kind, *address, *socket;
    int64_t port, passing = 1, warning = 1;
    bool eto;
    json_object *tags = NULL, *meta = NULL, *taddrs = NULL, *proxy = NULL,
                *connect = NULL, *w, *rec = NULL;
    int rv;

    if (!json_object_is_type(o, json_type_object))
        return type_err(err, errlen, o, "Service", "NodeService");
    r->has_svc = true;
    if ((rv = get_str(o, "ID", NULL, &r->svc_id, err, errlen)) ||
        (rv = get_str(o, "Service", NULL, &r->svc_name, err, errlen)))
        return rv;
    if (r->svc_name[0] == '\0' &&
        (rv = get_str(o, "Name", NULL, &r->svc_name, err, errlen)))
        return rv;
    if (r->svc_id[0] == '\0')
        r->svc_id = r->svc_name;
    w = fld(o, "Weights", NULL);
    if (w != NULL && !json_object_is_type(w, json_type_object))
        return type_err(err, errlen, w, "Weights", "Weights");
    if ((rv = get_str(o, "Kind", NULL, &kind, err, errlen)) ||
        (rv = get_str(o, "Address", NULL, &address, err, errlen)) ||
        (rv = get_str(o, "SocketPath", "socket_path", &socket, err, errlen)) ||
        (rv = get_int(o, "Port", NULL, 0, &port, err, errlen)) ||
        (rv = get_bool(o, "EnableTagOverride", "enable_tag_override", &eto, err,
                       errlen)) ||
        (rv = get_int(w, "Passing", NULL, 1, &passing, err, errlen)) ||
        (rv = get_int(w, "Warning", NULL, 1, &warning, err, errlen)) ||
        (rv = get_tags(o, "Tags", &tags, err, errlen)) ||
        (rv = get_map(o, "Meta", NULL, false, &meta, err, errlen)) ||
        (rv = get_map(o, "TaggedAddresses", "tagged_addresses", true, &taddrs,
                      err, errlen)) ||
        (rv = get_obj_copy(o, "Proxy", NULL, &proxy, err, errlen)) ||
        (rv = get_obj_copy(o, "Connect", NULL, &connect, err, errlen)))
        goto out;

    /* Field order of Consul's AgentService / structs.NodeService. */
    rv = -ENOMEM;
    rec = json_object_new_object();
    json_object *weights = json_object_new_object();
    bool ok = rec != NULL && weights != NULL &&
              jset(weights, "Passing", json_object_new_int64(passing)) &&
              jset(weights, "Warning", json_object_new_int64(warning));
    if (!ok) {
        json_object_put(weights);
        goto out;
    }
    ok = (kind[0] == '\0' || jset(rec, "Kind", json_object_new_string(kind))) &&
         jset(rec, "ID", json_object_new_string(r->svc_id)) &&
         jset(rec, "Service", json_object_new_string(r->svc_name)) &&
         jset(rec, "Tags", json_object_get(tags)) &&
         jset(rec, "Meta", json_object_get(meta)) &&
         jset(rec, "Port", json_object_new_int64(port)) &&
         jset(rec, "Address", json_object_new_string(address)) &&
         (socket[0] == '\0' ||
          jset(rec, "SocketPath", json_object_new_string(socket))) &&
         (json_object_object_length(taddrs) == 0 ||
          jset(rec, "TaggedAddresses", json_object_get(taddrs))) &&
         jset(rec, "Weights", weights) &&
         jset(rec, "EnableTagOverride", json_object_new_boolean(eto)) &&
         (proxy == NULL || jset(rec, "Proxy", json_object_get(proxy))) &&
         (connect == NULL || jset(rec, "Connect", json_object_get(connect)));
    if (!ok)
        goto out;
    r->svc_rec = rec;
    rec = NULL;
    rv = 0;
out:
    json_object_put(rec);
    json_object_put(tags);
    json_object_put(meta);
    json_object_put(taddrs);
    json_object_put(proxy);
    json_object_put(connect);
    return rv;
}

/* Types, defaults and the new records; nothing about the current state. */
static int reg_parse(json_object *req, struct reg *r, char *err, size_t errlen)
{
    const char *id, *dc;
    json_object *taddrs = NULL, *meta = NULL, *v;
    int rv;

    if (!json_object_is_type(req, json_type_object))
        return type_err(err, errlen, req, "body", "RegisterRequest");
    if ((rv = get_str(req, "Node", NULL, &r->node, err, errlen)) ||
        (rv = get_str(req, "Address", NULL, &r->address, err, errlen)) ||
        (rv = get_str(req, "ID", NULL, &id, err, errlen)) ||
        (rv = get_str(req, "Datacenter", NULL, &dc, err, errlen)) ||
        (rv = get_bool(req, "SkipNodeUpdate", "skip_node_update",
                       &r->skip_node_update, err, errlen)) ||
        (rv = get_map(req, "TaggedAddresses", "tagged_addresses", false,
                      &taddrs, err, errlen)) ||
        (rv = get_map(req, "NodeMeta", "node_meta", false, &meta, err, errlen)))
        goto out;
    rv = -ENOMEM;
    r->node_rec = json_object_new_object();
    if (r->node_rec == NULL ||
        !(jset(r->node_rec, "ID", json_object_new_string(id)) &&
          jset(r->node_rec, "Node", json_object_new_string(r->node)) &&
          jset(r->node_rec, "Address", json_object_new_string(r->address)) &&
          jset(r->node_rec, "Datacenter", json_object_new_string(dc)) &&
          jset(r->node_rec, "TaggedAddresses", json_object_get(taddrs)) &&
          jset(r->node_rec, "Meta", json_object_get(meta))))
        goto out;

    if ((v = fld(req, "Service", NULL)) != NULL &&
        (rv = parse_service(v, r, err, errlen)) != 0)
        goto out;
    /* Consul appends Check to Checks. */
    if ((v = fld(req, "Checks", NULL)) != NULL) {
        if (!json_object_is_type(v, json_type_array)) {
            rv = type_err(err, errlen, v, "Checks", "HealthChecks");
            goto out;
        }
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            rv = parse_check(json_object_array_get_idx(v, i), r, err, errlen);
            if (rv != 0)
                goto out;
        }
    }
    if ((v = fld(req, "Check", NULL)) != NULL &&
        (rv = parse_check(v, r, err, errlen)) != 0)
        goto out;
    rv = 0;
out:
    json_object_put(taddrs);
    json_object_put(meta);
    return rv;
}

static void reg_clear(struct reg *r)
{
    json_object_put(r->node_rec);
    json_object_put(r->svc_rec);
    free(r->svc_lname);
    for (size_t i = 0; i < r->n_chks; i++) {
        json_object_put(r->chks[i].in.definition);
        json_object_put(r->chks[i].rec);
        check_free(r->chks[i].fresh);
    }
    free(r->chks);
    svc_free(r->svc_fresh);
    name_free(r->svc_name_new);
    node_free_all(r->node_fresh);
}

static bool valid_status(const char *s)
{
    return strcmp(s, "passing") == 0 || strcmp(s, "warning") == 0 ||
           strcmp(s, "critical") == 0 || strcmp(s, "maintenance") == 0;
}

/* The HealthCheck record of `in` linked to a service record (NULL:
 * node-level), without indexes. */
static json_object *check_build(const struct chk_in *in,
                                const char *node,
                                json_object *svc_rec)
{
    json_object *rec = json_object_new_object();
    json_object *tags =
        svc_rec != NULL
            ? json_object_get(json_object_object_get(svc_rec, "Tags"))
            : json_object_new_array();
    if (rec == NULL || tags == NULL) {
        json_object_put(rec);
        json_object_put(tags);
        return NULL;
    }
    bool ok =
        jset(rec, "Node", json_object_new_string(node)) &&
        jset(rec, "CheckID", json_object_new_string(in->id)) &&
        jset(rec, "Name", json_object_new_string(in->name)) &&
        jset(rec, "Status", json_object_new_string(in->status)) &&
        jset(rec, "Notes", json_object_new_string(in->notes)) &&
        jset(rec, "Output", json_object_new_string(in->output)) &&
        jset(rec, "ServiceID",
             json_object_new_string(svc_rec ? rec_str(svc_rec, "ID") : "")) &&
        jset(rec, "ServiceName",
             json_object_new_string(svc_rec ? rec_str(svc_rec, "Service")
                                            : "")) &&
        jset(rec, "ServiceTags", tags) &&
        jset(rec, "Type", json_object_new_string(in->type)) &&
        jset(rec, "Interval", json_object_new_string(in->interval)) &&
        jset(rec, "Timeout", json_object_new_string(in->timeout)) &&
        jset(rec, "ExposedPort", json_object_new_int64(in->exposed_port)) &&
        jset(rec, "Definition", json_object_get(in->definition));
    if (!ok) {
        json_object_put(rec);
        return NULL;
    }
    return rec;
}

/* A stored check record with ServiceName / ServiceTags taken from a new
 * service record, without indexes. Shares the other values. */
static json_object *check_relink(json_object *old, json_object *svc_rec)
{
    json_object *rec = json_object_new_object();
    if (rec == NULL)
        return NULL;
    json_object_object_foreach(old, k, v)
    {
        json_object *nv;
        if (is_index_key(k))
            continue;
        if (strcmp(k, "ServiceName") == 0)
            nv = json_object_new_string(rec_str(svc_rec, "Service"));
        else if (strcmp(k, "ServiceTags") == 0)
            nv = json_object_get(json_object_object_get(svc_rec, "Tags"));
        else
            nv = json_object_get(v);
        /* Keys of a restored record belong to it: copy them. */
        if (json_object_object_add(rec, k, nv) != 0) {
            json_object_put(nv);
            json_object_put(rec);
            return NULL;
        }
    }
    return rec;
}

/* Against the current state: semantic checks, allocations, comparisons. */
static int reg_plan(struct catalog *c,
                    struct reg *r,
                    uint64_t index,
                    char *err,
                    size_t errlen)
{
    struct cat_node *node;
    json_object *svc_final = NULL; /* service record after the write */

    if (r->node[0] == '\0')
        return fail(err, errlen, "Must provide node");
    node = r->node_cur = find_node(c, r->node);
    if ((node == NULL || !r->skip_node_update) && r->address[0] == '\0')
        return fail(err, errlen, "Must provide address");
    if (r->has_svc && r->svc_name[0] == '\0')
        return fail(err, errlen,
                    r->svc_id[0] != '\0' ? "Must provide service name with ID"
                                         : "Must provide service name");
    for (size_t i = 0; i < r->n_chks; i++) {
        struct chk_in *in = &r->chks[i].in;
        if (in->id[0] == '\0')
            in->id = in->name;
        if (in->id[0] == '\0')
            return fail(err, errlen, "Must provide check ID or name");
        if (in->node[0] != '\0' && strcmp(in->node, r->node) != 0)
            return fail(err, errlen,
                        "Check node \"%s\" does not match node "
                        "\"%s\"",
                        in->node, r->node);
        if (in->status[0] == '\0')
            in->status = "critical";
        else if (!valid_status(in->status))
            return fail(err, errlen, "Invalid check status: \"%s\"",
                        in->status);
        if (in->service_id[0] != '\0' &&
            !(r->has_svc && strcmp(in->service_id, r->svc_id) == 0) &&
            (node == NULL || find_svc(node, in->service_id) == NULL))
            return fail(err, errlen, "Missing service registration");
        for (size_t j = 0; j < i; j++) {
            if (!r->chks[j].skip && strcmp(r->chks[j].in.id, in->id) == 0)
                r->chks[j].skip = true; /* the later one wins */
        }
    }

    /* Node. */
    if (node == NULL) {
        if ((r->node_fresh = node_alloc(r->node)) == NULL)
            return -ENOMEM;
        r->node_changed = true;
    } else if (!r->skip_node_update && !rec_same(r->node_rec, node->rec)) {
        r->node_changed = true;
    }
    if (r->node_changed) {
        if (!add_indexes(r->node_rec, node ? node->rec : NULL, index))
            return -ENOMEM;
    } else {
        json_object_put(r->node_rec);
        r->node_rec = NULL;
    }

    /* Service. */
    if (r->has_svc) {
        r->svc_cur = node ? find_svc(node, r->svc_id) : NULL;
        if (r->svc_cur != NULL && rec_same(r->svc_rec, r->svc_cur->rec)) {
            json_object_put(r->svc_rec);
            r->svc_rec = NULL;
            svc_final = r->svc_cur->rec;
        } else {
            r->svc_changed = true;
            if (!add_indexes(r->svc_rec, r->svc_cur ? r->svc_cur->rec : NULL,
                             index))
                return -ENOMEM;
            svc_final = r->svc_rec;
            if ((r->svc_lname = lower_dup(r->svc_name)) == NULL)
                return -ENOMEM;
            r->svc_target = find_name(c, r->svc_lname);
            if (r->svc_target == NULL) {
                r->svc_target = r->svc_name_new = name_alloc(r->svc_lname);
                if (r->svc_target == NULL)
                    return -ENOMEM;
            }
            if (r->svc_cur == NULL &&
                (r->svc_fresh = svc_alloc(r->svc_id)) == NULL)
                return -ENOMEM;
        }
    }

    /* Checks of the request. */
    size_t n_req = r->n_chks;
    for (size_t i = 0; i < n_req; i++) {
        struct chk_plan *p = &r->chks[i];
        json_object *owner_rec = NULL;
        if (p->skip)
            continue;
        if (p->in.service_id[0] != '\0') {
            if (r->has_svc && strcmp(p->in.service_id, r->svc_id) == 0) {
                p->owner = r->svc_cur ? r->svc_cur : r->svc_fresh;
                owner_rec = svc_final;
            } else {
                p->owner = find_svc(node, p->in.service_id);
                owner_rec = p->owner->rec;
            }
        }
        p->rec = check_build(&p->in, r->node, owner_rec);
        if (p->rec == NULL)
            return -ENOMEM;
        p->cur = node ? find_check(node, p->in.id) : NULL;
        if (p->cur != NULL && p->cur->svc == p->owner &&
            rec_same(p->rec, p->cur->rec)) {
            json_object_put(p->rec);
            p->rec = NULL;
            continue;
        }
        if (!add_indexes(p->rec, p->cur ? p->cur->rec : NULL, index))
            return -ENOMEM;
        if (p->cur == NULL && (p->fresh = check_alloc(p->in.id)) == NULL)
            return -ENOMEM;
    }

    /* Other checks of a re-registered service take its new name/tags. */
    if (r->svc_changed && r->svc_cur != NULL) {
        struct cat_check *k;
        RB_FOREACH (k, owned_tree, &r->svc_cur->checks) {
            bool in_req = false;
            for (size_t i = 0; i < n_req && !in_req; i++)
                in_req = strcmp(r->chks[i].in.id, k->id) == 0;
            if (in_req)
                continue;
            json_object *rec = check_relink(k->rec, svc_final);
            if (rec == NULL)
                return -ENOMEM;
            if (rec_same(rec, k->rec)) {
                json_object_put(rec);
                continue;
            }
            struct chk_plan *p;
            if (!add_indexes(rec, k->rec, index) ||
                reg_push_check(r, &p) != 0) {
                json_object_put(rec);
                return -ENOMEM;
            }
            p->cur = k;
            p->owner = r->svc_cur;
            p->rec = rec;
        }
    }
    return 0;
}

/* ------------------------------------------------------- transactions */

struct cat_txn
{
    struct catalog *c;
    uint64_t index;
    struct cat_node *node;        /* the node the write is about */
    bool nodes, services, checks; /* tables changed */
    bool node_gone;               /* node unlinked: free it at the end */
    struct cat_name *touched;
};

static void touch_name(struct cat_txn *t, struct cat_name *nm)
{
    if (nm->touched)
        return;
    nm->touched = true;
    nm->touch_next = t->touched;
    t->touched = nm;
}

/* Every service name hosted on the node (its record or a node-level check
 * changed: each of their health answers did). */
static void touch_node_names(struct cat_txn *t, struct cat_node *n)
{
    struct cat_svc *s;
    RB_FOREACH (s, svc_tree, &n->services)
        touch_name(t, s->name);
}

static void touch_owner(struct cat_txn *t, struct cat_svc *s)
{
    if (s != NULL)
        touch_name(t, s->name);
    else
        touch_node_names(t, t->node);
}

static void link_name(struct catalog *c, struct cat_name *nm)
{
    if (!nm->in_tree) {
        RB_INSERT(name_tree, &c->names, nm);
        nm->in_tree = true;
    }
}

static void inst_insert(struct catalog *c,
                        struct cat_svc *s,
                        struct cat_name *nm)
{
    link_name(c, nm);
    s->name = nm;
    RB_INSERT(inst_tree, &nm->insts, s);
    nm->n++;
}

static void inst_remove(struct cat_txn *t, struct cat_svc *s)
{
    RB_REMOVE(inst_tree, &s->name->insts, s);
    s->name->n--;
    touch_name(t, s->name);
}

static void remove_check(struct cat_txn *t, struct cat_check *k)
{
    RB_REMOVE(check_tree, &t->node->checks, k);
    RB_REMOVE(owned_tree, owner_tree(t->node, k->svc), k);
    touch_owner(t, k->svc);
    t->checks = true;
    t->c->n_checks--;
    check_free(k);
}

static void remove_svc(struct cat_txn *t, struct cat_svc *s)
{
    struct cat_check *k;
    while ((k = RB_MIN(owned_tree, &s->checks)) != NULL)
        remove_check(t, k);
    RB_REMOVE(svc_tree, &t->node->services, s);
    inst_remove(t, s);
    t->services = true;
    t->c->n_services--;
    svc_free(s);
}

static void remove_node(struct cat_txn *t)
{
    struct cat_node *n = t->node;
    struct cat_svc *s;
    struct cat_check *k;
    while ((s = RB_MIN(svc_tree, &n->services)) != NULL)
        remove_svc(t, s);
    while ((k = RB_MIN(check_tree, &n->checks)) != NULL)
        remove_check(t, k);
    RB_REMOVE(node_tree, &t->c->nodes, n);
    t->c->n_nodes--;
    t->nodes = true;
    t->node_gone = true;
}

/* Indexes, then topics (the catalog is consistent by now), then frees. */
static void cat_txn_finish(struct cat_txn *t)
{
    struct catalog *c = t->c;
    struct cat_name *nm, *next;
    if (t->nodes || t->services || t->checks) {
        if (t->index > c->index)
            c->index = t->index;
        if (t->nodes)
            c->nodes_index = t->index;
        if (t->services)
            c->services_index = t->index;
        if (t->checks)
            c->checks_index = t->index;
        t->node->index = t->index;
        for (nm = t->touched; nm != NULL; nm = nm->touch_next) {
            nm->index = t->index;
            if (nm->n == 0 && nm->in_tree) {
                RB_REMOVE(name_tree, &c->names, nm);
                nm->in_tree = false;
            }
        }
        if (t->nodes)
            emit(c, "nodes");
        if (t->services)
            emit(c, "services");
        if (t->checks)
            emit(c, "checks");
        emit(c, t->node->topic);
        for (nm = t->touched; nm != NULL; nm = nm->touch_next)
            emit(c, nm->topic);
    }
    for (nm = t->touched; nm != NULL; nm = next) {
        next = nm->touch_next;
        nm->touched = false;
        nm->touch_next = NULL;
        if (!nm->in_tree)
            name_free(nm);
    }
    t->touched = NULL;
    if (t->node_gone)
        node_free_all(t->node);
}

/* Pointer moves only: the plan allocated everything. */
static void reg_commit(struct catalog *c, struct reg *r, uint64_t index)
{
    struct cat_txn t = {.c = c, .index = index};
    struct cat_node *node = r->node_cur;

    if (node == NULL) {
        node = r->node_fresh;
        r->node_fresh = NULL;
        RB_INSERT(node_tree, &c->nodes, node);
        c->n_nodes++;
    }
    t.node = node;
    if (r->node_changed) {
        json_object_put(node->rec);
        node->rec = r->node_rec;
        r->node_rec = NULL;
        t.nodes = true;
        touch_node_names(&t, node);
    }

    if (r->svc_changed) {
        struct cat_svc *s = r->svc_cur;
        if (s == NULL) {
            s = r->svc_fresh;
            r->svc_fresh = NULL;
            s->node = node;
            RB_INSERT(svc_tree, &node->services, s);
            inst_insert(c, s, r->svc_target);
            c->n_services++;
        } else if (s->name != r->svc_target) {
            inst_remove(&t, s);
            inst_insert(c, s, r->svc_target);
        }
        if (r->svc_target == r->svc_name_new)
            r->svc_name_new = NULL; /* now in the tree */
        json_object_put(s->rec);
        s->rec = r->svc_rec;
        r->svc_rec = NULL;
        touch_name(&t, s->name);
        t.services = true;
    }

    for (size_t i = 0; i < r->n_chks; i++) {
        struct chk_plan *p = &r->chks[i];
        struct cat_check *k = p->cur;
        if (p->skip || p->rec == NULL)
            continue;
        if (k == NULL) {
            k = p->fresh;
            p->fresh = NULL;
            k->svc = p->owner;
            RB_INSERT(check_tree, &node->checks, k);
            RB_INSERT(owned_tree, owner_tree(node, k->svc), k);
            c->n_checks++;
        } else if (k->svc != p->owner) {
            RB_REMOVE(owned_tree, owner_tree(node, k->svc), k);
            touch_owner(&t, k->svc);
            k->svc = p->owner;
            RB_INSERT(owned_tree, owner_tree(node, k->svc), k);
        }
        json_object_put(k->rec);
        k->rec = p->rec;
        p->rec = NULL;
        touch_owner(&t, k->svc);
        t.checks = true;
    }
    cat_txn_finish(&t);
}

int catalog_register(struct catalog *c,
                     json_object *req,
                     uint64_t index,
                     char *err,
                     size_t errlen)
{
    struct reg r;
    memset(&r, 0, sizeof r);
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    int rv = reg_parse(req, &r, err, errlen);
    if (rv == 0)
        rv = reg_plan(c, &r, index, err, errlen);
    if (rv == 0)
        reg_commit(c, &r, index);
    else if (rv == -ENOMEM)
        fail(err, errlen, "out of memory");
    reg_clear(&r);
    return rv;
}

static int dereg_parse(json_object *req,
                       const char **node,
                       const char **sid,
                       const char **cid,
                       char *err,
                       size_t errlen)
{
    const char *dc;
    int rv;
    if (!json_object_is_type(req, json_type_object))
        return type_err(err, errlen, req, "body", "DeregisterRequest");
    if ((rv = get_str(req, "Node", NULL, node, err, errlen)) ||
        (rv = get_str(req, "Datacenter", NULL, &dc, err, errlen)) ||
        (rv = get_str(req, "ServiceID", "service_id", sid, err, errlen)) ||
        (rv = get_str(req, "CheckID", "check_id", cid, err, errlen)))
        return rv;
    return 0;
}

int catalog_deregister(struct catalog *c,
                       json_object *req,
                       uint64_t index,
                       char *err,
                       size_t errlen)
{
    const char *node, *sid, *cid;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    int rv = dereg_parse(req, &node, &sid, &cid, err, errlen);
    if (rv != 0)
        return rv;
    if (node[0] == '\0')
        return fail(err, errlen, "Must provide node");
    struct cat_txn t = {.c = c, .index = index, .node = find_node(c, node)};
    if (t.node == NULL)
        return 0;
    if (sid[0] != '\0') {
        struct cat_svc *s = find_svc(t.node, sid);
        if (s != NULL)
            remove_svc(&t, s);
    }
    if (cid[0] != '\0') {
        struct cat_check *k = find_check(t.node, cid);
        if (k != NULL)
            remove_check(&t, k);
    }
    if (sid[0] == '\0' && cid[0] == '\0')
        remove_node(&t);
    cat_txn_finish(&t);
    return 0;
}

int catalog_validate(json_object *req,
                     bool deregister,
                     char *err,
                     size_t errlen)
{
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (deregister) {
        const char *node, *sid, *cid;
        return dereg_parse(req, &node, &sid, &cid, err, errlen);
    }
    struct reg r;
    memset(&r, 0, sizeof r);
    int rv = reg_parse(req, &r, err, errlen);
    reg_clear(&r);
    return rv;
}

/* ---------------------------------------------------------------- reads */

static uint64_t or_any(const struct catalog *c, uint64_t v)
{
    return v != 0 ? v : c->index;
}

static void set_index(uint64_t *out, uint64_t v)
{
    if (out != NULL)
        *out = v;
}

json_object *catalog_nodes(const struct catalog *c, uint64_t *index)
{
    struct cat_node *n;
    json_object *a = new_array(c->n_nodes);
    set_index(index, or_any(c, c->nodes_index));
    if (a == NULL)
        return NULL;
    RB_FOREACH (n, node_tree, (struct node_tree *)&c->nodes) {
        if (!jpush(a, json_object_get(n->rec))) {
            json_object_put(a);
            return NULL;
        }
    }
    return a;
}

struct svc_ref
{
    const char *name;
    json_object *tags;
};

static int svc_ref_cmp(const void *a, const void *b)
{
    return strcmp(((const struct svc_ref *)a)->name,
                  ((const struct svc_ref *)b)->name);
}

static int tag_cmp(const void *a, const void *b)
{
    return strcmp(json_object_get_string(*(json_object *const *)a),
                  json_object_get_string(*(json_object *const *)b));
}

static json_object *catalog_service_build(const struct cat_svc *s);
static json_object *services_build(const struct catalog *c,
                                   catalog_inst_cb keep,
                                   void *data,
                                   int *rc);

json_object *catalog_services(const struct catalog *c, uint64_t *index)
{
    /* The cache is not part of the catalog's value: const-ness holds. */
    struct catalog *mc = (struct catalog *)c;
    if (mc->services_cache == NULL ||
        mc->services_cache_index != c->services_index) {
        json_object_put(mc->services_cache);
        mc->services_cache = services_build(c, NULL, NULL, NULL);
        mc->services_cache_index = c->services_index;
    }
    set_index(index, or_any(c, c->services_index));
    return mc->services_cache ? json_object_get(mc->services_cache) : NULL;
}

json_object *catalog_services_where(const struct catalog *c,
                                    catalog_inst_cb keep,
                                    void *data,
                                    uint64_t *index,
                                    int *rc)
{
    set_index(index, or_any(c, c->services_index));
    return services_build(c, keep, data, rc);
}

/* The {name: [tags]} map over every instance, or (keep not NULL) over the
 * instances keep accepts, each shown to it as its CatalogService record.
 * NULL with *rc (if rc) = keep's error or -ENOMEM. */
static json_object *services_build(const struct catalog *c,
                                   catalog_inst_cb keep,
                                   void *data,
                                   int *rc)
{
    struct svc_ref *refs = calloc(c->n_services + 1, sizeof *refs);
    json_object **tags = NULL;
    json_object *out = json_object_new_object();
    size_t n = 0, n_tags = 0, cap_tags = 0;
    struct cat_name *nm;
    struct cat_svc *s;
    int err = -ENOMEM;

    if (refs == NULL || out == NULL)
        goto oom;
    RB_FOREACH (nm, name_tree, (struct name_tree *)&c->names) {
        RB_FOREACH (s, inst_tree, &nm->insts) {
            if (n >= c->n_services)
                continue;
            if (keep != NULL) {
                json_object *inst = catalog_service_build(s);
                int k = inst != NULL ? keep(data, inst) : -ENOMEM;
                json_object_put(inst);
                if (k < 0) {
                    err = k;
                    goto oom;
                }
                if (k == 0)
                    continue;
            }
            /* borrowed from s->rec, which outlives this call */
            refs[n].name = rec_str(s->rec, "Service");
            refs[n].tags = json_object_object_get(s->rec, "Tags");
            n++;
        }
    }
    if (n > 1)
        qsort(refs, n, sizeof *refs, svc_ref_cmp);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        n_tags = 0;
        for (; j < n && strcmp(refs[j].name, refs[i].name) == 0; j++) {
            size_t nt = json_object_is_type(refs[j].tags, json_type_array)
                            ? json_object_array_length(refs[j].tags)
                            : 0;
            for (size_t k = 0; k < nt; k++) {
                json_object *t = json_object_array_get_idx(refs[j].tags, k);
                if (!json_object_is_type(t, json_type_string))
                    continue;
                if (n_tags == cap_tags) {
                    size_t cap = cap_tags ? 2 * cap_tags : 16;
                    json_object **p = realloc(tags, cap * sizeof *p);
                    if (p == NULL)
                        goto oom;
                    tags = p;
                    cap_tags = cap;
                }
                tags[n_tags++] = t;
            }
        }
        if (n_tags > 1)
            qsort(tags, n_tags, sizeof *tags, tag_cmp);
        json_object *arr = new_array(n_tags);
        if (arr == NULL)
            goto oom;
        for (size_t k = 0; k < n_tags; k++) {
            if (k > 0 && tag_cmp(&tags[k - 1], &tags[k]) == 0)
                continue;
            if (!jpush(arr, json_object_get(tags[k]))) {
                json_object_put(arr);
                goto oom;
            }
        }
        if (json_object_object_add(out, refs[i].name, arr) != 0) {
            json_object_put(arr);
            goto oom;
        }
        i = j;
    }
    free(refs);
    free(tags);
    if (rc != NULL)
        *rc = 0;
    return out;
oom:
    free(refs);
    free(tags);
    json_object_put(out);
    if (rc != NULL)
        *rc = err;
    return NULL;
}

/* The name structure for a service name given in any case, and the index a
 * read by that name reports. */
static struct cat_name *lookup_name(const struct catalog *c,
                                    const char *name,
                                    uint64_t *index)
{
    char *l = lower_dup(name);
    struct cat_name *nm = l != NULL ? find_name(c, l) : NULL;
    free(l);
    set_index(index, nm != NULL ? nm->index : or_any(c, c->services_index));
    return nm;
}

static struct cat_node *lookup_node(const struct catalog *c,
                                    const char *node,
                                    uint64_t *index)
{
    struct cat_node *n = find_node(c, node);
    set_index(index, n != NULL ? n->index : or_any(c, c->nodes_index));
    return n;
}

/* Consul's CatalogService: node fields, then Service* fields. */
static json_object *catalog_service_build(const struct cat_svc *s)
{
    json_object *o = json_object_new_object();
    json_object *nr = s->node->rec, *sr = s->rec, *v;
    if (o == NULL)
        return NULL;
    bool ok =
        jref(o, "ID", nr, "ID") && jref(o, "Node", nr, "Node") &&
        jref(o, "Address", nr, "Address") &&
        jref(o, "Datacenter", nr, "Datacenter") &&
        jref(o, "TaggedAddresses", nr, "TaggedAddresses") &&
        jref(o, "NodeMeta", nr, "Meta") &&
        jset(o, "ServiceKind", json_object_new_string(rec_str(sr, "Kind"))) &&
        jref(o, "ServiceID", sr, "ID") &&
        jref(o, "ServiceName", sr, "Service") &&
        jref(o, "ServiceTags", sr, "Tags") &&
        jref(o, "ServiceAddress", sr, "Address") &&
        ((v = json_object_object_get(sr, "TaggedAddresses")) != NULL
             ? jset(o, "ServiceTaggedAddresses", json_object_get(v))
             : jset(o, "ServiceTaggedAddresses", json_object_new_object())) &&
        jref(o, "ServiceWeights", sr, "Weights") &&
        jref(o, "ServiceMeta", sr, "Meta") &&
        jref(o, "ServicePort", sr, "Port") &&
        jset(o, "ServiceSocketPath",
             json_object_new_string(rec_str(sr, "SocketPath"))) &&
        jref(o, "ServiceEnableTagOverride", sr, "EnableTagOverride") &&
        ((v = json_object_object_get(sr, "Proxy")) != NULL
             ? jset(o, "ServiceProxy", json_object_get(v))
             : jset(o, "ServiceProxy", json_object_new_object())) &&
        ((v = json_object_object_get(sr, "Connect")) != NULL
             ? jset(o, "ServiceConnect", json_object_get(v))
             : jset(o, "ServiceConnect", json_object_new_object())) &&
        jref(o, "CreateIndex", sr, "CreateIndex") &&
        jref(o, "ModifyIndex", sr, "ModifyIndex");
    if (!ok) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

json_object *catalog_service_nodes(const struct catalog *c,
                                   const char *name,
                                   uint64_t *index)
{
    struct cat_name *nm = lookup_name(c, name, index);
    json_object *a = new_array(nm ? nm->n : 0);
    struct cat_svc *s;
    if (a == NULL || nm == NULL)
        return a;
    RB_FOREACH (s, inst_tree, &nm->insts) {
        if (!jpush(a, catalog_service_build(s))) {
            json_object_put(a);
            return NULL;
        }
    }
    return a;
}

json_object *catalog_node_services(const struct catalog *c,
                                   const char *node,
                                   uint64_t *index)
{
    struct cat_node *n = lookup_node(c, node, index);
    struct cat_svc *s;
    if (n == NULL)
        return NULL;
    json_object *o = json_object_new_object();
    json_object *svcs = json_object_new_object();
    if (o == NULL || svcs == NULL) {
        json_object_put(o);
        json_object_put(svcs);
        return NULL;
    }
    if (!jset(o, "Node", json_object_get(n->rec)) || !jset(o, "Services", svcs))
        goto oom;
    RB_FOREACH (s, svc_tree, &n->services) {
        json_object *r = json_object_get(s->rec);
        if (json_object_object_add(svcs, s->id, r) != 0) {
            json_object_put(r);
            goto oom;
        }
    }
    return o;
oom:
    json_object_put(o);
    return NULL;
}

/* Append the checks of `tree` whose status passes `state` (NULL: all). */
static bool push_checks(json_object *a,
                        struct owned_tree *tree,
                        const char *state)
{
    struct cat_check *k;
    RB_FOREACH (k, owned_tree, tree) {
        if (state != NULL && strcmp(rec_str(k->rec, "Status"), state) != 0)
            continue;
        if (!jpush(a, json_object_get(k->rec)))
            return false;
    }
    return true;
}

/* Node-level checks, then service checks, each group by CheckID. */
static bool push_node_checks(json_object *a,
                             struct cat_node *n,
                             const char *state)
{
    struct cat_check *k;
    if (!push_checks(a, &n->node_checks, state))
        return false;
    RB_FOREACH (k, check_tree, &n->checks) {
        if (k->svc == NULL ||
            (state != NULL && strcmp(rec_str(k->rec, "Status"), state) != 0))
            continue;
        if (!jpush(a, json_object_get(k->rec)))
            return false;
    }
    return true;
}

json_object *catalog_health_node(const struct catalog *c,
                                 const char *node,
                                 uint64_t *index)
{
    struct cat_node *n = lookup_node(c, node, index);
    json_object *a = json_object_new_array();
    if (a == NULL || n == NULL)
        return a;
    if (!push_node_checks(a, n, NULL)) {
        json_object_put(a);
        return NULL;
    }
    return a;
}

json_object *catalog_health_checks(const struct catalog *c,
                                   const char *name,
                                   uint64_t *index)
{
    struct cat_name *nm = lookup_name(c, name, index);
    json_object *a = json_object_new_array();
    struct cat_svc *s;
    if (a == NULL || nm == NULL)
        return a;
    RB_FOREACH (s, inst_tree, &nm->insts) {
        if (!push_checks(a, &s->checks, NULL)) {
            json_object_put(a);
            return NULL;
        }
    }
    return a;
}

json_object *catalog_health_service(const struct catalog *c,
                                    const char *name,
                                    uint64_t *index)
{
    struct cat_name *nm = lookup_name(c, name, index);
    json_object *a = new_array(nm ? nm->n : 0);
    struct cat_svc *s;
    if (a == NULL || nm == NULL)
        return a;
    RB_FOREACH (s, inst_tree, &nm->insts) {
        json_object *e = json_object_new_object();
        json_object *checks = json_object_new_array();
        bool ok = e != NULL && checks != NULL &&
                  push_checks(checks, &s->node->node_checks, NULL) &&
                  push_checks(checks, &s->checks, NULL);
        if (!ok) {
            json_object_put(checks);
            json_object_put(e);
            json_object_put(a);
            return NULL;
        }
        ok = jset(e, "Node", json_object_get(s->node->rec)) &&
             jset(e, "Service", json_object_get(s->rec)) &&
             jset(e, "Checks", checks) && jpush(a, e);
        if (!ok) {
            json_object_put(a);
            return NULL;
        }
    }
    return a;
}

json_object *catalog_health_state(const struct catalog *c,
                                  const char *state,
                                  uint64_t *index,
                                  int *rc)
{
    struct cat_node *n;
    int dummy;
    if (rc == NULL)
        rc = &dummy;
    *rc = 0;
    set_index(index, or_any(c, c->checks_index));
    if (state == NULL ||
        (strcmp(state, "any") != 0 && strcmp(state, "passing") != 0 &&
         strcmp(state, "warning") != 0 && strcmp(state, "critical") != 0)) {
        *rc = -EINVAL;
        return NULL;
    }
    const char *filter = strcmp(state, "any") == 0 ? NULL : state;
    json_object *a = json_object_new_array();
    if (a == NULL)
        goto oom;
    RB_FOREACH (n, node_tree, (struct node_tree *)&c->nodes) {
        if (!push_node_checks(a, n, filter)) {
            json_object_put(a);
            goto oom;
        }
    }
    return a;
oom:
    *rc = -ENOMEM;
    return NULL;
}

/* ------------------------------------------------------- direct access */

const json_object *catalog_get_node(const struct catalog *c, const char *node)
{
    struct cat_node *n = find_node(c, node);
    return n != NULL ? n->rec : NULL;
}

const json_object *catalog_get_service(const struct catalog *c,
                                       const char *node,
                                       const char *service_id)
{
    struct cat_node *n = find_node(c, node);
    struct cat_svc *s = n != NULL ? find_svc(n, service_id) : NULL;
    return s != NULL ? s->rec : NULL;
}

const json_object *catalog_get_check(const struct catalog *c,
                                     const char *node,
                                     const char *check_id)
{
    struct cat_node *n = find_node(c, node);
    struct cat_check *k = n != NULL ? find_check(n, check_id) : NULL;
    return k != NULL ? k->rec : NULL;
}

size_t catalog_node_foreach_service(const struct catalog *c,
                                    const char *node,
                                    catalog_visit_cb cb,
                                    void *data)
{
    struct cat_node *n = find_node(c, node);
    struct cat_svc *s;
    size_t count = 0;
    if (n == NULL)
        return 0;
    RB_FOREACH (s, svc_tree, &n->services) {
        cb(data, s->id, s->rec);
        count++;
    }
    return count;
}

size_t catalog_node_foreach_check(const struct catalog *c,
                                  const char *node,
                                  catalog_visit_cb cb,
                                  void *data)
{
    struct cat_node *n = find_node(c, node);
    struct cat_check *k;
    size_t count = 0;
    if (n == NULL)
        return 0;
    RB_FOREACH (k, check_tree, &n->checks) {
        cb(data, k->id, k->rec);
        count++;
    }
    return count;
}

uint64_t catalog_index(const struct catalog *c)
{
    return c->index;
}

size_t catalog_count_nodes(const struct catalog *c)
{
    return c->n_nodes;
}

size_t catalog_count_services(const struct catalog *c)
{
    return c->n_services;
}

size_t catalog_count_checks(const struct catalog *c)
{
    return c->n_checks;
}

/* ------------------------------------------------------------ snapshots */

/*
 * Snapshot document (compact JSON):
 *   {"Index":u64,"NodesIndex":u64,"ServicesIndex":u64,"ChecksIndex":u64,
 *    "Nodes":[{"Index":u64,"Node":Node,"Services":[AgentService],
 *              "Checks":[HealthCheck]}, ...],
 *    "Names":[{"Name":"<lower-cased>","Index":u64}, ...]}
 * Records are printed as stored; a check's owner is its ServiceID.
 */

struct pin_node
{
    uint64_t index;
    size_t first; /* node record at recs[first], then services, checks */
    size_t n_svcs, n_chks;
};

struct pin_name
{
    uint64_t index;
    char *lname;
};

struct catalog_pin
{
    uint64_t index, nodes_index, services_index, checks_index;
    struct pin_node *nodes;
    size_t n_nodes;
    json_object **recs;
    size_t n_recs;
    struct pin_name *names;
    size_t n_names;
};

struct catalog_pin *catalog_pin(const struct catalog *c)
{
    struct catalog_pin *p = calloc(1, sizeof *p);
    struct cat_node *n;
    struct cat_name *nm;
    size_t n_names = 0;
    if (p == NULL)
        return NULL;
    RB_FOREACH (nm, name_tree, (struct name_tree *)&c->names)
        n_names++;
    p->nodes = calloc(c->n_nodes + 1, sizeof *p->nodes);
    p->recs =
        calloc(c->n_nodes + c->n_services + c->n_checks + 1, sizeof *p->recs);
    p->names = calloc(n_names + 1, sizeof *p->names);
    if (p->nodes == NULL || p->recs == NULL || p->names == NULL)
        goto oom;
    p->index = c->index;
    p->nodes_index = c->nodes_index;
    p->services_index = c->services_index;
    p->checks_index = c->checks_index;
    RB_FOREACH (n, node_tree, (struct node_tree *)&c->nodes) {
        struct pin_node *pn = &p->nodes[p->n_nodes++];
        struct cat_svc *s;
        struct cat_check *k;
        pn->index = n->index;
        pn->first = p->n_recs;
        p->recs[p->n_recs++] = json_object_get(n->rec);
        RB_FOREACH (s, svc_tree, &n->services) {
            p->recs[p->n_recs++] = json_object_get(s->rec);
            pn->n_svcs++;
        }
        RB_FOREACH (k, check_tree, &n->checks) {
            p->recs[p->n_recs++] = json_object_get(k->rec);
            pn->n_chks++;
        }
    }
    RB_FOREACH (nm, name_tree, (struct name_tree *)&c->names) {
        struct pin_name *pm = &p->names[p->n_names];
        pm->index = nm->index;
        if ((pm->lname = strdup(nm->lname)) == NULL)
            goto oom;
        p->n_names++;
    }
    return p;
oom:
    catalog_pin_free(p);
    return NULL;
}

void catalog_pin_free(struct catalog_pin *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n_recs; i++)
        json_object_put(p->recs[i]);
    for (size_t i = 0; i < p->n_names; i++)
        free(p->names[i].lname);
    free(p->recs);
    free(p->nodes);
    free(p->names);
    free(p);
}

static void sbuf_u64(struct sbuf *b, const char *key, uint64_t v)
{
    char tmp[64];
    int n = snprintf(tmp, sizeof tmp, "\"%s\":%" PRIu64, key, v);
    sbuf_put(b, tmp, (size_t)n);
}

/* json_dump only reads `o`: safe on records pinned by the loop thread. */
static void sbuf_json(struct sbuf *b, json_object *o)
{
    size_t n;
    char *s = json_dump(o, false, &n);
    if (s == NULL) {
        b->oom = true;
        return;
    }
    sbuf_put(b, s, n);
    free(s);
}

int catalog_pin_write(const struct catalog_pin *p, char **buf, size_t *len)
{
    struct sbuf b = {0};
    sbuf_puts(&b, "{");
    sbuf_u64(&b, "Index", p->index);
    sbuf_puts(&b, ",");
    sbuf_u64(&b, "NodesIndex", p->nodes_index);
    sbuf_puts(&b, ",");
    sbuf_u64(&b, "ServicesIndex", p->services_index);
    sbuf_puts(&b, ",");
    sbuf_u64(&b, "ChecksIndex", p->checks_index);
    sbuf_puts(&b, ",\"Nodes\":[");
    for (size_t i = 0; i < p->n_nodes; i++) {
        const struct pin_node *pn = &p->nodes[i];
        json_object *const *r = p->recs + pn->first;
        sbuf_puts(&b, i ? ",{" : "{");
        sbuf_u64(&b, "Index", pn->index);
        sbuf_puts(&b, ",\"Node\":");
        sbuf_json(&b, r[0]);
        sbuf_puts(&b, ",\"Services\":[");
        for (size_t j = 0; j < pn->n_svcs; j++) {
            if (j)
                sbuf_puts(&b, ",");
            sbuf_json(&b, r[1 + j]);
        }
        sbuf_puts(&b, "],\"Checks\":[");
        for (size_t j = 0; j < pn->n_chks; j++) {
            if (j)
                sbuf_puts(&b, ",");
            sbuf_json(&b, r[1 + pn->n_svcs + j]);
        }
        sbuf_puts(&b, "]}");
    }
    sbuf_puts(&b, "],\"Names\":[");
    for (size_t i = 0; i < p->n_names; i++) {
        /* A private string object, so the name is escaped as JSON. */
        json_object *s = json_object_new_string(p->names[i].lname);
        if (s == NULL) {
            b.oom = true;
            break;
        }
        sbuf_puts(&b, i ? ",{\"Name\":" : "{\"Name\":");
        sbuf_json(&b, s);
        json_object_put(s);
        sbuf_puts(&b, ",");
        sbuf_u64(&b, "Index", p->names[i].index);
        sbuf_puts(&b, "}");
    }
    sbuf_puts(&b, "]}");
    if (b.oom) {
        free(b.p);
        return -ENOMEM;
    }
    *buf = b.p;
    *len = b.len;
    return 0;
}

static int get_u64_field(json_object *o, const char *k, uint64_t *out)
{
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v))
        return -EINVAL;
    return json_get_u64(v, out);
}

static json_object *get_typed(json_object *o,
                              const char *k,
                              enum json_type type)
{
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, type))
        return NULL;
    return v;
}

/* A non-empty string field, or NULL. */
static const char *get_id(json_object *o, const char *k)
{
    json_object *v = get_typed(o, k, json_type_string);
    const char *s = v != NULL ? json_object_get_string(v) : NULL;
    return s != NULL && s[0] != '\0' ? s : NULL;
}

/* Build one node of a snapshot into catalog `c` (no notifications). */
static int restore_node(struct catalog *c, json_object *e)
{
    json_object *rec = get_typed(e, "Node", json_type_object);
    json_object *svcs = get_typed(e, "Services", json_type_array);
    json_object *chks = get_typed(e, "Checks", json_type_array);
    const char *name = rec != NULL ? get_id(rec, "Node") : NULL;
    uint64_t index;
    if (name == NULL || svcs == NULL || chks == NULL ||
        get_u64_field(e, "Index", &index) != 0 || find_node(c, name) != NULL)
        return -EINVAL;
    struct cat_node *n = node_alloc(name);
    if (n == NULL)
        return -ENOMEM;
    n->rec = json_object_get(rec);
    n->index = index;
    RB_INSERT(node_tree, &c->nodes, n);
    c->n_nodes++;

    for (size_t i = 0; i < json_object_array_length(svcs); i++) {
        json_object *sr = json_object_array_get_idx(svcs, i);
        const char *id = get_id(sr, "ID");
        const char *sname = get_id(sr, "Service");
        if (id == NULL || sname == NULL || find_svc(n, id) != NULL)
            return -EINVAL;
        char *lname = lower_dup(sname);
        if (lname == NULL)
            return -ENOMEM;
        struct cat_name *nm = find_name(c, lname);
        if (nm == NULL)
            nm = name_alloc(lname);
        free(lname);
        struct cat_svc *s = nm != NULL ? svc_alloc(id) : NULL;
        if (s == NULL) {
            if (nm != NULL && !nm->in_tree)
                name_free(nm);
            return -ENOMEM;
        }
        s->node = n;
        s->rec = json_object_get(sr);
        RB_INSERT(svc_tree, &n->services, s);
        inst_insert(c, s, nm);
        c->n_services++;
    }
    for (size_t i = 0; i < json_object_array_length(chks); i++) {
        json_object *kr = json_object_array_get_idx(chks, i);
        const char *id = get_id(kr, "CheckID");
        json_object *sidv;
        const char *sid = "";
        struct cat_svc *owner = NULL;
        if (id == NULL || find_check(n, id) != NULL)
            return -EINVAL;
        if (json_object_object_get_ex(kr, "ServiceID", &sidv)) {
            if (!json_object_is_type(sidv, json_type_string))
                return -EINVAL;
            sid = json_object_get_string(sidv);
        }
        if (sid[0] != '\0' && (owner = find_svc(n, sid)) == NULL)
            return -EINVAL;
        struct cat_check *k = check_alloc(id);
        if (k == NULL)
            return -ENOMEM;
        k->svc = owner;
        k->rec = json_object_get(kr);
        RB_INSERT(check_tree, &n->checks, k);
        RB_INSERT(owned_tree, owner_tree(n, owner), k);
        c->n_checks++;
    }
    return 0;
}

static int restore_build(struct catalog *tmp, json_object *doc)
{
    json_object *nodes = get_typed(doc, "Nodes", json_type_array);
    json_object *names = get_typed(doc, "Names", json_type_array);
    struct cat_name *nm;
    int rv;
    if (!json_object_is_type(doc, json_type_object) || nodes == NULL ||
        names == NULL || get_u64_field(doc, "Index", &tmp->index) != 0 ||
        get_u64_field(doc, "NodesIndex", &tmp->nodes_index) != 0 ||
        get_u64_field(doc, "ServicesIndex", &tmp->services_index) != 0 ||
        get_u64_field(doc, "ChecksIndex", &tmp->checks_index) != 0)
        return -EINVAL;
    for (size_t i = 0; i < json_object_array_length(nodes); i++) {
        json_object *e = json_object_array_get_idx(nodes, i);
        if (!json_object_is_type(e, json_type_object))
            return -EINVAL;
        if ((rv = restore_node(tmp, e)) != 0)
            return rv;
    }
    /* A name without an entry (not written by us) gets the table index. */
    RB_FOREACH (nm, name_tree, &tmp->names)
        nm->index = tmp->services_index;
    for (size_t i = 0; i < json_object_array_length(names); i++) {
        json_object *e = json_object_array_get_idx(names, i);
        const char *lname = get_id(e, "Name");
        uint64_t index;
        if (lname == NULL || get_u64_field(e, "Index", &index) != 0)
            return -EINVAL;
        if ((nm = find_name(tmp, lname)) != NULL)
            nm->index = index;
    }
    return 0;
}

static void emit_all(const struct catalog *c,
                     const struct node_tree *nodes,
                     const struct name_tree *names)
{
    struct cat_node *n;
    struct cat_name *nm;
    RB_FOREACH (n, node_tree, (struct node_tree *)nodes)
        emit(c, n->topic);
    RB_FOREACH (nm, name_tree, (struct name_tree *)names)
        emit(c, nm->topic);
}

int catalog_restore(struct catalog *c, const char *buf, size_t len)
{
    json_object *doc = json_parse(buf, len, NULL, 0);
    if (doc == NULL)
        return -EINVAL;
    struct catalog *tmp = catalog_new();
    if (tmp == NULL) {
        json_object_put(doc);
        return -ENOMEM;
    }
    int rv = restore_build(tmp, doc);
    json_object_put(doc); /* the records keep their own references */
    if (rv != 0) {
        catalog_free(tmp);
        return rv;
    }

    /* Swap contents: tmp ends up holding the old one. */
    struct catalog old = *c;
    c->nodes = tmp->nodes;
    c->names = tmp->names;
    c->n_nodes = tmp->n_nodes;
    c->n_services = tmp->n_services;
    c->n_checks = tmp->n_checks;
    c->index = tmp->index;
    c->nodes_index = tmp->nodes_index;
    c->services_index = tmp->services_index;
    json_object_put(c->services_cache); /* content replaced wholesale */
    c->services_cache = NULL;
    c->checks_index = tmp->checks_index;
    tmp->nodes = old.nodes;
    tmp->names = old.names;

    emit(c, "nodes");
    emit(c, "services");
    emit(c, "checks");
    emit_all(c, &c->nodes, &c->names);
    emit_all(c, &tmp->nodes, &tmp->names);
    catalog_free(tmp);
    return 0;
}
