-- 80 % reads, 20 % writes on one user's 20 tasks: of every 10 requests, 8 GET the list, one
-- PUTs a title, one toggles. Writes never add or remove tasks, so the list stays at 20.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
local n = 0
function request()
  n = n + 1
  local slot = n % 10
  if slot == 4 then
    return wrk.format("PUT", bench.tasks .. "/" .. bench.cycle_id(),
      bench.json_headers(), string.format('{"title":"Mixed %d"}', n))
  elseif slot == 9 then
    return wrk.format("PATCH", bench.tasks .. "/" .. bench.cycle_id() .. "/complete")
  end
  return wrk.format("GET", bench.tasks)
end
