/**
 * SQLite storage backend (better-sqlite3), the apiserver's embedded default. A kine-like log:
 *
 *   log(id INTEGER PRIMARY KEY AUTOINCREMENT, name, created, deleted, create_revision,
 *       prev_revision, value)
 *     One row per revision; id IS the revision (global, strictly increasing, never reused).
 *     A put row holds the new value and points at the key's previous row (prev_revision, 0 for
 *     a create). A delete row ("tombstone") holds the deleted value and points at the row it
 *     deleted, so a delete event carries its prev without a join. Index (name, id) makes
 *     "latest row per key at or below revision R" a range scan: snapshot lists at a past
 *     revision (limit/continue) read straight from the log.
 *   current(name PRIMARY KEY, id, expires_at)
 *     The live keys and their latest row, updated in the same transaction. Reads at the current
 *     revision, get and count(prefix) go through it (an index range, no grouping).
 *   meta(k, v)
 *     The compacted revision.
 *
 * The revision counter starts at 1 (like etcd), so an empty store never reports "0", which
 * Kubernetes clients read as "any resourceVersion".
 *
 * Durability: WAL journal + synchronous=NORMAL. Each write is one transaction; once it
 * returns, its frames are in the WAL file, so a killed process (kill -9) loses no acknowledged
 * write (a power loss may lose the last few, which is the documented WAL+NORMAL trade-off).
 *
 * Compaction to C deletes, in batches, every row at or below C that is superseded by a later
 * row at or below C, plus tombstones at or below C. The latest row of a live key is never
 * superseded, so it is kept; a read at any revision >= C finds the same latest-row-per-key as
 * before. A periodic compactor keeps the last `historyRevisions` revisions.
 *
 * Watch is in-process. Every committed write appends its event, synchronously, to the queue of
 * each watcher whose prefix matches; one microtask then drains all queues (one onEvents batch
 * per watcher, in revision order). A new watch reads its history (rows > afterRevision) from
 * the log synchronously inside watch(), so no write can slip between the replay and the live
 * events: no gap, no duplicate. Idle watchers get onProgress(currentRevision) every
 * progressIntervalMs. TTL keys carry expires_at; a sweeper deletes expired keys with normal
 * deletes, so watchers see the delete.
 */
import Database from "better-sqlite3";
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
import { prefixEnd, StorageClosedError } from "./util.js";

export interface SqliteStorageOptions {
  /** database file (created if missing); ":memory:" works for throwaway stores */
  file: string;
  /** revisions of history kept by the periodic compactor (default 10000) */
  historyRevisions?: number;
  /** how often the compactor runs (default 60 s; 0 disables it) */
  compactIntervalMs?: number;
  /** how often idle watchers get onProgress (default 5 s) */
  progressIntervalMs?: number;
  /** how often expired TTL keys are swept (default 500 ms) */
  ttlSweepIntervalMs?: number;
}

/** upper bound for an empty prefix: sorts after every realistic key */
const KEY_MAX = "\u{10FFFF}\u{10FFFF}\u{10FFFF}\u{10FFFF}";
/** revisions compacted per transaction, so writers are not blocked for long */
const COMPACT_BATCH = 5000;

interface CurrentRow {
  name: string;
  id: number;
  create_revision: number;
  value: string;
}

interface LogRow {
  id: number;
  name: string;
  created: number;
  deleted: number;
  create_revision: number;
  prev_revision: number;
  value: string;
  prev_value: string | null;
}

interface SqliteWatcher {
  prefix: string;
  end: string;
  after: number;
  cb: WatchCallbacks;
  queue: WatchEvent[];
  stopped: boolean;
  /** events were delivered since the last progress tick */
  busy: boolean;
}

function inRange(key: string, lo: string, hi: string): boolean {
  return key >= lo && key < hi;
}

function toKV(row: CurrentRow): KeyValue {
  return { key: row.name, value: row.value, modRevision: row.id, createRevision: row.create_revision };
}

function rowToEvent(r: LogRow): WatchEvent {
  if (r.deleted) {
    return {
      type: "delete",
      key: r.name,
      prev: { key: r.name, value: r.value, modRevision: r.prev_revision, createRevision: r.create_revision },
      revision: r.id,
    };
  }
  const kv: KeyValue = { key: r.name, value: r.value, modRevision: r.id, createRevision: r.create_revision };
  if (r.created || r.prev_value === null) return { type: "put", kv, revision: r.id };
  return {
    type: "put",
    kv,
    prev: {
      key: r.name,
      value: r.prev_value,
      modRevision: r.prev_revision,
      createRevision: r.create_revision,
    },
    revision: r.id,
  };
}

export function openSqliteStorage(opts: SqliteStorageOptions): Storage {
  return new SqliteStorage(opts);
}

class SqliteStorage implements Storage {
  readonly name = "sqlite" as const;
  private readonly db: Database.Database;
  private rev: number;
  private compacted: number;
  private closed = false;
  private readonly watchers = new Set<SqliteWatcher>();
  private drainScheduled = false;
  private compacting: Promise<void> | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly history: number;

  private readonly st: {
    getCurrent: Database.Statement<[string], CurrentRow>;
    insert: Database.Statement<[number, string, number, number, number, number, string]>;
    currentInsert: Database.Statement<[string, number, number | null]>;
    currentUpdate: Database.Statement<[number, string]>;
    currentDelete: Database.Statement<[string]>;
    listCurrent: Database.Statement<[string, string, string, number], CurrentRow>;
    countCurrent: Database.Statement<[string, string, string], { n: number }>;
    listAt: Database.Statement<[string, string, string, number, number], CurrentRow>;
    countAt: Database.Statement<[string, string, string, number], { n: number }>;
    history: Database.Statement<[number, string, string], LogRow>;
    expired: Database.Statement<[number, number], { name: string }>;
    compactSuperseded: Database.Statement<[number, number]>;
    compactTombstones: Database.Statement<[number, number]>;
    setMeta: Database.Statement<[number, string]>;
  };

  constructor(opts: SqliteStorageOptions) {
    this.history = opts.historyRevisions ?? 10_000;
    const db = new Database(opts.file);
    this.db = db;
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("busy_timeout = 5000");
    db.exec(`
      CREATE TABLE IF NOT EXISTS log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        created INTEGER NOT NULL,
        deleted INTEGER NOT NULL,
        create_revision INTEGER NOT NULL,
        prev_revision INTEGER NOT NULL,
        value TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS log_name_id ON log(name, id);
      CREATE TABLE IF NOT EXISTS current (
        name TEXT PRIMARY KEY,
        id INTEGER NOT NULL,
        expires_at INTEGER
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS current_expires ON current(expires_at) WHERE expires_at IS NOT NULL;
      CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
      INSERT INTO sqlite_sequence(name, seq)
        SELECT 'log', 1 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'log');
      INSERT OR IGNORE INTO meta(k, v) VALUES ('compacted', 0);
    `);
    this.rev = (
      db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'log'").get() as { seq: number }
    ).seq;
    this.compacted = (db.prepare("SELECT v FROM meta WHERE k = 'compacted'").get() as { v: number }).v;

    const cur = "SELECT c.name, c.id, l.create_revision, l.value FROM current c JOIN log l ON l.id = c.id";
    this.st = {
      getCurrent: db.prepare(`${cur} WHERE c.name = ?`),
      insert: db.prepare(
        "INSERT INTO log(id, name, created, deleted, create_revision, prev_revision, value) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ),
      currentInsert: db.prepare("INSERT INTO current(name, id, expires_at) VALUES (?, ?, ?)"),
      currentUpdate: db.prepare("UPDATE current SET id = ? WHERE name = ?"),
      currentDelete: db.prepare("DELETE FROM current WHERE name = ?"),
      listCurrent: db.prepare(
        `${cur} WHERE c.name >= ? AND c.name < ? AND c.name > ? ORDER BY c.name LIMIT ?`,
      ),
      countCurrent: db.prepare("SELECT COUNT(*) AS n FROM current WHERE name >= ? AND name < ? AND name > ?"),
      listAt: db.prepare(
        `SELECT l.name, l.id, l.create_revision, l.value FROM log l
         WHERE l.id IN (SELECT MAX(id) FROM log WHERE name >= ? AND name < ? AND name > ? AND id <= ? GROUP BY name)
           AND l.deleted = 0
         ORDER BY l.name LIMIT ?`,
      ),
      countAt: db.prepare(
        `SELECT COUNT(*) AS n FROM log l
         WHERE l.id IN (SELECT MAX(id) FROM log WHERE name >= ? AND name < ? AND name > ? AND id <= ? GROUP BY name)
           AND l.deleted = 0`,
      ),
      history: db.prepare(
        `SELECT l.id, l.name, l.created, l.deleted, l.create_revision, l.prev_revision, l.value,
                CASE WHEN l.deleted = 0 AND l.created = 0 THEN p.value END AS prev_value
         FROM log l LEFT JOIN log p ON p.id = l.prev_revision
         WHERE l.id > ? AND l.name >= ? AND l.name < ? ORDER BY l.id`,
      ),
      expired: db.prepare(
        "SELECT name FROM current WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ?",
      ),
      compactSuperseded: db.prepare(
        "DELETE FROM log WHERE id IN (SELECT prev_revision FROM log WHERE id > ? AND id <= ? AND prev_revision > 0)",
      ),
      compactTombstones: db.prepare("DELETE FROM log WHERE id > ? AND id <= ? AND deleted = 1"),
      setMeta: db.prepare("UPDATE meta SET v = ? WHERE k = ?"),
    };

    const every = (ms: number, fn: () => void) => {
      if (ms <= 0) return;
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(opts.progressIntervalMs ?? 5000, () => this.progressTick());
    every(opts.ttlSweepIntervalMs ?? 500, () => this.sweepExpired());
    every(opts.compactIntervalMs ?? 60_000, () => {
      const target = this.rev - this.history;
      if (target > this.compacted && !this.compacting) this.compact(target).catch(() => {});
    });
    // keys whose TTL ran out while the store was closed
    this.sweepExpired();
  }

  // ---- reads ----

  async get(key: string): Promise<KeyValue | undefined> {
    this.ensureOpen();
    const row = this.st.getCurrent.get(key);
    return row ? toKV(row) : undefined;
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    this.ensureOpen();
    const lo = prefix;
    const hi = prefixEnd(prefix) ?? KEY_MAX;
    const after = opts.startAfter ?? "";
    const limit = opts.limit && opts.limit > 0 ? opts.limit : 0;
    const atRev = opts.revision && opts.revision > 0 ? opts.revision : this.rev;
    if (atRev > this.rev) throw new FutureRevisionError(atRev, this.rev);
    if (atRev < this.compacted) throw new CompactedError(atRev, this.compacted);
    const snapshot = atRev !== this.rev;
    const fetch = limit > 0 ? limit + 1 : -1;
    // one read transaction: the page and its remaining count see the same state
    return this.db.transaction((): ListResult => {
      const rows = snapshot
        ? this.st.listAt.all(lo, hi, after, atRev, fetch)
        : this.st.listCurrent.all(lo, hi, after, fetch);
      const more = limit > 0 && rows.length > limit;
      const items = (more ? rows.slice(0, limit) : rows).map(toKV);
      const result: ListResult = { items, revision: atRev, more };
      if (more) {
        const last = items[items.length - 1]!.key;
        result.remaining = snapshot
          ? this.st.countAt.get(lo, hi, last, atRev)!.n
          : this.st.countCurrent.get(lo, hi, last)!.n;
      }
      return result;
    })();
  }

  async count(prefix: string): Promise<number> {
    this.ensureOpen();
    return this.st.countCurrent.get(prefix, prefixEnd(prefix) ?? KEY_MAX, "")!.n;
  }

  async currentRevision(): Promise<number> {
    this.ensureOpen();
    return this.rev;
  }

  async compactedRevision(): Promise<number> {
    this.ensureOpen();
    return this.compacted;
  }

  // ---- writes ----

  async create(key: string, value: string, opts?: { ttlSeconds?: number }): Promise<KeyValue> {
    this.ensureOpen();
    const ttl = opts?.ttlSeconds;
    const expiresAt = ttl !== undefined && ttl > 0 ? Date.now() + ttl * 1000 : null;
    const kv = this.db.transaction((): KeyValue => {
      if (this.st.getCurrent.get(key)) throw new KeyExistsError(key);
      const id = this.rev + 1;
      this.st.insert.run(id, key, 1, 0, id, 0, value);
      this.st.currentInsert.run(key, id, expiresAt);
      this.rev = id;
      return { key, value, modRevision: id, createRevision: id };
    })();
    this.publish({ type: "put", kv, revision: kv.modRevision });
    return kv;
  }

  async update(key: string, value: string, expectedRevision: number): Promise<KeyValue> {
    this.ensureOpen();
    const { kv, prev } = this.db.transaction(() => {
      const cur = this.st.getCurrent.get(key);
      if (!cur) throw new KeyNotFoundError(key);
      if (cur.id !== expectedRevision) throw new RevisionMismatchError(key, toKV(cur));
      const id = this.rev + 1;
      this.st.insert.run(id, key, 0, 0, cur.create_revision, cur.id, value);
      this.st.currentUpdate.run(id, key);
      this.rev = id;
      return { kv: { key, value, modRevision: id, createRevision: cur.create_revision }, prev: toKV(cur) };
    })();
    this.publish({ type: "put", kv, prev, revision: kv.modRevision });
    return kv;
  }

  async delete(key: string, expectedRevision?: number): Promise<{ prev: KeyValue; revision: number }> {
    this.ensureOpen();
    return this.deleteSync(key, expectedRevision);
  }

  private deleteSync(key: string, expectedRevision?: number): { prev: KeyValue; revision: number } {
    const res = this.db.transaction(() => {
      const cur = this.st.getCurrent.get(key);
      if (!cur) throw new KeyNotFoundError(key);
      if (expectedRevision !== undefined && cur.id !== expectedRevision) {
        throw new RevisionMismatchError(key, toKV(cur));
      }
      const id = this.rev + 1;
      this.st.insert.run(id, key, 0, 1, cur.create_revision, cur.id, cur.value);
      this.st.currentDelete.run(key);
      this.rev = id;
      return { prev: toKV(cur), revision: id };
    })();
    this.publish({ type: "delete", key, prev: res.prev, revision: res.revision });
    return res;
  }

  private sweepExpired(): void {
    if (this.closed) return;
    for (;;) {
      const names = this.st.expired.all(Date.now(), 500);
      for (const { name } of names) {
        try {
          this.deleteSync(name);
        } catch {
          // deleted meanwhile
        }
      }
      if (names.length < 500) return;
    }
  }

  // ---- compaction ----

  async compact(revision: number): Promise<void> {
    this.ensureOpen();
    if (revision > this.rev) throw new FutureRevisionError(revision, this.rev);
    // one compaction at a time; a second caller waits and then continues further if needed
    while (this.compacting) await this.compacting;
    if (revision <= this.compacted) return;
    this.compacting = this.runCompaction(revision);
    try {
      await this.compacting;
    } finally {
      this.compacting = undefined;
    }
  }

  private async runCompaction(target: number): Promise<void> {
    while (this.compacted < target && !this.closed) {
      const from = this.compacted;
      const to = Math.min(target, from + COMPACT_BATCH);
      this.db.transaction(() => {
        this.st.compactSuperseded.run(from, to);
        this.st.compactTombstones.run(from, to);
        this.st.setMeta.run(to, "compacted");
      })();
      this.compacted = to;
      // let writers in between batches
      if (this.compacted < target) await new Promise<void>((r) => setImmediate(r));
    }
  }

  // ---- watch ----

  watch(prefix: string, afterRevision: number, callbacks: WatchCallbacks): WatchHandle {
    this.ensureOpen();
    const w: SqliteWatcher = {
      prefix,
      end: prefixEnd(prefix) ?? KEY_MAX,
      after: afterRevision,
      cb: callbacks,
      queue: [],
      stopped: false,
      busy: false,
    };
    const handle: WatchHandle = {
      stop: () => {
        w.stopped = true;
        w.queue = [];
        this.watchers.delete(w);
      },
    };
    if (afterRevision < this.compacted) {
      const err = new CompactedError(afterRevision, this.compacted);
      queueMicrotask(() => {
        if (!w.stopped && !this.closed) {
          w.stopped = true;
          callbacks.onError(err);
        }
      });
      return handle;
    }
    // replay history synchronously: nothing can be written between this read and registration
    if (afterRevision < this.rev) {
      for (const row of this.st.history.iterate(afterRevision, w.prefix, w.end))
        w.queue.push(rowToEvent(row));
    }
    this.watchers.add(w);
    if (w.queue.length > 0) this.scheduleDrain();
    return handle;
  }

  private publish(ev: WatchEvent): void {
    const key = ev.type === "put" ? ev.kv.key : ev.key;
    let any = false;
    for (const w of this.watchers) {
      if (ev.revision > w.after && inRange(key, w.prefix, w.end)) {
        w.queue.push(ev);
        any = true;
      }
    }
    if (any) this.scheduleDrain();
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    queueMicrotask(() => {
      this.drainScheduled = false;
      if (this.closed) return;
      for (const w of this.watchers) {
        if (w.queue.length === 0 || w.stopped) continue;
        const batch = w.queue;
        w.queue = [];
        w.busy = true;
        try {
          w.cb.onEvents(batch);
        } catch (err) {
          // a throwing consumer ends its own watch, never the others
          this.watchers.delete(w);
          w.stopped = true;
          try {
            w.cb.onError(err instanceof Error ? err : new Error(String(err)));
          } catch {
            // nothing left to tell
          }
        }
      }
    });
  }

  private progressTick(): void {
    if (this.closed) return;
    for (const w of this.watchers) {
      if (w.busy) {
        w.busy = false;
        continue;
      }
      if (w.queue.length > 0 || this.rev < w.after || !w.cb.onProgress) continue;
      try {
        w.cb.onProgress(this.rev);
      } catch {
        // progress is advisory
      }
    }
  }

  // ---- lifecycle ----

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    for (const w of this.watchers) w.stopped = true;
    this.watchers.clear();
    if (this.compacting) await this.compacting.catch(() => {});
    this.db.close();
  }

  private ensureOpen(): void {
    if (this.closed) throw new StorageClosedError("sqlite");
  }
}
