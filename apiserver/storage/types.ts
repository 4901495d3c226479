/**
 * The storage contract both backends (SQLite, etcd) implement. Keys are strings such as
 * "/registry/pods/default/web-1"; values are the JSON text of the object without
 * metadata.resourceVersion (the revision is the resourceVersion).
 *
 * Revisions are one global, strictly increasing integer per store (like etcd's): every
 * create, update and delete gets a new one.
 */

export interface KeyValue {
  key: string;
  value: string;
  /** revision of the last change of this key (resourceVersion) */
  modRevision: number;
  /** revision at which the key was created */
  createRevision: number;
}

export interface ListOptions {
  /** only keys strictly greater than this one (for continue tokens) */
  startAfter?: string;
  limit?: number;
  /** read as of this revision (snapshot); must be within the history window, else CompactedError */
  revision?: number;
}

export interface ListResult {
  items: KeyValue[];
  /** the revision the list was read at */
  revision: number;
  /** true when limit cut the result short */
  more: boolean;
  /** number of keys after the last returned one, when more is true */
  remaining?: number;
}

export type WatchEvent =
  | { type: "put"; kv: KeyValue; prev?: KeyValue; revision: number }
  | { type: "delete"; key: string; prev: KeyValue; revision: number };

export interface WatchHandle {
  stop(): void;
}

export interface WatchCallbacks {
  onEvents(events: WatchEvent[]): void;
  /** revision reached with no events for a while (drives bookmarks) */
  onProgress?(revision: number): void;
  /** the watch ended: compacted start revision (CompactedError) or backend failure */
  onError(err: Error): void;
}

export class CompactedError extends Error {
  constructor(
    readonly requested: number,
    readonly compacted: number,
  ) {
    super(`required revision ${requested} has been compacted (oldest available ${compacted + 1})`);
    this.name = "CompactedError";
  }
}

export class KeyExistsError extends Error {
  constructor(readonly key: string) {
    super(`key exists: ${key}`);
    this.name = "KeyExistsError";
  }
}

export class KeyNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`key not found: ${key}`);
    this.name = "KeyNotFoundError";
  }
}

/**
 * a read asked for a revision newer than the store's current one (kube-apiserver answers such
 * lists with "Too large resource version"); additive to the original contract
 */
export class FutureRevisionError extends Error {
  constructor(
    readonly requested: number,
    readonly current: number,
  ) {
    super(`required revision ${requested} is a future revision (current ${current})`);
    this.name = "FutureRevisionError";
  }
}

/** optimistic-concurrency failure: carries the current value so callers can report or retry */
export class RevisionMismatchError extends Error {
  constructor(
    readonly key: string,
    readonly current: KeyValue | undefined,
  ) {
    super(`revision mismatch on ${key}`);
    this.name = "RevisionMismatchError";
  }
}

export interface Storage {
  readonly name: "sqlite" | "etcd";
  get(key: string): Promise<KeyValue | undefined>;
  /** keys starting with prefix, in key (byte) order; opts.revision reads a past snapshot */
  list(prefix: string, opts?: ListOptions): Promise<ListResult>;
  count(prefix: string): Promise<number>;
  /**
   * fails with KeyExistsError; returns the new KeyValue. ttlSeconds: the key is deleted (a
   * normal delete, watchers see it) about ttlSeconds later; update() keeps the TTL.
   */
  create(key: string, value: string, opts?: { ttlSeconds?: number }): Promise<KeyValue>;
  /**
   * replaces the value if the key's modRevision equals expectedRevision
   * (RevisionMismatchError otherwise, KeyNotFoundError if absent)
   */
  update(key: string, value: string, expectedRevision: number): Promise<KeyValue>;
  /** deletes if modRevision matches (when given); returns the deleted KeyValue and the delete revision */
  delete(key: string, expectedRevision?: number): Promise<{ prev: KeyValue; revision: number }>;
  /**
   * events for keys under prefix with revision > afterRevision, in revision order: first the
   * history still held, then live events, with no gap and no duplicate. afterRevision below
   * compactedRevision() ends the watch with onError(CompactedError). Callbacks are never
   * called after stop() or close().
   */
  watch(prefix: string, afterRevision: number, callbacks: WatchCallbacks): WatchHandle;
  currentRevision(): Promise<number>;
  /**
   * C = oldest revision still readable/watchable minus one: list({revision}) works for
   * revision >= C and watch() for afterRevision >= C (events > C); below → CompactedError.
   */
  compactedRevision(): Promise<number>;
  /**
   * discard history at or below revision (older values and delete markers); the state at
   * `revision` itself stays readable and compactedRevision() becomes `revision`
   */
  compact(revision: number): Promise<void>;
  close(): Promise<void>;
}
