// A thin typed client for the task API. Every type below is derived from `schema.d.ts`, which
// `npm run generate` writes from the API's OpenAPI document (`src/api/openapi.json`): a field
// added to the API (tags, due dates, …) reaches callers by regenerating, with no edit here.
//
// What it adds to openapi-fetch: a token from a provider (Better Auth's `authClient.token()`),
// fetched again once on a 401; `If-Match` from the task the caller read; an `Idempotency-Key`
// on every create; bounded retries of 429 and 503 that honour `Retry-After`; and one error class
// for every non-2xx answer.

import createClient from "openapi-fetch";
import { EventStreamParser } from "./event-stream.js";
import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths } from "./schema.js";
export { EventStreamParser, type ServerSentEvent } from "./event-stream.js";

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

/**
 * The changes feed's query: `since` (a `next`, or an event id of the event stream), `limit`,
 * and `wait` (0–30 s: hold an empty answer until a change is committed; long-poll).
 */
export type ChangesQuery = NonNullable<operations["listChanges"]["parameters"]["query"]>;
/** One page of the changes feed: `changes` in order, `next` for the next call, `more`. */
export type ChangesPage = Schemas["Changes"];
/** A deleted task, as the changes feed and the event stream show it: `{id, deleted_at}`. */
export type Tombstone = Schemas["Tombstone"];
/** An entry of the changes feed (and the data of a `change` event): a task, or a tombstone. */
export type Change = ChangesPage["changes"][number];

/** `true` for a tombstone (a deleted task), `false` for a task. */
export function isTombstone(change: Change): change is Tombstone {
  return !("title" in change);
}

/**
 * `tasks` with one change applied, as a new array: a task replaces its copy (or is added at
 * the end), a tombstone removes it. A copy that is newer than the change (a later
 * `updated_at` than the task's, or than the tombstone's `deleted_at`: this page wrote it
 * since) is kept, so a change echoed late over the stream never undoes a newer local state.
 */
export function applyChange(tasks: readonly Task[], change: Change): Task[] {
  const index = tasks.findIndex((task) => task.id === change.id);
  if (isTombstone(change)) {
    if (index === -1) return [...tasks];
    const copy = tasks[index]!;
    if (copy.updated_at > change.deleted_at) return [...tasks];
    return tasks.filter((task) => task.id !== change.id);
  }
  if (index === -1) return [...tasks, change];
  if (tasks[index]!.updated_at > change.updated_at) return [...tasks];
  return tasks.map((task, i) => (i === index ? change : task));
}

/** How a subscription receives changes. */
export type SubscriptionTransport = "eventsource" | "fetch" | "poll";
/**
 * Where a subscription is: `connecting` (a stream is being opened), `stream` (open: changes
 * arrive as they are committed), `poll` (long-polling the changes feed), `stopped`.
 */
export type SubscriptionStatus = "connecting" | "stream" | "poll" | "stopped";

/** Why a subscription stopped by itself (never after the caller's own unsubscribe). */
export type SubscriptionStopReason =
  /** The stream ended with `token_expired` and no new token was to be had. */
  | "token_expired"
  /** A 401, also after asking the token provider for a new token once. */
  | "unauthorized"
  /** Another answer that retrying cannot change: 403 (another user's id), 404, 422. */
  | "refused";

/** Given to `onError` when a subscription stops by itself. */
export class SubscriptionError extends Error {
  readonly reason: SubscriptionStopReason;
  /** The HTTP status, for `unauthorized` and `refused`. */
  readonly status: number | undefined;
  /** The position after the last change delivered: a `since` to subscribe again from. */
  readonly position: string | undefined;
  /** The answer that stopped it, as a TaskApiError (`detail`, `wwwAuthenticate`, …). */
  readonly apiError: TaskApiError | undefined;

  constructor(
    reason: SubscriptionStopReason,
    position: string | undefined,
    apiError?: TaskApiError,
  ) {
    super(
      reason === "token_expired"
        ? "the token expired and no new one was given"
        : `${reason}: ${apiError?.message ?? "no detail"}`,
    );
    this.name = "SubscriptionError";
    this.reason = reason;
    this.status = apiError?.status;
    this.position = position;
    this.apiError = apiError;
  }
}

/** The parts of `EventSource` a subscription uses (the browser's, or one passed in options). */
export interface EventSourceLike {
  readonly readyState: number;
  addEventListener(type: string, listener: (event: MessageEvent<string>) => void): void;
  onopen: ((event: Event) => unknown) | null;
  onerror: ((event: Event) => unknown) | null;
  close(): void;
}
export type EventSourceConstructor = new (
  url: string,
  init?: { withCredentials?: boolean },
) => EventSourceLike;

export interface SubscribeOptions {
  /**
   * Deliver the changes after this feed position: the `next` of a `changes()` page, or the
   * `position` a change was delivered with. Default: every change from the start, which
   * leaves a caller that applies them all with exactly the user's tasks.
   */
  since?: string;
  /**
   * `eventsource`: the browser's `EventSource`, with credentials, so the API reads the
   * `access_token` cookie (it cannot send `Authorization`). `fetch`: the stream read through
   * `fetch`, with the client's bearer token. `poll`: long-poll the changes feed only.
   * Default (`auto`): `eventsource` when the client has no token provider and `EventSource`
   * exists, else `fetch` where responses stream, else `poll`.
   */
  transport?: "auto" | SubscriptionTransport;
  /**
   * Called once when the subscription stops by itself: the stream ended with
   * `token_expired` and no new token could be had (with cookies, always), a 401, or a 403,
   * 404 or 422. Not called after the caller's unsubscribe.
   */
  onError?: (error: SubscriptionError) => void;
  /** Called whenever the status or the transport in use changes. */
  onStatus?: (status: SubscriptionStatus, transport: SubscriptionTransport) => void;
  /** Failed stream attempts in a row before falling back to long-polling (default 3). */
  maxStreamFailures?: number;
  /** After falling back, try the stream again after this long (ms, default 300 000). */
  streamRetryMs?: number;
  /** Seconds each long-poll holds when there is nothing new (0–30, default 25). */
  pollWaitSeconds?: number;
  /** The first delay after a failure (ms, default 1000), doubled per failure up to 30 s. */
  retryDelayMs?: number;
  /** `EventSource` to use (default: the global one). */
  EventSource?: EventSourceConstructor;
}

/** Stops a subscription: no change is delivered after it returns. */
export type Unsubscribe = () => void;

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

/** The counter of a feed position `s42`, or undefined for a position of another form. */
function sequence(position: string | undefined): number | undefined {
  const match = position === undefined ? null : /^s(\d+)$/.exec(position);
  return match ? Number(match[1]) : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
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

  /** `GET …/tasks/changes`: one page of the feed (long-polls with `wait`). */
  async function changesPage(
    userId: string,
    query: ChangesQuery,
    signal?: AbortSignal,
  ): Promise<ChangesPage> {
    return unwrap(
      await http.GET("/api/{user_id}/tasks/changes", {
        params: { path: { user_id: userId }, query },
        signal,
      }),
    );
  }

  /**
   * Live changes of a user's tasks: the event stream (`GET /api/{user_id}/events`) through
   * `EventSource` (cookie) or `fetch` (bearer token), falling back to long-polling the changes
   * feed when streaming is unavailable, fails `maxStreamFailures` times in a row, or is
   * refused (429: the user's streams are all in use). Every reconnect, and every switch of
   * transport, resumes after the last change delivered, and a change at or before that
   * position is never delivered again: each change once, in feed order, none lost.
   *
   * `onChange(change, position)` gets a task or a tombstone (see `applyChange`), and the feed
   * position after it (a long-poll page delivers all its changes in one go, each with the
   * page's `next`). A stream that ends with `token_expired` resumes with a new token from the
   * token provider; without one (cookies), or when the provider gives the same token again,
   * the subscription stops, as it does on a 401 (after one new token), 403, 404 or 422, and
   * `onError` says why. Returns the function that unsubscribes.
   */
  function subscribe(
    userId: string,
    onChange: (change: Change, position: string) => void,
    opts: SubscribeOptions = {},
  ): Unsubscribe {
    const base = options.baseUrl.replace(/\/+$/, "");
    const eventsUrl = `${base}/api/${encodeURIComponent(userId)}/events`;
    const credentials = options.credentials ?? "include";
    const controller = new AbortController();
    const { signal } = controller;
    const maxFailures = Math.max(1, opts.maxStreamFailures ?? 3);
    const streamRetryMs = opts.streamRetryMs ?? 300_000;
    const pollWait = Math.min(30, Math.max(0, Math.floor(opts.pollWaitSeconds ?? 25)));
    const firstDelay = Math.max(0, opts.retryDelayMs ?? 1000);
    const EventSourceImpl =
      opts.EventSource ??
      (globalThis as { EventSource?: EventSourceConstructor }).EventSource;
    const canStream =
      typeof ReadableStream !== "undefined" &&
      typeof Response !== "undefined" &&
      "body" in Response.prototype;

    let position = opts.since;
    let lastSeq = sequence(position);
    let stopped = false;
    let status: SubscriptionStatus | undefined;
    let transport: SubscriptionTransport;
    let failures = 0;
    let retryMs = firstDelay;

    const report = (next: SubscriptionStatus) => {
      if (next === status && next !== "connecting") return;
      status = next;
      opts.onStatus?.(next, transport);
    };
    const finish = (error: SubscriptionError) => {
      if (stopped) return;
      stopped = true;
      controller.abort();
      report("stopped");
      opts.onError?.(error);
    };
    const pause = (ms: number) =>
      new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        signal.addEventListener("abort", done);
      });
    const backoff = () => Math.min(30_000, firstDelay * 2 ** Math.max(0, failures - 1));

    /** Hands one change to the caller. */
    function emit(change: Change, at: string) {
      try {
        onChange(change, at);
      } catch (error) {
        // The caller's bug: reported, and the change counts as delivered.
        const reportError = (globalThis as { reportError?: (e: unknown) => void }).reportError;
        if (reportError) reportError(error);
        else console.error(error);
      }
    }

    /** Moves the position forward (never back). */
    function advance(at: string): boolean {
      const seq = sequence(at);
      if (seq !== undefined && lastSeq !== undefined && seq <= lastSeq) return false;
      if (seq !== undefined) lastSeq = seq;
      if (at) position = at;
      return true;
    }

    /** A streamed change, unless one at or before its position was delivered already. */
    function deliverEvent(change: Change, id: string) {
      if (signal.aborted) return;
      if (advance(id)) emit(change, id);
    }

    /** A page of the feed: it starts after `position`, so none of it was delivered yet. */
    function deliverPage(page: ChangesPage) {
      for (const change of page.changes) {
        if (signal.aborted) return;
        emit(change, page.next);
      }
      if (!signal.aborted) advance(page.next);
    }

    /** A non-2xx answer that retrying cannot change stops the subscription. */
    function refuse(error: TaskApiError): boolean {
      if (error.status === 401) {
        finish(new SubscriptionError("unauthorized", position, error));
        return true;
      }
      if (error.status >= 400 && error.status < 500 && ![408, 425, 429].includes(error.status)) {
        finish(new SubscriptionError("refused", position, error));
        return true;
      }
      return false;
    }

    /**
     * Reads the feed after `position` until it has no more (the first read holding up to
     * `wait` seconds); false when a read failed (and then, if it was refused, stopped).
     */
    async function catchUp(wait: number): Promise<boolean> {
      for (;;) {
        let page: ChangesPage;
        try {
          const query: ChangesQuery = { limit: 100, wait };
          if (position !== undefined) query.since = position;
          page = await changesPage(userId, query, signal);
        } catch (error) {
          if (error instanceof TaskApiError) refuse(error);
          return false;
        }
        deliverPage(page);
        if (!page.more || signal.aborted) return true;
        wait = 0;
      }
    }

    type Outcome =
      | { kind: "ended"; reason: string; token?: string | null | undefined }
      | { kind: "dropped"; healthy: boolean }
      | { kind: "failed" }
      | { kind: "busy" }
      | { kind: "stopped" };

    /** The event stream through `fetch`, with the bearer token: one connection. */
    async function viaFetch(): Promise<Outcome> {
      let refreshed = false;
      for (;;) {
        let sent: string | null | undefined;
        try {
          sent = await bearer(false);
        } catch {
          // The token provider failed (offline, signed out): tried again after a pause.
          return { kind: "failed" };
        }
        const url = position === undefined ? eventsUrl : `${eventsUrl}?since=${encodeURIComponent(position)}`;
        // No `Last-Event-ID` header: `since` says the same without a CORS preflight for it.
        const headers = new Headers({ accept: "text/event-stream" });
        if (sent) headers.set("authorization", `Bearer ${sent}`);
        let response: Response;
        try {
          stats.requests += 1;
          response = await baseFetch(new Request(url, { headers, credentials, signal }));
        } catch {
          return signal.aborted ? { kind: "stopped" } : { kind: "failed" };
        }
        if (response.status === 401 && options.token && !refreshed) {
          refreshed = true;
          const fresh = await bearer(true).catch(() => undefined);
          if (fresh && fresh !== sent) {
            await response.body?.cancel().catch(() => {});
            continue;
          }
        }
        if (!response.ok) {
          const body = await response.json().catch(() => undefined);
          const error = new TaskApiError(response, body as ErrorBody | undefined);
          if (response.status === 429) return { kind: "busy" };
          return refuse(error) ? { kind: "stopped" } : { kind: "failed" };
        }
        const type = response.headers.get("content-type") ?? "";
        if (!type.startsWith("text/event-stream") || !response.body) {
          await response.body?.cancel().catch(() => {});
          return { kind: "failed" };
        }
        return read(response.body, sent);
      }
    }

    async function read(body: ReadableStream<Uint8Array>, token: string | null | undefined): Promise<Outcome> {
      const opened = Date.now();
      let ended: string | undefined;
      let delivered = false;
      const parser = new EventStreamParser(
        (event) => {
          if (event.type === "change") {
            const change = parseJson(event.data) as Change | undefined;
            if (change) {
              delivered = true;
              deliverEvent(change, event.id);
            }
          } else if (event.type === "end") {
            ended = (parseJson(event.data) as { reason?: string } | undefined)?.reason ?? "unknown";
          }
        },
        (ms) => (retryMs = ms),
      );
      report("stream");
      const reader = body.getReader();
      const decoder = new TextDecoder();
      try {
        while (ended === undefined) {
          const { value, done } = await reader.read();
          if (done) break;
          parser.push(decoder.decode(value, { stream: true }));
        }
      } catch {
        // Dropped (or aborted by unsubscribe: the loop sees that).
      } finally {
        reader.cancel().catch(() => {});
      }
      if (signal.aborted) return { kind: "stopped" };
      if (ended !== undefined) return { kind: "ended", reason: ended, token };
      return { kind: "dropped", healthy: delivered || Date.now() - opened >= 20_000 };
    }

    /** The event stream through `EventSource` (cookies): one connection. */
    function viaEventSource(EventSourceCtor: EventSourceConstructor): Promise<Outcome> {
      return new Promise((resolve) => {
        const url = position === undefined ? eventsUrl : `${eventsUrl}?since=${encodeURIComponent(position)}`;
        let source: EventSourceLike;
        try {
          source = new EventSourceCtor(url, { withCredentials: credentials !== "omit" });
        } catch {
          return resolve({ kind: "failed" });
        }
        stats.requests += 1;
        const opened = { at: 0, delivered: false };
        let settled = false;
        const settle = (outcome: Outcome | "error") => {
          if (settled) return;
          settled = true;
          // Closed at once, so EventSource never reconnects by itself: the next connection is
          // this loop's, from `position`.
          source.close();
          signal.removeEventListener("abort", onAbort);
          if (outcome !== "error") return resolve(outcome);
          if (signal.aborted) return resolve({ kind: "stopped" });
          if (opened.at) {
            return resolve({ kind: "dropped", healthy: opened.delivered || Date.now() - opened.at >= 20_000 });
          }
          // EventSource does not say why it failed: ask the feed, which answers the same
          // authentication and also delivers whatever changed meanwhile.
          // Either way the stream failed (a 429 looks the same as a broken stream here).
          catchUp(0).then(() => resolve(signal.aborted ? { kind: "stopped" } : { kind: "failed" }));
        };
        const onAbort = () => settle({ kind: "stopped" });
        signal.addEventListener("abort", onAbort);
        source.onopen = () => {
          opened.at = Date.now();
          report("stream");
        };
        source.addEventListener("change", (event) => {
          const change = parseJson(event.data) as Change | undefined;
          if (change) {
            opened.delivered = true;
            deliverEvent(change, event.lastEventId);
          }
        });
        source.addEventListener("end", (event) => {
          const reason = (parseJson(event.data) as { reason?: string } | undefined)?.reason ?? "unknown";
          settle({ kind: "ended", reason });
        });
        source.onerror = () => settle("error");
      });
    }

    async function run() {
      const requested = opts.transport ?? "auto";
      let preferred: SubscriptionTransport;
      if (requested === "auto") {
        preferred = !options.token && EventSourceImpl ? "eventsource" : canStream ? "fetch" : "poll";
      } else if (requested === "eventsource" && !EventSourceImpl) {
        preferred = "poll";
      } else if (requested === "fetch" && !canStream) {
        preferred = "poll";
      } else {
        preferred = requested;
      }
      transport = preferred;
      let fellBackAt = 0;
      const fallBack = () => {
        transport = "poll";
        fellBackAt = Date.now();
        failures = 0;
      };

      while (!signal.aborted) {
        if (transport === "poll") {
          report("poll");
          const ok = await catchUp(pollWait);
          if (signal.aborted) break;
          if (ok) {
            failures = 0;
          } else {
            failures += 1;
            await pause(backoff());
          }
          if (preferred !== "poll" && Date.now() - fellBackAt >= streamRetryMs) transport = preferred;
          continue;
        }
        report("connecting");
        const outcome =
          transport === "eventsource" ? await viaEventSource(EventSourceImpl!) : await viaFetch();
        if (signal.aborted || outcome.kind === "stopped") break;
        switch (outcome.kind) {
          case "busy":
            fallBack();
            break;
          case "ended":
            failures = 0;
            if (outcome.reason === "token_expired") {
              // The API says the token in use has expired: a new one, or stop.
              const fresh = transport === "fetch" && options.token ? await bearer(true).catch(() => undefined) : undefined;
              if (!fresh || fresh === outcome.token) {
                finish(new SubscriptionError("token_expired", position));
                return;
              }
              break;
            }
            await pause(retryMs);
            break;
          case "dropped":
            if (outcome.healthy) failures = 0;
            else failures += 1;
            if (failures >= maxFailures) fallBack();
            else await pause(failures === 0 ? retryMs : backoff());
            break;
          case "failed":
            failures += 1;
            if (failures >= maxFailures) fallBack();
            else await pause(backoff());
            break;
        }
      }
    }

    run().catch((error) => {
      if (!signal.aborted) console.error("task-api-client: subscription failed", error);
    });

    return () => {
      if (stopped) return;
      stopped = true;
      controller.abort();
      report("stopped");
    };
  }

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

    /**
     * `GET /api/{user_id}/tasks/changes`: one page of the changes feed after `since` (omitted:
     * from the start); `wait` (0–30 s) holds an empty answer until a change is committed.
     * Apply the changes in order (`applyChange`) and call again with `next` while `more`.
     */
    async changes(query: ChangesQuery = {}): Promise<ChangesPage> {
      return changesPage(user_id, query);
    },

    /**
     * Live changes of `userId`'s tasks (normally the client's own `userId`); see
     * `SubscribeOptions`. Returns the function that unsubscribes.
     */
    subscribe,

    /** The openapi-fetch client underneath (same token, retries), for anything else. */
    http,
  };
}

export type TaskApi = ReturnType<typeof createTaskApi>;
