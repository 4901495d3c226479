/**
 * The EndpointSlice controller: for every Service with a selector, discovery.k8s.io/v1
 * EndpointSlices listing its pods (ready/serving/terminating), at most
 * --max-endpoints-per-slice (default 100) endpoints each, one slice family per port set,
 * rewritten in place with as few writes as possible. Slices of deleted Services, or of Services
 * that lost their selector, are deleted.
 */
import type { KubeObject } from "../api/object.js";
import { type Informer, objectKey, R, splitKey, WorkQueue } from "../client/index.js";
import { isNotFound } from "../client/rest.js";
import {
  DEFAULT_MAX_ENDPOINTS_PER_SLICE,
  desiredEndpointGroups,
  type EndpointSlice,
  reconcileSlices,
} from "./endpointslice-desired.js";
import {
  MANAGED_BY,
  MANAGED_BY_LABEL,
  type Node,
  type Pod,
  podEndpointSignature,
  podTriggerTime,
  rfc3339,
  SERVICE_NAME_LABEL,
  type Service,
  serviceHasSelector,
  serviceSelects,
  stableStringify,
  ZONE_LABEL,
} from "./endpointslice-pods.js";
import { counter, gauge, histogram, runQueueWorkers, TriggerTimeTracker } from "./endpointslice-runtime.js";
import { registerController } from "./registry.js";
import type { Controller, ControllerContext } from "./types.js";

const SLICE_INDEX = "endpointslice-controller:service";
const EXPECTATION_TTL_MS = 15_000;

function isManaged(s: KubeObject): boolean {
  return s.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY && !!s.metadata.labels?.[SERVICE_NAME_LABEL];
}

function rvNumber(rv: string | undefined): bigint | undefined {
  if (!rv || !/^[0-9]+$/.test(rv)) return undefined;
  return BigInt(rv);
}

/** What this controller wrote last for a Service, until its informer has seen it. */
interface Expectation {
  at: number;
  present: Map<string, string>;
  absent: Set<string>;
}

/** Services (in the pod's namespace) whose selector picks the pod. */
export function servicesForPod(services: Informer<Service>, pod: Pod): string[] {
  const out: string[] = [];
  for (const svc of services.listByNamespace(pod.metadata.namespace ?? "")) {
    if (serviceSelects(svc, pod)) out.push(objectKey(svc));
  }
  return out;
}

export interface EndpointSliceControllerOptions {
  maxEndpointsPerSlice?: number;
}

export async function runEndpointSliceController(ctx: ControllerContext, signal: AbortSignal): Promise<void> {
  const opts = ctx.options as typeof ctx.options & EndpointSliceControllerOptions;
  const maxPerSlice = opts.maxEndpointsPerSlice ?? DEFAULT_MAX_ENDPOINTS_PER_SLICE;
  const services = ctx.informers.informerFor<Service>(R.services);
  const pods = ctx.informers.informerFor<Pod>(R.pods);
  const nodes = ctx.informers.informerFor<Node>(R.nodes);
  const slices = ctx.informers.informerFor<EndpointSlice>(R.endpointslices);
  try {
    slices.addIndexer(SLICE_INDEX, (s) =>
      isManaged(s) ? [`${s.metadata.namespace}/${s.metadata.labels![SERVICE_NAME_LABEL]}`] : [],
    );
  } catch {
    // already added by an earlier run of this controller on the same factory
  }

  const m = ctx.metrics;
  const added = histogram(
    m,
    "endpoint_slice_controller_endpoints_added_per_sync",
    "Endpoints added on each Service sync",
    [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768],
  );
  const removed = histogram(
    m,
    "endpoint_slice_controller_endpoints_removed_per_sync",
    "Endpoints removed on each Service sync",
    [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768],
  );
  const changes = counter(m, "endpoint_slice_controller_changes", "EndpointSlice changes by operation", [
    "operation",
  ]);
  const syncs = counter(m, "endpoint_slice_controller_syncs", "EndpointSlice syncs by result", ["result"]);
  const desiredGauge = gauge(
    m,
    "endpoint_slice_controller_endpoints_desired",
    "Endpoints desired over all Services",
  );
  const slicesGauge = gauge(m, "endpoint_slice_controller_num_endpoint_slices", "EndpointSlices managed");
  const perService = new Map<string, { endpoints: number; slices: number }>();
  const publishTotals = () => {
    let e = 0;
    let s = 0;
    for (const v of perService.values()) {
      e += v.endpoints;
      s += v.slices;
    }
    desiredGauge.set(e);
    slicesGauge.set(s);
  };

  const queue = new WorkQueue<string>({ name: "endpoint_slice", metrics: ctx.workqueueMetrics });
  const triggers = new TriggerTimeTracker();
  const expectations = new Map<string, Expectation>();
  const client = ctx.client;

  const enqueuePod = (pod: Pod, trigger: string | undefined) => {
    for (const key of servicesForPod(services, pod)) {
      triggers.note(key, trigger);
      queue.add(key);
    }
  };

  services.addEventHandler({
    onAdd: (svc) => {
      const key = objectKey(svc);
      triggers.note(key, svc.metadata.creationTimestamp);
      queue.add(key);
    },
    onUpdate: (oldSvc, svc) => {
      if (
        stableStringify(oldSvc.spec) === stableStringify(svc.spec) &&
        stableStringify(oldSvc.metadata.labels) === stableStringify(svc.metadata.labels)
      )
        return;
      const key = objectKey(svc);
      triggers.note(key, new Date());
      queue.add(key);
    },
    onDelete: (svc) => {
      const key = objectKey(svc);
      triggers.forget(key);
      queue.add(key);
    },
  });
  pods.addEventHandler({
    onAdd: (pod) => enqueuePod(pod, podTriggerTime(pod)),
    onUpdate: (oldPod, pod) => {
      if (podEndpointSignature(oldPod) === podEndpointSignature(pod)) return;
      const readyChanged =
        oldPod.status?.conditions?.find((c) => c.type === "Ready")?.status !==
        pod.status?.conditions?.find((c) => c.type === "Ready")?.status;
      const trigger = readyChanged ? podTriggerTime(pod) : rfc3339(new Date());
      enqueuePod(pod, trigger);
      if (stableStringify(oldPod.metadata.labels) !== stableStringify(pod.metadata.labels))
        enqueuePod(oldPod, trigger);
    },
    onDelete: (pod) => enqueuePod(pod, rfc3339(new Date())),
  });
  const enqueueSliceOwner = (s: EndpointSlice) => {
    if (!isManaged(s)) return;
    queue.add(`${s.metadata.namespace}/${s.metadata.labels![SERVICE_NAME_LABEL]}`);
  };
  slices.addEventHandler({
    onAdd: (s, initial) => {
      if (!initial) enqueueSliceOwner(s);
    },
    onUpdate: (o, s) => {
      if (o.metadata.resourceVersion !== s.metadata.resourceVersion) enqueueSliceOwner(s);
    },
    onDelete: enqueueSliceOwner,
  });
  nodes.addEventHandler({
    onUpdate: (o, n) => {
      if (o.metadata.labels?.[ZONE_LABEL] === n.metadata.labels?.[ZONE_LABEL]) return;
      for (const svc of services.list()) queue.add(objectKey(svc));
    },
  });

  const zoneOf = (nodeName: string) => nodes.getByName(nodeName)?.metadata.labels?.[ZONE_LABEL];

  /** true when the informer has not caught up with this controller's last writes for the Service */
  const stale = (key: string): boolean => {
    const exp = expectations.get(key);
    if (!exp) return false;
    if (Date.now() - exp.at > EXPECTATION_TTL_MS) {
      expectations.delete(key);
      return false;
    }
    const ns = splitKey(key).namespace;
    for (const [name, rv] of exp.present) {
      const seen = slices.getByName(name, ns);
      if (!seen) return true;
      const a = rvNumber(seen.metadata.resourceVersion);
      const b = rvNumber(rv);
      if (a !== undefined && b !== undefined && a < b) return true;
    }
    for (const name of exp.absent) if (slices.getByName(name, ns)) return true;
    expectations.delete(key);
    return false;
  };

  const sliceRef = (ns: string | undefined) => ({ ...R.endpointslices, namespace: ns });

  const deleteSlice = async (s: EndpointSlice) => {
    try {
      await client.delete(
        { ...sliceRef(s.metadata.namespace), name: s.metadata.name ?? "" },
        { preconditions: { uid: s.metadata.uid } },
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    changes.inc({ operation: "delete" });
  };

  const sync = async (key: string): Promise<void> => {
    if (stale(key)) {
      syncs.inc({ result: "stale" });
      queue.addAfter(key, 50);
      return;
    }
    const { namespace } = splitKey(key);
    const svc = services.get(key);
    const managed = slices.byIndex(SLICE_INDEX, key);
    if (!svc || !serviceHasSelector(svc)) {
      triggers.forget(key);
      perService.delete(key);
      publishTotals();
      if (managed.length === 0) return;
      const exp: Expectation = { at: Date.now(), present: new Map(), absent: new Set() };
      await Promise.all(
        managed.map(async (s) => {
          await deleteSlice(s);
          exp.absent.add(s.metadata.name ?? "");
        }),
      );
      expectations.set(key, exp);
      syncs.inc({ result: "success" });
      return;
    }
    if (svc.metadata.deletionTimestamp) return;
    // slices owned by an earlier Service of the same name go
    const existing: EndpointSlice[] = [];
    const foreign: EndpointSlice[] = [];
    for (const s of managed) {
      const owner = s.metadata.ownerReferences?.find((o) => o.kind === "Service" && o.controller);
      if (owner && svc.metadata.uid && owner.uid !== svc.metadata.uid) foreign.push(s);
      else existing.push(s);
    }
    const selected = pods.listByNamespace(namespace ?? "").filter((p) => serviceSelects(svc, p));
    const groups = desiredEndpointGroups(svc, selected, zoneOf);
    const triggerTime = triggers.take(key);
    const plan = reconcileSlices({
      service: svc,
      groups,
      existing,
      maxEndpointsPerSlice: maxPerSlice,
      triggerTime,
    });
    plan.delete.push(...foreign);
    const exp: Expectation = { at: Date.now(), present: new Map(), absent: new Set() };
    try {
      await Promise.all([
        ...plan.create.map(async (s) => {
          const created = await client.create<EndpointSlice>(sliceRef(namespace), s);
          exp.present.set(created.metadata.name ?? "", created.metadata.resourceVersion ?? "");
          changes.inc({ operation: "create" });
        }),
        ...plan.update.map(async (s) => {
          const updated = await client.update<EndpointSlice>(
            { ...sliceRef(namespace), name: s.metadata.name },
            s,
          );
          exp.present.set(updated.metadata.name ?? "", updated.metadata.resourceVersion ?? "");
          changes.inc({ operation: "update" });
        }),
        ...plan.delete.map(async (s) => {
          await deleteSlice(s);
          exp.absent.add(s.metadata.name ?? "");
        }),
      ]);
    } catch (err) {
      if (exp.present.size || exp.absent.size) expectations.set(key, exp);
      if (triggerTime) triggers.note(key, triggerTime);
      syncs.inc({ result: "error" });
      throw err;
    }
    if (exp.present.size || exp.absent.size) expectations.set(key, exp);
    if (plan.added) added.observe(plan.added);
    if (plan.removed) removed.observe(plan.removed);
    perService.set(key, {
      endpoints: plan.desired,
      slices: existing.length + plan.create.length - (plan.delete.length - foreign.length),
    });
    publishTotals();
    syncs.inc({ result: "success" });
    if (plan.create.length || plan.update.length || plan.delete.length) {
      ctx.log.debug(
        {
          service: key,
          created: plan.create.length,
          updated: plan.update.length,
          deleted: plan.delete.length,
        },
        "endpoint slices synced",
      );
    }
  };

  const synced = await Promise.all([services, pods, nodes, slices].map((i) => i.waitForSync(signal)));
  if (!synced.every(Boolean)) return;
  // services deleted while the controller was down still have slices
  for (const v of slices.indexValues(SLICE_INDEX)) if (!services.get(v)) queue.add(v);
  await runQueueWorkers(ctx, queue, sync, signal);
}

export const endpointSliceController: Controller = {
  name: "endpointslice",
  run: runEndpointSliceController,
};

registerController(endpointSliceController);
