/** Prometheus (Debian package) discovers targets from kubeplane's apiserver with kubernetes_sd_configs. */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiserverProcess, builtCliMissing, startApiserver } from "./helpers/apiserver.js";
import { KUBECTLS, kubectl, missingKubectl } from "./helpers/kubectl.js";
import { freePort, waitUntil } from "./helpers/net.js";

const PROMETHEUS = "/usr/bin/prometheus";
const KUBECTL = KUBECTLS[0]!.path;
const missing = builtCliMissing() ?? (existsSync(PROMETHEUS) ? undefined : "prometheus is not installed (Debian prometheus)") ?? missingKubectl(KUBECTL);

const OBJECTS = `
apiVersion: v1
kind: Pod
metadata: {name: app-1, namespace: default, labels: {app: demo}}
spec:
  containers: [{name: app, image: demo, ports: [{containerPort: 8080, name: metrics}]}]
---
apiVersion: v1
kind: Service
metadata: {name: demo, namespace: default, labels: {app: demo}}
spec:
  selector: {app: demo}
  ports: [{name: metrics, port: 8080}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: demo, namespace: default}
subsets:
- addresses: [{ip: 10.244.0.7, targetRef: {kind: Pod, name: app-1, namespace: default}}]
  ports: [{name: metrics, port: 8080}]
`;

interface Target {
  discoveredLabels: Record<string, string>;
  scrapePool: string;
}

describe.skipIf(!!missing)(`Prometheus kubernetes_sd_configs${missing ? ` (skipped: ${missing})` : ""}`, () => {
  let api: ApiserverProcess;
  let prom: ChildProcess | undefined;
  let dir: string;
  let promPort: number;

  beforeAll(async () => {
    api = await startApiserver();
    const k = kubectl(KUBECTL, api.kubeconfig);
    await k(["apply", "-f", "-"], { input: OBJECTS });
    // Prometheus' pod role needs a pod IP, which a kubelet would report
    await k(["patch", "pod", "app-1", "--subresource=status", "--type=merge", "-p", '{"status":{"phase":"Running","podIP":"10.244.0.7","podIPs":[{"ip":"10.244.0.7"}]}}']);
    dir = mkdtempSync(join(tmpdir(), "kubeplane-prom-"));
    writeFileSync(join(dir, "ca.crt"), api.caPem);
    const sd = (role: string) => `
  - job_name: k8s-${role}
    kubernetes_sd_configs:
    - role: ${role}
      api_server: ${api.url}
      tls_config: {ca_file: ${join(dir, "ca.crt")}}
      authorization: {credentials: ${api.token}}`;
    writeFileSync(join(dir, "prometheus.yml"), `global: {scrape_interval: 1h}\nscrape_configs:${sd("endpoints")}${sd("service")}${sd("pod")}\n`);
    promPort = await freePort();
    prom = spawn(PROMETHEUS, [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ], { stdio: "ignore" });
  });

  afterAll(async () => {
    prom?.kill("SIGTERM");
    await api?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("discovers endpoints, service and pod targets", async () => {
    const targets = await waitUntil(async () => {
      const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/targets?state=any`);
      const body = (await res.json()) as { data: { activeTargets: Target[] } };
      const t = body.data.activeTargets;
      const pools = new Set(t.map((x) => x.scrapePool));
      return pools.has("k8s-endpoints") && pools.has("k8s-service") && pools.has("k8s-pod") ? t : undefined;
    }, 30_000, "Prometheus to discover targets of all three roles");
    const ep = targets.find((t) => t.scrapePool === "k8s-endpoints" && t.discoveredLabels.__meta_kubernetes_service_name === "demo");
    expect(ep?.discoveredLabels).toMatchObject({
      __address__: "10.244.0.7:8080",
      __meta_kubernetes_namespace: "default",
      __meta_kubernetes_endpoint_port_name: "metrics",
      __meta_kubernetes_pod_name: "app-1",
    });
    const svc = targets.find((t) => t.scrapePool === "k8s-service" && t.discoveredLabels.__meta_kubernetes_service_name === "demo");
    expect(svc?.discoveredLabels.__address__).toBe("demo.default.svc:8080");
    const pod = targets.find((t) => t.scrapePool === "k8s-pod" && t.discoveredLabels.__meta_kubernetes_pod_name === "app-1");
    expect(pod?.discoveredLabels.__meta_kubernetes_pod_label_app).toBe("demo");
  });
});
