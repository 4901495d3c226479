/**
 * The IPVS backend of the proxier (kube-proxy's IPVS mode), built like the iptables and
 * nftables backends: the pure writer (ipvs/ruleset.ts) and planner (ipvs/plan.ts) decide, this
 * file only runs the tools. Per sync, in this order:
 *
 * 1. `ipset restore`: each changed KUBE-* set is refilled in a swap set and swapped in (atomic);
 * 2. `iptables-restore --noflush`: the few fixed chains IPVS mode needs (masquerade via the
 *    sets, KUBE-FORWARD, the LB source-range firewall), only when their text changed or on a full
 *    sync; full syncs also ensure the jumps from the built-in chains and the canary chains;
 * 3. `ip -force -batch -`: new VIPs bound to the dummy interface kube-ipvs0 (kept down, like
 *    upstream);
 * 4. `ipvsadm -R`: only the -A/-E/-D/-a/-e/-d lines that turn the virtual servers programmed
 *    into the desired ones. What is programmed is read once (`ipvsadm -Sn`, the addresses of
 *    kube-ipvs0, `ipset save` for the NodePort sets, which tell which virtual servers are
 *    kubeplane's) and then tracked in memory; it is read again only after a failed sync or
 *    when the canaries / kube-ipvs0 disappeared;
 * 5. `ip -force -batch -`: VIPs no longer used removed from kube-ipvs0.
 *
 * Stale UDP conntrack entries are deleted by the shared proxier code (conntrack.ts), as in the
 * other modes; net.ipv4.vs.expire_nodest_conn=1 makes IPVS drop its own connection entries to
 * removed real servers on their next packet, and net.ipv4.vs.conntrack=1 lets the iptables
 * MASQUERADE rules see IPVS traffic. Real servers are removed at once (no graceful weight-0
 * phase as upstream has).
 *
 * UNTESTED HERE: this machine's kernel has no IP_VS (no /proc/net/ip_vs, `modprobe ip_vs`
 * fails) and neither ipvsadm nor ipset is installed, so nothing in this file has ever been run
 * against a real kernel: not the virtual servers (does traffic to a ClusterIP / NodePort reach
 * the real servers, rr spread, -p persistence for ClientIP affinity), not `ipvsadm -Sn` parsing
 * of a real kernel's output (the parser is tested on hand-written text in ipvsadm's format), not
 * `ipset restore` with the swap (set types, comment extension, bitmap:port ranges), not the
 * iptables rules with `-m set` matches (masquerade of off-cluster and hairpin traffic), not the
 * VIPs on a down dummy interface (IPv6 in particular), not the sysctls, not `--cleanup` of real
 * IPVS state, not UDP fail-over with IPVS' own connection table. What IS tested: the plans
 * (ipvs/plan.test.ts: exact ipvsadm -R lines, the ipset swap script, the address batches, the
 * cleanup text), this backend's command sequence, backend selection and --cleanup against a
 * recording runner (proxier-ipvs.test.ts), and that ipvs mode on this kernel fails at start with
 * one line that suggests nftables (test/proxy.e2e.test.ts). An end-to-end test of the data path
 * needs a kernel with IP_VS plus ipvsadm and ipset; none is written as a skipped test.
 */
import { existsSync } from "node:fs";
import { networkInterfaces } from "node:os";
import type { Logger } from "../cli/logger.js";
import { CommandError, Iptables, type IptablesMode, type Runner, runCommand } from "./exec.js";
import {
  chainsInSave,
  deleteServicesText,
  hasIpvsChains,
  type IpvsTable,
  ipvsIptablesCleanup,
  ipvsJumps,
  nodePortsIn,
  ownedServices,
  parseIpAddrShow,
  parseIpsetSave,
  parseIpvsadm,
  planAddresses,
  planIpsets,
  planIpvs,
  swapSetName,
} from "./ipvs/plan.js";
import { DUMMY_INTERFACE, generateIpvs, ipsetNames } from "./ipvs/ruleset.js";
import type { Family, ProxyState } from "./model.js";
import type { Backend, BackendSyncResult } from "./proxier-iptables.js";
import { canariesIntact, ensureCanaries } from "./proxier-iptables.js";

/** the sysctls upstream's IPVS proxier sets (per network namespace once ip_vs is loaded) */
export const IPVS_SYSCTLS: ReadonlyArray<readonly [string, string]> = [
  ["net.ipv4.vs.conntrack", "1"],
  ["net.ipv4.vs.conn_reuse_mode", "0"],
  ["net.ipv4.vs.expire_nodest_conn", "1"],
  ["net.ipv4.vs.expire_quiescent_template", "1"],
];

/** the tools IPVS mode needs that cannot be started here (exit 127), e.g. ["ipset"] */
export async function missingIpvsTools(run: Runner = runCommand): Promise<string[]> {
  const missing: string[] = [];
  for (const [tool, args] of [
    ["ipvsadm", ["--version"]],
    ["ipset", ["version"]],
  ] as const) {
    if ((await run(tool, args, { timeoutMs: 5000 })).code === 127) missing.push(tool);
  }
  return missing;
}

async function must(run: Runner, cmd: string, args: readonly string[], input?: string): Promise<string> {
  const r = await run(cmd, args, { input, timeoutMs: 600_000 });
  if (r.code !== 0) throw new CommandError(`${cmd} ${args.join(" ")}`, r);
  return r.stdout;
}

async function linkExists(run: Runner): Promise<boolean> {
  return (await run("ip", ["-o", "link", "show", DUMMY_INTERFACE])).code === 0;
}

async function dummyAddresses(run: Runner, family: Family): Promise<string[]> {
  const r = await run("ip", ["-o", `-${family}`, "addr", "show", "dev", DUMMY_INTERFACE]);
  return r.code === 0 ? parseIpAddrShow(r.stdout, family) : [];
}

/** `ipset save` of our sets only (a missing set is not an error); withSwap: their swap sets too */
async function savedSets(run: Runner, family: Family, withSwap = false): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const names = ipsetNames(family);
  for (const name of withSwap ? [...names, ...names.map(swapSetName)] : names) {
    const r = await run("ipset", ["save", name]);
    if (r.code !== 0) continue;
    for (const [k, v] of parseIpsetSave(r.stdout)) out.set(k, v);
  }
  return out;
}

/** what is programmed, as far as this backend knows */
interface Tracked {
  table: IpvsTable;
  owned: Set<string>;
  addresses: string[];
}

export class IpvsBackend implements Backend {
  private readonly ipt: Iptables;
  readonly description: string;
  /** undefined: unknown (start, or after a failure): read it from the kernel before the next sync */
  private tracked: Tracked | undefined;
  private appliedSets: Map<string, string> | undefined;
  private appliedIptables: string | undefined;
  private sysctlsDone = false;
  private synced = false;

  constructor(
    readonly family: Family,
    mode: IptablesMode,
    private readonly log: Logger,
    private readonly run: Runner = runCommand,
  ) {
    this.ipt = new Iptables(mode, family, run);
    this.description = `ipvs ${family === 6 ? "ipv6" : "ipv4"} (${family === 6 ? "ip6tables" : "iptables"}-${mode})`;
  }

  /** reads what is programmed: virtual servers, kube-ipvs0's addresses, the NodePort sets */
  private async adopt(state: ProxyState): Promise<Tracked> {
    const table = parseIpvsadm(await must(this.run, "ipvsadm", ["-Sn"]), this.family);
    const addresses = await dummyAddresses(this.run, this.family);
    const sets = await savedSets(this.run, this.family);
    const owned = ownedServices(table, {
      boundAddresses: addresses,
      nodeAddresses: state.node.nodePortAddresses,
      nodePorts: nodePortsIn(sets, this.family),
    });
    this.log.info(
      {
        family: this.family,
        virtualServers: table.size,
        owned: owned.size,
        addresses: addresses.length,
      },
      "read the programmed IPVS state",
    );
    return { table, owned, addresses };
  }

  private async prepare(): Promise<void> {
    if (!(await linkExists(this.run))) {
      const r = await this.run("ip", ["link", "add", DUMMY_INTERFACE, "type", "dummy"]);
      // another family's backend may have created it meanwhile
      if (r.code !== 0 && !(await linkExists(this.run)))
        throw new CommandError(`ip link add ${DUMMY_INTERFACE} type dummy`, r);
    }
    if (this.sysctlsDone) return;
    this.sysctlsDone = true;
    for (const [k, v] of IPVS_SYSCTLS) {
      const r = await this.run("sysctl", ["-w", `${k}=${v}`]);
      if (r.code !== 0) this.log.warn({ sysctl: k, err: r.stderr.trim() }, "cannot set IPVS sysctl");
    }
  }

  async sync(state: ProxyState, full: boolean, _changed: Set<string>): Promise<BackendSyncResult> {
    const isFull = full || !this.tracked;
    try {
      if (isFull) {
        this.appliedSets = undefined;
        this.appliedIptables = undefined;
      }
      // ipvsadm -Sn loads ip_vs when needed; the vs sysctls exist only once it is loaded
      const tracked = this.tracked ?? (await this.adopt(state));
      if (isFull) await this.prepare();
      const gen = generateIpvs(state);
      let bytes = 0;

      const sets = planIpsets(gen.sets, this.appliedSets);
      if (sets.script) {
        await must(this.run, "ipset", ["restore"], sets.script);
        bytes += sets.script.length;
      }
      this.appliedSets = sets.applied;

      if (gen.iptables !== this.appliedIptables) {
        await this.ipt.restore(gen.iptables);
        bytes += gen.iptables.length;
        this.appliedIptables = gen.iptables;
      }
      if (isFull) await this.ensureJumps();

      const addrs = planAddresses(tracked.addresses, gen.addresses, this.family);
      if (addrs.addBatch) await must(this.run, "ip", ["-force", "-batch", "-"], addrs.addBatch);
      tracked.addresses = [...tracked.addresses, ...addrs.add];

      const plan = planIpvs(tracked.table, parseIpvsadm(gen.ipvs, this.family), tracked.owned);
      if (plan.lines.length) {
        const text = plan.lines.join("\n") + "\n";
        await must(this.run, "ipvsadm", ["-R"], text);
        bytes += text.length;
      }
      tracked.table = plan.next;
      tracked.owned = plan.owned;

      if (addrs.delBatch) await must(this.run, "ip", ["-force", "-batch", "-"], addrs.delBatch);
      tracked.addresses = tracked.addresses.filter((a) => !addrs.del.includes(a));
      this.tracked = tracked;
      if (isFull) await ensureCanaries(this.ipt, this.log);
      this.synced = true;
      return { bytes };
    } catch (e) {
      // the kernel state is unknown now: read it again, and write everything, next time
      this.tracked = undefined;
      this.appliedSets = undefined;
      this.appliedIptables = undefined;
      throw e;
    }
  }

  private async ensureJumps(): Promise<void> {
    for (const j of ipvsJumps()) {
      await this.ipt.ensureChain(j.table, j.target);
      if ((await this.ipt.exec(j.check)).code === 0) continue;
      const r = await this.ipt.exec(j.insert);
      if (r.code !== 0) throw new CommandError(`iptables ${j.insert.join(" ")}`, r);
    }
  }

  /** canaries and kube-ipvs0 still there (cheap checks, nothing listed in full) */
  async intact(): Promise<boolean> {
    if (!this.synced) return true;
    const ok = (await linkExists(this.run)) && (await canariesIntact(this.ipt));
    // someone flushing iptables or deleting kube-ipvs0 may have cleared IPVS too: read it again
    if (!ok) this.tracked = undefined;
    return ok;
  }
}

// ---------------------------------------------------------------- cleanup

function localAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((l) => l ?? [])
    .map((a) => a.address);
}

function tablesIn(save: string): Set<string> {
  const out = new Set<string>();
  for (const line of save.split("\n")) if (line.startsWith("*")) out.add(line.slice(1).trim());
  return out;
}

/**
 * --cleanup for IPVS mode; runs before cleanupIptables (which then deletes the chains IPVS
 * mode shares with the iptables layout). Removes, each only where present: IPVS mode's jumps and
 * chains (both iptables backends, both families), kubeplane's virtual servers (those on a VIP
 * of kube-ipvs0 or a node address + NodePort of our sets; only when ip_vs is loaded, so the
 * module is never loaded just to clean up), our ipsets, and kube-ipvs0. Nothing else.
 */
export async function cleanupIpvs(log: Logger, run: Runner = runCommand): Promise<boolean> {
  let any = false;
  for (const mode of ["legacy", "nft"] as const) {
    for (const family of [4, 6] as const) {
      const ipt = new Iptables(mode, family, run);
      let save: string;
      try {
        save = await ipt.save();
      } catch {
        continue; // backend not usable here
      }
      if (!hasIpvsChains(save)) continue;
      const tables = tablesIn(save);
      for (const j of ipvsJumps()) {
        if (!tables.has(j.table) || !chainsInSave(save, j.table).has(j.target)) continue;
        while ((await ipt.exec(j.delete)).code === 0) {
          // a jump may have been inserted more than once
        }
      }
      const restore = ipvsIptablesCleanup(tables);
      if (restore) await ipt.restore(restore);
      log.info(
        { backend: `${family === 6 ? "ip6tables" : "iptables"}-${mode}` },
        "removed IPVS-mode iptables rules",
      );
      any = true;
    }
  }

  const link = await linkExists(run);
  const bound = link ? [...(await dummyAddresses(run, 4)), ...(await dummyAddresses(run, 6))] : [];
  const ipsetUsable = (await run("ipset", ["version"])).code === 0;
  const sets = new Map<string, string[]>();
  if (ipsetUsable)
    for (const f of [4, 6] as const) for (const [k, v] of await savedSets(run, f, true)) sets.set(k, v);

  if (existsSync("/proc/net/ip_vs")) {
    const saved = await run("ipvsadm", ["-Sn"]);
    if (saved.code === 0) {
      const table = parseIpvsadm(saved.stdout);
      const owned = ownedServices(table, {
        boundAddresses: bound,
        nodeAddresses: localAddresses(),
        nodePorts: [...nodePortsIn(sets, 4), ...nodePortsIn(sets, 6)],
      });
      if (owned.size) {
        await must(run, "ipvsadm", ["-R"], deleteServicesText(owned));
        log.info({ virtualServers: owned.size }, "deleted IPVS virtual servers");
        any = true;
      }
    }
  }
  if (sets.size) {
    // swap sets left by an interrupted sync are ours too
    for (const name of sets.keys()) await must(run, "ipset", ["destroy", name]);
    log.info({ sets: [...sets.keys()] }, "destroyed ipsets");
    any = true;
  }
  if (link) {
    await must(run, "ip", ["link", "del", DUMMY_INTERFACE]);
    log.info({ interface: DUMMY_INTERFACE }, "deleted the dummy interface");
    any = true;
  }
  return any;
}
