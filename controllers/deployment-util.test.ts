import { describe, expect, it } from "vitest";
import {
  calculateStatus,
  canonicalJson,
  computeTemplateHash,
  condition,
  DESIRED_REPLICAS_ANNOTATION,
  type Deployment,
  findNewReplicaSet,
  fnv32a,
  getCondition,
  HASH_LABEL,
  historyToDelete,
  isDeploymentComplete,
  isScalingEvent,
  MAX_REPLICAS_ANNOTATION,
  maxRevision,
  maxSurgeOf,
  maxUnavailableOf,
  newReplicaSetFor,
  pausedCondition,
  planScale,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  resolveFenceposts,
  resolveIntOrPercent,
  rollingNewReplicas,
  rollingOldScaleDown,
  rolloutStatus,
  safeEncode,
  setCondition,
  setNewRSAnnotations,
  templatesEqualIgnoringHash,
} from "./deployment-util.js";
import type { ReplicaSet } from "./replicaset-util.js";

const T0 = Date.parse("2024-05-01T10:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

function dep(
  o: Partial<{
    replicas: number;
    surge: number | string;
    unavail: number | string;
    type: string;
    image: string;
    limit: number;
    paused: boolean;
    generation: number;
    status: Deployment["status"];
  }> = {},
): Deployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: "web",
      namespace: "ns",
      uid: "d-uid",
      generation: o.generation ?? 1,
      annotations: { team: "a" },
    },
    spec: {
      replicas: o.replicas ?? 5,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: { containers: [{ name: "c", image: o.image ?? "nginx:1" }] },
      },
      strategy:
        o.type === "Recreate"
          ? { type: "Recreate" }
          : {
              type: "RollingUpdate",
              rollingUpdate: { maxSurge: o.surge ?? 1, maxUnavailable: o.unavail ?? 1 },
            },
      revisionHistoryLimit: o.limit ?? 10,
      progressDeadlineSeconds: 600,
      paused: o.paused,
    },
    status: o.status,
  };
}

let seq = 0;
function rset(
  name: string,
  replicas: number,
  available: number,
  o: Partial<{
    actual: number;
    rev: number;
    created: number;
    image: string;
    ann: Record<string, string>;
    ready: number;
  }> = {},
): ReplicaSet {
  seq++;
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: {
      name,
      namespace: "ns",
      uid: `uid-${name}`,
      generation: 1,
      creationTimestamp: iso(o.created ?? T0 + seq * 1000),
      annotations: {
        ...(o.rev !== undefined ? { [REVISION_ANNOTATION]: String(o.rev) } : {}),
        ...(o.ann ?? {}),
      },
    },
    spec: {
      replicas,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web", [HASH_LABEL]: name } },
        spec: { containers: [{ name: "c", image: o.image ?? "nginx:1" }] },
      },
    },
    status: {
      replicas: o.actual ?? replicas,
      availableReplicas: available,
      readyReplicas: o.ready ?? available,
      observedGeneration: 1,
    },
  };
}

describe("hashing", () => {
  it("fnv32a matches the published test vectors", () => {
    expect(fnv32a("")).toBe(0x811c9dc5);
    expect(fnv32a("a")).toBe(0xe40c292c);
    expect(fnv32a("foobar")).toBe(0xbf9cf968);
  });
  it("safeEncode uses only the consonant/digit alphabet", () => {
    expect(safeEncode("0123456789")).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]{10}$/);
    expect(safeEncode("")).toBe("");
  });
  it("canonicalJson sorts keys at every level and drops undefined", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}',
    );
  });
  it("the template hash is stable, order independent, and changes with the template or collisions", () => {
    const a = {
      metadata: { labels: { app: "web", x: "1" } },
      spec: { containers: [{ name: "c", image: "nginx:1" }] },
    };
    const b = {
      spec: { containers: [{ image: "nginx:1", name: "c" }] },
      metadata: { labels: { x: "1", app: "web" } },
    };
    const h = computeTemplateHash(a);
    expect(h).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]{6,10}$/);
    expect(computeTemplateHash(b)).toBe(h);
    expect(computeTemplateHash({ ...a, spec: { containers: [{ name: "c", image: "nginx:2" }] } })).not.toBe(
      h,
    );
    expect(computeTemplateHash(a, 1)).not.toBe(h);
    expect(computeTemplateHash(a, 1)).not.toBe(computeTemplateHash(a, 2));
    // the hash label itself does not feed the hash
    expect(
      computeTemplateHash({ ...a, metadata: { labels: { ...a.metadata.labels, [HASH_LABEL]: "zzz" } } }),
    ).toBe(h);
  });
  it("templatesEqualIgnoringHash", () => {
    const t = { metadata: { labels: { app: "web" } }, spec: { containers: [{ image: "a" }] } };
    expect(
      templatesEqualIgnoringHash(t, {
        metadata: { labels: { [HASH_LABEL]: "h", app: "web" } },
        spec: { containers: [{ image: "a" }] },
      }),
    ).toBe(true);
    expect(
      templatesEqualIgnoringHash(t, {
        metadata: { labels: { app: "web" } },
        spec: { containers: [{ image: "b" }] },
      }),
    ).toBe(false);
    expect(
      templatesEqualIgnoringHash({ spec: {} }, { metadata: { labels: { [HASH_LABEL]: "h" } }, spec: {} }),
    ).toBe(true);
  });
});

describe("fenceposts", () => {
  it("percentages round surge up and unavailable down", () => {
    expect(resolveIntOrPercent("25%", 5, true)).toBe(2);
    expect(resolveIntOrPercent("25%", 5, false)).toBe(1);
    expect(resolveIntOrPercent("25%", 4, true)).toBe(1);
    expect(resolveIntOrPercent("0%", 10, true)).toBe(0);
    expect(resolveIntOrPercent("100%", 3, false)).toBe(3);
    expect(resolveIntOrPercent(3, 10, false)).toBe(3);
    expect(resolveIntOrPercent("3", 10, false)).toBe(3);
    expect(resolveIntOrPercent(undefined, 10, false)).toBe(0);
    expect(() => resolveIntOrPercent("abc", 10, false)).toThrow(/invalid/);
  });
  it("defaults to 25%/25%", () => {
    const d = dep({ replicas: 10 });
    d.spec.strategy = { type: "RollingUpdate" };
    expect(resolveFenceposts(d)).toEqual({ maxSurge: 3, maxUnavailable: 2 });
  });
  it("both resolving to zero makes unavailable 1", () => {
    expect(resolveFenceposts(dep({ replicas: 3, surge: "10%", unavail: "10%" }))).toEqual({
      maxSurge: 1,
      maxUnavailable: 0,
    });
    expect(resolveFenceposts(dep({ replicas: 3, surge: 0, unavail: "10%" }))).toEqual({
      maxSurge: 0,
      maxUnavailable: 1,
    });
  });
  it("unavailable is capped at replicas; Recreate has neither", () => {
    expect(maxUnavailableOf(dep({ replicas: 2, unavail: 5 }))).toBe(2);
    expect(maxUnavailableOf(dep({ replicas: 0 }))).toBe(0);
    expect(maxUnavailableOf(dep({ type: "Recreate" }))).toBe(0);
    expect(maxSurgeOf(dep({ type: "Recreate" }))).toBe(0);
  });
});

describe("rolling update arithmetic", () => {
  it("a first ReplicaSet gets all replicas", () => {
    const d = dep();
    const phantom = { metadata: {}, spec: { replicas: 0 } } as ReplicaSet;
    expect(rollingNewReplicas(d, [], phantom)).toBe(5);
  });
  it("the new RS grows only within maxSurge", () => {
    const d = dep();
    const old = rset("old", 5, 5);
    const fresh = rset("new", 0, 0);
    expect(rollingNewReplicas(d, [old, fresh], fresh)).toBe(1);
    const fresh1 = rset("new", 1, 0);
    expect(rollingNewReplicas(d, [old, fresh1], fresh1)).toBe(1);
    const old4 = rset("old", 4, 4);
    expect(rollingNewReplicas(d, [old4, fresh1], fresh1)).toBe(2);
  });
  it("pods of an old RS still being removed count against the surge", () => {
    const d = dep();
    const old = rset("old", 4, 4, { actual: 5 });
    const fresh = rset("new", 1, 1);
    expect(rollingNewReplicas(d, [old, fresh], fresh)).toBe(1);
  });
  it("a new RS above spec.replicas comes down", () => {
    const d = dep({ replicas: 3 });
    const fresh = rset("new", 5, 5);
    expect(rollingNewReplicas(d, [fresh], fresh)).toBe(3);
  });
  it("old RSs shrink within maxUnavailable", () => {
    const d = dep();
    const old = rset("old", 5, 5);
    expect(rollingOldScaleDown(d, rset("new", 1, 0), [old]).map((s) => s.replicas)).toEqual([4]);
    expect(rollingOldScaleDown(d, rset("new", 2, 0), [rset("old", 4, 4)])).toEqual([]);
    expect(rollingOldScaleDown(d, rset("new", 2, 1), [rset("old", 4, 4)]).map((s) => s.replicas)).toEqual([
      3,
    ]);
    expect(rollingOldScaleDown(d, rset("new", 5, 5), [rset("old", 1, 1)]).map((s) => s.replicas)).toEqual([
      0,
    ]);
    expect(rollingOldScaleDown(d, rset("new", 5, 5), [rset("old", 0, 0)])).toEqual([]);
  });
  it("unhealthy old pods go first, oldest RS first", () => {
    const d = dep();
    const older = rset("older", 2, 0, { created: T0 });
    const old = rset("old", 3, 3, { created: T0 + 1000 });
    const steps = rollingOldScaleDown(d, rset("new", 1, 1), [old, older]);
    expect(steps.map((s) => [s.rs.metadata.name, s.replicas])).toEqual([["older", 0]]);
  });
  it("availability that will vanish with a scale-down does not count", () => {
    const d = dep();
    // status still says 5 available but the RS is already scaled to 3
    const old = rset("old", 3, 5, { actual: 5 });
    expect(rollingOldScaleDown(d, rset("new", 3, 1), [old]).map((s) => s.replicas)).toEqual([]);
  });
  it("a simulated rollout never exceeds surge, never drops below min available, and finishes", () => {
    for (const [replicas, surge, unavail] of [
      [5, 1, 1],
      [5, 0, 1],
      [5, 2, 0],
      [10, "25%", "25%"],
      [3, 1, 0],
      [1, 0, 1],
    ] as const) {
      const d = dep({ replicas, surge, unavail, image: "nginx:2" });
      const { maxSurge, maxUnavailable } = resolveFenceposts(d);
      let old = rset("old", replicas, replicas);
      let fresh = rset("new", 0, 0, { image: "nginx:2" });
      for (let step = 0; step < 100; step++) {
        // the RS controller converges, and new pods become available at once
        fresh = {
          ...fresh,
          status: { replicas: fresh.spec.replicas!, availableReplicas: fresh.spec.replicas! },
        };
        old = { ...old, status: { replicas: old.spec.replicas!, availableReplicas: old.spec.replicas! } };
        const pods = fresh.status!.replicas + old.status!.replicas;
        expect(pods).toBeLessThanOrEqual(replicas + maxSurge);
        expect(fresh.status!.availableReplicas! + old.status!.availableReplicas!).toBeGreaterThanOrEqual(
          replicas - maxUnavailable,
        );
        if (fresh.spec.replicas === replicas && old.spec.replicas === 0) break;
        const target = rollingNewReplicas(d, [fresh, old], fresh);
        if (target !== fresh.spec.replicas) {
          fresh = { ...fresh, spec: { ...fresh.spec, replicas: target } };
          continue;
        }
        const steps = rollingOldScaleDown(d, fresh, [old]);
        expect(steps.length).toBeGreaterThan(0);
        old = { ...old, spec: { ...old.spec, replicas: steps[0]!.replicas } };
      }
      expect([fresh.spec.replicas, old.spec.replicas]).toEqual([replicas, 0]);
    }
  });
});

describe("revisions and annotations", () => {
  it("maxRevision", () => {
    expect(maxRevision([rset("a", 0, 0, { rev: 3 }), rset("b", 0, 0, { rev: 11 }), rset("c", 0, 0)])).toBe(
      11,
    );
    expect(maxRevision([])).toBe(0);
  });
  it("setNewRSAnnotations raises the revision, keeps history, copies deployment annotations", () => {
    const d = dep();
    d.metadata.annotations = {
      team: "a",
      "kubectl.kubernetes.io/last-applied-configuration": "{}",
      [REVISION_ANNOTATION]: "9",
    };
    const rs = rset("x", 5, 5, { rev: 2 });
    expect(setNewRSAnnotations(d, rs, 4)).toBe(true);
    expect(rs.metadata.annotations).toEqual({
      team: "a",
      [REVISION_ANNOTATION]: "4",
      [REVISION_HISTORY_ANNOTATION]: "2",
      [DESIRED_REPLICAS_ANNOTATION]: "5",
      [MAX_REPLICAS_ANNOTATION]: "6",
    });
    expect(setNewRSAnnotations(d, rs, 4)).toBe(false);
    expect(setNewRSAnnotations(d, rs, 3)).toBe(false);
    setNewRSAnnotations(d, rs, 6);
    expect(rs.metadata.annotations![REVISION_HISTORY_ANNOTATION]).toBe("2,4");
  });
  it("newReplicaSetFor", () => {
    const d = dep();
    const rs = newReplicaSetFor(d, "abc12", 3, 2);
    expect(rs.metadata.name).toBe("web-abc12");
    expect(rs.metadata.labels).toEqual({ app: "web", [HASH_LABEL]: "abc12" });
    expect(rs.spec.selector).toEqual({ matchLabels: { app: "web", [HASH_LABEL]: "abc12" } });
    expect(rs.spec.template!.metadata!.labels).toEqual({ app: "web", [HASH_LABEL]: "abc12" });
    expect(rs.spec.replicas).toBe(2);
    expect(rs.metadata.ownerReferences).toEqual([
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: "web",
        uid: "d-uid",
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(rs.metadata.annotations![REVISION_ANNOTATION]).toBe("3");
    expect(d.spec.template!.metadata!.labels).toEqual({ app: "web" });
    expect(templatesEqualIgnoringHash(rs.spec.template, d.spec.template)).toBe(true);
  });
  it("findNewReplicaSet picks the oldest RS with the deployment's template", () => {
    const d = dep({ image: "nginx:2" });
    const a = rset("a", 1, 1, { image: "nginx:1", created: T0 });
    const b = rset("b", 1, 1, { image: "nginx:2", created: T0 + 2000 });
    const c = rset("c", 1, 1, { image: "nginx:2", created: T0 + 1000 });
    expect(findNewReplicaSet(d, [a, b, c])?.metadata.name).toBe("c");
    expect(findNewReplicaSet(dep({ image: "nginx:3" }), [a, b, c])).toBeUndefined();
  });
  it("isScalingEvent looks at active RSs' desired-replicas", () => {
    const d = dep({ replicas: 7 });
    expect(isScalingEvent(d, [rset("a", 5, 5, { ann: { [DESIRED_REPLICAS_ANNOTATION]: "5" } })])).toBe(true);
    expect(isScalingEvent(d, [rset("a", 5, 5, { ann: { [DESIRED_REPLICAS_ANNOTATION]: "7" } })])).toBe(false);
    expect(isScalingEvent(d, [rset("a", 0, 0, { ann: { [DESIRED_REPLICAS_ANNOTATION]: "5" } })])).toBe(false);
    expect(isScalingEvent(d, [rset("a", 5, 5)])).toBe(false);
  });
});

describe("planScale", () => {
  it("one active RS takes spec.replicas", () => {
    const d = dep({ replicas: 2 });
    const rs = rset("a", 5, 5);
    expect(planScale(d, rs, [rset("old", 0, 0)]).map((s) => [s.rs.metadata.name, s.replicas])).toEqual([
      ["a", 2],
    ]);
    expect(planScale(dep({ replicas: 5 }), rs, [])).toEqual([]);
  });
  it("without active RSs the new (or latest) one takes spec.replicas", () => {
    const d = dep({ replicas: 3 });
    expect(planScale(d, rset("n", 0, 0), []).map((s) => s.replicas)).toEqual([3]);
    const older = rset("o1", 0, 0, { created: T0 });
    const newer = rset("o2", 0, 0, { created: T0 + 5000 });
    expect(planScale(d, undefined, [newer, older]).map((s) => s.rs.metadata.name)).toEqual(["o2"]);
  });
  it("a saturated new RS leaves the old ones at 0", () => {
    const d = dep({ replicas: 3 });
    const n = rset("n", 3, 3, { ann: { [DESIRED_REPLICAS_ANNOTATION]: "3" } });
    expect(planScale(d, n, [rset("o", 2, 2)]).map((s) => [s.rs.metadata.name, s.replicas])).toEqual([
      ["o", 0],
    ]);
  });
  it("spreads a scale-up proportionally", () => {
    const d = dep({ replicas: 20, surge: "25%", unavail: "25%" });
    const a = rset("a", 8, 8, { ann: { [MAX_REPLICAS_ANNOTATION]: "13" }, created: T0 });
    const b = rset("b", 5, 0, { ann: { [MAX_REPLICAS_ANNOTATION]: "13" }, created: T0 + 1000 });
    const steps = planScale(d, b, [a]);
    const sizes = Object.fromEntries(steps.map((s) => [s.rs.metadata.name, s.replicas]));
    expect(sizes).toEqual({ a: 15, b: 10 });
  });
  it("spreads a scale-down proportionally and the leftovers land on the biggest", () => {
    const d = dep({ replicas: 5, surge: 1, unavail: 1 });
    const a = rset("a", 6, 6, { ann: { [MAX_REPLICAS_ANNOTATION]: "11" }, created: T0 });
    const b = rset("b", 5, 0, { ann: { [MAX_REPLICAS_ANNOTATION]: "11" }, created: T0 + 1000 });
    const steps = planScale(d, b, [a]);
    const total = steps.reduce((n, s) => n + s.replicas, 0);
    expect(total).toBe(6);
    for (const s of steps) expect(s.replicas).toBeGreaterThanOrEqual(0);
  });
  it("scaling to zero empties every RS", () => {
    const d = dep({ replicas: 0 });
    const a = rset("a", 3, 3, { created: T0 });
    const b = rset("b", 2, 0, { created: T0 + 1000 });
    expect(planScale(d, b, [a]).map((s) => s.replicas)).toEqual([0, 0]);
  });
});

describe("historyToDelete", () => {
  it("keeps revisionHistoryLimit old RSs and deletes the oldest empty ones", () => {
    const d = dep({ limit: 1 });
    const r1 = rset("r1", 0, 0, { rev: 1 });
    const r2 = rset("r2", 0, 0, { rev: 2 });
    const r3 = rset("r3", 0, 0, { rev: 3 });
    expect(historyToDelete(d, [r3, r1, r2]).map((r) => r.metadata.name)).toEqual(["r1", "r2"]);
    expect(historyToDelete(dep({ limit: 5 }), [r1, r2, r3])).toEqual([]);
  });
  it("never deletes RSs with pods, unobserved specs, or already being deleted", () => {
    const d = dep({ limit: 0 });
    const busy = rset("busy", 1, 1, { rev: 1 });
    const draining = rset("draining", 0, 0, { rev: 2, actual: 1 });
    const unobserved = rset("unobserved", 0, 0, { rev: 3 });
    unobserved.metadata.generation = 2;
    const gone = rset("gone", 0, 0, { rev: 4 });
    gone.metadata.deletionTimestamp = iso(T0);
    const ok = rset("ok", 0, 0, { rev: 5 });
    expect(historyToDelete(d, [busy, draining, unobserved, gone, ok]).map((r) => r.metadata.name)).toEqual([
      "ok",
    ]);
  });
});

describe("conditions", () => {
  it("setCondition keeps an identical condition and the transition time on reason changes", () => {
    const c1 = condition("Progressing", "True", "A", "m", T0);
    const list = setCondition([], c1);
    expect(setCondition(list, condition("Progressing", "True", "A", "m2", T0 + 5000))).toEqual([c1]);
    const changed = setCondition(list, condition("Progressing", "True", "B", "m", T0 + 5000));
    expect(changed[0]!.lastTransitionTime).toBe(iso(T0));
    expect(changed[0]!.lastUpdateTime).toBe(iso(T0 + 5000));
    const flipped = setCondition(list, condition("Progressing", "False", "C", "m", T0 + 5000));
    expect(flipped[0]!.lastTransitionTime).toBe(iso(T0 + 5000));
  });
  it("pausedCondition notes pause and resume once", () => {
    const d = dep({ paused: true });
    const c = pausedCondition(d, T0);
    expect(c?.[0]?.reason).toBe("DeploymentPaused");
    d.status = { conditions: c };
    expect(pausedCondition(d, T0)).toBeUndefined();
    d.spec.paused = false;
    expect(pausedCondition(d, T0)?.[0]).toMatchObject({ reason: "DeploymentResumed", status: "Unknown" });
  });
});

describe("status", () => {
  it("calculateStatus sums the RSs and sets Available", () => {
    const d = dep({ generation: 4 });
    const n = rset("n", 2, 1, { ready: 2 });
    const o = rset("o", 4, 4);
    const s = calculateStatus(d, [n, o], n, T0);
    expect(s).toMatchObject({
      observedGeneration: 4,
      replicas: 6,
      updatedReplicas: 2,
      readyReplicas: 6,
      availableReplicas: 5,
      unavailableReplicas: 1,
    });
    expect(getCondition(s, "Available")).toMatchObject({
      status: "True",
      reason: "MinimumReplicasAvailable",
    });
    const low = calculateStatus(d, [rset("n", 5, 3)], undefined, T0);
    expect(getCondition(low, "Available")).toMatchObject({
      status: "False",
      reason: "MinimumReplicasUnavailable",
    });
    expect(low.updatedReplicas).toBe(0);
  });
  it("complete means all updated, none old, all available, spec observed", () => {
    const d = dep({ generation: 2 });
    expect(
      isDeploymentComplete(d, {
        observedGeneration: 2,
        replicas: 5,
        updatedReplicas: 5,
        availableReplicas: 5,
      }),
    ).toBe(true);
    expect(
      isDeploymentComplete(d, {
        observedGeneration: 1,
        replicas: 5,
        updatedReplicas: 5,
        availableReplicas: 5,
      }),
    ).toBe(false);
    expect(
      isDeploymentComplete(d, {
        observedGeneration: 2,
        replicas: 6,
        updatedReplicas: 5,
        availableReplicas: 5,
      }),
    ).toBe(false);
    expect(
      isDeploymentComplete(d, {
        observedGeneration: 2,
        replicas: 5,
        updatedReplicas: 5,
        availableReplicas: 4,
      }),
    ).toBe(false);
  });
  it("rolloutStatus: complete, progressing (keeping transition time), timed out", () => {
    const n = rset("web-new", 5, 5);
    const done = rolloutStatus(dep(), [n], n, T0);
    expect(getCondition(done.status, "Progressing")).toMatchObject({
      status: "True",
      reason: "NewReplicaSetAvailable",
      message: 'ReplicaSet "web-new" has successfully progressed.',
    });
    expect(done.requeueAfterMs).toBeUndefined();

    const started = condition("Progressing", "True", "NewReplicaSetCreated", "x", T0);
    const d = dep({
      status: {
        replicas: 5,
        updatedReplicas: 1,
        availableReplicas: 4,
        readyReplicas: 4,
        conditions: [started],
      },
    });
    const n2 = rset("web-new", 2, 1);
    const o = rset("old", 4, 4);
    const prog = rolloutStatus(d, [n2, o], n2, T0 + 10_000);
    const pc = getCondition(prog.status, "Progressing")!;
    expect(pc).toMatchObject({
      reason: "ReplicaSetUpdated",
      lastTransitionTime: iso(T0),
      lastUpdateTime: iso(T0 + 10_000),
    });
    expect(prog.requeueAfterMs).toBe(601_000);

    // no progress for longer than the deadline
    const stuck = dep({
      status: { replicas: 6, updatedReplicas: 2, availableReplicas: 5, readyReplicas: 5, conditions: [pc] },
    });
    const late = rolloutStatus(stuck, [n2, o], n2, T0 + 10_000 + 601_000);
    expect(getCondition(late.status, "Progressing")).toMatchObject({
      status: "False",
      reason: "ProgressDeadlineExceeded",
    });
    expect(late.requeueAfterMs).toBeUndefined();
    // still within the deadline: unchanged, and a requeue for the deadline
    const early = rolloutStatus(stuck, [n2, o], n2, T0 + 20_000);
    expect(getCondition(early.status, "Progressing")).toEqual(pc);
    expect(early.requeueAfterMs).toBe(591_000);
  });
  it("a timed-out rollout that makes progress again, or completes, leaves ProgressDeadlineExceeded", () => {
    const timedOut = condition("Progressing", "False", "ProgressDeadlineExceeded", "x", T0);
    const d = dep({
      status: {
        replicas: 6,
        updatedReplicas: 2,
        availableReplicas: 4,
        readyReplicas: 4,
        conditions: [timedOut],
      },
    });
    const o = rset("old", 4, 4);
    const same = rolloutStatus(d, [rset("n", 2, 0), o], rset("n", 2, 0), T0 + 1000);
    expect(getCondition(same.status, "Progressing")).toEqual(timedOut);
    const n = rset("n", 2, 1);
    const moving = rolloutStatus(d, [n, o], n, T0 + 1000);
    expect(getCondition(moving.status, "Progressing")).toMatchObject({
      status: "True",
      reason: "ReplicaSetUpdated",
      lastTransitionTime: iso(T0 + 1000),
    });
    const full = rset("n", 5, 5);
    const done = rolloutStatus(d, [full], full, T0 + 2000);
    expect(getCondition(done.status, "Progressing")).toMatchObject({
      status: "True",
      reason: "NewReplicaSetAvailable",
    });
  });
  it("scaling a finished rollout keeps NewReplicaSetAvailable untouched", () => {
    const ok = condition("Progressing", "True", "NewReplicaSetAvailable", "x", T0);
    const d = dep({
      replicas: 7,
      status: { replicas: 5, updatedReplicas: 5, availableReplicas: 5, readyReplicas: 5, conditions: [ok] },
    });
    const n = rset("n", 7, 5, { actual: 7 });
    const r = rolloutStatus(d, [n], n, T0 + 5000);
    expect(getCondition(r.status, "Progressing")).toEqual(ok);
  });
  it("a paused deployment's Progressing condition is left alone", () => {
    const paused = condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", T0);
    const d = dep({ paused: true, status: { conditions: [paused] } });
    const n = rset("n", 5, 5);
    const r = rolloutStatus(d, [n], n, T0 + 1000);
    expect(getCondition(r.status, "Progressing")).toEqual(paused);
  });
  it("surfaces a ReplicaFailure from a ReplicaSet", () => {
    const n = rset("n", 5, 0);
    n.status!.conditions = [
      {
        type: "ReplicaFailure",
        status: "True",
        reason: "FailedCreate",
        message: "quota",
        lastTransitionTime: iso(T0),
      },
    ];
    const r = rolloutStatus(dep(), [n], n, T0);
    expect(getCondition(r.status, "ReplicaFailure")).toMatchObject({
      status: "True",
      reason: "FailedCreate",
      message: "quota",
    });
  });
});
