/**
 * The DaemonSet controller: one pod per eligible node (bound with spec.nodeName and a
 * metadata.name node affinity), following nodes as they come, go and change; RollingUpdate by
 * template hash within maxUnavailable; status counts. Decisions live in daemonset-plan.ts.
 */
import { objectKey, R, splitKey, WorkQueue } from "../client/index.js";
import { isNotFound } from "../client/rest.js";
import {
  type DaemonNode,
  type DaemonPod,
  type DaemonSet,
  newDaemonPod,
  planDaemonSet,
  statusChanged,
} from "./daemonset-plan.js";
import { stableStringify } from "./endpointslice-pods.js";
import { counter, runQueueWorkers } from "./endpointslice-runtime.js";
import { registerController } from "./registry.js";
import type { Controller, ControllerContext } from "./types.js";

const OWNER_INDEX = "daemonset-controller:owner";
const EXPECTATION_TTL_MS = 30_000;

/** "ns/name" of the DaemonSet controlling a pod, if any. */
function controllingDaemonSet(pod: DaemonPod): string | undefined {
  const ref = pod.metadata.ownerReferences?.find((o) => o.controller && o.kind === "DaemonSet");
  return ref ? `${pod.metadata.namespace}/${ref.name}` : undefined;
}

/** Creations and deletions issued but not yet seen through the informer (upstream's expectations). */
class Expectations {
  private readonly m = new Map<string, { adds: number; dels: Set<string>; at: number }>();

  expect(key: string, adds: number, dels: string[]): void {
    this.m.set(key, { adds, dels: new Set(dels), at: Date.now() });
  }
  created(key: string): void {
    const e = this.m.get(key);
    if (e) e.adds--;
  }
  deleted(key: string, podKey: string): void {
    this.m.get(key)?.dels.delete(podKey);
  }
  satisfied(key: string): boolean {
    const e = this.m.get(key);
    if (!e) return true;
    if ((e.adds <= 0 && e.dels.size === 0) || Date.now() - e.at > EXPECTATION_TTL_MS) {
      this.m.delete(key);
      return true;
    }
    return false;
  }
  forget(key: string): void {
    this.m.delete(key);
  }
}

export async function runDaemonSetController(ctx: ControllerContext, signal: AbortSignal): Promise<void> {
  const dss = ctx.informers.informerFor<DaemonSet>(R.daemonsets);
  const pods = ctx.informers.informerFor<DaemonPod>(R.pods);
  const nodes = ctx.informers.informerFor<DaemonNode>(R.nodes);
  try {
    pods.addIndexer(OWNER_INDEX, (p) => {
      const k = controllingDaemonSet(p);
      return k ? [k] : [];
    });
  } catch {
    // already added by an earlier run on the same factory
  }
  const queue = new WorkQueue<string>({ name: "daemonset", metrics: ctx.workqueueMetrics });
  const expectations = new Expectations();
  const recorder = ctx.recorder("daemonset-controller");
  const podWrites = counter(
    ctx.metrics,
    "daemonset_controller_pod_writes_total",
    "Daemon pods created and deleted",
    ["operation"],
  );
  const client = ctx.client;

  dss.addEventHandler({
    onAdd: (ds) => queue.add(objectKey(ds)),
    onUpdate: (_o, ds) => queue.add(objectKey(ds)),
    onDelete: (ds) => {
      expectations.forget(objectKey(ds));
      queue.add(objectKey(ds));
    },
  });
  pods.addEventHandler({
    onAdd: (pod) => {
      const k = controllingDaemonSet(pod);
      if (!k) return;
      expectations.created(k);
      queue.add(k);
    },
    onUpdate: (o, pod) => {
      const k = controllingDaemonSet(pod);
      if (!k) return;
      if (pod.metadata.deletionTimestamp && !o.metadata.deletionTimestamp)
        expectations.deleted(k, objectKey(pod));
      if (
        o.metadata.resourceVersion !== pod.metadata.resourceVersion &&
        (stableStringify(o.status) !== stableStringify(pod.status) ||
          o.metadata.deletionTimestamp !== pod.metadata.deletionTimestamp ||
          stableStringify(o.metadata.labels) !== stableStringify(pod.metadata.labels))
      )
        queue.add(k);
    },
    onDelete: (pod) => {
      const k = controllingDaemonSet(pod);
      if (!k) return;
      expectations.deleted(k, objectKey(pod));
      queue.add(k);
    },
  });
  const enqueueAll = () => {
    for (const ds of dss.list()) queue.add(objectKey(ds));
  };
  nodes.addEventHandler({
    onAdd: (_n, initial) => {
      if (!initial) enqueueAll();
    },
    onUpdate: (o, n) => {
      if (
        stableStringify(o.metadata.labels) !== stableStringify(n.metadata.labels) ||
        stableStringify(o.spec?.taints ?? []) !== stableStringify(n.spec?.taints ?? []) ||
        o.spec?.unschedulable !== n.spec?.unschedulable
      )
        enqueueAll();
    },
    onDelete: () => enqueueAll(),
  });

  const podRef = (ns: string | undefined) => ({ ...R.pods, namespace: ns });

  const sync = async (key: string): Promise<void> => {
    const ds = dss.get(key);
    if (!ds || ds.metadata.deletionTimestamp) return;
    const { namespace } = splitKey(key);
    const owned = pods
      .byIndex(OWNER_INDEX, key)
      .filter((p) => p.metadata.ownerReferences?.some((o) => o.controller && o.uid === ds.metadata.uid));
    const now = Date.now();
    const plan = planDaemonSet(ds, nodes.list(), owned, now);
    const ready = expectations.satisfied(key);
    if (!ready) queue.addAfter(key, 1000);
    if (ready && (plan.create.length || plan.delete.length)) {
      expectations.expect(
        key,
        plan.create.length,
        plan.delete.map((d) => objectKey(d.pod)),
      );
      const results = await Promise.allSettled([
        ...plan.create.map(async (nodeName) => {
          try {
            const pod = await client.create<DaemonPod>(
              podRef(namespace),
              newDaemonPod(ds, nodeName, plan.hash),
            );
            podWrites.inc({ operation: "create" });
            void recorder.event(ds, "Normal", "SuccessfulCreate", `Created pod: ${pod.metadata.name}`);
          } catch (err) {
            expectations.created(key);
            void recorder.event(
              ds,
              "Warning",
              "FailedCreate",
              `Error creating: ${err instanceof Error ? err.message : String(err)}`,
            );
            throw err;
          }
        }),
        ...plan.delete.map(async ({ pod }) => {
          try {
            await client.delete(
              { ...podRef(namespace), name: pod.metadata.name ?? "" },
              { preconditions: { uid: pod.metadata.uid } },
            );
            podWrites.inc({ operation: "delete" });
            void recorder.event(ds, "Normal", "SuccessfulDelete", `Deleted pod: ${pod.metadata.name}`);
          } catch (err) {
            expectations.deleted(key, objectKey(pod));
            if (!isNotFound(err)) throw err;
          }
        }),
      ]);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
    }
    if (statusChanged(ds.status, plan.status)) {
      try {
        await client.patch(
          { ...R.daemonsets, namespace, name: ds.metadata.name ?? "", subresource: "status" },
          { status: plan.status },
          { type: "merge" },
        );
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    if (plan.requeueAfterMs !== undefined) queue.addAfter(key, plan.requeueAfterMs);
  };

  const synced = await Promise.all([dss, pods, nodes].map((i) => i.waitForSync(signal)));
  if (!synced.every(Boolean)) return;
  await runQueueWorkers(ctx, queue, sync, signal);
}

export const daemonSetController: Controller = { name: "daemonset", run: runDaemonSetController };

registerController(daemonSetController);
