import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { apiVersionOf, RESOURCES } from "./resources.js";
import {
  definitionName,
  definitionNameOfClass,
  definitions,
  hasModelClass,
  INT_OR_STRING,
  packageOf,
  QUANTITY,
  readAttributeTypeMap,
  readClassDoc,
  schemaBuildMs,
  schemaForDefinition,
  schemaForKind,
} from "./schema.js";
import type { ArrayNode, MapNode, ObjectNode, SchemaNode } from "./schema-types.js";

function obj(n: SchemaNode | undefined): ObjectNode {
  expect(n?.type).toBe("object");
  return n as ObjectNode;
}
function arr(n: SchemaNode | undefined): ArrayNode {
  expect(n?.type).toBe("array");
  return n as ArrayNode;
}
function map(n: SchemaNode | undefined): MapNode {
  expect(n?.type).toBe("map");
  return n as MapNode;
}

describe("definitions table", () => {
  it("builds once and reports its build time", () => {
    const a = definitions();
    expect(definitions()).toBe(a);
    expect(a.size).toBeGreaterThan(250);
    // not a timed assertion: the figure is reported by the build, and must exist
    expect(schemaBuildMs()).toBeGreaterThan(0);
    console.log(`schema table: ${a.size} definitions built in ${schemaBuildMs()?.toFixed(1)} ms`);
  });

  it("names every served kind and its List with the upstream definition name", () => {
    for (const r of RESOURCES) {
      const gv = apiVersionOf(r);
      const name = definitionName(gv, r.kind);
      expect(name, `${gv} ${r.kind}`).toBe(`${packageOf(r.group)}.${r.version}.${r.kind}`);
      expect(definitionName(gv, `${r.kind}List`)).toBe(`${packageOf(r.group)}.${r.version}.${r.kind}List`);
      expect(schemaForKind(gv, r.kind)?.fields.metadata?.definition).toBe(
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
      );
    }
  });

  it("uses the upstream names of the special packages", () => {
    expect(definitionName("v1", "Pod")).toBe("io.k8s.api.core.v1.Pod");
    expect(definitionName("events.k8s.io/v1", "Event")).toBe("io.k8s.api.events.v1.Event");
    expect(definitionName("v1", "Event")).toBe("io.k8s.api.core.v1.Event");
    expect(definitionName("apiregistration.k8s.io/v1", "APIService")).toBe(
      "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIService",
    );
    expect(definitionName("rbac.authorization.k8s.io/v1", "ClusterRole")).toBe(
      "io.k8s.api.rbac.v1.ClusterRole",
    );
    expect(definitionName("autoscaling/v1", "HorizontalPodAutoscaler")).toBe(
      "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler",
    );
    expect(definitionName("autoscaling/v2", "HorizontalPodAutoscaler")).toBe(
      "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
    );
    expect(definitionName("autoscaling/v1", "Scale")).toBe("io.k8s.api.autoscaling.v1.Scale");
    expect(definitionName("policy/v1", "Eviction")).toBe("io.k8s.api.policy.v1.Eviction");
    expect(definitionName("v1", "Binding")).toBe("io.k8s.api.core.v1.Binding");
    expect(definitionName("v1", "Status")).toBe("io.k8s.apimachinery.pkg.apis.meta.v1.Status");
    expect(definitionName("apps/v1", "DeleteOptions")).toBe(
      "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    );
    expect(definitionName("v1", "WatchEvent")).toBe("io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent");
    expect(definitionNameOfClass("V1PodTemplateSpec")).toBe("io.k8s.api.core.v1.PodTemplateSpec");
    expect(definitionNameOfClass("V1LabelSelector")).toBe(
      "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
    );
    expect(definitionNameOfClass("DiscoveryV1EndpointPort")).toBe("io.k8s.api.discovery.v1.EndpointPort");
    expect(definitionNameOfClass("CoreV1EndpointPort")).toBe("io.k8s.api.core.v1.EndpointPort");
    expect(definitionNameOfClass("V1Endpoint")).toBe("io.k8s.api.discovery.v1.Endpoint");
    expect(definitionName("v1", "Nope")).toBeUndefined();
    expect(schemaForKind("apps/v1", "Pod")).toBeUndefined();
  });

  it("puts every definition in the group the client-node API classes say (core wins shared types)", () => {
    const dir = join(
      dirname(
        createRequire(import.meta.url).resolve("@kubernetes/client-node/dist/gen/models/ObjectSerializer.js"),
      ),
      "..",
      "apis",
    );
    const apiGroups: Record<string, string> = {
      Core: "",
      Apps: "apps",
      Autoscaling: "autoscaling",
      Coordination: "coordination.k8s.io",
      Discovery: "discovery.k8s.io",
      Events: "events.k8s.io",
      Networking: "networking.k8s.io",
      Policy: "policy",
      RbacAuthorization: "rbac.authorization.k8s.io",
      Apiregistration: "apiregistration.k8s.io",
    };
    const topLevel = (file: string) =>
      new Set([...readFileSync(join(dir, file), "utf8").matchAll(/"([A-Za-z0-9]+)", ""/g)].map((m) => m[1]!));
    // subresource kinds of other groups: autoscaling/v1 Scale (apps, core), policy/v1 Eviction (core)
    const crossGroup = new Set(["V1Scale", "V1Eviction", "V1ScaleSpec", "V1ScaleStatus"]);
    let checked = 0;
    for (const f of readdirSync(dir)) {
      const m = /^([A-Z][A-Za-z]*?)(V\d+(?:alpha\d+|beta\d+)?)Api\.js$/.exec(f);
      if (!m || !(m[1]! in apiGroups)) continue;
      const group = apiGroups[m[1]!]!;
      for (const cls of topLevel(f)) {
        const name = definitionNameOfClass(cls);
        if (!name || name.startsWith("io.k8s.apimachinery.") || crossGroup.has(cls)) continue;
        expect(name, `${cls} in ${f}`).toBe(
          `${packageOf(group)}.${m[2]!.toLowerCase()}.${name.split(".").pop()}`,
        );
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(40);

    // everything reachable from a core/v1 top-level type is core (or meta); nothing else is core
    const coreReach = new Set<string>();
    const visit = (cls: string) => {
      if (coreReach.has(cls) || !hasModelClass(cls)) return;
      coreReach.add(cls);
      for (const a of readAttributeTypeMap(cls)) {
        const t = a.type.replace(/^Array<(.+)>$/, "$1").replace(/^\{ \[key: string\]: (.+); \}$/, "$1");
        if (/^[A-Z]\w*V\d/.test(t) || /^V\d/.test(t)) visit(t);
      }
    };
    for (const cls of topLevel("CoreV1Api.js")) if (!crossGroup.has(cls)) visit(cls);
    for (const def of definitions().values()) {
      if (!def.className || def.name.startsWith("io.k8s.apimachinery.")) continue;
      expect(def.name.startsWith("io.k8s.api.core.v1."), def.className).toBe(coreReach.has(def.className));
    }
  });
});

describe("reading the models", () => {
  it("reads class and field descriptions, unescaped, and required fields", () => {
    const doc = readClassDoc("V1PodSpec");
    expect(doc.description).toBe("PodSpec is a description of a pod.");
    expect(doc.fields.get("containers")?.required).toBe(true);
    expect(doc.fields.get("dnsPolicy")?.required).toBe(false);
    expect(doc.fields.get("dnsPolicy")?.description).toContain('Defaults to "ClusterFirst"');
    expect(doc.fields.get("dnsPolicy")?.description).toContain("'ClusterFirstWithHostNet'");
    expect(doc.fields.get("affinity")?.description).toBeUndefined();
    const meta = readClassDoc("V1ObjectMeta");
    expect(meta.fields.get("annotations")?.description).toMatch(
      /^Annotations is an unstructured key value map/,
    );
    expect(meta.fields.get("labels")?.required).toBe(false);
  });

  it("reads attribute types", () => {
    const port = readAttributeTypeMap("V1ContainerPort").find((a) => a.name === "containerPort");
    expect(port).toMatchObject({ type: "number", format: "int32" });
  });
});

describe("schemaForKind", () => {
  it("gives Pod its TypeMeta, ObjectMeta, spec and status", () => {
    const pod = schemaForKind("v1", "Pod")!;
    expect(pod.definition).toBe("io.k8s.api.core.v1.Pod");
    expect(pod.description).toMatch(/^Pod is a collection of containers/);
    expect(pod.fields.apiVersion).toMatchObject({ type: "string" });
    expect(pod.fields.kind).toMatchObject({ type: "string" });
    const meta = obj(pod.fields.metadata);
    expect(meta.fields.creationTimestamp).toMatchObject({ type: "string", format: "date-time" });
    expect(map(meta.fields.labels).values).toMatchObject({ type: "string" });
    const spec = obj(pod.fields.spec);
    expect(spec.required).toContain("containers");
    const containers = arr(spec.fields.containers);
    expect(containers).toMatchObject({
      patchStrategy: "merge",
      patchMergeKey: "name",
      listType: "map",
      listMapKeys: ["name"],
    });
    const container = obj(containers.items);
    expect(container.required).toEqual(["name"]);
    expect(arr(container.fields.ports)).toMatchObject({
      patchMergeKey: "containerPort",
      listMapKeys: ["containerPort", "protocol"],
    });
    expect(obj(arr(container.fields.ports).items).fields.containerPort).toMatchObject({
      type: "integer",
      format: "int32",
    });
    expect(arr(container.fields.env).patchMergeKey).toBe("name");
    expect(arr(container.fields.volumeMounts).patchMergeKey).toBe("mountPath");
    expect(arr(spec.fields.volumes).patchStrategy).toBe("merge,retainKeys");
    expect(arr(spec.fields.tolerations).listType).toBe("atomic");
    expect(map(spec.fields.nodeSelector).mapType).toBe("atomic");
    expect(arr(obj(pod.fields.status).fields.conditions)).toMatchObject({
      patchMergeKey: "type",
      listMapKeys: ["type"],
    });
    expect(arr(meta.fields.ownerReferences)).toMatchObject({ patchMergeKey: "uid", listType: "map" });
    expect(arr(meta.fields.finalizers)).toMatchObject({ patchStrategy: "merge", listType: "set" });
    expect(obj(arr(meta.fields.managedFields).items).fields.fieldsV1).toMatchObject({ type: "any" });
  });

  it("maps IntOrString, Quantity, byte and micro-time fields", () => {
    const svc = schemaForKind("v1", "Service")!;
    const ports = arr(obj(svc.fields.spec).fields.ports);
    expect(ports).toMatchObject({ patchMergeKey: "port", listMapKeys: ["port", "protocol"] });
    expect(obj(ports.items).fields.targetPort).toMatchObject({
      type: "any",
      format: "int-or-string",
      definition: INT_OR_STRING,
    });
    const pod = schemaForKind("v1", "Pod")!;
    const resources = obj(obj(arr(obj(pod.fields.spec).fields.containers).items).fields.resources);
    expect(map(resources.fields.limits).values).toMatchObject({
      type: "any",
      format: "quantity",
      definition: QUANTITY,
    });
    const node = schemaForKind("v1", "Node")!;
    expect(map(obj(node.fields.status).fields.capacity).values).toMatchObject({ format: "quantity" });
    expect(arr(obj(node.fields.status).fields.addresses).patchMergeKey).toBe("type");
    const secret = schemaForKind("v1", "Secret")!;
    expect(map(secret.fields.data).values).toMatchObject({ type: "string", format: "byte" });
    const lease = schemaForKind("coordination.k8s.io/v1", "Lease")!;
    expect(obj(lease.fields.spec).fields.renewTime).toMatchObject({
      type: "string",
      definition: "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
    });
    const hpa = schemaForKind("autoscaling/v2", "HorizontalPodAutoscaler")!;
    const metric = obj(arr(obj(hpa.fields.spec).fields.metrics).items);
    expect(obj(obj(metric.fields.resource).fields.target).fields.averageValue).toMatchObject({
      format: "quantity",
    });
  });

  it("shares one node per definition, with per-field copies only for struct patch strategies", () => {
    const pod = schemaForKind("v1", "Pod")!;
    const deploy = schemaForKind("apps/v1", "Deployment")!;
    const template = obj(obj(deploy.fields.spec).fields.template);
    expect(template.fields.spec).toBe(pod.fields.spec);
    expect(schemaForDefinition("io.k8s.api.core.v1.PodSpec")).toBe(pod.fields.spec);
    const strategy = obj(obj(deploy.fields.spec).fields.strategy);
    expect(strategy.patchStrategy).toBe("retainKeys");
    const shared = obj(schemaForDefinition("io.k8s.api.apps.v1.DeploymentStrategy"));
    expect(shared.patchStrategy).toBeUndefined();
    expect(strategy.fields).toBe(shared.fields);
    expect(obj(obj(deploy.fields.spec).fields.selector).mapType).toBe("atomic");
  });

  it("serves List, Scale, Eviction, Status, DeleteOptions and WatchEvent", () => {
    const list = schemaForKind("apps/v1", "DeploymentList")!;
    expect(obj(arr(list.fields.items).items).definition).toBe("io.k8s.api.apps.v1.Deployment");
    expect(list.fields.metadata?.definition).toBe("io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta");
    expect(obj(schemaForKind("autoscaling/v1", "Scale")!.fields.spec).fields.replicas).toMatchObject({
      type: "integer",
    });
    expect(schemaForKind("policy/v1", "Eviction")!.fields.deleteOptions?.definition).toBe(
      "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    );
    expect(schemaForKind("v1", "Status")!.fields.code).toMatchObject({ type: "integer" });
    expect(schemaForKind("v1", "WatchEvent")!.fields.object).toMatchObject({ type: "any" });
    expect(schemaForKind("networking.k8s.io/v1", "DeleteOptions")!.fields.propagationPolicy).toMatchObject({
      type: "string",
    });
  });
});
