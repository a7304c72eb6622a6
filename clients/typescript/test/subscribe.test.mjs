// `subscribe` against the real API (see start-api.mjs: real Spin by default, the bundled host
// with TASK_API_RUNTIME=host): the event stream read through fetch with a bearer token, the
// long-poll fallback, resuming after a dropped connection, token expiry, refusals. The
// EventSource transport (cookies) runs in Chromium, in tests/browser. Run `npm test`.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { EventStreamParser, applyChange, createTaskApi, isTombstone } from "../dist/index.js";
import { startApi } from "./start-api.mjs";
import { eventually } from "./eventually.mjs";
import { newUser, signToken } from "./support.mjs";

const SECRET = "subscribe-test-secret-0123456789abcdefgh";
const WRONG_SECRET = "another-secret-entirely-0123456789abcdef";

let api;

before(async () => {
  api = await startApi({ variables: { better_auth_secret: SECRET } });
});

after(async () => {
  await api?.stop();
});

const sign = (sub, { secret = SECRET, expiresIn = "10m" } = {}) => signToken(sub, secret, expiresIn);

function clientFor(userId, extra = {}) {
  return createTaskApi({ baseUrl: api.url, userId, token: () => sign(userId), ...extra });
}

/** A fetch that records every request's method, URL and Authorization. */
function recordingFetch(inner = (request) => fetch(request)) {
  const seen = [];
  const wrapped = async (request) => {
    const entry = { method: request.method, url: new URL(request.url), authorization: request.headers.get("authorization") };
    seen.push(entry);
    const response = await inner(request);
    entry.status = response.status;
    return response;
  };
  return { fetch: wrapped, seen };
}
const streams = (seen) => seen.filter((r) => r.url.pathname.endsWith("/events"));
const polls = (seen) => seen.filter((r) => r.url.pathname.endsWith("/tasks/changes"));

/** Subscribes and records every change, position, status and error. */
function watch(client, userId, options = {}) {
  const got = { changes: [], positions: [], statuses: [], errors: [] };
  got.unsubscribe = client.subscribe(
    userId,
    (change, position) => {
      got.changes.push(change);
      got.positions.push(position);
    },
    {
      retryDelayMs: 100,
      ...options,
      onStatus: (status, transport) => got.statuses.push(`${status}/${transport}`),
      onError: (error) => got.errors.push(error),
    },
  );
  got.tasks = () => got.changes.reduce(applyChange, []);
  return got;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const seq = (position) => Number(position.slice(1));

function strictlyIncreasing(positions) {
  for (let i = 1; i < positions.length; i++) {
    assert.ok(seq(positions[i]) > seq(positions[i - 1]), `positions ${positions.join(" ")}`);
  }
}

/** The tasks the API lists, as the feed shows them (newest change last is irrelevant: by id). */
async function listed(client) {
  return (await client.list({ limit: 100 })).sort((a, b) => a.id - b.id);
}
const byId = (tasks) => [...tasks].sort((a, b) => a.id - b.id);

describe("the event stream parser", () => {
  test("fields, comments, multi-line data, ids that persist, CRLF split across chunks", () => {
    const events = [];
    const retries = [];
    const parser = new EventStreamParser((e) => events.push(e), (ms) => retries.push(ms));
    const text = "\ufeffretry: 1000\r\n\r\n: keep-alive\n\nid: s1\nevent: change\ndata: {\"a\":\ndata: 1}\n\ndata:x\r\rid\nevent: end\ndata: {}\n\nevent: lost\ndata: no blank line";
    for (let i = 0; i < text.length; i += 3) parser.push(text.slice(i, i + 3));
    assert.deepEqual(retries, [1000]);
    assert.deepEqual(events, [
      { type: "change", data: '{"a":\n1}', id: "s1" },
      { type: "message", data: "x", id: "s1" },
      { type: "end", data: "{}", id: "" },
    ]);
  });
});

describe("applyChange", () => {
  const task = (id, updated_at, title = `t${id}`) => ({ id, title, updated_at });
  test("adds, replaces, removes, and keeps a newer copy", () => {
    let tasks = applyChange([], task(1, "2026-01-01T00:00:01.000000Z"));
    tasks = applyChange(tasks, task(2, "2026-01-01T00:00:02.000000Z"));
    tasks = applyChange(tasks, task(1, "2026-01-01T00:00:03.000000Z", "renamed"));
    assert.deepEqual(tasks.map((t) => t.title), ["renamed", "t2"]);
    // An older version echoed late does not undo the newer copy; nor does an older tombstone.
    tasks = applyChange(tasks, task(1, "2026-01-01T00:00:02.500000Z", "stale"));
    tasks = applyChange(tasks, { id: 1, deleted_at: "2026-01-01T00:00:02.900000Z" });
    assert.deepEqual(tasks.map((t) => t.title), ["renamed", "t2"]);
    tasks = applyChange(tasks, { id: 2, deleted_at: "2026-01-01T00:00:04.000000Z" });
    assert.deepEqual(tasks.map((t) => t.title), ["renamed"]);
    assert.equal(isTombstone({ id: 2, deleted_at: "x" }), true);
    assert.equal(isTombstone(tasks[0]), false);
  });
});

describe("subscribe", { concurrency: true }, () => {
  test("streams creates, updates, toggles and deletes as they happen, each once, in order", async () => {
    const user = newUser("live");
    const writer = clientFor(user);
    await writer.create({ title: "before" });
    const recorder = recordingFetch();
    const got = watch(clientFor(user, { fetch: recorder.fetch }), user);
    // Without `since`: every change from the start.
    await eventually(() => assert.equal(got.changes.length, 1), "the task from before");
    assert.deepEqual(got.statuses.slice(0, 2), ["connecting/fetch", "stream/fetch"]);

    const a = await writer.create({ title: "a" });
    await eventually(() => assert.ok(got.changes.some((c) => c.id === a.id)), "the create");
    const renamed = await writer.update(a, { title: "a, renamed" });
    await eventually(() => assert.ok(got.changes.some((c) => c.title === "a, renamed")), "the update");
    const done = await writer.toggle(renamed);
    await eventually(() => assert.ok(got.changes.some((c) => c.id === a.id && c.completed)), "the toggle");
    await writer.remove(done);
    await eventually(() => assert.ok(got.changes.some((c) => isTombstone(c) && c.id === a.id)), "the delete");
    const b = await writer.create({ title: "b" });
    await eventually(() => assert.ok(got.changes.some((c) => c.id === b.id)), "the last create");

    assert.deepEqual(byId(got.tasks()), await listed(writer), "applied in order, they give the API's tasks");
    strictlyIncreasing(got.positions);
    // The last position is the head of the feed: nothing after it.
    const rest = await writer.changes({ since: got.positions.at(-1) });
    assert.deepEqual(rest.changes, []);
    assert.equal(rest.next, got.positions.at(-1));
    // One stream did it all, with the bearer token.
    assert.equal(streams(recorder.seen).length, 1);
    assert.match(streams(recorder.seen)[0].authorization, /^Bearer /);
    assert.deepEqual(polls(recorder.seen), []);
    got.unsubscribe();
    assert.equal(got.statuses.at(-1), "stopped/fetch");
    assert.deepEqual(got.errors, []);
  });

  test("`since` starts after a position; after unsubscribe nothing more arrives", async () => {
    const user = newUser("since");
    const writer = clientFor(user);
    await writer.create({ title: "old 1" });
    await writer.create({ title: "old 2" });
    const { next } = await writer.changes();
    const got = watch(clientFor(user), user, { since: next });
    await eventually(() => assert.equal(got.statuses.at(-1), "stream/fetch"), "streaming");
    const fresh = await writer.create({ title: "new" });
    await eventually(() => assert.deepEqual(got.changes.map((c) => c.title), ["new"]), "only the new task");
    got.unsubscribe();
    await writer.update(fresh, { title: "after unsubscribe" });
    await sleep(700);
    assert.deepEqual(got.changes.map((c) => c.title), ["new"]);
  });

  test("a dropped connection resumes from the last event id: nothing repeated, nothing lost", async () => {
    const user = newUser("dropped");
    const writer = clientFor(user);
    // The first stream breaks right after its first change event, as a network failure would.
    let cut = 0;
    const recorder = recordingFetch(async (request) => {
      const response = await fetch(request);
      if (!request.url.includes("/events") || cut++ > 0) return response;
      const reader = response.body.getReader();
      let text = "";
      const body = new ReadableStream({
        async pull(controller) {
          const { value, done } = await reader.read();
          if (done) return controller.close();
          controller.enqueue(value);
          text += new TextDecoder().decode(value);
          if (text.includes("event: change")) {
            await reader.cancel();
            controller.error(new TypeError("connection reset"));
          }
        },
      });
      return new Response(body, { status: response.status, headers: response.headers });
    });
    const got = watch(clientFor(user, { fetch: recorder.fetch }), user);
    const first = await writer.create({ title: "first" });
    await eventually(() => assert.ok(got.changes.length >= 1), "the first change");
    // Written while the client reconnects (or before it reconnects).
    await writer.create({ title: "second" });
    await writer.toggle(first);
    await eventually(() => assert.equal(streams(recorder.seen).length, 2), "a second stream");
    const third = await writer.create({ title: "third" });
    await eventually(() => assert.ok(got.changes.some((c) => c.id === third.id)), "the change after the reconnect");

    strictlyIncreasing(got.positions);
    const ids = got.positions;
    assert.equal(new Set(ids).size, ids.length, "no change twice");
    assert.deepEqual(byId(got.tasks()), await listed(writer));
    const [one, two] = streams(recorder.seen);
    assert.equal(one.url.searchParams.get("since"), null);
    assert.equal(two.url.searchParams.get("since"), got.positions[0], "resumed after the last event");
    got.unsubscribe();
    assert.deepEqual(got.errors, []);
  });

  test("a reconnect that starts too early (the stream repeats changes) delivers none twice", async () => {
    const user = newUser("repeats");
    const writer = clientFor(user);
    await writer.create({ title: "one" });
    await writer.create({ title: "two" });
    // A proxy that drops `since` and ends the first stream after its events: the second
    // stream starts from the beginning again.
    let opened = 0;
    const recorder = recordingFetch(async (request) => {
      if (!request.url.includes("/events")) return fetch(request);
      opened += 1;
      const url = new URL(request.url);
      url.searchParams.delete("since");
      const response = await fetch(new Request(url, request));
      if (opened > 1) return response;
      const text = await new Promise((resolve) => {
        const reader = response.body.getReader();
        let seen = "";
        (async function pump() {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            seen += new TextDecoder().decode(value);
            if ((seen.match(/event: change/g) ?? []).length >= 2 && seen.endsWith("\n\n")) break;
          }
          await reader.cancel();
          resolve(seen);
        })();
      });
      return new Response(text, { status: 200, headers: { "content-type": "text/event-stream" } });
    });
    const got = watch(clientFor(user, { fetch: recorder.fetch }), user);
    await eventually(() => assert.equal(got.changes.length, 2), "the first two");
    await eventually(() => assert.ok(opened >= 2), "the second stream");
    const three = await writer.create({ title: "three" });
    await eventually(() => assert.ok(got.changes.some((c) => c.id === three.id)), "the third");
    await sleep(300);
    assert.deepEqual(got.changes.map((c) => c.title), ["one", "two", "three"]);
    strictlyIncreasing(got.positions);
    got.unsubscribe();
  });

  test("token_expired: the stream resumes with a new token from the provider", async () => {
    const user = newUser("renewing");
    const writer = clientFor(user);
    let provided = 0;
    const recorder = recordingFetch();
    const client = createTaskApi({
      baseUrl: api.url,
      userId: user,
      fetch: recorder.fetch,
      refreshMarginSeconds: 0,
      token: () => (provided++, sign(user, { expiresIn: "2s" })),
    });
    const got = watch(client, user);
    await eventually(() => assert.equal(got.statuses.at(-1), "stream/fetch"), "streaming");
    const early = await writer.create({ title: "early" });
    await eventually(() => assert.ok(got.changes.some((c) => c.id === early.id)), "the early change");
    // The API ends the stream at the token's exp; the client gets a new token and goes on.
    await eventually(() => assert.ok(streams(recorder.seen).length >= 2), "a second stream", { timeout: 6000 });
    const late = await writer.create({ title: "late" });
    await eventually(() => assert.ok(got.changes.some((c) => c.id === late.id)), "the late change");
    const [one, two] = streams(recorder.seen);
    assert.notEqual(one.authorization, two.authorization, "another token");
    assert.equal(two.url.searchParams.get("since"), got.positions[0]);
    assert.ok(provided >= 2);
    assert.deepEqual(got.changes.map((c) => c.title), ["early", "late"]);
    assert.deepEqual(got.errors, []);
    got.unsubscribe();
  });

  test("token_expired with no new token to be had stops the subscription and says so", async () => {
    const user = newUser("expiring");
    const token = await sign(user, { expiresIn: "2s" });
    const recorder = recordingFetch();
    const client = createTaskApi({ baseUrl: api.url, userId: user, fetch: recorder.fetch, refreshMarginSeconds: 0, token: async () => token });
    const got = watch(client, user);
    const task = await clientFor(user).create({ title: "seen" });
    await eventually(() => assert.equal(got.errors.length, 1), "stopped", { timeout: 6000 });
    const [error] = got.errors;
    assert.equal(error.name, "SubscriptionError");
    assert.equal(error.reason, "token_expired");
    assert.equal(error.position, got.positions.at(-1));
    assert.deepEqual(got.changes.map((c) => c.id), [task.id]);
    assert.equal(got.statuses.at(-1), "stopped/fetch");
    const requests = recorder.seen.length;
    await sleep(1500);
    assert.equal(recorder.seen.length, requests, "no reconnect after it stopped");
  });

  test("a 401 (after one new token) and a 403 stop the subscription with the answer", async () => {
    const user = newUser("refused");
    const recorder = recordingFetch();
    const bad = createTaskApi({ baseUrl: api.url, userId: user, fetch: recorder.fetch, token: () => sign(user, { secret: WRONG_SECRET }) });
    const unauthorized = watch(bad, user);
    const other = newUser("other");
    const forbidden = watch(clientFor(user), other);
    await eventually(() => assert.equal(unauthorized.errors.length + forbidden.errors.length, 2), "both stopped");
    assert.equal(unauthorized.errors[0].reason, "unauthorized");
    assert.equal(unauthorized.errors[0].status, 401);
    assert.match(unauthorized.errors[0].apiError.wwwAuthenticate, /invalid_token/);
    assert.deepEqual(recorder.seen.map((r) => r.status), [401, 401], "one retry with a new token");
    assert.equal(forbidden.errors[0].reason, "refused");
    assert.equal(forbidden.errors[0].status, 403);
    assert.match(forbidden.errors[0].apiError.detail, /another user/);
  });

  test("transport poll: long-polls the changes feed with `wait` and `since`", async () => {
    const user = newUser("poller");
    const writer = clientFor(user);
    await writer.create({ title: "existing" });
    const recorder = recordingFetch();
    const got = watch(clientFor(user, { fetch: recorder.fetch }), user, { transport: "poll", pollWaitSeconds: 20 });
    await eventually(() => assert.equal(got.changes.length, 1), "the existing task");
    await sleep(300); // the next poll is now held by the API
    const started = Date.now();
    const task = await writer.create({ title: "while waiting" });
    await eventually(() => assert.ok(got.changes.some((c) => c.id === task.id)), "the new task");
    const latency = Date.now() - started;
    assert.ok(latency < 3000, `delivered ${latency} ms after the write`);
    assert.deepEqual(streams(recorder.seen), []);
    const sent = polls(recorder.seen);
    assert.ok(sent.length >= 2);
    for (const r of sent) assert.equal(r.url.searchParams.get("wait"), "20");
    assert.equal(sent[0].url.searchParams.get("since"), null);
    assert.equal(sent[1].url.searchParams.get("since"), got.positions[0]);
    assert.deepEqual(got.statuses, ["poll/poll"]);
    got.unsubscribe();
  });

  test("a stream that fails again and again falls back to long-polling, without losing a change", async () => {
    const user = newUser("fallback");
    const writer = clientFor(user);
    await writer.create({ title: "before" });
    // A proxy in front of /events that answers 502 (the feed passes).
    const recorder = recordingFetch((request) =>
      request.url.includes("/events")
        ? Promise.resolve(new Response("bad gateway", { status: 502 }))
        : fetch(request),
    );
    const got = watch(clientFor(user, { fetch: recorder.fetch }), user, { maxStreamFailures: 2, retryDelayMs: 50 });
    await eventually(() => assert.equal(got.statuses.at(-1), "poll/poll"), "fell back");
    const task = await writer.create({ title: "after" });
    await eventually(() => assert.deepEqual(got.changes.map((c) => c.title), ["before", "after"]), "both");
    assert.equal(streams(recorder.seen).length, 2);
    assert.deepEqual(got.errors, []);
    assert.ok(task.id);
    got.unsubscribe();
  });

  test("when the user's streams are all in use (429), it long-polls at once", async () => {
    const user = newUser("crowded");
    const writer = clientFor(user);
    const holders = [];
    for (let i = 0; i < 8; i++) holders.push(watch(clientFor(user), user));
    await eventually(
      () => assert.ok(holders.every((h) => h.statuses.at(-1) === "stream/fetch")),
      "eight streams open",
    );
    const recorder = recordingFetch();
    const got = watch(clientFor(user, { fetch: recorder.fetch }), user);
    await eventually(() => assert.equal(got.statuses.at(-1), "poll/poll"), "long-polling");
    assert.deepEqual(streams(recorder.seen).map((r) => r.status), [429]);
    const task = await writer.create({ title: "for all" });
    await eventually(() => assert.ok(got.changes.some((c) => c.id === task.id)), "the poller has it");
    await eventually(() => assert.ok(holders.every((h) => h.changes.some((c) => c.id === task.id))), "every stream has it");
    for (const h of holders) h.unsubscribe();
    got.unsubscribe();
  });
});
