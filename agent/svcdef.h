/*
 * svcdef — decoding and validating service and check definitions, from the
 * agent API (PUT /v1/agent/service/register, /v1/agent/check/register) and
 * from config files (`services:` / `checks:`), into one normalised JSON
 * shape that the rest of the agent stores, persists and syncs.
 *
 * Input keys match case-insensitively and in snake_case (spec 0.2):
 * `EnableTagOverride`, `enabletagoverride`, `enable_tag_override` are the
 * same key. Output (normalised) shapes:
 *
 *   service: {"ID","Service","Tags":[],"Meta":{},"Port","Address",
 *             "TaggedAddresses"? ,"Weights":{"Passing","Warning"},
 *             "EnableTagOverride","Kind"?}          (AgentService, spec 2.4)
 *   check:   {"CheckID","Name","ServiceID","Notes","Status","Type",
 *             "Interval","Timeout","TTL","HTTP","Method","Header","Body",
 *             "TLSSkipVerify","TCP","Args":[...],
 *             "DeregisterCriticalServiceAfter","SuccessBeforePassing",
 *             "FailuresBeforeWarning","FailuresBeforeCritical",
 *             "OutputMaxSize"}
 * Durations in the normalised check are Go duration strings ("10s"); Type
 * is "ttl", "http", "tcp" or "script".
 *
 * Errors carry the HTTP status Consul answers with (400 for validation,
 * 500 for script checks that the agent does not allow) and Consul's text.
 */
#ifndef CAIRN_SVCDEF_H
#define CAIRN_SVCDEF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct svcdef_err
{
    unsigned status; /* 400 or 500 */
    char msg[512];
};

/* Script checks may run only when the agent allows them: enable_script_checks
 * for every source, enable_local_script_checks for config files (and, as in
 * Consul, for registrations from the local agent API too). */
struct svcdef_policy
{
    bool allow_scripts;
};

/* Decode a service definition (the register body, or one entry of a
 * config file's `services`). On success returns 0 with *svc a new
 * normalised service and *checks a new array of normalised checks (from
 * Check and Checks, IDs generated as Consul does: "service:<id>" for Check,
 * "service:<id>:<n>" for Checks). On failure returns -EINVAL with e set. */
int svcdef_service(json_object *in, const struct svcdef_policy *pol,
                   json_object **svc, json_object **checks,
                   struct svcdef_err *e);

/* Decode a check definition (the check register body, or one entry of a
 * config file's `checks`). `service_id`/`service_name` are set for checks
 * nested in a service (then ServiceID from the input is ignored).
 * `default_id` (may be NULL) is used when the input has no CheckID/ID; then
 * the Name, then (for nested checks) "Service '<name>' check". */
int svcdef_check(json_object *in, const char *service_id,
                 const char *service_name, const char *default_id,
                 const struct svcdef_policy *pol, json_object **check,
                 struct svcdef_err *e);

/* Field `name` of a normalised object as a string ("" when absent). */
const char *svcdef_str(json_object *o, const char *name);
/* Integer field of a normalised object (0 when absent). */
int64_t svcdef_int(json_object *o, const char *name);
/* Duration field of a normalised check in milliseconds (0 when absent). */
uint64_t svcdef_ms(json_object *o, const char *name);

/* A stable hex digest of the JSON of `o` (16 hex chars + NUL), for
 * X-Consul-ContentHash and for anti-entropy change detection. */
void svcdef_hash(json_object *o, char out[17]);

#endif
