/**
 * ReplicaSet controller: keeps spec.replicas active pods from the template, adopting matching
 * orphans and releasing owned pods that stopped matching; writes status through the status
 * subresource. Decisions live in replicaset-util.ts; this file only talks to the API.
 */
import type { KubeObject } from "../api/object.js";
import type { EventRecorder } from "../client/events.js";
import {
  type Informer,
  isConflict,
  isNotFound,
  objectKey,
  R,
  runWorker,
  splitKey,
  WorkQueue,
} from "../client/index.js";
import { registerController } from "./registry.js";
import {
  BURST_REPLICAS,
  claimDecision,
  computeReplicaSetStatus,
  controllerRefOf,
  Expectations,
  isPodActive,
  newControllerRef,
  nextAvailableInMs,
  ownerRefsAfterAdopt,
  ownerRefsAfterRelease,
  type Pod,
  podFromTemplate,
  podsToDelete,
  type ReplicaSet,
  safeSelector,
  sameStatus,
  slowStartBatches,
} from "./replicaset-util.js";
import type { Controller, ControllerContext } from "./types.js";

/** Pods by the uid of their controller (shared by the deployment and replicaset controllers). */
export const CONTROLLER_UID_INDEX = "kubeplane.controller-uid";

export function ensureControllerUidIndex<T extends KubeObject>(inf: Informer<T>): void {
  try {
    inf.addIndexer(CONTROLLER_UID_INDEX, (obj) => {
      const ref = controllerRefOf(obj);
      return ref ? [ref.uid] : [];
    });
  } catch (err) {
    if (!String(err).includes("already exists")) throw err;
  }
}

class ReplicaSetController {
  readonly queue: WorkQueue<string>;
  readonly expectations = new Expectations();
  private readonly recorder: EventRecorder;
  private readonly rsInformer: Informer<ReplicaSet>;
  private readonly podInformer: Informer<Pod>;

  constructor(private readonly ctx: ControllerContext) {
    this.queue = new WorkQueue<string>({ name: "replicaset", metrics: ctx.workqueueMetrics });
    this.recorder = ctx.recorder("replicaset-controller");
    this.rsInformer = ctx.informers.informerFor<ReplicaSet>(R.replicasets);
    this.podInformer = ctx.informers.informerFor<Pod>(R.pods);
    ensureControllerUidIndex(this.podInformer);
  }

  private enqueue(rs: ReplicaSet): void {
    this.queue.add(objectKey(rs));
  }

  /** The ReplicaSet a controller reference points at, if it exists and is that very object. */
  private resolveRef(namespace: string | undefined, pod: Pod): ReplicaSet | undefined {
    const ref = controllerRefOf(pod);
    if (ref?.kind !== "ReplicaSet") return undefined;
    const rs = this.rsInformer.getByName(ref.name, namespace);
    return rs && rs.metadata.uid === ref.uid ? rs : undefined;
  }

  /** ReplicaSets in the pod's namespace whose selector matches it (for orphans). */
  private matchingReplicaSets(pod: Pod): ReplicaSet[] {
    return this.rsInformer
      .listByNamespace(pod.metadata.namespace ?? "")
      .filter(
        (rs) =>
          claimDecision(
            { uid: rs.metadata.uid ?? "", deleting: false },
            safeSelector(rs.spec.selector),
            pod,
          ) === "adopt",
      );
  }

  private podKey(pod: Pod): string {
    return objectKey(pod);
  }

  setupHandlers(): void {
    this.rsInformer.addEventHandler({
      onAdd: (rs) => this.enqueue(rs),
      onUpdate: (_old, rs) => this.enqueue(rs),
      onDelete: (rs) => {
        const key = objectKey(rs);
        this.expectations.delete(key);
        this.queue.add(key);
      },
    });
    this.podInformer.addEventHandler({
      onAdd: (pod) => {
        if (pod.metadata.deletionTimestamp) {
          this.podDeleted(pod);
          return;
        }
        const rs = this.resolveRef(pod.metadata.namespace, pod);
        if (rs) {
          this.expectations.creationObserved(objectKey(rs));
          this.enqueue(rs);
        } else if (!controllerRefOf(pod)) {
          for (const m of this.matchingReplicaSets(pod)) this.enqueue(m);
        }
      },
      onUpdate: (old, pod) => {
        if (old.metadata.resourceVersion === pod.metadata.resourceVersion) return;
        if (pod.metadata.deletionTimestamp && !old.metadata.deletionTimestamp) {
          this.podDeleted(pod);
        }
        const oldRef = controllerRefOf(old);
        const newRef = controllerRefOf(pod);
        if (oldRef && oldRef.uid !== newRef?.uid) {
          const prev = this.resolveRef(old.metadata.namespace, old);
          if (prev) this.enqueue(prev);
        }
        const rs = this.resolveRef(pod.metadata.namespace, pod);
        if (rs) {
          this.enqueue(rs);
          const min = rs.spec.minReadySeconds ?? 0;
          if (min > 0) this.queue.addAfter(objectKey(rs), min * 1000 + 100);
        } else if (!newRef) {
          const labelsChanged =
            JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(pod.metadata.labels ?? {});
          if (labelsChanged || oldRef) for (const m of this.matchingReplicaSets(pod)) this.enqueue(m);
        }
      },
      onDelete: (pod) => this.podDeleted(pod),
    });
  }

  private podDeleted(pod: Pod): void {
    const rs = this.resolveRef(pod.metadata.namespace, pod);
    if (!rs) return;
    const key = objectKey(rs);
    this.expectations.deletionObserved(key, this.podKey(pod));
    this.queue.add(key);
  }

  // ------------------------------------------------------------ reconcile

  async sync(key: string): Promise<void> {
    const cached = this.rsInformer.get(key);
    if (!cached) {
      this.expectations.delete(key);
      return;
    }
    const rs = cached;
    const { namespace } = splitKey(key);
    const selector = safeSelector(rs.spec.selector);
    const deleting = Boolean(rs.metadata.deletionTimestamp);
    const needsSync = this.expectations.satisfied(key) && !deleting;

    // claim: keep, adopt orphans, release what no longer matches
    const candidates = this.podInformer.listByNamespace(namespace ?? "").filter(isPodActive);
    const owned: Pod[] = [];
    let ownerChecked: boolean | undefined;
    const errors: unknown[] = [];
    for (const pod of candidates) {
      const decision = claimDecision({ uid: rs.metadata.uid ?? "", deleting }, selector, pod);
      if (decision === "keep") owned.push(pod);
      else if (decision === "adopt") {
        ownerChecked ??= await this.ownerStillValid(rs);
        if (!ownerChecked) continue;
        try {
          const adopted = await this.ctx.client.patch<Pod>(
            { ...R.pods, namespace, name: pod.metadata.name! },
            {
              metadata: {
                ownerReferences: ownerRefsAfterAdopt(pod, newControllerRef(rs, "apps/v1", "ReplicaSet")),
                resourceVersion: pod.metadata.resourceVersion,
              },
            },
            { type: "merge" },
          );
          if (isPodActive(adopted)) owned.push(adopted);
        } catch (err) {
          if (!isNotFound(err)) errors.push(err);
        }
      } else if (decision === "release") {
        try {
          await this.ctx.client.patch(
            { ...R.pods, namespace, name: pod.metadata.name! },
            {
              metadata: {
                ownerReferences: ownerRefsAfterRelease(pod, rs.metadata.uid ?? ""),
                resourceVersion: pod.metadata.resourceVersion,
              },
            },
            { type: "merge" },
          );
        } catch (err) {
          if (!isNotFound(err)) errors.push(err);
        }
      }
    }

    let failure: { reason: string; message: string } | undefined;
    if (needsSync && errors.length === 0) {
      failure = await this.manageReplicas(key, rs, owned);
    }
    await this.updateStatus(rs, owned, failure);
    if (errors.length) throw errors[0];
    if (failure) throw new Error(failure.message);
    const next = nextAvailableInMs(owned, rs.spec.minReadySeconds ?? 0, Date.now());
    if (next !== undefined) this.queue.addAfter(key, next + 50);
  }

  /** Fresh read (not the cache): the RS is still the same object and not being deleted. */
  private async ownerStillValid(rs: ReplicaSet): Promise<boolean> {
    try {
      const fresh = await this.ctx.client.get<ReplicaSet>({
        ...R.replicasets,
        namespace: rs.metadata.namespace,
        name: rs.metadata.name!,
      });
      return fresh.metadata.uid === rs.metadata.uid && !fresh.metadata.deletionTimestamp;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** Creates or deletes pods toward spec.replicas; returns a ReplicaFailure when creation failed. */
  private async manageReplicas(
    key: string,
    rs: ReplicaSet,
    pods: Pod[],
  ): Promise<{ reason: string; message: string } | undefined> {
    const want = rs.spec.replicas ?? 1;
    const diff = pods.length - want;
    if (diff < 0) {
      const total = Math.min(-diff, BURST_REPLICAS);
      this.expectations.expectCreations(key, total);
      let attempted = 0;
      let firstError: unknown;
      for (const batch of slowStartBatches(total)) {
        attempted += batch;
        const results = await Promise.allSettled(
          Array.from({ length: batch }, () =>
            this.ctx.client.create<Pod>({ ...R.pods, namespace: rs.metadata.namespace }, podFromTemplate(rs)),
          ),
        );
        for (const r of results) {
          if (r.status === "fulfilled") {
            void this.recorder.event(
              rs,
              "Normal",
              "SuccessfulCreate",
              `Created pod: ${r.value.metadata.name}`,
            );
          } else {
            // this creation will never be observed
            this.expectations.creationObserved(key);
            firstError ??= r.reason;
          }
        }
        if (firstError) break;
      }
      if (firstError) {
        // the batches never sent will never be observed either
        this.expectations.creationObserved(key, total - attempted);
        const message = firstError instanceof Error ? firstError.message : String(firstError);
        void this.recorder.event(rs, "Warning", "FailedCreate", `Error creating: ${message}`);
        this.ctx.log.warn({ replicaset: key, err: message }, "pod creation failed");
        return { reason: "FailedCreate", message };
      }
      return undefined;
    }
    if (diff > 0) {
      const victims = podsToDelete(pods, Math.min(diff, BURST_REPLICAS));
      this.expectations.expectDeletions(
        key,
        victims.map((p) => this.podKey(p)),
      );
      const results = await Promise.allSettled(
        victims.map((p) =>
          this.ctx.client.delete({ ...R.pods, namespace: p.metadata.namespace, name: p.metadata.name! }),
        ),
      );
      let firstError: unknown;
      results.forEach((r, i) => {
        const pod = victims[i]!;
        if (r.status === "fulfilled") {
          void this.recorder.event(rs, "Normal", "SuccessfulDelete", `Deleted pod: ${pod.metadata.name}`);
        } else if (isNotFound(r.reason)) {
          this.expectations.deletionObserved(key, this.podKey(pod));
        } else {
          this.expectations.deletionObserved(key, this.podKey(pod));
          firstError ??= r.reason;
        }
      });
      if (firstError) {
        const message = String(firstError instanceof Error ? firstError.message : firstError);
        void this.recorder.event(rs, "Warning", "FailedDelete", `Error deleting: ${message}`);
        throw firstError;
      }
    }
    return undefined;
  }

  private async updateStatus(
    rs: ReplicaSet,
    pods: Pod[],
    failure: { reason: string; message: string } | undefined,
  ): Promise<void> {
    const status = computeReplicaSetStatus(rs, pods, Date.now(), failure);
    if (sameStatus(rs.status, status)) return;
    try {
      await this.ctx.client.update(
        {
          ...R.replicasets,
          namespace: rs.metadata.namespace,
          name: rs.metadata.name!,
          subresource: "status",
        },
        { ...rs, status },
      );
    } catch (err) {
      if (isNotFound(err)) return;
      if (!isConflict(err)) throw err;
      // the cache is behind: retry once on the fresh object
      const fresh = await this.ctx.client.get<ReplicaSet>({
        ...R.replicasets,
        namespace: rs.metadata.namespace,
        name: rs.metadata.name!,
      });
      if (fresh.metadata.uid !== rs.metadata.uid) return;
      const again = computeReplicaSetStatus(fresh, pods, Date.now(), failure);
      if (sameStatus(fresh.status, again)) return;
      await this.ctx.client.update(
        {
          ...R.replicasets,
          namespace: rs.metadata.namespace,
          name: rs.metadata.name!,
          subresource: "status",
        },
        { ...fresh, status: again },
      );
    }
  }

  async run(signal: AbortSignal): Promise<void> {
    this.setupHandlers();
    const synced = await Promise.all([
      this.rsInformer.waitForSync(signal),
      this.podInformer.waitForSync(signal),
    ]);
    if (!synced.every(Boolean)) {
      this.queue.shutDown();
      return;
    }
    this.ctx.log.info({}, "replicaset controller synced");
    const workers = Array.from({ length: Math.max(1, this.ctx.options.concurrency) }, () =>
      runWorker(this.queue, (key) => this.sync(key), {
        onError: (key, err) => {
          if (isConflict(err)) this.ctx.log.debug({ replicaset: key }, "conflict, requeued");
          else this.ctx.log.warn({ replicaset: key, err: String(err) }, "sync failed, requeued");
        },
      }),
    );
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener("abort", () => resolve(), { once: true });
    });
    await this.queue.shutDownWithDrain();
    await Promise.all(workers);
  }
}

export const replicaSetController: Controller = {
  name: "replicaset",
  run: (ctx, signal) => new ReplicaSetController(ctx).run(signal),
};

registerController(replicaSetController);
