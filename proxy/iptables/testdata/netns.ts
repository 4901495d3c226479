/**
 * Test helper: a throw-away network namespace to run iptables-restore / nft in. Never
 * touches the root namespace: every command goes through `ip netns exec NS`. The caller
 * must call `remove()` (afterAll / finally); `remove` is idempotent.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";

export interface CmdResult {
  status: number;
  stdout: string;
  stderr: string;
}

function has(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).status === 0;
}

/** why netns tests cannot run here, or undefined when they can */
export function netnsSkipReason(tools: readonly string[]): string | undefined {
  if (process.platform !== "linux") return "needs Linux network namespaces";
  if (typeof process.getuid === "function" && process.getuid() !== 0)
    return "needs root to create network namespaces";
  if (!has("ip")) return "needs iproute2 (ip netns)";
  for (const t of tools) if (!has(t)) return `needs ${t} (Debian iptables / nftables)`;
  return undefined;
}

export class NetNS {
  readonly name: string;
  private removed = false;

  private constructor(name: string) {
    this.name = name;
  }

  static create(prefix = "kp-gen"): NetNS {
    const name = `${prefix}-${randomBytes(4).toString("hex")}`;
    const r = spawnSync("ip", ["netns", "add", name], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`ip netns add ${name}: ${r.stderr}`);
    return new NetNS(name);
  }

  /** run argv inside the namespace, optionally feeding stdin */
  exec(argv: readonly string[], input?: string): CmdResult {
    if (this.removed) throw new Error(`namespace ${this.name} was removed`);
    const r = spawnSync("ip", ["netns", "exec", this.name, ...argv], {
      encoding: "utf8",
      input,
      maxBuffer: 64 * 1024 * 1024,
    });
    return {
      status: r.status ?? -1,
      stdout: r.stdout ?? "",
      stderr: (r.stderr ?? "") + (r.error ? String(r.error) : ""),
    };
  }

  /** like exec, but throws with the tool's stderr on failure */
  run(argv: readonly string[], input?: string): string {
    const r = this.exec(argv, input);
    if (r.status !== 0)
      throw new Error(`${argv.join(" ")} (in ${this.name}) failed (${r.status}): ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  remove(): void {
    if (this.removed) return;
    this.removed = true;
    spawnSync("ip", ["netns", "del", this.name], { encoding: "utf8" });
  }
}
