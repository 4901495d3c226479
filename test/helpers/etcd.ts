/**
 * Starts a throwaway single-member etcd (Debian etcd-server, /usr/bin/etcd) for tests: a temp
 * data dir, client and peer URLs on free 127.0.0.1 ports (loopback only), quiet logs, a large
 * snapshot count, and a 1 s server-side watch progress notification interval (so storage
 * watchers get progress quickly, as kube deployments configure it). Resolves once /health
 * answers; stop() kills it and removes the data dir, and a process-exit hook does the same
 * for anything a crashed test left behind.
 *
 * Callers check etcdAvailable() first and skip with the reason "etcd not installed".
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ETCD_BIN = process.env.ETCD_BIN ?? "/usr/bin/etcd";

export function etcdAvailable(): boolean {
  return existsSync(ETCD_BIN);
}

export interface EtcdOptions {
  /** server-side watch progress notify interval (default "1s") */
  progressNotifyInterval?: string;
}

export interface RunningEtcd {
  endpoints: string[];
  /** the etcd process id (benchmarks read its CPU time from /proc) */
  pid: number;
  stop(): Promise<void>;
}

const running = new Set<{ child: ChildProcess; dir: string }>();
let exitHook = false;

function cleanupAll(): void {
  for (const r of running) {
    try {
      r.child.kill("SIGKILL");
    } catch {
      // gone
    }
    rmSync(r.dir, { recursive: true, force: true });
  }
  running.clear();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { health?: string };
    return body.health === "true";
  } catch {
    return false;
  }
}

export async function startEtcd(opts: EtcdOptions = {}): Promise<RunningEtcd> {
  if (!etcdAvailable()) throw new Error("etcd not installed");
  if (!exitHook) {
    exitHook = true;
    process.on("exit", cleanupAll);
  }
  const dir = mkdtempSync(join(tmpdir(), "kubeplane-etcd-"));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const args = [
    "--name=kp",
    `--data-dir=${join(dir, "data")}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=kp=${peerUrl}`,
    "--initial-cluster-state=new",
    "--initial-cluster-token=kubeplane-test",
    "--snapshot-count=1000000",
    "--logger=zap",
    "--log-level=error",
    `--experimental-watch-progress-notify-interval=${opts.progressNotifyInterval ?? "1s"}`,
  ];
  const child = spawn(ETCD_BIN, args, { stdio: ["ignore", "ignore", "pipe"] });
  const entry = { child, dir };
  running.add(entry);
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  let exited: number | null | undefined;
  child.on("exit", (code) => {
    exited = code;
  });

  const stop = async (): Promise<void> => {
    if (!running.has(entry)) return;
    running.delete(entry);
    if (exited === undefined) {
      const gone = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 3000);
      await gone;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 20_000;
  while (!(await healthy(clientUrl))) {
    if (exited !== undefined || Date.now() > deadline) {
      await stop();
      throw new Error(`etcd did not start (exit ${String(exited)}): ${stderr.trim().slice(-1000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { endpoints: [clientUrl], pid: child.pid!, stop };
}
