// Fails when src/schema.ts is not what `npm run generate` makes from ../../src/api/openapi.json
// now: regenerates into a temporary file with the same command and options, and diffs.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const here = path.resolve(import.meta.dirname, "..");
const pkg = JSON.parse(readFileSync(path.join(here, "package.json"), "utf8"));
const checkedIn = path.join(here, "src/schema.ts");
const tmp = mkdtempSync(path.join(os.tmpdir(), "task-api-schema-"));
const fresh = path.join(tmp, "schema.ts");
try {
  // The generate script itself, only its --output changed: one source of truth for the options.
  const command = pkg.scripts.generate.replace(/--output\s+\S+/, `--output ${JSON.stringify(fresh)}`);
  if (command === pkg.scripts.generate) throw new Error("the generate script has no --output");
  execFileSync("sh", ["-c", `npx --no-install ${command}`], { cwd: here, stdio: ["ignore", "ignore", "inherit"] });
  if (readFileSync(fresh, "utf8") === readFileSync(checkedIn, "utf8")) {
    console.log("src/schema.ts is up to date with src/api/openapi.json");
  } else {
    spawnSync("diff", ["-u", checkedIn, fresh], { stdio: "inherit" });
    console.error("src/schema.ts is stale: run `npm run generate` in clients/typescript and commit it");
    process.exitCode = 1;
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
