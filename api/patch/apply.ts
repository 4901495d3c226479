/**
 * application/apply-patch+yaml: server-side apply (structured-merge-diff's Updater.Apply
 * plus the apiserver's field manager).
 *
 * 1. The applied configuration is merged into the live object (typed.ts mergeApplied).
 * 2. Fields the manager applied last time but omits now are removed from the result,
 *    unless another manager (applier or updater) owns them too.
 * 3. Every other manager that owns a field this apply adds or changes is in conflict:
 *    409 with one FieldManagerConflict cause per field, unless `force`, in which case
 *    those managers lose the fields. All managers lose fields that were removed.
 * 4. The manager's Apply entry becomes exactly the field set of its configuration.
 */
import type { KubeObject, ManagedFieldsEntry } from "../object.js";
import { errors, type StatusCause, StatusError } from "../status.js";
import { type FieldPath, type FieldSet, formatPath } from "./fieldset.js";
import {
  decodeManagedFields,
  encodeManagedFields,
  type FieldManagerOptions,
  ignoreSet,
  type ManagerSet,
  managerIdentity,
  nowTimestamp,
  storedSet,
  withoutManagedFields,
} from "./managed-fields.js";
import {
  compareObjects,
  ensureNamedFieldsAreMembers,
  mergeApplied,
  removeUnowned,
  toFieldSet,
} from "./typed.js";
import { deepEqual, isObject, type JsonObject } from "./util.js";

export interface ApplyOptions extends FieldManagerOptions {
  /** ?force=true: take over conflicting fields instead of failing */
  force?: boolean;
  /** when given, the configuration's kind must match */
  kind?: string;
}

export interface ApplyResult {
  /** the object to store (to create when `live` was undefined), metadata.managedFields set */
  object: KubeObject;
  managedFields: ManagedFieldsEntry[];
  /** false when the apply changed nothing but (maybe) ownership */
  changed: boolean;
}

/** how upstream names a manager in conflict messages */
export function describeManager(
  m: Pick<ManagerSet, "manager" | "operation" | "apiVersion" | "subresource">,
): string {
  let s = JSON.stringify(m.manager);
  if (m.subresource) s += ` with subresource ${JSON.stringify(m.subresource)}`;
  if (m.operation === "Update") s += ` using ${m.apiVersion ?? ""}`;
  return s;
}

interface Conflict {
  manager: ManagerSet;
  path: FieldPath;
}

/** the 409 upstream returns for apply conflicts */
export function conflictError(conflicts: Conflict[]): StatusError {
  const causes: StatusCause[] = conflicts.map((c) => ({
    reason: "FieldManagerConflict",
    message: `conflict with ${describeManager(c.manager)}`,
    field: formatPath(c.path),
  }));
  let message: string;
  if (conflicts.length === 1) {
    const c = conflicts[0]!;
    message = `Apply failed with 1 conflict: conflict with ${describeManager(c.manager)}: ${formatPath(c.path)}`;
  } else {
    const byManager = new Map<string, Conflict[]>();
    for (const c of conflicts) {
      const id = managerIdentity(c.manager);
      byManager.set(id, [...(byManager.get(id) ?? []), c]);
    }
    const lines: string[] = [];
    for (const id of [...byManager.keys()].sort()) {
      const group = byManager.get(id)!;
      lines.push(`conflicts with ${describeManager(group[0]!.manager)}:`);
      for (const c of group) lines.push(`- ${formatPath(c.path)}`);
    }
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join("\n")}`;
  }
  return new StatusError(409, "Conflict", message, { causes });
}

function validateApplied(applied: unknown, opts: ApplyOptions): JsonObject {
  if (!isObject(applied)) throw errors.badRequest("the apply configuration must be an object");
  const md = applied.metadata;
  if (md !== undefined && md !== null && !isObject(md)) throw errors.badRequest("metadata must be an object");
  const mf = isObject(md) ? md.managedFields : undefined;
  if (mf !== undefined && mf !== null) throw errors.badRequest("metadata.managedFields must be nil");
  if (applied.apiVersion !== opts.apiVersion) {
    throw errors.badRequest(
      `Incorrect version specified in apply patch. Specified patch version: ${String(applied.apiVersion ?? "")}, expected: ${opts.apiVersion}`,
    );
  }
  if (opts.kind !== undefined && applied.kind !== opts.kind) {
    throw errors.badRequest(
      `Incorrect kind specified in apply patch. Specified patch kind: ${String(applied.kind ?? "")}, expected: ${opts.kind}`,
    );
  }
  return withoutManagedFields(applied)!;
}

/**
 * Server-side apply of `applied` (the request body, already parsed from YAML/JSON) by
 * `opts.manager` onto `live` (undefined: the object does not exist, apply creates it).
 * Throws 400 for a malformed configuration, 409 for conflicts without `force`.
 */
export function applyPatch(live: KubeObject | undefined, applied: unknown, opts: ApplyOptions): ApplyResult {
  const config = validateApplied(applied, opts);
  const schema = opts.schema;
  const ignore = ignoreSet(opts);
  const managers = decodeManagedFields(live?.metadata?.managedFields);
  const liveObj = withoutManagedFields(live);

  const self = { manager: opts.manager, operation: "Apply" as const, subresource: opts.subresource };
  const selfId = managerIdentity(self);
  const previous = managers.find((m) => managerIdentity(m) === selfId);
  const others = managers.filter((m) => m !== previous);

  // the configuration's fields, not yet stripped of metadata.name etc. (they matter for pruning)
  const appliedSet = toFieldSet(config, schema).recursiveDifference(ignore).prune();

  let merged = mergeApplied(liveObj, config, schema) as JsonObject;
  if (previous && !previous.set.isEmpty()) {
    let owned = appliedSet;
    for (const m of others) owned = owned.union(m.set);
    merged = removeUnowned(
      merged,
      schema,
      ensureNamedFieldsAreMembers(previous.set, schema),
      ensureNamedFieldsAreMembers(owned, schema),
    ) as JsonObject;
  }

  const cmp = compareObjects(liveObj ?? {}, merged, schema);
  const changedFields = cmp.added.union(cmp.modified).recursiveDifference(ignore);
  const removed = cmp.removed.recursiveDifference(ignore);

  const conflicts: Conflict[] = [];
  const conflictSets = new Map<ManagerSet, FieldSet>();
  for (const m of others) {
    const c = m.set.intersection(changedFields);
    if (c.isEmpty()) continue;
    conflictSets.set(m, c);
    for (const path of c.paths()) conflicts.push({ manager: m, path });
  }
  if (conflicts.length > 0 && !opts.force) {
    conflicts.sort((a, b) =>
      managerIdentity(a.manager) < managerIdentity(b.manager)
        ? -1
        : managerIdentity(a.manager) > managerIdentity(b.manager)
          ? 1
          : 0,
    );
    throw conflictError(conflicts);
  }
  for (const m of others) {
    const c = conflictSets.get(m);
    if (c) m.set = m.set.difference(c);
    m.set = m.set.difference(removed);
  }

  const changed = !deepEqual(liveObj ?? {}, merged);
  const now = opts.now ?? nowTimestamp();
  const mine: ManagerSet = {
    manager: opts.manager,
    operation: "Apply",
    apiVersion: opts.apiVersion,
    set: storedSet(appliedSet, ignore),
  };
  const time = changed || !previous?.time ? now : previous.time;
  if (time) mine.time = time;
  if (opts.subresource) mine.subresource = opts.subresource;

  const managedFields = encodeManagedFields([...others, mine]);
  const metadata = isObject(merged.metadata) ? { ...merged.metadata } : {};
  if (managedFields.length > 0) metadata.managedFields = managedFields;
  else delete metadata.managedFields;
  const object = { ...merged, metadata } as KubeObject;
  return { object, managedFields, changed };
}
