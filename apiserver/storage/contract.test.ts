/**
 * The storage contract (types.ts), as one suite run against both backends: SQLite (a temp
 * file per test) and etcd (one real etcd per file, started on loopback by test/helpers/etcd.ts;
 * each test gets its own key prefix). Then SQLite-only tests: reopen keeps state, and a child
 * process killed with SIGKILL right after acknowledging writes loses none of them.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { etcdAvailable, type RunningEtcd, startEtcd } from "../../test/helpers/etcd.js";
import { openEtcdStorage } from "./etcd.js";
import { openSqliteStorage } from "./sqlite.js";
import {
  CompactedError,
  FutureRevisionError,
  KeyExistsError,
  KeyNotFoundError,
  RevisionMismatchError,
  type Storage,
  type WatchEvent,
  type WatchHandle,
} from "./types.js";

interface FactoryOptions {
  historyRevisions?: number;
  compactIntervalMs?: number;
}
type Factory = (opts?: FactoryOptions) => Promise<Storage>;

async function until(pred: () => boolean, ms = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Collector {
  events: WatchEvent[];
  errors: Error[];
  progress: number[];
  batches: number;
  handle: WatchHandle;
}

function collect(s: Storage, prefix: string, after: number): Collector {
  const c: Collector = { events: [], errors: [], progress: [], batches: 0, handle: { stop() {} } };
  c.handle = s.watch(prefix, after, {
    onEvents: (evs) => {
      c.batches++;
      c.events.push(...evs);
    },
    onProgress: (rev) => c.progress.push(rev),
    onError: (err) => c.errors.push(err),
  });
  return c;
}

function keyOf(e: WatchEvent): string {
  return e.type === "put" ? e.kv.key : e.key;
}

/** a compact, comparable rendering of events */
function summary(evs: WatchEvent[]): string[] {
  return evs.map((e) =>
    e.type === "put"
      ? `put ${e.kv.key}=${e.kv.value}@${e.revision}${e.prev ? ` (was ${e.prev.value}@${e.prev.modRevision})` : ""}`
      : `delete ${e.key}@${e.revision} (was ${e.prev.value}@${e.prev.modRevision})`,
  );
}

function storageContract(title: string, skipReason: string | undefined, makeFactory: () => Factory): void {
  describe.skipIf(skipReason !== undefined)(skipReason ? `${title} (skipped: ${skipReason})` : title, () => {
    let factory: Factory;
    const open: Storage[] = [];
    const make = async (opts?: FactoryOptions) => {
      const s = await factory(opts);
      open.push(s);
      return s;
    };
    beforeAll(() => {
      factory = makeFactory();
    });
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
    });

    it("create, get, and conflict on an existing key", async () => {
      const s = await make();
      const before = await s.currentRevision();
      expect(before).toBeGreaterThan(0);
      const kv = await s.create("/registry/pods/default/a", '{"a":1}');
      expect(kv).toEqual({
        key: "/registry/pods/default/a",
        value: '{"a":1}',
        modRevision: kv.createRevision,
        createRevision: kv.modRevision,
      });
      expect(kv.modRevision).toBeGreaterThan(before);
      expect(await s.get("/registry/pods/default/a")).toEqual(kv);
      expect(await s.get("/registry/pods/default/missing")).toBeUndefined();
      const err = await s.create("/registry/pods/default/a", "{}").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KeyExistsError);
      expect((err as KeyExistsError).key).toBe("/registry/pods/default/a");
      expect(await s.currentRevision()).toBe(kv.modRevision);
    });

    it("update with the right revision, a stale one, and on a missing key", async () => {
      const s = await make();
      const v1 = await s.create("/registry/cm/x", "v1");
      const v2 = await s.update("/registry/cm/x", "v2", v1.modRevision);
      expect(v2.modRevision).toBeGreaterThan(v1.modRevision);
      expect(v2.createRevision).toBe(v1.createRevision);
      expect(v2.value).toBe("v2");
      expect(await s.get("/registry/cm/x")).toEqual(v2);

      const stale = await s.update("/registry/cm/x", "v3", v1.modRevision).catch((e: unknown) => e);
      expect(stale).toBeInstanceOf(RevisionMismatchError);
      expect((stale as RevisionMismatchError).current).toEqual(v2);
      expect(await s.get("/registry/cm/x")).toEqual(v2);

      const missing = await s.update("/registry/cm/none", "x", v2.modRevision).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(KeyNotFoundError);
      expect(await s.currentRevision()).toBe(v2.modRevision);
    });

    it("delete with and without a guard; KeyNotFoundError when absent", async () => {
      const s = await make();
      const a = await s.create("/registry/svc/a", "A");
      const a2 = await s.update("/registry/svc/a", "A2", a.modRevision);
      const stale = await s.delete("/registry/svc/a", a.modRevision).catch((e: unknown) => e);
      expect(stale).toBeInstanceOf(RevisionMismatchError);
      expect((stale as RevisionMismatchError).current).toEqual(a2);

      const del = await s.delete("/registry/svc/a", a2.modRevision);
      expect(del.prev).toEqual(a2);
      expect(del.revision).toBeGreaterThan(a2.modRevision);
      expect(await s.get("/registry/svc/a")).toBeUndefined();
      expect(await s.currentRevision()).toBe(del.revision);

      const b = await s.create("/registry/svc/b", "B");
      const delB = await s.delete("/registry/svc/b");
      expect(delB.prev).toEqual(b);
      expect(await s.delete("/registry/svc/b").catch((e: unknown) => e)).toBeInstanceOf(KeyNotFoundError);
      expect(await s.delete("/registry/svc/b", b.modRevision).catch((e: unknown) => e)).toBeInstanceOf(
        KeyNotFoundError,
      );
      // a deleted key can be created again, as a new object
      const b2 = await s.create("/registry/svc/b", "B2");
      expect(b2.createRevision).toBe(b2.modRevision);
      expect(b2.createRevision).toBeGreaterThan(delB.revision);
    });

    it("revisions are strictly increasing across keys and operations", async () => {
      const s = await make();
      const revs: number[] = [];
      for (let i = 0; i < 5; i++) revs.push((await s.create(`/registry/r/k${i}`, `${i}`)).modRevision);
      revs.push((await s.update("/registry/r/k0", "x", revs[0]!)).modRevision);
      revs.push((await s.delete("/registry/r/k1")).revision);
      revs.push((await s.create("/registry/other/z", "z")).modRevision);
      for (let i = 1; i < revs.length; i++) expect(revs[i]!).toBeGreaterThan(revs[i - 1]!);
      expect(await s.currentRevision()).toBe(revs[revs.length - 1]);
      // concurrent writers still get distinct, ordered revisions
      const many = await Promise.all(
        Array.from({ length: 20 }, (_, i) => s.create(`/registry/c/${i}`, "c").then((kv) => kv.modRevision)),
      );
      expect(new Set(many).size).toBe(20);
    });

    it("list: key order, prefix isolation, limit + startAfter pagination, remaining", async () => {
      const s = await make();
      const names = ["web-3", "api-1", "db-0", "web-1", "cache-2", "api-0", "zz", "a"];
      for (const n of names) await s.create(`/registry/pods/default/${n}`, n);
      await s.create("/registry/podsx/default/intruder", "x");
      await s.create("/registry/pod", "y");
      await s.create("/registry/pods/kube-system/dns", "dns");

      const all = await s.list("/registry/pods/");
      const expected = [
        ...names.map((n) => `/registry/pods/default/${n}`),
        "/registry/pods/kube-system/dns",
      ].sort();
      expect(all.items.map((kv) => kv.key)).toEqual(expected);
      expect(all.more).toBe(false);
      expect(all.revision).toBe(await s.currentRevision());
      expect((await s.list("/registry/pods/default/")).items).toHaveLength(names.length);
      expect((await s.list("/registry/podsx/")).items.map((kv) => kv.key)).toEqual([
        "/registry/podsx/default/intruder",
      ]);
      expect((await s.list("/registry/nothing/")).items).toEqual([]);

      // paginate 3 at a time at the first page's revision, while writes continue
      const seen: string[] = [];
      let page = await s.list("/registry/pods/", { limit: 3 });
      const rev = page.revision;
      expect(page.more).toBe(true);
      expect(page.remaining).toBe(expected.length - 3);
      await s.create("/registry/pods/default/b-late", "late");
      await s.delete("/registry/pods/default/zz");
      await s.update("/registry/pods/kube-system/dns", "dns2", all.items.at(-1)!.modRevision);
      for (;;) {
        seen.push(...page.items.map((kv) => kv.key));
        expect(page.revision).toBe(rev);
        if (!page.more) break;
        const last = page.items.at(-1)!.key;
        page = await s.list("/registry/pods/", { limit: 3, startAfter: last, revision: rev });
        if (page.more) expect(page.remaining).toBe(expected.length - seen.length - page.items.length);
      }
      expect(seen).toEqual(expected);
      expect(page.items.at(-1)!.value).toBe("dns"); // the snapshot value, not "dns2"

      // startAfter without limit, and a startAfter before the prefix
      const tail = await s.list("/registry/pods/", { startAfter: "/registry/pods/default/web-1" });
      expect(tail.items.map((kv) => kv.key)).toEqual([
        "/registry/pods/default/web-3",
        "/registry/pods/kube-system/dns",
      ]);
      const before = await s.list("/registry/pods/", { startAfter: "/registry/a" });
      expect(before.items).toHaveLength(expected.length); // b-late in, zz out
    });

    it("snapshot list at an older revision sees old values, not newer keys, and later-deleted keys", async () => {
      const s = await make();
      const a = await s.create("/registry/ns/a", "a1");
      const b = await s.create("/registry/ns/b", "b1");
      const r = await s.currentRevision();
      await s.update("/registry/ns/a", "a2", a.modRevision);
      await s.delete("/registry/ns/b", b.modRevision);
      await s.create("/registry/ns/c", "c1");
      const old = await s.list("/registry/ns/", { revision: r });
      expect(old.revision).toBe(r);
      expect(old.items).toEqual([a, b]);
      const now = await s.list("/registry/ns/");
      expect(now.items.map((kv) => `${kv.key}=${kv.value}`)).toEqual([
        "/registry/ns/a=a2",
        "/registry/ns/c=c1",
      ]);
      const oneAtATime = await s.list("/registry/ns/", { revision: r, limit: 1 });
      expect(oneAtATime.items).toEqual([a]);
      expect(oneAtATime.more).toBe(true);
      expect(oneAtATime.remaining).toBe(1);
      const future = await s
        .list("/registry/ns/", { revision: (await s.currentRevision()) + 100 })
        .catch((e) => e);
      expect(future).toBeInstanceOf(FutureRevisionError);
    });

    it("count", async () => {
      const s = await make();
      expect(await s.count("/registry/events/")).toBe(0);
      for (let i = 0; i < 7; i++) await s.create(`/registry/events/default/e${i}`, "{}");
      await s.create("/registry/eventsx/e", "{}");
      await s.delete("/registry/events/default/e3");
      expect(await s.count("/registry/events/")).toBe(6);
      expect(await s.count("/registry/events/default/e1")).toBe(1);
      expect(await s.count("/registry/eventsx/")).toBe(1);
    });

    it("watch from a past revision replays exactly the later events, then live ones, in order with prev", async () => {
      const s = await make();
      const a = await s.create("/registry/w/a", "a1");
      const r0 = await s.currentRevision();
      const a2 = await s.update("/registry/w/a", "a2", a.modRevision);
      const b = await s.create("/registry/w/b", "b1");
      const delA = await s.delete("/registry/w/a");

      const c = collect(s, "/registry/w/", r0);
      const b2 = await s.update("/registry/w/b", "b2", b.modRevision);
      const d = await s.create("/registry/w/d", "d1");
      await until(() => c.events.length >= 5, 10_000, "5 events");
      await sleep(100);
      expect(c.errors).toEqual([]);
      expect(summary(c.events)).toEqual([
        `put /registry/w/a=a2@${a2.modRevision} (was a1@${a.modRevision})`,
        `put /registry/w/b=b1@${b.modRevision}`,
        `delete /registry/w/a@${delA.revision} (was a2@${a2.modRevision})`,
        `put /registry/w/b=b2@${b2.modRevision} (was b1@${b.modRevision})`,
        `put /registry/w/d=d1@${d.modRevision}`,
      ]);
      const del = c.events[2]!;
      expect(del.type === "delete" && del.prev).toEqual(a2);
      // full KeyValues on puts
      expect(c.events[3]!.type === "put" && c.events[3]!.kv).toEqual(b2);

      // a second watcher from "now" sees only what follows
      const now = await s.currentRevision();
      const c2 = collect(s, "/registry/w/", now);
      const e = await s.create("/registry/w/e", "e1");
      await until(() => c2.events.length >= 1 && c.events.length >= 6, 10_000, "live event");
      await sleep(50);
      expect(summary(c2.events)).toEqual([`put /registry/w/e=e1@${e.modRevision}`]);
      c.handle.stop();
      c2.handle.stop();
    });

    it("watch delivers a burst of writes in order, without gaps or duplicates", async () => {
      const s = await make();
      const start = await s.currentRevision();
      const c = collect(s, "/registry/burst/", start);
      const revs: number[] = [];
      // interleave a watch started mid-burst
      let mid: Collector | undefined;
      let midRev = 0;
      for (let i = 0; i < 60; i++) {
        revs.push((await s.create(`/registry/burst/${i}`, `${i}`)).modRevision);
        if (i === 29) {
          midRev = revs[i]!;
          mid = collect(s, "/registry/burst/", revs[14]!);
        }
      }
      await until(() => c.events.length >= 60 && (mid?.events.length ?? 0) >= 45, 15_000, "burst");
      await sleep(100);
      expect(c.events.map((e) => e.revision)).toEqual(revs);
      expect(mid!.events.map((e) => e.revision)).toEqual(revs.slice(15));
      expect(midRev).toBeGreaterThan(0);
      c.handle.stop();
      mid!.handle.stop();
    });

    it("watch filters by prefix", async () => {
      const s = await make();
      const start = await s.currentRevision();
      const pods = collect(s, "/registry/pods/", start);
      const podsx = collect(s, "/registry/podsx/", start);
      const one = collect(s, "/registry/pods/ns1/", start);
      await s.create("/registry/podsx/ns1/p", "x");
      await s.create("/registry/pods/ns1/p", "1");
      await s.create("/registry/pods/ns2/p", "2");
      await s.create("/registry/pod", "nope");
      await until(() => pods.events.length >= 2 && podsx.events.length >= 1 && one.events.length >= 1);
      await sleep(200);
      expect(pods.events.map(keyOf)).toEqual(["/registry/pods/ns1/p", "/registry/pods/ns2/p"]);
      expect(podsx.events.map(keyOf)).toEqual(["/registry/podsx/ns1/p"]);
      expect(one.events.map(keyOf)).toEqual(["/registry/pods/ns1/p"]);
    });

    it("compaction: watch and list below it fail with CompactedError; live keys stay readable", async () => {
      const s = await make();
      const a = await s.create("/registry/cp/a", "a1");
      const early = await s.currentRevision();
      let cur = a;
      for (let i = 2; i <= 6; i++) cur = await s.update("/registry/cp/a", `a${i}`, cur.modRevision);
      const b = await s.create("/registry/cp/b", "b1");
      await s.delete("/registry/cp/b", b.modRevision);
      const untouched = await s.create("/registry/cp/c", "c1");
      const mid = await s.currentRevision();
      const after = await s.update("/registry/cp/a", "a7", cur.modRevision);

      await s.compact(mid);
      expect(await s.compactedRevision()).toBeGreaterThanOrEqual(mid);
      expect(await s.compactedRevision()).toBeLessThan(after.modRevision);
      // compacting again, or lower, is a no-op
      await s.compact(mid);
      await s.compact(early);

      expect(await s.get("/registry/cp/a")).toEqual(after);
      expect(await s.get("/registry/cp/c")).toEqual(untouched);
      expect((await s.list("/registry/cp/")).items.map((kv) => kv.value)).toEqual(["a7", "c1"]);
      // the compacted revision itself is still readable
      const atMid = await s.list("/registry/cp/", { revision: mid });
      expect(atMid.items.map((kv) => kv.value)).toEqual(["a6", "c1"]);
      const listErr = await s.list("/registry/cp/", { revision: early }).catch((e: unknown) => e);
      expect(listErr).toBeInstanceOf(CompactedError);

      const w = collect(s, "/registry/cp/", early);
      await until(() => w.errors.length > 0, 10_000, "CompactedError");
      expect(w.errors[0]).toBeInstanceOf(CompactedError);
      expect((w.errors[0] as CompactedError).requested).toBe(early);
      expect((w.errors[0] as CompactedError).compacted).toBeGreaterThanOrEqual(mid);
      expect(w.events).toEqual([]);

      // a watch from the compacted revision still works and carries prev values
      const ok = collect(s, "/registry/cp/", mid);
      await until(() => ok.events.length >= 1);
      expect(summary(ok.events)).toEqual([
        `put /registry/cp/a=a7@${after.modRevision} (was a6@${cur.modRevision})`,
      ]);
      expect(ok.errors).toEqual([]);
    });

    it("periodic compaction keeps historyRevisions of history", async () => {
      const s = await make({ historyRevisions: 5, compactIntervalMs: 100 });
      let kv = await s.create("/registry/pc/a", "0");
      const keep = await s.create("/registry/pc/keep", "k");
      for (let i = 1; i <= 30; i++) kv = await s.update("/registry/pc/a", `${i}`, kv.modRevision);
      const rev = await s.currentRevision();
      const deadline = Date.now() + 10_000;
      while ((await s.compactedRevision()) < rev - 5 && Date.now() < deadline) await sleep(50);
      expect(await s.compactedRevision()).toBe(rev - 5);
      expect(await s.get("/registry/pc/keep")).toEqual(keep);
      expect(await s.get("/registry/pc/a")).toEqual(kv);
      const w = collect(s, "/registry/pc/", rev - 5);
      await until(() => w.events.length >= 5);
      expect(w.events.map((e) => e.revision)).toEqual([rev - 4, rev - 3, rev - 2, rev - 1, rev]);
    });

    it("TTL expiry deletes the key with a delete event", async () => {
      const s = await make();
      const start = await s.currentRevision();
      const w = collect(s, "/registry/events/", start);
      const ev = await s.create("/registry/events/default/e1", '{"reason":"x"}', { ttlSeconds: 1 });
      const keep = await s.create("/registry/events/default/e2", '{"reason":"y"}');
      // update keeps the TTL
      const ev2 = await s.update("/registry/events/default/e1", '{"reason":"x","count":2}', ev.modRevision);
      await until(() => w.events.some((e) => e.type === "delete"), 15_000, "TTL delete");
      const del = w.events.find((e) => e.type === "delete")!;
      expect(del.type === "delete" && del.key).toBe("/registry/events/default/e1");
      expect(del.type === "delete" && del.prev).toEqual(ev2);
      expect(await s.get("/registry/events/default/e1")).toBeUndefined();
      expect(await s.get("/registry/events/default/e2")).toEqual(keep);
    });

    it("onProgress fires for idle watchers with the current revision", async () => {
      const s = await make();
      await s.create("/registry/p/a", "a");
      await s.create("/registry/q/a", "a");
      const rev = await s.currentRevision();
      const w = collect(s, "/registry/p/", rev);
      await until(() => w.progress.length > 0, 15_000, "progress");
      expect(w.progress[0]).toBeGreaterThanOrEqual(rev);
      expect(w.events).toEqual([]);
      w.handle.stop();
    });

    it("stop() ends a watch; close() stops everything and later calls reject", async () => {
      const s = await factory();
      const start = await s.currentRevision();
      const stopped = collect(s, "/registry/x/", start);
      stopped.handle.stop();
      const live = collect(s, "/registry/x/", start);
      await s.create("/registry/x/1", "1");
      await until(() => live.events.length === 1);
      await sleep(100);
      expect(stopped.events).toEqual([]);
      await s.close();
      await s.close(); // idempotent
      await sleep(300);
      const n = live.events.length + live.progress.length;
      await sleep(1500);
      expect(live.events.length + live.progress.length).toBe(n);
      expect(live.errors).toEqual([]);
      await expect(s.get("/registry/x/1")).rejects.toThrow(/closed/);
      await expect(s.create("/registry/x/2", "2")).rejects.toThrow(/closed/);
    });
  });
}

// ---- the two backends ----

const tmpDirs: string[] = [];
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "kubeplane-storage-"));
  tmpDirs.push(d);
  return d;
}

storageContract(
  "sqlite storage contract",
  undefined,
  () => async (opts) =>
    openSqliteStorage({
      file: join(tempDir(), "state.db"),
      progressIntervalMs: 100,
      ttlSweepIntervalMs: 100,
      compactIntervalMs: opts?.compactIntervalMs ?? 0,
      historyRevisions: opts?.historyRevisions,
    }),
);

let etcd: RunningEtcd | undefined;
let etcdTests = 0;
describe.skipIf(!etcdAvailable())(etcdAvailable() ? "etcd" : "etcd (skipped: etcd not installed)", () => {
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    await etcd?.stop();
  });
  storageContract(
    "etcd storage contract",
    undefined,
    () => async (opts) =>
      openEtcdStorage({
        endpoints: etcd!.endpoints,
        // every test gets its own keyspace on the shared etcd
        prefix: `/t${++etcdTests}`,
        progressIntervalMs: 200,
        compactIntervalMs: opts?.compactIntervalMs ?? 0,
        historyRevisions: opts?.historyRevisions,
      }),
  );
});

// ---- SQLite only ----

const distModule = fileURLToPath(new URL("../../dist/apiserver/storage/sqlite.js", import.meta.url));

describe("sqlite storage: persistence", () => {
  it("reopening keeps keys, revisions, snapshots and the compacted revision", async () => {
    const file = join(tempDir(), "reopen.db");
    const s1 = openSqliteStorage({ file });
    const a = await s1.create("/registry/a", "1");
    const a2 = await s1.update("/registry/a", "2", a.modRevision);
    await s1.create("/registry/b", "b");
    await s1.delete("/registry/b");
    await s1.compact(a2.modRevision);
    const rev = await s1.currentRevision();
    await s1.close();

    const s2 = openSqliteStorage({ file });
    expect(await s2.currentRevision()).toBe(rev);
    expect(await s2.compactedRevision()).toBe(a2.modRevision);
    expect(await s2.get("/registry/a")).toEqual(a2);
    expect((await s2.list("/registry/", { revision: a2.modRevision })).items).toEqual([a2]);
    const next = await s2.create("/registry/c", "c");
    expect(next.modRevision).toBe(rev + 1);
    // a watch from the compacted revision replays the delete of b with its value
    const events: WatchEvent[] = [];
    s2.watch("/registry/", a2.modRevision, { onEvents: (e) => events.push(...e), onError: () => {} });
    await until(() => events.length >= 3);
    expect(summary(events).map((l) => l.replace(/@\d+/g, ""))).toEqual([
      "put /registry/b=b",
      "delete /registry/b (was b)",
      "put /registry/c=c",
    ]);
    await s2.close();
  });

  it.skipIf(!existsSync(distModule))(
    existsSync(distModule)
      ? "a child killed with SIGKILL right after acknowledging writes loses none of them"
      : "SIGKILL durability (skipped: dist/ not built, run `npm run build` first)",
    async () => {
      const dir = tempDir();
      const file = join(dir, "crash.db");
      const script = join(dir, "writer.mjs");
      writeFileSync(
        script,
        `const { openSqliteStorage } = await import(${JSON.stringify(new URL(`file://${distModule}`).href)});
const s = openSqliteStorage({ file: process.argv[2] });
let last;
for (let i = 0; ; i++) {
  const key = "/registry/crash/" + String(i).padStart(6, "0");
  const kv = await s.create(key, JSON.stringify({ i }));
  if (i % 3 === 2) last = await s.update(key, JSON.stringify({ i, updated: true }), kv.modRevision);
  else last = kv;
  process.stdout.write(key + " " + last.modRevision + " " + last.value + "\\n");
}
`,
      );
      const child = spawn(process.execPath, [script, file], { stdio: ["ignore", "pipe", "pipe"] });
      const acked: Array<{ key: string; rev: number; value: string }> = [];
      let buf = "";
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      const exited = new Promise<NodeJS.Signals | null>((r) => child.on("exit", (_code, sig) => r(sig)));
      child.stdout.on("data", (d: Buffer) => {
        buf += d.toString();
        let nl = buf.indexOf("\n");
        while (nl >= 0) {
          const [key, rev, value] = buf.slice(0, nl).split(" ");
          acked.push({ key: key!, rev: Number(rev), value: value! });
          buf = buf.slice(nl + 1);
          nl = buf.indexOf("\n");
        }
        if (acked.length >= 400 && !child.killed) child.kill("SIGKILL");
      });
      const sig = await exited;
      expect(stderr).toBe("");
      expect(sig).toBe("SIGKILL");
      expect(acked.length).toBeGreaterThanOrEqual(400);

      const s = openSqliteStorage({ file });
      for (const a of acked) {
        const kv = await s.get(a.key);
        expect(kv?.modRevision, a.key).toBe(a.rev);
        expect(kv?.value).toBe(a.value);
      }
      expect(await s.currentRevision()).toBeGreaterThanOrEqual(acked.at(-1)!.rev);
      await s.close();
    },
  );
});
