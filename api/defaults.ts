/**
 * Defaulting: the values upstream fills in (pkg/apis/<group>/<version>/defaults.go plus the
 * admission plugins every real cluster runs: DefaultTolerationSeconds and Priority), so
 * `kubectl get -o yaml` shows what it shows against a real apiserver. Mutates in place;
 * pure otherwise. Fields a later stage owns (clusterIPs/ipFamilies from the allocator,
 * status from the strategies) are not touched here.
 */
import type { KubeObject } from "./object.js";
import { asArr, isObj, type Obj } from "./validation-rules.js";

type Defaulter = (obj: KubeObject) => void;

/** fills `defaults` into `target` where absent (undefined or null) */
function fill(target: Obj, defaults: Obj): void {
  for (const [k, v] of Object.entries(defaults)) {
    if (target[k] === undefined || target[k] === null) target[k] = v;
  }
}

/** target[key] as an object, created when absent */
function child(target: Obj, key: string): Obj {
  const v = target[key];
  if (isObj(v)) return v;
  const created: Obj = {};
  target[key] = created;
  return created;
}

function objects(v: unknown): Obj[] {
  return asArr(v).filter(isObj);
}

// ---------------------------------------------------------------------------------------
// core/v1 pods and templates

/** "nginx", "nginx:latest" pull Always; a tag or a digest pulls IfNotPresent (SetDefaults_Container) */
export function defaultPullPolicy(image: string): "Always" | "IfNotPresent" {
  if (!image) return "IfNotPresent";
  if (image.includes("@")) {
    const beforeDigest = image.slice(0, image.indexOf("@"));
    const tag = tagOf(beforeDigest);
    return tag === "latest" ? "Always" : "IfNotPresent";
  }
  const tag = tagOf(image);
  return tag === undefined || tag === "latest" ? "Always" : "IfNotPresent";
}

function tagOf(ref: string): string | undefined {
  const lastSlash = ref.lastIndexOf("/");
  const lastColon = ref.lastIndexOf(":");
  return lastColon > lastSlash ? ref.slice(lastColon + 1) : undefined;
}

function defaultHTTPGet(h: unknown): void {
  if (!isObj(h)) return;
  if (!h.path) h.path = "/";
  if (!h.scheme) h.scheme = "HTTP";
}

function defaultHandler(h: unknown): void {
  if (!isObj(h)) return;
  defaultHTTPGet(h.httpGet);
}

function defaultProbe(p: unknown): void {
  if (!isObj(p)) return;
  // upstream tests for 0, so an explicit 0 is defaulted too
  const defaults: Obj = { timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 };
  for (const [k, v] of Object.entries(defaults)) if (!p[k]) p[k] = v;
  defaultHandler(p);
}

function defaultFieldRef(env: unknown): void {
  for (const e of objects(env)) {
    const from = e.valueFrom;
    if (isObj(from) && isObj(from.fieldRef) && !from.fieldRef.apiVersion) from.fieldRef.apiVersion = "v1";
  }
}

function defaultContainer(c: Obj): void {
  if (c.imagePullPolicy === undefined || c.imagePullPolicy === "") {
    c.imagePullPolicy = defaultPullPolicy(typeof c.image === "string" ? c.image : "");
  }
  if (!c.terminationMessagePath) c.terminationMessagePath = "/dev/termination-log";
  if (!c.terminationMessagePolicy) c.terminationMessagePolicy = "File";
  if (!isObj(c.resources)) c.resources = {};
  for (const p of objects(c.ports)) if (!p.protocol) p.protocol = "TCP";
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
  if (isObj(c.lifecycle)) {
    defaultHandler(c.lifecycle.postStart);
    defaultHandler(c.lifecycle.preStop);
  }
  defaultFieldRef(c.env);
}

function defaultVolume(v: Obj): void {
  for (const src of ["secret", "configMap", "downwardAPI", "projected"]) {
    const s = v[src];
    if (isObj(s) && s.defaultMode === undefined) s.defaultMode = 420;
  }
  if (isObj(v.hostPath) && v.hostPath.type === undefined) v.hostPath.type = "";
  if (isObj(v.projected)) {
    for (const source of objects(v.projected.sources)) {
      if (isObj(source.serviceAccountToken)) fill(source.serviceAccountToken, { expirationSeconds: 3600 });
    }
  }
  if (isObj(v.downwardAPI)) {
    for (const item of objects(v.downwardAPI.items))
      if (isObj(item.fieldRef) && !item.fieldRef.apiVersion) item.fieldRef.apiVersion = "v1";
  }
  // a volume without any source is an emptyDir (SetDefaults_Volume)
  if (Object.keys(v).filter((k) => k !== "name").length === 0) v.emptyDir = {};
}

/** SetDefaults_PodSpec and the per-container defaulters; applies to pods and to pod templates */
export function defaultPodSpec(spec: Obj): void {
  if (!spec.dnsPolicy) spec.dnsPolicy = "ClusterFirst";
  if (!spec.restartPolicy) spec.restartPolicy = "Always";
  if (!isObj(spec.securityContext)) spec.securityContext = {};
  if (spec.terminationGracePeriodSeconds === undefined || spec.terminationGracePeriodSeconds === null) {
    spec.terminationGracePeriodSeconds = 30;
  }
  if (!spec.schedulerName) spec.schedulerName = "default-scheduler";
  for (const c of objects(spec.containers)) defaultContainer(c);
  for (const c of objects(spec.initContainers)) defaultContainer(c);
  for (const c of objects(spec.ephemeralContainers)) defaultContainer(c);
  for (const v of objects(spec.volumes)) defaultVolume(v);
}

/** requests default to limits, per resource, on pods only (not templates) */
function defaultRequestsFromLimits(c: Obj): void {
  const res = c.resources;
  if (!isObj(res) || !isObj(res.limits)) return;
  const requests = child(res, "requests");
  for (const [k, v] of Object.entries(res.limits)) if (requests[k] === undefined) requests[k] = v;
}

/** the priority classes every cluster has; "" stands for "no class named" */
const BUILTIN_PRIORITY: Record<string, number> = {
  "": 0,
  "system-cluster-critical": 2000000000,
  "system-node-critical": 2000001000,
};

const NOT_READY = "node.kubernetes.io/not-ready";
const UNREACHABLE = "node.kubernetes.io/unreachable";

/** does an existing toleration already cover a NoExecute taint with this key */
function tolerates(t: Obj, key: string): boolean {
  const effectOk = !t.effect || t.effect === "NoExecute";
  return effectOk && (!t.key || t.key === key);
}

/** the DefaultTolerationSeconds admission plugin: tolerate not-ready/unreachable for 300 s */
function defaultTolerations(spec: Obj): void {
  const list = objects(spec.tolerations);
  const add: Obj[] = [];
  for (const key of [NOT_READY, UNREACHABLE]) {
    if (!list.some((t) => tolerates(t, key))) {
      add.push({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 });
    }
  }
  if (add.length) spec.tolerations = [...asArr(spec.tolerations), ...add];
}

const defaultPod: Defaulter = (obj) => {
  const spec = child(obj, "spec");
  for (const c of objects(spec.containers)) defaultRequestsFromLimits(c);
  for (const c of objects(spec.initContainers)) defaultRequestsFromLimits(c);
  if (spec.enableServiceLinks === undefined || spec.enableServiceLinks === null)
    spec.enableServiceLinks = true;
  // with host networking every container port is a host port (pods only, not templates)
  if (spec.hostNetwork === true) {
    for (const c of [...objects(spec.containers), ...objects(spec.initContainers)]) {
      for (const p of objects(c.ports)) {
        if (p.hostPort === undefined || p.hostPort === null || p.hostPort === 0) p.hostPort = p.containerPort;
      }
    }
  }
  defaultPodSpec(spec);
  // admission: Priority (no PriorityClass named: priority 0) and DefaultTolerationSeconds
  if (spec.priority === undefined || spec.priority === null) {
    const builtin =
      BUILTIN_PRIORITY[typeof spec.priorityClassName === "string" ? spec.priorityClassName : ""];
    if (builtin !== undefined) spec.priority = builtin;
  }
  if (!spec.preemptionPolicy) spec.preemptionPolicy = "PreemptLowerPriority";
  defaultTolerations(spec);
};

function defaultTemplate(spec: Obj): void {
  const template = spec.template;
  if (!isObj(template)) return;
  defaultPodSpec(child(template, "spec"));
}

// ---------------------------------------------------------------------------------------
// core/v1 others

const defaultService: Defaulter = (obj) => {
  const spec = child(obj, "spec");
  if (!spec.type) spec.type = "ClusterIP";
  if (!spec.sessionAffinity) spec.sessionAffinity = "None";
  if (spec.sessionAffinity === "None") delete spec.sessionAffinityConfig;
  if (spec.sessionAffinity === "ClientIP") {
    const clientIP = child(child(spec, "sessionAffinityConfig"), "clientIP");
    if (clientIP.timeoutSeconds === undefined || clientIP.timeoutSeconds === null)
      clientIP.timeoutSeconds = 10800;
  }
  for (const p of objects(spec.ports)) {
    if (!p.protocol) p.protocol = "TCP";
    if (p.targetPort === undefined || p.targetPort === null || p.targetPort === 0 || p.targetPort === "") {
      p.targetPort = p.port;
    }
  }
  // externally accessible: NodePort, LoadBalancer, or ClusterIP with externalIPs
  const externallyAccessible =
    spec.type === "NodePort" ||
    spec.type === "LoadBalancer" ||
    (spec.type === "ClusterIP" && asArr(spec.externalIPs).length > 0);
  if (externallyAccessible && !spec.externalTrafficPolicy) spec.externalTrafficPolicy = "Cluster";
  const typed = spec.type === "ClusterIP" || spec.type === "NodePort" || spec.type === "LoadBalancer";
  if (typed && !spec.internalTrafficPolicy) spec.internalTrafficPolicy = "Cluster";
  if (spec.type !== "ExternalName") {
    // keep clusterIP and clusterIPs in step as the strategy upstream does
    const ips = asArr(spec.clusterIPs).filter((x): x is string => typeof x === "string");
    if (typeof spec.clusterIP === "string" && spec.clusterIP !== "" && ips.length === 0) {
      spec.clusterIPs = [spec.clusterIP];
    } else if ((spec.clusterIP === undefined || spec.clusterIP === "") && ips.length > 0) {
      spec.clusterIP = ips[0];
    }
    // the allocator fills ipFamilies and clusterIPs; two of either mean dual-stack
    if (!spec.ipFamilyPolicy) {
      const dual = asArr(spec.ipFamilies).length > 1 || asArr(spec.clusterIPs).length > 1;
      spec.ipFamilyPolicy = dual ? "RequireDualStack" : "SingleStack";
    }
  }
  if (spec.type === "LoadBalancer") {
    if (spec.allocateLoadBalancerNodePorts === undefined || spec.allocateLoadBalancerNodePorts === null) {
      spec.allocateLoadBalancerNodePorts = true;
    }
    const lb = isObj(obj.status) ? obj.status.loadBalancer : undefined;
    if (isObj(lb)) for (const ing of objects(lb.ingress)) if (ing.ip && !ing.ipMode) ing.ipMode = "VIP";
  }
};

const defaultEndpoints: Defaulter = (obj) => {
  for (const s of objects(obj.subsets)) for (const p of objects(s.ports)) if (!p.protocol) p.protocol = "TCP";
};

/**
 * Namespaces get the "kubernetes" finalizer on create (upstream does it in the strategy, as it
 * may later be removed); an object without resourceVersion is one being created.
 */
const defaultNamespace: Defaulter = (obj) => {
  // every namespace carries its own name as a label (SetDefaults_Namespace)
  const name = obj.metadata.name;
  if (typeof name === "string" && name !== "") {
    obj.metadata.labels = { ...(obj.metadata.labels ?? {}), "kubernetes.io/metadata.name": name };
  }
  if (!obj.metadata.resourceVersion) {
    const spec = child(obj, "spec");
    const finalizers = asArr(spec.finalizers);
    if (!finalizers.includes("kubernetes")) spec.finalizers = [...finalizers, "kubernetes"];
  }
  const status = child(obj, "status");
  if (!status.phase) status.phase = "Active";
};

const defaultNode: Defaulter = (obj) => {
  const status = obj.status;
  if (!isObj(status)) return;
  if (isObj(status.capacity) && !isObj(status.allocatable)) status.allocatable = { ...status.capacity };
};

/**
 * Secrets: type Opaque, and stringData folded into data (base64) the way the v1 -> internal
 * conversion does, so the write-only stringData is never stored or shown.
 */
const defaultSecret: Defaulter = (obj) => {
  if (!obj.type) obj.type = "Opaque";
  if (isObj(obj.stringData)) {
    const data = child(obj, "data");
    for (const [k, v] of Object.entries(obj.stringData)) {
      if (typeof v === "string") data[k] = Buffer.from(v, "utf8").toString("base64");
    }
    delete obj.stringData;
  }
};

// ---------------------------------------------------------------------------------------
// apps/v1

const defaultDeployment: Defaulter = (obj) => {
  const spec = child(obj, "spec");
  if (spec.replicas === undefined || spec.replicas === null) spec.replicas = 1;
  const strategy = child(spec, "strategy");
  if (!strategy.type) strategy.type = "RollingUpdate";
  if (strategy.type === "RollingUpdate")
    fill(child(strategy, "rollingUpdate"), { maxUnavailable: "25%", maxSurge: "25%" });
  if (spec.revisionHistoryLimit === undefined || spec.revisionHistoryLimit === null)
    spec.revisionHistoryLimit = 10;
  if (spec.progressDeadlineSeconds === undefined || spec.progressDeadlineSeconds === null)
    spec.progressDeadlineSeconds = 600;
  defaultTemplate(spec);
};

const defaultReplicaSet: Defaulter = (obj) => {
  const spec = child(obj, "spec");
  if (spec.replicas === undefined || spec.replicas === null) spec.replicas = 1;
  defaultTemplate(spec);
};

const defaultDaemonSet: Defaulter = (obj) => {
  const spec = child(obj, "spec");
  const strategy = child(spec, "updateStrategy");
  if (!strategy.type) strategy.type = "RollingUpdate";
  if (strategy.type === "RollingUpdate")
    fill(child(strategy, "rollingUpdate"), { maxUnavailable: 1, maxSurge: 0 });
  if (spec.revisionHistoryLimit === undefined || spec.revisionHistoryLimit === null)
    spec.revisionHistoryLimit = 10;
  defaultTemplate(spec);
};

// ---------------------------------------------------------------------------------------
// other groups

const defaultEndpointSlice: Defaulter = (obj) => {
  for (const p of objects(obj.ports)) {
    if (p.name === undefined || p.name === null) p.name = "";
    if (!p.protocol) p.protocol = "TCP";
  }
};

const defaultIngressClass: Defaulter = (obj) => {
  const spec = obj.spec;
  if (isObj(spec) && isObj(spec.parameters) && !spec.parameters.scope) spec.parameters.scope = "Cluster";
};

/** the scale-up/scale-down rules autoscaling/v2 fills in when `behavior` is given */
export function defaultScalingRules(direction: "scaleUp" | "scaleDown", rules: unknown): Obj {
  const r: Obj = isObj(rules) ? rules : {};
  if (!r.selectPolicy) r.selectPolicy = "Max";
  if (
    direction === "scaleUp" &&
    (r.stabilizationWindowSeconds === undefined || r.stabilizationWindowSeconds === null)
  ) {
    r.stabilizationWindowSeconds = 0;
  }
  if (r.policies === undefined || r.policies === null) {
    r.policies =
      direction === "scaleUp"
        ? [
            { type: "Pods", value: 4, periodSeconds: 15 },
            { type: "Percent", value: 100, periodSeconds: 15 },
          ]
        : [{ type: "Percent", value: 100, periodSeconds: 15 }];
  }
  return r;
}

const defaultHPAv2: Defaulter = (obj) => {
  const spec = child(obj, "spec");
  if (spec.minReplicas === undefined || spec.minReplicas === null) spec.minReplicas = 1;
  if (asArr(spec.metrics).length === 0) {
    spec.metrics = [
      {
        type: "Resource",
        resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 80 } },
      },
    ];
  }
  if (isObj(spec.behavior)) {
    spec.behavior.scaleUp = defaultScalingRules("scaleUp", spec.behavior.scaleUp);
    spec.behavior.scaleDown = defaultScalingRules("scaleDown", spec.behavior.scaleDown);
  }
};

const defaultHPAv1: Defaulter = (obj) => {
  const spec = child(obj, "spec");
  if (spec.minReplicas === undefined || spec.minReplicas === null) spec.minReplicas = 1;
};

const RBAC_GROUP = "rbac.authorization.k8s.io";

function defaultSubjects(obj: KubeObject): void {
  for (const s of objects(obj.subjects)) {
    if (s.apiGroup !== undefined && s.apiGroup !== "") continue;
    if (s.kind === "ServiceAccount") s.apiGroup = "";
    else if (s.kind === "User" || s.kind === "Group") s.apiGroup = RBAC_GROUP;
  }
}

const defaultBinding: Defaulter = (obj) => {
  if (isObj(obj.roleRef) && !obj.roleRef.apiGroup) obj.roleRef.apiGroup = RBAC_GROUP;
  defaultSubjects(obj);
};

const defaultAPIService: Defaulter = (obj) => {
  const spec = obj.spec;
  if (isObj(spec) && isObj(spec.service) && (spec.service.port === undefined || spec.service.port === null))
    spec.service.port = 443;
};

const DEFAULTERS: Record<string, Defaulter> = {
  "v1/Pod": defaultPod,
  "v1/Service": defaultService,
  "v1/Endpoints": defaultEndpoints,
  "v1/Namespace": defaultNamespace,
  "v1/Node": defaultNode,
  "v1/Secret": defaultSecret,
  "apps/v1/Deployment": defaultDeployment,
  "apps/v1/ReplicaSet": defaultReplicaSet,
  "apps/v1/DaemonSet": defaultDaemonSet,
  "discovery.k8s.io/v1/EndpointSlice": defaultEndpointSlice,
  "networking.k8s.io/v1/IngressClass": defaultIngressClass,
  "autoscaling/v2/HorizontalPodAutoscaler": defaultHPAv2,
  "autoscaling/v1/HorizontalPodAutoscaler": defaultHPAv1,
  "rbac.authorization.k8s.io/v1/RoleBinding": defaultBinding,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": defaultBinding,
  "apiregistration.k8s.io/v1/APIService": defaultAPIService,
};

/** Fills upstream's defaults into `obj` (in the version `apiVersion` names). Unknown kinds are left alone. */
export function applyDefaults(apiVersion: string, kind: string, obj: KubeObject): void {
  if (!isObj(obj)) return;
  if (!isObj(obj.metadata)) obj.metadata = {};
  DEFAULTERS[`${apiVersion}/${kind}`]?.(obj);
}
