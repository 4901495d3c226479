/**
 * `kubeplane up`: a working local cluster in one process. Today that is the apiserver on
 * SQLite; every daemon joins here as it lands (see README).
 */
import { join } from "node:path";
import { run } from "../apiserver/server.js";
import type { FlagSpecs } from "./flags.js";
import { parseFlags } from "./flags.js";
import { createLogger } from "./logger.js";
import { untilSignal } from "./signals.js";

export const upFlags = {
  "data-dir": { type: "string", default: ".data", help: "where the cluster keeps its state" },
  "secure-port": { type: "int", default: 6443, help: "apiserver HTTPS port" },
  "etcd-servers": { type: "list", help: "use etcd instead of SQLite" },
} satisfies FlagSpecs;

export async function main(argv: string[]): Promise<void> {
  const f = parseFlags(argv, upFlags);
  const log = createLogger("up");
  const dataDir = f["data-dir"] as string;
  const apiserver = await run({
    dataDir: join(dataDir, "apiserver"),
    securePort: f["secure-port"] as number,
    etcdServers: f["etcd-servers"] as string[] | undefined,
    logger: createLogger("apiserver"),
  });
  log.info({ kubeconfig: apiserver.adminKubeconfig }, `cluster is up: export KUBECONFIG=${apiserver.adminKubeconfig}`);
  process.stderr.write(`\ncluster is up. Try:\n  export KUBECONFIG=${apiserver.adminKubeconfig}\n  kubectl get namespaces\n\n`);
  const signal = await untilSignal();
  log.info({ signal }, "shutting down");
  await apiserver.close();
}
