/**
 * Chain / set names used by the rule generators, computed exactly the way kube-proxy computes
 * them so that operators' habits and tools (grepping for KUBE-SVC-..., nft list chain ...
 * service-XXXXXXXX-ns/svc/tcp/port) carry over.
 *
 * iptables: PREFIX + base32(sha256(servicePortName + protocol))[:16], with servicePortName
 *   "ns/name:portname" and protocol lowercase ("tcp"); KUBE-SEP- hashes
 *   servicePortName + protocol + endpoint ("ip:port", "[ip6]:port").
 * nftables: PREFIX + base32(sha256(base))[:8] + "-" + base, base "ns/svc/proto/port" (services)
 *   or "ns/svc/proto/port__ip/port" (endpoints, IPv6 colons turned into dots); truncated to
 *   240 characters with "..." (never happens for valid Kubernetes names).
 */
import { createHash } from "node:crypto";
import { type Endpoint, type Family, type Protocol, type ServicePort, usableEndpoints } from "./model.js";

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 (standard alphabet, with "=" padding) */
export function base32(buf: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  while (out.length % 8 !== 0) out += "=";
  return out;
}

function hash(s: string, n: number): string {
  return base32(createHash("sha256").update(s).digest()).slice(0, n);
}

/** "ip:port", or "[ip]:port" for IPv6 (Go's net.JoinHostPort) */
export function joinHostPort(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function proto(p: Protocol | string): string {
  return p.toLowerCase();
}

// ---------------------------------------------------------------- iptables

function svcPortHash(servicePortName: string, protocol: Protocol | string): string {
  return hash(servicePortName + proto(protocol), 16);
}

/** KUBE-SVC-XXXXXXXXXXXXXXXX: the Cluster traffic policy chain */
export function svcChain(servicePortName: string, protocol: Protocol | string): string {
  return "KUBE-SVC-" + svcPortHash(servicePortName, protocol);
}
/** KUBE-SVL-...: the Local traffic policy chain */
export function svlChain(servicePortName: string, protocol: Protocol | string): string {
  return "KUBE-SVL-" + svcPortHash(servicePortName, protocol);
}
/** KUBE-EXT-...: external (NodePort / externalIP / LB) traffic chain */
export function extChain(servicePortName: string, protocol: Protocol | string): string {
  return "KUBE-EXT-" + svcPortHash(servicePortName, protocol);
}
/** KUBE-FW-...: loadBalancerSourceRanges chain */
export function fwChain(servicePortName: string, protocol: Protocol | string): string {
  return "KUBE-FW-" + svcPortHash(servicePortName, protocol);
}
/** KUBE-SEP-...: one endpoint; endpoint is "ip:port" ("[ip]:port" for IPv6) */
export function sepChain(servicePortName: string, protocol: Protocol | string, endpoint: string): string {
  return "KUBE-SEP-" + hash(servicePortName + proto(protocol) + endpoint, 16);
}

/** the per-service chain prefixes (stale-chain detection / cleanup) */
export const IPTABLES_SERVICE_CHAIN_PREFIXES = [
  "KUBE-SVC-",
  "KUBE-SVL-",
  "KUBE-EXT-",
  "KUBE-FW-",
  "KUBE-SEP-",
];

export function isIptablesServiceChain(name: string): boolean {
  return IPTABLES_SERVICE_CHAIN_PREFIXES.some((p) => name.startsWith(p));
}

export interface IptablesServiceChains {
  svc: string;
  svl: string;
  ext: string;
  fw: string;
}

export function iptablesChainsFor(
  sp: Pick<ServicePort, "servicePortName" | "protocol">,
): IptablesServiceChains {
  const h = svcPortHash(sp.servicePortName, sp.protocol);
  return { svc: "KUBE-SVC-" + h, svl: "KUBE-SVL-" + h, ext: "KUBE-EXT-" + h, fw: "KUBE-FW-" + h };
}

// ---------------------------------------------------------------- nftables

/** nftables' maximum name length (NFT_NAME_MAXLEN - 1) minus the longest prefix we use */
const NFT_BASE_MAX = 256 - 16;

function hashAndTruncate(name: string): string {
  let out = hash(name, 8) + "-" + name;
  if (out.length > NFT_BASE_MAX) out = out.slice(0, NFT_BASE_MAX - 3) + "...";
  return out;
}

/** "ns", "name", "port" out of "ns/name:port" (the model also carries them separately) */
function splitServicePortName(spn: string): { ns: string; name: string; port: string } {
  const slash = spn.indexOf("/");
  const colon = spn.indexOf(":", slash + 1);
  return {
    ns: spn.slice(0, slash),
    name: colon < 0 ? spn.slice(slash + 1) : spn.slice(slash + 1, colon),
    port: colon < 0 ? "" : spn.slice(colon + 1),
  };
}

/** "HASH-ns/svc/proto/port", e.g. "ULMVA6XW-ns1/svc1/tcp/p80" */
export function nftServiceBase(servicePortName: string, protocol: Protocol | string): string {
  const { ns, name, port } = splitServicePortName(servicePortName);
  return hashAndTruncate(`${ns}/${name}/${proto(protocol)}/${port}`);
}

/** "HASH-ns/svc/proto/port__ip/port", e.g. "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80" */
export function nftEndpointBase(
  servicePortName: string,
  protocol: Protocol | string,
  ip: string,
  port: number,
): string {
  const { ns, name, port: pn } = splitServicePortName(servicePortName);
  return hashAndTruncate(`${ns}/${name}/${proto(protocol)}/${pn}__${ip.replaceAll(":", ".")}/${port}`);
}

export interface NftServiceChains {
  /** service-...: Cluster traffic policy */
  cluster: string;
  /** local-...: Local traffic policy */
  local: string;
  /** external-... */
  external: string;
  /** firewall-... */
  firewall: string;
}

export function nftChainsFor(sp: Pick<ServicePort, "servicePortName" | "protocol">): NftServiceChains {
  const b = nftServiceBase(sp.servicePortName, sp.protocol);
  return {
    cluster: "service-" + b,
    local: "local-" + b,
    external: "external-" + b,
    firewall: "firewall-" + b,
  };
}

export function nftEndpointChain(
  servicePortName: string,
  protocol: Protocol | string,
  ip: string,
  port: number,
): string {
  return "endpoint-" + nftEndpointBase(servicePortName, protocol, ip, port);
}

export function nftAffinitySet(
  servicePortName: string,
  protocol: Protocol | string,
  ip: string,
  port: number,
): string {
  return "affinity-" + nftEndpointBase(servicePortName, protocol, ip, port);
}

/** per-service chains are the only ones with a "/" in their name */
export function isNftServiceChain(name: string): boolean {
  return name.includes("/");
}

// ---------------------------------------------------------------- shared by the generators
// (kept here so iptables/, nftables/ and ipvs/ agree on which endpoints a service uses)

/** key of an endpoint: "ip:port" ("[ip]:port" for IPv6) */
export function endpointKey(ep: Pick<Endpoint, "ip" | "port">): string {
  return joinHostPort(ep.ip, ep.port);
}

export function isIPv6(ip: string): boolean {
  return ip.includes(":");
}

/** the entries of `list` that belong to `family` (CIDRs or addresses) */
export function ofFamily(list: readonly string[], family: Family): string[] {
  return list.map((s) => s.trim()).filter((s) => s !== "" && isIPv6(s) === (family === 6));
}

/** the cluster CIDR(s) of this family out of a possibly comma-separated --cluster-cidr */
export function clusterCIDRsOf(clusterCIDR: string | undefined, family: Family): string[] {
  return clusterCIDR ? ofFamily(clusterCIDR.split(","), family) : [];
}

function ipToBigInt(ip: string): bigint | undefined {
  if (!isIPv6(ip)) {
    const p = ip.split(".");
    if (p.length !== 4) return undefined;
    let v = 0n;
    for (const x of p) {
      const n = Number(x);
      if (!Number.isInteger(n) || n < 0 || n > 255) return undefined;
      v = (v << 8n) | BigInt(n);
    }
    return v;
  }
  let s = ip;
  const v4 = s.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4) {
    const t = ipToBigInt(v4[1]!);
    if (t === undefined) return undefined;
    s = s.slice(0, -v4[1]!.length) + ((t >> 16n) & 0xffffn).toString(16) + ":" + (t & 0xffffn).toString(16);
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array<string>(Math.max(fill, 0)).fill("0"), ...tail];
  if (groups.length !== 8) return undefined;
  let v = 0n;
  for (const g of groups) {
    const n = Number.parseInt(g, 16);
    if (Number.isNaN(n) || n < 0 || n > 0xffff) return undefined;
    v = (v << 16n) | BigInt(n);
  }
  return v;
}

/** whether `ip` lies inside `cidr` (same family; a bare address counts as a /32 or /128) */
export function cidrContains(cidr: string, ip: string): boolean {
  const [net, bitsStr] = cidr.trim().split("/");
  if (!net || isIPv6(net) !== isIPv6(ip)) return false;
  const width = isIPv6(net) ? 128n : 32n;
  const bits = bitsStr === undefined ? width : BigInt(Number(bitsStr));
  const a = ipToBigInt(net);
  const b = ipToBigInt(ip);
  if (a === undefined || b === undefined || bits < 0n || bits > width) return false;
  const shift = width - bits;
  return a >> shift === b >> shift;
}

/** kube-proxy's CategorizeEndpoints, on the model's data */
export interface ServiceTopology {
  /** the endpoints, de-duplicated and sorted (stable output across syncs) */
  all: Endpoint[];
  /** endpoints for the Cluster policy chain (empty when the chain is not used) */
  cluster: Endpoint[];
  /** endpoints for the Local policy chain (empty when not used) */
  local: Endpoint[];
  /** every endpoint some chain of this service dispatches to (one endpoint chain each) */
  reachable: Endpoint[];
  /** any usable endpoint anywhere in the cluster */
  hasEndpoints: boolean;
  /** ClusterIP traffic has somewhere to go (ITP Local needs a local endpoint) */
  hasInternalEndpoints: boolean;
  /** external traffic has somewhere to go (ETP Local needs a local endpoint) */
  hasExternalEndpoints: boolean;
  /** NodePort, externalIPs or LoadBalancer IPs */
  externallyAccessible: boolean;
  usesClusterChain: boolean;
  usesLocalChain: boolean;
}

function compareEndpoints(a: Endpoint, b: Endpoint): number {
  const x = endpointKey(a);
  const y = endpointKey(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function serviceTopology(
  sp: ServicePort,
  endpoints: readonly Endpoint[] | undefined,
): ServiceTopology {
  const seen = new Map<string, Endpoint>();
  for (const ep of endpoints ?? []) {
    const k = endpointKey(ep);
    const prev = seen.get(k);
    // the same address in two slices: keep the "best" view of it
    if (!prev || (!prev.ready && ep.ready) || (!prev.serving && ep.serving)) seen.set(k, ep);
  }
  const all = [...seen.values()].sort(compareEndpoints);
  const externallyAccessible =
    (sp.nodePort ?? 0) > 0 || sp.externalIPs.length > 0 || sp.loadBalancerIPs.length > 0;
  // "Cluster" endpoints are needed for ITP Cluster, and for any external traffic (even with
  // ETP Local, to short-circuit pod and host traffic); "Local" ones for ITP/ETP Local.
  const usesCluster = !sp.internalPolicyLocal || externallyAccessible;
  const usesLocal = sp.internalPolicyLocal || (externallyAccessible && sp.externalPolicyLocal);
  const clusterAll = usableEndpoints(all);
  const hasEndpoints = clusterAll.length > 0;
  const cluster = usesCluster ? clusterAll : [];
  const local = usesLocal ? usableEndpoints(all, true) : [];
  const reach = new Map<string, Endpoint>();
  for (const ep of [...cluster, ...local]) reach.set(endpointKey(ep), ep);
  const reachable = [...reach.values()].sort(compareEndpoints);
  return {
    all,
    cluster,
    local,
    reachable,
    hasEndpoints,
    hasInternalEndpoints: hasEndpoints && (!sp.internalPolicyLocal || local.length > 0),
    hasExternalEndpoints: hasEndpoints && (!sp.externalPolicyLocal || local.length > 0),
    externallyAccessible,
    usesClusterChain: cluster.length > 0,
    usesLocalChain: local.length > 0,
  };
}

/** the services a generator programs for `family`, in a stable order (headless ones are skipped) */
export function programmedServices(services: readonly ServicePort[], family: Family): ServicePort[] {
  return services
    .filter(
      (s) =>
        s.family === family &&
        !!s.clusterIP &&
        s.clusterIP !== "None" &&
        isIPv6(s.clusterIP) === (family === 6),
    )
    .sort((a, b) => {
      const x = a.servicePortName + "\u0000" + a.protocol;
      const y = b.servicePortName + "\u0000" + b.protocol;
      return x < y ? -1 : x > y ? 1 : 0;
    });
}

/** "0x4000" for bit 14 */
export function masqueradeMark(bit: number): string {
  return "0x" + (2 ** bit).toString(16);
}
