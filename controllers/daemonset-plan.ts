/**
 * The DaemonSet controller's pure decisions: which nodes should run a daemon pod (nodeName,
 * nodeSelector, required node affinity, taints against tolerations including the automatic
 * daemon tolerations), the pod to create for a node, the template hash, which pods to create and
 * delete (including a RollingUpdate within maxUnavailable), and the status counts.
 */
import type { KubeObject, OwnerReference } from "../api/object.js";
import { stableStringify } from "./endpointslice-pods.js";

export const REVISION_HASH_LABEL = "controller-revision-hash";
export const TEMPLATE_GENERATION_LABEL = "pod-template-generation";

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

export interface NodeSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}

export interface PodSpecLike {
  nodeName?: string;
  nodeSelector?: Record<string, string>;
  hostNetwork?: boolean;
  tolerations?: Toleration[];
  affinity?: {
    nodeAffinity?: {
      requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: NodeSelectorTerm[] };
      [key: string]: unknown;
    };
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface DaemonPod extends KubeObject {
  spec?: PodSpecLike;
  status?: {
    phase?: string;
    conditions?: { type: string; status: string; lastTransitionTime?: string }[];
    [key: string]: unknown;
  };
}

export interface DaemonNode extends KubeObject {
  spec?: { taints?: Taint[]; unschedulable?: boolean; [key: string]: unknown };
}

export interface DaemonSet extends KubeObject {
  spec?: {
    selector?: { matchLabels?: Record<string, string>; matchExpressions?: NodeSelectorRequirement[] };
    template?: {
      metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
      spec?: PodSpecLike;
    };
    updateStrategy?: {
      type?: string;
      rollingUpdate?: { maxUnavailable?: number | string; maxSurge?: number | string };
    };
    minReadySeconds?: number;
    [key: string]: unknown;
  };
  status?: DaemonSetStatus;
}

export interface DaemonSetStatus {
  currentNumberScheduled: number;
  numberMisscheduled: number;
  desiredNumberScheduled: number;
  numberReady: number;
  observedGeneration?: number;
  updatedNumberScheduled: number;
  numberAvailable: number;
  numberUnavailable: number;
  [key: string]: unknown;
}

// ------------------------------------------------------------------ tolerations and taints

/** The tolerations every daemon pod gets so it runs through node conditions that evict or block others. */
export function automaticTolerations(hostNetwork: boolean): Toleration[] {
  const t: Toleration[] = [
    { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute" },
    { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute" },
    { key: "node.kubernetes.io/disk-pressure", operator: "Exists", effect: "NoSchedule" },
    { key: "node.kubernetes.io/memory-pressure", operator: "Exists", effect: "NoSchedule" },
    { key: "node.kubernetes.io/pid-pressure", operator: "Exists", effect: "NoSchedule" },
    { key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" },
  ];
  if (hostNetwork)
    t.push({ key: "node.kubernetes.io/network-unavailable", operator: "Exists", effect: "NoSchedule" });
  return t;
}

/** The pod's tolerations plus the automatic ones it does not already have (same key, operator, effect). */
export function withDaemonTolerations(
  tolerations: readonly Toleration[] | undefined,
  hostNetwork: boolean,
): Toleration[] {
  const out = [...(tolerations ?? [])];
  for (const a of automaticTolerations(hostNetwork)) {
    const has = out.some(
      (t) =>
        (t.key ?? "") === a.key &&
        (t.operator ?? "Equal") === a.operator &&
        (t.effect ?? "") === a.effect &&
        t.tolerationSeconds === undefined,
    );
    if (!has) out.push(a);
  }
  return out;
}

/** Whether one toleration tolerates a taint (empty effect: all effects; empty key with Exists: all keys). */
export function toleratesTaint(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  const op = t.operator || "Equal";
  if (!t.key) return op === "Exists";
  if (t.key !== taint.key) return false;
  if (op === "Exists") return true;
  return (t.value ?? "") === (taint.value ?? "");
}

export function taintTolerated(tolerations: readonly Toleration[], taint: Taint): boolean {
  return tolerations.some((t) => toleratesTaint(t, taint));
}

// ------------------------------------------------------------------ node affinity

function requirementMatches(r: NodeSelectorRequirement, value: string | undefined): boolean {
  const values = r.values ?? [];
  switch (r.operator) {
    case "In":
      return value !== undefined && values.includes(value);
    case "NotIn":
      return value === undefined || !values.includes(value);
    case "Exists":
      return value !== undefined;
    case "DoesNotExist":
      return value === undefined;
    case "Gt":
    case "Lt": {
      if (value === undefined || !/^-?[0-9]+$/.test(value) || !/^-?[0-9]+$/.test(values[0] ?? ""))
        return false;
      const a = BigInt(value);
      const b = BigInt(values[0]!);
      return r.operator === "Gt" ? a > b : a < b;
    }
    default:
      return false;
  }
}

/** One term: every expression on labels and every field requirement (metadata.name) holds; an empty term matches nothing. */
export function nodeMatchesTerm(node: KubeObject, term: NodeSelectorTerm): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  const labels = node.metadata.labels ?? {};
  for (const e of exprs)
    if (!requirementMatches(e, Object.hasOwn(labels, e.key) ? labels[e.key] : undefined)) return false;
  for (const f of fields) {
    const v = f.key === "metadata.name" ? node.metadata.name : undefined;
    if (!requirementMatches(f, v)) return false;
  }
  return true;
}

/** nodeSelector (all labels equal) and required node affinity (any term matches). */
export function nodeMatchesPodNodeConstraints(node: KubeObject, spec: PodSpecLike): boolean {
  const labels = node.metadata.labels ?? {};
  for (const [k, v] of Object.entries(spec.nodeSelector ?? {})) if (labels[k] !== v) return false;
  const terms =
    spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (terms && !terms.some((t) => nodeMatchesTerm(node, t))) return false;
  return true;
}

export interface NodeDecision {
  /** a daemon pod should be created here if there is none */
  shouldRun: boolean;
  /** an existing daemon pod may stay */
  shouldContinueRunning: boolean;
  /** why not, for logs */
  reason?: string;
}

/**
 * Whether a daemon pod with this spec belongs on the node. Untolerated NoSchedule taints stop new
 * pods but leave running ones; untolerated NoExecute taints stop both. The automatic daemon
 * tolerations count.
 */
export function nodeShouldRunDaemonPod(node: DaemonNode, spec: PodSpecLike): NodeDecision {
  if (spec.nodeName && spec.nodeName !== node.metadata.name) {
    return { shouldRun: false, shouldContinueRunning: false, reason: "nodeName" };
  }
  if (!nodeMatchesPodNodeConstraints(node, spec)) {
    return { shouldRun: false, shouldContinueRunning: false, reason: "node(s) didn't match node selector" };
  }
  const tolerations = withDaemonTolerations(spec.tolerations, spec.hostNetwork === true);
  let shouldRun = true;
  let shouldContinueRunning = true;
  let reason: string | undefined;
  for (const taint of node.spec?.taints ?? []) {
    if (taint.effect !== "NoSchedule" && taint.effect !== "NoExecute") continue;
    if (taintTolerated(tolerations, taint)) continue;
    shouldRun = false;
    reason = `untolerated taint {${taint.key}: ${taint.value ?? ""}}`;
    if (taint.effect === "NoExecute") shouldContinueRunning = false;
  }
  return { shouldRun, shouldContinueRunning, reason };
}

// ------------------------------------------------------------------ template hash and new pods

const SAFE = "bcdfghjklmnpqrstvwxz2456789";

/** FNV-1a (32 bit) of the template's canonical JSON, spelt in an alphabet without vowels (like upstream's hashes). */
export function templateHash(template: unknown): string {
  let h = 0x811c9dc5;
  const s = stableStringify(template ?? {});
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  let out = "";
  let n = h;
  do {
    out = SAFE[n % SAFE.length] + out;
    n = Math.floor(n / SAFE.length);
  } while (n > 0);
  return out;
}

export function daemonSetOwnerReference(ds: DaemonSet): OwnerReference {
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    name: ds.metadata.name ?? "",
    uid: ds.metadata.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
}

/**
 * The pod for one node: the template with the revision-hash label, the automatic tolerations,
 * a required node affinity on metadata.name (replacing the template's, which this node already
 * satisfies) and spec.nodeName set, owned by the DaemonSet.
 */
export function newDaemonPod(ds: DaemonSet, nodeName: string, hash: string): DaemonPod {
  const tpl = ds.spec?.template ?? {};
  const spec: PodSpecLike = structuredClone(tpl.spec ?? {});
  spec.tolerations = withDaemonTolerations(spec.tolerations, spec.hostNetwork === true);
  const affinity = spec.affinity ?? {};
  affinity.nodeAffinity = {
    ...(affinity.nodeAffinity ?? {}),
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [nodeName] }] }],
    },
  };
  spec.affinity = affinity;
  spec.nodeName = nodeName;
  const labels: Record<string, string> = { ...(tpl.metadata?.labels ?? {}), [REVISION_HASH_LABEL]: hash };
  if (ds.metadata.generation !== undefined)
    labels[TEMPLATE_GENERATION_LABEL] = String(ds.metadata.generation);
  const base = (ds.metadata.name ?? "ds").slice(0, 57);
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      generateName: `${base}-`,
      namespace: ds.metadata.namespace,
      labels,
      ...(tpl.metadata?.annotations ? { annotations: { ...tpl.metadata.annotations } } : {}),
      ownerReferences: [daemonSetOwnerReference(ds)],
    },
    spec,
  };
}

/** The node a daemon pod is for: spec.nodeName, else its metadata.name affinity. */
export function daemonPodNodeName(pod: DaemonPod): string | undefined {
  if (pod.spec?.nodeName) return pod.spec.nodeName;
  for (const t of pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
    ?.nodeSelectorTerms ?? []) {
    for (const f of t.matchFields ?? []) {
      if (f.key === "metadata.name" && f.operator === "In" && f.values?.length === 1) return f.values[0];
    }
  }
  return undefined;
}

// ------------------------------------------------------------------ readiness

function readyCondition(pod: DaemonPod) {
  return pod.status?.conditions?.find((c) => c.type === "Ready");
}

export function isDaemonPodReady(pod: DaemonPod): boolean {
  return readyCondition(pod)?.status === "True";
}

/** ms until the pod counts as available (0: available now; Infinity: not ready). */
export function msUntilAvailable(pod: DaemonPod, minReadySeconds: number, now: number): number {
  const c = readyCondition(pod);
  if (c?.status !== "True") return Number.POSITIVE_INFINITY;
  if (!minReadySeconds) return 0;
  const since = c.lastTransitionTime ? Date.parse(c.lastTransitionTime) : Number.NaN;
  if (!Number.isFinite(since)) return 0;
  return Math.max(0, since + minReadySeconds * 1000 - now);
}

// ------------------------------------------------------------------ the plan

/** An int-or-percent of a total; percentages round up (DaemonSet maxUnavailable semantics). */
export function scaledValue(v: number | string | undefined, total: number, fallback: number): number {
  if (v === undefined || v === null) return fallback;
  if (typeof v === "number") return Math.max(0, Math.floor(v));
  const m = /^([0-9]+)%$/.exec(v);
  if (m) return Math.ceil((Number.parseInt(m[1]!, 10) * total) / 100);
  const n = Number.parseInt(v, 10);
  return Number.isFinite(n) ? Math.max(0, n) : fallback;
}

export interface DaemonSetPlan {
  /** nodes that need a new pod */
  create: string[];
  /** pods to delete (with why) */
  delete: { pod: DaemonPod; reason: string }[];
  status: DaemonSetStatus;
  /** re-check after this many ms (a pod becoming available after minReadySeconds); undefined: no need */
  requeueAfterMs?: number;
  hash: string;
}

function podHash(pod: DaemonPod): string | undefined {
  return pod.metadata.labels?.[REVISION_HASH_LABEL];
}

function byAge(a: DaemonPod, b: DaemonPod): number {
  const ta = a.metadata.creationTimestamp ?? "";
  const tb = b.metadata.creationTimestamp ?? "";
  return ta < tb ? -1 : ta > tb ? 1 : (a.metadata.name ?? "").localeCompare(b.metadata.name ?? "");
}

/**
 * Everything the controller should do for a DaemonSet, from its nodes and its own pods:
 * - a node that should run a pod and has none (not even a terminating one) gets one;
 * - a node where pods may stay keeps one (failed pods and extra pods are deleted; the updated
 *   pod is kept over old ones, then the oldest);
 * - pods on nodes where they may not stay, or on nodes that no longer exist, are deleted;
 * - RollingUpdate: old-hash pods that are unavailable are replaced at once; available ones are
 *   deleted on at most maxUnavailable minus already-unavailable nodes (new pods follow once gone).
 */
export function planDaemonSet(
  ds: DaemonSet,
  nodes: readonly DaemonNode[],
  pods: readonly DaemonPod[],
  now: number,
): DaemonSetPlan {
  const hash = templateHash(ds.spec?.template);
  const spec = ds.spec?.template?.spec ?? {};
  const minReady = ds.spec?.minReadySeconds ?? 0;
  const byNode = new Map<string, DaemonPod[]>();
  const orphans: DaemonPod[] = [];
  for (const p of pods) {
    const n = daemonPodNodeName(p);
    if (!n) {
      orphans.push(p);
      continue;
    }
    const list = byNode.get(n) ?? [];
    list.push(p);
    byNode.set(n, list);
  }
  const plan: DaemonSetPlan = {
    create: [],
    delete: [],
    hash,
    status: {
      currentNumberScheduled: 0,
      numberMisscheduled: 0,
      desiredNumberScheduled: 0,
      numberReady: 0,
      observedGeneration: ds.metadata.generation,
      updatedNumberScheduled: 0,
      numberAvailable: 0,
      numberUnavailable: 0,
    },
  };
  let requeue = Number.POSITIVE_INFINITY;
  const deleted = new Set<DaemonPod>();
  const del = (pod: DaemonPod, reason: string) => {
    if (deleted.has(pod) || pod.metadata.deletionTimestamp) return;
    deleted.add(pod);
    plan.delete.push({ pod, reason });
  };
  /** nodes that should run a pod, with their live (not terminating, not being deleted now) pods */
  const desiredNodes: { name: string; live: DaemonPod[]; terminating: boolean }[] = [];
  const known = new Set<string>();
  let missing = 0;

  for (const node of [...nodes].sort((a, b) =>
    (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""),
  )) {
    const name = node.metadata.name ?? "";
    known.add(name);
    const d = nodeShouldRunDaemonPod(node, spec);
    const onNode = [...(byNode.get(name) ?? [])].sort(byAge);
    const exists = onNode.length > 0;
    if (d.shouldRun) plan.status.desiredNumberScheduled++;
    if (exists) {
      if (d.shouldRun) plan.status.currentNumberScheduled++;
      else plan.status.numberMisscheduled++;
    }
    if (d.shouldRun && !exists) {
      missing++;
      plan.create.push(name);
    } else if (d.shouldContinueRunning) {
      const live: DaemonPod[] = [];
      for (const p of onNode) {
        if (p.metadata.deletionTimestamp) continue;
        if (p.status?.phase === "Failed") del(p, "failed");
        else live.push(p);
      }
      if (live.length > 1) {
        const keep = live.find((p) => podHash(p) === hash) ?? live[0]!;
        for (const p of live) if (p !== keep) del(p, "extra pod on node");
      }
    } else if (exists) {
      for (const p of onNode) del(p, d.reason ?? "node no longer eligible");
    }
    if (d.shouldRun && exists) {
      const live = onNode.filter((p) => !p.metadata.deletionTimestamp && !deleted.has(p));
      desiredNodes.push({ name, live, terminating: onNode.some((p) => p.metadata.deletionTimestamp) });
      // status reads the pod the node is going to keep
      const pod = live.find((p) => podHash(p) === hash) ?? live[0] ?? onNode[0]!;
      if (isDaemonPodReady(pod)) plan.status.numberReady++;
      const wait = msUntilAvailable(pod, minReady, now);
      if (wait === 0) plan.status.numberAvailable++;
      else if (Number.isFinite(wait)) requeue = Math.min(requeue, wait);
      if (podHash(pod) === hash) plan.status.updatedNumberScheduled++;
    }
  }
  for (const [n, list] of byNode) if (!known.has(n)) for (const p of list) del(p, "node no longer exists");
  for (const p of orphans) del(p, "pod has no node");
  plan.status.numberUnavailable = Math.max(
    0,
    plan.status.desiredNumberScheduled - plan.status.numberAvailable,
  );

  const strategy = ds.spec?.updateStrategy;
  if ((strategy?.type ?? "RollingUpdate") === "RollingUpdate") {
    const total = plan.status.desiredNumberScheduled;
    let maxUnavailable = scaledValue(strategy?.rollingUpdate?.maxUnavailable, total, 1);
    if (maxUnavailable === 0) maxUnavailable = 1;
    // nodes still waiting for their first pod are unavailable too
    let unavailable = missing;
    const candidates: DaemonPod[] = [];
    for (const n of desiredNodes) {
      if (n.live.length !== 1 || n.terminating) {
        unavailable++;
        continue;
      }
      const pod = n.live[0]!;
      const available = msUntilAvailable(pod, minReady, now) === 0;
      if (podHash(pod) === hash) {
        if (!available) unavailable++;
      } else if (!available) {
        unavailable++;
        del(pod, "rolling update (old pod unavailable)");
      } else {
        candidates.push(pod);
      }
    }
    const budget = Math.max(0, maxUnavailable - unavailable);
    for (const p of candidates.slice(0, budget)) del(p, "rolling update");
  }
  if (Number.isFinite(requeue)) plan.requeueAfterMs = Math.ceil(requeue) + 10;
  return plan;
}

/** Whether the stored status differs from the computed one in any field the controller owns. */
export function statusChanged(current: Partial<DaemonSetStatus> | undefined, next: DaemonSetStatus): boolean {
  const keys: (keyof DaemonSetStatus)[] = [
    "currentNumberScheduled",
    "numberMisscheduled",
    "desiredNumberScheduled",
    "numberReady",
    "observedGeneration",
    "updatedNumberScheduled",
    "numberAvailable",
    "numberUnavailable",
  ];
  return keys.some((k) => (current?.[k] ?? 0) !== (next[k] ?? 0));
}
