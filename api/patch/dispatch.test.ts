import { describe, expect, it } from "vitest";
import { StatusError } from "../status.js";
import { parsePatchBody, patchObject, patchTypeOf } from "./dispatch.js";
import { podSchema } from "./test-schemas.js";

describe("patch dispatch", () => {
  it("maps content types, ignoring parameters; 415 otherwise", () => {
    expect(patchTypeOf("application/strategic-merge-patch+json; charset=utf-8")).toBe(
      "application/strategic-merge-patch+json",
    );
    expect(patchTypeOf("application/apply-patch+yaml")).toBe("application/apply-patch+yaml");
    try {
      patchTypeOf("application/json");
      expect.unreachable();
    } catch (e) {
      expect((e as StatusError).code).toBe(415);
    }
  });

  it("parses YAML apply bodies and JSON patch bodies; 400 on garbage", () => {
    expect(
      parsePatchBody("application/apply-patch+yaml", "apiVersion: v1\nkind: Pod\nspec:\n  hostname: h\n"),
    ).toEqual({
      apiVersion: "v1",
      kind: "Pod",
      spec: { hostname: "h" },
    });
    expect(() => parsePatchBody("application/merge-patch+json", "{nope")).toThrow(StatusError);
    expect(() => parsePatchBody("application/apply-patch+yaml", "a: 1\n---\nb: 2\n")).toThrow(StatusError);
  });

  it("routes to the right implementation", () => {
    const pod = {
      spec: {
        containers: [
          { name: "a", image: "1" },
          { name: "b", image: "1" },
        ],
      },
    };
    const patch = { spec: { containers: [{ name: "a", image: "2" }] } };
    expect(patchObject("application/merge-patch+json", pod, patch, podSchema)).toEqual(patch);
    expect(patchObject("application/strategic-merge-patch+json", pod, patch, podSchema)).toEqual({
      spec: {
        containers: [
          { name: "a", image: "2" },
          { name: "b", image: "1" },
        ],
      },
    });
    expect(
      patchObject(
        "application/json-patch+json",
        pod,
        [{ op: "replace", path: "/spec/containers/1/image", value: "3" }],
        podSchema,
      ),
    ).toEqual({
      spec: {
        containers: [
          { name: "a", image: "1" },
          { name: "b", image: "3" },
        ],
      },
    });
  });
});
