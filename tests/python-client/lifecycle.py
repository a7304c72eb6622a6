"""Drives the whole life cycle of a task through the client openapi-python-client generated
from /openapi.json. Usage: python lifecycle.py BASE_URL TOKEN USER"""
import datetime as dt, sys, uuid
from task_api_client import AuthenticatedClient
from task_api_client.api.service import health
from task_api_client.api.tasks import (batch_tasks, create_task, delete_task, erase_user, export_user,
    get_task, list_changes, list_tags, list_tasks, list_trash, replace_task, restore_task, toggle_task, update_task)
from task_api_client.models import (BatchTasksBody, BatchOperationType0, BatchOperationType0Op,
    BatchOperationType2, BatchOperationType2Op, Task, TaskCreate, TaskUpdate, TaskPriority, Changes)
from task_api_client.models.recurrence_type_1 import RecurrenceType1

base, token, user = sys.argv[1:4]
c = AuthenticatedClient(base_url=base, token=token)
def check(r, status):
    assert r.status_code == status, (r.status_code, r.content[:300])
    return r
utc = dt.timezone.utc
due = dt.datetime(2027, 3, 1, 9, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=1)))
check(health.sync_detailed(client=c), 200)
r = check(create_task.sync_detailed(user, client=c, idempotency_key=str(uuid.uuid4()), body=TaskCreate(
    title="Water plants", priority=TaskPriority.HIGH, tags=["Home"], due_at=due,
    remind_at=due - dt.timedelta(hours=1), recurrence=RecurrenceType1.DAILY, interval=1,
    until=due + dt.timedelta(days=30), time_zone="Europe/Berlin")), 201)
task = r.parsed; etag = r.headers["etag"]
assert isinstance(task, Task) and task.due_at == due, task
r = check(get_task.sync_detailed(user, task.id, client=c), 200)
check(get_task.sync_detailed(user, task.id, client=c, if_none_match=etag), 304)
for i in range(4):
    check(create_task.sync_detailed(user, client=c, body=TaskCreate(title=f"page {i}")), 201)
r = check(list_tasks.sync_detailed(user, client=c, limit=2, due_before=due + dt.timedelta(days=1)), 200)
assert [t.id for t in r.parsed] == [task.id]
seen, cursor = [], None
while True:
    r = check(list_tasks.sync_detailed(user, client=c, limit=2, **({"cursor": cursor} if cursor else {})), 200)
    seen += [t.id for t in r.parsed]
    cursor = r.headers.get("x-next-cursor")
    if not cursor: break
assert len(seen) == 5 == len(set(seen)), seen
r = check(update_task.sync_detailed(user, task.id, client=c, if_match=etag, body=TaskUpdate(priority=TaskPriority.LOW)), 200)
check(update_task.sync_detailed(user, task.id, client=c, if_match=etag, body=TaskUpdate(title="stale")), 412)
etag = r.headers["etag"]
r = check(replace_task.sync_detailed(user, task.id, client=c, if_match=etag, body=TaskUpdate(title="Water the plants")), 200)
r = check(toggle_task.sync_detailed(user, task.id, client=c, if_match=r.headers["etag"]), 200)
assert r.parsed.completed and r.parsed.next_task_id, r.parsed
tags = check(list_tags.sync_detailed(user, client=c), 200).parsed
assert [t.tag for t in tags] == ["Home"] and tags[0].count == 2, tags
r = check(batch_tasks.sync_detailed(user, client=c, body=BatchTasksBody(operations=[
    BatchOperationType0(op=BatchOperationType0Op.CREATE, task=TaskCreate(title="batched")),
    BatchOperationType2(op=BatchOperationType2Op.COMPLETE, id=seen[-1])])), 200)
assert [x.status for x in r.parsed.results] == [201, 200], r.parsed
check(delete_task.sync_detailed(user, task.id, client=c), 204)
trash = check(list_trash.sync_detailed(user, client=c), 200).parsed
assert [t.id for t in trash] == [task.id]
check(restore_task.sync_detailed(user, task.id, client=c), 200)
ch = check(list_changes.sync_detailed(user, client=c), 200).parsed
assert isinstance(ch, Changes) and ch.next_.startswith("s"), ch
check(list_changes.sync_detailed(user, client=c, since=ch.next_), 200)
ex = check(export_user.sync_detailed(user, client=c), 200).parsed
assert len(ex.tasks) == 7, len(ex.tasks)  # 5 + the next occurrence + the batched one
check(erase_user.sync_detailed(user, client=c), 204)
assert check(list_tasks.sync_detailed(user, client=c), 200).parsed == []
print("life cycle ok: health, create (datetimes, recurrence, Idempotency-Key), get/304, list with due_before, "
      "cursor pages (client default offset=0 sent), PATCH/412/PUT with If-Match, toggle -> next occurrence, tags, "
      "batch, delete/trash/restore, changes, export, erase")
