// End-to-end proof against the real library: tokens issued by a running Better Auth server
// (jwt() plugin, EdDSA by default) and by `jose` with BETTER_AUTH_SECRET (as a Next.js route
// would mint them) are checked by the task API component under the bundled host or real Spin
// (TASK_API_RUNTIME=spin).
//
// Run with `npm test` here, after `cargo build -p task-api-host` and
// `cargo build --target wasm32-wasip1 --release` at the repository root (.ci/run does both).
// `../../target/debug/with-sqld npm test` (with TASK_API_RUNTIME=spin) puts the shared Better
// Auth and the API that reads its user table on one libSQL server (sqld).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { SignJWT } from "jose";
import { ACCESS_TOKEN_ROUTE, libsql, startBetterAuth, startHost } from "./harness.mjs";

const SECRET = "e2e-better-auth-secret-0123456789abcdef";
const OTHER_SECRET = "e2e-second-instance-secret-0123456789ab";

const tmp = mkdtempSync(path.join(os.tmpdir(), "task-api-better-auth-"));
const started = [];

let betterAuth; // the frontend's Better Auth
let stranger; // another Better Auth deployment, with its own keys
let alice, bob, eve;
let staticHost; // jwt_jwks + HS256 secret, sharing Better Auth's database (user_source=better-auth)
let liveHost; // better_auth_url: fetches the JWKS from the running Better Auth

before(async () => {
  const shared = path.join(tmp, "shared");
  // The host's database IS Better Auth's: the file <state-dir>/sqlite_db.db, or, when the run
  // has a libSQL server (with-sqld), that server for both.
  mkdirSync(shared);
  betterAuth = await startBetterAuth({
    dbFile: path.join(shared, "sqlite_db.db"),
    secret: SECRET,
    onLibsql: true,
  });
  started.push(betterAuth);
  stranger = await startBetterAuth({ dbFile: path.join(tmp, "stranger.db"), secret: OTHER_SECRET });
  started.push(stranger);

  alice = await betterAuth.signUp("Alice");
  bob = await betterAuth.signUp("Bob");
  eve = await stranger.signUp("Eve");

  staticHost = await startHost({
    stateDir: shared,
    runtimeConfig: libsql?.file,
    variables: {
      jwt_jwks: await betterAuth.jwks(),
      jwt_issuer: betterAuth.baseURL,
      jwt_audience: betterAuth.baseURL,
      better_auth_secret: SECRET,
      user_source: "better-auth",
    },
  });
  started.push(staticHost);
  liveHost = await startHost({
    stateDir: path.join(tmp, "live"),
    variables: {
      better_auth_url: betterAuth.baseURL,
      better_auth_origin: betterAuth.baseURL,
    },
  });
  started.push(liveHost);
});

after(async () => {
  for (const thing of started.reverse()) {
    await (thing.stop ?? thing.close)();
  }
  rmSync(tmp, { recursive: true, force: true });
});

function decode(token) {
  const [header, payload] = token.split(".").slice(0, 2).map((part) =>
    JSON.parse(Buffer.from(part, "base64url").toString()),
  );
  return { header, payload };
}

async function crud(host, user) {
  const base = `/api/${user.id}/tasks`;
  const created = await host.call("POST", base, user.token, { title: `${user.name}'s task` });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  assert.equal(created.json.user_id, user.id);
  const item = `${base}/${created.json.id}`;
  const listed = await host.call("GET", base, user.token);
  assert.equal(listed.status, 200);
  assert.ok(listed.json.some((t) => t.id === created.json.id));
  assert.ok(listed.json.every((t) => t.user_id === user.id));
  assert.equal((await host.call("GET", item, user.token)).json.title, `${user.name}'s task`);
  const put = await host.call("PUT", item, user.token, { title: "renamed", description: "d" });
  assert.equal(put.status, 200);
  assert.equal(put.json.title, "renamed");
  const patched = await host.call("PATCH", item, user.token, { completed: true });
  assert.equal(patched.json.completed, true);
  const toggled = await host.call("PATCH", `${item}/complete`, user.token);
  assert.equal(toggled.json.completed, false);
  assert.equal((await host.call("DELETE", item, user.token)).status, 204);
  assert.equal((await host.call("GET", item, user.token)).status, 404);
  return created.json;
}

function assertInvalidToken(response, what) {
  assert.equal(response.status, 401, `${what}: ${JSON.stringify(response.json)}`);
  assert.equal(response.headers.get("www-authenticate"), 'Bearer error="invalid_token"', what);
}

describe("Better Auth's own tokens (EdDSA, from /api/auth/token)", () => {
  test("are what we think they are", () => {
    const { header, payload } = decode(alice.token);
    assert.equal(header.alg, "EdDSA");
    assert.ok(header.kid);
    assert.equal(payload.sub, alice.id);
    assert.equal(payload.iss, betterAuth.baseURL);
    assert.equal(payload.aud, betterAuth.baseURL);
    assert.equal(payload.exp - payload.iat, 15 * 60);
  });

  for (const [name, host] of [
    ["jwt_jwks", () => staticHost],
    ["live JWKS from better_auth_url", () => liveHost],
  ]) {
    test(`each user has full CRUD on their own tasks (${name})`, async () => {
      await crud(host(), alice);
      await crud(host(), bob);
    });

    test(`another user's token on a user's URL is 403 (${name})`, async () => {
      const kept = await host().call("POST", `/api/${alice.id}/tasks`, alice.token, { title: "mine" });
      assert.equal(kept.status, 201);
      for (const [method, suffix] of [
        ["GET", ""],
        ["GET", `/${kept.json.id}`],
        ["POST", ""],
        ["DELETE", `/${kept.json.id}`],
      ]) {
        const body = method === "POST" ? { title: "not yours" } : undefined;
        const response = await host().call(method, `/api/${alice.id}/tasks${suffix}`, bob.token, body);
        assert.equal(response.status, 403, `${method} ${suffix}`);
      }
      assert.equal((await host().call("GET", `/api/${alice.id}/tasks/${kept.json.id}`, alice.token)).status, 200);
    });

    test(`a token from another Better Auth instance is 401 (${name})`, async () => {
      assert.notEqual(decode(eve.token).header.kid, decode(alice.token).header.kid);
      assertInvalidToken(await host().call("GET", `/api/${eve.id}/tasks`, eve.token), "other instance");
      // Even one that names Alice: the other instance's key signed it.
      const forged = await stranger.auth.api.signJWT({
        body: { payload: { sub: alice.id, iat: Math.floor(Date.now() / 1000) } },
      });
      assertInvalidToken(await host().call("GET", `/api/${alice.id}/tasks`, forged.token), "forged");
    });

    test(`an expired token signed by the real key is 401 (${name})`, async () => {
      const now = Math.floor(Date.now() / 1000);
      const sign = (exp) =>
        betterAuth.auth.api.signJWT({ body: { payload: { sub: alice.id, iat: now - 1200, exp } } });
      // Same key, same claims: only `exp` differs (60 s of clock tolerance, so 2 minutes ago).
      const fresh = await sign(now + 600);
      assert.equal((await host().call("GET", `/api/${alice.id}/tasks`, fresh.token)).status, 200);
      const expired = await sign(now - 120);
      assertInvalidToken(await host().call("GET", `/api/${alice.id}/tasks`, expired.token), "expired");
    });
  }

  test("the set-auth-jwt header of get-session is accepted too", async () => {
    const session = await fetch(`${betterAuth.baseURL}/api/auth/get-session`, {
      headers: { cookie: alice.cookie },
    });
    const token = session.headers.get("set-auth-jwt");
    assert.ok(token, "get-session sent no set-auth-jwt header");
    assert.equal((await staticHost.call("GET", `/api/${alice.id}/tasks`, token)).status, 200);
  });

  test("the opaque session token is not a JWT and is refused", async () => {
    const sessionToken = decodeURIComponent(alice.cookie.split("=")[1]).split(".")[0];
    assertInvalidToken(await staticHost.call("GET", `/api/${alice.id}/tasks`, sessionToken), "session");
  });
});

describe("the access_token cookie, set by the frontend's own route", () => {
  // Better Auth sets no access_token cookie; a Next.js route does (README), here the
  // harness's equivalent route, running the real library.
  async function cookieFor(user) {
    const response = await fetch(`${betterAuth.baseURL}${ACCESS_TOKEN_ROUTE}`, {
      headers: { cookie: user.cookie },
    });
    assert.equal(response.status, 204);
    const [setCookie] = response.headers.getSetCookie();
    return setCookie;
  }

  test("is httpOnly, Secure, SameSite=Lax and lives as long as the token", async () => {
    const setCookie = await cookieFor(alice);
    const [pair, ...attributes] = setCookie.split(";").map((part) => part.trim());
    assert.match(pair, /^access_token=[\w-]+\.[\w-]+\.[\w-]+$/);
    const lower = attributes.map((a) => a.toLowerCase());
    for (const attribute of ["httponly", "secure", "samesite=lax", "path=/", "max-age=900"]) {
      assert.ok(lower.includes(attribute), `${attribute} in ${setCookie}`);
    }
    const { payload } = decode(pair.slice("access_token=".length));
    assert.equal(payload.sub, alice.id);
  });

  test("authenticates its user against the API, and only its user", async () => {
    const cookie = (await cookieFor(alice)).split(";")[0];
    for (const host of [staticHost, liveHost]) {
      const created = await host.call(
        "POST",
        `/api/${alice.id}/tasks`,
        null,
        { title: "by cookie" },
        { cookie },
      );
      assert.equal(created.status, 201, JSON.stringify(created.json));
      const listed = await host.call("GET", `/api/${alice.id}/tasks`, null, undefined, { cookie });
      assert.equal(listed.status, 200);
      assert.ok(listed.json.some((task) => task.title === "by cookie"));
      assert.equal(listed.headers.get("cache-control"), "private, no-cache");
      assert.match(listed.headers.get("vary"), /Cookie/);
      const foreign = await host.call("GET", `/api/${bob.id}/tasks`, null, undefined, { cookie });
      assert.equal(foreign.status, 403);
    }
    const signedOut = await fetch(`${betterAuth.baseURL}${ACCESS_TOKEN_ROUTE}`);
    assert.equal(signedOut.status, 401, "no session, no cookie");
  });
});

describe("the other algorithms Better Auth can sign with", () => {
  const instances = {};
  let host;

  before(async () => {
    for (const alg of ["ES256", "RS256", "PS256"]) {
      const instance = await startBetterAuth({
        dbFile: path.join(tmp, `${alg}.db`),
        secret: `${SECRET}-${alg}`,
        jwtOptions: { jwks: { keyPairConfig: { alg } } },
      });
      started.push(instance);
      instances[alg] = { instance, user: await instance.signUp(`User${alg}`) };
    }
    // One API for all three: a JWKS with several keys, picked by kid.
    const keys = [];
    for (const { instance } of Object.values(instances)) {
      keys.push(...JSON.parse(await instance.jwks()).keys);
    }
    host = await startHost({
      stateDir: path.join(tmp, "algorithms"),
      variables: { jwt_jwks: JSON.stringify({ keys }) },
    });
    started.push(host);
  });

  for (const alg of ["ES256", "RS256", "PS256"]) {
    test(`${alg} tokens from /api/auth/token work`, async () => {
      const { user } = instances[alg];
      assert.equal(decode(user.token).header.alg, alg);
      await crud(host, user);
    });
  }

  test("a token is checked only against the key its kid names", async () => {
    // The ES256 user's token relabelled with the RS256 key's kid.
    const es = instances.ES256.user.token.split(".");
    const rsKid = decode(instances.RS256.user.token).header.kid;
    const header = Buffer.from(JSON.stringify({ alg: "ES256", kid: rsKid })).toString("base64url");
    const relabelled = [header, es[1], es[2]].join(".");
    const userPath = `/api/${instances.ES256.user.id}/tasks`;
    assertInvalidToken(await host.call("GET", userPath, relabelled), "ES256 on an RS256 kid");
  });
});

describe("HS256 minted with jose and BETTER_AUTH_SECRET, as a Next.js route would", () => {
  const mint = (user, secret = SECRET) =>
    new SignJWT({ email: user.email, name: user.name })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(user.id)
      .setIssuer(betterAuth.baseURL)
      .setAudience(betterAuth.baseURL)
      .setIssuedAt()
      .setExpirationTime("15m")
      .sign(new TextEncoder().encode(secret));

  test("is accepted beside the JWKS, with full CRUD", async () => {
    await crud(staticHost, { ...alice, token: await mint(alice) });
  });

  test("with the wrong secret, or where no secret is configured, is 401", async () => {
    const wrong = await mint(alice, OTHER_SECRET);
    assertInvalidToken(await staticHost.call("GET", `/api/${alice.id}/tasks`, wrong), "wrong secret");
    const good = await mint(alice);
    assertInvalidToken(await liveHost.call("GET", `/api/${alice.id}/tasks`, good), "no secret");
  });
});

describe("user_source=better-auth against the user table Better Auth created", () => {
  test("the host's database file is Better Auth's", async () => {
    const tables = (await betterAuth.query("SELECT name FROM sqlite_master WHERE type = 'table'")).map(
      (t) => t.name,
    );
    for (const table of ["user", "session", "jwks", "tasks", "schema_migrations"]) {
      assert.ok(tables.includes(table), `${table} missing from ${tables}`);
    }
    const users = await betterAuth.query('SELECT id FROM "user" ORDER BY email');
    assert.deepEqual(
      users.map((u) => u.id),
      [alice.id, bob.id],
    );
  });

  test("a valid token for someone who is not in Better Auth's user table is 401", async () => {
    const ghost = { id: "not-a-better-auth-user", email: "ghost@example.com", name: "Ghost" };
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(ghost.id)
      .setIssuer(betterAuth.baseURL)
      .setAudience(betterAuth.baseURL)
      .setExpirationTime("15m")
      .sign(new TextEncoder().encode(SECRET));
    const response = await staticHost.call("GET", `/api/${ghost.id}/tasks`, token);
    assert.equal(response.status, 401);
    assert.equal(response.json.detail, "Unknown user");
    // A user Better Auth deletes stops being one.
    await betterAuth.run('DELETE FROM "session" WHERE "userId" = ?', bob.id);
    await betterAuth.run('DELETE FROM "account" WHERE "userId" = ?', bob.id);
    await betterAuth.run('DELETE FROM "user" WHERE id = ?', bob.id);
    const gone = await staticHost.call("GET", `/api/${bob.id}/tasks`, bob.token);
    assert.equal(gone.status, 401);
    assert.equal(gone.json.detail, "Unknown user");
  });
});
