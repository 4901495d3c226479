/**
 * Reusable checks in the manner of k8s.io/apimachinery/pkg/util/validation: each `is*`
 * function returns the list of problems (empty when valid) with upstream's wording, and
 * the `field*` builders turn a problem into a Status cause whose message reads like
 * field.Error's ("Invalid value: \"x\": ..."). Also the resource.Quantity parser.
 * Pure functions, no I/O.
 */
import { isIPv4, isIPv6 } from "node:net";
import type { StatusCause } from "./status.js";

// ---------------------------------------------------------------------------------------
// field errors with upstream message formatting

/** how field.Error prints a value: strings quoted, numbers and booleans bare, the rest as JSON */
export function formatValue(v: unknown): string {
  if (v === undefined || v === null) return "null";
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

export function fieldInvalid(field: string, value: unknown, detail: string): StatusCause {
  return {
    reason: "FieldValueInvalid",
    field,
    message: `Invalid value: ${formatValue(value)}${detail ? `: ${detail}` : ""}`,
  };
}

export function fieldRequired(field: string, detail = ""): StatusCause {
  return { reason: "FieldValueRequired", field, message: `Required value${detail ? `: ${detail}` : ""}` };
}

export function fieldNotSupported(field: string, value: unknown, supported: readonly string[]): StatusCause {
  const list = supported.map((s) => JSON.stringify(s)).join(", ");
  return {
    reason: "FieldValueNotSupported",
    field,
    message: `Unsupported value: ${formatValue(value)}${supported.length ? `: supported values: ${list}` : ""}`,
  };
}

export function fieldDuplicate(field: string, value: unknown): StatusCause {
  return { reason: "FieldValueDuplicate", field, message: `Duplicate value: ${formatValue(value)}` };
}

export function fieldForbidden(field: string, detail = ""): StatusCause {
  return { reason: "FieldValueForbidden", field, message: `Forbidden${detail ? `: ${detail}` : ""}` };
}

export function fieldTooLong(field: string, max: number): StatusCause {
  return { reason: "FieldValueTooLong", field, message: `Too long: may not be more than ${max} bytes` };
}

export function fieldTooMany(field: string, actual: number, max: number): StatusCause {
  return {
    reason: "FieldValueTooMany",
    field,
    message: `Too many: ${actual}: must have at most ${max} items`,
  };
}

export function fieldNotFound(field: string, value: unknown): StatusCause {
  return { reason: "FieldValueNotFound", field, message: `Not found: ${formatValue(value)}` };
}

/** one Invalid cause per message */
export function invalidEach(field: string, value: unknown, msgs: readonly string[]): StatusCause[] {
  return msgs.map((m) => fieldInvalid(field, value, m));
}

export const FIELD_IMMUTABLE = "field is immutable";

// ---------------------------------------------------------------------------------------
// message helpers (apimachinery's RegexError / MaxLenError / InclusiveRangeError)

function regexError(msg: string, fmt: string, ...examples: string[]): string {
  let s = msg + " (e.g. ";
  if (examples.length === 0) s += "'" + fmt + "', ";
  else s += examples.map((e) => "'" + e + "'").join(",  or ") + ", ";
  return s + "regex used for validation is '" + fmt + "')";
}

export function maxLenError(n: number): string {
  return `must be no more than ${n} characters`;
}

export function inclusiveRangeError(lo: number, hi: number): string {
  return `must be between ${lo} and ${hi}, inclusive`;
}

export function emptyError(): string {
  return "must be non-empty";
}

// ---------------------------------------------------------------------------------------
// DNS names

const DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_RE = new RegExp(`^${DNS1123_LABEL_FMT}$`);
export const DNS1123_LABEL_MAX = 63;
const DNS1123_LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";

const DNS1123_SUBDOMAIN_FMT = `${DNS1123_LABEL_FMT}(\\.${DNS1123_LABEL_FMT})*`;
const DNS1123_SUBDOMAIN_RE = new RegExp(`^${DNS1123_SUBDOMAIN_FMT}$`);
export const DNS1123_SUBDOMAIN_MAX = 253;
const DNS1123_SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

const DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_RE = new RegExp(`^${DNS1035_LABEL_FMT}$`);
const DNS1035_LABEL_MSG =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";

const WILDCARD_SUBDOMAIN_FMT = `\\*\\.${DNS1123_SUBDOMAIN_FMT}`;
const WILDCARD_SUBDOMAIN_RE = new RegExp(`^${WILDCARD_SUBDOMAIN_FMT}$`);
const WILDCARD_SUBDOMAIN_MSG =
  "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character";

export function isDNS1123Label(v: string): string[] {
  const errs: string[] = [];
  if (v.length > DNS1123_LABEL_MAX) errs.push(maxLenError(DNS1123_LABEL_MAX));
  if (!DNS1123_LABEL_RE.test(v))
    errs.push(regexError(DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, "my-name", "123-abc"));
  return errs;
}

export function isDNS1123Subdomain(v: string): string[] {
  const errs: string[] = [];
  if (v.length > DNS1123_SUBDOMAIN_MAX) errs.push(maxLenError(DNS1123_SUBDOMAIN_MAX));
  if (!DNS1123_SUBDOMAIN_RE.test(v))
    errs.push(regexError(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, "example.com"));
  return errs;
}

export function isDNS1035Label(v: string): string[] {
  const errs: string[] = [];
  if (v.length > DNS1123_LABEL_MAX) errs.push(maxLenError(DNS1123_LABEL_MAX));
  if (!DNS1035_LABEL_RE.test(v))
    errs.push(regexError(DNS1035_LABEL_MSG, DNS1035_LABEL_FMT, "my-name", "abc-123"));
  return errs;
}

export function isWildcardDNS1123Subdomain(v: string): string[] {
  const errs: string[] = [];
  if (v.length > DNS1123_SUBDOMAIN_MAX) errs.push(maxLenError(DNS1123_SUBDOMAIN_MAX));
  if (!WILDCARD_SUBDOMAIN_RE.test(v))
    errs.push(regexError(WILDCARD_SUBDOMAIN_MSG, WILDCARD_SUBDOMAIN_FMT, "*.example.com"));
  return errs;
}

/** a name used as a generateName prefix may end in '-' (upstream masks a trailing dash) */
function maskTrailingDash(name: string): string {
  return name.length > 1 && name.endsWith("-") ? name.slice(0, -2) + "a" : name;
}

export type NameValidator = (name: string, prefix: boolean) => string[];

export const nameIsDNSSubdomain: NameValidator = (name, prefix) =>
  isDNS1123Subdomain(prefix ? maskTrailingDash(name) : name);
export const nameIsDNSLabel: NameValidator = (name, prefix) =>
  isDNS1123Label(prefix ? maskTrailingDash(name) : name);
export const nameIsDNS1035Label: NameValidator = (name, prefix) =>
  isDNS1035Label(prefix ? maskTrailingDash(name) : name);
/** names that only have to be usable as a URL path segment (RBAC objects) */
export const nameIsPathSegment: NameValidator = (name, prefix) => isValidPathSegmentName(name, prefix);

/** path.IsValidPathSegmentName / IsValidPathSegmentPrefix */
export function isValidPathSegmentName(name: string, prefix = false): string[] {
  const errs: string[] = [];
  if (!prefix) {
    if (name === ".") return ["may not be '.'"];
    if (name === "..") return ["may not be '..'"];
  }
  if (name.includes("/")) errs.push("may not contain '/'");
  if (name.includes("%")) errs.push("may not contain '%'");
  return errs;
}

// ---------------------------------------------------------------------------------------
// qualified names, labels, annotations

const QUALIFIED_NAME_CHAR_FMT = "[A-Za-z0-9]";
const QUALIFIED_NAME_EXT_CHAR_FMT = "[-A-Za-z0-9_.]";
const QUALIFIED_NAME_FMT = `(${QUALIFIED_NAME_CHAR_FMT}${QUALIFIED_NAME_EXT_CHAR_FMT}*)?${QUALIFIED_NAME_CHAR_FMT}`;
const QUALIFIED_NAME_RE = new RegExp(`^${QUALIFIED_NAME_FMT}$`);
const QUALIFIED_NAME_MSG =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const QUALIFIED_NAME_MAX = 63;

const LABEL_VALUE_FMT = `(${QUALIFIED_NAME_FMT})?`;
const LABEL_VALUE_RE = new RegExp(`^${LABEL_VALUE_FMT}$`);
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_MAX = 63;

/** validation.IsQualifiedName: "[prefix/]name" where prefix is a DNS-1123 subdomain */
export function isQualifiedName(v: string): string[] {
  const errs: string[] = [];
  const parts = v.split("/");
  let name: string;
  if (parts.length === 1) {
    name = parts[0]!;
  } else if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix.length === 0) errs.push("prefix part " + emptyError());
    else for (const m of isDNS1123Subdomain(prefix)) errs.push("prefix part " + m);
  } else {
    return [
      "a qualified name " +
        regexError(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc") +
        " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name.length === 0) errs.push("name part " + emptyError());
  else if (name.length > QUALIFIED_NAME_MAX) errs.push("name part " + maxLenError(QUALIFIED_NAME_MAX));
  if (!QUALIFIED_NAME_RE.test(name))
    errs.push(
      "name part " + regexError(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc"),
    );
  return errs;
}

export function isValidLabelValue(v: string): string[] {
  const errs: string[] = [];
  if (v.length > LABEL_VALUE_MAX) errs.push(maxLenError(LABEL_VALUE_MAX));
  if (!LABEL_VALUE_RE.test(v))
    errs.push(regexError(LABEL_VALUE_MSG, LABEL_VALUE_FMT, "MyValue", "my_value", "12345"));
  return errs;
}

/** metav1validation.ValidateLabels: keys are qualified names, values label values */
export function validateLabels(labels: unknown, field: string): StatusCause[] {
  const out: StatusCause[] = [];
  if (labels === undefined || labels === null) return out;
  if (typeof labels !== "object" || Array.isArray(labels))
    return [fieldInvalid(field, labels, "must be a map of string keys to string values")];
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    out.push(...invalidEach(field, k, isQualifiedName(k)));
    if (typeof v !== "string") out.push(fieldInvalid(field, v, "label values must be strings"));
    else out.push(...invalidEach(field, v, isValidLabelValue(v)));
  }
  return out;
}

export const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;

/** apimachinery ValidateAnnotations: lower-cased keys are qualified names, total size at most 256 KiB */
export function validateAnnotations(annotations: unknown, field: string): StatusCause[] {
  const out: StatusCause[] = [];
  if (annotations === undefined || annotations === null) return out;
  if (typeof annotations !== "object" || Array.isArray(annotations))
    return [fieldInvalid(field, annotations, "must be a map of string keys to string values")];
  let size = 0;
  for (const [k, v] of Object.entries(annotations as Record<string, unknown>)) {
    out.push(...invalidEach(field, k, isQualifiedName(k.toLowerCase())));
    size += Buffer.byteLength(k) + Buffer.byteLength(typeof v === "string" ? v : JSON.stringify(v ?? ""));
  }
  if (size > TOTAL_ANNOTATION_SIZE_LIMIT) out.push(fieldTooLong(field, TOTAL_ANNOTATION_SIZE_LIMIT));
  return out;
}

// ---------------------------------------------------------------------------------------
// ConfigMap / Secret keys, env var names, domain-prefixed paths

const CONFIG_MAP_KEY_FMT = "[-._a-zA-Z0-9]+";
const CONFIG_MAP_KEY_RE = new RegExp(`^${CONFIG_MAP_KEY_FMT}$`);
const CONFIG_MAP_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";

export function isConfigMapKey(v: string): string[] {
  const errs: string[] = [];
  if (v.length > DNS1123_SUBDOMAIN_MAX) errs.push(maxLenError(DNS1123_SUBDOMAIN_MAX));
  if (!CONFIG_MAP_KEY_RE.test(v))
    errs.push(regexError(CONFIG_MAP_KEY_MSG, CONFIG_MAP_KEY_FMT, "key.name", "KEY_NAME", "key-name"));
  if (v === ".") errs.push("must not be '.'");
  else if (v === "..") errs.push("must not be '..'");
  else if (v.startsWith("..")) errs.push("must not start with '..'");
  return errs;
}

/** relaxed environment variable names (GA upstream): printable ASCII except '=' */
export function isEnvVarName(v: string): string[] {
  if (v.length === 0) return [emptyError()];
  if (!/^[\x20-\x3c\x3e-\x7e]+$/.test(v))
    return [
      "a valid environment variable name must consist only of printable ASCII characters other than '='",
    ];
  return [];
}

const HTTP_PATH_RE = /^[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/;

/** validation.IsDomainPrefixedPath: "example.com/path" */
export function isDomainPrefixedPath(v: string): string[] {
  const i = v.indexOf("/");
  if (i < 0 || i === v.length - 1) return ['must be a domain-prefixed path (such as "acme.io/foo")'];
  const host = v.slice(0, i);
  const path = v.slice(i);
  const errs = isDNS1123Subdomain(host).map((m) => m);
  if (!HTTP_PATH_RE.test(path))
    errs.push(regexError("must be a valid HTTP path", "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+"));
  return errs;
}

// ---------------------------------------------------------------------------------------
// ports

export function isValidPortNum(port: unknown): string[] {
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535)
    return [inclusiveRangeError(1, 65535)];
  return [];
}

/** IANA_SVC_NAME: at most 15 characters, [-a-z0-9], at least one letter, no '--', no leading or trailing '-' */
export function isValidPortName(port: string): string[] {
  const errs: string[] = [];
  if (port.length > 15) errs.push(maxLenError(15));
  if (!/^[-a-z0-9]+$/.test(port))
    errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  if (!/[a-z]/.test(port)) errs.push("must contain at least one letter (a-z)");
  if (port.includes("--")) errs.push("must not contain consecutive hyphens");
  if (port.startsWith("-") || port.endsWith("-")) errs.push("must not begin or end with a hyphen");
  return errs;
}

/** an IntOrString port: a number in 1..65535 or an IANA service name */
export function validatePortNumOrName(v: unknown, field: string): StatusCause[] {
  if (typeof v === "number") return invalidEach(field, v, isValidPortNum(v));
  if (typeof v === "string") {
    if (v === "") return [fieldInvalid(field, v, "must contain at least one letter or number (a-z, 0-9)")];
    return invalidEach(field, v, isValidPortName(v));
  }
  return [fieldInvalid(field, v, "must be an integer or a string")];
}

// ---------------------------------------------------------------------------------------
// IP addresses and CIDRs

const IP_MSG = "must be a valid IP address (e.g. 10.9.8.7 or 2001:db8::ffff)";

export function ipFamilyOf(v: string): 4 | 6 | undefined {
  if (isIPv4(v)) return 4;
  if (isIPv6(v) && !v.includes("%")) return 6;
  return undefined;
}

export function isValidIP(v: string): string[] {
  return ipFamilyOf(v) ? [] : [IP_MSG];
}

export function isValidIPv4Address(v: string): string[] {
  return ipFamilyOf(v) === 4 ? [] : ["must be a valid IPv4 address"];
}

export function isValidIPv6Address(v: string): string[] {
  return ipFamilyOf(v) === 6 ? [] : ["must be a valid IPv6 address"];
}

export function isValidCIDR(v: string): string[] {
  const msg = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";
  const slash = v.indexOf("/");
  if (slash < 0) return [msg];
  const ip = v.slice(0, slash);
  const bits = v.slice(slash + 1);
  const fam = ipFamilyOf(ip);
  if (!fam || !/^\d{1,3}$/.test(bits)) return [msg];
  const n = Number(bits);
  if (n > (fam === 4 ? 32 : 128)) return [msg];
  return [];
}

function ipv4Octets(v: string): number[] {
  return v.split(".").map(Number);
}

/** expands an IPv6 address into its 8 groups */
function ipv6Groups(v: string): number[] {
  let s = v;
  // an embedded IPv4 tail becomes two groups
  const lastColon = s.lastIndexOf(":");
  const tail = s.slice(lastColon + 1);
  if (tail.includes(".")) {
    const o = ipv4Octets(tail);
    s = `${s.slice(0, lastColon + 1)}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, rest] = s.split("::") as [string, string | undefined];
  const h = head ? head.split(":") : [];
  const r = rest !== undefined && rest !== "" ? rest.split(":") : [];
  const fill = rest === undefined ? [] : new Array<string>(8 - h.length - r.length).fill("0");
  return [...h, ...fill, ...r].map((g) => Number.parseInt(g, 16));
}

/** ValidateEndpointIP / ValidateNonSpecialIP: IPs that may not be endpoints or external IPs */
export function nonSpecialIPErrors(v: string): string[] {
  const fam = ipFamilyOf(v);
  if (fam === 4) {
    const o = ipv4Octets(v);
    if (o.every((x) => x === 0)) return ["may not be unspecified (0.0.0.0)"];
    if (o[0] === 127) return ["may not be in the loopback range (127.0.0.0/8, ::1/128)"];
    if (o[0] === 169 && o[1] === 254)
      return ["may not be in the link-local range (169.254.0.0/16, fe80::/10)"];
    if (o[0] === 224 && o[1] === 0 && o[2] === 0)
      return ["may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"];
    return [];
  }
  if (fam === 6) {
    const g = ipv6Groups(v);
    if (g.every((x) => x === 0)) return ["may not be unspecified (::)"];
    if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1)
      return ["may not be in the loopback range (127.0.0.0/8, ::1/128)"];
    // IPv4-mapped addresses follow the IPv4 rules
    if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
      const mapped = `${g[6]! >> 8}.${g[6]! & 0xff}.${g[7]! >> 8}.${g[7]! & 0xff}`;
      return nonSpecialIPErrors(mapped);
    }
    if ((g[0]! & 0xffc0) === 0xfe80)
      return ["may not be in the link-local range (169.254.0.0/16, fe80::/10)"];
    if (g[0] === 0xff02) return ["may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"];
    return [];
  }
  return [];
}

// ---------------------------------------------------------------------------------------
// resource.Quantity

export const QUANTITY_FMT = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$";
export const QUANTITY_ERROR = `quantities must match the regular expression '${QUANTITY_FMT}'`;

const QUANTITY_RE =
  /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$/;

const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL_EXP: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  "": 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

/**
 * Parses a resource.Quantity ("100m", "1.5Gi", "2e3", 4) into its value in base units
 * (cores, bytes, ...). Throws an Error with upstream's message for malformed input.
 */
export function parseQuantity(q: string | number): number {
  if (typeof q === "number") {
    if (!Number.isFinite(q)) throw new Error(QUANTITY_ERROR);
    return q;
  }
  const s = q.trim();
  const m = QUANTITY_RE.exec(s);
  if (!m) throw new Error(QUANTITY_ERROR);
  const num = Number(m[1]);
  const suffix = m[2] ?? "";
  if (suffix in BINARY) return num * BINARY[suffix]!;
  let exp: number;
  if (suffix in DECIMAL_EXP) exp = DECIMAL_EXP[suffix]!;
  else exp = Number(suffix.slice(1));
  // divide for negative exponents: 100 / 1000 is exactly 0.1, 100 * 0.001 is not
  return exp < 0 ? num / 10 ** -exp : num * 10 ** exp;
}

/** parseQuantity without the throw */
export function tryParseQuantity(q: unknown): number | undefined {
  if (typeof q !== "string" && typeof q !== "number") return undefined;
  try {
    return parseQuantity(q);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------
// small structural helpers used by validation and defaulting

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function asObj(v: unknown): Obj {
  return isObj(v) ? v : {};
}

export function asArr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function asStr(v: unknown): string {
  return typeof v === "string" ? v : "";
}

/** a deep equality on JSON values, key order insensitive */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return false;
}
