/**
 * Drops fields the schema does not know, as decoding into Go structs does upstream
 * (fieldValidation Warn and Ignore keep the request but lose unknown fields).
 */
import { isPlainObject } from "../api/object.js";
import type { SchemaNode } from "../api/schema-types.js";

export function pruneUnknownFields(value: unknown, node: SchemaNode): void {
  if (node.type === "object") {
    if (!isPlainObject(value)) return;
    for (const key of Object.keys(value)) {
      const child = node.fields[key];
      if (!child) delete value[key];
      else pruneUnknownFields(value[key], child);
    }
  } else if (node.type === "map") {
    if (!isPlainObject(value)) return;
    for (const v of Object.values(value)) pruneUnknownFields(v, node.values);
  } else if (node.type === "array") {
    if (!Array.isArray(value)) return;
    for (const v of value) pruneUnknownFields(v, node.items);
  }
}
