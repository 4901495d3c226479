/**
 * API semantics of a real apiserver child on SQLite and on etcd, through raw HTTPS requests:
 * create/get/list/paging, optimistic concurrency, every patch type, dry runs, finalizers and
 * graceful deletion, subresources, Service allocations (also across a restart), representations
 * (Table, partial metadata), discovery, OpenAPI, authentication and what exists at start.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Api, configMap, type HttpResult } from "./helpers/api-http.js";
import { startApiserver } from "./helpers/apiserver.js";
import { BACKENDS, type BackendApiserver, startOn, title } from "./helpers/backends.js";

const TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io";
const PARTIAL_LIST = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io";
const AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
const MERGE = "application/merge-patch+json";
const JSONPATCH = "application/json-patch+json";
const STRATEGIC = "application/strategic-merge-patch+json";
const APPLY = "application/apply-patch+yaml";

const NS = "sem";
const CM = `/api/v1/namespaces/${NS}/configmaps`;
const PODS = `/api/v1/namespaces/${NS}/pods`;
const DEPLOY = `/apis/apps/v1/namespaces/${NS}/deployments`;
const SVC = `/api/v1/namespaces/${NS}/services`;

function ok(r: HttpResult, code: number): void {
  expect(r.status, `${r.status} ${r.text.slice(0, 800)}`).toBe(code);
}

function names(list: HttpResult): string[] {
  return (list.json.items as { metadata: { name: string } }[]).map((i) => i.metadata.name).sort();
}

function pod(
  name: string,
  extra: { nodeName?: string; labels?: Record<string, string>; finalizers?: string[] } = {},
) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      ...(extra.labels ? { labels: extra.labels } : {}),
      ...(extra.finalizers ? { finalizers: extra.finalizers } : {}),
    },
    spec: {
      ...(extra.nodeName ? { nodeName: extra.nodeName } : {}),
      containers: [{ name: "c", image: "busybox" }],
    },
  };
}

function deployment(name: string, containers = [{ name: "a", image: "img-a:1" }], replicas = 1) {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers } },
    },
  };
}

function service(name: string, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name },
    spec: { selector: { app: name }, ports: [{ port: 80, protocol: "TCP", targetPort: 8080 }], ...spec },
  };
}

function causes(r: HttpResult): string {
  return JSON.stringify(r.json?.details?.causes ?? []) + (r.json?.message ?? "");
}

const EXTRA_TOKEN = "e2e-extra-token-0123456789";

for (const backend of BACKENDS) {
  describe.skipIf(!!backend.skip)(title(backend, "apiserver API semantics"), () => {
    let srv: BackendApiserver;
    let api: Api;
    let tokenDir: string;
    let restarted: Awaited<ReturnType<typeof startApiserver>> | undefined;

    beforeAll(async () => {
      tokenDir = mkdtempSync(join(tmpdir(), "kp-sem-tokens-"));
      writeFileSync(join(tokenDir, "tokens.csv"), `${EXTRA_TOKEN},alice,uid-alice,"dev,qa"\n`);
      srv = await startOn(backend.name, ["--token-auth-file", join(tokenDir, "tokens.csv")], {
        keepDataDir: true,
      });
      api = new Api(srv.api);
      ok(
        await api.post("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }),
        201,
      );
    });

    afterAll(async () => {
      await api?.close();
      await restarted?.stop();
      await srv?.stop();
      if (srv) rmSync(srv.api.dataDir, { recursive: true, force: true });
      if (tokenDir) rmSync(tokenDir, { recursive: true, force: true });
    });

    describe("at start", () => {
      it("the default namespaces exist and are Active", async () => {
        const r = await api.get("/api/v1/namespaces");
        ok(r, 200);
        for (const n of ["default", "kube-system", "kube-public", "kube-node-lease"]) {
          const ns = r.json.items.find((i: { metadata: { name: string } }) => i.metadata.name === n);
          expect(ns, n).toBeDefined();
          expect(ns.status.phase).toBe("Active");
        }
      });

      it("default/kubernetes Service (10.96.0.1:443) with Endpoints and EndpointSlice pointing at the apiserver", async () => {
        const svc = await api.get("/api/v1/namespaces/default/services/kubernetes");
        ok(svc, 200);
        expect(svc.json.spec.clusterIP).toBe("10.96.0.1");
        expect(svc.json.spec.ports[0].port).toBe(443);
        const port = Number(new URL(srv.api.url).port);
        const ep = await api.get("/api/v1/namespaces/default/endpoints/kubernetes");
        ok(ep, 200);
        expect(ep.json.subsets[0].addresses[0].ip).toBe("127.0.0.1");
        expect(ep.json.subsets[0].ports[0].port).toBe(port);
        const slice = await api.get("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes");
        ok(slice, 200);
        expect(slice.json.addressType).toBe("IPv4");
        expect(slice.json.endpoints[0].addresses).toEqual(["127.0.0.1"]);
        expect(slice.json.ports[0].port).toBe(port);
        expect(slice.json.metadata.labels["kubernetes.io/service-name"]).toBe("kubernetes");
      });
    });

    describe("create, get, list", () => {
      it("generateName gives prefix + 5 characters, uid, creationTimestamp, generation 1, a numeric resourceVersion", async () => {
        const r = await api.post(CM, {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { generateName: "gen-" },
          data: { a: "1" },
        });
        ok(r, 201);
        const m = r.json.metadata;
        expect(m.name).toMatch(/^gen-[a-z0-9]{5}$/);
        expect(m.uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        expect(m.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        expect(Math.abs(Date.parse(m.creationTimestamp) - Date.now())).toBeLessThan(60_000);
        expect(m.generation).toBe(1);
        expect(m.resourceVersion).toMatch(/^\d+$/);
        const got = await api.get(`${CM}/${m.name}`);
        ok(got, 200);
        expect(got.json.metadata.uid).toBe(m.uid);
        expect(got.json.metadata.resourceVersion).toBe(m.resourceVersion);
        const second = await api.post(CM, {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { generateName: "gen-" },
        });
        ok(second, 201);
        expect(second.json.metadata.name).not.toBe(m.name);
        expect(second.json.metadata.uid).not.toBe(m.uid);
        expect(Number(second.json.metadata.resourceVersion)).toBeGreaterThan(Number(m.resourceVersion));
      });

      it("a second create of the same name → 409 AlreadyExists", async () => {
        ok(await api.post(CM, configMap("dup")), 201);
        const r = await api.post(CM, configMap("dup"));
        ok(r, 409);
        expect(r.json.reason).toBe("AlreadyExists");
      });

      it("namespaced create in a missing namespace → 404", async () => {
        const r = await api.post("/api/v1/namespaces/nowhere/configmaps", configMap("x"));
        ok(r, 404);
        expect(r.json.message).toContain("nowhere");
      });

      it("list with label selectors (equality, set-based, existence)", async () => {
        const L = "/api/v1/namespaces/sel/configmaps";
        ok(
          await api.post("/api/v1/namespaces", {
            apiVersion: "v1",
            kind: "Namespace",
            metadata: { name: "sel" },
          }),
          201,
        );
        const items: [string, Record<string, string>][] = [
          ["a1", { app: "a", tier: "web" }],
          ["a2", { app: "a", tier: "db" }],
          ["b1", { app: "b", tier: "web" }],
          ["c1", { app: "c" }],
        ];
        for (const [n, l] of items) ok(await api.post(L, configMap(n, { x: "y" }, l)), 201);
        const q = (s: string) => api.get(`${L}?labelSelector=${encodeURIComponent(s)}`);
        expect(names(await q("app=a"))).toEqual(["a1", "a2"]);
        expect(names(await q("app!=a"))).toEqual(["b1", "c1"]);
        expect(names(await q("app in (a,c)"))).toEqual(["a1", "a2", "c1"]);
        expect(names(await q("app notin (a,c)"))).toEqual(["b1"]);
        expect(names(await q("tier"))).toEqual(["a1", "a2", "b1"]);
        expect(names(await q("!tier"))).toEqual(["c1"]);
        expect(names(await q("app=a,tier=web"))).toEqual(["a1"]);
        // field selectors on metadata
        expect(names(await api.get(`${L}?fieldSelector=metadata.name%3Db1`))).toEqual(["b1"]);
        expect(names(await api.get(`${L}?fieldSelector=metadata.name!%3Db1`))).toEqual(["a1", "a2", "c1"]);
        const across = await api.get(
          `/api/v1/configmaps?fieldSelector=${encodeURIComponent("metadata.namespace=sel")}`,
        );
        ok(across, 200);
        expect(names(across)).toEqual(["a1", "a2", "b1", "c1"]);
        const both = await api.get(
          `/api/v1/configmaps?fieldSelector=${encodeURIComponent("metadata.namespace=sel")}&labelSelector=tier%3Dweb`,
        );
        expect(names(both)).toEqual(["a1", "b1"]);
      });

      it("pods by spec.nodeName and status.phase field selectors", async () => {
        const P = "/api/v1/namespaces/fsel/pods";
        ok(
          await api.post("/api/v1/namespaces", {
            apiVersion: "v1",
            kind: "Namespace",
            metadata: { name: "fsel" },
          }),
          201,
        );
        ok(await api.post(P, pod("p1", { nodeName: "n1" })), 201);
        ok(await api.post(P, pod("p2", { nodeName: "n2" })), 201);
        ok(await api.post(P, pod("p3")), 201);
        const p1 = await api.get(`${P}/p1`);
        expect(p1.json.status.phase).toBe("Pending");
        const st = await api.put(`${P}/p1/status`, {
          ...p1.json,
          status: { ...p1.json.status, phase: "Running" },
        });
        ok(st, 200);
        expect(st.json.status.phase).toBe("Running");
        const q = (s: string) => api.get(`${P}?fieldSelector=${encodeURIComponent(s)}`);
        expect(names(await q("spec.nodeName=n1"))).toEqual(["p1"]);
        expect(names(await q("spec.nodeName="))).toEqual(["p3"]);
        expect(names(await q("spec.nodeName!="))).toEqual(["p1", "p2"]);
        expect(names(await q("status.phase=Running"))).toEqual(["p1"]);
        expect(names(await q("status.phase!=Running"))).toEqual(["p2", "p3"]);
        expect(names(await q("status.phase=Pending,spec.nodeName=n2"))).toEqual(["p2"]);
        expect(names(await q("status.phase=Pending,spec.nodeName=n1"))).toEqual([]);
        expect(
          names(await api.get(`/api/v1/pods?fieldSelector=${encodeURIComponent("spec.nodeName=n2")}`)),
        ).toEqual(["p2"]);
      });

      it("limit/continue pages are one consistent snapshot with remainingItemCount", async () => {
        const L = "/api/v1/namespaces/paging/configmaps";
        ok(
          await api.post("/api/v1/namespaces", {
            apiVersion: "v1",
            kind: "Namespace",
            metadata: { name: "paging" },
          }),
          201,
        );
        const original = ["p-a", "p-b", "p-c", "p-d", "p-e", "p-f", "p-g"];
        for (const n of original) ok(await api.post(L, configMap(n, { v: "1" })), 201);
        const first = await api.get(`${L}?limit=3`);
        ok(first, 200);
        expect(names(first)).toEqual(["p-a", "p-b", "p-c"]);
        const rv = first.json.metadata.resourceVersion;
        expect(first.json.metadata.continue).toBeTruthy();
        // soft: reported separately so the snapshot checks below still run
        expect.soft(first.json.metadata.remainingItemCount, "remainingItemCount on page 1").toBe(4);
        // changes after the first page: a new object in the unread range, one deleted, one modified
        ok(await api.post(L, configMap("p-dd", { v: "new" })), 201);
        ok(await api.del(`${L}/p-f`), 200);
        ok(await api.patch(`${L}/p-e`, { data: { v: "2" } }, MERGE), 200);
        const second = await api.get(
          `${L}?limit=3&continue=${encodeURIComponent(first.json.metadata.continue)}`,
        );
        ok(second, 200);
        expect(names(second)).toEqual(["p-d", "p-e", "p-f"]);
        expect(second.json.metadata.resourceVersion).toBe(rv);
        expect(
          second.json.items.find((i: { metadata: { name: string } }) => i.metadata.name === "p-e").data.v,
        ).toBe("1");
        expect.soft(second.json.metadata.remainingItemCount, "remainingItemCount on page 2").toBe(1);
        const third = await api.get(
          `${L}?limit=3&continue=${encodeURIComponent(second.json.metadata.continue)}`,
        );
        ok(third, 200);
        expect(names(third)).toEqual(["p-g"]);
        expect(third.json.metadata.resourceVersion).toBe(rv);
        expect(third.json.metadata.continue ?? "").toBe("");
        expect(third.json.metadata.remainingItemCount).toBeUndefined();
        // a fresh list sees the changes
        const now = await api.get(L);
        expect(names(now)).toEqual(["p-a", "p-b", "p-c", "p-d", "p-dd", "p-e", "p-g"]);
        expect(Number(now.json.metadata.resourceVersion)).toBeGreaterThan(Number(rv));
      });
    });

    describe("update", () => {
      it("a stale resourceVersion → 409 Conflict, and the object is unchanged", async () => {
        const c = await api.post(CM, configMap("occ", { v: "0" }));
        ok(c, 201);
        const u1 = await api.put(`${CM}/occ`, { ...c.json, data: { v: "1" } });
        ok(u1, 200);
        expect(Number(u1.json.metadata.resourceVersion)).toBeGreaterThan(
          Number(c.json.metadata.resourceVersion),
        );
        const stale = await api.put(`${CM}/occ`, { ...c.json, data: { v: "stale" } });
        ok(stale, 409);
        expect(stale.json.reason).toBe("Conflict");
        const got = await api.get(`${CM}/occ`);
        expect(got.json.data.v).toBe("1");
        // no resourceVersion at all: unconditional update
        const { resourceVersion: _rv, ...meta } = u1.json.metadata;
        ok(await api.put(`${CM}/occ`, { ...u1.json, metadata: meta, data: { v: "2" } }), 200);
      });

      it("generation moves only on spec changes", async () => {
        const c = await api.post(DEPLOY, deployment("gen"));
        ok(c, 201);
        expect(c.json.metadata.generation).toBe(1);
        const labelOnly = await api.put(`${DEPLOY}/gen`, {
          ...c.json,
          metadata: { ...c.json.metadata, labels: { app: "gen", extra: "yes" } },
        });
        ok(labelOnly, 200);
        expect(labelOnly.json.metadata.generation).toBe(1);
        const specChange = await api.put(`${DEPLOY}/gen`, {
          ...labelOnly.json,
          spec: { ...labelOnly.json.spec, replicas: 4 },
        });
        ok(specChange, 200);
        expect(specChange.json.metadata.generation).toBe(2);
        const st = await api.put(`${DEPLOY}/gen/status`, {
          ...specChange.json,
          status: { replicas: 4, observedGeneration: 2 },
        });
        ok(st, 200);
        expect(st.json.metadata.generation).toBe(2);
        const p = await api.patch(`${DEPLOY}/gen`, { spec: { replicas: 5 } }, MERGE);
        ok(p, 200);
        expect(p.json.metadata.generation).toBe(3);
      });
    });

    describe("patch", () => {
      it("JSON patch: add/replace/remove; a failing test op changes nothing", async () => {
        ok(await api.post(CM, configMap("jp", { a: "1", b: "2" })), 201);
        const r = await api.patch(
          `${CM}/jp`,
          [
            { op: "add", path: "/data/c", value: "3" },
            { op: "replace", path: "/data/a", value: "10" },
            { op: "remove", path: "/data/b" },
            { op: "add", path: "/metadata/labels", value: { patched: "json" } },
          ],
          JSONPATCH,
        );
        ok(r, 200);
        expect(r.json.data).toEqual({ a: "10", c: "3" });
        expect(r.json.metadata.labels).toEqual({ patched: "json" });
        const before = r.json.metadata.resourceVersion;
        const bad = await api.patch(
          `${CM}/jp`,
          [
            { op: "test", path: "/data/a", value: "nope" },
            { op: "add", path: "/data/d", value: "4" },
          ],
          JSONPATCH,
        );
        expect(bad.status).toBeGreaterThanOrEqual(400);
        expect(bad.status).toBeLessThan(500);
        const got = await api.get(`${CM}/jp`);
        expect(got.json.data).toEqual({ a: "10", c: "3" });
        expect(got.json.metadata.resourceVersion).toBe(before);
      });

      it("merge patch: null removes a key, maps merge", async () => {
        ok(await api.post(CM, configMap("mp", { a: "1", b: "2" })), 201);
        const r = await api.patch(
          `${CM}/mp`,
          { data: { a: null, c: "3" }, metadata: { annotations: { x: "y" } } },
          MERGE,
        );
        ok(r, 200);
        expect(r.json.data).toEqual({ b: "2", c: "3" });
        expect(r.json.metadata.annotations).toEqual({ x: "y" });
      });

      it("strategic merge patch merges a Deployment's containers by name (merge patch replaces the list)", async () => {
        const two = [
          { name: "a", image: "img-a:1" },
          { name: "b", image: "img-b:1" },
        ];
        ok(await api.post(DEPLOY, deployment("smp", two)), 201);
        const r = await api.patch(
          `${DEPLOY}/smp`,
          { spec: { template: { spec: { containers: [{ name: "b", image: "img-b:2" }] } } } },
          STRATEGIC,
        );
        ok(r, 200);
        const cs = r.json.spec.template.spec.containers as { name: string; image: string }[];
        expect(cs.map((c) => `${c.name}=${c.image}`)).toEqual(["a=img-a:1", "b=img-b:2"]);
        // $patch: delete removes one element by its key
        const del = await api.patch(
          `${DEPLOY}/smp`,
          { spec: { template: { spec: { containers: [{ name: "a", $patch: "delete" }] } } } },
          STRATEGIC,
        );
        ok(del, 200);
        expect(del.json.spec.template.spec.containers.map((c: { name: string }) => c.name)).toEqual(["b"]);
        // contrast: a JSON merge patch replaces the whole list
        ok(await api.post(DEPLOY, deployment("smp-merge", two)), 201);
        const m = await api.patch(
          `${DEPLOY}/smp-merge`,
          { spec: { template: { spec: { containers: [{ name: "b", image: "img-b:2" }] } } } },
          MERGE,
        );
        ok(m, 200);
        expect(m.json.spec.template.spec.containers.map((c: { name: string }) => c.name)).toEqual(["b"]);
      });

      it("server-side apply: create with managedFields Apply, conflict between managers (409), force takes over", async () => {
        const yamlA = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  owned: "by-a"\n  other: "a"\n`;
        const noManager = await api.patch(`${CM}/ssa`, yamlA, APPLY);
        ok(noManager, 400);
        const a = await api.patch(`${CM}/ssa?fieldManager=mgr-a`, yamlA, APPLY);
        ok(a, 201);
        expect(a.json.data).toEqual({ owned: "by-a", other: "a" });
        const mfA = a.json.metadata.managedFields as {
          manager: string;
          operation: string;
          fieldsV1: object;
        }[];
        const entryA = mfA.find((e) => e.manager === "mgr-a");
        expect(entryA?.operation).toBe("Apply");
        expect(JSON.stringify(entryA?.fieldsV1)).toContain("f:owned");

        const yamlB = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  owned: "by-b"\n`;
        const conflict = await api.patch(`${CM}/ssa?fieldManager=mgr-b`, yamlB, APPLY);
        ok(conflict, 409);
        expect(conflict.json.reason).toBe("Conflict");
        expect(conflict.json.message).toContain("mgr-a");
        expect((await api.get(`${CM}/ssa`)).json.data.owned).toBe("by-a");

        const forced = await api.patch(`${CM}/ssa?fieldManager=mgr-b&force=true`, yamlB, APPLY);
        ok(forced, 200);
        expect(forced.json.data.owned).toBe("by-b");
        expect(forced.json.data.other).toBe("a");
        const mf = forced.json.metadata.managedFields as {
          manager: string;
          operation: string;
          fieldsV1: object;
        }[];
        const b = mf.find((e) => e.manager === "mgr-b");
        expect(b?.operation).toBe("Apply");
        expect(JSON.stringify(b?.fieldsV1)).toContain("f:owned");
        const stillA = mf.find((e) => e.manager === "mgr-a");
        expect(JSON.stringify(stillA?.fieldsV1 ?? {})).not.toContain("f:owned");
        expect(JSON.stringify(stillA?.fieldsV1 ?? {})).toContain("f:other");

        // a manager that re-applies without a field it owned removes it
        const yamlA2 = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata: {}\n`;
        const removed = await api.patch(`${CM}/ssa?fieldManager=mgr-a`, yamlA2, APPLY);
        ok(removed, 200);
        expect(removed.json.data?.other).toBeUndefined();
        expect(removed.json.data?.owned).toBe("by-b");

        // an Update by another manager is recorded with operation Update
        const upd = await api.patch(`${CM}/ssa?fieldManager=kubectl-edit`, { data: { edited: "1" } }, MERGE);
        ok(upd, 200);
        const e = (upd.json.metadata.managedFields as { manager: string; operation: string }[]).find(
          (x) => x.manager === "kubectl-edit",
        );
        expect(e?.operation).toBe("Update");
      });
    });

    describe("dryRun=All", () => {
      it("create, update, patch and delete change nothing", async () => {
        const created = await api.post(`${CM}?dryRun=All`, configMap("dry", { a: "1" }));
        ok(created, 201);
        expect(created.json.metadata.name).toBe("dry");
        ok(await api.get(`${CM}/dry`), 404);

        const real = await api.post(CM, configMap("dry2", { a: "1" }));
        ok(real, 201);
        const rv = real.json.metadata.resourceVersion;
        const upd = await api.put(`${CM}/dry2?dryRun=All`, { ...real.json, data: { a: "changed" } });
        ok(upd, 200);
        expect(upd.json.data.a).toBe("changed");
        const p = await api.patch(`${CM}/dry2?dryRun=All`, { data: { a: "patched" } }, MERGE);
        ok(p, 200);
        expect(p.json.data.a).toBe("patched");
        const d = await api.del(`${CM}/dry2?dryRun=All`);
        ok(d, 200);
        const got = await api.get(`${CM}/dry2`);
        ok(got, 200);
        expect(got.json.data.a).toBe("1");
        expect(got.json.metadata.resourceVersion).toBe(rv);
        expect(got.json.metadata.deletionTimestamp).toBeUndefined();
      });

      it("a dry-run Service create allocates no cluster IP for good", async () => {
        const d = await api.post(`${SVC}?dryRun=All`, service("dry-svc", { clusterIP: "10.96.200.200" }));
        ok(d, 201);
        ok(await api.get(`${SVC}/dry-svc`), 404);
        const real = await api.post(SVC, service("real-svc-after-dry", { clusterIP: "10.96.200.200" }));
        ok(real, 201);
        ok(await api.del(`${SVC}/real-svc-after-dry`), 200);
      });
    });

    describe("deletion", () => {
      it("with a finalizer: deletionTimestamp is set and the object stays; removing the finalizer removes it", async () => {
        ok(
          await api.post(CM, {
            ...configMap("fin"),
            metadata: { name: "fin", finalizers: ["example.com/hold"] },
          }),
          201,
        );
        const d = await api.del(`${CM}/fin`);
        ok(d, 200);
        expect(d.json.metadata.deletionTimestamp).toBeTruthy();
        const got = await api.get(`${CM}/fin`);
        ok(got, 200);
        expect(got.json.metadata.deletionTimestamp).toBeTruthy();
        expect(got.json.metadata.finalizers).toEqual(["example.com/hold"]);
        // no new finalizers once deletion started
        const add = await api.patch(
          `${CM}/fin`,
          { metadata: { finalizers: ["example.com/hold", "example.com/new"] } },
          MERGE,
        );
        ok(add, 422);
        const rm = await api.patch(`${CM}/fin`, { metadata: { finalizers: null } }, MERGE);
        ok(rm, 200);
        ok(await api.get(`${CM}/fin`), 404);
      });

      for (const [policy, finalizer] of [
        ["Foreground", "foregroundDeletion"],
        ["Orphan", "orphan"],
      ] as const) {
        it(`propagationPolicy=${policy} keeps the object with the ${finalizer} finalizer`, async () => {
          const name = `prop-${policy.toLowerCase()}`;
          ok(await api.post(DEPLOY, deployment(name)), 201);
          const d = await api.del(`${DEPLOY}/${name}?propagationPolicy=${policy}`);
          ok(d, 200);
          const got = await api.get(`${DEPLOY}/${name}`);
          ok(got, 200);
          expect(got.json.metadata.deletionTimestamp).toBeTruthy();
          expect(got.json.metadata.finalizers).toContain(finalizer);
          ok(
            await api.patch(`${DEPLOY}/${name}`, [{ op: "remove", path: "/metadata/finalizers" }], JSONPATCH),
            200,
          );
          ok(await api.get(`${DEPLOY}/${name}`), 404);
        });
      }

      it("propagationPolicy in a DeleteOptions body works like the query parameter", async () => {
        ok(await api.post(DEPLOY, deployment("prop-body")), 201);
        const d = await api.req("DELETE", `${DEPLOY}/prop-body`, {
          body: { apiVersion: "v1", kind: "DeleteOptions", propagationPolicy: "Orphan" },
        });
        ok(d, 200);
        expect((await api.get(`${DEPLOY}/prop-body`)).json.metadata.finalizers).toContain("orphan");
        ok(await api.patch(`${DEPLOY}/prop-body`, { metadata: { finalizers: null } }, MERGE), 200);
      });

      it("a scheduled pod is deleted gracefully (30 s); gracePeriodSeconds=0 then removes it", async () => {
        ok(await api.post(PODS, pod("graceful", { nodeName: "node-x" })), 201);
        const d = await api.del(`${PODS}/graceful`);
        ok(d, 200);
        const got = await api.get(`${PODS}/graceful`);
        ok(got, 200);
        expect(got.json.metadata.deletionTimestamp).toBeTruthy();
        expect(got.json.metadata.deletionGracePeriodSeconds).toBe(30);
        const when = Date.parse(got.json.metadata.deletionTimestamp) - Date.now();
        expect(when).toBeGreaterThan(10_000);
        expect(when).toBeLessThanOrEqual(31_000);
        // a second delete without a shorter grace period changes nothing
        ok(await api.del(`${PODS}/graceful`), 200);
        expect((await api.get(`${PODS}/graceful`)).json.metadata.deletionGracePeriodSeconds).toBe(30);
        ok(await api.del(`${PODS}/graceful?gracePeriodSeconds=0`), 200);
        ok(await api.get(`${PODS}/graceful`), 404);
      });

      it("an unscheduled pod is removed at once", async () => {
        ok(await api.post(PODS, pod("unscheduled")), 201);
        ok(await api.del(`${PODS}/unscheduled`), 200);
        ok(await api.get(`${PODS}/unscheduled`), 404);
      });

      it("deletecollection with a labelSelector deletes only the matching objects", async () => {
        const L = "/api/v1/namespaces/dc/configmaps";
        ok(
          await api.post("/api/v1/namespaces", {
            apiVersion: "v1",
            kind: "Namespace",
            metadata: { name: "dc" },
          }),
          201,
        );
        for (let i = 0; i < 4; i++)
          ok(await api.post(L, configMap(`gone-${i}`, { i: String(i) }, { purge: "yes" })), 201);
        for (let i = 0; i < 3; i++)
          ok(await api.post(L, configMap(`kept-${i}`, { i: String(i) }, { purge: "no" })), 201);
        ok(await api.post(CM, configMap("other-ns-purge", {}, { purge: "yes" })), 201);
        const r = await api.del(`${L}?labelSelector=purge%3Dyes`);
        ok(r, 200);
        expect(names(await api.get(L))).toEqual(["kept-0", "kept-1", "kept-2"]);
        ok(await api.get(`${CM}/other-ns-purge`), 200);
      });
    });

    describe("subresources", () => {
      it("pods/binding sets nodeName and PodScheduled; a second binding → 409", async () => {
        ok(await api.post(PODS, pod("bind-me")), 201);
        const binding = (node: string) => ({
          apiVersion: "v1",
          kind: "Binding",
          metadata: { name: "bind-me" },
          target: { apiVersion: "v1", kind: "Node", name: node },
        });
        ok(await api.post(`${PODS}/bind-me/binding`, binding("node-a")), 201);
        const got = await api.get(`${PODS}/bind-me`);
        expect(got.json.spec.nodeName).toBe("node-a");
        const cond = got.json.status.conditions.find((c: { type: string }) => c.type === "PodScheduled");
        expect(cond?.status).toBe("True");
        const again = await api.post(`${PODS}/bind-me/binding`, binding("node-b"));
        ok(again, 409);
        expect((await api.get(`${PODS}/bind-me`)).json.spec.nodeName).toBe("node-a");
      });

      it("pods/eviction deletes the pod", async () => {
        ok(await api.post(PODS, pod("evict-me")), 201);
        const r = await api.post(`${PODS}/evict-me/eviction`, {
          apiVersion: "policy/v1",
          kind: "Eviction",
          metadata: { name: "evict-me", namespace: NS },
        });
        ok(r, 201);
        ok(await api.get(`${PODS}/evict-me`), 404);
      });

      it("deployments/scale: GET, PUT and PATCH", async () => {
        ok(await api.post(DEPLOY, deployment("scaled", undefined, 2)), 201);
        const s = await api.get(`${DEPLOY}/scaled/scale`);
        ok(s, 200);
        expect(s.json.kind).toBe("Scale");
        expect(s.json.apiVersion).toBe("autoscaling/v1");
        expect(s.json.spec.replicas).toBe(2);
        expect(s.json.status.selector).toBe("app=scaled");
        const put = await api.put(`${DEPLOY}/scaled/scale`, { ...s.json, spec: { replicas: 5 } });
        ok(put, 200);
        expect(put.json.spec.replicas).toBe(5);
        expect((await api.get(`${DEPLOY}/scaled`)).json.spec.replicas).toBe(5);
        const stale = await api.put(`${DEPLOY}/scaled/scale`, { ...s.json, spec: { replicas: 7 } });
        ok(stale, 409);
        const patched = await api.patch(`${DEPLOY}/scaled/scale`, { spec: { replicas: 1 } }, MERGE);
        ok(patched, 200);
        expect(patched.json.spec.replicas).toBe(1);
        const dep = await api.get(`${DEPLOY}/scaled`);
        expect(dep.json.spec.replicas).toBe(1);
        expect(dep.json.metadata.generation).toBe(3);
        const negative = await api.patch(`${DEPLOY}/scaled/scale`, { spec: { replicas: -1 } }, MERGE);
        ok(negative, 422);
      });

      it("status updates change only status; main-resource updates ignore status", async () => {
        const c = await api.post(DEPLOY, deployment("stat", undefined, 2));
        ok(c, 201);
        const st = await api.put(`${DEPLOY}/stat/status`, {
          ...c.json,
          spec: { ...c.json.spec, replicas: 99 },
          status: { replicas: 2, readyReplicas: 1 },
        });
        ok(st, 200);
        expect(st.json.status.replicas).toBe(2);
        expect(st.json.spec.replicas).toBe(2);
        const main = await api.put(`${DEPLOY}/stat`, {
          ...st.json,
          spec: { ...st.json.spec, replicas: 3 },
          status: { replicas: 42 },
        });
        ok(main, 200);
        expect(main.json.spec.replicas).toBe(3);
        expect(main.json.status.replicas).toBe(2);
        const mp = await api.patch(`${DEPLOY}/stat`, { status: { replicas: 77 } }, MERGE);
        ok(mp, 200);
        expect(mp.json.status.replicas).toBe(2);
        const sp = await api.patch(
          `${DEPLOY}/stat/status`,
          { status: { readyReplicas: 2 }, spec: { replicas: 50 } },
          MERGE,
        );
        ok(sp, 200);
        expect(sp.json.status.readyReplicas).toBe(2);
        expect(sp.json.spec.replicas).toBe(3);
        const got = await api.get(`${DEPLOY}/stat`);
        expect(got.json.spec.replicas).toBe(3);
        expect(got.json.status).toEqual({ replicas: 2, readyReplicas: 2 });
      });
    });

    describe("Service allocations", () => {
      it("a requested ClusterIP twice → 422 already allocated; out of range → 422; deleting releases it", async () => {
        const a = await api.post(SVC, service("ip-a", { clusterIP: "10.96.50.50" }));
        ok(a, 201);
        expect(a.json.spec.clusterIP).toBe("10.96.50.50");
        expect(a.json.spec.clusterIPs).toEqual(["10.96.50.50"]);
        const b = await api.post(SVC, service("ip-b", { clusterIP: "10.96.50.50" }));
        ok(b, 422);
        expect(b.json.reason).toBe("Invalid");
        expect(causes(b)).toContain("provided IP is already allocated");
        ok(await api.get(`${SVC}/ip-b`), 404);
        const out = await api.post(SVC, service("ip-out", { clusterIP: "192.168.77.7" }));
        ok(out, 422);
        expect(causes(out)).toMatch(/not in the valid range/);
        ok(await api.del(`${SVC}/ip-a`), 200);
        const again = await api.post(SVC, service("ip-b", { clusterIP: "10.96.50.50" }));
        ok(again, 201);
        expect(again.json.spec.clusterIP).toBe("10.96.50.50");
      });

      it("allocated ClusterIPs are distinct and inside 10.96.0.0/12, never the kubernetes IP", async () => {
        const ips = new Set<string>();
        for (let i = 0; i < 8; i++) {
          const r = await api.post(SVC, service(`auto-${i}`));
          ok(r, 201);
          const ip = r.json.spec.clusterIP as string;
          const [o1, o2] = ip.split(".").map(Number) as [number, number];
          expect(o1).toBe(10);
          expect(o2).toBeGreaterThanOrEqual(96);
          expect(o2).toBeLessThanOrEqual(111);
          expect(ip).not.toBe("10.96.0.1");
          ips.add(ip);
        }
        expect(ips.size).toBe(8);
      });

      it("NodePort: allocated in 30000-32767; a requested nodePort twice → 422; delete releases it", async () => {
        const auto = await api.post(SVC, service("np-auto", { type: "NodePort" }));
        ok(auto, 201);
        const port = auto.json.spec.ports[0].nodePort;
        expect(port).toBeGreaterThanOrEqual(30000);
        expect(port).toBeLessThanOrEqual(32767);
        const a = await api.post(
          SVC,
          service("np-a", { type: "NodePort", ports: [{ port: 80, nodePort: 30123 }] }),
        );
        ok(a, 201);
        expect(a.json.spec.ports[0].nodePort).toBe(30123);
        const b = await api.post(
          SVC,
          service("np-b", { type: "NodePort", ports: [{ port: 80, nodePort: 30123 }] }),
        );
        ok(b, 422);
        expect(causes(b)).toContain("already allocated");
        const taken = await api.post(
          SVC,
          service("np-c", { type: "NodePort", ports: [{ port: 80, nodePort: port }] }),
        );
        ok(taken, 422);
        const out = await api.post(
          SVC,
          service("np-out", { type: "NodePort", ports: [{ port: 80, nodePort: 40000 }] }),
        );
        ok(out, 422);
        // the failed create released the ClusterIP it had taken: the IPs of failed creates are reusable
        ok(await api.del(`${SVC}/np-a`), 200);
        ok(
          await api.post(SVC, service("np-b", { type: "NodePort", ports: [{ port: 80, nodePort: 30123 }] })),
          201,
        );
      });

      it("a Service whose allocation failed leaves its requested ClusterIP free", async () => {
        ok(
          await api.post(
            SVC,
            service("np-hold", { type: "NodePort", ports: [{ port: 80, nodePort: 30300 }] }),
          ),
          201,
        );
        const fail = await api.post(
          SVC,
          service("np-fail", {
            type: "NodePort",
            clusterIP: "10.96.60.60",
            ports: [{ port: 80, nodePort: 30300 }],
          }),
        );
        ok(fail, 422);
        ok(await api.post(SVC, service("ip-after-fail", { clusterIP: "10.96.60.60" })), 201);
      });
    });

    describe("representations and discovery", () => {
      it("Table output for Services with the kubectl columns", async () => {
        const r = await api.get("/api/v1/namespaces/default/services", { headers: { accept: TABLE } });
        ok(r, 200);
        expect(r.json.kind).toBe("Table");
        expect(r.json.apiVersion).toBe("meta.k8s.io/v1");
        const cols = (r.json.columnDefinitions as { name: string }[]).map((c) => c.name);
        expect(cols.slice(0, 6)).toEqual(["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"]);
        const row = r.json.rows.find((x: { cells: unknown[] }) => x.cells[0] === "kubernetes");
        expect(row.cells.slice(0, 5)).toEqual(["kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP"]);
        expect(row.object.kind).toBe("PartialObjectMetadata");
        const one = await api.get("/api/v1/namespaces/default/services/kubernetes", {
          headers: { accept: TABLE },
        });
        ok(one, 200);
        expect(one.json.rows).toHaveLength(1);
      });

      it("PartialObjectMetadataList carries metadata only", async () => {
        const r = await api.get(CM, { headers: { accept: PARTIAL_LIST } });
        ok(r, 200);
        expect(r.json.kind).toBe("PartialObjectMetadataList");
        expect(r.json.apiVersion).toBe("meta.k8s.io/v1");
        expect(r.json.items.length).toBeGreaterThan(0);
        for (const i of r.json.items) {
          expect(i.kind).toBe("PartialObjectMetadata");
          expect(i.metadata.name).toBeTruthy();
          expect(i.data).toBeUndefined();
        }
      });

      it("aggregated discovery (apidiscovery.k8s.io/v2) lists apps/deployments with the scale subresource", async () => {
        const r = await api.get("/apis", { headers: { accept: AGGREGATED } });
        ok(r, 200);
        expect(String(r.headers["content-type"])).toContain("apidiscovery.k8s.io");
        expect(String(r.headers["content-type"])).toContain("as=APIGroupDiscoveryList");
        expect(r.json.kind).toBe("APIGroupDiscoveryList");
        const apps = r.json.items.find((g: { metadata: { name: string } }) => g.metadata.name === "apps");
        expect(apps).toBeDefined();
        const v1 = apps.versions.find((v: { version: string }) => v.version === "v1");
        const deployments = v1.resources.find((x: { resource: string }) => x.resource === "deployments");
        expect(deployments.scope).toBe("Namespaced");
        expect(deployments.responseKind.kind).toBe("Deployment");
        const subs = (deployments.subresources as { subresource: string }[]).map((s) => s.subresource);
        expect(subs).toContain("scale");
        expect(subs).toContain("status");
        const core = await api.get("/api", { headers: { accept: AGGREGATED } });
        ok(core, 200);
        const coreV1 = core.json.items[0].versions.find((v: { version: string }) => v.version === "v1");
        expect(coreV1.resources.map((x: { resource: string }) => x.resource)).toContain("pods");
      });

      it("legacy discovery: /api, /apis, /apis/apps, /apis/apps/v1", async () => {
        ok(await api.get("/api"), 200);
        const apis = await api.get("/apis");
        expect(apis.json.kind).toBe("APIGroupList");
        expect(apis.json.groups.map((g: { name: string }) => g.name)).toContain("apps");
        const apps = await api.get("/apis/apps");
        ok(apps, 200);
        expect(apps.json.preferredVersion.groupVersion).toBe("apps/v1");
        const list = await api.get("/apis/apps/v1");
        ok(list, 200);
        expect(list.json.resources.map((x: { name: string }) => x.name)).toEqual(
          expect.arrayContaining(["deployments", "deployments/scale", "deployments/status"]),
        );
      });

      it("/openapi/v3 lists api/v1 and apis/apps/v1", async () => {
        const r = await api.get("/openapi/v3");
        ok(r, 200);
        expect(Object.keys(r.json.paths)).toEqual(expect.arrayContaining(["api/v1", "apis/apps/v1"]));
        const doc = await api.get(r.json.paths["apis/apps/v1"].serverRelativeURL);
        ok(doc, 200);
        expect(JSON.stringify(doc.json.components?.schemas ?? {})).toContain("io.k8s.api.apps.v1.Deployment");
      });

      it("/version", async () => {
        const r = await api.get("/version", { token: false });
        ok(r, 200);
        expect(r.json.major).toBe("1");
        expect(r.json.gitVersion).toMatch(/^v1\.\d+\.\d+/);
      });
    });

    describe("authentication", () => {
      it("anonymous: /api → 401, but /healthz /livez /readyz /version → 200", async () => {
        const r = await api.get("/api", { token: false });
        ok(r, 401);
        expect(r.json.reason).toBe("Unauthorized");
        ok(await api.get(`${CM}`, { token: false }), 401);
        for (const p of ["/healthz", "/livez", "/readyz", "/version", "/readyz?verbose"]) {
          ok(await api.get(p, { token: false }), 200);
        }
      });

      it("a bearer token from --token-auth-file works; an unknown token → 401", async () => {
        ok(await api.get("/api/v1/namespaces", { token: EXTRA_TOKEN }), 200);
        ok(await api.get("/api/v1/namespaces", { token: "not-a-token" }), 401);
        // a bad token is never downgraded to anonymous, even on anonymous paths? upstream rejects it
        ok(await api.get("/api/v1/namespaces", { token: `${EXTRA_TOKEN}x` }), 401);
      });

      it("the admin client certificate (DATA_DIR/pki/admin.crt) authenticates", async () => {
        const dir = join(srv.api.dataDir, "pki");
        const certApi = new Api(srv.api, {
          connect: {
            cert: readFileSync(join(dir, "admin.crt"), "utf8"),
            key: readFileSync(join(dir, "admin.key"), "utf8"),
          },
        });
        try {
          ok(await certApi.get("/api/v1/namespaces", { token: false }), 200);
          ok(await certApi.post(CM, configMap("by-cert"), { token: false }), 201);
        } finally {
          await certApi.close();
        }
      });
    });

    describe("after a restart on the same storage", () => {
      it("objects, ClusterIP and NodePort allocations persist", async () => {
        const held = await api.post(
          SVC,
          service("persist", {
            type: "NodePort",
            clusterIP: "10.96.70.70",
            ports: [{ port: 80, nodePort: 30777 }],
          }),
        );
        ok(held, 201);
        const rvBefore = Number(held.json.metadata.resourceVersion);
        await api.close();
        await srv.api.stop();
        restarted = await startApiserver(srv.args, { dataDir: srv.api.dataDir, keepDataDir: true });
        api = new Api(restarted);
        const got = await api.get(`${SVC}/persist`);
        ok(got, 200);
        expect(got.json.spec.clusterIP).toBe("10.96.70.70");
        const ip = await api.post(SVC, service("persist-ip", { clusterIP: "10.96.70.70" }));
        ok(ip, 422);
        expect(causes(ip)).toContain("already allocated");
        const np = await api.post(
          SVC,
          service("persist-np", { type: "NodePort", ports: [{ port: 80, nodePort: 30777 }] }),
        );
        ok(np, 422);
        expect(causes(np)).toContain("already allocated");
        // an IP taken before the restart by another Service (ip-b) is still taken
        ok(await api.post(SVC, service("ip-a-again", { clusterIP: "10.96.50.50" })), 422);
        const after = await api.post(CM, configMap("after-restart"));
        ok(after, 201);
        expect(Number(after.json.metadata.resourceVersion)).toBeGreaterThan(rvBefore);
        // the kubernetes Service keeps 10.96.0.1 and its endpoints follow the new port
        const ep = await api.get("/api/v1/namespaces/default/endpoints/kubernetes");
        expect(ep.json.subsets[0].ports[0].port).toBe(Number(new URL(restarted.url).port));
        ok(await api.del(`${SVC}/persist`), 200);
        ok(await api.post(SVC, service("persist-ip", { clusterIP: "10.96.70.70" })), 201);
      });
    });
  });
}
