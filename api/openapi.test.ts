import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  documentHash,
  OPENAPI_V2_PROTOBUF_CONTENT_TYPE,
  openapiV2,
  openapiV2Protobuf,
  openapiV3GroupVersion,
  openapiV3Index,
  openapiV3Paths,
} from "./openapi.js";
import { apiVersionOf, RESOURCES } from "./resources.js";

type O = Record<string, unknown>;
const o = (v: unknown): O => v as O;

/** every "$ref" value anywhere in a document */
function refs(doc: unknown, out: string[] = []): string[] {
  if (Array.isArray(doc)) for (const x of doc) refs(x, out);
  else if (doc && typeof doc === "object") {
    for (const [k, v] of Object.entries(doc)) {
      if (k === "$ref" && typeof v === "string") out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

function gvks(schema: unknown): O[] {
  return (o(schema)["x-kubernetes-group-version-kind"] as O[] | undefined) ?? [];
}

describe("OpenAPI v2", () => {
  const doc = openapiV2();
  const defs = o(doc.definitions);

  it("is a Swagger 2.0 document whose every $ref resolves", () => {
    expect(doc.swagger).toBe("2.0");
    expect(o(doc.info).title).toBe("Kubernetes");
    const all = refs(doc);
    expect(all.length).toBeGreaterThan(500);
    for (const r of all) {
      expect(r.startsWith("#/definitions/"), r).toBe(true);
      expect(defs[r.slice("#/definitions/".length)], r).toBeDefined();
    }
    expect(openapiV2()).toBe(doc);
  });

  it("describes definitions with properties, required, formats and descriptions", () => {
    const podSpec = o(defs["io.k8s.api.core.v1.PodSpec"]);
    expect(podSpec.type).toBe("object");
    expect(podSpec.description).toBe("PodSpec is a description of a pod.");
    expect(podSpec.required).toEqual(["containers"]);
    const props = o(podSpec.properties);
    expect(o(props.containers)).toMatchObject({
      type: "array",
      items: { $ref: "#/definitions/io.k8s.api.core.v1.Container" },
      "x-kubernetes-patch-merge-key": "name",
      "x-kubernetes-patch-strategy": "merge",
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["name"],
    });
    expect(o(props.affinity)).toEqual({ $ref: "#/definitions/io.k8s.api.core.v1.Affinity" });
    expect(o(props.nodeSelector)).toMatchObject({
      type: "object",
      additionalProperties: { type: "string" },
      "x-kubernetes-map-type": "atomic",
    });
    expect(o(props.activeDeadlineSeconds)).toMatchObject({ type: "integer", format: "int64" });
    const port = o(o(defs["io.k8s.api.core.v1.ServiceSpec"]).properties).ports;
    expect(o(port)["x-kubernetes-list-map-keys"]).toEqual(["port", "protocol"]);
    expect(o(defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"])).toMatchObject({
      type: "string",
      format: "int-or-string",
    });
    expect(o(defs["io.k8s.apimachinery.pkg.apis.meta.v1.Time"])).toMatchObject({
      type: "string",
      format: "date-time",
    });
    expect(o(defs["io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"])["x-kubernetes-map-type"]).toBe(
      "atomic",
    );
    const strategy = o(o(o(defs["io.k8s.api.apps.v1.DeploymentSpec"]).properties).strategy);
    expect(strategy).toMatchObject({
      $ref: "#/definitions/io.k8s.api.apps.v1.DeploymentStrategy",
      "x-kubernetes-patch-strategy": "retainKeys",
    });
  });

  it("tags top-level kinds with x-kubernetes-group-version-kind", () => {
    expect(gvks(defs["io.k8s.api.core.v1.Service"])).toEqual([{ group: "", kind: "Service", version: "v1" }]);
    expect(gvks(defs["io.k8s.api.core.v1.Pod"])).toEqual([{ group: "", kind: "Pod", version: "v1" }]);
    expect(gvks(defs["io.k8s.api.apps.v1.Deployment"])).toEqual([
      { group: "apps", kind: "Deployment", version: "v1" },
    ]);
    expect(gvks(defs["io.k8s.api.apps.v1.DeploymentList"])).toEqual([
      { group: "apps", kind: "DeploymentList", version: "v1" },
    ]);
    expect(gvks(defs["io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"])).toContainEqual({
      group: "apps",
      kind: "DeleteOptions",
      version: "v1",
    });
    expect(gvks(defs["io.k8s.api.core.v1.PodSpec"])).toEqual([]);
  });

  it("has get/list/create/update/patch/delete operations for every served resource, with kubectl's query parameters", () => {
    const paths = o(doc.paths);
    for (const r of RESOURCES) {
      const gv = apiVersionOf(r);
      const root = r.group === "" ? `/api/${gv}` : `/apis/${gv}`;
      const coll = r.namespaced ? `${root}/namespaces/{namespace}/${r.resource}` : `${root}/${r.resource}`;
      const item = o(paths[`${coll}/{name}`]);
      const gvk = { group: r.group, kind: r.kind, version: r.version };
      expect(o(item.get), `${coll} get`).toMatchObject({
        "x-kubernetes-action": "get",
        "x-kubernetes-group-version-kind": gvk,
      });
      const patch = o(item.patch);
      expect(patch["x-kubernetes-action"]).toBe("patch");
      expect(patch["x-kubernetes-group-version-kind"]).toEqual(gvk);
      expect(patch.consumes).toContain("application/strategic-merge-patch+json");
      expect(patch.consumes).toContain("application/apply-patch+yaml");
      const names = (patch.parameters as O[]).map((p) => `${p.in}:${p.name}`);
      expect(names).toEqual(
        expect.arrayContaining(["query:fieldValidation", "query:dryRun", "query:fieldManager", "body:body"]),
      );
      expect(o(o(paths[coll]).get)["x-kubernetes-action"]).toBe("list");
      expect(o(o(paths[coll]).post)["x-kubernetes-action"]).toBe("post");
      for (const sub of r.subresources ?? [])
        expect(paths[`${coll}/{name}/${sub.name}`], sub.name).toBeDefined();
    }
    const scale = o(o(paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]).patch);
    expect(scale["x-kubernetes-group-version-kind"]).toEqual({
      group: "autoscaling",
      kind: "Scale",
      version: "v1",
    });
    expect(o(o(paths["/api/v1/pods"]).get).operationId).toBe("listCoreV1PodForAllNamespaces");
    expect(o(o(paths["/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}"]).get).operationId).toBe(
      "readRbacAuthorizationV1ClusterRole",
    );
  });

  it("encodes as the gnostic protobuf kubectl asks for", () => {
    const pb = openapiV2Protobuf();
    expect(openapiV2Protobuf()).toBe(pb);
    // walk the top-level fields of openapi_v2.Document
    const fields = new Map<number, Uint8Array[]>();
    let i = 0;
    const varint = () => {
      let shift = 0;
      let n = 0;
      for (;;) {
        const b = pb[i++]!;
        n += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (b < 0x80) return n;
      }
    };
    while (i < pb.length) {
      const tag = varint();
      expect(tag & 7).toBe(2);
      const len = varint();
      const list = fields.get(tag >> 3) ?? [];
      list.push(pb.subarray(i, i + len));
      fields.set(tag >> 3, list);
      i += len;
    }
    expect(Buffer.from(fields.get(1)![0]!).toString()).toBe("2.0");
    const definitionsMsg = Buffer.from(fields.get(9)![0]!);
    expect(definitionsMsg.includes("io.k8s.api.core.v1.PodSpec")).toBe(true);
    expect(definitionsMsg.includes("x-kubernetes-patch-merge-key")).toBe(true);
    expect(Buffer.from(fields.get(8)![0]!).includes("/api/v1/namespaces/{namespace}/pods/{name}")).toBe(true);
    expect(OPENAPI_V2_PROTOBUF_CONTENT_TYPE).not.toContain("@");
  });
});

describe("OpenAPI v3", () => {
  it("indexes one document per served group-version with a content hash", () => {
    const index = openapiV3Index();
    const expected = [
      ...new Set(
        RESOURCES.map((r) => (r.group === "" ? `api/${r.version}` : `apis/${r.group}/${r.version}`)),
      ),
    ];
    expect(Object.keys(index.paths).sort()).toEqual(expected.sort());
    expect(openapiV3Paths().sort()).toEqual(expected.sort());
    for (const [key, { serverRelativeURL }] of Object.entries(index.paths)) {
      const doc = openapiV3GroupVersion(key)!;
      expect(serverRelativeURL).toBe(`/openapi/v3/${key}?hash=${documentHash(doc)}`);
      expect(serverRelativeURL).toMatch(/\?hash=[0-9A-F]{128}$/);
    }
    expect(openapiV3GroupVersion("/apis/apps/v1")).toBe(openapiV3GroupVersion("apis/apps/v1"));
    expect(openapiV3GroupVersion("apis/nope/v1")).toBeUndefined();
    // stable across calls
    expect(documentHash(openapiV3GroupVersion("api/v1"))).toBe(documentHash(openapiV3GroupVersion("api/v1")));
  });

  it("keeps each document self-contained: only its paths, every $ref in components.schemas", () => {
    for (const key of openapiV3Paths()) {
      const doc = openapiV3GroupVersion(key)!;
      expect(doc.openapi).toBe("3.0.0");
      const schemas = o(o(doc.components).schemas);
      for (const r of refs(doc)) {
        expect(r.startsWith("#/components/schemas/"), `${key}: ${r}`).toBe(true);
        expect(schemas[r.slice("#/components/schemas/".length)], `${key}: ${r}`).toBeDefined();
      }
      for (const p of Object.keys(o(doc.paths))) expect(p.startsWith(`/${key}/`), p).toBe(true);
    }
    const core = o(o(openapiV3GroupVersion("api/v1")!.components).schemas);
    expect(gvks(core["io.k8s.api.core.v1.Service"])).toEqual([{ group: "", kind: "Service", version: "v1" }]);
    expect(core["io.k8s.api.apps.v1.Deployment"]).toBeUndefined();
    const apps = o(o(openapiV3GroupVersion("apis/apps/v1")!.components).schemas);
    expect(gvks(apps["io.k8s.api.apps.v1.Deployment"])).toContainEqual({
      group: "apps",
      kind: "Deployment",
      version: "v1",
    });
    expect(apps["io.k8s.api.autoscaling.v1.Scale"]).toBeDefined();
    expect(apps["io.k8s.api.core.v1.Service"]).toBeUndefined();
    const containers = o(o(o(core["io.k8s.api.core.v1.PodSpec"]).properties).containers);
    expect(containers["x-kubernetes-patch-merge-key"]).toBe("name");
    expect(o(core["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]).oneOf).toEqual([
      { type: "integer" },
      { type: "string" },
    ]);
    // a described $ref property is wrapped in allOf
    const spec = o(o(o(core["io.k8s.api.core.v1.ResourceRequirements"]).properties).limits);
    expect(o(spec.additionalProperties)).toEqual({
      $ref: "#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity",
    });
    const strategy = o(o(o(apps["io.k8s.api.apps.v1.DeploymentSpec"]).properties).strategy);
    expect(strategy).toMatchObject({
      allOf: [{ $ref: "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy" }],
      "x-kubernetes-patch-strategy": "retainKeys",
    });
  });

  it("puts fieldValidation on every PATCH operation (kubectl's server-side validation check)", () => {
    for (const key of openapiV3Paths()) {
      const doc = openapiV3GroupVersion(key)!;
      for (const [path, item] of Object.entries(o(doc.paths))) {
        const patch = o(item).patch as O | undefined;
        if (!patch) continue;
        expect(patch["x-kubernetes-group-version-kind"], path).toBeDefined();
        const params = (patch.parameters as O[]).filter((p) => p.in === "query").map((p) => p.name);
        expect(params, path).toEqual(
          expect.arrayContaining(["fieldValidation", "dryRun", "fieldManager", "force"]),
        );
        expect(Object.keys(o(o(patch.requestBody).content))).toContain("application/apply-patch+yaml");
      }
    }
  });
});

// ---------------------------------------------------------------- real kubectl

const KUBECTL_DIR = "/usr/lib/google-cloud-sdk/bin";
const kubectls = ["1.27", "1.33"].map((v) => join(KUBECTL_DIR, `kubectl.${v}`)).filter((p) => existsSync(p));
const run = promisify(execFile);

/** a throwaway loopback server with legacy discovery and the OpenAPI documents, nothing else */
function discoveryServer(): Server {
  const groups = new Map<string, string[]>();
  for (const r of RESOURCES) {
    if (!r.group) continue;
    const list = groups.get(r.group) ?? [];
    if (!list.includes(r.version)) list.push(r.version);
    groups.set(r.group, list);
  }
  return createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const send = (body: unknown, type = "application/json") => {
      res.setHeader("content-type", type);
      res.end(Buffer.isBuffer(body) || body instanceof Uint8Array ? body : JSON.stringify(body));
    };
    if (path === "/api")
      return send({ kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] });
    if (path === "/apis") {
      return send({
        kind: "APIGroupList",
        apiVersion: "v1",
        groups: [...groups].map(([name, versions]) => ({
          name,
          versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
          preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
        })),
      });
    }
    if (path === "/openapi/v2") return send(openapiV2Protobuf(), OPENAPI_V2_PROTOBUF_CONTENT_TYPE);
    if (path === "/openapi/v3") return send(openapiV3Index());
    if (path.startsWith("/openapi/v3/")) {
      const doc = openapiV3GroupVersion(path.slice("/openapi/v3/".length));
      if (doc) return send(doc);
    }
    const gv = /^\/apis?\/(.+)$/.exec(path)?.[1];
    const rs = RESOURCES.filter((r) => apiVersionOf(r) === gv);
    if (rs.length > 0) {
      return send({
        kind: "APIResourceList",
        apiVersion: "v1",
        groupVersion: gv,
        resources: rs.map((r) => ({
          name: r.resource,
          singularName: r.singular,
          namespaced: r.namespaced,
          kind: r.kind,
          verbs: r.verbs,
          shortNames: r.shortNames,
        })),
      });
    }
    res.statusCode = 404;
    send({ kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404 });
  });
}

describe.skipIf(kubectls.length === 0)(`kubectl explain (${KUBECTL_DIR}/kubectl.1.27, .1.33)`, () => {
  let server: Server;
  let home: string;
  let url: string;
  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "kubeplane-explain-"));
    server = discoveryServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(home, { recursive: true, force: true });
  });

  const explain = async (kubectl: string, ...args: string[]) => {
    const { stdout } = await run(
      kubectl,
      ["--server", url, "--cache-dir", join(home, "cache"), "explain", ...args],
      {
        env: { ...process.env, HOME: home, KUBECONFIG: join(home, "none") },
      },
    );
    return stdout;
  };

  for (const kubectl of kubectls) {
    it(`${kubectl}: explain service.spec (OpenAPI v3)`, async () => {
      const out = await explain(kubectl, "service.spec");
      expect(out).toMatch(/KIND:\s+Service/);
      expect(out).toContain("ServiceSpec describes the attributes that a user creates on a service.");
      expect(out).toMatch(/ports\s+<\[\]ServicePort>/);
    });

    it(`${kubectl}: explain pods.spec.containers (OpenAPI v3)`, async () => {
      const out = await explain(kubectl, "pods.spec.containers");
      expect(out).toMatch(/FIELD:\s+containers <\[\]Container>/);
      expect(out).toMatch(/name\s+<string> -required-/);
      expect(out).toMatch(/resources\s+<ResourceRequirements>/);
    });

    it(`${kubectl}: explain pods.spec.containers (OpenAPI v2 protobuf)`, async () => {
      const out = await explain(kubectl, "pods.spec.containers", "--output=plaintext-openapiv2");
      expect(out).toMatch(/RESOURCE:\s+containers <\[\]Object>/);
      expect(out).toContain("List of containers belonging to the pod.");
      expect(out).toMatch(/image\s+<string>/);
    });
  }
});
