import { describe, expect, it } from "vitest";
import { podUsage } from "./cache.js";
import {
  filterNodeAffinity,
  filterNodeName,
  filterNodePorts,
  filterNodeResourcesFit,
  filterNodeUnschedulable,
  filterTaintToleration,
  firstUntolerated,
  nodeSelectorMatches,
  REASON,
  requirementMatchesLabels,
  runFilters,
  toleratesTaint,
} from "./filters.js";
import { podInfo } from "./node-info.js";
import { makePod, nodeInfo } from "./testutil.js";
import type { NodeSelectorRequirement, Taint } from "./types.js";

const labels = { zone: "a", gen: "5", disk: "ssd" };
const req = (key: string, operator: string, values?: string[]): NodeSelectorRequirement => ({
  key,
  operator,
  values,
});

describe("node affinity requirements", () => {
  it.each([
    [req("zone", "In", ["a", "b"]), true],
    [req("zone", "In", ["b"]), false],
    [req("missing", "In", ["a"]), false],
    [req("zone", "In", []), false],
    [req("zone", "NotIn", ["b"]), true],
    [req("zone", "NotIn", ["a"]), false],
    [req("missing", "NotIn", ["a"]), true],
    [req("zone", "Exists"), true],
    [req("missing", "Exists"), false],
    [req("zone", "Exists", ["a"]), false],
    [req("missing", "DoesNotExist"), true],
    [req("zone", "DoesNotExist"), false],
    [req("gen", "Gt", ["4"]), true],
    [req("gen", "Gt", ["5"]), false],
    [req("gen", "Lt", ["6"]), true],
    [req("gen", "Lt", ["5"]), false],
    [req("gen", "Gt", ["x"]), false],
    [req("zone", "Gt", ["1"]), false],
    [req("missing", "Lt", ["10"]), false],
    [req("gen", "Gt", ["1", "2"]), false],
    [req("gen", "Gt", ["-1"]), true],
    [req("zone", "Bogus", ["a"]), false],
  ])("%j → %s", (r, want) => {
    expect(requirementMatchesLabels(r, labels)).toBe(want);
  });

  it("ORs terms, ANDs expressions and fields within a term", () => {
    const sel = {
      nodeSelectorTerms: [
        { matchExpressions: [req("zone", "In", ["b"])] },
        { matchExpressions: [req("disk", "In", ["ssd"]), req("gen", "Gt", ["3"])] },
      ],
    };
    expect(nodeSelectorMatches(sel, labels, "n1")).toBe(true);
    expect(
      nodeSelectorMatches(
        { nodeSelectorTerms: [{ matchExpressions: [req("disk", "In", ["ssd"]), req("gen", "Gt", ["9"])] }] },
        labels,
        "n1",
      ),
    ).toBe(false);
  });
  it("matches nothing with no terms or an empty term", () => {
    expect(nodeSelectorMatches({ nodeSelectorTerms: [] }, labels, "n1")).toBe(false);
    expect(nodeSelectorMatches({ nodeSelectorTerms: [{}] }, labels, "n1")).toBe(false);
    expect(nodeSelectorMatches({ nodeSelectorTerms: [{ matchExpressions: [] }] }, labels, "n1")).toBe(false);
  });
  it("supports matchFields metadata.name In/NotIn only", () => {
    const by = (r: NodeSelectorRequirement) => ({ nodeSelectorTerms: [{ matchFields: [r] }] });
    expect(nodeSelectorMatches(by(req("metadata.name", "In", ["n1"])), labels, "n1")).toBe(true);
    expect(nodeSelectorMatches(by(req("metadata.name", "In", ["n2"])), labels, "n1")).toBe(false);
    expect(nodeSelectorMatches(by(req("metadata.name", "NotIn", ["n2"])), labels, "n1")).toBe(true);
    expect(nodeSelectorMatches(by(req("metadata.name", "NotIn", ["n1"])), labels, "n1")).toBe(false);
    expect(nodeSelectorMatches(by(req("metadata.uid", "In", ["n1"])), labels, "n1")).toBe(false);
    expect(nodeSelectorMatches(by(req("metadata.name", "Exists")), labels, "n1")).toBe(false);
    const both = {
      nodeSelectorTerms: [
        { matchExpressions: [req("zone", "In", ["a"])], matchFields: [req("metadata.name", "In", ["n2"])] },
      ],
    };
    expect(nodeSelectorMatches(both, labels, "n1")).toBe(false);
    expect(nodeSelectorMatches(both, labels, "n2")).toBe(true);
  });
});

describe("filterNodeAffinity", () => {
  const node = nodeInfo("n1", { labels: { zone: "a", disk: "ssd" } });
  it("passes with no selector or affinity", () => {
    expect(filterNodeAffinity(podInfo(makePod()), node)).toBeUndefined();
  });
  it("requires every nodeSelector label", () => {
    expect(
      filterNodeAffinity(podInfo(makePod({ nodeSelector: { zone: "a", disk: "ssd" } })), node),
    ).toBeUndefined();
    const f = filterNodeAffinity(podInfo(makePod({ nodeSelector: { zone: "a", disk: "hdd" } })), node);
    expect(f).toEqual({ plugin: "NodeAffinity", reasons: [REASON.nodeAffinity], unresolvable: true });
  });
  it("requires nodeSelector AND required affinity", () => {
    const affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [req("zone", "NotIn", ["a"])] }],
        },
      },
    };
    expect(filterNodeAffinity(podInfo(makePod({ affinity })), node)?.reasons).toEqual([REASON.nodeAffinity]);
    const ok = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [req("zone", "In", ["a"])] }],
        },
      },
    };
    expect(filterNodeAffinity(podInfo(makePod({ affinity: ok })), node)).toBeUndefined();
    expect(
      filterNodeAffinity(podInfo(makePod({ affinity: ok, nodeSelector: { disk: "hdd" } })), node),
    ).toBeDefined();
  });
  it("ignores preferred affinity when filtering", () => {
    const affinity = {
      nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, preference: {} }] },
    };
    expect(filterNodeAffinity(podInfo(makePod({ affinity })), node)).toBeUndefined();
  });
});

describe("tolerations", () => {
  const t = (key: string, value: string | undefined, effect: string): Taint => ({ key, value, effect });
  it.each([
    [{ key: "k", operator: "Equal", value: "v", effect: "NoSchedule" }, t("k", "v", "NoSchedule"), true],
    [{ key: "k", value: "v", effect: "NoSchedule" }, t("k", "v", "NoSchedule"), true],
    [{ key: "k", value: "v" }, t("k", "v", "NoExecute"), true],
    [{ key: "k", value: "w" }, t("k", "v", "NoSchedule"), false],
    [{ key: "k", value: "v", effect: "NoExecute" }, t("k", "v", "NoSchedule"), false],
    [{ key: "k", operator: "Exists" }, t("k", "anything", "NoSchedule"), true],
    [{ key: "other", operator: "Exists" }, t("k", "v", "NoSchedule"), false],
    [{ operator: "Exists" }, t("k", "v", "NoExecute"), true],
    [{ operator: "Exists", effect: "NoSchedule" }, t("k", "v", "NoExecute"), false],
    [{ key: "k" }, t("k", undefined, "NoSchedule"), true],
    [{ key: "k", value: "" }, t("k", "", "NoSchedule"), true],
    [{ value: "v" }, t("k", "v", "NoSchedule"), false],
    [{ key: "k", operator: "Gt", value: "v" }, t("k", "v", "NoSchedule"), false],
  ])("%j tolerates %j: %s", (tol, taint, want) => {
    expect(toleratesTaint(tol, taint)).toBe(want);
  });
  it("finds the first untolerated taint", () => {
    const taints = [t("a", "1", "NoSchedule"), t("b", "2", "NoExecute")];
    expect(firstUntolerated(taints, [{ key: "a", operator: "Exists" }])).toEqual(taints[1]);
    expect(firstUntolerated(taints, [])).toEqual(taints[0]);
    expect(firstUntolerated(taints, [{ operator: "Exists" }])).toBeUndefined();
  });
});

describe("filterTaintToleration", () => {
  it("fails on an untolerated NoSchedule or NoExecute taint with upstream's message", () => {
    const n = nodeInfo("n", { taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }] });
    expect(filterTaintToleration(podInfo(makePod()), n)).toEqual({
      plugin: "TaintToleration",
      reasons: ["node(s) had untolerated taint {dedicated: gpu}"],
      unresolvable: true,
    });
    const ne = nodeInfo("n", { taints: [{ key: "node.kubernetes.io/not-ready", effect: "NoExecute" }] });
    expect(filterTaintToleration(podInfo(makePod()), ne)?.reasons).toEqual([
      "node(s) had untolerated taint {node.kubernetes.io/not-ready: }",
    ]);
  });
  it("ignores PreferNoSchedule", () => {
    const n = nodeInfo("n", { taints: [{ key: "soft", value: "x", effect: "PreferNoSchedule" }] });
    expect(filterTaintToleration(podInfo(makePod()), n)).toBeUndefined();
  });
  it("passes when tolerated", () => {
    const n = nodeInfo("n", { taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }] });
    const pod = makePod({
      tolerations: [{ key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule" }],
    });
    expect(filterTaintToleration(podInfo(pod), n)).toBeUndefined();
  });
});

describe("filterNodeUnschedulable", () => {
  const n = nodeInfo("n", { unschedulable: true });
  it("rejects pods on cordoned nodes", () => {
    expect(filterNodeUnschedulable(podInfo(makePod()), n)).toEqual({
      plugin: "NodeUnschedulable",
      reasons: [REASON.unschedulable],
      unresolvable: true,
    });
    expect(filterNodeUnschedulable(podInfo(makePod()), nodeInfo("m"))).toBeUndefined();
  });
  it("lets pods tolerating node.kubernetes.io/unschedulable through", () => {
    const pod = makePod({
      tolerations: [{ key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" }],
    });
    expect(filterNodeUnschedulable(podInfo(pod), n)).toBeUndefined();
    const wrongEffect = makePod({
      tolerations: [{ key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoExecute" }],
    });
    expect(filterNodeUnschedulable(podInfo(wrongEffect), n)).toBeDefined();
    expect(
      filterNodeUnschedulable(podInfo(makePod({ tolerations: [{ operator: "Exists" }] })), n),
    ).toBeUndefined();
  });
});

describe("filterNodeName", () => {
  it("only matches the named node", () => {
    const pod = podInfo(makePod({ nodeName: "n1" }));
    expect(filterNodeName(pod, nodeInfo("n1"))).toBeUndefined();
    expect(filterNodeName(pod, nodeInfo("n2"))?.reasons).toEqual([REASON.nodeName]);
    expect(filterNodeName(podInfo(makePod()), nodeInfo("n2"))).toBeUndefined();
  });
});

describe("filterNodePorts", () => {
  const occupied = (ports: { port: number; protocol?: string; ip?: string }[]) => {
    const n = nodeInfo("n");
    n.addPod(podUsage(makePod({ name: "other", hostPorts: ports })));
    return n;
  };
  it("conflicts on the same protocol and port", () => {
    const n = occupied([{ port: 80 }]);
    expect(filterNodePorts(podInfo(makePod({ hostPorts: [{ port: 80 }] })), n)).toEqual({
      plugin: "NodePorts",
      reasons: [REASON.ports],
      unresolvable: false,
    });
    expect(filterNodePorts(podInfo(makePod({ hostPorts: [{ port: 81 }] })), n)).toBeUndefined();
    expect(
      filterNodePorts(podInfo(makePod({ hostPorts: [{ port: 80, protocol: "UDP" }] })), n),
    ).toBeUndefined();
  });
  it("treats 0.0.0.0 as overlapping every IP, distinct IPs as free", () => {
    const specific = occupied([{ port: 80, ip: "10.0.0.1" }]);
    expect(
      filterNodePorts(podInfo(makePod({ hostPorts: [{ port: 80, ip: "10.0.0.2" }] })), specific),
    ).toBeUndefined();
    expect(
      filterNodePorts(podInfo(makePod({ hostPorts: [{ port: 80, ip: "10.0.0.1" }] })), specific),
    ).toBeDefined();
    expect(filterNodePorts(podInfo(makePod({ hostPorts: [{ port: 80 }] })), specific)).toBeDefined();
    const wildcard = occupied([{ port: 80 }]);
    expect(
      filterNodePorts(podInfo(makePod({ hostPorts: [{ port: 80, ip: "10.0.0.9" }] })), wildcard),
    ).toBeDefined();
  });
  it("frees ports when the pod leaves", () => {
    const n = nodeInfo("n");
    const u = podUsage(makePod({ name: "other", hostPorts: [{ port: 80 }] }));
    n.addPod(u);
    n.removePod(u);
    expect(filterNodePorts(podInfo(makePod({ hostPorts: [{ port: 80 }] })), n)).toBeUndefined();
  });
  it("ignores container ports without hostPort", () => {
    const n = occupied([{ port: 80 }]);
    const pod = makePod({ containers: [{ name: "c", ports: [{ containerPort: 80 }] }] });
    expect(filterNodePorts(podInfo(pod), n)).toBeUndefined();
  });
});

describe("filterNodeResourcesFit", () => {
  it("fits within allocatable minus what is requested", () => {
    const n = nodeInfo("n", { cpu: "2", memory: "4Gi" });
    for (let i = 0; i < 3; i++) n.addPod(podUsage(makePod({ name: `p${i}`, cpu: "600m" })));
    expect(filterNodeResourcesFit(podInfo(makePod({ cpu: "200m" })), n)).toBeUndefined();
    expect(filterNodeResourcesFit(podInfo(makePod({ cpu: "600m" })), n)).toEqual({
      plugin: "NodeResourcesFit",
      reasons: ["Insufficient cpu"],
      unresolvable: false,
    });
  });
  it("lists every insufficient resource, pods first", () => {
    const n = nodeInfo("n", { cpu: "1", memory: "1Gi", pods: "1" });
    n.addPod(podUsage(makePod({ name: "x", cpu: "500m", memory: "512Mi" })));
    const f = filterNodeResourcesFit(podInfo(makePod({ cpu: "600m", memory: "600Mi" })), n);
    expect(f?.reasons).toEqual(["Too many pods", "Insufficient cpu", "Insufficient memory"]);
    expect(f?.unresolvable).toBe(false);
  });
  it("is unresolvable when the pod alone exceeds allocatable", () => {
    const n = nodeInfo("n", { cpu: "2" });
    expect(filterNodeResourcesFit(podInfo(makePod({ cpu: "100" })), n)).toEqual({
      plugin: "NodeResourcesFit",
      reasons: ["Insufficient cpu"],
      unresolvable: true,
    });
    const zeroPods = nodeInfo("z", { pods: "0" });
    expect(filterNodeResourcesFit(podInfo(makePod()), zeroPods)).toEqual({
      plugin: "NodeResourcesFit",
      reasons: ["Too many pods"],
      unresolvable: true,
    });
  });
  it("checks the pod count even for pods without requests", () => {
    const n = nodeInfo("n", { pods: "2" });
    n.addPod(podUsage(makePod({ name: "a" })));
    expect(filterNodeResourcesFit(podInfo(makePod()), n)).toBeUndefined();
    n.addPod(podUsage(makePod({ name: "b" })));
    expect(filterNodeResourcesFit(podInfo(makePod()), n)?.reasons).toEqual(["Too many pods"]);
  });
  it("does not reject zero-request pods on overcommitted nodes", () => {
    const n = nodeInfo("n", { cpu: "1" });
    n.addPod(podUsage(makePod({ name: "big", cpu: "2" })));
    expect(filterNodeResourcesFit(podInfo(makePod()), n)).toBeUndefined();
  });
  it("checks extended resources and ephemeral storage", () => {
    const n = nodeInfo("n", { extra: { "example.com/gpu": "1", "ephemeral-storage": "10Gi" } });
    const gpu = makePod({ containers: [{ name: "c", resources: { requests: { "example.com/gpu": "2" } } }] });
    expect(filterNodeResourcesFit(podInfo(gpu), n)?.reasons).toEqual(["Insufficient example.com/gpu"]);
    const other = makePod({
      containers: [{ name: "c", resources: { requests: { "example.com/fpga": "1" } } }],
    });
    expect(filterNodeResourcesFit(podInfo(other), n)?.reasons).toEqual(["Insufficient example.com/fpga"]);
    const disk = makePod({
      containers: [{ name: "c", resources: { requests: { "ephemeral-storage": "11Gi" } } }],
    });
    expect(filterNodeResourcesFit(podInfo(disk), n)?.reasons).toEqual(["Insufficient ephemeral-storage"]);
  });
});

describe("runFilters", () => {
  it("reports only the first failing filter, in upstream order", () => {
    const n = nodeInfo("n", {
      cpu: "1",
      unschedulable: true,
      taints: [{ key: "k", value: "v", effect: "NoSchedule" }],
    });
    const pod = podInfo(makePod({ cpu: "2", nodeSelector: { x: "y" } }));
    expect(runFilters(pod, n)?.plugin).toBe("NodeUnschedulable");
    const pod2 = podInfo(
      makePod({
        cpu: "2",
        nodeSelector: { x: "y" },
        tolerations: [{ key: "node.kubernetes.io/unschedulable", operator: "Exists" }],
      }),
    );
    expect(runFilters(pod2, n)?.plugin).toBe("TaintToleration");
    const pod3 = podInfo(
      makePod({ cpu: "2", nodeSelector: { x: "y" }, tolerations: [{ operator: "Exists" }] }),
    );
    expect(runFilters(pod3, n)?.plugin).toBe("NodeAffinity");
    const pod4 = podInfo(makePod({ cpu: "2", tolerations: [{ operator: "Exists" }] }));
    expect(runFilters(pod4, n)?.plugin).toBe("NodeResourcesFit");
    const pod5 = podInfo(makePod({ cpu: "1", tolerations: [{ operator: "Exists" }] }));
    expect(runFilters(pod5, n)).toBeUndefined();
  });
});

describe("podHostPorts", () => {
  it("collects host ports of app containers and sidecars, defaulting protocol and IP", async () => {
    const { podHostPorts } = await import("./node-info.js");
    const pod = makePod({
      containers: [
        {
          name: "a",
          ports: [
            { containerPort: 80, hostPort: 8080 },
            { containerPort: 53, hostPort: 53, protocol: "UDP", hostIP: "127.0.0.1" },
          ],
        },
      ],
      initContainers: [
        { name: "side", restartPolicy: "Always", ports: [{ containerPort: 9000, hostPort: 9000 }] },
        { name: "init", ports: [{ containerPort: 7000, hostPort: 7000 }] },
      ],
    });
    expect(podHostPorts(pod)).toEqual([
      { protocol: "TCP", ip: "0.0.0.0", port: 8080 },
      { protocol: "UDP", ip: "127.0.0.1", port: 53 },
      { protocol: "TCP", ip: "0.0.0.0", port: 9000 },
    ]);
  });
});
