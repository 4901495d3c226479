/**
 * The scheduling queue, after upstream's three sub-queues:
 * - active: pods ready for an attempt, highest spec.priority first, then oldest first;
 * - backoff: pods waiting out their backoff (1 s doubling per attempt, capped at 10 s) before
 *   going back to active — pods whose attempt failed with an error, or unschedulable pods moved
 *   by a cluster event while still backing off;
 * - unschedulable: pods no node fits; they stay until a cluster event that may help (node
 *   added/changed, a pod deleted or finished) moves them all back, or until they have waited
 *   `maxUnschedulableMs` (default 5 min).
 * A pod that failed while a move event happened during its attempt goes to backoff, not
 * unschedulable, so the event is not lost.
 */

export interface QueueClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: QueueClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export type QueueName = "active" | "backoff" | "unschedulable";

export interface QueuedPod<P> {
  key: string;
  pod: P;
  priority: number;
  /** when the pod first entered the queue (ordering among equal priorities) */
  addedAt: number;
  /** scheduling attempts so far */
  attempts: number;
  /** when the last attempt failed */
  lastFailureAt: number;
  /** the scheduling cycle of the current/last attempt */
  cycle: number;
}

interface Entry<P> {
  info: QueuedPod<P>;
  where: QueueName | "inflight";
  seq: number;
  timer?: unknown;
}

export interface SchedulingQueueOptions {
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** how long a pod may stay unschedulable before it is retried anyway; default 5 min */
  maxUnschedulableMs?: number;
  clock?: QueueClock;
}

export class SchedulingQueue<P> {
  private readonly entries = new Map<string, Entry<P>>();
  private readonly heap: { info: QueuedPod<P>; seq: number }[] = [];
  private readonly waiters: Array<(v: QueuedPod<P> | undefined) => void> = [];
  private readonly clock: QueueClock;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly maxUnschedulableMs: number;
  private seq = 0;
  private closed = false;
  private schedulingCycle = 0;
  private moveRequestCycle = -1;
  private readonly counts = { active: 0, backoff: 0, unschedulable: 0, inflight: 0 };

  constructor(opts: SchedulingQueueOptions = {}) {
    this.clock = opts.clock ?? realClock;
    this.initialBackoffMs = opts.initialBackoffMs ?? 1000;
    this.maxBackoffMs = opts.maxBackoffMs ?? 10_000;
    this.maxUnschedulableMs = opts.maxUnschedulableMs ?? 5 * 60_000;
  }

  // ------------------------------------------------------------ inspection

  /** How many pods each sub-queue holds (inflight: popped, attempt not finished). */
  lengths(): { active: number; backoff: number; unschedulable: number; inflight: number } {
    return { ...this.counts };
  }

  where(key: string): QueueName | "inflight" | undefined {
    return this.entries.get(key)?.where;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Backoff after `attempts` failed attempts: initial × 2^(attempts−1), capped. */
  backoffDuration(attempts: number): number {
    if (attempts <= 0) return 0;
    let d = this.initialBackoffMs;
    for (let i = 1; i < attempts && d < this.maxBackoffMs; i++) d *= 2;
    return Math.min(d, this.maxBackoffMs);
  }

  private backoffUntil(info: QueuedPod<P>): number {
    return info.lastFailureAt + this.backoffDuration(info.attempts);
  }

  // ------------------------------------------------------------ heap (active)

  private less(a: QueuedPod<P>, b: QueuedPod<P>): boolean {
    if (a.priority !== b.priority) return a.priority > b.priority;
    return a.addedAt < b.addedAt;
  }

  private heapPush(info: QueuedPod<P>, seq: number): void {
    const h = this.heap;
    h.push({ info, seq });
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!.info, h[parent]!.info)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private heapPop(): { info: QueuedPod<P>; seq: number } | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!.info, h[m]!.info)) m = l;
        if (r < h.length && this.less(h[r]!.info, h[m]!.info)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  // ------------------------------------------------------------ moves

  private setWhere(e: Entry<P>, where: Entry<P>["where"]): void {
    this.counts[e.where]--;
    e.where = where;
    this.counts[where]++;
  }

  private clearTimer(e: Entry<P>): void {
    if (e.timer !== undefined) {
      this.clock.clearTimeout(e.timer);
      e.timer = undefined;
    }
  }

  private toActive(e: Entry<P>): void {
    this.clearTimer(e);
    this.setWhere(e, "active");
    e.seq = ++this.seq;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.setWhere(e, "inflight");
      waiter(this.startAttempt(e));
      return;
    }
    this.heapPush(e.info, e.seq);
  }

  private toBackoff(e: Entry<P>): void {
    this.clearTimer(e);
    const wait = this.backoffUntil(e.info) - this.clock.now();
    if (wait <= 0) {
      this.toActive(e);
      return;
    }
    this.setWhere(e, "backoff");
    e.seq = ++this.seq;
    e.timer = this.clock.setTimeout(() => {
      e.timer = undefined;
      if (this.entries.get(e.info.key) === e && e.where === "backoff") this.toActive(e);
    }, wait);
  }

  private toUnschedulable(e: Entry<P>): void {
    this.clearTimer(e);
    this.setWhere(e, "unschedulable");
    e.seq = ++this.seq;
    e.timer = this.clock.setTimeout(() => {
      e.timer = undefined;
      if (this.entries.get(e.info.key) === e && e.where === "unschedulable") this.moveOne(e);
    }, this.maxUnschedulableMs);
  }

  /** From unschedulable: to backoff if still backing off, else to active. */
  private moveOne(e: Entry<P>): void {
    if (this.clock.now() < this.backoffUntil(e.info)) this.toBackoff(e);
    else this.toActive(e);
  }

  private startAttempt(e: Entry<P>): QueuedPod<P> {
    e.info.attempts++;
    e.info.cycle = ++this.schedulingCycle;
    return e.info;
  }

  // ------------------------------------------------------------ API

  /** A new pending pod (or one seen again): queued as active unless already known. */
  add(key: string, pod: P, priority = 0): void {
    if (this.closed) return;
    const cur = this.entries.get(key);
    if (cur) {
      this.update(key, pod, priority, true);
      return;
    }
    const e: Entry<P> = {
      info: { key, pod, priority, addedAt: this.clock.now(), attempts: 0, lastFailureAt: 0, cycle: 0 },
      // counted as in flight for a moment so toActive can move it like any other entry
      where: "inflight",
      seq: 0,
    };
    this.counts.inflight++;
    this.entries.set(key, e);
    this.toActive(e);
  }

  /**
   * The pod changed. `relevant`: a change that may make it schedulable (spec, labels): an
   * unschedulable pod is moved back (respecting its backoff).
   */
  update(key: string, pod: P, priority = 0, relevant = false): void {
    if (this.closed) return;
    const e = this.entries.get(key);
    if (!e) {
      this.add(key, pod, priority);
      return;
    }
    e.info.pod = pod;
    if (e.info.priority !== priority && e.where === "active") {
      e.info.priority = priority;
      this.toActive(e); // re-push with the new priority; the stale heap entry is skipped
    }
    e.info.priority = priority;
    if (relevant && e.where === "unschedulable") this.moveOne(e);
  }

  /** The pod is gone (deleted, bound by someone else, no longer ours). */
  delete(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.clearTimer(e);
    this.counts[e.where]--;
    this.entries.delete(key);
  }

  /** Next pod to attempt; waits while active is empty; undefined once closed or `signal` aborts. */
  pop(signal?: AbortSignal): Promise<QueuedPod<P> | undefined> {
    if (this.closed || signal?.aborted) return Promise.resolve(undefined);
    for (;;) {
      const top = this.heapPop();
      if (!top) break;
      const e = this.entries.get(top.info.key);
      if (!e || e.info !== top.info || e.where !== "active" || e.seq !== top.seq) continue; // stale
      this.setWhere(e, "inflight");
      return Promise.resolve(this.startAttempt(e));
    }
    return new Promise((resolve) => {
      const waiter = (v: QueuedPod<P> | undefined) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(v);
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i !== -1) this.waiters.splice(i, 1);
        resolve(undefined);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** The attempt succeeded (bound, or assumed and binding): the pod leaves the queue. */
  done(key: string): void {
    const e = this.entries.get(key);
    if (e?.where === "inflight") this.delete(key);
  }

  /**
   * The attempt failed. `unschedulable`: no node fits (parks the pod until a cluster event);
   * otherwise an error (backs off). Ignored if the pod was deleted meanwhile.
   */
  requeueFailed(key: string, unschedulable: boolean): void {
    const e = this.entries.get(key);
    if (e?.where !== "inflight" || this.closed) return;
    e.info.lastFailureAt = this.clock.now();
    if (!unschedulable || this.moveRequestCycle >= e.info.cycle) this.toBackoff(e);
    else this.toUnschedulable(e);
  }

  /** A cluster event that may make unschedulable pods fit: move them all back. */
  moveAllToActiveOrBackoff(): number {
    this.moveRequestCycle = this.schedulingCycle;
    let moved = 0;
    for (const e of this.entries.values()) {
      if (e.where === "unschedulable") {
        this.moveOne(e);
        moved++;
      }
    }
    return moved;
  }

  /** Wakes waiting pops with undefined and drops all timers. */
  close(): void {
    this.closed = true;
    for (const e of this.entries.values()) this.clearTimer(e);
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}
