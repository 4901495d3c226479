/**
 * Decoder for the Kubernetes watch wire format: one JSON object per line,
 * `{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}`.
 * Pure: bytes in, typed events out. Chunk boundaries may fall anywhere, including inside
 * a multi-byte UTF-8 character.
 */
import type { KubeObject } from "../api/object.js";
import { isPlainObject } from "../api/object.js";
import type { Status } from "../api/status.js";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

export type WatchEvent<T extends KubeObject = KubeObject> =
  | { type: "ADDED" | "MODIFIED" | "DELETED"; object: T }
  /** bookmarks carry only kind, apiVersion and metadata.resourceVersion (and maybe annotations) */
  | { type: "BOOKMARK"; object: T }
  /** an in-stream error; code 410 means the requested resourceVersion is too old: relist */
  | { type: "ERROR"; object: Status };

/** A line that is not a valid watch event (or a stream that ended mid-line). */
export class WatchDecodeError extends Error {
  constructor(
    message: string,
    readonly line?: string,
  ) {
    super(message);
    this.name = "WatchDecodeError";
  }
}

const TYPES = new Set<string>(["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]);
/** longest line echoed back in an error message */
const ECHO = 200;

function echo(line: string): string {
  return line.length > ECHO ? `${line.slice(0, ECHO)}...` : line;
}

/** Parses one complete line into an event; throws WatchDecodeError. */
export function parseWatchLine<T extends KubeObject = KubeObject>(line: string): WatchEvent<T> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new WatchDecodeError(
      `invalid JSON in watch stream: ${(err as Error).message}: ${echo(line)}`,
      line,
    );
  }
  if (!isPlainObject(value)) throw new WatchDecodeError(`watch event is not an object: ${echo(line)}`, line);
  const type = value.type;
  if (typeof type !== "string" || !TYPES.has(type)) {
    throw new WatchDecodeError(`watch event has unknown type ${JSON.stringify(type)}: ${echo(line)}`, line);
  }
  const object = value.object;
  if (!isPlainObject(object)) throw new WatchDecodeError(`watch event has no object: ${echo(line)}`, line);
  if (type === "ERROR") {
    return { type: "ERROR", object: toStatus(object) };
  }
  if (!isPlainObject(object.metadata)) {
    throw new WatchDecodeError(`watch ${type} event object has no metadata: ${echo(line)}`, line);
  }
  return { type: type as "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK", object: object as T };
}

/** ERROR events should carry a Status; anything else is wrapped into one (code 500). */
function toStatus(object: Record<string, unknown>): Status {
  if (object.kind === "Status" && typeof object.code === "number") return object as unknown as Status;
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: typeof object.message === "string" ? object.message : `watch error: ${JSON.stringify(object)}`,
    reason: "InternalError",
    code: typeof object.code === "number" ? object.code : 500,
  };
}

/**
 * Incremental decoder. `push` each chunk and get the complete events it finished;
 * `end` when the stream ends. A bad line ends decoding: events decoded before it in the same chunk are
 * returned, and the error is thrown then or by the next call.
 */
export class WatchDecoder<T extends KubeObject = KubeObject> {
  private readonly utf8 = new TextDecoder("utf-8", { fatal: true });
  private pending = "";
  private failure: WatchDecodeError | undefined;

  push(chunk: Uint8Array | string): WatchEvent<T>[] {
    if (this.failure) throw this.failure;
    let text: string;
    if (typeof chunk === "string") {
      text = chunk;
    } else {
      try {
        text = this.utf8.decode(chunk, { stream: true });
      } catch {
        this.failure = new WatchDecodeError("invalid UTF-8 in watch stream");
        throw this.failure;
      }
    }
    const events: WatchEvent<T>[] = [];
    let nl = text.indexOf("\n");
    if (nl === -1) {
      this.pending += text;
      return events;
    }
    // the first line completes whatever was pending
    let lineText = this.pending + text.slice(0, nl);
    this.pending = "";
    let start = nl + 1;
    for (;;) {
      try {
        this.emit(lineText, events);
      } catch (err) {
        // keep the events decoded before the bad line; the error surfaces on the next call
        this.failure = err as WatchDecodeError;
        if (events.length === 0) throw this.failure;
        return events;
      }
      nl = text.indexOf("\n", start);
      if (nl === -1) break;
      lineText = text.slice(start, nl);
      start = nl + 1;
    }
    this.pending = text.slice(start);
    return events;
  }

  /** Flushes a final line without a trailing newline; throws if the stream ended mid-line. */
  end(): WatchEvent<T>[] {
    if (this.failure) throw this.failure;
    let rest: string;
    try {
      rest = this.pending + this.utf8.decode();
    } catch {
      throw new WatchDecodeError("watch stream ended inside a UTF-8 character");
    }
    this.pending = "";
    const events: WatchEvent<T>[] = [];
    if (rest.trim() === "") return events;
    try {
      this.emit(rest, events);
    } catch (err) {
      if (err instanceof WatchDecodeError) {
        throw new WatchDecodeError(`watch stream ended mid-event: ${echo(rest)}`, rest);
      }
      throw err;
    }
    return events;
  }

  private emit(line: string, into: WatchEvent<T>[]): void {
    // tolerate CRLF and blank keep-alive lines
    const trimmed = line.endsWith("\r") ? line.slice(0, -1) : line;
    if (trimmed.trim() === "") return;
    into.push(parseWatchLine<T>(trimmed));
  }
}

/** Decodes a byte stream (e.g. an undici response body) into watch events. */
export async function* decodeWatchStream<T extends KubeObject = KubeObject>(
  source: AsyncIterable<Uint8Array | string>,
): AsyncGenerator<WatchEvent<T>, void, undefined> {
  const decoder = new WatchDecoder<T>();
  for await (const chunk of source) {
    for (const ev of decoder.push(chunk)) yield ev;
  }
  for (const ev of decoder.end()) yield ev;
}
