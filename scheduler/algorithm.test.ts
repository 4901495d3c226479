import { describe, expect, it } from "vitest";
import {
  findFeasibleNodes,
  fitErrorMessage,
  NO_NODES_AVAILABLE,
  numFeasibleNodesToFind,
  reasonHistogram,
  schedulePod,
} from "./algorithm.js";
import { podUsage } from "./cache.js";
import { REASON } from "./filters.js";
import { podInfo } from "./node-info.js";
import { balancedAllocationScore, leastAllocatedScore, scoreNode, selectHost } from "./scores.js";
import { makePod, nodeInfo } from "./testutil.js";

describe("scores", () => {
  it("LeastAllocated: share of cpu and memory left after adding the pod, averaged", () => {
    const n = nodeInfo("n", { cpu: "4", memory: "8Gi" });
    // cpu: (4000-1000)*100/4000 = 75; mem: (8-2)*100/8 = 75
    expect(leastAllocatedScore(podInfo(makePod({ cpu: "1", memory: "2Gi" })), n)).toBe(75);
    // cpu 100 - 25 = 75; mem (8Gi - 200Mi) → floor(97.55) = 97 → floor(172/2) = 86
    expect(leastAllocatedScore(podInfo(makePod({ cpu: "1" })), n)).toBe(86);
    n.addPod(podUsage(makePod({ name: "x", cpu: "2", memory: "6Gi" })));
    // cpu (4000-3000)/4000 = 25, mem 0 → 12
    expect(leastAllocatedScore(podInfo(makePod({ cpu: "1", memory: "2Gi" })), n)).toBe(12);
  });
  it("LeastAllocated gives 0 for an over-full resource and for zero allocatable", () => {
    const n = nodeInfo("n", { cpu: "1", memory: "0" });
    expect(leastAllocatedScore(podInfo(makePod({ cpu: "2", memory: "1Gi" })), n)).toBe(0);
  });
  it("BalancedAllocation: (1 - std of the fractions) * 100", () => {
    const n = nodeInfo("n", { cpu: "4", memory: "8Gi" });
    // fractions 0.25, 0.25 → 100
    expect(balancedAllocationScore(podInfo(makePod({ cpu: "1", memory: "2Gi" })), n)).toBe(100);
    // fractions 0.5, 0 → std 0.25 → 75
    expect(balancedAllocationScore(podInfo(makePod({ cpu: "2" })), n)).toBe(75);
    // fractions capped at 1: cpu 2 (→1), mem 0 → std 0.5 → 50
    expect(balancedAllocationScore(podInfo(makePod({ cpu: "8" })), n)).toBe(50);
  });
  it("BalancedAllocation leaves out resources with zero allocatable", () => {
    const n = nodeInfo("n", { cpu: "4", memory: "0" });
    expect(balancedAllocationScore(podInfo(makePod({ cpu: "3" })), n)).toBe(100);
  });
  it("prefers the emptier node and the better-balanced one", () => {
    const empty = nodeInfo("empty");
    const busy = nodeInfo("busy");
    busy.addPod(podUsage(makePod({ name: "x", cpu: "1", memory: "2Gi" })));
    const pod = podInfo(makePod({ cpu: "500m", memory: "1Gi" }));
    expect(scoreNode(pod, empty)).toBeGreaterThan(scoreNode(pod, busy));
    expect(selectHost(pod, [busy, empty])?.node.name).toBe("empty");
  });
  it("breaks ties at random, covering every tied node", () => {
    const nodes = ["a", "b", "c"].map((n) => nodeInfo(n));
    const pod = podInfo(makePod({ cpu: "100m" }));
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(selectHost(pod, nodes)!.node.name);
    expect([...seen].sort()).toEqual(["a", "b", "c"]);
    // a deterministic source picks deterministically
    expect(selectHost(pod, nodes, () => 0.99)!.node.name).toBe("a");
    expect(selectHost(pod, nodes, () => 0)!.node.name).toBe("c");
  });
  it("selectHost of nothing is undefined", () => {
    expect(selectHost(podInfo(makePod()), [])).toBeUndefined();
  });
});

describe("numFeasibleNodesToFind", () => {
  it.each([
    [0, 0],
    [50, 50],
    [99, 99],
    [100, 100],
    [200, 100],
    [500, 230],
    [1000, 420],
    [5000, 500],
    [10_000, 500],
  ])("%i nodes → %i", (all, want) => {
    expect(numFeasibleNodesToFind(all)).toBe(want);
  });
  it("honours an explicit percentage", () => {
    expect(numFeasibleNodesToFind(1000, 100)).toBe(1000);
    expect(numFeasibleNodesToFind(1000, 50)).toBe(500);
    expect(numFeasibleNodesToFind(1000, 1)).toBe(100);
  });
});

describe("findFeasibleNodes", () => {
  it("starts at the given index, wraps, and stops at the limit", () => {
    const nodes = ["a", "b", "c", "d"].map((n) => nodeInfo(n));
    const r = findFeasibleNodes(podInfo(makePod()), nodes, 3, 2);
    expect(r.feasible.map((n) => n.name)).toEqual(["d", "a"]);
    expect(r.processed).toBe(2);
  });
  it("records why each rejected node failed", () => {
    const nodes = [nodeInfo("a", { cpu: "1" }), nodeInfo("b", { cpu: "4" })];
    const r = findFeasibleNodes(podInfo(makePod({ cpu: "2" })), nodes, 0, 10);
    expect(r.feasible.map((n) => n.name)).toEqual(["b"]);
    expect(r.failures.get("a")?.reasons).toEqual(["Insufficient cpu"]);
  });
});

describe("FailedScheduling message", () => {
  it("sorts the 'count reason' entries as strings", () => {
    expect(
      reasonHistogram(
        new Map([
          ["Insufficient cpu", 2],
          ["node(s) had untolerated taint {key: value}", 1],
        ]),
      ),
    ).toBe("1 node(s) had untolerated taint {key: value}, 2 Insufficient cpu");
  });
  it("matches upstream's format for the canonical example", () => {
    const nodes = [
      nodeInfo("n1", { taints: [{ key: "key", value: "value", effect: "NoSchedule" }] }),
      nodeInfo("n2"),
      nodeInfo("n3"),
    ];
    const r = schedulePod(podInfo(makePod({ cpu: "100" })), nodes);
    expect(r.kind).toBe("unschedulable");
    if (r.kind !== "unschedulable") return;
    expect(r.message).toBe(
      "0/3 nodes are available: 1 node(s) had untolerated taint {key: value}, 2 Insufficient cpu. " +
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
    );
  });
  it("says preemption found no victims for nodes that are merely full", () => {
    const full = nodeInfo("full", { pods: "1" });
    full.addPod(podUsage(makePod({ name: "x" })));
    const full2 = nodeInfo("full2", { pods: "1" });
    full2.addPod(podUsage(makePod({ name: "y" })));
    const cordoned = nodeInfo("cordoned", { unschedulable: true });
    const r = schedulePod(podInfo(makePod()), [full, cordoned, full2]);
    expect(r.kind === "unschedulable" && r.message).toBe(
      "0/3 nodes are available: 1 node(s) were unschedulable, 2 Too many pods. " +
        "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, " +
        "2 No preemption victims found for incoming pod.",
    );
  });
  it("counts every reason of every node, and a node per preemption line", () => {
    const msg = fitErrorMessage(4, [
      {
        plugin: "NodeResourcesFit",
        reasons: ["Insufficient cpu", "Insufficient memory"],
        unresolvable: false,
      },
      { plugin: "NodeResourcesFit", reasons: ["Too many pods"], unresolvable: false },
      { plugin: "NodeUnschedulable", reasons: [REASON.unschedulable], unresolvable: true },
      { plugin: "NodeAffinity", reasons: [REASON.nodeAffinity], unresolvable: true },
    ]);
    expect(msg).toBe(
      "0/4 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 Too many pods, " +
        "1 node(s) didn't match Pod's node affinity/selector, 1 node(s) were unschedulable. " +
        "preemption: 0/4 nodes are available: 2 No preemption victims found for incoming pod, " +
        "2 Preemption is not helpful for scheduling.",
    );
  });
  it("sorts counts as strings like upstream (10 before 2)", () => {
    const failures = [
      ...Array.from({ length: 10 }, () => ({ plugin: "x", reasons: ["b"], unresolvable: true })),
      ...Array.from({ length: 2 }, () => ({ plugin: "x", reasons: ["a"], unresolvable: true })),
    ];
    expect(fitErrorMessage(12, failures, { preemption: false })).toBe("0/12 nodes are available: 10 b, 2 a.");
  });
  it("honours preemptionPolicy Never and can leave the preemption part out", () => {
    const f = [{ plugin: "x", reasons: ["Insufficient cpu"], unresolvable: false }];
    expect(fitErrorMessage(1, f, { preemptionPolicy: "Never" })).toBe(
      "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.",
    );
    expect(fitErrorMessage(1, f, { preemption: false })).toBe("0/1 nodes are available: 1 Insufficient cpu.");
  });
  it("says so when there are no nodes", () => {
    const r = schedulePod(podInfo(makePod()), []);
    expect(r).toMatchObject({ kind: "unschedulable", message: NO_NODES_AVAILABLE });
  });
  it("uses each upstream reason string", () => {
    const nodes = [
      nodeInfo("a", { unschedulable: true }),
      nodeInfo("b", { labels: { zone: "x" } }),
      nodeInfo("c", { labels: { zone: "y" }, cpu: "1" }),
      nodeInfo("d", { labels: { zone: "y" }, memory: "1Gi" }),
      nodeInfo("e", { labels: { zone: "y" }, pods: "0" }),
      nodeInfo("f", { labels: { zone: "y" } }),
      nodeInfo("g", { labels: { zone: "y" }, taints: [{ key: "t", value: "1", effect: "NoExecute" }] }),
    ];
    nodes[5]!.addPod(podUsage(makePod({ name: "port", hostPorts: [{ port: 8080 }] })));
    const pod = makePod({
      cpu: "1500m",
      memory: "2Gi",
      nodeSelector: { zone: "y" },
      hostPorts: [{ port: 8080 }],
    });
    const r = schedulePod(podInfo(pod), nodes);
    if (r.kind !== "unschedulable") throw new Error("expected unschedulable");
    expect(r.message).toBe(
      "0/7 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 Too many pods, " +
        "1 node(s) didn't have free ports for the requested pod ports, " +
        "1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {t: 1}, " +
        "1 node(s) were unschedulable. " +
        "preemption: 0/7 nodes are available: 1 No preemption victims found for incoming pod, " +
        "6 Preemption is not helpful for scheduling.",
    );
    const named = schedulePod(podInfo(makePod({ nodeName: "zz" })), [nodeInfo("a")]);
    expect(named.kind === "unschedulable" && named.message).toContain(
      "1 node(s) didn't match the requested node name",
    );
  });
});

describe("schedulePod", () => {
  it("spreads pods over equal nodes and respects capacity", () => {
    const nodes = ["a", "b", "c"].map((n) => nodeInfo(n, { cpu: "2", memory: "4Gi" }));
    const placed: Record<string, number> = {};
    for (let i = 0; i < 9; i++) {
      const pod = makePod({ name: `p${i}`, cpu: "600m", memory: "100Mi" });
      const r = schedulePod(podInfo(pod), nodes);
      if (r.kind !== "scheduled") throw new Error(`pod ${i} unschedulable: ${r.message}`);
      r.node.addPod(podUsage(pod));
      placed[r.node.name] = (placed[r.node.name] ?? 0) + 1;
    }
    expect(placed).toEqual({ a: 3, b: 3, c: 3 });
    const r = schedulePod(podInfo(makePod({ name: "extra", cpu: "600m" })), nodes);
    expect(r.kind === "unschedulable" && r.message).toBe(
      "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
    );
  });
  it("stops looking after enough feasible nodes on big clusters", () => {
    const nodes = Array.from({ length: 500 }, (_, i) => nodeInfo(`n${String(i).padStart(3, "0")}`));
    const r = schedulePod(podInfo(makePod({ cpu: "100m" })), nodes, { start: 490 });
    expect(r).toMatchObject({ kind: "scheduled", feasible: 230, evaluated: 230 });
  });
  it("evaluates every node before declaring a pod unschedulable", () => {
    const nodes = Array.from({ length: 300 }, (_, i) => nodeInfo(`n${i}`, { cpu: "1" }));
    const r = schedulePod(podInfo(makePod({ cpu: "2" })), nodes, { start: 17 });
    expect(r).toMatchObject({ kind: "unschedulable", evaluated: 300 });
  });
});
