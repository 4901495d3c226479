/**
 * Pure decisions of the node lifecycle controller: when a node counts as silent, what its
 * conditions and taints should become, which pods lose readiness, and when a pod on a
 * NoExecute-tainted node is evicted. Times are epoch milliseconds; nothing here does I/O.
 */

export const TAINT_UNREACHABLE = "node.kubernetes.io/unreachable";
export const TAINT_NOT_READY = "node.kubernetes.io/not-ready";

export interface Taint {
  key: string;
  value?: string;
  effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute" | string;
  timeAdded?: string;
}

export interface Toleration {
  key?: string;
  operator?: "Exists" | "Equal" | string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number | null;
}

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
  lastProbeTime?: string | null;
  [k: string]: unknown;
}

/** the conditions a silent node's kubelet would report, set to Unknown */
export const MONITORED_CONDITIONS = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"] as const;

/** Kubernetes time without fractional seconds */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

// ---------------------------------------------------------------- health probes

/**
 * What the controller remembers about a node's heartbeat: the last heartbeat value seen
 * (lease renewTime, or the Ready condition's lastHeartbeatTime when there is no lease) and
 * the local time it was first seen. Using the local observation time, not the timestamp
 * itself, keeps clock skew between kubelet and controller out of the decision.
 */
export interface Probe {
  heartbeat: string;
  observedAt: number;
}

/** The probe after looking at the node again: unchanged heartbeat keeps the old observation time. */
export function updateProbe(prev: Probe | undefined, heartbeat: string, now: number): Probe {
  if (prev && prev.heartbeat === heartbeat) return prev;
  return { heartbeat, observedAt: now };
}

/** The heartbeat to watch: the Lease's renewTime if there is a Lease, else Ready's lastHeartbeatTime. */
export function heartbeatOf(
  lease: { spec?: { renewTime?: string | null } } | undefined,
  conditions: readonly Condition[] | undefined,
): string {
  const renew = lease?.spec?.renewTime;
  if (lease) return `lease:${renew ?? ""}`;
  const ready = conditions?.find((c) => c.type === "Ready");
  return `ready:${ready?.lastHeartbeatTime ?? ""}`;
}

export function isSilent(probe: Probe, now: number, gracePeriodMs: number): boolean {
  return now - probe.observedAt > gracePeriodMs;
}

// ---------------------------------------------------------------- conditions

/**
 * The node's conditions after it went silent: every monitored condition Unknown with reason
 * NodeStatusUnknown ("Kubelet stopped posting node status."), or NodeStatusNeverUpdated when the
 * kubelet never posted it. Returns undefined when nothing changes.
 */
export function silentConditions(
  conditions: readonly Condition[] | undefined,
  now: number,
): Condition[] | undefined {
  const out = (conditions ?? []).map((c) => ({ ...c }));
  let changed = false;
  const ts = rfc3339(now);
  for (const type of MONITORED_CONDITIONS) {
    const c = out.find((x) => x.type === type);
    if (!c) {
      out.push({
        type,
        status: "Unknown",
        reason: "NodeStatusNeverUpdated",
        message: "Kubelet never posted node status.",
        lastHeartbeatTime: ts,
        lastTransitionTime: ts,
      });
      changed = true;
    } else if (c.status !== "Unknown") {
      c.status = "Unknown";
      c.reason = "NodeStatusUnknown";
      c.message = "Kubelet stopped posting node status.";
      c.lastTransitionTime = ts;
      changed = true;
    }
  }
  return changed ? out : undefined;
}

export function readyStatus(conditions: readonly Condition[] | undefined): "True" | "False" | "Unknown" {
  const s = conditions?.find((c) => c.type === "Ready")?.status;
  return s === "True" || s === "False" ? s : "Unknown";
}

// ---------------------------------------------------------------- taints

/** The NoSchedule+NoExecute taint key that goes with a Ready status (none when Ready). */
export function taintKeyFor(ready: "True" | "False" | "Unknown"): string | undefined {
  if (ready === "True") return undefined;
  return ready === "False" ? TAINT_NOT_READY : TAINT_UNREACHABLE;
}

/**
 * The node's taints with the lifecycle taints made to match its Ready status: for Unknown
 * unreachable:NoSchedule and unreachable:NoExecute, for False not-ready:*, for True neither.
 * Other taints stay as they are; existing matching taints keep their timeAdded.
 * Returns undefined when nothing changes.
 */
export function reconcileTaints(
  taints: readonly Taint[] | undefined,
  ready: "True" | "False" | "Unknown",
  now: number,
): Taint[] | undefined {
  const current = taints ?? [];
  const want = taintKeyFor(ready);
  const managed = new Set([TAINT_UNREACHABLE, TAINT_NOT_READY]);
  const isManaged = (t: Taint) =>
    managed.has(t.key) && (t.effect === "NoSchedule" || t.effect === "NoExecute");
  const out = current.filter((t) => !isManaged(t) || t.key === want);
  if (want) {
    for (const effect of ["NoSchedule", "NoExecute"]) {
      if (!out.some((t) => t.key === want && t.effect === effect)) {
        out.push({ key: want, effect, timeAdded: rfc3339(now) });
      }
    }
  }
  const same =
    out.length === current.length &&
    out.every((t) => current.some((c) => c.key === t.key && c.effect === t.effect));
  return same ? undefined : out;
}

// ---------------------------------------------------------------- pods

/** The pod's conditions with Ready and ContainersReady False; undefined when already so. */
export function podNotReadyConditions(
  conditions: readonly Condition[] | undefined,
  now: number,
): Condition[] | undefined {
  const out = (conditions ?? []).map((c) => ({ ...c }));
  let changed = false;
  const ts = rfc3339(now);
  for (const type of ["Ready", "ContainersReady"]) {
    const c = out.find((x) => x.type === type);
    if (!c) {
      if (type !== "Ready") continue;
      out.push({
        type,
        status: "False",
        reason: "NodeNotReady",
        lastProbeTime: null,
        lastTransitionTime: ts,
      });
      changed = true;
    } else if (c.status !== "False") {
      c.status = "False";
      c.reason = "NodeNotReady";
      c.message = undefined;
      delete c.message;
      c.lastTransitionTime = ts;
      changed = true;
    }
  }
  return changed ? out : undefined;
}

/** Whether a toleration tolerates a taint (the usual key/operator/value/effect rules). */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  const op = t.operator || "Equal";
  if (op === "Exists") return true;
  if (op !== "Equal") return false;
  // an empty key with Equal only makes sense with Exists; an empty key matches nothing here
  if (!t.key) return false;
  return (t.value ?? "") === (taint.value ?? "");
}

/**
 * When a pod on a node with these taints must be evicted, in epoch ms: `0` at once (an untolerated
 * NoExecute taint), `Infinity` never (no NoExecute taint, or tolerated forever). For each NoExecute
 * taint the shortest tolerationSeconds of the tolerations matching it counts from
 * `taintStart(taint)` (the controller passes when it first saw the taint, as upstream's taint manager
 * counts from its own observation; timeAdded has only whole seconds); the pod goes at the earliest
 * such deadline.
 */
export function evictionTime(
  taints: readonly Taint[] | undefined,
  tolerations: readonly Toleration[] | undefined,
  taintStart: (taint: Taint) => number,
): number {
  let at = Number.POSITIVE_INFINITY;
  for (const taint of taints ?? []) {
    if (taint.effect !== "NoExecute") continue;
    const matching = (tolerations ?? []).filter((t) => tolerates(t, taint));
    if (matching.length === 0) return 0;
    let seconds = Number.POSITIVE_INFINITY;
    for (const t of matching) {
      if (typeof t.tolerationSeconds === "number")
        seconds = Math.min(seconds, Math.max(0, t.tolerationSeconds));
    }
    if (seconds === Number.POSITIVE_INFINITY) continue;
    at = Math.min(at, taintStart(taint) + seconds * 1000);
  }
  return at;
}
