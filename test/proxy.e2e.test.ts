/**
 * kubeplane proxy end to end, for iptables and nftables mode, entirely inside network
 * namespaces (test/helpers/netns.ts): the apiserver and the proxy run inside the NODE
 * namespace, three pod namespaces serve HTTP/TCP/UDP with their own names, an EXT namespace
 * is a client outside the cluster CIDR. Services and EndpointSlices are written with kubectl.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { builtCliMissing, CLI } from "./helpers/apiserver.js";
import { type NsChild, netnsSkipReason, type Pod, Topology } from "./helpers/netns.js";
import { BACKEND, CONNECT, HTTP_CLIENT, TCP_CLIENT, UDP_CLIENT } from "./helpers/netns-apps.js";

const KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.27";
const SYNC_PERIOD_S = 3;

const skipReason =
  builtCliMissing() ??
  (existsSync(KUBECTL) ? undefined : `kubectl not found at ${KUBECTL}`) ??
  netnsSkipReason([
    "iptables-nft",
    "iptables-legacy",
    "iptables-nft-save",
    "iptables-legacy-save",
    "nft",
    "conntrack",
  ]);
if (skipReason) console.warn(`proxy e2e skipped: ${skipReason}`);

const MODES = ["iptables", "nftables"] as const;

type Json = Record<string, unknown>;

function service(name: string, clusterIP: string, ports: Json[], spec: Json = {}): Json {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: "default" },
    spec: { type: "ClusterIP", clusterIP, clusterIPs: [clusterIP], ports, ...spec },
  };
}

interface Ep {
  pod: Pod;
  node?: string;
  ready?: boolean;
}

function slice(svc: string, eps: Ep[], ports: Json[], suffix = "1"): Json {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: `${svc}-${suffix}`,
      namespace: "default",
      labels: { "kubernetes.io/service-name": svc },
      annotations: { "endpoints.kubernetes.io/last-change-trigger-time": new Date().toISOString() },
    },
    addressType: "IPv4",
    endpoints: eps.map((e) => ({
      addresses: [e.pod.ip],
      conditions: { ready: e.ready ?? true },
      nodeName: e.node ?? "node-b",
    })),
    ports,
  };
}

const HTTP = [{ name: "http", protocol: "TCP", port: 80, targetPort: 8080 }];
const HTTP_EP = [{ name: "http", protocol: "TCP", port: 8080 }];

function normalizeSave(s: string): string {
  return s
    .split("\n")
    .filter((l) => !l.startsWith("#"))
    .map((l) => l.replace(/\[\d+:\d+\]/g, "[0:0]"))
    .join("\n");
}
function normalizeNft(s: string): string {
  return s.replace(/packets \d+ bytes \d+/g, "packets 0 bytes 0");
}

describe.skipIf(!!skipReason).each(MODES)("kubeplane proxy --proxy-mode %s", (mode) => {
  let topo: Topology;
  let dataDir: string;
  let kubeconfig: string;
  let proxy: NsChild | undefined;
  const [pod1, pod2, pod3] = [0, 1, 2].map((i) => ({
    ns: "",
    name: `pod${i + 1}`,
    ip: `10.244.0.${11 + i}`,
  })) as Pod[];
  let before: { legacy: string; nft: string; ruleset: string };

  const node = () => topo.node;
  const kubectl = async (args: string[], input?: string) => {
    const r = await topo.exec(node(), [KUBECTL, "--kubeconfig", kubeconfig, ...args], {
      input,
      timeoutMs: 60_000,
    });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const apply = (...objs: Json[]) =>
    kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: objs }));
  const nodeScript = async (ns: string, script: string, args: string[], timeoutMs = 120_000) => {
    const r = await topo.exec(ns, [process.execPath, "-e", script, ...args], { timeoutMs });
    if (r.code !== 0) throw new Error(`script in ${ns} failed: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Json;
  };
  const httpGet = (ns: string, url: string, n: number, timeoutMs = 3000) =>
    nodeScript(ns, HTTP_CLIENT, [url, String(n), String(timeoutMs)]) as Promise<{
      counts: Record<string, number>;
      errors: Record<string, number>;
      seq: string[];
      ms: number;
    }>;
  const connect = (ns: string, host: string, port: number) =>
    nodeScript(ns, CONNECT, [host, String(port), "5000"]) as Promise<{ result: string; ms: number }>;
  const curlStatus = async (url: string) => {
    const r = await topo.exec(node(), ["curl", "-s", "-m", "3", "-o", "-", "-w", "\n%{http_code}", url]);
    const lines = r.stdout.trim().split("\n");
    return { code: Number(lines.at(-1)), body: lines.slice(0, -1).join("\n") };
  };
  const saveAll = async () => ({
    legacy: normalizeSave((await topo.exec(node(), ["iptables-legacy-save"])).stdout),
    nft: normalizeSave((await topo.exec(node(), ["iptables-nft-save"])).stdout),
    ruleset: normalizeNft((await topo.exec(node(), ["nft", "list", "ruleset"])).stdout),
  });

  async function startProxy(extra: string[] = []): Promise<NsChild> {
    const p = topo.spawnIn(
      node(),
      [
        process.execPath,
        CLI,
        "proxy",
        "--kubeconfig",
        kubeconfig,
        "--hostname-override",
        "node-a",
        "--proxy-mode",
        mode,
        "--cluster-cidr",
        "10.244.0.0/24",
        "--iptables-sync-period",
        `${SYNC_PERIOD_S}s`,
        ...extra,
      ],
      { KUBEPLANE_LOG_LEVEL: "info" },
    );
    await p.waitForLine((l) => l.includes('"first sync done"'), 30_000, "the proxy's first sync");
    return p;
  }

  /** polls until fn returns a value, at most ms; returns it with the time taken */
  async function within<T>(
    ms: number,
    what: string,
    fn: () => Promise<T | undefined>,
  ): Promise<{ value: T; ms: number }> {
    const t0 = Date.now();
    let last: unknown;
    while (Date.now() - t0 < ms) {
      try {
        const v = await fn();
        if (v !== undefined) return { value: v, ms: Date.now() - t0 };
      } catch (e) {
        last = e;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`not within ${ms} ms: ${what}${last ? ` (${String(last)})` : ""}`);
  }

  beforeAll(async () => {
    topo = await Topology.create();
    try {
      for (const [i, p] of topo.pods.entries()) [pod1, pod2, pod3][i]!.ns = p.ns;
      dataDir = mkdtempSync(join(tmpdir(), "kubeplane-proxy-e2e-"));
      kubeconfig = join(dataDir, "admin.kubeconfig");
      const api = topo.spawnIn(node(), [
        process.execPath,
        CLI,
        "apiserver",
        "--bind-address",
        "127.0.0.1",
        "--secure-port",
        "0",
        "--data-dir",
        dataDir,
      ]);
      for (const p of topo.pods) {
        const b = topo.spawnIn(p.ns, [process.execPath, "-e", BACKEND, p.name]);
        await b.waitForLine((l) => l === `ready ${p.name}`, 10_000, `backend ${p.name}`);
      }
      await api.waitForLine((l) => l.includes('"apiserver ready"'), 60_000, "the apiserver");

      // rules that were there before the proxy: cleanup must leave them (and only them)
      for (const t of ["nat", "filter", "mangle"]) {
        await topo.exec(node(), [
          "iptables-nft",
          "-t",
          t,
          "-A",
          "OUTPUT",
          "-d",
          "10.250.0.1",
          "-j",
          "RETURN",
        ]);
      }
      await topo.exec(node(), [
        "nft",
        "add table inet user-table; add chain inet user-table c; add rule inet user-table c ip daddr 10.250.0.2 counter",
      ]);
      before = await saveAll();

      await apply(
        {
          apiVersion: "v1",
          kind: "Node",
          metadata: { name: "node-a" },
          status: { addresses: [{ type: "InternalIP", address: topo.nodeIP }] },
        },
        service("web", "10.96.0.10", HTTP),
        slice("web", [{ pod: pod1, node: "node-a" }, { pod: pod2 }, { pod: pod3 }], HTTP_EP),
        service("empty", "10.96.0.11", HTTP),
        service("np", "10.96.0.12", [{ ...HTTP[0], nodePort: 30080 }], { type: "NodePort" }),
        slice("np", [{ pod: pod1, node: "node-a" }, { pod: pod2 }, { pod: pod3 }], HTTP_EP),
        service("sticky", "10.96.0.13", HTTP, {
          sessionAffinity: "ClientIP",
          sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
        }),
        slice("sticky", [{ pod: pod1, node: "node-a" }, { pod: pod2 }, { pod: pod3 }], HTTP_EP),
        service("local", "10.96.0.14", [{ ...HTTP[0], nodePort: 30081 }], {
          type: "LoadBalancer",
          externalTrafficPolicy: "Local",
          healthCheckNodePort: 30500,
        }),
        slice("local", [{ pod: pod1, node: "node-a" }, { pod: pod2 }, { pod: pod3 }], HTTP_EP),
        service("udp", "10.96.0.15", [{ name: "dns", protocol: "UDP", port: 53, targetPort: 5353 }]),
        slice("udp", [{ pod: pod1, node: "node-a" }], [{ name: "dns", protocol: "UDP", port: 5353 }]),
        service("echo", "10.96.0.16", [{ name: "echo", protocol: "TCP", port: 9000, targetPort: 9000 }]),
        slice(
          "echo",
          [{ pod: pod1, node: "node-a" }, { pod: pod2 }, { pod: pod3 }],
          [{ name: "echo", protocol: "TCP", port: 9000 }],
        ),
        service("self", "10.96.0.17", HTTP),
        slice("self", [{ pod: pod1, node: "node-a" }], HTTP_EP),
      );
      proxy = await startProxy();
    } catch (e) {
      await topo.destroy();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      throw e;
    }
  }, 180_000);

  afterAll(async () => {
    if (proxy && process.env.KUBEPLANE_E2E_DEBUG) console.log(proxy.lines.slice(-40).join("\n"));
    await topo?.destroy();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("spreads 300 ClusterIP requests from the node and from a pod over all three backends", async () => {
    for (const ns of [node(), pod2.ns]) {
      const r = await httpGet(ns, "http://10.96.0.10/", 300);
      expect(r.errors, `errors from ${ns}`).toEqual({});
      for (const p of ["pod1", "pod2", "pod3"])
        expect(r.counts[p] ?? 0, `${p} from ${ns}: ${JSON.stringify(r.counts)}`).toBeGreaterThanOrEqual(45);
    }
  });

  it("reflects removing and adding an endpoint within 2 s", async () => {
    await apply(slice("web", [{ pod: pod1, node: "node-a" }, { pod: pod2 }], HTTP_EP));
    const gone = await within(4000, "pod3 removed", async () => {
      const r = await httpGet(node(), "http://10.96.0.10/", 30);
      return !r.counts.pod3 && !Object.keys(r.errors).length ? r : undefined;
    });
    await apply(slice("web", [{ pod: pod1, node: "node-a" }, { pod: pod2 }, { pod: pod3 }], HTTP_EP));
    const back = await within(4000, "pod3 back", async () => {
      const r = await httpGet(node(), "http://10.96.0.10/", 10);
      return r.counts.pod3 ? r : undefined;
    });
    expect(gone.ms).toBeLessThan(2000);
    expect(back.ms).toBeLessThan(2000);
  });

  it("refuses connections to a Service without endpoints at once", async () => {
    for (const ns of [node(), pod2.ns]) {
      const r = await connect(ns, "10.96.0.11", 80);
      expect(r.result).toBe("ECONNREFUSED");
      expect(r.ms).toBeLessThan(1000);
    }
  });

  it("serves a NodePort on the node address (from the node, a pod and outside the cluster)", async () => {
    for (const ns of [node(), pod2.ns, topo.ext.ns]) {
      const r = await httpGet(ns, `http://${topo.nodeIP}:30080/`, 30);
      expect(r.errors, ns).toEqual({});
      expect(Object.keys(r.counts).sort(), ns).toEqual(["pod1", "pod2", "pod3"]);
    }
  });

  it("keeps ClientIP affinity", async () => {
    for (const ns of [pod2.ns, pod3.ns]) {
      const r = await httpGet(ns, "http://10.96.0.13/", 40);
      expect(r.errors).toEqual({});
      expect(Object.keys(r.counts), JSON.stringify(r.counts)).toHaveLength(1);
    }
  });

  it("externalTrafficPolicy Local: only local endpoints, health check node port 200/503", async () => {
    const r = await httpGet(topo.ext.ns, `http://${topo.nodeIP}:30081/`, 30);
    expect(r.errors).toEqual({});
    expect(r.counts).toEqual({ pod1: 30 });
    const ok = await curlStatus("http://127.0.0.1:30500/");
    expect(ok.code).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({
      service: { namespace: "default", name: "local" },
      localEndpoints: 1,
      serviceProxyHealthy: true,
    });
    await apply(slice("local", [{ pod: pod2 }, { pod: pod3 }], HTTP_EP));
    await within(3000, "health check 503", async () =>
      (await curlStatus("http://127.0.0.1:30500/")).code === 503 ? true : undefined,
    );
    const bad = await curlStatus("http://127.0.0.1:30500/");
    expect(JSON.parse(bad.body)).toMatchObject({ localEndpoints: 0 });
    // external traffic without a local endpoint is dropped, not sent to another node's pod
    const c = await connect(topo.ext.ns, topo.nodeIP, 30081);
    expect(c.result).not.toBe("connected");
  });

  it("hairpin: a pod reaches itself through its own Service", async () => {
    const r = await httpGet(pod1.ns, "http://10.96.0.17/", 10);
    expect(r.errors).toEqual({});
    expect(r.counts).toEqual({ pod1: 10 });
  });

  it("a UDP Service fails over after its endpoint is removed (conntrack cleared)", async () => {
    const client = topo.spawnIn(pod2.ns, [process.execPath, "-e", UDP_CLIENT, "10.96.0.15", "53"]);
    try {
      await client.waitForLine((l) => l.includes('"from":"pod1"'), 5000, "UDP replies from pod1");
      await apply(slice("udp", [{ pod: pod3 }], [{ name: "dns", protocol: "UDP", port: 5353 }]));
      const t0 = Date.now();
      await client.waitForLine(
        (l) => l.includes('"from":"pod3"'),
        5000,
        "UDP replies from pod3 on the same socket",
      );
      expect(Date.now() - t0).toBeLessThan(3000);
    } finally {
      await client.kill();
    }
  });

  it("restarting the proxy keeps an established TCP connection", async () => {
    const client = topo.spawnIn(pod2.ns, [process.execPath, "-e", TCP_CLIENT, "10.96.0.16", "9000"]);
    try {
      await client.waitForLine((l) => l.includes('"reply"'), 5000, "echo replies");
      await proxy!.kill("SIGTERM");
      // rules stay while the proxy is down
      const down = await httpGet(node(), "http://10.96.0.10/", 5);
      expect(down.errors).toEqual({});
      proxy = await startProxy();
      const n = client.lines.length;
      await new Promise((r) => setTimeout(r, 1500));
      const after = client.lines.slice(n);
      expect(after.some((l) => l.includes('"reply"'))).toBe(true);
      expect(client.lines.some((l) => l.includes('"event":"close"') || l.includes('"event":"error"'))).toBe(
        false,
      );
    } finally {
      await client.kill();
    }
  });

  it(`repairs a flush by hand within the sync period (${SYNC_PERIOD_S}s)`, async () => {
    await httpGet(node(), "http://10.96.0.10/", 3);
    if (mode === "iptables") {
      const iptMode = proxy!.lines
        .find((l) => l.includes("iptables-wrapper detection"))
        ?.includes("iptables-nft")
        ? "nft"
        : "legacy";
      await topo.exec(node(), [`iptables-${iptMode}`, "-t", "nat", "-F"]);
      // the operator's own rule went with the flush: put it back (cleanup is compared against it)
      await topo.exec(node(), [
        "iptables-nft",
        "-t",
        "nat",
        "-A",
        "OUTPUT",
        "-d",
        "10.250.0.1",
        "-j",
        "RETURN",
      ]);
    } else {
      await topo.exec(node(), ["nft", "flush", "table", "ip", "kube-proxy"]);
    }
    const broken = await connect(node(), "10.96.0.10", 80);
    expect(broken.result).not.toBe("connected");
    const fixed = await within(SYNC_PERIOD_S * 1000 + 3000, "service works again", async () => {
      const r = await httpGet(node(), "http://10.96.0.10/", 3, 500);
      return Object.keys(r.errors).length ? undefined : r;
    });
    expect(fixed.ms).toBeLessThan(SYNC_PERIOD_S * 1000 + 1500);
  });

  it("serves /healthz, /livez and kube-proxy metrics", async () => {
    await apply(slice("web", [{ pod: pod1, node: "node-a" }, { pod: pod2 }], HTTP_EP));
    await within(5000, "programming latency observed", async () =>
      /kubeproxy_network_programming_duration_seconds_count [1-9]/.test(
        (await curlStatus("http://127.0.0.1:10249/metrics")).body,
      )
        ? true
        : undefined,
    );
    for (const path of ["/healthz", "/livez"]) {
      const h = await curlStatus(`http://127.0.0.1:10256${path}`);
      expect(h.code).toBe(200);
      expect(Object.keys(JSON.parse(h.body)).sort()).toEqual(["currentTime", "lastUpdated", "nodeEligible"]);
    }
    const m = await curlStatus("http://127.0.0.1:10249/metrics");
    for (const name of [
      "kubeproxy_sync_proxy_rules_duration_seconds",
      "kubeproxy_sync_full_proxy_rules_duration_seconds",
      "kubeproxy_sync_partial_proxy_rules_duration_seconds",
      "kubeproxy_network_programming_duration_seconds",
      "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
      "kubeproxy_sync_proxy_rules_endpoint_changes_total",
      "kubeproxy_sync_proxy_rules_service_changes_total",
      "kubeproxy_sync_proxy_rules_iptables_restore_failures_total",
    ]) {
      expect(m.body).toContain(name);
    }
    expect(m.body).toMatch(/kubeproxy_sync_proxy_rules_endpoint_changes_total [1-9]/);
  });

  it("SIGTERM leaves the rules; --cleanup restores the ruleset as it was before", async () => {
    await proxy!.kill("SIGTERM");
    proxy = undefined;
    const still = await httpGet(node(), "http://10.96.0.10/", 5);
    expect(still.errors).toEqual({});
    const c = topo.spawnIn(node(), [process.execPath, CLI, "proxy", "--cleanup"]);
    expect(await c.exited).toBe(0);
    const after = await saveAll();
    expect(after.legacy).toBe(before.legacy);
    expect(after.nft).toBe(before.nft);
    if (mode === "nftables") expect(after.ruleset).toBe(before.ruleset);
    expect(after.ruleset).not.toContain("kube-proxy");
    expect(after.nft).not.toContain("KUBE-");
  });
});

describe.skipIf(!!skipReason)("kubeplane proxy --proxy-mode ipvs", () => {
  it("fails at start with one line suggesting nftables when the kernel has no IP_VS", async () => {
    if (existsSync("/proc/net/ip_vs") || existsSync("/sys/module/ip_vs")) return; // kernel has IP_VS
    const topo = await Topology.create();
    try {
      const p = topo.spawnIn(topo.node, [
        process.execPath,
        CLI,
        "proxy",
        "--proxy-mode",
        "ipvs",
        "--kubeconfig",
        "/nonexistent",
      ]);
      expect(await p.exited).toBe(2);
      expect(p.lines).toHaveLength(1);
      expect(p.lines[0]).toMatch(/IP_VS.*--proxy-mode nftables/);
    } finally {
      await topo.destroy();
    }
  });
});
