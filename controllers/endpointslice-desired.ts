/**
 * The EndpointSlice controller's pure decisions: which endpoints a Service should have (grouped
 * by address type and port set), and how to turn the existing slices into the desired ones with
 * as few writes as possible (endpoints stay in the slice they are in; new ones fill free room in
 * slices already being written, then other slices with room, then new slices).
 */
import type { KubeObject, OwnerReference } from "../api/object.js";
import {
  type AddressType,
  endpointHostname,
  findPort,
  isPodReady,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  type Pod,
  podIPForFamily,
  SERVICE_NAME_LABEL,
  type Service,
  serviceAddressTypes,
  serviceDerivedLabels,
  shouldPodBeInEndpoints,
  stableStringify,
  TRIGGER_TIME_ANNOTATION,
} from "./endpointslice-pods.js";

export const DEFAULT_MAX_ENDPOINTS_PER_SLICE = 100;

export interface EndpointConditions {
  ready: boolean;
  serving: boolean;
  terminating: boolean;
}

export interface ObjectReference {
  kind: string;
  namespace?: string;
  name: string;
  uid?: string;
}

export interface Endpoint {
  addresses: string[];
  conditions: EndpointConditions;
  hostname?: string;
  targetRef?: ObjectReference;
  nodeName?: string;
  zone?: string;
}

export interface EndpointPort {
  name: string;
  protocol: string;
  port: number;
  appProtocol?: string;
}

export interface EndpointSlice extends KubeObject {
  addressType: string;
  endpoints?: Endpoint[] | null;
  ports?: EndpointPort[] | null;
}

/** Desired endpoints for one (address type, port set). */
export interface EndpointGroup {
  addressType: AddressType;
  ports: EndpointPort[];
  /** by endpointKey */
  endpoints: Map<string, Endpoint>;
}

/** identity of an endpoint across syncs: the pod it stands for, else its first address */
export function endpointKey(ep: Endpoint): string {
  return ep.targetRef?.name ? `pod/${ep.targetRef.name}` : `ip/${ep.addresses[0] ?? ""}`;
}

export function portsKey(addressType: string, ports: readonly EndpointPort[] | null | undefined): string {
  return `${addressType}|${stableStringify(canonicalPorts(ports))}`;
}

/** ports with the apiserver's defaults filled in (name "", protocol TCP), for comparison */
function canonicalPorts(ports: readonly EndpointPort[] | null | undefined): EndpointPort[] {
  return (ports ?? []).map((p) => ({
    name: p.name ?? "",
    protocol: p.protocol ?? "TCP",
    port: p.port,
    ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
  }));
}

/** The endpoint a pod contributes to a Service's slices of one address family (undefined: none). */
export function podToEndpoint(
  pod: Pod,
  svc: Service,
  family: AddressType,
  zoneOf: (nodeName: string) => string | undefined,
): Endpoint | undefined {
  if (!shouldPodBeInEndpoints(pod, true)) return undefined;
  const ip = podIPForFamily(pod, family);
  if (!ip) return undefined;
  const podReady = isPodReady(pod);
  const terminating = !!pod.metadata.deletionTimestamp;
  const publish = svc.spec?.publishNotReadyAddresses === true;
  const ep: Endpoint = {
    addresses: [ip],
    conditions: { ready: publish || (podReady && !terminating), serving: podReady, terminating },
  };
  const hostname = endpointHostname(pod, svc);
  if (hostname) ep.hostname = hostname;
  ep.targetRef = {
    kind: "Pod",
    namespace: pod.metadata.namespace,
    name: pod.metadata.name ?? "",
    uid: pod.metadata.uid,
  };
  const nodeName = pod.spec?.nodeName;
  if (nodeName) {
    ep.nodeName = nodeName;
    const zone = zoneOf(nodeName);
    if (zone) ep.zone = zone;
  }
  return ep;
}

/** The ports of a Service as a pod serves them; service ports whose named targetPort the pod lacks are left out. */
export function podEndpointPorts(pod: Pod, svc: Service): EndpointPort[] {
  const out: EndpointPort[] = [];
  for (const sp of svc.spec?.ports ?? []) {
    const port = findPort(pod, sp);
    if (port === undefined) continue;
    const ep: EndpointPort = { name: sp.name ?? "", protocol: sp.protocol ?? "TCP", port };
    if (sp.appProtocol) ep.appProtocol = sp.appProtocol;
    out.push(ep);
  }
  return out;
}

/** Every endpoint the Service should have, grouped by (address type, port set). */
export function desiredEndpointGroups(
  svc: Service,
  pods: readonly Pod[],
  zoneOf: (nodeName: string) => string | undefined,
): Map<string, EndpointGroup> {
  const groups = new Map<string, EndpointGroup>();
  for (const family of serviceAddressTypes(svc)) {
    for (const pod of pods) {
      const ep = podToEndpoint(pod, svc, family, zoneOf);
      if (!ep) continue;
      const ports = podEndpointPorts(pod, svc);
      const key = portsKey(family, ports);
      let g = groups.get(key);
      if (!g) {
        g = { addressType: family, ports, endpoints: new Map() };
        groups.set(key, g);
      }
      g.endpoints.set(endpointKey(ep), ep);
    }
  }
  return groups;
}

/** The labels every slice of the Service carries. */
export function desiredSliceLabels(svc: Service): Record<string, string> {
  return {
    ...serviceDerivedLabels(svc),
    [SERVICE_NAME_LABEL]: svc.metadata.name ?? "",
    [MANAGED_BY_LABEL]: MANAGED_BY,
  };
}

export function serviceOwnerReference(svc: Service): OwnerReference {
  return {
    apiVersion: "v1",
    kind: "Service",
    name: svc.metadata.name ?? "",
    uid: svc.metadata.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
}

export interface SliceReconcileInput {
  service: Service;
  groups: Map<string, EndpointGroup>;
  /** the slices this controller manages for the Service */
  existing: readonly EndpointSlice[];
  maxEndpointsPerSlice: number;
  /** value for the last-change-trigger-time annotation on slices written now */
  triggerTime?: string;
}

export interface SliceReconcileResult {
  create: EndpointSlice[];
  update: EndpointSlice[];
  delete: EndpointSlice[];
  /** endpoints that were not in any slice before */
  added: number;
  /** endpoints that are in no slice any more */
  removed: number;
  /** endpoints desired in total */
  desired: number;
}

interface Working {
  slice: EndpointSlice;
  endpoints: Endpoint[];
  endpointsChanged: boolean;
}

function sameEndpoints(
  a: readonly Endpoint[] | null | undefined,
  b: readonly Endpoint[] | null | undefined,
): boolean {
  return stableStringify(a ?? []) === stableStringify(b ?? []);
}

function sameLabels(a: Record<string, string> | undefined, b: Record<string, string>): boolean {
  return stableStringify(a ?? {}) === stableStringify(b);
}

function newSlice(
  svc: Service,
  addressType: string,
  ports: EndpointPort[],
  endpoints: Endpoint[],
): EndpointSlice {
  const base = (svc.metadata.name ?? "svc").slice(0, 57);
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      generateName: `${base}-`,
      namespace: svc.metadata.namespace,
      labels: desiredSliceLabels(svc),
      ownerReferences: [serviceOwnerReference(svc)],
    },
    addressType,
    endpoints,
    ports,
  };
}

/**
 * Decides the writes that make `existing` match `groups`: each existing slice keeps the endpoints
 * it has that are still desired (with their new state); slices of port sets or families no longer
 * wanted are deleted; new endpoints fill room first in slices being rewritten anyway, then in the
 * fullest slices with room, then in new slices. A Service with no endpoints at all keeps one empty
 * placeholder slice per address family. Unchanged slices are not written.
 */
export function reconcileSlices(input: SliceReconcileInput): SliceReconcileResult {
  const { service: svc, groups, existing, triggerTime } = input;
  const max = Math.max(1, input.maxEndpointsPerSlice);
  const labels = desiredSliceLabels(svc);
  const result: SliceReconcileResult = {
    create: [],
    update: [],
    delete: [],
    added: 0,
    removed: 0,
    desired: 0,
  };

  const oldKeys = new Set<string>();
  for (const s of existing)
    for (const ep of s.endpoints ?? []) oldKeys.add(`${s.addressType}|${endpointKey(ep)}`);
  const newKeys = new Set<string>();
  for (const g of groups.values()) for (const k of g.endpoints.keys()) newKeys.add(`${g.addressType}|${k}`);
  result.desired = newKeys.size;
  for (const k of newKeys) if (!oldKeys.has(k)) result.added++;
  for (const k of oldKeys) if (!newKeys.has(k)) result.removed++;

  const byGroup = new Map<string, EndpointSlice[]>();
  for (const s of [...existing].sort((a, b) =>
    (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""),
  )) {
    const key = portsKey(s.addressType, s.ports);
    const list = byGroup.get(key) ?? [];
    list.push(s);
    byGroup.set(key, list);
  }

  const finishSlice = (w: Working, ports: EndpointPort[]) => {
    const s = w.slice;
    if (!w.endpointsChanged && sameLabels(s.metadata.labels, labels)) return;
    const annotations = { ...(s.metadata.annotations ?? {}) };
    if (w.endpointsChanged && triggerTime) annotations[TRIGGER_TIME_ANNOTATION] = triggerTime;
    result.update.push({
      ...s,
      metadata: { ...s.metadata, labels, annotations },
      endpoints: w.endpoints,
      ports,
    });
  };

  for (const [key, g] of groups) {
    const slices = byGroup.get(key) ?? [];
    byGroup.delete(key);
    const placed = new Set<string>();
    const working: Working[] = [];
    for (const s of slices) {
      const eps: Endpoint[] = [];
      for (const ep of s.endpoints ?? []) {
        const k = endpointKey(ep);
        const want = g.endpoints.get(k);
        if (!want || placed.has(k) || eps.length >= max) continue;
        placed.add(k);
        eps.push(want);
      }
      working.push({ slice: s, endpoints: eps, endpointsChanged: !sameEndpoints(eps, s.endpoints) });
    }
    const pending = [...g.endpoints.keys()].filter((k) => !placed.has(k)).sort();
    let next = 0;
    const fill = (w: Working) => {
      while (next < pending.length && w.endpoints.length < max) {
        w.endpoints.push(g.endpoints.get(pending[next++]!)!);
        w.endpointsChanged = true;
      }
    };
    // room in slices already being rewritten, then in the fullest of the others
    for (const w of working) if (w.endpointsChanged && w.endpoints.length > 0) fill(w);
    const others = working
      .filter((w) => !w.endpointsChanged && w.endpoints.length < max)
      .sort((a, b) => b.endpoints.length - a.endpoints.length);
    for (const w of others) if (next < pending.length) fill(w);
    for (const w of working) {
      if (w.endpoints.length === 0) {
        // an emptied slice takes new endpoints before it would be deleted
        fill(w);
        if (w.endpoints.length === 0) {
          result.delete.push(w.slice);
          continue;
        }
      }
      finishSlice(w, g.ports);
    }
    while (next < pending.length) {
      const chunk = pending.slice(next, next + max).map((k) => g.endpoints.get(k)!);
      next += chunk.length;
      const s = newSlice(svc, g.addressType, g.ports, chunk);
      if (triggerTime) s.metadata.annotations = { [TRIGGER_TIME_ANNOTATION]: triggerTime };
      result.create.push(s);
    }
  }

  // slices of port sets or families no longer wanted
  const leftover = [...byGroup.values()].flat();
  // placeholder: a family with no endpoints keeps (or gets) one empty slice
  const familiesWithEndpoints = new Set([...groups.values()].map((g) => g.addressType));
  for (const family of serviceAddressTypes(svc)) {
    if (familiesWithEndpoints.has(family)) continue;
    const idx = leftover.findIndex(
      (s) => s.addressType === family && (s.endpoints ?? []).length === 0 && (s.ports ?? []).length === 0,
    );
    if (idx >= 0) {
      const [keep] = leftover.splice(idx, 1);
      if (!sameLabels(keep!.metadata.labels, labels)) {
        result.update.push({ ...keep!, metadata: { ...keep!.metadata, labels } });
      }
    } else {
      const reuse = leftover.findIndex((s) => s.addressType === family);
      if (reuse >= 0) {
        const [s] = leftover.splice(reuse, 1);
        const annotations = { ...(s!.metadata.annotations ?? {}) };
        if (triggerTime) annotations[TRIGGER_TIME_ANNOTATION] = triggerTime;
        result.update.push({
          ...s!,
          metadata: { ...s!.metadata, labels, annotations },
          endpoints: [],
          ports: [],
        });
      } else {
        const s = newSlice(svc, family, [], []);
        if (triggerTime) s.metadata.annotations = { [TRIGGER_TIME_ANNOTATION]: triggerTime };
        result.create.push(s);
      }
    }
  }
  result.delete.push(...leftover);
  return result;
}
