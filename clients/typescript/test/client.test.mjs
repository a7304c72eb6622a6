// The client against the real API (see start-api.mjs: real Spin by default, the bundled host
// with TASK_API_RUNTIME=host), with HS256 development tokens signed by `jose` with the secret
// the API is given. Run `npm test` (it builds dist/ first).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { TaskApiError, createTaskApi, etagOf, retryAfterSeconds } from "../dist/index.js";
import { startApi } from "./start-api.mjs";
import { newUser, signToken } from "./support.mjs";

const SECRET = "client-test-secret-0123456789abcdefghij";
const WRONG_SECRET = "another-secret-entirely-0123456789abcdef";

let api; // the API under test
let misconfigured; // an API whose secret is a placeholder: every /api call is a 503
let limited; // an API with rate_limit_per_minute = 3

before(async () => {
  [api, misconfigured, limited] = await Promise.all([
    startApi({ variables: { better_auth_secret: SECRET } }),
    startApi({ variables: { better_auth_secret: "change-me-change-me-change-me-change-me" } }),
    startApi({ variables: { better_auth_secret: SECRET, rate_limit_per_minute: "3" } }),
  ]);
});

after(async () => {
  await Promise.all([api, misconfigured, limited].filter(Boolean).map((a) => a.stop()));
});

const sign = (sub, { secret = SECRET, expiresIn = "10m" } = {}) => signToken(sub, secret, expiresIn);

/** A fetch that records every request (method, URL, headers) and answer status it saw. */
function recordingFetch(inner = (request) => fetch(request)) {
  const seen = [];
  const wrapped = async (request) => {
    const entry = {
      method: request.method,
      url: request.url,
      headers: Object.fromEntries(request.headers),
    };
    seen.push(entry);
    const response = await inner(request);
    entry.status = response.status;
    entry.etag = response.headers.get("etag");
    return response;
  };
  return { fetch: wrapped, seen };
}

function clientFor(userId, extra = {}, baseUrl = api.url) {
  return createTaskApi({ baseUrl, userId, token: () => sign(userId), ...extra });
}

async function rejects(promise, status) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof TaskApiError, `expected a TaskApiError, got ${error}`);
    assert.equal(error.status, status, error.message);
    return error;
  }
  assert.fail(`expected a ${status}, got success`);
}

describe("routes", () => {
  test("health answers ok", async () => {
    const client = createTaskApi({ baseUrl: api.url, userId: "nobody" });
    assert.deepEqual(await client.health(), { status: "ok" });
  });

  test("create, get, list, update, replace, toggle, delete round trip", async () => {
    const user = newUser("alice");
    const client = clientFor(user);
    assert.deepEqual(await client.list(), []);

    const created = await client.create({ title: "  Buy milk  ", priority: "high" });
    assert.equal(created.title, "Buy milk");
    assert.equal(created.user_id, user);
    assert.equal(created.completed, false);
    assert.equal(created.priority, "high");
    assert.equal(created.description, null);

    const fetched = await client.get(created.id);
    assert.deepEqual(fetched, created);
    assert.deepEqual(await client.list(), [created]);

    const updated = await client.update(fetched, { description: "two litres" });
    assert.equal(updated.description, "two litres");
    assert.equal(updated.title, "Buy milk");
    assert.ok(updated.updated_at > created.updated_at);

    const replaced = await client.replace(updated, { title: "Buy oat milk", priority: "low" });
    assert.equal(replaced.title, "Buy oat milk");
    assert.equal(replaced.priority, "low");

    const done = await client.toggle(replaced);
    assert.equal(done.completed, true);
    const undone = await client.toggle(done);
    assert.equal(undone.completed, false);

    await client.remove(undone);
    await rejects(client.get(created.id), 404);
    assert.deepEqual(await client.list(), []);
  });

  test("list passes status, priority (array or string), sort, order, limit and offset", async () => {
    const client = clientFor(newUser("lister"));
    const a = await client.create({ title: "a", priority: "low" });
    const b = await client.create({ title: "b", priority: "high" });
    const c = await client.create({ title: "c", priority: "medium", completed: true });
    const ids = (tasks) => tasks.map((t) => t.id);

    assert.deepEqual(ids(await client.list()), [c.id, b.id, a.id], "newest first by default");
    assert.deepEqual(ids(await client.list({ status: "completed" })), [c.id]);
    assert.deepEqual(ids(await client.list({ status: "pending", sort: "title" })), [a.id, b.id]);
    assert.deepEqual(ids(await client.list({ priority: ["high", "low"], sort: "priority" })), [b.id, a.id]);
    assert.deepEqual(ids(await client.list({ priority: "medium" })), [c.id]);
    assert.deepEqual(ids(await client.list({ sort: "title", order: "desc", limit: 2 })), [c.id, b.id]);
    assert.deepEqual(ids(await client.list({ sort: "title", limit: 2, offset: 2 })), [c.id]);
  });
});

describe("tags", () => {
  test("tasks carry tags; the list filters by them; tags() counts them", async () => {
    const client = clientFor(newUser("tagger"));
    const home = await client.create({ title: "paint fence", tags: ["home", "Weekend"] });
    await client.create({ title: "file taxes", tags: ["home"] });
    await client.create({ title: "untagged" });
    assert.deepEqual(home.tags, ["home", "Weekend"]);
    const titles = (tasks) => tasks.map((x) => x.title).sort();
    assert.deepEqual(titles(await client.list({ tag: ["home"] })), ["file taxes", "paint fence"]);
    assert.deepEqual(titles(await client.list({ tag: ["home", "weekend"] })), ["paint fence"]);
    assert.deepEqual(
      (await client.tags()).map(({ tag, count }) => [tag.toLowerCase(), count]),
      [["home", 2], ["weekend", 1]],
    );
  });

  test("search and due dates pass through typed", async () => {
    const client = clientFor(newUser("searcher"));
    await client.create({ title: "Buy oat milk", due_at: "2026-03-01T09:00:00+01:00" });
    await client.create({ title: "Call mom" });
    const found = await client.list({ q: "milk" });
    assert.deepEqual(found.map((x) => x.title), ["Buy oat milk"]);
    assert.equal(found[0].due_at, "2026-03-01T08:00:00.000000Z");
    const due = await client.list({ sort: "due" });
    assert.deepEqual(due.map((x) => x.title), ["Buy oat milk", "Call mom"]);
  });
});

describe("errors", () => {
  test("a 422 is a TaskApiError with detail and per-field errors", async () => {
    const client = clientFor(newUser("validator"));
    const error = await rejects(client.create({ title: "   ", priority: "urgent" }), 422);
    assert.equal(typeof error.detail, "string");
    assert.ok(error.errors.length >= 1);
    assert.ok(error.messagesFor("title").length >= 1, JSON.stringify(error.errors));
    assert.ok(error.messagesFor("priority").length >= 1, JSON.stringify(error.errors));
    for (const e of error.errors) {
      assert.equal(typeof e.field, "string");
      assert.equal(typeof e.message, "string");
    }
  });

  test("a bad list parameter is a 422 naming it", async () => {
    const client = clientFor(newUser("badlist"));
    const error = await rejects(client.list({ limit: 0 }), 422);
    assert.ok(error.messagesFor("limit").length >= 1, JSON.stringify(error.errors));
  });

  test("another user's task is a 404, another user's URL a 403", async () => {
    const owner = clientFor(newUser("owner"));
    const task = await owner.create({ title: "mine" });
    const strangerId = newUser("stranger");
    const stranger = clientFor(strangerId);
    await rejects(stranger.get(task.id), 404);
    await rejects(stranger.update(task.id, { title: "yours now" }), 404);
    await rejects(stranger.remove(task.id), 404);
    // A client whose token is for someone else than its userId.
    const confused = createTaskApi({ baseUrl: api.url, userId: strangerId, token: () => sign("owner-x") });
    const error = await rejects(confused.list(), 403);
    assert.match(error.detail, /another user/);
    assert.equal((await owner.get(task.id)).title, "mine");
  });

  test("no token at all is a 401 with WWW-Authenticate", async () => {
    const client = createTaskApi({ baseUrl: api.url, userId: "anonymous" });
    const error = await rejects(client.list(), 401);
    assert.match(error.wwwAuthenticate ?? "", /^Bearer/);
  });
});

describe("If-Match from the task the caller read", () => {
  test("a write from a stale copy is a 412 and changes nothing", async () => {
    const user = newUser("editor");
    const recorder = recordingFetch();
    const client = clientFor(user, { fetch: recorder.fetch });
    const original = await client.create({ title: "draft" });
    const tabTwo = clientFor(user);
    const moved = await tabTwo.update(original.id, { title: "edited elsewhere" });

    await rejects(client.update(original, { title: "my edit" }), 412);
    await rejects(client.replace(original, { title: "my edit" }), 412);
    await rejects(client.toggle(original), 412);
    await rejects(client.remove(original), 412);
    const last = recorder.seen.at(-1);
    assert.equal(last.method, "DELETE");
    assert.equal(last.headers["if-match"], recorder.seen[0].etag, "the ETag the create answered");

    const current = await client.get(original.id);
    assert.deepEqual(current, moved, "none of the stale writes landed");
    const mine = await client.update(current, { title: "my edit" });
    assert.equal(mine.title, "my edit");
    await client.update(original, { title: "forced" }, { ifMatch: false });
    assert.equal((await client.get(original.id)).title, "forced");
  });

  test("tasks from a list carry usable ETags, equal to the ones the API sends", async () => {
    const user = newUser("etags");
    const recorder = recordingFetch();
    const client = clientFor(user, { fetch: recorder.fetch });
    await client.create({ title: "one" });
    await client.create({ title: "two" });
    for (const task of await client.list()) {
      await client.get(task.id);
      const sent = recorder.seen.at(-1).etag;
      assert.match(sent, /^"[\x21\x23-\x7e]+"$/);
      assert.equal(etagOf(task), sent, `computed ETag of ${JSON.stringify(task)}`);
      const toggled = await client.toggle(task);
      assert.equal(recorder.seen.at(-1).headers["if-match"], sent);
      assert.equal(toggled.completed, true);
      assert.equal(etagOf(toggled), recorder.seen.at(-1).etag);
    }
  });

  test("get(task) revalidates: the same object when unchanged (304), a new one after a change", async () => {
    const user = newUser("revalidator");
    const recorder = recordingFetch();
    const client = clientFor(user, { fetch: recorder.fetch });
    const task = await client.create({ title: "watch me" });
    assert.equal(await client.get(task), task);
    assert.equal(recorder.seen.at(-1).status, 304);
    await clientFor(user).toggle(task.id);
    const fresh = await client.get(task);
    assert.notEqual(fresh, task);
    assert.equal(fresh.completed, true);
  });
});

describe("Idempotency-Key on creates", () => {
  test("every create sends a fresh key; two creates of the same body make two tasks", async () => {
    const recorder = recordingFetch();
    const client = clientFor(newUser("keys"), { fetch: recorder.fetch });
    const first = await client.create({ title: "same" });
    const second = await client.create({ title: "same" });
    assert.notEqual(first.id, second.id);
    const [k1, k2] = recorder.seen.map((r) => r.headers["idempotency-key"]);
    assert.match(k1, /^[0-9a-f-]{36}$/);
    assert.notEqual(k1, k2);
  });

  test("a caller's key makes a repeated create answer the first task; another body is a 422", async () => {
    const client = clientFor(newUser("repeat"));
    const first = await client.create({ title: "once" }, { idempotencyKey: "order-42" });
    const again = await client.create({ title: "once" }, { idempotencyKey: "order-42" });
    assert.deepEqual(again, first);
    const error = await rejects(client.create({ title: "different" }, { idempotencyKey: "order-42" }), 422);
    assert.ok(error.messagesFor("Idempotency-Key").length >= 1, JSON.stringify(error.errors));
    assert.equal((await client.list()).length, 1);
  });
});

describe("tokens", () => {
  test("the provider is asked once for many calls", async () => {
    const user = newUser("cached");
    let calls = 0;
    const client = createTaskApi({ baseUrl: api.url, userId: user, token: () => (calls++, sign(user)) });
    await client.create({ title: "a" });
    await client.list();
    await client.list();
    assert.equal(calls, 1);
    assert.equal(client.stats.tokenFetches, 1);
  });

  test("a 401 makes the client fetch a new token once and retry", async () => {
    const user = newUser("refresh");
    const tokens = [sign(user, { secret: WRONG_SECRET }), sign(user)];
    const recorder = recordingFetch();
    const client = createTaskApi({ baseUrl: api.url, userId: user, fetch: recorder.fetch, token: () => tokens.shift() });
    const task = await client.create({ title: "after refresh" }, { idempotencyKey: "k-refresh" });
    assert.equal(task.title, "after refresh");
    assert.deepEqual(recorder.seen.map((r) => r.status), [401, 201]);
    assert.equal(recorder.seen[1].headers["idempotency-key"], "k-refresh");
    assert.notEqual(recorder.seen[0].headers.authorization, recorder.seen[1].headers.authorization);
  });

  test("a provider that keeps giving bad tokens ends in a 401 after one refresh", async () => {
    const user = newUser("hopeless");
    const recorder = recordingFetch();
    let calls = 0;
    const client = createTaskApi({
      baseUrl: api.url,
      userId: user,
      fetch: recorder.fetch,
      token: () => (calls++, sign(user, { secret: WRONG_SECRET })),
    });
    const error = await rejects(client.list(), 401);
    assert.match(error.wwwAuthenticate ?? "", /invalid_token/);
    assert.equal(recorder.seen.length, 2);
    assert.equal(calls, 2);
  });

  test("a provider that answers the same token again is not retried with it", async () => {
    const user = newUser("stubborn");
    const bad = await sign(user, { secret: WRONG_SECRET });
    const recorder = recordingFetch();
    const client = createTaskApi({ baseUrl: api.url, userId: user, fetch: recorder.fetch, token: async () => bad });
    await rejects(client.list(), 401);
    assert.equal(recorder.seen.length, 1);
  });

  test("a token about to expire is replaced before it is sent", async () => {
    const user = newUser("expiring");
    let calls = 0;
    const client = createTaskApi({
      baseUrl: api.url,
      userId: user,
      refreshMarginSeconds: 30,
      token: () => (calls++, sign(user, { expiresIn: "20s" })),
    });
    await client.list();
    await client.list();
    assert.equal(calls, 2, "the 20 s token is inside the 30 s margin");
  });
});

describe("retries of 429 and 503", () => {
  test("Retry-After parses seconds and HTTP dates", () => {
    assert.equal(retryAfterSeconds("7"), 7);
    assert.equal(retryAfterSeconds(null), undefined);
    assert.equal(retryAfterSeconds("soon"), undefined);
    const now = Date.parse("2026-12-01T00:00:00Z");
    assert.equal(retryAfterSeconds("Tue, 01 Dec 2026 00:00:09 GMT", now), 9);
  });

  test("a real 503 is retried after its Retry-After, up to maxAttempts", async () => {
    const user = newUser("unavailable");
    const recorder = recordingFetch();
    const client = clientFor(user, { fetch: recorder.fetch, maxAttempts: 2 }, misconfigured.url);
    const started = Date.now();
    const error = await rejects(client.list(), 503);
    const waited = Date.now() - started;
    assert.equal(error.retryAfter, 5);
    assert.deepEqual(recorder.seen.map((r) => r.status), [503, 503]);
    assert.ok(waited >= 5000, `waited ${waited} ms`);
  });

  test("a Retry-After longer than maxRetryDelayMs is not waited for", async () => {
    const recorder = recordingFetch();
    const client = clientFor(newUser("impatient"), { fetch: recorder.fetch, maxRetryDelayMs: 1000 }, misconfigured.url);
    await rejects(client.list(), 503);
    assert.equal(recorder.seen.length, 1);
  });

  test("a toggle without If-Match is not repeated after a 503 (it might have happened)", async () => {
    const recorder = recordingFetch();
    const client = clientFor(newUser("toggler"), { fetch: recorder.fetch }, misconfigured.url);
    await rejects(client.toggle(1), 503);
    assert.equal(recorder.seen.length, 1);
  });

  test("a real 429 throws with its Retry-After when that is beyond the wait budget", async () => {
    const recorder = recordingFetch();
    const client = clientFor(newUser("busy"), { fetch: recorder.fetch, maxRetryDelayMs: 0 }, limited.url);
    await client.list();
    await client.list();
    await client.list();
    const error = await rejects(client.list(), 429);
    assert.ok(error.retryAfter >= 1 && error.retryAfter <= 60, `Retry-After ${error.retryAfter}`);
    assert.equal(recorder.seen.length, 4);
  });

  test("a create whose answer was lost (503) is retried with the same key: one task", async () => {
    const user = newUser("lost");
    let lost = 0;
    // The real API commits the create; the answer is then replaced by a 503, as a proxy in
    // between might do. The retry must answer the same task, not create a second one.
    const recorder = recordingFetch(async (request) => {
      const response = await fetch(request);
      if (request.method === "POST" && lost++ === 0) {
        return new Response(JSON.stringify({ detail: "proxy timeout" }), {
          status: 503,
          headers: { "retry-after": "1", "content-type": "application/json" },
        });
      }
      return response;
    });
    const client = clientFor(user, { fetch: recorder.fetch });
    const task = await client.create({ title: "exactly once" });
    assert.deepEqual(recorder.seen.map((r) => r.status), [503, 201]);
    assert.equal(recorder.seen[0].headers["idempotency-key"], recorder.seen[1].headers["idempotency-key"]);
    assert.deepEqual((await client.list()).map((t) => t.id), [task.id]);
    assert.equal(client.stats.retries, 1);
  });
});
