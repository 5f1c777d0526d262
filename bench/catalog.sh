#!/usr/bin/env bash
# bench/catalog.sh — service catalog and blocking-query benchmark of cairn
# (issue 3). A benchmark: it prints figures beside their targets, it does
# not pass or fail on them.
#
# In one invocation it starts one agent (server, bootstrap, own ports, data
# dir under a mktemp -d in /var/tmp, limits.http_max_conns_per_client = 0),
# then:
#   1. registers NAMES x INSTANCES services (svc-000-0 ..), each with a TTL
#      check, through PUT /v1/agent/service/register from parallel curl
#      streams: registration rate, time until the catalog has them all;
#   2. wrk: GET /v1/health/service/<random name>?passing and
#      GET /v1/catalog/services (req/s, p50, p99);
#   3. RSS before and after registration;
#   4. bench-park (bench/park.c, built here) parks PARKED blocking queries
#      on /v1/health/service/<name>?index=<its X-Consul-Index>&wait=5m over
#      all the names, holds them at once, confirms them through
#      Stats.agent.blocking_queries, reads the RSS, fails the TTL check of
#      svc-042-3 at T0 and reports who answered and when;
#   5. stops the agent with SIGTERM and reports whether it exited cleanly.
# The table puts each figure beside the issue's target. Progress and the raw
# bench-park figures go to stderr, the table to stdout.
#
#   bench/catalog.sh                              full run
#   BENCH_DURATION=2s BENCH_PARKED=2000 bench/catalog.sh        quick check
#
# Environment:
#   BENCH_DURATION   wrk duration per measurement (default 10s)
#   BENCH_CONNS      wrk connections (default 64)
#   BENCH_THREADS    wrk threads (default 2)
#   BENCH_NAMES      service names (default 1000)
#   BENCH_INSTANCES  instances per name (default 10)
#   BENCH_LOADERS    parallel curl streams registering (default 16)
#   BENCH_PARKED     blocking queries to park (default 20000)
#   BENCH_SETTLE_MS  how long to wait for answers after the write (2000)
#   BENCH_PARK_CAP   1 (default): park no more than the agent's open-file
#                    limit leaves room for (its limit - descriptors in use
#                    - 64), so that the write and the stats still reach it;
#                    0: park BENCH_PARKED regardless
#   BENCH_LOG_LEVEL  agent log level (default info)
#   BENCH_KEEP=1     keep the work directory (agent log, data, bench-park
#                    output)
#   CAIRN            cairn binary (default build/cairn, built if missing)
#
# Every process this script starts is stopped by PID on exit; the temp dir
# is removed. All traffic goes to 127.0.0.0/8. Every wait is bounded.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1

DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNS:-64}
THREADS=${BENCH_THREADS:-2}
NAMES=${BENCH_NAMES:-1000}
INST=${BENCH_INSTANCES:-10}
LOADERS=${BENCH_LOADERS:-16}
PARKED=${BENCH_PARKED:-20000}
SETTLE_MS=${BENCH_SETTLE_MS:-2000}
PARK_CAP=${BENCH_PARK_CAP:-1}
LOG_LEVEL=${BENCH_LOG_LEVEL:-info}
CAIRN=${CAIRN:-$ROOT/build/cairn}
LUA=$ROOT/bench/wrk/catalog.lua
PARK=$ROOT/build/bench-park
NSVC=$(( NAMES * INST ))
# the write of the parking phase: fail the TTL check of one instance
CHG=$(( 42 % NAMES )); CHG_I=$(( 3 % INST ))
CHG_NAME=$(printf 'svc-%03d' "$CHG")
CHG_ID="$CHG_NAME-$CHG_I"

say() { printf '%s\n' "$*" >&2; }
num() { [[ $1 =~ ^[0-9]+$ ]] || { say "bench: $2 must be a number, not '$1'"; exit 2; }; }
num "$NAMES" BENCH_NAMES; num "$INST" BENCH_INSTANCES; num "$LOADERS" BENCH_LOADERS
num "$PARKED" BENCH_PARKED; num "$SETTLE_MS" BENCH_SETTLE_MS
[ "$PARK_CAP" = 0 ] || PARK_CAP=1
[ "$NAMES" -ge 1 ] && [ "$INST" -ge 1 ] && [ "$LOADERS" -ge 1 ] && [ "$PARKED" -ge 1 ] ||
    { say "bench: BENCH_NAMES, BENCH_INSTANCES, BENCH_LOADERS, BENCH_PARKED must be >= 1"; exit 2; }

# ---------------------------------------------------------------- setup

if ! scripts/deps.sh bench; then
    say "bench: scripts/deps.sh bench failed (wrk needed)"
fi
for t in wrk curl perl cc; do
    command -v "$t" >/dev/null || { say "bench: $t not found"; exit 1; }
done
if [ ! -x "$CAIRN" ]; then
    say "bench: building cairn"
    make --no-print-directory -s "${CAIRN#"$ROOT"/}" >&2 || make --no-print-directory -s >&2
fi
[ -x "$CAIRN" ] || { say "bench: no cairn binary at $CAIRN (build failed)"; exit 1; }
mkdir -p "$ROOT/build"
if ! cc -O2 -Wall -Wextra -Werror -o "$PARK" bench/park.c; then
    say "bench: cannot build bench/park.c"; exit 1
fi

WORK=$(mktemp -d /var/tmp/cairn-bench-catalog.XXXXXX)
PIDS=()
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
alive() { kill -0 "$CAIRN_PID" 2>/dev/null && [ "$(awk '{ print $3 }' "/proc/$CAIRN_PID/stat" 2>/dev/null)" != Z ]; }
# reachable PHASE — the agent still answers /v1/status/leader; if not (while
# alive), show what it listens on and exit: nothing after this could work
reachable() {
    local code
    code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$URL/v1/status/leader")
    [ "$code" = 200 ] && return 0
    alive || { died "$1"; exit 1; }
    say "bench: the agent (pid $CAIRN_PID, alive) does not answer $URL/v1/status/leader $1" \
        "(curl: HTTP $code); its TCP listeners and descriptors:"
    ss -Hltnp 2>/dev/null | grep "pid=$CAIRN_PID," >&2
    say "bench: $(ls "/proc/$CAIRN_PID/fd" 2>/dev/null | wc -l) fds;" \
        "listening on :$CH: $(ss -Hltn "sport = :$CH" | wc -l) socket(s); last lines of its log:"
    tail -n 10 "$WORK/cairn.log" >&2
    exit 1
}
reachable_quiet() {
    [ "$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$URL/v1/status/leader")" = 200 ]
}
died() {
    say "bench: the agent (pid $CAIRN_PID) is gone $1; last lines of its log:"
    tail -n 30 "$WORK/cairn.log" >&2
    local rc
    wait "$CAIRN_PID" 2>/dev/null; rc=$?
    say "bench: agent exit status $rc$([ "$rc" -gt 128 ] && echo " (SIG$(kill -l $(( rc - 128 )) 2>/dev/null))")"
}

# ---------------------------------------------------------------- start

CH=$(free_port); CR=$(free_port); CS=$(free_port); CW=$(free_port)
CV=$(free_port); CD=$(free_port)
URL=http://127.0.0.1:$CH
# 0 = no per-client connection limit (cfg.c: range 0..INT_MAX; all the
# parked queries come from a few 127.0.0.x addresses)
printf '{ "limits": { "http_max_conns_per_client": 0 } }\n' >"$WORK/bench.json"
"$CAIRN" agent -server -bootstrap -data-dir "$WORK/cairn" -node bench \
    -bind 127.0.0.1 -http-port "$CH" -raft-port "$CR" -serf-lan-port "$CS" \
    -serf-wan-port "$CW" -server-port "$CV" -dns-port "$CD" \
    -config-file "$WORK/bench.json" -log-level "$LOG_LEVEL" \
    >"$WORK/cairn.log" 2>&1 </dev/null &
CAIRN_PID=$!
PIDS+=("$CAIRN_PID")
ready=0
for _ in $(seq 1 150); do
    alive || break
    b=$(curl -s -m 1 "$URL/v1/status/leader")
    [[ $b =~ ^\"[^\"]+\" ]] && { ready=1; break; }
    sleep 0.1
done
if [ "$ready" != 1 ]; then
    say "bench: cairn did not get a leader:"; tail -n 20 "$WORK/cairn.log" >&2
    exit 1
fi
FDLINE=$(grep -m1 'open file limit' "$WORK/cairn.log" | sed 's/^.*open file limit/open file limit/')
say "bench: agent pid $CAIRN_PID on $URL; ${FDLINE:-no 'open file limit' line in its log}"
sleep 1
RSS0=$(rss_kb "$CAIRN_PID")

# ---------------------------------------------------------------- register

say "bench: registering $NSVC services ($NAMES names x $INST, TTL check each) from $LOADERS curl streams"
perl -e '
    my ($base, $names, $inst, $shards, $dir) = @ARGV;
    my @fh;
    for my $s (0 .. $shards - 1) {
        open($fh[$s], ">", "$dir/reg-$s.cfg") or die;
    }
    my $n = 0;
    # instance-major order: every name gets its first instance early
    for my $i (0 .. $inst - 1) {
        for my $k (0 .. $names - 1) {
            my $name = sprintf("svc-%03d", $k);
            my $port = 8000 + $i;
            my $f = $fh[$n++ % $shards];
            print $f "url = \"$base/v1/agent/service/register\"\n",
                "request = \"PUT\"\n",
                "header = \"Content-Type: application/json\"\n",
                "data-binary = \"{\\\"Name\\\":\\\"$name\\\",\\\"ID\\\":\\\"$name-$i\\\",",
                "\\\"Port\\\":$port,\\\"Tags\\\":[\\\"v1\\\"],",
                "\\\"Check\\\":{\\\"TTL\\\":\\\"10m\\\",\\\"Status\\\":\\\"passing\\\"}}\"\n",
                "output = \"/dev/null\"\n",
                "write-out = \"%{http_code} $name-$i\\n\"\n",
                "next\n";
        }
    }
    close $_ for @fh;
' "$URL" "$NAMES" "$INST" "$LOADERS" "$WORK"
T_REG0=$(now)
lpids=()
for (( s = 0; s < LOADERS; s++ )); do
    timeout 900 curl -s -m 60 -K "$WORK/reg-$s.cfg" >"$WORK/reg-$s.out" 2>/dev/null &
    lpids+=($!)
done
for p in "${lpids[@]}"; do wait "$p"; done
T_REG1=$(now)
REG_SECS=$(secs "$T_REG0" "$T_REG1")
REG_OK=$(cat "$WORK"/reg-*.out | grep -c '^200 ')
REG_BAD=$(( NSVC - REG_OK ))
REG_RATE=$(awk -v n="$REG_OK" -v s="$REG_SECS" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
say "bench: $REG_OK/$NSVC registrations answered 200 in $REG_SECS s ($REG_RATE req/s)"
if [ "$REG_BAD" -gt 0 ]; then
    say "bench: non-200 registrations by status:"
    cat "$WORK"/reg-*.out | awk '$1 != 200 { n[$1]++ } END { for (c in n) printf "  %s x %d\n", c, n[c] }' >&2
    # show one failing request's answer (re-sent once, so it may now pass)
    bad=$(cat "$WORK"/reg-*.out | awk '$1 != 200 { print $2; exit }')
    if [ -n "$bad" ] && alive; then
        bn=${bad%-*}; bi=${bad##*-}
        say "bench: re-sending $bad once: $(curl -s -m 10 -X PUT -w ' [HTTP %{http_code}]' \
            -d "{\"Name\":\"$bn\",\"ID\":\"$bad\",\"Port\":$(( 8000 + bi )),\"Tags\":[\"v1\"],\"Check\":{\"TTL\":\"10m\",\"Status\":\"passing\"}}" \
            "$URL/v1/agent/service/register" | head -c 300)"
    fi
fi
rm -f "$WORK"/reg-*.cfg
reachable "after registration"

# the catalog is complete when /v1/catalog/services lists every name with
# tag v1 and the last name has all its instances in /v1/health/service;
# then /v1/health/state/any is checked for all NSVC service checks
LAST=$(printf 'svc-%03d' $(( NAMES - 1 )))
count_names() {
    perl -MJSON::PP -e '
        my $d = eval { decode_json(join "", <STDIN>) };
        print ref($d) eq "HASH" ? scalar(grep { /^svc-/ && ref($d->{$_}) eq "ARRAY" &&
            grep { $_ eq "v1" } @{$d->{$_}} } keys %$d) : -1'
}
count_array() {   # count_array [PERL-COND on $_]
    perl -MJSON::PP -e '
        my $d = eval { decode_json(join "", <STDIN>) };
        my $c = $ARGV[0] || "1";
        print ref($d) eq "ARRAY" ? scalar(grep { eval $c } @$d) : -1' "${1:-}"
}
CAT_OK=0; CAT_NAMES=-1; CAT_LAST=-1; CAT_CHECKS=-1
for _ in $(seq 1 600); do     # <= 120 s (0.2 s sleeps + request time)
    alive || break
    [ "$REG_OK" -gt 0 ] || break
    CAT_NAMES=$(curl -s -m 10 "$URL/v1/catalog/services" | count_names)
    CAT_LAST=$(curl -s -m 10 "$URL/v1/health/service/$LAST" | count_array)
    if [ "$CAT_NAMES" = "$NAMES" ] && [ "$CAT_LAST" = "$INST" ]; then
        CAT_CHECKS=$(curl -s -m 30 "$URL/v1/health/state/any" |
            count_array '$_->{ServiceName} =~ /^svc-/')
        [ "$CAT_CHECKS" = "$NSVC" ] && { CAT_OK=1; break; }
    fi
    [ "$(secs "$T_REG1" "$(now)" | cut -d. -f1)" -ge 120 ] && break
    sleep 0.2
done
T_CAT=$(now)
CAT_FROM0=$(secs "$T_REG0" "$T_CAT"); CAT_FROM1=$(secs "$T_REG1" "$T_CAT")
if [ "$CAT_OK" = 1 ]; then
    say "bench: catalog complete $CAT_FROM0 s after the first PUT ($CAT_FROM1 s after the last returned)"
else
    say "bench: catalog NOT complete after $CAT_FROM1 s: $CAT_NAMES/$NAMES names in /v1/catalog/services," \
        "$CAT_LAST/$INST instances of $LAST, $CAT_CHECKS/$NSVC service checks in /v1/health/state/any"
fi
reachable "after the catalog poll"
sleep 1
RSS1=$(rss_kb "$CAIRN_PID")
say "bench: RSS $RSS0 kB before registration, $RSS1 kB after"

# ---------------------------------------------------------------- reads

declare -A R   # R[mode] = "rps p50 p99 requests non2xx sockerr"
measure() {    # measure MODE
    local mode=$1 out line
    out=$(MODE="$mode" BENCH_NAMES=$NAMES \
        timeout 300 wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout 5s -s "$LUA" "$URL" 2>&1)
    line=$(printf '%s\n' "$out" | awk '/^RESULT / { $1 = ""; print substr($0, 2) }' | tail -1)
    if [ -z "$line" ]; then
        say "bench: wrk failed for $mode:"; printf '%s\n' "$out" | tail -5 >&2
        line="0 0 0 0 0 0"
    fi
    R[$mode]=$line
    set -- $line
    say "bench: $mode: $1 req/s p50 $2 us p99 $3 us ($4 requests, $5 non-2xx, $6 socket errors)"
}
# sanity: what a health read returns
H=$(curl -s -m 10 "$URL/v1/health/service/$CHG_NAME?passing" | count_array)
[ "$H" = "$INST" ] || say "bench: WARNING: /v1/health/service/$CHG_NAME?passing has $H entries, expected $INST"
measure health
reachable "after the health/service load"
measure services
reachable "after the catalog/services load"
sleep 1
RSS2=$(rss_kb "$CAIRN_PID")

# ---------------------------------------------------------------- park

say "bench: parking $PARKED blocking queries over $NAMES names (bench-park), then PUT /v1/agent/check/fail/service:$CHG_ID"
"$PARK" -p "$CH" -P "$CAIRN_PID" -n "$PARKED" -k "$NAMES" -f 'svc-%03ld' \
    -c "$CHG" -m PUT -u "/v1/agent/check/fail/service:$CHG_ID" -e critical \
    -w 5m -s "$SETTLE_MS" -t 120 -C "$PARK_CAP" >"$WORK/park.out" &
PARK_PID=$!
PIDS+=("$PARK_PID")
wait "$PARK_PID"; PARK_RC=$?
[ "$PARK_RC" = 0 ] || say "bench: bench-park exited with status $PARK_RC"
pv() { local v; v=$(awk -F= -v k="$1" '$1 == k { sub(/^[^=]*=/, ""); print; exit }' "$WORK/park.out"); echo "${v:--}"; }
sed 's/^/bench: park: /' "$WORK/park.out" >&2
# bench-park's exit closed all its connections at once; give the agent a
# moment and see that it survived that
sleep 1
AGENT_OK=1
alive || { AGENT_OK=0; died "after the parking phase (bench-park closed its connections)"; }
[ "$AGENT_OK" = 1 ] && ! reachable_quiet && {
    AGENT_OK=0; say "bench: the agent does not answer after the parking phase"; }

# ---------------------------------------------------------------- report

isnum() { [[ $1 =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; }
ms() { isnum "$1" && awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }' || echo -; }
yn() { [ "$1" = 1 ] && echo yes || echo NO; }

BQ=$(pv bq_parked); WAITING=$(pv parked_waiting)
# held = the agent's own count when it reports one, else the client's view
if isnum "$BQ" && [ "$BQ" -ge 0 ]; then
    HELD=$BQ; HELD_SHORT="agent's count"; HELD_SRC="agent Stats.agent.blocking_queries"
elif [ "$BQ" = -2 ]; then
    HELD=$WAITING; HELD_SHORT="client view"; HELD_SRC="client view (the agent has no blocking_queries stat)"
else
    HELD=$WAITING; HELD_SHORT="UNCONFIRMED"
    HELD_SRC="UNCONFIRMED: /v1/agent/self got no answer, client view (requests sent, no answer)"
fi
RB=$(pv rss_before_kb); RP=$(pv rss_parked_kb)
PER=-
if isnum "$RB" && isnum "$RP" && isnum "$HELD" && [ "$HELD" -gt 0 ]; then
    PER=$(( (RP - RB) * 1024 / HELD ))
fi
TW=$(pv target_watchers); TA=$(pv target_answered); TOK=$(pv target_answered_ok)
TLAST=$(pv target_last_ms); OW=$(pv other_watchers); OA=$(pv other_answered)
OC=$(pv other_closed); TC=$(pv target_closed)

met_held=0; isnum "$HELD" && [ "$HELD" -ge 20000 ] && met_held=1
met_per=0; isnum "$PER" && [ "$PER" -lt 4096 ] && met_per=1
met_tgt=0
if isnum "$TW" && [ "$TW" -gt 0 ] && [ "$TOK" = "$TW" ] && isnum "$TLAST" &&
   awk -v t="$TLAST" 'BEGIN { exit !(t <= 100) }'; then met_tgt=1; fi
met_oth=0; [ "$OA" = 0 ] && [ "$OC" = 0 ] && isnum "$OW" && [ "$OW" -gt 0 ] && met_oth=1

echo
echo "Catalog benchmark: $("$CAIRN" version 2>/dev/null | head -1 | tr -s ' ')," \
    "$NSVC services ($NAMES names x $INST, TTL check each), $(nproc) CPUs"
echo "agent: pid $CAIRN_PID, data dir under $WORK ($(df -T "$WORK" | awk 'NR == 2 { print $2 }'))," \
    "${FDLINE:-no 'open file limit' log line}"
echo
printf '%-46s | %-40s | %-15s | %s\n' measure figure target met
printf '%s\n' "$(printf '%.0s-' $(seq 1 113))"
row() { printf '%-46s | %-40s | %-15s | %s\n' "$1" "$2" "$3" "$4"; }
row "PUT /v1/agent/service/register ($LOADERS curls)" \
    "$REG_RATE req/s ($REG_OK/$NSVC ok, $REG_SECS s)" - -
row "  catalog complete, from first PUT / last reply" \
    "$([ "$CAT_OK" = 1 ] && echo "$CAT_FROM0 s / $CAT_FROM1 s" || echo "NOT complete ($CAT_NAMES names)")" - -
for m in health services; do
    set -- ${R[$m]}
    [ "$m" = health ] && label="GET /v1/health/service/<rand>?passing" || label="GET /v1/catalog/services"
    row "$label" "$1 r/s p50 $(ms "$2") p99 $(ms "$3") ms" - -
    [ "$5" != 0 ] || [ "$6" != 0 ] && row "  errors" "$5 non-2xx, $6 socket" - -
done
row "  wrk" "-t$THREADS -c$CONNS -d$DURATION" - -
row "RSS before registration" "$RSS0 kB" - -
row "RSS after registration / after wrk" "$RSS1 kB / $RSS2 kB" - -
row "parked queries held ($(pv parked_capped) of $PARKED asked)" "$HELD ($HELD_SHORT)" ">= 20000" "$(yn $met_held)"
row "  client: waiting / failed / answered early" "$WAITING / $(pv connect_failed) / $(pv early_answered)" - -
row "RSS before / with parked queries" "$RB kB / $RP kB" - -
row "RSS per parked query" "$PER B" "< 4096 B" "$(yn $met_per)"
row "write at T0 (below)" "HTTP $(pv write_status) in $(pv write_ms) ms" - -
row "$CHG_NAME watchers answered (full, with change)" "$TOK/$TW (closed $TC), last at $TLAST ms" "all, <= 100 ms" "$(yn $met_tgt)"
row "  first / median answer after T0" "$(pv target_first_ms) / $(pv target_p50_ms) ms" - -
row "other watchers woken within $SETTLE_MS ms" "$OA of $OW (closed $OC, $(pv other_names_woken) names)" "0" "$(yn $met_oth)"
row "agent blocking_queries after the write" "$(pv bq_after) (expected $(( ${OW/-/0} - ${OA/-/0} - ${OC/-/0} )))" - -
echo
echo "held: $HELD_SRC; client held $WAITING requests with no answer before T0 over" \
    "$(pv workers) processes, $(pv sources) source addresses; client fd limit $(pv worker_nofile)," \
    "agent fd limit $(pv agent_nofile), agent fds $(pv agent_fds_before) -> $(pv agent_fds_parked)"
echo "RSS per parked query = (RSS with parked - RSS before parking) / held"
echo "write at T0: $(pv write) (by bench-park, which timestamps every answer on the same clock)"
AN=$(pv agent_nofile); AF=$(pv agent_fds_before)
if isnum "$AN" && isnum "$AF" && [ $(( AN - AF )) -lt "$PARKED" ]; then
    echo "NOTE: the agent's open-file limit is $AN (hard limit here: $(ulimit -Hn)) and it had $AF descriptors" \
        "open, so it cannot hold $PARKED connections; $([ "$PARK_CAP" = 1 ] &&
        echo "parked $(pv parked_capped) instead (BENCH_PARK_CAP=0 to try all)" ||
        echo "BENCH_PARK_CAP=0: the excess waits unaccepted in the listen backlog")"
fi
[ "$(pv early_answered)" != 0 ] && [ "$(pv early_answered)" != - ] &&
    echo "WARNING: $(pv early_answered) queries answered before the write (status:count $(pv early_codes)," \
        "$(pv early_index_advanced) with a newer index)"
[ "$(pv connect_failed)" != 0 ] && [ "$(pv connect_failed)" != - ] &&
    echo "WARNING: $(pv connect_failed) connections failed (first error: $(pv first_error))"
[ "$AGENT_OK" = 1 ] || echo "WARNING: the agent died or stopped answering in the parking phase (see above)"

# stop the agent ourselves (SIGTERM, bounded) to see that it shuts down
# cleanly with all this state
if alive; then
    t0=$(now)
    kill -TERM "$CAIRN_PID" 2>/dev/null
    for _ in $(seq 1 300); do     # <= 30 s
        alive || break
        sleep 0.1
    done
    if alive; then
        echo "WARNING: the agent did not exit within 30 s of SIGTERM (killed)"
        kill -KILL "$CAIRN_PID" 2>/dev/null
    fi
    wait "$CAIRN_PID" 2>/dev/null; rc=$?
    if [ "$rc" = 0 ]; then
        echo "agent stopped cleanly on SIGTERM in $(secs "$t0" "$(now)") s"
    else
        echo "WARNING: the agent exited with status $rc$([ "$rc" -gt 128 ] &&
            echo " (SIG$(kill -l $(( rc - 128 )) 2>/dev/null))") on SIGTERM; last lines of its log:"
        tail -n 15 "$WORK/cairn.log"
    fi
fi
exit 0
