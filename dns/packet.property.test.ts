/**
 * Property tests (fast-check) for what the DNS server really runs on every packet: parseQuery
 * (dns/wire.ts) and QueryHandler.handle (dns/handler.ts) end to end over a static cluster zone and
 * a fake upstream, plus fitResponse, which cuts forwarded answers.
 *
 * Whatever bytes arrive: no throw, no hang, no response larger than the query allows (512 bytes
 * over UDP without EDNS, the advertised EDNS size otherwise, 65535 over TCP: no amplification),
 * and a response always carries the query's id.
 */
import * as dnsPacket from "dns-packet";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeLoose as decode } from "./forward-fake-upstream.js";
import { type Forwarder, type Proto, QueryHandler } from "./handler.js";
import { type EndpointSlice, type Pod, type PodsMode, type Service, staticView, Zone } from "./records.js";
import {
  fitResponse,
  MAX_TCP_SIZE,
  MIN_UDP_SIZE,
  type ParseResult,
  parseQuery,
  QTYPE,
  RCODE,
  responseLimit,
  scanMessage,
} from "./wire.js";

const NUM_RUNS = 2000;

// ------------------------------------------------------------------ raw queries

function header(id: number, flags: number, qd: number, an: number, ns: number, ar: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(an, 6);
  h.writeUInt16BE(ns, 8);
  h.writeUInt16BE(ar, 10);
  return h;
}

interface RawQuery {
  id: number;
  /** RD, CD, AD bits (QR and opcode stay 0) */
  flags: number;
  /** raw label bytes (1..63 each, at most 255 octets in all) */
  labels: Uint8Array[];
  qtype: number;
  qclass: number;
  /** EDNS: the advertised UDP payload size and the DO bit */
  edns: { size: number; dnssecOk: boolean } | null;
}

/** the wire bytes of a query, written here (not with the server's encoder) */
function encodeRaw(q: RawQuery): Buffer {
  const parts = [header(q.id, q.flags, 1, 0, 0, q.edns ? 1 : 0)];
  for (const l of q.labels) parts.push(Buffer.from([l.length]), Buffer.from(l));
  const tail = Buffer.alloc(5);
  tail.writeUInt16BE(q.qtype, 1);
  tail.writeUInt16BE(q.qclass, 3);
  parts.push(tail);
  if (q.edns) {
    const opt = Buffer.alloc(11);
    opt.writeUInt16BE(QTYPE.OPT, 1);
    opt.writeUInt16BE(q.edns.size, 3);
    opt.writeUInt16BE(q.edns.dnssecOk ? 0x8000 : 0, 7);
    parts.push(opt);
  }
  return Buffer.concat(parts);
}

/** the most a client that sent `q` accepts: what it advertised, not what the server parsed */
function allowedFor(q: RawQuery, proto: Proto): number {
  if (proto === "tcp") return MAX_TCP_SIZE;
  return q.edns ? Math.max(MIN_UDP_SIZE, q.edns.size) : MIN_UDP_SIZE;
}

const ZONE = "cluster.local";
const interestingNames = [
  "web.default.svc.cluster.local",
  "WEB.Default.SVC.cluster.LOCAL",
  "dual.default.svc.cluster.local",
  "big.default.svc.cluster.local",
  "big-7.big.default.svc.cluster.local",
  "_http._tcp.web.default.svc.cluster.local",
  "_http._tcp.big.default.svc.cluster.local",
  "_dns._udp.big.default.svc.cluster.local",
  "ext.default.svc.cluster.local",
  "extbig.default.svc.cluster.local",
  "extjunk.default.svc.cluster.local",
  "extin.default.svc.cluster.local",
  "nope.default.svc.cluster.local",
  "default.svc.cluster.local",
  "svc.cluster.local",
  "cluster.local",
  "dns-version.cluster.local",
  "10-1-0-5.default.pod.cluster.local",
  "10-64-0-1.default.pod.cluster.local",
  "1-2-3.default.pod.cluster.local",
  "10.0.96.10.in-addr.arpa",
  "5.0.1.10.in-addr.arpa",
  "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa",
  "big.example",
  "junk.example",
  "fail.example",
  "short.example",
  "www.example.org",
];
const textLabels = (name: string) => name.split(".").map((l) => new TextEncoder().encode(l));

const anyLabel = fc.oneof(
  fc.stringMatching(/^[a-z0-9-]{1,20}$/).map((s) => new TextEncoder().encode(s)),
  fc.uint8Array({ minLength: 1, maxLength: 63 }),
);
const labelsArb: fc.Arbitrary<Uint8Array[]> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...interestingNames).map(textLabels) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.array(anyLabel, { maxLength: 4 }),
        fc.constantFrom("svc.cluster.local", "pod.cluster.local", ZONE, ""),
      )
      .map(([ls, suffix]) => [...ls, ...(suffix ? textLabels(suffix) : [])]),
  },
  { weight: 1, arbitrary: fc.array(anyLabel, { maxLength: 8 }) },
);

const queryArb: fc.Arbitrary<RawQuery> = fc
  .record({
    id: fc.integer({ min: 0, max: 65535 }),
    flags: fc.constantFrom(0, 0x0100, 0x0110, 0x0120, 0x0130),
    labels: labelsArb,
    qtype: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...Object.values(QTYPE).filter((t) => t !== QTYPE.OPT)) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 65535 }) },
    ),
    qclass: fc.oneof(
      { weight: 8, arbitrary: fc.constant(1) },
      { weight: 1, arbitrary: fc.constantFrom(3, 255, 254) },
    ),
    edns: fc.option(
      fc.record({
        size: fc.oneof(
          fc.constantFrom(0, 511, 512, 513, 1232, 4096, 65535),
          fc.integer({ min: 0, max: 65535 }),
        ),
        dnssecOk: fc.boolean(),
      }),
    ),
  })
  .filter((q) => q.labels.reduce((n, l) => n + 1 + l.length, 1) <= 255);

// ------------------------------------------------------------------ the server under test

const services: Service[] = [
  {
    metadata: { namespace: "default", name: "web" },
    spec: { clusterIP: "10.96.0.10", ports: [{ name: "http", port: 80, protocol: "TCP" }] },
  },
  {
    metadata: { namespace: "default", name: "dual" },
    spec: { clusterIP: "10.96.0.11", clusterIPs: ["10.96.0.11", "fd00::11"], ports: [{ port: 53 }] },
  },
  {
    metadata: { namespace: "default", name: "big" },
    spec: {
      clusterIP: "None",
      ports: [
        { name: "http", port: 80 },
        { name: "dns", port: 53, protocol: "UDP" },
      ],
    },
  },
  {
    metadata: { namespace: "default", name: "ext" },
    spec: { type: "ExternalName", externalName: "www.example.org" },
  },
  {
    metadata: { namespace: "default", name: "extbig" },
    spec: { type: "ExternalName", externalName: "big.example" },
  },
  {
    metadata: { namespace: "default", name: "extjunk" },
    spec: { type: "ExternalName", externalName: "junk.example" },
  },
  {
    metadata: { namespace: "default", name: "extin" },
    spec: { type: "ExternalName", externalName: "web.default.svc.cluster.local" },
  },
];
const slices: EndpointSlice[] = [
  {
    metadata: { namespace: "default", name: "big-1", labels: { "kubernetes.io/service-name": "big" } },
    addressType: "IPv4",
    ports: [
      { name: "http", port: 8080, protocol: "TCP" },
      { name: "dns", port: 5353, protocol: "UDP" },
    ],
    endpoints: Array.from({ length: 120 }, (_, i) => ({
      addresses: [`10.1.${i >> 8}.${i & 255}`],
      hostname: i % 2 ? `big-${i}` : undefined,
      conditions: { ready: i % 10 !== 3 },
    })),
  },
  {
    metadata: { namespace: "default", name: "big-2", labels: { "kubernetes.io/service-name": "big" } },
    addressType: "IPv6",
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    endpoints: Array.from({ length: 40 }, (_, i) => ({ addresses: [`fd00::1:${i.toString(16)}`] })),
  },
];
const pods: Pod[] = [
  {
    metadata: { namespace: "default", name: "p1" },
    status: { podIP: "10.64.0.1", podIPs: [{ ip: "10.64.0.1" }] },
  },
];

/** a fake upstream with big, junk, failing and short answers */
const upstream: Forwarder = {
  close() {},
  async resolve(query) {
    const d = dnsPacket.decode(query);
    const q = d.questions![0]!;
    const name = q.name.toLowerCase();
    if (name === "fail.example") throw new Error("upstream down");
    if (name === "short.example") return Buffer.from([1, 2, 3, 4, 5]);
    if (name === "junk.example") {
      // 3000 bytes that look like a response header followed by garbage
      const junk = Buffer.alloc(3000);
      for (let i = 0; i < junk.length; i++) junk[i] = (i * 131 + query.length) & 0xff;
      junk.writeUInt16BE(d.id ?? 0, 0);
      junk.writeUInt16BE(0x8180, 2);
      return junk;
    }
    const answers: dnsPacket.Answer[] =
      name === "big.example"
        ? Array.from({ length: 200 }, (_, i) => ({
            name: q.name,
            type: "TXT" as const,
            ttl: 60,
            data: `record ${i}`,
          }))
        : name === "www.example.org"
          ? [{ name: q.name, type: "A", ttl: 60, data: "192.0.2.1" }]
          : [];
    return dnsPacket.encode({
      id: d.id,
      type: "response",
      flags: dnsPacket.RECURSION_AVAILABLE | (answers.length || name === "www.example.org" ? 0 : 3),
      questions: d.questions,
      answers,
    });
  },
};

function makeHandler(pods_: PodsMode, serving: boolean, maxUdpSize: number): QueryHandler {
  const zone = new Zone(staticView({ services, slices, pods }), {
    zone: ZONE,
    ttl: 30,
    pods: pods_,
    serial: 1,
  });
  return new QueryHandler({ zone, forwarder: upstream, serving: () => serving, maxUdpSize });
}

const handlers = new Map<string, QueryHandler>();
const handlerArb = fc
  .record({
    pods: fc.constantFrom<PodsMode>("insecure", "verified", "disabled"),
    serving: fc.oneof(
      { weight: 5, arbitrary: fc.constant(true) },
      { weight: 1, arbitrary: fc.constant(false) },
    ),
    maxUdpSize: fc.constantFrom(512, 1232, 4096, 65535),
  })
  .map(({ pods: p, serving, maxUdpSize }) => {
    const key = `${p}/${serving}/${maxUdpSize}`;
    let h = handlers.get(key);
    if (!h) {
      h = makeHandler(p, serving, maxUdpSize);
      handlers.set(key, h);
    }
    return h;
  });
const protoArb = fc.constantFrom<Proto>("udp", "tcp");

/** handle() or a rejection after `ms`: a hang fails the property instead of the whole run */
async function handleWithin(
  h: QueryHandler,
  raw: Buffer,
  proto: Proto,
  ms = 2000,
): Promise<Buffer | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`handle() did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([h.handle(Buffer.from(raw), proto), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** the size limit the parser found in the query (used for inputs with no generator-side truth) */
function parsedLimit(parsed: ParseResult, proto: Proto): number {
  const edns =
    parsed.kind === "query" ? parsed.query.edns : parsed.kind === "error" ? parsed.edns : undefined;
  return responseLimit(proto, edns, MAX_TCP_SIZE);
}

/** the invariants of every answer to any bytes */
function checkAnswer(raw: Buffer, resp: Buffer | undefined, limit: number) {
  if (raw.length < 12 || raw[2]! & 0x80) {
    expect(resp).toBeUndefined();
    return;
  }
  if (!resp) return;
  expect(resp.length).toBeGreaterThanOrEqual(12);
  expect(resp.length).toBeLessThanOrEqual(limit);
  expect(resp.readUInt16BE(0)).toBe(raw.readUInt16BE(0));
}

// ------------------------------------------------------------------ parseQuery

describe("parseQuery", () => {
  it("never throws on random bytes; drops only short packets and responses; errors carry the id", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (bytes) => {
        const b = Buffer.from(bytes);
        const r = parseQuery(b);
        if (r.kind === "drop") expect(b.length < 12 || (b[2]! & 0x80) !== 0).toBe(true);
        else if (r.kind === "error") expect(r.id).toBe(b.readUInt16BE(0));
        else expect(r.query.id).toBe(b.readUInt16BE(0));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("accepts well-formed queries: id, labels, type, class and EDNS as sent", () => {
    fc.assert(
      fc.property(queryArb, (q) => {
        const r = parseQuery(encodeRaw(q));
        expect(r.kind).toBe("query");
        if (r.kind !== "query") return;
        expect(r.query.id).toBe(q.id);
        expect(r.query.rd).toBe((q.flags & 0x0100) !== 0);
        expect(r.query.cd).toBe((q.flags & 0x0010) !== 0);
        expect(r.query.labels).toEqual(q.labels.map((l) => Buffer.from(l).toString("latin1")));
        expect(r.query.qtype).toBe(q.qtype);
        expect(r.query.qclass).toBe(q.qclass);
        expect(r.query.edns).toEqual(
          q.edns ? { udpSize: q.edns.size, version: 0, dnssecOk: q.edns.dnssecOk } : undefined,
        );
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("rejects truncated queries with FORMERR (or drops them when not even a header is left)", () => {
    fc.assert(
      fc.property(queryArb, fc.nat(), (q, n) => {
        const full = encodeRaw(q);
        const cut = full.subarray(0, n % full.length);
        const r = parseQuery(cut);
        if (cut.length < 12) expect(r.kind).toBe("drop");
        else expect(r).toMatchObject({ kind: "error", rcode: RCODE.FORMERR, id: q.id });
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("rejects compression pointers in the question (loops, forward pointers) with FORMERR", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 40 }), (id, extra) => {
        const q = (name: number[], pad: number) =>
          Buffer.concat([header(id, 0x0100, 1, 0, 0, 0), Buffer.from(name), Buffer.alloc(pad + extra)]);
        const self = q([1, 0x61, 0xc0, 12], 4); // a label, then a pointer back to it
        const pair = q([0xc0, 14, 0xc0, 12], 4); // two pointers pointing at each other
        const fwd = q([0xc0, 40], 60); // a forward pointer
        for (const b of [self, pair, fwd])
          expect(parseQuery(b)).toMatchObject({ kind: "error", rcode: RCODE.FORMERR, id });
      }),
      { numRuns: 200 },
    );
  });

  it("rejects a pointer loop in an additional record's owner name with FORMERR", () => {
    fc.assert(
      fc.property(queryArb, (q) => {
        const b = encodeRaw({ ...q, edns: null });
        const loopAt = b.length;
        // owner: a pointer to itself; then type A, class IN, TTL, rdlength 0
        const rr = Buffer.from([0xc0 | (loopAt >> 8), loopAt & 0xff, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
        const withRR = Buffer.concat([b, rr]);
        withRR.writeUInt16BE(1, 10);
        expect(parseQuery(withRR)).toMatchObject({ kind: "error", rcode: RCODE.FORMERR, id: q.id });
      }),
      { numRuns: 500 },
    );
  });

  it("rejects many questions or records quickly with FORMERR (CoreDNS's accept rules)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 65535 }),
        fc
          .tuple(
            fc.integer({ min: 0, max: 65535 }),
            fc.integer({ min: 0, max: 65535 }),
            fc.integer({ min: 0, max: 65535 }),
            fc.integer({ min: 0, max: 65535 }),
          )
          .filter(([qd, an, ns, ar]) => qd !== 1 || an > 1 || ns > 1 || ar > 2),
        fc.uint8Array({ maxLength: 300 }),
        (id, [qd, an, ns, ar], tail) => {
          const b = Buffer.concat([header(id, 0x0100, qd, an, ns, ar), Buffer.from(tail)]);
          expect(parseQuery(b)).toMatchObject({ kind: "error", rcode: RCODE.FORMERR, id });
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it("answers NOTIMP for opcodes other than QUERY and drops responses", () => {
    fc.assert(
      fc.property(queryArb, fc.integer({ min: 1, max: 15 }), (q, opcode) => {
        const b = encodeRaw(q);
        b.writeUInt16BE((b.readUInt16BE(2) & ~0x7800) | (opcode << 11), 2);
        expect(parseQuery(b)).toMatchObject({ kind: "error", rcode: RCODE.NOTIMP, id: q.id });
        const resp = encodeRaw(q);
        resp.writeUInt16BE(resp.readUInt16BE(2) | 0x8000, 2);
        expect(parseQuery(resp).kind).toBe("drop");
      }),
      { numRuns: 500 },
    );
  });
});

// ------------------------------------------------------------------ the handler, end to end

describe("QueryHandler.handle (parse, zone or forward, encode, fit)", () => {
  it("answers every well-formed query with its id, within what the client advertised", async () => {
    await fc.assert(
      fc.asyncProperty(queryArb, handlerArb, protoArb, async (q, h, proto) => {
        const raw = encodeRaw(q);
        const resp = await handleWithin(h, raw, proto);
        expect(resp).toBeDefined();
        checkAnswer(raw, resp, allowedFor(q, proto));
        expect(resp![2]! & 0x80).toBe(0x80); // QR
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("never throws or hangs on random bytes, and never answers more than the query allows", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 700 }), handlerArb, protoArb, async (bytes, h, proto) => {
        const raw = Buffer.from(bytes);
        const resp = await handleWithin(h, raw, proto);
        checkAnswer(raw, resp, parsedLimit(parseQuery(raw), proto));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("survives random mutations of well-formed queries (never above 512 bytes over UDP without EDNS)", async () => {
    await fc.assert(
      fc.asyncProperty(
        queryArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.nat(),
        handlerArb,
        protoArb,
        async (q, muts, cut, h, proto) => {
          const b = encodeRaw(q);
          for (const [i, v] of muts) b[i % b.length] = v;
          const raw = cut % 4 === 0 ? b.subarray(0, cut % (b.length + 1)) : b;
          const resp = await handleWithin(h, raw, proto);
          const parsed = parseQuery(raw);
          checkAnswer(raw, resp, parsedLimit(parsed, proto));
          if (proto === "udp" && resp && !(parsed.kind === "query" && parsed.query.edns))
            expect(resp.length).toBeLessThanOrEqual(MIN_UDP_SIZE);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it("truncates with TC over UDP and answers in full over TCP", async () => {
    const h = makeHandler("insecure", true, 4096);
    for (const name of ["big.default.svc.cluster.local", "big.example"]) {
      const q: RawQuery = {
        id: 7,
        flags: 0x0100,
        labels: textLabels(name),
        qtype: QTYPE.ANY,
        qclass: 1,
        edns: null,
      };
      const udp = (await h.handle(encodeRaw(q), "udp"))!;
      expect(udp.length).toBeLessThanOrEqual(512);
      expect(udp[2]! & 0x02).toBe(0x02);
      const tcp = (await h.handle(encodeRaw(q), "tcp"))!;
      expect(tcp.length).toBeGreaterThan(512);
      expect(tcp[2]! & 0x02).toBe(0);
    }
  });
});

// ------------------------------------------------------------------ fitResponse (forwarded answers)

const domain = fc
  .array(fc.stringMatching(/^[a-zA-Z0-9-]{1,20}$/), { minLength: 1, maxLength: 5 })
  .map((l) => l.join("."));
const validResponse = fc
  .record({
    name: domain,
    answers: fc.array(fc.record({ ip: fc.ipV4(), ttl: fc.nat(86400) }), { maxLength: 80 }),
    txt: fc.array(fc.string({ maxLength: 200 }), { maxLength: 20 }),
    authority: fc.boolean(),
    edns: fc.boolean(),
  })
  .map(({ name, answers, txt, authority, edns }) =>
    dnsPacket.encode({
      id: 1,
      type: "response",
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
      questions: [{ name, type: "A", class: "IN" }],
      answers: [
        ...answers.map((a) => ({ type: "A" as const, name, ttl: a.ttl, class: "IN" as const, data: a.ip })),
        ...txt.map((t) => ({ type: "TXT" as const, name, ttl: 60, class: "IN" as const, data: t })),
      ],
      authorities: authority ? [{ type: "NS", name, ttl: 60, class: "IN", data: `ns1.${name}` }] : [],
      additionals: edns ? [{ type: "OPT", name: ".", udpPayloadSize: 1232 } as dnsPacket.Answer] : [],
    }),
  );

describe("fitResponse", () => {
  it("never returns more than maxSize bytes for random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.integer({ min: 12, max: 4096 }), (bytes, n) => {
        expect(fitResponse(Buffer.from(bytes), n).length).toBeLessThanOrEqual(n);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("cuts valid responses at record boundaries, keeps them decodable and sets TC when answers were dropped", () => {
    fc.assert(
      fc.property(validResponse, fc.integer({ min: 12, max: 4096 }), (resp, n) => {
        const out = fitResponse(resp, n);
        expect(out.length).toBeLessThanOrEqual(n);
        if (resp.length <= n) {
          expect(out).toBe(resp);
          return;
        }
        const full = scanMessage(resp)!;
        const cut = scanMessage(out);
        expect(cut).toBeDefined();
        expect(out.readUInt16BE(0)).toBe(resp.readUInt16BE(0));
        const decoded = decode(out);
        if (cut!.ancount < full.ancount) expect(decoded.flag_tc).toBe(true);
        // the kept answers are the first ones of the original
        const orig = decode(resp);
        expect(decoded.answers).toEqual(orig.answers!.slice(0, decoded.answers!.length));
      }),
      { numRuns: 1000 },
    );
  });
});
