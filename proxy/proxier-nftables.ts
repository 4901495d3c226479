/**
 * The nftables backend of the proxier: `nft -f -` with the generator's (incremental) script;
 * the generator's snapshot of what is programmed is kept between syncs so that only changed
 * elements and chains are written. The table's presence (`nft list tables`, never the
 * table's contents) tells whether someone deleted it.
 */
import type { Logger } from "../cli/logger.js";
import { CommandError, nftApply, nftTables, type Runner, runCommand } from "./exec.js";
import type { Family, ProxyState } from "./model.js";
import {
  cleanupNft,
  generateNft,
  type NftSnapshot,
  snapshotFromExisting,
  TABLE,
} from "./nftables/ruleset.js";
import type { Backend, BackendSyncResult } from "./proxier-iptables.js";

export const NFT_TABLE = TABLE;

function nftFamily(family: Family): "ip" | "ip6" {
  return family === 6 ? "ip6" : "ip";
}

/** names declared as `KIND NAME {` inside `table FAMILY kube-proxy {` of nft output */
export function namesInTable(output: string, family: "ip" | "ip6", kind: "chain" | "set" | "map"): string[] {
  const out: string[] = [];
  let inTable = false;
  for (const raw of output.split("\n")) {
    const line = raw.trim();
    const t = /^table\s+(\S+)\s+(\S+)\s*\{/.exec(line);
    if (t) {
      inTable = t[1] === family && t[2] === TABLE;
      continue;
    }
    if (!inTable) continue;
    const m = new RegExp(`^${kind}\\s+(\\S+)\\s*\\{`).exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}

export class NftablesBackend implements Backend {
  private previous: NftSnapshot | undefined;
  private adopted = false;
  readonly description: string;

  constructor(
    readonly family: Family,
    private readonly log: Logger,
    private readonly run: Runner = runCommand,
  ) {
    this.description = `nftables ${nftFamily(family)} ${NFT_TABLE}`;
  }

  /**
   * Once, before the first sync: a table left by an earlier run is adopted from the names of
   * its chains and sets (not its contents), so the first full sync removes what is stale
   * without ever deleting the table (connections keep flowing across a restart).
   */
  private async adopt(): Promise<void> {
    this.adopted = true;
    const fam = nftFamily(this.family);
    if (!(await nftTables(fam, this.run)).includes(NFT_TABLE)) return;
    const chains = await this.run("nft", ["list", "chains", fam]);
    const sets = await this.run("nft", ["-t", "list", "sets", fam]);
    if (chains.code !== 0) throw new CommandError("nft list chains", chains);
    if (sets.code !== 0) throw new CommandError("nft list sets", sets);
    const chainNames = namesInTable(chains.stdout, fam, "chain");
    const setNames = namesInTable(sets.stdout, fam, "set");
    this.previous = snapshotFromExisting(this.family, chainNames, setNames);
    this.log.info(
      { family: fam, chains: chainNames.length, sets: setNames.length },
      "adopting the existing nftables table",
    );
  }

  async sync(state: ProxyState, full: boolean, _changed: Set<string>): Promise<BackendSyncResult> {
    if (!this.adopted) await this.adopt();
    const res = generateNft(state, { full, previous: this.previous, now: Date.now() });
    if (res.script.trim()) await nftApply(res.script, this.run);
    // adopted only once applied: after a failure the old snapshot stays and the next sync is full
    this.previous = res.snapshot;
    return { bytes: res.script.length, again: res.snapshot.staleChains.size > 0 };
  }

  /**
   * The table is there and its nat-prerouting base chain still jumps to "services": a deleted
   * table or a `nft flush table` (which empties every chain) both fail this small listing.
   */
  async intact(): Promise<boolean> {
    if (this.previous === undefined) return true;
    const fam = nftFamily(this.family);
    const chain = await this.run("nft", ["list", "chain", fam, NFT_TABLE, "nat-prerouting"]);
    if (chain.code === 0 && /\bjump services\b/.test(chain.stdout)) return true;
    this.log.warn({ family: fam }, `nftables table ${NFT_TABLE} is gone or was flushed`);
    this.previous = undefined;
    return false;
  }
}

/** deletes the kube-proxy table of each family when it exists; nothing else */
export async function cleanupNftables(log: Logger, run: Runner = runCommand): Promise<boolean> {
  let any = false;
  for (const fam of ["ip", "ip6"] as const) {
    let tables: string[];
    try {
      tables = await nftTables(fam, run);
    } catch {
      continue;
    }
    if (!tables.includes(NFT_TABLE)) continue;
    await nftApply(cleanupNft(fam === "ip6" ? 6 : 4), run);
    log.info({ family: fam }, `deleted nftables table ${NFT_TABLE}`);
    any = true;
  }
  return any;
}
