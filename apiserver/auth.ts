/**
 * Request authentication like kube-apiserver's: static bearer tokens from a
 * --token-auth-file CSV, and client certificates verified against the cluster CA
 * (CN = user name, each O = a group). Requests without credentials are anonymous;
 * requests with bad credentials are rejected (401), never downgraded to anonymous.
 */

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { errors } from "../api/status.js";

/** An authenticated user, like k8s.io/apiserver's user.Info (Name, UID, Groups, Extra). */
export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export const ANONYMOUS_USER: Readonly<UserInfo> = Object.freeze({
  name: "system:anonymous",
  groups: ["system:unauthenticated"],
});

export const AUTHENTICATED_GROUP = "system:authenticated";
export const ADMIN_USER = "kubeplane-admin";
export const MASTERS_GROUP = "system:masters";
export const TOKEN_FILE = "tokens.csv";

export interface TokenEntry {
  token: string;
  user: string;
  uid: string;
  groups: string[];
  /** 1-based line in the source file */
  line: number;
}

// ---------------------------------------------------------------------------------------
// token file

/** Splits one CSV record: quoted fields ("a,b" and "" escapes), leading spaces trimmed. */
function parseCsvLine(line: string, where: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    while (line[i] === " " || line[i] === "\t") i++;
    let field = "";
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new Error(`${where}: unterminated quoted field`);
        const ch = line[i]!;
        if (ch === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += ch;
        i++;
      }
      while (line[i] === " " || line[i] === "\t") i++;
      if (i < line.length && line[i] !== ",") {
        throw new Error(`${where}: extraneous text after quoted field: ${JSON.stringify(line.slice(i))}`);
      }
    } else {
      const end = line.indexOf(",", i);
      field = end < 0 ? line.slice(i) : line.slice(i, end);
      if (field.includes('"')) throw new Error(`${where}: bare " in unquoted field`);
      i = end < 0 ? line.length : end;
    }
    fields.push(field);
    if (i >= line.length) return fields;
    i++; // the comma
  }
}

/**
 * Parses kube-apiserver's --token-auth-file format: `token,user,uid[,"group1,group2"]`
 * per line; blank lines and lines starting with # are skipped. A later duplicate token
 * replaces an earlier one. Throws with the file name and line number on bad input.
 */
export function parseTokenFile(text: string, source = "token file"): TokenEntry[] {
  const byToken = new Map<string, TokenEntry>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, idx) => {
    const lineNo = idx + 1;
    if (raw.trim() === "" || raw.trimStart().startsWith("#")) return;
    const where = `${source}:${lineNo}`;
    const rec = parseCsvLine(raw, where);
    if (rec.length < 3) {
      throw new Error(
        `${where}: must have at least 3 columns (token, user name, user uid), found ${rec.length}`,
      );
    }
    const [token, user, uid] = rec.map((f) => f.trim()) as [string, string, string];
    if (token === "") throw new Error(`${where}: empty token`);
    if (user === "") throw new Error(`${where}: empty user name`);
    const groups =
      rec.length >= 4
        ? rec[3]!
            .split(",")
            .map((g) => g.trim())
            .filter((g) => g !== "")
        : [];
    byToken.set(token, { token, user, uid, groups, line: lineNo });
  });
  return [...byToken.values()];
}

function digest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/** Static tokens, looked up by digest and compared in constant time. */
export class TokenTable {
  private readonly byDigest = new Map<string, { digest: Buffer; user: UserInfo }>();

  constructor(entries: readonly TokenEntry[] = []) {
    for (const e of entries) {
      const user: UserInfo = { name: e.user, groups: [...e.groups] };
      if (e.uid !== "") user.uid = e.uid;
      this.set(e.token, user);
    }
  }

  get size(): number {
    return this.byDigest.size;
  }

  /** Adds (or replaces) a token. */
  set(token: string, user: UserInfo): this {
    if (token === "") throw new Error("empty token");
    const d = digest(token);
    this.byDigest.set(d.toString("hex"), { digest: d, user: structuredClone(user) });
    return this;
  }

  lookup(token: string): UserInfo | undefined {
    const d = digest(token);
    const hit = this.byDigest.get(d.toString("hex"));
    if (!hit || !timingSafeEqual(hit.digest, d)) return undefined;
    return structuredClone(hit.user);
  }
}

/** Reads and parses a --token-auth-file. */
export async function loadTokenFile(path: string): Promise<TokenTable> {
  const text = await readFile(path, "utf8");
  return new TokenTable(parseTokenFile(text, path));
}

function csvField(s: string): string {
  return /[",\s]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The admin bearer token: DATA_DIR/tokens.csv holds it (user kubeplane-admin, group
 * system:masters); created with a random 32-byte hex token on first start, reused after.
 * Other lines in the file are kept. The file is mode 0600.
 */
export async function generateAdminToken(dataDir: string): Promise<string> {
  const path = join(dataDir, TOKEN_FILE);
  let text = "";
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const existing = parseTokenFile(text, path).find(
    (e) => e.user === ADMIN_USER && e.groups.includes(MASTERS_GROUP),
  );
  if (existing) {
    await chmod(path, 0o600);
    return existing.token;
  }
  const token = randomBytes(32).toString("hex");
  const line = [token, ADMIN_USER, ADMIN_USER, csvField(MASTERS_GROUP)].join(",");
  const prefix = text === "" || text.endsWith("\n") ? text : `${text}\n`;
  await mkdir(dataDir, { recursive: true });
  await writeFile(path, `${prefix}${line}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  return token;
}

// ---------------------------------------------------------------------------------------
// authenticate

/** The parts of a peer certificate we read (node:tls PeerCertificate). */
export interface PeerCertificateLike {
  subject?: { CN?: string | string[]; O?: string | string[] } | Record<string, string | string[] | undefined>;
}

/** The parts of a socket we read: a TLSSocket, or a plain socket (no client certificates). */
export interface SocketLike {
  authorized?: boolean;
  authorizationError?: Error | string | null;
  getPeerCertificate?: (detailed?: boolean) => PeerCertificateLike | null | undefined;
}

export interface RequestLike {
  headers: Record<string, string | string[] | undefined>;
  socket: SocketLike;
}

export interface AuthConfig {
  /** static bearer tokens (--token-auth-file) */
  tokens?: TokenTable;
  /** more bearer token checks (service account tokens, ...); undefined = not this one's token */
  tokenAuthenticators?: ((token: string) => UserInfo | undefined)[];
  /** accept client certificates the TLS server verified (default true) */
  clientCertificates?: boolean;
}

function values(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

function withAuthenticatedGroup(u: UserInfo): UserInfo {
  if (u.groups.includes(AUTHENTICATED_GROUP)) return u;
  return { ...u, groups: [...u.groups, AUTHENTICATED_GROUP] };
}

/** The bearer token in an Authorization header, or undefined when there is none. */
export function bearerToken(headers: RequestLike["headers"]): string | undefined {
  const raw = headers.authorization ?? headers.Authorization;
  const auth = Array.isArray(raw) ? raw[0] : raw;
  if (typeof auth !== "string") return undefined;
  const parts = auth.trim().split(/\s+/);
  if (parts.length < 2 || parts[0]!.toLowerCase() !== "bearer") return undefined;
  const token = parts[1]!;
  return token === "" ? undefined : token;
}

interface CertResult {
  user?: UserInfo;
  /** a certificate was presented but is not trusted */
  failed?: boolean;
}

function fromClientCertificate(socket: SocketLike): CertResult {
  if (typeof socket.getPeerCertificate !== "function") return {};
  const cert = socket.getPeerCertificate(false);
  if (!cert || Object.keys(cert).length === 0) return {};
  if (socket.authorized !== true) return { failed: true };
  const subject = (cert.subject ?? {}) as Record<string, string | string[] | undefined>;
  const cn = values(subject.CN)[0];
  if (cn === undefined || cn === "") return {};
  return { user: { name: cn, groups: values(subject.O).filter((g) => g !== "") } };
}

/**
 * Who made the request: the user from a verified client certificate or a bearer token,
 * with system:authenticated added; undefined for an anonymous request (no credentials).
 * Throws a 401 StatusError when credentials were presented but none was accepted.
 */
export function authenticate(req: RequestLike, cfg: AuthConfig): UserInfo | undefined {
  let failed = false;
  if (cfg.clientCertificates !== false) {
    const cert = fromClientCertificate(req.socket);
    if (cert.user) return withAuthenticatedGroup(cert.user);
    failed = cert.failed === true;
  }
  const token = bearerToken(req.headers);
  if (token !== undefined) {
    const fromTable = cfg.tokens?.lookup(token);
    if (fromTable) return withAuthenticatedGroup(fromTable);
    for (const check of cfg.tokenAuthenticators ?? []) {
      const u = check(token);
      if (u) return withAuthenticatedGroup(u);
    }
    failed = true;
  }
  if (failed) throw errors.unauthorized();
  return undefined;
}

const ANONYMOUS_PATHS = ["/healthz", "/livez", "/readyz", "/version"];

/**
 * Paths anonymous users may read, like the system:public-info-viewer role: /healthz,
 * /livez, /readyz, /version and their subpaths (/healthz/ping, /readyz?verbose).
 */
export function isAnonymousAllowedPath(path: string): boolean {
  const q = path.search(/[?#]/);
  const p = q >= 0 ? path.slice(0, q) : path;
  if (p.includes("%") || p.includes("//") || p.split("/").some((seg) => seg === "." || seg === ".."))
    return false;
  return ANONYMOUS_PATHS.some((base) => p === base || p.startsWith(`${base}/`));
}
