/**
 * Deployment controller: one ReplicaSet per pod-template hash, rolled out with RollingUpdate
 * (maxSurge / maxUnavailable) or Recreate, scaled on scale events (also while paused), old
 * ReplicaSets pruned past revisionHistoryLimit, and a status with Available/Progressing
 * conditions that `kubectl rollout status` understands. The arithmetic lives in
 * deployment-util.ts; this file reads the caches and writes through the API.
 */

import type { EventRecorder } from "../client/events.js";
import {
  type Informer,
  isAlreadyExists,
  isConflict,
  isNotFound,
  objectKey,
  R,
  runWorker,
  WorkQueue,
} from "../client/index.js";
import {
  activeReplicaSets,
  calculateStatus,
  computeTemplateHash,
  condition,
  type Deployment,
  type DeploymentStatus,
  findNewReplicaSet,
  getCondition,
  hasProgressDeadline,
  historyToDelete,
  isDeploymentComplete,
  isRollingUpdate,
  isScalingEvent,
  maxRevision,
  maxSurgeOf,
  newReplicaSetFor,
  PROGRESSING,
  pausedCondition,
  planScale,
  REVISION_ANNOTATION,
  replicasOf,
  revisionOf,
  rollingNewReplicas,
  rollingOldScaleDown,
  rolloutStatus,
  sameDeploymentStatus,
  setCondition,
  setNewRSAnnotations,
  setReplicasAnnotations,
  templatesEqualIgnoringHash,
} from "./deployment-util.js";
import { registerController } from "./registry.js";
import { CONTROLLER_UID_INDEX, ensureControllerUidIndex } from "./replicaset.js";
import {
  claimDecision,
  controllerRefOf,
  newControllerRef,
  ownerRefsAfterAdopt,
  ownerRefsAfterRelease,
  type Pod,
  type ReplicaSet,
  safeSelector,
} from "./replicaset-util.js";
import type { Controller, ControllerContext } from "./types.js";

interface Split {
  d: Deployment;
  newRS: ReplicaSet | undefined;
  oldRSs: ReplicaSet[];
}

class DeploymentController {
  readonly queue: WorkQueue<string>;
  private readonly recorder: EventRecorder;
  private readonly dInformer: Informer<Deployment>;
  private readonly rsInformer: Informer<ReplicaSet>;
  private readonly podInformer: Informer<Pod>;

  constructor(private readonly ctx: ControllerContext) {
    this.queue = new WorkQueue<string>({ name: "deployment", metrics: ctx.workqueueMetrics });
    this.recorder = ctx.recorder("deployment-controller");
    this.dInformer = ctx.informers.informerFor<Deployment>(R.deployments);
    this.rsInformer = ctx.informers.informerFor<ReplicaSet>(R.replicasets);
    this.podInformer = ctx.informers.informerFor<Pod>(R.pods);
    ensureControllerUidIndex(this.podInformer);
  }

  // ------------------------------------------------------------ event handlers

  private ownerOf(rs: ReplicaSet): Deployment | undefined {
    const ref = controllerRefOf(rs);
    if (ref?.kind !== "Deployment") return undefined;
    const d = this.dInformer.getByName(ref.name, rs.metadata.namespace);
    return d && d.metadata.uid === ref.uid ? d : undefined;
  }

  private enqueueMatching(rs: ReplicaSet): void {
    for (const d of this.dInformer.listByNamespace(rs.metadata.namespace ?? "")) {
      if (
        claimDecision({ uid: d.metadata.uid ?? "", deleting: false }, safeSelector(d.spec.selector), rs) ===
        "adopt"
      ) {
        this.queue.add(objectKey(d));
      }
    }
  }

  private enqueueOwner(rs: ReplicaSet): void {
    const d = this.ownerOf(rs);
    if (d) this.queue.add(objectKey(d));
  }

  setupHandlers(): void {
    this.dInformer.addEventHandler({
      onAdd: (d) => this.queue.add(objectKey(d)),
      onUpdate: (_o, d) => this.queue.add(objectKey(d)),
      onDelete: (d) => this.queue.add(objectKey(d)),
    });
    this.rsInformer.addEventHandler({
      onAdd: (rs) => {
        if (controllerRefOf(rs)) this.enqueueOwner(rs);
        else if (!rs.metadata.deletionTimestamp) this.enqueueMatching(rs);
      },
      onUpdate: (old, rs) => {
        if (old.metadata.resourceVersion === rs.metadata.resourceVersion) return;
        const oldRef = controllerRefOf(old);
        const ref = controllerRefOf(rs);
        if (oldRef && oldRef.uid !== ref?.uid) this.enqueueOwner(old);
        if (ref) this.enqueueOwner(rs);
        else if (
          oldRef ||
          JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(rs.metadata.labels ?? {})
        ) {
          this.enqueueMatching(rs);
        }
      },
      onDelete: (rs) => this.enqueueOwner(rs),
    });
    this.podInformer.addEventHandler({
      // Recreate waits for every old pod to be gone
      onDelete: (pod) => {
        const ref = controllerRefOf(pod);
        if (ref?.kind !== "ReplicaSet") return;
        const rs = this.rsInformer.getByName(ref.name, pod.metadata.namespace);
        if (!rs || rs.metadata.uid !== ref.uid) return;
        const d = this.ownerOf(rs);
        if (d && !isRollingUpdate(d)) this.queue.add(objectKey(d));
      },
    });
  }

  // ------------------------------------------------------------ reconcile

  async sync(key: string): Promise<void> {
    const cached = this.dInformer.get(key);
    if (!cached) return;
    let d = structuredClone(cached);
    const selector = safeSelector(d.spec.selector);
    if (selector !== null && selector.length === 0) {
      void this.recorder.event(
        d,
        "Warning",
        "SelectingAll",
        "This deployment will select all pods. A non-empty selector is required.",
      );
      if ((d.status?.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) {
        await this.writeStatus(d, { ...(d.status ?? {}), observedGeneration: d.metadata.generation });
      }
      return;
    }
    const rsList = await this.claimReplicaSets(d, selector);

    if (d.metadata.deletionTimestamp) {
      const split = this.split(d, rsList);
      await this.syncStatus(split);
      return;
    }

    const paused = pausedCondition(d, Date.now());
    if (paused) d = await this.writeStatus(d, { ...(d.status ?? {}), conditions: paused });

    if (d.spec.paused || isScalingEvent(d, rsList)) {
      await this.syncScale(d, rsList);
      return;
    }
    if (isRollingUpdate(d)) await this.rolloutRolling(key, d, rsList);
    else await this.rolloutRecreate(key, d, rsList);
  }

  /** ReplicaSets this deployment controls, after adopting matching orphans and releasing strays. */
  private async claimReplicaSets(
    d: Deployment,
    selector: ReturnType<typeof safeSelector>,
  ): Promise<ReplicaSet[]> {
    const owner = { uid: d.metadata.uid ?? "", deleting: Boolean(d.metadata.deletionTimestamp) };
    const out: ReplicaSet[] = [];
    let ownerValid: boolean | undefined;
    for (const rs of this.rsInformer.listByNamespace(d.metadata.namespace ?? "")) {
      const decision = claimDecision(owner, selector, rs);
      const ref = { ...R.replicasets, namespace: rs.metadata.namespace, name: rs.metadata.name! };
      if (decision === "keep") out.push(structuredClone(rs));
      else if (decision === "adopt") {
        ownerValid ??= await this.ownerStillValid(d);
        if (!ownerValid) continue;
        try {
          const adopted = await this.ctx.client.patch<ReplicaSet>(
            ref,
            {
              metadata: {
                ownerReferences: ownerRefsAfterAdopt(rs, newControllerRef(d, "apps/v1", "Deployment")),
                resourceVersion: rs.metadata.resourceVersion,
              },
            },
            { type: "merge" },
          );
          out.push(adopted);
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      } else if (decision === "release") {
        try {
          await this.ctx.client.patch(
            ref,
            {
              metadata: {
                ownerReferences: ownerRefsAfterRelease(rs, owner.uid),
                resourceVersion: rs.metadata.resourceVersion,
              },
            },
            { type: "merge" },
          );
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
    }
    return out;
  }

  private async ownerStillValid(d: Deployment): Promise<boolean> {
    try {
      const fresh = await this.ctx.client.get<Deployment>({
        ...R.deployments,
        namespace: d.metadata.namespace,
        name: d.metadata.name!,
      });
      return fresh.metadata.uid === d.metadata.uid && !fresh.metadata.deletionTimestamp;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  private split(d: Deployment, rsList: ReplicaSet[]): Split {
    const newRS = findNewReplicaSet(d, rsList);
    return { d, newRS, oldRSs: rsList.filter((rs) => rs !== newRS) };
  }

  /**
   * The new ReplicaSet (created when `create` and missing) and the old ones, with the revision
   * annotations of the new RS and of the deployment brought up to date.
   */
  private async splitAndSyncRevision(d: Deployment, rsList: ReplicaSet[], create: boolean): Promise<Split> {
    const found = findNewReplicaSet(d, rsList);
    const oldRSs = rsList.filter((rs) => rs !== found);
    const newRevision = maxRevision(oldRSs) + 1;
    const now = Date.now();

    if (found) {
      let newRS = structuredClone(found);
      const annChanged = setNewRSAnnotations(d, newRS, newRevision);
      const minReady = d.spec.minReadySeconds ?? 0;
      const minReadyChanged = (newRS.spec.minReadySeconds ?? 0) !== minReady;
      if (minReadyChanged) newRS.spec.minReadySeconds = minReady;
      if (annChanged || minReadyChanged) newRS = await this.updateRS(newRS);
      d = await this.setDeploymentRevision(d, revisionOf(newRS));
      if (hasProgressDeadline(d) && !getCondition(d.status, PROGRESSING)) {
        const conditions = setCondition(
          d.status?.conditions,
          condition(
            PROGRESSING,
            "True",
            "FoundNewReplicaSet",
            `Found new replica set "${newRS.metadata.name}"`,
            now,
          ),
        );
        d = await this.writeStatus(d, { ...(d.status ?? {}), conditions });
      }
      return { d, newRS, oldRSs };
    }
    if (!create) return { d, newRS: undefined, oldRSs };

    const hash = computeTemplateHash(d.spec.template, d.status?.collisionCount);
    const phantom = { metadata: {}, spec: { replicas: 0 } } as ReplicaSet;
    const replicas = isRollingUpdate(d) ? rollingNewReplicas(d, oldRSs, phantom) : replicasOf(d);
    const desired = newReplicaSetFor(d, hash, newRevision, replicas);
    let newRS: ReplicaSet;
    let created = false;
    try {
      newRS = await this.ctx.client.create<ReplicaSet>(
        { ...R.replicasets, namespace: d.metadata.namespace },
        desired,
      );
      created = true;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const existing = await this.ctx.client.get<ReplicaSet>({
        ...R.replicasets,
        namespace: d.metadata.namespace,
        name: desired.metadata.name!,
      });
      if (
        controllerRefOf(existing)?.uid === d.metadata.uid &&
        templatesEqualIgnoringHash(existing.spec.template, d.spec.template)
      ) {
        // our own, not yet in the cache
        newRS = existing;
      } else {
        // a different template hashed to the same name: bump collisionCount and try again
        const collisionCount = (d.status?.collisionCount ?? 0) + 1;
        await this.writeStatus(d, { ...(d.status ?? {}), collisionCount });
        throw new Error(
          `hash collision for ReplicaSet ${desired.metadata.name}; collisionCount now ${collisionCount}`,
        );
      }
    }
    if (created) {
      this.ctx.log.info(
        { deployment: objectKey(d), replicaset: newRS.metadata.name, replicas },
        "created new replica set",
      );
      if (replicas > 0) {
        void this.recorder.event(
          d,
          "Normal",
          "ScalingReplicaSet",
          `Scaled up replica set ${newRS.metadata.name} to ${replicas}`,
        );
      }
    }
    d = await this.setDeploymentRevision(d, revisionOf(newRS));
    if (created && hasProgressDeadline(d)) {
      const conditions = setCondition(
        d.status?.conditions,
        condition(
          PROGRESSING,
          "True",
          "NewReplicaSetCreated",
          `Created new replica set "${newRS.metadata.name}"`,
          now,
        ),
      );
      d = await this.writeStatus(d, { ...(d.status ?? {}), conditions });
    }
    return { d, newRS, oldRSs };
  }

  private async rolloutRolling(key: string, d0: Deployment, rsList: ReplicaSet[]): Promise<void> {
    const s = await this.splitAndSyncRevision(d0, rsList, true);
    const d = s.d;
    let newRS = s.newRS!;
    const oldRSs = [...s.oldRSs];

    const target = rollingNewReplicas(d, [newRS, ...oldRSs], newRS);
    if (target !== (newRS.spec.replicas ?? 0)) {
      newRS = await this.scaleRS(d, newRS, target);
      await this.syncRolloutStatus(key, d, [newRS, ...oldRSs], newRS);
      return;
    }
    const steps = rollingOldScaleDown(d, newRS, oldRSs);
    if (steps.length) {
      for (const step of steps) {
        const scaled = await this.scaleRS(d, step.rs, step.replicas);
        oldRSs[oldRSs.indexOf(step.rs)] = scaled;
      }
      await this.syncRolloutStatus(key, d, [newRS, ...oldRSs], newRS);
      return;
    }
    if (isDeploymentComplete(d, calculateStatus(d, [newRS, ...oldRSs], newRS, Date.now()))) {
      await this.cleanupHistory(d, oldRSs);
    }
    await this.syncRolloutStatus(key, d, [newRS, ...oldRSs], newRS);
  }

  private async rolloutRecreate(key: string, d0: Deployment, rsList: ReplicaSet[]): Promise<void> {
    let s = await this.splitAndSyncRevision(d0, rsList, false);
    const oldRSs = [...s.oldRSs];
    const active = activeReplicaSets(oldRSs);
    if (active.length) {
      for (const rs of active) oldRSs[oldRSs.indexOf(rs)] = await this.scaleRS(s.d, rs, 0);
      await this.syncRolloutStatus(key, s.d, s.newRS ? [s.newRS, ...oldRSs] : oldRSs, s.newRS);
      return;
    }
    if (this.oldPodsRunning(oldRSs)) {
      await this.syncRolloutStatus(key, s.d, s.newRS ? [s.newRS, ...oldRSs] : oldRSs, s.newRS);
      return;
    }
    if (!s.newRS) s = await this.splitAndSyncRevision(s.d, rsList, true);
    const d = s.d;
    let newRS = s.newRS!;
    if ((newRS.spec.replicas ?? 0) !== replicasOf(d)) newRS = await this.scaleRS(d, newRS, replicasOf(d));
    const all = [newRS, ...oldRSs];
    if (isDeploymentComplete(d, calculateStatus(d, all, newRS, Date.now())))
      await this.cleanupHistory(d, oldRSs);
    await this.syncRolloutStatus(key, d, all, newRS);
  }

  /** Any pod of an old ReplicaSet still exists (terminating counts) and has not finished. */
  private oldPodsRunning(oldRSs: ReplicaSet[]): boolean {
    for (const rs of oldRSs) {
      if ((rs.status?.replicas ?? 0) > 0) return true;
      for (const pod of this.podInformer.byIndex(CONTROLLER_UID_INDEX, rs.metadata.uid ?? "")) {
        const phase = pod.status?.phase;
        if (phase !== "Succeeded" && phase !== "Failed") return true;
      }
    }
    return false;
  }

  /** Scaling only: spec.replicas changed, or the deployment is paused. */
  private async syncScale(d0: Deployment, rsList: ReplicaSet[]): Promise<void> {
    const s = await this.splitAndSyncRevision(d0, rsList, false);
    const d = s.d;
    let newRS = s.newRS;
    const oldRSs = [...s.oldRSs];
    const replace = (rs: ReplicaSet, next: ReplicaSet) => {
      if (rs === newRS) newRS = next;
      else oldRSs[oldRSs.indexOf(rs)] = next;
    };
    for (const step of planScale(d, newRS, oldRSs))
      replace(step.rs, await this.scaleRS(d, step.rs, step.replicas));
    // record the new size on every active RS so this stops being a scaling event
    for (const rs of activeReplicaSets(newRS ? [newRS, ...oldRSs] : oldRSs)) {
      replace(rs, await this.scaleRS(d, rs, rs.spec.replicas ?? 0));
    }
    if (d.spec.paused) await this.cleanupHistory(d, oldRSs);
    const all = newRS ? [newRS, ...oldRSs] : oldRSs;
    const status = calculateStatus(d, all, newRS, Date.now());
    await this.writeStatus(d, status);
  }

  private async syncStatus(s: Split): Promise<void> {
    const all = s.newRS ? [s.newRS, ...s.oldRSs] : s.oldRSs;
    await this.writeStatus(s.d, calculateStatus(s.d, all, s.newRS, Date.now()));
  }

  private async syncRolloutStatus(
    key: string,
    d: Deployment,
    all: ReplicaSet[],
    newRS: ReplicaSet | undefined,
  ): Promise<void> {
    const { status, requeueAfterMs } = rolloutStatus(d, all, newRS, Date.now());
    const before = getCondition(d.status, PROGRESSING)?.reason;
    const written = await this.writeStatus(d, status);
    const after = getCondition(written.status, PROGRESSING);
    if (after?.reason === "ProgressDeadlineExceeded" && before !== "ProgressDeadlineExceeded") {
      void this.recorder.event(
        d,
        "Warning",
        "ProgressDeadlineExceeded",
        after.message ?? "progress deadline exceeded",
      );
    }
    if (requeueAfterMs !== undefined) this.queue.addAfter(key, requeueAfterMs);
  }

  // ------------------------------------------------------------ writes

  /** Sets spec.replicas and the replicas annotations; writes only if something changed. */
  private async scaleRS(d: Deployment, rs: ReplicaSet, replicas: number): Promise<ReplicaSet> {
    const copy = structuredClone(rs);
    const from = rs.spec.replicas ?? 0;
    const sizeChanged = from !== replicas;
    copy.spec.replicas = replicas;
    const annChanged = setReplicasAnnotations(copy, replicasOf(d), replicasOf(d) + maxSurgeOf(d));
    if (!sizeChanged && !annChanged) return rs;
    const updated = await this.updateRS(copy);
    if (sizeChanged) {
      const dir = replicas > from ? "up" : "down";
      void this.recorder.event(
        d,
        "Normal",
        "ScalingReplicaSet",
        `Scaled ${dir} replica set ${rs.metadata.name} to ${replicas} from ${from}`,
      );
    }
    return updated;
  }

  private updateRS(rs: ReplicaSet): Promise<ReplicaSet> {
    return this.ctx.client.update<ReplicaSet>(
      { ...R.replicasets, namespace: rs.metadata.namespace, name: rs.metadata.name! },
      rs,
    );
  }

  private async setDeploymentRevision(d: Deployment, revision: number): Promise<Deployment> {
    if (revision <= 0 || d.metadata.annotations?.[REVISION_ANNOTATION] === String(revision)) return d;
    return this.ctx.client.patch<Deployment>(
      { ...R.deployments, namespace: d.metadata.namespace, name: d.metadata.name! },
      {
        metadata: {
          annotations: { [REVISION_ANNOTATION]: String(revision) },
          resourceVersion: d.metadata.resourceVersion,
        },
      },
      { type: "merge" },
    );
  }

  private async writeStatus(d: Deployment, status: DeploymentStatus): Promise<Deployment> {
    if (sameDeploymentStatus(d.status, status)) return d;
    return this.ctx.client.update<Deployment>(
      { ...R.deployments, namespace: d.metadata.namespace, name: d.metadata.name!, subresource: "status" },
      { ...d, status },
    );
  }

  private async cleanupHistory(d: Deployment, oldRSs: ReplicaSet[]): Promise<void> {
    for (const rs of historyToDelete(d, oldRSs)) {
      try {
        this.ctx.log.info(
          { deployment: objectKey(d), replicaset: rs.metadata.name },
          "deleting old replica set",
        );
        await this.ctx.client.delete(
          { ...R.replicasets, namespace: rs.metadata.namespace, name: rs.metadata.name! },
          { preconditions: { uid: rs.metadata.uid } },
        );
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
    }
  }

  async run(signal: AbortSignal): Promise<void> {
    this.setupHandlers();
    const synced = await Promise.all([
      this.dInformer.waitForSync(signal),
      this.rsInformer.waitForSync(signal),
      this.podInformer.waitForSync(signal),
    ]);
    if (!synced.every(Boolean)) {
      this.queue.shutDown();
      return;
    }
    this.ctx.log.info({}, "deployment controller synced");
    const workers = Array.from({ length: Math.max(1, this.ctx.options.concurrency) }, () =>
      runWorker(this.queue, (key) => this.sync(key), {
        onError: (key, err) => {
          if (isConflict(err)) this.ctx.log.debug({ deployment: key }, "conflict, requeued");
          else this.ctx.log.warn({ deployment: key, err: String(err) }, "sync failed, requeued");
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

export const deploymentController: Controller = {
  name: "deployment",
  run: (ctx, signal) => new DeploymentController(ctx).run(signal),
};

registerController(deploymentController);
