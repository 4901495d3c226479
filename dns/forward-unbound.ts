/**
 * Test and benchmark helper: runs Debian's `unbound` on 127.0.0.1:<port> in the foreground with a
 * generated config, serving `localData` records from static local zones. Everything else is
 * REFUSED (`local-zone: "." refuse`), so unbound never recurses to the internet. A unix control
 * socket allows `unbound-control stats_noreset` (query counts) without certificates.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export const UNBOUND = "/usr/sbin/unbound";
export const UNBOUND_CONTROL = "/usr/sbin/unbound-control";

export interface UnboundOptions {
  port: number;
  /** zones served as `local-zone: "<zone>" static` */
  zones: string[];
  /** lines for `local-data:` (no single quotes inside), e.g. "www.example.test. 300 IN A 192.0.2.1" */
  localData: string[];
  threads?: number;
}

export interface Unbound {
  port: number;
  address: string;
  dir: string;
  child: ChildProcess;
  /** unbound's counters (`unbound-control stats_noreset`), e.g. "total.num.queries" */
  stats(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

/** why unbound cannot run here, or undefined */
export function unboundMissing(): string | undefined {
  if (!existsSync(UNBOUND)) return "unbound is not installed (apt-get install unbound)";
  if (!existsSync(UNBOUND_CONTROL)) return "unbound-control is not installed (apt-get install unbound)";
  return undefined;
}

function quote(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

export async function startUnbound(opts: UnboundOptions): Promise<Unbound> {
  const dir = mkdtempSync(join(tmpdir(), "kubeplane-unbound-"));
  const conf = join(dir, "unbound.conf");
  const lines = [
    "server:",
    "  interface: 127.0.0.1",
    `  port: ${opts.port}`,
    "  do-daemonize: no",
    '  chroot: ""',
    '  username: ""',
    `  directory: ${quote(dir)}`,
    `  pidfile: ${quote(join(dir, "unbound.pid"))}`,
    "  use-syslog: no",
    '  logfile: ""',
    "  verbosity: 0",
    "  extended-statistics: yes",
    `  num-threads: ${opts.threads ?? 1}`,
    "  do-ip6: no",
    "  access-control: 127.0.0.0/8 allow",
    '  module-config: "iterator"',
    "  msg-cache-size: 16m",
    "  rrset-cache-size: 32m",
    // never recurse: anything outside the local zones is refused
    '  local-zone: "." refuse',
    ...opts.zones.map((z) => `  local-zone: ${quote(z)} static`),
    // single quotes, so TXT data can carry its own double quotes
    ...opts.localData.map((d) => `  local-data: '${d}'`),
    "remote-control:",
    "  control-enable: yes",
    `  control-interface: ${quote(join(dir, "unbound.ctl"))}`,
    "  control-use-cert: no",
    "",
  ];
  writeFileSync(conf, lines.join("\n"));
  const child = spawn(UNBOUND, ["-d", "-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr!.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const exited = new Promise<void>((res) => child.once("exit", () => res()));
  const control = async (...args: string[]) =>
    (await run(UNBOUND_CONTROL, ["-c", conf, ...args], { timeout: 5000 })).stdout;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(t);
    rmSync(dir, { recursive: true, force: true });
  };
  // ready once the control socket answers
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`unbound exited with ${child.exitCode}: ${output}`);
    }
    try {
      await control("status");
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`unbound not ready in 15 s: ${String(err)} ${output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    port: opts.port,
    address: `127.0.0.1:${opts.port}`,
    dir,
    child,
    async stats() {
      const out: Record<string, number> = {};
      for (const line of (await control("stats_noreset")).split("\n")) {
        const i = line.indexOf("=");
        if (i > 0) out[line.slice(0, i)] = Number(line.slice(i + 1));
      }
      return out;
    },
    stop,
  };
}
