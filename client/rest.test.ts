import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import {
  createServer as createHttp,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttps } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../api/object.js";
import { makeTestPki, type TestPki } from "../test/helpers/client-certs.js";
import { type ProtocolFake, startProtocolFake } from "../test/helpers/client-protocol-fake.js";
import type { ClusterConnection } from "./kubeconfig.js";
import { R, resource } from "./resource-client.js";
import {
  ApiError,
  apiErrorFromResponse,
  buildQuery,
  isAlreadyExists,
  isConflict,
  isGone,
  isNotFound,
  parseApiVersion,
  RequestTimeoutError,
  RestClient,
  resourcePath,
} from "./rest.js";
import type { WatchEvent } from "./watch.js";

const conn = (server: string, extra: Partial<ClusterConnection> = {}): ClusterConnection => ({
  server,
  insecureSkipTLSVerify: false,
  namespace: "default",
  ...extra,
});

describe("resourcePath", () => {
  it("core and grouped, namespaced and cluster-scoped, names and subresources", () => {
    expect(resourcePath({ group: "", version: "v1", resource: "pods" })).toBe("/api/v1/pods");
    expect(resourcePath({ group: "", version: "v1", resource: "pods", namespace: "ns1" })).toBe(
      "/api/v1/namespaces/ns1/pods",
    );
    expect(
      resourcePath({
        group: "",
        version: "v1",
        resource: "pods",
        namespace: "ns1",
        name: "web-0",
        subresource: "status",
      }),
    ).toBe("/api/v1/namespaces/ns1/pods/web-0/status");
    expect(
      resourcePath({
        group: "apps",
        version: "v1",
        resource: "deployments",
        namespace: "a",
        name: "d",
        subresource: "scale",
      }),
    ).toBe("/apis/apps/v1/namespaces/a/deployments/d/scale");
    expect(resourcePath({ group: "", version: "v1", resource: "namespaces", name: "kube-system" })).toBe(
      "/api/v1/namespaces/kube-system",
    );
    expect(resourcePath({ group: "", version: "v1", resource: "nodes", name: "n1" })).toBe(
      "/api/v1/nodes/n1",
    );
    expect(
      resourcePath({
        group: "custom.metrics.k8s.io",
        version: "v1beta2",
        resource: "pods",
        namespace: "x",
        name: "*",
      }),
    ).toBe("/apis/custom.metrics.k8s.io/v1beta2/namespaces/x/pods/*");
    // "" namespace means all namespaces
    expect(resourcePath({ group: "", version: "v1", resource: "pods", namespace: "" })).toBe("/api/v1/pods");
  });

  it("encodes and rejects unsafe segments", () => {
    expect(
      resourcePath({ group: "", version: "v1", resource: "configmaps", namespace: "n", name: "a:b" }),
    ).toBe("/api/v1/namespaces/n/configmaps/a%3Ab");
    for (const name of ["", ".", "..", "a/b", "a%2Fb"]) {
      expect(() =>
        resourcePath({ group: "", version: "v1", resource: "pods", namespace: "n", name }),
      ).toThrow(/invalid name/);
    }
    expect(() => resourcePath({ group: "", version: "v1", resource: "pods", subresource: "status" })).toThrow(
      /needs a name/,
    );
  });

  it("parseApiVersion and buildQuery", () => {
    expect(parseApiVersion("v1")).toEqual({ group: "", version: "v1" });
    expect(parseApiVersion("networking.k8s.io/v1")).toEqual({ group: "networking.k8s.io", version: "v1" });
    expect(buildQuery({ a: "x y", b: undefined, c: 3, d: false, labelSelector: "app=web,tier!=db" })).toBe(
      "?a=x+y&c=3&d=false&labelSelector=app%3Dweb%2Ctier%21%3Ddb",
    );
    expect(buildQuery({ b: undefined })).toBe("");
  });
});

describe("ApiError", () => {
  it("is built from a Status body", () => {
    const e = apiErrorFromResponse(
      409,
      JSON.stringify({
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        reason: "AlreadyExists",
        message: 'pods "a" already exists',
        code: 409,
      }),
    );
    expect(e).toBeInstanceOf(ApiError);
    expect(e.code).toBe(409);
    expect(e.reason).toBe("AlreadyExists");
    expect(e.message).toBe('pods "a" already exists');
    expect(isAlreadyExists(e)).toBe(true);
    expect(isConflict(e)).toBe(false);
  });

  it("is synthesized for non-JSON and non-Status bodies", () => {
    const e = apiErrorFromResponse(503, "<html>upstream down</html>", "GET", "/api/v1/pods");
    expect(e.status).toMatchObject({
      kind: "Status",
      status: "Failure",
      code: 503,
      reason: "ServiceUnavailable",
    });
    expect(e.message).toContain("GET /api/v1/pods");
    expect(e.message).toContain("upstream down");
    const e2 = apiErrorFromResponse(404, JSON.stringify({ error: "nope" }));
    expect(isNotFound(e2)).toBe(true);
    expect(e2.reason).toBe("NotFound");
    expect(apiErrorFromResponse(418, "").reason).toBe("");
  });

  it("fills a missing code and reason from the HTTP status", () => {
    const e = apiErrorFromResponse(410, JSON.stringify({ kind: "Status", message: "too old" }));
    expect(e.code).toBe(410);
    expect(e.reason).toBe("Gone");
    expect(isGone(e)).toBe(true);
  });
});

// ------------------------------------------------------------------ against the protocol fake

describe("RestClient against the protocol fake", () => {
  let fake: ProtocolFake;
  let client: RestClient;

  beforeAll(async () => {
    fake = await startProtocolFake({
      group: "",
      version: "v1",
      resource: "configmaps",
      kind: "ConfigMap",
      namespaced: true,
    });
    client = new RestClient(conn(fake.url, { token: "sekrit" }), { component: "test" });
  });
  afterAll(async () => {
    await client.close();
    await fake.close();
  });

  const cm = { group: "", version: "v1", resource: "configmaps" };

  it("create, get, update with resourceVersion conflict, list with pagination, delete", async () => {
    const created = await client.create(
      { ...cm, namespace: "ns1" },
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a" }, data: { k: "1" } },
    );
    expect(created.metadata.resourceVersion).toMatch(/^\d+$/);
    const last = fake.requests.at(-1)!;
    expect(last.method).toBe("POST");
    expect(last.path).toBe("/api/v1/namespaces/ns1/configmaps");
    expect(last.headers["user-agent"]).toBe("kubeplane/test");
    expect(last.headers.authorization).toBe("Bearer sekrit");
    expect(last.headers["content-type"]).toBe("application/json");

    await expect(client.create({ ...cm, namespace: "ns1" }, { metadata: { name: "a" } })).rejects.toSatisfy(
      isAlreadyExists,
    );

    const got = await client.get({ ...cm, namespace: "ns1", name: "a" });
    expect(got).toMatchObject({ metadata: { name: "a", namespace: "ns1" }, data: { k: "1" } });

    const updated = await client.update(cm, { ...got, data: { k: "2" } });
    expect(updated.metadata.resourceVersion).not.toBe(got.metadata.resourceVersion);
    const stale = client.update(cm, { ...got, data: { k: "3" } });
    await expect(stale).rejects.toSatisfy(isConflict);
    await expect(stale).rejects.toMatchObject({ code: 409, reason: "Conflict" });

    for (const n of ["b", "c", "d", "e"])
      await client.create({ ...cm, namespace: "ns1" }, { metadata: { name: n } });
    const page1 = await client.list({ ...cm, namespace: "ns1" }, { limit: 2 });
    expect(page1.items.map((i) => i.metadata.name)).toEqual(["a", "b"]);
    expect(page1.metadata.continue).toBeTruthy();
    const page2 = await client.list(
      { ...cm, namespace: "ns1" },
      { limit: 2, continue: page1.metadata.continue },
    );
    expect(page2.items.map((i) => i.metadata.name)).toEqual(["c", "d"]);
    const q = fake.requests.at(-1)!.query;
    expect(q.get("limit")).toBe("2");
    expect(q.get("continue")).toBe(page1.metadata.continue);

    const st = await client.delete(
      { ...cm, namespace: "ns1", name: "e" },
      { propagationPolicy: "Foreground", gracePeriodSeconds: 0, preconditions: { uid: "u1" } },
    );
    expect(st).toMatchObject({ kind: "Status", status: "Success" });
    const del = fake.requests.at(-1)!;
    expect(del.method).toBe("DELETE");
    expect(JSON.parse(del.body)).toEqual({
      kind: "DeleteOptions",
      apiVersion: "v1",
      propagationPolicy: "Foreground",
      gracePeriodSeconds: 0,
      preconditions: { uid: "u1" },
    });
    await expect(client.get({ ...cm, namespace: "ns1", name: "e" })).rejects.toSatisfy(isNotFound);
  });

  it("typed ResourceClient fills namespaces and requires them", async () => {
    const cms = resource<KubeObject>(client, R.configmaps);
    await cms.namespace("typed").create({ metadata: { name: "t1" } });
    expect(fake.requests.at(-1)!.path).toBe("/api/v1/namespaces/typed/configmaps");
    expect((await cms.namespace("typed").get("t1")).metadata.namespace).toBe("typed");
    await cms.create({ metadata: { name: "t2", namespace: "typed" } });
    expect((await cms.namespace("typed").list()).items).toHaveLength(2);
    expect(() => cms.get("t1")).toThrow(/needs a namespace/);
    expect(() => resource(client, R.nodes).namespace("x")).toThrow(/cluster-scoped/);
  });

  it("watch streams events from a resourceVersion, honours close() and the caller's signal", async () => {
    const start = fake.currentRv;
    const stream = await client.watch<KubeObject>(
      { ...cm, namespace: "w" },
      { resourceVersion: String(start), allowWatchBookmarks: true, timeoutSeconds: 30 },
    );
    const q = fake.requests.at(-1)!.query;
    expect(q.get("watch")).toBe("true");
    expect(q.get("resourceVersion")).toBe(String(start));
    expect(q.get("allowWatchBookmarks")).toBe("true");
    expect(q.get("timeoutSeconds")).toBe("30");
    const seen: WatchEvent[] = [];
    const done = (async () => {
      for await (const ev of stream) {
        seen.push(ev);
        if (seen.length === 3) stream.close();
      }
    })();
    fake.upsert({ metadata: { name: "x", namespace: "w" } });
    fake.upsert({ metadata: { name: "x", namespace: "w" }, data: { a: "b" } });
    fake.bookmark();
    await done;
    expect(seen.map((e) => e.type)).toEqual(["ADDED", "MODIFIED", "BOOKMARK"]);
    expect(stream.isClosed).toBe(true);

    const ac = new AbortController();
    const s2 = await client.watch(
      { ...cm, namespace: "w" },
      { resourceVersion: String(fake.currentRv), signal: ac.signal },
    );
    const t0 = performance.now();
    setTimeout(() => ac.abort(), 30);
    const n: string[] = [];
    for await (const ev of s2) n.push(ev.type);
    expect(n).toEqual([]);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it("watch: HTTP 410 becomes an ApiError; an in-stream ERROR is an event", async () => {
    fake.upsert({ metadata: { name: "old", namespace: "g" } });
    fake.compact();
    fake.goneMode = "http";
    await expect(client.watch(cm, { resourceVersion: "1" })).rejects.toSatisfy(isGone);
    fake.goneMode = "event";
    const s = await client.watch(cm, { resourceVersion: "1" });
    const evs: WatchEvent[] = [];
    for await (const ev of s) evs.push(ev);
    expect(evs).toHaveLength(1);
    expect(evs[0]!.type).toBe("ERROR");
    expect(evs[0]!.type === "ERROR" && evs[0]!.object.code).toBe(410);
  });

  it("a stream cut mid-line surfaces as an error from the iterator", async () => {
    const s = await client.watch(cm, { resourceVersion: String(fake.currentRv) });
    await fake.waitForWatches(1);
    const run = (async () => {
      for await (const _ of s) {
        /* none */
      }
    })();
    fake.cutWatches(true);
    await expect(run).rejects.toThrow();
  });

  it("retries 429 with Retry-After, then succeeds", async () => {
    fake.failNext(2, 429, (r) => r.method === "GET", {
      headers: { "retry-after": "0" },
      body: JSON.stringify({ kind: "Status", code: 429, reason: "TooManyRequests", message: "slow down" }),
    });
    const before = fake.requests.length;
    const list = await client.list(cm);
    expect(list.kind).toBe("ConfigMapList");
    expect(fake.requests.length - before).toBe(3);
  });

  it("gives up on 429 after maxRetries with an ApiError", async () => {
    const c = new RestClient(conn(fake.url), { component: "t", maxRetries: 1 });
    fake.failNext(5, 429, () => true, { headers: { "retry-after": "0" } });
    await expect(c.list(cm)).rejects.toMatchObject({ code: 429, reason: "TooManyRequests" });
    fake.failNext(0, 429);
    await c.close();
  });
});

// ------------------------------------------------------------------ plain HTTP server for header/timeout details

describe("RestClient details", () => {
  let server: Server;
  let url: string;
  let handler: (req: IncomingMessage, body: string, res: ServerResponse) => void;
  const seen: Array<{ method?: string; url?: string; headers: IncomingMessage["headers"]; body: string }> =
    [];

  beforeAll(async () => {
    server = createHttp((req, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        handler(req, body, res);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  afterEach(() => {
    seen.length = 0;
  });

  const ok = (_req: IncomingMessage, _b: string, res: ServerResponse) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ kind: "ConfigMap", apiVersion: "v1", metadata: { name: "x" } }));
  };

  it("patch sends the right content types and apply's fieldManager/force", async () => {
    handler = ok;
    const c = new RestClient(conn(url), { component: "patcher" });
    const ref = { group: "apps", version: "v1", resource: "deployments", namespace: "d", name: "web" };
    await c.patch(ref, { spec: { replicas: 3 } }, { type: "merge" });
    await c.patch(ref, { spec: { replicas: 3 } }, { type: "strategic" });
    await c.patch(ref, [{ op: "replace", path: "/spec/replicas", value: 2 }], { type: "json" });
    await c.patch(
      ref,
      { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" } },
      { type: "apply", fieldManager: "kubeplane", force: true },
    );
    expect(seen.map((s) => s.headers["content-type"])).toEqual([
      "application/merge-patch+json",
      "application/strategic-merge-patch+json",
      "application/json-patch+json",
      "application/apply-patch+yaml",
    ]);
    expect(
      seen.every(
        (s) => s.method === "PATCH" && s.url?.startsWith("/apis/apps/v1/namespaces/d/deployments/web"),
      ),
    ).toBe(true);
    expect(seen[3]!.url).toBe("/apis/apps/v1/namespaces/d/deployments/web?fieldManager=kubeplane&force=true");
    expect(JSON.parse(seen[2]!.body)).toEqual([{ op: "replace", path: "/spec/replicas", value: 2 }]);
    expect(() => c.patch(ref, {}, { type: "apply" })).toThrow(/fieldManager/);
    expect(() => c.patch(ref, {}, { type: "merge", force: true })).toThrow(/force/);
    expect(() => c.patch(ref, {}, { type: "json" })).toThrow(/array/);
    await c.close();
  });

  it("keeps the server URL's path prefix and sends dryRun/fieldValidation", async () => {
    handler = ok;
    const c = new RestClient(conn(`${url}/k8s/clusters/c-1/`), { component: "x" });
    await c.create(
      { group: "", version: "v1", resource: "configmaps", namespace: "n" },
      { metadata: { name: "x" } },
      { dryRun: true, fieldValidation: "Strict", fieldManager: "me" },
    );
    expect(seen[0]!.url).toBe(
      "/k8s/clusters/c-1/api/v1/namespaces/n/configmaps?dryRun=All&fieldManager=me&fieldValidation=Strict",
    );
    expect(await c.getRaw("/version")).toContain("ConfigMap");
    expect(seen[1]!.url).toBe("/k8s/clusters/c-1/version");
    await c.close();
  });

  it("deleteCollection, updateStatus and watch-by-name build the right requests", async () => {
    handler = ok;
    const c = new RestClient(conn(url), { component: "x" });
    await c.deleteCollection(
      { group: "", version: "v1", resource: "pods", namespace: "n" },
      { labelSelector: "app=web", propagationPolicy: "Background" },
    );
    expect(seen[0]!.method).toBe("DELETE");
    expect(seen[0]!.url).toBe("/api/v1/namespaces/n/pods?labelSelector=app%3Dweb");
    expect(JSON.parse(seen[0]!.body)).toMatchObject({
      kind: "DeleteOptions",
      propagationPolicy: "Background",
    });
    await resource(c, R.deployments).updateStatus({
      metadata: { name: "d", namespace: "n", resourceVersion: "5" },
    });
    expect(seen[1]!.method).toBe("PUT");
    expect(seen[1]!.url).toBe("/apis/apps/v1/namespaces/n/deployments/d/status");
    const w = await c.watch(
      { group: "", version: "v1", resource: "pods", namespace: "n", name: "p1" },
      { fieldSelector: "spec.nodeName=a" },
    );
    w.close();
    expect(seen[2]!.url).toBe(
      "/api/v1/namespaces/n/pods?watch=true&fieldSelector=spec.nodeName%3Da%2Cmetadata.name%3Dp1",
    );
    await c.close();
  });

  it("times out a slow request", async () => {
    handler = () => {
      /* never answer */
    };
    const c = new RestClient(conn(url), { component: "x", timeoutMs: 100 });
    const t0 = performance.now();
    await expect(
      c.get({ group: "", version: "v1", resource: "pods", namespace: "a", name: "b" }),
    ).rejects.toBeInstanceOf(RequestTimeoutError);
    expect(performance.now() - t0).toBeLessThan(2000);
    await c.close();
  });

  it("re-reads the token file after the reload interval", async () => {
    handler = ok;
    const dir = mkdtempSync(join(tmpdir(), "kubeplane-token-"));
    try {
      const file = join(dir, "token");
      writeFileSync(file, "one\n");
      const c = new RestClient(conn(url, { token: "one", tokenFile: file }), {
        component: "x",
        tokenReloadMs: 20,
      });
      await c.getRaw("/a");
      writeFileSync(file, "two\n");
      await new Promise((r) => setTimeout(r, 40));
      await c.getRaw("/b");
      expect(seen.map((s) => s.headers.authorization)).toEqual(["Bearer one", "Bearer two"]);
      await c.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("non-JSON error bodies become synthesized Status errors", async () => {
    handler = (_q, _b, res) => {
      res.writeHead(502, { "content-type": "text/html" });
      res.end("<h1>bad gateway</h1>");
    };
    const c = new RestClient(conn(url), { component: "x", maxRetries: 0 });
    const err = await c
      .get({ group: "", version: "v1", resource: "pods", namespace: "a", name: "b" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe(502);
    expect((err as ApiError).status.kind).toBe("Status");
    expect((err as ApiError).message).toContain("bad gateway");
    await c.close();
  });
});

// ------------------------------------------------------------------ TLS

describe("RestClient over TLS", () => {
  let pki: TestPki;
  let server: Server;
  let url: string;
  const clientCNs: string[] = [];

  beforeAll(async () => {
    pki = await makeTestPki();
    server = createHttps(
      {
        cert: pki.serverCert,
        key: pki.serverKey,
        ca: pki.caCert,
        requestCert: true,
        rejectUnauthorized: false,
      },
      (req, res) => {
        const sock = req.socket as import("node:tls").TLSSocket;
        const peer = sock.getPeerCertificate();
        clientCNs.push(sock.authorized ? String(peer.subject?.CN) : "anonymous");
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            kind: "NamespaceList",
            apiVersion: "v1",
            metadata: { resourceVersion: "1" },
            items: [],
          }),
        );
      },
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const ns = { group: "", version: "v1", resource: "namespaces" };

  it("verifies the server with the CA and presents the client certificate", async () => {
    const c = new RestClient(conn(url, { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey }), {
      component: "tls",
    });
    const list = await c.list(ns);
    expect(list.kind).toBe("NamespaceList");
    expect(clientCNs.at(-1)).toBe("kubeplane-admin");
    await c.close();
  });

  it("rejects a server signed by another CA", async () => {
    const c = new RestClient(conn(url, { ca: pki.otherCaCert }), { component: "tls" });
    await expect(c.list(ns)).rejects.toThrow();
    await c.close();
  });

  it("insecureSkipTLSVerify connects without a CA (and without a client cert is anonymous)", async () => {
    const c = new RestClient(conn(url, { insecureSkipTLSVerify: true }), { component: "tls" });
    expect((await c.list(ns)).kind).toBe("NamespaceList");
    expect(clientCNs.at(-1)).toBe("anonymous");
    await c.close();
  });

  it("tlsServerName overrides the verified name", async () => {
    const c = new RestClient(conn(url, { ca: pki.caCert, tlsServerName: "wrong.example" }), {
      component: "tls",
    });
    await expect(c.list(ns)).rejects.toThrow();
    const good = new RestClient(conn(url, { ca: pki.caCert, tlsServerName: "localhost" }), {
      component: "tls",
    });
    expect((await good.list(ns)).kind).toBe("NamespaceList");
    await c.close();
    await good.close();
  });
});
