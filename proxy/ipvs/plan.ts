/**
 * The IPVS runtime's decisions as pure functions (no I/O), so they get golden tests on a kernel
 * without IP_VS:
 *
 * - virtual servers: `ipvsadm -Sn` text (and the writer's `ipvsadm --restore` text) parsed into
 *   a table; desired vs current → the exact `ipvsadm -R` lines (-D/-d first, then -A/-E, -a/-e)
 *   that turn one into the other, touching only virtual servers kubeplane owns;
 * - ipsets: an `ipset restore` script that refills each changed set in a swap set and swaps it
 *   in atomically (iptables rules keep matching the old contents until the swap);
 * - the VIPs on the dummy interface: `ip -batch` lines adding new and deleting unused ones;
 * - --cleanup: which virtual servers are kubeplane's, and the iptables rules to remove.
 */
import type { Family } from "../model.js";
import {
  DUMMY_INTERFACE,
  IPSET_MAX_NAME,
  IPVS_FILTER_CHAINS,
  IPVS_JUMPS,
  IPVS_NAT_CHAINS,
  IPVS_ONLY_CHAINS,
  type IpsetSpec,
  ipsetName,
} from "./ruleset.js";

// ---------------------------------------------------------------- virtual servers

export interface VirtualServer {
  /** "-t 10.96.0.1:80" (protocol switch + address as ipvsadm prints it); "-f 7" for fwmark services */
  key: string;
  /** "tcp" | "udp" | "sctp" | "fwmark" */
  protocol: string;
  /** the VIP (canonical form), "" for fwmark services */
  host: string;
  port: number;
  /** everything after the address: "-s rr" or "-s rr -p 10800" */
  options: string;
  /** real server address ("10.0.0.1:8080", "[fd00::1]:80") → its options ("-m -w 1") */
  reals: Map<string, string>;
}

/** virtual servers by key, in the order read */
export type IpvsTable = Map<string, VirtualServer>;

const PROTOCOL_SWITCH: Record<string, string> = {
  "-t": "tcp",
  "--tcp-service": "tcp",
  "-u": "udp",
  "--udp-service": "udp",
  "--sctp-service": "sctp",
  "-f": "fwmark",
  "--fwmark-service": "fwmark",
};
const CANONICAL_SWITCH: Record<string, string> = {
  tcp: "-t",
  udp: "-u",
  sctp: "--sctp-service",
  fwmark: "-f",
};

/** the canonical text of an IP (IPv6 compressed and lower-case, as ipvsadm and iproute2 print it) */
export function canonicalIP(ip: string): string {
  if (!ip.includes(":")) return ip;
  try {
    const h = new URL(`http://[${ip}]/`).hostname;
    return h.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
}

/** "10.0.0.1:80" / "[fd00::1]:80" → host and port (host canonical) */
export function splitHostPort(addr: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(addr) ?? /^([^:]+):(\d+)$/.exec(addr);
  if (!m) return undefined;
  return { host: canonicalIP(m[1]!), port: Number(m[2]) };
}

function canonicalAddr(addr: string): string {
  const hp = splitHostPort(addr);
  if (!hp) return addr;
  return hp.host.includes(":") ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/**
 * Parses `ipvsadm -Sn` output (or the writer's `ipvsadm --restore` text, same format). With
 * `family`, virtual servers of the other family (and fwmark services) are left out.
 */
export function parseIpvsadm(text: string, family?: Family): IpvsTable {
  const out: IpvsTable = new Map();
  for (const raw of text.split("\n")) {
    const tok = raw.trim().split(/\s+/);
    if (tok.length < 3 || (tok[0] !== "-A" && tok[0] !== "-a")) continue;
    const protocol = PROTOCOL_SWITCH[tok[1]!];
    if (!protocol) continue;
    const addr = protocol === "fwmark" ? tok[2]! : canonicalAddr(tok[2]!);
    const key = `${CANONICAL_SWITCH[protocol]} ${addr}`;
    if (tok[0] === "-A") {
      const hp = protocol === "fwmark" ? undefined : splitHostPort(addr);
      const host = hp?.host ?? "";
      if (family !== undefined && (!host || (host.includes(":") ? 6 : 4) !== family)) continue;
      out.set(key, {
        key,
        protocol,
        host,
        port: hp?.port ?? 0,
        options: tok.slice(3).join(" "),
        reals: new Map(),
      });
    } else {
      const vs = out.get(key);
      const r = tok.indexOf("-r") >= 0 ? tok.indexOf("-r") : tok.indexOf("--real-server");
      if (!vs || r < 0 || !tok[r + 1]) continue;
      const rest = [...tok.slice(3, r), ...tok.slice(r + 2)];
      vs.reals.set(canonicalAddr(tok[r + 1]!), rest.join(" "));
    }
  }
  return out;
}

/** the `ipvsadm -S` text of a table (for logs and tests) */
export function formatIpvsadm(table: IpvsTable): string {
  const lines: string[] = [];
  for (const vs of table.values()) {
    lines.push(`-A ${vs.key}${vs.options ? ` ${vs.options}` : ""}`);
    for (const [rs, o] of vs.reals) lines.push(`-a ${vs.key} -r ${rs}${o ? ` ${o}` : ""}`);
  }
  return lines.length ? lines.join("\n") + "\n" : "";
}

export interface OwnershipHints {
  /** addresses bound to kube-ipvs0 (service VIPs kubeplane bound) */
  boundAddresses: Iterable<string>;
  /** addresses NodePort virtual servers live on (node addresses) */
  nodeAddresses: Iterable<string>;
  /** "tcp:30080", "udp:30053", "sctp:30001": from the KUBE-NODE-PORT-* ipsets */
  nodePorts: Iterable<string>;
}

/**
 * Which of the virtual servers found at start (or at --cleanup) are kubeplane's: those on a VIP
 * bound to kube-ipvs0, and NodePort ones (a node address and a port of the KUBE-NODE-PORT-*
 * sets). Anything else (fwmark services, someone else's VIPs) is never touched.
 */
export function ownedServices(table: IpvsTable, hints: OwnershipHints): Set<string> {
  const bound = new Set([...hints.boundAddresses].map(canonicalIP));
  const nodes = new Set([...hints.nodeAddresses].map(canonicalIP));
  const ports = new Set(hints.nodePorts);
  const out = new Set<string>();
  for (const vs of table.values()) {
    if (!vs.host) continue;
    if (bound.has(vs.host) || (nodes.has(vs.host) && ports.has(`${vs.protocol}:${vs.port}`))) out.add(vs.key);
  }
  return out;
}

export interface IpvsPlan {
  /** `ipvsadm -R` input lines ([] when nothing changed) */
  lines: string[];
  /** the table once the lines are applied */
  next: IpvsTable;
  /** kubeplane's virtual servers once the lines are applied */
  owned: Set<string>;
}

function cloneTable(t: IpvsTable): IpvsTable {
  const out: IpvsTable = new Map();
  for (const [k, vs] of t) out.set(k, { ...vs, reals: new Map(vs.reals) });
  return out;
}

/**
 * The incremental `ipvsadm --restore`: deletes kubeplane's virtual servers that are no longer
 * wanted (-D), then per desired virtual server in order: -A when new (with its real servers),
 * otherwise -E when its scheduler/persistence changed, -d for real servers gone, -e for real
 * servers whose forwarding/weight changed, -a for new ones. Virtual servers not owned and not
 * desired are left alone; a desired one that already exists is adopted (edited, not re-added).
 */
export function planIpvs(current: IpvsTable, desired: IpvsTable, owned: ReadonlySet<string>): IpvsPlan {
  const lines: string[] = [];
  const next = cloneTable(current);
  const nextOwned = new Set(owned);
  for (const key of current.keys()) {
    if (desired.has(key) || !owned.has(key)) continue;
    lines.push(`-D ${key}`);
    next.delete(key);
    nextOwned.delete(key);
  }
  const opt = (o: string) => (o ? ` ${o}` : "");
  for (const [key, want] of desired) {
    nextOwned.add(key);
    const have = current.get(key);
    if (!have) {
      lines.push(`-A ${key}${opt(want.options)}`);
      for (const [rs, o] of want.reals) lines.push(`-a ${key} -r ${rs}${opt(o)}`);
      next.set(key, { ...want, reals: new Map(want.reals) });
      continue;
    }
    if (have.options !== want.options) lines.push(`-E ${key}${opt(want.options)}`);
    for (const rs of have.reals.keys()) if (!want.reals.has(rs)) lines.push(`-d ${key} -r ${rs}`);
    for (const [rs, o] of want.reals) {
      const had = have.reals.get(rs);
      if (had === undefined) lines.push(`-a ${key} -r ${rs}${opt(o)}`);
      else if (had !== o) lines.push(`-e ${key} -r ${rs}${opt(o)}`);
    }
    next.set(key, { ...want, reals: new Map(want.reals) });
  }
  return { lines, next, owned: nextOwned };
}

/** `ipvsadm -R` input deleting the given virtual servers (their real servers go with them) */
export function deleteServicesText(keys: Iterable<string>): string {
  const lines = [...keys].map((k) => `-D ${k}`);
  return lines.length ? lines.join("\n") + "\n" : "";
}

// ---------------------------------------------------------------- ipsets

/** the temporary set a set is refilled in before the swap (<= 31 characters, never a real set name) */
export function swapSetName(name: string): string {
  return `${name.slice(0, IPSET_MAX_NAME - 5).replace(/-+$/, "")}-SWAP`;
}

function setSignature(s: IpsetSpec): string {
  return `${s.type} ${s.options}\n${s.entries.join("\n")}`;
}

export interface IpsetPlan {
  /** `ipset restore` input ("" when no set changed) */
  script: string;
  /** the sets the script rewrites */
  changed: string[];
  /** what is applied once the script ran (pass back as `applied` next time) */
  applied: Map<string, string>;
}

/**
 * Per set that changed since `applied` (every set when `applied` is undefined): create it
 * (-exist), create and flush its swap set, add the entries there, swap the two and destroy the
 * swap set. `ipset restore` runs the lines in order, and each swap is atomic for the iptables
 * rules that match the set.
 */
export function planIpsets(
  sets: readonly IpsetSpec[],
  applied: ReadonlyMap<string, string> | undefined,
): IpsetPlan {
  const lines: string[] = [];
  const changed: string[] = [];
  const next = new Map<string, string>();
  for (const s of sets) {
    const sig = setSignature(s);
    next.set(s.name, sig);
    if (applied?.get(s.name) === sig) continue;
    changed.push(s.name);
    const tmp = swapSetName(s.name);
    lines.push(`create ${s.name} ${s.type} ${s.options} -exist`);
    lines.push(`create ${tmp} ${s.type} ${s.options} -exist`);
    lines.push(`flush ${tmp}`);
    for (const e of s.entries) lines.push(`add ${tmp} ${e} comment "${s.comment}" -exist`);
    lines.push(`swap ${tmp} ${s.name}`);
    lines.push(`destroy ${tmp}`);
  }
  return { script: lines.length ? lines.join("\n") + "\n" : "", changed, applied: next };
}

/** set name → entries, from `ipset save` output ("add NAME ENTRY [comment ...]") */
export function parseIpsetSave(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const raw of text.split("\n")) {
    const tok = raw.trim().split(/\s+/);
    if (tok[0] === "create" && tok[1] && !out.has(tok[1])) out.set(tok[1], []);
    else if (tok[0] === "add" && tok[1] && tok[2]) {
      const list = out.get(tok[1]) ?? [];
      list.push(tok[2]);
      out.set(tok[1], list);
    }
  }
  return out;
}

/** "tcp:30080" keys of the NodePort sets of one family (for ownedServices) */
export function nodePortsIn(sets: ReadonlyMap<string, string[]>, family: Family): string[] {
  const out: string[] = [];
  for (const p of sets.get(ipsetName("NODE-PORT-TCP", family)) ?? []) out.push(`tcp:${p}`);
  for (const p of sets.get(ipsetName("NODE-PORT-UDP", family)) ?? []) out.push(`udp:${p}`);
  for (const e of sets.get(ipsetName("NODE-PORT-SCTP-HASH", family)) ?? []) {
    const m = /,sctp:(\d+)$/.exec(e);
    if (m) out.push(`sctp:${m[1]}`);
  }
  return out;
}

// ---------------------------------------------------------------- dummy interface addresses

/** the addresses of one family on kube-ipvs0, from `ip -o addr show dev kube-ipvs0` */
export function parseIpAddrShow(text: string, family: Family): string[] {
  const out: string[] = [];
  const kw = family === 6 ? "inet6" : "inet";
  for (const line of text.split("\n")) {
    const m = new RegExp(`\\s${kw}\\s+([^/\\s]+)/`).exec(line);
    if (m) out.push(canonicalIP(m[1]!));
  }
  return out;
}

export interface AddressPlan {
  add: string[];
  del: string[];
  /** `ip -batch -` input binding the new VIPs (run before the virtual servers are written) */
  addBatch: string;
  /** `ip -batch -` input removing the unused VIPs (run after) */
  delBatch: string;
}

/** which VIPs to bind to / unbind from kube-ipvs0 (host routes: /32, /128) */
export function planAddresses(
  current: readonly string[],
  desired: readonly string[],
  family: Family,
): AddressPlan {
  const have = new Set(current.map(canonicalIP));
  const want = new Set(desired.map(canonicalIP));
  const add = [...want].filter((a) => !have.has(a));
  const del = [...have].filter((a) => !want.has(a));
  const prefix = family === 6 ? 128 : 32;
  // IPv6: nodad, kube-ipvs0 stays down and the address must not stay tentative
  const extra = family === 6 ? " nodad" : "";
  const batch = (verb: string, list: string[], suffix: string) =>
    list.map((a) => `address ${verb} ${a}/${prefix} dev ${DUMMY_INTERFACE}${suffix}`).join("\n") +
    (list.length ? "\n" : "");
  return { add, del, addBatch: batch("add", add, extra), delBatch: batch("del", del, "") };
}

// ---------------------------------------------------------------- iptables jumps and cleanup

export interface IpvsJump {
  table: "filter" | "nat";
  chain: string;
  target: string;
  check: string[];
  insert: string[];
  delete: string[];
}

/** argv (after `iptables -w 5`) checking, inserting and deleting each built-in chain jump */
export function ipvsJumps(): IpvsJump[] {
  return IPVS_JUMPS.map((j) => {
    const rule = ["-m", "comment", "--comment", j.comment, "-j", j.target];
    return {
      table: j.table,
      chain: j.chain,
      target: j.target,
      check: ["-t", j.table, "-C", j.chain, ...rule],
      insert: ["-t", j.table, "-I", j.chain, ...rule],
      delete: ["-t", j.table, "-D", j.chain, ...rule],
    };
  });
}

/** chain names of one table in iptables-save output */
export function chainsInSave(save: string, table: string): Set<string> {
  const out = new Set<string>();
  let current = "";
  for (const line of save.split("\n")) {
    if (line.startsWith("*")) current = line.slice(1).trim();
    else if (current === table && line.startsWith(":")) out.add(line.slice(1).split(" ")[0]!);
  }
  return out;
}

/** whether iptables-save output holds IPVS mode's rules (a chain only IPVS mode creates) */
export function hasIpvsChains(save: string): boolean {
  const nat = chainsInSave(save, "nat");
  const filter = chainsInSave(save, "filter");
  return IPVS_ONLY_CHAINS.nat.some((c) => nat.has(c)) || IPVS_ONLY_CHAINS.filter.some((c) => filter.has(c));
}

/**
 * iptables-restore --noflush input for --cleanup (after the jumps are deleted): flushes every
 * chain IPVS mode writes (so no rule references the ipsets any more) and deletes the chains only
 * IPVS mode has. The chains shared with the iptables-mode layout (KUBE-SERVICES, KUBE-POSTROUTING,
 * KUBE-MARK-MASQ, KUBE-FORWARD, KUBE-PROXY-FIREWALL) are left empty for cleanupIptables, which
 * runs next and deletes them (and the canaries) with its own rules' leftovers.
 */
export function ipvsIptablesCleanup(tables: ReadonlySet<string>): string {
  let out = "";
  if (tables.has("filter"))
    out +=
      [
        "*filter",
        ...IPVS_FILTER_CHAINS.map((c) => `:${c} - [0:0]`),
        ...IPVS_ONLY_CHAINS.filter.map((c) => `-X ${c}`),
        "COMMIT",
      ].join("\n") + "\n";
  if (tables.has("nat"))
    out +=
      [
        "*nat",
        ...IPVS_NAT_CHAINS.map((c) => `:${c} - [0:0]`),
        ...IPVS_ONLY_CHAINS.nat.map((c) => `-X ${c}`),
        "COMMIT",
      ].join("\n") + "\n";
  return out;
}
