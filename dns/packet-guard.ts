/**
 * Defensive DNS wire-format helpers shared by the server (parse/validate incoming queries, size
 * answers to what the client allows) and by the forwarder and cache (walk raw messages without
 * re-encoding them).
 *
 * Everything here is bounded: names are followed through at most MAX_POINTER_JUMPS compression
 * pointers, each of which must point strictly backwards, and a name may not exceed 255 octets,
 * so no input can make these functions loop; they never throw on malformed input.
 *
 * - `parseQuery(buf)`: validate and decode an incoming query. `{ ok: false, rcode: null }` means
 *   drop silently (too short to carry a header, or a response: answering responses would let
 *   two servers ping-pong); otherwise answer `rcode` with the query's `id`.
 * - `fitResponse(resp, maxSize)`: return `resp` unchanged if it fits, else a prefix of its
 *   records (cut at record boundaries, OPT kept when it fits) with TC set when answer or authority
 *   records were dropped. The result is never longer than `maxSize` (for maxSize >= 12).
 * - `maxResponseSize(query, proto)`: what the client allows: TCP 65535; UDP max(512, EDNS size).
 */
import * as dnsPacket from "dns-packet";

export const HEADER_SIZE = 12;
export const MAX_POINTER_JUMPS = 32;
export const TYPE_OPT = 41;
export const TYPE_SOA = 6;
export const TYPE_HINFO = 13;
export const TYPE_NS = 2;
export const CLASS_IN = 1;

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

const FLAG_QR = 0x8000;
const FLAG_TC = 0x0200;

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

export type ParseQueryResult =
  | { ok: true; packet: dnsPacket.DecodedPacket }
  | { ok: false; rcode: "FORMERR" | "NOTIMP" | null; id?: number };

/** the most additional records a query may carry (OPT, plus TSIG/SIG(0)) */
const MAX_QUERY_ADDITIONAL = 2;

/**
 * Validates an incoming query and decodes it with dns-packet. Never throws, never loops.
 *
 * - shorter than a header, or QR set (a response): `{ ok: false, rcode: null }` (drop silently)
 * - opcode other than QUERY (0): NOTIMP
 * - not exactly one question, answer or authority records present, more than two additional
 *   records, more than one OPT, an OPT not owned by the root, malformed framing: FORMERR
 */
export function parseQuery(buf: Buffer): ParseQueryResult {
  try {
    if (buf.length < HEADER_SIZE) return { ok: false, rcode: null };
    const id = buf.readUInt16BE(0);
    const flags = buf.readUInt16BE(2);
    if (flags & FLAG_QR) return { ok: false, rcode: null };
    const opcode = (flags >> 11) & 0xf;
    if (opcode !== 0) return { ok: false, rcode: "NOTIMP", id };
    const msg = scanMessage(buf);
    if (msg?.qdcount !== 1 || msg.ancount !== 0 || msg.nscount !== 0) {
      return { ok: false, rcode: "FORMERR", id };
    }
    if (msg.arcount > MAX_QUERY_ADDITIONAL) return { ok: false, rcode: "FORMERR", id };
    let opts = 0;
    for (const r of msg.records) {
      if (r.type !== TYPE_OPT) continue;
      opts++;
      if (buf[r.start] !== 0) return { ok: false, rcode: "FORMERR", id }; // OPT owner must be root
    }
    if (opts > 1) return { ok: false, rcode: "FORMERR", id };
    // the framing is sound; let dns-packet build the object the server works with
    const packet = dnsPacket.decode(buf);
    if (packet.questions?.length !== 1) return { ok: false, rcode: "FORMERR", id };
    return { ok: true, packet };
  } catch {
    return buf.length >= 2
      ? { ok: false, rcode: "FORMERR", id: buf.readUInt16BE(0) }
      : { ok: false, rcode: null };
  }
}

/**
 * The largest response the client accepts for `query` over `proto`: 65535 over TCP; over UDP the
 * EDNS(0) requester's payload size (at least 512, at most 65535), or 512 without EDNS.
 * `udpCap` lets the server cap it further (e.g. 1232, the DNS flag day 2020 default).
 */
export function maxResponseSize(query: Buffer, proto: "udp" | "tcp", udpCap = 65535): number {
  if (proto === "tcp") return 65535;
  const msg = scanMessage(query);
  let size = 512;
  if (msg) {
    for (const r of msg.records) {
      if (r.type === TYPE_OPT && r.section === "additional") size = Math.max(512, r.klass);
    }
  }
  return Math.min(size, Math.max(512, udpCap));
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
  const optIndex = msg.records.findIndex((r) => r.type === TYPE_OPT);
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

/**
 * A minimal response to `query` with `rcode`: the query's id, QR and RA set, RD copied, the
 * question echoed when it can be framed (else no question), no records.
 */
export function errorResponse(query: Buffer, rcode: number): Buffer {
  if (query.length < HEADER_SIZE) {
    const h = Buffer.alloc(HEADER_SIZE);
    if (query.length >= 2) query.copy(h, 0, 0, 2);
    h.writeUInt16BE(FLAG_QR | 0x0080 | (rcode & 0xf), 2);
    return h;
  }
  const msg = scanMessage(query);
  const qEnd = msg && msg.qdcount === 1 ? msg.questionEnd : HEADER_SIZE;
  const out = Buffer.alloc(qEnd);
  query.copy(out, 0, 0, qEnd);
  const qflags = query.readUInt16BE(2);
  // keep opcode and RD and CD; set QR and RA; rcode
  out.writeUInt16BE(FLAG_QR | (qflags & 0x7900) | 0x0080 | (qflags & 0x0010) | (rcode & 0xf), 2);
  out.writeUInt16BE(qEnd > HEADER_SIZE ? 1 : 0, 4);
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(0, 10);
  return out;
}
