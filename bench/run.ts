/**
 * `npm run bench -- <name> [flags]`: runs one benchmark group; progress goes to stderr, the final
 * table (each figure next to its anchor) to stdout.
 *
 *   apiserver     create throughput/latency, single GET, watch fan-out and LIST, on SQLite and etcd,
 *                 each figure with its ratio to the upstream SLO
 *   cpuprofile    summarize a .cpuprofile written with `apiserver --cpu-prof DIR`
 */
import { parseArgs } from "node:util";
import { type ApiserverBenchOptions, runApiserverBenchmarks } from "./apiserver.js";
import { summarizeCpuProfile } from "./cpuprofile.js";

const USAGE = `Usage: npm run bench -- <name> [flags]

Benchmarks:
  apiserver   apiserver on SQLite and on etcd, figures next to the upstream SLOs
  scheduler      scheduler throughput and bind latency (bench/scheduler.ts; --help there)
  endpointslice  EndpointSlice controller (bench/endpointslice.ts)
  dns            cluster DNS next to unbound, with dnsperf (bench/dns.ts)
  proxy          proxy sync time next to iptables-restore / nft -f, programming latency, wrk data path (bench/proxy.ts)
  cpuprofile  FILE.cpuprofile [--top N]: self time by function and by module

apiserver flags:
  --quick              1/10 of the default sizes
  --pods N             pods created in the create benchmark (default 5000)
  --concurrency N      requests in flight for creates (default 32)
  --gets N             single-object GETs (default 1000)
  --watchers N         concurrent watchers (default 100)
  --watch-pods N       pods created while the watchers run (default 10000)
  --list-pods N        pods in the cluster for the LIST benchmark (default 10000)
  --list-runs N        runs of each LIST variant (default 10)
  --backend B          sqlite, etcd or both (default both)
  --cpu-prof DIR       run the apiserver with node --cpu-prof, profiles in DIR/<backend>/
`;

function int(v: string | undefined, def: number, name: string): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`bench: --${name} must be a positive integer, got "${v}"\n`);
    process.exit(2);
  }
  return n;
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h") {
    process.stdout.write(USAGE);
    return;
  }
  switch (name) {
    case "apiserver": {
      const { values } = parseArgs({
        args: rest,
        options: {
          quick: { type: "boolean" },
          pods: { type: "string" },
          concurrency: { type: "string" },
          gets: { type: "string" },
          watchers: { type: "string" },
          "watch-pods": { type: "string" },
          "list-pods": { type: "string" },
          "list-runs": { type: "string" },
          backend: { type: "string" },
          "cpu-prof": { type: "string" },
        },
        strict: true,
      });
      const div = values.quick ? 10 : 1;
      const backend = values.backend ?? "both";
      if (!["sqlite", "etcd", "both"].includes(backend)) {
        process.stderr.write(`bench: --backend must be sqlite, etcd or both\n`);
        process.exit(2);
      }
      const o: ApiserverBenchOptions = {
        pods: int(values.pods, 5000 / div, "pods"),
        concurrency: int(values.concurrency, 32, "concurrency"),
        gets: int(values.gets, 1000 / div, "gets"),
        watchers: int(values.watchers, 100 / div, "watchers"),
        watchPods: int(values["watch-pods"], 10_000 / div, "watch-pods"),
        listPods: int(values["list-pods"], 10_000 / div, "list-pods"),
        listRuns: int(values["list-runs"], 10, "list-runs"),
        pageSize: 500,
        backends: backend === "both" ? ["sqlite", "etcd"] : [backend as "sqlite" | "etcd"],
        cpuProfDir: values["cpu-prof"],
      };
      const t0 = performance.now();
      const out = await runApiserverBenchmarks(o);
      process.stderr.write(`total ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
      process.stdout.write(`\n${out}`);
      return;
    }
    case "cpuprofile": {
      const { values, positionals } = parseArgs({
        args: rest,
        options: { top: { type: "string" } },
        allowPositionals: true,
      });
      if (positionals.length === 0) {
        process.stderr.write("bench cpuprofile: give one or more .cpuprofile files\n");
        process.exit(2);
      }
      for (const f of positionals)
        process.stdout.write(`${summarizeCpuProfile(f, int(values.top, 25, "top"))}\n`);
      return;
    }
    case "scheduler": {
      // bench/scheduler.ts parses its own flags and returns the final table
      const { benchScheduler } = await import("./scheduler.js");
      process.stdout.write(`\n${await benchScheduler(rest)}`);
      return;
    }
    case "endpointslice": {
      const { benchEndpointSlice } = await import("./endpointslice.js");
      process.stdout.write(`\n${await benchEndpointSlice(rest)}`);
      return;
    }
    case "dns": {
      const { benchDns } = await import("./dns.js");
      process.stdout.write(`\n${await benchDns(rest)}`);
      return;
    }
    case "proxy": {
      const { benchProxy } = await import("./proxy.js");
      process.stdout.write(`\n${await benchProxy(rest)}`);
      return;
    }
    default:
      process.stderr.write(`bench: unknown benchmark "${name}"\n\n${USAGE}`);
      process.exit(2);
  }
}

try {
  await main(process.argv.slice(2));
  process.exit(0);
} catch (e) {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
}
