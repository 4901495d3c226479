/**
 * The table of every resource the apiserver serves. Discovery, routing, OpenAPI,
 * storage keys and Table printing all read from here, so a resource is added in one place.
 */

export type Verb = "create" | "delete" | "deletecollection" | "get" | "list" | "patch" | "update" | "watch";

export interface ResourceInfo {
  /** "" for the core group */
  group: string;
  version: string;
  /** plural, lower case: "pods" */
  resource: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  verbs: Verb[];
  shortNames?: string[];
  categories?: string[];
  /** subresources served under /<resource>/<name>/<sub> */
  subresources?: Subresource[];
  /**
   * Resources that are the same objects seen through another version share storage:
   * the key prefix is /registry/<storageResource>, and the stored form is this version's
   * unless `storedAs` names another entry ("autoscaling/v2" for autoscaling/v1 HPAs).
   */
  storedAs?: { group: string; version: string };
  /** the prefix under /registry used for keys; defaults to group-qualified resource */
  storagePrefix: string;
}

export interface Subresource {
  name: "status" | "scale" | "binding" | "eviction" | "log";
  kind: string;
  group?: string;
  version?: string;
  verbs: Verb[];
}

const ALL: Verb[] = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const NO_COLLECTION: Verb[] = ["create", "delete", "get", "list", "patch", "update", "watch"];
const STATUS: Subresource = { name: "status", kind: "", verbs: ["get", "patch", "update"] };

function r(
  group: string,
  version: string,
  resource: string,
  kind: string,
  namespaced: boolean,
  extra: Partial<ResourceInfo> = {},
): ResourceInfo {
  const info: ResourceInfo = {
    group,
    version,
    resource,
    singular: kind.toLowerCase(),
    kind,
    namespaced,
    verbs: ALL,
    storagePrefix: group === "" ? resource : `${group}/${resource}`,
    ...extra,
  };
  info.subresources = info.subresources?.map((s) => ({ ...s, kind: s.kind || kind }));
  return info;
}

const scale: Subresource = {
  name: "scale",
  kind: "Scale",
  group: "autoscaling",
  version: "v1",
  verbs: ["get", "patch", "update"],
};

export const RESOURCES: readonly ResourceInfo[] = [
  r("", "v1", "namespaces", "Namespace", false, {
    shortNames: ["ns"],
    verbs: NO_COLLECTION,
    subresources: [STATUS],
  }),
  r("", "v1", "pods", "Pod", true, {
    shortNames: ["po"],
    categories: ["all"],
    subresources: [
      STATUS,
      { name: "binding", kind: "Binding", verbs: ["create"] },
      { name: "eviction", kind: "Eviction", group: "policy", version: "v1", verbs: ["create"] },
      { name: "log", kind: "Pod", verbs: ["get"] },
    ],
  }),
  r("", "v1", "services", "Service", true, {
    shortNames: ["svc"],
    categories: ["all"],
    subresources: [STATUS],
  }),
  r("", "v1", "endpoints", "Endpoints", true, { shortNames: ["ep"], singular: "endpoints" }),
  r("", "v1", "nodes", "Node", false, { shortNames: ["no"], subresources: [STATUS] }),
  r("", "v1", "configmaps", "ConfigMap", true, { shortNames: ["cm"] }),
  r("", "v1", "secrets", "Secret", true),
  r("", "v1", "serviceaccounts", "ServiceAccount", true, { shortNames: ["sa"] }),
  r("", "v1", "events", "Event", true, { shortNames: ["ev"], storagePrefix: "events" }),
  r("events.k8s.io", "v1", "events", "Event", true, {
    shortNames: ["ev"],
    storagePrefix: "events",
    storedAs: { group: "", version: "v1" },
  }),
  r("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true),
  r("coordination.k8s.io", "v1", "leases", "Lease", true),
  r("apps", "v1", "deployments", "Deployment", true, {
    shortNames: ["deploy"],
    categories: ["all"],
    subresources: [STATUS, scale],
  }),
  r("apps", "v1", "replicasets", "ReplicaSet", true, {
    shortNames: ["rs"],
    categories: ["all"],
    subresources: [STATUS, scale],
  }),
  r("apps", "v1", "daemonsets", "DaemonSet", true, {
    shortNames: ["ds"],
    categories: ["all"],
    subresources: [STATUS],
  }),
  r("networking.k8s.io", "v1", "ingresses", "Ingress", true, { shortNames: ["ing"], subresources: [STATUS] }),
  r("networking.k8s.io", "v1", "ingressclasses", "IngressClass", false),
  r("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true, {
    shortNames: ["hpa"],
    categories: ["all"],
    subresources: [STATUS],
  }),
  r("autoscaling", "v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true, {
    shortNames: ["hpa"],
    categories: ["all"],
    subresources: [STATUS],
    storedAs: { group: "autoscaling", version: "v2" },
  }),
  r("apiregistration.k8s.io", "v1", "apiservices", "APIService", false, { subresources: [STATUS] }),
  r("rbac.authorization.k8s.io", "v1", "roles", "Role", true),
  r("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false),
  r("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true),
  r("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false),
];

export function apiVersionOf(info: Pick<ResourceInfo, "group" | "version">): string {
  return info.group === "" ? info.version : `${info.group}/${info.version}`;
}

export function findResource(group: string, version: string, resource: string): ResourceInfo | undefined {
  return RESOURCES.find((x) => x.group === group && x.version === version && x.resource === resource);
}

export function findByKind(apiVersion: string, kind: string): ResourceInfo | undefined {
  return RESOURCES.find((x) => apiVersionOf(x) === apiVersion && x.kind === kind);
}

/** group -> versions, preferred (first listed in RESOURCES order for v1 over v2 etc. handled here) first */
export function groupVersions(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const x of RESOURCES) {
    const list = out.get(x.group) ?? [];
    if (!list.includes(x.version)) list.push(x.version);
    out.set(x.group, list);
  }
  return out;
}
