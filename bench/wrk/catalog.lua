-- wrk script for bench/catalog.sh. The mode comes from the environment:
--   MODE=health    GET /v1/health/service/<random name>?passing
--   MODE=services  GET /v1/catalog/services
--   BENCH_NAMES    number of names (svc-000 ..), default 1000
-- done() prints one line (as bench/wrk/kv.lua):
--   RESULT <req/s> <p50 us> <p99 us> <requests> <non-2xx> <socket errors>

local mode = os.getenv("MODE") or "health"
local nnames = tonumber(os.getenv("BENCH_NAMES") or "1000")

local threads = {}
local thread_count = 0

function setup(thread)
    thread:set("tid", thread_count)
    thread_count = thread_count + 1
    table.insert(threads, thread)
end

local paths = {}
local services_req

function init(args)
    math.randomseed(os.time() + (tid or 0) * 7919)
    wrk.headers["Content-Type"] = nil
    for i = 0, nnames - 1 do
        paths[i] = wrk.format("GET",
            string.format("/v1/health/service/svc-%03d?passing", i))
    end
    services_req = wrk.format("GET", "/v1/catalog/services")
end

function request()
    if mode == "services" then
        return services_req
    end
    return paths[math.random(0, nnames - 1)]
end

function done(summary, latency, requests)
    local secs = summary.duration / 1e6
    local e = summary.errors
    io.write(string.format("RESULT %.1f %d %d %d %d %d\n",
        summary.requests / secs, latency:percentile(50), latency:percentile(99),
        summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
