/**
 * DaemonSet controller end to end: a real apiserver child, the controller-manager in-process,
 * fake Nodes created through the API, and this test playing kubelet (pods bound to a node are
 * marked Running/Ready with an IP; pods being deleted are finished). One pod per node, a node added
 * later gets one, an untolerated NoSchedule taint gets none, a template change rolls within
 * maxUnavailable 1, status counts are right, and real kubectl shows them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../api/object.js";
import { createLogger } from "../cli/logger.js";
import { loadClusterConnection, R, RestClient } from "../client/index.js";
import type { RunningControllerManager } from "../controllers/manager.js";
import { type ApiserverProcess, builtCliMissing, startApiserver } from "./helpers/apiserver.js";
import { kubectl, missingKubectl } from "./helpers/kubectl.js";
import { until } from "./helpers/net.js";

const skip = builtCliMissing();
const NS = "ds-e2e";
const KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.27";

interface Pod extends KubeObject {
  spec: {
    nodeName?: string;
    tolerations?: { key?: string; effect?: string }[];
    containers: { image: string }[];
  };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}

const ts = (d = new Date()) => d.toISOString().replace(/\.\d{3}Z$/, "Z");
const isReady = (p: Pod) => !!p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");

describe.skipIf(skip)("DaemonSet controller (real apiserver, in-process controller-manager)", () => {
  let api: ApiserverProcess;
  let cm: RunningControllerManager;
  let client: RestClient;
  let kubeletTimer: NodeJS.Timeout | undefined;
  let ipSeq = 1;

  async function addNode(
    name: string,
    taints?: { key: string; value?: string; effect: string }[],
  ): Promise<void> {
    const resources = { cpu: "4", memory: "8Gi", pods: "110" };
    const now = ts();
    const status = {
      capacity: resources,
      allocatable: resources,
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "KubeletReady",
          message: "fake",
          lastHeartbeatTime: now,
          lastTransitionTime: now,
        },
      ],
    };
    await client.create(R.nodes, {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name, labels: { "kubernetes.io/hostname": name } },
      spec: taints ? { taints } : {},
      status,
    });
    await client.patch({ ...R.nodes, name, subresource: "status" }, { status }, { type: "merge" });
  }

  const listPods = async () => (await client.list<Pod>({ ...R.pods, namespace: NS })).items;
  const live = (pods: Pod[]) => pods.filter((p) => !p.metadata.deletionTimestamp);
  const getDs = () =>
    client.get<KubeObject & { status?: Record<string, number> }>({
      ...R.daemonsets,
      namespace: NS,
      name: "agent",
    });

  /** one pass of the fake kubelet */
  async function kubeletPass(): Promise<void> {
    for (const p of await listPods()) {
      if (!p.spec.nodeName) continue;
      if (p.metadata.deletionTimestamp) {
        await client
          .delete({ ...R.pods, namespace: NS, name: p.metadata.name! }, { gracePeriodSeconds: 0 })
          .catch(() => {});
      } else if (!isReady(p)) {
        const ip = `10.244.1.${ipSeq++}`;
        await client
          .patch(
            { ...R.pods, namespace: NS, name: p.metadata.name!, subresource: "status" },
            {
              status: {
                phase: "Running",
                podIP: ip,
                podIPs: [{ ip }],
                conditions: [{ type: "Ready", status: "True", lastTransitionTime: ts() }],
              },
            },
            { type: "merge" },
          )
          .catch(() => {});
      }
    }
  }

  beforeAll(async () => {
    api = await startApiserver();
    const { run } = await import("../controllers/manager.js");
    cm = await run({
      kubeconfig: api.kubeconfig,
      controllers: ["endpointslice", "endpoints", "daemonset"],
      bindAddress: "",
      logger: createLogger("controller-manager", process.env.KUBEPLANE_LOG_LEVEL ?? "warn"),
    });
    client = new RestClient(loadClusterConnection({ kubeconfig: api.kubeconfig }), {
      component: "daemonset-e2e",
    });
    await client.create(R.namespaces, { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
    for (const n of ["n1", "n2", "n3"]) await addNode(n);
    let running = false;
    kubeletTimer = setInterval(() => {
      if (running) return;
      running = true;
      kubeletPass()
        .catch(() => {})
        .finally(() => {
          running = false;
        });
    }, 100);
    await client.create(
      { ...R.daemonsets, namespace: NS },
      {
        apiVersion: "apps/v1",
        kind: "DaemonSet",
        metadata: { name: "agent", namespace: NS },
        spec: {
          selector: { matchLabels: { app: "agent" } },
          updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
          template: {
            metadata: { labels: { app: "agent" } },
            spec: { containers: [{ name: "agent", image: "agent:1" }] },
          },
        },
      },
    );
  }, 120_000);

  afterAll(async () => {
    if (kubeletTimer) clearInterval(kubeletTimer);
    await cm?.stop();
    await client?.close();
    await api?.stop();
  });

  it("runs one pod per node, bound, owned, with the automatic tolerations", async () => {
    const pods = await until("3 daemon pods", async () => {
      const p = live(await listPods());
      return p.length === 3 ? p : undefined;
    });
    expect(pods.map((p) => p.spec.nodeName).sort()).toEqual(["n1", "n2", "n3"]);
    for (const p of pods) {
      expect(p.metadata.ownerReferences?.[0]).toMatchObject({
        kind: "DaemonSet",
        name: "agent",
        controller: true,
      });
      expect(p.metadata.labels?.["controller-revision-hash"]).toBeTruthy();
      const tol = (p.spec.tolerations ?? []).map((t) => `${t.key}:${t.effect}`);
      expect(tol).toEqual(
        expect.arrayContaining([
          "node.kubernetes.io/not-ready:NoExecute",
          "node.kubernetes.io/unreachable:NoExecute",
          "node.kubernetes.io/disk-pressure:NoSchedule",
          "node.kubernetes.io/memory-pressure:NoSchedule",
          "node.kubernetes.io/pid-pressure:NoSchedule",
          "node.kubernetes.io/unschedulable:NoSchedule",
        ]),
      );
    }
    const ds = await until("status 3/3 ready", async () => {
      const d = await getDs();
      return d.status?.numberAvailable === 3 && d.status?.updatedNumberScheduled === 3 ? d : undefined;
    });
    expect(ds.status).toMatchObject({
      desiredNumberScheduled: 3,
      currentNumberScheduled: 3,
      numberReady: 3,
      numberAvailable: 3,
      updatedNumberScheduled: 3,
      numberMisscheduled: 0,
      observedGeneration: ds.metadata.generation,
    });
    expect(ds.status?.numberUnavailable ?? 0).toBe(0);
  });

  it("a node added later gets a pod; a node with an untolerated NoSchedule taint gets none", async () => {
    await addNode("n4");
    await addNode("n5", [{ key: "dedicated", value: "db", effect: "NoSchedule" }]);
    await until("pod on n4", async () => live(await listPods()).some((p) => p.spec.nodeName === "n4"));
    await until("status 4 desired and available", async () => {
      const d = await getDs();
      return d.status?.desiredNumberScheduled === 4 && d.status?.numberAvailable === 4;
    });
    await new Promise((r) => setTimeout(r, 500));
    expect((await listPods()).some((p) => p.spec.nodeName === "n5")).toBe(false);
  });

  it("kubectl get ds shows DESIRED and CURRENT", async (ctx) => {
    const missing = missingKubectl(KUBECTL);
    if (missing) ctx.skip(missing);
    const out = await kubectl(KUBECTL, api.kubeconfig)(["get", "ds", "agent", "-n", NS]);
    const [header, row] = out.stdout.trim().split("\n");
    expect(header).toMatch(/^NAME\s+DESIRED\s+CURRENT\s+READY\s+UP-TO-DATE\s+AVAILABLE/);
    expect(row!.split(/\s+/).slice(0, 6)).toEqual(["agent", "4", "4", "4", "4", "4"]);
  });

  it("a template change rolls the pods with at most 1 unavailable", async () => {
    const eligible = ["n1", "n2", "n3", "n4"];
    let minAvailable = Number.POSITIVE_INFINITY;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const pods = live(await listPods());
        const available = eligible.filter((n) =>
          pods.some((p) => p.spec.nodeName === n && isReady(p)),
        ).length;
        minAvailable = Math.min(minAvailable, available);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await client.patch(
      { ...R.daemonsets, namespace: NS, name: "agent" },
      { spec: { template: { spec: { containers: [{ name: "agent", image: "agent:2" }] } } } },
      { type: "strategic" },
    );
    const ds = await until(
      "rollout complete",
      async () => {
        const d = await getDs();
        const pods = live(await listPods());
        const done =
          d.status?.observedGeneration === d.metadata.generation &&
          d.status?.updatedNumberScheduled === 4 &&
          d.status?.numberAvailable === 4 &&
          pods.length === 4 &&
          pods.every((p) => p.spec.containers[0]!.image === "agent:2" && isReady(p));
        return done ? d : undefined;
      },
      30_000,
    );
    sampling = false;
    await sampler;
    expect(ds.status).toMatchObject({
      desiredNumberScheduled: 4,
      currentNumberScheduled: 4,
      updatedNumberScheduled: 4,
      numberReady: 4,
    });
    expect(minAvailable).toBeGreaterThanOrEqual(3);
    expect((await listPods()).map((p) => p.spec.nodeName).sort()).toEqual(eligible);
  });

  it("removing a node removes its pod", async () => {
    await client.delete({ ...R.nodes, name: "n4" });
    await until("no pod on n4", async () => !(await listPods()).some((p) => p.spec.nodeName === "n4"));
    await until("status 3 desired", async () => {
      const d = await getDs();
      return d.status?.desiredNumberScheduled === 3 && d.status?.currentNumberScheduled === 3;
    });
  });

  it("relabelling a node out of the nodeSelector removes its pod", async () => {
    await client.patch(
      { ...R.daemonsets, namespace: NS, name: "agent" },
      { spec: { template: { spec: { nodeSelector: { role: "agent" } } } } },
      { type: "strategic" },
    );
    await until("no pods (no node has the label)", async () => live(await listPods()).length === 0);
    await client.patch(
      { ...R.nodes, name: "n2" },
      { metadata: { labels: { role: "agent" } } },
      { type: "merge" },
    );
    const pods = await until("pod on n2 only", async () => {
      const p = live(await listPods());
      return p.length === 1 && p[0]!.spec.nodeName === "n2" ? p : undefined;
    });
    expect(pods).toHaveLength(1);
    await until("status 1 desired", async () => (await getDs()).status?.desiredNumberScheduled === 1);
  });
});
