#!/usr/bin/env bash
# Error conventions (spec/consul-api.md §0.1, §0.4, §0.6, §1.2, §1.4) and
# robustness against bad clients: garbage bytes, huge headers, slow and
# disconnecting clients.
. "$(dirname "$0")/lib.sh"
require_binary

agent_start err1 || finish
port=$(agent_http err1)

# ---- routing
for p in /v1/nope /v1/status/nope /v2/kv/x /v1/kvx /nothing; do
    http GET "$p"
    assert_eq "unknown route $p: 404" 404 "$HTTP_STATUS"
    assert_eq "unknown route $p: empty body" 0 "$(stat -c %s "$HTTP_BODY_FILE")"
done
http GET /
if [ "$HTTP_STATUS" = 200 ] || [ "$HTTP_STATUS" = 301 ]; then ok "GET /: 200 or 301"
else fail "GET /: 200 or 301" "got $HTTP_STATUS"; fi

# ---- wrong verb: 405 + Allow + "method X not allowed"
http - /v1/kv/verb -d value        # curl -d without -X PUT sends POST
assert_eq "curl -d (POST) on /v1/kv: 405" 405 "$HTTP_STATUS"
assert_eq "POST: body 'method POST not allowed'" "method POST not allowed" "$HTTP_BODY"
assert_match "405: Content-Type text/plain" "$(hdr Content-Type)" '^text/plain' 
allow=$(hdr Allow)
for v in OPTIONS GET PUT DELETE; do
    assert_contains "405 on kv: Allow lists $v" "$allow" "$v"
done
assert_not_contains "405 on kv: Allow does not list POST" "$allow" POST
http GET /v1/kv/verb
assert_eq "POST wrote nothing" 404 "$HTTP_STATUS"
http PATCH /v1/kv/verb --data-binary x
assert_eq "PATCH on kv: 405" 405 "$HTTP_STATUS"
assert_eq "PATCH: body" "method PATCH not allowed" "$HTTP_BODY"
for pv in "DELETE /v1/status/leader" "PUT /v1/status/peers" "PUT /v1/agent/self" \
          "POST /v1/agent/members" "GET /v1/agent/reload" "GET /v1/txn" "DELETE /v1/txn"; do
    set -- $pv
    http "$1" "$2"
    assert_eq "$1 $2: 405" 405 "$HTTP_STATUS"
    assert_eq "$1 $2: body" "method $1 not allowed" "$HTTP_BODY"
    assert_contains "$1 $2: Allow header with OPTIONS" "$(hdr Allow)" OPTIONS
done
http GET /v1/agent/reload
assert_contains "GET /v1/agent/reload: Allow lists PUT" "$(hdr Allow)" PUT
http OPTIONS /v1/kv/verb
assert_eq "OPTIONS /v1/kv/x: 200" 200 "$HTTP_STATUS"
assert_contains "OPTIONS: Allow header" "$(hdr Allow)" GET
assert_eq "OPTIONS: empty body" 0 "$(stat -c %s "$HTTP_BODY_FILE")"
http OPTIONS /v1/status/leader
assert_eq "OPTIONS /v1/status/leader: 200" 200 "$HTTP_STATUS"
assert_contains "OPTIONS /v1/status/leader: Allow GET" "$(hdr Allow)" GET

# ---- blocking query parameters
kv_put e/k v
for q in 'index=abc' 'index=-1' 'index=18446744073709551616' 'index=1.5' 'index=abc&wait=1s'; do
    http GET "/v1/kv/e/k?$q"
    assert_eq "?$q: 400" 400 "$HTTP_STATUS"
    assert_contains "?$q: Invalid index" "$HTTP_BODY" "Invalid index"
done
for q in 'wait=abc' 'wait=10' 'wait=1x' 'index=1&wait=-' 'index=1&wait=5sec'; do
    http GET "/v1/kv/e/k?$q"
    assert_eq "?$q: 400" 400 "$HTTP_STATUS"
    assert_contains "?$q: Invalid wait time" "$HTTP_BODY" "Invalid wait time"
done
assert_match "400 error: Content-Type text/plain" "$(hdr Content-Type)" '^text/plain'
assert_not_contains "400 error: not JSON" "$HTTP_BODY" '{'
http GET '/v1/kv/e/k?wait=1500ms'
assert_eq "?wait=1500ms without index: 200 at once" 200 "$HTTP_STATUS"
http GET '/v1/kv/e/k?stale&consistent'
assert_eq "?stale&consistent: 400" 400 "$HTTP_STATUS"
assert_contains "?stale&consistent: message" "$HTTP_BODY" \
    "Cannot specify ?stale with ?consistent, conflicting semantics."

# ---- conflicting KV flags
for q in 'cas=0&acquire=abc' 'cas=1&release=abc' 'acquire=abc&release=abc'; do
    http PUT "/v1/kv/e/conflict?$q" --data-binary x
    assert_eq "PUT ?$q: 400" 400 "$HTTP_STATUS"
    assert_match "PUT ?$q: 'Conflicting flags: ...'" "$HTTP_BODY" '^Conflicting flags: '
done
assert_eq "Conflicting flags: trailing newline" 0a "$(tail -c 1 "$HTTP_BODY_FILE" | xxd -p)"
http DELETE '/v1/kv/e/?recurse&cas=1'
assert_eq "DELETE ?recurse&cas: 400" 400 "$HTTP_STATUS"
http GET /v1/kv/e/conflict
assert_eq "conflicting PUTs wrote nothing" 404 "$HTTP_STATUS"
http GET /v1/kv/e/k
assert_eq "DELETE ?recurse&cas deleted nothing" 200 "$HTTP_STATUS"

# ---- missing key name
http PUT /v1/kv/ --data-binary x
assert_eq "PUT /v1/kv/: 400" 400 "$HTTP_STATUS"
assert_contains "PUT /v1/kv/: Missing key name" "$HTTP_BODY" "Missing key name"
http DELETE /v1/kv/
assert_eq "DELETE /v1/kv/ (no recurse): 400" 400 "$HTTP_STATUS"
assert_contains "DELETE /v1/kv/: Missing key name" "$HTTP_BODY" "Missing key name"
http GET /v1/kv/
assert_eq "GET /v1/kv/ (no recurse): 400" 400 "$HTTP_STATUS"
assert_contains "GET /v1/kv/: Missing key name" "$HTTP_BODY" "Missing key name"
http GET /v1/kv/e/k
assert_eq "DELETE /v1/kv/ wiped nothing" 200 "$HTTP_STATUS"
http GET '/v1/kv/?keys'
assert_eq "GET /v1/kv/?keys is fine: 200" 200 "$HTTP_STATUS"

# ---- body size limit
head -c 524289 /dev/zero | tr '\0' 'a' >"$IT_TMP/over"
head -c 524288 /dev/zero | tr '\0' 'b' >"$IT_TMP/exact"
http PUT /v1/kv/e/big --data-binary @"$IT_TMP/over"
assert_eq "PUT 524289 bytes: 413" 413 "$HTTP_STATUS"
assert_contains "413: message" "$HTTP_BODY" \
    "Request body(524289 bytes) too large, max size: 524288 bytes"
http GET /v1/kv/e/big
assert_eq "413: nothing written" 404 "$HTTP_STATUS"
http PUT /v1/kv/e/big --data-binary @"$IT_TMP/exact"
assert_eq "PUT exactly 524288 bytes: 200" 200 "$HTTP_STATUS"
assert_eq "PUT exactly 524288 bytes: true" true "$HTTP_BODY"
http GET '/v1/kv/e/big?raw'
assert_eq "524288-byte value stored whole" 524288 "$(stat -c %s "$HTTP_BODY_FILE")"
http PUT /v1/kv/e/chunked --data-binary @"$IT_TMP/over" -H 'Transfer-Encoding: chunked'
assert_eq "chunked PUT of 524289 bytes: 413" 413 "$HTTP_STATUS"
http PUT /v1/kv/e/chunked --data-binary 'chunky' -H 'Transfer-Encoding: chunked'
assert_eq "small chunked PUT: true" true "$HTTP_BODY"
assert_eq "small chunked PUT: stored" chunky "$(kv_raw e/chunked)"
head -c 4194304 /dev/zero >"$IT_TMP/huge"
http PUT /v1/kv/e/huge --data-binary @"$IT_TMP/huge"
assert_eq "PUT 4 MiB: 413" 413 "$HTTP_STATUS"

# ---- bad flags: 500 with the strconv error (spec §1.2)
for f in abc -1 18446744073709551616 1.5; do
    http PUT "/v1/kv/e/flags?flags=$f" --data-binary x
    assert_eq "flags=$f: 500" 500 "$HTTP_STATUS"
    assert_ne "flags=$f: error text" "" "$HTTP_BODY"
done
http GET /v1/kv/e/flags
assert_eq "bad flags wrote nothing" 404 "$HTTP_STATUS"

# ---- acquire with a session that does not exist: 500 with text
http PUT '/v1/kv/e/lock?acquire=3b2f4a5e-0000-4000-8000-000000000001' --data-binary x
assert_eq "acquire with unknown session: 500" 500 "$HTTP_STATUS"
assert_match "acquire with unknown session: text names the session problem" \
    "$HTTP_BODY" '[Ss]ession'
http GET /v1/kv/e/lock
assert_eq "failed acquire wrote nothing" 404 "$HTTP_STATUS"

# ---- txn bodies
http PUT /v1/txn --data-binary '{not json'
assert_eq "txn malformed JSON: 400" 400 "$HTTP_STATUS"
assert_match "txn malformed JSON: 'Failed to parse body'" "$HTTP_BODY" '^Failed to parse body'
http PUT /v1/txn --data-binary '{"KV":{"Verb":"set","Key":"x"}}'
assert_eq "txn object instead of array: 400" 400 "$HTTP_STATUS"
assert_match "txn object: 'Failed to parse body'" "$HTTP_BODY" '^Failed to parse body'
http PUT /v1/txn --data-binary '[{"KV":{"Verb":"set","Key":"e/txn","Value":"!!!notbase64"}}]'
assert_eq "txn bad base64 Value: 400" 400 "$HTTP_STATUS"
{ printf '[{"KV":{"Verb":"set","Key":"e/txnbig","Value":"'
  head -c 600000 /dev/zero | base64 -w0
  printf '"}}]'; } >"$IT_TMP/txnbig"
http PUT /v1/txn --data-binary @"$IT_TMP/txnbig"
assert_eq "txn body > 512 KiB: 413" 413 "$HTTP_STATUS"
http GET /v1/kv/e/txnbig
assert_eq "oversized txn wrote nothing" 404 "$HTTP_STATUS"

# ---- bad clients do not hurt the agent
alive_and_answering() {
    agent_alive err1 || return 1
    http GET /v1/status/leader
    [ "$HTTP_STATUS" = 200 ] && [[ $HTTP_BODY =~ ^\"[^\"]+\" ]]
}
raw_send() {   # raw_send FILE — write bytes to the HTTP port, then close
    timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && cat \"\$0\" >&3; \
        timeout 1 cat <&3 >/dev/null; exec 3>&-" "$1" 2>/dev/null
}
head -c 65536 /dev/urandom >"$IT_TMP/garbage"
raw_send "$IT_TMP/garbage"
assert_true "random bytes: agent still answers" alive_and_answering
printf 'GET /v1/kv/e/k HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n' >"$IT_TMP/g2"
raw_send "$IT_TMP/g2"
printf 'PUT /v1/kv/e/k HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\nabc' >"$IT_TMP/g3"
raw_send "$IT_TMP/g3"
printf 'PUT /v1/kv/e/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n' >"$IT_TMP/g4"
raw_send "$IT_TMP/g4"
printf 'GET /v1/kv/%%zz%%%%00 HTTP/1.1\r\nHost: x\r\n\r\n' >"$IT_TMP/g5"
raw_send "$IT_TMP/g5"
printf '\x00\x01\x02 / HTTP/9.9\r\n\r\n' >"$IT_TMP/g6"
raw_send "$IT_TMP/g6"
printf 'GET /v1/kv/e/k?index=1&wait=%%FF%%00 HTTP/1.1\r\nHost: x\r\n\r\n' >"$IT_TMP/g7"
raw_send "$IT_TMP/g7"
assert_true "malformed requests (bad length, chunking, escapes, version): agent answers" \
    alive_and_answering
assert_eq "malformed requests did not change e/k" v "$(kv_raw e/k)"
big=$(head -c 200000 /dev/zero | tr '\0' 'h')
http GET /v1/status/leader -H "X-Huge: $big"
case $HTTP_STATUS in 4??|000) ok "200 KB header: refused ($HTTP_STATUS)" ;;
    *) fail "200 KB header: refused" "status $HTTP_STATUS" ;; esac
hdrs=()
for i in $(seq 1 2000); do hdrs+=(-H "X-H$i: $i"); done
http GET /v1/status/leader "${hdrs[@]}"
ok "2000 headers sent (status $HTTP_STATUS)"
http GET "/v1/kv/$(head -c 300000 /dev/zero | tr '\0' 'k')"
ok "300 KB URL sent (status $HTTP_STATUS)"
assert_true "huge headers / URL: agent still answers" alive_and_answering

# a half-sent request does not stall other clients (one event loop)
exec 7<>/dev/tcp/127.0.0.1/"$port"
printf 'GET /v1/status/leader HTTP/1.1\r\nHost: x\r\n' >&7
t0=$(now_ms)
http GET /v1/kv/e/k
t1=$(now_ms)
assert_eq "request during a half-sent one: 200" 200 "$HTTP_STATUS"
assert_num_between "request during a half-sent one: fast (ms)" 0 1000 $((t1 - t0))
exec 7>&-

# many connections opened and dropped at once
pids=()
for i in $(seq 1 100); do
    ( exec 3<>/dev/tcp/127.0.0.1/"$port" && exec 3>&- ) 2>/dev/null &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
assert_true "100 connect+close: agent still answers" alive_and_answering

# ---- clients that disconnect during a blocking query
idx=$(kv_index e/k)
pids=()
for i in $(seq 1 30); do
    curl -s -m 0.5 -o /dev/null "$(url "/v1/kv/e/k?index=$idx&wait=30s")" &
    pids+=($!)
    curl -s -m 0.7 -o /dev/null "$(url "/v1/kv/e/?recurse&index=$idx&wait=30s")" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
assert_true "30+30 blocking clients gone: agent still answers" alive_and_answering
# wake the (dead) waiters: the agent must not touch freed connections
kv_put e/k v2
kv_put e/k2 v2
assert_true "write after dropped waiters: agent still answers" alive_and_answering
assert_eq "write after dropped waiters: stored" v2 "$(kv_raw e/k)"
# and blocking still works afterwards
idx=$(kv_index e/k)
( curl -s -m 10 "$(url "/v1/kv/e/k?raw&index=$idx&wait=8s")" >"$IT_TMP/blk.out" ) &
bp=$!
sleep 0.3
kv_put e/k v3
t0=$(now_ms)
for _ in $(seq 1 50); do pid_alive "$bp" || break; sleep 0.1; done
wait "$bp"
t1=$(now_ms)
assert_eq "blocking after dropped waiters: woken with new value" v3 "$(cat "$IT_TMP/blk.out")"
assert_num_between "blocking after dropped waiters: woken promptly (ms)" 0 2000 $((t1 - t0))

# keep-alive: several requests on one connection
out=$(curl -s -m 10 "$(url /v1/kv/e/k?raw)" "$(url /v1/kv/e/k2?raw)" "$(url /v1/status/leader)")
assert_match "keep-alive: three answers on one connection" "$out" '^v3v2"[^"]+"$'

# ---- the Raft port is taken: refuse to start, saying which address and why
if command -v python3 >/dev/null 2>&1; then
    _agent_ports busyraft || finish   # reserve busyraft's ports, then take its Raft port
    rport=$(agent_raft busyraft)
    python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
print("listening", flush=True); time.sleep(60)' "$rport" >"$IT_TMP/holder.out" 2>&1 &
    hpid=$!; it_track_pid "$hpid"
    holder_up() { grep -q listening "$IT_TMP/holder.out"; }
    assert_eventually "something listens on the Raft port" 10 holder_up
    agent_spawn busyraft
    agent_wait_exit busyraft 15
    assert_ne "Raft port taken: non-zero exit" 0 "$AGENT_RC"
    assert_ne "Raft port taken: exited (not still running)" 124 "$AGENT_RC"
    out=$(cat "$(agent_log busyraft)")
    assert_contains "Raft port taken: the message names the address and the cause" "$out" \
        "raft: cannot listen on 127.0.0.1:$rport: address already in use"
    assert_eq "Raft port taken: no error line with an empty reason" 0 \
        "$(grep -c '^==> raft start: *$' <<<"$out")"
    kill "$hpid" 2>/dev/null
    wait "$hpid" 2>/dev/null
else
    fail "python3 available (Raft port test)" "install python3 (scripts/deps.sh)"
fi

# ---- gossip stream port: watch-ring hellos beyond the cap, garbage on a
# watch, garbage frames. The agent holds at most 256 watches, closes the
# rest and any watch that sends data, and keeps serving.
OUT=$(python3 -c 'import socket, os, sys, time
port = int(sys.argv[1])
socks = []
for i in range(300):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"\0\0\0\0")
    socks.append(s)
time.sleep(0.5)
for s in socks[:20]:
    s.sendall(os.urandom(64))
for junk in (os.urandom(100), b"\xff\xff\xff\xff", b"\0\0\0\x10" + os.urandom(16)):
    j = socket.create_connection(("127.0.0.1", port), timeout=5)
    j.sendall(junk)
    j.close()
time.sleep(0.5)
closed = 0
for s in socks:
    s.setblocking(False)
    try:
        if s.recv(1) == b"":
            closed += 1
    except BlockingIOError:
        pass
    except ConnectionResetError:
        closed += 1
print(closed)' "$(agent_serf err1)" 2>&1)
assert_eq "gossip port: 44 watches over the cap + 20 that sent data closed" 64 "$OUT"
http_to err1 GET /v1/agent/members
assert_eq "gossip port abuse: the agent still answers" 200 "$HTTP_STATUS"

assert_true "agent still running at the end" agent_alive err1
finish
