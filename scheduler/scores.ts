/**
 * Scores (0–100 each, integer, as upstream): NodeResourcesFit's LeastAllocated strategy and
 * NodeResourcesBalancedAllocation, both over cpu and memory with weight 1, summed with equal
 * plugin weights. The highest total wins; ties are broken uniformly at random.
 */
import type { NodeInfo, PodInfo } from "./node-info.js";

export const MAX_NODE_SCORE = 100;

/** (allocatable − requested) × 100 / allocatable, 0 when requested exceeds allocatable. */
function leastRequested(requested: number, allocatable: number): number {
  if (allocatable <= 0 || requested > allocatable) return 0;
  return Math.floor(((allocatable - requested) * MAX_NODE_SCORE) / allocatable);
}

/**
 * LeastAllocated: favours nodes with more room left once the pod is added. Uses the "non-zero"
 * requests (containers without cpu/memory requests count as 100m / 200Mi) like upstream.
 */
export function leastAllocatedScore(pod: PodInfo, node: NodeInfo): number {
  const alloc = node.allocatable.resources;
  const cpu = leastRequested(node.nonZeroRequested.milliCPU + pod.requests.nonZero.milliCPU, alloc.milliCPU);
  const mem = leastRequested(node.nonZeroRequested.memory + pod.requests.nonZero.memory, alloc.memory);
  return Math.floor((cpu + mem) / 2);
}

/**
 * BalancedAllocation: favours nodes whose cpu and memory fractions stay close once the pod is
 * added: (1 − standard deviation of the fractions) × 100, each fraction capped at 1.
 * Resources with zero allocatable are left out.
 */
export function balancedAllocationScore(pod: PodInfo, node: NodeInfo): number {
  const alloc = node.allocatable.resources;
  const fractions: number[] = [];
  const add = (requested: number, allocatable: number) => {
    if (allocatable <= 0) return;
    fractions.push(Math.min(requested / allocatable, 1));
  };
  add(node.requested.milliCPU + pod.requests.requests.milliCPU, alloc.milliCPU);
  add(node.requested.memory + pod.requests.requests.memory, alloc.memory);
  let std = 0;
  if (fractions.length === 2) {
    std = Math.abs(fractions[0]! - fractions[1]!) / 2;
  } else if (fractions.length > 2) {
    const mean = fractions.reduce((a, b) => a + b, 0) / fractions.length;
    std = Math.sqrt(fractions.reduce((a, f) => a + (f - mean) ** 2, 0) / fractions.length);
  }
  return Math.floor((1 - std) * MAX_NODE_SCORE);
}

export function scoreNode(pod: PodInfo, node: NodeInfo): number {
  return leastAllocatedScore(pod, node) + balancedAllocationScore(pod, node);
}

/**
 * The node with the highest score; among equal scores each is picked with equal probability
 * (reservoir sampling, one pass).
 */
export function selectHost(
  pod: PodInfo,
  feasible: readonly NodeInfo[],
  random: () => number = Math.random,
  score: (pod: PodInfo, node: NodeInfo) => number = scoreNode,
): { node: NodeInfo; score: number } | undefined {
  if (feasible.length === 0) return undefined;
  if (feasible.length === 1) return { node: feasible[0]!, score: score(pod, feasible[0]!) };
  let best: NodeInfo | undefined;
  let bestScore = -Infinity;
  let ties = 0;
  for (const n of feasible) {
    const s = score(pod, n);
    if (s > bestScore) {
      best = n;
      bestScore = s;
      ties = 1;
    } else if (s === bestScore) {
      ties++;
      if (random() * ties < 1) best = n;
    }
  }
  return { node: best!, score: bestScore };
}
