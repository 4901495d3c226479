/** `kubeplane proxy`: flags → proxy/proxier.run (or cleanup), graceful shutdown that leaves rules in place. */
import { cleanup, ProxyConfigError, type ProxyMode, run } from "../proxy/proxier.js";
import type { FlagSpecs } from "./flags.js";
import { FlagError, parseFlags } from "./flags.js";
import { createLogger } from "./logger.js";
import { untilSignal } from "./signals.js";

export const proxyFlags = {
  kubeconfig: { type: "string", help: "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)" },
  "hostname-override": { type: "string", help: "this node's name (default: the hostname)" },
  "proxy-mode": {
    type: "string",
    default: "iptables",
    help: "iptables, nftables or ipvs",
    check: (v) => {
      if (!["iptables", "nftables", "ipvs"].includes(String(v)))
        throw new Error("want iptables, nftables or ipvs");
    },
  },
  "cluster-cidr": {
    type: "string",
    help: "pod CIDR(s), comma-separated per family; traffic from outside is masqueraded",
  },
  "masquerade-all": { type: "bool", default: false, help: "masquerade all traffic sent to Service IPs" },
  "nodeport-addresses": {
    type: "list",
    help: "CIDRs NodePorts accept traffic on (default: every local address)",
  },
  "healthz-bind-address": {
    type: "string",
    default: "0.0.0.0:10256",
    help: "address for /healthz and /livez",
  },
  "metrics-bind-address": { type: "string", default: "127.0.0.1:10249", help: "address for /metrics" },
  "iptables-sync-period": { type: "duration", default: "30s", help: "full resync at least this often" },
  "iptables-min-sync-period": { type: "duration", default: "1s", help: "sync at most this often" },
  cleanup: { type: "bool", default: false, help: "remove every rule kubeplane proxy created, then exit" },
} satisfies FlagSpecs;

export async function main(argv: string[]): Promise<void> {
  const f = parseFlags(argv, proxyFlags);
  const log = createLogger("proxy");
  if (f.cleanup) {
    await cleanup(log);
    return;
  }
  const syncPeriodMs = f["iptables-sync-period"] as number;
  const minSyncPeriodMs = f["iptables-min-sync-period"] as number;
  if (syncPeriodMs <= 0) throw new FlagError("--iptables-sync-period must be positive");
  if (minSyncPeriodMs < 0 || minSyncPeriodMs > syncPeriodMs)
    throw new FlagError("--iptables-min-sync-period must be between 0 and --iptables-sync-period");
  let proxy: Awaited<ReturnType<typeof run>>;
  try {
    proxy = await run({
      kubeconfig: f.kubeconfig as string | undefined,
      hostnameOverride: f["hostname-override"] as string | undefined,
      mode: f["proxy-mode"] as ProxyMode,
      clusterCIDR: f["cluster-cidr"] as string | undefined,
      masqueradeAll: f["masquerade-all"] as boolean,
      nodePortAddresses: f["nodeport-addresses"] as string[] | undefined,
      healthzBindAddress: f["healthz-bind-address"] as string,
      metricsBindAddress: f["metrics-bind-address"] as string,
      syncPeriodMs,
      minSyncPeriodMs,
      logger: log,
    });
  } catch (e) {
    if (e instanceof ProxyConfigError) throw new FlagError(e.message);
    throw e;
  }
  log.info({ healthzPort: proxy.healthzPort, metricsPort: proxy.metricsPort }, "proxy running");
  const signal = await untilSignal();
  log.info({ signal }, "shutting down (rules stay in place)");
  await proxy.stop();
}
