"use client";
// Better Auth in the browser; it talks to this app's own /api/auth (same origin).
import { createAuthClient } from "better-auth/react";
import { jwtClient } from "better-auth/client/plugins";

export const authClient = createAuthClient({ plugins: [jwtClient()] });

/** The token provider for the task API client: a fresh JWT from /api/auth/token. */
export async function apiToken(): Promise<string> {
  const { data, error } = await authClient.token();
  if (error || !data) throw new Error(`no API token: ${error?.message ?? "not signed in"}`);
  return data.token;
}
