-- GET /health: the floor plus one SQLite statement (the schema version), no token.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.method = "GET"
wrk.path = "/health"
