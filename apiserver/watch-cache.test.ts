import { afterEach, describe, expect, it } from "vitest";
import type { KubeObject } from "../api/object.js";
import { openSqliteStorage } from "./storage/sqlite.js";
import { CompactedError, type Storage, type WatchCallbacks, type WatchHandle } from "./storage/types.js";
import { type CacheEvent, WatchCache, type Watcher, type WatchItem } from "./watch-cache.js";

const P = "/registry/pods/";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pod(name: string, labels: Record<string, string> = {}, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default", labels },
    spec: { ...extra },
  });
}

/** reads a watcher without ever losing an item to a timeout */
class Reader {
  private pending: Promise<IteratorResult<WatchItem>> | undefined;
  private readonly it: AsyncIterator<WatchItem>;
  ended = false;
  constructor(readonly w: Watcher) {
    this.it = w[Symbol.asyncIterator]();
  }
  async take(n: number, ms = 3000): Promise<WatchItem[]> {
    const out: WatchItem[] = [];
    const deadline = Date.now() + ms;
    while (out.length < n && !this.ended) {
      this.pending ??= this.it.next();
      const left = deadline - Date.now();
      if (left <= 0) break;
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([
        this.pending,
        new Promise<"timeout">((res) => {
          timer = setTimeout(() => res("timeout"), left);
        }),
      ]);
      clearTimeout(timer);
      if (r === "timeout") break;
      this.pending = undefined;
      if (r.done) {
        this.ended = true;
        break;
      }
      out.push(r.value);
    }
    return out;
  }
  /** everything until the stream ends (or ms passes) */
  async rest(ms = 3000): Promise<WatchItem[]> {
    return this.take(Number.MAX_SAFE_INTEGER, ms);
  }
}

function isEvent(i: WatchItem): i is CacheEvent {
  return i.type === "ADDED" || i.type === "MODIFIED" || i.type === "DELETED";
}

const name = (i: WatchItem) => (isEvent(i) ? i.object.metadata.name : undefined);

let storages: Storage[] = [];
let caches: WatchCache[] = [];

function newStorage(): Storage {
  const s = openSqliteStorage({ file: ":memory:", compactIntervalMs: 0 });
  storages.push(s);
  return s;
}

function newCache(storage: Storage, opts: ConstructorParameters<typeof WatchCache>[2] = {}): WatchCache {
  const c = new WatchCache(storage, P, opts);
  caches.push(c);
  return c;
}

afterEach(async () => {
  for (const c of caches) c.stop();
  for (const s of storages) await s.close();
  caches = [];
  storages = [];
});

describe("WatchCache", () => {
  it("lists the current state, decodes with resourceVersion, and delivers it as initial ADDED events", async () => {
    const s = newStorage();
    const b = await s.create(`${P}default/b`, pod("b"));
    const a = await s.create(`${P}default/a`, pod("a"));
    await s.create("/registry/services/default/x", pod("not-a-pod"));
    const c = newCache(s);
    await c.start();
    expect(c.revision).toBe(await s.currentRevision());
    const snap = c.list();
    expect(snap.items.map((o) => o.metadata.name)).toEqual(["a", "b"]);
    expect(snap.items[0]!.metadata.resourceVersion).toBe(String(a.modRevision));
    expect(c.get(`${P}default/b`)?.metadata.resourceVersion).toBe(String(b.modRevision));

    const r = new Reader(c.watch({}));
    const init = await r.take(2);
    expect(init.map((i) => i.type)).toEqual(["ADDED", "ADDED"]);
    expect(init.map(name)).toEqual(["a", "b"]);
    const first = init[0] as CacheEvent;
    expect(first.revision).toBe(a.modRevision);
    expect(JSON.parse(first.json()).metadata.resourceVersion).toBe(String(a.modRevision));

    const cc = await s.create(`${P}default/c`, pod("c"));
    await s.update(`${P}default/a`, pod("a", { v: "2" }), a.modRevision);
    const del = await s.delete(`${P}default/b`);
    const live = (await r.take(3)) as CacheEvent[];
    expect(live.map((e) => [e.type, e.object.metadata.name, e.revision])).toEqual([
      ["ADDED", "c", cc.modRevision],
      ["MODIFIED", "a", cc.modRevision + 1],
      ["DELETED", "b", del.revision],
    ]);
    expect(live[1]!.prevObject?.metadata.labels).toEqual({});
    // a deleted object carries the revision of its deletion
    expect(live[2]!.object.metadata.resourceVersion).toBe(String(del.revision));
    expect(c.list().items.map((o) => o.metadata.name)).toEqual(["a", "c"]);
    expect(c.revision).toBe(del.revision);
    expect(c.watcherCount).toBe(1);
    r.w.close();
    expect(c.watcherCount).toBe(0);
    expect(await r.take(1, 200)).toEqual([]);
    expect(r.ended).toBe(true);
  });

  it("a watch opened before start() waits for the initial list", async () => {
    const s = newStorage();
    await s.create(`${P}default/a`, pod("a"));
    const c = newCache(s);
    const r = new Reader(c.watch({}));
    await c.start();
    expect((await r.take(1)).map(name)).toEqual(["a"]);
  });

  it("replays exactly the events after fromRevision, without duplicates or gaps, during concurrent writes", async () => {
    const s = newStorage();
    const keys = ["a", "b", "c", "d", "e"].map((n) => `${P}default/${n}`);
    for (const k of keys) await s.create(k, pod(k));
    const c = newCache(s, { historyCapacity: 5000 });
    await c.start();
    const base = c.revision;

    const written: number[] = [];
    const starts: { from: number; r: Reader }[] = [];
    const writer = (async () => {
      for (let i = 0; i < 400; i++) {
        const k = keys[i % keys.length]!;
        const cur = (await s.get(k))!;
        let kv: { modRevision: number };
        if (i % 37 === 36) {
          const d = await s.delete(k);
          written.push(d.revision);
          kv = await s.create(k, pod(k));
        } else {
          kv = await s.update(k, pod(k, { i: String(i) }), cur.modRevision);
        }
        written.push(kv.modRevision);
        if (i % 13 === 0) await sleep(0);
      }
    })();
    // open watchers at various points while the writer runs, from the cache's current revision or older
    for (let j = 0; j < 8; j++) {
      const from = j % 2 === 0 ? c.revision : Math.max(base, c.revision - 7);
      starts.push({ from, r: new Reader(c.watch({ fromRevision: from })) });
      await sleep(1);
    }
    starts.push({ from: base, r: new Reader(c.watch({ fromRevision: base })) });
    await writer;
    const all = [...written].sort((x, y) => x - y);
    for (const { from, r } of starts) {
      const expected = all.filter((rev) => rev > from);
      const got = (await r.take(expected.length)) as CacheEvent[];
      expect(got.map((e) => e.revision)).toEqual(expected);
      // nothing extra behind them
      expect(await r.take(1, 50)).toEqual([]);
      // the replayed objects are the same objects the live path delivered to others
      for (const e of got) expect(Number(e.object.metadata.resourceVersion)).toBe(e.revision);
    }
  });

  it("answers a fromRevision older than the window with one 410 ERROR and ends", async () => {
    const s = newStorage();
    const c = newCache(s, { historyCapacity: 5 });
    await c.start();
    const first = await s.create(`${P}default/a`, pod("a"));
    for (let i = 0; i < 20; i++) {
      const cur = (await s.get(`${P}default/a`))!;
      await s.update(`${P}default/a`, pod("a", { i: String(i) }), cur.modRevision);
    }
    await c.waitForRevision(await s.currentRevision(), 1000);
    const oldest = c.oldestResumableRevision;
    expect(oldest).toBe(c.revision - 5);
    const r = new Reader(c.watch({ fromRevision: first.modRevision }));
    const items = await r.rest();
    expect(items).toEqual([
      {
        type: "ERROR",
        code: 410,
        reason: "Expired",
        message: `too old resource version: ${first.modRevision} (${oldest})`,
      },
    ]);
    expect(r.ended).toBe(true);
    expect(c.expiredWatches).toBe(1);
    // the oldest resumable revision itself still works and replays the whole window
    const ok = new Reader(c.watch({ fromRevision: oldest }));
    expect((await ok.take(5)).map((i) => (i as CacheEvent).revision)).toEqual(
      [1, 2, 3, 4, 5].map((d) => oldest + d),
    );
  });

  it("waits for a fromRevision newer than the cache, then times out with 504", async () => {
    const s = newStorage();
    const c = newCache(s, { tooLargeRevisionWaitMs: 300 });
    await c.start();
    const now = c.revision;
    // caught up in time: only events after the requested revision
    const r = new Reader(c.watch({ fromRevision: now + 1 }));
    await sleep(20);
    await s.create(`${P}default/a`, pod("a"));
    const second = await s.create(`${P}default/b`, pod("b"));
    const got = (await r.take(1)) as CacheEvent[];
    expect(got.map((e) => [e.object.metadata.name, e.revision])).toEqual([["b", second.modRevision]]);

    const t0 = Date.now();
    const late = new Reader(c.watch({ fromRevision: c.revision + 100 }));
    const items = await late.rest();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ type: "ERROR", code: 504, reason: "Timeout" });
    expect((items[0] as { message: string }).message).toContain("Too large resource version");
    expect(late.ended).toBe(true);
  });

  it("catches up at once with a revision that writes under other prefixes produced (in-process SQLite)", async () => {
    const s = newStorage(); // progress notifications only every 5 s
    const c = newCache(s, { tooLargeRevisionWaitMs: 3000 });
    await c.start();
    await s.create("/registry/services/default/x", pod("x"));
    const other = await s.create("/registry/services/default/y", pod("y"));
    expect(c.revision).toBeLessThan(other.modRevision);
    const t0 = Date.now();
    await c.waitForRevision(other.modRevision, 3000);
    expect(Date.now() - t0).toBeLessThan(1000);
    const r = new Reader(c.watch({ fromRevision: other.modRevision }));
    const p = await s.create(`${P}default/p`, pod("p"));
    expect(((await r.take(1)) as CacheEvent[]).map((e) => e.revision)).toEqual([p.modRevision]);
  });

  it("moves objects in and out of a filtered watch as ADDED/DELETED", async () => {
    const s = newStorage();
    const a = await s.create(`${P}default/a`, pod("a", { app: "web" }));
    const b = await s.create(`${P}default/b`, pod("b", { app: "db" }));
    const c = newCache(s);
    await c.start();
    const r = new Reader(c.watch({ filter: (o) => o.metadata.labels?.app === "web" }));
    const unfiltered = new Reader(c.watch({}));
    expect((await r.take(1)).map(name)).toEqual(["a"]);

    const b2 = await s.update(`${P}default/b`, pod("b", { app: "web" }), b.modRevision); // starts matching
    const a2 = await s.update(`${P}default/a`, pod("a", { app: "db" }), a.modRevision); // stops matching
    const a3 = await s.update(`${P}default/a`, pod("a", { app: "db", x: "1" }), a2.modRevision); // still out
    const b3 = await s.update(`${P}default/b`, pod("b", { app: "web", x: "1" }), b2.modRevision); // stays in
    const bd = await s.delete(`${P}default/b`);
    await s.delete(`${P}default/a`); // deleted while out: invisible
    const c1 = await s.create(`${P}default/c`, pod("c", { app: "db" })); // created out: invisible
    const c2 = await s.update(`${P}default/c`, pod("c", { app: "web" }), c1.modRevision);

    const got = (await r.take(5)) as CacheEvent[];
    expect(got.map((e) => [e.type, e.object.metadata.name, e.revision])).toEqual([
      ["ADDED", "b", b2.modRevision],
      ["DELETED", "a", a2.modRevision],
      ["MODIFIED", "b", b3.modRevision],
      ["DELETED", "b", bd.revision],
      ["ADDED", "c", c2.modRevision],
    ]);
    // the DELETED for an object that stopped matching shows its last matching state, at the event's revision
    expect(got[1]!.object.metadata.labels).toEqual({ app: "web" });
    expect(got[1]!.object.metadata.resourceVersion).toBe(String(a2.modRevision));
    expect(JSON.parse(got[1]!.json()).metadata.resourceVersion).toBe(String(a2.modRevision));
    expect(await r.take(1, 100)).toEqual([]);
    // an unfiltered watcher of the same cache sees the plain event types
    const plain = (await unfiltered.take(10)) as CacheEvent[];
    expect(plain.slice(2).map((e) => e.type)).toEqual([
      "MODIFIED",
      "MODIFIED",
      "MODIFIED",
      "MODIFIED",
      "DELETED",
      "DELETED",
      "ADDED",
      "MODIFIED",
    ]);
    expect(a3.modRevision).toBeLessThan(b3.modRevision);
  });

  it("sends periodic bookmarks only to watchers that asked for them", async () => {
    const s = newStorage();
    const c = newCache(s, { bookmarkIntervalMs: 40 });
    await c.start();
    await s.create(`${P}default/a`, pod("a"));
    await c.waitForRevision(await s.currentRevision(), 1000);
    const withB = new Reader(c.watch({ fromRevision: c.revision, bookmarks: true }));
    const without = new Reader(c.watch({ fromRevision: c.revision }));
    const kv = await s.create(`${P}default/b`, pod("b"));
    const items = await withB.take(3, 2000);
    expect(items[0]).toMatchObject({ type: "ADDED", revision: kv.modRevision });
    expect(items[1]).toEqual({ type: "BOOKMARK", revision: kv.modRevision });
    expect(items[2]).toEqual({ type: "BOOKMARK", revision: kv.modRevision });
    const other = await without.take(5, 200);
    expect(other.map((i) => i.type)).toEqual(["ADDED"]);
  });

  it("coalesces bookmarks for a watcher that is not reading", async () => {
    const s = newStorage();
    const c = newCache(s, { bookmarkIntervalMs: 10 });
    await c.start();
    const w = c.watch({ fromRevision: c.revision, bookmarks: true });
    await sleep(150);
    expect(w.tryNext()).toEqual({ type: "BOOKMARK", revision: c.revision });
    expect(w.tryNext()).toBeUndefined();
  });

  it("ends the initial events with a BOOKMARK annotated initial-events-end", async () => {
    const s = newStorage();
    await s.create(`${P}default/a`, pod("a", { app: "web" }));
    await s.create(`${P}default/b`, pod("b", { app: "db" }));
    await s.create(`${P}default/c`, pod("c", { app: "web" }));
    const c = newCache(s);
    await c.start();
    const r = new Reader(
      c.watch({ sendInitialEvents: true, bookmarks: true, filter: (o) => o.metadata.labels?.app === "web" }),
    );
    const items = await r.take(3);
    expect(items.map((i) => i.type)).toEqual(["ADDED", "ADDED", "BOOKMARK"]);
    expect(items.slice(0, 2).map(name)).toEqual(["a", "c"]);
    expect(items[2]).toEqual({ type: "BOOKMARK", revision: c.revision, initialEventsEnd: true });
    // sendInitialEvents=false with no revision: only changes from now on
    const none = new Reader(c.watch({ sendInitialEvents: false }));
    const d = await s.create(`${P}default/d`, pod("d", { app: "web" }));
    expect(((await none.take(1)) as CacheEvent[]).map((e) => [e.type, e.revision])).toEqual([
      ["ADDED", d.modRevision],
    ]);
    // sendInitialEvents=true with a fromRevision: the state at least that fresh, then the end marker
    const fresh = new Reader(c.watch({ sendInitialEvents: true, fromRevision: d.modRevision }));
    const f = await fresh.take(5);
    expect(f.map((i) => i.type)).toEqual(["ADDED", "ADDED", "ADDED", "ADDED", "BOOKMARK"]);
  });

  it("terminates a watcher that does not read once its queue overflows; a fast one gets everything", async () => {
    const s = newStorage();
    await s.create(`${P}default/x`, pod("x"));
    const c = newCache(s, { maxPendingPerWatcher: 50 });
    await c.start();
    const slow = c.watch({}); // never read (its initial ADDED does not count against the bound)
    const fast = new Reader(c.watch({ fromRevision: c.revision }));
    const fastItems: WatchItem[] = [];
    const reading = (async () => {
      while (fastItems.length < 200) {
        const got = await fast.take(200 - fastItems.length, 5000);
        if (got.length === 0) break;
        fastItems.push(...got);
      }
    })();
    let cur = (await s.get(`${P}default/x`))!;
    const revs: number[] = [];
    for (let i = 0; i < 200; i++) {
      cur = await s.update(`${P}default/x`, pod("x", { i: String(i) }), cur.modRevision);
      revs.push(cur.modRevision);
      if (i % 10 === 9) await sleep(0);
    }
    await reading;
    expect(fastItems.map((i) => (i as CacheEvent).revision)).toEqual(revs);
    expect(slow.closed).toBe(true);
    expect(slow.terminatedReason).toBe("slow");
    expect(c.terminatedSlowWatchers).toBe(1);
    expect(c.watcherCount).toBe(1);
    // the terminated stream simply ends; its pending items were dropped
    const leftover = await new Reader(slow).rest(500);
    expect(leftover).toEqual([]);
  });

  it("fans every event out to 100 watchers, serializing each object once", async () => {
    const s = newStorage();
    const c = newCache(s);
    await c.start();
    const readers = Array.from({ length: 100 }, () => new Reader(c.watch({ fromRevision: c.revision })));
    expect(c.watcherCount).toBe(100);
    const revs: number[] = [];
    for (let i = 0; i < 100; i++) revs.push((await s.create(`${P}default/p${i}`, pod(`p${i}`))).modRevision);
    const results = await Promise.all(readers.map((r) => r.take(100)));
    for (const got of results) expect(got.map((e) => (e as CacheEvent).revision)).toEqual(revs);
    // all watchers got the very same event objects, so the JSON text is produced once per event
    for (let i = 0; i < 100; i++) {
      const ev = results[0]![i] as CacheEvent;
      for (const got of results) expect(got[i]).toBe(ev);
      expect(ev.json()).toBe(ev.json());
    }
    expect(c.eventsDispatched).toBe(100 * 100);
    expect(c.eventsReceived).toBe(100);
  });

  it("stop() ends every watcher", async () => {
    const s = newStorage();
    const c = newCache(s);
    await c.start();
    const r = new Reader(c.watch({ fromRevision: c.revision }));
    c.stop();
    expect(await r.rest(500)).toEqual([]);
    expect(r.ended).toBe(true);
    expect(r.w.terminatedReason).toBe("stopped");
  });
});

/** a storage whose watches can be cut (events lost) and then failed, as a compacted etcd watch is */
class CuttableStorage {
  private readonly watches = new Set<{ inner: WatchHandle; cb: WatchCallbacks; cut: boolean }>();
  watchCalls = 0;
  readonly storage: Storage;
  constructor(private readonly inner: Storage) {
    const self = this;
    this.storage = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === "watch") {
          return (prefix: string, after: number, cb: WatchCallbacks): WatchHandle => {
            self.watchCalls++;
            const entry = {
              cut: false,
              cb,
              inner: target.watch(prefix, after, {
                onEvents: (evs) => {
                  if (!entry.cut) cb.onEvents(evs);
                },
                onProgress: (rev) => {
                  if (!entry.cut) cb.onProgress?.(rev);
                },
                onError: (err) => {
                  if (!entry.cut) cb.onError(err);
                },
              }),
            };
            self.watches.add(entry);
            return {
              stop: () => {
                entry.inner.stop();
                self.watches.delete(entry);
              },
            };
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
  }
  /** events stop arriving (a partitioned watch stream) */
  cut(): void {
    for (const w of this.watches) w.cut = true;
  }
  /** the stream finally reports that its revision was compacted */
  async failCompacted(): Promise<void> {
    const compacted = await this.inner.compactedRevision();
    for (const w of [...this.watches]) if (w.cut) w.cb.onError(new CompactedError(0, compacted));
  }
}

describe("WatchCache relist", () => {
  it("relists after the storage watch fails with compaction; watchers that fell behind get 410", async () => {
    const base = newStorage();
    const cs = new CuttableStorage(base);
    const keyA = `${P}default/a`;
    const a = await base.create(keyA, pod("a"));
    await base.create(`${P}default/b`, pod("b"));
    const c = newCache(cs.storage, { historyCapacity: 100 });
    await c.start();
    const before = c.revision;
    const r = new Reader(c.watch({}));
    expect((await r.take(2)).map(name)).toEqual(["a", "b"]);

    cs.cut();
    await base.update(keyA, pod("a", { v: "2" }), a.modRevision); // missed by the cache
    await base.delete(`${P}default/b`); // missed
    await base.create(`${P}default/c`, pod("c")); // missed
    await base.compact(await base.currentRevision());
    expect(c.list().items.map((o) => o.metadata.name)).toEqual(["a", "b"]); // stale until the relist
    await cs.failCompacted();

    const items = await r.rest(2000);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ type: "ERROR", code: 410, reason: "Expired" });
    expect(r.ended).toBe(true);
    await c.waitForRevision(await base.currentRevision(), 2000);
    expect(c.relists).toBe(1);
    expect(cs.watchCalls).toBe(2);
    expect(c.list().items.map((o) => [o.metadata.name, o.metadata.labels])).toEqual([
      ["a", { v: "2" }],
      ["c", {}],
    ]);
    // resuming from before the relist is impossible, from the new revision it works and stays live
    const old = new Reader(c.watch({ fromRevision: before }));
    expect((await old.rest())[0]).toMatchObject({ type: "ERROR", code: 410 });
    const fresh = new Reader(c.watch({ fromRevision: c.revision }));
    const d = await base.create(`${P}default/d`, pod("d"));
    expect(((await fresh.take(1)) as CacheEvent[]).map((e) => [e.type, e.revision])).toEqual([
      ["ADDED", d.modRevision],
    ]);
    const init = new Reader(c.watch({}));
    expect((await init.take(3)).map(name)).toEqual(["a", "c", "d"]);
  });

  it("keeps watchers when the relist finds that nothing under the prefix changed", async () => {
    const base = newStorage();
    const cs = new CuttableStorage(base);
    await base.create(`${P}default/a`, pod("a"));
    const c = newCache(cs.storage);
    await c.start();
    const r = new Reader(c.watch({ fromRevision: c.revision }));
    cs.cut();
    await base.create("/registry/services/default/s", pod("s")); // another prefix
    await base.compact(await base.currentRevision());
    await cs.failCompacted();
    await c.waitForRevision(await base.currentRevision(), 2000);
    expect(c.relists).toBe(1);
    const e = await base.create(`${P}default/e`, pod("e"));
    const got = (await r.take(1)) as CacheEvent[];
    expect(got.map((x) => [x.type, x.revision])).toEqual([["ADDED", e.modRevision]]);
    expect(c.expiredWatches).toBe(0);
  });
});

describe("WatchCache decode", () => {
  it("uses a custom decoder", async () => {
    const s = newStorage();
    await s.create(`${P}default/a`, pod("a"));
    const c = newCache(s, {
      decode: (kv) => ({ ...(JSON.parse(kv.value) as KubeObject), decoded: true }),
    });
    await c.start();
    expect(c.list().items[0]).toMatchObject({ decoded: true });
  });
});
