#!/usr/bin/env bash
# Durability: graceful restart, kill -9 after acknowledged writes, Raft
# snapshots taken and restored across a restart.
. "$(dirname "$0")/lib.sh"
require_binary

# ---- graceful restart keeps every key (and the indexes)
agent_start p1 || finish
n=$(kv_put_many g/ 100 gentle)
assert_eq "100 PUTs acknowledged" 100 "$n"
head -c 2048 /dev/urandom >"$IT_TMP/bin"
kv_put g/bin "$(base64 -w0 <"$IT_TMP/bin")"
http PUT '/v1/kv/g/flags?flags=3304740253564472344' --data-binary f
http PUT /v1/kv/g/empty --data-binary ''
http DELETE /v1/kv/g/7
http GET '/v1/kv/?recurse'
before=$HTTP_BODY
idx_before=$(hdr X-Consul-Index)
http GET /v1/agent/self
nodeid=$(jget Config.NodeID <<<"$HTTP_BODY")
agent_stop p1
assert_eq "SIGTERM: exit status 0" 0 "$AGENT_RC"
if agent_restart p1; then
    ok "restart on the same data dir: leader again"
    http GET '/v1/kv/?recurse'
    assert_eq "restart: every entry identical (values, flags, indexes)" "$before" "$HTTP_BODY"
    idx_after=$(hdr X-Consul-Index)
    if [ "$idx_after" -ge "$idx_before" ] 2>/dev/null; then
        ok "restart: X-Consul-Index not lower ($idx_before -> $idx_after)"
    else fail "restart: X-Consul-Index not lower" "$idx_before -> $idx_after"; fi
    http GET /v1/kv/g/7
    assert_eq "restart: deleted key stays deleted" 404 "$HTTP_STATUS"
    http GET /v1/agent/self
    assert_eq "restart: NodeID kept" "$nodeid" "$(jget Config.NodeID <<<"$HTTP_BODY")"
    assert_true "restart: writes work" kv_put g/after restart
    i2=$(kv_index g/after)
    if [ "$i2" -gt "$idx_after" ] 2>/dev/null; then ok "restart: new writes get higher indexes"
    else fail "restart: new writes get higher indexes" "$idx_after -> $i2"; fi
fi

# ---- kill -9 right after acknowledged PUTs loses nothing (3 rounds)
http GET '/v1/kv/g/?recurse'
gbefore=$HTTP_BODY
for r in 1 2 3; do
    n=$(kv_put_many "crash/r$r/" 200 "round$r")
    agent_kill9 p1
    assert_eq "round $r: 200 PUTs acknowledged before kill -9" 200 "$n"
    if agent_restart p1; then
        for q in $(seq 1 "$r"); do
            assert_eq "round $r: after kill -9 + restart all 200 keys of round $q" 200 \
                "$(kv_check_many "crash/r$q/" 200 "round$q")"
        done
        http GET '/v1/kv/g/?recurse'
        assert_eq "round $r: earlier keys (g/) identical" "$gbefore" "$HTTP_BODY"
    else
        break
    fi
done

# ---- kill -9 in the middle of a stream of writes: every acknowledged PUT
# survives (the writes are sequential, so the acknowledged ones are a prefix)
if agent_alive p1; then
    kv_put_lines mid/ 3000 mid >"$IT_TMP/mid.out" &
    wp=$!
    sleep 0.4
    agent_kill9 p1
    wait "$wp"
    acked=$(grep -c '^true$' "$IT_TMP/mid.out")
    prefix_acked=$(awk '$0 != "true" { exit } { n++ } END { print n + 0 }' "$IT_TMP/mid.out")
    assert_eq "mid-stream kill: acknowledged PUTs form a prefix" "$acked" "$prefix_acked"
    if [ "$acked" -gt 0 ] && [ "$acked" -lt 3000 ]; then ok "mid-stream kill: $acked of 3000 acknowledged"
    else fail "mid-stream kill: the kill landed during the stream" "$acked of 3000 acknowledged"; fi
    if agent_restart p1; then
        assert_eq "mid-stream kill: all $acked acknowledged PUTs survive" "$acked" \
            "$(kv_check_many mid/ "$acked" mid)"
        http GET "/v1/kv/mid/$((acked + 1))"
        assert_eq "mid-stream kill: nothing beyond the first unacknowledged PUT" 404 "$HTTP_STATUS"
    fi
fi
agent_stop p1

# ---- Raft snapshot taken and restored across restarts
cfg=$IT_TMP/snap.yaml
started=""
for th in 64 128 256 512 1024; do
    printf 'raft_snapshot_threshold: %s\nraft_trailing_logs: 16\n' "$th" >"$cfg"
    agent_spawn s1 -config-file "$cfg"
    if agent_wait_ready s1 10; then started=$th; break; fi
    agent_stop s1
    rm -rf "$(agent_data s1)"
done
if [ -z "$started" ]; then
    fail "agent starts with a low raft_snapshot_threshold" \
        "$(tail -n 5 "$(agent_log s1)")"
    finish
fi
ok "agent starts with raft_snapshot_threshold: $started, raft_trailing_logs: 16"
n=$(kv_put_many s/ 500 snap)
assert_eq "500 PUTs acknowledged" 500 "$n"
snaps() { find "$(agent_data s1)" -name 'snapshot-*' 2>/dev/null | grep -c .; }
wait_until 15 bash -c "[ \$(find '$(agent_data s1)' -name 'snapshot-*' | grep -c .) -gt 0 ]"
sn=$(snaps)
if [ "$sn" -gt 0 ]; then ok "a snapshot file appeared in the data dir ($sn files)"
else fail "a snapshot file appeared in the data dir" "$(find "$(agent_data s1)" | head -20)"; fi
http GET '/v1/kv/s/?recurse'
sbefore=$HTTP_BODY
agent_stop s1
assert_eq "snapshot agent: SIGTERM exit 0" 0 "$AGENT_RC"
if agent_restart s1; then
    assert_eq "restored from snapshot: all 500 keys with their values" 500 \
        "$(kv_check_many s/ 500 snap)"
    http GET '/v1/kv/s/?recurse'
    assert_eq "restored from snapshot: entries identical (indexes too)" "$sbefore" "$HTTP_BODY"
    # more writes after the restore, then a crash: snapshot + log replay
    n=$(kv_put_many s2/ 300 more)
    assert_eq "300 more PUTs acknowledged" 300 "$n"
    agent_kill9 s1
    if agent_restart s1; then
        assert_eq "after kill -9: 500 snapshot-era keys" 500 "$(kv_check_many s/ 500 snap)"
        assert_eq "after kill -9: 300 later keys" 300 "$(kv_check_many s2/ 300 more)"
        assert_true "after kill -9: writes work" kv_put s/final x
    fi
    agent_stop s1
    assert_eq "snapshot agent: final SIGTERM exit 0" 0 "$AGENT_RC"
fi
finish
