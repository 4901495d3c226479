/**
 * metadata.managedFields: decoding, encoding, and the bookkeeping of non-apply writes
 * (create, update, and json/merge/strategic patches), following the apiserver's field
 * manager (k8s.io/apimachinery/pkg/util/managedfields) on top of structured-merge-diff.
 *
 * A manager is identified by (manager, operation, apiVersion for Update only,
 * subresource). An Update takes ownership of every field it added or changed; other
 * managers lose those fields and every field that was removed. Fields of the object's
 * identity and bookkeeping are never tracked: apiVersion, kind, metadata itself and
 * metadata.{name, namespace, creationTimestamp, selfLink, uid, clusterName, generation,
 * managedFields, resourceVersion}. Entries left with an empty set are dropped.
 */
import type { KubeObject, ManagedFieldsEntry } from "../object.js";
import type { SchemaNode } from "../schema-types.js";
import { type FieldPath, FieldSet, fieldElement } from "./fieldset.js";
import { compareObjects } from "./typed.js";
import { isObject, type JsonObject } from "./util.js";

export interface ManagerSet {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion?: string;
  time?: string;
  subresource?: string;
  set: FieldSet;
}

export interface FieldManagerOptions {
  /** the field manager (?fieldManager=, or derived from the user agent) */
  manager: string;
  /** the kind's schema (root node) */
  schema: SchemaNode | undefined;
  /** group/version of the request, e.g. "apps/v1" */
  apiVersion: string;
  /** "status", "scale", ... when writing a subresource */
  subresource?: string;
  /** timestamp for changed entries (RFC 3339, seconds); default now */
  now?: string;
  /**
   * Subtrees this endpoint never records ownership for (upstream's reset fields): e.g.
   * [["f:status"]] for the main resource of a kind with a status subresource.
   */
  ignoreFields?: FieldPath[];
}

/** Paths upstream strips from every manager's set (exact paths: children are kept). */
const STRIPPED = FieldSet.fromPaths([
  [fieldElement("apiVersion")],
  [fieldElement("kind")],
  [fieldElement("metadata")],
  ...[
    "name",
    "namespace",
    "creationTimestamp",
    "selfLink",
    "uid",
    "clusterName",
    "generation",
    "managedFields",
    "resourceVersion",
  ].map((f) => [fieldElement("metadata"), fieldElement(f)]),
]);

export function nowTimestamp(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

/** the identity upstream keys managers by */
export function managerIdentity(
  m: Pick<ManagerSet, "manager" | "operation" | "apiVersion" | "subresource">,
): string {
  return JSON.stringify([
    m.manager,
    m.operation,
    m.operation === "Update" ? (m.apiVersion ?? "") : "",
    m.subresource ?? "",
  ]);
}

/**
 * Decodes metadata.managedFields; entries that cannot be understood (no manager or
 * operation, bad FieldsV1) are skipped; entries with the same identity are merged.
 */
export function decodeManagedFields(entries: unknown): ManagerSet[] {
  if (!Array.isArray(entries)) return [];
  const byId = new Map<string, ManagerSet>();
  for (const e of entries) {
    if (!isObject(e)) continue;
    const operation = e.operation;
    if (operation !== "Apply" && operation !== "Update") continue;
    if (e.fieldsType !== undefined && e.fieldsType !== "FieldsV1") continue;
    let set: FieldSet;
    try {
      set = FieldSet.fromFieldsV1(e.fieldsV1 ?? {});
    } catch {
      continue;
    }
    const m: ManagerSet = {
      manager: typeof e.manager === "string" ? e.manager : "",
      operation,
      ...(typeof e.apiVersion === "string" ? { apiVersion: e.apiVersion } : {}),
      ...(typeof e.time === "string" ? { time: e.time } : {}),
      ...(typeof e.subresource === "string" && e.subresource ? { subresource: e.subresource } : {}),
      set,
    };
    const id = managerIdentity(m);
    const prev = byId.get(id);
    byId.set(id, prev ? { ...m, set: prev.set.union(set) } : m);
  }
  return [...byId.values()];
}

/** Encodes managers as upstream stores them: empty sets dropped, Apply before Update, then by time, manager, apiVersion, subresource. */
export function encodeManagedFields(managers: ManagerSet[]): ManagedFieldsEntry[] {
  const live = managers.filter((m) => !m.set.isEmpty());
  const seconds = (t?: string) => (t ? Math.floor(Date.parse(t) / 1000) || 0 : 0);
  const cmp = (a?: string, b?: string) => ((a ?? "") < (b ?? "") ? -1 : (a ?? "") > (b ?? "") ? 1 : 0);
  live.sort(
    (p, q) =>
      cmp(p.operation, q.operation) ||
      seconds(p.time) - seconds(q.time) ||
      cmp(p.manager, q.manager) ||
      cmp(p.apiVersion, q.apiVersion) ||
      cmp(p.subresource, q.subresource),
  );
  return live.map((m) => {
    const e: ManagedFieldsEntry = { manager: m.manager, operation: m.operation };
    if (m.apiVersion !== undefined) e.apiVersion = m.apiVersion;
    if (m.time !== undefined) e.time = m.time;
    e.fieldsType = "FieldsV1";
    e.fieldsV1 = m.set.toFieldsV1();
    if (m.subresource) e.subresource = m.subresource;
    return e;
  });
}

/** a manager's set as stored: bookkeeping fields stripped, ignored subtrees removed */
export function storedSet(set: FieldSet, ignore: FieldSet): FieldSet {
  return set.difference(STRIPPED).recursiveDifference(ignore).prune();
}

export function ignoreSet(opts: Pick<FieldManagerOptions, "ignoreFields">): FieldSet {
  return FieldSet.fromPaths(opts.ignoreFields ?? []);
}

/** the object as the field manager sees it: metadata.managedFields left out */
export function withoutManagedFields(obj: unknown): JsonObject | undefined {
  if (!isObject(obj)) return undefined;
  if (!isObject(obj.metadata) || !Object.hasOwn(obj.metadata, "managedFields")) return obj;
  const { managedFields: _, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

/**
 * Managed fields after a non-apply write (create: `oldObj` undefined; update; patch) by
 * `opts.manager`. The starting point is the managedFields the request carried when it set
 * any (a client may rewrite them; `[{}]` resets them), else the stored object's; writes to
 * a subresource always start from the stored object's.
 */
export function updateManagedFields(
  oldObj: KubeObject | undefined,
  newObj: KubeObject,
  opts: FieldManagerOptions,
): ManagedFieldsEntry[] {
  const requested = newObj.metadata?.managedFields;
  const useRequested = !opts.subresource && Array.isArray(requested) && requested.length > 0;
  const managers = decodeManagedFields(useRequested ? requested : oldObj?.metadata?.managedFields);
  const ignore = ignoreSet(opts);
  const cmp = compareObjects(withoutManagedFields(oldObj) ?? {}, withoutManagedFields(newObj), opts.schema);
  const changed = cmp.added.union(cmp.modified).recursiveDifference(ignore);
  const removed = cmp.removed.recursiveDifference(ignore);
  const self = {
    manager: opts.manager,
    operation: "Update" as const,
    apiVersion: opts.apiVersion,
    subresource: opts.subresource,
  };
  const selfId = managerIdentity(self);

  let mine: ManagerSet | undefined;
  for (const m of managers) {
    if (managerIdentity(m) === selfId) {
      mine = m;
      continue;
    }
    m.set = m.set.difference(changed).difference(removed);
  }
  const gained = storedSet(changed, ignore);
  if (!mine) {
    mine = { ...self, set: new FieldSet() };
    if (!mine.subresource) delete mine.subresource;
    managers.push(mine);
  }
  mine.set = storedSet(mine.set.difference(removed).union(gained), ignore);
  mine.apiVersion = opts.apiVersion;
  if (!gained.isEmpty() || mine.time === undefined) mine.time = opts.now ?? nowTimestamp();
  return encodeManagedFields(managers);
}
