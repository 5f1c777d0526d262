/* local — see local.h. */
#include "local.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "json.h"
#include "log.h"
#include "rbtree.h"

#define NODE_MAINT_ID "_node_maintenance"
#define SERVICE_MAINT_PREFIX "_service_maintenance:"
#define NODE_MAINT_DEFAULT                                                    \
    "Maintenance mode is enabled for this node, but no reason was "           \
    "provided. This is a default message."
#define SERVICE_MAINT_DEFAULT                                                 \
    "Maintenance mode is enabled for this service, but no reason was "        \
    "provided. This is a default message."

struct svc_node
{
    RB_ENTRY(svc_node) link;
    struct local_service s;
};
struct chk_node
{
    RB_ENTRY(chk_node) link;
    struct local_check c;
};

static int svc_cmp(const struct svc_node *a, const struct svc_node *b)
{
    return strcmp(a->s.id, b->s.id);
}
static int chk_cmp(const struct chk_node *a, const struct chk_node *b)
{
    return strcmp(a->c.id, b->c.id);
}
RB_HEAD(svc_tree, svc_node);
RB_HEAD(chk_tree, chk_node);
RB_GENERATE_STATIC(svc_tree, svc_node, link, svc_cmp)
RB_GENERATE_STATIC(chk_tree, chk_node, link, chk_cmp)

struct removed
{
    char *id;
    struct removed *next;
};

/* One pending file write or unlink, done on the thread pool in order. */
struct pwrite
{
    char *path;
    char *data; /* NULL: unlink */
    uint64_t seq;
    struct pwrite *next;
    struct local *l;
};

/* Someone waiting for every write up to `seq` to be on disk. */
struct pwaiter
{
    uint64_t seq;
    void (*cb)(void *data);
    void *data;
    struct pwaiter *next;
};

struct local
{
    uv_loop_t *loop;
    struct check_env *env;
    char *dir; /* persist dir or NULL */
    struct svc_tree services;
    struct chk_tree checks;
    unsigned long n_services, n_checks;
    struct watch_hub *watch;
    struct removed *removed_services, *removed_checks;
    void (*on_change)(void *);
    void *data;
    struct pwrite *pw_head, *pw_tail; /* queued writes */
    bool pw_running;
    uint64_t pw_queued; /* sequence of the last write queued */
    uint64_t pw_done;   /* every write up to this one is on disk */
    struct pwaiter *pw_waiters;
    bool freeing;
};

/* ---------------------------------------------------------- persistence */

/* One batch of writes on the thread pool: every temp file written, one
 * syncfs, every rename or unlink, one more syncfs (so the renames are
 * durable too). Two filesystem syncs per batch instead of one fsync per
 * file keeps concurrent registrations from queueing behind each other. */
struct pbatch
{
    uv_work_t work;
    struct local *l;
    struct pwrite *items; /* in order */
    char *dir;
};

static void pw_run(uv_work_t *w)
{
    struct pbatch *b = w->data;
    char tmp[4200];
    for (struct pwrite *p = b->items; p; p = p->next) {
        if (p->data == NULL)
            continue;
        snprintf(tmp, sizeof tmp, "%s.tmp", p->path);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0)
            continue;
        size_t len = strlen(p->data);
        if (write(fd, p->data, len) != (ssize_t)len) {
            close(fd);
            unlink(tmp);
            continue;
        }
        close(fd);
    }
    int dfd = open(b->dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0)
        syncfs(dfd);
    for (struct pwrite *p = b->items; p; p = p->next) {
        if (p->data == NULL) {
            unlink(p->path);
            continue;
        }
        snprintf(tmp, sizeof tmp, "%s.tmp", p->path);
        if (rename(tmp, p->path) != 0)
            unlink(tmp);
    }
    if (dfd >= 0) {
        syncfs(dfd);
        close(dfd);
    }
}

static void pw_next(struct local *l);

/* Fire the waiters whose writes are all on disk. */
static void pw_notify(struct local *l)
{
    struct pwaiter **pp = &l->pw_waiters;
    while (*pp) {
        struct pwaiter *w = *pp;
        if (w->seq > l->pw_done) {
            pp = &w->next;
            continue;
        }
        *pp = w->next;
        w->cb(w->data);
        free(w);
    }
}

static void pw_done(uv_work_t *w, int status)
{
    struct pbatch *b = w->data;
    struct local *l = b->l;
    (void)status;
    l->pw_running = false;
    while (b->items) {
        struct pwrite *p = b->items;
        b->items = p->next;
        l->pw_done = p->seq;
        free(p->path);
        free(p->data);
        free(p);
    }
    free(b);
    pw_notify(l);
    if (l->freeing && l->pw_head == NULL) {
        free(l->dir);
        free(l);
        return;
    }
    pw_next(l);
}

static void pw_next(struct local *l)
{
    if (l->pw_running || l->pw_head == NULL)
        return;
    struct pbatch *b = calloc(1, sizeof *b);
    if (b == NULL)
        return; /* retried on the next write */
    b->l = l;
    b->dir = l->dir;
    b->items = l->pw_head; /* the whole queue */
    l->pw_head = l->pw_tail = NULL;
    b->work.data = b;
    l->pw_running = true;
    if (uv_queue_work(l->loop, &b->work, pw_run, pw_done) != 0) {
        /* Cannot happen with a live loop; put the writes back. */
        l->pw_running = false;
        l->pw_head = b->items;
        struct pwrite *t = b->items;
        while (t && t->next)
            t = t->next;
        l->pw_tail = t;
        free(b);
    }
}

/* File for an entity: <dir>/<kind>/<hex digest of id>.json. */
static void entity_path(struct local *l, const char *kind, const char *id,
                        char *out, size_t len)
{
    uint8_t h[16];
    char hex[33];
    crypto_generichash(h, sizeof h, (const uint8_t *)id, strlen(id), NULL, 0);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    snprintf(out, len, "%s/%s/%s.json", l->dir, kind, hex);
}

static void persist(struct local *l, const char *kind, const char *id,
                    json_object *o)
{
    if (l->dir == NULL)
        return;
    struct pwrite *p = calloc(1, sizeof *p);
    char path[4096];
    if (p == NULL)
        return;
    entity_path(l, kind, id, path, sizeof path);
    p->l = l;
    p->path = strdup(path);
    p->data = o ? json_dump(o, false, NULL) : NULL;
    if (p->path == NULL || (o && p->data == NULL)) {
        free(p->path);
        free(p->data);
        free(p);
        return;
    }
    p->seq = ++l->pw_queued;
    if (l->pw_tail)
        l->pw_tail->next = p;
    else
        l->pw_head = p;
    l->pw_tail = p;
    pw_next(l);
}

int local_sync_wait(struct local *l, void (*cb)(void *data), void *data)
{
    if (l->pw_done >= l->pw_queued)
        return 1;
    struct pwaiter *w = malloc(sizeof *w);
    if (w == NULL)
        return -ENOMEM;
    w->seq = l->pw_queued;
    w->cb = cb;
    w->data = data;
    w->next = l->pw_waiters;
    l->pw_waiters = w;
    return 0;
}

/* --------------------------------------------------------------- change */

static void changed(struct local *l, const char *service_id)
{
    char topic[600];
    if (service_id && *service_id) {
        snprintf(topic, sizeof topic, "service:%s", service_id);
        watch_notify(l->watch, topic);
    }
    watch_notify(l->watch, "checks");
    if (l->on_change)
        l->on_change(l->data);
}

static void push_removed(struct removed **list, const char *id)
{
    struct removed *r = malloc(sizeof *r);
    if (r == NULL)
        return;
    r->id = strdup(id);
    if (r->id == NULL) {
        free(r);
        return;
    }
    r->next = *list;
    *list = r;
}

static char *pop_removed(struct removed **list)
{
    struct removed *r = *list;
    if (r == NULL)
        return NULL;
    *list = r->next;
    char *id = r->id;
    free(r);
    return id;
}

char *local_pop_removed_service(struct local *l)
{
    return pop_removed(&l->removed_services);
}

char *local_pop_removed_check(struct local *l)
{
    return pop_removed(&l->removed_checks);
}

/* -------------------------------------------------------------- runners */

static void on_result(void *data, enum check_status st, const char *output)
{
    struct local_check *c = data;
    struct local *l = c->owner;
    const char *name = check_status_name(st);
    bool same = strcmp(c->status, name) == 0 &&
                strcmp(c->output ? c->output : "", output ? output : "") == 0;
    if (same)
        return;
    if (strcmp(name, "critical") == 0 && c->critical_since == 0)
        c->critical_since = uv_now(l->loop);
    else if (strcmp(name, "critical") != 0)
        c->critical_since = 0;
    c->status = name;
    free(c->output);
    c->output = strdup(output ? output : "");
    c->dirty = true;
    changed(l, svcdef_str(c->def, "ServiceID"));
}

static void runner_stop(struct local_check *c)
{
    if (c->runner)
        check_stop(c->runner);
    c->runner = NULL;
}

static int runner_start(struct local *l, struct local_check *c)
{
    json_object *d = c->def;
    const char *type = svcdef_str(d, "Type");
    struct check_def def;
    enum check_kind kind;
    if (strcmp(type, "ttl") == 0)
        kind = CHECK_KIND_TTL;
    else if (strcmp(type, "http") == 0)
        kind = CHECK_KIND_HTTP;
    else if (strcmp(type, "tcp") == 0)
        kind = CHECK_KIND_TCP;
    else if (strcmp(type, "script") == 0)
        kind = CHECK_KIND_SCRIPT;
    else
        return 0; /* maintenance: no runner */
    check_def_init(&def, kind);
    def.id = c->id;
    def.http = svcdef_str(d, "HTTP");
    def.method = *svcdef_str(d, "Method") ? svcdef_str(d, "Method") : "GET";
    def.body = svcdef_str(d, "Body");
    def.tcp = svcdef_str(d, "TCP");
    json_object *v;
    def.tls_skip_verify = json_object_object_get_ex(d, "TLSSkipVerify", &v) &&
                          json_object_get_boolean(v);
    def.disable_redirects =
        json_object_object_get_ex(d, "DisableRedirects", &v) &&
        json_object_get_boolean(v);
    def.interval_ms = svcdef_ms(d, "Interval");
    def.timeout_ms = svcdef_ms(d, "Timeout");
    def.ttl_ms = svcdef_ms(d, "TTL");
    def.success_before_passing = (unsigned)svcdef_int(d, "SuccessBeforePassing");
    def.failures_before_warning =
        (unsigned)svcdef_int(d, "FailuresBeforeWarning");
    def.failures_before_critical =
        (unsigned)svcdef_int(d, "FailuresBeforeCritical");
    def.output_max_size = (size_t)svcdef_int(d, "OutputMaxSize");
    check_status_parse(c->status, &def.status);
    def.output = c->output;

    /* Header {name: [values]} -> flat name/value pairs. */
    struct check_header hdrs[64];
    size_t nh = 0;
    json_object *h;
    if (json_object_object_get_ex(d, "Header", &h) &&
        json_object_is_type(h, json_type_object)) {
        json_object_object_foreach(h, k, vals)
        {
            if (json_object_is_type(vals, json_type_array)) {
                size_t n = json_object_array_length(vals);
                for (size_t i = 0; i < n && nh < 64; i++) {
                    hdrs[nh].name = k;
                    hdrs[nh].value = json_object_get_string(
                        json_object_array_get_idx(vals, i));
                    nh++;
                }
            } else if (nh < 64) {
                hdrs[nh].name = k;
                hdrs[nh].value = json_object_get_string(vals);
                nh++;
            }
        }
    }
    def.headers = hdrs;
    def.n_headers = nh;
    const char *argv[64];
    json_object *args;
    size_t na = 0;
    if (json_object_object_get_ex(d, "Args", &args)) {
        size_t n = json_object_array_length(args);
        for (size_t i = 0; i < n && na < 63; i++)
            argv[na++] =
                json_object_get_string(json_object_array_get_idx(args, i));
    }
    argv[na] = NULL;
    def.argv = argv;
    c->runner = check_start(l->env, &def, on_result, c);
    return c->runner ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------- entities */

static void check_free(struct local_check *c)
{
    runner_stop(c);
    json_object_put(c->def);
    free(c->output);
    free(c->id);
}

static void service_free(struct local_service *s)
{
    json_object_put(s->svc);
    free(s->id);
}

struct local_service *local_service(struct local *l, const char *id)
{
    struct svc_node key;
    key.s.id = (char *)id;
    struct svc_node *n = RB_FIND(svc_tree, &l->services, &key);
    return n ? &n->s : NULL;
}

struct local_check *local_check(struct local *l, const char *id)
{
    struct chk_node key;
    key.c.id = (char *)id;
    struct chk_node *n = RB_FIND(chk_tree, &l->checks, &key);
    return n ? &n->c : NULL;
}

#define SVC_NODE(s) ((struct svc_node *)((char *)(s)-offsetof(struct svc_node, s)))
#define CHK_NODE(c) ((struct chk_node *)((char *)(c)-offsetof(struct chk_node, c)))

struct local_service *local_services_first(struct local *l)
{
    struct svc_node *n = RB_MIN(svc_tree, &l->services);
    return n ? &n->s : NULL;
}

struct local_service *local_services_next(struct local *l,
                                          struct local_service *s)
{
    (void)l;
    struct svc_node *n = RB_NEXT(svc_tree, &l->services, SVC_NODE(s));
    return n ? &n->s : NULL;
}

struct local_check *local_checks_first(struct local *l)
{
    struct chk_node *n = RB_MIN(chk_tree, &l->checks);
    return n ? &n->c : NULL;
}

struct local_check *local_checks_next(struct local *l, struct local_check *c)
{
    (void)l;
    struct chk_node *n = RB_NEXT(chk_tree, &l->checks, CHK_NODE(c));
    return n ? &n->c : NULL;
}

unsigned long local_service_count(const struct local *l)
{
    return l->n_services;
}

unsigned long local_check_count(const struct local *l)
{
    return l->n_checks;
}

void local_set_change_data(struct local *l, void *data)
{
    l->data = data;
}

struct watch_hub *local_watch(struct local *l)
{
    return l->watch;
}

static void remove_check_node(struct local *l, struct chk_node *n,
                              bool persist_removal)
{
    char sid[512];
    snprintf(sid, sizeof sid, "%s", svcdef_str(n->c.def, "ServiceID"));
    RB_REMOVE(chk_tree, &l->checks, n);
    l->n_checks--;
    if (persist_removal && n->c.source == LOCAL_API)
        persist(l, "checks", n->c.id, NULL);
    push_removed(&l->removed_checks, n->c.id);
    check_free(&n->c);
    free(n);
    changed(l, sid);
}

static int add_check(struct local *l, json_object *def, enum local_source src,
                     bool persist_it)
{
    const char *id = svcdef_str(def, "CheckID");
    struct chk_node *n = calloc(1, sizeof *n);
    if (n == NULL) {
        json_object_put(def);
        return -ENOMEM;
    }
    n->c.id = strdup(id);
    if (n->c.id == NULL) {
        free(n);
        json_object_put(def);
        return -ENOMEM;
    }
    n->c.def = def;
    n->c.owner = l;
    n->c.source = src;
    n->c.status = "critical";
    const char *st = svcdef_str(def, "Status");
    if (strcmp(st, "passing") == 0)
        n->c.status = "passing";
    else if (strcmp(st, "warning") == 0)
        n->c.status = "warning";
    n->c.output = strdup("");
    n->c.dirty = true;
    if (strcmp(n->c.status, "critical") == 0)
        n->c.critical_since = uv_now(l->loop);
    /* A re-registration replaces the check (and restarts its runner). */
    struct chk_node *old = RB_FIND(chk_tree, &l->checks, n);
    if (old != NULL) {
        RB_REMOVE(chk_tree, &l->checks, old);
        l->n_checks--;
        check_free(&old->c);
        free(old);
    }
    RB_INSERT(chk_tree, &l->checks, n);
    l->n_checks++;
    runner_start(l, &n->c);
    if (persist_it && src == LOCAL_API)
        persist(l, "checks", id, def);
    changed(l, svcdef_str(def, "ServiceID"));
    return 0;
}

int local_add_check(struct local *l, json_object *def, enum local_source src)
{
    const char *sid = svcdef_str(def, "ServiceID");
    if (*sid && local_service(l, sid) == NULL) {
        json_object_put(def);
        return -ENOENT;
    }
    return add_check(l, def, src, true);
}

int local_remove_check(struct local *l, const char *id)
{
    struct chk_node key;
    key.c.id = (char *)id;
    struct chk_node *n = RB_FIND(chk_tree, &l->checks, &key);
    if (n == NULL)
        return -ENOENT;
    remove_check_node(l, n, true);
    return 0;
}

/* Remove the checks of service `sid`, except those whose ID is in `keep`
 * (an array of normalised checks, may be NULL). */
static void remove_service_checks(struct local *l, const char *sid,
                                  json_object *keep)
{
    struct chk_node *n, *next;
    RB_FOREACH_SAFE(n, chk_tree, &l->checks, next)
    {
        if (strcmp(svcdef_str(n->c.def, "ServiceID"), sid) != 0)
            continue;
        bool kept = false;
        size_t k = keep ? json_object_array_length(keep) : 0;
        for (size_t i = 0; i < k && !kept; i++)
            kept = strcmp(svcdef_str(json_object_array_get_idx(keep, i),
                                     "CheckID"),
                          n->c.id) == 0;
        if (!kept)
            remove_check_node(l, n, true);
    }
}

int local_add_service(struct local *l, json_object *svc, json_object *checks,
                      enum local_source src, bool replace_checks)
{
    const char *id = svcdef_str(svc, "ID");
    struct svc_node *n = calloc(1, sizeof *n);
    if (n == NULL || (n->s.id = strdup(id)) == NULL) {
        free(n);
        json_object_put(svc);
        json_object_put(checks);
        return -ENOMEM;
    }
    n->s.svc = svc;
    n->s.source = src;
    n->s.dirty = true;
    struct svc_node *old = RB_FIND(svc_tree, &l->services, n);
    if (old != NULL) {
        /* Keep the sync bookkeeping so an identical re-registration does
         * not rewrite the catalog. */
        memcpy(n->s.synced_hash, old->s.synced_hash, sizeof n->s.synced_hash);
        n->s.synced_index = old->s.synced_index;
        RB_REMOVE(svc_tree, &l->services, old);
        l->n_services--;
        service_free(&old->s);
        free(old);
    }
    RB_INSERT(svc_tree, &l->services, n);
    l->n_services++;
    if (src == LOCAL_API)
        persist(l, "services", id, svc);
    if (replace_checks)
        remove_service_checks(l, id, checks);
    size_t nc = checks ? json_object_array_length(checks) : 0;
    for (size_t i = 0; i < nc; i++)
        add_check(l, json_object_get(json_object_array_get_idx(checks, i)),
                  src, true);
    json_object_put(checks);
    changed(l, id);
    return 0;
}

int local_remove_service(struct local *l, const char *id)
{
    struct svc_node key;
    key.s.id = (char *)id;
    struct svc_node *n = RB_FIND(svc_tree, &l->services, &key);
    if (n == NULL)
        return -ENOENT;
    char *sid = strdup(id);
    if (sid == NULL)
        return -ENOMEM;
    remove_service_checks(l, sid, NULL);
    RB_REMOVE(svc_tree, &l->services, n);
    l->n_services--;
    if (n->s.source == LOCAL_API)
        persist(l, "services", sid, NULL);
    push_removed(&l->removed_services, sid);
    service_free(&n->s);
    free(n);
    changed(l, sid);
    free(sid);
    return 0;
}

int local_ttl_update(struct local *l, const char *id, const char *status,
                     const char *output)
{
    struct local_check *c = local_check(l, id);
    if (c == NULL)
        return -ENOENT;
    if (strcmp(svcdef_str(c->def, "Type"), "ttl") != 0 || c->runner == NULL)
        return -EINVAL;
    enum check_status st;
    if (check_status_parse(status, &st) != 0)
        return -EINVAL;
    /* The runner cuts the output to OutputMaxSize, as Consul does. */
    return check_ttl_update(c->runner, st, output);
}

static json_object *maint_check(const char *id, const char *name,
                                const char *service_id, const char *notes)
{
    json_object *c = json_object_new_object();
    json_object_object_add(c, "CheckID", json_object_new_string(id));
    json_object_object_add(c, "Name", json_object_new_string(name));
    json_object_object_add(c, "ServiceID", json_object_new_string(service_id));
    json_object_object_add(c, "Notes", json_object_new_string(notes));
    json_object_object_add(c, "Status", json_object_new_string("critical"));
    json_object_object_add(c, "Type", json_object_new_string("maintenance"));
    return c;
}

void local_node_maint(struct local *l, bool enable, const char *reason)
{
    if (!enable) {
        local_remove_check(l, NODE_MAINT_ID);
        return;
    }
    if (local_check(l, NODE_MAINT_ID) != NULL)
        return;
    add_check(l,
              maint_check(NODE_MAINT_ID, "Node Maintenance Mode", "",
                          reason && *reason ? reason : NODE_MAINT_DEFAULT),
              LOCAL_API, true);
}

int local_service_maint(struct local *l, const char *id, bool enable,
                        const char *reason)
{
    if (local_service(l, id) == NULL)
        return -ENOENT;
    char cid[600];
    snprintf(cid, sizeof cid, "%s%s", SERVICE_MAINT_PREFIX, id);
    if (!enable) {
        local_remove_check(l, cid);
        return 0;
    }
    if (local_check(l, cid) != NULL)
        return 0;
    return add_check(l,
                     maint_check(cid, "Service Maintenance Mode", id,
                                 reason && *reason ? reason
                                                   : SERVICE_MAINT_DEFAULT),
                     LOCAL_API, true);
}

int local_sync_config(struct local *l, json_object *services,
                      json_object *checks, const struct svcdef_policy *pol,
                      struct svcdef_err *e)
{
    size_t ns = services ? json_object_array_length(services) : 0;
    size_t nc = checks ? json_object_array_length(checks) : 0;
    json_object *svcs = json_object_new_array(),
                *svc_checks = json_object_new_array(),
                *chks = json_object_new_array();
    int rv = 0;
    /* Decode everything first: a bad definition changes nothing. */
    for (size_t i = 0; i < ns && rv == 0; i++) {
        json_object *s, *c;
        rv = svcdef_service(json_object_array_get_idx(services, i), pol, &s,
                            &c, e);
        if (rv == 0) {
            json_object_array_add(svcs, s);
            json_object_array_add(svc_checks, c);
        }
    }
    for (size_t i = 0; i < nc && rv == 0; i++) {
        json_object *c;
        rv = svcdef_check(json_object_array_get_idx(checks, i), NULL, NULL,
                          NULL, pol, &c, e);
        if (rv == 0)
            json_object_array_add(chks, c);
    }
    if (rv != 0)
        goto out;
    /* Remove config entries that are gone. */
    struct svc_node *sn, *snext;
    RB_FOREACH_SAFE(sn, svc_tree, &l->services, snext)
    {
        if (sn->s.source != LOCAL_CONFIG)
            continue;
        bool present = false;
        for (size_t i = 0; i < json_object_array_length(svcs) && !present;
             i++)
            present = strcmp(svcdef_str(json_object_array_get_idx(svcs, i),
                                        "ID"),
                             sn->s.id) == 0;
        if (!present) {
            log_info("local", "service %s removed from the config: "
                              "deregistering",
                     sn->s.id);
            local_remove_service(l, sn->s.id);
        }
    }
    struct chk_node *cn, *cnext;
    RB_FOREACH_SAFE(cn, chk_tree, &l->checks, cnext)
    {
        if (cn->c.source != LOCAL_CONFIG ||
            *svcdef_str(cn->c.def, "ServiceID") != '\0')
            continue;
        bool present = false;
        for (size_t i = 0; i < json_object_array_length(chks) && !present;
             i++)
            present = strcmp(svcdef_str(json_object_array_get_idx(chks, i),
                                        "CheckID"),
                             cn->c.id) == 0;
        if (!present)
            local_remove_check(l, cn->c.id);
    }
    /* (Re-)register what the files define; an unchanged definition keeps
     * its runner and status. */
    for (size_t i = 0; i < json_object_array_length(svcs); i++) {
        json_object *s = json_object_array_get_idx(svcs, i);
        json_object *c = json_object_array_get_idx(svc_checks, i);
        struct local_service *cur = local_service(l, svcdef_str(s, "ID"));
        if (cur && json_object_equal(cur->svc, s)) {
            bool same_checks = true;
            for (size_t k = 0; k < json_object_array_length(c); k++) {
                json_object *cd = json_object_array_get_idx(c, k);
                struct local_check *lc =
                    local_check(l, svcdef_str(cd, "CheckID"));
                same_checks = same_checks && lc &&
                              json_object_equal(lc->def, cd);
            }
            if (same_checks)
                continue;
        }
        local_add_service(l, json_object_get(s), json_object_get(c),
                          LOCAL_CONFIG, true);
    }
    for (size_t i = 0; i < json_object_array_length(chks); i++) {
        json_object *c = json_object_array_get_idx(chks, i);
        struct local_check *lc = local_check(l, svcdef_str(c, "CheckID"));
        if (lc && json_object_equal(lc->def, c))
            continue;
        if (local_add_check(l, json_object_get(c), LOCAL_CONFIG) == -ENOENT) {
            snprintf(e->msg, sizeof e->msg,
                     "check %s: ServiceID \"%s\" does not exist",
                     svcdef_str(c, "CheckID"), svcdef_str(c, "ServiceID"));
            e->status = 404;
            rv = -EINVAL;
        }
    }
out:
    json_object_put(svcs);
    json_object_put(svc_checks);
    json_object_put(chks);
    return rv;
}

/* ------------------------------------------------------------ outputs */

json_object *local_service_json(struct local_service *s, const char *dc)
{
    json_object *o = json_object_new_object();
    json_object_object_foreach(s->svc, k, v)
        json_object_object_add(o, k, json_object_get(v));
    char hash[17];
    svcdef_hash(s->svc, hash);
    json_object_object_add(o, "ContentHash", json_object_new_string(hash));
    json_object_object_add(o, "Datacenter", json_object_new_string(dc));
    return o;
}

static json_object *definition_json(json_object *d)
{
    json_object *o = json_object_new_object();
    static const char *const keys[] = {"Interval", "Timeout",
                                       "DeregisterCriticalServiceAfter",
                                       "HTTP",     "Header",
                                       "Method",   "Body",
                                       "TLSSkipVerify", "TCP"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_object *v = NULL;
        if (json_object_object_get_ex(d, keys[i], &v))
            json_object_object_add(o, keys[i], json_object_get(v));
    }
    return o;
}

json_object *local_check_json(struct local *l, struct local_check *c,
                              const char *node)
{
    json_object *d = c->def;
    const char *sid = svcdef_str(d, "ServiceID");
    struct local_service *s = *sid ? local_service(l, sid) : NULL;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "Node", json_object_new_string(node));
    json_object_object_add(o, "CheckID", json_object_new_string(c->id));
    json_object_object_add(o, "Name",
                           json_object_new_string(svcdef_str(d, "Name")));
    json_object_object_add(o, "Status", json_object_new_string(c->status));
    json_object_object_add(o, "Notes",
                           json_object_new_string(svcdef_str(d, "Notes")));
    json_object_object_add(o, "Output",
                           json_object_new_string(c->output ? c->output : ""));
    json_object_object_add(o, "ServiceID", json_object_new_string(sid));
    json_object_object_add(
        o, "ServiceName",
        json_object_new_string(s ? svcdef_str(s->svc, "Service") : ""));
    json_object *tags = NULL;
    if (s)
        json_object_object_get_ex(s->svc, "Tags", &tags);
    json_object_object_add(o, "ServiceTags",
                           tags ? json_object_get(tags)
                                : json_object_new_array());
    const char *type = svcdef_str(d, "Type");
    json_object_object_add(o, "Type",
                           json_object_new_string(
                               strcmp(type, "maintenance") == 0 ? "" : type));
    json_object_object_add(o, "Interval",
                           json_object_new_string(svcdef_str(d, "Interval")));
    json_object_object_add(o, "Timeout",
                           json_object_new_string(svcdef_str(d, "Timeout")));
    json_object_object_add(o, "ExposedPort", json_object_new_int(0));
    json_object_object_add(o, "Definition", definition_json(d));
    json_object_object_add(o, "CreateIndex", json_object_new_uint64(0));
    json_object_object_add(o, "ModifyIndex", json_object_new_uint64(0));
    return o;
}

/* ---------------------------------------------------------- lifecycle */

struct local *local_new(uv_loop_t *loop, struct check_env *env,
                        const char *persist_dir,
                        void (*on_change)(void *data), void *data)
{
    struct local *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    l->loop = loop;
    l->env = env;
    l->on_change = on_change;
    l->data = data;
    RB_INIT(&l->services);
    RB_INIT(&l->checks);
    l->watch = watch_hub_new();
    if (persist_dir != NULL) {
        char sub[4200];
        l->dir = strdup(persist_dir);
        mkdir(persist_dir, 0700);
        snprintf(sub, sizeof sub, "%s/services", persist_dir);
        mkdir(sub, 0700);
        snprintf(sub, sizeof sub, "%s/checks", persist_dir);
        mkdir(sub, 0700);
    }
    if (l->watch == NULL || (persist_dir && l->dir == NULL)) {
        watch_hub_free(l->watch);
        free(l->dir);
        free(l);
        return NULL;
    }
    return l;
}

static json_object *read_json_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len + 4096 > cap) {
            char *nb = realloc(buf, cap + 65536);
            if (nb == NULL)
                break;
            buf = nb;
            cap += 65536;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    fclose(f);
    json_object *o = buf ? json_parse(buf, len, NULL, 0) : NULL;
    free(buf);
    return o;
}

static int load_dir(struct local *l, const char *kind, bool services)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", l->dir, kind);
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
            continue;
        char path[8400];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        json_object *o = read_json_file(path);
        if (o == NULL || !json_object_is_type(o, json_type_object) ||
            (services ? *svcdef_str(o, "ID") : *svcdef_str(o, "CheckID")) ==
                '\0') {
            log_warn("local", "skipping unreadable %s", path);
            json_object_put(o);
            continue;
        }
        if (services) {
            struct svc_node *sn = calloc(1, sizeof *sn);
            if (sn == NULL || (sn->s.id = strdup(svcdef_str(o, "ID"))) == NULL) {
                free(sn);
                json_object_put(o);
                continue;
            }
            sn->s.svc = o;
            sn->s.source = LOCAL_API;
            sn->s.dirty = true;
            if (RB_INSERT(svc_tree, &l->services, sn) != NULL) {
                service_free(&sn->s);
                free(sn);
                continue;
            }
            l->n_services++;
        } else {
            add_check(l, o, LOCAL_API, false);
        }
        n++;
    }
    closedir(d);
    return n;
}

int local_load(struct local *l, const struct svcdef_policy *pol)
{
    (void)pol;
    if (l->dir == NULL)
        return 0;
    /* Services first: checks may refer to them. */
    int n = load_dir(l, "services", true);
    n += load_dir(l, "checks", false);
    if (n > 0) {
        log_info("local", "restored %d persisted services and checks", n);
        if (l->on_change)
            l->on_change(l->data);
    }
    return n;
}

void local_free(struct local *l)
{
    if (l == NULL)
        return;
    struct chk_node *cn, *cnext;
    RB_FOREACH_SAFE(cn, chk_tree, &l->checks, cnext)
    {
        RB_REMOVE(chk_tree, &l->checks, cn);
        check_free(&cn->c);
        free(cn);
    }
    struct svc_node *sn, *snext;
    RB_FOREACH_SAFE(sn, svc_tree, &l->services, snext)
    {
        RB_REMOVE(svc_tree, &l->services, sn);
        service_free(&sn->s);
        free(sn);
    }
    char *id;
    while ((id = pop_removed(&l->removed_services)) != NULL)
        free(id);
    while ((id = pop_removed(&l->removed_checks)) != NULL)
        free(id);
    watch_hub_free(l->watch);
    l->watch = NULL;
    /* Waiters are told now (their requests are being answered or dropped
     * by the HTTP shutdown); queued writes still finish. */
    l->pw_done = l->pw_queued;
    pw_notify(l);
    /* Writes still queued or running finish first; the last one frees. */
    if (l->pw_running || l->pw_head) {
        l->freeing = true;
        return;
    }
    free(l->dir);
    free(l);
}
