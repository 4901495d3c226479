/**
 * Turns a request path into what it addresses, like kube-apiserver's RequestInfo:
 * /api/v1/namespaces/default/pods/web/status → {group "", version v1, namespace default,
 * resource pods, name web, subresource status}.
 */

export interface RequestInfo {
  isResourceRequest: boolean;
  path: string;
  verb: string;
  /** "api" or "apis" for resource requests */
  prefix?: "api" | "apis";
  group: string;
  version: string;
  namespace?: string;
  resource?: string;
  name?: string;
  subresource?: string;
  /** path segments below the group/version, for non-resource handling (discovery) */
  parts: string[];
}

const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);

export function requestInfo(method: string, path: string, query: URLSearchParams): RequestInfo {
  const segments = path.split("/").filter(Boolean);
  const base: RequestInfo = {
    isResourceRequest: false,
    path,
    verb: method.toLowerCase(),
    group: "",
    version: "",
    parts: [],
  };
  const prefix = segments[0];
  if (prefix !== "api" && prefix !== "apis") return base;
  let rest: string[];
  let group = "";
  let version = "";
  if (prefix === "api") {
    if (segments.length < 2) return { ...base, prefix, parts: [] };
    version = segments[1]!;
    rest = segments.slice(2);
  } else {
    if (segments.length < 3) return { ...base, prefix, group: segments[1] ?? "", parts: [] };
    group = segments[1]!;
    version = segments[2]!;
    rest = segments.slice(3);
  }
  const info: RequestInfo = { ...base, prefix, group, version, parts: rest };
  if (rest.length === 0) return info;

  let verbOverride: string | undefined;
  let parts = rest;
  if (parts[0] === "watch") {
    verbOverride = "watch";
    parts = parts.slice(1);
  }
  if (parts[0] === "namespaces" && parts.length > 1) {
    info.namespace = parts[1];
    if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2]!)) parts = parts.slice(2);
  }
  info.isResourceRequest = true;
  info.resource = parts[0];
  info.name = parts[1];
  info.subresource = parts[2];
  if (parts.length > 3) info.subresource = parts.slice(2).join("/");

  const m = method.toUpperCase();
  let verb: string;
  if (verbOverride) verb = verbOverride;
  else if (m === "GET" || m === "HEAD") {
    const watch = query.get("watch");
    if (info.name === undefined) verb = queryBool(watch) ? "watch" : "list";
    else verb = "get";
  } else if (m === "POST") verb = "create";
  else if (m === "PUT") verb = "update";
  else if (m === "PATCH") verb = "patch";
  else if (m === "DELETE") verb = info.name === undefined ? "deletecollection" : "delete";
  else verb = m.toLowerCase();
  info.verb = verb;
  return info;
}

/** Go's strconv.ParseBool, which query parameters follow upstream ("True", "t", "1", ...) */
export function queryBool(v: string | null): boolean {
  return v !== null && ["1", "t", "T", "TRUE", "true", "True"].includes(v);
}
