/**
 * One query in, one response out (or nothing): parse, answer from the cluster zone or forward,
 * shuffle addresses, fit the response into what the client accepts, count and log.
 * No sockets here, so tests and fuzzers call handle() directly.
 */
import dnsPacket from "dns-packet";
import type { Logger } from "../cli/logger.js";
import type { DnsMetrics } from "./metrics.js";
import { typeLabel } from "./metrics.js";
import type { Resolution, Zone } from "./records.js";
import {
  CLASS_ANY,
  CLASS_IN,
  encodeQuery,
  encodeResponse,
  errorResponse,
  fitResponse,
  HEADER_SIZE,
  parseQuery,
  QTYPE,
  type Query,
  RCODE,
  RCODE_NAMES,
  type RR,
  responseLimit,
  typeName,
} from "./wire.js";

/** the upstream side (dns/forward.ts implements it) */
export interface Forwarder {
  resolve(query: Buffer, proto: "udp" | "tcp"): Promise<Buffer>;
  close(): void;
  /** loop detection: told about every query name the server receives */
  isLoopProbe?(name: string): boolean;
}

export type Proto = "udp" | "tcp";

export interface HandlerOptions {
  zone: Zone;
  forwarder?: Forwarder;
  /** false until the caches synced (or the startup timeout passed): cluster names get SERVFAIL */
  serving?: () => boolean;
  metrics?: DnsMetrics;
  logger?: Logger;
  /** shuffle A/AAAA records (CNAMEs stay first); default true */
  shuffle?: boolean;
  /** the largest UDP response we send whatever the client advertises; default 4096 */
  maxUdpSize?: number;
  /** the "server" metric label, e.g. "dns://:53" */
  server?: string;
  random?: () => number;
}

/** logs at most `perSecond` lines a second and says how many it dropped */
export class RateLimitedLog {
  private windowStart = 0;
  private count = 0;
  private dropped = 0;
  constructor(
    private readonly log: Logger | undefined,
    private readonly perSecond = 10,
    private readonly now: () => number = Date.now,
  ) {}

  error(obj: Record<string, unknown>, msg: string): void {
    if (!this.log) return;
    const t = this.now();
    if (t - this.windowStart >= 1000) {
      this.windowStart = t;
      this.count = 0;
    }
    if (this.count >= this.perSecond) {
      this.dropped++;
      return;
    }
    this.count++;
    const extra = this.dropped ? { suppressed: this.dropped } : {};
    this.dropped = 0;
    this.log.error({ ...obj, ...extra }, msg);
  }
}

const REVERSE_SUFFIXES = [
  ["in-addr", "arpa"],
  ["ip6", "arpa"],
];

function isReverse(labels: string[]): boolean {
  return REVERSE_SUFFIXES.some(
    (s) => labels.length >= 2 && labels[labels.length - 2] === s[0] && labels[labels.length - 1] === s[1],
  );
}

export class QueryHandler {
  private readonly log: RateLimitedLog;
  private readonly maxUdp: number;
  private readonly random: () => number;
  private readonly server: string;

  constructor(private readonly opts: HandlerOptions) {
    this.log = new RateLimitedLog(opts.logger);
    this.maxUdp = opts.maxUdpSize ?? 4096;
    this.random = opts.random ?? Math.random;
    this.server = opts.server ?? "dns://:53";
  }

  /** the response to send, or undefined to stay silent */
  async handle(raw: Buffer, proto: Proto, family: 4 | 6 = 4): Promise<Buffer | undefined> {
    const start = process.hrtime.bigint();
    const m = this.opts.metrics;
    const labels = { server: this.server, zone: "." };
    let qtype = "other";
    let out: { buf: Buffer; plugin: string } | undefined;
    try {
      out = await this.answer(raw, proto, (t) => {
        qtype = t;
      });
    } catch (err) {
      m?.panics.inc();
      this.log.error({ err: err instanceof Error ? err.stack : String(err) }, "query handling failed");
      out = this.servfailFor(raw);
    }
    if (m) {
      m.requests.inc({ ...labels, proto, family: family === 6 ? "2" : "1", type: qtype });
      m.requestSize.observe({ ...labels, proto }, raw.length);
      if (out) {
        const rcode = out.buf.length >= 4 ? out.buf[3]! & 0xf : RCODE.SERVFAIL;
        m.responses.inc({ ...labels, rcode: RCODE_NAMES[rcode] ?? String(rcode), plugin: out.plugin });
        m.responseSize.observe({ ...labels, proto }, out.buf.length);
      }
      m.duration.observe({ ...labels, type: qtype }, Number(process.hrtime.bigint() - start) / 1e9);
    }
    return out?.buf;
  }

  private servfailFor(raw: Buffer): { buf: Buffer; plugin: string } | undefined {
    if (raw.length < HEADER_SIZE || raw.readUInt16BE(2) & 0x8000) return undefined;
    return { buf: errorResponse(raw, RCODE.SERVFAIL), plugin: "" };
  }

  private async answer(
    raw: Buffer,
    proto: Proto,
    setType: (t: string) => void,
  ): Promise<{ buf: Buffer; plugin: string } | undefined> {
    const parsed = parseQuery(raw);
    if (parsed.kind === "drop") return undefined;
    if (parsed.kind === "error") {
      const buf = encodeResponse(
        {
          id: parsed.id,
          opcode: parsed.opcode,
          rd: parsed.rd,
          cd: parsed.cd,
          rcode: parsed.rcode,
          question: parsed.question,
          edns: parsed.edns ? { udpSize: this.maxUdp } : undefined,
        },
        responseLimit(proto, parsed.edns, this.maxUdp),
      ).buf;
      return { buf, plugin: "" };
    }
    const q = parsed.query;
    this.opts.forwarder?.isLoopProbe?.(q.name);
    setType(typeLabel(typeName(q.qtype)));
    const limit = responseLimit(proto, q.edns, this.maxUdp);
    const reply = (r: {
      rcode: number;
      aa?: boolean;
      answers?: RR[];
      authorities?: RR[];
      additionals?: RR[];
    }) =>
      encodeResponse(
        {
          id: q.id,
          rd: q.rd,
          cd: q.cd,
          aa: r.aa,
          rcode: r.rcode,
          question: q.question,
          questionName: q.plainName ? q.name : undefined,
          answers: r.answers,
          authorities: r.authorities,
          additionals: r.additionals,
          edns: q.edns ? { udpSize: this.maxUdp, dnssecOk: q.edns.dnssecOk } : undefined,
        },
        limit,
      ).buf;

    if (q.qtype === QTYPE.AXFR || q.qtype === QTYPE.IXFR)
      return { buf: reply({ rcode: RCODE.REFUSED }), plugin: "" };

    const lower = q.labels.map((l) => l.toLowerCase());
    const zone = this.opts.zone;
    const ours = zone.inZone(lower) || isReverse(lower);
    if (ours && q.qclass !== CLASS_IN && q.qclass !== CLASS_ANY && zone.inZone(lower)) {
      return { buf: reply({ rcode: RCODE.REFUSED }), plugin: "kubernetes" };
    }
    if (ours && this.opts.serving && !this.opts.serving()) {
      this.log.error({ name: q.name, type: typeName(q.qtype) }, "cluster caches not synced yet: SERVFAIL");
      return { buf: reply({ rcode: RCODE.SERVFAIL }), plugin: "kubernetes" };
    }
    const res: Resolution =
      q.plainName && (q.qclass === CLASS_IN || q.qclass === CLASS_ANY)
        ? zone.resolve(q.name, q.qtype)
        : zone.inZone(lower)
          ? nx(zone)
          : { kind: "outside" };
    if (res.kind === "outside") return this.forward(raw, q, proto, limit, reply);

    let answers = res.answers;
    let rcode = res.rcode;
    if (res.chase) {
      const extra = await this.chase(res.chase, q.qtype);
      answers = [...answers, ...extra.answers];
      if (extra.rcode === RCODE.NXDOMAIN) rcode = RCODE.NXDOMAIN;
    }
    if (this.opts.shuffle !== false) answers = shuffleAddresses(answers, this.random);
    return {
      buf: reply({ rcode, aa: true, answers, authorities: res.authorities, additionals: res.additionals }),
      plugin: "kubernetes",
    };
  }

  private async forward(
    raw: Buffer,
    q: Query,
    proto: Proto,
    limit: number,
    reply: (r: {
      rcode: number;
      aa?: boolean;
      answers?: RR[];
      authorities?: RR[];
      additionals?: RR[];
    }) => Buffer,
  ): Promise<{ buf: Buffer; plugin: string }> {
    const fwd = this.opts.forwarder;
    if (!fwd) return { buf: reply({ rcode: RCODE.SERVFAIL }), plugin: "forward" };
    let resp: Buffer;
    try {
      resp = await fwd.resolve(raw, proto);
    } catch (err) {
      this.log.error({ name: q.name, type: typeName(q.qtype), err: String(err) }, "forwarding failed");
      return { buf: reply({ rcode: RCODE.SERVFAIL }), plugin: "forward" };
    }
    if (resp.length < HEADER_SIZE) return { buf: reply({ rcode: RCODE.SERVFAIL }), plugin: "forward" };
    if (resp.length <= limit) {
      const copy = Buffer.from(resp);
      copy.writeUInt16BE(q.id, 0);
      if ((copy[3]! & 0xf) === RCODE.SERVFAIL)
        this.log.error({ name: q.name, type: typeName(q.qtype) }, "upstream SERVFAIL");
      return { buf: copy, plugin: "forward" };
    }
    // bigger than this client takes: cut at record boundaries to fit, with TC
    const cut = Buffer.from(fitResponse(resp, limit));
    cut.writeUInt16BE(q.id, 0);
    return { buf: cut, plugin: "forward" };
  }

  /** resolves an ExternalName target upstream; its answers follow the CNAME */
  private async chase(target: string, qtype: number): Promise<{ rcode: number; answers: RR[] }> {
    const fwd = this.opts.forwarder;
    if (!fwd) return { rcode: RCODE.NOERROR, answers: [] };
    try {
      const query = encodeQuery(target, qtype, Math.floor(this.random() * 65536) & 0xffff);
      const resp = await fwd.resolve(query, "udp");
      const d = dnsPacket.decode(resp);
      const rcode = resp.length >= 4 ? resp[3]! & 0xf : RCODE.SERVFAIL;
      return { rcode, answers: ((d.answers ?? []) as RR[]).filter((r) => r.type !== "OPT") };
    } catch (err) {
      this.log.error(
        { name: target, type: typeName(qtype), err: String(err) },
        "resolving an ExternalName target failed",
      );
      return { rcode: RCODE.NOERROR, answers: [] };
    }
  }
}

function nx(zone: Zone): Resolution {
  return { kind: "answer", rcode: RCODE.NXDOMAIN, answers: [], authorities: [zone.soa()], additionals: [] };
}

/** CNAMEs first in their order, then A/AAAA in random order, then the rest (CoreDNS loadbalance) */
export function shuffleAddresses(answers: RR[], random: () => number = Math.random): RR[] {
  const cnames: RR[] = [];
  const addrs: RR[] = [];
  const rest: RR[] = [];
  for (const rr of answers) {
    if (rr.type === "CNAME") cnames.push(rr);
    else if (rr.type === "A" || rr.type === "AAAA") addrs.push(rr);
    else rest.push(rr);
  }
  if (addrs.length < 2) return answers;
  for (let i = addrs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [addrs[i], addrs[j]] = [addrs[j]!, addrs[i]!];
  }
  return [...cnames, ...addrs, ...rest];
}
