/**
 * Pure: Services + EndpointSlices + the local Node → one ProxyState per IP family, and the
 * diff between two states (which service ports changed) that drives partial syncs.
 */
import { isIPv4, isIPv6 } from "node:net";
import type { Endpoint, Family, Protocol, ProxyConfig, ProxyState, ServicePort } from "./model.js";

// ---------------------------------------------------------------- the API shapes we read

export interface SvcPort {
  name?: string;
  protocol?: string;
  port: number;
  targetPort?: number | string;
  nodePort?: number;
}

export interface Service {
  metadata: { name?: string; namespace?: string; annotations?: Record<string, string>; [k: string]: unknown };
  spec?: {
    type?: string;
    clusterIP?: string;
    clusterIPs?: string[];
    ports?: SvcPort[];
    externalIPs?: string[];
    loadBalancerSourceRanges?: string[];
    externalTrafficPolicy?: string;
    internalTrafficPolicy?: string;
    healthCheckNodePort?: number;
    sessionAffinity?: string;
    sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
    [k: string]: unknown;
  };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string; ipMode?: string }> } };
  [k: string]: unknown;
}

export interface SliceEndpoint {
  addresses: string[];
  conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
  nodeName?: string;
  zone?: string;
  [k: string]: unknown;
}

export interface EndpointSlice {
  metadata: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
    [k: string]: unknown;
  };
  addressType?: string;
  endpoints?: SliceEndpoint[] | null;
  ports?: Array<{ name?: string | null; protocol?: string | null; port?: number | null }> | null;
  [k: string]: unknown;
}

export interface Node {
  metadata: { name?: string; deletionTimestamp?: string; [k: string]: unknown };
  spec?: { taints?: Array<{ key: string; effect?: string }>; podCIDR?: string; [k: string]: unknown };
  status?: { addresses?: Array<{ type: string; address: string }> };
  [k: string]: unknown;
}

export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";
export const TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time";
export const DEFAULT_STICKY_SECONDS = 10800;

// ---------------------------------------------------------------- helpers

export function familyOf(ip: string): Family | undefined {
  const bare = ip.split("/")[0] ?? "";
  if (isIPv4(bare)) return 4;
  if (isIPv6(bare)) return 6;
  return undefined;
}

function ipv4ToInt(ip: string): number {
  return ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
}

function ipv6ToBigInt(ip: string): bigint {
  let s = ip;
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4tail) {
    const n = ipv4ToInt(v4tail[1]!);
    s = `${s.slice(0, -v4tail[1]!.length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail] = s.includes("::") ? s.split("::") : [s, undefined];
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return groups.reduce((acc, g) => (acc << 16n) + BigInt(Number.parseInt(g || "0", 16)), 0n);
}

/** true when ip lies in cidr (same family) */
export function cidrContains(cidr: string, ip: string): boolean {
  const [base, lenStr] = cidr.split("/");
  if (!base) return false;
  const fc = familyOf(base);
  if (!fc || fc !== familyOf(ip)) return false;
  if (fc === 4) {
    const len = lenStr === undefined ? 32 : Number(lenStr);
    if (len === 0) return true;
    const mask = len === 32 ? 0xffffffff : ~((1 << (32 - len)) - 1) >>> 0;
    return (ipv4ToInt(base) & mask) >>> 0 === (ipv4ToInt(ip) & mask) >>> 0;
  }
  const len = BigInt(lenStr === undefined ? 128 : Number(lenStr));
  if (len === 0n) return true;
  const shift = 128n - len;
  return ipv6ToBigInt(base) >> shift === ipv6ToBigInt(ip) >> shift;
}

function protocolOf(p: string | null | undefined): Protocol | undefined {
  const v = p ?? "TCP";
  return v === "TCP" || v === "UDP" || v === "SCTP" ? v : undefined;
}

/** "ns/name:portname" */
export function servicePortNameOf(namespace: string, name: string, portName: string): string {
  return `${namespace}/${name}:${portName}`;
}

function externallyAccessible(svc: Service): boolean {
  const t = svc.spec?.type ?? "ClusterIP";
  return t === "NodePort" || t === "LoadBalancer" || (svc.spec?.externalIPs?.length ?? 0) > 0;
}

// ---------------------------------------------------------------- services

/** the ServicePorts of one Service for one family (none for headless, ExternalName, or no IP of that family) */
export function servicePorts(svc: Service, family: Family): ServicePort[] {
  const spec = svc.spec ?? {};
  const type = spec.type ?? "ClusterIP";
  if (type !== "ClusterIP" && type !== "NodePort" && type !== "LoadBalancer") return [];
  const ips = spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
  const clusterIP = ips.find((ip) => ip !== "None" && familyOf(ip) === family);
  if (!clusterIP) return [];
  const namespace = svc.metadata.namespace ?? "default";
  const name = svc.metadata.name ?? "";
  const ofFamily = (xs: readonly string[] | undefined) => (xs ?? []).filter((x) => familyOf(x) === family);
  const lbIPs = ofFamily(
    (svc.status?.loadBalancer?.ingress ?? [])
      .filter((i) => i.ipMode !== "Proxy")
      .map((i) => i.ip ?? "")
      .filter(Boolean),
  );
  const externalPolicyLocal = externallyAccessible(svc) && spec.externalTrafficPolicy === "Local";
  const affinity = spec.sessionAffinity === "ClientIP";
  const out: ServicePort[] = [];
  for (const p of spec.ports ?? []) {
    const protocol = protocolOf(p.protocol);
    if (!protocol || !p.port) continue;
    out.push({
      servicePortName: servicePortNameOf(namespace, name, p.name ?? ""),
      namespace,
      name,
      portName: p.name ?? "",
      protocol,
      family,
      clusterIP,
      port: p.port,
      nodePort: (type === "NodePort" || type === "LoadBalancer") && p.nodePort ? p.nodePort : undefined,
      externalIPs: ofFamily(spec.externalIPs),
      loadBalancerIPs: type === "LoadBalancer" ? lbIPs : [],
      loadBalancerSourceRanges:
        type === "LoadBalancer" ? ofFamily(spec.loadBalancerSourceRanges?.map((r) => r.trim())) : [],
      externalPolicyLocal,
      internalPolicyLocal: spec.internalTrafficPolicy === "Local",
      healthCheckNodePort:
        type === "LoadBalancer" && externalPolicyLocal && spec.healthCheckNodePort
          ? spec.healthCheckNodePort
          : undefined,
      sessionAffinityClientIP: affinity,
      stickyMaxAgeSeconds: affinity
        ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_STICKY_SECONDS)
        : DEFAULT_STICKY_SECONDS,
    });
  }
  return out;
}

// ---------------------------------------------------------------- endpoints

function sliceFamily(s: EndpointSlice): Family | undefined {
  if (s.addressType === "IPv4") return 4;
  if (s.addressType === "IPv6") return 6;
  return undefined;
}

/**
 * Endpoints of one ServicePort from the Service's slices (same namespace, labelled
 * kubernetes.io/service-name), matched by port name and protocol; first address of each
 * endpoint; duplicates (the same ip:port in two slices) kept once, preferring a ready copy.
 */
export function endpointsFor(
  sp: ServicePort,
  slices: readonly EndpointSlice[],
  nodeName: string,
): Endpoint[] {
  const byKey = new Map<string, Endpoint>();
  for (const s of slices) {
    if (sliceFamily(s) !== sp.family) continue;
    for (const port of s.ports ?? []) {
      if ((port.name ?? "") !== sp.portName || protocolOf(port.protocol) !== sp.protocol) continue;
      if (port.port === null || port.port === undefined) continue;
      for (const e of s.endpoints ?? []) {
        const ip = e.addresses?.[0];
        if (!ip || familyOf(ip) !== sp.family) continue;
        const ready = e.conditions?.ready ?? true;
        const serving = e.conditions?.serving ?? ready;
        const terminating = e.conditions?.terminating ?? false;
        const ep: Endpoint = {
          ip,
          port: port.port,
          isLocal: !!nodeName && e.nodeName === nodeName,
          ready: !!ready,
          serving: !!serving,
          terminating: !!terminating,
          ...(e.nodeName ? { nodeName: e.nodeName } : {}),
          ...(e.zone ? { zone: e.zone } : {}),
        };
        const key = `${ip}:${port.port}`;
        const prev = byKey.get(key);
        if (!prev || (!prev.ready && ep.ready)) byKey.set(key, ep);
      }
    }
  }
  return [...byKey.values()].sort((a, b) => (a.ip === b.ip ? a.port - b.port : a.ip < b.ip ? -1 : 1));
}

// ---------------------------------------------------------------- whole state

export interface StateInput {
  family: Family;
  services: readonly Service[];
  slices: readonly EndpointSlice[];
  /** this node's name (--hostname-override) */
  nodeName: string;
  /** the CIDRs of --nodeport-addresses ([] or undefined: all local addresses) */
  nodePortCIDRs?: readonly string[];
  /** this host's interface addresses (any family; filtered here) */
  localAddresses: readonly string[];
  config: ProxyConfig;
}

export function sliceServiceKey(s: EndpointSlice): string | undefined {
  const svc = s.metadata.labels?.[SERVICE_NAME_LABEL];
  return svc ? `${s.metadata.namespace ?? "default"}/${svc}` : undefined;
}

/** groups slices by "ns/service" */
export function slicesByService(slices: readonly EndpointSlice[]): Map<string, EndpointSlice[]> {
  const out = new Map<string, EndpointSlice[]>();
  for (const s of slices) {
    const k = sliceServiceKey(s);
    if (!k) continue;
    const list = out.get(k);
    if (list) list.push(s);
    else out.set(k, [s]);
  }
  return out;
}

export function nodePortAddresses(
  family: Family,
  cidrs: readonly string[] | undefined,
  local: readonly string[],
): { nodePortAddresses: string[]; nodePortOnAllLocal: boolean } {
  const mine = [...new Set(local.filter((a) => familyOf(a) === family))].sort();
  const famCidrs = (cidrs ?? []).filter((c) => familyOf(c) === family);
  if (!cidrs?.length) return { nodePortAddresses: mine, nodePortOnAllLocal: true };
  return {
    nodePortAddresses: mine.filter((a) => famCidrs.some((c) => cidrContains(c, a))),
    nodePortOnAllLocal: false,
  };
}

export function buildProxyState(input: StateInput): ProxyState {
  const bySvc = slicesByService(input.slices);
  const services: ServicePort[] = [];
  const endpoints = new Map<string, Endpoint[]>();
  const sorted = [...input.services].sort((a, b) =>
    `${a.metadata.namespace}/${a.metadata.name}` < `${b.metadata.namespace}/${b.metadata.name}` ? -1 : 1,
  );
  for (const svc of sorted) {
    const key = `${svc.metadata.namespace ?? "default"}/${svc.metadata.name ?? ""}`;
    const slices = bySvc.get(key) ?? [];
    for (const sp of servicePorts(svc, input.family)) {
      if (endpoints.has(sp.servicePortName)) continue; // duplicate port name: first wins
      services.push(sp);
      endpoints.set(sp.servicePortName, endpointsFor(sp, slices, input.nodeName));
    }
  }
  return {
    family: input.family,
    services,
    endpoints,
    node: {
      name: input.nodeName,
      ...nodePortAddresses(input.family, input.nodePortCIDRs, input.localAddresses),
    },
    config: input.config,
  };
}

// ---------------------------------------------------------------- change tracking

function spSig(sp: ServicePort): string {
  return JSON.stringify(sp);
}

function epSig(eps: readonly Endpoint[] | undefined): string {
  return JSON.stringify(eps ?? []);
}

export interface StateDiff {
  /** servicePortNames whose ServicePort or endpoints differ (added, removed or changed) */
  changed: Set<string>;
  /** of those, the ones whose ServicePort itself was added / removed / changed */
  servicesChanged: Set<string>;
  /** of those, the ones whose endpoints changed */
  endpointsChanged: Set<string>;
  /** node addresses or config differ: only a full sync is right */
  needsFull: boolean;
}

/** which service ports differ between two states of the same family */
export function diffStates(prev: ProxyState | undefined, next: ProxyState): StateDiff {
  const changed = new Set<string>();
  const servicesChanged = new Set<string>();
  const endpointsChanged = new Set<string>();
  if (!prev) {
    for (const sp of next.services) {
      changed.add(sp.servicePortName);
      servicesChanged.add(sp.servicePortName);
      if (next.endpoints.get(sp.servicePortName)?.length) endpointsChanged.add(sp.servicePortName);
    }
    return { changed, servicesChanged, endpointsChanged, needsFull: true };
  }
  const before = new Map(prev.services.map((s) => [s.servicePortName, s]));
  const after = new Map(next.services.map((s) => [s.servicePortName, s]));
  for (const [name, sp] of after) {
    const old = before.get(name);
    if (!old || spSig(old) !== spSig(sp)) servicesChanged.add(name);
    if (epSig(prev.endpoints.get(name)) !== epSig(next.endpoints.get(name))) endpointsChanged.add(name);
  }
  for (const [name] of before) {
    if (!after.has(name)) {
      servicesChanged.add(name);
      if (prev.endpoints.get(name)?.length) endpointsChanged.add(name);
    }
  }
  for (const n of servicesChanged) changed.add(n);
  for (const n of endpointsChanged) changed.add(n);
  const needsFull =
    JSON.stringify(prev.node) !== JSON.stringify(next.node) ||
    JSON.stringify(prev.config) !== JSON.stringify(next.config);
  return { changed, servicesChanged, endpointsChanged, needsFull };
}

/** whether the node may carry traffic for LB health checks (not being deleted or drained by the autoscaler) */
export function nodeEligible(node: Node | undefined): boolean {
  if (!node) return true;
  if (node.metadata.deletionTimestamp) return false;
  return !(node.spec?.taints ?? []).some((t) => t.key === "ToBeDeletedByClusterAutoscaler");
}
