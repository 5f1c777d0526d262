# shellcheck shell=bash
# lib.sh — harness for the integration tests (sourced by each test_*.sh).
#
# Real `cairn agent` processes on 127.0.0.1, each with its own ports and
# data directory under a per-test temporary directory. Everything a test
# starts is killed (by PID) and every temporary directory removed on exit.
# All traffic goes to 127.0.0.1; every wait loop is bounded.
#
#   CAIRN          path to the binary (tests/run.sh sets it; default build/cairn)
#   IT_KEEP=1      keep the temporary directory (agent logs) after the test
#   IT_VERBOSE=1   print the agent log tail on every failure
#
# Agents
#   agent_start NAME [flags...]   start (or restart on the same data dir and
#                                 ports) agent NAME; waits for a leader (~10 s).
#                                 With -dev as first flag: a dev agent (no
#                                 -server/-bootstrap/-data-dir). Returns 1 and
#                                 records a failure if it does not come up.
#   agent_spawn NAME [flags...]   start without waiting (for startup-failure
#                                 tests); agent_wait_exit NAME SECS sets AGENT_RC
#   agent_start_client / agent_spawn_client NAME [flags...]   the same for a
#                                 client agent (no -server/-bootstrap); ready
#                                 once /v1/agent/self answers
#   agent_restart NAME            agent_start with the flags of the last start
#   agent_stop NAME               SIGTERM, bounded wait, then SIGKILL;
#                                 sets AGENT_RC to the exit status
#   agent_kill9 NAME              SIGKILL now
#   agent_signal NAME SIG         send a signal
#   agent_alive NAME              0 if the process is running (not a zombie)
#   agent_pid / agent_http / agent_raft / agent_serf / agent_server /
#   agent_dns / agent_dir / agent_data / agent_log NAME
#   AGENT                         the agent `http` talks to (last started)
#
# HTTP (to $AGENT, or use http_to NAME ...)
#   http METHOD PATH [curl args...]   METHOD "-" = let curl choose (-d => POST)
#     sets HTTP_STATUS, HTTP_BODY (text, NULs dropped), HTTP_BODY_FILE,
#     HTTP_HDR_FILE; hdr NAME prints a response header value.
#   jget PATH <<<"$json"   PATH like Config.NodeName, 0.Key, *.Key (one per
#     line), "#" (length); prints strings raw, null as null, missing key as
#     <missing> (exit 3), objects/arrays as canonical compact JSON.
#   jpick FIELD VALUE <<<"$array"   the element whose FIELD is VALUE
#
#   kv_put KEY VALUE [query]   quiet PUT, 0 when the answer is true
#   kv_raw KEY                 print the value (exit 1 when missing)
#   kv_index KEY               X-Consul-Index of GET /v1/kv/KEY
#   kv_put_lines / kv_put_many PREFIX N TAG   N sequential PUTs on one
#                              keep-alive connection (lines / count of true)
#   kv_check_many PREFIX N TAG how many of the N keys hold their value
#
# Misc: free_port (reserved for this test), wait_until SECS cmd...,
#   now_ms, now_us, pid_alive PID, it_track_pid PID, require_binary.
#
# Background requests (several at once, e.g. parked blocking queries)
#   bgq_start NAME PATH [curl args...]  GET $AGENT's PATH in the background
#     (curl -m 30, or BGQ_TIMEOUT); files NAME.{code,body,hdr,start,end}
#   bgq_wait NAME SECS   bounded wait for it to finish (1 if still running)
#   bgq_done NAME        0 once finished;  bgq_code / bgq_body NAME print
#   bgq_index NAME       its X-Consul-Index;  bgq_elapsed NAME  ms taken
#   bgq_end NAME         ms timestamp when it finished
#
# JSON requests: jhttp METHOD PATH JSON   (http with --data-binary JSON)
#
# Assertions (counted): ok, fail, assert_eq, assert_ne, assert_contains,
#   assert_not_contains, assert_match, assert_num_between, assert_true,
#   assert_status DESC CODE METHOD PATH [curl args...];
#   finish prints "N passed, N failed" and exits 1 on any failure (or when
#   nothing passed).

set -u

IT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CAIRN=${CAIRN:-$IT_ROOT/build/cairn}
IT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/cairn-it.XXXXXX")
IT_PORT_LOCKS=${TMPDIR:-/tmp}/cairn-it-ports
PASSED=0
FAILED=0
AGENT=""
AGENT_RC=""
HTTP_STATUS=""
HTTP_BODY=""
HTTP_BODY_FILE=$IT_TMP/.http_body
HTTP_HDR_FILE=$IT_TMP/.http_hdr
HTTP_TIMEOUT=${HTTP_TIMEOUT:-15}

declare -A A_PID A_HTTP A_RAFT A_SERF A_WAN A_SERVER A_DNS A_FLAGS
declare -A A_ROLE   # "client" for agents started with agent_start_client
IT_PIDS=()
IT_PORTS=()

# ---------------------------------------------------------------- cleanup

# is_our_child PID — the process exists and this shell is its parent (a PID
# that was reaped and reused by someone else is never signalled).
is_our_child() {
    local st
    st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
    [ "$(echo "$st" | cut -d' ' -f2)" = "$$" ]
}

_it_cleanup() {
    local p
    for p in "${IT_PIDS[@]}"; do
        is_our_child "$p" && kill -KILL "$p" 2>/dev/null
    done
    for p in "${IT_PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
    for p in "${IT_PORTS[@]}"; do
        rm -rf "${IT_PORT_LOCKS:?}/$p"
    done
    if [ "${IT_KEEP:-0}" = 1 ]; then
        echo "# kept $IT_TMP"
    else
        rm -rf "$IT_TMP"
    fi
}
trap _it_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Register a PID so the EXIT trap kills it (for helpers a test starts).
it_track_pid() { IT_PIDS+=("$1"); }

# ---------------------------------------------------------------- time

# Microseconds / milliseconds since the epoch.
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
now_ms() { echo $(( $(now_us) / 1000 )); }

# wait_until SECS cmd... — poll cmd every 0.1 s for at most SECS seconds.
wait_until() {
    local secs=$1; shift
    local i n=$(( secs * 10 ))
    for (( i = 0; i < n; i++ )); do
        "$@" && return 0
        sleep 0.1
    done
    "$@"
}

# ---------------------------------------------------------------- ports

_port_listening() {   # any TCP socket (any state) or UDP socket on port $1
    local p=$1
    ss -Htan "sport = :$p" 2>/dev/null | grep -q . && return 0
    ss -Huan "sport = :$p" 2>/dev/null | grep -q . && return 0
    return 1
}

# Pick below the kernel's ephemeral range when there is room (outgoing
# connections never take such a port from us), else 20000-60000.
_port_range() {
    local lo
    lo=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
    if [[ $lo =~ ^[0-9]+$ ]] && [ "$lo" -ge 25000 ]; then
        echo "20000 $(( lo - 20000 ))"
    else
        echo "20000 40000"
    fi
}

# free_port — print a TCP+UDP port on 127.0.0.1 nobody listens on, reserved
# for this test (a lock directory) so tests running side by side never pick
# the same one. Reservations of dead test processes are reclaimed.
free_port() {
    local i p owner base span
    read -r base span < <(_port_range)
    mkdir -p "$IT_PORT_LOCKS"
    for (( i = 0; i < 500; i++ )); do
        p=$(( base + (RANDOM * 32768 + RANDOM) % span ))
        if ! mkdir "$IT_PORT_LOCKS/$p" 2>/dev/null; then
            owner=$(cat "$IT_PORT_LOCKS/$p/owner" 2>/dev/null)
            if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
                rm -rf "${IT_PORT_LOCKS:?}/$p"
            fi
            continue
        fi
        echo $$ >"$IT_PORT_LOCKS/$p/owner"
        if _port_listening "$p"; then
            rm -rf "${IT_PORT_LOCKS:?}/$p"
            continue
        fi
        echo "$p"
        return 0
    done
    echo "free_port: no free port found" >&2
    return 1
}

# free_port calls run in $( ) subshells; remember the reservation here.
_alloc_port() {
    local p
    p=$(free_port) || return 1
    IT_PORTS+=("$p")
    echo "$p" >"$IT_TMP/.lastport"
}
_last_port() { cat "$IT_TMP/.lastport"; }

# ---------------------------------------------------------------- agents

agent_dir() { echo "$IT_TMP/$1"; }
agent_data() { echo "$IT_TMP/$1/data"; }
agent_log() { echo "$IT_TMP/$1/agent.log"; }
agent_pid() { echo "${A_PID[$1]:-}"; }
agent_http() { echo "${A_HTTP[$1]:-}"; }
agent_raft() { echo "${A_RAFT[$1]:-}"; }
agent_serf() { echo "${A_SERF[$1]:-}"; }
agent_server() { echo "${A_SERVER[$1]:-}"; }
agent_dns() { echo "${A_DNS[$1]:-}"; }

pid_alive() {
    local pid=$1 st
    [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
    st=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
agent_alive() { pid_alive "${A_PID[$1]:-}"; }

_agent_ports() {
    local name=$1
    [ -n "${A_HTTP[$name]:-}" ] && return 0
    _alloc_port || return 1; A_HTTP[$name]=$(_last_port)
    _alloc_port || return 1; A_RAFT[$name]=$(_last_port)
    _alloc_port || return 1; A_SERF[$name]=$(_last_port)
    _alloc_port || return 1; A_WAN[$name]=$(_last_port)
    _alloc_port || return 1; A_SERVER[$name]=$(_last_port)
    _alloc_port || return 1; A_DNS[$name]=$(_last_port)
}

# The command line of agent NAME (printed NUL-separated into an array).
_agent_argv() {
    local name=$1; shift
    local -a cmd=("$CAIRN" agent)
    if [ "${1:-}" = -dev ]; then
        shift
        cmd+=(-dev)
    elif [ "${A_ROLE[$name]:-}" = client ]; then
        cmd+=(-data-dir "$(agent_data "$name")")
    else
        cmd+=(-server -bootstrap -data-dir "$(agent_data "$name")")
    fi
    cmd+=(-node "$name" -bind 127.0.0.1
          -http-port "${A_HTTP[$name]}" -raft-port "${A_RAFT[$name]}"
          -serf-lan-port "${A_SERF[$name]}" -serf-wan-port "${A_WAN[$name]}"
          -server-port "${A_SERVER[$name]}" -dns-port "${A_DNS[$name]}")
    cmd+=("$@")
    printf '%s\0' "${cmd[@]}"
}

# agent_spawn NAME [flags...] — start agent NAME in the background.
agent_spawn() {
    local name=$1; shift
    local dir log
    dir=$(agent_dir "$name")
    log=$(agent_log "$name")
    mkdir -p "$dir"
    _agent_ports "$name" || { fail "agent $name: ports" "no free port"; return 1; }
    if agent_alive "$name"; then
        fail "agent $name: start" "already running (pid ${A_PID[$name]})"
        return 1
    fi
    A_FLAGS[$name]=""
    [ $# -gt 0 ] && A_FLAGS[$name]=$(printf '%q ' "$@")
    local -a argv
    mapfile -d '' argv < <(_agent_argv "$name" "$@")
    echo "=== $(date '+%T.%N') start: ${argv[*]}" >>"$log"
    "${argv[@]}" >>"$log" 2>&1 </dev/null &
    A_PID[$name]=$!
    IT_PIDS+=("$!")
    AGENT=$name
}

# leader_ready NAME — /v1/status/leader answers a non-empty JSON string.
leader_ready() {
    local body
    body=$(curl -s -m 2 "http://127.0.0.1:${A_HTTP[$1]}/v1/status/leader" 2>/dev/null) || return 1
    [[ $body =~ ^\"[^\"]+\"[[:space:]]*$ ]]
}

# agent_wait_ready NAME [SECS] — bounded wait for a leader; 1 if the
# process died or no leader within SECS (default 10).
agent_wait_ready() {
    local name=$1 secs=${2:-10} i
    for (( i = 0; i < secs * 10; i++ )); do
        agent_alive "$name" || return 1
        if [ "${A_ROLE[$name]:-}" = client ]; then
            api_ready "$name" && return 0
        else
            leader_ready "$name" && return 0
        fi
        sleep 0.1
    done
    return 1
}

agent_start() {
    local name=$1
    agent_spawn "$@" || return 1
    if ! agent_wait_ready "$name" "${AGENT_START_TIMEOUT:-10}"; then
        local why="no leader within ${AGENT_START_TIMEOUT:-10}s"
        agent_alive "$name" || why="process exited"
        fail "agent $name started" "$why; log tail:
$(tail -n 15 "$(agent_log "$name")" 2>/dev/null)"
        return 1
    fi
    return 0
}

# api_ready NAME — GET /v1/agent/self answers 200 (a client has no leader).
api_ready() {
    [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' \
        "http://127.0.0.1:${A_HTTP[$1]}/v1/agent/self" 2>/dev/null)" = 200 ]
}

# agent_start_client / agent_spawn_client NAME [flags...] — the same as
# agent_start / agent_spawn for a client agent (no -server/-bootstrap, its
# own data dir); ready once its HTTP API answers. agent_restart keeps the
# role.
agent_start_client() { A_ROLE[$1]=client; agent_start "$@"; }
agent_spawn_client() { A_ROLE[$1]=client; agent_spawn "$@"; }

agent_restart() {
    local name=$1
    eval "local -a flags=(${A_FLAGS[$name]:-})"
    # shellcheck disable=SC2154
    agent_start "$name" "${flags[@]}"
}

# agent_wait_exit NAME SECS — wait (bounded) for the process to exit; sets
# AGENT_RC (124 if still running). Call it directly, not in $( ): only this
# shell can reap the agent and read its exit status.
agent_wait_exit() {
    local name=$1 secs=$2 pid=${A_PID[$1]:-} i
    AGENT_RC=124
    [ -n "$pid" ] || { AGENT_RC=127; return; }
    for (( i = 0; i < secs * 10; i++ )); do
        pid_alive "$pid" || break
        sleep 0.1
    done
    if ! pid_alive "$pid"; then
        wait "$pid" 2>/dev/null
        AGENT_RC=$?
    fi
}

agent_stop() {
    local name=$1 pid=${A_PID[$1]:-}
    AGENT_RC=""
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    agent_wait_exit "$name" "${AGENT_STOP_TIMEOUT:-10}"
    if [ "$AGENT_RC" = 124 ]; then
        echo "# agent $name did not exit on SIGTERM; SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        AGENT_RC=124
    fi
    echo "=== $(date '+%T.%N') stopped rc=$AGENT_RC" >>"$(agent_log "$name")"
    return 0
}

agent_kill9() {
    local pid=${A_PID[$1]:-}
    [ -n "$pid" ] || return 0
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    AGENT_RC=$?
    echo "=== $(date '+%T.%N') killed -9" >>"$(agent_log "$1")"
}

agent_signal() { kill -"$2" "${A_PID[$1]}" 2>/dev/null; }

# ---------------------------------------------------------------- HTTP

# http_to NAME METHOD PATH [curl args...]
http_to() {
    local name=$1 method=$2 path=$3; shift 3
    local -a m=()
    [ "$method" != - ] && m=(-X "$method")
    : >"$HTTP_BODY_FILE"; : >"$HTTP_HDR_FILE"
    HTTP_STATUS=$(curl -s -m "$HTTP_TIMEOUT" "${m[@]}" -o "$HTTP_BODY_FILE" \
        -D "$HTTP_HDR_FILE" -w '%{http_code}' "$@" \
        "http://127.0.0.1:${A_HTTP[$name]}$path" 2>/dev/null)
    [ -n "$HTTP_STATUS" ] || HTTP_STATUS=000
    HTTP_BODY=$(tr -d '\0' <"$HTTP_BODY_FILE")
}
http() { http_to "$AGENT" "$@"; }

# url PATH — full URL of $AGENT
url() { echo "http://127.0.0.1:${A_HTTP[$AGENT]}$1"; }

# hdr NAME — value of a header of the last response ("" when absent).
hdr() {
    awk -v n="$1" 'BEGIN { n = tolower(n) }
        { sub(/\r$/, "") }
        /^HTTP\// { v = ""; found = 0 }
        { i = index($0, ":"); if (i > 0 && tolower(substr($0, 1, i - 1)) == n) {
              v = substr($0, i + 1); sub(/^[ \t]+/, "", v); found = 1 } }
        END { if (found) print v }' "$HTTP_HDR_FILE"
}
has_hdr() {
    grep -qi "^$1:" "$HTTP_HDR_FILE"
}

# kv_put KEY VALUE [query] — quiet PUT, returns 0 when the body is true.
kv_put() {
    local out
    out=$(curl -s -m "$HTTP_TIMEOUT" -X PUT --data-binary "$2" \
        "http://127.0.0.1:${A_HTTP[$AGENT]}/v1/kv/$1${3:+?$3}" 2>/dev/null)
    [ "$out" = true ]
}

# kv_raw KEY — print the raw value (empty + exit 1 when missing).
kv_raw() {
    local code
    code=$(curl -s -m "$HTTP_TIMEOUT" -o "$IT_TMP/.kv_raw" -w '%{http_code}' \
        "http://127.0.0.1:${A_HTTP[$AGENT]}/v1/kv/$1?raw" 2>/dev/null)
    [ "$code" = 200 ] || return 1
    cat "$IT_TMP/.kv_raw"
}

# kv_index KEY — the X-Consul-Index of GET /v1/kv/KEY.
kv_index() {
    curl -s -m "$HTTP_TIMEOUT" -o /dev/null -D - \
        "http://127.0.0.1:${A_HTTP[$AGENT]}/v1/kv/$1" 2>/dev/null |
        awk 'tolower($1) == "x-consul-index:" { gsub(/\r/, ""); print $2 }'
}

# kv_put_lines PREFIX N TAG — PUT PREFIX0..PREFIX(N-1) = "TAG-i" in order
# over one keep-alive connection (one curl process); prints one line per
# PUT: its body ("true"), or an empty line when it failed.
kv_put_lines() {
    local prefix=$1 n=$2 tag=$3 i
    local -a args=()
    for (( i = 0; i < n; i++ )); do
        [ "$i" -gt 0 ] && args+=(--next)
        args+=(-s -m 30 -X PUT --data-binary "$tag-$i" -w '\n'
               "http://127.0.0.1:${A_HTTP[$AGENT]}/v1/kv/$prefix$i")
    done
    timeout 300 curl "${args[@]}" 2>/dev/null
}
# kv_put_many PREFIX N TAG — the same; prints how many answered true.
kv_put_many() { kv_put_lines "$@" | grep -c '^true$'; }

# kv_check_many PREFIX N TAG — prints how many of PREFIX0..PREFIX(N-1) exist
# with value "TAG-i" (one GET ?recurse).
kv_check_many() {
    curl -s -m 60 "http://127.0.0.1:${A_HTTP[$AGENT]}/v1/kv/$1?recurse" 2>/dev/null |
    perl -MJSON::PP -MMIME::Base64 -e '
        my ($p, $n, $t) = @ARGV;
        my $txt = do { local $/; <STDIN> };
        my $d = eval { JSON::PP->new->allow_nonref->decode($txt) };
        my %v;
        if (ref $d eq "ARRAY") {
            $v{$_->{Key}} = defined $_->{Value} ? decode_base64($_->{Value}) : ""
                for @$d;
        }
        my $ok = 0;
        for my $i (0 .. $n - 1) {
            $ok++ if exists $v{"$p$i"} && $v{"$p$i"} eq "$t-$i";
        }
        print $ok;
    ' "$1" "$2" "$3"
}

# jhttp METHOD PATH JSON [curl args...] — http with JSON as the body
jhttp() {
    local m=$1 p=$2 j=$3; shift 3
    http "$m" "$p" --data-binary "$j" "$@"
}

# ---------------------------------------------------------------- background

# bgq_start NAME PATH [curl args...] — GET PATH of $AGENT in the background.
bgq_start() {
    local n=$1 path=$2; shift 2
    local u
    u=$(url "$path")
    now_ms >"$IT_TMP/$n.start"
    rm -f "$IT_TMP/$n.end" "$IT_TMP/$n.code" "$IT_TMP/$n.body" "$IT_TMP/$n.hdr"
    ( curl -s -m "${BGQ_TIMEOUT:-30}" -o "$IT_TMP/$n.body" -D "$IT_TMP/$n.hdr" \
        -w '%{http_code}' "$@" "$u" >"$IT_TMP/$n.code" 2>/dev/null
      now_ms >"$IT_TMP/$n.end" ) &
    IT_PIDS+=("$!")
    eval "BGQ_PID_$n=$!"
}
bgq_pid() { eval "echo \${BGQ_PID_$1:-}"; }
bgq_done() { ! pid_alive "$(bgq_pid "$1")"; }
bgq_wait() {
    local n=$1 secs=$2 pid i
    pid=$(bgq_pid "$n")
    for (( i = 0; i < secs * 20; i++ )); do
        pid_alive "$pid" || break
        sleep 0.05
    done
    pid_alive "$pid" && return 1
    wait "$pid" 2>/dev/null
    return 0
}
bgq_code() { cat "$IT_TMP/$1.code" 2>/dev/null; }
bgq_body() { cat "$IT_TMP/$1.body" 2>/dev/null; }
bgq_end() { cat "$IT_TMP/$1.end" 2>/dev/null; }
bgq_index() {
    awk 'tolower($1) == "x-consul-index:" { gsub(/\r/, ""); print $2 }' "$IT_TMP/$1.hdr" 2>/dev/null
}
bgq_elapsed() { echo $(( $(cat "$IT_TMP/$1.end") - $(cat "$IT_TMP/$1.start") )); }

# ---------------------------------------------------------------- JSON

jget() {
    perl -MJSON::PP -e '
        my $j = JSON::PP->new->allow_nonref->canonical;
        binmode STDIN; binmode STDOUT, ":encoding(UTF-8)";
        my $txt = do { local $/; <STDIN> };
        my $d = eval { JSON::PP->new->utf8->allow_nonref->decode($txt) };
        if ($@) { print "<invalid json>"; exit 4 }
        my @path = grep { length } split /\./, $ARGV[0];
        sub walk {
            my ($d, @p) = @_;
            return ($d) unless @p;
            my $s = shift @p;
            if ($s eq "#") {
                return (ref $d eq "ARRAY" ? scalar @$d :
                        ref $d eq "HASH" ? scalar keys %$d :
                        defined $d ? length $d : 0);
            }
            if ($s eq "*") {
                return () unless ref $d eq "ARRAY";
                return map { walk($_, @p) } @$d;
            }
            if (ref $d eq "ARRAY") {
                return (\"<missing>") if $s !~ /^\d+$/ || $s >= @$d;
                return walk($d->[$s], @p);
            }
            if (ref $d eq "HASH") {
                return (\"<missing>") unless exists $d->{$s};
                return walk($d->{$s}, @p);
            }
            return (\"<missing>");
        }
        my @out = walk($d, @path);
        my $rc = 0;
        my @lines;
        for my $v (@out) {
            if (!defined $v) { push @lines, "null" }
            elsif (ref $v eq "SCALAR") { push @lines, $$v; $rc = 3 }
            elsif (ref $v) { push @lines, $j->encode($v) }
            else { push @lines, $v }
        }
        print join("\n", @lines);
        exit $rc;
    ' "$1"
}

# jpick FIELD VALUE <<<"$array" — the first element of a JSON array whose
# FIELD (dotted path) is the string VALUE, as canonical JSON; "null" when
# none matches (so jget on it gives <missing>/null).
jpick() {
    perl -MJSON::PP -e '
        my $j = JSON::PP->new->allow_nonref->canonical;
        binmode STDOUT, ":encoding(UTF-8)";
        my $txt = do { local $/; <STDIN> };
        my $d = eval { JSON::PP->new->utf8->allow_nonref->decode($txt) };
        my @p = split /\./, $ARGV[0];
        if (ref $d eq "ARRAY") {
            for my $e (@$d) {
                my $v = $e;
                for my $k (@p) { $v = ref $v eq "HASH" ? $v->{$k} : undef }
                if (defined $v && !ref $v && $v eq $ARGV[1]) { print $j->encode($e); exit 0 }
            }
        }
        print "null";
    ' "$1" "$2"
}

# json_ok — stdin parses as JSON
json_ok() { perl -MJSON::PP -e 'local $/; JSON::PP->new->allow_nonref->decode(<STDIN>); 1' 2>/dev/null; }

# b64 STRING — standard base64 of STRING (no newline)
b64() { printf '%s' "$1" | base64 -w0; }

# ---------------------------------------------------------------- assertions

_log_tail() {
    if [ "${IT_VERBOSE:-0}" = 1 ] && [ -n "$AGENT" ]; then
        echo "    --- agent $AGENT log tail:"
        tail -n 10 "$(agent_log "$AGENT")" 2>/dev/null | sed 's/^/    | /'
    fi
}

ok() {
    PASSED=$((PASSED + 1))
    echo "ok - $1"
}

fail() {
    FAILED=$((FAILED + 1))
    echo "FAIL - $1"
    [ -n "${2:-}" ] && printf '%s\n' "$2" | head -c 2000 | sed 's/^/    /'
    _log_tail
    return 0
}

# _show VALUE — a value for messages, shortened
_show() {
    local v=$1
    if [ ${#v} -gt 300 ]; then v="${v:0:300}...(${#1} chars)"; fi
    printf '%s' "$v"
}

assert_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else
        fail "$1" "expected: $(_show "$2")
actual:   $(_show "$3")"; fi
}
assert_ne() {
    if [ "$2" != "$3" ]; then ok "$1"; else
        fail "$1" "expected anything but: $(_show "$2")"; fi
}
# assert_contains DESC HAYSTACK NEEDLE
assert_contains() {
    if [[ $2 == *"$3"* ]]; then ok "$1"; else
        fail "$1" "expected to contain: $(_show "$3")
actual: $(_show "$2")"; fi
}
assert_not_contains() {
    if [[ $2 != *"$3"* ]]; then ok "$1"; else
        fail "$1" "expected not to contain: $(_show "$3")
actual: $(_show "$2")"; fi
}
# assert_match DESC VALUE ERE
assert_match() {
    if [[ $2 =~ $3 ]]; then ok "$1"; else
        fail "$1" "expected to match /$3/
actual: $(_show "$2")"; fi
}
# assert_true DESC cmd... — passes when cmd exits 0
assert_true() {
    local d=$1; shift
    if "$@"; then ok "$d"; else fail "$d" "command failed: $*"; fi
}
# assert_status DESC CODE METHOD PATH [curl args...] — runs `http` and
# checks the status; the response stays in HTTP_* for further checks.
assert_status() {
    local d=$1 code=$2; shift 2
    http "$@"
    if [ "$HTTP_STATUS" = "$code" ]; then ok "$d"; else
        fail "$d" "expected status $code, got $HTTP_STATUS; body: $(_show "$HTTP_BODY")"; fi
}
# assert_eventually DESC SECS cmd... — passes once cmd exits 0 (polled
# every 0.1 s for at most SECS seconds)
assert_eventually() {
    local d=$1 secs=$2; shift 2
    if wait_until "$secs" "$@"; then ok "$d"; else
        fail "$d" "still false after ${secs}s: $*"; fi
}
# assert_num_between DESC LO HI VALUE (integers)
assert_num_between() {
    if [[ $4 =~ ^[0-9]+$ ]] && [ "$4" -ge "$2" ] && [ "$4" -le "$3" ]; then ok "$1"; else
        fail "$1" "expected $2..$3, got $(_show "$4")"; fi
}

# skip_all REASON — nothing can be tested (e.g. no binary): one failure.
require_binary() {
    if [ ! -x "$CAIRN" ]; then
        fail "cairn binary present at $CAIRN" "build it with make"
        finish
    fi
}

finish() {
    echo "$PASSED passed, $FAILED failed"
    if [ "$FAILED" -gt 0 ] || [ "$PASSED" -eq 0 ]; then exit 1; fi
    exit 0
}
