/** Reading request bodies and writing responses the way Kubernetes clients expect. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseYaml } from "yaml";
import { isPlainObject } from "../api/object.js";
import {
  decodeKubernetesProtobuf,
  PROTOBUF_CONTENT_TYPE,
  ProtobufDecodeError,
} from "../api/protobuf/decode.js";
import { errors, type Status, StatusError } from "../api/status.js";

export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > limit) {
    req.resume();
    throw errors.tooLarge("Request entity too large: limit is 3145728");
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.resume();
      throw errors.tooLarge("Request entity too large: limit is 3145728");
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export type BodyFormat =
  | "json"
  | "yaml"
  | "json-patch"
  | "merge-patch"
  | "strategic-merge-patch"
  | "apply-patch";

const PATCH_TYPES: Record<string, BodyFormat> = {
  "application/json-patch+json": "json-patch",
  "application/merge-patch+json": "merge-patch",
  "application/strategic-merge-patch+json": "strategic-merge-patch",
  "application/apply-patch+yaml": "apply-patch",
  "application/apply-patch+cbor": "apply-patch",
};

export function mediaType(req: IncomingMessage): string {
  return String(req.headers["content-type"] ?? "application/json")
    .split(";")[0]!
    .trim()
    .toLowerCase();
}

/** the request body decoded; `allowed` lists the formats the verb takes */
export async function decodeBody(
  req: IncomingMessage,
  allowed: BodyFormat[],
): Promise<{ format: BodyFormat; value: unknown }> {
  const type = mediaType(req);
  let format: BodyFormat | undefined = PATCH_TYPES[type];
  if (!format) {
    if (type === "application/json" || type === "" || type === "*/*") format = "json";
    else if (type === "application/yaml" || type === "application/x-yaml" || type === "text/yaml")
      format = "yaml";
  }
  if (type === PROTOBUF_CONTENT_TYPE && allowed.includes("json")) {
    // kubectl 1.32+ sends typed-client bodies as protobuf; decode them to the JSON shape
    const raw = await readBody(req);
    try {
      return { format: "json", value: decodeKubernetesProtobuf(raw) };
    } catch (e) {
      if (e instanceof ProtobufDecodeError && e.status === 415) {
        throw new StatusError(415, "UnsupportedMediaType", `cannot decode protobuf body: ${e.message}`);
      }
      throw errors.badRequest(`error decoding protobuf: ${(e as Error).message}`);
    }
  }
  if (!format || !allowed.includes(format)) {
    req.resume();
    throw errors.unsupportedMediaType(type);
  }
  const raw = await readBody(req);
  const text = raw.toString("utf8");
  if (!text.trim()) throw errors.badRequest("the request body is empty");
  try {
    if (format === "yaml" || format === "apply-patch")
      return { format, value: parseYaml(text, { strict: true, uniqueKeys: true }) };
    return { format, value: JSON.parse(text) };
  } catch (e) {
    const what = format === "yaml" || format === "apply-patch" ? "yaml" : "json";
    throw errors.badRequest(`error decoding ${what}: ${(e as Error).message.split("\n")[0]}`);
  }
}

export function requireObject(v: unknown, what = "the request body"): Record<string, unknown> {
  if (!isPlainObject(v)) throw errors.badRequest(`${what} must be a JSON object`);
  return v;
}

export interface Negotiated {
  /** "Table", "PartialObjectMetadata", "PartialObjectMetadataList" or undefined for the plain object */
  as?: string;
  /** meta.k8s.io version of the Table / partial metadata */
  version?: string;
}

/** picks the first acceptable representation from the Accept header */
export function negotiate(accept: string | undefined): Negotiated {
  if (!accept) return {};
  let sawAcceptable = false;
  for (const part of accept.split(",")) {
    const [type, ...params] = part.split(";").map((s) => s.trim());
    const p = Object.fromEntries(params.map((x) => x.split("=").map((s) => s.trim()) as [string, string]));
    const t = (type ?? "").toLowerCase();
    if (t !== "application/json" && t !== "*/*" && t !== "application/*" && t !== "application/yaml")
      continue;
    sawAcceptable = true;
    if (p.as) {
      if (
        p.g === "meta.k8s.io" &&
        (p.v === "v1" || p.v === "v1beta1") &&
        ["Table", "PartialObjectMetadata", "PartialObjectMetadataList"].includes(p.as)
      ) {
        return { as: p.as, version: p.v };
      }
      continue;
    }
    return {};
  }
  if (!sawAcceptable)
    throw errors.notAcceptable(
      `only the following media types are accepted: application/json, application/yaml`,
    );
  throw errors.notAcceptable(
    "none of the requested representations is supported (as=Table|PartialObjectMetadata[List] in meta.k8s.io/v1)",
  );
}

export function sendJson(
  res: ServerResponse,
  code: number,
  body: unknown,
  headers: Record<string, string | string[]> = {},
): void {
  if (res.headersSent || res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(code, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendStatus(
  res: ServerResponse,
  err: StatusError | Status,
  headers: Record<string, string | string[]> = {},
): void {
  const status = err instanceof StatusError ? err.toStatus() : err;
  sendJson(res, status.code, status, headers);
}

export function successStatus(details?: Status["details"]): Status {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Success",
    ...(details ? { details } : {}),
    code: 200,
  };
}

export function sendText(
  res: ServerResponse,
  code: number,
  text: string,
  type = "text/plain; charset=utf-8",
): void {
  if (res.headersSent) return;
  res.writeHead(code, { "Content-Type": type, "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

/** a Warning header value in the RFC 7234 form kube-apiserver uses */
export function warningHeader(message: string): string {
  return `299 - ${JSON.stringify(message)}`;
}
