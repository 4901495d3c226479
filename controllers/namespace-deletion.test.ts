import { describe, expect, it } from "vitest";
import { deletionConditions, finalizersAfterCleanup, namespacedResources } from "./namespace-deletion.js";
import { serviceAccountNamespaceActive } from "./serviceaccount.js";

describe("namespacedResources", () => {
  it("lists each stored namespaced resource once, pods and events last", () => {
    const rs = namespacedResources();
    const names = rs.map((r) => (r.group ? `${r.resource}.${r.group}` : r.resource));
    expect(names).toContain("configmaps");
    expect(names).toContain("replicasets.apps");
    expect(names).not.toContain("nodes");
    expect(names).not.toContain("namespaces");
    expect(names.filter((n) => n.startsWith("events"))).toEqual(["events"]);
    expect(names.filter((n) => n.startsWith("horizontalpodautoscalers"))).toHaveLength(1);
    expect(names.at(-1)).toBe("events");
    expect(names.at(-2)).toBe("pods");
  });
});

describe("deletionConditions", () => {
  const empty = { failures: [], remaining: new Map(), finalizers: new Map() };
  it("reports all content removed", () => {
    const out = deletionConditions(undefined, empty, "T1")!;
    expect(out.map((c) => [c.type, c.status])).toEqual([
      ["NamespaceDeletionDiscoveryFailure", "False"],
      ["NamespaceDeletionGroupVersionParsingFailure", "False"],
      ["NamespaceDeletionContentFailure", "False"],
      ["NamespaceContentRemaining", "False"],
      ["NamespaceFinalizersRemaining", "False"],
    ]);
    expect(deletionConditions(out, empty, "T2")).toBeUndefined();
  });
  it("reports what remains and what failed", () => {
    const out = deletionConditions(
      undefined,
      {
        failures: ["pods: boom"],
        remaining: new Map([["pods", 2]]),
        finalizers: new Map([["example.com/x", 1]]),
      },
      "T1",
    )!;
    const by = (t: string) => out.find((c) => c.type === t)!;
    expect(by("NamespaceContentRemaining")).toMatchObject({
      status: "True",
      reason: "SomeResourcesRemain",
      message: "Some resources are remaining: pods has 2 resource instances",
    });
    expect(by("NamespaceFinalizersRemaining").message).toContain("example.com/x has 1 resource instances");
    expect(by("NamespaceDeletionContentFailure")).toMatchObject({
      status: "True",
      reason: "ContentDeletionFailed",
    });
    const later = deletionConditions(out, empty, "T2")!;
    expect(later.find((c) => c.type === "NamespaceContentRemaining")!.lastTransitionTime).toBe("T2");
    expect(later.find((c) => c.type === "NamespaceDeletionDiscoveryFailure")!.lastTransitionTime).toBe("T1");
  });
});

describe("finalizers and activity", () => {
  it("drops only the kubernetes finalizer", () => {
    expect(finalizersAfterCleanup(["kubernetes"])).toEqual([]);
    expect(finalizersAfterCleanup(["kubernetes", "other"])).toEqual(["other"]);
    expect(finalizersAfterCleanup(["other"])).toBeUndefined();
    expect(finalizersAfterCleanup(undefined)).toBeUndefined();
  });
  it("serviceaccounts go only into active namespaces", () => {
    expect(serviceAccountNamespaceActive({ metadata: { name: "a" }, status: { phase: "Active" } })).toBe(
      true,
    );
    expect(serviceAccountNamespaceActive({ metadata: { name: "a", deletionTimestamp: "t" } })).toBe(false);
    expect(serviceAccountNamespaceActive({ metadata: { name: "a" }, status: { phase: "Terminating" } })).toBe(
      false,
    );
    expect(serviceAccountNamespaceActive(undefined)).toBe(false);
  });
});
