-- DELETE each pre-seeded task exactly once (ids never repeat; see bench.fresh_id).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
function request()
  return wrk.format("DELETE", bench.tasks .. "/" .. bench.fresh_id())
end
