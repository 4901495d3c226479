/**
 * Response cache for forwarded answers (the CoreDNS `cache` plugin's role), working on raw wire
 * messages so cached answers are served without re-encoding.
 *
 * - Key (`cacheKey(query)`): lower-case qname, qtype, qclass, and the DO and CD bits.
 * - Positive answers (NOERROR with answer records): TTL = the smallest TTL of all records (OPT
 *   excluded), capped at maxTtlSeconds and raised to minTtlSeconds.
 * - Denials (NXDOMAIN, or NOERROR without answer records = NODATA), RFC 2308 §5: TTL =
 *   min(SOA TTL, SOA minimum) of the SOA in the authority section, capped at
 *   maxNegativeTtlSeconds and raised to minTtlSeconds; without an SOA the denial is not cached.
 * - Never cached: other rcodes (SERVFAIL, REFUSED, FORMERR, ...), truncated (TC) responses,
 *   unparseable messages, and anything whose effective TTL is 0.
 * - `get(key, query?)` returns a copy whose record TTLs are min(TTL, entry TTL) minus the age in
 *   whole seconds; with `query` the copy also gets the query's id and the exact spelling (case)
 *   of its qname. Expired entries are removed on access.
 * - Capacity: least-recently-used eviction once `capacity` entries are held.
 *
 * Metrics (CoreDNS names): coredns_cache_entries{type="success"|"denial"},
 * coredns_cache_hits_total{type}, coredns_cache_misses_total.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import { HEADER_SIZE, QTYPE, RCODE, readName, scanMessage } from "./wire.js";

export type CacheEntryType = "success" | "denial";

export interface DnsCacheOptions {
  /** entries held before the least recently used is evicted (default 10000, as CoreDNS) */
  capacity?: number;
  /** cap for positive answers (default 3600, as CoreDNS) */
  maxTtlSeconds?: number;
  /** cap for denials (default 1800, as CoreDNS) */
  maxNegativeTtlSeconds?: number;
  /** floor for both (default 0: a TTL-0 answer is not cached) */
  minTtlSeconds?: number;
  metrics?: Registry;
  /** clock in ms, for tests (default Date.now) */
  now?: () => number;
}

interface Entry {
  type: CacheEntryType;
  msg: Buffer;
  /** record TTL fields to rewrite on the way out: [offset, original TTL] pairs */
  ttlFields: Uint32Array;
  storedAt: number;
  ttl: number;
}

interface CacheMetrics {
  entries: Gauge<"type">;
  hits: Counter<"type">;
  misses: Counter;
}

function metric<T>(reg: Registry, name: string, make: () => T): T {
  return (reg.getSingleMetric(name) as T | undefined) ?? make();
}

function cacheMetrics(reg: Registry): CacheMetrics {
  return {
    entries: metric(
      reg,
      "coredns_cache_entries",
      () =>
        new Gauge({
          name: "coredns_cache_entries",
          help: "The number of elements in the cache.",
          labelNames: ["type"],
          registers: [reg],
        }),
    ),
    hits: metric(
      reg,
      "coredns_cache_hits_total",
      () =>
        new Counter({
          name: "coredns_cache_hits_total",
          help: "The count of cache hits.",
          labelNames: ["type"],
          registers: [reg],
        }),
    ),
    misses: metric(
      reg,
      "coredns_cache_misses_total",
      () =>
        new Counter({
          name: "coredns_cache_misses_total",
          help: "The count of cache misses.",
          registers: [reg],
        }),
    ),
  };
}

/**
 * The cache key of a query: "<qname lower-case>/<qtype>/<qclass>/<DO><CD>", or undefined when the
 * query does not have exactly one well-formed question.
 */
export function cacheKey(query: Buffer): string | undefined {
  const msg = scanMessage(query);
  if (msg?.questions.length !== 1) return undefined;
  const q = msg.questions[0]!;
  let dnssecOk = 0;
  for (const r of msg.records) {
    if (r.type === QTYPE.OPT) dnssecOk = (r.ttl >>> 15) & 1;
  }
  const cd = (msg.flags >> 4) & 1;
  return `${q.name}/${q.type}/${q.klass}/${dnssecOk}${cd}`;
}

export class DnsCache {
  readonly capacity: number;
  readonly maxTtlSeconds: number;
  readonly maxNegativeTtlSeconds: number;
  readonly minTtlSeconds: number;
  private readonly entries = new Map<string, Entry>();
  private readonly counts = { success: 0, denial: 0 };
  private readonly metrics?: CacheMetrics;
  private readonly now: () => number;

  constructor(opts: DnsCacheOptions = {}) {
    this.capacity = Math.max(1, opts.capacity ?? 10_000);
    this.maxTtlSeconds = opts.maxTtlSeconds ?? 3600;
    this.maxNegativeTtlSeconds = opts.maxNegativeTtlSeconds ?? 1800;
    this.minTtlSeconds = opts.minTtlSeconds ?? 0;
    this.now = opts.now ?? Date.now;
    if (opts.metrics) {
      this.metrics = cacheMetrics(opts.metrics);
      this.metrics.entries.set({ type: "success" }, 0);
      this.metrics.entries.set({ type: "denial" }, 0);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The cached response for `key` with TTLs decremented by its age, or undefined (a miss). With
   * `query`, the copy carries the query's id and qname spelling.
   */
  get(key: string, query?: Buffer): Buffer | undefined {
    const e = this.entries.get(key);
    const now = this.now();
    if (!e) {
      this.metrics?.misses.inc();
      return undefined;
    }
    const age = Math.floor((now - e.storedAt) / 1000);
    if (age >= e.ttl) {
      this.delete(key, e);
      this.metrics?.misses.inc();
      return undefined;
    }
    // LRU: move to the back
    this.entries.delete(key);
    this.entries.set(key, e);
    this.metrics?.hits.inc({ type: e.type });
    const out = Buffer.from(e.msg);
    for (let i = 0; i < e.ttlFields.length; i += 2) {
      out.writeUInt32BE(Math.max(0, Math.min(e.ttlFields[i + 1]!, e.ttl) - age), e.ttlFields[i]!);
    }
    if (query && query.length >= HEADER_SIZE) {
      out.writeUInt16BE(query.readUInt16BE(0), 0);
      copyQnameSpelling(query, out);
    }
    return out;
  }

  /** Caches `response` under `key` if it is cacheable (see the module comment); returns whether it did. */
  set(key: string, response: Buffer): boolean {
    const msg = scanMessage(response);
    if (!msg?.qr || msg.tc) return false;
    let type: CacheEntryType;
    let ttl: number;
    if (msg.rcode === RCODE.NOERROR && msg.ancount > 0) {
      type = "success";
      ttl = Number.POSITIVE_INFINITY;
      for (const r of msg.records) if (r.type !== QTYPE.OPT) ttl = Math.min(ttl, r.ttl);
      if (!Number.isFinite(ttl)) return false;
      ttl = Math.min(ttl, this.maxTtlSeconds);
    } else if (msg.rcode === RCODE.NXDOMAIN || msg.rcode === RCODE.NOERROR) {
      type = "denial";
      const soa = msg.records.find((r) => r.section === "authority" && r.type === QTYPE.SOA);
      const minimum = soa ? soaMinimum(response, soa.rdataOffset, soa.rdataOffset + soa.rdlength) : undefined;
      if (!soa || minimum === undefined) return false;
      ttl = Math.min(Math.min(soa.ttl, minimum), this.maxNegativeTtlSeconds);
    } else {
      return false;
    }
    ttl = Math.max(ttl, this.minTtlSeconds);
    if (ttl <= 0) return false;
    const fields: number[] = [];
    for (const r of msg.records) {
      if (r.type !== QTYPE.OPT) fields.push(r.ttlOffset, r.ttl);
    }
    const old = this.entries.get(key);
    if (old) this.delete(key, old);
    while (this.entries.size >= this.capacity) {
      const oldestKey = this.entries.keys().next().value as string;
      this.delete(oldestKey, this.entries.get(oldestKey)!);
    }
    this.entries.set(key, {
      type,
      msg: Buffer.from(response.subarray(0, msg.end)),
      ttlFields: Uint32Array.from(fields),
      storedAt: this.now(),
      ttl,
    });
    this.counts[type]++;
    this.metrics?.entries.set({ type }, this.counts[type]);
    return true;
  }

  /** drops every entry */
  clear(): void {
    this.entries.clear();
    this.counts.success = 0;
    this.counts.denial = 0;
    this.metrics?.entries.set({ type: "success" }, 0);
    this.metrics?.entries.set({ type: "denial" }, 0);
  }

  private delete(key: string, e: Entry): void {
    this.entries.delete(key);
    this.counts[e.type]--;
    this.metrics?.entries.set({ type: e.type }, this.counts[e.type]);
  }
}

/** the MINIMUM field of SOA rdata spanning [start, end): the last 4 bytes after two names */
function soaMinimum(buf: Buffer, start: number, end: number): number | undefined {
  const mname = readName(buf, start);
  if (!mname) return undefined;
  const rname = readName(buf, mname.next);
  if (!rname || rname.next + 20 !== end) return undefined;
  return buf.readUInt32BE(rname.next + 16);
}

/**
 * Copies the qname bytes of `query` over the qname of `resp` when both are uncompressed,
 * equally long and equal ignoring case, so a client sees its own spelling (DNS 0x20).
 */
function copyQnameSpelling(query: Buffer, resp: Buffer): void {
  const q = readName(query, HEADER_SIZE);
  const r = readName(resp, HEADER_SIZE);
  if (!q || !r || q.next !== r.next || q.name !== r.name) return;
  if (query.readUInt16BE(4) !== 1 || resp.readUInt16BE(4) !== 1) return;
  // both names start at offset 12 and are uncompressed iff they end where a plain name would
  const plain = q.name === "" ? 1 : q.name.length + 2;
  if (q.next - HEADER_SIZE !== plain) return;
  query.copy(resp, HEADER_SIZE, HEADER_SIZE, q.next);
}
