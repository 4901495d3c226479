import { describe, expect, it } from "vitest";
import {
  desiredEndpointGroups,
  type EndpointSlice,
  podToEndpoint,
  reconcileSlices,
} from "./endpointslice-desired.js";
import {
  endpointHostname,
  findPort,
  type Pod,
  podIPs,
  type Service,
  serviceAddressTypes,
  serviceSelects,
  shouldPodBeInEndpoints,
  stableStringify,
  TRIGGER_TIME_ANNOTATION,
} from "./endpointslice-pods.js";

function pod(
  name: string,
  ip: string | undefined,
  opts: Partial<{
    ready: boolean;
    deleting: boolean;
    node: string;
    labels: Record<string, string>;
    ports: { name?: string; containerPort: number; protocol?: string }[];
    phase: string;
    hostname: string;
    subdomain: string;
    ips: string[];
  }> = {},
): Pod {
  return {
    metadata: {
      name,
      namespace: "ns",
      uid: `uid-${name}`,
      labels: opts.labels ?? { app: "web" },
      ...(opts.deleting ? { deletionTimestamp: "2024-01-01T00:00:00Z" } : {}),
    },
    spec: {
      nodeName: opts.node,
      hostname: opts.hostname,
      subdomain: opts.subdomain,
      containers: [{ name: "c", ports: opts.ports ?? [{ name: "http", containerPort: 8080 }] }],
    },
    status: {
      phase: opts.phase ?? "Running",
      ...(ip ? { podIP: ip } : {}),
      ...(opts.ips ? { podIPs: opts.ips.map((i) => ({ ip: i })) } : {}),
      conditions: [{ type: "Ready", status: opts.ready === false ? "False" : "True" }],
    },
  };
}

function svc(spec: Partial<NonNullable<Service["spec"]>> = {}, name = "web"): Service {
  return {
    metadata: { name, namespace: "ns", uid: "svc-uid", labels: { team: "a" } },
    spec: {
      selector: { app: "web" },
      ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }],
      clusterIP: "10.96.0.10",
      ...spec,
    },
  };
}

const noZone = () => undefined;

describe("pod helpers", () => {
  it("resolves target ports by number, by name and protocol, and defaults to the service port", () => {
    const p = pod("a", "10.0.0.1", {
      ports: [
        { name: "http", containerPort: 8080 },
        { name: "dns", containerPort: 53, protocol: "UDP" },
      ],
    });
    expect(findPort(p, { port: 80, targetPort: 9000 })).toBe(9000);
    expect(findPort(p, { port: 80, targetPort: "9001" })).toBe(9001);
    expect(findPort(p, { port: 80 })).toBe(80);
    expect(findPort(p, { port: 80, targetPort: "http" })).toBe(8080);
    expect(findPort(p, { port: 53, targetPort: "dns", protocol: "UDP" })).toBe(53);
    expect(findPort(p, { port: 53, targetPort: "dns", protocol: "TCP" })).toBeUndefined();
    expect(findPort(p, { port: 80, targetPort: "nope" })).toBeUndefined();
  });
  it("collects pod IPs from podIPs and podIP without duplicates", () => {
    expect(podIPs(pod("a", "10.0.0.1", { ips: ["10.0.0.1", "fd00::1"] }))).toEqual(["10.0.0.1", "fd00::1"]);
    expect(podIPs(pod("a", undefined))).toEqual([]);
    expect(podIPs(pod("a", "10.0.0.256", { ips: ["10.0.0.256", "fd00::1"] }))).toEqual(["fd00::1"]);
  });
  it("decides which pods are endpoints", () => {
    expect(shouldPodBeInEndpoints(pod("a", undefined), true)).toBe(false);
    expect(shouldPodBeInEndpoints(pod("a", "10.0.0.1", { phase: "Succeeded" }), true)).toBe(false);
    expect(shouldPodBeInEndpoints(pod("a", "10.0.0.1", { phase: "Failed" }), true)).toBe(false);
    expect(shouldPodBeInEndpoints(pod("a", "10.0.0.1", { deleting: true }), true)).toBe(true);
    expect(shouldPodBeInEndpoints(pod("a", "10.0.0.1", { deleting: true }), false)).toBe(false);
  });
  it("address types follow ipFamilies, then the cluster IP", () => {
    expect(serviceAddressTypes(svc())).toEqual(["IPv4"]);
    expect(serviceAddressTypes(svc({ clusterIP: "fd00::10" }))).toEqual(["IPv6"]);
    expect(serviceAddressTypes(svc({ clusterIP: "None" }))).toEqual(["IPv4"]);
    expect(serviceAddressTypes(svc({ ipFamilies: ["IPv6", "IPv4"] }))).toEqual(["IPv6", "IPv4"]);
  });
  it("hostname only when the subdomain names the service", () => {
    expect(endpointHostname(pod("a", "10.0.0.1", { hostname: "h", subdomain: "web" }), svc())).toBe("h");
    expect(
      endpointHostname(pod("a", "10.0.0.1", { hostname: "h", subdomain: "other" }), svc()),
    ).toBeUndefined();
    expect(endpointHostname(pod("a", "10.0.0.1", { hostname: "h" }), svc())).toBeUndefined();
  });
  it("selects pods by every selector label, in the namespace, never for an empty selector", () => {
    expect(serviceSelects(svc(), pod("a", "1.1.1.1"))).toBe(true);
    expect(serviceSelects(svc({ selector: { app: "web", tier: "x" } }), pod("a", "1.1.1.1"))).toBe(false);
    expect(serviceSelects(svc({ selector: {} }), pod("a", "1.1.1.1"))).toBe(false);
    const other = pod("a", "1.1.1.1");
    other.metadata.namespace = "other";
    expect(serviceSelects(svc(), other)).toBe(false);
  });
  it("stableStringify ignores key order and undefined", () => {
    expect(stableStringify({ b: 1, a: [1, { d: undefined, c: 2 }] })).toBe(
      stableStringify({ a: [1, { c: 2 }], b: 1 }),
    );
  });
});

describe("podToEndpoint", () => {
  it("ready, serving and terminating conditions", () => {
    const s = svc();
    expect(podToEndpoint(pod("a", "10.0.0.1"), s, "IPv4", noZone)?.conditions).toEqual({
      ready: true,
      serving: true,
      terminating: false,
    });
    expect(podToEndpoint(pod("a", "10.0.0.1", { ready: false }), s, "IPv4", noZone)?.conditions).toEqual({
      ready: false,
      serving: false,
      terminating: false,
    });
    expect(podToEndpoint(pod("a", "10.0.0.1", { deleting: true }), s, "IPv4", noZone)?.conditions).toEqual({
      ready: false,
      serving: true,
      terminating: true,
    });
    expect(
      podToEndpoint(pod("a", "10.0.0.1", { deleting: true, ready: false }), s, "IPv4", noZone)?.conditions,
    ).toEqual({ ready: false, serving: false, terminating: true });
  });
  it("publishNotReadyAddresses makes every endpoint ready", () => {
    const s = svc({ publishNotReadyAddresses: true });
    expect(podToEndpoint(pod("a", "10.0.0.1", { ready: false }), s, "IPv4", noZone)?.conditions.ready).toBe(
      true,
    );
    expect(podToEndpoint(pod("a", "10.0.0.1", { deleting: true }), s, "IPv4", noZone)?.conditions.ready).toBe(
      true,
    );
  });
  it("carries nodeName, zone, hostname and targetRef; skips pods without an IP of the family", () => {
    const ep = podToEndpoint(
      pod("a", "10.0.0.1", { node: "n1", hostname: "h", subdomain: "web" }),
      svc(),
      "IPv4",
      (n) => (n === "n1" ? "z1" : undefined),
    );
    expect(ep).toEqual({
      addresses: ["10.0.0.1"],
      conditions: { ready: true, serving: true, terminating: false },
      hostname: "h",
      targetRef: { kind: "Pod", namespace: "ns", name: "a", uid: "uid-a" },
      nodeName: "n1",
      zone: "z1",
    });
    expect(podToEndpoint(pod("a", "10.0.0.1"), svc(), "IPv6", noZone)).toBeUndefined();
    expect(podToEndpoint(pod("a", undefined), svc(), "IPv4", noZone)).toBeUndefined();
  });
});

describe("desiredEndpointGroups", () => {
  it("groups pods by the port set they serve", () => {
    const pods = [
      pod("a", "10.0.0.1"),
      pod("b", "10.0.0.2", { ports: [{ name: "http", containerPort: 9090 }] }),
      pod("c", "10.0.0.3", { ports: [] }),
      pod("d", "10.0.0.4"),
    ];
    const groups = [...desiredEndpointGroups(svc(), pods, noZone).values()];
    expect(groups.map((g) => [g.ports.map((p) => p.port), [...g.endpoints.keys()]])).toEqual([
      [[8080], ["pod/a", "pod/d"]],
      [[9090], ["pod/b"]],
      [[], ["pod/c"]],
    ]);
    expect(groups[0]!.ports).toEqual([{ name: "http", protocol: "TCP", port: 8080 }]);
  });
  it("one group per family for dual-stack", () => {
    const groups = [
      ...desiredEndpointGroups(
        svc({ ipFamilies: ["IPv4", "IPv6"] }),
        [pod("a", "10.0.0.1", { ips: ["10.0.0.1", "fd00::1"] })],
        noZone,
      ).values(),
    ];
    expect(groups.map((g) => [g.addressType, g.endpoints.get("pod/a")!.addresses])).toEqual([
      ["IPv4", ["10.0.0.1"]],
      ["IPv6", ["fd00::1"]],
    ]);
  });
});

/** applies a reconcile result to a list of slices, naming created ones s<N> */
function apply(
  existing: EndpointSlice[],
  r: ReturnType<typeof reconcileSlices>,
  counter = { n: 100 },
): EndpointSlice[] {
  const byName = new Map(existing.map((s) => [s.metadata.name!, s]));
  for (const d of r.delete) byName.delete(d.metadata.name!);
  for (const u of r.update) byName.set(u.metadata.name!, u);
  for (const c of r.create) {
    const name = `s${counter.n++}`;
    byName.set(name, { ...c, metadata: { ...c.metadata, name } });
  }
  return [...byName.values()];
}

function pods(n: number, ready = true, from = 0): Pod[] {
  return Array.from({ length: n }, (_, i) =>
    pod(
      `p${String(i + from).padStart(4, "0")}`,
      `10.0.${Math.floor((i + from) / 250)}.${((i + from) % 250) + 1}`,
      { ready },
    ),
  );
}

function reconcile(s: Service, ps: Pod[], existing: EndpointSlice[], max = 100, triggerTime?: string) {
  return reconcileSlices({
    service: s,
    groups: desiredEndpointGroups(s, ps, noZone),
    existing,
    maxEndpointsPerSlice: max,
    triggerTime,
  });
}

describe("reconcileSlices", () => {
  it("creates slices of at most max endpoints with labels, owner and trigger time", () => {
    const r = reconcile(svc(), pods(150), [], 100, "2024-05-01T10:00:00Z");
    expect(r.create.map((s) => s.endpoints!.length)).toEqual([100, 50]);
    expect(r.update).toEqual([]);
    expect(r.added).toBe(150);
    const s = r.create[0]!;
    expect(s.metadata.generateName).toBe("web-");
    expect(s.metadata.labels).toEqual({
      team: "a",
      "kubernetes.io/service-name": "web",
      "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    });
    expect(s.metadata.ownerReferences).toEqual([
      {
        apiVersion: "v1",
        kind: "Service",
        name: "web",
        uid: "svc-uid",
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(s.metadata.annotations?.[TRIGGER_TIME_ANNOTATION]).toBe("2024-05-01T10:00:00Z");
    expect(s.addressType).toBe("IPv4");
    expect(s.ports).toEqual([{ name: "http", protocol: "TCP", port: 8080 }]);
  });

  it("is idempotent: nothing to write when slices match", () => {
    const s = svc();
    const state = apply([], reconcile(s, pods(150), []));
    const again = reconcile(s, pods(150), state, 100, "2024-05-01T10:00:00Z");
    expect([again.create.length, again.update.length, again.delete.length]).toEqual([0, 0, 0]);
  });

  it("ignores key order and server-side port defaults when comparing", () => {
    const s = svc();
    const state = apply([], reconcile(s, pods(3), [])).map(
      (sl) =>
        JSON.parse(
          JSON.stringify({
            ...sl,
            endpoints: sl.endpoints!.map((e) => ({
              targetRef: e.targetRef,
              conditions: e.conditions,
              addresses: e.addresses,
            })),
          }),
        ) as EndpointSlice,
    );
    expect(reconcile(s, pods(3), state).update).toEqual([]);
  });

  it("a readiness flip rewrites only the slice holding that endpoint", () => {
    const s = svc();
    const ps = pods(150);
    const state = apply([], reconcile(s, ps, []));
    const flipped = ps.map((p, i) =>
      i === 120 ? pod(p.metadata.name!, p.status!.podIP, { ready: false }) : p,
    );
    const r = reconcile(s, flipped, state, 100, "2024-05-01T10:00:01Z");
    expect(r.create).toEqual([]);
    expect(r.delete).toEqual([]);
    expect(r.update).toHaveLength(1);
    const ep = r.update[0]!.endpoints!.find((e) => e.targetRef!.name === "p0120")!;
    expect(ep.conditions).toEqual({ ready: false, serving: false, terminating: false });
    expect(r.update[0]!.metadata.annotations?.[TRIGGER_TIME_ANNOTATION]).toBe("2024-05-01T10:00:01Z");
  });

  it("new endpoints fill room in existing slices before new ones are created", () => {
    const s = svc();
    const state = apply([], reconcile(s, pods(150), []));
    const r = reconcile(s, pods(160), state);
    expect(r.create).toEqual([]);
    expect(r.update).toHaveLength(1);
    expect(r.update[0]!.endpoints).toHaveLength(60);
    expect(r.added).toBe(10);
  });

  it("removed endpoints leave their slice; an emptied slice is deleted", () => {
    const s = svc();
    const state = apply([], reconcile(s, pods(150), []));
    const small = state.find((x) => x.endpoints!.length === 50)!;
    const keep = pods(150).filter(
      (p) => !small.endpoints!.some((e) => e.targetRef!.name === p.metadata.name),
    );
    const r = reconcile(s, keep.slice(1), state);
    expect(r.delete.map((d) => d.metadata.name)).toEqual([small.metadata.name]);
    expect(r.update).toHaveLength(1);
    expect(r.update[0]!.endpoints).toHaveLength(99);
    expect(r.removed).toBe(51);
  });

  it("a port change moves endpoints to a slice of the new port set and deletes the old one", () => {
    const s = svc();
    const state = apply([], reconcile(s, pods(5), []));
    const s2 = svc({ ports: [{ name: "http", port: 80, targetPort: 9999, protocol: "TCP" }] });
    const r = reconcile(s2, pods(5), state);
    expect(r.create).toHaveLength(1);
    expect(r.create[0]!.ports).toEqual([{ name: "http", protocol: "TCP", port: 9999 }]);
    expect(r.delete).toHaveLength(1);
  });

  it("keeps one empty placeholder slice when there are no endpoints", () => {
    const s = svc();
    const r = reconcile(s, [], []);
    expect(r.create).toHaveLength(1);
    expect(r.create[0]!.endpoints).toEqual([]);
    const state = apply([], r);
    expect(reconcile(s, [], state)).toMatchObject({ create: [], update: [], delete: [] });
    // endpoints arriving go into new slices; the placeholder goes
    const r2 = reconcile(s, pods(2), state);
    expect(r2.create).toHaveLength(1);
    expect(r2.delete).toHaveLength(1);
    // all endpoints leaving: a slice is emptied into the placeholder rather than deleted and recreated
    const state2 = apply(state, r2);
    const r3 = reconcile(s, [], state2);
    expect(r3.create).toEqual([]);
    expect(r3.update).toHaveLength(1);
    expect(r3.update[0]!.endpoints).toEqual([]);
    expect(r3.update[0]!.ports).toEqual([]);
  });

  it("splits a slice that is over a lowered maximum", () => {
    const s = svc();
    const state = apply([], reconcile(s, pods(100), []));
    const r = reconcile(s, pods(100), state, 40);
    expect(r.update.map((u) => u.endpoints!.length)).toEqual([40]);
    expect(r.create.map((c) => c.endpoints!.length)).toEqual([40, 20]);
  });

  it("service label changes rewrite slice labels only", () => {
    const state = apply([], reconcile(svc(), pods(3), []));
    const s2 = svc();
    s2.metadata.labels = { team: "b" };
    const r = reconcile(s2, pods(3), state, 100, "2024-05-01T10:00:00Z");
    expect(r.update).toHaveLength(1);
    expect(r.update[0]!.metadata.labels!.team).toBe("b");
    expect(r.update[0]!.metadata.annotations?.[TRIGGER_TIME_ANNOTATION]).toBeUndefined();
  });

  it("headless services get the headless label", () => {
    const r = reconcile(svc({ clusterIP: "None" }), pods(1), []);
    expect(r.create[0]!.metadata.labels!["service.kubernetes.io/headless"]).toBe("");
  });

  it("duplicate endpoints across slices are kept once", () => {
    const s = svc();
    const state = apply([], reconcile(s, pods(2), []));
    const dup = { ...state[0]!, metadata: { ...state[0]!.metadata, name: "dup" } };
    const r = reconcile(s, pods(2), [...state, dup]);
    const total = apply([...state, dup], r).reduce((n, x) => n + (x.endpoints?.length ?? 0), 0);
    expect(total).toBe(2);
  });
});
