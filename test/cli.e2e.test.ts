/** The `kubeplane` command: help, and one clear line with exit code 2 for bad flags. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { builtCliMissing, CLI } from "./helpers/apiserver.js";

const run = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

const missing = builtCliMissing();

describe.skipIf(!!missing)(`kubeplane CLI${missing ? ` (skipped: ${missing})` : ""}`, () => {
  it("lists its commands", async () => {
    const { code, stdout } = await cli(["--help"]);
    expect(code).toBe(0);
    for (const c of ["apiserver", "scheduler", "controller-manager", "up"]) expect(stdout).toContain(c);
  });

  it("prints the flags of a command", async () => {
    const { code, stdout } = await cli(["apiserver", "--help"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/--etcd-servers/);
    expect(stdout).toMatch(/--service-cluster-ip-range/);
  });

  it.each([
    [["apiserver", "--bogus"], /unknown flag: --bogus/],
    [["apiserver", "--secure-port", "abc"], /--secure-port: not an integer/],
    [["apiserver", "--service-cluster-ip-range", "10.0.0.0/99"], /--service-cluster-ip-range/],
    [["apiserver", "--service-node-port-range", "9-1"], /--service-node-port-range/],
    [["scheduler", "--leader-elect=maybe"], /--leader-elect: must be true or false/],
    [["controller-manager", "--node-monitor-grace-period", "soon"], /invalid duration/],
    [["nonsense"], /unknown command "nonsense"/],
  ])("rejects %j with one line and exit code 2", async (args, message) => {
    const { code, stderr } = await cli(args as string[]);
    expect(code).toBe(2);
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).toMatch(message as RegExp);
  });
});
