/**
 * Property tests for the query guard and the response fitter the DNS server relies on: whatever
 * bytes arrive, parseQuery answers (or drops) without throwing or looping, and fitResponse never
 * produces more bytes than the client allows.
 */
import * as dnsPacket from "dns-packet";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeLoose as decode } from "./forward-fake-upstream.js";
import { fitResponse, maxResponseSize, parseQuery, scanMessage } from "./packet-guard.js";

const label = fc.stringMatching(/^[a-zA-Z0-9-]{1,20}$/);
const domain = fc.array(label, { minLength: 1, maxLength: 5 }).map((l) => l.join("."));
const qtype = fc.constantFrom<dnsPacket.RecordType>(
  "A",
  "AAAA",
  "TXT",
  "SRV",
  "PTR",
  "MX",
  "NS",
  "SOA",
  "CAA",
);

const validQuery = fc
  .record({
    id: fc.integer({ min: 0, max: 65535 }),
    name: domain,
    type: qtype,
    edns: fc.option(fc.integer({ min: 0, max: 65535 })),
  })
  .map(({ id, name, type, edns }) =>
    dnsPacket.encode({
      id,
      type: "query",
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ name, type, class: "IN" }],
      additionals:
        edns === null ? [] : [{ type: "OPT", name: ".", udpPayloadSize: edns } as dnsPacket.Answer],
    }),
  );

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

const NUM_RUNS = 2000;

describe("parseQuery", () => {
  it("never throws on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (bytes) => {
        const r = parseQuery(Buffer.from(bytes));
        if (!r.ok && r.rcode !== null) expect(r.id).toBe(Buffer.from(bytes).readUInt16BE(0));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("accepts well-formed queries and returns the decoded packet", () => {
    fc.assert(
      fc.property(validQuery, (q) => {
        const r = parseQuery(q);
        expect(r.ok).toBe(true);
        if (r.ok) expect(r.packet.id).toBe(q.readUInt16BE(0));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("rejects truncated queries with FORMERR (or drops them when not even a header is left)", () => {
    fc.assert(
      fc.property(validQuery, fc.nat(), (q, n) => {
        const cut = q.subarray(0, n % q.length);
        const r = parseQuery(cut);
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.rcode).toBe(cut.length < 12 ? null : "FORMERR");
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("survives random mutations of valid queries", () => {
    fc.assert(
      fc.property(
        validQuery,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        (q, muts) => {
          const b = Buffer.from(q);
          for (const [i, v] of muts) b[i % b.length] = v;
          parseQuery(b);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it("rejects compression pointer loops without looping", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 40 }), (id, extra) => {
        // a question whose name is a label then a pointer back to itself
        const self = Buffer.concat([
          header(id, 0x0100, 1, 0, 0, 0),
          Buffer.from([1, 0x61, 0xc0, 12]),
          Buffer.alloc(4 + extra),
        ]);
        // two pointers pointing at each other
        const pair = Buffer.concat([
          header(id, 0x0100, 1, 0, 0, 0),
          Buffer.from([0xc0, 14, 0xc0, 12]),
          Buffer.alloc(4 + extra),
        ]);
        // a forward pointer
        const fwd = Buffer.concat([
          header(id, 0x0100, 1, 0, 0, 0),
          Buffer.from([0xc0, 40]),
          Buffer.alloc(60 + extra),
        ]);
        for (const b of [self, pair, fwd]) expect(parseQuery(b)).toEqual({ ok: false, rcode: "FORMERR", id });
      }),
      { numRuns: 200 },
    );
  });

  it("rejects huge counts quickly with FORMERR", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 65535 }),
        fc.integer({ min: 2, max: 65535 }),
        fc.integer({ min: 0, max: 65535 }),
        fc.uint8Array({ maxLength: 300 }),
        (id, qd, an, tail) => {
          const b = Buffer.concat([header(id, 0x0100, qd, an, 65535, 65535), Buffer.from(tail)]);
          expect(parseQuery(b)).toEqual({ ok: false, rcode: "FORMERR", id });
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it("answers NOTIMP for opcodes other than QUERY and drops responses", () => {
    fc.assert(
      fc.property(validQuery, fc.integer({ min: 1, max: 15 }), (q, opcode) => {
        const b = Buffer.from(q);
        b.writeUInt16BE((b.readUInt16BE(2) & ~0x7800) | (opcode << 11), 2);
        expect(parseQuery(b)).toEqual({ ok: false, rcode: "NOTIMP", id: b.readUInt16BE(0) });
        const resp = Buffer.from(q);
        resp.writeUInt16BE(resp.readUInt16BE(2) | 0x8000, 2);
        expect(parseQuery(resp)).toEqual({ ok: false, rcode: null });
      }),
      { numRuns: 500 },
    );
  });

  it("rejects queries with several questions or answer records", () => {
    const q = dnsPacket.encode({
      type: "query",
      id: 5,
      questions: [
        { name: "a.example", type: "A", class: "IN" },
        { name: "b.example", type: "A", class: "IN" },
      ],
    });
    expect(parseQuery(q)).toEqual({ ok: false, rcode: "FORMERR", id: 5 });
    const withAnswer = dnsPacket.encode({
      type: "query",
      id: 6,
      questions: [{ name: "a.example", type: "A", class: "IN" }],
      answers: [{ type: "A", name: "a.example", ttl: 1, class: "IN", data: "192.0.2.1" }],
    });
    expect(parseQuery(withAnswer)).toEqual({ ok: false, rcode: "FORMERR", id: 6 });
  });
});

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

  it("sizes UDP answers by the client's EDNS buffer (at least 512) and TCP answers at 64 KiB", () => {
    fc.assert(
      fc.property(validQuery, fc.integer({ min: 512, max: 65535 }), (q, cap) => {
        const size = maxResponseSize(q, "udp", cap);
        const opt = decode(q).additionals?.find((a) => a.type === "OPT") as dnsPacket.OptAnswer | undefined;
        expect(size).toBe(Math.min(opt ? Math.max(512, opt.udpPayloadSize) : 512, cap));
        expect(maxResponseSize(q, "tcp")).toBe(65535);
      }),
      { numRuns: 500 },
    );
  });
});
