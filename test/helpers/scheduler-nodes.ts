/**
 * Registers fake Nodes through the API for scheduler tests: a Node object with
 * status.allocatable/capacity and a Ready condition (no kubelet, no Lease renewal).
 */
import type { RestClient } from "../../client/index.js";
import { R } from "../../client/index.js";

export interface FakeNodeSpec {
  cpu?: string;
  memory?: string;
  pods?: string;
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: string }[];
  unschedulable?: boolean;
}

export async function registerFakeNode(
  client: RestClient,
  name: string,
  spec: FakeNodeSpec = {},
): Promise<void> {
  const resources = { cpu: spec.cpu ?? "2", memory: spec.memory ?? "4Gi", pods: spec.pods ?? "110" };
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  const status = {
    capacity: resources,
    allocatable: resources,
    conditions: [
      {
        type: "Ready",
        status: "True",
        reason: "KubeletReady",
        message: "fake node",
        lastHeartbeatTime: now,
        lastTransitionTime: now,
      },
    ],
    nodeInfo: { kubeletVersion: "v1.30.0-fake" },
  };
  await client.create(R.nodes, {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", ...spec.labels },
    },
    spec: {
      ...(spec.taints ? { taints: spec.taints } : {}),
      ...(spec.unschedulable ? { unschedulable: true } : {}),
    },
    status,
  });
  // some servers drop status on create: set it through the status subresource as a kubelet would
  await client.patch({ ...R.nodes, name, subresource: "status" }, { status }, { type: "merge" });
}
