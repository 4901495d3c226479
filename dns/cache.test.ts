import * as dnsPacket from "dns-packet";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { cacheKey, DnsCache } from "./cache.js";
import { decodeLoose as decode } from "./forward-fake-upstream.js";

function query(
  name: string,
  type: dnsPacket.RecordType = "A",
  opts: { id?: number; dnssecOk?: boolean } = {},
) {
  return dnsPacket.encode({
    id: opts.id ?? 1,
    type: "query",
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type, class: "IN" }],
    additionals:
      opts.dnssecOk !== undefined
        ? [
            {
              type: "OPT",
              name: ".",
              udpPayloadSize: 1232,
              flags: opts.dnssecOk ? dnsPacket.DNSSEC_OK : 0,
            } as dnsPacket.Answer,
          ]
        : [],
  });
}

const soa = (ttl: number, minimum: number): dnsPacket.Answer => ({
  type: "SOA",
  name: "example.com",
  ttl,
  class: "IN",
  data: {
    mname: "ns.example.com",
    rname: "hostmaster.example.com",
    serial: 1,
    refresh: 7200,
    retry: 1800,
    expire: 86400,
    minimum,
  },
});

function response(
  name: string,
  parts: {
    answers?: dnsPacket.Answer[];
    authorities?: dnsPacket.Answer[];
    rcode?: string;
    tc?: boolean;
  } = {},
) {
  return dnsPacket.encode({
    id: 1,
    type: "response",
    flags:
      dnsPacket.RECURSION_DESIRED |
      dnsPacket.RECURSION_AVAILABLE |
      (parts.tc ? dnsPacket.TRUNCATED_RESPONSE : 0) |
      RCODES.indexOf(parts.rcode ?? "NOERROR"),
    questions: [{ name, type: "A", class: "IN" }],
    answers: parts.answers ?? [],
    authorities: parts.authorities ?? [],
  } as dnsPacket.Packet);
}

const RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

const a = (name: string, ttl: number, ip = "192.0.2.1"): dnsPacket.Answer => ({
  type: "A",
  name,
  ttl,
  class: "IN",
  data: ip,
});

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (s: number) => (t += s * 1000) };
}

describe("cacheKey", () => {
  it("is case-insensitive in the name and separates type, class and DO", () => {
    expect(cacheKey(query("WWW.Example.COM"))).toBe(cacheKey(query("www.example.com")));
    expect(cacheKey(query("www.example.com", "AAAA"))).not.toBe(cacheKey(query("www.example.com", "A")));
    expect(cacheKey(query("x.example", "A", { dnssecOk: true }))).not.toBe(
      cacheKey(query("x.example", "A", { dnssecOk: false })),
    );
    expect(cacheKey(query("x.example", "A", { dnssecOk: false }))).toBe(cacheKey(query("x.example", "A")));
    expect(cacheKey(Buffer.from([1, 2, 3]))).toBeUndefined();
  });
});

describe("DnsCache", () => {
  it("serves positive answers with TTLs decremented by age, the client's id and spelling", () => {
    const c = clock();
    const cache = new DnsCache({ now: c.now });
    const key = cacheKey(query("www.example.com"))!;
    expect(
      cache.set(
        key,
        response("www.example.com", {
          answers: [a("www.example.com", 300), a("www.example.com", 100, "192.0.2.2")],
        }),
      ),
    ).toBe(true);
    c.advance(30);
    const hit = cache.get(key, query("WWW.example.COM", "A", { id: 4242 }))!;
    const p = decode(hit);
    expect(p.id).toBe(4242);
    expect(p.questions![0]!.name).toBe("WWW.example.COM");
    // the entry lives min(300,100) = 100 s; every record's TTL is capped by that, minus the age
    expect(p.answers!.map((r) => r.ttl)).toEqual([70, 70]);
    c.advance(69);
    expect(decode(cache.get(key)!).answers![0]!.ttl).toBe(1);
    c.advance(1);
    expect(cache.get(key)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("caps positive TTLs at maxTtl and raises them to minTtl", () => {
    const c = clock();
    const cache = new DnsCache({ now: c.now, maxTtlSeconds: 60, minTtlSeconds: 5 });
    const k1 = cacheKey(query("long.example"))!;
    cache.set(k1, response("long.example", { answers: [a("long.example", 86400)] }));
    expect(decode(cache.get(k1)!).answers![0]!.ttl).toBe(60);
    c.advance(60);
    expect(cache.get(k1)).toBeUndefined();
    const k2 = cacheKey(query("zero.example"))!;
    expect(cache.set(k2, response("zero.example", { answers: [a("zero.example", 0)] }))).toBe(true);
    c.advance(4);
    expect(cache.get(k2)).toBeDefined();
    c.advance(1);
    expect(cache.get(k2)).toBeUndefined();
    // without a floor, TTL 0 is not cached
    const plain = new DnsCache({ now: c.now });
    expect(plain.set(k2, response("zero.example", { answers: [a("zero.example", 0)] }))).toBe(false);
  });

  it("caches NXDOMAIN and NODATA for min(SOA TTL, SOA minimum), capped by maxNegativeTtl (RFC 2308)", () => {
    const c = clock();
    const cache = new DnsCache({ now: c.now, maxNegativeTtlSeconds: 1800 });
    const nx = cacheKey(query("nope.example.com"))!;
    expect(
      cache.set(nx, response("nope.example.com", { rcode: "NXDOMAIN", authorities: [soa(3600, 120)] })),
    ).toBe(true);
    const nodata = cacheKey(query("www.example.com", "AAAA"))!;
    expect(cache.set(nodata, response("www.example.com", { authorities: [soa(50, 900)] }))).toBe(true);
    c.advance(49);
    const r = decode(cache.get(nodata)!);
    expect(r.rcode).toBe("NOERROR");
    expect(r.authorities![0]!.ttl).toBe(1);
    c.advance(1);
    expect(cache.get(nodata)).toBeUndefined();
    const nxr = decode(cache.get(nx)!);
    expect(nxr.rcode).toBe("NXDOMAIN");
    expect(nxr.authorities![0]!.ttl).toBe(70);
    c.advance(70);
    expect(cache.get(nx)).toBeUndefined();

    const capped = new DnsCache({ now: c.now, maxNegativeTtlSeconds: 10 });
    capped.set(nx, response("nope.example.com", { rcode: "NXDOMAIN", authorities: [soa(3600, 3600)] }));
    expect(decode(capped.get(nx)!).authorities![0]!.ttl).toBe(10);
    // a denial without an SOA is not cached
    expect(capped.set(nx, response("nope.example.com", { rcode: "NXDOMAIN" }))).toBe(false);
  });

  it("never caches SERVFAIL, REFUSED, FORMERR or truncated answers", () => {
    const cache = new DnsCache({});
    const k = cacheKey(query("x.example"))!;
    expect(cache.set(k, response("x.example", { rcode: "SERVFAIL", authorities: [soa(60, 60)] }))).toBe(
      false,
    );
    expect(cache.set(k, response("x.example", { rcode: "REFUSED" }))).toBe(false);
    expect(cache.set(k, response("x.example", { rcode: "FORMERR" }))).toBe(false);
    expect(cache.set(k, response("x.example", { tc: true, answers: [a("x.example", 60)] }))).toBe(false);
    expect(cache.set(k, Buffer.from("garbage"))).toBe(false);
    expect(cache.size).toBe(0);
  });

  it("evicts the least recently used entry at capacity", () => {
    const cache = new DnsCache({ capacity: 3 });
    const keys = ["a", "b", "c", "d"].map((n) => {
      const k = cacheKey(query(`${n}.example`))!;
      return { k, r: response(`${n}.example`, { answers: [a(`${n}.example`, 60)] }) };
    });
    for (const { k, r } of keys.slice(0, 3)) cache.set(k, r);
    expect(cache.get(keys[0]!.k)).toBeDefined(); // a is now the most recent
    cache.set(keys[3]!.k, keys[3]!.r);
    expect(cache.size).toBe(3);
    expect(cache.get(keys[1]!.k)).toBeUndefined(); // b was the least recently used
    expect(cache.get(keys[0]!.k)).toBeDefined();
    expect(cache.get(keys[2]!.k)).toBeDefined();
    expect(cache.get(keys[3]!.k)).toBeDefined();
  });

  it("keeps the OPT record untouched and exports CoreDNS metrics", async () => {
    const reg = new Registry();
    const cache = new DnsCache({ metrics: reg });
    const k = cacheKey(query("o.example"))!;
    const resp = dnsPacket.encode({
      id: 1,
      type: "response",
      flags: dnsPacket.RECURSION_AVAILABLE,
      questions: [{ name: "o.example", type: "A", class: "IN" }],
      answers: [a("o.example", 60)],
      additionals: [
        { type: "OPT", name: ".", udpPayloadSize: 1232, flags: dnsPacket.DNSSEC_OK } as dnsPacket.Answer,
      ],
    });
    cache.set(k, resp);
    const nx = cacheKey(query("n.example"))!;
    cache.set(nx, response("n.example", { rcode: "NXDOMAIN", authorities: [soa(60, 60)] }));
    const hit = decode(cache.get(k)!);
    const opt = hit.additionals[0]!;
    expect(opt.type).toBe("OPT");
    expect((opt.flags ?? 0) & dnsPacket.DNSSEC_OK).toBe(dnsPacket.DNSSEC_OK);
    cache.get(nx);
    cache.get(cacheKey(query("miss.example"))!);
    const text = await reg.metrics();
    expect(text).toContain('coredns_cache_entries{type="success"} 1');
    expect(text).toContain('coredns_cache_entries{type="denial"} 1');
    expect(text).toContain('coredns_cache_hits_total{type="success"} 1');
    expect(text).toContain('coredns_cache_hits_total{type="denial"} 1');
    expect(text).toContain("coredns_cache_misses_total 1");
  });
});
