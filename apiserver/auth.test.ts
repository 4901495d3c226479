import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StatusError } from "../api/status.js";
import {
  ADMIN_USER,
  type AuthConfig,
  authenticate,
  bearerToken,
  generateAdminToken,
  isAnonymousAllowedPath,
  loadTokenFile,
  MASTERS_GROUP,
  parseTokenFile,
  type RequestLike,
  TokenTable,
  type UserInfo,
} from "./auth.js";
import { createCertificateAuthority, ensurePki, issueClientCertificate, type Pki } from "./pki.js";

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "kubeplane-auth-"));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe("parseTokenFile", () => {
  it("parses tokens, quoted group lists, blank and comment lines", () => {
    const text = [
      "# static tokens",
      "",
      'abc123,alice,uid-1,"devs,ops"',
      "  def456 , bob , uid-2",
      "   ",
      "ghi789,carol,uid-3,admins",
      "  # indented comment",
      'jkl,dave,uid-4," a , b ,,"',
      'mno,"erin, the admin",uid-5,""',
    ].join("\n");
    expect(parseTokenFile(text)).toEqual([
      { token: "abc123", user: "alice", uid: "uid-1", groups: ["devs", "ops"], line: 3 },
      { token: "def456", user: "bob", uid: "uid-2", groups: [], line: 4 },
      { token: "ghi789", user: "carol", uid: "uid-3", groups: ["admins"], line: 6 },
      { token: "jkl", user: "dave", uid: "uid-4", groups: ["a", "b"], line: 8 },
      { token: "mno", user: "erin, the admin", uid: "uid-5", groups: [], line: 9 },
    ]);
  });

  it("handles CRLF line endings and escaped quotes", () => {
    expect(parseTokenFile('t1,u1,1\r\nt2,"say ""hi""",2,"g"\r\n')).toEqual([
      { token: "t1", user: "u1", uid: "1", groups: [], line: 1 },
      { token: "t2", user: 'say "hi"', uid: "2", groups: ["g"], line: 2 },
    ]);
  });

  it("keeps the last of duplicate tokens", () => {
    expect(parseTokenFile("t,a,1\nt,b,2").map((e) => e.user)).toEqual(["b"]);
  });

  it.each([
    ["t,u", "tokens.csv:1: must have at least 3 columns (token, user name, user uid), found 2"],
    ["ok,u,1\n\njust-a-token", "tokens.csv:3: must have at least 3 columns"],
    ['t,u,1,"unterminated', "tokens.csv:1: unterminated quoted field"],
    ['t,u,1,"g"x', "tokens.csv:1: extraneous text"],
    ['t,u"x,1', 'tokens.csv:1: bare "'],
    [",u,1", "tokens.csv:1: empty token"],
    ["t,,1", "tokens.csv:1: empty user name"],
  ])("rejects %j with the line number", (text, msg) => {
    expect(() => parseTokenFile(text, "tokens.csv")).toThrow(msg);
  });

  it("accepts an empty file", () => {
    expect(parseTokenFile("")).toEqual([]);
    expect(parseTokenFile("\n# only comments\n")).toEqual([]);
  });
});

describe("TokenTable and loadTokenFile", () => {
  it("looks tokens up", () => {
    const t = new TokenTable(parseTokenFile('secret,alice,u1,"a,b"\nother,bob,,'));
    expect(t.size).toBe(2);
    expect(t.lookup("secret")).toEqual({ name: "alice", uid: "u1", groups: ["a", "b"] });
    expect(t.lookup("other")).toEqual({ name: "bob", groups: [] });
    expect(t.lookup("secre")).toBeUndefined();
    expect(t.lookup("")).toBeUndefined();
  });

  it("returns fresh group arrays", () => {
    const t = new TokenTable(parseTokenFile("s,a,1,g"));
    t.lookup("s")!.groups.push("mutated");
    expect(t.lookup("s")!.groups).toEqual(["g"]);
  });

  it("loads a file and reports errors with its path", async () => {
    const d = await tempDir();
    const p = join(d, "tokens.csv");
    await writeFile(p, 'tok,alice,1,"system:masters"\n');
    expect((await loadTokenFile(p)).lookup("tok")?.groups).toEqual(["system:masters"]);
    await writeFile(p, "tok,alice,1\nbad\n");
    await expect(loadTokenFile(p)).rejects.toThrow(`${p}:2: must have at least 3 columns`);
    await expect(loadTokenFile(join(d, "missing.csv"))).rejects.toThrow(/ENOENT/);
  });
});

describe("generateAdminToken", () => {
  it("creates a random 32-byte hex admin token and reuses it", async () => {
    const d = await tempDir();
    const token = await generateAdminToken(d);
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    const path = join(d, "tokens.csv");
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const table = await loadTokenFile(path);
    expect(table.lookup(token)).toEqual({ name: ADMIN_USER, uid: ADMIN_USER, groups: [MASTERS_GROUP] });
    expect(await generateAdminToken(d)).toBe(token);
    expect(await generateAdminToken(await tempDir())).not.toBe(token);
  });

  it("keeps other users' lines and appends the admin", async () => {
    const d = await tempDir();
    const path = join(d, "tokens.csv");
    await writeFile(path, "# mine\nt1,alice,1", { mode: 0o644 });
    const token = await generateAdminToken(d);
    const text = await readFile(path, "utf8");
    expect(text.startsWith("# mine\nt1,alice,1\n")).toBe(true);
    expect(text.endsWith("\n")).toBe(true);
    const table = await loadTokenFile(path);
    expect(table.lookup("t1")?.name).toBe("alice");
    expect(table.lookup(token)?.name).toBe(ADMIN_USER);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it("reuses an admin line written by hand", async () => {
    const d = await tempDir();
    await writeFile(join(d, "tokens.csv"), `handmade,${ADMIN_USER},x,"${MASTERS_GROUP},other"\n`);
    expect(await generateAdminToken(d)).toBe("handmade");
  });

  it("creates the data directory", async () => {
    const d = join(await tempDir(), "nested", "data");
    expect(await generateAdminToken(d)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("authenticate", () => {
  const tokens = new TokenTable(parseTokenFile('good,alice,u1,"devs"'));
  const cfg: AuthConfig = { tokens };
  const plain = (headers: RequestLike["headers"] = {}): RequestLike => ({ headers, socket: {} });
  const tlsReq = (
    cert: { CN?: string | string[]; O?: string | string[] } | null,
    authorized: boolean,
    headers: RequestLike["headers"] = {},
  ): RequestLike => ({
    headers,
    socket: { authorized, getPeerCertificate: () => (cert ? { subject: cert } : {}) },
  });

  function unauthorized(fn: () => unknown): void {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(StatusError);
      expect((e as StatusError).code).toBe(401);
      expect((e as StatusError).toStatus()).toMatchObject({
        reason: "Unauthorized",
        message: "Unauthorized",
      });
      return;
    }
    throw new Error("expected 401");
  }

  it("returns undefined for anonymous requests", () => {
    expect(authenticate(plain(), cfg)).toBeUndefined();
    expect(authenticate(tlsReq(null, false), cfg)).toBeUndefined();
    expect(authenticate(plain({ authorization: "Basic Zm9vOmJhcg==" }), cfg)).toBeUndefined();
    expect(authenticate(plain({ authorization: "Bearer" }), cfg)).toBeUndefined();
  });

  it("accepts a valid bearer token and adds system:authenticated", () => {
    const want: UserInfo = { name: "alice", uid: "u1", groups: ["devs", "system:authenticated"] };
    expect(authenticate(plain({ authorization: "Bearer good" }), cfg)).toEqual(want);
    expect(authenticate(plain({ authorization: "bearer   good" }), cfg)).toEqual(want);
    expect(authenticate(plain({ authorization: ["Bearer good"] }), cfg)).toEqual(want);
  });

  it("rejects an unknown bearer token with 401 instead of going anonymous", () => {
    unauthorized(() => authenticate(plain({ authorization: "Bearer nope" }), cfg));
    unauthorized(() => authenticate(plain({ authorization: "Bearer good" }), {}));
  });

  it("tries extra token authenticators", () => {
    const sa: AuthConfig = {
      tokens,
      tokenAuthenticators: [
        (t) =>
          t === "sa-jwt"
            ? { name: "system:serviceaccount:default:builder", groups: ["system:serviceaccounts"] }
            : undefined,
      ],
    };
    expect(authenticate(plain({ authorization: "Bearer sa-jwt" }), sa)?.groups).toEqual([
      "system:serviceaccounts",
      "system:authenticated",
    ]);
    expect(authenticate(plain({ authorization: "Bearer good" }), sa)?.name).toBe("alice");
    unauthorized(() => authenticate(plain({ authorization: "Bearer x" }), sa));
  });

  it("accepts a verified client certificate: CN user, O groups", () => {
    expect(authenticate(tlsReq({ CN: "system:node:n1", O: ["system:nodes", "extra"] }, true), cfg)).toEqual({
      name: "system:node:n1",
      groups: ["system:nodes", "extra", "system:authenticated"],
    });
    expect(authenticate(tlsReq({ CN: "kubeplane-admin", O: "system:masters" }, true), cfg)?.groups).toEqual([
      "system:masters",
      "system:authenticated",
    ]);
    expect(authenticate(tlsReq({ CN: "solo" }, true), cfg)?.groups).toEqual(["system:authenticated"]);
  });

  it("prefers the client certificate over a token", () => {
    expect(authenticate(tlsReq({ CN: "cert-user" }, true, { authorization: "Bearer good" }), cfg)?.name).toBe(
      "cert-user",
    );
  });

  it("rejects an unverified certificate unless a valid token is also presented", () => {
    unauthorized(() => authenticate(tlsReq({ CN: "mallory", O: "system:masters" }, false), cfg));
    expect(authenticate(tlsReq({ CN: "mallory" }, false, { authorization: "Bearer good" }), cfg)?.name).toBe(
      "alice",
    );
  });

  it("ignores certificates without a CN, and all certificates when disabled", () => {
    expect(authenticate(tlsReq({ O: "g" }, true), cfg)).toBeUndefined();
    expect(authenticate(tlsReq({ CN: "x" }, true), { ...cfg, clientCertificates: false })).toBeUndefined();
    expect(authenticate(tlsReq({ CN: "x" }, false), { ...cfg, clientCertificates: false })).toBeUndefined();
  });

  it("does not duplicate system:authenticated", () => {
    const t = new TokenTable(parseTokenFile('t,u,1,"system:authenticated"'));
    expect(authenticate(plain({ authorization: "Bearer t" }), { tokens: t })?.groups).toEqual([
      "system:authenticated",
    ]);
  });

  it("extracts bearer tokens", () => {
    expect(bearerToken({ authorization: "Bearer abc" })).toBe("abc");
    expect(bearerToken({ authorization: "BEARER abc extra" })).toBe("abc");
    expect(bearerToken({ authorization: "Token abc" })).toBeUndefined();
    expect(bearerToken({})).toBeUndefined();
  });
});

describe("authenticate over real TLS", () => {
  let pki: Pki;
  let server: https.Server;
  let port: number;
  const cfg: AuthConfig = { tokens: new TokenTable(parseTokenFile("tok,alice,1,devs")) };

  beforeAll(async () => {
    pki = await ensurePki(await tempDir(), { hosts: [] });
    server = https.createServer(
      {
        cert: pki.serving.certPem,
        key: pki.serving.keyPem,
        ca: pki.ca.certPem,
        requestCert: true,
        rejectUnauthorized: false,
      },
      (req, res) => {
        try {
          const user = authenticate({ headers: req.headers, socket: req.socket as TLSSocket }, cfg);
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify(user ?? null));
        } catch (e) {
          res.writeHead((e as StatusError).code ?? 500);
          res.end(JSON.stringify((e as StatusError).toStatus()));
        }
      },
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  function get(opts: {
    cert?: string;
    key?: string;
    token?: string;
  }): Promise<{ status: number; body: unknown }> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: "127.0.0.1",
          port,
          path: "/api",
          ca: pki.ca.certPem,
          servername: "localhost",
          cert: opts.cert,
          key: opts.key,
          agent: false,
          headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
        },
        (res) => {
          let data = "";
          res.on("data", (d) => {
            data += d;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) }));
        },
      );
      req.on("error", reject);
      req.end();
    });
  }

  it("authenticates the admin client certificate", async () => {
    expect(await get({ cert: pki.admin.certPem, key: pki.admin.keyPem })).toEqual({
      status: 200,
      body: { name: "kubeplane-admin", groups: ["system:masters", "system:authenticated"] },
    });
  });

  it("authenticates a bearer token and treats no credentials as anonymous", async () => {
    expect((await get({ token: "tok" })).body).toEqual({
      name: "alice",
      uid: "1",
      groups: ["devs", "system:authenticated"],
    });
    expect(await get({})).toEqual({ status: 200, body: null });
    expect((await get({ token: "wrong" })).status).toBe(401);
  });

  it("rejects a client certificate from another CA", async () => {
    const other = await createCertificateAuthority("rogue");
    const rogue = await issueClientCertificate(other, "mallory", ["system:masters"]);
    const r = await get({ cert: rogue.certPem, key: rogue.keyPem });
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ kind: "Status", code: 401, reason: "Unauthorized" });
  });
});

describe("isAnonymousAllowedPath", () => {
  it.each([
    ["/healthz", true],
    ["/livez", true],
    ["/readyz", true],
    ["/version", true],
    ["/version/", true],
    ["/healthz/ping", true],
    ["/livez/etcd", true],
    ["/readyz?verbose", true],
    ["/readyz/?verbose=1&exclude=etcd", true],
    ["/healthz#x", true],
    ["/healthzfoo", false],
    ["/versions", false],
    ["/", false],
    ["/api", false],
    ["/apis", false],
    ["/metrics", false],
    ["/api/v1/namespaces", false],
    ["/healthz/../api/v1/secrets", false],
    ["/healthz/./x", false],
    ["/healthz/%2e%2e/api", false],
    ["//healthz", false],
    ["healthz", false],
  ])("%s → %s", (path, want) => {
    expect(isAnonymousAllowedPath(path)).toBe(want);
  });
});

describe("TokenTable.set", () => {
  it("adds tokens programmatically, copying the user", () => {
    const user: UserInfo = { name: "kubeplane-admin", uid: "kubeplane-admin", groups: ["system:masters"] };
    const t = new TokenTable().set("admin-token", user);
    user.groups.push("mutated");
    expect(t.size).toBe(1);
    expect(
      authenticate({ headers: { authorization: "Bearer admin-token" }, socket: {} }, { tokens: t }),
    ).toEqual({
      name: "kubeplane-admin",
      uid: "kubeplane-admin",
      groups: ["system:masters", "system:authenticated"],
    });
    expect(() => t.set("", user)).toThrow(/empty token/);
  });
});
