#!/usr/bin/env bash
# KV endpoint: GET/PUT/DELETE with recurse, keys, separator, raw, cas, flags,
# headers, pretty, dc, URL-encoded keys (spec/consul-api.md §0, §1.1-1.3).
. "$(dirname "$0")/lib.sh"
require_binary

agent_start kv1 || finish

# ---- X-Consul-Index on a fresh store, 404 for a missing key
http GET /v1/kv/does/not/exist
assert_eq "missing key: 404" 404 "$HTTP_STATUS"
assert_eq "missing key: empty body" "" "$(cat "$HTTP_BODY_FILE")"
idx=$(hdr X-Consul-Index)
assert_match "missing key: X-Consul-Index set" "$idx" '^[0-9]+$'
assert_ne "missing key: X-Consul-Index never 0" 0 "$idx"
assert_eq "missing key: X-Consul-KnownLeader true" true "$(hdr X-Consul-KnownLeader)"
assert_match "missing key: X-Consul-LastContact numeric" "$(hdr X-Consul-LastContact)" '^[0-9]+$'
assert_eq "missing key: X-Consul-Effective-Consistency leader" leader \
    "$(hdr X-Consul-Effective-Consistency)"
http GET '/v1/kv/does/not/exist?raw'
assert_eq "missing key ?raw: 404" 404 "$HTTP_STATUS"
http GET '/v1/kv/does/not/exist?recurse'
assert_eq "missing prefix ?recurse: 404" 404 "$HTTP_STATUS"
http GET '/v1/kv/does/not/exist?keys'
assert_eq "missing prefix ?keys: 404" 404 "$HTTP_STATUS"

# ---- binary round trip
bin=$IT_TMP/binary.val
{ printf 'head\0\0mid\0'; head -c 3000 /dev/urandom; printf '\0tail\xff\xfe'; } >"$bin"
http PUT /v1/kv/bin/one --data-binary @"$bin"
assert_eq "binary PUT: 200" 200 "$HTTP_STATUS"
assert_eq "binary PUT: body true" true "$HTTP_BODY"
http GET '/v1/kv/bin/one?raw'
assert_eq "binary ?raw: 200" 200 "$HTTP_STATUS"
if cmp -s "$bin" "$HTTP_BODY_FILE"; then ok "binary ?raw: bytes identical (NULs kept)"
else fail "binary ?raw: bytes identical (NULs kept)" \
    "sent $(stat -c %s "$bin") bytes, got $(stat -c %s "$HTTP_BODY_FILE")"; fi
assert_match "?raw: Content-Type text/plain" "$(hdr Content-Type)" '^text/plain'
assert_eq "?raw: X-Content-Type-Options nosniff" nosniff "$(hdr X-Content-Type-Options)"
http GET /v1/kv/bin/one
assert_eq "binary GET: 200" 200 "$HTTP_STATUS"
assert_match "GET: Content-Type application/json" "$(hdr Content-Type)" '^application/json'
assert_eq "GET: array of one" 1 "$(jget '#' <<<"$HTTP_BODY")"
assert_eq "GET: Key" bin/one "$(jget 0.Key <<<"$HTTP_BODY")"
jget 0.Value <<<"$HTTP_BODY" | base64 -d >"$IT_TMP/decoded" 2>/dev/null
if cmp -s "$bin" "$IT_TMP/decoded"; then ok "binary GET: base64 Value decodes to the bytes"
else fail "binary GET: base64 Value decodes to the bytes" "$(_show "$HTTP_BODY")"; fi
for f in LockIndex Flags CreateIndex ModifyIndex; do
    assert_match "GET: $f is an integer" "$(jget "0.$f" <<<"$HTTP_BODY")" '^[0-9]+$'
done
assert_eq "GET: Session omitted when unlocked" "<missing>" "$(jget 0.Session <<<"$HTTP_BODY")"
assert_not_contains "GET: compact JSON without ?pretty" "$HTTP_BODY" $'\n    '
create1=$(jget 0.CreateIndex <<<"$HTTP_BODY")
mod1=$(jget 0.ModifyIndex <<<"$HTTP_BODY")
assert_ne "GET: ModifyIndex not 0" 0 "$mod1"

# identical rewrite bumps ModifyIndex, keeps CreateIndex
http PUT /v1/kv/bin/one --data-binary @"$bin"
http GET /v1/kv/bin/one
mod2=$(jget 0.ModifyIndex <<<"$HTTP_BODY")
assert_eq "rewrite: CreateIndex unchanged" "$create1" "$(jget 0.CreateIndex <<<"$HTTP_BODY")"
if [ "$mod2" -gt "$mod1" ] 2>/dev/null; then ok "rewrite: ModifyIndex increases ($mod1 -> $mod2)"
else fail "rewrite: ModifyIndex increases" "$mod1 -> $mod2"; fi
idx=$(hdr X-Consul-Index)
if [ "$idx" -ge "$mod2" ] 2>/dev/null; then ok "GET: X-Consul-Index >= ModifyIndex"
else fail "GET: X-Consul-Index >= ModifyIndex" "index $idx, ModifyIndex $mod2"; fi

# ---- empty value -> null
http PUT /v1/kv/empty/val --data-binary ''
assert_eq "empty PUT: true" true "$HTTP_BODY"
http GET /v1/kv/empty/val
assert_eq "empty value: 200" 200 "$HTTP_STATUS"
assert_contains "empty value: \"Value\":null" "$HTTP_BODY" '"Value":null'
assert_eq "empty value: jget null" null "$(jget 0.Value <<<"$HTTP_BODY")"
http GET '/v1/kv/empty/val?raw'
assert_eq "empty value ?raw: 200" 200 "$HTTP_STATUS"
assert_eq "empty value ?raw: 0 bytes" 0 "$(stat -c %s "$HTTP_BODY_FILE")"
# PUT without any body (curl -X PUT, no Content-Length) is an empty value too
http PUT /v1/kv/empty/nobody
assert_eq "PUT without body: true" true "$HTTP_BODY"
http GET /v1/kv/empty/nobody
assert_eq "PUT without body: Value null" null "$(jget 0.Value <<<"$HTTP_BODY")"
# folder key with trailing slash
http PUT /v1/kv/folder/ --data-binary ''
assert_eq "folder key PUT: true" true "$HTTP_BODY"
http GET /v1/kv/folder/
assert_eq "folder key GET: Key with trailing slash" folder/ "$(jget 0.Key <<<"$HTTP_BODY")"

# ---- flags are uint64, exact
for fl in 3304740253564472344 18446744073709551615 0 42; do
    http PUT "/v1/kv/flags/$fl?flags=$fl" --data-binary x
    assert_eq "flags=$fl: PUT true" true "$HTTP_BODY"
    http GET "/v1/kv/flags/$fl"
    assert_contains "flags=$fl: exact in JSON" "$HTTP_BODY" "\"Flags\":$fl,"
done
# a plain PUT without flags resets them to 0
http PUT /v1/kv/flags/42 --data-binary y
http GET /v1/kv/flags/42
assert_contains "PUT without ?flags sets Flags 0" "$HTTP_BODY" '"Flags":0,'

# ---- recurse: string prefix, sorted bytewise
for k in foobar foo/bar foo fop fo foo/baz/deep 'foo-x'; do
    kv_put "$k" "v-$k" || fail "put $k" "not true"
done
http GET '/v1/kv/foo?recurse'
assert_eq "recurse foo: 200" 200 "$HTTP_STATUS"
assert_eq "recurse foo: keys by string prefix, sorted" \
    "foo foo-x foo/bar foo/baz/deep foobar" "$(jget '*.Key' <<<"$HTTP_BODY" | tr '\n' ' ' | sed 's/ $//')"
assert_eq "recurse foo: values" "$(b64 v-foo-x)" "$(jget 1.Value <<<"$HTTP_BODY")"
http GET '/v1/kv/foo?recurse=false'
assert_eq "recurse=false still recurses (presence flag)" 5 "$(jget '#' <<<"$HTTP_BODY")"
http GET '/v1/kv/foo/?recurse'
assert_eq "recurse foo/: only under foo/" "foo/bar foo/baz/deep" \
    "$(jget '*.Key' <<<"$HTTP_BODY" | tr '\n' ' ' | sed 's/ $//')"
http GET '/v1/kv/?recurse'
assert_eq "recurse on empty key: whole store" 200 "$HTTP_STATUS"
all=$(jget '*.Key' <<<"$HTTP_BODY")
assert_eq "recurse on empty key: sorted bytewise" "$(LC_ALL=C sort <<<"$all")" "$all"
assert_contains "recurse on empty key: has fo" "$all" $'\nfo\n'
pidx=$(hdr X-Consul-Index)
assert_match "recurse: X-Consul-Index set" "$pidx" '^[1-9][0-9]*$'

# ---- keys / separator
http GET '/v1/kv/foo?keys'
assert_eq "keys foo: 200" 200 "$HTTP_STATUS"
assert_eq "keys foo: sorted JSON array of strings" \
    '["foo","foo-x","foo/bar","foo/baz/deep","foobar"]' "$(jget '' <<<"$HTTP_BODY")"
for k in web/foo web/bar web/sub/x web/sub/y web/sub/z/w; do kv_put "$k" v; done
http GET '/v1/kv/web/?keys&separator=/'
assert_eq "keys web/ separator=/: one level" '["web/bar","web/foo","web/sub/"]' \
    "$(jget '' <<<"$HTTP_BODY")"
http GET '/v1/kv/web/?keys&seperator=/'
assert_eq "keys misspelled ?seperator accepted" '["web/bar","web/foo","web/sub/"]' \
    "$(jget '' <<<"$HTTP_BODY")"
http GET '/v1/kv/web/sub/?keys&separator=/'
assert_eq "keys web/sub/ separator=/" '["web/sub/x","web/sub/y","web/sub/z/"]' \
    "$(jget '' <<<"$HTTP_BODY")"
http GET '/v1/kv/web?keys&separator=/'
assert_eq "keys web separator=/ (no trailing slash)" '["web/"]' "$(jget '' <<<"$HTTP_BODY")"
http GET '/v1/kv/web/?keys&recurse&raw'
assert_eq "keys wins over recurse and raw" '["web/bar","web/foo","web/sub/x","web/sub/y","web/sub/z/w"]' \
    "$(jget '' <<<"$HTTP_BODY")"
assert_match "keys: Content-Type application/json" "$(hdr Content-Type)" '^application/json'
assert_match "keys: X-Consul-Index set" "$(hdr X-Consul-Index)" '^[1-9][0-9]*$'

# ---- raw
kv_put raw/text 'hello world'
http GET '/v1/kv/raw/text?raw'
assert_eq "?raw body" 'hello world' "$HTTP_BODY"
assert_match "?raw: Content-Type text/plain" "$(hdr Content-Type)" '^text/plain'
assert_eq "?raw: Content-Security-Policy sandbox" sandbox "$(hdr Content-Security-Policy)"
assert_match "?raw: X-Consul-Index set" "$(hdr X-Consul-Index)" '^[1-9][0-9]*$'

# ---- CAS
http PUT '/v1/kv/cas/k?cas=0' --data-binary first
assert_eq "cas=0 on absent key: true" true "$HTTP_BODY"
http PUT '/v1/kv/cas/k?cas=0' --data-binary second
assert_eq "cas=0 on existing key: false" false "$HTTP_BODY"
assert_eq "cas=0 false: value unchanged" first "$(kv_raw cas/k)"
http GET /v1/kv/cas/k
m=$(jget 0.ModifyIndex <<<"$HTTP_BODY")
http PUT "/v1/kv/cas/k?cas=$m" --data-binary third
assert_eq "cas=ModifyIndex: true" true "$HTTP_BODY"
assert_eq "cas update: value written" third "$(kv_raw cas/k)"
http PUT "/v1/kv/cas/k?cas=$m" --data-binary fourth
assert_eq "stale cas: false" false "$HTTP_BODY"
assert_eq "stale cas: value unchanged" third "$(kv_raw cas/k)"
http PUT "/v1/kv/cas/absent?cas=5" --data-binary x
assert_eq "cas=N on absent key: false" false "$HTTP_BODY"
http GET /v1/kv/cas/absent
assert_eq "cas=N on absent key: not created" 404 "$HTTP_STATUS"

# ---- DELETE
kv_put del/one 1
http DELETE /v1/kv/del/one
assert_eq "DELETE: 200" 200 "$HTTP_STATUS"
assert_eq "DELETE: true" true "$HTTP_BODY"
http GET /v1/kv/del/one
assert_eq "DELETE: key gone" 404 "$HTTP_STATUS"
http DELETE /v1/kv/del/never-existed
assert_eq "DELETE missing key: true" true "$HTTP_BODY"
for k in tree/a tree/b tree/c/d treehouse other/tree; do kv_put "$k" v; done
http DELETE '/v1/kv/tree/?recurse'
assert_eq "DELETE ?recurse: true" true "$HTTP_BODY"
http GET '/v1/kv/tree/?recurse'
assert_eq "DELETE ?recurse: prefix gone" 404 "$HTTP_STATUS"
assert_eq "DELETE ?recurse: sibling treehouse kept" v "$(kv_raw treehouse)"
assert_eq "DELETE ?recurse: other/tree kept" v "$(kv_raw other/tree)"
kv_put del/cas v
http GET /v1/kv/del/cas
m=$(jget 0.ModifyIndex <<<"$HTTP_BODY")
http DELETE "/v1/kv/del/cas?cas=$((m - 1))"
assert_eq "DELETE ?cas=wrong: false" false "$HTTP_BODY"
assert_eq "DELETE ?cas=wrong: key kept" v "$(kv_raw del/cas)"
http DELETE "/v1/kv/del/cas?cas=0"
assert_eq "DELETE ?cas=0 on existing key: false" false "$HTTP_BODY"
http DELETE "/v1/kv/del/cas?cas=$m"
assert_eq "DELETE ?cas=right: true" true "$HTTP_BODY"
http GET /v1/kv/del/cas
assert_eq "DELETE ?cas=right: key gone" 404 "$HTTP_STATUS"
http DELETE "/v1/kv/del/cas?cas=$m"
assert_eq "DELETE ?cas on already absent key: true" true "$HTTP_BODY"

# ---- index headers on every kind of read; never 0
for q in 'bin/one' 'foo?recurse' 'foo?keys' 'raw/text?raw' 'nothing/here'; do
    http GET "/v1/kv/$q"
    i=$(hdr X-Consul-Index)
    if [[ $i =~ ^[1-9][0-9]*$ ]] && has_hdr X-Consul-KnownLeader &&
        [[ $(hdr X-Consul-LastContact) =~ ^[0-9]+$ ]] &&
        has_hdr X-Consul-Effective-Consistency; then
        ok "GET /v1/kv/$q: index headers present, index $i"
    else
        fail "GET /v1/kv/$q: index headers present" "$(cat "$HTTP_HDR_FILE")"
    fi
done
http GET '/v1/kv/bin/one?stale'
assert_eq "?stale: 200" 200 "$HTTP_STATUS"
assert_eq "?stale: Effective-Consistency stale" stale "$(hdr X-Consul-Effective-Consistency)"
http GET '/v1/kv/bin/one?consistent'
assert_eq "?consistent: 200" 200 "$HTTP_STATUS"
assert_eq "?consistent: Effective-Consistency consistent" consistent \
    "$(hdr X-Consul-Effective-Consistency)"
assert_eq "default-ACL-policy header allow" allow "$(hdr X-Consul-Default-ACL-Policy)"
i1=$(kv_index bin/one)
kv_put bump/it 1
i2=$(kv_index bin/one)
if [ "$i2" -gt "$i1" ] 2>/dev/null; then ok "a write raises the table index ($i1 -> $i2)"
else fail "a write raises the table index" "$i1 -> $i2"; fi

# ---- pretty
http GET '/v1/kv/raw/text?pretty'
mapfile -t lines <"$HTTP_BODY_FILE"
assert_eq "?pretty: line 1 '['" '[' "${lines[0]:-}"
assert_eq "?pretty: line 2 is 4-space indented '{'" '    {' "${lines[1]:-}"
assert_match "?pretty: fields indented by 8 spaces, ': ' separator" "${lines[2]:-}" \
    '^        "[A-Za-z]+": '
assert_eq "?pretty: trailing newline" 0a "$(tail -c 1 "$HTTP_BODY_FILE" | xxd -p)"
assert_eq "?pretty: still valid JSON with the value" "$(b64 'hello world')" \
    "$(jget 0.Value <<<"$HTTP_BODY")"

# ---- dc
http GET '/v1/kv/raw/text?dc=dc1'
assert_eq "?dc=dc1: 200" 200 "$HTTP_STATUS"
http PUT '/v1/kv/raw/dc?dc=dc1' --data-binary x
assert_eq "PUT ?dc=dc1: true" true "$HTTP_BODY"
http GET '/v1/kv/raw/text?dc=other'
assert_eq "?dc=other: 500" 500 "$HTTP_STATUS"
assert_contains "?dc=other: No path to datacenter" "$HTTP_BODY" "No path to datacenter"
http PUT '/v1/kv/raw/other?dc=other' --data-binary x
assert_eq "PUT ?dc=other: 500" 500 "$HTTP_STATUS"
http GET /v1/kv/raw/other
assert_eq "PUT ?dc=other: nothing written" 404 "$HTTP_STATUS"

# ---- URL-encoded key names
http PUT '/v1/kv/enc/a%20b%2Fc' --data-binary spaced
assert_eq "PUT enc/a%20b%2Fc: true" true "$HTTP_BODY"
http GET '/v1/kv/enc/?keys'
assert_eq "encoded key stored decoded" '["enc/a b/c"]' "$(jget '' <<<"$HTTP_BODY")"
http GET '/v1/kv/enc/a%20b/c'
assert_eq "GET enc/a%20b/c finds it" 200 "$HTTP_STATUS"
assert_eq "GET: Key decoded" "enc/a b/c" "$(jget 0.Key <<<"$HTTP_BODY")"
http GET '/v1/kv/enc%2Fa%20b%2Fc?raw'
assert_eq "GET fully encoded path ?raw" spaced "$HTTP_BODY"
http PUT '/v1/kv/enc/%E2%9C%93%3F%26%23' --data-binary utf
http GET '/v1/kv/enc/%E2%9C%93%3F%26%23'
assert_eq "UTF-8 and ?&# in a key" 'enc/✓?&#' "$(jget 0.Key <<<"$HTTP_BODY")"

# ---- token is accepted and ignored
http GET '/v1/kv/raw/text?raw&token=whatever'
assert_eq "?token= ignored" 'hello world' "$HTTP_BODY"
http GET '/v1/kv/raw/text?raw' -H 'X-Consul-Token: abc'
assert_eq "X-Consul-Token ignored" 'hello world' "$HTTP_BODY"
http GET '/v1/kv/raw/text?raw' -H 'Authorization: Bearer abc'
assert_eq "Authorization Bearer ignored" 'hello world' "$HTTP_BODY"

# ---- a big value (exactly the limit) round trips
head -c 524288 /dev/urandom >"$IT_TMP/big"
http PUT /v1/kv/big --data-binary @"$IT_TMP/big"
assert_eq "512 KiB value: true" true "$HTTP_BODY"
http GET '/v1/kv/big?raw'
if cmp -s "$IT_TMP/big" "$HTTP_BODY_FILE"; then ok "512 KiB value round trips"
else fail "512 KiB value round trips" "got $(stat -c %s "$HTTP_BODY_FILE") bytes"; fi

assert_true "agent still running" agent_alive kv1
finish
