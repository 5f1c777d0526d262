#!/usr/bin/env bash
# Catalog and health endpoints (spec/consul-api.md §3, §4, §0.3-0.5):
# catalog register/deregister, nodes/services/service/<name> with ?tag,
# ?node-meta and ?filter, node/<node> (unknown -> 200 null), health
# node/checks/service/state with ?passing and ?tag, every ?filter operator,
# bad filters (400) and evaluation errors (500), blocking queries woken per service name, index
# headers on every read, and this agent as a node with a passing serfHealth.
. "$(dirname "$0")/lib.sh"
require_binary

cfg=$IT_TMP/catalog.yaml
cat >"$cfg" <<'EOF'
node_meta:
  rack: r1
  env: test
EOF
agent_start c1 -config-file "$cfg" || finish
NODE=c1

# index_headers DESC — the blocking-query headers on the last response
index_headers() {
    local d=$1 idx
    idx=$(hdr X-Consul-Index)
    if [[ $idx =~ ^[1-9][0-9]*$ ]] && [ "$(hdr X-Consul-KnownLeader)" = true ] &&
       [[ $(hdr X-Consul-LastContact) =~ ^[0-9]+$ ]]; then
        ok "$d: X-Consul-Index/KnownLeader/LastContact"
    else
        fail "$d: X-Consul-Index/KnownLeader/LastContact" \
            "index '$idx' leader '$(hdr X-Consul-KnownLeader)' lastcontact '$(hdr X-Consul-LastContact)' (status $HTTP_STATUS)"
    fi
}
# get DESC PATH [curl args] — GET, 200, JSON, index headers
get() {
    local d=$1 p=$2; shift 2
    http GET "$p" "$@"
    assert_eq "$d: 200" 200 "$HTTP_STATUS"
    index_headers "$d"
}
# line — newline-separated values (stdin) as one space-separated line
line() { tr '\n' ' ' | sed 's/ $//'; }
# fget PATH FILTER — GET PATH with ?filter=FILTER (URL-encoded)
fget() { http GET "$1" -G --data-urlencode "filter=$2"; }
idx_of() { http GET "$1" >/dev/null; hdr X-Consul-Index; }

# ---- this agent as a node, with serfHealth passing (its first sync runs
# once there is a leader, as in Consul: allow it a few seconds)
t0=$(now_ms)
self_listed() { http GET /v1/catalog/nodes; [ "$(jpick Node "$NODE" <<<"$HTTP_BODY" | jget Node)" = "$NODE" ]; }
assert_eventually "this agent registers itself in the catalog within 5 s" 5 self_listed
echo "# node listed $(( $(now_ms) - t0 )) ms after the leader was up"
self_serf() { http GET "/v1/health/node/$NODE"; [ "$(jpick CheckID serfHealth <<<"$HTTP_BODY" | jget Status)" = passing ]; }
assert_eventually "serfHealth passing within 5 s" 5 self_serf
get "catalog/nodes" /v1/catalog/nodes
assert_match "catalog/nodes: Content-Type application/json" "$(hdr Content-Type)" '^application/json'
me=$(jpick Node "$NODE" <<<"$HTTP_BODY")
assert_eq "this agent is a node" "$NODE" "$(jget Node <<<"$me")"
assert_eq "node Address" 127.0.0.1 "$(jget Address <<<"$me")"
assert_eq "node Datacenter" dc1 "$(jget Datacenter <<<"$me")"
assert_match "node ID is a UUID" "$(jget ID <<<"$me")" '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
assert_eq "node TaggedAddresses.lan" 127.0.0.1 "$(jget TaggedAddresses.lan <<<"$me")"
assert_eq "node Meta from node_meta (rack)" r1 "$(jget Meta.rack <<<"$me")"
assert_eq "node Meta from node_meta (env)" test "$(jget Meta.env <<<"$me")"
assert_match "node CreateIndex" "$(jget CreateIndex <<<"$me")" '^[1-9][0-9]*$'
assert_match "node ModifyIndex" "$(jget ModifyIndex <<<"$me")" '^[1-9][0-9]*$'
get "health/node/<self>" "/v1/health/node/$NODE"
serf=$(jpick CheckID serfHealth <<<"$HTTP_BODY")
assert_eq "serfHealth: present" serfHealth "$(jget CheckID <<<"$serf")"
assert_eq "serfHealth: passing" passing "$(jget Status <<<"$serf")"
assert_eq "serfHealth: Name" "Serf Health Status" "$(jget Name <<<"$serf")"
assert_eq "serfHealth: node level" "" "$(jget ServiceID <<<"$serf")"
assert_eq "serfHealth: ServiceTags []" '[]' "$(jget ServiceTags <<<"$serf")"
assert_eq "serfHealth: Node" "$NODE" "$(jget Node <<<"$serf")"

http GET /v1/catalog/datacenters
assert_eq "catalog/datacenters: 200" 200 "$HTTP_STATUS"
assert_eq "catalog/datacenters: [dc1]" '["dc1"]' "$(jget '' <<<"$HTTP_BODY")"
http GET '/v1/catalog/nodes?dc=dc1'
assert_eq "?dc=<local>: 200" 200 "$HTTP_STATUS"
http GET '/v1/catalog/nodes?dc=nowhere'
assert_eq "?dc=<unknown>: 500" 500 "$HTTP_STATUS"
assert_eq "?dc=<unknown>: text" "No path to datacenter" "$HTTP_BODY"

# ---- local services reach the catalog
jhttp PUT /v1/agent/service/register '{"Name":"web","ID":"web-1","Port":8080,"Tags":["v1"],"Check":{"TTL":"60s"}}'
jhttp PUT /v1/agent/service/register '{"Name":"other","Port":9090,"Check":{"TTL":"60s"}}'
in_catalog() { http GET "/v1/catalog/service/$1"; [ "$(jget 0.ServiceID <<<"$HTTP_BODY")" = "$2" ]; }
assert_eventually "agent service web-1 in the catalog within 2 s" 2 in_catalog web web-1
assert_eventually "agent service other in the catalog within 2 s" 2 in_catalog other other
http GET /v1/catalog/service/web
assert_eq "local service: Node" "$NODE" "$(jget 0.Node <<<"$HTTP_BODY")"
assert_eq "local service: Address" 127.0.0.1 "$(jget 0.Address <<<"$HTTP_BODY")"
assert_eq "local service: NodeMeta" r1 "$(jget 0.NodeMeta.rack <<<"$HTTP_BODY")"

# ---- catalog register (external nodes)
reg() {   # reg DESC JSON
    jhttp PUT /v1/catalog/register "$2"
    assert_eq "$1: 200" 200 "$HTTP_STATUS"
    assert_eq "$1: true" true "$HTTP_BODY"
}
reg "register ext1 + redis-1 + passing check" '{"Node":"ext1","Address":"10.1.0.1","Datacenter":"dc1",
 "TaggedAddresses":{"wan":"198.51.100.5"},"NodeMeta":{"rack":"r2","env":"prod"},
 "Service":{"ID":"redis-1","Service":"redis","Tags":["primary","v6"],"Port":6379,"Meta":{"version":"6.2"}},
 "Check":{"CheckID":"redis-alive-1","Name":"Redis alive","Status":"passing","ServiceID":"redis-1",
          "Notes":"external"}}'
reg "register ext2 + redis-2 + critical check" '{"Node":"ext2","Address":"10.1.0.2",
 "NodeMeta":{"rack":"r1"},
 "Service":{"ID":"redis-2","Service":"redis","Tags":["replica","v6"],"Port":6380,"Meta":{"version":"7.0"},
            "Address":"10.9.9.2"},
 "Checks":[{"CheckID":"redis-alive-2","Name":"Redis alive","Status":"critical","ServiceID":"redis-2"}]}'
reg "register ext3 + memcached + warning node check" '{"node":"ext3","address":"10.1.0.3",
 "service":{"service":"memcached","port":11211},
 "check":{"name":"ext3-node","status":"warning"}}'
jhttp PUT /v1/catalog/register '{"Node":"ext1",'
assert_eq "register: bad JSON 400" 400 "$HTTP_STATUS"
assert_match "register: bad JSON text" "$HTTP_BODY" '^Request decode failed: '
jhttp PUT /v1/catalog/register '{"Address":"10.1.0.9"}'
assert_eq "register without Node: 500" 500 "$HTTP_STATUS"
assert_contains "register without Node: text" "$HTTP_BODY" "Must provide node"
jhttp PUT /v1/catalog/register '{"Node":"ext9"}'
assert_eq "register without Address: 500" 500 "$HTTP_STATUS"
assert_contains "register without Address: text" "$HTTP_BODY" "Must provide address"

# ---- catalog/nodes
get "catalog/nodes" /v1/catalog/nodes
assert_eq "nodes: sorted by name" "$NODE ext1 ext2 ext3" "$(jget '*.Node' <<<"$HTTP_BODY" | line)"
n1=$(jpick Node ext1 <<<"$HTTP_BODY")
assert_eq "ext1: Address" 10.1.0.1 "$(jget Address <<<"$n1")"
assert_eq "ext1: TaggedAddresses.wan" 198.51.100.5 "$(jget TaggedAddresses.wan <<<"$n1")"
assert_eq "ext1: Meta" '{"env":"prod","rack":"r2"}' "$(jget Meta <<<"$n1")"
assert_eq "ext1: Datacenter" dc1 "$(jget Datacenter <<<"$n1")"
get "nodes ?node-meta" '/v1/catalog/nodes?node-meta=rack:r2'
assert_eq "nodes ?node-meta=rack:r2" ext1 "$(jget '*.Node' <<<"$HTTP_BODY" | line)"
http GET '/v1/catalog/nodes?node-meta=rack:r1'
assert_eq "nodes ?node-meta=rack:r1" "$NODE ext2" "$(jget '*.Node' <<<"$HTTP_BODY" | line)"
http GET '/v1/catalog/nodes?node-meta=rack:r1&node-meta=env:test'
assert_eq "nodes: two ?node-meta must both match" "$NODE" "$(jget '*.Node' <<<"$HTTP_BODY" | line)"
http GET '/v1/catalog/nodes?node-meta=rack:zz'
assert_eq "nodes ?node-meta no match: []" '[]' "$(jget '' <<<"$HTTP_BODY")"

# ---- catalog/services
get "catalog/services" /v1/catalog/services
S=$HTTP_BODY
assert_eq "services: tags union, de-duplicated, sorted" '["primary","replica","v6"]' "$(jget redis <<<"$S")"
assert_eq "services: tagless service maps to []" '[]' "$(jget memcached <<<"$S")"
assert_eq "services: local web" '["v1"]' "$(jget web <<<"$S")"
assert_eq "services: local other" '[]' "$(jget other <<<"$S")"
assert_eq "services: the server's consul service" '[]' "$(jget consul <<<"$S")"
http GET '/v1/catalog/services?node-meta=rack:r2'
assert_eq "services ?node-meta=rack:r2" '{"redis":["primary","v6"]}' "$(jget '' <<<"$HTTP_BODY")"
http GET '/v1/catalog/services?node-meta=rack:r1&node-meta=env:test'
assert_eq "services ?node-meta (both): no redis" "<missing>" "$(jget redis <<<"$HTTP_BODY")"
assert_eq "services ?node-meta (both): web" '["v1"]' "$(jget web <<<"$HTTP_BODY")"

# ---- catalog/service/<name>
get "catalog/service/redis" /v1/catalog/service/redis
assert_eq "service redis: both instances" "redis-1 redis-2" "$(jget '*.ServiceID' <<<"$HTTP_BODY" | sort | line)"
r1=$(jpick ServiceID redis-1 <<<"$HTTP_BODY")
r2=$(jpick ServiceID redis-2 <<<"$HTTP_BODY")
assert_eq "CatalogService: Node" ext1 "$(jget Node <<<"$r1")"
assert_eq "CatalogService: Address (node)" 10.1.0.1 "$(jget Address <<<"$r1")"
assert_eq "CatalogService: Datacenter" dc1 "$(jget Datacenter <<<"$r1")"
assert_eq "CatalogService: TaggedAddresses" 198.51.100.5 "$(jget TaggedAddresses.wan <<<"$r1")"
assert_eq "CatalogService: NodeMeta" '{"env":"prod","rack":"r2"}' "$(jget NodeMeta <<<"$r1")"
assert_eq "CatalogService: ServiceName" redis "$(jget ServiceName <<<"$r1")"
assert_eq "CatalogService: ServiceTags" '["primary","v6"]' "$(jget ServiceTags <<<"$r1")"
assert_eq "CatalogService: ServiceAddress empty" "" "$(jget ServiceAddress <<<"$r1")"
assert_eq "CatalogService: ServiceAddress set" 10.9.9.2 "$(jget ServiceAddress <<<"$r2")"
assert_eq "CatalogService: ServicePort" 6379 "$(jget ServicePort <<<"$r1")"
assert_eq "CatalogService: ServiceMeta" '{"version":"6.2"}' "$(jget ServiceMeta <<<"$r1")"
assert_eq "CatalogService: ServiceWeights default" '{"Passing":1,"Warning":1}' "$(jget ServiceWeights <<<"$r1")"
assert_eq "CatalogService: ServiceEnableTagOverride" false "$(jget ServiceEnableTagOverride <<<"$r1")"
assert_match "CatalogService: CreateIndex" "$(jget CreateIndex <<<"$r1")" '^[1-9][0-9]*$'
assert_match "CatalogService: ModifyIndex" "$(jget ModifyIndex <<<"$r1")" '^[1-9][0-9]*$'
http GET /v1/catalog/service/memcached
assert_eq "service registered without ID: ID = name" memcached "$(jget 0.ServiceID <<<"$HTTP_BODY")"
assert_eq "service without tags: ServiceTags [] (never null)" '[]' "$(jget 0.ServiceTags <<<"$HTTP_BODY")"
get "service ?tag" '/v1/catalog/service/redis?tag=primary'
assert_eq "?tag=primary" redis-1 "$(jget '*.ServiceID' <<<"$HTTP_BODY" | line)"
http GET '/v1/catalog/service/redis?tag=v6&tag=replica'
assert_eq "?tag twice: both required" redis-2 "$(jget '*.ServiceID' <<<"$HTTP_BODY" | line)"
http GET '/v1/catalog/service/redis?tag=PRIMARY'
assert_eq "?tag is case-insensitive" redis-1 "$(jget '*.ServiceID' <<<"$HTTP_BODY" | line)"
http GET '/v1/catalog/service/redis?tag=nope'
assert_eq "?tag no match: []" '[]' "$(jget '' <<<"$HTTP_BODY")"
http GET '/v1/catalog/service/redis?node-meta=rack:r1'
assert_eq "service ?node-meta" redis-2 "$(jget '*.ServiceID' <<<"$HTTP_BODY" | line)"
http GET /v1/catalog/service/REDIS
assert_eq "service name is case-insensitive" 2 "$(jget '#' <<<"$HTTP_BODY")"
get "catalog/service/<unknown>" /v1/catalog/service/nope
assert_eq "unknown service: [] (never 404)" '[]' "$(jget '' <<<"$HTTP_BODY")"

# ---- catalog/node/<node>
get "catalog/node/ext1" /v1/catalog/node/ext1
assert_eq "node/ext1: Node.Node" ext1 "$(jget Node.Node <<<"$HTTP_BODY")"
assert_eq "node/ext1: Node.Address" 10.1.0.1 "$(jget Node.Address <<<"$HTTP_BODY")"
assert_eq "node/ext1: Node.Meta" r2 "$(jget Node.Meta.rack <<<"$HTTP_BODY")"
assert_eq "node/ext1: Services keyed by ID" redis "$(jget Services.redis-1.Service <<<"$HTTP_BODY")"
assert_eq "node/ext1: service Tags" '["primary","v6"]' "$(jget Services.redis-1.Tags <<<"$HTTP_BODY")"
assert_eq "node/ext1: service Port" 6379 "$(jget Services.redis-1.Port <<<"$HTTP_BODY")"
assert_eq "node/ext1: service Meta" '{"version":"6.2"}' "$(jget Services.redis-1.Meta <<<"$HTTP_BODY")"
assert_eq "node/ext1: service Weights" '{"Passing":1,"Warning":1}' "$(jget Services.redis-1.Weights <<<"$HTTP_BODY")"
get "catalog/node/<self>" "/v1/catalog/node/$NODE"
assert_eq "node/<self>: agent service web-1" web "$(jget Services.web-1.Service <<<"$HTTP_BODY")"
get "catalog/node/<unknown>" /v1/catalog/node/nope
assert_eq "unknown node: body null" null "$HTTP_BODY"

# ---- health/node, health/checks
get "health/node/ext1" /v1/health/node/ext1
assert_eq "health/node/ext1: one check" 1 "$(jget '#' <<<"$HTTP_BODY")"
c=$(jget 0 <<<"$HTTP_BODY")
assert_eq "HealthCheck: CheckID" redis-alive-1 "$(jget CheckID <<<"$c")"
assert_eq "HealthCheck: Node" ext1 "$(jget Node <<<"$c")"
assert_eq "HealthCheck: Name" "Redis alive" "$(jget Name <<<"$c")"
assert_eq "HealthCheck: Status" passing "$(jget Status <<<"$c")"
assert_eq "HealthCheck: Notes" external "$(jget Notes <<<"$c")"
assert_eq "HealthCheck: ServiceID" redis-1 "$(jget ServiceID <<<"$c")"
assert_eq "HealthCheck: ServiceName" redis "$(jget ServiceName <<<"$c")"
assert_eq "HealthCheck: ServiceTags" '["primary","v6"]' "$(jget ServiceTags <<<"$c")"
assert_match "HealthCheck: CreateIndex" "$(jget CreateIndex <<<"$c")" '^[1-9][0-9]*$'
get "health/node/<unknown>" /v1/health/node/nope
assert_eq "health/node/<unknown>: []" '[]' "$(jget '' <<<"$HTTP_BODY")"
http GET /v1/health/node/ext3
assert_eq "registered check without CheckID: ID = Name" ext3-node "$(jget 0.CheckID <<<"$HTTP_BODY")"
assert_eq "node-level check: ServiceTags []" '[]' "$(jget 0.ServiceTags <<<"$HTTP_BODY")"
get "health/checks/redis" /v1/health/checks/redis
assert_eq "health/checks/redis: the service's checks" "redis-alive-1 redis-alive-2" \
    "$(jget '*.CheckID' <<<"$HTTP_BODY" | sort | line)"
get "health/checks/<unknown>" /v1/health/checks/nope
assert_eq "health/checks/<unknown>: []" '[]' "$(jget '' <<<"$HTTP_BODY")"

# ---- health/service
get "health/service/redis" /v1/health/service/redis
assert_eq "health/service: ordered by node" "ext1 ext2" "$(jget '*.Node.Node' <<<"$HTTP_BODY" | line)"
e=$(jget 0 <<<"$HTTP_BODY")
assert_eq "ServiceEntry: Node.Address" 10.1.0.1 "$(jget Node.Address <<<"$e")"
assert_eq "ServiceEntry: Node.Meta" r2 "$(jget Node.Meta.rack <<<"$e")"
assert_eq "ServiceEntry: Service.ID" redis-1 "$(jget Service.ID <<<"$e")"
assert_eq "ServiceEntry: Service.Service" redis "$(jget Service.Service <<<"$e")"
assert_eq "ServiceEntry: Service.Tags" '["primary","v6"]' "$(jget Service.Tags <<<"$e")"
assert_eq "ServiceEntry: Service.Port" 6379 "$(jget Service.Port <<<"$e")"
assert_eq "ServiceEntry: Checks" redis-alive-1 "$(jget 'Checks.*.CheckID' <<<"$e" | line)"
http GET /v1/health/service/redis -G --data-urlencode passing
assert_eq "?passing: only all-passing entries" redis-1 "$(jget '*.Service.ID' <<<"$HTTP_BODY" | line)"
http GET '/v1/health/service/redis?passing=true'
assert_eq "?passing=true" redis-1 "$(jget '*.Service.ID' <<<"$HTTP_BODY" | line)"
http GET '/v1/health/service/redis?passing=1'
assert_eq "?passing=1" redis-1 "$(jget '*.Service.ID' <<<"$HTTP_BODY" | line)"
http GET '/v1/health/service/redis?passing=false'
assert_eq "?passing=false: all" "redis-1 redis-2" "$(jget '*.Service.ID' <<<"$HTTP_BODY" | line)"
http GET '/v1/health/service/redis?passing=0'
assert_eq "?passing=0: all" 2 "$(jget '#' <<<"$HTTP_BODY")"
http GET '/v1/health/service/redis?passing=garbage'
assert_eq "?passing=garbage: 400" 400 "$HTTP_STATUS"
http GET '/v1/health/service/redis?tag=replica'
assert_eq "health ?tag" redis-2 "$(jget '*.Service.ID' <<<"$HTTP_BODY" | line)"
http GET '/v1/health/service/redis?tag=V6&passing'
assert_eq "health ?tag (case-insensitive) + ?passing" redis-1 "$(jget '*.Service.ID' <<<"$HTTP_BODY" | line)"
http GET /v1/health/service/memcached
assert_eq "health/service: node-level checks included" ext3-node "$(jget '0.Checks.*.CheckID' <<<"$HTTP_BODY" | line)"
http GET '/v1/health/service/memcached?passing'
assert_eq "?passing excludes a warning node check" '[]' "$(jget '' <<<"$HTTP_BODY")"
http GET /v1/health/service/web
assert_eq "local service: serfHealth first, then the service check" "serfHealth service:web-1" \
    "$(jget '0.Checks.*.CheckID' <<<"$HTTP_BODY" | line)"
get "health/service/<unknown>" /v1/health/service/nope
assert_eq "health/service/<unknown>: []" '[]' "$(jget '' <<<"$HTTP_BODY")"

# ---- health/state
get "health/state/critical" /v1/health/state/critical
crit=" $(jget '*.CheckID' <<<"$HTTP_BODY" | line) "
assert_contains "state/critical: redis-alive-2" "$crit" " redis-alive-2 "
assert_contains "state/critical: the new TTL check" "$crit" " service:web-1 "
assert_not_contains "state/critical: not redis-alive-1" "$crit" " redis-alive-1 "
get "health/state/passing" /v1/health/state/passing
pass=" $(jget '*.CheckID' <<<"$HTTP_BODY" | line) "
assert_contains "state/passing: serfHealth" "$pass" " serfHealth "
assert_contains "state/passing: redis-alive-1" "$pass" " redis-alive-1 "
assert_not_contains "state/passing: not redis-alive-2" "$pass" " redis-alive-2 "
http GET /v1/health/state/warning
assert_eq "state/warning" ext3-node "$(jget '*.CheckID' <<<"$HTTP_BODY" | line)"
get "health/state/any" /v1/health/state/any
any=" $(jget '*.CheckID' <<<"$HTTP_BODY" | line) "
for c in serfHealth redis-alive-1 redis-alive-2 ext3-node service:web-1 service:other; do
    assert_contains "state/any: $c" "$any" " $c "
done
http GET /v1/health/state/bogus
assert_eq "state/bogus: 400" 400 "$HTTP_STATUS"

# ---- ?filter: each operator, and/or/not, parentheses, precedence
nodes_f() { fget /v1/catalog/nodes "$1"; jget '*.Node' <<<"$HTTP_BODY" | line; }
svc_f() { fget /v1/catalog/service/redis "$1"; jget '*.ServiceID' <<<"$HTTP_BODY" | sort | line; }
assert_eq 'filter ==' ext1 "$(nodes_f 'Node == "ext1"')"
assert_eq 'filter !=' "$NODE ext2 ext3" "$(nodes_f 'Node != "ext1"')"
assert_eq 'filter on a map value' "$NODE ext2" "$(nodes_f 'Meta.rack == "r1"')"
assert_eq 'filter is empty' ext3 "$(nodes_f 'Meta is empty')"
assert_eq 'filter is not empty' "$NODE ext1 ext2" "$(nodes_f 'Meta is not empty')"
assert_eq 'filter matches' "ext1 ext2" "$(nodes_f 'Node matches "^ext[12]$"')"
assert_eq 'filter in (list)' redis-1 "$(svc_f '"primary" in ServiceTags')"
assert_eq 'filter not in (list)' redis-2 "$(svc_f '"primary" not in ServiceTags')"
assert_eq 'filter on a number' redis-2 "$(svc_f 'ServicePort == 6380')"
assert_eq 'filter ServiceMeta' redis-1 "$(svc_f 'ServiceMeta.version == "6.2"')"
assert_eq 'filter and/or/not with parentheses' ext2 \
    "$(nodes_f '(Node == "ext1" or Node == "ext2") and not Meta.rack == "r2"')"
assert_eq 'filter: and binds tighter than or' ext3 \
    "$(nodes_f 'Node == "ext3" or Node == "ext1" and Meta.rack == "r1"')"
assert_eq 'filter: not on a parenthesised group' "$NODE ext3" \
    "$(nodes_f 'not (Node == "ext1" or Node == "ext2")')"
fget /v1/health/service/redis 'Node.Meta.rack == "r2"'
assert_eq 'filter on health/service (Node.Meta)' redis-1 "$(jget '*.Service.ID' <<<"$HTTP_BODY" | line)"
fget /v1/health/service/redis '"replica" in Service.Tags'
assert_eq 'filter on health/service (Service.Tags)' redis-2 "$(jget '*.Service.ID' <<<"$HTTP_BODY" | line)"
fget /v1/health/state/any 'ServiceName == "redis"'
assert_eq 'filter on health/state' "redis-alive-1 redis-alive-2" "$(jget '*.CheckID' <<<"$HTTP_BODY" | sort | line)"
fget /v1/health/checks/redis 'Status == "critical"'
assert_eq 'filter on health/checks' redis-alive-2 "$(jget '*.CheckID' <<<"$HTTP_BODY" | line)"
fget /v1/health/node/ext1 'Status != "passing"'
assert_eq 'filter on health/node' '[]' "$(jget '' <<<"$HTTP_BODY")"
# catalog/services: the filter sees each service instance (Consul's
# ServiceNode, the catalog/service/<name> shape) before grouping by name;
# the tags are the union over the instances kept
services_f() { fget /v1/catalog/services "$1"; jget '' <<<"$HTTP_BODY"; }
assert_eq 'services filter ServiceName' '{"redis":["primary","replica","v6"]}' \
    "$(services_f 'ServiceName == "redis"')"
assert_eq 'services filter: 200' 200 "$HTTP_STATUS"
index_headers 'services filter'
assert_eq 'services filter ServiceTags: tags of the kept instance only' '{"redis":["primary","v6"]}' \
    "$(services_f '"primary" in ServiceTags')"
assert_eq 'services filter ServicePort' '{"redis":["replica","v6"]}' "$(services_f 'ServicePort == 6380')"
assert_eq 'services filter ServiceMeta' '{"redis":["primary","v6"]}' \
    "$(services_f 'ServiceMeta.version == "6.2"')"
assert_eq 'services filter ServiceAddress' '{"redis":["replica","v6"]}' \
    "$(services_f 'ServiceAddress == "10.9.9.2"')"
assert_eq 'services filter Node' '{"memcached":[]}' "$(services_f 'Node == "ext3"')"
assert_eq 'services filter NodeMeta' '{"consul":[],"other":[],"redis":["replica","v6"],"web":["v1"]}' \
    "$(services_f 'NodeMeta.rack == "r1"')"
assert_eq 'services filter Address and ServiceID' '{"redis":["primary","v6"]}' \
    "$(services_f 'Address == "10.1.0.1" and ServiceID == "redis-1"')"
assert_eq 'services filter Datacenter: everything' "$(jget '' <<<"$S" | jget '#')" \
    "$(services_f 'Datacenter == "dc1"' | jget '#')"
assert_eq 'services filter no match: {}' '{}' "$(services_f 'ServiceName == "nope"')"
http GET '/v1/catalog/services?node-meta=rack:r1' -G --data-urlencode 'filter=ServiceName matches "^(redis|web)$"'
assert_eq 'services ?node-meta and ?filter together' '{"redis":["replica","v6"],"web":["v1"]}' \
    "$(jget '' <<<"$HTTP_BODY")"
assert_eq 'services filter, unknown field: not present, as on other endpoints' '{}' \
    "$(services_f 'NoSuchField == "x"')"
assert_eq 'services filter, unknown field: 200' 200 "$HTTP_STATUS"
fget /v1/catalog/services 'ServiceName =='
assert_eq 'services bad filter: 400' 400 "$HTTP_STATUS"
assert_match 'services bad filter: text' "$HTTP_BODY" '^Failed to create boolean expression evaluator: '
fget /v1/catalog/services 'ServiceTags.x == "v6"'
assert_eq 'services filter evaluation error: 500' 500 "$HTTP_STATUS"
assert_match 'services filter evaluation error: reason' "$HTTP_BODY" \
    '^Failed to evaluate filter expression: selector ServiceTags\.x: '
# catalog/node/<node>: the filter applies to each entry of Services
# (Consul's NodeService: ID, Service, Tags, Meta, Port, Address, Kind, ...);
# Node stays as it is
fget "/v1/catalog/node/$NODE" 'Service == "web"'
assert_eq 'node filter Service: 200' 200 "$HTTP_STATUS"
index_headers 'node filter'
assert_eq 'node filter Service: the web entry' web "$(jget Services.web-1.Service <<<"$HTTP_BODY")"
assert_eq 'node filter Service: only that one' 1 "$(jget 'Services.#' <<<"$HTTP_BODY")"
assert_eq 'node filter: Node kept' "$NODE" "$(jget Node.Node <<<"$HTTP_BODY")"
fget /v1/catalog/node/ext1 '"primary" in Tags and Port == 6379 and Meta.version == "6.2"'
assert_eq 'node filter Tags/Port/Meta' redis "$(jget Services.redis-1.Service <<<"$HTTP_BODY")"
fget /v1/catalog/node/ext1 'ID != "redis-1"'
assert_eq 'node filter no match: Services {}' '{}' "$(jget Services <<<"$HTTP_BODY")"
assert_eq 'node filter no match: Node kept' ext1 "$(jget Node.Node <<<"$HTTP_BODY")"
fget /v1/catalog/node/ext2 'Address == "10.9.9.2"'
assert_eq 'node filter Address (the service address)' redis-2 "$(jget Services.redis-2.ID <<<"$HTTP_BODY")"
fget /v1/catalog/node/nope 'Service == "web"'
assert_eq 'node filter, unknown node: 200 null' "200 null" "$HTTP_STATUS $HTTP_BODY"
fget "/v1/catalog/node/$NODE" 'Service =='
assert_eq 'node bad filter: 400' 400 "$HTTP_STATUS"
for bad in 'Node ==' 'Node === "x"' '(Node == "x"' 'Node == "x" and' 'Node ~ "x"' '== "x"'; do
    fget /v1/catalog/nodes "$bad"
    assert_eq "bad filter '$bad': 400" 400 "$HTTP_STATUS"
done
fget /v1/health/service/redis 'Service.ID =='
assert_eq "bad filter on health/service: 400" 400 "$HTTP_STATUS"
# ---- ?filter evaluation errors: 500 with the reason, as Consul answers
# bexpr's Filter.Execute error, never a silently shorter list
fget /v1/health/service/redis 'Checks.Status == "passing"'
assert_eq "filter through an array: 500" 500 "$HTTP_STATUS"
assert_match "filter through an array: reason" "$HTTP_BODY" \
    '^Failed to evaluate filter expression: selector Checks\.Status: .* is an array'
fget /v1/health/service/redis 'Checks.0.Status is not empty'
assert_eq "filter indexing the array instead: 200" 200 "$HTTP_STATUS"
assert_eq "filter indexing the array instead: both entries" "redis-1 redis-2" \
    "$(jget '*.Service.ID' <<<"$HTTP_BODY" | sort | line)"
fget /v1/catalog/service/redis 'ServicePort == abc'
assert_eq "filter type mismatch: 500" 500 "$HTTP_STATUS"
assert_contains "filter type mismatch: reason" "$HTTP_BODY" \
    'selector ServicePort: cannot compare a number with "abc"'
fget /v1/catalog/nodes 'Node == "ext1" or Meta.rack.x == "r1"'
assert_eq "filter error on some nodes only: 500, not a shorter list" 500 "$HTTP_STATUS"

# ---- blocking queries: a check flip wakes watchers of that service only
iw=$(idx_of /v1/health/service/web)
io=$(idx_of /v1/health/service/other)
assert_match "health/service/web index" "$iw" '^[1-9][0-9]*$'
bgq_start bw "/v1/health/service/web?index=$iw&wait=20s"
bgq_start bo "/v1/health/service/other?index=$io&wait=4s"
sleep 1
if bgq_done bw; then fail "web watcher parked before the flip" "returned $(bgq_code bw): $(bgq_body bw | head -c 300)"
else ok "web watcher parked before the flip"; fi
if bgq_done bo; then fail "other watcher parked before the flip" "returned $(bgq_code bo)"
else ok "other watcher parked before the flip"; fi
tw=$(now_ms)
http PUT /v1/agent/check/pass/service:web-1
assert_eq "flip web's check: 200" 200 "$HTTP_STATUS"
if bgq_wait bw 5; then
    assert_num_between "web watcher woken within 1 s of the flip (ms)" 0 1000 $(( $(bgq_end bw) - tw ))
    assert_eq "woken: 200" 200 "$(bgq_code bw)"
    nw=$(bgq_index bw)
    if [ "$nw" -gt "$iw" ] 2>/dev/null; then ok "woken: index moved ($iw -> $nw)"
    else fail "woken: index moved" "$iw -> $nw"; fi
    assert_eq "woken: the new status" passing \
        "$(bgq_body bw | jget 0.Checks | jpick CheckID service:web-1 | jget Status)"
else
    fail "web watcher woken within 5 s" "still parked"
fi
if bgq_done bo; then fail "other watcher not woken by web's flip" "returned after $(bgq_elapsed bo) ms"
else ok "other watcher not woken by web's flip"; fi
if bgq_wait bo 6; then
    assert_num_between "other watcher returns at its wait=4s (+ jitter) (ms)" 3900 4700 "$(bgq_elapsed bo)"
    assert_eq "other watcher: same index" "$io" "$(bgq_index bo)"
else
    fail "other watcher returns at its wait" "still parked after 10 s"
fi
# a blocking read of catalog/services wakes on a new service
is=$(idx_of /v1/catalog/services)
bgq_start bs "/v1/catalog/services?index=$is&wait=20s"
sleep 0.5
tw=$(now_ms)
reg "register ext4 + newsvc" '{"Node":"ext4","Address":"10.1.0.4","Service":{"Service":"newsvc"}}'
if bgq_wait bs 5; then
    assert_num_between "catalog/services watcher woken within 1 s (ms)" 0 1000 $(( $(bgq_end bs) - tw ))
    assert_eq "catalog/services watcher sees newsvc" '[]' "$(bgq_body bs | jget newsvc)"
else
    fail "catalog/services watcher woken" "still parked"
fi
# a blocking read of catalog/node/<node> wakes on that node's change
in=$(idx_of /v1/catalog/node/ext4)
bgq_start bn "/v1/catalog/node/ext4?index=$in&wait=20s"
sleep 0.5
reg "add a service to ext4" '{"Node":"ext4","Address":"10.1.0.4","Service":{"Service":"newsvc2"}}'
if bgq_wait bn 5; then ok "catalog/node watcher woken"
    assert_eq "catalog/node watcher sees newsvc2" newsvc2 "$(bgq_body bn | jget Services.newsvc2.Service)"
else fail "catalog/node watcher woken" "still parked"; fi
http GET "/v1/health/service/web?index=$(( ${nw:-$iw} + 1000000 ))&wait=5s" -m 3
assert_eq "index far ahead of the store: answers at once" 200 "$HTTP_STATUS"

# ---- catalog deregister
dereg() {
    jhttp PUT /v1/catalog/deregister "$2"
    assert_eq "$1: 200" 200 "$HTTP_STATUS"
    assert_eq "$1: true" true "$HTTP_BODY"
}
dereg "deregister service redis-1" '{"Node":"ext1","ServiceID":"redis-1"}'
http GET /v1/catalog/service/redis
assert_eq "redis-1 gone, redis-2 stays" redis-2 "$(jget '*.ServiceID' <<<"$HTTP_BODY" | line)"
http GET /v1/health/node/ext1
assert_eq "redis-1's check gone with it" '[]' "$(jget '' <<<"$HTTP_BODY")"
http GET /v1/catalog/node/ext1
assert_eq "node ext1 stays" ext1 "$(jget Node.Node <<<"$HTTP_BODY")"
dereg "deregister check redis-alive-2" '{"Node":"ext2","CheckID":"redis-alive-2"}'
http GET /v1/health/checks/redis
assert_eq "check gone" '[]' "$(jget '' <<<"$HTTP_BODY")"
http GET /v1/catalog/service/redis
assert_eq "its service stays" redis-2 "$(jget '*.ServiceID' <<<"$HTTP_BODY" | line)"
dereg "deregister node ext3" '{"Node":"ext3","Datacenter":"dc1"}'
http GET /v1/catalog/nodes
assert_eq "ext3 gone" "$NODE ext1 ext2 ext4" "$(jget '*.Node' <<<"$HTTP_BODY" | line)"
http GET /v1/catalog/services
assert_eq "ext3's service gone" "<missing>" "$(jget memcached <<<"$HTTP_BODY")"
http GET /v1/health/node/ext3
assert_eq "ext3's checks gone" '[]' "$(jget '' <<<"$HTTP_BODY")"

# deregistering through the agent removes it from the catalog
http PUT /v1/agent/service/deregister/other
not_in_catalog() { http GET "/v1/catalog/service/$1"; [ "$(jget '' <<<"$HTTP_BODY")" = '[]' ]; }
assert_eventually "agent deregistration reaches the catalog within 2 s" 2 not_in_catalog other

agent_stop c1
finish
