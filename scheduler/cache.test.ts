import { describe, expect, it } from "vitest";
import { SchedulerCache } from "./cache.js";
import { makeNode, makePod } from "./testutil.js";

const bound = (name: string, node: string, cpu = "500m", phase = "Running") =>
  makePod({ name, nodeName: node, cpu, phase });

describe("SchedulerCache", () => {
  it("keeps per-node sums of bound pods incrementally", () => {
    const c = new SchedulerCache();
    c.addOrUpdateNode(makeNode("n1"));
    c.updatePodFromInformer(bound("a", "n1"));
    c.updatePodFromInformer(bound("b", "n1", "250m"));
    const n = c.getNode("n1")!;
    expect(n.requested.milliCPU).toBe(750);
    expect(n.podCount).toBe(2);
    // an update that changes nothing does not double count
    c.updatePodFromInformer(bound("a", "n1"));
    expect(n.requested.milliCPU).toBe(750);
    c.removePod("default/a");
    expect(n.requested.milliCPU).toBe(250);
    expect(n.podCount).toBe(1);
  });

  it("frees the resources of terminated pods", () => {
    const c = new SchedulerCache();
    c.addOrUpdateNode(makeNode("n1"));
    c.updatePodFromInformer(bound("a", "n1"));
    c.updatePodFromInformer(bound("a", "n1", "500m", "Succeeded"));
    expect(c.getNode("n1")!.requested.milliCPU).toBe(0);
    expect(c.hasPod("default/a")).toBe(false);
    c.updatePodFromInformer(bound("f", "n1", "500m", "Failed"));
    expect(c.getNode("n1")!.podCount).toBe(0);
  });

  it("counts assumed pods at once and confirms them when the informer shows the binding", () => {
    const c = new SchedulerCache();
    c.addOrUpdateNode(makeNode("n1"));
    const pod = makePod({ name: "a", cpu: "600m" });
    c.assumePod(pod, "n1");
    expect(c.getNode("n1")!.requested.milliCPU).toBe(600);
    expect(c.isAssumed("default/a")).toBe(true);
    expect(() => c.assumePod(pod, "n1")).toThrow(/already/);
    // the informer still shows it unbound (our bind is in flight): no change
    c.updatePodFromInformer(pod);
    expect(c.isAssumed("default/a")).toBe(true);
    c.finishBinding("default/a");
    c.updatePodFromInformer({ ...pod, spec: { ...pod.spec, nodeName: "n1" } });
    expect(c.isAssumed("default/a")).toBe(false);
    expect(c.getNode("n1")!.requested.milliCPU).toBe(600);
    expect(c.getNode("n1")!.podCount).toBe(1);
    // forgetting a confirmed pod is a no-op
    c.forgetPod("default/a");
    expect(c.getNode("n1")!.podCount).toBe(1);
  });

  it("forgets an assumed pod whose bind failed", () => {
    const c = new SchedulerCache();
    c.addOrUpdateNode(makeNode("n1"));
    c.assumePod(makePod({ name: "a", cpu: "600m" }), "n1");
    c.forgetPod("default/a");
    expect(c.getNode("n1")!.requested.milliCPU).toBe(0);
    expect(c.hasPod("default/a")).toBe(false);
  });

  it("moves a pod the informer shows on another node than assumed", () => {
    const c = new SchedulerCache();
    c.addOrUpdateNode(makeNode("n1"));
    c.addOrUpdateNode(makeNode("n2"));
    c.assumePod(makePod({ name: "a", cpu: "1" }), "n1");
    c.updatePodFromInformer(bound("a", "n2", "1"));
    expect(c.getNode("n1")!.requested.milliCPU).toBe(0);
    expect(c.getNode("n2")!.requested.milliCPU).toBe(1000);
  });

  it("expires assumed pods the informer never confirmed", () => {
    let now = 1000;
    const c = new SchedulerCache(() => now);
    c.addOrUpdateNode(makeNode("n1"));
    c.assumePod(makePod({ name: "a" }), "n1");
    c.assumePod(makePod({ name: "b" }), "n1");
    c.finishBinding("default/a");
    now += 60_000;
    expect(c.expireAssumed(30_000)).toEqual(["default/a"]);
    expect(c.hasPod("default/b")).toBe(true); // bind not finished: never expires
  });

  it("accepts pods before their node and lists only real nodes, sorted", () => {
    const c = new SchedulerCache();
    c.updatePodFromInformer(bound("a", "n2"));
    expect(c.listNodes()).toEqual([]);
    c.addOrUpdateNode(makeNode("n2"));
    c.addOrUpdateNode(makeNode("n1"));
    expect(c.listNodes().map((n) => n.name)).toEqual(["n1", "n2"]);
    expect(c.getNode("n2")!.requested.milliCPU).toBe(500);
    c.removeNode("n2");
    expect(c.listNodes().map((n) => n.name)).toEqual(["n1"]);
    // the pod's delete still arrives and cleans up the placeholder
    c.removePod("default/a");
    expect(c.getNode("n2")).toBeUndefined();
    c.removeNode("n1");
    expect(c.nodeCount).toBe(0);
  });

  it("picks up node changes (allocatable, taints, cordon)", () => {
    const c = new SchedulerCache();
    c.addOrUpdateNode(makeNode("n1", { cpu: "2" }));
    const list = c.listNodes();
    c.addOrUpdateNode(
      makeNode("n1", { cpu: "8", unschedulable: true, taints: [{ key: "k", effect: "NoExecute" }] }),
    );
    const n = c.getNode("n1")!;
    expect(n.allocatable.resources.milliCPU).toBe(8000);
    expect(n.unschedulable).toBe(true);
    expect(n.filterTaints).toHaveLength(1);
    expect(c.listNodes()).toBe(list); // same set of nodes: the list is reused
  });
});
