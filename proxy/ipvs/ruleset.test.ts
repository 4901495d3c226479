/**
 * Golden tests only: this machine's kernel has no IP_VS module and no ipset tool, so the
 * generated ipvsadm/ipset/iptables text is never applied here.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ep, fixtureState, svc } from "../iptables/testdata/fixture.js";
import type { ProxyState } from "../model.js";
import { generateIpvs, ipsetName } from "./ruleset.js";

const here = dirname(fileURLToPath(import.meta.url));

function golden(name: string, actual: string): void {
  const file = join(here, "testdata", `${name}.golden`);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(file)) writeFileSync(file, actual);
  expect(actual).toBe(readFileSync(file, "utf8"));
}

describe("ipvs golden output", () => {
  const r = generateIpvs(fixtureState());
  it("virtual servers", () => golden("ipvsadm", r.ipvs));
  it("ipsets", () => golden("ipset", r.ipset));
  it("iptables", () => golden("iptables", r.iptables));
});

describe("ipvs writer", () => {
  const r = generateIpvs(fixtureState());
  const l = r.ipvs.split("\n");

  it("creates rr virtual servers with masquerading real servers", () => {
    expect(l).toContain("-A -t 172.30.0.41:80 -s rr");
    expect(l).toContain("-a -t 172.30.0.41:80 -r 10.180.0.1:8080 -m -w 1");
    expect(l.filter((x) => x.startsWith("-a -t 172.30.0.41:80 "))).toHaveLength(3);
  });

  it("uses persistence for ClientIP affinity and -u for UDP", () => {
    expect(l).toContain("-A -u 172.30.0.45:53 -s rr -p 10800");
  });

  it("creates NodePort virtual servers on the node addresses, Local policy with local endpoints only", () => {
    expect(l).toContain("-A -t 192.168.0.2:30080 -s rr");
    expect(l.filter((x) => x.startsWith("-a -t 192.168.0.2:30044 "))).toEqual([
      "-a -t 192.168.0.2:30044 -r 10.180.0.4:80 -m -w 1",
    ]);
    expect(l.filter((x) => x.startsWith("-a -t 1.2.3.4:80 "))).toHaveLength(1);
    // ClusterIP of an ETP Local service still uses every endpoint
    expect(l.filter((x) => x.startsWith("-a -t 172.30.0.44:80 "))).toHaveLength(2);
  });

  it("keeps a virtual server without real servers for services without endpoints", () => {
    expect(l).toContain("-A -t 172.30.0.43:80 -s rr");
    expect(l.some((x) => x.startsWith("-a -t 172.30.0.43:80"))).toBe(false);
  });

  it("fills the ipsets and binds the VIPs", () => {
    expect(r.ipset).toContain("add KUBE-CLUSTER-IP 172.30.0.41,tcp:80 comment");
    expect(r.ipset).toContain("add KUBE-LOOP-BACK 10.180.0.1,tcp:8080,10.180.0.1");
    expect(r.ipset).toContain("add KUBE-NODE-PORT-TCP 30080");
    expect(r.ipset).toContain("add KUBE-LOAD-BALANCER-SOURCE-CIDR 1.2.3.4,tcp:80,203.0.113.0/25");
    expect(r.addresses).toContain("172.30.0.41");
    expect(r.addresses).toContain("1.2.3.4");
    expect(r.addresses).not.toContain("192.168.0.2");
  });

  it("masquerades off-cluster sources to ClusterIPs via the ipset", () => {
    expect(r.iptables).toContain(
      '-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ',
    );
    expect(r.iptables).toContain("-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000");
  });

  it("writes IPv6 virtual servers and KUBE-6- sets", () => {
    const s: ProxyState = {
      family: 6,
      services: [
        svc("ns", "v6", "http", { family: 6, clusterIP: "fd00:10:96::1", protocol: "SCTP", nodePort: 30001 }),
      ],
      endpoints: new Map([["ns/v6:http", [ep("fd00:10::5", 8080)]]]),
      node: { name: "n", nodePortAddresses: ["2001:db8::1", "192.168.0.2"], nodePortOnAllLocal: false },
      config: { clusterCIDR: "fd00:10::/64", masqueradeAll: true, masqueradeBit: 14 },
    };
    const v6 = generateIpvs(s);
    expect(v6.ipvs).toContain("-A --sctp-service [fd00:10:96::1]:80 -s rr");
    expect(v6.ipvs).toContain("-a --sctp-service [2001:db8::1]:30001 -r [fd00:10::5]:8080 -m -w 1");
    expect(v6.ipset).toContain("create KUBE-6-CLUSTER-IP hash:ip,port family inet6");
    expect(v6.ipset).toContain("add KUBE-6-NODE-PORT-SCTP-HASH 2001:db8::1,sctp:30001");
    expect(v6.iptables).toContain("-m set --match-set KUBE-6-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ");
    expect(ipsetName("LOOP-BACK", 6)).toBe("KUBE-6-LOOP-BACK");
  });
});
