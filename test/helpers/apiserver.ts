/**
 * Starts a real `kubeplane apiserver` child process (from dist/, built by `npm test`)
 * with a fresh data dir on a free loopback port, and stops it afterwards.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

export const REPO = resolve(import.meta.dirname, "../..");
export const CLI = join(REPO, "dist/cli/main.js");

export interface ApiserverProcess {
  url: string;
  dataDir: string;
  kubeconfig: string;
  token: string;
  caPem: string;
  child: ChildProcess;
  logs: string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function builtCliMissing(): string | undefined {
  return existsSync(CLI)
    ? undefined
    : `dist/cli/main.js is missing: run "npm run build" first (npm test does)`;
}

export async function startApiserver(
  extraArgs: string[] = [],
  opts: { dataDir?: string; keepDataDir?: boolean } = {},
): Promise<ApiserverProcess> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "kubeplane-apiserver-"));
  const child = spawn(
    process.execPath,
    [CLI, "apiserver", "--data-dir", dataDir, "--secure-port", "0", ...extraArgs],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, KUBEPLANE_LOG_LEVEL: process.env.KUBEPLANE_LOG_LEVEL ?? "info" },
    },
  );
  const logs: string[] = [];
  const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
  createInterface({ input: child.stderr! }).on("line", (l) => logs.push(l));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`apiserver did not become ready in 60 s:\n${logs.slice(-20).join("\n")}`)),
      60_000,
    );
    createInterface({ input: child.stdout! }).on("line", (line) => {
      logs.push(line);
      try {
        const rec = JSON.parse(line) as { msg?: string; url?: string };
        if (rec.msg === "apiserver ready" && rec.url) {
          clearTimeout(timer);
          resolveUrl(rec.url);
        }
      } catch {
        // not a JSON line
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`apiserver exited with ${code} before it was ready:\n${logs.slice(-20).join("\n")}`));
    });
  });
  const kubeconfig = join(dataDir, "admin.kubeconfig");
  const token = readFileSync(join(dataDir, "tokens.csv"), "utf8").split(",")[0]!.trim();
  const caPem = readFileSync(join(dataDir, "pki", "ca.crt"), "utf8");
  return {
    url,
    dataDir,
    kubeconfig,
    token,
    caPem,
    child,
    logs,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      if (!opts.keepDataDir) rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}
