/** namespace + labelSelector + fieldSelector of a list or watch request, as one predicate */
import type { KubeObject } from "../api/object.js";
import type { ResourceInfo } from "../api/resources.js";
import {
  fieldsOf,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  validateFieldSelector,
} from "../api/selectors.js";

export interface ObjectFilter {
  matches: (obj: KubeObject) => boolean;
  /** true when every object of the namespace matches (no selectors) */
  everything: boolean;
}

export function objectFilter(
  info: ResourceInfo,
  namespace: string | undefined,
  q: URLSearchParams,
): ObjectFilter {
  const labels = parseLabelSelector(q.get("labelSelector") ?? "");
  const fields = parseFieldSelector(q.get("fieldSelector") ?? "");
  validateFieldSelector(info.kind, fields);
  const ns = info.namespaced ? namespace : undefined;
  const everything = labels.length === 0 && fields.length === 0;
  return {
    everything,
    matches: (obj) => {
      if (ns !== undefined && obj.metadata.namespace !== ns) return false;
      if (labels.length && !matchesLabels(labels, obj.metadata.labels ?? {})) return false;
      if (fields.length && !matchesFields(fields, fieldsOf(info.kind, obj))) return false;
      return true;
    },
  };
}
