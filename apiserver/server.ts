/**
 * `kubeplane apiserver`: wires storage, watch caches, allocators, PKI, authentication,
 * discovery, OpenAPI, aggregation and the REST handler into one HTTPS server.
 */
import { mkdirSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import {
  OPENAPI_V2_PROTOBUF_CONTENT_TYPE,
  openapiV2,
  openapiV2Protobuf,
  openapiV3GroupVersion,
  openapiV3Index,
} from "../api/openapi.js";
import { findResource, RESOURCES } from "../api/resources.js";
import { errors, StatusError } from "../api/status.js";
import { createLogger, type Logger } from "../cli/logger.js";
import { Counter, Gauge, Histogram, newMetricsRegistry } from "../metrics/prom.js";
import { Aggregator } from "./aggregator.js";
import { NodePortAllocator, parseCIDR, parsePortRange, ServiceIPAllocator } from "./allocators.js";
import {
  authenticate,
  generateAdminToken,
  isAnonymousAllowedPath,
  loadTokenFile,
  TokenTable,
  type UserInfo,
} from "./auth.js";
import { type Authorizer, allowAll } from "./authz.js";
import { bootstrap } from "./bootstrap.js";
import {
  aggregatedContentType,
  aggregatedDiscovery,
  apiGroup,
  apiGroupList,
  apiResourceList,
  apiVersions,
  wantsAggregated,
} from "./discovery.js";
import { sendJson, sendStatus, sendText } from "./http-io.js";
import { ensurePki, writeKubeconfig } from "./pki.js";
import { Registry } from "./registry.js";
import { requestInfo } from "./request-info.js";
import { RestHandler } from "./rest-handler.js";
import { openEtcdStorage } from "./storage/etcd.js";
import { openSqliteStorage } from "./storage/sqlite.js";
import type { Storage } from "./storage/types.js";
import { WatchCache } from "./watch-cache.js";

export interface ApiserverOptions {
  dataDir: string;
  bindAddress?: string;
  securePort?: number;
  advertiseAddress?: string;
  etcdServers?: string[];
  serviceClusterIPRange?: string;
  serviceNodePortRange?: string;
  tokenAuthFile?: string;
  tlsCertFile?: string;
  tlsPrivateKeyFile?: string;
  clientCAFile?: string;
  minRequestTimeoutSeconds?: number;
  /** watch-cache bookmark interval; tests shorten it */
  bookmarkIntervalMs?: number;
  /** SQLite history kept for watches and consistent pagination, in revisions */
  historyRevisions?: number;
  authorizer?: Authorizer;
  logger?: Logger;
}

export interface RunningApiserver {
  url: string;
  port: number;
  caPem: string;
  adminToken: string;
  adminKubeconfig: string;
  storage: Storage;
  registry: Registry;
  close(): Promise<void>;
}

export const KUBERNETES_VERSION = { major: "1", minor: "33", gitVersion: "v1.33.0-kubeplane" };

function versionInfo(): object {
  return {
    ...KUBERNETES_VERSION,
    gitCommit: "0000000000000000000000000000000000000000",
    gitTreeState: "clean",
    buildDate: "2026-11-22T00:00:00Z",
    goVersion: `node${process.versions.node}`,
    compiler: "tsc",
    platform: `${process.platform}/${process.arch === "x64" ? "amd64" : process.arch}`,
  };
}

export async function run(opts: ApiserverOptions): Promise<RunningApiserver> {
  const log = opts.logger ?? createLogger("apiserver");
  const bindAddress = opts.bindAddress ?? "127.0.0.1";
  const serviceRanges = (opts.serviceClusterIPRange ?? "10.96.0.0/12").split(",").map((s) => s.trim());
  for (const r of serviceRanges) parseCIDR(r);
  const nodePortRange = parsePortRange(opts.serviceNodePortRange ?? "30000-32767");
  mkdirSync(opts.dataDir, { recursive: true });

  const storage: Storage = opts.etcdServers?.length
    ? await openEtcdStorage({ endpoints: opts.etcdServers })
    : openSqliteStorage({
        file: join(opts.dataDir, "kubeplane.db"),
        historyRevisions: opts.historyRevisions,
      });
  log.info({ storage: storage.name }, "storage opened");

  const caches = new Map<string, WatchCache>();
  for (const info of RESOURCES) {
    if (caches.has(info.storagePrefix)) continue;
    caches.set(
      info.storagePrefix,
      new WatchCache(storage, `/registry/${info.storagePrefix}/`, {
        bookmarkIntervalMs: opts.bookmarkIntervalMs,
      }),
    );
  }
  await Promise.all([...caches.values()].map((c) => c.start()));

  const registry = new Registry(storage, caches);
  const ips = new ServiceIPAllocator(storage, serviceRanges);
  const ports = new NodePortAllocator(storage, nodePortRange);
  registry.provide("serviceIPs", ips);
  registry.provide("nodePorts", ports);

  const advertise =
    opts.advertiseAddress ?? (bindAddress === "0.0.0.0" || bindAddress === "::" ? "127.0.0.1" : bindAddress);
  const firstServiceIP = ips.firstIP(parseCIDR(serviceRanges[0]!).family);
  const pki = await ensurePki(opts.dataDir, {
    hosts: [
      ...new Set([
        "localhost",
        "127.0.0.1",
        advertise,
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        firstServiceIP,
      ]),
    ],
  });
  const serving = {
    cert: opts.tlsCertFile ? readFileSync(opts.tlsCertFile, "utf8") : pki.servingCertPem,
    key: opts.tlsPrivateKeyFile ? readFileSync(opts.tlsPrivateKeyFile, "utf8") : pki.servingKeyPem,
  };
  const clientCA = opts.clientCAFile ? readFileSync(opts.clientCAFile, "utf8") : pki.caPem;
  const adminToken = await generateAdminToken(opts.dataDir);
  const tokens = opts.tokenAuthFile ? await loadTokenFile(opts.tokenAuthFile) : new TokenTable();
  tokens.set(adminToken, {
    name: "kubeplane-admin",
    uid: "kubeplane-admin",
    groups: ["system:masters", "system:authenticated"],
  });
  const authorizer = opts.authorizer ?? allowAll;

  const metrics = newMetricsRegistry();
  const requestTotal = new Counter({
    name: "apiserver_request_total",
    help: "Counter of apiserver requests broken out for each verb, group, version, resource, subresource, scope, component and HTTP response code.",
    labelNames: ["verb", "group", "version", "resource", "subresource", "scope", "component", "code"],
    registers: [metrics],
  });
  const requestDuration = new Histogram({
    name: "apiserver_request_duration_seconds",
    help: "Response latency distribution in seconds for each verb, group, version, resource, subresource, scope and component.",
    labelNames: ["verb", "group", "version", "resource", "subresource", "scope", "component"],
    buckets: [
      0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60,
    ],
    registers: [metrics],
  });
  const longRunning = new Gauge({
    name: "apiserver_longrunning_requests",
    help: "Gauge of all active long-running apiserver requests broken out by verb, group, version, resource, scope and component.",
    labelNames: ["verb", "group", "version", "resource", "scope", "component"],
    registers: [metrics],
  });
  new Gauge({
    name: "apiserver_storage_objects",
    help: "Number of stored objects at the time of last check split by kind.",
    labelNames: ["resource"],
    registers: [metrics],
    collect() {
      this.reset();
      for (const info of RESOURCES) {
        if (info.storedAs) continue;
        this.set(
          { resource: info.group ? `${info.resource}.${info.group}` : info.resource },
          caches.get(info.storagePrefix)?.list().items.length ?? 0,
        );
      }
    },
  });

  const rest = new RestHandler({
    registry,
    minRequestTimeoutSeconds: opts.minRequestTimeoutSeconds ?? 1800,
    onWatchStart(info) {
      const labels = {
        verb: "WATCH",
        group: info.group,
        version: info.version,
        resource: info.resource,
        scope: "resource",
        component: "apiserver",
      };
      longRunning.inc(labels);
      return () => longRunning.dec(labels);
    },
  });
  const aggregator = new Aggregator(registry, { cert: pki.adminCertPem, key: pki.adminKeyPem });

  let ready = false;
  let shuttingDown = false;
  const serverAddress = () => `${advertise}:${port}`;

  async function route(req: IncomingMessage, res: ServerResponse, user: UserInfo): Promise<void> {
    const url = new URL(req.url ?? "/", "https://localhost");
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const q = url.searchParams;
    const ri = requestInfo(req.method ?? "GET", path, q);
    const decision = authorizer(user, {
      verb: ri.verb,
      group: ri.group,
      resource: ri.resource ?? "",
      namespace: ri.namespace ?? "",
      name: ri.name ?? "",
      subresource: ri.subresource ?? "",
      path,
    });
    if (!decision.allowed) {
      throw errors.forbidden(
        `User "${user.name}" cannot ${ri.verb} resource "${ri.resource ?? path}"${ri.namespace ? ` in the namespace "${ri.namespace}"` : ""}${decision.reason ? `: ${decision.reason}` : ""}`,
      );
    }

    if (ri.prefix === "apis" && ri.group && ri.version) {
      const claim = aggregator.claim(ri.group, ri.version);
      if (
        claim &&
        !findResource(ri.group, ri.version, ri.resource ?? "") &&
        !(ri.group === "apiregistration.k8s.io")
      ) {
        await aggregator.proxy(req, res, claim, user);
        return;
      }
    }
    if (ri.isResourceRequest) {
      const info = findResource(ri.group, ri.version, ri.resource!);
      if (!info) throw errors.pathNotFound(path);
      await rest.handle(req, res, ri, info, q);
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD")
      throw errors.methodNotAllowed(`the server does not allow this method on the requested resource`);
    if (path === "/api" || path === "/apis") {
      const agg = wantsAggregated(req.headers.accept);
      const groups = await aggregator.groupVersions(agg !== undefined && path === "/apis");
      if (agg) {
        const body = JSON.stringify(aggregatedDiscovery(path, groups, agg));
        res.writeHead(200, {
          "Content-Type": aggregatedContentType(agg),
          "Content-Length": Buffer.byteLength(body),
        });
        res.end(body);
      } else sendJson(res, 200, path === "/api" ? apiVersions(serverAddress()) : apiGroupList(groups));
      return;
    }
    if (ri.prefix === "api" && ri.version && ri.parts.length === 0) {
      const list = apiResourceList("", ri.version);
      if (!list) throw errors.pathNotFound(path);
      sendJson(res, 200, list);
      return;
    }
    if (ri.prefix === "apis" && ri.group && !ri.version) {
      const doc = apiGroup(ri.group, await aggregator.groupVersions(false));
      if (!doc) throw errors.pathNotFound(path);
      sendJson(res, 200, doc);
      return;
    }
    if (ri.prefix === "apis" && ri.group && ri.version && ri.parts.length === 0) {
      const list = apiResourceList(ri.group, ri.version);
      if (!list) throw errors.pathNotFound(path);
      sendJson(res, 200, list);
      return;
    }
    if (path === "/openapi/v2") {
      const accept = String(req.headers.accept ?? "");
      if (/com\.github\.proto-openapi\.spec\.v2/.test(accept)) {
        // kubectl asks for gnostic's protobuf encoding only
        const body = openapiV2Protobuf();
        res.writeHead(200, {
          "Content-Type": OPENAPI_V2_PROTOBUF_CONTENT_TYPE,
          "Content-Length": body.byteLength,
        });
        res.end(body);
        return;
      }
      if (accept && !/application\/json|\*\/\*/.test(accept)) {
        throw errors.notAcceptable("only application/json and gnostic protobuf are served for /openapi/v2");
      }
      sendJson(res, 200, openapiV2());
      return;
    }
    if (path === "/openapi/v3") {
      sendJson(res, 200, openapiV3Index());
      return;
    }
    if (path.startsWith("/openapi/v3/")) {
      const doc = openapiV3GroupVersion(path.slice("/openapi/v3/".length));
      if (!doc) throw errors.pathNotFound(path);
      sendJson(res, 200, doc, { "Cache-Control": "public, immutable" });
      return;
    }
    if (path === "/metrics") {
      sendText(res, 200, await metrics.metrics(), metrics.contentType);
      return;
    }
    throw errors.pathNotFound(path);
  }

  function health(path: string, url: URL, res: ServerResponse): void {
    const isReady = path.startsWith("/readyz");
    const ok = isReady ? ready && !shuttingDown : true;
    const checks = isReady ? ["ping", "log", "etcd", "informer-sync", "shutdown"] : ["ping", "log", "etcd"];
    if (url.searchParams.has("verbose")) {
      const lines = checks.map((c) =>
        (c === "shutdown" && shuttingDown) || (c === "informer-sync" && !ready)
          ? `[-]${c} failed: reason withheld`
          : `[+]${c} ok`,
      );
      sendText(
        res,
        ok ? 200 : 500,
        `${lines.join("\n")}\n${path.slice(1)} check ${ok ? "passed" : "failed"}\n`,
      );
      return;
    }
    sendText(
      res,
      ok ? 200 : 500,
      ok
        ? "ok"
        : `[-]${shuttingDown ? "shutdown" : "informer-sync"} failed: reason withheld\n${path.slice(1)} check failed`,
    );
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const url = new URL(req.url ?? "/", "https://localhost");
    const path = url.pathname;
    const ri = requestInfo(req.method ?? "GET", path.replace(/\/+$/, "") || "/", url.searchParams);
    try {
      if (isAnonymousAllowedPath(path)) {
        if (path === "/version") sendJson(res, 200, versionInfo());
        else health(path, url, res);
        return;
      }
      if (!ready) throw errors.unavailable("the apiserver is starting");
      const user = authenticate(req as IncomingMessage & { socket: TLSSocket }, { tokens });
      if (!user) throw errors.unauthorized();
      await route(req, res, user);
    } catch (e) {
      if (e instanceof StatusError) {
        if (e.code >= 500) log.warn({ path, err: e.message }, "request failed");
        sendStatus(res, e);
      } else {
        log.error(
          { path, err: e instanceof Error ? e.stack : String(e) },
          "request failed with an unexpected error",
        );
        if (!res.headersSent) sendStatus(res, errors.internal(e instanceof Error ? e.message : String(e)));
        else res.destroy();
      }
    } finally {
      if (ri.isResourceRequest) {
        const labels = {
          verb: ri.verb.toUpperCase(),
          group: ri.group,
          version: ri.version,
          resource: ri.resource ?? "",
          subresource: ri.subresource ?? "",
          scope: ri.name ? "resource" : ri.namespace ? "namespace" : "cluster",
          component: "apiserver",
        };
        requestTotal.inc({ ...labels, code: String(res.statusCode) });
        if (ri.verb !== "watch")
          requestDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
      }
    }
  }

  const server: Server = createHttpsServer(
    { cert: serving.cert, key: serving.key, ca: clientCA, requestCert: true, rejectUnauthorized: false },
    (req, res) => void handle(req, res),
  );
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.securePort ?? 6443, bindAddress, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  await bootstrap(registry, { advertiseAddress: advertise, securePort: port, firstServiceIP, log });
  const repair = async () => {
    const services = await registry.list(findResource("", "v1", "services")!);
    const ipOwners = new Map<string, string>();
    const portOwners = new Map<number, string>();
    for (const svc of services.items) {
      const owner = `${svc.metadata.namespace}/${svc.metadata.name}`;
      const spec = (svc.spec ?? {}) as Record<string, unknown>;
      for (const ip of (spec.clusterIPs as string[] | undefined) ?? [])
        if (ip && ip !== "None") ipOwners.set(ip, owner);
      for (const p of (spec.ports as { nodePort?: number }[] | undefined) ?? [])
        if (p.nodePort) portOwners.set(p.nodePort, owner);
      if (typeof spec.healthCheckNodePort === "number") portOwners.set(spec.healthCheckNodePort, owner);
    }
    const r1 = await ips.repair(ipOwners, { graceRepairs: 0 });
    const r2 = await ports.repair(portOwners, { graceRepairs: 0 });
    if (r1.released.length || r1.claimed.length || r2.released.length || r2.claimed.length)
      log.info({ ips: r1, ports: r2 }, "allocations repaired");
  };
  await repair();

  const kubeconfigPath = join(opts.dataDir, "admin.kubeconfig");
  const url = `https://${advertise.includes(":") ? `[${advertise}]` : advertise}:${port}`;
  await writeKubeconfig(kubeconfigPath, {
    server: url,
    caPem: pki.caPem,
    token: adminToken,
    user: "kubeplane-admin",
    context: "kubeplane",
  });

  const availability = setInterval(
    () => void aggregator.refreshAvailability().catch(() => undefined),
    10_000,
  );
  availability.unref();
  void aggregator.refreshAvailability().catch(() => undefined);

  ready = true;
  log.info({ url, storage: storage.name, kubeconfig: kubeconfigPath }, "apiserver ready");

  return {
    url,
    port,
    caPem: pki.caPem,
    adminToken,
    adminKubeconfig: kubeconfigPath,
    storage,
    registry,
    async close() {
      shuttingDown = true;
      clearInterval(availability);
      server.close();
      for (const c of caches.values()) c.stop();
      server.closeAllConnections();
      aggregator.close();
      await storage.close();
      log.info("apiserver stopped");
    },
  };
}
