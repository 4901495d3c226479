/**
 * The forwarder against a real upstream: Debian's unbound on 127.0.0.1:<free port> serving
 * example.test. from local-data. Checks answers (A, AAAA, TXT), NXDOMAIN/NODATA with the SOA,
 * negative caching (the second query never reaches unbound: unbound-control's query counter),
 * and the TCP retry of a TXT set too large for 512 bytes of UDP.
 */
import * as dnsPacket from "dns-packet";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DnsCache } from "../dns/cache.js";
import { createForwarder, type Forwarder } from "../dns/forward.js";
import { decodeLoose as decode } from "../dns/forward-fake-upstream.js";
import { startUnbound, type Unbound, unboundMissing } from "../dns/forward-unbound.js";
import { fitResponse, parseQuery, responseLimit } from "../dns/wire.js";
import { freePort } from "./helpers/net.js";

const skip = unboundMissing();

const BIG_TXT = Array.from(
  { length: 40 },
  (_, i) => `big.example.test. 300 IN TXT "chunk-${i}-${"y".repeat(90)}"`,
);

function query(name: string, type: dnsPacket.RecordType, id = 1, edns?: number): Buffer {
  return dnsPacket.encode({
    id,
    type: "query",
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type, class: "IN" }],
    additionals: edns ? [{ type: "OPT", name: ".", udpPayloadSize: edns } as dnsPacket.Answer] : [],
  });
}

describe.skipIf(!!skip)(`forwarder -> unbound${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let unbound: Unbound;
  let fwd: Forwarder;
  const reg = new Registry();

  beforeAll(async () => {
    unbound = await startUnbound({
      port: await freePort(),
      zones: ["example.test."],
      localData: [
        "example.test. 3600 IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60",
        "example.test. 3600 IN NS ns.example.test.",
        "ns.example.test. 3600 IN A 192.0.2.53",
        "www.example.test. 300 IN A 192.0.2.1",
        "www.example.test. 300 IN AAAA 2001:db8::1",
        'www.example.test. 300 IN TXT "hello from unbound"',
        ...BIG_TXT,
      ],
    });
    fwd = createForwarder({
      upstreams: [unbound.address],
      metrics: reg,
      cache: new DnsCache({ metrics: reg }),
    });
  });

  afterAll(async () => {
    fwd?.close();
    await unbound?.stop();
  });

  const queries = async () => (await unbound.stats())["total.num.queries"] ?? Number.NaN;

  it("forwards A, AAAA and TXT queries and returns unbound's answers", async () => {
    const a = decode(await fwd.resolve(query("www.example.test", "A", 11), "udp"));
    expect(a.id).toBe(11);
    expect(a.rcode).toBe("NOERROR");
    expect(a.answers!.map((r) => r.data)).toEqual(["192.0.2.1"]);
    const aaaa = decode(await fwd.resolve(query("www.example.test", "AAAA"), "udp"));
    expect(aaaa.answers!.map((r) => r.data)).toEqual(["2001:db8::1"]);
    const txt = decode(await fwd.resolve(query("www.example.test", "TXT"), "tcp"));
    expect((txt.answers![0]!.data as Buffer[]).map(String)).toEqual(["hello from unbound"]);
  });

  it("caches NXDOMAIN from the SOA: the second query does not reach unbound", async () => {
    const before = await queries();
    const first = decode(await fwd.resolve(query("missing.example.test", "A", 21), "udp"));
    expect(first.rcode).toBe("NXDOMAIN");
    expect(first.authorities!.find((r) => r.type === "SOA")).toBeDefined();
    expect(await queries()).toBe(before + 1);
    const second = decode(await fwd.resolve(query("MISSING.example.test", "A", 22), "udp"));
    expect(second.rcode).toBe("NXDOMAIN");
    expect(second.id).toBe(22);
    const soa = second.authorities!.find((r) => r.type === "SOA")!;
    expect(soa.ttl).toBeLessThanOrEqual(60); // min(SOA TTL 3600, minimum 60)
    expect(await queries()).toBe(before + 1);
    expect(await reg.metrics()).toMatch(/coredns_cache_hits_total\{type="denial"\} [1-9]/);
  });

  it("caches NODATA too", async () => {
    const before = await queries();
    for (let i = 0; i < 3; i++) {
      const r = decode(await fwd.resolve(query("www.example.test", "MX"), "udp"));
      expect(r.rcode).toBe("NOERROR");
      expect(r.answers).toHaveLength(0);
    }
    expect(await queries()).toBe(before + 1);
  });

  it("retries over TCP when unbound truncates the UDP answer; the server then fits it to the client", async () => {
    const before = await unbound.stats();
    const q = query("big.example.test", "TXT", 31);
    const full = await fwd.resolve(q, "udp");
    const r = decode(full);
    expect(r.flag_tc).toBe(false);
    expect(r.answers).toHaveLength(40);
    const after = await unbound.stats();
    expect(after["num.query.tcp"]! - (before["num.query.tcp"] ?? 0)).toBe(1);
    // what the DNS server sends back to a plain UDP client: at most 512 bytes, TC set
    const parsed = parseQuery(q);
    if (parsed.kind !== "query") throw new Error("the test query does not parse");
    const fitted = fitResponse(full, responseLimit("udp", parsed.query.edns, 4096));
    expect(fitted.length).toBeLessThanOrEqual(512);
    expect(decode(fitted).flag_tc).toBe(true);
  });

  it("counts forwarded requests per upstream with CoreDNS metric names", async () => {
    const text = await reg.metrics();
    expect(text).toContain(`coredns_forward_requests_total{to="${unbound.address}"}`);
    expect(text).toContain(`coredns_forward_responses_total{to="${unbound.address}",rcode="NXDOMAIN"} 1`);
  });
});
