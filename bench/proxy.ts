/**
 * kube-proxy benchmark (`npm run bench -- proxy`), everything inside network namespaces that it
 * creates and deletes (DESIGN.md, network safety): nothing is programmed in the root namespace
 * and traffic only goes to addresses inside the benchmark's own namespaces.
 *
 *   1. sync time: S Services x E endpoints (default 1k, 5k, 10k x 5) as API objects in memory;
 *      one proxier sync = buildProxyState + diffStates + the backend's sync (the generator and
 *      proxy/exec.ts, the classes the proxier uses), its commands run with `ip netns exec NS` in
 *      a fresh namespace. Full sync, then partial syncs that change one endpoint (median of 3).
 *      Floor, in the same run: iptables-restore / `nft -f -` alone applying the very text the
 *      proxy wrote, in a second fresh namespace brought to the same state, stdin read from a
 *      file, only the child process timed. iptables uses iptables-legacy explicitly: in an empty
 *      namespace the iptables-wrapper detection would pick iptables-nft, whose restore of 10k
 *      services takes minutes on this machine (REFERENCE.md); one 1k row shows iptables-nft.
 *      Every command is capped (--timeout); a capped figure prints as "> N s (timeout)". When a
 *      full nftables apply takes longer than 30 s, it is measured once (the proxy's own nft child
 *      is the floor) instead of twice.
 *   2. network programming latency: apiserver + `kubeplane proxy` children in a node namespace,
 *      100 Services x 5 endpoints, EndpointSlices changed at 50/s for 20 s through the API with
 *      the last-change-trigger-time annotation; p50/p99 from the proxy's own
 *      kubeproxy_network_programming_duration_seconds histogram (difference of two scrapes,
 *      interpolated inside the bucket like histogram_quantile).
 *   3. data path: with the largest size programmed (10k; 1k with --quick) by the same backend in
 *      the node namespace of a pod topology (test/helpers/netns.ts), wrk from one pod namespace
 *      to a Service whose single endpoint is an HTTP server (node) in another, next to wrk to the
 *      pod IP directly (no Service NAT) with and without the rules loaded; keep-alive and
 *      `Connection: close` (every request a new connection, so a new NAT lookup).
 *
 * Flags: --quick (1k only, 5 s wrk runs), --sizes 1000,5000,10000, --endpoints 5,
 * --modes iptables,nftables, --timeout SECONDS (150, per command), --rate 50, --duration 20,
 * --no-datapath, --no-latency.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { KubeObject } from "../api/object.js";
import { silentLogger } from "../cli/logger.js";
import { loadClusterConnection, R, RestClient } from "../client/index.js";
import { detectIptablesMode, type Runner, runCommand } from "../proxy/exec.js";
import type { ProxyConfig, ProxyState } from "../proxy/model.js";
import { type Backend, IptablesBackend } from "../proxy/proxier-iptables.js";
import { NftablesBackend } from "../proxy/proxier-nftables.js";
import { buildProxyState, diffStates, type EndpointSlice, type Service } from "../proxy/state.js";
import { nsExec, Topology } from "../test/helpers/netns.js";
import { ms, pool, summarize, table } from "./stats.js";

const CLI = resolve(import.meta.dirname, "../cli/main.js");
const SELF = resolve(import.meta.dirname, "proxy.js");
const SLO_P99_S = 30;
const NS_PREFIX = `kpb${randomBytes(2).toString("hex")}`;
const TARGET_IP = "10.96.0.10";
const BACKEND_IP = "10.244.0.11"; // pod1 of the Topology
const NODE_IP = "10.244.0.1";
const CONFIG: ProxyConfig = { clusterCIDR: "10.244.0.0/24", masqueradeAll: false, masqueradeBit: 14 };
const NFT_MEASURE_ONCE_MS = 30_000;

type Mode = "iptables" | "nftables";
type Variant = "iptables" | "iptables-nft" | "nftables";

interface Options {
  sizes: number[];
  endpoints: number;
  modes: Mode[];
  timeoutMs: number;
  datapath: boolean;
  latency: boolean;
  wrkSeconds: number;
  rate: number;
  durationS: number;
  latencyServices: number;
}

function parse(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean" },
      sizes: { type: "string" },
      endpoints: { type: "string" },
      modes: { type: "string" },
      timeout: { type: "string" },
      rate: { type: "string" },
      duration: { type: "string" },
      "no-datapath": { type: "boolean" },
      "no-latency": { type: "boolean" },
    },
    strict: true,
  });
  const int = (v: string, name: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got "${v}"`);
    return n;
  };
  const sizes = values.sizes
    ? values.sizes.split(",").map((s) => int(s.trim(), "sizes"))
    : values.quick
      ? [1000]
      : [1000, 5000, 10_000];
  const modes = (values.modes ?? "iptables,nftables").split(",").map((m) => m.trim());
  for (const m of modes)
    if (m !== "iptables" && m !== "nftables")
      throw new Error(`--modes: want iptables and/or nftables, got "${m}"`);
  return {
    sizes: [...new Set(sizes)].sort((a, b) => a - b),
    endpoints: values.endpoints ? int(values.endpoints, "endpoints") : 5,
    modes: modes as Mode[],
    timeoutMs: (values.timeout ? int(values.timeout, "timeout") : 150) * 1000,
    datapath: !values["no-datapath"],
    latency: !values["no-latency"],
    wrkSeconds: values.quick ? 5 : 10,
    rate: values.rate ? int(values.rate, "rate") : 50,
    durationS: values.duration ? int(values.duration, "duration") : values.quick ? 10 : 20,
    latencyServices: 100,
  };
}

function progress(msg: string): void {
  process.stderr.write(`[proxy bench] ${msg}\n`);
}

function has(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).status === 0;
}

// ---------------------------------------------------------------- namespaces

const namespaces = new Set<string>();
let nsSeq = 0;

function ip(args: string[]): void {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr.trim()}`);
}

function newNs(tag: string): string {
  const ns = `${NS_PREFIX}-${tag}${nsSeq++}`;
  ip(["netns", "add", ns]);
  namespaces.add(ns);
  ip(["-n", ns, "link", "set", "lo", "up"]);
  return ns;
}

function delNs(ns: string): void {
  if (!namespaces.delete(ns)) return;
  spawnSync("ip", ["netns", "del", ns], { encoding: "utf8" });
}

const topologies = new Set<Topology>();

async function cleanupAll(): Promise<void> {
  for (const t of topologies) await t.destroy().catch(() => {});
  topologies.clear();
  for (const ns of [...namespaces]) delNs(ns);
}

async function newTopology(): Promise<Topology> {
  const t = await Topology.create(`${NS_PREFIX}t${nsSeq++}`);
  topologies.add(t);
  return t;
}

async function dropTopology(t: Topology): Promise<void> {
  topologies.delete(t);
  await t.destroy();
}

// ---------------------------------------------------------------- the objects

const addr = (base: number, n: number) => `10.${base + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
const svcIP = (i: number) => addr(97, i + 1);
const epIP = (n: number) => addr(128, n + 1);

interface World {
  services: Service[];
  slices: EndpointSlice[];
}

function slice(ns: string, svc: string, ips: string[], trigger?: string): EndpointSlice {
  return {
    metadata: {
      name: `${svc}-1`,
      namespace: ns,
      labels: { "kubernetes.io/service-name": svc },
      ...(trigger ? { annotations: { "endpoints.kubernetes.io/last-change-trigger-time": trigger } } : {}),
    },
    addressType: "IPv4",
    endpoints: ips.map((a, k) => ({
      addresses: [a],
      conditions: { ready: true },
      nodeName: k === 0 ? "node-a" : "node-b",
    })),
    ports: [{ name: "http", protocol: "TCP", port: 8080 }],
  };
}

function service(ns: string, name: string, clusterIP: string): Service {
  return {
    metadata: { name, namespace: ns },
    spec: {
      type: "ClusterIP",
      clusterIP,
      clusterIPs: [clusterIP],
      ports: [{ name: "http", protocol: "TCP", port: 80, targetPort: 8080 }],
    },
  };
}

/** size - 1 services with `endpoints` endpoints each, plus the data-path target (one endpoint: pod1), last in order */
function makeWorld(size: number, endpoints: number): World {
  const services: Service[] = [];
  const slices: EndpointSlice[] = [];
  for (let i = 0; i < size - 1; i++) {
    const name = `svc-${String(i).padStart(5, "0")}`;
    services.push(service("bench", name, svcIP(i)));
    slices.push(
      slice(
        "bench",
        name,
        Array.from({ length: endpoints }, (_, k) => epIP(i * endpoints + k)),
      ),
    );
  }
  services.push(service("zz-bench", "target", TARGET_IP));
  slices.push(slice("zz-bench", "target", [BACKEND_IP]));
  return { services, slices };
}

/** the world with endpoint 0 of the middle service moved to a new address */
function changeOne(w: World, endpoints: number, rep: number): World {
  const i = Math.floor((w.services.length - 1) / 2);
  const old = w.slices[i]!;
  const ips = (old.endpoints ?? []).map((e) => e.addresses[0]!);
  ips[0] = epIP(5_000_000 + rep);
  const slices = [...w.slices];
  slices[i] = slice("bench", `svc-${String(i).padStart(5, "0")}`, ips.slice(0, endpoints));
  return { services: w.services, slices };
}

function stateOf(w: World): ProxyState {
  return buildProxyState({
    family: 4,
    services: w.services,
    slices: w.slices,
    nodeName: "node-a",
    localAddresses: [NODE_IP, "127.0.0.1"],
    config: CONFIG,
  });
}

// ---------------------------------------------------------------- commands in a namespace

interface Call {
  cmd: string;
  ms: number;
  code: number;
  input?: string;
  timedOut: boolean;
}

const isApply = (cmd: string, args: readonly string[]) =>
  cmd.endsWith("-restore") || (cmd === "nft" && args[0] === "-f");

/** proxy/exec.ts's runCommand, run inside `ns`, capped at capMs, every call recorded */
function nsRunner(ns: string, capMs: number, calls: Call[]): Runner {
  return async (cmd, args, opts = {}) => {
    const t0 = performance.now();
    const r = await runCommand("ip", ["netns", "exec", ns, cmd, ...args], {
      ...opts,
      timeoutMs: Math.min(opts.timeoutMs ?? 60_000, capMs),
    });
    calls.push({
      cmd,
      ms: performance.now() - t0,
      code: r.code,
      input: isApply(cmd, args) ? opts.input : undefined,
      timedOut: r.code === 124 && r.stderr.includes("timed out"),
    });
    return r;
  };
}

function restoreCmd(v: Variant): [string, string[]] {
  if (v === "nftables") return ["nft", ["-f", "-"]];
  return [
    v === "iptables" ? "iptables-legacy-restore" : "iptables-nft-restore",
    ["-w", "5", "--noflush", "--counters"],
  ];
}

interface Timed {
  ms: number;
  ok: boolean;
  timedOut: boolean;
  err?: string;
}

/** the floor: the restore tool alone, stdin from a file, only the child timed */
async function floorApply(ns: string, v: Variant, text: string, capMs: number): Promise<Timed> {
  const dir = mkdtempSync(join(tmpdir(), "kubeplane-bench-proxy-"));
  const file = join(dir, "rules");
  writeFileSync(file, text);
  const fd = openSync(file, "r");
  try {
    const [cmd, args] = restoreCmd(v);
    return await new Promise<Timed>((res) => {
      let stderr = "";
      let timedOut = false;
      const t0 = performance.now();
      const child = spawn("ip", ["netns", "exec", ns, cmd, ...args], { stdio: [fd, "ignore", "pipe"] });
      child.stderr!.setEncoding("utf8").on("data", (d: string) => {
        stderr += d;
      });
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, capMs);
      child.on("close", (code) => {
        const took = performance.now() - t0;
        clearTimeout(timer);
        res({ ms: took, ok: code === 0, timedOut, err: code === 0 ? undefined : stderr.trim().slice(-300) });
      });
    });
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

interface SyncResult extends Timed {
  /** all child processes of the sync */
  childMs: number;
  /** the restore / nft -f children */
  applyMs: number;
  text: string;
  bytes: number;
  /** child processes started */
  commands: number;
  state: ProxyState;
}

/** one proxier sync: state from the objects, diff against the previous state, backend.sync */
async function proxySync(
  backend: Backend,
  w: World,
  prev: ProxyState | undefined,
  calls: Call[],
): Promise<SyncResult> {
  calls.length = 0;
  const t0 = performance.now();
  const state = stateOf(w);
  const diff = diffStates(prev, state);
  let err: string | undefined;
  try {
    await backend.sync(state, !prev || diff.needsFull, diff.changed);
  } catch (e) {
    err = (e instanceof Error ? e.message : String(e)).slice(0, 300);
  }
  const took = performance.now() - t0;
  const applies = calls.filter((c) => c.input !== undefined);
  const text = applies.map((c) => c.input).join("");
  return {
    ms: took,
    ok: !err,
    timedOut: calls.some((c) => c.timedOut),
    err,
    childMs: calls.reduce((a, c) => a + c.ms, 0),
    applyMs: applies.reduce((a, c) => a + c.ms, 0),
    text,
    bytes: Buffer.byteLength(text),
    commands: calls.length,
    state,
  };
}

function median<T>(xs: T[], key: (x: T) => number): T | undefined {
  const s = [...xs].sort((a, b) => key(a) - key(b));
  return s[Math.floor((s.length - 1) / 2)];
}

// ---------------------------------------------------------------- part 1: sync time

interface SyncRow {
  variant: Variant;
  size: number;
  kind: "full" | "partial";
  proxy: SyncResult;
  floor?: Timed;
  /** floor taken from the proxy's own apply child (measured once) */
  floorFromSync?: boolean;
  note?: string;
}

function label(v: Variant): string {
  return v === "iptables"
    ? "iptables (legacy)"
    : v === "iptables-nft"
      ? "iptables (nft backend)"
      : "nftables";
}

async function benchSync(
  v: Variant,
  size: number,
  o: Options,
  proxyNs: string | undefined,
  rows: SyncRow[],
): Promise<boolean> {
  const P = proxyNs ?? newNs("p");
  const F = newNs("f");
  const calls: Call[] = [];
  const run = nsRunner(P, o.timeoutMs, calls);
  const log = silentLogger();
  const backend: Backend =
    v === "nftables"
      ? new NftablesBackend(4, log, run)
      : new IptablesBackend(4, v === "iptables" ? "legacy" : "nft", log, run);
  let programmed = false;
  try {
    let world = makeWorld(size, o.endpoints);
    progress(`${label(v)} ${size} services: full sync`);
    const full = await proxySync(backend, world, undefined, calls);
    const fullRow: SyncRow = { variant: v, size, kind: "full", proxy: full };
    rows.push(fullRow);
    progress(
      `  proxy ${ms(full.ms)} (apply ${ms(full.applyMs)}, ${(full.bytes / 1e6).toFixed(1)} MB)${full.ok ? "" : ` FAILED ${full.err}`}`,
    );
    if (!full.ok) return false;
    programmed = true;
    let floorReady = false;
    if (v === "nftables" && full.applyMs > NFT_MEASURE_ONCE_MS) {
      fullRow.floor = { ms: full.applyMs, ok: true, timedOut: false };
      fullRow.floorFromSync = true;
    } else {
      fullRow.floor = await floorApply(F, v, full.text, o.timeoutMs);
      floorReady = fullRow.floor.ok;
      progress(`  floor ${ms(fullRow.floor.ms)}${fullRow.floor.ok ? "" : ` FAILED ${fullRow.floor.err}`}`);
    }
    let prev = full.state;
    const partials: Array<{ p: SyncResult; f?: Timed }> = [];
    for (let rep = 0; rep < 3; rep++) {
      world = changeOne(world, o.endpoints, rep);
      const p = await proxySync(backend, world, prev, calls);
      prev = p.state;
      let f: Timed | undefined;
      if (p.ok && floorReady) {
        f = await floorApply(F, v, p.text, o.timeoutMs);
        if (!f.ok) floorReady = false;
      }
      partials.push({ p, f });
      progress(
        `  partial ${rep + 1}: proxy ${ms(p.ms)} (apply ${ms(p.applyMs)}, ${p.bytes} B)${p.ok ? "" : ` FAILED ${p.err}`}; floor ${f ? ms(f.ms) : "from sync"}`,
      );
      if (!p.ok) break;
    }
    const okParts = partials.filter((x) => x.p.ok);
    const mid = median(okParts.length ? okParts : partials, (x) => x.p.ms);
    if (mid) {
      const floors = okParts.map((x) => x.f).filter((f): f is Timed => !!f && f.ok);
      const floorMid = floors.length === okParts.length ? median(floors, (f) => f.ms) : undefined;
      rows.push({
        variant: v,
        size,
        kind: "partial",
        proxy: mid.p,
        floor: floorMid ?? (mid.p.ok ? { ms: mid.p.applyMs, ok: true, timedOut: false } : undefined),
        floorFromSync: !floorMid && mid.p.ok,
      });
    }
    return true;
  } finally {
    delNs(F);
    if (!proxyNs) delNs(P);
    if (proxyNs && !programmed) progress(`  (${label(v)} rules not programmed in the data-path namespace)`);
  }
}

// ---------------------------------------------------------------- part 3: data path

const HTTP_SERVER = `require("node:http").createServer((q, s) => s.end("ok")).listen(8080, "0.0.0.0", () => console.log("ready"));`;

interface WrkResult {
  rps: number;
  errors: string;
  ok: boolean;
}

/**
 * wrk from `client` (pod2 for the ClusterIP, pod3 for the pod IP: a DNATed connection and a
 * direct one from the same source port would clash in the node's conntrack table); the node's
 * conntrack table is flushed before each run so that no run inherits another's TIME_WAIT entries.
 */
async function wrk(
  topo: Topology,
  client: string,
  url: string,
  seconds: number,
  close: boolean,
): Promise<WrkResult> {
  await topo.exec(topo.node, ["conntrack", "-F"]);
  const args = ["wrk", "-t1", "-c32", `-d${seconds}s`, ...(close ? ["-H", "Connection: close"] : []), url];
  const r = await topo.exec(client, args, { timeoutMs: (seconds + 30) * 1000 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? Number.NaN);
  const sock = /Socket errors: (.*)/.exec(r.stdout)?.[1];
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1];
  const errors = [sock, non2xx ? `non-2xx ${non2xx}` : ""].filter(Boolean).join("; ");
  return { rps, errors, ok: r.code === 0 && Number.isFinite(rps) };
}

interface DataRow {
  label: string;
  keepAlive: WrkResult;
  close: WrkResult;
}

const clientFor = (topo: Topology, url: string) => topo.pods[url.includes(TARGET_IP) ? 1 : 2]!.ns;

async function wrkPair(topo: Topology, url: string, o: Options, what: string): Promise<DataRow> {
  const client = clientFor(topo, url);
  progress(`  wrk ${what}`);
  const keepAlive = await wrk(topo, client, url, o.wrkSeconds, false);
  const close = await wrk(topo, client, url, o.wrkSeconds, true);
  progress(
    `    keep-alive ${keepAlive.rps.toFixed(0)} req/s, connection-close ${close.rps.toFixed(0)} req/s`,
  );
  return { label: what, keepAlive, close };
}

async function startBackend(topo: Topology): Promise<void> {
  const b = topo.spawnIn(topo.pods[0]!.ns, [process.execPath, "-e", HTTP_SERVER]);
  await b.waitForLine((l) => l === "ready", 10_000, "the HTTP backend");
  // warm the server up (JIT) before anything is measured
  await topo.exec(topo.pods[2]!.ns, ["wrk", "-t1", "-c32", "-d2s", `http://${BACKEND_IP}:8080/`], {
    timeoutMs: 30_000,
  });
}

async function reachable(topo: Topology, url: string): Promise<string | undefined> {
  const r = await topo.exec(clientFor(topo, url), ["curl", "-s", "-m", "3", url]);
  return r.stdout === "ok"
    ? undefined
    : `curl ${url} from ${clientFor(topo, url)}: exit ${r.code} ${r.stderr.trim()} ${r.stdout}`;
}

// ---------------------------------------------------------------- part 2: programming latency

interface Histogram {
  buckets: Array<[number, number]>;
  count: number;
  sum: number;
}

function histogram(metrics: string, name: string): Histogram {
  const buckets: Array<[number, number]> = [];
  let count = 0;
  let sum = 0;
  for (const line of metrics.split("\n")) {
    const b = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} ([\\d.eE+-]+)`).exec(line);
    if (b) buckets.push([b[1] === "+Inf" ? Number.POSITIVE_INFINITY : Number(b[1]), Number(b[2])]);
    const c = new RegExp(`^${name}_count ([\\d.eE+-]+)`).exec(line);
    if (c) count = Number(c[1]);
    const s = new RegExp(`^${name}_sum ([\\d.eE+-]+)`).exec(line);
    if (s) sum = Number(s[1]);
  }
  return { buckets: buckets.sort((a, b) => a[0] - b[0]), count, sum };
}

function histDiff(a: Histogram, b: Histogram): Histogram {
  const before = new Map(a.buckets);
  return {
    buckets: b.buckets.map(([le, n]) => [le, n - (before.get(le) ?? 0)]),
    count: b.count - a.count,
    sum: b.sum - a.sum,
  };
}

/** histogram_quantile: linear inside the bucket; also the bucket's upper bound */
function quantile(h: Histogram, q: number): { value: number; le: number } {
  if (!h.count) return { value: Number.NaN, le: Number.NaN };
  const rank = q * h.count;
  let lower = 0;
  let below = 0;
  for (const [le, cum] of h.buckets) {
    if (cum >= rank) {
      if (!Number.isFinite(le)) return { value: lower, le };
      const inBucket = cum - below;
      return { value: lower + (le - lower) * (inBucket ? (rank - below) / inBucket : 1), le };
    }
    lower = le;
    below = cum;
  }
  return { value: Number.NaN, le: Number.NaN };
}

interface LatencyRow {
  mode: Mode;
  sent: number;
  errors: number;
  seconds: number;
  programming: Histogram;
  partial: Histogram;
  /** change sent → its new endpoint address visible in the rules (polled), ms */
  visible: number[];
  /** changes whose address never showed up */
  unseen: number;
  pollMs: number;
  note?: string;
}

async function scrape(topo: Topology): Promise<string> {
  const r = await topo.exec(topo.node, ["curl", "-s", "-m", "5", "http://127.0.0.1:10249/metrics"]);
  if (r.code !== 0) throw new Error(`scraping the proxy's metrics failed: ${r.stderr}`);
  return r.stdout;
}

async function benchLatency(o: Options): Promise<{ rows: LatencyRow[]; notes: string[] }> {
  const rows: LatencyRow[] = [];
  const notes: string[] = [];
  const topo = await newTopology();
  const dataDir = mkdtempSync(join(tmpdir(), "kubeplane-bench-proxy-api-"));
  try {
    const api = topo.spawnIn(topo.node, [
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
    await api.waitForLine((l) => l.includes('"apiserver ready"'), 60_000, "the apiserver");
    const kubeconfig = join(dataDir, "admin.kubeconfig");
    const driver = async (args: string[], timeoutMs: number) => {
      const r = await nsExec(topo.node, [process.execPath, SELF, "__driver", kubeconfig, ...args], {
        timeoutMs,
      });
      if (r.code !== 0) throw new Error(`driver ${args[0]} failed (${r.code}): ${r.stderr.slice(-1000)}`);
      return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as {
        sent: number;
        errors: number;
        seconds: number;
        changes: Array<[string, number]>;
      };
    };
    progress(`latency: creating ${o.latencyServices} services x ${o.endpoints} endpoints through the API`);
    await driver(["setup", String(o.latencyServices), String(o.endpoints)], 120_000);
    for (const mode of o.modes) {
      progress(`latency: kubeplane proxy --proxy-mode ${mode}`);
      const proxy = topo.spawnIn(
        topo.node,
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
        ],
        { KUBEPLANE_LOG_LEVEL: "info" },
      );
      try {
        await proxy.waitForLine((l) => l.includes('"first sync done"'), 60_000, "the proxy's first sync");
        const chosen = proxy.lines.find((l) => l.includes("iptables-wrapper detection"));
        const iptMode = chosen?.includes("iptables-legacy") ? "legacy" : "nft";
        if (chosen) {
          const rec = JSON.parse(chosen) as { msg?: string; reason?: string };
          notes.push(`latency run, iptables mode: the proxy chose "${rec.msg}" (${rec.reason})`);
        }
        await new Promise((r) => setTimeout(r, 1500));
        const m0 = await scrape(topo);
        progress(`  ${o.rate} endpoint changes/s for ${o.durationS} s`);
        // poll the rules back-to-back: the first time each endpoint address:8080 appears
        const seen = new Map<string, number>();
        const dump =
          mode === "nftables"
            ? ["nft", "list", "table", "ip", "kube-proxy"]
            : [`iptables-${iptMode}-save`, "-t", "nat"];
        let polling = true;
        let polls = 0;
        const p0 = Date.now();
        const poller = (async () => {
          while (polling) {
            const r = await nsExec(topo.node, dump, { timeoutMs: 10_000 });
            const now = Date.now();
            polls++;
            for (const m of r.stdout.matchAll(/(\d+\.\d+\.\d+\.\d+):8080/g))
              if (!seen.has(m[1]!)) seen.set(m[1]!, now);
          }
        })();
        const res = await driver(
          [
            "churn",
            String(o.latencyServices),
            String(o.endpoints),
            String(o.rate),
            String(o.durationS),
            String(o.modes.indexOf(mode)),
          ],
          (o.durationS + 60) * 1000,
        );
        await new Promise((r) => setTimeout(r, 3000));
        polling = false;
        await poller;
        const pollMs = (Date.now() - p0) / Math.max(1, polls);
        const visible: number[] = [];
        let unseen = 0;
        for (const [addr, sentAt] of res.changes) {
          const t = seen.get(addr);
          if (t === undefined) unseen++;
          else visible.push(t - sentAt);
        }
        const m1 = await scrape(topo);
        const name = "kubeproxy_network_programming_duration_seconds";
        const pname = "kubeproxy_sync_partial_proxy_rules_duration_seconds";
        const row: LatencyRow = {
          mode,
          sent: res.sent,
          errors: res.errors,
          seconds: res.seconds,
          visible,
          unseen,
          pollMs,
          programming: histDiff(histogram(m0, name), histogram(m1, name)),
          partial: histDiff(histogram(m0, pname), histogram(m1, pname)),
        };
        const failures = /kubeproxy_sync_proxy_rules_(?:iptables_restore|nft)_failures_total (\d+)/.exec(m1);
        if (failures && failures[1] !== "0") row.note = `${failures[1]} failed syncs`;
        rows.push(row);
        const vs = summarize(visible);
        progress(
          `  change → rule visible (polled every ${pollMs.toFixed(0)} ms): p50 ${ms(vs.p50)}, p99 ${ms(vs.p99)}, max ${ms(vs.max)}, ${unseen} never seen`,
        );
        progress(
          `  ${row.programming.count} observations, p50 ${quantile(row.programming, 0.5).value.toFixed(3)} s, p99 ${quantile(row.programming, 0.99).value.toFixed(3)} s`,
        );
      } finally {
        await proxy.kill("SIGTERM");
        const c = topo.spawnIn(topo.node, [process.execPath, CLI, "proxy", "--cleanup"]);
        await c.exited;
      }
    }
  } finally {
    await dropTopology(topo);
    rmSync(dataDir, { recursive: true, force: true });
  }
  return { rows, notes };
}

/** runs inside the node namespace: `node proxy.js __driver KUBECONFIG setup|churn ...` */
async function driverMain(argv: string[]): Promise<void> {
  const [kubeconfig, what, servicesS, endpointsS, rateS, secondsS, runS] = argv;
  const services = Number(servicesS);
  const endpoints = Number(endpointsS);
  const client = new RestClient(loadClusterConnection({ kubeconfig }), { component: "bench-proxy" });
  const ns = "bench-proxy";
  const name = (i: number) => `svc-${i}`;
  // endpoint addresses per slice; each change replaces one of them with a never-used address
  const current = Array.from({ length: services }, (_, i) =>
    Array.from({ length: endpoints }, (_, k) => epIP(k * services + i)),
  );
  // each churn run (one per mode, same apiserver) draws from its own address range
  let fresh = endpoints * services + 1_000_000 * Number(runS ?? 0);
  try {
    if (what === "setup") {
      await client
        .create(R.namespaces, { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } })
        .catch(() => {});
      await client.create(R.nodes, {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: "node-a" },
        status: { addresses: [{ type: "InternalIP", address: NODE_IP }] },
      });
      await pool(services, 16, async (i) => {
        const svc = service(ns, name(i), addr(96, 256 + i));
        await client.create(R.services, { apiVersion: "v1", kind: "Service", ...svc } as KubeObject);
        const s = slice(ns, name(i), current[i]!, new Date().toISOString());
        await client.create(R.endpointslices, {
          apiVersion: "discovery.k8s.io/v1",
          kind: "EndpointSlice",
          ...s,
        } as KubeObject);
      });
      process.stdout.write(`${JSON.stringify({ sent: services, errors: 0, seconds: 0, changes: [] })}\n`);
      return;
    }
    const rate = Number(rateS);
    const total = rate * Number(secondsS);
    const gen = Array.from({ length: services }, () => 0);
    const changes: Array<[string, number]> = [];
    let errors = 0;
    const inflight: Promise<void>[] = [];
    const t0 = performance.now();
    for (let n = 0; n < total; n++) {
      const due = t0 + (n * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const i = n % services;
      const k = gen[i]!++ % endpoints;
      const newIP = epIP(fresh++);
      current[i]![k] = newIP;
      const now = Date.now();
      changes.push([newIP, now]);
      const body = {
        metadata: {
          annotations: { "endpoints.kubernetes.io/last-change-trigger-time": new Date(now).toISOString() },
        },
        endpoints: slice(ns, name(i), current[i]!).endpoints,
      };
      inflight.push(
        client
          .patch({ ...R.endpointslices, namespace: ns, name: `${name(i)}-1` }, body, { type: "merge" })
          .then(
            () => {},
            () => {
              errors++;
            },
          ),
      );
    }
    await Promise.all(inflight);
    const seconds = (performance.now() - t0) / 1000;
    process.stdout.write(`${JSON.stringify({ sent: total, errors, seconds, changes })}\n`);
  } finally {
    await client.close();
  }
}

// ---------------------------------------------------------------- the whole benchmark

function fmtTimed(t: Timed | undefined, capMs: number): string {
  if (!t) return "n/a";
  if (t.timedOut) return `> ${(capMs / 1000).toFixed(0)} s (timeout)`;
  if (!t.ok) return "failed";
  return ms(t.ms);
}

function sizeLabel(n: number): string {
  return n % 1000 === 0 ? `${n / 1000}k` : String(n);
}

function x(a: number, b: number): string {
  const r = a / b;
  return Number.isFinite(r) ? `${r.toFixed(2)}x` : "n/a";
}

export async function benchProxy(args: string[]): Promise<string> {
  const o = parse(args);
  const missing = ["ip", "iptables-legacy-restore", "iptables-nft-restore", "nft", "curl"].filter(
    (t) => !has(t),
  );
  if (missing.length) throw new Error(`proxy bench needs ${missing.join(", ")}`);
  if (typeof process.getuid === "function" && process.getuid() !== 0)
    throw new Error("proxy bench needs root (network namespaces)");
  const wrkMissing = !has("wrk");
  const dpSize = o.sizes.at(-1)!;
  const datapath = o.datapath && !wrkMissing;
  const notes: string[] = [];
  if (o.datapath && wrkMissing) notes.push("data path skipped: wrk is not installed (apt-get install wrk)");
  const onSignal = () => {
    void cleanupAll().then(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const syncRows: SyncRow[] = [];
  const dataRows: Array<{ mode: Mode; rows: DataRow[]; error?: string }> = [];
  let baseline: DataRow | undefined;
  let latency: { rows: LatencyRow[]; notes: string[] } | undefined;
  const t0 = performance.now();
  try {
    {
      const probe = newNs("probe");
      const calls: Call[] = [];
      const r = nsRunner(probe, 10_000, calls);
      const det = await detectIptablesMode(r);
      const over: number[] = [];
      for (let i = 0; i < 5; i++) {
        const s = performance.now();
        await runCommand("ip", ["netns", "exec", probe, "true"]);
        over.push(performance.now() - s);
      }
      delNs(probe);
      notes.push(
        `iptables-wrapper detection in a fresh namespace picks iptables-${det.mode} (${det.reason}); the sync rows use iptables-legacy explicitly`,
      );
      notes.push(
        `\`ip netns exec NS true\` costs ${ms(summarize(over).p50)} (in every proxy command and every floor)`,
      );
    }
    // ---- 1 (+3): sync time, and the data path on the largest size
    for (const mode of o.modes) {
      let topo: Topology | undefined;
      try {
        if (datapath) {
          topo = await newTopology();
          await startBackend(topo);
          if (!baseline) {
            const why = await reachable(topo, `http://${BACKEND_IP}:8080/`);
            if (why) notes.push(`direct path broken before any rule: ${why}`);
            progress("data path: direct, no proxy rules loaded");
            baseline = await wrkPair(
              topo,
              `http://${BACKEND_IP}:8080/`,
              o,
              "pod IP directly, no proxy rules",
            );
          }
        }
        if (mode === "iptables" && o.sizes.includes(1000)) {
          await benchSync(
            "iptables-nft",
            1000,
            { ...o, timeoutMs: Math.min(o.timeoutMs, 60_000) },
            undefined,
            syncRows,
          );
        }
        let programmed = false;
        for (const size of o.sizes) {
          const v: Variant = mode;
          const inTopo = topo && size === dpSize ? topo.node : undefined;
          const ok = await benchSync(v, size, o, inTopo, syncRows);
          if (inTopo) programmed = ok;
        }
        if (topo) {
          const d: { mode: Mode; rows: DataRow[]; error?: string } = { mode, rows: [] };
          dataRows.push(d);
          if (!programmed) d.error = `the ${sizeLabel(dpSize)}-service full sync did not complete`;
          else {
            const why = await reachable(topo, `http://${TARGET_IP}/`);
            if (why) d.error = why;
            else {
              progress(`data path, ${mode}, ${sizeLabel(dpSize)} services programmed`);
              d.rows.push(await wrkPair(topo, `http://${TARGET_IP}/`, o, "ClusterIP"));
              d.rows.push(
                await wrkPair(topo, `http://${BACKEND_IP}:8080/`, o, "pod IP directly, rules loaded"),
              );
            }
          }
        }
      } finally {
        if (topo) await dropTopology(topo);
      }
    }
    // ---- 2: programming latency
    if (o.latency) latency = await benchLatency(o);
  } finally {
    await cleanupAll();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  progress(`total ${((performance.now() - t0) / 1000).toFixed(0)} s`);

  // ---- the table
  const rows: string[][] = [];
  for (const r of syncRows) {
    const p = r.proxy;
    const value = p.timedOut
      ? `> ${(o.timeoutMs / 1000).toFixed(0)} s (timeout)`
      : !p.ok
        ? `failed: ${p.err?.slice(0, 80)}`
        : `${ms(p.ms)} (apply ${ms(p.applyMs)}, ${p.commands} commands ${ms(p.childMs)})`;
    const floorName =
      r.variant === "nftables"
        ? "nft -f"
        : r.variant === "iptables"
          ? "iptables-legacy-restore"
          : "iptables-nft-restore";
    rows.push([
      `${r.kind} sync, ${sizeLabel(r.size)} svc x ${o.endpoints} ep${r.kind === "partial" ? " (1 endpoint changed, median of 3)" : ""}`,
      label(r.variant),
      value,
      `${floorName} alone${r.floorFromSync ? " (the sync's own child, measured once)" : ""}: ${fmtTimed(r.floor, o.timeoutMs)}`,
      p.ok && r.floor?.ok ? x(p.ms, r.floor.ms) : "n/a",
    ]);
  }
  for (const r of latency?.rows ?? []) {
    const v = summarize(r.visible);
    rows.push([
      `change sent → endpoint in the rules (polled), ${o.rate} changes/s, ${o.latencyServices} svc`,
      r.mode,
      `p50 ${ms(v.p50)}, p99 ${ms(v.p99)}, max ${ms(v.max)}`,
      `${v.n} changes seen, ${r.unseen} never; one poll every ${r.pollMs.toFixed(0)} ms; SLO p99 <= ${SLO_P99_S} s`,
      (v.p99 / 1000 / SLO_P99_S).toFixed(3),
    ]);
    const p50 = quantile(r.programming, 0.5);
    const p99 = quantile(r.programming, 0.99);
    const sp50 = quantile(r.partial, 0.5);
    const detail = `${r.programming.count} obs, ${r.sent} changes in ${r.seconds.toFixed(1)} s, ${r.errors} errors; partial sync p50 ${Number.isFinite(sp50.value) ? ms(sp50.value * 1000) : "n/a"}${r.note ? `; ${r.note}` : ""}`;
    rows.push([
      `network programming p50, ${o.rate} endpoint changes/s, ${o.latencyServices} svc`,
      r.mode,
      `${ms(p50.value * 1000)} (bucket <= ${p50.le} s)`,
      detail,
      "",
    ]);
    rows.push([
      `network programming p99, ${o.rate} endpoint changes/s, ${o.latencyServices} svc`,
      r.mode,
      `${ms(p99.value * 1000)} (bucket <= ${p99.le} s)`,
      `upstream SLO p99 <= ${SLO_P99_S} s`,
      (p99.value / SLO_P99_S).toFixed(3),
    ]);
  }
  const rps = (w: WrkResult) =>
    w.ok ? `${w.rps.toFixed(0)} req/s${w.errors ? ` (${w.errors})` : ""}` : "failed";
  if (baseline) {
    rows.push([
      "data path keep-alive",
      "none",
      rps(baseline.keepAlive),
      "pod IP, no rules (the anchor)",
      "1.00x",
    ]);
    rows.push([
      "data path new connection per request",
      "none",
      rps(baseline.close),
      "pod IP, no rules (the anchor)",
      "1.00x",
    ]);
  }
  for (const d of dataRows) {
    const name = d.mode === "iptables" ? "iptables (legacy)" : "nftables";
    if (d.error) {
      rows.push([`data path, ${sizeLabel(dpSize)} svc`, name, `n/a: ${d.error.slice(0, 100)}`, "", ""]);
      continue;
    }
    for (const r of d.rows) {
      for (const [kind, w, base] of [
        ["keep-alive", r.keepAlive, baseline?.keepAlive],
        ["new connection per request", r.close, baseline?.close],
      ] as const) {
        rows.push([
          `data path ${kind}, ${r.label}, ${sizeLabel(dpSize)} svc`,
          name,
          rps(w),
          `pod IP, no rules: ${base ? rps(base) : "n/a"}`,
          base?.ok && w.ok ? x(w.rps, base.rps) : "n/a",
        ]);
      }
    }
  }
  const header = `kube-proxy benchmark: ${o.sizes.map(sizeLabel).join(", ")} services x ${o.endpoints} endpoints; commands capped at ${o.timeoutMs / 1000} s\n`;
  return `${header}\n${table(["figure", "mode", "value", "anchor (same run)", "ratio"], rows)}\n\n${[...notes, ...(latency?.notes ?? [])].map((n) => `- ${n}`).join("\n")}\n`;
}

if (process.argv[1] && resolve(process.argv[1]) === SELF) {
  const argv = process.argv.slice(2);
  const main =
    argv[0] === "__driver"
      ? driverMain(argv.slice(1))
      : benchProxy(argv).then((out) => {
          process.stdout.write(`${out}\n`);
        });
  main.then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
