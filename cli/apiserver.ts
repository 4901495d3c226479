/** `kubeplane apiserver`: flags → apiserver.run, graceful shutdown on SIGTERM/SIGINT. */
import { parseCIDR, parsePortRange } from "../apiserver/allocators.js";
import { run } from "../apiserver/server.js";
import type { FlagSpecs } from "./flags.js";
import { parseFlags } from "./flags.js";
import { createLogger } from "./logger.js";
import { untilSignal } from "./signals.js";

export const apiserverFlags = {
  "data-dir": {
    type: "string",
    default: ".data/apiserver",
    help: "directory for the SQLite database, PKI and kubeconfig",
  },
  "bind-address": { type: "string", default: "127.0.0.1", help: "address to serve HTTPS on" },
  "secure-port": {
    type: "int",
    default: 6443,
    help: "HTTPS port",
    check: (v) => {
      if ((v as number) < 0 || (v as number) > 65535) throw new Error("must be 0-65535");
    },
  },
  "advertise-address": { type: "string", help: "address published in the default/kubernetes endpoints" },
  "etcd-servers": { type: "list", help: "etcd v3 endpoints (http://127.0.0.1:2379,...); SQLite when empty" },
  "service-cluster-ip-range": {
    type: "string",
    default: "10.96.0.0/12",
    help: "CIDR(s) for Service ClusterIPs (comma-separated for dual-stack)",
    check: (v) => {
      for (const c of String(v).split(",")) parseCIDR(c.trim());
    },
  },
  "service-node-port-range": {
    type: "string",
    default: "30000-32767",
    help: "port range for NodePort Services",
    check: (v) => {
      parsePortRange(String(v));
    },
  },
  "token-auth-file": {
    type: "string",
    help: 'static bearer tokens (kube-apiserver CSV format: token,user,uid,"group1,group2")',
  },
  "tls-cert-file": { type: "string", help: "serving certificate (default: generated into --data-dir)" },
  "tls-private-key-file": { type: "string", help: "serving key" },
  "client-ca-file": {
    type: "string",
    help: "CA for client certificates (default: the generated cluster CA)",
  },
  "min-request-timeout": {
    type: "int",
    default: 1800,
    help: "minimum seconds a watch stays open when the client names no timeout",
  },
} satisfies FlagSpecs;

export async function main(argv: string[]): Promise<void> {
  const f = parseFlags(argv, apiserverFlags);
  const log = createLogger("apiserver");
  const server = await run({
    dataDir: f["data-dir"] as string,
    bindAddress: f["bind-address"] as string,
    securePort: f["secure-port"] as number,
    advertiseAddress: f["advertise-address"] as string | undefined,
    etcdServers: f["etcd-servers"] as string[] | undefined,
    serviceClusterIPRange: f["service-cluster-ip-range"] as string,
    serviceNodePortRange: f["service-node-port-range"] as string,
    tokenAuthFile: f["token-auth-file"] as string | undefined,
    tlsCertFile: f["tls-cert-file"] as string | undefined,
    tlsPrivateKeyFile: f["tls-private-key-file"] as string | undefined,
    clientCAFile: f["client-ca-file"] as string | undefined,
    minRequestTimeoutSeconds: f["min-request-timeout"] as number,
    logger: log,
  });
  const signal = await untilSignal();
  log.info({ signal }, "shutting down");
  await server.close();
}
