/**
 * Scheduler throughput: register N fake nodes (default 500), start `kubeplane scheduler` as a
 * child process, create P pods (default 5,000) and watch them get bound. Reports pods/s bound
 * (first create → last bind seen) and per-pod latency (create sent → binding seen via watch),
 * and checks no node got more than it can hold.
 *
 * Anchor: upstream kube-scheduler talks to the apiserver through a client limited to 50 QPS
 * (burst 100) by default (KubeSchedulerConfiguration clientConnection.qps), and every bind is
 * one request, so with defaults it cannot sustain more than ~50 binds/s; the figure is printed
 * next to that bound. Usage: benchScheduler(["--nodes", "500", "--pods", "5000"]); flags: --nodes N,
 * --pods N, --concurrency N (creates in flight, default 32), --rate N (pace creates; default
 * unpaced, which measures throughput; a rate below it measures latency without queueing),
 * --quick (1/10 of the sizes), --in-process (scheduler in the benchmark's process).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { loadClusterConnection, R, RestClient } from "../client/index.js";
import type { Pod } from "../scheduler/types.js";
import { startApiserverProcess } from "./apiserver-proc.js";
import { ms, summarize } from "./stats.js";

const CLI = resolve(import.meta.dirname, "../cli/main.js");
const NS = "default";
const UPSTREAM_DEFAULT_QPS = 50;

export interface SchedulerBenchOptions {
  nodes: number;
  pods: number;
  /** pod creates in flight */
  concurrency: number;
  /** run the scheduler in this process instead of a child (for profiling) */
  inProcess: boolean;
  /** pace pod creates at this many per second; 0: as fast as `concurrency` allows */
  rate: number;
}

function parse(args: string[]): SchedulerBenchOptions {
  const { values } = parseArgs({
    args,
    options: {
      nodes: { type: "string" },
      pods: { type: "string" },
      concurrency: { type: "string" },
      quick: { type: "boolean" },
      "in-process": { type: "boolean" },
      rate: { type: "string" },
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
    nodes: int(values.nodes, 500 / q, "nodes"),
    pods: int(values.pods, 5000 / q, "pods"),
    concurrency: int(values.concurrency, 32, "concurrency"),
    inProcess: !!values["in-process"],
    rate: values.rate === undefined ? 0 : int(values.rate, 0, "rate"),
  };
}

async function pool(n: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, concurrency) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

function progress(msg: string): void {
  process.stderr.write(`[scheduler bench] ${msg}\n`);
}

async function startSchedulerChild(
  kubeconfig: string,
): Promise<{ child: ChildProcess; stop: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    [CLI, "scheduler", "--kubeconfig", kubeconfig, "--bind-address", "127.0.0.1:0"],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, KUBEPLANE_LOG_LEVEL: "warn" },
    },
  );
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  for (const s of [child.stdout!, child.stderr!]) {
    createInterface({ input: s }).on("line", (l) => process.stderr.write(`  [scheduler] ${l}\n`));
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

export async function benchScheduler(args: string[] = []): Promise<string> {
  const o = parse(args);
  progress(`starting apiserver; ${o.nodes} nodes, ${o.pods} pods, ${o.concurrency} creates in flight`);
  const api = await startApiserverProcess({});
  const kubeconfig = join(api.dataDir, "admin.kubeconfig");
  const client = new RestClient(loadClusterConnection({ kubeconfig }), { component: "bench-scheduler" });
  let stopScheduler: (() => Promise<void>) | undefined;
  let schedulerMetrics: (() => Promise<string[]>) | undefined;
  try {
    // ---- nodes
    const t0 = performance.now();
    await pool(o.nodes, 32, async (i) => {
      const name = `node-${String(i).padStart(5, "0")}`;
      const resources = { cpu: "4", memory: "16Gi", pods: "110" };
      await client.create(R.nodes, {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name, labels: { "kubernetes.io/hostname": name } },
        status: {
          capacity: resources,
          allocatable: resources,
          conditions: [{ type: "Ready", status: "True" }],
        },
      });
      await client.patch(
        { ...R.nodes, name, subresource: "status" },
        {
          status: {
            capacity: resources,
            allocatable: resources,
            conditions: [{ type: "Ready", status: "True" }],
          },
        },
        { type: "merge" },
      );
    });
    progress(`${o.nodes} nodes registered in ${ms(performance.now() - t0)}`);

    // ---- scheduler
    if (o.inProcess) {
      const { run } = await import("../scheduler/scheduler.js");
      const { createLogger } = await import("../cli/logger.js");
      const s = await run({ kubeconfig, bindAddress: "", logger: createLogger("scheduler", "warn") });
      stopScheduler = () => s.stop();
      schedulerMetrics = async () => {
        const out: string[] = [];
        for (const name of [
          "scheduler_scheduling_algorithm_duration_seconds",
          "scheduler_scheduling_attempt_duration_seconds",
        ]) {
          const m = await s.registry.getSingleMetric(name)?.get();
          let sum = 0;
          let count = 0;
          for (const v of (m?.values ?? []) as { metricName?: string; value: number }[]) {
            if (v.metricName === `${name}_sum`) sum += v.value;
            if (v.metricName === `${name}_count`) count += v.value;
          }
          out.push(`  ${name} mean: ${ms((sum / count) * 1000)} over ${count}`);
        }
        return out;
      };
    } else {
      const s = await startSchedulerChild(kubeconfig);
      stopScheduler = s.stop;
    }

    // ---- watch pods, then create them
    const sentAt = new Map<string, number>();
    const boundAt = new Map<string, number>();
    const placement = new Map<string, number>();
    const list = await client.list<Pod>({ ...R.pods, namespace: NS });
    const watch = await client.watch<Pod>(
      { ...R.pods, namespace: NS },
      { resourceVersion: list.metadata.resourceVersion, timeoutSeconds: 3600 },
    );
    let allBound: () => void = () => {};
    const allBoundP = new Promise<void>((r) => {
      allBound = r;
    });
    const watching = (async () => {
      for await (const ev of watch) {
        if (ev.type !== "ADDED" && ev.type !== "MODIFIED") continue;
        const p = ev.object;
        const node = p.spec?.nodeName;
        const name = p.metadata.name!;
        if (!node || boundAt.has(name)) continue;
        boundAt.set(name, performance.now());
        placement.set(node, (placement.get(node) ?? 0) + 1);
        if (boundAt.size >= o.pods) allBound();
      }
    })();

    const createStart = performance.now();
    await pool(o.pods, o.concurrency, async (i) => {
      const name = `bench-${i}`;
      if (o.rate > 0) {
        const due = createStart + (i * 1000) / o.rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      sentAt.set(name, performance.now());
      await client.create<Pod>({ ...R.pods, namespace: NS }, {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace: NS },
        spec: {
          containers: [
            {
              name: "app",
              image: "registry.k8s.io/pause:3.9",
              resources: { requests: { cpu: "100m", memory: "128Mi" } },
            },
          ],
        },
      } as Pod);
    });
    const createdIn = performance.now() - createStart;
    progress(
      `${o.pods} pods created in ${ms(createdIn)} (${((o.pods * 1000) / createdIn).toFixed(0)} creates/s)`,
    );
    const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 300_000).unref());
    const outcome = await Promise.race([allBoundP.then(() => "ok" as const), timeout]);
    watch.close();
    await watching.catch(() => {});
    if (outcome === "timeout") progress(`timed out: ${boundAt.size}/${o.pods} bound`);

    // ---- figures
    const lastBound = Math.max(...boundAt.values());
    const seconds = (lastBound - createStart) / 1000;
    const rate = boundAt.size / seconds;
    const latencies: number[] = [];
    for (const [name, t] of boundAt) {
      const s = sentAt.get(name);
      if (s !== undefined) latencies.push(t - s);
    }
    const lat = summarize(latencies);
    const maxPerNode = Math.max(...placement.values());
    const minPerNode = placement.size === o.nodes ? Math.min(...placement.values()) : 0;
    const lines = [
      `scheduler: ${o.nodes} nodes (4 cpu, 16Gi, 110 pods), ${o.pods} pods (100m, 128Mi), ${o.concurrency} creates in flight${o.rate ? ` paced at ${o.rate}/s` : ""}, scheduler ${o.inProcess ? "in process" : "as a child process"}`,
      "",
      "  figure                               kubeplane        anchor",
      `  pods bound per second                ${rate.toFixed(0).padEnd(16)} ≤ ${UPSTREAM_DEFAULT_QPS} (upstream kube-scheduler, default client QPS ${UPSTREAM_DEFAULT_QPS})`,
      `  pod create → bound, p50              ${ms(lat.p50).padEnd(16)}`,
      `  pod create → bound, p99              ${ms(lat.p99).padEnd(16)}`,
      `  pod create → bound, max              ${ms(lat.max).padEnd(16)}`,
      `  pods bound                           ${`${boundAt.size}/${o.pods}`.padEnd(16)}`,
      `  pods per node (min / max)            ${`${minPerNode} / ${maxPerNode}`.padEnd(16)} capacity 40 by cpu, 110 by pod count`,
      `  creates/s offered (caps binds/s)      ${((o.pods * 1000) / createdIn).toFixed(0)}`,
    ];
    if (schedulerMetrics) lines.push(...(await schedulerMetrics()));
    if (maxPerNode > 40) lines.push("  ERROR: a node got more pods than its cpu allows");
    return lines.join("\n");
  } finally {
    await stopScheduler?.();
    await client.close();
    await api.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchScheduler(process.argv.slice(2)).then(
    (out) => process.stdout.write(`${out}\n`),
    (e: unknown) => {
      process.stderr.write(`bench scheduler: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(1);
    },
  );
}
