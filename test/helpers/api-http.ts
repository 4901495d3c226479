/**
 * Raw HTTPS access to a running apiserver for end-to-end tests: one undici Agent trusting the
 * cluster CA, a bearer token by default, and a watch-stream reader (newline-delimited JSON).
 * Status codes, headers and bodies are returned as they came, so tests can assert on them.
 */
import { Agent, type Dispatcher, request } from "undici";

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** the parsed body, or undefined when it is not JSON */
  // biome-ignore lint/suspicious/noExplicitAny: test helper, bodies are asserted field by field
  json: any;
}

export interface RequestOptions {
  /** an object is sent as JSON; a string or Buffer as is */
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
  /** false: no Authorization header (anonymous); a string: that bearer token */
  token?: string | false;
  dispatcher?: Dispatcher;
}

export interface ApiTarget {
  url: string;
  token: string;
  caPem: string;
}

export class Api {
  readonly agent: Agent;

  constructor(
    readonly target: ApiTarget,
    agentOptions: ConstructorParameters<typeof Agent>[0] = {},
  ) {
    this.agent = new Agent({
      ...agentOptions,
      connect: { ca: target.caPem, ...(agentOptions.connect as object) },
      // watch streams stay open long
      bodyTimeout: 0,
      headersTimeout: 60_000,
    } as ConstructorParameters<typeof Agent>[0]);
  }

  headersFor(opts: RequestOptions): Record<string, string> {
    const h: Record<string, string> = { ...(opts.headers ?? {}) };
    const token = opts.token === undefined ? this.target.token : opts.token;
    if (token !== false) h.authorization = `Bearer ${token}`;
    if (opts.body !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === "content-type"))
      h["content-type"] = opts.contentType ?? "application/json";
    return h;
  }

  async req(method: string, path: string, opts: RequestOptions = {}): Promise<HttpResult> {
    const body =
      opts.body === undefined
        ? undefined
        : typeof opts.body === "string" || Buffer.isBuffer(opts.body)
          ? opts.body
          : JSON.stringify(opts.body);
    const res = await request(`${this.target.url}${path}`, {
      method: method as Dispatcher.HttpMethod,
      headers: this.headersFor(opts),
      body,
      dispatcher: opts.dispatcher ?? this.agent,
    });
    const text = await res.body.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, headers: res.headers as HttpResult["headers"], text, json };
  }

  get(path: string, opts: RequestOptions = {}) {
    return this.req("GET", path, opts);
  }
  post(path: string, body: unknown, opts: RequestOptions = {}) {
    return this.req("POST", path, { ...opts, body });
  }
  put(path: string, body: unknown, opts: RequestOptions = {}) {
    return this.req("PUT", path, { ...opts, body });
  }
  patch(path: string, body: unknown, contentType: string, opts: RequestOptions = {}) {
    return this.req("PATCH", path, { ...opts, body, contentType });
  }
  del(path: string, opts: RequestOptions = {}) {
    return this.req("DELETE", path, opts);
  }

  /** opens a watch (the path carries the query) and collects its events as they arrive */
  async watch(path: string, opts: RequestOptions & { read?: boolean } = {}): Promise<WatchStream> {
    const ac = new AbortController();
    const res = await request(`${this.target.url}${path}`, {
      method: "GET",
      headers: this.headersFor(opts),
      dispatcher: opts.dispatcher ?? this.agent,
      signal: ac.signal,
    });
    return new WatchStream(res, ac, opts.read !== false);
  }

  async close(): Promise<void> {
    await this.agent.destroy();
  }
}

export interface WatchEventLine {
  type: string;
  // biome-ignore lint/suspicious/noExplicitAny: test helper
  object: any;
}

export class WatchStream {
  readonly events: WatchEventLine[] = [];
  readonly status: number;
  ended = false;
  endedAt: number | undefined;
  error: unknown;
  private waiters: (() => void)[] = [];
  readonly done: Promise<void>;
  private buf = "";

  constructor(
    private readonly res: Dispatcher.ResponseData,
    private readonly ac: AbortController,
    read: boolean,
  ) {
    this.status = res.statusCode;
    this.done = read ? this.pump() : Promise.resolve();
  }

  private async pump(): Promise<void> {
    try {
      for await (const chunk of this.res.body) {
        this.buf += (chunk as Buffer).toString("utf8");
        let nl = this.buf.indexOf("\n");
        while (nl >= 0) {
          const line = this.buf.slice(0, nl).trim();
          this.buf = this.buf.slice(nl + 1);
          if (line) this.events.push(JSON.parse(line) as WatchEventLine);
          nl = this.buf.indexOf("\n");
        }
        this.wake();
      }
      if (this.buf.trim()) this.events.push(JSON.parse(this.buf) as WatchEventLine);
    } catch (e) {
      if (!this.ac.signal.aborted) this.error = e;
    } finally {
      this.ended = true;
      this.endedAt = Date.now();
      this.wake();
    }
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** resolves once pred holds over the events so far (or rejects after ms / when the stream ended without it) */
  async waitFor(
    pred: (events: WatchEventLine[]) => boolean,
    ms: number,
    what: string,
  ): Promise<WatchEventLine[]> {
    const end = Date.now() + ms;
    for (;;) {
      if (pred(this.events)) return this.events;
      if (this.ended)
        throw new Error(
          `watch ended before ${what}; got ${this.summary()}${this.error ? ` (${String(this.error)})` : ""}`,
        );
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}; got ${this.summary()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  summary(): string {
    const s = this.events.map(
      (e) => `${e.type}:${e.object?.metadata?.name ?? e.object?.metadata?.resourceVersion ?? e.object?.code}`,
    );
    return `${s.length} events [${s.slice(0, 30).join(" ")}${s.length > 30 ? " ..." : ""}]`;
  }

  close(): void {
    this.ac.abort();
    this.res.body.destroy();
  }
}

/** a small ConfigMap body */
export function configMap(
  name: string,
  data: Record<string, string> = { k: "v" },
  labels?: Record<string, string>,
) {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, ...(labels ? { labels } : {}) }, data };
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
