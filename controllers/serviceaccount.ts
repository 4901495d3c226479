/**
 * ServiceAccount controller ("serviceaccount"): every active namespace has a ServiceAccount
 * named "default"; it is created when a namespace appears and again if someone deletes it.
 */
import type { KubeObject } from "../api/object.js";
import { isAlreadyExists, isForbidden, isNotFound, R, runWorker, WorkQueue } from "../client/index.js";
import { registerController } from "./registry.js";
import type { Controller, ControllerContext } from "./types.js";

export const DEFAULT_SERVICE_ACCOUNTS = ["default"];

/** Whether a namespace should have the default ServiceAccounts (not terminating). */
export function serviceAccountNamespaceActive(ns: KubeObject | undefined): boolean {
  if (!ns || ns.metadata.deletionTimestamp) return false;
  return ((ns.status ?? {}) as { phase?: string }).phase !== "Terminating";
}

export const serviceAccountController: Controller = {
  name: "serviceaccount",
  async run(ctx: ControllerContext, signal: AbortSignal): Promise<void> {
    const namespaces = ctx.informers.informerFor(R.namespaces);
    const accounts = ctx.informers.informerFor(R.serviceaccounts, { namespace: "" });
    const queue = new WorkQueue<string>({ name: "serviceaccount", metrics: ctx.workqueueMetrics });
    const offs = [
      namespaces.addEventHandler({
        onAdd: (ns) => queue.add(ns.metadata.name!),
        onUpdate: (_o, ns) => queue.add(ns.metadata.name!),
      }),
      accounts.addEventHandler({
        onDelete: (sa) => {
          if (sa.metadata.namespace && DEFAULT_SERVICE_ACCOUNTS.includes(sa.metadata.name!))
            queue.add(sa.metadata.namespace);
        },
      }),
    ];
    const synced = await Promise.all([namespaces.waitForSync(signal), accounts.waitForSync(signal)]);
    if (!synced.every(Boolean)) {
      for (const off of offs) off();
      return;
    }
    const sync = async (namespace: string) => {
      if (!serviceAccountNamespaceActive(namespaces.getByName(namespace))) return;
      for (const name of DEFAULT_SERVICE_ACCOUNTS) {
        if (accounts.getByName(name, namespace)) continue;
        try {
          await ctx.client.create(
            { ...R.serviceaccounts, namespace },
            { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace } },
            { signal },
          );
          ctx.log.info({ namespace, name }, "serviceaccount: created");
        } catch (err) {
          // exists already (our cache lags), or the namespace is going/gone
          if (isAlreadyExists(err) || isNotFound(err) || isForbidden(err)) continue;
          throw err;
        }
      }
    };
    signal.addEventListener("abort", () => queue.shutDown(), { once: true });
    await Promise.all(
      Array.from({ length: Math.max(1, ctx.options.concurrency) }, () =>
        runWorker(queue, sync, {
          onError: (ns, err) => {
            if (!signal.aborted)
              ctx.log.warn({ namespace: ns, err: String(err) }, "serviceaccount: sync failed");
          },
        }),
      ),
    );
    for (const off of offs) off();
  },
};

registerController(serviceAccountController);
