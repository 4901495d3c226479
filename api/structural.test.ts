import { describe, expect, it } from "vitest";
import { schemaForKind } from "./schema.js";
import type { ObjectNode } from "./schema-types.js";
import { checkStructure } from "./structural.js";

const pod = () => schemaForKind("v1", "Pod")!;

describe("checkStructure", () => {
  it("accepts a well-formed object", () => {
    const r = checkStructure(
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "p", labels: { app: "a" }, creationTimestamp: null },
        spec: {
          containers: [
            {
              name: "c",
              image: "busybox",
              ports: [{ containerPort: 80, protocol: "TCP" }],
              resources: { limits: { cpu: "100m", memory: 1024 } },
              livenessProbe: { httpGet: { port: "http", path: "/" } },
            },
          ],
          terminationGracePeriodSeconds: 30,
          hostNetwork: false,
        },
      },
      pod(),
    );
    expect(r).toEqual({ unknownFields: [], typeErrors: [] });
  });

  it("lists unknown fields with apiserver-style paths", () => {
    const r = checkStructure(
      {
        apiVersion: "v1",
        kind: "Pod",
        foo: 1,
        metadata: { name: "p", nmae: "x" },
        spec: {
          bar: true,
          containers: [{ name: "a" }, { name: "b", imagee: "x", ports: [{ containerPort: 1, prot: "x" }] }],
        },
      },
      pod(),
    );
    expect(r.unknownFields).toEqual([
      ".foo",
      ".metadata.nmae",
      ".spec.bar",
      ".spec.containers[1].imagee",
      ".spec.containers[1].ports[0].prot",
    ]);
    expect(r.typeErrors).toEqual([]);
  });

  it("does not descend into unknown fields or free-form values", () => {
    const r = checkStructure(
      {
        metadata: { managedFields: [{ manager: "m", fieldsV1: { "f:spec": { anything: 1 } } }] },
        x: { y: 1 },
      },
      pod(),
    );
    expect(r.unknownFields).toEqual([".x"]);
  });

  it("reports values of the wrong JSON type", () => {
    const r = checkStructure(
      {
        metadata: { name: 5, labels: { a: 1 } },
        spec: {
          containers: [{ name: "c", ports: [{ containerPort: "80" }], resources: { limits: { cpu: true } } }],
          hostNetwork: "yes",
          terminationGracePeriodSeconds: 1.5,
          volumes: {},
        },
      },
      pod(),
    );
    expect(r.typeErrors.map((e) => e.field)).toEqual([
      ".metadata.name",
      ".metadata.labels.a",
      ".spec.containers[0].ports[0].containerPort",
      ".spec.containers[0].resources.limits.cpu",
      ".spec.hostNetwork",
      ".spec.terminationGracePeriodSeconds",
      ".spec.volumes",
    ]);
    expect(r.typeErrors[0]!.message).toBe(
      "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string",
    );
    expect(r.typeErrors[2]!.message).toBe(
      "json: cannot unmarshal string into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32",
    );
    expect(r.typeErrors[4]!.message).toContain("of type bool");
  });

  it("accepts both forms of int-or-string and rejects others", () => {
    const svc = schemaForKind("v1", "Service")!;
    const ok = checkStructure(
      {
        spec: {
          ports: [
            { port: 80, targetPort: 8080 },
            { port: 81, targetPort: "http" },
          ],
        },
      },
      svc,
    );
    expect(ok.typeErrors).toEqual([]);
    const bad = checkStructure(
      {
        spec: {
          ports: [
            { port: 80, targetPort: true },
            { port: 81, targetPort: 1.5 },
          ],
        },
      },
      svc,
    );
    expect(bad.typeErrors.map((e) => e.field)).toEqual([
      ".spec.ports[0].targetPort",
      ".spec.ports[1].targetPort",
    ]);
  });

  it("rejects a non-object where an object belongs, and uses the given base path", () => {
    expect(checkStructure([], pod()).typeErrors).toHaveLength(1);
    expect(checkStructure("x", pod()).typeErrors[0]!.field).toBe("");
    const spec = pod().fields.spec as ObjectNode;
    expect(checkStructure({ nope: 1 }, spec, ".spec").unknownFields).toEqual([".spec.nope"]);
  });
});
