import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { ProxyState } from "../model.js";
import { sepChain, svcChain } from "../names.js";
import {
  canaryChains,
  cleanupRuleset,
  ensureJumps,
  generate,
  kubeChainsIn,
  probability,
  restoreText,
} from "./ruleset.js";
import { CHANGED, changedState, ep, fixtureState, svc } from "./testdata/fixture.js";
import { NetNS, netnsSkipReason } from "./testdata/netns.js";

const here = dirname(fileURLToPath(import.meta.url));

/** compare with testdata/NAME.golden; UPDATE_GOLDEN=1 rewrites the file */
function golden(name: string, actual: string): void {
  const file = join(here, "testdata", `${name}.golden`);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(file)) writeFileSync(file, actual);
  expect(actual).toBe(readFileSync(file, "utf8"));
}

function lines(text: string): string[] {
  return text.split("\n");
}

describe("iptables golden output", () => {
  it("full sync of the fixture", () => {
    const r = generate(fixtureState(), { full: true });
    golden("full", restoreText(r));
  });

  it("partial sync after endpoint and service changes", () => {
    const first = generate(fixtureState(), { full: true });
    const r = generate(changedState(), { full: false, changed: CHANGED, previousChains: first.chains });
    golden("partial", restoreText(r));
  });
});

describe("iptables generator", () => {
  const full = generate(fixtureState(), { full: true });
  const nat = lines(full.nat);
  const filter = lines(full.filter);

  it("prints statistic probabilities with 10 decimals", () => {
    expect(probability(3)).toBe("0.3333333333");
    expect(probability(2)).toBe("0.5000000000");
    expect(probability(7)).toBe("0.1428571429");
  });

  it("load-balances 1/n, 1/(n-1), ... with the last rule unconditional", () => {
    const chain = svcChain("ns1/svc1:p80", "TCP");
    const jumps = nat.filter((l) => l.startsWith(`-A ${chain} `) && l.includes("-j KUBE-SEP-"));
    expect(jumps).toHaveLength(3);
    expect(jumps[0]).toContain("--probability 0.3333333333");
    expect(jumps[1]).toContain("--probability 0.5000000000");
    expect(jumps[2]).not.toContain("statistic");
  });

  it("ends nat KUBE-SERVICES with the nodeports jump", () => {
    const svcRules = nat.filter((l) => l.startsWith("-A KUBE-SERVICES "));
    expect(svcRules.at(-1)).toBe(
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
    );
  });

  it("returns every per-service chain it owns", () => {
    expect(full.chains.has(svcChain("ns1/svc1:p80", "TCP"))).toBe(true);
    expect(full.chains.has(sepChain("ns6/svc6:p80", "TCP", "10.180.0.6:80"))).toBe(true);
    // a terminating, non-serving endpoint is never used
    expect(full.chains.has(sepChain("ns6/svc6:p80", "TCP", "10.180.0.7:80"))).toBe(false);
    expect([...full.chains].every((c) => /^KUBE-(SVC|SVL|EXT|FW|SEP)-/.test(c))).toBe(true);
    for (const c of full.chains) expect(nat).toContain(`:${c} - [0:0]`);
  });

  it("skips headless services and other families", () => {
    expect(full.nat).not.toContain("headless");
    const s = fixtureState();
    s.services.push(svc("ns9", "v6", "p", { family: 6, clusterIP: "fd00::9" }));
    expect(generate(s, { full: true }).nat).not.toContain("fd00::9");
  });

  it("uses ClientIP affinity with the recent module", () => {
    expect(full.nat).toMatch(/--rcheck --seconds 10800 --reap -j KUBE-SEP-/);
    const sep = sepChain("ns5/svc5:dns", "UDP", "10.180.1.5:53");
    expect(nat).toContain(
      `-A ${sep} -m comment --comment ns5/svc5:dns -m recent --name ${sep} --set -m udp -p udp -j DNAT --to-destination 10.180.1.5:53`,
    );
  });

  it("rejects in filter for services without endpoints, drops for Local policies without local ones", () => {
    expect(filter.filter((l) => l.endsWith("-j REJECT"))).toHaveLength(2);
    expect(filter.filter((l) => l.endsWith("-j DROP") && l.includes("no local endpoints"))).toHaveLength(2);
  });

  it("masquerades everything with masqueradeAll", () => {
    const s = fixtureState();
    s.config.masqueradeAll = true;
    const r = generate(s, { full: true });
    const chain = svcChain("ns1/svc1:p80", "TCP");
    expect(r.nat).toContain(
      `-A ${chain} -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-MARK-MASQ`,
    );
    expect(r.nat).not.toContain("! -s 10.0.0.0/8");
  });

  it("does not masquerade ClusterIP traffic or short-circuit pods without a cluster CIDR", () => {
    const s = fixtureState();
    s.config.clusterCIDR = undefined;
    const r = generate(s, { full: true });
    expect(r.nat).not.toMatch(/cluster IP" .* -j KUBE-MARK-MASQ/);
    expect(r.nat).not.toContain("pod traffic for");
  });

  it("honours --nodeport-addresses", () => {
    const s = fixtureState();
    s.node = {
      name: "n",
      nodePortAddresses: ["192.168.0.2", "127.0.0.1", "fd00::2"],
      nodePortOnAllLocal: false,
    };
    const r = generate(s, { full: true });
    const np = lines(r.nat).filter((l) => l.includes("-j KUBE-NODEPORTS"));
    expect(np).toEqual([
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d 192.168.0.2 -j KUBE-NODEPORTS',
    ]);
  });

  it("lets the node's own loopback through KUBE-FW when a source range covers it", () => {
    const s = fixtureState();
    s.services.find((x) => x.name === "svc4")!.loadBalancerSourceRanges = [
      "203.0.113.0/25",
      "192.168.0.0/24",
    ];
    const r = generate(s, { full: true });
    expect(r.nat).toContain("-s 192.168.0.0/24 -j KUBE-EXT-");
    expect(r.nat).toContain("-s 1.2.3.4 -j KUBE-EXT-");
  });

  it("routes ClusterIP traffic to KUBE-SVL- with internalTrafficPolicy Local", () => {
    const s = fixtureState();
    s.services.find((x) => x.name === "svc1")!.internalPolicyLocal = true;
    const r = generate(s, { full: true });
    const svl = svcChain("ns1/svc1:p80", "TCP").replace("KUBE-SVC-", "KUBE-SVL-");
    expect(r.nat).toContain(`--dport 80 -j ${svl}`);
    expect(r.nat).not.toContain(`:${svcChain("ns1/svc1:p80", "TCP")} `);
    const svlRules = lines(r.nat).filter((l) => l.startsWith(`-A ${svl} `));
    expect(svlRules).toHaveLength(2); // masquerade + the only local endpoint
    expect(svlRules[1]).toContain("10.180.0.1:8080");
  });

  it("drops per-endpoint comments when asked (large clusters)", () => {
    const r = generate(fixtureState(), { full: true, commentsOff: true });
    expect(r.nat).not.toContain("->");
    expect(r.nat).toMatch(/-A KUBE-SEP-\S+ -s 10\.180\.0\.1 -j KUBE-MARK-MASQ/);
    expect(r.nat).toContain('"ns1/svc1:p80 cluster IP"');
  });

  it("writes IPv6 rules for family 6", () => {
    const s: ProxyState = {
      family: 6,
      services: [svc("ns", "v6", "http", { family: 6, clusterIP: "fd00:10:96::1", nodePort: 30001 })],
      endpoints: new Map([["ns/v6:http", [ep("fd00:10::5", 8080)]]]),
      node: { name: "n", nodePortAddresses: [], nodePortOnAllLocal: true },
      config: { clusterCIDR: "10.0.0.0/8,fd00:10::/64", masqueradeAll: false, masqueradeBit: 14 },
    };
    const r = generate(s, { full: true });
    expect(r.nat).toContain("-j DNAT --to-destination [fd00:10::5]:8080");
    expect(r.nat).toContain("! -s fd00:10::/64 -j KUBE-MARK-MASQ");
    expect(r.nat).toContain("-s fd00:10::5 -j KUBE-MARK-MASQ");
  });

  it("partial sync declares only top-level and changed chains, and deletes stale ones", () => {
    const r = generate(changedState(), { full: false, changed: CHANGED, previousChains: full.chains });
    const declared = lines(r.nat)
      .filter((l) => l.startsWith(":"))
      .map((l) => l.slice(1).split(" ")[0]);
    // ns4's chains were not touched
    expect(declared).not.toContain(svcChain("ns4/svc4:p80", "TCP"));
    expect(r.chains.has(svcChain("ns4/svc4:p80", "TCP"))).toBe(true);
    // but KUBE-SERVICES still jumps there
    expect(r.nat).toContain(`-j ${svcChain("ns4/svc4:p80", "TCP")}`);
    const removed = sepChain("ns1/svc1:p80", "TCP", "10.180.2.3:8080");
    expect(lines(r.nat)).toContain(`-X ${removed}`);
    expect(declared).toContain(removed);
    expect(r.chains.has(removed)).toBe(false);
    expect(lines(r.nat)).toContain(`-X ${svcChain("ns2/svc2:http", "TCP")}`);
    // ns3 now has chains
    expect(declared).toContain(svcChain("ns3/svc3:p80", "TCP"));
    expect(r.filter).not.toContain("ns3/svc3:p80 has no endpoints");
  });

  it("a partial sync without `changed` rewrites everything", () => {
    const r = generate(fixtureState(), { full: false });
    expect(r.nat).toBe(full.nat);
  });
});

describe("base jumps and cleanup", () => {
  it("lists kube-proxy's jumps from the built-in chains", () => {
    const { chains, jumps } = ensureJumps(4);
    const summary = jumps.map((j) => `${j.table} ${j.chain} -> ${j.target}`);
    expect(summary).toEqual([
      "filter INPUT -> KUBE-EXTERNAL-SERVICES",
      "filter FORWARD -> KUBE-EXTERNAL-SERVICES",
      "filter INPUT -> KUBE-NODEPORTS",
      "filter FORWARD -> KUBE-SERVICES",
      "filter OUTPUT -> KUBE-SERVICES",
      "filter FORWARD -> KUBE-FORWARD",
      "filter INPUT -> KUBE-PROXY-FIREWALL",
      "filter OUTPUT -> KUBE-PROXY-FIREWALL",
      "filter FORWARD -> KUBE-PROXY-FIREWALL",
      "nat OUTPUT -> KUBE-SERVICES",
      "nat PREROUTING -> KUBE-SERVICES",
      "nat POSTROUTING -> KUBE-POSTROUTING",
    ]);
    expect(jumps[0]!.check).toEqual([
      "-t",
      "filter",
      "-C",
      "INPUT",
      "-m",
      "comment",
      "--comment",
      "kubernetes externally-visible service portals",
      "-m",
      "conntrack",
      "--ctstate",
      "NEW",
      "-j",
      "KUBE-EXTERNAL-SERVICES",
    ]);
    expect(jumps[0]!.insert.slice(0, 4)).toEqual(["-t", "filter", "-I", "INPUT"]);
    expect(chains).toContainEqual(["-t", "nat", "-N", "KUBE-POSTROUTING"]);
    expect(new Set(chains.map((c) => c.join(" "))).size).toBe(chains.length);
  });

  it("finds kubeplane's chains in iptables-save output", () => {
    const save = [
      "*filter",
      ":INPUT ACCEPT [0:0]",
      ":KUBE-FIREWALL - [0:0]",
      ":KUBE-SERVICES - [0:0]",
      "COMMIT",
      "*nat",
      ":KUBE-SERVICES - [0:0]",
      ":KUBE-SEP-AAAA - [0:0]",
      ":KUBE-MARK-DROP - [0:0]",
      ":OTHER - [0:0]",
      "COMMIT",
    ].join("\n");
    expect(kubeChainsIn(save, "nat")).toEqual(["KUBE-SERVICES", "KUBE-SEP-AAAA"]);
    expect(kubeChainsIn(save, "filter")).toEqual(["KUBE-SERVICES"]);
  });

  it("describes what --cleanup removes", () => {
    const c = cleanupRuleset({ nat: ["KUBE-SVC-AAAA", "KUBE-MARK-DROP"] });
    expect(c.deleteJumps).toHaveLength(12);
    expect(c.deleteJumps.every((a) => a[2] === "-D")).toBe(true);
    expect(c.restore).toContain("-X KUBE-SVC-AAAA");
    expect(c.restore).not.toContain("KUBE-MARK-DROP");
    expect(c.deleteCanaries).toEqual(canaryChains().delete);
  });
});

// ---------------------------------------------------------------- real iptables-restore

/** iptables-save output without comments, counters, table headers and built-in chain policies */
function normalize(save: string): string {
  return save
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#") && !l.startsWith("*") && l !== "COMMIT")
    .filter((l) => !/^:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) /.test(l))
    .map((l) => l.replace(/ \[\d+:\d+\]$/, ""))
    .join("\n");
}

const VARIANTS = [
  { name: "iptables-nft", restore: "iptables-nft-restore", save: "iptables-nft-save", bin: "iptables-nft" },
  {
    name: "iptables-legacy",
    restore: "iptables-legacy-restore",
    save: "iptables-legacy-save",
    bin: "iptables-legacy",
  },
];

for (const v of VARIANTS) {
  const skip = netnsSkipReason(["iptables-restore", v.restore, v.save, v.bin]);
  describe.skipIf(!!skip)(
    `real ${v.name} in a fresh network namespace${skip ? ` (skipped: ${skip})` : ""}`,
    () => {
      const namespaces: NetNS[] = [];
      afterAll(() => {
        for (const ns of namespaces) ns.remove();
      });
      const fresh = () => {
        const ns = NetNS.create("kp-gen");
        namespaces.push(ns);
        return ns;
      };

      it("accepts the full ruleset (--test), applies it, then a partial one on top", () => {
        const ns = fresh();
        const first = generate(fixtureState(), { full: true });
        ns.run([v.restore, "--noflush", "--test"], restoreText(first));
        ns.run([v.restore, "--noflush"], restoreText(first));
        const partial = generate(changedState(), {
          full: false,
          changed: CHANGED,
          previousChains: first.chains,
        });
        ns.run([v.restore, "--noflush", "--test"], restoreText(partial));
        ns.run([v.restore, "--noflush"], restoreText(partial));
        const saved = ns.run([v.save, "-t", "nat"]);
        const existing = new Set(
          kubeChainsIn(saved, "nat").filter((c) => c.startsWith("KUBE-") && c.includes("-", 5)),
        );
        // exactly the chains the generator says exist, no more (stale ones were deleted)
        const perService = [...existing].filter((c) => /^KUBE-(SVC|SVL|EXT|FW|SEP)-/.test(c)).sort();
        expect(perService).toEqual([...partial.chains].sort());
        expect(saved).not.toContain(sepChain("ns1/svc1:p80", "TCP", "10.180.2.3:8080"));
        // an untouched service kept its rules
        expect(saved).toContain(`-A ${svcChain("ns4/svc4:p80", "TCP")} `);
        expect(saved).toContain("-A KUBE-SERVICES");
        // a full sync on top is accepted too (idempotent)
        const again = generate(changedState(), { full: true, previousChains: partial.chains });
        ns.run([v.restore, "--noflush"], restoreText(again));
      });

      it("accepts the other variants of the ruleset", () => {
        const ns = fresh();
        const s = fixtureState();
        s.config.masqueradeAll = true;
        s.node = { name: "n", nodePortAddresses: ["192.168.0.2"], nodePortOnAllLocal: false };
        ns.run(
          [v.restore, "--noflush", "--test"],
          restoreText(generate(s, { full: true, commentsOff: true })),
        );
      });

      it("installs the base jumps idempotently and --cleanup removes everything", () => {
        const ns = fresh();
        // someone else's rules, which --cleanup must leave alone
        ns.run([v.bin, "-w", "-t", "filter", "-N", "KUBE-FIREWALL"]);
        ns.run([v.bin, "-w", "-t", "filter", "-A", "INPUT", "-j", "KUBE-FIREWALL"]);
        ns.run([v.bin, "-w", "-t", "nat", "-N", "OTHER"]);
        ns.run([v.bin, "-w", "-t", "nat", "-A", "OTHER", "-p", "tcp", "--dport", "9", "-j", "RETURN"]);
        const before = normalize(ns.run([v.save]));
        expect(before).toContain("-A OTHER");
        const first = generate(fixtureState(), { full: true });
        const { chains, jumps } = ensureJumps(4);
        for (const c of chains) ns.exec([v.bin, "-w", ...c]);
        for (const c of canaryChains().create) ns.run([v.bin, "-w", ...c]);
        ns.run([v.restore, "--noflush"], restoreText(first));
        for (let round = 0; round < 2; round++) {
          for (const j of jumps) {
            if (ns.exec([v.bin, "-w", ...j.check]).status !== 0) ns.run([v.bin, "-w", ...j.insert]);
          }
        }
        const withJumps = ns.run([v.save]);
        expect(withJumps.match(/-j KUBE-PROXY-FIREWALL/g)).toHaveLength(3);
        expect(withJumps).toContain(
          '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        );
        const clean = cleanupRuleset({ nat: kubeChainsIn(ns.run([v.save, "-t", "nat"]), "nat") });
        for (const d of clean.deleteJumps) ns.run([v.bin, "-w", ...d]);
        ns.run([v.restore, "--noflush"], clean.restore);
        for (const d of clean.deleteCanaries) ns.run([v.bin, "-w", ...d]);
        const after = normalize(ns.run([v.save]));
        expect(after).toBe(before);
      });
    },
  );
}
