/**
 * Watch semantics over HTTP, reading the newline-delimited JSON stream directly, on SQLite and
 * on etcd. The apiserver runs in-process through run() because the bookmark interval (60 s by
 * default) has no command-line flag; here it is 500 ms.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningApiserver, run } from "../apiserver/server.js";
import { silentLogger } from "../cli/logger.js";
import { Api, configMap, delay, type WatchEventLine, type WatchStream } from "./helpers/api-http.js";
import { etcdAvailable, type RunningEtcd, startEtcd } from "./helpers/etcd.js";

const BACKENDS = [
  { name: "sqlite" as const, skip: undefined as string | undefined },
  {
    name: "etcd" as const,
    skip: etcdAvailable() ? undefined : "etcd not installed at /usr/bin/etcd (Debian etcd-server)",
  },
];

const MERGE = "application/merge-patch+json";

function objEvents(events: WatchEventLine[]): WatchEventLine[] {
  return events.filter((e) => e.type !== "BOOKMARK");
}

function summary(events: WatchEventLine[]): string[] {
  return objEvents(events).map((e) => `${e.type} ${e.object.metadata?.name}`);
}

for (const backend of BACKENDS) {
  describe.skipIf(!!backend.skip)(
    `apiserver watch on ${backend.name}${backend.skip ? ` (skipped: ${backend.skip})` : ""}`,
    () => {
      let server: RunningApiserver;
      let etcd: RunningEtcd | undefined;
      let dataDir: string;
      let api: Api;
      const streams: WatchStream[] = [];

      async function ns(name: string): Promise<string> {
        const r = await api.post("/api/v1/namespaces", {
          apiVersion: "v1",
          kind: "Namespace",
          metadata: { name },
        });
        expect(r.status, r.text).toBe(201);
        return `/api/v1/namespaces/${name}/configmaps`;
      }

      async function create(
        path: string,
        name: string,
        labels?: Record<string, string>,
        data: Record<string, string> = { k: "v" },
      ) {
        const r = await api.post(path, configMap(name, data, labels));
        expect(r.status, r.text).toBe(201);
        return r.json as { metadata: { name: string; resourceVersion: string } };
      }

      async function watch(path: string, query: string, opts: { read?: boolean } = {}): Promise<WatchStream> {
        const w = await api.watch(`${path}?watch=true${query ? `&${query}` : ""}`, opts);
        streams.push(w);
        expect(w.status).toBe(200);
        return w;
      }

      beforeAll(async () => {
        dataDir = mkdtempSync(join(tmpdir(), "kp-watch-"));
        if (backend.name === "etcd") etcd = await startEtcd();
        server = await run({
          dataDir,
          securePort: 0,
          bindAddress: "127.0.0.1",
          etcdServers: etcd?.endpoints,
          bookmarkIntervalMs: 500,
          logger: silentLogger(),
        });
        api = new Api({ url: server.url, token: server.adminToken, caPem: server.caPem });
      });

      afterAll(async () => {
        for (const s of streams) s.close();
        await api?.close();
        await server?.close();
        await etcd?.stop();
        if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      });

      it("resourceVersion unset: synthetic ADDED for existing objects, then live events", async () => {
        const L = await ns("w-unset");
        await create(L, "a");
        await create(L, "b");
        const w = await watch(L, "");
        await w.waitFor((e) => objEvents(e).length >= 2, 10_000, "the initial ADDED events");
        expect(summary(w.events)).toEqual(["ADDED a", "ADDED b"]);
        await create(L, "c");
        expect((await api.patch(`${L}/a`, { data: { k: "changed" } }, MERGE)).status).toBe(200);
        expect((await api.del(`${L}/b`)).status).toBe(200);
        await w.waitFor((e) => objEvents(e).length >= 5, 10_000, "the live events");
        expect(summary(w.events)).toEqual(["ADDED a", "ADDED b", "ADDED c", "MODIFIED a", "DELETED b"]);
        const ev = objEvents(w.events);
        expect(ev[3]!.object.data.k).toBe("changed");
        expect(ev[3]!.object.kind).toBe("ConfigMap");
        expect(ev[3]!.object.apiVersion).toBe("v1");
        // resourceVersions of live events increase
        const rvs = ev.slice(2).map((e) => Number(e.object.metadata.resourceVersion));
        expect([...rvs].sort((x, y) => x - y)).toEqual(rvs);
        expect(new Set(rvs).size).toBe(rvs.length);
      });

      it('resourceVersion "0": synthetic ADDED too, then live events', async () => {
        const L = await ns("w-zero");
        await create(L, "a");
        await create(L, "b");
        const w = await watch(L, "resourceVersion=0");
        await w.waitFor((e) => objEvents(e).length >= 2, 10_000, "the initial ADDED events");
        await create(L, "c");
        await w.waitFor((e) => objEvents(e).length >= 3, 10_000, "the live ADDED");
        expect(summary(w.events)).toEqual(["ADDED a", "ADDED b", "ADDED c"]);
      });

      it("resourceVersion=N: only events strictly after N, no synthetic ADDED", async () => {
        const L = await ns("w-exact");
        await create(L, "a");
        const b = await create(L, "b");
        const n = b.metadata.resourceVersion;
        await create(L, "c");
        expect((await api.patch(`${L}/a`, { data: { k: "2" } }, MERGE)).status).toBe(200);
        const w = await watch(L, `resourceVersion=${n}`);
        await w.waitFor((e) => objEvents(e).length >= 2, 10_000, "the replayed events");
        await delay(300);
        expect(summary(w.events)).toEqual(["ADDED c", "MODIFIED a"]);
        for (const e of objEvents(w.events))
          expect(Number(e.object.metadata.resourceVersion)).toBeGreaterThan(Number(n));
        // the list resourceVersion works the same way
        const list = await api.get(L);
        const w2 = await watch(L, `resourceVersion=${list.json.metadata.resourceVersion}`);
        await create(L, "d");
        await w2.waitFor((e) => objEvents(e).length >= 1, 10_000, "the live ADDED");
        await delay(300);
        expect(summary(w2.events)).toEqual(["ADDED d"]);
      });

      it("a too-old resourceVersion → in-stream ERROR with a 410 Status, then the stream ends", async () => {
        const L = await ns("w-old");
        const before = await create(L, "first");
        const old = before.metadata.resourceVersion;
        // move the configmaps watch-cache window (1000 events) past `old`
        const names = Array.from({ length: 1050 }, (_, i) => `fill-${i}`);
        for (let i = 0; i < names.length; i += 25) {
          await Promise.all(names.slice(i, i + 25).map((n) => create(L, n)));
        }
        const w = await watch(L, `resourceVersion=${old}`);
        await w.waitFor((e) => e.some((x) => x.type === "ERROR"), 15_000, "the ERROR event");
        const err = w.events.find((x) => x.type === "ERROR")!;
        expect(err.object.kind).toBe("Status");
        expect(err.object.apiVersion).toBe("v1");
        expect(err.object.status).toBe("Failure");
        expect(err.object.code).toBe(410);
        expect(["Expired", "Gone"]).toContain(err.object.reason);
        expect(err.object.message).toMatch(/too old resource version/);
        expect(objEvents(w.events).filter((e) => e.type !== "ERROR")).toEqual([]);
        await w.waitFor(() => w.ended, 10_000, "the stream to end after the ERROR");
        // a fresh list + watch from its resourceVersion works
        const list = await api.get(`${L}?limit=1`);
        expect(list.status).toBe(200);
        const w2 = await watch(L, `resourceVersion=${list.json.metadata.resourceVersion}`);
        await create(L, "after-relist");
        await w2.waitFor((e) => objEvents(e).length >= 1, 10_000, "the event after relisting");
        expect(summary(w2.events)).toEqual(["ADDED after-relist"]);
      }, 180_000);

      it("a resourceVersion far in the future → in-stream ERROR 504 Too large resource version", async () => {
        const L = await ns("w-future");
        const w = await watch(L, "resourceVersion=999999999");
        await w.waitFor((e) => e.some((x) => x.type === "ERROR"), 20_000, "the ERROR event");
        const err = w.events.find((x) => x.type === "ERROR")!;
        expect(err.object.code).toBe(504);
        expect(err.object.message).toMatch(/Too large resource version/i);
      }, 30_000);

      it("allowWatchBookmarks=true: BOOKMARK events carry only metadata.resourceVersion", async () => {
        const L = await ns("w-bookmark");
        const c = await create(L, "x");
        const w = await watch(L, `resourceVersion=${c.metadata.resourceVersion}&allowWatchBookmarks=true`);
        await w.waitFor(
          (e) => e.filter((x) => x.type === "BOOKMARK").length >= 2,
          15_000,
          "two BOOKMARK events",
        );
        for (const b of w.events.filter((x) => x.type === "BOOKMARK")) {
          expect(b.object.kind).toBe("ConfigMap");
          expect(b.object.apiVersion).toBe("v1");
          expect(Object.keys(b.object.metadata)).toEqual(["resourceVersion"]);
          expect(b.object.metadata.resourceVersion).toMatch(/^\d+$/);
          expect(Number(b.object.metadata.resourceVersion)).toBeGreaterThanOrEqual(
            Number(c.metadata.resourceVersion),
          );
          expect(b.object.data).toBeUndefined();
        }
        expect(objEvents(w.events)).toEqual([]);
        // without allowWatchBookmarks there are none
        const plain = await watch(L, `resourceVersion=${c.metadata.resourceVersion}`);
        await delay(1500);
        expect(plain.events.filter((x) => x.type === "BOOKMARK")).toEqual([]);
      }, 30_000);

      it("sendInitialEvents=true ends the initial events with a BOOKMARK annotated k8s.io/initial-events-end", async () => {
        const L = await ns("w-initial");
        await create(L, "a");
        await create(L, "b");
        await create(L, "c");
        const w = await watch(
          L,
          "sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan",
        );
        await w.waitFor(
          (e) => e.some((x) => x.object?.metadata?.annotations?.["k8s.io/initial-events-end"] === "true"),
          10_000,
          "the initial-events-end BOOKMARK",
        );
        const idx = w.events.findIndex(
          (x) => x.object?.metadata?.annotations?.["k8s.io/initial-events-end"] === "true",
        );
        const end = w.events[idx]!;
        expect(end.type).toBe("BOOKMARK");
        expect(
          w.events
            .slice(0, idx)
            .filter((x) => x.type !== "BOOKMARK")
            .map((x) => `${x.type} ${x.object.metadata.name}`),
        ).toEqual(["ADDED a", "ADDED b", "ADDED c"]);
        const maxRv = Math.max(
          ...w.events
            .slice(0, idx)
            .filter((x) => x.type === "ADDED")
            .map((x) => Number(x.object.metadata.resourceVersion)),
        );
        expect(Number(end.object.metadata.resourceVersion)).toBeGreaterThanOrEqual(maxRv);
        await create(L, "d");
        await w.waitFor((e) => e.slice(idx + 1).some((x) => x.type === "ADDED"), 10_000, "the live ADDED");
        expect(
          w.events
            .slice(idx + 1)
            .filter((x) => x.type !== "BOOKMARK")
            .map((x) => x.object.metadata.name),
        ).toEqual(["d"]);
      });

      it("timeoutSeconds=1 ends the stream after about a second", async () => {
        const L = await ns("w-timeout");
        const started = Date.now();
        const w = await watch(L, "timeoutSeconds=1");
        await w.waitFor(() => w.ended, 15_000, "the stream to end");
        const took = (w.endedAt ?? Date.now()) - started;
        expect(took).toBeGreaterThanOrEqual(800);
        expect(took).toBeLessThan(10_000);
        expect(w.error).toBeUndefined();
      });

      it("a label-selector watch gets DELETED when a label change moves an object out, ADDED when it moves back", async () => {
        const L = await ns("w-labels");
        const w = await watch(L, `labelSelector=${encodeURIComponent("app=x")}`);
        await create(L, "in", { app: "x" });
        await create(L, "never", { app: "y" });
        await w.waitFor((e) => objEvents(e).length >= 1, 10_000, "ADDED in");
        expect((await api.patch(`${L}/in`, { metadata: { labels: { app: "y" } } }, MERGE)).status).toBe(200);
        await w.waitFor((e) => objEvents(e).length >= 2, 10_000, "DELETED in");
        const gone = objEvents(w.events)[1]!;
        expect(gone.type).toBe("DELETED");
        expect(gone.object.metadata.name).toBe("in");
        expect((await api.patch(`${L}/never`, { data: { k: "2" } }, MERGE)).status).toBe(200);
        expect((await api.patch(`${L}/in`, { metadata: { labels: { app: "x" } } }, MERGE)).status).toBe(200);
        await w.waitFor((e) => objEvents(e).length >= 3, 10_000, "ADDED in again");
        expect((await api.patch(`${L}/in`, { data: { k: "3" } }, MERGE)).status).toBe(200);
        expect((await api.del(`${L}/in`)).status).toBe(200);
        await w.waitFor((e) => objEvents(e).length >= 5, 10_000, "MODIFIED and DELETED in");
        await delay(300);
        expect(summary(w.events)).toEqual([
          "ADDED in",
          "DELETED in",
          "ADDED in",
          "MODIFIED in",
          "DELETED in",
        ]);
      });

      it("a watch with fieldSelector=metadata.name=X only sees X", async () => {
        const L = await ns("w-field");
        await create(L, "y");
        const w = await watch(L, `fieldSelector=${encodeURIComponent("metadata.name=x")}`);
        await create(L, "x");
        await create(L, "z");
        expect((await api.patch(`${L}/y`, { data: { k: "2" } }, MERGE)).status).toBe(200);
        expect((await api.patch(`${L}/x`, { data: { k: "2" } }, MERGE)).status).toBe(200);
        expect((await api.del(`${L}/z`)).status).toBe(200);
        expect((await api.del(`${L}/x`)).status).toBe(200);
        await w.waitFor((e) => objEvents(e).length >= 3, 10_000, "three events for x");
        await delay(300);
        expect(summary(w.events)).toEqual(["ADDED x", "MODIFIED x", "DELETED x"]);
        // the same through the legacy single-object watch path /api/v1/watch/namespaces/NS/configmaps/NAME
        const x = await create(L, "x");
        const single = await watch(
          "/api/v1/watch/namespaces/w-field/configmaps/x",
          `resourceVersion=${x.metadata.resourceVersion}`,
        );
        expect((await api.patch(`${L}/y`, { data: { k: "3" } }, MERGE)).status).toBe(200);
        expect((await api.patch(`${L}/x`, { data: { k: "3" } }, MERGE)).status).toBe(200);
        await single.waitFor((e) => objEvents(e).length >= 1, 10_000, "MODIFIED x");
        await delay(300);
        expect(summary(single.events)).toEqual(["MODIFIED x"]);
      });

      it("fan-out: 100 concurrent watchers each receive every event of 200 creates, in order", async () => {
        const L = await ns("w-fan");
        const list = await api.get(L);
        const rv = list.json.metadata.resourceVersion;
        const watchers = await Promise.all(
          Array.from({ length: 100 }, () => watch(L, `resourceVersion=${rv}`)),
        );
        const expected = Array.from({ length: 200 }, (_, i) => `ADDED o-${String(i).padStart(3, "0")}`);
        for (let i = 0; i < 200; i += 10) {
          await Promise.all(expected.slice(i, i + 10).map((s) => create(L, s.slice(6))));
        }
        await Promise.all(
          watchers.map((w, i) =>
            w.waitFor((e) => objEvents(e).length >= 200, 60_000, `200 events on watcher ${i}`),
          ),
        );
        const rvOrder = (w: WatchStream) =>
          objEvents(w.events).map((e) => Number(e.object.metadata.resourceVersion));
        const reference = summary(watchers[0]!.events);
        expect([...reference].sort()).toEqual(expected);
        for (const w of watchers) {
          expect(summary(w.events)).toEqual(reference);
          const rvs = rvOrder(w);
          expect(rvs).toEqual([...rvs].sort((a, b) => a - b));
        }
        for (const w of watchers) w.close();
      }, 120_000);

      it("a client that never reads its stream does not block the other watchers", async () => {
        const L = await ns("w-slow");
        const list = await api.get(L);
        const rv = list.json.metadata.resourceVersion;
        // large objects, so the never-reading client's socket buffers fill up and the server sees backpressure
        const payload = { blob: "x".repeat(64 * 1024) };
        const slow = await watch(L, `resourceVersion=${rv}`, { read: false });
        const fast = await Promise.all(Array.from({ length: 5 }, () => watch(L, `resourceVersion=${rv}`)));
        for (let i = 0; i < 200; i += 10) {
          await Promise.all(
            Array.from({ length: 10 }, (_, j) =>
              create(L, `big-${String(i + j).padStart(3, "0")}`, undefined, payload),
            ),
          );
        }
        await Promise.all(
          fast.map((w, i) =>
            w.waitFor((e) => objEvents(e).length >= 200, 60_000, `200 events on fast watcher ${i}`),
          ),
        );
        for (const w of fast) expect(objEvents(w.events).every((e) => e.type === "ADDED")).toBe(true);
        // and new requests are still served while the slow stream is stuck
        const after = await api.get(`${L}?limit=1`);
        expect(after.status).toBe(200);
        const late = await watch(L, `resourceVersion=${after.json.metadata.resourceVersion}`);
        await create(L, "late");
        await late.waitFor((e) => objEvents(e).length >= 1, 30_000, "a new watcher's event");
        expect(summary(late.events)).toEqual(["ADDED late"]);
        await Promise.all(
          fast.map((w, i) =>
            w.waitFor((e) => objEvents(e).length >= 201, 30_000, `201 events on fast watcher ${i}`),
          ),
        );
        slow.close();
        for (const w of fast) w.close();
        late.close();
      }, 180_000);
    },
  );
}
