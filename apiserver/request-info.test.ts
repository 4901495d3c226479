import { describe, expect, it } from "vitest";
import { requestInfo } from "./request-info.js";

const q = (s = "") => new URLSearchParams(s);

describe("requestInfo", () => {
  it("parses namespaced resources with subresources", () => {
    const i = requestInfo("PUT", "/api/v1/namespaces/default/pods/web/status", q());
    expect(i).toMatchObject({
      group: "",
      version: "v1",
      namespace: "default",
      resource: "pods",
      name: "web",
      subresource: "status",
      verb: "update",
    });
  });
  it("treats /namespaces/<name> as the namespace object", () => {
    const i = requestInfo("GET", "/api/v1/namespaces/kube-system", q());
    expect(i).toMatchObject({
      resource: "namespaces",
      name: "kube-system",
      namespace: "kube-system",
      verb: "get",
    });
    const f = requestInfo("PUT", "/api/v1/namespaces/kube-system/finalize", q());
    expect(f).toMatchObject({ resource: "namespaces", name: "kube-system", subresource: "finalize" });
  });
  it("distinguishes list, watch and deletecollection", () => {
    expect(requestInfo("GET", "/apis/apps/v1/deployments", q()).verb).toBe("list");
    expect(requestInfo("GET", "/apis/apps/v1/namespaces/a/deployments", q("watch=true")).verb).toBe("watch");
    expect(requestInfo("GET", "/api/v1/watch/namespaces/a/pods", q()).verb).toBe("watch");
    expect(requestInfo("DELETE", "/api/v1/namespaces/a/pods", q()).verb).toBe("deletecollection");
  });
  it("leaves discovery paths as non-resource requests", () => {
    expect(requestInfo("GET", "/apis/apps/v1", q()).isResourceRequest).toBe(false);
    expect(requestInfo("GET", "/healthz", q()).isResourceRequest).toBe(false);
  });
});
