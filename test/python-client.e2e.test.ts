/** The official Python client (Debian python3-kubernetes) lists and watches against kubeplane. */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiserverProcess, builtCliMissing, startApiserver } from "./helpers/apiserver.js";

const run = promisify(execFile);
const PYTHON = "/usr/bin/python3";

async function pythonHasKubernetes(): Promise<boolean> {
  if (!existsSync(PYTHON)) return false;
  try {
    await run(PYTHON, ["-c", "import kubernetes"]);
    return true;
  } catch {
    return false;
  }
}

const missing =
  builtCliMissing() ??
  ((await pythonHasKubernetes())
    ? undefined
    : "python3-kubernetes is not installed for /usr/bin/python3 (Debian python3-kubernetes)");

const SCRIPT = `
import json, sys, threading
from kubernetes import client, config, watch
config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
names = sorted(ns.metadata.name for ns in v1.list_namespace().items)
cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="from-python"), data={"k": "v"})
v1.create_namespaced_config_map("default", cm)
listed = v1.list_namespaced_config_map("default", label_selector="")
rv = listed.metadata.resource_version
def later():
    v1.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="watched"), data={"x": "y"}))
threading.Timer(0.5, later).start()
seen = []
w = watch.Watch()
for ev in w.stream(v1.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=20):
    seen.append([ev["type"], ev["object"].metadata.name])
    if ev["object"].metadata.name == "watched":
        w.stop()
svc = v1.read_namespaced_service("kubernetes", "default")
print(json.dumps({"namespaces": names, "configmaps": sorted(c.metadata.name for c in listed.items), "events": seen, "clusterIP": svc.spec.cluster_ip}))
`;

describe.skipIf(!!missing)(`official Python client${missing ? ` (skipped: ${missing})` : ""}`, () => {
  let api: ApiserverProcess;
  beforeAll(async () => {
    api = await startApiserver();
  });
  afterAll(async () => {
    await api?.stop();
  });

  it("lists namespaces, creates, lists and watches configmaps, reads a service", async () => {
    const { stdout } = await run(PYTHON, ["-c", SCRIPT, api.kubeconfig], { timeout: 60_000 });
    const out = JSON.parse(stdout.trim().split("\n").pop()!);
    expect(out.namespaces).toEqual(["default", "kube-node-lease", "kube-public", "kube-system"]);
    expect(out.configmaps).toContain("from-python");
    expect(out.events).toEqual([["ADDED", "watched"]]);
    expect(out.clusterIP).toBe("10.96.0.1");
  });
});
