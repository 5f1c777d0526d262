/*
 * cli — command table, Go-style flag parsing, help, and the small
 * commands (version, members, reload). The kv commands live in cli_kv.c,
 * text formatting in cli_fmt.c.
 *
 * Messages and exit codes copy Consul's command/ package (mitchellh/cli +
 * Go's flag package), because scripts compare them.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli_internal.h"
#include "json.h"
#include "version.h"

FILE *cli__out;
FILE *cli__err;
FILE *cli__in;

#define CLI_OUT (cli__out ? cli__out : stdout)
#define CLI_ERR (cli__err ? cli__err : stderr)

void cli__errorf(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfprintf(CLI_ERR, fmt, ap);
    va_end(ap);
    fputc('\n', CLI_ERR);
}

void cli__info(const char *s, size_t n)
{
    fwrite(s, 1, n, CLI_OUT);
    fputc('\n', CLI_OUT);
}

/* ------------------------------------------------------------- flags */

int cli__parse_u64(const char *s, uint64_t *out)
{
    unsigned base = 10;
    const char *p = s;
    uint64_t v = 0;

    if (*p == '\0')
        return -EINVAL;
    if (p[0] == '0' && p[1] != '\0') {
        char b = (char)tolower((unsigned char)p[1]);
        if (b == 'x') {
            base = 16;
            p += 2;
        } else if (b == 'o') {
            base = 8;
            p += 2;
        } else if (b == 'b') {
            base = 2;
            p += 2;
        } else {
            base = 8;
            p += 1;
        }
        if (*p == '\0')
            return -EINVAL;
    }
    bool range = false;
    for (; *p; p++) {
        unsigned d;
        char c = (char)tolower((unsigned char)*p);
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'z')
            d = (unsigned)(c - 'a') + 10;
        else
            return -EINVAL;
        if (d >= base)
            return -EINVAL;
        if (v > (UINT64_MAX - d) / base)
            range = true;
        else
            v = v * base + d;
    }
    if (range)
        return -ERANGE;
    *out = v;
    return 0;
}

static int cli_parse_bool(const char *s, bool *out)
{
    static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < 6; i++) {
        if (strcmp(s, t[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(s, f[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

int cli__flags_parse(const struct cli_flag *flags,
                     size_t n,
                     int argc,
                     char **argv,
                     char *err,
                     size_t errlen)
{
    int i = 0;

    while (i < argc) {
        const char *s = argv[i];
        size_t len = strlen(s);
        if (len < 2 || s[0] != '-')
            break;
        const char *name = s + 1;
        if (s[1] == '-') {
            if (len == 2)
                return i + 1; /* "--" ends the flags */
            name = s + 2;
        }
        if (name[0] == '\0' || name[0] == '-' || name[0] == '=') {
            snprintf(err, errlen, "bad flag syntax: %s", s);
            return -1;
        }
        i++;
        const char *eq = strchr(name + 1, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const char *value = eq ? eq + 1 : NULL;
        const struct cli_flag *f = NULL;
        for (size_t k = 0; k < n; k++) {
            if (strlen(flags[k].name) == nlen &&
                strncmp(flags[k].name, name, nlen) == 0) {
                f = &flags[k];
                break;
            }
        }
        if (f == NULL) {
            snprintf(err, errlen, "flag provided but not defined: -%.*s",
                     (int)nlen, name);
            return -1;
        }
        if (f->kind == CLI_FLAG_BOOL) {
            if (value && cli_parse_bool(value, f->dst) != 0) {
                snprintf(err, errlen,
                         "invalid boolean value \"%s\" for -%s: parse error",
                         value, f->name);
                return -1;
            }
            if (value == NULL)
                *(bool *)f->dst = true;
            continue;
        }
        if (value == NULL) {
            if (i >= argc) {
                snprintf(err, errlen, "flag needs an argument: -%s", f->name);
                return -1;
            }
            value = argv[i++];
        }
        if (f->kind == CLI_FLAG_STRING) {
            *(const char **)f->dst = value;
        } else {
            int rc = cli__parse_u64(value, f->dst);
            if (rc) {
                snprintf(err, errlen, "invalid value \"%s\" for flag -%s: %s",
                         value, f->name,
                         rc == -ERANGE ? "value out of range" : "parse error");
                return -1;
            }
        }
    }
    return i;
}

bool cli__wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "-help") == 0 ||
            strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------- help */

static const char cli_addr_usage[] =
    "The address and port of the Cairn (or Consul) HTTP agent. The value "
    "can be an IP address or DNS address, but it must also include the "
    "port. This can also be specified via the CAIRN_HTTP_ADDR or "
    "CONSUL_HTTP_ADDR environment variables. The default value is "
    "http://127.0.0.1:8500. HTTPS and unix sockets are not supported yet.";

static size_t cli_http_flags(struct cli_http *h, struct cli_flag *out)
{
    const struct cli_flag f[] = {
        {"datacenter", CLI_FLAG_STRING, &h->datacenter, NULL,
         "Name of the datacenter to query. If unspecified, this will "
         "default to the datacenter of the queried agent."},
        {"http-addr", CLI_FLAG_STRING, &h->addr, "address", cli_addr_usage},
        {"stale", CLI_FLAG_BOOL, &h->stale, NULL,
         "Permit any Consul server (non-leader) to respond to this request. "
         "This allows for lower latency and higher throughput, but can "
         "result in stale data. This option has no effect on non-read "
         "operations. The default value is false."},
        {"token", CLI_FLAG_STRING, &h->token, NULL,
         "ACL token to use in the request. This can also be specified via "
         "the CONSUL_HTTP_TOKEN environment variable. If unspecified, the "
         "query will default to the token of the Consul agent at the HTTP "
         "address."},
        {"token-file", CLI_FLAG_STRING, &h->token_file, NULL,
         "File containing the ACL token to use in the request instead of "
         "one specified via the -token argument or CONSUL_HTTP_TOKEN "
         "environment variable. This can also be specified via the "
         "CONSUL_HTTP_TOKEN_FILE environment variable."},
    };
    memcpy(out, f, sizeof(f));
    return sizeof(f) / sizeof(f[0]);
}

#define CLI_N_HTTP_FLAGS 5

/* Greedy word wrap at `width` columns, each line indented by `pad`. */
static void cli_wrap(FILE *f, const char *s, size_t width, int pad)
{
    while (*s) {
        size_t len = strlen(s), cut = len;
        if (len > width) {
            cut = width;
            while (cut > 0 && s[cut] != ' ')
                cut--;
            if (cut == 0) { /* one long word */
                cut = width;
                while (s[cut] && s[cut] != ' ')
                    cut++;
            }
        }
        fprintf(f, "%*s%.*s\n", pad, "", (int)cut, s);
        s += cut;
        while (*s == ' ')
            s++;
    }
}

static int cli_flag_cmp(const void *a, const void *b)
{
    const struct cli_flag *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

static void cli_print_flag_section(FILE *f,
                                   const char *title,
                                   const struct cli_flag *flags,
                                   size_t n)
{
    const struct cli_flag *sorted[64];

    if (n == 0)
        return;
    if (n > 64)
        n = 64;
    for (size_t i = 0; i < n; i++)
        sorted[i] = &flags[i];
    qsort(sorted, n, sizeof(sorted[0]), cli_flag_cmp);
    fprintf(f, "%s\n\n", title);
    for (size_t i = 0; i < n; i++) {
        const struct cli_flag *fl = sorted[i];
        if (fl->kind == CLI_FLAG_BOOL)
            fprintf(f, "  -%s\n", fl->name);
        else
            fprintf(f, "  -%s=<%s>\n", fl->name,
                    fl->example ? fl->example : "value");
        cli_wrap(f, fl->usage, 67, 5);
        fputc('\n', f);
    }
}

void cli__print_help(FILE *f,
                     const struct cli_cmd *cmd,
                     const struct cli_flag *flags,
                     size_t n,
                     bool http)
{
    fprintf(f, "%s\n\n", cmd->help);
    if (http) {
        struct cli_http h;
        struct cli_flag hf[CLI_N_HTTP_FLAGS];
        size_t hn = cli_http_flags(&h, hf);
        cli_print_flag_section(f, "HTTP API Options", hf, hn);
    }
    cli_print_flag_section(f, "Command Options", flags, n);
}

int cli__parse(const struct cli_cmd *cmd,
               const struct cli_flag *flags,
               size_t n,
               struct cli_http *http,
               int argc,
               char **argv,
               int *first)
{
    struct cli_flag all[64 + CLI_N_HTTP_FLAGS];
    char err[512];
    size_t total = 0;

    if (cli__wants_help(argc, argv)) {
        cli__print_help(CLI_OUT, cmd, flags, n, http != NULL);
        return 0;
    }
    for (size_t i = 0; i < n && i < 64; i++)
        all[total++] = flags[i];
    if (http) {
        memset(http, 0, sizeof(*http));
        total += cli_http_flags(http, all + total);
    }
    int rc = cli__flags_parse(all, total, argc, argv, err, sizeof(err));
    if (rc < 0) {
        cli__errorf("%s", err);
        cli__print_help(CLI_ERR, cmd, flags, n, http != NULL);
        return 1;
    }
    *first = rc;
    return CLI_CONTINUE;
}

struct client *cli__client(const struct cli_http *http)
{
    struct client_opts o = {
        .addr = http->addr,
        .token = http->token,
        .token_file = http->token_file,
        .datacenter = http->datacenter,
        .stale = http->stale,
    };
    struct client *c;
    char err[512];

    if (client_new(&o, &c, err, sizeof(err)) != 0) {
        cli__errorf("Error connecting to Consul agent: %s", err);
        return NULL;
    }
    return c;
}

/* Go's "open x: no such file or directory" style. */
static void cli_errno_msg(char *err,
                          size_t errlen,
                          const char *op,
                          const char *path,
                          int e)
{
    char es[128];

    snprintf(es, sizeof(es), "%s", strerror(e));
    es[0] = (char)tolower((unsigned char)es[0]);
    snprintf(err, errlen, "%s %s: %s", op, path, es);
}

static int cli_read_stream(FILE *f, char **out, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);

    if (buf == NULL)
        return -ENOMEM;
    for (;;) {
        if (n + 1 >= cap) {
            char *p = realloc(buf, cap * 2);
            if (p == NULL) {
                free(buf);
                return -ENOMEM;
            }
            buf = p;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        int e = errno ? errno : EIO;
        free(buf);
        return -e;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

int cli__read_data(const char *arg,
                   char **out,
                   size_t *len,
                   char *err,
                   size_t errlen)
{
    char msg[512];
    int rc;

    *out = NULL;
    *len = 0;
    if (arg[0] == '@') {
        const char *path = arg + 1;
        FILE *f = fopen(path, "rb");
        if (f == NULL) {
            int e = errno;
            cli_errno_msg(msg, sizeof(msg), "open", path, e);
            snprintf(err, errlen, "Failed to read file: %s", msg);
            return -e;
        }
        rc = cli_read_stream(f, out, len);
        fclose(f);
        if (rc) {
            cli_errno_msg(msg, sizeof(msg), "read", path, -rc);
            snprintf(err, errlen, "Failed to read file: %s", msg);
        }
        return rc;
    }
    if (strcmp(arg, "-") == 0) {
        rc = cli_read_stream(cli__in ? cli__in : stdin, out, len);
        if (rc) {
            snprintf(msg, sizeof(msg), "%s", strerror(-rc));
            snprintf(err, errlen, "Failed to read stdin: %s", msg);
        }
        return rc;
    }
    *len = strlen(arg);
    *out = strdup(arg);
    return *out ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------ commands */

static int cli_version(const struct cli_cmd *cmd, int argc, char **argv)
{
    int first;
    int rc = cli__parse(cmd, NULL, 0, NULL, argc, argv, &first);

    if (rc != CLI_CONTINUE)
        return rc;
    fprintf(CLI_OUT,
            "cairn v%s\n"
            "Revision %s\n"
            "Consul API compatibility: %s\n"
            "Protocol %d spoken by default, understands %d to %d (agent "
            "will automatically use protocol >%d when speaking to "
            "compatible agents)\n",
            CAIRN_VERSION, CAIRN_REVISION, CAIRN_CONSUL_VERSION, CAIRN_PROTOCOL,
            CAIRN_PROTOCOL, CAIRN_PROTOCOL + 1, CAIRN_PROTOCOL);
    return 0;
}

static int cli_members(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct cli_http http;
    bool detailed = false, wan = false;
    const char *status = ".*", *segment = "_all", *filter = NULL;
    const struct cli_flag flags[] = {
        {"detailed", CLI_FLAG_BOOL, &detailed, NULL,
         "Provides detailed information about nodes."},
        {"wan", CLI_FLAG_BOOL, &wan, NULL,
         "If the agent is in server mode, this can be used to return the "
         "other peers in the WAN pool."},
        {"status", CLI_FLAG_STRING, &status, NULL,
         "If provided, output is filtered to only nodes matching the "
         "regular expression for status."},
        {"segment", CLI_FLAG_STRING, &segment, NULL,
         "(Enterprise-only) If provided, output is filtered to only nodes "
         "in the given segment."},
        {"filter", CLI_FLAG_STRING, &filter, NULL,
         "Filter to use with the request"},
    };
    int first, rc;
    char err[1024], path[4096];

    rc = cli__parse(cmd, flags, sizeof(flags) / sizeof(flags[0]), &http, argc,
                    argv, &first);
    if (rc != CLI_CONTINUE)
        return rc;

    /* Validate the regex before talking to the agent, as Consul does. */
    rc = cli__members_format(NULL, false, segment, status, NULL, err,
                             sizeof(err));
    if (rc == 1) {
        cli__errorf("%s", err);
        return 1;
    }

    struct client *c = cli__client(&http);
    if (c == NULL)
        return 1;

    /* Unlike the Go client we leave out segment=_all (the default): our
     * agent has no segments, and a segment with wan is a 400. */
    size_t o = (size_t)snprintf(path, sizeof(path), "/v1/agent/members");
    char sep = '?';
    if (wan) {
        o += (size_t)snprintf(path + o, sizeof(path) - o, "%cwan=1", sep);
        sep = '&';
    }
    char *esc = NULL;
    if (strcmp(segment, "_all") != 0 && (esc = client_escape(segment, false))) {
        o += (size_t)snprintf(path + o, sizeof(path) - o, "%csegment=%s", sep,
                              esc);
        sep = '&';
        free(esc);
    }
    if (filter && *filter && (esc = client_escape(filter, false))) {
        snprintf(path + o, sizeof(path) - o, "%cfilter=%s", sep, esc);
        free(esc);
    }

    struct client_resp r;
    rc = client_do(c, "GET", path, NULL, 0, &r, err, sizeof(err));
    client_delete(c);
    if (rc) {
        cli__errorf("Error retrieving members: %s", err);
        return 1;
    }
    if (r.status != 200) {
        client_status_error(&r, err, sizeof(err));
        client_resp_clear(&r);
        cli__errorf("Error retrieving members: %s", err);
        return 1;
    }
    json_object *j = json_parse(r.body, r.len, err, sizeof(err));
    client_resp_clear(&r);
    if (j == NULL && err[0]) {
        cli__errorf("Error retrieving members: %s", err);
        return 1;
    }
    char *out = NULL;
    rc = cli__members_format(j, detailed, segment, status, &out, err,
                             sizeof(err));
    json_object_put(j);
    if (rc == 1)
        cli__errorf("Error retrieving members: %s", err);
    if (rc == 0)
        cli__info(out, strlen(out));
    free(out);
    return rc;
}

static int cli_reload(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct cli_http http;
    int first, rc;
    char err[1024];

    rc = cli__parse(cmd, NULL, 0, &http, argc, argv, &first);
    if (rc != CLI_CONTINUE)
        return rc;
    struct client *c = cli__client(&http);
    if (c == NULL)
        return 1;
    struct client_resp r;
    rc = client_do(c, "PUT", "/v1/agent/reload", NULL, 0, &r, err, sizeof(err));
    client_delete(c);
    if (rc == 0 && r.status != 200) {
        client_status_error(&r, err, sizeof(err));
        rc = -EIO;
    }
    client_resp_clear(&r);
    if (rc) {
        cli__errorf("Error reloading: %s", err);
        return 1;
    }
    fprintf(CLI_OUT, "Configuration reload triggered\n");
    return 0;
}

/* --------------------------------------------------------------- table */

static const struct cli_cmd cli_cmds[] = {
    {"catalog", "Interact with the catalog (datacenters, nodes, services)",
     "Usage: cairn catalog <subcommand> [options] [args]\n"
     "\n"
     "  This command has subcommands for interacting with the catalog: "
     "the\n"
     "  datacenters, nodes and services the cluster knows.\n"
     "\n"
     "      $ cairn catalog datacenters\n"
     "      $ cairn catalog nodes -detailed\n"
     "      $ cairn catalog services -tags\n"
     "\n"
     "  For more examples, ask for subcommand help (cairn catalog nodes "
     "-h).",
     cli__catalog},
    {"force-leave",
     "Forces a member of the cluster to enter the \"left\" state",
     "Usage: cairn force-leave [options] name\n"
     "\n"
     "  Forces a member of a Cairn cluster to enter the \"left\" state. "
     "Note\n"
     "  that if the member is still actually alive, it will eventually "
     "rejoin\n"
     "  the cluster. This command is most useful for cleaning out "
     "\"failed\" nodes\n"
     "  that are never coming back. With -prune the member is removed from "
     "the\n"
     "  member list entirely.",
     cli__force_leave},
    {"join", "Tell the agent to join a cluster",
     "Usage: cairn join [options] address ...\n"
     "\n"
     "  Tells a running Cairn agent (with \"cairn agent\") to join the "
     "cluster\n"
     "  by specifying at least one existing member (host or host:port; the "
     "port\n"
     "  defaults to the agent's LAN gossip port).",
     cli__join},
    {"keygen", "Generates a new encryption key",
     "Usage: cairn keygen\n"
     "\n"
     "  Generates a new 32-byte encryption key that can be used to "
     "configure the\n"
     "  agent to encrypt traffic (-encrypt). The output of this command is "
     "already\n"
     "  in the proper format that the agent expects.",
     cli__keygen},
    {"keyring", "Manages gossip layer encryption keys",
     "Usage: cairn keyring [options]\n"
     "\n"
     "  Manages encryption keys used for gossip messages. Gossip encryption "
     "is\n"
     "  optional. When enabled, this command may be used to examine active "
     "encryption\n"
     "  keys in the cluster, add new keys, and remove old ones. When "
     "combined, this\n"
     "  functionality provides the ability to perform key rotation "
     "cluster-wide,\n"
     "  without disrupting the cluster; -rotate does all of it in one "
     "verified step:\n"
     "\n"
     "      $ cairn keyring -rotate=$(cairn keygen)\n"
     "\n"
     "  All variations of the keyring command return 0 if all nodes reply "
     "and there\n"
     "  are no errors. If any node fails to reply or reports failure, the "
     "exit code\n"
     "  will be 1.",
     cli__keyring},
    {"kv delete", "Removes data from the KV store",
     "Usage: cairn kv delete [options] KEY_OR_PREFIX\n"
     "\n"
     "  Removes the value from the key-value store at the given path. If "
     "no\n"
     "  key exists at the path, no action is taken.\n"
     "\n"
     "  To delete the value for the key named \"foo\" in the key-value "
     "store:\n"
     "\n"
     "      $ cairn kv delete foo\n"
     "\n"
     "  To delete all keys which start with \"foo\", specify the -recurse "
     "option:\n"
     "\n"
     "      $ cairn kv delete -recurse foo\n"
     "\n"
     "  This will delete the keys named \"foo\", \"food\", and "
     "\"foo/bar/zip\" if they\n"
     "  existed. To delete only if the key's ModifyIndex is still N "
     "(check-and-set):\n"
     "\n"
     "      $ cairn kv delete -cas -modify-index=N foo",
     cli__kv_delete},
    {"kv export", "Exports a tree from the KV store as JSON",
     "Usage: cairn kv export [KEY_OR_PREFIX]\n"
     "\n"
     "  Retrieves key-value pairs for the given prefix from the key-value "
     "store,\n"
     "  and writes a JSON representation to stdout: an array of\n"
     "  {\"key\", \"flags\", \"value\"} objects with base64 values. This "
     "can be used\n"
     "  with \"cairn kv import\" (or \"consul kv import\") to move entire "
     "trees.\n"
     "\n"
     "      $ cairn kv export vault",
     cli__kv_export},
    {"kv get", "Retrieves or lists data from the KV store",
     "Usage: cairn kv get [options] [KEY_OR_PREFIX]\n"
     "\n"
     "  Retrieves the value from the key-value store at the given key "
     "name. If no\n"
     "  key exists with that name, an error is returned. If a key exists "
     "with that\n"
     "  name but has no data, nothing is returned. If the name or prefix "
     "is omitted,\n"
     "  it defaults to \"\" which is the root of the key-value store.\n"
     "\n"
     "  To retrieve the value for the key named \"foo\":\n"
     "\n"
     "      $ cairn kv get foo\n"
     "\n"
     "  To view all known metadata about the key (ModifyIndex, Flags, "
     "...):\n"
     "\n"
     "      $ cairn kv get -detailed foo\n"
     "\n"
     "  To list all key-value pairs whose key starts with a prefix, as "
     "key:value lines:\n"
     "\n"
     "      $ cairn kv get -recurse foo\n"
     "\n"
     "  To list just the keys, one level deep (see -separator):\n"
     "\n"
     "      $ cairn kv get -keys foo/",
     cli__kv_get},
    {"kv import", "Imports a tree stored as JSON to the KV store",
     "Usage: cairn kv import [DATA]\n"
     "\n"
     "  Imports key-value pairs to the key-value store from the JSON "
     "representation\n"
     "  generated by the \"cairn kv export\" command.\n"
     "\n"
     "  The data can be read from a file by prefixing the filename with "
     "the \"@\"\n"
     "  symbol. For example:\n"
     "\n"
     "      $ cairn kv import @filename.json\n"
     "\n"
     "  Or it can be read from stdin using the \"-\" symbol:\n"
     "\n"
     "      $ cat filename.json | cairn kv import -\n"
     "\n"
     "  Alternatively the data may be provided as the final parameter to "
     "the command,\n"
     "  though care must be taken with regards to shell escaping.",
     cli__kv_import},
    {"kv put", "Sets or updates data in the KV store",
     "Usage: cairn kv put [options] KEY [DATA]\n"
     "\n"
     "  Writes the data to the given path in the key-value store. The data "
     "can be of\n"
     "  any type.\n"
     "\n"
     "      $ cairn kv put config/redis/maxconns 5\n"
     "\n"
     "  The data can also be consumed from a file on disk by prefixing "
     "with the \"@\"\n"
     "  symbol. For example:\n"
     "\n"
     "      $ cairn kv put config/program/license @license.lic\n"
     "\n"
     "  Or it can be read from stdin using the \"-\" symbol:\n"
     "\n"
     "      $ echo \"abcd1234\" | cairn kv put config/program/license -\n"
     "\n"
     "  The DATA argument itself is optional. If omitted, this will create "
     "an empty\n"
     "  key-value pair at the specified path:\n"
     "\n"
     "      $ cairn kv put webapp/beta/active\n"
     "\n"
     "  If the -base64 flag is specified, the data will be treated as base "
     "64\n"
     "  encoded.\n"
     "\n"
     "  To perform a Check-And-Set operation, specify the -cas flag with "
     "the\n"
     "  appropriate -modify-index flag corresponding to the key you want "
     "to perform\n"
     "  the CAS operation on:\n"
     "\n"
     "      $ cairn kv put -cas -modify-index=844 config/redis/maxconns 5",
     cli__kv_put},
    {"leave", "Gracefully leaves the Cairn cluster and shuts down",
     "Usage: cairn leave [options]\n"
     "\n"
     "  Causes the agent to gracefully leave the Cairn cluster and "
     "shutdown.",
     cli__leave},
    {"maint", "Controls node or service maintenance mode",
     "Usage: cairn maint [options]", cli__maint},
    {"members", "Lists the members of a Cairn cluster",
     "Usage: cairn members [options]\n"
     "\n"
     "  Outputs the members of a running agent's cluster: Node, Address, "
     "Status,\n"
     "  Type, Build, Protocol, DC, Partition and Segment (or Node, "
     "Address, Status\n"
     "  and Tags with -detailed). Exits 2 when no member matches -status.",
     cli_members},
    {"reload", "Triggers the agent to reload configuration files",
     "Usage: cairn reload [options]\n"
     "\n"
     "  Causes the agent to reload configurations. This can be used "
     "instead\n"
     "  of sending the SIGHUP signal to the agent.",
     cli_reload},
    {"services", "Interact with services (register, deregister)",
     "Usage: cairn services <subcommand> [options] [args]\n"
     "\n"
     "  This command has subcommands for registering and deregistering "
     "services\n"
     "  with the local agent.\n"
     "\n"
     "      $ cairn services register -name=web -port=8080\n"
     "      $ cairn services register web.yaml\n"
     "      $ cairn services deregister web\n"
     "\n"
     "  For more examples, ask for subcommand help (cairn services "
     "register -h).",
     cli__services},
    {"version", "Prints the Cairn version",
     "Usage: cairn version\n"
     "\n"
     "  Prints the cairn version, the Consul API version it is compatible "
     "with\n"
     "  and the protocol versions it speaks.",
     cli_version},
};

#define CLI_N_CMDS (sizeof(cli_cmds) / sizeof(cli_cmds[0]))

static const char cli_kv_help[] =
    "Usage: cairn kv <subcommand> [options] [args]\n"
    "\n"
    "  This command has subcommands for interacting with the key-value "
    "store.\n"
    "  Here are some simple examples, and more detailed examples are "
    "available\n"
    "  in the subcommands.\n"
    "\n"
    "  Create or update the key named \"redis/config/connections\" with "
    "the value \"5\":\n"
    "\n"
    "      $ cairn kv put redis/config/connections 5\n"
    "\n"
    "  Read this value back:\n"
    "\n"
    "      $ cairn kv get redis/config/connections\n"
    "\n"
    "  Or get detailed key information:\n"
    "\n"
    "      $ cairn kv get -detailed redis/config/connections\n"
    "\n"
    "  Finally, delete the key:\n"
    "\n"
    "      $ cairn kv delete redis/config/connections\n"
    "\n"
    "  For more examples, ask for subcommand help (cairn kv get -h).\n"
    "\n"
    "Subcommands:\n";

/* The top-level entries that are not in cli_cmds: run by main.c (agent),
 * by cli_main itself (help), or a group of cli_cmds ("kv get", ...). */
static const struct
{
    const char *name, *synopsis;
} cli_extra_cmds[] = {
    {"agent", "Runs a Cairn agent (see cairn agent -h)"},
    {"help", "Prints this help, or a command's help: cairn help kv put"},
    {"kv",
     "Interact with the key-value store (get, put, delete, export, "
     "import)"},
};

static bool cli_is_kv(const struct cli_cmd *c)
{
    return strncmp(c->name, "kv ", 3) == 0;
}

/* One row of a command list, as Consul prints it (mitchellh/cli's
 * BasicHelpFunc): four spaces, the name padded to the longest name in the
 * list (`width`), four spaces, the synopsis. */
static void cli_usage_row(FILE *f,
                          int width,
                          const char *name,
                          const char *synopsis)
{
    fprintf(f, "    %-*s    %s\n", width, name, synopsis);
}

static int cli_max_len(int width, const char *name)
{
    int n = (int)strlen(name);
    return n > width ? n : width;
}

static void cli_usage(FILE *f)
{
    const size_t nextra = sizeof(cli_extra_cmds) / sizeof(cli_extra_cmds[0]);
    int width = 0;

    for (size_t i = 0; i < nextra; i++)
        width = cli_max_len(width, cli_extra_cmds[i].name);
    for (size_t i = 0; i < CLI_N_CMDS; i++)
        if (!cli_is_kv(&cli_cmds[i]))
            width = cli_max_len(width, cli_cmds[i].name);

    fprintf(f,
            "Usage: cairn [--version] [--help] <command> [<args>]\n"
            "\n"
            "Available commands are:\n");
    for (size_t i = 0; i < nextra; i++)
        cli_usage_row(f, width, cli_extra_cmds[i].name,
                      cli_extra_cmds[i].synopsis);
    for (size_t i = 0; i < CLI_N_CMDS; i++)
        if (!cli_is_kv(&cli_cmds[i]))
            cli_usage_row(f, width, cli_cmds[i].name, cli_cmds[i].synopsis);
    fprintf(f,
            "\n"
            "Run `cairn <command> -h` for a command's flags. Commands that "
            "talk to the\n"
            "agent take -http-addr=<host:port> (else CAIRN_HTTP_ADDR, "
            "CONSUL_HTTP_ADDR,\n"
            "default 127.0.0.1:8500), -token=<token> (else "
            "CONSUL_HTTP_TOKEN),\n"
            "-token-file=<path>, -datacenter=<dc> and -stale, as "
            "-flag=value or -flag value.\n");
}

static void cli_kv_usage(FILE *f)
{
    int width = 0;

    for (size_t i = 0; i < CLI_N_CMDS; i++)
        if (cli_is_kv(&cli_cmds[i]))
            width = cli_max_len(width, cli_cmds[i].name + 3);
    fputs(cli_kv_help, f);
    for (size_t i = 0; i < CLI_N_CMDS; i++)
        if (cli_is_kv(&cli_cmds[i]))
            cli_usage_row(f, width, cli_cmds[i].name + 3, cli_cmds[i].synopsis);
}

static const struct cli_cmd *cli_find(const char *name)
{
    for (size_t i = 0; i < CLI_N_CMDS; i++)
        if (strcmp(cli_cmds[i].name, name) == 0)
            return &cli_cmds[i];
    return NULL;
}

/* Resolve argv[0] (and argv[1] for kv) to a command; *used is how many
 * words the name took. */
static const struct cli_cmd *cli_lookup(int argc, char **argv, int *used)
{
    char name[64];

    if (argc >= 2 && strcmp(argv[0], "kv") == 0) {
        snprintf(name, sizeof(name), "kv %s", argv[1]);
        *used = 2;
        return cli_find(name);
    }
    *used = 1;
    if (argc < 1 || strcmp(argv[0], "kv") == 0)
        return NULL;
    return cli_find(argv[0]);
}

/* `cairn help [cmd...]` */
static int cli_help(int argc, char **argv)
{
    int used;

    if (argc == 0) {
        cli_usage(CLI_OUT);
        return 0;
    }
    if (strcmp(argv[0], "agent") == 0) {
        fprintf(CLI_OUT, "Run `cairn agent -h` for the agent's flags.\n");
        return 0;
    }
    if (strcmp(argv[0], "kv") == 0 && argc == 1) {
        cli_kv_usage(CLI_OUT);
        return 0;
    }
    const struct cli_cmd *cmd = cli_lookup(argc, argv, &used);
    if (cmd == NULL) {
        cli__errorf("Unknown command: %s", argv[0]);
        cli_usage(CLI_ERR);
        return 1;
    }
    /* The command prints its own help, flags included. */
    char *h[] = {"-h"};
    return cmd->run(cmd, 1, h);
}

int cli_main(int argc, char **argv)
{
    if (argc < 2) {
        cli_usage(CLI_ERR);
        return 1;
    }
    const char *c = argv[1];
    if (strcmp(c, "-h") == 0 || strcmp(c, "-help") == 0 ||
        strcmp(c, "--help") == 0) {
        cli_usage(CLI_OUT);
        return 0;
    }
    if (strcmp(c, "-v") == 0 || strcmp(c, "-version") == 0 ||
        strcmp(c, "--version") == 0)
        c = "version";
    if (strcmp(c, "help") == 0)
        return cli_help(argc - 2, argv + 2);
    if (strcmp(c, "agent") == 0) {
        cli__errorf(
            "The agent is started by cairn's main program: run "
            "`cairn agent -h`.");
        return 1;
    }
    if (strcmp(c, "kv") == 0) {
        bool help = argc == 3 && cli__wants_help(1, argv + 2);
        if (argc < 3 || help || argv[2][0] == '-') {
            cli_kv_usage(help ? CLI_OUT : CLI_ERR);
            return help ? 0 : 1;
        }
    }

    char *sub[2] = {(char *)c, argc > 2 ? argv[2] : NULL};
    int used;
    const struct cli_cmd *cmd = cli_lookup(argc > 2 ? 2 : 1, sub, &used);
    if (cmd == NULL) {
        if (strcmp(c, "kv") == 0) {
            cli__errorf("Unknown command: kv %s", argv[2]);
            cli_kv_usage(CLI_ERR);
        } else {
            cli__errorf("Unknown command: %s", c);
            cli_usage(CLI_ERR);
        }
        return 1;
    }
    return cmd->run(cmd, argc - 1 - used, argv + 1 + used);
}
