/**
 * Exponential backoff with jitter, shared by the informer, the REST client's 429 retries
 * and leader election. Pure apart from `sleep`.
 */

export interface BackoffOptions {
  /** first delay, ms */
  initialMs: number;
  /** cap for a single delay, ms */
  maxMs: number;
  /** growth per attempt; default 2 */
  factor?: number;
  /**
   * fraction of the delay that is randomised, 0..1; default 0.2. A delay d becomes a value in
   * (d * (1 - jitter), d], so jittered delays never exceed `maxMs`.
   */
  jitter?: number;
  /** random source in [0, 1); default Math.random */
  random?: () => number;
}

/** The delay for the given 0-based attempt: min(initial * factor^attempt, max), then jittered downwards. */
export function backoffDelay(attempt: number, opts: BackoffOptions): number {
  const factor = opts.factor ?? 2;
  const jitter = Math.min(1, Math.max(0, opts.jitter ?? 0.2));
  const random = opts.random ?? Math.random;
  const exp = Math.max(0, Math.floor(attempt));
  // compute in log space to avoid Infinity for large attempt counts
  const raw =
    opts.initialMs <= 0
      ? 0
      : Math.log(opts.maxMs / opts.initialMs) / Math.log(factor) <= exp
        ? opts.maxMs
        : opts.initialMs * factor ** exp;
  const capped = Math.min(raw, opts.maxMs);
  return capped * (1 - jitter * random());
}

/** Stateful wrapper: each `next()` returns the next delay; `reset()` after a success. */
export class Backoff {
  private attemptCount = 0;

  constructor(private readonly opts: BackoffOptions) {}

  get attempts(): number {
    return this.attemptCount;
  }

  next(): number {
    const d = backoffDelay(this.attemptCount, this.opts);
    this.attemptCount++;
    return d;
  }

  reset(): void {
    this.attemptCount = 0;
  }
}

/** The informer's default: 800 ms doubling to 30 s, like client-go's reflector backoff. */
export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 800, maxMs: 30_000, factor: 2, jitter: 0.5 };

/** Resolves after `ms`, or rejects with the signal's reason once it is aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Like `sleep` but resolves `false` instead of rejecting when aborted; `true` when the time passed. */
export async function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, signal);
    return true;
  } catch {
    return false;
  }
}
