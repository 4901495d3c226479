/**
 * Namespace and ServiceAccount controllers end to end: a real apiserver child, the namespace,
 * serviceaccount and garbagecollector controllers in-process, a fake node acting as kubelet, and
 * the real kubectl deleting a namespace.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../api/object.js";
import { isNotFound, loadClusterConnection, R, RestClient } from "../client/index.js";
import { type ApiserverProcess, builtCliMissing, startApiserver } from "./helpers/apiserver.js";
import {
  type FakeNodes,
  type InProcessControllers,
  startControllers,
  startFakeNodes,
} from "./helpers/fake-nodes.js";
import { kubectl, missingKubectl } from "./helpers/kubectl.js";
import { until } from "./helpers/net.js";

const KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.27";
const skip = builtCliMissing() ?? missingKubectl(KUBECTL);

describe.skipIf(skip)("namespace and serviceaccount controllers", () => {
  let api: ApiserverProcess;
  let client: RestClient;
  let ctrl: InProcessControllers;
  let fake: FakeNodes;
  let k: ReturnType<typeof kubectl>;

  beforeAll(async () => {
    api = await startApiserver();
    client = new RestClient(loadClusterConnection({ kubeconfig: api.kubeconfig }), { component: "test" });
    fake = await startFakeNodes(client, ["ns-node"]);
    ctrl = await startControllers(api.kubeconfig, ["namespace", "serviceaccount", "garbagecollector"], {});
    k = kubectl(KUBECTL, api.kubeconfig);
  });

  afterAll(async () => {
    await ctrl?.stop();
    await fake?.close();
    await client?.close();
    await api?.stop();
  });

  const sa = (namespace: string) => client.get({ ...R.serviceaccounts, namespace, name: "default" });

  it("every namespace, new or already there, gets a default ServiceAccount, recreated if deleted", async () => {
    await until("default/default", () => sa("default"));
    await until("kube-system/default", () => sa("kube-system"));
    await client.create(R.namespaces, { apiVersion: "v1", kind: "Namespace", metadata: { name: "fresh" } });
    const created = await until("fresh/default", () => sa("fresh"));
    expect(created.metadata.name).toBe("default");
    await client.delete({ ...R.serviceaccounts, namespace: "fresh", name: "default" });
    const again = await until("fresh/default recreated", async () => {
      const s = await sa("fresh");
      return s.metadata.uid !== created.metadata.uid ? s : undefined;
    });
    expect(again.metadata.namespace).toBe("fresh");
  });

  it("kubectl delete namespace returns once the namespace and everything in it are gone", async () => {
    const ns = "doomed";
    await k(["create", "namespace", ns]);
    await until("doomed/default", () => sa(ns));
    await k(["-n", ns, "create", "configmap", "cfg", "--from-literal=a=b"]);
    await k(["-n", ns, "create", "secret", "generic", "s", "--from-literal=a=b"]);
    await client.create(
      { ...R.services, namespace: ns },
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "svc" },
        spec: { ports: [{ port: 80 }], selector: { app: "x" } },
      },
    );
    const pod = (name: string, nodeName?: string): KubeObject => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, labels: { app: "x" } },
      spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: "c", image: "busybox" }] },
    });
    await client.create({ ...R.pods, namespace: ns }, pod("unbound"));
    // a pod on a (fake) node: deletion is graceful and waits for the kubelet
    await client.create({ ...R.pods, namespace: ns }, pod("bound", "ns-node"));
    await client.create(
      { ...R.deployments, namespace: ns },
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web" },
        spec: {
          selector: { matchLabels: { app: "x" } },
          template: {
            metadata: { labels: { app: "x" } },
            spec: { containers: [{ name: "c", image: "busybox" }] },
          },
        },
      },
    );
    // an object with a foreign finalizer blocks the namespace until it is removed
    await client.create(
      { ...R.configmaps, namespace: ns },
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "held", finalizers: ["example.com/hold"] } },
    );

    const started = Date.now();
    const deletion = k(["delete", "namespace", ns, "--timeout=60s"], { timeoutMs: 70_000 });
    const terminating = await until("namespace terminating with remaining content reported", async () => {
      const n = await client.get({ ...R.namespaces, name: ns });
      const c = (
        (n.status ?? {}) as { conditions?: Array<{ type: string; status: string; message: string }> }
      ).conditions;
      return c?.find((x) => x.type === "NamespaceFinalizersRemaining" && x.status === "True") ? n : undefined;
    });
    expect((terminating.status as { phase: string }).phase).toBe("Terminating");
    const cms = await client.list({ ...R.configmaps, namespace: ns });
    expect(cms.items.map((c) => c.metadata.name)).toEqual(["held"]);
    await client.patch(
      { ...R.configmaps, namespace: ns, name: "held" },
      { metadata: { finalizers: null } },
      { type: "merge" },
    );

    const res = await deletion;
    expect(res.stdout).toContain(`namespace "${ns}" deleted`);
    expect(Date.now() - started).toBeLessThan(60_000);
    await expect(client.get({ ...R.namespaces, name: ns })).rejects.toSatisfy(isNotFound);
    for (const r of [
      R.pods,
      R.configmaps,
      R.secrets,
      R.services,
      R.deployments,
      R.serviceaccounts,
      R.endpoints,
    ]) {
      const list = await client.list({ ...r, namespace: ns });
      expect(list.items.map((i) => `${r.resource}/${i.metadata.name}`)).toEqual([]);
    }
  });

  it("a namespace created again with the same name starts empty, with a fresh default ServiceAccount", async () => {
    await k(["create", "namespace", "doomed"]);
    await until("doomed/default again", () => sa("doomed"));
    expect((await client.list({ ...R.configmaps, namespace: "doomed" })).items).toEqual([]);
  });
});
