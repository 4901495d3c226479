/** Picks the patch implementation by the request's Content-Type. */
import { parse as parseYaml } from "yaml";
import type { SchemaNode } from "../schema-types.js";
import { errors } from "../status.js";
import { applyJsonPatch } from "./json-patch.js";
import { applyMergePatch } from "./merge-patch.js";
import { strategicMergePatch } from "./strategic.js";
import type { JsonObject } from "./util.js";

export const PATCH_TYPES = [
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
  "application/apply-patch+yaml",
] as const;

export type PatchType = (typeof PATCH_TYPES)[number];

/** the patch type of a Content-Type header (parameters ignored); 415 when it is none of them */
export function patchTypeOf(contentType: string | undefined): PatchType {
  const t = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  const found = PATCH_TYPES.find((p) => p === t);
  if (!found) {
    throw errors.unsupportedMediaType(contentType ?? "");
  }
  return found;
}

/** parses a request body of the given patch type; malformed bodies are 400 */
export function parsePatchBody(type: PatchType, body: string): unknown {
  try {
    return type === "application/apply-patch+yaml" ? parseYaml(body) : JSON.parse(body);
  } catch (e) {
    throw errors.badRequest(`error decoding patch: ${(e as Error).message}`);
  }
}

/**
 * Applies a json, merge or strategic merge patch (apply patches go through applyPatch,
 * which also needs the field manager). `schema` undefined = no strategic metadata.
 */
export function patchObject(
  type: Exclude<PatchType, "application/apply-patch+yaml">,
  original: JsonObject,
  patch: unknown,
  schema: SchemaNode | undefined,
): JsonObject {
  switch (type) {
    case "application/json-patch+json":
      return applyJsonPatch(original, patch);
    case "application/merge-patch+json":
      return applyMergePatch(original, patch);
    case "application/strategic-merge-patch+json":
      return strategicMergePatch(original, patch, schema);
  }
}
