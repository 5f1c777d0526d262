/*
 * filter — Consul's `?filter=` expressions (the go-bexpr language) over
 * json-c values.
 *
 * The HTTP layer parses the expression once per request (filter_parse),
 * answers 400 with the message if that fails (Consul's text is "Failed to
 * create boolean expression evaluator: " + the message), then keeps the
 * elements of a JSON response that match: filter_array for list responses,
 * filter_object_values for map responses such as /v1/agent/services. An
 * element the expression cannot be evaluated against (see Evaluation
 * below) fails the whole request with 500 and the message, as in Consul.
 *
 * Grammar (go-bexpr grammar/grammar.peg; keywords are lower case and
 * case-sensitive; `_` is one or more of space, tab, CR, LF):
 *
 *   Input      := _? Or _? EOF
 *   Or         := And (_ "or" _ And)*
 *   And        := Not (_ "and" _ Not)*
 *   Not        := "not" _ Not | "(" _? Or _? ")" | Match
 *   Match      := Selector _? ("==" | "!=") _? Value
 *              |  Selector _ ("contains" | "not" _ "contains"
 *                             | "matches" | "not" _ "matches") _ Value
 *              |  Selector _ "is" _ ("empty" | "not" _ "empty")
 *              |  Value _ ("in" | "not" _ "in") _ Selector
 *   Selector   := Ident ("." Ident | "." [0-9]+ | "[" _? String _? "]")*
 *   Ident      := [a-zA-Z][a-zA-Z0-9_]*
 *   Value      := Selector (a bare word; its text, segments joined by ".")
 *              |  "-"? ("0" | [1-9][0-9]*) ("." [0-9]+)?  (then _, ")" or EOF)
 *              |  String
 *   String     := '"' Go escapes, no '"' inside '"' | '`' raw, CR dropped '`'
 *
 * Precedence is not > and > or; `contains` is `in` with the operands
 * swapped. Not supported (parse error, so never silently ignored): newer
 * bexpr's JSON-pointer selectors ("/a/b"), `is nil`, and `all`/`any`
 * collection expressions.
 *
 * Evaluation follows current go-bexpr (evaluate.go with pointerstructure,
 * coerce.go), with JSON standing in for Go values:
 *
 * - Selectors walk objects by key: a dotted name matches exactly, then
 *   case-insensitively; a ["key"] segment matches exactly; a numeric
 *   segment indexes an array (`Checks.0.Status`). A segment that reaches a
 *   missing key or null is "not present", and the operator decides, as
 *   bexpr does for a missing map key: ==, in, is not empty, matches are
 *   false; !=, not in, is empty, not matches are true.
 * - The value is kept as text and converted to the type of the JSON value
 *   it meets, like bexpr's coercion to the Go field type: strings compare
 *   bytes; integers compare exactly (full int64 and uint64 range; the text
 *   is read like Go's strconv.ParseInt(s, 0, 64), so "0x1f" and "1_000"
 *   work; an integral float text such as 80.0 is also accepted); floats
 *   compare as doubles; booleans take Go's ParseBool words (true, T, 1...).
 *   So `Service.Port == 8080` and `Service.Port == "8080"` both work.
 * - `in`/`contains`: array -> some element equals the value (elements the
 *   value cannot be converted to are skipped); object -> key present;
 *   string -> substring. `is empty`: "", [], {} (or not present).
 *   `matches`: regex search in a string.
 * - An evaluation error, as bexpr raises one, makes the whole expression an
 *   error for that element (it propagates through not/and/or, after Go's
 *   left-to-right short-circuit). Errors: a selector that runs through an
 *   array by name (`Checks.Status` where Checks is an array: current bexpr
 *   has no implicit any/all; its early releases read it as "any element"),
 *   or through a scalar, or an index out of range; a
 *   value that cannot be converted (`Service.Port == abc`); == on an array
 *   or object; in/contains on a number or boolean, or on an array holding
 *   objects; is empty on a number or boolean; matches on a non-string.
 *   Consul answers such a request with an error (HTTP 500 and the
 *   message): filter_eval reports it, and so do filter_array and
 *   filter_object_values, for the whole response (no element is dropped
 *   because it could not be evaluated).
 *
 * Deviations from Consul, which evaluates against Go structs rather than
 * their JSON: a field Consul omits from JSON when it holds its zero value
 * (omitempty) is "not present" here, so `Session == ""` is false where
 * Consul says true (use `Session is empty`); an unknown field name is not
 * present here where Consul reports an error; a JSON object is treated as a
 * map (`"Port" in Service` is true here, an error in Consul); the
 * case-insensitive fallback of dotted names also applies to map keys
 * (`Meta.Rack` finds "rack"; Go map keys are exact, as ["Rack"] is here);
 * regular expressions are POSIX (see filter.c for the RE2 subset
 * translated and the remaining differences).
 *
 * Bounds: the expression is at most FILTER_MAX_LEN bytes and nests at most
 * FILTER_MAX_DEPTH parentheses and `not`s; parsing and evaluation use stack
 * depth bounded by that. Regular expressions are bounded in size (see
 * filter.c); matching costs O(text length x pattern size), as in Go.
 */
#ifndef CAIRN_FILTER_H
#define CAIRN_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#define FILTER_MAX_LEN 4096
#define FILTER_MAX_DEPTH 64

struct filter;

/* Parse `expr` (NUL-terminated; borrowed, not kept). Returns a new filter
 * (filter_free), or NULL on a syntax error, an unsupported construct, an
 * invalid regular expression, an expression longer than FILTER_MAX_LEN or
 * nested deeper than FILTER_MAX_DEPTH, or out of memory. On NULL, if `err`
 * is not NULL, it holds bexpr's parser message, "1:12 (11): <reason>"
 * (line:column, byte offset), which Consul wraps as the 400 body
 * "Failed to create boolean expression evaluator: 1:12 (11): <reason>"
 * (line:column, byte offset). An empty expression is rejected too; the
 * caller handles it, since bexpr.CreateFilter("") gives Consul a no-op
 * filter, so ?filter= with an empty value filters nothing (an all-blank
 * value is a 400, as in Consul). */
struct filter *filter_parse(const char *expr, char *err, size_t errlen);

/* Evaluate `f` against `obj` (borrowed, not modified; NULL is JSON null).
 * Returns 1 on a match, 0 on no match, -EINVAL on an evaluation error (see
 * above) with a message in `err` if not NULL. */
int filter_eval(const struct filter *f,
                json_object *obj,
                char *err,
                size_t errlen);

/* filter_eval() == 1: an evaluation error counts as no match. For tests
 * and single values; responses go through filter_array or
 * filter_object_values, which report errors. */
bool filter_match(const struct filter *f, json_object *obj);

/* Keep the elements of `arr` that match, as bexpr's Filter.Execute does on
 * a slice: on success returns 0 and *out is a new array holding them in
 * order, each with one more reference (json_object_get); `arr` itself is
 * not modified. Nothing is dropped silently: if an element cannot be
 * evaluated the whole call fails, at the first such element (bexpr stops
 * there too). Errors, with *out NULL: -EINVAL if `arr` is not an array or
 * an element's evaluation fails, the reason in `err` if not NULL (see
 * filter_eval); -ENOMEM. */
int filter_array(const struct filter *f,
                 json_object *arr,
                 json_object **out,
                 char *err,
                 size_t errlen);

/* The same over the values of the object `obj` (a map response such as
 * /v1/agent/services): *out is a new object holding the keys whose value
 * matches, in the original order, values shared by reference. -EINVAL if
 * `obj` is not an object or a value's evaluation fails; -ENOMEM. */
int filter_object_values(const struct filter *f,
                         json_object *obj,
                         json_object **out,
                         char *err,
                         size_t errlen);

/* Free `f`; NULL is a no-op. */
void filter_free(struct filter *f);

#endif
