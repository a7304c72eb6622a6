// Runs once when the server starts: Better Auth's own migrations create (or complete) its
// tables (user, session, account, verification, jwks) in AUTH_DATABASE, so the example needs
// no separate migration step.
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { getAuth } = await import("./lib/auth");
  const { getMigrations } = await import("better-auth/db/migration");
  const { runMigrations } = await getMigrations(getAuth().options);
  await runMigrations();
}
