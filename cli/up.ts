/**
 * `kubeplane up`: a working local cluster in one process — the apiserver (SQLite by
 * default), the scheduler, the controller-manager and cluster DNS on a loopback port. The
 * proxy is not started here: it programs the host's iptables/nftables as root, and there is
 * no kubelet yet whose pods it would serve (see README, "What runs today").
 */
import { join } from "node:path";
import { run as runApiserver } from "../apiserver/server.js";
import { run as runControllerManager } from "../controllers/manager.js";
import { run as runDns } from "../dns/server.js";
import { run as runScheduler } from "../scheduler/scheduler.js";
import type { FlagSpecs } from "./flags.js";
import { parseFlags } from "./flags.js";
import { createLogger } from "./logger.js";
import { untilSignal } from "./signals.js";

export const upFlags = {
  "data-dir": { type: "string", default: ".data", help: "where the cluster keeps its state" },
  "secure-port": { type: "int", default: 6443, help: "apiserver HTTPS port" },
  "etcd-servers": { type: "list", help: "use etcd instead of SQLite" },
  "cluster-cidr": { type: "string", default: "10.244.0.0/16", help: "pod network range (node IPAM)" },
  "dns-listen": { type: "string", default: "127.0.0.1:10053", help: "cluster DNS address (UDP and TCP)" },
  "dns-upstream": {
    type: "list",
    help: "upstreams for names outside the cluster (default: /etc/resolv.conf)",
  },
} satisfies FlagSpecs;

export async function main(argv: string[]): Promise<void> {
  const f = parseFlags(argv, upFlags);
  const log = createLogger("up");
  const dataDir = f["data-dir"] as string;
  const apiserver = await runApiserver({
    dataDir: join(dataDir, "apiserver"),
    securePort: f["secure-port"] as number,
    etcdServers: f["etcd-servers"] as string[] | undefined,
    logger: createLogger("apiserver"),
  });
  const kubeconfig = apiserver.adminKubeconfig;
  const scheduler = await runScheduler({ kubeconfig, logger: createLogger("scheduler") });
  const controllers = await runControllerManager({
    kubeconfig,
    clusterCIDR: f["cluster-cidr"] as string,
    logger: createLogger("controller-manager"),
  });
  const dns = await runDns({
    kubeconfig,
    listen: f["dns-listen"] as string,
    upstreams: f["dns-upstream"] as string[] | undefined,
    healthBindAddress: "",
    readyBindAddress: "",
    metricsBindAddress: "",
    logger: createLogger("dns"),
  });
  log.info(
    { kubeconfig, dns: `${dns.host}:${dns.udpPort}` },
    `cluster is up: export KUBECONFIG=${kubeconfig}`,
  );
  process.stderr.write(
    `\ncluster is up (apiserver, scheduler, controller-manager, dns on ${dns.host}:${dns.udpPort}). Try:\n` +
      `  export KUBECONFIG=${kubeconfig}\n  kubectl get namespaces\n` +
      `  dig @${dns.host} -p ${dns.udpPort} kubernetes.default.svc.cluster.local\n\n`,
  );
  const signal = await untilSignal();
  log.info({ signal }, "shutting down");
  await dns.stop();
  await controllers.stop();
  await scheduler.stop();
  await apiserver.close();
}
