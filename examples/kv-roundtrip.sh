#!/usr/bin/env bash
# Start a dev agent on spare ports, write and read keys with curl and the
# CLI, then stop it. Run from the repository root after `make`.
set -eu
cd "$(dirname "$0")/.."
port=${PORT:-18650}
./cairn agent -dev -http-port "$port" -raft-port $((port + 3)) >/tmp/cairn-example.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
for _ in $(seq 50); do
    curl -sf "127.0.0.1:$port/v1/status/leader" | grep -q . && break
    sleep 0.1
done
addr=127.0.0.1:$port
curl -s -X PUT --data-binary 'hello world' "$addr/v1/kv/app/greeting"; echo
curl -s -X PUT --data-binary '8080' "$addr/v1/kv/app/port"; echo
curl -s "$addr/v1/kv/app?recurse"; echo
CAIRN_HTTP_ADDR=$addr ./cairn kv get app/greeting
CAIRN_HTTP_ADDR=$addr ./cairn kv get -recurse app
CAIRN_HTTP_ADDR=$addr ./cairn kv export app
