/**
 * Pure part of node IPAM: carving a cluster CIDR into per-node subnets and choosing the next
 * free one. No I/O; the controller keeps the set of subnets in use and asks here.
 */
import { type CIDR, formatCIDR, parseCIDR } from "../apiserver/allocators.js";

/** One family's pool: the cluster CIDR split into subnets of `maskSize` bits. */
export interface SubnetPool {
  cluster: CIDR;
  maskSize: number;
  /** how many subnets fit */
  count: bigint;
}

/** default node mask for IPv6 when only --node-cidr-mask-size (IPv4) is given, as upstream */
export const DEFAULT_IPV6_NODE_MASK = 64;

/**
 * Parses --cluster-cidr (one CIDR, or a comma-separated dual-stack pair) with the node mask sizes.
 * Throws a clear Error when the mask does not fit the cluster CIDR or a family repeats.
 */
export function parseClusterCIDRs(
  spec: string,
  maskV4: number,
  maskV6 = DEFAULT_IPV6_NODE_MASK,
): SubnetPool[] {
  const pools: SubnetPool[] = [];
  for (const part of spec
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const cluster = parseCIDR(part);
    const maskSize = cluster.family === 4 ? maskV4 : maskV6;
    const bits = cluster.family === 4 ? 32 : 128;
    if (!Number.isInteger(maskSize) || maskSize < cluster.prefix || maskSize > bits) {
      throw new Error(
        `--node-cidr-mask-size ${maskSize} does not fit the cluster CIDR ${formatCIDR(cluster)} (must be between ${cluster.prefix} and ${bits})`,
      );
    }
    if (pools.some((p) => p.cluster.family === cluster.family)) {
      throw new Error(`--cluster-cidr "${spec}" has more than one CIDR of IPv${cluster.family}`);
    }
    pools.push({ cluster, maskSize, count: 1n << BigInt(maskSize - cluster.prefix) });
  }
  if (pools.length === 0) throw new Error("--cluster-cidr is empty");
  return pools;
}

/** the i-th subnet of the pool, as text ("10.244.3.0/24") */
export function subnetAt(pool: SubnetPool, i: bigint): string {
  if (i < 0n || i >= pool.count) throw new Error(`subnet #${i} is outside ${formatCIDR(pool.cluster)}`);
  const bits = pool.cluster.family === 4 ? 32 : 128;
  const network = pool.cluster.network + (i << BigInt(bits - pool.maskSize));
  return formatCIDR({ family: pool.cluster.family, network, prefix: pool.maskSize, size: 0n });
}

/**
 * The index of `cidr` in the pool when it is exactly one of the pool's subnets; undefined when it
 * is another family, outside the cluster CIDR, or a different size or alignment.
 */
export function subnetIndex(pool: SubnetPool, cidr: string): bigint | undefined {
  let c: CIDR;
  try {
    c = parseCIDR(cidr);
  } catch {
    return undefined;
  }
  if (c.family !== pool.cluster.family || c.prefix !== pool.maskSize) return undefined;
  if (c.network < pool.cluster.network || c.network >= pool.cluster.network + pool.cluster.size)
    return undefined;
  const bits = pool.cluster.family === 4 ? 32 : 128;
  const offset = c.network - pool.cluster.network;
  return offset >> BigInt(bits - pool.maskSize);
}

/**
 * The subnets of the pool that overlap `cidr` (used to mark a node's podCIDR as taken even when
 * it was assigned with another mask size, e.g. by hand or by an earlier configuration).
 */
export function overlappingIndexes(pool: SubnetPool, cidr: string, limit = 1 << 16): bigint[] {
  let c: CIDR;
  try {
    c = parseCIDR(cidr);
  } catch {
    return [];
  }
  if (c.family !== pool.cluster.family) return [];
  const lo = c.network > pool.cluster.network ? c.network : pool.cluster.network;
  const hiC = c.network + c.size;
  const hiP = pool.cluster.network + pool.cluster.size;
  const hi = hiC < hiP ? hiC : hiP;
  if (lo >= hi) return [];
  const shift = BigInt((pool.cluster.family === 4 ? 32 : 128) - pool.maskSize);
  const first = (lo - pool.cluster.network) >> shift;
  const last = (hi - 1n - pool.cluster.network) >> shift;
  const out: bigint[] = [];
  for (let i = first; i <= last && out.length < limit; i++) out.push(i);
  return out;
}

/**
 * The next free subnet index at or after `from` (wrapping around), skipping `used`;
 * undefined when the pool is full.
 */
export function nextFree(pool: SubnetPool, used: ReadonlySet<bigint>, from = 0n): bigint | undefined {
  if (BigInt(used.size) >= pool.count) {
    // may still have room if `used` holds indexes outside the pool; check precisely below
    let inside = 0n;
    for (const u of used) if (u >= 0n && u < pool.count) inside++;
    if (inside >= pool.count) return undefined;
  }
  const start = from >= 0n && from < pool.count ? from : 0n;
  for (let i = start; i < pool.count; i++) if (!used.has(i)) return i;
  for (let i = 0n; i < start; i++) if (!used.has(i)) return i;
  return undefined;
}

/** Tracks which subnets of each pool are taken and by which node. */
export class CIDRSet {
  private readonly used: Array<Map<bigint, string>>;
  /** where each pool's next search starts (round robin, like upstream's cidrset) */
  private readonly cursor: bigint[];

  constructor(readonly pools: readonly SubnetPool[]) {
    this.used = pools.map(() => new Map());
    this.cursor = pools.map(() => 0n);
  }

  /** Marks a node's existing podCIDRs as taken (also any pool subnets they overlap). */
  occupy(node: string, cidrs: readonly string[]): void {
    for (const cidr of cidrs) {
      this.pools.forEach((pool, p) => {
        for (const i of overlappingIndexes(pool, cidr)) if (!this.used[p]!.has(i)) this.used[p]!.set(i, node);
      });
    }
  }

  /** Releases everything held by `node`. */
  release(node: string): void {
    for (const m of this.used) for (const [i, owner] of [...m]) if (owner === node) m.delete(i);
  }

  /** Whether every subnet `cidr` overlaps is free or already this node's. */
  isFreeFor(node: string, cidr: string): boolean {
    return this.pools.every((pool, p) =>
      overlappingIndexes(pool, cidr).every((i) => {
        const owner = this.used[p]!.get(i);
        return owner === undefined || owner === node;
      }),
    );
  }

  /**
   * Chooses and reserves one subnet per pool for `node`; undefined (nothing reserved) when
   * any pool is full.
   */
  allocate(node: string): string[] | undefined {
    const picks: bigint[] = [];
    for (let p = 0; p < this.pools.length; p++) {
      const i = nextFree(this.pools[p]!, new Set(this.used[p]!.keys()), this.cursor[p]);
      if (i === undefined) return undefined;
      picks.push(i);
    }
    return picks.map((i, p) => {
      this.used[p]!.set(i, node);
      this.cursor[p] = (i + 1n) % this.pools[p]!.count;
      return subnetAt(this.pools[p]!, i);
    });
  }

  /** how many subnets are taken in each pool */
  usage(): Array<{ cidr: string; used: number; total: bigint }> {
    return this.pools.map((pool, p) => ({
      cidr: formatCIDR(pool.cluster),
      used: this.used[p]!.size,
      total: pool.count,
    }));
  }
}
