/**
 * Records core/v1 Events about objects, like client-go's EventRecorder: repeated
 * events (same object, reason, message, type, source) bump count and lastTimestamp of the
 * existing Event instead of creating a new one. Best effort: failures are logged, never thrown.
 */
import type { KubeObject } from "../api/object.js";
import { isAlreadyExists, isNotFound, type RestClient } from "./rest.js";

const EVENTS = { group: "", version: "v1", resource: "events" } as const;

export interface EventRecorderOptions {
  /** source.component / reportingComponent, e.g. "default-scheduler", "deployment-controller" */
  component: string;
  /** source.host / reportingInstance */
  host?: string;
  onError?: (err: unknown) => void;
}

function ts(d = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function involved(obj: KubeObject): Record<string, unknown> {
  return {
    kind: obj.kind,
    namespace: obj.metadata.namespace,
    name: obj.metadata.name,
    uid: obj.metadata.uid,
    apiVersion: obj.apiVersion,
    resourceVersion: obj.metadata.resourceVersion,
  };
}

export class EventRecorder {
  /** key → event name, for aggregation of repeats */
  private readonly recent = new Map<string, { name: string; namespace: string; count: number }>();

  constructor(
    private readonly client: RestClient,
    private readonly opts: EventRecorderOptions,
  ) {}

  async event(obj: KubeObject, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    const namespace = obj.metadata.namespace || "default";
    const key = [obj.metadata.uid, obj.kind, reason, message, type].join("\u0000");
    const now = ts();
    try {
      const prior = this.recent.get(key);
      if (prior) {
        try {
          await this.client.patch(
            { ...EVENTS, namespace: prior.namespace, name: prior.name },
            { count: prior.count + 1, lastTimestamp: now },
            { type: "merge" },
          );
          prior.count++;
          return;
        } catch (e) {
          if (!isNotFound(e)) throw e;
          this.recent.delete(key);
        }
      }
      const name = `${obj.metadata.name}.${(Date.now() * 1000 + Math.floor(Math.random() * 1000)).toString(16)}`;
      const event = {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name, namespace },
        involvedObject: involved(obj),
        reason,
        message,
        type,
        count: 1,
        firstTimestamp: now,
        lastTimestamp: now,
        source: { component: this.opts.component, ...(this.opts.host ? { host: this.opts.host } : {}) },
        reportingComponent: this.opts.component,
        reportingInstance: this.opts.host ?? "",
      };
      try {
        await this.client.create({ ...EVENTS, namespace }, event);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
      this.recent.set(key, { name, namespace, count: 1 });
      if (this.recent.size > 4096) this.recent.delete(this.recent.keys().next().value!);
    } catch (e) {
      this.opts.onError?.(e);
    }
  }
}
