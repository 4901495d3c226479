/** Runs the real kubectl binaries present on the machine against a kubeconfig. */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";

const run = promisify(execFile);
const SDK = "/usr/lib/google-cloud-sdk/bin";

/** the kubectl versions the compatibility tests use: the newest and an older one */
export const KUBECTLS = [
  { version: "1.33", path: `${SDK}/kubectl.1.33` },
  { version: "1.27", path: `${SDK}/kubectl.1.27` },
];

export function missingKubectl(path: string): string | undefined {
  return existsSync(path)
    ? undefined
    : `kubectl not found at ${path} (the cloud SDK's kubectl versions are needed)`;
}

export interface KubectlResult {
  stdout: string;
  stderr: string;
  code: number;
}

export function kubectl(bin: string, kubeconfig: string) {
  return async (
    args: string[],
    opts: { input?: string; allowFail?: boolean; timeoutMs?: number } = {},
  ): Promise<KubectlResult> => {
    try {
      const p = run(bin, ["--kubeconfig", kubeconfig, ...args], {
        timeout: opts.timeoutMs ?? 60_000,
        maxBuffer: 64 * 1024 * 1024,
      });
      if (opts.input !== undefined) {
        p.child.stdin!.end(opts.input);
      }
      const { stdout, stderr } = await p;
      return { stdout, stderr, code: 0 };
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; code?: number };
      const res = {
        stdout: err.stdout ?? "",
        stderr: err.stderr ?? String(e),
        code: typeof err.code === "number" ? err.code : 1,
      };
      if (opts.allowFail) return res;
      throw new Error(`kubectl ${args.join(" ")} failed (${res.code}): ${res.stderr}\n${res.stdout}`);
    }
  };
}
