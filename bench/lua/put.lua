-- PUT a new title and completed flag on the user's tasks in turn.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
local n = 0
function request()
  n = n + 1
  local body = string.format('{"title":"Renamed %d","completed":%s}', n, n % 2 == 0 and "true" or "false")
  return wrk.format("PUT", bench.tasks .. "/" .. bench.cycle_id(),
    bench.json_headers(), body)
end
