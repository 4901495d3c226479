/**
 * Pure decisions of the Deployment controller: pod-template hashes, the new/old ReplicaSet
 * split, revisions and annotations, rolling-update and proportional-scaling arithmetic,
 * history cleanup, and the status with its Available/Progressing conditions.
 */
import type { KubeObject } from "../api/object.js";
import {
  type LabelSelectorSpec,
  newControllerRef,
  type PodTemplate,
  type ReplicaSet,
  rfc3339,
} from "./replicaset-util.js";

// ---------------------------------------------------------------- shapes

export type IntOrString = number | string;

export interface DeploymentCondition {
  type: string;
  status: string;
  lastUpdateTime?: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  collisionCount?: number;
  conditions?: DeploymentCondition[];
}

export interface Deployment extends KubeObject {
  spec: {
    replicas?: number;
    selector?: LabelSelectorSpec;
    template?: PodTemplate;
    strategy?: {
      type?: "RollingUpdate" | "Recreate" | string;
      rollingUpdate?: { maxSurge?: IntOrString; maxUnavailable?: IntOrString };
    };
    minReadySeconds?: number;
    revisionHistoryLimit?: number;
    paused?: boolean;
    progressDeadlineSeconds?: number;
    [k: string]: unknown;
  };
  status?: DeploymentStatus;
}

export const HASH_LABEL = "pod-template-hash";
export const REVISION_ANNOTATION = "deployment.kubernetes.io/revision";
export const REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history";
export const DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas";
export const MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas";

/** deployment annotations never copied onto its ReplicaSets */
const NOT_COPIED = new Set([
  "kubectl.kubernetes.io/last-applied-configuration",
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  "deprecated.deployment.rollback.to",
]);

// ---------------------------------------------------------------- hashing

/** JSON with object keys sorted at every level. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? "null" : canonicalJson(x))).join(",")}]`;
  const entries = Object.entries(v as Record<string, unknown>)
    .filter(([, x]) => x !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(",")}}`;
}

/** 32-bit FNV-1a over the UTF-8 bytes of `s`. */
export function fnv32a(s: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(s, "utf8")) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** No vowels (so no words) and no look-alikes (0/1/3): what upstream uses in generated names. */
const SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

/** Maps each character onto the safe alphabet (upstream's rand.SafeEncodeString). */
export function safeEncode(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) out += SAFE_ALPHABET[s.charCodeAt(i) % SAFE_ALPHABET.length];
  return out;
}

/** The pod-template-hash of a template (and the collision count, when there has been one). */
export function computeTemplateHash(template: PodTemplate | undefined, collisionCount?: number): string {
  let text = canonicalJson(withoutHashLabel(template ?? {}));
  if (collisionCount !== undefined && collisionCount !== null) text += `#${collisionCount}`;
  return safeEncode(String(fnv32a(text)));
}

function withoutHashLabel(t: PodTemplate): PodTemplate {
  const labels = t.metadata?.labels;
  if (!labels || !(HASH_LABEL in labels)) return t;
  const { [HASH_LABEL]: _drop, ...rest } = labels;
  const metadata = { ...t.metadata };
  if (Object.keys(rest).length) metadata.labels = rest;
  else delete metadata.labels;
  if (Object.keys(metadata).length === 0) {
    const { metadata: _m, ...bare } = t;
    return bare;
  }
  return { ...t, metadata };
}

/** Whether two templates are the same apart from the pod-template-hash label. */
export function templatesEqualIgnoringHash(a: PodTemplate | undefined, b: PodTemplate | undefined): boolean {
  return canonicalJson(withoutHashLabel(a ?? {})) === canonicalJson(withoutHashLabel(b ?? {}));
}

// ---------------------------------------------------------------- strategy arithmetic

export function replicasOf(obj: { spec: { replicas?: number } } | undefined): number {
  return obj?.spec.replicas ?? 1;
}

function rsReplicas(rs: ReplicaSet): number {
  return rs.spec.replicas ?? 0;
}

/** An int-or-percent scaled against `total` ("25%" of 5 is 2 rounding up, 1 rounding down). */
export function resolveIntOrPercent(v: IntOrString | undefined, total: number, roundUp: boolean): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === "number") return v;
  const m = /^(\d+)%$/.exec(v.trim());
  if (!m) {
    if (/^\d+$/.test(v.trim())) return Number(v.trim());
    throw new Error(`invalid value for IntOrString: ${JSON.stringify(v)}`);
  }
  const exact = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

export function isRollingUpdate(d: Deployment): boolean {
  return (d.spec.strategy?.type ?? "RollingUpdate") === "RollingUpdate";
}

/** (maxSurge, maxUnavailable) resolved against spec.replicas; when both come out 0, unavailable is 1. */
export function resolveFenceposts(d: Deployment): { maxSurge: number; maxUnavailable: number } {
  const replicas = replicasOf(d);
  const ru = d.spec.strategy?.rollingUpdate ?? {};
  const maxSurge = resolveIntOrPercent(ru.maxSurge ?? "25%", replicas, true);
  let maxUnavailable = resolveIntOrPercent(ru.maxUnavailable ?? "25%", replicas, false);
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable };
}

export function maxSurgeOf(d: Deployment): number {
  return isRollingUpdate(d) ? resolveFenceposts(d).maxSurge : 0;
}

/** How many pods may be unavailable (0 for Recreate), never more than spec.replicas. */
export function maxUnavailableOf(d: Deployment): number {
  const replicas = replicasOf(d);
  if (!isRollingUpdate(d) || replicas === 0) return 0;
  return Math.min(resolveFenceposts(d).maxUnavailable, replicas);
}

/**
 * A conservative count of the pods a ReplicaSet has or will have: its desired size, or more while
 * pods of a scale-down are still there.
 */
function podsUpperBound(rs: ReplicaSet): number {
  return Math.max(rsReplicas(rs), rs.status?.replicas ?? 0);
}

/** Available pods a ReplicaSet will still have once it reaches its desired size. */
function availableLowerBound(rs: ReplicaSet): number {
  return Math.min(rs.status?.availableReplicas ?? 0, rsReplicas(rs));
}

/** The size for the new ReplicaSet of a rolling update: grow within maxSurge toward spec.replicas. */
export function rollingNewReplicas(d: Deployment, allRSs: readonly ReplicaSet[], newRS: ReplicaSet): number {
  const replicas = replicasOf(d);
  const current = rsReplicas(newRS);
  if (current >= replicas) return replicas;
  const maxTotal = replicas + maxSurgeOf(d);
  let total = 0;
  for (const rs of allRSs) total += podsUpperBound(rs);
  if (total >= maxTotal) return current;
  return current + Math.min(maxTotal - total, replicas - current);
}

export interface ScaleStep {
  rs: ReplicaSet;
  replicas: number;
}

function byCreation(a: ReplicaSet, b: ReplicaSet): number {
  const ta = Date.parse(a.metadata.creationTimestamp ?? "") || 0;
  const tb = Date.parse(b.metadata.creationTimestamp ?? "") || 0;
  if (ta !== tb) return ta - tb;
  return (a.metadata.name ?? "").localeCompare(b.metadata.name ?? "");
}

/**
 * How far old ReplicaSets of a rolling update may shrink without dropping below
 * spec.replicas - maxUnavailable available pods: first their unavailable pods (oldest RS first),
 * then available ones beyond the minimum (oldest RS first).
 */
export function rollingOldScaleDown(
  d: Deployment,
  newRS: ReplicaSet | undefined,
  oldRSs: readonly ReplicaSet[],
): ScaleStep[] {
  const oldTotal = oldRSs.reduce((n, rs) => n + rsReplicas(rs), 0);
  if (oldTotal === 0) return [];
  const all = newRS ? [newRS, ...oldRSs] : [...oldRSs];
  const allTotal = all.reduce((n, rs) => n + rsReplicas(rs), 0);
  const minAvailable = replicasOf(d) - maxUnavailableOf(d);
  const newUnavailable = newRS ? rsReplicas(newRS) - availableLowerBound(newRS) : 0;
  const maxScaledDown = allTotal - minAvailable - newUnavailable;
  if (maxScaledDown <= 0) return [];

  const sizes = new Map<ReplicaSet, number>();
  const sorted = [...oldRSs].sort(byCreation);
  // 1. unhealthy pods first
  let cleaned = 0;
  for (const rs of sorted) {
    if (cleaned >= maxScaledDown) break;
    const size = rsReplicas(rs);
    const unhealthy = size - availableLowerBound(rs);
    if (size === 0 || unhealthy <= 0) continue;
    const n = Math.min(maxScaledDown - cleaned, unhealthy);
    sizes.set(rs, size - n);
    cleaned += n;
  }
  // 2. then available pods beyond the minimum
  let available = 0;
  for (const rs of all) available += Math.min(availableLowerBound(rs), sizes.get(rs) ?? rsReplicas(rs));
  let budget = Math.min(available - minAvailable, maxScaledDown - cleaned);
  for (const rs of sorted) {
    if (budget <= 0) break;
    const size = sizes.get(rs) ?? rsReplicas(rs);
    if (size === 0) continue;
    const n = Math.min(size, budget);
    sizes.set(rs, size - n);
    budget -= n;
  }
  return sorted
    .filter((rs) => sizes.has(rs) && sizes.get(rs) !== rsReplicas(rs))
    .map((rs) => ({ rs, replicas: sizes.get(rs)! }));
}

// ---------------------------------------------------------------- annotations and revisions

export function revisionOf(obj: KubeObject | undefined): number {
  const v = obj?.metadata.annotations?.[REVISION_ANNOTATION];
  const n = v === undefined ? 0 : Number.parseInt(v, 10);
  return Number.isFinite(n) ? n : 0;
}

export function maxRevision(rss: readonly ReplicaSet[]): number {
  return rss.reduce((m, rs) => Math.max(m, revisionOf(rs)), 0);
}

function intAnnotation(obj: KubeObject, key: string): number | undefined {
  const v = obj.metadata.annotations?.[key];
  if (v === undefined) return undefined;
  const n = Number.parseInt(v, 10);
  return Number.isFinite(n) ? n : undefined;
}

/** Sets desired-replicas / max-replicas on a copy of the RS's annotations; returns whether they changed. */
export function setReplicasAnnotations(rs: ReplicaSet, desired: number, max: number): boolean {
  rs.metadata.annotations ??= {};
  const ann = rs.metadata.annotations;
  let changed = false;
  if (ann[DESIRED_REPLICAS_ANNOTATION] !== String(desired)) {
    ann[DESIRED_REPLICAS_ANNOTATION] = String(desired);
    changed = true;
  }
  if (ann[MAX_REPLICAS_ANNOTATION] !== String(max)) {
    ann[MAX_REPLICAS_ANNOTATION] = String(max);
    changed = true;
  }
  return changed;
}

/**
 * Brings the new ReplicaSet's annotations up to date (mutates `rs`, a copy): the deployment's
 * own annotations, the revision (raised to `newRevision`, the old one appended to the history),
 * and the replicas annotations. Returns whether anything changed.
 */
export function setNewRSAnnotations(d: Deployment, rs: ReplicaSet, newRevision: number): boolean {
  rs.metadata.annotations ??= {};
  const ann = rs.metadata.annotations;
  let changed = false;
  for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) {
    if (NOT_COPIED.has(k)) continue;
    if (ann[k] !== v) {
      ann[k] = v;
      changed = true;
    }
  }
  const old = ann[REVISION_ANNOTATION];
  const oldN = old === undefined ? 0 : Number.parseInt(old, 10) || 0;
  if (oldN < newRevision) {
    ann[REVISION_ANNOTATION] = String(newRevision);
    if (old !== undefined && old !== "") {
      const hist = ann[REVISION_HISTORY_ANNOTATION];
      ann[REVISION_HISTORY_ANNOTATION] = hist ? `${hist},${old}` : old;
    }
    changed = true;
  }
  if (setReplicasAnnotations(rs, replicasOf(d), replicasOf(d) + maxSurgeOf(d))) changed = true;
  return changed;
}

/** The ReplicaSet to create for the deployment's current template. */
export function newReplicaSetFor(
  d: Deployment,
  hash: string,
  revision: number,
  replicas: number,
): ReplicaSet {
  const template = structuredClone(d.spec.template ?? {});
  template.metadata ??= {};
  template.metadata.labels = { ...(template.metadata.labels ?? {}), [HASH_LABEL]: hash };
  const selector = structuredClone(d.spec.selector ?? {});
  selector.matchLabels = { ...(selector.matchLabels ?? {}), [HASH_LABEL]: hash };
  const rs: ReplicaSet = {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: {
      name: `${d.metadata.name}-${hash}`,
      namespace: d.metadata.namespace,
      labels: { ...template.metadata.labels },
      ownerReferences: [newControllerRef(d, "apps/v1", "Deployment")],
    },
    spec: {
      replicas,
      minReadySeconds: d.spec.minReadySeconds ?? 0,
      selector,
      template,
    },
  };
  setNewRSAnnotations(d, rs, revision);
  return rs;
}

/** The oldest ReplicaSet whose template is the deployment's (ignoring the hash label). */
export function findNewReplicaSet(d: Deployment, rss: readonly ReplicaSet[]): ReplicaSet | undefined {
  return [...rss]
    .sort(byCreation)
    .find((rs) => templatesEqualIgnoringHash(rs.spec.template, d.spec.template));
}

/** An active RS has desired replicas > 0. */
export function activeReplicaSets(rss: readonly ReplicaSet[]): ReplicaSet[] {
  return rss.filter((rs) => rsReplicas(rs) > 0);
}

/** Whether spec.replicas changed since the active ReplicaSets were last sized (a scaling event). */
export function isScalingEvent(d: Deployment, rss: readonly ReplicaSet[]): boolean {
  for (const rs of activeReplicaSets(rss)) {
    const desired = intAnnotation(rs, DESIRED_REPLICAS_ANNOTATION);
    if (desired !== undefined && desired !== replicasOf(d)) return true;
  }
  return false;
}

// ---------------------------------------------------------------- scaling (paused / scale events)

/**
 * Sizes for a scaling event (spec.replicas changed, or a paused deployment): one active RS takes
 * spec.replicas; a saturated new RS leaves the old ones at 0; otherwise a rolling deployment
 * spreads the difference proportionally to each RS's share (bigger RSs first on the way up,
 * older ones first on the way down), the remainder to the first.
 */
export function planScale(
  d: Deployment,
  newRS: ReplicaSet | undefined,
  oldRSs: readonly ReplicaSet[],
): ScaleStep[] {
  const replicas = replicasOf(d);
  const all = newRS ? [newRS, ...oldRSs] : [...oldRSs];
  const active = activeReplicaSets(all);
  let single: ReplicaSet | undefined;
  if (active.length === 0) single = newRS ?? [...oldRSs].sort(byCreation).at(-1);
  else if (active.length === 1) single = active[0];
  if (active.length <= 1) {
    return single && rsReplicas(single) !== replicas ? [{ rs: single, replicas }] : [];
  }
  if (
    newRS &&
    rsReplicas(newRS) === replicas &&
    intAnnotation(newRS, DESIRED_REPLICAS_ANNOTATION) === replicas &&
    (newRS.status?.availableReplicas ?? 0) === replicas
  ) {
    return oldRSs.filter((rs) => rsReplicas(rs) !== 0).map((rs) => ({ rs, replicas: 0 }));
  }
  if (!isRollingUpdate(d)) return [];
  const maxSurge = maxSurgeOf(d);
  const current = active.reduce((n, rs) => n + rsReplicas(rs), 0);
  const allowed = replicas > 0 ? replicas + maxSurge : 0;
  const toAdd = allowed - current;
  if (toAdd === 0) return [];
  const newest = (a: ReplicaSet, b: ReplicaSet) => -byCreation(a, b);
  const ordered = [...active].sort((a, b) =>
    toAdd > 0
      ? rsReplicas(b) - rsReplicas(a) || newest(a, b)
      : rsReplicas(b) - rsReplicas(a) || byCreation(a, b),
  );
  const maxReplicas = replicas + maxSurge;
  let added = 0;
  const sizes = new Map<ReplicaSet, number>();
  for (const rs of ordered) {
    let share = 0;
    if (added !== toAdd) {
      let fraction: number;
      if (replicas === 0) fraction = -rsReplicas(rs);
      else {
        const annotated = intAnnotation(rs, MAX_REPLICAS_ANNOTATION) ?? d.status?.replicas ?? current;
        fraction =
          annotated > 0 ? Math.round((rsReplicas(rs) * maxReplicas) / annotated) - rsReplicas(rs) : 0;
      }
      share = toAdd > 0 ? Math.min(fraction, toAdd - added) : Math.max(fraction, toAdd - added);
      if (toAdd > 0) share = Math.max(0, share);
      else share = Math.min(0, share);
    }
    sizes.set(rs, rsReplicas(rs) + share);
    added += share;
  }
  if (added !== toAdd && ordered.length) {
    const first = ordered[0]!;
    sizes.set(first, Math.max(0, sizes.get(first)! + toAdd - added));
  }
  return ordered
    .filter((rs) => sizes.get(rs) !== rsReplicas(rs))
    .map((rs) => ({ rs, replicas: Math.max(0, sizes.get(rs)!) }));
}

// ---------------------------------------------------------------- history

/** Old ReplicaSets beyond revisionHistoryLimit that can go: empty, settled, not being deleted; oldest revision first. */
export function historyToDelete(d: Deployment, oldRSs: readonly ReplicaSet[]): ReplicaSet[] {
  const limit = d.spec.revisionHistoryLimit;
  if (limit === undefined || limit === null) return [];
  const alive = oldRSs.filter((rs) => !rs.metadata.deletionTimestamp);
  const excess = alive.length - limit;
  if (excess <= 0) return [];
  const sorted = [...alive].sort((a, b) => revisionOf(a) - revisionOf(b) || byCreation(a, b));
  const out: ReplicaSet[] = [];
  for (const rs of sorted.slice(0, excess)) {
    if ((rs.status?.replicas ?? 0) !== 0 || rsReplicas(rs) !== 0) continue;
    if ((rs.metadata.generation ?? 0) > (rs.status?.observedGeneration ?? 0)) continue;
    out.push(rs);
  }
  return out;
}

// ---------------------------------------------------------------- status and conditions

export const AVAILABLE = "Available";
export const PROGRESSING = "Progressing";
export const REPLICA_FAILURE = "ReplicaFailure";

export function getCondition(
  status: DeploymentStatus | undefined,
  type: string,
): DeploymentCondition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

/**
 * Sets a condition (returns a new list): unchanged when status and reason are the same; keeps
 * lastTransitionTime when only the reason changes.
 */
export function setCondition(
  conds: readonly DeploymentCondition[] | undefined,
  c: DeploymentCondition,
): DeploymentCondition[] {
  const list = [...(conds ?? [])];
  const i = list.findIndex((x) => x.type === c.type);
  const cur = i >= 0 ? list[i] : undefined;
  if (cur && cur.status === c.status && cur.reason === c.reason) return list;
  const next = cur && cur.status === c.status ? { ...c, lastTransitionTime: cur.lastTransitionTime } : c;
  if (i >= 0) list.splice(i, 1);
  list.push(next);
  return list;
}

export function removeCondition(
  conds: readonly DeploymentCondition[] | undefined,
  type: string,
): DeploymentCondition[] {
  return (conds ?? []).filter((c) => c.type !== type);
}

export function condition(
  type: string,
  status: string,
  reason: string,
  message: string,
  nowMs: number,
): DeploymentCondition {
  const t = rfc3339(nowMs);
  return { type, status, lastUpdateTime: t, lastTransitionTime: t, reason, message };
}

/** Counts from the ReplicaSets, and the Available condition. */
export function calculateStatus(
  d: Deployment,
  allRSs: readonly ReplicaSet[],
  newRS: ReplicaSet | undefined,
  nowMs: number,
): DeploymentStatus {
  let available = 0;
  let desiredTotal = 0;
  let actual = 0;
  let ready = 0;
  for (const rs of allRSs) {
    available += rs.status?.availableReplicas ?? 0;
    desiredTotal += rsReplicas(rs);
    actual += rs.status?.replicas ?? 0;
    ready += rs.status?.readyReplicas ?? 0;
  }
  const status: DeploymentStatus = {
    observedGeneration: d.metadata.generation,
    replicas: actual,
    updatedReplicas: newRS?.status?.replicas ?? 0,
    readyReplicas: ready,
    availableReplicas: available,
    unavailableReplicas: Math.max(0, desiredTotal - available),
    conditions: [...(d.status?.conditions ?? [])],
  };
  if (d.status?.collisionCount !== undefined) status.collisionCount = d.status.collisionCount;
  const minAvailable = replicasOf(d) - maxUnavailableOf(d);
  status.conditions = setCondition(
    status.conditions,
    available >= minAvailable
      ? condition(
          AVAILABLE,
          "True",
          "MinimumReplicasAvailable",
          "Deployment has minimum availability.",
          nowMs,
        )
      : condition(
          AVAILABLE,
          "False",
          "MinimumReplicasUnavailable",
          "Deployment does not have minimum availability.",
          nowMs,
        ),
  );
  return status;
}

/** All pods are updated and available, none old, and the latest spec has been observed. */
export function isDeploymentComplete(d: Deployment, s: DeploymentStatus): boolean {
  const replicas = replicasOf(d);
  return (
    (s.updatedReplicas ?? 0) === replicas &&
    (s.replicas ?? 0) === replicas &&
    (s.availableReplicas ?? 0) === replicas &&
    (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0)
  );
}

/** Some progress since the recorded status: more updated, ready or available pods, or fewer old ones. */
export function isProgressing(d: Deployment, s: DeploymentStatus): boolean {
  const o = d.status ?? {};
  const oldOld = (o.replicas ?? 0) - (o.updatedReplicas ?? 0);
  const newOld = (s.replicas ?? 0) - (s.updatedReplicas ?? 0);
  return (
    (s.updatedReplicas ?? 0) > (o.updatedReplicas ?? 0) ||
    newOld < oldOld ||
    (s.readyReplicas ?? 0) > (o.readyReplicas ?? 0) ||
    (s.availableReplicas ?? 0) > (o.availableReplicas ?? 0)
  );
}

export function hasProgressDeadline(d: Deployment): boolean {
  const p = d.spec.progressDeadlineSeconds;
  return p !== undefined && p !== null && p !== 2147483647;
}

/** The Progressing condition says the rollout has made no progress for progressDeadlineSeconds. */
export function isTimedOut(d: Deployment, s: DeploymentStatus, nowMs: number): boolean {
  if (!hasProgressDeadline(d)) return false;
  const c = getCondition(s, PROGRESSING);
  if (!c) return false;
  if (c.reason === "NewReplicaSetAvailable") return false;
  if (c.reason === "ProgressDeadlineExceeded") return true;
  const from = Date.parse(c.lastUpdateTime ?? "");
  if (Number.isNaN(from)) return false;
  return from + d.spec.progressDeadlineSeconds! * 1000 < nowMs;
}

/**
 * The rollout status: calculateStatus plus the Progressing condition (complete, progressing, or
 * past its deadline), and when to look again for a deadline still ahead.
 */
export function rolloutStatus(
  d: Deployment,
  allRSs: readonly ReplicaSet[],
  newRS: ReplicaSet | undefined,
  nowMs: number,
): { status: DeploymentStatus; requeueAfterMs?: number } {
  const status = calculateStatus(d, allRSs, newRS, nowMs);
  if (!hasProgressDeadline(d)) {
    status.conditions = removeCondition(status.conditions, PROGRESSING);
  }
  const cur = getCondition(status, PROGRESSING);
  const complete = isDeploymentComplete(d, status);
  // a finished rollout that only scaled since keeps its NewReplicaSetAvailable as it is
  const settled =
    (status.replicas ?? 0) === (status.updatedReplicas ?? 0) && cur?.reason === "NewReplicaSetAvailable";
  if (hasProgressDeadline(d) && !d.spec.paused && !settled) {
    const rsName = newRS?.metadata.name ?? "";
    if (complete) {
      status.conditions = setCondition(
        status.conditions,
        condition(
          PROGRESSING,
          "True",
          "NewReplicaSetAvailable",
          `ReplicaSet "${rsName}" has successfully progressed.`,
          nowMs,
        ),
      );
    } else if (isProgressing(d, status)) {
      const c = condition(
        PROGRESSING,
        "True",
        "ReplicaSetUpdated",
        `ReplicaSet "${rsName}" is progressing.`,
        nowMs,
      );
      if (cur?.status === "True" && cur.lastTransitionTime) c.lastTransitionTime = cur.lastTransitionTime;
      status.conditions = [...removeCondition(status.conditions, PROGRESSING), c];
    } else if (isTimedOut(d, status, nowMs)) {
      status.conditions = setCondition(
        status.conditions,
        condition(
          PROGRESSING,
          "False",
          "ProgressDeadlineExceeded",
          `ReplicaSet "${rsName}" has timed out progressing.`,
          nowMs,
        ),
      );
    }
  }
  // surface (or clear) a ReplicaFailure reported by any of the ReplicaSets
  const failure = allRSs
    .map((rs) => rs.status?.conditions?.find((c) => c.type === REPLICA_FAILURE))
    .find(Boolean);
  if (failure) {
    status.conditions = setCondition(status.conditions, {
      type: REPLICA_FAILURE,
      status: failure.status,
      lastUpdateTime: rfc3339(nowMs),
      lastTransitionTime: failure.lastTransitionTime ?? rfc3339(nowMs),
      reason: failure.reason,
      message: failure.message,
    });
  } else status.conditions = removeCondition(status.conditions, REPLICA_FAILURE);

  let requeueAfterMs: number | undefined;
  const after = getCondition(status, PROGRESSING);
  if (
    hasProgressDeadline(d) &&
    !d.spec.paused &&
    after &&
    !complete &&
    after.reason !== "ProgressDeadlineExceeded"
  ) {
    const from = Date.parse(after.lastUpdateTime ?? "");
    if (!Number.isNaN(from)) {
      requeueAfterMs = Math.max(0, from + d.spec.progressDeadlineSeconds! * 1000 - nowMs) + 1000;
    }
  }
  return { status, requeueAfterMs };
}

/** The Progressing condition for pausing/resuming, or undefined when nothing changes. */
export function pausedCondition(d: Deployment, nowMs: number): DeploymentCondition[] | undefined {
  if (!hasProgressDeadline(d)) return undefined;
  const cur = getCondition(d.status, PROGRESSING);
  const pausedNoted = cur?.reason === "DeploymentPaused";
  if (d.spec.paused && !pausedNoted) {
    return setCondition(
      d.status?.conditions,
      condition(PROGRESSING, "Unknown", "DeploymentPaused", "Deployment is paused", nowMs),
    );
  }
  if (!d.spec.paused && pausedNoted) {
    return setCondition(
      d.status?.conditions,
      condition(PROGRESSING, "Unknown", "DeploymentResumed", "Deployment is resumed", nowMs),
    );
  }
  return undefined;
}

/** Status equality that ignores condition timestamps only when nothing else changed in them. */
export function sameDeploymentStatus(a: DeploymentStatus | undefined, b: DeploymentStatus): boolean {
  return canonicalJson(a ?? {}) === canonicalJson(b);
}
