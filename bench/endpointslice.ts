/**
 * EndpointSlice controller latency under churn: S Services (default 1,000) x P pods each
 * (default 10), all Ready; then readiness flips at R per second (default 50) for D seconds
 * (default 20), each flip a pods/status patch on a random pod. Reports the time from sending the
 * flip to seeing the pod's endpoint change in its EndpointSlice through a watch (p50/p99/max),
 * plus flips lost (never reflected within 30 s).
 *
 * The controller-manager runs as a child process (`kubeplane controller-manager --controllers
 * endpointslice`), the apiserver too, so the benchmark's watch does not share their event loops.
 *
 * Anchors printed alongside: the upstream scalability SLO for in-cluster network programming
 * latency (p99 <= 30 s, of which the EndpointSlice update is one step), and the request budget of
 * an upstream kube-controller-manager with default flags (--kube-api-qps 20), which bounds the
 * slice writes per second it can make: at 50 flips/s it would fall behind.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import type { KubeObject } from "../api/object.js";
import { loadClusterConnection, R, RestClient } from "../client/index.js";
import { startApiserverProcess } from "./apiserver-proc.js";
import { ms, pool, summarize, table } from "./stats.js";

const CLI = resolve(import.meta.dirname, "../cli/main.js");
const NS = "bench-eps";
const SLO_NETWORK_PROGRAMMING_P99_MS = 30_000;
const UPSTREAM_KCM_DEFAULT_QPS = 20;

export interface EndpointSliceBenchOptions {
  services: number;
  podsPerService: number;
  flipsPerSecond: number;
  durationSeconds: number;
  concurrency: number;
  inProcess: boolean;
}

function parse(args: string[]): EndpointSliceBenchOptions {
  const { values } = parseArgs({
    args,
    options: {
      services: { type: "string" },
      pods: { type: "string" },
      rate: { type: "string" },
      duration: { type: "string" },
      concurrency: { type: "string" },
      quick: { type: "boolean" },
      "in-process": { type: "boolean" },
    },
  });
  const int = (v: string | undefined, def: number, name: string) => {
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got "${v}"`);
    return n;
  };
  const q = values.quick ? 10 : 1;
  return {
    services: int(values.services, 1000 / q, "services"),
    podsPerService: int(values.pods, 10, "pods"),
    flipsPerSecond: int(values.rate, 50, "rate"),
    durationSeconds: int(values.duration, 20 / (q > 1 ? 2 : 1), "duration"),
    concurrency: int(values.concurrency, 32, "concurrency"),
    inProcess: !!values["in-process"],
  };
}

function progress(msg: string): void {
  process.stderr.write(`[endpointslice bench] ${msg}\n`);
}

function ts(d = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

async function startControllerManagerChild(
  kubeconfig: string,
): Promise<{ child: ChildProcess; stop: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      CLI,
      "controller-manager",
      "--kubeconfig",
      kubeconfig,
      "--controllers",
      "endpointslice",
      "--bind-address",
      "127.0.0.1:0",
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, KUBEPLANE_LOG_LEVEL: "warn" } },
  );
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  for (const s of [child.stdout!, child.stderr!]) {
    createInterface({ input: s }).on("line", (l) => process.stderr.write(`  [controller-manager] ${l}\n`));
  }
  return {
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

interface SliceEndpoint {
  conditions?: { ready?: boolean };
  targetRef?: { name?: string };
}
interface Slice extends KubeObject {
  endpoints?: SliceEndpoint[] | null;
}

export async function benchEndpointSlice(args: string[] = []): Promise<string> {
  const o = parse(args);
  const totalPods = o.services * o.podsPerService;
  progress(
    `${o.services} services x ${o.podsPerService} pods, ${o.flipsPerSecond} flips/s for ${o.durationSeconds} s`,
  );
  const api = await startApiserverProcess({});
  const kubeconfig = join(api.dataDir, "admin.kubeconfig");
  const client = new RestClient(loadClusterConnection({ kubeconfig }), { component: "bench-endpointslice" });
  let stopCm: (() => Promise<void>) | undefined;
  try {
    await client.create(R.namespaces, { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
    // ---- services and pods (before the controller starts: its first sync sees them all)
    const t0 = performance.now();
    await pool(o.services, o.concurrency, async (i) => {
      await client.create(
        { ...R.services, namespace: NS },
        {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: `svc-${i}`, namespace: NS },
          spec: { selector: { app: `svc-${i}` }, ports: [{ name: "http", port: 80, targetPort: "http" }] },
        },
      );
    });
    const podName = (i: number) => `pod-${Math.floor(i / o.podsPerService)}-${i % o.podsPerService}`;
    const podIP = (i: number) =>
      `10.${64 + Math.floor(i / 62500)}.${Math.floor(i / 250) % 250}.${(i % 250) + 1}`;
    const setReady = (i: number, ready: boolean) =>
      client.patch(
        { ...R.pods, namespace: NS, name: podName(i), subresource: "status" },
        {
          status: {
            phase: "Running",
            podIP: podIP(i),
            podIPs: [{ ip: podIP(i) }],
            conditions: [{ type: "Ready", status: ready ? "True" : "False", lastTransitionTime: ts() }],
          },
        },
        { type: "merge" },
      );
    await pool(totalPods, o.concurrency, async (i) => {
      await client.create(
        { ...R.pods, namespace: NS },
        {
          apiVersion: "v1",
          kind: "Pod",
          metadata: {
            name: podName(i),
            namespace: NS,
            labels: { app: `svc-${Math.floor(i / o.podsPerService)}` },
          },
          spec: {
            nodeName: "bench-node",
            containers: [
              {
                name: "app",
                image: "registry.k8s.io/pause:3.9",
                ports: [{ name: "http", containerPort: 8080 }],
              },
            ],
          },
        },
      );
      await setReady(i, true);
    });
    progress(`${o.services} services and ${totalPods} ready pods created in ${ms(performance.now() - t0)}`);

    // ---- watch slices: pod name -> ready as the slices say
    const readyInSlice = new Map<string, boolean>();
    const sliceEndpoints = new Map<string, string[]>();
    const waiters = new Map<string, { want: boolean; sentAt: number; resolve: (ms: number) => void }>();
    const applySlice = (s: Slice, deleted: boolean) => {
      const key = s.metadata.name ?? "";
      for (const n of sliceEndpoints.get(key) ?? []) readyInSlice.delete(n);
      if (deleted) {
        sliceEndpoints.delete(key);
        return;
      }
      const names: string[] = [];
      const now = performance.now();
      for (const ep of s.endpoints ?? []) {
        const n = ep.targetRef?.name;
        if (!n) continue;
        names.push(n);
        const ready = ep.conditions?.ready === true;
        readyInSlice.set(n, ready);
        const w = waiters.get(n);
        if (w && w.want === ready) {
          waiters.delete(n);
          w.resolve(now - w.sentAt);
        }
      }
      sliceEndpoints.set(key, names);
    };
    const list = await client.list<Slice>({ ...R.endpointslices, namespace: NS });
    for (const s of list.items) applySlice(s, false);
    const watch = await client.watch<Slice>(
      { ...R.endpointslices, namespace: NS },
      { resourceVersion: list.metadata.resourceVersion, timeoutSeconds: 3600 },
    );
    const watching = (async () => {
      for await (const ev of watch) {
        if (ev.type === "ADDED" || ev.type === "MODIFIED") applySlice(ev.object, false);
        else if (ev.type === "DELETED") applySlice(ev.object, true);
      }
    })().catch(() => {});

    // ---- controller-manager
    const t1 = performance.now();
    if (o.inProcess) {
      const { run } = await import("../controllers/manager.js");
      const { createLogger } = await import("../cli/logger.js");
      const cm = await run({
        kubeconfig,
        controllers: ["endpointslice"],
        bindAddress: "",
        logger: createLogger("controller-manager", "warn"),
      });
      stopCm = () => cm.stop();
    } else {
      const cm = await startControllerManagerChild(kubeconfig);
      stopCm = cm.stop;
    }
    const countReady = () => {
      let n = 0;
      for (const v of readyInSlice.values()) if (v) n++;
      return n;
    };
    while (countReady() < totalPods) {
      if (performance.now() - t1 > 600_000)
        throw new Error(`only ${countReady()}/${totalPods} endpoints ready after 600 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const initialSyncMs = performance.now() - t1;
    progress(
      `initial sync: ${totalPods} endpoints in ${sliceEndpoints.size} slices after ${ms(initialSyncMs)}`,
    );

    // ---- churn
    const latencies: number[] = [];
    let lost = 0;
    let errors = 0;
    const inFlight: Promise<void>[] = [];
    const busy = new Set<number>();
    const state = new Map<number, boolean>();
    const flips = o.flipsPerSecond * o.durationSeconds;
    const start = performance.now();
    for (let k = 0; k < flips; k++) {
      const due = start + (k * 1000) / o.flipsPerSecond;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      let i = Math.floor(Math.random() * totalPods);
      while (busy.has(i)) i = (i + 1) % totalPods;
      busy.add(i);
      const want = !(state.get(i) ?? true);
      state.set(i, want);
      const name = podName(i);
      inFlight.push(
        (async () => {
          const seen = new Promise<number>((resolveSeen) => {
            waiters.set(name, { want, sentAt: performance.now(), resolve: resolveSeen });
          });
          try {
            await setReady(i, want);
          } catch {
            errors++;
            waiters.delete(name);
            busy.delete(i);
            return;
          }
          const timeout = new Promise<number>((r) => setTimeout(() => r(-1), 30_000).unref());
          const v = await Promise.race([seen, timeout]);
          if (v < 0) {
            lost++;
            waiters.delete(name);
          } else latencies.push(v);
          busy.delete(i);
        })(),
      );
    }
    const churnMs = performance.now() - start;
    await Promise.all(inFlight);
    watch.close();
    await Promise.race([watching, new Promise((r) => setTimeout(r, 1000))]);
    const s = summarize(latencies);
    progress(
      `${flips} flips sent in ${ms(churnMs)} (${((flips * 1000) / churnMs).toFixed(1)}/s), ${latencies.length} seen, ${lost} lost, ${errors} errors`,
    );
    return table(
      ["figure", "kubeplane", "anchor"],
      [
        ["services x pods", `${o.services} x ${o.podsPerService}`, ""],
        ["initial sync (all endpoints ready in slices)", ms(initialSyncMs), ""],
        [
          "readiness flips/s (offered)",
          `${((flips * 1000) / churnMs).toFixed(1)}`,
          `upstream KCM default --kube-api-qps ${UPSTREAM_KCM_DEFAULT_QPS}`,
        ],
        ["flip -> slice update p50", ms(s.p50), ""],
        [
          "flip -> slice update p99",
          ms(s.p99),
          `network programming SLO p99 <= ${ms(SLO_NETWORK_PROGRAMMING_P99_MS)}`,
        ],
        ["flip -> slice update max", ms(s.max), ""],
        ["flips lost / patch errors", `${lost} / ${errors}`, "0 / 0"],
      ],
    );
  } finally {
    await stopCm?.();
    await client.close();
    await api.stop();
  }
}

/** `node dist/bench/endpointslice.js [flags]` runs it directly. */
if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.dirname, "endpointslice.js")) {
  benchEndpointSlice(process.argv.slice(2)).then(
    (out) => process.stdout.write(`${out}\n`),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
