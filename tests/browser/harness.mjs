// Starts what the browser test puts together, each on its own loopback origin:
// - the task API (../../clients/typescript/test/start-api.mjs: real Spin by default,
//   TASK_API_RUNTIME=host for the bundled host), told Better Auth's URL so it fetches the JWKS
//   live, and the example's origin as its only CORS origin;
// - the Next.js example (examples/nextjs), production build (`next build`, skipped with
//   NEXT_BUILD=0 when .next exists) then `next start`, with Better Auth's tokens made short-lived
//   (JWT_EXPIRATION) so the test can watch one expire;
// - Chromium from Debian (CHROMIUM, default /usr/bin/chromium) through playwright-core.

import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { startApi } from "../../clients/typescript/test/start-api.mjs";

const root = path.resolve(import.meta.dirname, "../..");
const example = path.join(root, "examples/nextjs");
const clientPackage = path.join(root, "clients/typescript");

export const TOKEN_SECONDS = Number(process.env.JWT_SECONDS || 12);

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function timed(label, fn) {
  const started = Date.now();
  const result = fn();
  console.log(`# ${label}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

/** Builds the client (tsc) and, unless NEXT_BUILD=0 with a build present, the example. */
export function build() {
  const npm = (cwd, ...args) => execFileSync("npm", args, { cwd, stdio: ["ignore", "ignore", "inherit"] });
  timed("client build (tsc)", () => npm(clientPackage, "run", "--silent", "build"));
  if (process.env.NEXT_BUILD === "0" && existsSync(path.join(example, ".next/BUILD_ID"))) {
    console.log("# next build: skipped (NEXT_BUILD=0)");
    return;
  }
  timed("next build", () =>
    execFileSync(process.execPath, ["node_modules/next/dist/bin/next", "build"], {
      cwd: example,
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" },
    }),
  );
}

async function waitForHttp(url, child, logs) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`next exited with ${child.exitCode}:\n${logs()}`);
    try {
      const response = await fetch(url);
      if (response.status < 500) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not answer in 60 s:\n${logs()}`);
}

function stopGroup(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise((resolve) => child.once("exit", resolve));
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    return Promise.resolve();
  }
  const kill = setTimeout(() => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // Gone.
    }
  }, 5_000);
  return exited.finally(() => clearTimeout(kill));
}

/** Everything up: `{ appUrl, apiUrl, runtime, browser, stop }`. */
export async function startAll() {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "task-api-browser-"));
  const appPort = await freePort();
  const appUrl = `http://127.0.0.1:${appPort}`;

  const apiStarted = Date.now();
  const api = await startApi({
    variables: {
      better_auth_url: appUrl,
      better_auth_origin: appUrl,
      cors_allowed_origins: appUrl,
    },
  });
  console.log(`# API (${api.runtime}) serving ${api.url} after ${Date.now() - apiStarted} ms`);

  const nextStarted = Date.now();
  const next = spawn(
    process.execPath,
    ["node_modules/next/dist/bin/next", "start", "-p", String(appPort), "-H", "127.0.0.1"],
    {
      cwd: example,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        NODE_ENV: "production",
        NEXT_TELEMETRY_DISABLED: "1",
        BETTER_AUTH_URL: appUrl,
        BETTER_AUTH_SECRET: "browser-test-better-auth-secret-0123456789",
        AUTH_DATABASE: path.join(tmp, "auth.db"),
        JWT_EXPIRATION: `${TOKEN_SECONDS}s`,
        TASK_API_URL: api.url,
      },
    },
  );
  let nextLogs = "";
  next.stdout.on("data", (c) => (nextLogs += c));
  next.stderr.on("data", (c) => (nextLogs += c));
  await waitForHttp(appUrl, next, () => nextLogs);
  console.log(`# next start serving ${appUrl} after ${Date.now() - nextStarted} ms`);

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    // Root in a container: Chromium's sandbox needs user namespaces it may not get.
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });

  async function stop() {
    await browser.close().catch(() => {});
    await stopGroup(next);
    await api.stop();
    rmSync(tmp, { recursive: true, force: true });
  }

  return { appUrl, apiUrl: api.url, runtime: api.runtime, browser, stop, apiLogs: api.logs, nextLogs: () => nextLogs };
}
