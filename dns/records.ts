/**
 * The cluster zone as pure data: given a view of Services, EndpointSlices and Pods and a
 * question, the records of the Kubernetes DNS-based service discovery spec, schema 1.1.0.
 * No I/O: the server feeds it informer caches, tests feed it plain objects.
 */
import type { KubeObject } from "../api/object.js";
import { canonicalIP, dashedIP, type Family, ipFamily, ipFromDashed, ipFromReverse } from "./ip.js";
import { QTYPE, RCODE, type RR } from "./wire.js";

// ---------------------------------------------------------------- the objects we read

export interface ServicePort {
  name?: string;
  protocol?: string;
  port: number;
}

export interface Service extends KubeObject {
  spec?: {
    type?: string;
    clusterIP?: string;
    clusterIPs?: string[];
    externalName?: string;
    ports?: ServicePort[];
    publishNotReadyAddresses?: boolean;
  };
}

export interface Endpoint {
  addresses: string[];
  conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
  hostname?: string;
  targetRef?: { kind?: string; name?: string; namespace?: string };
}

export interface EndpointSlice extends KubeObject {
  addressType?: string;
  endpoints?: Endpoint[] | null;
  ports?: { name?: string | null; port?: number | null; protocol?: string }[] | null;
}

export interface Pod extends KubeObject {
  spec?: { hostname?: string; subdomain?: string };
  status?: { phase?: string; podIP?: string; podIPs?: { ip: string }[] };
}

export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

// ---------------------------------------------------------------- what the caches keep

/*
 * The informers keep only what the zone reads (client-go's SetTransform, as CoreDNS does with
 * its object.To* conversions): a cluster of 10k Services and 50k Pods costs a fraction of the
 * whole objects. Each keeps metadata name, namespace and resourceVersion (the informer compares
 * versions on relist). Objects get one shape each, with undefined for absent fields.
 */

/** a Service as the zone reads it: name, namespace and the spec fields of the records */
export function slimService(svc: Service): Service {
  const s = svc.spec;
  return {
    metadata: {
      name: svc.metadata.name,
      namespace: svc.metadata.namespace,
      resourceVersion: svc.metadata.resourceVersion,
    },
    spec: s && {
      type: s.type,
      clusterIP: s.clusterIP,
      // single-stack: clusterIPs is [clusterIP], so clusterIP alone says it
      clusterIPs: s.clusterIPs?.length === 1 && s.clusterIPs[0] === s.clusterIP ? undefined : s.clusterIPs,
      externalName: s.externalName,
      ports: s.ports?.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })),
      publishNotReadyAddresses: s.publishNotReadyAddresses,
    },
  };
}

/** an EndpointSlice as the zone reads it: addresses, hostname, readiness, ports, service name */
export function slimEndpointSlice(slice: EndpointSlice): EndpointSlice {
  const service = slice.metadata.labels?.[SERVICE_NAME_LABEL];
  return {
    metadata: {
      name: slice.metadata.name,
      namespace: slice.metadata.namespace,
      resourceVersion: slice.metadata.resourceVersion,
      labels: service === undefined ? undefined : { [SERVICE_NAME_LABEL]: service },
    },
    addressType: slice.addressType,
    endpoints: slice.endpoints?.map((ep) => ({
      addresses: ep.addresses,
      hostname: ep.hostname,
      conditions:
        ep.conditions?.ready === false || ep.conditions?.ready === true
          ? { ready: ep.conditions.ready }
          : undefined,
    })),
    ports: slice.ports?.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })),
  };
}

/** a Pod as the zone reads it (--pods verified): namespace, deletion, pod IPs */
export function slimPod(pod: Pod): Pod {
  const st = pod.status;
  const ips = st?.podIPs ?? [];
  return {
    metadata: {
      name: pod.metadata.name,
      namespace: pod.metadata.namespace,
      resourceVersion: pod.metadata.resourceVersion,
      deletionTimestamp: pod.metadata.deletionTimestamp,
    },
    status: st && {
      podIP: st.podIP ?? ips[0]?.ip,
      // the usual single-stack pod: podIPs is [podIP], so podIP alone says it
      podIPs:
        ips.length > 1 || (ips.length === 1 && ips[0]!.ip !== st.podIP)
          ? ips.map((p) => ({ ip: p.ip }))
          : undefined,
    },
  };
}

/** What the zone needs to look up; the server implements it on informer indexes. */
export interface ClusterView {
  service(namespace: string, name: string): Service | undefined;
  /** EndpointSlices labelled kubernetes.io/service-name=name in the namespace */
  slices(namespace: string, serviceName: string): EndpointSlice[];
  namespaceHasServices(namespace: string): boolean;
  /** Services whose clusterIP(s) include ip (canonical form) */
  servicesByIP(ip: string): Service[];
  /** EndpointSlices with an endpoint address equal to ip (canonical form) */
  slicesByIP(ip: string): EndpointSlice[];
  /** Pods with status.podIP(s) including ip (canonical form); only needed for pods "verified" */
  podsByIP(ip: string): Pod[];
}

export type PodsMode = "insecure" | "verified" | "disabled";

export interface ZoneOptions {
  /** "cluster.local" */
  zone: string;
  ttl: number;
  pods: PodsMode;
  /** SOA serial (e.g. seconds of the last change) */
  serial?: number | (() => number);
}

export type Resolution =
  /** not ours: forward it */
  | { kind: "outside" }
  | {
      kind: "answer";
      rcode: number;
      answers: RR[];
      authorities: RR[];
      additionals: RR[];
      /** an ExternalName target outside the zone to resolve upstream and append (type = qtype) */
      chase?: string;
    };

export const SCHEMA_VERSION = "1.1.0";
const VERSION_TTL = 28800;
const MAX_CNAME_CHAIN = 8;

// ---------------------------------------------------------------- helpers

export function isHeadless(svc: Service): boolean {
  return svc.spec?.type !== "ExternalName" && svc.spec?.clusterIP === "None";
}

function clusterIPs(svc: Service): string[] {
  const s = svc.spec ?? {};
  const ips = s.clusterIPs?.length ? s.clusterIPs : s.clusterIP ? [s.clusterIP] : [];
  return ips.map((ip) => canonicalIP(ip)).filter((ip): ip is string => ip !== undefined);
}

/** an endpoint counts when ready (nil means ready), or always with publishNotReadyAddresses */
function endpointServes(ep: Endpoint, svc: Service): boolean {
  if (svc.spec?.publishNotReadyAddresses) return true;
  return ep.conditions?.ready !== false;
}

interface LiveEndpoint {
  /** the DNS label: the endpoint hostname, else the dashed address */
  label: string;
  ip: string;
  family: Family;
  ports: { name: string; port: number; protocol: string }[];
}

/** the serving endpoint addresses of a service, one entry per address, deduplicated */
function liveEndpoints(view: ClusterView, svc: Service): LiveEndpoint[] {
  const ns = svc.metadata.namespace ?? "";
  const name = svc.metadata.name ?? "";
  const seen = new Set<string>();
  const out: LiveEndpoint[] = [];
  for (const slice of view.slices(ns, name)) {
    if (slice.addressType === "FQDN") continue;
    const ports = (slice.ports ?? [])
      .filter((p) => p.port != null)
      .map((p) => ({
        name: (p.name ?? "").toLowerCase(),
        port: p.port as number,
        protocol: (p.protocol ?? "TCP").toLowerCase(),
      }));
    for (const ep of slice.endpoints ?? []) {
      if (!endpointServes(ep, svc)) continue;
      for (const raw of ep.addresses ?? []) {
        const ip = canonicalIP(raw);
        const family = ip ? ipFamily(ip) : undefined;
        if (!ip || !family) continue;
        const label = (ep.hostname || dashedIP(ip)).toLowerCase();
        const key = `${label}|${ip}`;
        if (seen.has(key)) {
          // the same address in two slices: merge ports
          const prev = out.find((e) => e.label === label && e.ip === ip)!;
          for (const p of ports)
            if (!prev.ports.some((q) => q.name === p.name && q.protocol === p.protocol)) prev.ports.push(p);
          continue;
        }
        seen.add(key);
        out.push({ label, ip, family, ports: [...ports] });
      }
    }
  }
  return out;
}

function addressRR(name: string, ip: string, ttl: number): RR {
  return { name, type: ipFamily(ip) === 6 ? "AAAA" : "A", ttl, data: ip };
}

function wantsFamily(qtype: number): Family | "both" | undefined {
  if (qtype === QTYPE.A) return 4;
  if (qtype === QTYPE.AAAA) return 6;
  if (qtype === QTYPE.ANY) return "both";
  return undefined;
}

function familyMatches(want: Family | "both" | undefined, f: Family): boolean {
  return want === "both" || want === f;
}

// ---------------------------------------------------------------- the zone

export class Zone {
  readonly zoneLabels: string[];
  constructor(
    private readonly view: ClusterView,
    readonly opts: ZoneOptions,
  ) {
    this.zoneLabels = opts.zone.toLowerCase().replace(/\.$/, "").split(".").filter(Boolean);
  }

  get zone(): string {
    return this.zoneLabels.join(".");
  }

  soa(): RR {
    return {
      name: this.zone,
      type: "SOA",
      ttl: this.opts.ttl,
      data: {
        mname: `ns.dns.${this.zone}`,
        rname: `hostmaster.${this.zone}`,
        serial: (typeof this.opts.serial === "function" ? this.opts.serial() : this.opts.serial) ?? 1,
        refresh: 7200,
        retry: 1800,
        expire: 86400,
        minimum: this.opts.ttl,
      },
    };
  }

  /** whether a name (lowercase labels) is inside the cluster zone */
  inZone(labels: string[]): boolean {
    const z = this.zoneLabels;
    if (labels.length < z.length) return false;
    for (let i = 1; i <= z.length; i++) if (labels[labels.length - i] !== z[z.length - i]) return false;
    return true;
  }

  /** answers a question; name as sent (any case), qtype numeric */
  resolve(name: string, qtype: number): Resolution {
    const clean = name === "." ? "" : name.replace(/\.$/, "");
    const labels = clean ? clean.toLowerCase().split(".") : [];
    if (this.inZone(labels))
      return this.zoneAnswer(clean, labels.slice(0, labels.length - this.zoneLabels.length), qtype, 0);
    const ip = ipFromReverse(labels);
    if (ip !== undefined && qtype === QTYPE.PTR) {
      const answers = this.ptr(clean, ip);
      if (answers.length)
        return { kind: "answer", rcode: RCODE.NOERROR, answers, authorities: [], additionals: [] };
    }
    return { kind: "outside" };
  }

  private nodata(): Resolution {
    return { kind: "answer", rcode: RCODE.NOERROR, answers: [], authorities: [this.soa()], additionals: [] };
  }

  private nxdomain(): Resolution {
    return { kind: "answer", rcode: RCODE.NXDOMAIN, answers: [], authorities: [this.soa()], additionals: [] };
  }

  private ok(answers: RR[], additionals: RR[] = []): Resolution {
    return answers.length
      ? { kind: "answer", rcode: RCODE.NOERROR, answers, authorities: [], additionals }
      : this.nodata();
  }

  /** rel: the labels left of the zone, lowercase; owner: the name as asked */
  private zoneAnswer(owner: string, rel: string[], qtype: number, depth: number): Resolution {
    const ttl = this.opts.ttl;
    if (rel.length === 0) {
      if (qtype === QTYPE.SOA) return this.ok([{ ...this.soa(), name: owner }]);
      if (qtype === QTYPE.NS) return this.ok([{ name: owner, type: "NS", ttl, data: `ns.dns.${this.zone}` }]);
      return this.nodata();
    }
    const last = rel[rel.length - 1]!;
    if (rel.length === 1 && last === "dns-version") {
      return qtype === QTYPE.TXT || qtype === QTYPE.ANY
        ? this.ok([{ name: owner, type: "TXT", ttl: VERSION_TTL, data: SCHEMA_VERSION }])
        : this.nodata();
    }
    if (last === "svc") return this.serviceAnswer(owner, rel.slice(0, -1), qtype, depth);
    if (last === "pod") return this.podAnswer(owner, rel.slice(0, -1), qtype);
    return this.nxdomain();
  }

  private serviceAnswer(owner: string, parts: string[], qtype: number, depth: number): Resolution {
    const ttl = this.opts.ttl;
    const want = wantsFamily(qtype);
    if (parts.length === 0) return this.nodata();
    const ns = parts[parts.length - 1]!;
    if (parts.length === 1) return this.view.namespaceHasServices(ns) ? this.nodata() : this.nxdomain();
    const svc = this.view.service(ns, parts[parts.length - 2]!);
    if (!svc) return this.nxdomain();
    const svcName = `${svc.metadata.name}.${ns}.svc.${this.zone}`.toLowerCase();

    if (parts.length === 2) {
      // <svc>.<ns>.svc.<zone>
      if (svc.spec?.type === "ExternalName") return this.externalName(owner, svc, qtype, depth);
      if (isHeadless(svc)) {
        const eps = liveEndpoints(this.view, svc);
        if (eps.length === 0) return this.nxdomain();
        const seen = new Set<string>();
        const answers: RR[] = [];
        for (const e of eps) {
          if (!familyMatches(want, e.family) || seen.has(e.ip)) continue;
          seen.add(e.ip);
          answers.push(addressRR(owner, e.ip, ttl));
        }
        return this.ok(answers);
      }
      const answers = clusterIPs(svc)
        .filter((ip) => familyMatches(want, ipFamily(ip)!))
        .map((ip) => addressRR(owner, ip, ttl));
      return this.ok(answers);
    }

    if (parts.length === 3) {
      const first = parts[0]!;
      if (first.startsWith("_")) {
        // _<proto>.<svc>...: an empty non-terminal when the service has a port with that protocol
        const proto = first.slice(1);
        const has = (svc.spec?.ports ?? []).some(
          (p) => p.name && (p.protocol ?? "TCP").toLowerCase() === proto,
        );
        return has && svc.spec?.type !== "ExternalName" ? this.nodata() : this.nxdomain();
      }
      // <hostname>.<svc>.<ns>.svc.<zone>: headless endpoints
      if (!isHeadless(svc)) return this.nxdomain();
      const eps = liveEndpoints(this.view, svc).filter((e) => e.label === first);
      if (eps.length === 0) return this.nxdomain();
      return this.ok(
        eps.filter((e) => familyMatches(want, e.family)).map((e) => addressRR(owner, e.ip, ttl)),
      );
    }

    if (parts.length === 4) {
      // _<port>._<proto>.<svc>.<ns>.svc.<zone>
      const [portLabel, protoLabel] = parts as [string, string];
      if (!portLabel.startsWith("_") || !protoLabel.startsWith("_") || svc.spec?.type === "ExternalName")
        return this.nxdomain();
      const portName = portLabel.slice(1);
      const proto = protoLabel.slice(1);
      const port = (svc.spec?.ports ?? []).find(
        (p) => p.name && p.name.toLowerCase() === portName && (p.protocol ?? "TCP").toLowerCase() === proto,
      );
      if (!port) return this.nxdomain();
      if (isHeadless(svc)) {
        const targets = liveEndpoints(this.view, svc).filter((e) =>
          e.ports.some((p) => p.name === portName && p.protocol === proto),
        );
        if (targets.length === 0) return this.nxdomain();
        if (qtype !== QTYPE.SRV && qtype !== QTYPE.ANY) return this.nodata();
        // one SRV per endpoint name (an endpoint with both families is one target)
        const byLabel = new Map<string, LiveEndpoint[]>();
        for (const t of targets) byLabel.set(t.label, [...(byLabel.get(t.label) ?? []), t]);
        const weight = srvWeight(byLabel.size);
        const answers: RR[] = [];
        const additionals: RR[] = [];
        for (const [label, eps] of byLabel) {
          const target = `${label}.${svcName}`;
          const p = eps[0]!.ports.find((x) => x.name === portName && x.protocol === proto)!;
          answers.push({
            name: owner,
            type: "SRV",
            ttl,
            data: { priority: 0, weight, port: p.port, target },
          });
          for (const e of eps) additionals.push(addressRR(target, e.ip, ttl));
        }
        return this.ok(answers, additionals);
      }
      if (qtype !== QTYPE.SRV && qtype !== QTYPE.ANY) return this.nodata();
      return this.ok(
        [
          {
            name: owner,
            type: "SRV",
            ttl,
            data: { priority: 0, weight: srvWeight(1), port: port.port, target: svcName },
          },
        ],
        clusterIPs(svc).map((ip) => addressRR(svcName, ip, ttl)),
      );
    }
    return this.nxdomain();
  }

  private externalName(owner: string, svc: Service, qtype: number, depth: number): Resolution {
    const target = (svc.spec?.externalName ?? "").replace(/\.$/, "");
    if (!target) return this.nodata();
    const cname: RR = { name: owner, type: "CNAME", ttl: this.opts.ttl, data: target };
    if (qtype === QTYPE.CNAME) return this.ok([cname]);
    const tLabels = target.toLowerCase().split(".");
    if (!this.inZone(tLabels))
      return {
        kind: "answer",
        rcode: RCODE.NOERROR,
        answers: [cname],
        authorities: [],
        additionals: [],
        chase: target,
      };
    if (depth >= MAX_CNAME_CHAIN)
      return { kind: "answer", rcode: RCODE.SERVFAIL, answers: [cname], authorities: [], additionals: [] };
    const next = this.zoneAnswer(
      target,
      tLabels.slice(0, tLabels.length - this.zoneLabels.length),
      qtype,
      depth + 1,
    );
    if (next.kind !== "answer") return this.ok([cname]);
    return { ...next, answers: [cname, ...next.answers] };
  }

  private podAnswer(owner: string, parts: string[], qtype: number): Resolution {
    const mode = this.opts.pods;
    if (parts.length === 0) return this.nodata();
    if (mode === "disabled") return this.nxdomain();
    if (parts.length === 1) return this.nodata();
    if (parts.length !== 2) return this.nxdomain();
    const [dashed, ns] = parts as [string, string];
    const ip = ipFromDashed(dashed);
    if (!ip) return this.nxdomain();
    if (mode === "verified") {
      const pods = this.view
        .podsByIP(ip)
        .filter((p) => (p.metadata.namespace ?? "") === ns && !p.metadata.deletionTimestamp);
      if (pods.length === 0) return this.nxdomain();
    }
    const want = wantsFamily(qtype);
    return this.ok(familyMatches(want, ipFamily(ip)!) ? [addressRR(owner, ip, this.opts.ttl)] : []);
  }

  /** PTR records for a cluster IP or a headless endpoint address */
  private ptr(owner: string, ip: string): RR[] {
    const ttl = this.opts.ttl;
    const out: RR[] = [];
    const seen = new Set<string>();
    const add = (target: string) => {
      if (seen.has(target)) return;
      seen.add(target);
      out.push({ name: owner, type: "PTR", ttl, data: target });
    };
    for (const svc of this.view.servicesByIP(ip)) {
      if (isHeadless(svc) || svc.spec?.type === "ExternalName") continue;
      if (!clusterIPs(svc).includes(ip)) continue;
      add(`${svc.metadata.name}.${svc.metadata.namespace}.svc.${this.zone}`.toLowerCase());
    }
    for (const slice of this.view.slicesByIP(ip)) {
      const svcName = slice.metadata.labels?.[SERVICE_NAME_LABEL];
      const ns = slice.metadata.namespace ?? "";
      if (!svcName) continue;
      const svc = this.view.service(ns, svcName);
      if (!svc || !isHeadless(svc)) continue;
      for (const ep of slice.endpoints ?? []) {
        if (!endpointServes(ep, svc)) continue;
        if (!(ep.addresses ?? []).some((a) => canonicalIP(a) === ip)) continue;
        add(`${(ep.hostname || dashedIP(ip)).toLowerCase()}.${svcName}.${ns}.svc.${this.zone}`.toLowerCase());
      }
    }
    return out;
  }
}

/** CoreDNS-style SRV weight: the 100 shared out evenly over the records (at least 1) */
export function srvWeight(n: number): number {
  return Math.max(1, Math.floor(100 / Math.max(1, n)));
}

// ---------------------------------------------------------------- a view over plain arrays

/** A ClusterView over arrays of objects (tests, tools). */
export function staticView(objs: {
  services?: Service[];
  slices?: EndpointSlice[];
  pods?: Pod[];
}): ClusterView {
  const services = objs.services ?? [];
  const slices = objs.slices ?? [];
  const pods = objs.pods ?? [];
  return {
    service: (ns, name) =>
      services.find((s) => s.metadata.namespace === ns && s.metadata.name?.toLowerCase() === name),
    slices: (ns, name) =>
      slices.filter((s) => s.metadata.namespace === ns && s.metadata.labels?.[SERVICE_NAME_LABEL] === name),
    namespaceHasServices: (ns) => services.some((s) => s.metadata.namespace === ns),
    servicesByIP: (ip) => services.filter((s) => serviceIPKeys(s).includes(ip)),
    slicesByIP: (ip) => slices.filter((s) => sliceIPKeys(s).includes(ip)),
    podsByIP: (ip) => pods.filter((p) => podIPKeys(p).includes(ip)),
  };
}

/** index keys: canonical cluster IPs of a Service */
export function serviceIPKeys(svc: Service): string[] {
  return svc.spec?.type === "ExternalName" ? [] : clusterIPs(svc);
}

/** index keys: canonical endpoint addresses of a slice */
export function sliceIPKeys(slice: EndpointSlice): string[] {
  const out = new Set<string>();
  for (const ep of slice.endpoints ?? [])
    for (const a of ep.addresses ?? []) {
      const ip = canonicalIP(a);
      if (ip) out.add(ip);
    }
  return [...out];
}

/** index keys: canonical pod IPs */
export function podIPKeys(pod: Pod): string[] {
  const ips = pod.status?.podIPs?.length
    ? pod.status.podIPs.map((p) => p.ip)
    : pod.status?.podIP
      ? [pod.status.podIP]
      : [];
  return [...new Set(ips.map((ip) => canonicalIP(ip)).filter((ip): ip is string => ip !== undefined))];
}

/** index key for slices by owning service: "<ns>/<service-name>" */
export function sliceServiceKey(slice: EndpointSlice): string[] {
  const name = slice.metadata.labels?.[SERVICE_NAME_LABEL];
  return name ? [`${slice.metadata.namespace ?? ""}/${name.toLowerCase()}`] : [];
}
