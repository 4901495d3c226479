/**
 * Resource arithmetic: what a pod requests and what a node can hold, in integer units
 * (milli-CPU, bytes, counts), rounded up like resource.Quantity's MilliValue/Value.
 */
import { tryParseQuantity } from "../api/validation-rules.js";
import type { Container, Node, Pod, ResourceList } from "./types.js";

export interface Resources {
  milliCPU: number;
  memory: number;
  ephemeralStorage: number;
  /** extended and other resources (nvidia.com/gpu, hugepages-2Mi, ...) by name */
  scalar: Record<string, number>;
}

/** What the scoring plugins assume a container without requests uses (upstream's non-zero defaults). */
export const DEFAULT_MILLI_CPU_REQUEST = 100;
export const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

export function emptyResources(): Resources {
  return { milliCPU: 0, memory: 0, ephemeralStorage: 0, scalar: {} };
}

/** Ignored as scalar resources: the pod count is handled by itself. */
const NOT_SCALAR = new Set(["cpu", "memory", "ephemeral-storage", "pods", "storage"]);

function quantityValue(q: unknown, milli: boolean): number {
  const v = tryParseQuantity(q);
  if (v === undefined || v <= 0) return 0;
  // round to 9 decimals first so "0.1" * 1000 does not become 100.00000000000001 and round up
  const scaled = milli ? v * 1000 : v;
  return Math.ceil(Math.round(scaled * 1e6) / 1e6);
}

/** A ResourceList (requests, allocatable) as Resources. */
export function resourcesFromList(list: ResourceList | null | undefined): Resources {
  const r = emptyResources();
  if (!list) return r;
  for (const [name, q] of Object.entries(list)) {
    if (q === undefined || q === null) continue;
    if (name === "cpu") r.milliCPU = quantityValue(q, true);
    else if (name === "memory") r.memory = quantityValue(q, false);
    else if (name === "ephemeral-storage") r.ephemeralStorage = quantityValue(q, false);
    else if (!NOT_SCALAR.has(name)) {
      const v = quantityValue(q, false);
      if (v > 0) r.scalar[name] = v;
    }
  }
  return r;
}

export function addResources(into: Resources, r: Resources, sign = 1): void {
  into.milliCPU += sign * r.milliCPU;
  into.memory += sign * r.memory;
  into.ephemeralStorage += sign * r.ephemeralStorage;
  for (const [k, v] of Object.entries(r.scalar)) {
    const next = (into.scalar[k] ?? 0) + sign * v;
    if (next === 0) delete into.scalar[k];
    else into.scalar[k] = next;
  }
}

function maxResources(into: Resources, r: Resources): void {
  into.milliCPU = Math.max(into.milliCPU, r.milliCPU);
  into.memory = Math.max(into.memory, r.memory);
  into.ephemeralStorage = Math.max(into.ephemeralStorage, r.ephemeralStorage);
  for (const [k, v] of Object.entries(r.scalar)) into.scalar[k] = Math.max(into.scalar[k] ?? 0, v);
}

function containerRequests(c: Container): Resources {
  return resourcesFromList(c.resources?.requests);
}

function nonZero(r: Resources): Resources {
  return {
    ...r,
    scalar: { ...r.scalar },
    milliCPU: r.milliCPU || DEFAULT_MILLI_CPU_REQUEST,
    memory: r.memory || DEFAULT_MEMORY_REQUEST,
  };
}

export interface PodRequests {
  /** effective requests: used for fit and balanced allocation */
  requests: Resources;
  /** the same with upstream's defaults for containers that request no cpu/memory: used for least-allocated */
  nonZero: Resources;
}

/**
 * The effective request of a pod:
 *   max(sum of app containers + sidecars, the largest init container + the sidecars started before it)
 *   + pod overhead.
 * Sidecars are init containers with restartPolicy Always: they keep running alongside the app.
 */
export function podRequests(pod: Pod): PodRequests {
  const spec = pod.spec ?? {};
  const sum = emptyResources();
  const sumNonZero = emptyResources();
  for (const c of spec.containers ?? []) {
    const r = containerRequests(c);
    addResources(sum, r);
    addResources(sumNonZero, nonZero(r));
  }
  const sidecars = emptyResources();
  const sidecarsNonZero = emptyResources();
  const initMax = emptyResources();
  const initMaxNonZero = emptyResources();
  for (const c of spec.initContainers ?? []) {
    const r = containerRequests(c);
    if (c.restartPolicy === "Always") {
      addResources(sidecars, r);
      addResources(sidecarsNonZero, nonZero(r));
      continue;
    }
    const during = emptyResources();
    addResources(during, sidecars);
    addResources(during, r);
    maxResources(initMax, during);
    const duringNonZero = emptyResources();
    addResources(duringNonZero, sidecarsNonZero);
    addResources(duringNonZero, nonZero(r));
    maxResources(initMaxNonZero, duringNonZero);
  }
  addResources(sum, sidecars);
  addResources(sumNonZero, sidecarsNonZero);
  maxResources(sum, initMax);
  maxResources(sumNonZero, initMaxNonZero);
  const overhead = resourcesFromList(spec.overhead);
  addResources(sum, overhead);
  addResources(sumNonZero, overhead);
  return { requests: sum, nonZero: sumNonZero };
}

export interface NodeCapacity {
  resources: Resources;
  pods: number;
}

/** status.allocatable, falling back to status.capacity when allocatable is missing. */
export function nodeAllocatable(node: Node): NodeCapacity {
  const list = node.status?.allocatable ?? node.status?.capacity ?? {};
  const pods = tryParseQuantity(list.pods);
  return { resources: resourcesFromList(list), pods: pods === undefined ? 0 : Math.floor(pods) };
}
