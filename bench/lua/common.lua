-- Shared by every scenario: parameters from the environment (bench/run sets them), a status
-- count per thread, and one machine-readable summary line from done().
--
--   BENCH_USER      user id in the URL (the token's sub)
--   BENCH_TOKEN     bearer token (empty: none)
--   BENCH_FIRST_ID  first task id of the user's block
--   BENCH_ID_COUNT  how many consecutive ids the block has
--   BENCH_THREADS   wrk's -t, so threads can interleave ids without sharing state

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

bench = {
  user = env("BENCH_USER", "bench"),
  token = env("BENCH_TOKEN", nil),
  first = tonumber(env("BENCH_FIRST_ID", "1")),
  count = tonumber(env("BENCH_ID_COUNT", "1")),
  threads = tonumber(env("BENCH_THREADS", "1")),
}

bench.tasks = "/api/" .. bench.user .. "/tasks"
if bench.token then
  wrk.headers["Authorization"] = "Bearer " .. bench.token
end

-- Headers for a request with a JSON body. (wrk.format uses the table it is given instead of
-- wrk.headers, so the token has to be in it.)
function bench.json_headers()
  local h = { ["Content-Type"] = "application/json" }
  if bench.token then h["Authorization"] = "Bearer " .. bench.token end
  return h
end

-- Thread number, set by setup() before the thread starts (a global in the thread's own state).
tid = 0
local step = 0

-- Ids of the block, cycling: thread t takes first+t, first+t+threads, ... modulo count.
function bench.cycle_id()
  local id = bench.first + ((tid + step * bench.threads) % bench.count)
  step = step + 1
  return id
end

-- Ids of the block without repetition: past the end the ids do not exist, the server answers
-- 404 and bench/run reports the run as failed (the supply was too small for the duration).
function bench.fresh_id()
  local id = bench.first + tid + step * bench.threads
  step = step + 1
  return id
end

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

statuses = {}

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for code, n in pairs(thread:get("statuses")) do
      merged[code] = (merged[code] or 0) + n
    end
  end
  local parts = {}
  for code, n in pairs(merged) do
    table.insert(parts, string.format('"%d":%d', code, n))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"rps":%.1f,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"statuses":{%s}}\n',
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout,
    table.concat(parts, ",")))
end
