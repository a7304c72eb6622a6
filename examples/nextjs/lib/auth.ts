// The Better Auth server: email + password, the jwt() plugin (EdDSA tokens the task API checks
// against /api/auth/jwks), SQLite through better-sqlite3. Configured by environment only:
//   BETTER_AUTH_URL     this app's own origin, e.g. http://localhost:3001 (also the JWT's iss/aud)
//   BETTER_AUTH_SECRET  at least 32 random bytes (`openssl rand -base64 32`)
//   AUTH_DATABASE       the SQLite file (default ./auth.db); its tables are created at start-up
//   JWT_EXPIRATION      the API tokens' lifetime (default "15m"; the browser test uses seconds)
import { betterAuth } from "better-auth";
import { jwt } from "better-auth/plugins";
import Database from "better-sqlite3";

function create() {
  return betterAuth({
    baseURL: process.env.BETTER_AUTH_URL,
    secret: process.env.BETTER_AUTH_SECRET,
    database: new Database(process.env.AUTH_DATABASE || "auth.db"),
    emailAndPassword: { enabled: true },
    plugins: [jwt({ jwt: { expirationTime: process.env.JWT_EXPIRATION || "15m" } })],
  });
}

let instance: ReturnType<typeof create> | undefined;
/** The server, made on first use (not at import: `next build` imports this file too). */
export function getAuth() {
  instance ??= create();
  return instance;
}
