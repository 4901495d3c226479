/**
 * Starts `kubeplane apiserver` (dist/cli/main.js) as a child process, so that the benchmark
 * client and the server do not share one event loop. Fresh data dir, port 0 on 127.0.0.1; the
 * URL comes from the JSON "apiserver ready" log line, the admin token and CA from the data dir.
 * `nodeArgs` lets the caller add e.g. --cpu-prof.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

const CLI = resolve(import.meta.dirname, "../cli/main.js");

export interface ApiserverProcess {
  url: string;
  token: string;
  caPem: string;
  dataDir: string;
  child: ChildProcess;
  stop(): Promise<number | null>;
}

export async function startApiserverProcess(opts: {
  etcdServers?: string[];
  nodeArgs?: string[];
}): Promise<ApiserverProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), "kubeplane-bench-apiserver-"));
  const args = [...(opts.nodeArgs ?? []), CLI, "apiserver", "--data-dir", dataDir, "--secure-port", "0"];
  if (opts.etcdServers?.length) args.push("--etcd-servers", opts.etcdServers.join(","));
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, KUBEPLANE_LOG_LEVEL: "info" },
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
  createInterface({ input: child.stderr! }).on("line", (l) => {
    logs.push(l);
    if (logs.length > 200) logs.shift();
  });
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`apiserver not ready in 60 s:\n${logs.slice(-20).join("\n")}`)),
      60_000,
    );
    createInterface({ input: child.stdout! }).on("line", (line) => {
      logs.push(line);
      if (logs.length > 200) logs.shift();
      try {
        const rec = JSON.parse(line) as { msg?: string; url?: string; level?: number };
        if (rec.msg === "apiserver ready" && rec.url) {
          clearTimeout(timer);
          resolveUrl(rec.url);
        } else if ((rec.level ?? 0) >= 40) {
          process.stderr.write(`  [apiserver] ${line}\n`);
        }
      } catch {
        // not JSON
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`apiserver exited with ${code} before ready:\n${logs.slice(-20).join("\n")}`));
    });
  });
  const token = readFileSync(join(dataDir, "tokens.csv"), "utf8").split(",")[0]!.trim();
  const caPem = readFileSync(join(dataDir, "pki", "ca.crt"), "utf8");
  return {
    url,
    token,
    caPem,
    dataDir,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      // --cpu-prof writes its profile on a normal exit: give the graceful shutdown some time
      const t = setTimeout(() => child.kill("SIGKILL"), 15_000);
      const code = await exited;
      clearTimeout(t);
      rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}
