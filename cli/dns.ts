/** `kubeplane dns`: flags → dns/server.run, lame-duck shutdown on SIGTERM/SIGINT. */

import { parseUpstream } from "../dns/forward.js";
import { run } from "../dns/server.js";
import { splitHostPort } from "../metrics/serve.js";
import type { FlagSpecs, FlagValue } from "./flags.js";
import { parseFlags } from "./flags.js";
import { createLogger } from "./logger.js";
import { untilSignal } from "./signals.js";

const hostPort = (v: FlagValue) => {
  splitHostPort(String(v));
};
const optionalHostPort = (v: FlagValue) => {
  if (v !== "") hostPort(v);
};

export const dnsFlags = {
  kubeconfig: { type: "string", help: "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)" },
  "cluster-domain": {
    type: "string",
    default: "cluster.local",
    help: "the cluster zone answered from the API",
    check: (v) => {
      if (!/^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.?$/i.test(String(v)))
        throw new Error("not a domain name");
    },
  },
  listen: { type: "string", default: ":53", help: "ADDR:PORT for UDP and TCP", check: hostPort },
  upstream: {
    type: "list",
    help: "ADDR:PORT upstreams for other names (default: the nameservers of /etc/resolv.conf)",
    check: (v) => {
      for (const u of v as string[]) parseUpstream(u);
    },
  },
  ttl: {
    type: "int",
    default: 30,
    help: "TTL of cluster records in seconds",
    check: (v) => {
      if ((v as number) < 0 || (v as number) > 3600) throw new Error("must be between 0 and 3600");
    },
  },
  pods: {
    type: "string",
    default: "disabled",
    help: "pod records <a-b-c-d>.<ns>.pod.<zone>: insecure, verified or disabled",
    check: (v) => {
      if (!["insecure", "verified", "disabled"].includes(String(v)))
        throw new Error("must be insecure, verified or disabled");
    },
  },
  "health-bind-address": {
    type: "string",
    default: ":8080",
    help: 'address for /health ("" disables)',
    check: optionalHostPort,
  },
  "ready-bind-address": {
    type: "string",
    default: ":8181",
    help: 'address for /ready ("" disables)',
    check: optionalHostPort,
  },
  "metrics-bind-address": {
    type: "string",
    default: ":9153",
    help: 'address for /metrics ("" disables)',
    check: optionalHostPort,
  },
  lameduck: {
    type: "duration",
    default: "5s",
    help: "keep answering this long after SIGTERM (/ready says 503)",
  },
} satisfies FlagSpecs;

export async function main(argv: string[]): Promise<void> {
  const f = parseFlags(argv, dnsFlags);
  const log = createLogger("dns");
  const dns = await run({
    kubeconfig: f.kubeconfig as string | undefined,
    clusterDomain: f["cluster-domain"] as string,
    listen: f.listen as string,
    upstreams: f.upstream as string[] | undefined,
    ttl: f.ttl as number,
    pods: f.pods as "insecure" | "verified" | "disabled",
    healthBindAddress: f["health-bind-address"] as string,
    readyBindAddress: f["ready-bind-address"] as string,
    metricsBindAddress: f["metrics-bind-address"] as string,
    lameduckMs: f.lameduck as number,
    logger: log,
  });
  const signal = await untilSignal();
  log.info({ signal }, "shutting down");
  await dns.stop();
}
