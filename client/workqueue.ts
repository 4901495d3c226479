/**
 * Rate-limited work queue with client-go's semantics:
 * - an item is queued at most once (adds while queued are merged);
 * - an item being processed that is added again is queued once more after done();
 * - addRateLimited delays by max(per-item exponential backoff, overall token bucket);
 * - addAfter delays, keeping the earliest ready time for an item already waiting;
 * - after shutDown, get() still hands out what is queued, then resolves undefined.
 * Items are compared like Map keys (strings such as "ns/name" are the usual choice).
 */

export type QueueItem = string | number | boolean | bigint | symbol | object;

// ---------------------------------------------------------------- rate limiters

export interface RateLimiter<T> {
  /** how long (ms) to wait before this item may be processed again; counts as a failure */
  when(item: T): number;
  /** stop tracking the item (after a success) */
  forget(item: T): void;
  /** failures recorded for the item */
  numRequeues(item: T): number;
}

/** base * 2^failures, capped: client-go's default 5 ms … 1000 s. */
export class ItemExponentialFailureRateLimiter<T> implements RateLimiter<T> {
  private readonly failures = new Map<T, number>();

  constructor(
    readonly baseMs = 5,
    readonly maxMs = 1_000_000,
  ) {}

  when(item: T): number {
    const exp = this.failures.get(item) ?? 0;
    this.failures.set(item, exp + 1);
    const delay = this.baseMs * 2 ** exp;
    return !Number.isFinite(delay) || delay > this.maxMs ? this.maxMs : delay;
  }

  forget(item: T): void {
    this.failures.delete(item);
  }

  numRequeues(item: T): number {
    return this.failures.get(item) ?? 0;
  }
}

/** Overall token bucket (qps, burst) shared by all items; each `when` takes a token (may go into debt). */
export class BucketRateLimiter<T> implements RateLimiter<T> {
  private tokens: number;
  private last: number;

  constructor(
    readonly qps = 10,
    readonly burst = 100,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  when(_item: T): number {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }

  forget(_item: T): void {}

  numRequeues(_item: T): number {
    return 0;
  }
}

/** The longest delay of several limiters. */
export class MaxOfRateLimiter<T> implements RateLimiter<T> {
  private readonly limiters: RateLimiter<T>[];

  constructor(...limiters: RateLimiter<T>[]) {
    this.limiters = limiters;
  }

  when(item: T): number {
    let max = 0;
    for (const l of this.limiters) max = Math.max(max, l.when(item));
    return max;
  }

  forget(item: T): void {
    for (const l of this.limiters) l.forget(item);
  }

  numRequeues(item: T): number {
    let max = 0;
    for (const l of this.limiters) max = Math.max(max, l.numRequeues(item));
    return max;
  }
}

/** client-go's DefaultControllerRateLimiter: per-item 5 ms…1000 s, overall 10 qps / 100 burst. */
export function defaultControllerRateLimiter<T>(now: () => number = Date.now): RateLimiter<T> {
  return new MaxOfRateLimiter<T>(
    new ItemExponentialFailureRateLimiter<T>(5, 1_000_000),
    new BucketRateLimiter<T>(10, 100, now),
  );
}

// ---------------------------------------------------------------- metrics

/**
 * Hooks for queue metrics; metrics/ (or `promWorkQueueMetrics`) maps them onto
 * workqueue_depth, workqueue_adds_total, workqueue_queue_duration_seconds,
 * workqueue_work_duration_seconds and workqueue_retries_total, labelled {name}.
 */
export interface WorkQueueMetricsProvider {
  setDepth(name: string, depth: number): void;
  incAdds(name: string): void;
  /** time from being queued until handed out by get() */
  observeQueueDuration(name: string, seconds: number): void;
  /** time from get() until done() */
  observeWorkDuration(name: string, seconds: number): void;
  incRetries(name: string): void;
}

// ---------------------------------------------------------------- queue

export interface WorkQueueOptions<T> {
  /** metrics label */
  name?: string;
  rateLimiter?: RateLimiter<T>;
  metrics?: WorkQueueMetricsProvider;
  /** ms clock for metrics; default performance.now */
  now?: () => number;
}

export class WorkQueue<T extends QueueItem = string> {
  readonly name: string;
  private queue: T[] = [];
  private head = 0;
  private readonly dirty = new Set<T>();
  private readonly processing = new Set<T>();
  private readonly waiters: Array<(item: T | undefined) => void> = [];
  private readonly waiting = new Map<T, { readyAt: number; timer: NodeJS.Timeout }>();
  private readonly queuedAt = new Map<T, number>();
  private readonly startedAt = new Map<T, number>();
  private readonly rateLimiter: RateLimiter<T>;
  private readonly metrics: WorkQueueMetricsProvider | undefined;
  private readonly now: () => number;
  private shutting = false;
  private drainWaiters: Array<() => void> = [];

  constructor(opts: WorkQueueOptions<T> = {}) {
    this.name = opts.name ?? "";
    this.rateLimiter = opts.rateLimiter ?? defaultControllerRateLimiter<T>();
    this.metrics = opts.metrics;
    this.now = opts.now ?? (() => performance.now());
  }

  /** Items ready to be handed out (not counting those being processed or waiting for a delay). */
  get len(): number {
    return this.queue.length - this.head;
  }

  get shuttingDown(): boolean {
    return this.shutting;
  }

  /** Queues the item unless it is already queued; if it is being processed, it is queued after done(). */
  add(item: T): void {
    if (this.shutting) return;
    if (this.dirty.has(item)) return;
    this.metrics?.incAdds(this.name);
    this.dirty.add(item);
    if (this.processing.has(item)) return;
    this.push(item);
  }

  private push(item: T): void {
    this.queue.push(item);
    this.queuedAt.set(item, this.now());
    this.metrics?.setDepth(this.name, this.len);
    this.dispatch();
  }

  private shift(): T {
    const item = this.queue[this.head]!;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Hands queued items to waiting getters. */
  private dispatch(): void {
    while (this.waiters.length > 0 && this.len > 0) {
      const resolve = this.waiters.shift()!;
      resolve(this.take());
    }
    if (this.shutting && this.len === 0) {
      for (const resolve of this.waiters.splice(0)) resolve(undefined);
    }
  }

  private take(): T {
    const item = this.shift();
    this.dirty.delete(item);
    this.processing.add(item);
    const now = this.now();
    const queued = this.queuedAt.get(item);
    this.queuedAt.delete(item);
    this.startedAt.set(item, now);
    if (this.metrics) {
      this.metrics.setDepth(this.name, this.len);
      if (queued !== undefined) this.metrics.observeQueueDuration(this.name, (now - queued) / 1000);
    }
    return item;
  }

  /**
   * The next item; waits while the queue is empty. Resolves undefined once the queue is shut down
   * and empty. Every item got must be passed to done().
   */
  get(): Promise<T | undefined> {
    if (this.len > 0) return Promise.resolve(this.take());
    if (this.shutting) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks processing finished; re-queues the item if it was added meanwhile. */
  done(item: T): void {
    if (!this.processing.delete(item)) return;
    const started = this.startedAt.get(item);
    this.startedAt.delete(item);
    if (this.metrics && started !== undefined) {
      this.metrics.observeWorkDuration(this.name, (this.now() - started) / 1000);
    }
    if (this.dirty.has(item)) this.push(item);
    if (this.processing.size === 0) for (const w of this.drainWaiters.splice(0)) w();
  }

  /** Adds the item after `delayMs`; an item already waiting keeps the earlier of the two times. */
  addAfter(item: T, delayMs: number): void {
    if (this.shutting) return;
    if (delayMs <= 0) {
      this.add(item);
      return;
    }
    const readyAt = Date.now() + delayMs;
    const existing = this.waiting.get(item);
    if (existing) {
      if (existing.readyAt <= readyAt) return;
      clearTimeout(existing.timer);
    }
    const timer = setTimeout(() => {
      this.waiting.delete(item);
      this.add(item);
    }, delayMs);
    this.waiting.set(item, { readyAt, timer });
  }

  /** Adds the item once the rate limiter allows (counts a retry). */
  addRateLimited(item: T): void {
    if (this.shutting) return;
    this.metrics?.incRetries(this.name);
    this.addAfter(item, this.rateLimiter.when(item));
  }

  /** Stops rate-limit tracking for the item (call after it was processed successfully). */
  forget(item: T): void {
    this.rateLimiter.forget(item);
  }

  numRequeues(item: T): number {
    return this.rateLimiter.numRequeues(item);
  }

  /** Refuses new adds, drops delayed items, wakes getters once the queue is empty. */
  shutDown(): void {
    if (!this.shutting) {
      this.shutting = true;
      for (const { timer } of this.waiting.values()) clearTimeout(timer);
      this.waiting.clear();
    }
    this.dispatch();
  }

  /** shutDown, then resolve once every item handed out has been marked done(). */
  shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }
}

export interface WorkerOptions<T> {
  /** after this many failed attempts the item is dropped (forgotten); default: retry forever */
  maxRetries?: number;
  onError?(item: T, err: unknown, willRetry: boolean): void;
}

/**
 * The usual controller worker loop: get, handle, forget on success or addRateLimited on failure,
 * done. Resolves when the queue is shut down and empty.
 */
export async function runWorker<T extends QueueItem>(
  queue: WorkQueue<T>,
  handler: (item: T) => void | Promise<void>,
  opts: WorkerOptions<T> = {},
): Promise<void> {
  for (;;) {
    const item = await queue.get();
    if (item === undefined) return;
    try {
      await handler(item);
      queue.forget(item);
    } catch (err) {
      const retry = opts.maxRetries === undefined || queue.numRequeues(item) < opts.maxRetries;
      if (retry) queue.addRateLimited(item);
      else queue.forget(item);
      opts.onError?.(item, err, retry);
    } finally {
      queue.done(item);
    }
  }
}
