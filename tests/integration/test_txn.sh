#!/usr/bin/env bash
# PUT /v1/txn: all-or-nothing KV transactions (spec/consul-api.md §1.4).
. "$(dirname "$0")/lib.sh"
require_binary

agent_start txn1 || finish

txn() { http PUT /v1/txn --data-binary "$1"; }

# ---- set + set + get, all committed
va=$(b64 alpha); vb=$(b64 beta)
txn '[{"KV":{"Verb":"set","Key":"t/a","Value":"'"$va"'"}},
      {"KV":{"Verb":"set","Key":"t/b","Value":"'"$vb"'","Flags":18446744073709551615}},
      {"KV":{"Verb":"get","Key":"t/a"}}]'
assert_eq "set+set+get: 200" 200 "$HTTP_STATUS"
assert_match "set+set+get: Content-Type json" "$(hdr Content-Type)" '^application/json'
assert_eq "set+set+get: 3 results" 3 "$(jget Results.# <<<"$HTTP_BODY")"
assert_eq "set+set+get: Errors null" null "$(jget Errors <<<"$HTTP_BODY")"
assert_eq "result 0: Key t/a" t/a "$(jget Results.0.KV.Key <<<"$HTTP_BODY")"
assert_eq "result 0 (set): Value null" null "$(jget Results.0.KV.Value <<<"$HTTP_BODY")"
assert_eq "result 1: Flags exact uint64" 18446744073709551615 "$(jget Results.1.KV.Flags <<<"$HTTP_BODY")"
assert_contains "result 1: Flags exact in the JSON text" "$HTTP_BODY" '"Flags":18446744073709551615'
assert_eq "result 2 (get): Value" "$va" "$(jget Results.2.KV.Value <<<"$HTTP_BODY")"
ci=$(jget Results.0.KV.CreateIndex <<<"$HTTP_BODY")
mi=$(jget Results.0.KV.ModifyIndex <<<"$HTTP_BODY")
assert_match "result: CreateIndex set" "$ci" '^[1-9][0-9]*$'
assert_eq "one txn = one index for every op" "$mi" "$(jget Results.1.KV.ModifyIndex <<<"$HTTP_BODY")"
assert_eq "committed: t/a visible" alpha "$(kv_raw t/a)"
assert_eq "committed: t/b visible" beta "$(kv_raw t/b)"

# ---- a failing check-index rolls everything back
before=$(kv_index t/a)
txn '[{"KV":{"Verb":"set","Key":"t/c","Value":"'"$(b64 gamma)"'"}},
      {"KV":{"Verb":"set","Key":"t/a","Value":"'"$(b64 changed)"'"}},
      {"KV":{"Verb":"check-index","Key":"t/b","Index":999999}}]'
assert_eq "failing check-index: 409" 409 "$HTTP_STATUS"
assert_eq "409: Results null" null "$(jget Results <<<"$HTTP_BODY")"
assert_eq "409: one error" 1 "$(jget Errors.# <<<"$HTTP_BODY")"
assert_eq "409: OpIndex of the failing op" 2 "$(jget Errors.0.OpIndex <<<"$HTTP_BODY")"
assert_ne "409: What explains" "" "$(jget Errors.0.What <<<"$HTTP_BODY")"
http GET /v1/kv/t/c
assert_eq "rolled back: t/c (set before the failure) not visible" 404 "$HTTP_STATUS"
assert_eq "rolled back: t/a keeps its value" alpha "$(kv_raw t/a)"
assert_eq "rolled back: table index unchanged" "$before" "$(kv_index t/a)"

# check-index with the right index passes
txn '[{"KV":{"Verb":"check-index","Key":"t/a","Index":'"$mi"'}},
      {"KV":{"Verb":"set","Key":"t/c","Value":"'"$(b64 gamma)"'"}}]'
assert_eq "check-index with the right index: 200" 200 "$HTTP_STATUS"
assert_eq "check-index ok: t/c written" gamma "$(kv_raw t/c)"

# ---- get of a missing key fails the txn
txn '[{"KV":{"Verb":"set","Key":"t/d","Value":"'"$(b64 d)"'"}},
      {"KV":{"Verb":"get","Key":"t/missing"}}]'
assert_eq "get of a missing key: 409" 409 "$HTTP_STATUS"
assert_eq "get of a missing key: OpIndex 1" 1 "$(jget Errors.0.OpIndex <<<"$HTTP_BODY")"
http GET /v1/kv/t/d
assert_eq "get of a missing key: t/d rolled back" 404 "$HTTP_STATUS"

# ---- check-not-exists
txn '[{"KV":{"Verb":"check-not-exists","Key":"t/nope"}},
      {"KV":{"Verb":"set","Key":"t/y","Value":"'"$(b64 yes)"'"}}]'
assert_eq "check-not-exists on absent key: 200" 200 "$HTTP_STATUS"
assert_eq "check-not-exists passed: t/y written" yes "$(kv_raw t/y)"
txn '[{"KV":{"Verb":"set","Key":"t/z","Value":"'"$(b64 zed)"'"}},
      {"KV":{"Verb":"check-not-exists","Key":"t/a"}}]'
assert_eq "check-not-exists on existing key: 409" 409 "$HTTP_STATUS"
assert_eq "check-not-exists failed: OpIndex 1" 1 "$(jget Errors.0.OpIndex <<<"$HTTP_BODY")"
http GET /v1/kv/t/z
assert_eq "check-not-exists failed: t/z rolled back" 404 "$HTTP_STATUS"

# ---- get-tree and delete-tree
for k in t/x/1 t/x/2 t/x/3/deep t/xy; do kv_put "$k" "v$k"; done
txn '[{"KV":{"Verb":"get-tree","Key":"t/x/"}}]'
assert_eq "get-tree: 200" 200 "$HTTP_STATUS"
assert_eq "get-tree: keys under the prefix, sorted" "t/x/1 t/x/2 t/x/3/deep" \
    "$(jget 'Results.*.KV.Key' <<<"$HTTP_BODY" | tr '\n' ' ' | sed 's/ $//')"
assert_eq "get-tree: values returned" "$(b64 vt/x/2)" "$(jget Results.1.KV.Value <<<"$HTTP_BODY")"
txn '[{"KV":{"Verb":"delete-tree","Key":"t/x/"}}]'
assert_eq "delete-tree: 200" 200 "$HTTP_STATUS"
assert_eq "delete-tree: Errors null" null "$(jget Errors <<<"$HTTP_BODY")"
http GET '/v1/kv/t/x/?recurse'
assert_eq "delete-tree: prefix gone" 404 "$HTTP_STATUS"
assert_eq "delete-tree: sibling t/xy kept" vt/xy "$(kv_raw t/xy)"

# delete-tree rolled back with the rest
for k in t/r/1 t/r/2; do kv_put "$k" v; done
txn '[{"KV":{"Verb":"delete-tree","Key":"t/r/"}},
      {"KV":{"Verb":"check-not-exists","Key":"t/a"}}]'
assert_eq "delete-tree then failing op: 409" 409 "$HTTP_STATUS"
http GET '/v1/kv/t/r/?keys'
assert_eq "delete-tree rolled back: keys back" '["t/r/1","t/r/2"]' "$(jget '' <<<"$HTTP_BODY")"

# ---- cas, delete, delete-cas, get-or-empty
http GET /v1/kv/t/a
ma=$(jget 0.ModifyIndex <<<"$HTTP_BODY")
txn '[{"KV":{"Verb":"cas","Key":"t/a","Value":"'"$(b64 cas1)"'","Index":'"$ma"'}}]'
assert_eq "cas with the right index: 200" 200 "$HTTP_STATUS"
assert_eq "cas: value written" cas1 "$(kv_raw t/a)"
txn '[{"KV":{"Verb":"cas","Key":"t/a","Value":"'"$(b64 cas2)"'","Index":'"$ma"'}}]'
assert_eq "cas with a stale index: 409" 409 "$HTTP_STATUS"
assert_eq "stale cas: value kept" cas1 "$(kv_raw t/a)"
txn '[{"KV":{"Verb":"get-or-empty","Key":"t/absent"}},{"KV":{"Verb":"delete","Key":"t/y"}}]'
assert_eq "get-or-empty on absent key + delete: 200" 200 "$HTTP_STATUS"
http GET /v1/kv/t/y
assert_eq "delete: t/y gone" 404 "$HTTP_STATUS"
http GET /v1/kv/t/c
mc=$(jget 0.ModifyIndex <<<"$HTTP_BODY")
txn '[{"KV":{"Verb":"delete-cas","Key":"t/c","Index":'"$((mc + 1000))"'}}]'
assert_eq "delete-cas with a wrong index: 409" 409 "$HTTP_STATUS"
assert_eq "delete-cas wrong: kept" gamma "$(kv_raw t/c)"
txn '[{"KV":{"Verb":"delete-cas","Key":"t/c","Index":'"$mc"'}}]'
assert_eq "delete-cas with the right index: 200" 200 "$HTTP_STATUS"
http GET /v1/kv/t/c
assert_eq "delete-cas: t/c gone" 404 "$HTTP_STATUS"

# ---- empty value, field names matched case-insensitively
txn '[{"kv":{"verb":"set","key":"t/lower","value":"'"$(b64 low)"'","flags":7}}]'
assert_eq "lower-case field names: 200" 200 "$HTTP_STATUS"
assert_eq "lower-case field names: stored" low "$(kv_raw t/lower)"
http GET /v1/kv/t/lower
assert_eq "lower-case field names: flags" 7 "$(jget 0.Flags <<<"$HTTP_BODY")"
txn '[{"KV":{"Verb":"set","Key":"t/empty"}}]'
assert_eq "set without Value: 200" 200 "$HTTP_STATUS"
http GET /v1/kv/t/empty
assert_eq "set without Value: Value null" null "$(jget 0.Value <<<"$HTTP_BODY")"

# ---- several errors are not required, but the first failing op is named
txn '[{"KV":{"Verb":"get","Key":"t/none1"}},{"KV":{"Verb":"set","Key":"t/n","Value":"eA=="}}]'
assert_eq "first op fails: 409" 409 "$HTTP_STATUS"
assert_eq "first op fails: OpIndex 0" 0 "$(jget Errors.0.OpIndex <<<"$HTTP_BODY")"

assert_true "agent still running" agent_alive txn1
finish
