/**
 * EndpointSlice and Endpoints controllers end to end: a real apiserver child, the
 * controller-manager in-process, and this test playing kubelet (pods with spec.nodeName whose
 * status it patches through pods/status). Checks the slices and the legacy Endpoints list exactly
 * the right pods and ports, follow a readiness flip within 1 s, split at 100 endpoints, report
 * terminating pods, honour publishNotReadyAddresses, and go away with their Service.
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
const NS = "es-e2e";
const KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.27";

interface Endpoint {
  addresses: string[];
  conditions: { ready?: boolean; serving?: boolean; terminating?: boolean };
  nodeName?: string;
  zone?: string;
  hostname?: string;
  targetRef?: { kind: string; name: string; namespace: string; uid: string };
}
interface Slice extends KubeObject {
  addressType: string;
  endpoints?: Endpoint[] | null;
  ports?: { name?: string; port: number; protocol?: string }[] | null;
}
interface Address {
  ip: string;
  nodeName?: string;
  hostname?: string;
  targetRef?: { name: string };
}
interface EndpointsObj extends KubeObject {
  subsets?: {
    addresses?: Address[];
    notReadyAddresses?: Address[];
    ports?: { name?: string; port: number; protocol?: string }[];
  }[];
}

function ts(d = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

describe.skipIf(skip)(
  "EndpointSlice and Endpoints controllers (real apiserver, in-process controller-manager)",
  () => {
    let api: ApiserverProcess;
    let cm: RunningControllerManager;
    let client: RestClient;
    let ipSeq = 10;

    const slicesOf = async (svc: string): Promise<Slice[]> =>
      (
        await client.list<Slice>(
          { ...R.endpointslices, namespace: NS },
          { labelSelector: `kubernetes.io/service-name=${svc}` },
        )
      ).items;
    const endpointsOf = async (svc: string): Promise<EndpointsObj | undefined> => {
      try {
        return await client.get<EndpointsObj>({ ...R.endpoints, namespace: NS, name: svc });
      } catch {
        return undefined;
      }
    };
    const allEndpoints = (slices: Slice[]) => slices.flatMap((s) => s.endpoints ?? []);
    const epFor = (slices: Slice[], pod: string) =>
      allEndpoints(slices).find((e) => e.targetRef?.name === pod);

    async function createService(name: string, spec: Record<string, unknown>): Promise<KubeObject> {
      return client.create(
        { ...R.services, namespace: NS },
        {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name, namespace: NS, labels: { tier: "test" } },
          spec,
        },
      );
    }

    async function createPod(
      name: string,
      labels: Record<string, string>,
      opts: { httpPort?: number; hostname?: string; subdomain?: string } = {},
    ): Promise<void> {
      await client.create(
        { ...R.pods, namespace: NS },
        {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name, namespace: NS, labels },
          spec: {
            nodeName: "node-a",
            ...(opts.hostname ? { hostname: opts.hostname, subdomain: opts.subdomain } : {}),
            containers: [
              {
                name: "app",
                image: "registry.k8s.io/pause:3.9",
                ports: [{ name: "http", containerPort: opts.httpPort ?? 8080 }],
              },
            ],
          },
        },
      );
    }

    /** the test's kubelet: Running with an IP, Ready per `ready` */
    async function setPodStatus(name: string, ready: boolean, ip?: string): Promise<string> {
      const podIP = ip ?? `10.244.${Math.floor(ipSeq / 250)}.${(ipSeq % 250) + 1}`;
      if (!ip) ipSeq++;
      const now = ts();
      await client.patch(
        { ...R.pods, namespace: NS, name, subresource: "status" },
        {
          status: {
            phase: "Running",
            podIP,
            podIPs: [{ ip: podIP }],
            conditions: [
              { type: "Ready", status: ready ? "True" : "False", lastTransitionTime: now },
              { type: "ContainersReady", status: ready ? "True" : "False", lastTransitionTime: now },
            ],
          },
        },
        { type: "merge" },
      );
      return podIP;
    }

    const podIPs = new Map<string, string>();

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
        component: "endpointslice-e2e",
      });
      await client.create(R.namespaces, { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
      await client.create(R.nodes, {
        apiVersion: "v1",
        kind: "Node",
        metadata: {
          name: "node-a",
          labels: { "kubernetes.io/hostname": "node-a", "topology.kubernetes.io/zone": "zone-a" },
        },
        spec: {},
      });
      await createService("web", {
        selector: { app: "web" },
        ports: [
          { name: "http", port: 80, targetPort: "http", protocol: "TCP" },
          { name: "metrics", port: 9100, targetPort: 9100, protocol: "TCP" },
        ],
      });
      for (const [name, ready] of [
        ["web-0", true],
        ["web-1", true],
        ["web-2", false],
      ] as const) {
        await createPod(name, { app: "web" }, name === "web-0" ? { hostname: "zero", subdomain: "web" } : {});
        podIPs.set(name, await setPodStatus(name, ready));
      }
      // a pod of the service without an IP yet (not scheduled/started): never an endpoint
      await createPod("web-noip", { app: "web" });
    }, 120_000);

    afterAll(async () => {
      await cm?.stop();
      await client?.close();
      await api?.stop();
    });

    it("lists the service's pods with resolved ports, conditions, node, zone, hostname and labels", async () => {
      const slices = await until("web slices with 3 endpoints", async () => {
        const s = await slicesOf("web");
        return allEndpoints(s).length === 3 && epFor(s, "web-2") ? s : undefined;
      });
      expect(slices).toHaveLength(1);
      const s = slices[0]!;
      expect(s.addressType).toBe("IPv4");
      expect(s.metadata.labels).toMatchObject({
        "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
        tier: "test",
      });
      expect(s.metadata.ownerReferences?.[0]).toMatchObject({
        kind: "Service",
        name: "web",
        controller: true,
      });
      expect(
        Date.parse(s.metadata.annotations?.["endpoints.kubernetes.io/last-change-trigger-time"] ?? ""),
      ).toBeGreaterThan(0);
      expect(s.ports?.map((p) => [p.name, p.port, p.protocol]).sort()).toEqual([
        ["http", 8080, "TCP"],
        ["metrics", 9100, "TCP"],
      ]);
      const web0 = epFor(slices, "web-0")!;
      expect(web0).toMatchObject({
        addresses: [podIPs.get("web-0")],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: "node-a",
        zone: "zone-a",
        hostname: "zero",
        targetRef: { kind: "Pod", name: "web-0", namespace: NS },
      });
      expect(epFor(slices, "web-1")!.hostname).toBeUndefined();
      expect(epFor(slices, "web-2")!.conditions).toEqual({
        ready: false,
        serving: false,
        terminating: false,
      });
      expect(epFor(slices, "web-noip")).toBeUndefined();
    });

    it("the legacy Endpoints splits ready and not-ready addresses", async () => {
      const ep = await until("web endpoints", async () => {
        const e = await endpointsOf("web");
        return e?.subsets?.[0]?.addresses?.length === 2 ? e : undefined;
      });
      expect(ep.subsets).toHaveLength(1);
      const sub = ep.subsets![0]!;
      expect(sub.addresses!.map((a) => a.targetRef?.name).sort()).toEqual(["web-0", "web-1"]);
      expect(sub.addresses!.find((a) => a.targetRef?.name === "web-0")).toMatchObject({
        ip: podIPs.get("web-0"),
        nodeName: "node-a",
        hostname: "zero",
      });
      expect(sub.notReadyAddresses!.map((a) => a.ip)).toEqual([podIPs.get("web-2")]);
      expect(sub.ports!.map((p) => [p.name, p.port]).sort()).toEqual([
        ["http", 8080],
        ["metrics", 9100],
      ]);
      expect(ep.metadata.labels).toMatchObject({ tier: "test" });
      expect(
        Date.parse(ep.metadata.annotations?.["endpoints.kubernetes.io/last-change-trigger-time"] ?? ""),
      ).toBeGreaterThan(0);
    });

    it("kubectl get endpoints shows the ready addresses", async (ctx) => {
      const missing = missingKubectl(KUBECTL);
      if (missing) ctx.skip(missing);
      const out = await kubectl(KUBECTL, api.kubeconfig)(["get", "endpoints", "web", "-n", NS]);
      expect(out.stdout).toContain(`${podIPs.get("web-0")}:`);
      expect(out.stdout).toMatch(/^web\s+/m);
    });

    it("makes no writes when nothing changed", async () => {
      const before = (await slicesOf("web")).map((s) => s.metadata.resourceVersion);
      const epBefore = (await endpointsOf("web"))?.metadata.resourceVersion;
      await new Promise((r) => setTimeout(r, 1500));
      expect((await slicesOf("web")).map((s) => s.metadata.resourceVersion)).toEqual(before);
      expect((await endpointsOf("web"))?.metadata.resourceVersion).toBe(epBefore);
    });

    it("reflects a readiness flip within 1 s in both the slice and the Endpoints", async () => {
      const t0 = performance.now();
      await setPodStatus("web-2", true, podIPs.get("web-2"));
      let sliceMs = 0;
      let endpointsMs = 0;
      await until(
        "web-2 ready in slice and endpoints",
        async () => {
          if (!sliceMs && epFor(await slicesOf("web"), "web-2")?.conditions.ready === true)
            sliceMs = performance.now() - t0;
          if (
            !endpointsMs &&
            (await endpointsOf("web"))?.subsets?.[0]?.addresses?.some((a) => a.targetRef?.name === "web-2")
          )
            endpointsMs = performance.now() - t0;
          return sliceMs > 0 && endpointsMs > 0;
        },
        5000,
        10,
      );
      console.log(
        `readiness flip -> EndpointSlice ${sliceMs.toFixed(0)} ms, Endpoints ${endpointsMs.toFixed(0)} ms`,
      );
      expect(sliceMs).toBeLessThan(1000);
      expect(endpointsMs).toBeLessThan(1000);
      // and back
      const t1 = performance.now();
      await setPodStatus("web-2", false, podIPs.get("web-2"));
      await until(
        "web-2 unready again",
        async () => epFor(await slicesOf("web"), "web-2")?.conditions.ready === false,
        5000,
        10,
      );
      expect(performance.now() - t1).toBeLessThan(1000);
    });

    it("resolves a named targetPort per pod: a pod with another http port gets its own slice", async () => {
      await createPod("web-alt", { app: "web" }, { httpPort: 8081 });
      podIPs.set("web-alt", await setPodStatus("web-alt", true));
      const slices = await until("slice for port 8081", async () => {
        const s = await slicesOf("web");
        return s.length === 2 && epFor(s, "web-alt") ? s : undefined;
      });
      const alt = slices.find((s) => s.endpoints?.some((e) => e.targetRef?.name === "web-alt"))!;
      expect(alt.endpoints).toHaveLength(1);
      expect(alt.ports?.find((p) => p.name === "http")?.port).toBe(8081);
      const ep = await until("endpoints with 2 subsets", async () => {
        const e = await endpointsOf("web");
        return e?.subsets?.length === 2 ? e : undefined;
      });
      const altSubset = ep.subsets!.find((s) => s.addresses?.some((a) => a.targetRef?.name === "web-alt"))!;
      expect(altSubset.ports!.find((p) => p.name === "http")!.port).toBe(8081);
      await client.delete({ ...R.pods, namespace: NS, name: "web-alt" }, { gracePeriodSeconds: 0 });
      await until("alt slice gone", async () => (await slicesOf("web")).length === 1);
    });

    it("terminating pods stay in the slice with terminating=true, serving per readiness, and leave the Endpoints", async () => {
      await client.delete({ ...R.pods, namespace: NS, name: "web-1" }, { gracePeriodSeconds: 60 });
      const ep = await until("web-1 terminating", async () => {
        const e = epFor(await slicesOf("web"), "web-1");
        return e?.conditions.terminating ? e : undefined;
      });
      expect(ep.conditions).toEqual({ ready: false, serving: true, terminating: true });
      await until("web-1 out of the Endpoints", async () => {
        const e = await endpointsOf("web");
        const all = (e?.subsets ?? []).flatMap((s) => [
          ...(s.addresses ?? []),
          ...(s.notReadyAddresses ?? []),
        ]);
        return !all.some((a) => a.targetRef?.name === "web-1");
      });
      await setPodStatus("web-1", false, podIPs.get("web-1"));
      const ep2 = await until("web-1 terminating and not serving", async () => {
        const e = epFor(await slicesOf("web"), "web-1");
        return e?.conditions.serving === false ? e : undefined;
      });
      expect(ep2.conditions).toEqual({ ready: false, serving: false, terminating: true });
      // the kubelet finishes the deletion
      await client.delete({ ...R.pods, namespace: NS, name: "web-1" }, { gracePeriodSeconds: 0 });
      await until("web-1 gone from the slice", async () => !epFor(await slicesOf("web"), "web-1"));
    });

    it("publishNotReadyAddresses marks every endpoint ready", async () => {
      await createService("web-pub", {
        selector: { app: "web" },
        publishNotReadyAddresses: true,
        clusterIP: "None",
        ports: [{ name: "http", port: 80, targetPort: "http" }],
      });
      await setPodStatus("web-2", false, podIPs.get("web-2"));
      const slices = await until("web-pub slices", async () => {
        const s = await slicesOf("web-pub");
        return allEndpoints(s).length === 2 && epFor(s, "web-2") ? s : undefined;
      });
      expect(epFor(slices, "web-2")!.conditions).toEqual({ ready: true, serving: false, terminating: false });
      expect(slices[0]!.metadata.labels?.["service.kubernetes.io/headless"]).toBe("");
      const ep = await until("web-pub endpoints", async () => {
        const e = await endpointsOf("web-pub");
        return e?.subsets?.[0]?.addresses?.length === 2 ? e : undefined;
      });
      expect(ep.subsets![0]!.notReadyAddresses ?? []).toEqual([]);
    });

    it("150 pods make two slices of 100 and 50", async () => {
      await createService("big", { selector: { app: "big" }, ports: [{ port: 80, targetPort: 8080 }] });
      const names = Array.from({ length: 150 }, (_, i) => `big-${i}`);
      for (let i = 0; i < names.length; i += 25) {
        await Promise.all(
          names.slice(i, i + 25).map(async (n) => {
            await createPod(n, { app: "big" });
            await setPodStatus(n, true);
          }),
        );
      }
      const slices = await until(
        "150 endpoints in slices",
        async () => {
          const s = await slicesOf("big");
          return allEndpoints(s).length === 150 ? s : undefined;
        },
        30_000,
        200,
      );
      expect(slices.map((s) => s.endpoints!.length).sort((a, b) => b - a)).toEqual([100, 50]);
      expect(new Set(allEndpoints(slices).map((e) => e.targetRef!.name)).size).toBe(150);
      const ep = await until("150 addresses in Endpoints", async () => {
        const e = await endpointsOf("big");
        return e?.subsets?.[0]?.addresses?.length === 150 ? e : undefined;
      });
      expect(ep.subsets![0]!.ports).toEqual([{ port: 8080, protocol: "TCP" }]);
    });

    it("services without a selector get nothing; losing the selector removes the slices", async () => {
      await createService("manual", { ports: [{ port: 80 }] });
      await new Promise((r) => setTimeout(r, 500));
      expect(await slicesOf("manual")).toEqual([]);
      expect(await endpointsOf("manual")).toBeUndefined();
      await until("web-pub slices exist", async () => (await slicesOf("web-pub")).length > 0);
      await client.patch(
        { ...R.services, namespace: NS, name: "web-pub" },
        { spec: { selector: null } },
        { type: "merge" },
      );
      await until("web-pub slices deleted", async () => (await slicesOf("web-pub")).length === 0);
    });

    it("deleting the service removes its slices and Endpoints", async () => {
      await client.delete({ ...R.services, namespace: NS, name: "web" });
      await until(
        "web slices and endpoints gone",
        async () => (await slicesOf("web")).length === 0 && !(await endpointsOf("web")),
      );
    });
  },
);
