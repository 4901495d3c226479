/** kube-proxy's metrics, with its names (kubeproxy_ prefix), on a prom-client registry. */
import { Counter, Gauge, Histogram, type Registry } from "../metrics/prom.js";

// kube-proxy's buckets: exponential from 1 ms, factor 2, 15 buckets
const SYNC_BUCKETS = Array.from({ length: 15 }, (_, i) => 0.001 * 2 ** i);
// network programming: linear-ish from 0.25 s up to several minutes
const PROGRAMMING_BUCKETS = [
  0.25, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
  27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53,
  54, 55, 56, 57, 58, 59, 60, 65, 70, 75, 80, 85, 90, 95, 100, 105, 110, 115, 120, 150, 180, 210, 240, 270,
  300,
];

export interface ProxyMetrics {
  syncDuration: Histogram;
  syncFullDuration: Histogram;
  syncPartialDuration: Histogram;
  networkProgramming: Histogram;
  lastTimestamp: Gauge;
  lastQueuedTimestamp: Gauge;
  endpointChanges: Counter;
  serviceChanges: Counter;
  endpointChangesPending: Gauge;
  serviceChangesPending: Gauge;
  restoreFailures: Counter;
  nftFailures: Counter;
  syncFailures: Counter;
  iptablesTotalRules: Gauge;
  conntrackCleanupFailures: Counter;
}

export function proxyMetrics(registry: Registry): ProxyMetrics {
  const r = [registry];
  return {
    syncDuration: new Histogram({
      name: "kubeproxy_sync_proxy_rules_duration_seconds",
      help: "SyncProxyRules latency in seconds",
      buckets: SYNC_BUCKETS,
      registers: r,
    }),
    syncFullDuration: new Histogram({
      name: "kubeproxy_sync_full_proxy_rules_duration_seconds",
      help: "SyncProxyRules latency in seconds for full resyncs",
      buckets: SYNC_BUCKETS,
      registers: r,
    }),
    syncPartialDuration: new Histogram({
      name: "kubeproxy_sync_partial_proxy_rules_duration_seconds",
      help: "SyncProxyRules latency in seconds for partial resyncs",
      buckets: SYNC_BUCKETS,
      registers: r,
    }),
    networkProgramming: new Histogram({
      name: "kubeproxy_network_programming_duration_seconds",
      help: "In Cluster Network Programming Latency in seconds",
      buckets: PROGRAMMING_BUCKETS,
      registers: r,
    }),
    lastTimestamp: new Gauge({
      name: "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
      help: "The last time proxy rules were successfully synced",
      registers: r,
    }),
    lastQueuedTimestamp: new Gauge({
      name: "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds",
      help: "The last time a sync of proxy rules was queued",
      registers: r,
    }),
    endpointChanges: new Counter({
      name: "kubeproxy_sync_proxy_rules_endpoint_changes_total",
      help: "Cumulative proxy rules Endpoint changes",
      registers: r,
    }),
    serviceChanges: new Counter({
      name: "kubeproxy_sync_proxy_rules_service_changes_total",
      help: "Cumulative proxy rules Service changes",
      registers: r,
    }),
    endpointChangesPending: new Gauge({
      name: "kubeproxy_sync_proxy_rules_endpoint_changes_pending",
      help: "Pending proxy rules Endpoint changes",
      registers: r,
    }),
    serviceChangesPending: new Gauge({
      name: "kubeproxy_sync_proxy_rules_service_changes_pending",
      help: "Pending proxy rules Service changes",
      registers: r,
    }),
    restoreFailures: new Counter({
      name: "kubeproxy_sync_proxy_rules_iptables_restore_failures_total",
      help: "Cumulative proxy iptables restore failures",
      registers: r,
    }),
    nftFailures: new Counter({
      name: "kubeproxy_sync_proxy_rules_nftables_sync_failures_total",
      help: "Cumulative proxy nftables sync failures",
      registers: r,
    }),
    syncFailures: new Counter({
      name: "kubeproxy_sync_proxy_rules_failures_total",
      help: "Cumulative failed proxy rules syncs",
      registers: r,
    }),
    iptablesTotalRules: new Gauge({
      name: "kubeproxy_sync_proxy_rules_iptables_total",
      help: "Total number of iptables rules owned by kube-proxy",
      labelNames: ["table"],
      registers: r,
    }),
    conntrackCleanupFailures: new Counter({
      name: "kubeproxy_sync_proxy_rules_conntrack_cleanup_failures_total",
      help: "Cumulative failed conntrack entry deletions",
      registers: r,
    }),
  };
}
