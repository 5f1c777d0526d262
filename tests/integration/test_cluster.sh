#!/usr/bin/env bash
# Cluster membership with real agents on 127.0.0.1 (issue 4; spec
# consul-api.md 2.2, 2.3, 9 and gossip.md): ten encrypted agents (one
# -server -bootstrap, nine clients) join one another and all list ten
# alive; kill -9 of a client is detected by every other agent (Status 4)
# and turns its serfHealth critical on the server; it restarts on the same
# data dir and is alive again everywhere; a graceful leave is "left" (3),
# never "failed", and leaves the catalog; an agent with the wrong key is
# refused and changes nobody's member list; `cairn keyring -rotate` with
# the cluster running loses no member; and the join / leave / force-leave /
# keygen / keyring / members commands against the live cluster.
# shellcheck disable=SC2317 # helpers run through assert_eventually / assert_true
. "$(dirname "$0")/lib.sh"
require_binary

T_START=$(now_ms)
DETECT_SECS=${DETECT_SECS:-40}   # kill -9 -> failed everywhere (LAN max ~24 s)

# run CMD... — "$CAIRN" CMD with a timeout; sets RC, OUT, ERR
run() {
    timeout 60 "$CAIRN" "$@" >"$IT_TMP/out" 2>"$IT_TMP/err" </dev/null
    RC=$?
    OUT=$(cat "$IT_TMP/out"); ERR=$(cat "$IT_TMP/err")
}
# on NAME — the -http-addr flag for agent NAME
on() { echo "-http-addr=127.0.0.1:$(agent_http "$1")"; }

# msum NAME — agent NAME's member list as sorted "node=status" lines
# (empty when the agent does not answer).
msum() {
    curl -s -m 3 "http://127.0.0.1:$(agent_http "$1")/v1/agent/members" 2>/dev/null |
        perl -MJSON::PP -e '
            my $d = eval { decode_json(do { local $/; <STDIN> }) };
            exit 0 unless ref $d eq "ARRAY";
            print "$_->{Name}=$_->{Status}\n" for sort { $a->{Name} cmp $b->{Name} } @$d;'
}
# status_on OBSERVER NODE — NODE's Status in OBSERVER's list ("" if absent)
status_on() { msum "$1" | sed -n "s/^$2=//p"; }
# alive_count NAME — how many members NAME lists as alive
alive_count() { msum "$1" | grep -c '=1$'; }
# all_see NODE STATUS AGENT... — every AGENT lists NODE with STATUS
all_see() {
    local node=$1 want=$2 a; shift 2
    for a in "$@"; do
        [ "$(status_on "$a" "$node")" = "$want" ] || return 1
    done
}
# all_count N AGENT... — every AGENT lists exactly N alive members
all_count() {
    local n=$1 a; shift
    for a in "$@"; do
        [ "$(alive_count "$a")" = "$n" ] || return 1
    done
}
# serf_health SERVER NODE — serfHealth Status of NODE in the catalog
serf_health() {
    curl -s -m 3 "http://127.0.0.1:$(agent_http "$1")/v1/health/node/$2" 2>/dev/null |
        perl -MJSON::PP -e '
            my $d = eval { decode_json(do { local $/; <STDIN> }) } || [];
            for (@$d) { print $_->{Status} if $_->{CheckID} eq "serfHealth" }'
}
serf_health_is() { [ "$(serf_health "$1" "$2")" = "$3" ]; }
# catalog_has SERVER NODE — NODE is a catalog node
catalog_has() {
    curl -s -m 3 "http://127.0.0.1:$(agent_http "$1")/v1/catalog/nodes" 2>/dev/null |
        perl -MJSON::PP -e '
            my $d = eval { decode_json(do { local $/; <STDIN> }) } || [];
            exit((grep { $_->{Node} eq $ARGV[0] } @$d) ? 0 : 1)' "$2"
}
catalog_lacks() { ! catalog_has "$@"; }
# catalog_has_all SERVER NODE... — every NODE is a catalog node
catalog_has_all() {
    local srv=$1 n; shift
    for n in "$@"; do catalog_has "$srv" "$n" || return 1; done
}
# snapshot AGENT... — every agent's list, one block per agent
snapshot() {
    local a
    for a in "$@"; do echo "[$a]"; msum "$a"; done
}
# any_failed AGENT... — some AGENT lists some member as failed (4)
any_failed() {
    local a
    for a in "$@"; do msum "$a" | grep -q '=4$' && return 0; done
    return 1
}
none_failed() { ! any_failed "$@"; }
# absent_on OBSERVER NODE — NODE is not in OBSERVER's list at all
absent_on() { [ -z "$(status_on "$1" "$2")" ]; }
# no_failed_but NODE AGENT... — no AGENT lists a member other than NODE failed
no_failed_but() {
    local node=$1; shift
    ! snapshot "$@" | grep -v "^$node=" | grep -q '=4$'
}
elapsed() { echo "$(( ($(now_ms) - $1) / 100 ))" | sed 's/\(.\)$/.\1/; s/^\./0./'; }

# ------------------------------------------------------------ the cluster

run keygen
KEY=$OUT
assert_match "keygen: 44-character base64" "$KEY" '^[A-Za-z0-9+/]{43}=$'
assert_eq "keygen: 32 bytes" 32 "$(printf '%s' "$KEY" | base64 -d 2>/dev/null | wc -c)"
run keygen
assert_ne "keygen: a new key every time" "$KEY" "$OUT"

agent_start s1 -encrypt "$KEY" || finish
seed() { echo "127.0.0.1:$(agent_serf "$1")"; }
CLIENTS=(c1 c2 c3 c4 c5 c6 c7 c8 c9)
# join one another: the server, other clients, two seeds, retry-join
agent_start_client c1 -encrypt "$KEY" -join "$(seed s1)" || finish
agent_start_client c2 -encrypt "$KEY" -join "$(seed s1)" || finish
agent_start_client c3 -encrypt "$KEY" -join "$(seed c1)" || finish
agent_start_client c4 -encrypt "$KEY" -join "$(seed c2)" -join "$(seed s1)" || finish
agent_start_client c5 -encrypt "$KEY" -join "$(seed c3)" || finish
agent_start_client c6 -encrypt "$KEY" -join "$(seed c4)" || finish
agent_start_client c7 -encrypt "$KEY" -join "$(seed c5)" || finish
agent_start_client c8 -encrypt "$KEY" -join "$(seed c6)" -join "$(seed c7)" || finish
agent_start_client c9 -encrypt "$KEY" -retry-join "$(seed s1)" -retry-interval 1s || finish
ALL=(s1 "${CLIENTS[@]}")
t=$(now_ms)
assert_eventually "every agent lists ten alive members" 30 all_count 10 "${ALL[@]}"
echo "# ten agents converged $(elapsed "$t") s after the last start"
assert_true "no agent lists a failed member" none_failed "${ALL[@]}"

# catalog: the server registers every member with serfHealth passing
assert_eventually "server catalog has every member" 15 catalog_has_all s1 "${ALL[@]}"
assert_eventually "serfHealth passing for c3" 10 serf_health_is s1 c3 passing

# ---- members CLI against the real list
run members "$(on c2)"
assert_eq "members: exit 0" 0 "$RC"
assert_eq "members: header + ten rows" 11 "$(printf '%s\n' "$OUT" | wc -l)"
assert_eq "members: ten alive rows" 10 "$(printf '%s\n' "$OUT" | grep -c '  alive  ')"
assert_match "members: s1 is a server" "$OUT" $'(^|\n)s1 +127\\.0\\.0\\.1:[0-9]+ +alive +server +'
assert_match "members: c9 is a client" "$OUT" $'(^|\n)c9 +127\\.0\\.0\\.1:[0-9]+ +alive +client +'
run members "$(on c2)" -status=alive
assert_eq "members -status=alive: ten rows" 10 "$(printf '%s\n' "$OUT" | tail -n +2 | wc -l)"
run members "$(on c2)" -status=failed
assert_eq "members -status=failed: exit 2 (none)" 2 "$RC"
assert_eq "members -status=failed: no output" "" "$OUT"
run members "$(on c2)" -detailed
assert_eq "members -detailed: exit 0" 0 "$RC"
assert_match "members -detailed: Tags column" "$OUT" '^Node +Address +Status +Tags'
assert_match "members -detailed: client tags" "$OUT" \
    $'(^|\n)c1 +127\\.0\\.0\\.1:[0-9]+ +alive +[^\n]*role=node'
assert_match "members -detailed: server tags" "$OUT" \
    $'(^|\n)s1 +127\\.0\\.0\\.1:[0-9]+ +alive +[^\n]*role=consul'

# ---- keyring -list
run keyring "$(on s1)" -list
assert_eq "keyring -list: exit 0" 0 "$RC"
assert_eq "keyring -list: output" "==> Gathering installed encryption keys...

dc1 (LAN):
  $KEY [10/10]" "$OUT"
run keyring "$(on c5)" -list-primary
assert_contains "keyring -list-primary on a client" "$OUT" "  $KEY [10/10]"

# ------------------------------------------------------ kill -9 -> failed

SURV=(s1 c1 c2 c3 c5 c6 c7 c8 c9)
agent_kill9 c4
t=$(now_ms)
declare -A SEEN
first="" last=""
for (( i = 0; i < DETECT_SECS * 5; i++ )); do
    pending=0
    for a in "${SURV[@]}"; do
        [ -n "${SEEN[$a]:-}" ] && continue
        if [ "$(status_on "$a" c4)" = 4 ]; then
            SEEN[$a]=$(( $(now_ms) - t ))
            [ -z "$first" ] && first=${SEEN[$a]}
            last=${SEEN[$a]}
        else
            pending=$((pending + 1))
        fi
    done
    [ "$pending" = 0 ] && break
    sleep 0.2
done
if [ "$pending" = 0 ]; then
    ok "kill -9 c4: every other agent marks it failed (first ${first} ms, last ${last} ms)"
else
    fail "kill -9 c4: every other agent marks it failed within ${DETECT_SECS}s" \
        "$(snapshot "${SURV[@]}" | grep -E '^\[|^c4=')"
fi
# the watch ring: c4's watcher saw its connection close and a refused ping
watch_sum() { # STAT — sum of Stats.serf_lan.STAT over the survivors
    local a n sum=0
    for a in "${SURV[@]}"; do
        http_to "$a" GET /v1/agent/self
        n=$(jget Stats.serf_lan."$1" <<<"$HTTP_BODY")
        [[ $n =~ ^[0-9]+$ ]] && sum=$((sum + n))
    done
    echo "$sum"
}
assert_true "kill -9 c4: a watcher's connection to it broke" \
    test "$(watch_sum watches_lost)" -ge 1
assert_true "kill -9 c4: a probe ended on the refused stream ping" \
    test "$(watch_sum probes_refused)" -ge 1
assert_eventually "kill -9 c4: server serfHealth critical" 10 serf_health_is s1 c4 critical
assert_true "kill -9 c4: nobody else is marked failed" no_failed_but c4 "${SURV[@]}"
assert_true "kill -9 c4: survivors still list nine alive" all_count 9 "${SURV[@]}"
run members "$(on c7)" -status=failed
assert_eq "members -status=failed: exit 0" 0 "$RC"
assert_match "members -status=failed: just c4" "$OUT" \
    $'^Node +Address +Status +Type +Build +Protocol +DC +Partition +Segment\nc4 +127\\.0\\.0\\.1:[0-9]+ +failed +client +[^\n]*$'

# ---- restart on the same data dir
agent_restart c4 || finish
assert_eventually "restarted c4 alive again everywhere" 30 all_see c4 1 "${ALL[@]}"
assert_eventually "restarted c4 lists ten alive" 20 all_count 10 c4
assert_eventually "restarted c4: serfHealth passing" 15 serf_health_is s1 c4 passing

# ------------------------------------------------------- graceful leave

OTHERS=(s1 c1 c2 c3 c4 c5 c7 c8 c9)
run leave "$(on c6)"
assert_eq "leave: exit 0" 0 "$RC"
assert_eq "leave: message" "Graceful leave complete" "$OUT"
agent_wait_exit c6 15
assert_eq "leave: the agent exits 0" 0 "$AGENT_RC"
saw_failed=0
for (( i = 0; i < 75; i++ )); do
    s=$(snapshot "${OTHERS[@]}" | grep '^c6=')
    grep -q '=4$' <<<"$s" && saw_failed=1
    [ "$(grep -c '=3$' <<<"$s")" = ${#OTHERS[@]} ] && break
    sleep 0.2
done
assert_true "leave: every agent marks c6 left (3)" all_see c6 3 "${OTHERS[@]}"
assert_eq "leave: nobody ever marks c6 failed" 0 "$saw_failed"
assert_eventually "leave: c6 removed from the catalog" 15 catalog_lacks s1 c6
run members "$(on s1)" -status='^(left|failed)$'
assert_match "members -status=^(left|failed)$: just c6, left" "$OUT" \
    $'^Node +Address +Status +Type +Build +Protocol +DC +Partition +Segment\nc6 +127\\.0\\.0\\.1:[0-9]+ +left +client +[^\n]*$'
sleep 2
assert_true "leave: c6 is still left, not failed, later" all_see c6 3 "${OTHERS[@]}"

# ------------------------------------------------------------ wrong key

run keygen
BAD=$OUT
before=$(snapshot "${OTHERS[@]}")
agent_start_client bad -encrypt "$BAD" || finish
run join "$(on bad)" "$(seed s1)"
assert_eq "wrong key: cairn join exits 1" 1 "$RC"
assert_contains "wrong key: join error" "$ERR" "Failed to join any nodes."
http_to bad PUT "/v1/agent/join/$(seed c1)"
assert_eq "wrong key: PUT /v1/agent/join answers 500" 500 "$HTTP_STATUS"
assert_contains "wrong key: the join error says the peer refused" "$HTTP_BODY" \
    "peer rejected the request"
http_to c1 PUT "/v1/agent/join/$(seed bad)"
assert_eq "wrong key: a member cannot join it either (500)" 500 "$HTTP_STATUS"
sleep 3
assert_eq "wrong key: nobody's member list changed" "$before" "$(snapshot "${OTHERS[@]}")"
assert_eq "wrong key: it knows only itself" "bad=1" "$(msum bad)"
assert_true "wrong key: its log says why" \
    grep -qiE 'wrong key|unknown key' "$(agent_log bad)"
agent_stop bad

# --------------------------------------------------------- key rotation

run keygen
NEW=$OUT
timeout 60 "$CAIRN" keyring "$(on c2)" -rotate="$NEW" >"$IT_TMP/rot.out" 2>"$IT_TMP/rot.err" </dev/null &
rot=$!
it_track_pid "$rot"
lost=0
while pid_alive "$rot"; do
    any_failed "${OTHERS[@]}" && lost=1
    sleep 0.3
done
wait "$rot"
RC=$?
assert_eq "keyring -rotate: exit 0" 0 "$RC"
assert_contains "keyring -rotate: installs" "$(cat "$IT_TMP/rot.out")" "==> Installing new gossip encryption key..."
assert_contains "keyring -rotate: switches" "$(cat "$IT_TMP/rot.out")" "==> Changing primary gossip encryption key..."
assert_contains "keyring -rotate: removes the old key" "$(cat "$IT_TMP/rot.out")" "==> Removing gossip encryption key $KEY..."
assert_contains "keyring -rotate: verified" "$(cat "$IT_TMP/rot.out")" "Key rotation complete"
assert_eq "keyring -rotate: stderr empty" "" "$(cat "$IT_TMP/rot.err")"
assert_eq "keyring -rotate: no member marked failed meanwhile" 0 "$lost"
assert_true "keyring -rotate: every agent still lists nine alive" all_count 9 "${OTHERS[@]}"
run keyring "$(on s1)" -list
assert_eq "keyring -rotate: only the new key, on every node" "==> Gathering installed encryption keys...

dc1 (LAN):
  $NEW [9/9]" "$OUT"
assert_eq "keyring -rotate: persisted in local.keyring" "[\"$NEW\"]" \
    "$(tr -d ' \n' <"$(agent_data c7)/serf/local.keyring")"
assert_eq "keyring -rotate: local.keyring mode 0600" 600 \
    "$(stat -c %a "$(agent_data c7)/serf/local.keyring")"
# a restart loads the persisted keyring (its -encrypt key is the old one)
agent_stop c3
agent_restart c3 || finish
assert_eventually "restart after rotation: c3 alive everywhere" 30 all_see c3 1 "${OTHERS[@]}"
assert_eventually "restart after rotation: c3 lists nine alive" 20 all_count 9 c3

# ------------------------------------------- join / force-leave via the CLI

agent_start_client j1 -encrypt "$NEW" || finish
run join "$(on j1)" 127.0.0.1:1 "$(seed s1)"
assert_eq "join: exit 0 when one address worked" 0 "$RC"
assert_eq "join: message" "Successfully joined cluster by contacting 1 nodes." "$OUT"
assert_contains "join: the failed address is reported" "$ERR" "Error joining address '127.0.0.1:1'"
assert_eventually "join: j1 alive everywhere" 20 all_see j1 1 "${OTHERS[@]}"
assert_eventually "join: j1 lists ten alive" 20 all_count 10 j1
run join "$(on j1)" 127.0.0.1:1
assert_eq "join: exit 1 when none worked" 1 "$RC"
assert_contains "join: none worked" "$ERR" "Failed to join any nodes."

agent_kill9 j1
assert_eventually "force-leave: s1 sees j1 failed" "$DETECT_SECS" all_see j1 4 s1
assert_eventually "force-leave: j1 critical in the catalog" 10 serf_health_is s1 j1 critical
run force-leave "$(on s1)" j1
assert_eq "force-leave: exit 0" 0 "$RC"
assert_eq "force-leave: silent" "" "$OUT$ERR"
assert_eventually "force-leave: every agent marks j1 left" 10 all_see j1 3 "${OTHERS[@]}"
assert_eventually "force-leave: j1 removed from the catalog" 10 catalog_lacks s1 j1
run force-leave "$(on s1)" -prune j1
assert_eq "force-leave -prune: exit 0" 0 "$RC"
assert_eventually "force-leave -prune: j1 gone from s1's list" 5 absent_on s1 j1
sleep 1
echo "# after force-leave -prune on s1: j1 on c1 is '$(status_on c1 j1)', on c9 '$(status_on c9 j1)' (3 = left, empty = pruned)"
run force-leave "$(on s1)" nosuchnode
assert_eq "force-leave unknown node: exit 1" 1 "$RC"
assert_eq "force-leave unknown node: message" \
    "Error force leaving: Unexpected response code: 500 (agent: No node found with name 'nosuchnode')" "$ERR"
assert_true "force-leave: nobody else marked failed" no_failed_but j1 "${OTHERS[@]}"

echo "# test_cluster took $(elapsed "$T_START") s"
finish
