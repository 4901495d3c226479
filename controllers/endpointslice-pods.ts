/**
 * Pure helpers shared by the EndpointSlice and Endpoints controllers: the minimal Pod, Service
 * and Node shapes they read, pod readiness, pod IPs by family, named target-port resolution,
 * which pods belong in endpoints at all, and a key-order-insensitive comparison.
 */
import { isIP } from "node:net";
import type { KubeObject } from "../api/object.js";

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}

export interface PodCondition {
  type: string;
  status: string;
  lastTransitionTime?: string;
}

export interface Pod extends KubeObject {
  spec?: {
    nodeName?: string;
    hostname?: string;
    subdomain?: string;
    containers?: { name: string; ports?: ContainerPort[] }[];
    [key: string]: unknown;
  };
  status?: {
    phase?: string;
    podIP?: string;
    podIPs?: { ip: string }[];
    conditions?: PodCondition[];
    [key: string]: unknown;
  };
}

export interface ServicePort {
  name?: string;
  protocol?: string;
  port: number;
  targetPort?: number | string;
  appProtocol?: string;
}

export interface Service extends KubeObject {
  spec?: {
    selector?: Record<string, string>;
    ports?: ServicePort[];
    publishNotReadyAddresses?: boolean;
    clusterIP?: string;
    clusterIPs?: string[];
    ipFamilies?: string[];
    type?: string;
    [key: string]: unknown;
  };
}

export interface Node extends KubeObject {
  spec?: { [key: string]: unknown };
}

export type AddressType = "IPv4" | "IPv6";

export const ZONE_LABEL = "topology.kubernetes.io/zone";
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";
export const MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by";
export const MANAGED_BY = "endpointslice-controller.k8s.io";
export const HEADLESS_LABEL = "service.kubernetes.io/headless";
export const TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time";
export const OVER_CAPACITY_ANNOTATION = "endpoints.kubernetes.io/over-capacity";

/** The Ready condition is True. */
export function isPodReady(pod: Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
}

export function isTerminating(obj: KubeObject): boolean {
  return !!obj.metadata.deletionTimestamp;
}

export function ipFamilyOf(ip: string): AddressType {
  return ip.includes(":") ? "IPv6" : "IPv4";
}

/** The pod's IPs (podIPs, else podIP), deduplicated, in order; malformed ones are ignored. */
export function podIPs(pod: Pod): string[] {
  const out: string[] = [];
  for (const p of pod.status?.podIPs ?? []) if (p?.ip && isIP(p.ip) && !out.includes(p.ip)) out.push(p.ip);
  const single = pod.status?.podIP;
  if (single && isIP(single) && !out.includes(single)) out.push(single);
  return out;
}

/** The pod's first IP of a family. */
export function podIPForFamily(pod: Pod, family: AddressType): string | undefined {
  return podIPs(pod).find((ip) => ipFamilyOf(ip) === family);
}

/**
 * The address families a Service's endpoints use: spec.ipFamilies when set, else the family of
 * its cluster IP, else IPv4.
 */
export function serviceAddressTypes(svc: Service): AddressType[] {
  const fams = (svc.spec?.ipFamilies ?? []).filter((f): f is AddressType => f === "IPv4" || f === "IPv6");
  if (fams.length) return [...new Set(fams)];
  const ip = svc.spec?.clusterIP;
  if (ip && ip !== "None") return [ipFamilyOf(ip)];
  return ["IPv4"];
}

/**
 * The pod port a service port reaches: a numeric targetPort as is (absent: the service port),
 * a named one through the containers' ports with that name and protocol. undefined when the pod
 * has no such named port.
 */
export function findPort(pod: Pod, sp: ServicePort): number | undefined {
  const tp = sp.targetPort;
  if (tp === undefined || tp === null || tp === "") return sp.port;
  if (typeof tp === "number") return tp;
  if (/^[0-9]+$/.test(tp)) return Number.parseInt(tp, 10);
  const proto = sp.protocol ?? "TCP";
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (p.name === tp && (p.protocol ?? "TCP") === proto) return p.containerPort;
    }
  }
  return undefined;
}

/**
 * Whether a pod is an endpoint at all: it has an IP, is not in a terminal phase, and (unless
 * terminating pods are wanted) is not being deleted.
 */
export function shouldPodBeInEndpoints(pod: Pod, includeTerminating: boolean): boolean {
  if (podIPs(pod).length === 0) return false;
  const phase = pod.status?.phase;
  if (phase === "Succeeded" || phase === "Failed") return false;
  if (!includeTerminating && isTerminating(pod)) return false;
  return true;
}

/** hostname for DNS when the pod sets spec.hostname and its subdomain is the Service's name */
export function endpointHostname(pod: Pod, svc: Service): string | undefined {
  const h = pod.spec?.hostname;
  if (h && pod.spec?.subdomain === svc.metadata.name && pod.metadata.namespace === svc.metadata.namespace)
    return h;
  return undefined;
}

/** When the pod's last endpoint-relevant change happened: its Ready condition's transition time. */
export function podTriggerTime(pod: Pod): string | undefined {
  const ready = (pod.status?.conditions ?? []).find((c) => c.type === "Ready");
  return ready?.lastTransitionTime ?? pod.metadata.creationTimestamp;
}

/** A signature of everything about a pod that can change its endpoints. */
export function podEndpointSignature(pod: Pod): string {
  return stableStringify([
    podIPs(pod),
    isPodReady(pod),
    !!pod.metadata.deletionTimestamp,
    pod.status?.phase ?? "",
    pod.metadata.labels ?? {},
    pod.spec?.nodeName ?? "",
    pod.spec?.hostname ?? "",
    pod.spec?.subdomain ?? "",
    (pod.spec?.containers ?? []).map((c) => c.ports ?? []),
  ]);
}

/** RFC 3339 with second precision, as metav1.Time serialises. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** JSON with object keys sorted and undefined dropped, for comparing desired and actual state. */
export function stableStringify(v: unknown): string {
  if (v === undefined) return "null";
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? "null" : stableStringify(x))).join(",")}]`;
  const rec = v as Record<string, unknown>;
  const keys = Object.keys(rec)
    .filter((k) => rec[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(rec[k])}`).join(",")}}`;
}

/** Labels for objects mirrored from a Service: its own labels plus the headless marker. */
export function serviceDerivedLabels(svc: Service): Record<string, string> {
  const labels: Record<string, string> = { ...(svc.metadata.labels ?? {}) };
  if (svc.spec?.clusterIP === "None") labels[HEADLESS_LABEL] = "";
  else delete labels[HEADLESS_LABEL];
  return labels;
}

/** Whether a Service gets endpoints from the controllers: it has a non-empty selector and is not ExternalName. */
export function serviceHasSelector(svc: Service): boolean {
  const sel = svc.spec?.selector;
  return !!sel && Object.keys(sel).length > 0 && svc.spec?.type !== "ExternalName";
}

/** Whether the pod's labels satisfy the Service's selector (equality on every key). */
export function serviceSelects(svc: Service, pod: Pod): boolean {
  const sel = svc.spec?.selector;
  if (!sel || Object.keys(sel).length === 0) return false;
  if (pod.metadata.namespace !== svc.metadata.namespace) return false;
  const labels = pod.metadata.labels ?? {};
  for (const [k, v] of Object.entries(sel)) if (labels[k] !== v) return false;
  return true;
}
