/**
 * Pure: which UDP conntrack entries go stale between two states. A UDP flow keeps its NAT
 * decision for as long as packets flow, so without cleanup a client keeps talking to a
 * removed endpoint, or to the REJECTed VIP of a service that has since gained endpoints.
 */
import { type Endpoint, type ProxyState, type ServicePort, usableEndpoints } from "./model.js";

export type ConntrackDeletion =
  /** flows to a service IP (the whole service: it gained its first endpoint) */
  | { kind: "origDst"; origDst: string }
  /** flows to a node port (the whole service) */
  | { kind: "port"; port: number }
  /** flows to a service IP NATed to a removed endpoint */
  | { kind: "nat"; origDst: string; dstNat: string }
  /** flows to a node port NATed to a removed endpoint */
  | { kind: "portNat"; port: number; dstNat: string };

function serviceIPs(sp: ServicePort): string[] {
  return [...(sp.clusterIP ? [sp.clusterIP] : []), ...sp.externalIPs, ...sp.loadBalancerIPs];
}

function usable(state: ProxyState, name: string): Endpoint[] {
  return usableEndpoints(state.endpoints.get(name) ?? []);
}

/** conntrack -D arguments (after `conntrack -D -p udp`) for one deletion */
export function conntrackArgs(d: ConntrackDeletion): string[] {
  switch (d.kind) {
    case "origDst":
      return ["-D", "-p", "udp", "--orig-dst", d.origDst];
    case "port":
      return ["-D", "-p", "udp", "--dport", String(d.port)];
    case "nat":
      return ["-D", "-p", "udp", "--orig-dst", d.origDst, "--dst-nat", d.dstNat];
    case "portNat":
      return ["-D", "-p", "udp", "--orig-port-dst", String(d.port), "--dst-nat", d.dstNat];
  }
}

/** UDP conntrack entries to delete after a sync from `prev` to `next` (deduplicated) */
export function staleConntrack(prev: ProxyState | undefined, next: ProxyState): ConntrackDeletion[] {
  // at start-up there is no history: established flows are kept (restart safety)
  if (!prev) return [];
  const out = new Map<string, ConntrackDeletion>();
  const add = (d: ConntrackDeletion) => out.set(JSON.stringify(d), d);
  const nextByName = new Map(next.services.map((s) => [s.servicePortName, s]));
  const prevByName = new Map(prev.services.map((s) => [s.servicePortName, s]));
  // removed endpoints (also those of removed services)
  for (const [name, oldSp] of prevByName) {
    if (oldSp.protocol !== "UDP") continue;
    const nowIPs = new Set(nextByName.has(name) ? usable(next, name).map((e) => e.ip) : []);
    for (const ep of usable(prev, name)) {
      if (nowIPs.has(ep.ip)) continue;
      for (const ip of serviceIPs(oldSp)) add({ kind: "nat", origDst: ip, dstNat: ep.ip });
      if (oldSp.nodePort) add({ kind: "portNat", port: oldSp.nodePort, dstNat: ep.ip });
    }
  }
  // services that gained their first endpoint: the REJECT-era flows must go
  for (const [name, sp] of nextByName) {
    if (sp.protocol !== "UDP") continue;
    const had = prevByName.has(name) ? usable(prev, name).length : 0;
    if (had > 0 || usable(next, name).length === 0) continue;
    for (const ip of serviceIPs(sp)) add({ kind: "origDst", origDst: ip });
    if (sp.nodePort) add({ kind: "port", port: sp.nodePort });
  }
  return [...out.values()];
}
