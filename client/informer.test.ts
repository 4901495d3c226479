/**
 * Informer tests against the PROTOCOL FAKE in test/helpers/client-protocol-fake.ts (a minimal
 * in-memory list/watch server for one resource), through the real RestClient over HTTP.
 */
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from "vitest";
import type { KubeObject } from "../api/object.js";
import { type ProtocolFake, startProtocolFake } from "../test/helpers/client-protocol-fake.js";
import {
  Informer,
  type InformerOptions,
  listerWatcher,
  NAMESPACE_INDEX,
  objectKey,
  SharedInformerFactory,
  splitKey,
} from "./informer.js";
import { RestClient } from "./rest.js";

const GVR = { group: "", version: "v1", resource: "configmaps" };
const fast: InformerOptions = { backoff: { initialMs: 10, maxMs: 40, jitter: 0 }, pageSize: 2 };

async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

type Ev = [string, string, ...unknown[]];

function recorder(inf: Informer<KubeObject>) {
  const events: Ev[] = [];
  inf.addEventHandler({
    onAdd: (o, initial) => events.push(["add", objectKey(o), initial]),
    onUpdate: (a, b) =>
      events.push(["update", objectKey(b), a.metadata.resourceVersion, b.metadata.resourceVersion]),
    onDelete: (o, unknown) => events.push(["delete", objectKey(o), unknown]),
  });
  return events;
}

let fake: ProtocolFake;
let client: RestClient;
const informers: Informer<KubeObject>[] = [];

function newInformer(opts: InformerOptions = {}, sel = {}): Informer<KubeObject> {
  const inf = new Informer<KubeObject>(listerWatcher(client, GVR, sel), { ...fast, ...opts });
  informers.push(inf);
  return inf;
}

const watchRequests = () => fake.requests.filter((r) => r.query.get("watch") === "true");
const listRequests = () => fake.requests.filter((r) => r.method === "GET" && r.query.get("watch") !== "true");

beforeEach(async () => {
  fake = await startProtocolFake({
    group: "",
    version: "v1",
    resource: "configmaps",
    kind: "ConfigMap",
    namespaced: true,
  });
  client = new RestClient(
    { server: fake.url, insecureSkipTLSVerify: false, namespace: "default" },
    { component: "informer-test" },
  );
});

afterEach(async () => {
  await Promise.all(informers.splice(0).map((i) => i.stop()));
  await client.close();
  await fake.close();
});

function seed(n: number, ns = "a") {
  for (let i = 0; i < n; i++)
    fake.upsert({ metadata: { name: `cm${i}`, namespace: ns, labels: { idx: String(i % 2) } } });
}

describe("Informer", () => {
  it("lists page by page, syncs, then watches from the list's resourceVersion with bookmarks", async () => {
    seed(5);
    const listRv = fake.currentRv;
    const inf = newInformer({ watchTimeoutSeconds: { min: 300, max: 600 } });
    const events = recorder(inf);
    expect(inf.hasSynced()).toBe(false);
    inf.start();
    expect(await inf.waitForSync()).toBe(true);
    expect(inf.hasSynced()).toBe(true);
    expect(events).toEqual([0, 1, 2, 3, 4].map((i) => ["add", `a/cm${i}`, true]));
    const lists = listRequests();
    expect(lists).toHaveLength(3);
    expect(lists.map((r) => r.query.get("limit"))).toEqual(["2", "2", "2"]);
    expect(lists[0]!.query.get("continue")).toBeNull();
    expect(lists[1]!.query.get("continue")).toBeTruthy();
    await fake.waitForWatches(1);
    const w = watchRequests()[0]!;
    expect(w.query.get("resourceVersion")).toBe(String(listRv));
    expect(w.query.get("allowWatchBookmarks")).toBe("true");
    const t = Number(w.query.get("timeoutSeconds"));
    expect(t).toBeGreaterThanOrEqual(300);
    expect(t).toBeLessThanOrEqual(600);
    expect(w.headers["user-agent"]).toBe("kubeplane/informer-test");
    // list items get kind/apiVersion filled in from the list
    expect(inf.get("a/cm0")).toMatchObject({ kind: "ConfigMap", apiVersion: "v1" });
  });

  it("delivers watch events to handlers, store and indexes", async () => {
    seed(2);
    const inf = newInformer();
    inf.addIndexer("byLabel", (o) => [o.metadata.labels?.idx ?? "none"]);
    const events = recorder(inf);
    inf.start();
    await inf.waitForSync();
    await fake.waitForWatches(1);
    events.length = 0;
    const rv0 = inf.get("a/cm0")!.metadata.resourceVersion;
    fake.upsert({ metadata: { name: "new", namespace: "b", labels: { idx: "1" } } });
    fake.upsert({ metadata: { name: "cm0", namespace: "a", labels: { idx: "1" } } });
    fake.remove("a", "cm1");
    await until(() => events.length === 3, "3 events");
    expect(events[0]).toEqual(["add", "b/new", false]);
    expect(events[1]).toEqual(["update", "a/cm0", rv0, String(fake.currentRv - 1)]);
    expect(events[2]).toEqual(["delete", "a/cm1", false]);
    expect(inf.keys().sort()).toEqual(["a/cm0", "b/new"]);
    expect(inf.listByNamespace("a").map(objectKey)).toEqual(["a/cm0"]);
    expect(inf.byIndex(NAMESPACE_INDEX, "b").map(objectKey)).toEqual(["b/new"]);
    expect(inf.byIndex("byLabel", "1").map(objectKey).sort()).toEqual(["a/cm0", "b/new"]);
    expect(inf.byIndex("byLabel", "0")).toEqual([]); // cm0 moved from 0 to 1, cm1 deleted
    expect(inf.indexValues("byLabel")).toEqual(["1"]);
    expect(inf.lastSyncResourceVersion).toBe(String(fake.currentRv));
    expect(inf.getByName("new", "b")?.metadata.name).toBe("new");
    expect(() => inf.byIndex("nope", "x")).toThrow(/no indexer/);
  });

  it("applies the transform to listed and watched objects before storing, indexing and delivering them", async () => {
    fake.upsert({
      metadata: { name: "cm0", namespace: "a", labels: { idx: "0" } },
      data: { big: "x".repeat(100) },
    });
    const seen: KubeObject[] = [];
    const inf = newInformer({
      transform: (o) => {
        seen.push(o);
        return {
          metadata: {
            name: o.metadata.name,
            namespace: o.metadata.namespace,
            resourceVersion: o.metadata.resourceVersion,
            labels: o.metadata.labels,
          },
        };
      },
    });
    inf.addIndexer("byLabel", (o) => [o.metadata.labels?.idx ?? "none"]);
    const got: KubeObject[] = [];
    inf.addEventHandler({
      onAdd: (o) => got.push(o),
      onUpdate: (_, o) => got.push(o),
      onDelete: (o) => got.push(o),
    });
    inf.start();
    await inf.waitForSync();
    await fake.waitForWatches(1);
    fake.upsert({ metadata: { name: "cm1", namespace: "a", labels: { idx: "1" } }, data: { big: "y" } });
    fake.upsert({ metadata: { name: "cm0", namespace: "a", labels: { idx: "1" } }, data: { big: "z" } });
    fake.remove("a", "cm1");
    await until(() => got.length === 4, "4 events");
    expect(seen.map((o) => (o as { data?: { big?: string } }).data?.big?.[0])).toEqual(["x", "y", "z", "y"]);
    for (const o of got) expect(Object.keys(o)).toEqual(["metadata"]);
    expect(inf.get("a/cm0")).toEqual({
      metadata: { name: "cm0", namespace: "a", resourceVersion: expect.any(String), labels: { idx: "1" } },
    });
    expect(inf.byIndex("byLabel", "1").map(objectKey)).toEqual(["a/cm0"]);
    expect(inf.keys()).toEqual(["a/cm0"]);
  });

  it("re-watches from the last bookmark after a stream ends cleanly, without relisting", async () => {
    seed(1);
    const inf = newInformer();
    inf.start();
    await inf.waitForSync();
    await fake.waitForWatches(1);
    fake.silently(() => fake.upsert({ metadata: { name: "unseen", namespace: "z" } }));
    fake.bookmark();
    const bookmarkRv = String(fake.currentRv);
    await until(() => inf.lastSyncResourceVersion === bookmarkRv, "bookmark applied");
    for (const w of [...fake.watches]) w.res.end(); // server-side clean end (like timeoutSeconds)
    await until(() => watchRequests().length === 2, "second watch");
    expect(watchRequests()[1]!.query.get("resourceVersion")).toBe(bookmarkRv);
    expect(inf.stats.lists).toBe(1);
    // the object changed before the bookmark was never delivered: bookmarks only move the RV
    expect(inf.get("z/unseen")).toBeUndefined();
  });

  it("server-side timeoutSeconds ends the watch and the informer re-watches", async () => {
    seed(1);
    const inf = newInformer({ watchTimeoutSeconds: { min: 1, max: 1 } });
    inf.start();
    await inf.waitForSync();
    await until(() => watchRequests().length >= 2, "re-watch after timeout", 4000);
    expect(watchRequests().every((r) => r.query.get("timeoutSeconds") === "1")).toBe(true);
    expect(inf.stats.lists).toBe(1);
  });

  it("recovers from a stream cut mid-line by re-watching from the last resourceVersion; missed events arrive", async () => {
    seed(2);
    const inf = newInformer();
    const events = recorder(inf);
    inf.start();
    await inf.waitForSync();
    await fake.waitForWatches(1);
    fake.upsert({ metadata: { name: "seen", namespace: "a" } });
    await until(() => inf.get("a/seen") !== undefined, "seen");
    const lastRv = inf.lastSyncResourceVersion;
    fake.cutWatches(true);
    fake.upsert({ metadata: { name: "while-down", namespace: "a" } });
    await until(() => inf.get("a/while-down") !== undefined, "missed event replayed");
    const rewatch = watchRequests()[1]!;
    expect(rewatch.query.get("resourceVersion")).toBe(lastRv);
    expect(inf.stats.lists).toBe(1);
    expect(events.filter((e) => e[1] === "a/while-down")).toEqual([["add", "a/while-down", false]]);
  });

  it.each(["event", "http"] as const)(
    "relists on 410 (%s) and diffs the store: deletes with the last known object, updates, adds",
    async (mode) => {
      seed(3);
      const inf = newInformer();
      const events = recorder(inf);
      inf.start();
      await inf.waitForSync();
      await fake.waitForWatches(1);
      const lastKnownCm2 = inf.get("a/cm2")!;
      fake.cutWatches();
      fake.silently(() => {
        fake.remove("a", "cm2");
        fake.upsert({ metadata: { name: "cm1", namespace: "a", labels: { changed: "yes" } } });
        fake.upsert({ metadata: { name: "fresh", namespace: "a" } });
      });
      fake.goneMode = mode;
      fake.compact();
      events.length = 0;
      const deleted: KubeObject[] = [];
      inf.addEventHandler({ onDelete: (o) => deleted.push(o) });
      await until(() => events.length === 3, "relist diff", 5000);
      expect(inf.stats.lists).toBe(2);
      expect(events).toContainEqual(["delete", "a/cm2", true]);
      expect(events).toContainEqual(["add", "a/fresh", false]);
      const upd = events.find((e) => e[0] === "update")!;
      expect(upd[1]).toBe("a/cm1");
      expect(deleted[0]).toEqual(lastKnownCm2);
      expect(inf.keys().sort()).toEqual(["a/cm0", "a/cm1", "a/fresh"]);
      // cm0 was unchanged: no spurious update on relist
      expect(events.some((e) => e[1] === "a/cm0")).toBe(false);
      // and it watches again from the new list's version
      await until(() => fake.watches.size === 1, "watch after relist");
      expect(watchRequests().at(-1)!.query.get("resourceVersion")).toBe(String(fake.currentRv));
    },
  );

  it("backs off and retries when listing fails", async () => {
    seed(1);
    fake.failNext(3, 500, (r) => r.query.get("watch") !== "true");
    const inf = newInformer();
    inf.start();
    expect(await inf.waitForSync()).toBe(true);
    expect(listRequests()).toHaveLength(4);
    expect(inf.size).toBe(1);
  });

  it("backs off and re-watches (not relists) when the watch request fails", async () => {
    seed(1);
    fake.failNext(2, 503, (r) => r.query.get("watch") === "true");
    const inf = newInformer();
    inf.start();
    await inf.waitForSync();
    await fake.waitForWatches(1);
    expect(watchRequests()).toHaveLength(3);
    expect(inf.stats.lists).toBe(1);
  });

  it("falls back to an unpaginated list when the continue token expires mid-list", async () => {
    seed(5);
    const real = listerWatcher<KubeObject>(client, GVR);
    let compacted = false;
    const inf = new Informer<KubeObject>(
      {
        // compact the fake's history right after the first page was served
        list: async (opts) => {
          const page = await real.list(opts);
          if (!compacted) {
            compacted = true;
            fake.upsert({ metadata: { name: "cm9", namespace: "a" } });
            fake.compact();
          }
          return page;
        },
        watch: (opts) => real.watch(opts),
      },
      fast,
    );
    informers.push(inf);
    inf.start();
    await inf.waitForSync();
    const lists = listRequests();
    expect(lists).toHaveLength(3); // page 1, expired page 2, full list
    expect(lists[1]!.query.get("continue")).toBeTruthy();
    expect(lists[2]!.query.get("limit")).toBeNull();
    expect(inf.size).toBe(6);
  });

  it("resync re-delivers onUpdate(obj, obj) for every object", async () => {
    seed(2);
    const inf = newInformer({ resyncPeriodMs: 50 });
    const pairs: Array<[KubeObject, KubeObject]> = [];
    inf.addEventHandler({ onUpdate: (a, b) => pairs.push([a, b]) });
    inf.start();
    await inf.waitForSync();
    await until(() => pairs.length >= 4, "two resyncs");
    expect(pairs.every(([a, b]) => a === b)).toBe(true);
    expect(new Set(pairs.map(([, b]) => objectKey(b)))).toEqual(new Set(["a/cm0", "a/cm1"]));
  });

  it("a handler added after sync gets the current objects as initial adds; removing it stops delivery", async () => {
    seed(2);
    const inf = newInformer();
    inf.start();
    await inf.waitForSync();
    const got: Ev[] = [];
    const remove = inf.addEventHandler({ onAdd: (o, initial) => got.push(["add", objectKey(o), initial]) });
    expect(got).toEqual([
      ["add", "a/cm0", true],
      ["add", "a/cm1", true],
    ]);
    remove();
    fake.upsert({ metadata: { name: "after", namespace: "a" } });
    await until(() => inf.get("a/after") !== undefined, "after");
    expect(got).toHaveLength(2);
  });

  it("a throwing handler does not break the informer or other handlers", async () => {
    const inf = newInformer();
    const ok: string[] = [];
    inf.addEventHandler({
      onAdd: () => {
        throw new Error("bad handler");
      },
    });
    inf.addEventHandler({ onAdd: (o) => ok.push(objectKey(o)) });
    inf.start();
    await inf.waitForSync();
    fake.upsert({ metadata: { name: "x", namespace: "a" } });
    await until(() => ok.length === 1, "second handler");
    expect(ok).toEqual(["a/x"]);
  });

  it("stop() closes the watch and ends the loop; waitForSync on a stopped informer is false", async () => {
    seed(1);
    const inf = newInformer();
    inf.start();
    await inf.waitForSync();
    await fake.waitForWatches(1);
    await inf.stop();
    await until(() => fake.watches.size === 0, "watch closed at the server");
    const n = fake.requests.length;
    fake.upsert({ metadata: { name: "late", namespace: "a" } });
    await new Promise((r) => setTimeout(r, 50));
    expect(fake.requests.length).toBe(n);
    expect(inf.get("a/late")).toBeUndefined();

    fake.failNext(1000, 500);
    const never = newInformer();
    never.start();
    const ac = new AbortController();
    const p = never.waitForSync(ac.signal);
    ac.abort();
    expect(await p).toBe(false);
    const p2 = never.waitForSync();
    await never.stop();
    expect(await p2).toBe(false);
  });

  it("honours a namespace and label selector", async () => {
    seed(4, "a");
    seed(2, "b");
    const inf = newInformer({}, { namespace: "a", labelSelector: "idx=1" });
    inf.start();
    await inf.waitForSync();
    expect(inf.keys().sort()).toEqual(["a/cm1", "a/cm3"]);
    expect(listRequests()[0]!.path).toBe("/api/v1/namespaces/a/configmaps");
    expect(listRequests()[0]!.query.get("labelSelector")).toBe("idx=1");
  });
});

describe("keys", () => {
  it("objectKey / splitKey", () => {
    expect(objectKey({ metadata: { name: "n", namespace: "ns" } })).toBe("ns/n");
    expect(objectKey({ metadata: { name: "node1" } })).toBe("node1");
    expect(() => objectKey({ metadata: {} })).toThrow();
    expect(splitKey("ns/n")).toEqual({ namespace: "ns", name: "n" });
    expect(splitKey("node1")).toEqual({ name: "node1" });
  });
});

describe("SharedInformerFactory", () => {
  it("shares one informer per resource+selector and starts late additions", async () => {
    seed(3);
    const f = new SharedInformerFactory(client, { informerOptions: fast });
    onTestFinished(() => f.stop());
    const a = f.informerFor(GVR);
    const b = f.informerFor(GVR);
    const c = f.informerFor(GVR, { labelSelector: "idx=0" });
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    expect(f.size).toBe(2);
    f.start();
    expect(await f.waitForSync()).toBe(true);
    expect(a.size).toBe(3);
    expect(c.size).toBe(2);
    const late = f.informerFor(GVR, { namespace: "a" });
    expect(await late.waitForSync()).toBe(true); // started because the factory was started
    expect(listRequests().filter((r) => r.path === "/api/v1/configmaps")).toHaveLength(3); // all: 2 pages; idx=0: 1 page
    await f.stop();
    expect(a.stopped && c.stopped && late.stopped).toBe(true);
  });
});
