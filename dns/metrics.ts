/** CoreDNS's server metrics (plugin/metrics), registered on a prom-client registry. */
import { Counter, Histogram, type Registry } from "prom-client";

/** CoreDNS's size buckets (bytes) */
const SIZE_BUCKETS = [0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16000, 32000, 48000, 64000];
/** 0.25 ms doubling, 16 buckets, as CoreDNS */
const DURATION_BUCKETS = Array.from({ length: 16 }, (_, i) => 0.00025 * 2 ** i);

/** query types CoreDNS reports by name; the rest are "other" */
const MONITORED_TYPES = new Set([
  "A",
  "AAAA",
  "NS",
  "PTR",
  "SOA",
  "MX",
  "TXT",
  "SRV",
  "CNAME",
  "ANY",
  "AXFR",
  "IXFR",
  "HTTPS",
  "SVCB",
  "NAPTR",
  "DS",
  "DNSKEY",
]);

export function typeLabel(type: string): string {
  return MONITORED_TYPES.has(type) ? type : "other";
}

export interface DnsMetrics {
  requests: Counter<"server" | "zone" | "proto" | "family" | "type">;
  responses: Counter<"server" | "zone" | "rcode" | "plugin">;
  duration: Histogram<"server" | "zone" | "type">;
  requestSize: Histogram<"server" | "zone" | "proto">;
  responseSize: Histogram<"server" | "zone" | "proto">;
  panics: Counter;
}

export function dnsMetrics(registry: Registry): DnsMetrics {
  const registers = [registry];
  return {
    requests: new Counter({
      name: "coredns_dns_requests_total",
      help: "DNS queries received, by transport, address family and query type.",
      labelNames: ["server", "zone", "proto", "family", "type"],
      registers,
    }),
    responses: new Counter({
      name: "coredns_dns_responses_total",
      help: "DNS responses sent, by response code and the part of the server that answered.",
      labelNames: ["server", "zone", "rcode", "plugin"],
      registers,
    }),
    duration: new Histogram({
      name: "coredns_dns_request_duration_seconds",
      help: "Time from receiving a query to having its response, in seconds.",
      labelNames: ["server", "zone", "type"],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    requestSize: new Histogram({
      name: "coredns_dns_request_size_bytes",
      help: "Sizes of received queries in bytes.",
      labelNames: ["server", "zone", "proto"],
      buckets: SIZE_BUCKETS,
      registers,
    }),
    responseSize: new Histogram({
      name: "coredns_dns_response_size_bytes",
      help: "Sizes of sent responses in bytes.",
      labelNames: ["server", "zone", "proto"],
      buckets: SIZE_BUCKETS,
      registers,
    }),
    panics: new Counter({
      name: "coredns_panics_total",
      help: "Unexpected errors caught while handling a query.",
      registers,
    }),
  };
}
