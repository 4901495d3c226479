/**
 * Filters: can this pod run on this node? Each returns undefined when the node passes, or the
 * reasons it fails (in the words of the upstream plugins, so FailedScheduling messages read the
 * same) and whether removing other pods (preemption) could ever help.
 *
 * Order follows the default profile: NodeUnschedulable, NodeName, TaintToleration, NodeAffinity,
 * NodePorts, NodeResourcesFit; the first failing filter decides a node's reasons.
 */
import type { NodeInfo, PodInfo } from "./node-info.js";
import type { NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Taint, Toleration } from "./types.js";

export const REASON = {
  unschedulable: "node(s) were unschedulable",
  nodeName: "node(s) didn't match the requested node name",
  nodeAffinity: "node(s) didn't match Pod's node affinity/selector",
  ports: "node(s) didn't have free ports for the requested pod ports",
  tooManyPods: "Too many pods",
} as const;

export function untoleratedTaintReason(t: Taint): string {
  return `node(s) had untolerated taint {${t.key}: ${t.value ?? ""}}`;
}

export function insufficientReason(resource: string): string {
  return `Insufficient ${resource}`;
}

export interface FilterFailure {
  /** which filter: NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit */
  plugin: string;
  reasons: string[];
  /** true: no amount of preemption on this node would make the pod fit */
  unresolvable: boolean;
}

export const UNSCHEDULABLE_TAINT_KEY = "node.kubernetes.io/unschedulable";

// ---------------------------------------------------------------- tolerations

/** Does `tol` tolerate `taint`? (empty effect: any effect; Exists with empty key: any taint) */
export function toleratesTaint(tol: Toleration, taint: Taint): boolean {
  if (tol.effect && tol.effect !== taint.effect) return false;
  const op = tol.operator || "Equal";
  if (op === "Exists") return !tol.key || tol.key === taint.key;
  if (op !== "Equal") return false;
  return !!tol.key && tol.key === taint.key && (tol.value ?? "") === (taint.value ?? "");
}

export function toleratesAny(tols: readonly Toleration[], taint: Taint): boolean {
  for (const t of tols) if (toleratesTaint(t, taint)) return true;
  return false;
}

/** The first of `taints` no toleration tolerates. */
export function firstUntolerated(taints: readonly Taint[], tols: readonly Toleration[]): Taint | undefined {
  for (const taint of taints) if (!toleratesAny(tols, taint)) return taint;
  return undefined;
}

// ---------------------------------------------------------------- node selectors

function parseInt64(s: string): number | undefined {
  if (!/^[+-]?\d+$/.test(s.trim())) return undefined;
  const n = Number(s.trim());
  return Number.isSafeInteger(n) ? n : undefined;
}

/** One matchExpressions requirement against node labels; malformed requirements match nothing. */
export function requirementMatchesLabels(
  r: NodeSelectorRequirement,
  labels: Readonly<Record<string, string>>,
): boolean {
  const values = r.values ?? [];
  const has = Object.hasOwn(labels, r.key);
  const value = has ? labels[r.key]! : undefined;
  switch (r.operator) {
    case "In":
      return values.length > 0 && has && values.includes(value!);
    case "NotIn":
      return values.length > 0 && (!has || !values.includes(value!));
    case "Exists":
      return values.length === 0 && has;
    case "DoesNotExist":
      return values.length === 0 && !has;
    case "Gt":
    case "Lt": {
      if (values.length !== 1 || !has) return false;
      const want = parseInt64(values[0]!);
      const got = parseInt64(value!);
      if (want === undefined || got === undefined) return false;
      return r.operator === "Gt" ? got > want : got < want;
    }
    default:
      return false;
  }
}

/** One matchFields requirement; only metadata.name with In/NotIn is supported (as upstream). */
export function fieldRequirementMatches(r: NodeSelectorRequirement, nodeName: string): boolean {
  if (r.key !== "metadata.name") return false;
  const values = r.values ?? [];
  if (values.length === 0) return false;
  if (r.operator === "In") return values.includes(nodeName);
  if (r.operator === "NotIn") return !values.includes(nodeName);
  return false;
}

/** A term matches when all its expressions and fields match; an empty term matches nothing. */
export function termMatches(
  term: NodeSelectorTerm,
  labels: Readonly<Record<string, string>>,
  nodeName: string,
): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  for (const r of exprs) if (!requirementMatchesLabels(r, labels)) return false;
  for (const r of fields) if (!fieldRequirementMatches(r, nodeName)) return false;
  return true;
}

/** The terms are ORed; no terms match nothing. */
export function nodeSelectorMatches(
  sel: NodeSelector,
  labels: Readonly<Record<string, string>>,
  nodeName: string,
): boolean {
  for (const term of sel.nodeSelectorTerms ?? []) if (termMatches(term, labels, nodeName)) return true;
  return false;
}

/** spec.nodeSelector AND required node affinity. */
export function matchesNodeSelectorAndAffinity(
  pod: PodInfo,
  labels: Readonly<Record<string, string>>,
  nodeName: string,
): boolean {
  for (const [k, v] of Object.entries(pod.nodeSelector)) {
    if (labels[k] !== v) return false;
  }
  if (pod.requiredAffinity && !nodeSelectorMatches(pod.requiredAffinity, labels, nodeName)) return false;
  return true;
}

// ---------------------------------------------------------------- the filters

export function filterNodeUnschedulable(pod: PodInfo, node: NodeInfo): FilterFailure | undefined {
  if (!node.unschedulable) return undefined;
  if (toleratesAny(pod.tolerations, { key: UNSCHEDULABLE_TAINT_KEY, effect: "NoSchedule" })) return undefined;
  return { plugin: "NodeUnschedulable", reasons: [REASON.unschedulable], unresolvable: true };
}

export function filterNodeName(pod: PodInfo, node: NodeInfo): FilterFailure | undefined {
  if (!pod.nodeName || pod.nodeName === node.name) return undefined;
  return { plugin: "NodeName", reasons: [REASON.nodeName], unresolvable: true };
}

export function filterTaintToleration(pod: PodInfo, node: NodeInfo): FilterFailure | undefined {
  const t = firstUntolerated(node.filterTaints, pod.tolerations);
  if (!t) return undefined;
  return { plugin: "TaintToleration", reasons: [untoleratedTaintReason(t)], unresolvable: true };
}

export function filterNodeAffinity(pod: PodInfo, node: NodeInfo): FilterFailure | undefined {
  if (matchesNodeSelectorAndAffinity(pod, node.labels, node.name)) return undefined;
  return { plugin: "NodeAffinity", reasons: [REASON.nodeAffinity], unresolvable: true };
}

export function filterNodePorts(pod: PodInfo, node: NodeInfo): FilterFailure | undefined {
  for (const hp of pod.hostPorts) {
    if (node.portInUse(hp)) return { plugin: "NodePorts", reasons: [REASON.ports], unresolvable: false };
  }
  return undefined;
}

export function filterNodeResourcesFit(pod: PodInfo, node: NodeInfo): FilterFailure | undefined {
  const reasons: string[] = [];
  let unresolvable = false;
  const alloc = node.allocatable.resources;
  const used = node.requested;
  if (node.podCount + 1 > node.allocatable.pods) {
    reasons.push(REASON.tooManyPods);
    if (node.allocatable.pods < 1) unresolvable = true;
  }
  const req = pod.requests.requests;
  const check = (name: string, want: number, have: number, inUse: number) => {
    if (want > 0 && want > have - inUse) {
      reasons.push(insufficientReason(name));
      if (want > have) unresolvable = true;
    }
  };
  check("cpu", req.milliCPU, alloc.milliCPU, used.milliCPU);
  check("memory", req.memory, alloc.memory, used.memory);
  check("ephemeral-storage", req.ephemeralStorage, alloc.ephemeralStorage, used.ephemeralStorage);
  for (const [name, want] of Object.entries(req.scalar)) {
    check(name, want, alloc.scalar[name] ?? 0, used.scalar[name] ?? 0);
  }
  if (reasons.length === 0) return undefined;
  return { plugin: "NodeResourcesFit", reasons, unresolvable };
}

export type Filter = (pod: PodInfo, node: NodeInfo) => FilterFailure | undefined;

export const DEFAULT_FILTERS: readonly Filter[] = [
  filterNodeUnschedulable,
  filterNodeName,
  filterTaintToleration,
  filterNodeAffinity,
  filterNodePorts,
  filterNodeResourcesFit,
];

/** Runs the filters in order; the first failure wins. */
export function runFilters(
  pod: PodInfo,
  node: NodeInfo,
  filters: readonly Filter[] = DEFAULT_FILTERS,
): FilterFailure | undefined {
  for (const f of filters) {
    const failure = f(pod, node);
    if (failure) return failure;
  }
  return undefined;
}
