/**
 * Node lifecycle end to end: a real apiserver child, the nodelifecycle controller in-process with a
 * 4 s grace period, and fake nodes renewing Leases. A node whose Lease stops is marked Ready=Unknown
 * with the unreachable taints, its pods turn unready, pods are evicted per their tolerations, and
 * when the node comes back the taints go away.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../api/object.js";
import { loadClusterConnection, R, RestClient } from "../client/index.js";
import { type ApiserverProcess, builtCliMissing, startApiserver } from "./helpers/apiserver.js";
import {
  type FakeNodes,
  type InProcessControllers,
  startControllers,
  startFakeNodes,
} from "./helpers/fake-nodes.js";
import { until } from "./helpers/net.js";

const GRACE = 4000;
const PERIOD = 500;
const UNREACHABLE = "node.kubernetes.io/unreachable";
const NOT_READY = "node.kubernetes.io/not-ready";
const skip = builtCliMissing();

type Cond = { type: string; status: string; reason?: string; message?: string };
type Taint = { key: string; effect: string; timeAdded?: string };
const conditions = (o: KubeObject) => ((o.status ?? {}) as { conditions?: Cond[] }).conditions ?? [];
const cond = (o: KubeObject, type: string) => conditions(o).find((c) => c.type === type);
const taints = (o: KubeObject) => ((o.spec ?? {}) as { taints?: Taint[] }).taints ?? [];

function pod(name: string, node: string, tolerations?: unknown[]): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default", labels: { app: "lifecycle" } },
    spec: {
      nodeName: node,
      containers: [{ name: "c", image: "busybox" }],
      ...(tolerations ? { tolerations } : {}),
    },
  };
}

const noExecute = (key: string, seconds?: number) => ({
  key,
  operator: "Exists",
  effect: "NoExecute",
  ...(seconds !== undefined ? { tolerationSeconds: seconds } : {}),
});

describe.skipIf(skip)("node lifecycle", () => {
  let api: ApiserverProcess;
  let client: RestClient;
  let fake: FakeNodes;
  let ctrl: InProcessControllers;

  beforeAll(async () => {
    api = await startApiserver();
    client = new RestClient(loadClusterConnection({ kubeconfig: api.kubeconfig }), { component: "test" });
    fake = await startFakeNodes(client, ["node-a", "node-b"], { leaseRenewMs: 1000 });
    ctrl = await startControllers(api.kubeconfig, ["nodelifecycle"], {
      nodeMonitorGracePeriodMs: GRACE,
      nodeMonitorPeriodMs: PERIOD,
    });
  });

  afterAll(async () => {
    await ctrl?.stop();
    await fake?.close();
    await client?.close();
    await api?.stop();
  });

  const getPod = (name: string) => client.get({ ...R.pods, namespace: "default", name });
  const getNode = (name: string) => client.get({ ...R.nodes, name });

  it("fake nodes register Ready with capacity, nodeInfo and a Lease", async () => {
    const node = await getNode("node-a");
    expect(cond(node, "Ready")?.status).toBe("True");
    expect((node.status as { capacity: Record<string, string> }).capacity).toMatchObject({
      cpu: "4",
      pods: "110",
    });
    expect((node.status as { nodeInfo: { kubeletVersion: string } }).nodeInfo.kubeletVersion).toBe(
      "v1.33.0-kubeplane",
    );
    const lease = await client.get({ ...R.leases, namespace: "kube-node-lease", name: "node-a" });
    expect(lease.spec).toMatchObject({ holderIdentity: "node-a", leaseDurationSeconds: 40 });
  });

  it("a node whose Lease stops goes Unknown and unreachable; its pods lose readiness and are evicted per toleration", async () => {
    // the apiserver gives every pod 300 s tolerations for not-ready/unreachable (DefaultTolerationSeconds),
    // so "no toleration" is written as tolerationSeconds 0
    await client.create(
      { ...R.pods, namespace: "default" },
      pod("evict-now", "node-a", [noExecute(UNREACHABLE, 0), noExecute(NOT_READY, 0)]),
    );
    await client.create(
      { ...R.pods, namespace: "default" },
      pod("evict-2s", "node-a", [noExecute(UNREACHABLE, 2), noExecute(NOT_READY, 2)]),
    );
    await client.create(
      { ...R.pods, namespace: "default" },
      pod("forever", "node-a", [{ operator: "Exists" }]),
    );
    await client.create({ ...R.pods, namespace: "default" }, pod("default-300s", "node-a"));
    await client.create({ ...R.pods, namespace: "default" }, pod("on-b", "node-b"));
    const defaulted = await getPod("default-300s");
    expect((defaulted.spec as { tolerations: unknown[] }).tolerations).toContainEqual(
      expect.objectContaining({ key: UNREACHABLE, tolerationSeconds: 300 }),
    );
    for (const name of ["evict-now", "evict-2s", "forever", "default-300s", "on-b"]) {
      await until(`${name} ready`, async () => cond(await getPod(name), "Ready")?.status === "True");
    }

    const stoppedAt = Date.now();
    fake.stop("node-a");
    const node = await until(
      "node-a unreachable",
      async () => {
        const n = await getNode("node-a");
        const t = taints(n);
        return cond(n, "Ready")?.status === "Unknown" &&
          t.some((x) => x.key === UNREACHABLE && x.effect === "NoExecute") &&
          t.some((x) => x.key === UNREACHABLE && x.effect === "NoSchedule")
          ? n
          : undefined;
      },
      30_000,
      50,
    );
    const taintedAt = Date.now();
    // the last renewal was at most one renew interval (1 s) before stop; allow 1.5 s for the writes
    expect(taintedAt - stoppedAt).toBeLessThanOrEqual(GRACE + PERIOD + 1000 + 1500);
    expect(taintedAt - stoppedAt).toBeGreaterThanOrEqual(GRACE - 1000);
    expect(cond(node, "Ready")).toMatchObject({
      reason: "NodeStatusUnknown",
      message: "Kubelet stopped posting node status.",
    });
    for (const t of ["MemoryPressure", "DiskPressure", "PIDPressure"])
      expect(cond(node, t)?.status).toBe("Unknown");
    expect(taints(node).find((t) => t.key === UNREACHABLE)?.timeAdded).toBeTruthy();

    // pods on the node lose readiness
    for (const name of ["forever", "default-300s"]) {
      const p = await until(`${name} not ready`, async () => {
        const x = await getPod(name);
        return cond(x, "Ready")?.status === "False" ? x : undefined;
      });
      expect(cond(p, "ContainersReady")?.status).toBe("False");
    }

    // eviction: at once for the intolerant pod, after ≥ 2 s for the 2 s one
    const evictedNow = await until(
      "evict-now evicted",
      async () => (await getPod("evict-now")).metadata.deletionTimestamp,
      5000,
      50,
    );
    expect(evictedNow).toBeTruthy();
    const evicted2s = await until(
      "evict-2s evicted",
      async () => ((await getPod("evict-2s")).metadata.deletionTimestamp ? Date.now() : undefined),
      10_000,
      50,
    );
    expect(evicted2s - taintedAt).toBeGreaterThanOrEqual(2000 - 300);
    expect(evicted2s - taintedAt).toBeLessThan(2000 + 3000);

    // node-b and its pod are untouched
    const b = await getNode("node-b");
    expect(cond(b, "Ready")?.status).toBe("True");
    expect(taints(b)).toEqual([]);
    expect(cond(await getPod("on-b"), "Ready")?.status).toBe("True");

    // the tolerating pods stay
    await new Promise((r) => setTimeout(r, 1000));
    expect((await getPod("forever")).metadata.deletionTimestamp).toBeUndefined();
    expect((await getPod("default-300s")).metadata.deletionTimestamp).toBeUndefined();
  });

  it("when the Lease is renewed again the taints are removed and pods become ready", async () => {
    await fake.resume("node-a");
    const node = await until(
      "node-a ready and untainted",
      async () => {
        const n = await getNode("node-a");
        return cond(n, "Ready")?.status === "True" && !taints(n).some((t) => t.key === UNREACHABLE)
          ? n
          : undefined;
      },
      10_000,
    );
    expect(taints(node)).toEqual([]);
    await until("forever ready again", async () => cond(await getPod("forever"), "Ready")?.status === "True");
    // the fake kubelet finishes the evicted pods' graceful deletion once it is back
    await until("evicted pods gone", async () => {
      const list = await client.list({ ...R.pods, namespace: "default" });
      const names = list.items.map((p) => p.metadata.name);
      return !names.includes("evict-now") && !names.includes("evict-2s");
    });
    // and it stays healthy over more than a grace period
    await new Promise((r) => setTimeout(r, GRACE + PERIOD * 2));
    const again = await getNode("node-a");
    expect(cond(again, "Ready")?.status).toBe("True");
    expect(taints(again)).toEqual([]);
  });
});
