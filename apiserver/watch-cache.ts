/**
 * The apiserver's watch cache (the counterpart of kube-apiserver's cacher): one storage watch per
 * resource prefix keeps an in-memory index of the current objects plus a bounded window of recent
 * events, and fans every event out to all watchers of that resource.
 *
 * - Each event's object is decoded once and its JSON text is produced at most once (memoized), no
 *   matter how many watchers receive it; fan-out is O(watchers) per event.
 * - Every watcher owns a bounded queue of pending live events. A watcher whose consumer does not keep
 *   up is terminated (its stream simply ends, as upstream does): the client re-watches from the last
 *   resourceVersion it saw, which is cheap while that revision is still in the event window, and the
 *   other watchers are never slowed down.
 * - Initial state (synthetic ADDED events) and replays from the window are handed to a watcher as a
 *   snapshot array that does not count against its queue bound.
 *
 * Objects handed out (list, get, events) are shared between all readers and must be treated as
 * immutable.
 */

import type { KubeObject } from "../api/object.js";
import {
  CompactedError,
  type KeyValue,
  type Storage,
  type WatchEvent,
  type WatchHandle,
} from "./storage/types.js";

export interface CacheEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  key: string;
  object: KubeObject;
  prevObject?: KubeObject;
  revision: number;
  /** JSON text of object, computed once and cached */
  json(): string;
}

export interface WatchOptions {
  /**
   * undefined or 0: first the current state as synthetic ADDED events (filtered), then changes.
   * N: only events with revision > N (no synthetic ADDs). N older than the window: the watcher yields
   * one ERROR (410 Expired) and ends. N newer than the cache: wait up to 3 s for the cache to catch
   * up, then one ERROR (504 Timeout, "Too large resource version").
   */
  fromRevision?: number;
  /**
   * object filter (namespace, label and field selectors). An object that stops matching is
   * delivered as DELETED (its last matching state at the event's revision), one that starts matching
   * as ADDED, like upstream.
   */
  filter?: (obj: KubeObject) => boolean;
  /** periodic BOOKMARK carrying the cache's current revision */
  bookmarks?: boolean;
  /**
   * true: synthetic ADDED events for the current state (also with a fromRevision, which then only
   * sets how fresh that state must be), followed by a BOOKMARK with initialEventsEnd.
   * false: never synthetic ADDED events (with no fromRevision the watch starts at the current revision).
   * undefined: decided by fromRevision as described there.
   */
  sendInitialEvents?: boolean;
}

export type BookmarkItem = { type: "BOOKMARK"; revision: number; initialEventsEnd?: boolean };
export type ErrorItem = { type: "ERROR"; code: number; reason: string; message: string };
export type WatchItem = CacheEvent | BookmarkItem | ErrorItem;

export interface Watcher extends AsyncIterable<WatchItem> {
  /** stop the watch; iteration ends (pending items are dropped) */
  close(): void;
  readonly closed: boolean;
  /** why the cache ended this watch, if it did: "slow" (queue overflow), "expired", "timeout", "stopped" */
  readonly terminatedReason: string | undefined;
  /** an item that is ready right now, without waiting (lets a writer batch several into one write) */
  tryNext(): WatchItem | undefined;
}

export interface WatchCacheLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface WatchCacheOptions {
  /** events kept for resuming watches (default 1000) */
  historyCapacity?: number;
  /** interval between bookmarks for watchers that asked for them (default 60000) */
  bookmarkIntervalMs?: number;
  /** live events queued for one watcher before it is terminated as too slow (default 10000) */
  maxPendingPerWatcher?: number;
  /** how long a watch from a future revision waits for the cache (default 3000) */
  tooLargeRevisionWaitMs?: number;
  decode?: (kv: KeyValue) => KubeObject;
  logger?: WatchCacheLogger;
}

/** parses the stored JSON and sets metadata.resourceVersion to the key's modRevision */
export function defaultDecode(kv: KeyValue): KubeObject {
  const obj = JSON.parse(kv.value) as KubeObject;
  if (typeof obj.metadata !== "object" || obj.metadata === null) obj.metadata = {};
  obj.metadata.resourceVersion = String(kv.modRevision);
  return obj;
}

/** one object as the cache holds it, with its JSON memoized */
class Entry {
  private text: string | undefined;
  private added: CacheEvent | undefined;
  constructor(
    readonly key: string,
    readonly object: KubeObject,
    readonly revision: number,
  ) {}
  json(): string {
    if (this.text === undefined) this.text = JSON.stringify(this.object);
    return this.text;
  }
  /** the synthetic ADDED event used for initial state (shared by all watchers) */
  addedEvent(): CacheEvent {
    if (!this.added) this.added = new Event("ADDED", this.key, this, undefined, this.revision);
    return this.added;
  }
}

class Event implements CacheEvent {
  readonly object: KubeObject;
  readonly prevObject?: KubeObject;
  private variants: Map<string, CacheEvent> | undefined;
  constructor(
    readonly type: "ADDED" | "MODIFIED" | "DELETED",
    readonly key: string,
    readonly entry: Entry,
    readonly prevEntry: Entry | undefined,
    readonly revision: number,
  ) {
    this.object = entry.object;
    if (prevEntry) this.prevObject = prevEntry.object;
  }
  json(): string {
    return this.entry.json();
  }
  /**
   * the event as seen by a watcher whose filter matches differently than the event's type implies:
   * ADDED (object started matching) or DELETED (stopped matching: the previous state at this revision)
   */
  variant(type: "ADDED" | "DELETED"): CacheEvent {
    this.variants ??= new Map();
    let v = this.variants.get(type);
    if (!v) {
      if (type === "ADDED") {
        v = new Event("ADDED", this.key, this.entry, this.prevEntry, this.revision);
      } else {
        const prev = this.prevEntry!;
        v = new Event("DELETED", this.key, withRevision(prev, this.revision), prev, this.revision);
      }
      this.variants.set(type, v);
    }
    return v;
  }
}

/** a shallow copy of the entry's object whose resourceVersion is rev */
function withRevision(e: Entry, rev: number): Entry {
  const obj: KubeObject = { ...e.object, metadata: { ...e.object.metadata, resourceVersion: String(rev) } };
  return new Entry(e.key, obj, rev);
}

function safeMatch(filter: (obj: KubeObject) => boolean, obj: KubeObject): boolean {
  try {
    return filter(obj);
  } catch {
    return false;
  }
}

/** how an event looks to a watcher with this filter, or undefined when it should not see it */
function project(ev: Event, filter: ((obj: KubeObject) => boolean) | undefined): CacheEvent | undefined {
  if (!filter) return ev;
  if (ev.type === "DELETED") return safeMatch(filter, ev.prevEntry!.object) ? ev : undefined;
  const cur = safeMatch(filter, ev.object);
  const prev = ev.prevEntry ? safeMatch(filter, ev.prevEntry.object) : false;
  if (cur) return prev || ev.type === "ADDED" ? ev : ev.variant("ADDED");
  return prev ? ev.variant("DELETED") : undefined;
}

const DEFAULT_HISTORY = 1000;
const DEFAULT_BOOKMARK_MS = 60_000;
const DEFAULT_MAX_PENDING = 10_000;
const DEFAULT_TOO_LARGE_WAIT_MS = 3000;

class CacheWatcher implements Watcher {
  /** snapshot items (initial state or replay) consumed before the live queue; not bounded */
  private initial: WatchItem[] = [];
  private initialPos = 0;
  /** live items; a ring would save the occasional compaction, an array with a head index is enough */
  private queue: WatchItem[] = [];
  private head = 0;
  private waiter: (() => void) | undefined;
  private done = false;
  /** set when the cache ends the watch with a final item the consumer must still receive */
  private finalItem: ErrorItem | undefined;
  terminatedReason: string | undefined;
  /** registered with the cache (receives live events) */
  active = false;

  constructor(
    private readonly cache: WatchCache,
    readonly filter: ((obj: KubeObject) => boolean) | undefined,
    readonly bookmarks: boolean,
  ) {}

  get closed(): boolean {
    return this.done;
  }

  get pending(): number {
    return this.queue.length - this.head;
  }

  setInitial(items: WatchItem[]): void {
    this.initial = items;
    this.initialPos = 0;
    this.wake();
  }

  push(item: WatchItem): void {
    if (this.done) return;
    this.queue.push(item);
    this.wake();
  }

  pushBookmark(revision: number): void {
    if (this.done) return;
    // coalesce with a bookmark that is still waiting at the tail
    const last = this.queue.length > this.head ? this.queue[this.queue.length - 1] : undefined;
    if (last && last.type === "BOOKMARK" && !last.initialEventsEnd) {
      this.queue[this.queue.length - 1] = { type: "BOOKMARK", revision };
      return;
    }
    this.push({ type: "BOOKMARK", revision });
  }

  /** the cache ends this watch; with an error item, it is delivered after what was already queued */
  terminate(reason: string, error?: ErrorItem, dropPending = false): void {
    if (this.done) return;
    this.terminatedReason = reason;
    if (dropPending) {
      this.queue = [];
      this.head = 0;
      this.initial = [];
      this.initialPos = 0;
    }
    this.finalItem = error;
    this.done = true;
    this.cache.unregister(this);
    this.wake();
  }

  close(): void {
    if (this.done && !this.finalItem && this.pending === 0) return;
    this.done = true;
    this.finalItem = undefined;
    this.queue = [];
    this.head = 0;
    this.initial = [];
    this.initialPos = 0;
    this.cache.unregister(this);
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w();
    }
  }

  tryNext(): WatchItem | undefined {
    if (this.initialPos < this.initial.length) {
      const item = this.initial[this.initialPos]!;
      this.initial[this.initialPos++] = undefined as unknown as WatchItem;
      if (this.initialPos === this.initial.length) {
        this.initial = [];
        this.initialPos = 0;
      }
      return item;
    }
    if (this.head < this.queue.length) {
      const item = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as WatchItem;
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      return item;
    }
    if (this.finalItem) {
      const f = this.finalItem;
      this.finalItem = undefined;
      return f;
    }
    return undefined;
  }

  async next(): Promise<IteratorResult<WatchItem>> {
    for (;;) {
      const item = this.tryNext();
      if (item) return { value: item, done: false };
      if (this.done) return { value: undefined, done: true };
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchItem> {
    return {
      next: () => this.next(),
      return: async () => {
        this.close();
        return { value: undefined, done: true };
      },
    };
  }
}

export class WatchCache {
  private readonly historyCapacity: number;
  private readonly bookmarkIntervalMs: number;
  readonly maxPendingPerWatcher: number;
  private readonly tooLargeWaitMs: number;
  private readonly decode: (kv: KeyValue) => KubeObject;
  private readonly logger: WatchCacheLogger | undefined;

  private readonly index = new Map<string, Entry>();
  private sortedKeys: string[] | undefined;
  /** ring buffer of the most recent events, oldest first from histStart */
  private readonly history: (Event | undefined)[];
  private histStart = 0;
  private histLen = 0;
  /** events with revision > oldestRevision are all in the window */
  private oldestRevision = 0;
  private rev = 0;

  private readonly watchers = new Set<CacheWatcher>();
  private revWaiters: {
    rev: number;
    resolve: () => void;
    reject: (e: Error) => void;
    timer: NodeJS.Timeout;
  }[] = [];
  private handle: WatchHandle | undefined;
  private bookmarkTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private started: Promise<void> | undefined;
  private synced = false;
  private syncedWaiters: (() => void)[] = [];
  private relisting = false;

  // metrics, plain counters
  /** storage events applied to the cache */
  eventsReceived = 0;
  /** event deliveries to watchers (one per watcher that got the event) */
  eventsDispatched = 0;
  /** watchers ended because their queue overflowed */
  terminatedSlowWatchers = 0;
  /** watches answered with 410 (too old, or fell behind a relist) */
  expiredWatches = 0;
  /** relists after a storage watch error */
  relists = 0;
  /** watchers ever started */
  watchersStarted = 0;

  constructor(
    private readonly storage: Storage,
    readonly prefix: string,
    opts: WatchCacheOptions = {},
  ) {
    this.historyCapacity = Math.max(1, opts.historyCapacity ?? DEFAULT_HISTORY);
    this.bookmarkIntervalMs = opts.bookmarkIntervalMs ?? DEFAULT_BOOKMARK_MS;
    this.maxPendingPerWatcher = Math.max(1, opts.maxPendingPerWatcher ?? DEFAULT_MAX_PENDING);
    this.tooLargeWaitMs = opts.tooLargeRevisionWaitMs ?? DEFAULT_TOO_LARGE_WAIT_MS;
    this.decode = opts.decode ?? defaultDecode;
    this.logger = opts.logger;
    this.history = new Array(this.historyCapacity);
  }

  /** list + watch; resolves once the cache holds the state at the list revision */
  start(): Promise<void> {
    this.started ??= this.initialSync();
    return this.started;
  }

  private async initialSync(): Promise<void> {
    const res = await this.storage.list(this.prefix);
    if (this.stopped) return;
    this.replaceAll(res.items, res.revision);
    this.oldestRevision = res.revision;
    this.startWatch(res.revision);
    this.synced = true;
    for (const w of this.syncedWaiters.splice(0)) w();
    this.advance(this.rev);
    if (this.bookmarkIntervalMs > 0) {
      this.bookmarkTimer = setInterval(() => this.sendBookmarks(), this.bookmarkIntervalMs);
      this.bookmarkTimer.unref();
    }
  }

  /** the revision the cache is current at */
  get revision(): number {
    return this.rev;
  }

  /** oldest revision a watch can resume from */
  get oldestResumableRevision(): number {
    return this.oldestRevision;
  }

  get watcherCount(): number {
    return this.watchers.size;
  }

  get size(): number {
    return this.index.size;
  }

  get isSynced(): boolean {
    return this.synced;
  }

  /** snapshot of the current objects in key order */
  list(): { items: KubeObject[]; revision: number } {
    return { items: this.sortedEntries().map((e) => e.object), revision: this.rev };
  }

  /** snapshot entries with memoized JSON, in key order (for writers that want the text) */
  listEntries(): {
    items: { key: string; object: KubeObject; revision: number; json(): string }[];
    revision: number;
  } {
    return { items: this.sortedEntries(), revision: this.rev };
  }

  get(key: string): KubeObject | undefined {
    return this.index.get(key)?.object;
  }

  private sortedEntries(): Entry[] {
    // the key order only changes when keys come or go, so it is cached between those
    if (!this.sortedKeys) {
      this.sortedKeys = [...this.index.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    }
    return this.sortedKeys.map((k) => this.index.get(k)!);
  }

  /** resolves once the cache has seen revision rev (events or progress), rejects after timeoutMs */
  waitForRevision(rev: number, timeoutMs: number): Promise<void> {
    if (this.rev >= rev && this.synced) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        rev,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.revWaiters = this.revWaiters.filter((w) => w !== waiter);
          reject(new Error(`timed out waiting for revision ${rev} (cache at ${this.rev})`));
        }, timeoutMs),
      };
      this.revWaiters.push(waiter);
      void this.catchUpInProcess();
    });
  }

  /**
   * The global revision also moves with writes under other prefixes, which this cache never hears
   * about until a progress notification. The in-process SQLite store queues each event at commit
   * and delivers it in a microtask, so once currentRevision() has resolved (plus one macrotask),
   * every event up to that revision has reached this cache and the cache is current at it.
   * Other backends rely on progress notifications.
   */
  private async catchUpInProcess(): Promise<void> {
    if (this.storage.name !== "sqlite" || !this.synced || !this.handle || this.relisting) return;
    const handle = this.handle;
    let cur: number;
    try {
      cur = await this.storage.currentRevision();
    } catch {
      return;
    }
    await new Promise((r) => setImmediate(r));
    if (this.handle !== handle || this.relisting || this.stopped) return;
    this.advance(cur);
  }

  private advance(rev: number): void {
    if (rev > this.rev) this.rev = rev;
    if (this.revWaiters.length === 0 || !this.synced) return;
    const keep: typeof this.revWaiters = [];
    for (const w of this.revWaiters) {
      if (w.rev <= this.rev) {
        clearTimeout(w.timer);
        w.resolve();
      } else keep.push(w);
    }
    this.revWaiters = keep;
  }

  private whenSynced(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncedWaiters.push(resolve));
  }

  watch(opts: WatchOptions = {}): Watcher {
    const w = new CacheWatcher(this, opts.filter, opts.bookmarks === true);
    this.watchersStarted++;
    if (this.stopped) {
      w.terminate("stopped");
      return w;
    }
    // register synchronously when possible so no event can slip between snapshot and registration
    if (this.synced && (opts.fromRevision === undefined || opts.fromRevision <= this.rev)) {
      this.begin(w, opts);
    } else {
      void this.beginLater(w, opts);
    }
    return w;
  }

  private async beginLater(w: CacheWatcher, opts: WatchOptions): Promise<void> {
    await this.whenSynced();
    if (w.closed) return;
    const from = opts.fromRevision ?? 0;
    if (from > this.rev) {
      try {
        await this.waitForRevision(from, this.tooLargeWaitMs);
      } catch {
        if (w.closed) return;
        w.terminate("timeout", {
          type: "ERROR",
          code: 504,
          reason: "Timeout",
          message: `Too large resource version: ${from}, current: ${this.rev}`,
        });
        return;
      }
    }
    if (w.closed || this.stopped) return;
    this.begin(w, opts);
  }

  /** synchronous: snapshot or replay, then registration for live events */
  private begin(w: CacheWatcher, opts: WatchOptions): void {
    const from = opts.fromRevision ?? 0;
    const initialState = opts.sendInitialEvents ?? from === 0;
    const items: WatchItem[] = [];
    if (initialState) {
      for (const e of this.sortedEntries()) {
        if (!w.filter || safeMatch(w.filter, e.object)) items.push(e.addedEvent());
      }
      if (opts.sendInitialEvents)
        items.push({ type: "BOOKMARK", revision: this.rev, initialEventsEnd: true });
    } else if (from > 0) {
      if (from < this.oldestRevision) {
        this.expiredWatches++;
        w.terminate("expired", this.tooOld(from));
        return;
      }
      for (const ev of this.eventsAfter(from)) {
        const p = project(ev, w.filter);
        if (p) items.push(p);
      }
    }
    w.setInitial(items);
    w.active = true;
    this.watchers.add(w);
  }

  private tooOld(from: number): ErrorItem {
    return {
      type: "ERROR",
      code: 410,
      reason: "Expired",
      message: `too old resource version: ${from} (${this.oldestRevision})`,
    };
  }

  /** events in the window with revision > rev */
  private eventsAfter(rev: number): Event[] {
    // binary search for the first event with revision > rev
    let lo = 0;
    let hi = this.histLen;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.histAt(mid).revision <= rev) lo = mid + 1;
      else hi = mid;
    }
    const out: Event[] = [];
    for (let i = lo; i < this.histLen; i++) out.push(this.histAt(i));
    return out;
  }

  private histAt(i: number): Event {
    return this.history[(this.histStart + i) % this.historyCapacity]!;
  }

  private record(ev: Event): void {
    if (this.histLen === this.historyCapacity) {
      const evicted = this.history[this.histStart]!;
      this.oldestRevision = evicted.revision;
      this.history[this.histStart] = ev;
      this.histStart = (this.histStart + 1) % this.historyCapacity;
    } else {
      this.history[(this.histStart + this.histLen) % this.historyCapacity] = ev;
      this.histLen++;
    }
  }

  /** @internal */
  unregister(w: CacheWatcher): void {
    this.watchers.delete(w);
  }

  private startWatch(afterRevision: number): void {
    this.handle = this.storage.watch(this.prefix, afterRevision, {
      onEvents: (events) => this.onEvents(events),
      onProgress: (rev) => {
        if (!this.relisting) this.advance(rev);
      },
      onError: (err) => this.onWatchError(err),
    });
  }

  private onEvents(events: WatchEvent[]): void {
    if (this.stopped || this.relisting) return;
    for (const e of events) {
      if (e.revision <= this.rev) continue; // already seen (duplicate after a re-watch)
      let ev: Event;
      if (e.type === "put") {
        const prev = this.index.get(e.kv.key);
        let obj: KubeObject;
        try {
          obj = this.decode(e.kv);
        } catch (err) {
          this.logger?.warn(
            { key: e.kv.key, err: String(err) },
            "watch cache: cannot decode object, skipping",
          );
          this.advance(e.revision);
          continue;
        }
        const entry = new Entry(e.kv.key, obj, e.kv.modRevision);
        if (!prev) this.sortedKeys = undefined;
        this.index.set(e.kv.key, entry);
        ev = new Event(prev ? "MODIFIED" : "ADDED", e.kv.key, entry, prev, e.revision);
      } else {
        let prev = this.index.get(e.key);
        if (!prev) {
          try {
            prev = new Entry(e.key, this.decode(e.prev), e.prev.modRevision);
          } catch {
            this.advance(e.revision);
            continue;
          }
        }
        if (this.index.delete(e.key)) this.sortedKeys = undefined;
        ev = new Event("DELETED", e.key, withRevision(prev, e.revision), prev, e.revision);
      }
      this.eventsReceived++;
      this.record(ev);
      this.rev = e.revision;
      this.dispatch(ev);
    }
    this.advance(this.rev);
  }

  private dispatch(ev: Event): void {
    const max = this.maxPendingPerWatcher;
    for (const w of this.watchers) {
      const p = project(ev, w.filter);
      if (!p) continue;
      if (w.pending >= max) {
        this.terminatedSlowWatchers++;
        this.logger?.warn(
          { prefix: this.prefix, pending: w.pending },
          "watch cache: terminating unresponsive watcher",
        );
        w.terminate("slow", undefined, true);
        continue;
      }
      w.push(p);
      this.eventsDispatched++;
    }
  }

  private sendBookmarks(): void {
    if (this.stopped || this.relisting) return;
    for (const w of this.watchers) if (w.bookmarks) w.pushBookmark(this.rev);
  }

  private onWatchError(err: Error): void {
    if (this.stopped || this.relisting) return;
    this.logger?.warn(
      { prefix: this.prefix, err: err.message, compacted: err instanceof CompactedError },
      "watch cache: storage watch ended, relisting",
    );
    this.handle?.stop();
    this.handle = undefined;
    this.relisting = true;
    void this.relist();
  }

  private async relist(): Promise<void> {
    let delay = 100;
    while (!this.stopped) {
      try {
        const res = await this.storage.list(this.prefix);
        if (this.stopped) return;
        this.relists++;
        this.applyRelist(res.items, res.revision);
        this.relisting = false;
        this.startWatch(res.revision);
        this.advance(this.rev);
        return;
      } catch (err) {
        this.logger?.warn({ prefix: this.prefix, err: String(err) }, "watch cache: relist failed, retrying");
        await new Promise((r) => setTimeout(r, delay).unref());
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  /**
   * After a relist: when nothing under the prefix changed the window is still exact and watchers
   * carry on; otherwise the missed changes cannot be replayed with their revisions, so the window
   * restarts at the list revision and every watcher gets a 410 so its client relists.
   */
  private applyRelist(items: KeyValue[], revision: number): void {
    let changed = items.length !== this.index.size;
    if (!changed) {
      for (const kv of items) {
        const cur = this.index.get(kv.key);
        if (!cur || cur.revision !== kv.modRevision) {
          changed = true;
          break;
        }
      }
    }
    if (!changed) {
      this.rev = Math.max(this.rev, revision);
      return;
    }
    this.replaceAll(items, revision);
    this.history.fill(undefined);
    this.histStart = 0;
    this.histLen = 0;
    this.oldestRevision = revision;
    for (const w of [...this.watchers]) {
      this.expiredWatches++;
      w.terminate("expired", {
        type: "ERROR",
        code: 410,
        reason: "Expired",
        message: `too old resource version: the watch cache was reinitialized at ${revision}, relist`,
      });
    }
  }

  private replaceAll(items: KeyValue[], revision: number): void {
    this.index.clear();
    this.sortedKeys = undefined;
    for (const kv of items) {
      try {
        this.index.set(kv.key, new Entry(kv.key, this.decode(kv), kv.modRevision));
      } catch (err) {
        this.logger?.warn({ key: kv.key, err: String(err) }, "watch cache: cannot decode object, skipping");
      }
    }
    this.rev = Math.max(this.rev, revision);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.handle?.stop();
    this.handle = undefined;
    if (this.bookmarkTimer) clearInterval(this.bookmarkTimer);
    for (const w of [...this.watchers]) w.terminate("stopped");
    for (const wt of this.revWaiters) {
      clearTimeout(wt.timer);
      wt.reject(new Error("watch cache stopped"));
    }
    this.revWaiters = [];
  }
}
