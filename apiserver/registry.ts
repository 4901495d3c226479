/**
 * The generic object store behind every REST resource: keys, optimistic concurrency,
 * metadata bookkeeping (uid, generation, timestamps, managedFields), finalizers and
 * graceful deletion, with per-kind behaviour plugged in through strategies.
 *
 * Objects enter and leave in the version the request speaks; storage keeps one version
 * per resource (see versioning.ts).
 */
import { applyDefaults } from "../api/defaults.js";
import type { KubeList, KubeObject, ManagedFieldsEntry } from "../api/object.js";
import { type FieldManagerOptions, updateManagedFields } from "../api/patch/managed-fields.js";
import { apiVersionOf, type ResourceInfo } from "../api/resources.js";
import { schemaForKind } from "../api/schema.js";
import { errors, StatusError } from "../api/status.js";
import { validateCreate, validateUpdate } from "../api/validation.js";
import { deepClone, generateNameSuffix, newUid, nowTimestamp, sameJson, specPart } from "./object-meta.js";
import {
  CompactedError,
  KeyExistsError,
  KeyNotFoundError,
  type KeyValue,
  RevisionMismatchError,
  type Storage,
} from "./storage/types.js";
import { type Strategy, strategyFor } from "./strategies.js";
import { fromStored, storedApiVersion, toStored } from "./versioning.js";
import type { WatchCache } from "./watch-cache.js";

export interface WriteOptions {
  dryRun?: boolean;
  fieldManager?: string;
  /** subresource being written: "status" keeps everything but status from the stored object */
  subresource?: string;
  /** server-side apply computed managedFields itself: an entry list on create, "keep" on update */
  managedFields?: ManagedFieldsEntry[] | "keep";
  /** the apiserver's own bootstrap writes (e.g. loopback endpoints of default/kubernetes) */
  skipValidation?: boolean;
}

/** subresources whose handlers compute the whole next object themselves */
const WHOLE_OBJECT_SUBRESOURCES = new Set(["binding", "scale", "finalize"]);

export interface DeleteOptions {
  dryRun?: boolean;
  gracePeriodSeconds?: number;
  propagationPolicy?: "Orphan" | "Background" | "Foreground";
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface ListOptions {
  namespace?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
  filter?: (obj: KubeObject) => boolean;
}

/** what strategies may use: the registry itself (to read other objects) plus shared services */
export interface RegistryContext {
  registry: Registry;
  storage: Storage;
}

interface ContinueToken {
  rv: number;
  start: string;
}

function encodeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", rv: t.rv, start: t.start })).toString("base64url");
}

function decodeContinue(s: string): ContinueToken {
  try {
    const t = JSON.parse(Buffer.from(s, "base64url").toString("utf8")) as {
      v?: string;
      rv?: number;
      start?: string;
    };
    if (t.v !== "meta.k8s.io/v1" || typeof t.rv !== "number" || typeof t.start !== "string" || t.rv <= 0)
      throw new Error();
    return { rv: t.rv, start: t.start };
  } catch {
    throw errors.badRequest(
      "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
    );
  }
}

export class Registry {
  private readonly services: Record<string, unknown> = {};

  constructor(
    readonly storage: Storage,
    readonly caches: Map<string, WatchCache>,
  ) {}

  /** shared helpers strategies need (allocators, configuration) registered by the server */
  provide(name: string, service: unknown): void {
    this.services[name] = service;
  }

  service<T>(name: string): T {
    const s = this.services[name];
    if (s === undefined) throw new Error(`registry service ${name} not provided`);
    return s as T;
  }

  key(info: ResourceInfo, namespace: string | undefined, name: string): string {
    return info.namespaced
      ? `/registry/${info.storagePrefix}/${namespace}/${name}`
      : `/registry/${info.storagePrefix}/${name}`;
  }

  prefix(info: ResourceInfo, namespace?: string): string {
    return info.namespaced && namespace
      ? `/registry/${info.storagePrefix}/${namespace}/`
      : `/registry/${info.storagePrefix}/`;
  }

  cacheFor(info: ResourceInfo): WatchCache | undefined {
    return this.caches.get(info.storagePrefix);
  }

  decode(info: ResourceInfo, kv: KeyValue): KubeObject {
    const stored = JSON.parse(kv.value) as KubeObject;
    stored.metadata.resourceVersion = String(kv.modRevision);
    return fromStored(info, stored);
  }

  private encode(stored: KubeObject): string {
    const copy = { ...stored, metadata: { ...stored.metadata } };
    delete copy.metadata.resourceVersion;
    return JSON.stringify(copy);
  }

  private notFound(info: ResourceInfo, name: string): StatusError {
    return errors.notFound(info.group, info.resource, name);
  }

  async getStored(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
  ): Promise<KeyValue | undefined> {
    return this.storage.get(this.key(info, namespace, name));
  }

  async get(info: ResourceInfo, namespace: string | undefined, name: string): Promise<KubeObject> {
    const kv = await this.getStored(info, namespace, name);
    if (!kv) throw this.notFound(info, name);
    return this.decode(info, kv);
  }

  async tryGet(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
  ): Promise<KubeObject | undefined> {
    const kv = await this.getStored(info, namespace, name);
    return kv ? this.decode(info, kv) : undefined;
  }

  async list(info: ResourceInfo, opts: ListOptions = {}): Promise<KubeList> {
    const filter = opts.filter ?? (() => true);
    const listKind = `${info.kind}List`;
    const apiVersion = apiVersionOf(info);
    const cache = this.cacheFor(info);
    // resourceVersion=0 without a continue token: any recent state will do, serve it from the watch cache
    if (opts.resourceVersion === "0" && !opts.continue && cache) {
      const snap = cache.list();
      const prefix = this.prefix(info, opts.namespace);
      const items: KubeObject[] = [];
      for (const obj of snap.items) {
        const key = this.key(info, obj.metadata.namespace, obj.metadata.name!);
        if (!key.startsWith(prefix)) continue;
        const out = info.storedAs ? fromStored(info, obj) : { ...obj, apiVersion, kind: info.kind };
        if (filter(out)) items.push(out);
      }
      return { apiVersion, kind: listKind, metadata: { resourceVersion: String(snap.revision) }, items };
    }

    let revision: number | undefined;
    let startAfter: string | undefined;
    if (opts.continue) {
      const t = decodeContinue(opts.continue);
      revision = t.rv;
      startAfter = t.start;
    } else if (
      opts.resourceVersion &&
      opts.resourceVersion !== "0" &&
      opts.resourceVersionMatch === "Exact"
    ) {
      revision = Number(opts.resourceVersion);
    }
    const limit = opts.limit && opts.limit > 0 ? opts.limit : undefined;
    const items: KubeObject[] = [];
    const prefix = this.prefix(info, opts.namespace);
    let readRevision = revision;
    let more = false;
    let lastKey: string | undefined;
    let remaining: number | undefined;
    try {
      // with a filter a page may match fewer than limit items: keep reading pages until filled
      for (;;) {
        const want = limit ? Math.max(limit - items.length, 1) : undefined;
        const page = await this.storage.list(prefix, { startAfter, limit: want, revision: readRevision });
        readRevision = page.revision;
        for (const kv of page.items) {
          lastKey = kv.key;
          const obj = this.decode(info, kv);
          if (filter(obj)) items.push(obj);
        }
        more = page.more;
        remaining = page.remaining;
        if (!limit || !page.more || items.length >= limit) break;
        startAfter = lastKey;
      }
    } catch (e) {
      if (e instanceof CompactedError) {
        if (opts.continue) {
          throw errors.expired(
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
          );
        }
        throw errors.gone(`too old resource version: ${revision} (${e.compacted + 1})`);
      }
      throw e;
    }
    const metadata: KubeList["metadata"] = { resourceVersion: String(readRevision) };
    if (more && lastKey) {
      metadata.continue = encodeContinue({ rv: readRevision!, start: lastKey });
      if (remaining !== undefined && !opts.filter) metadata.remainingItemCount = remaining;
    }
    return { apiVersion, kind: listKind, metadata, items };
  }

  private strategy(info: ResourceInfo): Strategy {
    return strategyFor(storedApiVersion(info), info.storedAs ? info.kind : info.kind);
  }

  private fieldManagerOptions(info: ResourceInfo, opts: WriteOptions): FieldManagerOptions {
    const hasStatus = info.subresources?.some((s) => s.name === "status") ?? false;
    const apiVersion = storedApiVersion(info);
    let ignoreFields: string[][] | undefined;
    if (opts.subresource === "status") ignoreFields = [["f:spec"]];
    else if (hasStatus && !opts.subresource) ignoreFields = [["f:status"]];
    return {
      manager: opts.fieldManager ?? "unknown",
      schema: schemaForKind(apiVersion, info.kind),
      apiVersion,
      subresource: opts.subresource,
      ignoreFields,
    };
  }

  private context(): RegistryContext {
    return { registry: this, storage: this.storage };
  }

  private validationError(
    info: ResourceInfo,
    name: string,
    causes: ReturnType<typeof validateCreate>,
  ): StatusError {
    return errors.invalid(info.group, info.kind, name, causes);
  }

  /** create: name generation, uid, timestamps, defaults, validation, strategy, store */
  async create(
    info: ResourceInfo,
    namespace: string | undefined,
    input: KubeObject,
    opts: WriteOptions = {},
  ): Promise<KubeObject> {
    const obj = deepClone(input);
    obj.apiVersion = apiVersionOf(info);
    obj.kind = info.kind;
    obj.metadata ??= {};
    const meta = obj.metadata;
    if (info.namespaced) meta.namespace = namespace;
    else delete meta.namespace;
    const generated = !meta.name && !!meta.generateName;
    if (generated) meta.name = meta.generateName + generateNameSuffix();
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    meta.uid = newUid();
    meta.creationTimestamp = nowTimestamp();
    meta.generation = 1;
    applyDefaults(obj.apiVersion, obj.kind, obj);
    const causes = opts.skipValidation ? [] : validateCreate(obj.apiVersion, obj.kind, obj);
    if (causes.length) throw this.validationError(info, meta.name ?? meta.generateName ?? "", causes);

    const stored = toStored(info, obj);
    const strategy = this.strategy(info);
    if (info.namespaced) await this.requireNamespace(namespace!);
    await strategy.prepareForCreate?.(stored, this.context(), opts);
    stored.metadata.managedFields = Array.isArray(opts.managedFields)
      ? opts.managedFields
      : updateManagedFields(undefined, stored, this.fieldManagerOptions(info, opts));
    if (stored.metadata.managedFields.length === 0) delete stored.metadata.managedFields;
    const key = this.key(info, namespace, stored.metadata.name!);
    if (opts.dryRun) {
      if (await this.storage.get(key))
        throw errors.alreadyExists(info.group, info.resource, stored.metadata.name!);
      await strategy.rollbackCreate?.(stored, this.context());
      return fromStored(info, stored);
    }
    try {
      const kv = await this.storage.create(key, this.encode(stored), { ttlSeconds: strategy.ttlSeconds });
      stored.metadata.resourceVersion = String(kv.modRevision);
    } catch (e) {
      await strategy.rollbackCreate?.(stored, this.context());
      if (e instanceof KeyExistsError)
        throw errors.alreadyExists(info.group, info.resource, stored.metadata.name!);
      throw e;
    }
    return fromStored(info, stored);
  }

  private async requireNamespace(namespace: string): Promise<void> {
    const nsKey = `/registry/namespaces/${namespace}`;
    const kv = await this.storage.get(nsKey);
    if (!kv)
      throw new StatusError(404, "NotFound", `namespaces "${namespace}" not found`, {
        name: namespace,
        kind: "namespaces",
      });
    const ns = JSON.parse(kv.value) as KubeObject;
    if (ns.metadata.deletionTimestamp) {
      throw new StatusError(
        403,
        "Forbidden",
        `unable to create new content in namespace ${namespace} because it is being terminated`,
        { name: namespace, kind: "namespaces" },
      );
    }
  }

  /**
   * Read-modify-write with optimistic concurrency. `mutate` gets the current object (request
   * version) and returns the desired one; when `expectedRV` is given a mismatch is a 409,
   * otherwise conflicts are retried with fresh state.
   */
  async update(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    mutate: (current: KubeObject) => KubeObject | Promise<KubeObject>,
    opts: WriteOptions & { expectedRV?: string } = {},
  ): Promise<KubeObject> {
    const key = this.key(info, namespace, name);
    for (let attempt = 0; ; attempt++) {
      const kv = await this.storage.get(key);
      if (!kv) throw this.notFound(info, name);
      const current = this.decode(info, kv);
      const desired = deepClone(await mutate(deepClone(current)));
      const rv = opts.expectedRV ?? desired.metadata?.resourceVersion;
      if (rv !== undefined && rv !== "" && rv !== current.metadata.resourceVersion) {
        throw errors.conflict(
          info.group,
          info.resource,
          name,
          "the object has been modified; please apply your changes to the latest version and try again",
        );
      }
      const { stored, changed, removeNow } = await this.prepareUpdate(info, current, desired, opts);
      if (!changed) return current;
      if (opts.dryRun) return fromStored(info, stored);
      try {
        if (removeNow) {
          await this.storage.delete(key, kv.modRevision);
          await this.strategy(info).afterDelete?.(stored, this.context());
          return fromStored(info, stored);
        }
        const next = await this.storage.update(key, this.encode(stored), kv.modRevision);
        stored.metadata.resourceVersion = String(next.modRevision);
        return fromStored(info, stored);
      } catch (e) {
        if (e instanceof RevisionMismatchError && rv === undefined && attempt < 10) continue;
        if (e instanceof RevisionMismatchError) {
          throw errors.conflict(
            info.group,
            info.resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
          );
        }
        if (e instanceof KeyNotFoundError) throw this.notFound(info, name);
        throw e;
      }
    }
  }

  /** the pure part of an update: carry over what clients cannot change, default, validate, bookkeeping */
  private async prepareUpdate(
    info: ResourceInfo,
    current: KubeObject,
    input: KubeObject,
    opts: WriteOptions,
  ): Promise<{ stored: KubeObject; changed: boolean; removeNow: boolean }> {
    const hasStatus = info.subresources?.some((s) => s.name === "status") ?? false;
    let obj: KubeObject;
    if (opts.subresource === "status") {
      obj = deepClone(current);
      if (input.status !== undefined) obj.status = input.status;
      else delete obj.status;
      // status writers may still touch labels and annotations (kubelet, controllers)
      if (input.metadata?.labels !== undefined) obj.metadata.labels = input.metadata.labels;
      if (input.metadata?.annotations !== undefined) obj.metadata.annotations = input.metadata.annotations;
    } else {
      obj = deepClone(input);
      if (hasStatus && !WHOLE_OBJECT_SUBRESOURCES.has(opts.subresource ?? "")) {
        if (current.status !== undefined) obj.status = current.status;
        else delete obj.status;
      }
    }
    obj.apiVersion = apiVersionOf(info);
    obj.kind = info.kind;
    obj.metadata ??= {};
    const meta = obj.metadata;
    const old = current.metadata;
    meta.name = old.name;
    if (info.namespaced) meta.namespace = old.namespace;
    meta.uid = old.uid;
    meta.creationTimestamp = old.creationTimestamp;
    meta.deletionTimestamp = old.deletionTimestamp;
    meta.deletionGracePeriodSeconds = old.deletionGracePeriodSeconds;
    meta.resourceVersion = old.resourceVersion;
    meta.generation = old.generation ?? 1;
    if (meta.deletionTimestamp === undefined) delete meta.deletionTimestamp;
    if (meta.deletionGracePeriodSeconds === undefined) delete meta.deletionGracePeriodSeconds;
    applyDefaults(obj.apiVersion, obj.kind, obj);
    const causes = opts.skipValidation ? [] : validateUpdate(obj.apiVersion, obj.kind, obj, current);
    if (causes.length) throw this.validationError(info, old.name!, causes);
    if (!sameJson(specPart(obj), specPart(current))) meta.generation = (old.generation ?? 1) + 1;
    // once deletion started, finalizers may only be removed
    if (old.deletionTimestamp) {
      const before = new Set(old.finalizers ?? []);
      const added = (meta.finalizers ?? []).filter((f) => !before.has(f));
      if (added.length) {
        throw errors.invalid(info.group, info.kind, old.name!, [
          {
            reason: "FieldValueForbidden",
            field: "metadata.finalizers",
            message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
          },
        ]);
      }
    }

    const storedOld = toStored(info, current);
    const stored = toStored(info, obj);
    await this.strategy(info).prepareForUpdate?.(stored, storedOld, this.context(), opts);
    const managed =
      opts.managedFields === "keep"
        ? (stored.metadata.managedFields ?? [])
        : updateManagedFields(storedOld, stored, this.fieldManagerOptions(info, opts));
    if (managed.length) stored.metadata.managedFields = managed;
    else delete stored.metadata.managedFields;
    const changed = !sameJson(
      { ...stored, metadata: { ...stored.metadata, managedFields: undefined } },
      { ...storedOld, metadata: { ...storedOld.metadata, managedFields: undefined } },
    );
    const removeNow =
      !!stored.metadata.deletionTimestamp &&
      (stored.metadata.finalizers ?? []).length === 0 &&
      !(this.strategy(info).blocksRemoval?.(stored) ?? false);
    return { stored, changed, removeNow };
  }

  /** write a complete object computed elsewhere (patch, apply) with a precondition on its RV */
  async replace(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    desired: KubeObject,
    opts: WriteOptions & { expectedRV: string },
  ): Promise<KubeObject> {
    return this.update(info, namespace, name, () => desired, opts);
  }

  async delete(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    opts: DeleteOptions = {},
  ): Promise<{ object: KubeObject; gone: boolean }> {
    const key = this.key(info, namespace, name);
    for (let attempt = 0; ; attempt++) {
      const kv = await this.storage.get(key);
      if (!kv) throw this.notFound(info, name);
      const current = this.decode(info, kv);
      const pre = opts.preconditions;
      if (pre?.uid && pre.uid !== current.metadata.uid) {
        throw errors.conflict(
          info.group,
          info.resource,
          name,
          `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`,
        );
      }
      if (pre?.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
        throw errors.conflict(
          info.group,
          info.resource,
          name,
          `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`,
        );
      }
      const stored = toStored(info, current);
      const strategy = this.strategy(info);
      const meta = stored.metadata;
      const finalizers = new Set(meta.finalizers ?? []);
      const policy = opts.propagationPolicy ?? strategy.defaultPropagation;
      if (policy === "Orphan") finalizers.add("orphan");
      if (policy === "Foreground") finalizers.add("foregroundDeletion");
      const grace = strategy.gracePeriod?.(stored, opts.gracePeriodSeconds);
      const graceful = grace !== undefined && grace > 0;
      if (finalizers.size > 0 || graceful || strategy.deleteViaFinalize?.(stored)) {
        // deletion in progress: mark it and let finalizers (or the kubelet) finish the job
        const now = new Date();
        const already = meta.deletionTimestamp;
        if (
          !already ||
          (graceful && grace! < (meta.deletionGracePeriodSeconds ?? Number.POSITIVE_INFINITY))
        ) {
          meta.deletionTimestamp = nowTimestamp(new Date(now.getTime() + (graceful ? grace! * 1000 : 0)));
          meta.deletionGracePeriodSeconds = graceful ? grace! : 0;
        }
        meta.finalizers = [...finalizers];
        if (!meta.finalizers.length) delete meta.finalizers;
        strategy.beginDelete?.(stored);
        if (sameJson(stored, toStored(info, current)) && already) return { object: current, gone: false };
        if (opts.dryRun) return { object: fromStored(info, stored), gone: false };
        try {
          const next = await this.storage.update(key, this.encode(stored), kv.modRevision);
          stored.metadata.resourceVersion = String(next.modRevision);
          return { object: fromStored(info, stored), gone: false };
        } catch (e) {
          if (e instanceof RevisionMismatchError && attempt < 10) continue;
          throw e;
        }
      }
      if (opts.dryRun) return { object: current, gone: true };
      try {
        await this.storage.delete(key, kv.modRevision);
      } catch (e) {
        if (e instanceof RevisionMismatchError && attempt < 10) continue;
        if (e instanceof KeyNotFoundError) throw this.notFound(info, name);
        throw e;
      }
      await strategy.afterDelete?.(stored, this.context());
      return { object: current, gone: true };
    }
  }
}
