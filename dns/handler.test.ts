import dnsPacket from "dns-packet";
import fc from "fast-check";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { type Forwarder, QueryHandler, RateLimitedLog, shuffleAddresses } from "./handler.js";
import { dnsMetrics } from "./metrics.js";
import { type EndpointSlice, type Service, staticView, Zone } from "./records.js";
import { encodeResponse, parseQuery, QTYPE, RCODE, type RR } from "./wire.js";

const services: Service[] = [
  {
    metadata: { namespace: "default", name: "web" },
    spec: { clusterIP: "10.96.0.10", ports: [{ name: "http", port: 80 }] },
  },
  {
    metadata: { namespace: "default", name: "big" },
    spec: { clusterIP: "None", ports: [{ name: "http", port: 80 }] },
  },
  {
    metadata: { namespace: "default", name: "ext" },
    spec: { type: "ExternalName", externalName: "example.org" },
  },
];
const slices: EndpointSlice[] = [
  {
    metadata: { namespace: "default", name: "big-1", labels: { "kubernetes.io/service-name": "big" } },
    addressType: "IPv4",
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    endpoints: Array.from({ length: 100 }, (_, i) => ({
      addresses: [`10.1.${i >> 8}.${i & 255}`],
      hostname: `big-${i}`,
    })),
  },
];

/** a fake upstream: example.org A 93.184.216.34, everything else NXDOMAIN; big.example: 200 TXT */
function fakeForwarder(): Forwarder & { calls: Buffer[] } {
  const calls: Buffer[] = [];
  return {
    calls,
    close() {},
    async resolve(query) {
      calls.push(query);
      const q = dnsPacket.decode(query);
      const question = q.questions![0]!;
      const name = question.name.toLowerCase();
      const answers: dnsPacket.Answer[] =
        name === "example.org" && question.type === "A"
          ? [{ name: question.name, type: "A", ttl: 60, data: "93.184.216.34" }]
          : name === "big.example"
            ? Array.from({ length: 200 }, (_, i) => ({
                name: question.name,
                type: "TXT" as const,
                ttl: 60,
                data: `record number ${i}`,
              }))
            : [];
      return dnsPacket.encode({
        id: q.id,
        type: "response",
        flags:
          dnsPacket.RECURSION_DESIRED |
          dnsPacket.RECURSION_AVAILABLE |
          (answers.length || name === "example.org" ? 0 : 3),
        questions: q.questions,
        answers,
      });
    },
  };
}

function handler(o: { serving?: () => boolean; forwarder?: Forwarder; registry?: Registry } = {}) {
  const zone = new Zone(staticView({ services, slices }), {
    zone: "cluster.local",
    ttl: 30,
    pods: "insecure",
    serial: 7,
  });
  return new QueryHandler({
    zone,
    forwarder: o.forwarder ?? fakeForwarder(),
    serving: o.serving,
    metrics: o.registry ? dnsMetrics(o.registry) : undefined,
    random: () => 0.5,
  });
}

function query(
  name: string,
  type: string,
  o: { id?: number; edns?: number; do?: boolean; flags?: number } = {},
): Buffer {
  return dnsPacket.encode({
    id: o.id ?? 4242,
    type: "query",
    flags: o.flags ?? dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as dnsPacket.RecordType, class: "IN" }],
    additionals:
      o.edns === undefined
        ? []
        : [
            {
              type: "OPT",
              name: ".",
              udpPayloadSize: o.edns,
              flags: o.do ? dnsPacket.DNSSEC_OK : 0,
            } as dnsPacket.Answer,
          ],
  });
}

// biome-ignore lint/suspicious/noExplicitAny: decoded packets are loosely typed
type Decoded = any;
async function ask(
  h: QueryHandler,
  q: Buffer,
  proto: "udp" | "tcp" = "udp",
): Promise<{ raw: Buffer; d: Decoded }> {
  const raw = await h.handle(q, proto);
  if (!raw) throw new Error("no response");
  return { raw, d: dnsPacket.decode(raw) as Decoded };
}

const rcodeOf = (raw: Buffer) => raw[3]! & 0xf;
const tc = (raw: Buffer) => (raw[2]! & 0x02) !== 0;
const aa = (raw: Buffer) => (raw[2]! & 0x04) !== 0;

describe("wire", () => {
  it("parses a query with EDNS", () => {
    const r = parseQuery(query("Web.Default.svc.cluster.local", "SRV", { edns: 1232, do: true }));
    expect(r.kind).toBe("query");
    if (r.kind !== "query") return;
    expect(r.query).toMatchObject({
      id: 4242,
      opcode: 0,
      rd: true,
      name: "Web.Default.svc.cluster.local",
      qtype: QTYPE.SRV,
      qclass: 1,
      plainName: true,
    });
    expect(r.query.edns).toEqual({ udpSize: 1232, version: 0, dnssecOk: true });
  });

  it("drops short packets and responses; NOTIMP for other opcodes; FORMERR for bad questions", () => {
    expect(parseQuery(Buffer.alloc(5)).kind).toBe("drop");
    const resp = query("a.b", "A");
    resp[2] = resp[2]! | 0x80;
    expect(parseQuery(resp).kind).toBe("drop");
    const notify = query("a.b", "A");
    notify[2] = (notify[2]! & 0x87) | (4 << 3);
    expect(parseQuery(notify)).toMatchObject({ kind: "error", rcode: RCODE.NOTIMP });
    const two = dnsPacket.encode({
      id: 1,
      type: "query",
      questions: [
        { name: "a", type: "A" },
        { name: "b", type: "A" },
      ],
    });
    expect(parseQuery(two)).toMatchObject({ kind: "error", rcode: RCODE.FORMERR });
    const none = dnsPacket.encode({ id: 1, type: "query", questions: [] });
    expect(parseQuery(none)).toMatchObject({ kind: "error", rcode: RCODE.FORMERR });
    const cut = query("web.default.svc.cluster.local", "A").subarray(0, 20);
    expect(parseQuery(cut)).toMatchObject({ kind: "error", rcode: RCODE.FORMERR });
    // a compression pointer to itself in the question
    const loop = Buffer.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    expect(parseQuery(loop)).toMatchObject({ kind: "error", rcode: RCODE.FORMERR });
  });

  it("rejects two OPT records, and EDNS versions above 0 with BADVERS", () => {
    const twoOpt = dnsPacket.encode({
      id: 1,
      type: "query",
      questions: [{ name: "a", type: "A" }],
      additionals: [
        { type: "OPT", name: ".", udpPayloadSize: 1232 } as dnsPacket.Answer,
        { type: "OPT", name: ".", udpPayloadSize: 1232 } as dnsPacket.Answer,
      ],
    });
    expect(parseQuery(twoOpt)).toMatchObject({ kind: "error", rcode: RCODE.FORMERR });
    const v1 = query("a", "A", { edns: 1232 });
    v1[v1.length - 5] = 1; // the OPT version byte (before flags and rdlength)
    expect(parseQuery(v1)).toMatchObject({ kind: "error", rcode: RCODE.BADVERS });
  });

  it("compresses names and cuts answers to the limit with TC", () => {
    const answers: RR[] = Array.from({ length: 100 }, (_, i) => ({
      name: "x.example",
      type: "A",
      ttl: 5,
      data: `10.0.0.${i}`,
    }));
    const q = query("x.example", "A");
    const full = encodeResponse(
      { id: 1, rcode: 0, question: q.subarray(12), questionName: "x.example", answers },
      65535,
    );
    expect(full.truncated).toBe(false);
    expect(full.buf.length).toBe(12 + 15 + 100 * 16); // owner names are 2-byte pointers
    expect((dnsPacket.decode(full.buf).answers ?? []).length).toBe(100);
    const cut = encodeResponse(
      { id: 1, rcode: 0, question: q.subarray(12), questionName: "x.example", answers },
      512,
    );
    expect(cut.truncated).toBe(true);
    expect(cut.buf.length).toBeLessThanOrEqual(512);
    expect(dnsPacket.decode(cut.buf).answers!.length).toBe(Math.floor((512 - 27) / 16));
  });

  it("drops additional records that do not fit without TC", () => {
    const q = query("x.example", "SRV");
    const additionals: RR[] = Array.from({ length: 60 }, (_, i) => ({
      name: `t${i}.example`,
      type: "A",
      ttl: 5,
      data: "10.0.0.1",
    }));
    const r = encodeResponse(
      {
        id: 1,
        rcode: 0,
        question: q.subarray(12),
        answers: [{ name: "x.example", type: "SRV", ttl: 5, data: { port: 1, target: "t0.example" } }],
        additionals,
      },
      512,
    );
    expect(r.truncated).toBe(false);
    expect(r.buf.length).toBeLessThanOrEqual(512);
  });

  it("skips records that cannot be encoded", () => {
    const r = encodeResponse(
      {
        id: 1,
        rcode: 0,
        answers: [
          { name: "a", type: "A", ttl: 1, data: "not-an-ip" },
          { name: "a", type: "A", ttl: 1, data: "1.2.3.4" },
        ],
      },
      512,
    );
    expect(dnsPacket.decode(r.buf).answers!.map((a) => (a as { data: string }).data)).toEqual(["1.2.3.4"]);
  });
});

describe("QueryHandler", () => {
  it("answers cluster names authoritatively, echoing id, question and RD", async () => {
    const h = handler();
    const { raw, d } = await ask(h, query("web.default.svc.cluster.local", "A", { id: 777 }));
    expect(d.id).toBe(777);
    expect(aa(raw)).toBe(true);
    expect(d.flag_rd).toBe(true);
    expect(d.flag_ra).toBe(true);
    expect(d.questions).toEqual([{ name: "web.default.svc.cluster.local", type: "A", class: "IN" }]);
    expect(d.answers.map((a: Decoded) => a.data)).toEqual(["10.96.0.10"]);
  });

  it("answers NXDOMAIN and NODATA with the SOA in authority", async () => {
    const h = handler();
    const nx = await ask(h, query("nope.default.svc.cluster.local", "A"));
    expect(rcodeOf(nx.raw)).toBe(RCODE.NXDOMAIN);
    expect(nx.d.authorities[0]).toMatchObject({
      type: "SOA",
      name: "cluster.local",
      data: { mname: "ns.dns.cluster.local", minimum: 30 },
    });
    const nd = await ask(h, query("web.default.svc.cluster.local", "AAAA"));
    expect(rcodeOf(nd.raw)).toBe(RCODE.NOERROR);
    expect(nd.d.answers).toEqual([]);
    expect(nd.d.authorities[0].type).toBe("SOA");
  });

  it("REFUSED for AXFR/IXFR, NOTIMP for other opcodes, FORMERR for garbage with a header", async () => {
    const h = handler();
    expect(rcodeOf((await ask(h, query("cluster.local", "AXFR"))).raw)).toBe(RCODE.REFUSED);
    expect(rcodeOf((await ask(h, query("cluster.local", "IXFR"))).raw)).toBe(RCODE.REFUSED);
    const upd = query("cluster.local", "SOA");
    upd[2] = (upd[2]! & 0x87) | (5 << 3);
    const u = (await h.handle(upd, "udp"))!;
    expect(rcodeOf(u)).toBe(RCODE.NOTIMP);
    expect((u[2]! >> 3) & 0xf).toBe(5);
    const junk = Buffer.concat([
      Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
      Buffer.from([63, 1, 2]),
    ]);
    const f = (await h.handle(junk, "udp"))!;
    expect(rcodeOf(f)).toBe(RCODE.FORMERR);
    expect(f.readUInt16BE(0)).toBe(0x1234);
    expect(await h.handle(Buffer.from([1, 2, 3]), "udp")).toBeUndefined();
  });

  it("SERVFAIL for cluster names until serving, while other names are forwarded", async () => {
    let serving = false;
    const h = handler({ serving: () => serving });
    expect(rcodeOf((await ask(h, query("web.default.svc.cluster.local", "A"))).raw)).toBe(RCODE.SERVFAIL);
    expect(rcodeOf((await ask(h, query("10.0.96.10.in-addr.arpa", "PTR"))).raw)).toBe(RCODE.SERVFAIL);
    expect((await ask(h, query("example.org", "A"))).d.answers[0].data).toBe("93.184.216.34");
    serving = true;
    expect(rcodeOf((await ask(h, query("web.default.svc.cluster.local", "A"))).raw)).toBe(RCODE.NOERROR);
  });

  it("forwards out-of-zone names with the client's raw query", async () => {
    const fwd = fakeForwarder();
    const h = handler({ forwarder: fwd });
    const q = query("example.org", "A", { id: 99 });
    const { raw, d } = await ask(h, q);
    expect(fwd.calls[0]).toEqual(q);
    expect(d.id).toBe(99);
    expect(aa(raw)).toBe(false);
    expect(d.answers[0].data).toBe("93.184.216.34");
    expect(rcodeOf((await ask(h, query("nowhere.example", "A"))).raw)).toBe(RCODE.NXDOMAIN);
  });

  it("SERVFAIL when the forwarder throws or there is none", async () => {
    const broken: Forwarder = { close() {}, resolve: () => Promise.reject(new Error("boom")) };
    expect(rcodeOf((await ask(handler({ forwarder: broken }), query("example.org", "A"))).raw)).toBe(
      RCODE.SERVFAIL,
    );
    const zone = new Zone(staticView({}), { zone: "cluster.local", ttl: 30, pods: "disabled" });
    expect(rcodeOf((await ask(new QueryHandler({ zone }), query("example.org", "A"))).raw)).toBe(
      RCODE.SERVFAIL,
    );
  });

  it("cuts a large forwarded answer to the client's size with TC", async () => {
    const h = handler();
    const { raw } = await ask(h, query("big.example", "TXT"));
    expect(raw.length).toBeLessThanOrEqual(512);
    expect(tc(raw)).toBe(true);
    const t = await ask(h, query("big.example", "TXT"), "tcp");
    expect(tc(t.raw)).toBe(false);
    expect(t.d.answers).toHaveLength(200);
  });

  it("appends the upstream answer for an ExternalName target", async () => {
    const { raw, d } = await ask(handler(), query("ext.default.svc.cluster.local", "A"));
    expect(aa(raw)).toBe(true);
    expect(d.answers.map((a: Decoded) => [a.type, a.data])).toEqual([
      ["CNAME", "example.org"],
      ["A", "93.184.216.34"],
    ]);
  });

  it("truncates a big headless answer over UDP (512 without EDNS, the EDNS size with it) and not over TCP", async () => {
    const h = handler();
    const plain = await ask(h, query("big.default.svc.cluster.local", "A"));
    expect(plain.raw.length).toBeLessThanOrEqual(512);
    expect(tc(plain.raw)).toBe(true);
    expect(plain.d.answers.length).toBeGreaterThan(20);
    const edns = await ask(h, query("big.default.svc.cluster.local", "A", { edns: 1232 }));
    expect(edns.raw.length).toBeLessThanOrEqual(1232);
    expect(tc(edns.raw)).toBe(true);
    const opt = edns.d.additionals.find((a: Decoded) => a.type === "OPT");
    expect(opt.udpPayloadSize).toBe(4096);
    const big = await ask(h, query("big.default.svc.cluster.local", "A", { edns: 4096 }));
    expect(tc(big.raw)).toBe(false);
    expect(big.d.answers).toHaveLength(100);
    const tcp = await ask(h, query("big.default.svc.cluster.local", "A"), "tcp");
    expect(tc(tcp.raw)).toBe(false);
    expect(tcp.d.answers).toHaveLength(100);
    const srv = await ask(h, query("_http._tcp.big.default.svc.cluster.local", "SRV"), "tcp");
    expect(srv.d.answers).toHaveLength(100);
    expect(srv.d.additionals).toHaveLength(100);
    // a client advertising less than 512 still gets 512
    const tiny = await ask(h, query("big.default.svc.cluster.local", "A", { edns: 100 }));
    expect(tiny.raw.length).toBeGreaterThan(400);
    expect(tiny.raw.length).toBeLessThanOrEqual(512);
  });

  it("includes an OPT only when the query had one, copying DO", async () => {
    const h = handler();
    const no = await ask(h, query("web.default.svc.cluster.local", "A"));
    expect(no.d.additionals).toEqual([]);
    const yes = await ask(h, query("web.default.svc.cluster.local", "A", { edns: 1232, do: true }));
    expect(yes.d.additionals[0]).toMatchObject({ type: "OPT", flag_do: true });
  });

  it("counts requests and responses under CoreDNS metric names", async () => {
    const registry = new Registry();
    const h = handler({ registry });
    await h.handle(query("web.default.svc.cluster.local", "A"), "udp");
    await h.handle(query("nope.default.svc.cluster.local", "AAAA"), "tcp");
    await h.handle(query("example.org", "A"), "udp");
    const text = await registry.metrics();
    expect(text).toContain(
      'coredns_dns_requests_total{server="dns://:53",zone=".",proto="udp",family="1",type="A"} 2',
    );
    expect(text).toContain(
      'coredns_dns_requests_total{server="dns://:53",zone=".",proto="tcp",family="1",type="AAAA"} 1',
    );
    expect(text).toContain(
      'coredns_dns_responses_total{server="dns://:53",zone=".",rcode="NXDOMAIN",plugin="kubernetes"} 1',
    );
    expect(text).toContain(
      'coredns_dns_responses_total{server="dns://:53",zone=".",rcode="NOERROR",plugin="forward"} 1',
    );
    expect(text).toContain("coredns_dns_request_duration_seconds_bucket");
    expect(text).toContain("coredns_dns_request_size_bytes_bucket");
    expect(text).toContain("coredns_dns_response_size_bytes_bucket");
    expect(text).toContain("coredns_panics_total 0");
  });

  it("never crashes and never answers more than the query allows (random and mutated input)", async () => {
    const h = handler();
    const seeds = [
      query("web.default.svc.cluster.local", "A"),
      query("big.default.svc.cluster.local", "A", { edns: 1232 }),
      query("_http._tcp.big.default.svc.cluster.local", "SRV"),
      query("ext.default.svc.cluster.local", "A"),
      query("example.org", "A"),
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ minLength: 0, maxLength: 600 }).map((a) => Buffer.from(a)),
          fc
            .tuple(
              fc.constantFrom(...seeds),
              fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
            )
            .map(([s, muts]) => {
              const b = Buffer.from(s);
              for (const [at, v] of muts) b[at % b.length] = v;
              return b;
            }),
        ),
        async (buf) => {
          const out = await h.handle(buf, "udp");
          if (out === undefined) return;
          const q = parseQuery(buf);
          const limit =
            q.kind === "query" && q.query.edns ? Math.max(512, Math.min(q.query.edns.udpSize, 4096)) : 512;
          expect(out.length).toBeLessThanOrEqual(limit);
          expect(out.readUInt16BE(0)).toBe(buf.readUInt16BE(0));
          expect(out[2]! & 0x80).toBe(0x80);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("helpers", () => {
  it("shuffles addresses but keeps CNAMEs first", () => {
    const rrs: RR[] = [
      { name: "a", type: "CNAME", ttl: 1, data: "b" },
      ...Array.from({ length: 5 }, (_, i) => ({ name: "b", type: "A", ttl: 1, data: `10.0.0.${i}` })),
    ];
    let seed = 1;
    const rnd = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const out = shuffleAddresses(rrs, rnd);
      expect(out[0]!.type).toBe("CNAME");
      expect(
        out
          .slice(1)
          .map((r) => r.data)
          .sort(),
      ).toEqual(rrs.slice(1).map((r) => r.data));
      seen.add(out.map((r) => r.data).join());
    }
    expect(seen.size).toBeGreaterThan(5);
  });

  it("rate-limits error logs and reports what it dropped", () => {
    const lines: Record<string, unknown>[] = [];
    let now = 0;
    const log = { error: (o: Record<string, unknown>) => lines.push(o) } as never;
    const r = new RateLimitedLog(log, 3, () => now);
    for (let i = 0; i < 10; i++) r.error({ i }, "x");
    expect(lines).toHaveLength(3);
    now = 1500;
    r.error({ i: 99 }, "x");
    expect(lines[3]).toEqual({ i: 99, suppressed: 7 });
  });
});
