/**
 * API aggregation: a group/version claimed by an APIService with a service reference is
 * proxied, streaming (watches included), to one ready endpoint of that Service; 503 until
 * there is one. The APIService's Available condition follows the same check.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import { Agent, request } from "undici";
import type { KubeObject } from "../api/object.js";
import { findResource } from "../api/resources.js";
import { errors } from "../api/status.js";
import type { AggregatedGroupVersion, APIResource } from "./discovery.js";
import type { Registry } from "./registry.js";

interface APIServiceSpec {
  group?: string;
  version?: string;
  service?: { namespace?: string; name?: string; port?: number };
  caBundle?: string;
  insecureSkipTLSVerify?: boolean;
  groupPriorityMinimum?: number;
  versionPriority?: number;
}

export interface Backend {
  url: string;
  ca?: string;
  insecure: boolean;
}

type Endpoint = { ip: string; port: number };

const APISERVICES = findResource("apiregistration.k8s.io", "v1", "apiservices")!;
const SLICES = findResource("discovery.k8s.io", "v1", "endpointslices")!;
const ENDPOINTS = findResource("", "v1", "endpoints")!;
const SERVICES = findResource("", "v1", "services")!;

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "host",
  "authorization",
]);

export class Aggregator {
  private readonly agents = new Map<string, Agent>();
  private discoveryCache = new Map<string, { at: number; resources?: APIResource[] }>();

  constructor(
    private readonly registry: Registry,
    private readonly proxyClient?: { cert: string; key: string },
  ) {}

  private apiServices(): KubeObject[] {
    return this.registry.cacheFor(APISERVICES)?.list().items ?? [];
  }

  /** the APIService that claims group/version with a service, if any */
  claim(group: string, version: string): (KubeObject & { spec: APIServiceSpec }) | undefined {
    if (!group) return undefined;
    for (const s of this.apiServices()) {
      const spec = (s.spec ?? {}) as APIServiceSpec;
      if (spec.group === group && spec.version === version && spec.service?.name)
        return s as KubeObject & { spec: APIServiceSpec };
    }
    return undefined;
  }

  /** aggregated group-versions with their (briefly cached) resource lists, for discovery */
  async groupVersions(withResources: boolean): Promise<AggregatedGroupVersion[]> {
    const out: AggregatedGroupVersion[] = [];
    for (const s of this.apiServices()) {
      const spec = (s.spec ?? {}) as APIServiceSpec;
      if (!spec.service?.name || !spec.group || !spec.version) continue;
      const entry: AggregatedGroupVersion = {
        group: spec.group,
        version: spec.version,
        groupPriorityMinimum: spec.groupPriorityMinimum ?? 1000,
        versionPriority: spec.versionPriority ?? 15,
      };
      if (withResources) entry.resources = await this.backendResources(spec);
      out.push(entry);
    }
    return out;
  }

  private async backendResources(spec: APIServiceSpec): Promise<APIResource[] | undefined> {
    const key = `${spec.group}/${spec.version}`;
    const cached = this.discoveryCache.get(key);
    if (cached && Date.now() - cached.at < 10_000) return cached.resources;
    let resources: APIResource[] | undefined;
    try {
      const backend = await this.backend(spec);
      if (backend) {
        const res = await request(`${backend.url}/apis/${key}`, {
          dispatcher: this.agent(backend),
          headers: {
            accept: "application/json",
            "x-remote-user": "system:kube-aggregator",
            "x-remote-group": "system:masters",
          },
          headersTimeout: 3000,
          bodyTimeout: 3000,
        });
        const body = (await res.body.json()) as { resources?: APIResource[] };
        if (res.statusCode === 200 && Array.isArray(body.resources)) resources = body.resources;
      }
    } catch {
      resources = undefined;
    }
    this.discoveryCache.set(key, { at: Date.now(), resources });
    return resources;
  }

  private agent(b: Backend): Agent {
    const key = `${b.insecure}|${b.ca ?? ""}`;
    let a = this.agents.get(key);
    if (!a) {
      a = new Agent({
        connect: {
          rejectUnauthorized: !b.insecure,
          ...(b.ca ? { ca: b.ca } : {}),
          ...(this.proxyClient ? { cert: this.proxyClient.cert, key: this.proxyClient.key } : {}),
        },
      });
      this.agents.set(key, a);
    }
    return a;
  }

  /** a ready endpoint of the APIService's Service, resolved to the port it names */
  async backend(spec: APIServiceSpec): Promise<Backend | undefined> {
    const ns = spec.service?.namespace ?? "default";
    const name = spec.service!.name!;
    const svc = await this.registry.tryGet(SERVICES, ns, name);
    if (!svc) return undefined;
    const servicePort = spec.service?.port ?? 443;
    const ports =
      ((svc.spec as Record<string, unknown>)?.ports as
        | { port: number; name?: string; targetPort?: number | string }[]
        | undefined) ?? [];
    const sp = ports.find((p) => p.port === servicePort);
    if (!sp) return undefined;
    const ep = await this.readyEndpoint(ns, name, sp);
    if (!ep) return undefined;
    const host = ep.ip.includes(":") ? `[${ep.ip}]` : ep.ip;
    return {
      url: `https://${host}:${ep.port}`,
      insecure: spec.insecureSkipTLSVerify === true,
      ca: spec.caBundle ? Buffer.from(spec.caBundle, "base64").toString("utf8") : undefined,
    };
  }

  private async readyEndpoint(
    ns: string,
    name: string,
    sp: { port: number; name?: string; targetPort?: number | string },
  ): Promise<Endpoint | undefined> {
    const slices = await this.registry.list(SLICES, {
      namespace: ns,
      filter: (o) => o.metadata.labels?.["kubernetes.io/service-name"] === name,
    });
    for (const slice of slices.items) {
      const port = ((slice.ports as { name?: string; port?: number }[] | undefined) ?? []).find(
        (p) => (p.name ?? "") === (sp.name ?? ""),
      );
      if (!port?.port) continue;
      for (const e of (slice.endpoints as
        | { addresses: string[]; conditions?: { ready?: boolean } }[]
        | undefined) ?? []) {
        if (e.conditions?.ready !== false && e.addresses[0]) return { ip: e.addresses[0], port: port.port };
      }
    }
    const eps = await this.registry.tryGet(ENDPOINTS, ns, name);
    for (const subset of (eps?.subsets as
      | { addresses?: { ip: string }[]; ports?: { name?: string; port: number }[] }[]
      | undefined) ?? []) {
      const port =
        subset.ports?.find((p) => (p.name ?? "") === (sp.name ?? "")) ??
        (subset.ports?.length === 1 ? subset.ports[0] : undefined);
      const addr = subset.addresses?.[0];
      if (port && addr) return { ip: addr.ip, port: port.port };
    }
    return undefined;
  }

  async proxy(
    req: IncomingMessage,
    res: ServerResponse,
    claim: KubeObject & { spec: APIServiceSpec },
    user: { name: string; groups: string[] },
  ): Promise<void> {
    const backend = await this.backend(claim.spec);
    if (!backend)
      throw errors.unavailable(
        `service unavailable: no ready endpoints for APIService ${claim.metadata.name}`,
      );
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    headers["x-remote-user"] = user.name;
    headers["x-remote-group"] = user.groups;
    headers["x-forwarded-for"] = req.socket.remoteAddress ?? "";
    const hasBody = !["GET", "HEAD"].includes(req.method ?? "GET");
    let upstream: Awaited<ReturnType<typeof request>>;
    try {
      upstream = await request(backend.url + req.url, {
        method: (req.method ?? "GET") as "GET",
        headers,
        body: hasBody ? req : undefined,
        dispatcher: this.agent(backend),
        headersTimeout: 30_000,
        bodyTimeout: 0,
      });
    } catch (e) {
      throw errors.unavailable(`error trying to reach service: ${(e as Error).message}`);
    }
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(upstream.headers))
      if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
    res.writeHead(upstream.statusCode, out);
    res.flushHeaders();
    const abort = () => upstream.body.destroy();
    res.on("close", abort);
    try {
      await pipeline(upstream.body, res);
    } catch {
      // client went away or backend closed the stream: nothing more to send
    } finally {
      res.off("close", abort);
    }
  }

  /** marks each APIService Available or not, like kube-aggregator's availability controller */
  async refreshAvailability(): Promise<void> {
    for (const s of this.apiServices()) {
      const spec = (s.spec ?? {}) as APIServiceSpec;
      let condition: Record<string, string>;
      if (!spec.service?.name)
        condition = { status: "True", reason: "Local", message: "Local APIServices are always available" };
      else {
        const backend = await this.backend(spec).catch(() => undefined);
        condition = backend
          ? { status: "True", reason: "Passed", message: "all checks passed" }
          : {
              status: "False",
              reason: "MissingEndpoints",
              message: `endpoints for service/${spec.service.name} in "${spec.service.namespace ?? "default"}" have no addresses`,
            };
      }
      const current = (
        (s.status as Record<string, unknown> | undefined)?.conditions as Record<string, string>[] | undefined
      )?.find((c) => c.type === "Available");
      if (current && current.status === condition.status && current.reason === condition.reason) continue;
      try {
        await this.registry.update(
          APISERVICES,
          undefined,
          s.metadata.name!,
          (cur) => ({
            ...cur,
            status: {
              conditions: [
                {
                  type: "Available",
                  lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
                  ...condition,
                },
              ],
            },
          }),
          { subresource: "status", fieldManager: "kube-aggregator" },
        );
      } catch {
        // deleted or changed meanwhile; the next round sees the new state
      }
    }
  }

  close(): void {
    for (const a of this.agents.values()) void a.close();
  }
}
