/**
 * Field sets as structured-merge-diff (sigs.k8s.io/structured-merge-diff/fieldpath) keeps
 * them, and their FieldsV1 wire form.
 *
 * A path is a list of path elements, each written the FieldsV1 way:
 *   f:<name>          a field of an object / a key of a map
 *   k:<json object>   a list-map item, by its key fields (sorted by name, compact JSON)
 *   v:<json value>    a set item, by its value
 *   i:<index>         a positional list item (only for lists with no other identity)
 * A set is a trie of path elements; a node is a "member" when the path to it is itself in
 * the set. FieldsV1 writes a member leaf as `{}` and a member with children with an extra
 * `".": {}` entry.
 */
import { canonicalJson, isObject } from "./util.js";

export type PathElement = string;
export type FieldPath = PathElement[];

export function fieldElement(name: string): PathElement {
  return `f:${name}`;
}

export function keyElement(key: Record<string, unknown>): PathElement {
  return `k:${canonicalJson(key)}`;
}

export function valueElement(value: unknown): PathElement {
  return `v:${canonicalJson(value)}`;
}

export function indexElement(i: number): PathElement {
  return `i:${i}`;
}

export class FieldSet {
  member = false;
  readonly children = new Map<PathElement, FieldSet>();

  static fromPaths(paths: FieldPath[]): FieldSet {
    const s = new FieldSet();
    for (const p of paths) s.insert(p);
    return s;
  }

  child(pe: PathElement): FieldSet {
    let c = this.children.get(pe);
    if (!c) {
      c = new FieldSet();
      this.children.set(pe, c);
    }
    return c;
  }

  insert(path: FieldPath): void {
    let n: FieldSet = this;
    for (const pe of path) n = n.child(pe);
    n.member = true;
  }

  has(path: FieldPath): boolean {
    let n: FieldSet | undefined = this;
    for (const pe of path) {
      n = n.children.get(pe);
      if (!n) return false;
    }
    return n.member;
  }

  /** the subtree under `path` (empty set when absent) */
  at(path: FieldPath): FieldSet {
    let n: FieldSet | undefined = this;
    for (const pe of path) {
      n = n.children.get(pe);
      if (!n) return new FieldSet();
    }
    return n;
  }

  isEmpty(): boolean {
    if (this.member) return false;
    for (const c of this.children.values()) if (!c.isEmpty()) return false;
    return true;
  }

  clone(): FieldSet {
    const s = new FieldSet();
    s.member = this.member;
    for (const [pe, c] of this.children) s.children.set(pe, c.clone());
    return s;
  }

  union(other: FieldSet): FieldSet {
    const s = this.clone();
    s.member ||= other.member;
    for (const [pe, c] of other.children) {
      const mine = s.children.get(pe);
      s.children.set(pe, mine ? mine.union(c) : c.clone());
    }
    return s.prune();
  }

  intersection(other: FieldSet): FieldSet {
    const s = new FieldSet();
    s.member = this.member && other.member;
    for (const [pe, c] of this.children) {
      const o = other.children.get(pe);
      if (!o) continue;
      const i = c.intersection(o);
      if (!i.isEmpty()) s.children.set(pe, i);
    }
    return s;
  }

  /** members of this set that are not members of `other` (not recursive: a parent in `other` does not remove children) */
  difference(other: FieldSet): FieldSet {
    const s = new FieldSet();
    s.member = this.member && !other.member;
    for (const [pe, c] of this.children) {
      const o = other.children.get(pe);
      const d = o ? c.difference(o) : c.clone();
      if (!d.isEmpty()) s.children.set(pe, d);
    }
    return s;
  }

  /** removes every path at or below a member of `other` */
  recursiveDifference(other: FieldSet): FieldSet {
    if (other.member) return new FieldSet();
    const s = new FieldSet();
    s.member = this.member;
    for (const [pe, c] of this.children) {
      const o = other.children.get(pe);
      const d = o ? c.recursiveDifference(o) : c.clone();
      if (!d.isEmpty()) s.children.set(pe, d);
    }
    return s;
  }

  /** drops empty subtrees */
  prune(): FieldSet {
    for (const [pe, c] of this.children) {
      c.prune();
      if (c.isEmpty()) this.children.delete(pe);
    }
    return this;
  }

  equals(other: FieldSet): boolean {
    return canonicalJson(this.toFieldsV1()) === canonicalJson(other.toFieldsV1());
  }

  /** every member path, in FieldsV1 order */
  paths(): FieldPath[] {
    const out: FieldPath[] = [];
    const walk = (n: FieldSet, prefix: FieldPath) => {
      if (n.member) out.push(prefix);
      for (const pe of sortedElements(n.children.keys())) walk(n.children.get(pe)!, [...prefix, pe]);
    };
    walk(this, []);
    return out;
  }

  /** the FieldsV1 JSON object of this set */
  toFieldsV1(): Record<string, unknown> {
    return encode(this, false);
  }

  static fromFieldsV1(v: unknown): FieldSet {
    const s = new FieldSet();
    decodeInto(s, v, "");
    return s.prune();
  }
}

function encode(n: FieldSet, includeSelf: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const kids = sortedElements([...n.children.keys()].filter((pe) => !n.children.get(pe)!.isEmpty()));
  if (includeSelf && n.member && kids.length > 0) out["."] = {};
  for (const pe of kids) {
    const c = n.children.get(pe)!;
    out[pe] = encode(c, true);
  }
  return out;
}

function decodeInto(n: FieldSet, v: unknown, where: string): void {
  if (!isObject(v)) throw new Error(`FieldsV1 at ${where || "root"} is not an object`);
  for (const [k, sub] of Object.entries(v)) {
    if (k === ".") {
      n.member = true;
      continue;
    }
    const pe = normalizeElement(k);
    const c = n.child(pe);
    if (isObject(sub) && Object.keys(sub).length === 0) c.member = true;
    else decodeInto(c, sub, `${where}${k}`);
  }
}

/** canonical form of a serialized path element (JSON parts re-encoded with sorted keys) */
export function normalizeElement(s: string): PathElement {
  const colon = s.indexOf(":");
  const kind = s.slice(0, colon);
  const rest = s.slice(colon + 1);
  switch (kind) {
    case "f":
      return s;
    case "k": {
      const key = JSON.parse(rest) as unknown;
      if (!isObject(key)) throw new Error(`bad key path element ${s}`);
      return keyElement(key);
    }
    case "v":
      return valueElement(JSON.parse(rest));
    case "i": {
      const i = Number(rest);
      if (!Number.isInteger(i) || i < 0) throw new Error(`bad index path element ${s}`);
      return indexElement(i);
    }
    default:
      throw new Error(`unknown path element ${JSON.stringify(s)}`);
  }
}

const RANK: Record<string, number> = { f: 0, k: 1, v: 2, i: 3 };

function typeRank(v: unknown): number {
  if (typeof v === "number") return 0;
  if (typeof v === "string") return 1;
  if (typeof v === "boolean") return 2;
  if (Array.isArray(v)) return 3;
  if (isObject(v)) return 4;
  return 5;
}

function compareValues(a: unknown, b: unknown): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b);
  const sa = canonicalJson(a);
  const sb = canonicalJson(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** the order structured-merge-diff sorts path elements in: fields, then keys, values, indices */
export function comparePathElements(a: PathElement, b: PathElement): number {
  const ka = a.slice(0, 1);
  const kb = b.slice(0, 1);
  if (ka !== kb) return (RANK[ka] ?? 9) - (RANK[kb] ?? 9);
  const ra = a.slice(2);
  const rb = b.slice(2);
  switch (ka) {
    case "f":
      return ra < rb ? -1 : ra > rb ? 1 : 0;
    case "i":
      return Number(ra) - Number(rb);
    case "v":
      return compareValues(JSON.parse(ra), JSON.parse(rb));
    default: {
      const la = Object.entries(JSON.parse(ra) as Record<string, unknown>);
      const lb = Object.entries(JSON.parse(rb) as Record<string, unknown>);
      for (let i = 0; ; i++) {
        if (i >= la.length || i >= lb.length) return la.length - lb.length;
        const [na, va] = la[i]!;
        const [nb, vb] = lb[i]!;
        if (na !== nb) return na < nb ? -1 : 1;
        const c = compareValues(va, vb);
        if (c !== 0) return c;
      }
    }
  }
}

function sortedElements(pes: Iterable<PathElement>): PathElement[] {
  return [...pes].sort(comparePathElements);
}

function showValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean" || v === null) return String(v);
  return canonicalJson(v);
}

/** a path the way upstream prints it in conflicts: .spec.containers[name="nginx"].image */
export function formatPath(path: FieldPath): string {
  let out = "";
  for (const pe of path) {
    const rest = pe.slice(2);
    switch (pe[0]) {
      case "f":
        out += `.${rest}`;
        break;
      case "k": {
        const key = JSON.parse(rest) as Record<string, unknown>;
        out += `[${Object.entries(key)
          .map(([k, v]) => `${k}=${showValue(v)}`)
          .join(",")}]`;
        break;
      }
      case "v":
        out += `[=${showValue(JSON.parse(rest))}]`;
        break;
      default:
        out += `[${rest}]`;
    }
  }
  return out;
}
