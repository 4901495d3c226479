/** Builders for scheduler unit tests (kept out of the build by nothing else importing them). */
import { NodeInfo } from "./node-info.js";
import type { Affinity, Container, Node, Pod, Taint, Toleration } from "./types.js";

export interface PodOpts {
  name?: string;
  namespace?: string;
  cpu?: string;
  memory?: string;
  containers?: Container[];
  initContainers?: Container[];
  nodeSelector?: Record<string, string>;
  affinity?: Affinity;
  tolerations?: Toleration[];
  hostPorts?: { port: number; protocol?: string; ip?: string }[];
  nodeName?: string;
  phase?: string;
  priority?: number;
  schedulerName?: string;
  labels?: Record<string, string>;
  preemptionPolicy?: string;
}

export function makePod(o: PodOpts = {}): Pod {
  const requests: Record<string, string> = {};
  if (o.cpu) requests.cpu = o.cpu;
  if (o.memory) requests.memory = o.memory;
  const containers: Container[] = o.containers ?? [
    {
      name: "c",
      resources: { requests },
      ports: (o.hostPorts ?? []).map((p) => ({
        containerPort: p.port,
        hostPort: p.port,
        protocol: p.protocol,
        hostIP: p.ip,
      })),
    },
  ];
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: o.name ?? "p",
      namespace: o.namespace ?? "default",
      labels: o.labels,
      uid: `uid-${o.name ?? "p"}`,
    },
    spec: {
      containers,
      ...(o.initContainers ? { initContainers: o.initContainers } : {}),
      ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
      ...(o.affinity ? { affinity: o.affinity } : {}),
      ...(o.tolerations ? { tolerations: o.tolerations } : {}),
      ...(o.nodeName ? { nodeName: o.nodeName } : {}),
      ...(o.priority !== undefined ? { priority: o.priority } : {}),
      ...(o.schedulerName ? { schedulerName: o.schedulerName } : {}),
      ...(o.preemptionPolicy ? { preemptionPolicy: o.preemptionPolicy } : {}),
    },
    status: { phase: o.phase ?? "Pending" },
  };
}

export interface NodeOpts {
  cpu?: string;
  memory?: string;
  pods?: string;
  labels?: Record<string, string>;
  taints?: Taint[];
  unschedulable?: boolean;
  extra?: Record<string, string>;
}

export function makeNode(name: string, o: NodeOpts = {}): Node {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels: { "kubernetes.io/hostname": name, ...o.labels } },
    spec: { ...(o.taints ? { taints: o.taints } : {}), ...(o.unschedulable ? { unschedulable: true } : {}) },
    status: {
      allocatable: { cpu: o.cpu ?? "2", memory: o.memory ?? "4Gi", pods: o.pods ?? "110", ...o.extra },
      conditions: [{ type: "Ready", status: "True" }],
    },
  };
}

export function nodeInfo(name: string, o: NodeOpts = {}): NodeInfo {
  return new NodeInfo(name, makeNode(name, o));
}
