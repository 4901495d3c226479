/**
 * Facts from the upstream OpenAPI spec that the @kubernetes/client-node models do not
 * carry: the x-kubernetes-* merge metadata used by strategic merge patch and server-side
 * apply, which string fields are really resource.Quantity, and which "any" fields are
 * FieldsV1. Hand-kept, for the definitions reachable from the kinds kubeplane serves
 * (api/resources.ts). Keys are upstream definition names; values are per-property facts.
 *
 * Source: kubernetes api/openapi-spec (swagger.json, v3/*.json), release 1.36, which is
 * generated from the +patchStrategy / +patchMergeKey / +listType / +listMapKey /
 * +mapType / +structType markers in the Go types.
 */

export interface FieldPatchMeta {
  /** x-kubernetes-patch-strategy: "merge", "retainKeys", "merge,retainKeys" */
  patchStrategy?: string;
  /** x-kubernetes-patch-merge-key */
  patchMergeKey?: string;
  /** x-kubernetes-list-type */
  listType?: "atomic" | "set" | "map";
  /** x-kubernetes-list-map-keys */
  listMapKeys?: string[];
  /** x-kubernetes-map-type (maps and struct-typed fields) */
  mapType?: "atomic" | "granular";
}

const CORE = "io.k8s.api.core.v1.";
const META = "io.k8s.apimachinery.pkg.apis.meta.v1.";
const APPS = "io.k8s.api.apps.v1.";
const DISCOVERY = "io.k8s.api.discovery.v1.";
const NETWORKING = "io.k8s.api.networking.v1.";
const AUTOSCALING2 = "io.k8s.api.autoscaling.v2.";
const RBAC = "io.k8s.api.rbac.v1.";
const APIREG = "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.";

const atomic: FieldPatchMeta = { listType: "atomic" };
const set: FieldPatchMeta = { listType: "set" };
const atomicMap: FieldPatchMeta = { mapType: "atomic" };

/** a list-map merged by strategic merge patch on `key`; SSA keys default to [key] */
function merged(key: string, mapKeys: string[] = [key], strategy = "merge"): FieldPatchMeta {
  return { patchStrategy: strategy, patchMergeKey: key, listType: "map", listMapKeys: mapKeys };
}

/** a list-map for SSA only (no strategic merge key: SMP replaces it) */
function listMap(...keys: string[]): FieldPatchMeta {
  return { listType: "map", listMapKeys: keys };
}

const conditions = merged("type");

const containerLists: Record<string, FieldPatchMeta> = {
  args: atomic,
  command: atomic,
  env: merged("name"),
  envFrom: atomic,
  ports: merged("containerPort", ["containerPort", "protocol"]),
  resizePolicy: atomic,
  restartPolicyRules: atomic,
  volumeDevices: merged("devicePath"),
  volumeMounts: merged("mountPath"),
};

/** definition name -> property name -> merge facts */
export const PATCH_META: Readonly<Record<string, Readonly<Record<string, FieldPatchMeta>>>> = {
  // --- meta/v1
  [`${META}ObjectMeta`]: {
    finalizers: { patchStrategy: "merge", listType: "set" },
    managedFields: atomic,
    ownerReferences: merged("uid"),
  },
  [`${META}LabelSelector`]: { matchExpressions: atomic },
  [`${META}LabelSelectorRequirement`]: { values: atomic },
  [`${META}StatusDetails`]: { causes: atomic },
  [`${META}DeleteOptions`]: { dryRun: atomic },

  // --- core/v1: pods
  [`${CORE}PodSpec`]: {
    containers: merged("name"),
    ephemeralContainers: merged("name"),
    hostAliases: merged("ip"),
    imagePullSecrets: merged("name"),
    initContainers: merged("name"),
    nodeSelector: atomicMap,
    readinessGates: atomic,
    resourceClaims: merged("name", ["name"], "merge,retainKeys"),
    schedulingGates: merged("name"),
    tolerations: atomic,
    topologySpreadConstraints: merged("topologyKey", ["topologyKey", "whenUnsatisfiable"]),
    volumes: merged("name", ["name"], "merge,retainKeys"),
  },
  [`${CORE}Container`]: containerLists,
  [`${CORE}EphemeralContainer`]: containerLists,
  [`${CORE}PodStatus`]: {
    conditions,
    containerStatuses: atomic,
    ephemeralContainerStatuses: atomic,
    hostIPs: { patchStrategy: "merge", patchMergeKey: "ip", listType: "atomic" },
    initContainerStatuses: atomic,
    podIPs: merged("ip"),
    resourceClaimStatuses: merged("name", ["name"], "merge,retainKeys"),
  },
  [`${CORE}ContainerStatus`]: {
    allocatedResourcesStatus: listMap("name"),
    volumeMounts: merged("mountPath"),
  },
  [`${CORE}ResourceStatus`]: { resources: listMap("resourceID") },
  [`${CORE}PodSecurityContext`]: { supplementalGroups: atomic, sysctls: atomic },
  [`${CORE}Capabilities`]: { add: atomic, drop: atomic },
  [`${CORE}PodDNSConfig`]: { nameservers: atomic, options: atomic, searches: atomic },
  [`${CORE}HostAlias`]: { hostnames: atomic },
  [`${CORE}ResourceRequirements`]: { claims: listMap("name") },
  [`${CORE}ExecAction`]: { command: atomic },
  [`${CORE}HTTPGetAction`]: { httpHeaders: atomic },
  [`${CORE}NodeSelector`]: { nodeSelectorTerms: atomic },
  [`${CORE}NodeSelectorTerm`]: { matchExpressions: atomic, matchFields: atomic },
  [`${CORE}NodeSelectorRequirement`]: { values: atomic },
  [`${CORE}NodeAffinity`]: { preferredDuringSchedulingIgnoredDuringExecution: atomic },
  [`${CORE}PodAffinity`]: {
    preferredDuringSchedulingIgnoredDuringExecution: atomic,
    requiredDuringSchedulingIgnoredDuringExecution: atomic,
  },
  [`${CORE}PodAntiAffinity`]: {
    preferredDuringSchedulingIgnoredDuringExecution: atomic,
    requiredDuringSchedulingIgnoredDuringExecution: atomic,
  },
  [`${CORE}PodAffinityTerm`]: { matchLabelKeys: atomic, mismatchLabelKeys: atomic, namespaces: atomic },
  [`${CORE}TopologySpreadConstraint`]: { matchLabelKeys: atomic },
  [`${CORE}ConfigMapVolumeSource`]: { items: atomic },
  [`${CORE}SecretVolumeSource`]: { items: atomic },
  [`${CORE}DownwardAPIVolumeSource`]: { items: atomic },
  [`${CORE}ConfigMapProjection`]: { items: atomic },
  [`${CORE}SecretProjection`]: { items: atomic },
  [`${CORE}DownwardAPIProjection`]: { items: atomic },
  [`${CORE}ProjectedVolumeSource`]: { sources: atomic },
  [`${CORE}PersistentVolumeClaimSpec`]: { accessModes: atomic },
  [`${CORE}CephFSVolumeSource`]: { monitors: atomic },
  [`${CORE}RBDVolumeSource`]: { monitors: atomic },
  [`${CORE}ISCSIVolumeSource`]: { portals: atomic },
  [`${CORE}FCVolumeSource`]: { targetWWNs: atomic, wwids: atomic },

  // --- core/v1: services, endpoints, nodes, namespaces, service accounts
  [`${CORE}ServiceSpec`]: {
    clusterIPs: atomic,
    externalIPs: atomic,
    ipFamilies: atomic,
    loadBalancerSourceRanges: atomic,
    ports: merged("port", ["port", "protocol"]),
    selector: atomicMap,
  },
  [`${CORE}ServiceStatus`]: { conditions: merged("type") },
  [`${CORE}LoadBalancerStatus`]: { ingress: atomic },
  [`${CORE}LoadBalancerIngress`]: { ports: atomic },
  [`${CORE}Endpoints`]: { subsets: atomic },
  [`${CORE}EndpointSubset`]: { addresses: atomic, notReadyAddresses: atomic, ports: atomic },
  [`${CORE}NodeSpec`]: { podCIDRs: { patchStrategy: "merge", listType: "set" }, taints: atomic },
  [`${CORE}NodeStatus`]: {
    addresses: merged("type"),
    conditions,
    images: atomic,
    runtimeHandlers: atomic,
    volumesAttached: atomic,
    volumesInUse: atomic,
  },
  [`${CORE}ContainerImage`]: { names: atomic },
  [`${CORE}NamespaceSpec`]: { finalizers: atomic },
  [`${CORE}NamespaceStatus`]: { conditions },
  [`${CORE}ServiceAccount`]: { imagePullSecrets: atomic, secrets: merged("name") },

  // --- apps/v1
  [`${APPS}DeploymentSpec`]: { strategy: { patchStrategy: "retainKeys" } },
  [`${APPS}DeploymentStatus`]: { conditions },
  [`${APPS}ReplicaSetStatus`]: { conditions },
  [`${APPS}DaemonSetStatus`]: { conditions },

  // --- discovery.k8s.io/v1
  [`${DISCOVERY}EndpointSlice`]: { endpoints: atomic, ports: atomic },
  [`${DISCOVERY}Endpoint`]: { addresses: set },
  [`${DISCOVERY}EndpointHints`]: { forNodes: atomic, forZones: atomic },

  // --- networking.k8s.io/v1
  [`${NETWORKING}IngressSpec`]: { rules: atomic, tls: atomic },
  [`${NETWORKING}IngressTLS`]: { hosts: atomic },
  [`${NETWORKING}HTTPIngressRuleValue`]: { paths: atomic },
  [`${NETWORKING}IngressLoadBalancerStatus`]: { ingress: atomic },
  [`${NETWORKING}IngressLoadBalancerIngress`]: { ports: atomic },

  // --- autoscaling/v2
  [`${AUTOSCALING2}HorizontalPodAutoscalerSpec`]: { metrics: atomic },
  [`${AUTOSCALING2}HorizontalPodAutoscalerStatus`]: { conditions, currentMetrics: atomic },
  [`${AUTOSCALING2}HPAScalingRules`]: { policies: atomic },

  // --- rbac.authorization.k8s.io/v1
  [`${RBAC}Role`]: { rules: atomic },
  [`${RBAC}ClusterRole`]: { rules: atomic },
  [`${RBAC}AggregationRule`]: { clusterRoleSelectors: atomic },
  [`${RBAC}PolicyRule`]: {
    apiGroups: atomic,
    nonResourceURLs: atomic,
    resourceNames: atomic,
    resources: atomic,
    verbs: atomic,
  },
  [`${RBAC}RoleBinding`]: { subjects: atomic },
  [`${RBAC}ClusterRoleBinding`]: { subjects: atomic },

  // --- apiregistration.k8s.io/v1
  [`${APIREG}APIServiceStatus`]: { conditions },
};

/**
 * Definitions whose Go struct is marked +structType=atomic, published as
 * "x-kubernetes-map-type": "atomic" on the definition: apply replaces them whole.
 */
export const ATOMIC_STRUCTS: ReadonlySet<string> = new Set([
  `${META}LabelSelector`,
  `${META}OwnerReference`,
  `${CORE}ConfigMapKeySelector`,
  `${CORE}LocalObjectReference`,
  `${CORE}NodeSelector`,
  `${CORE}NodeSelectorTerm`,
  `${CORE}ObjectFieldSelector`,
  `${CORE}ObjectReference`,
  `${CORE}ResourceFieldSelector`,
  `${CORE}SecretKeySelector`,
  `${CORE}TypedLocalObjectReference`,
  `${CORE}TypedObjectReference`,
  `${CORE}FileKeySelector`,
  `${RBAC}RoleRef`,
  `${RBAC}Subject`,
]);

/**
 * Properties whose upstream type is io.k8s.apimachinery.pkg.api.resource.Quantity
 * (directly, or as the value type of a map); the client-node models flatten them to string.
 */
export const QUANTITY_FIELDS: Readonly<Record<string, readonly string[]>> = {
  [`${CORE}ResourceRequirements`]: ["limits", "requests"],
  [`${CORE}VolumeResourceRequirements`]: ["limits", "requests"],
  [`${CORE}NodeStatus`]: ["allocatable", "capacity"],
  [`${CORE}PodSpec`]: ["overhead"],
  [`${CORE}ContainerStatus`]: ["allocatedResources"],
  [`${CORE}EmptyDirVolumeSource`]: ["sizeLimit"],
  [`${CORE}ResourceFieldSelector`]: ["divisor"],
  [`${AUTOSCALING2}MetricTarget`]: ["averageValue", "value"],
  [`${AUTOSCALING2}MetricValueStatus`]: ["averageValue", "value"],
};

/** Properties of client-node type "any" that are meta/v1 FieldsV1 rather than runtime.RawExtension */
export const FIELDS_V1_FIELDS: Readonly<Record<string, readonly string[]>> = {
  [`${META}ManagedFieldsEntry`]: ["fieldsV1"],
};

export function patchMetaFor(definition: string, property: string): FieldPatchMeta | undefined {
  return PATCH_META[definition]?.[property];
}

export function isQuantityField(definition: string, property: string): boolean {
  return QUANTITY_FIELDS[definition]?.includes(property) ?? false;
}
