/**
 * The proxier's health: /healthz and /livez on the healthz address (503 with the JSON body when
 * a queued update waited longer than the health timeout), and one HTTP server per
 * healthCheckNodePort of externalTrafficPolicy: Local services (200 only with local endpoints).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { splitHostPort } from "../metrics/serve.js";

export interface HealthBody {
  lastUpdated: string;
  currentTime: string;
  nodeEligible: boolean;
}

/** pure bookkeeping of sync freshness */
export class ProxyHealth {
  private lastUpdated = 0;
  /** when the oldest update still waiting for a sync was queued (0: none) */
  private oldestQueued = 0;
  nodeEligible = true;

  constructor(
    /** 2 × sync period */
    readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  queued(): void {
    if (!this.oldestQueued) this.oldestQueued = this.now();
  }

  /** a sync that covered everything queued before `startedAt` succeeded */
  updated(startedAt = this.now()): void {
    this.lastUpdated = this.now();
    if (this.oldestQueued && this.oldestQueued <= startedAt) this.oldestQueued = 0;
  }

  get lastUpdatedMs(): number {
    return this.lastUpdated;
  }

  /** healthy unless an update has been queued for longer than the timeout */
  proxyHealthy(): boolean {
    return !this.oldestQueued || this.now() - this.oldestQueued < this.timeoutMs;
  }

  status(kind: "healthz" | "livez"): { ok: boolean; body: HealthBody } {
    const now = this.now();
    const body: HealthBody = {
      lastUpdated: new Date(this.lastUpdated || 0).toISOString(),
      currentTime: new Date(now).toISOString(),
      nodeEligible: this.nodeEligible,
    };
    const ok = this.proxyHealthy() && (kind === "livez" || this.nodeEligible);
    return { ok, body };
  }
}

function sendJSON(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(code, {
    "Content-Type": "application/json",
    "X-Content-Type-Options": "nosniff",
    ...headers,
  });
  res.end(JSON.stringify(body));
}

async function listen(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export interface HealthzServer {
  port: number;
  close(): Promise<void>;
}

/** /healthz and /livez for the proxier ("" bind address: none) */
export async function serveHealthz(bindAddress: string, health: ProxyHealth): Promise<HealthzServer> {
  const { host, port } = splitHostPort(bindAddress);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/healthz" || path === "/livez") {
      const { ok, body } = health.status(path === "/livez" ? "livez" : "healthz");
      sendJSON(res, ok ? 200 : 503, body);
      return;
    }
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("404 page not found\n");
  });
  const actual = await listen(server, host, port);
  return { port: actual, close: () => closeServer(server) };
}

export interface HealthCheckService {
  namespace: string;
  name: string;
  port: number;
  localEndpoints: number;
}

/** one HTTP server per healthCheckNodePort, reconciled after each sync */
export class ServiceHealthServers {
  private readonly servers = new Map<number, { server: Server; svc: HealthCheckService }>();
  private readonly failed = new Set<number>();

  constructor(
    private readonly proxyHealthy: () => boolean,
    private readonly log: { warn(o: Record<string, unknown>, m: string): void },
    private readonly host = "0.0.0.0",
  ) {}

  get ports(): number[] {
    return [...this.servers.keys()];
  }

  async sync(services: readonly HealthCheckService[]): Promise<void> {
    const want = new Map(services.map((s) => [s.port, s]));
    for (const [port, entry] of this.servers) {
      if (!want.has(port)) {
        this.servers.delete(port);
        await closeServer(entry.server);
      }
    }
    for (const [port, svc] of want) {
      const existing = this.servers.get(port);
      if (existing) {
        existing.svc = svc;
        continue;
      }
      const entry = { server: undefined as unknown as Server, svc };
      entry.server = createServer((_req, res) => {
        const s = entry.svc;
        const healthy = this.proxyHealthy();
        sendJSON(
          res,
          s.localEndpoints > 0 && healthy ? 200 : 503,
          {
            service: { namespace: s.namespace, name: s.name },
            localEndpoints: s.localEndpoints,
            serviceProxyHealthy: healthy,
          },
          { "X-Load-Balancing-Endpoint-Weight": String(s.localEndpoints) },
        );
      });
      try {
        await listen(entry.server, this.host, port);
        this.servers.set(port, entry);
        this.failed.delete(port);
      } catch (e) {
        if (!this.failed.has(port))
          this.log.warn({ port, err: String(e) }, "cannot open health check node port");
        this.failed.add(port);
      }
    }
  }

  async close(): Promise<void> {
    const all = [...this.servers.values()];
    this.servers.clear();
    await Promise.all(all.map((e) => closeServer(e.server)));
  }
}
