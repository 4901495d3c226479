import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  certificateHosts,
  createCertificateAuthority,
  ensurePki,
  firstServiceIP,
  importPrivateKey,
  isIssuedBy,
  issueClientCertificate,
  issueServingCertificate,
  kubeconfigYaml,
  loadCertificateAuthority,
  type Pki,
  pkiPaths,
  servingHosts,
  writeKubeconfig,
} from "./pki.js";

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "kubeplane-pki-"));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const HOSTS = ["192.168.50.10", "10.96.0.1"];

/** Starts a TLS server with the given pair and returns its port plus a closer. */
async function serve(
  pair: { certPem: string; keyPem: string },
  extra: tls.TlsOptions = {},
  onSecure?: (s: tls.TLSSocket) => void,
): Promise<{ port: number; close: () => Promise<void> }> {
  const server = tls.createServer({ cert: pair.certPem, key: pair.keyPem, ...extra }, (sock) => {
    onSecure?.(sock);
    sock.end("ok");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return { port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Connects and resolves with the response, or rejects with the TLS error. */
function connect(opts: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect(opts);
    let data = "";
    s.setEncoding("utf8");
    s.on("data", (d) => {
      data += d;
    });
    s.on("end", () => resolve(data));
    s.on("error", reject);
  });
}

describe("helpers", () => {
  it("computes the first service IP", () => {
    expect(firstServiceIP("10.96.0.0/12")).toBe("10.96.0.1");
    expect(firstServiceIP("10.0.0.0/24")).toBe("10.0.0.1");
    expect(firstServiceIP("10.100.7.9/16")).toBe("10.100.0.1");
    expect(firstServiceIP("fd00:10:96::/112")).toBe("fd00:10:96::1");
    expect(firstServiceIP("fd00::/64")).toBe("fd00::1");
    expect(() => firstServiceIP("nope")).toThrow(/invalid CIDR/);
    expect(() => firstServiceIP("10.0.0.0/33")).toThrow(/invalid CIDR/);
  });

  it("always includes the well-known serving names, deduplicated", () => {
    expect(servingHosts(["192.168.1.2", "localhost", "127.0.0.1", "10.96.0.1", ""])).toEqual([
      "localhost",
      "127.0.0.1",
      "kubernetes",
      "kubernetes.default",
      "kubernetes.default.svc",
      "kubernetes.default.svc.cluster.local",
      "192.168.1.2",
      "10.96.0.1",
    ]);
    expect(servingHosts([], "example.org")).toContain("kubernetes.default.svc.example.org");
    expect(servingHosts(["fd00::1", "fd00:0:0::1"])).toHaveLength(7);
  });
});

describe("ensurePki", () => {
  let dir: string;
  let pki: Pki;

  beforeAll(async () => {
    dir = await tempDir();
    pki = await ensurePki(dir, { hosts: HOSTS });
  });

  it("creates the CA, serving and admin pairs with tight key permissions", async () => {
    expect(pki.created).toEqual(["ca", "apiserver", "admin"]);
    const p = pkiPaths(dir);
    expect(pki.paths).toEqual(p);
    for (const key of [p.caKey, p.apiserverKey, p.adminKey]) {
      expect((await stat(key)).mode & 0o777).toBe(0o600);
    }
    expect((await stat(p.dir)).mode & 0o777).toBe(0o700);
    expect(await readFile(p.caCert, "utf8")).toBe(pki.ca.certPem);
    expect(await readFile(p.apiserverKey, "utf8")).toBe(pki.serving.keyPem);
    expect(pki.serving.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it("makes a 10-year self-signed ECDSA P-256 CA named kubeplane-ca", () => {
    const ca = new X509Certificate(pki.ca.certPem);
    expect(ca.subject).toBe("CN=kubeplane-ca");
    expect(ca.issuer).toBe("CN=kubeplane-ca");
    expect(ca.ca).toBe(true);
    expect(ca.verify(ca.publicKey)).toBe(true);
    expect(ca.publicKey.asymmetricKeyType).toBe("ec");
    expect(ca.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    const years = (Date.parse(ca.validTo) - Date.now()) / (365 * 24 * 3600 * 1000);
    expect(years).toBeGreaterThan(9.9);
    expect(years).toBeLessThan(10.1);
  });

  it("issues a 1-year serving certificate with every SAN", () => {
    const cert = new X509Certificate(pki.serving.certPem);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(new X509Certificate(pki.ca.certPem))).toBe(true);
    expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
    const san = cert.subjectAltName ?? "";
    for (const h of [
      "DNS:localhost",
      "IP Address:127.0.0.1",
      "DNS:kubernetes",
      "DNS:kubernetes.default",
      "DNS:kubernetes.default.svc",
      "DNS:kubernetes.default.svc.cluster.local",
      "IP Address:192.168.50.10",
      "IP Address:10.96.0.1",
    ]) {
      expect(san).toContain(h);
    }
    expect(certificateHosts(pki.serving.certPem)).toEqual(pki.hosts);
    const days = (Date.parse(cert.validTo) - Date.now()) / (24 * 3600 * 1000);
    expect(days).toBeGreaterThan(364);
    expect(days).toBeLessThan(366);
  });

  it("issues the admin client certificate as kubeplane-admin in system:masters", () => {
    const cert = new X509Certificate(pki.admin.certPem);
    expect(cert.subject.split("\n").sort()).toEqual(["CN=kubeplane-admin", "O=system:masters"]);
    expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
    expect(isIssuedBy(pki.admin.certPem, pki.ca.certPem)).toBe(true);
  });

  it("reuses everything on the next start", async () => {
    const again = await ensurePki(dir, { hosts: [...HOSTS].reverse() });
    expect(again.created).toEqual([]);
    expect(again.ca.certPem).toBe(pki.ca.certPem);
    expect(again.serving.certPem).toBe(pki.serving.certPem);
    expect(again.admin.keyPem).toBe(pki.admin.keyPem);
  });

  it("treats equivalent IPv6 spellings as the same SAN", async () => {
    const d = await tempDir();
    await ensurePki(d, { hosts: ["fd00::1"] });
    expect((await ensurePki(d, { hosts: ["FD00:0:0:0:0:0:0:1"] })).created).toEqual([]);
  });

  it("re-issues only the serving certificate when the SAN set changes", async () => {
    const d = await tempDir();
    const first = await ensurePki(d, { hosts: HOSTS });
    const changed = await ensurePki(d, { hosts: [...HOSTS, "api.example.com"] });
    expect(changed.created).toEqual(["apiserver"]);
    expect(changed.ca.certPem).toBe(first.ca.certPem);
    expect(changed.admin.certPem).toBe(first.admin.certPem);
    expect(certificateHosts(changed.serving.certPem)).toContain("api.example.com");
    expect(await readFile(changed.paths.apiserverCert, "utf8")).toBe(changed.serving.certPem);
  });

  it("regenerates everything when the CA is lost", async () => {
    const d = await tempDir();
    const first = await ensurePki(d, { hosts: HOSTS });
    await unlink(first.paths.caKey);
    const again = await ensurePki(d, { hosts: HOSTS });
    expect(again.created).toEqual(["ca", "apiserver", "admin"]);
    expect(again.ca.certPem).not.toBe(first.ca.certPem);
    expect(isIssuedBy(again.serving.certPem, again.ca.certPem)).toBe(true);
  });

  it("re-issues a serving certificate whose key does not match", async () => {
    const d = await tempDir();
    const first = await ensurePki(d, { hosts: HOSTS });
    await writeFile(first.paths.apiserverKey, first.admin.keyPem);
    expect((await ensurePki(d, { hosts: HOSTS })).created).toEqual(["apiserver"]);
  });

  it("renews leaf certificates close to expiry", async () => {
    const d = await tempDir();
    await ensurePki(d, { hosts: HOSTS });
    const later = new Date(Date.now() + 340 * 24 * 3600 * 1000);
    expect((await ensurePki(d, { hosts: HOSTS, now: later })).created).toEqual(["apiserver", "admin"]);
  });
});

describe("TLS with the generated chain", () => {
  let pki: Pki;
  beforeAll(async () => {
    pki = await ensurePki(await tempDir(), { hosts: HOSTS });
  });

  it("node:tls accepts the serving certificate by name and by IP", async () => {
    const srv = await serve(pki.serving);
    try {
      expect(
        await connect({ host: "127.0.0.1", port: srv.port, ca: pki.ca.certPem, servername: "localhost" }),
      ).toBe("ok");
      expect(
        await connect({
          host: "127.0.0.1",
          port: srv.port,
          ca: pki.ca.certPem,
          servername: "kubernetes.default.svc",
        }),
      ).toBe("ok");
      // no SNI: the IP address itself is checked against the IP SANs
      expect(await connect({ host: "127.0.0.1", port: srv.port, ca: pki.ca.certPem })).toBe("ok");
    } finally {
      await srv.close();
    }
  });

  it("node:tls rejects a name that is not in the certificate, and an unrelated CA", async () => {
    const srv = await serve(pki.serving);
    try {
      await expect(
        connect({ host: "127.0.0.1", port: srv.port, ca: pki.ca.certPem, servername: "evil.example.com" }),
      ).rejects.toThrow(/altnames|Hostname/i);
      const other = await createCertificateAuthority("other-ca");
      await expect(
        connect({ host: "127.0.0.1", port: srv.port, ca: other.certPem, servername: "localhost" }),
      ).rejects.toThrow();
    } finally {
      await srv.close();
    }
  });

  it("a TLS server with requestCert authorizes the admin client certificate", async () => {
    let authorized = false;
    let subject: tls.PeerCertificate["subject"] | undefined;
    const srv = await serve(
      pki.serving,
      { requestCert: true, rejectUnauthorized: false, ca: pki.ca.certPem },
      (s) => {
        authorized = s.authorized;
        subject = s.getPeerCertificate().subject;
      },
    );
    try {
      await connect({
        host: "127.0.0.1",
        port: srv.port,
        ca: pki.ca.certPem,
        servername: "localhost",
        cert: pki.admin.certPem,
        key: pki.admin.keyPem,
      });
      expect(authorized).toBe(true);
      expect(subject?.CN).toBe("kubeplane-admin");
      expect(subject?.O).toBe("system:masters");
    } finally {
      await srv.close();
    }
  });

  it("issues client certificates for components with several groups", async () => {
    const ca = await loadCertificateAuthority(pki.ca.certPem, pki.ca.keyPem);
    const kubelet = await issueClientCertificate(ca, "system:node:n1", ["system:nodes", "kubeplane:extra"]);
    expect(isIssuedBy(kubelet.certPem, pki.ca.certPem)).toBe(true);
    const cert = new X509Certificate(kubelet.certPem);
    expect(cert.subject).toContain("CN=system:node:n1");
    expect(cert.subject).toContain("O=system:nodes");
    expect(cert.subject).toContain("O=kubeplane:extra");
    let peer: tls.PeerCertificate | undefined;
    let authorized = false;
    const srv = await serve(
      pki.serving,
      { requestCert: true, rejectUnauthorized: false, ca: pki.ca.certPem },
      (s) => {
        authorized = s.authorized;
        peer = s.getPeerCertificate();
      },
    );
    try {
      await connect({
        host: "127.0.0.1",
        port: srv.port,
        ca: pki.ca.certPem,
        cert: kubelet.certPem,
        key: kubelet.keyPem,
      });
      expect(authorized).toBe(true);
      expect(peer?.subject.O).toEqual(["system:nodes", "kubeplane:extra"]);
    } finally {
      await srv.close();
    }
  });

  it("a client certificate from another CA is not authorized", async () => {
    const other = await createCertificateAuthority("other-ca");
    const rogue = await issueClientCertificate(other, "mallory", ["system:masters"]);
    expect(isIssuedBy(rogue.certPem, pki.ca.certPem)).toBe(false);
    let authorized: boolean | undefined;
    const srv = await serve(
      pki.serving,
      { requestCert: true, rejectUnauthorized: false, ca: pki.ca.certPem },
      (s) => {
        authorized = s.authorized;
      },
    );
    try {
      await connect({
        host: "127.0.0.1",
        port: srv.port,
        ca: pki.ca.certPem,
        cert: rogue.certPem,
        key: rogue.keyPem,
      });
      expect(authorized).toBe(false);
    } finally {
      await srv.close();
    }
  });

  it("issues serving certificates for other components", async () => {
    const ca = await loadCertificateAuthority(pki.ca.certPem, pki.ca.keyPem);
    const kubelet = await issueServingCertificate(ca, "n1", ["n1", "127.0.0.1"], { days: 30 });
    expect(certificateHosts(kubelet.certPem)).toEqual(["n1", "127.0.0.1"]);
    const srv = await serve(kubelet);
    try {
      expect(await connect({ host: "127.0.0.1", port: srv.port, ca: pki.ca.certPem, servername: "n1" })).toBe(
        "ok",
      );
    } finally {
      await srv.close();
    }
  });

  it("imports keys it exported", async () => {
    const key = await importPrivateKey(pki.admin.keyPem);
    expect(key.type).toBe("private");
    await expect(importPrivateKey("garbage")).rejects.toThrow(/PRIVATE KEY/);
  });
});

describe("kubeconfig", () => {
  it("writes a standard kubeconfig with embedded data, mode 0600", async () => {
    const d = await tempDir();
    const pki = await ensurePki(d, { hosts: HOSTS });
    const path = join(d, "sub", "admin.conf");
    await writeKubeconfig(path, {
      server: "https://127.0.0.1:6443",
      caPem: pki.ca.certPem,
      certPem: pki.admin.certPem,
      keyPem: pki.admin.keyPem,
      user: "kubeplane-admin",
      context: "kubeplane",
    });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const doc = parse(await readFile(path, "utf8"));
    expect(doc).toMatchObject({
      apiVersion: "v1",
      kind: "Config",
      "current-context": "kubeplane",
      clusters: [{ name: "kubeplane", cluster: { server: "https://127.0.0.1:6443" } }],
      contexts: [{ name: "kubeplane", context: { cluster: "kubeplane", user: "kubeplane-admin" } }],
      users: [{ name: "kubeplane-admin" }],
    });
    const b64 = (s: string) => Buffer.from(s, "base64").toString("utf8");
    expect(b64(doc.clusters[0].cluster["certificate-authority-data"])).toBe(pki.ca.certPem);
    expect(b64(doc.users[0].user["client-certificate-data"])).toBe(pki.admin.certPem);
    expect(b64(doc.users[0].user["client-key-data"])).toBe(pki.admin.keyPem);
    expect(doc.users[0].user).not.toHaveProperty("token");

    // rewriting keeps the mode even if the file was loosened meanwhile
    await writeFile(path, "x", { mode: 0o644 });
    await writeKubeconfig(path, {
      server: "https://h:1",
      caPem: "ca",
      token: "abc",
      user: "u",
      context: "c",
    });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it("renders token users, cluster names and namespaces", () => {
    const doc = parse(
      kubeconfigYaml({
        server: "https://10.0.0.1:6443",
        caPem: "CA",
        token: "s3cret",
        user: "admin",
        context: "ctx",
        cluster: "kp",
        namespace: "kube-system",
      }),
    );
    expect(doc.users[0]).toEqual({ name: "admin", user: { token: "s3cret" } });
    expect(doc.contexts[0].context).toEqual({ cluster: "kp", user: "admin", namespace: "kube-system" });
    expect(doc.clusters[0].name).toBe("kp");
  });
});

describe("Pki shorthands", () => {
  it("exposes the PEM texts directly", async () => {
    const p = await ensurePki(await tempDir(), { hosts: [] });
    expect(p.caPem).toBe(p.ca.certPem);
    expect(p.servingCertPem).toBe(p.serving.certPem);
    expect(p.servingKeyPem).toBe(p.serving.keyPem);
    expect(p.adminCertPem).toBe(p.admin.certPem);
    expect(p.adminKeyPem).toBe(p.admin.keyPem);
  });
});
