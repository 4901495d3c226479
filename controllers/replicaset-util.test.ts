import { describe, expect, it } from "vitest";
import {
  claimDecision,
  compareForDeletion,
  computeReplicaSetStatus,
  Expectations,
  isPodActive,
  isPodAvailable,
  nextAvailableInMs,
  ownerRefsAfterAdopt,
  ownerRefsAfterRelease,
  type Pod,
  podFromTemplate,
  podsToDelete,
  type ReplicaSet,
  safeSelector,
  sameStatus,
  slowStartBatches,
} from "./replicaset-util.js";

const T0 = Date.parse("2024-05-01T10:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

function pod(
  name: string,
  o: Partial<{
    node: string;
    phase: string;
    ready: boolean | string;
    readyAt: number;
    restarts: number;
    created: number;
    labels: Record<string, string>;
    owner: string;
    deleting: boolean;
  }> = {},
): Pod {
  const p: Pod = {
    metadata: {
      name,
      namespace: "ns",
      labels: o.labels ?? { app: "web" },
      creationTimestamp: iso(o.created ?? T0),
    },
    spec: o.node ? { nodeName: o.node } : {},
    status: { phase: o.phase ?? "Running" },
  };
  if (o.ready !== undefined) {
    p.status!.conditions = [
      {
        type: "Ready",
        status: o.ready === true ? "True" : o.ready === false ? "False" : o.ready,
        ...(o.readyAt !== undefined ? { lastTransitionTime: iso(o.readyAt) } : {}),
      },
    ];
  }
  if (o.restarts !== undefined) p.status!.containerStatuses = [{ name: "c", restartCount: o.restarts }];
  if (o.owner)
    p.metadata.ownerReferences = [
      { apiVersion: "apps/v1", kind: "ReplicaSet", name: "rs", uid: o.owner, controller: true },
    ];
  if (o.deleting) p.metadata.deletionTimestamp = iso(T0);
  return p;
}

function rs(o: Partial<{ replicas: number; minReady: number; generation: number }> = {}): ReplicaSet {
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: { name: "web-abc", namespace: "ns", uid: "rs-uid", generation: o.generation ?? 3 },
    spec: {
      replicas: o.replicas ?? 3,
      minReadySeconds: o.minReady ?? 0,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web", tier: "fe" }, annotations: { a: "1" } },
        spec: { containers: [{ name: "c", image: "nginx" }] },
      },
    },
  };
}

describe("claimDecision", () => {
  const sel = safeSelector({ matchLabels: { app: "web" } });
  const me = { uid: "me", deleting: false };
  it("keeps owned pods that match", () =>
    expect(claimDecision(me, sel, pod("a", { owner: "me" }))).toBe("keep"));
  it("releases owned pods that no longer match", () =>
    expect(claimDecision(me, sel, pod("a", { owner: "me", labels: { app: "db" } }))).toBe("release"));
  it("does not release while the owner is being deleted", () =>
    expect(claimDecision({ uid: "me", deleting: true }, sel, pod("a", { owner: "me", labels: {} }))).toBe(
      "ignore",
    ));
  it("ignores pods another controller owns", () =>
    expect(claimDecision(me, sel, pod("a", { owner: "other" }))).toBe("ignore"));
  it("adopts matching orphans", () => expect(claimDecision(me, sel, pod("a"))).toBe("adopt"));
  it("does not adopt non-matching orphans", () =>
    expect(claimDecision(me, sel, pod("a", { labels: { app: "db" } }))).toBe("ignore"));
  it("does not adopt terminating orphans or when deleting", () => {
    expect(claimDecision(me, sel, pod("a", { deleting: true }))).toBe("ignore");
    expect(claimDecision({ uid: "me", deleting: true }, sel, pod("a"))).toBe("ignore");
  });
  it("a missing or malformed selector matches nothing", () => {
    expect(claimDecision(me, safeSelector(undefined), pod("a"))).toBe("ignore");
    expect(
      claimDecision(me, safeSelector({ matchExpressions: [{ key: "a", operator: "Bogus" }] }), pod("a")),
    ).toBe("ignore");
  });
  it("non-controller owner references do not count as owned", () => {
    const p = pod("a");
    p.metadata.ownerReferences = [{ apiVersion: "v1", kind: "X", name: "x", uid: "x" }];
    expect(claimDecision(me, sel, p)).toBe("adopt");
  });
});

describe("owner references", () => {
  it("adopt appends ours and keeps others; release drops ours", () => {
    const p = pod("a");
    p.metadata.ownerReferences = [{ apiVersion: "v1", kind: "X", name: "x", uid: "x" }];
    const ref = {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      name: "rs",
      uid: "me",
      controller: true,
      blockOwnerDeletion: true,
    };
    const after = ownerRefsAfterAdopt(p, ref);
    expect(after.map((r) => r.uid)).toEqual(["x", "me"]);
    expect(ownerRefsAfterRelease({ metadata: { ownerReferences: after } }, "me").map((r) => r.uid)).toEqual([
      "x",
    ]);
  });
});

describe("pod state", () => {
  it("active excludes terminating and finished pods", () => {
    expect(isPodActive(pod("a"))).toBe(true);
    expect(isPodActive(pod("a", { phase: "Pending" }))).toBe(true);
    expect(isPodActive(pod("a", { deleting: true }))).toBe(false);
    expect(isPodActive(pod("a", { phase: "Succeeded" }))).toBe(false);
    expect(isPodActive(pod("a", { phase: "Failed" }))).toBe(false);
  });
  it("available honours minReadySeconds", () => {
    const p = pod("a", { ready: true, readyAt: T0 });
    expect(isPodAvailable(p, 0, T0)).toBe(true);
    expect(isPodAvailable(p, 10, T0 + 9_000)).toBe(false);
    expect(isPodAvailable(p, 10, T0 + 10_000)).toBe(true);
    expect(isPodAvailable(pod("b", { ready: false }), 0, T0)).toBe(false);
    expect(isPodAvailable(pod("c", { ready: true }), 10, T0)).toBe(true);
  });
  it("nextAvailableInMs finds the earliest pod about to become available", () => {
    const pods = [
      pod("a", { ready: true, readyAt: T0 }),
      pod("b", { ready: true, readyAt: T0 + 3_000 }),
      pod("c", { ready: false }),
    ];
    expect(nextAvailableInMs(pods, 10, T0 + 5_000)).toBe(5_000);
    expect(nextAvailableInMs(pods, 0, T0)).toBeUndefined();
    expect(nextAvailableInMs(pods, 1, T0 + 60_000)).toBeUndefined();
  });
});

describe("deletion ranking", () => {
  const names = (ps: Pod[]) => [...ps].sort(compareForDeletion).map((p) => p.metadata.name);
  it("unassigned before assigned", () => {
    expect(names([pod("assigned", { node: "n1" }), pod("unassigned")])).toEqual(["unassigned", "assigned"]);
  });
  it("Pending < Unknown < Running", () => {
    expect(
      names([
        pod("run", { node: "n", phase: "Running" }),
        pod("unk", { node: "n", phase: "Unknown" }),
        pod("pend", { node: "n", phase: "Pending" }),
      ]),
    ).toEqual(["pend", "unk", "run"]);
  });
  it("not ready before ready", () => {
    expect(names([pod("ready", { ready: true }), pod("none")])).toEqual(["none", "ready"]);
    expect(names([pod("ready", { ready: true }), pod("notready", { ready: false })])).toEqual([
      "notready",
      "ready",
    ]);
  });
  it("more recently ready first", () => {
    expect(
      names([pod("old", { ready: true, readyAt: T0 }), pod("new", { ready: true, readyAt: T0 + 60_000 })]),
    ).toEqual(["new", "old"]);
  });
  it("more restarts first", () => {
    expect(names([pod("calm", { restarts: 0 }), pod("crashy", { restarts: 7 })])).toEqual(["crashy", "calm"]);
  });
  it("newer creation first", () => {
    expect(names([pod("older", { created: T0 }), pod("newer", { created: T0 + 1000 })])).toEqual([
      "newer",
      "older",
    ]);
  });
  it("criteria apply in order (assignment beats readiness)", () => {
    expect(
      names([
        pod("unassigned-ready", { ready: true }),
        pod("assigned-notready", { node: "n", ready: false }),
      ]),
    ).toEqual(["unassigned-ready", "assigned-notready"]);
  });
  it("podsToDelete picks the first n", () => {
    const ps = [
      pod("r1", { ready: true, node: "n" }),
      pod("p", { phase: "Pending", node: "n" }),
      pod("u"),
      pod("r2", { ready: true, node: "n" }),
    ];
    expect(podsToDelete(ps, 2).map((p) => p.metadata.name)).toEqual(["u", "p"]);
    expect(podsToDelete(ps, 0)).toEqual([]);
    expect(podsToDelete(ps, 10)).toHaveLength(4);
  });
});

describe("slowStartBatches", () => {
  it("doubles from 1 and sums to the total", () => {
    expect(slowStartBatches(0)).toEqual([]);
    expect(slowStartBatches(1)).toEqual([1]);
    expect(slowStartBatches(5)).toEqual([1, 2, 2]);
    expect(slowStartBatches(10)).toEqual([1, 2, 4, 3]);
    expect(slowStartBatches(15)).toEqual([1, 2, 4, 8]);
    expect(slowStartBatches(100).reduce((a, b) => a + b, 0)).toBe(100);
  });
});

describe("podFromTemplate", () => {
  it("copies the template, names by generateName and sets the controller reference", () => {
    const p = podFromTemplate(rs());
    expect(p.metadata.generateName).toBe("web-abc-");
    expect(p.metadata.name).toBeUndefined();
    expect(p.metadata.namespace).toBe("ns");
    expect(p.metadata.labels).toEqual({ app: "web", tier: "fe" });
    expect(p.metadata.annotations).toEqual({ a: "1" });
    expect(p.metadata.ownerReferences).toEqual([
      {
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        name: "web-abc",
        uid: "rs-uid",
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(p.spec).toEqual({ containers: [{ name: "c", image: "nginx" }] });
  });
  it("does not share structure with the template", () => {
    const r = rs();
    const p = podFromTemplate(r);
    (p.spec!.containers as { image: string }[])[0]!.image = "changed";
    p.metadata.labels!.app = "x";
    expect((r.spec.template!.spec!.containers as { image: string }[])[0]!.image).toBe("nginx");
    expect(r.spec.template!.metadata!.labels!.app).toBe("web");
  });
});

describe("computeReplicaSetStatus", () => {
  it("counts replicas, fully labeled, ready and available", () => {
    const r = rs({ minReady: 5 });
    const pods = [
      pod("a", { labels: { app: "web", tier: "fe" }, ready: true, readyAt: T0 - 10_000 }),
      pod("b", { labels: { app: "web" }, ready: true, readyAt: T0 - 1_000 }),
      pod("c", { labels: { app: "web", tier: "fe", extra: "1" }, ready: false }),
    ];
    const s = computeReplicaSetStatus(r, pods, T0);
    expect(s).toEqual({
      replicas: 3,
      fullyLabeledReplicas: 2,
      readyReplicas: 2,
      availableReplicas: 1,
      observedGeneration: 3,
    });
  });
  it("adds and clears a ReplicaFailure condition, keeping its transition time", () => {
    const r = rs();
    const s1 = computeReplicaSetStatus(r, [], T0, { reason: "FailedCreate", message: "quota" });
    expect(s1.conditions).toEqual([
      {
        type: "ReplicaFailure",
        status: "True",
        lastTransitionTime: iso(T0),
        reason: "FailedCreate",
        message: "quota",
      },
    ]);
    r.status = s1;
    const s2 = computeReplicaSetStatus(r, [], T0 + 5000, { reason: "FailedCreate", message: "quota" });
    expect(s2.conditions![0]!.lastTransitionTime).toBe(iso(T0));
    r.status = s2;
    expect(computeReplicaSetStatus(r, [], T0).conditions).toBeUndefined();
  });
  it("sameStatus detects changes", () => {
    const r = rs();
    const s = computeReplicaSetStatus(r, [pod("a")], T0);
    expect(sameStatus(undefined, s)).toBe(false);
    expect(sameStatus({ ...s }, s)).toBe(true);
    expect(sameStatus({ ...s, readyReplicas: 1 }, s)).toBe(false);
    expect(sameStatus({ ...s, observedGeneration: 2 }, s)).toBe(false);
  });
});

describe("Expectations", () => {
  it("creations must all be observed", () => {
    const e = new Expectations();
    expect(e.satisfied("k")).toBe(true);
    e.expectCreations("k", 2);
    expect(e.satisfied("k")).toBe(false);
    e.creationObserved("k");
    expect(e.satisfied("k")).toBe(false);
    e.creationObserved("k");
    expect(e.satisfied("k")).toBe(true);
  });
  it("deletions are tracked by pod key, so duplicates do not count twice", () => {
    const e = new Expectations();
    e.expectDeletions("k", ["ns/a", "ns/b"]);
    e.deletionObserved("k", "ns/a");
    e.deletionObserved("k", "ns/a");
    expect(e.satisfied("k")).toBe(false);
    e.deletionObserved("k", "ns/zzz");
    expect(e.satisfied("k")).toBe(false);
    e.deletionObserved("k", "ns/b");
    expect(e.satisfied("k")).toBe(true);
  });
  it("expire after the TTL and can be dropped", () => {
    let now = 0;
    const e = new Expectations(1000, () => now);
    e.expectCreations("k", 3);
    now = 999;
    expect(e.satisfied("k")).toBe(false);
    now = 1001;
    expect(e.satisfied("k")).toBe(true);
    e.expectCreations("j", 1);
    e.delete("j");
    expect(e.satisfied("j")).toBe(true);
    expect(e.pending("j")).toBeUndefined();
  });
  it("creationObserved can lower by many (skipped batches)", () => {
    const e = new Expectations();
    e.expectCreations("k", 7);
    e.creationObserved("k", 6);
    expect(e.pending("k")).toEqual({ adds: 1, deletes: 0 });
  });
});
