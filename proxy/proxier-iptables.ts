/**
 * The iptables backend of the proxier: one `iptables-restore --noflush --counters` per sync
 * (partial: only changed services' chains), jumps from the built-in chains ensured on full
 * syncs, KUBE-PROXY-CANARY chains to notice a flush by someone else, and --cleanup.
 */
import type { Logger } from "../cli/logger.js";
import { CommandError, Iptables, type IptablesMode, type Runner, runCommand } from "./exec.js";
import {
  CANARY_TABLES,
  canaryChains,
  cleanupRuleset,
  ensureJumps,
  generate,
  KUBE_PROXY_CANARY,
  kubeChainsIn,
  restoreText,
} from "./iptables/ruleset.js";
import type { Family, ProxyState } from "./model.js";

/** kube-proxy drops the per-endpoint comments above this many endpoints */
export const LARGE_CLUSTER_ENDPOINTS = 1000;

export interface BackendSyncResult {
  /** restore/script size in bytes (for logs) */
  bytes: number;
  /** the backend wants another sync soon (e.g. stale nftables chains to delete a moment later) */
  again?: boolean;
}

/** what the proxier needs from a backend, per family */
export interface Backend {
  readonly family: Family;
  readonly description: string;
  /** programs `state`; full rewrites everything, otherwise only `changed` service ports */
  sync(state: ProxyState, full: boolean, changed: Set<string>): Promise<BackendSyncResult>;
  /** false when the kubeplane rules were removed behind our back (a full resync is needed) */
  intact(): Promise<boolean>;
}

function totalEndpoints(state: ProxyState): number {
  let n = 0;
  for (const eps of state.endpoints.values()) n += eps.length;
  return n;
}

export class IptablesBackend implements Backend {
  private readonly ipt: Iptables;
  private previousChains: Set<string> | undefined;
  readonly description: string;

  constructor(
    readonly family: Family,
    mode: IptablesMode,
    private readonly log: Logger,
    run: Runner = runCommand,
  ) {
    this.ipt = new Iptables(mode, family, run);
    this.description = `${family === 6 ? "ip6tables" : "iptables"}-${mode}`;
  }

  async sync(state: ProxyState, full: boolean, changed: Set<string>): Promise<BackendSyncResult> {
    const isFull = full || !this.previousChains;
    let previous = this.previousChains;
    if (isFull) {
      await this.ensureBase();
      // chains left by an earlier run (or another instance) are stale unless regenerated
      previous = new Set([...(previous ?? []), ...kubeChainsIn(await this.ipt.save("nat"), "nat")]);
    }
    const ruleset = generate(state, {
      full: isFull,
      changed: isFull ? undefined : changed,
      previousChains: previous,
      commentsOff: totalEndpoints(state) > LARGE_CLUSTER_ENDPOINTS,
    });
    const text = restoreText(ruleset);
    try {
      await this.ipt.restore(text);
    } catch (e) {
      // the kernel state is unknown now: the next sync must be a full one
      this.previousChains = undefined;
      throw e;
    }
    this.previousChains = ruleset.chains;
    if (isFull) await ensureCanaries(this.ipt, this.log);
    return { bytes: text.length };
  }

  /** the chains the jumps point to, and the jumps (checked with -C, inserted when missing) */
  private async ensureBase(): Promise<void> {
    const { chains, jumps } = ensureJumps(this.family);
    for (const args of chains) {
      const table = args[1]!;
      const chain = args[3]!;
      await this.ipt.ensureChain(table, chain);
    }
    for (const j of jumps) {
      if ((await this.ipt.exec(j.check)).code === 0) continue;
      const r = await this.ipt.exec(j.insert);
      if (r.code !== 0) throw new CommandError(`iptables ${j.insert.join(" ")}`, r);
    }
  }

  async intact(): Promise<boolean> {
    if (!this.previousChains) return true; // nothing programmed yet
    return canariesIntact(this.ipt);
  }
}

// ---------------------------------------------------------------- canaries

/** KUBE-PROXY-CANARY with its rule in mangle, nat and filter (shared by the iptables and IPVS backends) */
export async function ensureCanaries(ipt: Iptables, log: Logger): Promise<void> {
  const { rule } = canaryChains();
  for (const [i, table] of CANARY_TABLES.entries()) {
    try {
      await ipt.ensureChain(table, KUBE_PROXY_CANARY);
      await ipt.ensureRule(rule[i]!);
    } catch (e) {
      log.warn({ table, err: String(e) }, "cannot create canary chain");
    }
  }
}

/** false once someone deleted a canary chain or flushed its table */
export async function canariesIntact(ipt: Iptables): Promise<boolean> {
  for (const args of canaryChains().rule) {
    if ((await ipt.exec(args.map((a) => (a === "-A" ? "-C" : a)))).code !== 0) return false;
  }
  return true;
}

// ---------------------------------------------------------------- cleanup

function tablesIn(save: string): Set<string> {
  const out = new Set<string>();
  for (const line of save.split("\n")) if (line.startsWith("*")) out.add(line.slice(1).trim());
  return out;
}

function chainsIn(save: string, table: string): Set<string> {
  const out = new Set<string>();
  let current = "";
  for (const line of save.split("\n")) {
    if (line.startsWith("*")) current = line.slice(1).trim();
    else if (current === table && line.startsWith(":")) out.add(line.slice(1).split(" ")[0]!);
  }
  return out;
}

/** keeps only the `*table ... COMMIT` sections of restore text whose table exists */
function sectionsFor(restore: string, tables: Set<string>): string {
  return restore
    .split(/(?=^\*)/m)
    .filter((s) => s.trim() && tables.has(s.slice(1, s.indexOf("\n")).trim()))
    .join("");
}

/**
 * Removes kubeplane's iptables rules from one backend and family: jumps, KUBE-* chains of
 * kube-proxy's layout, canaries. A backend/family without any of them is not touched at all
 * (not even read-modify-written), so tables nobody created stay absent.
 */
export async function cleanupIptables(
  mode: IptablesMode,
  family: Family,
  log: Logger,
  run: Runner = runCommand,
): Promise<boolean> {
  const ipt = new Iptables(mode, family, run);
  let save: string;
  try {
    save = await ipt.save();
  } catch {
    return false; // backend not usable here
  }
  const nat = kubeChainsIn(save, "nat");
  const filter = kubeChainsIn(save, "filter");
  const canaryTables = CANARY_TABLES.filter((t) => chainsIn(save, t).has(KUBE_PROXY_CANARY));
  if (!nat.length && !filter.length && !canaryTables.length) return false;
  const plan = cleanupRuleset({ nat });
  const tables = tablesIn(save);
  for (const args of plan.deleteJumps) {
    const table = args[1]!;
    if (!tables.has(table)) continue;
    const target = args.at(-1)!;
    if (!chainsIn(save, table).has(target)) continue;
    while ((await ipt.exec(args)).code === 0) {
      // a jump may have been inserted more than once
    }
  }
  const restore = sectionsFor(plan.restore, tables);
  if (restore) await ipt.restore(restore);
  for (const args of plan.deleteCanaries) {
    if (canaryTables.includes(args[1] as (typeof CANARY_TABLES)[number])) await ipt.exec(args);
  }
  log.info(
    { backend: `${family === 6 ? "ip6tables" : "iptables"}-${mode}`, natChains: nat.length },
    "removed iptables rules",
  );
  return true;
}
