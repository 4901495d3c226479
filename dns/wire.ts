/**
 * DNS wire format, the one module for it in dns/:
 *
 * - `parseQuery(buf)`: the strict parser for incoming queries (header, exactly one question,
 *   EDNS0 OPT). Never throws, never loops: question names may not hold compression pointers at
 *   all, record owner names are skipped without following theirs (a pointer must point strictly
 *   backwards), and every step moves forward through the buffer.
 * - `encodeResponse(spec, maxSize)`: the response writer, with name compression and truncation to
 *   a byte budget (TC set when answers or authority records were dropped). `errorResponse` and
 *   `encodeQuery` build on the same bytes.
 * - `responseLimit(proto, edns, maxUdpSize)`: the largest response a query may get.
 * - `readName`, `scanMessage`, `fitResponse`: walk and cut raw messages the server did not write
 *   (upstream answers in the forwarder and the cache) without re-encoding them. Names are followed
 *   through at most MAX_POINTER_JUMPS compression pointers, each strictly backwards, up to 255
 *   octets, so no input makes them loop; they never throw on malformed input.
 *
 * Record data is encoded with dns-packet's per-type encoders; owner names and the names inside
 * CNAME/PTR/NS/SOA data are written here so they can be compressed (RFC 1035 4.1.4; RFC 3597
 * forbids compressing names in other types' data, e.g. SRV targets).
 */
import { isIPv4, isIPv6 } from "node:net";
import dnsPacket from "dns-packet";

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  BADVERS: 16,
} as const;

export const RCODE_NAMES: Record<number, string> = {
  0: "NOERROR",
  1: "FORMERR",
  2: "SERVFAIL",
  3: "NXDOMAIN",
  4: "NOTIMP",
  5: "REFUSED",
  6: "YXDOMAIN",
  7: "YXRRSET",
  8: "NXRRSET",
  9: "NOTAUTH",
  10: "NOTZONE",
  16: "BADVERS",
};

/** "NOERROR", ... or the number for codes without a name here */
export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? String(rcode);
}

export const QTYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
} as const;

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(QTYPE).map(([k, v]) => [v, k]));

/** "A", "SRV", ... or "TYPE65280" for types without a name here */
export function typeName(t: number): string {
  return TYPE_NAMES[t] ?? `TYPE${t}`;
}

export const CLASS_IN = 1;
export const CLASS_ANY = 255;

export const HEADER_SIZE = 12;
/** the smallest UDP payload every client accepts (RFC 1035) and the TCP ceiling */
export const MIN_UDP_SIZE = 512;
export const MAX_TCP_SIZE = 65535;
/** readName follows at most this many compression pointers */
export const MAX_POINTER_JUMPS = 32;

const FLAG_QR = 0x8000;
const FLAG_TC = 0x0200;

export interface Edns {
  udpSize: number;
  version: number;
  /** DNSSEC OK; copied into the reply's OPT (RFC 3225) */
  dnssecOk: boolean;
}

export interface Query {
  id: number;
  opcode: number;
  rd: boolean;
  cd: boolean;
  /** the question name as sent (case kept), without the trailing dot; "." for the root */
  name: string;
  /** the labels as sent */
  labels: string[];
  /** every label is plain text (no dots, spaces, backslashes or control bytes) */
  plainName: boolean;
  qtype: number;
  qclass: number;
  /** the raw question (name + type + class), echoed in the response */
  question: Buffer;
  edns?: Edns;
}

export type ParseResult =
  | { kind: "query"; query: Query }
  /** answer with this rcode (and no question unless given) */
  | {
      kind: "error";
      rcode: number;
      id: number;
      opcode: number;
      rd: boolean;
      cd: boolean;
      question?: Buffer;
      edns?: Edns;
    }
  /** not worth an answer: too short for a header, or a response (QR set) */
  | { kind: "drop"; reason: string };

const PLAIN_LABEL = /^[A-Za-z0-9_*-]+$/;

class ParseError extends Error {}

/** reads a name without compression pointers (questions never need them) */
function readQuestionName(buf: Buffer, start: number): { labels: string[]; end: number } {
  const labels: string[] = [];
  let off = start;
  let total = 1;
  for (;;) {
    if (off >= buf.length) throw new ParseError("name runs past the end");
    const len = buf[off]!;
    if (len === 0) return { labels, end: off + 1 };
    if (len & 0xc0) throw new ParseError("pointer or extended label in the question");
    total += len + 1;
    if (total > 255) throw new ParseError("name longer than 255 bytes");
    if (off + 1 + len > buf.length) throw new ParseError("label runs past the end");
    labels.push(buf.toString("latin1", off + 1, off + 1 + len));
    off += 1 + len;
  }
}

/** skips a name that may end in a compression pointer; returns whether it was the root */
function skipName(buf: Buffer, start: number): { end: number; root: boolean } {
  let off = start;
  let first = true;
  for (;;) {
    if (off >= buf.length) throw new ParseError("name runs past the end");
    const len = buf[off]!;
    if (len === 0) return { end: off + 1, root: first };
    if ((len & 0xc0) === 0xc0) {
      if (off + 2 > buf.length) throw new ParseError("pointer runs past the end");
      const target = ((len & 0x3f) << 8) | buf[off + 1]!;
      if (target >= start) throw new ParseError("forward compression pointer");
      return { end: off + 2, root: false };
    }
    if (len & 0xc0) throw new ParseError("extended label type");
    off += 1 + len;
    first = false;
  }
}

/**
 * Parses a query. Never throws, never loops (the work is bounded by the buffer length).
 *
 * - shorter than a header, or QR set (answering responses would let two servers ping-pong):
 *   drop silently
 * - opcode other than QUERY (0): NOTIMP
 * - not exactly one question, more than one answer or authority record, more than two additional
 *   records (CoreDNS's accept rules, miekg/dns DefaultMsgAcceptFunc), a malformed question or
 *   record framing, a misplaced, non-root or second OPT: FORMERR
 * - EDNS version other than 0: BADVERS
 */
export function parseQuery(buf: Buffer): ParseResult {
  if (buf.length < HEADER_SIZE) return { kind: "drop", reason: "shorter than a header" };
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  if (flags & FLAG_QR) return { kind: "drop", reason: "a response, not a query" };
  const opcode = (flags >> 11) & 0xf;
  const rd = (flags & 0x0100) !== 0;
  const cd = (flags & 0x0010) !== 0;
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  const ns = buf.readUInt16BE(8);
  const ar = buf.readUInt16BE(10);
  if (opcode !== 0) return { kind: "error", rcode: RCODE.NOTIMP, id, opcode, rd, cd };
  if (qd !== 1 || an > 1 || ns > 1 || ar > 2)
    return { kind: "error", rcode: RCODE.FORMERR, id, opcode, rd, cd };
  let labels: string[];
  let off: number;
  try {
    const n = readQuestionName(buf, HEADER_SIZE);
    labels = n.labels;
    off = n.end;
    if (off + 4 > buf.length) throw new ParseError("question runs past the end");
  } catch {
    return { kind: "error", rcode: RCODE.FORMERR, id, opcode, rd, cd };
  }
  const qtype = buf.readUInt16BE(off);
  const qclass = buf.readUInt16BE(off + 2);
  off += 4;
  const question = Buffer.from(buf.subarray(HEADER_SIZE, off));
  let edns: Edns | undefined;
  try {
    for (let i = 0; i < an + ns + ar; i++) {
      const { end, root } = skipName(buf, off);
      if (end + 10 > buf.length) throw new ParseError("record header runs past the end");
      const type = buf.readUInt16BE(end);
      const rdlen = buf.readUInt16BE(end + 8);
      if (end + 10 + rdlen > buf.length) throw new ParseError("record data runs past the end");
      if (type === QTYPE.OPT) {
        if (i < an + ns || !root || edns) throw new ParseError("misplaced, non-root or second OPT");
        edns = {
          udpSize: buf.readUInt16BE(end + 2),
          version: buf[end + 5]!,
          dnssecOk: (buf.readUInt16BE(end + 6) & 0x8000) !== 0,
        };
      }
      off = end + 10 + rdlen;
    }
  } catch {
    return { kind: "error", rcode: RCODE.FORMERR, id, opcode, rd, cd, question };
  }
  if (edns && edns.version !== 0)
    return { kind: "error", rcode: RCODE.BADVERS, id, opcode, rd, cd, question, edns };
  const plainName = labels.every((l) => PLAIN_LABEL.test(l));
  return {
    kind: "query",
    query: {
      id,
      opcode,
      rd,
      cd,
      name: labels.length ? labels.join(".") : ".",
      labels,
      plainName,
      qtype,
      qclass,
      question,
      edns,
    },
  };
}

// ------------------------------------------------------------------ writing

/** a resource record in dns-packet's shape (type as a name, data per type) */
export interface RR {
  name: string;
  type: string;
  ttl: number;
  class?: string;
  // biome-ignore lint/suspicious/noExplicitAny: record data is per-type (dns-packet's shapes)
  data: any;
}

export interface ResponseSpec {
  id: number;
  opcode?: number;
  rd?: boolean;
  cd?: boolean;
  aa?: boolean;
  ra?: boolean;
  /** 0..4095; values above 15 need an OPT (extended rcode) */
  rcode: number;
  /** raw question bytes to echo (from the query) */
  question?: Buffer;
  /** the question's name, registered for compression when it is plain text */
  questionName?: string;
  answers?: RR[];
  authorities?: RR[];
  additionals?: RR[];
  /** add an OPT record advertising this payload size */
  edns?: { udpSize: number; dnssecOk?: boolean };
}

interface RdataCodec {
  encode: ((data: unknown, buf: Buffer, offset: number) => Buffer) & { bytes: number };
}
const recordCodec = (dnsPacket as unknown as { record(type: string): RdataCodec }).record;

const CLASS_CODES: Record<string, number> = { IN: 1, CS: 2, CH: 3, HS: 4, ANY: 255 };

const MORE_TYPES: Record<string, number> = {
  RP: 17,
  AFSDB: 18,
  KEY: 25,
  NAPTR: 35,
  DNAME: 39,
  DS: 43,
  SSHFP: 44,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  NSEC3: 50,
  NSEC3PARAM: 51,
  TLSA: 52,
  SVCB: 64,
  HTTPS: 65,
  CAA: 257,
};

function typeCode(type: string): number {
  const known = (QTYPE as Record<string, number>)[type] ?? MORE_TYPES[type];
  if (known !== undefined) return known;
  const m = /^(?:TYPE|UNKNOWN_)(\d+)$/.exec(type);
  if (m) return Number(m[1]);
  throw new Error(`unknown record type ${type}`);
}

/** scratch space: one response at a time (synchronous), never more than 64 KiB plus one record */
const SCRATCH = Buffer.alloc(2 * 65536 + 1024);

class Writer {
  off = 12;
  private readonly names = new Map<string, number>();
  constructor(private readonly buf: Buffer) {}

  u16(v: number) {
    this.buf.writeUInt16BE(v & 0xffff, this.off);
    this.off += 2;
  }
  u32(v: number) {
    this.buf.writeUInt32BE(v >>> 0, this.off);
    this.off += 4;
  }

  /** writes a name, compressing against names written before; returns the keys it registered */
  name(name: string, compress: boolean, added: string[]) {
    const labels = name === "." || name === "" ? [] : name.replace(/\.$/, "").split(".");
    for (let i = 0; i < labels.length; i++) {
      const key = labels.slice(i).join(".");
      if (compress) {
        const at = this.names.get(key);
        if (at !== undefined) {
          this.u16(0xc000 | at);
          return;
        }
      }
      if (this.off < 0x3fff && !this.names.has(key)) {
        this.names.set(key, this.off);
        added.push(key);
      }
      const bytes = Buffer.from(labels[i]!, "latin1");
      if (bytes.length === 0 || bytes.length > 63) throw new Error(`bad label in "${name}"`);
      this.buf[this.off++] = bytes.length;
      bytes.copy(this.buf, this.off);
      this.off += bytes.length;
    }
    this.buf[this.off++] = 0;
  }

  registerQuestion(name: string) {
    const labels = name === "." ? [] : name.split(".");
    let at = 12;
    for (let i = 0; i < labels.length; i++) {
      this.names.set(labels.slice(i).join("."), at);
      at += 1 + Buffer.byteLength(labels[i]!, "latin1");
    }
  }

  /** writes one record if it fits under limit; rolls back otherwise ("bad": cannot be encoded) */
  record(rr: RR, limit: number): "ok" | "toobig" | "bad" {
    const start = this.off;
    const added: string[] = [];
    try {
      this.name(rr.name, true, added);
      this.u16(typeCode(rr.type));
      this.u16(CLASS_CODES[rr.class ?? "IN"] ?? 1);
      this.u32(rr.ttl);
      const lenAt = this.off;
      switch (rr.type) {
        case "CNAME":
        case "PTR":
        case "NS":
          this.u16(0);
          this.name(String(rr.data), true, added);
          this.buf.writeUInt16BE(this.off - lenAt - 2, lenAt);
          break;
        case "SOA": {
          const d = rr.data as {
            mname: string;
            rname: string;
            serial?: number;
            refresh?: number;
            retry?: number;
            expire?: number;
            minimum?: number;
          };
          this.u16(0);
          this.name(d.mname, true, added);
          this.name(d.rname, true, added);
          this.u32(d.serial ?? 0);
          this.u32(d.refresh ?? 0);
          this.u32(d.retry ?? 0);
          this.u32(d.expire ?? 0);
          this.u32(d.minimum ?? 0);
          this.buf.writeUInt16BE(this.off - lenAt - 2, lenAt);
          break;
        }
        default: {
          if ((rr.type === "A" && !isIPv4(rr.data)) || (rr.type === "AAAA" && !isIPv6(rr.data)))
            throw new Error("bad address");
          const codec = recordCodec(rr.type);
          codec.encode(rr.data, this.buf, this.off);
          this.off += codec.encode.bytes;
        }
      }
    } catch {
      this.rollback(start, added);
      return "bad";
    }
    if (this.off > limit) {
      this.rollback(start, added);
      return "toobig";
    }
    return "ok";
  }

  private rollback(to: number, added: string[]) {
    this.off = to;
    for (const k of added) this.names.delete(k);
  }

  raw(b: Buffer) {
    b.copy(this.buf, this.off);
    this.off += b.length;
  }
}

const OPT_SIZE = 11;

/**
 * Encodes a response into at most maxSize bytes. Answer and authority records that do not fit
 * are dropped with TC set; additional records that do not fit are dropped without TC
 * (RFC 2181 9). The OPT record always fits (its room is reserved first).
 */
export function encodeResponse(spec: ResponseSpec, maxSize: number): { buf: Buffer; truncated: boolean } {
  const w = new Writer(SCRATCH);
  const max = Math.min(maxSize, MAX_TCP_SIZE);
  const limit = max - (spec.edns ? OPT_SIZE : 0);
  let qd = 0;
  if (spec.question && 12 + spec.question.length <= limit) {
    w.raw(spec.question);
    qd = 1;
    if (
      spec.questionName &&
      spec.questionName !== "." &&
      PLAIN_LABEL.test(spec.questionName.replace(/\./g, ""))
    ) {
      w.registerQuestion(spec.questionName);
    }
  }
  let truncated = false;
  const counts = [0, 0, 0];
  const sections = [spec.answers ?? [], spec.authorities ?? [], spec.additionals ?? []];
  fill: for (let s = 0; s < 3; s++) {
    for (const rr of sections[s]!) {
      const r = w.record(rr, limit);
      if (r === "ok") counts[s]!++;
      else if (r === "toobig") {
        // answers and authority cut short: TC; additional data cut short: no TC (RFC 2181 9)
        if (s < 2) truncated = true;
        break fill;
      }
      // "bad" (e.g. an invalid address): skipped
    }
  }
  let ar = counts[2]!;
  const rcode = spec.rcode & 0xfff;
  if (spec.edns) {
    w.name(".", false, []);
    w.u16(QTYPE.OPT);
    w.u16(spec.edns.udpSize);
    SCRATCH[w.off++] = rcode >> 4;
    SCRATCH[w.off++] = 0;
    w.u16(spec.edns.dnssecOk ? 0x8000 : 0);
    w.u16(0);
    ar++;
  }
  const flags =
    FLAG_QR |
    ((spec.opcode ?? 0) << 11) |
    (spec.aa ? 0x0400 : 0) |
    (truncated ? FLAG_TC : 0) |
    (spec.rd ? 0x0100 : 0) |
    (spec.ra === false ? 0 : 0x0080) |
    (spec.cd ? 0x0010 : 0) |
    (rcode & 0xf);
  SCRATCH.writeUInt16BE(spec.id & 0xffff, 0);
  SCRATCH.writeUInt16BE(flags, 2);
  SCRATCH.writeUInt16BE(qd, 4);
  SCRATCH.writeUInt16BE(counts[0]!, 6);
  SCRATCH.writeUInt16BE(counts[1]!, 8);
  SCRATCH.writeUInt16BE(ar, 10);
  return { buf: Buffer.from(SCRATCH.subarray(0, w.off)), truncated };
}

/** the largest response a query may get on this transport */
export function responseLimit(proto: "udp" | "tcp", edns: Edns | undefined, maxUdpSize: number): number {
  if (proto === "tcp") return MAX_TCP_SIZE;
  if (!edns) return MIN_UDP_SIZE;
  return Math.max(MIN_UDP_SIZE, Math.min(edns.udpSize, maxUdpSize));
}

/**
 * A query for (name, qtype) with one question, e.g. to resolve an ExternalName target upstream or
 * to probe an upstream; RD set unless `rd` is false. "" or "." is the root.
 */
export function encodeQuery(name: string, qtype: number, id: number, rd = true): Buffer {
  const labels = name.replace(/\.$/, "").split(".").filter(Boolean);
  const parts: Buffer[] = [
    Buffer.from([(id >> 8) & 0xff, id & 0xff, rd ? 0x01 : 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
  ];
  for (const l of labels) {
    const b = Buffer.from(l, "latin1");
    if (b.length === 0 || b.length > 63) throw new Error(`bad label in "${name}"`);
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0, qtype >> 8, qtype & 0xff, 0, CLASS_IN]));
  return Buffer.concat(parts);
}

/**
 * A response to a raw query with `rcode` and no records: the query's id, opcode, RD and CD, RA
 * set, the question echoed when it parses; just the header (id kept) when not even that does.
 */
export function errorResponse(query: Buffer, rcode: number): Buffer {
  const p = parseQuery(query);
  if (p.kind === "query") {
    const q = p.query;
    return encodeResponse({ id: q.id, rd: q.rd, cd: q.cd, rcode, question: q.question }, MIN_UDP_SIZE).buf;
  }
  if (p.kind === "error") {
    return encodeResponse(
      { id: p.id, opcode: p.opcode, rd: p.rd, cd: p.cd, rcode, question: p.question },
      MIN_UDP_SIZE,
    ).buf;
  }
  return encodeResponse({ id: query.length >= 2 ? query.readUInt16BE(0) : 0, rcode }, HEADER_SIZE).buf;
}

/** the rcode (with the extended bits when an OPT carries them) of a raw response */
export function responseRcode(buf: Buffer): number | undefined {
  if (buf.length < 12) return undefined;
  return buf[3]! & 0xf;
}

// ------------------------------------------------------------------ raw messages

export interface WireName {
  /** lower-case presentation form without the trailing dot; "" for the root */
  name: string;
  /** offset just past the name at its original position (not after a pointer target) */
  next: number;
}

/**
 * Reads a (possibly compressed) name at `off`. Returns undefined when malformed: out of bounds,
 * a pointer that does not point strictly backwards, too many jumps, a reserved label type, or
 * more than 255 octets.
 */
export function readName(buf: Buffer, off: number): WireName | undefined {
  const labels: string[] = [];
  let pos = off;
  let next = -1;
  let jumps = 0;
  let total = 1; // the final root octet
  // the lowest offset we've been at: every pointer must go strictly below it
  let floor = off;
  for (;;) {
    if (pos >= buf.length) return undefined;
    const len = buf[pos]!;
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= buf.length) return undefined;
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (next < 0) next = pos + 2;
      if (target >= floor || ++jumps > MAX_POINTER_JUMPS) return undefined;
      floor = target;
      pos = target;
      continue;
    }
    if (kind !== 0) return undefined;
    total += len + 1;
    if (total > 255 || pos + 1 + len > buf.length) return undefined;
    labels.push(buf.toString("latin1", pos + 1, pos + 1 + len).toLowerCase());
    pos += 1 + len;
  }
  return { name: labels.join("."), next };
}

export interface WireRecord {
  /** offset of the record's owner name */
  start: number;
  /** offset just past the record */
  end: number;
  type: number;
  klass: number;
  ttl: number;
  /** offset of the 32-bit TTL field */
  ttlOffset: number;
  rdataOffset: number;
  rdlength: number;
  section: "answer" | "authority" | "additional";
}

export interface WireMessage {
  id: number;
  flags: number;
  qr: boolean;
  opcode: number;
  tc: boolean;
  rcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
  /** questions (names lower-cased) */
  questions: { name: string; type: number; klass: number }[];
  /** offset just past the question section */
  questionEnd: number;
  records: WireRecord[];
  /** offset just past the last record: trailing bytes after it are ignored */
  end: number;
}

/**
 * Walks a whole message: header, questions, and every record's framing (owner name, type, class,
 * TTL, rdata bounds). Rdata contents are not interpreted. Returns undefined if anything is out of
 * bounds. The work is bounded by the buffer length: each record consumes at least 11 bytes, so
 * huge counts in a short packet fail fast.
 */
export function scanMessage(buf: Buffer): WireMessage | undefined {
  if (buf.length < HEADER_SIZE) return undefined;
  const flags = buf.readUInt16BE(2);
  const qdcount = buf.readUInt16BE(4);
  const ancount = buf.readUInt16BE(6);
  const nscount = buf.readUInt16BE(8);
  const arcount = buf.readUInt16BE(10);
  // every question takes >= 5 bytes, every record >= 11: reject impossible counts before looping
  if (HEADER_SIZE + qdcount * 5 + (ancount + nscount + arcount) * 11 > buf.length) return undefined;
  let off = HEADER_SIZE;
  const questions: WireMessage["questions"] = [];
  for (let i = 0; i < qdcount; i++) {
    const n = readName(buf, off);
    if (!n || n.next + 4 > buf.length) return undefined;
    questions.push({ name: n.name, type: buf.readUInt16BE(n.next), klass: buf.readUInt16BE(n.next + 2) });
    off = n.next + 4;
  }
  const questionEnd = off;
  const records: WireRecord[] = [];
  const sections: [number, WireRecord["section"]][] = [
    [ancount, "answer"],
    [nscount, "authority"],
    [arcount, "additional"],
  ];
  for (const [count, section] of sections) {
    for (let i = 0; i < count; i++) {
      const n = readName(buf, off);
      if (!n || n.next + 10 > buf.length) return undefined;
      const p = n.next;
      const rdlength = buf.readUInt16BE(p + 8);
      const end = p + 10 + rdlength;
      if (end > buf.length) return undefined;
      records.push({
        start: off,
        end,
        type: buf.readUInt16BE(p),
        klass: buf.readUInt16BE(p + 2),
        ttl: buf.readUInt32BE(p + 4),
        ttlOffset: p + 4,
        rdataOffset: p + 10,
        rdlength,
        section,
      });
      off = end;
    }
  }
  return {
    id: buf.readUInt16BE(0),
    flags,
    qr: (flags & FLAG_QR) !== 0,
    opcode: (flags >> 11) & 0xf,
    tc: (flags & FLAG_TC) !== 0,
    rcode: flags & 0xf,
    qdcount,
    ancount,
    nscount,
    arcount,
    questions,
    questionEnd,
    records,
    end: off,
  };
}

/**
 * Returns `resp` if it is at most `maxSize` bytes; otherwise the longest prefix of its records
 * (header + question + whole records, in wire order, stopping at the OPT record) that fits, with
 * the OPT record re-appended when it fits and the counts rewritten. TC is set when an answer or
 * authority record had to be dropped (RFC 2181 §9: dropping additional data alone does not set
 * TC). Compression pointers only point backwards, so a prefix stays valid. If `resp` cannot be
 * parsed, or not even the question fits, the result is the 12-byte header with TC set and all
 * counts zero. For maxSize >= 12 the result is never longer than maxSize.
 */
export function fitResponse(resp: Buffer, maxSize: number): Buffer {
  if (resp.length <= maxSize) return resp;
  const headerOnly = (): Buffer => {
    const h = Buffer.alloc(HEADER_SIZE);
    if (resp.length >= 4) resp.copy(h, 0, 0, 4);
    h.writeUInt16BE(h.readUInt16BE(2) | FLAG_TC | FLAG_QR, 2);
    return h;
  };
  const msg = scanMessage(resp);
  if (!msg || msg.questionEnd > maxSize) return headerOnly();
  const optIndex = msg.records.findIndex((r) => r.type === QTYPE.OPT);
  const opt = optIndex >= 0 ? msg.records[optIndex]! : undefined;
  const optLen = opt ? opt.end - opt.start : 0;
  // records before the OPT (or all of them) are candidates, in wire order
  const candidates = optIndex >= 0 ? msg.records.slice(0, optIndex) : msg.records;
  const budget = opt && msg.questionEnd + optLen <= maxSize ? maxSize - optLen : maxSize;
  const keepOpt = opt !== undefined && budget !== maxSize;
  let kept = 0;
  let end = msg.questionEnd;
  while (kept < candidates.length && candidates[kept]!.end <= budget) {
    end = candidates[kept]!.end;
    kept++;
  }
  const counts = { answer: 0, authority: 0, additional: 0 };
  for (let i = 0; i < kept; i++) counts[candidates[i]!.section]++;
  const droppedRequired = counts.answer < msg.ancount || counts.authority < msg.nscount;
  const out = Buffer.alloc(end + (keepOpt ? optLen : 0));
  resp.copy(out, 0, 0, end);
  if (keepOpt) {
    resp.copy(out, end, opt!.start, opt!.end);
    counts.additional++;
  }
  let flags = out.readUInt16BE(2);
  if (droppedRequired) flags |= FLAG_TC;
  out.writeUInt16BE(flags, 2);
  out.writeUInt16BE(counts.answer, 6);
  out.writeUInt16BE(counts.authority, 8);
  out.writeUInt16BE(counts.additional, 10);
  return out;
}
