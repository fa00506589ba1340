-- Shared by every scenario (each script starts with dofile of this file, run from the
-- project root). Settings come from the environment, set by bench/run.py:
--   BENCH_POOL      pool file: one caller a line, "header<TAB>value<TAB>cart line id"
--   BENCH_THREADS   wrk's thread count (each thread owns every n-th line of the pool)
--   BENCH_PRODUCTS  "first_id:count", the products the adds choose from
--   BENCH_LIMIT     optional: each thread stops after this many responses
-- done() prints one line "BENCH_JSON {...}": throughput, latency percentiles (us), errors,
-- and the SQL statements the service reported in X-Bench-Queries.
-- Requests come as through production's ingress (TRUSTED_PROXIES=1): X-Forwarded-Proto https
-- and X-Forwarded-For, one address per caller, so rate limits count each caller apart.

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

-- Per thread from here on: every wrk thread runs this file in its own Lua state.
queries, counted, non2xx, paths = 0, 0, 0, 0
local limit = tonumber(os.getenv("BENCH_LIMIT") or "")

function address(n)
  return string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
end

-- The headers of a request from `caller` (a pool entry), plus `extra`.
function headers_of(caller, extra)
  local headers = {["X-Forwarded-For"] = caller.ip, ["X-Forwarded-Proto"] = "https"}
  if caller.header then
    headers[caller.header] = caller.value
  end
  for name, value in pairs(extra or {}) do
    headers[name] = value
  end
  return headers
end

function own_pool()
  local count, index, pool = tonumber(os.getenv("BENCH_THREADS")), 0, {}
  for line in io.lines(os.getenv("BENCH_POOL")) do
    if index % count == id then
      local header, value, item = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)$")
      table.insert(pool, {header = header, value = value, item = item, ip = address(index)})
    end
    index = index + 1
  end
  math.randomseed(os.time() + id * 7919)
  return pool
end

-- The thread's share of the pool (none when the scenario has no pool), taken in turn.
local pool, turn = {}, 0

function init(args)
  if (os.getenv("BENCH_POOL") or "") ~= "" then
    pool = own_pool()
  end
end

function next_caller()
  turn = turn % #pool + 1
  return pool[turn]
end

function random_product()
  local first, count = os.getenv("BENCH_PRODUCTS"):match("^(%d+):(%d+)$")
  return math.random(tonumber(first), tonumber(first) + tonumber(count) - 1)
end

function count(status, headers)
  counted = counted + 1
  queries = queries + (tonumber(headers["X-Bench-Queries"]) or 0)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
  if limit and counted >= limit then
    wrk.thread:stop()
  end
end

function response(status, headers, body)
  count(status, headers)
end

function done(summary, latency, requests)
  local fields = {
    requests = summary.requests,
    duration_us = summary.duration,
    connect = summary.errors.connect,
    read = summary.errors.read,
    write = summary.errors.write,
    timeout = summary.errors.timeout,
    p50_us = latency:percentile(50),
    p95_us = latency:percentile(95),
    p99_us = latency:percentile(99),
    p999_us = latency:percentile(99.9),
    mean_us = latency.mean,
    max_us = latency.max,
    queries = 0, counted = 0, non2xx = 0, paths = 0,
  }
  for _, thread in ipairs(threads) do
    for _, name in ipairs({"queries", "counted", "non2xx", "paths"}) do
      fields[name] = fields[name] + (thread:get(name) or 0)
    end
  end
  local parts = {}
  for name, value in pairs(fields) do
    table.insert(parts, string.format('"%s": %.1f', name, value))
  end
  io.write("BENCH_JSON {" .. table.concat(parts, ", ") .. "}\n")
end
