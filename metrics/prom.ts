/** A prom-client registry per daemon, with the process metrics every component exposes. */
import { collectDefaultMetrics, Registry } from "prom-client";

export function newMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

export { Counter, Gauge, Histogram, Registry } from "prom-client";
