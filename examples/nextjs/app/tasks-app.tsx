"use client";

import { type FormEvent, useCallback, useEffect, useMemo, useState } from "react";
import {
  type Change,
  type SubscriptionStatus,
  type SubscriptionTransport,
  type Task,
  type TaskApi,
  TaskApiError,
  applyChange,
  createTaskApi,
} from "task-api-client";
import { apiToken, authClient } from "@/lib/auth-client";

export function TasksApp({ apiUrl, live }: { apiUrl: string; live: boolean }) {
  const { data: session, isPending } = authClient.useSession();
  if (isPending) return <p>Loading…</p>;
  if (!session) return <SignIn />;
  return (
    <main>
      <p>
        Signed in as <strong data-testid="whoami">{session.user.email}</strong>{" "}
        <button onClick={() => authClient.signOut()}>Sign out</button>
      </p>
      <Tasks key={session.user.id} apiUrl={apiUrl} userId={session.user.id} live={live} />
    </main>
  );
}

function SignIn() {
  const [error, setError] = useState<string>();
  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const submitter = (event.nativeEvent as SubmitEvent).submitter as HTMLButtonElement | null;
    const email = String(form.get("email"));
    const password = String(form.get("password"));
    const result =
      submitter?.value === "sign-up"
        ? await authClient.signUp.email({ email, password, name: String(form.get("name") || email) })
        : await authClient.signIn.email({ email, password });
    setError(result.error ? (result.error.message ?? result.error.statusText) : undefined);
  }
  return (
    <main>
      <h1>Tasks</h1>
      <form onSubmit={submit}>
        <p><label>Name <input name="name" autoComplete="name" /></label></p>
        <p><label>Email <input name="email" type="email" required autoComplete="email" /></label></p>
        <p><label>Password <input name="password" type="password" required minLength={8} autoComplete="current-password" /></label></p>
        <button type="submit" value="sign-in">Sign in</button>{" "}
        <button type="submit" value="sign-up">Sign up</button>
      </form>
      {error && <p role="alert" data-testid="error">{error}</p>}
    </main>
  );
}

function message(error: unknown): string {
  if (error instanceof TaskApiError) {
    const fields = error.errors.map((e) => `${e.field}: ${e.message}`).join("; ");
    return `${error.status} ${error.detail}${fields ? ` (${fields})` : ""}`;
  }
  return String(error);
}

/** Oldest first, as the list's `sort=created&order=asc` (ties by id). */
function byCreated(a: Task, b: Task): number {
  return a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id - b.id;
}
const apply = (tasks: Task[] | undefined, change: Change) => applyChange(tasks ?? [], change).sort(byCreated);

function Tasks({ apiUrl, userId, live }: { apiUrl: string; userId: string; live: boolean }) {
  // One client per signed-in user: it keeps the token, and the ETag of each task it returned.
  const api: TaskApi = useMemo(
    () => createTaskApi({ baseUrl: apiUrl, userId, token: apiToken, refreshMarginSeconds: 5 }),
    [apiUrl, userId],
  );
  const [tasks, setTasks] = useState<Task[]>();
  const [error, setError] = useState<string>();
  const [liveStatus, setLiveStatus] = useState<{ status: SubscriptionStatus; transport?: SubscriptionTransport }>();
  const [received, setReceived] = useState(0);

  /**
   * The user's tasks from the changes feed (every task, and tombstones, to its end), and the
   * feed position they are current at: live updates continue from there, so no change is
   * missed or applied twice between loading and subscribing.
   */
  const load = useCallback(async (): Promise<string | undefined> => {
    try {
      let all: Task[] = [];
      let since: string | undefined;
      for (;;) {
        const page = await api.changes({ since, limit: 1000 });
        for (const change of page.changes) all = applyChange(all, change);
        since = page.next;
        if (!page.more) break;
      }
      setTasks(all.sort(byCreated));
      return since;
    } catch (e) {
      setError(message(e));
      return undefined;
    }
  }, [api]);

  // Load, then follow every change made elsewhere (another tab, another device) without a
  // reload: the client streams them (or long-polls) and each one is applied as it comes.
  useEffect(() => {
    let unsubscribe: (() => void) | undefined;
    let cancelled = false;
    load().then((since) => {
      if (cancelled || !live || since === undefined) return;
      unsubscribe = api.subscribe(
        userId,
        (change) => {
          setReceived((n) => n + 1);
          setTasks((all) => apply(all, change));
        },
        {
          since,
          onStatus: (status, transport) => setLiveStatus({ status, transport }),
          onError: (e) => setError(`Live updates stopped: ${e.message}`),
        },
      );
    });
    return () => {
      cancelled = true;
      unsubscribe?.();
    };
  }, [api, userId, live, load]);

  /** Runs a change; a 412 (changed in another tab) reloads the list. */
  async function run(change: () => Promise<void>) {
    setError(undefined);
    try {
      await change();
    } catch (e) {
      setError(message(e));
      if (e instanceof TaskApiError && e.status === 412) await load();
    }
  }
  // The answer to this page's own write; the same change also comes back over the stream,
  // and applying it twice is harmless.
  const replace = (task: Task) => setTasks((all) => apply(all, task));

  async function add(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const title = String(new FormData(form).get("title"));
    await run(async () => {
      replace(await api.create({ title }));
      form.reset();
    });
  }

  return (
    <section>
      <h1>My tasks</h1>
      <form onSubmit={add}>
        <input name="title" aria-label="New task" placeholder="What needs doing?" />{" "}
        <button type="submit">Add</button>
      </form>
      {error && <p role="alert" data-testid="error">{error}</p>}
      <p data-testid="live" data-status={live ? (liveStatus?.status ?? "connecting") : "off"} data-received={received}>
        <small>
          Live updates:{" "}
          {!live
            ? "off"
            : liveStatus?.status === "stream"
              ? `on (${liveStatus.transport === "eventsource" ? "EventSource" : "event stream"})`
              : liveStatus?.status === "poll"
                ? "on (long-polling)"
                : (liveStatus?.status ?? "connecting")}
        </small>
      </p>
      {tasks === undefined ? (
        <p>Loading tasks…</p>
      ) : (
        <>
          <p data-testid="count">{tasks.length} {tasks.length === 1 ? "task" : "tasks"}</p>
          <ul>
            {tasks.map((task) => (
              <TaskItem
                key={task.id}
                task={task}
                onToggle={() => run(async () => replace(await api.toggle(task)))}
                onRename={(title) => run(async () => replace(await api.update(task, { title })))}
                onDelete={() =>
                  run(async () => {
                    await api.remove(task);
                    setTasks((all) => all?.filter((t) => t.id !== task.id));
                  })
                }
              />
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

function TaskItem(props: {
  task: Task;
  onToggle: () => void;
  onRename: (title: string) => Promise<void>;
  onDelete: () => void;
}) {
  const { task } = props;
  const [editing, setEditing] = useState(false);
  async function save(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    await props.onRename(String(new FormData(event.currentTarget).get("title")));
    setEditing(false);
  }
  return (
    <li data-testid="task" data-completed={task.completed}>
      <input type="checkbox" aria-label={`Done: ${task.title}`} checked={task.completed} onChange={props.onToggle} />{" "}
      {editing ? (
        <form onSubmit={save} style={{ display: "inline" }}>
          <input name="title" aria-label={`Title of ${task.title}`} defaultValue={task.title} autoFocus />{" "}
          <button type="submit">Save</button>
        </form>
      ) : (
        <>
          <span data-testid="title" style={task.completed ? { textDecoration: "line-through" } : undefined}>
            {task.title}
          </span>{" "}
          <button onClick={() => setEditing(true)}>Edit</button>
        </>
      )}{" "}
      <button onClick={props.onDelete}>Delete</button>
    </li>
  );
}
