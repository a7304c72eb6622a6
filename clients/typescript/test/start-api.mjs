// Starts the real task API for a test: the built component under real Spin (the runtime of
// record: SPIN_BIN, else `spin` on PATH, else ../shared/bin/spin beside the repository) or,
// with TASK_API_RUNTIME=host, the project's bundled host (target/debug/task-api-host, or
// TASK_API_HOST). The wasm is copied to a private temporary directory first and a manifest
// written there points at the copy, so a rebuild of target/ during a run changes nothing.
// Also used by tests/browser.

import { spawn } from "node:child_process";
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export const repoRoot = path.resolve(import.meta.dirname, "../../..");
const componentWasm = path.join(repoRoot, "target/wasm32-wasip1/release/task_api.wasm");

function executable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function spinBinary() {
  if (process.env.SPIN_BIN) return process.env.SPIN_BIN;
  for (const dir of (process.env.PATH || "").split(path.delimiter)) {
    if (dir && executable(path.join(dir, "spin"))) return path.join(dir, "spin");
  }
  const shared = path.join(repoRoot, "../shared/bin/spin");
  if (executable(shared)) return shared;
  return undefined;
}

/** "spin" (default when a spin binary exists) or "host"; TASK_API_RUNTIME overrides. */
export function runtime() {
  if (process.env.TASK_API_RUNTIME) return process.env.TASK_API_RUNTIME;
  return spinBinary() ? "spin" : "host";
}

/**
 * The repository's spin.toml, with the component's `source` pointing at `wasm` and no build
 * section (nothing here should ever try to build).
 */
function manifestFor(wasm) {
  const original = readFileSync(path.join(repoRoot, "spin.toml"), "utf8");
  const withSource = original.replace(/^source\s*=\s*".*"$/m, `source = ${JSON.stringify(wasm)}`);
  if (withSource === original) throw new Error("spin.toml: no `source = \"…\"` line to replace");
  return withSource.replace(/^\[component\.[^\]]+\.build\][\s\S]*?(?=^\[|(?![\s\S]))/m, "");
}

/**
 * Starts the API with exactly `variables` (as SPIN_VARIABLE_*; any already in the environment
 * are dropped). Resolves to `{ url, runtime, stop, logs }` once it serves.
 */
export async function startApi({ variables = {}, stateDir } = {}) {
  const which = runtime();
  if (!existsSync(componentWasm)) {
    throw new Error(`${componentWasm} is missing: run \`cargo build --target wasm32-wasip1 --release\``);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), "task-api-run-"));
  const wasm = path.join(dir, "task_api.wasm");
  copyFileSync(componentWasm, wasm);
  const manifest = path.join(dir, "spin.toml");
  writeFileSync(manifest, manifestFor(wasm));
  const state = stateDir ?? path.join(dir, "state");
  mkdirSync(state, { recursive: true });

  const common = ["--from", manifest, "--listen", "127.0.0.1:0", "--state-dir", state];
  let binary, args;
  if (which === "spin") {
    binary = spinBinary();
    if (!binary) throw new Error("TASK_API_RUNTIME=spin, but no spin (SPIN_BIN, PATH, ../shared/bin/spin)");
    args = ["up", "--quiet", ...common];
  } else if (which === "host") {
    binary = process.env.TASK_API_HOST || path.join(repoRoot, "target/debug/task-api-host");
    if (!existsSync(binary)) throw new Error(`${binary} is missing: run \`cargo build -p task-api-host\``);
    args = ["up", "--no-build", "--quiet", ...common];
  } else {
    throw new Error(`TASK_API_RUNTIME=${which}: expected spin or host`);
  }

  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("SPIN_VARIABLE_")),
  );
  for (const [name, value] of Object.entries(variables)) {
    env[`SPIN_VARIABLE_${name.toUpperCase()}`] = value;
  }
  // Its own process group: `spin up` runs the trigger as a child, and stop() must reach both.
  const child = spawn(binary, args, { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let logs = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${which} did not start in 60 s:\n${logs}`)), 60_000);
    child.stdout.on("data", (chunk) => {
      logs += chunk;
      const match = logs.match(/Serving (http:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1].replace(/\/$/, ""));
      }
    });
    child.stderr.on("data", (chunk) => (logs += chunk));
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${which} exited with ${code}:\n${logs}`));
    });
  });

  async function stop() {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      try {
        process.kill(-child.pid, "SIGINT");
      } catch {
        // Already gone.
      }
      const timeout = setTimeout(() => {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }, 5_000);
      await exited;
      clearTimeout(timeout);
    }
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // The group is gone already.
    }
    rmSync(dir, { recursive: true, force: true });
  }

  return { url, runtime: which, stop, logs: () => logs };
}
