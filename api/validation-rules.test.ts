import { describe, expect, test } from "vitest";
import {
  fieldDuplicate,
  fieldForbidden,
  fieldInvalid,
  fieldNotSupported,
  fieldRequired,
  fieldTooLong,
  fieldTooMany,
  formatValue,
  isConfigMapKey,
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isDomainPrefixedPath,
  isEnvVarName,
  isQualifiedName,
  isValidCIDR,
  isValidIP,
  isValidIPv4Address,
  isValidIPv6Address,
  isValidLabelValue,
  isValidPathSegmentName,
  isValidPortName,
  isValidPortNum,
  isWildcardDNS1123Subdomain,
  jsonEqual,
  nameIsDNSSubdomain,
  nonSpecialIPErrors,
  parseQuantity,
  QUANTITY_ERROR,
  tryParseQuantity,
  validateAnnotations,
  validateLabels,
  validatePortNumOrName,
} from "./validation-rules.js";

describe("DNS names", () => {
  test.each(["a", "abc", "a-b", "0", "123-abc", "a".repeat(63)])("label %s is valid", (v) => {
    expect(isDNS1123Label(v)).toEqual([]);
  });

  test.each(["", "A", "a_b", "-a", "a-", "a.b", "a".repeat(64)])("label %j is invalid", (v) => {
    expect(isDNS1123Label(v).length).toBeGreaterThan(0);
  });

  test("label message matches upstream", () => {
    expect(isDNS1123Label("Foo")).toEqual([
      "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    ]);
    expect(isDNS1123Label("a".repeat(64))).toEqual(["must be no more than 63 characters"]);
  });

  test("subdomain message matches upstream", () => {
    expect(isDNS1123Subdomain("Foo_bar")).toEqual([
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    ]);
  });

  test.each(["a.b", "example.com", "a-1.b-2", "x"])("subdomain %s is valid", (v) => {
    expect(isDNS1123Subdomain(v)).toEqual([]);
  });

  test.each(["", ".a", "a.", "a..b", "A.b", "a_b"])("subdomain %j is invalid", (v) => {
    expect(isDNS1123Subdomain(v).length).toBeGreaterThan(0);
  });

  test("subdomain length limit 253", () => {
    const long = `${"a".repeat(63)}.`.repeat(4).slice(0, 254);
    expect(isDNS1123Subdomain(long)).toContain("must be no more than 253 characters");
  });

  test("DNS-1035 labels must start with a letter", () => {
    expect(isDNS1035Label("my-svc")).toEqual([]);
    expect(isDNS1035Label("1svc")[0]).toContain(
      "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character",
    );
  });

  test("wildcard subdomains", () => {
    expect(isWildcardDNS1123Subdomain("*.example.com")).toEqual([]);
    expect(isWildcardDNS1123Subdomain("*.*.example.com").length).toBe(1);
    expect(isWildcardDNS1123Subdomain("a.*.com")[0]).toContain(
      "a wildcard DNS-1123 subdomain must start with '*.'",
    );
  });

  test("generateName prefixes may end with a dash", () => {
    expect(nameIsDNSSubdomain("web-", true)).toEqual([]);
    expect(nameIsDNSSubdomain("web-", false).length).toBe(1);
  });

  test("path segment names", () => {
    expect(isValidPathSegmentName("system:controller")).toEqual([]);
    expect(isValidPathSegmentName(".")).toEqual(["may not be '.'"]);
    expect(isValidPathSegmentName("..")).toEqual(["may not be '..'"]);
    expect(isValidPathSegmentName("a/b%c")).toEqual(["may not contain '/'", "may not contain '%'"]);
  });
});

describe("qualified names and labels", () => {
  test.each(["app", "app.kubernetes.io/name", "k8s.io/a_b.c-d", "A1", "a".repeat(63)])(
    "%s is a qualified name",
    (v) => {
      expect(isQualifiedName(v)).toEqual([]);
    },
  );

  test("empty prefix", () => {
    expect(isQualifiedName("/a")).toEqual(["prefix part must be non-empty"]);
  });

  test("bad prefix gets the subdomain message with 'prefix part'", () => {
    expect(isQualifiedName("Bad_Prefix/a")[0]).toMatch(/^prefix part a lowercase RFC 1123 subdomain/);
  });

  test("empty and overlong name parts", () => {
    expect(isQualifiedName("")[0]).toBe("name part must be non-empty");
    expect(isQualifiedName("a".repeat(64))).toContain("name part must be no more than 63 characters");
  });

  test("too many slashes", () => {
    expect(isQualifiedName("a/b/c")[0]).toMatch(/^a qualified name must consist of/);
  });

  test("name part chars", () => {
    expect(isQualifiedName("-a")[0]).toBe(
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    );
  });

  test("label values", () => {
    expect(isValidLabelValue("")).toEqual([]);
    expect(isValidLabelValue("v1.2_3-x")).toEqual([]);
    expect(isValidLabelValue("-x")[0]).toMatch(/^a valid label must be an empty string/);
    expect(isValidLabelValue("a".repeat(64))).toContain("must be no more than 63 characters");
  });

  test("validateLabels reports key and value problems at the map path", () => {
    const errs = validateLabels({ "bad key": "ok", good: "bad value" }, "metadata.labels");
    expect(errs.map((e) => [e.reason, e.field])).toEqual([
      ["FieldValueInvalid", "metadata.labels"],
      ["FieldValueInvalid", "metadata.labels"],
    ]);
    expect(errs[0]!.message).toMatch(/^Invalid value: "bad key": name part must consist/);
    expect(errs[1]!.message).toMatch(/^Invalid value: "bad value": a valid label must be/);
  });

  test("annotations: keys are lower-cased before the check, size limited to 256 KiB", () => {
    expect(validateAnnotations({ "Example.com/Key": "x" }, "metadata.annotations")).toEqual([]);
    const big = validateAnnotations({ a: "x".repeat(256 * 1024) }, "metadata.annotations");
    expect(big).toEqual([
      {
        reason: "FieldValueTooLong",
        field: "metadata.annotations",
        message: "Too long: may not be more than 262144 bytes",
      },
    ]);
    expect(validateAnnotations({ a: "x".repeat(256 * 1024 - 1) }, "metadata.annotations")).toEqual([]);
  });
});

describe("keys, env names, paths", () => {
  test.each(["a", "KEY_NAME", "key-name", "key.name", ".hidden", "a..b"])("config key %s is valid", (k) => {
    expect(isConfigMapKey(k)).toEqual([]);
  });

  test("config key problems", () => {
    expect(isConfigMapKey("a/b")[0]).toMatch(
      /^a valid config key must consist of alphanumeric characters, '-', '_' or '.'/,
    );
    expect(isConfigMapKey(".")).toEqual(["must not be '.'"]);
    expect(isConfigMapKey("..")).toEqual(["must not be '..'"]);
    expect(isConfigMapKey("..a")).toEqual(["must not start with '..'"]);
  });

  test("env var names", () => {
    expect(isEnvVarName("FOO_BAR")).toEqual([]);
    expect(isEnvVarName("foo.bar-1")).toEqual([]);
    expect(isEnvVarName("A=B").length).toBe(1);
    expect(isEnvVarName("").length).toBe(1);
  });

  test("domain-prefixed paths", () => {
    expect(isDomainPrefixedPath("example.com/ingress-nginx")).toEqual([]);
    expect(isDomainPrefixedPath("nginx")).toEqual(['must be a domain-prefixed path (such as "acme.io/foo")']);
    expect(isDomainPrefixedPath("Example/x").length).toBe(1);
  });
});

describe("ports", () => {
  test("port numbers", () => {
    expect(isValidPortNum(1)).toEqual([]);
    expect(isValidPortNum(65535)).toEqual([]);
    for (const bad of [0, 65536, -1, 1.5, "80"])
      expect(isValidPortNum(bad)).toEqual(["must be between 1 and 65535, inclusive"]);
  });

  test("IANA service names", () => {
    expect(isValidPortName("http")).toEqual([]);
    expect(isValidPortName("h2c-web")).toEqual([]);
    expect(isValidPortName("a".repeat(16))).toContain("must be no more than 15 characters");
    expect(isValidPortName("HTTP")).toContain(
      "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
    );
    expect(isValidPortName("8080")).toEqual(["must contain at least one letter (a-z)"]);
    expect(isValidPortName("a--b")).toEqual(["must not contain consecutive hyphens"]);
    expect(isValidPortName("-ab")).toEqual(["must not begin or end with a hyphen"]);
  });

  test("int-or-string ports", () => {
    expect(validatePortNumOrName(8080, "p")).toEqual([]);
    expect(validatePortNumOrName("http", "p")).toEqual([]);
    expect(validatePortNumOrName(0, "p")[0]).toEqual({
      reason: "FieldValueInvalid",
      field: "p",
      message: "Invalid value: 0: must be between 1 and 65535, inclusive",
    });
    expect(validatePortNumOrName("HTTP", "p")[0]!.field).toBe("p");
  });
});

describe("IPs", () => {
  test("valid and invalid addresses", () => {
    expect(isValidIP("10.0.0.1")).toEqual([]);
    expect(isValidIP("2001:db8::1")).toEqual([]);
    expect(isValidIP("10.0.0.256")).toEqual(["must be a valid IP address (e.g. 10.9.8.7 or 2001:db8::ffff)"]);
    expect(isValidIP("fe80::1%eth0").length).toBe(1);
    expect(isValidIP("")).toHaveLength(1);
    expect(isValidIPv4Address("::1")).toEqual(["must be a valid IPv4 address"]);
    expect(isValidIPv6Address("1.2.3.4")).toEqual(["must be a valid IPv6 address"]);
  });

  test("CIDRs", () => {
    expect(isValidCIDR("10.0.0.0/8")).toEqual([]);
    expect(isValidCIDR("fd00::/64")).toEqual([]);
    expect(isValidCIDR("10.0.0.0/33")).toHaveLength(1);
    expect(isValidCIDR("10.0.0.0")).toHaveLength(1);
    expect(isValidCIDR("fd00::/129")).toHaveLength(1);
  });

  test("special addresses are not endpoints", () => {
    expect(nonSpecialIPErrors("10.1.2.3")).toEqual([]);
    expect(nonSpecialIPErrors("0.0.0.0")).toEqual(["may not be unspecified (0.0.0.0)"]);
    expect(nonSpecialIPErrors("127.0.0.5")).toEqual([
      "may not be in the loopback range (127.0.0.0/8, ::1/128)",
    ]);
    expect(nonSpecialIPErrors("::1")).toEqual(["may not be in the loopback range (127.0.0.0/8, ::1/128)"]);
    expect(nonSpecialIPErrors("::")).toEqual(["may not be unspecified (::)"]);
    expect(nonSpecialIPErrors("169.254.1.1")).toEqual([
      "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
    ]);
    expect(nonSpecialIPErrors("fe80::1")).toEqual([
      "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
    ]);
    expect(nonSpecialIPErrors("224.0.0.251")).toEqual([
      "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
    ]);
    expect(nonSpecialIPErrors("ff02::1")).toHaveLength(1);
    expect(nonSpecialIPErrors("::ffff:127.0.0.1")).toEqual([
      "may not be in the loopback range (127.0.0.0/8, ::1/128)",
    ]);
    expect(nonSpecialIPErrors("2001:db8::1")).toEqual([]);
  });
});

describe("parseQuantity", () => {
  test.each([
    ["1", 1],
    ["100m", 0.1],
    ["1.5", 1.5],
    ["250m", 0.25],
    ["1k", 1000],
    ["1M", 1e6],
    ["1G", 1e9],
    ["1Ki", 1024],
    ["128Mi", 128 * 2 ** 20],
    ["1.5Gi", 1.5 * 2 ** 30],
    ["1e3", 1000],
    ["1E3", 1000],
    ["5e-3", 0.005],
    ["1E", 1e18],
    ["500u", 0.0005],
    ["7n", 7e-9],
    ["+2", 2],
    ["-1", -1],
    [".5", 0.5],
    ["2.", 2],
    [3, 3],
    [0.5, 0.5],
  ] as const)("%s -> %d", (q, v) => {
    expect(parseQuantity(q)).toBeCloseTo(v, 12);
  });

  test("100m equals 0.1 exactly", () => {
    expect(parseQuantity("100m")).toBe(parseQuantity("0.1"));
  });

  test.each(["", "abc", "1Kb", "1 Gi", "m", "1.2.3", "--1", "1e", "0x10"])("%j is rejected", (q) => {
    expect(() => parseQuantity(q)).toThrow(QUANTITY_ERROR);
    expect(tryParseQuantity(q)).toBeUndefined();
  });

  test("non-finite numbers are rejected", () => {
    expect(() => parseQuantity(Number.NaN)).toThrow();
    expect(tryParseQuantity({})).toBeUndefined();
  });
});

describe("field error formatting", () => {
  test("values print like field.Error", () => {
    expect(formatValue("x")).toBe('"x"');
    expect(formatValue(3)).toBe("3");
    expect(formatValue(true)).toBe("true");
    expect(formatValue(undefined)).toBe("null");
    expect(formatValue({ a: 1 })).toBe('{"a":1}');
  });

  test("each reason", () => {
    expect(fieldInvalid("metadata.name", "Foo", "bad")).toEqual({
      reason: "FieldValueInvalid",
      field: "metadata.name",
      message: 'Invalid value: "Foo": bad',
    });
    expect(fieldRequired("spec.x").message).toBe("Required value");
    expect(fieldRequired("spec.x", "why").message).toBe("Required value: why");
    expect(fieldNotSupported("spec.t", "X", ["A", "B"]).message).toBe(
      'Unsupported value: "X": supported values: "A", "B"',
    );
    expect(fieldDuplicate("spec.p", "http").message).toBe('Duplicate value: "http"');
    expect(fieldForbidden("spec").message).toBe("Forbidden");
    expect(fieldForbidden("spec", "no").message).toBe("Forbidden: no");
    expect(fieldTooLong("data", 10).message).toBe("Too long: may not be more than 10 bytes");
    expect(fieldTooMany("endpoints", 1001, 1000)).toEqual({
      reason: "FieldValueTooMany",
      field: "endpoints",
      message: "Too many: 1001: must have at most 1000 items",
    });
  });

  test("jsonEqual ignores key order and undefined members", () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1, u: undefined }, { a: 1 })).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: "1" })).toBe(false);
  });
});
