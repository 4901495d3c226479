/**
 * A walkable view of the Kubernetes type schemas, built once from the OpenAPI definitions
 * (see schema.ts). Validation, defaulting, strategic merge patch and server-side apply
 * all walk these nodes. The graph may be cyclic (JSONSchemaProps), so never deep-copy it.
 */

export type SchemaNode = ObjectNode | MapNode | ArrayNode | PrimitiveNode | AnyNode;

export interface NodeCommon {
  description?: string;
  /** the OpenAPI definition name this node came from, e.g. "io.k8s.api.core.v1.PodSpec" */
  definition?: string;
}

export interface ObjectNode extends NodeCommon {
  type: "object";
  fields: Record<string, SchemaNode>;
  required?: string[];
  /** x-kubernetes-map-type on a struct: "atomic" structs (+structType=atomic) are replaced whole by apply */
  mapType?: "atomic" | "granular";
  /**
   * x-kubernetes-patch-strategy on a struct-typed field, e.g. "retainKeys" on DeploymentSpec.strategy.
   * Set only on a shallow per-field copy of the definition's node (the copy shares `fields`).
   */
  patchStrategy?: string;
}

export interface MapNode extends NodeCommon {
  type: "map";
  values: SchemaNode;
  /** x-kubernetes-map-type: "atomic" maps are replaced whole by apply */
  mapType?: "atomic" | "granular";
}

export interface ArrayNode extends NodeCommon {
  type: "array";
  items: SchemaNode;
  /** x-kubernetes-patch-strategy, e.g. "merge" or "merge,retainKeys" */
  patchStrategy?: string;
  /** x-kubernetes-patch-merge-key */
  patchMergeKey?: string;
  /** x-kubernetes-list-type */
  listType?: "atomic" | "set" | "map";
  /** x-kubernetes-list-map-keys */
  listMapKeys?: string[];
}

export interface PrimitiveNode extends NodeCommon {
  type: "string" | "integer" | "number" | "boolean";
  format?: string;
}

/** IntOrString, Quantity, RawExtension, JSON, free-form objects: accepted as they are */
export interface AnyNode extends NodeCommon {
  type: "any";
  /** int-or-string, quantity, ... */
  format?: string;
}
