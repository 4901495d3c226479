#!/usr/bin/env node
/** The `kubeplane` command: one subcommand per daemon, plus `up`. */
import { FlagError } from "./flags.js";

type Main = (argv: string[]) => Promise<void>;

const COMMANDS: Record<string, { help: string; load: () => Promise<Main> }> = {
  apiserver: { help: "the Kubernetes API server (SQLite or etcd storage)", load: async () => (await import("./apiserver.js")).main },
  scheduler: { help: "binds pods to nodes (filters + scores)", load: async () => (await import("./scheduler.js")).main },
  "controller-manager": {
    help: "deployment, replicaset, daemonset, endpointslice, endpoints, node and gc controllers",
    load: async () => (await import("./controller-manager.js")).main,
  },
  dns: { help: "cluster DNS (Kubernetes DNS spec 1.1.0) with upstream forwarding", load: async () => (await import("./dns.js")).main },
  proxy: { help: "the Service VIP data plane (iptables, nftables)", load: async () => (await import("./proxy.js")).main },
  up: { help: "a local cluster with every daemon, in one process", load: async () => (await import("./up.js")).main },
};

function help(): string {
  const lines = ["kubeplane: a Kubernetes networking and observability data plane", "", "Usage: kubeplane <command> [flags]", "", "Commands:"];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(20)}${c.help}`);
  lines.push("", "Run `kubeplane <command> --help` for the flags of one command.");
  return lines.join("\n");
}

async function mainCli(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${help()}\n`);
    return;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`kubeplane: unknown command "${name}" (try kubeplane --help)\n`);
    process.exit(2);
  }
  const main = await cmd.load();
  if (rest.includes("--help") || rest.includes("-h")) {
    const mod = (await import(`./${name}.js`)) as Record<string, unknown>;
    const { usage } = await import("./flags.js");
    const specs = Object.entries(mod).find(([k]) => k.endsWith("Flags"))?.[1];
    process.stdout.write(`${usage(name, (specs ?? {}) as never)}\n`);
    return;
  }
  try {
    await main(rest);
  } catch (e) {
    if (e instanceof FlagError) {
      process.stderr.write(`kubeplane ${name}: ${e.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`kubeplane ${name}: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}

await mainCli(process.argv.slice(2));
