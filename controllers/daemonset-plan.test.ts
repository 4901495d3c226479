import { describe, expect, it } from "vitest";
import {
  type DaemonNode,
  type DaemonPod,
  type DaemonSet,
  daemonPodNodeName,
  newDaemonPod,
  nodeMatchesTerm,
  nodeShouldRunDaemonPod,
  planDaemonSet,
  REVISION_HASH_LABEL,
  scaledValue,
  statusChanged,
  templateHash,
  toleratesTaint,
  withDaemonTolerations,
} from "./daemonset-plan.js";

function node(
  name: string,
  opts: { labels?: Record<string, string>; taints?: { key: string; value?: string; effect: string }[] } = {},
): DaemonNode {
  return {
    metadata: { name, labels: { "kubernetes.io/hostname": name, ...(opts.labels ?? {}) } },
    spec: { taints: opts.taints },
  };
}

function ds(spec: Partial<NonNullable<DaemonSet["spec"]>> = {}, image = "agent:1"): DaemonSet {
  return {
    metadata: { name: "agent", namespace: "kube-system", uid: "ds-uid", generation: 2 },
    spec: {
      selector: { matchLabels: { app: "agent" } },
      template: { metadata: { labels: { app: "agent" } }, spec: { containers: [{ name: "a", image }] } },
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
      ...spec,
    },
  };
}

let seq = 0;
function podFor(
  d: DaemonSet,
  nodeName: string,
  opts: { ready?: boolean; hash?: string; deleting?: boolean; phase?: string; created?: string } = {},
): DaemonPod {
  const p = newDaemonPod(d, nodeName, opts.hash ?? templateHash(d.spec!.template));
  p.metadata.name = `agent-${++seq}`;
  p.metadata.uid = `pod-${seq}`;
  p.metadata.creationTimestamp = opts.created ?? `2024-01-01T00:00:${String(seq % 60).padStart(2, "0")}Z`;
  if (opts.deleting) p.metadata.deletionTimestamp = "2024-01-01T01:00:00Z";
  p.status = {
    phase: opts.phase ?? "Running",
    conditions: [
      {
        type: "Ready",
        status: opts.ready === false ? "False" : "True",
        lastTransitionTime: "2024-01-01T00:00:00Z",
      },
    ],
  };
  return p;
}

const NOW = Date.parse("2024-01-01T02:00:00Z");

describe("tolerations", () => {
  it("adds the automatic daemon tolerations once, network-unavailable only for hostNetwork", () => {
    const keys = (t: { key?: string; effect?: string }[]) => t.map((x) => `${x.key}:${x.effect}`);
    expect(keys(withDaemonTolerations([], false))).toEqual([
      "node.kubernetes.io/not-ready:NoExecute",
      "node.kubernetes.io/unreachable:NoExecute",
      "node.kubernetes.io/disk-pressure:NoSchedule",
      "node.kubernetes.io/memory-pressure:NoSchedule",
      "node.kubernetes.io/pid-pressure:NoSchedule",
      "node.kubernetes.io/unschedulable:NoSchedule",
    ]);
    expect(keys(withDaemonTolerations([], true))).toContain(
      "node.kubernetes.io/network-unavailable:NoSchedule",
    );
    const once = withDaemonTolerations(
      withDaemonTolerations([{ key: "x", operator: "Exists" }], false),
      false,
    );
    expect(once).toHaveLength(7);
  });
  it("matches taints by key, value, operator and effect", () => {
    const taint = { key: "dedicated", value: "gpu", effect: "NoSchedule" };
    expect(toleratesTaint({ key: "dedicated", value: "gpu" }, taint)).toBe(true);
    expect(toleratesTaint({ key: "dedicated", value: "cpu" }, taint)).toBe(false);
    expect(toleratesTaint({ key: "dedicated", operator: "Exists" }, taint)).toBe(true);
    expect(toleratesTaint({ key: "dedicated", operator: "Exists", effect: "NoExecute" }, taint)).toBe(false);
    expect(toleratesTaint({ operator: "Exists" }, taint)).toBe(true);
    expect(toleratesTaint({ key: "", value: "gpu" }, taint)).toBe(false);
  });
});

describe("node eligibility", () => {
  it("node selector and required affinity terms", () => {
    const n = node("n1", { labels: { disk: "ssd", cores: "8" } });
    expect(nodeShouldRunDaemonPod(n, { nodeSelector: { disk: "ssd" } }).shouldRun).toBe(true);
    expect(nodeShouldRunDaemonPod(n, { nodeSelector: { disk: "hdd" } })).toMatchObject({
      shouldRun: false,
      shouldContinueRunning: false,
    });
    const aff = (terms: object[]) => ({
      affinity: {
        nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } },
      },
    });
    expect(
      nodeShouldRunDaemonPod(
        n,
        aff([{ matchExpressions: [{ key: "cores", operator: "Gt", values: ["4"] }] }]),
      ).shouldRun,
    ).toBe(true);
    expect(
      nodeShouldRunDaemonPod(
        n,
        aff([{ matchExpressions: [{ key: "cores", operator: "Lt", values: ["4"] }] }]),
      ).shouldRun,
    ).toBe(false);
    expect(
      nodeShouldRunDaemonPod(n, aff([{ matchExpressions: [{ key: "gpu", operator: "DoesNotExist" }] }]))
        .shouldRun,
    ).toBe(true);
    expect(
      nodeShouldRunDaemonPod(
        n,
        aff([
          { matchExpressions: [{ key: "disk", operator: "NotIn", values: ["ssd"] }] },
          { matchFields: [{ key: "metadata.name", operator: "In", values: ["n1"] }] },
        ]),
      ).shouldRun,
    ).toBe(true);
    expect(nodeMatchesTerm(n, {})).toBe(false);
    expect(nodeShouldRunDaemonPod(n, { nodeName: "n2" }).shouldRun).toBe(false);
  });
  it("untolerated NoSchedule blocks new pods only; NoExecute blocks both; PreferNoSchedule nothing", () => {
    expect(
      nodeShouldRunDaemonPod(node("n", { taints: [{ key: "k", effect: "NoSchedule" }] }), {}),
    ).toMatchObject({ shouldRun: false, shouldContinueRunning: true });
    expect(
      nodeShouldRunDaemonPod(node("n", { taints: [{ key: "k", effect: "NoExecute" }] }), {}),
    ).toMatchObject({ shouldRun: false, shouldContinueRunning: false });
    expect(
      nodeShouldRunDaemonPod(node("n", { taints: [{ key: "k", effect: "PreferNoSchedule" }] }), {}).shouldRun,
    ).toBe(true);
    expect(
      nodeShouldRunDaemonPod(node("n", { taints: [{ key: "k", effect: "NoSchedule" }] }), {
        tolerations: [{ key: "k", operator: "Exists" }],
      }).shouldRun,
    ).toBe(true);
  });
  it("the automatic tolerations let daemon pods onto not-ready, unreachable, cordoned and pressured nodes", () => {
    for (const [key, effect] of [
      ["node.kubernetes.io/not-ready", "NoExecute"],
      ["node.kubernetes.io/unreachable", "NoExecute"],
      ["node.kubernetes.io/unschedulable", "NoSchedule"],
      ["node.kubernetes.io/disk-pressure", "NoSchedule"],
      ["node.kubernetes.io/memory-pressure", "NoSchedule"],
      ["node.kubernetes.io/pid-pressure", "NoSchedule"],
    ] as const) {
      expect(nodeShouldRunDaemonPod(node("n", { taints: [{ key, effect }] }), {}).shouldRun).toBe(true);
    }
    const netTaint = node("n", {
      taints: [{ key: "node.kubernetes.io/network-unavailable", effect: "NoSchedule" }],
    });
    expect(nodeShouldRunDaemonPod(netTaint, {}).shouldRun).toBe(false);
    expect(nodeShouldRunDaemonPod(netTaint, { hostNetwork: true }).shouldRun).toBe(true);
  });
});

describe("newDaemonPod and hashes", () => {
  it("builds a pod bound to the node, owned by the DaemonSet, labelled with the hash", () => {
    const d = ds({
      template: {
        metadata: { labels: { app: "agent" }, annotations: { a: "b" } },
        spec: {
          containers: [{ name: "a" }],
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchExpressions: [{ key: "x", operator: "Exists" }] }],
              },
            },
          },
        },
      },
    });
    const p = newDaemonPod(d, "n1", "abc");
    expect(p.metadata.generateName).toBe("agent-");
    expect(p.metadata.namespace).toBe("kube-system");
    expect(p.metadata.labels).toEqual({
      app: "agent",
      [REVISION_HASH_LABEL]: "abc",
      "pod-template-generation": "2",
    });
    expect(p.metadata.annotations).toEqual({ a: "b" });
    expect(p.metadata.ownerReferences).toEqual([
      {
        apiVersion: "apps/v1",
        kind: "DaemonSet",
        name: "agent",
        uid: "ds-uid",
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(p.spec!.nodeName).toBe("n1");
    expect(
      p.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms,
    ).toEqual([{ matchFields: [{ key: "metadata.name", operator: "In", values: ["n1"] }] }]);
    expect(p.spec!.tolerations).toHaveLength(6);
    // the template itself is not modified
    expect(d.spec!.template!.spec!.tolerations).toBeUndefined();
    expect(daemonPodNodeName(p)).toBe("n1");
    delete p.spec!.nodeName;
    expect(daemonPodNodeName(p)).toBe("n1");
  });
  it("hash is stable across key order and changes with the template", () => {
    expect(templateHash({ a: 1, b: { c: 2 } })).toBe(templateHash({ b: { c: 2 }, a: 1 }));
    expect(templateHash(ds().spec!.template)).not.toBe(templateHash(ds({}, "agent:2").spec!.template));
    expect(templateHash({})).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]+$/);
  });
  it("scales int-or-percent values, rounding percentages up", () => {
    expect(scaledValue(undefined, 10, 1)).toBe(1);
    expect(scaledValue(2, 10, 1)).toBe(2);
    expect(scaledValue("25%", 10, 1)).toBe(3);
    expect(scaledValue("0%", 10, 1)).toBe(0);
  });
});

describe("planDaemonSet", () => {
  it("creates one pod per eligible node and reports status", () => {
    const d = ds({
      template: {
        metadata: { labels: { app: "agent" } },
        spec: { containers: [], nodeSelector: { role: "w" } },
      },
    });
    const nodes = [node("n1", { labels: { role: "w" } }), node("n2", { labels: { role: "w" } }), node("n3")];
    const plan = planDaemonSet(d, nodes, [], NOW);
    expect(plan.create).toEqual(["n1", "n2"]);
    expect(plan.delete).toEqual([]);
    expect(plan.status).toMatchObject({
      desiredNumberScheduled: 2,
      currentNumberScheduled: 0,
      numberUnavailable: 2,
      observedGeneration: 2,
    });
  });
  it("is idempotent once every node has a ready pod", () => {
    const d = ds();
    const nodes = [node("n1"), node("n2"), node("n3")];
    const pods = nodes.map((n) => podFor(d, n.metadata.name!));
    const plan = planDaemonSet(d, nodes, pods, NOW);
    expect(plan.create).toEqual([]);
    expect(plan.delete).toEqual([]);
    expect(plan.status).toEqual({
      desiredNumberScheduled: 3,
      currentNumberScheduled: 3,
      numberMisscheduled: 0,
      numberReady: 3,
      observedGeneration: 2,
      updatedNumberScheduled: 3,
      numberAvailable: 3,
      numberUnavailable: 0,
    });
    expect(statusChanged(plan.status, plan.status)).toBe(false);
    expect(statusChanged({ ...plan.status, numberReady: 2 }, plan.status)).toBe(true);
  });
  it("deletes pods on nodes that lost eligibility or no longer exist; keeps pods on NoSchedule-tainted nodes as misscheduled-free", () => {
    const d = ds({
      template: {
        metadata: { labels: { app: "agent" } },
        spec: { containers: [], nodeSelector: { role: "w" } },
      },
    });
    const nodes = [
      node("n1", { labels: { role: "w" } }),
      node("n2"),
      node("n4", { labels: { role: "w" }, taints: [{ key: "k", effect: "NoSchedule" }] }),
    ];
    const p1 = podFor(d, "n1");
    const p2 = podFor(d, "n2");
    const p3 = podFor(d, "gone");
    const p4 = podFor(d, "n4");
    const plan = planDaemonSet(d, nodes, [p1, p2, p3, p4], NOW);
    expect(plan.delete.map((x) => x.pod)).toEqual([p2, p3]);
    expect(plan.status.numberMisscheduled).toBe(2);
    expect(plan.status.desiredNumberScheduled).toBe(1);
  });
  it("NoExecute taints evict the daemon pod", () => {
    const d = ds();
    const p = podFor(d, "n1");
    const plan = planDaemonSet(d, [node("n1", { taints: [{ key: "k", effect: "NoExecute" }] })], [p], NOW);
    expect(plan.delete.map((x) => x.pod)).toEqual([p]);
  });
  it("deletes failed and extra pods, keeping the updated one", () => {
    const d = ds();
    const old = podFor(d, "n1", { hash: "old" });
    const cur = podFor(d, "n1");
    const failed = podFor(d, "n2", { phase: "Failed" });
    const plan = planDaemonSet(d, [node("n1"), node("n2")], [old, cur, failed], NOW);
    expect(new Set(plan.delete.map((x) => x.pod))).toEqual(new Set([old, failed]));
    expect(plan.create).toEqual([]);
  });
  it("a terminating pod blocks a replacement until it is gone", () => {
    const d = ds();
    const plan = planDaemonSet(d, [node("n1")], [podFor(d, "n1", { deleting: true, hash: "old" })], NOW);
    expect(plan.create).toEqual([]);
    expect(plan.delete).toEqual([]);
    expect(planDaemonSet(d, [node("n1")], [], NOW).create).toEqual(["n1"]);
  });
  it("rolling update deletes old pods on at most maxUnavailable nodes", () => {
    const d = ds({}, "agent:2");
    const nodes = ["n1", "n2", "n3", "n4"].map((n) => node(n));
    const pods = nodes.map((n) => podFor(d, n.metadata.name!, { hash: "old" }));
    const plan = planDaemonSet(d, nodes, pods, NOW);
    expect(plan.delete.map((x) => x.pod)).toEqual([pods[0]]);
    expect(plan.status.updatedNumberScheduled).toBe(0);
    // maxUnavailable 2
    const d2 = ds(
      { updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 2 } } },
      "agent:2",
    );
    expect(planDaemonSet(d2, nodes, pods, NOW).delete).toHaveLength(2);
    // 50% of 4 = 2
    const d3 = ds(
      { updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "50%" } } },
      "agent:2",
    );
    expect(planDaemonSet(d3, nodes, pods, NOW).delete).toHaveLength(2);
  });
  it("rolling update waits while a node is unavailable (terminating, missing or unready new pod)", () => {
    const d = ds({}, "agent:2");
    const nodes = ["n1", "n2", "n3"].map((n) => node(n));
    const olds = [podFor(d, "n2", { hash: "old" }), podFor(d, "n3", { hash: "old" })];
    expect(
      planDaemonSet(d, nodes, [podFor(d, "n1", { deleting: true, hash: "old" }), ...olds], NOW).delete,
    ).toEqual([]);
    const missing = planDaemonSet(d, nodes, olds, NOW);
    expect(missing.create).toEqual(["n1"]);
    expect(missing.delete).toEqual([]);
    expect(planDaemonSet(d, nodes, [podFor(d, "n1", { ready: false }), ...olds], NOW).delete).toEqual([]);
    const next = planDaemonSet(d, nodes, [podFor(d, "n1"), ...olds], NOW);
    expect(next.delete.map((x) => x.pod)).toEqual([olds[0]]);
    expect(next.status.updatedNumberScheduled).toBe(1);
  });
  it("unavailable old pods are replaced regardless of the budget", () => {
    const d = ds({}, "agent:2");
    const nodes = ["n1", "n2", "n3"].map((n) => node(n));
    const pods = [
      podFor(d, "n1", { hash: "old", ready: false }),
      podFor(d, "n2", { hash: "old", ready: false }),
      podFor(d, "n3", { hash: "old" }),
    ];
    expect(planDaemonSet(d, nodes, pods, NOW).delete.map((x) => x.pod)).toEqual([pods[0], pods[1]]);
  });
  it("OnDelete never replaces old pods", () => {
    const d = ds({ updateStrategy: { type: "OnDelete" } }, "agent:2");
    const plan = planDaemonSet(d, [node("n1")], [podFor(d, "n1", { hash: "old" })], NOW);
    expect(plan.delete).toEqual([]);
  });
  it("minReadySeconds: available only after the delay, with a requeue", () => {
    const d = ds({ minReadySeconds: 30 });
    const p = podFor(d, "n1");
    p.status!.conditions![0]!.lastTransitionTime = new Date(NOW - 10_000).toISOString();
    const plan = planDaemonSet(d, [node("n1")], [p], NOW);
    expect(plan.status.numberReady).toBe(1);
    expect(plan.status.numberAvailable).toBe(0);
    expect(plan.requeueAfterMs).toBeGreaterThanOrEqual(20_000);
    expect(plan.requeueAfterMs).toBeLessThan(21_000);
  });
});
