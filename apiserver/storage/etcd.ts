/**
 * etcd v3 storage backend (the `etcd3` npm client, over gRPC), used when the apiserver gets
 * --etcd-servers. It speaks to etcd the way kube-apiserver does:
 *
 *   create  Txn(ModRevision(key) == 0 → Put)                       else KeyExistsError
 *   update  Txn(ModRevision(key) == expected → Put(ignore_lease, prev_kv)  else Get)
 *           (ignore_lease keeps the TTL lease an Event was created with)
 *   delete  Txn(ModRevision(key) == expected | > 0 → DeleteRange(prev_kv)  else Get)
 *   list    Range(prefix, limit, revision) — the header revision is the list's revision, and a
 *           given revision reads that MVCC snapshot (limit/continue pages)
 *   count   Range(prefix, count_only)
 *   TTL     a lease per TTL, reused for keys created within a short window (like
 *           kube-apiserver's lease manager: window = 5% of the TTL, at most 60 s; the lease is
 *           granted for TTL + window), so lease count stays low under an Event storm. etcd
 *           deletes the keys when the lease expires, and watchers see normal delete events.
 *
 * Watch: one gRPC Watch stream per watch() (streams share the client's HTTP/2 connection),
 * created with start_revision = afterRevision + 1, prev_kv and progress_notify. The stream is
 * driven directly rather than through etcd3's Watcher so that compaction (a cancel carrying
 * compact_revision) becomes a CompactedError with the real compacted revision, and so that
 * empty responses (progress notifications) reach onProgress. If the stream breaks, it is
 * re-created from the last delivered revision + 1 (events at or below it are dropped), with
 * backoff; after 30 s of failures the watch ends with onError.
 *
 * Progress: etcd's own periodic progress notifications (server flag
 * --experimental-watch-progress-notify-interval, 10 min by default; kube deployments set a few
 * seconds) are always safe: they are only sent to caught-up watchers, in order with events.
 * On-demand progress requests (every progressIntervalMs for idle watchers) are sent only to
 * servers that order them with events (etcd >= 3.4.31, >= 3.5.13, >= 3.6): older servers
 * could answer a request with a revision ahead of events still queued (etcd-io/etcd#15220),
 * which would let a client resume past a missed event.
 *
 * Compaction: compact(rev) calls etcd Compact(rev); etcd then serves reads at >= rev and
 * watches from >= rev, and this store refuses afterRevision < rev itself (the event at rev
 * could be a tombstone etcd no longer has). The periodic compactor (default every 5 min)
 * compacts to currentRevision - historyRevisions and coordinates through a compare-and-swap
 * on the key "compact_rev_key", as kube-apiserver does (the key's version is a logical clock,
 * its value the last compacted revision): when several apiservers share an etcd only one of
 * them compacts per interval, and the others learn the compacted revision from the key.
 * The key is shared with kube-apiserver's own compactor on purpose, since compaction is
 * global to the etcd cluster. compactedRevision() reports the highest compaction seen: the
 * store's own, the compact key, etcd's HashKV (read once at open) and any compact_revision
 * a watch reports.
 *
 * Errors: "mvcc: required revision has been compacted" → CompactedError, "mvcc: required
 * revision is a future revision" → FutureRevisionError; other gRPC errors pass through.
 */

import type { IDuplexStream, IKeyValue, IRequestOp, IWatchRequest, IWatchResponse } from "etcd3";
import etcd3 from "etcd3";
import {
  CompactedError,
  FutureRevisionError,
  KeyExistsError,
  KeyNotFoundError,
  type KeyValue,
  type ListOptions,
  type ListResult,
  RevisionMismatchError,
  type Storage,
  type WatchCallbacks,
  type WatchEvent,
  type WatchHandle,
} from "./types.js";
import { prefixEndBytes, StorageClosedError } from "./util.js";

const { Etcd3, CompareResult, CompareTarget } = etcd3;
type EtcdClient = InstanceType<typeof Etcd3>;
type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

export interface EtcdStorageOptions {
  /** client URLs, e.g. ["http://127.0.0.1:2379"] */
  endpoints: string[];
  /** prepended to every key (default ""; kube-apiserver's keys already start with /registry) */
  prefix?: string;
  /** periodic compaction interval (default 5 min; 0 disables) */
  compactIntervalMs?: number;
  /** revisions of history the periodic compactor keeps (default 10000) */
  historyRevisions?: number;
  /** how often idle watchers ask for progress, on servers where that is safe (default 5 s) */
  progressIntervalMs?: number;
}

/** the compare-and-swap key kube-apiserver's compactor uses (outside any prefix: compaction is global) */
const COMPACT_KEY = Buffer.from("compact_rev_key");
const WATCH_GIVE_UP_MS = 30_000;

function isCompactedMessage(err: unknown): boolean {
  return err instanceof Error && err.message.includes("required revision has been compacted");
}
function isFutureMessage(err: unknown): boolean {
  return err instanceof Error && err.message.includes("required revision is a future revision");
}

/** etcd versions whose on-demand progress responses are ordered with events */
export function orderedProgressRequests(version: string): boolean {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const [maj, min, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (maj !== 3) return maj > 3;
  if (min === 4) return patch >= 31;
  if (min === 5) return patch >= 13;
  return min > 5;
}

/** keys per etcd range request when the caller asked for everything */
const LIST_PAGE = 1000;

export async function openEtcdStorage(opts: EtcdStorageOptions): Promise<Storage> {
  const client = new Etcd3({
    hosts: opts.endpoints,
    dialTimeout: 5000,
    // grpc-js refuses replies over 4 MiB by default; lists are paged, but one page of big objects can exceed that
    grpcOptions: { "grpc.max_receive_message_length": 256 * 1024 * 1024 },
  });
  const s = new EtcdStorage(client, opts);
  try {
    await s.init();
  } catch (err) {
    client.close();
    throw err;
  }
  return s;
}

class EtcdStorage implements Storage {
  readonly name = "etcd" as const;
  private readonly prefix: string;
  private readonly history: number;
  private compacted = 0;
  /** last seen version of COMPACT_KEY: the compactor's logical clock */
  private compactClock = 0;
  /** revision of this store's last compact-key write: a tick that sees only that write skips */
  private ownCompactWrite = 0;
  private closed = false;
  private readonly watches = new Set<EtcdWatch>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly leases = new Map<number, { id: string; reuseUntil: number }>();
  /** server orders on-demand progress responses with events */
  progressRequests = false;

  constructor(
    readonly client: EtcdClient,
    private readonly opts: EtcdStorageOptions,
  ) {
    this.prefix = opts.prefix ?? "";
    this.history = opts.historyRevisions ?? 10_000;
  }

  async init(): Promise<void> {
    const status = await this.client.maintenance.status();
    this.progressRequests = orderedProgressRequests(status.version);
    await this.refreshCompacted();
    try {
      const h = await this.client.maintenance.hashKV({ revision: 0 });
      this.noteCompacted(Number(h.compact_revision));
    } catch {
      // HashKV is only a hint for compactions made by other tools
    }
    const every = (ms: number, fn: () => void) => {
      if (ms <= 0) return;
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.opts.compactIntervalMs ?? 5 * 60_000, () => {
      this.periodicCompact().catch(() => {});
    });
    every(this.opts.progressIntervalMs ?? 5000, () => {
      for (const w of this.watches) w.progressTick();
    });
  }

  // ---- helpers ----

  private k(key: string): Buffer {
    return Buffer.from(this.prefix + key);
  }

  kvOf(raw: IKeyValue): KeyValue {
    return {
      key: raw.key.toString().slice(this.prefix.length),
      value: raw.value.toString(),
      modRevision: Number(raw.mod_revision),
      createRevision: Number(raw.create_revision),
    };
  }

  noteCompacted(rev: number): void {
    if (Number.isFinite(rev) && rev > this.compacted) this.compacted = rev;
  }

  private async refreshCompacted(): Promise<void> {
    const res = await this.client.kv.range({ key: COMPACT_KEY });
    const kv = res.kvs[0];
    if (kv) {
      this.compactClock = Math.max(this.compactClock, Number(kv.version));
      this.noteCompacted(Number(kv.value.toString()));
    }
  }

  private ensureOpen(): void {
    if (this.closed) throw new StorageClosedError("etcd");
  }

  /** maps etcd's revision errors onto the contract's error types */
  private async mapError(err: unknown, requested: number): Promise<Error> {
    if (isCompactedMessage(err)) {
      await this.refreshCompacted().catch(() => {});
      if (this.compacted <= requested) this.compacted = requested + 1;
      return new CompactedError(requested, this.compacted);
    }
    if (isFutureMessage(err)) {
      const current = await this.currentRevision().catch(() => requested - 1);
      return new FutureRevisionError(requested, current);
    }
    return err instanceof Error ? err : new Error(String(err));
  }

  // ---- reads ----

  async get(key: string): Promise<KeyValue | undefined> {
    this.ensureOpen();
    const res = await this.client.kv.range({ key: this.k(key) });
    return res.kvs[0] ? this.kvOf(res.kvs[0]) : undefined;
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    this.ensureOpen();
    const full = Buffer.from(this.prefix + prefix);
    const rangeEnd = prefixEndBytes(full);
    let start = full.length > 0 ? full : Buffer.from([0]);
    if (opts.startAfter !== undefined && opts.startAfter >= prefix) {
      start = Buffer.concat([this.k(opts.startAfter), Buffer.from([0])]);
    }
    const revision = opts.revision && opts.revision > 0 ? opts.revision : 0;
    if (revision > 0 && revision < this.compacted) throw new CompactedError(revision, this.compacted);
    const limit = opts.limit && opts.limit > 0 ? opts.limit : 0;
    let res: Awaited<ReturnType<EtcdClient["kv"]["range"]>>;
    try {
      res = await this.client.kv.range({
        key: start,
        range_end: rangeEnd,
        limit: limit || LIST_PAGE,
        revision,
      });
    } catch (err) {
      throw await this.mapError(err, revision);
    }
    const items = res.kvs.map((kv) => this.kvOf(kv));
    const readAt = revision || Number(res.header.revision);
    if (!limit) {
      // an unlimited list is read in pages at one revision, so no single reply grows without bound
      let more = res.more;
      while (more) {
        const after = Buffer.concat([Buffer.from(res.kvs[res.kvs.length - 1]!.key), Buffer.from([0])]);
        try {
          res = await this.client.kv.range({
            key: after,
            range_end: rangeEnd,
            limit: LIST_PAGE,
            revision: readAt,
          });
        } catch (err) {
          throw await this.mapError(err, readAt);
        }
        for (const kv of res.kvs) items.push(this.kvOf(kv));
        more = res.more;
      }
      return { items, revision: readAt, more: false };
    }
    const more = res.more;
    const out: ListResult = { items, revision: readAt, more };
    if (more) out.remaining = Number(res.count) - items.length;
    return out;
  }

  async count(prefix: string): Promise<number> {
    this.ensureOpen();
    const full = Buffer.from(this.prefix + prefix);
    const res = await this.client.kv.range({
      key: full.length > 0 ? full : Buffer.from([0]),
      range_end: prefixEndBytes(full),
      count_only: true,
    });
    return Number(res.count);
  }

  async currentRevision(): Promise<number> {
    this.ensureOpen();
    const res = await this.client.kv.range({ key: COMPACT_KEY, count_only: true });
    return Number(res.header.revision);
  }

  async compactedRevision(): Promise<number> {
    this.ensureOpen();
    await this.refreshCompacted();
    return this.compacted;
  }

  // ---- writes ----

  private async leaseFor(ttlSeconds: number): Promise<string> {
    const ttl = Math.max(1, Math.ceil(ttlSeconds));
    const now = Date.now();
    const cached = this.leases.get(ttl);
    if (cached && cached.reuseUntil > now) return cached.id;
    const window = Math.min(60, Math.floor(ttl * 0.05));
    const res = await this.client.leaseClient.leaseGrant({ TTL: ttl + window });
    if (window > 0) this.leases.set(ttl, { id: res.ID, reuseUntil: now + window * 1000 });
    return res.ID;
  }

  async create(key: string, value: string, opts?: { ttlSeconds?: number }): Promise<KeyValue> {
    this.ensureOpen();
    const k = this.k(key);
    const lease = opts?.ttlSeconds && opts.ttlSeconds > 0 ? await this.leaseFor(opts.ttlSeconds) : undefined;
    const res = await this.client.kv.txn({
      compare: [{ key: k, target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: 0 }],
      success: [{ request_put: { key: k, value: Buffer.from(value), ...(lease ? { lease } : {}) } }],
      failure: [],
    });
    if (!res.succeeded) throw new KeyExistsError(key);
    const rev = Number(res.header.revision);
    return { key, value, modRevision: rev, createRevision: rev };
  }

  private getOp(k: Buffer): IRequestOp {
    return { request_range: { key: k } };
  }

  async update(key: string, value: string, expectedRevision: number): Promise<KeyValue> {
    this.ensureOpen();
    if (!(expectedRevision > 0)) {
      const cur = await this.get(key);
      if (!cur) throw new KeyNotFoundError(key);
      throw new RevisionMismatchError(key, cur);
    }
    const k = this.k(key);
    const res = await this.client.kv.txn({
      compare: [
        { key: k, target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: expectedRevision },
      ],
      success: [{ request_put: { key: k, value: Buffer.from(value), ignore_lease: true, prev_kv: true } }],
      failure: [this.getOp(k)],
    });
    if (!res.succeeded) {
      const cur = res.responses[0]?.response_range.kvs[0];
      if (!cur) throw new KeyNotFoundError(key);
      throw new RevisionMismatchError(key, this.kvOf(cur));
    }
    const rev = Number(res.header.revision);
    const prev = res.responses[0]?.response_put.prev_kv;
    return { key, value, modRevision: rev, createRevision: prev ? Number(prev.create_revision) : rev };
  }

  async delete(key: string, expectedRevision?: number): Promise<{ prev: KeyValue; revision: number }> {
    this.ensureOpen();
    const k = this.k(key);
    const guard =
      expectedRevision === undefined
        ? { key: k, target: CompareTarget.Mod, result: CompareResult.Greater, mod_revision: 0 }
        : { key: k, target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: expectedRevision };
    const res = await this.client.kv.txn({
      compare: [guard],
      success: [{ request_delete_range: { key: k, prev_kv: true } }],
      failure: [this.getOp(k)],
    });
    if (!res.succeeded) {
      const cur = res.responses[0]?.response_range.kvs[0];
      if (!cur) throw new KeyNotFoundError(key);
      throw new RevisionMismatchError(key, this.kvOf(cur));
    }
    const prev = res.responses[0]?.response_delete_range.prev_kvs[0];
    if (!prev) throw new KeyNotFoundError(key);
    return { prev: this.kvOf(prev), revision: Number(res.header.revision) };
  }

  // ---- compaction ----

  async compact(revision: number): Promise<void> {
    this.ensureOpen();
    if (revision <= this.compacted) return;
    try {
      await this.client.kv.compact({ revision, physical: false });
    } catch (err) {
      if (!isCompactedMessage(err)) throw await this.mapError(err, revision);
      await this.refreshCompacted().catch(() => {});
    }
    this.noteCompacted(revision);
  }

  /** kube-apiserver style: CAS on the compact key's version, then compact; losers learn the result */
  private async periodicCompact(): Promise<void> {
    if (this.closed) return;
    const current = await this.currentRevision();
    const target = current - this.history;
    if (target <= this.compacted || current === this.ownCompactWrite) return;
    const res = await this.client.kv.txn({
      compare: [
        {
          key: COMPACT_KEY,
          target: CompareTarget.Version,
          result: CompareResult.Equal,
          version: this.compactClock,
        },
      ],
      success: [{ request_put: { key: COMPACT_KEY, value: Buffer.from(String(target)) } }],
      failure: [this.getOp(COMPACT_KEY)],
    });
    if (!res.succeeded) {
      const kv = res.responses[0]?.response_range.kvs[0];
      if (kv) {
        this.compactClock = Number(kv.version);
        this.noteCompacted(Number(kv.value.toString()));
      }
      return;
    }
    this.compactClock++;
    this.ownCompactWrite = Number(res.header.revision);
    await this.compact(target);
  }

  // ---- watch ----

  watch(prefix: string, afterRevision: number, callbacks: WatchCallbacks): WatchHandle {
    this.ensureOpen();
    const full = Buffer.from(this.prefix + prefix);
    const w = new EtcdWatch(
      this,
      full.length > 0 ? full : Buffer.from([0]),
      prefixEndBytes(full),
      afterRevision,
      callbacks,
    );
    this.watches.add(w);
    if (afterRevision < this.compacted) {
      const err = new CompactedError(afterRevision, this.compacted);
      queueMicrotask(() => w.fail(err));
    } else {
      w.connect();
    }
    return { stop: () => w.stop() };
  }

  forget(w: EtcdWatch): void {
    this.watches.delete(w);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ---- lifecycle ----

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    for (const w of [...this.watches]) w.stop();
    this.client.close();
  }
}

/** one watch() on its own gRPC Watch stream, re-created from the last delivered revision */
class EtcdWatch {
  private stream: WatchStream | undefined;
  private stopped = false;
  private created = false;
  private busy = false;
  private lastRev: number;
  private failingSince: number | undefined;
  private backoffMs = 100;

  constructor(
    private readonly s: EtcdStorage,
    private readonly key: Buffer,
    private readonly rangeEnd: Buffer,
    afterRevision: number,
    private readonly cb: WatchCallbacks,
  ) {
    this.lastRev = afterRevision;
  }

  connect(): void {
    if (this.stopped) return;
    this.created = false;
    this.s.client.watchClient.watch().then(
      (stream) => {
        if (this.stopped) {
          cancelStream(stream);
          return;
        }
        this.stream = stream;
        stream.on("data", (res) => this.onResponse(stream, res));
        stream.on("error", (err) => this.onBroken(stream, err));
        stream.on("end", () => this.onBroken(stream, new Error("etcd watch stream ended")));
        stream.write({
          create_request: {
            key: this.key,
            range_end: this.rangeEnd,
            start_revision: this.lastRev + 1,
            prev_kv: true,
            progress_notify: true,
          },
        });
      },
      (err: unknown) => this.onBroken(undefined, err),
    );
  }

  private onResponse(stream: WatchStream, res: IWatchResponse): void {
    if (this.stopped || stream !== this.stream) return;
    if (res.canceled) {
      const compactRev = Number(res.compact_revision);
      if (compactRev > 0) {
        this.s.noteCompacted(compactRev);
        this.fail(new CompactedError(this.lastRev, compactRev));
      } else {
        this.fail(new Error(`etcd canceled the watch: ${res.cancel_reason || "no reason given"}`));
      }
      return;
    }
    if (res.created) {
      this.created = true;
      this.failingSince = undefined;
      this.backoffMs = 100;
      return;
    }
    if (res.events.length === 0) {
      const rev = Number(res.header.revision);
      if (rev >= this.lastRev) {
        this.lastRev = rev;
        this.cb.onProgress?.(rev);
      }
      return;
    }
    const batch: WatchEvent[] = [];
    for (const ev of res.events) {
      const rev = Number(ev.kv.mod_revision);
      if (rev <= this.lastRev) continue; // already delivered before a reconnect
      if (String(ev.type).toUpperCase() === "DELETE") {
        const prev: KeyValue = ev.prev_kv
          ? this.s.kvOf(ev.prev_kv)
          : { key: this.s.kvOf(ev.kv).key, value: "", modRevision: 0, createRevision: 0 };
        batch.push({ type: "delete", key: prev.key, prev, revision: rev });
      } else {
        const kv = this.s.kvOf(ev.kv);
        const isCreate = Number(ev.kv.version) === 1;
        if (!isCreate && ev.prev_kv)
          batch.push({ type: "put", kv, prev: this.s.kvOf(ev.prev_kv), revision: rev });
        else batch.push({ type: "put", kv, revision: rev });
      }
      this.lastRev = rev;
    }
    if (batch.length === 0) return;
    this.busy = true;
    try {
      this.cb.onEvents(batch);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private onBroken(stream: WatchStream | undefined, err: unknown): void {
    if (this.stopped || (stream !== undefined && stream !== this.stream)) return;
    if (this.stream) cancelStream(this.stream);
    this.stream = undefined;
    if (this.s.isClosed) {
      this.stop();
      return;
    }
    const now = Date.now();
    this.failingSince ??= now;
    if (now - this.failingSince > WATCH_GIVE_UP_MS) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    const t = setTimeout(() => this.connect(), this.backoffMs);
    t.unref();
    this.backoffMs = Math.min(this.backoffMs * 2, 3000);
  }

  progressTick(): void {
    if (this.busy) {
      this.busy = false;
      return;
    }
    if (this.s.progressRequests && this.created && this.stream) this.stream.write({ progress_request: {} });
  }

  fail(err: Error): void {
    if (this.stopped) return;
    this.stop();
    if (this.s.isClosed) return;
    try {
      this.cb.onError(err);
    } catch {
      // nothing left to tell
    }
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.s.forget(this);
    if (this.stream) cancelStream(this.stream);
    this.stream = undefined;
  }
}

function cancelStream(stream: WatchStream): void {
  const s = stream as unknown as { cancel?: () => void; end: () => void };
  try {
    if (s.cancel) s.cancel();
    else s.end();
  } catch {
    // already gone
  }
}
