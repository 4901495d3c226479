import { test } from "vitest";
import { createServer } from "node:http";
import { openapiV2, openapiV3Index, openapiV3GroupVersion, openapiV2Protobuf, OPENAPI_V2_PROTOBUF_CONTENT_TYPE } from "./api/openapi.js";
import { RESOURCES, apiVersionOf } from "./api/resources.js";
test("serve", async () => {
  const t0 = performance.now();
  const v2 = JSON.stringify(openapiV2());
  const idx = openapiV3Index();
  console.log("docs ms", performance.now() - t0, v2.length, JSON.stringify(idx).slice(0, 300));
  const srv = createServer((req, res) => {
    const url = new URL(req.url!, "http://x");
    console.error(req.method, req.url, req.headers.accept);
    const send = (o: unknown) => { res.setHeader("content-type", "application/json"); res.end(JSON.stringify(o)); };
    const p = url.pathname;
    if (p === "/api") return send({ kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] });
    if (p === "/apis") {
      const groups = new Map<string, string[]>();
      for (const r of RESOURCES) if (r.group) { const l = groups.get(r.group) ?? []; if (!l.includes(r.version)) l.push(r.version); groups.set(r.group, l); }
      return send({ kind: "APIGroupList", apiVersion: "v1", groups: [...groups].map(([name, vs]) => ({ name, versions: vs.map((v) => ({ groupVersion: `${name}/${v}`, version: v })), preferredVersion: { groupVersion: `${name}/${vs[0]}`, version: vs[0] } })) });
    }
    const m = /^\/(?:api|apis)\/(.+)$/.exec(p);
    if (m && !p.startsWith("/openapi")) {
      const gv = m[1];
      const rs = RESOURCES.filter((r) => apiVersionOf(r) === gv);
      if (rs.length) return send({ kind: "APIResourceList", apiVersion: "v1", groupVersion: gv, resources: rs.map((r) => ({ name: r.resource, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: r.verbs, shortNames: r.shortNames })) });
    }
    if (p === "/openapi/v3") return send(idx);
    if (p.startsWith("/openapi/v3/")) { const d = openapiV3GroupVersion(p.slice("/openapi/v3/".length)); if (d) return send(d); }
    if (p === "/openapi/v2") { res.setHeader("content-type", OPENAPI_V2_PROTOBUF_CONTENT_TYPE); return res.end(openapiV2Protobuf()); }
    res.statusCode = 404; send({ kind: "Status", apiVersion: "v1", status: "Failure", code: 404, reason: "NotFound" });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as any).port;
  console.log("PORT", port);
  await new Promise((r) => setTimeout(r, 1000 * Number(process.env.HOLD ?? 0)));
  srv.close();
}, 600000);
