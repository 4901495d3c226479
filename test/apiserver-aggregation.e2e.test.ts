/**
 * API aggregation end to end, driven with real kubectl. The aggregated backend must have a
 * non-loopback address (endpoint validation rejects loopback IPs, as upstream does), so the whole
 * scenario runs inside a network namespace this test creates: lo carries 127.0.0.1 (the apiserver)
 * and 10.123.0.1/32 (the backend, test/fixtures/aggregated-backend.mjs). Nothing touches the host's
 * network; the namespace is deleted afterwards, also on failure.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { createCertificateAuthority, issueServingCertificate } from "../apiserver/pki.js";
import { builtCliMissing, CLI, REPO } from "./helpers/apiserver.js";
import { waitUntil } from "./helpers/net.js";

const execFileP = promisify(execFile);
const KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33";
const IP = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].find((p) => existsSync(p));
const BACKEND_IP = "10.123.0.1";
const BACKEND_PORT = 8443;
const FIXTURE = join(REPO, "test/fixtures/aggregated-backend.mjs");

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root to create a network namespace (ip netns add)";
  if (!IP) return "the ip command (iproute2) is missing";
  if (!existsSync(KUBECTL)) return `kubectl not found at ${KUBECTL}`;
  return builtCliMissing();
}
const skip = skipReason();

const manifests = {
  service: `apiVersion: v1
kind: Service
metadata:
  name: demo-api
  namespace: default
spec:
  ports:
  - name: https
    port: 443
    protocol: TCP
    targetPort: ${BACKEND_PORT}
`,
  apiService: `apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1.demo.kubeplane.io
spec:
  group: demo.kubeplane.io
  version: v1
  service:
    namespace: default
    name: demo-api
    port: 443
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 1000
  versionPriority: 15
`,
  slice: `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: demo-api-1
  namespace: default
  labels:
    kubernetes.io/service-name: demo-api
addressType: IPv4
endpoints:
- addresses: ["${BACKEND_IP}"]
  conditions:
    ready: true
ports:
- name: https
  port: ${BACKEND_PORT}
  protocol: TCP
`,
};

interface Proc {
  child: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
}

/** starts `cmd args` inside the namespace; resolves once a stdout JSON line has msg === readyMsg */
async function startInNetns(
  ns: string,
  args: string[],
  readyMsg: string,
): Promise<{ proc: Proc; ready: Record<string, unknown> }> {
  const child = spawn(IP!, ["netns", "exec", ns, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
  createInterface({ input: child.stderr! }).on("line", (l) => lines.push(l));
  const proc = { child, lines, exited };
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${args.join(" ")} not ready in 60 s:\n${lines.slice(-20).join("\n")}`)),
      60_000,
    );
    createInterface({ input: child.stdout! }).on("line", (line) => {
      lines.push(line);
      try {
        const rec = JSON.parse(line) as Record<string, unknown>;
        if (rec.msg === readyMsg) {
          clearTimeout(timer);
          resolve(rec);
        }
      } catch {
        // not JSON
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(
        new Error(
          `${args.join(" ")} exited with ${code} before it was ready:\n${lines.slice(-20).join("\n")}`,
        ),
      );
    });
  });
  return { proc, ready };
}

async function stopProc(p: Proc | undefined): Promise<void> {
  if (!p) return;
  const { child } = p;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 5000);
  await p.exited;
  clearTimeout(t);
}

describe.skipIf(!!skip)(
  `API aggregation through a real apiserver, with kubectl 1.33${skip ? ` (skipped: ${skip})` : ""}`,
  () => {
    const ns = `kp-agg-${randomBytes(4).toString("hex")}`;
    let work = "";
    let dataDir = "";
    let cacheDir = "";
    let nsCreated = false;
    let apiserver: Proc | undefined;
    let backend: Proc | undefined;

    async function ip(...args: string[]): Promise<void> {
      await execFileP(IP!, args);
    }

    async function cleanup(): Promise<void> {
      await stopProc(backend).catch(() => undefined);
      await stopProc(apiserver).catch(() => undefined);
      backend = undefined;
      apiserver = undefined;
      if (nsCreated) {
        await ip("netns", "del", ns).catch(() => undefined);
        nsCreated = false;
      }
      if (work) rmSync(work, { recursive: true, force: true });
    }

    afterAll(cleanup);

    function kubectl(args: string[], opts: { allowFail?: boolean; input?: string } = {}) {
      return new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(
          IP!,
          [
            "netns",
            "exec",
            ns,
            KUBECTL,
            "--kubeconfig",
            join(dataDir, "admin.kubeconfig"),
            "--cache-dir",
            cacheDir,
            ...args,
          ],
          { stdio: ["pipe", "pipe", "pipe"] },
        );
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.stdin.end(opts.input ?? "");
        const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
        child.on("exit", (code) => {
          clearTimeout(timer);
          const res = { code: code ?? -1, stdout, stderr };
          if (res.code !== 0 && !opts.allowFail)
            reject(new Error(`kubectl ${args.join(" ")} failed (${res.code}): ${stderr}\n${stdout}`));
          else resolve(res);
        });
      });
    }

    it("proxies a claimed group/version to the Service's ready endpoint: 503 first, then lists, watches and discovery", async () => {
      work = mkdtempSync(join(tmpdir(), "kp-agg-"));
      dataDir = join(work, "data");
      cacheDir = join(work, "kubectl-cache");
      try {
        // the namespace: loopback up, plus the backend's non-loopback address on lo
        await ip("netns", "add", ns);
        nsCreated = true;
        await ip("-n", ns, "link", "set", "lo", "up");
        await ip("-n", ns, "addr", "add", `${BACKEND_IP}/32`, "dev", "lo");

        // the backend's self-signed serving certificate for 10.123.0.1
        const ca = await createCertificateAuthority("demo-backend-ca");
        const serving = await issueServingCertificate(ca, "demo-backend", [BACKEND_IP]);
        writeFileSync(join(work, "backend.crt"), serving.certPem + ca.certPem);
        writeFileSync(join(work, "backend.key"), serving.keyPem, { mode: 0o600 });

        const api = await startInNetns(
          ns,
          [
            process.execPath,
            CLI,
            "apiserver",
            "--data-dir",
            dataDir,
            "--secure-port",
            "0",
            "--bind-address",
            "127.0.0.1",
          ],
          "apiserver ready",
        );
        apiserver = api.proc;
        const be = await startInNetns(
          ns,
          [
            process.execPath,
            FIXTURE,
            BACKEND_IP,
            String(BACKEND_PORT),
            join(work, "backend.crt"),
            join(work, "backend.key"),
          ],
          "backend listening",
        );
        backend = be.proc;

        const widgets = "/apis/demo.kubeplane.io/v1/namespaces/default/widgets";

        // unclaimed group: 404
        const unclaimed = await kubectl(["get", "--raw", widgets], { allowFail: true });
        expect(unclaimed.code).not.toBe(0);
        expect(unclaimed.stderr).toMatch(/NotFound|404|could not find/i);

        // claimed, but no endpoints yet: 503
        await kubectl(["apply", "-f", "-"], { input: manifests.service });
        await kubectl(["apply", "-f", "-"], { input: manifests.apiService });
        const unavailable = await kubectl(["get", "--raw", widgets], { allowFail: true });
        expect(unavailable.code).not.toBe(0);
        expect(unavailable.stderr).toMatch(/ServiceUnavailable|503/);
        const before = JSON.parse(
          (await kubectl(["get", "apiservice", "v1.demo.kubeplane.io", "-o", "json"])).stdout,
        );
        expect(before.spec.group).toBe("demo.kubeplane.io");

        // a loopback endpoint address is rejected (which is why this test needs its own namespace)
        const loopback = await kubectl(["apply", "-f", "-"], {
          input: manifests.slice.replace(BACKEND_IP, "127.0.0.1").replace("demo-api-1", "demo-api-loopback"),
          allowFail: true,
        });
        expect(loopback.code).not.toBe(0);
        expect(loopback.stderr).toMatch(/loopback/);

        // an EndpointSlice with the backend's address: the same request now reaches the backend
        await kubectl(["apply", "-f", "-"], { input: manifests.slice });
        const listed = await waitUntil(
          async () => {
            const r = await kubectl(["get", "--raw", widgets], { allowFail: true });
            return r.code === 0 ? r.stdout : undefined;
          },
          15_000,
          "the proxied widget list",
        );
        const list = JSON.parse(listed);
        expect(list.kind).toBe("WidgetList");
        expect(list.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(["w1", "w2"]);
        // the proxy identified the user to the backend and did not forward the bearer token
        const ann = list.items[0].metadata.annotations;
        expect(ann["seen-x-remote-user"]).toBe("kubeplane-admin");
        expect(ann["seen-x-remote-group"]).toContain("system:masters");
        expect(ann["seen-authorization"]).toBe("absent");
        const logged = backend.lines
          .map((l) => {
            try {
              return JSON.parse(l) as { msg?: string; path?: string; remoteUser?: string };
            } catch {
              return {};
            }
          })
          .filter((r) => r.msg === "request" && r.path === widgets);
        expect(logged.length).toBeGreaterThan(0);
        expect(logged.every((r) => r.remoteUser === "kubeplane-admin")).toBe(true);

        // a watch streams through the proxy: the first event arrives before the backend ends the stream
        const watchLines: { at: number; line: string }[] = [];
        const started = Date.now();
        await new Promise<void>((resolve, reject) => {
          const child = spawn(
            IP!,
            [
              "netns",
              "exec",
              ns,
              KUBECTL,
              "--kubeconfig",
              join(dataDir, "admin.kubeconfig"),
              "get",
              "--raw",
              `${widgets}?watch=true`,
            ],
            { stdio: ["ignore", "pipe", "pipe"] },
          );
          let stderr = "";
          child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
          let buf = "";
          child.stdout.on("data", (d: Buffer) => {
            buf += d.toString();
            let nl = buf.indexOf("\n");
            while (nl >= 0) {
              const line = buf.slice(0, nl).trim();
              buf = buf.slice(nl + 1);
              if (line) watchLines.push({ at: Date.now() - started, line });
              nl = buf.indexOf("\n");
            }
          });
          const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
          child.on("exit", (code) => {
            clearTimeout(timer);
            if (buf.trim()) watchLines.push({ at: Date.now() - started, line: buf.trim() });
            if (code === 0) resolve();
            else reject(new Error(`kubectl get --raw watch exited ${code}: ${stderr}`));
          });
        });
        const events = watchLines.map(
          (l) =>
            JSON.parse(l.line) as {
              type: string;
              object: { metadata: { name: string }; spec: { color: string } };
            },
        );
        expect(events.map((e) => `${e.type} ${e.object.metadata.name} ${e.object.spec.color}`)).toEqual([
          "ADDED w1 blue",
          "MODIFIED w1 red",
        ]);
        // the backend pauses 1.5 s between the events; a buffering proxy would deliver both at once
        expect(watchLines[1]!.at - watchLines[0]!.at).toBeGreaterThan(700);

        // discovery: kubectl api-resources lists the aggregated resource
        const resources = await waitUntil(
          async () => {
            const r = await kubectl(["api-resources", "--api-group=demo.kubeplane.io"], { allowFail: true });
            return r.code === 0 && /\bwidgets\b/.test(r.stdout) ? r.stdout : undefined;
          },
          30_000,
          "widgets in kubectl api-resources",
        );
        expect(resources).toMatch(/widgets\s+wd\s+demo\.kubeplane\.io\/v1\s+true\s+Widget/);
        const all = await kubectl(["api-resources"]);
        expect(all.stdout).toMatch(/\bwidgets\b/);
        expect(all.stdout).toMatch(/\bdeployments\b/);

        // the APIService becomes Available
        const available = await waitUntil(
          async () => {
            const r = await kubectl(["get", "apiservice", "v1.demo.kubeplane.io", "-o", "json"]);
            const cond = (JSON.parse(r.stdout).status?.conditions ?? []).find(
              (c: { type: string }) => c.type === "Available",
            );
            return cond?.status === "True" ? cond : undefined;
          },
          15_000,
          "APIService v1.demo.kubeplane.io Available=True",
        );
        expect(available.status).toBe("True");
        const table = await kubectl(["get", "apiservice", "v1.demo.kubeplane.io"]);
        expect(table.stdout).toMatch(/v1\.demo\.kubeplane\.io\s+default\/demo-api\s+True/);

        // the apiserver itself still answers its own groups next to the aggregated one
        const nsList = await kubectl(["get", "namespaces", "-o", "name"]);
        expect(nsList.stdout).toContain("namespace/default");
      } finally {
        await cleanup();
      }
      // the namespace is gone
      const { stdout } = await execFileP(IP!, ["netns", "list"]);
      expect(stdout).not.toContain(ns);
    }, 240_000);
  },
);
