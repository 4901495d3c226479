import { describe, expect, it } from "vitest";
import { Backoff, backoffDelay, sleep, sleepUnlessAborted } from "./backoff.js";

describe("backoffDelay", () => {
  const noJitter = { initialMs: 100, maxMs: 1000, jitter: 0 };

  it("doubles per attempt and caps at max", () => {
    expect([0, 1, 2, 3, 4, 5].map((a) => backoffDelay(a, noJitter))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
  });

  it("honours a custom factor", () => {
    expect(backoffDelay(2, { initialMs: 10, maxMs: 1e6, factor: 3, jitter: 0 })).toBe(90);
  });

  it("stays finite and capped for huge attempt counts", () => {
    expect(backoffDelay(10_000, noJitter)).toBe(1000);
    expect(backoffDelay(Number.MAX_SAFE_INTEGER, noJitter)).toBe(1000);
  });

  it("jitter only shortens, within (d*(1-j), d]", () => {
    const opts = { initialMs: 100, maxMs: 1000, jitter: 0.5 };
    expect(backoffDelay(1, { ...opts, random: () => 0 })).toBe(200);
    expect(backoffDelay(1, { ...opts, random: () => 0.999999 })).toBeCloseTo(100, 3);
    expect(backoffDelay(9, { ...opts, random: () => 0.5 })).toBe(750);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(3, opts);
      expect(d).toBeGreaterThan(400);
      expect(d).toBeLessThanOrEqual(800);
    }
  });

  it("clamps nonsense inputs", () => {
    expect(backoffDelay(-3, noJitter)).toBe(100);
    expect(backoffDelay(1, { initialMs: 0, maxMs: 100, jitter: 0 })).toBe(0);
    expect(backoffDelay(2, { initialMs: 100, maxMs: 1000, jitter: 7, random: () => 0.5 })).toBe(200);
  });
});

describe("Backoff", () => {
  it("advances and resets", () => {
    const b = new Backoff({ initialMs: 5, maxMs: 30, jitter: 0 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([5, 10, 20, 30, 30]);
    expect(b.attempts).toBe(5);
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(5);
  });
});

describe("sleep", () => {
  it("waits at least the time given", async () => {
    const t0 = performance.now();
    await sleep(30);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
  });

  it("rejects promptly when aborted", async () => {
    const c = new AbortController();
    const t0 = performance.now();
    setTimeout(() => c.abort(new Error("stop")), 10);
    await expect(sleep(10_000, c.signal)).rejects.toThrow("stop");
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it("sleepUnlessAborted reports which happened", async () => {
    expect(await sleepUnlessAborted(1)).toBe(true);
    expect(await sleepUnlessAborted(1000, AbortSignal.abort())).toBe(false);
  });
});
