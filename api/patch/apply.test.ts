import { describe, expect, it } from "vitest";
import type { KubeObject, ManagedFieldsEntry } from "../object.js";
import { StatusError } from "../status.js";
import { type ApplyOptions, applyPatch } from "./apply.js";
import { updateManagedFields } from "./managed-fields.js";
import { deploymentSchema } from "./test-schemas.js";

// biome-ignore lint/suspicious/noExplicitAny: test data
type Obj = Record<string, any>;

const T0 = "2024-05-01T10:00:00Z";
const T1 = "2024-05-01T11:00:00Z";
const T2 = "2024-05-01T12:00:00Z";

function opts(manager: string, extra: Partial<ApplyOptions> = {}): ApplyOptions {
  return { manager, schema: deploymentSchema, apiVersion: "apps/v1", kind: "Deployment", now: T0, ...extra };
}

function manifest(): Obj {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "default", labels: { app: "web" } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: { containers: [{ name: "nginx", image: "nginx:1.25", ports: [{ containerPort: 80 }] }] },
      },
    },
  };
}

function statusOf(fn: () => unknown): StatusError {
  try {
    fn();
  } catch (e) {
    if (e instanceof StatusError) return e;
    throw e;
  }
  throw new Error("expected a StatusError");
}

function entry(obj: KubeObject, manager: string): ManagedFieldsEntry | undefined {
  return obj.metadata.managedFields?.find((e) => e.manager === manager);
}

/** what the apiserver would store after create: defaults and server fields added */
function stored(obj: KubeObject): Obj {
  const o = structuredClone(obj) as Obj;
  o.metadata.uid = "u-1";
  o.metadata.resourceVersion = "10";
  o.metadata.generation = 1;
  o.metadata.creationTimestamp = T0;
  return o;
}

describe("server-side apply", () => {
  it("creates the object when absent, with the exact managedFields entry upstream writes", () => {
    const { object, managedFields, changed } = applyPatch(undefined, manifest(), opts("kubectl"));
    expect(changed).toBe(true);
    const { managedFields: _, ...metadata } = object.metadata;
    expect({ ...object, metadata }).toEqual(manifest());
    expect(object.metadata.managedFields).toEqual(managedFields);
    expect(JSON.stringify(managedFields)).toBe(
      JSON.stringify([
        {
          manager: "kubectl",
          operation: "Apply",
          apiVersion: "apps/v1",
          time: T0,
          fieldsType: "FieldsV1",
          fieldsV1: {
            "f:metadata": { "f:labels": { "f:app": {} } },
            "f:spec": {
              "f:replicas": {},
              "f:selector": {},
              "f:template": {
                "f:metadata": { "f:labels": { "f:app": {} } },
                "f:spec": {
                  "f:containers": {
                    'k:{"name":"nginx"}': {
                      ".": {},
                      "f:image": {},
                      "f:name": {},
                      "f:ports": {
                        'k:{"containerPort":80,"protocol":"TCP"}': { ".": {}, "f:containerPort": {} },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      ]),
    );
  });

  it("re-applying without a field removes it when nobody else owns it", () => {
    const first = stored(applyPatch(undefined, manifest(), opts("kubectl")).object);
    const m = manifest();
    delete m.spec.replicas;
    m.metadata.labels = { tier: "front" };
    m.spec.template.spec.containers[0].ports = [];
    const { object } = applyPatch(first as KubeObject, m, opts("kubectl", { now: T1 }));
    const o = object as Obj;
    expect(o.spec.replicas).toBeUndefined();
    expect(o.metadata.labels).toEqual({ tier: "front" });
    // the port item is gone and the emptied list with it (as Go's omitempty would)
    expect(o.spec.template.spec.containers[0].ports).toBeUndefined();
    // server-owned fields untouched
    expect(o.metadata.uid).toBe("u-1");
    expect(entry(object, "kubectl")!.fieldsV1!["f:spec"]).not.toHaveProperty("f:replicas");
    expect(entry(object, "kubectl")!.time).toBe(T1);
  });

  it("a field dropped by one applier stays when another manager owns it", () => {
    let live = stored(applyPatch(undefined, manifest(), opts("a")).object) as KubeObject;
    const b = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", labels: { app: "web" } },
    };
    live = applyPatch(live, b, opts("b")).object;
    const m = manifest();
    delete m.metadata.labels;
    const { object } = applyPatch(live, m, opts("a"));
    expect(object.metadata.labels).toEqual({ app: "web" });
    expect(entry(object, "a")!.fieldsV1!["f:metadata"]).toBeUndefined();
    expect(entry(object, "b")!.fieldsV1).toEqual({ "f:metadata": { "f:labels": { "f:app": {} } } });
  });

  it("removing a container an applier owned removes it (with fields others changed inside)", () => {
    const m = manifest();
    m.spec.template.spec.containers.push({ name: "side", image: "side:1" });
    let live = stored(applyPatch(undefined, m, opts("kubectl")).object) as KubeObject;
    const { object } = applyPatch(live, manifest(), opts("kubectl"));
    live = object;
    expect((live as Obj).spec.template.spec.containers.map((c: Obj) => c.name)).toEqual(["nginx"]);
  });

  it("two appliers setting the same field to different values conflict (409 with causes)", () => {
    const live = stored(applyPatch(undefined, manifest(), opts("alpha")).object) as KubeObject;
    const m = manifest();
    m.spec.replicas = 5;
    m.spec.template.spec.containers[0].image = "nginx:1.26";
    const err = statusOf(() => applyPatch(live, m, opts("beta")));
    expect(err.code).toBe(409);
    expect(err.reason).toBe("Conflict");
    expect(err.details?.causes).toEqual([
      { reason: "FieldManagerConflict", message: 'conflict with "alpha"', field: ".spec.replicas" },
      {
        reason: "FieldManagerConflict",
        message: 'conflict with "alpha"',
        field: '.spec.template.spec.containers[name="nginx"].image',
      },
    ]);
    expect(err.message).toBe(
      'Apply failed with 2 conflicts: conflicts with "alpha":\n- .spec.replicas\n- .spec.template.spec.containers[name="nginx"].image',
    );
    const s = err.toStatus();
    expect(s.code).toBe(409);
  });

  it("applying the same value is not a conflict: ownership is shared", () => {
    const live = stored(applyPatch(undefined, manifest(), opts("alpha")).object) as KubeObject;
    const { object, changed } = applyPatch(live, manifest(), opts("beta", { now: T1 }));
    expect(changed).toBe(false);
    expect(entry(object, "alpha")!.fieldsV1).toEqual(entry(object, "beta")!.fieldsV1);
  });

  it("force moves ownership of conflicting fields", () => {
    const live = stored(applyPatch(undefined, manifest(), opts("alpha")).object) as KubeObject;
    const m = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" }, spec: { replicas: 7 } };
    const { object } = applyPatch(live, m, opts("beta", { force: true, now: T1 }));
    expect((object as Obj).spec.replicas).toBe(7);
    expect(entry(object, "beta")!.fieldsV1).toEqual({ "f:spec": { "f:replicas": {} } });
    expect(entry(object, "alpha")!.fieldsV1!["f:spec"]).not.toHaveProperty("f:replicas");
    expect(entry(object, "alpha")!.fieldsV1!["f:spec"]).toHaveProperty("f:template");
    // and now alpha is the one in conflict
    const err = statusOf(() => applyPatch(object, manifest(), opts("alpha")));
    expect(err.details?.causes).toEqual([
      { reason: "FieldManagerConflict", message: 'conflict with "beta"', field: ".spec.replicas" },
    ]);
    expect(err.message).toBe('Apply failed with 1 conflict: conflict with "beta": .spec.replicas');
  });

  it("an Update by another manager (kubectl client-side apply) then apply conflicts, naming the version", () => {
    const created = stored(manifest() as KubeObject) as KubeObject;
    created.metadata.managedFields = updateManagedFields(undefined, created, {
      manager: "kubectl-client-side-apply",
      schema: deploymentSchema,
      apiVersion: "apps/v1",
      now: T0,
    });
    const scaled = structuredClone(created) as Obj;
    scaled.spec.replicas = 4;
    scaled.metadata.managedFields = updateManagedFields(created, scaled as KubeObject, {
      manager: "kubectl-client-side-apply",
      schema: deploymentSchema,
      apiVersion: "apps/v1",
      now: T1,
    });
    const m = manifest();
    m.spec.replicas = 3;
    const err = statusOf(() => applyPatch(scaled as KubeObject, m, opts("kubectl", { now: T2 })));
    expect(err.code).toBe(409);
    expect(err.details?.causes).toEqual([
      {
        reason: "FieldManagerConflict",
        message: 'conflict with "kubectl-client-side-apply" using apps/v1',
        field: ".spec.replicas",
      },
    ]);
    expect(err.message).toBe(
      'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas',
    );
    // with force kubectl takes replicas and the rest stays shared
    const { object } = applyPatch(scaled as KubeObject, m, opts("kubectl", { force: true, now: T2 }));
    expect((object as Obj).spec.replicas).toBe(3);
    const csa = entry(object, "kubectl-client-side-apply")!;
    expect(csa.operation).toBe("Update");
    expect(csa.fieldsV1!["f:spec"]).not.toHaveProperty("f:replicas");
    expect(csa.fieldsV1!["f:spec"]).toHaveProperty("f:selector");
    expect(object.metadata.managedFields!.map((e) => `${e.manager}/${e.operation}`)).toEqual([
      "kubectl/Apply",
      "kubectl-client-side-apply/Update",
    ]);
  });

  it("merges list maps: containers by name, ports by (containerPort, protocol)", () => {
    let live = stored(applyPatch(undefined, manifest(), opts("alpha")).object) as KubeObject;
    const sidecar = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web" },
      spec: {
        template: {
          spec: {
            containers: [
              { name: "nginx", ports: [{ containerPort: 443 }, { containerPort: 53, protocol: "UDP" }] },
              { name: "proxy", image: "envoy:1" },
            ],
          },
        },
      },
    };
    live = applyPatch(live, sidecar, opts("beta")).object;
    const containers = (live as Obj).spec.template.spec.containers;
    expect(containers).toEqual([
      {
        name: "nginx",
        image: "nginx:1.25",
        ports: [{ containerPort: 80 }, { containerPort: 443 }, { containerPort: 53, protocol: "UDP" }],
      },
      { name: "proxy", image: "envoy:1" },
    ]);
    const beta = entry(live, "beta")!.fieldsV1 as Obj;
    expect(
      Object.keys(beta["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"nginx"}']["f:ports"]),
    ).toEqual(['k:{"containerPort":53,"protocol":"UDP"}', 'k:{"containerPort":443,"protocol":"TCP"}']);
    // the item itself is co-owned: when alpha drops nginx entirely, beta's claim keeps it
    const m = manifest();
    m.spec.template.spec.containers = [{ name: "other", image: "o" }];
    const { object } = applyPatch(live, m, opts("alpha"));
    expect((object as Obj).spec.template.spec.containers.map((c: Obj) => c.name)).toEqual([
      "nginx",
      "proxy",
      "other",
    ]);
    // alpha's port 80 and image are gone (only alpha owned them), beta's ports stay
    expect((object as Obj).spec.template.spec.containers[0]).toEqual({
      name: "nginx",
      ports: [{ containerPort: 443 }, { containerPort: 53, protocol: "UDP" }],
    });
  });

  it("rejects configurations with the wrong version, kind or with managedFields (400)", () => {
    expect(
      statusOf(() => applyPatch(undefined, { ...manifest(), apiVersion: "apps/v1beta1" }, opts("k"))).message,
    ).toBe(
      "Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, expected: apps/v1",
    );
    expect(statusOf(() => applyPatch(undefined, { ...manifest(), kind: "Pod" }, opts("k"))).code).toBe(400);
    const m = manifest();
    m.metadata.managedFields = [];
    expect(statusOf(() => applyPatch(undefined, m, opts("k"))).message).toBe(
      "metadata.managedFields must be nil",
    );
    expect(statusOf(() => applyPatch(undefined, "nope", opts("k"))).code).toBe(400);
  });

  it("a no-op apply keeps the entry's time", () => {
    const live = stored(applyPatch(undefined, manifest(), opts("kubectl")).object) as KubeObject;
    const { object, changed } = applyPatch(live, manifest(), opts("kubectl", { now: T2 }));
    expect(changed).toBe(false);
    expect(entry(object, "kubectl")!.time).toBe(T0);
  });

  it("explicit null in the configuration unsets the field but owns it", () => {
    const live = stored(applyPatch(undefined, manifest(), opts("kubectl")).object) as KubeObject;
    const m = manifest();
    m.spec.replicas = null;
    const { object } = applyPatch(live, m, opts("kubectl"));
    expect((object as Obj).spec).not.toHaveProperty("replicas");
    expect(entry(object, "kubectl")!.fieldsV1!["f:spec"]).toHaveProperty("f:replicas");
  });

  it("ignored fields (status on the main resource) are never owned", () => {
    const m = { ...manifest(), status: { replicas: 9 } };
    const { managedFields } = applyPatch(undefined, m, opts("kubectl", { ignoreFields: [["f:status"]] }));
    expect(managedFields[0]!.fieldsV1).not.toHaveProperty("f:status");
  });

  it("subresource managers are named with their subresource", () => {
    const live = stored(applyPatch(undefined, manifest(), opts("kubectl")).object) as KubeObject;
    const next = structuredClone(live) as Obj;
    next.status = { replicas: 2, readyReplicas: 1 };
    next.metadata.managedFields = updateManagedFields(live, next as KubeObject, {
      manager: "kube-controller-manager",
      schema: deploymentSchema,
      apiVersion: "apps/v1",
      subresource: "status",
      now: T1,
    });
    const m = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web" },
      status: { readyReplicas: 2 },
    };
    const err = statusOf(() => applyPatch(next as KubeObject, m, opts("tool")));
    expect(err.details?.causes?.[0]).toEqual({
      reason: "FieldManagerConflict",
      message: 'conflict with "kube-controller-manager" with subresource "status" using apps/v1',
      field: ".status.readyReplicas",
    });
  });
});
