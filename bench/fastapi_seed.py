#!/usr/bin/env python3
"""Seeds a database for the FastAPI reference (the seed's design: FastAPI + SQLModel + PyJWT,
../shared/reference/fastapi/app.py, or BENCH_FASTAPI_APP), for `bench/run --target fastapi`.

Run with the venv's python (bench/run creates the venv): the schema is the reference's own,
`SQLModel.metadata.create_all` on its models (tables `user` and `task`, as its start-up makes
them); the data is what `bench/bench.py seed` puts in the component's template, row for row:
USERS users with TASKS_PER_USER tasks each, then the bench users with their tasks under the
same ids as the template's blocks (BLOCKS_JSON, what `bench.py seed` printed), so the get and
delete scenarios address the same ids on every target.

Usage: fastapi_seed.py seed DB BLOCKS_JSON USERS TASKS_PER_USER
"""

import json
import os
import sqlite3
import sys
from datetime import datetime, timedelta, timezone

APP_DIR = os.environ.get("BENCH_FASTAPI_APP") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "reference",
    "fastapi")


def stamp(base, micros):
    # SQLAlchemy's SQLite DATETIME storage format (what the reference's own writes store).
    return (base + timedelta(microseconds=micros)).strftime("%Y-%m-%d %H:%M:%S.%f")


def seed(db_path, blocks, users, tasks_per_user):
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ.setdefault("BETTER_AUTH_SECRET", "seeding")
    sys.path.insert(0, APP_DIR)
    import app  # noqa: E402  (the reference itself: its models, its engine)
    from sqlmodel import SQLModel

    SQLModel.metadata.create_all(app.engine)
    app.engine.dispose()
    base = datetime.now(timezone.utc).replace(tzinfo=None)
    conn = sqlite3.connect(db_path, isolation_level=None)
    insert_task = ("INSERT INTO task (id, user_id, title, description, completed, created_at, "
                   "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO user (id, email, name, created_at) VALUES (?, ?, NULL, ?)",
                     ((f"user-{i:05d}", f"user-{i:05d}@example.com", stamp(base, 0))
                      for i in range(1, users + 1)))
    conn.executemany(insert_task, (
        (None, f"user-{u:05d}", f"Task {t} of user {u}", "seeded", t % 2, stamp(base, t),
         stamp(base, t))
        for u in range(1, users + 1) for t in range(tasks_per_user)))
    for user, block in blocks.items():
        conn.execute("INSERT INTO user (id, email, name, created_at) VALUES (?, NULL, NULL, ?)",
                     (user, stamp(base, 0)))
        conn.executemany(insert_task, (
            (block["first"] + t, user, f"{user} task {t}", "a seeded task of a benchmark user",
             0, stamp(base, t), stamp(base, t))
            for t in range(block["count"])))
    conn.execute("COMMIT")
    for user, block in blocks.items():
        n = conn.execute("SELECT count(*) FROM task WHERE user_id = ?", (user,)).fetchone()[0]
        if n != block["count"]:
            sys.exit(f"fastapi_seed.py: {user} has {n} tasks, expected {block['count']}")
    conn.close()


def main(argv):
    if len(argv) != 6 or argv[1] != "seed":
        sys.exit(__doc__)
    seed(argv[2], json.loads(argv[3]), int(argv[4]), int(argv[5]))


if __name__ == "__main__":
    main(sys.argv)
