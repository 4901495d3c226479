/**
 * kubeconfig loading: explicit path, else $KUBECONFIG (merged, first wins), else ~/.kube/config,
 * else in-cluster service-account credentials. The result is a plain ClusterConnection.
 *
 * Parsing, merging and context resolution are pure; reading files goes through a `readFile`
 * function (node:fs by default) so the whole thing is testable with temp dirs.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { isPlainObject } from "../api/object.js";

export interface ClusterConnection {
  /** https://host:port (may carry a path prefix) */
  server: string;
  /** PEM CA bundle */
  ca?: string;
  /** PEM client certificate */
  cert?: string;
  /** PEM client key */
  key?: string;
  /** bearer token (read once from tokenFile when only that was given) */
  token?: string;
  /** when set, the REST client re-reads the token from here periodically (rotated SA tokens) */
  tokenFile?: string;
  /** SNI / verification name override (kubeconfig tls-server-name) */
  tlsServerName?: string;
  insecureSkipTLSVerify: boolean;
  namespace: string;
}

export class KubeconfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KubeconfigError";
  }
}

/** One kubeconfig file, with relative file references already resolved against its directory. */
export interface Kubeconfig {
  currentContext?: string;
  clusters: Map<string, KubeconfigCluster>;
  users: Map<string, KubeconfigUser>;
  contexts: Map<string, KubeconfigContext>;
  /** where each entry came from, for error messages */
  sources: string[];
}

export interface KubeconfigCluster {
  server?: string;
  certificateAuthority?: string;
  certificateAuthorityData?: string;
  insecureSkipTLSVerify?: boolean;
  tlsServerName?: string;
}

export interface KubeconfigUser {
  token?: string;
  tokenFile?: string;
  clientCertificate?: string;
  clientCertificateData?: string;
  clientKey?: string;
  clientKeyData?: string;
  /** set when the user uses an auth mechanism this client does not implement */
  unsupported?: string;
}

export interface KubeconfigContext {
  cluster?: string;
  user?: string;
  namespace?: string;
}

export type ReadFile = (path: string) => string;

const defaultReadFile: ReadFile = (p) => readFileSync(p, "utf8");

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function absolutize(p: string | undefined, baseDir: string): string | undefined {
  if (p === undefined) return undefined;
  if (p.startsWith("~/")) return join(homedir(), p.slice(2));
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

function namedEntries(doc: Record<string, unknown>, field: string, inner: string, source: string) {
  const out = new Map<string, Record<string, unknown>>();
  const list = doc[field];
  if (list === undefined || list === null) return out;
  if (!Array.isArray(list)) throw new KubeconfigError(`${source}: "${field}" must be a list`);
  for (const entry of list) {
    if (!isPlainObject(entry) || typeof entry.name !== "string") {
      throw new KubeconfigError(`${source}: every entry of "${field}" needs a name`);
    }
    const body = entry[inner];
    // first occurrence wins inside one file too
    if (!out.has(entry.name)) out.set(entry.name, isPlainObject(body) ? body : {});
  }
  return out;
}

/** Parses kubeconfig YAML; `sourcePath` anchors relative certificate/key/token paths. */
export function parseKubeconfig(text: string, sourcePath: string): Kubeconfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new KubeconfigError(`${sourcePath}: invalid YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) doc = {};
  if (!isPlainObject(doc)) throw new KubeconfigError(`${sourcePath}: not a kubeconfig (expected a mapping)`);
  const base = dirname(resolve(sourcePath));
  const clusters = new Map<string, KubeconfigCluster>();
  for (const [name, c] of namedEntries(doc, "clusters", "cluster", sourcePath)) {
    clusters.set(name, {
      server: str(c.server),
      certificateAuthority: absolutize(str(c["certificate-authority"]), base),
      certificateAuthorityData: str(c["certificate-authority-data"]),
      insecureSkipTLSVerify: c["insecure-skip-tls-verify"] === true,
      tlsServerName: str(c["tls-server-name"]),
    });
  }
  const users = new Map<string, KubeconfigUser>();
  for (const [name, u] of namedEntries(doc, "users", "user", sourcePath)) {
    let unsupported: string | undefined;
    if (u.exec !== undefined && u.exec !== null) unsupported = "exec credential plugins";
    else if (u["auth-provider"] !== undefined && u["auth-provider"] !== null) unsupported = "auth-provider";
    else if (str(u.username) || str(u.password)) unsupported = "basic auth (username/password)";
    users.set(name, {
      token: str(u.token),
      tokenFile: absolutize(str(u.tokenFile), base),
      clientCertificate: absolutize(str(u["client-certificate"]), base),
      clientCertificateData: str(u["client-certificate-data"]),
      clientKey: absolutize(str(u["client-key"]), base),
      clientKeyData: str(u["client-key-data"]),
      unsupported,
    });
  }
  const contexts = new Map<string, KubeconfigContext>();
  for (const [name, c] of namedEntries(doc, "contexts", "context", sourcePath)) {
    contexts.set(name, { cluster: str(c.cluster), user: str(c.user), namespace: str(c.namespace) });
  }
  return { currentContext: str(doc["current-context"]), clusters, users, contexts, sources: [sourcePath] };
}

/** kubectl's merge: for clusters/users/contexts and current-context, the first file that sets a name wins. */
export function mergeKubeconfigs(configs: Kubeconfig[]): Kubeconfig {
  const merged: Kubeconfig = { clusters: new Map(), users: new Map(), contexts: new Map(), sources: [] };
  for (const c of configs) {
    merged.currentContext ??= c.currentContext;
    for (const [k, v] of c.clusters) if (!merged.clusters.has(k)) merged.clusters.set(k, v);
    for (const [k, v] of c.users) if (!merged.users.has(k)) merged.users.set(k, v);
    for (const [k, v] of c.contexts) if (!merged.contexts.has(k)) merged.contexts.set(k, v);
    merged.sources.push(...c.sources);
  }
  return merged;
}

function readRequired(readFile: ReadFile, path: string, what: string): string {
  try {
    return readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new KubeconfigError(
      code === "ENOENT"
        ? `${what} file ${path} does not exist`
        : `cannot read ${what} file ${path}: ${(err as Error).message}`,
    );
  }
}

function decodeData(data: string, what: string, owner: string): string {
  const text = Buffer.from(data, "base64").toString("utf8");
  if (!text.includes("-----BEGIN"))
    throw new KubeconfigError(`${what} of ${owner} is not base64-encoded PEM`);
  return text;
}

function pemFrom(
  readFile: ReadFile,
  data: string | undefined,
  path: string | undefined,
  what: string,
  owner: string,
): string | undefined {
  if (data !== undefined) return decodeData(data, `${what}-data`, owner);
  if (path !== undefined) {
    const text = readRequired(readFile, path, `${what} for ${owner}`);
    if (!text.includes("-----BEGIN"))
      throw new KubeconfigError(`${what} file ${path} for ${owner} is not PEM`);
    return text;
  }
  return undefined;
}

export interface ResolveOptions {
  /** overrides current-context */
  context?: string;
  /** overrides the context's namespace */
  namespace?: string;
  readFile?: ReadFile;
}

/** Turns a (merged) kubeconfig plus a context choice into a ClusterConnection, reading referenced files. */
export function resolveContext(config: Kubeconfig, opts: ResolveOptions = {}): ClusterConnection {
  const readFile = opts.readFile ?? defaultReadFile;
  const where = config.sources.join(", ") || "kubeconfig";
  const contextName = opts.context ?? config.currentContext;
  if (!contextName) {
    throw new KubeconfigError(`${where}: no current-context is set and no context was given`);
  }
  const ctx = config.contexts.get(contextName);
  if (!ctx) {
    const known = [...config.contexts.keys()];
    throw new KubeconfigError(
      `${where}: context "${contextName}" not found` + (known.length ? ` (known: ${known.join(", ")})` : ""),
    );
  }
  if (!ctx.cluster) throw new KubeconfigError(`${where}: context "${contextName}" names no cluster`);
  const cluster = config.clusters.get(ctx.cluster);
  if (!cluster)
    throw new KubeconfigError(`${where}: cluster "${ctx.cluster}" (context "${contextName}") not found`);
  if (!cluster.server) throw new KubeconfigError(`${where}: cluster "${ctx.cluster}" has no server`);
  let server: URL;
  try {
    server = new URL(cluster.server);
  } catch {
    throw new KubeconfigError(
      `${where}: cluster "${ctx.cluster}" has an invalid server URL "${cluster.server}"`,
    );
  }
  if (server.protocol !== "https:" && server.protocol !== "http:") {
    throw new KubeconfigError(
      `${where}: cluster "${ctx.cluster}" server must be http(s), got "${cluster.server}"`,
    );
  }
  const clusterOwner = `cluster "${ctx.cluster}"`;
  if (cluster.insecureSkipTLSVerify && (cluster.certificateAuthority || cluster.certificateAuthorityData)) {
    throw new KubeconfigError(
      `${where}: ${clusterOwner} sets insecure-skip-tls-verify together with a certificate authority; choose one`,
    );
  }
  const conn: ClusterConnection = {
    server: cluster.server.replace(/\/+$/, ""),
    insecureSkipTLSVerify: cluster.insecureSkipTLSVerify === true,
    namespace: opts.namespace ?? ctx.namespace ?? "default",
  };
  const ca = pemFrom(
    readFile,
    cluster.certificateAuthorityData,
    cluster.certificateAuthority,
    "certificate-authority",
    clusterOwner,
  );
  if (ca !== undefined) conn.ca = ca;
  if (cluster.tlsServerName) conn.tlsServerName = cluster.tlsServerName;

  if (ctx.user) {
    const user = config.users.get(ctx.user);
    if (!user) throw new KubeconfigError(`${where}: user "${ctx.user}" (context "${contextName}") not found`);
    const owner = `user "${ctx.user}"`;
    const cert = pemFrom(
      readFile,
      user.clientCertificateData,
      user.clientCertificate,
      "client-certificate",
      owner,
    );
    const key = pemFrom(readFile, user.clientKeyData, user.clientKey, "client-key", owner);
    if ((cert === undefined) !== (key === undefined)) {
      throw new KubeconfigError(`${where}: ${owner} needs both a client certificate and a client key`);
    }
    if (cert !== undefined && key !== undefined) {
      conn.cert = cert;
      conn.key = key;
    }
    if (user.token) {
      conn.token = user.token;
    } else if (user.tokenFile) {
      conn.token = readRequired(readFile, user.tokenFile, `token for ${owner}`).trim();
      conn.tokenFile = user.tokenFile;
    }
    if (user.unsupported && conn.token === undefined && conn.cert === undefined) {
      throw new KubeconfigError(
        `${where}: ${owner} uses ${user.unsupported}, which kubeplane does not support`,
      );
    }
  }
  return conn;
}

export interface InClusterPaths {
  tokenFile: string;
  caFile: string;
  namespaceFile: string;
}

export const IN_CLUSTER_PATHS: InClusterPaths = {
  tokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token",
  caFile: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
  namespaceFile: "/var/run/secrets/kubernetes.io/serviceaccount/namespace",
};

/** The connection a pod gets from its service account; throws when not running in a cluster. */
export function inClusterConnection(
  env: NodeJS.ProcessEnv = process.env,
  paths: InClusterPaths = IN_CLUSTER_PATHS,
  readFile: ReadFile = defaultReadFile,
): ClusterConnection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new KubeconfigError(
      "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set",
    );
  }
  const token = readRequired(readFile, paths.tokenFile, "service account token").trim();
  if (token === "") throw new KubeconfigError(`service account token file ${paths.tokenFile} is empty`);
  const ca = readRequired(readFile, paths.caFile, "service account CA");
  if (!ca.includes("-----BEGIN"))
    throw new KubeconfigError(`service account CA file ${paths.caFile} is not PEM`);
  let namespace = env.POD_NAMESPACE;
  if (!namespace) {
    try {
      namespace = readFile(paths.namespaceFile).trim();
    } catch {
      namespace = undefined;
    }
  }
  const hostPart = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return {
    server: `https://${hostPart}:${port}`,
    ca,
    token,
    tokenFile: paths.tokenFile,
    insecureSkipTLSVerify: false,
    namespace: namespace || "default",
  };
}

export interface LoadOptions {
  /** explicit --kubeconfig; must exist */
  kubeconfig?: string;
  /** explicit --context */
  context?: string;
  /** explicit --namespace */
  namespace?: string;
  /** defaults to process.env */
  env?: NodeJS.ProcessEnv;
  /** defaults to os.homedir() */
  homeDir?: string;
  /** service-account file locations for the in-cluster fallback */
  inClusterPaths?: InClusterPaths;
  readFile?: ReadFile;
  fileExists?: (path: string) => boolean;
}

/** The kubeconfig files that would be read, in precedence order (empty: fall back to in-cluster). */
export function kubeconfigPaths(opts: LoadOptions = {}): {
  paths: string[];
  origin: "flag" | "env" | "home" | "none";
} {
  const env = opts.env ?? process.env;
  const exists = opts.fileExists ?? existsSync;
  if (opts.kubeconfig) return { paths: [opts.kubeconfig], origin: "flag" };
  const fromEnv = env.KUBECONFIG;
  if (fromEnv !== undefined && fromEnv.trim() !== "") {
    const seen = new Set<string>();
    const paths: string[] = [];
    for (const p of fromEnv.split(delimiter)) {
      if (p === "" || seen.has(p)) continue;
      seen.add(p);
      paths.push(p);
    }
    return { paths, origin: "env" };
  }
  const home = join(opts.homeDir ?? homedir(), ".kube", "config");
  if (exists(home)) return { paths: [home], origin: "home" };
  return { paths: [], origin: "none" };
}

/**
 * Loads the ClusterConnection the way kubectl/client-go would:
 * --kubeconfig, else $KUBECONFIG (missing entries skipped), else ~/.kube/config, else in-cluster.
 */
export function loadClusterConnection(opts: LoadOptions = {}): ClusterConnection {
  const readFile = opts.readFile ?? defaultReadFile;
  const exists = opts.fileExists ?? existsSync;
  const { paths, origin } = kubeconfigPaths(opts);
  if (origin === "none") {
    try {
      const conn = inClusterConnection(
        opts.env ?? process.env,
        opts.inClusterPaths ?? IN_CLUSTER_PATHS,
        readFile,
      );
      if (opts.namespace) conn.namespace = opts.namespace;
      return conn;
    } catch (err) {
      throw new KubeconfigError(
        `no kubeconfig found (no --kubeconfig, $KUBECONFIG unset, no ${join(opts.homeDir ?? homedir(), ".kube", "config")}) ` +
          `and in-cluster configuration failed: ${(err as Error).message}`,
      );
    }
  }
  if (origin === "flag") {
    if (!exists(paths[0]!)) throw new KubeconfigError(`kubeconfig file ${paths[0]} does not exist`);
  }
  const present = paths.filter((p) => exists(p));
  if (present.length === 0) {
    throw new KubeconfigError(`none of the files in KUBECONFIG exist: ${paths.join(delimiter)}`);
  }
  const configs = present.map((p) => parseKubeconfig(readRequired(readFile, p, "kubeconfig"), p));
  return resolveContext(mergeKubeconfigs(configs), {
    context: opts.context,
    namespace: opts.namespace,
    readFile,
  });
}
