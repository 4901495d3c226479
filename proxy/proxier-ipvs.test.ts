/**
 * The IPVS backend's command sequence against a recording runner (this kernel has no IP_VS and
 * ipvsadm/ipset are not installed, so nothing is applied; see the comment atop proxier-ipvs.ts).
 * That ipvs mode on this kernel fails at start with one line suggesting nftables is checked end
 * to end in test/proxy.e2e.test.ts.
 */
import { describe, expect, it } from "vitest";
import { silentLogger } from "../cli/logger.js";
import type { CommandResult, Runner } from "./exec.js";
import { changedState, fixtureState } from "./iptables/testdata/fixture.js";
import { generateIpvs } from "./ipvs/ruleset.js";
import { makeBackends, ProxyConfigError } from "./proxier.js";
import { cleanupIpvs, IpvsBackend } from "./proxier-ipvs.js";

interface Call {
  cmd: string;
  input?: string;
}

/** a fake node: answers the read commands, records every call; `fail` makes one command fail */
function fakeNode(opts: { saved?: string; canary?: boolean; tools?: boolean } = {}) {
  const calls: Call[] = [];
  let link = false;
  const state = { fail: undefined as string | undefined, canary: opts.canary ?? true };
  const ok = (stdout = ""): CommandResult => ({ code: 0, stdout, stderr: "" });
  const no = (stderr = "no"): CommandResult => ({ code: 1, stdout: "", stderr });
  const run: Runner = async (cmd, args, o) => {
    const line = [cmd, ...args].join(" ");
    calls.push({ cmd: line, ...(o?.input !== undefined ? { input: o.input } : {}) });
    if (state.fail && line.startsWith(state.fail)) return no("boom");
    if (opts.tools === false && (cmd === "ipvsadm" || cmd === "ipset"))
      return { code: 127, stdout: "", stderr: "" };
    if (line === "ipvsadm -Sn") return ok(opts.saved ?? "");
    if (line === "ip -o link show kube-ipvs0") return link ? ok("7: kube-ipvs0: <BROADCAST,NOARP>") : no();
    if (line === "ip link add kube-ipvs0 type dummy") {
      link = true;
      return ok();
    }
    if (line.startsWith("ip -o -4 addr show")) return ok("");
    if (line.startsWith("ipset save")) return no("The set with the given name does not exist");
    if (cmd.startsWith("iptables") && args.includes("-C") && args.includes("KUBE-PROXY-CANARY"))
      return state.canary ? ok() : no();
    if (cmd.startsWith("iptables") && args.includes("-C")) return no();
    if (cmd.startsWith("iptables") && args.includes("-S")) return ok(); // chain exists
    if (cmd === "modprobe") return ok();
    if (cmd.endsWith("-save")) return ok("");
    return ok();
  };
  return { run, calls, state };
}

const names = (calls: Call[]) => calls.map((c) => c.cmd);

describe("IpvsBackend", () => {
  it("first sync: reads once, then ipset swap, iptables, jumps, VIPs, ipvsadm -R, canaries", async () => {
    const n = fakeNode();
    const b = new IpvsBackend(4, "nft", silentLogger(), n.run);
    await b.sync(fixtureState(), true, new Set());
    const JUMP = (t: string, c: string, comment: string, target: string) =>
      `iptables-nft -w 5 -t ${t} -${c} -m comment --comment ${comment} -j ${target}`;
    expect(names(n.calls)).toEqual([
      "ipvsadm -Sn",
      "ip -o -4 addr show dev kube-ipvs0",
      ...[
        "KUBE-CLUSTER-IP",
        "KUBE-EXTERNAL-IP",
        "KUBE-LOAD-BALANCER",
        "KUBE-LOAD-BALANCER-FW",
        "KUBE-LOAD-BALANCER-SOURCE-CIDR",
        "KUBE-LOOP-BACK",
        "KUBE-NODE-PORT-TCP",
        "KUBE-NODE-PORT-UDP",
        "KUBE-NODE-PORT-SCTP-HASH",
      ].map((s) => `ipset save ${s}`),
      "ip -o link show kube-ipvs0",
      "ip link add kube-ipvs0 type dummy",
      "sysctl -w net.ipv4.vs.conntrack=1",
      "sysctl -w net.ipv4.vs.conn_reuse_mode=0",
      "sysctl -w net.ipv4.vs.expire_nodest_conn=1",
      "sysctl -w net.ipv4.vs.expire_quiescent_template=1",
      "ipset restore",
      "iptables-nft-restore -w 5 --noflush --counters",
      ...[
        ["nat", "OUTPUT", "kubernetes service portals", "KUBE-SERVICES"],
        ["nat", "PREROUTING", "kubernetes service portals", "KUBE-SERVICES"],
        ["nat", "POSTROUTING", "kubernetes postrouting rules", "KUBE-POSTROUTING"],
        ["filter", "FORWARD", "kubernetes forwarding rules", "KUBE-FORWARD"],
        ["filter", "INPUT", "kube-proxy firewall rules", "KUBE-PROXY-FIREWALL"],
        ["filter", "FORWARD", "kube-proxy firewall rules", "KUBE-PROXY-FIREWALL"],
      ].flatMap(([t, ch, comment, target]) => [
        `iptables-nft -w 5 -t ${t} -S ${target} 1`,
        JUMP(t!, `C ${ch}`, comment!, target!),
        JUMP(t!, `I ${ch}`, comment!, target!),
      ]),
      "ip -force -batch -",
      "ipvsadm -R",
      ...["mangle", "nat", "filter"].flatMap((t) => [
        `iptables-nft -w 5 -t ${t} -S KUBE-PROXY-CANARY 1`,
        `iptables-nft -w 5 -t ${t} -C KUBE-PROXY-CANARY -j RETURN`,
      ]),
    ]);
    const input = (p: string) => n.calls.find((c) => c.cmd.startsWith(p))?.input;
    expect(input("ipvsadm -R")).toBe(generateIpvs(fixtureState()).ipvs);
    expect(input("ip -force -batch -")).toBe(
      [
        "172.30.0.41",
        "172.30.0.42",
        "172.30.0.43",
        "192.168.99.33",
        "172.30.0.44",
        "1.2.3.4",
        "172.30.0.45",
        "172.30.0.46",
        "172.30.0.47",
      ]
        .map((a) => `address add ${a}/32 dev kube-ipvs0\n`)
        .join(""),
    );
    expect(input("ipset restore")).toContain("swap KUBE-CLUSTER-IP-SWAP KUBE-CLUSTER-IP\n");
  });

  it("a later sync writes only what changed: three sets, one VIP removed, five ipvsadm lines", async () => {
    const n = fakeNode();
    const b = new IpvsBackend(4, "nft", silentLogger(), n.run);
    await b.sync(fixtureState(), true, new Set());
    n.calls.length = 0;
    await b.sync(changedState(), false, new Set());
    expect(names(n.calls)).toEqual(["ipset restore", "ipvsadm -R", "ip -force -batch -"]);
    const [ipset, ipvs, ip] = n.calls.map((c) => c.input!);
    expect(ipset!.split("\n").filter((l) => l.startsWith("swap "))).toEqual([
      "swap KUBE-CLUSTER-IP-SWAP KUBE-CLUSTER-IP",
      "swap KUBE-LOOP-BACK-SWAP KUBE-LOOP-BACK",
      "swap KUBE-NODE-PORT-TCP-SWAP KUBE-NODE-PORT-TCP",
    ]);
    expect(ipvs).toBe(
      [
        "-D -t 172.30.0.42:80",
        "-D -t 192.168.0.2:30080",
        "-d -t 172.30.0.41:80 -r 10.180.2.3:8080",
        "-a -t 172.30.0.43:80 -r 10.180.0.3:80 -m -w 1",
        "-a -t 192.168.99.33:80 -r 10.180.0.3:80 -m -w 1",
        "",
      ].join("\n"),
    );
    expect(ip).toBe("address del 172.30.0.42/32 dev kube-ipvs0\n");
    n.calls.length = 0;
    await b.sync(changedState(), false, new Set());
    expect(names(n.calls)).toEqual([]);
  });

  it("after a failed ipvsadm -R the state is read again and everything rewritten", async () => {
    const n = fakeNode();
    const b = new IpvsBackend(4, "nft", silentLogger(), n.run);
    n.state.fail = "ipvsadm -R";
    await expect(b.sync(fixtureState(), true, new Set())).rejects.toThrow(
      /ipvsadm -R failed \(exit 1\): boom/,
    );
    n.state.fail = undefined;
    n.calls.length = 0;
    await b.sync(fixtureState(), false, new Set());
    const c = names(n.calls);
    expect(c[0]).toBe("ipvsadm -Sn");
    expect(c).toContain("ipset restore");
    expect(c).toContain("iptables-nft-restore -w 5 --noflush --counters");
    expect(c).toContain("ipvsadm -R");
  });

  it("canaries gone: not intact, and the next sync reads the state again", async () => {
    const n = fakeNode();
    const b = new IpvsBackend(4, "nft", silentLogger(), n.run);
    expect(await b.intact()).toBe(true); // nothing programmed yet
    await b.sync(fixtureState(), true, new Set());
    expect(await b.intact()).toBe(true);
    n.state.canary = false;
    expect(await b.intact()).toBe(false);
    n.calls.length = 0;
    await b.sync(fixtureState(), true, new Set());
    expect(names(n.calls)[0]).toBe("ipvsadm -Sn");
  });
});

describe("makeBackends (ipvs)", () => {
  const opts = { mode: "ipvs" as const, logger: silentLogger() };

  it("selects the IPVS backend, one per family, when the kernel has IP_VS and the tools exist", async () => {
    const n = fakeNode();
    const backends = await makeBackends(opts, [4, 6], n.run);
    expect(backends.map((b) => b instanceof IpvsBackend)).toEqual([true, true]);
    expect(backends.map((b) => b.description)).toEqual([
      "ipvs ipv4 (iptables-nft)",
      "ipvs ipv6 (ip6tables-nft)",
    ]);
  });

  it("without ipvsadm/ipset: one line that suggests nftables", async () => {
    const n = fakeNode({ tools: false });
    const err = await makeBackends(opts, [4], n.run).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProxyConfigError);
    const msg = (err as Error).message;
    expect(msg).not.toContain("\n");
    expect(msg).toBe(
      "--proxy-mode ipvs needs ipvsadm and ipset, which are not installed: install them or use --proxy-mode nftables",
    );
  });
});

describe("cleanupIpvs", () => {
  it("touches nothing when there is no IPVS state", async () => {
    const n = fakeNode();
    expect(await cleanupIpvs(silentLogger(), n.run)).toBe(false);
    const mutating = names(n.calls).filter((c) =>
      /(-D |restore|destroy|link del|link add|addr (add|del)|-R)/.test(c),
    );
    expect(mutating).toEqual([]);
  });

  it("removes IPVS jumps and chains, our ipsets and kube-ipvs0", async () => {
    const saveText = generateIpvs(fixtureState()).iptables;
    const calls: Call[] = [];
    const deleted = new Set<string>();
    const run: Runner = async (cmd, args, o) => {
      const line = [cmd, ...args].join(" ");
      calls.push({ cmd: line, ...(o?.input !== undefined ? { input: o.input } : {}) });
      const r = (code: number, stdout = "") => ({ code, stdout, stderr: "" });
      if (cmd === "iptables-nft-save") return r(0, saveText);
      if (cmd.endsWith("-save")) return r(0, "");
      if (cmd === "iptables-nft" && args.includes("-D")) {
        if (deleted.has(line)) return r(1);
        deleted.add(line);
        return r(0);
      }
      if (line === "ip -o link show kube-ipvs0") return r(0, "7: kube-ipvs0: <BROADCAST,NOARP>");
      if (line === "ip -o -4 addr show dev kube-ipvs0")
        return r(0, "7: kube-ipvs0    inet 172.30.0.41/32 scope global kube-ipvs0");
      if (line === "ip -o -6 addr show dev kube-ipvs0") return r(0, "");
      if (line === "ipset save KUBE-CLUSTER-IP") return r(0, "create KUBE-CLUSTER-IP hash:ip,port\n");
      if (line === "ipset save KUBE-LOOP-BACK-SWAP")
        return r(0, "create KUBE-LOOP-BACK-SWAP hash:ip,port,ip\n");
      if (line.startsWith("ipset save")) return r(1);
      return r(0);
    };
    expect(await cleanupIpvs(silentLogger(), run)).toBe(true);
    const mutating = calls.filter((c) => /( -D |restore|destroy|link del)/.test(c.cmd));
    // each -D repeats until it fails (a jump may be there twice): once found, once not
    expect([...new Set(mutating.map((c) => c.cmd))]).toEqual([
      "iptables-nft -w 5 -t nat -D OUTPUT -m comment --comment kubernetes service portals -j KUBE-SERVICES",
      "iptables-nft -w 5 -t nat -D PREROUTING -m comment --comment kubernetes service portals -j KUBE-SERVICES",
      "iptables-nft -w 5 -t nat -D POSTROUTING -m comment --comment kubernetes postrouting rules -j KUBE-POSTROUTING",
      "iptables-nft -w 5 -t filter -D FORWARD -m comment --comment kubernetes forwarding rules -j KUBE-FORWARD",
      "iptables-nft -w 5 -t filter -D INPUT -m comment --comment kube-proxy firewall rules -j KUBE-PROXY-FIREWALL",
      "iptables-nft -w 5 -t filter -D FORWARD -m comment --comment kube-proxy firewall rules -j KUBE-PROXY-FIREWALL",
      "iptables-nft-restore -w 5 --noflush --counters",
      "ipset destroy KUBE-CLUSTER-IP",
      "ipset destroy KUBE-LOOP-BACK-SWAP",
      "ip link del kube-ipvs0",
    ]);
    expect(mutating.find((c) => c.cmd.includes("restore"))!.input).toContain("-X KUBE-NODE-PORT\n");
  });
});
