import { describe, expect, it } from "vitest";
import {
  decodeKubernetesProtobuf,
  decodeProtobufMessage,
  formatDuration,
  formatTime,
  ProtobufDecodeError,
  protobufMessageFor,
} from "./decode.js";
import { KINDS, MESSAGES, UNWRAPPED } from "./messages.js";
import { encodeKubernetesProtobuf, encodeMessage, envelope, Writer } from "./test-encoder.js";

function roundTrip(obj: Record<string, unknown>, unpacked = false): Record<string, unknown> {
  return decodeKubernetesProtobuf(encodeKubernetesProtobuf(obj, { unpacked }));
}

function errorOf(fn: () => unknown): ProtobufDecodeError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ProtobufDecodeError);
    return e as ProtobufDecodeError;
  }
  throw new Error("expected a ProtobufDecodeError");
}

describe("decodeKubernetesProtobuf", () => {
  it("decodes the exact bytes kubectl 1.33 sends for `create namespace x`", () => {
    // captured from `kubectl.1.33 create namespace x -v=8`
    const hex =
      "6b3873000a0f0a0276311209" +
      "4e616d65737061636512190a110a0178120" +
      "01a00220" +
      "02a00320038004200120" +
      "01a020a001a002200";
    const body = Uint8Array.from(Buffer.from(hex, "hex"));
    expect(body.length).toBe(52);
    expect(decodeKubernetesProtobuf(body)).toEqual({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "x", creationTimestamp: null },
      spec: {},
      status: {},
    });
  });

  it("round-trips a ConfigMap with data and binaryData (bytes become base64)", () => {
    const binary = Buffer.from([0, 1, 2, 254, 255, 0x80]).toString("base64");
    const cm = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c", namespace: "default", labels: { app: "x", tier: "" } },
      data: { a: "b", "config.yaml": "key: value\nother: ünïcødé ✓\n", empty: "" },
      binaryData: { "blob.bin": binary },
      immutable: false,
    };
    const out = roundTrip(cm);
    expect(out).toEqual(cm);
    expect(Buffer.from((out.binaryData as Record<string, string>)["blob.bin"]!, "base64")).toEqual(
      Buffer.from([0, 1, 2, 254, 255, 0x80]),
    );
  });

  it("round-trips a Secret with data, stringData and type", () => {
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "s", annotations: { "a/b": "c" } },
      data: { u: Buffer.from("p").toString("base64"), empty: "" },
      stringData: { plain: "text" },
      type: "Opaque",
    };
    expect(roundTrip(secret)).toEqual(secret);
  });

  it("round-trips a Deployment with containers, ports, env, resources and probes", () => {
    const deploy = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: {
        name: "d",
        namespace: "ns",
        generation: 3,
        labels: { app: "d" },
        ownerReferences: [{ apiVersion: "v1", kind: "Thing", name: "o", uid: "u-1", controller: true }],
      },
      spec: {
        replicas: 0,
        revisionHistoryLimit: -1,
        selector: {
          matchLabels: { app: "d" },
          matchExpressions: [{ key: "tier", operator: "In", values: ["web", "api"] }],
        },
        strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: 1 } },
        template: {
          metadata: { labels: { app: "d" }, creationTimestamp: null },
          spec: {
            containers: [
              {
                name: "nginx",
                image: "nginx:1.27",
                command: ["nginx"],
                args: ["-g", "daemon off;"],
                ports: [
                  { containerPort: 80, protocol: "TCP", name: "http" },
                  { containerPort: 443, hostPort: 8443 },
                ],
                env: [
                  { name: "A", value: "1" },
                  { name: "EMPTY" },
                  { name: "FROM", valueFrom: { configMapKeyRef: { name: "cm", key: "k", optional: true } } },
                  { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                ],
                envFrom: [{ prefix: "P_", secretRef: { name: "sec" } }],
                resources: {
                  limits: { cpu: "500m", memory: "128Mi" },
                  requests: { cpu: "100m", "nvidia.com/gpu": "1" },
                },
                livenessProbe: {
                  httpGet: { path: "/healthz", port: "http", scheme: "HTTP" },
                  initialDelaySeconds: 5,
                  periodSeconds: 10,
                },
                readinessProbe: { tcpSocket: { port: 80 } },
                volumeMounts: [{ name: "cfg", mountPath: "/etc/cfg", readOnly: true }],
                imagePullPolicy: "IfNotPresent",
                securityContext: { runAsUser: 0, allowPrivilegeEscalation: false },
              },
            ],
            volumes: [
              {
                name: "cfg",
                configMap: { name: "cm", items: [{ key: "a", path: "a.txt" }], defaultMode: 420 },
              },
              { name: "scratch", emptyDir: { sizeLimit: "1Gi" } },
              { name: "creds", secret: { secretName: "sec", optional: false } },
            ],
            securityContext: { supplementalGroups: [1000, 2000, 300000], fsGroup: 2000 },
            nodeSelector: { "kubernetes.io/os": "linux" },
            terminationGracePeriodSeconds: 30,
            tolerations: [{ key: "k", operator: "Exists", effect: "NoSchedule", tolerationSeconds: 60 }],
          },
        },
      },
      status: { replicas: 2, readyReplicas: 1 },
    };
    expect(roundTrip(deploy)).toEqual(deploy);
    // repeated numbers written one tag per element instead of packed decode the same
    expect(roundTrip(deploy, true)).toEqual(deploy);
  });

  it("round-trips a Service with int and named targetPorts", () => {
    const svc = {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "s" },
      spec: {
        type: "ClusterIP",
        clusterIP: "10.0.0.10",
        clusterIPs: ["10.0.0.10"],
        selector: { app: "s" },
        ports: [
          { name: "http", protocol: "TCP", port: 80, targetPort: 8080 },
          { name: "dns", protocol: "UDP", port: 53, targetPort: "dns" },
        ],
        ipFamilies: ["IPv4"],
        ipFamilyPolicy: "SingleStack",
        sessionAffinity: "None",
        allocateLoadBalancerNodePorts: false,
      },
      status: { loadBalancer: {} },
    };
    expect(roundTrip(svc)).toEqual(svc);
  });

  it("maps Time to RFC 3339 seconds, MicroTime to microseconds and zero Time to null", () => {
    const ev = {
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: {
        name: "e",
        creationTimestamp: "2024-05-06T07:08:09Z",
        deletionTimestamp: "2030-01-01T00:00:00Z",
      },
      eventTime: "2024-05-06T07:08:09.123456Z",
      deprecatedFirstTimestamp: null,
      reason: "Started",
      regarding: { kind: "Pod", name: "p", namespace: "default" },
      series: { count: 2, lastObservedTime: "2024-05-06T07:08:10.000001Z" },
    };
    expect(roundTrip(ev)).toEqual(ev);

    // nanoseconds on a metav1.Time are dropped (JSON only carries seconds)
    const time = new Writer().tag(1, 0).varint(1_700_000_000).tag(2, 0).varint(999_999_999).finish();
    const meta = new Writer().string(1, "n").len(8, time).finish();
    const ns = new Writer().len(1, meta).finish();
    expect(decodeKubernetesProtobuf(envelope("v1", "Namespace", ns))).toEqual({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "n", creationTimestamp: "2023-11-14T22:13:20Z" },
    });
  });

  it("formats times and durations like Go", () => {
    expect(formatTime(undefined, false)).toBeNull();
    expect(formatTime({ seconds: -62135596800n, nanos: 0 }, false)).toBeNull();
    expect(formatTime({ seconds: 0n, nanos: 5000 }, true)).toBe("1970-01-01T00:00:00.000005Z");
    expect(formatTime({ seconds: 1n, nanos: 999 }, true)).toBe("1970-01-01T00:00:01.000000Z");
    expect(() => formatTime({ seconds: 253402300800n, nanos: 0 }, false)).toThrow(/outside the years/);
    expect(formatDuration(0n)).toBe("0s");
    expect(formatDuration(999n)).toBe("999ns");
    expect(formatDuration(1500n)).toBe("1.5µs");
    expect(formatDuration(300_000_000n)).toBe("300ms");
    expect(formatDuration(1_000_000_000n)).toBe("1s");
    expect(formatDuration(90_500_000_000n)).toBe("1m30.5s");
    expect(formatDuration(3_600_000_000_000n)).toBe("1h0m0s");
    expect(formatDuration(-(26n * 3_600_000_000_000n + 61_000_000_000n))).toBe("-26h1m1s");
  });

  it("keeps zero values of pointer and required fields and drops zero omitempty fields", () => {
    // what Go marshals for a non-pointer field it always writes, even at zero
    const meta = new Writer()
      .string(1, "d")
      .string(2, "")
      .string(3, "")
      .tag(7, 0)
      .varint(0)
      .len(8, [])
      .finish();
    const port = new Writer().string(1, "").string(2, "TCP").tag(3, 0).varint(0).tag(5, 0).varint(0).finish();
    const spec = new Writer().len(1, port).string(3, "").finish();
    const svc = new Writer().len(1, meta).len(2, spec).finish();
    expect(decodeKubernetesProtobuf(envelope("v1", "Service", svc))).toEqual({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "d", creationTimestamp: null },
      // port has no omitempty in its JSON tag; nodePort, name and clusterIP do
      spec: { ports: [{ protocol: "TCP", port: 0 }] },
    });

    // replicas is *int32: present with zero means 0; absent means omitted
    const zero = encodeMessage("apps.v1.DeploymentSpec", { replicas: 0, paused: false });
    expect(decodeProtobufMessage("apps.v1.DeploymentSpec", zero)).toEqual({ replicas: 0 });
    expect(
      decodeProtobufMessage("apps.v1.DeploymentSpec", encodeMessage("apps.v1.DeploymentSpec", {})),
    ).toEqual({});
    // a pointer bool present with false is kept
    const cm = decodeProtobufMessage(
      "core.v1.ConfigMap",
      encodeMessage("core.v1.ConfigMap", { immutable: false }),
    );
    expect(cm).toEqual({ immutable: false });
  });

  it("skips unknown fields of every wire type", () => {
    const cm = encodeMessage("core.v1.ConfigMap", { metadata: { name: "c" }, data: { a: "b" } });
    const extra = new Writer()
      .tag(900, 0)
      .varint(12345678901n)
      .tag(901, 1)
      .raw([1, 2, 3, 4, 5, 6, 7, 8])
      .len(902, [9, 9, 9])
      .tag(903, 5)
      .raw([1, 2, 3, 4])
      .finish();
    const body = envelope("v1", "ConfigMap", Uint8Array.from([...extra, ...cm, ...extra]));
    expect(decodeKubernetesProtobuf(body)).toEqual({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c" },
      data: { a: "b" },
    });
  });

  it("inlines embedded structs (volume sources, probe handlers, local object references)", () => {
    const vol = encodeMessage("core.v1.Volume", {
      name: "v",
      projected: {
        sources: [
          { secret: { name: "s", items: [{ key: "k", path: "p", mode: 256 }] } },
          { configMap: { name: "c" } },
        ],
      },
    });
    expect(decodeProtobufMessage("core.v1.Volume", vol)).toEqual({
      name: "v",
      projected: {
        sources: [
          { secret: { name: "s", items: [{ key: "k", path: "p", mode: 256 }] } },
          { configMap: { name: "c" } },
        ],
      },
    });
    // Volume field 2 is the VolumeSource; its fields must land beside `name`
    const raw = new Writer()
      .string(1, "v")
      .len(2, new Writer().len(1, new Writer().string(1, "/data").finish()).finish())
      .finish();
    expect(decodeProtobufMessage("core.v1.Volume", raw)).toEqual({ name: "v", hostPath: { path: "/data" } });
  });

  it("uses the JSON names where they differ from the proto names", () => {
    const ic = {
      apiVersion: "networking.k8s.io/v1",
      kind: "IngressClass",
      metadata: { name: "nginx" },
      spec: {
        controller: "k8s.io/ingress-nginx",
        parameters: { apiGroup: "k8s.example.com", kind: "P", name: "p" },
      },
    };
    expect(roundTrip(ic)).toEqual(ic);
  });

  it("decodes RBAC, Ingress, Scale, APIService, HPA, Lease and review kinds", () => {
    const objects: Record<string, unknown>[] = [
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: { name: "r" },
        rules: [{ verbs: ["get", "list"], apiGroups: [""], resources: ["pods"], resourceNames: ["a"] }],
        aggregationRule: { clusterRoleSelectors: [{ matchLabels: { x: "y" } }] },
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: "rb", namespace: "n" },
        subjects: [{ kind: "ServiceAccount", name: "sa", namespace: "n" }],
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "r" },
      },
      {
        apiVersion: "networking.k8s.io/v1",
        kind: "Ingress",
        metadata: { name: "i" },
        spec: {
          ingressClassName: "nginx",
          tls: [{ hosts: ["a.example.com"], secretName: "tls" }],
          rules: [
            {
              host: "a.example.com",
              http: {
                paths: [
                  {
                    path: "/",
                    pathType: "Prefix",
                    backend: { service: { name: "svc", port: { number: 80 } } },
                  },
                  {
                    path: "/x",
                    pathType: "Exact",
                    backend: { service: { name: "svc", port: { name: "http" } } },
                  },
                ],
              },
            },
          ],
          defaultBackend: { resource: { apiGroup: "k8s.example.com", kind: "Bucket", name: "b" } },
        },
      },
      {
        apiVersion: "autoscaling/v1",
        kind: "Scale",
        metadata: { name: "d", namespace: "n" },
        spec: { replicas: 5 },
        status: { replicas: 3, selector: "app=d" },
      },
      {
        apiVersion: "apiregistration.k8s.io/v1",
        kind: "APIService",
        metadata: { name: "v1beta1.metrics.k8s.io" },
        spec: {
          service: { namespace: "kube-system", name: "metrics-server", port: 443 },
          group: "metrics.k8s.io",
          version: "v1beta1",
          insecureSkipTLSVerify: true,
          caBundle: Buffer.from("-----BEGIN CERTIFICATE-----").toString("base64"),
          groupPriorityMinimum: 100,
          versionPriority: 0,
        },
        status: {
          conditions: [{ type: "Available", status: "True", lastTransitionTime: "2025-01-02T03:04:05Z" }],
        },
      },
      {
        apiVersion: "autoscaling/v2",
        kind: "HorizontalPodAutoscaler",
        metadata: { name: "h" },
        spec: {
          scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "d" },
          minReplicas: 1,
          maxReplicas: 10,
          metrics: [
            {
              type: "Resource",
              resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 50 } },
            },
            {
              type: "Pods",
              pods: {
                metric: { name: "rps", selector: { matchLabels: { a: "b" } } },
                target: { type: "AverageValue", averageValue: "100m" },
              },
            },
          ],
          behavior: {
            scaleDown: {
              stabilizationWindowSeconds: 300,
              policies: [{ type: "Percent", value: 10, periodSeconds: 60 }],
            },
          },
        },
      },
      {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: "l" },
        spec: { holderIdentity: "me", leaseDurationSeconds: 15, renewTime: "2025-01-02T03:04:05.678901Z" },
      },
      {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        metadata: {},
        spec: {
          user: "alice",
          groups: ["g"],
          extra: { scopes: ["a", "b"], empty: [] },
          resourceAttributes: { verb: "get", resource: "pods", namespace: "n" },
        },
        status: { allowed: false },
      },
      {
        apiVersion: "v1",
        kind: "DeleteOptions",
        gracePeriodSeconds: 0,
        propagationPolicy: "Foreground",
        dryRun: ["All"],
      },
    ];
    for (const obj of objects) expect(roundTrip(obj)).toEqual(obj);
  });

  it("decodes DeleteOptions under any group version and managedFields as JSON", () => {
    const del = encodeMessage("meta.v1.DeleteOptions", {
      preconditions: { uid: "u" },
      orphanDependents: true,
    });
    expect(decodeKubernetesProtobuf(envelope("apps/v1", "DeleteOptions", del))).toEqual({
      apiVersion: "apps/v1",
      kind: "DeleteOptions",
      preconditions: { uid: "u" },
      orphanDependents: true,
    });
    const meta = {
      name: "x",
      managedFields: [
        {
          manager: "kubectl",
          operation: "Apply",
          apiVersion: "v1",
          time: "2025-01-01T00:00:00Z",
          fieldsType: "FieldsV1",
          fieldsV1: { "f:data": { "f:a": {} } },
        },
      ],
    };
    expect(decodeProtobufMessage("meta.v1.ObjectMeta", encodeMessage("meta.v1.ObjectMeta", meta))).toEqual(
      meta,
    );
  });

  it("resolves the message type from apiVersion and kind", () => {
    expect(protobufMessageFor("v1", "Namespace")).toBe("core.v1.Namespace");
    expect(protobufMessageFor("apps/v1", "Deployment")).toBe("apps.v1.Deployment");
    expect(protobufMessageFor("events.k8s.io/v1", "Event")).toBe("events.v1.Event");
    expect(protobufMessageFor("v1", "Event")).toBe("core.v1.Event");
    expect(protobufMessageFor("autoscaling/v1", "HorizontalPodAutoscaler")).toBe(
      "autoscaling.v1.HorizontalPodAutoscaler",
    );
    expect(protobufMessageFor("policy/v1", "Eviction")).toBe("policy.v1.Eviction");
    expect(protobufMessageFor("v1", "Binding")).toBe("core.v1.Binding");
    expect(protobufMessageFor("apps/v1", "Namespace")).toBeUndefined();
  });
});

describe("decodeKubernetesProtobuf errors", () => {
  const good = encodeKubernetesProtobuf({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" } });

  it("rejects a body without the magic", () => {
    expect(errorOf(() => decodeKubernetesProtobuf(new Uint8Array(0))).message).toMatch(/magic/);
    expect(errorOf(() => decodeKubernetesProtobuf(Buffer.from('{"kind":"ConfigMap"}'))).status).toBe(400);
    expect(
      errorOf(() => decodeKubernetesProtobuf(Uint8Array.from([0x6b, 0x38, 0x73, 0x01]))).message,
    ).toMatch(/magic/);
  });

  it("rejects truncated data", () => {
    const truncatedVarint = Uint8Array.from([0x6b, 0x38, 0x73, 0x00, 0x0a, 0x80]);
    expect(errorOf(() => decodeKubernetesProtobuf(truncatedVarint)).message).toMatch(
      /truncated inside a varint/,
    );
    // magic(4) + typeMeta field (2 + 15) + raw field (2 + 5) + contentEncoding + contentType:
    // every cut inside the typeMeta or raw field must fail (a cut between fields is a valid body)
    expect(good.length).toBe(32);
    for (let n = 5; n < 28; n++) {
      if (n === 21) continue;
      const err = errorOf(() => decodeKubernetesProtobuf(good.subarray(0, n)));
      expect(err.status, `cut at ${n}`).toBe(400);
      expect(err.message, `cut at ${n}`).toMatch(/truncated/);
    }
    const inner = envelope("v1", "ConfigMap", Uint8Array.from([0x0a, 0x05, 0x0a, 0x01]));
    expect(errorOf(() => decodeKubernetesProtobuf(inner)).message).toMatch(/truncated: length 5/);
    const overlong = envelope("v1", "ConfigMap", Uint8Array.from([0x20, ...new Array(10).fill(0xff), 0x01]));
    expect(errorOf(() => decodeKubernetesProtobuf(overlong)).message).toMatch(/longer than 10 bytes/);
  });

  it("rejects unknown kinds and envelopes without a kind with 415 / 400", () => {
    const e = errorOf(() =>
      decodeKubernetesProtobuf(envelope("example.com/v1", "Widget", new Uint8Array(0))),
    );
    expect(e.status).toBe(415);
    expect(e.message).toContain('"Widget"');
    expect(e.message).toContain('"example.com/v1"');
    expect(errorOf(() => decodeKubernetesProtobuf(envelope("v1", "", new Uint8Array(0)))).message).toMatch(
      /no kind/,
    );
  });

  it("names a message type missing from the table instead of dropping data", () => {
    const e = errorOf(() => decodeProtobufMessage("core.v1.PersistentVolume", Uint8Array.from([0x0a, 0x00])));
    expect(e.status).toBe(415);
    expect(e.message).toContain("k8s.io.api.core.v1.PersistentVolume");
  });

  it("rejects a wrong wire type and a content encoding", () => {
    // ConfigMap.metadata (1) sent as a varint
    const e = errorOf(() =>
      decodeKubernetesProtobuf(envelope("v1", "ConfigMap", Uint8Array.from([0x08, 0x01]))),
    );
    expect(e.message).toMatch(
      /wire type 0 is invalid for message field metadata \(1\) of k8s\.io\.api\.core\.v1\.ConfigMap/,
    );
    const typeMeta = new Writer().string(1, "v1").string(2, "ConfigMap").finish();
    const gz = new Writer().len(1, typeMeta).len(2, []).string(3, "gzip").finish();
    const err = errorOf(() => decodeKubernetesProtobuf(Uint8Array.from([0x6b, 0x38, 0x73, 0x00, ...gz])));
    expect(err.status).toBe(415);
    expect(err.message).toContain("gzip");
  });
});

describe("message table", () => {
  const special = new Set([
    "meta.v1.Time",
    "meta.v1.MicroTime",
    "meta.v1.Duration",
    "meta.v1.FieldsV1",
    "resource.Quantity",
    "intstr.IntOrString",
    "runtime.RawExtension",
  ]);
  const scalars = new Set([
    "string",
    "bytes",
    "bool",
    "int32",
    "int64",
    "uint32",
    "uint64",
    "double",
    "float",
  ]);
  const known = (t: string) => scalars.has(t) || special.has(t) || t in MESSAGES;

  it("references only known types, with unique field numbers and names", () => {
    const missing: string[] = [];
    for (const [key, fields] of Object.entries(MESSAGES)) {
      expect(new Set(fields.map((f) => f[0])).size, key).toBe(fields.length);
      expect(new Set(fields.map((f) => f[1])).size, key).toBe(fields.length);
      for (const [, name, type, flags] of fields) {
        const types = type.startsWith("map:") ? type.split(":").slice(1) : [type];
        for (const t of types) if (!known(t)) missing.push(`${key}.${name}: ${t}`);
        if (flags === "i") expect(type in MESSAGES, `${key}.${name}`).toBe(true);
      }
    }
    expect(missing).toEqual([]);
    for (const key of UNWRAPPED) expect(MESSAGES[key]).toEqual([[1, "items", "string", "r"]]);
  });

  it("has a root message for every served kind", () => {
    const served = [
      "v1/Namespace",
      "v1/Pod",
      "v1/Service",
      "v1/Endpoints",
      "v1/Node",
      "v1/ConfigMap",
      "v1/Secret",
      "v1/ServiceAccount",
      "v1/Event",
      "v1/Binding",
      "events.k8s.io/v1/Event",
      "discovery.k8s.io/v1/EndpointSlice",
      "coordination.k8s.io/v1/Lease",
      "apps/v1/Deployment",
      "apps/v1/ReplicaSet",
      "apps/v1/DaemonSet",
      "networking.k8s.io/v1/Ingress",
      "networking.k8s.io/v1/IngressClass",
      "autoscaling/v1/HorizontalPodAutoscaler",
      "autoscaling/v2/HorizontalPodAutoscaler",
      "autoscaling/v1/Scale",
      "policy/v1/Eviction",
      "apiregistration.k8s.io/v1/APIService",
      "rbac.authorization.k8s.io/v1/Role",
      "rbac.authorization.k8s.io/v1/ClusterRole",
      "rbac.authorization.k8s.io/v1/RoleBinding",
      "rbac.authorization.k8s.io/v1/ClusterRoleBinding",
    ];
    for (const k of served) expect(MESSAGES[KINDS[k] ?? ""], k).toBeDefined();
  });

  it("knows the ObjectMeta and PodSpec layouts kubectl relies on", () => {
    const meta = new Map(MESSAGES["meta.v1.ObjectMeta"]!.map((f) => [f[1], f]));
    expect(meta.get("name")).toEqual([1, "name", "string"]);
    expect(meta.get("generateName")).toEqual([2, "generateName", "string"]);
    expect(meta.get("resourceVersion")).toEqual([6, "resourceVersion", "string"]);
    expect(meta.get("labels")).toEqual([11, "labels", "map:string:string"]);
    expect(meta.get("managedFields")).toEqual([17, "managedFields", "meta.v1.ManagedFieldsEntry", "r"]);
    const container = new Map(MESSAGES["core.v1.Container"]!.map((f) => [f[1], f]));
    expect(container.get("image")).toEqual([2, "image", "string"]);
    expect(container.get("ports")).toEqual([6, "ports", "core.v1.ContainerPort", "r"]);
    expect(container.get("resources")).toEqual([8, "resources", "core.v1.ResourceRequirements"]);
  });
});
