/** `kubeplane scheduler`: flags → scheduler/scheduler.run, graceful shutdown on SIGTERM/SIGINT. */
import { KubeconfigError } from "../client/index.js";
import { DEFAULT_SCHEDULER_NAME, run } from "../scheduler/scheduler.js";
import type { FlagSpecs } from "./flags.js";
import { FlagError, parseFlags } from "./flags.js";
import { createLogger } from "./logger.js";
import { untilSignal } from "./signals.js";

export const schedulerFlags = {
  kubeconfig: { type: "string", help: "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)" },
  "scheduler-name": {
    type: "string",
    default: DEFAULT_SCHEDULER_NAME,
    help: "schedule pods whose spec.schedulerName is this",
    check: (v) => {
      if (typeof v !== "string" || v === "") throw new Error("must not be empty");
    },
  },
  "leader-elect": {
    type: "bool",
    default: false,
    help: "elect a leader on the kube-system/kube-scheduler Lease",
  },
  "bind-address": {
    type: "string",
    default: "127.0.0.1:10259",
    help: 'address for /healthz and /metrics ("" disables)',
  },
} satisfies FlagSpecs;

export async function main(argv: string[]): Promise<void> {
  const f = parseFlags(argv, schedulerFlags);
  const log = createLogger("scheduler");
  const scheduler = await run({
    kubeconfig: f.kubeconfig as string | undefined,
    schedulerName: f["scheduler-name"] as string,
    leaderElect: f["leader-elect"] as boolean,
    bindAddress: f["bind-address"] as string,
    logger: log,
  }).catch((e: unknown) => {
    // bad configuration is a usage error (exit 2), like a bad flag
    if (e instanceof KubeconfigError) throw new FlagError(e.message);
    if (e instanceof Error && /invalid (address|port)/.test(e.message))
      throw new FlagError(`--bind-address: ${e.message}`);
    throw e;
  });
  const signal = await untilSignal();
  log.info({ signal }, "shutting down");
  await scheduler.stop();
}
