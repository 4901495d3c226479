/**
 * A small protobuf ENCODER for tests only: builds Kubernetes protobuf bodies from JSON
 * objects using the same field table as the decoder, the way Go's generated marshalers
 * lay them out. The apiserver never encodes protobuf.
 */

import { KINDS, MESSAGES } from "./messages.js";

export class Writer {
  private chunks: number[] = [];

  varint(value: number | bigint): this {
    let v = BigInt.asUintN(64, BigInt(value));
    do {
      let b = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) b |= 0x80;
      this.chunks.push(b);
    } while (v > 0n);
    return this;
  }

  tag(no: number, wt: number): this {
    return this.varint((no << 3) | wt);
  }

  raw(bytes: Uint8Array | readonly number[]): this {
    for (const b of bytes) this.chunks.push(b);
    return this;
  }

  /** a length-delimited field */
  len(no: number, bytes: Uint8Array | readonly number[]): this {
    return this.tag(no, 2).varint(bytes.length).raw(bytes);
  }

  string(no: number, s: string): this {
    return this.len(no, new TextEncoder().encode(s));
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

export interface EncodeOptions {
  /** write repeated numbers unpacked (one tag per element) instead of packed */
  unpacked?: boolean;
}

const SCALARS = new Set(["string", "bytes", "bool", "int32", "int64", "uint32", "uint64"]);

/** encodes `{apiVersion, kind, ...}` as a full body: magic + runtime.Unknown envelope */
export function encodeKubernetesProtobuf(obj: Record<string, unknown>, opts: EncodeOptions = {}): Uint8Array {
  const apiVersion = String(obj.apiVersion ?? "");
  const kind = String(obj.kind ?? "");
  const key =
    KINDS[`${apiVersion}/${kind}`] ?? (kind === "DeleteOptions" ? "meta.v1.DeleteOptions" : undefined);
  if (!key) throw new Error(`test encoder: unknown kind ${apiVersion}/${kind}`);
  const { apiVersion: _a, kind: _k, ...rest } = obj;
  return envelope(apiVersion, kind, encodeMessage(key, rest, opts));
}

/** wraps already-encoded message bytes in the magic + runtime.Unknown envelope */
export function envelope(apiVersion: string, kind: string, raw: Uint8Array): Uint8Array {
  const typeMeta = new Writer().string(1, apiVersion).string(2, kind).finish();
  const unknown = new Writer().len(1, typeMeta).len(2, raw).string(3, "").string(4, "").finish();
  return Uint8Array.from([0x6b, 0x38, 0x73, 0x00, ...unknown]);
}

export function encodeMessage(
  key: string,
  json: Record<string, unknown>,
  opts: EncodeOptions = {},
): Uint8Array {
  const spec = MESSAGES[key];
  if (!spec) throw new Error(`test encoder: no message ${key}`);
  const w = new Writer();
  const used = new Set<string>();
  for (const [no, name, type, flags] of spec) {
    if (flags === "i") {
      const inner = MESSAGES[type]!;
      const sub: Record<string, unknown> = {};
      for (const f of inner) {
        if (f[1] in json) {
          sub[f[1]] = json[f[1]];
          used.add(f[1]);
        }
      }
      w.len(no, encodeMessage(type, sub, opts));
      continue;
    }
    if (!(name in json)) continue;
    used.add(name);
    const value = json[name];
    if (type.startsWith("map:")) {
      const [, kt, vt] = type.split(":") as [string, string, string];
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const entry = new Writer();
        writeValue(entry, 1, kt, k, opts);
        writeValue(entry, 2, vt, v, opts);
        w.len(no, entry.finish());
      }
    } else if (flags === "r") {
      const list = value as unknown[];
      if (!opts.unpacked && SCALARS.has(type) && type !== "string" && type !== "bytes") {
        const packed = new Writer();
        for (const v of list) writeScalarPayload(packed, type, v);
        w.len(no, packed.finish());
      } else {
        for (const v of list) writeValue(w, no, type, v, opts);
      }
    } else {
      writeValue(w, no, type, value, opts);
    }
  }
  for (const k of Object.keys(json)) {
    if (!used.has(k)) throw new Error(`test encoder: ${key} has no field ${k}`);
  }
  return w.finish();
}

function writeScalarPayload(w: Writer, type: string, v: unknown): void {
  if (type === "bool") w.varint(v ? 1 : 0);
  else w.varint(BigInt(v as number));
}

function writeValue(w: Writer, no: number, type: string, v: unknown, opts: EncodeOptions): void {
  switch (type) {
    case "string":
      w.string(no, String(v));
      return;
    case "bytes":
      w.len(no, Buffer.from(String(v), "base64"));
      return;
    case "bool":
    case "int32":
    case "int64":
    case "uint32":
    case "uint64":
      w.tag(no, 0);
      writeScalarPayload(w, type, v);
      return;
    case "meta.v1.Time":
    case "meta.v1.MicroTime": {
      if (v === null) {
        w.len(no, []);
        return;
      }
      const ms = Date.parse(String(v));
      const seconds = Math.floor(ms / 1000);
      const t = new Writer().tag(1, 0).varint(seconds);
      const micros = /\.(\d{6})Z$/.exec(String(v));
      if (micros) t.tag(2, 0).varint(Number(micros[1]) * 1000);
      w.len(no, t.finish());
      return;
    }
    case "meta.v1.Duration":
      w.len(
        no,
        new Writer()
          .tag(1, 0)
          .varint(parseGoDuration(String(v)))
          .finish(),
      );
      return;
    case "resource.Quantity":
      w.len(no, new Writer().string(1, String(v)).finish());
      return;
    case "intstr.IntOrString":
      w.len(
        no,
        typeof v === "number"
          ? new Writer().tag(1, 0).varint(0).tag(2, 0).varint(v).string(3, "").finish()
          : new Writer().tag(1, 0).varint(1).tag(2, 0).varint(0).string(3, String(v)).finish(),
      );
      return;
    case "meta.v1.FieldsV1":
    case "runtime.RawExtension":
      w.len(no, new Writer().len(1, new TextEncoder().encode(JSON.stringify(v))).finish());
      return;
    default:
      if (type === "authentication.v1.ExtraValue" || type === "authorization.v1.ExtraValue") {
        const inner = new Writer();
        for (const s of v as string[]) inner.string(1, s);
        w.len(no, inner.finish());
        return;
      }
      w.len(no, encodeMessage(type, v as Record<string, unknown>, opts));
  }
}

/** "1h2m3.5s" -> nanoseconds (units h, m, s, ms, us, µs, ns) */
export function parseGoDuration(s: string): bigint {
  const units: Record<string, number> = { h: 3600e9, m: 60e9, s: 1e9, ms: 1e6, us: 1e3, µs: 1e3, ns: 1 };
  let total = 0;
  const neg = s.startsWith("-");
  for (const m of (neg ? s.slice(1) : s).matchAll(/([\d.]+)(h|ms|m|s|us|µs|ns)/g)) {
    total += Number(m[1]) * units[m[2]!]!;
  }
  return BigInt(Math.round(neg ? -total : total));
}
