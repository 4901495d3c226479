/**
 * Decoder for `application/vnd.kubernetes.protobuf` request bodies: the 4-byte magic
 * "k8s\0", then a runtime.Unknown envelope whose `raw` holds the object's protobuf
 * message. The result is the plain JSON object the same request would carry as JSON.
 * Message layouts come from the table in messages.ts; see docs/protobuf.md.
 */

import { type FieldSpec, KINDS, MESSAGES, UNWRAPPED } from "./messages.js";

export const PROTOBUF_CONTENT_TYPE = "application/vnd.kubernetes.protobuf";

/** the first four bytes of every Kubernetes protobuf body */
export const PROTOBUF_MAGIC: Readonly<Uint8Array> = Uint8Array.of(0x6b, 0x38, 0x73, 0x00);

/**
 * A body that cannot be decoded. `status` is 400 for malformed bytes and 415 for a
 * well-formed body whose kind or message type this server cannot decode.
 */
export class ProtobufDecodeError extends Error {
  readonly status: 400 | 415;
  constructor(message: string, status: 400 | 415 = 400) {
    super(message);
    this.name = "ProtobufDecodeError";
    this.status = status;
  }
}

/** kinds registered in every group version (meta/v1 types) */
const META_KINDS: Readonly<Record<string, string>> = {
  DeleteOptions: "meta.v1.DeleteOptions",
  Status: "meta.v1.Status",
};

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;
const MAX_DEPTH = 64;

/** the message key for an object's apiVersion and kind, or undefined */
export function protobufMessageFor(apiVersion: string, kind: string): string | undefined {
  return KINDS[`${apiVersion}/${kind}`] ?? META_KINDS[kind];
}

/** the proto full name of a message key, for messages */
export function protoFullName(key: string): string {
  const pkg = key.slice(0, key.indexOf("."));
  switch (pkg) {
    case "meta":
      return `k8s.io.apimachinery.pkg.apis.${key}`;
    case "resource":
      return `k8s.io.apimachinery.pkg.api.${key}`;
    case "intstr":
      return `k8s.io.apimachinery.pkg.util.${key}`;
    case "runtime":
      return `k8s.io.apimachinery.pkg.${key}`;
    case "apiregistration":
      return `k8s.io.kube_aggregator.pkg.apis.${key}`;
    default:
      return `k8s.io.api.${key}`;
  }
}

/** true when the body starts with the Kubernetes protobuf magic */
export function hasProtobufMagic(body: Uint8Array): boolean {
  return body.length >= 4 && PROTOBUF_MAGIC.every((b, i) => body[i] === b);
}

/** decodes a k8s protobuf envelope into { apiVersion, kind, ...json } */
export function decodeKubernetesProtobuf(body: Uint8Array): Record<string, unknown> {
  if (!hasProtobufMagic(body)) {
    throw new ProtobufDecodeError('protobuf body does not start with the "k8s\\0" magic prefix');
  }
  const r = new Reader(body, 4, body.length);
  let apiVersion = "";
  let kind = "";
  let raw: Uint8Array | undefined;
  let contentEncoding = "";
  while (r.pos < r.end) {
    const { no, wt } = r.tag();
    if (no === 1 && wt === WIRE_LEN) {
      const tm = r.sub();
      while (tm.pos < tm.end) {
        const t = tm.tag();
        if (t.no === 1 && t.wt === WIRE_LEN) apiVersion = tm.string();
        else if (t.no === 2 && t.wt === WIRE_LEN) kind = tm.string();
        else tm.skip(t.wt, t.no);
      }
    } else if (no === 2 && wt === WIRE_LEN) {
      raw = r.bytes();
    } else if (no === 3 && wt === WIRE_LEN) {
      contentEncoding = r.string();
    } else {
      r.skip(wt, no);
    }
  }
  if (!kind) throw new ProtobufDecodeError("protobuf envelope has no kind in its typeMeta");
  if (contentEncoding) {
    throw new ProtobufDecodeError(
      `protobuf envelope content encoding "${contentEncoding}" is not supported`,
      415,
    );
  }
  const key = protobufMessageFor(apiVersion, kind);
  if (!key) {
    throw new ProtobufDecodeError(
      `no protobuf decoding for kind "${kind}" in apiVersion "${apiVersion}"`,
      415,
    );
  }
  const bytes = raw ?? new Uint8Array(0);
  const object = decodeMessage(new Reader(bytes, 0, bytes.length), key, 0);
  return { apiVersion, kind, ...object };
}

/**
 * Decodes one message (no envelope) of the given table key into its JSON form.
 * Exported for tests and for callers that already know the message type.
 */
export function decodeProtobufMessage(key: string, bytes: Uint8Array): Record<string, unknown> {
  return decodeMessage(new Reader(bytes, 0, bytes.length), key, 0);
}

class Reader {
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {}

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtobufDecodeError("protobuf data truncated inside a varint");
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return BigInt.asUintN(64, result);
      shift += 7n;
    }
    throw new ProtobufDecodeError("protobuf varint longer than 10 bytes");
  }

  tag(): { no: number; wt: number } {
    const v = this.varint();
    if (v > 0xffffffffn) throw new ProtobufDecodeError("protobuf field tag out of range");
    const n = Number(v);
    const no = n >>> 3;
    if (no === 0) throw new ProtobufDecodeError("protobuf field number 0 is invalid");
    return { no, wt: n & 7 };
  }

  length(): number {
    const v = this.varint();
    if (v > BigInt(this.end - this.pos)) {
      throw new ProtobufDecodeError(
        `protobuf data truncated: length ${v} exceeds the ${this.end - this.pos} bytes left`,
      );
    }
    return Number(v);
  }

  bytes(): Uint8Array {
    const n = this.length();
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string(): string {
    return utf8.decode(this.bytes());
  }

  /** a reader over the next length-delimited value, advancing past it */
  sub(): Reader {
    const n = this.length();
    const r = new Reader(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }

  fixed(size: 4 | 8): DataView {
    if (this.end - this.pos < size)
      throw new ProtobufDecodeError("protobuf data truncated inside a fixed-width value");
    const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, size);
    this.pos += size;
    return view;
  }

  skip(wt: number, no: number): void {
    switch (wt) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_I64:
        this.fixed(8);
        return;
      case WIRE_LEN: {
        const n = this.length(); // read before touching pos: `pos += length()` would lose the advance
        this.pos += n;
        return;
      }
      case WIRE_I32:
        this.fixed(4);
        return;
      default:
        throw new ProtobufDecodeError(`protobuf field ${no} has unsupported wire type ${wt}`);
    }
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

const byNumberCache = new Map<string, Map<number, FieldSpec>>();

function fieldsOf(key: string): Map<number, FieldSpec> {
  let m = byNumberCache.get(key);
  if (m) return m;
  const spec = MESSAGES[key];
  if (!spec) {
    throw new ProtobufDecodeError(
      `protobuf message ${protoFullName(key)} is not supported by this server`,
      415,
    );
  }
  m = new Map(spec.map((f) => [f[0], f]));
  byNumberCache.set(key, m);
  return m;
}

const SCALAR_WIRE: Readonly<Record<string, number>> = {
  string: WIRE_LEN,
  bytes: WIRE_LEN,
  bool: WIRE_VARINT,
  int32: WIRE_VARINT,
  int64: WIRE_VARINT,
  uint32: WIRE_VARINT,
  uint64: WIRE_VARINT,
  sint32: WIRE_VARINT,
  sint64: WIRE_VARINT,
  double: WIRE_I64,
  fixed64: WIRE_I64,
  sfixed64: WIRE_I64,
  float: WIRE_I32,
  fixed32: WIRE_I32,
  sfixed32: WIRE_I32,
};

/** special messages whose JSON form is not an object of their fields */
const SPECIAL = new Set([
  "meta.v1.Time",
  "meta.v1.MicroTime",
  "meta.v1.Duration",
  "meta.v1.FieldsV1",
  "resource.Quantity",
  "intstr.IntOrString",
  "runtime.RawExtension",
]);

function decodeMessage(
  r: Reader,
  key: string,
  depth: number,
  target: Record<string, unknown> = {},
): Record<string, unknown> {
  if (depth > MAX_DEPTH) throw new ProtobufDecodeError(`protobuf message nesting deeper than ${MAX_DEPTH}`);
  const fields = fieldsOf(key);
  while (r.pos < r.end) {
    const { no, wt } = r.tag();
    const f = fields.get(no);
    if (!f) {
      r.skip(wt, no);
      continue;
    }
    decodeField(r, key, f, wt, target, depth);
  }
  return target;
}

function decodeField(
  r: Reader,
  owner: string,
  f: FieldSpec,
  wt: number,
  out: Record<string, unknown>,
  depth: number,
): void {
  const [, name, type, flags] = f;
  const where = () => `field ${name} (${f[0]}) of ${protoFullName(owner)}`;
  if (type.startsWith("map:")) {
    if (wt !== WIRE_LEN) throw new ProtobufDecodeError(`wire type ${wt} is invalid for map ${where()}`);
    const sep = type.indexOf(":", 4);
    const keyType = type.slice(4, sep);
    const valueType = type.slice(sep + 1);
    const entry = r.sub();
    let k: unknown;
    let v: unknown;
    while (entry.pos < entry.end) {
      const t = entry.tag();
      if (t.no === 1) k = readValue(entry, keyType, t.wt, where, depth);
      else if (t.no === 2) v = readValue(entry, valueType, t.wt, where, depth);
      else entry.skip(t.wt, t.no);
    }
    const existing = out[name];
    const map = isObject(existing) ? existing : {};
    out[name] = map;
    map[String(k ?? zeroValue(keyType))] = v === undefined ? zeroValue(valueType) : v;
    return;
  }
  const scalarWire = SCALAR_WIRE[type];
  if (flags === "r") {
    const existing = out[name];
    const list: unknown[] = Array.isArray(existing) ? existing : [];
    out[name] = list;
    if (scalarWire !== undefined && scalarWire !== WIRE_LEN && wt === WIRE_LEN) {
      const packed = r.sub();
      while (packed.pos < packed.end) list.push(readValue(packed, type, scalarWire, where, depth));
      return;
    }
    list.push(readValue(r, type, wt, where, depth));
    return;
  }
  if (scalarWire === undefined) {
    // a message
    if (wt !== WIRE_LEN) throw new ProtobufDecodeError(`wire type ${wt} is invalid for message ${where()}`);
    if (flags === "i") {
      decodeMessage(r.sub(), type, depth + 1, out);
      return;
    }
    if (SPECIAL.has(type) || UNWRAPPED.has(type)) {
      out[name] = readValue(r, type, wt, where, depth);
      return;
    }
    const prev = out[name];
    out[name] = decodeMessage(r.sub(), type, depth + 1, isObject(prev) ? prev : {});
    return;
  }
  const v = readValue(r, type, wt, where, depth);
  if (flags === "p" || flags === "z" || !isZero(v)) out[name] = v;
  else delete out[name];
}

function readValue(r: Reader, type: string, wt: number, where: () => string, depth: number): unknown {
  const expected = SCALAR_WIRE[type] ?? WIRE_LEN;
  if (wt !== expected) throw new ProtobufDecodeError(`wire type ${wt} is invalid for ${type} ${where()}`);
  switch (type) {
    case "string":
      return r.string();
    case "bytes":
      return Buffer.from(r.bytes()).toString("base64");
    case "bool":
      return r.varint() !== 0n;
    case "int32":
      return Number(BigInt.asIntN(32, r.varint()));
    case "int64":
      return Number(BigInt.asIntN(64, r.varint()));
    case "uint32":
      return Number(BigInt.asUintN(32, r.varint()));
    case "uint64":
      return Number(r.varint());
    case "sint32":
    case "sint64": {
      const u = r.varint();
      return Number((u >> 1n) ^ -(u & 1n));
    }
    case "double":
      return r.fixed(8).getFloat64(0, true);
    case "fixed64":
      return Number(r.fixed(8).getBigUint64(0, true));
    case "sfixed64":
      return Number(r.fixed(8).getBigInt64(0, true));
    case "float":
      return r.fixed(4).getFloat32(0, true);
    case "fixed32":
      return r.fixed(4).getUint32(0, true);
    case "sfixed32":
      return r.fixed(4).getInt32(0, true);
    case "meta.v1.Time":
      return formatTime(readTimestamp(r.sub()), false);
    case "meta.v1.MicroTime":
      return formatTime(readTimestamp(r.sub()), true);
    case "meta.v1.Duration": {
      const s = r.sub();
      let ns = 0n;
      while (s.pos < s.end) {
        const t = s.tag();
        if (t.no === 1 && t.wt === WIRE_VARINT) ns = BigInt.asIntN(64, s.varint());
        else s.skip(t.wt, t.no);
      }
      return formatDuration(ns);
    }
    case "meta.v1.FieldsV1":
    case "runtime.RawExtension": {
      const s = r.sub();
      let raw: Uint8Array | undefined;
      while (s.pos < s.end) {
        const t = s.tag();
        if (t.no === 1 && t.wt === WIRE_LEN) raw = s.bytes();
        else s.skip(t.wt, t.no);
      }
      return rawJson(raw, type, where);
    }
    case "resource.Quantity": {
      const s = r.sub();
      let q = "0";
      while (s.pos < s.end) {
        const t = s.tag();
        if (t.no === 1 && t.wt === WIRE_LEN) q = s.string();
        else s.skip(t.wt, t.no);
      }
      return q;
    }
    case "intstr.IntOrString": {
      const s = r.sub();
      let kind = 0n;
      let intVal = 0;
      let strVal = "";
      while (s.pos < s.end) {
        const t = s.tag();
        if (t.no === 1 && t.wt === WIRE_VARINT) kind = s.varint();
        else if (t.no === 2 && t.wt === WIRE_VARINT) intVal = Number(BigInt.asIntN(32, s.varint()));
        else if (t.no === 3 && t.wt === WIRE_LEN) strVal = s.string();
        else s.skip(t.wt, t.no);
      }
      return kind === 1n ? strVal : intVal;
    }
    default: {
      if (UNWRAPPED.has(type)) {
        const inner = decodeMessage(r.sub(), type, depth + 1);
        const values = Object.values(inner)[0];
        return Array.isArray(values) ? values : [];
      }
      return decodeMessage(r.sub(), type, depth + 1);
    }
  }
}

function zeroValue(type: string): unknown {
  switch (type) {
    case "string":
    case "bytes":
      return "";
    case "bool":
      return false;
    case "meta.v1.Time":
    case "meta.v1.MicroTime":
    case "meta.v1.FieldsV1":
    case "runtime.RawExtension":
      return null;
    case "meta.v1.Duration":
      return "0s";
    case "resource.Quantity":
      return "0";
    case "intstr.IntOrString":
      return 0;
    default:
      if (SCALAR_WIRE[type] !== undefined) return 0;
      if (UNWRAPPED.has(type)) return [];
      return {};
  }
}

function isZero(v: unknown): boolean {
  return v === "" || v === 0 || v === false;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** seconds and nanos of a meta.v1.Timestamp-shaped message, or undefined when empty (the zero time) */
function readTimestamp(s: Reader): { seconds: bigint; nanos: number } | undefined {
  if (s.pos === s.end) return undefined;
  let seconds = 0n;
  let nanos = 0;
  while (s.pos < s.end) {
    const t = s.tag();
    if (t.no === 1 && t.wt === WIRE_VARINT) seconds = BigInt.asIntN(64, s.varint());
    else if (t.no === 2 && t.wt === WIRE_VARINT) nanos = Number(BigInt.asIntN(32, s.varint()));
    else s.skip(t.wt, t.no);
  }
  return { seconds, nanos };
}

/** Go's zero time.Time (0001-01-01T00:00:00Z) as Unix seconds */
const GO_ZERO_TIME_UNIX = -62135596800n;
/** 9999-12-31T23:59:59Z: encoding/json refuses later times */
const MAX_JSON_TIME_UNIX = 253402300799n;

/** RFC 3339 in UTC like metav1.Time (seconds) or metav1.MicroTime (microseconds); null for the zero time */
export function formatTime(
  ts: { seconds: bigint; nanos: number } | undefined,
  micro: boolean,
): string | null {
  if (!ts) return null;
  let { seconds, nanos } = ts;
  if (!micro)
    nanos = 0; // metav1.Time keeps whole seconds only
  else if (nanos < 0 || nanos > 999_999_999) {
    seconds += BigInt(Math.floor(nanos / 1e9));
    nanos = ((nanos % 1e9) + 1e9) % 1e9;
  }
  if (seconds === GO_ZERO_TIME_UNIX && (!micro || nanos === 0)) return null;
  if (seconds < GO_ZERO_TIME_UNIX || seconds > MAX_JSON_TIME_UNIX) {
    throw new ProtobufDecodeError(`protobuf timestamp ${seconds}s is outside the years 1-9999`);
  }
  const iso = new Date(Number(seconds) * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  const base = iso.slice(0, 19);
  return micro ? `${base}.${String(Math.floor(nanos / 1000)).padStart(6, "0")}Z` : `${base}Z`;
}

/** Go's time.Duration.String() for a count of nanoseconds: "1h2m3.5s", "1.5ms", "0s" */
export function formatDuration(ns: bigint): string {
  if (ns === 0n) return "0s";
  const neg = ns < 0n;
  let u = neg ? -ns : ns;
  let out: string;
  if (u < 1_000_000_000n) {
    if (u < 1_000n) out = `${u}ns`;
    else if (u < 1_000_000n) out = `${fraction(u, 3)}µs`;
    else out = `${fraction(u, 6)}ms`;
  } else {
    const secs = fraction(u, 9, 60n);
    u /= 1_000_000_000n;
    u /= 60n;
    out = `${secs}s`;
    if (u > 0n) {
      out = `${u % 60n}m${out}`;
      u /= 60n;
      if (u > 0n) out = `${u}h${out}`;
    }
  }
  return neg ? `-${out}` : out;
}

/** v / 10^prec (modulo `mod` when given) followed by the non-zero fraction digits */
function fraction(v: bigint, prec: number, mod?: bigint): string {
  const scale = 10n ** BigInt(prec);
  let whole = v / scale;
  if (mod !== undefined) whole %= mod;
  const frac = (v % scale).toString().padStart(prec, "0").replace(/0+$/, "");
  return frac ? `${whole}.${frac}` : `${whole}`;
}

function rawJson(raw: Uint8Array | undefined, type: string, where: () => string): unknown {
  if (!raw || raw.length === 0) return null;
  if (type === "runtime.RawExtension" && hasProtobufMagic(raw)) return decodeKubernetesProtobuf(raw);
  try {
    return JSON.parse(utf8.decode(raw));
  } catch {
    throw new ProtobufDecodeError(`${where()} does not hold JSON`);
  }
}
