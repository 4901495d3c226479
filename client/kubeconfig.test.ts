import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { makeTestPki, type TestPki } from "../test/helpers/client-certs.js";
import {
  inClusterConnection,
  KubeconfigError,
  kubeconfigPaths,
  loadClusterConnection,
  mergeKubeconfigs,
  parseKubeconfig,
  resolveContext,
} from "./kubeconfig.js";

let dir: string;
let pki: TestPki;
const b64 = (s: string) => Buffer.from(s).toString("base64");

function write(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

function kubeconfig(doc: Record<string, unknown>): string {
  return stringify({ apiVersion: "v1", kind: "Config", ...doc });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kubeplane-kubeconfig-"));
  pki = await makeTestPki();
  write("ca.crt", pki.caCert);
  write("client.crt", pki.clientCert);
  write("client.key", pki.clientKey);
  write("token", "file-token-123\n");
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("kubeconfig files", () => {
  it("resolves current-context with file references relative to the kubeconfig", () => {
    const path = write(
      "a.yaml",
      kubeconfig({
        "current-context": "dev",
        clusters: [
          { name: "c1", cluster: { server: "https://127.0.0.1:6443/", "certificate-authority": "ca.crt" } },
        ],
        users: [{ name: "u1", user: { "client-certificate": "client.crt", "client-key": "./client.key" } }],
        contexts: [{ name: "dev", context: { cluster: "c1", user: "u1", namespace: "team-a" } }],
      }),
    );
    const conn = loadClusterConnection({ kubeconfig: path, env: {} });
    expect(conn).toEqual({
      server: "https://127.0.0.1:6443",
      ca: pki.caCert,
      cert: pki.clientCert,
      key: pki.clientKey,
      insecureSkipTLSVerify: false,
      namespace: "team-a",
    });
  });

  it("decodes -data fields, prefers token over tokenFile, defaults namespace", () => {
    const path = write(
      "data.yaml",
      kubeconfig({
        "current-context": "x",
        clusters: [
          {
            name: "c",
            cluster: {
              server: "https://k.example:443",
              "certificate-authority-data": b64(pki.caCert),
              "tls-server-name": "kubernetes",
            },
          },
        ],
        users: [
          {
            name: "u",
            user: {
              "client-certificate-data": b64(pki.clientCert),
              "client-key-data": b64(pki.clientKey),
              token: "inline",
              tokenFile: "token",
            },
          },
        ],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
      }),
    );
    const conn = loadClusterConnection({ kubeconfig: path, env: {} });
    expect(conn.ca).toBe(pki.caCert);
    expect(conn.cert).toBe(pki.clientCert);
    expect(conn.key).toBe(pki.clientKey);
    expect(conn.token).toBe("inline");
    expect(conn.tokenFile).toBeUndefined();
    expect(conn.tlsServerName).toBe("kubernetes");
    expect(conn.namespace).toBe("default");
  });

  it("reads tokenFile (trimmed) and keeps its path for reloads; insecure-skip-tls-verify", () => {
    const path = write(
      "tok.yaml",
      kubeconfig({
        "current-context": "x",
        clusters: [
          { name: "c", cluster: { server: "https://10.0.0.1:6443", "insecure-skip-tls-verify": true } },
        ],
        users: [{ name: "u", user: { tokenFile: "token" } }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
      }),
    );
    const conn = loadClusterConnection({ kubeconfig: path, env: {} });
    expect(conn.token).toBe("file-token-123");
    expect(conn.tokenFile).toBe(join(dir, "token"));
    expect(conn.insecureSkipTLSVerify).toBe(true);
    expect(conn.ca).toBeUndefined();
  });

  it("an explicit context and namespace override the file", () => {
    const path = write(
      "two.yaml",
      kubeconfig({
        "current-context": "one",
        clusters: [
          { name: "c1", cluster: { server: "https://one:1" } },
          { name: "c2", cluster: { server: "https://two:2" } },
        ],
        contexts: [
          { name: "one", context: { cluster: "c1", namespace: "n1" } },
          { name: "two", context: { cluster: "c2", namespace: "n2" } },
        ],
      }),
    );
    expect(loadClusterConnection({ kubeconfig: path, env: {} }).server).toBe("https://one:1");
    const two = loadClusterConnection({ kubeconfig: path, context: "two", env: {} });
    expect(two.server).toBe("https://two:2");
    expect(two.namespace).toBe("n2");
    expect(
      loadClusterConnection({ kubeconfig: path, context: "two", namespace: "ov", env: {} }).namespace,
    ).toBe("ov");
  });

  it("merges $KUBECONFIG first-wins, skipping missing files", () => {
    const first = write(
      "first.yaml",
      kubeconfig({
        "current-context": "shared",
        clusters: [{ name: "shared", cluster: { server: "https://first:1" } }],
        contexts: [{ name: "shared", context: { cluster: "shared", namespace: "from-first" } }],
      }),
    );
    const second = write(
      "second.yaml",
      kubeconfig({
        "current-context": "only-second",
        clusters: [
          { name: "shared", cluster: { server: "https://second:2" } },
          { name: "c2", cluster: { server: "https://second-only:2" } },
        ],
        users: [{ name: "u2", user: { token: "t2" } }],
        contexts: [
          { name: "shared", context: { cluster: "shared", namespace: "from-second" } },
          { name: "only-second", context: { cluster: "c2", user: "u2" } },
        ],
      }),
    );
    const env = { KUBECONFIG: [join(dir, "missing.yaml"), first, "", second].join(":") };
    const conn = loadClusterConnection({ env });
    expect(conn.server).toBe("https://first:1");
    expect(conn.namespace).toBe("from-first");
    const other = loadClusterConnection({ env, context: "only-second" });
    expect(other.server).toBe("https://second-only:2");
    expect(other.token).toBe("t2");
    // swapping the order swaps the winner
    const swapped = loadClusterConnection({ env: { KUBECONFIG: `${second}:${first}` } });
    expect(swapped.server).toBe("https://second-only:2");
    expect(
      loadClusterConnection({ env: { KUBECONFIG: `${second}:${first}` }, context: "shared" }).server,
    ).toBe("https://second:2");
  });

  it("mergeKubeconfigs keeps the first definition of every name", () => {
    const a = parseKubeconfig(kubeconfig({ users: [{ name: "u", user: { token: "a" } }] }), "/x/a");
    const b = parseKubeconfig(
      kubeconfig({
        "current-context": "c",
        users: [
          { name: "u", user: { token: "b" } },
          { name: "v", user: { token: "v" } },
        ],
      }),
      "/x/b",
    );
    const m = mergeKubeconfigs([a, b]);
    expect(m.users.get("u")?.token).toBe("a");
    expect(m.users.get("v")?.token).toBe("v");
    expect(m.currentContext).toBe("c");
    expect(m.sources).toEqual(["/x/a", "/x/b"]);
  });

  it("falls back to ~/.kube/config when neither flag nor $KUBECONFIG is set", () => {
    const home = mkdtempSync(join(tmpdir(), "kubeplane-home-"));
    try {
      const kube = join(home, ".kube");
      mkdirSync(kube, { recursive: true });
      writeFileSync(
        join(kube, "config"),
        kubeconfig({
          "current-context": "h",
          clusters: [{ name: "h", cluster: { server: "https://home:6443" } }],
          contexts: [{ name: "h", context: { cluster: "h" } }],
        }),
      );
      expect(kubeconfigPaths({ env: {}, homeDir: home }).origin).toBe("home");
      expect(loadClusterConnection({ env: {}, homeDir: home }).server).toBe("https://home:6443");
      // an empty KUBECONFIG counts as unset
      expect(loadClusterConnection({ env: { KUBECONFIG: "" }, homeDir: home }).server).toBe(
        "https://home:6443",
      );
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe("kubeconfig errors", () => {
  const base = {
    clusters: [{ name: "c", cluster: { server: "https://s:1" } }],
    contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
  };

  it("missing explicit file", () => {
    expect(() => loadClusterConnection({ kubeconfig: join(dir, "nope.yaml"), env: {} })).toThrow(
      /kubeconfig file .*nope.yaml does not exist/,
    );
  });

  it("all $KUBECONFIG entries missing", () => {
    expect(() =>
      loadClusterConnection({ env: { KUBECONFIG: join(dir, "x1") + ":" + join(dir, "x2") } }),
    ).toThrow(/none of the files in KUBECONFIG exist/);
  });

  it("unknown context lists the known ones", () => {
    const p = write(
      "e1.yaml",
      kubeconfig({ ...base, "current-context": "ctx", users: [{ name: "u", user: {} }] }),
    );
    expect(() => loadClusterConnection({ kubeconfig: p, context: "prod", env: {} })).toThrow(
      /context "prod" not found \(known: ctx\)/,
    );
  });

  it("no current-context", () => {
    const p = write("e2.yaml", kubeconfig({ ...base, users: [{ name: "u", user: {} }] }));
    expect(() => loadClusterConnection({ kubeconfig: p, env: {} })).toThrow(/no current-context/);
  });

  it("missing cluster / user entries", () => {
    const noUser = write("e3.yaml", kubeconfig({ ...base, "current-context": "ctx" }));
    expect(() => loadClusterConnection({ kubeconfig: noUser, env: {} })).toThrow(
      /user "u" \(context "ctx"\) not found/,
    );
    const noCluster = write(
      "e4.yaml",
      kubeconfig({ "current-context": "ctx", contexts: [{ name: "ctx", context: { cluster: "gone" } }] }),
    );
    expect(() => loadClusterConnection({ kubeconfig: noCluster, env: {} })).toThrow(
      /cluster "gone".*not found/,
    );
  });

  it("missing referenced certificate file names the file", () => {
    const p = write(
      "e5.yaml",
      kubeconfig({
        ...base,
        "current-context": "ctx",
        users: [{ name: "u", user: { "client-certificate": "absent.crt", "client-key": "client.key" } }],
      }),
    );
    expect(() => loadClusterConnection({ kubeconfig: p, env: {} })).toThrow(
      new RegExp(
        `client-certificate for user "u" file ${join(dir, "absent.crt").replace(/[.]/g, "\\.")} does not exist`,
      ),
    );
  });

  it("certificate without key, bad base64 data, CA plus insecure, bad server URL, invalid YAML", () => {
    const certOnly = write(
      "e6.yaml",
      kubeconfig({
        ...base,
        "current-context": "ctx",
        users: [{ name: "u", user: { "client-certificate": "client.crt" } }],
      }),
    );
    expect(() => loadClusterConnection({ kubeconfig: certOnly, env: {} })).toThrow(
      /both a client certificate and a client key/,
    );
    const badData = write(
      "e7.yaml",
      kubeconfig({
        "current-context": "ctx",
        clusters: [
          { name: "c", cluster: { server: "https://s:1", "certificate-authority-data": b64("hello") } },
        ],
        contexts: [{ name: "ctx", context: { cluster: "c" } }],
      }),
    );
    expect(() => loadClusterConnection({ kubeconfig: badData, env: {} })).toThrow(/not base64-encoded PEM/);
    const both = write(
      "e8.yaml",
      kubeconfig({
        "current-context": "ctx",
        clusters: [
          {
            name: "c",
            cluster: {
              server: "https://s:1",
              "certificate-authority": "ca.crt",
              "insecure-skip-tls-verify": true,
            },
          },
        ],
        contexts: [{ name: "ctx", context: { cluster: "c" } }],
      }),
    );
    expect(() => loadClusterConnection({ kubeconfig: both, env: {} })).toThrow(
      /insecure-skip-tls-verify together/,
    );
    const badUrl = write(
      "e9.yaml",
      kubeconfig({
        "current-context": "ctx",
        clusters: [{ name: "c", cluster: { server: "not a url" } }],
        contexts: [{ name: "ctx", context: { cluster: "c" } }],
      }),
    );
    expect(() => loadClusterConnection({ kubeconfig: badUrl, env: {} })).toThrow(/invalid server URL/);
    const badYaml = write("e10.yaml", "clusters: [unclosed");
    expect(() => loadClusterConnection({ kubeconfig: badYaml, env: {} })).toThrow(KubeconfigError);
  });

  it("exec plugins are reported as unsupported", () => {
    const p = write(
      "e11.yaml",
      kubeconfig({
        ...base,
        "current-context": "ctx",
        users: [
          { name: "u", user: { exec: { command: "aws", apiVersion: "client.authentication.k8s.io/v1" } } },
        ],
      }),
    );
    expect(() => loadClusterConnection({ kubeconfig: p, env: {} })).toThrow(/exec credential plugins/);
  });

  it("resolveContext reads files through the injected reader", () => {
    const cfg = parseKubeconfig(
      kubeconfig({
        "current-context": "ctx",
        clusters: [
          { name: "c", cluster: { server: "https://s:1", "certificate-authority": "/virtual/ca.pem" } },
        ],
        contexts: [{ name: "ctx", context: { cluster: "c" } }],
      }),
      "/virtual/config",
    );
    const read: string[] = [];
    const conn = resolveContext(cfg, {
      readFile: (p) => {
        read.push(p);
        return pki.caCert;
      },
    });
    expect(read).toEqual(["/virtual/ca.pem"]);
    expect(conn.ca).toBe(pki.caCert);
  });
});

describe("in-cluster", () => {
  function saDir(files: { token?: string; ca?: string; namespace?: string }) {
    const d = mkdtempSync(join(dir, "sa-"));
    if (files.token !== undefined) writeFileSync(join(d, "token"), files.token);
    if (files.ca !== undefined) writeFileSync(join(d, "ca.crt"), files.ca);
    if (files.namespace !== undefined) writeFileSync(join(d, "namespace"), files.namespace);
    return { tokenFile: join(d, "token"), caFile: join(d, "ca.crt"), namespaceFile: join(d, "namespace") };
  }

  it("builds the connection from the service account files and env", () => {
    const paths = saDir({ token: "sa-token\n", ca: pki.caCert, namespace: "kube-system\n" });
    const env = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };
    expect(inClusterConnection(env, paths)).toEqual({
      server: "https://10.96.0.1:443",
      ca: pki.caCert,
      token: "sa-token",
      tokenFile: paths.tokenFile,
      insecureSkipTLSVerify: false,
      namespace: "kube-system",
    });
    // and it is the last fallback of loadClusterConnection
    const home = mkdtempSync(join(dir, "emptyhome-"));
    expect(loadClusterConnection({ env, homeDir: home, inClusterPaths: paths }).server).toBe(
      "https://10.96.0.1:443",
    );
  });

  it("brackets IPv6 hosts; POD_NAMESPACE wins; missing namespace file means default", () => {
    const paths = saDir({ token: "t", ca: pki.caCert });
    const env = { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "6443" };
    const conn = inClusterConnection(env, paths);
    expect(conn.server).toBe("https://[fd00::1]:6443");
    expect(conn.namespace).toBe("default");
    expect(inClusterConnection({ ...env, POD_NAMESPACE: "mine" }, paths).namespace).toBe("mine");
  });

  it("fails clearly outside a cluster or without the token", () => {
    const paths = saDir({ ca: pki.caCert });
    expect(() => inClusterConnection({}, paths)).toThrow(/not running in a cluster/);
    expect(() =>
      inClusterConnection({ KUBERNETES_SERVICE_HOST: "h", KUBERNETES_SERVICE_PORT: "1" }, paths),
    ).toThrow(/service account token file .* does not exist/);
    const home = mkdtempSync(join(dir, "emptyhome-"));
    expect(() => loadClusterConnection({ env: {}, homeDir: home, inClusterPaths: paths })).toThrow(
      /no kubeconfig found .* in-cluster configuration failed: not running in a cluster/,
    );
  });
});
