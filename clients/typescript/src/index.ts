// A thin typed client for the task API. Every type below is derived from `schema.d.ts`, which
// `npm run generate` writes from the API's OpenAPI document (`src/api/openapi.json`): a field
// added to the API (tags, due dates, …) reaches callers by regenerating, with no edit here.
//
// What it adds to openapi-fetch: a token from a provider (Better Auth's `authClient.token()`),
// fetched again once on a 401; `If-Match` from the task the caller read; an `Idempotency-Key`
// on every create; bounded retries of 429 and 503 that honour `Retry-After`; and one error class
// for every non-2xx answer.

import createClient from "openapi-fetch";
import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths } from "./schema.js";

type Schemas = components["schemas"];
export type Task = Schemas["Task"];
export type TaskCreate = Schemas["TaskCreate"];
export type TaskUpdate = Schemas["TaskUpdate"];
export type TaskReplace = NonNullable<
  operations["replaceTask"]["requestBody"]
>["content"]["application/json"];
export type TaskPriority = Schemas["TaskPriority"];
export type Health = Schemas["Health"];
export type FieldError = Schemas["FieldError"];
/** One of the user's tags with how many tasks carry it (`GET /api/{user_id}/tags`). */
export type TagCount = NonNullable<
  operations["listTags"]["responses"][200]["content"]
>["application/json"][number];
/** The body of every error: `detail`, and on a 422 `errors: [{ field, message }]`. */
export type ErrorBody = Schemas["Error"] & Partial<Pick<Schemas["ValidationError"], "errors">>;

type GeneratedListQuery = NonNullable<operations["listTasks"]["parameters"]["query"]>;
/** The list's query; `priority` may also be given as an array (sent comma-separated). */
export type ListQuery = Omit<GeneratedListQuery, "priority"> & {
  priority?: GeneratedListQuery["priority"] | readonly TaskPriority[];
};

/** Gives a bearer token (a JWT for the user), e.g. from Better Auth's `authClient.token()`. */
export type TokenProvider = () => Promise<string | null | undefined>;

export interface TaskApiOptions {
  /** The API's origin (and base path), e.g. `https://tasks.example.com`. */
  baseUrl: string;
  /** The signed-in user's id: the token's `sub`, the `{user_id}` of every route. */
  userId: string;
  /**
   * Where tokens come from. Called when the client has none, when the one it has expires
   * within `refreshMarginSeconds`, and once more after a 401. Without it no `Authorization`
   * is sent (the API then reads the `access_token` cookie, if the browser sends one).
   */
  token?: TokenProvider;
  /** Fetch again this many seconds before a token's `exp` (default 30). */
  refreshMarginSeconds?: number;
  /** `fetch` to use (default: the global one). */
  fetch?: (request: Request) => Promise<Response>;
  /** Cookies on cross-origin calls (default `"include"`: the API allows credentials). */
  credentials?: RequestCredentials;
  /** Attempts per call for 429/503 answers, including the first (default 3). */
  maxAttempts?: number;
  /** The longest `Retry-After` the client waits for, in ms (default 10 000); longer → throw. */
  maxRetryDelayMs?: number;
  /** The key generator for creates (default `crypto.randomUUID`). */
  idempotencyKey?: () => string;
}

/** Every non-2xx answer, thrown. `status` and the API's `detail` / `errors`. */
export class TaskApiError extends Error {
  readonly status: number;
  readonly detail: string;
  readonly errors: FieldError[];
  /** Seconds from `Retry-After` (429, 503), if sent. */
  readonly retryAfter: number | undefined;
  /** `WWW-Authenticate` of a 401, if exposed to the caller. */
  readonly wwwAuthenticate: string | undefined;
  readonly response: Response;

  constructor(response: Response, body: ErrorBody | undefined) {
    const detail = body?.detail ?? (response.statusText || `HTTP ${response.status}`);
    super(`${response.status}: ${detail}`);
    this.name = "TaskApiError";
    this.status = response.status;
    this.detail = detail;
    this.errors = body?.errors ?? [];
    this.retryAfter = retryAfterSeconds(response.headers.get("retry-after"));
    this.wwwAuthenticate = response.headers.get("www-authenticate") ?? undefined;
    this.response = response;
  }

  /** The messages for one field of a 422 (`title`, `priority`, `If-Match`, …). */
  messagesFor(field: string): string[] {
    return this.errors.filter((e) => e.field === field).map((e) => e.message);
  }
}

/** `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3), as seconds from now. */
export function retryAfterSeconds(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

// The ETag of each task object this client handed out, from the response that carried it.
const etags = new WeakMap<object, string>();

/**
 * A task's ETag. The one its response carried when it came from `get`, `create`, `update`,
 * `replace` or `toggle`; for a task from a list (a list has no per-task ETags), the API's
 * documented form `"<id>-<updated_at in µs since the epoch>"`, computed from the task itself
 * (the client's tests check that the two agree).
 */
export function etagOf(task: Pick<Task, "id" | "updated_at">): string {
  return etags.get(task) ?? `"${task.id}-${epochMicros(task.updated_at)}"`;
}

/** `2026-11-28T12:00:00.123456Z` → microseconds since the epoch, exactly (no float rounding). */
function epochMicros(timestamp: string): string {
  const match = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(timestamp);
  if (!match) throw new Error(`not an RFC 3339 timestamp: ${timestamp}`);
  const [, whole, fraction = "", zone] = match;
  const seconds = Date.parse(`${whole}${zone}`) / 1000;
  if (!Number.isFinite(seconds)) throw new Error(`not an RFC 3339 timestamp: ${timestamp}`);
  const micros = (fraction + "000000").slice(0, 6);
  return (BigInt(seconds) * 1_000_000n + BigInt(micros)).toString();
}

function remember(task: Task, response: Response): Task {
  const etag = response.headers.get("etag");
  if (etag) etags.set(task, etag);
  return task;
}

/** A task, or its id (then no `If-Match` is sent unless `ifMatch` is given). */
export type TaskRef = Task | number;

export interface WriteOptions {
  /**
   * `If-Match`: by default the ETag of the task passed (none for a bare id). A string sends
   * that tag; `false` sends none (last write wins).
   */
  ifMatch?: string | false;
}

export interface CreateOptions {
  /** Reuse a key to make a retry of the same create safe (default: a random UUID). */
  idempotencyKey?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The payload of a JWT, unverified: only to learn its `exp` (the API does the checking). */
function expiresAt(token: string): number | undefined {
  try {
    const payload = token.split(".")[1];
    if (!payload) return undefined;
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const json = JSON.parse(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "=")));
    return typeof json.exp === "number" ? json.exp : undefined;
  } catch {
    return undefined;
  }
}

export function createTaskApi(options: TaskApiOptions) {
  const baseFetch = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3);
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 10_000;
  const margin = options.refreshMarginSeconds ?? 30;
  const newKey = options.idempotencyKey ?? (() => globalThis.crypto.randomUUID());
  const stats = { tokenFetches: 0, requests: 0, retries: 0 };

  // The token in use, and the provider call under way (concurrent calls share one).
  let held: string | null | undefined;
  let inflight: Promise<string | null | undefined> | undefined;
  async function bearer(forceNew: boolean): Promise<string | null | undefined> {
    if (!options.token) return undefined;
    const exp = held ? expiresAt(held) : undefined;
    const fresh = held && (exp === undefined || exp - margin > Date.now() / 1000);
    if (fresh && !forceNew) return held;
    if (!inflight) {
      stats.tokenFetches += 1;
      inflight = options.token().finally(() => {
        inflight = undefined;
      });
    }
    held = await inflight;
    return held;
  }

  /**
   * One call: the token, then a 401 answered by one fresh token, 429 and 503 answered by
   * waiting `Retry-After` (when at most maxRetryDelayMs) up to maxAttempts. A 503 is retried
   * only for a request that is safe to repeat: anything but a toggle without `If-Match`.
   */
  async function send(request: Request): Promise<Response> {
    const repeatable =
      !(request.method === "PATCH" && new URL(request.url).pathname.endsWith("/complete")) ||
      request.headers.has("if-match");
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      const attemptRequest = request.clone();
      const sent = await bearer(false);
      if (sent) attemptRequest.headers.set("authorization", `Bearer ${sent}`);
      stats.requests += 1;
      const response = await baseFetch(attemptRequest);
      if (response.status === 401 && options.token && !refreshed) {
        refreshed = true;
        const fresh = await bearer(true);
        if (fresh && fresh !== sent) {
          await response.body?.cancel();
          continue;
        }
        return response;
      }
      const retriable = response.status === 429 || (response.status === 503 && repeatable);
      if (!retriable || attempt >= maxAttempts) return response;
      const wait = (retryAfterSeconds(response.headers.get("retry-after")) ?? 1) * 1000;
      if (wait > maxRetryDelayMs) return response;
      await response.body?.cancel();
      stats.retries += 1;
      await sleep(wait);
    }
  }

  const http = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    fetch: send,
    credentials: options.credentials ?? "include",
  });

  const user_id = options.userId;

  type Result<T> = { data?: T; error?: unknown; response: Response };
  function unwrap<T>(result: Result<T>): T {
    if (result.response.ok && result.data !== undefined) return result.data;
    if (result.response.ok) return undefined as T;
    throw new TaskApiError(result.response, result.error as ErrorBody | undefined);
  }
  const idOf = (ref: TaskRef) => (typeof ref === "number" ? ref : ref.id);
  const ifMatchOf = (ref: TaskRef, opts: WriteOptions | undefined) => {
    if (opts?.ifMatch === false) return {};
    if (typeof opts?.ifMatch === "string") return { "If-Match": opts.ifMatch };
    return typeof ref === "number" ? {} : { "If-Match": etagOf(ref) };
  };

  return {
    /** Counters: token fetches, HTTP requests sent, retries after 429/503. */
    stats,

    /** `GET /health`: `{status: "ok"}`, or a TaskApiError (503) while the database is not ready. */
    async health(): Promise<Health> {
      return unwrap(await http.GET("/health"));
    },

    /** `GET /api/{user_id}/tasks` with status, priority, sort, order, limit, offset. */
    async list(query: ListQuery = {}): Promise<Task[]> {
      const { priority, ...rest } = query;
      const params: GeneratedListQuery = { ...rest };
      if (priority !== undefined) {
        params.priority = typeof priority === "string" ? priority : priority.join(",");
      }
      return unwrap(
        await http.GET("/api/{user_id}/tasks", { params: { path: { user_id }, query: params } }),
      );
    },

    /**
     * `GET /api/{user_id}/tasks/{id}`. Given a task, asks with `If-None-Match` and answers that
     * same object when it has not changed (304).
     */
    async get(ref: TaskRef): Promise<Task> {
      const result = await http.GET("/api/{user_id}/tasks/{id}", {
        params: {
          path: { user_id, id: idOf(ref) },
          header: typeof ref === "number" ? undefined : { "If-None-Match": etagOf(ref) },
        },
      });
      if (result.response.status === 304 && typeof ref !== "number") return ref;
      return remember(unwrap(result), result.response);
    },

    /** `POST /api/{user_id}/tasks` with an `Idempotency-Key` (retries reuse it). */
    async create(task: TaskCreate, opts: CreateOptions = {}): Promise<Task> {
      const result = await http.POST("/api/{user_id}/tasks", {
        params: {
          path: { user_id },
          header: { "Idempotency-Key": opts.idempotencyKey ?? newKey() },
        },
        body: task,
      });
      return remember(unwrap(result), result.response);
    },

    /** `PATCH /api/{user_id}/tasks/{id}`: the fields given change. `If-Match` from the task. */
    async update(ref: TaskRef, changes: TaskUpdate, opts?: WriteOptions): Promise<Task> {
      const result = await http.PATCH("/api/{user_id}/tasks/{id}", {
        params: { path: { user_id, id: idOf(ref) }, header: ifMatchOf(ref, opts) },
        body: changes,
      });
      return remember(unwrap(result), result.response);
    },

    /** `PUT /api/{user_id}/tasks/{id}`. `If-Match` from the task. */
    async replace(ref: TaskRef, task: TaskReplace, opts?: WriteOptions): Promise<Task> {
      const result = await http.PUT("/api/{user_id}/tasks/{id}", {
        params: { path: { user_id, id: idOf(ref) }, header: ifMatchOf(ref, opts) },
        body: task,
      });
      return remember(unwrap(result), result.response);
    },

    /** `PATCH /api/{user_id}/tasks/{id}/complete`: flips `completed`. `If-Match` from the task. */
    async toggle(ref: TaskRef, opts?: WriteOptions): Promise<Task> {
      const result = await http.PATCH("/api/{user_id}/tasks/{id}/complete", {
        params: { path: { user_id, id: idOf(ref) }, header: ifMatchOf(ref, opts) },
      });
      return remember(unwrap(result), result.response);
    },

    /** `DELETE /api/{user_id}/tasks/{id}`. `If-Match` from the task. */
    async remove(ref: TaskRef, opts?: WriteOptions): Promise<void> {
      const result = await http.DELETE("/api/{user_id}/tasks/{id}", {
        params: { path: { user_id, id: idOf(ref) }, header: ifMatchOf(ref, opts) },
      });
      unwrap(result);
    },

    /** `GET /api/{user_id}/tags`: the user's tags with their task counts. */
    async tags(): Promise<TagCount[]> {
      return unwrap(await http.GET("/api/{user_id}/tags", { params: { path: { user_id } } }));
    },

    /** The openapi-fetch client underneath (same token, retries), for anything else. */
    http,
  };
}

export type TaskApi = ReturnType<typeof createTaskApi>;
