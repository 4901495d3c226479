import { describe, expect, test } from "vitest";
import { applyDefaults } from "./defaults.js";
import type { KubeObject } from "./object.js";
import { errors, type StatusCause } from "./status.js";
import { selectorMatches, validateCreate, validateUpdate } from "./validation.js";

type O = Record<string, unknown>;

const CLUSTER_SCOPED = new Set([
  "Namespace",
  "Node",
  "IngressClass",
  "APIService",
  "ClusterRole",
  "ClusterRoleBinding",
]);

/** a defaulted object; `meta` overrides metadata (name "x" in "default" otherwise) */
function mk(apiVersion: string, kind: string, body: O, meta: O = {}): KubeObject {
  const metadata: O = CLUSTER_SCOPED.has(kind) ? { name: "x" } : { name: "x", namespace: "default" };
  const obj = {
    apiVersion,
    kind,
    metadata: { ...metadata, ...meta },
    ...structuredClone(body),
  } as KubeObject;
  applyDefaults(apiVersion, kind, obj);
  return obj;
}

/** "Reason field" for each cause */
function rf(causes: StatusCause[]): string[] {
  return causes.map((c) => `${c.reason} ${c.field}`);
}

function create(apiVersion: string, kind: string, body: O, meta: O = {}): string[] {
  return rf(validateCreate(apiVersion, kind, mk(apiVersion, kind, body, meta)));
}

const container = (extra: O = {}): O => ({ name: "web", image: "nginx:1.25", ...extra });
const podSpec = (extra: O = {}): O => ({ containers: [container()], ...extra });
const pod = (specExtra: O = {}): O => ({ spec: podSpec(specExtra) });
const podErrs = (specExtra: O) => create("v1", "Pod", pod(specExtra));
const ctrErrs = (c: O) => create("v1", "Pod", { spec: { containers: [container(c)] } });

// ---------------------------------------------------------------------------------------

describe("metadata", () => {
  test("a valid object passes", () => {
    expect(
      create(
        "v1",
        "ConfigMap",
        { data: { a: "b" } },
        { labels: { app: "x" }, annotations: { "example.com/a": "b" } },
      ),
    ).toEqual([]);
  });

  test("name or generateName is required", () => {
    const causes = validateCreate("v1", "ConfigMap", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { namespace: "default" },
    });
    expect(causes).toEqual([
      {
        reason: "FieldValueRequired",
        field: "metadata.name",
        message: "Required value: name or generateName is required",
      },
    ]);
    expect(create("v1", "ConfigMap", {}, { name: undefined, generateName: "cfg-" })).toEqual([]);
  });

  test("name format message matches upstream", () => {
    const causes = validateCreate("v1", "ConfigMap", mk("v1", "ConfigMap", {}, { name: "Foo_bar" }));
    expect(causes).toEqual([
      {
        reason: "FieldValueInvalid",
        field: "metadata.name",
        message:
          "Invalid value: \"Foo_bar\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
      },
    ]);
    expect(errors.invalid("", "ConfigMap", "Foo_bar", causes).message).toMatch(
      /^ConfigMap "Foo_bar" is invalid: metadata\.name: Invalid value: "Foo_bar": a lowercase RFC 1123 subdomain/,
    );
  });

  test("generateName is checked as a prefix", () => {
    expect(create("v1", "ConfigMap", {}, { generateName: "Bad_" })).toEqual([
      "FieldValueInvalid metadata.generateName",
    ]);
  });

  test("name rules per kind", () => {
    // subdomains allow dots
    expect(create("v1", "ConfigMap", {}, { name: "a.b" })).toEqual([]);
    // namespaces are labels
    expect(create("v1", "Namespace", {}, { name: "a.b" })).toEqual(["FieldValueInvalid metadata.name"]);
    expect(create("v1", "Namespace", {}, { name: "team-a" })).toEqual([]);
    // services are DNS-1035 labels: no dots, must start with a letter
    expect(create("v1", "Service", { spec: { ports: [{ port: 80 }] } }, { name: "a.b" })).toEqual([
      "FieldValueInvalid metadata.name",
    ]);
    expect(create("v1", "Service", { spec: { ports: [{ port: 80 }] } }, { name: "1svc" })).toEqual([
      "FieldValueInvalid metadata.name",
    ]);
    // RBAC names only need to be path segments
    expect(
      create("rbac.authorization.k8s.io/v1", "ClusterRole", { rules: [] }, { name: "system:controller:x" }),
    ).toEqual([]);
    expect(create("rbac.authorization.k8s.io/v1", "ClusterRole", { rules: [] }, { name: "a/b" })).toEqual([
      "FieldValueInvalid metadata.name",
    ]);
  });

  test("namespace required for namespaced kinds, forbidden for cluster-scoped", () => {
    expect(create("v1", "ConfigMap", {}, { namespace: undefined })).toEqual([
      "FieldValueRequired metadata.namespace",
    ]);
    expect(create("v1", "ConfigMap", {}, { namespace: "Bad" })).toEqual([
      "FieldValueInvalid metadata.namespace",
    ]);
    expect(create("v1", "Namespace", {}, { namespace: "default" })).toEqual([
      "FieldValueForbidden metadata.namespace",
    ]);
  });

  test("labels, annotations", () => {
    expect(create("v1", "ConfigMap", {}, { labels: { "a/b/c": "x" } })).toEqual([
      "FieldValueInvalid metadata.labels",
    ]);
    expect(create("v1", "ConfigMap", {}, { labels: { a: "-x" } })).toEqual([
      "FieldValueInvalid metadata.labels",
    ]);
    expect(create("v1", "ConfigMap", {}, { annotations: { "bad key": "x" } })).toEqual([
      "FieldValueInvalid metadata.annotations",
    ]);
    expect(create("v1", "ConfigMap", {}, { annotations: { a: "x".repeat(262145) } })).toEqual([
      "FieldValueTooLong metadata.annotations",
    ]);
  });

  test("finalizers", () => {
    expect(create("v1", "ConfigMap", {}, { finalizers: ["example.com/x", "kubernetes"] })).toEqual([]);
    expect(create("v1", "ConfigMap", {}, { finalizers: ["bad finalizer"] })).toEqual([
      "FieldValueInvalid metadata.finalizers",
    ]);
    expect(create("v1", "ConfigMap", {}, { finalizers: ["orphan", "foregroundDeletion"] })).toEqual([
      "FieldValueInvalid metadata.finalizers",
    ]);
  });

  test("ownerReferences", () => {
    const good = { apiVersion: "apps/v1", kind: "ReplicaSet", name: "rs", uid: "u", controller: true };
    expect(create("v1", "ConfigMap", {}, { ownerReferences: [good] })).toEqual([]);
    expect(
      create(
        "v1",
        "ConfigMap",
        {},
        { ownerReferences: [{ apiVersion: "apps/", kind: "", name: "", uid: "" }] },
      ),
    ).toEqual([
      "FieldValueInvalid metadata.ownerReferences.apiVersion",
      "FieldValueInvalid metadata.ownerReferences.kind",
      "FieldValueInvalid metadata.ownerReferences.name",
      "FieldValueInvalid metadata.ownerReferences.uid",
    ]);
    const two = create(
      "v1",
      "ConfigMap",
      {},
      { ownerReferences: [good, { ...good, name: "rs2", uid: "u2" }] },
    );
    expect(two).toEqual(["FieldValueInvalid metadata.ownerReferences"]);
  });

  test("unknown kinds get metadata checks only", () => {
    expect(create("example.com/v1", "Widget", { anything: 1 })).toEqual([]);
    expect(create("example.com/v1", "Widget", {}, { name: "" })).toEqual([
      "FieldValueRequired metadata.name",
    ]);
  });
});

describe("metadata on update", () => {
  const old = mk(
    "v1",
    "ConfigMap",
    {},
    { uid: "u1", creationTimestamp: "2024-01-01T00:00:00Z", resourceVersion: "3", generation: 2 },
  );

  test("unchanged metadata passes, labels may change", () => {
    const next = structuredClone(old);
    next.metadata.labels = { a: "b" };
    expect(validateUpdate("v1", "ConfigMap", next, old)).toEqual([]);
  });

  test.each(["name", "namespace", "uid", "creationTimestamp"])("%s is immutable", (f) => {
    const next = structuredClone(old);
    next.metadata[f] = f === "creationTimestamp" ? "2025-01-01T00:00:00Z" : "other";
    const causes = validateUpdate("v1", "ConfigMap", next, old);
    expect(rf(causes)).toContain(`FieldValueInvalid metadata.${f}`);
    expect(causes.find((c) => c.field === `metadata.${f}`)!.message).toMatch(/: field is immutable$/);
  });

  test("generation may not go down", () => {
    const next = structuredClone(old);
    next.metadata.generation = 1;
    expect(rf(validateUpdate("v1", "ConfigMap", next, old))).toEqual([
      "FieldValueInvalid metadata.generation",
    ]);
  });

  test("no new finalizers while deleting", () => {
    const deleting = structuredClone(old);
    deleting.metadata.deletionTimestamp = "2024-02-01T00:00:00Z";
    deleting.metadata.finalizers = ["a.io/x"];
    const next = structuredClone(deleting);
    next.metadata.finalizers = ["a.io/x", "a.io/y"];
    expect(rf(validateUpdate("v1", "ConfigMap", next, deleting))).toEqual([
      "FieldValueForbidden metadata.finalizers",
    ]);
    next.metadata.finalizers = [];
    expect(validateUpdate("v1", "ConfigMap", next, deleting)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------

describe("Pod", () => {
  test("a typical pod passes", () => {
    expect(
      create("v1", "Pod", {
        spec: {
          containers: [
            container({
              ports: [
                { name: "http", containerPort: 80 },
                { containerPort: 443, hostPort: 8443 },
              ],
              env: [
                { name: "A", value: "1" },
                { name: "B", valueFrom: { secretKeyRef: { name: "s", key: "k" } } },
              ],
              resources: { requests: { cpu: "100m", memory: "64Mi" }, limits: { cpu: "1", memory: "128Mi" } },
              livenessProbe: { httpGet: { port: "http", path: "/healthz" } },
              readinessProbe: { exec: { command: ["true"] } },
              volumeMounts: [{ name: "data", mountPath: "/data" }],
            }),
            { name: "sidecar", image: "busybox" },
          ],
          initContainers: [{ name: "init", image: "busybox" }],
          volumes: [{ name: "data", emptyDir: {} }],
          nodeSelector: { "kubernetes.io/os": "linux" },
          tolerations: [{ key: "dedicated", operator: "Equal", value: "web", effect: "NoSchedule" }],
          nodeName: "node-1",
        },
      }),
    ).toEqual([]);
  });

  test("containers required", () => {
    expect(create("v1", "Pod", { spec: { containers: [] } })).toEqual(["FieldValueRequired spec.containers"]);
  });

  test("container names: required, label, unique across init and regular", () => {
    expect(ctrErrs({ name: "" })).toEqual(["FieldValueRequired spec.containers[0].name"]);
    expect(ctrErrs({ name: "Web" })).toEqual(["FieldValueInvalid spec.containers[0].name"]);
    expect(podErrs({ containers: [container(), container()] })).toEqual([
      "FieldValueDuplicate spec.containers[1].name",
    ]);
    expect(podErrs({ initContainers: [container()] })).toEqual([
      "FieldValueDuplicate spec.containers[0].name",
    ]);
  });

  test("image required, no surrounding whitespace on pods", () => {
    const causes = validateCreate("v1", "Pod", mk("v1", "Pod", { spec: { containers: [{ name: "a" }] } }));
    expect(causes).toEqual([
      { reason: "FieldValueRequired", field: "spec.containers[0].image", message: "Required value" },
    ]);
    expect(ctrErrs({ image: " nginx" })).toEqual(["FieldValueInvalid spec.containers[0].image"]);
  });

  test("enums", () => {
    expect(ctrErrs({ imagePullPolicy: "Sometimes" })).toEqual([
      "FieldValueNotSupported spec.containers[0].imagePullPolicy",
    ]);
    expect(ctrErrs({ terminationMessagePolicy: "X" })).toEqual([
      "FieldValueNotSupported spec.containers[0].terminationMessagePolicy",
    ]);
    const causes = validateCreate("v1", "Pod", mk("v1", "Pod", pod({ restartPolicy: "Sometimes" })));
    expect(causes).toEqual([
      {
        reason: "FieldValueNotSupported",
        field: "spec.restartPolicy",
        message: 'Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"',
      },
    ]);
    expect(podErrs({ dnsPolicy: "Nope" })).toEqual(["FieldValueNotSupported spec.dnsPolicy"]);
    expect(podErrs({ dnsPolicy: "None" })).toEqual(["FieldValueRequired spec.dnsConfig"]);
    expect(podErrs({ preemptionPolicy: "Always" })).toEqual(["FieldValueNotSupported spec.preemptionPolicy"]);
  });

  test("container ports", () => {
    const causes = validateCreate(
      "v1",
      "Pod",
      mk("v1", "Pod", { spec: { containers: [container({ ports: [{ containerPort: 70000 }] })] } }),
    );
    expect(causes).toEqual([
      {
        reason: "FieldValueInvalid",
        field: "spec.containers[0].ports[0].containerPort",
        message: "Invalid value: 70000: must be between 1 and 65535, inclusive",
      },
    ]);
    expect(ctrErrs({ ports: [{ containerPort: 0 }] })).toEqual([
      "FieldValueRequired spec.containers[0].ports[0].containerPort",
    ]);
    expect(ctrErrs({ ports: [{ containerPort: 80, protocol: "HTTP" }] })).toEqual([
      "FieldValueNotSupported spec.containers[0].ports[0].protocol",
    ]);
    expect(ctrErrs({ ports: [{ containerPort: 80, hostPort: 99999 }] })).toEqual([
      "FieldValueInvalid spec.containers[0].ports[0].hostPort",
    ]);
    // upper case breaks two rules, so two causes, as upstream
    expect(ctrErrs({ ports: [{ name: "HTTP", containerPort: 80 }] })).toEqual([
      "FieldValueInvalid spec.containers[0].ports[0].name",
      "FieldValueInvalid spec.containers[0].ports[0].name",
    ]);
    expect(ctrErrs({ ports: [{ name: "h--p", containerPort: 80 }] })).toEqual([
      "FieldValueInvalid spec.containers[0].ports[0].name",
    ]);
    expect(
      ctrErrs({
        ports: [
          { name: "http", containerPort: 80 },
          { name: "http", containerPort: 81 },
        ],
      }),
    ).toEqual(["FieldValueDuplicate spec.containers[0].ports[1].name"]);
  });

  test("host ports are unique per pod", () => {
    const errs = podErrs({
      containers: [
        container({ ports: [{ containerPort: 80, hostPort: 80 }] }),
        { name: "b", image: "b", ports: [{ containerPort: 81, hostPort: 80 }] },
      ],
    });
    expect(errs).toEqual(["FieldValueDuplicate spec.containers[1].ports[0].hostPort"]);
  });

  test("hostNetwork requires hostPort == containerPort", () => {
    expect(
      podErrs({ hostNetwork: true, containers: [container({ ports: [{ containerPort: 80 }] })] }),
    ).toEqual([]);
    expect(
      podErrs({
        hostNetwork: true,
        containers: [container({ ports: [{ containerPort: 80, hostPort: 81 }] })],
      }),
    ).toEqual(["FieldValueInvalid spec.containers[0].ports[0].hostPort"]);
  });

  test("resources: quantities, requests <= limits", () => {
    const causes = validateCreate(
      "v1",
      "Pod",
      mk("v1", "Pod", {
        spec: {
          containers: [container({ resources: { requests: { cpu: "2" }, limits: { cpu: "1500m" } } })],
        },
      }),
    );
    expect(causes).toEqual([
      {
        reason: "FieldValueInvalid",
        field: "spec.containers[0].resources.requests",
        message: 'Invalid value: "2": must be less than or equal to cpu limit of 1500m',
      },
    ]);
    expect(ctrErrs({ resources: { requests: { memory: "1Gi" }, limits: { memory: "1024Mi" } } })).toEqual([]);
    expect(ctrErrs({ resources: { requests: { memory: "1.5Gi" }, limits: { memory: "1Gi" } } })).toEqual([
      "FieldValueInvalid spec.containers[0].resources.requests",
    ]);
    expect(ctrErrs({ resources: { limits: { cpu: "lots" } } })).toEqual([
      "FieldValueInvalid spec.containers[0].resources.limits[cpu]",
      // defaulting copied the bad limit into requests
      "FieldValueInvalid spec.containers[0].resources.requests[cpu]",
    ]);
    expect(ctrErrs({ resources: { requests: { cpu: "-1" } } })).toEqual([
      "FieldValueInvalid spec.containers[0].resources.requests[cpu]",
    ]);
    expect(
      ctrErrs({ resources: { requests: { "hugepages-2Mi": "2Mi" }, limits: { "hugepages-2Mi": "4Mi" } } }),
    ).toEqual(["FieldValueInvalid spec.containers[0].resources.requests"]);
  });

  test("env", () => {
    expect(ctrErrs({ env: [{ value: "x" }] })).toEqual(["FieldValueRequired spec.containers[0].env[0].name"]);
    expect(ctrErrs({ env: [{ name: "A=B" }] })).toEqual(["FieldValueInvalid spec.containers[0].env[0].name"]);
    expect(
      ctrErrs({ env: [{ name: "A", value: "x", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }] }),
    ).toEqual(["FieldValueInvalid spec.containers[0].env[0].valueFrom"]);
    expect(ctrErrs({ env: [{ name: "A", valueFrom: {} }] })).toEqual([
      "FieldValueInvalid spec.containers[0].env[0].valueFrom",
    ]);
    expect(ctrErrs({ env: [{ name: "A", valueFrom: { configMapKeyRef: { name: "c" } } }] })).toEqual([
      "FieldValueRequired spec.containers[0].env[0].valueFrom.configMapKeyRef.key",
    ]);
  });

  test("volumes and mounts", () => {
    expect(
      podErrs({
        volumes: [
          { name: "a", emptyDir: {} },
          { name: "a", emptyDir: {} },
        ],
      }),
    ).toEqual(["FieldValueDuplicate spec.volumes[1].name"]);
    expect(podErrs({ volumes: [{ name: "a", emptyDir: {}, hostPath: { path: "/x" } }] })).toEqual([
      "FieldValueForbidden spec.volumes[0].hostPath",
    ]);
    expect(podErrs({ volumes: [{ name: "a", secret: {} }] })).toEqual([
      "FieldValueRequired spec.volumes[0].secret.secretName",
    ]);
    const causes = validateCreate(
      "v1",
      "Pod",
      mk("v1", "Pod", {
        spec: { containers: [container({ volumeMounts: [{ name: "nope", mountPath: "/x" }] })] },
      }),
    );
    expect(causes).toEqual([
      {
        reason: "FieldValueNotFound",
        field: "spec.containers[0].volumeMounts[0].name",
        message: 'Not found: "nope"',
      },
    ]);
    expect(
      podErrs({
        volumes: [{ name: "v", emptyDir: {} }],
        containers: [
          container({
            volumeMounts: [
              { name: "v", mountPath: "/a" },
              { name: "v", mountPath: "/a" },
              { name: "v", mountPath: "" },
            ],
          }),
        ],
      }),
    ).toEqual([
      "FieldValueInvalid spec.containers[0].volumeMounts[1].mountPath",
      "FieldValueRequired spec.containers[0].volumeMounts[2].mountPath",
    ]);
  });

  test("probes", () => {
    expect(ctrErrs({ livenessProbe: {} })).toEqual(["FieldValueRequired spec.containers[0].livenessProbe"]);
    expect(ctrErrs({ livenessProbe: { exec: { command: ["x"] }, tcpSocket: { port: 80 } } })).toEqual([
      "FieldValueForbidden spec.containers[0].livenessProbe.tcpSocket",
    ]);
    expect(ctrErrs({ livenessProbe: { exec: { command: ["x"] }, successThreshold: 2 } })).toEqual([
      "FieldValueInvalid spec.containers[0].livenessProbe.successThreshold",
    ]);
    expect(
      ctrErrs({ readinessProbe: { exec: { command: ["x"] }, successThreshold: 2, periodSeconds: -1 } }),
    ).toEqual(["FieldValueInvalid spec.containers[0].readinessProbe.periodSeconds"]);
    expect(ctrErrs({ readinessProbe: { httpGet: { port: 0 } } })).toEqual([
      "FieldValueInvalid spec.containers[0].readinessProbe.httpGet.port",
    ]);
    expect(ctrErrs({ readinessProbe: { httpGet: { port: 80, scheme: "FTP" } } })).toEqual([
      "FieldValueNotSupported spec.containers[0].readinessProbe.httpGet.scheme",
    ]);
  });

  test("init containers: restartPolicy Always only, no probes unless sidecar", () => {
    expect(podErrs({ initContainers: [{ name: "i", image: "i", restartPolicy: "Never" }] })).toEqual([
      "FieldValueNotSupported spec.initContainers[0].restartPolicy",
    ]);
    expect(
      podErrs({ initContainers: [{ name: "i", image: "i", readinessProbe: { exec: { command: ["x"] } } }] }),
    ).toEqual(["FieldValueForbidden spec.initContainers[0].readinessProbe"]);
    expect(
      podErrs({
        initContainers: [
          { name: "i", image: "i", restartPolicy: "Always", readinessProbe: { exec: { command: ["x"] } } },
        ],
      }),
    ).toEqual([]);
    expect(ctrErrs({ restartPolicy: "Always" })).toEqual([
      "FieldValueForbidden spec.containers[0].restartPolicy",
    ]);
  });

  test("ephemeral containers cannot be set on create", () => {
    expect(podErrs({ ephemeralContainers: [{ name: "dbg", image: "busybox" }] })).toEqual([
      "FieldValueForbidden spec.ephemeralContainers",
    ]);
  });

  test("node name, hostname, service account", () => {
    expect(podErrs({ nodeName: "Node_1" })).toEqual(["FieldValueInvalid spec.nodeName"]);
    expect(podErrs({ hostname: "a.b" })).toEqual(["FieldValueInvalid spec.hostname"]);
    expect(podErrs({ serviceAccountName: "SA" })).toEqual(["FieldValueInvalid spec.serviceAccountName"]);
    expect(podErrs({ nodeSelector: { "bad key!": "x" } })).toEqual(["FieldValueInvalid spec.nodeSelector"]);
  });

  test("activeDeadlineSeconds", () => {
    expect(podErrs({ activeDeadlineSeconds: 10 })).toEqual([]);
    expect(podErrs({ activeDeadlineSeconds: 0 })).toEqual(["FieldValueInvalid spec.activeDeadlineSeconds"]);
  });

  test("tolerations", () => {
    expect(podErrs({ tolerations: [{ operator: "Equal", value: "x" }] })).toEqual([
      "FieldValueInvalid spec.tolerations[0].operator",
    ]);
    expect(podErrs({ tolerations: [{ key: "k", operator: "Exists", value: "x" }] })).toEqual([
      "FieldValueInvalid spec.tolerations[0].operator",
    ]);
    expect(podErrs({ tolerations: [{ key: "k", operator: "Like" }] })).toEqual([
      "FieldValueNotSupported spec.tolerations[0].operator",
    ]);
    expect(podErrs({ tolerations: [{ key: "k", effect: "Sometimes" }] })).toEqual([
      "FieldValueNotSupported spec.tolerations[0].effect",
    ]);
    expect(podErrs({ tolerations: [{ key: "k", effect: "NoSchedule", tolerationSeconds: 5 }] })).toEqual([
      "FieldValueInvalid spec.tolerations[0].effect",
    ]);
    expect(podErrs({ tolerations: [{ key: "bad key", operator: "Exists" }] })).toEqual([
      "FieldValueInvalid spec.tolerations[0].key",
    ]);
  });
});

describe("Pod update", () => {
  const old = mk("v1", "Pod", pod({ activeDeadlineSeconds: 100 }), { uid: "u", resourceVersion: "1" });
  const next = (f: (s: O) => void) => {
    const o = structuredClone(old);
    f(o.spec as O);
    return rf(validateUpdate("v1", "Pod", o, old));
  };

  test("image may change", () => {
    expect(next((s) => ((s.containers as O[])[0]!.image = "nginx:1.26"))).toEqual([]);
  });

  test("tolerations may be added, not removed", () => {
    expect(next((s) => (s.tolerations as O[]).push({ key: "a", operator: "Exists" }))).toEqual([]);
    expect(next((s) => (s.tolerations = []))).toEqual(["FieldValueForbidden spec.tolerations"]);
    expect(next((s) => ((s.tolerations as O[])[0]!.tolerationSeconds = 10))).toEqual([]);
  });

  test("activeDeadlineSeconds may only go down", () => {
    expect(next((s) => (s.activeDeadlineSeconds = 50))).toEqual([]);
    expect(next((s) => (s.activeDeadlineSeconds = 200))).toEqual([
      "FieldValueInvalid spec.activeDeadlineSeconds",
    ]);
    expect(next((s) => delete s.activeDeadlineSeconds)).toEqual([
      "FieldValueInvalid spec.activeDeadlineSeconds",
    ]);
  });

  test("other fields are forbidden, with upstream's message", () => {
    const o = structuredClone(old);
    (o.spec as O).restartPolicy = "Never";
    const causes = validateUpdate("v1", "Pod", o, old);
    expect(rf(causes)).toEqual(["FieldValueForbidden spec"]);
    expect(causes[0]!.message).toContain(
      "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
    );
    expect(causes[0]!.message).toContain("spec.restartPolicy");
    expect(next((s) => (s.hostNetwork = true))).toEqual(["FieldValueForbidden spec"]);
  });

  test("nodeName may be set once (binding), not changed", () => {
    expect(next((s) => (s.nodeName = "node-1"))).toEqual([]);
    const bound = mk("v1", "Pod", pod({ nodeName: "node-1" }), { uid: "u" });
    const moved = structuredClone(bound);
    (moved.spec as O).nodeName = "node-2";
    expect(rf(validateUpdate("v1", "Pod", moved, bound))).toEqual(["FieldValueForbidden spec"]);
    const bad = structuredClone(old);
    (bad.spec as O).nodeName = "Bad_Node";
    expect(rf(validateUpdate("v1", "Pod", bad, old))).toEqual(["FieldValueInvalid spec.nodeName"]);
  });

  test("containers may not be added", () => {
    const added = { name: "b", image: "b", imagePullPolicy: "Always", terminationMessagePolicy: "File" };
    expect(next((s) => (s.containers as O[]).push(added))).toEqual(["FieldValueForbidden spec.containers"]);
  });

  test("labels and status changes are fine", () => {
    const o = structuredClone(old);
    o.metadata.labels = { a: "b" };
    o.status = { phase: "Running" };
    expect(validateUpdate("v1", "Pod", o, old)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------

describe("Service", () => {
  const svc = (spec: O, meta: O = {}) => create("v1", "Service", { spec }, meta);

  test("valid services", () => {
    expect(svc({ selector: { app: "x" }, ports: [{ port: 80, targetPort: 8080 }] })).toEqual([]);
    expect(
      svc({
        type: "NodePort",
        ports: [
          { name: "http", port: 80 },
          { name: "https", port: 443 },
        ],
      }),
    ).toEqual([]);
    expect(svc({ type: "LoadBalancer", externalTrafficPolicy: "Local", ports: [{ port: 80 }] })).toEqual([]);
    expect(svc({ clusterIP: "None", selector: { app: "x" } })).toEqual([]);
    expect(svc({ type: "ExternalName", externalName: "db.example.com." })).toEqual([]);
    expect(
      svc({
        clusterIP: "10.0.0.10",
        ports: [
          { port: 53, protocol: "UDP" },
          { port: 53, protocol: "TCP", name: "tcp" },
        ].map((p, i) => ({ ...p, name: `p${i}` })),
      }),
    ).toEqual([]);
    expect(
      svc({
        ipFamilyPolicy: "RequireDualStack",
        clusterIPs: ["10.0.0.1", "fd00::1"],
        ipFamilies: ["IPv4", "IPv6"],
        ports: [{ port: 80 }],
      }),
    ).toEqual([]);
  });

  test("ports required unless headless or ExternalName", () => {
    expect(svc({})).toEqual(["FieldValueRequired spec.ports"]);
  });

  test("port checks", () => {
    const causes = validateCreate("v1", "Service", mk("v1", "Service", { spec: { ports: [{ port: 0 }] } }));
    expect(causes).toEqual([
      {
        reason: "FieldValueInvalid",
        field: "spec.ports[0].port",
        message: "Invalid value: 0: must be between 1 and 65535, inclusive",
      },
      {
        reason: "FieldValueInvalid",
        field: "spec.ports[0].targetPort",
        message: "Invalid value: 0: must be between 1 and 65535, inclusive",
      },
    ]);
    expect(svc({ ports: [{ port: 80, protocol: "HTTP" }] })).toEqual([
      "FieldValueNotSupported spec.ports[0].protocol",
    ]);
    expect(svc({ ports: [{ port: 80, targetPort: "web--http" }] })).toEqual([
      "FieldValueInvalid spec.ports[0].targetPort",
    ]);
    expect(svc({ ports: [{ port: 80, name: "Http" }] })).toEqual(["FieldValueInvalid spec.ports[0].name"]);
  });

  test("names required and unique with more than one port", () => {
    expect(svc({ ports: [{ port: 80 }, { port: 81 }] })).toEqual([
      "FieldValueRequired spec.ports[0].name",
      "FieldValueRequired spec.ports[1].name",
    ]);
    expect(
      svc({
        ports: [
          { port: 80, name: "a" },
          { port: 81, name: "a" },
        ],
      }),
    ).toEqual(["FieldValueDuplicate spec.ports[1].name"]);
    expect(
      svc({
        ports: [
          { port: 80, name: "a" },
          { port: 80, name: "b" },
        ],
      }),
    ).toEqual(["FieldValueDuplicate spec.ports[1]"]);
  });

  test("type", () => {
    expect(svc({ type: "Magic", ports: [{ port: 80 }] })).toEqual(["FieldValueNotSupported spec.type"]);
    expect(svc({ ports: [{ port: 80, nodePort: 30000 }] })).toEqual([
      "FieldValueForbidden spec.ports[0].nodePort",
    ]);
  });

  test("clusterIP", () => {
    const causes = validateCreate(
      "v1",
      "Service",
      mk("v1", "Service", { spec: { clusterIP: "10.0.0.300", ports: [{ port: 80 }] } }),
    );
    expect(causes).toEqual([
      {
        reason: "FieldValueInvalid",
        field: "spec.clusterIPs[0]",
        message: 'Invalid value: "10.0.0.300": must be a valid IP address (e.g. 10.9.8.7 or 2001:db8::ffff)',
      },
    ]);
    expect(svc({ clusterIP: "10.0.0.1", clusterIPs: ["10.0.0.2"], ports: [{ port: 80 }] })).toEqual([
      "FieldValueInvalid spec.clusterIPs",
    ]);
    expect(svc({ type: "NodePort", clusterIP: "None", ports: [{ port: 80 }] })).toEqual([
      "FieldValueInvalid spec.clusterIPs[0]",
    ]);
    expect(
      svc({
        clusterIPs: ["10.0.0.1", "10.0.0.2"],
        ipFamilyPolicy: "RequireDualStack",
        ports: [{ port: 80 }],
      }),
    ).toEqual(["FieldValueInvalid spec.clusterIPs"]);
    expect(
      svc({ clusterIPs: ["10.0.0.1", "fd00::1"], ipFamilyPolicy: "SingleStack", ports: [{ port: 80 }] }),
    ).toEqual(["FieldValueInvalid spec.ipFamilyPolicy"]);
    expect(svc({ clusterIP: "10.0.0.1", ipFamilies: ["IPv6"], ports: [{ port: 80 }] })).toEqual([
      "FieldValueInvalid spec.clusterIPs[0]",
    ]);
    expect(svc({ ipFamilies: ["IPv5"], ports: [{ port: 80 }] })).toEqual([
      "FieldValueNotSupported spec.ipFamilies[0]",
    ]);
    expect(svc({ ipFamilyPolicy: "Maybe", ports: [{ port: 80 }] })).toEqual([
      "FieldValueNotSupported spec.ipFamilyPolicy",
    ]);
  });

  test("ExternalName", () => {
    expect(svc({ type: "ExternalName" })).toEqual(["FieldValueRequired spec.externalName"]);
    expect(svc({ type: "ExternalName", externalName: "Not_A_Name" })).toEqual([
      "FieldValueInvalid spec.externalName",
    ]);
    expect(svc({ type: "ExternalName", externalName: "a.com", clusterIP: "10.0.0.1" })).toEqual([
      "FieldValueForbidden spec.clusterIP",
    ]);
    expect(svc({ type: "ExternalName", externalName: "a.com", ipFamilyPolicy: "SingleStack" })).toEqual([
      "FieldValueForbidden spec.ipFamilyPolicy",
    ]);
  });

  test("session affinity", () => {
    expect(svc({ sessionAffinity: "Cookie", ports: [{ port: 80 }] })).toEqual([
      "FieldValueNotSupported spec.sessionAffinity",
    ]);
    expect(
      svc({
        sessionAffinity: "ClientIP",
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 0 } },
        ports: [{ port: 80 }],
      }),
    ).toEqual(["FieldValueInvalid spec.sessionAffinityConfig.clientIP.timeoutSeconds"]);
    // defaulting drops the config for None; without defaulting it is refused
    expect(
      svc({ sessionAffinityConfig: { clientIP: { timeoutSeconds: 10 } }, ports: [{ port: 80 }] }),
    ).toEqual([]);
    const raw = mk("v1", "Service", { spec: { ports: [{ port: 80 }] } });
    (raw.spec as O).sessionAffinityConfig = { clientIP: { timeoutSeconds: 10 } };
    expect(rf(validateCreate("v1", "Service", raw))).toEqual([
      "FieldValueForbidden spec.sessionAffinityConfig",
    ]);
  });

  test("selector labels", () => {
    expect(svc({ selector: { "a b": "c" }, ports: [{ port: 80 }] })).toEqual([
      "FieldValueInvalid spec.selector",
    ]);
  });

  test("traffic policies", () => {
    const causes = validateCreate(
      "v1",
      "Service",
      mk("v1", "Service", { spec: { externalTrafficPolicy: "Local", ports: [{ port: 80 }] } }),
    );
    expect(causes).toEqual([
      {
        reason: "FieldValueInvalid",
        field: "spec.externalTrafficPolicy",
        message: 'Invalid value: "Local": may only be set for externally-accessible services',
      },
    ]);
    expect(
      svc({ externalTrafficPolicy: "Local", externalIPs: ["192.0.2.10"], ports: [{ port: 80 }] }),
    ).toEqual([]);
    expect(svc({ type: "NodePort", externalTrafficPolicy: "Nearest", ports: [{ port: 80 }] })).toEqual([
      "FieldValueNotSupported spec.externalTrafficPolicy",
    ]);
    expect(svc({ internalTrafficPolicy: "Node", ports: [{ port: 80 }] })).toEqual([
      "FieldValueNotSupported spec.internalTrafficPolicy",
    ]);
    expect(svc({ type: "NodePort", healthCheckNodePort: 30001, ports: [{ port: 80 }] })).toEqual([
      "FieldValueInvalid spec.healthCheckNodePort",
    ]);
  });

  test("LoadBalancer-only fields", () => {
    expect(svc({ allocateLoadBalancerNodePorts: false, ports: [{ port: 80 }] })).toEqual([
      "FieldValueForbidden spec.allocateLoadBalancerNodePorts",
    ]);
    expect(svc({ loadBalancerSourceRanges: ["10.0.0.0/8"], ports: [{ port: 80 }] })).toEqual([
      "FieldValueForbidden spec.LoadBalancerSourceRanges",
    ]);
    expect(
      svc({ type: "LoadBalancer", loadBalancerSourceRanges: ["10.0.0.0/33"], ports: [{ port: 80 }] }),
    ).toEqual(["FieldValueInvalid spec.LoadBalancerSourceRanges[0]"]);
    expect(svc({ loadBalancerClass: "a.io/lb", ports: [{ port: 80 }] })).toEqual([
      "FieldValueForbidden spec.loadBalancerClass",
    ]);
  });

  test("externalIPs", () => {
    expect(svc({ externalIPs: ["nope"], ports: [{ port: 80 }] })).toEqual([
      "FieldValueInvalid spec.externalIPs[0]",
    ]);
    // externalIPs make a ClusterIP service externally accessible: externalTrafficPolicy is then required
    const raw = {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "s", namespace: "default" },
    } as KubeObject;
    raw.spec = {
      type: "ClusterIP",
      sessionAffinity: "None",
      internalTrafficPolicy: "Cluster",
      externalIPs: ["192.0.2.1"],
      ports: [{ port: 80, protocol: "TCP" }],
    };
    expect(rf(validateCreate("v1", "Service", raw))).toEqual([
      "FieldValueRequired spec.externalTrafficPolicy",
    ]);
    expect(svc({ externalIPs: ["127.0.0.1"], ports: [{ port: 80 }] })).toEqual([
      "FieldValueInvalid spec.externalIPs[0]",
    ]);
  });
});

describe("Service update", () => {
  const old = mk(
    "v1",
    "Service",
    { spec: { selector: { app: "x" }, clusterIP: "10.0.0.10", ports: [{ port: 80 }] } },
    { uid: "u" },
  );
  const upd = (f: (s: O) => void) => {
    const o = structuredClone(old);
    f(o.spec as O);
    return rf(validateUpdate("v1", "Service", o, old));
  };

  test("changing ports is fine", () => {
    expect(upd((s) => (s.ports = [{ port: 8080, protocol: "TCP", targetPort: 8080 }]))).toEqual([]);
  });

  test("clusterIP may not change once set", () => {
    const causes = upd((s) => {
      s.clusterIP = "10.0.0.11";
      s.clusterIPs = ["10.0.0.11"];
    });
    expect(causes).toEqual(["FieldValueInvalid spec.clusterIPs[0]"]);
  });

  test("leaving clusterIP out keeps the allocated one", () => {
    expect(
      upd((s) => {
        delete s.clusterIP;
        delete s.clusterIPs;
      }),
    ).toEqual([]);
  });

  test("changing to ExternalName releases the clusterIP", () => {
    const o = mk(
      "v1",
      "Service",
      { spec: { type: "ExternalName", externalName: "a.example.com" } },
      { uid: "u" },
    );
    expect(validateUpdate("v1", "Service", o, old)).toEqual([]);
  });

  test("adding a secondary IP is fine, dropping it needs SingleStack", () => {
    const dual = mk(
      "v1",
      "Service",
      {
        spec: {
          clusterIPs: ["10.0.0.10", "fd00::10"],
          ipFamilyPolicy: "PreferDualStack",
          ports: [{ port: 80 }],
        },
      },
      { uid: "u" },
    );
    expect(validateUpdate("v1", "Service", dual, old)).toEqual([]);
    const single = structuredClone(dual);
    (single.spec as O).clusterIPs = ["10.0.0.10"];
    expect(rf(validateUpdate("v1", "Service", single, dual))).toEqual([
      "FieldValueInvalid spec.ipFamilyPolicy",
    ]);
    (single.spec as O).ipFamilyPolicy = "SingleStack";
    expect(validateUpdate("v1", "Service", single, dual)).toEqual([]);
  });
});

describe("Endpoints", () => {
  const ep = (subsets: O[]) => create("v1", "Endpoints", { subsets });

  test("valid", () => {
    expect(
      ep([
        {
          addresses: [{ ip: "10.1.0.5", nodeName: "n1" }],
          notReadyAddresses: [{ ip: "fd00::5" }],
          ports: [{ port: 80 }],
        },
      ]),
    ).toEqual([]);
    expect(ep([])).toEqual([]);
  });

  test("problems", () => {
    expect(ep([{ ports: [{ port: 80 }] }])).toEqual(["FieldValueRequired subsets[0]"]);
    expect(ep([{ addresses: [{ ip: "x" }], ports: [{ port: 80 }] }])).toEqual([
      "FieldValueInvalid subsets[0].addresses[0].ip",
    ]);
    expect(ep([{ addresses: [{ ip: "127.0.0.1" }], ports: [{ port: 80 }] }])).toEqual([
      "FieldValueInvalid subsets[0].addresses[0].ip",
    ]);
    expect(ep([{ addresses: [{ ip: "10.0.0.1" }], ports: [{ port: 80 }, { port: 81 }] }])).toEqual([
      "FieldValueRequired subsets[0].ports[0].name",
      "FieldValueRequired subsets[0].ports[1].name",
    ]);
    expect(ep([{ addresses: [{ ip: "10.0.0.1" }], ports: [{ port: 0 }] }])).toEqual([
      "FieldValueInvalid subsets[0].ports[0].port",
    ]);
  });
});

describe("EndpointSlice", () => {
  const es = (body: O) => create("discovery.k8s.io/v1", "EndpointSlice", body);
  const base = {
    addressType: "IPv4",
    endpoints: [{ addresses: ["10.1.0.5"], conditions: { ready: true } }],
    ports: [{ name: "http", port: 80 }],
  };

  test("valid", () => {
    expect(es(base)).toEqual([]);
    expect(es({ addressType: "IPv6", endpoints: [{ addresses: ["fd00::5"] }], ports: [] })).toEqual([]);
    expect(es({ addressType: "FQDN", endpoints: [{ addresses: ["db.example.com"] }] })).toEqual([]);
    expect(es({ addressType: "IPv4", endpoints: [], ports: [{ port: null }] })).toEqual([]);
  });

  test("addressType", () => {
    expect(es({ ...base, addressType: "IPv5" })).toEqual(["FieldValueNotSupported addressType"]);
    expect(es({ ...base, addressType: undefined })).toEqual(["FieldValueRequired addressType"]);
  });

  test("addresses must match the type", () => {
    expect(es({ ...base, endpoints: [{ addresses: ["fd00::1"] }] })).toEqual([
      "FieldValueInvalid endpoints[0].addresses[0]",
    ]);
    expect(es({ ...base, addressType: "IPv6", endpoints: [{ addresses: ["10.0.0.1"] }] })).toEqual([
      "FieldValueInvalid endpoints[0].addresses[0]",
    ]);
    expect(es({ ...base, endpoints: [{ addresses: ["0.0.0.0"] }] })).toEqual([
      "FieldValueInvalid endpoints[0].addresses[0]",
    ]);
    expect(es({ ...base, endpoints: [{ addresses: [] }] })).toEqual([
      "FieldValueRequired endpoints[0].addresses",
    ]);
  });

  test("at most 1000 endpoints", () => {
    const endpoints = Array.from({ length: 1001 }, (_, i) => ({
      addresses: [`10.0.${i >> 8}.${(i & 255) + 1 > 255 ? 1 : (i & 255) + 1}`],
    }));
    const causes = validateCreate(
      "discovery.k8s.io/v1",
      "EndpointSlice",
      mk("discovery.k8s.io/v1", "EndpointSlice", { ...base, endpoints }),
    );
    expect(causes).toEqual([
      {
        reason: "FieldValueTooMany",
        field: "endpoints",
        message: "Too many: 1001: must have at most 1000 items",
      },
    ]);
  });

  test("ports", () => {
    expect(
      es({
        ...base,
        ports: [
          { name: "http", port: 80 },
          { name: "http", port: 81 },
        ],
      }),
    ).toEqual(["FieldValueDuplicate ports[1].name"]);
    expect(es({ ...base, ports: [{ port: 80 }, { port: 81 }] })).toEqual([
      "FieldValueDuplicate ports[1].name",
    ]);
    expect(es({ ...base, ports: [{ name: "x", port: 70000 }] })).toEqual(["FieldValueInvalid ports[0].port"]);
    expect(es({ ...base, ports: [{ name: "x", port: 80, protocol: "ICMP" }] })).toEqual([
      "FieldValueNotSupported ports[0].protocol",
    ]);
    expect(es({ ...base, ports: [{ name: "X", port: 80 }] })).toEqual(["FieldValueInvalid ports[0].name"]);
  });

  test("endpoint fields", () => {
    expect(
      es({ ...base, endpoints: [{ addresses: ["10.0.0.1"], nodeName: "Bad_Node", hostname: "a.b" }] }),
    ).toEqual(["FieldValueInvalid endpoints[0].nodeName", "FieldValueInvalid endpoints[0].hostname"]);
  });

  test("addressType is immutable", () => {
    const old = mk("discovery.k8s.io/v1", "EndpointSlice", base);
    const next = mk("discovery.k8s.io/v1", "EndpointSlice", { ...base, addressType: "FQDN", endpoints: [] });
    const causes = validateUpdate("discovery.k8s.io/v1", "EndpointSlice", next, old);
    expect(causes).toEqual([
      {
        reason: "FieldValueInvalid",
        field: "addressType",
        message: 'Invalid value: "FQDN": field is immutable',
      },
    ]);
  });
});

// ---------------------------------------------------------------------------------------

describe("apps/v1", () => {
  const template = (labels: O = { app: "web" }, spec: O = podSpec()) => ({ metadata: { labels }, spec });
  const deploy = (spec: O) => create("apps/v1", "Deployment", { spec });
  const good = { selector: { matchLabels: { app: "web" } }, template: template() };

  test("valid workloads", () => {
    expect(deploy(good)).toEqual([]);
    expect(create("apps/v1", "ReplicaSet", { spec: { replicas: 0, ...good } })).toEqual([]);
    expect(create("apps/v1", "DaemonSet", { spec: good })).toEqual([]);
    expect(
      deploy({
        selector: {
          matchExpressions: [
            { key: "app", operator: "In", values: ["web", "api"] },
            { key: "canary", operator: "DoesNotExist" },
          ],
        },
        template: template(),
      }),
    ).toEqual([]);
  });

  test("selector required, non-empty, matching the template", () => {
    expect(deploy({ template: template() })).toEqual(["FieldValueRequired spec.selector"]);
    expect(deploy({ selector: {}, template: template() })).toEqual(["FieldValueInvalid spec.selector"]);
    const causes = validateCreate(
      "apps/v1",
      "Deployment",
      mk("apps/v1", "Deployment", { spec: { ...good, template: template({ app: "api" }) } }),
    );
    expect(causes).toEqual([
      {
        reason: "FieldValueInvalid",
        field: "spec.template.metadata.labels",
        message: 'Invalid value: {"app":"api"}: `selector` does not match template `labels`',
      },
    ]);
    expect(create("apps/v1", "DaemonSet", { spec: { selector: {}, template: template() } })).toEqual([
      "FieldValueInvalid spec.selector",
    ]);
  });

  test("selector expressions", () => {
    const sel = (e: O) =>
      deploy({ selector: { matchLabels: { app: "web" }, matchExpressions: [e] }, template: template() });
    expect(sel({ key: "a", operator: "In" })).toEqual([
      "FieldValueRequired spec.selector.matchExpressions[0].values",
      "FieldValueInvalid spec.template.metadata.labels",
    ]);
    expect(sel({ key: "a", operator: "Exists", values: ["x"] })).toEqual([
      "FieldValueForbidden spec.selector.matchExpressions[0].values",
      "FieldValueInvalid spec.template.metadata.labels",
    ]);
    expect(sel({ key: "a", operator: "Like" })).toEqual([
      "FieldValueInvalid spec.selector.matchExpressions[0].operator",
      "FieldValueInvalid spec.template.metadata.labels",
    ]);
    expect(sel({ key: "a", operator: "NotIn", values: ["-bad"] })).toEqual([
      "FieldValueInvalid spec.selector.matchExpressions[0].values[0]",
    ]);
  });

  test("template pod spec is validated with its path", () => {
    const causes = deploy({ ...good, template: template({ app: "web" }, { containers: [{ name: "web" }] }) });
    expect(causes).toEqual(["FieldValueRequired spec.template.spec.containers[0].image"]);
    expect(
      deploy({ ...good, template: template({ app: "web" }, podSpec({ restartPolicy: "Never" })) }),
    ).toEqual(["FieldValueNotSupported spec.template.spec.restartPolicy"]);
    expect(
      deploy({ ...good, template: template({ app: "web" }, podSpec({ activeDeadlineSeconds: 5 })) }),
    ).toEqual(["FieldValueForbidden spec.template.spec.activeDeadlineSeconds"]);
    expect(deploy({ selector: { matchLabels: { "-": "x" } }, template: template({ "-": "x" }) })).toEqual([
      "FieldValueInvalid spec.selector.matchLabels",
      "FieldValueInvalid spec.template.metadata.labels",
    ]);
  });

  test("replicas and counters", () => {
    expect(deploy({ ...good, replicas: -1 })).toEqual(["FieldValueInvalid spec.replicas"]);
    expect(deploy({ ...good, revisionHistoryLimit: -1 })).toEqual([
      "FieldValueInvalid spec.revisionHistoryLimit",
    ]);
    expect(deploy({ ...good, minReadySeconds: 700 })).toEqual([
      "FieldValueInvalid spec.progressDeadlineSeconds",
    ]);
    expect(create("apps/v1", "ReplicaSet", { spec: { ...good, replicas: -2 } })).toEqual([
      "FieldValueInvalid spec.replicas",
    ]);
  });

  test("deployment strategy", () => {
    expect(deploy({ ...good, strategy: { type: "Recreate", rollingUpdate: { maxSurge: 1 } } })).toEqual([
      "FieldValueForbidden spec.strategy.rollingUpdate",
    ]);
    expect(deploy({ ...good, strategy: { type: "BlueGreen" } })).toEqual([
      "FieldValueNotSupported spec.strategy.type",
    ]);
    const causes = validateCreate(
      "apps/v1",
      "Deployment",
      mk("apps/v1", "Deployment", {
        spec: { ...good, strategy: { rollingUpdate: { maxSurge: 0, maxUnavailable: "0%" } } },
      }),
    );
    expect(causes).toEqual([
      {
        reason: "FieldValueInvalid",
        field: "spec.strategy.rollingUpdate.maxUnavailable",
        message: 'Invalid value: "0%": may not be 0 when `maxSurge` is 0',
      },
    ]);
    expect(deploy({ ...good, strategy: { rollingUpdate: { maxSurge: "25", maxUnavailable: 1 } } })).toEqual([
      "FieldValueInvalid spec.strategy.rollingUpdate.maxSurge",
    ]);
    expect(deploy({ ...good, strategy: { rollingUpdate: { maxSurge: 1, maxUnavailable: "150%" } } })).toEqual(
      ["FieldValueInvalid spec.strategy.rollingUpdate.maxUnavailable"],
    );
    expect(deploy({ ...good, strategy: { rollingUpdate: { maxSurge: -1, maxUnavailable: 1 } } })).toEqual([
      "FieldValueInvalid spec.strategy.rollingUpdate.maxSurge",
    ]);
  });

  test("daemonset update strategy", () => {
    const ds = (updateStrategy: O) => create("apps/v1", "DaemonSet", { spec: { ...good, updateStrategy } });
    expect(ds({ type: "OnDelete" })).toEqual([]);
    expect(ds({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } })).toEqual([]);
    expect(ds({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 1 } })).toEqual([
      "FieldValueInvalid spec.updateStrategy.rollingUpdate.maxSurge",
    ]);
    expect(ds({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 0 } })).toEqual([
      "FieldValueRequired spec.updateStrategy.rollingUpdate.maxUnavailable",
    ]);
    expect(ds({ type: "Sometimes" })).toEqual(["FieldValueNotSupported spec.updateStrategy.type"]);
    expect(
      create("apps/v1", "DaemonSet", {
        spec: { ...good, template: template({ app: "web" }, podSpec({ activeDeadlineSeconds: 5 })) },
      }),
    ).toEqual(["FieldValueInvalid spec.template.spec.activeDeadlineSeconds"]);
  });

  test.each(["Deployment", "ReplicaSet", "DaemonSet"])("%s selector is immutable", (kind) => {
    const old = mk("apps/v1", kind, { spec: good });
    const next = mk("apps/v1", kind, {
      spec: {
        selector: { matchLabels: { app: "web", tier: "fe" } },
        template: template({ app: "web", tier: "fe" }),
      },
    });
    const causes = validateUpdate("apps/v1", kind, next, old);
    expect(rf(causes)).toEqual(["FieldValueInvalid spec.selector"]);
    expect(causes[0]!.message).toMatch(/field is immutable$/);
    const scaled = structuredClone(old);
    (scaled.spec as O).replicas = 5;
    expect(validateUpdate("apps/v1", kind, scaled, old)).toEqual([]);
  });

  test("selectorMatches", () => {
    expect(selectorMatches({ matchLabels: { a: "1" } }, { a: "1", b: "2" })).toBe(true);
    expect(
      selectorMatches({ matchExpressions: [{ key: "a", operator: "NotIn", values: ["1"] }] }, { a: "2" }),
    ).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: "a", operator: "Exists" }] }, {})).toBe(false);
    expect(selectorMatches(undefined, {})).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------

describe("ConfigMap and Secret", () => {
  test("config keys", () => {
    expect(
      create("v1", "ConfigMap", { data: { "a.conf": "x", KEY_1: "y" }, binaryData: { bin: "AAEC" } }),
    ).toEqual([]);
    const causes = validateCreate("v1", "ConfigMap", mk("v1", "ConfigMap", { data: { "a/b": "x" } }));
    expect(rf(causes)).toEqual(["FieldValueInvalid data[a/b]"]);
    expect(causes[0]!.message).toMatch(
      /^Invalid value: "a\/b": a valid config key must consist of alphanumeric characters/,
    );
    expect(create("v1", "ConfigMap", { data: { a: "x" }, binaryData: { a: "AA==" } })).toEqual([
      "FieldValueInvalid data[a]",
      "FieldValueInvalid binaryData[a]",
    ]);
    expect(create("v1", "ConfigMap", { binaryData: { a: "!!" } })).toEqual([
      "FieldValueInvalid binaryData[a]",
    ]);
  });

  test("size limit 1 MiB", () => {
    expect(create("v1", "ConfigMap", { data: { a: "x".repeat(1024 * 1024) } })).toEqual([]);
    expect(create("v1", "ConfigMap", { data: { a: "x".repeat(1024 * 1024), b: "y" } })).toEqual([
      "FieldValueTooLong ",
    ]);
    const big = Buffer.alloc(1024 * 1024 + 1).toString("base64");
    expect(create("v1", "Secret", { data: { a: big } })).toEqual(["FieldValueTooLong data"]);
  });

  test("secret data must be base64", () => {
    expect(create("v1", "Secret", { data: { a: "aGk=" } })).toEqual([]);
    expect(create("v1", "Secret", { data: { a: "not base64!" } })).toEqual(["FieldValueInvalid data[a]"]);
    expect(create("v1", "Secret", { stringData: { "bad/key": "x" } })).toEqual([
      "FieldValueInvalid data[bad/key]",
    ]);
  });

  test("secret types", () => {
    expect(create("v1", "Secret", { type: "kubernetes.io/tls", data: { "tls.crt": "YQ==" } })).toEqual([
      "FieldValueRequired data[tls.key]",
    ]);
    expect(create("v1", "Secret", { type: "kubernetes.io/basic-auth", data: {} })).toEqual([
      "FieldValueRequired data[username]",
      "FieldValueRequired data[password]",
    ]);
    expect(
      create("v1", "Secret", { type: "kubernetes.io/basic-auth", stringData: { username: "u" } }),
    ).toEqual([]);
    expect(create("v1", "Secret", { type: "kubernetes.io/ssh-auth" })).toEqual([
      "FieldValueRequired data[ssh-privatekey]",
    ]);
    expect(
      create("v1", "Secret", {
        type: "kubernetes.io/dockerconfigjson",
        stringData: { ".dockerconfigjson": "{" },
      }),
    ).toEqual(["FieldValueInvalid data[.dockerconfigjson]"]);
    expect(
      create("v1", "Secret", {
        type: "kubernetes.io/dockerconfigjson",
        stringData: { ".dockerconfigjson": '{"auths":{}}' },
      }),
    ).toEqual([]);
    expect(create("v1", "Secret", { type: "kubernetes.io/service-account-token" })).toEqual([
      "FieldValueRequired metadata.annotations[kubernetes.io/service-account.name]",
    ]);
  });

  test("immutable config maps and secrets", () => {
    const old = mk("v1", "ConfigMap", { data: { a: "1" }, immutable: true });
    const next = structuredClone(old);
    next.data = { a: "2" };
    const causes = validateUpdate("v1", "ConfigMap", next, old);
    expect(causes).toEqual([
      {
        reason: "FieldValueForbidden",
        field: "data",
        message: "Forbidden: field is immutable when `immutable` is set",
      },
    ]);
    const unfreeze = structuredClone(old);
    unfreeze.immutable = false;
    expect(rf(validateUpdate("v1", "ConfigMap", unfreeze, old))).toEqual(["FieldValueForbidden immutable"]);
    const labels = structuredClone(old);
    labels.metadata.labels = { a: "b" };
    expect(validateUpdate("v1", "ConfigMap", labels, old)).toEqual([]);
    const mutable = mk("v1", "ConfigMap", { data: { a: "1" } });
    expect(validateUpdate("v1", "ConfigMap", next, mutable)).toEqual([]);

    const sOld = mk("v1", "Secret", { data: { a: "YQ==" }, immutable: true });
    const sNext = mk("v1", "Secret", { data: { a: "Yg==" }, immutable: true });
    expect(rf(validateUpdate("v1", "Secret", sNext, sOld))).toEqual(["FieldValueForbidden data"]);
  });

  test("secret type is immutable", () => {
    const old = mk("v1", "Secret", {});
    const next = mk("v1", "Secret", { type: "example.com/x" });
    expect(rf(validateUpdate("v1", "Secret", next, old))).toEqual(["FieldValueInvalid type"]);
  });
});

describe("Namespace, Node, ServiceAccount", () => {
  test("namespace finalizers", () => {
    expect(create("v1", "Namespace", { spec: { finalizers: ["kubernetes", "example.com/x"] } })).toEqual([]);
    expect(create("v1", "Namespace", { spec: { finalizers: ["custom"] } })).toEqual([
      "FieldValueInvalid spec.finalizers",
    ]);
  });

  test("node", () => {
    expect(
      create("v1", "Node", {
        spec: {
          podCIDR: "10.244.1.0/24",
          podCIDRs: ["10.244.1.0/24"],
          taints: [{ key: "a", effect: "NoSchedule" }],
        },
      }),
    ).toEqual([]);
    expect(create("v1", "Node", {}, { name: "Node_1" })).toEqual(["FieldValueInvalid metadata.name"]);
    expect(create("v1", "Node", { spec: { podCIDRs: ["10.244.1.0/33"] } })).toEqual([
      "FieldValueInvalid spec.podCIDRs[0]",
    ]);
    expect(create("v1", "Node", { spec: { podCIDRs: ["10.1.0.0/24", "10.2.0.0/24"] } })).toEqual([
      "FieldValueInvalid spec.podCIDRs",
    ]);
    expect(create("v1", "Node", { spec: { taints: [{ key: "a" }] } })).toEqual([
      "FieldValueRequired spec.taints[0].effect",
    ]);
    expect(create("v1", "Node", { spec: { taints: [{ key: "a", effect: "Never" }] } })).toEqual([
      "FieldValueNotSupported spec.taints[0].effect",
    ]);
    expect(
      create("v1", "Node", {
        spec: {
          taints: [
            { key: "a", effect: "NoSchedule" },
            { key: "a", value: "x", effect: "NoSchedule" },
          ],
        },
      }),
    ).toEqual(["FieldValueDuplicate spec.taints[1]"]);
  });

  test("node podCIDRs and providerID are set once", () => {
    const old = mk("v1", "Node", { spec: { podCIDRs: ["10.244.1.0/24"], providerID: "p://1" } });
    const next = mk("v1", "Node", { spec: { podCIDRs: ["10.244.2.0/24"], providerID: "p://2" } });
    expect(rf(validateUpdate("v1", "Node", next, old))).toEqual([
      "FieldValueForbidden spec.podCIDRs",
      "FieldValueForbidden spec.providerID",
    ]);
    const fresh = mk("v1", "Node", {});
    expect(validateUpdate("v1", "Node", old, fresh)).toEqual([]);
  });

  test("service account", () => {
    expect(
      create("v1", "ServiceAccount", { secrets: [{ name: "tok" }], automountServiceAccountToken: false }),
    ).toEqual([]);
    expect(create("v1", "ServiceAccount", { imagePullSecrets: [{ name: "Bad_Name" }] })).toEqual([
      "FieldValueInvalid imagePullSecrets[0].name",
    ]);
  });
});

// ---------------------------------------------------------------------------------------

describe("Ingress", () => {
  const backend = { service: { name: "web", port: { number: 80 } } };
  const ing = (spec: O) => create("networking.k8s.io/v1", "Ingress", { spec });
  const rule = (path: O, host?: string) => ({
    ...(host ? { host } : {}),
    http: { paths: [{ backend, ...path }] },
  });

  test("valid", () => {
    expect(
      ing({
        ingressClassName: "nginx",
        rules: [
          rule({ path: "/", pathType: "Prefix" }, "foo.example.com"),
          rule({ path: "/api", pathType: "Exact" }, "*.example.com"),
        ],
        tls: [{ hosts: ["foo.example.com", "*.example.com"], secretName: "tls" }],
      }),
    ).toEqual([]);
    expect(ing({ defaultBackend: { service: { name: "web", port: { name: "http" } } } })).toEqual([]);
    expect(ing({ rules: [rule({ path: "", pathType: "ImplementationSpecific" })] })).toEqual([]);
    expect(
      ing({
        defaultBackend: { resource: { apiGroup: "k8s.example.com", kind: "StorageBucket", name: "static" } },
      }),
    ).toEqual([]);
  });

  test("rules or default backend", () => {
    expect(ing({})).toEqual(["FieldValueInvalid spec.rules"]);
  });

  test("hosts", () => {
    expect(ing({ rules: [rule({ path: "/", pathType: "Prefix" }, "Foo.com")] })).toEqual([
      "FieldValueInvalid spec.rules[0].host",
    ]);
    expect(ing({ rules: [rule({ path: "/", pathType: "Prefix" }, "foo.*.com")] })).toEqual([
      "FieldValueInvalid spec.rules[0].host",
    ]);
    const causes = validateCreate(
      "networking.k8s.io/v1",
      "Ingress",
      mk("networking.k8s.io/v1", "Ingress", {
        spec: { rules: [rule({ path: "/", pathType: "Prefix" }, "10.0.0.1")] },
      }),
    );
    expect(causes).toEqual([
      {
        reason: "FieldValueInvalid",
        field: "spec.rules[0].host",
        message: 'Invalid value: "10.0.0.1": must be a DNS name, not an IP address',
      },
    ]);
    expect(ing({ rules: [rule({ path: "/", pathType: "Prefix" })], tls: [{ hosts: ["bad_host"] }] })).toEqual(
      ["FieldValueInvalid spec.tls[0].hosts[0]"],
    );
  });

  test("paths", () => {
    const causes = validateCreate(
      "networking.k8s.io/v1",
      "Ingress",
      mk("networking.k8s.io/v1", "Ingress", { spec: { rules: [rule({ path: "/" })] } }),
    );
    expect(causes).toEqual([
      {
        reason: "FieldValueRequired",
        field: "spec.rules[0].http.paths[0].pathType",
        message: "Required value: pathType must be specified",
      },
    ]);
    expect(ing({ rules: [rule({ path: "/", pathType: "Regex" })] })).toEqual([
      "FieldValueNotSupported spec.rules[0].http.paths[0].pathType",
    ]);
    expect(ing({ rules: [rule({ path: "api", pathType: "Prefix" })] })).toEqual([
      "FieldValueInvalid spec.rules[0].http.paths[0].path",
    ]);
    expect(ing({ rules: [rule({ path: "api", pathType: "ImplementationSpecific" })] })).toEqual([
      "FieldValueInvalid spec.rules[0].http.paths[0].path",
    ]);
    expect(ing({ rules: [rule({ path: "/a//b", pathType: "Exact" })] })).toEqual([
      "FieldValueInvalid spec.rules[0].http.paths[0].path",
    ]);
    expect(ing({ rules: [rule({ path: "/a/..", pathType: "Exact" })] })).toEqual([
      "FieldValueInvalid spec.rules[0].http.paths[0].path",
    ]);
    expect(ing({ rules: [{ host: "a.com", http: { paths: [] } }] })).toEqual([
      "FieldValueRequired spec.rules[0].http.paths",
    ]);
  });

  test("backends", () => {
    const p = "spec.rules[0].http.paths[0].backend";
    const withBackend = (b: O) =>
      ing({ rules: [{ http: { paths: [{ path: "/", pathType: "Prefix", backend: b }] } }] });
    expect(withBackend({})).toEqual([`FieldValueInvalid ${p}`]);
    expect(withBackend({ ...backend, resource: { kind: "K", name: "n" } })).toEqual([
      `FieldValueInvalid ${p}`,
    ]);
    expect(withBackend({ service: { port: { number: 80 } } })).toEqual([
      `FieldValueRequired ${p}.service.name`,
    ]);
    expect(withBackend({ service: { name: "Web", port: { number: 80 } } })).toEqual([
      `FieldValueInvalid ${p}.service.name`,
    ]);
    expect(withBackend({ service: { name: "web", port: {} } })).toEqual([
      `FieldValueRequired ${p}.service.port`,
    ]);
    expect(withBackend({ service: { name: "web", port: { name: "http", number: 80 } } })).toEqual([
      `FieldValueInvalid ${p}.service.port`,
    ]);
    expect(withBackend({ service: { name: "web", port: { number: 65536 } } })).toEqual([
      `FieldValueInvalid ${p}.service.port.number`,
    ]);
    expect(withBackend({ service: { name: "web", port: { name: "-http" } } })).toEqual([
      `FieldValueInvalid ${p}.service.port.name`,
    ]);
    expect(withBackend({ resource: { name: "n" } })).toEqual([`FieldValueRequired ${p}.resource.kind`]);
  });
});

describe("IngressClass", () => {
  const ic = (spec: O) => create("networking.k8s.io/v1", "IngressClass", { spec });

  test("controller", () => {
    expect(ic({ controller: "kubeplane.io/ingress" })).toEqual([]);
    expect(ic({})).toEqual(["FieldValueRequired spec.controller"]);
    expect(ic({ controller: "nginx" })).toEqual(["FieldValueInvalid spec.controller"]);
    expect(ic({ controller: `a.io/${"x".repeat(250)}` })).toEqual(["FieldValueTooLong spec.controller"]);
  });

  test("parameters", () => {
    expect(ic({ controller: "a.io/b", parameters: { apiGroup: "k.io", kind: "Params", name: "p" } })).toEqual(
      [],
    );
    expect(ic({ controller: "a.io/b", parameters: { kind: "P", name: "p", scope: "Namespace" } })).toEqual([
      "FieldValueRequired spec.parameters.namespace",
    ]);
    expect(ic({ controller: "a.io/b", parameters: { kind: "P", name: "p", namespace: "x" } })).toEqual([
      "FieldValueForbidden spec.parameters.namespace",
    ]);
    expect(ic({ controller: "a.io/b", parameters: { kind: "P", name: "p", scope: "World" } })).toEqual([
      "FieldValueNotSupported spec.parameters.scope",
    ]);
    expect(ic({ controller: "a.io/b", parameters: { scope: "Cluster" } })).toEqual([
      "FieldValueRequired spec.parameters.kind",
      "FieldValueRequired spec.parameters.name",
    ]);
  });

  test("controller is immutable", () => {
    const old = mk("networking.k8s.io/v1", "IngressClass", { spec: { controller: "a.io/b" } });
    const next = mk("networking.k8s.io/v1", "IngressClass", { spec: { controller: "a.io/c" } });
    expect(rf(validateUpdate("networking.k8s.io/v1", "IngressClass", next, old))).toEqual([
      "FieldValueInvalid spec.controller",
    ]);
  });
});

// ---------------------------------------------------------------------------------------

describe("HorizontalPodAutoscaler", () => {
  const target = { apiVersion: "apps/v1", kind: "Deployment", name: "web" };
  const hpa = (spec: O) =>
    create("autoscaling/v2", "HorizontalPodAutoscaler", {
      spec: { scaleTargetRef: target, maxReplicas: 5, ...spec },
    });
  const metric = (m: O) => hpa({ metrics: [m] });

  test("valid", () => {
    expect(hpa({})).toEqual([]);
    expect(
      hpa({
        minReplicas: 2,
        metrics: [
          {
            type: "Resource",
            resource: { name: "memory", target: { type: "AverageValue", averageValue: "500Mi" } },
          },
          {
            type: "Pods",
            pods: { metric: { name: "qps" }, target: { type: "AverageValue", averageValue: "10" } },
          },
          {
            type: "Object",
            object: {
              describedObject: { kind: "Ingress", name: "main", apiVersion: "networking.k8s.io/v1" },
              metric: { name: "rps" },
              target: { type: "Value", value: "2k" },
            },
          },
          {
            type: "External",
            external: {
              metric: { name: "queue", selector: { matchLabels: { q: "jobs" } } },
              target: { type: "AverageValue", averageValue: "30" },
            },
          },
          {
            type: "ContainerResource",
            containerResource: {
              name: "cpu",
              container: "app",
              target: { type: "Utilization", averageUtilization: 60 },
            },
          },
        ],
        behavior: {
          scaleDown: {
            stabilizationWindowSeconds: 300,
            policies: [{ type: "Percent", value: 10, periodSeconds: 60 }],
          },
        },
      }),
    ).toEqual([]);
  });

  test("replica bounds", () => {
    const causes = validateCreate(
      "autoscaling/v2",
      "HorizontalPodAutoscaler",
      mk("autoscaling/v2", "HorizontalPodAutoscaler", {
        spec: { scaleTargetRef: target, minReplicas: 6, maxReplicas: 5 },
      }),
    );
    expect(causes).toEqual([
      {
        reason: "FieldValueInvalid",
        field: "spec.maxReplicas",
        message: "Invalid value: 5: must be greater than or equal to `minReplicas`",
      },
    ]);
    expect(hpa({ maxReplicas: 0, minReplicas: 0 })).toEqual([
      "FieldValueInvalid spec.minReplicas",
      "FieldValueInvalid spec.maxReplicas",
      "FieldValueForbidden spec.metrics",
    ]);
  });

  test("scaleTargetRef", () => {
    expect(hpa({ scaleTargetRef: {} })).toEqual([
      "FieldValueRequired spec.scaleTargetRef.kind",
      "FieldValueRequired spec.scaleTargetRef.name",
    ]);
    expect(hpa({ scaleTargetRef: { kind: "Deployment", name: "a/b" } })).toEqual([
      "FieldValueInvalid spec.scaleTargetRef.name",
    ]);
  });

  test("metric type and source consistency", () => {
    expect(metric({ type: "Magic" })).toEqual(["FieldValueNotSupported spec.metrics[0].type"]);
    expect(metric({ type: "Pods" })).toEqual(["FieldValueRequired spec.metrics[0].pods"]);
    const causes = validateCreate(
      "autoscaling/v2",
      "HorizontalPodAutoscaler",
      mk("autoscaling/v2", "HorizontalPodAutoscaler", {
        spec: {
          scaleTargetRef: target,
          maxReplicas: 5,
          metrics: [
            {
              type: "Resource",
              resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 50 } },
              pods: { metric: { name: "x" }, target: { type: "AverageValue", averageValue: "1" } },
            },
          ],
        },
      }),
    );
    expect(causes).toEqual([
      {
        reason: "FieldValueForbidden",
        field: "spec.metrics[0].pods",
        message: "Forbidden: must populate the given metric source only",
      },
    ]);
  });

  test("targets", () => {
    expect(
      metric({
        type: "Resource",
        resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 0 } },
      }),
    ).toEqual(["FieldValueInvalid spec.metrics[0].resource.target.averageUtilization"]);
    expect(metric({ type: "Resource", resource: { name: "cpu", target: { type: "Utilization" } } })).toEqual([
      "FieldValueRequired spec.metrics[0].resource.target.averageUtilization",
    ]);
    expect(
      metric({
        type: "Resource",
        resource: { target: { type: "Utilization", averageUtilization: 50, averageValue: "1" } },
      }),
    ).toEqual([
      "FieldValueRequired spec.metrics[0].resource.name",
      "FieldValueForbidden spec.metrics[0].resource.target.averageValue",
    ]);
    expect(
      metric({
        type: "Resource",
        resource: { name: "cpu", target: { type: "Percent", averageUtilization: 50 } },
      }),
    ).toEqual(["FieldValueInvalid spec.metrics[0].resource.target.type"]);
    expect(
      metric({
        type: "Pods",
        pods: { metric: { name: "qps" }, target: { type: "AverageValue", averageValue: "-1" } },
      }),
    ).toEqual(["FieldValueInvalid spec.metrics[0].pods.target.averageValue"]);
    expect(metric({ type: "Pods", pods: { metric: {}, target: { type: "Value", value: "1" } } })).toEqual([
      "FieldValueRequired spec.metrics[0].pods.metric.name",
      "FieldValueRequired spec.metrics[0].pods.target.averageValue",
    ]);
    expect(
      metric({
        type: "External",
        external: { metric: { name: "q" }, target: { type: "Value", value: "1", averageValue: "1" } },
      }),
    ).toEqual(["FieldValueForbidden spec.metrics[0].external.target.value"]);
    expect(
      metric({
        type: "Object",
        object: {
          describedObject: { kind: "Service", name: "s" },
          metric: { name: "m" },
          target: { type: "Value" },
        },
      }),
    ).toEqual(["FieldValueRequired spec.metrics[0].object.target.averageValue"]);
    expect(
      metric({
        type: "ContainerResource",
        containerResource: { name: "cpu", target: { type: "Utilization", averageUtilization: 5 } },
      }),
    ).toEqual(["FieldValueRequired spec.metrics[0].containerResource.container"]);
  });

  test("behavior", () => {
    const b = (scaleUp: O) => hpa({ behavior: { scaleUp } });
    expect(b({ stabilizationWindowSeconds: 4000 })).toEqual([
      "FieldValueInvalid spec.behavior.scaleUp.stabilizationWindowSeconds",
    ]);
    expect(b({ selectPolicy: "Median" })).toEqual([
      "FieldValueNotSupported spec.behavior.scaleUp.selectPolicy",
    ]);
    expect(b({ policies: [] })).toEqual(["FieldValueRequired spec.behavior.scaleUp.policies"]);
    expect(b({ policies: [{ type: "Nodes", value: 0, periodSeconds: 2000 }] })).toEqual([
      "FieldValueNotSupported spec.behavior.scaleUp.policies[0].type",
      "FieldValueInvalid spec.behavior.scaleUp.policies[0].value",
      "FieldValueInvalid spec.behavior.scaleUp.policies[0].periodSeconds",
    ]);
  });

  test("autoscaling/v1 is validated through its v2 form", () => {
    const v1 = (spec: O) =>
      create("autoscaling/v1", "HorizontalPodAutoscaler", {
        spec: { scaleTargetRef: target, maxReplicas: 5, ...spec },
      });
    expect(v1({ targetCPUUtilizationPercentage: 50 })).toEqual([]);
    expect(v1({})).toEqual([]);
    expect(v1({ targetCPUUtilizationPercentage: 0 })).toEqual([
      "FieldValueInvalid spec.metrics[0].resource.target.averageUtilization",
    ]);
    expect(v1({ minReplicas: 7 })).toEqual(["FieldValueInvalid spec.maxReplicas"]);
  });

  test("minReplicas 0 stays allowed on update when it already was 0", () => {
    const spec = {
      scaleTargetRef: target,
      minReplicas: 0,
      maxReplicas: 5,
      metrics: [
        { type: "External", external: { metric: { name: "q" }, target: { type: "Value", value: "1" } } },
      ],
    };
    const old = mk("autoscaling/v2", "HorizontalPodAutoscaler", { spec });
    expect(rf(validateCreate("autoscaling/v2", "HorizontalPodAutoscaler", old))).toEqual([
      "FieldValueInvalid spec.minReplicas",
    ]);
    expect(validateUpdate("autoscaling/v2", "HorizontalPodAutoscaler", structuredClone(old), old)).toEqual(
      [],
    );
  });
});

describe("Lease", () => {
  const lease = (spec: O) => create("coordination.k8s.io/v1", "Lease", { spec });
  test("fields", () => {
    expect(
      lease({
        holderIdentity: "a",
        leaseDurationSeconds: 15,
        leaseTransitions: 0,
        renewTime: "2024-01-01T00:00:00.000000Z",
      }),
    ).toEqual([]);
    expect(lease({ leaseDurationSeconds: 0 })).toEqual(["FieldValueInvalid spec.leaseDurationSeconds"]);
    expect(lease({ leaseTransitions: -1 })).toEqual(["FieldValueInvalid spec.leaseTransitions"]);
    expect(lease({ preferredHolder: "b" })).toEqual(["FieldValueForbidden spec.preferredHolder"]);
    expect(lease({ strategy: "Random" })).toEqual(["FieldValueNotSupported spec.strategy"]);
  });
});

// ---------------------------------------------------------------------------------------

describe("RBAC", () => {
  const G = "rbac.authorization.k8s.io/v1";

  test("roles", () => {
    expect(
      create(G, "Role", { rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }] }),
    ).toEqual([]);
    expect(create(G, "ClusterRole", { rules: [{ nonResourceURLs: ["/healthz"], verbs: ["get"] }] })).toEqual(
      [],
    );
    const causes = validateCreate(
      G,
      "Role",
      mk(G, "Role", { rules: [{ apiGroups: [""], resources: ["pods"], verbs: [] }] }),
    );
    expect(causes).toEqual([
      {
        reason: "FieldValueRequired",
        field: "rules[0].verbs",
        message: "Required value: verbs must contain at least one value",
      },
    ]);
    expect(create(G, "Role", { rules: [{ verbs: ["get"] }] })).toEqual([
      "FieldValueRequired rules[0].apiGroups",
      "FieldValueRequired rules[0].resources",
    ]);
    expect(create(G, "Role", { rules: [{ nonResourceURLs: ["/x"], verbs: ["get"] }] })).toEqual([
      "FieldValueInvalid rules[0].nonResourceURLs",
    ]);
    expect(
      create(G, "ClusterRole", { rules: [{ nonResourceURLs: ["/x"], resources: ["pods"], verbs: ["get"] }] }),
    ).toEqual(["FieldValueInvalid rules[0].nonResourceURLs"]);
    expect(create(G, "ClusterRole", { aggregationRule: { clusterRoleSelectors: [] } })).toEqual([
      "FieldValueRequired aggregationRule.clusterRoleSelectors",
    ]);
  });

  test("bindings", () => {
    const roleRef = { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "r" };
    expect(
      create(G, "RoleBinding", {
        roleRef,
        subjects: [
          { kind: "User", name: "alice" },
          { kind: "ServiceAccount", name: "default" },
        ],
      }),
    ).toEqual([]);
    expect(create(G, "RoleBinding", { roleRef: { ...roleRef, apiGroup: "other" } })).toEqual([
      "FieldValueNotSupported roleRef.apiGroup",
    ]);
    expect(create(G, "ClusterRoleBinding", { roleRef })).toEqual(["FieldValueNotSupported roleRef.kind"]);
    expect(create(G, "RoleBinding", { roleRef: { kind: "Role" } })).toEqual([
      "FieldValueRequired roleRef.name",
    ]);
    expect(
      create(G, "ClusterRoleBinding", {
        roleRef: { kind: "ClusterRole", name: "c" },
        subjects: [{ kind: "ServiceAccount", name: "sa" }],
      }),
    ).toEqual(["FieldValueRequired subjects[0].namespace"]);
    expect(create(G, "RoleBinding", { roleRef, subjects: [{ kind: "Robot", name: "r" }] })).toEqual([
      "FieldValueNotSupported subjects[0].kind",
    ]);
    expect(create(G, "RoleBinding", { roleRef, subjects: [{ kind: "User" }] })).toEqual([
      "FieldValueRequired subjects[0].name",
    ]);
    expect(
      create(G, "RoleBinding", {
        roleRef,
        subjects: [{ kind: "ServiceAccount", name: "sa", apiGroup: "x" }],
      }),
    ).toEqual(["FieldValueNotSupported subjects[0].apiGroup"]);
  });

  test("roleRef cannot change", () => {
    const old = mk(G, "RoleBinding", { roleRef: { kind: "Role", name: "a" } });
    const next = mk(G, "RoleBinding", { roleRef: { kind: "Role", name: "b" } });
    const causes = validateUpdate(G, "RoleBinding", next, old);
    expect(rf(causes)).toEqual(["FieldValueInvalid roleRef"]);
    expect(causes[0]!.message).toMatch(/cannot change roleRef$/);
  });
});

describe("APIService", () => {
  const G = "apiregistration.k8s.io/v1";
  const svc = {
    service: { namespace: "kube-system", name: "metrics-server" },
    groupPriorityMinimum: 100,
    versionPriority: 100,
    insecureSkipTLSVerify: true,
  };
  const api = (spec: O, name = "v1beta1.metrics.k8s.io") => create(G, "APIService", { spec }, { name });

  test("valid", () => {
    expect(api({ group: "metrics.k8s.io", version: "v1beta1", ...svc })).toEqual([]);
    expect(
      api({ group: "apps", version: "v1", groupPriorityMinimum: 17800, versionPriority: 15 }, "v1.apps"),
    ).toEqual([]);
    expect(api({ version: "v1", groupPriorityMinimum: 18000, versionPriority: 1 }, "v1.")).toEqual([]);
  });

  test("name must be version.group", () => {
    const causes = validateCreate(
      G,
      "APIService",
      mk(
        G,
        "APIService",
        { spec: { group: "metrics.k8s.io", version: "v1beta1", ...svc } },
        { name: "metrics" },
      ),
    );
    expect(causes).toEqual([
      {
        reason: "FieldValueInvalid",
        field: "metadata.name",
        message: 'Invalid value: "metrics": must be `spec.version+"."+spec.group`: "v1beta1.metrics.k8s.io"',
      },
    ]);
  });

  test("fields", () => {
    expect(api({ group: "metrics.k8s.io", version: "v1beta1", ...svc, groupPriorityMinimum: 0 })).toEqual([
      "FieldValueInvalid spec.groupPriorityMinimum",
    ]);
    expect(api({ group: "metrics.k8s.io", version: "v1beta1", ...svc, groupPriorityMinimum: 20001 })).toEqual(
      ["FieldValueInvalid spec.groupPriorityMinimum"],
    );
    expect(api({ group: "metrics.k8s.io", version: "v1beta1", ...svc, versionPriority: 0 })).toEqual([
      "FieldValueInvalid spec.versionPriority",
    ]);
    expect(api({ version: "v1beta1", ...svc }, "v1beta1.")).toEqual(["FieldValueRequired spec.group"]);
    expect(api({ group: "metrics.k8s.io", version: "V1", ...svc }, "V1.metrics.k8s.io")).toEqual([
      "FieldValueInvalid spec.version",
    ]);
    expect(api({ group: "metrics.k8s.io", version: "v1beta1", ...svc, service: { port: 443 } })).toEqual([
      "FieldValueRequired spec.service.namespace",
      "FieldValueRequired spec.service.name",
    ]);
    expect(api({ group: "metrics.k8s.io", version: "v1beta1", ...svc, caBundle: "YWJj" })).toEqual([
      "FieldValueInvalid spec.insecureSkipTLSVerify",
    ]);
    expect(
      api({
        group: "metrics.k8s.io",
        version: "v1beta1",
        groupPriorityMinimum: 1,
        versionPriority: 1,
        caBundle: "YWJj",
      }),
    ).toEqual(["FieldValueInvalid spec.caBundle"]);
    expect(
      api({ group: "metrics.k8s.io", version: "v1beta1", ...svc, service: { ...svc.service, port: 0 } }),
    ).toEqual(["FieldValueInvalid spec.service.port"]);
  });
});

describe("Events", () => {
  const involved = { kind: "Pod", namespace: "default", name: "web" };

  test("core/v1 legacy events", () => {
    expect(
      create(
        "v1",
        "Event",
        {
          involvedObject: involved,
          reason: "Pulled",
          message: "ok",
          source: { component: "kubelet" },
          count: 1,
        },
        { name: "web.17a" },
      ),
    ).toEqual([]);
    expect(create("v1", "Event", { involvedObject: { kind: "Node", name: "n1" } })).toEqual([]);
    const causes = validateCreate(
      "v1",
      "Event",
      mk("v1", "Event", { involvedObject: { ...involved, namespace: "other" } }),
    );
    expect(causes).toEqual([
      {
        reason: "FieldValueInvalid",
        field: "involvedObject.namespace",
        message: 'Invalid value: "other": does not match event.namespace',
      },
    ]);
    expect(
      create("v1", "Event", { involvedObject: { kind: "Node", name: "n1" } }, { namespace: "kube-system" }),
    ).toEqual(["FieldValueInvalid involvedObject.namespace"]);
  });

  test("core/v1 events with eventTime need the new fields", () => {
    expect(
      create("v1", "Event", { involvedObject: involved, eventTime: "2024-01-01T00:00:00.000000Z" }),
    ).toEqual([
      "FieldValueRequired reportingComponent",
      "FieldValueRequired reportingInstance",
      "FieldValueRequired action",
      "FieldValueRequired reason",
    ]);
  });

  const good = {
    eventTime: "2024-01-01T00:00:00.000000Z",
    reportingController: "kubeplane.io/scheduler",
    reportingInstance: "scheduler-1",
    action: "Binding",
    reason: "Scheduled",
    regarding: involved,
    note: "assigned",
    type: "Normal",
  };
  const ev = (body: O) => create("events.k8s.io/v1", "Event", body);

  test("events.k8s.io/v1", () => {
    expect(ev(good)).toEqual([]);
    expect(ev({ ...good, eventTime: undefined })).toEqual(
      ["FieldValueInvalid regarding.namespace", "FieldValueRequired eventTime"].slice(1),
    );
    expect(ev({ ...good, type: "Info" })).toEqual(["FieldValueInvalid type"]);
    expect(ev({ ...good, reportingController: "" })).toEqual(["FieldValueRequired reportingController"]);
    expect(ev({ ...good, action: "x".repeat(129) })).toEqual(["FieldValueInvalid action"]);
    expect(ev({ ...good, note: "x".repeat(1025) })).toEqual(["FieldValueInvalid note"]);
    expect(ev({ ...good, deprecatedCount: 3, deprecatedSource: { component: "x" } })).toEqual([
      "FieldValueInvalid deprecatedCount",
      "FieldValueInvalid deprecatedSource",
    ]);
    expect(ev({ ...good, series: { count: 1 } })).toEqual([
      "FieldValueInvalid series.count",
      "FieldValueRequired series.lastObservedTime",
    ]);
  });

  test("events.k8s.io/v1 update may only touch series", () => {
    const old = mk("events.k8s.io/v1", "Event", good);
    const next = structuredClone(old);
    next.series = { count: 2, lastObservedTime: "2024-01-01T00:01:00.000000Z" };
    expect(validateUpdate("events.k8s.io/v1", "Event", next, old)).toEqual([]);
    next.note = "changed";
    expect(rf(validateUpdate("events.k8s.io/v1", "Event", next, old))).toEqual(["FieldValueInvalid note"]);
  });
});

describe("pod status addresses", () => {
  const pod = (status: Record<string, unknown>): KubeObject => {
    const p: KubeObject = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p", namespace: "default" },
      spec: { containers: [{ name: "c", image: "busybox" }] },
    };
    applyDefaults("v1", "Pod", p);
    return { ...p, status };
  };

  test("rejects a malformed podIP and podIPs entry, and accepts valid ones", () => {
    const bad = validateUpdate(
      "v1",
      "Pod",
      pod({ podIP: "10.64.0.256", podIPs: [{ ip: "10.64.0.256" }] }),
      pod({}),
    );
    expect(bad.map((c) => c.field)).toEqual(["status.podIP", "status.podIPs[0].ip"]);
    expect(bad[0]!.reason).toBe("FieldValueInvalid");
    const good = validateUpdate(
      "v1",
      "Pod",
      pod({ podIP: "10.64.0.25", podIPs: [{ ip: "10.64.0.25" }, { ip: "fd00::5" }], hostIP: "192.0.2.1" }),
      pod({}),
    );
    expect(good).toEqual([]);
  });
});
