import { describe, expect, it } from "vitest";
import { ATOMIC_STRUCTS, FIELDS_V1_FIELDS, PATCH_META, patchMetaFor, QUANTITY_FIELDS } from "./patch-meta.js";
import { definitions, QUANTITY } from "./schema.js";

describe("patch metadata table", () => {
  it("names only definitions and properties that exist, with the right shapes", () => {
    const defs = definitions();
    for (const [defName, props] of Object.entries(PATCH_META)) {
      const def = defs.get(defName);
      expect(def, defName).toBeDefined();
      for (const [prop, meta] of Object.entries(props)) {
        const p = def!.properties[prop];
        expect(p, `${defName}.${prop}`).toBeDefined();
        const kind = "ref" in p!.type ? "ref" : p!.type.type;
        if (meta.listType || meta.patchMergeKey) expect(kind, `${defName}.${prop}`).toBe("array");
        if (meta.mapType) expect(kind, `${defName}.${prop}`).toBe("map");
        if (meta.patchStrategy === "retainKeys") expect(kind, `${defName}.${prop}`).toBe("ref");
        if (meta.listType === "map")
          expect(meta.listMapKeys?.length, `${defName}.${prop}`).toBeGreaterThan(0);
        if (meta.listMapKeys) expect(meta.listType).toBe("map");
        // merge keys and list-map keys are fields of the item type
        if ((meta.patchMergeKey || meta.listMapKeys) && kind === "array" && "items" in p!.type) {
          const items = p!.type.items;
          if ("ref" in items) {
            const itemDef = defs.get(items.ref)!;
            for (const key of [meta.patchMergeKey, ...(meta.listMapKeys ?? [])]) {
              if (key) expect(itemDef.properties[key], `${defName}.${prop} key ${key}`).toBeDefined();
            }
          }
        }
        expect(p!.patch).toBe(meta);
      }
    }
    for (const name of ATOMIC_STRUCTS) {
      expect(defs.get(name)?.mapType, name).toBe("atomic");
    }
  });

  it("marks Quantity and FieldsV1 fields the models flatten", () => {
    const defs = definitions();
    for (const [defName, props] of Object.entries(QUANTITY_FIELDS)) {
      for (const prop of props) {
        const t = defs.get(defName)?.properties[prop]?.type;
        expect(t, `${defName}.${prop}`).toBeDefined();
        const leaf = t && "type" in t && t.type === "map" ? t.values : t;
        expect(leaf, `${defName}.${prop}`).toEqual({ ref: QUANTITY });
      }
    }
    for (const [defName, props] of Object.entries(FIELDS_V1_FIELDS)) {
      for (const prop of props) {
        expect(defs.get(defName)?.properties[prop]?.type).toEqual({
          ref: "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
        });
      }
    }
  });

  it("carries the strategic-merge facts kubectl relies on", () => {
    expect(patchMetaFor("io.k8s.api.core.v1.PodSpec", "containers")).toMatchObject({
      patchStrategy: "merge",
      patchMergeKey: "name",
    });
    expect(patchMetaFor("io.k8s.api.core.v1.PodSpec", "volumes")?.patchStrategy).toBe("merge,retainKeys");
    expect(patchMetaFor("io.k8s.api.core.v1.Container", "ports")).toMatchObject({
      patchMergeKey: "containerPort",
      listMapKeys: ["containerPort", "protocol"],
    });
    expect(patchMetaFor("io.k8s.api.core.v1.ServiceSpec", "ports")).toMatchObject({
      patchMergeKey: "port",
      listMapKeys: ["port", "protocol"],
    });
    expect(patchMetaFor("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers")?.patchStrategy).toBe(
      "merge",
    );
    expect(patchMetaFor("io.k8s.api.apps.v1.DeploymentSpec", "strategy")?.patchStrategy).toBe("retainKeys");
    expect(patchMetaFor("io.k8s.api.core.v1.PodSpec", "nodeName")).toBeUndefined();
  });
});
