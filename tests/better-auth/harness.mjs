// Starting the two real things the end-to-end test puts together: a Better Auth server (the
// `better-auth` package with its jwt() plugin, email + password, SQLite through better-sqlite3)
// and the task API under the runtime TASK_API_RUNTIME names: the project's bundled host
// (target/debug/task-api-host, the default) or real Spin (`spin up`: SPIN_BIN, else `spin` on
// PATH, else ../shared/bin/spin beside the repository).

import { betterAuth } from "better-auth";
import { jwt } from "better-auth/plugins";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import Database from "better-sqlite3";
import { createClient } from "@libsql/client/http";
import { LibsqlDialect } from "@libsql/kysely-libsql";
import { spawn } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";

export const root = path.resolve(import.meta.dirname, "../..");
const hostBinary = path.join(root, "target/debug/task-api-host");
const componentWasm = path.join(root, "target/wasm32-wasip1/release/task_api.wasm");

/** Which runtime serves the API: "host" (default) or "spin". */
export const runtime = process.env.TASK_API_RUNTIME || "host";

/**
 * The libSQL server (sqld) the shared deployment keeps its data on, when the run has one:
 * `target/debug/with-sqld npm test` names a Spin runtime config with `type = "libsql"` in
 * TASK_API_RUNTIME_CONFIG. Then Better Auth writes its tables there (through libSQL's Kysely
 * dialect, over HTTP) and the API that reads them is pointed at the same server.
 */
export const libsql = (() => {
  const file = process.env.TASK_API_RUNTIME_CONFIG;
  if (!file) return null;
  const text = readFileSync(file, "utf8");
  const url = text.match(/^url\s*=\s*"([^"]*)"/m)?.[1];
  const authToken = text.match(/^token\s*=\s*"([^"]*)"/m)?.[1];
  if (!/^type\s*=\s*"libsql"/m.test(text) || !url) {
    throw new Error(`${file} is not a runtime config with a libsql default database`);
  }
  return { file, url, authToken };
})();

function spinBinary() {
  const executable = (file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (process.env.SPIN_BIN) return process.env.SPIN_BIN;
  for (const dir of (process.env.PATH || "").split(path.delimiter)) {
    if (dir && executable(path.join(dir, "spin"))) return path.join(dir, "spin");
  }
  const shared = path.join(root, "../shared/bin/spin");
  if (executable(shared)) return shared;
  throw new Error("TASK_API_RUNTIME=spin, but no spin found (SPIN_BIN, PATH, ../shared/bin/spin)");
}

/** Where the frontend's own route puts the API token into a cookie (see accessTokenCookie). */
export const ACCESS_TOKEN_ROUTE = "/session/access-token";

/**
 * What a Next.js route handler does to give the API its `access_token` cookie (Better Auth
 * sets no such cookie itself): ask Better Auth for the signed-in user's JWT
 * (`auth.api.getToken`, the server side of `/api/auth/token`) and store it httpOnly (no script
 * can read it), Secure, SameSite=Lax, for the token's 15 minutes. The README's Next.js section
 * shows the same route; this runs it against the real library.
 */
async function accessTokenCookie(auth, req, res) {
  try {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === "string") headers.set(name, value);
    }
    const { token } = await auth.api.getToken({ headers });
    res.setHeader(
      "set-cookie",
      `access_token=${token}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=900`,
    );
    res.writeHead(204).end();
  } catch (error) {
    res.writeHead(401, { "content-type": "application/json" });
    res.end(JSON.stringify({ detail: String(error?.message ?? error) }));
  }
}

/**
 * A Better Auth server on a loopback port, its tables created by its own migrations in
 * `dbFile`. `signUp` registers a user and returns its id, session cookie and the JWT that
 * `/api/auth/token` issues for that session.
 */
export async function startBetterAuth({ dbFile, secret, jwtOptions = {}, onLibsql = false }) {
  // Its database: the file, or (onLibsql, when the run has an sqld) the libSQL server. `query`
  // and `run` reach it as the test's own SQL client.
  let database, query, run, closeDatabase;
  if (onLibsql && libsql) {
    const client = createClient({ url: libsql.url, authToken: libsql.authToken });
    database = { dialect: new LibsqlDialect({ client }), type: "sqlite" };
    query = async (sql, ...args) => (await client.execute({ sql, args })).rows;
    run = async (sql, ...args) => {
      await client.execute({ sql, args });
    };
    closeDatabase = () => client.close();
  } else {
    const db = new Database(dbFile);
    database = db;
    query = async (sql, ...args) => db.prepare(sql).all(...args);
    run = async (sql, ...args) => {
      db.prepare(sql).run(...args);
    };
    closeDatabase = () => db.close();
  }
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const baseURL = `http://127.0.0.1:${server.address().port}`;
  const auth = betterAuth({
    baseURL,
    secret,
    database,
    emailAndPassword: { enabled: true },
    plugins: [jwt(jwtOptions)],
    logger: { level: "error" },
  });
  const { runMigrations } = await getMigrations(auth.options);
  await runMigrations();
  const betterAuthHandler = toNodeHandler(auth);
  server.on("request", (req, res) => {
    if (req.url === ACCESS_TOKEN_ROUTE) {
      accessTokenCookie(auth, req, res);
    } else {
      betterAuthHandler(req, res);
    }
  });

  async function signUp(name) {
    const email = `${name.toLowerCase()}@example.com`;
    const response = await fetch(`${baseURL}/api/auth/sign-up/email`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: baseURL },
      body: JSON.stringify({ email, password: "correct horse battery staple", name }),
    });
    if (response.status !== 200) {
      throw new Error(`sign-up of ${name}: ${response.status} ${await response.text()}`);
    }
    const { user } = await response.json();
    const cookie = response.headers
      .getSetCookie()
      .map((c) => c.split(";")[0])
      .join("; ");
    const tokenResponse = await fetch(`${baseURL}/api/auth/token`, { headers: { cookie } });
    if (tokenResponse.status !== 200) {
      throw new Error(`token of ${name}: ${tokenResponse.status}`);
    }
    const { token } = await tokenResponse.json();
    return { id: user.id, email, name, cookie, token };
  }

  async function jwks() {
    const response = await fetch(`${baseURL}/api/auth/jwks`);
    return response.text();
  }

  async function close() {
    await new Promise((resolve) => server.close(resolve));
    server.closeAllConnections?.();
    closeDatabase();
  }

  return { baseURL, auth, query, run, signUp, jwks, close };
}

/**
 * The task API under this run's runtime, serving the already-built component, with only the
 * given variables (passed as SPIN_VARIABLE_*; those already in the environment are dropped so
 * they cannot leak in).
 */
export async function startHost({ stateDir, variables, runtimeConfig }) {
  const needed = [[componentWasm, "cargo build --target wasm32-wasip1 --release"]];
  if (runtime === "host") needed.push([hostBinary, "cargo build -p task-api-host"]);
  for (const [file, hint] of needed) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`${hint}\` first`);
  }
  const common = ["--from", path.join(root, "spin.toml"), "--listen", "127.0.0.1:0", "--state-dir", stateDir];
  if (runtimeConfig) common.push("--runtime-config-file", runtimeConfig);
  const [binary, args] =
    runtime === "spin"
      ? [spinBinary(), ["up", "--quiet", ...common]]
      : [hostBinary, ["up", "--no-build", "--quiet", ...common]];
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("SPIN_VARIABLE_")),
  );
  for (const [name, value] of Object.entries(variables)) {
    env[`SPIN_VARIABLE_${name.toUpperCase()}`] = value;
  }
  // Its own process group: `spin up` runs the trigger as a child process, and stop() must
  // reach both.
  const child = spawn(binary, args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${runtime} did not start:\n${output}`)), 60_000);
    const onData = (chunk) => {
      output += chunk;
      const match = output.match(/Serving (http:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${runtime} exited with ${code}:\n${output}`));
    });
  });

  async function call(method, urlPath, token, body, extraHeaders = {}) {
    const headers = { ...extraHeaders };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`${url}${urlPath}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      json: text ? JSON.parse(text) : null,
    };
  }

  async function stop() {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    process.kill(-child.pid, "SIGINT");
    await exited;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // The group is gone already.
    }
  }

  return { url, call, stop };
}
