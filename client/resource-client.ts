/**
 * A small typed handle on one resource: `resource<Pod>(client, R.pods).namespace("ns").get("web")`.
 * Works for any group/version/resource; the constants below are only conveniences.
 */
import type { KubeList, KubeObject } from "../api/object.js";
import type { Status } from "../api/status.js";
import { type ListerWatcher, listerWatcher, type Selection } from "./informer.js";
import type {
  DeleteOptions,
  GetOptions,
  GroupVersionResource,
  ListOptions,
  PatchOptions,
  RestClient,
  WatchOptions,
  WatchStream,
  WriteOptions,
} from "./rest.js";

export interface ResourceType extends GroupVersionResource {
  namespaced: boolean;
}

function rt(group: string, version: string, resource: string, namespaced: boolean): ResourceType {
  return { group, version, resource, namespaced };
}

/** Common resources (group, version, plural, namespaced). */
export const R = {
  namespaces: rt("", "v1", "namespaces", false),
  nodes: rt("", "v1", "nodes", false),
  pods: rt("", "v1", "pods", true),
  services: rt("", "v1", "services", true),
  endpoints: rt("", "v1", "endpoints", true),
  configmaps: rt("", "v1", "configmaps", true),
  secrets: rt("", "v1", "secrets", true),
  serviceaccounts: rt("", "v1", "serviceaccounts", true),
  events: rt("", "v1", "events", true),
  endpointslices: rt("discovery.k8s.io", "v1", "endpointslices", true),
  deployments: rt("apps", "v1", "deployments", true),
  replicasets: rt("apps", "v1", "replicasets", true),
  daemonsets: rt("apps", "v1", "daemonsets", true),
  statefulsets: rt("apps", "v1", "statefulsets", true),
  ingresses: rt("networking.k8s.io", "v1", "ingresses", true),
  ingressclasses: rt("networking.k8s.io", "v1", "ingressclasses", false),
  leases: rt("coordination.k8s.io", "v1", "leases", true),
  horizontalpodautoscalers: rt("autoscaling", "v2", "horizontalpodautoscalers", true),
} as const;

export class ResourceClient<T extends KubeObject = KubeObject> {
  constructor(
    readonly client: RestClient,
    readonly type: ResourceType,
    /** undefined: all namespaces for lists/watches; objects' own namespace for writes */
    readonly ns?: string,
  ) {}

  /** The same resource scoped to one namespace. */
  namespace(ns: string): ResourceClient<T> {
    if (!this.type.namespaced) throw new Error(`${this.type.resource} is cluster-scoped`);
    return new ResourceClient<T>(this.client, this.type, ns);
  }

  private ref(name?: string, objNamespace?: string) {
    const namespace = this.type.namespaced ? (this.ns ?? objNamespace) : undefined;
    if (this.type.namespaced && name !== undefined && !namespace) {
      throw new Error(`${this.type.resource} "${name}" needs a namespace`);
    }
    return {
      group: this.type.group,
      version: this.type.version,
      resource: this.type.resource,
      namespace,
      name,
    };
  }

  get(name: string, opts?: GetOptions): Promise<T> {
    return this.client.get<T>({ ...this.ref(name), name }, opts);
  }

  list(opts?: ListOptions): Promise<KubeList<T>> {
    return this.client.list<T>(this.ref(), opts);
  }

  create(obj: T, opts?: WriteOptions): Promise<T> {
    return this.client.create<T>(this.ref(undefined, obj.metadata.namespace), obj, opts);
  }

  update(obj: T, opts?: WriteOptions): Promise<T> {
    const name = obj.metadata.name;
    if (!name) throw new Error("update needs metadata.name");
    return this.client.update<T>(this.ref(name, obj.metadata.namespace), obj, opts);
  }

  updateStatus(obj: T, opts?: WriteOptions): Promise<T> {
    const name = obj.metadata.name;
    if (!name) throw new Error("updateStatus needs metadata.name");
    return this.client.update<T>(
      { ...this.ref(name, obj.metadata.namespace), subresource: "status" },
      obj,
      opts,
    );
  }

  patch(name: string, patch: unknown, opts: PatchOptions & { subresource?: string }): Promise<T> {
    return this.client.patch<T>({ ...this.ref(name), name, subresource: opts.subresource }, patch, opts);
  }

  delete(name: string, opts?: DeleteOptions): Promise<T | Status> {
    return this.client.delete<T>({ ...this.ref(name), name }, opts);
  }

  deleteCollection(opts?: DeleteOptions & Pick<ListOptions, "labelSelector" | "fieldSelector">) {
    return this.client.deleteCollection(this.ref(), opts);
  }

  watch(opts?: WatchOptions): Promise<WatchStream<T>> {
    return this.client.watch<T>(this.ref(), opts);
  }

  listerWatcher(sel: Omit<Selection, "namespace"> = {}): ListerWatcher<T> {
    return listerWatcher<T>(this.client, this.type, { ...sel, namespace: this.ns });
  }
}

/** A typed handle on any resource. */
export function resource<T extends KubeObject = KubeObject>(
  client: RestClient,
  type: ResourceType,
  namespace?: string,
) {
  return new ResourceClient<T>(client, type, namespace);
}
