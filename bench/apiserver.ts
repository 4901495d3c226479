/**
 * apiserver benchmarks, run once per storage backend (SQLite, etcd), each figure next to its anchor,
 * the upstream Kubernetes SLOs (mutating API call p99 <= 1 s, single-object GET p99 <= 1 s,
 * cluster-scoped LIST p99 <= 30 s):
 *
 * 1. watch fan-out: W watchers (all namespaces) while P pods are created; events/s delivered, p99
 *    delivery latency (create request start -> watcher parsed the event), missed events;
 * 2. LIST of the pods in the cluster: full LIST and paginated (limit=500), resourceVersion=0 (watch
 *    cache) as an extra row; p50/p99 over R runs, response size;
 * 3. create throughput and latency of N more pods (concurrency C), then single GET p99.
 *
 * The apiserver runs as a child process (`kubeplane apiserver`), the client is undici over HTTPS
 * with keep-alive. Every phase also reports the CPU seconds spent by the apiserver, etcd and the
 * benchmark client (from /proc), which tells which process is the bottleneck.
 */
import { readFileSync } from "node:fs";
import { Client, Pool } from "undici";
import { startApiserverProcess } from "./apiserver-proc.js";
import { etcdAvailable, startEtcd } from "../test/helpers/etcd.js";
import { bytes, ms, pool, progress, ratio, summarize, table } from "./stats.js";

export interface ApiserverBenchOptions {
  pods: number;
  concurrency: number;
  gets: number;
  watchers: number;
  watchPods: number;
  listPods: number;
  listRuns: number;
  pageSize: number;
  backends: ("sqlite" | "etcd")[];
  /** directory for --cpu-prof profiles of the apiserver process */
  cpuProfDir?: string;
}

export const SLO_MUTATING_MS = 1000;
export const SLO_GET_MS = 1000;
export const SLO_LIST_MS = 30_000;

type Backend = "sqlite" | "etcd";

/** one reported figure; slo set when the figure is measured against an SLO */
interface Figure {
  bench: string;
  figure: string;
  value: number;
  fmt: (v: number) => string;
  sloMs?: number;
  /** set when the measurement failed (the apiserver answered with an error) */
  error?: string;
}

// ---------------------------------------------------------------------------------------------
// HTTP client

class Api {
  readonly pool: Pool;
  private readonly auth: string;
  constructor(
    readonly url: string,
    readonly token: string,
    readonly caPem: string,
    connections: number,
  ) {
    this.auth = `Bearer ${token}`;
    this.pool = new Pool(url, {
      connections,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      connect: { ca: caPem },
      headersTimeout: 120_000,
      bodyTimeout: 120_000,
    });
  }

  async request(
    method: "GET" | "POST" | "DELETE",
    path: string,
    body?: string,
  ): Promise<{ status: number; text: string }> {
    const headers: Record<string, string> = { authorization: this.auth, accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await this.pool.request({ method, path, headers, body });
    const text = await res.body.text();
    return { status: res.statusCode, text };
  }

  async mustJson<T>(method: "GET" | "POST", path: string, body?: string): Promise<T> {
    const r = await this.request(method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text.slice(0, 300)}`);
    return JSON.parse(r.text) as T;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** a realistic pod: one container with ports, env, resources, probes; a few labels and an annotation */
export function podBody(namespace: string, name: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace,
      labels: {
        app: "bench",
        tier: "web",
        "app.kubernetes.io/name": "bench",
        "pod-template-hash": "5d8f9c7b6",
      },
      annotations: { "kubeplane.io/bench": "apiserver" },
    },
    spec: {
      containers: [
        {
          name: "app",
          image: "registry.k8s.io/nginx-slim:0.27",
          ports: [{ name: "http", containerPort: 8080, protocol: "TCP" }],
          env: [
            { name: "MODE", value: "bench" },
            { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
          ],
          resources: { requests: { cpu: "100m", memory: "64Mi" }, limits: { cpu: "500m", memory: "128Mi" } },
          readinessProbe: { httpGet: { path: "/healthz", port: 8080 }, periodSeconds: 10 },
        },
      ],
      restartPolicy: "Always",
    },
  });
}

// ---------------------------------------------------------------------------------------------
// CPU accounting from /proc

const CLK_TCK = 100;

function procCpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is state (field 3); utime is field 14, stime field 15
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

function procRssMiB(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

class CpuMeter {
  private a0 = 0;
  private e0 = 0;
  private c0 = process.cpuUsage();
  private t0 = performance.now();
  constructor(
    private readonly apiserverPid: number | undefined,
    private readonly etcdPid: number | undefined,
  ) {
    this.reset();
  }
  reset(): void {
    this.a0 = procCpuSeconds(this.apiserverPid);
    this.e0 = procCpuSeconds(this.etcdPid);
    this.c0 = process.cpuUsage();
    this.t0 = performance.now();
  }
  /** "apiserver 12.1 s, etcd 3.0 s, client 8.2 s CPU in 10.0 s wall" */
  report(): string {
    const a = procCpuSeconds(this.apiserverPid) - this.a0;
    const e = procCpuSeconds(this.etcdPid) - this.e0;
    const c = process.cpuUsage(this.c0);
    const client = (c.user + c.system) / 1e6;
    const wall = (performance.now() - this.t0) / 1000;
    const parts = [`apiserver ${a.toFixed(1)} s`];
    if (this.etcdPid) parts.push(`etcd ${e.toFixed(1)} s`);
    parts.push(`bench client ${client.toFixed(1)} s`);
    return `CPU: ${parts.join(", ")} in ${wall.toFixed(1)} s wall`;
  }
}

// ---------------------------------------------------------------------------------------------
// creates

interface CreateResult {
  latencies: number[];
  wallMs: number;
  errors: number;
  firstError?: string;
}

async function createPods(
  api: Api,
  namespace: string,
  names: string[],
  concurrency: number,
  onStart?: (i: number, t: number) => void,
): Promise<CreateResult> {
  const latencies: number[] = new Array(names.length);
  let errors = 0;
  let firstError: string | undefined;
  let done = 0;
  const t0 = performance.now();
  let lastReport = t0;
  await pool(names.length, concurrency, async (i) => {
    const body = podBody(namespace, names[i]!);
    const start = performance.now();
    onStart?.(i, start);
    let status: number;
    let text: string;
    try {
      ({ status, text } = await api.request("POST", `/api/v1/namespaces/${namespace}/pods`, body));
    } catch (e) {
      status = 0;
      text = e instanceof Error ? e.message : String(e);
    }
    const end = performance.now();
    latencies[i] = end - start;
    if (status !== 201) {
      errors++;
      firstError ??= `${status} ${text.slice(0, 300)}`;
    }
    done++;
    if (end - lastReport > 2000) {
      lastReport = end;
      progress(`    ${done}/${names.length} created (${((done * 1000) / (end - t0)).toFixed(0)}/s)`);
    }
  });
  return { latencies, wallMs: performance.now() - t0, errors, firstError };
}

function names(prefix: string, n: number): string[] {
  const width = String(n - 1).length;
  return Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(width, "0")}`);
}

// ---------------------------------------------------------------------------------------------
// watch fan-out

interface WatchEventLine {
  type: string;
  object?: {
    metadata?: { name?: string; namespace?: string; resourceVersion?: string };
    code?: number;
    message?: string;
  };
}

class BenchWatcher {
  received = 0;
  duplicates = 0;
  reconnects = 0;
  errors: string[] = [];
  lastEventAt = 0;
  private lastRV: string;
  private client: Client;
  private stopped = false;
  private readonly got: Uint8Array;
  private connectedResolve!: () => void;
  readonly connected = new Promise<void>((r) => {
    this.connectedResolve = r;
  });
  private done: Promise<void> | undefined;

  constructor(
    private readonly api: Api,
    private readonly namespace: string,
    private readonly indexOf: (name: string) => number,
    startRV: string,
    total: number,
    private readonly onEvent: (idx: number, now: number) => void,
  ) {
    this.lastRV = startRV;
    this.got = new Uint8Array(total);
    this.client = new Client(api.url, { connect: { ca: api.caPem }, headersTimeout: 60_000, bodyTimeout: 0 });
  }

  start(): void {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.watchOnce();
      } catch (e) {
        if (this.stopped) break;
        this.errors.push(e instanceof Error ? e.message : String(e));
        await new Promise((r) => setTimeout(r, 200));
      }
      if (this.stopped) break;
      this.reconnects++;
    }
  }

  private async watchOnce(): Promise<void> {
    const path = `/api/v1/pods?watch=1&allowWatchBookmarks=true&resourceVersion=${this.lastRV}&timeoutSeconds=3600`;
    const res = await this.client.request({
      method: "GET",
      path,
      headers: { authorization: `Bearer ${this.api.token}`, accept: "application/json" },
    });
    if (res.statusCode !== 200) {
      const text = await res.body.text();
      throw new Error(`watch: ${res.statusCode} ${text.slice(0, 200)}`);
    }
    this.connectedResolve();
    res.body.setEncoding("utf8");
    let buf = "";
    for await (const chunk of res.body as AsyncIterable<string>) {
      buf += chunk;
      let nl = buf.indexOf("\n");
      if (nl < 0) continue;
      let start = 0;
      while (nl >= 0) {
        const line = buf.slice(start, nl);
        start = nl + 1;
        if (line.length > 0) this.handle(JSON.parse(line) as WatchEventLine);
        nl = buf.indexOf("\n", start);
      }
      buf = buf.slice(start);
    }
  }

  private handle(ev: WatchEventLine): void {
    const now = performance.now();
    if (ev.type === "ERROR") {
      this.errors.push(`ERROR event: ${ev.object?.code} ${ev.object?.message}`);
      return;
    }
    const md = ev.object?.metadata;
    if (md?.resourceVersion) this.lastRV = md.resourceVersion;
    if (ev.type !== "ADDED" || md?.namespace !== this.namespace || !md.name) return;
    const idx = this.indexOf(md.name);
    if (idx < 0) return;
    if (this.got[idx]) {
      this.duplicates++;
      return;
    }
    this.got[idx] = 1;
    this.received++;
    this.lastEventAt = now;
    this.onEvent(idx, now);
  }

  missing(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.got.length; i++) if (!this.got[i]) out.push(i);
    return out;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.client.destroy();
    await this.done;
  }
}

async function watchFanout(
  api: Api,
  o: ApiserverBenchOptions,
  meter: CpuMeter,
  figs: Figure[],
): Promise<void> {
  const ns = "bench-watch";
  const podNames = names("w", o.watchPods);
  const width = podNames[0]!.length - 2;
  const indexOf = (name: string): number => {
    if (!name.startsWith("w-") || name.length !== width + 2) return -1;
    const i = Number(name.slice(2));
    return Number.isInteger(i) && i < o.watchPods ? i : -1;
  };
  const list = await api.mustJson<{ metadata: { resourceVersion: string } }>("GET", "/api/v1/pods?limit=1");
  const startRV = list.metadata.resourceVersion;

  const startTimes = new Float64Array(o.watchPods);
  const ackTimes = new Float64Array(o.watchPods);
  const lat = new Float64Array(o.watchers * o.watchPods);
  const latIdx = new Int32Array(o.watchers * o.watchPods);
  let nLat = 0;
  let firstDelivery = Number.POSITIVE_INFINITY;
  const onEvent = (idx: number, now: number) => {
    lat[nLat] = now - startTimes[idx]!;
    latIdx[nLat] = idx;
    nLat++;
    if (now < firstDelivery) firstDelivery = now;
  };
  progress(`  watch fan-out: ${o.watchers} watchers, ${o.watchPods} pods, concurrency ${o.concurrency}`);
  const watchers = Array.from(
    { length: o.watchers },
    () => new BenchWatcher(api, ns, indexOf, startRV, o.watchPods, onEvent),
  );
  for (const w of watchers) w.start();
  await Promise.all(watchers.map((w) => w.connected));
  progress(`    ${o.watchers} watches open from resourceVersion ${startRV}`);

  meter.reset();
  const t0 = performance.now();
  const cr = await createPods(api, ns, podNames, o.concurrency, (i, t) => {
    startTimes[i] = t;
  });
  // ack times: start + latency
  for (let i = 0; i < o.watchPods; i++) ackTimes[i] = startTimes[i]! + cr.latencies[i]!;
  const createsDone = performance.now();
  const expected = o.watchers * o.watchPods;
  const total = () => watchers.reduce((s, w) => s + w.received, 0);
  let last = total();
  let lastChange = performance.now();
  while (total() < expected) {
    await new Promise((r) => setTimeout(r, 100));
    const t = total();
    if (t !== last) {
      last = t;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > 30_000) {
      progress("    no watch progress for 30 s, giving up");
      break;
    }
  }
  const delivered = total();
  const lastEvent = Math.max(...watchers.map((w) => w.lastEventAt));
  const cpu = meter.report();
  await Promise.all(watchers.map((w) => w.stop()));

  const l = summarize(Array.from(lat.subarray(0, nLat)));
  // from the ack: receive time (start + latency) minus ack time; negative when the event came first
  const fromAck: number[] = new Array(nLat);
  for (let k = 0; k < nLat; k++) {
    const idx = latIdx[k]!;
    fromAck[k] = startTimes[idx]! + lat[k]! - ackTimes[idx]!;
  }
  const la = summarize(fromAck);
  const spanMs = lastEvent - t0;
  const misses = watchers.map((w) => w.missing());
  const missTotal = misses.reduce((s, m) => s + m.length, 0);
  const reconnects = watchers.reduce((s, w) => s + w.reconnects, 0);
  const dups = watchers.reduce((s, w) => s + w.duplicates, 0);
  const errs = watchers.flatMap((w) => w.errors);
  progress(
    `    delivered ${delivered}/${expected} events in ${(spanMs / 1000).toFixed(1)} s (creates took ${((createsDone - t0) / 1000).toFixed(1)} s, ${cr.errors} create errors${cr.firstError ? `: ${cr.firstError}` : ""})`,
  );
  progress(
    `    delivery latency from create start p50 ${ms(l.p50)} p99 ${ms(l.p99)} max ${ms(l.max)}; from ack p99 ${ms(la.p99)}`,
  );
  progress(
    `    reconnects ${reconnects}, duplicates ${dups}, watcher errors ${errs.length}${errs.length ? `: ${errs.slice(0, 3).join(" | ")}` : ""}`,
  );
  if (missTotal > 0) {
    const bad = misses.map((m, i) => ({ i, m })).filter((x) => x.m.length > 0);
    progress(`    MISSES: ${missTotal} events missed by ${bad.length} watchers`);
    for (const b of bad.slice(0, 5))
      progress(
        `      watcher ${b.i}: ${b.m.length} missing, e.g. ${b.m
          .slice(0, 5)
          .map((i) => podNames[i])
          .join(", ")}`,
      );
  }
  progress(`    ${cpu}`);

  const b = "watch fan-out";
  const cerr = cr.errors
    ? `${cr.errors} of ${o.watchPods} creates failed, first: ${cr.firstError}`
    : undefined;
  figs.push({
    bench: b,
    figure: `events/s delivered (sum over ${o.watchers} watchers)`,
    value: (delivered * 1000) / spanMs,
    fmt: (v) => v.toFixed(0),
  });
  figs.push({ bench: b, figure: "delivery latency p50 (create start -> parsed)", value: l.p50, fmt: ms });
  figs.push({
    bench: b,
    figure: "delivery latency p99 (create start -> parsed)",
    value: l.p99,
    fmt: ms,
    sloMs: SLO_MUTATING_MS,
  });
  figs.push({ bench: b, figure: "delivery latency p99 (create ack -> parsed)", value: la.p99, fmt: ms });
  figs.push({ bench: b, figure: "events missed (must be 0)", value: missTotal, fmt: (v) => String(v) });
  figs.push({
    bench: b,
    figure: "watch reconnects (server-closed streams)",
    value: reconnects,
    fmt: (v) => String(v),
  });
  figs.push({
    bench: b,
    figure: `creates/s during fan-out (concurrency ${o.concurrency})`,
    value: (o.watchPods * 1000) / (createsDone - t0),
    fmt: (v) => v.toFixed(0),
    error: cerr,
  });
  const cl = summarize(cr.latencies);
  figs.push({
    bench: b,
    figure: "create latency p99 during fan-out",
    value: cl.p99,
    fmt: ms,
    sloMs: SLO_MUTATING_MS,
    error: cerr,
  });
}

// ---------------------------------------------------------------------------------------------
// LIST

async function timedGet(api: Api, path: string): Promise<{ ms: number; text: string }> {
  const t = performance.now();
  const r = await api.request("GET", path);
  const el = performance.now() - t;
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.text.slice(0, 300)}`);
  return { ms: el, text: r.text };
}

interface ListBody {
  metadata: { continue?: string; resourceVersion?: string };
  items: unknown[];
}

async function listBench(api: Api, o: ApiserverBenchOptions, meter: CpuMeter, figs: Figure[]): Promise<void> {
  // top up the cluster to listPods pods if the watch benchmark created fewer
  const have = (await api.mustJson<ListBody>("GET", "/api/v1/pods?resourceVersion=0")).items.length;
  if (have < o.listPods) {
    progress(`  list: creating ${o.listPods - have} more pods`);
    const r = await createPods(api, "bench-list", names("l", o.listPods - have), o.concurrency);
    if (r.errors) progress(`    ${r.errors} create errors: ${r.firstError}`);
  }
  meter.reset();
  const full: number[] = [];
  const paged: number[] = [];
  const cached: number[] = [];
  let size = 0;
  let count = 0;
  let pages = 0;
  let pagedCount = 0;
  progress(
    `  list: ${o.listRuns} runs each of full LIST, paginated LIST (limit=${o.pageSize}), LIST resourceVersion=0`,
  );
  let fullError: string | undefined;
  let pagedError: string | undefined;
  let cachedError: string | undefined;
  const short = (e: unknown) => (e instanceof Error ? e.message : String(e)).slice(0, 160);
  // paginated and watch-cache LISTs first: a failing full LIST must not spoil the others
  for (let run = 0; run < o.listRuns; run++) {
    if (!pagedError) {
      try {
        let total = 0;
        let cont: string | undefined;
        let n = 0;
        let p = 0;
        do {
          const path = `/api/v1/pods?limit=${o.pageSize}${cont ? `&continue=${encodeURIComponent(cont)}` : ""}`;
          const r = await timedGet(api, path);
          total += r.ms;
          const body = JSON.parse(r.text) as ListBody;
          n += body.items.length;
          p++;
          cont = body.metadata.continue || undefined;
        } while (cont);
        paged.push(total);
        pages = p;
        pagedCount = n;
      } catch (e) {
        pagedError = short(e);
        progress(`    paginated LIST FAILED: ${pagedError}`);
      }
    }
  }
  for (let run = 0; run < o.listRuns; run++) {
    if (!cachedError) {
      try {
        const c = await timedGet(api, "/api/v1/pods?resourceVersion=0");
        cached.push(c.ms);
        if (!size) {
          size = Buffer.byteLength(c.text);
          count = (JSON.parse(c.text) as ListBody).items.length;
        }
      } catch (e) {
        cachedError = short(e);
        progress(`    LIST resourceVersion=0 FAILED: ${cachedError}`);
      }
    }
  }
  for (let run = 0; run < o.listRuns; run++) {
    if (!fullError) {
      try {
        const f = await timedGet(api, "/api/v1/pods");
        full.push(f.ms);
        size = Buffer.byteLength(f.text);
        count = (JSON.parse(f.text) as ListBody).items.length;
      } catch (e) {
        fullError = short(e);
        progress(`    full LIST FAILED: ${fullError}`);
      }
    }
  }
  const sf = summarize(full);
  const sp = summarize(paged);
  const sc = summarize(cached);
  progress(`    full LIST of ${count} pods (${bytes(size)}): p50 ${ms(sf.p50)} p99 ${ms(sf.p99)}`);
  progress(`    paginated: ${pages} pages, ${pagedCount} pods: p50 ${ms(sp.p50)} p99 ${ms(sp.p99)}`);
  progress(`    resourceVersion=0 (watch cache): p50 ${ms(sc.p50)} p99 ${ms(sc.p99)}`);
  if (!fullError && !pagedError && pagedCount !== count)
    progress(`    WARNING: paginated LIST returned ${pagedCount} pods, full LIST ${count}`);
  progress(`    ${meter.report()}`);
  const b = `LIST ${count} pods`;
  figs.push({ bench: b, figure: "response size (full LIST)", value: size, fmt: bytes });
  figs.push({ bench: b, figure: "full LIST p50", value: sf.p50, fmt: ms, error: fullError });
  figs.push({
    bench: b,
    figure: "full LIST p99",
    value: sf.p99,
    fmt: ms,
    sloMs: SLO_LIST_MS,
    error: fullError,
  });
  figs.push({
    bench: b,
    figure: `paginated LIST (limit=${o.pageSize}) p50`,
    value: sp.p50,
    fmt: ms,
    error: pagedError,
  });
  figs.push({
    bench: b,
    figure: `paginated LIST (limit=${o.pageSize}) p99`,
    value: sp.p99,
    fmt: ms,
    sloMs: SLO_LIST_MS,
    error: pagedError,
  });
  figs.push({
    bench: b,
    figure: "LIST resourceVersion=0 (watch cache) p99",
    value: sc.p99,
    fmt: ms,
    sloMs: SLO_LIST_MS,
    error: cachedError,
  });
}

// ---------------------------------------------------------------------------------------------
// create throughput + GET

async function createBench(
  api: Api,
  o: ApiserverBenchOptions,
  meter: CpuMeter,
  figs: Figure[],
): Promise<void> {
  const ns = "bench-create";
  const podNames = names("c", o.pods);
  progress(`  create: ${o.pods} pods, concurrency ${o.concurrency}`);
  meter.reset();
  const r = await createPods(api, ns, podNames, o.concurrency);
  const s = summarize(r.latencies);
  progress(
    `    ${((o.pods * 1000) / r.wallMs).toFixed(0)} creates/s, p50 ${ms(s.p50)} p99 ${ms(s.p99)} max ${ms(s.max)}, ${r.errors} errors${r.firstError ? `: ${r.firstError}` : ""}`,
  );
  progress(`    ${meter.report()}`);
  const b = "create";
  // figures over failed requests mean nothing: mark them failed
  const cerr = r.errors ? `${r.errors} of ${o.pods} creates failed, first: ${r.firstError}` : undefined;
  figs.push({
    bench: b,
    figure: `creates/s (concurrency ${o.concurrency})`,
    value: (o.pods * 1000) / r.wallMs,
    fmt: (v) => v.toFixed(0),
    error: cerr,
  });
  figs.push({ bench: b, figure: "create latency p50", value: s.p50, fmt: ms, error: cerr });
  figs.push({
    bench: b,
    figure: "create latency p99",
    value: s.p99,
    fmt: ms,
    sloMs: SLO_MUTATING_MS,
    error: cerr,
  });
  figs.push({ bench: b, figure: "create errors (must be 0)", value: r.errors, fmt: (v) => String(v) });

  for (const conc of [1, o.concurrency]) {
    progress(`  get: ${o.gets} single-object GETs, concurrency ${conc}`);
    meter.reset();
    const lat: number[] = [];
    let errors = 0;
    let firstError: string | undefined;
    const t0 = performance.now();
    await pool(o.gets, conc, async (i) => {
      const name = podNames[(i * 7919) % podNames.length]!;
      const t = performance.now();
      const res = await api.request("GET", `/api/v1/namespaces/${ns}/pods/${name}`);
      lat.push(performance.now() - t);
      if (res.status !== 200) {
        errors++;
        firstError ??= `${res.status} ${res.text.slice(0, 200)}`;
      }
    });
    const wall = performance.now() - t0;
    const g = summarize(lat);
    progress(
      `    ${((o.gets * 1000) / wall).toFixed(0)} gets/s, p50 ${ms(g.p50)} p99 ${ms(g.p99)}, ${errors} errors${firstError ? `: ${firstError}` : ""}`,
    );
    progress(`    ${meter.report()}`);
    const gerr = errors ? `${errors} of ${o.gets} GETs failed, first: ${firstError}` : undefined;
    figs.push({
      bench: "get",
      figure: `single GET p50 (concurrency ${conc})`,
      value: g.p50,
      fmt: ms,
      error: gerr,
    });
    figs.push({
      bench: "get",
      figure: `single GET p99 (concurrency ${conc})`,
      value: g.p99,
      fmt: ms,
      sloMs: SLO_GET_MS,
      error: gerr,
    });
    if (conc > 1)
      figs.push({
        bench: "get",
        figure: `gets/s (concurrency ${conc})`,
        value: (o.gets * 1000) / wall,
        fmt: (v) => v.toFixed(0),
        error: gerr,
      });
  }
}

/** after a failed phase: wait until the apiserver answers a storage read again (up to 60 s) */
async function waitRecovered(api: Api): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    try {
      const r = await api.request("GET", "/api/v1/namespaces/bench-create");
      if (r.status === 200) return performance.now() - t0;
    } catch {
      // keep polling
    }
    if (performance.now() - t0 > 60_000) throw new Error("apiserver did not recover within 60 s");
    await new Promise((res) => setTimeout(res, 250));
  }
}

// ---------------------------------------------------------------------------------------------

async function warmUp(api: Api, concurrency: number): Promise<void> {
  // JIT-warm the create/get path on an unrelated kind so pod counts stay exact
  await pool(300, concurrency, async (i) => {
    await api.request(
      "POST",
      "/api/v1/namespaces/default/configmaps",
      JSON.stringify({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `warm-${i}` },
        data: { k: "v".repeat(200) },
      }),
    );
    await api.request("GET", `/api/v1/namespaces/default/configmaps/warm-${i}`);
  });
}

async function runBackend(backend: Backend, o: ApiserverBenchOptions): Promise<Figure[]> {
  progress(`== apiserver on ${backend}`);
  const etcd = backend === "etcd" ? await startEtcd() : undefined;
  const nodeArgs = o.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${o.cpuProfDir}/${backend}`] : [];
  const srv = await startApiserverProcess({ etcdServers: etcd?.endpoints, nodeArgs });
  const api = new Api(srv.url, srv.token, srv.caPem, o.concurrency);
  const figs: Figure[] = [];
  try {
    progress(
      `  apiserver ${srv.url} (pid ${srv.child.pid})${etcd ? `, etcd ${etcd.endpoints[0]} (pid ${etcd.pid})` : ""}`,
    );
    for (const ns of ["bench-watch", "bench-list", "bench-create"]) {
      await api.mustJson(
        "POST",
        "/api/v1/namespaces",
        JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }),
      );
    }
    await warmUp(api, o.concurrency);
    const meter = new CpuMeter(srv.child.pid, etcd?.pid);
    const phases: [string, () => Promise<void>][] = [
      ["watch fan-out", () => watchFanout(api, o, meter, figs)],
      ["LIST", () => listBench(api, o, meter, figs)],
      ["create", () => createBench(api, o, meter, figs)],
    ];
    for (const [name, phase] of phases) {
      const before = figs.filter((f) => f.error).length;
      try {
        await phase();
        if (figs.filter((f) => f.error).length > before) {
          const t = await waitRecovered(api);
          progress(
            `  storage reads answer again ${(t / 1000).toFixed(1)} s after the ${name} phase failures`,
          );
          figs.push({ bench: name, figure: "recovery after the failures", value: t, fmt: ms });
        }
      } catch (e) {
        const msg = (e instanceof Error ? e.message : String(e)).slice(0, 300);
        progress(`  ${name} FAILED: ${msg}`);
        figs.push({ bench: name, figure: "phase failed", value: Number.NaN, fmt: String, error: msg });
      }
    }
    const rss = procRssMiB(srv.child.pid);
    progress(`  apiserver RSS at the end: ${rss.toFixed(0)} MiB`);
    figs.push({
      bench: "process",
      figure: "apiserver RSS at the end",
      value: rss,
      fmt: (v) => `${v.toFixed(0)} MiB`,
    });
  } finally {
    await api.close();
    await srv.stop();
    await etcd?.stop();
  }
  return figs;
}

export async function runApiserverBenchmarks(o: ApiserverBenchOptions): Promise<string> {
  const results = new Map<Backend, Figure[]>();
  for (const backend of o.backends) {
    if (backend === "etcd" && !etcdAvailable()) {
      progress("== etcd not installed (/usr/bin/etcd): skipping the etcd backend");
      continue;
    }
    results.set(backend, await runBackend(backend, o));
  }
  const backends = [...results.keys()];
  const key = (f: Figure) => `${f.bench}\u0000${f.figure}`;
  const order: Figure[] = [];
  const seen = new Set<string>();
  for (const b of backends)
    for (const f of results.get(b)!)
      if (!seen.has(key(f))) {
        seen.add(key(f));
        order.push(f);
      }
  const header = ["benchmark", "figure", ...backends, "anchor (SLO)", ...backends.map((b) => `${b} / SLO`)];
  const rows = order.map((f) => {
    const vals = backends.map((b) => results.get(b)!.find((x) => key(x) === key(f)));
    return [
      f.bench,
      f.figure,
      ...vals.map((v) => (!v ? "-" : v.error ? "FAILED" : v.fmt(v.value))),
      f.sloMs ? `<= ${ms(f.sloMs)}` : "",
      ...vals.map((v) => (v && f.sloMs && !v.error ? ratio(v.value, f.sloMs) : "")),
    ];
  });
  const failures: string[] = [];
  for (const b of backends)
    for (const f of results.get(b)!) if (f.error) failures.push(`${b}: ${f.bench} / ${f.figure}: ${f.error}`);
  const cfg = `pods=${o.pods} concurrency=${o.concurrency} gets=${o.gets} watchers=${o.watchers} watch-pods=${o.watchPods} list-pods=${o.listPods} list-runs=${o.listRuns}`;
  const notes = failures.length ? `\nFailures:\n${failures.map((f) => `- ${f}`).join("\n")}\n` : "";
  return `apiserver benchmarks (${cfg})\n\n${table(header, rows)}\n${notes}`;
}
