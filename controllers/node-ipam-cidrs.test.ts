import { describe, expect, it } from "vitest";
import {
  CIDRSet,
  nextFree,
  overlappingIndexes,
  parseClusterCIDRs,
  subnetAt,
  subnetIndex,
} from "./node-ipam-cidrs.js";

describe("parseClusterCIDRs", () => {
  it("splits a cluster CIDR into node subnets", () => {
    const [p] = parseClusterCIDRs("10.244.0.0/16", 24);
    expect(p!.count).toBe(256n);
    expect(subnetAt(p!, 0n)).toBe("10.244.0.0/24");
    expect(subnetAt(p!, 255n)).toBe("10.244.255.0/24");
    expect(() => subnetAt(p!, 256n)).toThrow(/outside/);
  });
  it("clears host bits and supports dual stack with a /64 default for IPv6", () => {
    const pools = parseClusterCIDRs("10.244.1.7/16, fd00:10::/56", 24);
    expect(pools).toHaveLength(2);
    expect(subnetAt(pools[0]!, 1n)).toBe("10.244.1.0/24");
    expect(pools[1]!.maskSize).toBe(64);
    expect(subnetAt(pools[1]!, 1n)).toBe("fd00:10:0:1::/64");
  });
  it("rejects masks that do not fit, repeated families and empty specs", () => {
    expect(() => parseClusterCIDRs("10.0.0.0/24", 16)).toThrow(/does not fit/);
    expect(() => parseClusterCIDRs("10.0.0.0/24", 33)).toThrow(/does not fit/);
    expect(() => parseClusterCIDRs("10.0.0.0/16,10.1.0.0/16", 24)).toThrow(/more than one/);
    expect(() => parseClusterCIDRs("", 24)).toThrow(/empty/);
    expect(() => parseClusterCIDRs("nonsense", 24)).toThrow(/invalid CIDR/);
  });
});

describe("subnet indexes", () => {
  const [p] = parseClusterCIDRs("10.244.0.0/16", 24);
  it("finds the index of an exact subnet only", () => {
    expect(subnetIndex(p!, "10.244.7.0/24")).toBe(7n);
    expect(subnetIndex(p!, "10.245.0.0/24")).toBeUndefined();
    expect(subnetIndex(p!, "10.244.7.0/25")).toBeUndefined();
    expect(subnetIndex(p!, "fd00::/64")).toBeUndefined();
    expect(subnetIndex(p!, "bad")).toBeUndefined();
  });
  it("lists the subnets a CIDR of another size overlaps", () => {
    expect(overlappingIndexes(p!, "10.244.4.0/22")).toEqual([4n, 5n, 6n, 7n]);
    expect(overlappingIndexes(p!, "10.244.9.128/25")).toEqual([9n]);
    expect(overlappingIndexes(p!, "10.0.0.0/8")).toHaveLength(256);
    expect(overlappingIndexes(p!, "192.168.0.0/24")).toEqual([]);
  });
  it("nextFree skips used indexes, wraps around and reports full", () => {
    const [small] = parseClusterCIDRs("10.0.0.0/30", 31);
    expect(nextFree(small!, new Set(), 0n)).toBe(0n);
    expect(nextFree(small!, new Set([0n]), 0n)).toBe(1n);
    expect(nextFree(small!, new Set([1n]), 1n)).toBe(0n);
    expect(nextFree(small!, new Set([0n, 1n]))).toBeUndefined();
    expect(nextFree(small!, new Set([0n, 5n, 6n]))).toBe(1n);
  });
});

describe("CIDRSet", () => {
  it("hands out distinct subnets and never one that is occupied", () => {
    const set = new CIDRSet(parseClusterCIDRs("10.244.0.0/16", 24));
    set.occupy("old", ["10.244.1.0/24"]);
    const a = set.allocate("a")!;
    const b = set.allocate("b")!;
    const c = set.allocate("c")!;
    expect(a).toEqual(["10.244.0.0/24"]);
    expect(b).toEqual(["10.244.2.0/24"]);
    expect(c).toEqual(["10.244.3.0/24"]);
    expect(set.isFreeFor("a", "10.244.0.0/24")).toBe(true);
    expect(set.isFreeFor("b", "10.244.0.0/24")).toBe(false);
  });
  it("reports full, and frees a released node's subnet (handed out after the others, round robin)", () => {
    const set = new CIDRSet(parseClusterCIDRs("10.0.0.0/23", 24));
    expect(set.allocate("a")).toEqual(["10.0.0.0/24"]);
    expect(set.allocate("b")).toEqual(["10.0.1.0/24"]);
    expect(set.allocate("c")).toBeUndefined();
    set.release("a");
    expect(set.allocate("c")).toEqual(["10.0.0.0/24"]);
    expect(set.usage()).toEqual([{ cidr: "10.0.0.0/23", used: 2, total: 2n }]);
  });
  it("allocates one subnet per family for dual stack, or nothing when one family is full", () => {
    const set = new CIDRSet(parseClusterCIDRs("10.0.0.0/24,fd00::/63", 25));
    expect(set.allocate("a")).toEqual(["10.0.0.0/25", "fd00::/64"]);
    expect(set.allocate("b")).toEqual(["10.0.0.128/25", "fd00:0:0:1::/64"]);
    expect(set.allocate("c")).toBeUndefined();
    expect(set.usage().map((u) => u.used)).toEqual([2, 2]);
  });
});
