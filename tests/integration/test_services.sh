#!/usr/bin/env bash
# Local agent services and checks (spec/consul-api.md §2.4-2.9, §0.2, §0.6,
# §10.3): service register/deregister with every field and all key styles,
# validation errors, /v1/agent/services, /v1/agent/service/<id> with hash
# blocking, /v1/agent/checks, check register/deregister, TTL updates,
# node and service maintenance, /v1/agent/health/service/{name,id},
# persistence across restarts, services from config files and reload.
. "$(dirname "$0")/lib.sh"
require_binary

agent_start s1 || finish
NODE=s1

# svc_field ID PATH — a field of /v1/agent/services' entry ID
svcs() { http GET /v1/agent/services; printf '%s' "$HTTP_BODY"; }
chks() { http GET /v1/agent/checks; printf '%s' "$HTTP_BODY"; }
has_service() { [ "$(svcs | jget "$1.ID" 2>/dev/null)" = "$1" ]; }
no_service() { [ "$(svcs | jget "$1" 2>/dev/null)" = "<missing>" ]; }
has_check() { [ "$(chks | jget "$1.CheckID" 2>/dev/null)" = "$1" ]; }
no_check() { [ "$(chks | jget "$1" 2>/dev/null)" = "<missing>" ]; }
check_status() { chks | jget "$1.Status" 2>/dev/null; }
check_is() { [ "$(check_status "$1")" = "$2" ]; }

# ---- register with every field of §2.5 (PascalCase)
full='{"ID":"web-1","Name":"web","Tags":["v1","primary"],"Address":"127.0.0.2",
 "TaggedAddresses":{"lan":{"Address":"127.0.0.2","Port":8080},
                    "wan":{"Address":"198.51.100.1","Port":80}},
 "Port":8080,"Meta":{"version":"1.2","team":"core"},"EnableTagOverride":true,
 "Weights":{"Passing":10,"Warning":2},"Kind":"","Namespace":"",
 "UnknownField":{"ignored":true},
 "Check":{"TTL":"30s","Notes":"ttl note"}}'
jhttp PUT /v1/agent/service/register "$full"
assert_eq "register (PascalCase, every field): 200" 200 "$HTTP_STATUS"
assert_eq "register: empty body" "" "$HTTP_BODY"

http GET /v1/agent/services
assert_eq "GET /v1/agent/services: 200" 200 "$HTTP_STATUS"
assert_match "services: Content-Type application/json" "$(hdr Content-Type)" '^application/json'
S=$HTTP_BODY
assert_eq "services: keyed by ID" web-1 "$(jget web-1.ID <<<"$S")"
assert_eq "services: Service holds the name" web "$(jget web-1.Service <<<"$S")"
assert_eq "services: Tags" '["v1","primary"]' "$(jget web-1.Tags <<<"$S")"
assert_eq "services: Address" 127.0.0.2 "$(jget web-1.Address <<<"$S")"
assert_eq "services: Port" 8080 "$(jget web-1.Port <<<"$S")"
assert_eq "services: Meta" '{"team":"core","version":"1.2"}' "$(jget web-1.Meta <<<"$S")"
assert_eq "services: TaggedAddresses.lan" '{"Address":"127.0.0.2","Port":8080}' \
    "$(jget web-1.TaggedAddresses.lan <<<"$S")"
assert_eq "services: TaggedAddresses.wan" '{"Address":"198.51.100.1","Port":80}' \
    "$(jget web-1.TaggedAddresses.wan <<<"$S")"
assert_eq "services: Weights" '{"Passing":10,"Warning":2}' "$(jget web-1.Weights <<<"$S")"
assert_eq "services: EnableTagOverride" true "$(jget web-1.EnableTagOverride <<<"$S")"
assert_eq "services: Datacenter" dc1 "$(jget web-1.Datacenter <<<"$S")"
assert_eq "services: Kind omitted when empty" "<missing>" "$(jget web-1.Kind <<<"$S")"
assert_not_contains "services: unknown input fields ignored" "$S" UnknownField

# ---- /v1/agent/service/<id>, ContentHash, hash blocking
http GET /v1/agent/service/web-1
assert_eq "service/<id>: 200" 200 "$HTTP_STATUS"
assert_eq "service/<id>: ID" web-1 "$(jget ID <<<"$HTTP_BODY")"
assert_eq "service/<id>: Service" web "$(jget Service <<<"$HTTP_BODY")"
assert_eq "service/<id>: Port" 8080 "$(jget Port <<<"$HTTP_BODY")"
h1=$(hdr X-Consul-ContentHash)
assert_match "service/<id>: X-Consul-ContentHash set" "$h1" '^[0-9a-zA-Z]+$'
assert_eq "service/<id>: ContentHash field = header" "$h1" "$(jget ContentHash <<<"$HTTP_BODY")"
http GET /v1/agent/service/web-1
assert_eq "service/<id>: hash stable without change" "$h1" "$(hdr X-Consul-ContentHash)"
http GET /v1/agent/service/nope
assert_eq "service/<unknown>: 404" 404 "$HTTP_STATUS"
assert_eq "service/<unknown>: text" "unknown service ID: nope" "$HTTP_BODY"

t0=$(now_ms)
http GET "/v1/agent/service/web-1?hash=somethingelse&wait=5s"
assert_num_between "?hash= different from current: answers at once (ms)" 0 700 $(( $(now_ms) - t0 ))
t0=$(now_ms)
http GET "/v1/agent/service/web-1?hash=$h1&wait=1s"
e=$(( $(now_ms) - t0 ))
assert_num_between "?hash=current&wait=1s: blocks until wait (ms)" 900 1700 "$e"
assert_eq "?hash= timeout: same hash" "$h1" "$(hdr X-Consul-ContentHash)"
bgq_start hb "/v1/agent/service/web-1?hash=$h1&wait=20s"
sleep 0.5
if bgq_done hb; then fail "?hash=current: still parked after 0.5 s" "returned $(bgq_code hb)"
else ok "?hash=current: still parked after 0.5 s"; fi
tw=$(now_ms)
jhttp PUT /v1/agent/service/register "${full/\"Port\":8080,\"Meta\"/\"Port\":8081,\"Meta\"}"
assert_eq "re-register same ID with a new port: 200" 200 "$HTTP_STATUS"
if bgq_wait hb 5; then
    assert_num_between "hash blocking woken by the change (ms after write)" 0 1000 $(( $(bgq_end hb) - tw ))
    assert_eq "hash blocking: new Port in the answer" 8081 "$(bgq_body hb | jget Port)"
    h2=$(awk 'tolower($1) == "x-consul-contenthash:" { gsub(/\r/, ""); print $2 }' "$IT_TMP/hb.hdr")
    assert_ne "hash blocking: new ContentHash" "$h1" "$h2"
else
    fail "hash blocking woken by the change" "still parked 5 s after the write"
fi
http GET /v1/agent/services
assert_eq "re-register replaces: one entry for web-1" 8081 "$(jget web-1.Port <<<"$HTTP_BODY")"

# ---- the service's check (generated ID/name, initial critical)
http GET /v1/agent/checks
assert_eq "GET /v1/agent/checks: 200" 200 "$HTTP_STATUS"
C=$HTTP_BODY
assert_eq "Check: generated ID service:<id>" "service:web-1" "$(jget 'service:web-1.CheckID' <<<"$C")"
assert_eq "Check: generated Name" "Service 'web' check" "$(jget 'service:web-1.Name' <<<"$C")"
assert_eq "Check: TTL check starts critical" critical "$(jget 'service:web-1.Status' <<<"$C")"
assert_eq "Check: Notes" "ttl note" "$(jget 'service:web-1.Notes' <<<"$C")"
assert_eq "Check: Type ttl" ttl "$(jget 'service:web-1.Type' <<<"$C")"
assert_eq "Check: ServiceID" web-1 "$(jget 'service:web-1.ServiceID' <<<"$C")"
assert_eq "Check: ServiceName" web "$(jget 'service:web-1.ServiceName' <<<"$C")"
assert_eq "Check: ServiceTags" '["v1","primary"]' "$(jget 'service:web-1.ServiceTags' <<<"$C")"
assert_eq "Check: Node" "$NODE" "$(jget 'service:web-1.Node' <<<"$C")"

# ---- lower-case keys
jhttp PUT /v1/agent/service/register '{"name":"api","id":"api-1","port":9000,
  "tags":["x"],"meta":{"k":"v"},"address":"127.0.0.3","enabletagoverride":true,
  "weights":{"passing":3,"warning":1},"check":{"ttl":"10s","status":"passing"}}'
assert_eq "register (lower-case keys): 200" 200 "$HTTP_STATUS"
S=$(svcs)
assert_eq "lower-case: Service" api "$(jget api-1.Service <<<"$S")"
assert_eq "lower-case: Port" 9000 "$(jget api-1.Port <<<"$S")"
assert_eq "lower-case: Tags" '["x"]' "$(jget api-1.Tags <<<"$S")"
assert_eq "lower-case: Meta" '{"k":"v"}' "$(jget api-1.Meta <<<"$S")"
assert_eq "lower-case: EnableTagOverride" true "$(jget api-1.EnableTagOverride <<<"$S")"
assert_eq "lower-case: Weights" '{"Passing":3,"Warning":1}' "$(jget api-1.Weights <<<"$S")"
assert_eq "lower-case: initial Status honoured" passing "$(check_status service:api-1)"

# ---- snake_case keys, Checks list, ID defaults to Name, default weights
jhttp PUT /v1/agent/service/register '{"name":"snake","port":7000,
  "enable_tag_override":true,
  "tagged_addresses":{"lan":{"address":"127.0.0.4","port":7001}},
  "checks":[{"name":"c1","ttl":"10s","deregister_critical_service_after":"10m",
             "notes":"first"},
            {"tcp":"127.0.0.1:1","interval":"10s","timeout":"2s",
             "success_before_passing":2,"failures_before_critical":3}]}'
assert_eq "register (snake_case keys, Checks): 200" 200 "$HTTP_STATUS"
S=$(svcs)
assert_eq "snake_case: ID defaults to Name" snake "$(jget snake.ID <<<"$S")"
assert_eq "snake_case: enable_tag_override" true "$(jget snake.EnableTagOverride <<<"$S")"
assert_eq "snake_case: tagged_addresses" '{"Address":"127.0.0.4","Port":7001}' \
    "$(jget snake.TaggedAddresses.lan <<<"$S")"
assert_eq "no Weights: default 1/1" '{"Passing":1,"Warning":1}' "$(jget snake.Weights <<<"$S")"
assert_eq "no Tags: [] (never null)" '[]' "$(jget snake.Tags <<<"$S")"
assert_eq "no Meta: {} (never null)" '{}' "$(jget snake.Meta <<<"$S")"
C=$(chks)
assert_eq "Checks[0]: ID service:<id>:1" "service:snake:1" "$(jget 'service:snake:1.CheckID' <<<"$C")"
assert_eq "Checks[0]: Name from the definition" c1 "$(jget 'service:snake:1.Name' <<<"$C")"
assert_eq "Checks[0]: Notes" first "$(jget 'service:snake:1.Notes' <<<"$C")"
assert_eq "Checks[1]: ID service:<id>:2" "service:snake:2" "$(jget 'service:snake:2.CheckID' <<<"$C")"
assert_eq "Checks[1]: generated Name" "Service 'snake' check" "$(jget 'service:snake:2.Name' <<<"$C")"
assert_eq "Checks[1]: Type tcp" tcp "$(jget 'service:snake:2.Type' <<<"$C")"
assert_eq "Checks[1]: Definition.TCP" 127.0.0.1:1 "$(jget 'service:snake:2.Definition.TCP' <<<"$C")"
assert_eq "Checks[1]: Interval" 10s "$(jget 'service:snake:2.Interval' <<<"$C")"
assert_eq "Checks[1]: Timeout" 2s "$(jget 'service:snake:2.Timeout' <<<"$C")"
assert_eq "Checks: ServiceTags [] when the service has none" '[]' "$(jget 'service:snake:1.ServiceTags' <<<"$C")"

# ---- re-registration and ?replace-existing-checks
jhttp PUT /v1/agent/service/register '{"Name":"rc","Checks":[{"CheckID":"rc-a","TTL":"60s"},
  {"CheckID":"rc-b","TTL":"60s"}]}'
assert_eq "rc with two checks: 200" 200 "$HTTP_STATUS"
jhttp PUT /v1/agent/service/register '{"Name":"rc","Checks":[{"CheckID":"rc-a","TTL":"60s"}]}'
C=$(chks)
assert_eq "re-register without ?replace-existing-checks: other check kept" rc-b "$(jget rc-b.CheckID <<<"$C")"
jhttp PUT '/v1/agent/service/register?replace-existing-checks' '{"Name":"rc","Checks":[{"CheckID":"rc-a","TTL":"60s"}]}'
assert_eq "?replace-existing-checks: 200" 200 "$HTTP_STATUS"
C=$(chks)
assert_eq "?replace-existing-checks: check missing from the request removed" "<missing>" "$(jget rc-b <<<"$C")"
assert_eq "?replace-existing-checks: check in the request kept" rc-a "$(jget rc-a.CheckID <<<"$C")"
jhttp PUT '/v1/agent/service/register?replace-existing-checks=true' '{"Name":"rc"}'
assert_eq "?replace-existing-checks=true without checks: all removed" "<missing>" "$(chks | jget rc-a)"
http PUT /v1/agent/service/deregister/rc

# ---- ?filter on /v1/agent/services and /v1/agent/checks
http GET /v1/agent/services -G --data-urlencode 'filter=Service == "api"'
assert_eq "services ?filter: 200" 200 "$HTTP_STATUS"
assert_eq "services ?filter=Service == api: only api-1" api-1 "$(jget api-1.ID <<<"$HTTP_BODY")"
assert_eq "services ?filter: one entry" 1 "$(jget '#' <<<"$HTTP_BODY")"
http GET /v1/agent/checks -G --data-urlencode 'filter=Type == "tcp"'
assert_eq "checks ?filter=Type == tcp: one entry" 1 "$(jget '#' <<<"$HTTP_BODY")"
http GET /v1/agent/services -G --data-urlencode 'filter=Service =='
assert_eq "services: bad ?filter is a 400" 400 "$HTTP_STATUS"

# ---- validation errors (status and text); nothing half-registered
reject() {   # reject DESC CODE TEXT-ERE BODY [path]
    local d=$1 code=$2 re=$3 body=$4 path=${5:-/v1/agent/service/register}
    jhttp PUT "$path" "$body"
    if [ "$HTTP_STATUS" = "$code" ] && [[ $HTTP_BODY =~ $re ]]; then ok "$d: $code"
    else fail "$d: $code /$re/" "got $HTTP_STATUS: $(_show "$HTTP_BODY")"; fi
}
reject "service without a name" 400 '^Missing service name$' '{"ID":"noname","Port":1}'
reject "lower-case name missing too" 400 '^Missing service name$' '{"id":"noname2","port":1}'
reject "Address 0.0.0.0" 400 '^Invalid service address' '{"Name":"bad-a1","Address":"0.0.0.0"}'
reject "Address ::" 400 '^Invalid service address' '{"Name":"bad-a2","Address":"::"}'
reject "Meta key with reserved prefix consul-" 400 '^Invalid Service Meta: ' \
    '{"Name":"bad-m1","Meta":{"consul-version":"1"}}'
reject "Meta key with a bad character" 400 '^Invalid Service Meta: ' \
    '{"Name":"bad-m2","Meta":{"a b":"1"}}'
longkey=$(printf 'k%.0s' $(seq 1 129))
reject "Meta key over 128 chars" 400 '^Invalid Service Meta: ' \
    "{\"Name\":\"bad-m3\",\"Meta\":{\"$longkey\":\"1\"}}"
longval=$(printf 'v%.0s' $(seq 1 513))
reject "Meta value over 512 chars" 400 '^Invalid Service Meta: ' \
    "{\"Name\":\"bad-m4\",\"Meta\":{\"k\":\"$longval\"}}"
many=$(for i in $(seq 1 65); do printf '"k%d":"v",' "$i"; done)
reject "Meta with 65 pairs" 400 '^Invalid Service Meta: ' \
    "{\"Name\":\"bad-m5\",\"Meta\":{${many%,}}}"
reject "Weights.Passing 0" 400 '^Invalid Weights: ' \
    '{"Name":"bad-w","Weights":{"Passing":0,"Warning":1}}'
reject "undecodable body" 400 '^Request decode failed: ' '{"Name":"bad-json",'
reject "wrong type (Port string)" 400 '^Request decode failed: ' '{"Name":"bad-port","Port":"eighty"}'
reject "check Status bogus" 400 "Status for checks must 'passing', 'warning', 'critical'" \
    '{"Name":"bad-s","Check":{"TTL":"10s","Status":"bogus"}}'
reject "check with two kinds" 400 '^Invalid check: ' \
    '{"Name":"bad-k2","Check":{"TTL":"10s","HTTP":"http://127.0.0.1:1/","Interval":"10s"}}'
reject "check without a kind" 400 '^Invalid check: ' \
    '{"Name":"bad-k0","Check":{"Interval":"10s","Notes":"no kind"}}'
reject "unsupported check kind (GRPC)" 400 '^Invalid check: ' \
    '{"Name":"bad-grpc","Check":{"GRPC":"127.0.0.1:1","Interval":"10s"}}'
reject "bad duration in a check" 400 'invalid duration' \
    '{"Name":"bad-d","Check":{"TTL":"10 parsecs"}}'
reject "script check while scripts are disabled" 500 'enable_script_checks' \
    '{"Name":"bad-script","Check":{"Args":["/bin/true"],"Interval":"10s"}}'
reject "second of two checks bad" 400 'invalid duration|^Invalid check' \
    '{"Name":"half","Checks":[{"TTL":"10s"},{"TTL":"soon"}]}'
S=$(svcs); C=$(chks)
leftover=""
for id in noname noname2 bad-a1 bad-a2 bad-m1 bad-m2 bad-m3 bad-m4 bad-m5 bad-w \
          bad-json bad-port bad-s bad-k2 bad-k0 bad-grpc bad-d bad-script half; do
    [ "$(jget "$id" <<<"$S")" = "<missing>" ] || leftover="$leftover $id"
done
assert_eq "rejected registrations left no service behind" "" "$leftover"
assert_eq "rejected registration left no check behind" "<missing>" "$(jget 'service:half:1' <<<"$C")"
http POST /v1/agent/service/register --data-binary '{"Name":"post"}'
assert_eq "register with POST: 405" 405 "$HTTP_STATUS"

# ---- service deregister
jhttp PUT /v1/agent/service/register '{"Name":"gone","Check":{"TTL":"10s"}}'
assert_true "gone registered" has_service gone
http PUT /v1/agent/service/deregister/gone
assert_eq "deregister: 200" 200 "$HTTP_STATUS"
assert_eq "deregister: empty body" "" "$HTTP_BODY"
assert_true "deregister: service gone" no_service gone
assert_true "deregister: its check gone" no_check service:gone
http PUT /v1/agent/service/deregister/never-was
assert_eq "deregister unknown ID: 200 (as Consul)" 200 "$HTTP_STATUS"

# ---- check register / deregister
jhttp PUT /v1/agent/check/register '{"Name":"node-ttl","TTL":"30s","Notes":"node level"}'
assert_eq "check register (node level): 200" 200 "$HTTP_STATUS"
assert_eq "check register: empty body" "" "$HTTP_BODY"
C=$(chks)
assert_eq "node check: ID defaults to Name" node-ttl "$(jget node-ttl.CheckID <<<"$C")"
assert_eq "node check: starts critical" critical "$(jget node-ttl.Status <<<"$C")"
assert_eq "node check: ServiceID empty" "" "$(jget node-ttl.ServiceID <<<"$C")"
assert_eq "node check: ServiceTags []" '[]' "$(jget node-ttl.ServiceTags <<<"$C")"
assert_eq "node check: Type ttl" ttl "$(jget node-ttl.Type <<<"$C")"
jhttp PUT /v1/agent/check/register '{"ID":"web-extra","Name":"web extra","ServiceID":"web-1",
  "TTL":"30s","Status":"warning","Notes":"n"}'
assert_eq "check register for a service: 200" 200 "$HTTP_STATUS"
C=$(chks)
assert_eq "service check: ID" web-extra "$(jget web-extra.CheckID <<<"$C")"
assert_eq "service check: initial Status" warning "$(jget web-extra.Status <<<"$C")"
assert_eq "service check: ServiceName" web "$(jget web-extra.ServiceName <<<"$C")"
jhttp PUT /v1/agent/check/register '{"check_id":"snake-check","name":"snake check",
  "service_id":"web-1","ttl":"30s"}'
assert_eq "check register with snake_case keys: 200" 200 "$HTTP_STATUS"
assert_eq "snake_case check: service_id honoured" web-1 "$(chks | jget snake-check.ServiceID)"
reject "check register: unknown ServiceID" 404 '^ServiceID "nope" does not exist$' \
    '{"Name":"orphan","ServiceID":"nope","TTL":"10s"}' /v1/agent/check/register
reject "check register: no Name" 400 '^Missing check name$' '{"TTL":"10s"}' /v1/agent/check/register
reject "check register: bad Status" 400 '^Bad check status$' \
    '{"Name":"bs","TTL":"10s","Status":"bogus"}' /v1/agent/check/register
reject "check register: no kind" 400 '^Invalid check: ' '{"Name":"nokind"}' /v1/agent/check/register
reject "check register: bad JSON" 400 '^Request decode failed: ' '{"Name":' /v1/agent/check/register
C=$(chks)
assert_eq "rejected check registrations left nothing" "<missing> <missing> <missing>" \
    "$(jget orphan <<<"$C") $(jget bs <<<"$C") $(jget nokind <<<"$C")"
http PUT /v1/agent/check/deregister/node-ttl
assert_eq "check deregister: 200" 200 "$HTTP_STATUS"
assert_true "check deregister: gone" no_check node-ttl
unknown_text='Unknown check ID "nope". Ensure that the check ID is passed, not the check name.'
http PUT /v1/agent/check/deregister/nope
assert_eq "check deregister unknown: 404" 404 "$HTTP_STATUS"
assert_eq "check deregister unknown: text" "$unknown_text" "$HTTP_BODY"

# ---- TTL updates
jhttp PUT /v1/agent/check/register '{"Name":"ttl2","TTL":"60s"}'
http PUT '/v1/agent/check/pass/ttl2?note=all%20good'
assert_eq "pass: 200" 200 "$HTTP_STATUS"
assert_eq "pass: empty body" "" "$HTTP_BODY"
C=$(chks)
assert_eq "pass: Status passing" passing "$(jget ttl2.Status <<<"$C")"
assert_eq "pass: Output = note" "all good" "$(jget ttl2.Output <<<"$C")"
http PUT '/v1/agent/check/warn/ttl2?note=hmm'
assert_eq "warn: 200" 200 "$HTTP_STATUS"
C=$(chks)
assert_eq "warn: Status warning" warning "$(jget ttl2.Status <<<"$C")"
assert_eq "warn: Output" hmm "$(jget ttl2.Output <<<"$C")"
http PUT '/v1/agent/check/fail/ttl2?note=down'
assert_eq "fail: 200" 200 "$HTTP_STATUS"
C=$(chks)
assert_eq "fail: Status critical" critical "$(jget ttl2.Status <<<"$C")"
assert_eq "fail: Output" down "$(jget ttl2.Output <<<"$C")"
jhttp PUT /v1/agent/check/update/ttl2 '{"Status":"passing","Output":"via update"}'
assert_eq "update: 200" 200 "$HTTP_STATUS"
C=$(chks)
assert_eq "update: Status" passing "$(jget ttl2.Status <<<"$C")"
assert_eq "update: Output" "via update" "$(jget ttl2.Output <<<"$C")"
jhttp PUT /v1/agent/check/update/ttl2 '{"status":"warning","output":"lower-case"}'
assert_eq "update with lower-case keys" warning "$(check_status ttl2)"
reject "update: bad status" 400 "^Invalid check status: 'bogus'$" '{"Status":"bogus"}' \
    /v1/agent/check/update/ttl2
reject "update: bad JSON" 400 '^Request decode failed: ' '{"Status":' /v1/agent/check/update/ttl2
for verb in pass warn fail; do
    http PUT "/v1/agent/check/$verb/nope"
    assert_eq "$verb unknown ID: 404" 404 "$HTTP_STATUS"
    assert_eq "$verb unknown ID: text" "$unknown_text" "$HTTP_BODY"
done
jhttp PUT /v1/agent/check/update/nope '{"Status":"passing"}'
assert_eq "update unknown ID: 404" 404 "$HTTP_STATUS"
assert_eq "update unknown ID: text" "$unknown_text" "$HTTP_BODY"
http PUT /v1/agent/check/pass/service:snake:2
assert_eq "pass on a non-TTL check: 500" 500 "$HTTP_STATUS"
assert_contains "pass on a non-TTL check: text" "$HTTP_BODY" 'does not have associated TTL'
http GET /v1/agent/check/pass/ttl2
assert_eq "pass with GET: 405" 405 "$HTTP_STATUS"
jhttp PUT /v1/agent/check/register '{"Name":"small","TTL":"60s","OutputMaxSize":10}'
http PUT "/v1/agent/check/pass/small?note=0123456789abcdefghijklmnop"
out=$(chks | jget small.Output)
assert_eq "Output truncated to OutputMaxSize: first bytes kept" 0123456789 "${out:0:10}"
assert_not_contains "Output truncated to OutputMaxSize: rest dropped" "$out" abcdefghijklmnop
http PUT /v1/agent/check/deregister/ttl2
http PUT /v1/agent/check/deregister/small

# ---- /v1/agent/health/service/name|id
jhttp PUT /v1/agent/service/register '{"Name":"hs","ID":"hs-1","Check":{"TTL":"60s","Status":"passing"}}'
jhttp PUT /v1/agent/service/register '{"Name":"hs","ID":"hs-2","Check":{"TTL":"60s","Status":"passing"}}'
http GET /v1/agent/health/service/name/hs
assert_eq "health by name, all passing: 200" 200 "$HTTP_STATUS"
assert_eq "health by name: array of both instances" 2 "$(jget '#' <<<"$HTTP_BODY")"
assert_eq "health by name: AggregatedStatus" "passing passing" \
    "$(jget '*.AggregatedStatus' <<<"$HTTP_BODY" | tr '\n' ' ' | sed 's/ $//')"
assert_eq "health by name: Service.Service" hs "$(jget 0.Service.Service <<<"$HTTP_BODY")"
assert_match "health by name: Checks listed" "$(jget 0.Checks <<<"$HTTP_BODY")" '"CheckID":"service:hs-[12]"'
http GET /v1/agent/health/service/id/hs-1
assert_eq "health by id passing: 200" 200 "$HTTP_STATUS"
assert_eq "health by id: one object" hs-1 "$(jget Service.ID <<<"$HTTP_BODY")"
assert_eq "health by id: AggregatedStatus" passing "$(jget AggregatedStatus <<<"$HTTP_BODY")"
http GET '/v1/agent/health/service/id/hs-1?format=text'
assert_eq "health by id ?format=text: the word" passing "$HTTP_BODY"
http PUT /v1/agent/check/warn/service:hs-2
http GET /v1/agent/health/service/name/hs
assert_eq "health by name, one warning: 429" 429 "$HTTP_STATUS"
http GET /v1/agent/health/service/id/hs-2
assert_eq "health by id warning: 429" 429 "$HTTP_STATUS"
assert_eq "health by id warning: AggregatedStatus" warning "$(jget AggregatedStatus <<<"$HTTP_BODY")"
http GET '/v1/agent/health/service/name/hs?format=text'
assert_eq "health by name ?format=text: warning" warning "$HTTP_BODY"
http PUT /v1/agent/check/fail/service:hs-1
http GET /v1/agent/health/service/name/hs
assert_eq "health by name, one critical: 503" 503 "$HTTP_STATUS"
http GET /v1/agent/health/service/id/hs-1
assert_eq "health by id critical: 503" 503 "$HTTP_STATUS"
http GET '/v1/agent/health/service/id/hs-1?format=text'
assert_eq "health by id ?format=text: critical" critical "$HTTP_BODY"
http GET /v1/agent/health/service/id/hs-9
assert_eq "health by unknown id: 404" 404 "$HTTP_STATUS"
http GET /v1/agent/health/service/name/nobody
assert_eq "health by unknown name: 404" 404 "$HTTP_STATUS"
http PUT /v1/agent/check/pass/service:hs-1
http PUT /v1/agent/check/pass/service:hs-2

# ---- node maintenance
http PUT /v1/agent/maintenance
assert_eq "maintenance without enable: 400" 400 "$HTTP_STATUS"
assert_eq "maintenance without enable: text" "Missing value for enable" "$HTTP_BODY"
http PUT '/v1/agent/maintenance?enable=maybe'
assert_eq "maintenance enable=maybe: 400" 400 "$HTTP_STATUS"
assert_eq "maintenance enable=maybe: text" 'Invalid value for enable: "maybe"' "$HTTP_BODY"
http PUT '/v1/agent/maintenance?enable=true&reason=upgrading%20disks'
assert_eq "node maintenance on: 200" 200 "$HTTP_STATUS"
C=$(chks)
assert_eq "_node_maintenance: critical" critical "$(jget _node_maintenance.Status <<<"$C")"
assert_eq "_node_maintenance: Name" "Node Maintenance Mode" "$(jget _node_maintenance.Name <<<"$C")"
assert_eq "_node_maintenance: Notes = reason" "upgrading disks" "$(jget _node_maintenance.Notes <<<"$C")"
assert_eq "_node_maintenance: node level" "" "$(jget _node_maintenance.ServiceID <<<"$C")"
http GET /v1/agent/health/service/name/hs
assert_eq "node maintenance makes its services critical: 503" 503 "$HTTP_STATUS"
http PUT '/v1/agent/maintenance?enable=false'
assert_eq "node maintenance off: 200" 200 "$HTTP_STATUS"
assert_true "_node_maintenance removed" no_check _node_maintenance
http GET /v1/agent/health/service/name/hs
assert_eq "after node maintenance: 200 again" 200 "$HTTP_STATUS"
http PUT '/v1/agent/maintenance?enable=true'
notes=$(chks | jget _node_maintenance.Notes)
assert_match "node maintenance without reason: default Notes" "$notes" '^[^<].{10,}'
http PUT '/v1/agent/maintenance?enable=false'

# ---- service maintenance
http PUT '/v1/agent/service/maintenance/web-1?enable=true&reason=deploy'
assert_eq "service maintenance on: 200" 200 "$HTTP_STATUS"
C=$(chks)
m='_service_maintenance:web-1'
assert_eq "$m: critical" critical "$(jget "$m.Status" <<<"$C")"
assert_eq "$m: Name" "Service Maintenance Mode" "$(jget "$m.Name" <<<"$C")"
assert_eq "$m: Notes" deploy "$(jget "$m.Notes" <<<"$C")"
assert_eq "$m: ServiceID" web-1 "$(jget "$m.ServiceID" <<<"$C")"
http PUT '/v1/agent/service/maintenance/hs-1?enable=true'
assert_match "service maintenance without reason: default Notes" \
    "$(chks | jget '_service_maintenance:hs-1.Notes')" '^[^<].{10,}'
http GET /v1/agent/health/service/id/hs-1
assert_eq "service in maintenance: 503" 503 "$HTTP_STATUS"
http GET /v1/agent/health/service/id/hs-2
assert_eq "other instance unaffected: 200" 200 "$HTTP_STATUS"
http PUT '/v1/agent/service/maintenance/hs-1?enable=false'
assert_true "service maintenance off: check removed" no_check '_service_maintenance:hs-1'
http PUT '/v1/agent/service/maintenance/nope?enable=true'
assert_eq "service maintenance, unknown service: 404" 404 "$HTTP_STATUS"
http PUT /v1/agent/service/maintenance/web-1
assert_eq "service maintenance without enable: 400" 400 "$HTTP_STATUS"
assert_eq "service maintenance without enable: text" "Missing value for enable" "$HTTP_BODY"
http PUT '/v1/agent/service/maintenance/web-1?enable=x'
assert_eq "service maintenance enable=x: 400" 400 "$HTTP_STATUS"
assert_eq "service maintenance enable=x: text" 'Invalid value for enable: "x"' "$HTTP_BODY"

# ---- persistence across a restart (maintenance too)
http PUT '/v1/agent/maintenance?enable=true&reason=persisted'
http PUT /v1/agent/check/pass/service:api-1
agent_stop s1
assert_eq "agent stopped cleanly" 0 "$AGENT_RC"
agent_restart s1 || finish
S=$(svcs); C=$(chks)
assert_eq "after restart: web-1 still registered" web-1 "$(jget web-1.ID <<<"$S")"
assert_eq "after restart: Port" 8081 "$(jget web-1.Port <<<"$S")"
assert_eq "after restart: Tags" '["v1","primary"]' "$(jget web-1.Tags <<<"$S")"
assert_eq "after restart: Meta" '{"team":"core","version":"1.2"}' "$(jget web-1.Meta <<<"$S")"
assert_eq "after restart: Weights" '{"Passing":10,"Warning":2}' "$(jget web-1.Weights <<<"$S")"
assert_eq "after restart: TaggedAddresses" '{"Address":"198.51.100.1","Port":80}' \
    "$(jget web-1.TaggedAddresses.wan <<<"$S")"
assert_eq "after restart: api-1, snake, hs-1, hs-2" "api-1 snake hs-1 hs-2" \
    "$(jget api-1.ID <<<"$S") $(jget snake.ID <<<"$S") $(jget hs-1.ID <<<"$S") $(jget hs-2.ID <<<"$S")"
assert_eq "after restart: deregistered service stays gone" "<missing>" "$(jget gone <<<"$S")"
assert_eq "after restart: service check kept" "service:web-1" "$(jget 'service:web-1.CheckID' <<<"$C")"
assert_eq "after restart: API-registered check kept" web-extra "$(jget web-extra.CheckID <<<"$C")"
assert_eq "after restart: Checks list kept" "service:snake:2" "$(jget 'service:snake:2.CheckID' <<<"$C")"
assert_eq "after restart: node maintenance kept" persisted "$(jget _node_maintenance.Notes <<<"$C")"
assert_eq "after restart: service maintenance kept" deploy "$(jget "$m.Notes" <<<"$C")"
assert_eq "after restart: deregistered check stays gone" "<missing>" "$(jget node-ttl <<<"$C")"
http PUT '/v1/agent/maintenance?enable=false'
http PUT '/v1/agent/service/maintenance/web-1?enable=false'

# registration durable as soon as it is acknowledged (SIGKILL right after)
jhttp PUT /v1/agent/service/register '{"Name":"durable","Port":1234,"Check":{"TTL":"60s"}}'
assert_eq "register before kill -9: 200" 200 "$HTTP_STATUS"
http PUT /v1/agent/service/deregister/api-1
agent_kill9 s1
agent_restart s1 || finish
S=$(svcs)
assert_eq "after kill -9: acknowledged registration present" 1234 "$(jget durable.Port <<<"$S")"
assert_eq "after kill -9: acknowledged deregistration holds" "<missing>" "$(jget api-1 <<<"$S")"
assert_eq "after kill -9: check present" service:durable "$(chks | jget service:durable.CheckID)"
if ls "$(agent_data s1)" >/dev/null 2>&1 && ! find "$(agent_data s1)" -name '*.tmp*' | grep -q .; then
    ok "no temporary files left in the data dir"
else
    fail "no temporary files left in the data dir" "$(find "$(agent_data s1)" -name '*.tmp*')"
fi
agent_stop s1

# ---- services from config files; reload removes the ones dropped
cfgdir=$IT_TMP/cfg2
mkdir -p "$cfgdir"
cat >"$cfgdir/services.yaml" <<'EOF'
services:
  - name: cfg-web
    id: cfg-web-1
    port: 8001
    tags: [a, b]
    meta:
      version: "7"
    check:
      ttl: 30s
      notes: from file
  - Name: cfg-db
    Port: 5432
    EnableTagOverride: true
EOF
cat >"$cfgdir/single.yaml" <<'EOF'
service:
  name: cfg-single
  port: 9999
  checks:
    - tcp: 127.0.0.1:1
      interval: 30s
EOF
agent_start s2 -config-file "$cfgdir/services.yaml" -config-file "$cfgdir/single.yaml" || finish
S=$(svcs); C=$(chks)
assert_eq "config services: cfg-web-1 at start" cfg-web "$(jget cfg-web-1.Service <<<"$S")"
assert_eq "config services: port" 8001 "$(jget cfg-web-1.Port <<<"$S")"
assert_eq "config services: tags" '["a","b"]' "$(jget cfg-web-1.Tags <<<"$S")"
assert_eq "config services: meta" '{"version":"7"}' "$(jget cfg-web-1.Meta <<<"$S")"
assert_eq "config services: PascalCase entry (ID = Name)" 5432 "$(jget cfg-db.Port <<<"$S")"
assert_eq "config services: EnableTagOverride" true "$(jget cfg-db.EnableTagOverride <<<"$S")"
assert_eq "config service: (single) from a second file" 9999 "$(jget cfg-single.Port <<<"$S")"
assert_eq "config services: check from the file" "from file" "$(jget 'service:cfg-web-1.Notes' <<<"$C")"
assert_eq "config service: Checks list from the file" tcp "$(jget 'service:cfg-single:1.Type' <<<"$C")"
jhttp PUT /v1/agent/service/register '{"Name":"api-on-s2","Port":1}'
assert_eq "API registration next to config services: 200" 200 "$HTTP_STATUS"

# drop cfg-db, add cfg-new; PUT /v1/agent/reload
cat >"$cfgdir/services.yaml" <<'EOF'
services:
  - name: cfg-web
    id: cfg-web-1
    port: 8002
    tags: [a, b]
    check:
      ttl: 30s
      notes: from file
  - name: cfg-new
    port: 7777
EOF
http PUT /v1/agent/reload
assert_eq "reload: 200" 200 "$HTTP_STATUS"
assert_eventually "reload: service removed from the file is deregistered" 5 no_service cfg-db
assert_eventually "reload: service added to the file is registered" 5 has_service cfg-new
S=$(svcs)
assert_eq "reload: changed port applied" 8002 "$(jget cfg-web-1.Port <<<"$S")"
assert_eq "reload: API-registered service kept" api-on-s2 "$(jget api-on-s2.ID <<<"$S")"
assert_eq "reload: file service untouched" 9999 "$(jget cfg-single.Port <<<"$S")"

# SIGHUP does the same
printf 'log_level: info\n' >"$cfgdir/single.yaml"
agent_signal s2 HUP
assert_eventually "SIGHUP: service of the emptied file deregistered" 5 no_service cfg-single
assert_true "SIGHUP: its check removed too" no_check 'service:cfg-single:1'
assert_true "SIGHUP: other file services kept" has_service cfg-web-1

# restart: file services and API services both come back
agent_stop s2
agent_restart s2 || finish
S=$(svcs)
assert_eq "restart with config: file service back" 8002 "$(jget cfg-web-1.Port <<<"$S")"
assert_eq "restart with config: API service back" api-on-s2 "$(jget api-on-s2.ID <<<"$S")"
assert_eq "restart with config: removed file service still gone" "<missing>" "$(jget cfg-db <<<"$S")"
assert_eq "restart with config: cfg-single still gone" "<missing>" "$(jget cfg-single <<<"$S")"
agent_stop s2

finish
