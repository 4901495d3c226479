/**
 * Namespace controller ("namespace"): a namespace with deletionTimestamp (phase Terminating) has
 * every namespaced object of every served resource deleted; while objects remain (graceful pods,
 * finalizers) it reports progress in status conditions and looks again shortly. Once empty it
 * removes the "kubernetes" finalizer through PUT /api/v1/namespaces/NAME/finalize and the
 * apiserver removes the namespace.
 */
import { setMaxListeners } from "node:events";
import type { KubeObject } from "../api/object.js";
import type { ResourceInfo } from "../api/resources.js";
import { isConflict, isNotFound, R, runWorker, WorkQueue } from "../client/index.js";
import {
  type DeletionProgress,
  deletionConditions,
  finalizersAfterCleanup,
  type NamespaceCondition,
  namespacedResources,
} from "./namespace-deletion.js";
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

const RECHECK_MS = 1_000;
const gvr = (r: ResourceInfo) => ({ group: r.group, version: r.version, resource: r.resource });
const label = (r: ResourceInfo) => (r.group ? `${r.resource}.${r.group}` : r.resource);

export const namespaceController: Controller = {
  name: "namespace",
  async run(ctx: ControllerContext, parentSignal: AbortSignal): Promise<void> {
    const signal = ownSignal(parentSignal);
    const namespaces = ctx.informers.informerFor(R.namespaces);
    const queue = new WorkQueue<string>({ name: "namespace", metrics: ctx.workqueueMetrics });
    const off = namespaces.addEventHandler({
      onAdd: (ns) => {
        if (ns.metadata.deletionTimestamp) queue.add(ns.metadata.name!);
      },
      onUpdate: (_o, ns) => {
        if (ns.metadata.deletionTimestamp) queue.add(ns.metadata.name!);
      },
    });
    if (!(await namespaces.waitForSync(signal))) {
      off();
      return;
    }
    const resources = namespacedResources();

    const deleteAll = async (namespace: string, res: ResourceInfo, failures: string[]) => {
      try {
        if (res.verbs.includes("deletecollection")) {
          await ctx.client.deleteCollection(
            { ...gvr(res), namespace },
            { propagationPolicy: "Background", signal },
          );
          return;
        }
        const list = await ctx.client.list({ ...gvr(res), namespace }, { signal });
        for (const item of list.items) {
          if (item.metadata.deletionTimestamp) continue;
          try {
            await ctx.client.delete(
              { ...gvr(res), namespace, name: item.metadata.name! },
              { propagationPolicy: "Background", preconditions: { uid: item.metadata.uid }, signal },
            );
          } catch (err) {
            if (!isNotFound(err) && !isConflict(err)) throw err;
          }
        }
      } catch (err) {
        if (isNotFound(err)) return;
        failures.push(`${label(res)}: ${err instanceof Error ? err.message : String(err)}`);
      }
    };

    const sync = async (name: string): Promise<void> => {
      const ns = namespaces.getByName(name);
      if (!ns?.metadata.deletionTimestamp) return;
      const spec = (ns.spec ?? {}) as { finalizers?: string[] };
      const finalizers = finalizersAfterCleanup(spec.finalizers);
      if (!finalizers) return; // our part is done; other finalizers belong to others

      const progress: DeletionProgress = { failures: [], remaining: new Map(), finalizers: new Map() };
      for (const res of resources) await deleteAll(name, res, progress.failures);
      for (const res of resources) {
        try {
          const list = await ctx.client.list({ ...gvr(res), namespace: name }, { signal });
          if (list.items.length) progress.remaining.set(label(res), list.items.length);
          for (const item of list.items as KubeObject[]) {
            for (const f of item.metadata.finalizers ?? [])
              progress.finalizers.set(f, (progress.finalizers.get(f) ?? 0) + 1);
          }
        } catch (err) {
          if (!isNotFound(err)) progress.failures.push(`${label(res)}: ${String(err)}`);
        }
      }

      const status = (ns.status ?? {}) as { conditions?: NamespaceCondition[] };
      const conditions = deletionConditions(
        status.conditions,
        progress,
        new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
      );
      if (conditions) {
        try {
          await ctx.client.patch(
            { ...R.namespaces, name, subresource: "status" },
            { status: { conditions } },
            { type: "merge", signal },
          );
        } catch (err) {
          if (isNotFound(err)) return;
          if (!signal.aborted)
            ctx.log.warn({ namespace: name, err: String(err) }, "namespace: could not update conditions");
        }
      }
      if (progress.remaining.size || progress.failures.length) {
        ctx.log.info(
          { namespace: name, remaining: Object.fromEntries(progress.remaining), failures: progress.failures },
          "namespace: content remains, checking again",
        );
        queue.addAfter(name, RECHECK_MS);
        return;
      }
      const fresh = await ctx.client.get({ ...R.namespaces, name }, { signal }).catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
      if (!fresh || fresh.metadata.uid !== ns.metadata.uid) return;
      const freshFinalizers = finalizersAfterCleanup(
        ((fresh.spec ?? {}) as { finalizers?: string[] }).finalizers,
      );
      if (!freshFinalizers) return;
      await ctx.client.update(
        { ...R.namespaces, name, subresource: "finalize" },
        { ...fresh, spec: { ...(fresh.spec as object), finalizers: freshFinalizers } },
        { signal },
      );
      ctx.log.info({ namespace: name }, "namespace: content deleted, finalized");
    };

    signal.addEventListener("abort", () => queue.shutDown(), { once: true });
    await Promise.all(
      Array.from({ length: Math.max(1, Math.min(ctx.options.concurrency, 10)) }, () =>
        runWorker(queue, sync, {
          onError: (ns, err) => {
            if (!signal.aborted) ctx.log.warn({ namespace: ns, err: String(err) }, "namespace: sync failed");
          },
        }),
      ),
    );
    off();
  },
};

registerController(namespaceController);
