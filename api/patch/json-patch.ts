/**
 * application/json-patch+json (RFC 6902) as the apiserver applies it.
 *
 * Errors follow kube-apiserver: a patch document that is not a list of well-formed
 * operations is 400 BadRequest; an operation that cannot be applied to the object
 * (missing path, failed `test`, index out of range) is 422 Invalid with the upstream
 * message "the server rejected our request due to an error in our request", here followed
 * by which operation failed and why. More than 10000 operations is 413.
 */
import type { Operation } from "fast-json-patch";
// fast-json-patch is CommonJS: under Node's ESM loader only its default export carries the functions
import fjp from "fast-json-patch";
import { errors, StatusError } from "../status.js";
import { cloneJson, isObject } from "./util.js";

export type JsonPatchOperation =
  | { op: "add" | "replace" | "test"; path: string; value: unknown }
  | { op: "remove"; path: string }
  | { op: "move" | "copy"; path: string; from: string };

/** kube-apiserver's limit on operations in one JSON patch */
export const MAX_JSON_PATCH_OPERATIONS = 10000;

const UNPROCESSABLE = "the server rejected our request due to an error in our request";

const OPS = new Set(["add", "remove", "replace", "move", "copy", "test"]);

function describe(op: JsonPatchOperation | Record<string, unknown>, index: number): string {
  const o = op as Record<string, unknown>;
  const from = typeof o.from === "string" ? ` from ${o.from}` : "";
  return `operation ${index} (${String(o.op)} ${String(o.path)}${from})`;
}

/** Checks the shape of a JSON patch document; throws 400 BadRequest when it is malformed. */
export function parseJsonPatch(patch: unknown): JsonPatchOperation[] {
  if (!Array.isArray(patch)) {
    throw errors.badRequest(
      `json: cannot unmarshal ${patch === null ? "null" : typeof patch} into Go value of type jsonpatch.Patch`,
    );
  }
  if (patch.length > MAX_JSON_PATCH_OPERATIONS) {
    throw errors.tooLarge(
      `The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${patch.length}`,
    );
  }
  patch.forEach((op, i) => {
    if (!isObject(op)) throw errors.badRequest(`json patch operation ${i} is not an object`);
    if (typeof op.op !== "string" || !OPS.has(op.op)) {
      throw errors.badRequest(
        `json patch ${describe(op, i)}: unknown or missing "op" (want add, remove, replace, move, copy or test)`,
      );
    }
    if (typeof op.path !== "string") throw errors.badRequest(`json patch ${describe(op, i)}: missing "path"`);
    if (op.path !== "" && !op.path.startsWith("/")) {
      throw errors.badRequest(`json patch ${describe(op, i)}: path must be a JSON pointer starting with "/"`);
    }
    if ((op.op === "add" || op.op === "replace" || op.op === "test") && !Object.hasOwn(op, "value")) {
      throw errors.badRequest(`json patch ${describe(op, i)}: missing "value"`);
    }
    if ((op.op === "move" || op.op === "copy") && typeof op.from !== "string") {
      throw errors.badRequest(`json patch ${describe(op, i)}: missing "from"`);
    }
  });
  return patch as JsonPatchOperation[];
}

function reason(name: string, op: Record<string, unknown>): string {
  switch (name) {
    case "TEST_OPERATION_FAILED":
      return `test failed: value at ${String(op.path)} is not equal to ${JSON.stringify(op.value)}`;
    case "OPERATION_PATH_UNRESOLVABLE":
      return `doc is missing path: ${String(op.path)}`;
    case "OPERATION_FROM_UNRESOLVABLE":
      return `doc is missing from path: ${String(op.from)}`;
    case "OPERATION_PATH_CANNOT_ADD":
      return `doc is missing parent of path: ${String(op.path)}`;
    case "OPERATION_PATH_ILLEGAL_ARRAY_INDEX":
      return `illegal array index in path: ${String(op.path)}`;
    case "OPERATION_VALUE_OUT_OF_BOUNDS":
      return `array index out of bounds in path: ${String(op.path)}`;
    default:
      return name.toLowerCase().replaceAll("_", " ");
  }
}

/**
 * Applies an RFC 6902 patch to `document` and returns the patched copy; `document` and
 * `patch` are never modified, and the result shares no objects with either.
 */
export function applyJsonPatch<T = unknown>(document: T, patch: unknown): T {
  const ops = cloneJson(parseJsonPatch(patch)) as Operation[];
  let doc = cloneJson(document) as unknown;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    try {
      doc = fjp.applyOperation(doc, op, true, true, true, i).newDocument;
    } catch (e) {
      if (e instanceof StatusError) throw e;
      const name = e instanceof fjp.JsonPatchError ? e.name : "";
      const detail = name
        ? reason(name, op as unknown as Record<string, unknown>)
        : String((e as Error).message);
      throw new StatusError(
        422,
        "Invalid",
        `${UNPROCESSABLE}: json patch ${describe(op as unknown as Record<string, unknown>, i)} failed: ${detail}`,
        {
          causes: [{ reason: "FieldValueInvalid", message: detail, field: op.path }],
        },
      );
    }
  }
  return doc as T;
}
