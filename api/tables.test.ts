import { describe, expect, it } from "vitest";
import type { KubeObject } from "./object.js";
import { findResource, RESOURCES, type ResourceInfo } from "./resources.js";
import {
  columnsFor,
  formatEndpoints,
  formatHPAMetrics,
  hasPrinter,
  humanDuration,
  type TableCell,
  toTable,
} from "./tables.js";

const NOW = Date.parse("2025-06-01T12:00:00Z");
const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;
const ago = (ms: number) => new Date(NOW - ms).toISOString();

function res(group: string, version: string, resource: string): ResourceInfo {
  const r = findResource(group, version, resource);
  if (!r) throw new Error(`no resource ${group}/${version}/${resource}`);
  return r;
}

/** the first row's cells keyed by column name */
function row(info: ResourceInfo, o: KubeObject): Record<string, TableCell> {
  const t = toTable(info, [o], { includeObject: "None" }, NOW);
  const out: Record<string, TableCell> = {};
  t.columnDefinitions.forEach((c, i) => {
    out[c.name] = t.rows[0]!.cells[i]!;
  });
  return out;
}

const POD = res("", "v1", "pods");
const SVC = res("", "v1", "services");

describe("humanDuration", () => {
  it.each<[number, string]>([
    [S, "1s"],
    [70 * S, "70s"],
    [190 * S, "3m10s"],
    [70 * M, "70m"],
    [47 * H, "47h"],
    [49 * H, "2d1h"],
    [(8 * 24 + 2) * H, "8d"],
    [367 * D, "367d"],
    [(365 * 2 * 24 + 25) * H, "2y1d"],
    [(365 * 8 * 24 + 2) * H, "8y"],
    // boundaries
    [-2 * S, "<invalid>"],
    [-2 * S + 1, "0s"],
    [0, "0s"],
    [S - 1, "0s"],
    [2 * M - 1, "119s"],
    [2 * M, "2m"],
    [2 * M + S, "2m1s"],
    [10 * M - 1, "9m59s"],
    [10 * M, "10m"],
    [10 * M + S, "10m"],
    [3 * H - 1, "179m"],
    [3 * H, "3h"],
    [3 * H + M, "3h1m"],
    [8 * H - 1, "7h59m"],
    [8 * H, "8h"],
    [8 * H + 59 * M, "8h"],
    [2 * D - 1, "47h"],
    [2 * D, "2d"],
    [2 * D + H, "2d1h"],
    [8 * D - 1, "7d23h"],
    [8 * D, "8d"],
    [8 * D + 23 * H, "8d"],
    [2 * 365 * D - 1, "729d"],
    [2 * 365 * D, "2y"],
    [2 * 365 * D + 23 * H + 59 * M, "2y"],
    [2 * 365 * D + D, "2y1d"],
    [3 * 365 * D + 20 * D, "3y20d"],
    [8 * 365 * D - 1, "7y364d"],
    [8 * 365 * D, "8y"],
    [8 * 365 * D + 364 * D, "8y"],
    [9 * 365 * D, "9y"],
    [5 * S, "5s"],
    [3 * M + 2 * S, "3m2s"],
    [5 * H, "5h"],
    [45 * D, "45d"],
  ])("%d ms → %s", (ms, want) => {
    expect(humanDuration(ms)).toBe(want);
  });
});

describe("toTable envelope", () => {
  const pod: KubeObject = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "web",
      namespace: "default",
      resourceVersion: "42",
      creationTimestamp: ago(5 * S),
      labels: { a: "b" },
    },
    spec: { containers: [{ name: "c", image: "nginx" }] },
    status: { phase: "Pending" },
  };

  it("has the Table kind, version and column definitions with every field", () => {
    const t = toTable(POD, [pod], {}, NOW);
    expect(t.kind).toBe("Table");
    expect(t.apiVersion).toBe("meta.k8s.io/v1");
    expect(t.columnDefinitions[0]).toEqual({
      name: "Name",
      type: "string",
      format: "name",
      description: expect.any(String),
      priority: 0,
    });
    for (const c of t.columnDefinitions) {
      expect(Object.keys(c).sort()).toEqual(["description", "format", "name", "priority", "type"]);
    }
  });

  it("includes PartialObjectMetadata by default", () => {
    const t = toTable(POD, [pod], {}, NOW);
    expect(t.rows[0]!.object).toEqual({
      kind: "PartialObjectMetadata",
      apiVersion: "meta.k8s.io/v1",
      metadata: pod.metadata,
    });
  });

  it("follows includeObject None and Object", () => {
    expect(toTable(POD, [pod], { includeObject: "None" }, NOW).rows[0]).not.toHaveProperty("object");
    expect(toTable(POD, [pod], { includeObject: "Object" }, NOW).rows[0]!.object).toBe(pod);
  });

  it("uses the negotiated table version for rows too", () => {
    const t = toTable(POD, [pod], { apiVersion: "meta.k8s.io/v1beta1" }, NOW);
    expect(t.apiVersion).toBe("meta.k8s.io/v1beta1");
    expect(t.rows[0]!.object).toMatchObject({ apiVersion: "meta.k8s.io/v1beta1" });
  });

  it("carries list metadata, or a single object's resourceVersion", () => {
    const t = toTable(
      POD,
      [pod, pod],
      { listMeta: { resourceVersion: "100", continue: "tok", remainingItemCount: 5 } },
      NOW,
    );
    expect(t.metadata).toEqual({ resourceVersion: "100", continue: "tok", remainingItemCount: 5 });
    expect(toTable(POD, [pod], {}, NOW).metadata).toEqual({ resourceVersion: "42" });
    expect(toTable(POD, [], { listMeta: { resourceVersion: "7", continue: "" } }, NOW).metadata).toEqual({
      resourceVersion: "7",
    });
    expect(toTable(POD, [], {}, NOW).rows).toEqual([]);
  });

  it("produces JSON-typed cells, one per column", () => {
    const t = toTable(POD, [pod], {}, NOW);
    expect(t.rows[0]!.cells).toHaveLength(t.columnDefinitions.length);
    expect(JSON.parse(JSON.stringify(t))).toEqual(t);
  });

  it("has a printer or the default table for every served resource, with matching cell counts", () => {
    for (const info of RESOURCES) {
      const t = toTable(info, [{ metadata: { name: "x", creationTimestamp: ago(M) } }], {}, NOW);
      expect(t.rows[0]!.cells, `${info.group}/${info.resource}`).toHaveLength(t.columnDefinitions.length);
      for (const c of t.rows[0]!.cells) expect(["string", "number"]).toContain(typeof c);
    }
  });
});

describe("default table", () => {
  it("uses Name and Created At for Role and ClusterRole", () => {
    const role = res("rbac.authorization.k8s.io", "v1", "roles");
    expect(hasPrinter(role)).toBe(false);
    expect(columnsFor(role).map((c) => [c.name, c.type, c.format])).toEqual([
      ["Name", "string", "name"],
      ["Created At", "date", ""],
    ]);
    expect(row(role, { metadata: { name: "r", creationTimestamp: "2024-03-04T05:06:07.123Z" } })).toEqual({
      Name: "r",
      "Created At": "2024-03-04T05:06:07Z",
    });
    const cr = res("rbac.authorization.k8s.io", "v1", "clusterroles");
    expect(row(cr, { metadata: { name: "admin" } })["Created At"]).toBe("0001-01-01T00:00:00Z");
  });

  it("serves unknown kinds the default table", () => {
    const t = toTable({ group: "example.com", kind: "Widget" }, [{ metadata: { name: "w" } }], {}, NOW);
    expect(t.columnDefinitions.map((c) => c.name)).toEqual(["Name", "Created At"]);
  });
});

describe("Namespace, ConfigMap, Secret, ServiceAccount, Lease", () => {
  it("prints namespaces", () => {
    expect(
      row(res("", "v1", "namespaces"), {
        metadata: { name: "default", creationTimestamp: ago(45 * D) },
        status: { phase: "Active" },
      }),
    ).toEqual({
      Name: "default",
      Status: "Active",
      Age: "45d",
    });
  });

  it("counts data and binaryData for configmaps", () => {
    expect(
      row(res("", "v1", "configmaps"), {
        metadata: { name: "cm", creationTimestamp: ago(5 * H) },
        data: { a: "1", b: "2" },
        binaryData: { c: "AA==" },
      }),
    ).toEqual({ Name: "cm", Data: 3, Age: "5h" });
    expect(row(res("", "v1", "configmaps"), { metadata: { name: "e" } })).toEqual({
      Name: "e",
      Data: 0,
      Age: "<unknown>",
    });
  });

  it("prints secrets", () => {
    expect(
      row(res("", "v1", "secrets"), {
        metadata: { name: "tls", creationTimestamp: ago(2 * M) },
        type: "kubernetes.io/tls",
        data: { "tls.crt": "x", "tls.key": "y" },
      }),
    ).toEqual({ Name: "tls", Type: "kubernetes.io/tls", Data: 2, Age: "2m" });
  });

  it("prints service accounts and leases", () => {
    expect(
      row(res("", "v1", "serviceaccounts"), { metadata: { name: "default" }, secrets: [{ name: "t" }] })
        .Secrets,
    ).toBe(1);
    expect(row(res("", "v1", "serviceaccounts"), { metadata: { name: "default" } }).Secrets).toBe(0);
    const lease = res("coordination.k8s.io", "v1", "leases");
    expect(
      row(lease, { metadata: { name: "kube-scheduler" }, spec: { holderIdentity: "node-1_abc" } }).Holder,
    ).toBe("node-1_abc");
    expect(row(lease, { metadata: { name: "x" }, spec: {} }).Holder).toBe("");
  });
});

describe("Pod", () => {
  const base = (over: Partial<KubeObject> & { spec?: object; status?: object }): KubeObject => ({
    metadata: { name: "p", namespace: "default", creationTimestamp: ago(10 * M) },
    spec: { containers: [{ name: "a" }] },
    status: {},
    ...over,
  });

  it("has kubectl's columns, the wide ones at priority 1", () => {
    expect(columnsFor(POD).map((c) => `${c.name}:${c.priority}`)).toEqual([
      "Name:0",
      "Ready:0",
      "Status:0",
      "Restarts:0",
      "Age:0",
      "IP:1",
      "Node:1",
      "Nominated Node:1",
      "Readiness Gates:1",
    ]);
  });

  it("prints a running pod", () => {
    const r = row(
      POD,
      base({
        spec: { nodeName: "n1", containers: [{ name: "a" }, { name: "b" }] },
        status: {
          phase: "Running",
          podIP: "10.0.0.5",
          podIPs: [{ ip: "10.0.0.5" }],
          containerStatuses: [
            { name: "a", ready: true, restartCount: 0, state: { running: { startedAt: ago(M) } } },
            { name: "b", ready: true, restartCount: 0, state: { running: {} } },
          ],
        },
      }),
    );
    expect(r).toEqual({
      Name: "p",
      Ready: "2/2",
      Status: "Running",
      Restarts: "0",
      Age: "10m",
      IP: "10.0.0.5",
      Node: "n1",
      "Nominated Node": "<none>",
      "Readiness Gates": "<none>",
    });
  });

  it("prints a pending pod without statuses", () => {
    const r = row(POD, base({ status: { phase: "Pending" } }));
    expect(r.Ready).toBe("0/1");
    expect(r.Status).toBe("Pending");
    expect(r.IP).toBe("<none>");
    expect(r.Node).toBe("<none>");
  });

  it("uses container waiting reasons", () => {
    const waiting = (reason: string) =>
      row(
        POD,
        base({
          status: { phase: "Pending", containerStatuses: [{ name: "a", state: { waiting: { reason } } }] },
        }),
      ).Status;
    expect(waiting("ContainerCreating")).toBe("ContainerCreating");
    expect(waiting("CrashLoopBackOff")).toBe("CrashLoopBackOff");
    expect(waiting("ImagePullBackOff")).toBe("ImagePullBackOff");
  });

  it("prints restarts with the time since the last one", () => {
    const r = row(
      POD,
      base({
        status: {
          phase: "Running",
          containerStatuses: [
            {
              name: "a",
              restartCount: 4,
              state: { waiting: { reason: "CrashLoopBackOff" } },
              lastState: { terminated: { exitCode: 1, finishedAt: ago(3 * M) } },
            },
          ],
        },
      }),
    );
    expect(r.Restarts).toBe("4 (3m ago)");
    expect(r.Status).toBe("CrashLoopBackOff");
    const noStamp = row(
      POD,
      base({ status: { phase: "Running", containerStatuses: [{ name: "a", restartCount: 2, state: {} }] } }),
    );
    expect(noStamp.Restarts).toBe("2");
  });

  it("prints Completed and the Completed row condition", () => {
    const p = base({
      status: {
        phase: "Succeeded",
        containerStatuses: [{ name: "a", state: { terminated: { exitCode: 0, reason: "Completed" } } }],
      },
    });
    expect(row(POD, p).Status).toBe("Completed");
    expect(row(POD, p).Ready).toBe("0/1");
    const t = toTable(POD, [p], {}, NOW);
    expect(t.rows[0]!.conditions).toEqual([
      {
        type: "Completed",
        status: "True",
        reason: "Succeeded",
        message: "The pod has completed successfully.",
      },
    ]);
    const failed = toTable(POD, [base({ status: { phase: "Failed" } })], {}, NOW);
    expect(failed.rows[0]!.conditions?.[0]?.reason).toBe("Failed");
    expect(toTable(POD, [base({ status: { phase: "Running" } })], {}, NOW).rows[0]).not.toHaveProperty(
      "conditions",
    );
  });

  it("prints Error, ExitCode and Signal for terminated containers", () => {
    const term = (t: object) =>
      row(
        POD,
        base({ status: { phase: "Failed", containerStatuses: [{ name: "a", state: { terminated: t } }] } }),
      ).Status;
    expect(term({ exitCode: 1, reason: "Error" })).toBe("Error");
    expect(term({ exitCode: 3 })).toBe("ExitCode:3");
    expect(term({ exitCode: 137, signal: 9 })).toBe("Signal:9");
  });

  it("says Running/NotReady when one container completed and another still runs", () => {
    const st = (ready: boolean) => ({
      phase: "Running",
      conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
      containerStatuses: [
        { name: "a", ready: true, state: { running: {} } },
        { name: "b", ready: false, state: { terminated: { exitCode: 0, reason: "Completed" } } },
      ],
    });
    const spec = { containers: [{ name: "a" }, { name: "b" }] };
    expect(row(POD, base({ spec, status: st(true) })).Status).toBe("Running");
    expect(row(POD, base({ spec, status: st(false) })).Status).toBe("NotReady");
  });

  it("prints Init:N/M while init containers run", () => {
    const spec = { initContainers: [{ name: "i1" }, { name: "i2" }], containers: [{ name: "a" }] };
    expect(
      row(
        POD,
        base({
          spec,
          status: { phase: "Pending", initContainerStatuses: [{ name: "i1", state: { running: {} } }] },
        }),
      ).Status,
    ).toBe("Init:0/2");
    expect(
      row(
        POD,
        base({
          spec,
          status: {
            phase: "Pending",
            initContainerStatuses: [
              { name: "i1", state: { terminated: { exitCode: 0 } } },
              { name: "i2", state: { waiting: { reason: "PodInitializing" } } },
            ],
          },
        }),
      ).Status,
    ).toBe("Init:1/2");
    expect(
      row(
        POD,
        base({
          spec: { initContainers: [{ name: "i1" }], containers: [{ name: "a" }] },
          status: { phase: "Pending", initContainerStatuses: [{ name: "i1", state: {} }] },
        }),
      ).Status,
    ).toBe("Init:0/1");
  });

  it("prints Init:<reason> for failing init containers, counting their restarts", () => {
    const spec = { initContainers: [{ name: "i1" }], containers: [{ name: "a" }] };
    const r = row(
      POD,
      base({
        spec,
        status: {
          phase: "Pending",
          initContainerStatuses: [
            {
              name: "i1",
              restartCount: 3,
              state: { waiting: { reason: "CrashLoopBackOff" } },
              lastState: { terminated: { exitCode: 1, finishedAt: ago(20 * S) } },
            },
          ],
          containerStatuses: [
            { name: "a", restartCount: 0, state: { waiting: { reason: "PodInitializing" } } },
          ],
        },
      }),
    );
    expect(r.Status).toBe("Init:CrashLoopBackOff");
    expect(r.Restarts).toBe("3 (20s ago)");
    const term = (t: object) =>
      row(
        POD,
        base({
          spec,
          status: { phase: "Pending", initContainerStatuses: [{ name: "i1", state: { terminated: t } }] },
        }),
      ).Status;
    expect(term({ exitCode: 1, reason: "Error" })).toBe("Init:Error");
    expect(term({ exitCode: 2 })).toBe("Init:ExitCode:2");
    expect(term({ exitCode: 2, signal: 15 })).toBe("Init:Signal:15");
  });

  it("counts restartable (sidecar) init containers as containers", () => {
    const r = row(
      POD,
      base({
        spec: { initContainers: [{ name: "side", restartPolicy: "Always" }], containers: [{ name: "a" }] },
        status: {
          phase: "Running",
          conditions: [{ type: "Initialized", status: "True" }],
          initContainerStatuses: [
            { name: "side", started: true, ready: true, restartCount: 1, state: { running: {} } },
          ],
          containerStatuses: [{ name: "a", ready: true, restartCount: 0, state: { running: {} } }],
        },
      }),
    );
    expect(r.Ready).toBe("2/2");
    expect(r.Status).toBe("Running");
    expect(r.Restarts).toBe("1");
  });

  it("prints Terminating, and Unknown for NodeLost", () => {
    const deleting = (status: object) =>
      row(
        POD,
        base({ metadata: { name: "p", deletionTimestamp: ago(S), creationTimestamp: ago(M) }, status }),
      ).Status;
    expect(deleting({ phase: "Running" })).toBe("Terminating");
    expect(deleting({ phase: "Running", reason: "NodeLost" })).toBe("Unknown");
    expect(deleting({ phase: "Succeeded" })).toBe("Succeeded");
  });

  it("prints SchedulingGated and status.reason", () => {
    expect(
      row(
        POD,
        base({
          status: {
            phase: "Pending",
            conditions: [{ type: "PodScheduled", status: "False", reason: "SchedulingGated" }],
          },
        }),
      ).Status,
    ).toBe("SchedulingGated");
    expect(row(POD, base({ status: { phase: "Failed", reason: "Evicted" } })).Status).toBe("Evicted");
  });

  it("prints wide columns: nominated node and readiness gates", () => {
    const r = row(
      POD,
      base({
        spec: {
          containers: [{ name: "a" }],
          readinessGates: [{ conditionType: "x" }, { conditionType: "y" }],
        },
        status: {
          phase: "Pending",
          nominatedNodeName: "n2",
          podIPs: [{ ip: "fd00::1" }, { ip: "10.0.0.1" }],
          conditions: [
            { type: "x", status: "True" },
            { type: "y", status: "False" },
          ],
        },
      }),
    );
    expect(r["Nominated Node"]).toBe("n2");
    expect(r["Readiness Gates"]).toBe("1/2");
    expect(r.IP).toBe("fd00::1");
  });
});

describe("Service", () => {
  const svc = (spec: object, status: object = {}): KubeObject => ({
    metadata: { name: "s", creationTimestamp: ago(3 * M + 2 * S) },
    spec,
    status,
  });

  it("prints a ClusterIP service", () => {
    expect(
      row(
        SVC,
        svc({
          type: "ClusterIP",
          clusterIP: "10.96.0.10",
          clusterIPs: ["10.96.0.10"],
          ports: [{ port: 80, protocol: "TCP" }],
          selector: { app: "web", tier: "fe" },
        }),
      ),
    ).toEqual({
      Name: "s",
      Type: "ClusterIP",
      "Cluster-IP": "10.96.0.10",
      "External-IP": "<none>",
      "Port(s)": "80/TCP",
      Age: "3m2s",
      Selector: "app=web,tier=fe",
    });
  });

  it("prints node ports, multiple ports and UDP", () => {
    const r = row(
      SVC,
      svc({
        type: "NodePort",
        clusterIP: "10.96.0.11",
        ports: [
          { port: 80, nodePort: 30080, protocol: "TCP" },
          { port: 53, protocol: "UDP" },
        ],
      }),
    );
    expect(r["Port(s)"]).toBe("80:30080/TCP,53/UDP");
    expect(r["Cluster-IP"]).toBe("10.96.0.11");
    expect(r.Selector).toBe("<none>");
  });

  it("prints external IPs per type", () => {
    expect(row(SVC, svc({ type: "ClusterIP", externalIPs: ["1.2.3.4", "5.6.7.8"] }))["External-IP"]).toBe(
      "1.2.3.4,5.6.7.8",
    );
    expect(row(SVC, svc({ type: "LoadBalancer" }))["External-IP"]).toBe("<pending>");
    expect(
      row(
        SVC,
        svc(
          { type: "LoadBalancer" },
          {
            loadBalancer: { ingress: [{ ip: "9.9.9.9" }, { hostname: "lb.example.com" }, { ip: "1.1.1.1" }] },
          },
        ),
      )["External-IP"],
    ).toBe("1.1.1.1,9.9.9.9,lb.example.com");
    expect(
      row(
        SVC,
        svc(
          { type: "LoadBalancer", externalIPs: ["2.2.2.2"] },
          { loadBalancer: { ingress: [{ ip: "9.9.9.9" }] } },
        ),
      )["External-IP"],
    ).toBe("9.9.9.9,2.2.2.2");
    expect(row(SVC, svc({ type: "ExternalName", externalName: "db.example.com" }))["External-IP"]).toBe(
      "db.example.com",
    );
  });

  it("prints headless and portless services", () => {
    const r = row(SVC, svc({ type: "ClusterIP", clusterIP: "None", clusterIPs: ["None"] }));
    expect(r["Cluster-IP"]).toBe("None");
    expect(r["Port(s)"]).toBe("<none>");
    expect(row(SVC, svc({ type: "ExternalName" }))["Cluster-IP"]).toBe("<none>");
  });
});

describe("Endpoints and EndpointSlice", () => {
  it("formats endpoints with the + N more suffix", () => {
    const ep = (subsets: object[]) => ({ metadata: { name: "e" }, subsets });
    expect(formatEndpoints(ep([]))).toBe("<none>");
    expect(
      formatEndpoints(ep([{ addresses: [{ ip: "10.0.0.1" }, { ip: "10.0.0.2" }], ports: [{ port: 80 }] }])),
    ).toBe("10.0.0.1:80,10.0.0.2:80");
    expect(
      formatEndpoints(
        ep([{ addresses: [1, 2, 3, 4, 5].map((i) => ({ ip: `10.0.0.${i}` })), ports: [{ port: 80 }] }]),
      ),
    ).toBe("10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more...");
    expect(
      formatEndpoints(
        ep([{ addresses: [{ ip: "10.0.0.1" }, { ip: "10.0.0.2" }], ports: [{ port: 80 }, { port: 443 }] }]),
      ),
    ).toBe("10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...");
    expect(formatEndpoints(ep([{ addresses: [{ ip: "10.0.0.1" }] }]))).toBe("10.0.0.1");
    expect(formatEndpoints(ep([{ addresses: [{ ip: "fd00::1" }], ports: [{ port: 80 }] }]))).toBe(
      "[fd00::1]:80",
    );
    expect(formatEndpoints(ep([{ notReadyAddresses: [{ ip: "10.0.0.1" }], ports: [{ port: 80 }] }]))).toBe(
      "",
    );
  });

  it("prints the endpoints row", () => {
    const info = res("", "v1", "endpoints");
    expect(columnsFor(info).map((c) => c.name)).toEqual(["Name", "Endpoints", "Age"]);
    expect(
      row(info, {
        metadata: { name: "kubernetes", creationTimestamp: ago(2 * D) },
        subsets: [{ addresses: [{ ip: "192.168.1.1" }], ports: [{ port: 6443 }] }],
      }),
    ).toEqual({
      Name: "kubernetes",
      Endpoints: "192.168.1.1:6443",
      Age: "2d",
    });
  });

  it("prints endpoint slices", () => {
    const info = res("discovery.k8s.io", "v1", "endpointslices");
    expect(columnsFor(info).map((c) => c.name)).toEqual(["Name", "AddressType", "Ports", "Endpoints", "Age"]);
    expect(
      row(info, {
        metadata: { name: "web-abc" },
        addressType: "IPv4",
        ports: [{ port: 80, name: "http" }, { name: "named" }, {}, { port: 9 }],
        endpoints: [
          { addresses: ["10.0.0.1"] },
          { addresses: ["10.0.0.2", "10.0.0.3"] },
          { addresses: ["10.0.0.4"] },
        ],
      }),
    ).toMatchObject({
      AddressType: "IPv4",
      Ports: "80,named,* + 1 more...",
      Endpoints: "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...",
    });
    expect(row(info, { metadata: { name: "empty" }, addressType: "IPv4" })).toMatchObject({
      Ports: "<unset>",
      Endpoints: "<unset>",
    });
  });
});

describe("Node", () => {
  const NODE = res("", "v1", "nodes");
  it("prints status, roles and wide info", () => {
    expect(
      row(NODE, {
        metadata: {
          name: "n1",
          creationTimestamp: ago(5 * H),
          labels: {
            "node-role.kubernetes.io/control-plane": "",
            "kubernetes.io/role": "worker",
            "node-role.kubernetes.io/": "",
          },
        },
        spec: { unschedulable: true },
        status: {
          conditions: [
            { type: "MemoryPressure", status: "False" },
            { type: "Ready", status: "True" },
          ],
          addresses: [
            { type: "Hostname", address: "n1" },
            { type: "InternalIP", address: "192.168.0.10" },
          ],
          nodeInfo: {
            kubeletVersion: "v1.35.0-kubeplane",
            osImage: "Debian GNU/Linux 12",
            kernelVersion: "6.1.0",
            containerRuntimeVersion: "kubeplane://0.1.0",
          },
        },
      }),
    ).toEqual({
      Name: "n1",
      Status: "Ready,SchedulingDisabled",
      Roles: "control-plane,worker",
      Age: "5h",
      Version: "v1.35.0-kubeplane",
      "Internal-IP": "192.168.0.10",
      "External-IP": "<none>",
      "OS-Image": "Debian GNU/Linux 12",
      "Kernel-Version": "6.1.0",
      "Container-Runtime": "kubeplane://0.1.0",
    });
  });

  it("prints NotReady, Unknown and <none>/<unknown> defaults", () => {
    expect(
      row(NODE, { metadata: { name: "n" }, status: { conditions: [{ type: "Ready", status: "Unknown" }] } })
        .Status,
    ).toBe("NotReady");
    const bare = row(NODE, { metadata: { name: "n" } });
    expect(bare.Status).toBe("Unknown");
    expect(bare.Roles).toBe("<none>");
    expect(bare["OS-Image"]).toBe("<unknown>");
    expect(bare.Version).toBe("");
  });
});

describe("Event", () => {
  const EV = res("", "v1", "events");
  const EV2 = res("events.k8s.io", "v1", "events");

  it("has the upstream column order with the wide ones at priority 1", () => {
    expect(columnsFor(EV).map((c) => `${c.name}:${c.priority}`)).toEqual([
      "Last Seen:0",
      "Type:0",
      "Reason:0",
      "Object:0",
      "Subobject:1",
      "Source:1",
      "Message:0",
      "First Seen:1",
      "Count:1",
      "Name:1",
    ]);
    expect(columnsFor(EV2)).toEqual(columnsFor(EV));
  });

  it("prints a core/v1 event", () => {
    expect(
      row(EV, {
        metadata: { name: "web.17a", namespace: "default" },
        involvedObject: { kind: "Pod", name: "web", fieldPath: "spec.containers{nginx}" },
        reason: "Pulled",
        message: "  Successfully pulled image\n",
        type: "Normal",
        source: { component: "kubelet", host: "n1" },
        firstTimestamp: ago(10 * M),
        lastTimestamp: ago(2 * M),
        count: 3,
      }),
    ).toEqual({
      "Last Seen": "2m",
      Type: "Normal",
      Reason: "Pulled",
      Object: "pod/web",
      Subobject: "spec.containers{nginx}",
      Source: "kubelet, n1",
      Message: "Successfully pulled image",
      "First Seen": "10m",
      Count: 3,
      Name: "web.17a",
    });
  });

  it("falls back to eventTime, series and reportingController", () => {
    const r = row(EV, {
      metadata: { name: "e" },
      involvedObject: { kind: "Node" },
      reason: "X",
      message: "m",
      type: "Warning",
      eventTime: ago(90 * S),
      reportingComponent: "kubeplane-scheduler",
      reportingInstance: "host-a",
    });
    expect(r["First Seen"]).toBe("90s");
    expect(r["Last Seen"]).toBe("90s");
    expect(r.Count).toBe(1);
    expect(r.Object).toBe("node");
    expect(r.Source).toBe("kubeplane-scheduler, host-a");
    const series = row(EV, {
      metadata: { name: "e" },
      eventTime: ago(H),
      series: { count: 7, lastObservedTime: ago(S) },
    });
    expect(series["Last Seen"]).toBe("1s");
    expect(series.Count).toBe(7);
    expect(row(EV, { metadata: { name: "e" } })["Last Seen"]).toBe("<unknown>");
  });

  it("prints an events.k8s.io/v1 event", () => {
    expect(
      row(EV2, {
        metadata: { name: "e2" },
        regarding: { kind: "Deployment", name: "web" },
        note: "Scaled up",
        reason: "ScalingReplicaSet",
        type: "Normal",
        reportingController: "deployment-controller",
        eventTime: ago(4 * M),
        deprecatedCount: 2,
      }),
    ).toMatchObject({
      "Last Seen": "4m",
      Object: "deployment/web",
      Message: "Scaled up",
      Source: "deployment-controller",
      Count: 2,
    });
  });
});

describe("apps", () => {
  const template = {
    spec: {
      containers: [
        { name: "web", image: "nginx:1.27" },
        { name: "side", image: "busybox" },
      ],
    },
  };

  it("prints deployments", () => {
    const info = res("apps", "v1", "deployments");
    expect(columnsFor(info).map((c) => `${c.name}:${c.priority}`)).toEqual([
      "Name:0",
      "Ready:0",
      "Up-to-date:0",
      "Available:0",
      "Age:0",
      "Containers:1",
      "Images:1",
      "Selector:1",
    ]);
    expect(
      row(info, {
        metadata: { name: "web", creationTimestamp: ago(D + 2 * H) },
        spec: { replicas: 3, selector: { matchLabels: { app: "web" } }, template },
        status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
      }),
    ).toEqual({
      Name: "web",
      Ready: "2/3",
      "Up-to-date": 3,
      Available: 2,
      Age: "26h",
      Containers: "web,side",
      Images: "nginx:1.27,busybox",
      Selector: "app=web",
    });
    expect(
      row(info, {
        metadata: { name: "d" },
        spec: { selector: { matchExpressions: [{ key: "a", operator: "Nope" }] } },
      }),
    ).toMatchObject({
      Ready: "0/1",
      Selector: "<invalid>",
    });
  });

  it("prints replica sets", () => {
    const info = res("apps", "v1", "replicasets");
    expect(
      row(info, {
        metadata: { name: "web-123" },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: "web", "pod-template-hash": "123" } },
          template,
        },
        status: { replicas: 2, readyReplicas: 1 },
      }),
    ).toMatchObject({
      Desired: 2,
      Current: 2,
      Ready: 1,
      Containers: "web,side",
      Selector: "app=web,pod-template-hash=123",
    });
    expect(row(info, { metadata: { name: "r" }, spec: { replicas: 0 } })).toMatchObject({
      Desired: 0,
      Selector: "<none>",
    });
  });

  it("prints daemon sets", () => {
    const info = res("apps", "v1", "daemonsets");
    expect(columnsFor(info).map((c) => c.name)).toEqual([
      "Name",
      "Desired",
      "Current",
      "Ready",
      "Up-to-date",
      "Available",
      "Node Selector",
      "Age",
      "Containers",
      "Images",
      "Selector",
    ]);
    expect(
      row(info, {
        metadata: { name: "proxy" },
        spec: {
          selector: { matchLabels: { k8s: "proxy" } },
          template: {
            spec: {
              nodeSelector: { "kubernetes.io/os": "linux" },
              containers: [{ name: "p", image: "kubeplane" }],
            },
          },
        },
        status: {
          desiredNumberScheduled: 3,
          currentNumberScheduled: 3,
          numberReady: 2,
          updatedNumberScheduled: 3,
          numberAvailable: 2,
        },
      }),
    ).toMatchObject({
      Desired: 3,
      Current: 3,
      Ready: 2,
      "Up-to-date": 3,
      Available: 2,
      "Node Selector": "kubernetes.io/os=linux",
      Selector: "k8s=proxy",
    });
    expect(row(info, { metadata: { name: "x" } })["Node Selector"]).toBe("<none>");
  });
});

describe("networking", () => {
  const ING = res("networking.k8s.io", "v1", "ingresses");
  it("prints ingresses", () => {
    expect(
      row(ING, {
        metadata: { name: "web" },
        spec: {
          ingressClassName: "kubeplane",
          rules: [{ host: "a.example.com" }, { host: "b.example.com" }],
          tls: [{ hosts: ["a.example.com"], secretName: "t" }],
        },
        status: { loadBalancer: { ingress: [{ ip: "10.0.0.9" }] } },
      }),
    ).toMatchObject({
      Class: "kubeplane",
      Hosts: "a.example.com,b.example.com",
      Address: "10.0.0.9",
      Ports: "80, 443",
    });
    expect(row(ING, { metadata: { name: "x" }, spec: { rules: [{ http: {} }] } })).toMatchObject({
      Class: "<none>",
      Hosts: "*",
      Address: "",
      Ports: "80",
    });
  });

  it("caps ingress hosts at three", () => {
    const rules = ["a", "b", "c", "d", "e"].map((h) => ({ host: `${h}.x` }));
    expect(row(ING, { metadata: { name: "x" }, spec: { rules } }).Hosts).toBe("a.x,b.x,c.x + 2 more...");
  });

  it("prints ingress classes", () => {
    const info = res("networking.k8s.io", "v1", "ingressclasses");
    expect(
      row(info, { metadata: { name: "k" }, spec: { controller: "kubeplane.io/ingress" } }),
    ).toMatchObject({
      Controller: "kubeplane.io/ingress",
      Parameters: "<none>",
    });
    expect(
      row(info, {
        metadata: { name: "k" },
        spec: { controller: "c", parameters: { apiGroup: "k8s.example.com", kind: "Params", name: "p" } },
      }).Parameters,
    ).toBe("Params.k8s.example.com/p");
    expect(
      row(info, { metadata: { name: "k" }, spec: { parameters: { kind: "ConfigMap", name: "cm" } } })
        .Parameters,
    ).toBe("ConfigMap/cm");
  });
});

describe("HorizontalPodAutoscaler", () => {
  const HPA = res("autoscaling", "v2", "horizontalpodautoscalers");
  const HPA1 = res("autoscaling", "v1", "horizontalpodautoscalers");
  const cpu = (target: object) => ({ type: "Resource", resource: { name: "cpu", target } });

  it("prints a v2 HPA", () => {
    expect(
      row(HPA, {
        metadata: { name: "web", creationTimestamp: ago(M * 7) },
        spec: {
          scaleTargetRef: { kind: "Deployment", name: "web" },
          minReplicas: 1,
          maxReplicas: 10,
          metrics: [cpu({ type: "Utilization", averageUtilization: 80 })],
        },
        status: {
          currentReplicas: 2,
          currentMetrics: [
            { type: "Resource", resource: { name: "cpu", current: { averageUtilization: 50 } } },
          ],
        },
      }),
    ).toEqual({
      Name: "web",
      Reference: "Deployment/web",
      Targets: "cpu: 50%/80%",
      MinPods: "1",
      MaxPods: 10,
      Replicas: 2,
      Age: "7m",
    });
  });

  it("formats each metric type", () => {
    expect(formatHPAMetrics([], [])).toBe("<none>");
    expect(formatHPAMetrics([cpu({ averageUtilization: 80 })], [])).toBe("cpu: <unknown>/80%");
    expect(formatHPAMetrics([cpu({})], [])).toBe("cpu: <unknown>/<auto>");
    expect(
      formatHPAMetrics(
        [{ type: "Resource", resource: { name: "memory", target: { averageValue: "100Mi" } } }],
        [{ type: "Resource", resource: { name: "memory", current: { averageValue: "50Mi" } } }],
      ),
    ).toBe("memory: 50Mi/100Mi");
    expect(
      formatHPAMetrics(
        [{ type: "Pods", pods: { metric: { name: "rps" }, target: { averageValue: "10" } } }],
        [{ type: "Pods", pods: { current: { averageValue: "7500m" } } }],
      ),
    ).toBe("7500m/10");
    expect(formatHPAMetrics([{ type: "Object", object: { target: { value: "5" } } }], [])).toBe(
      "<unknown>/5",
    );
    expect(
      formatHPAMetrics(
        [{ type: "External", external: { target: { averageValue: "30" } } }],
        [{ type: "External", external: { current: { averageValue: "12" } } }],
      ),
    ).toBe("12/30 (avg)");
    expect(
      formatHPAMetrics(
        [
          {
            type: "ContainerResource",
            containerResource: { name: "cpu", container: "app", target: { averageUtilization: 60 } },
          },
        ],
        [
          {
            type: "ContainerResource",
            containerResource: { name: "cpu", current: { averageUtilization: 61 } },
          },
        ],
      ),
    ).toBe("cpu: 61%/60%");
    expect(formatHPAMetrics([{ type: "Weird" }], [])).toBe("<unknown type>");
    expect(
      formatHPAMetrics(
        [cpu({ averageUtilization: 1 }), cpu({ averageUtilization: 2 }), cpu({ averageUtilization: 3 })],
        [],
      ),
    ).toBe("cpu: <unknown>/1%, cpu: <unknown>/2% + 1 more...");
  });

  it("prints a v1 HPA's CPU target", () => {
    const r = row(HPA1, {
      metadata: { name: "web" },
      spec: {
        scaleTargetRef: { kind: "Deployment", name: "web" },
        maxReplicas: 5,
        targetCPUUtilizationPercentage: 80,
      },
      status: { currentReplicas: 1 },
    });
    expect(r).toMatchObject({ Targets: "cpu: <unknown>/80%", MinPods: "<unset>", MaxPods: 5, Replicas: 1 });
    const withCurrent = row(HPA1, {
      metadata: { name: "web" },
      spec: {
        scaleTargetRef: { kind: "Deployment", name: "web" },
        maxReplicas: 5,
        targetCPUUtilizationPercentage: 80,
      },
      status: { currentCPUUtilizationPercentage: 35 },
    });
    expect(withCurrent.Targets).toBe("cpu: 35%/80%");
  });
});

describe("APIService and RBAC bindings", () => {
  it("prints API services", () => {
    const info = res("apiregistration.k8s.io", "v1", "apiservices");
    expect(columnsFor(info).map((c) => c.name)).toEqual(["Name", "Service", "Available", "Age"]);
    expect(
      row(info, {
        metadata: { name: "v1." },
        spec: {},
        status: { conditions: [{ type: "Available", status: "True" }] },
      }),
    ).toMatchObject({
      Service: "Local",
      Available: "True",
    });
    expect(
      row(info, {
        metadata: { name: "v1beta1.metrics.k8s.io" },
        spec: { service: { namespace: "kube-system", name: "metrics-server" } },
        status: { conditions: [{ type: "Available", status: "False", reason: "MissingEndpoints" }] },
      }),
    ).toMatchObject({ Service: "kube-system/metrics-server", Available: "False (MissingEndpoints)" });
    expect(row(info, { metadata: { name: "x" } }).Available).toBe("Unknown");
  });

  it("prints role bindings with subjects in the wide columns", () => {
    const info = res("rbac.authorization.k8s.io", "v1", "rolebindings");
    expect(columnsFor(info).map((c) => `${c.name}:${c.priority}`)).toEqual([
      "Name:0",
      "Role:0",
      "Age:0",
      "Users:1",
      "Groups:1",
      "ServiceAccounts:1",
    ]);
    expect(
      row(info, {
        metadata: { name: "rb" },
        roleRef: { kind: "ClusterRole", name: "view", apiGroup: "rbac.authorization.k8s.io" },
        subjects: [
          { kind: "User", name: "alice" },
          { kind: "User", name: "bob" },
          { kind: "Group", name: "devs" },
          { kind: "ServiceAccount", namespace: "default", name: "builder" },
        ],
      }),
    ).toMatchObject({
      Role: "ClusterRole/view",
      Users: "alice, bob",
      Groups: "devs",
      ServiceAccounts: "default/builder",
    });
    const crb = res("rbac.authorization.k8s.io", "v1", "clusterrolebindings");
    expect(
      row(crb, { metadata: { name: "x" }, roleRef: { kind: "ClusterRole", name: "cluster-admin" } }),
    ).toMatchObject({
      Role: "ClusterRole/cluster-admin",
      Users: "",
    });
  });
});
