import dgram from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import dnsPacket from "dns-packet";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../cli/logger.js";
import type { Forwarder } from "./handler.js";
import { staticView } from "./records.js";
import { type RunningDns, resolvConfNameservers, run } from "./server.js";

const view = staticView({
  services: [
    {
      metadata: { namespace: "default", name: "web" },
      spec: { clusterIP: "10.96.0.10", ports: [{ name: "http", port: 80 }] },
    },
  ],
});
const fwd: Forwarder = {
  close() {},
  async resolve(q) {
    const d = dnsPacket.decode(q);
    return dnsPacket.encode({
      id: d.id,
      type: "response",
      flags: 0x0180,
      questions: d.questions,
      answers: [{ name: d.questions![0]!.name, type: "A", ttl: 5, data: "192.0.2.1" }],
    });
  },
};

const q = (name: string, id = 1) =>
  dnsPacket.encode({
    id,
    type: "query",
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: "A", class: "IN" }],
  });

function udpAsk(port: number, msg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket("udp4");
    const t = setTimeout(() => {
      s.close();
      reject(new Error("udp timeout"));
    }, 2000);
    s.on("message", (m) => {
      clearTimeout(t);
      s.close();
      resolve(m);
    });
    s.send(msg, port, "127.0.0.1");
  });
}

function frame(b: Buffer): Buffer {
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
}

/** sends queries on one TCP connection (in one write, split awkwardly) and collects n responses */
function tcpAsk(port: number, msgs: Buffer[]): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, "127.0.0.1");
    const out: Buffer[] = [];
    let buf: Buffer = Buffer.alloc(0);
    c.on("error", reject);
    c.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        out.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (out.length === msgs.length) {
        c.end();
        resolve(out);
      }
    });
    const all = Buffer.concat(msgs.map(frame));
    // the first byte alone, then the rest: framing must not depend on packet boundaries
    c.write(all.subarray(0, 1));
    setTimeout(() => c.write(all.subarray(1)), 20);
  });
}

const servers: RunningDns[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

async function start(extra: Parameters<typeof run>[0] = {}): Promise<RunningDns> {
  const s = await run({
    view,
    forwarder: fwd,
    listen: "127.0.0.1:0",
    healthBindAddress: "127.0.0.1:0",
    readyBindAddress: "127.0.0.1:0",
    metricsBindAddress: "127.0.0.1:0",
    lameduckMs: 0,
    logger: silentLogger(),
    ...extra,
  });
  servers.push(s);
  return s;
}

describe("dns server sockets", () => {
  it("answers on UDP and TCP on the same port, several queries per TCP connection", async () => {
    const s = await start();
    expect(s.udpPort).toBe(s.tcpPort);
    const u = dnsPacket.decode(await udpAsk(s.udpPort, q("web.default.svc.cluster.local", 7)));
    expect(u.id).toBe(7);
    expect((u.answers![0] as { data: string }).data).toBe("10.96.0.10");
    const answers = await tcpAsk(s.tcpPort, [
      q("web.default.svc.cluster.local", 1),
      q("example.org", 2),
      q("nope.default.svc.cluster.local", 3),
    ]);
    const byId = new Map(answers.map((a) => [a.readUInt16BE(0), a]));
    expect(dnsPacket.decode(byId.get(1)!).answers).toHaveLength(1);
    expect((dnsPacket.decode(byId.get(2)!).answers![0] as { data: string }).data).toBe("192.0.2.1");
    expect(byId.get(3)![3]! & 0xf).toBe(3);
  });

  it("closes idle TCP connections", async () => {
    const s = await start({ tcpIdleTimeoutMs: 200 });
    const c = net.connect(s.tcpPort, "127.0.0.1");
    const closedAt = await new Promise<number>((resolve) => {
      const t0 = Date.now();
      c.on("close", () => resolve(Date.now() - t0));
      c.on("error", () => {});
    });
    expect(closedAt).toBeGreaterThanOrEqual(150);
    expect(closedAt).toBeLessThan(2000);
  });

  it("serves /health and /ready, and keeps answering in lame duck with /ready at 503", async () => {
    const s = await run({
      view,
      forwarder: fwd,
      listen: "127.0.0.1:0",
      healthBindAddress: "127.0.0.1:0",
      readyBindAddress: "127.0.0.1:0",
      metricsBindAddress: "",
      lameduckMs: 600,
      logger: silentLogger(),
    });
    expect((await fetch(`http://127.0.0.1:${s.healthPort}/health`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${s.readyPort}/ready`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${s.readyPort}/nope`)).status).toBe(404);
    const stopped = s.stop();
    await new Promise((r) => setTimeout(r, 100));
    expect((await fetch(`http://127.0.0.1:${s.readyPort}/ready`)).status).toBe(503);
    expect((await fetch(`http://127.0.0.1:${s.healthPort}/health`)).status).toBe(200);
    const u = dnsPacket.decode(await udpAsk(s.udpPort, q("web.default.svc.cluster.local", 9)));
    expect(u.answers).toHaveLength(1);
    await stopped;
    await expect(fetch(`http://127.0.0.1:${s.healthPort}/health`)).rejects.toThrow();
  });

  it("answers SERVFAIL for cluster names until the startup timeout when the apiserver is unreachable", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kubeplane-dns-kc-"));
    try {
      const kc = join(dir, "kubeconfig");
      writeFileSync(
        kc,
        [
          "apiVersion: v1",
          "kind: Config",
          "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]",
          "users: [{name: u, user: {token: t}}]",
          "contexts: [{name: x, context: {cluster: c, user: u}}]",
          "current-context: x",
        ].join("\n"),
      );
      const s = await start({ view: undefined, kubeconfig: kc, startupTimeoutMs: 400 });
      expect((await udpAsk(s.udpPort, q("web.default.svc.cluster.local")))[3]! & 0xf).toBe(2);
      expect((await fetch(`http://127.0.0.1:${s.readyPort}/ready`)).status).toBe(503);
      // other names are forwarded meanwhile
      expect((await udpAsk(s.udpPort, q("example.org")))[3]! & 0xf).toBe(0);
      await new Promise((r) => setTimeout(r, 500));
      // after the timeout: answered from what is known (nothing: NXDOMAIN), still not ready
      expect((await udpAsk(s.udpPort, q("web.default.svc.cluster.local")))[3]! & 0xf).toBe(3);
      expect((await fetch(`http://127.0.0.1:${s.readyPort}/ready`)).status).toBe(503);
      expect(s.synced()).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads upstreams from resolv.conf", () => {
    expect(
      resolvConfNameservers(
        "# x\nnameserver 10.0.0.1\nnameserver fe80::1%eth0\nsearch a b\nnameserver bogus\n",
      ),
    ).toEqual(["10.0.0.1:53", "[fe80::1]:53"]);
  });
});
