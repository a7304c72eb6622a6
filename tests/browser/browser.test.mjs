// The example end to end in a real browser (Debian's Chromium, driven by playwright-core):
// sign up through Better Auth on the app's origin, then list, add, edit, complete and delete
// through task-api-client against the task API on another origin; a second user in another
// browser context sees nothing of the first; tokens that expire are replaced through Better
// Auth; live updates: a second page of the same user follows every change without a reload
// (the client's event stream, with the bearer token) while another user's page gets none of
// it, and the client's EventSource transport with the `access_token` cookie; and from the
// page's own JavaScript, what CORS lets through (ETag, Location, WWW-Authenticate, If-Match,
// credentials). Run `npm test` here (see harness.mjs for the knobs).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { eventually as retrying } from "../../clients/typescript/test/eventually.mjs";
import { TOKEN_SECONDS, build, startAll } from "./harness.mjs";

const PASSWORD = "correct horse battery staple";
const CLOCK_BEHIND_SECONDS = 90;

let env;
let alice; // { context, page, log, id, email }
let bob; // a second user, in a browser context of his own
let late; // a user whose browser clock is behind (see the last test)

before(async () => {
  build();
  env = await startAll();
  console.log(`# app ${env.appUrl}, API ${env.apiUrl} (${env.runtime}), tokens live ${TOKEN_SECONDS} s`);
  // Started first: its test has to wait for a token to pass the API's clock tolerance.
  late = await newUser("Late", { clockBehindSeconds: CLOCK_BEHIND_SECONDS });
  // Without live updates: its test watches the writes' own token refresh, which a stream
  // ended by the API at the token's expiry would do first.
  await signUp(late, "/?live=0");
  await addTask(late, "written before the wait");
  late.firstToken = lastToken(late);
});

after(async () => {
  await env?.stop();
});

function payload(token) {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
}

/**
 * A browser context of its own (own cookies) with a log of every exchange with the API and
 * with Better Auth's /api/auth/token: method, path, status, the bearer token sent, headers.
 */
async function newUser(name, { clockBehindSeconds = 0 } = {}) {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  if (clockBehindSeconds) {
    await page.clock.install({ time: Date.now() - clockBehindSeconds * 1000 });
  }
  const log = [];
  const problems = [];
  watchPage(page, problems);
  // Every answer >= 400 but the missing favicon (any page of the context).
  context.on("response", (response) => {
    const url = new URL(response.url());
    if (response.status() >= 400 && url.pathname !== "/favicon.ico") {
      problems.push(`${response.request().method()} ${url.origin === env.apiUrl ? "api" : "app"}${url.pathname} ${response.status()}`);
    }
  });
  context.on("response", async (response) => {
    const request = response.request();
    const url = new URL(request.url());
    const toApi = url.origin === env.apiUrl;
    if (!toApi && url.pathname !== "/api/auth/token") return;
    const entry = { at: Date.now(), toApi, method: request.method(), path: url.pathname + url.search, status: response.status() };
    log.push(entry);
    entry.requestHeaders = await request.allHeaders();
    entry.responseHeaders = await response.allHeaders().catch(() => ({}));
    entry.token = entry.requestHeaders.authorization?.replace(/^Bearer /, "");
  });
  // Preflights never reach Playwright's request events; Chromium's DevTools protocol reports
  // them (resource type "Preflight").
  const preflights = [];
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  cdp.on("Network.responseReceived", ({ type, response }) => {
    if (type === "Preflight") preflights.push({ url: response.url, status: response.status, headers: response.headers });
  });
  const email = `${name.toLowerCase()}-${Date.now()}@example.com`;
  return { name, email, context, page, log, problems, preflights };
}

/**
 * Page errors, and console errors other than the browser's own "Failed to load resource"
 * (the responses say which).
 */
function watchPage(page, problems) {
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(`console: ${m.text()}`);
  });
}

/** Browser pages update a little later than the API answers: longer and coarser than the default. */
const eventually = (check, what, timeout = 15_000) => retrying(check, what, { timeout, every: 100 });

const titles = (user) => user.page.getByTestId("title").allTextContents();
async function countIs(user, n) {
  await eventually(async () => {
    const alert = await user.page.getByTestId("error").allTextContents();
    assert.deepEqual(alert, [], "the page shows an error");
    assert.equal(await user.page.getByTestId("count").textContent(), `${n} ${n === 1 ? "task" : "tasks"}`);
  }, `${user.name} should have ${n} tasks`);
}

async function signUp(user, path = "/") {
  const { page } = user;
  await page.goto(new URL(path, env.appUrl).href);
  await page.getByLabel("Name").fill(user.name);
  await page.getByLabel("Email").fill(user.email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  await eventually(async () => assert.equal(await page.getByTestId("whoami").textContent(), user.email), "signed in");
  await countIs(user, 0);
  const session = await page.evaluate(() => fetch("/api/auth/get-session").then((r) => r.json()));
  user.id = session.user.id;
}

async function addTask(user, title) {
  const before = (await titles(user)).length;
  await user.page.getByLabel("New task").fill(title);
  await user.page.getByRole("button", { name: "Add" }).click();
  await countIs(user, before + 1);
}

/** The page's live-update status (`connecting`, `stream`, `poll`, `stopped`, `off`). */
const liveStatus = (user) => user.page.getByTestId("live").getAttribute("data-status");
/** How many changes the page's subscription has received. */
const received = async (user) => Number(await user.page.getByTestId("live").getAttribute("data-received"));
async function isStreaming(user) {
  await eventually(async () => assert.equal(await liveStatus(user), "stream"), `${user.name}'s page streams`);
}
const isStream = (e) => e.toApi && /\/events(\?|$)/.test(e.path);

function lastToken(user) {
  const sent = user.log.filter((e) => e.toApi && e.token);
  assert.ok(sent.length > 0, "no API request carried a token");
  return sent.at(-1).token;
}

describe("the example in Chromium", () => {
  test("a user signs up, creates tasks, reloads and sees them", async () => {
    alice = await newUser("Alice");
    await signUp(alice);
    for (const title of ["Buy milk", "Write report", "Call Bob"]) await addTask(alice, title);
    assert.deepEqual(await titles(alice), ["Buy milk", "Write report", "Call Bob"]);

    await alice.page.reload();
    await countIs(alice, 3);
    assert.deepEqual(await titles(alice), ["Buy milk", "Write report", "Call Bob"]);

    // What went over the wire: creates with an Idempotency-Key, all with Better Auth's token,
    // whose subject is the signed-in user.
    const creates = alice.log.filter((e) => e.toApi && e.method === "POST");
    assert.equal(creates.length, 3);
    for (const c of creates) {
      assert.equal(c.status, 201);
      assert.match(c.requestHeaders["idempotency-key"], /^[0-9a-f-]{36}$/);
      assert.equal(c.responseHeaders["access-control-allow-origin"], env.appUrl);
      assert.equal(c.responseHeaders["access-control-allow-credentials"], "true");
    }
    // The browser preflighted the API (Authorization, If-Match and Idempotency-Key are not
    // safelisted) and was granted credentials for this origin.
    assert.ok(alice.preflights.length >= 2, `preflights seen: ${alice.preflights.length}`);
    for (const p of alice.preflights) {
      const h = Object.fromEntries(Object.entries(p.headers).map(([k, v]) => [k.toLowerCase(), v]));
      assert.ok(p.url.startsWith(env.apiUrl), p.url);
      assert.equal(p.status, 204, p.url);
      assert.equal(h["access-control-allow-origin"], env.appUrl);
      assert.equal(h["access-control-allow-credentials"], "true");
    }
    const token = payload(lastToken(alice));
    assert.equal(token.sub, alice.id);
    assert.equal(token.iss, env.appUrl);
    assert.equal(token.exp - token.iat, TOKEN_SECONDS);
    assert.deepEqual(alice.problems, []);
  });

  test("edit, complete and delete, each kept across a reload", async () => {
    const { page } = alice;
    const task = (title) => page.getByTestId("task").filter({ hasText: title });

    await task("Write report").getByRole("button", { name: "Edit" }).click();
    await page.getByLabel("Title of Write report").fill("Write the report");
    await page.getByRole("button", { name: "Save" }).click();
    await eventually(async () => assert.deepEqual(await titles(alice), ["Buy milk", "Write the report", "Call Bob"]), "renamed");

    // A click, not check(): the box is controlled and flips when the API has answered.
    await page.getByLabel("Done: Buy milk").click();
    await eventually(async () => assert.equal(await task("Buy milk").getAttribute("data-completed"), "true"), "completed");

    await task("Call Bob").getByRole("button", { name: "Delete" }).click();
    await countIs(alice, 2);

    await page.reload();
    await countIs(alice, 2);
    assert.deepEqual(await titles(alice), ["Buy milk", "Write the report"]);
    assert.equal(await task("Buy milk").getAttribute("data-completed"), "true");
    assert.equal(await task("Write the report").getAttribute("data-completed"), "false");

    // Every write carried the If-Match of the task as the page had it, and none was refused.
    const writes = alice.log.filter((e) => e.toApi && ["PATCH", "PUT", "DELETE"].includes(e.method));
    assert.deepEqual(writes.map((w) => [w.method, w.status]), [["PATCH", 200], ["PATCH", 200], ["DELETE", 204]]);
    for (const w of writes) assert.match(w.requestHeaders["if-match"] ?? "", /^"\d+-\d+"$/);
    assert.deepEqual(alice.problems, []);
  });

  test("a second user in another browser context sees none of the first user's tasks", async () => {
    bob = await newUser("Bob");
    await signUp(bob);
    await countIs(bob, 0);
    await addTask(bob, "Bob's own");
    assert.deepEqual(await titles(bob), ["Bob's own"]);
    await alice.page.reload();
    await countIs(alice, 2);
    assert.ok(!(await titles(alice)).includes("Bob's own"));

    // And from Bob's page, with Bob's token, Alice's list and tasks are out of reach.
    const aliceTask = alice.log.find((e) => e.toApi && e.method === "POST" && e.status === 201);
    const aliceTaskPath = new URL(aliceTask.responseHeaders.location, env.apiUrl).pathname;
    const probes = await bob.page.evaluate(
      async ({ apiUrl, aliceId, aliceTaskPath, bobId }) => {
        const { token } = await (await fetch("/api/auth/token")).json();
        const headers = { Authorization: `Bearer ${token}` };
        const id = aliceTaskPath.split("/").at(-1);
        const list = await fetch(`${apiUrl}/api/${aliceId}/tasks`, { headers, credentials: "include" });
        const asOwn = await fetch(`${apiUrl}/api/${bobId}/tasks/${id}`, { headers, credentials: "include" });
        return { list: list.status, asOwn: asOwn.status };
      },
      { apiUrl: env.apiUrl, aliceId: alice.id, aliceTaskPath, bobId: bob.id },
    );
    assert.deepEqual(probes, { list: 403, asOwn: 404 });
    assert.deepEqual(bob.problems, [
      `GET api/api/${alice.id}/tasks 403`,
      `GET api/api/${bob.id}/tasks/${aliceTaskPath.split("/").at(-1)} 404`,
    ]);
  });

  test("live: a second page of the same user follows create, toggle and delete without a reload; another user's page gets none of it", async () => {
    // Bob (signed up above; a fourth sign-up this soon would meet Better Auth's rate limit).
    bob.problems.splice(0);
    // A second tab of the signed-in Alice: same context, same Better Auth session.
    const page = await alice.context.newPage();
    watchPage(page, alice.problems);
    await page.goto(env.appUrl);
    const second = { ...alice, name: "Alice's second page", page };
    await countIs(second, 2);
    for (const user of [alice, second, bob]) await isStreaming(user);
    const bobReceived = await received(bob);
    const receivedBefore = [await received(alice), await received(second)];
    const loggedBefore = alice.log.length;
    const task = (user, title) => user.page.getByTestId("task").filter({ hasText: title });
    const within = (what, check) => eventually(check, what, 5_000);

    // Each write from the tab in front (Chromium holds back a background tab's rendering, and
    // so Playwright's clicks there); the other tab, in the background, receives it.
    await alice.page.bringToFront();
    let started = Date.now();
    await addTask(alice, "Live one");
    await within("the create reaches the second page", async () =>
      assert.deepEqual(await titles(second), ["Buy milk", "Write the report", "Live one"]),
    );
    const createMs = Date.now() - started;

    await second.page.bringToFront();
    started = Date.now();
    await second.page.getByLabel("Done: Live one").click();
    await within("the toggle reaches the first page", async () =>
      assert.equal(await task(alice, "Live one").getAttribute("data-completed"), "true"),
    );
    const toggleMs = Date.now() - started;

    await alice.page.bringToFront();
    started = Date.now();
    await task(alice, "Live one").getByRole("button", { name: "Delete" }).click();
    await within("the delete reaches the second page", async () =>
      assert.deepEqual(await titles(second), ["Buy milk", "Write the report"]),
    );
    const deleteMs = Date.now() - started;
    console.log(`# live, page to page: create ${createMs} ms, toggle ${toggleMs} ms, delete ${deleteMs} ms`);
    await countIs(alice, 2);
    await countIs(second, 2);
    // The feed holds each task's latest state, so a page whose stream had not read the task
    // between two of its changes receives them as one event: the writing page's own write
    // and the next change from the other page may arrive together (each step above waited
    // only for the *other* page). So each page receives 2 or 3 events, never more (no change
    // twice, across whatever reconnects the 12 s tokens caused), once its stream has caught
    // up: a second after the counts reach that range, well past a few 250 ms polls.
    const counts = async () => [(await received(alice)) - receivedBefore[0], (await received(second)) - receivedBefore[1]];
    const inRange = async () => {
      const now = await counts();
      assert.ok(now.every((n) => n === 2 || n === 3), `changes received by each page: ${now}`);
    };
    await eventually(inRange, "every change");
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await inRange();

    // Neither page loaded its tasks again (nor long-polled): after the pages were live, the API
    // saw only writes and streams.
    const reads = alice.log.slice(loggedBefore).filter((e) => e.toApi && e.method === "GET" && !isStream(e));
    assert.deepEqual(reads.map((e) => e.path), []);
    // The second page's toggle sent the ETag of the version it had received live: no 412.
    const writes = alice.log.filter((e) => e.toApi && ["PATCH", "DELETE"].includes(e.method)).slice(-2);
    assert.deepEqual(writes.map((w) => [w.method, w.status]), [["PATCH", 200], ["DELETE", 204]]);
    // The streams carry Better Auth's bearer token (EventSource could not).
    const streams = alice.log.filter(isStream);
    assert.ok(streams.length >= 2, `${streams.length} streams`);
    for (const e of streams) {
      assert.equal(e.status, 200, e.path);
      assert.ok(e.path.startsWith(`/api/${alice.id}/events`), e.path);
      assert.equal(payload(e.token).sub, alice.id);
      assert.match(e.responseHeaders["content-type"], /^text\/event-stream/);
    }

    // Bob's page stayed live all along and received nothing of it.
    assert.equal(await liveStatus(bob), "stream");
    assert.equal(await received(bob), bobReceived, "Bob's subscription received a change");
    assert.deepEqual(await titles(bob), ["Bob's own"]);
    const bobStreams = bob.log.filter(isStream);
    assert.ok(bobStreams.length >= 1);
    for (const e of bobStreams) assert.ok(e.path.startsWith(`/api/${bob.id}/events`), e.path);
    // Nor can she open Alice's stream with her own token.
    const probe = await bob.page.evaluate(
      async ({ apiUrl, aliceId }) => {
        const { token } = await (await fetch("/api/auth/token")).json();
        const response = await fetch(`${apiUrl}/api/${aliceId}/events`, { headers: { Authorization: `Bearer ${token}` } });
        return { status: response.status, type: response.headers.get("content-type") };
      },
      { apiUrl: env.apiUrl, aliceId: alice.id },
    );
    assert.deepEqual(probe, { status: 403, type: "application/json" });
    assert.deepEqual(bob.problems, [`GET api/api/${alice.id}/events 403`]);
    assert.deepEqual(alice.problems, []);
    await page.close();
    await bob.context.close();
  });

  test("from the page's JavaScript: ETag, Location and WWW-Authenticate are readable, If-Match works cross-origin with credentials", async () => {
    const result = await alice.page.evaluate(
      async ({ apiUrl, userId }) => {
        const { token } = await (await fetch("/api/auth/token")).json();
        const base = `${apiUrl}/api/${userId}/tasks`;
        const call = (path, init = {}) =>
          fetch(`${base}${path}`, {
            credentials: "include",
            ...init,
            headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", ...init.headers },
          });
        const created = await call("", {
          method: "POST",
          headers: { "Idempotency-Key": crypto.randomUUID() },
          body: JSON.stringify({ title: "from page JS" }),
        });
        const task = await created.json();
        const etag = created.headers.get("ETag");
        const wrong = await call(`/${task.id}`, { method: "PATCH", headers: { "If-Match": '"1-1"' }, body: '{"title":"lost"}' });
        const right = await call(`/${task.id}`, { method: "PATCH", headers: { "If-Match": etag }, body: '{"title":"kept"}' });
        const newEtag = right.headers.get("ETag");
        const stale = await call(`/${task.id}/complete`, { method: "PATCH", headers: { "If-Match": etag } });
        const unchanged = await call(`/${task.id}`, { headers: { "If-None-Match": newEtag } });
        const gone = await call(`/${task.id}`, { method: "DELETE", headers: { "If-Match": newEtag } });
        const anonymous = await fetch(base, { credentials: "include" });
        return {
          created: created.status,
          etag,
          location: created.headers.get("Location"),
          wrong: wrong.status,
          wrongBody: await wrong.json(),
          right: right.status,
          newEtag,
          stale: stale.status,
          unchanged: unchanged.status,
          gone: gone.status,
          anonymous: anonymous.status,
          wwwAuthenticate: anonymous.headers.get("WWW-Authenticate"),
          cacheControl: created.headers.get("Cache-Control"),
          // Not exposed by CORS: JavaScript must not see it.
          vary: created.headers.get("Vary"),
        };
      },
      { apiUrl: env.apiUrl, userId: alice.id },
    );
    assert.equal(result.created, 201);
    assert.match(result.etag ?? "", /^"\d+-\d+"$/, "ETag readable from JavaScript");
    assert.match(result.location ?? "", /^\/api\/.+\/tasks\/\d+$/, "Location readable from JavaScript");
    assert.equal(result.wrong, 412);
    assert.equal(typeof result.wrongBody.detail, "string");
    assert.equal(result.right, 200);
    assert.notEqual(result.newEtag, result.etag);
    assert.equal(result.stale, 412, "the old ETag no longer matches");
    assert.equal(result.unchanged, 304);
    assert.equal(result.gone, 204);
    assert.equal(result.anonymous, 401);
    assert.match(result.wwwAuthenticate ?? "", /^Bearer/, "WWW-Authenticate readable from JavaScript");
    assert.equal(result.cacheControl, "private, no-cache", "a CORS-safelisted header");
    assert.equal(result.vary, null, "Vary is not exposed, so JavaScript cannot read it");
    // The refusals asked for above, and nothing else.
    const tasks = `api/api/${alice.id}/tasks`;
    const id = result.location.split("/").at(-1);
    assert.deepEqual(alice.problems.splice(0), [
      `PATCH ${tasks}/${id} 412`,
      `PATCH ${tasks}/${id}/complete 412`,
      `GET ${tasks} 401`,
    ]);
  });

  test("preflights are answered for the page's origin with credentials; other origins get nothing", async () => {
    const preflight = (origin) =>
      fetch(`${env.apiUrl}/api/${alice.id}/tasks/1`, {
        method: "OPTIONS",
        headers: {
          Origin: origin,
          "Access-Control-Request-Method": "PATCH",
          "Access-Control-Request-Headers": "authorization,content-type,if-match",
        },
      });
    const ours = await preflight(env.appUrl);
    assert.equal(ours.status, 204);
    assert.equal(ours.headers.get("access-control-allow-origin"), env.appUrl);
    assert.equal(ours.headers.get("access-control-allow-credentials"), "true");
    assert.match(ours.headers.get("access-control-allow-methods"), /PATCH/);
    for (const h of ["Authorization", "Content-Type", "If-Match", "Idempotency-Key"]) {
      assert.match(ours.headers.get("access-control-allow-headers"), new RegExp(h, "i"));
    }
    const theirs = await preflight("http://127.0.0.1:1");
    assert.equal(theirs.headers.get("access-control-allow-origin"), null);

    // In the browser: a page of another origin (here the opaque origin of about:blank) is
    // refused by the browser, since the API names no such origin.
    const context = await env.browser.newContext();
    const page = await context.newPage();
    await page.goto("about:blank");
    const blocked = await page.evaluate(async (apiUrl) => {
      try {
        await fetch(`${apiUrl}/health`, { credentials: "include" });
        return "reached";
      } catch (error) {
        return `blocked: ${error.name}`;
      }
    }, env.apiUrl);
    assert.match(blocked, /^blocked/, "an origin not in cors_allowed_origins is refused by the browser");
    await context.close();
  });

  test("cookies: what Better Auth sets, and what the browser sends to the API", async () => {
    const cookies = await alice.context.cookies();
    const session = cookies.find((c) => c.name === "better-auth.session_token");
    assert.ok(session, `cookies: ${cookies.map((c) => c.name)}`);
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, "Lax");
    // Cookies are not scoped by port: on one host name the API receives the app's session
    // cookie too. The API ignores it (it reads only `access_token`), and caches vary by Cookie.
    const sentToApi = alice.log.filter((e) => e.toApi && e.requestHeaders.cookie);
    const names = new Set(sentToApi.flatMap((e) => e.requestHeaders.cookie.split(/;\s*/).map((c) => c.split("=")[0])));
    console.log(`# Better Auth session cookie: HttpOnly=${session.httpOnly} SameSite=${session.sameSite} Secure=${session.secure}`);
    console.log(`# cookies the browser sent to the API (other port, same host): ${[...names].join(", ") || "none"}`);
    for (const e of alice.log.filter((e) => e.toApi && e.path.startsWith("/api/"))) {
      assert.match(e.responseHeaders.vary ?? "", /Cookie/);
      assert.match(e.responseHeaders["cache-control"] ?? "", /private/);
    }
  });

  test("the client's EventSource transport: the access_token cookie, a stop at token_expired, and one at a 401", async () => {
    // A page of the app's origin (which the API allows) imports the built client as ES modules,
    // without a token provider: the client then uses EventSource, with credentials, and the
    // browser sends the API the `access_token` cookie (cookies are not scoped by port). The
    // page itself is the app's (a document Playwright made up would not be in the loopback
    // address space, and Chromium's Local Network Access would refuse its requests to the API).
    const clientDir = path.join(import.meta.dirname, "../../clients/typescript");
    const dist = (name) => readFileSync(path.join(clientDir, "dist", name), "utf8");
    const files = {
      "/__client/openapi-fetch.js": readFileSync(path.join(clientDir, "node_modules/openapi-fetch/dist/index.mjs"), "utf8"),
      "/__client/index.js": dist("index.js").replace(/from "openapi-fetch"/, 'from "/__client/openapi-fetch.js"'),
      "/__client/event-stream.js": dist("event-stream.js"),
    };
    const context = await env.browser.newContext();
    await context.route((url) => url.origin === env.appUrl && url.pathname.startsWith("/__client/"), (route) => {
      const file = files[new URL(route.request().url()).pathname];
      return file ? route.fulfill({ status: 200, contentType: "text/javascript", body: file }) : route.fulfill({ status: 404 });
    });
    const streams = [];
    context.on("request", (request) => {
      if (request.url().includes("/events")) streams.push({ at: Date.now(), type: request.resourceType(), headers: request.headers() });
    });
    const { token } = await alice.page.evaluate(() => fetch("/api/auth/token").then((r) => r.json()));
    await context.addCookies([{ name: "access_token", value: token, url: env.apiUrl }]);
    const page = await context.newPage();
    await page.goto(`${env.appUrl}/?live=0`);
    const subscribe = (userId) =>
      page.evaluate(
        async ({ apiUrl, userId }) => {
          const { createTaskApi } = await import("/__client/index.js");
          const live = { titles: [], statuses: [], errors: [] };
          window.live = live;
          createTaskApi({ baseUrl: apiUrl, userId }).subscribe(
            userId,
            (change) => live.titles.push(change.title ?? `deleted ${change.id}`),
            {
              onStatus: (status, transport) => live.statuses.push(`${status}/${transport}`),
              onError: (error) => live.errors.push({ reason: error.reason, status: error.status ?? null }),
            },
          );
        },
        { apiUrl: env.apiUrl, userId },
      );
    const live = () => page.evaluate(() => window.live);

    await subscribe(alice.id);
    // Every change from the start: Alice's tasks as they are now (and her deletions).
    await eventually(async () => assert.ok((await live()).titles.includes("Write the report")), "the feed from the start");
    await addTask(alice, "Seen by EventSource");
    await eventually(async () => assert.ok((await live()).titles.includes("Seen by EventSource")), "the new task, live");
    assert.deepEqual((await live()).statuses.slice(0, 2), ["connecting/eventsource", "stream/eventsource"]);
    assert.equal(streams[0].type, "eventsource");
    assert.equal(streams[0].headers.authorization, undefined);

    // The API ends the stream at the cookie's token's exp; without a token provider the client
    // stops there and says so, and opens no stream again.
    const { exp } = payload(token);
    await eventually(async () => assert.deepEqual((await live()).errors, [{ reason: "token_expired", status: null }]), "stopped at token_expired", (exp + 5) * 1000 - Date.now());
    assert.ok(Date.now() >= exp * 1000 - 1000, "not before the token's exp");
    assert.equal((await live()).statuses.at(-1), "stopped/eventsource");
    const opened = streams.length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(streams.length, opened, "no reconnect after token_expired");

    // A cookie the API refuses: EventSource cannot tell why it failed, the client asks the feed
    // (a 401) and stops.
    await context.addCookies([{ name: "access_token", value: "not-a-token", url: env.apiUrl }]);
    await subscribe(alice.id);
    await eventually(async () => assert.deepEqual((await live()).errors, [{ reason: "unauthorized", status: 401 }]), "stopped at a 401");
    await context.close();
  });

  test("tokens expire while the page is open: the API ends the stream, the client resumes it with a new token, writes go on", async () => {
    // Every token this page has used so far: wait until the last of them has expired.
    const tokens = new Set(alice.log.filter((e) => e.token).map((e) => e.token));
    const exp = Math.max(...[...tokens].map((t) => payload(t).exp));
    const wait = exp * 1000 - Date.now() + 1000;
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await isStreaming(alice);
    const receivedBefore = await received(alice);
    const since = Date.now();
    await addTask(alice, "After expiry");
    // Its own create comes back over the stream, which therefore goes on.
    await eventually(async () => assert.ok((await received(alice)) > receivedBefore), "the create came back over the stream");
    const afterExp = alice.log.filter((e) => e.at >= exp * 1000);
    const reopened = afterExp.filter(isStream);
    assert.ok(reopened.length >= 1, "a stream was opened after the tokens expired");
    for (const e of reopened) {
      assert.equal(e.status, 200);
      assert.match(e.path, /\?since=s\d+$/, "resumed after the last change it had");
      assert.ok(!tokens.has(e.token), "with a token not used before");
      assert.ok(payload(e.token).exp > e.at / 1000, "not expired when sent");
    }
    const fetched = afterExp.filter((e) => !e.toApi);
    assert.ok(fetched.length >= 1, "new tokens were fetched from /api/auth/token");
    const create = afterExp.find((e) => e.toApi && e.method === "POST" && e.at >= since);
    assert.equal(create.status, 201);
    assert.ok(!tokens.has(create.token), "a token not used before");
    assert.ok(payload(create.token).exp > create.at / 1000, "not expired when sent");
    assert.ok(afterExp.every((e) => e.status < 400), JSON.stringify(afterExp.map((e) => [e.method, e.path, e.status])));
    assert.deepEqual(alice.problems, []);
  });

  test("a token the API refuses (expired past its tolerance, browser clock behind) is refreshed after the 401", async () => {
    // This browser's clock is CLOCK_BEHIND_SECONDS behind, so the client believes its token is
    // fresh. Wait until the API, whose clock is right, refuses it: exp + 60 s of tolerance.
    const { exp } = payload(late.firstToken);
    const wait = (exp + 61) * 1000 - Date.now();
    console.log(`# waiting ${Math.max(0, Math.round(wait / 1000))} s for the API to refuse the old token`);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const since = Date.now();
    await addTask(late, "written after the wait");
    assert.deepEqual(await titles(late), ["written before the wait", "written after the wait"]);
    const afterWait = late.log.filter((e) => e.at >= since);
    const seen = afterWait.map((e) => [e.toApi ? "api" : "auth", e.method, e.status]);
    assert.deepEqual(seen, [["api", "POST", 401], ["auth", "GET", 200], ["api", "POST", 201]], JSON.stringify(seen));
    assert.equal(afterWait[0].token, late.firstToken);
    assert.match(afterWait[0].responseHeaders["www-authenticate"] ?? "", /invalid_token/);
    assert.notEqual(afterWait[2].token, late.firstToken);
    assert.equal(afterWait[0].requestHeaders["idempotency-key"], afterWait[2].requestHeaders["idempotency-key"]);
    assert.deepEqual(late.problems, [`POST api/api/${late.id}/tasks 401`]);
  });
});
