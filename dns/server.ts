/**
 * `kubeplane dns`: cluster DNS on UDP and TCP (same port), answering the cluster zone from
 * informer caches (Services, EndpointSlices, and Pods with --pods verified) and forwarding the
 * rest to upstreams. Operator endpoints: /health (:8080), /ready (:8181), /metrics (:9153).
 */
import dgram from "node:dgram";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import net from "node:net";
import type { KubeObject } from "../api/object.js";
import { createLogger, type Logger } from "../cli/logger.js";
import { loadClusterConnection, NAMESPACE_INDEX, R, RestClient } from "../client/index.js";
import { Informer, listerWatcher } from "../client/informer.js";
import type { GroupVersionResource } from "../client/rest.js";
import { newMetricsRegistry } from "../metrics/prom.js";
import { type OperatorServer, serveOperatorEndpoints, splitHostPort } from "../metrics/serve.js";
import { DnsCache } from "./cache.js";
import { createForwarder } from "./forward.js";
import { type Forwarder, type Proto, QueryHandler } from "./handler.js";
import { dnsMetrics } from "./metrics.js";
import {
  type ClusterView,
  type EndpointSlice,
  type Pod,
  type PodsMode,
  podIPKeys,
  type Service,
  serviceIPKeys,
  sliceIPKeys,
  sliceServiceKey,
  slimEndpointSlice,
  slimPod,
  slimService,
  Zone,
} from "./records.js";

export interface DnsServerOptions {
  kubeconfig?: string;
  /** default "cluster.local" */
  clusterDomain?: string;
  /** "ADDR:PORT" for UDP and TCP; default "0.0.0.0:53"; port 0 picks a free one */
  listen?: string;
  /** "ADDR:PORT" upstreams; default the nameservers of resolvConf */
  upstreams?: string[];
  /** record TTL in seconds; default 30 */
  ttl?: number;
  /** default "disabled", as CoreDNS */
  pods?: PodsMode;
  /** "" disables each; defaults ":8080", ":8181", ":9153" */
  healthBindAddress?: string;
  readyBindAddress?: string;
  metricsBindAddress?: string;
  logger?: Logger;
  /** cluster names get SERVFAIL until the caches sync, at most this long (default 5000) */
  startupTimeoutMs?: number;
  /** after stop() is called, keep answering this long with /ready at 503 (default 5000) */
  lameduckMs?: number;
  /** idle TCP connections are closed after this long (default 10000) */
  tcpIdleTimeoutMs?: number;
  /** the largest UDP response sent whatever a client advertises (default 4096) */
  maxUdpSize?: number;
  /** default "/etc/resolv.conf" */
  resolvConf?: string;
  /** tests: answer from this view instead of informers (no apiserver needed) */
  view?: ClusterView;
  /** tests: use this forwarder instead of creating one */
  forwarder?: Forwarder;
  /** run the forwarder's loop detection at start (default true when forwarding) */
  loopDetection?: boolean;
}

export interface RunningDns {
  host: string;
  udpPort: number;
  tcpPort: number;
  healthPort?: number;
  readyPort?: number;
  metricsPort?: number;
  /** true once the caches have synced */
  synced(): boolean;
  stop(): Promise<void>;
}

/** the nameserver lines of a resolv.conf, as "ADDR:53" */
export function resolvConfNameservers(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const addr = m[1]!.replace(/%.*$/, "");
    if (!net.isIP(addr)) continue;
    out.push(net.isIPv6(addr) ? `[${addr}]:53` : `${addr}:53`);
  }
  return out;
}

const IP_INDEX = "dns/ip";
const SERVICE_INDEX = "dns/service";

/** a ClusterView over informer stores with indexes */
export function informerView(
  services: Informer<Service>,
  slices: Informer<EndpointSlice>,
  pods?: Informer<Pod>,
): ClusterView {
  services.addIndexer(IP_INDEX, serviceIPKeys);
  slices.addIndexer(SERVICE_INDEX, sliceServiceKey);
  slices.addIndexer(IP_INDEX, sliceIPKeys);
  pods?.addIndexer(IP_INDEX, podIPKeys);
  return {
    service: (ns, name) => services.getByName(name, ns),
    slices: (ns, name) => slices.byIndex(SERVICE_INDEX, `${ns}/${name}`),
    namespaceHasServices: (ns) => services.indexKeys(NAMESPACE_INDEX, ns).length > 0,
    servicesByIP: (ip) => services.byIndex(IP_INDEX, ip),
    slicesByIP: (ip) => slices.byIndex(IP_INDEX, ip),
    podsByIP: (ip) => (pods ? pods.byIndex(IP_INDEX, ip) : []),
  };
}

function udpType(host: string): "udp4" | "udp6" {
  return net.isIPv6(host) ? "udp6" : "udp4";
}

async function bindUdp(host: string, port: number): Promise<dgram.Socket> {
  const sock = dgram.createSocket({ type: udpType(host), reuseAddr: false });
  await new Promise<void>((resolve, reject) => {
    sock.once("error", reject);
    sock.bind(port, host, () => {
      sock.off("error", reject);
      resolve();
    });
  });
  return sock;
}

async function listenTcp(server: net.Server, host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host, exclusive: true }, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** a tiny HTTP server for /health and /ready (CoreDNS's paths) */
async function serveProbes(
  bind: string,
  routes: Record<string, () => boolean>,
): Promise<{ server: HttpServer; port: number }> {
  const { host, port } = splitHostPort(bind);
  const server = createHttpServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    const route = routes[path];
    if (!route) {
      res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
      res.end("not found");
      return;
    }
    const ok = route();
    res.writeHead(ok ? 200 : 503, { "Content-Type": "text/plain; charset=utf-8" });
    res.end(ok ? "OK" : "Service Unavailable");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as net.AddressInfo).port };
}

function closeHttp(server: HttpServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

const MAX_TCP_CONNECTIONS = 1000;
const MAX_TCP_INFLIGHT = 64;

export async function run(opts: DnsServerOptions = {}): Promise<RunningDns> {
  const log = opts.logger ?? createLogger("dns");
  const clusterDomain = (opts.clusterDomain ?? "cluster.local").replace(/\.$/, "").toLowerCase();
  const ttl = opts.ttl ?? 30;
  const pods: PodsMode = opts.pods ?? "disabled";
  const startupTimeoutMs = opts.startupTimeoutMs ?? 5000;
  const lameduckMs = opts.lameduckMs ?? 5000;
  const idleMs = opts.tcpIdleTimeoutMs ?? 10_000;
  const { host, port: wantPort } = splitHostPort(opts.listen ?? "0.0.0.0:53");
  const registry = newMetricsRegistry();
  const metrics = dnsMetrics(registry);

  // ------------------------------------------------------------ cluster state
  let synced = false;
  let serving = false;
  let lastChange = Math.floor(Date.now() / 1000);
  let client: RestClient | undefined;
  /** Services, EndpointSlices and (with --pods verified) Pods */
  const informers: Informer<KubeObject>[] = [];
  let view: ClusterView;
  const syncAbort = new AbortController();
  if (opts.view) {
    view = opts.view;
    synced = true;
    serving = true;
  } else {
    client = new RestClient(loadClusterConnection({ kubeconfig: opts.kubeconfig }), {
      component: "kubeplane-dns",
    });
    const rest = client;
    // each informer keeps only what the zone reads (see slimService and friends in records.ts)
    const informer = <T extends KubeObject>(
      gvr: GroupVersionResource,
      name: string,
      transform: (o: T) => T,
    ) => new Informer<T>(listerWatcher<T>(rest, gvr), { name, logger: log, transform });
    const svcInf = informer<Service>(R.services, "services", slimService);
    const sliceInf = informer<EndpointSlice>(
      R.endpointslices,
      "endpointslices.discovery.k8s.io",
      slimEndpointSlice,
    );
    const podInf = pods === "verified" ? informer<Pod>(R.pods, "pods", slimPod) : undefined;
    for (const inf of [svcInf, sliceInf, podInf])
      if (inf) informers.push(inf as unknown as Informer<KubeObject>);
    view = informerView(svcInf, sliceInf, podInf);
    const touch = { onAdd: () => bump(), onUpdate: () => bump(), onDelete: () => bump() };
    const bump = () => {
      lastChange = Math.max(lastChange + 1, Math.floor(Date.now() / 1000));
    };
    for (const inf of [svcInf, sliceInf, podInf]) inf?.addEventHandler(touch as never);
    for (const inf of informers) inf.start();
    const startupTimer = setTimeout(() => {
      if (!synced) {
        serving = true;
        log.warn(
          { timeoutMs: startupTimeoutMs },
          "caches not synced within the startup timeout: answering with what is known",
        );
      }
    }, startupTimeoutMs);
    void Promise.all(informers.map((i) => i.waitForSync(syncAbort.signal))).then((all) => {
      const ok = all.every(Boolean);
      clearTimeout(startupTimer);
      if (!ok) return;
      synced = true;
      serving = true;
      log.info({}, "caches synced");
    });
  }

  const zone = new Zone(view, { zone: clusterDomain, ttl, pods, serial: () => lastChange });

  // ------------------------------------------------------------ forwarding
  let forwarder: (Forwarder & { startLoopDetection?(): Promise<string> }) | undefined = opts.forwarder;
  let ownForwarder = false;
  if (!forwarder) {
    let upstreams = opts.upstreams;
    if (!upstreams || upstreams.length === 0) {
      try {
        upstreams = resolvConfNameservers(readFileSync(opts.resolvConf ?? "/etc/resolv.conf", "utf8"));
      } catch (err) {
        log.warn({ err: String(err) }, "cannot read resolv.conf: names outside the cluster get SERVFAIL");
        upstreams = [];
      }
    }
    if (upstreams.length) {
      const cache = new DnsCache({ maxTtlSeconds: 30, maxNegativeTtlSeconds: 30, metrics: registry });
      forwarder = createForwarder({ upstreams, maxConcurrent: 1000, metrics: registry, logger: log, cache });
      ownForwarder = true;
      log.info({ upstreams }, "forwarding names outside the cluster domain");
    }
  }

  const server = `dns://${opts.listen ?? ":53"}`;
  const handler = new QueryHandler({
    zone,
    forwarder,
    serving: () => serving,
    metrics,
    logger: log,
    maxUdpSize: opts.maxUdpSize,
    server,
  });

  // ------------------------------------------------------------ sockets
  let stopping = false;
  let udp: dgram.Socket | undefined;
  const tcp = net.createServer();
  tcp.maxConnections = MAX_TCP_CONNECTIONS;
  let port = wantPort;
  for (let attempt = 0; ; attempt++) {
    udp = await bindUdp(host, wantPort);
    port = udp.address().port;
    try {
      await listenTcp(tcp, host, port);
      break;
    } catch (err) {
      udp.close();
      if (wantPort !== 0 || attempt >= 20) {
        await cleanupEarly();
        throw err;
      }
    }
  }
  async function cleanupEarly() {
    syncAbort.abort();
    await Promise.all(informers.map((i) => i.stop()));
    await client?.close();
    if (ownForwarder) forwarder?.close();
  }
  const udpSock = udp;
  udpSock.on("error", (err) => log.error({ err: String(err) }, "UDP socket error"));
  udpSock.on("message", (msg, rinfo) => {
    handler.handle(msg, "udp", rinfo.family === "IPv6" ? 6 : 4).then(
      (resp) => {
        if (resp && !closedUdp) udpSock.send(resp, rinfo.port, rinfo.address);
      },
      () => {},
    );
  });
  let closedUdp = false;

  const conns = new Set<net.Socket>();
  tcp.on("connection", (conn) => {
    conns.add(conn);
    conn.setNoDelay(true);
    conn.setTimeout(idleMs, () => conn.destroy());
    conn.on("close", () => conns.delete(conn));
    conn.on("error", () => {});
    const family: 4 | 6 = conn.remoteFamily === "IPv6" ? 6 : 4;
    let pending: Buffer = Buffer.alloc(0);
    let inflight = 0;
    const onResponse = (resp: Buffer | undefined) => {
      inflight--;
      if (resp && !conn.destroyed) {
        const frame = Buffer.allocUnsafe(2 + resp.length);
        frame.writeUInt16BE(resp.length, 0);
        resp.copy(frame, 2);
        conn.write(frame);
      }
      if (conn.isPaused() && inflight < MAX_TCP_INFLIGHT) conn.resume();
    };
    conn.on("data", (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (pending.length < 2 + len) break;
        const msg = Buffer.from(pending.subarray(2, 2 + len));
        pending = pending.subarray(2 + len);
        inflight++;
        handler.handle(msg, "tcp" as Proto, family).then(onResponse, () => onResponse(undefined));
      }
      if (inflight >= MAX_TCP_INFLIGHT) conn.pause();
    });
  });
  tcp.on("error", (err) => log.error({ err: String(err) }, "TCP server error"));

  // ------------------------------------------------------------ operator endpoints
  let lameduck = false;
  const healthBind = opts.healthBindAddress ?? ":8080";
  const readyBind = opts.readyBindAddress ?? ":8181";
  const probeServers: HttpServer[] = [];
  let healthPort: number | undefined;
  let readyPort: number | undefined;
  const health = () => true;
  const ready = () => synced && !lameduck;
  if (healthBind && healthBind === readyBind) {
    const s = await serveProbes(healthBind, { "/health": health, "/ready": ready });
    probeServers.push(s.server);
    healthPort = readyPort = s.port;
  } else {
    if (healthBind) {
      const s = await serveProbes(healthBind, { "/health": health });
      probeServers.push(s.server);
      healthPort = s.port;
    }
    if (readyBind) {
      const s = await serveProbes(readyBind, { "/ready": ready });
      probeServers.push(s.server);
      readyPort = s.port;
    }
  }
  const metricsBind = opts.metricsBindAddress ?? ":9153";
  const operator: OperatorServer | undefined = metricsBind
    ? await serveOperatorEndpoints({ bindAddress: metricsBind, registry })
    : undefined;

  if (forwarder && ownForwarder && opts.loopDetection !== false && forwarder.startLoopDetection) {
    void forwarder.startLoopDetection().then(
      (r) => {
        if (r === "loop")
          log.error(
            {},
            "forwarding loop detected: the upstreams lead back to this server; forwarding stopped",
          );
      },
      () => {},
    );
  }

  log.info(
    {
      listen: `${host}:${port}`,
      zone: clusterDomain,
      pods,
      ttl,
      health: healthPort,
      ready: readyPort,
      metrics: operator?.port,
    },
    "dns serving",
  );

  return {
    host,
    udpPort: port,
    tcpPort: port,
    healthPort,
    readyPort,
    metricsPort: operator?.port,
    synced: () => synced,
    async stop() {
      if (stopping) return;
      stopping = true;
      lameduck = true;
      if (lameduckMs > 0) {
        log.info({ lameduckMs }, "lame duck: still answering, /ready is 503");
        await new Promise((r) => setTimeout(r, lameduckMs));
      }
      closedUdp = true;
      udpSock.close();
      const tcpClosed = new Promise<void>((resolve) => tcp.close(() => resolve()));
      for (const c of conns) c.destroy();
      await tcpClosed;
      syncAbort.abort();
      await Promise.all(informers.map((i) => i.stop()));
      if (ownForwarder) forwarder?.close();
      await Promise.all(probeServers.map(closeHttp));
      await operator?.close();
      await client?.close();
      log.info({}, "dns stopped");
    },
  };
}
