/**
 * PROTOCOL FAKE — not the kubeplane apiserver. A tiny in-memory HTTP server that speaks just enough
 * of the Kubernetes API protocol for ONE resource to test client/ (informer, leader election,
 * REST client): get, list (limit/continue, resourceVersion), create, update (resourceVersion
 * preconditions → 409), delete, and watch (resourceVersion, bookmarks, timeoutSeconds), plus
 * fault injection: 410 (in-stream ERROR event or HTTP), cut streams (optionally mid-line),
 * failing requests. Listens on 127.0.0.1 only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name?: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export interface ProtocolFakeOptions {
  group: string;
  version: string;
  resource: string;
  kind: string;
  namespaced: boolean;
}

interface HistoryEntry {
  rv: number;
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: FakeObject;
}

interface ActiveWatch {
  res: ServerResponse;
  sinceRv: number;
  namespace?: string;
  labelSelector?: string;
  timer?: NodeJS.Timeout;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  body: string;
}

interface Failure {
  match: (r: RecordedRequest) => boolean;
  code: number;
  remaining: number;
  headers?: Record<string, string>;
  body?: string;
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

const REASONS: Record<number, string> = {
  409: "Conflict",
  410: "Gone",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
};

function status(code: number, reason: string, message: string) {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code };
}

export class ProtocolFake {
  readonly objects = new Map<string, FakeObject>();
  readonly requests: RecordedRequest[] = [];
  readonly watches = new Set<ActiveWatch>();
  private history: HistoryEntry[] = [];
  private rv = 100;
  /** watches and continue tokens older than this are gone (410) */
  compactedBelow = 0;
  /** how a too-old watch is answered: an in-stream ERROR event (like the real apiserver) or HTTP 410 */
  goneMode: "event" | "http" = "event";
  private failures: Failure[] = [];
  private server: Server;
  url = "";

  constructor(readonly opts: ProtocolFakeOptions) {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => this.handle(req, res, Buffer.concat(chunks).toString("utf8")));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const w of this.watches) w.res.destroy();
    this.watches.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get currentRv(): number {
    return this.rv;
  }

  /** The prefix for this resource, e.g. /api/v1 or /apis/apps/v1. */
  private get gvPrefix(): string {
    return this.opts.group ? `/apis/${this.opts.group}/${this.opts.version}` : `/api/${this.opts.version}`;
  }

  private get apiVersion(): string {
    return this.opts.group ? `${this.opts.group}/${this.opts.version}` : this.opts.version;
  }

  key(namespace: string | undefined, name: string): string {
    return this.opts.namespaced ? `${namespace}/${name}` : name;
  }

  // ------------------------------------------------------------ server-side mutations (emit events)

  private record(type: HistoryEntry["type"], object: FakeObject): void {
    this.history.push({ rv: Number(object.metadata.resourceVersion), type, object: clone(object) });
    for (const w of this.watches) this.sendEvent(w, type, object);
  }

  upsert(obj: FakeObject): FakeObject {
    const stored: FakeObject = clone({ apiVersion: this.apiVersion, kind: this.opts.kind, ...obj });
    stored.metadata.resourceVersion = String(++this.rv);
    const k = this.key(stored.metadata.namespace, stored.metadata.name!);
    const existed = this.objects.has(k);
    this.objects.set(k, stored);
    this.record(existed ? "MODIFIED" : "ADDED", stored);
    return clone(stored);
  }

  remove(namespace: string | undefined, name: string): boolean {
    const k = this.key(namespace, name);
    const obj = this.objects.get(k);
    if (!obj) return false;
    this.objects.delete(k);
    const final = clone(obj);
    final.metadata.resourceVersion = String(++this.rv);
    this.record("DELETED", final);
    return true;
  }

  /** Changes state without telling watchers (simulates events lost while a watch was down). */
  silently(fn: () => void): void {
    const saved = new Set(this.watches);
    this.watches.clear();
    try {
      fn();
    } finally {
      for (const w of saved) this.watches.add(w);
    }
  }

  /** Forgets history up to now: every watch / continue token from an older resourceVersion gets 410. */
  compact(): void {
    this.compactedBelow = this.rv;
    this.history = [];
  }

  /** Sends a BOOKMARK with the current resourceVersion to every open watch. */
  bookmark(): void {
    for (const w of this.watches) {
      w.res.write(
        `${JSON.stringify({
          type: "BOOKMARK",
          object: {
            kind: this.opts.kind,
            apiVersion: this.apiVersion,
            metadata: { resourceVersion: String(this.rv) },
          },
        })}\n`,
      );
    }
  }

  /** Sends an ERROR event with a 410 to every open watch and ends them. */
  expireWatches(): void {
    for (const w of [...this.watches]) this.sendGone(w.res);
  }

  /** Drops every open watch connection; with `midLine`, after writing half an event. */
  cutWatches(midLine = false): void {
    for (const w of [...this.watches]) {
      if (midLine) w.res.write('{"type":"MODIFIED","object":{"metadata":{"na');
      this.watches.delete(w);
      if (w.timer) clearTimeout(w.timer);
      w.res.socket?.destroy();
    }
  }

  /** The next `times` requests matching `match` get an HTTP error. */
  failNext(
    times: number,
    code: number,
    match: (r: RecordedRequest) => boolean = () => true,
    extra: { headers?: Record<string, string>; body?: string } = {},
  ): void {
    this.failures.push({ match, code, remaining: times, ...extra });
  }

  /** Resolves once at least `n` watches are open. */
  async waitForWatches(n: number, timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.watches.size < n) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${n} watches (have ${this.watches.size})`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  // ------------------------------------------------------------ HTTP

  private sendJson(
    res: ServerResponse,
    code: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { "content-type": "application/json", ...headers });
    res.end(text);
  }

  private sendGone(res: ServerResponse): void {
    const ev = { type: "ERROR", object: status(410, "Expired", "too old resource version") };
    res.end(`${JSON.stringify(ev)}\n`);
    for (const w of this.watches) if (w.res === res) this.closeWatch(w);
  }

  private closeWatch(w: ActiveWatch): void {
    this.watches.delete(w);
    if (w.timer) clearTimeout(w.timer);
  }

  private matches(
    obj: FakeObject,
    namespace: string | undefined,
    labelSelector: string | undefined,
  ): boolean {
    if (namespace && obj.metadata.namespace !== namespace) return false;
    if (labelSelector) {
      const labels = (obj.metadata.labels ?? {}) as Record<string, string>;
      for (const term of labelSelector.split(",")) {
        const [k, v] = term.split("=");
        if (labels[k!] !== v) return false;
      }
    }
    return true;
  }

  private sendEvent(w: ActiveWatch, type: string, object: FakeObject): void {
    if (!this.matches(object, w.namespace, w.labelSelector)) return;
    w.res.write(`${JSON.stringify({ type, object })}\n`);
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: string): void {
    const url = new URL(req.url ?? "/", "http://x");
    const rec: RecordedRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
    };
    this.requests.push(rec);
    const failure = this.failures.find((f) => f.remaining > 0 && f.match(rec));
    if (failure) {
      failure.remaining--;
      res.writeHead(failure.code, { "content-type": "application/json", ...failure.headers });
      res.end(
        failure.body ??
          JSON.stringify(status(failure.code, REASONS[failure.code] ?? "InternalError", "injected failure")),
      );
      return;
    }
    // parse /<gv>[/namespaces/<ns>]/<resource>[/<name>[/<sub>]]
    if (!url.pathname.startsWith(`${this.gvPrefix}/`)) {
      this.sendJson(res, 404, status(404, "NotFound", "the server could not find the requested resource"));
      return;
    }
    const parts = url.pathname
      .slice(this.gvPrefix.length + 1)
      .split("/")
      .map(decodeURIComponent);
    let namespace: string | undefined;
    if (parts[0] === "namespaces" && parts.length >= 3) {
      namespace = parts[1];
      parts.splice(0, 2);
    }
    if (parts[0] !== this.opts.resource) {
      this.sendJson(res, 404, status(404, "NotFound", "the server could not find the requested resource"));
      return;
    }
    const name = parts[1];
    const method = rec.method;
    if (method === "GET" && name === undefined && url.searchParams.get("watch") === "true") {
      this.watch(res, namespace, url.searchParams);
    } else if (method === "GET" && name === undefined) {
      this.list(res, namespace, url.searchParams);
    } else if (method === "GET") {
      const obj = this.objects.get(this.key(namespace, name!));
      if (!obj) this.sendJson(res, 404, this.notFound(name!));
      else this.sendJson(res, 200, obj);
    } else if (method === "POST" && name === undefined) {
      const obj = JSON.parse(body) as FakeObject;
      const n = obj.metadata.name!;
      if (this.objects.has(this.key(namespace, n))) {
        this.sendJson(res, 409, {
          ...status(409, "AlreadyExists", `${this.opts.resource} "${n}" already exists`),
          details: { name: n, kind: this.opts.resource },
        });
        return;
      }
      obj.metadata.namespace = namespace;
      this.sendJson(res, 201, this.upsert(obj));
    } else if (method === "PUT" && name !== undefined) {
      const obj = JSON.parse(body) as FakeObject;
      const current = this.objects.get(this.key(namespace, name));
      if (!current) {
        this.sendJson(res, 404, this.notFound(name));
        return;
      }
      if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== current.metadata.resourceVersion) {
        this.sendJson(
          res,
          409,
          status(
            409,
            "Conflict",
            `Operation cannot be fulfilled on ${this.opts.resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          ),
        );
        return;
      }
      obj.metadata.namespace = namespace;
      this.sendJson(res, 200, this.upsert(obj));
    } else if (method === "DELETE" && name !== undefined) {
      if (!this.remove(namespace, name)) this.sendJson(res, 404, this.notFound(name));
      else
        this.sendJson(res, 200, {
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Success",
          code: 200,
        });
    } else {
      this.sendJson(
        res,
        405,
        status(405, "MethodNotAllowed", `${method} not supported by the protocol fake`),
      );
    }
  }

  private notFound(name: string) {
    return {
      ...status(404, "NotFound", `${this.opts.resource} "${name}" not found`),
      details: { name, kind: this.opts.resource },
    };
  }

  private list(res: ServerResponse, namespace: string | undefined, q: URLSearchParams): void {
    const limit = Number(q.get("limit") ?? "0");
    const cont = q.get("continue");
    let offset = 0;
    let rv = this.rv;
    if (cont) {
      const token = JSON.parse(Buffer.from(cont, "base64").toString("utf8")) as {
        rv: number;
        offset: number;
      };
      if (token.rv < this.compactedBelow) {
        this.sendJson(res, 410, status(410, "Expired", "The provided continue parameter is too old"));
        return;
      }
      offset = token.offset;
      rv = token.rv;
    }
    const all = [...this.objects.values()]
      .filter((o) => this.matches(o, namespace, q.get("labelSelector") ?? undefined))
      .sort((a, b) =>
        this.key(a.metadata.namespace, a.metadata.name!).localeCompare(
          this.key(b.metadata.namespace, b.metadata.name!),
        ),
      );
    const page = limit > 0 ? all.slice(offset, offset + limit) : all.slice(offset);
    const next = limit > 0 && offset + limit < all.length ? offset + limit : undefined;
    // real list items carry no kind/apiVersion
    const items = page.map((o) => {
      const { kind: _k, apiVersion: _a, ...rest } = clone(o);
      return rest;
    });
    this.sendJson(res, 200, {
      kind: `${this.opts.kind}List`,
      apiVersion: this.apiVersion,
      metadata: {
        resourceVersion: String(rv),
        ...(next !== undefined
          ? { continue: Buffer.from(JSON.stringify({ rv, offset: next })).toString("base64") }
          : {}),
      },
      items,
    });
  }

  private watch(res: ServerResponse, namespace: string | undefined, q: URLSearchParams): void {
    const rvParam = q.get("resourceVersion");
    const since = rvParam ? Number(rvParam) : undefined;
    if (since !== undefined && since < this.compactedBelow) {
      if (this.goneMode === "http") {
        this.sendJson(res, 410, status(410, "Gone", "too old resource version"));
      } else {
        res.writeHead(200, { "content-type": "application/json" });
        this.sendGone(res);
      }
      return;
    }
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    res.flushHeaders();
    const w: ActiveWatch = {
      res,
      sinceRv: since ?? this.rv,
      namespace,
      labelSelector: q.get("labelSelector") ?? undefined,
    };
    if (since === undefined) {
      for (const o of this.objects.values()) this.sendEvent(w, "ADDED", o);
    } else {
      for (const h of this.history) if (h.rv > since) this.sendEvent(w, h.type, h.object);
    }
    const timeout = Number(q.get("timeoutSeconds") ?? "0");
    if (timeout > 0) {
      w.timer = setTimeout(() => {
        this.closeWatch(w);
        res.end();
      }, timeout * 1000);
    }
    this.watches.add(w);
    res.on("close", () => this.closeWatch(w));
  }
}

export async function startProtocolFake(opts: ProtocolFakeOptions): Promise<ProtocolFake> {
  return new ProtocolFake(opts).start();
}
