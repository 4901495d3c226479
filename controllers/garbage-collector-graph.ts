/**
 * Pure part of the garbage collector: the owner → dependents graph kept from informer events,
 * and the decisions taken for one object (delete it, drop some ownerReferences, release an owner's
 * foregroundDeletion/orphan finalizer). No I/O; the controller resolves owners it has not seen
 * with a live GET and carries out what is decided here.
 */
import type { KubeObject, OwnerReference } from "../api/object.js";
import { apiVersionOf, RESOURCES, type ResourceInfo } from "../api/resources.js";

export const FINALIZER_FOREGROUND = "foregroundDeletion";
export const FINALIZER_ORPHAN = "orphan";

/** The resources whose objects take part in garbage collection (events excluded: they expire). */
export function gcResources(resources: readonly ResourceInfo[] = RESOURCES): ResourceInfo[] {
  const seen = new Set<string>();
  const out: ResourceInfo[] = [];
  for (const r of resources) {
    if (r.storedAs) continue; // the same objects through another version
    if (r.resource === "events") continue;
    if (
      !["list", "watch", "delete", "patch"].every((v) => r.verbs.includes(v as ResourceInfo["verbs"][number]))
    )
      continue;
    if (seen.has(r.storagePrefix)) continue;
    seen.add(r.storagePrefix);
    out.push(r);
  }
  return out;
}

/** The served resource an ownerReference points at (exact apiVersion first, then any version of its group). */
export function resourceForOwner(
  ref: Pick<OwnerReference, "apiVersion" | "kind">,
  resources: readonly ResourceInfo[] = RESOURCES,
): ResourceInfo | undefined {
  const exact = resources.find(
    (r) => apiVersionOf(r) === ref.apiVersion && r.kind === ref.kind && !r.storedAs,
  );
  if (exact) return exact;
  const slash = ref.apiVersion.indexOf("/");
  const group = slash === -1 ? "" : ref.apiVersion.slice(0, slash);
  return resources.find((r) => r.group === group && r.kind === ref.kind && !r.storedAs);
}

/** What the graph remembers of one object. */
export interface GraphNode {
  uid: string;
  resource: ResourceInfo;
  namespace?: string;
  name: string;
  owners: OwnerReference[];
  finalizers: string[];
  deleting: boolean;
}

export function nodeFrom(resource: ResourceInfo, obj: KubeObject): GraphNode | undefined {
  const m = obj.metadata;
  if (!m.uid || !m.name) return undefined;
  return {
    uid: m.uid,
    resource,
    namespace: m.namespace || undefined,
    name: m.name,
    owners: Array.isArray(m.ownerReferences)
      ? m.ownerReferences.filter((o) => o && typeof o.uid === "string")
      : [],
    finalizers: Array.isArray(m.finalizers) ? [...m.finalizers] : [],
    deleting: !!m.deletionTimestamp,
  };
}

const ownersKey = (n: GraphNode | undefined) =>
  JSON.stringify((n?.owners ?? []).map((o) => [o.uid, !!o.blockOwnerDeletion]));

/** The owner → dependents graph. */
export class OwnerGraph {
  private readonly nodes = new Map<string, GraphNode>();
  /** owner uid → uids of objects naming it in ownerReferences */
  private readonly dependents = new Map<string, Set<string>>();

  get(uid: string): GraphNode | undefined {
    return this.nodes.get(uid);
  }

  get size(): number {
    return this.nodes.size;
  }

  /**
   * Adds or updates an object. Returns the uids to look at again: the object itself when its
   * owners or deletion state changed, and every owner it stopped or started naming.
   */
  upsert(node: GraphNode): string[] {
    const old = this.nodes.get(node.uid);
    if (old) for (const o of old.owners) this.dependents.get(o.uid)?.delete(node.uid);
    this.nodes.set(node.uid, node);
    for (const o of node.owners) {
      let set = this.dependents.get(o.uid);
      if (!set) {
        set = new Set();
        this.dependents.set(o.uid, set);
      }
      set.add(node.uid);
    }
    const out = new Set<string>();
    const ownersChanged = ownersKey(old) !== ownersKey(node);
    const deletionChanged =
      !old || old.deleting !== node.deleting || old.finalizers.join(",") !== node.finalizers.join(",");
    if ((ownersChanged && node.owners.length) || (deletionChanged && needsOwnerWork(node))) out.add(node.uid);
    if (ownersChanged) {
      for (const o of old?.owners ?? []) out.add(o.uid);
      for (const o of node.owners) if (old) out.add(o.uid);
    }
    if (deletionChanged && old && node.deleting) for (const o of node.owners) out.add(o.uid);
    return [...out].filter((u) => this.nodes.has(u));
  }

  /** Removes an object. Returns the uids to look at again: its dependents and its owners. */
  remove(uid: string): string[] {
    const old = this.nodes.get(uid);
    if (!old) return [];
    this.nodes.delete(uid);
    for (const o of old.owners) {
      const set = this.dependents.get(o.uid);
      set?.delete(uid);
      if (set && set.size === 0) this.dependents.delete(o.uid);
    }
    const out = [...(this.dependents.get(uid) ?? [])];
    for (const o of old.owners) if (this.nodes.has(o.uid)) out.push(o.uid);
    return out;
  }

  dependentsOf(uid: string): GraphNode[] {
    const out: GraphNode[] = [];
    for (const d of this.dependents.get(uid) ?? []) {
      const n = this.nodes.get(d);
      if (n) out.push(n);
    }
    return out;
  }

  all(): IterableIterator<GraphNode> {
    return this.nodes.values();
  }
}

/** A deleting object whose foregroundDeletion or orphan finalizer the collector must handle. */
export function needsOwnerWork(n: GraphNode): boolean {
  return (
    n.deleting && (n.finalizers.includes(FINALIZER_FOREGROUND) || n.finalizers.includes(FINALIZER_ORPHAN))
  );
}

/**
 * How an owner stands, seen from a dependent: "solid" (exists and is not deleting its dependents
 * first), "waiting" (exists, deleting with foregroundDeletion), "dangling" (gone, replaced by another
 * object with the same name, or an impossible reference).
 */
export type OwnerState = "solid" | "waiting" | "dangling";

export function ownerStateOf(
  owner: { uid?: string; deleting: boolean; finalizers: readonly string[] } | undefined,
  ref: OwnerReference,
): OwnerState {
  if (!owner || owner.uid !== ref.uid) return "dangling";
  return owner.deleting && owner.finalizers.includes(FINALIZER_FOREGROUND) ? "waiting" : "solid";
}

export type DependentAction =
  | { kind: "none" }
  | { kind: "removeOwnerRefs"; uids: string[] }
  | { kind: "delete"; propagationPolicy: "Background" | "Foreground" | "Orphan" };

/**
 * What to do with a dependent given the state of each of its owners (by uid):
 * - some owner is solid: keep it, but drop references to dangling and waiting owners;
 * - otherwise (all owners gone or deleting in the foreground): delete it — in the foreground
 *   itself when a waiting owner is involved and it has dependents of its own, otherwise following
 *   its own finalizers (orphan → Orphan, foregroundDeletion → Foreground) or Background.
 */
export function decideDependent(
  node: GraphNode,
  states: ReadonlyMap<string, OwnerState>,
  hasDependents: boolean,
): DependentAction {
  if (node.deleting || node.owners.length === 0) return { kind: "none" };
  const solid = node.owners.filter((o) => states.get(o.uid) === "solid");
  const dangling = node.owners.filter((o) => states.get(o.uid) === "dangling");
  const waiting = node.owners.filter((o) => states.get(o.uid) === "waiting");
  if (solid.length > 0 || dangling.length + waiting.length < node.owners.length) {
    const drop = [...dangling, ...waiting].map((o) => o.uid);
    return drop.length && solid.length ? { kind: "removeOwnerRefs", uids: drop } : { kind: "none" };
  }
  if (waiting.length > 0 && hasDependents) return { kind: "delete", propagationPolicy: "Foreground" };
  if (node.finalizers.includes(FINALIZER_ORPHAN)) return { kind: "delete", propagationPolicy: "Orphan" };
  if (node.finalizers.includes(FINALIZER_FOREGROUND))
    return { kind: "delete", propagationPolicy: "Foreground" };
  return { kind: "delete", propagationPolicy: "Background" };
}

export type OwnerAction =
  | { kind: "none" }
  /** orphan: strip the owner's reference from these dependents, then release the finalizer */
  | { kind: "orphan"; dependents: GraphNode[] }
  /** foreground: these dependents must go; the finalizer is released when `release` */
  | { kind: "foreground"; deleteDependents: GraphNode[]; release: boolean };

/** What a deleting owner with the orphan or foregroundDeletion finalizer needs now. */
export function decideOwner(owner: GraphNode, dependents: readonly GraphNode[]): OwnerAction {
  if (!owner.deleting) return { kind: "none" };
  if (owner.finalizers.includes(FINALIZER_ORPHAN)) return { kind: "orphan", dependents: [...dependents] };
  if (owner.finalizers.includes(FINALIZER_FOREGROUND)) {
    const blocking = dependents.filter((d) =>
      d.owners.some((o) => o.uid === owner.uid && o.blockOwnerDeletion === true),
    );
    return {
      kind: "foreground",
      deleteDependents: dependents.filter((d) => !d.deleting),
      release: blocking.length === 0,
    };
  }
  return { kind: "none" };
}
