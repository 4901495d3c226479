/**
 * Small helpers shared by the storage backends: key-range arithmetic and watcher fan-out.
 */

/**
 * The smallest string greater than every string that starts with `prefix`, in UTF-8 byte
 * order (which both SQLite's BINARY collation and etcd use), or undefined for the empty prefix
 * (no upper bound). Incrementing the last code point keeps UTF-8 order for BMP characters;
 * a prefix ending in a surrogate or U+FFFF falls back to appending U+10FFFF.
 */
export function prefixEnd(prefix: string): string | undefined {
  if (prefix === "") return undefined;
  const last = prefix.charCodeAt(prefix.length - 1);
  if (last >= 0xd800 && last <= 0xdfff) return prefix + "\u{10FFFF}";
  if (last === 0xffff) return prefix + "\u{10FFFF}";
  return prefix.slice(0, -1) + String.fromCharCode(last + 1);
}

/** byte-wise prefix end for etcd ranges: increment the last byte below 0xff, drop the 0xff tail */
export function prefixEndBytes(prefix: Buffer): Buffer {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const b = prefix[i]!;
    if (b < 0xff) {
      const end = Buffer.from(prefix.subarray(0, i + 1));
      end[i] = b + 1;
      return end;
    }
  }
  // all 0xff (or empty): etcd's "\0" range_end means "to the end of the keyspace"
  return Buffer.from([0]);
}

export class StorageClosedError extends Error {
  constructor(name: string) {
    super(`${name} storage is closed`);
    this.name = "StorageClosedError";
  }
}
