/**
 * The IPVS runtime's plans with exact (golden) expectations. Never applied here: this
 * machine's kernel has no IP_VS and neither ipvsadm nor ipset is installed.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { changedState, ep, fixtureState, svc } from "../iptables/testdata/fixture.js";
import type { ProxyState } from "../model.js";
import {
  canonicalIP,
  deleteServicesText,
  formatIpvsadm,
  hasIpvsChains,
  ipvsIptablesCleanup,
  ipvsJumps,
  nodePortsIn,
  ownedServices,
  parseIpAddrShow,
  parseIpsetSave,
  parseIpvsadm,
  planAddresses,
  planIpsets,
  planIpvs,
  swapSetName,
} from "./plan.js";
import { generateIpvs, IPSET_MAX_NAME, ipsetNames } from "./ruleset.js";

const here = dirname(fileURLToPath(import.meta.url));

function golden(name: string, actual: string): void {
  const file = join(here, "testdata", `${name}.golden`);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(file)) writeFileSync(file, actual);
  expect(actual).toBe(readFileSync(file, "utf8"));
}

const desiredOf = (s: ProxyState) => parseIpvsadm(generateIpvs(s).ipvs, s.family);

/** what `ipvsadm -Sn` prints on a node: ours, someone else's VIP, a fwmark service, IPv6 */
const SAVED = [
  "-A -t 172.30.0.41:80 -s rr",
  "-a -t 172.30.0.41:80 -r 10.180.0.1:8080 -m -w 1",
  "-a -t 172.30.0.41:80 -r 10.180.9.9:8080 -m -w 1",
  "-A -u 172.30.0.45:53 -s rr",
  "-a -u 172.30.0.45:53 -r 10.180.1.5:53 -m -w 0",
  "-A -t 172.30.0.99:80 -s rr",
  "-A -t 192.168.0.2:30099 -s rr",
  "-A -t 198.51.100.7:443 -s wlc",
  "-a -t 198.51.100.7:443 -r 10.9.9.9:443 -g -w 3",
  "-A -f 7 -s rr",
  "-a -f 7 -r 10.9.9.8:0 -g -w 1",
  "-A -t [fd00:10:96::1]:80 -s rr",
  "-a -t [fd00:10:96::1]:80 -r [fd00:10::5]:8080 -m -w 1",
  "",
].join("\n");

describe("parseIpvsadm", () => {
  it("reads virtual and real servers of one family, skipping fwmark services", () => {
    const t = parseIpvsadm(SAVED, 4);
    expect([...t.keys()]).toEqual([
      "-t 172.30.0.41:80",
      "-u 172.30.0.45:53",
      "-t 172.30.0.99:80",
      "-t 192.168.0.2:30099",
      "-t 198.51.100.7:443",
    ]);
    const vs = t.get("-t 198.51.100.7:443")!;
    expect(vs).toMatchObject({ protocol: "tcp", host: "198.51.100.7", port: 443, options: "-s wlc" });
    expect([...vs.reals]).toEqual([["10.9.9.9:443", "-g -w 3"]]);
    const v6 = parseIpvsadm(SAVED, 6);
    expect([...v6.keys()]).toEqual(["-t [fd00:10:96::1]:80"]);
    expect([...parseIpvsadm(SAVED).keys()]).toContain("-f 7");
  });

  it("round-trips the writer's text and canonicalises IPv6", () => {
    const gen = generateIpvs(fixtureState()).ipvs;
    expect(formatIpvsadm(parseIpvsadm(gen, 4))).toBe(gen);
    const t = parseIpvsadm(
      "-A --sctp-service [FD00:10:96:0:0::1]:80 -s rr -p 60\n-a --sctp-service [fd00:10:96::1]:80 -r [fd00:0010::5]:8080 -m -w 1\n",
      6,
    );
    expect(formatIpvsadm(t)).toBe(
      "-A --sctp-service [fd00:10:96::1]:80 -s rr -p 60\n-a --sctp-service [fd00:10:96::1]:80 -r [fd00:10::5]:8080 -m -w 1\n",
    );
    expect(canonicalIP("2001:DB8:0:0::1")).toBe("2001:db8::1");
    expect(canonicalIP("10.0.0.1")).toBe("10.0.0.1");
  });
});

describe("planIpvs", () => {
  it("first sync on an empty table: exactly the writer's restore text (golden)", () => {
    const p = planIpvs(new Map(), desiredOf(fixtureState()), new Set());
    const text = p.lines.join("\n") + "\n";
    golden("ipvsadm", text);
    expect(p.owned.size).toBe(12);
    expect(planIpvs(p.next, desiredOf(fixtureState()), p.owned).lines).toEqual([]);
  });

  it("an endpoint and a service removed, an endpoint added: only those lines", () => {
    const first = planIpvs(new Map(), desiredOf(fixtureState()), new Set());
    const p = planIpvs(first.next, desiredOf(changedState()), first.owned);
    expect(p.lines).toEqual([
      "-D -t 172.30.0.42:80",
      "-D -t 192.168.0.2:30080",
      "-d -t 172.30.0.41:80 -r 10.180.2.3:8080",
      "-a -t 172.30.0.43:80 -r 10.180.0.3:80 -m -w 1",
      "-a -t 192.168.99.33:80 -r 10.180.0.3:80 -m -w 1",
    ]);
    expect(formatIpvsadm(p.next)).toBe(generateIpvs(changedState()).ipvs);
    expect(p.owned.has("-t 172.30.0.42:80")).toBe(false);
  });

  it("affinity switched on and off edits the virtual server (-E), keeping its real servers", () => {
    const s = fixtureState();
    const first = planIpvs(new Map(), desiredOf(s), new Set());
    s.services[0] = { ...s.services[0]!, sessionAffinityClientIP: true, stickyMaxAgeSeconds: 600 };
    const on = planIpvs(first.next, desiredOf(s), first.owned);
    expect(on.lines).toEqual(["-E -t 172.30.0.41:80 -s rr -p 600"]);
    const off = planIpvs(on.next, desiredOf(fixtureState()), on.owned);
    expect(off.lines).toEqual(["-E -t 172.30.0.41:80 -s rr"]);
  });

  it("against what ipvsadm -Sn shows: adopts existing servers, fixes weights, never touches others", () => {
    const current = parseIpvsadm(SAVED, 4);
    const owned = ownedServices(current, {
      boundAddresses: ["172.30.0.41", "172.30.0.45", "172.30.0.99"],
      nodeAddresses: ["192.168.0.2"],
      nodePorts: ["tcp:30099", "tcp:30080"],
    });
    expect([...owned]).toEqual([
      "-t 172.30.0.41:80",
      "-u 172.30.0.45:53",
      "-t 172.30.0.99:80",
      "-t 192.168.0.2:30099",
    ]);
    const s: ProxyState = {
      ...fixtureState(),
      services: [
        svc("ns1", "svc1", "p80", { clusterIP: "172.30.0.41" }),
        svc("ns5", "svc5", "dns", { clusterIP: "172.30.0.45", protocol: "UDP", port: 53 }),
      ],
      endpoints: new Map([
        ["ns1/svc1:p80", [ep("10.180.0.1", 8080), ep("10.180.1.2", 8080)]],
        ["ns5/svc5:dns", [ep("10.180.1.5", 53)]],
      ]),
    };
    const p = planIpvs(current, desiredOf(s), owned);
    expect(p.lines).toEqual([
      "-D -t 172.30.0.99:80",
      "-D -t 192.168.0.2:30099",
      "-d -t 172.30.0.41:80 -r 10.180.9.9:8080",
      "-a -t 172.30.0.41:80 -r 10.180.1.2:8080 -m -w 1",
      "-e -u 172.30.0.45:53 -r 10.180.1.5:53 -m -w 1",
    ]);
    // someone else's virtual server stays, and stays someone else's
    expect(p.next.has("-t 198.51.100.7:443")).toBe(true);
    expect(p.owned.has("-t 198.51.100.7:443")).toBe(false);
  });

  it("a desired virtual server that exists but is not ours is adopted, not re-added", () => {
    const current = parseIpvsadm("-A -t 172.30.0.41:80 -s wlc\n", 4);
    const s: ProxyState = {
      ...fixtureState(),
      services: [svc("ns1", "svc1", "p80", { clusterIP: "172.30.0.41" })],
      endpoints: new Map([["ns1/svc1:p80", [ep("10.180.0.1", 8080)]]]),
    };
    const p = planIpvs(current, desiredOf(s), new Set());
    expect(p.lines).toEqual([
      "-E -t 172.30.0.41:80 -s rr",
      "-a -t 172.30.0.41:80 -r 10.180.0.1:8080 -m -w 1",
    ]);
    expect(p.owned.has("-t 172.30.0.41:80")).toBe(true);
  });

  it("deleteServicesText", () => {
    expect(deleteServicesText(["-t 10.0.0.1:80", "-u 10.0.0.2:53"])).toBe(
      "-D -t 10.0.0.1:80\n-D -u 10.0.0.2:53\n",
    );
    expect(deleteServicesText([])).toBe("");
  });
});

describe("planIpsets", () => {
  it("first sync: every set refilled through its swap set (golden)", () => {
    const p = planIpsets(generateIpvs(fixtureState()).sets, undefined);
    golden("ipset-swap", p.script);
    expect(p.changed).toHaveLength(9);
  });

  it("later syncs rewrite only the sets whose entries changed", () => {
    const first = planIpsets(generateIpvs(fixtureState()).sets, undefined);
    expect(planIpsets(generateIpvs(fixtureState()).sets, first.applied).script).toBe("");
    const s = fixtureState();
    s.endpoints.set("ns2/svc2:http", [ep("10.180.1.9", 80)]);
    const p = planIpsets(generateIpvs(s).sets, first.applied);
    expect(p.changed).toEqual(["KUBE-LOOP-BACK"]);
    const c = '"Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose"';
    const lb = (e: string) => `add KUBE-LOOP-BACK-SWAP ${e} comment ${c} -exist`;
    expect(p.script).toBe(
      [
        "create KUBE-LOOP-BACK hash:ip,port,ip family inet hashsize 1024 maxelem 65536 comment -exist",
        "create KUBE-LOOP-BACK-SWAP hash:ip,port,ip family inet hashsize 1024 maxelem 65536 comment -exist",
        "flush KUBE-LOOP-BACK-SWAP",
        lb("10.180.0.1,tcp:8080,10.180.0.1"),
        lb("10.180.1.2,tcp:8080,10.180.1.2"),
        lb("10.180.2.3,tcp:8080,10.180.2.3"),
        lb("10.180.1.9,tcp:80,10.180.1.9"),
        lb("10.180.0.4,tcp:80,10.180.0.4"),
        lb("10.180.2.4,tcp:80,10.180.2.4"),
        lb("10.180.1.5,udp:53,10.180.1.5"),
        lb("10.180.2.5,udp:53,10.180.2.5"),
        lb("10.180.0.6,tcp:80,10.180.0.6"),
        lb("10.180.2.7,tcp:80,10.180.2.7"),
        "swap KUBE-LOOP-BACK-SWAP KUBE-LOOP-BACK",
        "destroy KUBE-LOOP-BACK-SWAP",
        "",
      ].join("\n"),
    );
  });

  it("set and swap set names fit ipset's 31 characters and never collide", () => {
    const all = [...ipsetNames(4), ...ipsetNames(6)];
    const swaps = all.map(swapSetName);
    expect(new Set([...all, ...swaps]).size).toBe(all.length * 2);
    for (const n of [...all, ...swaps]) expect(n.length).toBeLessThanOrEqual(IPSET_MAX_NAME);
    expect(ipsetNames(6)).toContain("KUBE-6-LOAD-BALANCER-SOURCE-CID");
    expect(swapSetName("KUBE-LOAD-BALANCER-SOURCE-CIDR")).toBe("KUBE-LOAD-BALANCER-SOURCE-SWAP");
    expect(swapSetName("KUBE-CLUSTER-IP")).toBe("KUBE-CLUSTER-IP-SWAP");
  });

  it("reads NodePorts from ipset save output", () => {
    const save = [
      "create KUBE-NODE-PORT-TCP bitmap:port range 0-65535 comment",
      'add KUBE-NODE-PORT-TCP 30080 comment "Kubernetes nodeport TCP port for masquerade purpose"',
      "create KUBE-NODE-PORT-UDP bitmap:port range 0-65535 comment",
      "add KUBE-NODE-PORT-UDP 30053",
      "create KUBE-NODE-PORT-SCTP-HASH hash:ip,port family inet hashsize 1024 maxelem 65536 comment",
      "add KUBE-NODE-PORT-SCTP-HASH 192.168.0.2,sctp:30001",
      "create KUBE-6-NODE-PORT-TCP bitmap:port range 0-65535 comment",
      "add KUBE-6-NODE-PORT-TCP 30666",
    ].join("\n");
    const sets = parseIpsetSave(save);
    expect(nodePortsIn(sets, 4)).toEqual(["tcp:30080", "udp:30053", "sctp:30001"]);
    expect(nodePortsIn(sets, 6)).toEqual(["tcp:30666"]);
  });
});

describe("planAddresses", () => {
  const SHOW = [
    "7: kube-ipvs0    inet 172.30.0.41/32 scope global kube-ipvs0\\       valid_lft forever preferred_lft forever",
    "7: kube-ipvs0    inet 172.30.0.99/32 scope global kube-ipvs0\\       valid_lft forever preferred_lft forever",
    "7: kube-ipvs0    inet6 fd00:10:96::1/128 scope global nodad \\       valid_lft forever preferred_lft forever",
  ].join("\n");

  it("reads kube-ipvs0's addresses per family", () => {
    expect(parseIpAddrShow(SHOW, 4)).toEqual(["172.30.0.41", "172.30.0.99"]);
    expect(parseIpAddrShow(SHOW, 6)).toEqual(["fd00:10:96::1"]);
  });

  it("binds new VIPs and unbinds unused ones (exact ip -batch input)", () => {
    const p = planAddresses(parseIpAddrShow(SHOW, 4), generateIpvs(changedState()).addresses, 4);
    expect(p.addBatch).toBe(
      [
        "address add 172.30.0.43/32 dev kube-ipvs0",
        "address add 192.168.99.33/32 dev kube-ipvs0",
        "address add 172.30.0.44/32 dev kube-ipvs0",
        "address add 1.2.3.4/32 dev kube-ipvs0",
        "address add 172.30.0.45/32 dev kube-ipvs0",
        "address add 172.30.0.46/32 dev kube-ipvs0",
        "address add 172.30.0.47/32 dev kube-ipvs0",
        "",
      ].join("\n"),
    );
    expect(p.delBatch).toBe("address del 172.30.0.99/32 dev kube-ipvs0\n");
    expect(planAddresses(["172.30.0.41"], ["172.30.0.41"], 4)).toEqual({
      add: [],
      del: [],
      addBatch: "",
      delBatch: "",
    });
  });

  it("IPv6: /128 with nodad", () => {
    const p = planAddresses(["fd00:10:96::1"], ["fd00:10:96:0::2"], 6);
    expect(p.addBatch).toBe("address add fd00:10:96::2/128 dev kube-ipvs0 nodad\n");
    expect(p.delBatch).toBe("address del fd00:10:96::1/128 dev kube-ipvs0\n");
  });
});

describe("iptables jumps and cleanup", () => {
  it("jump argv", () => {
    expect(ipvsJumps()[0]).toEqual({
      table: "nat",
      chain: "OUTPUT",
      target: "KUBE-SERVICES",
      check: [
        "-t",
        "nat",
        "-C",
        "OUTPUT",
        "-m",
        "comment",
        "--comment",
        "kubernetes service portals",
        "-j",
        "KUBE-SERVICES",
      ],
      insert: [
        "-t",
        "nat",
        "-I",
        "OUTPUT",
        "-m",
        "comment",
        "--comment",
        "kubernetes service portals",
        "-j",
        "KUBE-SERVICES",
      ],
      delete: [
        "-t",
        "nat",
        "-D",
        "OUTPUT",
        "-m",
        "comment",
        "--comment",
        "kubernetes service portals",
        "-j",
        "KUBE-SERVICES",
      ],
    });
    expect(ipvsJumps()).toHaveLength(6);
  });

  it("detects IPVS mode's chains (not iptables mode's)", () => {
    const ipvsSave = generateIpvs(fixtureState()).iptables;
    expect(hasIpvsChains(ipvsSave)).toBe(true);
    expect(hasIpvsChains("*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-NODEPORTS - [0:0]\nCOMMIT\n")).toBe(false);
  });

  it("flushes every IPVS chain, deletes only IPVS-only chains", () => {
    expect(ipvsIptablesCleanup(new Set(["filter", "nat"]))).toBe(
      [
        "*filter",
        ":KUBE-FORWARD - [0:0]",
        ":KUBE-PROXY-FIREWALL - [0:0]",
        ":KUBE-SOURCE-RANGES-FIREWALL - [0:0]",
        "-X KUBE-SOURCE-RANGES-FIREWALL",
        "COMMIT",
        "*nat",
        ":KUBE-SERVICES - [0:0]",
        ":KUBE-POSTROUTING - [0:0]",
        ":KUBE-NODE-PORT - [0:0]",
        ":KUBE-LOAD-BALANCER - [0:0]",
        ":KUBE-MARK-MASQ - [0:0]",
        "-X KUBE-NODE-PORT",
        "-X KUBE-LOAD-BALANCER",
        "COMMIT",
        "",
      ].join("\n"),
    );
    expect(ipvsIptablesCleanup(new Set(["nat"]))).not.toContain("*filter");
  });
});
