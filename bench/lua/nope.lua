-- GET /nope: the floor. Through the server and the component's router, which answers 404
-- without reading a variable or touching the database.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.method = "GET"
wrk.path = "/nope"
