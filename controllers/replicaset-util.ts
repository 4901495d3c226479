/**
 * Pure decisions of the ReplicaSet controller (and the controller-ref bookkeeping the Deployment
 * controller shares): which pods count, which to adopt or release, which to delete first on
 * scale-down, how to batch creations, what the status says, and the expectations that keep the
 * controller from acting twice while its informer catches up.
 */
import type { KubeObject, OwnerReference } from "../api/object.js";
import { type LabelRequirement, labelSelectorFromObject, matchesLabels } from "../api/selectors.js";

// ---------------------------------------------------------------- shapes (only what we read)

export interface PodCondition {
  type: string;
  status: "True" | "False" | "Unknown" | string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface ContainerStatus {
  name?: string;
  restartCount?: number;
}

export interface Pod extends KubeObject {
  spec?: { nodeName?: string; [k: string]: unknown };
  status?: {
    phase?: string;
    conditions?: PodCondition[];
    containerStatuses?: ContainerStatus[];
    [k: string]: unknown;
  };
}

export interface PodTemplate {
  metadata?: {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
    [k: string]: unknown;
  };
  spec?: Record<string, unknown>;
}

export interface LabelSelectorSpec {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

export interface ReplicaSetCondition {
  type: string;
  status: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface ReplicaSetStatus {
  replicas: number;
  fullyLabeledReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  observedGeneration?: number;
  conditions?: ReplicaSetCondition[];
}

export interface ReplicaSet extends KubeObject {
  spec: {
    replicas?: number;
    minReadySeconds?: number;
    selector?: LabelSelectorSpec;
    template?: PodTemplate;
    [k: string]: unknown;
  };
  status?: ReplicaSetStatus;
}

// ---------------------------------------------------------------- controller references

export function controllerRefOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}

/** The owner reference a controller puts on what it creates or adopts. */
export function newControllerRef(owner: KubeObject, apiVersion: string, kind: string): OwnerReference {
  return {
    apiVersion,
    kind,
    name: owner.metadata.name!,
    uid: owner.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export type ClaimDecision = "keep" | "adopt" | "release" | "ignore";

/**
 * ControllerRefManager's rule for one candidate:
 * - owned by another controller: ignore;
 * - owned by us: keep while the selector matches, else release (unless we are being deleted);
 * - orphan: adopt when the selector matches and neither side is being deleted.
 */
export function claimDecision(
  owner: { uid: string; deleting: boolean },
  selector: readonly LabelRequirement[] | null,
  obj: KubeObject,
): ClaimDecision {
  const ref = controllerRefOf(obj);
  const matches = matchesLabels(selector, obj.metadata.labels);
  if (ref) {
    if (ref.uid !== owner.uid) return "ignore";
    if (matches) return "keep";
    return owner.deleting ? "ignore" : "release";
  }
  if (!matches || owner.deleting || obj.metadata.deletionTimestamp) return "ignore";
  return "adopt";
}

/** Selector requirements, or null (matches nothing) when the selector is missing or malformed. */
export function safeSelector(sel: LabelSelectorSpec | undefined): LabelRequirement[] | null {
  try {
    return labelSelectorFromObject(sel);
  } catch {
    return null;
  }
}

/** The ownerReferences after adopting (adding our controller ref) or releasing (dropping refs to us). */
export function ownerRefsAfterAdopt(obj: KubeObject, ref: OwnerReference): OwnerReference[] {
  return [...(obj.metadata.ownerReferences ?? []).filter((r) => r.uid !== ref.uid), ref];
}

export function ownerRefsAfterRelease(obj: KubeObject, ownerUid: string): OwnerReference[] {
  return (obj.metadata.ownerReferences ?? []).filter((r) => r.uid !== ownerUid);
}

// ---------------------------------------------------------------- pod state

/** Pods that count toward replicas: not terminating, not Succeeded/Failed. */
export function isPodActive(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase !== "Succeeded" && phase !== "Failed" && !pod.metadata.deletionTimestamp;
}

export function readyCondition(pod: Pod): PodCondition | undefined {
  return pod.status?.conditions?.find((c) => c.type === "Ready");
}

export function isPodReady(pod: Pod): boolean {
  return readyCondition(pod)?.status === "True";
}

function parseTime(t: string | undefined): number | undefined {
  if (!t) return undefined;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Ready for at least minReadySeconds (a Ready condition without a time counts as ready long enough). */
export function isPodAvailable(pod: Pod, minReadySeconds: number, nowMs: number): boolean {
  const cond = readyCondition(pod);
  if (cond?.status !== "True") return false;
  if (!minReadySeconds) return true;
  const since = parseTime(cond.lastTransitionTime);
  return since === undefined || since + minReadySeconds * 1000 <= nowMs;
}

/** ms until a ready-but-not-yet-available pod becomes available; undefined if none is waiting. */
export function nextAvailableInMs(pods: Pod[], minReadySeconds: number, nowMs: number): number | undefined {
  if (!minReadySeconds) return undefined;
  let next: number | undefined;
  for (const pod of pods) {
    const cond = readyCondition(pod);
    if (cond?.status !== "True") continue;
    const since = parseTime(cond.lastTransitionTime);
    if (since === undefined) continue;
    const wait = since + minReadySeconds * 1000 - nowMs;
    if (wait > 0 && (next === undefined || wait < next)) next = wait;
  }
  return next;
}

function maxRestarts(pod: Pod): number {
  let max = 0;
  for (const cs of pod.status?.containerStatuses ?? []) max = Math.max(max, cs.restartCount ?? 0);
  return max;
}

const PHASE_RANK: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

/**
 * Deletion preference (upstream's ActivePods order): negative when `a` should go before `b`.
 * unassigned < assigned; Pending < Unknown < Running; not ready < ready; ready more recently
 * first; more restarts first; newer first.
 */
export function compareForDeletion(a: Pod, b: Pod): number {
  const aNode = a.spec?.nodeName ? 1 : 0;
  const bNode = b.spec?.nodeName ? 1 : 0;
  if (aNode !== bNode) return aNode - bNode;
  const aPhase = PHASE_RANK[a.status?.phase ?? ""] ?? 0;
  const bPhase = PHASE_RANK[b.status?.phase ?? ""] ?? 0;
  if (aPhase !== bPhase) return aPhase - bPhase;
  const aReady = isPodReady(a) ? 1 : 0;
  const bReady = isPodReady(b) ? 1 : 0;
  if (aReady !== bReady) return aReady - bReady;
  if (aReady && bReady) {
    // a missing time counts as "just now" (the most recent)
    const aT = parseTime(readyCondition(a)?.lastTransitionTime) ?? Number.POSITIVE_INFINITY;
    const bT = parseTime(readyCondition(b)?.lastTransitionTime) ?? Number.POSITIVE_INFINITY;
    if (aT !== bT) return aT > bT ? -1 : 1;
  }
  const aR = maxRestarts(a);
  const bR = maxRestarts(b);
  if (aR !== bR) return bR - aR;
  const aC = parseTime(a.metadata.creationTimestamp) ?? Number.POSITIVE_INFINITY;
  const bC = parseTime(b.metadata.creationTimestamp) ?? Number.POSITIVE_INFINITY;
  if (aC !== bC) return aC > bC ? -1 : 1;
  return (a.metadata.name ?? "") < (b.metadata.name ?? "")
    ? -1
    : (a.metadata.name ?? "") > (b.metadata.name ?? "")
      ? 1
      : 0;
}

/** The `count` pods to delete first. */
export function podsToDelete(pods: readonly Pod[], count: number): Pod[] {
  if (count <= 0) return [];
  return [...pods].sort(compareForDeletion).slice(0, count);
}

// ---------------------------------------------------------------- creation

/** Slow start: batches of 1, 2, 4, ... that add up to `total`. */
export function slowStartBatches(total: number, initial = 1): number[] {
  const out: number[] = [];
  let remaining = Math.max(0, total);
  let size = Math.max(1, initial);
  while (remaining > 0) {
    const n = Math.min(size, remaining);
    out.push(n);
    remaining -= n;
    size *= 2;
  }
  return out;
}

/** Upstream's burstReplicas: never create or delete more than this in one sync. */
export const BURST_REPLICAS = 500;

/** The pod a ReplicaSet creates: its template, named "<rs>-xxxxx", controlled by the RS. */
export function podFromTemplate(rs: ReplicaSet): Pod {
  const tmpl = rs.spec.template ?? {};
  const meta = tmpl.metadata ?? {};
  const pod: Pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      generateName: `${rs.metadata.name}-`,
      namespace: rs.metadata.namespace,
      labels: { ...(meta.labels ?? {}) },
      ownerReferences: [newControllerRef(rs, "apps/v1", "ReplicaSet")],
    },
    spec: structuredClone(tmpl.spec ?? {}),
  };
  if (meta.annotations && Object.keys(meta.annotations).length)
    pod.metadata.annotations = { ...meta.annotations };
  if (meta.finalizers?.length) pod.metadata.finalizers = [...meta.finalizers];
  return pod;
}

// ---------------------------------------------------------------- status

export function computeReplicaSetStatus(
  rs: ReplicaSet,
  activePods: readonly Pod[],
  nowMs: number,
  failure?: { reason: string; message: string },
): ReplicaSetStatus {
  const templateLabels = rs.spec.template?.metadata?.labels ?? {};
  const minReady = rs.spec.minReadySeconds ?? 0;
  let fully = 0;
  let ready = 0;
  let available = 0;
  for (const pod of activePods) {
    const labels = pod.metadata.labels ?? {};
    if (Object.entries(templateLabels).every(([k, v]) => labels[k] === v)) fully++;
    if (isPodReady(pod)) ready++;
    if (isPodAvailable(pod, minReady, nowMs)) available++;
  }
  const status: ReplicaSetStatus = {
    replicas: activePods.length,
    fullyLabeledReplicas: fully,
    readyReplicas: ready,
    availableReplicas: available,
    observedGeneration: rs.metadata.generation ?? rs.status?.observedGeneration,
  };
  const others = (rs.status?.conditions ?? []).filter((c) => c.type !== "ReplicaFailure");
  const prior = rs.status?.conditions?.find((c) => c.type === "ReplicaFailure");
  const conditions = [...others];
  if (failure) {
    conditions.push({
      type: "ReplicaFailure",
      status: "True",
      lastTransitionTime: prior?.status === "True" ? prior.lastTransitionTime : rfc3339(nowMs),
      reason: failure.reason,
      message: failure.message,
    });
  }
  if (conditions.length) status.conditions = conditions;
  return status;
}

/** Whether two statuses say the same (so no write is needed). */
export function sameStatus(a: ReplicaSetStatus | undefined, b: ReplicaSetStatus): boolean {
  if (!a) return false;
  return (
    (a.replicas ?? 0) === b.replicas &&
    (a.fullyLabeledReplicas ?? 0) === (b.fullyLabeledReplicas ?? 0) &&
    (a.readyReplicas ?? 0) === (b.readyReplicas ?? 0) &&
    (a.availableReplicas ?? 0) === (b.availableReplicas ?? 0) &&
    a.observedGeneration === b.observedGeneration &&
    JSON.stringify(a.conditions ?? []) === JSON.stringify(b.conditions ?? [])
  );
}

export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

// ---------------------------------------------------------------- expectations

interface Expectation {
  adds: number;
  /** pod keys whose deletion we wait to see */
  deletes: Set<string>;
  at: number;
}

/**
 * What a controller is waiting to observe after creating or deleting pods for an owner key.
 * While creations or deletions are outstanding the controller does not create or delete
 * again for that key (it would double act on a stale cache). Expectations expire after
 * `ttlMs` (default 5 minutes) in case an event was missed.
 */
export class Expectations {
  private readonly byKey = new Map<string, Expectation>();

  constructor(
    private readonly ttlMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  satisfied(key: string): boolean {
    const e = this.byKey.get(key);
    if (!e) return true;
    if (e.adds <= 0 && e.deletes.size === 0) return true;
    return this.now() - e.at > this.ttlMs;
  }

  expectCreations(key: string, n: number): void {
    this.byKey.set(key, { adds: n, deletes: new Set(), at: this.now() });
  }

  expectDeletions(key: string, podKeys: readonly string[]): void {
    this.byKey.set(key, { adds: 0, deletes: new Set(podKeys), at: this.now() });
  }

  creationObserved(key: string, n = 1): void {
    const e = this.byKey.get(key);
    if (e) e.adds -= n;
  }

  deletionObserved(key: string, podKey: string): void {
    this.byKey.get(key)?.deletes.delete(podKey);
  }

  delete(key: string): void {
    this.byKey.delete(key);
  }

  /** for tests and debugging */
  pending(key: string): { adds: number; deletes: number } | undefined {
    const e = this.byKey.get(key);
    return e ? { adds: e.adds, deletes: e.deletes.size } : undefined;
  }
}
