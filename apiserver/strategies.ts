/**
 * Per-kind behaviour the generic registry cannot know: status reset on create, IP and
 * port allocation for Services, graceful deletion for Pods, namespace finalization, TTLs.
 * Strategies see objects in their stored version.
 */
import type { KubeObject } from "../api/object.js";
import { errors } from "../api/status.js";
import type { NodePortAllocator, ServiceIPAllocator } from "./allocators.js";
import type { RegistryContext, WriteOptions } from "./registry.js";

export interface Strategy {
  /** events expire */
  ttlSeconds?: number;
  defaultPropagation?: "Orphan" | "Background" | "Foreground";
  prepareForCreate?(obj: KubeObject, ctx: RegistryContext, opts: WriteOptions): Promise<void> | void;
  /** undo side effects of prepareForCreate when the write did not happen */
  rollbackCreate?(obj: KubeObject, ctx: RegistryContext): Promise<void> | void;
  prepareForUpdate?(
    obj: KubeObject,
    old: KubeObject,
    ctx: RegistryContext,
    opts: WriteOptions,
  ): Promise<void> | void;
  afterDelete?(obj: KubeObject, ctx: RegistryContext): Promise<void> | void;
  /** seconds of graceful deletion; undefined or 0 deletes at once */
  gracePeriod?(obj: KubeObject, requested: number | undefined): number | undefined;
  /** objects that must stay although no finalizer is left (pods waiting for their kubelet, namespaces with spec.finalizers) */
  blocksRemoval?(obj: KubeObject): boolean;
  /** deletion goes through a Terminating phase (namespaces) */
  deleteViaFinalize?(obj: KubeObject): boolean;
  beginDelete?(obj: KubeObject): void;
}

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj => (v && typeof v === "object" ? (v as Obj) : {});

function resetStatus(status: unknown = {}): Strategy {
  return {
    prepareForCreate(obj) {
      obj.status = structuredClone(status);
    },
  };
}

function qosClass(spec: Obj): string {
  const containers = [...((spec.containers as Obj[]) ?? []), ...((spec.initContainers as Obj[]) ?? [])];
  let anyResource = false;
  let guaranteed = true;
  for (const c of containers) {
    const res = asObj(c.resources);
    const req = asObj(res.requests);
    const lim = asObj(res.limits);
    if (Object.keys(req).length || Object.keys(lim).length) anyResource = true;
    for (const r of ["cpu", "memory"]) {
      if (lim[r] === undefined) guaranteed = false;
      else if (req[r] !== undefined && String(req[r]) !== String(lim[r])) guaranteed = false;
    }
  }
  if (!anyResource) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

const podStrategy: Strategy = {
  prepareForCreate(obj) {
    obj.status = { phase: "Pending", qosClass: qosClass(asObj(obj.spec)) };
  },
  gracePeriod(obj, requested) {
    const spec = asObj(obj.spec);
    const phase = asObj(obj.status).phase;
    if (!spec.nodeName || phase === "Succeeded" || phase === "Failed") return 0;
    if (requested !== undefined) return requested;
    return typeof spec.terminationGracePeriodSeconds === "number" ? spec.terminationGracePeriodSeconds : 30;
  },
  blocksRemoval(obj) {
    return (obj.metadata.deletionGracePeriodSeconds ?? 0) > 0;
  },
};

const namespaceStrategy: Strategy = {
  prepareForCreate(obj) {
    obj.status = { phase: "Active" };
  },
  deleteViaFinalize(obj) {
    return ((asObj(obj.spec).finalizers as string[] | undefined) ?? []).length > 0;
  },
  beginDelete(obj) {
    obj.status = { ...asObj(obj.status), phase: "Terminating" };
  },
  blocksRemoval(obj) {
    return ((asObj(obj.spec).finalizers as string[] | undefined) ?? []).length > 0;
  },
};

interface ServicePort {
  port?: number;
  nodePort?: number;
  [k: string]: unknown;
}

function needsNodePorts(spec: Obj): boolean {
  return (
    spec.type === "NodePort" || (spec.type === "LoadBalancer" && spec.allocateLoadBalancerNodePorts !== false)
  );
}

function needsClusterIP(spec: Obj): boolean {
  return spec.type !== "ExternalName";
}

function ownerOf(obj: KubeObject): string {
  return `${obj.metadata.namespace}/${obj.metadata.name}`;
}

function allocators(ctx: RegistryContext): { ips: ServiceIPAllocator; ports: NodePortAllocator } {
  return { ips: ctx.registry.service("serviceIPs"), ports: ctx.registry.service("nodePorts") };
}

function familyOf(ip: string): 4 | 6 {
  return ip.includes(":") ? 6 : 4;
}

async function allocateServiceAddresses(
  obj: KubeObject,
  ctx: RegistryContext,
  old?: KubeObject,
): Promise<void> {
  const spec = asObj(obj.spec);
  const oldSpec = old ? asObj(old.spec) : {};
  const { ips, ports } = allocators(ctx);
  const owner = ownerOf(obj);
  if (old) carryAllocatedValues(spec, oldSpec);
  /** addresses claimed by this call, released again if a later step fails */
  const claimedIPs: string[] = [];

  if (!needsClusterIP(spec)) {
    delete spec.clusterIP;
    delete spec.clusterIPs;
    delete spec.ipFamilies;
    delete spec.ipFamilyPolicy;
  } else if (!(old && needsClusterIP(oldSpec) && oldSpec.clusterIP)) {
    const requested = (spec.clusterIPs as string[] | undefined)?.length
      ? (spec.clusterIPs as string[])
      : spec.clusterIP
        ? [spec.clusterIP as string]
        : [];
    if (requested[0] === "None") {
      spec.clusterIP = "None";
      spec.clusterIPs = ["None"];
      spec.ipFamilies ??= [ips.families()[0] === 6 ? "IPv6" : "IPv4"];
    } else {
      const wanted: (4 | 6)[] = (spec.ipFamilies as string[] | undefined)?.length
        ? (spec.ipFamilies as string[]).map((f) => (f === "IPv6" ? 6 : 4))
        : requested.length
          ? requested.map(familyOf)
          : spec.ipFamilyPolicy === "PreferDualStack" || spec.ipFamilyPolicy === "RequireDualStack"
            ? ips.families()
            : [ips.families()[0]!];
      const got: string[] = [];
      try {
        for (let i = 0; i < wanted.length; i++) {
          const fam = wanted[i]!;
          if (!ips.families().includes(fam)) {
            if (spec.ipFamilyPolicy === "PreferDualStack") continue;
            throw errors.invalid("", "Service", obj.metadata.name!, [
              {
                reason: "FieldValueInvalid",
                field: "spec.ipFamilies",
                message: `Invalid value: "IPv${fam}": not configured on this cluster`,
              },
            ]);
          }
          got.push(await ips.allocate(owner, fam, requested[i]));
        }
      } catch (e) {
        for (const ip of got) await ips.release(ip);
        throw e;
      }
      claimedIPs.push(...got);
      spec.clusterIP = got[0];
      spec.clusterIPs = got;
      spec.ipFamilies = got.map((ip) => (familyOf(ip) === 6 ? "IPv6" : "IPv4"));
    }
    spec.ipFamilyPolicy ??= "SingleStack";
  }

  const list = (spec.ports as ServicePort[] | undefined) ?? [];
  const oldPorts = new Set(
    ((oldSpec.ports as ServicePort[] | undefined) ?? [])
      .map((p) => p.nodePort)
      .filter((p): p is number => !!p),
  );
  const wantNodePorts = needsNodePorts(spec);
  const claimed: number[] = [];
  try {
    for (const p of list) {
      if (!wantNodePorts) {
        // a type that no longer needs node ports drops the ones it had (unless the user set new ones)
        if (p.nodePort && oldPorts.has(p.nodePort)) delete p.nodePort;
        continue;
      }
      if (p.nodePort && oldPorts.has(p.nodePort)) continue;
      p.nodePort = await ports.allocate(owner, p.nodePort || undefined);
      claimed.push(p.nodePort);
    }
    const wantHealth = spec.type === "LoadBalancer" && spec.externalTrafficPolicy === "Local";
    if (wantHealth && !spec.healthCheckNodePort) {
      spec.healthCheckNodePort = oldSpec.healthCheckNodePort ?? (await ports.allocate(owner));
      if (spec.healthCheckNodePort !== oldSpec.healthCheckNodePort)
        claimed.push(spec.healthCheckNodePort as number);
    } else if (!wantHealth) delete spec.healthCheckNodePort;
  } catch (e) {
    for (const p of claimed) await ports.release(p);
    for (const ip of claimedIPs) await ips.release(ip);
    throw e;
  }
  if (old) await releaseUnused(old, obj, ctx);
}

/**
 * An update that leaves out what the server allocated (clusterIP(s), nodePorts,
 * healthCheckNodePort) keeps the old values, like upstream's patchAllocatedValues: a PUT of
 * a manifest without them must not release them.
 */
function carryAllocatedValues(spec: Obj, oldSpec: Obj): void {
  if (needsClusterIP(spec) && needsClusterIP(oldSpec) && oldSpec.clusterIP) {
    if (!spec.clusterIP && !(spec.clusterIPs as string[] | undefined)?.length) {
      spec.clusterIP = oldSpec.clusterIP;
      spec.clusterIPs = oldSpec.clusterIPs;
      if (spec.ipFamilies === undefined) spec.ipFamilies = oldSpec.ipFamilies;
      if (spec.ipFamilyPolicy === undefined) spec.ipFamilyPolicy = oldSpec.ipFamilyPolicy;
    }
  }
  if (needsNodePorts(spec) && needsNodePorts(oldSpec)) {
    const oldPorts = (oldSpec.ports as ServicePort[] | undefined) ?? [];
    for (const p of (spec.ports as ServicePort[] | undefined) ?? []) {
      if (p.nodePort) continue;
      const match = oldPorts.find(
        (o) => o.port === p.port && (o.protocol ?? "TCP") === (p.protocol ?? "TCP"),
      );
      if (match?.nodePort) p.nodePort = match.nodePort;
    }
  }
  if (
    spec.healthCheckNodePort === undefined &&
    oldSpec.healthCheckNodePort !== undefined &&
    spec.externalTrafficPolicy === "Local"
  ) {
    spec.healthCheckNodePort = oldSpec.healthCheckNodePort;
  }
}

function serviceIPs(obj: KubeObject): string[] {
  const spec = asObj(obj.spec);
  return (
    (spec.clusterIPs as string[] | undefined) ?? (spec.clusterIP ? [spec.clusterIP as string] : [])
  ).filter((ip) => ip && ip !== "None");
}

function serviceNodePorts(obj: KubeObject): number[] {
  const spec = asObj(obj.spec);
  const out = ((spec.ports as ServicePort[] | undefined) ?? [])
    .map((p) => p.nodePort)
    .filter((p): p is number => !!p);
  if (spec.healthCheckNodePort) out.push(spec.healthCheckNodePort as number);
  return out;
}

/** release what `before` held and `after` does not (after undefined: everything) */
async function releaseUnused(
  before: KubeObject,
  after: KubeObject | undefined,
  ctx: RegistryContext,
): Promise<void> {
  const { ips, ports } = allocators(ctx);
  const keepIPs = new Set(after ? serviceIPs(after) : []);
  const keepPorts = new Set(after ? serviceNodePorts(after) : []);
  for (const ip of serviceIPs(before)) if (!keepIPs.has(ip)) await ips.release(ip);
  for (const p of serviceNodePorts(before)) if (!keepPorts.has(p)) await ports.release(p);
}

const serviceStrategy: Strategy = {
  async prepareForCreate(obj, ctx) {
    obj.status = { loadBalancer: {} };
    await allocateServiceAddresses(obj, ctx);
  },
  async rollbackCreate(obj, ctx) {
    await releaseUnused(obj, undefined, ctx);
  },
  async prepareForUpdate(obj, old, ctx, opts) {
    if (opts.subresource === "status") return;
    await allocateServiceAddresses(obj, ctx, old);
  },
  async afterDelete(obj, ctx) {
    await releaseUnused(obj, undefined, ctx);
  },
};

export { serviceIPs, serviceNodePorts };

const STRATEGIES: Record<string, Strategy> = {
  "v1/Pod": podStrategy,
  "v1/Namespace": namespaceStrategy,
  "v1/Service": serviceStrategy,
  "v1/Event": { ttlSeconds: 3600 },
  "apps/v1/Deployment": resetStatus(),
  "apps/v1/ReplicaSet": resetStatus({ replicas: 0 }),
  "apps/v1/DaemonSet": resetStatus({
    currentNumberScheduled: 0,
    numberMisscheduled: 0,
    desiredNumberScheduled: 0,
    numberReady: 0,
  }),
  "networking.k8s.io/v1/Ingress": resetStatus({ loadBalancer: {} }),
  "autoscaling/v2/HorizontalPodAutoscaler": resetStatus({ currentReplicas: 0, desiredReplicas: 0 }),
  "apiregistration.k8s.io/v1/APIService": resetStatus(),
};

const NONE: Strategy = {};

export function strategyFor(apiVersion: string, kind: string): Strategy {
  return STRATEGIES[`${apiVersion}/${kind}`] ?? NONE;
}
