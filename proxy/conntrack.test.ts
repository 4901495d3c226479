import { describe, expect, it } from "vitest";
import { conntrackArgs, staleConntrack } from "./conntrack.js";
import type { Endpoint, ProxyState, ServicePort } from "./model.js";

function sp(name: string, protocol: ServicePort["protocol"], extra: Partial<ServicePort> = {}): ServicePort {
  return {
    servicePortName: `default/${name}:`,
    namespace: "default",
    name,
    portName: "",
    protocol,
    family: 4,
    clusterIP: "10.96.0.10",
    port: 53,
    externalIPs: [],
    loadBalancerIPs: [],
    loadBalancerSourceRanges: [],
    externalPolicyLocal: false,
    internalPolicyLocal: false,
    sessionAffinityClientIP: false,
    stickyMaxAgeSeconds: 10800,
    ...extra,
  };
}
const ep = (ip: string, ready = true): Endpoint => ({
  ip,
  port: 5353,
  isLocal: false,
  ready,
  serving: ready,
  terminating: false,
});
function st(services: ServicePort[], eps: Record<string, Endpoint[]>): ProxyState {
  return {
    family: 4,
    services,
    endpoints: new Map(Object.entries(eps)),
    node: { name: "n", nodePortAddresses: [], nodePortOnAllLocal: true },
    config: { masqueradeAll: false, masqueradeBit: 14 },
  };
}

describe("staleConntrack", () => {
  const dns = sp("dns", "UDP", { nodePort: 30053, externalIPs: ["1.2.3.4"] });
  it("nothing at start-up (restart safety)", () => {
    expect(staleConntrack(undefined, st([dns], { "default/dns:": [ep("10.244.0.2")] }))).toEqual([]);
  });
  it("removed endpoint → nat deletions for every service IP and the node port", () => {
    const a = st([dns], { "default/dns:": [ep("10.244.0.2"), ep("10.244.0.3")] });
    const b = st([dns], { "default/dns:": [ep("10.244.0.3")] });
    expect(staleConntrack(a, b)).toEqual([
      { kind: "nat", origDst: "10.96.0.10", dstNat: "10.244.0.2" },
      { kind: "nat", origDst: "1.2.3.4", dstNat: "10.244.0.2" },
      { kind: "portNat", port: 30053, dstNat: "10.244.0.2" },
    ]);
  });
  it("an endpoint turning unready counts as removed", () => {
    const a = st([dns], { "default/dns:": [ep("10.244.0.2"), ep("10.244.0.3")] });
    const b = st([dns], { "default/dns:": [ep("10.244.0.2", false), ep("10.244.0.3")] });
    expect(staleConntrack(a, b).filter((d) => d.kind === "nat")).toHaveLength(2);
  });
  it("first endpoint → flows to the VIP and node port go", () => {
    const a = st([dns], { "default/dns:": [] });
    const b = st([dns], { "default/dns:": [ep("10.244.0.2")] });
    expect(staleConntrack(a, b)).toEqual([
      { kind: "origDst", origDst: "10.96.0.10" },
      { kind: "origDst", origDst: "1.2.3.4" },
      { kind: "port", port: 30053 },
    ]);
  });
  it("a removed service's endpoints are stale; TCP is ignored", () => {
    const tcp = sp("web", "TCP", { clusterIP: "10.96.0.11" });
    const a = st([dns, tcp], { "default/dns:": [ep("10.244.0.2")], "default/web:": [ep("10.244.0.5")] });
    const b = st([], {});
    expect(staleConntrack(a, b)).toEqual([
      { kind: "nat", origDst: "10.96.0.10", dstNat: "10.244.0.2" },
      { kind: "nat", origDst: "1.2.3.4", dstNat: "10.244.0.2" },
      { kind: "portNat", port: 30053, dstNat: "10.244.0.2" },
    ]);
  });
});

describe("conntrackArgs", () => {
  it("builds conntrack -D arguments", () => {
    expect(conntrackArgs({ kind: "origDst", origDst: "10.96.0.10" })).toEqual([
      "-D",
      "-p",
      "udp",
      "--orig-dst",
      "10.96.0.10",
    ]);
    expect(conntrackArgs({ kind: "port", port: 30053 })).toEqual(["-D", "-p", "udp", "--dport", "30053"]);
    expect(conntrackArgs({ kind: "nat", origDst: "10.96.0.10", dstNat: "10.244.0.2" })).toEqual([
      "-D",
      "-p",
      "udp",
      "--orig-dst",
      "10.96.0.10",
      "--dst-nat",
      "10.244.0.2",
    ]);
    expect(conntrackArgs({ kind: "portNat", port: 30053, dstNat: "10.244.0.2" })).toEqual([
      "-D",
      "-p",
      "udp",
      "--orig-port-dst",
      "30053",
      "--dst-nat",
      "10.244.0.2",
    ]);
  });
});
