/**
 * prom-client implementation of the work queue metrics hooks, with client-go's metric names
 * (workqueue_depth, workqueue_adds_total, workqueue_queue_duration_seconds,
 * workqueue_work_duration_seconds, workqueue_retries_total), labelled {name}.
 */
import {
  Counter,
  exponentialBuckets,
  Gauge,
  register as globalRegistry,
  Histogram,
  type Registry,
} from "prom-client";
import type { WorkQueueMetricsProvider } from "./workqueue.js";

const cache = new WeakMap<Registry, WorkQueueMetricsProvider>();

/** One provider per registry (metrics are registered once); share it across queues. */
export function promWorkQueueMetrics(registry: Registry = globalRegistry): WorkQueueMetricsProvider {
  const existing = cache.get(registry);
  if (existing) return existing;
  const registers = [registry];
  // client-go: prometheus.ExponentialBuckets(10e-9, 10, 10)
  const buckets = exponentialBuckets(1e-8, 10, 10);
  const depth = new Gauge({
    name: "workqueue_depth",
    help: "Current depth of workqueue",
    labelNames: ["name"],
    registers,
  });
  const adds = new Counter({
    name: "workqueue_adds_total",
    help: "Total number of adds handled by workqueue",
    labelNames: ["name"],
    registers,
  });
  const latency = new Histogram({
    name: "workqueue_queue_duration_seconds",
    help: "How long in seconds an item stays in workqueue before being requested",
    labelNames: ["name"],
    buckets,
    registers,
  });
  const work = new Histogram({
    name: "workqueue_work_duration_seconds",
    help: "How long in seconds processing an item from workqueue takes",
    labelNames: ["name"],
    buckets,
    registers,
  });
  const retries = new Counter({
    name: "workqueue_retries_total",
    help: "Total number of retries handled by workqueue",
    labelNames: ["name"],
    registers,
  });
  const provider: WorkQueueMetricsProvider = {
    setDepth: (name, d) => depth.set({ name }, d),
    incAdds: (name) => adds.inc({ name }),
    observeQueueDuration: (name, s) => latency.observe({ name }, s),
    observeWorkDuration: (name, s) => work.observe({ name }, s),
    incRetries: (name) => retries.inc({ name }),
  };
  cache.set(registry, provider);
  return provider;
}
