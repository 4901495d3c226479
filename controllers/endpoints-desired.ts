/**
 * The Endpoints controller's pure decisions: the legacy core/v1 Endpoints subsets of a Service
 * (ready pods under addresses, others under notReadyAddresses, one subset per distinct port set),
 * truncation to 1000 addresses, and whether the stored object needs a write.
 */
import type { KubeObject } from "../api/object.js";
import {
  endpointHostname,
  findPort,
  isPodReady,
  OVER_CAPACITY_ANNOTATION,
  type Pod,
  podIPs,
  type Service,
  serviceDerivedLabels,
  shouldPodBeInEndpoints,
  stableStringify,
  TRIGGER_TIME_ANNOTATION,
} from "./endpointslice-pods.js";

export const MAX_ENDPOINT_ADDRESSES = 1000;

export interface EndpointAddress {
  ip: string;
  hostname?: string;
  nodeName?: string;
  targetRef?: { kind: string; namespace?: string; name: string; uid?: string };
}

export interface LegacyEndpointPort {
  name?: string;
  port: number;
  protocol: string;
  appProtocol?: string;
}

export interface EndpointSubset {
  addresses?: EndpointAddress[];
  notReadyAddresses?: EndpointAddress[];
  ports?: LegacyEndpointPort[];
}

export interface Endpoints extends KubeObject {
  subsets?: EndpointSubset[] | null;
}

function compareIP(a: EndpointAddress, b: EndpointAddress): number {
  return a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0;
}

function podAddress(pod: Pod, svc: Service, ip: string): EndpointAddress {
  const a: EndpointAddress = { ip };
  const hostname = endpointHostname(pod, svc);
  if (hostname) a.hostname = hostname;
  if (pod.spec?.nodeName) a.nodeName = pod.spec.nodeName;
  a.targetRef = {
    kind: "Pod",
    namespace: pod.metadata.namespace,
    name: pod.metadata.name ?? "",
    uid: pod.metadata.uid,
  };
  return a;
}

export interface DesiredEndpoints {
  subsets: EndpointSubset[];
  /** more than MAX_ENDPOINT_ADDRESSES addresses were found and some were dropped */
  truncated: boolean;
}

/**
 * Subsets for a Service: each pod with an IP (not terminating unless publishNotReadyAddresses)
 * becomes an address, ready ones (or all, with publishNotReadyAddresses) under addresses and the
 * rest under notReadyAddresses, grouped by the set of ports the pod serves. Sorted for stable output.
 */
export function desiredSubsets(
  svc: Service,
  pods: readonly Pod[],
  max = MAX_ENDPOINT_ADDRESSES,
): DesiredEndpoints {
  const publish = svc.spec?.publishNotReadyAddresses === true;
  const svcPorts = svc.spec?.ports ?? [];
  const byPorts = new Map<string, EndpointSubset>();
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, publish)) continue;
    const ip = podIPs(pod)[0];
    if (!ip) continue;
    const ports: LegacyEndpointPort[] = [];
    let missing = false;
    for (const sp of svcPorts) {
      const port = findPort(pod, sp);
      if (port === undefined) {
        missing = true;
        continue;
      }
      const p: LegacyEndpointPort = { port, protocol: sp.protocol ?? "TCP" };
      if (sp.name) p.name = sp.name;
      if (sp.appProtocol) p.appProtocol = sp.appProtocol;
      ports.push(p);
    }
    // a pod that serves none of the service's ports is no endpoint of it
    if (missing && ports.length === 0) continue;
    ports.sort((a, b) => (a.name ?? "").localeCompare(b.name ?? "") || a.port - b.port);
    const key = stableStringify(ports);
    let subset = byPorts.get(key);
    if (!subset) {
      subset = { addresses: [], notReadyAddresses: [], ports };
      byPorts.set(key, subset);
    }
    const addr = podAddress(pod, svc, ip);
    if (publish || isPodReady(pod)) subset.addresses!.push(addr);
    else subset.notReadyAddresses!.push(addr);
  }
  const keys = [...byPorts.keys()].sort();
  const subsets = keys.map((k) => byPorts.get(k)!);
  const total = subsets.reduce((n, s) => n + s.addresses!.length + s.notReadyAddresses!.length, 0);
  let truncated = false;
  if (total > max) {
    truncated = true;
    // keep ready addresses first, in subset order, then not-ready ones
    let room = max;
    for (const s of subsets) {
      s.addresses!.sort(compareIP);
      s.addresses = s.addresses!.slice(0, Math.max(0, room));
      room -= s.addresses.length;
    }
    for (const s of subsets) {
      s.notReadyAddresses!.sort(compareIP);
      s.notReadyAddresses = s.notReadyAddresses!.slice(0, Math.max(0, room));
      room -= s.notReadyAddresses.length;
    }
  }
  const out: EndpointSubset[] = [];
  for (const s of subsets) {
    const addresses = s.addresses!.sort(compareIP);
    const notReady = s.notReadyAddresses!.sort(compareIP);
    if (addresses.length === 0 && notReady.length === 0) continue;
    const subset: EndpointSubset = {};
    if (addresses.length) subset.addresses = addresses;
    if (notReady.length) subset.notReadyAddresses = notReady;
    if (s.ports!.length) subset.ports = s.ports;
    out.push(subset);
  }
  return { subsets: out, truncated };
}

/** Subsets in a canonical form (empty lists dropped, protocol defaulted) for comparison. */
function canonicalSubsets(subsets: readonly EndpointSubset[] | null | undefined): string {
  return stableStringify(
    (subsets ?? []).map((s) => ({
      addresses: s.addresses?.length ? s.addresses : undefined,
      notReadyAddresses: s.notReadyAddresses?.length ? s.notReadyAddresses : undefined,
      ports: s.ports?.length ? s.ports.map((p) => ({ ...p, protocol: p.protocol ?? "TCP" })) : undefined,
    })),
  );
}

export interface EndpointsPlan {
  /** what to write; undefined when nothing changed */
  write?: Endpoints;
  create: boolean;
}

/**
 * The Endpoints object to write for a Service (labels from the Service, the trigger-time and
 * over-capacity annotations), or nothing when `existing` already says the same.
 */
export function planEndpoints(
  svc: Service,
  desired: DesiredEndpoints,
  existing: Endpoints | undefined,
  triggerTime: string | undefined,
): EndpointsPlan {
  const labels = serviceDerivedLabels(svc);
  const annotations: Record<string, string> = { ...(existing?.metadata.annotations ?? {}) };
  if (desired.truncated) annotations[OVER_CAPACITY_ANNOTATION] = "truncated";
  else delete annotations[OVER_CAPACITY_ANNOTATION];
  const subsetsChanged = canonicalSubsets(existing?.subsets) !== canonicalSubsets(desired.subsets);
  const labelsChanged = stableStringify(existing?.metadata.labels ?? {}) !== stableStringify(labels);
  const capacityChanged =
    (existing?.metadata.annotations?.[OVER_CAPACITY_ANNOTATION] === "truncated") !== desired.truncated;
  if (existing && !subsetsChanged && !labelsChanged && !capacityChanged) return { create: false };
  if (triggerTime && (subsetsChanged || !existing)) annotations[TRIGGER_TIME_ANNOTATION] = triggerTime;
  const metadata = existing
    ? { ...existing.metadata, labels, annotations }
    : { name: svc.metadata.name, namespace: svc.metadata.namespace, labels, annotations };
  return {
    create: !existing,
    write: { apiVersion: "v1", kind: "Endpoints", ...(existing ?? {}), metadata, subsets: desired.subsets },
  };
}
