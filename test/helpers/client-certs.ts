/**
 * Test PKI for client/ tests: a CA, a server certificate for 127.0.0.1/localhost and a client
 * certificate, as PEM strings. Generated fresh with @peculiar/x509 + WebCrypto (ECDSA P-256).
 */
import { webcrypto } from "node:crypto";
import type * as X509 from "@peculiar/x509";

/**
 * @peculiar/x509 loads tsyringe, which throws at import unless a Reflect metadata polyfill is
 * present. Install the minimal getMetadata/defineMetadata pair it uses, then import it.
 */
function ensureReflectMetadata(): void {
  const R = Reflect as unknown as Record<string, unknown>;
  if (typeof R.getMetadata === "function") return;
  const store = new WeakMap<object, Map<unknown, unknown>>();
  const keyOf = (metaKey: unknown, prop?: PropertyKey) => `${String(prop ?? "")}\u0000${String(metaKey)}`;
  R.defineMetadata = (metaKey: unknown, value: unknown, target: object, prop?: PropertyKey) => {
    let m = store.get(target);
    if (!m) {
      m = new Map();
      store.set(target, m);
    }
    m.set(keyOf(metaKey, prop), value);
  };
  R.getOwnMetadata = (metaKey: unknown, target: object, prop?: PropertyKey) =>
    store.get(target)?.get(keyOf(metaKey, prop));
  R.getMetadata = (metaKey: unknown, target: object, prop?: PropertyKey) => {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t) as object | null) {
      const m = store.get(t);
      if (m?.has(keyOf(metaKey, prop))) return m.get(keyOf(metaKey, prop));
    }
    return undefined;
  };
  R.hasMetadata = (metaKey: unknown, target: object, prop?: PropertyKey) =>
    (R.getMetadata as (k: unknown, t: object, p?: PropertyKey) => unknown)(metaKey, target, prop) !==
    undefined;
  R.metadata = (metaKey: unknown, value: unknown) => (target: object, prop?: PropertyKey) =>
    (R.defineMetadata as (k: unknown, v: unknown, t: object, p?: PropertyKey) => void)(
      metaKey,
      value,
      target,
      prop,
    );
}

ensureReflectMetadata();
const x509: typeof X509 = await import("@peculiar/x509");
x509.cryptoProvider.set(webcrypto);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

export interface TestPki {
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** a second, unrelated CA (for "wrong CA" tests) */
  otherCaCert: string;
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  const b64 = Buffer.from(der)
    .toString("base64")
    .replace(/(.{64})/g, "$1\n");
  return `-----BEGIN PRIVATE KEY-----\n${b64.trimEnd()}\n-----END PRIVATE KEY-----\n`;
}

async function keys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(alg, true, ["sign", "verify"]);
}

async function makeCa(cn: string): Promise<{ cert: X509.X509Certificate; keys: CryptoKeyPair }> {
  const k = await keys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${cn}`,
    keys: k,
    signingAlgorithm: alg,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(k.publicKey),
    ],
  });
  return { cert, keys: k };
}

async function leaf(
  ca: { cert: X509.X509Certificate; keys: CryptoKeyPair },
  cn: string,
  usage: X509.ExtendedKeyUsage,
  names: { type: "dns" | "ip"; value: string }[],
): Promise<{ cert: string; key: string }> {
  const k = await keys();
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=${cn}`,
    issuer: ca.cert.subject,
    publicKey: k.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: alg,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([usage]),
      ...(names.length ? [new x509.SubjectAlternativeNameExtension(names)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  });
  return { cert: cert.toString("pem"), key: await keyPem(k.privateKey) };
}

export async function makeTestPki(): Promise<TestPki> {
  const ca = await makeCa("kubeplane-test-ca");
  const other = await makeCa("some-other-ca");
  const server = await leaf(ca, "kube-apiserver", x509.ExtendedKeyUsage.serverAuth, [
    { type: "ip", value: "127.0.0.1" },
    { type: "dns", value: "localhost" },
  ]);
  const client = await leaf(ca, "kubeplane-admin", x509.ExtendedKeyUsage.clientAuth, []);
  return {
    caCert: ca.cert.toString("pem"),
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    otherCaCert: other.cert.toString("pem"),
  };
}
