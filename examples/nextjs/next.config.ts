import path from "node:path";
import type { NextConfig } from "next";

const config: NextConfig = {
  // task-api-client is a local package (file:../../clients/typescript, a symlink): let the
  // bundler see the whole repository.
  turbopack: { root: path.join(__dirname, "../..") },
  outputFileTracingRoot: path.join(__dirname, "../.."),
  serverExternalPackages: ["better-sqlite3"],
};

export default config;
