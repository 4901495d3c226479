import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  BucketRateLimiter,
  defaultControllerRateLimiter,
  ItemExponentialFailureRateLimiter,
  MaxOfRateLimiter,
  type RateLimiter,
  runWorker,
  WorkQueue,
  type WorkQueueMetricsProvider,
} from "./workqueue.js";
import { promWorkQueueMetrics } from "./workqueue-metrics.js";

const tick = () => new Promise((r) => setTimeout(r, 0));
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A limiter with fixed delays, to test queue mechanics without waiting for real backoff. */
class FixedLimiter implements RateLimiter<string> {
  counts = new Map<string, number>();
  constructor(private readonly ms: number) {}
  when(item: string) {
    this.counts.set(item, (this.counts.get(item) ?? 0) + 1);
    return this.ms;
  }
  forget(item: string) {
    this.counts.delete(item);
  }
  numRequeues(item: string) {
    return this.counts.get(item) ?? 0;
  }
}

describe("rate limiters", () => {
  it("per-item exponential: 5 ms doubling up to 1000 s, per item, forget resets", () => {
    const l = new ItemExponentialFailureRateLimiter<string>();
    expect([l.when("a"), l.when("a"), l.when("a"), l.when("a")]).toEqual([5, 10, 20, 40]);
    expect(l.when("b")).toBe(5);
    expect(l.numRequeues("a")).toBe(4);
    for (let i = 0; i < 40; i++) l.when("a");
    expect(l.when("a")).toBe(1_000_000);
    l.forget("a");
    expect(l.numRequeues("a")).toBe(0);
    expect(l.when("a")).toBe(5);
  });

  it("token bucket: burst is free, then 1/qps per token, refills with time", () => {
    let now = 0;
    const l = new BucketRateLimiter<string>(10, 100, () => now);
    for (let i = 0; i < 100; i++) expect(l.when("x")).toBe(0);
    expect(l.when("x")).toBeCloseTo(100, 6); // 1 token of debt at 10 qps
    expect(l.when("y")).toBeCloseTo(200, 6);
    now += 1000; // +10 tokens, still in debt by -2+10 = 8 → free again
    expect(l.when("x")).toBe(0);
  });

  it("max-of combines: default limiter = max(per-item, bucket)", () => {
    const now = 0;
    const l = defaultControllerRateLimiter<string>(() => now);
    expect(l.when("a")).toBe(5);
    expect(l.when("a")).toBe(10);
    for (let i = 0; i < 98; i++) l.when(`k${i}`);
    // 100 tokens used; the next costs 100 ms which beats b's 5 ms
    expect(l.when("b")).toBeCloseTo(100, 6);
    expect(l.numRequeues("a")).toBe(2);
    l.forget("a");
    expect(l.numRequeues("a")).toBe(0);
  });

  it("MaxOf reports the largest numRequeues", () => {
    const a = new FixedLimiter(1);
    const b = new FixedLimiter(7);
    const m = new MaxOfRateLimiter<string>(a, b);
    expect(m.when("i")).toBe(7);
    b.when("i");
    expect(m.numRequeues("i")).toBe(2);
  });
});

describe("WorkQueue", () => {
  it("is FIFO and dedups items while queued", async () => {
    const q = new WorkQueue<string>();
    q.add("a");
    q.add("b");
    q.add("a");
    q.add("c");
    q.add("b");
    expect(q.len).toBe(3);
    expect([await q.get(), await q.get(), await q.get()]).toEqual(["a", "b", "c"]);
    expect(q.len).toBe(0);
  });

  it("get waits for an add", async () => {
    const q = new WorkQueue<string>();
    let got: string | undefined;
    const p = q.get().then((v) => {
      got = v;
    });
    await tick();
    expect(got).toBeUndefined();
    q.add("later");
    await p;
    expect(got).toBe("later");
  });

  it("an item re-added while processing is not handed out twice concurrently, but queued again after done", async () => {
    const q = new WorkQueue<string>();
    q.add("a");
    const first = await q.get();
    expect(first).toBe("a");
    q.add("a");
    q.add("a");
    expect(q.len).toBe(0); // not queued while processing
    let second: string | undefined;
    void q.get().then((v) => {
      second = v;
    });
    await tick();
    expect(second).toBeUndefined();
    q.done("a");
    await tick();
    expect(second).toBe("a"); // exactly once more
    q.done("a");
    expect(q.len).toBe(0);
  });

  it("done without a re-add does not requeue", async () => {
    const q = new WorkQueue<string>();
    q.add("a");
    q.done((await q.get())!);
    expect(q.len).toBe(0);
  });

  it("hands items to several waiting getters, one each", async () => {
    const q = new WorkQueue<string>();
    const ps = [q.get(), q.get(), q.get()];
    q.add("x");
    q.add("y");
    q.add("z");
    expect((await Promise.all(ps)).sort()).toEqual(["x", "y", "z"]);
  });

  it("addAfter delays and keeps the earliest time for a waiting item", async () => {
    const q = new WorkQueue<string>();
    q.addAfter("a", 40);
    q.addAfter("a", 400); // later: ignored
    q.addAfter("b", 400);
    q.addAfter("b", 20); // earlier: wins
    expect(q.len).toBe(0);
    const t0 = performance.now();
    const first = await q.get();
    expect(first).toBe("b");
    const second = await q.get();
    expect(second).toBe("a");
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(35);
    expect(elapsed).toBeLessThan(300);
    q.addAfter("c", 0);
    expect(q.len).toBe(1);
  });

  it("addRateLimited backs off per item and numRequeues/forget track failures", async () => {
    const q = new WorkQueue<string>({ rateLimiter: new ItemExponentialFailureRateLimiter<string>(20, 1000) });
    q.addRateLimited("a"); // 20 ms
    expect(q.numRequeues("a")).toBe(1);
    const t0 = performance.now();
    expect(await q.get()).toBe("a");
    const d1 = performance.now() - t0;
    q.done("a");
    q.addRateLimited("a"); // 40 ms
    q.addRateLimited("a"); // 80 ms, but the 40 ms timer is earlier and kept
    const t1 = performance.now();
    expect(await q.get()).toBe("a");
    const d2 = performance.now() - t1;
    q.done("a");
    expect(d1).toBeGreaterThanOrEqual(15);
    expect(d2).toBeGreaterThanOrEqual(35);
    expect(d2).toBeLessThan(1000);
    expect(q.numRequeues("a")).toBe(3);
    q.forget("a");
    expect(q.numRequeues("a")).toBe(0);
  });

  it("shutDown: no more adds, queued items still handed out, then undefined for every getter", async () => {
    const q = new WorkQueue<string>();
    q.add("a");
    q.addAfter("later", 10);
    q.shutDown();
    q.add("b");
    expect(q.len).toBe(1);
    expect(await q.get()).toBe("a");
    expect(await q.get()).toBeUndefined();
    await wait(30);
    expect(q.len).toBe(0); // the delayed add was dropped
  });

  it("shutDown wakes getters that are already waiting", async () => {
    const q = new WorkQueue<string>();
    const ps = [q.get(), q.get()];
    q.shutDown();
    expect(await Promise.all(ps)).toEqual([undefined, undefined]);
  });

  it("shutDownWithDrain waits for in-flight items to be done", async () => {
    const q = new WorkQueue<string>();
    q.add("a");
    q.add("b");
    const a = (await q.get())!;
    const b = (await q.get())!;
    let drained = false;
    const p = q.shutDownWithDrain().then(() => {
      drained = true;
    });
    await tick();
    expect(drained).toBe(false);
    q.done(a);
    await tick();
    expect(drained).toBe(false);
    q.done(b);
    await p;
    expect(drained).toBe(true);
    expect(await q.get()).toBeUndefined();
  });

  it("shutDownWithDrain resolves at once with nothing in flight", async () => {
    const q = new WorkQueue<string>();
    await q.shutDownWithDrain();
    expect(q.shuttingDown).toBe(true);
  });

  it("reports metrics through the hooks", async () => {
    const calls: string[] = [];
    let clock = 0;
    const m: WorkQueueMetricsProvider = {
      setDepth: (n, d) => calls.push(`depth ${n} ${d}`),
      incAdds: (n) => calls.push(`add ${n}`),
      observeQueueDuration: (n, s) => calls.push(`latency ${n} ${s}`),
      observeWorkDuration: (n, s) => calls.push(`work ${n} ${s}`),
      incRetries: (n) => calls.push(`retry ${n}`),
    };
    const q = new WorkQueue<string>({
      name: "q1",
      metrics: m,
      now: () => clock,
      rateLimiter: new FixedLimiter(1),
    });
    q.add("a");
    q.add("a"); // deduped: not counted
    clock = 250;
    const item = (await q.get())!;
    clock = 1250;
    q.done(item);
    q.addRateLimited("a");
    expect(calls).toEqual(["add q1", "depth q1 1", "depth q1 0", "latency q1 0.25", "work q1 1", "retry q1"]);
  });
});

describe("runWorker", () => {
  it("forgets on success, retries failures with backoff, drops after maxRetries, exits on shutdown", async () => {
    const q = new WorkQueue<string>({ rateLimiter: new FixedLimiter(1) });
    const attempts = new Map<string, number>();
    const errors: Array<[string, boolean]> = [];
    const worker = runWorker(
      q,
      async (item) => {
        attempts.set(item, (attempts.get(item) ?? 0) + 1);
        if (item === "bad") throw new Error("nope");
        if (item === "flaky" && attempts.get(item)! < 3) throw new Error("not yet");
      },
      { maxRetries: 2, onError: (item, _err, retry) => errors.push([item, retry]) },
    );
    q.add("ok");
    q.add("flaky");
    q.add("bad");
    await wait(100);
    expect(attempts.get("ok")).toBe(1);
    expect(attempts.get("flaky")).toBe(3);
    expect(attempts.get("bad")).toBe(3); // first try + 2 retries
    expect(q.numRequeues("flaky")).toBe(0); // forgotten after success
    expect(q.numRequeues("bad")).toBe(0); // forgotten when dropped
    expect(errors.filter(([i]) => i === "bad")).toEqual([
      ["bad", true],
      ["bad", true],
      ["bad", false],
    ]);
    q.shutDown();
    await worker;
  });
});

describe("promWorkQueueMetrics", () => {
  it("exports client-go's metric names labelled by queue name", async () => {
    const registry = new Registry();
    const provider = promWorkQueueMetrics(registry);
    expect(promWorkQueueMetrics(registry)).toBe(provider); // registered once per registry
    const q = new WorkQueue<string>({
      name: "endpoints",
      metrics: provider,
      rateLimiter: new FixedLimiter(1),
    });
    q.add("a");
    q.add("b");
    q.done((await q.get())!);
    q.addRateLimited("a");
    const text = await registry.metrics();
    expect(text).toContain('workqueue_depth{name="endpoints"} 1');
    expect(text).toContain('workqueue_adds_total{name="endpoints"} 2');
    expect(text).toContain('workqueue_retries_total{name="endpoints"} 1');
    expect(text).toContain('workqueue_queue_duration_seconds_count{name="endpoints"} 1');
    expect(text).toContain('workqueue_work_duration_seconds_count{name="endpoints"} 1');
    q.shutDown();
  });
});
