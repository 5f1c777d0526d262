#!/usr/bin/env bash
# A three-agent encrypted cluster on one machine: one server (node-1) and
# two clients, gossiping on 127.0.0.1 with a fresh key. Prints the member
# list as each agent sees it and the catalog, then keeps running until
# Ctrl-C (or exits at once with ONESHOT=1). Run from anywhere after `make`.
set -eu
cd "$(dirname "$0")/.."
bin=./build/cairn
[ -x "$bin" ] || make >/dev/null
base=${PORT_BASE:-18900}
dir=$(mktemp -d /tmp/cairn-cluster.XXXXXX)
key=$("$bin" keygen)
pids=()
cleanup() {
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM

start() { # start N [extra flags]
    local n=$1; shift
    local p=$((base + 10 * n))
    "$bin" agent -node "node-$n" -data-dir "$dir/node-$n" -bind 127.0.0.1 \
        -http-port "$p" -raft-port $((p + 1)) -server-port $((p + 2)) \
        -serf-lan-port $((p + 3)) -dns-port $((p + 4)) -encrypt "$key" "$@" \
        >"$dir/node-$n.log" 2>&1 &
    pids+=($!)
}
start 1 -server -bootstrap
sleep 1
start 2 -join 127.0.0.1:$((base + 13))
start 3 -join 127.0.0.1:$((base + 13))

echo "gossip key: $key (logs in $dir)"
for _ in $(seq 50); do   # up to 5 s for everyone to see everyone
    n=$(curl -s "127.0.0.1:$((base + 30))/v1/agent/members" | grep -o '"Status":1' | wc -l)
    [ "$n" -ge 3 ] && break
    sleep 0.1
done
for n in 1 2 3; do
    echo "== members as node-$n sees them"
    CAIRN_HTTP_ADDR=127.0.0.1:$((base + 10 * n)) "$bin" members
done
echo "== catalog nodes (from the server)"
CAIRN_HTTP_ADDR=127.0.0.1:$((base + 10)) "$bin" catalog nodes
[ "${ONESHOT:-0}" = 1 ] && exit 0
echo "running; Ctrl-C stops all three"
wait
