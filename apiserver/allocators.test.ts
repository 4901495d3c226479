import { afterEach, describe, expect, it } from "vitest";
import { StatusError } from "../api/status.js";
import {
  bigIntToIp,
  canonicalIP,
  contains,
  formatCIDR,
  ipToBigInt,
  NODE_PORTS_PREFIX,
  NodePortAllocator,
  nth,
  parseCIDR,
  parseIP,
  parsePortRange,
  SERVICE_IPS_PREFIX,
  ServiceIPAllocator,
} from "./allocators.js";
import { openSqliteStorage } from "./storage/sqlite.js";
import type { Storage } from "./storage/types.js";

let storages: Storage[] = [];
function newStorage(): Storage {
  const s = openSqliteStorage({ file: ":memory:", compactIntervalMs: 0 });
  storages.push(s);
  return s;
}
afterEach(async () => {
  for (const s of storages) await s.close();
  storages = [];
});

async function rejection(p: Promise<unknown>): Promise<StatusError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(StatusError);
    return err as StatusError;
  }
  throw new Error("expected a rejection");
}

describe("addresses and CIDRs", () => {
  it("parses and formats IPv4", () => {
    expect(ipToBigInt("10.96.0.10")).toBe(0x0a60000an);
    expect(bigIntToIp(0x0a60000an, 4)).toBe("10.96.0.10");
    expect(bigIntToIp(0n, 4)).toBe("0.0.0.0");
    expect(bigIntToIp(0xffffffffn, 4)).toBe("255.255.255.255");
    for (const bad of [
      "1.2.3",
      "1.2.3.4.5",
      "01.2.3.4",
      "256.1.1.1",
      "1.2.3.-1",
      "a.b.c.d",
      "",
      "1.2.3.4 ",
    ]) {
      expect(parseIP(bad), bad).toBeUndefined();
    }
    expect(() => ipToBigInt("300.1.1.1")).toThrow(/invalid IP address/);
  });

  it("parses and formats IPv6 canonically (RFC 5952)", () => {
    const cases: [string, string][] = [
      ["fd00:10:96::a", "fd00:10:96::a"],
      ["FD00:0010:0096:0000:0000:0000:0000:000A", "fd00:10:96::a"],
      ["::", "::"],
      ["::1", "::1"],
      ["1::", "1::"],
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
      ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
      ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"],
      ["::ffff:10.0.0.1", "::ffff:a00:1"],
    ];
    for (const [input, want] of cases) expect(canonicalIP(input), input).toBe(want);
    expect(parseIP("::ffff:10.0.0.1")).toEqual({ family: 6, value: 0xffff0a000001n });
    for (const bad of [
      ":::",
      "1::2::3",
      "12345::",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9",
      "::g",
      "fe80::1%eth0",
    ]) {
      expect(parseIP(bad), bad).toBeUndefined();
    }
    expect(bigIntToIp((1n << 128n) - 1n, 6)).toBe("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  });

  it("parses CIDRs, clears host bits, and answers contains/nth", () => {
    const v4 = parseCIDR("10.96.0.0/12");
    expect(v4).toEqual({ family: 4, network: 0x0a600000n, prefix: 12, size: 1n << 20n });
    expect(formatCIDR(parseCIDR("10.96.7.9/12"))).toBe("10.96.0.0/12");
    expect(contains(v4, "10.111.255.255")).toBe(true);
    expect(contains(v4, "10.112.0.0")).toBe(false);
    expect(contains(v4, "fd00::1")).toBe(false);
    expect(nth(v4, 1)).toBe("10.96.0.1");
    expect(nth(v4, (1n << 20n) - 1n)).toBe("10.111.255.255");
    expect(() => nth(v4, 1n << 20n)).toThrow(/outside/);

    const v6 = parseCIDR("fd00:10:96::/112");
    expect(v6.family).toBe(6);
    expect(v6.size).toBe(65536n);
    expect(nth(v6, 10)).toBe("fd00:10:96::a");
    expect(contains(v6, "fd00:10:96::ffff")).toBe(true);
    expect(contains(v6, "fd00:10:97::")).toBe(false);
    expect(formatCIDR(parseCIDR("fd00:10:96::1234/112"))).toBe("fd00:10:96::/112");
    expect(parseCIDR("0.0.0.0/0").size).toBe(1n << 32n);

    for (const bad of [
      "10.96.0.0",
      "10.96.0.0/33",
      "fd00::/129",
      "10.96.0.0/-1",
      "10.96.0.0/1a",
      "x/8",
      "10.96.0.0/08",
    ]) {
      expect(() => parseCIDR(bad), bad).toThrow(/invalid CIDR/);
    }
  });

  it("parses port ranges", () => {
    expect(parsePortRange("30000-32767")).toEqual({ base: 30000, size: 2768 });
    expect(parsePortRange(" 80 - 80 ")).toEqual({ base: 80, size: 1 });
    expect(parsePortRange("8080")).toEqual({ base: 8080, size: 1 });
    expect(() => parsePortRange("32767-30000")).toThrow(/lower than the first/);
    expect(() => parsePortRange("0-10")).toThrow(/1-65535/);
    expect(() => parsePortRange("30000-70000")).toThrow(/1-65535/);
    expect(() => parsePortRange("abc")).toThrow(/invalid port range "abc"/);
    expect(() => parsePortRange("30000-")).toThrow(/invalid port range/);
  });
});

describe("ServiceIPAllocator", () => {
  it("hands out every usable address of a small range, never network/broadcast/first, then reports full", async () => {
    const s = newStorage();
    const a = new ServiceIPAllocator(s, ["10.0.0.0/29"]);
    expect(a.firstIP(4)).toBe("10.0.0.1");
    const got: string[] = [];
    for (let i = 0; i < 5; i++) got.push(await a.allocate(`default/s${i}/u${i}`, 4));
    expect([...got].sort()).toEqual(["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]);
    const full = await rejection(a.allocate("default/x/u", 4));
    expect(full.code).toBe(500);
    expect(full.message).toContain("range is full");
    // the first address is still available on request
    expect(await a.allocate("default/kubernetes/u0", 4, "10.0.0.1")).toBe("10.0.0.1");
    expect(await a.isAllocated("10.0.0.1")).toBe(true);
    expect(await a.ownerOf("10.0.0.1")).toBe("default/kubernetes/u0");
    expect(await s.count(SERVICE_IPS_PREFIX)).toBe(6);
    const kv = await s.get(`${SERVICE_IPS_PREFIX}10.0.0.3`);
    expect(JSON.parse(kv!.value).owner).toMatch(/^default\/s\d\/u\d$/);
  });

  it("validates requested addresses with 422 field errors", async () => {
    const s = newStorage();
    const a = new ServiceIPAllocator(s, ["10.96.0.0/12"]);
    expect(await a.allocate("default/web/u1", 4, "10.96.0.10")).toBe("10.96.0.10");

    const taken = await rejection(a.allocate("default/api/u2", 4, "10.96.0.10"));
    expect(taken.code).toBe(422);
    expect(taken.reason).toBe("Invalid");
    expect(taken.message).toContain('Service "api" is invalid');
    expect(taken.message).toContain("provided IP is already allocated");
    expect(taken.details?.causes?.[0]).toMatchObject({
      reason: "FieldValueInvalid",
      field: "spec.clusterIPs",
    });

    const out = await rejection(a.allocate("default/api/u2", 4, "10.200.0.1"));
    expect(out.code).toBe(422);
    expect(out.details?.causes?.[0]?.message).toContain(
      "provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12",
    );
    for (const edge of ["10.96.0.0", "10.111.255.255"]) {
      const e = await rejection(a.allocate("default/api/u2", 4, edge));
      expect(e.message, edge).toContain("not in the valid range");
    }
    const v6 = await rejection(a.allocate("default/api/u2", 6, "fd00::1"));
    expect(v6.message).toContain("not in the valid range");
    const garbage = await rejection(a.allocate("default/api/u2", 4, "10.96.0.300"));
    expect(garbage.code).toBe(422);
    const noFamily = await rejection(a.allocate("default/api/u2", 6));
    expect(noFamily.message).toContain("IPv6 is not configured");
  });

  it("prefers the upper part of the range for random allocation (static subrange)", async () => {
    const s = newStorage();
    const a = new ServiceIPAllocator(s, ["10.0.0.0/24"]);
    // band = min(max(16, 256/16), 256) = 16: random addresses come from .16-.254 while any is free
    for (let i = 0; i < 40; i++) {
      const ip = await a.allocate(`ns/s${i}/u`, 4);
      expect(Number(ip.split(".")[3])).toBeGreaterThanOrEqual(16);
    }
  });

  it("allocates IPv6 and dual-stack addresses in canonical form", async () => {
    const s = newStorage();
    const a = new ServiceIPAllocator(s, ["10.96.0.0/16", "fd00:10:96::/112"]);
    expect(a.families()).toEqual([4, 6]);
    expect(new ServiceIPAllocator(s, ["fd00::/120", "10.0.0.0/24"]).families()).toEqual([6, 4]);
    expect(a.firstIP(6)).toBe("fd00:10:96::1");
    const v6 = await a.allocate("default/web/u", 6);
    expect(contains(parseCIDR("fd00:10:96::/112"), v6)).toBe(true);
    expect(canonicalIP(v6)).toBe(v6);
    expect(v6).not.toBe("fd00:10:96::");
    expect(v6).not.toBe("fd00:10:96::1");
    const v4 = await a.allocate("default/web/u", 4);
    expect(contains(parseCIDR("10.96.0.0/16"), v4)).toBe(true);
    // a requested address in non-canonical form is stored canonically and then is taken
    expect(await a.allocate("default/dns/u", 6, "FD00:10:96:0::A")).toBe("fd00:10:96::a");
    const dup = await rejection(a.allocate("default/dns2/u", 6, "fd00:10:96::a"));
    expect(dup.message).toContain("already allocated");
    expect(await s.get(`${SERVICE_IPS_PREFIX}fd00:10:96::a`)).toBeDefined();
    // IPv6 ranges have no broadcast address: the last one is usable
    expect(await a.allocate("default/last/u", 6, "fd00:10:96::ffff")).toBe("fd00:10:96::ffff");
    expect(() => new ServiceIPAllocator(s, ["10.0.0.0/24", "10.1.0.0/24"])).toThrow(/more than one IPv4/);
    expect(() => new ServiceIPAllocator(s, ["10.0.0.0/31"])).toThrow(/too small/);
  });

  it("never double-allocates across two allocators on one storage (200 concurrent on a /26)", async () => {
    const s = newStorage();
    const a = new ServiceIPAllocator(s, ["10.1.0.0/26"]);
    const b = new ServiceIPAllocator(s, ["10.1.0.0/26"]);
    expect(await a.allocate("default/kubernetes/u", 4, a.firstIP(4))).toBe("10.1.0.1");
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).allocate(`default/s${i}/u${i}`, 4)),
    );
    const ok = results
      .filter((r) => r.status === "fulfilled")
      .map((r) => (r as PromiseFulfilledResult<string>).value);
    const failed = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
    expect(ok).toHaveLength(61);
    const distinct = new Set([...ok, "10.1.0.1"]);
    expect(distinct.size).toBe(62);
    expect(ok).not.toContain("10.1.0.0");
    expect(ok).not.toContain("10.1.0.63");
    expect(failed).toHaveLength(139);
    for (const f of failed) expect(String((f.reason as Error).message)).toContain("range is full");
    expect(await s.count(SERVICE_IPS_PREFIX)).toBe(62);
  });

  it("releases and reuses addresses", async () => {
    const s = newStorage();
    const a = new ServiceIPAllocator(s, ["10.0.0.0/30"]); // .2 is the only random address
    expect(await a.allocate("ns/a/u", 4)).toBe("10.0.0.2");
    expect((await rejection(a.allocate("ns/b/u", 4))).message).toContain("range is full");
    await a.release("10.0.0.2");
    expect(await a.isAllocated("10.0.0.2")).toBe(false);
    await a.release("10.0.0.2"); // releasing twice is harmless
    await a.release("192.168.0.1"); // out of range: ignored
    expect(await a.allocate("ns/b/u", 4)).toBe("10.0.0.2");
    // another instance sees the release made by this one even with a stale view
    const other = new ServiceIPAllocator(s, ["10.0.0.0/30"]);
    expect((await rejection(other.allocate("ns/c/u", 4))).message).toContain("range is full");
    await a.release("10.0.0.2");
    expect(await other.allocate("ns/c/u", 4)).toBe("10.0.0.2");
  });

  it("repair releases orphans, claims missing addresses and fixes owners", async () => {
    const s = newStorage();
    const a = new ServiceIPAllocator(s, ["10.96.0.0/24", "fd00::/120"]);
    await a.allocate("ns/keep/u1", 4, "10.96.0.10");
    await a.allocate("ns/orphan/u2", 4, "10.96.0.11");
    await a.allocate("ns/orphan6/u3", 6, "fd00::11");
    await a.allocate("ns/wrong/u4", 4, "10.96.0.12");
    const inUse = new Map([
      ["10.96.0.10", "ns/keep/u1"],
      ["10.96.0.20", "ns/missing/u5"],
      ["fd00::20", "ns/missing6/u6"],
      ["10.96.0.12", "ns/right/u7"],
      ["192.168.1.1", "ns/outside/u8"], // not ours: ignored
    ]);
    const r = await a.repair(inUse);
    expect(r.released.sort()).toEqual(["10.96.0.11", "fd00::11"]);
    expect(r.claimed.sort()).toEqual(["10.96.0.20", "fd00::20"]);
    expect(r.updated).toEqual(["10.96.0.12"]);
    expect(await a.isAllocated("10.96.0.11")).toBe(false);
    expect(await a.ownerOf("10.96.0.20")).toBe("ns/missing/u5");
    expect(await a.ownerOf("10.96.0.12")).toBe("ns/right/u7");
    expect(await s.count(SERVICE_IPS_PREFIX)).toBe(4);
    // a second run has nothing to do
    expect(await a.repair(inUse)).toEqual({ released: [], claimed: [], updated: [] });
  });

  it("repair with a grace period releases an orphan only after it stayed unused", async () => {
    const s = newStorage();
    const a = new ServiceIPAllocator(s, ["10.96.0.0/24"]);
    await a.allocate("ns/new/u", 4, "10.96.0.30");
    expect((await a.repair(new Map(), { graceRepairs: 2 })).released).toEqual([]);
    expect((await a.repair(new Map(), { graceRepairs: 2 })).released).toEqual([]);
    expect((await a.repair(new Map(), { graceRepairs: 2 })).released).toEqual(["10.96.0.30"]);
    // an address that shows up in use resets its count
    await a.allocate("ns/new/u", 4, "10.96.0.31");
    await a.repair(new Map(), { graceRepairs: 1 });
    await a.repair(new Map([["10.96.0.31", "ns/new/u"]]), { graceRepairs: 1 });
    expect((await a.repair(new Map(), { graceRepairs: 1 })).released).toEqual([]);
    expect((await a.repair(new Map(), { graceRepairs: 1 })).released).toEqual(["10.96.0.31"]);
  });
});

describe("NodePortAllocator", () => {
  it("allocates every port of the range, then reports full; release and reuse", async () => {
    const s = newStorage();
    const a = new NodePortAllocator(s, parsePortRange("30000-30009"));
    const got: number[] = [];
    for (let i = 0; i < 10; i++) got.push(await a.allocate(`ns/s${i}/u`));
    expect([...got].sort((x, y) => x - y)).toEqual(Array.from({ length: 10 }, (_, i) => 30000 + i));
    const full = await rejection(a.allocate("ns/x/u"));
    expect(full.code).toBe(500);
    expect(full.message).toContain("range is full");
    await a.release(30004);
    expect(await a.isAllocated(30004)).toBe(false);
    expect(await a.allocate("ns/x/u")).toBe(30004);
    expect(await s.get(`${NODE_PORTS_PREFIX}30004`)).toBeDefined();
    expect(await a.ownerOf(30004)).toBe("ns/x/u");
  });

  it("validates requested ports", async () => {
    const s = newStorage();
    const a = new NodePortAllocator(s, parsePortRange("30000-32767"));
    expect(await a.allocate("ns/web/u", 30080)).toBe(30080);
    const taken = await rejection(a.allocate("ns/api/u", 30080, "spec.ports[0].nodePort"));
    expect(taken.code).toBe(422);
    expect(taken.details?.causes?.[0]).toMatchObject({ field: "spec.ports[0].nodePort" });
    expect(taken.message).toContain("provided port is already allocated");
    const out = await rejection(a.allocate("ns/api/u", 8080));
    expect(out.message).toContain(
      "provided port is not in the valid range. The range of valid ports is 30000-32767",
    );
    expect((await rejection(a.allocate("ns/api/u", 32768))).code).toBe(422);
    expect((await rejection(a.allocate("ns/api/u", 30000.5))).code).toBe(422);
    // random ports avoid the static band at the bottom: min(max(16, 2768/32), 128) = 86 ports
    for (let i = 0; i < 30; i++) expect(await a.allocate(`ns/r${i}/u`)).toBeGreaterThanOrEqual(30086);
    expect(() => new NodePortAllocator(s, { base: 65000, size: 1000 })).toThrow(/invalid node port range/);
  });

  it("never double-allocates across two allocators on one storage", async () => {
    const s = newStorage();
    const a = new NodePortAllocator(s, parsePortRange("30000-30099"));
    const b = new NodePortAllocator(s, parsePortRange("30000-30099"));
    const results = await Promise.allSettled(
      Array.from({ length: 150 }, (_, i) => (i % 2 ? a : b).allocate(`ns/s${i}/u`)),
    );
    const ok = results
      .filter((r) => r.status === "fulfilled")
      .map((r) => (r as PromiseFulfilledResult<number>).value);
    expect(ok).toHaveLength(100);
    expect(new Set(ok).size).toBe(100);
    expect(results.filter((r) => r.status === "rejected")).toHaveLength(50);
    expect(await s.count(NODE_PORTS_PREFIX)).toBe(100);
  });

  it("repair releases orphans and claims missing ports", async () => {
    const s = newStorage();
    const a = new NodePortAllocator(s, parsePortRange("30000-30999"));
    await a.allocate("ns/keep/u", 30001);
    await a.allocate("ns/orphan/u", 30002);
    const r = await a.repair(
      new Map([
        [30001, "ns/keep/u"],
        [30500, "ns/missing/u"],
        [80, "ns/outside/u"],
      ]),
    );
    expect(r).toEqual({ released: [30002], claimed: [30500], updated: [] });
    expect(await a.isAllocated(30002)).toBe(false);
    expect(await a.isAllocated(30500)).toBe(true);
    // the IP and port ranges share one storage without seeing each other's keys
    const ips = new ServiceIPAllocator(s, ["10.0.0.0/24"]);
    await ips.allocate("ns/x/u", 4, "10.0.0.5");
    expect(
      (
        await a.repair(
          new Map([
            [30001, "ns/keep/u"],
            [30500, "ns/missing/u"],
          ]),
        )
      ).released,
    ).toEqual([]);
    expect((await ips.repair(new Map([["10.0.0.5", "ns/x/u"]]))).released).toEqual([]);
  });
});
