/**
 * Schema-aware walks over plain JSON objects, with structured-merge-diff semantics:
 * the field set of an object, the comparison of two objects, the merge of an applied
 * configuration into a live object, and removal of fields an applier gave up.
 *
 * How a schema node is treated (structured-merge-diff's "element relationship"):
 * - object (struct): its fields are separable; `x-kubernetes-map-type: atomic` makes it a leaf;
 * - map: its keys are separable unless mapType is atomic;
 * - array: listType map (keyed by listMapKeys) or set (keyed by value) are separable,
 *   atomic is a leaf; without listType, a list with patchStrategy merge is a map keyed by
 *   patchMergeKey (a set when it has none), any other list is atomic (kube-openapi's rule);
 * - scalars are leaves; "any" nodes and fields missing from the schema are deduced from the
 *   value: objects are separable maps, lists are atomic.
 */
import type { ArrayNode, SchemaNode } from "../schema-types.js";
import {
  type FieldPath,
  FieldSet,
  fieldElement,
  indexElement,
  keyElement,
  type PathElement,
  valueElement,
} from "./fieldset.js";
import { deepEqual, isObject, type JsonObject } from "./util.js";

type ListRelation = { type: "atomic" } | { type: "set" } | { type: "map"; keys: string[] };

export function listRelation(schema: ArrayNode): ListRelation {
  if (schema.listType === "atomic") return { type: "atomic" };
  if (schema.listType === "set") return { type: "set" };
  if (schema.listType === "map") {
    const keys = schema.listMapKeys?.length
      ? schema.listMapKeys
      : schema.patchMergeKey
        ? [schema.patchMergeKey]
        : [];
    return keys.length ? { type: "map", keys } : { type: "atomic" };
  }
  const strategy = (schema.patchStrategy ?? "").split(",").map((s) => s.trim());
  if (strategy.includes("merge")) {
    return schema.patchMergeKey ? { type: "map", keys: [schema.patchMergeKey] } : { type: "set" };
  }
  return { type: "atomic" };
}

interface FieldInfo {
  schema: SchemaNode | undefined;
  /** a declared struct field (not a map key, not an unknown field) */
  declared: boolean;
}

export type Shape =
  | { kind: "leaf" }
  | { kind: "map"; field: (key: string) => FieldInfo }
  | { kind: "list"; element: (item: unknown, index: number) => PathElement; items: SchemaNode | undefined };

const LEAF: Shape = { kind: "leaf" };
const DEDUCED_MAP: Shape = { kind: "map", field: () => ({ schema: undefined, declared: false }) };

/** list-map keys that upstream fills from the schema default when the item omits them */
const KEY_DEFAULTS: Record<string, unknown> = { protocol: "TCP" };

function keyDefault(items: SchemaNode | undefined, field: string): unknown {
  const node = items?.type === "object" ? items.fields[field] : undefined;
  const d = node ? (node as { default?: unknown }).default : undefined;
  return d !== undefined ? d : KEY_DEFAULTS[field];
}

/** how `value` is walked under `schema` */
export function shapeOf(value: unknown, schema: SchemaNode | undefined): Shape {
  if (schema === undefined || schema.type === "any") return isObject(value) ? DEDUCED_MAP : LEAF;
  switch (schema.type) {
    case "object": {
      if (schema.mapType === "atomic" || !isObject(value)) return LEAF;
      const fields = schema.fields;
      return {
        kind: "map",
        field: (k) =>
          Object.hasOwn(fields, k)
            ? { schema: fields[k], declared: true }
            : { schema: undefined, declared: false },
      };
    }
    case "map": {
      if (schema.mapType === "atomic" || !isObject(value)) return LEAF;
      const values = schema.values;
      return { kind: "map", field: () => ({ schema: values, declared: false }) };
    }
    case "array": {
      if (!Array.isArray(value)) return LEAF;
      const rel = listRelation(schema);
      if (rel.type === "atomic") return LEAF;
      const items = schema.items;
      if (rel.type === "set") return { kind: "list", element: (item) => valueElement(item), items };
      return {
        kind: "list",
        items,
        element: (item, index) => {
          if (!isObject(item)) return indexElement(index);
          const key: JsonObject = {};
          for (const k of rel.keys) {
            if (Object.hasOwn(item, k) && item[k] !== null) key[k] = item[k];
            else {
              const d = keyDefault(items, k);
              if (d !== undefined) key[k] = d;
            }
          }
          return Object.keys(key).length ? keyElement(key) : indexElement(index);
        },
      };
    }
    default:
      return LEAF;
  }
}

function isEmptyContainer(v: unknown): boolean {
  return (isObject(v) && Object.keys(v).length === 0) || (Array.isArray(v) && v.length === 0);
}

/** index of a separable list's items by path element (first occurrence wins, like upstream) */
function indexList(list: unknown[], shape: Extract<Shape, { kind: "list" }>): Map<PathElement, unknown> {
  const m = new Map<PathElement, unknown>();
  list.forEach((item, i) => {
    const pe = shape.element(item, i);
    if (!m.has(pe)) m.set(pe, item);
  });
  return m;
}

/** The set of fields `value` sets (structured-merge-diff ToFieldSet). */
export function toFieldSet(value: unknown, schema: SchemaNode | undefined): FieldSet {
  const root = new FieldSet();
  const walk = (v: unknown, s: SchemaNode | undefined, node: FieldSet) => {
    const shape = shapeOf(v, s);
    if (shape.kind === "leaf") {
      node.member = true;
    } else if (shape.kind === "map") {
      for (const [k, cv] of Object.entries(v as JsonObject)) {
        if (cv === undefined) continue;
        const info = shape.field(k);
        const child = node.child(fieldElement(k));
        walk(cv, info.schema, child);
        if (cv === null || (isObject(cv) && Object.keys(cv).length === 0) || !info.declared)
          child.member = true;
      }
    } else {
      for (const [pe, item] of indexList(v as unknown[], shape)) {
        const child = node.child(pe);
        walk(item, shape.items, child);
        child.member = true;
      }
    }
  };
  if (shapeOf(value, schema).kind === "leaf") return root;
  walk(value, schema, root);
  return root.prune();
}

export interface Comparison {
  added: FieldSet;
  removed: FieldSet;
  modified: FieldSet;
}

/** What changed from `lhs` to `rhs` (structured-merge-diff Compare); undefined = absent. */
export function compareObjects(lhs: unknown, rhs: unknown, schema: SchemaNode | undefined): Comparison {
  const out: Comparison = { added: new FieldSet(), removed: new FieldSet(), modified: new FieldSet() };
  const walk = (l: unknown, r: unknown, s: SchemaNode | undefined, path: FieldPath) => {
    const ls = l === undefined ? undefined : shapeOf(l, s);
    const rs = r === undefined ? undefined : shapeOf(r, s);
    const lc = ls !== undefined && ls.kind !== "leaf";
    const rc = rs !== undefined && rs.kind !== "leaf";
    const bothEmpty = (l === undefined || isEmptyContainer(l)) && (r === undefined || isEmptyContainer(r));
    if ((!lc && !rc) || bothEmpty) {
      if (l === undefined) out.added.insert(path);
      else if (r === undefined) out.removed.insert(path);
      else if (!deepEqual(l, r)) out.modified.insert(path);
      return;
    }
    if (lc && rc && ls.kind === rs.kind) {
      children(l, r, ls, rs, path);
      return;
    }
    // one side absent, or the shape changed (e.g. object <-> scalar)
    if (l !== undefined && r !== undefined) out.modified.insert(path);
    if (lc) children(l, undefined, ls, undefined, path);
    if (rc) children(undefined, r, undefined, rs, path);
    if (l === undefined) out.added.insert(path);
    if (r === undefined) out.removed.insert(path);
  };
  const children = (
    l: unknown,
    r: unknown,
    ls: Shape | undefined,
    rs: Shape | undefined,
    path: FieldPath,
  ) => {
    const shape = (ls ?? rs)!;
    if (shape.kind === "map") {
      const lo = (l ?? {}) as JsonObject;
      const ro = (r ?? {}) as JsonObject;
      const keys = [...Object.keys(lo), ...Object.keys(ro).filter((k) => !Object.hasOwn(lo, k))];
      for (const k of keys) {
        const info = shape.field(k);
        walk(lo[k], ro[k], info.schema, [...path, fieldElement(k)]);
      }
    } else if (shape.kind === "list") {
      const rshape = (rs ?? ls) as Extract<Shape, { kind: "list" }>;
      const lshape = (ls ?? rs) as Extract<Shape, { kind: "list" }>;
      const li = indexList((l ?? []) as unknown[], lshape);
      const ri = indexList((r ?? []) as unknown[], rshape);
      const pes = [...li.keys(), ...[...ri.keys()].filter((pe) => !li.has(pe))];
      for (const pe of pes) walk(li.get(pe), ri.get(pe), shape.items, [...path, pe]);
    }
  };
  walk(lhs, rhs, schema, []);
  out.added.prune();
  out.removed.prune();
  out.modified.prune();
  return out;
}

/** `value` without the null-valued fields of its separable maps (an applied null means "unset") */
export function dropNulls(value: unknown, schema: SchemaNode | undefined): unknown {
  const shape = shapeOf(value, schema);
  if (shape.kind === "map") {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value as JsonObject)) {
      if (v === null || v === undefined) continue;
      out[k] = dropNulls(v, shape.field(k).schema);
    }
    return out;
  }
  if (shape.kind === "list") return (value as unknown[]).map((v) => dropNulls(v, shape.items));
  return value;
}

/**
 * Merges an applied configuration into the live object (structured-merge-diff Merge):
 * the configuration wins on leaves and atomic values, separable maps merge by key and
 * separable lists by item identity; live-only items keep their place, shared items follow
 * the configuration's order, configuration-only items are inserted where it has them.
 */
export function mergeApplied(live: unknown, config: unknown, schema: SchemaNode | undefined): unknown {
  if (config === undefined) return live;
  if (live === undefined) return dropNulls(config, schema);
  const ls = shapeOf(live, schema);
  const cs = shapeOf(config, schema);
  if (cs.kind === "leaf" || ls.kind !== cs.kind) return dropNulls(config, schema);
  if (cs.kind === "map") {
    const lo = live as JsonObject;
    const co = config as JsonObject;
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(lo)) {
      if (!Object.hasOwn(co, k) || co[k] === undefined) out[k] = v;
      else if (co[k] !== null) out[k] = mergeApplied(v, co[k], cs.field(k).schema);
    }
    for (const [k, v] of Object.entries(co)) {
      if (Object.hasOwn(lo, k) || v === null || v === undefined) continue;
      out[k] = dropNulls(v, cs.field(k).schema);
    }
    return out;
  }
  const shape = cs as Extract<Shape, { kind: "list" }>;
  const lorder = [...indexList(live as unknown[], shape)];
  const corder = [...indexList(config as unknown[], shape)];
  const lmap = new Map(lorder);
  const cmap = new Map(corder);
  const shared = corder.map(([pe]) => pe).filter((pe) => lmap.has(pe));
  let nextShared = 0;
  const out: unknown[] = [];
  let li = 0;
  let ci = 0;
  const emit = (pe: PathElement) => {
    out.push(mergeApplied(lmap.get(pe), cmap.get(pe), shape.items));
    if (shared[nextShared] === pe) nextShared++;
  };
  while (li < lorder.length || ci < corder.length) {
    if (li < lorder.length) {
      const [lpe, litem] = lorder[li]!;
      if (ci < corder.length && corder[ci]![0] === lpe) {
        emit(lpe);
        li++;
        ci++;
        continue;
      }
      if (!cmap.has(lpe)) {
        // live-only item stays where it is
        out.push(litem);
        li++;
        continue;
      }
      if (nextShared < shared.length && shared[nextShared] !== lpe) {
        // a shared item the configuration wants later: emit it when the configuration reaches it
        li++;
        continue;
      }
    }
    if (ci < corder.length) {
      emit(corder[ci]![0]);
      ci++;
      continue;
    }
    li++;
  }
  return out;
}

/**
 * Marks as members the struct fields on the way to any member, the way
 * structured-merge-diff's EnsureNamedFieldsAreMembers does before pruning: owning
 * `spec.replicas` also means owning `spec` (but not a list item or map key on the way).
 */
export function ensureNamedFieldsAreMembers(set: FieldSet, schema: SchemaNode | undefined): FieldSet {
  const out = set.clone();
  const walk = (node: FieldSet, s: SchemaNode | undefined) => {
    for (const [pe, child] of node.children) {
      let cs: SchemaNode | undefined;
      if (pe.startsWith("f:")) {
        const name = pe.slice(2);
        if (s?.type === "object") {
          cs = s.fields[name];
          if (cs !== undefined && s.mapType !== "atomic") child.member = true;
        } else if (s?.type === "map") {
          cs = s.values;
        }
      } else if (s?.type === "array") {
        cs = s.items;
      }
      walk(child, cs);
    }
  };
  walk(out, schema);
  return out;
}

/**
 * Removes from `value` every field, map entry and list item whose path is a member of
 * `remove` but not of `keep` (both already passed through ensureNamedFieldsAreMembers);
 * containers emptied by the removal go too.
 */
export function removeUnowned(
  value: unknown,
  schema: SchemaNode | undefined,
  remove: FieldSet,
  keep: FieldSet,
): unknown {
  const shape = shapeOf(value, schema);
  if (shape.kind === "leaf") return value;
  const empty = new FieldSet();
  if (shape.kind === "map") {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value as JsonObject)) {
      const pe = fieldElement(k);
      const r = remove.children.get(pe);
      const kp = keep.children.get(pe) ?? empty;
      if (r?.member && !kp.member) continue;
      if (!r) {
        out[k] = v;
        continue;
      }
      const nv = removeUnowned(v, shape.field(k).schema, r, kp);
      if (isEmptyContainer(nv) && !isEmptyContainer(v)) continue;
      out[k] = nv;
    }
    return out;
  }
  const out: unknown[] = [];
  (value as unknown[]).forEach((item, i) => {
    const pe = shape.element(item, i);
    const r = remove.children.get(pe);
    const kp = keep.children.get(pe) ?? empty;
    if (r?.member && !kp.member) return;
    out.push(r ? removeUnowned(item, shape.items, r, kp) : item);
  });
  return out;
}
