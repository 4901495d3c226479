/**
 * A bounded-frequency runner: `fn` runs at most once per `minIntervalMs` (bursts of requests
 * collapse into one run), at least once per `maxIntervalMs` (the periodic full sync), never
 * twice at the same time, and not at all before `start()` (the proxier starts it once every
 * informer has synced, so the first ruleset written is a complete one).
 */

export type SyncReason = "initial" | "requested" | "periodic" | "retry";

export interface BoundedFrequencyRunnerOptions {
  name?: string;
  minIntervalMs: number;
  maxIntervalMs: number;
  fn: (reason: SyncReason) => Promise<void>;
  /** called when fn throws (the runner itself goes on) */
  onError?: (err: unknown) => void;
  now?: () => number;
}

export class BoundedFrequencyRunner {
  private started = false;
  private stopped = false;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private timerReason: SyncReason = "periodic";
  /** a request arrived while fn was running */
  private pending: { reason: SyncReason; delayMs: number } | undefined;
  private lastStart = Number.NEGATIVE_INFINITY;
  /** start of the last initial/periodic run: the next periodic one is due maxIntervalMs later */
  private lastPeriodic = Number.NEGATIVE_INFINITY;
  private readonly now: () => number;
  /** runs so far (for tests and metrics) */
  runs = 0;

  constructor(private readonly opts: BoundedFrequencyRunnerOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** starts the loop with an immediate "initial" run */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.schedule(this.now(), "initial");
  }

  /** asks for a run as soon as the minimum interval allows */
  run(): void {
    if (!this.started || this.stopped) return;
    if (this.running) {
      if (!this.pending || this.pending.delayMs > 0) this.pending = { reason: "requested", delayMs: 0 };
      return;
    }
    this.schedule(Math.max(this.now(), this.lastStart + this.opts.minIntervalMs), "requested");
  }

  /** asks for a run after `ms` (e.g. after a failed sync), unless one comes sooner */
  retryAfter(ms: number): void {
    if (!this.started || this.stopped) return;
    if (this.running) {
      this.pending ??= { reason: "retry", delayMs: ms };
      return;
    }
    this.schedule(Math.max(this.now() + ms, this.lastStart + this.opts.minIntervalMs), "retry");
  }

  /** stops scheduling; resolves when an in-flight run finished */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  get isRunning(): boolean {
    return this.running !== undefined;
  }

  /** when the next run is due (ms since epoch), or Infinity */
  get nextRunAt(): number {
    return this.timerAt;
  }

  private schedule(at: number, reason: SyncReason): void {
    if (at >= this.timerAt) return; // an earlier run is already planned; it covers this request
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timerReason = reason;
    this.timer = setTimeout(() => this.fire(), Math.max(0, at - this.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (this.stopped) return;
    let reason = this.timerReason;
    this.lastStart = this.now();
    // a stream of requests must not postpone the periodic run forever
    if (reason !== "initial" && this.lastStart >= this.lastPeriodic + this.opts.maxIntervalMs)
      reason = "periodic";
    if (reason === "initial" || reason === "periodic") this.lastPeriodic = this.lastStart;
    this.runs++;
    this.running = (async () => {
      try {
        await this.opts.fn(reason);
      } catch (err) {
        this.opts.onError?.(err);
      }
    })().finally(() => {
      this.running = undefined;
      if (this.stopped) return;
      this.schedule(this.lastPeriodic + this.opts.maxIntervalMs, "periodic");
      const p = this.pending;
      this.pending = undefined;
      if (p)
        this.schedule(Math.max(this.now() + p.delayMs, this.lastStart + this.opts.minIntervalMs), p.reason);
    });
  }
}
