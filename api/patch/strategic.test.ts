import { describe, expect, it } from "vitest";
import type { SchemaNode } from "../schema-types.js";
import { StatusError } from "../status.js";
import { strategicMergePatch } from "./strategic.js";
import { deploymentSchema, podSchema } from "./test-schemas.js";

// biome-ignore lint/suspicious/noExplicitAny: test data
type Obj = Record<string, any>;

function pod(): Obj {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", labels: { app: "web", tier: "front" }, finalizers: ["a", "b"] },
    spec: {
      containers: [
        {
          name: "app",
          image: "app:v1",
          env: [{ name: "A", value: "1" }],
          ports: [{ containerPort: 80, protocol: "TCP" }],
        },
        { name: "side", image: "side:v1" },
      ],
      volumes: [{ name: "data", emptyDir: {} }],
      restartPolicy: "Always",
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

function smp(original: unknown, patch: unknown, ...schema: [SchemaNode | undefined] | []): Obj {
  return strategicMergePatch<Obj>(original, patch, schema.length ? schema[0] : podSchema);
}

const names = (list: Obj[]) => list.map((c) => c.name);

describe("strategicMergePatch: maps", () => {
  it("merges maps recursively and deletes fields with null", () => {
    const out = smp(pod(), {
      metadata: { labels: { tier: null, env: "prod" } },
      spec: { restartPolicy: null, hostname: "h" },
    });
    expect(out.metadata.labels).toEqual({ app: "web", env: "prod" });
    expect(out.spec.restartPolicy).toBeUndefined();
    expect(out.spec.hostname).toBe("h");
    expect(out.spec.containers).toEqual(pod().spec.containers);
  });

  it("$patch: replace on a map replaces it wholesale", () => {
    const out = smp(pod(), { metadata: { labels: { $patch: "replace", only: "this" } } });
    expect(out.metadata.labels).toEqual({ only: "this" });
    expect(out.metadata.name).toBe("p");
  });

  it("$patch: delete on a map removes it; $patch: merge is the default", () => {
    const out = smp(pod(), {
      metadata: { labels: { $patch: "delete" }, annotations: { $patch: "merge", a: "b" } },
    });
    expect(out.metadata.labels).toBeUndefined();
    expect(out.metadata.annotations).toEqual({ a: "b" });
  });

  it("never mutates its inputs", () => {
    const p = pod();
    const patch = { spec: { containers: [{ name: "app", image: "app:v2" }] } };
    const before = JSON.stringify(p);
    const out = smp(p, patch);
    expect(JSON.stringify(p)).toBe(before);
    expect(patch).toEqual({ spec: { containers: [{ name: "app", image: "app:v2" }] } });
    out.spec.containers[1].image = "x";
    expect(p.spec.containers[1].image).toBe("side:v1");
  });
});

describe("strategicMergePatch: lists merged by key", () => {
  it("updates items by merge key and adds new ones (upstream order: patch items before server-only ones)", () => {
    const out = smp(pod(), {
      spec: {
        containers: [
          { name: "app", image: "app:v2" },
          { name: "new", image: "new:v1" },
        ],
      },
    });
    expect(names(out.spec.containers)).toEqual(["app", "new", "side"]);
    expect(out.spec.containers[0]).toEqual({
      name: "app",
      image: "app:v2",
      env: [{ name: "A", value: "1" }],
      ports: [{ containerPort: 80, protocol: "TCP" }],
    });
    expect(out.spec.containers[2]).toEqual({ name: "side", image: "side:v1" });
  });

  it("an item only on the server that comes first in the live list stays first", () => {
    const out = smp(pod(), { spec: { containers: [{ name: "side", image: "side:v2" }] } });
    expect(names(out.spec.containers)).toEqual(["app", "side"]);
    expect(out.spec.containers[1].image).toBe("side:v2");
  });

  it("deletes items with {$patch: delete, <key>}", () => {
    const out = smp(pod(), { spec: { containers: [{ $patch: "delete", name: "side" }] } });
    expect(names(out.spec.containers)).toEqual(["app"]);
  });

  it("replaces the list with {$patch: replace} as an item", () => {
    const out = smp(pod(), {
      spec: { containers: [{ name: "only", image: "o" }, { $patch: "replace" }] },
    });
    expect(out.spec.containers).toEqual([{ name: "only", image: "o" }]);
  });

  it("merges nested keyed lists (env by name, ports by containerPort)", () => {
    const out = smp(pod(), {
      spec: {
        containers: [
          {
            name: "app",
            env: [
              { name: "A", value: "2" },
              { name: "B", value: "x" },
            ],
            ports: [{ containerPort: 80, name: "http" }],
          },
        ],
      },
    });
    const app = out.spec.containers[0];
    expect(app.env).toEqual([
      { name: "A", value: "2" },
      { name: "B", value: "x" },
    ]);
    expect(app.ports).toEqual([{ containerPort: 80, protocol: "TCP", name: "http" }]);
  });

  it("$setElementOrder reorders a keyed list", () => {
    const out = smp(pod(), {
      spec: { "$setElementOrder/containers": [{ name: "side" }, { name: "app" }] },
    });
    expect(names(out.spec.containers)).toEqual(["side", "app"]);
    expect(out.spec.containers[1].image).toBe("app:v1");
  });

  it("$setElementOrder places new items where the order list has them and keeps server-only items", () => {
    const live = pod();
    live.spec.containers.push({ name: "injected", image: "mesh" });
    const out = smp(live, {
      spec: {
        "$setElementOrder/containers": [{ name: "app" }, { name: "mid" }, { name: "side" }],
        containers: [{ name: "mid", image: "mid:v1" }],
      },
    });
    expect(names(out.spec.containers)).toEqual(["app", "mid", "side", "injected"]);
  });

  it("rejects a patch list whose order contradicts $setElementOrder", () => {
    const err = statusOf(() =>
      smp(pod(), {
        spec: {
          "$setElementOrder/containers": [{ name: "app" }, { name: "side" }],
          containers: [
            { name: "side", image: "s" },
            { name: "app", image: "a" },
          ],
        },
      }),
    );
    expect(err.code).toBe(400);
    expect(err.message).toContain("$setElementOrder");
  });

  it("$retainKeys clears the fields of a union that are not listed", () => {
    const out = smp(pod(), {
      spec: {
        volumes: [{ name: "data", configMap: { name: "cm" }, $retainKeys: ["configMap", "name"] }],
      },
    });
    expect(out.spec.volumes).toEqual([{ name: "data", configMap: { name: "cm" } }]);
  });

  it("$retainKeys on a struct (Deployment strategy Recreate drops rollingUpdate)", () => {
    const d = {
      spec: { strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: "25%" } } },
    };
    const out = smp(
      d,
      { spec: { strategy: { $retainKeys: ["type"], type: "Recreate", rollingUpdate: null } } },
      deploymentSchema,
    );
    expect(out.spec.strategy).toEqual({ type: "Recreate" });
  });

  it("rejects a field that is set but missing from $retainKeys", () => {
    const err = statusOf(() =>
      smp(pod(), { spec: { volumes: [{ name: "data", hostPath: { path: "/x" }, $retainKeys: ["name"] }] } }),
    );
    expect(err.code).toBe(400);
    expect(err.message).toContain("retainKeys");
  });

  it("errors: missing merge key, unknown directive, merge directive in a list", () => {
    expect(statusOf(() => smp(pod(), { spec: { containers: [{ image: "x" }] } })).message).toContain(
      "does not contain declared merge key: name",
    );
    expect(statusOf(() => smp(pod(), { spec: { $patch: "explode" } })).code).toBe(400);
    expect(statusOf(() => smp(pod(), { spec: { containers: [{ $patch: "merge", name: "a" }] } })).code).toBe(
      400,
    );
    expect(statusOf(() => smp(pod(), { spec: { $bogus: 1 } })).code).toBe(400);
    expect(statusOf(() => smp(pod(), [])).code).toBe(400);
  });
});

describe("strategicMergePatch: primitive lists", () => {
  it("merges primitive lists with merge strategy as a set (new items first, as upstream)", () => {
    const out = smp(pod(), { metadata: { finalizers: ["c", "a"] } });
    expect(out.metadata.finalizers).toEqual(["c", "a", "b"]);
  });

  it("with $setElementOrder the primitive list takes that order", () => {
    const out = smp(pod(), {
      metadata: { "$setElementOrder/finalizers": ["a", "b", "c"], finalizers: ["c"] },
    });
    expect(out.metadata.finalizers).toEqual(["a", "b", "c"]);
  });

  it("$deleteFromPrimitiveList removes values", () => {
    const out = smp(pod(), {
      metadata: { "$deleteFromPrimitiveList/finalizers": ["a", "zzz"] },
    });
    expect(out.metadata.finalizers).toEqual(["b"]);
  });

  it("replaces lists without merge strategy (args, tolerations)", () => {
    const live = pod();
    live.spec.containers[0].args = ["x", "y"];
    const out = smp(live, { spec: { containers: [{ name: "app", args: ["z"] }] } });
    expect(out.spec.containers[0].args).toEqual(["z"]);
  });
});

describe("strategicMergePatch: fields without schema", () => {
  it("falls back to JSON merge patch semantics for unknown fields", () => {
    const live = { ...pod(), extra: { list: [1, 2], keep: 1, nested: { a: 1 } } };
    const out = smp(live, {
      extra: { list: [3], nested: { a: null, b: 2 }, $patch: "kept-literally" },
    });
    expect(out.extra).toEqual({ list: [3], keep: 1, nested: { b: 2 }, $patch: "kept-literally" });
  });

  it("treats the whole object as merge patch with no schema", () => {
    const out = smp({ a: [{ name: "x" }], b: 1 }, { a: [{ name: "y" }], b: null }, undefined);
    expect(out).toEqual({ a: [{ name: "y" }] });
  });

  it("IntOrString / quantity values are replaced", () => {
    const d = { spec: { strategy: { rollingUpdate: { maxSurge: 1 } } } };
    const out = smp(d, { spec: { strategy: { rollingUpdate: { maxSurge: "50%" } } } }, deploymentSchema);
    expect(out.spec.strategy.rollingUpdate.maxSurge).toBe("50%");
  });
});

describe("kubectl client-side apply 3-way patch for a Deployment", () => {
  // what the server holds: defaulted fields, status, an injected sidecar nobody applied
  const live = (): Obj => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: "web",
      namespace: "default",
      resourceVersion: "41",
      annotations: {
        "kubectl.kubernetes.io/last-applied-configuration": '{"old":true}',
        "deployment.kubernetes.io/revision": "1",
      },
      labels: { app: "web" },
    },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: "web" } },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: {
          containers: [
            {
              name: "app",
              image: "registry/app:v1",
              imagePullPolicy: "IfNotPresent",
              env: [
                { name: "A", value: "1" },
                { name: "B", value: "2" },
                { name: "C", value: "3" },
              ],
              ports: [{ containerPort: 80, protocol: "TCP" }],
              terminationMessagePath: "/dev/termination-log",
            },
            { name: "mesh-proxy", image: "mesh:1" },
          ],
          restartPolicy: "Always",
        },
      },
    },
    status: { replicas: 3, readyReplicas: 3 },
  });

  // the patch kubectl computes from last-applied, the new manifest and live:
  // image changed, env B removed, port 443 added
  const patch = {
    metadata: { annotations: { "kubectl.kubernetes.io/last-applied-configuration": '{"new":true}' } },
    spec: {
      template: {
        spec: {
          "$setElementOrder/containers": [{ name: "app" }],
          containers: [
            {
              "$setElementOrder/env": [{ name: "A" }, { name: "C" }],
              "$setElementOrder/ports": [{ containerPort: 80 }, { containerPort: 443 }],
              env: [{ $patch: "delete", name: "B" }],
              image: "registry/app:v2",
              name: "app",
              ports: [{ containerPort: 443 }],
            },
          ],
        },
      },
    },
  };

  it("produces the edited Deployment", () => {
    const out = smp(live(), patch, deploymentSchema);
    const expected = live();
    expected.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"] = '{"new":true}';
    const app = expected.spec.template.spec.containers[0];
    app.image = "registry/app:v2";
    app.env = [
      { name: "A", value: "1" },
      { name: "C", value: "3" },
    ];
    app.ports = [{ containerPort: 80, protocol: "TCP" }, { containerPort: 443 }];
    expect(out).toEqual(expected);
    // order matters: app stays first, the injected sidecar stays after it
    expect(names(out.spec.template.spec.containers)).toEqual(["app", "mesh-proxy"]);
  });

  it("a second apply that removes replicas and a label sends nulls", () => {
    const out = smp(
      live(),
      { metadata: { labels: { app: null } }, spec: { replicas: null } },
      deploymentSchema,
    );
    expect(out.metadata.labels).toEqual({});
    expect(out.spec.replicas).toBeUndefined();
  });

  it("works on a Pod schema too (container added in manifest order)", () => {
    const out = smp(
      pod(),
      {
        spec: {
          "$setElementOrder/containers": [{ name: "app" }, { name: "side" }, { name: "third" }],
          containers: [{ name: "third", image: "t" }],
        },
      },
      podSchema,
    );
    expect(names(out.spec.containers)).toEqual(["app", "side", "third"]);
  });
});
