/**
 * application/merge-patch+json (RFC 7386 JSON merge patch).
 *
 * Objects merge key by key, `null` removes a key, anything else (arrays included) replaces
 * the target value. Inputs are never modified.
 */
import { errors } from "../status.js";
import { cloneJson, deepEqual, isObject, type JsonObject } from "./util.js";

/** RFC 7386 MergePatch(target, patch) on plain JSON values, for any JSON patch value. */
export function mergePatchValue(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return cloneJson(patch);
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) {
      delete out[k];
    } else {
      out[k] = mergePatchValue(out[k], v);
    }
  }
  // values taken over from target are still shared; copy once at the top
  return out;
}

/**
 * Applies a JSON merge patch to an API object. The patch must be a JSON object (anything
 * else would replace the whole object, which the apiserver rejects): 400 otherwise.
 */
export function applyMergePatch<T = JsonObject>(original: unknown, patch: unknown): T {
  if (!isObject(patch)) {
    throw errors.badRequest(
      `merge patch must be a JSON object, got ${Array.isArray(patch) ? "an array" : JSON.stringify(patch)}`,
    );
  }
  return mergePatchValue(cloneJson(original), patch) as T;
}

/**
 * The RFC 7386 merge patch that turns `original` into `modified`: changed and added keys
 * carry the new value, removed keys carry null, nested objects are diffed recursively,
 * arrays and scalars are sent whole. Returns {} when the two are equal.
 */
export function createMergePatch(original: unknown, modified: unknown): JsonObject {
  const diff = diffValue(original, modified);
  if (diff === NO_CHANGE) return {};
  if (!isObject(diff)) {
    throw errors.badRequest("a merge patch can only express changes of a JSON object");
  }
  return diff;
}

const NO_CHANGE = Symbol("no-change");

function diffValue(original: unknown, modified: unknown): unknown {
  if (isObject(original) && isObject(modified)) {
    const patch: JsonObject = {};
    for (const k of Object.keys(original)) {
      if (!Object.hasOwn(modified, k)) patch[k] = null;
    }
    for (const [k, v] of Object.entries(modified)) {
      if (!Object.hasOwn(original, k)) {
        patch[k] = cloneJson(v);
        continue;
      }
      const d = diffValue(original[k], v);
      if (d !== NO_CHANGE) patch[k] = d;
    }
    return Object.keys(patch).length === 0 ? NO_CHANGE : patch;
  }
  if (deepEqual(original, modified)) return NO_CHANGE;
  return cloneJson(modified);
}
