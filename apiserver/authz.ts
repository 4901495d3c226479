/**
 * The authorization hook. Every request is checked with the authenticated (or anonymous)
 * user and what it addresses; RBAC enforcement plugs in here later, allowAll until then.
 */

import { StatusError } from "../api/status.js";
import type { UserInfo } from "./auth.js";

export interface AuthorizationAttributes {
  /** lower-case API verb for resource requests (get, list, watch, create, ...), HTTP verb otherwise */
  verb: string;
  /** "" for the core group */
  group: string;
  version?: string;
  resource: string;
  namespace: string;
  name: string;
  subresource: string;
  path: string;
  /** false for /healthz, /version, discovery and other non-resource paths */
  resourceRequest?: boolean;
}

export interface AuthorizationDecision {
  allowed: boolean;
  reason?: string;
}

export type Authorizer = (user: UserInfo, attributes: AuthorizationAttributes) => AuthorizationDecision;

/** Allows everything (the default until RBAC lands). */
export const allowAll: Authorizer = () => ({ allowed: true });

/** Allows only members of one of the groups (e.g. system:masters). */
export function groupsAuthorizer(groups: readonly string[]): Authorizer {
  const allowed = new Set(groups);
  return (user) =>
    user.groups.some((g) => allowed.has(g))
      ? { allowed: true }
      : { allowed: false, reason: "no RBAC policy matched" };
}

/** The first authorizer that allows wins; reasons of the denials are joined. */
export function unionAuthorizer(...authorizers: Authorizer[]): Authorizer {
  return (user, attrs) => {
    const reasons: string[] = [];
    for (const a of authorizers) {
      const d = a(user, attrs);
      if (d.allowed) return d;
      if (d.reason) reasons.push(d.reason);
    }
    return reasons.length > 0 ? { allowed: false, reason: reasons.join(", ") } : { allowed: false };
  };
}

function isResourceRequest(a: AuthorizationAttributes): boolean {
  return a.resourceRequest ?? a.resource !== "";
}

/** The apiserver's wording: User "x" cannot list resource "pods" in API group "" in the namespace "d". */
export function forbiddenMessage(user: UserInfo, a: AuthorizationAttributes): string {
  if (!isResourceRequest(a))
    return `User ${JSON.stringify(user.name)} cannot ${a.verb} path ${JSON.stringify(a.path)}`;
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const base = `User ${JSON.stringify(user.name)} cannot ${a.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(a.group)}`;
  return a.namespace
    ? `${base} in the namespace ${JSON.stringify(a.namespace)}`
    : `${base} at the cluster scope`;
}

/** The 403 Status for a denied request, worded like kube-apiserver's. */
export function forbiddenError(user: UserInfo, a: AuthorizationAttributes, reason?: string): StatusError {
  let msg = forbiddenMessage(user, a);
  if (reason) msg += `: ${reason}`;
  if (!isResourceRequest(a)) return new StatusError(403, "Forbidden", `forbidden: ${msg}`, {});
  const qualified = a.group ? `${a.resource}.${a.group}` : a.resource;
  const head = a.name ? `${qualified} ${JSON.stringify(a.name)}` : qualified;
  return new StatusError(403, "Forbidden", `${head} is forbidden: ${msg}`, {
    ...(a.name ? { name: a.name } : {}),
    group: a.group,
    kind: a.resource,
  });
}

/** Runs the authorizer and throws the 403 when it denies. */
export function authorize(authorizer: Authorizer, user: UserInfo, attributes: AuthorizationAttributes): void {
  const d = authorizer(user, attributes);
  if (!d.allowed) throw forbiddenError(user, attributes, d.reason);
}
