/**
 * Garbage collector ("garbagecollector"): keeps an owner → dependents graph from informers over
 * every served resource that can carry ownerReferences, and implements the three propagation
 * policies:
 * - background: once every owner of an object is gone, the object is deleted;
 * - foreground: an owner with deletionTimestamp and the foregroundDeletion finalizer has its
 *   dependents deleted; when no dependent with blockOwnerDeletion is left, the finalizer is removed;
 * - orphan: an owner with deletionTimestamp and the orphan finalizer has its reference removed from
 *   every dependent, then the finalizer is removed.
 * Owners the graph has not seen are checked with a live GET (by uid) before anything is deleted.
 */
import { setMaxListeners } from "node:events";
import type { KubeObject } from "../api/object.js";
import type { ResourceInfo } from "../api/resources.js";
import { type Informer, isConflict, isNotFound, runWorker, WorkQueue } from "../client/index.js";
import {
  decideDependent,
  decideOwner,
  FINALIZER_FOREGROUND,
  FINALIZER_ORPHAN,
  type GraphNode,
  gcResources,
  nodeFrom,
  OwnerGraph,
  type OwnerState,
  ownerStateOf,
  resourceForOwner,
} from "./garbage-collector-graph.js";
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

const SYNC_TIMEOUT_MS = 30_000;
const gvr = (r: ResourceInfo) => ({ group: r.group, version: r.version, resource: r.resource });

export const garbageCollectorController: Controller = {
  name: "garbagecollector",
  async run(ctx: ControllerContext, parentSignal: AbortSignal): Promise<void> {
    const signal = ownSignal(parentSignal);
    const graph = new OwnerGraph();
    const queue = new WorkQueue<string>({
      name: "garbage_collector_attempt_to_delete",
      metrics: ctx.workqueueMetrics,
    });
    const informers: Informer[] = [];
    const offs: Array<() => void> = [];
    for (const res of gcResources()) {
      const inf = ctx.informers.informerFor(gvr(res), res.namespaced ? { namespace: "" } : {});
      informers.push(inf);
      const upsert = (obj: KubeObject) => {
        const n = nodeFrom(res, obj);
        if (!n) return;
        for (const uid of graph.upsert(n)) queue.add(uid);
      };
      offs.push(
        inf.addEventHandler({
          onAdd: upsert,
          onUpdate: (_o, n) => upsert(n),
          onDelete: (obj) => {
            if (obj.metadata.uid) for (const uid of graph.remove(obj.metadata.uid)) queue.add(uid);
          },
        }),
      );
    }
    // wait for every resource, but not forever: one that cannot be listed (RBAC, an aggregated API
    // that is down) must not stop collection of the others. Owners missing from the graph are
    // verified with a live GET before anything is deleted, so a partial graph is safe.
    const syncTimeout = new AbortController();
    const timer = setTimeout(() => syncTimeout.abort(), SYNC_TIMEOUT_MS);
    signal.addEventListener("abort", () => syncTimeout.abort(), { once: true });
    await Promise.all(informers.map((i) => i.waitForSync(syncTimeout.signal)));
    clearTimeout(timer);
    if (signal.aborted) {
      for (const off of offs) off();
      return;
    }
    const unsynced = gcResources().filter((_r, i) => !informers[i]!.hasSynced());
    if (unsynced.length)
      ctx.log.warn(
        { resources: unsynced.map((r) => r.resource) },
        "garbagecollector: starting before these resources synced",
      );
    ctx.log.info({ objects: graph.size, resources: informers.length }, "garbagecollector: graph synced");

    const ref = (n: GraphNode) => ({ ...gvr(n.resource), namespace: n.namespace, name: n.name });

    /** the live object behind a node, or undefined when it is gone (or replaced) */
    const fetch = async (n: GraphNode): Promise<KubeObject | undefined> => {
      try {
        const obj = await ctx.client.get(ref(n), { signal });
        return obj.metadata.uid === n.uid ? obj : undefined;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    };

    const resolveOwner = async (
      dep: GraphNode,
      o: GraphNode["owners"][number],
    ): Promise<OwnerState | undefined> => {
      const known = graph.get(o.uid);
      if (known) return ownerStateOf(known, o);
      const res = resourceForOwner(o);
      if (!res) return undefined; // a kind this apiserver does not serve: leave the dependent alone
      if (res.namespaced && !dep.namespace) return "dangling"; // a cluster-scoped object cannot have a namespaced owner
      try {
        const owner = await ctx.client.get(
          { ...gvr(res), namespace: res.namespaced ? dep.namespace : undefined, name: o.name },
          { signal },
        );
        return ownerStateOf(
          {
            uid: owner.metadata.uid,
            deleting: !!owner.metadata.deletionTimestamp,
            finalizers: owner.metadata.finalizers ?? [],
          },
          o,
        );
      } catch (err) {
        if (isNotFound(err)) return "dangling";
        throw err;
      }
    };

    const removeFinalizer = async (n: GraphNode, finalizer: string): Promise<void> => {
      const obj = await fetch(n);
      if (!obj || !(obj.metadata.finalizers ?? []).includes(finalizer)) return;
      const rest = (obj.metadata.finalizers ?? []).filter((f) => f !== finalizer);
      await ctx.client.patch(
        ref(n),
        {
          metadata: { resourceVersion: obj.metadata.resourceVersion, finalizers: rest.length ? rest : null },
        },
        { type: "merge", signal },
      );
      ctx.log.info(
        { object: `${n.resource.resource}/${n.namespace ?? ""}/${n.name}`, finalizer },
        "garbagecollector: removed finalizer",
      );
    };

    const removeOwnerRefs = async (n: GraphNode, uids: ReadonlySet<string>): Promise<void> => {
      const obj = await fetch(n);
      if (!obj) return;
      const refs = obj.metadata.ownerReferences ?? [];
      const keep = refs.filter((o) => !uids.has(o.uid));
      if (keep.length === refs.length) return;
      await ctx.client.patch(
        ref(n),
        {
          metadata: {
            resourceVersion: obj.metadata.resourceVersion,
            ownerReferences: keep.length ? keep : null,
          },
        },
        { type: "merge", signal },
      );
    };

    const deleteObject = async (n: GraphNode, propagationPolicy: "Background" | "Foreground" | "Orphan") => {
      try {
        await ctx.client.delete(ref(n), { propagationPolicy, preconditions: { uid: n.uid }, signal });
        ctx.log.info(
          { object: `${n.resource.resource}/${n.namespace ?? ""}/${n.name}`, propagationPolicy },
          "garbagecollector: deleted dependent",
        );
      } catch (err) {
        if (isNotFound(err) || isConflict(err)) return; // gone, or another object by now
        throw err;
      }
    };

    const process = async (uid: string): Promise<void> => {
      const n = graph.get(uid);
      if (!n) return;
      if (n.deleting) {
        const deps = graph.dependentsOf(uid);
        const action = decideOwner(n, deps);
        if (action.kind === "orphan") {
          for (const d of action.dependents) await removeOwnerRefs(d, new Set([uid]));
          await removeFinalizer(n, FINALIZER_ORPHAN);
        } else if (action.kind === "foreground") {
          for (const d of action.deleteDependents) queue.add(d.uid);
          if (action.release) await removeFinalizer(n, FINALIZER_FOREGROUND);
        }
        return;
      }
      if (!n.owners.length) return;
      const states = new Map<string, OwnerState>();
      for (const o of n.owners) {
        const s = await resolveOwner(n, o);
        if (s) states.set(o.uid, s);
      }
      const action = decideDependent(n, states, graph.dependentsOf(uid).length > 0);
      if (action.kind === "removeOwnerRefs") await removeOwnerRefs(n, new Set(action.uids));
      else if (action.kind === "delete") await deleteObject(n, action.propagationPolicy);
    };

    for (const n of [...graph.all()]) {
      if (n.owners.length || n.deleting) queue.add(n.uid);
    }
    signal.addEventListener("abort", () => queue.shutDown(), { once: true });
    await Promise.all(
      Array.from({ length: Math.max(1, ctx.options.concurrency) }, () =>
        runWorker(queue, process, {
          onError: (uid, err) => {
            if (!signal.aborted) ctx.log.warn({ uid, err: String(err) }, "garbagecollector: sync failed");
          },
        }),
      ),
    );
    for (const off of offs) off();
  },
};

registerController(garbageCollectorController);
