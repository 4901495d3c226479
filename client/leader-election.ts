/**
 * Leader election on coordination.k8s.io/v1 Leases, following client-go's algorithm:
 * - try to acquire every retryPeriod (jittered); a lease held by someone else counts as expired
 *   leaseDurationSeconds after this process last saw it change (local clock, so skew does not matter);
 * - while leading, renew every retryPeriod; if no renewal succeeds within renewDeadline, leadership is lost;
 * - writes are optimistic: PUT with the observed resourceVersion, a 409 means someone else won;
 * - on cancel, the lease is released (holderIdentity "" and leaseDurationSeconds 1) so a successor
 *   need not wait for expiry.
 */
import type { KubeObject } from "../api/object.js";
import { sleepUnlessAborted } from "./backoff.js";
import type { Logger } from "./informer.js";
import { isAlreadyExists, isConflict, isNotFound, type RestClient } from "./rest.js";

export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number | null;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number | null;
  [key: string]: unknown;
}

export interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

export const LEASES = { group: "coordination.k8s.io", version: "v1", resource: "leases" } as const;

export interface LeaderCallbacks {
  /** runs when this process becomes leader; `signal` aborts when leadership ends */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  /** runs once after leading ended (lost, or stopped and released) */
  onStoppedLeading(): void;
  /** any observed change of holder (including to this process) */
  onNewLeader?(identity: string): void;
}

export interface LeaderElectionConfig {
  client: RestClient;
  namespace: string;
  name: string;
  /** unique per process, e.g. hostname + "_" + random */
  identity: string;
  /** default 15 s */
  leaseDurationMs?: number;
  /** default 10 s */
  renewDeadlineMs?: number;
  /** default 2 s */
  retryPeriodMs?: number;
  /** default true: give the lease up when the run signal aborts */
  releaseOnCancel?: boolean;
  callbacks: LeaderCallbacks;
  logger?: Logger;
}

/** MicroTime: RFC 3339 with exactly six fractional digits, as the apiserver expects. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

const JITTER = 1.2;

function timeoutSignal(ms: number, outer: AbortSignal): { signal: AbortSignal; clear: () => void } {
  const c = new AbortController();
  const onAbort = () => c.abort(outer.reason);
  if (outer.aborted) c.abort(outer.reason);
  else outer.addEventListener("abort", onAbort, { once: true });
  const t = setTimeout(() => c.abort(new Error("timeout")), Math.max(1, ms));
  return {
    signal: c.signal,
    clear: () => {
      clearTimeout(t);
      outer.removeEventListener("abort", onAbort);
    },
  };
}

export class LeaderElector {
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly releaseOnCancel: boolean;
  private readonly log: Logger | undefined;
  private observed: Lease | undefined;
  private observedRaw = "";
  /** performance.now() when the observed record last changed */
  private observedAt = 0;
  private reportedLeader = "";
  private leading = false;
  private running = false;

  constructor(private readonly config: LeaderElectionConfig) {
    this.leaseDurationMs = config.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = config.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = config.retryPeriodMs ?? 2_000;
    this.releaseOnCancel = config.releaseOnCancel ?? true;
    this.log = config.logger;
    if (!config.identity) throw new Error("leader election needs an identity");
    if (this.leaseDurationMs <= this.renewDeadlineMs) {
      throw new Error("leaseDuration must be greater than renewDeadline");
    }
    if (this.renewDeadlineMs <= JITTER * this.retryPeriodMs) {
      throw new Error(`renewDeadline must be greater than retryPeriod*${JITTER}`);
    }
    if (this.leaseDurationMs < 1000) throw new Error("leaseDuration must be at least 1 s");
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** The holder this process last observed ("" when none/unknown). */
  getLeader(): string {
    return this.observed?.spec?.holderIdentity ?? "";
  }

  /**
   * Campaigns until leader, leads until the lease is lost or `signal` aborts, then returns.
   * Like client-go, a process that lost leadership should normally exit; call run() again to re-campaign.
   */
  async run(signal: AbortSignal = new AbortController().signal): Promise<void> {
    if (this.running) throw new Error("LeaderElector.run is already running");
    this.running = true;
    try {
      if (!(await this.acquire(signal))) return;
      const lead = new AbortController();
      const onAbort = () => lead.abort();
      signal.addEventListener("abort", onAbort, { once: true });
      this.leading = true;
      try {
        Promise.resolve()
          .then(() => this.config.callbacks.onStartedLeading(lead.signal))
          .catch((err: unknown) =>
            this.log?.error({ lease: this.config.name, err: String(err) }, "onStartedLeading failed"),
          );
        await this.renew(signal);
      } finally {
        this.leading = false;
        lead.abort();
        signal.removeEventListener("abort", onAbort);
      }
      if (signal.aborted && this.releaseOnCancel) await this.release();
      try {
        this.config.callbacks.onStoppedLeading();
      } catch (err) {
        this.log?.error({ lease: this.config.name, err: String(err) }, "onStoppedLeading threw");
      }
    } finally {
      this.running = false;
    }
  }

  private async acquire(signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      const ok = await this.tryAcquireOrRenew(signal, this.renewDeadlineMs);
      this.maybeReportTransition();
      if (ok) {
        this.log?.info({ lease: this.config.name, identity: this.config.identity }, "acquired lease");
        return true;
      }
      const wait = this.retryPeriodMs * (1 + Math.random() * JITTER);
      if (!(await sleepUnlessAborted(wait, signal))) break;
    }
    return false;
  }

  /** Renews every retryPeriod; returns when renewal failed for renewDeadline or signal aborted. */
  private async renew(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const deadline = performance.now() + this.renewDeadlineMs;
      let ok = false;
      while (!signal.aborted) {
        const left = deadline - performance.now();
        if (left <= 0) break;
        ok = await this.tryAcquireOrRenew(signal, left);
        this.maybeReportTransition();
        if (ok || signal.aborted) break;
        const wait = Math.min(this.retryPeriodMs, deadline - performance.now());
        if (wait <= 0) break;
        if (!(await sleepUnlessAborted(wait, signal))) break;
      }
      if (signal.aborted) return;
      if (!ok) {
        this.log?.warn(
          { lease: this.config.name, identity: this.config.identity },
          "failed to renew lease, leadership lost",
        );
        return;
      }
      if (!(await sleepUnlessAborted(this.retryPeriodMs, signal))) return;
    }
  }

  private observe(lease: Lease): void {
    const raw = JSON.stringify(lease.spec ?? {});
    if (raw !== this.observedRaw) {
      this.observedRaw = raw;
      this.observedAt = performance.now();
    }
    this.observed = lease;
  }

  private maybeReportTransition(): void {
    const holder = this.getLeader();
    if (holder === this.reportedLeader) return;
    this.reportedLeader = holder;
    if (holder && this.config.callbacks.onNewLeader) {
      try {
        this.config.callbacks.onNewLeader(holder);
      } catch (err) {
        this.log?.error({ lease: this.config.name, err: String(err) }, "onNewLeader threw");
      }
    }
  }

  private ref() {
    return { ...LEASES, namespace: this.config.namespace, name: this.config.name };
  }

  /** One attempt; false on any failure (including conflicts and transport errors). */
  private async tryAcquireOrRenew(outer: AbortSignal, budgetMs: number): Promise<boolean> {
    const { client, identity } = this.config;
    const t = timeoutSignal(budgetMs, outer);
    try {
      const now = new Date();
      const durationSeconds = Math.ceil(this.leaseDurationMs / 1000);
      let current: Lease;
      try {
        current = await client.get<Lease>(this.ref(), { signal: t.signal });
      } catch (err) {
        if (!isNotFound(err)) throw err;
        const created = await client.create<Lease>(
          this.ref(),
          {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name: this.config.name, namespace: this.config.namespace },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds: durationSeconds,
              acquireTime: microTime(now),
              renewTime: microTime(now),
              leaseTransitions: 0,
            },
          },
          { signal: t.signal },
        );
        this.observe(created);
        return true;
      }
      this.observe(current);
      const spec = current.spec ?? {};
      const holder = spec.holderIdentity ?? "";
      const heldMs = (spec.leaseDurationSeconds ?? 0) * 1000;
      if (holder !== "" && holder !== identity && this.observedAt + heldMs > performance.now()) {
        return false; // held by someone else and not expired
      }
      const mine = holder === identity;
      const next: Lease = {
        ...current,
        spec: {
          ...spec,
          holderIdentity: identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: mine && spec.acquireTime ? spec.acquireTime : microTime(now),
          renewTime: microTime(now),
          leaseTransitions: mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
        },
      };
      const updated = await client.update<Lease>(this.ref(), next, { signal: t.signal });
      this.observe(updated);
      return true;
    } catch (err) {
      if (!outer.aborted) {
        const expected = isConflict(err) || isAlreadyExists(err);
        this.log?.[expected ? "debug" : "warn"](
          { lease: this.config.name, identity, err: String(err) },
          "lease acquire/renew attempt failed",
        );
      }
      return false;
    } finally {
      t.clear();
    }
  }

  /** Gives the lease up if this process holds it. */
  private async release(): Promise<void> {
    const { client, identity } = this.config;
    const t = timeoutSignal(this.renewDeadlineMs, new AbortController().signal);
    try {
      const current = await client.get<Lease>(this.ref(), { signal: t.signal });
      if ((current.spec?.holderIdentity ?? "") !== identity) return;
      const now = microTime(new Date());
      const released = await client.update<Lease>(
        this.ref(),
        {
          ...current,
          spec: {
            ...current.spec,
            holderIdentity: "",
            leaseDurationSeconds: 1,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: current.spec?.leaseTransitions ?? 0,
          },
        },
        { signal: t.signal },
      );
      this.observe(released);
      this.log?.info({ lease: this.config.name, identity }, "released lease");
    } catch (err) {
      this.log?.warn({ lease: this.config.name, identity, err: String(err) }, "failed to release lease");
    } finally {
      t.clear();
    }
  }
}
