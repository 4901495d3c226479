import { describe, expect, it } from "vitest";
import {
  escapeFieldValue,
  fieldSelectorToString,
  fieldsOf,
  formatLabelSelector,
  formatLabels,
  type LabelRequirement,
  labelSelectorFromObject,
  labelValueErrors,
  matchesFields,
  matchesLabels,
  newRequirement,
  parseFieldSelector,
  parseLabelSelector,
  qualifiedNameErrors,
  selectorToString,
  supportedFieldLabels,
  validateFieldSelector,
} from "./selectors.js";
import { StatusError } from "./status.js";

function badRequest(fn: () => unknown): StatusError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(StatusError);
    const se = e as StatusError;
    expect(se.code).toBe(400);
    expect(se.reason).toBe("BadRequest");
    return se;
  }
  throw new Error("expected a StatusError");
}

describe("parseLabelSelector", () => {
  it("parses the empty selector as matching everything", () => {
    expect(parseLabelSelector("")).toEqual([]);
    expect(parseLabelSelector("   ")).toEqual([]);
    expect(matchesLabels(parseLabelSelector(""), {})).toBe(true);
  });

  it.each<[string, LabelRequirement[]]>([
    ["a=b", [{ key: "a", operator: "=", values: ["b"] }]],
    ["a==b", [{ key: "a", operator: "==", values: ["b"] }]],
    ["a!=b", [{ key: "a", operator: "!=", values: ["b"] }]],
    ["a", [{ key: "a", operator: "exists", values: [] }]],
    ["!a", [{ key: "a", operator: "!", values: [] }]],
    ["a>5", [{ key: "a", operator: ">", values: ["5"] }]],
    ["a<-3", [{ key: "a", operator: "<", values: ["-3"] }]],
    ["a in (x,y)", [{ key: "a", operator: "in", values: ["x", "y"] }]],
    ["a notin (y, x, x)", [{ key: "a", operator: "notin", values: ["x", "y"] }]],
    ["a=", [{ key: "a", operator: "=", values: [""] }]],
    ["a in ()", [{ key: "a", operator: "in", values: [""] }]],
    ["a in (x,)", [{ key: "a", operator: "in", values: ["", "x"] }]],
    ["a in (,x)", [{ key: "a", operator: "in", values: ["", "x"] }]],
    ["example.com/app=web", [{ key: "example.com/app", operator: "=", values: ["web"] }]],
    ["  a  =  b  ", [{ key: "a", operator: "=", values: ["b"] }]],
  ])("parses %j", (input, want) => {
    expect(parseLabelSelector(input)).toEqual(want);
  });

  it("sorts requirements by key, keeping same-key order", () => {
    const reqs = parseLabelSelector("z=1,a!=2,m,a=3");
    expect(reqs.map((r) => `${r.key}${r.operator}`)).toEqual(["a!=", "a=", "mexists", "z="]);
    expect(selectorToString(reqs)).toBe("a!=2,a=3,m,z=1");
  });

  it("parses a compound selector", () => {
    const reqs = parseLabelSelector("app=web,tier in (fe,be),!canary,version");
    expect(selectorToString(reqs)).toBe("app=web,!canary,tier in (be,fe),version");
  });

  it.each([
    ["a=b,", "expected: identifier after ','"],
    [",a", "found ','"],
    ["a b", "found 'b'"],
    ["a in x", "expected: '('"],
    ["a in (x", "expected: ',', ')' or identifier"],
    ["a in (x y)", "expected: ',' or ')'"],
    ["!a=b", "found '='"],
    ["a=(b)", "expected: identifier"],
    ["=b", "found '='"],
    ["a>b", "must be an integer"],
    ["a<", "must be an integer"],
    ["a=b=c", "found '='"],
    ["-a=b", "name part must consist of"],
    ["a/b/c=d", "a qualified name must consist"],
    ["/a=b", "prefix part must be non-empty"],
    ["Foo.com/a=b", "prefix part a lowercase RFC 1123 subdomain"],
    ["a/=b", "name part must be non-empty"],
    [`${"x".repeat(64)}=b`, "no more than 63 characters"],
    ["a=-b", "a valid label must be an empty string"],
    [`a=${"v".repeat(64)}`, "must be no more than 63 characters"],
    ["a in (ok,bad-)", "a valid label must be an empty string"],
  ])("rejects %j with a 400", (input, fragment) => {
    const e = badRequest(() => parseLabelSelector(input));
    expect(e.message).toContain(fragment);
  });
});

describe("matchesLabels", () => {
  const labels = { app: "web", tier: "fe", replicas: "3", weird: "abc" };
  it.each([
    ["app=web", true],
    ["app==web", true],
    ["app=db", false],
    ["missing=x", false],
    ["app!=db", true],
    ["app!=web", false],
    ["missing!=x", true],
    ["app in (web,db)", true],
    ["app in (db)", false],
    ["missing in (x)", false],
    ["app notin (db)", true],
    ["app notin (web)", false],
    ["missing notin (x)", true],
    ["app", true],
    ["missing", false],
    ["!missing", true],
    ["!app", false],
    ["replicas>2", true],
    ["replicas>3", false],
    ["replicas<4", true],
    ["replicas<3", false],
    ["missing>1", false],
    ["weird>1", false],
    ["weird<1", false],
    ["app=web,tier=fe", true],
    ["app=web,tier=be", false],
    ["missing in ()", false],
    ["missing=", false],
  ])("%s → %s", (sel, want) => {
    expect(matchesLabels(parseLabelSelector(sel), labels)).toBe(want);
  });

  it("treats an empty-string label as present", () => {
    expect(matchesLabels(parseLabelSelector("a="), { a: "" })).toBe(true);
    expect(matchesLabels(parseLabelSelector("a in ()"), { a: "" })).toBe(true);
    expect(matchesLabels(parseLabelSelector("a"), { a: "" })).toBe(true);
  });

  it("handles undefined labels and the nothing selector", () => {
    expect(matchesLabels(parseLabelSelector("!a"), undefined)).toBe(true);
    expect(matchesLabels(null, { a: "b" })).toBe(false);
    expect(matchesLabels([], undefined)).toBe(true);
  });

  it("does not read inherited properties as labels", () => {
    expect(matchesLabels(parseLabelSelector("toString"), {})).toBe(false);
    expect(matchesLabels(parseLabelSelector("constructor!=x"), {})).toBe(true);
  });

  it("compares large integers exactly", () => {
    expect(matchesLabels(parseLabelSelector("n>9007199254740992"), { n: "9007199254740993" })).toBe(true);
  });
});

describe("newRequirement", () => {
  it("validates the value count per operator", () => {
    expect(badRequest(() => newRequirement("a", "in", [])).message).toContain("values set can't be empty");
    expect(badRequest(() => newRequirement("a", "=", ["x", "y"])).message).toContain("one single value");
    expect(badRequest(() => newRequirement("a", "exists", ["x"])).message).toContain("must be empty");
    expect(badRequest(() => newRequirement("a", ">", ["1", "2"])).message).toContain("exactly one value");
  });
});

describe("labelSelectorFromObject", () => {
  it("returns null (nothing) for a missing selector", () => {
    expect(labelSelectorFromObject(undefined)).toBeNull();
    expect(labelSelectorFromObject(null)).toBeNull();
  });

  it("returns [] (everything) for an empty selector", () => {
    expect(labelSelectorFromObject({})).toEqual([]);
    expect(matchesLabels(labelSelectorFromObject({}), { x: "y" })).toBe(true);
  });

  it("converts matchLabels and matchExpressions", () => {
    const reqs = labelSelectorFromObject({
      matchLabels: { app: "web" },
      matchExpressions: [
        { key: "tier", operator: "In", values: ["fe", "be"] },
        { key: "env", operator: "NotIn", values: ["prod"] },
        { key: "canary", operator: "DoesNotExist" },
        { key: "owner", operator: "Exists" },
      ],
    });
    expect(selectorToString(reqs)).toBe("app=web,!canary,env notin (prod),owner,tier in (be,fe)");
    expect(matchesLabels(reqs, { app: "web", tier: "fe", owner: "me" })).toBe(true);
    expect(matchesLabels(reqs, { app: "web", tier: "fe", owner: "me", canary: "1" })).toBe(false);
    expect(matchesLabels(reqs, { app: "web", tier: "fe", owner: "me", env: "prod" })).toBe(false);
  });

  it("rejects unknown operators and invalid values", () => {
    expect(
      badRequest(() =>
        labelSelectorFromObject({ matchExpressions: [{ key: "a", operator: "Gt", values: ["1"] }] }),
      ).message,
    ).toBe('"Gt" is not a valid label selector operator');
    badRequest(() => labelSelectorFromObject({ matchLabels: { a: "not valid" } }));
    badRequest(() =>
      labelSelectorFromObject({ matchExpressions: [{ key: "a", operator: "In", values: [] }] }),
    );
  });

  it("formats selectors like metav1.FormatLabelSelector", () => {
    expect(formatLabelSelector(undefined)).toBe("<none>");
    expect(formatLabelSelector({})).toBe("<none>");
    expect(formatLabelSelector({ matchLabels: { b: "2", a: "1" } })).toBe("a=1,b=2");
    expect(formatLabelSelector({ matchExpressions: [{ key: "a", operator: "Bogus" }] })).toBe("<error>");
  });

  it("formats label maps like labels.FormatLabels", () => {
    expect(formatLabels(undefined)).toBe("<none>");
    expect(formatLabels({})).toBe("<none>");
    expect(formatLabels({ z: "1", a: "2" })).toBe("a=2,z=1");
  });

  it("round-trips through selectorToString", () => {
    for (const s of ["a=b", "a!=b", "a in (x,y)", "a notin (x)", "a", "!a", "a>1", "a<2", "a==b"]) {
      expect(selectorToString(parseLabelSelector(s))).toBe(s);
    }
  });
});

describe("validation helpers", () => {
  it("accepts valid keys and values", () => {
    expect(qualifiedNameErrors("app")).toEqual([]);
    expect(qualifiedNameErrors("app.kubernetes.io/name")).toEqual([]);
    expect(qualifiedNameErrors("A_b.c-D")).toEqual([]);
    expect(labelValueErrors("")).toEqual([]);
    expect(labelValueErrors("v1.2_3-x")).toEqual([]);
  });
  it("rejects invalid keys and values", () => {
    expect(qualifiedNameErrors("")).not.toEqual([]);
    expect(qualifiedNameErrors("a_")).not.toEqual([]);
    expect(qualifiedNameErrors(`${"a".repeat(254)}/b`)).not.toEqual([]);
    expect(labelValueErrors("_a")).not.toEqual([]);
    expect(labelValueErrors("a b")).not.toEqual([]);
  });
});

describe("parseFieldSelector", () => {
  it("parses =, == and != terms", () => {
    expect(parseFieldSelector("metadata.name=web,spec.nodeName!=n1,status.phase==Running")).toEqual([
      { field: "metadata.name", operator: "=", value: "web" },
      { field: "spec.nodeName", operator: "!=", value: "n1" },
      { field: "status.phase", operator: "==", value: "Running" },
    ]);
  });

  it("parses the empty selector", () => {
    expect(parseFieldSelector("")).toEqual([]);
  });

  it("allows empty values and escaped characters", () => {
    expect(parseFieldSelector("spec.nodeName=")).toEqual([
      { field: "spec.nodeName", operator: "=", value: "" },
    ]);
    expect(parseFieldSelector("a=x\\,y\\=z\\\\")).toEqual([{ field: "a", operator: "=", value: "x,y=z\\" }]);
  });

  it("round-trips with escaping", () => {
    const s = fieldSelectorToString([{ field: "a", operator: "!=", value: "p,q=r" }]);
    expect(s).toBe("a!=p\\,q\\=r");
    expect(parseFieldSelector(s)).toEqual([{ field: "a", operator: "!=", value: "p,q=r" }]);
    expect(escapeFieldValue("plain")).toBe("plain");
  });

  it.each([
    ["foo", "can't understand 'foo'"],
    ["=x", "can't understand '=x'"],
    ["a=b=c", "unescaped = in value"],
    ["a=b\\x", "invalid escape sequence"],
  ])("rejects %j", (input, fragment) => {
    expect(badRequest(() => parseFieldSelector(input)).message).toContain(fragment);
  });
});

describe("field selector support per kind", () => {
  it("accepts the pod fields and rewrites spec.host", () => {
    const reqs = validateFieldSelector("Pod", parseFieldSelector("spec.host=n1,status.phase=Running"));
    expect(reqs).toEqual([
      { field: "spec.nodeName", operator: "=", value: "n1" },
      { field: "status.phase", operator: "=", value: "Running" },
    ]);
  });

  it("rejects unsupported field labels with the upstream message", () => {
    const e = badRequest(() => validateFieldSelector("Pod", parseFieldSelector("foo=bar")));
    expect(e.message).toBe("field label not supported: foo");
    badRequest(() => validateFieldSelector("ConfigMap", parseFieldSelector("data.x=1")));
    badRequest(() => validateFieldSelector("Node", parseFieldSelector("metadata.namespace=x")));
    badRequest(() => validateFieldSelector("Secret", parseFieldSelector("spec.type=x")));
  });

  it("defaults to metadata.name and metadata.namespace", () => {
    expect(supportedFieldLabels("ConfigMap")).toEqual(["metadata.name", "metadata.namespace"]);
    expect(validateFieldSelector("Deployment", parseFieldSelector("metadata.name=x"), "apps")).toHaveLength(
      1,
    );
  });

  it("knows events.k8s.io field names", () => {
    const reqs = validateFieldSelector(
      "Event",
      parseFieldSelector("regarding.name=web,reportingController=kubelet,type=Warning"),
      "events.k8s.io",
    );
    expect(reqs.map((r) => r.field)).toEqual(["involvedObject.name", "reportingComponent", "type"]);
    badRequest(() =>
      validateFieldSelector("Event", parseFieldSelector("involvedObject.name=x"), "events.k8s.io"),
    );
  });

  it("lists supported labels including aliases", () => {
    expect(supportedFieldLabels("Pod")).toContain("spec.host");
    expect(supportedFieldLabels("ReplicaSet", "apps")).toContain("status.replicas");
  });
});

describe("fieldsOf", () => {
  it("builds the pod field set", () => {
    const f = fieldsOf("Pod", {
      metadata: { name: "web", namespace: "default" },
      spec: {
        nodeName: "n1",
        restartPolicy: "Always",
        schedulerName: "default-scheduler",
        hostNetwork: true,
      },
      status: { phase: "Running", podIP: "10.0.0.9", podIPs: [{ ip: "10.0.0.5" }, { ip: "fd00::5" }] },
    });
    expect(f).toEqual({
      "metadata.name": "web",
      "metadata.namespace": "default",
      "spec.nodeName": "n1",
      "spec.restartPolicy": "Always",
      "spec.schedulerName": "default-scheduler",
      "spec.serviceAccountName": "",
      "spec.hostNetwork": "true",
      "status.phase": "Running",
      "status.podIP": "10.0.0.5",
      "status.nominatedNodeName": "",
    });
  });

  it("matches the unscheduled-pods selector kube-scheduler uses", () => {
    const reqs = validateFieldSelector("Pod", parseFieldSelector("spec.nodeName=,status.phase!=Succeeded"));
    const pending = { metadata: { name: "a", namespace: "d" }, spec: {}, status: { phase: "Pending" } };
    const bound = {
      metadata: { name: "b", namespace: "d" },
      spec: { nodeName: "n" },
      status: { phase: "Running" },
    };
    expect(matchesFields(reqs, fieldsOf("Pod", pending))).toBe(true);
    expect(matchesFields(reqs, fieldsOf("Pod", bound))).toBe(false);
  });

  it("defaults hostNetwork to false and reads podIP without podIPs", () => {
    const f = fieldsOf("Pod", { metadata: { name: "p" }, status: { podIP: "10.1.1.1" } });
    expect(f["spec.hostNetwork"]).toBe("false");
    expect(f["status.podIP"]).toBe("10.1.1.1");
    expect(f["metadata.namespace"]).toBe("");
  });

  it("builds node, namespace, secret, service and replicaset fields", () => {
    expect(fieldsOf("Node", { metadata: { name: "n1" }, spec: { unschedulable: true } }, false)).toEqual({
      "metadata.name": "n1",
      "spec.unschedulable": "true",
    });
    expect(fieldsOf("Node", { metadata: { name: "n1" } })["spec.unschedulable"]).toBe("false");
    expect(fieldsOf("Namespace", { metadata: { name: "x" }, status: { phase: "Terminating" } })).toEqual({
      "metadata.name": "x",
      "status.phase": "Terminating",
    });
    expect(
      fieldsOf("Secret", { metadata: { name: "s", namespace: "d" }, type: "kubernetes.io/tls" }).type,
    ).toBe("kubernetes.io/tls");
    const svc = fieldsOf("Service", {
      metadata: { name: "s", namespace: "d" },
      spec: { clusterIP: "10.96.0.1", type: "ClusterIP" },
    });
    expect(svc["spec.clusterIP"]).toBe("10.96.0.1");
    expect(svc["spec.type"]).toBe("ClusterIP");
    expect(
      fieldsOf("ReplicaSet", { metadata: { name: "r", namespace: "d" }, status: { replicas: 3 } })[
        "status.replicas"
      ],
    ).toBe("3");
    expect(fieldsOf("ReplicaSet", { metadata: { name: "r", namespace: "d" } })["status.replicas"]).toBe("0");
  });

  it("omits metadata.namespace for cluster-scoped kinds", () => {
    expect(fieldsOf("ClusterRole", { metadata: { name: "admin" } }, false)).toEqual({
      "metadata.name": "admin",
    });
  });

  it("builds event fields from core/v1 and events.k8s.io/v1 shapes", () => {
    const core = fieldsOf("Event", {
      metadata: { name: "e1", namespace: "default" },
      involvedObject: {
        kind: "Pod",
        name: "web",
        namespace: "default",
        uid: "u1",
        apiVersion: "v1",
        fieldPath: "spec.containers{c}",
      },
      reason: "Started",
      source: { component: "kubelet", host: "n1" },
      type: "Normal",
    });
    expect(core).toMatchObject({
      "involvedObject.kind": "Pod",
      "involvedObject.name": "web",
      "involvedObject.uid": "u1",
      "involvedObject.fieldPath": "spec.containers{c}",
      "involvedObject.resourceVersion": "",
      reason: "Started",
      source: "kubelet",
      reportingComponent: "",
      type: "Normal",
    });
    const newer = fieldsOf("Event", {
      metadata: { name: "e2", namespace: "default" },
      regarding: { kind: "Node", name: "n1" },
      reportingController: "kubeplane-controller",
      reason: "X",
      type: "Warning",
    });
    expect(newer).toMatchObject({
      "involvedObject.kind": "Node",
      reportingComponent: "kubeplane-controller",
      source: "kubeplane-controller",
    });
  });

  it("treats absent fields as empty strings when matching", () => {
    expect(matchesFields([{ field: "nope", operator: "=", value: "" }], {})).toBe(true);
    expect(matchesFields([{ field: "nope", operator: "!=", value: "" }], {})).toBe(false);
    expect(matchesFields([], {})).toBe(true);
  });
});
