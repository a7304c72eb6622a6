-- PATCH .../complete on the user's tasks in turn: one UPDATE ... RETURNING per request.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
function request()
  return wrk.format("PATCH", bench.tasks .. "/" .. bench.cycle_id() .. "/complete")
end
