/**
 * The small HTTP server every daemon runs for operators: /metrics (Prometheus text),
 * /healthz and /livez (200 "ok" while healthy), /readyz (200 once ready).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface OperatorServerOptions {
  /** "127.0.0.1:10257", ":10257", "0.0.0.0:0" */
  bindAddress: string;
  registry?: Registry;
  healthy?: () => boolean | { ok: boolean; body?: unknown };
  ready?: () => boolean;
}

export interface OperatorServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

export function splitHostPort(addr: string, defaultHost = "0.0.0.0"): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!m) throw new Error(`invalid address "${addr}" (want HOST:PORT)`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid port in "${addr}"`);
  return { host: m[1] ?? (m[2] || defaultHost), port };
}

export async function serveOperatorEndpoints(opts: OperatorServerOptions): Promise<OperatorServer> {
  const { host, port } = splitHostPort(opts.bindAddress);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (code: number, body: string, type = "text/plain; charset=utf-8") => {
      res.writeHead(code, { "Content-Type": type });
      res.end(body);
    };
    if (path === "/metrics" && opts.registry) {
      opts.registry.metrics().then(
        (text) => send(200, text, opts.registry!.contentType),
        (e: unknown) => send(500, String(e)),
      );
      return;
    }
    if (path === "/healthz" || path === "/livez") {
      const h = opts.healthy?.() ?? true;
      const { ok, body } = typeof h === "boolean" ? { ok: h, body: undefined } : h;
      if (body !== undefined) send(ok ? 200 : 503, JSON.stringify(body), "application/json");
      else send(ok ? 200 : 503, ok ? "ok" : "unhealthy");
      return;
    }
    if (path === "/readyz") {
      const ok = opts.ready?.() ?? true;
      send(ok ? 200 : 503, ok ? "ok" : "not ready");
      return;
    }
    send(404, "not found");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    port: actual,
    url: `http://${host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host}:${actual}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
