/**
 * Issue 3's acceptance run: the apiserver, the scheduler and the controller-manager together,
 * with fake nodes (test/helpers/fake-nodes.ts) playing kubelet, driven by real kubectl.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../api/object.js";
import { createLogger } from "../cli/logger.js";
import { loadClusterConnection, RestClient } from "../client/index.js";
import { run as runControllerManager } from "../controllers/manager.js";
import { run as runScheduler } from "../scheduler/scheduler.js";
import { type ApiserverProcess, builtCliMissing, startApiserver } from "./helpers/apiserver.js";
import { type FakeNodes, startFakeNodes } from "./helpers/fake-nodes.js";
import { KUBECTLS, kubectl, missingKubectl } from "./helpers/kubectl.js";
import { waitUntil } from "./helpers/net.js";

const KUBECTL = KUBECTLS[1]!.path;
const missing = builtCliMissing() ?? missingKubectl(KUBECTL);

const PODS = { group: "", version: "v1", resource: "pods" };
const SLICES = { group: "discovery.k8s.io", version: "v1", resource: "endpointslices" };
const NODES = { group: "", version: "v1", resource: "nodes" };

const deployment = (image: string) => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 5
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 1}}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: ${image}
        ports: [{name: http, containerPort: 8080}]
        resources: {requests: {cpu: 400m, memory: 64Mi}}
`;

type Pod = KubeObject & {
  spec: { nodeName?: string };
  status?: { podIP?: string; conditions?: { type: string; status: string }[] };
};

describe.skipIf(!!missing)(
  `control plane: scheduler + controller-manager + fake nodes${missing ? ` (skipped: ${missing})` : ""}`,
  () => {
    let api: ApiserverProcess;
    let client: RestClient;
    let nodes: FakeNodes;
    let stopScheduler: () => Promise<void>;
    let stopControllers: () => Promise<void>;
    let k: ReturnType<typeof kubectl>;

    const pods = async (selector: string) =>
      (await client.list<Pod>({ ...PODS, namespace: "default" }, { labelSelector: selector })).items.filter(
        (p) => !p.metadata.deletionTimestamp,
      );
    const sliceAddresses = async (service: string) => {
      const slices = await client.list<KubeObject>(
        { ...SLICES, namespace: "default" },
        { labelSelector: `kubernetes.io/service-name=${service}` },
      );
      return slices.items
        .flatMap(
          (s) => (s.endpoints as { addresses: string[]; conditions: { ready: boolean } }[] | undefined) ?? [],
        )
        .filter((e) => e.conditions.ready)
        .map((e) => e.addresses[0]!)
        .sort();
    };
    const readyIPs = async (selector: string) =>
      (await pods(selector))
        .filter(
          (p) =>
            p.status?.podIP && p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
        )
        .map((p) => p.status!.podIP!)
        .sort();

    beforeAll(async () => {
      api = await startApiserver();
      client = new RestClient(loadClusterConnection({ kubeconfig: api.kubeconfig }), { component: "e2e" });
      k = kubectl(KUBECTL, api.kubeconfig);
      const controllers = await runControllerManager({
        kubeconfig: api.kubeconfig,
        bindAddress: "",
        clusterCIDR: "10.244.0.0/16",
        nodeMonitorGracePeriodMs: 4000,
        nodeMonitorPeriodMs: 500,
        logger: createLogger("controller-manager", "warn"),
      });
      stopControllers = controllers.stop;
      const scheduler = await runScheduler({
        kubeconfig: api.kubeconfig,
        bindAddress: "",
        logger: createLogger("scheduler", "warn"),
      });
      stopScheduler = scheduler.stop;
      nodes = await startFakeNodes(client, ["n1", "n2", "n3"], {
        cpu: "1",
        memory: "4Gi",
        leaseRenewMs: 1000,
      });
      await nodes.addNode("tainted", {
        cpu: "8",
        memory: "16Gi",
        taints: [{ key: "dedicated", value: "db", effect: "NoSchedule" }],
        leaseRenewMs: 1000,
      });
    });

    afterAll(async () => {
      await nodes?.close();
      await stopScheduler?.();
      await stopControllers?.();
      await client?.close();
      await api?.stop();
    });

    it("spreads a 5-replica Deployment over the nodes within capacity and taints", async () => {
      await k(["apply", "-f", "-"], { input: deployment("nginx:1.25") });
      const bound = await waitUntil(
        async () => {
          const list = await pods("app=web");
          return list.length === 5 && list.every((p) => p.spec.nodeName) ? list : undefined;
        },
        30_000,
        "5 bound web pods",
      );
      const perNode = new Map<string, number>();
      for (const p of bound) perNode.set(p.spec.nodeName!, (perNode.get(p.spec.nodeName!) ?? 0) + 1);
      expect(perNode.has("tainted")).toBe(false);
      expect([...perNode.values()].every((n) => n <= 2)).toBe(true);
      expect(perNode.size).toBe(3);
    });

    it("rolls out a new image within maxSurge/maxUnavailable and kubectl rollout status completes", async () => {
      await waitUntil(
        async () => ((await readyIPs("app=web")).length === 5 ? true : undefined),
        30_000,
        "5 ready pods",
      );
      let maxPods = 0;
      let minReady = 5;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const list = await pods("app=web");
          maxPods = Math.max(maxPods, list.length);
          minReady = Math.min(minReady, (await readyIPs("app=web")).length);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      await k(["apply", "-f", "-"], { input: deployment("nginx:1.27") });
      const status = await k(["rollout", "status", "deployment/web", "--timeout=90s"], {
        timeoutMs: 100_000,
      });
      sampling = false;
      await sampler;
      expect(status.stdout).toContain('deployment "web" successfully rolled out');
      expect(maxPods).toBeLessThanOrEqual(6);
      expect(minReady).toBeGreaterThanOrEqual(4);
      const images = (await pods("app=web")).map(
        (p) => (p.spec as { containers: { image: string }[] }).containers[0]!.image,
      );
      expect(new Set(images)).toEqual(new Set(["nginx:1.27"]));
    });

    it("kubectl scale changes the pod count", async () => {
      await k(["scale", "deployment", "web", "--replicas=3"]);
      await waitUntil(
        async () => ((await pods("app=web")).length === 3 ? true : undefined),
        30_000,
        "3 web pods",
      );
    });

    it("EndpointSlices list exactly the ready pods and follow a readiness flip within 1 s", async () => {
      await k(["apply", "-f", "-"], {
        input:
          "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec:\n  selector: {app: web}\n  ports: [{name: http, port: 80, targetPort: http}]\n",
      });
      await waitUntil(
        async () => {
          const [a, b] = [await sliceAddresses("web"), await readyIPs("app=web")];
          return a.length === 3 && JSON.stringify(a) === JSON.stringify(b) ? true : undefined;
        },
        15_000,
        "the slice to list the 3 ready pods",
      );
      const endpoints = (await k(["get", "endpoints", "web"])).stdout;
      expect(endpoints).toMatch(/:8080/);
      const victim = (await pods("app=web"))[0]!;
      const flipped = Date.now();
      await nodes.setPodStatus("default", victim.metadata.name!, { ready: false });
      await waitUntil(
        async () => (!(await sliceAddresses("web")).includes(victim.status!.podIP!) ? true : undefined),
        5_000,
        "the unready pod to leave the slice",
      );
      expect(Date.now() - flipped).toBeLessThan(1000);
    });

    it("a DaemonSet runs one pod per eligible node and follows a node added later", async () => {
      await k(["apply", "-f", "-"], {
        input:
          "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: default}\nspec:\n  selector: {matchLabels: {app: agent}}\n  template:\n    metadata: {labels: {app: agent}}\n    spec:\n      containers: [{name: agent, image: busybox}]\n",
      });
      await waitUntil(
        async () =>
          (await pods("app=agent")).filter((p) => p.spec.nodeName).length === 3 ? true : undefined,
        30_000,
        "3 agent pods",
      );
      expect((await pods("app=agent")).some((p) => p.spec.nodeName === "tainted")).toBe(false);
      await nodes.addNode("n4", { cpu: "1", memory: "4Gi", leaseRenewMs: 1000 });
      await waitUntil(
        async () => ((await pods("app=agent")).some((p) => p.spec.nodeName === "n4") ? true : undefined),
        30_000,
        "an agent pod on n4",
      );
    });

    it("a node whose Lease stops turns NotReady and its pods leave the slices", async () => {
      const onN1 = (await pods("app=web"))
        .filter((p) => p.spec.nodeName === "n1" && p.status?.podIP)
        .map((p) => p.status!.podIP!);
      nodes.stop("n1");
      await waitUntil(
        async () => {
          const node = await client.get<KubeObject>({ ...NODES, name: "n1" });
          const ready = (
            (node.status as { conditions?: { type: string; status: string }[] })?.conditions ?? []
          ).find((c) => c.type === "Ready");
          return ready?.status === "Unknown" ? true : undefined;
        },
        20_000,
        "n1 to become Ready=Unknown",
      );
      const nodeList = (await k(["get", "nodes"])).stdout;
      expect(nodeList).toMatch(/^n1\s+NotReady/m);
      await waitUntil(
        async () => {
          const addrs = await sliceAddresses("web");
          return onN1.every((ip) => !addrs.includes(ip)) ? true : undefined;
        },
        20_000,
        "n1's pods to leave the slice",
      );
    });

    it("an impossible pod shows the FailedScheduling reason in kubectl describe", async () => {
      await k(["apply", "-f", "-"], {
        input:
          "apiVersion: v1\nkind: Pod\nmetadata: {name: huge, namespace: default}\nspec:\n  containers: [{name: c, image: busybox, resources: {requests: {cpu: '100'}}}]\n",
      });
      const described = await waitUntil(
        async () => {
          const out = (await k(["describe", "pod", "huge"])).stdout;
          return /FailedScheduling/.test(out) ? out : undefined;
        },
        20_000,
        "FailedScheduling in describe",
      );
      expect(described).toMatch(/0\/\d+ nodes are available:.*Insufficient cpu/);
    });

    it("deleting the Deployment removes its ReplicaSets and pods", async () => {
      // n1's kubelet comes back, so pods on it can finish their graceful deletion
      await nodes.resume("n1");
      await k(["delete", "deployment", "web"]);
      await waitUntil(
        async () => {
          const rs = await client.list<KubeObject>(
            { group: "apps", version: "v1", resource: "replicasets", namespace: "default" },
            { labelSelector: "app=web" },
          );
          const left = await client.list<KubeObject>(
            { ...PODS, namespace: "default" },
            { labelSelector: "app=web" },
          );
          return rs.items.length === 0 && left.items.length === 0 ? true : undefined;
        },
        30_000,
        "ReplicaSets and pods to be gone",
      );
    });
  },
);
