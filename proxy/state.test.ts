import { describe, expect, it } from "vitest";
import type { ProxyConfig } from "./model.js";
import {
  buildProxyState,
  cidrContains,
  diffStates,
  type EndpointSlice,
  endpointsFor,
  nodeEligible,
  nodePortAddresses,
  type Service,
  servicePorts,
} from "./state.js";

const config: ProxyConfig = { clusterCIDR: "10.244.0.0/16", masqueradeAll: false, masqueradeBit: 14 };

function svc(name: string, spec: Service["spec"], extra: Partial<Service> = {}): Service {
  return { metadata: { name, namespace: "default" }, spec, ...extra };
}

function slice(
  svcName: string,
  endpoints: EndpointSlice["endpoints"],
  ports: EndpointSlice["ports"] = [{ name: "http", protocol: "TCP", port: 8080 }],
  addressType = "IPv4",
  name = `${svcName}-abc`,
): EndpointSlice {
  return {
    metadata: { name, namespace: "default", labels: { "kubernetes.io/service-name": svcName } },
    addressType,
    endpoints,
    ports,
  };
}

const web = svc("web", {
  type: "ClusterIP",
  clusterIP: "10.96.0.10",
  clusterIPs: ["10.96.0.10"],
  ports: [
    { name: "http", port: 80, protocol: "TCP" },
    { name: "dns", port: 53, protocol: "UDP" },
  ],
});

function state(
  services: Service[],
  slices: EndpointSlice[],
  extra: Partial<Parameters<typeof buildProxyState>[0]> = {},
) {
  return buildProxyState({
    family: 4,
    services,
    slices,
    nodeName: "node-a",
    localAddresses: ["10.244.0.1", "127.0.0.1", "fd00::1"],
    config,
    ...extra,
  });
}

describe("cidrContains", () => {
  it("handles v4 and v6", () => {
    expect(cidrContains("10.244.0.0/16", "10.244.3.4")).toBe(true);
    expect(cidrContains("10.244.0.0/16", "10.245.0.1")).toBe(false);
    expect(cidrContains("0.0.0.0/0", "1.2.3.4")).toBe(true);
    expect(cidrContains("10.0.0.1/32", "10.0.0.1")).toBe(true);
    expect(cidrContains("fd00::/64", "fd00::5")).toBe(true);
    expect(cidrContains("fd00::/64", "fd01::5")).toBe(false);
    expect(cidrContains("fd00::/64", "10.0.0.1")).toBe(false);
    expect(cidrContains("::ffff:0:0/96", "::ffff:1.2.3.4")).toBe(true);
  });
});

describe("servicePorts", () => {
  it("one ServicePort per port with defaults", () => {
    const sps = servicePorts(web, 4);
    expect(sps.map((s) => s.servicePortName)).toEqual(["default/web:http", "default/web:dns"]);
    expect(sps[0]).toMatchObject({
      protocol: "TCP",
      port: 80,
      clusterIP: "10.96.0.10",
      family: 4,
      nodePort: undefined,
    });
    expect(sps[0]!.sessionAffinityClientIP).toBe(false);
    expect(sps[0]!.stickyMaxAgeSeconds).toBe(10800);
    expect(sps[1]!.protocol).toBe("UDP");
  });
  it("skips headless, ExternalName and the other family", () => {
    expect(servicePorts(svc("h", { clusterIP: "None", ports: [{ port: 80 }] }), 4)).toEqual([]);
    expect(servicePorts(svc("e", { type: "ExternalName", ports: [{ port: 80 }] }), 4)).toEqual([]);
    expect(servicePorts(web, 6)).toEqual([]);
    expect(servicePorts(svc("n", { ports: [{ port: 80 }] }), 4)).toEqual([]);
  });
  it("dual-stack picks the IP of the family", () => {
    const s = svc("d", {
      clusterIP: "10.96.0.5",
      clusterIPs: ["10.96.0.5", "fd00:96::5"],
      ports: [{ port: 80 }],
      externalIPs: ["1.2.3.4", "2001:db8::1"],
    });
    expect(servicePorts(s, 6)[0]).toMatchObject({
      clusterIP: "fd00:96::5",
      externalIPs: ["2001:db8::1"],
      servicePortName: "default/d:",
    });
    expect(servicePorts(s, 4)[0]).toMatchObject({ clusterIP: "10.96.0.5", externalIPs: ["1.2.3.4"] });
  });
  it("NodePort, LoadBalancer, ETP/ITP Local, health check port, affinity", () => {
    const lb = svc(
      "lb",
      {
        type: "LoadBalancer",
        clusterIP: "10.96.0.7",
        ports: [{ name: "http", port: 80, nodePort: 30080 }],
        externalTrafficPolicy: "Local",
        internalTrafficPolicy: "Local",
        healthCheckNodePort: 32000,
        loadBalancerSourceRanges: ["192.168.0.0/16 "],
        sessionAffinity: "ClientIP",
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
      },
      {
        status: {
          loadBalancer: {
            ingress: [{ ip: "5.6.7.8" }, { hostname: "x.example" }, { ip: "5.6.7.9", ipMode: "Proxy" }],
          },
        },
      },
    );
    expect(servicePorts(lb, 4)[0]).toMatchObject({
      nodePort: 30080,
      externalPolicyLocal: true,
      internalPolicyLocal: true,
      healthCheckNodePort: 32000,
      loadBalancerIPs: ["5.6.7.8"],
      loadBalancerSourceRanges: ["192.168.0.0/16"],
      sessionAffinityClientIP: true,
      stickyMaxAgeSeconds: 60,
    });
    // ETP Local on a ClusterIP service means nothing
    const ci = svc("ci", {
      clusterIP: "10.96.0.8",
      ports: [{ port: 80, nodePort: 30001 }],
      externalTrafficPolicy: "Local",
    });
    expect(servicePorts(ci, 4)[0]).toMatchObject({
      externalPolicyLocal: false,
      nodePort: undefined,
      healthCheckNodePort: undefined,
    });
    // NodePort + ETP Local: local policy, but the health check port is for load balancers only
    const np = svc("np", {
      type: "NodePort",
      clusterIP: "10.96.0.9",
      ports: [{ port: 80, nodePort: 30002 }],
      externalTrafficPolicy: "Local",
      healthCheckNodePort: 1,
    });
    expect(servicePorts(np, 4)[0]).toMatchObject({
      externalPolicyLocal: true,
      nodePort: 30002,
      healthCheckNodePort: undefined,
    });
  });
});

describe("endpointsFor", () => {
  const sp = servicePorts(web, 4)[0]!;
  it("matches by port name and protocol, reads conditions", () => {
    const eps = endpointsFor(
      sp,
      [
        slice(
          "web",
          [
            { addresses: ["10.244.0.3"], conditions: { ready: true }, nodeName: "node-a", zone: "z1" },
            { addresses: ["10.244.0.2", "10.244.0.99"], conditions: {}, nodeName: "node-b" },
            { addresses: ["10.244.0.4"], conditions: { ready: false, serving: true, terminating: true } },
            { addresses: ["10.244.0.5"], conditions: { ready: null } },
          ],
          [
            { name: "http", protocol: "TCP", port: 8080 },
            { name: "dns", protocol: "UDP", port: 5353 },
          ],
        ),
        slice(
          "web",
          [{ addresses: ["10.244.9.9"] }],
          [{ name: "other", protocol: "TCP", port: 1 }],
          "IPv4",
          "web-2",
        ),
        slice(
          "web",
          [{ addresses: ["fd00::9"] }],
          [{ name: "http", protocol: "TCP", port: 8080 }],
          "IPv6",
          "web-3",
        ),
      ],
      "node-a",
    );
    expect(eps).toEqual([
      {
        ip: "10.244.0.2",
        port: 8080,
        isLocal: false,
        ready: true,
        serving: true,
        terminating: false,
        nodeName: "node-b",
      },
      {
        ip: "10.244.0.3",
        port: 8080,
        isLocal: true,
        ready: true,
        serving: true,
        terminating: false,
        nodeName: "node-a",
        zone: "z1",
      },
      { ip: "10.244.0.4", port: 8080, isLocal: false, ready: false, serving: true, terminating: true },
      { ip: "10.244.0.5", port: 8080, isLocal: false, ready: true, serving: true, terminating: false },
    ]);
  });
  it("default port name and protocol; nil port skipped; duplicates prefer ready", () => {
    const s = svc("x", { clusterIP: "10.96.0.11", ports: [{ port: 80 }] });
    const p = servicePorts(s, 4)[0]!;
    const eps = endpointsFor(
      p,
      [
        slice(
          "x",
          [{ addresses: ["10.244.0.2"], conditions: { ready: false } }],
          [{ port: 8080 }],
          "IPv4",
          "a",
        ),
        slice(
          "x",
          [{ addresses: ["10.244.0.2"], conditions: { ready: true } }],
          [{ port: 8080 }],
          "IPv4",
          "b",
        ),
        slice("x", [{ addresses: ["10.244.0.7"] }], [{ port: null }], "IPv4", "c"),
      ],
      "node-a",
    );
    expect(eps).toEqual([
      { ip: "10.244.0.2", port: 8080, isLocal: false, ready: true, serving: true, terminating: false },
    ]);
  });
});

describe("buildProxyState", () => {
  it("joins services and slices by the service-name label in the same namespace", () => {
    const other: EndpointSlice = {
      ...slice("web", [{ addresses: ["10.244.5.5"] }]),
      metadata: { name: "o", namespace: "prod", labels: { "kubernetes.io/service-name": "web" } },
    };
    const unlabelled: EndpointSlice = {
      ...slice("web", [{ addresses: ["10.244.6.6"] }]),
      metadata: { name: "u", namespace: "default" },
    };
    const st = state([web], [slice("web", [{ addresses: ["10.244.0.2"] }]), other, unlabelled]);
    expect(st.services.map((s) => s.servicePortName)).toEqual(["default/web:http", "default/web:dns"]);
    expect(st.endpoints.get("default/web:http")!.map((e) => e.ip)).toEqual(["10.244.0.2"]);
    expect(st.endpoints.get("default/web:dns")).toEqual([]);
    expect(st.node).toEqual({
      name: "node-a",
      nodePortAddresses: ["10.244.0.1", "127.0.0.1"],
      nodePortOnAllLocal: true,
    });
  });
  it("node port addresses from --nodeport-addresses", () => {
    expect(
      nodePortAddresses(4, ["10.244.0.0/24", "fd00::/8"], ["10.244.0.1", "127.0.0.1", "10.1.1.1"]),
    ).toEqual({
      nodePortAddresses: ["10.244.0.1"],
      nodePortOnAllLocal: false,
    });
    expect(nodePortAddresses(6, ["10.244.0.0/24", "fd00::/8"], ["10.244.0.1", "fd00::1", "::1"])).toEqual({
      nodePortAddresses: ["fd00::1"],
      nodePortOnAllLocal: false,
    });
  });
});

describe("diffStates", () => {
  const s0 = state([web], [slice("web", [{ addresses: ["10.244.0.2"] }, { addresses: ["10.244.0.3"] }])]);
  it("everything is new at first", () => {
    const d = diffStates(undefined, s0);
    expect(d.needsFull).toBe(true);
    expect([...d.changed].sort()).toEqual(["default/web:dns", "default/web:http"]);
    expect([...d.endpointsChanged]).toEqual(["default/web:http"]);
  });
  it("no change → nothing", () => {
    const d = diffStates(
      s0,
      state([web], [slice("web", [{ addresses: ["10.244.0.2"] }, { addresses: ["10.244.0.3"] }])]),
    );
    expect(d).toEqual({
      changed: new Set(),
      servicesChanged: new Set(),
      endpointsChanged: new Set(),
      needsFull: false,
    });
  });
  it("an endpoint change touches only that port", () => {
    const d = diffStates(s0, state([web], [slice("web", [{ addresses: ["10.244.0.2"] }])]));
    expect([...d.changed]).toEqual(["default/web:http"]);
    expect([...d.servicesChanged]).toEqual([]);
  });
  it("removed and added services; node changes need a full sync", () => {
    const other = svc("other", { clusterIP: "10.96.0.20", ports: [{ port: 81 }] });
    const d = diffStates(s0, state([other], []));
    expect([...d.changed].sort()).toEqual(["default/other:", "default/web:dns", "default/web:http"]);
    expect([...d.endpointsChanged]).toEqual(["default/web:http"]);
    expect(diffStates(s0, state([web], [], { localAddresses: ["10.244.0.9"] })).needsFull).toBe(true);
  });
});

describe("nodeEligible", () => {
  it("deleting or autoscaler-tainted nodes are not eligible", () => {
    expect(nodeEligible(undefined)).toBe(true);
    expect(nodeEligible({ metadata: { name: "n" } })).toBe(true);
    expect(nodeEligible({ metadata: { name: "n", deletionTimestamp: "2024-01-01T00:00:00Z" } })).toBe(false);
    expect(
      nodeEligible({
        metadata: { name: "n" },
        spec: { taints: [{ key: "ToBeDeletedByClusterAutoscaler" }] },
      }),
    ).toBe(false);
  });
});
