/**
 * Network-namespace topology for proxy end-to-end tests. Everything lives inside namespaces:
 *
 *   NODE: lo, br0 10.244.0.1/24 (the node address), routes to the service range; the
 *         apiserver and the proxy run here as children (`ip netns exec NODE ...`)
 *   PODi: eth0 10.244.0.(10+i)/32, default route via 10.244.0.1 (veth peer vpi on br0)
 *   EXT:  eth0 10.244.1.2/32 — a client outside --cluster-cidr 10.244.0.0/24
 *
 * Pods use /32 addresses routed through the node (no pod-to-pod L2 shortcut), so replies
 * of DNATed connections always pass the node's conntrack, with or without br_netfilter;
 * bridge ports are in hairpin mode (as the CNI bridge plugin sets them) for pod → own Service.
 * Nothing is created in the root namespace: veth pairs are created from inside NODE with
 * their peer moved straight into the pod namespace. `destroy()` kills every child started
 * through `spawnIn` and deletes the namespaces (idempotent; call it in afterAll and on failure).
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";

export interface NsResult {
  code: number;
  stdout: string;
  stderr: string;
}

function has(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).status === 0;
}

/** why namespace tests cannot run here, or undefined */
export function netnsSkipReason(tools: readonly string[] = []): string | undefined {
  if (process.platform !== "linux") return "needs Linux network namespaces";
  if (typeof process.getuid === "function" && process.getuid() !== 0)
    return "needs root to create network namespaces";
  if (!has("ip")) return "needs iproute2 (ip netns)";
  for (const t of tools) if (!has(t)) return `needs ${t}`;
  const probe = `kp-probe-${randomBytes(3).toString("hex")}`;
  const r = spawnSync("ip", ["netns", "add", probe], { encoding: "utf8" });
  if (r.status !== 0) return `cannot create a network namespace: ${r.stderr.trim()}`;
  spawnSync("ip", ["netns", "del", probe]);
  return undefined;
}

/** runs argv inside namespace `ns` */
export function nsExec(
  ns: string,
  argv: readonly string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<NsResult> {
  return new Promise((resolve) => {
    const child = execFile(
      "ip",
      ["netns", "exec", ns, ...argv],
      { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === "number"
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.on("error", () => {
      // the command exited without reading its input
    });
    child.stdin?.end(opts.input ?? "");
  });
}

/** like nsExec, throwing on a non-zero exit */
export async function nsRun(ns: string, argv: readonly string[], input?: string): Promise<string> {
  const r = await nsExec(ns, argv, { input });
  if (r.code !== 0) throw new Error(`${argv.join(" ")} in ${ns} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export interface NsChild {
  child: ChildProcess;
  /** stdout and stderr lines so far */
  lines: string[];
  exited: Promise<number | null>;
  /** resolves with the first line matching `pred` */
  waitForLine(pred: (line: string) => boolean, ms: number, what: string): Promise<string>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface Pod {
  ns: string;
  name: string;
  ip: string;
}

export class Topology {
  readonly node: string;
  readonly pods: Pod[];
  readonly ext: Pod;
  readonly nodeIP = "10.244.0.1";
  private readonly children = new Set<NsChild>();
  private destroyed = false;

  private constructor(readonly prefix: string) {
    this.node = `${prefix}-node`;
    this.pods = [1, 2, 3].map((i) => ({
      ns: `${prefix}-pod${i}`,
      name: `pod${i}`,
      ip: `10.244.0.${10 + i}`,
    }));
    this.ext = { ns: `${prefix}-ext`, name: "ext", ip: "10.244.1.2" };
  }

  /** all namespaces, node first */
  get namespaces(): string[] {
    return [this.node, ...this.pods.map((p) => p.ns), this.ext.ns];
  }

  static async create(prefix = `kp${randomBytes(2).toString("hex")}`): Promise<Topology> {
    const t = new Topology(prefix);
    try {
      await t.build();
    } catch (e) {
      await t.destroy();
      throw e;
    }
    return t;
  }

  private async build(): Promise<void> {
    const ip = async (args: string[]) => {
      const r = spawnSync("ip", args, { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
    };
    for (const ns of this.namespaces) await ip(["netns", "add", ns]);
    const n = this.node;
    await ip(["-n", n, "link", "set", "lo", "up"]);
    await ip(["-n", n, "link", "add", "br0", "type", "bridge"]);
    await ip(["-n", n, "addr", "add", `${this.nodeIP}/24`, "dev", "br0"]);
    await ip(["-n", n, "link", "set", "br0", "up"]);
    await nsRun(n, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    await nsRun(n, ["sysctl", "-q", "-w", "net.ipv4.conf.all.send_redirects=0"]);
    await nsRun(n, ["sysctl", "-q", "-w", "net.ipv4.conf.br0.send_redirects=0"]);
    // locally originated traffic to service IPs needs a route before OUTPUT DNAT applies
    await ip(["-n", n, "route", "add", "10.96.0.0/12", "dev", "br0"]);
    const attach = async (p: Pod, i: number) => {
      const veth = `vp${i}`;
      await ip(["-n", n, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", p.ns]);
      await ip(["-n", n, "link", "set", veth, "master", "br0", "up"]);
      // like the CNI bridge plugin's hairpinMode: a pod's own traffic may come back through its port
      await ip(["-n", n, "link", "set", veth, "type", "bridge_slave", "hairpin", "on"]);
      await ip(["-n", p.ns, "link", "set", "lo", "up"]);
      await ip(["-n", p.ns, "addr", "add", `${p.ip}/32`, "dev", "eth0"]);
      await ip(["-n", p.ns, "link", "set", "eth0", "up"]);
      await ip(["-n", p.ns, "route", "add", this.nodeIP, "dev", "eth0", "scope", "link"]);
      await ip(["-n", p.ns, "route", "add", "default", "via", this.nodeIP, "dev", "eth0"]);
      if (!p.ip.startsWith("10.244.0.")) await ip(["-n", n, "route", "add", `${p.ip}/32`, "dev", "br0"]);
    };
    for (const [i, p] of this.pods.entries()) await attach(p, i + 1);
    await attach(this.ext, 9);
  }

  /** starts argv inside `ns` as a child that destroy() kills */
  spawnIn(ns: string, argv: readonly string[], env: NodeJS.ProcessEnv = {}): NsChild {
    const child = spawn("ip", ["netns", "exec", ns, ...argv], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    child.stdin?.on("error", () => {});
    const lines: string[] = [];
    const waiters = new Set<{ pred: (l: string) => boolean; resolve: (l: string) => void }>();
    const onLine = (l: string) => {
      lines.push(l);
      for (const w of waiters) {
        if (w.pred(l)) {
          waiters.delete(w);
          w.resolve(l);
        }
      }
    };
    createInterface({ input: child.stdout! }).on("line", onLine);
    createInterface({ input: child.stderr! }).on("line", onLine);
    const exited = new Promise<number | null>((res) =>
      child.once("exit", (code, sig) => res(code ?? (sig ? -1 : null))),
    );
    const nc: NsChild = {
      child,
      lines,
      exited,
      waitForLine: (pred, ms, what) => {
        const found = lines.find(pred);
        if (found !== undefined) return Promise.resolve(found);
        return new Promise((resolve, reject) => {
          const w = {
            pred,
            resolve: (l: string) => {
              clearTimeout(timer);
              resolve(l);
            },
          };
          const timer = setTimeout(() => {
            waiters.delete(w);
            reject(
              new Error(
                `timed out after ${ms} ms waiting for ${what}; last output:\n${lines.slice(-15).join("\n")}`,
              ),
            );
          }, ms);
          waiters.add(w);
          void exited.then((code) => {
            if (!waiters.has(w)) return;
            waiters.delete(w);
            clearTimeout(timer);
            reject(
              new Error(
                `process exited (${code}) while waiting for ${what}:\n${lines.slice(-15).join("\n")}`,
              ),
            );
          });
        });
      },
      kill: async (signal = "SIGTERM") => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        const code = await exited;
        clearTimeout(timer);
        this.children.delete(nc);
        return code;
      },
    };
    this.children.add(nc);
    return nc;
  }

  exec(
    ns: string,
    argv: readonly string[],
    opts?: { input?: string; timeoutMs?: number },
  ): Promise<NsResult> {
    return nsExec(ns, argv, opts);
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await Promise.all([...this.children].map((c) => c.kill("SIGKILL").catch(() => null)));
    for (const ns of this.namespaces) spawnSync("ip", ["netns", "del", ns], { encoding: "utf8" });
  }
}
