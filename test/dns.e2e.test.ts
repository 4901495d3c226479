/**
 * Cluster DNS end to end: a real apiserver child holding Services, EndpointSlices and Pods, the
 * dns server in-process on 127.0.0.1 (free port), a tiny dns-packet upstream on loopback for
 * names outside the cluster, and real clients: dig over UDP and TCP for every record kind, and
 * glibc (getent) through a private resolv.conf bind-mounted in a mount namespace.
 */
import { execFile, execFileSync } from "node:child_process";
import dgram from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import dnsPacket from "dns-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../api/object.js";
import { createLogger } from "../cli/logger.js";
import { loadClusterConnection, R, RestClient } from "../client/index.js";
import { type RunningDns, run } from "../dns/server.js";
import { type ApiserverProcess, builtCliMissing, startApiserver } from "./helpers/apiserver.js";
import { until } from "./helpers/net.js";

const run$ = promisify(execFile);
const DIG = "/usr/bin/dig";
const NS = "default";

function missingDig(): string | undefined {
  try {
    execFileSync(DIG, ["-v"], { stdio: "ignore" });
    return undefined;
  } catch {
    return "dig is not installed (Debian bind9-dnsutils)";
  }
}
const skip = builtCliMissing() ?? missingDig();

interface DigRecord {
  name: string;
  ttl: number;
  type: string;
  data: string;
}
interface DigResult {
  status: string;
  flags: string[];
  answer: DigRecord[];
  authority: DigRecord[];
  additional: DigRecord[];
  text: string;
}

function parseDig(text: string): DigResult {
  const status = /status: (\w+)/.exec(text)?.[1] ?? "";
  const flags = (/;; flags: ([a-z ]*);/.exec(text)?.[1] ?? "").trim().split(/\s+/).filter(Boolean);
  const section = (title: string): DigRecord[] => {
    const start = text.indexOf(`;; ${title} SECTION:`);
    if (start === -1) return [];
    const lines = text.slice(start).split("\n").slice(1);
    const out: DigRecord[] = [];
    for (const line of lines) {
      if (!line.trim() || line.startsWith(";;")) break;
      const [name, ttl, , type, ...rest] = line.split(/\s+/);
      out.push({ name: name!, ttl: Number(ttl), type: type!, data: rest.join(" ") });
    }
    return out;
  };
  return {
    status,
    flags,
    answer: section("ANSWER"),
    authority: section("AUTHORITY"),
    additional: section("ADDITIONAL"),
    text,
  };
}

describe.skipIf(skip)("cluster DNS (real apiserver, in-process dns, dig and glibc)", () => {
  let api: ApiserverProcess;
  let client: RestClient;
  let dns: RunningDns;
  let upstream: dgram.Socket;
  let upstreamTcp: net.Server;
  let upstreamPort = 0;
  let webIP = "";
  const upstreamSeen: string[] = [];

  const dig = async (args: string[]): Promise<DigResult> => {
    const { stdout } = await run$(DIG, [
      "@127.0.0.1",
      "-p",
      String(dns.udpPort),
      "+tries=1",
      "+time=3",
      ...args,
    ]);
    return parseDig(stdout);
  };

  const create = (type: typeof R.services, obj: KubeObject) => client.create({ ...type, namespace: NS }, obj);
  const service = (name: string, spec: Record<string, unknown>) =>
    create(R.services, { apiVersion: "v1", kind: "Service", metadata: { name, namespace: NS }, spec });
  const slice = (name: string, svc: string, body: Record<string, unknown>) =>
    create(R.endpointslices, {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { name, namespace: NS, labels: { "kubernetes.io/service-name": svc } },
      addressType: "IPv4",
      ...body,
    });

  beforeAll(async () => {
    // the upstream: outside.test and external.test names answered from here, the rest NXDOMAIN
    const answer = (msg: Buffer): Buffer | undefined => {
      let q: dnsPacket.DecodedPacket;
      try {
        q = dnsPacket.decode(msg);
      } catch {
        return undefined;
      }
      const question = q.questions?.[0];
      if (!question) return undefined;
      upstreamSeen.push(`${question.name} ${question.type}`);
      const name = question.name.toLowerCase();
      const known = name === "www.outside.test" || name === "external.test";
      const answers: dnsPacket.Answer[] =
        known && question.type === "A"
          ? [
              {
                name: question.name,
                type: "A",
                ttl: 120,
                data: name === "external.test" ? "192.0.2.7" : "192.0.2.80",
              },
            ]
          : [];
      return dnsPacket.encode({
        id: q.id,
        type: "response",
        flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (known ? 0 : 3),
        questions: q.questions,
        answers,
      });
    };
    upstream = dgram.createSocket("udp4");
    upstream.on("message", (msg, rinfo) => {
      const reply = answer(msg);
      if (reply) upstream.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => upstream.bind(0, "127.0.0.1", () => r()));
    upstreamPort = upstream.address().port;
    // the same on TCP (the forwarder uses TCP for TCP clients)
    upstreamTcp = net.createServer((conn) => {
      let buf: Buffer = Buffer.alloc(0);
      conn.on("error", () => {});
      conn.on("data", (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const reply = answer(buf.subarray(2, 2 + buf.readUInt16BE(0)));
          buf = buf.subarray(2 + buf.readUInt16BE(0));
          if (reply)
            conn.write(Buffer.concat([Buffer.from([reply.length >> 8, reply.length & 0xff]), reply]));
        }
      });
    });
    await new Promise<void>((r) => upstreamTcp.listen(upstreamPort, "127.0.0.1", () => r()));

    api = await startApiserver();
    client = new RestClient(loadClusterConnection({ kubeconfig: api.kubeconfig }), { component: "dns-e2e" });
    try {
      await client.create(R.namespaces, { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
    } catch {
      // exists already
    }
    const web = await service("web", {
      ports: [
        { name: "http", port: 80, protocol: "TCP" },
        { name: "dns", port: 53, protocol: "UDP" },
      ],
    });
    webIP = (web.spec as { clusterIP: string }).clusterIP;
    await service("db", { clusterIP: "None", ports: [{ name: "pg", port: 5432, protocol: "TCP" }] });
    await slice("db-abc", "db", {
      ports: [{ name: "pg", port: 15432, protocol: "TCP" }],
      endpoints: [
        { addresses: ["10.10.0.1"], hostname: "db-0", conditions: { ready: true } },
        { addresses: ["10.10.0.2"], conditions: { ready: true } },
        { addresses: ["10.10.0.3"], hostname: "db-2", conditions: { ready: false } },
      ],
    });
    await service("many", { clusterIP: "None", ports: [{ name: "http", port: 80, protocol: "TCP" }] });
    await slice("many-abc", "many", {
      ports: [{ name: "http", port: 8080, protocol: "TCP" }],
      endpoints: Array.from({ length: 100 }, (_, i) => ({
        addresses: [`10.20.${i >> 8}.${(i & 255) + 1}`],
        conditions: { ready: true },
      })),
    });
    await service("ext", { type: "ExternalName", externalName: "external.test" });
    await create(R.pods, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p1", namespace: NS },
      spec: {
        hostname: "db-0",
        subdomain: "db",
        containers: [{ name: "c", image: "registry.k8s.io/pause:3.9" }],
      },
    });
    await client.patch(
      { ...R.pods, namespace: NS, name: "p1", subresource: "status" },
      { status: { phase: "Running", podIP: "10.244.0.5", podIPs: [{ ip: "10.244.0.5" }] } },
      { type: "merge" },
    );

    dns = await run({
      kubeconfig: api.kubeconfig,
      listen: "127.0.0.1:0",
      upstreams: [`127.0.0.1:${upstreamPort}`],
      pods: "verified",
      healthBindAddress: "127.0.0.1:0",
      readyBindAddress: "127.0.0.1:0",
      metricsBindAddress: "127.0.0.1:0",
      lameduckMs: 0,
      logger: createLogger("dns", process.env.KUBEPLANE_LOG_LEVEL ?? "warn"),
    });
    await until("dns caches synced", () => dns.synced(), 20_000);
  }, 120_000);

  afterAll(async () => {
    await dns?.stop();
    await client?.close();
    await api?.stop();
    upstream?.close();
    upstreamTcp?.close();
  });

  it("answers dns-version TXT 1.1.0", async () => {
    const r = await dig(["dns-version.cluster.local", "TXT"]);
    expect(r.status).toBe("NOERROR");
    expect(r.answer).toEqual([
      { name: "dns-version.cluster.local.", ttl: 28800, type: "TXT", data: '"1.1.0"' },
    ]);
  });

  it("answers a ClusterIP service's A record over UDP and TCP, authoritatively, case-insensitively", async () => {
    for (const extra of [[], ["+tcp"], ["+noedns"]]) {
      const r = await dig(["WEB.Default.svc.Cluster.Local", "A", ...extra]);
      expect(r.status).toBe("NOERROR");
      expect(r.flags).toContain("aa");
      expect(r.answer.map((a) => [a.type, a.data, a.ttl])).toEqual([["A", webIP, 30]]);
    }
  });

  it("answers SRV for named ports with the service as target and its address as additional", async () => {
    const r = await dig(["_http._tcp.web.default.svc.cluster.local", "SRV"]);
    expect(r.answer.map((a) => a.data)).toEqual(["0 100 80 web.default.svc.cluster.local."]);
    expect(r.additional.filter((a) => a.type === "A").map((a) => [a.name, a.data])).toEqual([
      ["web.default.svc.cluster.local.", webIP],
    ]);
    const udp = await dig(["_dns._udp.web.default.svc.cluster.local", "SRV", "+tcp"]);
    expect(udp.answer.map((a) => a.data)).toEqual(["0 100 53 web.default.svc.cluster.local."]);
    expect((await dig(["_dns._tcp.web.default.svc.cluster.local", "SRV"])).status).toBe("NXDOMAIN");
  });

  it("answers PTR for the ClusterIP and for headless endpoint IPs", async () => {
    expect((await dig(["-x", webIP])).answer.map((a) => a.data)).toEqual(["web.default.svc.cluster.local."]);
    expect((await dig(["-x", "10.10.0.1", "+tcp"])).answer.map((a) => a.data)).toEqual([
      "db-0.db.default.svc.cluster.local.",
    ]);
    expect((await dig(["-x", "10.10.0.2"])).answer.map((a) => a.data)).toEqual([
      "10-10-0-2.db.default.svc.cluster.local.",
    ]);
  });

  it("answers a headless service: ready endpoints, hostnames, dashed IPs and SRV per endpoint", async () => {
    const a = await dig(["db.default.svc.cluster.local", "A"]);
    expect(a.answer.map((x) => x.data).sort()).toEqual(["10.10.0.1", "10.10.0.2"]);
    expect((await dig(["db-0.db.default.svc.cluster.local", "A", "+tcp"])).answer.map((x) => x.data)).toEqual(
      ["10.10.0.1"],
    );
    expect((await dig(["10-10-0-2.db.default.svc.cluster.local", "A"])).answer.map((x) => x.data)).toEqual([
      "10.10.0.2",
    ]);
    expect((await dig(["db-2.db.default.svc.cluster.local", "A"])).status).toBe("NXDOMAIN");
    const srv = await dig(["_pg._tcp.db.default.svc.cluster.local", "SRV"]);
    expect(srv.answer.map((x) => x.data).sort()).toEqual([
      "0 50 15432 10-10-0-2.db.default.svc.cluster.local.",
      "0 50 15432 db-0.db.default.svc.cluster.local.",
    ]);
    expect(
      srv.additional
        .filter((x) => x.type === "A")
        .map((x) => `${x.name} ${x.data}`)
        .sort(),
    ).toEqual([
      "10-10-0-2.db.default.svc.cluster.local. 10.10.0.2",
      "db-0.db.default.svc.cluster.local. 10.10.0.1",
    ]);
  });

  it("answers an ExternalName with a CNAME and the target's records from the upstream", async () => {
    const r = await dig(["ext.default.svc.cluster.local", "A"]);
    expect(r.status).toBe("NOERROR");
    expect(r.answer.map((x) => [x.type, x.data])).toEqual([
      ["CNAME", "external.test."],
      ["A", "192.0.2.7"],
    ]);
    expect((await dig(["ext.default.svc.cluster.local", "CNAME", "+tcp"])).answer.map((x) => x.data)).toEqual(
      ["external.test."],
    );
  });

  it("forwards names outside the cluster domain to the upstream", async () => {
    const r = await dig(["www.outside.test", "A"]);
    expect(r.status).toBe("NOERROR");
    expect(r.flags).not.toContain("aa");
    expect(r.answer.map((x) => x.data)).toEqual(["192.0.2.80"]);
    expect(upstreamSeen).toContain("www.outside.test A");
    expect((await dig(["nothing.outside.test", "A", "+tcp"])).status).toBe("NXDOMAIN");
  });

  it("answers pod records only for existing pod IPs (--pods verified)", async () => {
    expect((await dig(["10-244-0-5.default.pod.cluster.local", "A"])).answer.map((x) => x.data)).toEqual([
      "10.244.0.5",
    ]);
    const nx = await dig(["10-244-0-99.default.pod.cluster.local", "A"]);
    expect(nx.status).toBe("NXDOMAIN");
  });

  it("tells NXDOMAIN from NODATA, both with the zone SOA in authority", async () => {
    const nx = await dig(["nope.default.svc.cluster.local", "A"]);
    expect(nx.status).toBe("NXDOMAIN");
    expect(nx.answer).toEqual([]);
    expect(nx.authority).toHaveLength(1);
    expect(nx.authority[0]).toMatchObject({ name: "cluster.local.", type: "SOA", ttl: 30 });
    expect(nx.authority[0]!.data).toMatch(
      /^ns\.dns\.cluster\.local\. hostmaster\.cluster\.local\. \d+ 7200 1800 86400 30$/,
    );
    const nodata = await dig(["web.default.svc.cluster.local", "AAAA", "+tcp"]);
    expect(nodata.status).toBe("NOERROR");
    expect(nodata.answer).toEqual([]);
    expect(nodata.authority[0]).toMatchObject({ name: "cluster.local.", type: "SOA" });
  });

  it("refuses zone transfers", async () => {
    const { stdout } = await run$(DIG, [
      "@127.0.0.1",
      "-p",
      String(dns.udpPort),
      "+tries=1",
      "+time=3",
      "cluster.local",
      "AXFR",
    ]);
    expect(stdout).toMatch(/Transfer failed|REFUSED/);
  });

  it("truncates the 100-endpoint headless service over UDP and serves it whole over TCP", async () => {
    const udp = await dig(["many.default.svc.cluster.local", "A", "+noedns", "+ignore"]);
    expect(udp.flags).toContain("tc");
    expect(udp.answer.length).toBeGreaterThan(0);
    expect(udp.answer.length).toBeLessThan(100);
    const small = await dig(["many.default.svc.cluster.local", "A", "+bufsize=1232", "+ignore"]);
    expect(small.flags).toContain("tc");
    const big = await dig(["many.default.svc.cluster.local", "A", "+bufsize=4096", "+ignore"]);
    expect(big.flags).not.toContain("tc");
    expect(big.answer).toHaveLength(100);
    const tcp = await dig(["many.default.svc.cluster.local", "A", "+tcp"]);
    expect(tcp.flags).not.toContain("tc");
    expect(tcp.answer).toHaveLength(100);
    const srv = await dig(["_http._tcp.many.default.svc.cluster.local", "SRV", "+tcp"]);
    expect(srv.answer).toHaveLength(100);
    expect(srv.answer[0]!.data).toMatch(/^0 1 8080 10-20-0-\d+\.many\.default\.svc\.cluster\.local\.$/);
    // dig retries over TCP on TC by itself
    expect((await dig(["many.default.svc.cluster.local", "A", "+noedns"])).answer).toHaveLength(100);
  });

  it("shows an API change within 1 s", async () => {
    const t0 = Date.now();
    const svc = await service("late", { ports: [{ name: "http", port: 80, protocol: "TCP" }] });
    const ip = (svc.spec as { clusterIP: string }).clusterIP;
    const created = Date.now();
    await until(
      "late.default resolvable",
      async () => (await dig(["late.default.svc.cluster.local", "A"])).answer[0]?.data === ip,
      5000,
      20,
    );
    expect(Date.now() - created).toBeLessThan(1000);
    await client.delete({ ...R.services, namespace: NS, name: "late" });
    const deleted = Date.now();
    await until(
      "late.default gone",
      async () => (await dig(["late.default.svc.cluster.local", "A"])).status === "NXDOMAIN",
      5000,
      20,
    );
    expect(Date.now() - deleted).toBeLessThan(1000);
    expect(created - t0).toBeLessThan(5000);
  });

  it("serves /health, /ready and CoreDNS metrics", async () => {
    const health = await fetch(`http://127.0.0.1:${dns.healthPort}/health`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe("OK");
    expect((await fetch(`http://127.0.0.1:${dns.readyPort}/ready`)).status).toBe(200);
    const text = await (await fetch(`http://127.0.0.1:${dns.metricsPort}/metrics`)).text();
    expect(text).toMatch(
      /coredns_dns_requests_total\{server="dns:\/\/127\.0\.0\.1:0",zone="\.",proto="udp",family="1",type="A"\} \d+/,
    );
    expect(text).toMatch(/coredns_dns_responses_total\{[^}]*rcode="NXDOMAIN",plugin="kubernetes"\} \d+/);
    expect(text).toContain("coredns_dns_request_duration_seconds_bucket");
    expect(text).toContain("coredns_forward_requests_total");
    expect(text).toContain("coredns_cache_misses_total");
  });

  describe("glibc resolution", () => {
    const why = (() => {
      if (process.getuid?.() !== 0) return "needs root for a mount namespace (unshare -m) and port 53";
      try {
        execFileSync("unshare", ["--help"], { stdio: "ignore" });
        execFileSync("getent", ["--help"], { stdio: "ignore" });
      } catch {
        return "needs unshare and getent";
      }
      return undefined;
    })();

    it.skipIf(why)(
      "getent hosts through a resolv.conf with the Kubernetes search list and ndots:5",
      async (ctx) => {
        let second: RunningDns | undefined;
        try {
          second = await run({
            kubeconfig: api.kubeconfig,
            listen: "127.0.0.1:53",
            upstreams: [`127.0.0.1:${upstreamPort}`],
            healthBindAddress: "",
            readyBindAddress: "",
            metricsBindAddress: "",
            lameduckMs: 0,
            logger: createLogger("dns-53", "warn"),
          });
        } catch (err) {
          ctx.skip(`127.0.0.1:53 is not free (${String(err)}): glibc only talks to port 53`);
          return;
        }
        const dir = mkdtempSync(join(tmpdir(), "kubeplane-dns-glibc-"));
        try {
          await until("second dns synced", () => second!.synced(), 20_000);
          const conf = join(dir, "resolv.conf");
          writeFileSync(
            conf,
            "nameserver 127.0.0.1\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5 timeout:2 attempts:2\n",
          );
          const getent = async (name: string) => {
            const { stdout } = await run$("unshare", [
              "-m",
              "sh",
              "-c",
              `mount --bind "${conf}" /etc/resolv.conf && exec getent ahostsv4 "${name}"`,
            ]);
            return [
              ...new Set(
                stdout
                  .split("\n")
                  .filter(Boolean)
                  .map((l) => l.split(/\s+/)[0]),
              ),
            ];
          };
          expect(await getent("web")).toEqual([webIP]);
          expect(await getent("web.default")).toEqual([webIP]);
          expect(await getent("web.default.svc.cluster.local")).toEqual([webIP]);
          expect((await getent("db")).sort()).toEqual(["10.10.0.1", "10.10.0.2"]);
          // the 100-endpoint answer needs glibc's TCP fallback
          expect(await getent("many")).toHaveLength(100);
          // an outside name goes through the search list (NXDOMAIN each) and then upstream
          expect(await getent("www.outside.test")).toEqual(["192.0.2.80"]);
          const { stdout } = await run$("unshare", [
            "-m",
            "sh",
            "-c",
            `mount --bind "${conf}" /etc/resolv.conf && exec getent hosts web`,
          ]);
          expect(stdout).toContain(webIP);
        } finally {
          await second.stop();
          rmSync(dir, { recursive: true, force: true });
        }
      },
    );
  });
});
