/**
 * Hand-built schema fixtures for the patch tests (a slice of core/v1 Pod and apps/v1
 * Deployment with the upstream patch metadata), independent of api/schema.ts.
 */
import type { ArrayNode, MapNode, ObjectNode, SchemaNode } from "../schema-types.js";

const str: SchemaNode = { type: "string" };
const int: SchemaNode = { type: "integer" };
const bool: SchemaNode = { type: "boolean" };
const intOrString: SchemaNode = { type: "any", format: "int-or-string" };
const quantity: SchemaNode = { type: "any", format: "quantity" };
const stringMap: MapNode = { type: "map", values: str };

function obj(fields: Record<string, SchemaNode>, extra: Partial<ObjectNode> = {}): ObjectNode {
  return { type: "object", fields, ...extra };
}
function list(items: SchemaNode, extra: Partial<ArrayNode> = {}): ArrayNode {
  return { type: "array", items, ...extra };
}
function mergeList(items: SchemaNode, key: string, mapKeys: string[] = [key], strategy = "merge"): ArrayNode {
  return list(items, { patchStrategy: strategy, patchMergeKey: key, listType: "map", listMapKeys: mapKeys });
}

export const objectMeta = obj({
  name: str,
  generateName: str,
  namespace: str,
  uid: str,
  resourceVersion: str,
  generation: int,
  creationTimestamp: str,
  labels: stringMap,
  annotations: stringMap,
  finalizers: list(str, { patchStrategy: "merge", listType: "set" }),
  ownerReferences: mergeList(
    obj({ apiVersion: str, kind: str, name: str, uid: str, controller: bool, blockOwnerDeletion: bool }),
    "uid",
  ),
  managedFields: list(
    obj({
      manager: str,
      operation: str,
      apiVersion: str,
      time: str,
      fieldsType: str,
      fieldsV1: { type: "any" },
      subresource: str,
    }),
    { listType: "atomic" },
  ),
});

const envVar = obj({
  name: str,
  value: str,
  valueFrom: obj({ fieldRef: obj({ apiVersion: str, fieldPath: str }, { mapType: "atomic" }) }),
});

const containerPort = obj({ name: str, containerPort: int, protocol: str, hostPort: int, hostIP: str });

export const container = obj({
  name: str,
  image: str,
  imagePullPolicy: str,
  command: list(str, { listType: "atomic" }),
  args: list(str, { listType: "atomic" }),
  env: mergeList(envVar, "name"),
  ports: mergeList(containerPort, "containerPort", ["containerPort", "protocol"]),
  resources: obj({ limits: { type: "map", values: quantity }, requests: { type: "map", values: quantity } }),
  volumeMounts: mergeList(obj({ name: str, mountPath: str, readOnly: bool }), "mountPath"),
  terminationMessagePath: str,
});

const volume = obj({
  name: str,
  emptyDir: obj({ medium: str, sizeLimit: quantity }),
  configMap: obj({ name: str, optional: bool }),
  hostPath: obj({ path: str, type: str }),
});

export const podSpec = obj({
  containers: mergeList(container, "name"),
  initContainers: mergeList(container, "name"),
  volumes: mergeList(volume, "name", ["name"], "merge,retainKeys"),
  nodeSelector: { type: "map", values: str, mapType: "atomic" },
  restartPolicy: str,
  hostname: str,
  tolerations: list(obj({ key: str, operator: str, value: str, effect: str }), { listType: "atomic" }),
});

export const podTemplateSpec = obj({ metadata: objectMeta, spec: podSpec });

const labelSelector = obj(
  {
    matchLabels: stringMap,
    matchExpressions: list(obj({ key: str, operator: str, values: list(str, { listType: "atomic" }) }), {
      listType: "atomic",
    }),
  },
  { mapType: "atomic" },
);

const condition = obj({ type: str, status: str, reason: str, message: str, lastTransitionTime: str });

export const deploymentSchema = obj({
  apiVersion: str,
  kind: str,
  metadata: objectMeta,
  spec: obj({
    replicas: int,
    selector: labelSelector,
    template: podTemplateSpec,
    strategy: obj(
      { type: str, rollingUpdate: obj({ maxSurge: intOrString, maxUnavailable: intOrString }) },
      { patchStrategy: "retainKeys" },
    ),
    minReadySeconds: int,
    revisionHistoryLimit: int,
    paused: bool,
  }),
  status: obj({
    replicas: int,
    readyReplicas: int,
    observedGeneration: int,
    conditions: mergeList(condition, "type"),
  }),
});

export const podSchema = obj({
  apiVersion: str,
  kind: str,
  metadata: objectMeta,
  spec: podSpec,
  status: obj({ phase: str, podIP: str, conditions: mergeList(condition, "type") }),
});
