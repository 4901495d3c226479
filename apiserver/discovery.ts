/**
 * API discovery: the legacy documents (/api, /apis, per group and group-version) and
 * aggregated discovery (apidiscovery.k8s.io/v2), built from the resource table plus the
 * groups that APIServices bring in through aggregation.
 */
import { apiVersionOf, groupVersions, RESOURCES, type ResourceInfo } from "../api/resources.js";

export interface AggregatedGroupVersion {
  group: string;
  version: string;
  groupPriorityMinimum: number;
  versionPriority: number;
  /** the backend's APIResourceList, when it could be fetched */
  resources?: APIResource[];
}

export interface APIResource {
  name: string;
  singularName: string;
  namespaced: boolean;
  kind: string;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
  group?: string;
  version?: string;
}

function builtinGroups(): { group: string; versions: string[] }[] {
  return [...groupVersions().entries()]
    .filter(([g]) => g !== "")
    .map(([group, versions]) => ({ group, versions }));
}

function resourcesOf(group: string, version: string): ResourceInfo[] {
  return RESOURCES.filter((r) => r.group === group && r.version === version);
}

export function apiVersions(serverAddress: string): object {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

function groupDoc(group: string, versions: string[]): object {
  const list = versions.map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
  return { name: group, versions: list, preferredVersion: list[0] };
}

/** aggregated groups ordered like kube-aggregator: by groupPriorityMinimum, then name */
function aggregatedGroups(aggregated: AggregatedGroupVersion[]): { group: string; versions: string[] }[] {
  const byGroup = new Map<string, AggregatedGroupVersion[]>();
  for (const a of aggregated) byGroup.set(a.group, [...(byGroup.get(a.group) ?? []), a]);
  return [...byGroup.entries()]
    .sort(
      ([ga, a], [gb, b]) =>
        Math.max(...b.map((x) => x.groupPriorityMinimum)) -
          Math.max(...a.map((x) => x.groupPriorityMinimum)) || ga.localeCompare(gb),
    )
    .map(([group, list]) => ({
      group,
      versions: list.sort((a, b) => b.versionPriority - a.versionPriority).map((x) => x.version),
    }));
}

export function apiGroupList(aggregated: AggregatedGroupVersion[]): object {
  const builtin = builtinGroups();
  const known = new Set(builtin.map((g) => g.group));
  const extra = aggregatedGroups(aggregated).filter((g) => !known.has(g.group));
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: [...builtin, ...extra].map((g) => groupDoc(g.group, g.versions)),
  };
}

export function apiGroup(group: string, aggregated: AggregatedGroupVersion[]): object | undefined {
  const builtin = builtinGroups().find((g) => g.group === group);
  const agg = aggregatedGroups(aggregated).find((g) => g.group === group);
  const versions = builtin?.versions ?? agg?.versions;
  if (!versions) return undefined;
  return { kind: "APIGroup", apiVersion: "v1", ...groupDoc(group, versions) };
}

export function apiResources(info: ResourceInfo): APIResource[] {
  const main: APIResource = {
    name: info.resource,
    singularName: info.singular,
    namespaced: info.namespaced,
    kind: info.kind,
    verbs: [...info.verbs],
    ...(info.shortNames ? { shortNames: info.shortNames } : {}),
    ...(info.categories ? { categories: info.categories } : {}),
  };
  const subs = (info.subresources ?? []).map((s) => ({
    name: `${info.resource}/${s.name}`,
    singularName: "",
    namespaced: info.namespaced,
    kind: s.kind,
    verbs: [...s.verbs],
    ...(s.group !== undefined ? { group: s.group, version: s.version } : {}),
  }));
  return [main, ...subs];
}

/** the APIResourceList of a built-in group-version, or undefined when not served */
export function apiResourceList(group: string, version: string): object | undefined {
  const list = resourcesOf(group, version);
  if (!list.length) return undefined;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: apiVersionOf({ group, version }),
    resources: list.flatMap(apiResources),
  };
}

export const AGGREGATED_DISCOVERY_TYPE =
  "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
const AGGREGATED_V2BETA1_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

/** which aggregated discovery version the client asked for, if any */
export function wantsAggregated(accept: string | undefined): "v2" | "v2beta1" | undefined {
  if (!accept) return undefined;
  for (const part of accept.split(",")) {
    const params = part.split(";").map((s) => s.trim());
    if (params[0] !== "application/json") continue;
    const p = Object.fromEntries(params.slice(1).map((x) => x.split("=") as [string, string]));
    if (
      p.g === "apidiscovery.k8s.io" &&
      p.as === "APIGroupDiscoveryList" &&
      (p.v === "v2" || p.v === "v2beta1")
    )
      return p.v;
    if (!p.g) return undefined;
  }
  return undefined;
}

export function aggregatedContentType(v: "v2" | "v2beta1"): string {
  return v === "v2" ? AGGREGATED_DISCOVERY_TYPE : AGGREGATED_V2BETA1_TYPE;
}

function discoveryResource(group: string, version: string, r: APIResource, subs: APIResource[]): object {
  return {
    resource: r.name,
    responseKind: { group: r.group ?? group, version: r.version ?? version, kind: r.kind },
    scope: r.namespaced ? "Namespaced" : "Cluster",
    singularResource: r.singularName,
    verbs: r.verbs,
    ...(r.shortNames ? { shortNames: r.shortNames } : {}),
    ...(r.categories ? { categories: r.categories } : {}),
    ...(subs.length
      ? {
          subresources: subs.map((s) => ({
            subresource: s.name.split("/")[1],
            responseKind: { group: s.group ?? group, version: s.version ?? version, kind: s.kind },
            verbs: s.verbs,
          })),
        }
      : {}),
  };
}

function discoveryVersion(group: string, version: string, resources: APIResource[] | undefined): object {
  if (!resources) return { version, resources: [], freshness: "Stale" };
  const mains = resources.filter((r) => !r.name.includes("/"));
  return {
    version,
    resources: mains.map((m) =>
      discoveryResource(
        group,
        version,
        m,
        resources.filter((s) => s.name.startsWith(`${m.name}/`)),
      ),
    ),
    freshness: "Current",
  };
}

/** aggregated discovery for /api (core only) or /apis (everything else) */
export function aggregatedDiscovery(
  path: "/api" | "/apis",
  aggregated: AggregatedGroupVersion[],
  v: "v2" | "v2beta1",
): object {
  const groups: { group: string; versions: { version: string; resources: APIResource[] | undefined }[] }[] =
    [];
  if (path === "/api") {
    groups.push({
      group: "",
      versions: [{ version: "v1", resources: resourcesOf("", "v1").flatMap(apiResources) }],
    });
  } else {
    for (const g of builtinGroups()) {
      groups.push({
        group: g.group,
        versions: g.versions.map((ver) => ({
          version: ver,
          resources: resourcesOf(g.group, ver).flatMap(apiResources),
        })),
      });
    }
    const known = new Set(groups.map((g) => g.group));
    for (const g of aggregatedGroups(aggregated)) {
      if (known.has(g.group)) continue;
      groups.push({
        group: g.group,
        versions: g.versions.map((ver) => ({
          version: ver,
          resources: aggregated.find((a) => a.group === g.group && a.version === ver)?.resources,
        })),
      });
    }
  }
  return {
    kind: "APIGroupDiscoveryList",
    apiVersion: `apidiscovery.k8s.io/${v}`,
    metadata: {},
    items: groups.map((g) => ({
      metadata: { name: g.group, creationTimestamp: null },
      versions: g.versions.map((x) => discoveryVersion(g.group, x.version, x.resources)),
    })),
  };
}
