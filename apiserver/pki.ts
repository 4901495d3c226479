/**
 * The cluster's certificates, kept under DATA_DIR/pki like kubeadm's /etc/kubernetes/pki:
 * a self-signed CA, the apiserver's serving certificate (SANs for every name clients use),
 * and an admin client certificate (O=system:masters). ECDSA P-256 throughout.
 *
 * Created on first start and reused afterwards; the serving certificate is re-issued when
 * its SAN set changes, when it is no longer signed by the CA, or when it nears expiry.
 */

import { X509Certificate as NodeX509, webcrypto } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { dirname, join } from "node:path";
import type * as X509 from "@peculiar/x509";
import { stringify } from "yaml";

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

/**
 * @peculiar/x509 pulls in tsyringe, which insists on a Reflect metadata polyfill
 * (reflect-metadata) being loaded first. Under plain Node the package's CommonJS build is
 * used and would throw at import time, so install the few functions it needs, then load it.
 */
function installReflectMetadata(): void {
  const R = Reflect as unknown as Record<string, unknown>;
  if (typeof R.getMetadata === "function") return;
  const store = new WeakMap<object, Map<PropertyKey | undefined, Map<unknown, unknown>>>();
  const own = (
    target: object,
    prop: PropertyKey | undefined,
    create: boolean,
  ): Map<unknown, unknown> | undefined => {
    let byProp = store.get(target);
    if (!byProp) {
      if (!create) return undefined;
      byProp = new Map();
      store.set(target, byProp);
    }
    let m = byProp.get(prop);
    if (!m && create) {
      m = new Map();
      byProp.set(prop, m);
    }
    return m;
  };
  const defineMetadata = (key: unknown, value: unknown, target: object, prop?: PropertyKey) => {
    own(target, prop, true)!.set(key, value);
  };
  const getOwnMetadata = (key: unknown, target: object, prop?: PropertyKey) =>
    own(target, prop, false)?.get(key);
  const hasOwnMetadata = (key: unknown, target: object, prop?: PropertyKey) =>
    own(target, prop, false)?.has(key) ?? false;
  const chain = (target: object): object[] => {
    const out: object[] = [];
    for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t)) out.push(t);
    return out;
  };
  const getMetadata = (key: unknown, target: object, prop?: PropertyKey): unknown => {
    for (const t of chain(target)) if (hasOwnMetadata(key, t, prop)) return getOwnMetadata(key, t, prop);
    return undefined;
  };
  const hasMetadata = (key: unknown, target: object, prop?: PropertyKey): boolean =>
    chain(target).some((t) => hasOwnMetadata(key, t, prop));
  const metadata = (key: unknown, value: unknown) => (target: object, prop?: PropertyKey) =>
    defineMetadata(key, value, target, prop);
  Object.assign(Reflect, {
    defineMetadata,
    getOwnMetadata,
    hasOwnMetadata,
    getMetadata,
    hasMetadata,
    metadata,
  });
}

installReflectMetadata();
const x509: typeof X509 = await import("@peculiar/x509");
x509.cryptoProvider.set(webcrypto);

const subtle = webcrypto.subtle;
const EC_ALG = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGN_ALG = { name: "ECDSA", hash: "SHA-256" } as const;
const DAY = 24 * 60 * 60 * 1000;
/** backdate notBefore so peers with a slightly slow clock accept a fresh certificate */
const BACKDATE = 5 * 60 * 1000;
/** re-issue leaf certificates with less than this left */
const RENEW_BEFORE = 30 * DAY;

export const CA_COMMON_NAME = "kubeplane-ca";
export const APISERVER_COMMON_NAME = "kube-apiserver";
export const ADMIN_COMMON_NAME = "kubeplane-admin";
export const ADMIN_GROUP = "system:masters";

export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

export interface CertificateAuthority extends KeyPairPem {
  cert: X509.X509Certificate;
  key: CryptoKey;
}

export interface PkiPaths {
  dir: string;
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  adminCert: string;
  adminKey: string;
}

export interface Pki {
  paths: PkiPaths;
  ca: CertificateAuthority;
  serving: KeyPairPem;
  admin: KeyPairPem;
  /** the serving certificate's SANs (DNS names and IPs) */
  hosts: string[];
  /** what this call created: "ca", "apiserver", "admin" */
  created: string[];
  /** shorthands for the PEM texts above */
  caPem: string;
  servingCertPem: string;
  servingKeyPem: string;
  adminCertPem: string;
  adminKeyPem: string;
}

export interface EnsurePkiOptions {
  /** extra DNS names and IPs for the serving certificate (advertise address, first service IP, ...) */
  hosts: string[];
  /** cluster domain for kubernetes.default.svc.<domain>; default cluster.local */
  clusterDomain?: string;
  now?: Date;
}

export function pkiPaths(dataDir: string): PkiPaths {
  const dir = join(dataDir, "pki");
  return {
    dir,
    caCert: join(dir, "ca.crt"),
    caKey: join(dir, "ca.key"),
    apiserverCert: join(dir, "apiserver.crt"),
    apiserverKey: join(dir, "apiserver.key"),
    adminCert: join(dir, "admin.crt"),
    adminKey: join(dir, "admin.key"),
  };
}

/** The names every apiserver serving certificate carries, plus `extra`, deduplicated. */
export function servingHosts(extra: readonly string[], clusterDomain = "cluster.local"): string[] {
  const base = [
    "localhost",
    "127.0.0.1",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    `kubernetes.default.svc.${clusterDomain}`,
  ];
  const out: string[] = [];
  const seen = new Set<string>();
  for (const h of [...base, ...extra]) {
    const trimmed = h.trim();
    if (trimmed === "") continue;
    const key = canonicalHost(trimmed);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(trimmed);
  }
  return out;
}

/** The first usable address of a service CIDR (10.96.0.0/12 → 10.96.0.1), the `kubernetes` Service IP. */
export function firstServiceIP(cidr: string): string {
  const [addr, bitsText] = cidr.split("/");
  const family = isIP(addr ?? "");
  const bits = Number(bitsText);
  const width = family === 4 ? 32 : 128;
  if (family === 0 || !Number.isInteger(bits) || bits < 0 || bits > width) {
    throw new Error(`invalid CIDR ${JSON.stringify(cidr)}`);
  }
  const bytes = ipBytes(addr!);
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  const mask = ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - bits)) - 1n);
  n = (n & mask) + 1n;
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    out.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  if (family === 4) return out.join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((out[i]! << 8) | out[i + 1]!).toString(16));
  return compressIPv6(groups);
}

function compressIPv6(groups: string[]): string {
  // replace the longest run (>= 2) of zero groups with "::"
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === "0") j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}

/** IPv4/IPv6 text → bytes (4 or 16). */
function ipBytes(ip: string): number[] {
  if (isIP(ip) === 4) return ip.split(".").map(Number);
  let text = ip;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    tail.push(
      ...text
        .slice(lastColon + 1)
        .split(".")
        .map(Number),
    );
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [head, rest] = text.includes("::") ? text.split("::") : [text, undefined];
  const h = head ? head.split(":") : [];
  const r = rest !== undefined && rest !== "" ? rest.split(":") : [];
  const fill = rest === undefined ? [] : new Array<string>(8 - h.length - r.length).fill("0");
  const groups = [...h, ...fill, ...r].map((g) => Number.parseInt(g, 16));
  const bytes: number[] = [];
  for (const g of groups) bytes.push((g >> 8) & 0xff, g & 0xff);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

/** A comparable form of a SAN: IPs by their bytes, DNS names lower-cased. */
function canonicalHost(h: string): string {
  if (isIP(h) !== 0) return `ip:${ipBytes(h).join(".")}`;
  return `dns:${h.toLowerCase()}`;
}

function sanKeySet(hosts: readonly string[]): Set<string> {
  return new Set(hosts.map(canonicalHost));
}

function sameSet(a: Set<string>, b: Set<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = bytes[0]! & 0x7f; // positive
  if (bytes[0] === 0) bytes[0] = 1;
  return Buffer.from(bytes).toString("hex");
}

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

function fromPem(pem: string, label: string): Buffer {
  const m = pem.match(new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`));
  if (!m) throw new Error(`no ${label} block in PEM`);
  return Buffer.from(m[1]!.replace(/\s+/g, ""), "base64");
}

async function generateKeyPair(): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(EC_ALG, true, ["sign", "verify"])) as CryptoKeyPair;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  return toPem(await subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

/** Imports a PKCS#8 ECDSA P-256 private key PEM for signing. */
export async function importPrivateKey(pem: string): Promise<CryptoKey> {
  return subtle.importKey("pkcs8", fromPem(pem, "PRIVATE KEY"), EC_ALG, true, ["sign"]);
}

function subjectName(cn: string, organizations: readonly string[] = []): X509.JsonName {
  const name: X509.JsonName = [];
  for (const o of organizations) name.push({ O: [o] });
  name.push({ CN: [cn] });
  return name;
}

/** Creates a fresh self-signed CA. */
export async function createCertificateAuthority(
  cn = CA_COMMON_NAME,
  opts: { now?: Date; days?: number } = {},
): Promise<CertificateAuthority> {
  const now = opts.now ?? new Date();
  const keys = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: subjectName(cn),
    notBefore: new Date(now.getTime() - BACKDATE),
    notAfter: new Date(now.getTime() + (opts.days ?? 3650) * DAY),
    signingAlgorithm: SIGN_ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    cert,
    key: keys.privateKey,
    certPem: cert.toString("pem") + "\n",
    keyPem: await privateKeyPem(keys.privateKey),
  };
}

/** Loads a CA from PEM text. */
export async function loadCertificateAuthority(
  certPem: string,
  keyPem: string,
): Promise<CertificateAuthority> {
  return { cert: new x509.X509Certificate(certPem), key: await importPrivateKey(keyPem), certPem, keyPem };
}

interface LeafOptions {
  cn: string;
  organizations?: readonly string[];
  hosts?: readonly string[];
  usage: "server" | "client" | "both";
  days?: number;
  now?: Date;
}

async function issueLeaf(ca: CertificateAuthority, o: LeafOptions): Promise<KeyPairPem> {
  const now = o.now ?? new Date();
  const keys = await generateKeyPair();
  const eku: string[] = [];
  if (o.usage !== "client") eku.push(x509.ExtendedKeyUsage.serverAuth);
  if (o.usage !== "server") eku.push(x509.ExtendedKeyUsage.clientAuth);
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
      true,
    ),
    new x509.ExtendedKeyUsageExtension(eku),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (o.hosts && o.hosts.length > 0) {
    extensions.push(
      new x509.SubjectAlternativeNameExtension(
        o.hosts.map((h) => ({ type: isIP(h) !== 0 ? "ip" : "dns", value: h }) as X509.JsonGeneralName),
      ),
    );
  }
  const notAfter = Math.min(now.getTime() + (o.days ?? 365) * DAY, ca.cert.notAfter.getTime());
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: subjectName(o.cn, o.organizations),
    issuer: ca.cert.subjectName,
    notBefore: new Date(now.getTime() - BACKDATE),
    notAfter: new Date(notAfter),
    signingAlgorithm: SIGN_ALG,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    extensions,
  });
  return { certPem: cert.toString("pem") + "\n", keyPem: await privateKeyPem(keys.privateKey) };
}

/** A client certificate for a component or user: CN = user name, one O per group. */
export async function issueClientCertificate(
  ca: CertificateAuthority,
  cn: string,
  groups: readonly string[] = [],
  opts: { days?: number; now?: Date } = {},
): Promise<KeyPairPem> {
  return issueLeaf(ca, { cn, organizations: groups, usage: "client", ...opts });
}

/** A serving certificate for the given DNS names and IPs (kubelet, aggregated servers, ...). */
export async function issueServingCertificate(
  ca: CertificateAuthority,
  cn: string,
  hosts: readonly string[],
  opts: { days?: number; now?: Date } = {},
): Promise<KeyPairPem> {
  return issueLeaf(ca, { cn, hosts, usage: "server", ...opts });
}

/** The DNS names and IPs in a certificate's subjectAltName. */
export function certificateHosts(certPem: string): string[] {
  const cert = new x509.X509Certificate(certPem);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (!san) return [];
  return san.names.items.filter((n) => n.type === "dns" || n.type === "ip").map((n) => n.value);
}

/** Whether `certPem` was signed by the CA and is valid for at least `minRemainingMs` from `now`. */
export function isIssuedBy(certPem: string, caPem: string, now = new Date(), minRemainingMs = 0): boolean {
  try {
    const cert = new NodeX509(certPem);
    const ca = new NodeX509(caPem);
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return false;
    const notAfter = Date.parse(cert.validTo);
    const notBefore = Date.parse(cert.validFrom);
    return notBefore <= now.getTime() + BACKDATE && notAfter - now.getTime() > minRemainingMs;
  } catch {
    return false;
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/** Writes atomically (temp file + rename) with the given mode. */
async function writeSecureFile(path: string, data: string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}

async function writePair(certPath: string, keyPath: string, pair: KeyPairPem): Promise<void> {
  await writeSecureFile(keyPath, pair.keyPem, 0o600);
  await writeSecureFile(certPath, pair.certPem, 0o644);
}

async function keyMatchesCert(pair: KeyPairPem): Promise<boolean> {
  try {
    const cert = new NodeX509(pair.certPem);
    const key = await importPrivateKey(pair.keyPem);
    const probe = Buffer.from("kubeplane-pki-probe");
    const sig = await subtle.sign(SIGN_ALG, key, probe);
    const pub = await subtle.importKey(
      "spki",
      cert.publicKey.export({ type: "spki", format: "der" }),
      EC_ALG,
      false,
      ["verify"],
    );
    return await subtle.verify(SIGN_ALG, pub, sig, probe);
  } catch {
    return false;
  }
}

/**
 * Creates DATA_DIR/pki on first start and reuses it afterwards: ca.crt/ca.key (10 years),
 * apiserver.crt/.key (1 year, SANs = servingHosts(opts.hosts)), admin.crt/.key
 * (CN kubeplane-admin, O system:masters).
 */
export async function ensurePki(dataDir: string, opts: EnsurePkiOptions): Promise<Pki> {
  const now = opts.now ?? new Date();
  const paths = pkiPaths(dataDir);
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  const created: string[] = [];

  let ca: CertificateAuthority | undefined;
  const caCertPem = await readIfExists(paths.caCert);
  const caKeyPem = await readIfExists(paths.caKey);
  if (caCertPem && caKeyPem && (await keyMatchesCert({ certPem: caCertPem, keyPem: caKeyPem }))) {
    ca = await loadCertificateAuthority(caCertPem, caKeyPem);
  } else {
    ca = await createCertificateAuthority(CA_COMMON_NAME, { now });
    await writePair(paths.caCert, paths.caKey, ca);
    created.push("ca");
  }

  const hosts = servingHosts(opts.hosts, opts.clusterDomain);
  let serving = await loadPair(paths.apiserverCert, paths.apiserverKey);
  if (
    !serving ||
    !isIssuedBy(serving.certPem, ca.certPem, now, RENEW_BEFORE) ||
    !sameSet(sanKeySet(certificateHosts(serving.certPem)), sanKeySet(hosts)) ||
    !(await keyMatchesCert(serving))
  ) {
    serving = await issueServingCertificate(ca, APISERVER_COMMON_NAME, hosts, { now });
    await writePair(paths.apiserverCert, paths.apiserverKey, serving);
    created.push("apiserver");
  }

  let admin = await loadPair(paths.adminCert, paths.adminKey);
  if (!admin || !isIssuedBy(admin.certPem, ca.certPem, now, RENEW_BEFORE) || !(await keyMatchesCert(admin))) {
    admin = await issueClientCertificate(ca, ADMIN_COMMON_NAME, [ADMIN_GROUP], { now });
    await writePair(paths.adminCert, paths.adminKey, admin);
    created.push("admin");
  }

  return {
    paths,
    ca,
    serving,
    admin,
    hosts,
    created,
    caPem: ca.certPem,
    servingCertPem: serving.certPem,
    servingKeyPem: serving.keyPem,
    adminCertPem: admin.certPem,
    adminKeyPem: admin.keyPem,
  };
}

async function loadPair(certPath: string, keyPath: string): Promise<KeyPairPem | undefined> {
  const certPem = await readIfExists(certPath);
  const keyPem = await readIfExists(keyPath);
  return certPem && keyPem ? { certPem, keyPem } : undefined;
}

export interface KubeconfigOptions {
  server: string;
  caPem: string;
  user: string;
  context: string;
  /** cluster entry name; defaults to the context name */
  cluster?: string;
  namespace?: string;
  token?: string;
  certPem?: string;
  keyPem?: string;
}

/** A standard kubeconfig document (embedded *-data fields) as YAML text. */
export function kubeconfigYaml(o: KubeconfigOptions): string {
  const cluster = o.cluster ?? o.context;
  const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
  const user: Record<string, string> = {};
  if (o.certPem) user["client-certificate-data"] = b64(o.certPem);
  if (o.keyPem) user["client-key-data"] = b64(o.keyPem);
  if (o.token) user.token = o.token;
  const context: Record<string, string> = { cluster, user: o.user };
  if (o.namespace) context.namespace = o.namespace;
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: cluster, cluster: { server: o.server, "certificate-authority-data": b64(o.caPem) } }],
    users: [{ name: o.user, user }],
    contexts: [{ name: o.context, context }],
    "current-context": o.context,
    preferences: {},
  };
  return stringify(doc, { lineWidth: 0 });
}

/** Writes a kubeconfig with mode 0600 (creating parent directories). */
export async function writeKubeconfig(path: string, o: KubeconfigOptions): Promise<void> {
  await writeSecureFile(path, kubeconfigYaml(o), 0o600);
}
