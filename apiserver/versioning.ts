/**
 * Objects served under two versions share one stored form: autoscaling/v1 HPAs are stored
 * as autoscaling/v2, events.k8s.io/v1 Events as core/v1 Events. These two functions move an
 * object between the version a request speaks and the version kept in storage.
 */

import { eventCoreToEventsV1, eventsV1ToCore, hpaV1ToV2, hpaV2ToV1 } from "../api/conversion.js";
import { applyDefaults } from "../api/defaults.js";
import type { KubeObject } from "../api/object.js";
import { apiVersionOf, type ResourceInfo } from "../api/resources.js";

export function storedApiVersion(info: ResourceInfo): string {
  return info.storedAs ? apiVersionOf(info.storedAs) : apiVersionOf(info);
}

export function toStored(info: ResourceInfo, obj: KubeObject): KubeObject {
  if (!info.storedAs) return { ...obj, apiVersion: apiVersionOf(info), kind: info.kind };
  if (info.group === "autoscaling" && info.version === "v1") {
    // v2 defaults (behavior, metrics) apply to HPAs written through v1 too
    const v2 = hpaV1ToV2(obj);
    applyDefaults("autoscaling/v2", "HorizontalPodAutoscaler", v2);
    return v2;
  }
  if (info.group === "events.k8s.io") return eventsV1ToCore(obj);
  throw new Error(`no conversion from ${apiVersionOf(info)} to ${storedApiVersion(info)}`);
}

export function fromStored(info: ResourceInfo, obj: KubeObject): KubeObject {
  if (!info.storedAs) return { ...obj, apiVersion: apiVersionOf(info), kind: info.kind };
  if (info.group === "autoscaling" && info.version === "v1") return hpaV2ToV1(obj);
  if (info.group === "events.k8s.io") return eventCoreToEventsV1(obj);
  throw new Error(`no conversion from ${storedApiVersion(info)} to ${apiVersionOf(info)}`);
}
