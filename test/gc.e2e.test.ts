/**
 * Garbage collector end to end: a real apiserver child and the garbagecollector controller
 * in-process (no replicaset controller: the ReplicaSet and its pods are written by hand).
 * Background, foreground and orphan propagation.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject, OwnerReference } from "../api/object.js";
import { isNotFound, loadClusterConnection, R, RestClient } from "../client/index.js";
import { type ApiserverProcess, builtCliMissing, startApiserver } from "./helpers/apiserver.js";
import { type InProcessControllers, startControllers } from "./helpers/fake-nodes.js";
import { until } from "./helpers/net.js";

const skip = builtCliMissing();
const NS = "gc-test";

function replicaSet(name: string): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: { name, namespace: NS },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "c", image: "busybox" }] },
      },
    },
  };
}

function ownedPod(
  name: string,
  owner: KubeObject,
  block = true,
  extraOwners: OwnerReference[] = [],
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: NS,
      labels: { app: owner.metadata.name! },
      ownerReferences: [
        {
          apiVersion: "apps/v1",
          kind: "ReplicaSet",
          name: owner.metadata.name!,
          uid: owner.metadata.uid!,
          controller: true,
          blockOwnerDeletion: block,
        },
        ...extraOwners,
      ],
    },
    spec: { containers: [{ name: "c", image: "busybox" }] },
  };
}

describe.skipIf(skip)("garbage collector", () => {
  let api: ApiserverProcess;
  let client: RestClient;
  let ctrl: InProcessControllers;

  beforeAll(async () => {
    api = await startApiserver();
    client = new RestClient(loadClusterConnection({ kubeconfig: api.kubeconfig }), { component: "test" });
    await client.create(R.namespaces, { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
    ctrl = await startControllers(api.kubeconfig, ["garbagecollector"], {});
  });

  afterAll(async () => {
    await ctrl?.stop();
    await client?.close();
    await api?.stop();
  });

  const rsRef = (name: string) => ({ ...R.replicasets, namespace: NS, name });
  const podRef = (name: string) => ({ ...R.pods, namespace: NS, name });
  const exists = async (ref: Parameters<RestClient["get"]>[0]) => {
    try {
      return await client.get(ref);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
  const makeSet = async (name: string, pods: number, block = true) => {
    const rs = await client.create({ ...R.replicasets, namespace: NS }, replicaSet(name));
    for (let i = 0; i < pods; i++)
      await client.create({ ...R.pods, namespace: NS }, ownedPod(`${name}-${i}`, rs, block));
    return rs;
  };

  it("background: deleting the owner deletes its pods afterwards", async () => {
    await makeSet("bg", 3);
    await client.delete(rsRef("bg"), { propagationPolicy: "Background" });
    expect(await exists(rsRef("bg"))).toBeUndefined(); // the owner goes at once
    await until("bg pods gone", async () => {
      const list = await client.list({ ...R.pods, namespace: NS }, { labelSelector: "app=bg" });
      return list.items.length === 0;
    });
  });

  it("a dependent whose owner never existed is collected; one with a living second owner keeps it", async () => {
    const keeper = await client.create({ ...R.replicasets, namespace: NS }, replicaSet("keeper"));
    const ghost = {
      ...replicaSet("ghost"),
      metadata: { name: "ghost", namespace: NS, uid: "00000000-0000-0000-0000-000000000001" },
    };
    await client.create({ ...R.pods, namespace: NS }, ownedPod("orphaned-from-birth", ghost));
    const keeperRef: OwnerReference = {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      name: "keeper",
      uid: keeper.metadata.uid!,
    };
    await client.create({ ...R.pods, namespace: NS }, ownedPod("two-owners", ghost, false, [keeperRef]));
    await until(
      "pod with a missing owner deleted",
      async () => (await exists(podRef("orphaned-from-birth"))) === undefined,
    );
    const kept = await until("dangling reference dropped", async () => {
      const p = await exists(podRef("two-owners"));
      return p && p.metadata.ownerReferences?.length === 1 ? p : undefined;
    });
    expect(kept.metadata.ownerReferences![0]!.uid).toBe(keeper.metadata.uid);
  });

  it("foreground: the pods go first, then the owner", async () => {
    await makeSet("fg", 3);
    let ownerSeenWithoutPods = false;
    let podsSeenWithoutOwner = false;
    // watch the order: while any pod exists the owner must exist
    await client.delete(rsRef("fg"), { propagationPolicy: "Foreground" });
    const owner = await exists(rsRef("fg"));
    if (owner) {
      expect(owner.metadata.deletionTimestamp).toBeTruthy();
      expect(owner.metadata.finalizers).toContain("foregroundDeletion");
    }
    await until(
      "fg owner gone",
      async () => {
        const [rs, pods] = await Promise.all([
          exists(rsRef("fg")),
          client.list({ ...R.pods, namespace: NS }, { labelSelector: "app=fg" }),
        ]);
        if (!rs && pods.items.length > 0) podsSeenWithoutOwner = true;
        if (rs && pods.items.length === 0) ownerSeenWithoutPods = true;
        return !rs && pods.items.length === 0;
      },
      20_000,
      20,
    );
    expect(podsSeenWithoutOwner).toBe(false);
    void ownerSeenWithoutPods; // may or may not be observed, depending on timing
  });

  it("orphan: the owner goes, its pods stay without the ownerReference", async () => {
    await makeSet("orph", 2);
    await client.delete(rsRef("orph"), { propagationPolicy: "Orphan" });
    await until("orph owner gone", async () => (await exists(rsRef("orph"))) === undefined);
    const list = await client.list({ ...R.pods, namespace: NS }, { labelSelector: "app=orph" });
    expect(list.items).toHaveLength(2);
    for (const p of list.items) expect(p.metadata.ownerReferences ?? []).toEqual([]);
    // and they stay
    await new Promise((r) => setTimeout(r, 1000));
    expect(
      (await client.list({ ...R.pods, namespace: NS }, { labelSelector: "app=orph" })).items,
    ).toHaveLength(2);
  });

  it("a ReplicaSet owned by a Deployment goes with it (two levels, foreground)", async () => {
    const dep = await client.create(
      { ...R.deployments, namespace: NS },
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", namespace: NS },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: "web" } },
          template: {
            metadata: { labels: { app: "web" } },
            spec: { containers: [{ name: "c", image: "busybox" }] },
          },
        },
      },
    );
    const rs = await client.create(
      { ...R.replicasets, namespace: NS },
      {
        ...replicaSet("web-1"),
        metadata: {
          name: "web-1",
          namespace: NS,
          ownerReferences: [
            {
              apiVersion: "apps/v1",
              kind: "Deployment",
              name: "web",
              uid: dep.metadata.uid!,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
      },
    );
    await client.create({ ...R.pods, namespace: NS }, ownedPod("web-1-a", rs));
    await client.delete(
      { ...R.deployments, namespace: NS, name: "web" },
      { propagationPolicy: "Foreground" },
    );
    await until(
      "deployment, replicaset and pod gone",
      async () =>
        !(await exists({ ...R.deployments, namespace: NS, name: "web" })) &&
        !(await exists(rsRef("web-1"))) &&
        !(await exists(podRef("web-1-a"))),
    );
  });
});
