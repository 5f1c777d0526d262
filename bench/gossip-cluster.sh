#!/usr/bin/env bash
# bench/gossip-cluster.sh — cairn's cluster membership against HashiCorp
# Serf (memberlist), real processes on 127.0.0.1 (issue 4, "Benchmark
# against Serf"; spec gossip.md section 3 for the parameters).
#
# One invocation runs N=20 cairn agents (one -server -bootstrap, the rest
# clients), then N=20 Serf agents, never both at once, with the same LAN
# parameters: cairn's LAN profile and memberlist's DefaultLANConfig (serf's
# default "lan" profile) are both probe 1 s, probe timeout 500 ms, 3
# indirect checks, suspicion multiplier 4, gossip every 200 ms to 3 nodes.
# Both sides encrypt with the same 32-byte key (ENCRYPT=0 turns it off).
#
# For each side it measures
#   convergence  all agents started unjoined; at t0 every agent but the
#                first is told to join the first (all at once); the time
#                until every agent lists N alive members;
#   detection    ROUNDS times: kill -9 of one agent (never the first), the
#                time until the first and until the last survivor lists it
#                as failed; any other member listed failed meanwhile is
#                counted as a false failure;
#   RSS          VmRSS of every agent after the cluster has converged and
#                settled (SETTLE seconds), averaged;
# then prints both sides, the ratios cairn/Serf and the targets
# (convergence <= 0.7x, detection <= 0.8x, RSS <= 0.3x Serf).
#
# The member lists are polled by one small Go program (built here, next to
# Serf) every POLL_MS (100 ms) on all agents in parallel: cairn through
# GET /v1/agent/members, Serf through its RPC (what `serf members` uses),
# so both sides are measured the same way without a process per poll.
#
# Serf comes from Debian: golang-go and golang-github-hashicorp-serf-dev
# are installed if missing (apt-get, as root), and
# github.com/hashicorp/serf/cmd/serf is built offline in GOPATH mode
# (GO111MODULE=off, GOPATH=/usr/share/gocode plus a temporary directory,
# GOPROXY=off). Everything listens on 127.0.0.1 only; every process this
# script starts is stopped by PID and its temporary directory removed.
#
#   N=20 ROUNDS=3 POLL_MS=100 SETTLE=5 TIMEOUT=90 ENCRYPT=1 KEEP=0
#   CAIRN=build/cairn   SERF_BIN=<prebuilt serf, skips the build>
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-20}
ROUNDS=${ROUNDS:-3}
POLL_MS=${POLL_MS:-100}
SETTLE=${SETTLE:-5}
TIMEOUT=${TIMEOUT:-90}
ENCRYPT=${ENCRYPT:-1}
CAIRN=${CAIRN:-$ROOT/build/cairn}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gossip-bench.XXXXXX")
PIDS=()

log() { echo "# $*" >&2; }
die() { echo "gossip-cluster: $*" >&2; exit 1; }

# ------------------------------------------------------------ cleanup

stop_pids() {   # stop_pids PID... — TERM, bounded wait, then KILL; reap
    local p i
    for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
    for (( i = 0; i < 50; i++ )); do
        local alive=0
        for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for p in "$@"; do kill -KILL "$p" 2>/dev/null; done
    for p in "$@"; do wait "$p" 2>/dev/null; done
    return 0
}
cleanup() {
    [ ${#PIDS[@]} -gt 0 ] && stop_pids "${PIDS[@]}"
    if [ "${KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ "$N" -ge 3 ] || die "N must be at least 3"
if [ "$ROUNDS" -lt 1 ] || [ "$ROUNDS" -gt $(( N - 2 )) ]; then die "ROUNDS must be 1..N-2"; fi
[ -x "$CAIRN" ] || die "no cairn binary at $CAIRN (run make)"

# ------------------------------------------------------------ Serf

need_pkgs=""
for p in golang-go golang-github-hashicorp-serf-dev; do
    case "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" in
        *"ok installed"*) ;;
        *) need_pkgs="$need_pkgs $p" ;;
    esac
done
if [ -n "$need_pkgs" ]; then
    [ "$(id -u)" = 0 ] || die "missing packages:$need_pkgs (apt-get install them as root)"
    log "installing:$need_pkgs"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null 2>&1 || true
    # shellcheck disable=SC2086
    apt-get install -y -qq $need_pkgs >/dev/null || die "apt-get install$need_pkgs failed"
fi

GOWORK=$WORK/go
mkdir -p "$GOWORK/src/cairnbench/poll" "$WORK/bin"
gobuild() {
    env GO111MODULE=off GOPATH="/usr/share/gocode:$GOWORK" GOPROXY=off \
        GOFLAGS= GOCACHE="$GOWORK/cache" CGO_ENABLED=0 GOTOOLCHAIN=local \
        go build -o "$@"
}

# The poller: waits for agents, joins them, measures convergence and
# detection. One process, one goroutine per agent per poll.
cat >"$GOWORK/src/cairnbench/poll/main.go" <<'EOF'
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/serf/client"
)

var (
	kind     = flag.String("kind", "cairn", "cairn or serf")
	agentsF  = flag.String("agents", "", "name=apiaddr,... (cairn: HTTP host:port; serf: RPC host:port)")
	mode     = flag.String("mode", "ready", "ready | converge | detect")
	seed     = flag.String("seed", "", "converge: gossip address everyone joins")
	want     = flag.Int("n", 0, "converge: alive members every agent must list")
	target   = flag.String("target", "", "detect: node that is killed")
	pid      = flag.Int("pid", 0, "detect: PID to kill -9 at t0")
	interval = flag.Duration("interval", 100*time.Millisecond, "poll interval")
	timeout  = flag.Duration("timeout", 90*time.Second, "give up after")
)

type agent struct {
	name, api string
	rpc       *client.RPCClient
}

var hc = &http.Client{Timeout: 3 * time.Second}
var hcJoin = &http.Client{Timeout: 30 * time.Second}

var cairnStatus = []string{"none", "alive", "leaving", "left", "failed"}

func (a *agent) members() (map[string]string, error) {
	out := map[string]string{}
	if *kind == "cairn" {
		resp, err := hc.Get("http://" + a.api + "/v1/agent/members")
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			io.Copy(io.Discard, resp.Body)
			return nil, fmt.Errorf("status %d", resp.StatusCode)
		}
		var ms []struct {
			Name   string
			Status int
		}
		if err := json.NewDecoder(resp.Body).Decode(&ms); err != nil {
			return nil, err
		}
		for _, m := range ms {
			s := "unknown"
			if m.Status >= 0 && m.Status < len(cairnStatus) {
				s = cairnStatus[m.Status]
			}
			out[m.Name] = s
		}
		return out, nil
	}
	if a.rpc == nil {
		c, err := client.ClientFromConfig(&client.Config{Addr: a.api, Timeout: 3 * time.Second})
		if err != nil {
			return nil, err
		}
		a.rpc = c
	}
	ms, err := a.rpc.Members()
	if err != nil {
		a.rpc.Close()
		a.rpc = nil
		return nil, err
	}
	for _, m := range ms {
		out[m.Name] = m.Status
	}
	return out, nil
}

func (a *agent) join(addr string) error {
	if *kind == "cairn" {
		req, _ := http.NewRequest("PUT", "http://"+a.api+"/v1/agent/join/"+addr, nil)
		resp, err := hcJoin.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return fmt.Errorf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
		}
		return nil
	}
	if a.rpc == nil {
		if _, err := a.members(); err != nil {
			return err
		}
	}
	_, err := a.rpc.Join([]string{addr}, false)
	return err
}

// poll calls check(i, members) on every agent not done yet, all in
// parallel, every interval, until all are done or the deadline passes.
// Returns when each agent got done, relative to t0 (-1: never).
func poll(agents []*agent, t0 time.Time, check func(i int, m map[string]string) bool) []time.Duration {
	done := make([]time.Duration, len(agents))
	for i := range done {
		done[i] = -1
	}
	deadline := t0.Add(*timeout)
	for {
		tick := time.Now()
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i, a := range agents {
			if done[i] >= 0 {
				continue
			}
			wg.Add(1)
			go func(i int, a *agent) {
				defer wg.Done()
				m, err := a.members()
				if err != nil {
					return
				}
				if check(i, m) {
					at := time.Since(t0)
					mu.Lock()
					done[i] = at
					mu.Unlock()
				}
			}(i, a)
		}
		wg.Wait()
		all := true
		for _, d := range done {
			if d < 0 {
				all = false
			}
		}
		if all || time.Now().After(deadline) {
			return done
		}
		if s := *interval - time.Since(tick); s > 0 {
			time.Sleep(s)
		}
	}
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

func summary(done []time.Duration) (first, median, last int64, missing int) {
	var got []int64
	for _, d := range done {
		if d < 0 {
			missing++
		} else {
			got = append(got, ms(d))
		}
	}
	if len(got) == 0 {
		return -1, -1, -1, missing
	}
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	return got[0], got[len(got)/2], got[len(got)-1], missing
}

func main() {
	flag.Parse()
	var agents []*agent
	for _, kv := range strings.Split(*agentsF, ",") {
		p := strings.SplitN(kv, "=", 2)
		if len(p) != 2 {
			fmt.Fprintln(os.Stderr, "bad -agents entry:", kv)
			os.Exit(2)
		}
		agents = append(agents, &agent{name: p[0], api: p[1]})
	}
	switch *mode {
	case "ready":
		done := poll(agents, time.Now(), func(int, map[string]string) bool { return true })
		_, _, _, missing := summary(done)
		fmt.Printf("missing=%d\n", missing)
		if missing > 0 {
			os.Exit(1)
		}
	case "converge":
		t0 := time.Now()
		var jerr int32
		var jmu sync.Mutex
		var jwg sync.WaitGroup
		for _, a := range agents[1:] {
			jwg.Add(1)
			go func(a *agent) {
				defer jwg.Done()
				if err := a.join(*seed); err != nil {
					jmu.Lock()
					jerr++
					jmu.Unlock()
					fmt.Fprintf(os.Stderr, "join %s: %v\n", a.name, err)
				}
			}(a)
		}
		// agents[1:] use their own RPC connection in join; poll after the
		// joins were sent (serf RPC clients are not shared concurrently)
		jwg.Wait()
		joined := time.Since(t0)
		done := poll(agents, t0, func(i int, m map[string]string) bool {
			alive := 0
			for _, s := range m {
				if s == "alive" {
					alive++
				}
			}
			return alive >= *want
		})
		first, median, last, missing := summary(done)
		fmt.Printf("joins_ms=%d join_errors=%d first_ms=%d median_ms=%d all_ms=%d missing=%d\n",
			ms(joined), jerr, first, median, last, missing)
	case "detect":
		falseFailed := map[string]bool{}
		live := map[string]bool{} // the survivors: only they can be false failures
		for _, a := range agents {
			live[a.name] = true
		}
		var fmu sync.Mutex
		t0 := time.Now()
		if err := syscall.Kill(*pid, syscall.SIGKILL); err != nil {
			fmt.Fprintln(os.Stderr, "kill:", err)
			os.Exit(1)
		}
		done := poll(agents, t0, func(i int, m map[string]string) bool {
			for n, s := range m {
				if live[n] && s == "failed" {
					fmu.Lock()
					falseFailed[agents[i].name+":"+n] = true
					fmu.Unlock()
				}
			}
			return m[*target] == "failed"
		})
		first, median, last, missing := summary(done)
		fmt.Printf("first_ms=%d median_ms=%d last_ms=%d missing=%d false_failed=%d\n",
			first, median, last, missing, len(falseFailed))
	default:
		fmt.Fprintln(os.Stderr, "unknown -mode", *mode)
		os.Exit(2)
	}
}
EOF

command -v go >/dev/null || die "go not found after installing golang-go"
if [ -n "${SERF_BIN:-}" ]; then
    SERF=$SERF_BIN
else
    SERF=$WORK/bin/serf
    log "building github.com/hashicorp/serf/cmd/serf (GOPATH mode, offline)"
    t=$(date +%s)
    gobuild "$SERF" github.com/hashicorp/serf/cmd/serf >"$WORK/build.log" 2>&1 ||
        { cat "$WORK/build.log" >&2; die "building serf failed (a golang-*-dev package missing?)"; }
    log "serf built in $(( $(date +%s) - t )) s: $("$SERF" version | head -1)"
fi
POLL=$WORK/bin/poll
gobuild "$POLL" cairnbench/poll >"$WORK/build-poll.log" 2>&1 ||
    { cat "$WORK/build-poll.log" >&2; die "building the poller failed"; }

# ------------------------------------------------------------ ports

# A block of free consecutive ports on 127.0.0.1 (TCP and UDP).
NPORTS=$(( N * 6 + 10 ))
used=$(ss -Htuan 2>/dev/null | awk '{ n = split($5, a, ":"); print a[n] }' | sort -un)
BASE=""
for (( try = 0; try < 200; try++ )); do
    b=$(( 20000 + (RANDOM * 32768 + RANDOM) % 20000 ))
    clash=$(awk -v lo="$b" -v hi=$(( b + NPORTS )) '$1 >= lo && $1 < hi' <<<"$used" | head -1)
    [ -z "$clash" ] && { BASE=$b; break; }
done
[ -n "$BASE" ] || die "no free block of $NPORTS ports"
port() { echo $(( BASE + $1 )); }   # port K of the block

# ------------------------------------------------------------ helpers

KEY=$("$CAIRN" keygen) || die "cairn keygen failed"
rss_kib() { awk -v k="${2:-VmRSS}:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }
# field NAME LINE — value of NAME=... in a key=value line
field() { sed -n "s/.*\\b$1=\\(-\\?[0-9]*\\).*/\\1/p" <<<"$2"; }

declare -A R   # results: R[side.metric]

# measure SIDE — runs after the side's N agents are up: NAMES, APIS, SEEDS
# (gossip addresses) and APIDS are set. Fills R[side.*].
measure() {
    local side=$1 i agents
    agents=$(for (( i = 0; i < N; i++ )); do printf '%s=%s,' "${NAMES[$i]}" "${APIS[$i]}"; done)
    agents=${agents%,}
    "$POLL" -kind "$side" -mode ready -agents "$agents" -timeout 30s >/dev/null ||
        die "$side: agents did not come up (logs in $WORK/$side)"
    log "$side: $N agents up; joining them all to ${NAMES[0]}"
    local out
    out=$("$POLL" -kind "$side" -mode converge -agents "$agents" -seed "${SEEDS[0]}" \
        -n "$N" -interval "${POLL_MS}ms" -timeout "${TIMEOUT}s")
    log "$side: convergence: $out"
    R[$side.conv]=$(field all_ms "$out")
    R[$side.conv_first]=$(field first_ms "$out")
    [ "$(field missing "$out")" = 0 ] || R[$side.conv]=-1
    sleep "$SETTLE"
    local sum=0 min="" max=0 k a anon=0 pss=0
    for (( i = 0; i < N; i++ )); do
        k=$(rss_kib "${APIDS[$i]}"); k=${k:-0}
        a=$(rss_kib "${APIDS[$i]}" RssAnon); anon=$(( anon + ${a:-0} ))
        a=$(awk '$1 == "Pss:" { print $2 }' "/proc/${APIDS[$i]}/smaps_rollup" 2>/dev/null)
        pss=$(( pss + ${a:-0} ))
        sum=$(( sum + k ))
        [ -z "$min" ] || [ "$k" -lt "$min" ] && min=$k
        [ "$k" -gt "$max" ] && max=$k
    done
    R[$side.rss]=$(( sum / N )); R[$side.rss_min]=$min; R[$side.rss_max]=$max
    R[$side.rss_anon]=$(( anon / N )); R[$side.pss]=$(( pss / N ))
    log "$side: VmRSS avg $(( sum / N )) KiB (min $min, max $max)"
    local r victim firsts="" lasts="" fps=0 miss=0 surv
    for (( r = 1; r <= ROUNDS; r++ )); do
        victim=$(( N - r ))   # the last ones; earlier victims are gone
        surv=""
        for (( i = 0; i < victim; i++ )); do
            surv+="${NAMES[$i]}=${APIS[$i]},"
        done
        out=$("$POLL" -kind "$side" -mode detect -agents "${surv%,}" -target "${NAMES[$victim]}" \
            -pid "${APIDS[$victim]}" -interval "${POLL_MS}ms" -timeout "${TIMEOUT}s")
        wait "${APIDS[$victim]}" 2>/dev/null
        log "$side: round $r, kill -9 ${NAMES[$victim]}: $out"
        firsts+="$(field first_ms "$out") "; lasts+="$(field last_ms "$out") "
        fps=$(( fps + $(field false_failed "$out") ))
        miss=$(( miss + $(field missing "$out") ))
        R[$side.round$r]="first $(field first_ms "$out") ms, last $(field last_ms "$out") ms"
        sleep 2
    done
    # shellcheck disable=SC2086 # one number per word
    R[$side.det_first]=$(median $firsts)
    # shellcheck disable=SC2086
    R[$side.det_last]=$(median $lasts)
    R[$side.fp]=$fps
    R[$side.det_missing]=$miss
}
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# ------------------------------------------------------------ cairn

run_cairn() {
    local i dir flags
    NAMES=(); APIS=(); SEEDS=(); APIDS=()
    mkdir -p "$WORK/cairn"
    for (( i = 0; i < N; i++ )); do
        dir=$WORK/cairn/n$i
        mkdir -p "$dir"
        flags=(-node "n$i" -bind 127.0.0.1 -data-dir "$dir/data"
               -http-port "$(port $(( i * 4 )))" -serf-lan-port "$(port $(( i * 4 + 1 )))"
               -raft-port "$(port $(( i * 4 + 2 )))" -server-port "$(port $(( i * 4 + 3 )))"
               -serf-wan-port -1 -dns-port -1 -log-level warn)
        [ "$i" = 0 ] && flags+=(-server -bootstrap)
        [ "$ENCRYPT" = 1 ] && flags+=(-encrypt "$KEY")
        "$CAIRN" agent "${flags[@]}" >"$dir/agent.log" 2>&1 </dev/null &
        PIDS+=("$!"); APIDS+=("$!")
        NAMES+=("n$i"); APIS+=("127.0.0.1:$(port $(( i * 4 )))")
        SEEDS+=("127.0.0.1:$(port $(( i * 4 + 1 )))")
    done
    measure cairn
    stop_pids "${APIDS[@]}"
}

# ------------------------------------------------------------ Serf

run_serf() {
    local i dir off=$(( N * 4 + 4 )) flags
    NAMES=(); APIS=(); SEEDS=(); APIDS=()
    mkdir -p "$WORK/serf"
    for (( i = 0; i < N; i++ )); do
        dir=$WORK/serf/s$i
        mkdir -p "$dir"
        flags=(agent -node="s$i" -bind="127.0.0.1:$(port $(( off + i * 2 )))"
               -rpc-addr="127.0.0.1:$(port $(( off + i * 2 + 1 )))" -log-level=warn)
        [ "$ENCRYPT" = 1 ] && flags+=(-encrypt="$KEY")
        "$SERF" "${flags[@]}" >"$dir/agent.log" 2>&1 </dev/null &
        PIDS+=("$!"); APIDS+=("$!")
        NAMES+=("s$i"); APIS+=("127.0.0.1:$(port $(( off + i * 2 + 1 )))")
        SEEDS+=("127.0.0.1:$(port $(( off + i * 2 )))")
    done
    measure serf
    stop_pids "${APIDS[@]}"
}

log "N=$N per side, $ROUNDS kill rounds, poll every ${POLL_MS} ms, encryption $([ "$ENCRYPT" = 1 ] && echo on || echo off), ports $BASE..$(( BASE + NPORTS ))"
run_cairn
run_serf

# ------------------------------------------------------------ report

# ratio A B — A/B with two decimals ("n/a" when B is 0 or either missing)
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a < 0 || b <= 0 || a == "" || b == "") print "n/a"; else printf "%.2f", a / b }'
}
verdict() {   # verdict RATIO TARGET
    awk -v r="$1" -v t="$2" 'BEGIN { if (r == "n/a") print "n/a"; else if (r + 0 <= t + 0) print "met"; else print "MISSED" }'
}
secs() { awk -v v="$1" 'BEGIN { if (v < 0 || v == "") print "n/a"; else printf "%.2f s", v / 1000 }'; }
mib() { awk -v v="$1" 'BEGIN { printf "%.1f MiB", v / 1024 }'; }
row() {   # row LABEL CAIRN SERF RATIO TARGET
    local v
    v=$(verdict "$4" "$5")
    printf '%-40s %12s %12s %8s %8s  %s\n' "$1" "$2" "$3" "${4}x" "<= ${5}x" "$v"
}

echo
echo "gossip cluster benchmark: $N cairn agents vs $N Serf agents on 127.0.0.1"
echo "LAN parameters on both sides (probe 1 s, timeout 500 ms, 3 indirect checks, suspicion mult 4, gossip 200 ms x 3)"
echo "encryption $([ "$ENCRYPT" = 1 ] && echo on || echo off); member lists polled every ${POLL_MS} ms on all agents in parallel; $ROUNDS kill -9 rounds (medians)"
echo "serf: $("$SERF" version 2>/dev/null | head -1) (Debian golang-github-hashicorp-serf-dev $(dpkg-query -W -f='${Version}' golang-github-hashicorp-serf-dev 2>/dev/null), $(go version | awk '{ print $3 }')); cairn: $("$CAIRN" version | head -1)"
echo
printf '%-40s %12s %12s %8s %8s  %s\n' metric cairn serf ratio target verdict
rc=$(ratio "${R[cairn.conv]}" "${R[serf.conv]}")
row "convergence (all see $N alive)" "$(secs "${R[cairn.conv]}")" "$(secs "${R[serf.conv]}")" "$rc" 0.7
rf=$(ratio "${R[cairn.det_first]}" "${R[serf.det_first]}")
row "detection, first survivor (median)" "$(secs "${R[cairn.det_first]}")" "$(secs "${R[serf.det_first]}")" "$rf" 0.8
rl=$(ratio "${R[cairn.det_last]}" "${R[serf.det_last]}")
row "detection, last survivor (median)" "$(secs "${R[cairn.det_last]}")" "$(secs "${R[serf.det_last]}")" "$rl" 0.8
rr=$(ratio "${R[cairn.rss]}" "${R[serf.rss]}")
row "RSS per agent (VmRSS average)" "$(mib "${R[cairn.rss]}")" "$(mib "${R[serf.rss]}")" "$rr" 0.3
echo
printf '%-40s %12s %12s\n' "first agent with $N alive" "$(secs "${R[cairn.conv_first]}")" "$(secs "${R[serf.conv_first]}")"
printf '%-40s %12s %12s\n' "RSS min / max" "$(mib "${R[cairn.rss_min]}")" "$(mib "${R[serf.rss_min]}")"
printf '%-40s %12s %12s\n' "" "$(mib "${R[cairn.rss_max]}")" "$(mib "${R[serf.rss_max]}")"
printf '%-40s %12s %12s %8s\n' "RssAnon average (heap, stacks)" "$(mib "${R[cairn.rss_anon]}")" "$(mib "${R[serf.rss_anon]}")" \
    "$(ratio "${R[cairn.rss_anon]}" "${R[serf.rss_anon]}")x"
printf '%-40s %12s %12s %8s\n' "Pss average (shared pages split)" "$(mib "${R[cairn.pss]}")" "$(mib "${R[serf.pss]}")" \
    "$(ratio "${R[cairn.pss]}" "${R[serf.pss]}")x"
printf '%-40s %12s %12s\n' "false failures during the kill rounds" "${R[cairn.fp]}" "${R[serf.fp]}"
printf '%-40s %12s %12s\n' "survivors that never saw the kill" "${R[cairn.det_missing]}" "${R[serf.det_missing]}"
for (( r = 1; r <= ROUNDS; r++ )); do
    echo "round $r: cairn ${R[cairn.round$r]}; serf ${R[serf.round$r]}"
done
