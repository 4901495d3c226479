/**
 * A tiny DNS server on 127.0.0.1 (UDP and TCP on one port) for the forwarder's tests and the DNS
 * benchmark: answers every query with whatever `handler` returns (null = no answer), counts the
 * queries it saw per transport.
 */
import dgram from "node:dgram";
import net from "node:net";
import * as dnsPacket from "dns-packet";

const RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

export type FakeHandler = (
  query: dnsPacket.DecodedPacket,
  proto: "udp" | "tcp",
) => dnsPacket.Packet | Buffer | null | Promise<dnsPacket.Packet | Buffer | null>;

export interface FakeUpstream {
  port: number;
  address: string;
  queries: { udp: number; tcp: number };
  names: string[];
  close(): Promise<void>;
}

/** a response packet for `q` with the given answers/authorities and rcode */
export function reply(
  q: dnsPacket.DecodedPacket,
  parts: {
    answers?: dnsPacket.Answer[];
    authorities?: dnsPacket.Answer[];
    rcode?: string;
    tc?: boolean;
  } = {},
): dnsPacket.Packet {
  let flags = dnsPacket.RECURSION_AVAILABLE | ((q.flags ?? 0) & dnsPacket.RECURSION_DESIRED);
  if (parts.tc) flags |= dnsPacket.TRUNCATED_RESPONSE;
  // dns-packet encodes the rcode only from the low bits of `flags`
  flags |= Math.max(0, RCODES.indexOf(parts.rcode ?? "NOERROR"));
  return {
    id: q.id,
    type: "response",
    flags,
    questions: q.questions,
    answers: parts.answers ?? [],
    authorities: parts.authorities ?? [],
  } as dnsPacket.Packet;
}

export async function startFakeUpstream(handler: FakeHandler, port = 0): Promise<FakeUpstream> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await listen(handler, port);
    } catch (err) {
      if (port !== 0 || attempt >= 20) throw err;
    }
  }
}

async function listen(handler: FakeHandler, wantPort: number): Promise<FakeUpstream> {
  const udp = dgram.createSocket("udp4");
  await new Promise<void>((res, rej) => {
    udp.once("error", rej);
    udp.bind(wantPort, "127.0.0.1", () => {
      udp.off("error", rej);
      res();
    });
  });
  const port = udp.address().port;
  const sockets = new Set<net.Socket>();
  const queries = { udp: 0, tcp: 0 };
  const names: string[] = [];
  const answer = async (raw: Buffer, proto: "udp" | "tcp"): Promise<Buffer | null> => {
    let q: dnsPacket.DecodedPacket;
    try {
      q = dnsPacket.decode(raw);
    } catch {
      return null;
    }
    queries[proto]++;
    names.push(q.questions?.[0]?.name ?? "");
    const r = await handler(q, proto);
    if (!r) return null;
    return Buffer.isBuffer(r) ? r : dnsPacket.encode(r);
  };
  udp.on("message", (msg, rinfo) => {
    void answer(msg, "udp").then((r) => {
      if (r) udp.send(r, rinfo.port, rinfo.address);
    });
  });
  const tcp = net.createServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => sock.destroy());
    let buf: Buffer = Buffer.alloc(0);
    sock.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        void answer(Buffer.from(msg), "tcp").then((r) => {
          if (!r || sock.destroyed) return;
          const len = Buffer.alloc(2);
          len.writeUInt16BE(r.length);
          sock.write(Buffer.concat([len, r]));
        });
      }
    });
  });
  try {
    await new Promise<void>((res, rej) => {
      tcp.once("error", rej);
      tcp.listen(port, "127.0.0.1", () => {
        tcp.off("error", rej);
        res();
      });
    });
  } catch (err) {
    udp.close();
    throw err;
  }
  return {
    port,
    address: `127.0.0.1:${port}`,
    queries,
    names,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => tcp.close(() => res()));
      await new Promise<void>((res) => udp.close(() => res()));
    },
  };
}

/** a decoded record with the fields tests look at (dns-packet's types omit ttl on OPT and rcode) */
export interface LooseRecord {
  type: string;
  name: string;
  ttl: number;
  class?: string;
  data?: unknown;
  flags?: number;
  udpPayloadSize?: number;
}

export interface LoosePacket {
  id: number;
  rcode: string;
  flag_tc: boolean;
  flag_aa: boolean;
  questions: { name: string; type: string; class: string }[];
  answers: LooseRecord[];
  authorities: LooseRecord[];
  additionals: LooseRecord[];
}

/** dns-packet's decode, typed for tests */
export function decodeLoose(buf: Buffer): LoosePacket {
  return dnsPacket.decode(buf) as unknown as LoosePacket;
}
