/**
 * `kubeplane scheduler`: watches pods and nodes (shared informers, never polling), queues the
 * pending pods this scheduler is responsible for, picks a node for each (filters + scores in
 * ./algorithm.ts), assumes the pod on that node in the cache and binds it via pods/binding in the
 * background. Pods no node fits get PodScheduled=False/Unschedulable and a FailedScheduling Event,
 * and wait in the queue for a cluster event (node added/changed, pod deleted/finished).
 */
import { hostname } from "node:os";
import { exponentialBuckets } from "prom-client";
import { createLogger, type Logger } from "../cli/logger.js";
import { EventRecorder } from "../client/events.js";
import {
  isConflict,
  isNotFound,
  LeaderElector,
  loadClusterConnection,
  objectKey,
  R,
  RestClient,
  SharedInformerFactory,
} from "../client/index.js";
import type { Informer } from "../client/informer.js";
import { Counter, Gauge, Histogram, newMetricsRegistry, type Registry } from "../metrics/prom.js";
import { serveOperatorEndpoints } from "../metrics/serve.js";
import { schedulePod } from "./algorithm.js";
import { podIsTerminated, SchedulerCache } from "./cache.js";
import { podInfo } from "./node-info.js";
import { SchedulingQueue } from "./queue.js";
import type { Node, Pod, PodCondition } from "./types.js";

export const DEFAULT_SCHEDULER_NAME = "default-scheduler";

export interface SchedulerOptions {
  kubeconfig?: string;
  /** pods with this spec.schedulerName are ours; default "default-scheduler" */
  schedulerName?: string;
  /** elect a leader on the kube-system/kube-scheduler Lease */
  leaderElect?: boolean;
  /** "127.0.0.1:10259" by default; "" disables /healthz and /metrics */
  bindAddress?: string;
  logger?: Logger;
  /** binds in flight at once; default 64 */
  parallelBinds?: number;
  /** backoff of failed attempts; defaults 1 s and 10 s */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** percentageOfNodesToScore; default adaptive like upstream */
  percentageOfNodesToScore?: number;
  /** for tests: a fixed random source (tie-breaking) */
  random?: () => number;
  /** for tests: wraps the pods/binding call (e.g. to inject failures) */
  bindHook?: (pod: Pod, nodeName: string, bind: () => Promise<void>) => Promise<void>;
}

export interface RunningScheduler {
  /** port of /healthz and /metrics, when served */
  port?: number;
  /** metrics registry (for tests and embedding) */
  registry: Registry;
  stop(): Promise<void>;
}

const PROFILE_LABEL = "profile";

/** Runs `fn`s with at most `limit` in flight; `enqueue` waits for room when `wait` is set. */
class Limiter {
  private running = 0;
  private readonly backlog: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly limit: number,
    private readonly maxBacklog = Number.POSITIVE_INFINITY,
  ) {}

  /** Resolves once there is a free slot (for back-pressure on the producer). */
  async room(): Promise<void> {
    while (this.running >= this.limit) {
      await new Promise<void>((resolve) => this.backlog.push(resolve));
    }
  }

  /** Runs `fn` when a slot is free; drops it (returns false) when the backlog is full. */
  run(fn: () => Promise<void>): boolean {
    if (this.running >= this.limit && this.backlog.length >= this.maxBacklog) return false;
    const go = () => {
      this.running++;
      fn()
        .catch(() => {})
        .finally(() => {
          this.running--;
          const next = this.backlog.shift();
          if (next) next();
          else if (this.running === 0) for (const w of this.idleWaiters.splice(0)) w();
        });
    };
    if (this.running < this.limit) go();
    else this.backlog.push(go);
    return true;
  }

  get busy(): number {
    return this.running;
  }

  idle(): Promise<void> {
    if (this.running === 0 && this.backlog.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}

function nodeRelevantFields(n: Node): string {
  return JSON.stringify([
    n.metadata.labels ?? {},
    n.status?.allocatable ?? n.status?.capacity ?? {},
    n.spec?.taints ?? [],
    n.spec?.unschedulable ?? false,
    (n.status?.conditions ?? []).map((c) => `${c.type}=${c.status}`),
  ]);
}

/** Did anything that can change a scheduling decision change (spec, labels)? Our own status writes do not. */
function podSchedulingFieldsChanged(a: Pod, b: Pod): boolean {
  return (
    JSON.stringify(a.spec ?? {}) !== JSON.stringify(b.spec ?? {}) ||
    JSON.stringify(a.metadata.labels ?? {}) !== JSON.stringify(b.metadata.labels ?? {})
  );
}

function nowTime(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function run(opts: SchedulerOptions = {}): Promise<RunningScheduler> {
  const log = opts.logger ?? createLogger("scheduler");
  const schedulerName = opts.schedulerName || DEFAULT_SCHEDULER_NAME;
  const client = new RestClient(loadClusterConnection({ kubeconfig: opts.kubeconfig }), {
    component: "kube-scheduler",
  });
  const random = opts.random ?? Math.random;

  // ------------------------------------------------------------ metrics
  const registry = newMetricsRegistry();
  const registers = [registry];
  const attempts = new Counter({
    name: "scheduler_schedule_attempts_total",
    help: "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be scheduled, while 'error' means an internal scheduler problem.",
    labelNames: ["result", PROFILE_LABEL],
    registers,
  });
  const attemptDuration = new Histogram({
    name: "scheduler_scheduling_attempt_duration_seconds",
    help: "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
    labelNames: ["result", PROFILE_LABEL],
    buckets: exponentialBuckets(0.001, 2, 15),
    registers,
  });
  const algorithmDuration = new Histogram({
    name: "scheduler_scheduling_algorithm_duration_seconds",
    help: "Scheduling algorithm latency in seconds",
    buckets: exponentialBuckets(0.001, 2, 15),
    registers,
  });
  const gatedPods = new Set<string>();
  const queue = new SchedulingQueue<Pod>({
    initialBackoffMs: opts.initialBackoffMs,
    maxBackoffMs: opts.maxBackoffMs,
  });
  new Gauge({
    name: "scheduler_pending_pods",
    help: "Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods that the scheduler attempted to schedule and failed; 'gated' is the number of unschedulable pods that the scheduler never attempted to schedule because they are gated.",
    labelNames: ["queue"],
    registers,
    collect() {
      const l = queue.lengths();
      this.set({ queue: "active" }, l.active + l.inflight);
      this.set({ queue: "backoff" }, l.backoff);
      this.set({ queue: "unschedulable" }, l.unschedulable);
      this.set({ queue: "gated" }, gatedPods.size);
    },
  });
  for (const result of ["scheduled", "unschedulable", "error"])
    attempts.inc({ result, profile: schedulerName }, 0);

  // ------------------------------------------------------------ cache, informers, handlers
  const cache = new SchedulerCache();
  const informers = new SharedInformerFactory(client, { logger: log });
  const podInformer: Informer<Pod> = informers.informerFor<Pod>(R.pods);
  const nodeInformer: Informer<Node> = informers.informerFor<Node>(R.nodes);
  const recorder = new EventRecorder(client, {
    component: schedulerName,
    onError: (err) => log.debug({ err: errText(err) }, "event not recorded"),
  });
  /** events and status writes: best effort, off the scheduling path */
  const sideEffects = new Limiter(16, 10_000);
  const binds = new Limiter(Math.max(1, opts.parallelBinds ?? 64));

  const responsible = (pod: Pod) => (pod.spec?.schedulerName || DEFAULT_SCHEDULER_NAME) === schedulerName;
  const gated = (pod: Pod) => (pod.spec?.schedulingGates?.length ?? 0) > 0;
  /** pending pods this scheduler should try to place */
  const wantsScheduling = (pod: Pod) =>
    !pod.spec?.nodeName && responsible(pod) && !pod.metadata.deletionTimestamp && !podIsTerminated(pod);

  const moveAll = (why: string) => {
    const moved = queue.moveAllToActiveOrBackoff();
    if (moved > 0) log.debug({ event: why, moved }, "moved unschedulable pods back to the queue");
  };

  const pendingPodChanged = (pod: Pod, old: Pod | undefined) => {
    const key = objectKey(pod);
    if (!wantsScheduling(pod)) {
      queue.delete(key);
      gatedPods.delete(key);
      return;
    }
    if (gated(pod)) {
      queue.delete(key);
      gatedPods.add(key);
      return;
    }
    const wasGated = gatedPods.delete(key);
    if (cache.hasPod(key)) return; // assumed: the bind is in flight
    const priority = typeof pod.spec?.priority === "number" ? pod.spec.priority : 0;
    if (!old || wasGated) queue.add(key, pod, priority);
    else queue.update(key, pod, priority, podSchedulingFieldsChanged(old, pod));
  };

  podInformer.addEventHandler({
    onAdd(pod) {
      if (pod.spec?.nodeName) cache.updatePodFromInformer(pod);
      else pendingPodChanged(pod, undefined);
    },
    onUpdate(old, pod) {
      const key = objectKey(pod);
      if (pod.spec?.nodeName) {
        queue.delete(key);
        gatedPods.delete(key);
        cache.updatePodFromInformer(pod);
        // a pod that finished frees its node's resources
        if (podIsTerminated(pod) && !podIsTerminated(old)) moveAll("AssignedPodTerminated");
      } else {
        pendingPodChanged(pod, old);
      }
    },
    onDelete(pod) {
      const key = objectKey(pod);
      queue.delete(key);
      gatedPods.delete(key);
      const wasPlaced = cache.hasPod(key);
      cache.removePod(key);
      if (wasPlaced) moveAll("AssignedPodDelete");
    },
  });
  nodeInformer.addEventHandler({
    onAdd(node) {
      cache.addOrUpdateNode(node);
      moveAll("NodeAdd");
    },
    onUpdate(old, node) {
      cache.addOrUpdateNode(node);
      if (nodeRelevantFields(old) !== nodeRelevantFields(node)) moveAll("NodeUpdate");
    },
    onDelete(node) {
      cache.removeNode(node.metadata.name!);
    },
  });

  // ------------------------------------------------------------ effects
  const podRef = (pod: Pod) => ({
    group: "",
    version: "v1",
    resource: "pods",
    namespace: pod.metadata.namespace,
    name: pod.metadata.name!,
  });
  const asPod = (pod: Pod): Pod => ({ ...pod, apiVersion: pod.apiVersion ?? "v1", kind: pod.kind ?? "Pod" });

  const recordEvent = (pod: Pod, type: "Normal" | "Warning", reason: string, message: string) => {
    if (!sideEffects.run(() => recorder.event(asPod(pod), type, reason, message))) {
      log.debug({ pod: objectKey(pod), reason }, "event dropped: too many pending");
    }
  };

  /** PodScheduled=False with reason Unschedulable (or SchedulerError), written only when it changed. */
  const setUnschedulableCondition = (pod: Pod, reason: string, message: string) => {
    const prior = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
    if (prior && prior.status === "False" && prior.reason === reason && prior.message === message) return;
    const condition: PodCondition = {
      type: "PodScheduled",
      status: "False",
      reason,
      message,
      lastProbeTime: null,
      lastTransitionTime:
        prior?.status === "False" && prior.lastTransitionTime ? prior.lastTransitionTime : nowTime(),
    };
    sideEffects.run(async () => {
      try {
        await client.patch(
          { ...podRef(pod), subresource: "status" },
          { status: { conditions: [condition] } },
          { type: "strategic" },
        );
      } catch (err) {
        if (!isNotFound(err))
          log.warn({ pod: objectKey(pod), err: errText(err) }, "could not update pod condition");
      }
    });
  };

  const bind = async (pod: Pod, nodeName: string) => {
    await client.requestJson({
      method: "POST",
      path: `/api/v1/namespaces/${encodeURIComponent(pod.metadata.namespace ?? "default")}/pods/${encodeURIComponent(pod.metadata.name!)}/binding`,
      body: JSON.stringify({
        apiVersion: "v1",
        kind: "Binding",
        metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace, uid: pod.metadata.uid },
        target: { apiVersion: "v1", kind: "Node", name: nodeName },
      }),
      headers: { "content-type": "application/json" },
    });
  };

  // ------------------------------------------------------------ the scheduling loop
  let nextStartNodeIndex = 0;

  const scheduleOne = async (key: string) => {
    const started = performance.now();
    const observe = (result: "scheduled" | "unschedulable" | "error") => {
      attempts.inc({ result, profile: schedulerName });
      attemptDuration.observe({ result, profile: schedulerName }, (performance.now() - started) / 1000);
    };
    const pod = podInformer.get(key);
    if (!pod || !wantsScheduling(pod) || gated(pod) || cache.hasPod(key)) {
      queue.done(key);
      return;
    }
    const info = podInfo(pod);
    const nodes = cache.listNodes();
    const result = schedulePod(info, nodes, {
      start: nextStartNodeIndex,
      percentageOfNodesToScore: opts.percentageOfNodesToScore,
      random,
    });
    algorithmDuration.observe((performance.now() - started) / 1000);
    if (nodes.length > 0) nextStartNodeIndex = (nextStartNodeIndex + result.evaluated) % nodes.length;

    if (result.kind === "unschedulable") {
      queue.requeueFailed(key, true);
      observe("unschedulable");
      log.info({ pod: key, reason: result.message }, "unable to schedule pod; waiting");
      recordEvent(pod, "Warning", "FailedScheduling", result.message);
      setUnschedulableCondition(pod, "Unschedulable", result.message);
      return;
    }

    const nodeName = result.node.name;
    cache.assumePod(pod, nodeName);
    await binds.room();
    binds.run(async () => {
      try {
        if (opts.bindHook) await opts.bindHook(pod, nodeName, () => bind(pod, nodeName));
        else await bind(pod, nodeName);
        cache.finishBinding(key);
        queue.done(key);
        observe("scheduled");
        log.debug(
          { pod: key, node: nodeName, feasible: result.feasible, evaluated: result.evaluated },
          "bound pod",
        );
        recordEvent(pod, "Normal", "Scheduled", `Successfully assigned ${key} to ${nodeName}`);
      } catch (err) {
        cache.forgetPod(key);
        if (isNotFound(err)) {
          // deleted meanwhile
          queue.delete(key);
          observe("error");
        } else if (isConflict(err)) {
          // bound by someone else (or by us, earlier): the informer will show where
          queue.done(key);
          observe("error");
          log.info({ pod: key, err: errText(err) }, "pod already bound");
        } else {
          queue.requeueFailed(key, false);
          observe("error");
          const message = `Binding rejected: ${errText(err)}`;
          log.warn({ pod: key, node: nodeName, err: errText(err) }, "bind failed; will retry");
          recordEvent(pod, "Warning", "FailedScheduling", message);
          setUnschedulableCondition(pod, "SchedulerError", message);
        }
        // the assumed pod's resources are free again
        moveAll("AssignedPodDelete");
      }
    });
  };

  const scheduleLoop = async (signal: AbortSignal) => {
    if (!(await informers.waitForSync(signal))) return;
    log.info({ schedulerName, nodes: cache.nodeCount, pending: queue.size }, "caches synced, scheduling");
    while (!signal.aborted) {
      const qp = await queue.pop(signal);
      if (!qp || signal.aborted) {
        // leadership ended between pop and now: put it back for the next leader term
        if (qp) queue.requeueFailed(qp.key, false);
        break;
      }
      try {
        await scheduleOne(qp.key);
      } catch (err) {
        log.error(
          { pod: qp.key, err: err instanceof Error ? err.stack : String(err) },
          "scheduling attempt failed",
        );
        cache.forgetPod(qp.key);
        queue.requeueFailed(qp.key, false);
        attempts.inc({ result: "error", profile: schedulerName });
      }
    }
  };

  // ------------------------------------------------------------ start
  const stop = new AbortController();
  let leading = !opts.leaderElect;
  let operator: Awaited<ReturnType<typeof serveOperatorEndpoints>> | undefined;
  try {
    operator =
      opts.bindAddress === ""
        ? undefined
        : await serveOperatorEndpoints({
            bindAddress: opts.bindAddress ?? "127.0.0.1:10259",
            registry,
            healthy: () => true,
            ready: () => podInformer.hasSynced() && nodeInformer.hasSynced(),
          });
  } catch (err) {
    await client.close();
    throw err;
  }
  informers.start();

  let done: Promise<void>;
  if (opts.leaderElect) {
    const identity = `${hostname()}_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
    done = (async () => {
      while (!stop.signal.aborted) {
        const elector = new LeaderElector({
          client,
          namespace: "kube-system",
          name: "kube-scheduler",
          identity,
          logger: log,
          callbacks: {
            onStartedLeading: async (signal) => {
              leading = true;
              log.info({ identity }, "became leader");
              await scheduleLoop(signal);
            },
            onStoppedLeading: () => {
              if (leading) log[stop.signal.aborted ? "info" : "warn"]({ identity }, "leadership ended");
              leading = false;
            },
          },
        });
        await elector.run(stop.signal);
      }
    })();
  } else {
    done = scheduleLoop(stop.signal);
  }
  log.info({ schedulerName, leaderElect: !!opts.leaderElect, metrics: operator?.url }, "scheduler started");

  let stopping: Promise<void> | undefined;
  return {
    port: operator?.port,
    registry,
    stop() {
      stopping ??= (async () => {
        stop.abort();
        queue.close();
        await done;
        // let binds in flight finish (they are quick), then the best-effort writes, bounded
        await Promise.race([
          (async () => {
            await binds.idle();
            await sideEffects.idle();
          })(),
          new Promise((r) => setTimeout(r, 5000).unref()),
        ]);
        await informers.stop();
        await operator?.close();
        await client.close();
        gatedPods.clear();
        log.info({ leading }, "scheduler stopped");
      })();
      return stopping;
    },
  };
}
