/**
 * application/strategic-merge-patch+json, applied server side the way
 * k8s.io/apimachinery/pkg/util/strategicpatch does (StrategicMergeMapPatch with
 * MergeParallelList and IgnoreUnmatchedNulls), driven by the schema graph:
 *
 * - objects merge key by key; `null` removes a key; a key absent from the original takes
 *   the patch value (with directives and nulls cleaned out);
 * - lists whose patchStrategy contains "merge": lists of objects merge by patchMergeKey
 *   (matching items are merged recursively, new ones added), lists of scalars are a set
 *   union; all other lists are replaced;
 * - fields without a schema (unknown fields, IntOrString, RawExtension, free-form JSON)
 *   follow JSON merge patch (RFC 7386) semantics;
 * - directives: `$patch: replace | delete | merge` on objects, `{$patch: delete, <key>: v}`
 *   and `{$patch: replace}` as list items, `$retainKeys`, `$deleteFromPrimitiveList/<f>`,
 *   `$setElementOrder/<f>`.
 *
 * Order of merged lists follows upstream: items named by the patch keep the patch's
 * relative order ($setElementOrder wins over the patch list), items only on the server
 * keep theirs, and the two are interleaved by their positions in the live list. Note the
 * upstream quirk this reproduces: without $setElementOrder a patch item that is new to the
 * list lands before the server-only items (a `kubectl patch` adding a container puts it
 * first); kubectl apply always sends $setElementOrder, which places it where the manifest
 * has it.
 *
 * Deviations: `$patch: delete` on a nested object removes the field (as the design doc
 * says; upstream leaves an empty object behind, which decodes to the same Go value);
 * unknown `$`-keys are rejected instead of reaching the decoder.
 */
import type { ArrayNode, SchemaNode } from "../schema-types.js";
import { errors, StatusError } from "../status.js";
import { mergePatchValue } from "./merge-patch.js";
import { cloneJson, deepEqual, isObject, type JsonObject, typeName } from "./util.js";

export const DIRECTIVE_MARKER = "$patch";
export const RETAIN_KEYS_DIRECTIVE = "$retainKeys";
export const DELETE_FROM_PRIMITIVE_LIST_PREFIX = "$deleteFromPrimitiveList/";
export const SET_ELEMENT_ORDER_PREFIX = "$setElementOrder/";

const DELETED = Symbol("deleted");
type Merged = unknown | typeof DELETED;

/**
 * Applies a strategic merge patch to `original` (an API object) under `schema` (the kind's
 * root node; undefined means "no schema": plain JSON merge patch semantics). Returns a new
 * object; neither input is modified. Malformed patches throw 400 BadRequest.
 */
export function strategicMergePatch<T = JsonObject>(
  original: unknown,
  patch: unknown,
  schema: SchemaNode | undefined,
): T {
  if (!isObject(patch)) {
    throw errors.badRequest(`strategic merge patch must be a JSON object, got ${typeName(patch)}`);
  }
  const orig = isObject(original) ? cloneJson(original) : {};
  const out = mergeObject(orig, cloneJson(patch), schema, "");
  return (out === DELETED ? {} : out) as T;
}

function schemaless(schema: SchemaNode | undefined): boolean {
  return schema === undefined || schema.type === "any";
}

function childSchema(schema: SchemaNode | undefined, key: string): SchemaNode | undefined {
  if (!schema) return undefined;
  if (schema.type === "object") return schema.fields[key];
  if (schema.type === "map") return schema.values;
  return undefined;
}

function strategies(s: string | undefined): string[] {
  return (s ?? "").split(",").map((x) => x.trim());
}

function isMergeList(schema: SchemaNode | undefined): schema is ArrayNode {
  return schema?.type === "array" && strategies(schema.patchStrategy).includes("merge");
}

function bad(message: string): StatusError {
  return errors.badRequest(message);
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s.length > 200 ? `${s.slice(0, 200)}...` : s;
}

function mergeObject(
  orig: JsonObject,
  patchIn: JsonObject,
  schema: SchemaNode | undefined,
  path: string,
): Merged {
  if (schemaless(schema) || (schema!.type !== "object" && schema!.type !== "map")) {
    return mergePatchValue(orig, patchIn);
  }
  let patch = patchIn;
  if (Object.hasOwn(patch, DIRECTIVE_MARKER)) {
    const directive = patch[DIRECTIVE_MARKER];
    const { [DIRECTIVE_MARKER]: _, ...rest } = patch;
    if (directive === "replace") return mergeObject({}, rest, schema, path);
    if (directive === "delete") return DELETED;
    if (directive !== "merge") {
      throw bad(`unknown patch type: ${show(directive)} in map: ${show(patch)} at ${path || "."}`);
    }
    patch = rest;
  } else {
    patch = { ...patch };
  }
  const result: JsonObject = { ...orig };

  if (Object.hasOwn(patch, RETAIN_KEYS_DIRECTIVE)) {
    const retain = patch[RETAIN_KEYS_DIRECTIVE];
    delete patch[RETAIN_KEYS_DIRECTIVE];
    if (!Array.isArray(retain) || !retain.every((k) => typeof k === "string")) {
      throw bad(
        `invalid patch format of retainKeys at ${path || "."}: $retainKeys must be a list of field names`,
      );
    }
    const keep = new Set(retain as string[]);
    for (const [k, v] of Object.entries(patch)) {
      if (
        v === null ||
        k.startsWith(DELETE_FROM_PRIMITIVE_LIST_PREFIX) ||
        k.startsWith(SET_ELEMENT_ORDER_PREFIX)
      ) {
        continue;
      }
      if (!keep.has(k)) {
        throw bad(
          `invalid patch format of retainKeys at ${path || "."}: field "${k}" is set but not in $retainKeys`,
        );
      }
    }
    for (const k of Object.keys(result)) if (!keep.has(k)) delete result[k];
  }

  const handled = new Set<string>();
  for (const [k, v] of Object.entries(patch)) {
    if (!k.startsWith(SET_ELEMENT_ORDER_PREFIX)) continue;
    const field = k.slice(SET_ELEMENT_ORDER_PREFIX.length);
    if (!field) throw bad(`invalid patch format of setElementOrder list: "${k}"`);
    if (setElementOrder(result, patch, field, v, childSchema(schema, field), `${path}.${field}`))
      handled.add(field);
  }

  const deletions: Array<[string, unknown[]]> = [];
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith(SET_ELEMENT_ORDER_PREFIX) || handled.has(k)) continue;
    if (k.startsWith(DELETE_FROM_PRIMITIVE_LIST_PREFIX)) {
      const field = k.slice(DELETE_FROM_PRIMITIVE_LIST_PREFIX.length);
      if (!field || !Array.isArray(v)) {
        throw bad(`invalid patch format of primitive list: "${k}" must name a field and hold a list`);
      }
      deletions.push([field, v]);
      continue;
    }
    if (k.startsWith("$") && !(schema!.type === "object" && Object.hasOwn(schema!.fields, k))) {
      throw bad(`unknown strategic merge patch directive "${k}" at ${path || "."}`);
    }
    if (v === null) {
      delete result[k];
      continue;
    }
    const sub = childSchema(schema, k);
    const merged = Object.hasOwn(result, k)
      ? mergeValue(result[k], v, sub, `${path}.${k}`)
      : fresh(v, sub, `${path}.${k}`);
    if (merged === DELETED) delete result[k];
    else result[k] = merged;
  }

  for (const [field, values] of deletions) {
    const cur = result[field];
    if (Array.isArray(cur)) result[field] = cur.filter((x) => !values.some((d) => deepEqual(d, x)));
  }
  return result;
}

/** The value a patch value produces where the original has nothing (or a value of another type). */
function fresh(pv: unknown, schema: SchemaNode | undefined, path: string): Merged {
  if (isObject(pv)) return mergeObject({}, pv, schema, path);
  if (Array.isArray(pv)) return isMergeList(schema) ? mergeList([], pv, schema, path) : pv;
  return pv;
}

function mergeValue(cur: unknown, pv: unknown, schema: SchemaNode | undefined, path: string): Merged {
  if (isObject(pv)) {
    if (!isObject(cur)) return fresh(pv, schema, path);
    if (schema?.type === "object" && strategies(schema.patchStrategy).includes("replace")) {
      return fresh(pv, schema, path);
    }
    return mergeObject(cur, pv, schema, path);
  }
  if (Array.isArray(pv)) {
    if (!Array.isArray(cur)) return fresh(pv, schema, path);
    return isMergeList(schema) ? mergeList(cur, pv, schema, path) : pv;
  }
  return pv;
}

type Eq = (a: unknown, b: unknown) => boolean;

const scalarEq: Eq = (a, b) => deepEqual(a, b);

function keyEq(key: string): Eq {
  return (a, b) => isObject(a) && isObject(b) && Object.hasOwn(a, key) && deepEqual(a[key], b[key]);
}

function listKind(items: unknown[], path: string): "maps" | "scalars" | "empty" {
  let kind: "maps" | "scalars" | "empty" = "empty";
  for (const x of items) {
    if (Array.isArray(x))
      throw new StatusError(422, "Invalid", `lists of lists are not supported (at ${path})`);
    const k = isObject(x) ? "maps" : "scalars";
    if (kind !== "empty" && kind !== k) throw bad(`list element types are not identical at ${path}`);
    kind = k;
  }
  return kind;
}

function mergeList(orig: unknown[], patch: unknown[], schema: ArrayNode, path: string): unknown[] {
  const kind = listKind([...orig, ...patch], path);
  if (kind === "empty") return [];
  if (kind === "scalars") {
    const merged: unknown[] = [];
    for (const x of [...orig, ...patch]) if (!merged.some((y) => scalarEq(x, y))) merged.push(x);
    const inPatch = merged.filter((x) => patch.some((p) => scalarEq(x, p)));
    const serverOnly = merged.filter((x) => !patch.some((p) => scalarEq(x, p)));
    return normalizeOrder(inPatch, serverOnly, patch, orig, scalarEq);
  }

  const key = schema.patchMergeKey;
  if (!key) throw bad(`cannot merge lists without merge key for ${path}`);
  const eq = keyEq(key);
  let base = orig.slice();
  let replace = false;
  const plain: JsonObject[] = [];
  for (const item of patch) {
    if (!isObject(item)) throw bad(`list item ${show(item)} at ${path} is not an object`);
    if (!Object.hasOwn(item, DIRECTIVE_MARKER)) {
      if (!Object.hasOwn(item, key))
        throw bad(`map: ${show(item)} does not contain declared merge key: ${key}`);
      plain.push(item);
      continue;
    }
    const directive = item[DIRECTIVE_MARKER];
    if (directive === "delete") {
      if (!Object.hasOwn(item, key))
        throw bad(`map: ${show(item)} does not contain declared merge key: ${key}`);
      base = base.filter((x) => !eq(x, item));
    } else if (directive === "replace") {
      replace = true;
    } else if (directive === "merge") {
      throw bad(`merging lists cannot yet be specified in the patch (at ${path})`);
    } else {
      throw bad(`unknown patch type: ${show(directive)} in map: ${show(item)} at ${path}`);
    }
  }
  const at = (item: JsonObject) => `${path}[${key}=${show(item[key])}]`;
  if (replace) {
    return plain.map((item) => mergeObject({}, item, schema.items, at(item))).filter((x) => x !== DELETED);
  }
  const serverOrder = base.slice();
  for (const item of plain) {
    const i = base.findIndex((x) => eq(x, item));
    if (i >= 0 && isObject(base[i])) {
      base[i] = mergeObject(base[i] as JsonObject, item, schema.items, at(item));
    } else {
      base.push(mergeObject({}, item, schema.items, at(item)));
    }
  }
  const inPatch = base.filter((x) => plain.some((p) => eq(x, p)));
  const serverOnly = base.filter((x) => !plain.some((p) => eq(x, p)));
  return normalizeOrder(inPatch, serverOnly, plain, serverOrder, eq);
}

/**
 * Sorts `patchItems` by `patchOrder` and `serverOnly` by `serverOrder`, then interleaves
 * them: a server-only item goes first only when both it and the next patch item are in the
 * live list and it came first there.
 */
function normalizeOrder(
  patchItems: unknown[],
  serverOnly: unknown[],
  patchOrder: unknown[],
  serverOrder: unknown[],
  eq: Eq,
): unknown[] {
  const index = (list: unknown[], x: unknown) => list.findIndex((y) => eq(x, y));
  const sortBy = (items: unknown[], order: unknown[]) =>
    items
      .map((x, i) => ({ x, i, k: index(order, x) }))
      .sort((a, b) => a.k - b.k || a.i - b.i)
      .map((e) => e.x);
  const p = sortBy(patchItems, patchOrder);
  const s = sortBy(serverOnly, serverOrder);
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < s.length && j < p.length) {
    const li = index(serverOrder, s[i]);
    const ri = index(serverOrder, p[j]);
    if (li >= 0 && ri >= 0 && li < ri) out.push(s[i++]);
    else out.push(p[j++]);
  }
  while (i < s.length) out.push(s[i++]);
  while (j < p.length) out.push(p[j++]);
  return out;
}

/**
 * Handles `$setElementOrder/<field>` together with the patch's `<field>` list. Returns
 * false when the directive does not apply (not a merging list, or the patch deletes the
 * field) so the field is merged normally.
 */
function setElementOrder(
  result: JsonObject,
  patch: JsonObject,
  field: string,
  order: unknown,
  schema: SchemaNode | undefined,
  path: string,
): boolean {
  if (!Array.isArray(order))
    throw bad(`invalid patch format of setElementOrder list at ${path}: must be a list`);
  if (!isMergeList(schema)) return false;
  const patchList = patch[field];
  if (patchList !== undefined && !Array.isArray(patchList)) return false;
  const origList = result[field];
  const foundOrig = Array.isArray(origList);
  if (!foundOrig && patchList === undefined) return true;

  const all = [...(foundOrig ? origList : []), ...(patchList ?? []), ...order];
  const maps = listKind(all, path) === "maps";
  let eq: Eq = scalarEq;
  if (maps) {
    const key = schema.patchMergeKey;
    if (!key) throw bad(`cannot merge lists without merge key for ${path}`);
    for (const o of order) {
      if (!isObject(o) || !Object.hasOwn(o, key))
        throw bad(`map: ${show(o)} does not contain declared merge key: ${key}`);
    }
    eq = keyEq(key);
  }
  // items of the patch list (deletions aside) must appear in the order list, in its order
  const kept = (patchList ?? []).filter((x) => !(isObject(x) && Object.hasOwn(x, DIRECTIVE_MARKER)));
  let j = 0;
  for (const o of order) if (j < kept.length && eq(kept[j], o)) j++;
  if (j < kept.length) {
    throw bad(
      `The order in patch list: ${show(patchList)} doesn't match $setElementOrder list: ${show(order)} (at ${path})`,
    );
  }

  let merged: unknown[];
  if (foundOrig && patchList !== undefined) merged = mergeList(origList, patchList, schema, path);
  else if (foundOrig) merged = origList;
  else merged = mergeList([], patchList ?? [], schema, path);
  const inOrder = merged.filter((x) => order.some((o) => eq(x, o)));
  const serverOnly = merged.filter((x) => !order.some((o) => eq(x, o)));
  result[field] = normalizeOrder(inOrder, serverOnly, order, foundOrig ? origList : [], eq);
  return true;
}
