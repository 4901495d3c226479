import { describe, expect, it } from "vitest";
import type { ObjectNode } from "../api/schema-types.js";
import { pruneUnknownFields } from "./prune.js";

const schema: ObjectNode = {
  type: "object",
  fields: {
    metadata: {
      type: "object",
      fields: { name: { type: "string" }, labels: { type: "map", values: { type: "string" } } },
    },
    spec: {
      type: "object",
      fields: {
        containers: { type: "array", items: { type: "object", fields: { name: { type: "string" } } } },
        extra: { type: "any" },
      },
    },
  },
};

describe("pruneUnknownFields", () => {
  it("drops unknown fields at every depth and keeps map keys and free-form values", () => {
    const obj = {
      metadata: { name: "a", bogus: 1, labels: { anything: "goes" } },
      spec: { containers: [{ name: "c", image2: "x" }], extra: { free: { form: true } }, nope: true },
      top: 1,
    };
    pruneUnknownFields(obj, schema);
    expect(obj).toEqual({
      metadata: { name: "a", labels: { anything: "goes" } },
      spec: { containers: [{ name: "c" }], extra: { free: { form: true } } },
    });
  });
});
