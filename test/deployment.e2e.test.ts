/**
 * Deployment and ReplicaSet controllers end to end: a real apiserver child process, the
 * controller-manager in-process (only "deployment" and "replicaset"), no scheduler or kubelet —
 * the test plays kubelet by marking pods Running/Ready through pods/status. Real kubectl checks
 * `rollout status` and `scale`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../api/object.js";
import {
  type Informer,
  loadClusterConnection,
  R,
  RestClient,
  SharedInformerFactory,
} from "../client/index.js";
import type { Deployment } from "../controllers/deployment-util.js";
import type { Pod, ReplicaSet } from "../controllers/replicaset-util.js";
import { type ApiserverProcess, builtCliMissing, startApiserver } from "./helpers/apiserver.js";
import { kubectl, missingKubectl } from "./helpers/kubectl.js";

const KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.27";
const skip = builtCliMissing() ?? missingKubectl(KUBECTL);
if (skip) console.warn(`skipping deployment e2e: ${skip}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await sleep(50);
  }
}

const isReady = (p: Pod) =>
  p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
const active = (p: Pod) =>
  !p.metadata.deletionTimestamp && p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed";
const imageOf = (p: Pod) => (p.spec?.containers as { image?: string }[] | undefined)?.[0]?.image;
const hashOf = (o: KubeObject) => o.metadata.labels?.["pod-template-hash"];

function deployment(
  name: string,
  o: { replicas: number; image: string; strategy?: Record<string, unknown>; limit?: number },
): Deployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name },
    spec: {
      replicas: o.replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "web", image: o.image }] },
      },
      ...(o.strategy ? { strategy: o.strategy } : {}),
      ...(o.limit !== undefined ? { revisionHistoryLimit: o.limit } : {}),
    },
  };
}

describe.skipIf(Boolean(skip))("deployment and replicaset controllers", () => {
  let api: ApiserverProcess;
  let client: RestClient;
  let informers: SharedInformerFactory;
  let stopControllers: () => Promise<void>;
  let k: ReturnType<typeof kubectl>;
  const NS = "deploy-e2e";
  let pods: Informer<Pod>;
  /** the fake kubelet marks every new pod Ready unless `manual` */
  let manual = false;
  const marked = new Set<string>();

  async function markReady(p: Pod): Promise<void> {
    marked.add(p.metadata.uid!);
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    await client.patch(
      { ...R.pods, namespace: p.metadata.namespace, name: p.metadata.name!, subresource: "status" },
      {
        status: {
          phase: "Running",
          conditions: [
            { type: "Initialized", status: "True", lastTransitionTime: now },
            { type: "Ready", status: "True", lastTransitionTime: now },
            { type: "ContainersReady", status: "True", lastTransitionTime: now },
            { type: "PodScheduled", status: "True", lastTransitionTime: now },
          ],
        },
      },
      { type: "merge" },
    );
  }

  const podsOf = (app: string) => pods.list().filter((p) => p.metadata.labels?.app === app && active(p));
  const rsOf = async (app: string) =>
    (await client.list<ReplicaSet>({ ...R.replicasets, namespace: NS }, { labelSelector: `app=${app}` }))
      .items;
  const getDeployment = (name: string) => client.get<Deployment>({ ...R.deployments, namespace: NS, name });
  const createDeployment = (d: Deployment) =>
    client.create<Deployment>({ ...R.deployments, namespace: NS }, d);
  const setImage = (name: string, image: string) =>
    client.patch(
      { ...R.deployments, namespace: NS, name },
      { spec: { template: { spec: { containers: [{ name: "web", image }] } } } },
      { type: "strategic" },
    );

  async function waitComplete(name: string, replicas: number, timeoutMs = 30_000): Promise<Deployment> {
    return waitFor(
      `deployment ${name} complete with ${replicas}`,
      async () => {
        const d = await getDeployment(name);
        const s = d.status ?? {};
        return (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) &&
          s.updatedReplicas === replicas &&
          s.replicas === replicas &&
          s.availableReplicas === replicas &&
          podsOf(name).length === replicas
          ? d
          : undefined;
      },
      timeoutMs,
    );
  }

  beforeAll(async () => {
    api = await startApiserver();
    client = new RestClient(loadClusterConnection({ kubeconfig: api.kubeconfig }), {
      component: "deployment-e2e",
    });
    await client.create(R.namespaces, { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
    informers = new SharedInformerFactory(client);
    pods = informers.informerFor<Pod>(R.pods, { namespace: NS });
    const kubelet = (p: Pod) => {
      if (manual || marked.has(p.metadata.uid!) || !active(p) || isReady(p)) return;
      markReady(p).catch(() => marked.delete(p.metadata.uid!));
    };
    pods.addEventHandler({ onAdd: kubelet, onUpdate: (_o, p) => kubelet(p) });
    informers.start();
    await informers.waitForSync();
    const { silentLogger } = await import("../cli/logger.js");
    const { run } = await import("../controllers/manager.js");
    const cm = await run({
      kubeconfig: api.kubeconfig,
      controllers: ["deployment", "replicaset"],
      bindAddress: "",
      logger: silentLogger(),
    });
    stopControllers = () => cm.stop();
    k = kubectl(KUBECTL, api.kubeconfig);
  });

  afterAll(async () => {
    await stopControllers?.();
    await informers?.stop();
    await client?.close();
    await api?.stop();
  });

  it("a Deployment of 5 replicas gets one ReplicaSet and 5 pods", async () => {
    await createDeployment(
      deployment("web", {
        replicas: 5,
        image: "nginx:1.25",
        strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } },
      }),
    );
    const d = await waitComplete("web", 5);
    const rss = await rsOf("web");
    expect(rss).toHaveLength(1);
    const rs = rss[0]!;
    const hash = hashOf(rs)!;
    expect(rs.metadata.name).toBe(`web-${hash}`);
    expect(rs.spec.selector?.matchLabels).toEqual({ app: "web", "pod-template-hash": hash });
    expect(rs.spec.template?.metadata?.labels).toEqual({ app: "web", "pod-template-hash": hash });
    expect(rs.metadata.annotations?.["deployment.kubernetes.io/revision"]).toBe("1");
    expect(rs.metadata.annotations?.["deployment.kubernetes.io/desired-replicas"]).toBe("5");
    expect(rs.metadata.annotations?.["deployment.kubernetes.io/max-replicas"]).toBe("6");
    expect(rs.metadata.ownerReferences).toEqual([
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: "web",
        uid: d.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(rs.status).toMatchObject({
      replicas: 5,
      fullyLabeledReplicas: 5,
      readyReplicas: 5,
      availableReplicas: 5,
      observedGeneration: rs.metadata.generation,
    });
    expect(d.metadata.annotations?.["deployment.kubernetes.io/revision"]).toBe("1");
    const ps = podsOf("web");
    expect(ps).toHaveLength(5);
    for (const p of ps) {
      expect(p.metadata.name!.startsWith(`web-${hash}-`)).toBe(true);
      expect(p.metadata.ownerReferences).toEqual([
        {
          apiVersion: "apps/v1",
          kind: "ReplicaSet",
          name: rs.metadata.name,
          uid: rs.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    }
    const conds = Object.fromEntries((d.status?.conditions ?? []).map((c) => [c.type, c]));
    expect(conds.Available).toMatchObject({ status: "True", reason: "MinimumReplicasAvailable" });
    expect(conds.Progressing).toMatchObject({ status: "True", reason: "NewReplicaSetAvailable" });
    // Events like upstream's
    const events = await client.list({ ...R.events, namespace: NS });
    const messages = events.items.map((e) => String(e.message));
    expect(messages).toContain(`Scaled up replica set ${rs.metadata.name} to 5`);
    expect(messages.filter((m) => m.startsWith(`Created pod: web-${hash}-`)).length).toBeGreaterThanOrEqual(
      5,
    );
  });

  it("a rollout stays within maxSurge=1 / maxUnavailable=1 and kubectl rollout status completes", async () => {
    manual = true;
    const before = hashOf((await rsOf("web"))[0]!)!;
    // watch every pod event: never more than 6 pods, never fewer than 4 ready
    let maxPods = 0;
    let minReady = Number.POSITIVE_INFINITY;
    const sample = () => {
      const ps = podsOf("web");
      maxPods = Math.max(maxPods, ps.length);
      minReady = Math.min(minReady, ps.filter(isReady).length);
    };
    const unwatch = pods.addEventHandler({ onAdd: sample, onUpdate: sample, onDelete: sample });
    try {
      await setImage("web", "nginx:1.26");
      const rollout = k(["-n", NS, "rollout", "status", "deployment/web", "--timeout=60s"], {
        timeoutMs: 70_000,
      });
      const steps: string[] = [];
      for (let i = 0; i < 60; i++) {
        // let the controllers settle, then sample and flip one new pod to ready
        let last = "";
        await waitFor("pods to settle", async () => {
          const now = JSON.stringify(
            podsOf("web")
              .map((p) => [p.metadata.name, isReady(p)])
              .sort(),
          );
          const same = now === last;
          last = now;
          if (same) return true;
          await sleep(300);
          return false;
        });
        const ps = podsOf("web");
        const ready = ps.filter(isReady);
        steps.push(`${ps.length} pods / ${ready.length} ready`);
        expect(ps.length).toBeLessThanOrEqual(6);
        expect(ready.length).toBeGreaterThanOrEqual(4);
        const pending = ps.filter((p) => !isReady(p));
        if (pending.length === 0 && ps.length === 5 && ps.every((p) => hashOf(p) !== before)) break;
        if (pending.length > 0) {
          expect(hashOf(pending[0]!)).not.toBe(before);
          await markReady(pending[0]!);
        }
      }
      const res = await rollout;
      expect(res.stdout).toContain('deployment "web" successfully rolled out');
      expect(steps.length).toBeGreaterThan(3);
      // both fenceposts are used to the full: one surge pod, one unavailable
      expect(steps[0]).toBe("6 pods / 4 ready");
    } finally {
      unwatch();
      manual = false;
    }
    expect(maxPods).toBeLessThanOrEqual(6);
    expect(minReady).toBeGreaterThanOrEqual(4);
    const d = await waitComplete("web", 5);
    expect(d.metadata.annotations?.["deployment.kubernetes.io/revision"]).toBe("2");
    const rss = await rsOf("web");
    expect(rss).toHaveLength(2);
    const old = rss.find((r) => hashOf(r) === before)!;
    const fresh = rss.find((r) => hashOf(r) !== before)!;
    expect(old.spec.replicas).toBe(0);
    expect(fresh.spec.replicas).toBe(5);
    expect(fresh.metadata.annotations?.["deployment.kubernetes.io/revision"]).toBe("2");
    expect(podsOf("web").every((p) => hashOf(p) === hashOf(fresh))).toBe(true);
    // a second rollout status on the finished rollout returns at once
    const again = await k(["-n", NS, "rollout", "status", "deployment/web", "--timeout=10s"]);
    expect(again.stdout).toContain("successfully rolled out");
  });

  it("kubectl scale goes through the scale subresource and the controllers follow", async () => {
    await k(["-n", NS, "scale", "deployment", "web", "--replicas=2"]);
    const d = await waitComplete("web", 2);
    expect(d.spec.replicas).toBe(2);
    const rss = await rsOf("web");
    expect(rss.map((r) => r.spec.replicas).sort()).toEqual([0, 2]);
    const scaled = rss.find((r) => r.spec.replicas === 2)!;
    expect(scaled.metadata.annotations?.["deployment.kubernetes.io/desired-replicas"]).toBe("2");
    await k(["-n", NS, "scale", "deployment", "web", "--replicas=4"]);
    await waitComplete("web", 4);
    const res = await k(["-n", NS, "rollout", "status", "deployment/web", "--timeout=20s"]);
    expect(res.stdout).toContain("successfully rolled out");
  });

  it("Recreate removes every old pod before the first new one", async () => {
    await createDeployment(
      deployment("rec", { replicas: 3, image: "nginx:1.25", strategy: { type: "Recreate" } }),
    );
    await waitComplete("rec", 3);
    const oldHash = hashOf((await rsOf("rec"))[0]!)!;
    let overlap = 0;
    let sawNew = false;
    const unwatch = pods.addEventHandler({
      onAdd: (p) => {
        if (p.metadata.labels?.app !== "rec" || hashOf(p) === oldHash) return;
        sawNew = true;
        overlap = Math.max(overlap, podsOf("rec").filter((x) => hashOf(x) === oldHash).length);
      },
    });
    try {
      await setImage("rec", "nginx:1.26");
      await waitFor("recreate rollout", async () => {
        const ps = podsOf("rec");
        return ps.length === 3 && ps.every((p) => hashOf(p) !== oldHash && isReady(p));
      });
      await waitComplete("rec", 3);
    } finally {
      unwatch();
    }
    expect(sawNew).toBe(true);
    expect(overlap).toBe(0);
    const rss = await rsOf("rec");
    expect(rss.find((r) => hashOf(r) === oldHash)?.spec.replicas).toBe(0);
    const res = await k(["-n", NS, "rollout", "status", "deployment/rec", "--timeout=20s"]);
    expect(res.stdout).toContain("successfully rolled out");
  });

  it("revisionHistoryLimit=1 prunes old ReplicaSets", async () => {
    await createDeployment(deployment("hist", { replicas: 1, image: "nginx:1", limit: 1 }));
    await waitComplete("hist", 1);
    for (const image of ["nginx:2", "nginx:3", "nginx:4"]) {
      await setImage("hist", image);
      await waitFor(`hist on ${image}`, () => {
        const ps = podsOf("hist");
        return ps.length === 1 && isReady(ps[0]!) && imageOf(ps[0]!) === image;
      });
      await waitComplete("hist", 1);
    }
    const rss = await waitFor("history pruned to 1 old RS", async () => {
      const list = await rsOf("hist");
      return list.length === 2 ? list : undefined;
    });
    const revs = rss.map((r) => Number(r.metadata.annotations?.["deployment.kubernetes.io/revision"])).sort();
    expect(revs).toEqual([3, 4]);
  });

  it("paused deployments scale but do not roll out until resumed", async () => {
    await createDeployment(deployment("paws", { replicas: 2, image: "nginx:1" }));
    await waitComplete("paws", 2);
    await client.patch(
      { ...R.deployments, namespace: NS, name: "paws" },
      { spec: { paused: true } },
      { type: "merge" },
    );
    await setImage("paws", "nginx:2");
    await waitFor("paused condition", async () => {
      const d = await getDeployment("paws");
      return d.status?.conditions?.some((c) => c.type === "Progressing" && c.reason === "DeploymentPaused");
    });
    await k(["-n", NS, "scale", "deployment", "paws", "--replicas=3"]);
    await waitFor("paused scale", () => podsOf("paws").length === 3 && podsOf("paws").every(isReady));
    expect(await rsOf("paws")).toHaveLength(1);
    await client.patch(
      { ...R.deployments, namespace: NS, name: "paws" },
      { spec: { paused: false } },
      { type: "merge" },
    );
    await waitFor("resumed rollout", () => {
      const ps = podsOf("paws");
      return ps.length === 3 && ps.every((p) => imageOf(p) === "nginx:2");
    });
    await waitComplete("paws", 3);
    expect(await rsOf("paws")).toHaveLength(2);
  });

  it("a rollout that makes no progress past progressDeadlineSeconds fails rollout status, then recovers", async () => {
    manual = true;
    try {
      const d = deployment("stuck", { replicas: 2, image: "nginx:1" });
      d.spec.progressDeadlineSeconds = 1;
      await createDeployment(d);
      const cond = await waitFor(
        "ProgressDeadlineExceeded",
        async () =>
          (await getDeployment("stuck")).status?.conditions?.find(
            (c) => c.type === "Progressing" && c.reason === "ProgressDeadlineExceeded",
          ),
        15_000,
      );
      expect(cond.status).toBe("False");
      expect(cond.message).toMatch(/^ReplicaSet "stuck-[a-z0-9]+" has timed out progressing\.$/);
      const res = await k(["-n", NS, "rollout", "status", "deployment/stuck", "--timeout=10s"], {
        allowFail: true,
      });
      expect(res.code).not.toBe(0);
      expect(res.stderr).toContain("exceeded its progress deadline");
      for (const p of podsOf("stuck")) await markReady(p);
    } finally {
      manual = false;
    }
    const done = await waitComplete("stuck", 2);
    await waitFor("NewReplicaSetAvailable", async () =>
      (await getDeployment("stuck")).status?.conditions?.some(
        (c) => c.type === "Progressing" && c.reason === "NewReplicaSetAvailable",
      ),
    );
    expect(done.status?.availableReplicas).toBe(2);
  });

  it("a ReplicaSet adopts a matching orphan pod and releases one that stops matching", async () => {
    const orphan = await client.create<Pod>(
      { ...R.pods, namespace: NS },
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "orphan-1", labels: { app: "adopt" } },
        spec: { containers: [{ name: "c", image: "busybox" }] },
      },
    );
    const rs = await client.create<ReplicaSet>(
      { ...R.replicasets, namespace: NS },
      {
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        metadata: { name: "adopter" },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: "adopt" } },
          template: {
            metadata: { labels: { app: "adopt" } },
            spec: { containers: [{ name: "c", image: "busybox" }] },
          },
        },
      },
    );
    const adopted = await waitFor("adoption", async () => {
      const p = await client.get<Pod>({ ...R.pods, namespace: NS, name: "orphan-1" });
      return p.metadata.ownerReferences?.some((r) => r.uid === rs.metadata.uid && r.controller)
        ? p
        : undefined;
    });
    expect(adopted.metadata.uid).toBe(orphan.metadata.uid);
    await waitFor("2 pods for the RS", async () => {
      const s = (await client.get<ReplicaSet>({ ...R.replicasets, namespace: NS, name: "adopter" })).status;
      return podsOf("adopt").length === 2 && s?.replicas === 2 && s.readyReplicas === 2;
    });
    await sleep(300);
    // the RS created only one pod of its own
    expect(podsOf("adopt").filter((p) => p.metadata.name!.startsWith("adopter-"))).toHaveLength(1);

    // relabel: released, and replaced
    await client.patch(
      { ...R.pods, namespace: NS, name: "orphan-1" },
      { metadata: { labels: { app: "gone" } } },
      { type: "merge" },
    );
    const released = await waitFor("release", async () => {
      const p = await client.get<Pod>({ ...R.pods, namespace: NS, name: "orphan-1" });
      return (p.metadata.ownerReferences ?? []).length === 0 ? p : undefined;
    });
    expect(released.metadata.labels?.app).toBe("gone");
    await waitFor(
      "replacement",
      () =>
        podsOf("adopt").length === 2 && podsOf("adopt").every((p) => p.metadata.name!.startsWith("adopter-")),
    );
  });

  it("scale-down deletes unready pods first, and status counts follow", async () => {
    manual = true;
    try {
      await client.patch(
        { ...R.replicasets, namespace: NS, name: "adopter" },
        { spec: { replicas: 4 } },
        { type: "merge" },
      );
      await waitFor("4 pods", () => podsOf("adopt").length === 4);
      const unready = podsOf("adopt")
        .filter((p) => !isReady(p))
        .map((p) => p.metadata.name);
      expect(unready).toHaveLength(2);
      const s = await waitFor("status 4/2", async () => {
        const st = (await client.get<ReplicaSet>({ ...R.replicasets, namespace: NS, name: "adopter" }))
          .status;
        return st?.replicas === 4 && st.readyReplicas === 2 ? st : undefined;
      });
      expect(s.availableReplicas).toBe(2);
      await client.patch(
        { ...R.replicasets, namespace: NS, name: "adopter" },
        { spec: { replicas: 2 } },
        { type: "merge" },
      );
      await waitFor("2 pods", () => podsOf("adopt").length === 2);
      expect(podsOf("adopt").every(isReady)).toBe(true);
      expect(podsOf("adopt").some((p) => unready.includes(p.metadata.name))).toBe(false);
    } finally {
      manual = false;
    }
  });

  it("deleting a Deployment removes its ReplicaSets and pods through ownerReferences (with the garbage collector)", async (ctx) => {
    const { allControllers } = await import("../controllers/registry.js");
    if (!allControllers().some((c) => c.name === "garbagecollector")) {
      ctx.skip("the garbagecollector controller is not registered");
      return;
    }
    const { silentLogger } = await import("../cli/logger.js");
    const { run } = await import("../controllers/manager.js");
    const gc = await run({
      kubeconfig: api.kubeconfig,
      controllers: ["garbagecollector"],
      bindAddress: "",
      logger: silentLogger(),
    });
    try {
      expect(podsOf("web").length).toBeGreaterThan(0);
      await client.delete({ ...R.deployments, namespace: NS, name: "web" });
      await waitFor(
        "ReplicaSets and pods of web gone",
        async () => (await rsOf("web")).length === 0 && podsOf("web").length === 0,
        30_000,
      );
    } finally {
      await gc.stop();
    }
  });
});
