#!/usr/bin/env bash
# The cairn CLI against a running agent (spec/consul-api.md §9):
# kv get/put/delete/export/import, members, version, reload, help.
. "$(dirname "$0")/lib.sh"
require_binary

cfg=$IT_TMP/cli.yaml
printf 'log_level: info\n' >"$cfg"
agent_start c1 -config-file "$cfg" || finish
ADDR=127.0.0.1:$(agent_http c1)
export CAIRN_HTTP_ADDR=$ADDR

# run CMD... — runs "$CAIRN" CMD with a timeout; sets RC, OUT, ERR
run() {
    timeout 20 "$CAIRN" "$@" >"$IT_TMP/out" 2>"$IT_TMP/err" </dev/null
    RC=$?
    OUT=$(cat "$IT_TMP/out"); ERR=$(cat "$IT_TMP/err")
}
run_in() {   # run_in STDIN-FILE CMD...
    local f=$1; shift
    timeout 20 "$CAIRN" "$@" >"$IT_TMP/out" 2>"$IT_TMP/err" <"$f"
    RC=$?
    OUT=$(cat "$IT_TMP/out"); ERR=$(cat "$IT_TMP/err")
}

# ---- put / get
run kv put cli/a hello
assert_eq "kv put: exit 0" 0 "$RC"
assert_eq "kv put: message" "Success! Data written to: cli/a" "$OUT"
assert_eq "kv put: stored" hello "$(kv_raw cli/a)"
run kv get cli/a
assert_eq "kv get: exit 0" 0 "$RC"
assert_eq "kv get: value" hello "$OUT"
run kv get -http-addr="$ADDR" cli/a
assert_eq "kv get -http-addr=host:port" hello "$OUT"
run kv get -http-addr="http://$ADDR" cli/a
assert_eq "kv get -http-addr=http://host:port" hello "$OUT"
CAIRN_HTTP_ADDR=127.0.0.1:1 run kv get -http-addr "$ADDR" cli/a
assert_eq "-http-addr wins over CAIRN_HTTP_ADDR" hello "$OUT"

printf 'from a file\nline 2' >"$IT_TMP/val"
run kv put cli/file @"$IT_TMP/val"
assert_eq "kv put @file: exit 0" 0 "$RC"
assert_eq "kv put @file: stored" "$(cat "$IT_TMP/val")" "$(kv_raw cli/file)"
printf 'from stdin' >"$IT_TMP/stdin"
run_in "$IT_TMP/stdin" kv put cli/stdin -
assert_eq "kv put - (stdin): exit 0" 0 "$RC"
assert_eq "kv put - (stdin): stored" 'from stdin' "$(kv_raw cli/stdin)"
run kv put -base64 cli/b64 "$(b64 'decoded!')"
assert_eq "kv put -base64: stored decoded" 'decoded!' "$(kv_raw cli/b64)"
run kv get -base64 cli/b64
assert_eq "kv get -base64: base64 output" "$(b64 'decoded!')" "$OUT"
run kv put cli/empty
assert_eq "kv put without value: exit 0" 0 "$RC"
http GET /v1/kv/cli/empty
assert_eq "kv put without value: empty value" null "$(jget 0.Value <<<"$HTTP_BODY")"

run kv put -flags=42 cli/flagged flagval
assert_eq "kv put -flags: exit 0" 0 "$RC"
run kv get -detailed cli/flagged
assert_eq "kv get -detailed: exit 0" 0 "$RC"
assert_match "-detailed: Flags 42" "$OUT" $'(^|\n)Flags +42(\n|$)'
assert_match "-detailed: Key" "$OUT" $'(^|\n)Key +cli/flagged(\n|$)'
assert_match "-detailed: Value" "$OUT" $'(^|\n)Value +flagval(\n|$)'
assert_match "-detailed: Session -" "$OUT" $'(^|\n)Session +-(\n|$)'
assert_match "-detailed: CreateIndex" "$OUT" $'(^|\n)CreateIndex +[1-9][0-9]*(\n|$)'
assert_match "-detailed: ModifyIndex" "$OUT" $'(^|\n)ModifyIndex +[1-9][0-9]*(\n|$)'
assert_match "-detailed: LockIndex" "$OUT" $'(^|\n)LockIndex +0(\n|$)'

# ---- recurse / keys
for k in tree/a tree/b tree/sub/c treetop; do run kv put "$k" "val-$k"; done
run kv get -recurse tree/
assert_eq "kv get -recurse: exit 0" 0 "$RC"
assert_eq "kv get -recurse: key:value lines, sorted" \
    $'tree/a:val-tree/a\ntree/b:val-tree/b\ntree/sub/c:val-tree/sub/c' "$OUT"
run kv get -recurse tree
assert_eq "kv get -recurse: string prefix" \
    $'tree/a:val-tree/a\ntree/b:val-tree/b\ntree/sub/c:val-tree/sub/c\ntreetop:val-treetop' "$OUT"
run kv get -keys tree/
assert_eq "kv get -keys: one level (separator / by default)" $'tree/a\ntree/b\ntree/sub/' "$OUT"
run kv get -keys -separator= tree/
assert_eq "kv get -keys -separator='': every key" $'tree/a\ntree/b\ntree/sub/c' "$OUT"
run kv get -recurse -detailed tree/sub/
assert_match "kv get -recurse -detailed" "$OUT" $'(^|\n)Key +tree/sub/c(\n|$)'

# ---- errors
run kv get cli/missing
assert_eq "kv get missing: exit 1" 1 "$RC"
assert_contains "kv get missing: stderr text" "$ERR" "Error! No key exists at: cli/missing"
assert_eq "kv get missing: nothing on stdout" "" "$OUT"
run kv get -http-addr=127.0.0.1:1 cli/a
assert_eq "kv get against no agent: exit 1" 1 "$RC"
assert_ne "kv get against no agent: error on stderr" "" "$ERR"
run kv get
assert_eq "kv get without a key: exit 1" 1 "$RC"
run kv put
assert_eq "kv put without a key: exit 1" 1 "$RC"

# ---- CAS
http GET /v1/kv/cli/a
m=$(jget 0.ModifyIndex <<<"$HTTP_BODY")
run kv put -cas -modify-index="$((m + 100))" cli/a nope
assert_eq "kv put -cas stale: exit 1" 1 "$RC"
assert_ne "kv put -cas stale: error text" "" "$ERR"
assert_eq "kv put -cas stale: unchanged" hello "$(kv_raw cli/a)"
run kv put -cas -modify-index="$m" cli/a yes
assert_eq "kv put -cas right index: exit 0" 0 "$RC"
assert_eq "kv put -cas right index: written" yes "$(kv_raw cli/a)"
run kv put -cas -modify-index=0 cli/a again
assert_eq "kv put -cas -modify-index=0 on existing key: exit 1" 1 "$RC"
run kv put -cas -modify-index=0 cli/new created
assert_eq "kv put -cas -modify-index=0 on absent key: exit 0" 0 "$RC"

# ---- delete
run kv delete cli/new
assert_eq "kv delete: exit 0" 0 "$RC"
assert_eq "kv delete: message" "Success! Deleted key: cli/new" "$OUT"
run kv get cli/new
assert_eq "kv delete: gone" 1 "$RC"
http GET /v1/kv/cli/a
m=$(jget 0.ModifyIndex <<<"$HTTP_BODY")
run kv delete -cas -modify-index="$((m + 100))" cli/a
assert_eq "kv delete -cas stale: exit 1" 1 "$RC"
assert_eq "kv delete -cas stale: kept" yes "$(kv_raw cli/a)"
run kv delete -cas -modify-index="$m" cli/a
assert_eq "kv delete -cas right: exit 0" 0 "$RC"
run kv delete -recurse tree/
assert_eq "kv delete -recurse: exit 0" 0 "$RC"
assert_eq "kv delete -recurse: message" "Success! Deleted keys with prefix: tree/" "$OUT"
http GET '/v1/kv/tree/?recurse'
assert_eq "kv delete -recurse: prefix gone" 404 "$HTTP_STATUS"
assert_eq "kv delete -recurse: treetop kept" val-treetop "$(kv_raw treetop)"

# ---- export / import
head -c 300 /dev/urandom >"$IT_TMP/binval"
http PUT /v1/kv/exp/bin --data-binary @"$IT_TMP/binval"
http PUT '/v1/kv/exp/flags?flags=18446744073709551615' --data-binary f
http PUT /v1/kv/exp/plain --data-binary plain
run kv export exp/
assert_eq "kv export: exit 0" 0 "$RC"
assert_true "kv export: valid JSON" json_ok <<<"$OUT"
export_json=$OUT
assert_eq "kv export: 3 entries" 3 "$(jget '#' <<<"$OUT")"
assert_eq "kv export: sorted keys" $'exp/bin\nexp/flags\nexp/plain' "$(jget '*.key' <<<"$OUT")"
assert_eq "kv export: flags exact" 18446744073709551615 "$(jget 1.flags <<<"$OUT")"
assert_eq "kv export: value base64" "$(b64 plain)" "$(jget 2.value <<<"$OUT")"
jget 0.value <<<"$OUT" | base64 -d >"$IT_TMP/binback" 2>/dev/null
assert_true "kv export: binary value round trips" cmp -s "$IT_TMP/binval" "$IT_TMP/binback"
run kv export
assert_eq "kv export without prefix: everything" 0 "$RC"
assert_contains "kv export without prefix: has treetop" "$OUT" '"treetop"'

printf '%s' "$export_json" >"$IT_TMP/export.json"
http DELETE '/v1/kv/exp/?recurse'
run kv import @"$IT_TMP/export.json"
assert_eq "kv import @file: exit 0" 0 "$RC"
assert_contains "kv import: Imported: exp/plain" "$OUT" "Imported: exp/plain"
http GET '/v1/kv/exp/plain?raw'
assert_eq "kv import: value" plain "$HTTP_BODY"
http GET /v1/kv/exp/flags
assert_eq "kv import: flags exact" 18446744073709551615 "$(jget 0.Flags <<<"$HTTP_BODY")"
http GET '/v1/kv/exp/bin?raw'
assert_true "kv import: binary value" cmp -s "$IT_TMP/binval" "$HTTP_BODY_FILE"
printf '[{"key":"imp/one","flags":5,"value":"%s"},{"key":"imp/two","flags":0,"value":"%s"}]' \
    "$(b64 1)" "$(b64 2)" >"$IT_TMP/imp.json"
run_in "$IT_TMP/imp.json" kv import -
assert_eq "kv import - (stdin): exit 0" 0 "$RC"
assert_eq "kv import - : imp/one" 1 "$(kv_raw imp/one)"
assert_eq "kv import - : imp/two" 2 "$(kv_raw imp/two)"
printf '[{"key":' >"$IT_TMP/broken.json"
run kv import @"$IT_TMP/broken.json"
assert_eq "kv import of broken JSON: exit 1" 1 "$RC"

# ---- members
run members
assert_eq "members: exit 0" 0 "$RC"
assert_match "members: header" "$OUT" '^Node +Address +Status +Type'
assert_match "members: this node alive server" "$OUT" \
    $'\nc1 +127\\.0\\.0\\.1:'"$(agent_serf c1)"' +alive +server'
run members -detailed
assert_eq "members -detailed: exit 0" 0 "$RC"
assert_contains "members -detailed: tags" "$OUT" "role=consul"

# ---- reload, version, help, unknown command
run reload
assert_eq "reload: exit 0" 0 "$RC"
assert_contains "reload: message" "$OUT" "Configuration reload triggered"
assert_true "reload: agent still running" agent_alive c1
run reload -http-addr=127.0.0.1:1
assert_eq "reload against no agent: exit 1" 1 "$RC"
run version
assert_eq "version: exit 0" 0 "$RC"
assert_match "version: prints a version" "$OUT" '[0-9]+\.[0-9]+\.[0-9]+'
run --help
assert_eq "--help: exit 0" 0 "$RC"
assert_contains "--help: lists kv" "$OUT$ERR" kv
run -h
assert_eq "-h: exit 0" 0 "$RC"
run kv put -h
assert_eq "kv put -h: exit 0" 0 "$RC"
run frobnicate
assert_eq "unknown command: exit 1" 1 "$RC"
run kv frobnicate
assert_eq "unknown kv subcommand: exit 1" 1 "$RC"

finish
