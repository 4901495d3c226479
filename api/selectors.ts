/**
 * Label and field selectors with the grammar and semantics of k8s.io/apimachinery's
 * labels and fields packages: parsing (`?labelSelector=`, `?fieldSelector=`), matching,
 * metav1.LabelSelector conversion, and the per-kind field sets the apiserver can filter on.
 */

import { isPlainObject, type KubeObject } from "./object.js";
import { errors } from "./status.js";

// ---------------------------------------------------------------------------------------
// label selectors

export type LabelOperator = "=" | "==" | "!=" | "in" | "notin" | "exists" | "!" | ">" | "<";

export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  /** sorted and deduplicated; empty for exists / does-not-exist */
  values: string[];
}

/** metav1.LabelSelector */
export interface LabelSelectorObject {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

const NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const NAME_PART_MSG =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const SUBDOMAIN_MSG =
  "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/** Problems with a qualified name (label key), empty when valid: validation.IsQualifiedName. */
export function qualifiedNameErrors(key: string): string[] {
  const parts = key.split("/");
  let name: string;
  const errs: string[] = [];
  if (parts.length === 1) {
    name = parts[0]!;
  } else if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix.length === 0) errs.push("prefix part must be non-empty");
    else if (prefix.length > 253) errs.push("prefix part must be no more than 253 characters");
    else if (!DNS1123_SUBDOMAIN.test(prefix)) errs.push(SUBDOMAIN_MSG);
  } else {
    return [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name.length === 0) errs.push("name part must be non-empty");
  else if (name.length > 63) errs.push("name part must be no more than 63 characters");
  if (name.length > 0 && !NAME_PART.test(name)) errs.push(NAME_PART_MSG);
  return errs;
}

/** Problems with a label value, empty when valid: validation.IsValidLabelValue. */
export function labelValueErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push("must be no more than 63 characters");
  if (!LABEL_VALUE.test(value)) errs.push(VALUE_MSG);
  return errs;
}

function invalidValue(field: string, value: string, msgs: string[]): string {
  return `${field}: Invalid value: ${JSON.stringify(value)}: ${msgs.join("; ")}`;
}

/** Builds one requirement, validating it like labels.NewRequirement; throws a 400 StatusError. */
export function newRequirement(
  key: string,
  operator: LabelOperator,
  values: readonly string[],
): LabelRequirement {
  const keyErrs = qualifiedNameErrors(key);
  if (keyErrs.length > 0) throw errors.badRequest(invalidValue("key", key, keyErrs));
  const uniq = [...new Set(values)].sort();
  switch (operator) {
    case "in":
    case "notin":
      if (values.length === 0)
        throw errors.badRequest(
          `values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty`,
        );
      break;
    case "=":
    case "==":
    case "!=":
      if (values.length !== 1)
        throw errors.badRequest(
          `values: Invalid value: ${JSON.stringify(values)}: exact-match compatibility requires one single value`,
        );
      break;
    case "exists":
    case "!":
      if (values.length !== 0)
        throw errors.badRequest(
          `values: Invalid value: ${JSON.stringify(values)}: values set must be empty for exists and does not exist`,
        );
      break;
    case ">":
    case "<":
      if (values.length !== 1)
        throw errors.badRequest(
          `values: Invalid value: ${JSON.stringify(values)}: for 'Gt', 'Lt' operators, exactly one value is required`,
        );
      if (!/^[-+]?\d+$/.test(values[0]!))
        throw errors.badRequest(
          `values[0]: Invalid value: ${JSON.stringify(values[0])}: for 'Gt', 'Lt' operators, the value must be an integer`,
        );
      break;
  }
  if (operator !== ">" && operator !== "<") {
    uniq.forEach((v, i) => {
      const errs = labelValueErrors(v);
      if (errs.length > 0) throw errors.badRequest(invalidValue(`values[${i}][${key}]`, v, errs));
    });
  }
  return { key, operator, values: uniq };
}

type TokenType =
  | "id"
  | "eos"
  | "("
  | ")"
  | ","
  | "!"
  | "!="
  | "="
  | "=="
  | ">"
  | "<"
  | "in"
  | "notin"
  | "error";

interface Token {
  type: TokenType;
  lit: string;
}

const SPECIAL = new Set(["=", "!", "(", ")", ",", ">", "<"]);
const SYMBOLS: Record<string, TokenType> = {
  "(": "(",
  ")": ")",
  ",": ",",
  "!": "!",
  "!=": "!=",
  "=": "=",
  "==": "==",
  ">": ">",
  "<": "<",
};

function isWhitespace(ch: string): boolean {
  return ch === " " || ch === "\t" || ch === "\r" || ch === "\n";
}

function lex(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const ch = s[i]!;
    if (isWhitespace(ch)) {
      i++;
      continue;
    }
    if (SPECIAL.has(ch)) {
      // longest symbol match: "!=" and "==" before "!" and "="
      const two = s.slice(i, i + 2);
      if (SYMBOLS[two] !== undefined) {
        out.push({ type: SYMBOLS[two]!, lit: two });
        i += 2;
      } else {
        out.push({ type: SYMBOLS[ch]!, lit: ch });
        i++;
      }
      continue;
    }
    let j = i;
    while (j < s.length && !isWhitespace(s[j]!) && !SPECIAL.has(s[j]!)) j++;
    const word = s.slice(i, j);
    out.push({ type: word === "in" ? "in" : word === "notin" ? "notin" : "id", lit: word });
    i = j;
  }
  out.push({ type: "eos", lit: "" });
  return out;
}

class LabelParser {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.pos]!;
  }
  private next(): Token {
    const t = this.tokens[this.pos]!;
    if (this.pos < this.tokens.length - 1) this.pos++;
    return t;
  }
  private fail(msg: string): never {
    throw errors.badRequest(`unable to parse requirement: ${msg}`);
  }

  parse(): LabelRequirement[] {
    const reqs: LabelRequirement[] = [];
    for (;;) {
      const t = this.peek();
      switch (t.type) {
        case "eos":
          return reqs;
        case "id":
        case "!": {
          reqs.push(this.requirement());
          const after = this.next();
          if (after.type === "eos") return reqs;
          if (after.type !== ",") this.fail(`found '${after.lit}', expected: ',' or 'end of string'`);
          if (this.peek().type === "eos") this.fail(`found '', expected: identifier after ','`);
          break;
        }
        default:
          this.fail(`found '${t.lit}', expected: !, identifier, or 'end of string'`);
      }
    }
  }

  private requirement(): LabelRequirement {
    let op: LabelOperator | undefined;
    let t = this.next();
    if (t.type === "!") {
      op = "!";
      t = this.next();
    }
    // a key may be spelled like a keyword ("in"); treat it as an identifier here
    if (t.type !== "id" && t.type !== "in" && t.type !== "notin") {
      this.fail(`found '${t.lit}', expected: identifier`);
    }
    const key = t.lit;
    const keyErrs = qualifiedNameErrors(key);
    if (keyErrs.length > 0) throw errors.badRequest(invalidValue("key", key, keyErrs));
    const following = this.peek().type;
    if (following === "eos" || following === ",") {
      return newRequirement(key, op ?? "exists", []);
    }
    if (op === "!") this.fail(`found '${this.peek().lit}', expected: ',' or 'end of string'`);
    const opTok = this.next();
    switch (opTok.type) {
      case "in":
      case "notin":
        return newRequirement(key, opTok.type, this.valueSet());
      case "=":
      case "==":
      case "!=":
      case ">":
      case "<":
        return newRequirement(key, opTok.type, [this.exactValue()]);
      default:
        this.fail(`found '${opTok.lit}', expected: in, notin, =, ==, !=, gt, lt`);
    }
  }

  private exactValue(): string {
    const t = this.peek();
    if (t.type === "eos" || t.type === ",") return "";
    this.next();
    if (t.type === "id" || t.type === "in" || t.type === "notin") return t.lit;
    this.fail(`found '${t.lit}', expected: identifier`);
  }

  private valueSet(): string[] {
    const open = this.next();
    if (open.type !== "(") this.fail(`found '${open.lit}', expected: '('`);
    const values: string[] = [];
    let expectValue = true;
    for (;;) {
      const t = this.next();
      if (t.type === "id" || t.type === "in" || t.type === "notin") {
        if (!expectValue) this.fail(`found '${t.lit}', expected: ',' or ')'`);
        values.push(t.lit);
        expectValue = false;
      } else if (t.type === ",") {
        if (expectValue) values.push("");
        expectValue = true;
      } else if (t.type === ")") {
        // "()" is the set {""}, "(a,)" is {a, ""}
        if (expectValue) values.push("");
        return values;
      } else {
        this.fail(`found '${t.lit}', expected: ',', ')' or identifier`);
      }
    }
  }
}

/** Parses a `labelSelector` query value; throws a 400 StatusError. Requirements come out sorted by key. */
export function parseLabelSelector(s: string): LabelRequirement[] {
  const reqs = new LabelParser(lex(s)).parse();
  return sortByKey(reqs);
}

function sortByKey(reqs: LabelRequirement[]): LabelRequirement[] {
  // stable: same-key requirements keep their order
  return reqs
    .map((r, i) => ({ r, i }))
    .sort((a, b) => (a.r.key < b.r.key ? -1 : a.r.key > b.r.key ? 1 : a.i - b.i))
    .map((x) => x.r);
}

function parseInteger(s: string): bigint | undefined {
  if (!/^[-+]?\d+$/.test(s)) return undefined;
  try {
    return BigInt(s);
  } catch {
    return undefined;
  }
}

/** Whether one requirement matches a label set. */
export function requirementMatches(r: LabelRequirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = has ? labels[r.key]! : undefined;
  switch (r.operator) {
    case "=":
    case "==":
    case "in":
      return value !== undefined && r.values.includes(value);
    case "!=":
    case "notin":
      return value === undefined || !r.values.includes(value);
    case "exists":
      return has;
    case "!":
      return !has;
    case ">":
    case "<": {
      if (value === undefined) return false;
      const lv = parseInteger(value);
      const rv = parseInteger(r.values[0] ?? "");
      if (lv === undefined || rv === undefined) return false;
      return r.operator === ">" ? lv > rv : lv < rv;
    }
  }
}

/**
 * Whether every requirement matches. `null` is the selector that matches nothing (a nil
 * metav1.LabelSelector); an empty list matches everything.
 */
export function matchesLabels(
  reqs: readonly LabelRequirement[] | null,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  if (reqs === null) return false;
  const set = labels ?? {};
  return reqs.every((r) => requirementMatches(r, set));
}

/** metav1.LabelSelector → requirements (LabelSelectorAsSelector). undefined/null → null (matches nothing). */
export function labelSelectorFromObject(
  sel: LabelSelectorObject | null | undefined,
): LabelRequirement[] | null {
  if (sel === null || sel === undefined) return null;
  const reqs: LabelRequirement[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) reqs.push(newRequirement(k, "=", [v]));
  for (const expr of sel.matchExpressions ?? []) {
    const values = expr.values ?? [];
    switch (expr.operator) {
      case "In":
        reqs.push(newRequirement(expr.key, "in", values));
        break;
      case "NotIn":
        reqs.push(newRequirement(expr.key, "notin", values));
        break;
      case "Exists":
        reqs.push(newRequirement(expr.key, "exists", values));
        break;
      case "DoesNotExist":
        reqs.push(newRequirement(expr.key, "!", values));
        break;
      default:
        throw errors.badRequest(`${JSON.stringify(expr.operator)} is not a valid label selector operator`);
    }
  }
  return sortByKey(reqs);
}

/** One requirement in selector syntax. */
export function requirementToString(r: LabelRequirement): string {
  switch (r.operator) {
    case "exists":
      return r.key;
    case "!":
      return `!${r.key}`;
    case "in":
    case "notin":
      return `${r.key} ${r.operator} (${r.values.join(",")})`;
    default:
      return `${r.key}${r.operator}${r.values[0] ?? ""}`;
  }
}

/** Requirements in selector syntax; null (nothing) and [] (everything) both print as "". */
export function selectorToString(reqs: readonly LabelRequirement[] | null): string {
  if (reqs === null) return "";
  return reqs.map(requirementToString).join(",");
}

/** metav1.FormatLabelSelector: "<none>" for empty, "<error>" for an invalid selector. */
export function formatLabelSelector(sel: LabelSelectorObject | null | undefined): string {
  let s: string;
  try {
    s = selectorToString(labelSelectorFromObject(sel));
  } catch {
    return "<error>";
  }
  return s === "" ? "<none>" : s;
}

/** labels.FormatLabels: sorted "k=v,k2=v2", "<none>" when empty. */
export function formatLabels(labels: Readonly<Record<string, string>> | undefined | null): string {
  const keys = Object.keys(labels ?? {}).sort();
  if (keys.length === 0) return "<none>";
  return keys.map((k) => `${k}=${labels![k]}`).join(",");
}

// ---------------------------------------------------------------------------------------
// field selectors

export type FieldOperator = "=" | "==" | "!=";

export interface FieldRequirement {
  field: string;
  operator: FieldOperator;
  value: string;
}

/** Splits on separators not preceded by a backslash escape. */
function splitUnescaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === "\\" && i + 1 < s.length) {
      cur += ch + s[i + 1];
      i++;
    } else if (ch === sep) {
      out.push(cur);
      cur = "";
    } else {
      cur += ch;
    }
  }
  out.push(cur);
  return out;
}

function unescapeFieldValue(v: string, selector: string): string {
  let out = "";
  for (let i = 0; i < v.length; i++) {
    const ch = v[i]!;
    if (ch === "\\") {
      const nx = v[i + 1];
      if (nx === "\\" || nx === "," || nx === "=") {
        out += nx;
        i++;
        continue;
      }
      throw errors.badRequest(
        `invalid field selector: '${selector}': invalid escape sequence: ${nx === undefined ? "\\" : "\\" + nx}`,
      );
    }
    if (ch === "," || ch === "=") {
      throw errors.badRequest(`invalid field selector: '${selector}': unescaped ${ch} in value`);
    }
    out += ch;
  }
  return out;
}

/** Escapes a value for use in a field selector string. */
export function escapeFieldValue(v: string): string {
  return v.replace(/[\\,=]/g, (c) => "\\" + c);
}

/** Parses a `fieldSelector` query value (`a=b,c!=d`, `==` allowed); throws a 400 StatusError. */
export function parseFieldSelector(s: string): FieldRequirement[] {
  const out: FieldRequirement[] = [];
  if (s.trim() === "") return out;
  for (const part of splitUnescaped(s, ",")) {
    if (part === "") continue;
    let found = false;
    for (const op of ["!=", "==", "="] as const) {
      const at = indexOfUnescaped(part, op);
      if (at >= 0) {
        const field = part.slice(0, at).trim();
        const value = unescapeFieldValue(part.slice(at + op.length), s);
        if (field === "") throw errors.badRequest(`invalid selector: '${s}'; can't understand '${part}'`);
        out.push({ field, operator: op, value });
        found = true;
        break;
      }
    }
    if (!found) throw errors.badRequest(`invalid selector: '${s}'; can't understand '${part}'`);
  }
  return out;
}

function indexOfUnescaped(s: string, needle: string): number {
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "\\") {
      i++;
      continue;
    }
    if (s.startsWith(needle, i)) return i;
  }
  return -1;
}

export function fieldSelectorToString(reqs: readonly FieldRequirement[]): string {
  return reqs.map((r) => `${r.field}${r.operator}${escapeFieldValue(r.value)}`).join(",");
}

/** Whether an object's field set satisfies every requirement (absent fields read as ""). */
export function matchesFields(
  reqs: readonly FieldRequirement[],
  fields: Readonly<Record<string, string>>,
): boolean {
  return reqs.every((r) => {
    const v = Object.hasOwn(fields, r.field) ? fields[r.field]! : "";
    return r.operator === "!=" ? v !== r.value : v === r.value;
  });
}

function str(v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return "";
}

function obj(v: unknown): Record<string, unknown> {
  return isPlainObject(v) ? v : {};
}

/**
 * Field labels accepted per kind (the field label conversion functions) and aliases that
 * are rewritten to another label. Keyed by "group/Kind" ("" group for core).
 */
const SUPPORTED: Record<string, { labels: string[]; aliases?: Record<string, string> }> = {
  "/Pod": {
    labels: [
      "metadata.name",
      "metadata.namespace",
      "spec.nodeName",
      "spec.restartPolicy",
      "spec.schedulerName",
      "spec.serviceAccountName",
      "spec.hostNetwork",
      "status.phase",
      "status.podIP",
      "status.podIPs",
      "status.nominatedNodeName",
    ],
    aliases: { "spec.host": "spec.nodeName" },
  },
  "/Node": { labels: ["metadata.name", "spec.unschedulable"] },
  "/Event": {
    labels: [
      "involvedObject.kind",
      "involvedObject.namespace",
      "involvedObject.name",
      "involvedObject.uid",
      "involvedObject.apiVersion",
      "involvedObject.resourceVersion",
      "involvedObject.fieldPath",
      "reason",
      "reportingComponent",
      "source",
      "type",
      "metadata.namespace",
      "metadata.name",
    ],
  },
  "events.k8s.io/Event": {
    labels: ["reason", "type", "metadata.namespace", "metadata.name"],
    aliases: {
      "regarding.kind": "involvedObject.kind",
      "regarding.namespace": "involvedObject.namespace",
      "regarding.name": "involvedObject.name",
      "regarding.uid": "involvedObject.uid",
      "regarding.apiVersion": "involvedObject.apiVersion",
      "regarding.resourceVersion": "involvedObject.resourceVersion",
      "regarding.fieldPath": "involvedObject.fieldPath",
      reportingController: "reportingComponent",
    },
  },
  "/Namespace": { labels: ["status.phase", "metadata.name"] },
  "/Secret": { labels: ["type", "metadata.namespace", "metadata.name"] },
  "/Service": { labels: ["metadata.namespace", "metadata.name", "spec.clusterIP", "spec.type"] },
  "/ReplicationController": { labels: ["metadata.name", "metadata.namespace", "status.replicas"] },
  "apps/ReplicaSet": { labels: ["metadata.name", "metadata.namespace", "status.replicas"] },
};

const DEFAULT_LABELS = ["metadata.name", "metadata.namespace"];

/** The field labels a kind's list/watch can be filtered on (before alias rewriting). */
export function supportedFieldLabels(kind: string, group = ""): string[] {
  const entry = SUPPORTED[`${group}/${kind}`];
  if (!entry) return [...DEFAULT_LABELS];
  return [...entry.labels, ...Object.keys(entry.aliases ?? {})];
}

/**
 * Checks every requirement's field label against what the kind supports and rewrites
 * aliases (Pod spec.host → spec.nodeName; events.k8s.io regarding.* → involvedObject.*).
 * Throws a 400 "field label not supported: <label>" like the apiserver.
 */
export function validateFieldSelector(
  kind: string,
  reqs: readonly FieldRequirement[],
  group = "",
): FieldRequirement[] {
  const entry = SUPPORTED[`${group}/${kind}`];
  const labels = new Set(entry ? entry.labels : DEFAULT_LABELS);
  const aliases = entry?.aliases ?? {};
  return reqs.map((r) => {
    if (labels.has(r.field)) return { ...r };
    const target = aliases[r.field];
    if (target !== undefined) return { ...r, field: target };
    throw errors.badRequest(`field label not supported: ${r.field}`);
  });
}

/**
 * The selectable field set of a stored object (core/v1 form for events), as the
 * apiserver's per-kind GetAttrs builds it. Cluster-scoped kinds carry only metadata.name.
 */
export function fieldsOf(kind: string, o: KubeObject, namespaced = true): Record<string, string> {
  const md = o.metadata ?? {};
  const out: Record<string, string> = { "metadata.name": str(md.name) };
  if (namespaced && kind !== "Node" && kind !== "Namespace") out["metadata.namespace"] = str(md.namespace);
  const spec = obj(o.spec);
  const status = obj(o.status);
  switch (kind) {
    case "Pod": {
      out["spec.nodeName"] = str(spec.nodeName);
      out["spec.restartPolicy"] = str(spec.restartPolicy);
      out["spec.schedulerName"] = str(spec.schedulerName);
      out["spec.serviceAccountName"] = str(spec.serviceAccountName);
      out["spec.hostNetwork"] = spec.hostNetwork === true ? "true" : "false";
      out["status.phase"] = str(status.phase);
      const ips = Array.isArray(status.podIPs) ? status.podIPs : [];
      out["status.podIP"] = ips.length > 0 ? str(obj(ips[0]).ip) : str(status.podIP);
      out["status.nominatedNodeName"] = str(status.nominatedNodeName);
      break;
    }
    case "Node":
      out["spec.unschedulable"] = spec.unschedulable === true ? "true" : "false";
      break;
    case "Namespace":
      out["status.phase"] = str(status.phase);
      break;
    case "Secret":
      out.type = str(o.type);
      break;
    case "Service":
      out["spec.clusterIP"] = str(spec.clusterIP);
      out["spec.type"] = str(spec.type);
      break;
    case "ReplicaSet":
    case "ReplicationController":
      out["status.replicas"] = String(typeof status.replicas === "number" ? status.replicas : 0);
      break;
    case "Event": {
      // accept both the core/v1 form and the events.k8s.io/v1 form
      const io = obj(o.involvedObject ?? o.regarding);
      out["involvedObject.kind"] = str(io.kind);
      out["involvedObject.namespace"] = str(io.namespace);
      out["involvedObject.name"] = str(io.name);
      out["involvedObject.uid"] = str(io.uid);
      out["involvedObject.apiVersion"] = str(io.apiVersion);
      out["involvedObject.resourceVersion"] = str(io.resourceVersion);
      out["involvedObject.fieldPath"] = str(io.fieldPath);
      out.reason = str(o.reason);
      out.reportingComponent = str(o.reportingComponent ?? o.reportingController);
      const source = obj(o.source ?? o.deprecatedSource);
      out.source = str(source.component) || str(o.reportingComponent ?? o.reportingController);
      out.type = str(o.type);
      break;
    }
  }
  return out;
}
