import dgram from "node:dgram";
import * as dnsPacket from "dns-packet";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { DnsCache } from "./cache.js";
import { createForwarder, type Forwarder, isLoopProbe } from "./forward.js";
import {
  decodeLoose as decode,
  type FakeUpstream,
  reply,
  startFakeUpstream,
} from "./forward-fake-upstream.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function upstream(...args: Parameters<typeof startFakeUpstream>): Promise<FakeUpstream> {
  const u = await startFakeUpstream(...args);
  cleanups.push(() => u.close());
  return u;
}

function forwarder(opts: Parameters<typeof createForwarder>[0]): Forwarder {
  const f = createForwarder(opts);
  cleanups.push(() => f.close());
  return f;
}

function query(name: string, type: dnsPacket.RecordType = "A", id = 7): Buffer {
  return dnsPacket.encode({
    id,
    type: "query",
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type, class: "IN" }],
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const answerA = (q: dnsPacket.DecodedPacket, ip = "192.0.2.10") =>
  reply(q, { answers: [{ type: "A", name: q.questions![0]!.name, ttl: 60, class: "IN", data: ip }] });

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await sleep(20);
  }
}

describe("forwarder", () => {
  it("forwards over UDP and returns the answer with the client's id; counts CoreDNS metrics", async () => {
    const up = await upstream((q) => answerA(q));
    const reg = new Registry();
    const f = forwarder({ upstreams: [up.address], metrics: reg });
    const r = decode(await f.resolve(query("www.example.org", "A", 4321), "udp"));
    expect(r.id).toBe(4321);
    expect(r.rcode).toBe("NOERROR");
    expect(r.answers![0]!.data).toBe("192.0.2.10");
    expect(up.queries).toEqual({ udp: 1, tcp: 0 });
    const text = await reg.metrics();
    expect(text).toContain(`coredns_forward_requests_total{to="${up.address}"} 1`);
    expect(text).toContain(`coredns_forward_responses_total{to="${up.address}",rcode="NOERROR"} 1`);
    expect(text).toContain(
      `coredns_forward_request_duration_seconds_count{to="${up.address}",rcode="NOERROR"} 1`,
    );
  });

  it("retries over TCP when the UDP answer is truncated, and uses TCP for TCP queries", async () => {
    const txt = Array.from({ length: 30 }, (_, i) => `record-${i}-${"x".repeat(60)}`);
    const up = await upstream((q, proto) =>
      proto === "udp"
        ? reply(q, { tc: true })
        : reply(q, {
            answers: txt.map((t) => ({
              type: "TXT",
              name: q.questions![0]!.name,
              ttl: 60,
              class: "IN",
              data: t,
            })),
          }),
    );
    const f = forwarder({ upstreams: [up.address] });
    const r = decode(await f.resolve(query("big.example.org", "TXT"), "udp"));
    expect(r.flag_tc).toBe(false);
    expect(r.answers).toHaveLength(30);
    expect(up.queries).toEqual({ udp: 1, tcp: 1 });
    const t = decode(await f.resolve(query("big.example.org", "TXT", 9), "tcp"));
    expect(t.id).toBe(9);
    expect(t.answers).toHaveLength(30);
    expect(up.queries).toEqual({ udp: 1, tcp: 2 });
  });

  it("skips a dead upstream, marks it unhealthy, health-checks it and uses it again once it answers", async () => {
    // reserve a port, then free it: a dead upstream
    const dead = await startFakeUpstream(() => null);
    const deadPort = dead.port;
    await dead.close();
    const alive = await upstream((q) => answerA(q, "192.0.2.20"));
    const reg = new Registry();
    const f = forwarder({
      upstreams: [`127.0.0.1:${deadPort}`, alive.address],
      policy: "sequential",
      timeoutMs: 150,
      maxFails: 2,
      healthCheckIntervalMs: 50,
      metrics: reg,
    });
    for (let i = 0; i < 2; i++) {
      const r = decode(await f.resolve(query(`a${i}.example.org`), "udp"));
      expect(r.answers![0]!.data).toBe("192.0.2.20");
    }
    expect(f.upstreams()[0]).toMatchObject({ healthy: false, fails: 2 });
    // the unhealthy upstream is no longer tried
    const deadRequests = async () =>
      Number(
        new RegExp(`coredns_forward_requests_total\\{to="127.0.0.1:${deadPort}"\\} (\\d+)`).exec(
          await reg.metrics(),
        )?.[1],
      );
    expect(await deadRequests()).toBe(2);
    await f.resolve(query("fast.example.org"), "udp");
    expect(await deadRequests()).toBe(2);
    // probes every 50 ms keep failing while it is down
    await sleep(250);
    const hc = await reg.getSingleMetricAsString("coredns_forward_healthcheck_failures_total");
    expect(hc).toMatch(
      new RegExp(`coredns_forward_healthcheck_failures_total\\{to="127.0.0.1:${deadPort}"\\} [1-9]`),
    );
    // bring the dead upstream back on its port
    const revived = await upstream((q) => answerA(q, "192.0.2.30"), deadPort);
    await waitFor(() => f.upstreams()[0]!.healthy);
    expect(revived.names).toContain("."); // the ". NS" probe
    const r = decode(await f.resolve(query("back.example.org"), "udp"));
    expect(r.answers![0]!.data).toBe("192.0.2.30");
  });

  it("answers REFUSED above max_concurrent and counts the rejects", async () => {
    const up = await upstream(async (q) => {
      await sleep(400);
      return answerA(q);
    });
    const reg = new Registry();
    const f = forwarder({ upstreams: [up.address], maxConcurrent: 2, metrics: reg });
    const p1 = f.resolve(query("s1.example.org"), "udp");
    const p2 = f.resolve(query("s2.example.org"), "udp");
    const third = decode(await f.resolve(query("s3.example.org", "A", 33), "udp"));
    expect(third.rcode).toBe("REFUSED");
    expect(third.id).toBe(33);
    expect(third.questions![0]!.name).toBe("s3.example.org");
    expect(decode(await p1).rcode).toBe("NOERROR");
    expect(decode(await p2).rcode).toBe("NOERROR");
    expect(await reg.metrics()).toContain("coredns_forward_max_concurrent_rejects_total 1");
    // capacity is released afterwards
    expect(decode(await f.resolve(query("s4.example.org"), "udp")).rcode).toBe("NOERROR");
  });

  it("answers SERVFAIL when every upstream times out", async () => {
    const a = await upstream(() => null);
    const b = await upstream(() => null);
    const f = forwarder({ upstreams: [a.address, b.address], timeoutMs: 100 });
    const t0 = performance.now();
    const r = decode(await f.resolve(query("slow.example.org", "A", 77), "udp"));
    expect(r.rcode).toBe("SERVFAIL");
    expect(r.id).toBe(77);
    expect(a.queries.udp + b.queries.udp).toBe(2);
    expect(performance.now() - t0).toBeLessThan(1500);
  });

  it("ignores answers whose question does not match the query", async () => {
    const up = await upstream((q) => {
      const other = {
        ...q,
        questions: [{ name: "evil.example", type: "A", class: "IN" }],
      } as dnsPacket.DecodedPacket;
      return answerA(other);
    });
    const f = forwarder({ upstreams: [up.address], timeoutMs: 100 });
    expect(decode(await f.resolve(query("good.example.org"), "udp")).rcode).toBe("SERVFAIL");
  });

  it("answers from the cache without reaching the upstream, keeping the client's id and spelling", async () => {
    const up = await upstream((q) =>
      q.questions![0]!.name.toLowerCase().startsWith("nx")
        ? reply(q, {
            rcode: "NXDOMAIN",
            authorities: [
              {
                type: "SOA",
                name: "example.org",
                ttl: 300,
                class: "IN",
                data: {
                  mname: "ns.example.org",
                  rname: "h.example.org",
                  serial: 1,
                  refresh: 1,
                  retry: 1,
                  expire: 1,
                  minimum: 60,
                },
              },
            ],
          })
        : answerA(q),
    );
    const f = forwarder({ upstreams: [up.address], cache: new DnsCache({}) });
    await f.resolve(query("www.example.org"), "udp");
    const hit = decode(await f.resolve(query("WWW.Example.org", "A", 999), "udp"));
    expect(hit.id).toBe(999);
    expect(hit.questions![0]!.name).toBe("WWW.Example.org");
    expect(hit.answers![0]!.data).toBe("192.0.2.10");
    expect(decode(await f.resolve(query("nx.example.org"), "udp")).rcode).toBe("NXDOMAIN");
    expect(decode(await f.resolve(query("nx.example.org"), "udp")).rcode).toBe("NXDOMAIN");
    expect(up.queries.udp).toBe(2);
  });

  it("detects a forwarding loop (the probe comes back) and stops forwarding", async () => {
    // a "server" whose upstream is itself: every query it gets goes through the forwarder again
    const sock = dgram.createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
    cleanups.push(() => new Promise<void>((r) => sock.close(() => r())));
    const warnings: string[] = [];
    const logger = { info() {}, warn() {}, error: (_o: object, m: string) => warnings.push(m) };
    const f = forwarder({ upstreams: [`127.0.0.1:${sock.address().port}`], timeoutMs: 1000, logger });
    let probes = 0;
    sock.on("message", (msg, rinfo) => {
      const name = decode(msg).questions![0]!.name;
      if (isLoopProbe(name)) probes++;
      void f.resolve(msg, "udp").then((r) => sock.send(r, rinfo.port, rinfo.address));
    });
    expect(await f.startLoopDetection()).toBe("loop");
    expect(f.loopDetected).toBe(true);
    expect(probes).toBe(3);
    expect(warnings.join()).toMatch(/loop detected/);
    expect(decode(await f.resolve(query("x.example.org"), "udp")).rcode).toBe("SERVFAIL");
  });

  it("finds no loop when the probe is answered by a real upstream", async () => {
    const up = await upstream((q) => reply(q, { rcode: "NXDOMAIN" }));
    const f = forwarder({ upstreams: [up.address] });
    expect(await f.startLoopDetection()).toBe("ok");
    expect(f.loopDetected).toBe(false);
    expect(up.names[0]).toMatch(/^\d+\.\d+$/);
    expect(isLoopProbe(up.names[0]!)).toBe(false);
  });
});
