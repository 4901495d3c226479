import { describe, expect, it } from "vitest";
import { familiesOf } from "./proxier.js";
import { namesInTable } from "./proxier-nftables.js";

describe("familiesOf", () => {
  it("IPv4 always, IPv6 with a v6 cluster CIDR", () => {
    expect(familiesOf(undefined)).toEqual([4]);
    expect(familiesOf("10.244.0.0/16")).toEqual([4]);
    expect(familiesOf("10.244.0.0/16,fd00:10::/56")).toEqual([4, 6]);
  });
});

describe("namesInTable", () => {
  it("reads chain/set names of the kube-proxy table only", () => {
    const out = [
      "table ip filter {",
      "\tchain INPUT {",
      "\t}",
      "}",
      "table ip kube-proxy {",
      "\tchain services {",
      "\t}",
      "\tchain service-ABCDEFGH-default/web/tcp/http {",
      "\t}",
      "\tset affinity-XYZ {",
      "\t}",
      "}",
      "table ip6 kube-proxy {",
      "\tchain v6only {",
      "\t}",
      "}",
    ].join("\n");
    expect(namesInTable(out, "ip", "chain")).toEqual(["services", "service-ABCDEFGH-default/web/tcp/http"]);
    expect(namesInTable(out, "ip", "set")).toEqual(["affinity-XYZ"]);
    expect(namesInTable(out, "ip6", "chain")).toEqual(["v6only"]);
  });
});
