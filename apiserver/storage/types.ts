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
  /** keys starting with prefix, in key order */
  list(prefix: string, opts?: ListOptions): Promise<ListResult>;
  count(prefix: string): Promise<number>;
  /** fails with KeyExistsError; returns the new KeyValue */
  create(key: string, value: string, opts?: { ttlSeconds?: number }): Promise<KeyValue>;
  /**
   * replaces the value if the key's modRevision equals expectedRevision
   * (RevisionMismatchError otherwise, KeyNotFoundError if absent)
   */
  update(key: string, value: string, expectedRevision: number): Promise<KeyValue>;
  /** deletes if modRevision matches (when given); returns the deleted KeyValue and the delete revision */
  delete(key: string, expectedRevision?: number): Promise<{ prev: KeyValue; revision: number }>;
  /** events for keys under prefix with revision > afterRevision, in revision order */
  watch(prefix: string, afterRevision: number, callbacks: WatchCallbacks): WatchHandle;
  currentRevision(): Promise<number>;
  /** oldest revision still readable/watchable minus one */
  compactedRevision(): Promise<number>;
  /** discard history at or below revision */
  compact(revision: number): Promise<void>;
  close(): Promise<void>;
}
