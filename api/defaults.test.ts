import { describe, expect, test } from "vitest";
import { applyDefaults, defaultPullPolicy } from "./defaults.js";
import type { KubeObject } from "./object.js";

type O = Record<string, unknown>;

function defaulted(apiVersion: string, kind: string, body: O): KubeObject {
  const obj = {
    apiVersion,
    kind,
    metadata: { name: "x", namespace: "default" },
    ...structuredClone(body),
  } as KubeObject;
  applyDefaults(apiVersion, kind, obj);
  return obj;
}

const spec = (o: KubeObject): O => o.spec as O;

describe("image pull policy", () => {
  test.each([
    ["nginx", "Always"],
    ["nginx:latest", "Always"],
    ["docker.io/library/nginx", "Always"],
    ["registry:5000/nginx", "Always"],
    ["registry:5000/nginx:1.25", "IfNotPresent"],
    ["nginx:1.25", "IfNotPresent"],
    ["nginx@sha256:abcd", "IfNotPresent"],
    ["nginx:latest@sha256:abcd", "Always"],
    ["", "IfNotPresent"],
  ])("%s -> %s", (image, policy) => {
    expect(defaultPullPolicy(image)).toBe(policy);
  });
});

describe("Pod", () => {
  const pod = () =>
    defaulted("v1", "Pod", {
      spec: {
        containers: [
          {
            name: "web",
            image: "nginx",
            ports: [{ containerPort: 80 }],
            livenessProbe: { httpGet: { port: 80 } },
            readinessProbe: { tcpSocket: { port: 80 }, periodSeconds: 5 },
            resources: { limits: { cpu: "1", memory: "1Gi" }, requests: { cpu: "500m" } },
            env: [{ name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }],
          },
        ],
        initContainers: [{ name: "init", image: "busybox:1.36" }],
        volumes: [
          { name: "cfg", configMap: { name: "c" } },
          { name: "scratch" },
          { name: "hp", hostPath: { path: "/tmp" } },
        ],
      },
    });

  test("pod-level defaults", () => {
    const s = spec(pod());
    expect(s).toMatchObject({
      restartPolicy: "Always",
      dnsPolicy: "ClusterFirst",
      schedulerName: "default-scheduler",
      terminationGracePeriodSeconds: 30,
      securityContext: {},
      enableServiceLinks: true,
      preemptionPolicy: "PreemptLowerPriority",
      priority: 0,
    });
  });

  test("container defaults", () => {
    const [c] = spec(pod()).containers as O[];
    expect(c).toMatchObject({
      imagePullPolicy: "Always",
      terminationMessagePath: "/dev/termination-log",
      terminationMessagePolicy: "File",
      ports: [{ containerPort: 80, protocol: "TCP" }],
    });
    expect(c!.livenessProbe).toEqual({
      httpGet: { port: 80, path: "/", scheme: "HTTP" },
      timeoutSeconds: 1,
      periodSeconds: 10,
      successThreshold: 1,
      failureThreshold: 3,
    });
    expect((c!.readinessProbe as O).periodSeconds).toBe(5);
    expect((c!.env as O[])[0]).toEqual({
      name: "NODE",
      valueFrom: { fieldRef: { fieldPath: "spec.nodeName", apiVersion: "v1" } },
    });
  });

  test("requests default to limits per resource, on pods", () => {
    const [c] = spec(pod()).containers as O[];
    expect(c!.resources).toEqual({
      limits: { cpu: "1", memory: "1Gi" },
      requests: { cpu: "500m", memory: "1Gi" },
    });
  });

  test("init containers get container defaults and resources {}", () => {
    const [c] = spec(pod()).initContainers as O[];
    expect(c).toMatchObject({
      imagePullPolicy: "IfNotPresent",
      resources: {},
      terminationMessagePolicy: "File",
    });
  });

  test("volume defaults", () => {
    const v = spec(pod()).volumes as O[];
    expect(v[0]).toEqual({ name: "cfg", configMap: { name: "c", defaultMode: 420 } });
    expect(v[1]).toEqual({ name: "scratch", emptyDir: {} });
    expect(v[2]).toEqual({ name: "hp", hostPath: { path: "/tmp", type: "" } });
  });

  test("not-ready and unreachable tolerations are added", () => {
    expect(spec(pod()).tolerations).toEqual([
      {
        key: "node.kubernetes.io/not-ready",
        operator: "Exists",
        effect: "NoExecute",
        tolerationSeconds: 300,
      },
      {
        key: "node.kubernetes.io/unreachable",
        operator: "Exists",
        effect: "NoExecute",
        tolerationSeconds: 300,
      },
    ]);
  });

  test("existing tolerations are kept and not duplicated", () => {
    const p = defaulted("v1", "Pod", {
      spec: {
        containers: [{ name: "a", image: "a" }],
        tolerations: [
          {
            key: "node.kubernetes.io/not-ready",
            operator: "Exists",
            effect: "NoExecute",
            tolerationSeconds: 60,
          },
        ],
      },
    });
    expect(spec(p).tolerations).toEqual([
      { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 60 },
      {
        key: "node.kubernetes.io/unreachable",
        operator: "Exists",
        effect: "NoExecute",
        tolerationSeconds: 300,
      },
    ]);
  });

  test("a tolerate-everything toleration suppresses the defaults", () => {
    const p = defaulted("v1", "Pod", {
      spec: { containers: [{ name: "a", image: "a" }], tolerations: [{ operator: "Exists" }] },
    });
    expect(spec(p).tolerations).toEqual([{ operator: "Exists" }]);
  });

  test("a NoSchedule toleration does not count", () => {
    const p = defaulted("v1", "Pod", {
      spec: {
        containers: [{ name: "a", image: "a" }],
        tolerations: [{ key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoSchedule" }],
      },
    });
    expect(spec(p).tolerations as O[]).toHaveLength(3);
  });

  test("user values are kept", () => {
    const p = defaulted("v1", "Pod", {
      spec: {
        restartPolicy: "Never",
        dnsPolicy: "Default",
        terminationGracePeriodSeconds: 0,
        enableServiceLinks: false,
        containers: [
          {
            name: "a",
            image: "a:1",
            imagePullPolicy: "Always",
            terminationMessagePolicy: "FallbackToLogsOnError",
          },
        ],
      },
    });
    expect(spec(p)).toMatchObject({
      restartPolicy: "Never",
      dnsPolicy: "Default",
      terminationGracePeriodSeconds: 0,
      enableServiceLinks: false,
    });
    expect((spec(p).containers as O[])[0]).toMatchObject({
      imagePullPolicy: "Always",
      terminationMessagePolicy: "FallbackToLogsOnError",
    });
  });

  test("hostNetwork copies containerPort to hostPort", () => {
    const p = defaulted("v1", "Pod", {
      spec: {
        hostNetwork: true,
        containers: [{ name: "a", image: "a", ports: [{ containerPort: 53, protocol: "UDP" }] }],
      },
    });
    expect((spec(p).containers as O[])[0]!.ports).toEqual([
      { containerPort: 53, protocol: "UDP", hostPort: 53 },
    ]);
  });

  test("hostNetwork ports are not defaulted in templates", () => {
    const d = defaulted("apps/v1", "Deployment", {
      spec: {
        template: {
          spec: {
            hostNetwork: true,
            containers: [{ name: "a", image: "a", ports: [{ containerPort: 53 }] }],
          },
        },
      },
    });
    const c = (((spec(d).template as O).spec as O).containers as O[])[0]!;
    expect(c.ports).toEqual([{ containerPort: 53, protocol: "TCP" }]);
  });

  test("explicit zeros in probes and an empty path are defaulted like upstream", () => {
    const p = defaulted("v1", "Pod", {
      spec: {
        containers: [
          {
            name: "a",
            image: "a",
            startupProbe: { httpGet: { port: 80, path: "" }, periodSeconds: 0, failureThreshold: 30 },
          },
        ],
      },
    });
    expect((spec(p).containers as O[])[0]!.startupProbe).toEqual({
      httpGet: { port: 80, path: "/", scheme: "HTTP" },
      periodSeconds: 10,
      failureThreshold: 30,
      timeoutSeconds: 1,
      successThreshold: 1,
    });
  });

  test("builtin priority classes", () => {
    const p = defaulted("v1", "Pod", {
      spec: { priorityClassName: "system-node-critical", containers: [{ name: "a", image: "a" }] },
    });
    expect(spec(p).priority).toBe(2000001000);
    const q = defaulted("v1", "Pod", {
      spec: { priorityClassName: "custom", containers: [{ name: "a", image: "a" }] },
    });
    expect(spec(q).priority).toBeUndefined();
  });

  test("defaulting twice changes nothing", () => {
    const p = pod();
    const again = structuredClone(p);
    applyDefaults("v1", "Pod", again);
    expect(again).toEqual(p);
  });

  test("a pod without spec gets one", () => {
    const p = defaulted("v1", "Pod", {});
    expect(spec(p).restartPolicy).toBe("Always");
  });
});

describe("Service", () => {
  test("ClusterIP defaults", () => {
    const s = spec(
      defaulted("v1", "Service", {
        spec: {
          selector: { app: "x" },
          ports: [{ port: 80 }, { port: 53, protocol: "UDP", targetPort: "dns" }],
        },
      }),
    );
    expect(s).toEqual({
      selector: { app: "x" },
      ports: [
        { port: 80, protocol: "TCP", targetPort: 80 },
        { port: 53, protocol: "UDP", targetPort: "dns" },
      ],
      type: "ClusterIP",
      sessionAffinity: "None",
      internalTrafficPolicy: "Cluster",
      ipFamilyPolicy: "SingleStack",
    });
  });

  test("ClientIP affinity gets a timeout", () => {
    const s = spec(
      defaulted("v1", "Service", { spec: { sessionAffinity: "ClientIP", ports: [{ port: 80 }] } }),
    );
    expect(s.sessionAffinityConfig).toEqual({ clientIP: { timeoutSeconds: 10800 } });
    const t = spec(
      defaulted("v1", "Service", {
        spec: { sessionAffinity: "ClientIP", sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } },
      }),
    );
    expect(t.sessionAffinityConfig).toEqual({ clientIP: { timeoutSeconds: 60 } });
  });

  test("sessionAffinity None drops a stray sessionAffinityConfig", () => {
    const s = spec(
      defaulted("v1", "Service", {
        spec: { sessionAffinityConfig: { clientIP: { timeoutSeconds: 5 } }, ports: [{ port: 80 }] },
      }),
    );
    expect(s.sessionAffinityConfig).toBeUndefined();
  });

  test("a ClusterIP service with externalIPs gets externalTrafficPolicy", () => {
    const s = spec(
      defaulted("v1", "Service", { spec: { externalIPs: ["192.0.2.1"], ports: [{ port: 80 }] } }),
    );
    expect(s.externalTrafficPolicy).toBe("Cluster");
  });

  test("LoadBalancer ingress IPs get ipMode VIP", () => {
    const o = defaulted("v1", "Service", {
      spec: { type: "LoadBalancer", ports: [{ port: 80 }] },
      status: {
        loadBalancer: {
          ingress: [
            { ip: "192.0.2.1" },
            { hostname: "lb.example.com" },
            { ip: "192.0.2.2", ipMode: "Proxy" },
          ],
        },
      },
    });
    expect(((o.status as O).loadBalancer as O).ingress).toEqual([
      { ip: "192.0.2.1", ipMode: "VIP" },
      { hostname: "lb.example.com" },
      { ip: "192.0.2.2", ipMode: "Proxy" },
    ]);
  });

  test("NodePort and LoadBalancer", () => {
    const np = spec(defaulted("v1", "Service", { spec: { type: "NodePort", ports: [{ port: 80 }] } }));
    expect(np.externalTrafficPolicy).toBe("Cluster");
    expect(np.allocateLoadBalancerNodePorts).toBeUndefined();
    const lb = spec(
      defaulted("v1", "Service", {
        spec: { type: "LoadBalancer", externalTrafficPolicy: "Local", ports: [{ port: 80 }] },
      }),
    );
    expect(lb).toMatchObject({ externalTrafficPolicy: "Local", allocateLoadBalancerNodePorts: true });
  });

  test("ExternalName gets no traffic or IP family policy", () => {
    const s = spec(
      defaulted("v1", "Service", { spec: { type: "ExternalName", externalName: "example.com" } }),
    );
    expect(s).toEqual({ type: "ExternalName", externalName: "example.com", sessionAffinity: "None" });
  });

  test("clusterIP and clusterIPs are kept in step", () => {
    expect(spec(defaulted("v1", "Service", { spec: { clusterIP: "None" } }))).toMatchObject({
      clusterIP: "None",
      clusterIPs: ["None"],
    });
    expect(spec(defaulted("v1", "Service", { spec: { clusterIPs: ["10.0.0.5"] } }))).toMatchObject({
      clusterIP: "10.0.0.5",
    });
  });

  test("two IP families default to RequireDualStack", () => {
    const s = spec(defaulted("v1", "Service", { spec: { ipFamilies: ["IPv4", "IPv6"] } }));
    expect(s.ipFamilyPolicy).toBe("RequireDualStack");
  });
});

describe("apps", () => {
  const template = { metadata: { labels: { app: "x" } }, spec: { containers: [{ name: "a", image: "a" }] } };

  test("Deployment", () => {
    const s = spec(
      defaulted("apps/v1", "Deployment", { spec: { selector: { matchLabels: { app: "x" } }, template } }),
    );
    expect(s).toMatchObject({
      replicas: 1,
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    });
    const pod = (s.template as O).spec as O;
    expect(pod).toMatchObject({
      restartPolicy: "Always",
      dnsPolicy: "ClusterFirst",
      schedulerName: "default-scheduler",
      terminationGracePeriodSeconds: 30,
    });
    // pod-only defaults stay off templates
    expect(pod.enableServiceLinks).toBeUndefined();
    expect(pod.tolerations).toBeUndefined();
    expect(pod.priority).toBeUndefined();
  });

  test("Recreate gets no rollingUpdate", () => {
    const s = spec(
      defaulted("apps/v1", "Deployment", { spec: { strategy: { type: "Recreate" }, template } }),
    );
    expect(s.strategy).toEqual({ type: "Recreate" });
  });

  test("partial rollingUpdate is completed", () => {
    const s = spec(
      defaulted("apps/v1", "Deployment", {
        spec: { replicas: 0, strategy: { rollingUpdate: { maxSurge: 1 } }, template },
      }),
    );
    expect(s.replicas).toBe(0);
    expect(s.strategy).toEqual({
      type: "RollingUpdate",
      rollingUpdate: { maxSurge: 1, maxUnavailable: "25%" },
    });
  });

  test("ReplicaSet", () => {
    const s = spec(defaulted("apps/v1", "ReplicaSet", { spec: { template } }));
    expect(s.replicas).toBe(1);
    expect(((s.template as O).spec as O).restartPolicy).toBe("Always");
  });

  test("DaemonSet", () => {
    const s = spec(defaulted("apps/v1", "DaemonSet", { spec: { template } }));
    expect(s).toMatchObject({
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
      revisionHistoryLimit: 10,
    });
    const od = spec(
      defaulted("apps/v1", "DaemonSet", { spec: { updateStrategy: { type: "OnDelete" }, template } }),
    );
    expect(od.updateStrategy).toEqual({ type: "OnDelete" });
  });
});

describe("other kinds", () => {
  test("Namespace on create gets the kubernetes finalizer and Active phase", () => {
    const ns = defaulted("v1", "Namespace", {});
    expect(ns.spec).toEqual({ finalizers: ["kubernetes"] });
    expect(ns.metadata.labels).toEqual({ "kubernetes.io/metadata.name": "x" });
    expect(ns.status).toEqual({ phase: "Active" });
    const withOther = defaulted("v1", "Namespace", { spec: { finalizers: ["example.com/x"] } });
    expect(spec(withOther).finalizers).toEqual(["example.com/x", "kubernetes"]);
  });

  test("Namespace on update (has resourceVersion) does not get the finalizer back", () => {
    const ns = {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "a", resourceVersion: "5" },
      spec: { finalizers: [] },
    } as KubeObject;
    applyDefaults("v1", "Namespace", ns);
    expect(ns.spec).toEqual({ finalizers: [] });
  });

  test("Node allocatable defaults to capacity", () => {
    const n = defaulted("v1", "Node", { status: { capacity: { cpu: "2", pods: "110" } } });
    expect((n.status as O).allocatable).toEqual({ cpu: "2", pods: "110" });
    const m = defaulted("v1", "Node", { status: { capacity: { cpu: "2" }, allocatable: { cpu: "1" } } });
    expect((m.status as O).allocatable).toEqual({ cpu: "1" });
  });

  test("Secret type and stringData", () => {
    const s = defaulted("v1", "Secret", { data: { a: "YQ==" }, stringData: { b: "hello", a: "x" } });
    expect(s.type).toBe("Opaque");
    expect(s.data).toEqual({ a: "eA==", b: "aGVsbG8=" });
    expect(s.stringData).toBeUndefined();
    expect(defaulted("v1", "Secret", { type: "kubernetes.io/tls" }).type).toBe("kubernetes.io/tls");
  });

  test("Endpoints ports get TCP", () => {
    const e = defaulted("v1", "Endpoints", {
      subsets: [{ addresses: [{ ip: "10.0.0.1" }], ports: [{ port: 80 }] }],
    });
    expect((e.subsets as O[])[0]!.ports).toEqual([{ port: 80, protocol: "TCP" }]);
  });

  test("EndpointSlice ports get name and protocol, endpoints are untouched", () => {
    const e = defaulted("discovery.k8s.io/v1", "EndpointSlice", {
      addressType: "IPv4",
      endpoints: [{ addresses: ["10.0.0.1"] }],
      ports: [{ port: 80 }, { name: "dns", port: 53, protocol: "UDP" }],
    });
    expect(e.ports).toEqual([
      { port: 80, name: "", protocol: "TCP" },
      { name: "dns", port: 53, protocol: "UDP" },
    ]);
    expect(e.endpoints).toEqual([{ addresses: ["10.0.0.1"] }]);
  });

  test("IngressClass parameters scope", () => {
    const ic = defaulted("networking.k8s.io/v1", "IngressClass", {
      spec: { controller: "a.io/b", parameters: { kind: "K", name: "n" } },
    });
    expect((spec(ic).parameters as O).scope).toBe("Cluster");
  });

  test("Ingress pathType is not defaulted", () => {
    const ing = defaulted("networking.k8s.io/v1", "Ingress", {
      spec: { rules: [{ http: { paths: [{ path: "/", backend: {} }] } }] },
    });
    expect(ing.spec).toEqual({ rules: [{ http: { paths: [{ path: "/", backend: {} }] } }] });
  });

  test("HPA v2: minReplicas and the CPU metric", () => {
    const h = spec(
      defaulted("autoscaling/v2", "HorizontalPodAutoscaler", {
        spec: { maxReplicas: 5, scaleTargetRef: { kind: "Deployment", name: "d" } },
      }),
    );
    expect(h.minReplicas).toBe(1);
    expect(h.metrics).toEqual([
      {
        type: "Resource",
        resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 80 } },
      },
    ]);
    expect(h.behavior).toBeUndefined();
  });

  test("HPA v2: behavior given is completed", () => {
    const h = spec(
      defaulted("autoscaling/v2", "HorizontalPodAutoscaler", {
        spec: {
          maxReplicas: 5,
          metrics: [{ type: "Pods" }],
          behavior: { scaleDown: { stabilizationWindowSeconds: 60 } },
        },
      }),
    );
    expect(h.metrics).toEqual([{ type: "Pods" }]);
    expect(h.behavior).toEqual({
      scaleUp: {
        selectPolicy: "Max",
        stabilizationWindowSeconds: 0,
        policies: [
          { type: "Pods", value: 4, periodSeconds: 15 },
          { type: "Percent", value: 100, periodSeconds: 15 },
        ],
      },
      scaleDown: {
        stabilizationWindowSeconds: 60,
        selectPolicy: "Max",
        policies: [{ type: "Percent", value: 100, periodSeconds: 15 }],
      },
    });
  });

  test("HPA v1: minReplicas only", () => {
    const h = spec(defaulted("autoscaling/v1", "HorizontalPodAutoscaler", { spec: { maxReplicas: 3 } }));
    expect(h).toEqual({ maxReplicas: 3, minReplicas: 1 });
  });

  test("RBAC subjects and roleRef", () => {
    const b = defaulted("rbac.authorization.k8s.io/v1", "RoleBinding", {
      roleRef: { kind: "Role", name: "r" },
      subjects: [
        { kind: "User", name: "alice" },
        { kind: "Group", name: "devs" },
        { kind: "ServiceAccount", name: "sa", namespace: "default" },
        { kind: "User", name: "bob", apiGroup: "custom" },
      ],
    });
    expect(b.roleRef).toEqual({ kind: "Role", name: "r", apiGroup: "rbac.authorization.k8s.io" });
    expect((b.subjects as O[]).map((s) => s.apiGroup)).toEqual([
      "rbac.authorization.k8s.io",
      "rbac.authorization.k8s.io",
      "",
      "custom",
    ]);
  });

  test("APIService service port", () => {
    const a = defaulted("apiregistration.k8s.io/v1", "APIService", {
      spec: { service: { namespace: "kube-system", name: "m" } },
    });
    expect((spec(a).service as O).port).toBe(443);
  });

  test("kinds without defaults are left alone", () => {
    for (const [v, k] of [
      ["v1", "ConfigMap"],
      ["v1", "Event"],
      ["coordination.k8s.io/v1", "Lease"],
      ["example.com/v1", "Widget"],
    ] as const) {
      const o = defaulted(v, k, { data: { a: "b" } });
      expect(o).toEqual({
        apiVersion: v,
        kind: k,
        metadata: { name: "x", namespace: "default" },
        data: { a: "b" },
      });
    }
  });
});
