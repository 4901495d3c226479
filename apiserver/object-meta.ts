/** Small pure helpers on object metadata used by the registry and strategies. */
import { randomBytes, randomUUID } from "node:crypto";
import type { KubeObject } from "../api/object.js";

export function nowTimestamp(date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

const NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

/** generateName suffix: 5 characters from the same consonant-and-digit alphabet upstream uses */
export function generateNameSuffix(): string {
  const bytes = randomBytes(5);
  let out = "";
  for (const b of bytes) out += NAME_ALPHABET[b % NAME_ALPHABET.length];
  return out;
}

export function newUid(): string {
  return randomUUID();
}

export function deepClone<T>(v: T): T {
  return structuredClone(v);
}

/** everything except metadata and status: a change here bumps metadata.generation */
export function specPart(obj: KubeObject): Record<string, unknown> {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = obj;
  return rest;
}

export function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, value) => {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      );
    }
    return value;
  });
}

export function sameJson(a: unknown, b: unknown): boolean {
  return stableJson(a) === stableJson(b);
}
