/**
 * `kubeplane up`: a working local cluster in one process — the apiserver (SQLite by
 * default), the scheduler and the controller-manager. Each daemon joins here as it lands
 * (see README, "What runs today").
 */
import { join } from "node:path";
import { run as runApiserver } from "../apiserver/server.js";
import { run as runControllerManager } from "../controllers/manager.js";
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
  log.info({ kubeconfig }, `cluster is up: export KUBECONFIG=${kubeconfig}`);
  process.stderr.write(
    `\ncluster is up (apiserver, scheduler, controller-manager). Try:\n  export KUBECONFIG=${kubeconfig}\n  kubectl get namespaces\n\n`,
  );
  const signal = await untilSignal();
  log.info({ signal }, "shutting down");
  await controllers.stop();
  await scheduler.stop();
  await apiserver.close();
}
