/**
 * The two storage backends the apiserver e2e suites run against: SQLite (embedded) and etcd
 * (a throwaway etcd on loopback). startOn() starts an apiserver child on one of them.
 */
import { type ApiserverProcess, builtCliMissing, startApiserver } from "./apiserver.js";
import { etcdAvailable, type RunningEtcd, startEtcd } from "./etcd.js";

export type BackendName = "sqlite" | "etcd";

export const BACKENDS: { name: BackendName; skip: string | undefined }[] = [
  { name: "sqlite", skip: builtCliMissing() },
  {
    name: "etcd",
    skip:
      builtCliMissing() ??
      (etcdAvailable() ? undefined : "etcd not installed at /usr/bin/etcd (Debian etcd-server)"),
  },
];

export function title(b: { name: string; skip: string | undefined }, what: string): string {
  return `${what} on ${b.name}${b.skip ? ` (skipped: ${b.skip})` : ""}`;
}

export interface BackendApiserver {
  api: ApiserverProcess;
  etcd: RunningEtcd | undefined;
  /** extra args the apiserver was started with (the etcd endpoints), to restart it the same way */
  args: string[];
  stop(): Promise<void>;
}

export async function startOn(
  backend: BackendName,
  extraArgs: string[] = [],
  opts: { dataDir?: string; keepDataDir?: boolean } = {},
): Promise<BackendApiserver> {
  let etcd: RunningEtcd | undefined;
  const args = [...extraArgs];
  if (backend === "etcd") {
    etcd = await startEtcd();
    args.push("--etcd-servers", etcd.endpoints.join(","));
  }
  let api: ApiserverProcess;
  try {
    api = await startApiserver(args, opts);
  } catch (e) {
    await etcd?.stop();
    throw e;
  }
  return {
    api,
    etcd,
    args,
    async stop() {
      try {
        await api.stop();
      } finally {
        await etcd?.stop();
      }
    },
  };
}
