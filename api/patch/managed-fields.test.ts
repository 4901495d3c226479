import { describe, expect, it } from "vitest";
import type { KubeObject } from "../object.js";
import {
  decodeManagedFields,
  encodeManagedFields,
  type FieldManagerOptions,
  updateManagedFields,
} from "./managed-fields.js";
import { strategicMergePatch } from "./strategic.js";
import { deploymentSchema } from "./test-schemas.js";

// biome-ignore lint/suspicious/noExplicitAny: test data
type Obj = Record<string, any>;

const T0 = "2024-05-01T10:00:00Z";
const T1 = "2024-05-01T11:00:00Z";

function o(manager: string, extra: Partial<FieldManagerOptions> = {}): FieldManagerOptions {
  return { manager, schema: deploymentSchema, apiVersion: "apps/v1", now: T0, ...extra };
}

function deployment(): Obj {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "default", uid: "u", resourceVersion: "1", labels: { app: "web" } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "web" } },
      template: { spec: { containers: [{ name: "c", image: "i:1" }] } },
    },
  };
}

function withFields(obj: Obj, manager: string, old?: Obj, extra: Partial<FieldManagerOptions> = {}): Obj {
  const next = structuredClone(obj);
  next.metadata.managedFields = updateManagedFields(
    old as KubeObject | undefined,
    next as KubeObject,
    o(manager, extra),
  );
  return next;
}

describe("updateManagedFields", () => {
  it("create: the creator owns every field it set (bookkeeping fields stripped), exact JSON", () => {
    const created = withFields(deployment(), "kubectl-create");
    expect(JSON.stringify(created.metadata.managedFields)).toBe(
      JSON.stringify([
        {
          manager: "kubectl-create",
          operation: "Update",
          apiVersion: "apps/v1",
          time: T0,
          fieldsType: "FieldsV1",
          fieldsV1: {
            "f:metadata": { "f:labels": { ".": {}, "f:app": {} } },
            "f:spec": {
              ".": {},
              "f:replicas": {},
              "f:selector": {},
              "f:template": {
                ".": {},
                "f:spec": {
                  ".": {},
                  "f:containers": { ".": {}, 'k:{"name":"c"}': { ".": {}, "f:image": {}, "f:name": {} } },
                },
              },
            },
          },
        },
      ]),
    );
  });

  it("update: the writer takes changed fields from their previous owner", () => {
    const created = withFields(deployment(), "creator");
    const scaled = structuredClone(created);
    scaled.spec.replicas = 5;
    scaled.metadata.resourceVersion = "2";
    const after = withFields(scaled, "scaler", created, { now: T1 });
    const [creator, scaler] = decodeManagedFields(after.metadata.managedFields);
    expect(creator!.manager).toBe("creator");
    expect(creator!.set.has(["f:spec", "f:replicas"])).toBe(false);
    expect(creator!.set.has(["f:spec", "f:selector"])).toBe(true);
    expect(scaler!.manager).toBe("scaler");
    expect(scaler!.time).toBe(T1);
    expect(scaler!.set.toFieldsV1()).toEqual({ "f:spec": { "f:replicas": {} } });
  });

  it("removed fields are dropped from every owner; empty entries disappear", () => {
    const created = withFields(deployment(), "creator");
    const labelled = structuredClone(created);
    labelled.metadata.labels.extra = "x";
    const l2 = withFields(labelled, "labeller", created, { now: T1 });
    const unlabelled = structuredClone(l2);
    delete unlabelled.metadata.labels.extra;
    const l3 = withFields(unlabelled, "creator", l2, { now: T1 });
    expect(l3.metadata.managedFields.map((e: Obj) => e.manager)).toEqual(["creator"]);
  });

  it("an update that changes nothing leaves managedFields alone", () => {
    const created = withFields(deployment(), "creator");
    const same = structuredClone(created);
    same.metadata.resourceVersion = "9";
    const after = withFields(same, "someone-else", created, { now: T1 });
    expect(after.metadata.managedFields).toEqual(created.metadata.managedFields);
  });

  it("managedFields sent with the request replace the stored ones; [{}] resets them", () => {
    const created = withFields(deployment(), "creator");
    const reset = structuredClone(created);
    reset.metadata.managedFields = [{}];
    const after = withFields(reset, "x", created, { now: T1 });
    expect(after.metadata.managedFields).toEqual([]);
  });

  it("each apiVersion and subresource is its own Update entry", () => {
    const created = withFields(deployment(), "ctrl");
    const st = structuredClone(created);
    st.status = { replicas: 1 };
    const after = withFields(st, "ctrl", created, { subresource: "status", now: T1 });
    expect(after.metadata.managedFields.map((e: Obj) => [e.manager, e.subresource ?? ""])).toEqual([
      ["ctrl", ""],
      ["ctrl", "status"],
    ]);
    expect(after.metadata.managedFields[1].fieldsV1).toEqual({ "f:status": { ".": {}, "f:replicas": {} } });
  });
});

describe("kubectl client-side apply flow", () => {
  it("a strategic patch by kubectl-client-side-apply updates its ownership", () => {
    const live = deployment();
    live.spec.template.spec.containers[0].env = [
      { name: "A", value: "1" },
      { name: "B", value: "2" },
    ];
    const created = withFields(live, "kubectl-client-side-apply");
    const patched = strategicMergePatch<Obj>(
      created,
      {
        spec: {
          template: {
            spec: {
              "$setElementOrder/containers": [{ name: "c" }],
              containers: [
                {
                  name: "c",
                  image: "i:2",
                  "$setElementOrder/env": [{ name: "A" }],
                  env: [{ $patch: "delete", name: "B" }],
                },
              ],
            },
          },
        },
      },
      deploymentSchema,
    );
    const after = withFields(patched, "kubectl-client-side-apply", created, { now: T1 });
    const [csa] = decodeManagedFields(after.metadata.managedFields);
    const c = ["f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"c"}'];
    expect(csa!.set.has([...c, "f:image"])).toBe(true);
    expect(csa!.set.has([...c, "f:env", 'k:{"name":"A"}', "f:value"])).toBe(true);
    expect(csa!.set.has([...c, "f:env", 'k:{"name":"B"}'])).toBe(false);
    expect(csa!.time).toBe(T1);
    expect(after.metadata.managedFields).toHaveLength(1);
  });
});

describe("encode/decode", () => {
  it("round-trips, sorts Apply before Update and by time, and skips garbage", () => {
    const entries = [
      {
        manager: "b",
        operation: "Update",
        apiVersion: "v1",
        time: T1,
        fieldsType: "FieldsV1",
        fieldsV1: { "f:a": {} },
      },
      {
        manager: "a",
        operation: "Update",
        apiVersion: "v1",
        time: T0,
        fieldsType: "FieldsV1",
        fieldsV1: { "f:b": {} },
      },
      {
        manager: "z",
        operation: "Apply",
        apiVersion: "v1",
        time: T1,
        fieldsType: "FieldsV1",
        fieldsV1: { "f:c": {} },
      },
      { manager: "bad", operation: "Frob" },
      { manager: "bad2", operation: "Update", fieldsV1: { "q:x": {} } },
      { manager: "empty", operation: "Update", fieldsV1: {} },
    ];
    const out = encodeManagedFields(decodeManagedFields(entries));
    expect(out.map((e) => e.manager)).toEqual(["z", "a", "b"]);
    expect(out[1]).toEqual(entries[1]);
  });
});
