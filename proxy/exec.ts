/**
 * The effect layer: runs iptables(-restore), nft and conntrack as child processes. Pure
 * helpers (mode detection from save output, command lines) are exported for unit tests.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { type ConntrackDeletion, conntrackArgs } from "./conntrack.js";
import type { Family } from "./model.js";

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type Runner = (
  cmd: string,
  args: readonly string[],
  opts?: { input?: string; timeoutMs?: number },
) => Promise<CommandResult>;

/** runs a command, never throws for a non-zero exit (code 127 when it cannot start) */
export const runCommand: Runner = (cmd, args, opts = {}) =>
  new Promise((resolve) => {
    let stdout = "";
    let stderr = "";
    let done = false;
    const finish = (r: CommandResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(r);
    };
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      finish({ code: 124, stdout, stderr: `${stderr}\n${cmd}: timed out after ${opts.timeoutMs} ms` });
    }, opts.timeoutMs ?? 60_000);
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", (e) => finish({ code: 127, stdout, stderr: `${cmd}: ${e.message}` }));
    child.on("close", (code, signal) => finish({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    child.stdin.on("error", () => {
      // the command exited without reading its input; its exit code tells the story
    });
    child.stdin.end(opts.input ?? "");
  });

export class CommandError extends Error {
  constructor(
    readonly cmd: string,
    readonly result: CommandResult,
  ) {
    super(`${cmd} failed (exit ${result.code}): ${result.stderr.trim().split("\n").slice(-3).join(" | ")}`);
    this.name = "CommandError";
  }
}

// ---------------------------------------------------------------- iptables-wrapper mode

export type IptablesMode = "legacy" | "nft";

/** rule lines ("-A ...") in iptables-save output */
export function countRules(saveOutput: string): number {
  let n = 0;
  for (const line of saveOutput.split("\n")) if (line.startsWith("-")) n++;
  return n;
}

const HINT_CHAINS = [":KUBE-IPTABLES-HINT", ":KUBE-KUBELET-CANARY"];

function hasHint(saveOutput: string): boolean {
  return saveOutput.split("\n").some((l) => HINT_CHAINS.some((h) => l.startsWith(`${h} `)));
}

/**
 * The iptables-wrappers decision: a kubelet hint chain wins (nft first); otherwise the
 * backend already holding rules — legacy when it has at least 10 rule lines or more than
 * nft has; nft by default.
 */
export function chooseIptablesMode(
  legacySave: string,
  nftSave: string,
): { mode: IptablesMode; reason: string } {
  if (hasHint(nftSave)) return { mode: "nft", reason: "kubelet hint chain found in iptables-nft" };
  if (hasHint(legacySave)) return { mode: "legacy", reason: "kubelet hint chain found in iptables-legacy" };
  const legacy = countRules(legacySave);
  const nft = countRules(nftSave);
  if (legacy >= 10) return { mode: "legacy", reason: `iptables-legacy holds ${legacy} rules` };
  if (legacy > nft)
    return { mode: "legacy", reason: `iptables-legacy holds ${legacy} rules, iptables-nft ${nft}` };
  return {
    mode: "nft",
    reason:
      nft || legacy
        ? `iptables-nft holds ${nft} rules, iptables-legacy ${legacy}`
        : "no rules in either: default nft",
  };
}

export async function detectIptablesMode(
  run: Runner = runCommand,
): Promise<{ mode: IptablesMode; reason: string }> {
  const save = async (bins: string[]) => {
    let out = "";
    for (const b of bins) {
      const r = await run(b, [], { timeoutMs: 5000 });
      if (r.code === 0) out += r.stdout;
    }
    return out;
  };
  const legacy = await save(["iptables-legacy-save", "ip6tables-legacy-save"]);
  const nft = await save(["iptables-nft-save", "ip6tables-nft-save"]);
  return chooseIptablesMode(legacy, nft);
}

export function iptablesBinary(mode: IptablesMode, family: Family, tool: "" | "-restore" | "-save"): string {
  return `${family === 6 ? "ip6tables" : "iptables"}-${mode}${tool}`;
}

/** iptables command runner bound to one backend and family */
export class Iptables {
  constructor(
    readonly mode: IptablesMode,
    readonly family: Family,
    private readonly run: Runner = runCommand,
  ) {}

  /** one iptables-restore --noflush --counters call with the whole text on stdin */
  async restore(text: string): Promise<void> {
    const bin = iptablesBinary(this.mode, this.family, "-restore");
    const r = await this.run(bin, ["-w", "5", "--noflush", "--counters"], {
      input: text,
      timeoutMs: 600_000,
    });
    if (r.code !== 0) throw new CommandError(bin, r);
  }

  async save(table?: string): Promise<string> {
    const bin = iptablesBinary(this.mode, this.family, "-save");
    const r = await this.run(bin, table ? ["-t", table] : []);
    if (r.code !== 0) throw new CommandError(bin, r);
    return r.stdout;
  }

  /** iptables args, e.g. ["-t","nat","-N","X"]; returns the result (no throw) */
  exec(args: readonly string[]): Promise<CommandResult> {
    return this.run(iptablesBinary(this.mode, this.family, ""), ["-w", "5", ...args]);
  }

  async chainExists(table: string, chain: string): Promise<boolean> {
    return (await this.exec(["-t", table, "-S", chain, "1"])).code === 0;
  }

  async ensureChain(table: string, chain: string): Promise<void> {
    if (await this.chainExists(table, chain)) return;
    const r = await this.exec(["-t", table, "-N", chain]);
    if (r.code !== 0 && !(await this.chainExists(table, chain))) throw new CommandError("iptables -N", r);
  }

  /**
   * Makes sure a rule exists. `args` is an iptables command line with -A/-I (and -t):
   * checked with -C first, then run as given.
   */
  async ensureRule(args: readonly string[]): Promise<boolean> {
    const check = args.map((a) => (a === "-A" || a === "-I" ? "-C" : a));
    const iIdx = args.indexOf("-I");
    // "-I CHAIN 1 ...": the position is not part of a -C match
    if (iIdx >= 0 && /^\d+$/.test(args[iIdx + 2] ?? "")) check.splice(iIdx + 2, 1);
    if ((await this.exec(check)).code === 0) return false;
    const r = await this.exec(args);
    if (r.code !== 0) throw new CommandError(`iptables ${args.join(" ")}`, r);
    return true;
  }

  /** deletes a rule (args with -A/-I/-D); true when one was deleted */
  async deleteRule(args: readonly string[]): Promise<boolean> {
    const del = args.map((a) => (a === "-A" || a === "-I" ? "-D" : a));
    const iIdx = args.indexOf("-I");
    if (iIdx >= 0 && /^\d+$/.test(args[iIdx + 2] ?? "")) del.splice(iIdx + 2, 1);
    let any = false;
    while ((await this.exec(del)).code === 0) any = true;
    return any;
  }
}

// ---------------------------------------------------------------- nft

export async function nftApply(script: string, run: Runner = runCommand): Promise<void> {
  const r = await run("nft", ["-f", "-"], { input: script, timeoutMs: 600_000 });
  if (r.code !== 0) throw new CommandError("nft -f -", r);
}

/** table names of one family, without listing their contents */
export async function nftTables(family: "ip" | "ip6", run: Runner = runCommand): Promise<string[]> {
  const r = await run("nft", ["list", "tables", family]);
  if (r.code !== 0) throw new CommandError("nft list tables", r);
  return r.stdout
    .split("\n")
    .map((l) => /^table\s+\S+\s+(\S+)/.exec(l.trim())?.[1])
    .filter((x): x is string => !!x);
}

// ---------------------------------------------------------------- conntrack

/**
 * Deletes UDP conntrack entries; "0 entries deleted" (exit 1 with that message) is fine.
 * Returns the deletions that failed for another reason.
 */
export async function deleteConntrack(
  deletions: readonly ConntrackDeletion[],
  family: Family,
  run: Runner = runCommand,
): Promise<Array<{ deletion: ConntrackDeletion; error: string }>> {
  const failed: Array<{ deletion: ConntrackDeletion; error: string }> = [];
  for (const d of deletions) {
    const args = [...conntrackArgs(d), ...(family === 6 ? ["-f", "ipv6"] : [])];
    const r = await run("conntrack", args, { timeoutMs: 10_000 });
    if (r.code === 0) continue;
    if (/0 flow entries have been deleted/.test(r.stderr) || /0 flow entries/.test(r.stdout)) continue;
    failed.push({ deletion: d, error: r.stderr.trim() || `exit ${r.code}` });
  }
  return failed;
}

// ---------------------------------------------------------------- ipvs

/** whether the kernel has IP_VS (loaded, or loadable) */
export async function ipvsAvailable(run: Runner = runCommand): Promise<boolean> {
  if (existsSync("/proc/net/ip_vs") || existsSync("/sys/module/ip_vs")) return true;
  const r = await run("modprobe", ["-n", "ip_vs"], { timeoutMs: 5000 });
  return r.code === 0;
}
