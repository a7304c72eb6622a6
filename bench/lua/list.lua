-- GET the user's list: exactly 20 tasks (default parameters: all, newest first, limit 50).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.method = "GET"
wrk.path = bench.tasks
