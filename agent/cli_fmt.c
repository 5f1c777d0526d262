/*
 * cli_fmt — pure formatting for the CLI: JSON from the agent in, the text
 * Consul's CLI would print out. No I/O, so tests/unit/test_cli.c checks
 * it byte for byte.
 *
 * Consul formats with Go's text/tabwriter (`kv get -detailed`) and
 * ryanuber/columnize (`members`); the small subsets used are reproduced
 * here.
 */
#include "cli_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sbuf.h"
#include "json.h"

/* -------------------------------------------------------------- strbuf */

/* ------------------------------------------------------------------ kv */

static const char *cli_json_type(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        return "null";
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
    }
    return "value";
}

static int cli_get_u64_field(json_object *o,
                             const char *name,
                             uint64_t *out,
                             char *err,
                             size_t errlen)
{
    json_object *v = json_get_ci(o, name);

    *out = 0;
    if (v == NULL)
        return 0;
    if (json_get_u64(v, out) != 0) {
        snprintf(err, errlen,
                 "json: cannot unmarshal %s into Go struct field "
                 "KVPair.%s of type uint64",
                 cli_json_type(v), name);
        return -EINVAL;
    }
    return 0;
}

int cli__kv_pair_decode(json_object *o,
                        struct cli_kv_pair *p,
                        char *err,
                        size_t errlen)
{
    memset(p, 0, sizeof(*p));
    p->key = "";
    p->session = "";
    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errlen,
                 "json: cannot unmarshal %s into Go value of "
                 "type api.KVPair",
                 cli_json_type(o));
        return -EINVAL;
    }
    json_object *k = json_get_ci(o, "Key");
    if (k && !json_object_is_type(k, json_type_string)) {
        snprintf(err, errlen,
                 "json: cannot unmarshal %s into Go struct "
                 "field KVPair.Key of type string",
                 cli_json_type(k));
        return -EINVAL;
    }
    if (k)
        p->key = json_object_get_string(k);
    json_object *s = json_get_ci(o, "Session");
    if (s && json_object_is_type(s, json_type_string))
        p->session = json_object_get_string(s);
    if (cli_get_u64_field(o, "CreateIndex", &p->create_index, err, errlen) ||
        cli_get_u64_field(o, "ModifyIndex", &p->modify_index, err, errlen) ||
        cli_get_u64_field(o, "LockIndex", &p->lock_index, err, errlen) ||
        cli_get_u64_field(o, "Flags", &p->flags, err, errlen))
        return -EINVAL;
    json_object *v = json_get_ci(o, "Value");
    if (v) {
        if (!json_object_is_type(v, json_type_string) ||
            b64_decode(json_object_get_string(v),
                       (size_t)json_object_get_string_len(v), &p->value,
                       &p->value_len) != 0) {
            snprintf(err, errlen, "illegal base64 data in Value of %s", p->key);
            return -EINVAL;
        }
    }
    return 0;
}

char *cli__kv_detailed(const struct cli_kv_pair *p, bool base64, bool keys_only)
{
    struct sbuf b = {0};

    /* tabwriter.NewWriter(w, 0, 2, 6, ' ', 0): the label column is the
     * widest label ("CreateIndex", 11) plus 6 of padding. */
    sbuf_printf(&b, "%-17s%" PRIu64 "\n", "CreateIndex", p->create_index);
    sbuf_printf(&b, "%-17s%" PRIu64 "\n", "Flags", p->flags);
    sbuf_printf(&b, "%-17s%s\n", "Key", p->key);
    sbuf_printf(&b, "%-17s%" PRIu64 "\n", "LockIndex", p->lock_index);
    sbuf_printf(&b, "%-17s%" PRIu64 "\n", "ModifyIndex", p->modify_index);
    sbuf_printf(&b, "%-17s%s\n", "Session",
                   p->session[0] ? p->session : "-");
    if (keys_only)
        return sbuf_take(&b);
    sbuf_printf(&b, "%-17s", "Value");
    if (base64) {
        char *s = b64_encode(p->value, p->value_len);
        if (s == NULL)
            b.oom = true;
        else
            sbuf_put(&b, s, strlen(s));
        free(s);
    } else {
        sbuf_put(&b, p->value ? (const char *)p->value : "", p->value_len);
    }
    return sbuf_take(&b);
}

char *cli__kv_export_json(json_object *pairs, char *err, size_t errlen)
{
    json_object *arr = json_object_new_array();
    size_t n = json_object_is_type(pairs, json_type_array)
                   ? json_object_array_length(pairs)
                   : 0;
    char *out = NULL;

    if (arr == NULL)
        return NULL;
    if (pairs && !json_object_is_type(pairs, json_type_array)) {
        snprintf(err, errlen,
                 "json: cannot unmarshal %s into Go value of "
                 "type []*api.KVPair",
                 cli_json_type(pairs));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct cli_kv_pair p;
        if (cli__kv_pair_decode(json_object_array_get_idx(pairs, i), &p, err,
                                errlen) != 0)
            goto out;
        char *v = b64_encode(p.value, p.value_len);
        free(p.value);
        json_object *e = json_object_new_object();
        if (v == NULL || e == NULL) {
            free(v);
            json_object_put(e);
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        json_object_object_add(e, "key", json_object_new_string(p.key));
        json_object_object_add(e, "flags", json_object_new_uint64(p.flags));
        json_object_object_add(e, "value", json_object_new_string(v));
        free(v);
        json_object_array_add(arr, e);
    }
    out = json_dump_indent(arr, "\t", NULL);
    if (out == NULL)
        snprintf(err, errlen, "out of memory");
out:
    json_object_put(arr);
    return out;
}

/* ----------------------------------------------------------- columnize */

static size_t cli_runes(const char *s, size_t n)
{
    size_t r = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            r++;
    return r;
}

static bool cli_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}

/* Cell `col` of line: start and length after trimming; false if absent. */
static bool cli_cell(const char *line, size_t col, const char **s, size_t *n)
{
    const char *p = line;

    for (size_t i = 0; i < col; i++) {
        p = strchr(p, '\x1f');
        if (p == NULL)
            return false;
        p++;
    }
    const char *e = strchr(p, '\x1f');
    if (e == NULL)
        e = p + strlen(p);
    while (p < e && cli_is_space(*p))
        p++;
    while (e > p && cli_is_space(e[-1]))
        e--;
    *s = p;
    *n = (size_t)(e - p);
    return true;
}

static size_t cli_ncells(const char *line)
{
    size_t n = 1;
    for (; *line; line++)
        n += *line == '\x1f';
    return n;
}

char *cli__columnize(char *const *lines, size_t n)
{
    size_t widths[32] = {0}, maxcols = 0;
    struct sbuf b = {0};
    const char *s;
    size_t len;

    for (size_t i = 0; i < n; i++) {
        size_t nc = cli_ncells(lines[i]);
        if (nc > 32)
            nc = 32;
        if (nc > maxcols)
            maxcols = nc;
        for (size_t c = 0; c < nc; c++) {
            cli_cell(lines[i], c, &s, &len);
            size_t w = cli_runes(s, len);
            if (w > widths[c])
                widths[c] = w;
        }
    }
    for (size_t i = 0; i < n; i++) {
        size_t nc = cli_ncells(lines[i]);
        if (nc > 32)
            nc = 32;
        if (i)
            sbuf_put(&b, "\n", 1);
        for (size_t c = 0; c < nc; c++) {
            cli_cell(lines[i], c, &s, &len);
            sbuf_put(&b, s, len);
            if (c + 1 < nc) {
                for (size_t k = cli_runes(s, len); k < widths[c]; k++)
                    sbuf_put(&b, " ", 1);
                sbuf_put(&b, "  ", 2);
            }
        }
    }
    return sbuf_take(&b);
}

/* ------------------------------------------------------------- members */

struct cli_tag
{
    const char *key;
    const char *value;
};

struct cli_member
{
    const char *name;
    char addr[64];
    const char *status;
    struct cli_tag *tags;
    size_t ntags;
};

static const char *cli_tag(const struct cli_member *m, const char *key)
{
    for (size_t i = 0; i < m->ntags; i++)
        if (strcmp(m->tags[i].key, key) == 0)
            return m->tags[i].value;
    return "";
}

static void cli_tag_set(struct cli_member *m,
                        const char *key,
                        const char *value)
{
    for (size_t i = 0; i < m->ntags; i++) {
        if (strcmp(m->tags[i].key, key) == 0) {
            m->tags[i].value = value;
            return;
        }
    }
    /* tags has room: allocated with ntags + 2 slots */
    m->tags[m->ntags].key = key;
    m->tags[m->ntags].value = value;
    m->ntags++;
}

static int cli_tag_cmp(const void *a, const void *b)
{
    const struct cli_tag *x = a, *y = b;
    return strcmp(x->key, y->key);
}

static bool cli_is_default_partition(const char *p)
{
    return p[0] == '\0' || strcmp(p, "default") == 0;
}

/* Consul's ByMemberNamePartitionAndSegment. */
static int cli_member_cmp(const void *a, const void *b)
{
    const struct cli_member *x = a, *y = b;
    bool xs = strcmp(cli_tag(x, "role"), "consul") == 0;
    bool ys = strcmp(cli_tag(y, "role"), "consul") == 0;
    if (xs != ys)
        return xs ? -1 : 1;
    bool xd = cli_is_default_partition(cli_tag(x, "partition"));
    bool yd = cli_is_default_partition(cli_tag(y, "partition"));
    if (xd != yd)
        return xd ? -1 : 1;
    int c = strcmp(cli_tag(x, "segment"), cli_tag(y, "segment"));
    if (c)
        return c;
    c = strcmp(cli_tag(x, "partition"), cli_tag(y, "partition"));
    if (c)
        return c;
    return strcmp(x->name, y->name);
}

/* serf.MemberStatus.String() */
static const char *cli_member_status(int64_t s)
{
    static const char *const names[] = {"none", "alive", "leaving", "left",
                                        "failed"};
    return s >= 0 && s <= 4 ? names[s] : "unknown";
}

/* net.TCPAddr{IP: net.ParseIP(addr), Port: port}.String() */
static void cli_tcp_addr(const char *addr, int64_t port, char *out, size_t n)
{
    unsigned char bin[16];
    char txt[INET6_ADDRSTRLEN];

    if (inet_pton(AF_INET, addr, bin) == 1) {
        snprintf(out, n, "%s:%" PRId64, addr, port);
    } else if (inet_pton(AF_INET6, addr, bin) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                                 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(bin, mapped, 12) == 0) {
            inet_ntop(AF_INET, bin + 12, txt, sizeof(txt));
            snprintf(out, n, "%s:%" PRId64, txt, port);
        } else {
            inet_ntop(AF_INET6, bin, txt, sizeof(txt));
            snprintf(out, n, "[%s]:%" PRId64, txt, port);
        }
    } else {
        snprintf(out, n, ":%" PRId64, port);
    }
}

static const char *cli_str_field(json_object *o, const char *name)
{
    json_object *v = json_get_ci(o, name);
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                    : "";
}

static int64_t cli_int_field(json_object *o, const char *name)
{
    json_object *v = json_get_ci(o, name);
    return json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 0;
}

int cli__members_format(json_object *members,
                        bool detailed,
                        const char *segment,
                        const char *status_re,
                        char **out,
                        char *err,
                        size_t errlen)
{
    regex_t re;
    int rc = regcomp(&re, status_re, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[256];
        regerror(rc, &re, msg, sizeof(msg));
        snprintf(err, errlen, "Failed to compile status regexp: %s", msg);
        return 1;
    }
    if (out == NULL) { /* just checking the regex */
        regfree(&re);
        return 0;
    }
    *out = NULL;
    if (members && !json_object_is_type(members, json_type_array)) {
        regfree(&re);
        snprintf(err, errlen,
                 "json: cannot unmarshal %s into Go value of "
                 "type []*api.AgentMember",
                 cli_json_type(members));
        return 1;
    }

    size_t total = members ? json_object_array_length(members) : 0;
    struct cli_member *ms = calloc(total ? total : 1, sizeof(*ms));
    size_t n = 0;
    char **lines = NULL;
    struct sbuf *tagbufs = NULL;
    rc = 1;
    if (ms == NULL)
        goto oom;

    for (size_t i = 0; i < total; i++) {
        json_object *o = json_object_array_get_idx(members, i);
        struct cli_member *m = &ms[n];
        json_object *tags = json_get_ci(o, "Tags");
        size_t nt = json_object_is_type(tags, json_type_object)
                        ? (size_t)json_object_object_length(tags)
                        : 0;
        m->tags = calloc(nt + 2, sizeof(*m->tags));
        if (m->tags == NULL)
            goto oom;
        if (nt) {
            json_object_object_foreach(tags, k, v)
            {
                m->tags[m->ntags].key = k;
                m->tags[m->ntags].value =
                    json_object_is_type(v, json_type_string)
                        ? json_object_get_string(v)
                        : "";
                m->ntags++;
            }
        }
        m->name = cli_str_field(o, "Name");
        cli_tcp_addr(cli_str_field(o, "Addr"), cli_int_field(o, "Port"),
                     m->addr, sizeof(m->addr));
        m->status = cli_member_status(cli_int_field(o, "Status"));

        if (cli_tag(m, "partition")[0] == '\0')
            cli_tag_set(m, "partition", "default");
        if (cli_is_default_partition(cli_tag(m, "partition"))) {
            if (strcmp(segment, "_all") == 0 &&
                strcmp(cli_tag(m, "role"), "consul") == 0)
                cli_tag_set(m, "segment", "<all>");
            else if (cli_tag(m, "segment")[0] == '\0')
                cli_tag_set(m, "segment", "<default>");
        } else {
            cli_tag_set(m, "segment", "");
        }
        if (regexec(&re, m->status, 0, NULL, 0) != 0) {
            free(m->tags);
            m->tags = NULL;
            m->ntags = 0;
            continue;
        }
        n++;
    }
    if (n == 0) {
        rc = 2;
        goto done;
    }
    qsort(ms, n, sizeof(*ms), cli_member_cmp);

    lines = calloc(n + 1, sizeof(*lines));
    tagbufs = calloc(n, sizeof(*tagbufs));
    if (lines == NULL || tagbufs == NULL)
        goto oom;
    if (detailed) {
        lines[0] = strdup(
            "Node\x1f"
            "Address\x1fStatus\x1fTags");
    } else {
        lines[0] = strdup(
            "Node\x1f"
            "Address\x1fStatus\x1fType\x1f"
            "Build\x1fProtocol\x1f"
            "DC\x1fPartition\x1f"
            "Segment");
    }
    for (size_t i = 0; i < n; i++) {
        struct cli_member *m = &ms[i];
        int r;
        if (detailed) {
            qsort(m->tags, m->ntags, sizeof(*m->tags), cli_tag_cmp);
            for (size_t t = 0; t < m->ntags; t++)
                sbuf_printf(&tagbufs[i], "%s%s=%s", t ? "," : "",
                               m->tags[t].key, m->tags[t].value);
            if (tagbufs[i].oom)
                goto oom;
            r = asprintf(&lines[i + 1], "%s\x1f%s\x1f%s\x1f%s", m->name,
                         m->addr, m->status, tagbufs[i].p ? tagbufs[i].p : "");
        } else {
            const char *role = cli_tag(m, "role");
            const char *type = strcmp(role, "node") == 0     ? "client"
                               : strcmp(role, "consul") == 0 ? "server"
                                                             : NULL;
            if (type == NULL) {
                r = asprintf(&lines[i + 1],
                             "%s\x1f%s\x1f%s\x1funknown\x1f\x1f\x1f\x1f\x1f",
                             m->name, m->addr, m->status);
            } else {
                const char *build = cli_tag(m, "build");
                int blen = (int)strcspn(build, ":");
                if (build[0] == '\0') {
                    build = "< 0.3";
                    blen = 5;
                }
                r = asprintf(&lines[i + 1],
                             "%s\x1f%s\x1f%s\x1f%s\x1f%.*s\x1f%s\x1f%s\x1f%s"
                             "\x1f%s",
                             m->name, m->addr, m->status, type, blen, build,
                             cli_tag(m, "vsn"), cli_tag(m, "dc"),
                             cli_tag(m, "partition"), cli_tag(m, "segment"));
            }
        }
        if (r < 0) {
            lines[i + 1] = NULL;
            goto oom;
        }
    }
    if (lines[0] == NULL)
        goto oom;
    *out = cli__columnize(lines, n + 1);
    if (*out == NULL)
        goto oom;
    rc = 0;
    goto done;

oom:
    snprintf(err, errlen, "out of memory");
    rc = 1;
done:
    if (lines)
        for (size_t i = 0; i <= n; i++)
            free(lines[i]);
    free(lines);
    if (tagbufs)
        for (size_t i = 0; i < n; i++)
            free(tagbufs[i].p);
    free(tagbufs);
    if (ms)
        for (size_t i = 0; i < total; i++)
            free(ms[i].tags);
    free(ms);
    regfree(&re);
    return rc;
}
