// A parser for `text/event-stream` (Server-Sent Events, WHATWG HTML §9.2.6), for reading a
// stream through `fetch` where `EventSource` cannot be used: `EventSource` sends no
// `Authorization` header, so a client holding a bearer token reads the stream itself.

/** One dispatched event: its type (`message` unless an `event:` field named one), data, id. */
export interface ServerSentEvent {
  type: string;
  data: string;
  /** The last `id:` seen on the stream so far (what `EventSource` calls `lastEventId`). */
  id: string;
}

/**
 * Feed it decoded text in chunks of any size (a line, or `\r\n`, may be split between two);
 * it calls `onEvent` for every complete event and `onRetry` for every `retry:` field.
 * Comments (`: keep-alive`) are ignored; an event not yet ended by a blank line when the
 * stream closes is dropped, as the standard says.
 */
export class EventStreamParser {
  private buffer = "";
  private data: string[] = [];
  private type = "";
  private lastId = "";
  private started = false;

  constructor(
    private readonly onEvent: (event: ServerSentEvent) => void,
    private readonly onRetry?: (milliseconds: number) => void,
  ) {}

  push(text: string): void {
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const buffer = this.buffer + text;
    let start = 0;
    for (;;) {
      let end = start;
      while (end < buffer.length && buffer[end] !== "\n" && buffer[end] !== "\r") end++;
      if (end >= buffer.length) break;
      // A `\r` at the very end may be the first half of a `\r\n`: wait for the next chunk.
      if (buffer[end] === "\r" && end === buffer.length - 1) break;
      const line = buffer.slice(start, end);
      start = end + (buffer[end] === "\r" && buffer[end + 1] === "\n" ? 2 : 1);
      this.line(line);
    }
    this.buffer = buffer.slice(start);
  }

  private line(line: string): void {
    if (line === "") {
      if (this.data.length > 0) {
        const event = { type: this.type || "message", data: this.data.join("\n"), id: this.lastId };
        this.data = [];
        this.type = "";
        this.onEvent(event);
      } else {
        this.type = "";
      }
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.type = value;
        break;
      case "data":
        this.data.push(value);
        break;
      case "id":
        if (!value.includes("\0")) this.lastId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.onRetry?.(Number(value));
        break;
      default:
        break;
    }
  }
}
