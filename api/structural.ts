/**
 * Walk a decoded JSON object against a SchemaNode and report what kube-apiserver's strict
 * decoder would: fields the schema does not know, and values of the wrong JSON type.
 *
 * Paths are in the apiserver's style: ".spec.foo", ".spec.containers[0].bar",
 * ".metadata.labels.app". Under fieldValidation=Strict the apiserver answers 400 with
 * `strict decoding error: unknown field "spec.foo"` (the path without its leading dot);
 * under Warn it sends each as a Warning header.
 */

import type { SchemaNode } from "./schema-types.js";

export interface FieldTypeError {
  field: string;
  message: string;
}

export interface StructureReport {
  unknownFields: string[];
  typeErrors: FieldTypeError[];
}

function jsonKind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

/** the Go type name encoding/json would print for a schema node */
function goType(node: SchemaNode): string {
  switch (node.type) {
    case "string":
      return "string";
    case "boolean":
      return "bool";
    case "integer":
      return node.format === "int32" ? "int32" : "int64";
    case "number":
      return "float64";
    case "array":
      return `[]${goType(node.items)}`;
    case "map":
      return `map[string]${goType(node.values)}`;
    case "object":
      return node.definition ? `v1.${node.definition.split(".").pop()}` : "struct";
    case "any":
      return node.format === "int-or-string"
        ? "intstr.IntOrString"
        : node.format === "quantity"
          ? "resource.Quantity"
          : "interface {}";
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Check `obj` against `node`. `path` is the JSON path of `obj` itself ("" for the root).
 * null is accepted everywhere (it decodes to the zero value).
 */
export function checkStructure(obj: unknown, node: SchemaNode, path = ""): StructureReport {
  const report: StructureReport = { unknownFields: [], typeErrors: [] };
  walk(obj, node, path, dotted(path), "", report);
  return report;
}

function dotted(path: string): string {
  return path.replace(/\[\d+\]/g, "").replace(/^\./, "");
}

/**
 * @param goPath field names only, dot-joined, as encoding/json prints them ("spec.containers.ports")
 * @param struct short name of the innermost struct type ("PodSpec")
 */
function walk(
  v: unknown,
  node: SchemaNode,
  path: string,
  goPath: string,
  struct: string,
  r: StructureReport,
): void {
  if (v === null || v === undefined) return;
  const mismatch = () => {
    const where = struct ? `Go struct field ${struct}.${goPath}` : "Go value";
    r.typeErrors.push({
      field: path,
      message: `json: cannot unmarshal ${jsonKind(v) === "boolean" ? "bool" : jsonKind(v)} into ${where} of type ${goType(node)}`,
    });
  };
  switch (node.type) {
    case "object": {
      if (!isPlainObject(v)) {
        mismatch();
        return;
      }
      const name = node.definition?.split(".").pop() ?? struct;
      for (const [key, value] of Object.entries(v)) {
        const child = node.fields[key];
        const childPath = `${path}.${key}`;
        if (!child) {
          r.unknownFields.push(childPath);
          continue;
        }
        walk(value, child, childPath, goPath ? `${goPath}.${key}` : key, name, r);
      }
      return;
    }
    case "map": {
      if (!isPlainObject(v)) {
        mismatch();
        return;
      }
      for (const [key, value] of Object.entries(v))
        walk(value, node.values, `${path}.${key}`, goPath, struct, r);
      return;
    }
    case "array": {
      if (!Array.isArray(v)) {
        mismatch();
        return;
      }
      v.forEach((item, i) => {
        walk(item, node.items, `${path}[${i}]`, goPath, struct, r);
      });
      return;
    }
    case "string":
      if (typeof v !== "string") mismatch();
      return;
    case "boolean":
      if (typeof v !== "boolean") mismatch();
      return;
    case "integer":
      if (typeof v !== "number" || !Number.isInteger(v)) mismatch();
      return;
    case "number":
      if (typeof v !== "number") mismatch();
      return;
    case "any":
      if (node.format === "int-or-string") {
        if (typeof v === "string" || (typeof v === "number" && Number.isInteger(v))) return;
        mismatch();
        return;
      }
      if (node.format === "quantity") {
        if (typeof v === "string" || typeof v === "number") return;
        mismatch();
        return;
      }
      return;
  }
}
