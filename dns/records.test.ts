import { describe, expect, it } from "vitest";
import { canonicalIP, dashedIP, ipFromDashed, ipFromReverse, reverseName } from "./ip.js";
import {
  type EndpointSlice,
  type Pod,
  type Resolution,
  type Service,
  slimEndpointSlice,
  slimPod,
  slimService,
  srvWeight,
  staticView,
  Zone,
  type ZoneOptions,
} from "./records.js";
import { QTYPE, RCODE, type RR } from "./wire.js";

function svc(ns: string, name: string, spec: Service["spec"]): Service {
  return { apiVersion: "v1", kind: "Service", metadata: { namespace: ns, name }, spec };
}

function slice(ns: string, svcName: string, name: string, s: Partial<EndpointSlice>): EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { namespace: ns, name, labels: { "kubernetes.io/service-name": svcName } },
    addressType: "IPv4",
    ...s,
  };
}

const services: Service[] = [
  svc("default", "web", {
    type: "ClusterIP",
    clusterIP: "10.96.0.10",
    clusterIPs: ["10.96.0.10"],
    ports: [
      { name: "http", protocol: "TCP", port: 80 },
      { name: "dns", protocol: "UDP", port: 53 },
      { protocol: "TCP", port: 8080 },
    ],
  }),
  svc("default", "dual", {
    clusterIP: "10.96.0.11",
    clusterIPs: ["10.96.0.11", "fd00:10:96::b"],
    ports: [{ name: "http", port: 80 }],
  }),
  svc("default", "db", { clusterIP: "None", ports: [{ name: "pg", protocol: "TCP", port: 5432 }] }),
  svc("default", "empty", { clusterIP: "None", ports: [{ name: "x", port: 1 }] }),
  svc("default", "nr", {
    clusterIP: "None",
    publishNotReadyAddresses: true,
    ports: [{ name: "x", port: 1 }],
  }),
  svc("default", "ext", { type: "ExternalName", externalName: "example.org" }),
  svc("default", "alias", { type: "ExternalName", externalName: "web.default.svc.cluster.local" }),
  svc("default", "loop", { type: "ExternalName", externalName: "loop.default.svc.cluster.local" }),
  svc("other", "v6", { clusterIP: "None", ports: [{ name: "h", port: 80 }] }),
];

const slices: EndpointSlice[] = [
  slice("default", "db", "db-1", {
    ports: [{ name: "pg", protocol: "TCP", port: 15432 }],
    endpoints: [
      { addresses: ["10.0.0.1"], hostname: "db-0", conditions: { ready: true } },
      { addresses: ["10.0.0.2"], conditions: { ready: true } },
      { addresses: ["10.0.0.3"], hostname: "db-2", conditions: { ready: false } },
      { addresses: ["10.0.0.4"] },
    ],
  }),
  slice("default", "nr", "nr-1", {
    ports: [{ name: "x", port: 1 }],
    endpoints: [{ addresses: ["10.0.1.1"], conditions: { ready: false } }],
  }),
  slice("default", "empty", "empty-1", {
    ports: [{ name: "x", port: 1 }],
    endpoints: [{ addresses: ["10.0.2.1"], conditions: { ready: false } }],
  }),
  slice("other", "v6", "v6-1", {
    addressType: "IPv6",
    ports: [{ name: "h", port: 8080 }],
    endpoints: [{ addresses: ["fd00::1:2"], hostname: "h0" }, { addresses: ["FD00:0:0:0:0:0:1:3"] }],
  }),
];

const pods: Pod[] = [
  {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { namespace: "default", name: "p1" },
    status: { podIP: "10.244.1.5", podIPs: [{ ip: "10.244.1.5" }] },
  },
  {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { namespace: "default", name: "gone", deletionTimestamp: "2024-01-01T00:00:00Z" },
    status: { podIP: "10.244.1.6" },
  },
];

const view = staticView({ services, slices, pods });

function zone(o: Partial<ZoneOptions> = {}) {
  return new Zone(view, { zone: "cluster.local", ttl: 30, pods: "insecure", serial: 42, ...o });
}

type Answer = Extract<Resolution, { kind: "answer" }>;
function ask(name: string, type: number, o: Partial<ZoneOptions> = {}): Answer {
  const r = zone(o).resolve(name, type);
  if (r.kind !== "answer") throw new Error(`${name}: not answered here`);
  return r;
}
const data = (rrs: RR[]) => rrs.map((r) => r.data);

function expectSOA(r: Answer) {
  expect(r.answers).toEqual([]);
  expect(r.authorities).toHaveLength(1);
  expect(r.authorities[0]).toEqual({
    name: "cluster.local",
    type: "SOA",
    ttl: 30,
    data: {
      mname: "ns.dns.cluster.local",
      rname: "hostmaster.cluster.local",
      serial: 42,
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: 30,
    },
  });
}
const nodata = (r: Answer) => {
  expect(r.rcode).toBe(RCODE.NOERROR);
  expectSOA(r);
};
const nxdomain = (r: Answer) => {
  expect(r.rcode).toBe(RCODE.NXDOMAIN);
  expectSOA(r);
};

describe("ip helpers", () => {
  it("canonicalises, reverses and dashes addresses", () => {
    expect(canonicalIP("FD00:0:0:0:0:0:1:3")).toBe("fd00::1:3");
    expect(canonicalIP("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1");
    expect(canonicalIP("::")).toBe("::");
    expect(canonicalIP("::ffff:1.2.3.4")).toBe("::ffff:102:304");
    expect(canonicalIP("nope")).toBeUndefined();
    expect(reverseName("10.96.0.10")).toBe("10.0.96.10.in-addr.arpa");
    expect(reverseName("fd00::1")).toBe(`1.${"0.".repeat(27)}0.0.d.f.ip6.arpa`);
    expect(ipFromReverse("10.0.96.10.in-addr.arpa".split("."))).toBe("10.96.0.10");
    expect(ipFromReverse(reverseName("fd00::1:2")!.split("."))).toBe("fd00::1:2");
    expect(ipFromReverse("0.96.10.in-addr.arpa".split("."))).toBeUndefined();
    expect(ipFromReverse("256.0.96.10.in-addr.arpa".split("."))).toBeUndefined();
    expect(ipFromReverse("01.0.96.10.in-addr.arpa".split("."))).toBeUndefined();
    expect(dashedIP("10.1.2.3")).toBe("10-1-2-3");
    expect(dashedIP("fd00::1")).toBe("fd00--1");
    expect(ipFromDashed("10-1-2-3")).toBe("10.1.2.3");
    expect(ipFromDashed("fd00--1")).toBe("fd00::1");
    expect(ipFromDashed("10-1-2")).toBeUndefined();
    expect(ipFromDashed("10-1-2-300")).toBeUndefined();
    expect(ipFromDashed("web")).toBeUndefined();
  });
});

describe("zone basics", () => {
  it("answers dns-version TXT 1.1.0 (TTL 28800)", () => {
    const r = ask("dns-version.cluster.local", QTYPE.TXT);
    expect(r.rcode).toBe(RCODE.NOERROR);
    expect(r.answers).toEqual([
      { name: "dns-version.cluster.local", type: "TXT", ttl: 28800, data: "1.1.0" },
    ]);
    nodata(ask("dns-version.cluster.local", QTYPE.A));
  });

  it("answers SOA and NS at the apex and NODATA for other types", () => {
    const soa = ask("cluster.local", QTYPE.SOA);
    expect(soa.answers[0]!.type).toBe("SOA");
    expect(soa.answers[0]!.data.mname).toBe("ns.dns.cluster.local");
    expect(ask("cluster.local.", QTYPE.NS).answers[0]!.data).toBe("ns.dns.cluster.local");
    nodata(ask("cluster.local", QTYPE.A));
  });

  it("leaves names outside the zone to the forwarder", () => {
    expect(zone().resolve("example.org", QTYPE.A).kind).toBe("outside");
    expect(zone().resolve("local", QTYPE.A).kind).toBe("outside");
    expect(zone().resolve("xcluster.local", QTYPE.A).kind).toBe("outside");
    expect(zone().resolve(".", QTYPE.NS).kind).toBe("outside");
  });

  it("is NXDOMAIN for unknown names in the zone and NODATA for empty non-terminals", () => {
    nxdomain(ask("foo.cluster.local", QTYPE.A));
    nodata(ask("svc.cluster.local", QTYPE.A));
    nodata(ask("pod.cluster.local", QTYPE.A));
    nodata(ask("default.svc.cluster.local", QTYPE.A));
    nxdomain(ask("nons.svc.cluster.local", QTYPE.A));
    nxdomain(ask("missing.default.svc.cluster.local", QTYPE.A));
    nxdomain(ask("a.b.c.web.default.svc.cluster.local", QTYPE.A));
  });

  it("supports another cluster domain with a trailing dot", () => {
    const z = new Zone(view, { zone: "Corp.Example.", ttl: 5, pods: "disabled" });
    const r = z.resolve("web.default.svc.corp.example", QTYPE.A);
    expect(r.kind === "answer" && r.answers[0]!.data).toBe("10.96.0.10");
    expect(z.resolve("web.default.svc.cluster.local", QTYPE.A).kind).toBe("outside");
  });
});

describe("ClusterIP services", () => {
  it("answers A with the cluster IP, the owner as asked, case-insensitively", () => {
    const r = ask("WEB.Default.SVC.cluster.LOCAL", QTYPE.A);
    expect(r.rcode).toBe(RCODE.NOERROR);
    expect(r.answers).toEqual([
      { name: "WEB.Default.SVC.cluster.LOCAL", type: "A", ttl: 30, data: "10.96.0.10" },
    ]);
    expect(r.authorities).toEqual([]);
  });

  it("is NODATA for AAAA on a single-stack service and for TXT", () => {
    nodata(ask("web.default.svc.cluster.local", QTYPE.AAAA));
    nodata(ask("web.default.svc.cluster.local", QTYPE.TXT));
  });

  it("answers both families of a dual-stack service", () => {
    expect(data(ask("dual.default.svc.cluster.local", QTYPE.A).answers)).toEqual(["10.96.0.11"]);
    expect(ask("dual.default.svc.cluster.local", QTYPE.AAAA).answers).toEqual([
      { name: "dual.default.svc.cluster.local", type: "AAAA", ttl: 30, data: "fd00:10:96::b" },
    ]);
    expect(ask("dual.default.svc.cluster.local", QTYPE.ANY).answers).toHaveLength(2);
  });

  it("uses the configured TTL", () => {
    expect(ask("web.default.svc.cluster.local", QTYPE.A, { ttl: 5 }).answers[0]!.ttl).toBe(5);
  });

  it("answers SRV for named ports only, targeting the service, with its address as additional", () => {
    const r = ask("_http._tcp.web.default.svc.cluster.local", QTYPE.SRV);
    expect(r.answers).toEqual([
      {
        name: "_http._tcp.web.default.svc.cluster.local",
        type: "SRV",
        ttl: 30,
        data: { priority: 0, weight: 100, port: 80, target: "web.default.svc.cluster.local" },
      },
    ]);
    expect(r.additionals).toEqual([
      { name: "web.default.svc.cluster.local", type: "A", ttl: 30, data: "10.96.0.10" },
    ]);
    expect(data(ask("_dns._udp.web.default.svc.cluster.local", QTYPE.SRV).answers)[0].port).toBe(53);
    nxdomain(ask("_dns._tcp.web.default.svc.cluster.local", QTYPE.SRV));
    nxdomain(ask("_nope._tcp.web.default.svc.cluster.local", QTYPE.SRV));
    nxdomain(ask("http.tcp.web.default.svc.cluster.local", QTYPE.SRV));
    nodata(ask("_http._tcp.web.default.svc.cluster.local", QTYPE.A));
    nodata(ask("_tcp.web.default.svc.cluster.local", QTYPE.SRV));
    nxdomain(ask("_sctp.web.default.svc.cluster.local", QTYPE.SRV));
  });

  it("has no hostname records under a ClusterIP service", () => {
    nxdomain(ask("db-0.web.default.svc.cluster.local", QTYPE.A));
  });

  it("answers PTR for the cluster IP (both families)", () => {
    const r = zone().resolve("10.0.96.10.in-addr.arpa", QTYPE.PTR);
    expect(r).toMatchObject({
      kind: "answer",
      rcode: 0,
      answers: [{ name: "10.0.96.10.in-addr.arpa", type: "PTR", data: "web.default.svc.cluster.local" }],
    });
    const v6 = zone().resolve(reverseName("fd00:10:96::b")!, QTYPE.PTR);
    expect(v6.kind === "answer" && v6.answers[0]!.data).toBe("dual.default.svc.cluster.local");
    expect(zone().resolve("99.0.96.10.in-addr.arpa", QTYPE.PTR).kind).toBe("outside");
    expect(zone().resolve("10.0.96.10.in-addr.arpa", QTYPE.A).kind).toBe("outside");
  });
});

describe("headless services", () => {
  it("answers A for every ready endpoint (nil ready counts as ready)", () => {
    const r = ask("db.default.svc.cluster.local", QTYPE.A);
    expect(data(r.answers).sort()).toEqual(["10.0.0.1", "10.0.0.2", "10.0.0.4"]);
    nodata(ask("db.default.svc.cluster.local", QTYPE.AAAA));
  });

  it("is NXDOMAIN when no endpoint is ready", () => {
    nxdomain(ask("empty.default.svc.cluster.local", QTYPE.A));
    nxdomain(ask("empty.default.svc.cluster.local", QTYPE.TXT));
  });

  it("honours publishNotReadyAddresses", () => {
    expect(data(ask("nr.default.svc.cluster.local", QTYPE.A).answers)).toEqual(["10.0.1.1"]);
  });

  it("answers <hostname> and <dashed-ip> names per endpoint", () => {
    expect(data(ask("db-0.db.default.svc.cluster.local", QTYPE.A).answers)).toEqual(["10.0.0.1"]);
    expect(data(ask("10-0-0-2.db.default.svc.cluster.local", QTYPE.A).answers)).toEqual(["10.0.0.2"]);
    nxdomain(ask("db-2.db.default.svc.cluster.local", QTYPE.A)); // not ready
    nxdomain(ask("10-0-0-1.db.default.svc.cluster.local", QTYPE.A)); // has a hostname
    nodata(ask("db-0.db.default.svc.cluster.local", QTYPE.AAAA));
  });

  it("answers SRV per ready endpoint with endpoint ports, weight 100/N and A additionals", () => {
    const r = ask("_pg._tcp.db.default.svc.cluster.local", QTYPE.SRV);
    expect(r.answers).toHaveLength(3);
    const targets = data(r.answers)
      .map((d) => d.target)
      .sort();
    expect(targets).toEqual([
      "10-0-0-2.db.default.svc.cluster.local",
      "10-0-0-4.db.default.svc.cluster.local",
      "db-0.db.default.svc.cluster.local",
    ]);
    for (const d of data(r.answers)) expect(d).toMatchObject({ priority: 0, weight: 33, port: 15432 });
    expect(r.additionals.map((a) => [a.name, a.data]).sort()).toEqual([
      ["10-0-0-2.db.default.svc.cluster.local", "10.0.0.2"],
      ["10-0-0-4.db.default.svc.cluster.local", "10.0.0.4"],
      ["db-0.db.default.svc.cluster.local", "10.0.0.1"],
    ]);
    nxdomain(ask("_x._tcp.empty.default.svc.cluster.local", QTYPE.SRV));
  });

  it("answers IPv6 headless endpoints with AAAA, dashed names and ip6.arpa PTRs", () => {
    expect(data(ask("v6.other.svc.cluster.local", QTYPE.AAAA).answers).sort()).toEqual([
      "fd00::1:2",
      "fd00::1:3",
    ]);
    nodata(ask("v6.other.svc.cluster.local", QTYPE.A));
    expect(data(ask("fd00--1-3.v6.other.svc.cluster.local", QTYPE.AAAA).answers)).toEqual(["fd00::1:3"]);
    expect(data(ask("h0.v6.other.svc.cluster.local", QTYPE.AAAA).answers)).toEqual(["fd00::1:2"]);
    const r = zone().resolve(reverseName("fd00::1:3")!, QTYPE.PTR);
    expect(r.kind === "answer" && r.answers[0]!.data).toBe("fd00--1-3.v6.other.svc.cluster.local");
  });

  it("answers PTR for ready endpoint IPs with the hostname or dashed name", () => {
    const a = zone().resolve("1.0.0.10.in-addr.arpa", QTYPE.PTR);
    expect(a.kind === "answer" && data(a.answers)).toEqual(["db-0.db.default.svc.cluster.local"]);
    const b = zone().resolve("2.0.0.10.in-addr.arpa", QTYPE.PTR);
    expect(b.kind === "answer" && data(b.answers)).toEqual(["10-0-0-2.db.default.svc.cluster.local"]);
    expect(zone().resolve("3.0.0.10.in-addr.arpa", QTYPE.PTR).kind).toBe("outside"); // not ready
  });

  it("merges endpoints split over several slices and ignores FQDN slices", () => {
    const v = staticView({
      services: [
        svc("n", "s", {
          clusterIP: "None",
          ports: [
            { name: "a", port: 1 },
            { name: "b", port: 2 },
          ],
        }),
      ],
      slices: [
        slice("n", "s", "s-1", {
          ports: [{ name: "a", port: 11 }],
          endpoints: [{ addresses: ["10.1.0.1"], hostname: "x" }],
        }),
        slice("n", "s", "s-2", {
          ports: [{ name: "b", port: 12 }],
          endpoints: [{ addresses: ["10.1.0.1"], hostname: "x" }, { addresses: ["10.1.0.2"] }],
        }),
        slice("n", "s", "s-3", {
          addressType: "FQDN",
          ports: [{ name: "a", port: 1 }],
          endpoints: [{ addresses: ["foo.example"] }],
        }),
      ],
    });
    const z = new Zone(v, { zone: "cluster.local", ttl: 30, pods: "disabled" });
    const a = z.resolve("s.n.svc.cluster.local", QTYPE.A);
    expect(a.kind === "answer" && data(a.answers).sort()).toEqual(["10.1.0.1", "10.1.0.2"]);
    const srvA = z.resolve("_a._tcp.s.n.svc.cluster.local", QTYPE.SRV);
    expect(srvA.kind === "answer" && data(srvA.answers)).toEqual([
      { priority: 0, weight: 100, port: 11, target: "x.s.n.svc.cluster.local" },
    ]);
    const srvB = z.resolve("_b._tcp.s.n.svc.cluster.local", QTYPE.SRV);
    expect(srvB.kind === "answer" && srvB.answers).toHaveLength(2);
  });

  it("hostname + subdomain: a pod's hostname through its headless service", () => {
    // the endpointslice controller copies pod.spec.hostname into the endpoint when spec.subdomain matches
    expect(data(ask("db-0.db.default.svc.cluster.local", QTYPE.A).answers)).toEqual(["10.0.0.1"]);
  });

  it("computes SRV weights like CoreDNS", () => {
    expect(srvWeight(1)).toBe(100);
    expect(srvWeight(3)).toBe(33);
    expect(srvWeight(100)).toBe(1);
    expect(srvWeight(300)).toBe(1);
  });
});

describe("ExternalName services", () => {
  it("answers a CNAME and asks for the external target to be resolved upstream", () => {
    const r = ask("ext.default.svc.cluster.local", QTYPE.A);
    expect(r.answers).toEqual([
      { name: "ext.default.svc.cluster.local", type: "CNAME", ttl: 30, data: "example.org" },
    ]);
    expect(r.chase).toBe("example.org");
    const c = ask("ext.default.svc.cluster.local", QTYPE.CNAME);
    expect(c.chase).toBeUndefined();
  });

  it("follows a target inside the zone locally", () => {
    const r = ask("alias.default.svc.cluster.local", QTYPE.A);
    expect(r.answers.map((a) => [a.type, a.data])).toEqual([
      ["CNAME", "web.default.svc.cluster.local"],
      ["A", "10.96.0.10"],
    ]);
    expect(r.chase).toBeUndefined();
  });

  it("stops a CNAME loop with SERVFAIL", () => {
    expect(ask("loop.default.svc.cluster.local", QTYPE.A).rcode).toBe(RCODE.SERVFAIL);
  });
});

describe("pods", () => {
  it("insecure: any well-formed dashed IP", () => {
    expect(ask("1-2-3-4.any.pod.cluster.local", QTYPE.A).answers).toEqual([
      { name: "1-2-3-4.any.pod.cluster.local", type: "A", ttl: 30, data: "1.2.3.4" },
    ]);
    expect(data(ask("fd00--5.any.pod.cluster.local", QTYPE.AAAA).answers)).toEqual(["fd00::5"]);
    nodata(ask("1-2-3-4.any.pod.cluster.local", QTYPE.AAAA));
    nxdomain(ask("1-2-3.any.pod.cluster.local", QTYPE.A));
    nxdomain(ask("web.any.pod.cluster.local", QTYPE.A));
    nxdomain(ask("x.1-2-3-4.any.pod.cluster.local", QTYPE.A));
    nodata(ask("any.pod.cluster.local", QTYPE.A));
  });

  it("verified: only existing, live pod IPs in that namespace", () => {
    const v = { pods: "verified" as const };
    expect(data(ask("10-244-1-5.default.pod.cluster.local", QTYPE.A, v).answers)).toEqual(["10.244.1.5"]);
    nxdomain(ask("10-244-1-5.other.pod.cluster.local", QTYPE.A, v));
    nxdomain(ask("10-244-1-6.default.pod.cluster.local", QTYPE.A, v)); // terminating
    nxdomain(ask("1-2-3-4.default.pod.cluster.local", QTYPE.A, v));
  });

  it("disabled: NXDOMAIN", () => {
    nxdomain(ask("10-244-1-5.default.pod.cluster.local", QTYPE.A, { pods: "disabled" }));
    nxdomain(ask("default.pod.cluster.local", QTYPE.A, { pods: "disabled" }));
  });
});

describe("slim objects (what the informers keep)", () => {
  it("answer every question exactly as the whole objects do", () => {
    const fat = new Zone(view, { zone: "cluster.local", ttl: 30, pods: "verified", serial: 42 });
    const slim = new Zone(
      staticView({
        services: services.map(slimService),
        slices: slices.map(slimEndpointSlice),
        pods: pods.map(slimPod),
      }),
      { zone: "cluster.local", ttl: 30, pods: "verified", serial: 42 },
    );
    const names = [
      "web.default.svc.cluster.local",
      "dual.default.svc.cluster.local",
      "db.default.svc.cluster.local",
      "db-0.db.default.svc.cluster.local",
      "10-0-0-2.db.default.svc.cluster.local",
      "_pg._tcp.db.default.svc.cluster.local",
      "_http._tcp.web.default.svc.cluster.local",
      "_dns._udp.web.default.svc.cluster.local",
      "empty.default.svc.cluster.local",
      "nr.default.svc.cluster.local",
      "ext.default.svc.cluster.local",
      "alias.default.svc.cluster.local",
      "v6.other.svc.cluster.local",
      "h0.v6.other.svc.cluster.local",
      "10-244-1-5.default.pod.cluster.local",
      "10-244-1-6.default.pod.cluster.local",
      "10.0.96.10.in-addr.arpa",
      "1.0.0.10.in-addr.arpa",
      reverseName("fd00:10:96::b")!,
      reverseName("fd00::1:2")!,
    ];
    for (const name of names)
      for (const t of [QTYPE.A, QTYPE.AAAA, QTYPE.SRV, QTYPE.PTR, QTYPE.CNAME, QTYPE.ANY])
        expect(slim.resolve(name, t), `${name} ${t}`).toEqual(fat.resolve(name, t));
  });

  it("keep only the fields the zone reads", () => {
    const fullPod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { namespace: "a", name: "p", resourceVersion: "7", uid: "u", labels: { app: "x" } },
      spec: { containers: [{ name: "c", image: "i" }] },
      status: { phase: "Running", podIP: "10.0.0.1", podIPs: [{ ip: "10.0.0.1" }], hostIP: "192.0.2.1" },
    } as Pod;
    expect(slimPod(fullPod)).toEqual({
      metadata: { namespace: "a", name: "p", resourceVersion: "7" },
      status: { podIP: "10.0.0.1" },
    });
    const dual = slimPod({
      metadata: { name: "d" },
      status: { podIP: "10.0.0.1", podIPs: [{ ip: "10.0.0.1" }, { ip: "fd00::1" }] },
    });
    expect(dual.status?.podIPs).toEqual([{ ip: "10.0.0.1" }, { ip: "fd00::1" }]);
    const s = slimEndpointSlice({
      ...slices[0]!,
      metadata: { ...slices[0]!.metadata, labels: { "kubernetes.io/service-name": "db", other: "x" } },
    });
    expect(s.metadata.labels).toEqual({ "kubernetes.io/service-name": "db" });
    expect(slimService(services[0]!).spec?.clusterIPs).toBeUndefined();
    expect(slimService(services[1]!).spec?.clusterIPs).toEqual(["10.96.0.11", "fd00:10:96::b"]);
  });
});
