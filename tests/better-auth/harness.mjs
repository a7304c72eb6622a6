// Starting the two real things the end-to-end test puts together: a Better Auth server (the
// `better-auth` package with its jwt() plugin, email + password, SQLite through better-sqlite3)
// and the task API under the project's bundled host (target/debug/task-api-host).

import { betterAuth } from "better-auth";
import { jwt } from "better-auth/plugins";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import Database from "better-sqlite3";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import http from "node:http";
import path from "node:path";

export const root = path.resolve(import.meta.dirname, "../..");
const hostBinary = path.join(root, "target/debug/task-api-host");
const componentWasm = path.join(root, "target/wasm32-wasip1/release/task_api.wasm");

/**
 * A Better Auth server on a loopback port, its tables created by its own migrations in
 * `dbFile`. `signUp` registers a user and returns its id, session cookie and the JWT that
 * `/api/auth/token` issues for that session.
 */
export async function startBetterAuth({ dbFile, secret, jwtOptions = {} }) {
  const db = new Database(dbFile);
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const baseURL = `http://127.0.0.1:${server.address().port}`;
  const auth = betterAuth({
    baseURL,
    secret,
    database: db,
    emailAndPassword: { enabled: true },
    plugins: [jwt(jwtOptions)],
    logger: { level: "error" },
  });
  const { runMigrations } = await getMigrations(auth.options);
  await runMigrations();
  server.on("request", toNodeHandler(auth));

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
    db.close();
  }

  return { baseURL, auth, db, signUp, jwks, close };
}

/**
 * The task API under the bundled host, serving the already-built component, with only the
 * given variables (SPIN_VARIABLE_* from the environment are dropped so they cannot leak in).
 */
export async function startHost({ stateDir, variables }) {
  for (const [file, hint] of [
    [hostBinary, "cargo build -p task-api-host"],
    [componentWasm, "cargo build --target wasm32-wasip1 --release"],
  ]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`${hint}\` first`);
  }
  const args = [
    "up",
    "--no-build",
    "--quiet",
    "--from",
    path.join(root, "spin.toml"),
    "--listen",
    "127.0.0.1:0",
    "--state-dir",
    stateDir,
  ];
  for (const [name, value] of Object.entries(variables)) args.push("--variable", `${name}=${value}`);
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("SPIN_VARIABLE_")),
  );
  const child = spawn(hostBinary, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`host did not start:\n${output}`)), 60_000);
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
      reject(new Error(`host exited with ${code}:\n${output}`));
    });
  });

  async function call(method, urlPath, token, body) {
    const headers = {};
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
    child.kill("SIGINT");
    await exited;
  }

  return { url, call, stop };
}
