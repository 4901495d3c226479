import { describe, expect, it } from "vitest";
import type { KubeObject, OwnerReference } from "../api/object.js";
import { findResource } from "../api/resources.js";
import {
  decideDependent,
  decideOwner,
  type GraphNode,
  gcResources,
  nodeFrom,
  OwnerGraph,
  type OwnerState,
  ownerStateOf,
  resourceForOwner,
} from "./garbage-collector-graph.js";

const RS = findResource("apps", "v1", "replicasets")!;
const POD = findResource("", "v1", "pods")!;

function obj(name: string, uid: string, extra: Partial<KubeObject["metadata"]> = {}): KubeObject {
  return { metadata: { name, namespace: "ns", uid, ...extra } };
}
const ownerRef = (uid: string, block = false): OwnerReference => ({
  apiVersion: "apps/v1",
  kind: "ReplicaSet",
  name: `rs-${uid}`,
  uid,
  controller: true,
  ...(block ? { blockOwnerDeletion: true } : {}),
});
const node = (res = POD, o: KubeObject) => nodeFrom(res, o)!;

describe("resources", () => {
  it("watches one version of each stored resource, without events", () => {
    const names = gcResources().map((r) => `${r.group}/${r.version}/${r.resource}`);
    expect(names).toContain("/v1/pods");
    expect(names).toContain("apps/v1/replicasets");
    expect(names).toContain("discovery.k8s.io/v1/endpointslices");
    expect(names).not.toContain("/v1/events");
    expect(names).not.toContain("autoscaling/v1/horizontalpodautoscalers");
    expect(new Set(names).size).toBe(names.length);
  });
  it("maps an ownerReference to its resource, also through another version", () => {
    expect(resourceForOwner({ apiVersion: "apps/v1", kind: "ReplicaSet" })?.resource).toBe("replicasets");
    expect(resourceForOwner({ apiVersion: "apps/v1beta2", kind: "Deployment" })?.resource).toBe(
      "deployments",
    );
    expect(resourceForOwner({ apiVersion: "autoscaling/v1", kind: "HorizontalPodAutoscaler" })?.version).toBe(
      "v2",
    );
    expect(resourceForOwner({ apiVersion: "example.com/v1", kind: "Widget" })).toBeUndefined();
  });
});

describe("OwnerGraph", () => {
  it("indexes dependents by owner uid and reports what to look at", () => {
    const g = new OwnerGraph();
    expect(g.upsert(node(RS, obj("rs", "o1")))).toEqual([]);
    expect(g.upsert(node(POD, obj("p1", "d1", { ownerReferences: [ownerRef("o1")] })))).toEqual(["d1"]);
    g.upsert(node(POD, obj("p2", "d2", { ownerReferences: [ownerRef("o1", true)] })));
    expect(
      g
        .dependentsOf("o1")
        .map((n) => n.uid)
        .sort(),
    ).toEqual(["d1", "d2"]);
    // an unchanged update needs nothing
    expect(g.upsert(node(POD, obj("p1", "d1", { ownerReferences: [ownerRef("o1")] })))).toEqual([]);
    // dropping the owner reference: the old owner is looked at again
    expect(g.upsert(node(POD, obj("p1", "d1")))).toEqual(["o1"]);
    expect(g.dependentsOf("o1").map((n) => n.uid)).toEqual(["d2"]);
    // owner starts foreground deletion: itself
    const deleting = obj("rs", "o1", { deletionTimestamp: "t", finalizers: ["foregroundDeletion"] });
    expect(g.upsert(node(RS, deleting))).toEqual(["o1"]);
    // owner removed: its dependents
    expect(g.remove("o1")).toEqual(["d2"]);
    // dependent removed: its owners still in the graph
    g.upsert(node(RS, obj("rs", "o1")));
    expect(g.remove("d2")).toEqual(["o1"]);
    expect(g.remove("nope")).toEqual([]);
    expect(g.size).toBe(2);
  });
});

describe("decisions", () => {
  const dep = (owners: OwnerReference[], extra: Partial<KubeObject["metadata"]> = {}) =>
    node(POD, obj("p", "d", { ownerReferences: owners, ...extra }));
  const states = (entries: Array<[string, OwnerState]>) => new Map(entries);

  it("ownerStateOf", () => {
    const r = ownerRef("o1");
    expect(ownerStateOf(undefined, r)).toBe("dangling");
    expect(ownerStateOf({ uid: "other", deleting: false, finalizers: [] }, r)).toBe("dangling");
    expect(ownerStateOf({ uid: "o1", deleting: false, finalizers: [] }, r)).toBe("solid");
    expect(ownerStateOf({ uid: "o1", deleting: true, finalizers: ["orphan"] }, r)).toBe("solid");
    expect(ownerStateOf({ uid: "o1", deleting: true, finalizers: ["foregroundDeletion"] }, r)).toBe(
      "waiting",
    );
  });
  it("background: deletes a dependent whose owners are all gone", () => {
    expect(decideDependent(dep([ownerRef("o1")]), states([["o1", "dangling"]]), false)).toEqual({
      kind: "delete",
      propagationPolicy: "Background",
    });
  });
  it("keeps a dependent with a living owner, dropping references to gone ones", () => {
    const d = dep([ownerRef("o1"), ownerRef("o2")]);
    expect(
      decideDependent(
        d,
        states([
          ["o1", "solid"],
          ["o2", "dangling"],
        ]),
        false,
      ),
    ).toEqual({
      kind: "removeOwnerRefs",
      uids: ["o2"],
    });
    expect(
      decideDependent(
        d,
        states([
          ["o1", "solid"],
          ["o2", "solid"],
        ]),
        false,
      ),
    ).toEqual({ kind: "none" });
    // an owner that could not be resolved counts as alive
    expect(decideDependent(d, states([["o2", "dangling"]]), false)).toEqual({ kind: "none" });
  });
  it("foreground: deletes dependents of a waiting owner, in the foreground when they have dependents", () => {
    const d = dep([ownerRef("o1", true)]);
    expect(decideDependent(d, states([["o1", "waiting"]]), false)).toEqual({
      kind: "delete",
      propagationPolicy: "Background",
    });
    expect(decideDependent(d, states([["o1", "waiting"]]), true)).toEqual({
      kind: "delete",
      propagationPolicy: "Foreground",
    });
  });
  it("leaves dependents alone while they are being deleted", () => {
    expect(
      decideDependent(dep([ownerRef("o1")], { deletionTimestamp: "t" }), states([["o1", "dangling"]]), false),
    ).toEqual({
      kind: "none",
    });
  });
  it("owner with orphan finalizer: orphan every dependent", () => {
    const owner = node(RS, obj("rs", "o1", { deletionTimestamp: "t", finalizers: ["orphan"] }));
    const deps = [dep([ownerRef("o1")])];
    expect(decideOwner(owner, deps)).toEqual({ kind: "orphan", dependents: deps });
  });
  it("owner with foregroundDeletion: release only when no blocking dependent is left", () => {
    const owner = node(RS, obj("rs", "o1", { deletionTimestamp: "t", finalizers: ["foregroundDeletion"] }));
    const blocking: GraphNode = dep([ownerRef("o1", true)]);
    const plain: GraphNode = { ...dep([ownerRef("o1")]), uid: "d2" };
    const goingAway: GraphNode = { ...blocking, uid: "d3", deleting: true };
    expect(decideOwner(owner, [blocking, plain])).toEqual({
      kind: "foreground",
      deleteDependents: [blocking, plain],
      release: false,
    });
    expect(decideOwner(owner, [goingAway])).toEqual({
      kind: "foreground",
      deleteDependents: [],
      release: false,
    });
    expect(decideOwner(owner, [plain])).toEqual({
      kind: "foreground",
      deleteDependents: [plain],
      release: true,
    });
    expect(decideOwner(owner, [])).toEqual({ kind: "foreground", deleteDependents: [], release: true });
    expect(decideOwner(node(RS, obj("rs", "o1")), [plain])).toEqual({ kind: "none" });
  });
});
