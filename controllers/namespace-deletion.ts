/**
 * Pure part of the namespace controller: which resources to empty, the status conditions a
 * terminating namespace reports, and when it may be finalized.
 */
import { RESOURCES, type ResourceInfo } from "../api/resources.js";

export const NAMESPACE_FINALIZER = "kubernetes";

/** Every namespaced resource with its own storage that can be listed and deleted. */
export function namespacedResources(resources: readonly ResourceInfo[] = RESOURCES): ResourceInfo[] {
  const seen = new Set<string>();
  const out: ResourceInfo[] = [];
  for (const r of resources) {
    if (!r.namespaced || r.storedAs) continue;
    if (!r.verbs.includes("list") || !r.verbs.includes("delete")) continue;
    if (seen.has(r.storagePrefix)) continue;
    seen.add(r.storagePrefix);
    out.push(r);
  }
  // pods last-but-one and events last: controllers that own pods go first, so they stop recreating them
  const rank = (r: ResourceInfo) => (r.resource === "events" ? 2 : r.resource === "pods" ? 1 : 0);
  return out.sort((a, b) => rank(a) - rank(b));
}

export interface DeletionProgress {
  /** "<resource>.<group>: message" for failed deletes or lists */
  failures: string[];
  /** resource label → how many objects are left */
  remaining: Map<string, number>;
  /** finalizer → how many objects still carry it */
  finalizers: Map<string, number>;
}

export interface NamespaceCondition {
  type: string;
  status: "True" | "False";
  reason: string;
  message: string;
  lastTransitionTime?: string;
}

const fmtCounts = (m: ReadonlyMap<string, number>, what: string) =>
  [...m]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} has ${n} ${what}`)
    .join(", ");

/**
 * The namespace's deletion conditions for this progress, keeping lastTransitionTime of those
 * whose status did not change; undefined when nothing changes.
 */
export function deletionConditions(
  current: readonly NamespaceCondition[] | undefined,
  p: DeletionProgress,
  now: string,
): NamespaceCondition[] | undefined {
  const want: NamespaceCondition[] = [
    {
      type: "NamespaceDeletionDiscoveryFailure",
      status: "False",
      reason: "ResourcesDiscovered",
      message: "All resources successfully discovered",
    },
    {
      type: "NamespaceDeletionGroupVersionParsingFailure",
      status: "False",
      reason: "ParsedGroupVersions",
      message: "All legacy kube types successfully parsed",
    },
    p.failures.length
      ? {
          type: "NamespaceDeletionContentFailure",
          status: "True",
          reason: "ContentDeletionFailed",
          message: `Failed to delete all resource types, ${p.failures.length} remaining: ${p.failures.join(", ")}`,
        }
      : {
          type: "NamespaceDeletionContentFailure",
          status: "False",
          reason: "ContentDeleted",
          message: "All content successfully deleted, may be waiting on finalization",
        },
    p.remaining.size
      ? {
          type: "NamespaceContentRemaining",
          status: "True",
          reason: "SomeResourcesRemain",
          message: `Some resources are remaining: ${fmtCounts(p.remaining, "resource instances")}`,
        }
      : {
          type: "NamespaceContentRemaining",
          status: "False",
          reason: "ContentRemoved",
          message: "All content successfully removed",
        },
    p.finalizers.size
      ? {
          type: "NamespaceFinalizersRemaining",
          status: "True",
          reason: "SomeFinalizersRemain",
          message: `Some content in the namespace has finalizers remaining: ${fmtCounts(p.finalizers, "resource instances")}`,
        }
      : {
          type: "NamespaceFinalizersRemaining",
          status: "False",
          reason: "ContentHasNoFinalizers",
          message: "All content-preserving finalizers finished",
        },
  ];
  const others = (current ?? []).filter((c) => !want.some((w) => w.type === c.type));
  let changed = false;
  const merged = want.map((w) => {
    const old = current?.find((c) => c.type === w.type);
    if (old && old.status === w.status && old.reason === w.reason && old.message === w.message) return old;
    changed = true;
    return { ...w, lastTransitionTime: old && old.status === w.status ? old.lastTransitionTime : now };
  });
  return changed ? [...others, ...merged] : undefined;
}

/** spec.finalizers without the namespace controller's own; undefined when it is not there. */
export function finalizersAfterCleanup(finalizers: readonly string[] | undefined): string[] | undefined {
  if (!(finalizers ?? []).includes(NAMESPACE_FINALIZER)) return undefined;
  return (finalizers ?? []).filter((f) => f !== NAMESPACE_FINALIZER);
}
