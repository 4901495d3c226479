/** What every controller gets from the controller-manager, and what it gives back. */
import type { Registry } from "prom-client";
import type { EventRecorder } from "../client/events.js";
import type { Logger, SharedInformerFactory } from "../client/index.js";
import type { RestClient } from "../client/rest.js";
import type { WorkQueueMetricsProvider } from "../client/workqueue.js";

export interface ControllerOptions {
  /** --cluster-cidr, e.g. "10.244.0.0/16" (node IPAM) */
  clusterCIDR?: string;
  /** --node-cidr-mask-size (default 24) */
  nodeCIDRMaskSize: number;
  /** --node-monitor-grace-period (default 40 s) */
  nodeMonitorGracePeriodMs: number;
  /** how often node lifecycle checks leases (default 5 s) */
  nodeMonitorPeriodMs: number;
  /** workers per controller (default 5) */
  concurrency: number;
}

export interface ControllerContext {
  client: RestClient;
  informers: SharedInformerFactory;
  /** an EventRecorder whose source.component is the controller's name */
  recorder(component: string): EventRecorder;
  log: Logger;
  metrics: Registry;
  workqueueMetrics: WorkQueueMetricsProvider;
  options: ControllerOptions;
}

export interface Controller {
  /** upstream's controller name, e.g. "deployment", "endpointslice" (used in logs, metrics and --controllers) */
  readonly name: string;
  /**
   * Sets up informers and queues, waits for sync, then reconciles until the signal aborts.
   * Must return (after draining its queue) when the signal aborts.
   */
  run(ctx: ControllerContext, signal: AbortSignal): Promise<void>;
}

export const DEFAULT_CONTROLLER_OPTIONS: ControllerOptions = {
  nodeCIDRMaskSize: 24,
  nodeMonitorGracePeriodMs: 40_000,
  nodeMonitorPeriodMs: 5_000,
  concurrency: 5,
};
