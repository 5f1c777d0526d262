#!/usr/bin/env bash
# Graceful shutdown under load: with thousands of services (and their Raft
# entries) written, SIGTERM must still give a clean exit 0 and lose
# nothing. (c-raft 0.15 ran its close callback twice here: a double free at
# exit, caught by ASan and by glibc as "double free or corruption".)
. "$(dirname "$0")/lib.sh"
require_binary

N=${SHUTDOWN_SERVICES:-3000}
agent_start s1 || finish
port=$(agent_http s1)
cfg=$IT_TMP/reg.cfg
for i in $(seq 1 "$N"); do
    printf 'url = "http://127.0.0.1:%s/v1/agent/service/register"\nrequest = "PUT"\n' "$port"
    printf 'data-binary = "{\\"Name\\":\\"svc-%d\\",\\"Port\\":%d,\\"Check\\":{\\"TTL\\":\\"10m\\",\\"Status\\":\\"passing\\"}}"\n' "$i" $((1000 + i % 60000))
    printf 'output = "/dev/null"\nnext\n'
done >"$cfg"
curl -s -K "$cfg" >/dev/null 2>&1
in_catalog() {
    http GET /v1/catalog/services
    [ "$(grep -o '"svc-[0-9]*"' <<<"$HTTP_BODY" | wc -l)" -ge "$N" ]
}
assert_eventually "all $N services in the catalog" 60 in_catalog
sleep 2 # let anti-entropy and TTL bookkeeping keep Raft busy a moment
agent_stop s1
assert_eq "SIGTERM with $N services: exit 0" 0 "$AGENT_RC"
if grep -qE 'double free|AddressSanitizer|corruption' "$(agent_log s1)"; then
    fail "no memory error at shutdown" "$(grep -m3 -E 'double free|AddressSanitizer|corruption' "$(agent_log s1)")"
else
    ok "no memory error at shutdown"
fi
if agent_restart s1; then
    http GET /v1/agent/services
    assert_eq "restart: all $N API registrations restored" "$N" \
        "$(grep -o '"ID":"svc-[0-9]*"' <<<"$HTTP_BODY" | wc -l)"
    assert_eventually "restart: all $N services in the catalog again" 60 in_catalog
    agent_stop s1
    assert_eq "second SIGTERM: exit 0" 0 "$AGENT_RC"
fi

# ---- kill -9 right after acknowledged registrations: none is lost (each
# registration is answered only once it is on disk)
agent_start k1 || finish
kport=$(agent_http k1)
acked=0
for i in $(seq 1 300); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT \
        --data "{\"Name\":\"k-$i\",\"Check\":{\"TTL\":\"1m\"}}" \
        "http://127.0.0.1:$kport/v1/agent/service/register")
    [ "$code" = 200 ] && acked=$((acked + 1))
done
agent_kill9 k1
assert_eq "300 registrations acknowledged" 300 "$acked"
if agent_restart k1; then
    http GET /v1/agent/services
    assert_eq "kill -9: every acknowledged registration restored" "$acked" \
        "$(grep -o '"ID":"k-[0-9]*"' <<<"$HTTP_BODY" | wc -l)"
    http GET /v1/agent/checks
    assert_eq "kill -9: their checks restored" "$acked" \
        "$(grep -o '"CheckID":"service:k-[0-9]*"' <<<"$HTTP_BODY" | wc -l)"
    agent_stop k1
fi
finish
