/**
 * NodeInfo: one node plus what the pods assigned to it (bound or assumed) use, kept up to date
 * incrementally so a scheduling decision never walks the pods. PodInfo: a pending pod with the
 * fields the filters and scores need, parsed once per attempt.
 */
import { objectKey } from "../client/informer.js";
import {
  addResources,
  emptyResources,
  type NodeCapacity,
  nodeAllocatable,
  type PodRequests,
  podRequests,
} from "./resources.js";
import type { Node, NodeSelector, Pod, Taint, Toleration } from "./types.js";

export interface HostPort {
  protocol: string;
  /** "0.0.0.0" when the container did not say */
  ip: string;
  port: number;
}

export const WILDCARD_IP = "0.0.0.0";

/** Host ports a pod asks for: app containers and sidecars (init containers with restartPolicy Always). */
export function podHostPorts(pod: Pod): HostPort[] {
  const out: HostPort[] = [];
  const spec = pod.spec ?? {};
  const containers = [
    ...(spec.containers ?? []),
    ...(spec.initContainers ?? []).filter((c) => c.restartPolicy === "Always"),
  ];
  for (const c of containers) {
    for (const p of c.ports ?? []) {
      const port = p.hostPort ?? 0;
      if (!Number.isInteger(port) || port <= 0) continue;
      out.push({ protocol: p.protocol || "TCP", ip: p.hostIP || WILDCARD_IP, port });
    }
  }
  return out;
}

export interface PodInfo {
  pod: Pod;
  key: string;
  requests: PodRequests;
  hostPorts: HostPort[];
  tolerations: Toleration[];
  nodeSelector: Record<string, string>;
  requiredAffinity: NodeSelector | undefined;
  nodeName: string;
}

export function podInfo(pod: Pod): PodInfo {
  const spec = pod.spec ?? {};
  return {
    pod,
    key: objectKey(pod),
    requests: podRequests(pod),
    hostPorts: podHostPorts(pod),
    tolerations: spec.tolerations ?? [],
    nodeSelector: spec.nodeSelector ?? {},
    requiredAffinity:
      spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? undefined,
    nodeName: spec.nodeName ?? "",
  };
}

/** What one pod contributes to its node. */
export interface PodUsage {
  requests: PodRequests;
  hostPorts: HostPort[];
}

export class NodeInfo {
  node: Node | undefined;
  name: string;
  labels: Record<string, string> = {};
  allocatable: NodeCapacity = { resources: emptyResources(), pods: 0 };
  /** taints with effect NoSchedule or NoExecute (the ones that filter) */
  filterTaints: Taint[] = [];
  unschedulable = false;
  /** sum of the effective requests of the pods on this node */
  readonly requested = emptyResources();
  /** the same with the non-zero defaults, for scoring */
  readonly nonZeroRequested = emptyResources();
  podCount = 0;
  /** "TCP/8080" → host IP → how many pods use it */
  readonly usedPorts = new Map<string, Map<string, number>>();
  /** bumped on every change; lets callers cache per-node derived data */
  generation = 0;

  constructor(name: string, node?: Node) {
    this.name = name;
    if (node) this.setNode(node);
  }

  setNode(node: Node): void {
    this.node = node;
    this.labels = node.metadata.labels ?? {};
    this.allocatable = nodeAllocatable(node);
    this.filterTaints = (node.spec?.taints ?? []).filter(
      (t) => t.effect === "NoSchedule" || t.effect === "NoExecute",
    );
    this.unschedulable = node.spec?.unschedulable === true;
    this.generation++;
  }

  addPod(u: PodUsage): void {
    this.apply(u, 1);
  }

  removePod(u: PodUsage): void {
    this.apply(u, -1);
  }

  private apply(u: PodUsage, sign: 1 | -1): void {
    addResources(this.requested, u.requests.requests, sign);
    addResources(this.nonZeroRequested, u.requests.nonZero, sign);
    this.podCount += sign;
    for (const hp of u.hostPorts) {
      const k = `${hp.protocol}/${hp.port}`;
      let ips = this.usedPorts.get(k);
      if (!ips) {
        ips = new Map();
        this.usedPorts.set(k, ips);
      }
      const n = (ips.get(hp.ip) ?? 0) + sign;
      if (n <= 0) ips.delete(hp.ip);
      else ips.set(hp.ip, n);
      if (ips.size === 0) this.usedPorts.delete(k);
    }
    this.generation++;
  }

  /** True if `hp` conflicts with a port in use: same protocol and port, and the same IP or either is 0.0.0.0. */
  portInUse(hp: HostPort): boolean {
    const ips = this.usedPorts.get(`${hp.protocol}/${hp.port}`);
    if (!ips || ips.size === 0) return false;
    if (hp.ip === WILDCARD_IP) return true;
    return ips.has(hp.ip) || ips.has(WILDCARD_IP);
  }
}
