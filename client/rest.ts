/**
 * REST client for any Kubernetes-compatible apiserver (kubeplane's or a real one), on undici.
 * Addresses any group/version/resource; JSON only.
 */
import { readFileSync } from "node:fs";
import type { Readable } from "node:stream";
import { Agent, type Dispatcher } from "undici";
import type { KubeList, KubeObject } from "../api/object.js";
import { isPlainObject } from "../api/object.js";
import type { Status, StatusReason } from "../api/status.js";
import { backoffDelay, sleep } from "./backoff.js";
import type { ClusterConnection } from "./kubeconfig.js";
import { decodeWatchStream, type WatchEvent } from "./watch.js";

// ---------------------------------------------------------------- paths

export interface GroupVersionResource {
  /** "" for the core group */
  group: string;
  version: string;
  /** plural, lower case */
  resource: string;
}

export interface ResourceRef extends GroupVersionResource {
  /** omit (or "") for cluster-scoped resources and for lists across all namespaces */
  namespace?: string;
  name?: string;
  /** "status", "scale", ...; needs a name */
  subresource?: string;
}

function segment(value: string, what: string): string {
  if (value === "" || value === "." || value === ".." || value.includes("/") || value.includes("%")) {
    throw new Error(`invalid ${what} ${JSON.stringify(value)}`);
  }
  return encodeURIComponent(value);
}

/** "v1" → core; "apps/v1" → {group: "apps", version: "v1"} */
export function parseApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf("/");
  if (slash === -1) return { group: "", version: apiVersion };
  return { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** The group-version prefix: /api/v1 or /apis/<group>/<version> */
export function groupVersionPath(group: string, version: string): string {
  const v = segment(version, "version");
  return group === "" ? `/api/${v}` : `/apis/${segment(group, "group")}/${v}`;
}

/** (group, version, resource, namespace?, name?, subresource?) → request path. */
export function resourcePath(ref: ResourceRef): string {
  let p = groupVersionPath(ref.group, ref.version);
  if (ref.namespace) p += `/namespaces/${segment(ref.namespace, "namespace")}`;
  p += `/${segment(ref.resource, "resource")}`;
  if (ref.name !== undefined) p += `/${segment(ref.name, "name")}`;
  if (ref.subresource !== undefined) {
    if (ref.name === undefined) throw new Error(`subresource ${ref.subresource} needs a name`);
    p += `/${segment(ref.subresource, "subresource")}`;
  }
  return p;
}

export type QueryValue = string | number | boolean | undefined;

export function buildQuery(params: Record<string, QueryValue>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    q.append(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

// ---------------------------------------------------------------- errors

const REASONS: Record<number, StatusReason> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  406: "NotAcceptable",
  409: "Conflict",
  410: "Gone",
  413: "RequestEntityTooLarge",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

/** An API error: the Status the server sent, or one synthesized from the HTTP response. */
export class ApiError extends Error {
  readonly code: number;
  /** Status.reason; "" when the server gave none and the code has no standard reason */
  readonly reason: string;

  constructor(
    readonly status: Status,
    readonly method?: string,
    readonly path?: string,
  ) {
    super(status.message || `${status.reason ?? "Unknown"} (HTTP ${status.code})`);
    this.name = "ApiError";
    this.code = status.code;
    this.reason = status.reason ?? "";
  }
}

/** Builds the ApiError for an error response body (JSON Status or anything else). */
export function apiErrorFromResponse(code: number, body: string, method?: string, path?: string): ApiError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  if (isPlainObject(parsed) && parsed.kind === "Status") {
    const s = parsed as unknown as Status;
    const status: Status = { ...s, code: typeof s.code === "number" && s.code !== 0 ? s.code : code };
    if (!status.reason && REASONS[status.code]) status.reason = REASONS[status.code];
    return new ApiError(status, method, path);
  }
  const snippet = body.trim().slice(0, 300);
  const where = method && path ? `${method} ${path}: ` : "";
  return new ApiError(
    {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: `${where}the server responded with HTTP ${code}${snippet ? `: ${snippet}` : ""}`,
      ...(REASONS[code] ? { reason: REASONS[code] } : {}),
      code,
    },
    method,
    path,
  );
}

function hasCode(err: unknown, code: number): boolean {
  return err instanceof ApiError && err.code === code;
}
export const isNotFound = (err: unknown) => hasCode(err, 404);
export const isConflict = (err: unknown) =>
  err instanceof ApiError && err.code === 409 && err.reason !== "AlreadyExists";
export const isAlreadyExists = (err: unknown) => err instanceof ApiError && err.reason === "AlreadyExists";
/** 410 Gone or Expired: the resourceVersion / continue token is too old; relist. */
export const isGone = (err: unknown) => hasCode(err, 410);
export const isTooManyRequests = (err: unknown) => hasCode(err, 429);
export const isForbidden = (err: unknown) => hasCode(err, 403);
export const isUnauthorized = (err: unknown) => hasCode(err, 401);
export const isInvalid = (err: unknown) => hasCode(err, 422);

/** A request that did not finish within its timeout. */
export class RequestTimeoutError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly timeoutMs: number,
  ) {
    super(`${method} ${path}: request timed out after ${timeoutMs} ms`);
    this.name = "RequestTimeoutError";
  }
}

// ---------------------------------------------------------------- options

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: "Exact" | "NotOlderThan";
  timeoutSeconds?: number;
  signal?: AbortSignal;
}

export interface WatchOptions {
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  resourceVersionMatch?: "NotOlderThan";
  allowWatchBookmarks?: boolean;
  /** the server ends the watch after this long; the client gives it 10 s grace on top */
  timeoutSeconds?: number;
  sendInitialEvents?: boolean;
  signal?: AbortSignal;
}

export interface GetOptions {
  resourceVersion?: string;
  signal?: AbortSignal;
}

export interface WriteOptions {
  dryRun?: boolean;
  fieldManager?: string;
  fieldValidation?: "Ignore" | "Warn" | "Strict";
  signal?: AbortSignal;
}

export type PatchType = "json" | "merge" | "strategic" | "apply";

export const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  json: "application/json-patch+json",
  merge: "application/merge-patch+json",
  strategic: "application/strategic-merge-patch+json",
  apply: "application/apply-patch+yaml",
};

export interface PatchOptions extends WriteOptions {
  type: PatchType;
  /** only for apply: take ownership of conflicting fields */
  force?: boolean;
}

export interface DeleteOptions {
  propagationPolicy?: "Orphan" | "Background" | "Foreground";
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
  signal?: AbortSignal;
}

export interface RawRequest {
  method?: Dispatcher.HttpMethod;
  /** path plus optional query string; relative to the server URL (its path prefix is kept) */
  path: string;
  query?: Record<string, QueryValue>;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** overrides the client's request timeout; 0 = none */
  timeoutMs?: number;
}

export interface RawResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface RestClientOptions {
  /** User-Agent becomes "kubeplane/<component>" */
  component: string;
  /** default 30 s */
  timeoutMs?: number;
  /** retries of 429 (and of GETs answered 5xx with Retry-After); default 5 */
  maxRetries?: number;
  /** use this dispatcher instead of building an Agent from the connection's TLS options */
  dispatcher?: Dispatcher;
  /** how often to re-read ClusterConnection.tokenFile; default 60 s */
  tokenReloadMs?: number;
}

// ---------------------------------------------------------------- watch stream

/** A running watch: iterate it (once) for events; `close()` ends it and the iteration quietly. */
export class WatchStream<T extends KubeObject = KubeObject> implements AsyncIterable<WatchEvent<T>> {
  private closed = false;
  private iterated = false;

  constructor(
    private readonly body: Readable,
    private readonly cleanup: () => void = () => {},
  ) {
    // errors surface through iteration; without a listener an early close() would crash the process
    body.on("error", () => {});
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<WatchEvent<T>, void, undefined> {
    if (this.iterated) throw new Error("a WatchStream can be iterated only once");
    this.iterated = true;
    try {
      for await (const ev of decodeWatchStream<T>(this.body)) {
        if (this.closed) return;
        yield ev;
      }
    } catch (err) {
      if (this.closed) return;
      throw err;
    } finally {
      this.close();
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cleanup();
    this.body.destroy();
  }
}

// ---------------------------------------------------------------- client

interface Deadline {
  signal: AbortSignal;
  timedOut: () => boolean;
  clear: () => void;
}

/** One AbortSignal that fires on the caller's signal or after `ms` (0 = never). */
function deadline(ms: number, outer?: AbortSignal): Deadline {
  const controller = new AbortController();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const onAbort = () => controller.abort(outer?.reason);
  if (outer) {
    if (outer.aborted) controller.abort(outer.reason);
    else outer.addEventListener("abort", onAbort, { once: true });
  }
  if (ms > 0) {
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error("timeout"));
    }, ms);
  }
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    clear: () => {
      if (timer) clearTimeout(timer);
      outer?.removeEventListener("abort", onAbort);
    },
  };
}

function retryAfterMs(headers: Record<string, string | string[] | undefined>): number | undefined {
  const v = headers["retry-after"];
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined) return undefined;
  const n = Number(s);
  if (Number.isFinite(n) && n >= 0) return n * 1000;
  return undefined;
}

export class RestClient {
  readonly connection: ClusterConnection;
  readonly userAgent: string;
  private readonly origin: string;
  private readonly basePath: string;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly tokenReloadMs: number;
  private token: string | undefined;
  private tokenReadAt = 0;

  constructor(connection: ClusterConnection, opts: RestClientOptions) {
    this.connection = connection;
    this.userAgent = `kubeplane/${opts.component}`;
    const url = new URL(connection.server);
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, "");
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.maxRetries = opts.maxRetries ?? 5;
    this.tokenReloadMs = opts.tokenReloadMs ?? 60_000;
    this.token = connection.token;
    this.tokenReadAt = Date.now();
    if (opts.dispatcher) {
      this.dispatcher = opts.dispatcher;
      this.ownsDispatcher = false;
    } else {
      this.dispatcher = new Agent({
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        connect: {
          ca: connection.ca,
          cert: connection.cert,
          key: connection.key,
          rejectUnauthorized: !connection.insecureSkipTLSVerify,
          ...(connection.tlsServerName ? { servername: connection.tlsServerName } : {}),
        },
      });
      this.ownsDispatcher = true;
    }
  }

  /** Default namespace of the connection (context namespace or the pod's namespace). */
  get namespace(): string {
    return this.connection.namespace;
  }

  private bearer(): string | undefined {
    const file = this.connection.tokenFile;
    if (file && Date.now() - this.tokenReadAt >= this.tokenReloadMs) {
      this.tokenReadAt = Date.now();
      try {
        const t = readFileSync(file, "utf8").trim();
        if (t) this.token = t;
      } catch {
        // keep the last good token; the server will say 401 if it expired
      }
    }
    return this.token;
  }

  private headers(extra?: Record<string, string>): Record<string, string> {
    const h: Record<string, string> = { "user-agent": this.userAgent, accept: "application/json" };
    const token = this.bearer();
    if (token) h.authorization = `Bearer ${token}`;
    return { ...h, ...extra };
  }

  private fullPath(path: string, query?: Record<string, QueryValue>): string {
    const p = path.startsWith("/") ? path : `/${path}`;
    if (!query) return this.basePath + p;
    const q = buildQuery(query);
    if (!q) return this.basePath + p;
    return this.basePath + p + (p.includes("?") ? `&${q.slice(1)}` : q);
  }

  /**
   * Any request; the body is read fully. Retries 429 (any method; the server did not act) and
   * 5xx-with-Retry-After for GET. Does not throw on HTTP errors.
   */
  async requestRaw(req: RawRequest): Promise<RawResponse> {
    const method = req.method ?? "GET";
    const path = this.fullPath(req.path, req.query);
    const timeoutMs = req.timeoutMs ?? this.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const dl = deadline(timeoutMs, req.signal);
      let res: RawResponse;
      try {
        const r = await this.dispatcher.request({
          origin: this.origin,
          path,
          method,
          headers: this.headers(req.headers),
          body: req.body ?? null,
          signal: dl.signal,
          headersTimeout: Math.max(timeoutMs, 0),
          bodyTimeout: Math.max(timeoutMs, 0),
        });
        const chunks: Buffer[] = [];
        for await (const c of r.body) chunks.push(c as Buffer);
        res = { statusCode: r.statusCode, headers: r.headers, body: Buffer.concat(chunks) };
      } catch (err) {
        if (dl.timedOut()) throw new RequestTimeoutError(method, path, timeoutMs);
        throw err;
      } finally {
        dl.clear();
      }
      const retryable = res.statusCode === 429 || (method === "GET" && res.statusCode >= 500);
      const after = retryAfterMs(res.headers);
      if (retryable && (res.statusCode === 429 || after !== undefined) && attempt < this.maxRetries) {
        const wait = Math.min(after ?? backoffDelay(attempt, { initialMs: 200, maxMs: 5000 }), 10_000);
        await sleep(wait, req.signal);
        continue;
      }
      return res;
    }
  }

  /** GET of an arbitrary path, returning the body as text; throws ApiError on HTTP errors. */
  async getRaw(path: string, query?: Record<string, QueryValue>, signal?: AbortSignal): Promise<string> {
    const res = await this.requestRaw({ path, query, signal });
    const text = res.body.toString("utf8");
    if (res.statusCode >= 400) throw apiErrorFromResponse(res.statusCode, text, "GET", path);
    return text;
  }

  /** A request with a JSON answer; throws ApiError on HTTP errors. */
  async requestJson<R>(req: RawRequest): Promise<R> {
    const res = await this.requestRaw(req);
    const text = res.body.toString("utf8");
    const method = req.method ?? "GET";
    if (res.statusCode >= 400) throw apiErrorFromResponse(res.statusCode, text, method, req.path);
    try {
      return JSON.parse(text) as R;
    } catch {
      throw new Error(
        `${method} ${req.path}: HTTP ${res.statusCode} with a body that is not JSON: ${text.slice(0, 200)}`,
      );
    }
  }

  get<T extends KubeObject = KubeObject>(
    ref: ResourceRef & { name: string },
    opts: GetOptions = {},
  ): Promise<T> {
    return this.requestJson<T>({
      path: resourcePath(ref),
      query: { resourceVersion: opts.resourceVersion },
      signal: opts.signal,
    });
  }

  list<T extends KubeObject = KubeObject>(ref: ResourceRef, opts: ListOptions = {}): Promise<KubeList<T>> {
    if (ref.name !== undefined) throw new Error("list takes no name");
    return this.requestJson<KubeList<T>>({
      path: resourcePath(ref),
      query: {
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        limit: opts.limit,
        continue: opts.continue,
        resourceVersion: opts.resourceVersion,
        resourceVersionMatch: opts.resourceVersionMatch,
        timeoutSeconds: opts.timeoutSeconds,
      },
      signal: opts.signal,
    });
  }

  private writeQuery(opts: WriteOptions): Record<string, QueryValue> {
    return {
      dryRun: opts.dryRun ? "All" : undefined,
      fieldManager: opts.fieldManager,
      fieldValidation: opts.fieldValidation,
    };
  }

  /** POST to the collection; namespace defaults to body.metadata.namespace for the path. */
  create<T extends KubeObject = KubeObject>(
    ref: ResourceRef,
    body: NoInfer<T>,
    opts: WriteOptions = {},
  ): Promise<T> {
    const target = { ...ref, namespace: ref.namespace ?? body.metadata.namespace, name: undefined };
    if (ref.subresource) throw new Error("create of a subresource: use requestJson");
    return this.requestJson<T>({
      method: "POST",
      path: resourcePath(target),
      query: this.writeQuery(opts),
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
      signal: opts.signal,
    });
  }

  /** PUT; name and namespace default to the body's. A stale metadata.resourceVersion gives 409. */
  update<T extends KubeObject = KubeObject>(
    ref: ResourceRef,
    body: NoInfer<T>,
    opts: WriteOptions = {},
  ): Promise<T> {
    const name = ref.name ?? body.metadata.name;
    if (!name) throw new Error("update needs a name");
    return this.requestJson<T>({
      method: "PUT",
      path: resourcePath({ ...ref, namespace: ref.namespace ?? body.metadata.namespace, name }),
      query: this.writeQuery(opts),
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
      signal: opts.signal,
    });
  }

  /** PATCH with the given patch type. `apply` needs a fieldManager; `force` only applies to apply. */
  patch<T extends KubeObject = KubeObject>(
    ref: ResourceRef & { name: string },
    patch: unknown,
    opts: PatchOptions,
  ): Promise<T> {
    if (opts.type === "apply" && !opts.fieldManager)
      throw new Error("server-side apply needs a fieldManager");
    if (opts.force && opts.type !== "apply") throw new Error("force is only valid for apply patches");
    if (opts.type === "json" && !Array.isArray(patch))
      throw new Error("a JSON patch must be an array of operations");
    return this.requestJson<T>({
      method: "PATCH",
      path: resourcePath(ref),
      query: { ...this.writeQuery(opts), force: opts.force === undefined ? undefined : opts.force },
      body: typeof patch === "string" ? patch : JSON.stringify(patch),
      headers: { "content-type": PATCH_CONTENT_TYPES[opts.type] },
      signal: opts.signal,
    });
  }

  private deleteBody(opts: DeleteOptions): string {
    return JSON.stringify({
      kind: "DeleteOptions",
      apiVersion: "v1",
      ...(opts.propagationPolicy ? { propagationPolicy: opts.propagationPolicy } : {}),
      ...(opts.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: opts.gracePeriodSeconds } : {}),
      ...(opts.preconditions ? { preconditions: opts.preconditions } : {}),
      ...(opts.dryRun ? { dryRun: ["All"] } : {}),
    });
  }

  /**
   * DELETE one object. Resolves with the Status the server returns for an immediate delete,
   * or with the object itself while it is still terminating (finalizers, grace period).
   */
  delete<T extends KubeObject = KubeObject>(
    ref: ResourceRef & { name: string },
    opts: DeleteOptions = {},
  ): Promise<T | Status> {
    return this.requestJson<T | Status>({
      method: "DELETE",
      path: resourcePath(ref),
      body: this.deleteBody(opts),
      headers: { "content-type": "application/json" },
      signal: opts.signal,
    });
  }

  /** DELETE on the collection, filtered by selectors. */
  deleteCollection(
    ref: ResourceRef,
    opts: DeleteOptions & Pick<ListOptions, "labelSelector" | "fieldSelector"> = {},
  ): Promise<Status | KubeList> {
    if (ref.name !== undefined) throw new Error("deleteCollection takes no name");
    return this.requestJson<Status | KubeList>({
      method: "DELETE",
      path: resourcePath(ref),
      query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector },
      body: this.deleteBody(opts),
      headers: { "content-type": "application/json" },
      signal: opts.signal,
    });
  }

  /**
   * Starts a watch. Resolves once the server answered 200 (throws ApiError otherwise, e.g. 410);
   * iterate the stream for events. No body timeout: the server's timeoutSeconds ends it.
   */
  async watch<T extends KubeObject = KubeObject>(
    ref: ResourceRef,
    opts: WatchOptions = {},
  ): Promise<WatchStream<T>> {
    if (ref.name !== undefined) {
      // watching one object is a list watch with a name field selector
      const byName = `metadata.name=${ref.name}`;
      opts = { ...opts, fieldSelector: opts.fieldSelector ? `${opts.fieldSelector},${byName}` : byName };
      ref = { ...ref, name: undefined };
    }
    const path = this.fullPath(resourcePath(ref), {
      watch: "true",
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
      resourceVersion: opts.resourceVersion,
      resourceVersionMatch: opts.resourceVersionMatch,
      allowWatchBookmarks: opts.allowWatchBookmarks ? "true" : undefined,
      timeoutSeconds: opts.timeoutSeconds,
      sendInitialEvents: opts.sendInitialEvents === undefined ? undefined : opts.sendInitialEvents,
    });
    const clientDeadline = opts.timeoutSeconds !== undefined ? opts.timeoutSeconds * 1000 + 10_000 : 0;
    for (let attempt = 0; ; attempt++) {
      const dl = deadline(clientDeadline, opts.signal);
      const headerTimer = deadline(this.timeoutMs, dl.signal);
      let r: Dispatcher.ResponseData;
      try {
        r = await this.dispatcher.request({
          origin: this.origin,
          path,
          method: "GET",
          headers: this.headers(),
          signal: headerTimer.signal,
          headersTimeout: this.timeoutMs,
          bodyTimeout: 0,
        });
      } catch (err) {
        dl.clear();
        if (headerTimer.timedOut()) throw new RequestTimeoutError("GET", path, this.timeoutMs);
        throw err;
      } finally {
        headerTimer.clear();
      }
      if (r.statusCode !== 200) {
        let text = "";
        try {
          text = await r.body.text();
        } finally {
          dl.clear();
        }
        const after = retryAfterMs(r.headers);
        if (
          (r.statusCode === 429 || (r.statusCode >= 500 && after !== undefined)) &&
          attempt < this.maxRetries
        ) {
          await sleep(
            Math.min(after ?? backoffDelay(attempt, { initialMs: 200, maxMs: 5000 }), 10_000),
            opts.signal,
          );
          continue;
        }
        throw apiErrorFromResponse(r.statusCode, text, "GET", path);
      }
      // from here the caller's signal and the client-side deadline end the stream quietly
      const stream = new WatchStream<T>(r.body, () => dl.clear());
      if (dl.signal.aborted) stream.close();
      else dl.signal.addEventListener("abort", () => stream.close(), { once: true });
      return stream;
    }
  }

  /**
   * Closes the connection pool (only when this client created it): waits up to `graceMs` for
   * requests in flight, then destroys what is left (e.g. watches nobody closed).
   */
  async close(graceMs = 1000): Promise<void> {
    if (!this.ownsDispatcher) return;
    let timer: NodeJS.Timeout | undefined;
    const graceful = this.dispatcher.close().then(() => true);
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), graceMs);
    });
    const closed = await Promise.race([graceful, timedOut]);
    clearTimeout(timer);
    if (!closed) await this.dispatcher.destroy();
  }
}
