/**
 * The scheduler against a real apiserver child process, with fake Nodes registered through the
 * API (no kubelet): spreading within capacity, taints and tolerations, nodeSelector and node
 * affinity, an impossible pod's PodScheduled condition and FailedScheduling Event (also as shown
 * by the real `kubectl describe pod`), and the retry when a big enough node is added.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../api/object.js";
import { silentLogger } from "../cli/logger.js";
import { loadClusterConnection, R, RestClient } from "../client/index.js";
import { type RunningScheduler, run } from "../scheduler/scheduler.js";
import type { Pod } from "../scheduler/types.js";
import { type ApiserverProcess, builtCliMissing, startApiserver } from "./helpers/apiserver.js";
import { kubectl, missingKubectl } from "./helpers/kubectl.js";
import { registerFakeNode } from "./helpers/scheduler-nodes.js";

const KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.27";
const NS = "default";
const TAINT = { key: "dedicated", value: "special", effect: "NoSchedule" };
const IMPOSSIBLE_MESSAGE =
  "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: special}, 2 Insufficient cpu. " +
  "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.";

const skip = builtCliMissing();

interface EventObj extends KubeObject {
  involvedObject?: { name?: string; kind?: string };
  reason?: string;
  message?: string;
  type?: string;
  source?: { component?: string };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

describe.skipIf(!!skip)("scheduler end to end", () => {
  let api: ApiserverProcess;
  let client: RestClient;
  let sched: RunningScheduler;

  const pods = () => client.list<Pod>({ ...R.pods, namespace: NS }).then((l) => l.items);
  const getPod = (name: string) => client.get<Pod>({ ...R.pods, namespace: NS, name });
  const nodeOf = (name: string) =>
    waitFor(`pod ${name} to be bound`, async () => (await getPod(name)).spec?.nodeName || undefined);

  const createPod = (
    name: string,
    opts: {
      cpu?: string;
      tolerations?: unknown[];
      nodeSelector?: Record<string, string>;
      affinity?: unknown;
      schedulerName?: string;
    } = {},
  ) =>
    client.create<Pod>({ ...R.pods, namespace: NS }, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: NS },
      spec: {
        containers: [
          {
            name: "app",
            image: "registry.k8s.io/pause:3.9",
            resources: { requests: { cpu: opts.cpu ?? "10m", memory: "64Mi" } },
          },
        ],
        ...(opts.tolerations ? { tolerations: opts.tolerations } : {}),
        ...(opts.nodeSelector ? { nodeSelector: opts.nodeSelector } : {}),
        ...(opts.affinity ? { affinity: opts.affinity } : {}),
        ...(opts.schedulerName ? { schedulerName: opts.schedulerName } : {}),
      },
    } as Pod);

  beforeAll(async () => {
    api = await startApiserver();
    client = new RestClient(loadClusterConnection({ kubeconfig: api.kubeconfig }), {
      component: "scheduler-e2e",
    });
    await registerFakeNode(client, "node-a", { labels: { zone: "z1" } });
    await registerFakeNode(client, "node-b", { labels: { zone: "z2", disk: "ssd" } });
    await registerFakeNode(client, "node-c", { labels: { zone: "z3" }, taints: [TAINT] });
    sched = await run({ kubeconfig: api.kubeconfig, bindAddress: "127.0.0.1:0", logger: silentLogger() });
  });

  afterAll(async () => {
    await sched?.stop();
    await client?.close();
    await api?.stop();
  });

  it("spreads pods over the untainted nodes within their capacity", async () => {
    for (let i = 0; i < 5; i++) await createPod(`web-${i}`, { cpu: "600m" });
    const placed: Record<string, number> = {};
    for (let i = 0; i < 5; i++) {
      const node = await nodeOf(`web-${i}`);
      placed[node] = (placed[node] ?? 0) + 1;
    }
    expect(Object.keys(placed).sort()).toEqual(["node-a", "node-b"]);
    for (const n of Object.values(placed)) expect(n).toBeLessThanOrEqual(3);
    // one 600m slot is left (3 per 2-cpu node); the next pod takes it
    await createPod("web-5", { cpu: "600m" });
    expect(["node-a", "node-b"]).toContain(await nodeOf("web-5"));
    const bound = (await pods()).filter((p) => p.metadata.name?.startsWith("web-"));
    const perNode = new Map<string, number>();
    for (const p of bound) perNode.set(p.spec!.nodeName!, (perNode.get(p.spec!.nodeName!) ?? 0) + 1);
    expect([...perNode.values()].sort()).toEqual([3, 3]);
    const p0 = await getPod("web-0");
    expect(p0.status?.conditions?.find((c) => c.type === "PodScheduled")?.status).toBe("True");
  });

  it("emits a Scheduled event for a bound pod", async () => {
    const node = await nodeOf("web-0");
    const ev = await waitFor("Scheduled event", async () => {
      const list = await client.list<EventObj>({ ...R.events, namespace: NS });
      return list.items.find((e) => e.involvedObject?.name === "web-0" && e.reason === "Scheduled");
    });
    expect(ev.type).toBe("Normal");
    expect(ev.message).toBe(`Successfully assigned ${NS}/web-0 to ${node}`);
    expect(ev.source?.component).toBe("default-scheduler");
  });

  it("puts a pod tolerating the taint on the tainted node", async () => {
    await createPod("tolerant", {
      cpu: "600m", // node-a and node-b are full
      tolerations: [{ key: "dedicated", operator: "Equal", value: "special", effect: "NoSchedule" }],
    });
    expect(await nodeOf("tolerant")).toBe("node-c");
  });

  it("respects nodeSelector and required node affinity", async () => {
    await createPod("by-selector", { nodeSelector: { zone: "z1" } });
    await createPod("by-affinity", {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: "disk", operator: "In", values: ["ssd"] }] }],
          },
        },
      },
    });
    await createPod("by-field", {
      tolerations: [{ key: "dedicated", operator: "Exists" }],
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              { matchFields: [{ key: "metadata.name", operator: "In", values: ["node-c"] }] },
            ],
          },
        },
      },
    });
    expect(await nodeOf("by-selector")).toBe("node-a");
    expect(await nodeOf("by-affinity")).toBe("node-b");
    expect(await nodeOf("by-field")).toBe("node-c");
  });

  it("leaves pods for other schedulers alone", async () => {
    await createPod("other-scheduler", { schedulerName: "someone-else" });
    await new Promise((r) => setTimeout(r, 500));
    const p = await getPod("other-scheduler");
    expect(p.spec?.nodeName ?? "").toBe("");
    expect(p.status?.conditions ?? []).toEqual([]);
  });

  it("marks an impossible pod Unschedulable with upstream's FailedScheduling message", async () => {
    await createPod("huge", { cpu: "100" });
    const cond = await waitFor("PodScheduled=False", async () => {
      const p = await getPod("huge");
      const c = p.status?.conditions?.find((x) => x.type === "PodScheduled");
      return c?.status === "False" ? c : undefined;
    });
    expect(cond.reason).toBe("Unschedulable");
    expect(cond.message).toBe(IMPOSSIBLE_MESSAGE);
    expect((await getPod("huge")).spec?.nodeName ?? "").toBe("");
    const ev = await waitFor("FailedScheduling event", async () => {
      const list = await client.list<EventObj>({ ...R.events, namespace: NS });
      return list.items.find((e) => e.involvedObject?.name === "huge" && e.reason === "FailedScheduling");
    });
    expect(ev.type).toBe("Warning");
    expect(ev.message).toMatch(/^0\/3 nodes are available: (\d+ [^,]+)(, \d+ [^,]+)*\./);
    expect(ev.message).toBe(IMPOSSIBLE_MESSAGE);
    expect(ev.source?.component).toBe("default-scheduler");
  });

  it.skipIf(!!missingKubectl(KUBECTL))(
    "shows the FailedScheduling reason in kubectl describe pod",
    async () => {
      const k = kubectl(KUBECTL, join(api.dataDir, "admin.kubeconfig"));
      const { stdout } = await k(["describe", "pod", "huge", "-n", NS]);
      expect(stdout).toMatch(/Status:\s+Pending/);
      expect(stdout).toMatch(/PodScheduled\s+False/);
      const events = stdout.slice(stdout.indexOf("Events:"));
      expect(events).toMatch(
        /Warning\s+FailedScheduling\s+.*default-scheduler\s+0\/3 nodes are available: 1 node\(s\) had untolerated taint \{dedicated: special\}, 2 Insufficient cpu\./,
      );
    },
  );

  it("binds the pending pod once a big enough node is added", async () => {
    await registerFakeNode(client, "node-big", { cpu: "128", memory: "256Gi" });
    expect(await nodeOf("huge")).toBe("node-big");
    const p = await getPod("huge");
    expect(p.status?.conditions?.find((c) => c.type === "PodScheduled")?.status).toBe("True");
  });

  it("retries a pod that is unschedulable for lack of room when a pod is deleted", async () => {
    // node-a and node-b hold 1800m each; node-c 600m+10m; node-big 100 cpu of 128
    await createPod("needs-a", { cpu: "1", nodeSelector: { zone: "z1" } });
    await waitFor("needs-a unschedulable", async () => {
      const c = (await getPod("needs-a")).status?.conditions?.find((x) => x.type === "PodScheduled");
      return c?.status === "False" ? c : undefined;
    });
    const onA = (await pods()).filter(
      (p) => p.spec?.nodeName === "node-a" && p.metadata.name?.startsWith("web-"),
    );
    await client.delete(
      { ...R.pods, namespace: NS, name: onA[0]!.metadata.name! },
      { gracePeriodSeconds: 0 },
    );
    await client.delete(
      { ...R.pods, namespace: NS, name: onA[1]!.metadata.name! },
      { gracePeriodSeconds: 0 },
    );
    expect(await nodeOf("needs-a")).toBe("node-a");
  });

  it("with --leader-elect, schedules only while holding the kube-system/kube-scheduler Lease", async () => {
    const le = await run({
      kubeconfig: api.kubeconfig,
      schedulerName: "le-scheduler",
      leaderElect: true,
      bindAddress: "",
      logger: silentLogger(),
    });
    try {
      const lease = await waitFor("the Lease to be held", async () => {
        const l = await client.get<KubeObject & { spec?: { holderIdentity?: string } }>({
          group: "coordination.k8s.io",
          version: "v1",
          resource: "leases",
          namespace: "kube-system",
          name: "kube-scheduler",
        });
        return l.spec?.holderIdentity ? l : undefined;
      });
      expect(lease.spec?.holderIdentity).toMatch(/_/);
      await createPod("elected", { schedulerName: "le-scheduler" });
      expect(await nodeOf("elected")).toBeTruthy();
    } finally {
      await le.stop();
    }
    const released = await client.get<KubeObject & { spec?: { holderIdentity?: string } }>({
      group: "coordination.k8s.io",
      version: "v1",
      resource: "leases",
      namespace: "kube-system",
      name: "kube-scheduler",
    });
    expect(released.spec?.holderIdentity ?? "").toBe("");
  });

  it("retries a failed bind with backoff and says why in a FailedScheduling event", async () => {
    let calls = 0;
    const flaky = await run({
      kubeconfig: api.kubeconfig,
      schedulerName: "flaky-scheduler",
      bindAddress: "",
      logger: silentLogger(),
      bindHook: async (_pod, _node, bind) => {
        if (++calls === 1) throw new Error("injected bind failure");
        await bind();
      },
    });
    try {
      const t0 = Date.now();
      await createPod("flaky", { schedulerName: "flaky-scheduler" });
      const ev = await waitFor("bind failure event", async () => {
        const list = await client.list<EventObj>({ ...R.events, namespace: NS });
        return list.items.find((e) => e.involvedObject?.name === "flaky" && e.reason === "FailedScheduling");
      });
      expect(ev.message).toBe("Binding rejected: injected bind failure");
      expect(await nodeOf("flaky")).toBeTruthy();
      expect(calls).toBe(2);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(900); // the 1 s backoff
    } finally {
      await flaky.stop();
    }
  });

  it("serves scheduler metrics", async () => {
    const res = await fetch(`http://127.0.0.1:${sched.port}/metrics`);
    const text = await res.text();
    const value = (result: string) =>
      Number(
        new RegExp(
          `scheduler_schedule_attempts_total\\{result="${result}",profile="default-scheduler"\\} (\\d+)`,
        ).exec(text)?.[1],
      );
    expect(value("scheduled")).toBeGreaterThanOrEqual(11);
    expect(value("unschedulable")).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(
      /scheduler_scheduling_attempt_duration_seconds_bucket\{le="[^"]+",result="scheduled",profile="default-scheduler"\}/,
    );
    expect(text).toMatch(/scheduler_pending_pods\{queue="unschedulable"\} \d+/);
    const health = await fetch(`http://127.0.0.1:${sched.port}/healthz`);
    expect(health.status).toBe(200);
  });
});
