/**
 * Node IPAM end to end: a real apiserver child and the nodeipam controller in-process with
 * --cluster-cidr 10.244.0.0/16 and /24 node masks. Distinct podCIDRs for every node, none reused
 * across a controller restart, CIDRNotAvailable when the range is full.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../api/object.js";
import { loadClusterConnection, R, RestClient } from "../client/index.js";
import { type ApiserverProcess, builtCliMissing, startApiserver } from "./helpers/apiserver.js";
import { type FakeNodes, startControllers, startFakeNodes } from "./helpers/fake-nodes.js";
import { until } from "./helpers/net.js";

const skip = builtCliMissing();

const spec = (n: KubeObject) => (n.spec ?? {}) as { podCIDR?: string; podCIDRs?: string[] };

describe.skipIf(skip)("node IPAM", () => {
  let api: ApiserverProcess;
  let client: RestClient;
  let fake: FakeNodes;

  beforeAll(async () => {
    api = await startApiserver();
    client = new RestClient(loadClusterConnection({ kubeconfig: api.kubeconfig }), { component: "test" });
    fake = await startFakeNodes(client, [], { runPods: false });
  });

  afterAll(async () => {
    await fake?.close();
    await client?.close();
    await api?.stop();
  });

  const cidrOf = (name: string) =>
    until(`${name} podCIDR`, async () => {
      const n = await client.get({ ...R.nodes, name });
      return spec(n).podCIDR ? n : undefined;
    });

  it("gives distinct podCIDRs to nodes and never reuses one after a controller restart", async () => {
    let ctrl = await startControllers(api.kubeconfig, ["nodeipam"], {
      clusterCIDR: "10.244.0.0/16",
      nodeCIDRMaskSize: 24,
    });
    for (const n of ["ipam-1", "ipam-2", "ipam-3"]) await fake.addNode(n);
    const first = await Promise.all(["ipam-1", "ipam-2", "ipam-3"].map(cidrOf));
    const cidrs = first.map((n) => spec(n).podCIDR!);
    expect(new Set(cidrs).size).toBe(3);
    for (const n of first) {
      expect(spec(n).podCIDR).toMatch(/^10\.244\.\d+\.0\/24$/);
      expect(spec(n).podCIDRs).toEqual([spec(n).podCIDR]);
    }
    await ctrl.stop();

    // a node that arrives while the controller is down, and one with a CIDR set by hand
    await fake.addNode("ipam-4");
    await client.create(R.nodes, {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "manual" },
      spec: { podCIDR: "10.244.3.0/24", podCIDRs: ["10.244.3.0/24"] },
    });
    ctrl = await startControllers(api.kubeconfig, ["nodeipam"], {
      clusterCIDR: "10.244.0.0/16",
      nodeCIDRMaskSize: 24,
    });
    await fake.addNode("ipam-5");
    const later = await Promise.all(["ipam-4", "ipam-5"].map(cidrOf));
    const all = [...cidrs, "10.244.3.0/24", ...later.map((n) => spec(n).podCIDR!)];
    expect(new Set(all).size).toBe(all.length);
    // the first three keep theirs
    for (const [i, name] of ["ipam-1", "ipam-2", "ipam-3"].entries()) {
      expect(spec(await client.get({ ...R.nodes, name })).podCIDR).toBe(cidrs[i]);
    }
    await ctrl.stop();
  });

  it("reports CIDRNotAvailable when the range is full, and assigns once a node is deleted", async () => {
    // a separate range of exactly two /24s that none of the existing nodes use
    const nodes = (await client.list(R.nodes)).items.map((n) => n.metadata.name!);
    for (const name of nodes) {
      if (fake.names().includes(name)) await fake.removeNode(name);
      else await client.delete({ ...R.nodes, name });
    }
    const ctrl = await startControllers(api.kubeconfig, ["nodeipam"], {
      clusterCIDR: "10.250.0.0/23",
      nodeCIDRMaskSize: 24,
    });
    try {
      await fake.addNode("full-1");
      await fake.addNode("full-2");
      await Promise.all(["full-1", "full-2"].map(cidrOf));
      await fake.addNode("full-3");
      await until("CIDRNotAvailable event", async () => {
        const evs = await client.list({ ...R.events, namespace: "default" });
        return evs.items.some(
          (e) => e.reason === "CIDRNotAvailable" && (e.involvedObject as { name?: string }).name === "full-3",
        );
      });
      expect(spec(await client.get({ ...R.nodes, name: "full-3" })).podCIDR).toBeUndefined();
      await fake.removeNode("full-1");
      const n3 = await until(
        "full-3 assigned after full-1 left",
        async () => {
          const n = await client.get({ ...R.nodes, name: "full-3" });
          return spec(n).podCIDR ? n : undefined;
        },
        20_000,
        200,
      );
      expect(spec(n3).podCIDR).toMatch(/^10\.250\.[01]\.0\/24$/);
      expect(spec(n3).podCIDR).not.toBe(spec(await client.get({ ...R.nodes, name: "full-2" })).podCIDR);
    } finally {
      await ctrl.stop();
    }
  });
});
