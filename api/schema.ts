/**
 * The Kubernetes type schemas, read once per process from the models that
 * @kubernetes/client-node generates from the upstream OpenAPI spec: the `attributeTypeMap`
 * in each model's .js (field names, types, formats) and the JSDoc + `?` in its .d.ts
 * (descriptions, required fields). The files are read as text (importing the 750 model
 * modules costs ~180 ms and the package's main entry does not load on Node 20).
 *
 * What the models lack (patch/list metadata, Quantity, FieldsV1) comes from patch-meta.ts.
 * Two views are built from the same table: `definitions()` (OpenAPI-shaped, for openapi.ts)
 * and `schemaForKind()` (the SchemaNode graph of schema-types.ts).
 */

import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import {
  ATOMIC_STRUCTS,
  FIELDS_V1_FIELDS,
  type FieldPatchMeta,
  isQuantityField,
  patchMetaFor,
} from "./patch-meta.js";
import { RESOURCES } from "./resources.js";
import type { ArrayNode, MapNode, ObjectNode, SchemaNode } from "./schema-types.js";

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

/** the type of a property, OpenAPI-shaped: a reference to a definition, a scalar, a list or a map */
export type TypeRef =
  | { ref: string }
  | { type: "string" | "integer" | "number" | "boolean"; format?: string }
  | { type: "array"; items: TypeRef }
  | { type: "map"; values: TypeRef };

export interface PropertyDefinition {
  type: TypeRef;
  description?: string;
  patch?: FieldPatchMeta;
}

export interface Definition {
  /** upstream definition name, e.g. io.k8s.api.core.v1.PodSpec */
  name: string;
  description?: string;
  /** structs have properties; scalar definitions (Time, IntOrString, Quantity, ...) have `scalar` */
  properties: Record<string, PropertyDefinition>;
  required: string[];
  gvk: GroupVersionKind[];
  /** x-kubernetes-map-type on the definition (+structType=atomic) */
  mapType?: "atomic";
  scalar?: {
    type: "string" | "object";
    format?: string;
    /** OpenAPI v3 oneOf alternatives (IntOrString: integer|string, Quantity: string|number) */
    oneOf?: ("string" | "integer" | "number")[];
  };
  /** the @kubernetes/client-node class it was read from */
  className?: string;
}

const META_PKG = "io.k8s.apimachinery.pkg.apis.meta.v1";
export const TIME = `${META_PKG}.Time`;
export const MICRO_TIME = `${META_PKG}.MicroTime`;
export const FIELDS_V1 = `${META_PKG}.FieldsV1`;
export const PATCH = `${META_PKG}.Patch`;
export const INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
export const QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity";
export const RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension";

/** apimachinery meta/v1 types; the models name them V1<Name> like any v1 type */
const META_TYPES = new Set([
  "APIGroup",
  "APIGroupList",
  "APIResource",
  "APIResourceList",
  "APIVersions",
  "Condition",
  "DeleteOptions",
  "FieldSelectorRequirement",
  "GroupVersionForDiscovery",
  "LabelSelector",
  "LabelSelectorRequirement",
  "ListMeta",
  "ManagedFieldsEntry",
  "ObjectMeta",
  "OwnerReference",
  "Preconditions",
  "ServerAddressByClientCIDR",
  "Status",
  "StatusCause",
  "StatusDetails",
  "WatchEvent",
]);

/** the prefixes client-node puts on class names that would collide otherwise (CoreV1Event, EventsV1Event) */
const PREFIX_GROUP: Record<string, string> = {
  Admissionregistration: "admissionregistration.k8s.io",
  Apiextensions: "apiextensions.k8s.io",
  Apiregistration: "apiregistration.k8s.io",
  Apps: "apps",
  Authentication: "authentication.k8s.io",
  Core: "",
  Discovery: "discovery.k8s.io",
  Events: "events.k8s.io",
  Flowcontrol: "flowcontrol.apiserver.k8s.io",
  Rbac: "rbac.authorization.k8s.io",
  Resource: "resource.k8s.io",
  Storage: "storage.k8s.io",
};

/**
 * Unprefixed classes reachable from a served kind of one group although they belong to
 * another (checked by schema.test.ts against the group API classes of client-node).
 */
const GROUP_OVERRIDES: Record<string, string> = {
  V1PodTemplateSpec: "",
};

/** Extra top-level types served by or accepted by the apiserver, besides RESOURCES' kinds. */
const EXTRA_KINDS: { group: string; version: string; kind: string }[] = [
  { group: "", version: "v1", kind: "Binding" },
  { group: "policy", version: "v1", kind: "Eviction" },
  { group: "autoscaling", version: "v1", kind: "Scale" },
];

const CLASS_NAME = /^([A-Z][a-z]+)?(V\d+(?:alpha\d+|beta\d+)?)([A-Z]\w*)$/;

export function packageOf(group: string): string {
  if (group === "apiregistration.k8s.io") return "io.k8s.kube-aggregator.pkg.apis.apiregistration";
  if (group === "apiextensions.k8s.io") return "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions";
  return `io.k8s.api.${group === "" ? "core" : group.split(".")[0]}`;
}

function groupPrefix(group: string): string {
  if (group === "") return "Core";
  const first = group.split(".")[0]!;
  return first.charAt(0).toUpperCase() + first.slice(1);
}

function classVersion(version: string): string {
  return version.charAt(0).toUpperCase() + version.slice(1);
}

// ---------------------------------------------------------------- reading the models

interface AttributeType {
  name: string;
  baseName: string;
  type: string;
  format: string;
}

interface ClassDoc {
  description?: string;
  fields: Map<string, { description?: string; required: boolean }>;
}

let modelsDir: string | undefined;
let modelFiles: Set<string> | undefined;

function models(): { dir: string; files: Set<string> } {
  if (!modelsDir || !modelFiles) {
    const require = createRequire(import.meta.url);
    modelsDir = dirname(require.resolve("@kubernetes/client-node/dist/gen/models/ObjectSerializer.js"));
    modelFiles = new Set(readdirSync(modelsDir));
  }
  return { dir: modelsDir, files: modelFiles };
}

export function hasModelClass(className: string): boolean {
  return models().files.has(`${className}.js`);
}

export function readAttributeTypeMap(className: string): AttributeType[] {
  const text = readFileSync(join(models().dir, `${className}.js`), "utf8");
  const m = /\.attributeTypeMap = (\[[\s\S]*?\n\]);/.exec(text);
  if (!m) return [];
  return JSON.parse(m[1]!) as AttributeType[];
}

function unescapeDoc(s: string): string {
  return s.replace(/\\(["'\\`])/g, "$1").trim();
}

/** Class and field descriptions, and required fields, from a model's .d.ts (JSDoc blocks + `?`). */
export function readClassDoc(className: string): ClassDoc {
  const text = readFileSync(join(models().dir, `${className}.d.ts`), "utf8");
  const out: ClassDoc = { fields: new Map() };
  let doc: string[] | undefined;
  let pending: string | undefined;
  let inClass = false;
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (doc) {
      if (t === "*/" || t.endsWith("*/")) {
        const last = t.replace(/\*\/$/, "").replace(/^\* ?/, "");
        if (last) doc.push(last);
        pending = unescapeDoc(doc.join("\n")) || undefined;
        doc = undefined;
      } else {
        doc.push(t.replace(/^\* ?/, ""));
      }
      continue;
    }
    if (t.startsWith("/**")) {
      doc = [];
      continue;
    }
    if (t.startsWith("export declare class ")) {
      out.description = pending;
      pending = undefined;
      inClass = true;
      continue;
    }
    if (inClass) {
      if (t.startsWith("static ")) break;
      const f = /^'([^']+)'(\?)?:/.exec(t);
      if (f) {
        out.fields.set(f[1]!, { description: pending, required: !f[2] });
        pending = undefined;
        continue;
      }
    }
    if (t) pending = undefined;
  }
  return out;
}

// ---------------------------------------------------------------- the definitions table

interface Built {
  defs: Map<string, Definition>;
  /** "apiVersion/kind" -> definition name */
  byGVK: Map<string, string>;
  /** class name -> definition name */
  byClass: Map<string, string>;
  buildMs: number;
}

let built: Built | undefined;

function scalarDefinitions(): Definition[] {
  const d = (name: string, description: string, scalar: Definition["scalar"]): Definition => ({
    name,
    description,
    properties: {},
    required: [],
    gvk: [],
    scalar,
  });
  return [
    d(
      TIME,
      "Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON. It is serialized as an RFC 3339 date and time in UTC.",
      { type: "string", format: "date-time" },
    ),
    d(MICRO_TIME, "MicroTime is version of Time with microsecond level precision.", {
      type: "string",
      format: "date-time",
    }),
    d(
      INT_OR_STRING,
      "IntOrString is a type that can hold an int32 or a string. When used in JSON or YAML marshalling and unmarshalling, it produces or consumes the inner type. This allows you to have, for example, a JSON field that can accept a name or number.",
      { type: "string", format: "int-or-string", oneOf: ["integer", "string"] },
    ),
    d(
      QUANTITY,
      'Quantity is a fixed-point representation of a number, written as a decimal number with an optional suffix: binary SI (Ki, Mi, Gi, Ti, Pi, Ei), decimal SI (n, u, m, "", k, M, G, T, P, E) or a decimal exponent (e or E followed by an integer), for example "100m", "1.5Gi" or "1e3".',
      { type: "string", oneOf: ["string", "number"] },
    ),
    d(
      FIELDS_V1,
      "FieldsV1 stores a set of fields in a data structure like a Trie, in JSON format. Each key is either a '.' representing the field itself, or a string of the form f:<name>, v:<value>, k:<keys> or i:<index>.",
      { type: "object" },
    ),
    d(
      RAW_EXTENSION,
      "RawExtension is used to hold extensions in external versions: an embedded object, serialized as it is.",
      { type: "object" },
    ),
    d(PATCH, "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.", {
      type: "object",
    }),
  ];
}

function build(): Built {
  const start = performance.now();
  const defs = new Map<string, Definition>();
  const byClass = new Map<string, string>();
  const byGVK = new Map<string, string>();
  for (const s of scalarDefinitions()) defs.set(s.name, s);

  const classGroup = new Map<string, string>();

  const nameOfClass = (className: string, seedGroup: string): string => {
    const known = byClass.get(className);
    if (known) return known;
    const m = CLASS_NAME.exec(className);
    if (!m) throw new Error(`schema: cannot parse model class name ${className}`);
    const [, prefix, ver, base] = m as unknown as [string, string | undefined, string, string];
    const version = ver.toLowerCase();
    let name: string;
    if (!prefix && version === "v1" && META_TYPES.has(base)) {
      name = `${META_PKG}.${base}`;
    } else {
      let group: string;
      if (prefix) {
        const g = PREFIX_GROUP[prefix];
        if (g === undefined) throw new Error(`schema: unknown model class prefix ${prefix} (${className})`);
        group = g;
      } else {
        group = GROUP_OVERRIDES[className] ?? seedGroup;
      }
      classGroup.set(className, group);
      name = `${packageOf(group)}.${version}.${base}`;
    }
    byClass.set(className, name);
    return name;
  };

  const queue: { className: string; group: string }[] = [];
  const seen = new Set<string>();
  const enqueue = (className: string, group: string): string => {
    const name = nameOfClass(className, group);
    if (!seen.has(className)) {
      seen.add(className);
      queue.push({ className, group: classGroup.get(className) ?? group });
    }
    return name;
  };

  const parseType = (type: string, format: string, owner: string, prop: string, group: string): TypeRef => {
    const arr = /^Array<(.+)>$/.exec(type);
    if (arr) return { type: "array", items: parseType(arr[1]!, format, owner, prop, group) };
    const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
    if (map) return { type: "map", values: parseType(map[1]!, format, owner, prop, group) };
    switch (type) {
      case "string":
        if (isQuantityField(owner, prop)) return { ref: QUANTITY };
        return format ? { type: "string", format } : { type: "string" };
      case "number":
        if (format === "int32" || format === "int64") return { type: "integer", format };
        return format ? { type: "number", format } : { type: "number" };
      case "boolean":
        return { type: "boolean" };
      case "V1MicroTime":
        return { ref: MICRO_TIME };
      case "Date":
        return { ref: format === "date-time-micro" ? MICRO_TIME : TIME };
      case "IntOrString":
        return { ref: INT_OR_STRING };
      case "any":
        return { ref: FIELDS_V1_FIELDS[owner]?.includes(prop) ? FIELDS_V1 : RAW_EXTENSION };
      default:
        if (!hasModelClass(type)) throw new Error(`schema: unknown model type ${type} (${owner}.${prop})`);
        return { ref: enqueue(type, group) };
    }
  };

  const drain = () => {
    while (queue.length > 0) {
      const { className, group } = queue.shift()!;
      const name = byClass.get(className)!;
      const doc = readClassDoc(className);
      const def: Definition = {
        name,
        description: doc.description,
        properties: {},
        required: [],
        gvk: [],
        className,
      };
      if (ATOMIC_STRUCTS.has(name)) def.mapType = "atomic";
      defs.set(name, def);
      for (const a of readAttributeTypeMap(className)) {
        const fieldDoc = doc.fields.get(a.name);
        const type = parseType(a.type, a.format, name, a.baseName, group);
        let description = fieldDoc?.description;
        // client-node copies IntOrString's own description onto each IntOrString field
        if (a.type === "IntOrString" && description?.startsWith("IntOrString is a type"))
          description = undefined;
        const prop: PropertyDefinition = { type };
        if (description) prop.description = description;
        const patch = patchMetaFor(name, a.baseName);
        if (patch) prop.patch = patch;
        def.properties[a.baseName] = prop;
        if (fieldDoc?.required) def.required.push(a.baseName);
      }
    }
  };

  const classFor = (group: string, version: string, kind: string): string | undefined => {
    const v = classVersion(version);
    for (const c of [`${groupPrefix(group)}${v}${kind}`, `${v}${kind}`]) if (hasModelClass(c)) return c;
    return undefined;
  };

  const addGVK = (defName: string, gvk: GroupVersionKind) => {
    const def = defs.get(defName)!;
    if (!def.gvk.some((x) => x.group === gvk.group && x.version === gvk.version && x.kind === gvk.kind)) {
      def.gvk.push(gvk);
    }
    const apiVersion = gvk.group === "" ? gvk.version : `${gvk.group}/${gvk.version}`;
    byGVK.set(`${apiVersion}/${gvk.kind}`, defName);
  };

  const addKind = (group: string, version: string, kind: string) => {
    for (const k of [kind, `${kind}List`]) {
      const c = classFor(group, version, k);
      if (!c) {
        if (k === kind) throw new Error(`schema: no client-node model for ${group}/${version} ${kind}`);
        continue;
      }
      const name = enqueue(c, group);
      drain();
      addGVK(name, { group, version, kind: k });
    }
  };

  // core first: types shared between core and other groups (PodSpec, ObjectReference, ...) are core's
  const served = [...RESOURCES].sort((a, b) => Number(a.group !== "") - Number(b.group !== ""));
  for (const r of served) addKind(r.group, r.version, r.kind);
  for (const x of EXTRA_KINDS) {
    const c = classFor(x.group, x.version, x.kind)!;
    const name = enqueue(c, x.group);
    drain();
    addGVK(name, x);
  }

  // meta/v1 kinds accepted in every served group-version
  const status = enqueue("V1Status", "");
  const deleteOptions = enqueue("V1DeleteOptions", "");
  const watchEvent = enqueue("V1WatchEvent", "");
  drain();
  addGVK(status, { group: "", version: "v1", kind: "Status" });
  const gvs = new Map<string, GroupVersionKind>();
  for (const r of [...RESOURCES, ...EXTRA_KINDS]) gvs.set(`${r.group}/${r.version}`, { ...r, kind: "" });
  for (const gv of gvs.values()) {
    addGVK(deleteOptions, { group: gv.group, version: gv.version, kind: "DeleteOptions" });
    addGVK(watchEvent, { group: gv.group, version: gv.version, kind: "WatchEvent" });
  }
  for (const def of defs.values()) {
    def.gvk.sort((a, b) => a.group.localeCompare(b.group) || a.version.localeCompare(b.version));
  }

  return { defs, byGVK, byClass, buildMs: performance.now() - start };
}

function table(): Built {
  built ??= build();
  return built;
}

/** every definition reachable from the served kinds, by upstream name (built on first use, cached) */
export function definitions(): ReadonlyMap<string, Definition> {
  return table().defs;
}

/** milliseconds the first build of the table took (undefined until built) */
export function schemaBuildMs(): number | undefined {
  return built?.buildMs;
}

/** upstream definition name for a kind, e.g. ("apps/v1", "Deployment") -> io.k8s.api.apps.v1.Deployment */
export function definitionName(apiVersion: string, kind: string): string | undefined {
  return table().byGVK.get(`${apiVersion}/${kind}`);
}

/** upstream definition name of a client-node model class that has been read (V1PodSpec -> ...core.v1.PodSpec) */
export function definitionNameOfClass(className: string): string | undefined {
  return table().byClass.get(className);
}

// ---------------------------------------------------------------- the SchemaNode graph

const nodes = new Map<string, SchemaNode>();

/** the SchemaNode of a definition (shared: one node per definition; the graph may be cyclic) */
export function schemaForDefinition(name: string): SchemaNode | undefined {
  const cached = nodes.get(name);
  if (cached) return cached;
  const def = table().defs.get(name);
  if (!def) return undefined;
  const common = { definition: name, ...(def.description ? { description: def.description } : {}) };
  if (def.scalar) {
    let node: SchemaNode;
    if (name === INT_OR_STRING) node = { type: "any", format: "int-or-string", ...common };
    else if (name === QUANTITY) node = { type: "any", format: "quantity", ...common };
    else if (def.scalar.type === "string") node = { type: "string", format: def.scalar.format, ...common };
    else node = { type: "any", ...common };
    nodes.set(name, node);
    return node;
  }
  const node: ObjectNode = { type: "object", fields: {}, ...common };
  if (def.required.length > 0) node.required = [...def.required];
  if (def.mapType) node.mapType = def.mapType;
  nodes.set(name, node);
  for (const [prop, p] of Object.entries(def.properties)) {
    node.fields[prop] = nodeForType(p.type, p.description, p.patch);
  }
  return node;
}

function nodeForType(
  t: TypeRef,
  description: string | undefined,
  patch: FieldPatchMeta | undefined,
): SchemaNode {
  const desc = description ? { description } : {};
  if ("ref" in t) {
    const shared = schemaForDefinition(t.ref)!;
    if (patch?.patchStrategy && shared.type === "object")
      return { ...shared, patchStrategy: patch.patchStrategy };
    return shared;
  }
  if (t.type === "array") {
    const node: ArrayNode = { type: "array", items: nodeForType(t.items, undefined, undefined), ...desc };
    if (patch?.patchStrategy) node.patchStrategy = patch.patchStrategy;
    if (patch?.patchMergeKey) node.patchMergeKey = patch.patchMergeKey;
    if (patch?.listType) node.listType = patch.listType;
    if (patch?.listMapKeys) node.listMapKeys = [...patch.listMapKeys];
    return node;
  }
  if (t.type === "map") {
    const node: MapNode = { type: "map", values: nodeForType(t.values, undefined, undefined), ...desc };
    if (patch?.mapType) node.mapType = patch.mapType;
    return node;
  }
  return t.format ? { type: t.type, format: t.format, ...desc } : { type: t.type, ...desc };
}

/**
 * The schema of a kind served (or accepted) by the apiserver: every kind in RESOURCES and
 * its List, Scale (autoscaling/v1), Binding (v1), Eviction (policy/v1), Status (v1), and
 * DeleteOptions / WatchEvent in every served group-version.
 */
export function schemaForKind(apiVersion: string, kind: string): ObjectNode | undefined {
  const name = definitionName(apiVersion, kind);
  if (!name) return undefined;
  const node = schemaForDefinition(name);
  return node?.type === "object" ? node : undefined;
}
