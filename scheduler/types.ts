/**
 * The slices of core/v1 Pod and Node the scheduler reads. Everything is optional: objects come
 * from the API (or from tests) and the scheduler must cope with any missing field.
 */
import type { KubeObject } from "../api/object.js";

export type Quantity = string | number;
export type ResourceList = Record<string, Quantity | undefined>;

export interface ContainerPort {
  containerPort?: number;
  hostPort?: number;
  hostIP?: string;
  protocol?: string;
  name?: string;
}

export interface Container {
  name?: string;
  image?: string;
  resources?: { requests?: ResourceList | null; limits?: ResourceList | null } | null;
  ports?: ContainerPort[] | null;
  /** "Always" on an init container makes it a sidecar that keeps running */
  restartPolicy?: string | null;
  [key: string]: unknown;
}

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number | null;
}

export interface Taint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string;
}

export interface NodeSelectorRequirement {
  key: string;
  operator: string;
  values?: string[] | null;
}

export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[] | null;
  matchFields?: NodeSelectorRequirement[] | null;
}

export interface NodeSelector {
  nodeSelectorTerms?: NodeSelectorTerm[] | null;
}

export interface Affinity {
  nodeAffinity?: {
    requiredDuringSchedulingIgnoredDuringExecution?: NodeSelector | null;
    preferredDuringSchedulingIgnoredDuringExecution?: unknown[] | null;
  } | null;
  [key: string]: unknown;
}

export interface PodCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastProbeTime?: string | null;
  lastTransitionTime?: string;
}

export interface PodSpec {
  nodeName?: string;
  schedulerName?: string;
  nodeSelector?: Record<string, string> | null;
  affinity?: Affinity | null;
  tolerations?: Toleration[] | null;
  containers?: Container[];
  initContainers?: Container[] | null;
  overhead?: ResourceList | null;
  priority?: number;
  preemptionPolicy?: string;
  schedulingGates?: { name: string }[] | null;
  [key: string]: unknown;
}

export interface Pod extends KubeObject {
  spec?: PodSpec;
  status?: { phase?: string; conditions?: PodCondition[]; [key: string]: unknown };
}

export interface Node extends KubeObject {
  spec?: { unschedulable?: boolean; taints?: Taint[] | null; [key: string]: unknown };
  status?: {
    allocatable?: ResourceList;
    capacity?: ResourceList;
    conditions?: { type: string; status: string }[];
    [key: string]: unknown;
  };
}
