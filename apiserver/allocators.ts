/**
 * ClusterIP and NodePort allocation, persistent and conflict-free across apiservers sharing one store:
 * every allocated item is its own storage key ("/registry/ranges/serviceips/10.96.0.10",
 * "/registry/ranges/servicenodeports/30080") claimed with storage.create, so a KeyExistsError means
 * someone else holds it. The value records the owner ("namespace/name/uid") and when it was taken.
 *
 * Each allocator keeps an in-memory view of what it believes is taken (its own claims plus what it
 * learned from storage); the view only guides the choice of a candidate, storage decides. A range is
 * declared full only after a fresh read from storage finds no free item.
 *
 * Dynamic allocation prefers the upper part of the range and leaves the lower band for explicit
 * requests, as upstream's static-subrange feature does; it falls back to the lower band when the upper
 * one is exhausted.
 */

import { randomBytes } from "node:crypto";
import { errors, fieldError, type StatusError } from "../api/status.js";
import { KeyExistsError, KeyNotFoundError, type Storage } from "./storage/types.js";

// ---------------------------------------------------------------- addresses and CIDRs

export type IPFamily = 4 | 6;

export interface CIDR {
  family: IPFamily;
  /** network address (host bits cleared) */
  network: bigint;
  prefix: number;
  /** number of addresses in the block */
  size: bigint;
}

const V4_BITS = 32;
const V6_BITS = 128;

function parseIPv4(s: string): bigint | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    // decimal only, no leading zeros (they are ambiguous: octal in some parsers)
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseIPv6(s: string): bigint | undefined {
  if (s.length === 0 || s.includes("%")) return undefined;
  let tail4: bigint | undefined;
  let text = s;
  // embedded IPv4 in the last 32 bits (e.g. ::ffff:10.0.0.1)
  const lastColon = text.lastIndexOf(":");
  if (lastColon >= 0 && text.slice(lastColon + 1).includes(".")) {
    tail4 = parseIPv4(text.slice(lastColon + 1));
    if (tail4 === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parseGroups = (h: string): number[] | undefined => {
    if (h === "") return [];
    const out: number[] = [];
    for (const g of h.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const left = parseGroups(halves[0]!);
  const right = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!left || !right) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - left.length - right.length;
    if (missing < 1) return undefined;
    groups = [...left, ...new Array<number>(missing).fill(0), ...right];
  } else {
    groups = left;
  }
  if (groups.length !== 8) return undefined;
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  if (tail4 !== undefined) v = (v & ~0xffffffffn) | tail4;
  return v;
}

/** parses an IPv4 or IPv6 address; undefined when it is not one */
export function parseIP(s: string): { family: IPFamily; value: bigint } | undefined {
  if (s.includes(":")) {
    const v = parseIPv6(s);
    return v === undefined ? undefined : { family: 6, value: v };
  }
  const v = parseIPv4(s);
  return v === undefined ? undefined : { family: 4, value: v };
}

/** the address as an integer; throws on an invalid address */
export function ipToBigInt(s: string): bigint {
  const ip = parseIP(s);
  if (!ip) throw new Error(`invalid IP address: "${s}"`);
  return ip.value;
}

/** formats an address; IPv6 in the canonical RFC 5952 form (lowercase, longest zero run compressed) */
export function bigIntToIp(v: bigint, family: IPFamily): string {
  if (family === 4) {
    if (v < 0n || v >= 1n << 32n) throw new Error(`not an IPv4 address value: ${v}`);
    return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join(".");
  }
  if (v < 0n || v >= 1n << 128n) throw new Error(`not an IPv6 address value: ${v}`);
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  // longest run of at least two zero groups, the first one on a tie
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

/** canonical text of an address (e.g. "FD00:0:0::A" → "fd00::a"); throws on an invalid one */
export function canonicalIP(s: string): string {
  const ip = parseIP(s);
  if (!ip) throw new Error(`invalid IP address: "${s}"`);
  return bigIntToIp(ip.value, ip.family);
}

/** "10.96.0.0/12", "fd00:10:96::/112"; host bits are cleared; throws a clear Error on bad input */
export function parseCIDR(s: string): CIDR {
  const slash = s.indexOf("/");
  if (slash < 0) throw new Error(`invalid CIDR address: "${s}" (expected address/prefix)`);
  const ip = parseIP(s.slice(0, slash));
  const prefixText = s.slice(slash + 1);
  if (!ip || !/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) throw new Error(`invalid CIDR address: "${s}"`);
  const bits = ip.family === 4 ? V4_BITS : V6_BITS;
  const prefix = Number(prefixText);
  if (prefix > bits) throw new Error(`invalid CIDR address: "${s}" (prefix longer than ${bits} bits)`);
  const hostBits = BigInt(bits - prefix);
  const size = 1n << hostBits;
  const network = (ip.value >> hostBits) << hostBits;
  return { family: ip.family, network, prefix, size };
}

export function formatCIDR(c: CIDR): string {
  return `${bigIntToIp(c.network, c.family)}/${c.prefix}`;
}

/** whether the address (text or parsed) lies in the block */
export function contains(c: CIDR, ip: string | { family: IPFamily; value: bigint }): boolean {
  const p = typeof ip === "string" ? parseIP(ip) : ip;
  if (!p || p.family !== c.family) return false;
  return p.value >= c.network && p.value < c.network + c.size;
}

/** the n-th address of the block (0 = network address); throws when n is outside it */
export function nth(c: CIDR, n: bigint | number): string {
  const i = BigInt(n);
  if (i < 0n || i >= c.size) throw new Error(`address #${i} is outside ${formatCIDR(c)}`);
  return bigIntToIp(c.network + i, c.family);
}

/** "30000-32767" (or a single port "30000") → { base: 30000, size: 2768 } */
export function parsePortRange(s: string): { base: number; size: number } {
  const m = /^\s*([0-9]{1,5})\s*(?:-\s*([0-9]{1,5})\s*)?$/.exec(s);
  if (!m) throw new Error(`invalid port range "${s}": expected "<first>-<last>", e.g. "30000-32767"`);
  const first = Number(m[1]);
  const last = m[2] === undefined ? first : Number(m[2]);
  if (first < 1 || last > 65535) throw new Error(`invalid port range "${s}": ports must be within 1-65535`);
  if (last < first) throw new Error(`invalid port range "${s}": the last port is lower than the first`);
  return { base: first, size: last - first + 1 };
}

// ---------------------------------------------------------------- the shared machinery

export const SERVICE_IPS_PREFIX = "/registry/ranges/serviceips/";
export const NODE_PORTS_PREFIX = "/registry/ranges/servicenodeports/";

interface AllocationRecord {
  owner: string;
  allocatedAt: string;
}

function randomBelow(n: bigint): bigint {
  if (n <= 1n) return 0n;
  const bytes = Math.ceil(n.toString(16).length / 2) + 8; // extra bytes make modulo bias negligible
  return BigInt(`0x${randomBytes(bytes).toString("hex")}`) % n;
}

/** the name part of an owner "namespace/name/uid" (the whole string otherwise) */
function ownerName(owner: string): string {
  const parts = owner.split("/");
  return parts.length >= 2 ? parts[1]! : owner;
}

class FullError extends Error {}

/**
 * One contiguous range of items identified by offset 0..size-1. Items are stored under
 * prefix + label(offset).
 */
class OffsetRange {
  /** offsets believed taken (own claims, conflicts seen, last storage read) */
  private readonly known = new Set<bigint>();
  /** offsets being claimed right now by this instance */
  private readonly inflight = new Set<bigint>();
  private readonly inflightWaiters: (() => void)[] = [];

  constructor(
    private readonly storage: Storage,
    readonly prefix: string,
    readonly size: bigint,
    /** offsets a random allocation may use: [lo, hi) */
    private readonly lo: bigint,
    private readonly hi: bigint,
    /** dynamic allocation prefers [staticEnd, hi), then [lo, staticEnd) */
    private readonly staticEnd: bigint,
    readonly label: (offset: bigint) => string,
    readonly offsetOf: (label: string) => bigint | undefined,
  ) {}

  key(offset: bigint): string {
    return this.prefix + this.label(offset);
  }

  /** re-reads which items of this range are taken */
  async refresh(): Promise<Map<bigint, { key: string; owner: string; modRevision: number }>> {
    const res = await this.storage.list(this.prefix);
    const out = new Map<bigint, { key: string; owner: string; modRevision: number }>();
    for (const kv of res.items) {
      const off = this.offsetOf(kv.key.slice(this.prefix.length));
      if (off === undefined) continue;
      let owner = "";
      try {
        owner = (JSON.parse(kv.value) as AllocationRecord).owner ?? "";
      } catch {
        // a record we cannot read still marks the item as taken
      }
      out.set(off, { key: kv.key, owner, modRevision: kv.modRevision });
    }
    this.known.clear();
    for (const off of out.keys()) this.known.add(off);
    return out;
  }

  /** claims exactly this offset; false when it is taken */
  async claim(offset: bigint, owner: string): Promise<boolean> {
    const record: AllocationRecord = { owner, allocatedAt: new Date().toISOString() };
    try {
      await this.storage.create(this.key(offset), JSON.stringify(record));
      this.known.add(offset);
      return true;
    } catch (err) {
      if (err instanceof KeyExistsError) {
        this.known.add(offset);
        return false;
      }
      throw err;
    }
  }

  private pick(): bigint | undefined {
    const bands: [bigint, bigint][] = [];
    const split = this.staticEnd > this.lo && this.staticEnd < this.hi ? this.staticEnd : this.lo;
    bands.push([split, this.hi]);
    if (split > this.lo) bands.push([this.lo, split]);
    for (const [from, to] of bands) {
      const n = to - from;
      if (n <= 0n) continue;
      // every step skips one taken item, so the scan ends after at most (taken in band)+1 steps
      // when a free item exists; a full band costs n steps
      const start = randomBelow(n);
      for (let i = 0n; i < n; i++) {
        const off = from + ((start + i) % n);
        if (!this.known.has(off) && !this.inflight.has(off)) return off;
      }
    }
    return undefined;
  }

  /** claims a random free offset; throws FullError when none is left */
  async claimRandom(owner: string): Promise<bigint> {
    let refreshed = false;
    for (;;) {
      const off = this.pick();
      if (off === undefined) {
        // claims in flight here may fail (taken elsewhere) and free their items: wait for them first
        if (this.inflight.size > 0) {
          await new Promise<void>((resolve) => this.inflightWaiters.push(resolve));
          continue;
        }
        if (refreshed) throw new FullError("range is full");
        await this.refresh();
        refreshed = true;
        continue;
      }
      this.inflight.add(off);
      try {
        if (await this.claim(off, owner)) return off;
      } finally {
        this.inflight.delete(off);
        for (const w of this.inflightWaiters.splice(0)) w();
      }
    }
  }

  async release(offset: bigint): Promise<boolean> {
    this.known.delete(offset);
    try {
      await this.storage.delete(this.key(offset));
      return true;
    } catch (err) {
      if (err instanceof KeyNotFoundError) return false;
      throw err;
    }
  }

  async isTaken(offset: bigint): Promise<boolean> {
    const kv = await this.storage.get(this.key(offset));
    if (kv) this.known.add(offset);
    else this.known.delete(offset);
    return kv !== undefined;
  }

  /** storage value → owner */
  async ownerOf(offset: bigint): Promise<string | undefined> {
    const kv = await this.storage.get(this.key(offset));
    if (!kv) return undefined;
    try {
      return (JSON.parse(kv.value) as AllocationRecord).owner;
    } catch {
      return "";
    }
  }

  /**
   * makes storage agree with inUse (offset → owner): frees items nobody uses (after they were seen
   * unused in graceRepairs earlier repairs), claims the ones in use that are not recorded, and fixes
   * the recorded owner where it differs
   */
  async repair(
    inUse: Map<bigint, string>,
    graceRepairs: number,
    suspects: Map<bigint, number>,
  ): Promise<{ released: bigint[]; claimed: bigint[]; updated: bigint[] }> {
    const current = await this.refresh();
    const released: bigint[] = [];
    const claimed: bigint[] = [];
    const updated: bigint[] = [];
    for (const [off, rec] of current) {
      if (inUse.has(off)) {
        suspects.delete(off);
        const owner = inUse.get(off)!;
        if (owner && rec.owner !== owner) {
          const value: AllocationRecord = { owner, allocatedAt: new Date().toISOString() };
          try {
            await this.storage.update(rec.key, JSON.stringify(value), rec.modRevision);
            updated.push(off);
          } catch {
            // changed meanwhile; the next repair looks again
          }
        }
        continue;
      }
      const seen = (suspects.get(off) ?? 0) + 1;
      if (seen <= graceRepairs) {
        suspects.set(off, seen);
        continue;
      }
      suspects.delete(off);
      try {
        await this.storage.delete(rec.key, rec.modRevision);
        this.known.delete(off);
        released.push(off);
      } catch {
        // re-claimed or changed meanwhile: leave it
      }
    }
    for (const off of [...suspects.keys()]) if (!current.has(off)) suspects.delete(off);
    for (const [off, owner] of inUse) {
      if (current.has(off)) continue;
      if (await this.claim(off, owner)) claimed.push(off);
    }
    return { released, claimed, updated };
  }
}

export interface RepairOptions {
  /**
   * an allocated item nobody uses is released only when it was already seen unused by this many
   * earlier repair runs (upstream waits 3 runs so a Service being created right now — item claimed,
   * object not yet stored — does not lose its item). Default 0: release immediately.
   */
  graceRepairs?: number;
}

// ---------------------------------------------------------------- ClusterIPs

interface FamilyRange {
  cidr: CIDR;
  cidrText: string;
  range: OffsetRange;
  suspects: Map<bigint, number>;
}

export class ServiceIPAllocator {
  private readonly byFamily = new Map<IPFamily, FamilyRange>();

  constructor(storage: Storage, cidrs: string[]) {
    if (cidrs.length === 0) throw new Error("at least one service CIDR is required");
    for (const text of cidrs) {
      const cidr = parseCIDR(text);
      if (this.byFamily.has(cidr.family)) {
        throw new Error(`more than one IPv${cidr.family} service CIDR given (${text}); use one per family`);
      }
      const usable = cidr.family === 4 ? cidr.size - 2n : cidr.size - 1n;
      if (usable < 1n) throw new Error(`service CIDR ${text} is too small`);
      // offsets: 0 = network (never); 1 = first IP (explicit only); v4 last = broadcast (never)
      const hi = cidr.family === 4 ? cidr.size - 1n : cidr.size;
      // upstream's static band: min(max(16, size/16), 256) addresses at the bottom of the range
      let band = cidr.size / 16n;
      if (band < 16n) band = 16n;
      if (band > 256n) band = 256n;
      const family = cidr.family;
      const range = new OffsetRange(
        storage,
        SERVICE_IPS_PREFIX,
        cidr.size,
        2n,
        hi,
        band,
        (off) => bigIntToIp(cidr.network + off, family),
        (label) => {
          const ip = parseIP(label);
          if (!ip || !contains(cidr, ip)) return undefined;
          return ip.value - cidr.network;
        },
      );
      this.byFamily.set(cidr.family, {
        cidr,
        cidrText: formatCIDR(cidr),
        range,
        suspects: new Map(),
      });
    }
  }

  /** the configured families, primary (first CIDR given) first */
  families(): IPFamily[] {
    return [...this.byFamily.keys()];
  }

  cidr(family: IPFamily): CIDR | undefined {
    return this.byFamily.get(family)?.cidr;
  }

  /** network+1: reserved for the "kubernetes" Service, handed out only when requested */
  firstIP(family: IPFamily): string {
    const f = this.byFamily.get(family);
    if (!f) throw new Error(`no IPv${family} service CIDR is configured`);
    return nth(f.cidr, 1);
  }

  private invalid(owner: string, ip: string, why: string): StatusError {
    return errors.invalid("", "Service", ownerName(owner), [
      fieldError(
        "FieldValueInvalid",
        "spec.clusterIPs",
        `Invalid value: "${ip}": failed to allocate IP ${ip}: ${why}`,
      ),
    ]);
  }

  /**
   * a random free address of the family, or exactly `requested` (which must be in range and free:
   * 422 Invalid otherwise). A full range is a 500 "range is full", as upstream reports it.
   */
  async allocate(owner: string, family: IPFamily, requested?: string): Promise<string> {
    const f = this.byFamily.get(family);
    if (requested !== undefined) {
      const ip = parseIP(requested);
      if (!ip) throw this.invalid(owner, requested, "must be a valid IP address");
      const fam = this.byFamily.get(ip.family);
      if (!fam || !this.usable(fam, ip.value)) {
        const target = fam ?? f;
        const ranges = target
          ? target.cidrText
          : [...this.byFamily.values()].map((x) => x.cidrText).join(",");
        throw this.invalid(
          owner,
          requested,
          `provided IP is not in the valid range. The range of valid IPs is ${ranges}`,
        );
      }
      const off = ip.value - fam.cidr.network;
      if (!(await fam.range.claim(off, owner))) {
        throw this.invalid(owner, requested, "provided IP is already allocated");
      }
      return bigIntToIp(ip.value, ip.family);
    }
    if (!f) {
      throw errors.invalid("", "Service", ownerName(owner), [
        fieldError("FieldValueInvalid", "spec.ipFamilies", `IPv${family} is not configured on this cluster`),
      ]);
    }
    try {
      const off = await f.range.claimRandom(owner);
      return bigIntToIp(f.cidr.network + off, family);
    } catch (err) {
      if (err instanceof FullError) throw errors.internal("failed to allocate a serviceIP: range is full");
      throw err;
    }
  }

  private usable(f: FamilyRange, value: bigint): boolean {
    if (value < f.cidr.network || value >= f.cidr.network + f.cidr.size) return false;
    const off = value - f.cidr.network;
    if (off === 0n) return false; // network address
    if (f.cidr.family === 4 && off === f.cidr.size - 1n) return false; // broadcast
    return true;
  }

  private locate(ip: string): { f: FamilyRange; off: bigint } | undefined {
    const p = parseIP(ip);
    if (!p) return undefined;
    const f = this.byFamily.get(p.family);
    if (!f || !contains(f.cidr, p)) return undefined;
    return { f, off: p.value - f.cidr.network };
  }

  /** frees the address (no-op when it is not allocated or not in range) */
  async release(ip: string): Promise<void> {
    const loc = this.locate(ip);
    if (loc) await loc.f.range.release(loc.off);
  }

  async isAllocated(ip: string): Promise<boolean> {
    const loc = this.locate(ip);
    return loc ? loc.f.range.isTaken(loc.off) : false;
  }

  /** the recorded owner of an allocated address */
  async ownerOf(ip: string): Promise<string | undefined> {
    const loc = this.locate(ip);
    return loc ? loc.f.range.ownerOf(loc.off) : undefined;
  }

  /**
   * reconciles storage with the addresses the existing Services use (ip → owner): releases orphans,
   * claims the missing ones, corrects recorded owners. Addresses outside the ranges are ignored.
   */
  async repair(
    inUse: Map<string, string>,
    opts: RepairOptions = {},
  ): Promise<{ released: string[]; claimed: string[]; updated: string[] }> {
    const out = { released: [] as string[], claimed: [] as string[], updated: [] as string[] };
    for (const f of this.byFamily.values()) {
      const mine = new Map<bigint, string>();
      for (const [ip, owner] of inUse) {
        const p = parseIP(ip);
        if (p && p.family === f.cidr.family && this.usable(f, p.value))
          mine.set(p.value - f.cidr.network, owner);
      }
      const r = await f.range.repair(mine, opts.graceRepairs ?? 0, f.suspects);
      const fmt = (off: bigint) => bigIntToIp(f.cidr.network + off, f.cidr.family);
      out.released.push(...r.released.map(fmt));
      out.claimed.push(...r.claimed.map(fmt));
      out.updated.push(...r.updated.map(fmt));
    }
    return out;
  }
}

// ---------------------------------------------------------------- NodePorts

export class NodePortAllocator {
  private readonly range: OffsetRange;
  private readonly suspects = new Map<bigint, number>();
  readonly rangeText: string;

  constructor(
    storage: Storage,
    readonly portRange: { base: number; size: number },
  ) {
    const { base, size } = portRange;
    if (
      !Number.isInteger(base) ||
      !Number.isInteger(size) ||
      base < 1 ||
      size < 1 ||
      base + size - 1 > 65535
    ) {
      throw new Error(`invalid node port range: base ${base}, size ${size}`);
    }
    this.rangeText = `${base}-${base + size - 1}`;
    // upstream's static band for node ports: min(max(16, size/32), 128) ports at the bottom
    const band = BigInt(Math.min(Math.max(16, Math.floor(size / 32)), 128));
    this.range = new OffsetRange(
      storage,
      NODE_PORTS_PREFIX,
      BigInt(size),
      0n,
      BigInt(size),
      band,
      (off) => String(base + Number(off)),
      (label) => {
        if (!/^[0-9]{1,5}$/.test(label)) return undefined;
        const p = Number(label);
        return p >= base && p < base + size ? BigInt(p - base) : undefined;
      },
    );
  }

  private inRange(port: number): boolean {
    return (
      Number.isInteger(port) &&
      port >= this.portRange.base &&
      port < this.portRange.base + this.portRange.size
    );
  }

  /**
   * a random free port, or exactly `requested` (422 Invalid when out of range or taken);
   * `field` names the field in the error (default "spec.ports[*].nodePort")
   */
  async allocate(owner: string, requested?: number, field = "spec.ports[*].nodePort"): Promise<number> {
    if (requested !== undefined) {
      const invalid = (why: string) =>
        errors.invalid("", "Service", ownerName(owner), [
          fieldError("FieldValueInvalid", field, `Invalid value: ${requested}: ${why}`),
        ]);
      if (!this.inRange(requested)) {
        throw invalid(
          `provided port is not in the valid range. The range of valid ports is ${this.rangeText}`,
        );
      }
      if (!(await this.range.claim(BigInt(requested - this.portRange.base), owner))) {
        throw invalid("provided port is already allocated");
      }
      return requested;
    }
    try {
      const off = await this.range.claimRandom(owner);
      return this.portRange.base + Number(off);
    } catch (err) {
      if (err instanceof FullError) throw errors.internal("failed to allocate a nodePort: range is full");
      throw err;
    }
  }

  async release(port: number): Promise<void> {
    if (this.inRange(port)) await this.range.release(BigInt(port - this.portRange.base));
  }

  async isAllocated(port: number): Promise<boolean> {
    return this.inRange(port) ? this.range.isTaken(BigInt(port - this.portRange.base)) : false;
  }

  async ownerOf(port: number): Promise<string | undefined> {
    return this.inRange(port) ? this.range.ownerOf(BigInt(port - this.portRange.base)) : undefined;
  }

  /** like ServiceIPAllocator.repair, for ports (port → owner); ports outside the range are ignored */
  async repair(
    inUse: Map<number, string>,
    opts: RepairOptions = {},
  ): Promise<{ released: number[]; claimed: number[]; updated: number[] }> {
    const mine = new Map<bigint, string>();
    for (const [port, owner] of inUse)
      if (this.inRange(port)) mine.set(BigInt(port - this.portRange.base), owner);
    const r = await this.range.repair(mine, opts.graceRepairs ?? 0, this.suspects);
    const fmt = (off: bigint) => this.portRange.base + Number(off);
    return { released: r.released.map(fmt), claimed: r.claimed.map(fmt), updated: r.updated.map(fmt) };
  }
}
