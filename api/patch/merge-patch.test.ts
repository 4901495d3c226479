import { describe, expect, it } from "vitest";
import { StatusError } from "../status.js";
import { applyMergePatch, createMergePatch } from "./merge-patch.js";

describe("applyMergePatch (RFC 7386)", () => {
  const original = () => ({
    metadata: { name: "cm", labels: { a: "1", b: "2" }, annotations: { x: "y" } },
    data: { k1: "v1", k2: "v2" },
    list: [1, 2, 3],
  });

  it("merges nested objects, deletes with null, replaces arrays", () => {
    const out = applyMergePatch(original(), {
      metadata: { labels: { b: null, c: "3" }, annotations: null },
      data: { k2: "changed", k3: { nested: true } },
      list: [9],
    });
    expect(out).toEqual({
      metadata: { name: "cm", labels: { a: "1", c: "3" } },
      data: { k1: "v1", k2: "changed", k3: { nested: true } },
      list: [9],
    });
  });

  it("drops nulls inside new objects and replaces scalars by objects", () => {
    const out = applyMergePatch({ a: "scalar" }, { a: { b: null, c: 1 }, d: { e: null } });
    expect(out).toEqual({ a: { c: 1 }, d: {} });
  });

  it("does not mutate its inputs", () => {
    const o = original();
    const p = { metadata: { labels: { a: null } } };
    const before = JSON.stringify(o);
    const out = applyMergePatch<ReturnType<typeof original>>(o, p);
    expect(JSON.stringify(o)).toBe(before);
    expect(p).toEqual({ metadata: { labels: { a: null } } });
    out.data.k1 = "mutated";
    expect(o.data.k1).toBe("v1");
  });

  it("rejects a patch that is not an object with 400", () => {
    for (const bad of [[1], "x", null, 3]) {
      try {
        applyMergePatch(original(), bad);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(StatusError);
        expect((e as StatusError).code).toBe(400);
      }
    }
  });

  it("kubectl scale's patch sets spec.replicas", () => {
    expect(applyMergePatch({ spec: { replicas: 1, selector: {} } }, { spec: { replicas: 4 } })).toEqual({
      spec: { replicas: 4, selector: {} },
    });
  });
});

describe("createMergePatch", () => {
  it("produces the minimal patch and round-trips", () => {
    const a = {
      metadata: { name: "x", labels: { a: "1", b: "2" } },
      spec: { list: [1, 2], keep: true, gone: 1 },
    };
    const b = {
      metadata: { name: "x", labels: { a: "1", c: "3" } },
      spec: { list: [2, 1], keep: true },
      extra: { z: 1 },
    };
    const patch = createMergePatch(a, b);
    expect(patch).toEqual({
      metadata: { labels: { b: null, c: "3" } },
      spec: { list: [2, 1], gone: null },
      extra: { z: 1 },
    });
    expect(applyMergePatch(a, patch)).toEqual(b);
  });

  it("is empty for equal documents", () => {
    expect(createMergePatch({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toEqual({});
  });
});
