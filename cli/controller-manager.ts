/** `kubeplane controller-manager`: flags → controllers/manager.run, graceful shutdown. */
import { run } from "../controllers/manager.js";
import type { FlagSpecs } from "./flags.js";
import { parseFlags } from "./flags.js";
import { createLogger } from "./logger.js";
import { untilSignal } from "./signals.js";

export const controllerManagerFlags = {
  kubeconfig: { type: "string", help: "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)" },
  controllers: {
    type: "list",
    default: ["*"],
    help: 'controllers to run: "*" for all, "-name" to leave one out',
  },
  "cluster-cidr": { type: "string", help: "CIDR pod networks are carved from (node IPAM)" },
  "node-cidr-mask-size": { type: "int", default: 24, help: "prefix length of each node's podCIDR" },
  "node-monitor-grace-period": {
    type: "duration",
    default: "40s",
    help: "a node whose Lease is older than this becomes NotReady",
  },
  "node-monitor-period": { type: "duration", default: "5s", help: "how often node health is checked" },
  "concurrent-syncs": { type: "int", default: 5, help: "workers per controller" },
  "leader-elect": {
    type: "bool",
    default: false,
    help: "elect a leader on the kube-system/kube-controller-manager Lease",
  },
  "bind-address": { type: "string", default: "127.0.0.1:10257", help: "address for /healthz and /metrics" },
} satisfies FlagSpecs;

export async function main(argv: string[]): Promise<void> {
  const f = parseFlags(argv, controllerManagerFlags);
  const log = createLogger("controller-manager");
  const cm = await run({
    kubeconfig: f.kubeconfig as string | undefined,
    controllers: f.controllers as string[],
    clusterCIDR: f["cluster-cidr"] as string | undefined,
    nodeCIDRMaskSize: f["node-cidr-mask-size"] as number,
    nodeMonitorGracePeriodMs: f["node-monitor-grace-period"] as number,
    nodeMonitorPeriodMs: f["node-monitor-period"] as number,
    concurrency: f["concurrent-syncs"] as number,
    leaderElect: f["leader-elect"] as boolean,
    bindAddress: f["bind-address"] as string,
    logger: log,
  });
  const signal = await untilSignal();
  log.info({ signal }, "shutting down");
  await cm.stop();
}
