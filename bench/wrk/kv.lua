-- wrk script for bench/kv.sh. The mode comes from the environment:
--   MODE=cairn_put | etcd_put | cairn_get | etcd_get | cairn_leader
--   BENCH_KEYS  number of preloaded keys (bench/kv/000000000 ...)
--   RUN         a tag that makes PUT keys new for every run
-- Keys are built so that their base64 form is a concatenation of
-- precomputed pieces (prefixes padded to a multiple of 3 bytes, the counter
-- in groups of 3 digits): etcd's JSON gateway needs base64 keys, and the
-- client-side cost must stay the same small constant for both servers.
-- done() prints one line:
--   RESULT <req/s> <p50 us> <p99 us> <requests> <non-2xx> <socket errors>

local mode = os.getenv("MODE") or "cairn_get"
local nkeys = tonumber(os.getenv("BENCH_KEYS") or "100000")
local run = os.getenv("RUN") or "r"

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function b64(s)
    local out = {}
    local n = #s
    for i = 1, n, 3 do
        local a, b, c = s:byte(i, i + 2)
        local v = a * 65536 + (b or 0) * 256 + (c or 0)
        local c1 = math.floor(v / 262144) % 64
        local c2 = math.floor(v / 4096) % 64
        local c3 = math.floor(v / 64) % 64
        local c4 = v % 64
        out[#out + 1] = alphabet:sub(c1 + 1, c1 + 1) .. alphabet:sub(c2 + 1, c2 + 1)
            .. (b and alphabet:sub(c3 + 1, c3 + 1) or "=")
            .. (c and alphabet:sub(c4 + 1, c4 + 1) or "=")
    end
    return table.concat(out)
end

-- 64-byte value, printable, constant
local value = string.rep("0123456789abcdef", 4)
local value_b64 = b64(value)

local digits = {}      -- "000".."999"
local digits_b64 = {}
for i = 0, 999 do
    digits[i] = string.format("%03d", i)
    digits_b64[i] = b64(digits[i])
end

-- counter -> 9 digits, plain and base64
local function num9(n)
    local a = math.floor(n / 1000000) % 1000
    local b = math.floor(n / 1000) % 1000
    local c = n % 1000
    return digits[a] .. digits[b] .. digits[c],
        digits_b64[a] .. digits_b64[b] .. digits_b64[c]
end

local function pad3(p)
    while #p % 3 ~= 0 do p = p .. "_" end
    return p
end

local threads = {}
local thread_count = 0

function setup(thread)
    thread:set("tid", thread_count)
    thread_count = thread_count + 1
    table.insert(threads, thread)
end

local counter = 0
local put_prefix, put_prefix_b64
local get_prefix = "bench/kv/" -- 9 bytes
local get_prefix_b64 = b64(get_prefix)
local leader_req

function init(args)
    put_prefix = pad3(string.format("put/%s/%d/", run, tid or 0))
    put_prefix_b64 = b64(put_prefix)
    math.randomseed(os.time() + (tid or 0) * 7919)
    leader_req = wrk.format("GET", "/v1/status/leader")
    wrk.headers["Content-Type"] = nil
end

function request()
    if mode == "cairn_put" then
        counter = counter + 1
        local plain = num9(counter)
        return wrk.format("PUT", "/v1/kv/" .. put_prefix .. plain, nil, value)
    elseif mode == "etcd_put" then
        counter = counter + 1
        local _, enc = num9(counter)
        return wrk.format("POST", "/v3/kv/put", nil,
            '{"key":"' .. put_prefix_b64 .. enc .. '","value":"' .. value_b64 .. '"}')
    elseif mode == "cairn_get" then
        local plain = num9(math.random(0, nkeys - 1))
        return wrk.format("GET", "/v1/kv/" .. get_prefix .. plain)
    elseif mode == "etcd_get" then
        local _, enc = num9(math.random(0, nkeys - 1))
        return wrk.format("POST", "/v3/kv/range", nil,
            '{"key":"' .. get_prefix_b64 .. enc .. '"}')
    else
        return leader_req
    end
end

function done(summary, latency, requests)
    local secs = summary.duration / 1e6
    local e = summary.errors
    io.write(string.format("RESULT %.1f %d %d %d %d %d\n",
        summary.requests / secs, latency:percentile(50), latency:percentile(99),
        summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
