import { describe, expect, it } from "vitest";
import { StatusError } from "../status.js";
import { applyJsonPatch, MAX_JSON_PATCH_OPERATIONS } from "./json-patch.js";

const doc = () => ({
  metadata: { name: "web", labels: { app: "web" } },
  spec: { replicas: 2, containers: [{ name: "a", args: ["x"] }] },
});

function statusOf(fn: () => unknown): StatusError {
  try {
    fn();
  } catch (e) {
    if (e instanceof StatusError) return e;
    throw e;
  }
  throw new Error("expected a StatusError");
}

describe("applyJsonPatch", () => {
  it("applies add, remove, replace, move, copy and test in order", () => {
    const out = applyJsonPatch(doc(), [
      { op: "test", path: "/spec/replicas", value: 2 },
      { op: "replace", path: "/spec/replicas", value: 5 },
      { op: "add", path: "/metadata/labels/tier", value: "front" },
      { op: "add", path: "/spec/containers/-", value: { name: "b" } },
      { op: "add", path: "/spec/containers/0/args/0", value: "first" },
      { op: "copy", from: "/metadata/labels/app", path: "/metadata/labels/copied" },
      { op: "move", from: "/metadata/labels/tier", path: "/metadata/labels/moved" },
      { op: "remove", path: "/metadata/labels/app" },
    ]);
    expect(out).toEqual({
      metadata: { name: "web", labels: { copied: "web", moved: "front" } },
      spec: { replicas: 5, containers: [{ name: "a", args: ["first", "x"] }, { name: "b" }] },
    });
  });

  it("escapes ~1 and ~0 in pointers (annotation keys with slashes)", () => {
    const out = applyJsonPatch({ metadata: { annotations: {} } }, [
      { op: "add", path: "/metadata/annotations/example.com~1a~0b", value: "v" },
    ]);
    expect(out).toEqual({ metadata: { annotations: { "example.com/a~b": "v" } } });
  });

  it("never mutates the document or the patch, and shares no objects with them", () => {
    const d = doc();
    const value = { name: "c" };
    const patch = [{ op: "add", path: "/spec/containers/-", value }];
    const before = JSON.stringify(d);
    const out = applyJsonPatch(d, patch) as ReturnType<typeof doc>;
    expect(JSON.stringify(d)).toBe(before);
    expect(patch[0]!.value).toEqual({ name: "c" });
    (out.spec.containers[1] as { name: string }).name = "changed";
    expect(value.name).toBe("c");
  });

  it("a failed test operation is 422 Invalid naming the operation", () => {
    const err = statusOf(() =>
      applyJsonPatch(doc(), [
        { op: "replace", path: "/spec/replicas", value: 3 },
        { op: "test", path: "/spec/replicas", value: 7 },
      ]),
    );
    expect(err.code).toBe(422);
    expect(err.reason).toBe("Invalid");
    expect(err.message).toContain("the server rejected our request due to an error in our request");
    expect(err.message).toContain("operation 1 (test /spec/replicas)");
    expect(err.message).toContain("test failed");
  });

  it("a missing path is 422 naming the path", () => {
    const err = statusOf(() => applyJsonPatch(doc(), [{ op: "replace", path: "/spec/missing", value: 1 }]));
    expect(err.code).toBe(422);
    expect(err.message).toContain("operation 0 (replace /spec/missing)");
    expect(err.message).toContain("doc is missing path: /spec/missing");
    const err2 = statusOf(() => applyJsonPatch(doc(), [{ op: "add", path: "/nope/deeper", value: 1 }]));
    expect(err2.code).toBe(422);
    const err3 = statusOf(() => applyJsonPatch(doc(), [{ op: "remove", path: "/spec/containers/5" }]));
    expect(err3.code).toBe(422);
  });

  it("malformed patch documents are 400 BadRequest", () => {
    expect(statusOf(() => applyJsonPatch(doc(), { op: "add" })).code).toBe(400);
    expect(statusOf(() => applyJsonPatch(doc(), [{ op: "frobnicate", path: "/a" }])).code).toBe(400);
    expect(statusOf(() => applyJsonPatch(doc(), [{ op: "add", path: "/a" }])).message).toContain(
      'missing "value"',
    );
    expect(statusOf(() => applyJsonPatch(doc(), [{ op: "move", path: "/a" }])).message).toContain(
      'missing "from"',
    );
    expect(statusOf(() => applyJsonPatch(doc(), [{ op: "remove", path: "a" }])).code).toBe(400);
    expect(statusOf(() => applyJsonPatch(doc(), ["x"])).code).toBe(400);
  });

  it("more than the maximum number of operations is 413", () => {
    const ops = Array.from({ length: MAX_JSON_PATCH_OPERATIONS + 1 }, () => ({
      op: "test",
      path: "/spec/replicas",
      value: 2,
    }));
    const err = statusOf(() => applyJsonPatch(doc(), ops));
    expect(err.code).toBe(413);
    expect(err.reason).toBe("RequestEntityTooLarge");
  });

  it("an empty patch returns an equal copy", () => {
    const d = doc();
    const out = applyJsonPatch(d, []);
    expect(out).toEqual(d);
    expect(out).not.toBe(d);
  });
});
