/*
 * cli_internal — shared inside agent/cli*.c and tests/unit/test_cli.c only.
 *
 * The commands are split in three layers so most of them test without an
 * agent: flag parsing (cli.c), pure formatters from JSON to text
 * (cli_fmt.c) and the command bodies that do HTTP (cli.c, cli_kv.c).
 */
#ifndef CAIRN_CLI_INTERNAL_H
#define CAIRN_CLI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "client.h"

/* Returned by cli__parse when the command should go on. */
#define CLI_CONTINUE (-1)

enum cli_flag_kind { CLI_FLAG_BOOL, CLI_FLAG_STRING, CLI_FLAG_U64 };

/* One flag. `dst` points at a bool, a const char * (set to a borrowed argv
 * string) or a uint64_t. `example` names the value in help ("-name=<x>"),
 * NULL for "value". */
struct cli_flag
{
    const char *name;
    enum cli_flag_kind kind;
    void *dst;
    const char *example;
    const char *usage;
};

/* The HTTP API flags every command talking to the agent takes. */
struct cli_http
{
    const char *addr;
    const char *token;
    const char *token_file;
    const char *datacenter;
    bool stale;
};

/* A command. `help` is the text after the usage line's title, Consul-style
 * ("Usage: cairn kv get [options] KEY\n\n  Retrieves ..."). */
struct cli_cmd
{
    const char *name; /* "kv get" */
    const char *synopsis;
    const char *help;
    int (*run)(const struct cli_cmd *cmd, int argc, char **argv);
};

/* Output streams (stdout, stderr, stdin unless a test swapped them). */
extern FILE *cli__out;
extern FILE *cli__err;
extern FILE *cli__in;

/* Parse Go-style flags in argv[0..argc) (the arguments after the command
 * name) against `flags`. Returns the index of the first positional
 * argument, or -1 with the message Go's flag package gives in `err`
 * ("flag provided but not defined: -x", "flag needs an argument: -x",
 * "invalid boolean value \"x\" for -f: parse error",
 * "invalid value \"x\" for flag -f: parse error", "bad flag syntax: ---x").
 * -h/-help are not special here (see cli__wants_help). */
int cli__flags_parse(const struct cli_flag *flags,
                     size_t n,
                     int argc,
                     char **argv,
                     char *err,
                     size_t errlen);

/* Go's strconv.ParseUint(s, 0, 64): 0x/0o/0b prefixes, leading 0 octal.
 * 0, or -EINVAL ("parse error") / -ERANGE ("value out of range"). */
int cli__parse_u64(const char *s, uint64_t *out);

/* True if -h, -help or --help occurs in argv before "--". */
bool cli__wants_help(int argc, char **argv);

/* Common start of every command: handles -h (help to stdout, returns 0),
 * parses `flags` plus the HTTP flags when `http` is not NULL (error plus
 * help to stderr, returns 1). Otherwise returns CLI_CONTINUE with the
 * positional arguments in argv[*first..argc). */
int cli__parse(const struct cli_cmd *cmd,
               const struct cli_flag *flags,
               size_t n,
               struct cli_http *http,
               int argc,
               char **argv,
               int *first);

/* Print the command's help (usage text plus its flags) to `f`. */
void cli__print_help(FILE *f,
                     const struct cli_cmd *cmd,
                     const struct cli_flag *flags,
                     size_t n,
                     bool http);

/* Create the API client from the HTTP flags; on error prints
 * "Error connecting to Consul agent: ..." and returns NULL. */
struct client *cli__client(const struct cli_http *http);

/* Read DATA the way `consul kv put/import` do: "@file" is the file's bytes,
 * "-" is all of stdin, anything else is itself. New buffer in *out (with a
 * NUL after *len bytes). Returns 0 or -errno with a message in err
 * ("Failed to read file: open x: No such file or directory"). */
int cli__read_data(const char *arg,
                   char **out,
                   size_t *len,
                   char *err,
                   size_t errlen);

/* Print a message + newline to stderr (Consul's UI.Error). */
void cli__errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print `n` bytes and a newline to stdout (Consul's UI.Info). */
void cli__info(const char *s, size_t n);

/* kv commands (cli_kv.c). */
int cli__kv_get(const struct cli_cmd *cmd, int argc, char **argv);
int cli__kv_put(const struct cli_cmd *cmd, int argc, char **argv);
int cli__kv_delete(const struct cli_cmd *cmd, int argc, char **argv);
int cli__kv_export(const struct cli_cmd *cmd, int argc, char **argv);
int cli__kv_import(const struct cli_cmd *cmd, int argc, char **argv);

/* Service discovery commands (cli_catalog.c): `services` and `catalog`
 * dispatch to their subcommands, `maint` is one command. */
int cli__services(const struct cli_cmd *cmd, int argc, char **argv);
int cli__catalog(const struct cli_cmd *cmd, int argc, char **argv);
int cli__maint(const struct cli_cmd *cmd, int argc, char **argv);

/* Cluster membership and gossip keyring commands (cli_member.c). */
int cli__join(const struct cli_cmd *cmd, int argc, char **argv);
int cli__leave(const struct cli_cmd *cmd, int argc, char **argv);
int cli__force_leave(const struct cli_cmd *cmd, int argc, char **argv);
int cli__keygen(const struct cli_cmd *cmd, int argc, char **argv);
int cli__keyring(const struct cli_cmd *cmd, int argc, char **argv);

/* A new gossip key: 32 random bytes from libsodium, standard base64 (44
 * characters and a NUL) in out. 0, or -1 if libsodium cannot start. */
int cli__keygen_key(char out[45]);

/* `consul keyring -list` output after the "==> Gathering ..." line, for a
 * /v1/operator/keyring answer (an array of KeyringResponse; NULL = none):
 * per pool "\n<dc> (LAN):\n" ("WAN:"; " [segment]" or " [partition: p]"
 * before the colon), its Messages as "  ===> from: msg\n" and its Keys
 * (PrimaryKeys with `primary`) as "  KEY [count/NumNodes]\n", messages and
 * keys sorted. New string, or NULL with a message in err. */
char *cli__keyring_format(json_object *resp,
                          bool primary,
                          char *err,
                          size_t errlen);

/* Where a rotation to `key` stands in a /v1/operator/keyring answer. */
struct cli_keyring_view
{
    long nodes;       /* NumNodes, summed over the pools */
    long have;        /* Keys[key], summed */
    long primary;     /* PrimaryKeys[key], summed */
    size_t others;    /* entries in Keys other than key, summed */
    bool all_have;    /* in every pool Keys[key] == NumNodes > 0 */
    bool all_primary; /* in every pool PrimaryKeys[key] == NumNodes > 0 */
    bool only;        /* in every pool key is the only key (and primary) */
};

/* Fill *v for `key` (base64 as the agent prints it). 0, or -1 with a
 * message in err (not an array of objects, no pool at all). */
int cli__keyring_view(json_object *resp,
                      const char *key,
                      struct cli_keyring_view *v,
                      char *err,
                      size_t errlen);

/* How many alive members of a /v1/agent/members answer advertise (in the
 * "kr" tag cairn agents publish: key IDs, primary first) anything but
 * exactly `key`; their names, comma-separated, in names. Members without
 * the tag are not counted. */
size_t cli__keyring_stale_members(json_object *members,
                                  const char *key,
                                  char *names,
                                  size_t len);

/* A flag that may be given several times (-tag=a -tag=b, -meta=k=v). */
#define CLI_MULTI_MAX 64
struct cli_multi
{
    const char *name;
    bool is_map; /* values must be key=value (Consul's FlagMapValue) */
    const char *vals[CLI_MULTI_MAX]; /* borrowed from argv, in order */
    size_t n;
};

/* Take the repeated flags `multi` out of argv[0..*argc) before
 * cli__parse runs: walks the flags as Go's flag package does (stopping at
 * the first positional argument, "--" or a flag it does not know, which
 * cli__parse then reports), using `flags` and the HTTP flags to know which
 * flags consume the next argument. The remaining arguments are compacted
 * in place and *argc updated. Returns 0, or -1 with Go's message in err
 * ("flag needs an argument: -tag", "invalid value \"x\" for flag -meta:
 * Missing \"=\" value in argument: x"). */
int cli__multi_take(const struct cli_flag *flags,
                    size_t n,
                    struct cli_multi *multi,
                    size_t nm,
                    int *argc,
                    char **argv,
                    char *err,
                    size_t errlen);

/* Decode a service definition file (JSON if it starts with '{' or '[',
 * else YAML): the objects under "service" and "services" (keys matched
 * case-insensitively), in order, as a new array in *out. Plain YAML
 * scalars become JSON numbers, booleans and null as in YAML 1.2, except
 * under tags/meta/args/script_args/header where they stay strings. `name`
 * names the file in errors. Returns 0, or -EINVAL with a message in err
 * (parse error with line and column, no service definition, a definition
 * that is not an object). */
int cli__services_parse(const char *data,
                        size_t len,
                        const char *name,
                        json_object **out,
                        char *err,
                        size_t errlen);

/* `consul catalog nodes` table (columnized, no final newline) for an
 * array of Node objects, or of CatalogService objects (-service; their
 * NodeMeta is used for Meta). New string, NULL on out-of-memory. */
char *cli__catalog_nodes_format(json_object *nodes, bool detailed);

/* `consul catalog services` output for {name: [tags]}: names sorted, one
 * per line; with `tags` a tabwriter column (widest name + 6) followed by
 * the sorted tags joined by ",". Ends with a newline unless empty. New
 * string, NULL on out-of-memory. */
char *cli__catalog_services_format(json_object *services, bool tags);

/* {name: [tags]} from a /v1/catalog/node/<node> answer (-node). New. */
json_object *cli__catalog_node_services(json_object *node);

/* `consul maint` listing for a /v1/agent/checks object: a "Node:" block
 * for _node_maintenance, then a "Service:" block per
 * _service_maintenance:<id> check by check ID, each followed by an empty
 * line; "" when nothing is in maintenance. New string. */
char *cli__maint_format(json_object *checks, const char *node_name);

/* ---------------------------------------------------------- formatters */

/* A decoded KVPair. Strings and value point into the JSON object it came
 * from (borrowed) except value, which is new (free()). */
struct cli_kv_pair
{
    const char *key;
    uint64_t create_index, modify_index, lock_index, flags;
    const char *session; /* "" when absent */
    uint8_t *value;      /* new; NULL when empty */
    size_t value_len;
};

/* Decode one element of a /v1/kv response. Returns 0 or -EINVAL with a
 * message in err. */
int cli__kv_pair_decode(json_object *o,
                        struct cli_kv_pair *p,
                        char *err,
                        size_t errlen);

/* Consul's `kv get -detailed` block (tabwriter, padding 6), no final
 * newline; with keys_only (`-keys -recurse -detailed`) the Value line is
 * left out and the block ends after the Session line's newline. New
 * string. */
char *cli__kv_detailed(const struct cli_kv_pair *p,
                       bool base64,
                       bool keys_only);

/* `consul kv export` output for a /v1/kv?recurse response (an array or
 * NULL for 404): MarshalIndent(entries, "", "\t"), no final newline.
 * New string, or NULL with err set. */
char *cli__kv_export_json(json_object *pairs, char *err, size_t errlen);

/* Columnize like github.com/ryanuber/columnize with Delim "\x1f" and Glue
 * "  ": `lines` of 0x1f-separated cells, cells trimmed, every column but
 * a line's last padded to the column's width (in code points), lines
 * joined by "\n", no final newline. New string. */
char *cli__columnize(char *const *lines, size_t n);

/* `consul members` output (no final newline) for a /v1/agent/members
 * array. `segment` is the -segment flag ("_all" = all), `status_re` the
 * -status regex. Returns 0 with a new string in *out, 2 when no member
 * matches (*out NULL), or 1 with a message in err. */
int cli__members_format(json_object *members,
                        bool detailed,
                        const char *segment,
                        const char *status_re,
                        char **out,
                        char *err,
                        size_t errlen);

#endif
