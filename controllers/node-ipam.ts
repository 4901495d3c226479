/**
 * Node IPAM ("nodeipam"): gives every Node without one a spec.podCIDR (and spec.podCIDRs) carved
 * from --cluster-cidr with --node-cidr-mask-size. Subnets held by existing nodes are recovered at
 * start, so a CIDR is never handed out twice while its node exists; a deleted node's subnet
 * becomes free again. When the range is full the node gets a CIDRNotAvailable Event and is retried.
 */
import type { KubeObject } from "../api/object.js";
import { isConflict, isNotFound, R, runWorker, WorkQueue } from "../client/index.js";
import { CIDRSet, parseClusterCIDRs } from "./node-ipam-cidrs.js";
import { registerController } from "./registry.js";
import type { Controller, ControllerContext } from "./types.js";

interface NodeSpec {
  podCIDR?: string;
  podCIDRs?: string[];
}

function podCIDRsOf(node: KubeObject): string[] {
  const spec = (node.spec ?? {}) as NodeSpec;
  if (Array.isArray(spec.podCIDRs) && spec.podCIDRs.length) return spec.podCIDRs;
  return spec.podCIDR ? [spec.podCIDR] : [];
}

const RETRY_FULL_MS = 10_000;

export const nodeIpamController: Controller = {
  name: "nodeipam",
  async run(ctx: ControllerContext, signal: AbortSignal): Promise<void> {
    const { clusterCIDR, nodeCIDRMaskSize } = ctx.options;
    if (!clusterCIDR) {
      ctx.log.info({}, "nodeipam: --cluster-cidr not set, not allocating pod CIDRs");
      return;
    }
    const set = new CIDRSet(parseClusterCIDRs(clusterCIDR, nodeCIDRMaskSize));
    const recorder = ctx.recorder("node-ipam-controller");
    const nodes = ctx.informers.informerFor(R.nodes);
    const queue = new WorkQueue<string>({ name: "nodeipam", metrics: ctx.workqueueMetrics });
    /** node name → uid whose subnets `set` holds (a recreated node must not inherit by name) */
    const holders = new Map<string, string>();
    /** nodes that found the range full: retried as soon as a subnet is released */
    const waiting = new Set<string>();

    const observe = (node: KubeObject) => {
      const name = node.metadata.name!;
      const cidrs = podCIDRsOf(node);
      if (cidrs.length) {
        if (holders.get(name) !== node.metadata.uid) set.release(name);
        set.occupy(name, cidrs);
        holders.set(name, node.metadata.uid ?? "");
      } else queue.add(name);
    };
    const offHandlers = nodes.addEventHandler({
      onAdd: (n) => observe(n),
      onUpdate: (_o, n) => observe(n),
      onDelete: (n) => {
        const name = n.metadata.name!;
        if (!holders.has(name) || holders.get(name) === n.metadata.uid) {
          set.release(name);
          holders.delete(name);
          for (const w of waiting) queue.add(w);
        }
        waiting.delete(name);
      },
    });
    if (!(await nodes.waitForSync(signal))) {
      offHandlers();
      return;
    }
    // every existing node's subnets are known from the initial list before anything is handed out

    const reconcile = async (name: string): Promise<void> => {
      const node = nodes.getByName(name);
      if (!node || node.metadata.deletionTimestamp || podCIDRsOf(node).length) return;
      const picked = set.allocate(name);
      if (picked) waiting.delete(name);
      else {
        waiting.add(name);
        void recorder.event(
          node,
          "Warning",
          "CIDRNotAvailable",
          `Node ${name} status is now: CIDRNotAvailable`,
        );
        ctx.log.warn({ node: name, clusterCIDR }, "nodeipam: no pod CIDR available");
        queue.addAfter(name, RETRY_FULL_MS);
        return;
      }
      holders.set(name, node.metadata.uid ?? "");
      try {
        await ctx.client.patch(
          { ...R.nodes, name },
          {
            metadata: { resourceVersion: node.metadata.resourceVersion, uid: node.metadata.uid },
            spec: { podCIDR: picked[0], podCIDRs: picked },
          },
          { type: "merge", signal },
        );
        ctx.log.info({ node: name, podCIDRs: picked }, "nodeipam: assigned pod CIDR");
        void recorder.event(
          node,
          "Normal",
          "CIDRAssignmentSucceeded",
          `Node ${name} was assigned podCIDRs ${picked.join(",")}`,
        );
      } catch (err) {
        // give the reservation back unless the node took it meanwhile (our informer will tell)
        set.release(name);
        holders.delete(name);
        const latest = nodes.getByName(name);
        if (latest && podCIDRsOf(latest).length) set.occupy(name, podCIDRsOf(latest));
        if (isNotFound(err)) return;
        if (isConflict(err)) throw err; // retried with the newer object
        void recorder.event(
          node,
          "Warning",
          "CIDRAssignmentFailed",
          `Node ${name} podCIDR assignment failed: ${String(err)}`,
        );
        throw err;
      }
    };

    signal.addEventListener("abort", () => queue.shutDown(), { once: true });
    await Promise.all(
      Array.from({ length: 1 }, () =>
        runWorker(queue, reconcile, {
          onError: (item, err) => {
            if (!signal.aborted) ctx.log.warn({ node: item, err: String(err) }, "nodeipam: sync failed");
          },
        }),
      ),
    );
    offHandlers();
  },
};

registerController(nodeIpamController);
