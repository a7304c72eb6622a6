#!/usr/bin/env python3
"""Helpers for bench/run: seed a database, mint tokens, set the journal mode, and turn the raw
wrk outputs into the markdown table. Standard library only, except that the schema's search
index (FTS5 `contentless_delete`) needs SQLite 3.43 or later: with an older `sqlite3` module
the `pysqlite3-binary` package (PyPI; it bundles a current SQLite) is used instead."""

import base64
import hashlib
import hmac
import json
import os
import re
import sqlite3
import statistics
import sys
import time

if sqlite3.sqlite_version_info < (3, 43, 0):
    try:
        from pysqlite3 import dbapi2 as sqlite3  # noqa: F811
    except ImportError:
        sys.exit(f"bench: Python's SQLite is {sqlite3.sqlite_version}; the schema needs 3.43 or "
                 "later: pip install pysqlite3-binary")

# The bench users. Each scenario has its own user, so one scenario's writes never change what
# another measures (the list user keeps exactly 20 tasks).
LIST_USER = "bench-list"
BLOCK_USERS = ["bench-list", "bench-put", "bench-toggle", "bench-mixed"]
POST_USER = "bench-post"
DELETE_USER = "bench-delete"
BLOCK = 20


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(key, sub, lifetime=12 * 3600):
    now = int(time.time())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64(json.dumps({"sub": sub, "iat": now, "exp": now + lifetime},
                             separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    tag = hmac.new(key.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(tag)}"


def set_journal(db_path, mode):
    """rollback -> DELETE, wal -> WAL; the mode persists in the file. Returns what SQLite
    reports afterwards, so a refusal is caught rather than benchmarked."""
    pragma = {"rollback": "DELETE", "wal": "WAL"}[mode]
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        got = conn.execute(f"PRAGMA journal_mode={pragma}").fetchone()[0]
    finally:
        conn.close()
    if got.upper() != pragma:
        sys.exit(f"bench: journal_mode={pragma} on {db_path} answered {got}")
    return got.lower()


def seed(db_path, migrations_dir, users, tasks_per_user, delete_supply):
    """Schema from the migration files (exactly what the component applies and records), then
    the data by SQL in one transaction. Returns the id block of each bench user."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    for name in sorted(os.listdir(migrations_dir)):
        if name.endswith(".sql"):
            with open(os.path.join(migrations_dir, name)) as f:
                conn.executescript(f.read())
    now = int(time.time() * 1_000_000)
    insert_task = ("INSERT INTO tasks (user_id, title, description, completed, created_at, "
                   "updated_at) VALUES (?, ?, ?, ?, ?, ?)")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO users (id, email, name, created_at) VALUES (?, ?, NULL, ?)",
        ((f"user-{i:05d}", f"user-{i:05d}@example.com", now) for i in range(1, users + 1)))
    conn.executemany(insert_task, (
        (f"user-{u:05d}", f"Task {t} of user {u}", "seeded", t % 2, now + t, now + t)
        for u in range(1, users + 1) for t in range(tasks_per_user)))
    blocks = {}
    for user, count in [(u, BLOCK) for u in BLOCK_USERS] + [(POST_USER, 0),
                                                             (DELETE_USER, delete_supply)]:
        conn.execute("INSERT INTO users (id, email, name, created_at) VALUES (?, NULL, NULL, ?)",
                     (user, now))
        first = None
        for t in range(count):
            cur = conn.execute(insert_task, (user, f"{user} task {t}",
                                             "a seeded task of a benchmark user", 0,
                                             now + t, now + t))
            first = cur.lastrowid if first is None else first
        blocks[user] = {"first": first or 0, "count": count}
    # Seeded rows start indexed, as if a search had refreshed them (derived_stale stays 0):
    # the delete scenario then removes a search entry with every task, its costlier case.
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'task_search'").fetchone():
        conn.execute("INSERT INTO task_search (rowid, owner, title, description) "
                     "SELECT id, hex(user_id), title, description FROM tasks")
    conn.execute("COMMIT")
    conn.close()
    return blocks


def summarize(results_dir):
    """Reads plan.jsonl (one line per scenario measured, written by bench/run) and the raw wrk
    outputs; prints the markdown table and the issue's targets; exits 1 on a failed run."""
    entries = [json.loads(line) for line in open(os.path.join(results_dir, "plan.jsonl"))]
    rows, failures, by_key = [], [], {}
    cpu_rows = []
    for e in entries:
        runs = []
        for index, path in enumerate(e["raw"]):
            text = open(os.path.join(results_dir, path)).read()
            m = re.search(r"^BENCH_JSON (.*)$", text, re.M)
            if not m:
                failures.append(f"{path}: no summary line (did wrk fail?)")
                continue
            run = json.loads(m.group(1))
            samples = e.get("cpu") or []
            if index < len(samples):
                run["cpu"] = samples[index]
            runs.append(run)
        if not runs:
            continue
        runs.sort(key=lambda r: r["rps"])
        median = runs[len(runs) // 2]
        expected = str(e["expect"])
        total = sum(r["requests"] for r in runs)
        non_2xx = sum(n for r in runs for code, n in r["statuses"].items()
                      if not code.startswith("2"))
        unexpected = {}
        for r in runs:
            for code, n in r["statuses"].items():
                if code != expected:
                    unexpected[code] = unexpected.get(code, 0) + n
        socket_errors = sum(r["errors"][k] for r in runs for k in ("connect", "read", "write",
                                                                    "timeout"))
        conns = e.get("connections", 16)
        label = f'{e["target"]} / {e["journal"]} / {e["scenario"]} / -c{conns}'
        if unexpected:
            failures.append(f"{label}: expected only {expected}, got {unexpected}")
        if socket_errors:
            failures.append(f"{label}: {socket_errors} socket errors (connect/read/write/timeout)")
        if total == 0:
            failures.append(f"{label}: no responses")
        row = {
            **e,
            "rps": median["rps"],
            "rps_runs": [r["rps"] for r in runs],
            "p50": median["p50_us"] / 1000, "p90": median["p90_us"] / 1000,
            "p99": median["p99_us"] / 1000,
            "non_2xx": non_2xx, "unexpected": sum(unexpected.values()),
            "rss_mib": e.get("rss_kib", 0) / 1024,
            "connections": conns,
        }
        rows.append(row)
        cpu = cpu_per_request(runs)
        if cpu:
            cpu_rows.append((label, cpu))
        by_key[(e["target"], e["journal"], e["scenario"], conns)] = row

    loaded = max((r["connections"] for r in rows), default=16)
    out = []
    out.append("| target | journal | scenario | conns | expect | req/s (median of %s) | p50 ms "
               "| p90 ms | p99 ms | non-2xx | unexpected | peak RSS MiB |" % (
                   len(entries[0]["raw"]) if entries else 3))
    out.append("|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        out.append(f'| {r["target"]} | {r["journal"]} | {r["scenario"]} | {r["connections"]} '
                   f'| {r["expect"]} | {r["rps"]:,.0f} | {r["p50"]:.2f} | {r["p90"]:.2f} '
                   f'| {r["p99"]:.2f} | {r["non_2xx"]} | {r["unexpected"]} '
                   f'| {r["rss_mib"]:.1f} |')
    out.append("")
    out.append("All runs (req/s): " + "; ".join(
        f'{r["target"]}/{r["journal"]}/{r["scenario"]}/c{r["connections"]} '
        + "/".join(f"{x:,.0f}" for x in r["rps_runs"]) for r in rows))
    out.append("")

    if cpu_rows:
        names = sorted({n for _, c in cpu_rows for n in c["procs"]})
        out.append("CPU per request (µs of user + system time, median of the runs; "
                   "machine busy: both cores, wrk included):")
        out.append("")
        out.append("| target / journal / scenario / conns | " + " | ".join(names)
                   + " | server total | machine busy |")
        out.append("|---|" + "---:|" * (len(names) + 2))
        for label, c in cpu_rows:
            cells = [f'{c["procs"][n]:,.0f}' if n in c["procs"] else "" for n in names]
            out.append(f"| {label} | " + " | ".join(cells)
                       + f' | {c["server"]:,.0f} | {c["busy"]:.0%} |')
        out.append("")

    def get(target, scenario, journal="wal", conns=None):
        return by_key.get((target, journal, scenario, loaded if conns is None else conns))

    def ratio(a, b):
        return a["rps"] / b["rps"] if a and b and b["rps"] else None

    checks = []
    # Real Spin is the runtime of record: its targets, against its own no-op route.
    nope = get("spin", "nope")
    for scenario, target in (("list", 0.70), ("get", 0.80), ("post", 0.50)):
        r = ratio(get("spin", scenario), nope)
        if r is not None:
            checks.append((f"spin GET/POST {scenario} ≥ {target:.0%} of spin no-op",
                           f"{r:.0%}", r >= target))
    sl = get("spin", "list")
    if sl and nope:
        checks.append(("spin list p99 ≤ 2 × no-op p99",
                       f'{sl["p99"]:.2f} ms vs {nope["p99"]:.2f} ms ({sl["p99"] / nope["p99"]:.1f}×)',
                       sl["p99"] <= 2 * nope["p99"]))
    keepalive = [r for r in rows if r["target"] == "spin" and r["connections"] == 1]
    if keepalive:
        worst = max(keepalive, key=lambda r: r["p99"])
        checks.append(("spin, one keep-alive connection: every route's p99 ≤ 5 ms",
                       f'worst {worst["scenario"]} {worst["p99"]:.2f} ms',
                       worst["p99"] <= 5))
    # A libSQL server (issue 30): the same build with its database on sqld, same session.
    for scenario in ("list", "post"):
        r = ratio(get("spin-sqld", scenario), get("spin", scenario))
        if r is not None:
            checks.append((f"spin-sqld {scenario} ≥ 0.5 × spin (local SQLite) {scenario}",
                           f"{r:.2f}×", r >= 0.5))
    sp = get("spin-sqld", "post")
    if sp:
        checks.append((f'spin-sqld POST p99 ≤ 100 ms at {loaded} connections',
                       f'{sp["p99"]:.2f} ms', sp["p99"] <= 100))
    # The bundled host and the native baseline, as context.
    hl, hn, nl = get("host", "list"), get("host", "nope"), get("native", "list")
    r = ratio(hl, hn)
    if r is not None:
        checks.append(("host GET list ≥ 70 % of host no-op", f"{r:.0%}", r >= 0.70))
    r = ratio(hl, nl)
    if r is not None:
        checks.append(("host ≥ 1/3 of native, GET list", f"{r:.0%} (host/native)", r >= 1 / 3))
    rss = [r["rss_mib"] for r in rows if r["target"] == "host"]
    if rss:
        checks.append(("host peak RSS under load ≤ 150 MiB", f"{max(rss):.1f} MiB",
                       max(rss) <= 150))
    if checks:
        out.append("| target | measured | met |")
        out.append("|---|---|---|")
        for name, value, ok in checks:
            out.append(f"| {name} | {value} | {'yes' if ok else 'NO'} |")
        out.append("")
    for a_target, b_target in (("spin", "host"), ("spin", "native"), ("host", "native"),
                               ("spin", "fastapi"), ("spin-sqld", "spin")):
        for scenario in ("list", "get", "post", "nope"):
            r = ratio(get(a_target, scenario), get(b_target, scenario))
            if r is not None:
                out.append(f"- {a_target} / {b_target}, {scenario}: {r:.2f}")
    if failures:
        out.append("")
        out.append("FAILED:")
        out.extend(f"- {f}" for f in failures)
    print("\n".join(out))
    return 1 if failures else 0


def cpu_ticks(pids):
    """User + system clock ticks (every thread) of the given processes, summed by process name,
    and the machine's total and idle ticks from /proc/stat, as bench/run records them around
    each wrk run. A process that is gone is skipped."""
    out = {"procs": {}}
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    out["machine_total"] = sum(ticks[:8])
    out["machine_idle"] = ticks[3] + ticks[4]  # idle + iowait
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue
        # The name in parentheses may hold spaces; utime and stime are fields 14 and 15.
        fields = stat[stat.rindex(")") + 2:].split()
        out["procs"][name] = out["procs"].get(name, 0) + int(fields[11]) + int(fields[12])
    return out


def cpu_per_request(runs):
    """The median over runs of each server process's CPU µs per request, of the server's total,
    and of the share of the machine's CPU time that was busy, from the tick counts bench/run
    took around each run. None when no run has them."""
    tick = 1e6 / os.sysconf("SC_CLK_TCK")
    per_run = []
    for r in runs:
        cpu, n = r.get("cpu"), r.get("requests", 0)
        if not cpu or not n:
            continue
        before, after = cpu["before"], cpu["after"]
        procs = {name: (after["procs"][name] - before["procs"].get(name, 0)) * tick / n
                 for name in after["procs"]}
        total = after["machine_total"] - before["machine_total"]
        idle = after["machine_idle"] - before["machine_idle"]
        per_run.append({"procs": procs, "server": sum(procs.values()),
                        "busy": 1 - idle / total if total else 0.0})
    if not per_run:
        return None

    def median(values):
        values = sorted(values)
        return values[len(values) // 2]

    names = {name for r in per_run for name in r["procs"]}
    return {
        "procs": {name: median([r["procs"].get(name, 0.0) for r in per_run]) for name in names},
        "server": median([r["server"] for r in per_run]),
        "busy": median([r["busy"] for r in per_run]),
    }


def runs(top):
    """Every wrk run under TOP (a bench/run or bench/ab results directory), one row each:
    req/s, p50/p90/p99/max latency, socket errors and timeouts, statuses. For tails, where a
    median hides what the worst run did."""
    out = ["| run | target / journal / scenario / conns | # | req/s | p50 ms | p90 ms | p99 ms "
           "| max ms | errors c/r/w/timeout | statuses |",
           "|---|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for dirpath, _, files in sorted(os.walk(top)):
        if "plan.jsonl" not in files:
            continue
        label = os.path.relpath(dirpath, top)
        for line in open(os.path.join(dirpath, "plan.jsonl")):
            e = json.loads(line)
            for i, path in enumerate(e["raw"], 1):
                m = re.search(r"^BENCH_JSON (.*)$", open(os.path.join(dirpath, path)).read(), re.M)
                if not m:
                    out.append(f"| {label} | {path} | {i} | no summary line | | | | | | |")
                    continue
                r = json.loads(m.group(1))
                err = r["errors"]
                out.append(
                    f'| {label} | {e["target"]} / {e["journal"]} / {e["scenario"]} / '
                    f'{e.get("connections", 16)} | {i} | {r["rps"]:,.0f} | {r["p50_us"] / 1000:.2f} '
                    f'| {r["p90_us"] / 1000:.2f} | {r["p99_us"] / 1000:.2f} '
                    f'| {r["max_us"] / 1000:.1f} '
                    f'| {err["connect"]}/{err["read"]}/{err["write"]}/{err["timeout"]} '
                    f'| {" ".join(f"{k}:{v}" for k, v in sorted(r["statuses"].items()))} |')
    print("\n".join(out))


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "token":
        print(token(args[0], args[1]))
    elif cmd == "journal":
        print(set_journal(args[0], args[1]))
    elif cmd == "seed":
        blocks = seed(args[0], args[1], int(args[2]), int(args[3]), int(args[4]))
        print(json.dumps(blocks))
    elif cmd == "summarize":
        return summarize(args[0])
    elif cmd == "runs":
        runs(args[0])
    elif cmd == "cpu-ticks":
        print(json.dumps(cpu_ticks(args)))
    else:
        sys.exit(f"bench.py: unknown command {cmd}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
