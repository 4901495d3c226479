import { describe, expect, it } from "vitest";
import {
  decodeWatchStream,
  parseWatchLine,
  WatchDecodeError,
  WatchDecoder,
  type WatchEvent,
} from "./watch.js";

const enc = new TextEncoder();

function line(type: string, object: unknown): string {
  return `${JSON.stringify({ type, object })}\n`;
}

const pod = (name: string, rv: string, extra: Record<string, unknown> = {}) => ({
  kind: "Pod",
  apiVersion: "v1",
  metadata: { name, namespace: "default", resourceVersion: rv },
  ...extra,
});

async function* chunks(parts: (Uint8Array | string)[]) {
  for (const p of parts) yield p;
}

async function collect(parts: (Uint8Array | string)[]): Promise<WatchEvent[]> {
  const out: WatchEvent[] = [];
  for await (const ev of decodeWatchStream(chunks(parts))) out.push(ev);
  return out;
}

describe("parseWatchLine", () => {
  it("parses each event type", () => {
    for (const t of ["ADDED", "MODIFIED", "DELETED", "BOOKMARK"]) {
      const ev = parseWatchLine(JSON.stringify({ type: t, object: pod("a", "7") }));
      expect(ev.type).toBe(t);
      expect(ev.object.metadata).toMatchObject({ name: "a", resourceVersion: "7" });
    }
  });

  it("ERROR carries the Status, 410 included", () => {
    const ev = parseWatchLine(
      JSON.stringify({
        type: "ERROR",
        object: {
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Failure",
          reason: "Expired",
          code: 410,
          message: "too old",
        },
      }),
    );
    expect(ev.type).toBe("ERROR");
    if (ev.type !== "ERROR") throw new Error("unreachable");
    expect(ev.object.code).toBe(410);
    expect(ev.object.reason).toBe("Expired");
  });

  it("ERROR with a non-Status object is wrapped into a Status", () => {
    const ev = parseWatchLine(JSON.stringify({ type: "ERROR", object: { message: "boom" } }));
    if (ev.type !== "ERROR") throw new Error("expected ERROR");
    expect(ev.object).toMatchObject({ kind: "Status", code: 500, message: "boom" });
  });

  it.each([
    ["not json", "{nope"],
    ["not an object", "[1,2]"],
    ["unknown type", JSON.stringify({ type: "CHANGED", object: pod("a", "1") })],
    ["missing type", JSON.stringify({ object: pod("a", "1") })],
    ["missing object", JSON.stringify({ type: "ADDED" })],
    ["object without metadata", JSON.stringify({ type: "ADDED", object: { kind: "Pod" } })],
  ])("rejects %s", (_why, text) => {
    expect(() => parseWatchLine(text)).toThrow(WatchDecodeError);
  });
});

describe("WatchDecoder", () => {
  it("decodes several events in one chunk", () => {
    const d = new WatchDecoder();
    const evs = d.push(
      enc.encode(
        line("ADDED", pod("a", "1")) + line("MODIFIED", pod("a", "2")) + line("DELETED", pod("a", "3")),
      ),
    );
    expect(evs.map((e) => [e.type, e.object.metadata?.resourceVersion])).toEqual([
      ["ADDED", "1"],
      ["MODIFIED", "2"],
      ["DELETED", "3"],
    ]);
    expect(d.end()).toEqual([]);
  });

  it("joins a line split across many chunks, at every possible byte boundary", () => {
    const text = line("ADDED", pod("a", "1")) + line("MODIFIED", pod("b", "2"));
    const bytes = enc.encode(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const d = new WatchDecoder();
      const evs = [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut)), ...d.end()];
      expect(evs.map((e) => e.object.metadata?.name)).toEqual(["a", "b"]);
    }
  });

  it("handles one byte per chunk", () => {
    const bytes = enc.encode(line("ADDED", pod("x", "9")));
    const d = new WatchDecoder();
    const evs: WatchEvent[] = [];
    for (const b of bytes) evs.push(...d.push(Uint8Array.of(b)));
    evs.push(...d.end());
    expect(evs).toHaveLength(1);
    expect(evs[0]!.object.metadata?.resourceVersion).toBe("9");
  });

  it("reassembles multi-byte UTF-8 characters split between chunks", () => {
    // 2-, 3- and 4-byte characters
    const label = "é€😀 ünïcödé";
    const bytes = enc.encode(line("ADDED", pod("u", "1", { data: { label } })));
    const start = bytes.indexOf(0xc3); // first byte of "é"
    const emoji = bytes.indexOf(0xf0); // first byte of the emoji
    for (const cut of [start + 1, emoji + 1, emoji + 2, emoji + 3]) {
      const d = new WatchDecoder();
      const evs = [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut)), ...d.end()];
      expect(evs).toHaveLength(1);
      expect((evs[0]!.object as unknown as { data: { label: string } }).data.label).toBe(label);
    }
  });

  it("skips blank lines and tolerates CRLF", () => {
    const d = new WatchDecoder();
    const evs = d.push(`\n\r\n${JSON.stringify({ type: "ADDED", object: pod("a", "1") })}\r\n\n`);
    expect(evs).toHaveLength(1);
  });

  it("accepts a final event without trailing newline", () => {
    const d = new WatchDecoder();
    expect(d.push(JSON.stringify({ type: "ADDED", object: pod("a", "1") }))).toEqual([]);
    expect(d.end()).toHaveLength(1);
  });

  it("throws when the stream ends mid-event", () => {
    const d = new WatchDecoder();
    d.push(line("ADDED", pod("a", "1")) + '{"type":"MODIFIED","obj');
    expect(() => d.end()).toThrow(/ended mid-event/);
  });

  it("on an invalid line returns the events before it, then throws on the next call", () => {
    const d = new WatchDecoder();
    const evs = d.push(`${line("ADDED", pod("a", "1"))}garbage\n${line("ADDED", pod("b", "2"))}`);
    expect(evs.map((e) => e.object.metadata?.name)).toEqual(["a"]);
    expect(() => d.push(line("ADDED", pod("c", "3")))).toThrow(WatchDecodeError);
    expect(() => d.end()).toThrow(WatchDecodeError);
  });

  it("throws at once when the first line of a chunk is invalid", () => {
    const d = new WatchDecoder();
    expect(() => d.push("garbage\n")).toThrow(/invalid JSON/);
  });

  it("throws on invalid UTF-8", () => {
    const d = new WatchDecoder();
    expect(() => d.push(Uint8Array.of(0x7b, 0xff, 0xfe, 0x0a))).toThrow(/UTF-8/);
  });

  it("throws when the stream ends inside a UTF-8 character", () => {
    const d = new WatchDecoder();
    d.push(enc.encode("€").subarray(0, 2));
    expect(() => d.end()).toThrow(WatchDecodeError);
  });
});

describe("decodeWatchStream", () => {
  it("yields typed events from an async byte stream", async () => {
    const text =
      line("ADDED", pod("a", "1")) +
      line("BOOKMARK", { kind: "Pod", apiVersion: "v1", metadata: { resourceVersion: "5" } });
    const bytes = enc.encode(text);
    const evs = await collect([bytes.subarray(0, 7), bytes.subarray(7, 50), bytes.subarray(50)]);
    expect(evs.map((e) => e.type)).toEqual(["ADDED", "BOOKMARK"]);
    expect(evs[1]!.object.metadata).toEqual({ resourceVersion: "5" });
  });

  it("yields events before the line that fails, then rejects", async () => {
    const seen: string[] = [];
    const run = async () => {
      const parts = [
        line("ADDED", pod("a", "1")),
        `${line("ADDED", pod("b", "2"))}not-json\n`,
        line("ADDED", pod("c", "3")),
      ];
      for await (const ev of decodeWatchStream(chunks(parts))) {
        seen.push(ev.object.metadata?.name ?? "");
      }
    };
    await expect(run()).rejects.toThrow(WatchDecodeError);
    expect(seen).toEqual(["a", "b"]);
  });
});
