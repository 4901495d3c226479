/**
 * Bad input against a real apiserver child on SQLite and on etcd: every malformed or absurd
 * request gets the right Status code and a message, nothing of it is stored, and the server
 * keeps serving afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Api, configMap } from "./helpers/api-http.js";
import { BACKENDS, type BackendApiserver, startOn, title } from "./helpers/backends.js";

const NS = "bad-input";
const CM = `/api/v1/namespaces/${NS}/configmaps`;
const DEPLOY = `/apis/apps/v1/namespaces/${NS}/deployments`;

/** names of everything the bad requests tried to store; none of them may exist afterwards */
const attempted = new Set<string>();
function cm(name: string, extra: Record<string, unknown> = {}) {
  attempted.add(name);
  return { ...configMap(name), ...extra };
}

function expectStatus(
  r: { status: number; json: unknown; text: string },
  code: number,
  message?: RegExp | string,
) {
  expect(r.status, r.text).toBe(code);
  // biome-ignore lint/suspicious/noExplicitAny: asserted field by field
  const s = r.json as any;
  expect(s?.kind, r.text).toBe("Status");
  expect(s.apiVersion).toBe("v1");
  expect(s.status).toBe("Failure");
  expect(s.code).toBe(code);
  expect(typeof s.message).toBe("string");
  expect(s.message.length).toBeGreaterThan(0);
  if (message !== undefined) {
    if (typeof message === "string") expect(s.message).toContain(message);
    else expect(s.message).toMatch(message);
  }
}

function deployment(name: string, replicas: unknown = 1) {
  attempted.add(name);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "c", image: "busybox" }] },
      },
    },
  };
}

for (const backend of BACKENDS) {
  describe.skipIf(!!backend.skip)(title(backend, "apiserver bad input"), () => {
    let srv: BackendApiserver;
    let api: Api;

    beforeAll(async () => {
      srv = await startOn(backend.name);
      api = new Api(srv.api);
      const r = await api.post("/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: NS },
      });
      expect(r.status, r.text).toBe(201);
    });

    afterAll(async () => {
      await api?.close();
      await srv?.stop();
    });

    describe("malformed bodies", () => {
      it("malformed JSON → 400 with a decoding message", async () => {
        const r = await api.post(
          CM,
          '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bad-json"',
          {},
        );
        expectStatus(r, 400, /json/i);
        attempted.add("bad-json");
      });

      it("JSON that is not an object (an array, a string) → 400", async () => {
        expectStatus(await api.post(CM, "[1,2,3]"), 400);
        expectStatus(await api.post(CM, '"just a string"'), 400);
      });

      it("empty body → 400", async () => {
        expectStatus(await api.post(CM, ""), 400);
      });

      it("malformed YAML → 400 with a decoding message", async () => {
        const yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad-yaml\n  labels: [unclosed\n";
        attempted.add("bad-yaml");
        const r = await api.post(CM, yaml, { contentType: "application/yaml" });
        expectStatus(r, 400, /yaml/i);
      });

      it("YAML with a duplicate key → 400", async () => {
        const yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dup-yaml\n  name: dup-yaml-2\n";
        attempted.add("dup-yaml");
        attempted.add("dup-yaml-2");
        expectStatus(await api.post(CM, yaml, { contentType: "application/yaml" }), 400);
      });

      it("a well-formed YAML body is accepted (control)", async () => {
        const yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: good-yaml\ndata:\n  a: b\n";
        const r = await api.post(CM, yaml, { contentType: "application/yaml" });
        expect(r.status, r.text).toBe(201);
        expect(r.json.data).toEqual({ a: "b" });
        expect((await api.del(`${CM}/good-yaml`)).status).toBe(200);
      });
    });

    describe("fieldValidation", () => {
      it("Strict: an unknown field → 400 strict decoding error naming the field", async () => {
        const r = await api.post(`${CM}?fieldValidation=Strict`, cm("strict-cm", { bogus: 1 }));
        expectStatus(r, 400, 'strict decoding error: unknown field "bogus"');
      });

      it("Strict: a nested unknown field is named by its path", async () => {
        const d = deployment("strict-deploy") as { spec: Record<string, unknown> };
        d.spec.nonsense = true;
        const r = await api.post(`${DEPLOY}?fieldValidation=Strict`, d);
        expectStatus(r, 400, 'unknown field "spec.nonsense"');
      });

      it("Warn: 201, a Warning header naming the field, and the field is dropped from the stored object", async () => {
        const body = { ...configMap("warn-cm"), bogus: 1 };
        const r = await api.post(`${CM}?fieldValidation=Warn`, body);
        expect(r.status, r.text).toBe(201);
        const warning = [r.headers.warning].flat().join("\n");
        expect(warning).toMatch(/^299 /);
        expect(warning).toContain('unknown field \\"bogus\\"');
        expect(r.json.bogus).toBeUndefined();
        const got = await api.get(`${CM}/warn-cm`);
        expect(got.status).toBe(200);
        expect(got.json.bogus).toBeUndefined();
        expect(got.json.data).toEqual({ k: "v" });
        expect((await api.del(`${CM}/warn-cm`)).status).toBe(200);
      });

      it("Ignore: 201, no Warning header, the field is dropped", async () => {
        const r = await api.post(`${CM}?fieldValidation=Ignore`, { ...configMap("ignore-cm"), bogus: 1 });
        expect(r.status, r.text).toBe(201);
        expect(r.headers.warning).toBeUndefined();
        const got = await api.get(`${CM}/ignore-cm`);
        expect(got.json.bogus).toBeUndefined();
        expect((await api.del(`${CM}/ignore-cm`)).status).toBe(200);
      });

      it("Strict on update and on merge patch also rejects unknown fields", async () => {
        const created = await api.post(CM, configMap("strict-upd"));
        expect(created.status).toBe(201);
        const upd = await api.put(`${CM}/strict-upd?fieldValidation=Strict`, { ...created.json, extra: "x" });
        expectStatus(upd, 400, 'unknown field "extra"');
        const p = await api.patch(
          `${CM}/strict-upd?fieldValidation=Strict`,
          { extra: "x" },
          "application/merge-patch+json",
        );
        expectStatus(p, 400, 'unknown field "extra"');
        const got = await api.get(`${CM}/strict-upd`);
        expect(got.json.extra).toBeUndefined();
        expect(got.json.metadata.resourceVersion).toBe(created.json.metadata.resourceVersion);
        expect((await api.del(`${CM}/strict-upd`)).status).toBe(200);
      });
    });

    describe("wrong types and invalid values", () => {
      it("a string where an integer belongs → 400", async () => {
        expectStatus(await api.post(DEPLOY, deployment("typed-deploy", "three")), 400);
      });

      it("ConfigMap data value that is a number → 400", async () => {
        expectStatus(await api.post(CM, cm("typed-cm", { data: { k: 5 } })), 400);
      });

      it("metadata that is not an object → 400", async () => {
        expectStatus(
          await api.post(CM, { apiVersion: "v1", kind: "ConfigMap", metadata: "typed-meta" }),
          400,
        );
      });

      for (const name of ["Bad_Name", "-leading-dash", "UPPER", `${"a".repeat(254)}`, "dots..twice"]) {
        it(`invalid name ${JSON.stringify(name.length > 20 ? `${name.slice(0, 10)}…(${name.length})` : name)} → 422 Invalid with cause metadata.name`, async () => {
          const r = await api.post(CM, cm(name));
          expectStatus(r, 422);
          expect(r.json.reason).toBe("Invalid");
          expect(r.json.details?.kind).toBe("ConfigMap");
          const fields = (r.json.details?.causes ?? []).map((c: { field?: string }) => c.field);
          expect(fields).toContain("metadata.name");
        });
      }

      it("missing name and generateName → 422 Invalid on metadata.name", async () => {
        const r = await api.post(CM, { apiVersion: "v1", kind: "ConfigMap", metadata: {} });
        expectStatus(r, 422);
        expect(r.json.details.causes.map((c: { field: string }) => c.field)).toContain("metadata.name");
      });

      it("invalid label key → 422 on metadata.labels", async () => {
        const r = await api.post(
          CM,
          cm("bad-label-key", { metadata: { name: "bad-label-key", labels: { "bad key!": "v" } } }),
        );
        expectStatus(r, 422);
        const fields = r.json.details.causes.map((c: { field: string }) => c.field);
        expect(fields.some((f: string) => f.startsWith("metadata.labels"))).toBe(true);
      });

      it("invalid label value → 422 on metadata.labels", async () => {
        const r = await api.post(
          CM,
          cm("bad-label-value", { metadata: { name: "bad-label-value", labels: { ok: "has space" } } }),
        );
        expectStatus(r, 422);
        const fields = r.json.details.causes.map((c: { field: string }) => c.field);
        expect(fields.some((f: string) => f.startsWith("metadata.labels"))).toBe(true);
      });

      it("label value longer than 63 characters → 422", async () => {
        const r = await api.post(
          CM,
          cm("long-label-value", { metadata: { name: "long-label-value", labels: { ok: "x".repeat(64) } } }),
        );
        expectStatus(r, 422);
      });
    });

    describe("body disagreeing with the URL", () => {
      it("kind disagreeing with the URL → 400", async () => {
        const r = await api.post(CM, {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "kind-mismatch" },
        });
        attempted.add("kind-mismatch");
        expectStatus(r, 400, /kind/);
      });

      it("apiVersion disagreeing with the URL → 400", async () => {
        const r = await api.post(CM, {
          apiVersion: "apps/v1",
          kind: "ConfigMap",
          metadata: { name: "version-mismatch" },
        });
        attempted.add("version-mismatch");
        expectStatus(r, 400, /version/i);
      });

      it("namespace in the body disagreeing with the URL → 400", async () => {
        const r = await api.post(
          CM,
          cm("ns-mismatch", { metadata: { name: "ns-mismatch", namespace: "default" } }),
        );
        expectStatus(r, 400, /namespace/);
        expect((await api.get("/api/v1/namespaces/default/configmaps/ns-mismatch")).status).toBe(404);
      });

      it("name in the body disagreeing with the URL on update → 400", async () => {
        const created = await api.post(CM, configMap("name-upd"));
        expect(created.status).toBe(201);
        const r = await api.put(`${CM}/name-upd`, {
          ...created.json,
          metadata: { ...created.json.metadata, name: "other-name" },
        });
        attempted.add("other-name");
        expectStatus(r, 400, /name/);
        expect((await api.del(`${CM}/name-upd`)).status).toBe(200);
      });
    });

    describe("size and media type", () => {
      it("a body over 3 MiB → 413", async () => {
        const big = cm("too-big", { data: { big: "x".repeat(3 * 1024 * 1024 + 100) } });
        const r = await api.post(CM, big);
        expectStatus(r, 413);
        expect(r.json.reason).toBe("RequestEntityTooLarge");
      });

      it("a body just under 3 MiB is not refused for its size (control: 1 MiB ConfigMap)", async () => {
        const r = await api.post(CM, {
          ...configMap("one-mib"),
          data: { big: "y".repeat(1024 * 1024 - 1000) },
        });
        expect(r.status, r.text.slice(0, 300)).toBe(201);
        expect((await api.del(`${CM}/one-mib`)).status).toBe(200);
      });

      it("unsupported media type → 415", async () => {
        const r = await api.post(CM, JSON.stringify(cm("text-plain")), { contentType: "text/plain" });
        expectStatus(r, 415);
        expect(r.json.reason).toBe("UnsupportedMediaType");
      });

      it("a patch content type on create → 415", async () => {
        const r = await api.post(CM, JSON.stringify(cm("patch-type-create")), {
          contentType: "application/merge-patch+json",
        });
        expectStatus(r, 415);
      });

      it("PATCH with application/json (not a patch type) → 415", async () => {
        const created = await api.post(CM, configMap("patch-json"));
        expect(created.status).toBe(201);
        const r = await api.patch(`${CM}/patch-json`, { data: { a: "b" } }, "application/json");
        expectStatus(r, 415);
        expect((await api.del(`${CM}/patch-json`)).status).toBe(200);
      });
    });

    describe("absurd query parameters → 400", () => {
      const cases: [string, string, string, unknown?][] = [
        ["GET", `${CM}?limit=-5`, "limit=-5"],
        ["GET", `${CM}?limit=abc`, "limit=abc"],
        ["GET", `${CM}?watch=true&timeoutSeconds=xyz`, "timeoutSeconds=xyz"],
        ["GET", `${CM}?resourceVersion=abc`, "resourceVersion=abc"],
        ["GET", `${CM}?watch=true&resourceVersion=abc`, "watch resourceVersion=abc"],
        ["GET", `${CM}?resourceVersionMatch=Sometimes&resourceVersion=1`, "resourceVersionMatch=Sometimes"],
        ["GET", `${CM}?continue=not-a-token`, "continue=garbage"],
        ["POST", `${CM}?dryRun=Bogus`, "dryRun=Bogus", "dryrun-bogus"],
        ["POST", `${CM}?fieldValidation=Loud`, "fieldValidation=Loud", "fv-loud"],
        ["GET", `${CM}?labelSelector=${encodeURIComponent("app in (a,b")}`, "labelSelector unclosed set"],
        ["GET", `${CM}?labelSelector=${encodeURIComponent("a b c")}`, "labelSelector a b c"],
        ["GET", `${CM}?labelSelector=${encodeURIComponent("bad key!=x")}`, "labelSelector bad key"],
        [
          "GET",
          `${CM}?fieldSelector=${encodeURIComponent("spec.nodeName=n1")}`,
          "fieldSelector unsupported field on ConfigMap",
        ],
        ["GET", `${CM}?fieldSelector=${encodeURIComponent("nonsense")}`, "fieldSelector without operator"],
        [
          "GET",
          `${CM}?watch=true&fieldSelector=${encodeURIComponent("status.phase=Running")}`,
          "watch fieldSelector unsupported",
        ],
        [
          "GET",
          `/api/v1/namespaces/${NS}/pods?fieldSelector=${encodeURIComponent("spec.bogus=x")}`,
          "pods fieldSelector spec.bogus",
        ],
      ];
      for (const [method, path, what, name] of cases) {
        it(what, async () => {
          const r = await api.req(method, path, name ? { body: cm(name as string) } : {});
          expectStatus(r, 400);
        });
      }

      it("propagationPolicy=Sideways on delete → 400 and the object stays", async () => {
        expect((await api.post(CM, configMap("sideways"))).status).toBe(201);
        const r = await api.del(`${CM}/sideways?propagationPolicy=Sideways`);
        expectStatus(r, 400, /propagationPolicy/);
        expect((await api.get(`${CM}/sideways`)).status).toBe(200);
        expect((await api.del(`${CM}/sideways`)).status).toBe(200);
      });

      it("gracePeriodSeconds=-1 and =soon on delete → 400 and the object stays", async () => {
        expect((await api.post(CM, configMap("grace-bad"))).status).toBe(201);
        expectStatus(await api.del(`${CM}/grace-bad?gracePeriodSeconds=soon`), 400);
        expectStatus(await api.del(`${CM}/grace-bad?gracePeriodSeconds=-1`), 400);
        expect((await api.get(`${CM}/grace-bad`)).status).toBe(200);
        expect((await api.del(`${CM}/grace-bad`)).status).toBe(200);
      });

      it("dryRun=Bogus on delete → 400 and the object stays", async () => {
        expect((await api.post(CM, configMap("dry-bogus-del"))).status).toBe(201);
        expectStatus(await api.del(`${CM}/dry-bogus-del?dryRun=Bogus`), 400);
        expect((await api.get(`${CM}/dry-bogus-del`)).status).toBe(200);
        expect((await api.del(`${CM}/dry-bogus-del`)).status).toBe(200);
      });
    });

    describe("paths and methods", () => {
      it("unknown resource → 404", async () => {
        expectStatus(await api.get(`/api/v1/namespaces/${NS}/widgets`), 404);
        expectStatus(await api.get("/apis/nope.example.com/v1/things"), 404);
        expectStatus(await api.get("/api/v9/pods"), 404);
        expectStatus(await api.get("/not-an-api-path"), 404);
      });

      it("unknown subresource → 404", async () => {
        expect((await api.post(CM, configMap("sub-404"))).status).toBe(201);
        expectStatus(await api.get(`${CM}/sub-404/nonsense`), 404);
        expect((await api.del(`${CM}/sub-404`)).status).toBe(200);
      });

      it("create in the collection of a missing namespace → 404", async () => {
        const r = await api.post("/api/v1/namespaces/no-such-ns/configmaps", cm("in-missing-ns"));
        expectStatus(r, 404, /no-such-ns/);
      });

      it("POST on a named object (not a collection) → 405, nothing created", async () => {
        const r = await api.post(`${CM}/post-on-item`, cm("post-on-item"));
        expectStatus(r, 405);
      });

      it("PUT on a collection → 405", async () => {
        expectStatus(await api.put(CM, cm("put-on-collection")), 405);
      });

      it("PATCH on a collection → 405", async () => {
        expectStatus(
          await api.patch(CM, { metadata: { labels: { a: "b" } } }, "application/merge-patch+json"),
          405,
        );
      });

      it("DELETE on a namespaces collection (no deletecollection verb) → 405", async () => {
        expectStatus(await api.del("/api/v1/namespaces"), 405);
        expect((await api.get(`/api/v1/namespaces/${NS}`)).status).toBe(200);
      });

      it("POST to pods/NAME/status (get/patch/update only) → 405", async () => {
        expectStatus(await api.post(`/api/v1/namespaces/${NS}/pods/x/status`, { status: {} }), 405);
      });

      it("POST to a discovery document → 405", async () => {
        expectStatus(await api.post("/api/v1", {}), 405);
      });
    });

    describe("afterwards", () => {
      it("nothing of the bad requests was stored", async () => {
        const list = await api.get(CM);
        expect(list.status).toBe(200);
        const names: string[] = list.json.items.map((i: { metadata: { name: string } }) => i.metadata.name);
        const leaked = names.filter((n) => attempted.has(n));
        expect(leaked).toEqual([]);
        // the test created and deleted its controls; nothing else is left but the root CA
        expect(names.filter((n) => n !== "kube-root-ca.crt")).toEqual([]);
        const deps = await api.get(DEPLOY);
        expect(deps.json.items).toEqual([]);
        const all = await api.get("/api/v1/configmaps");
        const allNames: string[] = all.json.items.map((i: { metadata: { name: string } }) => i.metadata.name);
        expect(allNames.filter((n) => attempted.has(n))).toEqual([]);
      });

      it("/readyz still answers ok and a normal create works", async () => {
        const ready = await api.get("/readyz", { token: false });
        expect(ready.status).toBe(200);
        expect(ready.text).toBe("ok");
        const r = await api.post(CM, configMap("normal-after", { fine: "yes" }));
        expect(r.status, r.text).toBe(201);
        expect(r.json.data).toEqual({ fine: "yes" });
        const got = await api.get(`${CM}/normal-after`);
        expect(got.status).toBe(200);
        expect(got.json.metadata.uid).toBe(r.json.metadata.uid);
      });
    });
  });
}
