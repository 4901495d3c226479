import { afterEach, describe, expect, it } from "vitest";
import { ProxyHealth, ServiceHealthServers, serveHealthz } from "./healthz.js";

describe("ProxyHealth", () => {
  it("is healthy until a queued update waits longer than the timeout", () => {
    let now = 1_000_000;
    const h = new ProxyHealth(60_000, () => now);
    expect(h.status("healthz").ok).toBe(true);
    h.queued();
    now += 59_000;
    expect(h.proxyHealthy()).toBe(true);
    now += 2000;
    const s = h.status("healthz");
    expect(s.ok).toBe(false);
    expect(s.body).toEqual({
      lastUpdated: new Date(0).toISOString(),
      currentTime: new Date(now).toISOString(),
      nodeEligible: true,
    });
    h.updated(now);
    expect(h.status("healthz").ok).toBe(true);
    expect(h.status("healthz").body.lastUpdated).toBe(new Date(now).toISOString());
  });
  it("an update queued during a sync stays pending after it", () => {
    let now = 0;
    const h = new ProxyHealth(1000, () => now);
    const syncStart = now;
    now = 10;
    h.queued();
    now = 20;
    h.updated(syncStart);
    now = 2000;
    expect(h.proxyHealthy()).toBe(false);
  });
  it("an ineligible node fails /healthz but not /livez", () => {
    const h = new ProxyHealth(1000);
    h.nodeEligible = false;
    expect(h.status("healthz").ok).toBe(false);
    expect(h.status("livez").ok).toBe(true);
  });
});

describe("health servers", () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
  });

  it("/healthz and /livez answer with the JSON body", async () => {
    const h = new ProxyHealth(1000);
    const srv = await serveHealthz("127.0.0.1:0", h);
    closers.push(srv.close);
    const r = await fetch(`http://127.0.0.1:${srv.port}/healthz`);
    expect(r.status).toBe(200);
    expect(Object.keys((await r.json()) as object).sort()).toEqual([
      "currentTime",
      "lastUpdated",
      "nodeEligible",
    ]);
    expect((await fetch(`http://127.0.0.1:${srv.port}/nope`)).status).toBe(404);
  });

  it("health check node ports: 200 with local endpoints, 503 without; closed when gone", async () => {
    const servers = new ServiceHealthServers(() => true, { warn() {} }, "127.0.0.1");
    closers.push(() => servers.close());
    const probe = await serveHealthz("127.0.0.1:0", new ProxyHealth(1)); // find a free port
    const port = probe.port;
    await probe.close();
    await servers.sync([{ namespace: "default", name: "lb", port, localEndpoints: 2 }]);
    let r = await fetch(`http://127.0.0.1:${port}/`);
    expect(r.status).toBe(200);
    expect(r.headers.get("x-load-balancing-endpoint-weight")).toBe("2");
    expect(await r.json()).toEqual({
      service: { namespace: "default", name: "lb" },
      localEndpoints: 2,
      serviceProxyHealthy: true,
    });
    await servers.sync([{ namespace: "default", name: "lb", port, localEndpoints: 0 }]);
    r = await fetch(`http://127.0.0.1:${port}/`);
    expect(r.status).toBe(503);
    expect(((await r.json()) as { localEndpoints: number }).localEndpoints).toBe(0);
    await servers.sync([]);
    expect(servers.ports).toEqual([]);
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  });
});
