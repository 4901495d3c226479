/**
 * `kubeplane proxy`: informers on Services, EndpointSlices and this Node feed a
 * bounded-frequency sync loop that computes ProxyState (state.ts), hands it to a backend
 * (iptables / nftables / ipvs) and cleans stale UDP conntrack entries. Serves /healthz, /livez,
 * /metrics and the ETP Local health check node ports. SIGTERM leaves the rules in place;
 * --cleanup (cleanup()) removes them.
 */
import { networkInterfaces, hostname as osHostname } from "node:os";
import type { Logger } from "../cli/logger.js";
import {
  type Informer,
  loadClusterConnection,
  R,
  RestClient,
  SharedInformerFactory,
} from "../client/index.js";
import { newMetricsRegistry } from "../metrics/prom.js";
import { type OperatorServer, serveOperatorEndpoints } from "../metrics/serve.js";
import { staleConntrack } from "./conntrack.js";
import { deleteConntrack, detectIptablesMode, ipvsAvailable, type Runner, runCommand } from "./exec.js";
import { type HealthzServer, ProxyHealth, ServiceHealthServers, serveHealthz } from "./healthz.js";
import { proxyMetrics } from "./metrics.js";
import { type Family, type ProxyConfig, type ProxyState, usableEndpoints } from "./model.js";
import { type Backend, cleanupIptables, IptablesBackend } from "./proxier-iptables.js";
import { cleanupIpvs, IpvsBackend, missingIpvsTools } from "./proxier-ipvs.js";
import { cleanupNftables, NftablesBackend } from "./proxier-nftables.js";
import {
  buildProxyState,
  diffStates,
  type EndpointSlice,
  familyOf,
  type Node,
  nodeEligible,
  type Service,
  TRIGGER_TIME_ANNOTATION,
} from "./state.js";
import { BoundedFrequencyRunner, type SyncReason } from "./sync.js";

/** a full resync at least this often even when nothing looks wrong (kube-proxy's FullSyncPeriod) */
const FULL_SYNC_PERIOD_MS = 60 * 60 * 1000;
export type ProxyMode = "iptables" | "nftables" | "ipvs";

export interface ProxierOptions {
  kubeconfig?: string;
  hostnameOverride?: string;
  mode: ProxyMode;
  /** comma-separated CIDRs (one per family) */
  clusterCIDR?: string;
  masqueradeAll?: boolean;
  nodePortAddresses?: string[];
  /** "0.0.0.0:10256"; "" disables */
  healthzBindAddress?: string;
  /** "127.0.0.1:10249"; "" disables */
  metricsBindAddress?: string;
  syncPeriodMs?: number;
  minSyncPeriodMs?: number;
  logger: Logger;
  /** command runner (tests) */
  run?: Runner;
}

export interface RunningProxier {
  healthzPort?: number;
  metricsPort?: number;
  /** resolves after the first successful sync */
  firstSync: Promise<void>;
  stop(): Promise<void>;
}

/** a configuration error: the caller prints the one line and exits 2 */
export class ProxyConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProxyConfigError";
  }
}

export function familiesOf(clusterCIDR: string | undefined): Family[] {
  const fams = new Set<Family>([4]);
  for (const c of (clusterCIDR ?? "").split(",")) {
    if (c.trim() && familyOf(c.trim()) === 6) fams.add(6);
  }
  return [...fams];
}

function localAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === "IPv6" && a.address.toLowerCase().startsWith("fe80")) continue;
      out.push(a.address);
    }
  }
  return out;
}

/** the backends of one mode, one per family (exported for tests) */
export async function makeBackends(
  opts: ProxierOptions,
  families: Family[],
  run: Runner,
): Promise<Backend[]> {
  const log = opts.logger;
  if (opts.mode === "ipvs") {
    if (!(await ipvsAvailable(run))) {
      throw new ProxyConfigError(
        "--proxy-mode ipvs needs the IP_VS kernel module, which this kernel does not have (no /proc/net/ip_vs, modprobe ip_vs fails): use --proxy-mode nftables",
      );
    }
    const missing = await missingIpvsTools(run);
    if (missing.length) {
      throw new ProxyConfigError(
        `--proxy-mode ipvs needs ${missing.join(" and ")}, which ${missing.length > 1 ? "are" : "is"} not installed: install ${missing.length > 1 ? "them" : "it"} or use --proxy-mode nftables`,
      );
    }
    const { mode, reason } = await detectIptablesMode(run);
    log.info(
      { iptablesMode: mode, reason },
      `using iptables-${mode} for IPVS mode's rules (iptables-wrapper detection)`,
    );
    return families.map((f) => new IpvsBackend(f, mode, log, run));
  }
  if (opts.mode === "nftables") return families.map((f) => new NftablesBackend(f, log, run));
  const { mode, reason } = await detectIptablesMode(run);
  log.info({ iptablesMode: mode, reason }, `using iptables-${mode} (iptables-wrapper detection)`);
  return families.map((f) => new IptablesBackend(f, mode, log, run));
}

export async function run(opts: ProxierOptions): Promise<RunningProxier> {
  const log = opts.logger;
  const cmd = opts.run ?? runCommand;
  const syncPeriodMs = opts.syncPeriodMs ?? 30_000;
  const minSyncPeriodMs = opts.minSyncPeriodMs ?? 1000;
  const nodeName = opts.hostnameOverride || osHostname();
  if (!["iptables", "nftables", "ipvs"].includes(opts.mode)) {
    throw new ProxyConfigError(`invalid --proxy-mode "${opts.mode}" (want iptables, nftables or ipvs)`);
  }
  for (const c of opts.nodePortAddresses ?? []) {
    if (!familyOf(c)) throw new ProxyConfigError(`invalid --nodeport-addresses CIDR "${c}"`);
  }
  for (const c of (opts.clusterCIDR ?? "").split(",").filter((x) => x.trim())) {
    if (!familyOf(c.trim()) || !c.includes("/")) throw new ProxyConfigError(`invalid --cluster-cidr "${c}"`);
  }
  const families = familiesOf(opts.clusterCIDR);
  const backends = await makeBackends(opts, families, cmd);
  log.info(
    { mode: opts.mode, node: nodeName, backends: backends.map((b) => b.description) },
    "proxy starting",
  );

  const config: ProxyConfig = {
    clusterCIDR: opts.clusterCIDR,
    masqueradeAll: !!opts.masqueradeAll,
    masqueradeBit: 14,
  };

  const client = new RestClient(loadClusterConnection({ kubeconfig: opts.kubeconfig }), {
    component: "kube-proxy",
  });
  const informers = new SharedInformerFactory(client, { logger: log });
  const services = informers.informerFor<Service & { metadata: { name: string } }>(R.services);
  const slices = informers.informerFor<EndpointSlice & { metadata: { name: string } }>(R.endpointslices);
  const nodes = informers.informerFor<Node & { metadata: { name: string } }>(R.nodes, {
    fieldSelector: `metadata.name=${nodeName}`,
  });

  const registry = newMetricsRegistry();
  const metrics = proxyMetrics(registry);
  const health = new ProxyHealth(2 * syncPeriodMs);
  const hcServers = new ServiceHealthServers(() => health.proxyHealthy(), log);

  /** EndpointSlice trigger times of changes not yet programmed */
  const pendingTriggers = new Map<string, number>();
  let pendingServiceChanges = 0;
  let pendingEndpointChanges = 0;
  let forceFull = false;
  let lastFullSync = 0;
  let skippedV6Logged = false;
  const prev = new Map<Family, ProxyState>();

  const queued = () => {
    health.queued();
    metrics.lastQueuedTimestamp.set(Date.now() / 1000);
    runner.run();
  };

  const watchInformer = <T extends { metadata: { name?: string } }>(
    inf: Informer<T & { metadata: { name: string } }>,
    onChange: (o: T) => void,
  ) =>
    inf.addEventHandler({
      onAdd: (o, initial) => {
        if (!initial) onChange(o);
      },
      onUpdate: (a, b) => {
        if (a !== b) onChange(b);
      },
      onDelete: (o) => onChange(o),
    });
  watchInformer(services, () => {
    pendingServiceChanges++;
    metrics.serviceChanges.inc();
    metrics.serviceChangesPending.set(pendingServiceChanges);
    queued();
  });
  watchInformer(slices, (s: EndpointSlice) => {
    pendingEndpointChanges++;
    metrics.endpointChanges.inc();
    metrics.endpointChangesPending.set(pendingEndpointChanges);
    const t = Date.parse(s.metadata.annotations?.[TRIGGER_TIME_ANNOTATION] ?? "");
    const key = `${s.metadata.namespace}/${s.metadata.name}`;
    if (Number.isFinite(t)) {
      const had = pendingTriggers.get(key);
      if (had === undefined || t < had) pendingTriggers.set(key, t);
    }
    queued();
  });
  watchInformer(nodes, (n: Node) => {
    health.nodeEligible = nodeEligible(nodes.list()[0] ?? n);
    queued();
  });

  let resolveFirst!: () => void;
  const firstSync = new Promise<void>((r) => {
    resolveFirst = r;
  });

  async function syncOnce(reason: SyncReason): Promise<void> {
    const start = performance.now();
    const startedAt = Date.now();
    // like kube-proxy: periodic syncs are partial (they rewrite only what differs); a full sync
    // happens at start, after a failure or a lost canary, and at least once an hour
    const full = reason === "initial" || forceFull || Date.now() - lastFullSync > FULL_SYNC_PERIOD_MS;
    if (full) lastFullSync = Date.now();
    forceFull = false;
    const triggers = [...pendingTriggers.values()];
    pendingTriggers.clear();
    pendingServiceChanges = 0;
    pendingEndpointChanges = 0;
    metrics.serviceChangesPending.set(0);
    metrics.endpointChangesPending.set(0);
    const svcList = services.list();
    const sliceList = slices.list();
    const locals = localAddresses();
    const hc: Array<{ namespace: string; name: string; port: number; localEndpoints: number }> = [];
    let wrote = false;
    let again = false;
    try {
      for (const backend of backends) {
        const state = buildProxyState({
          family: backend.family,
          services: svcList,
          slices: sliceList,
          nodeName,
          nodePortCIDRs: opts.nodePortAddresses,
          localAddresses: locals,
          config,
        });
        const before = prev.get(backend.family);
        const diff = diffStates(before, state);
        const famFull = full || diff.needsFull;
        if (famFull || diff.changed.size) {
          const t0 = performance.now();
          const res = await backend.sync(state, famFull, diff.changed);
          wrote = true;
          if (res.again) again = true;
          log.debug(
            {
              backend: backend.description,
              full: famFull,
              changed: diff.changed.size,
              bytes: res.bytes,
              ms: Math.round(performance.now() - t0),
            },
            "synced rules",
          );
        }
        prev.set(backend.family, state);
        const stale = staleConntrack(before, state);
        if (stale.length) {
          const failed = await deleteConntrack(stale, backend.family, cmd);
          for (const f of failed) {
            metrics.conntrackCleanupFailures.inc();
            log.warn({ deletion: f.deletion, err: f.error }, "conntrack cleanup failed");
          }
        }
        for (const sp of state.services) {
          if (!sp.healthCheckNodePort) continue;
          hc.push({
            namespace: sp.namespace,
            name: sp.name,
            port: sp.healthCheckNodePort,
            localEndpoints: usableEndpoints(state.endpoints.get(sp.servicePortName) ?? [], true).length,
          });
        }
      }
    } catch (e) {
      if (opts.mode === "nftables") metrics.nftFailures.inc();
      else metrics.restoreFailures.inc();
      metrics.syncFailures.inc();
      forceFull = true;
      // the changes are not programmed yet: keep their trigger times for the next attempt
      for (const t of triggers) pendingTriggers.set(`retry/${t}`, t);
      log.error({ err: String(e) }, "failed to sync proxy rules; retrying");
      runner.retryAfter(Math.max(minSyncPeriodMs, 1000));
      return;
    }
    if (!skippedV6Logged && !families.includes(6)) {
      const v6 = svcList.filter((s) =>
        (s.spec?.clusterIPs ?? [s.spec?.clusterIP ?? ""]).some((ip) => familyOf(ip) === 6),
      );
      if (v6.length) {
        skippedV6Logged = true;
        log.warn(
          {
            services: v6.slice(0, 5).map((s) => `${s.metadata.namespace}/${s.metadata.name}`),
            count: v6.length,
          },
          "IPv6 service IPs are not programmed: give --cluster-cidr an IPv6 CIDR too for dual-stack",
        );
      }
    }
    // health check node ports: one port may be shared by several ports of one service
    const byPort = new Map<number, (typeof hc)[number]>();
    for (const h of hc) {
      const had = byPort.get(h.port);
      byPort.set(
        h.port,
        had ? { ...had, localEndpoints: Math.max(had.localEndpoints, h.localEndpoints) } : h,
      );
    }
    await hcServers.sync([...byPort.values()]);
    const seconds = (performance.now() - start) / 1000;
    metrics.syncDuration.observe(seconds);
    if (wrote) (full ? metrics.syncFullDuration : metrics.syncPartialDuration).observe(seconds);
    const now = Date.now();
    for (const t of triggers) metrics.networkProgramming.observe(Math.max(0, (now - t) / 1000));
    metrics.lastTimestamp.set(now / 1000);
    health.updated(startedAt);
    if (again) runner.retryAfter(1100);
    if (reason === "initial") {
      log.info(
        { ms: Math.round(seconds * 1000), services: svcList.length, slices: sliceList.length },
        "first sync done",
      );
      resolveFirst();
    }
  }

  const runner: BoundedFrequencyRunner = new BoundedFrequencyRunner({
    name: "sync-proxy-rules",
    minIntervalMs: minSyncPeriodMs,
    maxIntervalMs: syncPeriodMs,
    fn: syncOnce,
    onError: (err) => log.error({ err: String(err) }, "sync loop error"),
  });

  // someone flushed our rules: full resync (checked once per sync period)
  const canaryTimer = setInterval(() => {
    void (async () => {
      if (runner.isRunning) return;
      for (const b of backends) {
        let ok = true;
        try {
          ok = await b.intact();
        } catch {
          ok = false;
        }
        if (!ok) {
          log.warn(
            { backend: b.description },
            "canary gone: rules were flushed by someone else; full resync",
          );
          forceFull = true;
          runner.run();
          return;
        }
      }
    })();
  }, syncPeriodMs);

  let healthz: HealthzServer | undefined;
  let metricsServer: OperatorServer | undefined;
  const stopAll = async () => {
    clearInterval(canaryTimer);
    await runner.stop();
    await informers.stop();
    await hcServers.close();
    await healthz?.close();
    await metricsServer?.close();
  };
  try {
    if (opts.healthzBindAddress !== "")
      healthz = await serveHealthz(opts.healthzBindAddress ?? "0.0.0.0:10256", health);
    if (opts.metricsBindAddress !== "")
      metricsServer = await serveOperatorEndpoints({
        bindAddress: opts.metricsBindAddress ?? "127.0.0.1:10249",
        registry,
        healthy: () => health.status("livez").ok,
      });
  } catch (e) {
    await stopAll();
    throw new ProxyConfigError(`cannot listen: ${e instanceof Error ? e.message : String(e)}`);
  }

  informers.start();
  // the first sync waits for every informer: existing rules stay until a complete ruleset is ready
  const ac = new AbortController();
  void informers.waitForSync(ac.signal).then((ok) => {
    if (!ok) return;
    const n = nodes.list()[0];
    health.nodeEligible = nodeEligible(n);
    if (!n) log.warn({ node: nodeName }, "Node object not found: node-local features use the name only");
    log.info({ services: services.size, endpointSlices: slices.size }, "informers synced");
    runner.start();
  });

  return {
    healthzPort: healthz?.port,
    metricsPort: metricsServer?.port,
    firstSync,
    async stop() {
      ac.abort();
      await stopAll();
      log.info({}, "proxy stopped; rules left in place");
    },
  };
}

/** --cleanup: removes every kubeplane rule (IPVS state, iptables legacy and nft backends, both families, and the nft tables) */
export async function cleanup(log: Logger, cmd: Runner = runCommand): Promise<void> {
  // IPVS first: it removes its own jumps and chains, then cleanupIptables the shared chains
  let any = await cleanupIpvs(log, cmd);
  for (const mode of ["legacy", "nft"] as const) {
    for (const family of [4, 6] as const) {
      if (await cleanupIptables(mode, family, log, cmd)) any = true;
    }
  }
  if (await cleanupNftables(log, cmd)) any = true;
  log.info({ removed: any }, any ? "cleanup done" : "nothing to clean up");
}
