/**
 * Cluster DNS benchmark: dnsperf against `kubeplane dns` and, in the same run, against unbound
 * serving the same names as local-data.
 *
 *   1. throughput: an apiserver child holds S ClusterIP Services (default 1000); `kubeplane dns`
 *      (a child, `node dist/cli/main.js dns`) answers `svc-i.bench-dns.svc.cluster.local` from its
 *      informers and forwards `ext-i.example.test` to unbound (then answers them from its cache).
 *      unbound (one thread) serves both name sets as local-data. dnsperf -c C for D seconds per
 *      (server, name set), after one warm-up pass over the names. Reported: QPS, mean latency, lost
 *      queries, the ratio to unbound, and QPS per CPU-second the server process used (from
 *      /proc/<pid>/stat) next to CoreDNS's published ~17k QPS per vCPU.
 *   2. memory: a fresh apiserver with 10k Services + 50k Pods (with pod IPs), `kubeplane dns
 *      --pods verified` synced to it; its RSS next to CoreDNS's formula
 *      MB = (pods + services) / 1000 + 54.
 *
 * Needs Debian's dnsperf and unbound, and a build (`npm run build`). If `kubeplane dns` does not
 * start, its rows say so and unbound's are still measured.
 *
 * Flags: --services S, --external E (default 1000), --duration D (10), --clients C (20),
 * --mem-services (10000), --mem-pods (50000), --no-memory, --quick (1/10 sizes, 5 s runs).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs, promisify } from "node:util";
import { loadClusterConnection, R, RestClient } from "../client/index.js";
import { startUnbound, type Unbound, unboundMissing } from "../dns/forward-unbound.js";
import { type ApiserverProcess, startApiserverProcess } from "./apiserver-proc.js";
import { ms, pool, table } from "./stats.js";

const run = promisify(execFile);
const CLI = resolve(import.meta.dirname, "../cli/main.js");
const DNSPERF = "/usr/bin/dnsperf";
const NS = "bench-dns";
const ZONE = "cluster.local";
const COREDNS_QPS_PER_VCPU = 17_000;
const COREDNS_MB = (pods: number, services: number) => (pods + services) / 1000 + 54;

interface Options {
  services: number;
  external: number;
  duration: number;
  clients: number;
  memServices: number;
  memPods: number;
  memory: boolean;
  concurrency: number;
}

function parse(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      services: { type: "string" },
      external: { type: "string" },
      duration: { type: "string" },
      clients: { type: "string" },
      "mem-services": { type: "string" },
      "mem-pods": { type: "string" },
      "no-memory": { type: "boolean" },
      quick: { type: "boolean" },
    },
  });
  const q = values.quick ? 10 : 1;
  const int = (v: string | undefined, def: number, name: string) => {
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got "${v}"`);
    return n;
  };
  return {
    services: int(values.services, 1000, "services"),
    external: int(values.external, 1000, "external"),
    duration: int(values.duration, values.quick ? 5 : 10, "duration"),
    clients: int(values.clients, 20, "clients"),
    memServices: int(values["mem-services"], 10_000 / q, "mem-services"),
    memPods: int(values["mem-pods"], 50_000 / q, "mem-pods"),
    memory: !values["no-memory"],
    concurrency: 32,
  };
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

function progress(msg: string): void {
  process.stderr.write(`[dns bench] ${msg}\n`);
}

/** user + system CPU seconds of a process so far */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return Number.NaN;
  }
}

function rssMiB(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

interface PerfResult {
  qps: number;
  avgLatencyMs: number;
  lost: number;
  sent: number;
  rcodes: string;
  cpu: number;
}

async function dnsperf(
  port: number,
  file: string,
  seconds: number,
  clients: number,
  pid?: number,
): Promise<PerfResult> {
  const cpu0 = cpuSeconds(pid);
  const args = ["-s", "127.0.0.1", "-p", String(port), "-d", file, "-c", String(clients), "-q", "200"];
  args.push(...(seconds > 0 ? ["-l", String(seconds)] : ["-n", "1"]));
  const { stdout } = await run(DNSPERF, args, { timeout: (seconds + 60) * 1000, maxBuffer: 1 << 24 });
  const num = (re: RegExp) => {
    const m = re.exec(stdout);
    return m ? Number(m[1]) : Number.NaN;
  };
  return {
    qps: num(/Queries per second:\s+([\d.]+)/),
    avgLatencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    lost: num(/Queries lost:\s+(\d+)/),
    sent: num(/Queries sent:\s+(\d+)/),
    rcodes: (/Response codes:\s+(.*)/.exec(stdout)?.[1] ?? "").trim(),
    cpu: cpuSeconds(pid) - cpu0,
  };
}

interface DnsChild {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** starts `kubeplane dns` and waits for /ready; the reason as a string if it does not get there */
async function startKubeplaneDns(
  kubeconfig: string,
  upstream: string,
  pods: "disabled" | "verified",
): Promise<DnsChild | string> {
  if (!existsSync(CLI)) return `${CLI} missing: npm run build`;
  const port = await freePort();
  const ready = await freePort();
  const args = [
    CLI,
    "dns",
    "--kubeconfig",
    kubeconfig,
    "--cluster-domain",
    ZONE,
    "--listen",
    `127.0.0.1:${port}`,
    "--upstream",
    upstream,
    "--pods",
    pods,
    "--health-bind-address",
    `127.0.0.1:${await freePort()}`,
    "--ready-bind-address",
    `127.0.0.1:${ready}`,
    "--metrics-bind-address",
    `127.0.0.1:${await freePort()}`,
  ];
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, KUBEPLANE_LOG_LEVEL: "warn" },
  });
  const tail: string[] = [];
  for (const s of [child.stdout!, child.stderr!]) {
    createInterface({ input: s }).on("line", (l) => {
      tail.push(l);
      if (tail.length > 20) tail.shift();
    });
  }
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(t);
  };
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      return `kubeplane dns exited with ${child.exitCode}: ${tail.slice(-5).join(" | ")}`;
    try {
      const res = await fetch(`http://127.0.0.1:${ready}/ready`);
      if (res.status === 200) return { port, child, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await stop();
  return `kubeplane dns not ready in 120 s: ${tail.slice(-5).join(" | ")}`;
}

async function createServices(client: RestClient, n: number, concurrency: number): Promise<string[]> {
  const ips: string[] = new Array(n);
  await pool(n, concurrency, async (i) => {
    const svc = (await client.create(
      { ...R.services, namespace: NS },
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: `svc-${i}`, namespace: NS },
        spec: { selector: { app: `svc-${i}` }, ports: [{ name: "http", port: 80, targetPort: 8080 }] },
      },
    )) as { spec?: { clusterIP?: string } };
    ips[i] = svc.spec?.clusterIP ?? "";
  });
  return ips;
}

async function setupCluster(
  services: number,
  concurrency: number,
): Promise<{ api: ApiserverProcess; client: RestClient; ips: string[] }> {
  const api = await startApiserverProcess({});
  const client = new RestClient(
    loadClusterConnection({ kubeconfig: join(api.dataDir, "admin.kubeconfig") }),
    {
      component: "bench-dns",
    },
  );
  await client.create(R.namespaces, { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
  const t0 = performance.now();
  const ips = await createServices(client, services, concurrency);
  progress(`${services} services created in ${ms(performance.now() - t0)}`);
  return { api, client, ips };
}

function fmtQps(v: number): string {
  return Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "n/a";
}

export async function benchDns(args: string[] = []): Promise<string> {
  const o = parse(args);
  if (!existsSync(DNSPERF)) throw new Error("dnsperf is not installed (apt-get install dnsperf)");
  const missing = unboundMissing();
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(join(tmpdir(), "kubeplane-bench-dns-"));
  const out: string[] = [];
  let unbound: Unbound | undefined;
  let dns: DnsChild | undefined;
  let cluster: Awaited<ReturnType<typeof setupCluster>> | undefined;
  try {
    // ------------------------------------------------------------ throughput
    cluster = await setupCluster(o.services, o.concurrency);
    const clusterNames = cluster.ips.map((_, i) => `svc-${i}.${NS}.svc.${ZONE}`);
    const extNames = Array.from({ length: o.external }, (_, i) => `ext-${i}.example.test`);
    const extIP = (i: number) => `198.51.${100 + Math.floor(i / 250)}.${(i % 250) + 1}`;
    unbound = await startUnbound({
      port: await freePort(),
      zones: [`${ZONE}.`, "example.test."],
      localData: [
        `${ZONE}. 30 IN SOA ns.dns.${ZONE}. hostmaster.${ZONE}. 1 7200 1800 86400 30`,
        "example.test. 3600 IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60",
        ...clusterNames.map((n, i) => `${n}. 30 IN A ${cluster!.ips[i]}`),
        ...extNames.map((n, i) => `${n}. 300 IN A ${extIP(i)}`),
      ],
    });
    progress(`unbound on ${unbound.address} with ${clusterNames.length + extNames.length} local-data names`);
    const clusterFile = join(dir, "cluster.txt");
    const extFile = join(dir, "external.txt");
    writeFileSync(clusterFile, clusterNames.map((n) => `${n} A\n`).join(""));
    writeFileSync(extFile, extNames.map((n) => `${n} A\n`).join(""));

    const started = await startKubeplaneDns(
      join(cluster.api.dataDir, "admin.kubeconfig"),
      unbound.address,
      "disabled",
    );
    let dnsSkip: string | undefined;
    if (typeof started === "string") {
      dnsSkip = started;
      progress(`kubeplane dns skipped: ${started}`);
    } else {
      dns = started;
      progress(`kubeplane dns on 127.0.0.1:${dns.port}`);
    }

    const rows: string[][] = [];
    const sets: [string, string][] = [
      ["cluster names", clusterFile],
      ["external names (cached)", extFile],
    ];
    for (const [label, file] of sets) {
      // warm-up: one pass over the names (fills kubeplane's forward cache)
      if (dns) await dnsperf(dns.port, file, 0, o.clients);
      await dnsperf(unbound.port, file, 0, o.clients);
      const ub = await dnsperf(unbound.port, file, o.duration, o.clients, unbound.child.pid);
      progress(`${label}: unbound ${fmtQps(ub.qps)} QPS (${ub.rcodes})`);
      let kp: PerfResult | undefined;
      if (dns) {
        kp = await dnsperf(dns.port, file, o.duration, o.clients, dns.child.pid);
        progress(`${label}: kubeplane ${fmtQps(kp.qps)} QPS (${kp.rcodes})`);
      }
      const perCpu = (r: PerfResult) => (r.qps * o.duration) / r.cpu;
      rows.push([
        label,
        kp ? fmtQps(kp.qps) : "skipped",
        fmtQps(ub.qps),
        kp ? (kp.qps / ub.qps).toFixed(2) : "n/a",
        kp ? ms(kp.avgLatencyMs) : "n/a",
        ms(ub.avgLatencyMs),
        kp ? (kp.avgLatencyMs / ub.avgLatencyMs).toFixed(2) : "n/a",
        kp ? `${kp.lost}/${kp.sent}` : "n/a",
        `${ub.lost}/${ub.sent}`,
        kp ? fmtQps(perCpu(kp)) : "n/a",
        fmtQps(perCpu(ub)),
        kp ? (perCpu(kp) / COREDNS_QPS_PER_VCPU).toFixed(2) : "n/a",
      ]);
    }
    out.push(
      `DNS throughput: dnsperf -c ${o.clients} -q 200, ${o.duration} s per row, ${o.services} Services, ` +
        `${o.external} external names (forwarded to unbound, then cached); unbound: 1 thread, same names as local-data`,
    );
    if (dnsSkip) out.push(`kubeplane dns skipped: ${dnsSkip}`);
    out.push(
      table(
        [
          "names",
          "kubeplane QPS",
          "unbound QPS",
          "QPS ratio",
          "kubeplane mean lat",
          "unbound mean lat",
          "latency ratio",
          "kubeplane lost",
          "unbound lost",
          "kubeplane QPS/CPU-s",
          "unbound QPS/CPU-s",
          `vs CoreDNS ${COREDNS_QPS_PER_VCPU / 1000}k/vCPU`,
        ],
        rows,
      ),
    );
    await dns?.stop();
    dns = undefined;
    await unbound.stop();
    unbound = undefined;
    await cluster.api.stop();
    cluster = undefined;

    // ------------------------------------------------------------ memory
    if (o.memory) {
      out.push("");
      cluster = await setupCluster(o.memServices, o.concurrency);
      const t0 = performance.now();
      const podIP = (i: number) =>
        `10.${64 + Math.floor(i / 62500)}.${Math.floor(i / 250) % 250}.${(i % 250) + 1}`;
      const client = cluster.client;
      await pool(o.memPods, o.concurrency, async (i) => {
        await client.create(
          { ...R.pods, namespace: NS },
          {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: `pod-${i}`, namespace: NS, labels: { app: `svc-${i % o.memServices}` } },
            spec: {
              nodeName: "bench-node",
              containers: [{ name: "app", image: "registry.k8s.io/pause:3.9" }],
            },
          },
        );
        await client.patch(
          { ...R.pods, namespace: NS, name: `pod-${i}`, subresource: "status" },
          { status: { phase: "Running", podIP: podIP(i), podIPs: [{ ip: podIP(i) }] } },
          { type: "merge" },
        );
      });
      progress(`${o.memPods} pods created in ${ms(performance.now() - t0)}`);
      // the upstream is never asked here; any loopback address will do
      const started2 = await startKubeplaneDns(
        join(cluster.api.dataDir, "admin.kubeconfig"),
        "127.0.0.1:9",
        "verified",
      );
      const formula = COREDNS_MB(o.memPods, o.memServices);
      if (typeof started2 === "string") {
        out.push(`DNS memory: kubeplane dns skipped: ${started2}`);
        out.push(
          `CoreDNS formula for ${o.memServices} Services + ${o.memPods} Pods: ${formula.toFixed(0)} MB`,
        );
      } else {
        dns = started2;
        await new Promise((r) => setTimeout(r, 3000));
        const rss = rssMiB(dns.child.pid);
        out.push(
          `DNS memory: kubeplane dns --pods verified, synced to ${o.memServices} Services + ${o.memPods} Pods`,
        );
        out.push(
          table(
            ["Services", "Pods", "kubeplane dns RSS", "CoreDNS formula (pods+services)/1000+54", "ratio"],
            [
              [
                String(o.memServices),
                String(o.memPods),
                `${rss.toFixed(0)} MiB`,
                `${formula.toFixed(0)} MB`,
                (rss / formula).toFixed(2),
              ],
            ],
          ),
        );
      }
    }
    return `${out.join("\n")}\n`;
  } finally {
    await dns?.stop();
    await unbound?.stop();
    await cluster?.api.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
