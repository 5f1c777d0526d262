#!/usr/bin/env bash
# Check runners on a live agent (spec/consul-api.md §2.5 check semantics,
# §2.8): HTTP checks against a test server on 127.0.0.1 whose answer the
# test flips (200 passing, 429 warning, 500 critical, too slow critical,
# Method/Header/Body sent), TCP checks against a listener the test closes,
# TTL expiry, script checks (exit 0/1/2, Args/ScriptArgs/script_args,
# stdout+stderr captured and capped, killed at Timeout), script checks from
# a config file with enable_local_script_checks, SuccessBeforePassing /
# FailuresBeforeWarning / FailuresBeforeCritical, and
# DeregisterCriticalServiceAfter (min 1m, reaper every 30 s) removing a
# service.
. "$(dirname "$0")/lib.sh"
require_binary

if ! command -v python3 >/dev/null 2>&1; then
    fail "python3 available for the test servers" "install python3 (scripts/deps.sh)"
    finish
fi

SRV=$IT_TMP/srv
mkdir -p "$SRV"

# ---- test servers (python3), stopped by PID
cat >"$IT_TMP/httpsrv.py" <<'EOF'
# HTTP server for check tests: the answer for /NAME is read from
# DIR/NAME.status (default 200) and DIR/NAME.delay (seconds, default 0);
# every request is logged to DIR/NAME.log as "code method x-test body".
import http.server, os, socketserver, sys, time
port, d = int(sys.argv[1]), sys.argv[2]

def read(name, ext, conv, dflt):
    try:
        with open(os.path.join(d, name + ext)) as f:
            return conv(f.read().strip())
    except Exception:
        return dflt

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def any(self):
        name = self.path.split("?")[0].strip("/").replace("/", "_") or "root"
        code = read(name, ".status", int, 200)
        delay = read(name, ".delay", float, 0.0)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace") if n else ""
        with open(os.path.join(d, name + ".log"), "a") as f:
            f.write("%d %s %s %s\n" % (code, self.command,
                    self.headers.get("X-Test", "-"), body or "-"))
        if delay:
            time.sleep(delay)
        out = ("status %d from %s\n" % (code, name)).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
        except Exception:
            pass
    do_GET = do_POST = do_PUT = any
    def log_message(self, *a):
        pass

class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

S(("127.0.0.1", port), H).serve_forever()
EOF
cat >"$IT_TMP/tcpsrv.py" <<'EOF'
# TCP listener for check tests: accepts and closes connections.
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
while True:
    c, _ = s.accept()
    c.close()
EOF

_alloc_port || finish; HPORT=$(_last_port)
_alloc_port || finish; TPORT=$(_last_port)
_alloc_port || finish; DEADPORT=$(_last_port)   # reserved, nobody listens
python3 "$IT_TMP/httpsrv.py" "$HPORT" "$SRV" >"$IT_TMP/httpsrv.log" 2>&1 &
HPID=$!; it_track_pid "$HPID"
python3 "$IT_TMP/tcpsrv.py" "$TPORT" >"$IT_TMP/tcpsrv.log" 2>&1 &
TPID=$!; it_track_pid "$TPID"
srv_up() { curl -s -m 1 -o /dev/null "http://127.0.0.1:$HPORT/ping"; }
tcp_up() { ss -Htln "sport = :$TPORT" 2>/dev/null | grep -q .; }
assert_eventually "test HTTP server listening" 10 srv_up
assert_eventually "test TCP listener listening" 10 tcp_up
HTTPBASE=http://127.0.0.1:$HPORT

# ---- scripts
mkdir -p "$IT_TMP/scripts"
S=$IT_TMP/scripts
printf '#!/bin/sh\necho script-ok-out\nexit 0\n' >"$S/ok.sh"
printf '#!/bin/sh\necho warn-out >&2\nexit 1\n' >"$S/warn.sh"
printf '#!/bin/sh\necho crit-out\nexit 2\n' >"$S/crit.sh"
printf '#!/bin/sh\necho $$ >"%s/sleep.pid"\nexec sleep 20\n' "$S" >"$S/sleep.sh"
printf '#!/bin/sh\nprintf HEAD\nhead -c 10000 /dev/zero | tr "\\0" x\nprintf TAIL\nexit 0\n' >"$S/big.sh"
chmod +x "$S"/*.sh

cfg=$IT_TMP/checks.yaml
printf 'enable_script_checks: true\n' >"$cfg"
agent_start k1 -config-file "$cfg" || finish

chks() { http GET /v1/agent/checks; printf '%s' "$HTTP_BODY"; }
check_status() { chks | jget "$1.Status" 2>/dev/null; }
check_output() { chks | jget "$1.Output" 2>/dev/null; }
check_is() { [ "$(check_status "$1")" = "$2" ]; }
svc_exists() { [ "$(http GET /v1/agent/services >/dev/null; jget "$1.ID" <<<"$HTTP_BODY")" = "$1" ]; }
svc_gone() {
    http GET /v1/agent/services
    [ "$HTTP_STATUS" = 200 ] && [ "$(jget "$1" <<<"$HTTP_BODY")" = "<missing>" ]
}
catalog_gone() {
    http GET "/v1/catalog/service/$1"
    [ "$HTTP_STATUS" = 200 ] && [ "$(jget '#' <<<"$HTTP_BODY")" = 0 ]
}
reg() {   # reg DESC JSON
    jhttp PUT /v1/agent/service/register "$2"
    assert_eq "$1: registered" 200 "$HTTP_STATUS"
}
# served NAME CODE — how many requests for /NAME the server answered CODE
served() {
    local n
    n=$(grep -c "^$2 " "$SRV/$1.log" 2>/dev/null)
    echo "${n:-0}"
}
no_check() { [ "$(chks | jget "$1")" = "<missing>" ]; }

# ---- DeregisterCriticalServiceAfter: registered first, checked at the end
reg "doomed (critical, deregister after 1m)" \
    '{"Name":"doomed","Check":{"TTL":"1h","DeregisterCriticalServiceAfter":"1m"}}'
reg "doomed-short (1s, clamped to the 1m minimum)" \
    '{"Name":"doomed-short","Check":{"TTL":"1h","DeregisterCriticalServiceAfter":"1s"}}'
reg "kept (passing, deregister after 1m)" \
    '{"Name":"kept","Check":{"TTL":"1h","Status":"passing","DeregisterCriticalServiceAfter":"1m"}}'
T_DOOMED=$(now_ms)

# ---- HTTP check: passing -> warning (429) -> critical (500) -> passing
reg "hweb" "{\"Name\":\"hweb\",\"Check\":{\"HTTP\":\"$HTTPBASE/flip\",\"Interval\":\"1s\",\"Timeout\":\"2s\"}}"
HC=service:hweb
assert_eventually "HTTP 200: passing" 5 check_is $HC passing
assert_contains "HTTP 200: Output has the body" "$(check_output $HC)" "status 200 from flip"
assert_eq "HTTP check: Type http" http "$(chks | jget "$HC.Type")"
assert_eq "HTTP check: Definition.HTTP" "$HTTPBASE/flip" "$(chks | jget "$HC.Definition.HTTP")"
echo 429 >"$SRV/flip.status"
assert_eventually "HTTP 429: warning" 4 check_is $HC warning
assert_contains "HTTP 429: Output has the body" "$(check_output $HC)" "status 429 from flip"
# the change reaches the catalog within a second
t0=$(now_ms)
cat_warn() { http GET /v1/health/checks/hweb; [ "$(jget 0.Status <<<"$HTTP_BODY")" = warning ]; }
if wait_until 3 cat_warn; then
    assert_num_between "HTTP 429: catalog shows warning within 1 s (ms)" 0 1000 $(( $(now_ms) - t0 ))
else
    fail "HTTP 429: catalog shows warning" "$(_show "$HTTP_BODY")"
fi
echo 500 >"$SRV/flip.status"
assert_eventually "HTTP 500: critical" 4 check_is $HC critical
assert_contains "HTTP 500: Output has the body" "$(check_output $HC)" "status 500 from flip"
echo 200 >"$SRV/flip.status"
assert_eventually "HTTP 200 again: passing" 4 check_is $HC passing
echo 302 >"$SRV/flip.status"
assert_eventually "HTTP 302 (not 2xx, not 429): critical" 4 check_is $HC critical
echo 204 >"$SRV/flip.status"
assert_eventually "HTTP 204 (2xx): passing" 4 check_is $HC passing

# Method, Header, Body reach the server
reg "hpost" "{\"Name\":\"hpost\",\"Check\":{\"HTTP\":\"$HTTPBASE/mh\",\"Method\":\"POST\",
  \"Header\":{\"X-Test\":[\"yes\"]},\"Body\":\"ping\",\"Interval\":\"1s\"}}"
mh_seen() { grep -q '^200 POST yes ping$' "$SRV/mh.log" 2>/dev/null; }
assert_eventually "HTTP check sends Method, Header and Body" 5 mh_seen
assert_eventually "HTTP POST check: passing" 4 check_is service:hpost passing

# too slow: killed at Timeout -> critical (starts passing to prove it)
echo 5 >"$SRV/slow.delay"
reg "hslow" "{\"Name\":\"hslow\",\"Check\":{\"HTTP\":\"$HTTPBASE/slow\",\"Interval\":\"1s\",
  \"Timeout\":\"500ms\",\"Status\":\"passing\"}}"
assert_eventually "HTTP slower than Timeout: critical" 6 check_is service:hslow critical

# nobody listening -> critical
reg "hdead" "{\"Name\":\"hdead\",\"Check\":{\"HTTP\":\"http://127.0.0.1:$DEADPORT/\",\"Interval\":\"1s\",
  \"Status\":\"passing\"}}"
assert_eventually "HTTP connection refused: critical" 5 check_is service:hdead critical
assert_match "HTTP connection refused: Output explains" "$(check_output service:hdead)" '^[^<].{5,}'

# ---- TCP check against a listener the test closes
reg "tcp" "{\"Name\":\"tcp\",\"Check\":{\"TCP\":\"127.0.0.1:$TPORT\",\"Interval\":\"1s\",\"Timeout\":\"1s\"}}"
assert_eventually "TCP listener up: passing" 5 check_is service:tcp passing
assert_eq "TCP check: Type tcp" tcp "$(chks | jget service:tcp.Type)"
kill -TERM "$TPID" 2>/dev/null; wait "$TPID" 2>/dev/null
tcp_down() { ! tcp_up; }
assert_eventually "TCP listener closed by the test" 5 tcp_down
assert_eventually "TCP listener closed: critical" 5 check_is service:tcp critical

# ---- TTL expiry
jhttp PUT /v1/agent/check/register '{"Name":"ttl-exp","TTL":"2s"}'
assert_eq "TTL check registered" 200 "$HTTP_STATUS"
assert_eq "TTL check starts critical" critical "$(check_status ttl-exp)"
http PUT '/v1/agent/check/pass/ttl-exp?note=alive'
assert_eq "TTL pass: passing" passing "$(check_status ttl-exp)"
sleep 1.2
http PUT '/v1/agent/check/pass/ttl-exp?note=alive'   # resets the timer
sleep 1.2
assert_eq "TTL timer reset by pass: still passing 2.4 s after the first pass" passing "$(check_status ttl-exp)"
assert_eventually "TTL expired: critical" 3 check_is ttl-exp critical
assert_match "TTL expired: Output" "$(check_output ttl-exp)" '^TTL expired'
http PUT /v1/agent/check/warn/ttl-exp
assert_eq "TTL warn after expiry: warning" warning "$(check_status ttl-exp)"

# ---- script checks (enable_script_checks: true)
reg "script exit 0 (Args)" "{\"Name\":\"sc-ok\",\"Check\":{\"Args\":[\"$S/ok.sh\"],\"Interval\":\"1s\"}}"
reg "script exit 1 (ScriptArgs)" "{\"Name\":\"sc-warn\",\"Check\":{\"ScriptArgs\":[\"$S/warn.sh\"],\"Interval\":\"1s\"}}"
reg "script exit 2 (script_args)" "{\"Name\":\"sc-crit\",\"check\":{\"script_args\":[\"$S/crit.sh\"],
  \"interval\":\"1s\",\"status\":\"passing\"}}"
reg "script sleeping past Timeout" "{\"Name\":\"sc-sleep\",\"Check\":{\"Args\":[\"$S/sleep.sh\"],
  \"Interval\":\"2s\",\"Timeout\":\"1s\",\"Status\":\"passing\"}}"
reg "script with 10000 bytes of output" "{\"Name\":\"sc-big\",\"Check\":{\"Args\":[\"$S/big.sh\"],\"Interval\":\"1s\"}}"
assert_eventually "script exit 0: passing" 5 check_is service:sc-ok passing
assert_contains "script exit 0: stdout in Output" "$(check_output service:sc-ok)" script-ok-out
assert_eq "script check: Type script" script "$(chks | jget service:sc-ok.Type)"
assert_eventually "script exit 1: warning" 5 check_is service:sc-warn warning
assert_contains "script exit 1: stderr in Output" "$(check_output service:sc-warn)" warn-out
assert_eventually "script exit 2: critical" 5 check_is service:sc-crit critical
assert_contains "script exit 2: Output" "$(check_output service:sc-crit)" crit-out
assert_eventually "script past its Timeout: critical" 6 check_is service:sc-sleep critical
spid=$(cat "$S/sleep.pid" 2>/dev/null)
sleep_dead() { [ -n "$spid" ] && ! pid_alive "$spid"; }
assert_eventually "script past its Timeout: process killed" 3 sleep_dead
assert_eventually "big script output: passing" 5 check_is service:sc-big passing
big=$(check_output service:sc-big)
# as Consul's circular buffer: the last 4096 bytes, after a note
assert_num_between "script Output capped at 4 KiB (+ a short note)" 4096 4300 "${#big}"
assert_match "script Output: Consul's truncation note" "$big" '^Captured 4096 of 10008 bytes'
assert_match "script Output keeps the last bytes" "$big" 'xxxxTAIL$'
assert_not_contains "script Output drops the first bytes" "$big" HEAD

# ---- SuccessBeforePassing / FailuresBeforeWarning / FailuresBeforeCritical
# sample CHECK WANT SECS NAME CODE — poll every 0.1 s until CHECK has
# status WANT; prints "status served-count" per sample
sample() {
    local id=$1 want=$2 secs=$3 name=$4 code=$5 i st
    for (( i = 0; i < secs * 10; i++ )); do
        st=$(check_status "$id")
        echo "$st $(served "$name" "$code")"
        [ "$st" = "$want" ] && return 0
        sleep 0.1
    done
    return 1
}
reg "sbp (SuccessBeforePassing 3)" "{\"Name\":\"sbp\",\"Check\":{\"HTTP\":\"$HTTPBASE/sbp\",
  \"Interval\":\"1s\",\"SuccessBeforePassing\":3}}"
sample service:sbp passing 10 sbp 200 >"$IT_TMP/sbp.samples"
assert_eq "SuccessBeforePassing 3: becomes passing" passing "$(tail -1 "$IT_TMP/sbp.samples" | cut -d' ' -f1)"
assert_num_between "SuccessBeforePassing 3: not before 3 successes" 3 100 \
    "$(tail -1 "$IT_TMP/sbp.samples" | cut -d' ' -f2)"
assert_true "SuccessBeforePassing 3: critical after the first success" \
    grep -qE '^critical [12]$' "$IT_TMP/sbp.samples"

reg "fbc (FailuresBeforeCritical 3)" "{\"Name\":\"fbc\",\"Check\":{\"HTTP\":\"$HTTPBASE/fbc\",
  \"Interval\":\"1s\",\"FailuresBeforeCritical\":3,\"Status\":\"passing\"}}"
fbc_seen() { [ "$(served fbc 200)" -ge 1 ]; }
assert_eventually "fbc: first run" 5 fbc_seen
echo 500 >"$SRV/fbc.status"
sample service:fbc critical 10 fbc 500 >"$IT_TMP/fbc.samples"
assert_eq "FailuresBeforeCritical 3: becomes critical" critical "$(tail -1 "$IT_TMP/fbc.samples" | cut -d' ' -f1)"
assert_num_between "FailuresBeforeCritical 3: not before 3 failures" 3 100 \
    "$(tail -1 "$IT_TMP/fbc.samples" | cut -d' ' -f2)"
assert_true "FailuresBeforeCritical 3: still passing after the first failure" \
    grep -qE '^passing [12]$' "$IT_TMP/fbc.samples"
assert_false_warn() { ! grep -q '^warning' "$IT_TMP/fbc.samples"; }
assert_true "FailuresBeforeWarning defaults to FailuresBeforeCritical (no warning)" assert_false_warn

reg "fbw (FailuresBeforeWarning 1, FailuresBeforeCritical 3)" "{\"Name\":\"fbw\",\"Check\":{
  \"HTTP\":\"$HTTPBASE/fbw\",\"Interval\":\"1s\",\"FailuresBeforeWarning\":1,
  \"FailuresBeforeCritical\":3,\"Status\":\"passing\"}}"
fbw_seen() { [ "$(served fbw 200)" -ge 1 ]; }
assert_eventually "fbw: first run" 5 fbw_seen
echo 500 >"$SRV/fbw.status"
sample service:fbw critical 10 fbw 500 >"$IT_TMP/fbw.samples"
assert_eq "FailuresBeforeWarning 1: critical in the end" critical "$(tail -1 "$IT_TMP/fbw.samples" | cut -d' ' -f1)"
assert_true "FailuresBeforeWarning 1: warning after one failure" \
    grep -qE '^warning [12]$' "$IT_TMP/fbw.samples"
assert_num_between "FailuresBeforeWarning 1: critical only after 3 failures" 3 100 \
    "$(tail -1 "$IT_TMP/fbw.samples" | cut -d' ' -f2)"

# ---- enable_local_script_checks: a script check from a config file runs
cfg2=$IT_TMP/local-scripts.yaml
cat >"$cfg2" <<EOF
enable_local_script_checks: true
checks:
  - id: local-script
    name: local script
    args: ["$S/ok.sh"]
    interval: 1s
EOF
agent_start k2 -config-file "$cfg2" || finish
assert_eventually "config-file script check with enable_local_script_checks: passing" 6 \
    check_is local-script passing
agent_stop k2
AGENT=k1

# ---- DeregisterCriticalServiceAfter
el=$(( $(now_ms) - T_DOOMED ))
if [ "$el" -lt 55000 ]; then
    assert_true "critical service not removed before its 1m" svc_exists doomed
    assert_true "1s is clamped to 1m: not removed yet" svc_exists doomed-short
fi
left=$(( (100000 - ($(now_ms) - T_DOOMED)) / 1000 + 1 ))
[ "$left" -lt 1 ] && left=1
if wait_until "$left" svc_gone doomed; then
    gone_ms=$(( $(now_ms) - T_DOOMED ))
    assert_num_between "DeregisterCriticalServiceAfter 1m: removed 60-95 s after going critical (ms)" \
        55000 95000 "$gone_ms"
    assert_true "removed service's check gone" no_check service:doomed
    assert_eventually "removed service gone from the catalog" 2 catalog_gone doomed
else
    fail "DeregisterCriticalServiceAfter 1m: removed within 100 s" "still registered"
fi
assert_eventually "doomed-short removed too (within 100 s)" 10 svc_gone doomed-short
assert_true "passing service with DeregisterCriticalServiceAfter kept" svc_exists kept

kill -TERM "$HPID" 2>/dev/null; wait "$HPID" 2>/dev/null
# the sleeping script (started by the agent for this test) if it survived
spid=$(cat "$S/sleep.pid" 2>/dev/null)
if [ -n "$spid" ] && pid_alive "$spid" && tr '\0' ' ' <"/proc/$spid/cmdline" 2>/dev/null |
        grep -q '^sleep 20'; then
    kill -KILL "$spid" 2>/dev/null
fi
agent_stop k1
finish
