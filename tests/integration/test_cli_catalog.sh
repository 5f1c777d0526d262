#!/usr/bin/env bash
# The service-discovery CLI against a running agent (spec/consul-api.md §9):
# services register (flags, JSON and YAML files) / deregister (ID, -id,
# file), catalog datacenters / nodes / services, maint.
. "$(dirname "$0")/lib.sh"
require_binary

cfg=$IT_TMP/cli.yaml
printf 'node_meta:\n  rack: r1\n' >"$cfg"
agent_start cc1 -config-file "$cfg" || finish
NODE=cc1
export CAIRN_HTTP_ADDR=127.0.0.1:$(agent_http cc1)

# run CMD... — "$CAIRN" CMD with a timeout; sets RC, OUT, ERR
run() {
    timeout 20 "$CAIRN" "$@" >"$IT_TMP/out" 2>"$IT_TMP/err" </dev/null
    RC=$?
    OUT=$(cat "$IT_TMP/out"); ERR=$(cat "$IT_TMP/err")
}
svc_json() { http GET "/v1/agent/service/$1"; printf '%s' "$HTTP_BODY"; }
in_catalog() { http GET "/v1/catalog/service/$1"; [ "$(jget '#' <<<"$HTTP_BODY")" -ge 1 ] 2>/dev/null; }

# ---- services register with flags
run services register -name=web -id=web-1 -port=8080 -address=127.0.0.1 \
    -tag=v1 -tag primary -meta=team=core -meta version=2
assert_eq "register -name: exit 0" 0 "$RC"
assert_eq "register -name: message" "Registered service: web" "$OUT"
assert_eq "register -name: nothing on stderr" "" "$ERR"
S=$(svc_json web-1)
assert_eq "register -name: Service" web "$(jget Service <<<"$S")"
assert_eq "register -name: Port" 8080 "$(jget Port <<<"$S")"
assert_eq "register -name: Address" 127.0.0.1 "$(jget Address <<<"$S")"
assert_eq "register -name: Tags in order" '["v1","primary"]' "$(jget Tags <<<"$S")"
assert_eq "register -name: Meta" '{"team":"core","version":"2"}' "$(jget Meta <<<"$S")"

# from a JSON file (with a check) and a YAML file (a list)
cat >"$IT_TMP/api.json" <<'EOF'
{"service": {"name": "api", "id": "api-1", "port": 9000, "tags": ["j"],
             "check": {"ttl": "30s", "notes": "from the CLI"}}}
EOF
run services register "$IT_TMP/api.json"
assert_eq "register JSON file: exit 0" 0 "$RC"
assert_eq "register JSON file: message" "Registered service: api" "$OUT"
assert_eq "register JSON file: registered" 9000 "$(svc_json api-1 | jget Port)"
http GET /v1/agent/checks
assert_eq "register JSON file: its check" "from the CLI" "$(jget 'service:api-1.Notes' <<<"$HTTP_BODY")"
cat >"$IT_TMP/more.yaml" <<'EOF'
services:
  - name: db
    port: 5432
    tags: [primary]
    meta:
      version: 15
  - name: cache
    id: cache-1
    port: 6379
    enable_tag_override: true
EOF
run services register "$IT_TMP/more.yaml"
assert_eq "register YAML file: exit 0" 0 "$RC"
assert_eq "register YAML file: one line per service" \
    $'Registered service: db\nRegistered service: cache' "$OUT"
assert_eq "register YAML file: db" 5432 "$(svc_json db | jget Port)"
assert_eq "register YAML file: meta value kept a string" '{"version":"15"}' "$(svc_json db | jget Meta)"
assert_eq "register YAML file: snake_case key" true "$(svc_json cache-1 | jget EnableTagOverride)"
run services register -tag=extra -port=7000 "$IT_TMP/api.json"
assert_eq "register file + flags: exit 0" 0 "$RC"
assert_eq "register file + flags: tag appended" '["j","extra"]' "$(svc_json api-1 | jget Tags)"
assert_eq "register file + flags: file port wins" 9000 "$(svc_json api-1 | jget Port)"

# errors
run services register -name=bad -address=0.0.0.0
assert_eq "register rejected by the agent: exit 1" 1 "$RC"
assert_eq "register rejected by the agent: message" \
    'Error registering service "bad": Unexpected response code: 400 (Invalid service address)' "$ERR"
run services register
assert_eq "register without arguments: exit 1" 1 "$RC"
assert_eq "register without arguments: message" \
    "Service registration requires at least one argument or flags." "$ERR"
run services register -name=x "$IT_TMP/api.json"
assert_eq "register -name with a file: exit 1" 1 "$RC"
assert_eq "register -name with a file: message" \
    "Service registration requires arguments or -id, not both." "$ERR"
run services register "$IT_TMP/nope.json"
assert_eq "register missing file: exit 1" 1 "$RC"
assert_eq "register missing file: message" \
    "Error: open $IT_TMP/nope.json: no such file or directory" "$ERR"
printf 'services:\n  - name: a\n   bad: [\n' >"$IT_TMP/broken.yaml"
run services register "$IT_TMP/broken.yaml"
assert_eq "register broken YAML: exit 1" 1 "$RC"
assert_match "register broken YAML: names file and line" "$ERR" "^Error: failed to parse .*broken.yaml: .*line 3"
run services register -name=x -meta=novalue
assert_eq "register -meta without =: exit 1" 1 "$RC"
assert_contains "register -meta without =: Go flag message" "$ERR" \
    'invalid value "novalue" for flag -meta: Missing "=" value in argument: novalue'
run services register -name=x -http-addr=127.0.0.1:1
assert_eq "register, agent unreachable: exit 1" 1 "$RC"
assert_contains "register, agent unreachable: message" "$ERR" "connect: connection refused"

# ---- catalog
assert_eventually "CLI services reach the catalog" 3 in_catalog cache
run catalog datacenters
assert_eq "catalog datacenters: exit 0" 0 "$RC"
assert_eq "catalog datacenters: dc1" dc1 "$OUT"
run catalog services
assert_eq "catalog services: exit 0" 0 "$RC"
assert_eq "catalog services: sorted names (the server's consul included)" \
    $'api\ncache\nconsul\ndb\nweb' "$OUT"
run catalog services -tags
assert_eq "catalog services -tags: exit 0" 0 "$RC"
assert_match "catalog services -tags: web with sorted tags" "$OUT" $'(^|\n)web +primary,v1($|\n)'
assert_match "catalog services -tags: api" "$OUT" $'(^|\n)api +extra,j($|\n)'
assert_match "catalog services -tags: column of width (widest name, consul, + 6)" "$OUT" $'(^|\n)db {10}primary($|\n)'
run catalog services -node="$NODE"
assert_eq "catalog services -node: exit 0" 0 "$RC"
assert_eq "catalog services -node: the node's services" $'api\ncache\nconsul\ndb\nweb' "$OUT"
run catalog services -node=nope
assert_eq "catalog services -node=<unknown>: exit 0" 0 "$RC"
assert_eq "catalog services -node=<unknown>: nothing on stdout" "" "$OUT"
assert_eq "catalog services -node=<unknown>: message" \
    "No services match the given query - try expanding your search." "$ERR"
run catalog services -node-meta=rack=r1
assert_contains "catalog services -node-meta=rack=r1: web" $'\n'"$OUT"$'\n' $'\nweb\n'
run catalog services -node-meta=rack=zz
assert_eq "catalog services -node-meta=rack=zz: none" \
    "No services match the given query - try expanding your search." "$ERR"
run catalog services extra
assert_eq "catalog services with an argument: exit 1" 1 "$RC"
assert_eq "catalog services with an argument: message" "Too many arguments (expected 0, got 1)" "$ERR"

run catalog nodes
assert_eq "catalog nodes: exit 0" 0 "$RC"
assert_match "catalog nodes: header" "$(head -1 <<<"$OUT")" '^Node +ID +Address +DC$'
assert_match "catalog nodes: this node, short ID" "$(sed -n 2p <<<"$OUT")" "^$NODE +[0-9a-f]{8} +127\.0\.0\.1 +dc1$"
run catalog nodes -detailed
assert_match "catalog nodes -detailed: header" "$(head -1 <<<"$OUT")" '^Node +ID +Address +DC +TaggedAddresses +Meta$'
assert_match "catalog nodes -detailed: full ID, tagged addresses, meta" "$(sed -n 2p <<<"$OUT")" \
    "^$NODE +[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12} +127\.0\.0\.1 +dc1 +.*lan=127\.0\.0\.1.* +.*rack=r1"
run catalog nodes -service=web
assert_eq "catalog nodes -service: exit 0" 0 "$RC"
assert_match "catalog nodes -service: the node" "$(sed -n 2p <<<"$OUT")" "^$NODE "
run catalog nodes -service=nope
assert_eq "catalog nodes -service=<unknown>: exit 0" 0 "$RC"
assert_eq "catalog nodes -service=<unknown>: message" \
    "No nodes match the given query - try expanding your search." "$ERR"
run catalog nodes -node-meta=rack=r1
assert_match "catalog nodes -node-meta: the node" "$(sed -n 2p <<<"$OUT")" "^$NODE "
run catalog nodes -node-meta=rack=zz
assert_eq "catalog nodes -node-meta no match" \
    "No nodes match the given query - try expanding your search." "$ERR"
run catalog nodes -filter 'Node == "nope"'
assert_eq "catalog nodes -filter no match: exit 0" 0 "$RC"
assert_eq "catalog nodes -filter no match" \
    "No nodes match the given query - try expanding your search." "$ERR"
run catalog nodes -filter "Node == \"$NODE\""
assert_match "catalog nodes -filter match" "$(sed -n 2p <<<"$OUT")" "^$NODE "
run catalog nodes -filter 'Node =='
assert_eq "catalog nodes bad -filter: exit 1" 1 "$RC"
assert_match "catalog nodes bad -filter: message" "$ERR" '^Error listing nodes: Unexpected response code: 400 '

# ---- maint
run maint
assert_eq "maint (list, nothing): exit 0" 0 "$RC"
assert_eq "maint (list, nothing): empty" "" "$OUT"
run maint -enable -reason="new disks"
assert_eq "maint -enable: exit 0" 0 "$RC"
assert_eq "maint -enable: message" "Node maintenance is now enabled" "$OUT"
http GET /v1/agent/checks
assert_eq "maint -enable: _node_maintenance with the reason" "new disks" "$(jget _node_maintenance.Notes <<<"$HTTP_BODY")"
run maint -enable -service=web-1 -reason=deploy
assert_eq "maint -enable -service: exit 0" 0 "$RC"
assert_eq "maint -enable -service: message" 'Service maintenance is now enabled for "web-1"' "$OUT"
run maint
assert_eq "maint (list): both" \
    $'Node:\n  Name:   '"$NODE"$'\n  Reason: new disks\n\nService:\n  ID:     web-1\n  Reason: deploy' "$OUT"
run maint -enable -service=nope
assert_eq "maint -enable -service=<unknown>: exit 1" 1 "$RC"
assert_match "maint -enable -service=<unknown>: message" "$ERR" \
    '^Error enabling service maintenance: Unexpected response code: 404'
run maint -disable -service=web-1
assert_eq "maint -disable -service: exit 0" 0 "$RC"
assert_eq "maint -disable -service: message" 'Service maintenance is now disabled for "web-1"' "$OUT"
run maint -disable
assert_eq "maint -disable: exit 0" 0 "$RC"
assert_eq "maint -disable: message" "Node maintenance is now disabled" "$OUT"
run maint
assert_eq "maint (list) after disabling: empty" "" "$OUT"
run maint -enable -disable
assert_eq "maint -enable -disable: exit 1" 1 "$RC"
assert_eq "maint -enable -disable: message" "Only one of -enable or -disable may be provided" "$ERR"
run maint -service=web-1
assert_eq "maint -service alone: exit 1" 1 "$RC"
assert_eq "maint -service alone: message" "Service requires either -enable or -disable" "$ERR"
run maint -disable -reason=x
assert_eq "maint -disable -reason: exit 1" 1 "$RC"
assert_eq "maint -disable -reason: message" "Reason may only be provided with -enable" "$ERR"

# ---- services deregister
run services deregister web-1
assert_eq "deregister ID: exit 0" 0 "$RC"
assert_eq "deregister ID: message" "Deregistered service: web-1" "$OUT"
http GET /v1/agent/service/web-1
assert_eq "deregister ID: gone" 404 "$HTTP_STATUS"
run services deregister -id=api-1
assert_eq "deregister -id: exit 0" 0 "$RC"
assert_eq "deregister -id: message" "Deregistered service: api-1" "$OUT"
http GET /v1/agent/service/api-1
assert_eq "deregister -id: gone" 404 "$HTTP_STATUS"
run services deregister "$IT_TMP/more.yaml"
assert_eq "deregister FILE: exit 0" 0 "$RC"
assert_eq "deregister FILE: one line per service (ID, else name)" \
    $'Deregistered service: db\nDeregistered service: cache-1' "$OUT"
http GET /v1/agent/services
assert_eq "all CLI services gone from the agent" '{}' "$(jget '' <<<"$HTTP_BODY")"
not_in_catalog() { http GET "/v1/catalog/service/$1"; [ "$(jget '' <<<"$HTTP_BODY")" = '[]' ]; }
assert_eventually "deregistered services leave the catalog" 3 not_in_catalog db
run services deregister
assert_eq "deregister without arguments: exit 1" 1 "$RC"
assert_eq "deregister without arguments: message" \
    "Service deregistration requires at least one argument or -id." "$ERR"
run services deregister -id=a b
assert_eq "deregister -id and an argument: exit 1" 1 "$RC"
assert_eq "deregister -id and an argument: message" \
    "Service deregistration requires arguments or -id, not both." "$ERR"

# ---- help
run services -h
assert_eq "services -h: exit 0" 0 "$RC"
assert_contains "services -h: subcommands" "$OUT" "register"
run catalog nodes -h
assert_eq "catalog nodes -h: exit 0" 0 "$RC"
assert_contains "catalog nodes -h: flags" "$OUT" "-node-meta=<key=value>"
run maint -h
assert_eq "maint -h: exit 0" 0 "$RC"
assert_contains "maint -h: usage" "$OUT" "Usage: cairn maint [options]"
run help
assert_contains "cairn help lists catalog" "$OUT" "catalog"
assert_contains "cairn help lists services" "$OUT" "services"
assert_contains "cairn help lists maint" "$OUT" "maint"

agent_stop cc1
finish
