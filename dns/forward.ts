/**
 * Upstream forwarding for names outside the cluster domain (the CoreDNS `forward` + `loop` roles).
 *
 * - `resolve(query, proto)` takes the client's raw query and returns a raw response carrying the
 *   query's id. It never rejects: failures become SERVFAIL, overload REFUSED.
 * - Cache first (when a DnsCache is given): hits never reach an upstream, and do not count
 *   towards max_concurrent.
 * - max_concurrent (default 1000): a query arriving while that many are in flight upstream is
 *   answered REFUSED at once (coredns_forward_max_concurrent_rejects_total).
 * - Upstream choice: `policy` random (default, as CoreDNS), round_robin or sequential, over the
 *   healthy upstreams; if none is healthy, over all of them. Each upstream is tried at most once
 *   per query with `timeoutMs` (default 2000); a timeout or socket error moves on to the next
 *   one; when all fail the answer is SERVFAIL (a truncated UDP answer is returned instead if one
 *   was received and its TCP retry failed).
 * - Transport: UDP for UDP queries, retried over TCP to the same upstream when the UDP answer has
 *   TC set; TCP for TCP queries (one connection per query). The upstream sees the client's query
 *   bytes with a fresh random id; answers must come from the upstream's address, match the id and
 *   the question (case-insensitively), or they are ignored.
 * - Health: after `maxFails` (default 2, as CoreDNS) consecutive failures an upstream is marked
 *   unhealthy and probed in the background every `healthCheckIntervalMs` (default 500) with a
 *   ". IN NS" query over UDP; any answer marks it healthy again, each failed probe counts in
 *   coredns_forward_healthcheck_failures_total{to}. A successful exchange resets the failures.
 * - Loop detection (like the CoreDNS `loop` plugin): `startLoopDetection()` sends an HINFO query
 *   for a random name "<random>.<random>.<zone>" (zone default ".") through the upstreams. The
 *   server must call `isLoopProbe(qname)` (module function, or the method) for every query it
 *   receives and then handle the query normally; if the probe name arrives more than twice, the
 *   upstreams lead back to this server: the forwarder logs an error and stops forwarding (every
 *   later resolve() answers SERVFAIL without touching an upstream), which also unwinds the loop.
 *   Detection ends after the first probe that gets an answer without looping.
 *
 * Metrics (CoreDNS names): coredns_forward_requests_total{to}, coredns_forward_responses_total{to,
 * rcode}, coredns_forward_request_duration_seconds{to,rcode}, coredns_forward_healthcheck_failures
 * _total{to}, coredns_forward_healthcheck_broken_total, coredns_forward_max_concurrent_rejects_total.
 */
import { randomBytes, randomInt } from "node:crypto";
import dgram from "node:dgram";
import net, { isIPv6 } from "node:net";
import { Counter, Histogram, type Registry } from "prom-client";
import { cacheKey, type DnsCache } from "./cache.js";
import { encodeQuery, errorResponse, HEADER_SIZE, QTYPE, RCODE, rcodeName, readName } from "./wire.js";

export interface ForwarderLogger {
  warn(o: object, m: string): void;
  info(o: object, m: string): void;
  error?(o: object, m: string): void;
}

export interface ForwarderOptions {
  /** "127.0.0.1:5353", "[::1]:53"; a bare address means port 53 */
  upstreams: string[];
  maxConcurrent?: number;
  /** per upstream attempt (default 2000) */
  timeoutMs?: number;
  metrics?: Registry;
  logger?: ForwarderLogger;
  cache?: DnsCache;
  /** consecutive failures before an upstream is marked unhealthy (default 2) */
  maxFails?: number;
  /** health probe interval for unhealthy upstreams (default 500) */
  healthCheckIntervalMs?: number;
  policy?: "random" | "round_robin" | "sequential";
  /** loop detection: probes sent until one is answered (default 30), interval (default 1000 ms) */
  loopProbeAttempts?: number;
  loopProbeIntervalMs?: number;
  /** zone appended to the loop probe name (default the root) */
  loopProbeZone?: string;
}

export interface UpstreamStatus {
  address: string;
  healthy: boolean;
  fails: number;
}

export type LoopDetectionResult = "ok" | "loop" | "unanswered" | "closed";

export interface Forwarder {
  resolve(query: Buffer, proto: "udp" | "tcp"): Promise<Buffer>;
  close(): void;
  /** counts a sighting of the loop probe; true when `name` is this forwarder's probe name */
  isLoopProbe(name: string): boolean;
  /** sends loop probes in the background; resolves with the outcome */
  startLoopDetection(): Promise<LoopDetectionResult>;
  /** true once a forwarding loop was detected (forwarding stopped) */
  readonly loopDetected: boolean;
  upstreams(): UpstreamStatus[];
}

interface Upstream {
  address: string;
  host: string;
  port: number;
  family: 4 | 6;
  fails: number;
  healthy: boolean;
  probeTimer?: NodeJS.Timeout;
  probing: boolean;
}

interface Pending {
  upstream: Upstream;
  question: Buffer;
  resolve(msg: Buffer): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

interface UdpSlot {
  socket: dgram.Socket;
  pending: Map<number, Pending>;
}

interface ForwardMetrics {
  requests: Counter<"to">;
  responses: Counter<"to" | "rcode">;
  duration: Histogram<"to" | "rcode">;
  hcFailures: Counter<"to">;
  hcBroken: Counter;
  rejects: Counter;
}

function metric<T>(reg: Registry, name: string, make: () => T): T {
  return (reg.getSingleMetric(name) as T | undefined) ?? make();
}

function forwardMetrics(reg: Registry): ForwardMetrics {
  return {
    requests: metric(
      reg,
      "coredns_forward_requests_total",
      () =>
        new Counter({
          name: "coredns_forward_requests_total",
          help: "Counter of requests made per upstream.",
          labelNames: ["to"],
          registers: [reg],
        }),
    ),
    responses: metric(
      reg,
      "coredns_forward_responses_total",
      () =>
        new Counter({
          name: "coredns_forward_responses_total",
          help: "Counter of responses received per upstream.",
          labelNames: ["to", "rcode"],
          registers: [reg],
        }),
    ),
    duration: metric(
      reg,
      "coredns_forward_request_duration_seconds",
      () =>
        new Histogram({
          name: "coredns_forward_request_duration_seconds",
          help: "Histogram of the time each request took.",
          labelNames: ["to", "rcode"],
          // CoreDNS: prometheus.ExponentialBuckets(0.00025, 2, 16)
          buckets: Array.from({ length: 16 }, (_, i) => 0.00025 * 2 ** i),
          registers: [reg],
        }),
    ),
    hcFailures: metric(
      reg,
      "coredns_forward_healthcheck_failures_total",
      () =>
        new Counter({
          name: "coredns_forward_healthcheck_failures_total",
          help: "Counter of the number of failed healthchecks.",
          labelNames: ["to"],
          registers: [reg],
        }),
    ),
    hcBroken: metric(
      reg,
      "coredns_forward_healthcheck_broken_total",
      () =>
        new Counter({
          name: "coredns_forward_healthcheck_broken_total",
          help: "Counter of the number of complete failures of the healthchecks.",
          registers: [reg],
        }),
    ),
    rejects: metric(
      reg,
      "coredns_forward_max_concurrent_rejects_total",
      () =>
        new Counter({
          name: "coredns_forward_max_concurrent_rejects_total",
          help: "Counter of the number of queries rejected because the concurrent queries were at maximum.",
          registers: [reg],
        }),
    ),
  };
}

/** parses "host:port", "[v6]:port", or a bare address (port 53) */
export function parseUpstream(spec: string): { host: string; port: number; family: 4 | 6 } {
  let host = spec.trim();
  let port = 53;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
  if (bracket) {
    host = bracket[1]!;
    if (bracket[2]) port = Number(bracket[2]);
  } else if (!isIPv6(host)) {
    const i = host.lastIndexOf(":");
    if (i >= 0) {
      port = Number(host.slice(i + 1));
      host = host.slice(0, i);
    }
  }
  const family = net.isIP(host);
  if (family === 0) throw new Error(`upstream "${spec}": not an IP address`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`upstream "${spec}": bad port`);
  return { host, port, family: family as 4 | 6 };
}

class UpstreamError extends Error {}

const live = new Set<ForwarderImpl>();

/** Counts a sighting of any live forwarder's loop probe; true if `name` is one. */
export function isLoopProbe(name: string): boolean {
  let hit = false;
  for (const f of live) if (f.isLoopProbe(name)) hit = true;
  return hit;
}

const UDP_SOCKETS_PER_FAMILY = 4;

class ForwarderImpl implements Forwarder {
  private readonly ups: Upstream[];
  private readonly maxConcurrent: number;
  private readonly timeoutMs: number;
  private readonly maxFails: number;
  private readonly hcIntervalMs: number;
  private readonly policy: "random" | "round_robin" | "sequential";
  private readonly metrics?: ForwardMetrics;
  private readonly logger?: ForwarderLogger;
  private readonly cache?: DnsCache;
  private readonly udp: Record<4 | 6, UdpSlot[]> = { 4: [], 6: [] };
  private readonly tcpSockets = new Set<net.Socket>();
  private udpNext = 0;
  private rr = 0;
  private inflight = 0;
  private closed = false;
  private loop = false;
  private probeName?: string;
  private probeSeen = 0;

  constructor(private readonly opts: ForwarderOptions) {
    if (opts.upstreams.length === 0) throw new Error("forward: no upstreams");
    this.ups = opts.upstreams.map((s) => {
      const p = parseUpstream(s);
      const address = p.family === 6 ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`;
      return { address, ...p, fails: 0, healthy: true, probing: false };
    });
    this.maxConcurrent = opts.maxConcurrent ?? 1000;
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.maxFails = opts.maxFails ?? 2;
    this.hcIntervalMs = opts.healthCheckIntervalMs ?? 500;
    this.policy = opts.policy ?? "random";
    this.logger = opts.logger;
    this.cache = opts.cache;
    if (opts.metrics) this.metrics = forwardMetrics(opts.metrics);
    live.add(this);
  }

  get loopDetected(): boolean {
    return this.loop;
  }

  upstreams(): UpstreamStatus[] {
    return this.ups.map((u) => ({ address: u.address, healthy: u.healthy, fails: u.fails }));
  }

  async resolve(query: Buffer, proto: "udp" | "tcp"): Promise<Buffer> {
    if (query.length < HEADER_SIZE) return errorResponse(query, RCODE.FORMERR);
    if (this.closed || this.loop) return errorResponse(query, RCODE.SERVFAIL);
    const key = this.cache ? cacheKey(query) : undefined;
    if (key !== undefined) {
      const hit = this.cache!.get(key, query);
      if (hit) return hit;
    }
    if (this.inflight >= this.maxConcurrent) {
      this.metrics?.rejects.inc();
      return errorResponse(query, RCODE.REFUSED);
    }
    this.inflight++;
    try {
      const resp = await this.exchangeAny(query, proto);
      if (!resp) return errorResponse(query, RCODE.SERVFAIL);
      if (key !== undefined) this.cache!.set(key, resp);
      const out = Buffer.from(resp);
      out.writeUInt16BE(query.readUInt16BE(0), 0);
      return out;
    } finally {
      this.inflight--;
    }
  }

  /** tries upstreams in policy order; undefined when none answered */
  private async exchangeAny(query: Buffer, proto: "udp" | "tcp"): Promise<Buffer | undefined> {
    let truncated: Buffer | undefined;
    for (const u of this.order()) {
      if (this.closed) return undefined;
      const to = u.address;
      this.metrics?.requests.inc({ to });
      const started = performance.now();
      try {
        let resp = await this.exchange(u, query, proto);
        if (proto === "udp" && resp.length >= 4 && resp.readUInt16BE(2) & 0x0200) {
          truncated = resp;
          resp = await this.exchange(u, query, "tcp");
        }
        const rcode = rcodeName(resp.readUInt16BE(2) & 0xf);
        this.metrics?.responses.inc({ to, rcode });
        this.metrics?.duration.observe({ to, rcode }, (performance.now() - started) / 1000);
        u.fails = 0;
        return resp;
      } catch (err) {
        if (this.closed) return undefined;
        this.fail(u, err);
      }
    }
    return truncated;
  }

  private order(): Upstream[] {
    let list = this.ups.filter((u) => u.healthy);
    if (list.length === 0) {
      this.metrics?.hcBroken.inc();
      list = [...this.ups];
    }
    if (this.policy === "random") {
      for (let i = list.length - 1; i > 0; i--) {
        const j = randomInt(i + 1);
        [list[i], list[j]] = [list[j]!, list[i]!];
      }
    } else if (this.policy === "round_robin") {
      const start = this.rr++ % list.length;
      list = [...list.slice(start), ...list.slice(0, start)];
    }
    return list;
  }

  private fail(u: Upstream, err: unknown): void {
    u.fails++;
    if (u.healthy && u.fails >= this.maxFails) {
      u.healthy = false;
      this.logger?.warn(
        { upstream: u.address, fails: u.fails, err: (err as Error).message },
        "upstream marked unhealthy",
      );
      this.scheduleProbe(u);
    }
  }

  private scheduleProbe(u: Upstream): void {
    if (this.closed || u.probeTimer) return;
    u.probeTimer = setTimeout(() => {
      u.probeTimer = undefined;
      void this.probe(u);
    }, this.hcIntervalMs);
    u.probeTimer.unref();
  }

  private async probe(u: Upstream): Promise<void> {
    if (this.closed || u.healthy || u.probing) return;
    u.probing = true;
    try {
      await this.exchange(u, encodeQuery("", QTYPE.NS, randomInt(65536)), "udp");
      u.healthy = true;
      u.fails = 0;
      this.logger?.info({ upstream: u.address }, "upstream healthy again");
    } catch {
      this.metrics?.hcFailures.inc({ to: u.address });
      this.scheduleProbe(u);
    } finally {
      u.probing = false;
    }
  }

  private exchange(u: Upstream, query: Buffer, proto: "udp" | "tcp"): Promise<Buffer> {
    return proto === "udp" ? this.exchangeUdp(u, query) : this.exchangeTcp(u, query);
  }

  private udpSlot(family: 4 | 6): UdpSlot {
    const slots = this.udp[family];
    if (slots.length < UDP_SOCKETS_PER_FAMILY) {
      const socket = dgram.createSocket(family === 6 ? "udp6" : "udp4");
      const slot: UdpSlot = { socket, pending: new Map() };
      socket.on("message", (msg, rinfo) => this.onUdpMessage(slot, msg, rinfo));
      socket.on("error", (err) => this.logger?.warn({ err: err.message }, "forward: UDP socket error"));
      socket.bind(0, family === 6 ? "::" : "0.0.0.0");
      socket.unref();
      slots.push(slot);
      return slot;
    }
    return slots[this.udpNext++ % slots.length]!;
  }

  private onUdpMessage(slot: UdpSlot, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length < HEADER_SIZE || !(msg.readUInt16BE(2) & 0x8000)) return;
    const p = slot.pending.get(msg.readUInt16BE(0));
    if (!p || rinfo.port !== p.upstream.port || !sameAddress(rinfo.address, p.upstream.host)) return;
    if (!sameQuestion(p.question, msg)) return;
    slot.pending.delete(msg.readUInt16BE(0));
    clearTimeout(p.timer);
    p.resolve(msg);
  }

  private exchangeUdp(u: Upstream, query: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const slot = this.udpSlot(u.family);
      let id = randomInt(65536);
      for (let i = 0; slot.pending.has(id); i++) {
        if (i > 64) return reject(new UpstreamError("no free query id"));
        id = randomInt(65536);
      }
      const wire = Buffer.from(query);
      wire.writeUInt16BE(id, 0);
      const timer = setTimeout(() => {
        slot.pending.delete(id);
        reject(new UpstreamError(`timeout after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      slot.pending.set(id, { upstream: u, question: questionBytes(query), resolve, reject, timer });
      slot.socket.send(wire, u.port, u.host, (err) => {
        if (err && slot.pending.get(id)?.timer === timer) {
          slot.pending.delete(id);
          clearTimeout(timer);
          reject(err);
        }
      });
    });
  }

  private exchangeTcp(u: Upstream, query: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const id = randomInt(65536);
      const wire = Buffer.alloc(query.length + 2);
      wire.writeUInt16BE(query.length, 0);
      query.copy(wire, 2);
      wire.writeUInt16BE(id, 2);
      const question = questionBytes(query);
      const sock = net.connect({ host: u.host, port: u.port });
      this.tcpSockets.add(sock);
      let buf: Buffer = Buffer.alloc(0);
      let done = false;
      const finish = (err: Error | undefined, msg?: Buffer) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.tcpSockets.delete(sock);
        sock.destroy();
        if (err) reject(err);
        else resolve(msg!);
      };
      const timer = setTimeout(
        () => finish(new UpstreamError(`timeout after ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      sock.on("connect", () => sock.write(wire));
      sock.on("data", (chunk: Buffer) => {
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        while (buf.length >= 2) {
          const len = buf.readUInt16BE(0);
          if (buf.length < 2 + len) return;
          const msg = buf.subarray(2, 2 + len);
          buf = buf.subarray(2 + len);
          if (msg.length >= HEADER_SIZE && msg.readUInt16BE(0) === id && sameQuestion(question, msg)) {
            return finish(undefined, Buffer.from(msg));
          }
        }
      });
      sock.on("error", (err) => finish(err));
      sock.on("close", () => finish(new UpstreamError("connection closed before an answer")));
    });
  }

  isLoopProbe(name: string): boolean {
    if (!this.probeName) return false;
    const n = name.toLowerCase().replace(/\.$/, "");
    if (n !== this.probeName) return false;
    this.probeSeen++;
    if (this.probeSeen > 2 && !this.loop) {
      this.loop = true;
      const o = { probe: this.probeName, seen: this.probeSeen, upstreams: this.ups.map((u) => u.address) };
      const m = "forwarding loop detected: the loop probe came back to this server; forwarding stopped";
      if (this.logger?.error) this.logger.error(o, m);
      else this.logger?.warn(o, m);
    }
    return true;
  }

  async startLoopDetection(): Promise<LoopDetectionResult> {
    const zone = (this.opts.loopProbeZone ?? "").toLowerCase().replace(/^\.|\.$/g, "");
    const rand = () => String(randomInt(1, 2 ** 31));
    this.probeName = zone ? `${rand()}.${rand()}.${zone}` : `${rand()}.${rand()}`;
    this.probeSeen = 0;
    const attempts = this.opts.loopProbeAttempts ?? 30;
    const interval = this.opts.loopProbeIntervalMs ?? 1000;
    try {
      for (let i = 0; i < attempts; i++) {
        if (this.closed) return "closed";
        const resp = await this.resolve(encodeQuery(this.probeName, QTYPE.HINFO, randomInt(65536)), "udp");
        if (this.loop) return "loop";
        const rcode = resp.readUInt16BE(2) & 0xf;
        if (rcode !== RCODE.SERVFAIL) return "ok";
        await new Promise((r) => setTimeout(r, interval).unref());
      }
      return this.loop ? "loop" : "unanswered";
    } finally {
      // keep counting only while a loop was found (so later sightings are still recognised)
      if (!this.loop) this.probeName = undefined;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    live.delete(this);
    for (const u of this.ups) {
      if (u.probeTimer) clearTimeout(u.probeTimer);
      u.probeTimer = undefined;
    }
    for (const fam of [4, 6] as const) {
      for (const slot of this.udp[fam]) {
        for (const p of slot.pending.values()) {
          clearTimeout(p.timer);
          p.reject(new UpstreamError("forwarder closed"));
        }
        slot.pending.clear();
        try {
          slot.socket.close();
        } catch {
          // already closed
        }
      }
      this.udp[fam] = [];
    }
    for (const s of this.tcpSockets) s.destroy();
    this.tcpSockets.clear();
  }
}

/** Creates a forwarder; see the module comment for the behaviour. */
export function createForwarder(opts: ForwarderOptions): Forwarder {
  return new ForwarderImpl(opts);
}

/** the first question of a message with its name lower-cased (empty if absent or malformed) */
function questionBytes(msg: Buffer): Buffer {
  if (msg.length < HEADER_SIZE || msg.readUInt16BE(4) === 0) return Buffer.alloc(0);
  const n = readName(msg, HEADER_SIZE);
  if (!n || n.next + 4 > msg.length) return Buffer.alloc(0);
  const out = Buffer.from(msg.subarray(HEADER_SIZE, n.next + 4));
  // ASCII letters in the name only (label length octets are <= 63, below 'A')
  for (let i = 0; i < n.next - HEADER_SIZE; i++) {
    const c = out[i]!;
    if (c >= 0x41 && c <= 0x5a) out[i] = c | 0x20;
  }
  return out;
}

function sameQuestion(question: Buffer, resp: Buffer): boolean {
  if (question.length === 0) return true;
  return questionBytes(resp).equals(question);
}

function sameAddress(a: string, b: string): boolean {
  if (a === b) return true;
  // a v4 upstream reached through a dual-stack socket
  return a.replace(/^::ffff:/, "") === b.replace(/^::ffff:/, "");
}

/** random label for tests and probes */
export function randomLabel(): string {
  return randomBytes(6).toString("hex");
}
