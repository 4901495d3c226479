import { describe, expect, it } from "vitest";
import {
  type Condition,
  evictionTime,
  heartbeatOf,
  isSilent,
  podNotReadyConditions,
  readyStatus,
  reconcileTaints,
  silentConditions,
  TAINT_NOT_READY,
  TAINT_UNREACHABLE,
  tolerates,
  updateProbe,
} from "./node-lifecycle-decide.js";

const T0 = Date.parse("2025-01-01T00:00:00Z");

describe("probes", () => {
  it("keeps the first observation time while the heartbeat does not change", () => {
    const p1 = updateProbe(undefined, "lease:a", T0);
    const p2 = updateProbe(p1, "lease:a", T0 + 10_000);
    expect(p2).toBe(p1);
    const p3 = updateProbe(p2, "lease:b", T0 + 20_000);
    expect(p3).toEqual({ heartbeat: "lease:b", observedAt: T0 + 20_000 });
    expect(isSilent(p1, T0 + 40_000, 40_000)).toBe(false);
    expect(isSilent(p1, T0 + 40_001, 40_000)).toBe(true);
  });
  it("prefers the lease's renewTime over the Ready heartbeat", () => {
    const conds: Condition[] = [{ type: "Ready", status: "True", lastHeartbeatTime: "h1" }];
    expect(heartbeatOf({ spec: { renewTime: "r1" } }, conds)).toBe("lease:r1");
    expect(heartbeatOf(undefined, conds)).toBe("ready:h1");
    expect(heartbeatOf(undefined, undefined)).toBe("ready:");
  });
});

describe("silentConditions", () => {
  it("turns monitored conditions Unknown with NodeStatusUnknown, keeps heartbeats and others", () => {
    const conds: Condition[] = [
      {
        type: "Ready",
        status: "True",
        reason: "KubeletReady",
        lastHeartbeatTime: "hb",
        lastTransitionTime: "old",
      },
      { type: "MemoryPressure", status: "False" },
      { type: "NetworkUnavailable", status: "False" },
    ];
    const out = silentConditions(conds, T0)!;
    const ready = out.find((c) => c.type === "Ready")!;
    expect(ready).toMatchObject({
      status: "Unknown",
      reason: "NodeStatusUnknown",
      message: "Kubelet stopped posting node status.",
      lastHeartbeatTime: "hb",
      lastTransitionTime: "2025-01-01T00:00:00Z",
    });
    expect(out.find((c) => c.type === "MemoryPressure")!.status).toBe("Unknown");
    expect(out.find((c) => c.type === "DiskPressure")).toMatchObject({
      status: "Unknown",
      reason: "NodeStatusNeverUpdated",
    });
    expect(out.find((c) => c.type === "NetworkUnavailable")!.status).toBe("False");
    expect(conds[0]!.status).toBe("True");
    expect(silentConditions(out, T0 + 1000)).toBeUndefined();
  });
  it("readyStatus", () => {
    expect(readyStatus(undefined)).toBe("Unknown");
    expect(readyStatus([{ type: "Ready", status: "False" }])).toBe("False");
    expect(readyStatus([{ type: "Ready", status: "True" }])).toBe("True");
  });
});

describe("reconcileTaints", () => {
  it("adds unreachable NoSchedule and NoExecute with timeAdded for Unknown", () => {
    const out = reconcileTaints([{ key: "dedicated", value: "x", effect: "NoSchedule" }], "Unknown", T0)!;
    expect(out).toEqual([
      { key: "dedicated", value: "x", effect: "NoSchedule" },
      { key: TAINT_UNREACHABLE, effect: "NoSchedule", timeAdded: "2025-01-01T00:00:00Z" },
      { key: TAINT_UNREACHABLE, effect: "NoExecute", timeAdded: "2025-01-01T00:00:00Z" },
    ]);
    expect(reconcileTaints(out, "Unknown", T0 + 5000)).toBeUndefined();
  });
  it("swaps unreachable for not-ready on False and removes both on True", () => {
    const un = reconcileTaints([], "Unknown", T0)!;
    const nr = reconcileTaints(un, "False", T0)!;
    expect(nr.map((t) => t.key)).toEqual([TAINT_NOT_READY, TAINT_NOT_READY]);
    expect(reconcileTaints(nr, "True", T0)).toEqual([]);
    expect(reconcileTaints(undefined, "True", T0)).toBeUndefined();
  });
  it("leaves a PreferNoSchedule taint with the same key alone", () => {
    const t = [{ key: TAINT_UNREACHABLE, effect: "PreferNoSchedule" }];
    expect(reconcileTaints(t, "True", T0)).toBeUndefined();
  });
});

describe("podNotReadyConditions", () => {
  it("sets Ready and ContainersReady False and leaves others", () => {
    const out = podNotReadyConditions(
      [
        { type: "Ready", status: "True" },
        { type: "ContainersReady", status: "True" },
        { type: "PodScheduled", status: "True" },
      ],
      T0,
    )!;
    expect(out.map((c) => [c.type, c.status])).toEqual([
      ["Ready", "False"],
      ["ContainersReady", "False"],
      ["PodScheduled", "True"],
    ]);
    expect(out[0]!.reason).toBe("NodeNotReady");
    expect(podNotReadyConditions(out, T0)).toBeUndefined();
  });
  it("adds a Ready condition to a pod without one", () => {
    expect(podNotReadyConditions(undefined, T0)).toEqual([
      expect.objectContaining({ type: "Ready", status: "False" }),
    ]);
  });
});

describe("tolerations and eviction", () => {
  const un = { key: TAINT_UNREACHABLE, effect: "NoExecute" };
  const nr = { key: TAINT_NOT_READY, effect: "NoExecute" };
  it("matches tolerations by key, operator, value and effect", () => {
    expect(tolerates({ operator: "Exists" }, un)).toBe(true);
    expect(tolerates({ key: TAINT_UNREACHABLE, operator: "Exists", effect: "NoSchedule" }, un)).toBe(false);
    expect(
      tolerates({ key: "k", operator: "Equal", value: "v" }, { key: "k", value: "v", effect: "NoExecute" }),
    ).toBe(true);
    expect(tolerates({ key: "k", value: "w" }, { key: "k", value: "v", effect: "NoExecute" })).toBe(false);
    expect(tolerates({ key: "other", operator: "Exists" }, un)).toBe(false);
  });
  it("evicts at once without a matching toleration and never when tolerated forever", () => {
    const start = () => T0;
    expect(evictionTime([un], [], start)).toBe(0);
    expect(evictionTime([un], [{ key: "other", operator: "Exists" }], start)).toBe(0);
    expect(
      evictionTime([un], [{ key: TAINT_UNREACHABLE, operator: "Exists", effect: "NoExecute" }], start),
    ).toBe(Number.POSITIVE_INFINITY);
    expect(evictionTime([{ key: "x", effect: "NoSchedule" }], [], start)).toBe(Number.POSITIVE_INFINITY);
    expect(evictionTime(undefined, undefined, start)).toBe(Number.POSITIVE_INFINITY);
  });
  it("counts tolerationSeconds from when the taint was seen, shortest matching wins", () => {
    const tols = [
      { key: TAINT_UNREACHABLE, operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
      { key: TAINT_NOT_READY, operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
      { operator: "Exists", effect: "NoExecute", tolerationSeconds: 2 },
    ];
    expect(evictionTime([un], tols, () => T0)).toBe(T0 + 2000);
    expect(evictionTime([un], tols.slice(0, 2), () => T0)).toBe(T0 + 300_000);
    expect(evictionTime([un], [{ operator: "Exists", tolerationSeconds: -5 }], () => T0)).toBe(T0);
    const startOf = (t: { key: string }) => (t.key === TAINT_NOT_READY ? T0 + 10_000 : T0);
    expect(
      evictionTime([un, nr], [{ operator: "Exists", effect: "NoExecute", tolerationSeconds: 5 }], startOf),
    ).toBe(T0 + 5000);
    // one taint untolerated: at once even if another is tolerated
    expect(evictionTime([un, nr], [tols[0]!], () => T0)).toBe(0);
  });
});
