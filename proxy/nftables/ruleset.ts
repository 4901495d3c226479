/**
 * The nftables ruleset, as an `nft -f` script, in kube-proxy's nftables layout (pure: no I/O).
 *
 * table ip kube-proxy (ip6 for family 6):
 *   base chains filter-prerouting/-input/-forward/-output (priority dstnat-10),
 *   filter-output-post-dnat (dstnat+10), nat-prerouting/-output (dstnat), nat-postrouting (srcnat);
 *   jump chains services, masquerading, firewall-check, service-endpoints-check,
 *   nodeport-endpoints-check, cluster-ips-check; helpers mark-for-masquerade and reject-chain;
 *   maps service-ips, service-nodeports (verdicts to the per-service chains), no-endpoint-services,
 *   no-endpoint-nodeports (reject / drop), firewall-ips; sets cluster-ips, nodeport-ips;
 *   per service port: service-/local-/external-/firewall- chains, and per endpoint an
 *   endpoint- chain (plus an affinity- timeout set with ClientIP affinity).
 *
 * Incremental by construction: the returned snapshot records the map/set elements and the
 * per-service chains (with their rules) that the script leaves in the kernel. The next call
 * diffs against it and writes only `add element` / `delete element` for changed entries,
 * `add chain` + `flush chain` + rules for chains whose rules changed, and flushes chains that
 * are no longer used. Like kube-proxy, stale chains are deleted one sync later (kernels before
 * 6.2 notice the last map element pointing to a chain only a moment after it is removed).
 * The table is never listed.
 *
 * Adopt the returned snapshot only after the script applied; when `nft -f` fails, keep the
 * previous snapshot and do a full sync with it.
 */
import type { Family, ProxyState } from "../model.js";
import {
  cidrContains,
  clusterCIDRsOf,
  isNftServiceChain,
  joinHostPort,
  masqueradeMark,
  nftAffinitySet,
  nftChainsFor,
  nftEndpointChain,
  ofFamily,
  programmedServices,
  serviceTopology,
} from "../names.js";

export const TABLE = "kube-proxy";

/** what the kernel holds after a script applied (only what this generator wrote) */
export interface NftSnapshot {
  family: Family;
  /** the node-level settings the base chains were written from; a change forces a full sync */
  baseKey: string;
  /** false when built from a listing of chain names (contents unknown) */
  baseReady: boolean;
  /** per-service chains → their rules ("\n"-joined); undefined: exists, contents unknown */
  chains: Map<string, string | undefined>;
  /** chains flushed because no longer used, waiting for deletion → when (opts.now) they were flushed */
  staleChains: Map<string, number | undefined>;
  /** affinity sets → timeout in seconds (undefined: unknown) */
  affinitySets: Map<string, number | undefined>;
  /** map/set name → element key → value (value "" for sets) */
  elements: Map<string, Map<string, string>>;
}

export interface NftOptions {
  full: boolean;
  previous?: NftSnapshot;
  /** milliseconds; when given, stale chains are deleted only once they have been flushed for 1 s */
  now?: number;
}

export interface NftResult {
  script: string;
  snapshot: NftSnapshot;
  /** whether this was written as a full sync (asked for, or forced by a missing/foreign snapshot) */
  full: boolean;
}

const STALE_CHAIN_DELAY_MS = 1000;

const CONTAINERS = [
  "cluster-ips",
  "nodeport-ips",
  "service-ips",
  "service-nodeports",
  "no-endpoint-services",
  "no-endpoint-nodeports",
  "firewall-ips",
] as const;
type Container = (typeof CONTAINERS)[number];
const SETS = new Set<Container>(["cluster-ips", "nodeport-ips"]);

interface BaseChain {
  name: string;
  type: "filter" | "nat";
  hook: string;
  priority: number;
}

// dstnat = -100, srcnat = 100 (written numerically: every nft version parses that)
export const BASE_CHAINS: BaseChain[] = [
  { name: "filter-prerouting", type: "filter", hook: "prerouting", priority: -110 },
  { name: "filter-input", type: "filter", hook: "input", priority: -110 },
  { name: "filter-forward", type: "filter", hook: "forward", priority: -110 },
  { name: "filter-output", type: "filter", hook: "output", priority: -110 },
  { name: "filter-output-post-dnat", type: "filter", hook: "output", priority: -90 },
  { name: "nat-prerouting", type: "nat", hook: "prerouting", priority: -100 },
  { name: "nat-output", type: "nat", hook: "output", priority: -100 },
  { name: "nat-postrouting", type: "nat", hook: "postrouting", priority: 100 },
];

const JUMP_CHAINS: { dst: string; src: string; extra: string }[] = [
  { dst: "nodeport-endpoints-check", src: "filter-input", extra: "ct state new " },
  { dst: "service-endpoints-check", src: "filter-input", extra: "ct state new " },
  { dst: "service-endpoints-check", src: "filter-forward", extra: "ct state new " },
  { dst: "service-endpoints-check", src: "filter-output", extra: "ct state new " },
  { dst: "firewall-check", src: "filter-prerouting", extra: "ct state new " },
  { dst: "firewall-check", src: "filter-output", extra: "ct state new " },
  { dst: "services", src: "nat-output", extra: "" },
  { dst: "services", src: "nat-prerouting", extra: "" },
  { dst: "masquerading", src: "nat-postrouting", extra: "" },
  { dst: "cluster-ips-check", src: "filter-forward", extra: "ct state new " },
  { dst: "cluster-ips-check", src: "filter-output-post-dnat", extra: "ct state new " },
];

function famWords(family: Family) {
  return family === 6
    ? { tf: "ip6", ipX: "ip6", addr: "ipv6_addr", noLocalhost: "ip6 daddr != ::1" }
    : { tf: "ip", ipX: "ip", addr: "ipv4_addr", noLocalhost: "ip daddr != 127.0.0.0/8" };
}

function quote(s: string): string {
  return `"${s.replaceAll('"', "'")}"`;
}

/** `a` or `{ a, b }` */
function anyOf(items: readonly string[]): string {
  return items.length === 1 ? items[0]! : `{ ${items.join(", ")} }`;
}

export function emptySnapshot(family: Family): NftSnapshot {
  return {
    family,
    baseKey: "",
    baseReady: false,
    chains: new Map(),
    staleChains: new Map(),
    affinitySets: new Map(),
    elements: new Map(CONTAINERS.map((c) => [c, new Map<string, string>()])),
  };
}

/**
 * A snapshot for a table left by an earlier process, from one listing of its chain and set
 * names (`nft list chains` / `nft list sets`, once at start-up): the next (full) sync then
 * deletes what is no longer needed.
 */
export function snapshotFromExisting(
  family: Family,
  chains: readonly string[],
  sets: readonly string[],
): NftSnapshot {
  const s = emptySnapshot(family);
  for (const c of chains) if (isNftServiceChain(c)) s.chains.set(c, undefined);
  for (const n of sets) if (n.startsWith("affinity-")) s.affinitySets.set(n, undefined);
  return s;
}

/** the desired state, computed from the model */
interface Desired {
  baseKey: string;
  nodePortIPs: string[] | undefined; // undefined: any local address
  chains: Map<string, string[]>; // per-service chains in write order
  /** extra text that takes part in the chain diff (the affinity timeout of the sets a chain uses) */
  chainExtra: Map<string, string>;
  affinitySets: Map<string, number>;
  elements: Map<Container, Map<string, string>>;
}

function desired(state: ProxyState): Desired {
  const family = state.family;
  const { ipX } = famWords(family);
  const podCIDRs = clusterCIDRsOf(state.config.clusterCIDR, family);
  const nodeAddrs = ofFamily(state.node.nodePortAddresses, family);
  const mark = masqueradeMark(state.config.masqueradeBit ?? 14);
  const nodePortIPs = state.node.nodePortOnAllLocal
    ? undefined
    : nodeAddrs.filter((a) => a !== "::1" && !a.startsWith("127."));
  const baseKey = JSON.stringify([family, mark, nodePortIPs ?? "*"]);

  const chains = new Map<string, string[]>();
  const chainExtra = new Map<string, string>();
  const affinitySets = new Map<string, number>();
  const elements = new Map<Container, Map<string, string>>(
    CONTAINERS.map((c) => [c, new Map<string, string>()]),
  );
  const el = (c: Container, key: string, value = "") => elements.get(c)!.set(key, value);
  for (const ip of nodePortIPs ?? []) el("nodeport-ips", ip);

  const notPod = podCIDRs.length ? ` ${ipX} saddr != ${anyOf(podCIDRs)}` : "";

  for (const sp of programmedServices(state.services, family)) {
    const spn = sp.servicePortName;
    const proto = sp.protocol.toLowerCase();
    const t = serviceTopology(sp, state.endpoints.get(spn));
    const n = nftChainsFor(sp);
    const externalIPs = ofFamily(sp.externalIPs, family);
    const lbIPs = ofFamily(sp.loadBalancerIPs, family);
    const sourceRanges = ofFamily(sp.loadBalancerSourceRanges, family);
    const cip = sp.clusterIP!;
    const port = sp.port;

    const internalChain = sp.internalPolicyLocal ? n.local : n.cluster;
    const externalPolicyChain = sp.externalPolicyLocal ? n.local : n.cluster;
    const usesExt = t.hasEndpoints && t.externallyAccessible;
    const usesFW = t.hasEndpoints && lbIPs.length > 0 && sourceRanges.length > 0;

    let internalVerdict = "";
    let externalVerdict = "";
    if (!t.hasEndpoints) internalVerdict = externalVerdict = "goto reject-chain";
    else {
      if (!t.hasInternalEndpoints) internalVerdict = "drop";
      if (!t.hasExternalEndpoints) externalVerdict = "drop";
    }
    const withComment = (key: string) => `${key} comment ${quote(spn)}`;

    // elements
    el("cluster-ips", cip);
    if (t.hasInternalEndpoints) el("service-ips", `${cip} . ${proto} . ${port}`, `goto ${internalChain}`);
    else el("no-endpoint-services", withComment(`${cip} . ${proto} . ${port}`), internalVerdict);
    for (const ip of externalIPs) {
      if (t.hasEndpoints) el("service-ips", `${ip} . ${proto} . ${port}`, `goto ${n.external}`);
      if (!t.hasExternalEndpoints)
        el("no-endpoint-services", withComment(`${ip} . ${proto} . ${port}`), externalVerdict);
    }
    for (const ip of lbIPs) {
      if (t.hasEndpoints) el("service-ips", `${ip} . ${proto} . ${port}`, `goto ${n.external}`);
      if (usesFW) el("firewall-ips", `${ip} . ${proto} . ${port}`, `goto ${n.firewall}`);
      if (!t.hasExternalEndpoints)
        el("no-endpoint-services", withComment(`${ip} . ${proto} . ${port}`), externalVerdict);
    }
    if (sp.nodePort) {
      if (t.hasEndpoints) el("service-nodeports", `${proto} . ${sp.nodePort}`, `goto ${n.external}`);
      if (!t.hasExternalEndpoints)
        el("no-endpoint-nodeports", withComment(`${proto} . ${sp.nodePort}`), externalVerdict);
    }

    // chains
    const rules = (c: string): string[] => {
      let r = chains.get(c);
      if (!r) {
        r = [];
        chains.set(c, r);
      }
      return r;
    };
    const epChain = (ip: string, p: number) => nftEndpointChain(spn, sp.protocol, ip, p);
    const affSet = (ip: string, p: number) => nftAffinitySet(spn, sp.protocol, ip, p);
    if (t.usesClusterChain) rules(n.cluster);
    if (t.usesLocalChain) rules(n.local);
    if (t.hasInternalEndpoints) {
      const m = `${ipX} daddr ${cip} ${proto} dport ${port}`;
      if (state.config.masqueradeAll) rules(internalChain).push(`${m} jump mark-for-masquerade`);
      else if (notPod) rules(internalChain).push(`${m}${notPod} jump mark-for-masquerade`);
    }
    if (usesExt) {
      const r = rules(n.external);
      if (!sp.externalPolicyLocal) r.push("jump mark-for-masquerade");
      else {
        if (podCIDRs.length)
          r.push(
            `${ipX} saddr ${anyOf(podCIDRs)} goto ${n.cluster} comment ${quote("short-circuit pod traffic")}`,
          );
        r.push(`fib saddr type local jump mark-for-masquerade comment ${quote("masquerade local traffic")}`);
        r.push(`fib saddr type local goto ${n.cluster} comment ${quote("short-circuit local traffic")}`);
      }
      if (t.hasExternalEndpoints) r.push(`goto ${externalPolicyChain}`);
    }
    if (usesFW) {
      const sources = [...sourceRanges];
      if (sourceRanges.some((r) => nodeAddrs.some((a) => cidrContains(r, a)))) sources.push(...lbIPs);
      rules(n.firewall).push(`${ipX} saddr != { ${sources.join(", ")} } drop`);
    }
    for (const [chain, eps] of [
      [n.cluster, t.usesClusterChain ? t.cluster : []],
      [n.local, t.usesLocalChain ? t.local : []],
    ] as const) {
      if (!eps.length) continue;
      const r = rules(chain);
      if (sp.sessionAffinityClientIP) {
        for (const e of eps) r.push(`${ipX} saddr @${affSet(e.ip, e.port)} goto ${epChain(e.ip, e.port)}`);
      }
      const vmap = eps.map((e, i) => `${i} : goto ${epChain(e.ip, e.port)}`).join(" , ");
      r.push(`numgen random mod ${eps.length} vmap { ${vmap} }`);
    }
    for (const e of t.reachable) {
      const r = rules(epChain(e.ip, e.port));
      r.push(`${ipX} saddr ${e.ip} jump mark-for-masquerade`);
      if (sp.sessionAffinityClientIP) {
        const set = affSet(e.ip, e.port);
        affinitySets.set(set, sp.stickyMaxAgeSeconds);
        r.push(`update @${set} { ${ipX} saddr }`);
      }
      r.push(`meta l4proto ${proto} dnat to ${joinHostPort(e.ip, e.port)}`);
    }
    if (sp.sessionAffinityClientIP) {
      // a new timeout means delete + re-add the sets, so every chain using them is rewritten
      const extra = `\n# affinity timeout ${sp.stickyMaxAgeSeconds}`;
      for (const c of [n.cluster, n.local, ...t.reachable.map((e) => epChain(e.ip, e.port))])
        if (chains.has(c)) chainExtra.set(c, extra);
    }
  }
  return { baseKey, nodePortIPs, chains, chainExtra, affinitySets, elements };
}

export function generateNft(state: ProxyState, opts: NftOptions): NftResult {
  const family = state.family;
  const { tf, ipX, addr, noLocalhost } = famWords(family);
  const mark = masqueradeMark(state.config.masqueradeBit ?? 14);
  const want = desired(state);
  let prev = opts.previous;
  if (prev && prev.family !== family) prev = undefined;
  const full = opts.full || !prev || !prev.baseReady || prev.baseKey !== want.baseKey;
  const old = prev ?? emptySnapshot(family);
  const T = `${tf} ${TABLE}`;
  const out: string[] = [];
  const now = opts.now;

  // ---- 1. base layout (full syncs only)
  if (full) {
    out.push(`add table ${T} { comment ${quote("rules for kube-proxy")} ; }`);
    if (!prev?.baseReady) {
      // recreate the base chains once, so changed hooks/priorities take effect
      for (const bc of BASE_CHAINS) out.push(`add chain ${T} ${bc.name}`, `delete chain ${T} ${bc.name}`);
    }
    for (const bc of BASE_CHAINS) {
      out.push(`add chain ${T} ${bc.name} { type ${bc.type} hook ${bc.hook} priority ${bc.priority} ; }`);
      out.push(`flush chain ${T} ${bc.name}`);
    }
    const ensured = new Set<string>();
    const ensure = (c: string, comment?: string) => {
      if (ensured.has(c)) return;
      ensured.add(c);
      out.push(
        `add chain ${T} ${c}${comment ? ` { comment ${quote(comment)} ; }` : ""}`,
        `flush chain ${T} ${c}`,
      );
    };
    const rules: string[] = [];
    for (const j of JUMP_CHAINS) {
      ensure(j.dst);
      rules.push(`add rule ${T} ${j.src} ${j.extra}jump ${j.dst}`);
    }
    ensure("mark-for-masquerade");
    ensure("reject-chain", "helper for @no-endpoint-services / @no-endpoint-nodeports");

    out.push(`add set ${T} cluster-ips { type ${addr} ; comment ${quote("Active ClusterIPs")} ; }`);
    out.push(
      `add set ${T} nodeport-ips { type ${addr} ; comment ${quote("IPs that accept NodePort traffic")} ; }`,
    );
    if (!want.nodePortIPs) out.push(`delete set ${T} nodeport-ips`);
    out.push(
      `add map ${T} no-endpoint-services { type ${addr} . inet_proto . inet_service : verdict ; comment ${quote("vmap to drop or reject packets to services with no endpoints")} ; }`,
      `add map ${T} no-endpoint-nodeports { type inet_proto . inet_service : verdict ; comment ${quote("vmap to drop or reject packets to service nodeports with no endpoints")} ; }`,
      `add map ${T} firewall-ips { type ${addr} . inet_proto . inet_service : verdict ; comment ${quote("destinations that are subject to LoadBalancerSourceRanges")} ; }`,
      `add map ${T} service-ips { type ${addr} . inet_proto . inet_service : verdict ; comment ${quote("ClusterIP, ExternalIP and LoadBalancer IP traffic")} ; }`,
      `add map ${T} service-nodeports { type inet_proto . inet_service : verdict ; comment ${quote("NodePort traffic")} ; }`,
    );
    for (const c of CONTAINERS) {
      if (c === "nodeport-ips" && !want.nodePortIPs) continue;
      out.push(`flush ${SETS.has(c) ? "set" : "map"} ${T} ${c}`);
    }
    out.push(...rules);
    out.push(
      `add rule ${T} mark-for-masquerade mark set mark or ${mark}`,
      `add rule ${T} masquerading mark and ${mark} == 0 return`,
      `add rule ${T} masquerading mark set mark xor ${mark}`,
      `add rule ${T} masquerading masquerade fully-random`,
      `add rule ${T} reject-chain reject`,
      `add rule ${T} cluster-ips-check ${ipX} daddr @cluster-ips reject comment ${quote("Reject traffic to invalid ports of ClusterIPs")}`,
      `add rule ${T} service-endpoints-check ${ipX} daddr . meta l4proto . th dport vmap @no-endpoint-services`,
      want.nodePortIPs
        ? `add rule ${T} nodeport-endpoints-check ${ipX} daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports`
        : `add rule ${T} nodeport-endpoints-check ${noLocalhost} meta l4proto . th dport vmap @no-endpoint-nodeports`,
      `add rule ${T} firewall-check ${ipX} daddr . meta l4proto . th dport vmap @firewall-ips`,
      `add rule ${T} services ${ipX} daddr . meta l4proto . th dport vmap @service-ips`,
      want.nodePortIPs
        ? `add rule ${T} services ${ipX} daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports`
        : `add rule ${T} services fib daddr type local ${noLocalhost} meta l4proto . th dport vmap @service-nodeports`,
    );
  }

  const snap: NftSnapshot = {
    family,
    baseKey: want.baseKey,
    baseReady: true,
    chains: new Map(),
    staleChains: new Map(),
    affinitySets: new Map(),
    elements: new Map(),
  };

  // ---- 2. chains flushed by an earlier sync and still unused: delete them now
  for (const [c, since] of old.staleChains) {
    if (want.chains.has(c)) continue; // back in use: rewritten below
    if (now !== undefined && since !== undefined && now - since < STALE_CHAIN_DELAY_MS) {
      snap.staleChains.set(c, since);
      continue;
    }
    out.push(`add chain ${T} ${c}`, `delete chain ${T} ${c}`);
  }

  // ---- 3. create/flush the chains whose rules change
  const rewrite: string[] = [];
  for (const [c, rules] of want.chains) {
    const text = rules.join("\n") + (want.chainExtra.get(c) ?? "");
    snap.chains.set(c, text);
    if (!full && old.chains.get(c) === text && !old.staleChains.has(c)) continue;
    rewrite.push(c);
    out.push(`add chain ${T} ${c}`, `flush chain ${T} ${c}`);
  }

  // ---- 4. chains no longer used: flush now (unreferencing sets), delete in a later sync
  for (const c of old.chains.keys()) {
    if (want.chains.has(c)) continue;
    out.push(`flush chain ${T} ${c}`);
    snap.staleChains.set(c, now);
  }

  // ---- 5. affinity sets
  for (const [s, timeout] of old.affinitySets) {
    if (timeout === undefined || want.affinitySets.get(s) !== timeout) out.push(`delete set ${T} ${s}`);
  }
  for (const [s, timeout] of want.affinitySets) {
    snap.affinitySets.set(s, timeout);
    // unchanged: skip in partial syncs; full syncs re-add (a no-op for an existing set, which keeps its entries)
    if (!full && old.affinitySets.get(s) === timeout) continue;
    out.push(`add set ${T} ${s} { type ${addr} ; flags dynamic,timeout ; timeout ${timeout}s ; }`);
  }

  // ---- 6. rules of the rewritten chains
  for (const c of rewrite) for (const r of want.chains.get(c)!) out.push(`add rule ${T} ${c} ${r}`);

  // ---- 7. elements: full syncs flushed the containers and add all; partial ones diff
  for (const c of CONTAINERS) {
    const have = full ? new Map<string, string>() : (old.elements.get(c) ?? new Map<string, string>());
    const next = want.elements.get(c)!;
    snap.elements.set(c, next);
    const elem = (key: string, value: string) => (value ? `{ ${key} : ${value} }` : `{ ${key} }`);
    for (const [k] of have) {
      if (!next.has(k)) out.push(`delete element ${T} ${c} { ${stripComment(k)} }`);
    }
    for (const [k, v] of next) {
      const was = have.get(k);
      if (was === v) continue;
      if (was !== undefined) out.push(`delete element ${T} ${c} { ${stripComment(k)} }`);
      out.push(`add element ${T} ${c} ${elem(k, v)}`);
    }
  }

  return { script: out.length ? out.join("\n") + "\n" : "", snapshot: snap, full };
}

function stripComment(key: string): string {
  const i = key.indexOf(" comment ");
  return i < 0 ? key : key.slice(0, i);
}

/** the script --cleanup runs: removes kubeplane's table (and nothing else) for one family */
export function cleanupNft(family: Family): string {
  const T = `${famWords(family).tf} ${TABLE}`;
  return `add table ${T}\ndelete table ${T}\n`;
}
