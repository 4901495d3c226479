/**
 * Informer: list (paginated), then watch from the list's resourceVersion with bookmarks;
 * re-watch from the last seen resourceVersion when a watch ends, relist on 410, back off on
 * other errors. Keeps an indexed store and calls event handlers.
 */
import type { KubeList, KubeObject } from "../api/object.js";
import { Backoff, type BackoffOptions, DEFAULT_BACKOFF, sleepUnlessAborted } from "./backoff.js";
import {
  ApiError,
  type GroupVersionResource,
  isGone,
  type ListOptions,
  type RestClient,
  type WatchOptions,
} from "./rest.js";
import type { WatchEvent } from "./watch.js";

// ---------------------------------------------------------------- list/watch source

/** A watch in progress: iterate for events; `close()` ends it. */
export interface WatchHandle<T extends KubeObject> extends AsyncIterable<WatchEvent<T>> {
  close(): void;
}

/** Where an informer gets its data; the selectors are baked in. */
export interface ListerWatcher<T extends KubeObject> {
  list(
    opts: Pick<ListOptions, "limit" | "continue" | "resourceVersion" | "resourceVersionMatch" | "signal">,
  ): Promise<KubeList<T>>;
  watch(
    opts: Pick<WatchOptions, "resourceVersion" | "allowWatchBookmarks" | "timeoutSeconds" | "signal">,
  ): Promise<WatchHandle<T>>;
}

export interface Selection {
  /** omit or "" for all namespaces / cluster-scoped resources */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

/** A ListerWatcher for any group/version/resource through a RestClient. */
export function listerWatcher<T extends KubeObject = KubeObject>(
  client: RestClient,
  gvr: GroupVersionResource,
  sel: Selection = {},
): ListerWatcher<T> {
  const ref = {
    group: gvr.group,
    version: gvr.version,
    resource: gvr.resource,
    namespace: sel.namespace || undefined,
  };
  return {
    list: (opts) =>
      client.list<T>(ref, { ...opts, labelSelector: sel.labelSelector, fieldSelector: sel.fieldSelector }),
    watch: (opts) =>
      client.watch<T>(ref, { ...opts, labelSelector: sel.labelSelector, fieldSelector: sel.fieldSelector }),
  };
}

// ---------------------------------------------------------------- store keys

/** "namespace/name" for namespaced objects, "name" otherwise (client-go's MetaNamespaceKeyFunc). */
export function objectKey(obj: KubeObject): string {
  const { namespace, name } = obj.metadata;
  if (!name) throw new Error("object has no metadata.name");
  return namespace ? `${namespace}/${name}` : name;
}

export function splitKey(key: string): { namespace?: string; name: string } {
  const i = key.indexOf("/");
  return i === -1 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

// ---------------------------------------------------------------- handlers

export interface EventHandlers<T extends KubeObject> {
  /** `isInitialList`: the object came from the first list (or was already there when the handler was added) */
  onAdd?(obj: T, isInitialList: boolean): void;
  /** also called with (obj, obj) on every resync */
  onUpdate?(oldObj: T, newObj: T): void;
  /**
   * `finalStateUnknown`: the deletion was inferred at relist time (the watch missed it), so
   * `obj` is the last state this informer saw, not the final one.
   */
  onDelete?(obj: T, finalStateUnknown: boolean): void;
}

export type IndexFunc<T extends KubeObject> = (obj: T) => string[];

/** The built-in index: objects by metadata.namespace ("" for cluster-scoped). */
export const NAMESPACE_INDEX = "namespace";

/** Minimal structured logger (pino-compatible). */
export interface Logger {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export interface InformerOptions<T extends KubeObject = KubeObject> {
  /** for logs */
  name?: string;
  /**
   * Applied to every listed and watched object before it is stored, indexed or handed to the
   * handlers (client-go's SetTransform): e.g. drop the fields a consumer never reads to save
   * memory. Must keep metadata.name, namespace and resourceVersion.
   */
  transform?: (obj: T) => T;
  /** re-deliver onUpdate(obj, obj) for every object this often; 0/undefined: never */
  resyncPeriodMs?: number;
  /** list page size (limit); default 500; 0 = no pagination */
  pageSize?: number;
  /** each watch asks the server to end after a random time in [min, max] seconds; default 300–600 */
  watchTimeoutSeconds?: { min: number; max: number };
  /** backoff for list/watch errors; default 800 ms doubling, capped at 30 s, with jitter */
  backoff?: BackoffOptions;
  logger?: Logger;
  random?: () => number;
}

interface Index {
  fn: (obj: KubeObject) => string[];
  byValue: Map<string, Set<string>>;
  /** the values each key was indexed under, to unindex on update/delete */
  byKey: Map<string, string[]>;
}

function fillTypeMeta<T extends KubeObject>(list: KubeList<T>): T[] {
  const kind =
    typeof list.kind === "string" && list.kind.endsWith("List") ? list.kind.slice(0, -4) : undefined;
  const items = Array.isArray(list.items) ? list.items : [];
  if (!kind || !list.apiVersion) return items;
  return items.map((item) =>
    item.kind && item.apiVersion
      ? item
      : ({ ...item, kind: item.kind ?? kind, apiVersion: item.apiVersion ?? list.apiVersion } as T),
  );
}

/** The GoneError a 410 ERROR watch event becomes. */
function errorFromEvent(ev: WatchEvent): ApiError {
  if (ev.type !== "ERROR") throw new Error("not an error event");
  return new ApiError(ev.object, "WATCH");
}

export class Informer<T extends KubeObject = KubeObject> {
  private readonly store = new Map<string, T>();
  private readonly indexes = new Map<string, Index>();
  private readonly handlers = new Set<EventHandlers<T>>();
  private readonly controller = new AbortController();
  private readonly backoff: Backoff;
  private readonly log: Logger;
  private readonly name: string;
  private readonly random: () => number;
  private synced = false;
  private started = false;
  private loop: Promise<void> | undefined;
  private syncWaiters: Array<() => void> = [];
  private resyncTimer: NodeJS.Timeout | undefined;
  private currentWatch: WatchHandle<T> | undefined;
  private rv = "";
  private counters = { lists: 0, watches: 0 };

  constructor(
    private readonly source: ListerWatcher<T>,
    private readonly opts: InformerOptions<T> = {},
  ) {
    this.backoff = new Backoff(opts.backoff ?? DEFAULT_BACKOFF);
    this.log = opts.logger ?? silent;
    this.name = opts.name ?? "informer";
    this.random = opts.random ?? Math.random;
    this.addIndexer(NAMESPACE_INDEX, (obj) => [obj.metadata.namespace ?? ""]);
  }

  // ------------------------------------------------------------ lifecycle

  /** Starts list+watch in the background; idempotent. */
  start(): void {
    if (this.started || this.controller.signal.aborted) return;
    this.started = true;
    this.loop = this.runLoop().catch((err: unknown) => {
      this.log.error({ informer: this.name, err: String(err) }, "informer loop crashed");
    });
    if (this.opts.resyncPeriodMs && this.opts.resyncPeriodMs > 0) {
      this.resyncTimer = setInterval(() => this.resync(), this.opts.resyncPeriodMs);
    }
  }

  /** Stops watching; resolves when the loop has exited. The store keeps its last contents. */
  async stop(): Promise<void> {
    this.controller.abort();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.currentWatch?.close();
    for (const w of this.syncWaiters.splice(0)) w();
    await this.loop;
  }

  get stopped(): boolean {
    return this.controller.signal.aborted;
  }

  /** True once the first full list has been stored and delivered. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves true when synced, false when `signal` aborts or the informer stops first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    if (this.stopped || signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = () => {
        signal?.removeEventListener("abort", done);
        resolve(this.synced);
      };
      this.syncWaiters.push(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** The resourceVersion the next watch would start from. */
  get lastSyncResourceVersion(): string {
    return this.rv;
  }

  /** How many lists and watches were started (for tests and debugging). */
  get stats(): { lists: number; watches: number } {
    return { ...this.counters };
  }

  // ------------------------------------------------------------ handlers

  /**
   * Registers handlers; objects already in the store are delivered as onAdd(obj, true).
   * Returns a function that removes them.
   */
  addEventHandler(h: EventHandlers<T>): () => void {
    this.handlers.add(h);
    for (const obj of this.store.values()) this.call("onAdd", () => h.onAdd?.(obj, true));
    return () => {
      this.handlers.delete(h);
    };
  }

  private call(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ informer: this.name, handler: what, err: String(err) }, "event handler threw");
    }
  }

  private emitAdd(obj: T, initial: boolean) {
    for (const h of this.handlers) if (h.onAdd) this.call("onAdd", () => h.onAdd!(obj, initial));
  }
  private emitUpdate(oldObj: T, newObj: T) {
    for (const h of this.handlers) if (h.onUpdate) this.call("onUpdate", () => h.onUpdate!(oldObj, newObj));
  }
  private emitDelete(obj: T, unknown: boolean) {
    for (const h of this.handlers) if (h.onDelete) this.call("onDelete", () => h.onDelete!(obj, unknown));
  }

  private resync(): void {
    if (!this.synced || this.stopped) return;
    for (const obj of [...this.store.values()]) this.emitUpdate(obj, obj);
  }

  // ------------------------------------------------------------ store and indexes

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  getByName(name: string, namespace?: string): T | undefined {
    return this.store.get(namespace ? `${namespace}/${name}` : name);
  }

  list(): T[] {
    return [...this.store.values()];
  }

  keys(): string[] {
    return [...this.store.keys()];
  }

  get size(): number {
    return this.store.size;
  }

  /** Adds an index; existing objects are indexed at once. Names must be unique. */
  addIndexer(name: string, fn: IndexFunc<T>): void {
    if (this.indexes.has(name)) throw new Error(`indexer ${name} already exists`);
    const index: Index = { fn: fn as (obj: KubeObject) => string[], byValue: new Map(), byKey: new Map() };
    this.indexes.set(name, index);
    for (const [key, obj] of this.store) this.indexOne(index, key, obj);
  }

  /** Objects whose index function returned `value`. */
  byIndex(name: string, value: string): T[] {
    const keys = this.indexKeys(name, value);
    const out: T[] = [];
    for (const k of keys) {
      const obj = this.store.get(k);
      if (obj) out.push(obj);
    }
    return out;
  }

  indexKeys(name: string, value: string): string[] {
    const index = this.indexes.get(name);
    if (!index) throw new Error(`no indexer named ${name}`);
    return [...(index.byValue.get(value) ?? [])];
  }

  /** The values present in an index. */
  indexValues(name: string): string[] {
    const index = this.indexes.get(name);
    if (!index) throw new Error(`no indexer named ${name}`);
    return [...index.byValue.keys()];
  }

  listByNamespace(namespace: string): T[] {
    return this.byIndex(NAMESPACE_INDEX, namespace);
  }

  private indexOne(index: Index, key: string, obj: T): void {
    let values: string[];
    try {
      values = [...new Set(index.fn(obj))];
    } catch (err) {
      this.log.error({ informer: this.name, key, err: String(err) }, "index function threw");
      values = [];
    }
    index.byKey.set(key, values);
    for (const v of values) {
      let set = index.byValue.get(v);
      if (!set) {
        set = new Set();
        index.byValue.set(v, set);
      }
      set.add(key);
    }
  }

  private unindexOne(index: Index, key: string): void {
    const values = index.byKey.get(key);
    if (!values) return;
    index.byKey.delete(key);
    for (const v of values) {
      const set = index.byValue.get(v);
      if (!set) continue;
      set.delete(key);
      if (set.size === 0) index.byValue.delete(v);
    }
  }

  private put(key: string, obj: T): void {
    for (const index of this.indexes.values()) {
      this.unindexOne(index, key);
      this.indexOne(index, key, obj);
    }
    this.store.set(key, obj);
  }

  private remove(key: string): void {
    for (const index of this.indexes.values()) this.unindexOne(index, key);
    this.store.delete(key);
  }

  // ------------------------------------------------------------ list and watch

  private async runLoop(): Promise<void> {
    const signal = this.controller.signal;
    let needList = true;
    let consecutiveGone = 0;
    while (!signal.aborted) {
      if (needList) {
        try {
          await this.listAndReplace(signal);
          needList = false;
          this.backoff.reset();
        } catch (err) {
          if (signal.aborted) break;
          const delay = this.backoff.next();
          this.log.warn(
            { informer: this.name, err: String(err), retryInMs: Math.round(delay) },
            "list failed",
          );
          await sleepUnlessAborted(delay, signal);
          continue;
        }
      }
      const startedAt = Date.now();
      let events = 0;
      try {
        const { min, max } = this.opts.watchTimeoutSeconds ?? { min: 300, max: 600 };
        const timeoutSeconds = Math.floor(min + this.random() * (max - min + 1));
        this.counters.watches++;
        const stream = await this.source.watch({
          resourceVersion: this.rv,
          allowWatchBookmarks: true,
          timeoutSeconds: Math.min(timeoutSeconds, max),
          signal,
        });
        this.currentWatch = stream;
        if (signal.aborted) stream.close();
        for await (const ev of stream) {
          if (ev.type === "ERROR") throw errorFromEvent(ev);
          events++;
          consecutiveGone = 0;
          this.apply(ev);
        }
        this.currentWatch = undefined;
        if (signal.aborted) break;
        // a clean end (server timeout): re-watch at once, unless the server ends watches instantly
        if (events > 0 || Date.now() - startedAt >= 1000) {
          this.backoff.reset();
        } else {
          await sleepUnlessAborted(this.backoff.next(), signal);
        }
      } catch (err) {
        this.currentWatch?.close();
        this.currentWatch = undefined;
        if (signal.aborted) break;
        if (isGone(err)) {
          needList = true;
          consecutiveGone++;
          this.log.info(
            { informer: this.name, resourceVersion: this.rv },
            "watch resourceVersion too old, relisting",
          );
          // relist at once the first time; back off if the fresh list's version is gone again at once
          if (consecutiveGone > 1) await sleepUnlessAborted(this.backoff.next(), signal);
          continue;
        }
        if (events > 0) this.backoff.reset();
        const delay = this.backoff.next();
        this.log.warn(
          { informer: this.name, err: String(err), resourceVersion: this.rv, retryInMs: Math.round(delay) },
          "watch failed",
        );
        await sleepUnlessAborted(delay, signal);
      }
    }
  }

  private async listAndReplace(signal: AbortSignal): Promise<void> {
    const pageSize = this.opts.pageSize ?? 500;
    const transform = this.opts.transform;
    // transformed page by page, so only one page of whole objects is held at a time
    const itemsOf = (page: KubeList<T>): T[] =>
      transform ? fillTypeMeta(page).map(transform) : fillTypeMeta(page);
    this.counters.lists++;
    let items: T[] = [];
    let rv = "";
    let cont: string | undefined;
    do {
      let page: KubeList<T>;
      try {
        page = await this.source.list({ limit: pageSize > 0 ? pageSize : undefined, continue: cont, signal });
      } catch (err) {
        if (cont !== undefined && isGone(err)) {
          // the continue token expired mid-list: fall back to one unpaginated list
          this.log.info({ informer: this.name }, "continue token expired, listing without pagination");
          page = await this.source.list({ signal });
          items = itemsOf(page);
          rv = page.metadata?.resourceVersion ?? "";
          cont = undefined;
          break;
        }
        throw err;
      }
      items.push(...itemsOf(page));
      rv = page.metadata?.resourceVersion ?? rv;
      cont = page.metadata?.continue || undefined;
    } while (cont !== undefined && !signal.aborted);
    if (signal.aborted) return;
    this.replace(items);
    this.rv = rv;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  /** Replaces the store with a fresh list and delivers the difference. */
  private replace(items: T[]): void {
    const fresh = new Map<string, T>();
    for (const item of items) fresh.set(objectKey(item), item);
    const initial = !this.synced;
    for (const [key, old] of [...this.store]) {
      if (!fresh.has(key)) {
        this.remove(key);
        this.emitDelete(old, true);
      }
    }
    for (const [key, obj] of fresh) {
      const old = this.store.get(key);
      this.put(key, obj);
      if (!old) this.emitAdd(obj, initial);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.emitUpdate(old, obj);
    }
  }

  private apply(ev: WatchEvent<T>): void {
    if (ev.type === "ERROR") return;
    const rv = ev.object.metadata.resourceVersion;
    if (ev.type === "BOOKMARK") {
      if (rv) this.rv = rv;
      return;
    }
    const obj = this.opts.transform ? this.opts.transform(ev.object) : ev.object;
    const key = objectKey(obj);
    const old = this.store.get(key);
    if (ev.type === "DELETED") {
      if (old) {
        this.remove(key);
        this.emitDelete(obj, false);
      }
    } else {
      this.put(key, obj);
      if (old) this.emitUpdate(old, obj);
      else this.emitAdd(obj, false);
    }
    if (rv) this.rv = rv;
  }
}

// ---------------------------------------------------------------- shared factory

export interface SharedInformerFactoryOptions {
  /** default resync for informers made by this factory */
  resyncPeriodMs?: number;
  /** default namespace for informerFor (omit for all namespaces) */
  namespace?: string;
  logger?: Logger;
  /** passed through to every informer */
  informerOptions?: Omit<InformerOptions, "name" | "resyncPeriodMs" | "logger" | "transform">;
}

/**
 * One informer per (group, version, resource, namespace, labelSelector, fieldSelector), shared by
 * every controller that asks for it. Informers created after `start()` start at once.
 */
export class SharedInformerFactory {
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private started = false;

  constructor(
    private readonly client: RestClient,
    private readonly opts: SharedInformerFactoryOptions = {},
  ) {}

  informerFor<T extends KubeObject = KubeObject>(
    gvr: GroupVersionResource,
    sel: Selection = {},
  ): Informer<T> {
    const namespace = sel.namespace ?? this.opts.namespace ?? "";
    const key = [
      gvr.group,
      gvr.version,
      gvr.resource,
      namespace,
      sel.labelSelector ?? "",
      sel.fieldSelector ?? "",
    ].join("|");
    let inf = this.informers.get(key);
    if (!inf) {
      const name = `${gvr.group ? `${gvr.resource}.${gvr.group}` : gvr.resource}${namespace ? `@${namespace}` : ""}`;
      inf = new Informer<KubeObject>(listerWatcher(this.client, gvr, { ...sel, namespace }), {
        ...this.opts.informerOptions,
        name,
        resyncPeriodMs: this.opts.resyncPeriodMs,
        logger: this.opts.logger,
      });
      this.informers.set(key, inf);
      if (this.started) inf.start();
    }
    return inf as unknown as Informer<T>;
  }

  start(): void {
    this.started = true;
    for (const inf of this.informers.values()) inf.start();
  }

  /** Resolves true when every informer created so far has synced. */
  async waitForSync(signal?: AbortSignal): Promise<boolean> {
    const results = await Promise.all([...this.informers.values()].map((i) => i.waitForSync(signal)));
    return results.every(Boolean);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
  }

  get size(): number {
    return this.informers.size;
  }
}
