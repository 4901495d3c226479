import { describe, expect, it } from "vitest";
import { type QueueClock, SchedulingQueue } from "./queue.js";

/** A manual clock: timers fire when `advance` passes them. */
function fakeClock() {
  let now = 0;
  let id = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const clock: QueueClock = {
    now: () => now,
    setTimeout: (fn, ms) => {
      timers.set(++id, { at: now + ms, fn });
      return id;
    },
    clearTimeout: (h) => {
      timers.delete(h as number);
    },
  };
  const advance = (ms: number) => {
    const until = now + ms;
    for (;;) {
      const next = [...timers].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!next) break;
      timers.delete(next[0]);
      now = next[1].at;
      next[1].fn();
    }
    now = until;
  };
  return { clock, advance, timers };
}

const newQueue = () => {
  const c = fakeClock();
  return { q: new SchedulingQueue<string>({ clock: c.clock }), ...c };
};

describe("SchedulingQueue", () => {
  it("pops by priority, then first come first served", async () => {
    const { q, advance } = newQueue();
    q.add("a", "a", 0);
    advance(1);
    q.add("b", "b", 10);
    advance(1);
    q.add("c", "c", 0);
    q.add("d", "d", 10);
    const order = [];
    for (let i = 0; i < 4; i++) order.push((await q.pop())!.key);
    expect(order).toEqual(["b", "d", "a", "c"]);
    expect(q.lengths()).toEqual({ active: 0, backoff: 0, unschedulable: 0, inflight: 4 });
  });

  it("hands a pod to a waiting pop", async () => {
    const { q } = newQueue();
    const p = q.pop();
    q.add("a", "pod-a");
    expect((await p)?.pod).toBe("pod-a");
  });

  it("does not add a pod twice; updates replace the object", async () => {
    const { q } = newQueue();
    q.add("a", "v1");
    q.add("a", "v2");
    q.update("a", "v3");
    expect(q.size).toBe(1);
    expect((await q.pop())!.pod).toBe("v3");
  });

  it("re-sorts on a priority change", async () => {
    const { q, advance } = newQueue();
    q.add("a", "a", 0);
    advance(1);
    q.add("b", "b", 0);
    q.update("b", "b", 5);
    expect((await q.pop())!.key).toBe("b");
    expect((await q.pop())!.key).toBe("a");
  });

  it("parks unschedulable pods until a cluster event, then respects backoff", async () => {
    const { q, advance } = newQueue();
    q.add("a", "a");
    const a = (await q.pop())!;
    expect(a.attempts).toBe(1);
    q.requeueFailed("a", true);
    expect(q.where("a")).toBe("unschedulable");
    advance(60_000);
    expect(q.where("a")).toBe("unschedulable");
    expect(q.moveAllToActiveOrBackoff()).toBe(1);
    expect(q.where("a")).toBe("active"); // 1 s backoff long over
    const again = (await q.pop())!;
    expect(again.attempts).toBe(2);
    q.requeueFailed("a", true);
    q.moveAllToActiveOrBackoff();
    expect(q.where("a")).toBe("backoff"); // 2 s backoff from now
    advance(1999);
    expect(q.where("a")).toBe("backoff");
    advance(1);
    expect(q.where("a")).toBe("active");
  });

  it("backs off 1 s doubling to 10 s", () => {
    const { q } = newQueue();
    expect([0, 1, 2, 3, 4, 5, 6, 20].map((n) => q.backoffDuration(n))).toEqual([
      0, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000,
    ]);
  });

  it("retries errors after their backoff", async () => {
    const { q, advance } = newQueue();
    q.add("a", "a");
    await q.pop();
    q.requeueFailed("a", false);
    expect(q.where("a")).toBe("backoff");
    advance(999);
    expect(q.where("a")).toBe("backoff");
    advance(1);
    expect(q.where("a")).toBe("active");
    await q.pop();
    q.requeueFailed("a", false);
    advance(1999);
    expect(q.where("a")).toBe("backoff");
    advance(1);
    expect(q.where("a")).toBe("active");
  });

  it("does not lose a move event that happened during the attempt", async () => {
    const { q } = newQueue();
    q.add("a", "a");
    await q.pop();
    q.moveAllToActiveOrBackoff(); // e.g. a node was added while "a" was being scheduled
    q.requeueFailed("a", true);
    expect(q.where("a")).toBe("backoff");
  });

  it("retries unschedulable pods after maxUnschedulableMs anyway", async () => {
    const c = fakeClock();
    const q = new SchedulingQueue<string>({ clock: c.clock, maxUnschedulableMs: 300_000 });
    q.add("a", "a");
    await q.pop();
    q.requeueFailed("a", true);
    c.advance(299_999);
    expect(q.where("a")).toBe("unschedulable");
    c.advance(1);
    expect(q.where("a")).toBe("active");
  });

  it("moves an unschedulable pod whose spec changed", async () => {
    const { q, advance } = newQueue();
    q.add("a", "a");
    await q.pop();
    q.requeueFailed("a", true);
    q.update("a", "a2", 0, false); // e.g. our own status write
    expect(q.where("a")).toBe("unschedulable");
    advance(5000);
    q.update("a", "a3", 0, true);
    expect(q.where("a")).toBe("active");
    expect((await q.pop())!.pod).toBe("a3");
  });

  it("forgets deleted pods wherever they are, including during an attempt", async () => {
    const { q, timers } = newQueue();
    q.add("a", "a");
    q.add("b", "b");
    q.delete("a");
    expect((await q.pop())!.key).toBe("b");
    q.delete("b");
    q.requeueFailed("b", false);
    expect(q.has("b")).toBe(false);
    q.add("c", "c");
    await q.pop();
    q.requeueFailed("c", false);
    expect(timers.size).toBe(1);
    q.delete("c");
    expect(timers.size).toBe(0);
    expect(q.lengths()).toEqual({ active: 0, backoff: 0, unschedulable: 0, inflight: 0 });
  });

  it("done removes the pod; close wakes poppers", async () => {
    const { q } = newQueue();
    q.add("a", "a");
    await q.pop();
    q.done("a");
    expect(q.size).toBe(0);
    const waiting = q.pop();
    q.close();
    expect(await waiting).toBeUndefined();
    expect(await q.pop()).toBeUndefined();
    q.add("b", "b");
    expect(q.size).toBe(0);
  });

  it("an aborted pop resolves undefined and does not swallow the next pod", async () => {
    const { q } = newQueue();
    const ac = new AbortController();
    const p = q.pop(ac.signal);
    ac.abort();
    expect(await p).toBeUndefined();
    q.add("a", "a");
    expect(q.where("a")).toBe("active");
    expect((await q.pop())!.key).toBe("a");
  });
});
