#!/usr/bin/env bash
# Status and agent endpoints, reload (API and SIGHUP), signals, config
# errors, -dev (spec/consul-api.md §2.1, §2.2, §2.11, §6, §10).
. "$(dirname "$0")/lib.sh"
require_binary

cfg=$IT_TMP/a1.yaml
printf 'log_level: info\nnode_meta:\n  rack: r1\n' >"$cfg"
agent_start a1 -config-file "$cfg" -pid-file "$IT_TMP/a1.pid" || finish

# ---- status
http GET /v1/status/leader
assert_eq "status/leader: 200" 200 "$HTTP_STATUS"
assert_match "status/leader: non-empty JSON string" "$HTTP_BODY" '^"[^"]+"[[:space:]]*$'
leader=$(jget '' <<<"$HTTP_BODY")
assert_eq "status/leader: our server address 127.0.0.1:<server port>" \
    "127.0.0.1:$(agent_server a1)" "$leader"
assert_match "status/leader: Content-Type json" "$(hdr Content-Type)" '^application/json'
http GET /v1/status/peers
assert_eq "status/peers: 200" 200 "$HTTP_STATUS"
assert_eq "status/peers: array of 1" 1 "$(jget '#' <<<"$HTTP_BODY")"
assert_eq "status/peers: the leader" "$leader" "$(jget 0 <<<"$HTTP_BODY")"

# ---- agent/self
http GET /v1/agent/self
assert_eq "agent/self: 200" 200 "$HTTP_STATUS"
assert_true "agent/self: valid JSON" json_ok <<<"$HTTP_BODY"
self=$HTTP_BODY
assert_eq "Config.NodeName" a1 "$(jget Config.NodeName <<<"$self")"
assert_eq "Config.Datacenter" dc1 "$(jget Config.Datacenter <<<"$self")"
assert_match "Config.NodeID is a UUID" "$(jget Config.NodeID <<<"$self")" \
    '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
assert_eq "Config.Server true" true "$(jget Config.Server <<<"$self")"
assert_match "Config.Version is a Consul-style x.y.z" "$(jget Config.Version <<<"$self")" \
    '^1\.[0-9]+\.[0-9]+'
assert_eq "Member.Name" a1 "$(jget Member.Name <<<"$self")"
assert_eq "Member.Addr" 127.0.0.1 "$(jget Member.Addr <<<"$self")"
assert_eq "Member.Port = serf LAN port" "$(agent_serf a1)" "$(jget Member.Port <<<"$self")"
assert_match "Member.Tags is an object" "$(jget Member.Tags <<<"$self")" '^\{'
assert_eq "Member.Tags.role consul (server)" consul "$(jget Member.Tags.role <<<"$self")"
assert_eq "Member.Tags.dc" dc1 "$(jget Member.Tags.dc <<<"$self")"
assert_eq "Member.Status 1 (alive)" 1 "$(jget Member.Status <<<"$self")"
assert_match "Stats is an object" "$(jget Stats <<<"$self")" '^\{'
assert_eq "Meta from node_meta" r1 "$(jget Meta.rack <<<"$self")"

# ---- agent/members
http GET /v1/agent/members
assert_eq "agent/members: 200" 200 "$HTTP_STATUS"
assert_eq "agent/members: this agent alone" 1 "$(jget '#' <<<"$HTTP_BODY")"
assert_eq "members[0].Name" a1 "$(jget 0.Name <<<"$HTTP_BODY")"
assert_eq "members[0].Addr" 127.0.0.1 "$(jget 0.Addr <<<"$HTTP_BODY")"
assert_eq "members[0].Port" "$(agent_serf a1)" "$(jget 0.Port <<<"$HTTP_BODY")"
assert_eq "members[0].Status alive" 1 "$(jget 0.Status <<<"$HTTP_BODY")"
assert_eq "members[0].Tags.role" consul "$(jget 0.Tags.role <<<"$HTTP_BODY")"
for f in ProtocolMin ProtocolMax ProtocolCur DelegateMin DelegateMax DelegateCur; do
    assert_match "members[0].$f integer" "$(jget "0.$f" <<<"$HTTP_BODY")" '^[0-9]+$'
done

# ---- pid file
assert_eq "-pid-file holds the agent PID" "$(agent_pid a1)" "$(tr -d '[:space:]' <"$IT_TMP/a1.pid" 2>/dev/null)"

# ---- reload through the API and SIGHUP
printf 'log_level: debug\nnode_meta:\n  rack: r1\n' >"$cfg"
http PUT /v1/agent/reload
assert_eq "PUT /v1/agent/reload: 200" 200 "$HTTP_STATUS"
assert_true "after API reload: agent running" agent_alive a1
assert_true "after API reload: leader" leader_ready a1
printf 'log_level: warn\nnode_meta:\n  rack: r1\n' >"$cfg"
agent_signal a1 HUP
sleep 0.5
assert_true "after SIGHUP: agent running" agent_alive a1
assert_true "after SIGHUP: leader" leader_ready a1
assert_true "after SIGHUP: KV works" kv_put r/k v

# a broken config on reload: keeps running with the old config, logs an error
log=$(agent_log a1)
lines_before=$(wc -l <"$log")
printf 'log_level: [unclosed\n  bad: : yaml\n' >"$cfg"
http PUT /v1/agent/reload
assert_eq "reload with a broken config: 500" 500 "$HTTP_STATUS"
assert_ne "reload with a broken config: error text" "" "$HTTP_BODY"
assert_true "broken reload: agent running" agent_alive a1
assert_true "broken reload: still serving" leader_ready a1
if tail -n +"$((lines_before + 1))" "$log" | grep -qiE "error|invalid|fail"; then
    ok "broken reload (API): an error is logged"
else fail "broken reload (API): an error is logged" "$(tail -n 5 "$log")"; fi
lines_before=$(wc -l <"$log")
printf 'log_level: info\nbogus_reload_key: 1\n' >"$cfg"
agent_signal a1 HUP
sleep 0.5
assert_true "SIGHUP with an unknown key: agent running" agent_alive a1
assert_true "SIGHUP with an unknown key: still serving" leader_ready a1
if wait_until 3 bash -c "tail -n +$((lines_before + 1)) '$log' | grep -q bogus_reload_key"; then
    ok "broken reload (SIGHUP): error names the key"
else fail "broken reload (SIGHUP): error names the key" "$(tail -n 5 "$log")"; fi
http GET /v1/agent/self
assert_eq "broken reload: old node_meta still in effect" r1 "$(jget Meta.rack <<<"$HTTP_BODY")"
printf 'log_level: info\nnode_meta:\n  rack: r2\n' >"$cfg"
http PUT /v1/agent/reload
assert_eq "reload with a fixed config: 200" 200 "$HTTP_STATUS"
http GET /v1/agent/self
assert_eq "reload applies node_meta" r2 "$(jget Meta.rack <<<"$HTTP_BODY")"

# ---- SIGTERM and SIGINT exit 0
agent_stop a1
assert_eq "SIGTERM: exit 0" 0 "$AGENT_RC"
if agent_restart a1; then
    agent_signal a1 INT
    agent_wait_exit a1 10
    assert_eq "SIGINT: exit 0" 0 "$AGENT_RC"
fi

# ---- config errors: refuse to start, exit 1, name file:line:col
bad=$IT_TMP/bad.yaml
printf 'log_level: info\ndatacenter: dc1\nbogus_key: 1\n' >"$bad"
agent_spawn badcfg -config-file "$bad"
agent_wait_exit badcfg 10; rc=$AGENT_RC
assert_eq "unknown config key: exit 1" 1 "$rc"
out=$(cat "$(agent_log badcfg)")
assert_match "unknown config key: message names file:line:col" "$out" "bad\.yaml:3:[0-9]+"
assert_contains "unknown config key: message names the key" "$out" bogus_key
badj=$IT_TMP/bad.json
printf '{\n  "datacenter": "dc1",\n  "nope_key": true\n}\n' >"$badj"
agent_spawn badjson -config-file "$badj"
agent_wait_exit badjson 10; rc=$AGENT_RC
assert_eq "unknown key in JSON config: exit 1" 1 "$rc"
assert_match "JSON config error names file:line:col" "$(cat "$(agent_log badjson)")" "bad\.json:3:[0-9]+"
printf 'log_level: info\nports: {http: "x"}\n' >"$IT_TMP/badtype.yaml"
agent_spawn badtype -config-file "$IT_TMP/badtype.yaml"
agent_wait_exit badtype 10
assert_eq "wrong value type in config: exit 1" 1 "$AGENT_RC"
printf 'log_level: [\n' >"$IT_TMP/malformed.yaml"
agent_spawn malformed -config-file "$IT_TMP/malformed.yaml"
agent_wait_exit malformed 10
assert_eq "malformed YAML: exit 1" 1 "$AGENT_RC"
agent_spawn missingcfg -config-file "$IT_TMP/does-not-exist.yaml"
agent_wait_exit missingcfg 10
assert_eq "missing config file: exit 1" 1 "$AGENT_RC"
agent_spawn badflag -no-such-flag
agent_wait_exit badflag 10
assert_eq "unknown flag: exit 1" 1 "$AGENT_RC"
agent_spawn badport -http-port notaport
agent_wait_exit badport 10
assert_eq "bad -http-port value: exit 1" 1 "$AGENT_RC"

# missing -data-dir without -dev
mkdir -p "$IT_TMP/nodd"
timeout 10 "$CAIRN" agent -server -bootstrap -node nodd -bind 127.0.0.1 \
    -http-port "$(agent_http badflag)" -raft-port "$(agent_raft badflag)" \
    -serf-lan-port "$(agent_serf badflag)" -server-port "$(agent_server badflag)" \
    -dns-port "$(agent_dns badflag)" >"$IT_TMP/nodd/out" 2>&1 </dev/null
rc=$?
assert_eq "no -data-dir without -dev: exit 1" 1 "$rc"
assert_match "no -data-dir: message mentions the data dir" "$(cat "$IT_TMP/nodd/out")" \
    '[Dd]ata[-_ ]?[Dd]ir'

# ---- -dev with all ports moved by flags
if agent_start dev1 -dev; then
    ok "-dev: leader with ports from flags"
    assert_true "-dev: KV works" kv_put dev/k v
    assert_eq "-dev: value" v "$(kv_raw dev/k)"
    http GET /v1/agent/self
    assert_eq "-dev: server" true "$(jget Config.Server <<<"$HTTP_BODY")"
    assert_eq "-dev: datacenter dc1" dc1 "$(jget Config.Datacenter <<<"$HTTP_BODY")"
    assert_contains "-dev: JSON pretty-printed by default" "$HTTP_BODY" $'{\n    "'
    http GET /v1/kv/dev/k
    assert_match "-dev: KV JSON pretty too" "$HTTP_BODY" $'^\\[\n    \\{'
    agent_stop dev1
    assert_eq "-dev: SIGTERM exit 0" 0 "$AGENT_RC"
    if agent_start dev1 -dev; then
        http GET /v1/kv/dev/k
        assert_eq "-dev: in-memory, nothing kept after restart" 404 "$HTTP_STATUS"
        agent_stop dev1
    fi
fi

finish
