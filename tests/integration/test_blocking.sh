#!/usr/bin/env bash
# Blocking queries on KV (spec/consul-api.md §0.4).
. "$(dirname "$0")/lib.sh"
require_binary

agent_start blk1 || finish

# bg_get NAME PATH — start a GET in the background; writes NAME.body,
# NAME.hdr and NAME.end (end time in ms). bg_wait NAME SECS waits (bounded).
bg_get() {
    local n=$1 path=$2
    now_ms >"$IT_TMP/$n.start"
    ( curl -s -m 30 -o "$IT_TMP/$n.body" -D "$IT_TMP/$n.hdr" -w '%{http_code}' \
        "$(url "$path")" >"$IT_TMP/$n.code" 2>/dev/null
      now_ms >"$IT_TMP/$n.end" ) &
    eval "BG_$n=$!"
}
bg_wait() {
    local n=$1 secs=$2 pid i
    eval "pid=\$BG_$n"
    for (( i = 0; i < secs * 20; i++ )); do
        pid_alive "$pid" || break
        sleep 0.05
    done
    if pid_alive "$pid"; then return 1; fi
    wait "$pid" 2>/dev/null
    return 0
}
bg_done() { local pid; eval "pid=\$BG_$1"; ! pid_alive "$pid"; }
bg_index() {
    awk 'tolower($1) == "x-consul-index:" { gsub(/\r/, ""); print $2 }' "$IT_TMP/$1.hdr"
}
bg_elapsed() { echo $(( $(cat "$IT_TMP/$1.end") - $(cat "$IT_TMP/$1.start") )); }

# ---- index=0 or absent answers at once
kv_put b/key one
idx=$(kv_index b/key)
t0=$(now_ms)
http GET '/v1/kv/b/key?index=0&wait=5s'
t1=$(now_ms)
assert_eq "index=0: 200" 200 "$HTTP_STATUS"
assert_num_between "index=0: answers at once (ms)" 0 500 $((t1 - t0))
t0=$(now_ms)
http GET "/v1/kv/b/key?index=$((idx - 1))&wait=5s"
t1=$(now_ms)
assert_num_between "index below current: answers at once (ms)" 0 500 $((t1 - t0))
assert_eq "index below current: current index returned" "$idx" "$(hdr X-Consul-Index)"

# ---- blocks until a write to the key, wakes within ~1 s of the write
bg_get w1 "/v1/kv/b/key?index=$idx&wait=20s"
sleep 1
if bg_done w1; then fail "blocking GET still waiting after 1 s" "returned early: $(cat "$IT_TMP/w1.code")"
else ok "blocking GET still waiting after 1 s"; fi
tw=$(now_ms)
kv_put b/key two
if bg_wait w1 5; then
    d=$(( $(cat "$IT_TMP/w1.end") - tw ))
    assert_num_between "woken by the write within 1 s (ms after write)" 0 1000 "$d"
    assert_eq "woken: 200" 200 "$(cat "$IT_TMP/w1.code")"
    nidx=$(bg_index w1)
    if [ "$nidx" -gt "$idx" ] 2>/dev/null; then ok "woken: higher X-Consul-Index ($idx -> $nidx)"
    else fail "woken: higher X-Consul-Index" "$idx -> $nidx"; fi
    assert_eq "woken: body has the new value" "$(b64 two)" "$(jget 0.Value <"$IT_TMP/w1.body")"
else
    fail "woken by the write within 5 s" "still blocked"
fi

# ---- no change: returns after wait (+ up to wait/16 jitter) with the same index
idx=$(kv_index b/key)
bg_get t1 "/v1/kv/b/key?index=$idx&wait=1s"
if bg_wait t1 5; then
    e=$(bg_elapsed t1)
    # 1 s + 1/16 s jitter + 250 ms slack for curl/process start
    assert_num_between "wait=1s: returns after 1.0-1.31 s (ms)" 950 1310 "$e"
    assert_eq "wait=1s timeout: 200" 200 "$(cat "$IT_TMP/t1.code")"
    assert_eq "wait=1s timeout: same index" "$idx" "$(bg_index t1)"
    assert_eq "wait=1s timeout: current data" "$(b64 two)" "$(jget 0.Value <"$IT_TMP/t1.body")"
else
    fail "wait=1s returns" "still blocked after 5 s"
fi
bg_get t2 "/v1/kv/b/key?index=$idx&wait=1500ms"
if bg_wait t2 5; then
    assert_num_between "wait=1500ms (Go duration syntax): 1.45-1.85 s (ms)" 1450 1850 "$(bg_elapsed t2)"
else fail "wait=1500ms returns" "still blocked"; fi

# ---- prefix (recurse) blocking wakes on a delete under the prefix
kv_put p/a 1; kv_put p/b 2; kv_put q/other 3
http GET '/v1/kv/p/?recurse'
pidx=$(hdr X-Consul-Index)
bg_get r1 "/v1/kv/p/?recurse&index=$pidx&wait=20s"
sleep 0.5
if bg_done r1; then fail "recurse blocking waits" "returned early"; else ok "recurse blocking waits"; fi
tw=$(now_ms)
http DELETE /v1/kv/p/a
if bg_wait r1 5; then
    assert_num_between "recurse: woken by a delete under the prefix (ms)" 0 1000 \
        $(( $(cat "$IT_TMP/r1.end") - tw ))
    nidx=$(bg_index r1)
    if [ "$nidx" -gt "$pidx" ] 2>/dev/null; then ok "recurse after delete: higher index ($pidx -> $nidx)"
    else fail "recurse after delete: higher index" "$pidx -> $nidx"; fi
    assert_eq "recurse after delete: only p/b left" p/b "$(jget '*.Key' <"$IT_TMP/r1.body")"
else
    fail "recurse: woken by a delete under the prefix" "still blocked after 5 s"
fi

# keys listing blocks too and wakes on a new key
http GET '/v1/kv/p/?keys'
kidx=$(hdr X-Consul-Index)
bg_get k1 "/v1/kv/p/?keys&index=$kidx&wait=20s"
sleep 0.3
kv_put p/c 3
if bg_wait k1 5; then
    assert_eq "keys blocking: woken with the new key" '["p/b","p/c"]' "$(jget '' <"$IT_TMP/k1.body")"
else fail "keys blocking: woken by a new key" "still blocked"; fi

# a missing key blocks and wakes when it is created
idx=$(kv_index b/later)
bg_get m1 "/v1/kv/b/later?index=$idx&wait=20s"
sleep 0.3
if bg_done m1; then fail "missing key: blocks" "returned $(cat "$IT_TMP/m1.code")"; else ok "missing key: blocks"; fi
kv_put b/later now
if bg_wait m1 5; then
    assert_eq "missing key: woken by its creation with 200" 200 "$(cat "$IT_TMP/m1.code")"
else fail "missing key: woken by its creation" "still blocked"; fi

# ---- a query on key A is not woken by a write to key B (Consul watches the key)
kv_put iso/a A
idx=$(kv_index iso/a)
bg_get i1 "/v1/kv/iso/a?index=$idx&wait=2s"
sleep 0.3
kv_put iso/b B
kv_put other/b B
if bg_wait i1 6; then
    assert_num_between "A not woken by writes to B: returns at its wait (ms)" 1900 2500 "$(bg_elapsed i1)"
    assert_eq "A after timeout: its value" "$(b64 A)" "$(jget 0.Value <"$IT_TMP/i1.body")"
else fail "A returns at its wait" "still blocked"; fi
# a prefix query on p/ is not woken by writes outside p/
http GET '/v1/kv/p/?recurse'
pidx=$(hdr X-Consul-Index)
bg_get i2 "/v1/kv/p/?recurse&index=$pidx&wait=2s"
sleep 0.3
kv_put pp/outside x
kv_put q/outside x
if bg_wait i2 6; then
    assert_num_between "p/ not woken by writes outside p/ (ms)" 1900 2500 "$(bg_elapsed i2)"
else fail "p/ returns at its wait" "still blocked"; fi

# ---- many parked queries wake together on one write
idx=$(kv_index many/k)
for i in $(seq 1 50); do bg_get "n$i" "/v1/kv/many/k?index=$idx&wait=20s"; done
sleep 1
tw=$(now_ms)
kv_put many/k go
late=0; stuck=0
for i in $(seq 1 50); do
    if bg_wait "n$i" 5; then
        [ "$(( $(cat "$IT_TMP/n$i.end") - tw ))" -le 1500 ] || late=$((late + 1))
        [ "$(cat "$IT_TMP/n$i.code")" = 200 ] || stuck=$((stuck + 1))
    else stuck=$((stuck + 1)); fi
done
assert_eq "50 parked queries: all answered 200" 0 "$stuck"
assert_eq "50 parked queries: all within 1.5 s of the write" 0 "$late"

# ---- concurrent waits end in deadline order, each on time
idx=$(kv_index b/key)
bg_get d1 "/v1/kv/b/key?index=$idx&wait=1500ms"
bg_get d2 "/v1/kv/b/key?index=$idx&wait=500ms"
bg_get d3 "/v1/kv/b/key?index=$idx&wait=1s"
for n in d1 d2 d3; do bg_wait "$n" 5 || fail "$n returns" "still blocked"; done
assert_num_between "mixed waits: 500ms one (ms)" 450 850 "$(bg_elapsed d2)"
assert_num_between "mixed waits: 1s one (ms)" 950 1400 "$(bg_elapsed d3)"
assert_num_between "mixed waits: 1500ms one (ms)" 1450 1900 "$(bg_elapsed d1)"

# ---- client index ahead of the server answers at once (spec §0.4 recommendation)
idx=$(kv_index b/key)
t0=$(now_ms)
http GET "/v1/kv/b/key?index=$((idx + 1000000))&wait=5s"
t1=$(now_ms)
assert_num_between "index ahead of the store: answers at once (ms)" 0 1000 $((t1 - t0))

# ---- wait is capped (10m) and a huge wait still answers on change
idx=$(kv_index b/key)
bg_get c1 "/v1/kv/b/key?index=$idx&wait=100h"
sleep 0.3
if bg_done c1; then fail "wait=100h: accepted and blocks" "returned $(cat "$IT_TMP/c1.code")"
else ok "wait=100h: accepted and blocks"; fi
kv_put b/key three
if bg_wait c1 5; then assert_eq "wait=100h: woken by a write" 200 "$(cat "$IT_TMP/c1.code")"
else fail "wait=100h: woken by a write" "still blocked"; fi

# ---- parked queries wait off libmicrohttpd (api/http_park.c); the
# connection semantics must not change
port=$(agent_http blk1)
bq() { curl -s -m 5 "$(url /v1/agent/self)" | jget Stats.agent.blocking_queries; }
# rawq NAME — send stdin as is on a new connection and save all it gets
# until the agent closes it (bounded: 10 s) in NAME.raw, without \r
rawq() {
    local n=$1
    ( exec 7<>"/dev/tcp/127.0.0.1/$port" || exit 1
      cat >&7
      timeout 10 cat <&7 | tr -d '\r' >"$IT_TMP/$n.raw" ) 2>/dev/null
}

# counted while parked, freed at once when the client hangs up
idx=$(kv_index b/key)
cpids=()
for i in $(seq 1 20); do
    curl -s -m 1 -o /dev/null "$(url "/v1/kv/b/key?index=$idx&wait=30s")" &
    cpids+=($!)
done
sleep 0.5
assert_eq "20 parked queries: blocking_queries" 20 "$(bq)"
for p in "${cpids[@]}"; do wait "$p"; done
sleep 0.2
assert_eq "20 clients hung up: blocking_queries 0 within 200 ms" 0 "$(bq)"

# keep-alive: the connection of an answered query serves the next request
out=$(curl -s -m 10 -w ' %{num_connects}\n' \
    "$(url "/v1/kv/b/key?raw&index=$idx&wait=300ms")" "$(url /v1/kv/b/key?raw)")
assert_eq "keep-alive after a parked query (timeout): both answered on one connection" \
    "three 1
three 0" "$out"
( curl -s -m 10 -w ' %{num_connects}\n' "$(url "/v1/kv/b/key?raw&index=$idx&wait=20s")" \
    "$(url /v1/kv/b/key?raw)" >"$IT_TMP/ka.out" ) &
kp=$!
sleep 0.3
kv_put b/key four
for _ in $(seq 1 50); do pid_alive "$kp" || break; sleep 0.1; done
wait "$kp"
assert_eq "keep-alive after a parked query (woken): both answered on one connection" \
    "four 1
four 0" "$(cat "$IT_TMP/ka.out")"

# a request pipelined behind a parked query is answered after it, in order
idx=$(kv_index b/key)
printf 'GET /v1/kv/b/key?raw&index=%s&wait=300ms HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/status/leader HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' \
    "$idx" | rawq pipe
assert_eq "pipelined behind a parked query: two answers" 2 "$(grep -o 'HTTP/1.1 200 OK' "$IT_TMP/pipe.raw" | wc -l)"
assert_match "pipelined behind a parked query: in order" "$(tr -d '\n' <"$IT_TMP/pipe.raw")" \
    '^HTTP/1.1 200 OK.*X-Consul-Index: '"$idx"'.*four(HTTP/1.1 200 OK).*"127\.0\.0\.1:[0-9]+"$'

# HTTP/1.0: answered, then closed
printf 'GET /v1/kv/b/key?raw&index=%s&wait=300ms HTTP/1.0\r\n\r\n' "$idx" | rawq h10
assert_match "HTTP/1.0 parked query: answered and closed" "$(tr '\n' '|' <"$IT_TMP/h10.raw")" \
    '^HTTP/1.1 200 OK\|.*Connection: close\|.*\|\|four$'

# a reply larger than the socket buffer, to a client that does not read
# at first, arrives whole
head -c 400000 /dev/zero | tr '\0' x >"$IT_TMP/big"
for i in $(seq 1 20); do
    curl -s -m 10 -X PUT --data-binary @"$IT_TMP/big" "$(url "/v1/kv/big/$i")" >/dev/null
done
http GET '/v1/kv/big/?keys'
bidx=$(hdr X-Consul-Index)
( exec 7<>"/dev/tcp/127.0.0.1/$port" &&
  printf 'GET /v1/kv/big/?recurse&index=%s&wait=20s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' "$bidx" >&7 &&
  sleep 1.5 && timeout 10 cat <&7 >"$IT_TMP/big.raw" ) 2>/dev/null &
bp=$!
sleep 0.3
kv_put big/0 y
wait "$bp"
clen=$(awk 'BEGIN { RS = "\r\n" } tolower($1) == "content-length:" { print $2; exit }' "$IT_TMP/big.raw")
hlen=$(perl -e 'local $/; my $d = <STDIN>; print index($d, "\r\n\r\n") + 4' <"$IT_TMP/big.raw")
assert_num_between "big parked reply: Content-Length over 10 MB" 10000000 20000000 "${clen:-0}"
assert_eq "big parked reply: the whole body arrives" "$clen" "$(( $(wc -c <"$IT_TMP/big.raw") - hlen ))"

assert_true "agent still running" agent_alive blk1

# ---- limits.http_max_conns_per_client counts parked queries too
printf '{ "limits": { "http_max_conns_per_client": 4 } }\n' >"$IT_TMP/lim.json"
agent_start blk2 -config-file "$IT_TMP/lim.json" || finish
kv_put l/k v
idx=$(kv_index l/k)
lpids=()
for i in 1 2 3 4; do
    curl -s -m 20 -o /dev/null "$(url "/v1/kv/l/k?index=$idx&wait=15s")" &
    lpids+=($!)
    # the 4th connection reads the count while 3 are parked
    [ "$i" = 3 ] && sleep 0.5 && assert_eq "per-client limit: 3 parked, a 4th connection answered" 3 \
        "$(curl -s -m 5 "$(url /v1/agent/self)" | jget Stats.agent.blocking_queries)"
done
sleep 0.5
http GET /v1/status/leader
assert_eq "per-client limit: a 5th connection is refused" 000 "$HTTP_STATUS"
kill "${lpids[0]}" 2>/dev/null; wait "${lpids[0]}" 2>/dev/null
sleep 0.3
http GET /v1/status/leader
assert_eq "per-client limit: room again once a parked client left" 200 "$HTTP_STATUS"

# ---- shutdown answers parked queries
bg_get s1 "/v1/kv/l/k?raw&index=$idx&wait=30s"
sleep 0.3
agent_stop blk2
assert_eq "shutdown: agent exits 0 with parked queries" 0 "$AGENT_RC"
if bg_wait s1 5; then
    assert_eq "shutdown: parked query answered 200" 200 "$(cat "$IT_TMP/s1.code")"
    assert_eq "shutdown: parked query answered with the value" v "$(cat "$IT_TMP/s1.body")"
else fail "shutdown: parked query answered" "still waiting"; fi
for p in "${lpids[@]:1}"; do wait "$p" 2>/dev/null; done

finish
