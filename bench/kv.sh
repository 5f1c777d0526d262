#!/usr/bin/env bash
# bench/kv.sh — KV throughput, latency and memory of cairn against a
# single-node etcd started in the same invocation (a benchmark: it prints
# figures and ratios, it does not pass or fail on them).
#
#   bench/kv.sh                    full run (10 s per measurement)
#   BENCH_DURATION=2s BENCH_KEYS=5000 bench/kv.sh      quick check
#
# Environment:
#   BENCH_DURATION  wrk duration per measurement (default 10s)
#   BENCH_CONNS     connection counts (default "4 64")
#   BENCH_THREADS   wrk threads (default 2)
#   BENCH_KEYS      keys preloaded before the GET runs and RSS (default 100000)
#   BENCH_LOADERS   parallel curl streams used to preload (default 16)
#   BENCH_ONLY      "etcd" or "cairn" to run one side only
#   BENCH_KEEP=1    keep the work directory (logs, data)
#   CAIRN           cairn binary (default build/cairn, built with make if missing)
#
# Both data directories live under one mktemp -d in /var/tmp (same disk, not
# tmpfs). Every process this script starts is stopped by PID on exit. All
# traffic goes to 127.0.0.1.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1

DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNS:-4 64}
THREADS=${BENCH_THREADS:-2}
NKEYS=${BENCH_KEYS:-100000}
LOADERS=${BENCH_LOADERS:-16}
ONLY=${BENCH_ONLY:-}
CAIRN=${CAIRN:-$ROOT/build/cairn}
LUA=$ROOT/bench/wrk/kv.lua

say() { printf '%s\n' "$*" >&2; }

# ---------------------------------------------------------------- setup

if ! scripts/deps.sh bench; then
    say "bench: scripts/deps.sh bench failed (wrk, etcd-server, etcd-client needed)"
fi
for t in wrk etcd curl perl; do
    command -v "$t" >/dev/null || { say "bench: $t not found"; exit 1; }
done

want_cairn=1; want_etcd=1
[ "$ONLY" = etcd ] && want_cairn=0
[ "$ONLY" = cairn ] && want_etcd=0
if [ "$want_cairn" = 1 ] && [ ! -x "$CAIRN" ]; then
    say "bench: building cairn"
    make --no-print-directory -s "${CAIRN#"$ROOT"/}" >&2 || make --no-print-directory -s >&2
fi
if [ "$want_cairn" = 1 ] && [ ! -x "$CAIRN" ]; then
    say "bench: no cairn binary at $CAIRN (build failed); running etcd only"
    want_cairn=0
fi

WORK=$(mktemp -d /var/tmp/cairn-bench.XXXXXX)
PIDS=()
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

# wait_http URL SECS PID — until URL answers 200 (bounded), process alive
wait_http() {
    local i
    for (( i = 0; i < $2 * 10; i++ )); do
        kill -0 "$3" 2>/dev/null || return 1
        [ "$(curl -s -m 1 -o /dev/null -w '%{http_code}' "$1")" = 200 ] && return 0
        sleep 0.1
    done
    return 1
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# ---------------------------------------------------------------- start

if [ "$want_etcd" = 1 ]; then
    EC=$(free_port); EP=$(free_port)
    ETCD_URL=http://127.0.0.1:$EC
    etcd --name bench --data-dir "$WORK/etcd" \
        --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
        --listen-peer-urls "http://127.0.0.1:$EP" \
        --initial-advertise-peer-urls "http://127.0.0.1:$EP" \
        --initial-cluster "bench=http://127.0.0.1:$EP" \
        --initial-cluster-state new \
        >"$WORK/etcd.log" 2>&1 </dev/null &
    ETCD_PID=$!
    PIDS+=("$ETCD_PID")
    if ! wait_http "$ETCD_URL/health" 20 "$ETCD_PID"; then
        say "bench: etcd did not start:"; tail -n 20 "$WORK/etcd.log" >&2
        want_etcd=0
    fi
fi

if [ "$want_cairn" = 1 ]; then
    CH=$(free_port); CR=$(free_port); CS=$(free_port); CW=$(free_port)
    CV=$(free_port); CD=$(free_port)
    CAIRN_URL=http://127.0.0.1:$CH
    "$CAIRN" agent -server -bootstrap -data-dir "$WORK/cairn" -node bench \
        -bind 127.0.0.1 -http-port "$CH" -raft-port "$CR" -serf-lan-port "$CS" \
        -serf-wan-port "$CW" -server-port "$CV" -dns-port "$CD" -log-level warn \
        >"$WORK/cairn.log" 2>&1 </dev/null &
    CAIRN_PID=$!
    PIDS+=("$CAIRN_PID")
    ready=0
    for _ in $(seq 1 150); do
        kill -0 "$CAIRN_PID" 2>/dev/null || break
        b=$(curl -s -m 1 "$CAIRN_URL/v1/status/leader")
        [[ $b =~ ^\"[^\"]+\" ]] && { ready=1; break; }
        sleep 0.1
    done
    if [ "$ready" != 1 ]; then
        say "bench: cairn did not get a leader:"; tail -n 20 "$WORK/cairn.log" >&2
        want_cairn=0
    fi
fi
[ "$want_etcd" = 1 ] || [ "$want_cairn" = 1 ] || { say "bench: nothing to measure"; exit 1; }

# ---------------------------------------------------------------- preload

# load SYSTEM — PUT bench/kv/000000000 .. NKEYS-1 (64-byte values) through
# LOADERS parallel keep-alive curl processes; sets LOADED[SYSTEM] to the
# number of 200s. (Runs in this shell, so a signal stops it at once.)
load() {
    local sys=$1 base
    [ "$sys" = etcd ] && base=$ETCD_URL || base=$CAIRN_URL
    perl -MMIME::Base64 -e '
        my ($sys, $base, $n, $shards, $dir) = @ARGV;
        my $value = "0123456789abcdef" x 4;
        my $vb = encode_base64($value, "");
        my @fh;
        for my $s (0 .. $shards - 1) {
            open($fh[$s], ">", "$dir/load-$sys-$s.cfg") or die;
        }
        for my $i (0 .. $n - 1) {
            my $key = sprintf("bench/kv/%09d", $i);
            my $f = $fh[$i % $shards];
            if ($sys eq "etcd") {
                my $kb = encode_base64($key, "");
                print $f "url = \"$base/v3/kv/put\"\n",
                    "data-binary = \"{\\\"key\\\":\\\"$kb\\\",\\\"value\\\":\\\"$vb\\\"}\"\n";
            } else {
                print $f "url = \"$base/v1/kv/$key\"\nrequest = \"PUT\"\n",
                    "data-binary = \"$value\"\n";
            }
            print $f "output = \"/dev/null\"\nwrite-out = \"%{http_code}\\n\"\nnext\n";
        }
        close $_ for @fh;
    ' "$sys" "$base" "$NKEYS" "$LOADERS" "$WORK"
    local s pids=()
    for (( s = 0; s < LOADERS; s++ )); do
        timeout 900 curl -s -m 60 -K "$WORK/load-$sys-$s.cfg" >"$WORK/load-$sys-$s.out" 2>/dev/null &
        pids+=($!)
    done
    for s in "${pids[@]}"; do wait "$s"; done
    LOADED[$sys]=$(cat "$WORK"/load-"$sys"-*.out | grep -c '^200$')
    rm -f "$WORK"/load-"$sys"-*.cfg
}

declare -A LOADED LOADSECS RSS
for sys in etcd cairn; do
    eval "w=\$want_$sys"
    [ "$w" = 1 ] || continue
    say "bench: loading $NKEYS keys into $sys ($LOADERS curl streams)"
    t0=$(date +%s.%N)
    load "$sys"
    t1=$(date +%s.%N)
    LOADSECS[$sys]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    sleep 1
    [ "$sys" = etcd ] && pid=$ETCD_PID || pid=$CAIRN_PID
    RSS[$sys]=$(rss_kb "$pid")
    say "bench: $sys: ${LOADED[$sys]}/$NKEYS PUTs ok in ${LOADSECS[$sys]} s, RSS ${RSS[$sys]} kB"
done

# sanity: a preloaded key reads back from both
if [ "$want_etcd" = 1 ]; then
    k=$(printf 'bench/kv/%09d' $((NKEYS / 2)) | base64 -w0)
    curl -s -m 5 -X POST "$ETCD_URL/v3/kv/range" -d "{\"key\":\"$k\"}" | grep -q '"kvs"' ||
        say "bench: WARNING: etcd does not return a preloaded key"
fi
if [ "$want_cairn" = 1 ]; then
    [ "$(curl -s -m 5 "$CAIRN_URL/v1/kv/$(printf 'bench/kv/%09d' $((NKEYS / 2)))?raw")" = \
      "$(printf '0123456789abcdef%.0s' 1 2 3 4)" ] ||
        say "bench: WARNING: cairn does not return a preloaded key"
fi

# ---------------------------------------------------------------- measure

declare -A R   # R[sys,mode,conns] = "rps p50 p99 requests non2xx sockerr"
measure() {    # measure SYS MODE CONNS
    local sys=$1 mode=$2 c=$3 url out line
    [ "$sys" = etcd ] && url=$ETCD_URL || url=$CAIRN_URL
    out=$(MODE="${sys}_$mode" BENCH_KEYS=$NKEYS RUN="$mode$c" \
        timeout 300 wrk -t"$THREADS" -c"$c" -d"$DURATION" --timeout 5s -s "$LUA" "$url" 2>&1)
    line=$(printf '%s\n' "$out" | awk '/^RESULT / { $1 = ""; print substr($0, 2) }' | tail -1)
    if [ -z "$line" ]; then
        say "bench: wrk failed for $sys $mode c=$c:"; printf '%s\n' "$out" | tail -5 >&2
        line="0 0 0 0 0 0"
    fi
    R[$sys,$mode,$c]=$line
    set -- $line
    say "bench: $sys $mode c=$c: $1 req/s p50 $2 us p99 $3 us ($5 non-2xx, $6 socket errors)"
}

for c in $CONNS; do
    for sys in etcd cairn; do
        eval "w=\$want_$sys"; [ "$w" = 1 ] || continue
        measure "$sys" get "$c"
    done
    [ "$want_cairn" = 1 ] && measure cairn leader "$c"
done
for c in $CONNS; do
    for sys in etcd cairn; do
        eval "w=\$want_$sys"; [ "$w" = 1 ] || continue
        measure "$sys" put "$c"
    done
done

# ---------------------------------------------------------------- report

field() {   # field KEY N — Nth number of R[KEY], or -
    local v=${R[$1]:-} n=$2
    [ -n "$v" ] || { echo -; return; }
    local -a a=($v)
    echo "${a[$((n - 1))]:--}"
}
ms() { [ "$1" = - ] && echo - || awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2fx", a / b }'; }
meets() {   # meets VALUE OP TARGET
    awk -v v="${1%x}" -v op="$2" -v t="$3" 'BEGIN {
        if (v == "-" || v == "") { print "n/a"; exit }
        ok = (op == ">=") ? (v + 0 >= t) : (v + 0 <= t); print ok ? "yes" : "NO" }'
}

echo
echo "KV benchmark: cairn vs etcd $(etcd --version 2>/dev/null | awk '/etcd Version/ { print $3 }')," \
    "wrk -t$THREADS -d$DURATION, $NKEYS preloaded keys, 64-byte values, $(nproc) CPUs"
echo "data dirs under $WORK ($(df -T "$WORK" | awk 'NR == 2 { print $2 }'))"
echo
printf '%-22s %5s | %10s %8s %8s | %10s %8s %8s | %8s %8s %8s | %-7s %s\n' \
    test conns "cairn r/s" "p50 ms" "p99 ms" "etcd r/s" "p50 ms" "p99 ms" \
    "r/s x" "p50 x" "p99 x" target met
printf '%s\n' "$(printf '%.0s-' $(seq 1 142))"
row() {   # row LABEL MODE CONNS TARGET-MULTIPLE
    local label=$1 mode=$2 c=$3 tgt=$4
    local cr cp5 cp9 er ep5 ep9 rr
    cr=$(field "cairn,$mode,$c" 1); cp5=$(field "cairn,$mode,$c" 2); cp9=$(field "cairn,$mode,$c" 3)
    er=$(field "etcd,$mode,$c" 1); ep5=$(field "etcd,$mode,$c" 2); ep9=$(field "etcd,$mode,$c" 3)
    [ "$mode" = leader ] && { er=-; ep5=-; ep9=-; }
    rr=$(ratio "$cr" "$er")
    local met=-
    [ "$tgt" != - ] && met=$(meets "$rr" ">=" "$tgt")
    printf '%-22s %5s | %10s %8s %8s | %10s %8s %8s | %8s %8s %8s | %-7s %s\n' \
        "$label" "$c" "$cr" "$(ms "$cp5")" "$(ms "$cp9")" "$er" "$(ms "$ep5")" "$(ms "$ep9")" \
        "$rr" "$(ratio "$cp5" "$ep5")" "$(ratio "$cp9" "$ep9")" \
        "$([ "$tgt" = - ] && echo - || echo ">=${tgt}x")" "$met"
}
for c in $CONNS; do row "PUT new key" put "$c" 3; done
for c in $CONNS; do row "GET random key" get "$c" 8; done
for c in $CONNS; do row "GET /v1/status/leader" leader "$c" -; done
echo
rc_=${RSS[cairn]:--}; re_=${RSS[etcd]:--}
rr=$(ratio "$rc_" "$re_")
printf 'RSS after loading %d keys: cairn %s kB, etcd %s kB, ratio %s (target <= 0.4x: %s)\n' \
    "$NKEYS" "$rc_" "$re_" "$rr" "$(meets "$rr" "<=" 0.4)"
printf 'preload: cairn %s/%s ok in %s s, etcd %s/%s ok in %s s\n' \
    "${LOADED[cairn]:--}" "$NKEYS" "${LOADSECS[cairn]:--}" \
    "${LOADED[etcd]:--}" "$NKEYS" "${LOADSECS[etcd]:--}"
echo "r/s x = cairn/etcd throughput (higher is better); p50 x, p99 x = cairn/etcd latency (lower is better)"
echo "both servers use their default read mode (etcd range: linearizable; cairn GET: leader, no ?stale);"
echo "PUTs are durable Raft commits on both; wrk runs on the same $(nproc) CPUs as the servers"
errs=""
for k in "${!R[@]}"; do
    set -- ${R[$k]}
    [ "${5:-0}" != 0 ] || [ "${6:-0}" != 0 ] && errs="$errs $k(non-2xx=$5,sock=$6)"
done
[ -n "$errs" ] && echo "WARNING: errors during runs:$errs"
exit 0
