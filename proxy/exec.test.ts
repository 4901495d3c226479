import { describe, expect, it } from "vitest";
import {
  chooseIptablesMode,
  countRules,
  deleteConntrack,
  Iptables,
  iptablesBinary,
  type Runner,
} from "./exec.js";

const save = (rules: number, extraChains: string[] = []) =>
  [
    "*nat",
    ":PREROUTING ACCEPT [0:0]",
    ...extraChains.map((c) => `:${c} - [0:0]`),
    ...Array.from({ length: rules }, (_, i) => `-A PREROUTING -d 10.0.0.${i}/32 -j RETURN`),
    "COMMIT",
    "",
  ].join("\n");

describe("iptables-wrapper mode detection", () => {
  it("counts rule lines", () => {
    expect(countRules(save(3))).toBe(3);
    expect(countRules("")).toBe(0);
  });
  it("defaults to nft when neither has rules", () => {
    expect(chooseIptablesMode("", "").mode).toBe("nft");
    expect(chooseIptablesMode(save(0), save(0)).reason).toMatch(/default nft/);
  });
  it("picks the backend that holds more rules", () => {
    expect(chooseIptablesMode(save(3), save(1)).mode).toBe("legacy");
    expect(chooseIptablesMode(save(1), save(3)).mode).toBe("nft");
    expect(chooseIptablesMode(save(2), save(2)).mode).toBe("nft");
    // 10 or more legacy rules: legacy without looking further
    expect(chooseIptablesMode(save(10), save(50)).mode).toBe("legacy");
  });
  it("the kubelet's hint chain wins", () => {
    expect(chooseIptablesMode(save(30), save(0, ["KUBE-IPTABLES-HINT"])).mode).toBe("nft");
    expect(chooseIptablesMode(save(0, ["KUBE-KUBELET-CANARY"]), save(5)).mode).toBe("legacy");
  });
  it("binary names", () => {
    expect(iptablesBinary("nft", 4, "-restore")).toBe("iptables-nft-restore");
    expect(iptablesBinary("legacy", 6, "-save")).toBe("ip6tables-legacy-save");
    expect(iptablesBinary("legacy", 4, "")).toBe("iptables-legacy");
  });
});

function fakeRunner(
  reply: (
    cmd: string,
    args: readonly string[],
    input?: string,
  ) => { code: number; stdout?: string; stderr?: string },
) {
  const calls: Array<{ cmd: string; args: readonly string[]; input?: string }> = [];
  const run: Runner = async (cmd, args, opts = {}) => {
    calls.push({ cmd, args, input: opts.input });
    const r = reply(cmd, args, opts.input);
    return { code: r.code, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  };
  return { run, calls };
}

describe("Iptables", () => {
  it("restores with one call: -w, --noflush, --counters, text on stdin", async () => {
    const { run, calls } = fakeRunner(() => ({ code: 0 }));
    await new Iptables("nft", 4, run).restore("*nat\nCOMMIT\n");
    expect(calls).toEqual([
      { cmd: "iptables-nft-restore", args: ["-w", "5", "--noflush", "--counters"], input: "*nat\nCOMMIT\n" },
    ]);
  });
  it("a failing restore throws with the tool's message", async () => {
    const { run } = fakeRunner(() => ({ code: 2, stderr: "iptables-restore: line 3 failed" }));
    await expect(new Iptables("legacy", 4, run).restore("x")).rejects.toThrow(/line 3 failed/);
  });
  it("ensureChain creates only missing chains", async () => {
    const { run, calls } = fakeRunner((_c, args) => ({ code: args.includes("-S") ? 1 : 0 }));
    await new Iptables("nft", 4, run).ensureChain("nat", "KUBE-SERVICES");
    expect(calls.map((c) => c.args.join(" "))).toEqual([
      "-w 5 -t nat -S KUBE-SERVICES 1",
      "-w 5 -t nat -N KUBE-SERVICES",
    ]);
  });
});

describe("deleteConntrack", () => {
  it("treats '0 flow entries' as success and reports real failures", async () => {
    const { run, calls } = fakeRunner((_c, args) =>
      args.includes("10.0.0.1")
        ? { code: 1, stderr: "conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted." }
        : { code: 1, stderr: "conntrack: operation failed" },
    );
    const failed = await deleteConntrack(
      [
        { kind: "origDst", origDst: "10.0.0.1" },
        { kind: "nat", origDst: "10.0.0.2", dstNat: "10.244.0.5" },
      ],
      4,
      run,
    );
    expect(calls.map((c) => c.cmd)).toEqual(["conntrack", "conntrack"]);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.deletion).toEqual({ kind: "nat", origDst: "10.0.0.2", dstNat: "10.244.0.5" });
  });
  it("adds -f ipv6 for family 6", async () => {
    const { run, calls } = fakeRunner(() => ({ code: 0 }));
    await deleteConntrack([{ kind: "port", port: 30053 }], 6, run);
    expect(calls[0]!.args).toEqual(["-D", "-p", "udp", "--dport", "30053", "-f", "ipv6"]);
  });
});
