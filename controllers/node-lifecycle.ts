/**
 * Node lifecycle ("nodelifecycle"): watches Nodes and their kube-node-lease Leases.
 * - A node whose heartbeat (Lease renewTime; Ready's lastHeartbeatTime when it has no Lease) has not
 *   changed for --node-monitor-grace-period gets Ready/MemoryPressure/DiskPressure/PIDPressure
 *   Unknown (NodeStatusUnknown), and its pods' Ready and ContainersReady conditions turn False.
 * - Taints follow Ready: Unknown → node.kubernetes.io/unreachable, False → node.kubernetes.io/not-ready,
 *   each NoSchedule + NoExecute; Ready again → both removed.
 * - Taint-based eviction: a pod on a node with a NoExecute taint is deleted once its matching
 *   tolerations' tolerationSeconds have passed (at once if it does not tolerate the taint, never
 *   if it tolerates it without a limit).
 */
import { setMaxListeners } from "node:events";
import type { KubeObject } from "../api/object.js";
import {
  type Informer,
  isConflict,
  isNotFound,
  objectKey,
  R,
  runWorker,
  WorkQueue,
} from "../client/index.js";
import {
  type Condition,
  evictionTime,
  heartbeatOf,
  isSilent,
  type Probe,
  podNotReadyConditions,
  readyStatus,
  reconcileTaints,
  silentConditions,
  type Taint,
  type Toleration,
  updateProbe,
} from "./node-lifecycle-decide.js";
import { registerController } from "./registry.js";
import type { Controller, ControllerContext } from "./types.js";

/** a signal of our own (one listener on the manager's), so many concurrent requests do not trip MaxListeners */
function ownSignal(parent: AbortSignal): AbortSignal {
  const c = new AbortController();
  setMaxListeners(0, c.signal);
  if (parent.aborted) c.abort(parent.reason);
  else parent.addEventListener("abort", () => c.abort(parent.reason), { once: true });
  return c.signal;
}

export const NODE_LEASE_NAMESPACE = "kube-node-lease";
const POD_NODE_INDEX = "nodelifecycle:nodeName";

interface Lease extends KubeObject {
  spec?: { renewTime?: string | null; holderIdentity?: string | null };
}

const nodeConditions = (node: KubeObject): Condition[] | undefined =>
  ((node.status ?? {}) as { conditions?: Condition[] }).conditions;
const nodeTaints = (node: KubeObject): Taint[] | undefined =>
  ((node.spec ?? {}) as { taints?: Taint[] }).taints;
const podSpec = (pod: KubeObject) => (pod.spec ?? {}) as { nodeName?: string; tolerations?: Toleration[] };
const podStatus = (pod: KubeObject) => (pod.status ?? {}) as { phase?: string; conditions?: Condition[] };

function addIndexOnce(inf: Informer, name: string, fn: (o: KubeObject) => string[]): void {
  try {
    inf.addIndexer(name, fn);
  } catch {
    // another controller in this process added it already
  }
}

const taintId = (node: string, t: Taint) => `${node}\u0000${t.key}\u0000${t.effect}`;

export const nodeLifecycleController: Controller = {
  name: "nodelifecycle",
  async run(ctx: ControllerContext, parentSignal: AbortSignal): Promise<void> {
    const signal = ownSignal(parentSignal);
    const { nodeMonitorGracePeriodMs: grace, nodeMonitorPeriodMs: period } = ctx.options;
    const recorder = ctx.recorder("node-controller");
    const nodes = ctx.informers.informerFor(R.nodes);
    const leases = ctx.informers.informerFor<Lease>(R.leases, { namespace: NODE_LEASE_NAMESPACE });
    const pods = ctx.informers.informerFor(R.pods, { namespace: "" });
    addIndexOnce(pods, POD_NODE_INDEX, (p) => (podSpec(p).nodeName ? [podSpec(p).nodeName!] : []));

    const nodeQueue = new WorkQueue<string>({
      name: "node_lifecycle_controller",
      metrics: ctx.workqueueMetrics,
    });
    const podQueue = new WorkQueue<string>({
      name: "node_lifecycle_eviction",
      metrics: ctx.workqueueMetrics,
    });
    const probes = new Map<string, Probe>();
    /** when this controller first saw each NoExecute taint (node, key, effect) */
    const taintSeen = new Map<string, number>();

    const probeNode = (name: string, now = Date.now()): Probe | undefined => {
      const node = nodes.getByName(name);
      if (!node) return undefined;
      const lease = leases.getByName(name, NODE_LEASE_NAMESPACE);
      const p = updateProbe(probes.get(name), heartbeatOf(lease, nodeConditions(node)), now);
      probes.set(name, p);
      return p;
    };
    const enqueuePodsOn = (name: string) => {
      for (const p of pods.byIndex(POD_NODE_INDEX, name)) podQueue.add(objectKey(p));
    };
    const noteTaints = (node: KubeObject) => {
      const name = node.metadata.name!;
      const now = Date.now();
      const present = new Set<string>();
      for (const t of nodeTaints(node) ?? []) {
        if (t.effect !== "NoExecute") continue;
        const id = taintId(name, t);
        present.add(id);
        if (!taintSeen.has(id)) taintSeen.set(id, now);
      }
      for (const id of [...taintSeen.keys()]) {
        if (id.startsWith(`${name}\u0000`) && !present.has(id)) taintSeen.delete(id);
      }
    };
    const taintsKey = (n: KubeObject) =>
      JSON.stringify((nodeTaints(n) ?? []).map((t) => [t.key, t.value, t.effect]));

    const offs = [
      nodes.addEventHandler({
        onAdd: (n) => {
          noteTaints(n);
          probeNode(n.metadata.name!);
          nodeQueue.add(n.metadata.name!);
          enqueuePodsOn(n.metadata.name!);
        },
        onUpdate: (o, n) => {
          noteTaints(n);
          probeNode(n.metadata.name!);
          if (o.metadata.resourceVersion !== n.metadata.resourceVersion) nodeQueue.add(n.metadata.name!);
          if (taintsKey(o) !== taintsKey(n)) enqueuePodsOn(n.metadata.name!);
        },
        onDelete: (n) => {
          const name = n.metadata.name!;
          probes.delete(name);
          for (const id of [...taintSeen.keys()]) if (id.startsWith(`${name}\u0000`)) taintSeen.delete(id);
        },
      }),
      leases.addEventHandler({
        onAdd: (l) => {
          probeNode(l.metadata.name!);
          nodeQueue.add(l.metadata.name!);
        },
        onUpdate: (_o, l) => {
          probeNode(l.metadata.name!);
          nodeQueue.add(l.metadata.name!);
        },
      }),
      pods.addEventHandler({
        onAdd: (p) => {
          if (podSpec(p).nodeName) podQueue.add(objectKey(p));
        },
        onUpdate: (o, p) => {
          if (podSpec(p).nodeName && podSpec(o).nodeName !== podSpec(p).nodeName) podQueue.add(objectKey(p));
          else if (JSON.stringify(podSpec(o).tolerations) !== JSON.stringify(podSpec(p).tolerations))
            podQueue.add(objectKey(p));
        },
      }),
    ];

    const synced = await Promise.all([nodes, leases, pods].map((i) => i.waitForSync(signal)));
    if (!synced.every(Boolean)) {
      for (const off of offs) off();
      return;
    }

    const markPodsNotReady = async (name: string) => {
      for (const pod of pods.byIndex(POD_NODE_INDEX, name)) {
        const st = podStatus(pod);
        if (pod.metadata.deletionTimestamp && st.phase !== "Running") continue;
        if (st.phase === "Succeeded" || st.phase === "Failed") continue;
        const conditions = podNotReadyConditions(st.conditions, Date.now());
        if (!conditions) continue;
        try {
          await ctx.client.patch(
            { ...R.pods, namespace: pod.metadata.namespace, name: pod.metadata.name!, subresource: "status" },
            { metadata: { resourceVersion: pod.metadata.resourceVersion }, status: { conditions } },
            { type: "merge", signal },
          );
          ctx.log.info({ pod: objectKey(pod), node: name }, "nodelifecycle: marked pod not ready");
        } catch (err) {
          if (isNotFound(err) || isConflict(err)) continue; // next monitor pass sees the newer pod
          throw err;
        }
      }
    };

    const syncNode = async (name: string): Promise<void> => {
      let node = nodes.getByName(name);
      if (!node) return;
      const now = Date.now();
      const probe = probeNode(name, now)!;
      if (isSilent(probe, now, grace)) {
        const conditions = silentConditions(nodeConditions(node), now);
        if (conditions) {
          try {
            node = await ctx.client.patch(
              { ...R.nodes, name, subresource: "status" },
              { metadata: { resourceVersion: node.metadata.resourceVersion }, status: { conditions } },
              { type: "merge", signal },
            );
          } catch (err) {
            if (isNotFound(err)) return;
            throw err;
          }
          ctx.log.warn(
            { node: name, silentForMs: now - probe.observedAt },
            "nodelifecycle: node stopped posting status",
          );
          void recorder.event(node, "Normal", "NodeNotReady", `Node ${name} status is now: NodeNotReady`);
        }
      }
      const ready = readyStatus(nodeConditions(node));
      const taints = reconcileTaints(nodeTaints(node), ready, now);
      if (taints) {
        try {
          node = await ctx.client.patch(
            { ...R.nodes, name },
            { metadata: { resourceVersion: node.metadata.resourceVersion }, spec: { taints } },
            { type: "merge", signal },
          );
        } catch (err) {
          if (isNotFound(err)) return;
          throw err;
        }
        noteTaints(node);
        enqueuePodsOn(name);
        ctx.log.info(
          { node: name, ready, taints: taints.map((t) => `${t.key}:${t.effect}`) },
          "nodelifecycle: taints updated",
        );
      }
      if (ready !== "True") await markPodsNotReady(name);
    };

    const syncPod = async (key: string): Promise<void> => {
      const pod = pods.get(key);
      if (!pod || pod.metadata.deletionTimestamp) return;
      const { nodeName, tolerations } = podSpec(pod);
      if (!nodeName) return;
      const node = nodes.getByName(nodeName);
      if (!node) return;
      const now = Date.now();
      const at = evictionTime(
        nodeTaints(node),
        tolerations,
        (t) => taintSeen.get(taintId(nodeName, t)) ?? now,
      );
      if (at === Number.POSITIVE_INFINITY) return;
      if (at > now) {
        podQueue.addAfter(key, at - now);
        return;
      }
      try {
        await ctx.client.delete(
          { ...R.pods, namespace: pod.metadata.namespace, name: pod.metadata.name! },
          { preconditions: { uid: pod.metadata.uid }, signal },
        );
      } catch (err) {
        if (isNotFound(err) || isConflict(err)) return;
        throw err;
      }
      ctx.log.info({ pod: key, node: nodeName }, "nodelifecycle: evicted pod from NoExecute-tainted node");
      void recorder.event(pod, "Normal", "TaintManagerEviction", `Marking for deletion Pod ${key}`);
    };

    const monitor = setInterval(() => {
      for (const n of nodes.list()) nodeQueue.add(n.metadata.name!);
    }, period);
    signal.addEventListener(
      "abort",
      () => {
        clearInterval(monitor);
        nodeQueue.shutDown();
        podQueue.shutDown();
      },
      { once: true },
    );
    const workers = Math.max(1, ctx.options.concurrency);
    const onError = (what: string) => (item: string, err: unknown) =>
      signal.aborted
        ? undefined
        : ctx.log.warn({ [what]: item, err: String(err) }, `nodelifecycle: ${what} sync failed`);
    await Promise.all([
      ...Array.from({ length: workers }, () => runWorker(nodeQueue, syncNode, { onError: onError("node") })),
      ...Array.from({ length: workers }, () => runWorker(podQueue, syncPod, { onError: onError("pod") })),
    ]);
    for (const off of offs) off();
  },
};

registerController(nodeLifecycleController);
