/**
 * Small effectful helpers the DaemonSet, EndpointSlice and Endpoints controllers share: the
 * worker pool over a work queue, idempotent metric registration, and the trigger-time tracker.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { runWorker, type WorkQueue } from "../client/index.js";
import type { ControllerContext } from "./types.js";

/** Runs `n` workers on the queue until the signal aborts, then drains and resolves. */
export async function runQueueWorkers(
  ctx: ControllerContext,
  queue: WorkQueue<string>,
  sync: (key: string) => Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  const n = Math.max(1, ctx.options.concurrency || 1);
  const workers: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    workers.push(
      runWorker(queue, sync, {
        onError: (key, err, willRetry) =>
          ctx.log.warn(
            { queue: queue.name, key, err: err instanceof Error ? err.message : String(err), willRetry },
            "sync failed",
          ),
      }),
    );
  }
  if (!signal.aborted)
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
  await queue.shutDownWithDrain();
  await Promise.all(workers);
}

type MetricCtor<M> = new (cfg: {
  name: string;
  help: string;
  labelNames?: string[];
  registers: Registry[];
  buckets?: number[];
}) => M;

function getOrCreate<M>(
  registry: Registry,
  Ctor: MetricCtor<M>,
  cfg: { name: string; help: string; labelNames?: string[]; buckets?: number[] },
): M {
  const existing = registry.getSingleMetric(cfg.name);
  if (existing) return existing as unknown as M;
  return new Ctor({ ...cfg, registers: [registry] });
}

export function counter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[] = [],
): Counter<string> {
  return getOrCreate(registry, Counter as unknown as MetricCtor<Counter<string>>, { name, help, labelNames });
}

export function gauge(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[] = [],
): Gauge<string> {
  return getOrCreate(registry, Gauge as unknown as MetricCtor<Gauge<string>>, { name, help, labelNames });
}

export function histogram(
  registry: Registry,
  name: string,
  help: string,
  buckets: number[],
): Histogram<string> {
  return getOrCreate(registry, Histogram as unknown as MetricCtor<Histogram<string>>, {
    name,
    help,
    buckets,
  });
}

/**
 * Remembers, per Service, the earliest change not yet written out (upstream's trigger-time
 * tracker): the value of endpoints.kubernetes.io/last-change-trigger-time for the next write.
 */
export class TriggerTimeTracker {
  private readonly pending = new Map<string, number>();

  note(key: string, time: string | Date | undefined): void {
    if (time === undefined) return;
    const t = typeof time === "string" ? Date.parse(time) : time.getTime();
    if (!Number.isFinite(t)) return;
    const cur = this.pending.get(key);
    if (cur === undefined || t < cur) this.pending.set(key, t);
  }

  /** The pending trigger time (RFC 3339, seconds), cleared. */
  take(key: string): string | undefined {
    const t = this.pending.get(key);
    if (t === undefined) return undefined;
    this.pending.delete(key);
    return new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  forget(key: string): void {
    this.pending.delete(key);
  }
}
