import { test } from "vitest";
import { definitions, schemaBuildMs, definitionName, schemaForKind } from "./api/schema.js";
test("x", () => {
  const t0 = performance.now();
  const d = definitions();
  console.log("build", schemaBuildMs(), performance.now() - t0, d.size);
  console.log([...d.keys()].sort().join("\n"));
  console.log(definitionName("v1","Pod"), definitionName("apps/v1","DeploymentList"), definitionName("events.k8s.io/v1","Event"));
  const pod = schemaForKind("v1","Pod")!;
  console.log(Object.keys(pod.fields), (pod.fields.spec as any).fields.containers);
});
