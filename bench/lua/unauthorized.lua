-- GET the list with a well-formed token signed by the wrong key: full verification, then 401.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.method = "GET"
wrk.path = bench.tasks
