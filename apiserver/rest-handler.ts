/**
 * The REST verbs on resources: get, list, watch, create, update, patch, delete,
 * deletecollection, plus the status, scale, binding, eviction and finalize subresources.
 * Decoding, query validation and representation (Table, partial metadata) live here;
 * object semantics live in the registry.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { KubeList, KubeObject, ManagedFieldsEntry } from "../api/object.js";
import { isPlainObject } from "../api/object.js";
import { applyPatch } from "../api/patch/apply.js";
import { applyJsonPatch } from "../api/patch/json-patch.js";
import { applyMergePatch } from "../api/patch/merge-patch.js";
import { strategicMergePatch } from "../api/patch/strategic.js";
import { apiVersionOf, type ResourceInfo } from "../api/resources.js";
import { schemaForKind } from "../api/schema.js";
import type { AnyNode, SchemaNode } from "../api/schema-types.js";
import { labelSelectorFromObject, selectorToString } from "../api/selectors.js";
import { errors, StatusError } from "../api/status.js";
import { checkStructure } from "../api/structural.js";
import { toTable } from "../api/tables.js";
import {
  type BodyFormat,
  decodeBody,
  type Negotiated,
  negotiate,
  requireObject,
  sendJson,
  successStatus,
  warningHeader,
} from "./http-io.js";
import { objectFilter } from "./object-filter.js";
import { pruneUnknownFields } from "./prune.js";
import type { DeleteOptions, Registry } from "./registry.js";
import { queryBool, type RequestInfo } from "./request-info.js";
import { fromStored } from "./versioning.js";
import type { WatchItem } from "./watch-cache.js";

const ANY: AnyNode = { type: "any" };

export interface RestContext {
  registry: Registry;
  user?: { name: string; groups: string[] };
  /** watches end after this when the client gives no timeoutSeconds (randomised per watch) */
  minRequestTimeoutSeconds: number;
  onWatchStart?: (info: ResourceInfo) => () => void;
}

type Query = URLSearchParams;

function intParam(q: Query, name: string, opts: { min?: number; max?: number } = {}): number | undefined {
  const raw = q.get(name);
  if (raw === null || raw === "") return undefined;
  if (!/^-?\d+$/.test(raw)) throw errors.badRequest(`invalid value for ${name}: "${raw}" is not an integer`);
  const n = Number(raw);
  if (
    !Number.isSafeInteger(n) ||
    (opts.min !== undefined && n < opts.min) ||
    (opts.max !== undefined && n > opts.max)
  ) {
    throw errors.badRequest(`invalid value for ${name}: ${raw} is out of range`);
  }
  return n;
}

function resourceVersionParam(q: Query): string | undefined {
  const rv = q.get("resourceVersion");
  if (rv === null || rv === "") return undefined;
  if (!/^\d{1,19}$/.test(rv))
    throw errors.badRequest(`invalid resource version: "${rv}": resourceVersion must be a decimal integer`);
  return rv;
}

function dryRunParam(q: Query): boolean {
  const all = q.getAll("dryRun");
  for (const v of all)
    if (v !== "All") throw errors.badRequest(`Invalid value: "${v}": supported values: "All"`);
  return all.length > 0;
}

type FieldValidation = "Strict" | "Warn" | "Ignore";

function fieldValidationParam(q: Query): FieldValidation {
  const v = q.get("fieldValidation");
  if (v === null || v === "") return "Warn";
  if (v === "Strict" || v === "Warn" || v === "Ignore") return v;
  throw errors.badRequest(`fieldValidation parameter unsupported: "${v}" (use Ignore, Warn or Strict)`);
}

function fieldManagerParam(q: Query, required: boolean): string | undefined {
  const m = q.get("fieldManager");
  if (m === null || m === "") {
    if (required)
      throw errors.badRequest("PATCH requests of type application/apply-patch+yaml must have a fieldManager");
    return undefined;
  }
  if (m.length > 128) throw errors.badRequest(`fieldManager: Too long: may not be longer than 128`);
  if (!/^[\x20-\x7e]+$/.test(m))
    throw errors.badRequest("fieldManager: Invalid value: must only contain printable characters");
  return m;
}

function defaultFieldManager(req: IncomingMessage): string {
  const ua = String(req.headers["user-agent"] ?? "unknown");
  return ua.split("/")[0]!.slice(0, 128) || "unknown";
}

function schemaOf(info: ResourceInfo): SchemaNode {
  return schemaForKind(apiVersionOf(info), info.kind) ?? ANY;
}

/** unknown fields and type errors per fieldValidation; returns warnings to send */
function checkFields(
  info: ResourceInfo,
  obj: Record<string, unknown>,
  mode: FieldValidation,
  schema = schemaOf(info),
): string[] {
  const { unknownFields, typeErrors } = checkStructure(obj, schema);
  if (typeErrors.length) {
    throw errors.badRequest(
      `${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: ${typeErrors.map((e) => `${e.field}: ${e.message}`).join("; ")}`,
    );
  }
  if (!unknownFields.length) return [];
  const names = unknownFields.map((f) => f.replace(/^\./, ""));
  if (mode === "Strict") {
    throw errors.badRequest(`strict decoding error: ${names.map((n) => `unknown field "${n}"`).join(", ")}`);
  }
  pruneUnknownFields(obj, schema);
  return mode === "Warn" ? names.map((n) => `unknown field "${n}"`) : [];
}

function checkTypeMeta(
  info: ResourceInfo,
  obj: Record<string, unknown>,
  expectedKind = info.kind,
  expectedVersion = apiVersionOf(info),
): void {
  if (obj.apiVersion !== undefined && obj.apiVersion !== expectedVersion) {
    throw errors.badRequest(
      `the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${expectedVersion})`,
    );
  }
  if (obj.kind !== undefined && obj.kind !== expectedKind) {
    throw errors.badRequest(
      `the kind in the data (${String(obj.kind)}) does not match the expected kind (${expectedKind})`,
    );
  }
  if (obj.metadata !== undefined && !isPlainObject(obj.metadata))
    throw errors.badRequest("metadata must be an object");
}

function checkNamespace(info: ResourceInfo, ri: RequestInfo, obj: KubeObject): void {
  if (!info.namespaced) return;
  const ns = obj.metadata?.namespace;
  if (ns !== undefined && ns !== "" && ns !== ri.namespace) {
    throw errors.badRequest(
      "the namespace of the provided object does not match the namespace sent on the request",
    );
  }
}

function represent(info: ResourceInfo, neg: Negotiated, obj: KubeObject, q: Query): unknown {
  if (neg.as === "Table")
    return toTable(info, [obj], {
      includeObject: includeObjectParam(q),
      listMeta: { resourceVersion: obj.metadata.resourceVersion },
    });
  if (neg.as === "PartialObjectMetadata") return partial(obj, neg.version);
  if (neg.as === "PartialObjectMetadataList")
    throw errors.notAcceptable("PartialObjectMetadataList is only served for lists");
  return obj;
}

function partial(obj: KubeObject, version = "v1"): KubeObject {
  return { kind: "PartialObjectMetadata", apiVersion: `meta.k8s.io/${version}`, metadata: obj.metadata };
}

function representList(info: ResourceInfo, neg: Negotiated, list: KubeList, q: Query): unknown {
  if (neg.as === "Table")
    return toTable(info, list.items, { includeObject: includeObjectParam(q), listMeta: list.metadata });
  if (neg.as === "PartialObjectMetadataList" || neg.as === "PartialObjectMetadata") {
    return {
      kind: "PartialObjectMetadataList",
      apiVersion: `meta.k8s.io/${neg.version ?? "v1"}`,
      metadata: list.metadata,
      items: list.items.map((o) => partial(o, neg.version)),
    };
  }
  return list;
}

function includeObjectParam(q: Query): "None" | "Metadata" | "Object" {
  const v = q.get("includeObject");
  if (!v) return "Metadata";
  if (v === "None" || v === "Metadata" || v === "Object") return v;
  throw errors.badRequest(`includeObject: unsupported value "${v}" (None, Metadata or Object)`);
}

function deleteOptions(q: Query, body: Record<string, unknown> | undefined): DeleteOptions {
  const opts: DeleteOptions = {};
  const grace =
    intParam(q, "gracePeriodSeconds", { min: 0 }) ??
    (typeof body?.gracePeriodSeconds === "number" ? body.gracePeriodSeconds : undefined);
  if (grace !== undefined) opts.gracePeriodSeconds = grace;
  const policy = q.get("propagationPolicy") ?? (body?.propagationPolicy as string | undefined);
  const orphan = q.get("orphanDependents") ?? (body?.orphanDependents as boolean | string | undefined);
  if (policy) {
    if (policy !== "Orphan" && policy !== "Background" && policy !== "Foreground") {
      throw errors.badRequest(
        `propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`,
      );
    }
    opts.propagationPolicy = policy;
  } else if (orphan === true || orphan === "true") opts.propagationPolicy = "Orphan";
  const pre = body?.preconditions;
  if (isPlainObject(pre))
    opts.preconditions = {
      uid: pre.uid as string | undefined,
      resourceVersion: pre.resourceVersion as string | undefined,
    };
  const dry = body?.dryRun;
  if (Array.isArray(dry) && dry.includes("All")) opts.dryRun = true;
  if (dryRunParam(q)) opts.dryRun = true;
  return opts;
}

function scaleOf(obj: KubeObject): KubeObject {
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  const status = (obj.status ?? {}) as Record<string, unknown>;
  const selector = isPlainObject(spec.selector)
    ? selectorToString(labelSelectorFromObject(spec.selector))
    : "";
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: {
      name: obj.metadata.name,
      namespace: obj.metadata.namespace,
      uid: obj.metadata.uid,
      resourceVersion: obj.metadata.resourceVersion,
      creationTimestamp: obj.metadata.creationTimestamp,
    },
    spec: { replicas: (spec.replicas as number | undefined) ?? 0 },
    status: { replicas: (status.replicas as number | undefined) ?? 0, selector },
  };
}

/** waits for 'drain'; false when the response closed first. Removes its listeners either way. */
function drained(res: ServerResponse): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const finish = (ok: boolean) => {
      res.off("drain", onDrain);
      res.off("close", onClose);
      resolve(ok);
    };
    const onDrain = () => finish(true);
    const onClose = () => finish(false);
    res.on("drain", onDrain);
    res.on("close", onClose);
  });
}

/** a JSON response with one Warning header per distinct warning */
function respond(res: ServerResponse, code: number, body: unknown, warnings: string[]): void {
  sendJson(res, code, body, warnings.length ? { Warning: [...new Set(warnings)].map(warningHeader) } : {});
}

export class RestHandler {
  constructor(private readonly ctx: RestContext) {}

  private get registry(): Registry {
    return this.ctx.registry;
  }

  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    ri: RequestInfo,
    info: ResourceInfo,
    q: Query,
  ): Promise<void> {
    const sub = ri.subresource;
    if (sub !== undefined) {
      const known =
        info.subresources?.find((s) => s.name === sub) ??
        (sub === "finalize" && info.resource === "namespaces"
          ? { name: "finalize", verbs: ["update"] }
          : undefined);
      if (!known) throw errors.pathNotFound(ri.path);
      if (!(known.verbs as string[]).includes(ri.verb))
        throw errors.methodNotAllowed(`the server does not allow this method on the requested resource`);
      return this.subresource(req, res, ri, info, q, sub);
    }
    if (info.namespaced && ri.namespace === undefined && !["list", "watch"].includes(ri.verb)) {
      if (ri.verb === "create" || ri.verb === "deletecollection") throw errors.pathNotFound(ri.path);
      throw errors.pathNotFound(ri.path);
    }
    if (!info.namespaced && ri.namespace !== undefined && info.resource !== "namespaces")
      throw errors.pathNotFound(ri.path);
    if (!(info.verbs as string[]).includes(ri.verb))
      throw errors.methodNotAllowed(`the server does not allow this method on the requested resource`);
    // POST names a collection; PUT and PATCH name one object
    const named = ri.name !== undefined;
    if ((ri.verb === "create" && named) || ((ri.verb === "update" || ri.verb === "patch") && !named)) {
      throw errors.methodNotAllowed(`the server does not allow this method on the requested resource`);
    }
    switch (ri.verb) {
      case "get":
        return this.get(req, res, ri, info, q);
      case "list":
        return this.list(req, res, ri, info, q);
      case "watch":
        return this.watch(req, res, ri, info, q);
      case "create":
        return this.create(req, res, ri, info, q);
      case "update":
        return this.update(req, res, ri, info, q);
      case "patch":
        return this.patch(req, res, ri, info, q);
      case "delete":
        return this.delete(req, res, ri, info, q);
      case "deletecollection":
        return this.deleteCollection(req, res, ri, info, q);
      default:
        throw errors.methodNotAllowed(`verb ${ri.verb} is not supported`);
    }
  }

  private async get(
    req: IncomingMessage,
    res: ServerResponse,
    ri: RequestInfo,
    info: ResourceInfo,
    q: Query,
  ): Promise<void> {
    const neg = negotiate(req.headers.accept);
    resourceVersionParam(q);
    const obj = await this.registry.get(info, ri.namespace, ri.name!);
    sendJson(res, 200, represent(info, neg, obj, q));
  }

  private async list(
    req: IncomingMessage,
    res: ServerResponse,
    ri: RequestInfo,
    info: ResourceInfo,
    q: Query,
  ): Promise<void> {
    const neg = negotiate(req.headers.accept);
    const limit = intParam(q, "limit", { min: 0 });
    const rv = resourceVersionParam(q);
    const rvMatch = q.get("resourceVersionMatch") ?? undefined;
    if (rvMatch && !["Exact", "NotOlderThan"].includes(rvMatch))
      throw errors.badRequest(
        `resourceVersionMatch: Unsupported value: "${rvMatch}": supported values: "Exact", "NotOlderThan"`,
      );
    if (rvMatch && !rv)
      throw errors.badRequest("resourceVersionMatch is forbidden unless resourceVersion is provided");
    if (rvMatch === "Exact" && rv === "0")
      throw errors.badRequest('resourceVersionMatch "exact" is forbidden for resourceVersion "0"');
    const cont = q.get("continue") ?? undefined;
    if (cont && rv) throw errors.badRequest("specifying resource version is not allowed when using continue");
    const filter = objectFilter(info, ri.namespace, q);
    const list = await this.registry.list(info, {
      namespace: ri.namespace,
      limit,
      continue: cont,
      resourceVersion: rv,
      resourceVersionMatch: rvMatch,
      filter: filter.everything ? undefined : filter.matches,
    });
    sendJson(res, 200, representList(info, neg, list, q));
  }

  private async watch(
    req: IncomingMessage,
    res: ServerResponse,
    ri: RequestInfo,
    info: ResourceInfo,
    q: Query,
  ): Promise<void> {
    const neg = negotiate(req.headers.accept);
    const rv = resourceVersionParam(q);
    const timeout = intParam(q, "timeoutSeconds", { min: 0, max: 24 * 3600 });
    const bookmarks = queryBool(q.get("allowWatchBookmarks"));
    // absent means "the default": initial state when no resourceVersion is given
    const sendInitialEvents = q.has("sendInitialEvents") ? queryBool(q.get("sendInitialEvents")) : undefined;
    if (sendInitialEvents && !bookmarks)
      throw errors.badRequest("sendInitialEvents requires allowWatchBookmarks=true");
    if (ri.name !== undefined)
      q.set("fieldSelector", [q.get("fieldSelector"), `metadata.name=${ri.name}`].filter(Boolean).join(","));
    const filter = objectFilter(info, ri.namespace, q);
    const cache = this.registry.cacheFor(info);
    if (!cache) throw errors.methodNotAllowed(`watch is not supported on ${info.resource}`);
    const fromRevision = rv === undefined || rv === "0" ? undefined : Number(rv);
    // no resourceVersion means "the most recent state": give the cache a moment to catch up with
    // storage, so an object written just before the watch is part of its initial events. The
    // revision is global; on etcd a quiet prefix only advances with progress notifications, so
    // the wait is bounded and a timeout just serves what the cache has.
    if (rv === undefined) {
      const current = await this.registry.storage.currentRevision();
      await cache.waitForRevision(current, 1000).catch(() => undefined);
    }
    const watcher = cache.watch({
      fromRevision,
      filter: (obj) => filter.matches(info.storedAs ? fromStored(info, obj) : obj),
      bookmarks,
      sendInitialEvents,
    });
    const done = this.ctx.onWatchStart?.(info);
    const seconds = timeout ?? this.ctx.minRequestTimeoutSeconds * (1 + Math.random());
    const timer = setTimeout(() => watcher.close(), seconds * 1000);
    const close = () => watcher.close();
    req.on("close", close);
    res.on("close", close);
    res.writeHead(200, {
      "Content-Type": "application/json",
      "Cache-Control": "no-cache, private",
      "Transfer-Encoding": "chunked",
    });
    res.flushHeaders();
    const apiVersion = apiVersionOf(info);
    const includeObject = includeObjectParam(q);
    try {
      for await (const first of watcher) {
        // send everything already queued in one write, so a busy stream costs one syscall per batch
        let chunk = "";
        let item: WatchItem | undefined = first;
        let ended = false;
        while (item) {
          chunk += this.watchLine(info, neg, item, apiVersion, includeObject);
          if (item.type === "ERROR" || chunk.length > 1 << 20) {
            ended = item.type === "ERROR";
            break;
          }
          item = watcher.tryNext();
        }
        if (!res.write(chunk) && !(await drained(res))) break;
        if (ended) break;
      }
    } finally {
      clearTimeout(timer);
      req.off("close", close);
      watcher.close();
      done?.();
      if (!res.writableEnded) res.end();
    }
  }

  private watchLine(
    info: ResourceInfo,
    neg: Negotiated,
    item: WatchItem,
    apiVersion: string,
    includeObject: "None" | "Metadata" | "Object",
  ): string {
    if (item.type === "BOOKMARK") {
      const metadata: Record<string, unknown> = { resourceVersion: String(item.revision) };
      if (item.initialEventsEnd) metadata.annotations = { "k8s.io/initial-events-end": "true" };
      return `{"type":"BOOKMARK","object":${JSON.stringify({ kind: info.kind, apiVersion, metadata })}}\n`;
    }
    if (item.type === "ERROR") {
      const status = new StatusError(item.code, item.reason as never, item.message).toStatus();
      return `{"type":"ERROR","object":${JSON.stringify(status)}}\n`;
    }
    if (!neg.as && !info.storedAs) {
      // the common case: the cache serialised the object once for all watchers
      return `{"type":"${item.type}","object":${item.json()}}\n`;
    }
    const obj = info.storedAs ? fromStored(info, item.object) : item.object;
    let out: unknown = obj;
    if (neg.as === "Table")
      out = toTable(info, [obj], {
        includeObject,
        listMeta: { resourceVersion: obj.metadata.resourceVersion },
      });
    else if (neg.as) out = partial(obj, neg.version);
    return `{"type":"${item.type}","object":${JSON.stringify(out)}}\n`;
  }

  /** the body of a create or update: decoded, type meta and fields checked, namespace matched */
  private async decodeObject(
    req: IncomingMessage,
    ri: RequestInfo,
    info: ResourceInfo,
    mode: FieldValidation,
  ): Promise<{ obj: KubeObject; warnings: string[] }> {
    const { value } = await decodeBody(req, ["json", "yaml"]);
    const body = requireObject(value);
    checkTypeMeta(info, body);
    const warnings = checkFields(info, body, mode);
    const obj = body as unknown as KubeObject;
    obj.metadata ??= {};
    checkNamespace(info, ri, obj);
    return { obj, warnings };
  }

  private async create(
    req: IncomingMessage,
    res: ServerResponse,
    ri: RequestInfo,
    info: ResourceInfo,
    q: Query,
  ): Promise<void> {
    const neg = negotiate(req.headers.accept);
    const dryRun = dryRunParam(q);
    const manager = fieldManagerParam(q, false) ?? defaultFieldManager(req);
    const { obj, warnings } = await this.decodeObject(req, ri, info, fieldValidationParam(q));
    const created = await this.registry.create(info, ri.namespace, obj, { dryRun, fieldManager: manager });
    respond(res, 201, represent(info, neg, created, q), warnings);
  }

  private async update(
    req: IncomingMessage,
    res: ServerResponse,
    ri: RequestInfo,
    info: ResourceInfo,
    q: Query,
    subresource?: string,
  ): Promise<void> {
    const neg = negotiate(req.headers.accept);
    const dryRun = dryRunParam(q);
    const manager = fieldManagerParam(q, false) ?? defaultFieldManager(req);
    const { obj, warnings } = await this.decodeObject(req, ri, info, fieldValidationParam(q));
    if (obj.metadata.name !== undefined && obj.metadata.name !== ri.name) {
      throw errors.badRequest(
        `the name of the object (${obj.metadata.name}) does not match the name on the URL (${ri.name})`,
      );
    }
    const updated = await this.registry.update(info, ri.namespace, ri.name!, () => obj, {
      dryRun,
      fieldManager: manager,
      subresource,
    });
    respond(res, 200, represent(info, neg, updated, q), warnings);
  }

  /** the patched object; a missing object is only fine for server-side apply (it creates) */
  private patchObject(
    format: BodyFormat,
    current: KubeObject | undefined,
    patch: unknown,
    schema: SchemaNode,
  ): KubeObject {
    if (!current) throw errors.internal("patch of a missing object");
    switch (format) {
      case "json-patch":
        if (!Array.isArray(patch)) throw errors.badRequest("json patch must be an array of operations");
        return applyJsonPatch(current, patch) as KubeObject;
      case "merge-patch":
        return applyMergePatch(current, requireObject(patch, "merge patch")) as KubeObject;
      case "strategic-merge-patch":
        return strategicMergePatch(
          current,
          requireObject(patch, "strategic merge patch"),
          schema,
        ) as KubeObject;
      default:
        throw errors.unsupportedMediaType(format);
    }
  }

  private async patch(
    req: IncomingMessage,
    res: ServerResponse,
    ri: RequestInfo,
    info: ResourceInfo,
    q: Query,
    subresource?: string,
  ): Promise<void> {
    const neg = negotiate(req.headers.accept);
    const dryRun = dryRunParam(q);
    const mode = fieldValidationParam(q);
    const { format, value } = await decodeBody(req, [
      "json-patch",
      "merge-patch",
      "strategic-merge-patch",
      "apply-patch",
    ]);
    const isApply = format === "apply-patch";
    const manager = fieldManagerParam(q, isApply) ?? defaultFieldManager(req);
    const force = queryBool(q.get("force"));
    if (q.get("force") !== null && !isApply)
      throw errors.badRequest("force is only supported for server-side apply (application/apply-patch+yaml)");
    const schema = schemaOf(info);
    const warnings: string[] = [];

    if (isApply) {
      const applied = requireObject(value, "apply configuration");
      checkTypeMeta(info, applied);
      if (!applied.apiVersion || !applied.kind)
        throw errors.badRequest("apiVersion and kind must be set in an apply configuration");
      warnings.push(...checkFields(info, applied, mode, schema));
      const meta = (applied.metadata ?? {}) as Record<string, unknown>;
      if (meta.name !== undefined && meta.name !== ri.name) {
        throw errors.badRequest(
          `the name of the object (${String(meta.name)}) does not match the name on the URL (${ri.name})`,
        );
      }
      checkNamespace(info, ri, applied as unknown as KubeObject);
      const current = await this.registry.tryGet(info, ri.namespace, ri.name!);
      if (!current) {
        if (subresource) throw errors.notFound(info.group, info.resource, ri.name!);
        const result = applyPatch(undefined, applied as unknown as KubeObject, {
          manager,
          force,
          schema,
          apiVersion: apiVersionOf(info),
        });
        const obj = result.object;
        obj.metadata = {
          ...obj.metadata,
          name: ri.name,
          managedFields: result.managedFields as ManagedFieldsEntry[],
        };
        const created = await this.registry.create(info, ri.namespace, obj, {
          dryRun,
          fieldManager: manager,
          managedFields: result.managedFields,
        });
        respond(res, 201, represent(info, neg, created, q), warnings);
        return;
      }
      const updated = await this.registry.update(
        info,
        ri.namespace,
        ri.name!,
        (cur) => {
          const result = applyPatch(cur, applied as unknown as KubeObject, {
            manager,
            force,
            schema,
            apiVersion: apiVersionOf(info),
            subresource,
          });
          result.object.metadata.managedFields = result.managedFields;
          result.object.metadata.resourceVersion = cur.metadata.resourceVersion;
          return result.object;
        },
        { dryRun, fieldManager: manager, subresource, managedFields: "keep" },
      );
      respond(res, 200, represent(info, neg, updated, q), warnings);
      return;
    }

    const updated = await this.registry.update(
      info,
      ri.namespace,
      ri.name!,
      (cur) => {
        const rvBefore = cur.metadata.resourceVersion;
        const patched = this.patchObject(format, cur, value, schema);
        if (!isPlainObject(patched) || !isPlainObject(patched.metadata))
          throw errors.badRequest("the patch removed the object's metadata");
        checkTypeMeta(info, patched);
        warnings.push(...checkFields(info, patched, mode, schema));
        if (patched.metadata.name !== cur.metadata.name)
          throw errors.badRequest(
            `the name of the object (${patched.metadata.name}) does not match the name on the URL (${ri.name})`,
          );
        // a patch that does not name a resourceVersion applies to whatever is current
        if (patched.metadata.resourceVersion === undefined || patched.metadata.resourceVersion === rvBefore)
          patched.metadata.resourceVersion = rvBefore;
        return patched;
      },
      { dryRun, fieldManager: manager, subresource },
    );
    respond(res, 200, represent(info, neg, updated, q), warnings);
  }

  private async readDeleteBody(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
    const length = Number(req.headers["content-length"] ?? "0");
    const chunked = req.headers["transfer-encoding"] !== undefined;
    if (!length && !chunked) return undefined;
    const { value } = await decodeBody(req, ["json", "yaml"]);
    if (value === null || value === undefined) return undefined;
    return requireObject(value, "DeleteOptions");
  }

  private async delete(
    req: IncomingMessage,
    res: ServerResponse,
    ri: RequestInfo,
    info: ResourceInfo,
    q: Query,
  ): Promise<void> {
    const neg = negotiate(req.headers.accept);
    const opts = deleteOptions(q, await this.readDeleteBody(req));
    const { object } = await this.registry.delete(info, ri.namespace, ri.name!, opts);
    sendJson(res, 200, represent(info, neg, object, q));
  }

  private async deleteCollection(
    req: IncomingMessage,
    res: ServerResponse,
    ri: RequestInfo,
    info: ResourceInfo,
    q: Query,
  ): Promise<void> {
    const opts = deleteOptions(q, await this.readDeleteBody(req));
    const filter = objectFilter(info, ri.namespace, q);
    const list = await this.registry.list(info, { namespace: ri.namespace, filter: filter.matches });
    const deleted: KubeObject[] = [];
    for (const item of list.items) {
      try {
        deleted.push(
          (await this.registry.delete(info, item.metadata.namespace, item.metadata.name!, opts)).object,
        );
      } catch (e) {
        if (!(e instanceof StatusError && e.code === 404)) throw e;
      }
    }
    sendJson(res, 200, { ...list, items: deleted });
  }

  private async subresource(
    req: IncomingMessage,
    res: ServerResponse,
    ri: RequestInfo,
    info: ResourceInfo,
    q: Query,
    sub: string,
  ): Promise<void> {
    switch (sub) {
      case "status":
        if (ri.verb === "get") return this.get(req, res, ri, info, q);
        if (ri.verb === "update") return this.update(req, res, ri, info, q, "status");
        return this.patch(req, res, ri, info, q, "status");
      case "scale":
        return this.scale(req, res, ri, info, q);
      case "binding":
        return this.binding(req, res, ri, info, q);
      case "eviction":
        return this.eviction(req, res, ri, info, q);
      case "finalize":
        return this.finalize(req, res, ri, info, q);
      case "log":
        throw errors.unavailable(
          `pods/log is served by the node's kubelet; no kubelet serves pod "${ri.name}" yet`,
        );
      default:
        throw errors.pathNotFound(ri.path);
    }
  }

  private async scale(
    req: IncomingMessage,
    res: ServerResponse,
    ri: RequestInfo,
    info: ResourceInfo,
    q: Query,
  ): Promise<void> {
    if (ri.verb === "get") {
      const obj = await this.registry.get(info, ri.namespace, ri.name!);
      sendJson(res, 200, scaleOf(obj));
      return;
    }
    const dryRun = dryRunParam(q);
    const manager = fieldManagerParam(q, false) ?? defaultFieldManager(req);
    let desired: (scale: KubeObject) => KubeObject;
    if (ri.verb === "update") {
      const { value } = await decodeBody(req, ["json", "yaml"]);
      const body = requireObject(value) as unknown as KubeObject;
      checkTypeMeta(info, body as unknown as Record<string, unknown>, "Scale", "autoscaling/v1");
      desired = () => body;
    } else {
      const { format, value } = await decodeBody(req, ["json-patch", "merge-patch", "strategic-merge-patch"]);
      desired = (scale) => this.patchObject(format, scale, value, ANY);
    }
    const updated = await this.registry.update(
      info,
      ri.namespace,
      ri.name!,
      (cur) => {
        const next = desired(scaleOf(cur));
        const replicas = (next.spec as Record<string, unknown> | undefined)?.replicas;
        if (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0) {
          throw errors.invalid("autoscaling", "Scale", ri.name!, [
            {
              reason: "FieldValueInvalid",
              field: "spec.replicas",
              message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`,
            },
          ]);
        }
        const rv = next.metadata?.resourceVersion;
        return {
          ...cur,
          metadata: { ...cur.metadata, resourceVersion: rv || cur.metadata.resourceVersion },
          spec: { ...(cur.spec as object), replicas },
        };
      },
      { dryRun, fieldManager: manager, subresource: "scale" },
    );
    sendJson(res, 200, scaleOf(updated));
  }

  private async binding(
    req: IncomingMessage,
    res: ServerResponse,
    ri: RequestInfo,
    info: ResourceInfo,
    q: Query,
  ): Promise<void> {
    const dryRun = dryRunParam(q);
    const { value } = await decodeBody(req, ["json", "yaml"]);
    const body = requireObject(value);
    const target = body.target as Record<string, unknown> | undefined;
    const node = target?.name;
    if (typeof node !== "string" || !node) {
      throw errors.invalid("", "Binding", ri.name!, [
        { reason: "FieldValueRequired", field: "target.name", message: "Required value" },
      ]);
    }
    await this.registry.update(
      info,
      ri.namespace,
      ri.name!,
      (pod) => {
        const spec = (pod.spec ?? {}) as Record<string, unknown>;
        if (spec.nodeName)
          throw errors.conflict(
            "",
            "pods",
            ri.name!,
            `pod ${ri.name} is already assigned to node "${String(spec.nodeName)}"`,
          );
        if (pod.metadata.deletionTimestamp)
          throw errors.conflict(
            "",
            "pods",
            ri.name!,
            `pod ${ri.name} is being deleted, cannot be assigned to a host`,
          );
        const status = (pod.status ?? {}) as Record<string, unknown>;
        const conditions = ((status.conditions as Record<string, unknown>[] | undefined) ?? []).filter(
          (c) => c.type !== "PodScheduled",
        );
        conditions.push({
          type: "PodScheduled",
          status: "True",
          lastProbeTime: null,
          lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
        });
        return { ...pod, spec: { ...spec, nodeName: node }, status: { ...status, conditions } };
      },
      { dryRun, fieldManager: defaultFieldManager(req), subresource: "binding" },
    );
    sendJson(res, 201, { ...successStatus(), code: 201 });
  }

  private async eviction(
    req: IncomingMessage,
    res: ServerResponse,
    ri: RequestInfo,
    info: ResourceInfo,
    q: Query,
  ): Promise<void> {
    const { value } = await decodeBody(req, ["json", "yaml"]);
    const body = requireObject(value);
    const opts = deleteOptions(q, isPlainObject(body.deleteOptions) ? body.deleteOptions : undefined);
    await this.registry.delete(info, ri.namespace, ri.name!, opts);
    sendJson(res, 201, { ...successStatus(), code: 201 });
  }

  private async finalize(
    req: IncomingMessage,
    res: ServerResponse,
    ri: RequestInfo,
    info: ResourceInfo,
    q: Query,
  ): Promise<void> {
    const neg = negotiate(req.headers.accept);
    const dryRun = dryRunParam(q);
    const { value } = await decodeBody(req, ["json", "yaml"]);
    const body = requireObject(value);
    const finalizers =
      ((body.spec as Record<string, unknown> | undefined)?.finalizers as string[] | undefined) ?? [];
    const updated = await this.registry.update(
      info,
      undefined,
      ri.name!,
      (ns) => ({
        ...ns,
        metadata: {
          ...ns.metadata,
          resourceVersion:
            (body.metadata as Record<string, string> | undefined)?.resourceVersion ??
            ns.metadata.resourceVersion,
        },
        spec: { ...(ns.spec as object), finalizers },
      }),
      { dryRun, fieldManager: defaultFieldManager(req), subresource: "finalize" },
    );
    sendJson(res, 200, represent(info, neg, updated, q));
  }
}
