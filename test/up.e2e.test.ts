/** `kubeplane up`: the one-command local cluster starts, answers kubectl and DNS, and stops cleanly. */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { builtCliMissing, CLI } from "./helpers/apiserver.js";
import { KUBECTLS, kubectl, missingKubectl } from "./helpers/kubectl.js";
import { until } from "./helpers/net.js";

const run = promisify(execFile);
const KUBECTL = KUBECTLS[0]!.path;
const missing = builtCliMissing() ?? missingKubectl(KUBECTL);

describe.skipIf(!!missing)(`kubeplane up${missing ? ` (skipped: ${missing})` : ""}`, () => {
  it("runs a cluster that kubectl and dig can use, and stops on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kubeplane-up-"));
    // loopback-only upstream: the test must not send DNS traffic off this machine
    const child = spawn(
      process.execPath,
      [
        CLI,
        "up",
        "--data-dir",
        dir,
        "--secure-port",
        "0",
        "--dns-listen",
        "127.0.0.1:0",
        "--dns-upstream",
        "127.0.0.1:9",
      ],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    try {
      const up = await new Promise<{ kubeconfig: string; dns: string }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("kubeplane up did not come up in 60 s")), 60_000);
        createInterface({ input: child.stdout! }).on("line", (line) => {
          try {
            const rec = JSON.parse(line) as { msg?: string; kubeconfig?: string; dns?: string };
            if (rec.msg?.startsWith("cluster is up") && rec.kubeconfig && rec.dns) {
              clearTimeout(timer);
              resolve({ kubeconfig: rec.kubeconfig, dns: rec.dns });
            }
          } catch {
            // not JSON
          }
        });
      });
      const k = kubectl(KUBECTL, up.kubeconfig);
      expect((await k(["get", "namespaces", "-o", "name"])).stdout).toContain("namespace/kube-system");
      // the controller-manager is running: every namespace gets its default ServiceAccount
      await until(
        "the default ServiceAccount",
        async () => (await k(["get", "sa", "default", "-o", "name"], { allowFail: true })).code === 0,
      );
      const [host, port] = up.dns.split(":");
      const { stdout } = await run("dig", [
        `@${host}`,
        "-p",
        port!,
        "+short",
        "kubernetes.default.svc.cluster.local",
      ]);
      expect(stdout.trim()).toBe("10.96.0.1");
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
