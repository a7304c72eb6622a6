// Compile-time checks (`npm run typecheck`): the client's types come from the generated
// schema, so a wrong field or value is a type error. Never run, only type-checked.

import {
  applyChange,
  createTaskApi,
  isTombstone,
  type Change,
  type SubscriptionError,
  type Task,
  type TaskCreate,
  type components,
} from "../src/index.js";

declare const api: ReturnType<typeof createTaskApi>;

// The task type is the schema's, not a copy.
const same: components["schemas"]["Task"] = {} as Task;
void same;

async function checks() {
  const task: Task = await api.create({ title: "ok", priority: "high" });
  const n: number = task.id;
  const d: string | null = task.description;
  void n;
  void d;
  // @ts-expect-error: title is required on create
  const noTitle: TaskCreate = { priority: "low" };
  void noTitle;
  // @ts-expect-error: not one of the four priorities
  await api.create({ title: "x", priority: "urgent" });
  // @ts-expect-error: status is all | pending | completed
  await api.list({ status: "done" });
  // @ts-expect-error: sort has no such key
  await api.list({ sort: "colour" });
  await api.list({ status: "pending", priority: ["high", "medium"], sort: "priority", order: "asc", limit: 10, offset: 0 });
  // @ts-expect-error: completed is a boolean
  await api.update(task, { completed: "yes" });
  await api.update(task, { completed: true }, { ifMatch: false });
  await api.remove(task.id);

  // The changes feed and live updates: a change is a task or a tombstone.
  const page = await api.changes({ since: "s1", limit: 10, wait: 30 });
  const next: string = page.next;
  void next;
  const stop: () => void = api.subscribe(
    "alice",
    (change: Change, position: string) => {
      if (isTombstone(change)) {
        const deletedAt: string = change.deleted_at;
        void deletedAt;
        // @ts-expect-error: a tombstone has no title
        void change.title;
      } else {
        const title: string = change.title;
        void title;
      }
      const tasks: Task[] = applyChange([task], change);
      void tasks;
      void position;
    },
    {
      since: page.next,
      transport: "auto",
      onError: (error: SubscriptionError) => {
        const reason: "token_expired" | "unauthorized" | "refused" = error.reason;
        void reason;
      },
      onStatus: (status, transport) => void [status, transport],
    },
  );
  stop();
  // The browser's EventSource fits the option.
  api.subscribe("alice", () => {}, { transport: "eventsource", EventSource });
  // @ts-expect-error: no such transport
  api.subscribe("alice", () => {}, { transport: "websocket" });
}
void checks;
