import { describe, expect, it } from "vitest";
import { FieldSet, fieldElement as f, formatPath, keyElement as k, valueElement as v } from "./fieldset.js";
import { deploymentSchema, podSchema } from "./test-schemas.js";
import { compareObjects, ensureNamedFieldsAreMembers, mergeApplied, toFieldSet } from "./typed.js";

describe("FieldSet and FieldsV1", () => {
  it("encodes members, children and '.' the FieldsV1 way, in upstream order", () => {
    const s = FieldSet.fromPaths([
      [f("spec"), f("replicas")],
      [f("spec"), f("containers"), k({ name: "b" })],
      [f("spec"), f("containers"), k({ name: "b" }), f("image")],
      [f("spec"), f("containers"), k({ name: "a" }), f("image")],
      [f("metadata"), f("finalizers"), v("x")],
      [f("metadata"), f("labels")],
    ]);
    expect(JSON.stringify(s.toFieldsV1())).toBe(
      JSON.stringify({
        "f:metadata": { "f:finalizers": { 'v:"x"': {} }, "f:labels": {} },
        "f:spec": {
          "f:containers": {
            'k:{"name":"a"}': { "f:image": {} },
            'k:{"name":"b"}': { ".": {}, "f:image": {} },
          },
          "f:replicas": {},
        },
      }),
    );
  });

  it("sorts keys numerically and canonicalizes key JSON when decoding", () => {
    const s = FieldSet.fromFieldsV1({
      "f:ports": {
        'k:{"protocol":"TCP","containerPort":443}': { ".": {}, "f:containerPort": {} },
        'k:{"containerPort":80,"protocol":"TCP"}': {},
      },
    });
    expect(Object.keys(s.toFieldsV1()["f:ports"] as object)).toEqual([
      'k:{"containerPort":80,"protocol":"TCP"}',
      'k:{"containerPort":443,"protocol":"TCP"}',
    ]);
    expect(s.has([f("ports"), k({ containerPort: 443, protocol: "TCP" })])).toBe(true);
    expect(s.has([f("ports"), k({ containerPort: 443, protocol: "TCP" }), f("containerPort")])).toBe(true);
    expect(() => FieldSet.fromFieldsV1({ "x:bad": {} })).toThrow();
  });

  it("set algebra: union, intersection, non-recursive difference", () => {
    const a = FieldSet.fromPaths([[f("a")], [f("a"), f("b")], [f("c")]]);
    const b = FieldSet.fromPaths([[f("a")], [f("d")]]);
    expect(a.union(b).paths()).toEqual([[f("a")], [f("a"), f("b")], [f("c")], [f("d")]]);
    expect(a.intersection(b).paths()).toEqual([[f("a")]]);
    expect(a.difference(b).paths()).toEqual([[f("a"), f("b")], [f("c")]]);
    expect(a.recursiveDifference(b).paths()).toEqual([[f("c")]]);
  });

  it("formats paths like upstream conflict causes", () => {
    expect(
      formatPath([f("spec"), f("template"), f("spec"), f("containers"), k({ name: "nginx" }), f("image")]),
    ).toBe('.spec.template.spec.containers[name="nginx"].image');
    expect(formatPath([f("ports"), k({ containerPort: 80, protocol: "TCP" })])).toBe(
      '.ports[containerPort=80,protocol="TCP"]',
    );
    expect(formatPath([f("metadata"), f("finalizers"), v("x")])).toBe('.metadata.finalizers[="x"]');
  });
});

describe("typed walks", () => {
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", labels: { app: "a" }, finalizers: ["f1"], annotations: {} },
    spec: {
      nodeSelector: { disk: "ssd" },
      containers: [{ name: "c", image: "i", args: ["x"], ports: [{ containerPort: 80 }], resources: {} }],
    },
  };

  it("toFieldSet: atomic lists/maps are leaves, keyed lists use key elements, empty maps are members", () => {
    const set = toFieldSet(pod, podSchema);
    expect(set.toFieldsV1()).toEqual({
      "f:apiVersion": {},
      "f:kind": {},
      "f:metadata": {
        "f:annotations": {},
        "f:finalizers": { 'v:"f1"': {} },
        "f:labels": { "f:app": {} },
        "f:name": {},
      },
      "f:spec": {
        "f:containers": {
          'k:{"name":"c"}': {
            ".": {},
            "f:args": {},
            "f:image": {},
            "f:name": {},
            "f:ports": { 'k:{"containerPort":80,"protocol":"TCP"}': { ".": {}, "f:containerPort": {} } },
            "f:resources": {},
          },
        },
        "f:nodeSelector": {},
      },
    });
  });

  it("compareObjects reports added, removed and modified leaves and whole new subtrees", () => {
    const next = structuredClone(pod) as typeof pod & { spec: { hostname?: string } };
    next.metadata.labels = { app: "b" } as typeof pod.metadata.labels;
    next.spec.hostname = "h";
    next.spec.containers[0]!.ports = [];
    next.metadata.finalizers = ["f2"];
    const c = compareObjects(pod, next, podSchema);
    expect(c.modified.paths()).toEqual([[f("metadata"), f("labels"), f("app")]]);
    expect(c.added.paths()).toEqual([
      [f("metadata"), f("finalizers"), v("f2")],
      [f("spec"), f("hostname")],
    ]);
    expect(c.removed.paths()).toEqual([
      [f("metadata"), f("finalizers"), v("f1")],
      [f("spec"), f("containers"), k({ name: "c" }), f("ports"), k({ containerPort: 80, protocol: "TCP" })],
      [
        f("spec"),
        f("containers"),
        k({ name: "c" }),
        f("ports"),
        k({ containerPort: 80, protocol: "TCP" }),
        f("containerPort"),
      ],
    ]);
  });

  it("mergeApplied keeps live-only list items in place and follows the config order for shared ones", () => {
    const schema = deploymentSchema.fields.spec!;
    const live = {
      template: {
        spec: {
          containers: [
            { name: "a", image: "a1" },
            { name: "x", image: "x1" },
            { name: "b", image: "b1" },
          ],
        },
      },
    };
    const config = {
      template: {
        spec: { containers: [{ name: "b", image: "b2" }, { name: "a" }, { name: "y", image: "y" }] },
      },
    };
    const out = mergeApplied(live, config, schema) as typeof live;
    expect(out.template.spec.containers).toEqual([
      { name: "x", image: "x1" },
      { name: "b", image: "b2" },
      { name: "a", image: "a1" },
      { name: "y", image: "y" },
    ]);
  });

  it("ensureNamedFieldsAreMembers marks struct fields on the way, not list items or map keys", () => {
    const s = FieldSet.fromPaths([
      [f("spec"), f("template"), f("spec"), f("containers"), k({ name: "a" }), f("image")],
    ]);
    const e = ensureNamedFieldsAreMembers(s, deploymentSchema);
    expect(e.has([f("spec")])).toBe(true);
    expect(e.has([f("spec"), f("template"), f("spec"), f("containers")])).toBe(true);
    expect(e.has([f("spec"), f("template"), f("spec"), f("containers"), k({ name: "a" })])).toBe(false);
    expect(e.has([f("spec"), f("template"), f("spec"), f("containers"), k({ name: "a" }), f("image")])).toBe(
      true,
    );
  });
});
