/**
 * Conversions between versions that share one stored form:
 *  - autoscaling/v1 <-> autoscaling/v2 HorizontalPodAutoscaler. v1 only has a CPU utilization
 *    target; like upstream, every other metric, the current metrics, the conditions and the
 *    behavior ride along in autoscaling.alpha.kubernetes.io/* annotations (in the autoscaling/v1
 *    MetricSpec/MetricStatus shapes upstream uses there), so a v2 -> v1 -> v2 trip loses nothing.
 *  - core/v1 Event <-> events.k8s.io/v1 Event.
 * All functions return a new object and leave their input untouched.
 */
import type { KubeObject, ObjectMeta } from "./object.js";
import { asArr, isObj, type Obj } from "./validation-rules.js";

export const METRIC_SPECS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics";
export const METRIC_STATUSES_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics";
export const CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions";
export const BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior";
const HPA_ANNOTATIONS = [
  METRIC_SPECS_ANNOTATION,
  METRIC_STATUSES_ANNOTATION,
  CONDITIONS_ANNOTATION,
  BEHAVIOR_ANNOTATION,
];

/** the CPU utilization upstream assumes when an HPA names no metric */
export const DEFAULT_CPU_UTILIZATION = 80;

/** copies only the keys whose value is defined */
function compact(o: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}

function clone<T>(v: T): T {
  return v === undefined ? v : structuredClone(v);
}

function cloneMeta(meta: unknown): ObjectMeta {
  return isObj(meta) ? (structuredClone(meta) as ObjectMeta) : {};
}

function parseJsonArray(s: string | undefined): Obj[] | undefined {
  if (!s) return undefined;
  try {
    const v: unknown = JSON.parse(s);
    return Array.isArray(v) ? v.filter(isObj) : undefined;
  } catch {
    return undefined;
  }
}

function parseJsonObject(s: string | undefined): Obj | undefined {
  if (!s) return undefined;
  try {
    const v: unknown = JSON.parse(s);
    return isObj(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------
// HPA metric specs: v2 shape <-> autoscaling/v1 annotation shape

function isCpuUtilizationSpec(m: Obj): boolean {
  const r = m.resource;
  return (
    m.type === "Resource" &&
    isObj(r) &&
    r.name === "cpu" &&
    isObj(r.target) &&
    typeof r.target.averageUtilization === "number"
  );
}

function metricSpecV2ToV1(m: Obj): Obj {
  const out: Obj = { type: m.type };
  if (isObj(m.object)) {
    const o = m.object;
    const metric = isObj(o.metric) ? o.metric : {};
    const target = isObj(o.target) ? o.target : {};
    out.object = compact({
      target: clone(o.describedObject),
      metricName: metric.name,
      targetValue: target.value,
      selector: clone(metric.selector),
      averageValue: target.averageValue,
    });
  }
  if (isObj(m.pods)) {
    const p = m.pods;
    const metric = isObj(p.metric) ? p.metric : {};
    const target = isObj(p.target) ? p.target : {};
    out.pods = compact({
      metricName: metric.name,
      targetAverageValue: target.averageValue,
      selector: clone(metric.selector),
    });
  }
  if (isObj(m.resource)) {
    const r = m.resource;
    const target = isObj(r.target) ? r.target : {};
    out.resource = compact({
      name: r.name,
      targetAverageUtilization: target.averageUtilization,
      targetAverageValue: target.averageValue,
    });
  }
  if (isObj(m.containerResource)) {
    const r = m.containerResource;
    const target = isObj(r.target) ? r.target : {};
    out.containerResource = compact({
      name: r.name,
      targetAverageUtilization: target.averageUtilization,
      targetAverageValue: target.averageValue,
      container: r.container,
    });
  }
  if (isObj(m.external)) {
    const e = m.external;
    const metric = isObj(e.metric) ? e.metric : {};
    const target = isObj(e.target) ? e.target : {};
    out.external = compact({
      metricName: metric.name,
      metricSelector: clone(metric.selector),
      targetValue: target.value,
      targetAverageValue: target.averageValue,
    });
  }
  return out;
}

function metricId(name: unknown, selector: unknown): Obj {
  return compact({ name, selector: clone(selector) });
}

function metricSpecV1ToV2(m: Obj): Obj {
  const out: Obj = { type: m.type };
  if (isObj(m.object)) {
    const o = m.object;
    const type = o.averageValue !== undefined ? "AverageValue" : "Value";
    out.object = compact({
      describedObject: clone(o.target),
      target: compact({ type, value: o.targetValue, averageValue: o.averageValue }),
      metric: metricId(o.metricName, o.selector),
    });
  }
  if (isObj(m.pods)) {
    const p = m.pods;
    out.pods = {
      metric: metricId(p.metricName, p.selector),
      target: compact({ type: "AverageValue", averageValue: p.targetAverageValue }),
    };
  }
  for (const key of ["resource", "containerResource"] as const) {
    const r = m[key];
    if (!isObj(r)) continue;
    const target =
      r.targetAverageUtilization !== undefined
        ? { type: "Utilization", averageUtilization: r.targetAverageUtilization }
        : compact({ type: "AverageValue", averageValue: r.targetAverageValue });
    out[key] = compact({
      name: r.name,
      target,
      container: key === "containerResource" ? r.container : undefined,
    });
  }
  if (isObj(m.external)) {
    const e = m.external;
    const type = e.targetAverageValue !== undefined ? "AverageValue" : "Value";
    out.external = {
      metric: metricId(e.metricName, e.metricSelector),
      target: compact({ type, value: e.targetValue, averageValue: e.targetAverageValue }),
    };
  }
  return out;
}

function metricStatusV2ToV1(m: Obj): Obj {
  const out: Obj = { type: m.type };
  const cur = (x: Obj): Obj => (isObj(x.current) ? x.current : {});
  const id = (x: Obj): Obj => (isObj(x.metric) ? x.metric : {});
  if (isObj(m.object)) {
    const o = m.object;
    out.object = compact({
      target: clone(o.describedObject),
      metricName: id(o).name,
      currentValue: cur(o).value,
      selector: clone(id(o).selector),
      averageValue: cur(o).averageValue,
    });
  }
  if (isObj(m.pods)) {
    const p = m.pods;
    out.pods = compact({
      metricName: id(p).name,
      currentAverageValue: cur(p).averageValue,
      selector: clone(id(p).selector),
    });
  }
  for (const key of ["resource", "containerResource"] as const) {
    const r = m[key];
    if (!isObj(r)) continue;
    out[key] = compact({
      name: r.name,
      currentAverageUtilization: cur(r).averageUtilization,
      currentAverageValue: cur(r).averageValue,
      container: key === "containerResource" ? r.container : undefined,
    });
  }
  if (isObj(m.external)) {
    const e = m.external;
    out.external = compact({
      metricName: id(e).name,
      metricSelector: clone(id(e).selector),
      currentValue: cur(e).value,
      currentAverageValue: cur(e).averageValue,
    });
  }
  return out;
}

function metricStatusV1ToV2(m: Obj): Obj {
  const out: Obj = { type: m.type };
  if (isObj(m.object)) {
    const o = m.object;
    out.object = compact({
      metric: metricId(o.metricName, o.selector),
      current: compact({ value: o.currentValue, averageValue: o.averageValue }),
      describedObject: clone(o.target),
    });
  }
  if (isObj(m.pods)) {
    const p = m.pods;
    out.pods = {
      metric: metricId(p.metricName, p.selector),
      current: compact({ averageValue: p.currentAverageValue }),
    };
  }
  for (const key of ["resource", "containerResource"] as const) {
    const r = m[key];
    if (!isObj(r)) continue;
    out[key] = compact({
      name: r.name,
      current: compact({
        averageUtilization: r.currentAverageUtilization,
        averageValue: r.currentAverageValue,
      }),
      container: key === "containerResource" ? r.container : undefined,
    });
  }
  if (isObj(m.external)) {
    const e = m.external;
    out.external = {
      metric: metricId(e.metricName, e.metricSelector),
      current: compact({ value: e.currentValue, averageValue: e.currentAverageValue }),
    };
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// HPA objects

/** autoscaling/v2 -> autoscaling/v1 */
export function hpaV2ToV1(obj: KubeObject): KubeObject {
  const spec: Obj = isObj(obj.spec) ? obj.spec : {};
  const status: Obj | undefined = isObj(obj.status) ? obj.status : undefined;
  const metadata = cloneMeta(obj.metadata);
  const annotations: Record<string, string> = { ...(metadata.annotations ?? {}) };
  for (const a of HPA_ANNOTATIONS) delete annotations[a];

  const metrics = asArr(spec.metrics).filter(isObj);
  const cpu = metrics.find(isCpuUtilizationSpec);
  const others = metrics.filter((m) => !isCpuUtilizationSpec(m));
  if (others.length) annotations[METRIC_SPECS_ANNOTATION] = JSON.stringify(others.map(metricSpecV2ToV1));
  if (spec.behavior !== undefined && spec.behavior !== null)
    annotations[BEHAVIOR_ANNOTATION] = JSON.stringify(spec.behavior);

  const outSpec = compact({
    scaleTargetRef: clone(spec.scaleTargetRef),
    minReplicas: spec.minReplicas,
    maxReplicas: spec.maxReplicas,
    targetCPUUtilizationPercentage: cpu
      ? (cpu.resource as { target: Obj }).target.averageUtilization
      : undefined,
  });

  let outStatus: Obj | undefined;
  if (status) {
    const current = asArr(status.currentMetrics).filter(isObj);
    const cpuNow = current.find(
      (m) =>
        m.type === "Resource" &&
        isObj(m.resource) &&
        m.resource.name === "cpu" &&
        isObj(m.resource.current) &&
        typeof m.resource.current.averageUtilization === "number",
    );
    if (current.length)
      annotations[METRIC_STATUSES_ANNOTATION] = JSON.stringify(current.map(metricStatusV2ToV1));
    const conditions = asArr(status.conditions);
    if (conditions.length) annotations[CONDITIONS_ANNOTATION] = JSON.stringify(conditions);
    outStatus = compact({
      observedGeneration: status.observedGeneration,
      lastScaleTime: status.lastScaleTime,
      currentReplicas: status.currentReplicas ?? 0,
      desiredReplicas: status.desiredReplicas ?? 0,
      currentCPUUtilizationPercentage: cpuNow
        ? ((cpuNow.resource as Obj).current as Obj).averageUtilization
        : undefined,
    });
  }

  if (Object.keys(annotations).length) metadata.annotations = annotations;
  else delete metadata.annotations;
  return compact({
    apiVersion: "autoscaling/v1",
    kind: "HorizontalPodAutoscaler",
    metadata,
    spec: outSpec,
    status: outStatus,
  }) as KubeObject;
}

/** autoscaling/v1 -> autoscaling/v2 */
export function hpaV1ToV2(obj: KubeObject): KubeObject {
  const spec: Obj = isObj(obj.spec) ? obj.spec : {};
  const status: Obj | undefined = isObj(obj.status) ? obj.status : undefined;
  const metadata = cloneMeta(obj.metadata);
  const annotations: Record<string, string> = { ...(metadata.annotations ?? {}) };

  const metrics = (parseJsonArray(annotations[METRIC_SPECS_ANNOTATION]) ?? []).map(metricSpecV1ToV2);
  if (typeof spec.targetCPUUtilizationPercentage === "number") {
    metrics.push({
      type: "Resource",
      resource: {
        name: "cpu",
        target: { type: "Utilization", averageUtilization: spec.targetCPUUtilizationPercentage },
      },
    });
  }
  // v1 always had an implicit CPU target; v2 spells it out
  if (metrics.length === 0) {
    metrics.push({
      type: "Resource",
      resource: { name: "cpu", target: { type: "Utilization", averageUtilization: DEFAULT_CPU_UTILIZATION } },
    });
  }
  const behavior = parseJsonObject(annotations[BEHAVIOR_ANNOTATION]);
  const outSpec = compact({
    scaleTargetRef: clone(spec.scaleTargetRef),
    minReplicas: spec.minReplicas,
    maxReplicas: spec.maxReplicas,
    metrics,
    behavior,
  });

  let outStatus: Obj | undefined;
  if (status) {
    let currentMetrics: Obj[] | undefined = parseJsonArray(annotations[METRIC_STATUSES_ANNOTATION])?.map(
      metricStatusV1ToV2,
    );
    if (!currentMetrics && typeof status.currentCPUUtilizationPercentage === "number") {
      currentMetrics = [
        {
          type: "Resource",
          resource: { name: "cpu", current: { averageUtilization: status.currentCPUUtilizationPercentage } },
        },
      ];
    }
    outStatus = compact({
      observedGeneration: status.observedGeneration,
      lastScaleTime: status.lastScaleTime,
      currentReplicas: status.currentReplicas ?? 0,
      desiredReplicas: status.desiredReplicas ?? 0,
      currentMetrics,
      conditions: parseJsonArray(annotations[CONDITIONS_ANNOTATION]),
    });
  }

  for (const a of HPA_ANNOTATIONS) delete annotations[a];
  if (Object.keys(annotations).length) metadata.annotations = annotations;
  else delete metadata.annotations;
  return compact({
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata,
    spec: outSpec,
    status: outStatus,
  }) as KubeObject;
}

// ---------------------------------------------------------------------------------------
// Events

/** core/v1 Event -> events.k8s.io/v1 Event */
export function eventCoreToEventsV1(obj: KubeObject): KubeObject {
  const source = isObj(obj.source) ? obj.source : {};
  const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
  return compact({
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    metadata: cloneMeta(obj.metadata),
    eventTime: obj.eventTime ?? null,
    series: clone(obj.series),
    reportingController: str(obj.reportingComponent) ?? str(source.component),
    reportingInstance: str(obj.reportingInstance) ?? str(source.host),
    action: obj.action,
    reason: obj.reason,
    regarding: clone(obj.involvedObject),
    related: clone(obj.related),
    note: obj.message,
    type: obj.type,
    deprecatedSource: clone(obj.source),
    deprecatedFirstTimestamp: obj.firstTimestamp ?? undefined,
    deprecatedLastTimestamp: obj.lastTimestamp ?? undefined,
    deprecatedCount: obj.count ?? undefined,
  }) as KubeObject;
}

/** events.k8s.io/v1 Event -> core/v1 Event */
export function eventsV1ToCore(obj: KubeObject): KubeObject {
  return compact({
    apiVersion: "v1",
    kind: "Event",
    metadata: cloneMeta(obj.metadata),
    involvedObject: clone(obj.regarding) ?? {},
    reason: obj.reason,
    message: obj.note,
    source: clone(obj.deprecatedSource),
    firstTimestamp: obj.deprecatedFirstTimestamp ?? undefined,
    lastTimestamp: obj.deprecatedLastTimestamp ?? undefined,
    count: obj.deprecatedCount ?? undefined,
    type: obj.type,
    eventTime: obj.eventTime ?? null,
    series: clone(obj.series),
    action: obj.action,
    related: clone(obj.related),
    reportingComponent: obj.reportingController ?? "",
    reportingInstance: obj.reportingInstance ?? "",
  }) as KubeObject;
}
