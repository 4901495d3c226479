import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { changedState, ep, fixtureState, svc } from "../iptables/testdata/fixture.js";
import { NetNS, netnsSkipReason } from "../iptables/testdata/netns.js";
import type { ProxyState } from "../model.js";
import { nftChainsFor, nftEndpointChain } from "../names.js";
import { cleanupNft, emptySnapshot, generateNft, snapshotFromExisting } from "./ruleset.js";

const here = dirname(fileURLToPath(import.meta.url));

function golden(name: string, actual: string): void {
  const file = join(here, "testdata", `${name}.golden`);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(file)) writeFileSync(file, actual);
  expect(actual).toBe(readFileSync(file, "utf8"));
}

const lines = (s: string) => s.split("\n").filter((l) => l !== "");
const svc1 = nftChainsFor({ servicePortName: "ns1/svc1:p80", protocol: "TCP" });
const svc2 = nftChainsFor({ servicePortName: "ns2/svc2:http", protocol: "TCP" });
const removedEp = nftEndpointChain("ns1/svc1:p80", "TCP", "10.180.2.3", 8080);

describe("nftables golden output", () => {
  it("full sync of the fixture", () => {
    golden("full", generateNft(fixtureState(), { full: true }).script);
  });
  it("incremental sync after endpoint and service changes", () => {
    const first = generateNft(fixtureState(), { full: true });
    golden("partial", generateNft(changedState(), { full: false, previous: first.snapshot }).script);
  });
});

describe("nftables generator", () => {
  const first = generateNft(fixtureState(), { full: true });

  it("dispatches through the service-ips map and numgen vmaps", () => {
    const l = lines(first.script);
    expect(l).toContain(
      "add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips",
    );
    expect(l).toContain(
      `add element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 : goto ${svc1.cluster} }`,
    );
    expect(first.script).toMatch(
      /numgen random mod 3 vmap \{ 0 : goto endpoint-\S+ , 1 : goto endpoint-\S+ , 2 : goto endpoint-\S+ \}/,
    );
  });

  it("checks affinity sets before numgen and updates them in the endpoint chain", () => {
    const l = lines(first.script);
    const chain = nftChainsFor({ servicePortName: "ns5/svc5:dns", protocol: "UDP" }).cluster;
    const rules = l.filter((x) => x.startsWith(`add rule ip kube-proxy ${chain} `));
    expect(rules[1]).toMatch(/ip saddr @affinity-\S+ goto endpoint-/);
    expect(rules.at(-1)).toContain("numgen random mod 2");
    expect(first.script).toMatch(
      /add set ip kube-proxy affinity-\S+ \{ type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; \}/,
    );
    expect(first.script).toMatch(/update @affinity-\S+ \{ ip saddr \}/);
  });

  it("rejects or drops through the no-endpoint maps", () => {
    expect(first.script).toContain(
      'add element ip kube-proxy no-endpoint-services { 172.30.0.43 . tcp . 80 comment "ns3/svc3:p80" : goto reject-chain }',
    );
    expect(first.script).toContain(
      'add element ip kube-proxy no-endpoint-nodeports { tcp . 30047 comment "ns7/svc7:p80" : drop }',
    );
  });

  it("an unchanged state gives an empty incremental script", () => {
    const again = generateNft(fixtureState(), { full: false, previous: first.snapshot });
    expect(again.script).toBe("");
    expect(again.full).toBe(false);
  });

  it("writes only what changed", () => {
    const r = generateNft(changedState(), { full: false, previous: first.snapshot });
    const l = lines(r.script);
    expect(l).not.toContain('add table ip kube-proxy { comment "rules for kube-proxy" ; }');
    expect(l).toContain(`flush chain ip kube-proxy ${svc1.cluster}`);
    expect(l).toContain(`flush chain ip kube-proxy ${removedEp}`);
    expect(l).toContain(`flush chain ip kube-proxy ${svc2.cluster}`);
    expect(l.some((x) => x.startsWith("delete chain"))).toBe(false);
    expect(l).toContain("delete element ip kube-proxy service-ips { 172.30.0.42 . tcp . 80 }");
    expect(l).toContain("delete element ip kube-proxy no-endpoint-services { 172.30.0.43 . tcp . 80 }");
    // untouched services are not written at all
    expect(r.script).not.toContain("ns4/svc4");
    expect(r.script).not.toContain("ns5/svc5");
    expect(r.snapshot.staleChains.has(removedEp)).toBe(true);
    // the next sync deletes the chains flushed by this one
    const next = generateNft(changedState(), { full: false, previous: r.snapshot });
    expect(lines(next.script)).toContain(`delete chain ip kube-proxy ${removedEp}`);
    expect(next.snapshot.staleChains.size).toBe(0);
    expect(generateNft(changedState(), { full: false, previous: next.snapshot }).script).toBe("");
  });

  it("waits a second before deleting stale chains when given the time", () => {
    const a = generateNft(fixtureState(), { full: true, now: 0 });
    const b = generateNft(changedState(), { full: false, previous: a.snapshot, now: 10_000 });
    const c = generateNft(changedState(), { full: false, previous: b.snapshot, now: 10_500 });
    expect(c.script).not.toContain("delete chain");
    const d = generateNft(changedState(), { full: false, previous: c.snapshot, now: 11_000 });
    expect(d.script).toContain(`delete chain ip kube-proxy ${removedEp}`);
  });

  it("re-creates affinity sets (and their chains) when the timeout changes", () => {
    const s = fixtureState();
    s.services.find((x) => x.name === "svc5")!.stickyMaxAgeSeconds = 60;
    const r = generateNft(s, { full: false, previous: first.snapshot });
    const l = lines(r.script);
    const del = l.findIndex((x) => x.startsWith("delete set ip kube-proxy affinity-"));
    const flush = l.findIndex(
      (x) => x.startsWith("flush chain ip kube-proxy service-") && x.includes("ns5/svc5"),
    );
    expect(flush).toBeGreaterThanOrEqual(0);
    expect(del).toBeGreaterThan(flush);
    expect(r.script).toMatch(/timeout 60s/);
  });

  it("changes a map element's verdict with delete + add", () => {
    const s = fixtureState();
    s.services.find((x) => x.name === "svc1")!.internalPolicyLocal = true;
    const r = generateNft(s, { full: false, previous: first.snapshot });
    const l = lines(r.script);
    expect(l).toContain("delete element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 }");
    expect(l).toContain(
      `add element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 : goto ${svc1.local} }`,
    );
  });

  it("forces a full sync when the node-level settings change or there is no snapshot", () => {
    const s = fixtureState();
    s.node = { name: "n", nodePortAddresses: ["192.168.0.2"], nodePortOnAllLocal: false };
    const r = generateNft(s, { full: false, previous: first.snapshot });
    expect(r.full).toBe(true);
    expect(r.script).toContain("add element ip kube-proxy nodeport-ips { 192.168.0.2 }");
    expect(r.script).toContain("ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports");
    expect(generateNft(fixtureState(), { full: false }).full).toBe(true);
    expect(generateNft(fixtureState(), { full: false, previous: emptySnapshot(4) }).full).toBe(true);
  });

  it("cleans up what an earlier process left, from a listing of names", () => {
    const prev = snapshotFromExisting(
      4,
      ["services", svc2.cluster, svc1.cluster],
      ["affinity-OLD-x/y/udp/p__1.2.3.4/5", "cluster-ips"],
    );
    const r = generateNft(changedState(), { full: true, previous: prev });
    const l = lines(r.script);
    expect(l).toContain(`flush chain ip kube-proxy ${svc2.cluster}`);
    expect(l).toContain("delete set ip kube-proxy affinity-OLD-x/y/udp/p__1.2.3.4/5");
    expect(l).toContain("add chain ip kube-proxy filter-input");
    expect(r.snapshot.staleChains.has(svc2.cluster)).toBe(true);
    expect(r.snapshot.staleChains.has("services")).toBe(false);
  });

  it("writes ip6 for family 6", () => {
    const s: ProxyState = {
      family: 6,
      services: [
        svc("ns", "v6", "http", {
          family: 6,
          clusterIP: "fd00:10:96::1",
          nodePort: 30001,
          sessionAffinityClientIP: true,
        }),
      ],
      endpoints: new Map([["ns/v6:http", [ep("fd00:10::5", 8080)]]]),
      node: { name: "n", nodePortAddresses: [], nodePortOnAllLocal: true },
      config: { clusterCIDR: "10.0.0.0/8,fd00:10::/64", masqueradeAll: false, masqueradeBit: 14 },
    };
    const r = generateNft(s, { full: true });
    expect(r.script).toContain("add table ip6 kube-proxy");
    expect(r.script).toContain(
      "ip6 daddr fd00:10:96::1 tcp dport 80 ip6 saddr != fd00:10::/64 jump mark-for-masquerade",
    );
    expect(r.script).toContain("meta l4proto tcp dnat to [fd00:10::5]:8080");
    expect(r.script).toContain(
      "fib daddr type local ip6 daddr != ::1 meta l4proto . th dport vmap @service-nodeports",
    );
    expect(r.script).toContain("type ipv6_addr ; flags dynamic,timeout");
    expect(r.script).not.toContain(" ip daddr");
  });

  it("cleanup deletes only kube-proxy's table", () => {
    expect(cleanupNft(4)).toBe("add table ip kube-proxy\ndelete table ip kube-proxy\n");
    expect(cleanupNft(6)).toBe("add table ip6 kube-proxy\ndelete table ip6 kube-proxy\n");
  });
});

// ---------------------------------------------------------------- real nft

const skip = netnsSkipReason(["nft"]);
describe.skipIf(!!skip)(`real nft in a fresh network namespace${skip ? ` (skipped: ${skip})` : ""}`, () => {
  const namespaces: NetNS[] = [];
  afterAll(() => {
    for (const ns of namespaces) ns.remove();
  });
  const fresh = () => {
    const ns = NetNS.create("kp-gen");
    namespaces.push(ns);
    return ns;
  };

  it("checks and applies a full script, then incremental ones on top", () => {
    const ns = fresh();
    // someone else's table, which must survive everything
    ns.run(["nft", "add table inet other; add chain inet other c { type filter hook input priority 0 ; }"]);
    const first = generateNft(fixtureState(), { full: true });
    ns.run(["nft", "-c", "-f", "-"], first.script);
    ns.run(["nft", "-f", "-"], first.script);
    const before = ns.run(["nft", "list", "table", "ip", "kube-proxy"]);
    expect(before).toContain(`172.30.0.42 . tcp . 80 : goto ${svc2.cluster}`);

    const second = generateNft(changedState(), { full: false, previous: first.snapshot });
    ns.run(["nft", "-c", "-f", "-"], second.script);
    ns.run(["nft", "-f", "-"], second.script);
    const after = ns.run(["nft", "list", "table", "ip", "kube-proxy"]);
    expect(after).not.toContain("172.30.0.42 . tcp . 80");
    expect(after).not.toContain("172.30.0.43 . tcp . 80 comment");
    expect(after).toContain(
      `172.30.0.43 . tcp . 80 : goto ${nftChainsFor({ servicePortName: "ns3/svc3:p80", protocol: "TCP" }).cluster}`,
    );
    expect(after).toContain("numgen random mod 2 vmap");
    // the flushed chains still exist (deleted by the next sync), empty
    expect(after).toMatch(new RegExp(`chain ${reEscape(removedEp)} \\{\\s*\\}`));

    const third = generateNft(changedState(), { full: false, previous: second.snapshot });
    ns.run(["nft", "-f", "-"], third.script);
    const chains = ns.run(["nft", "list", "table", "ip", "kube-proxy"]);
    expect(chains).not.toContain(removedEp);
    expect(chains).not.toContain(svc2.cluster);
    const names = [...chains.matchAll(/chain (\S+) \{/g)].map((m) => m[1]!).filter((c) => c.includes("/"));
    expect(names.sort()).toEqual([...third.snapshot.chains.keys()].sort());

    // a periodic full sync on top of it, and a restart that only knows the names
    const full = generateNft(changedState(), { full: true, previous: third.snapshot });
    ns.run(["nft", "-f", "-"], full.script);
    const restarted = generateNft(fixtureState(), {
      full: true,
      previous: snapshotFromExisting(4, names, []),
    });
    ns.run(["nft", "-f", "-"], restarted.script);
    expect(ns.run(["nft", "list", "table", "ip", "kube-proxy"])).toContain("172.30.0.42 . tcp . 80");

    ns.run(["nft", "-f", "-"], cleanupNft(4));
    const rest = ns.run(["nft", "list", "ruleset"]);
    expect(rest).not.toContain("kube-proxy");
    expect(rest).toContain("table inet other");
    // cleanup is idempotent
    ns.run(["nft", "-f", "-"], cleanupNft(4));
  });

  it("applies the ip6 table and the --nodeport-addresses variant", () => {
    const ns = fresh();
    const s6: ProxyState = {
      family: 6,
      services: [
        svc("ns", "v6", "http", {
          family: 6,
          clusterIP: "fd00:10:96::1",
          nodePort: 30001,
          sessionAffinityClientIP: true,
          loadBalancerIPs: ["2001:db8::10"],
          loadBalancerSourceRanges: ["2001:db8:1::/64"],
        }),
        svc("ns", "empty6", "http", { family: 6, clusterIP: "fd00:10:96::2" }),
      ],
      endpoints: new Map([
        ["ns/v6:http", [ep("fd00:10::5", 8080), ep("fd00:10::6", 8080, { isLocal: true })]],
      ]),
      node: { name: "n", nodePortAddresses: ["2001:db8::1"], nodePortOnAllLocal: false },
      config: { clusterCIDR: "fd00:10::/64", masqueradeAll: false, masqueradeBit: 14 },
    };
    const r6 = generateNft(s6, { full: true });
    ns.run(["nft", "-c", "-f", "-"], r6.script);
    ns.run(["nft", "-f", "-"], r6.script);
    expect(ns.run(["nft", "list", "table", "ip6", "kube-proxy"])).toContain("2001:db8::1");
    const s4 = fixtureState();
    s4.config.masqueradeAll = true;
    s4.node = { name: "n", nodePortAddresses: ["192.168.0.2"], nodePortOnAllLocal: false };
    const r4 = generateNft(s4, { full: true });
    ns.run(["nft", "-f", "-"], r4.script);
    // switching back to "any local address" deletes the nodeport-ips set
    const back = generateNft(fixtureState(), { full: false, previous: r4.snapshot });
    ns.run(["nft", "-f", "-"], back.script);
    expect(ns.run(["nft", "list", "table", "ip", "kube-proxy"])).not.toContain("nodeport-ips");
    ns.run(["nft", "-f", "-"], cleanupNft(4) + cleanupNft(6));
    expect(ns.run(["nft", "list", "ruleset"])).toBe("");
  });
});

function reEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
