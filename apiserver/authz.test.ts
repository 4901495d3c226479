import { describe, expect, it } from "vitest";
import { StatusError } from "../api/status.js";
import type { UserInfo } from "./auth.js";
import {
  type AuthorizationAttributes,
  allowAll,
  authorize,
  forbiddenError,
  forbiddenMessage,
  groupsAuthorizer,
  unionAuthorizer,
} from "./authz.js";

const alice: UserInfo = { name: "alice", groups: ["devs", "system:authenticated"] };
const admin: UserInfo = { name: "kubeplane-admin", groups: ["system:masters", "system:authenticated"] };

const attrs = (over: Partial<AuthorizationAttributes> = {}): AuthorizationAttributes => ({
  verb: "list",
  group: "",
  resource: "pods",
  namespace: "default",
  name: "",
  subresource: "",
  path: "/api/v1/namespaces/default/pods",
  ...over,
});

describe("authorizers", () => {
  it("allowAll allows everything", () => {
    expect(allowAll(alice, attrs())).toEqual({ allowed: true });
    expect(
      allowAll({ name: "system:anonymous", groups: ["system:unauthenticated"] }, attrs({ verb: "delete" })),
    ).toEqual({
      allowed: true,
    });
  });

  it("groupsAuthorizer allows members only", () => {
    const masters = groupsAuthorizer(["system:masters"]);
    expect(masters(admin, attrs()).allowed).toBe(true);
    expect(masters(alice, attrs())).toEqual({ allowed: false, reason: "no RBAC policy matched" });
  });

  it("unionAuthorizer takes the first allow and joins denial reasons", () => {
    const deny = (reason?: string) => () => ({ allowed: false, ...(reason ? { reason } : {}) });
    expect(unionAuthorizer(deny("a"), allowAll)(alice, attrs()).allowed).toBe(true);
    expect(unionAuthorizer(deny("a"), deny(), deny("b"))(alice, attrs())).toEqual({
      allowed: false,
      reason: "a, b",
    });
    expect(unionAuthorizer()(alice, attrs())).toEqual({ allowed: false });
  });
});

describe("forbidden wording", () => {
  it("words namespaced, cluster-scoped, subresource and non-resource requests like the apiserver", () => {
    expect(forbiddenMessage(alice, attrs())).toBe(
      'User "alice" cannot list resource "pods" in API group "" in the namespace "default"',
    );
    expect(forbiddenMessage(alice, attrs({ verb: "get", resource: "nodes", namespace: "", group: "" }))).toBe(
      'User "alice" cannot get resource "nodes" in API group "" at the cluster scope',
    );
    expect(
      forbiddenMessage(
        alice,
        attrs({ verb: "patch", group: "apps", resource: "deployments", subresource: "scale" }),
      ),
    ).toBe(
      'User "alice" cannot patch resource "deployments/scale" in API group "apps" in the namespace "default"',
    );
    expect(
      forbiddenMessage(alice, attrs({ verb: "get", resource: "", namespace: "", path: "/metrics" })),
    ).toBe('User "alice" cannot get path "/metrics"');
  });

  it("builds the 403 Status", () => {
    const e = forbiddenError(
      alice,
      attrs({ verb: "get", group: "apps", resource: "deployments", name: "web" }),
      "no RBAC policy matched",
    );
    expect(e.code).toBe(403);
    expect(e.toStatus()).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message:
        'deployments.apps "web" is forbidden: User "alice" cannot get resource "deployments" in API group "apps" in the namespace "default": no RBAC policy matched',
      reason: "Forbidden",
      details: { name: "web", group: "apps", kind: "deployments" },
      code: 403,
    });
    expect(forbiddenError(alice, attrs()).message).toBe(
      'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "default"',
    );
    expect(
      forbiddenError(alice, attrs({ resource: "", resourceRequest: false, verb: "get", path: "/logs" }))
        .message,
    ).toBe('forbidden: User "alice" cannot get path "/logs"');
  });

  it("authorize throws only on denial", () => {
    expect(() => authorize(allowAll, alice, attrs())).not.toThrow();
    try {
      authorize(groupsAuthorizer(["system:masters"]), alice, attrs());
      throw new Error("expected 403");
    } catch (e) {
      expect(e).toBeInstanceOf(StatusError);
      expect((e as StatusError).code).toBe(403);
    }
  });
});
