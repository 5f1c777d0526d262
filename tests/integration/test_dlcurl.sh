#!/usr/bin/env bash
# libcurl is loaded on first use (agent/dlcurl.h): an idle agent, or one
# with only TTL/TCP checks, maps neither libcurl nor OpenSSL; the first
# HTTP check loads it and works. When it cannot be loaded (CAIRN_LIBCURL
# naming a missing file) an HTTP check turns critical with the cause as
# output while the agent goes on, and the CLI prints the cause and exits
# non-zero.
. "$(dirname "$0")/lib.sh"
require_binary

maps_have() { grep -q "$2" "/proc/$(agent_pid "$1")/maps" 2>/dev/null; }
maps_lack() { ! maps_have "$@"; }
chks() { http GET /v1/agent/checks; printf '%s' "$HTTP_BODY"; }
check_status() { chks | jget "$1.Status" 2>/dev/null; }
check_output() { chks | jget "$1.Output" 2>/dev/null; }
check_is() { [ "$(check_status "$1")" = "$2" ]; }
output_has() { [[ $(check_output "$1") == *"$2"* ]]; }
reg() {   # reg DESC JSON
    jhttp PUT /v1/agent/service/register "$2"
    assert_eq "$1: registered" 200 "$HTTP_STATUS"
}

# ---- an agent without HTTP checks never maps libcurl
agent_start d1 || finish
sleep 1   # a little idle time: nothing loads it later either
assert_true "idle agent: libcurl not mapped" maps_lack d1 libcurl
assert_true "idle agent: OpenSSL not mapped" maps_lack d1 libssl
assert_true "idle agent: libcrypto not mapped" maps_lack d1 libcrypto
# libmicrohttpd is linked from its static archive without TLS (api/mhd_notls.c)
assert_true "idle agent: GnuTLS not mapped" maps_lack d1 libgnutls
assert_true "idle agent: no shared libmicrohttpd" maps_lack d1 libmicrohttpd
http_to d1 GET /v1/status/leader
assert_eq "idle agent: HTTP API answers" 200 "$HTTP_STATUS"
echo "# idle agent $(grep VmRSS "/proc/$(agent_pid d1)/status" | tr -s ' \t' ' ')"

reg "TTL check" '{"Name":"ttl","Check":{"TTL":"1h","Status":"passing"}}'
reg "TCP check" "{\"Name\":\"tcp\",\"Check\":{\"TCP\":\"127.0.0.1:$(agent_http d1)\",\"Interval\":\"1s\"}}"
assert_eventually "TCP check passing" 5 check_is service:tcp passing
assert_true "TTL + TCP checks: libcurl still not mapped" maps_lack d1 libcurl

# ---- the first HTTP check loads it, and works
reg "HTTP check" "{\"Name\":\"web\",\"Check\":{\"HTTP\":\"http://127.0.0.1:$(agent_http d1)/v1/status/leader\",\"Interval\":\"1s\"}}"
assert_eventually "HTTP check passing" 5 check_is service:web passing
assert_contains "HTTP check output" "$(check_output service:web)" "HTTP GET http://127.0.0.1:$(agent_http d1)/v1/status/leader: 200 OK"
assert_true "after an HTTP check: libcurl mapped" maps_have d1 libcurl
# a second one shares the loaded library and the multi handle
reg "second HTTP check" "{\"Name\":\"web2\",\"Check\":{\"HTTP\":\"http://127.0.0.1:$(agent_http d1)/v1/agent/self\",\"Interval\":\"1s\"}}"
assert_eventually "second HTTP check passing" 5 check_is service:web2 passing
jhttp PUT /v1/agent/service/deregister/web ''
assert_eq "HTTP check deregistered" 200 "$HTTP_STATUS"
assert_eventually "remaining HTTP check still passes" 3 check_is service:web2 passing

# ---- the CLI uses it too
CAIRN_HTTP_ADDR=127.0.0.1:$(agent_http d1) timeout 20 "$CAIRN" kv put dl/a hello >/dev/null 2>&1
assert_eq "CLI with libcurl: kv put exit 0" 0 "$?"
agent_stop d1

# ---- libcurl missing: the HTTP check names the cause, the agent goes on
MISSING=/nonexistent/libcurl-missing.so.4
CAIRN_LIBCURL=$MISSING agent_start d2 || finish
reg "HTTP check without libcurl" "{\"Name\":\"web\",\"Check\":{\"HTTP\":\"http://127.0.0.1:$(agent_http d2)/v1/status/leader\",\"Interval\":\"1s\"}}"
assert_eventually "HTTP check without libcurl: output names the cause" 5 \
    output_has service:web "cannot load libcurl: $MISSING"
assert_eq "HTTP check without libcurl: critical" critical "$(check_status service:web)"
assert_contains "HTTP check without libcurl: output" "$(check_output service:web)" \
    "HTTP check cannot run: cannot load libcurl: $MISSING: cannot open shared object file"
assert_contains "agent log names the cause" "$(cat "$(agent_log d2)")" "cannot load libcurl: $MISSING"
reg "TTL check still fine" '{"Name":"ttl","Check":{"TTL":"1h","Status":"passing"}}'
assert_eq "TTL check passing" passing "$(check_status service:ttl)"
assert_true "agent alive" agent_alive d2
jhttp PUT /v1/agent/service/deregister/web ''
assert_eq "HTTP check without libcurl: deregistered" 200 "$HTTP_STATUS"
agent_stop d2
assert_eq "agent without libcurl: clean exit" 0 "$AGENT_RC"

# ---- libcurl missing: the CLI says so and exits non-zero
CAIRN_LIBCURL=$MISSING timeout 20 "$CAIRN" members -http-addr 127.0.0.1:1 \
    >"$IT_TMP/out" 2>"$IT_TMP/err" </dev/null
RC=$?
assert_eq "CLI without libcurl: exit 1" 1 "$RC"
assert_eq "CLI without libcurl: message" \
    "Error connecting to Consul agent: cannot load libcurl: $MISSING: cannot open shared object file: No such file or directory" \
    "$(cat "$IT_TMP/err")"
CAIRN_LIBCURL=libm.so.6 timeout 20 "$CAIRN" kv get -http-addr 127.0.0.1:1 x \
    >"$IT_TMP/out" 2>"$IT_TMP/err" </dev/null
RC=$?
assert_eq "CLI with a non-curl library: exit 1" 1 "$RC"
assert_contains "CLI with a non-curl library: message" "$(cat "$IT_TMP/err")" \
    "cannot load libcurl: libm.so.6 has no curl_global_init"

finish
