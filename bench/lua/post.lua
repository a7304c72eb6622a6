-- POST a new task (no Idempotency-Key): one INSERT ... RETURNING, one commit, per request.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.method = "POST"
wrk.path = bench.tasks
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title":"Benchmark task","description":"created by bench/run"}'
