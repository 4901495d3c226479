/**
 * Real kubectl (the newest and an older version on the machine) against a real
 * `kubeplane apiserver` process, on SQLite and on etcd.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiserverProcess, builtCliMissing, startApiserver } from "./helpers/apiserver.js";
import { startEtcd } from "./helpers/etcd.js";
import { KUBECTLS, kubectl, missingKubectl } from "./helpers/kubectl.js";

const manifest = (image: string, data: string) => `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: ${image}
        ports:
        - containerPort: 8080
          name: http
        env:
        - name: MODE
          value: demo
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - name: http
    port: 80
    targetPort: http
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  setting: "${data}"
`;

const backends = [
  { name: "sqlite", etcd: false },
  { name: "etcd", etcd: true },
];

const skipReason = builtCliMissing();

for (const backend of backends) {
  for (const kc of KUBECTLS) {
    const missing =
      skipReason ??
      missingKubectl(kc.path) ??
      (backend.etcd && !existsSync("/usr/bin/etcd") ? "etcd not installed (Debian etcd-server)" : undefined);
    describe.skipIf(!!missing)(
      `kubectl ${kc.version} against the apiserver on ${backend.name}${missing ? ` (skipped: ${missing})` : ""}`,
      () => {
        let api: ApiserverProcess;
        let stopEtcd: (() => Promise<void>) | undefined;
        let k: ReturnType<typeof kubectl>;

        beforeAll(async () => {
          const extra: string[] = [];
          if (backend.etcd) {
            const etcd = await startEtcd();
            stopEtcd = etcd.stop;
            extra.push("--etcd-servers", etcd.endpoints.join(","));
          }
          api = await startApiserver(extra);
          k = kubectl(kc.path, api.kubeconfig);
        });

        afterAll(async () => {
          await api?.stop();
          await stopEtcd?.();
        });

        it("lists api-resources with short names and groups", async () => {
          const { stdout } = await k(["api-resources"]);
          expect(stdout).toMatch(/^NAME\s+SHORTNAMES\s+APIVERSION\s+NAMESPACED\s+KIND/m);
          expect(stdout).toMatch(/^pods\s+po\s+v1\s+true\s+Pod$/m);
          expect(stdout).toMatch(/^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m);
          expect(stdout).toMatch(/^endpointslices\s+discovery\.k8s\.io\/v1\s+true\s+EndpointSlice$/m);
          expect(stdout).toMatch(
            /^horizontalpodautoscalers\s+hpa\s+autoscaling\/v2\s+true\s+HorizontalPodAutoscaler$/m,
          );
        });

        it("creates a namespace and applies, then re-applies an edited manifest", async () => {
          expect((await k(["create", "namespace", "demo"])).stdout).toContain("namespace/demo created");
          const first = await k(["apply", "-n", "demo", "-f", "-"], { input: manifest("nginx:1.25", "one") });
          expect(first.stdout).toContain("deployment.apps/web created");
          expect(first.stdout).toContain("service/web created");
          expect(first.stdout).toContain("configmap/web-config created");
          const again = await k(["apply", "-n", "demo", "-f", "-"], { input: manifest("nginx:1.27", "two") });
          expect(again.stdout).toContain("deployment.apps/web configured");
          expect(again.stdout).toContain("configmap/web-config configured");
          expect(again.stdout).toMatch(/service\/web unchanged/);
          const dep = JSON.parse((await k(["get", "deploy", "web", "-n", "demo", "-o", "json"])).stdout);
          expect(dep.spec.template.spec.containers[0].image).toBe("nginx:1.27");
          expect(dep.spec.template.spec.containers[0].env).toEqual([{ name: "MODE", value: "demo" }]);
          expect(dep.metadata.generation).toBe(2);
          expect(
            JSON.parse(dep.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]).spec
              .template.spec.containers[0].image,
          ).toBe("nginx:1.27");
          const cm = JSON.parse((await k(["get", "cm", "web-config", "-n", "demo", "-o", "json"])).stdout);
          expect(cm.data.setting).toBe("two");
          const svc = JSON.parse((await k(["get", "svc", "web", "-n", "demo", "-o", "json"])).stdout);
          expect(svc.spec.clusterIP).toMatch(/^10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+$/);
          expect(svc.spec.ports[0]).toMatchObject({ port: 80, protocol: "TCP", targetPort: "http" });
        });

        it("applies server-side with field ownership and reports conflicts", async () => {
          const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: one\n";
          expect(
            (await k(["apply", "--server-side", "-n", "demo", "-f", "-"], { input: cm })).stdout,
          ).toContain("configmap/ssa serverside-applied");
          const obj = JSON.parse(
            (await k(["get", "cm", "ssa", "-n", "demo", "-o", "json", "--show-managed-fields"])).stdout,
          );
          const entry = obj.metadata.managedFields.find((m: { manager: string }) => m.manager === "kubectl");
          expect(entry).toMatchObject({ operation: "Apply", fieldsType: "FieldsV1" });
          expect(entry.fieldsV1["f:data"]).toHaveProperty("f:a");
          const conflict = await k(
            ["apply", "--server-side", "--field-manager", "other", "-n", "demo", "-f", "-"],
            { input: cm.replace("one", "two"), allowFail: true },
          );
          expect(conflict.code).not.toBe(0);
          expect(conflict.stderr).toMatch(/conflict/i);
          const forced = await k(
            [
              "apply",
              "--server-side",
              "--force-conflicts",
              "--field-manager",
              "other",
              "-n",
              "demo",
              "-f",
              "-",
            ],
            { input: cm.replace("one", "two") },
          );
          expect(forced.stdout).toContain("serverside-applied");
          expect(JSON.parse((await k(["get", "cm", "ssa", "-n", "demo", "-o", "json"])).stdout).data.a).toBe(
            "two",
          );
        });

        it("prints the usual columns for every kind", async () => {
          const svc = (await k(["get", "svc", "-n", "demo"])).stdout;
          expect(svc).toMatch(/^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$/m);
          expect(svc).toMatch(/^web\s+ClusterIP\s+10\.\d+\.\d+\.\d+\s+<none>\s+80\/TCP\s+\d+s$/m);
          const dep = (await k(["get", "deploy", "-n", "demo", "-o", "wide"])).stdout;
          expect(dep).toMatch(
            /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR$/m,
          );
          expect(dep).toMatch(/^web\s+0\/2\s+0\s+0\s+\d+s\s+web\s+nginx:1\.27\s+app=web$/m);
          const ns = (await k(["get", "namespaces"])).stdout;
          expect(ns).toMatch(/^kube-system\s+Active\s+\d+s$/m);
          const cms = (await k(["get", "configmaps", "-n", "demo"])).stdout;
          expect(cms).toMatch(/^web-config\s+1\s+\d+s$/m);
          const kinds = [
            "pods",
            "services",
            "endpoints",
            "endpointslices",
            "nodes",
            "configmaps",
            "secrets",
            "serviceaccounts",
            "events",
            "events.events.k8s.io",
            "leases",
            "deployments",
            "replicasets",
            "daemonsets",
            "ingresses",
            "ingressclasses",
            "horizontalpodautoscalers",
            "apiservices",
            "roles",
            "clusterroles",
            "rolebindings",
            "clusterrolebindings",
            "namespaces",
          ];
          for (const kind of kinds) {
            const res = await k(["get", kind, "-A"], { allowFail: true });
            expect(res.stderr, kind).not.toMatch(/error/i);
          }
          const ep = (await k(["get", "endpoints", "kubernetes", "-n", "default"])).stdout;
          expect(ep).toMatch(/^NAME\s+ENDPOINTS\s+AGE$/m);
          expect(ep).toMatch(/^kubernetes\s+127\.0\.0\.1:\d+\s+\d+s$/m);
        });

        it("gets YAML and receives watch events", async () => {
          const yaml = (await k(["get", "svc", "kubernetes", "-n", "default", "-o", "yaml"])).stdout;
          expect(yaml).toMatch(/^kind: Service$/m);
          expect(yaml).toMatch(/clusterIP: 10\.96\.0\.1$/m);
          const watch = spawn(kc.path, [
            "--kubeconfig",
            api.kubeconfig,
            "get",
            "configmaps",
            "-n",
            "demo",
            "-w",
            "--output-watch-events",
          ]);
          let out = "";
          watch.stdout.on("data", (d) => {
            out += String(d);
          });
          try {
            await waitFor(
              () => out.includes("web-config"),
              15_000,
              () => `initial listing never arrived: ${out}`,
            );
            await k(["create", "configmap", "watched", "-n", "demo", "--from-literal=k=v"]);
            await waitFor(
              () => /ADDED\s+watched/.test(out),
              15_000,
              () => `watch event never arrived: ${out}`,
            );
          } finally {
            watch.kill();
          }
        });

        it("labels, annotates and patches with every patch type", async () => {
          await k(["label", "cm", "web-config", "-n", "demo", "tier=backend"]);
          await k(["annotate", "cm", "web-config", "-n", "demo", "note=hello"]);
          await k([
            "patch",
            "cm",
            "web-config",
            "-n",
            "demo",
            "--type",
            "merge",
            "-p",
            '{"data":{"merged":"yes"}}',
          ]);
          await k([
            "patch",
            "cm",
            "web-config",
            "-n",
            "demo",
            "--type",
            "json",
            "-p",
            '[{"op":"add","path":"/data/json","value":"yes"}]',
          ]);
          await k([
            "patch",
            "deploy",
            "web",
            "-n",
            "demo",
            "-p",
            '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox"}]}}}}',
          ]);
          const cm = JSON.parse((await k(["get", "cm", "web-config", "-n", "demo", "-o", "json"])).stdout);
          expect(cm.metadata.labels).toMatchObject({ tier: "backend" });
          expect(cm.metadata.annotations).toMatchObject({ note: "hello" });
          expect(cm.data).toMatchObject({ setting: "two", merged: "yes", json: "yes" });
          const dep = JSON.parse((await k(["get", "deploy", "web", "-n", "demo", "-o", "json"])).stdout);
          expect(dep.spec.template.spec.containers.map((c: { name: string }) => c.name).sort()).toEqual([
            "sidecar",
            "web",
          ]);
          const selected = (
            await k(["get", "cm", "-n", "demo", "-l", "tier=backend", "-o", "name"])
          ).stdout.trim();
          expect(selected).toBe("configmap/web-config");
        });

        it("scales a deployment", async () => {
          expect((await k(["scale", "deployment", "web", "-n", "demo", "--replicas=5"])).stdout).toContain(
            "deployment.apps/web scaled",
          );
          expect(
            JSON.parse((await k(["get", "deploy", "web", "-n", "demo", "-o", "json"])).stdout).spec.replicas,
          ).toBe(5);
        });

        it("explains fields from the OpenAPI documents", async () => {
          const { stdout } = await k(["explain", "service.spec"]);
          expect(stdout).toMatch(/KIND:\s+Service/);
          expect(stdout).toMatch(/clusterIP\s+<string>/);
          const pods = await k(["explain", "pods.spec.containers"]);
          expect(pods.stdout).toMatch(/image\s+<string>/);
        });

        it("creates secrets and configmaps from literals", async () => {
          await k(["create", "secret", "generic", "creds", "-n", "demo", "--from-literal=user=admin"]);
          const secret = JSON.parse((await k(["get", "secret", "creds", "-n", "demo", "-o", "json"])).stdout);
          expect(secret.type).toBe("Opaque");
          expect(Buffer.from(secret.data.user, "base64").toString()).toBe("admin");
          await k(["create", "configmap", "lit", "-n", "demo", "--from-literal=a=1", "--from-literal=b=2"]);
          expect(JSON.parse((await k(["get", "cm", "lit", "-n", "demo", "-o", "json"])).stdout).data).toEqual(
            { a: "1", b: "2" },
          );
        });

        it("deletes and returns once the object is gone", async () => {
          const del = await k(["delete", "deployment", "web", "-n", "demo"]);
          expect(del.stdout).toContain('deployment.apps "web" deleted');
          const after = await k(["get", "deployment", "web", "-n", "demo"], { allowFail: true });
          expect(after.code).not.toBe(0);
          expect(after.stderr).toMatch(/NotFound|not found/);
        });
      },
    );
  }
}

async function waitFor(cond: () => boolean, ms: number, why: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(why());
    await new Promise((r) => setTimeout(r, 100));
  }
}
