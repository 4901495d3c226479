/**
 * One scheduling decision: filter the nodes (stopping once enough feasible nodes are found, like
 * upstream's adaptive percentageOfNodesToScore), score the feasible ones, pick the best; or, when
 * none fits, the FailedScheduling message in upstream's format:
 *
 *   0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient cpu.
 *   preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.
 */
import { DEFAULT_FILTERS, type Filter, type FilterFailure, runFilters } from "./filters.js";
import type { NodeInfo, PodInfo } from "./node-info.js";
import { scoreNode, selectHost } from "./scores.js";

export const NO_NODES_AVAILABLE = "no nodes available to schedule pods";
export const PREEMPTION_NOT_HELPFUL = "Preemption is not helpful for scheduling";
export const NO_PREEMPTION_VICTIMS = "No preemption victims found for incoming pod";

const MIN_FEASIBLE_NODES_TO_FIND = 100;
const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5;

/**
 * How many feasible nodes are enough: all below 100 nodes; otherwise an adaptive percentage
 * (50% − 1% per 125 nodes, at least 5%) but never fewer than 100. `percentage` (1–100) overrides.
 */
export function numFeasibleNodesToFind(numAllNodes: number, percentage?: number): number {
  if (numAllNodes < MIN_FEASIBLE_NODES_TO_FIND || percentage === 100) return numAllNodes;
  let pct = percentage ?? 0;
  if (pct <= 0) {
    pct = 50 - Math.floor(numAllNodes / 125);
    if (pct < MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND) pct = MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND;
  }
  const n = Math.floor((numAllNodes * pct) / 100);
  return Math.max(n, MIN_FEASIBLE_NODES_TO_FIND);
}

export interface FindResult {
  feasible: NodeInfo[];
  /** node name → why it failed (only nodes that were evaluated) */
  failures: Map<string, FilterFailure>;
  /** how many nodes were looked at (to advance the start index) */
  processed: number;
}

/** Filters nodes starting at `start` (wrapping), stopping after `limit` feasible nodes. */
export function findFeasibleNodes(
  pod: PodInfo,
  nodes: readonly NodeInfo[],
  start: number,
  limit: number,
  filters: readonly Filter[] = DEFAULT_FILTERS,
): FindResult {
  const feasible: NodeInfo[] = [];
  const failures = new Map<string, FilterFailure>();
  const n = nodes.length;
  let processed = 0;
  for (let i = 0; i < n && feasible.length < limit; i++) {
    const node = nodes[(start + i) % n]!;
    processed++;
    const failure = runFilters(pod, node, filters);
    if (failure) failures.set(node.name, failure);
    else feasible.push(node);
  }
  return { feasible, failures, processed };
}

/** "N reason" entries, sorted as strings like upstream, joined with ", ". */
export function reasonHistogram(counts: ReadonlyMap<string, number>): string {
  return [...counts]
    .map(([reason, n]) => `${n} ${reason}`)
    .sort()
    .join(", ");
}

export interface FitErrorOptions {
  /** append upstream's "preemption: ..." sentence (default true); kubeplane never preempts */
  preemption?: boolean;
  /** the pod's spec.preemptionPolicy */
  preemptionPolicy?: string;
}

/** The FailedScheduling message for a pod no node fits. */
export function fitErrorMessage(
  numAllNodes: number,
  failures: Iterable<FilterFailure>,
  opts: FitErrorOptions = {},
): string {
  if (numAllNodes === 0) return NO_NODES_AVAILABLE;
  const reasons = new Map<string, number>();
  const preemption = new Map<string, number>();
  for (const f of failures) {
    for (const r of f.reasons) reasons.set(r, (reasons.get(r) ?? 0) + 1);
    const p = f.unresolvable ? PREEMPTION_NOT_HELPFUL : NO_PREEMPTION_VICTIMS;
    preemption.set(p, (preemption.get(p) ?? 0) + 1);
  }
  let msg = `0/${numAllNodes} nodes are available: ${reasonHistogram(reasons)}.`;
  if (opts.preemption ?? true) {
    if (opts.preemptionPolicy === "Never") msg += " preemption: not eligible due to preemptionPolicy=Never.";
    else msg += ` preemption: 0/${numAllNodes} nodes are available: ${reasonHistogram(preemption)}.`;
  }
  return msg;
}

export type ScheduleResult =
  | { kind: "scheduled"; node: NodeInfo; score: number; feasible: number; evaluated: number }
  | { kind: "unschedulable"; message: string; failures: Map<string, FilterFailure>; evaluated: number };

export interface ScheduleOptions {
  /** where to start looking (rotated by the caller so nodes share the load) */
  start?: number;
  /** percentageOfNodesToScore (1–100); default adaptive */
  percentageOfNodesToScore?: number;
  filters?: readonly Filter[];
  score?: (pod: PodInfo, node: NodeInfo) => number;
  random?: () => number;
  preemptionMessage?: boolean;
}

/** Picks a node for `pod` among `nodes`, or says why none fits. */
export function schedulePod(
  pod: PodInfo,
  nodes: readonly NodeInfo[],
  opts: ScheduleOptions = {},
): ScheduleResult {
  const limit = numFeasibleNodesToFind(nodes.length, opts.percentageOfNodesToScore);
  const start = nodes.length ? (opts.start ?? 0) % nodes.length : 0;
  const found = findFeasibleNodes(pod, nodes, start, limit, opts.filters);
  if (found.feasible.length === 0) {
    return {
      kind: "unschedulable",
      message: fitErrorMessage(nodes.length, found.failures.values(), {
        preemption: opts.preemptionMessage,
        preemptionPolicy: pod.pod.spec?.preemptionPolicy,
      }),
      failures: found.failures,
      evaluated: found.processed,
    };
  }
  const best = selectHost(pod, found.feasible, opts.random, opts.score ?? scoreNode)!;
  return {
    kind: "scheduled",
    node: best.node,
    score: best.score,
    feasible: found.feasible.length,
    evaluated: found.processed,
  };
}
