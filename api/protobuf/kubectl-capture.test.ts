/**
 * End-to-end check against REAL kubectl 1.33: it sends typed-client create requests as
 * application/vnd.kubernetes.protobuf. A throwaway HTTP server answers discovery, captures
 * each POST body, decodes it and echoes the JSON back. Each decoded object must equal what
 * kubectl itself prints as JSON for the same command (`--dry-run=client -o json`), plus
 * explicit checks of the fields that matter.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KUBECTLS, kubectl, missingKubectl } from "../../test/helpers/kubectl.js";
import { decodeKubernetesProtobuf, PROTOBUF_CONTENT_TYPE, ProtobufDecodeError } from "./decode.js";

const KUBECTL = KUBECTLS.find((k) => k.version === "1.33")!.path;
const missing = missingKubectl(KUBECTL);
if (missing) console.warn(`skipping kubectl protobuf capture: ${missing}`);

interface Captured {
  method: string;
  path: string;
  contentType: string;
  body: Buffer;
  decoded?: Record<string, unknown>;
}

const resource = (name: string, kind: string, namespaced: boolean) => ({
  name,
  singularName: kind.toLowerCase(),
  namespaced,
  kind,
  verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
});

const groups: Record<string, ReturnType<typeof resource>[]> = {
  v1: [
    resource("namespaces", "Namespace", false),
    resource("pods", "Pod", true),
    resource("services", "Service", true),
    resource("configmaps", "ConfigMap", true),
    resource("secrets", "Secret", true),
    resource("serviceaccounts", "ServiceAccount", true),
  ],
  "apps/v1": [resource("deployments", "Deployment", true)],
  "rbac.authorization.k8s.io/v1": [
    resource("roles", "Role", true),
    resource("clusterroles", "ClusterRole", false),
    resource("rolebindings", "RoleBinding", true),
    resource("clusterrolebindings", "ClusterRoleBinding", false),
  ],
  "networking.k8s.io/v1": [resource("ingresses", "Ingress", true)],
};

function discovery(path: string): unknown {
  if (path === "/api") return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] };
  if (path === "/apis") {
    return {
      kind: "APIGroupList",
      apiVersion: "v1",
      groups: Object.keys(groups)
        .filter((gv) => gv.includes("/"))
        .map((gv) => {
          const [name, version] = gv.split("/") as [string, string];
          const v = { groupVersion: gv, version };
          return { name, versions: [v], preferredVersion: v };
        }),
    };
  }
  const gv = path === "/api/v1" ? "v1" : path.startsWith("/apis/") ? path.slice("/apis/".length) : "";
  const list = groups[gv];
  return list ? { kind: "APIResourceList", apiVersion: "v1", groupVersion: gv, resources: list } : undefined;
}

describe.skipIf(missing !== undefined)("kubectl 1.33 protobuf request bodies", () => {
  let server: Server;
  let dir: string;
  let run: ReturnType<typeof kubectl>;
  const captured: Captured[] = [];
  const binary = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x01, 0x7f, 0xc3, 0x28]); // not UTF-8

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = (req.url ?? "/").split("?")[0]!;
      const reply = (code: number, body: unknown) => {
        res.writeHead(code, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (req.method === "GET") {
        const d = discovery(path);
        if (d) return reply(200, d);
        return reply(404, {
          kind: "Status",
          apiVersion: "v1",
          status: "Failure",
          reason: "NotFound",
          code: 404,
        });
      }
      const entry: Captured = {
        method: req.method ?? "",
        path,
        contentType: req.headers["content-type"] ?? "",
        body: Buffer.concat(chunks),
      };
      captured.push(entry);
      try {
        entry.decoded = decodeKubernetesProtobuf(entry.body);
        const answer: Record<string, unknown> = { ...entry.decoded };
        if (answer.kind === "TokenRequest") {
          answer.status = { token: "captured-token", expirationTimestamp: "2030-01-01T00:00:00Z" };
        }
        if (answer.kind === "SelfSubjectAccessReview") answer.status = { allowed: true };
        reply(201, answer);
      } catch (e) {
        const code = e instanceof ProtobufDecodeError ? e.status : 500;
        reply(code, { kind: "Status", apiVersion: "v1", status: "Failure", message: String(e), code });
      }
    });
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kubeplane-pb-"));
    server = createServer(handle);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(
      kubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        `- name: capture\n  cluster:\n    server: http://127.0.0.1:${port}`,
        "users:",
        "- name: anonymous\n  user: {}",
        "contexts:",
        "- name: capture\n  context:\n    cluster: capture\n    user: anonymous\n    namespace: default",
        "current-context: capture",
        "",
      ].join("\n"),
    );
    writeFileSync(join(dir, "blob.bin"), binary);
    writeFileSync(join(dir, "note.txt"), "line one\nline two\n");
    const base = kubectl(KUBECTL, kubeconfig);
    run = (args, opts) => base(["--cache-dir", join(dir, "cache"), ...args], opts);
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Runs `kubectl create ...` for real (captured as protobuf) and with --dry-run=client -o json
   * (kubectl's own JSON for the same object), and returns both.
   */
  async function create(
    args: string[],
  ): Promise<{ decoded: Record<string, unknown>; expected: unknown; req: Captured }> {
    const before = captured.length;
    await run(["create", ...args]);
    expect(captured.length, `one request for kubectl create ${args.join(" ")}`).toBe(before + 1);
    const req = captured[before]!;
    expect(req.method).toBe("POST");
    expect(req.contentType).toBe(PROTOBUF_CONTENT_TYPE);
    expect([...req.body.subarray(0, 4)]).toEqual([0x6b, 0x38, 0x73, 0x00]);
    expect(req.decoded, `decoding ${args.join(" ")}`).toBeDefined();
    const dry = await run(["create", ...args, "--dry-run=client", "-o", "json"]);
    expect(captured.length, "dry-run=client sends nothing").toBe(before + 1);
    return { decoded: req.decoded!, expected: JSON.parse(dry.stdout), req };
  }

  it("really sends protobuf (kubectl -v=8 shows the request content type)", async () => {
    const { stderr } = await run(["create", "namespace", "verbose", "-v=8"]);
    expect(stderr).toContain(`Content-Type: ${PROTOBUF_CONTENT_TYPE}`);
    const last = captured.at(-1)!;
    expect(last.path).toBe("/api/v1/namespaces");
    expect(last.decoded).toEqual({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "verbose", creationTimestamp: null },
      spec: {},
      status: {},
    });
  });

  it("create namespace", async () => {
    const { decoded, expected, req } = await create(["namespace", "x"]);
    expect(req.path).toBe("/api/v1/namespaces");
    expect(decoded).toEqual(expected);
    expect(decoded).toMatchObject({ apiVersion: "v1", kind: "Namespace", metadata: { name: "x" } });
  });

  it("create configmap with a literal and a binary file", async () => {
    const { decoded, expected, req } = await create([
      "configmap",
      "c",
      "--from-literal=a=b",
      `--from-file=blob.bin=${join(dir, "blob.bin")}`,
      `--from-file=${join(dir, "note.txt")}`,
    ]);
    expect(req.path).toBe("/api/v1/namespaces/default/configmaps");
    expect(decoded).toEqual(expected);
    expect(decoded.metadata).toMatchObject({ name: "c" });
    expect(decoded.data).toEqual({ a: "b", "note.txt": "line one\nline two\n" });
    expect(decoded.binaryData).toEqual({ "blob.bin": binary.toString("base64") });
  });

  it("create secret generic", async () => {
    const { decoded, expected } = await create([
      "secret",
      "generic",
      "s",
      "--from-literal=u=p",
      "--type=Opaque",
    ]);
    expect(decoded).toEqual(expected);
    expect(decoded).toMatchObject({ kind: "Secret", metadata: { name: "s" }, type: "Opaque" });
    expect(decoded.data).toEqual({ u: Buffer.from("p").toString("base64") });
  });

  it("create deployment with image, port and replicas", async () => {
    const { decoded, expected, req } = await create([
      "deployment",
      "d",
      "--image=nginx",
      "--port=80",
      "--replicas=2",
    ]);
    expect(req.path).toBe("/apis/apps/v1/namespaces/default/deployments");
    expect(decoded).toEqual(expected);
    expect(decoded).toMatchObject({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "d", labels: { app: "d" } },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: "d" } },
        template: {
          metadata: { labels: { app: "d" } },
          spec: { containers: [{ name: "nginx", image: "nginx", ports: [{ containerPort: 80 }] }] },
        },
      },
    });
  });

  it("create deployment with zero replicas keeps replicas: 0", async () => {
    const { decoded, expected } = await create(["deployment", "zero", "--image=busybox", "--replicas=0"]);
    expect(decoded).toEqual(expected);
    expect((decoded.spec as Record<string, unknown>).replicas).toBe(0);
  });

  it("create service clusterip with a port mapping", async () => {
    const { decoded, expected } = await create([
      "service",
      "clusterip",
      "s",
      "--tcp=80:8080",
      "--tcp=53:dns",
    ]);
    expect(decoded).toEqual(expected);
    expect(decoded).toMatchObject({
      kind: "Service",
      metadata: { name: "s", labels: { app: "s" } },
      spec: {
        type: "ClusterIP",
        selector: { app: "s" },
        ports: [
          { name: "80-8080", protocol: "TCP", port: 80, targetPort: 8080 },
          { name: "53-dns", protocol: "TCP", port: 53, targetPort: "dns" },
        ],
      },
    });
  });

  it("create service nodeport and a headless clusterip service", async () => {
    const node = await create(["service", "nodeport", "np", "--tcp=443:8443", "--node-port=30443"]);
    expect(node.decoded).toEqual(node.expected);
    expect((node.decoded.spec as { ports: unknown[] }).ports[0]).toMatchObject({
      nodePort: 30443,
      targetPort: 8443,
    });
    const headless = await create(["service", "clusterip", "h", "--clusterip=None"]);
    expect(headless.decoded).toEqual(headless.expected);
    expect(headless.decoded.spec).toMatchObject({ clusterIP: "None" });
  });

  it("create serviceaccount", async () => {
    const { decoded, expected } = await create(["serviceaccount", "sa"]);
    expect(decoded).toEqual(expected);
    expect(decoded).toMatchObject({ kind: "ServiceAccount", metadata: { name: "sa" } });
  });

  it("create clusterrole and role", async () => {
    const cr = await create(["clusterrole", "r", "--verb=get", "--verb=list", "--resource=pods"]);
    expect(cr.req.path).toBe("/apis/rbac.authorization.k8s.io/v1/clusterroles");
    expect(cr.decoded).toEqual(cr.expected);
    expect(cr.decoded.rules).toEqual([{ verbs: ["get", "list"], apiGroups: [""], resources: ["pods"] }]);
    const role = await create([
      "role",
      "reader",
      "--verb=get",
      "--resource=deployments.apps",
      "--resource-name=d",
    ]);
    expect(role.decoded).toEqual(role.expected);
    expect(role.decoded.rules).toEqual([
      { verbs: ["get"], apiGroups: ["apps"], resources: ["deployments"], resourceNames: ["d"] },
    ]);
  });

  it("create rolebinding and clusterrolebinding", async () => {
    const rb = await create([
      "rolebinding",
      "rb",
      "--role=reader",
      "--user=alice",
      "--serviceaccount=default:sa",
    ]);
    expect(rb.decoded).toEqual(rb.expected);
    expect(rb.decoded.roleRef).toEqual({
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Role",
      name: "reader",
    });
    expect(rb.decoded.subjects).toEqual([
      { kind: "User", apiGroup: "rbac.authorization.k8s.io", name: "alice" },
      { kind: "ServiceAccount", name: "sa", namespace: "default" },
    ]);
    const crb = await create(["clusterrolebinding", "crb", "--clusterrole=r", "--group=devs"]);
    expect(crb.decoded).toEqual(crb.expected);
    expect(crb.decoded.roleRef).toEqual({
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: "r",
    });
  });

  it("create ingress", async () => {
    const { decoded, expected } = await create([
      "ingress",
      "ing",
      "--class=nginx",
      "--rule=foo.example.com/bar*=svc:8080,tls=my-cert",
      "--rule=/exact=other:http",
    ]);
    expect(decoded).toEqual(expected);
    expect(decoded.spec).toMatchObject({
      ingressClassName: "nginx",
      rules: [
        {
          host: "foo.example.com",
          http: {
            paths: [
              {
                path: "/bar",
                pathType: "Prefix",
                backend: { service: { name: "svc", port: { number: 8080 } } },
              },
            ],
          },
        },
        {
          http: {
            paths: [
              {
                path: "/exact",
                pathType: "Exact",
                backend: { service: { name: "other", port: { name: "http" } } },
              },
            ],
          },
        },
      ],
      tls: [{ hosts: ["foo.example.com"], secretName: "my-cert" }],
    });
  });

  it("create token sends a protobuf TokenRequest", async () => {
    const { stdout } = await run(["create", "token", "sa", "--audience=api", "--duration=10m"]);
    expect(stdout.trim()).toBe("captured-token");
    const req = captured.at(-1)!;
    expect(req.path).toBe("/api/v1/namespaces/default/serviceaccounts/sa/token");
    expect(req.contentType).toBe(PROTOBUF_CONTENT_TYPE);
    expect(req.decoded).toEqual({
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      metadata: { creationTimestamp: null },
      spec: { audiences: ["api"], expirationSeconds: 600 },
      status: { expirationTimestamp: null },
    });
  });

  it("auth can-i sends a protobuf SelfSubjectAccessReview", async () => {
    const { stdout } = await run(["auth", "can-i", "list", "deployments.apps", "-n", "team"]);
    expect(stdout.trim()).toBe("yes");
    const req = captured.at(-1)!;
    expect(req.path).toBe("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews");
    expect(req.contentType).toBe(PROTOBUF_CONTENT_TYPE);
    expect(req.decoded).toEqual({
      apiVersion: "authorization.k8s.io/v1",
      kind: "SelfSubjectAccessReview",
      metadata: { creationTimestamp: null },
      spec: {
        resourceAttributes: { namespace: "team", verb: "list", group: "apps", resource: "deployments" },
      },
      status: { allowed: false },
    });
  });
});
