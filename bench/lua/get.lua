-- GET one task by id (the first of the list user's 20).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.method = "GET"
wrk.path = bench.tasks .. "/" .. bench.first
