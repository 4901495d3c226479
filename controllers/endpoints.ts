/**
 * The Endpoints controller: the legacy core/v1 Endpoints object (same name as the Service) for
 * every Service with a selector: ready pods under addresses, the others under
 * notReadyAddresses, ports resolved per pod; deleted with its Service.
 */
import { objectKey, R, splitKey, WorkQueue } from "../client/index.js";
import { isAlreadyExists, isConflict, isNotFound } from "../client/rest.js";
import { desiredSubsets, type Endpoints, planEndpoints } from "./endpoints-desired.js";
import {
  type Pod,
  podEndpointSignature,
  podTriggerTime,
  rfc3339,
  type Service,
  serviceHasSelector,
  serviceSelects,
  stableStringify,
} from "./endpointslice-pods.js";
import { counter, runQueueWorkers, TriggerTimeTracker } from "./endpointslice-runtime.js";
import { registerController } from "./registry.js";
import type { Controller, ControllerContext } from "./types.js";

export async function runEndpointsController(ctx: ControllerContext, signal: AbortSignal): Promise<void> {
  const services = ctx.informers.informerFor<Service>(R.services);
  const pods = ctx.informers.informerFor<Pod>(R.pods);
  const endpoints = ctx.informers.informerFor<Endpoints>(R.endpoints);
  const queue = new WorkQueue<string>({ name: "endpoint", metrics: ctx.workqueueMetrics });
  const triggers = new TriggerTimeTracker();
  const writes = counter(ctx.metrics, "endpoints_controller_changes", "Endpoints writes by operation", [
    "operation",
  ]);
  /** resourceVersion of our last write per key, so a sync does not act on a cache older than it */
  const lastWritten = new Map<string, { rv: bigint; at: number }>();
  const client = ctx.client;

  const enqueuePod = (pod: Pod, trigger: string | undefined) => {
    for (const svc of services.listByNamespace(pod.metadata.namespace ?? "")) {
      if (!serviceSelects(svc, pod)) continue;
      const key = objectKey(svc);
      triggers.note(key, trigger);
      queue.add(key);
    }
  };

  services.addEventHandler({
    onAdd: (svc) => {
      triggers.note(objectKey(svc), svc.metadata.creationTimestamp);
      queue.add(objectKey(svc));
    },
    onUpdate: (o, svc) => {
      if (
        stableStringify(o.spec) === stableStringify(svc.spec) &&
        stableStringify(o.metadata.labels) === stableStringify(svc.metadata.labels)
      )
        return;
      triggers.note(objectKey(svc), new Date());
      queue.add(objectKey(svc));
    },
    onDelete: (svc) => {
      triggers.forget(objectKey(svc));
      queue.add(objectKey(svc));
    },
  });
  pods.addEventHandler({
    onAdd: (pod) => enqueuePod(pod, podTriggerTime(pod)),
    onUpdate: (o, pod) => {
      if (podEndpointSignature(o) === podEndpointSignature(pod)) return;
      const readyChanged =
        o.status?.conditions?.find((c) => c.type === "Ready")?.status !==
        pod.status?.conditions?.find((c) => c.type === "Ready")?.status;
      const trigger = readyChanged ? podTriggerTime(pod) : rfc3339(new Date());
      enqueuePod(pod, trigger);
      if (stableStringify(o.metadata.labels) !== stableStringify(pod.metadata.labels)) enqueuePod(o, trigger);
    },
    onDelete: (pod) => enqueuePod(pod, rfc3339(new Date())),
  });
  endpoints.addEventHandler({
    onUpdate: (o, e) => {
      if (o.metadata.resourceVersion !== e.metadata.resourceVersion) queue.add(objectKey(e));
    },
    onDelete: (e) => queue.add(objectKey(e)),
  });

  const ref = (ns: string | undefined, name = "") => ({ ...R.endpoints, namespace: ns, name });

  const sync = async (key: string): Promise<void> => {
    const { namespace, name } = splitKey(key);
    const existing = endpoints.get(key);
    const last = lastWritten.get(key);
    if (last) {
      const seen = existing?.metadata.resourceVersion;
      const behind = seen && /^[0-9]+$/.test(seen) ? BigInt(seen) < last.rv : !existing;
      if (behind && Date.now() - last.at < 15_000) {
        queue.addAfter(key, 50);
        return;
      }
      lastWritten.delete(key);
    }
    const svc = services.get(key);
    if (!svc) {
      triggers.forget(key);
      // the Endpoints of a deleted Service go (unless the watch already removed them)
      if (!existing) return;
      try {
        await client.delete(ref(namespace, name), { preconditions: { uid: existing.metadata.uid } });
        writes.inc({ operation: "delete" });
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
      return;
    }
    // Services without a selector have user-managed Endpoints
    if (!serviceHasSelector(svc) || svc.metadata.deletionTimestamp) return;
    const selected = pods.listByNamespace(namespace ?? "").filter((p) => serviceSelects(svc, p));
    const desired = desiredSubsets(svc, selected);
    const triggerTime = triggers.take(key);
    const plan = planEndpoints(svc, desired, existing, triggerTime);
    if (!plan.write) return;
    try {
      const written = plan.create
        ? await client.create<Endpoints>(ref(namespace), plan.write)
        : await client.update<Endpoints>(ref(namespace, name), plan.write);
      writes.inc({ operation: plan.create ? "create" : "update" });
      const rv = written.metadata.resourceVersion;
      if (rv && /^[0-9]+$/.test(rv)) lastWritten.set(key, { rv: BigInt(rv), at: Date.now() });
    } catch (err) {
      if (triggerTime) triggers.note(key, triggerTime);
      if (isAlreadyExists(err)) {
        // created by someone else meanwhile: retry against it once the informer has it
        queue.addAfter(key, 100);
        return;
      }
      throw err;
    }
  };

  const synced = await Promise.all([services, pods, endpoints].map((i) => i.waitForSync(signal)));
  if (!synced.every(Boolean)) return;
  await runQueueWorkers(ctx, queue, sync, signal);
}

export const endpointsController: Controller = { name: "endpoints", run: runEndpointsController };

registerController(endpointsController);
