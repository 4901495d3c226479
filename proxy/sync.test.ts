import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BoundedFrequencyRunner, type SyncReason } from "./sync.js";

describe("BoundedFrequencyRunner", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => vi.useRealTimers());

  function runner(durationMs = 0) {
    const calls: Array<{ at: number; reason: SyncReason }> = [];
    const r = new BoundedFrequencyRunner({
      minIntervalMs: 1000,
      maxIntervalMs: 30_000,
      fn: async (reason) => {
        calls.push({ at: Date.now() - 1_000_000, reason });
        if (durationMs) await new Promise((res) => setTimeout(res, durationMs));
      },
    });
    return { r, calls };
  }

  it("does nothing before start; first run is initial and immediate", async () => {
    const { r, calls } = runner();
    r.run();
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls).toEqual([]);
    r.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual([{ at: 5000, reason: "initial" }]);
    await r.stop();
  });

  it("collapses bursts to at most one run per min interval", async () => {
    const { r, calls } = runner();
    r.start();
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 10; i++) {
      r.run();
      await vi.advanceTimersByTimeAsync(100);
    }
    // t=1000: one requested run (min interval after the initial one at 0)
    await vi.advanceTimersByTimeAsync(2000);
    expect(calls.map((c) => c.at)).toEqual([0, 1000]);
    expect(calls[1]!.reason).toBe("requested");
    // a request long after the last run runs at once
    await vi.advanceTimersByTimeAsync(5000);
    r.run();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.at(-1)).toEqual({ at: 8000, reason: "requested" });
    await r.stop();
  });

  it("runs periodically, and requests cannot postpone the periodic run", async () => {
    const { r, calls } = runner();
    r.start();
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(calls.map((c) => c.reason)).toEqual(["initial", "periodic"]);
    // requests every 2 s for 40 s
    for (let i = 0; i < 20; i++) {
      r.run();
      await vi.advanceTimersByTimeAsync(2000);
    }
    const periodic = calls.filter((c) => c.reason === "periodic").map((c) => c.at);
    expect(periodic.length).toBe(2);
    expect(periodic[1]! - periodic[0]!).toBeLessThanOrEqual(31_000);
    await r.stop();
  });

  it("never overlaps; a request during a run runs after it", async () => {
    const { r, calls } = runner(3000);
    r.start();
    await vi.advanceTimersByTimeAsync(500);
    r.run();
    r.run();
    await vi.advanceTimersByTimeAsync(2400);
    expect(calls.length).toBe(1);
    await vi.advanceTimersByTimeAsync(200); // run 1 ends at 3000 → the pending one starts
    expect(calls.length).toBe(2);
    expect(calls[1]!.at).toBeGreaterThanOrEqual(3000);
    expect(calls[1]!.at).toBeLessThan(3100);
    await vi.advanceTimersByTimeAsync(3000);
    await r.stop();
  });

  it("retryAfter schedules a retry; errors are reported and the loop goes on", async () => {
    const errors: unknown[] = [];
    let n = 0;
    const r = new BoundedFrequencyRunner({
      minIntervalMs: 1000,
      maxIntervalMs: 30_000,
      fn: async () => {
        n++;
        if (n === 1) {
          r.retryAfter(5000);
          throw new Error("boom");
        }
      },
      onError: (e) => errors.push(e),
    });
    r.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(errors).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(4000);
    expect(n).toBe(1);
    await vi.advanceTimersByTimeAsync(1100);
    expect(n).toBe(2); // the retry runs 5 s later
    await r.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(n).toBe(2);
  });
});
