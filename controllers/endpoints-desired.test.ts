import { describe, expect, it } from "vitest";
import { desiredSubsets, type Endpoints, planEndpoints } from "./endpoints-desired.js";
import {
  OVER_CAPACITY_ANNOTATION,
  type Pod,
  type Service,
  TRIGGER_TIME_ANNOTATION,
} from "./endpointslice-pods.js";

function pod(
  name: string,
  ip: string | undefined,
  opts: Partial<{
    ready: boolean;
    deleting: boolean;
    node: string;
    ports: { name?: string; containerPort: number; protocol?: string }[];
    hostname: string;
    subdomain: string;
  }> = {},
): Pod {
  return {
    metadata: {
      name,
      namespace: "ns",
      uid: `uid-${name}`,
      labels: { app: "web" },
      ...(opts.deleting ? { deletionTimestamp: "2024-01-01T00:00:00Z" } : {}),
    },
    spec: {
      nodeName: opts.node,
      hostname: opts.hostname,
      subdomain: opts.subdomain,
      containers: [
        {
          name: "c",
          ports: opts.ports ?? [
            { name: "http", containerPort: 8080 },
            { name: "metrics", containerPort: 9100 },
          ],
        },
      ],
    },
    status: {
      phase: "Running",
      ...(ip ? { podIP: ip } : {}),
      conditions: [{ type: "Ready", status: opts.ready === false ? "False" : "True" }],
    },
  };
}

function svc(spec: Partial<NonNullable<Service["spec"]>> = {}): Service {
  return {
    metadata: { name: "web", namespace: "ns", uid: "svc-uid", labels: { team: "a" } },
    spec: {
      selector: { app: "web" },
      ports: [
        { name: "http", port: 80, targetPort: "http", protocol: "TCP" },
        { name: "metrics", port: 9100, targetPort: 9100, protocol: "TCP" },
      ],
      ...spec,
    },
  };
}

describe("desiredSubsets", () => {
  it("ready pods under addresses, unready under notReadyAddresses, sorted, with resolved named ports", () => {
    const d = desiredSubsets(svc(), [
      pod("b", "10.0.0.2", { node: "n1" }),
      pod("a", "10.0.0.1"),
      pod("c", "10.0.0.3", { ready: false }),
      pod("x", undefined),
    ]);
    expect(d.truncated).toBe(false);
    expect(d.subsets).toEqual([
      {
        addresses: [
          { ip: "10.0.0.1", targetRef: { kind: "Pod", namespace: "ns", name: "a", uid: "uid-a" } },
          {
            ip: "10.0.0.2",
            nodeName: "n1",
            targetRef: { kind: "Pod", namespace: "ns", name: "b", uid: "uid-b" },
          },
        ],
        notReadyAddresses: [
          { ip: "10.0.0.3", targetRef: { kind: "Pod", namespace: "ns", name: "c", uid: "uid-c" } },
        ],
        ports: [
          { name: "http", port: 8080, protocol: "TCP" },
          { name: "metrics", port: 9100, protocol: "TCP" },
        ],
      },
    ]);
  });
  it("terminating pods are left out unless publishNotReadyAddresses, which makes every pod ready", () => {
    expect(desiredSubsets(svc(), [pod("a", "10.0.0.1", { deleting: true })]).subsets).toEqual([]);
    const d = desiredSubsets(svc({ publishNotReadyAddresses: true }), [
      pod("a", "10.0.0.1", { deleting: true }),
      pod("b", "10.0.0.2", { ready: false }),
    ]);
    expect(d.subsets[0]!.addresses!.map((a) => a.ip)).toEqual(["10.0.0.1", "10.0.0.2"]);
    expect(d.subsets[0]!.notReadyAddresses).toBeUndefined();
  });
  it("pods serving different port sets land in different subsets; a pod serving none is left out", () => {
    const d = desiredSubsets(svc(), [
      pod("a", "10.0.0.1"),
      pod("b", "10.0.0.2", { ports: [{ name: "web", containerPort: 1 }] }),
      pod("c", "10.0.0.3", { ports: [{ name: "http", containerPort: 7070 }] }),
    ]);
    expect(d.subsets.map((s) => [s.addresses!.map((a) => a.ip), s.ports!.map((p) => p.port)])).toEqual([
      [["10.0.0.3"], [7070, 9100]],
      [["10.0.0.1"], [8080, 9100]],
      [["10.0.0.2"], [9100]],
    ]);
    const only = desiredSubsets(svc({ ports: [{ name: "http", port: 80, targetPort: "http" }] }), [
      pod("b", "10.0.0.2", { ports: [] }),
    ]);
    expect(only.subsets).toEqual([]);
  });
  it("hostname when the subdomain is the service; a service without ports still lists addresses", () => {
    const d = desiredSubsets(svc({ ports: [] }), [pod("a", "10.0.0.1", { hostname: "h", subdomain: "web" })]);
    expect(d.subsets).toEqual([
      {
        addresses: [
          {
            ip: "10.0.0.1",
            hostname: "h",
            targetRef: { kind: "Pod", namespace: "ns", name: "a", uid: "uid-a" },
          },
        ],
      },
    ]);
  });
  it("truncates to the maximum, keeping ready addresses first", () => {
    const ps = [
      pod("u", "10.0.1.1", { ready: false }),
      ...Array.from({ length: 5 }, (_, i) => pod(`p${i}`, `10.0.0.${i + 1}`)),
    ];
    const d = desiredSubsets(svc(), ps, 4);
    expect(d.truncated).toBe(true);
    expect(d.subsets[0]!.addresses).toHaveLength(4);
    expect(d.subsets[0]!.notReadyAddresses).toBeUndefined();
    const d2 = desiredSubsets(svc(), ps, 6);
    expect(d2.truncated).toBe(false);
  });
});

describe("planEndpoints", () => {
  it("creates with service labels and the trigger time; then nothing to do", () => {
    const s = svc();
    const d = desiredSubsets(s, [pod("a", "10.0.0.1")]);
    const p = planEndpoints(s, d, undefined, "2024-05-01T10:00:00Z");
    expect(p.create).toBe(true);
    expect(p.write!.metadata).toEqual({
      name: "web",
      namespace: "ns",
      labels: { team: "a" },
      annotations: { [TRIGGER_TIME_ANNOTATION]: "2024-05-01T10:00:00Z" },
    });
    const stored = JSON.parse(
      JSON.stringify({ ...p.write, metadata: { ...p.write!.metadata, resourceVersion: "5" } }),
    ) as Endpoints;
    expect(planEndpoints(s, d, stored, "2024-05-01T10:00:09Z")).toEqual({ create: false });
  });
  it("updates on a readiness change, keeping metadata and setting the trigger time", () => {
    const s = svc();
    const first = planEndpoints(s, desiredSubsets(s, [pod("a", "10.0.0.1")]), undefined, undefined).write!;
    const stored = { ...first, metadata: { ...first.metadata, resourceVersion: "7", uid: "e-uid" } };
    const p = planEndpoints(
      s,
      desiredSubsets(s, [pod("a", "10.0.0.1", { ready: false })]),
      stored,
      "2024-05-01T10:00:03Z",
    );
    expect(p.create).toBe(false);
    expect(p.write!.metadata.resourceVersion).toBe("7");
    expect(p.write!.metadata.annotations![TRIGGER_TIME_ANNOTATION]).toBe("2024-05-01T10:00:03Z");
    expect(p.write!.subsets![0]!.notReadyAddresses).toHaveLength(1);
  });
  it("sets and clears the over-capacity annotation", () => {
    const s = svc();
    const p = planEndpoints(s, { subsets: [], truncated: true }, undefined, undefined);
    expect(p.write!.metadata.annotations![OVER_CAPACITY_ANNOTATION]).toBe("truncated");
    const p2 = planEndpoints(s, { subsets: [], truncated: false }, p.write, undefined);
    expect(p2.write!.metadata.annotations![OVER_CAPACITY_ANNOTATION]).toBeUndefined();
  });
  it("treats missing and empty lists and the default protocol as equal", () => {
    const s = svc();
    const existing: Endpoints = {
      metadata: { name: "web", namespace: "ns", labels: { team: "a" } },
      subsets: [
        {
          addresses: [
            { targetRef: { uid: "uid-a", name: "a", namespace: "ns", kind: "Pod" }, ip: "10.0.0.1" },
          ],
          notReadyAddresses: [],
          ports: [{ name: "http", port: 8080 } as never, { name: "metrics", port: 9100, protocol: "TCP" }],
        },
      ],
    };
    expect(
      planEndpoints(s, desiredSubsets(s, [pod("a", "10.0.0.1")]), existing, undefined).write,
    ).toBeUndefined();
  });
});
