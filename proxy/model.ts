/**
 * The proxy's view of the world, computed from Services, EndpointSlices and the local Node,
 * as plain data. The rule generators (iptables/, nftables/, ipvs/) are pure functions of it;
 * the runtime (proxier) builds it from informers and applies the generators' output.
 */

export type Protocol = "TCP" | "UDP" | "SCTP";
export type Family = 4 | 6;

/** one port of one Service: the unit kube-proxy programs ("ns/name:portname") */
export interface ServicePort {
  /** "ns/name:portname" (portname may be empty: "ns/name:") */
  servicePortName: string;
  namespace: string;
  name: string;
  portName: string;
  protocol: Protocol;
  family: Family;
  clusterIP?: string; // absent for headless / ExternalName (not programmed)
  port: number;
  nodePort?: number;
  externalIPs: string[];
  loadBalancerIPs: string[];
  loadBalancerSourceRanges: string[];
  /** externalTrafficPolicy Local */
  externalPolicyLocal: boolean;
  /** internalTrafficPolicy Local */
  internalPolicyLocal: boolean;
  healthCheckNodePort?: number;
  sessionAffinityClientIP: boolean;
  /** ClientIP affinity timeout, default 10800 */
  stickyMaxAgeSeconds: number;
}

export interface Endpoint {
  ip: string;
  port: number;
  /** endpoint is on this node */
  isLocal: boolean;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  /** for topology/debugging */
  nodeName?: string;
  zone?: string;
}

export interface NodeInfo {
  name: string;
  /** addresses NodePorts listen on (after --nodeport-addresses filtering) */
  nodePortAddresses: string[];
  /** true when --nodeport-addresses was not given: NodePorts accept any local address (addrtype LOCAL) */
  nodePortOnAllLocal: boolean;
}

export interface ProxyConfig {
  clusterCIDR?: string;
  masqueradeAll: boolean;
  /** bit 14: 0x4000 */
  masqueradeBit: number;
}

export interface ProxyState {
  family: Family;
  services: ServicePort[];
  /** servicePortName → endpoints (all of them; the generator picks ready / serving-terminating fallback / local) */
  endpoints: Map<string, Endpoint[]>;
  node: NodeInfo;
  config: ProxyConfig;
}

/** which endpoints carry traffic: ready ones, or serving+terminating ones when none is ready (upstream's fallback) */
export function usableEndpoints(eps: readonly Endpoint[], localOnly = false): Endpoint[] {
  const pool = localOnly ? eps.filter((e) => e.isLocal) : eps;
  const ready = pool.filter((e) => e.ready);
  if (ready.length) return ready;
  return pool.filter((e) => e.serving && e.terminating);
}
