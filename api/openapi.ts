/**
 * The OpenAPI documents the apiserver publishes, built from the definitions table of
 * schema.ts and the resource table of resources.ts:
 *
 * - `openapiV2()`: one Swagger 2.0 document (GET /openapi/v2, as JSON).
 * - `openapiV3Index()` / `openapiV3GroupVersion(gv)`: GET /openapi/v3 and
 *   /openapi/v3/api/v1, /openapi/v3/apis/apps/v1, ... (one document per group-version,
 *   with only the schemas its paths reach).
 *
 * kubectl reads them for `explain` (v3, falling back to v2), client-side `apply` (patch
 * metadata: x-kubernetes-patch-strategy / -merge-key), and to learn whether the server
 * supports ?fieldValidation= and ?dryRun= (a PATCH operation carrying the kind's
 * x-kubernetes-group-version-kind and those query parameters).
 *
 * Documents are built on first use and cached; they are plain JSON-able objects and must
 * be treated as read-only.
 */

import { createHash } from "node:crypto";
import { apiVersionOf, RESOURCES, type ResourceInfo, type Subresource } from "./resources.js";
import {
  type Definition,
  definitionName,
  definitions,
  type GroupVersionKind,
  PATCH,
  type PropertyDefinition,
  type TypeRef,
} from "./schema.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

type Flavor = "v2" | "v3";

const STATUS = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const DELETE_OPTIONS = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";

function refTo(flavor: Flavor, name: string): string {
  return flavor === "v2" ? `#/definitions/${name}` : `#/components/schemas/${name}`;
}

// ---------------------------------------------------------------- schemas

function typeSchema(flavor: Flavor, t: TypeRef): JsonObject {
  if ("ref" in t) return { $ref: refTo(flavor, t.ref) };
  if (t.type === "array") return { type: "array", items: typeSchema(flavor, t.items) };
  if (t.type === "map") return { type: "object", additionalProperties: typeSchema(flavor, t.values) };
  return t.format ? { type: t.type, format: t.format } : { type: t.type };
}

function propertySchema(flavor: Flavor, p: PropertyDefinition): JsonObject {
  let out = typeSchema(flavor, p.type);
  if (p.description) {
    // v2 (as upstream publishes it) allows siblings next to $ref; v3 needs allOf
    if ("$ref" in out && flavor === "v3") out = { allOf: [out] };
    out = { description: p.description, ...out };
  }
  const m = p.patch;
  if (m) {
    if (m.listMapKeys) out["x-kubernetes-list-map-keys"] = [...m.listMapKeys];
    if (m.listType) out["x-kubernetes-list-type"] = m.listType;
    if (m.mapType) out["x-kubernetes-map-type"] = m.mapType;
    if (m.patchMergeKey) out["x-kubernetes-patch-merge-key"] = m.patchMergeKey;
    if (m.patchStrategy) out["x-kubernetes-patch-strategy"] = m.patchStrategy;
    if ("$ref" in out && flavor === "v3")
      out = { allOf: [{ $ref: out.$ref as string }], ...without(out, "$ref") };
  }
  return out;
}

function without(o: JsonObject, key: string): JsonObject {
  const { [key]: _drop, ...rest } = o;
  return rest;
}

function gvkJson(gvk: GroupVersionKind): JsonObject {
  return { group: gvk.group, kind: gvk.kind, version: gvk.version };
}

function definitionSchema(flavor: Flavor, def: Definition): JsonObject {
  const out: JsonObject = {};
  if (def.description) out.description = def.description;
  if (def.scalar) {
    if (flavor === "v3" && def.scalar.oneOf) {
      if (def.scalar.format) out.format = def.scalar.format;
      out.oneOf = def.scalar.oneOf.map((type) => ({ type }));
    } else {
      out.type = def.scalar.type;
      if (def.scalar.format) out.format = def.scalar.format;
    }
    return out;
  }
  const properties: JsonObject = {};
  for (const name of Object.keys(def.properties).sort()) {
    properties[name] = propertySchema(flavor, def.properties[name]!);
  }
  if (def.required.length > 0) out.required = [...def.required].sort();
  out.type = "object";
  out.properties = properties;
  if (def.gvk.length > 0) out["x-kubernetes-group-version-kind"] = def.gvk.map(gvkJson);
  if (def.mapType) out["x-kubernetes-map-type"] = def.mapType;
  return out;
}

// ---------------------------------------------------------------- paths

interface Operation {
  method: "get" | "post" | "put" | "patch" | "delete";
  action: "get" | "list" | "post" | "put" | "patch" | "delete" | "deletecollection";
  operationId: string;
  description: string;
  gvk: GroupVersionKind;
  /** request body definition (post/put), PATCH for patch */
  body?: string;
  /** response definition, or "string" for plain text (logs) */
  response: string;
  query: string[];
}

interface PathItem {
  path: string;
  gv: string;
  tag: string;
  pathParams: string[];
  ops: Operation[];
}

const LIST_QUERY = [
  "allowWatchBookmarks",
  "continue",
  "fieldSelector",
  "labelSelector",
  "limit",
  "resourceVersion",
  "resourceVersionMatch",
  "sendInitialEvents",
  "timeoutSeconds",
  "watch",
];
const WRITE_QUERY = ["dryRun", "fieldManager", "fieldValidation"];
const PATCH_QUERY = ["dryRun", "fieldManager", "fieldValidation", "force"];
const DELETE_QUERY = [
  "dryRun",
  "gracePeriodSeconds",
  "ignoreStoreReadErrorWithClusterBreakingPotential",
  "orphanDependents",
  "propagationPolicy",
];

const PARAM_DOC: Record<string, { description: string; type: "string" | "boolean" | "integer" }> = {
  allowWatchBookmarks: {
    type: "boolean",
    description: 'allowWatchBookmarks requests watch events with type "BOOKMARK".',
  },
  continue: {
    type: "string",
    description: "The continue option should be set when retrieving more results from the server.",
  },
  dryRun: {
    type: "string",
    description: "When present, indicates that modifications should not be persisted. Valid value: All.",
  },
  fieldManager: {
    type: "string",
    description: "fieldManager is a name associated with the actor or entity that is making these changes.",
  },
  fieldSelector: {
    type: "string",
    description: "A selector to restrict the list of returned objects by their fields.",
  },
  fieldValidation: {
    type: "string",
    description:
      "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields: Ignore, Warn (default) or Strict.",
  },
  force: {
    type: "boolean",
    description: 'Force is going to "force" Apply requests. It must be unset for non-apply patch requests.',
  },
  gracePeriodSeconds: {
    type: "integer",
    description: "The duration in seconds before the object should be deleted.",
  },
  ignoreStoreReadErrorWithClusterBreakingPotential: {
    type: "boolean",
    description:
      "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow fails with a corrupt object error.",
  },
  labelSelector: {
    type: "string",
    description: "A selector to restrict the list of returned objects by their labels.",
  },
  limit: {
    type: "integer",
    description: "limit is a maximum number of responses to return for a list call.",
  },
  name: { type: "string", description: "name of the object" },
  namespace: { type: "string", description: "object name and auth scope, such as for teams and projects" },
  orphanDependents: { type: "boolean", description: "Deprecated: please use the PropagationPolicy." },
  pretty: { type: "string", description: "If 'true', then the output is pretty printed." },
  propagationPolicy: {
    type: "string",
    description: "Whether and how garbage collection will be performed: Orphan, Background or Foreground.",
  },
  resourceVersion: {
    type: "string",
    description: "resourceVersion sets a constraint on what resource versions a request may be served from.",
  },
  resourceVersionMatch: {
    type: "string",
    description: "resourceVersionMatch determines how resourceVersion is applied to list calls.",
  },
  sendInitialEvents: {
    type: "boolean",
    description: "`sendInitialEvents=true` may be set together with `watch=true`.",
  },
  timeoutSeconds: { type: "integer", description: "Timeout for the list/watch call." },
  watch: {
    type: "boolean",
    description:
      "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.",
  },
  container: { type: "string", description: "The container for which to stream logs." },
  follow: { type: "boolean", description: "Follow the log stream of the pod." },
  previous: { type: "boolean", description: "Return previous terminated container logs." },
  tailLines: { type: "integer", description: "The number of lines from the end of the logs to show." },
  timestamps: {
    type: "boolean",
    description: "If true, add an RFC3339 timestamp at the beginning of every line of log output.",
  },
  sinceSeconds: {
    type: "integer",
    description: "A relative time in seconds before the current time from which to show logs.",
  },
};

/** upstream's operation-id fragment for a group-version: "CoreV1", "RbacAuthorizationV1", ... */
function gvWord(group: string, version: string): string {
  const base = group === "" ? "core" : group.replace(/\.k8s\.io$/, "");
  const words = base.split(".").map((w) => w.charAt(0).toUpperCase() + w.slice(1));
  return words.join("") + version.charAt(0).toUpperCase() + version.slice(1);
}

function gvTag(group: string, version: string): string {
  const base = group === "" ? "core" : group.replace(/\.k8s\.io$/, "");
  const parts = base.split(".");
  return parts.map((w, i) => (i === 0 ? w : w.charAt(0).toUpperCase() + w.slice(1))).join("") + `_${version}`;
}

function gvPath(gv: string): string {
  return gv.includes("/") ? `apis/${gv}` : `api/${gv}`;
}

function must(apiVersion: string, kind: string): string {
  const name = definitionName(apiVersion, kind);
  if (!name) throw new Error(`openapi: no definition for ${apiVersion} ${kind}`);
  return name;
}

function resourcePaths(r: ResourceInfo): PathItem[] {
  const gv = apiVersionOf(r);
  const root = `/${gvPath(gv)}`;
  const w = gvWord(r.group, r.version);
  const tag = gvTag(r.group, r.version);
  const ns = r.namespaced ? "Namespaced" : "";
  const gvk: GroupVersionKind = { group: r.group, version: r.version, kind: r.kind };
  const kindDef = must(gv, r.kind);
  const listDef = must(gv, `${r.kind}List`);
  const collection = r.namespaced ? `${root}/namespaces/{namespace}/${r.resource}` : `${root}/${r.resource}`;
  const scopeParams = r.namespaced ? ["namespace"] : [];
  const has = (v: string) => r.verbs.includes(v as ResourceInfo["verbs"][number]);
  const out: PathItem[] = [];

  const collOps: Operation[] = [];
  if (has("list")) {
    collOps.push({
      method: "get",
      action: "list",
      operationId: `list${w}${ns}${r.kind}`,
      description: `list or watch objects of kind ${r.kind}`,
      gvk,
      response: listDef,
      query: LIST_QUERY,
    });
  }
  if (has("create")) {
    collOps.push({
      method: "post",
      action: "post",
      operationId: `create${w}${ns}${r.kind}`,
      description: `create a ${r.kind}`,
      gvk,
      body: kindDef,
      response: kindDef,
      query: WRITE_QUERY,
    });
  }
  if (has("deletecollection")) {
    collOps.push({
      method: "delete",
      action: "deletecollection",
      operationId: `delete${w}Collection${ns}${r.kind}`,
      description: `delete collection of ${r.kind}`,
      gvk,
      body: DELETE_OPTIONS,
      response: STATUS,
      query: [...DELETE_QUERY, ...LIST_QUERY.filter((q) => q !== "watch" && q !== "allowWatchBookmarks")],
    });
  }
  out.push({ path: collection, gv, tag, pathParams: scopeParams, ops: collOps });

  if (r.namespaced && has("list")) {
    out.push({
      path: `${root}/${r.resource}`,
      gv,
      tag,
      pathParams: [],
      ops: [
        {
          method: "get",
          action: "list",
          operationId: `list${w}${r.kind}ForAllNamespaces`,
          description: `list or watch objects of kind ${r.kind}`,
          gvk,
          response: listDef,
          query: LIST_QUERY,
        },
      ],
    });
  }

  const item = `${collection}/{name}`;
  const itemParams = ["name", ...scopeParams];
  const itemOps: Operation[] = [];
  if (has("get")) {
    itemOps.push({
      method: "get",
      action: "get",
      operationId: `read${w}${ns}${r.kind}`,
      description: `read the specified ${r.kind}`,
      gvk,
      response: kindDef,
      query: [],
    });
  }
  if (has("update")) {
    itemOps.push({
      method: "put",
      action: "put",
      operationId: `replace${w}${ns}${r.kind}`,
      description: `replace the specified ${r.kind}`,
      gvk,
      body: kindDef,
      response: kindDef,
      query: WRITE_QUERY,
    });
  }
  if (has("patch")) {
    itemOps.push({
      method: "patch",
      action: "patch",
      operationId: `patch${w}${ns}${r.kind}`,
      description: `partially update the specified ${r.kind}`,
      gvk,
      body: PATCH,
      response: kindDef,
      query: PATCH_QUERY,
    });
  }
  if (has("delete")) {
    itemOps.push({
      method: "delete",
      action: "delete",
      operationId: `delete${w}${ns}${r.kind}`,
      description: `delete a ${r.kind}`,
      gvk,
      body: DELETE_OPTIONS,
      response: STATUS,
      query: DELETE_QUERY,
    });
  }
  out.push({ path: item, gv, tag, pathParams: itemParams, ops: itemOps });

  for (const sub of r.subresources ?? []) out.push(subresourcePath(r, sub, item, itemParams, gv, tag, w, ns));
  return out;
}

function subresourcePath(
  r: ResourceInfo,
  sub: Subresource,
  item: string,
  itemParams: string[],
  gv: string,
  tag: string,
  w: string,
  ns: string,
): PathItem {
  const group = sub.group ?? r.group;
  const version = sub.version ?? r.version;
  const gvk: GroupVersionKind = { group, version, kind: sub.kind };
  const subGV = group === "" ? version : `${group}/${version}`;
  const Sub = sub.name.charAt(0).toUpperCase() + sub.name.slice(1);
  const base = `${ns}${r.kind}${Sub}`;
  const ops: Operation[] = [];
  if (sub.name === "log") {
    ops.push({
      method: "get",
      action: "get",
      operationId: `read${w}${base}`,
      description: `read log of the specified ${r.kind}`,
      gvk: { group: r.group, version: r.version, kind: r.kind },
      response: "string",
      query: ["container", "follow", "previous", "sinceSeconds", "tailLines", "timestamps"],
    });
    return { path: `${item}/log`, gv, tag, pathParams: itemParams, ops };
  }
  const def = must(subGV, sub.kind);
  const verbs = new Set(sub.verbs);
  if (verbs.has("get")) {
    ops.push({
      method: "get",
      action: "get",
      operationId: `read${w}${base}`,
      description: `read ${sub.name} of the specified ${r.kind}`,
      gvk,
      response: def,
      query: [],
    });
  }
  if (verbs.has("create")) {
    ops.push({
      method: "post",
      action: "post",
      operationId: `create${w}${base}`,
      description: `create ${sub.name} of a ${r.kind}`,
      gvk,
      body: def,
      response: def,
      query: WRITE_QUERY,
    });
  }
  if (verbs.has("update")) {
    ops.push({
      method: "put",
      action: "put",
      operationId: `replace${w}${base}`,
      description: `replace ${sub.name} of the specified ${r.kind}`,
      gvk,
      body: def,
      response: def,
      query: WRITE_QUERY,
    });
  }
  if (verbs.has("patch")) {
    ops.push({
      method: "patch",
      action: "patch",
      operationId: `patch${w}${base}`,
      description: `partially update ${sub.name} of the specified ${r.kind}`,
      gvk,
      body: PATCH,
      response: def,
      query: PATCH_QUERY,
    });
  }
  return { path: `${item}/${sub.name}`, gv, tag, pathParams: itemParams, ops };
}

let allPaths: PathItem[] | undefined;

function paths(): PathItem[] {
  allPaths ??= RESOURCES.flatMap(resourcePaths);
  return allPaths;
}

const PATCH_TYPES = [
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
  "application/apply-patch+yaml",
];
const PRODUCES = ["application/json", "application/yaml"];

function parameterV2(name: string, inPath: boolean): JsonObject {
  const doc = PARAM_DOC[name]!;
  const p: JsonObject = {
    description: doc.description,
    in: inPath ? "path" : "query",
    name,
    type: doc.type,
    uniqueItems: true,
  };
  if (inPath) p.required = true;
  return p;
}

function parameterV3(name: string, inPath: boolean): JsonObject {
  const doc = PARAM_DOC[name]!;
  const p: JsonObject = {
    description: doc.description,
    in: inPath ? "path" : "query",
    name,
    schema: { type: doc.type, uniqueItems: true },
  };
  if (inPath) p.required = true;
  return p;
}

function responseSchema(flavor: Flavor, response: string): JsonObject {
  return response === "string" ? { type: "string" } : { $ref: refTo(flavor, response) };
}

function operationV2(op: Operation, tag: string): JsonObject {
  const parameters: Json[] = [];
  if (op.body) {
    parameters.push({
      in: "body",
      name: "body",
      required: op.method !== "delete",
      schema: { $ref: refTo("v2", op.body) },
    });
  }
  for (const q of op.query) parameters.push(parameterV2(q, false));
  const responses: JsonObject = { "200": { description: "OK", schema: responseSchema("v2", op.response) } };
  if (op.method === "post" || op.method === "put" || op.action === "patch") {
    responses["201"] = { description: "Created", schema: responseSchema("v2", op.response) };
  }
  if (op.method === "post" || op.method === "delete") {
    responses["202"] = { description: "Accepted", schema: responseSchema("v2", op.response) };
  }
  responses["401"] = { description: "Unauthorized" };
  const out: JsonObject = {
    consumes: op.method === "patch" ? PATCH_TYPES : ["*/*"],
    description: op.description,
    operationId: op.operationId,
    parameters,
    produces: op.response === "string" ? ["text/plain", ...PRODUCES] : PRODUCES,
    responses,
    schemes: ["https"],
    tags: [tag],
    "x-kubernetes-action": op.action,
    "x-kubernetes-group-version-kind": gvkJson(op.gvk),
  };
  return out;
}

function operationV3(op: Operation, tag: string): JsonObject {
  const content = (schema: JsonObject, types: string[]): JsonObject =>
    Object.fromEntries(types.map((t) => [t, { schema }]));
  const out: JsonObject = {
    tags: [tag],
    description: op.description,
    operationId: op.operationId,
    parameters: op.query.map((q) => parameterV3(q, false)),
  };
  if (op.body) {
    const schema = { $ref: refTo("v3", op.body) };
    out.requestBody = {
      content: content(schema, op.method === "patch" ? PATCH_TYPES : ["*/*"]),
      required: op.method !== "delete",
    };
  }
  const types = op.response === "string" ? ["text/plain", ...PRODUCES] : PRODUCES;
  const body = { content: content(responseSchema("v3", op.response), types) };
  const responses: JsonObject = { "200": { description: "OK", ...body } };
  if (op.method === "post" || op.method === "put" || op.action === "patch")
    responses["201"] = { description: "Created", ...body };
  if (op.method === "post" || op.method === "delete") responses["202"] = { description: "Accepted", ...body };
  responses["401"] = { description: "Unauthorized" };
  out.responses = responses;
  out["x-kubernetes-action"] = op.action;
  out["x-kubernetes-group-version-kind"] = gvkJson(op.gvk);
  return out;
}

function pathsObject(flavor: Flavor, items: PathItem[]): JsonObject {
  const out: JsonObject = {};
  for (const p of items) {
    if (p.ops.length === 0) continue;
    const entry: JsonObject = {};
    for (const op of p.ops)
      entry[op.method] = flavor === "v2" ? operationV2(op, p.tag) : operationV3(op, p.tag);
    const params = p.pathParams.map((n) => (flavor === "v2" ? parameterV2(n, true) : parameterV3(n, true)));
    params.push(flavor === "v2" ? parameterV2("pretty", false) : parameterV3("pretty", false));
    entry.parameters = params;
    out[p.path] = entry;
  }
  return out;
}

/** definitions referenced (transitively) from the operations of these paths */
function reachable(items: PathItem[]): string[] {
  const defs = definitions();
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    const def = defs.get(name);
    if (!def) throw new Error(`openapi: dangling reference ${name}`);
    seen.add(name);
    for (const p of Object.values(def.properties)) visitType(p.type);
  };
  const visitType = (t: TypeRef) => {
    if ("ref" in t) visit(t.ref);
    else if (t.type === "array") visitType(t.items);
    else if (t.type === "map") visitType(t.values);
  };
  for (const p of items) {
    for (const op of p.ops) {
      if (op.body) visit(op.body);
      if (op.response !== "string") visit(op.response);
    }
  }
  return [...seen].sort();
}

// ---------------------------------------------------------------- documents

const INFO = { title: "Kubernetes", version: "unversioned" };

let v2Doc: JsonObject | undefined;

/** The Swagger 2.0 document for GET /openapi/v2: every definition, and every served path. */
export function openapiV2(): JsonObject {
  if (v2Doc) return v2Doc;
  const defs = definitions();
  const definitionsObj: JsonObject = {};
  for (const name of [...defs.keys()].sort()) definitionsObj[name] = definitionSchema("v2", defs.get(name)!);
  v2Doc = {
    swagger: "2.0",
    info: INFO,
    paths: pathsObject("v2", paths()),
    definitions: definitionsObj,
    securityDefinitions: {
      BearerToken: {
        description: "Bearer Token authentication",
        in: "header",
        name: "authorization",
        type: "apiKey",
      },
    },
    security: [{ BearerToken: [] }],
  };
  return v2Doc;
}

const v3Docs = new Map<string, JsonObject>();
let v3Index: { paths: Record<string, { serverRelativeURL: string }> } | undefined;

/** served group-versions as OpenAPI v3 path keys: "api/v1", "apis/apps/v1", ... */
export function openapiV3Paths(): string[] {
  return [...new Set(RESOURCES.map((r) => gvPath(apiVersionOf(r))))];
}

/**
 * The OpenAPI v3 document of one group-version, for GET /openapi/v3/<gv>; `gv` is the path
 * key ("api/v1", "apis/apps/v1"; a leading "/" is ignored). Undefined when not served.
 */
export function openapiV3GroupVersion(gv: string): JsonObject | undefined {
  const key = gv.replace(/^\/+/, "").replace(/\/+$/, "");
  const cached = v3Docs.get(key);
  if (cached) return cached;
  const items = paths().filter((p) => gvPath(p.gv) === key);
  if (items.length === 0) return undefined;
  const defs = definitions();
  const schemas: JsonObject = {};
  for (const name of reachable(items)) schemas[name] = definitionSchema("v3", defs.get(name)!);
  const doc: JsonObject = {
    openapi: "3.0.0",
    info: INFO,
    paths: pathsObject("v3", items),
    components: {
      schemas,
      securitySchemes: {
        BearerToken: {
          description: "Bearer Token authentication",
          in: "header",
          name: "authorization",
          type: "apiKey",
        },
      },
    },
  };
  v3Docs.set(key, doc);
  return doc;
}

/** The index for GET /openapi/v3: each group-version's document URL, with its content hash. */
export function openapiV3Index(): { paths: Record<string, { serverRelativeURL: string }> } {
  if (v3Index) return v3Index;
  const out: Record<string, { serverRelativeURL: string }> = {};
  for (const key of openapiV3Paths()) {
    const doc = openapiV3GroupVersion(key)!;
    out[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${documentHash(doc)}` };
  }
  v3Index = { paths: out };
  return v3Index;
}

/** sha512 of the JSON serialization, upper-case hex (as upstream's ?hash= and ETag) */
export function documentHash(doc: unknown): string {
  return createHash("sha512").update(JSON.stringify(doc)).digest("hex").toUpperCase();
}

// ---------------------------------------------------------------- OpenAPI v2 as protobuf

/**
 * kubectl (client-go's OpenAPISchema) fetches /openapi/v2 only as
 * `application/com.github.proto-openapi.spec.v2@v1.0+protobuf`: the gnostic openapi_v2.Document
 * message. This encodes the v2 document in that form (field numbers from gnostic's
 * OpenAPIv2.proto; vendor extensions carry their value as YAML text, here JSON, which YAML reads).
 */
export const OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/** the Content-Type to answer with ("@" is not valid in a media type, so upstream returns ".v1.0") */
export const OPENAPI_V2_PROTOBUF_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

class ProtoWriter {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.size += b.length;
  }

  private varint(n: number): void {
    const out: number[] = [];
    let v = n;
    while (v > 0x7f) {
      out.push((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(v);
    this.push(Uint8Array.from(out));
  }

  string(field: number, s: string | undefined): this {
    if (!s) return this;
    const b = Buffer.from(s, "utf8");
    this.varint((field << 3) | 2);
    this.varint(b.length);
    this.push(b);
    return this;
  }

  strings(field: number, list: readonly string[] | undefined): this {
    for (const s of list ?? []) {
      const b = Buffer.from(s, "utf8");
      this.varint((field << 3) | 2);
      this.varint(b.length);
      this.push(b);
    }
    return this;
  }

  bool(field: number, v: boolean | undefined): this {
    if (!v) return this;
    this.varint(field << 3);
    this.varint(1);
    return this;
  }

  message(field: number, m: ProtoWriter | undefined): this {
    if (!m) return this;
    const b = m.finish();
    this.varint((field << 3) | 2);
    this.varint(b.length);
    this.push(b);
    return this;
  }

  finish(): Uint8Array {
    return Buffer.concat(this.parts, this.size);
  }
}

const w = () => new ProtoWriter();

function str(v: Json | undefined): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function obj(v: Json | undefined): JsonObject | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? v : undefined;
}

function strList(v: Json | undefined): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function vendorExtensions(m: ProtoWriter, field: number, o: JsonObject): void {
  for (const [k, v] of Object.entries(o)) {
    if (!k.startsWith("x-")) continue;
    m.message(
      field,
      w()
        .string(1, k)
        .message(2, w().string(2, JSON.stringify(v))),
    );
  }
}

function schemaProto(s: JsonObject): ProtoWriter {
  const m = w().string(1, str(s.$ref)).string(2, str(s.format)).string(4, str(s.description));
  m.bool(16, s.uniqueItems === true);
  m.strings(19, strList(s.required));
  const ap = obj(s.additionalProperties);
  if (ap) m.message(21, w().message(1, schemaProto(ap)));
  if (typeof s.type === "string") m.message(22, w().strings(1, [s.type]));
  const items = obj(s.items);
  if (items) m.message(23, w().message(1, schemaProto(items)));
  if (Array.isArray(s.allOf)) for (const a of s.allOf) m.message(24, schemaProto(obj(a) ?? {}));
  const props = obj(s.properties);
  if (props) {
    const p = w();
    for (const [name, v] of Object.entries(props))
      p.message(
        1,
        w()
          .string(1, name)
          .message(2, schemaProto(obj(v) ?? {})),
      );
    m.message(25, p);
  }
  vendorExtensions(m, 31, s);
  return m;
}

function parameterProto(p: JsonObject): ProtoWriter {
  if (p.in === "body") {
    const body = w()
      .string(1, str(p.description))
      .string(2, str(p.name))
      .string(3, "body")
      .bool(4, p.required === true);
    body.message(5, schemaProto(obj(p.schema) ?? {}));
    return w().message(1, w().message(1, body));
  }
  const inPath = p.in === "path";
  const sub = w()
    .bool(1, p.required === true)
    .string(2, str(p.in))
    .string(3, str(p.description))
    .string(4, str(p.name));
  // query: type 6, unique_items 20; path: type 5, unique_items 19
  sub.string(inPath ? 5 : 6, str(p.type)).bool(inPath ? 19 : 20, p.uniqueItems === true);
  return w().message(1, w().message(2, w().message(inPath ? 4 : 3, sub)));
}

function operationProto(op: JsonObject): ProtoWriter {
  const m = w().strings(1, strList(op.tags)).string(3, str(op.description)).string(5, str(op.operationId));
  m.strings(6, strList(op.produces)).strings(7, strList(op.consumes));
  for (const p of Array.isArray(op.parameters) ? op.parameters : [])
    m.message(8, parameterProto(obj(p) ?? {}));
  const responses = w();
  for (const [code, r] of Object.entries(obj(op.responses) ?? {})) {
    const ro = obj(r) ?? {};
    const resp = w().string(1, str(ro.description));
    const schema = obj(ro.schema);
    if (schema) resp.message(2, w().message(1, schemaProto(schema)));
    responses.message(1, w().string(1, code).message(2, w().message(1, resp)));
  }
  m.message(9, responses);
  m.strings(10, strList(op.schemes));
  vendorExtensions(m, 13, op);
  return m;
}

const PATH_ITEM_FIELDS: Record<string, number> = {
  get: 2,
  put: 3,
  post: 4,
  delete: 5,
  options: 6,
  head: 7,
  patch: 8,
};

function documentProto(doc: JsonObject): Uint8Array {
  const info = obj(doc.info) ?? {};
  const m = w()
    .string(1, str(doc.swagger))
    .message(2, w().string(1, str(info.title)).string(2, str(info.version)));
  const pathsMsg = w();
  for (const [path, item] of Object.entries(obj(doc.paths) ?? {})) {
    const io = obj(item) ?? {};
    const pi = w();
    for (const [method, field] of Object.entries(PATH_ITEM_FIELDS)) {
      const op = obj(io[method]);
      if (op) pi.message(field, operationProto(op));
    }
    for (const p of Array.isArray(io.parameters) ? io.parameters : [])
      pi.message(9, parameterProto(obj(p) ?? {}));
    pathsMsg.message(2, w().string(1, path).message(2, pi));
  }
  m.message(8, pathsMsg);
  const defs = w();
  for (const [name, s] of Object.entries(obj(doc.definitions) ?? {})) {
    defs.message(
      1,
      w()
        .string(1, name)
        .message(2, schemaProto(obj(s) ?? {})),
    );
  }
  m.message(9, defs);
  for (const req of Array.isArray(doc.security) ? doc.security : []) {
    const r = w();
    for (const [name, scopes] of Object.entries(obj(req) ?? {})) {
      r.message(
        1,
        w()
          .string(1, name)
          .message(2, w().strings(1, strList(scopes))),
      );
    }
    m.message(12, r);
  }
  const sd = w();
  for (const [name, d] of Object.entries(obj(doc.securityDefinitions) ?? {})) {
    const o = obj(d) ?? {};
    const key = w()
      .string(1, str(o.type))
      .string(2, str(o.name))
      .string(3, str(o.in))
      .string(4, str(o.description));
    sd.message(1, w().string(1, name).message(2, w().message(2, key)));
  }
  m.message(13, sd);
  return m.finish();
}

let v2Proto: Uint8Array | undefined;

/** openapiV2() encoded as the gnostic openapi_v2.Document protobuf message (cached). */
export function openapiV2Protobuf(): Uint8Array {
  v2Proto ??= documentProto(openapiV2());
  return v2Proto;
}
