import { describe, expect, it } from "vitest";
import {
  base32,
  extChain,
  fwChain,
  iptablesChainsFor,
  isIptablesServiceChain,
  isNftServiceChain,
  joinHostPort,
  nftAffinitySet,
  nftChainsFor,
  nftEndpointChain,
  sepChain,
  svcChain,
  svlChain,
} from "./names.js";

describe("base32", () => {
  it("matches RFC 4648 test vectors", () => {
    const v: [string, string][] = [
      ["", ""],
      ["f", "MY======"],
      ["fo", "MZXQ===="],
      ["foo", "MZXW6==="],
      ["foob", "MZXW6YQ="],
      ["fooba", "MZXW6YTB"],
      ["foobar", "MZXW6YTBOI======"],
    ];
    for (const [i, o] of v) expect(base32(Buffer.from(i))).toBe(o);
  });
});

describe("iptables chain names", () => {
  it("matches kube-proxy's vectors", () => {
    expect(svcChain("default/kubernetes:https", "TCP")).toBe("KUBE-SVC-NPX46M4PTMTKRN6Y");
    expect(svcChain("kube-system/kube-dns:dns", "UDP")).toBe("KUBE-SVC-TCOU7JCQXEZGVUNU");
    expect(svcChain("kube-system/kube-dns:dns", "udp")).toBe("KUBE-SVC-TCOU7JCQXEZGVUNU");
  });
  it("matches upstream's test expectations for SVC/EXT/FW/SEP", () => {
    expect(svcChain("ns1/svc1:p80", "TCP")).toBe("KUBE-SVC-XPGD46QRK7WJZT7O");
    expect(extChain("ns2/svc2:p80", "TCP")).toBe("KUBE-EXT-GNZBNJ2PO5MGZ6GT");
    expect(fwChain("ns5/svc5:p80", "TCP")).toBe("KUBE-FW-NUKIZ6OKUXPJNT4C");
    expect(sepChain("ns5/svc5:p80", "TCP", "10.180.0.3:80")).toBe("KUBE-SEP-I77PXRDZVX7PMWMN");
    expect(sepChain("ns4/svc4:p80", "TCP", "10.180.0.5:80")).toBe("KUBE-SEP-C6EBXVWJJZMIWKLZ");
    expect(sepChain("ns1/svc1:p80", "TCP", "10.180.0.1:80")).toBe("KUBE-SEP-SXIVWICOYRO3J4NJ");
  });
  it("shares one hash between SVC, SVL, EXT and FW", () => {
    const c = iptablesChainsFor({ servicePortName: "ns/a:http", protocol: "TCP" });
    expect(c.svc).toBe(svcChain("ns/a:http", "TCP"));
    expect(c.svl).toBe(svlChain("ns/a:http", "TCP"));
    expect(c.svl.slice(9)).toBe(c.svc.slice(9));
    expect(c.ext.slice(9)).toBe(c.svc.slice(9));
    expect(c.fw.slice(8)).toBe(c.svc.slice(8 + 1));
    expect(c.svc).toHaveLength(25);
  });
  it("depends on the protocol and on the endpoint", () => {
    expect(svcChain("ns/a:dns", "TCP")).not.toBe(svcChain("ns/a:dns", "UDP"));
    expect(sepChain("ns/a:dns", "UDP", "10.0.0.1:53")).not.toBe(sepChain("ns/a:dns", "UDP", "10.0.0.2:53"));
  });
  it("classifies service chains", () => {
    expect(isIptablesServiceChain("KUBE-SEP-ABC")).toBe(true);
    expect(isIptablesServiceChain("KUBE-SERVICES")).toBe(false);
    expect(isIptablesServiceChain("KUBE-MARK-MASQ")).toBe(false);
  });
  it("joins IPv6 host and port with brackets", () => {
    expect(joinHostPort("10.0.0.1", 80)).toBe("10.0.0.1:80");
    expect(joinHostPort("fd00::1", 80)).toBe("[fd00::1]:80");
  });
});

describe("nftables chain names", () => {
  it("matches upstream's test expectations", () => {
    const c = nftChainsFor({ servicePortName: "ns1/svc1:p80", protocol: "TCP" });
    expect(c.cluster).toBe("service-ULMVA6XW-ns1/svc1/tcp/p80");
    expect(c.local).toBe("local-ULMVA6XW-ns1/svc1/tcp/p80");
    expect(nftChainsFor({ servicePortName: "ns2/svc2:p80", protocol: "TCP" }).external).toBe(
      "external-42NFTM6N-ns2/svc2/tcp/p80",
    );
    expect(nftChainsFor({ servicePortName: "ns5/svc5:p80", protocol: "TCP" }).firewall).toBe(
      "firewall-HVFWP5L3-ns5/svc5/tcp/p80",
    );
    expect(nftEndpointChain("ns1/svc1:p80", "TCP", "10.180.0.1", 80)).toBe(
      "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80",
    );
    expect(nftAffinitySet("ns5/svc5:p80", "TCP", "10.180.0.3", 80)).toBe(
      "affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80",
    );
  });
  it("handles unnamed ports and IPv6 endpoints", () => {
    expect(nftChainsFor({ servicePortName: "ns/svc:", protocol: "UDP" }).cluster).toMatch(
      /^service-[A-Z2-7]{8}-ns\/svc\/udp\/$/,
    );
    const ep = nftEndpointChain("ns/svc:http", "TCP", "fd00:10::5", 8080);
    expect(ep).toMatch(/^endpoint-[A-Z2-7]{8}-ns\/svc\/tcp\/http__fd00\.10\.\.5\/8080$/);
    expect(isNftServiceChain(ep)).toBe(true);
    expect(isNftServiceChain("services")).toBe(false);
  });
  it("truncates over-long names", () => {
    const long = "x".repeat(63);
    const ep = nftEndpointChain(
      `${long}/${long}:${long}`,
      "SCTP",
      "fd00:1111:2222:3333:4444:5555:6666:7777",
      65535,
    );
    expect(ep.length).toBeLessThanOrEqual(9 + 240);
    expect(ep.endsWith("...")).toBe(true);
  });
});
