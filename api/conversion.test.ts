import { describe, expect, test } from "vitest";
import {
  BEHAVIOR_ANNOTATION,
  CONDITIONS_ANNOTATION,
  eventCoreToEventsV1,
  eventsV1ToCore,
  hpaV1ToV2,
  hpaV2ToV1,
  METRIC_SPECS_ANNOTATION,
  METRIC_STATUSES_ANNOTATION,
} from "./conversion.js";
import type { KubeObject } from "./object.js";

type O = Record<string, unknown>;

const ref = { apiVersion: "apps/v1", kind: "Deployment", name: "web" };
const cpu = (n: number) => ({
  type: "Resource",
  resource: { name: "cpu", target: { type: "Utilization", averageUtilization: n } },
});

function v1(spec: O, extra: O = {}): KubeObject {
  return {
    apiVersion: "autoscaling/v1",
    kind: "HorizontalPodAutoscaler",
    metadata: { name: "h", namespace: "default" },
    spec,
    ...extra,
  } as KubeObject;
}

function v2(spec: O, extra: O = {}, metadata: O = {}): KubeObject {
  return {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: { name: "h", namespace: "default", ...metadata },
    spec,
    ...extra,
  } as KubeObject;
}

describe("HPA autoscaling/v1 -> v2", () => {
  test("targetCPUUtilizationPercentage becomes a Resource metric", () => {
    const out = hpaV1ToV2(
      v1({ scaleTargetRef: ref, minReplicas: 2, maxReplicas: 5, targetCPUUtilizationPercentage: 60 }),
    );
    expect(out).toEqual(v2({ scaleTargetRef: ref, minReplicas: 2, maxReplicas: 5, metrics: [cpu(60)] }));
  });

  test("no target means the implicit 80% CPU", () => {
    const out = hpaV1ToV2(v1({ scaleTargetRef: ref, maxReplicas: 5 }));
    expect((out.spec as O).metrics).toEqual([cpu(80)]);
  });

  test("status: current CPU utilization", () => {
    const out = hpaV1ToV2(
      v1(
        { scaleTargetRef: ref, maxReplicas: 5, targetCPUUtilizationPercentage: 50 },
        {
          status: {
            currentReplicas: 2,
            desiredReplicas: 3,
            currentCPUUtilizationPercentage: 70,
            lastScaleTime: "2024-01-01T00:00:00Z",
            observedGeneration: 4,
          },
        },
      ),
    );
    expect(out.status).toEqual({
      observedGeneration: 4,
      lastScaleTime: "2024-01-01T00:00:00Z",
      currentReplicas: 2,
      desiredReplicas: 3,
      currentMetrics: [{ type: "Resource", resource: { name: "cpu", current: { averageUtilization: 70 } } }],
    });
  });

  test("other metrics, conditions and behavior come from annotations, which are removed", () => {
    const out = hpaV1ToV2(
      v1(
        { scaleTargetRef: ref, maxReplicas: 5, targetCPUUtilizationPercentage: 50 },
        {
          metadata: {
            name: "h",
            namespace: "default",
            annotations: {
              keep: "me",
              [METRIC_SPECS_ANNOTATION]: JSON.stringify([
                { type: "Pods", pods: { metricName: "qps", targetAverageValue: "10" } },
              ]),
              [CONDITIONS_ANNOTATION]: JSON.stringify([{ type: "AbleToScale", status: "True" }]),
              [BEHAVIOR_ANNOTATION]: JSON.stringify({ scaleDown: { stabilizationWindowSeconds: 30 } }),
            },
          },
          status: { currentReplicas: 1, desiredReplicas: 1 },
        },
      ),
    );
    expect(out.metadata.annotations).toEqual({ keep: "me" });
    expect((out.spec as O).metrics).toEqual([
      {
        type: "Pods",
        pods: { metric: { name: "qps" }, target: { type: "AverageValue", averageValue: "10" } },
      },
      cpu(50),
    ]);
    expect((out.spec as O).behavior).toEqual({ scaleDown: { stabilizationWindowSeconds: 30 } });
    expect((out.status as O).conditions).toEqual([{ type: "AbleToScale", status: "True" }]);
  });

  test("a malformed annotation is ignored", () => {
    const out = hpaV1ToV2(
      v1(
        { scaleTargetRef: ref, maxReplicas: 5 },
        { metadata: { name: "h", annotations: { [METRIC_SPECS_ANNOTATION]: "{not json" } } },
      ),
    );
    expect((out.spec as O).metrics).toEqual([cpu(80)]);
    expect(out.metadata.annotations).toBeUndefined();
  });

  test("the input is not modified", () => {
    const input = v1({ scaleTargetRef: ref, maxReplicas: 5, targetCPUUtilizationPercentage: 50 });
    const copy = structuredClone(input);
    const out = hpaV1ToV2(input);
    expect(input).toEqual(copy);
    (out.spec as { scaleTargetRef: O }).scaleTargetRef.name = "changed";
    expect(input).toEqual(copy);
  });
});

describe("HPA autoscaling/v2 -> v1", () => {
  test("the CPU utilization metric becomes targetCPUUtilizationPercentage", () => {
    const out = hpaV2ToV1(v2({ scaleTargetRef: ref, minReplicas: 1, maxReplicas: 4, metrics: [cpu(75)] }));
    expect(out).toEqual(
      v1({ scaleTargetRef: ref, minReplicas: 1, maxReplicas: 4, targetCPUUtilizationPercentage: 75 }),
    );
  });

  test("other metrics go to the annotation in the v1 shape", () => {
    const metrics = [
      cpu(75),
      {
        type: "Resource",
        resource: { name: "memory", target: { type: "AverageValue", averageValue: "500Mi" } },
      },
      {
        type: "Object",
        object: {
          describedObject: { apiVersion: "networking.k8s.io/v1", kind: "Ingress", name: "main" },
          metric: { name: "rps" },
          target: { type: "Value", value: "10k" },
        },
      },
      {
        type: "External",
        external: {
          metric: { name: "queue", selector: { matchLabels: { q: "a" } } },
          target: { type: "AverageValue", averageValue: "30" },
        },
      },
      {
        type: "ContainerResource",
        containerResource: {
          name: "cpu",
          container: "app",
          target: { type: "Utilization", averageUtilization: 60 },
        },
      },
    ];
    const out = hpaV2ToV1(v2({ scaleTargetRef: ref, maxReplicas: 4, metrics }));
    expect((out.spec as O).targetCPUUtilizationPercentage).toBe(75);
    expect(JSON.parse(out.metadata.annotations![METRIC_SPECS_ANNOTATION]!)).toEqual([
      { type: "Resource", resource: { name: "memory", targetAverageValue: "500Mi" } },
      {
        type: "Object",
        object: {
          target: { apiVersion: "networking.k8s.io/v1", kind: "Ingress", name: "main" },
          metricName: "rps",
          targetValue: "10k",
        },
      },
      {
        type: "External",
        external: {
          metricName: "queue",
          metricSelector: { matchLabels: { q: "a" } },
          targetAverageValue: "30",
        },
      },
      {
        type: "ContainerResource",
        containerResource: { name: "cpu", targetAverageUtilization: 60, container: "app" },
      },
    ]);
  });

  test("status, current metrics and conditions", () => {
    const status = {
      currentReplicas: 3,
      desiredReplicas: 4,
      currentMetrics: [
        {
          type: "Resource",
          resource: { name: "cpu", current: { averageUtilization: 90, averageValue: "900m" } },
        },
        { type: "Pods", pods: { metric: { name: "qps" }, current: { averageValue: "12" } } },
      ],
      conditions: [{ type: "ScalingActive", status: "True", reason: "ValidMetricFound" }],
    };
    const out = hpaV2ToV1(v2({ scaleTargetRef: ref, maxReplicas: 4, metrics: [cpu(50)] }, { status }));
    expect(out.status).toEqual({
      currentReplicas: 3,
      desiredReplicas: 4,
      currentCPUUtilizationPercentage: 90,
    });
    const ann = out.metadata.annotations!;
    expect(JSON.parse(ann[METRIC_STATUSES_ANNOTATION]!)).toEqual([
      {
        type: "Resource",
        resource: { name: "cpu", currentAverageUtilization: 90, currentAverageValue: "900m" },
      },
      { type: "Pods", pods: { metricName: "qps", currentAverageValue: "12" } },
    ]);
    expect(JSON.parse(ann[CONDITIONS_ANNOTATION]!)).toEqual(status.conditions);
  });

  test("behavior goes to its annotation", () => {
    const behavior = { scaleUp: { selectPolicy: "Disabled" } };
    const out = hpaV2ToV1(v2({ scaleTargetRef: ref, maxReplicas: 4, metrics: [cpu(50)], behavior }));
    expect(JSON.parse(out.metadata.annotations![BEHAVIOR_ANNOTATION]!)).toEqual(behavior);
  });

  test("v2 -> v1 -> v2 keeps every metric, status and behavior", () => {
    const spec = {
      scaleTargetRef: ref,
      minReplicas: 2,
      maxReplicas: 9,
      metrics: [
        {
          type: "Pods",
          pods: {
            metric: { name: "qps", selector: { matchLabels: { a: "b" } } },
            target: { type: "AverageValue", averageValue: "5" },
          },
        },
        {
          type: "Object",
          object: {
            describedObject: { kind: "Service", name: "s", apiVersion: "v1" },
            metric: { name: "hits" },
            target: { type: "AverageValue", averageValue: "3" },
          },
        },
        { type: "External", external: { metric: { name: "q" }, target: { type: "Value", value: "100" } } },
        {
          type: "Resource",
          resource: { name: "memory", target: { type: "Utilization", averageUtilization: 70 } },
        },
        cpu(60),
      ],
      behavior: {
        scaleDown: {
          stabilizationWindowSeconds: 10,
          selectPolicy: "Min",
          policies: [{ type: "Pods", value: 1, periodSeconds: 60 }],
        },
      },
    };
    const status = {
      observedGeneration: 2,
      currentReplicas: 2,
      desiredReplicas: 2,
      currentMetrics: [
        { type: "External", external: { metric: { name: "q" }, current: { value: "80" } } },
        { type: "Resource", resource: { name: "cpu", current: { averageUtilization: 40 } } },
      ],
      conditions: [{ type: "AbleToScale", status: "True" }],
    };
    const original = v2(spec, { status }, { annotations: { team: "a" } });
    const back = hpaV1ToV2(hpaV2ToV1(original));
    expect(back).toEqual(original);
  });

  test("v1 -> v2 -> v1 is the identity", () => {
    const original = v1(
      { scaleTargetRef: ref, minReplicas: 1, maxReplicas: 3, targetCPUUtilizationPercentage: 55 },
      { status: { currentReplicas: 1, desiredReplicas: 1 } },
    );
    expect(hpaV2ToV1(hpaV1ToV2(original))).toEqual(original);
  });
});

describe("Events", () => {
  const core: KubeObject = {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: "web.17a", namespace: "default" },
    involvedObject: {
      kind: "Pod",
      namespace: "default",
      name: "web",
      uid: "u1",
      apiVersion: "v1",
      fieldPath: "spec.containers{web}",
    },
    reason: "Pulled",
    message: "Successfully pulled image",
    source: { component: "kubelet", host: "node-1" },
    firstTimestamp: "2024-01-01T00:00:00Z",
    lastTimestamp: "2024-01-01T00:01:00Z",
    count: 3,
    type: "Normal",
    eventTime: null,
    reportingComponent: "kubelet",
    reportingInstance: "node-1",
  };

  test("core -> events.k8s.io/v1", () => {
    expect(eventCoreToEventsV1(core)).toEqual({
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { name: "web.17a", namespace: "default" },
      eventTime: null,
      reportingController: "kubelet",
      reportingInstance: "node-1",
      reason: "Pulled",
      regarding: core.involvedObject,
      note: "Successfully pulled image",
      type: "Normal",
      deprecatedSource: { component: "kubelet", host: "node-1" },
      deprecatedFirstTimestamp: "2024-01-01T00:00:00Z",
      deprecatedLastTimestamp: "2024-01-01T00:01:00Z",
      deprecatedCount: 3,
    });
  });

  test("reportingController falls back to source.component and host", () => {
    const { reportingComponent: _c, reportingInstance: _i, ...legacy } = core;
    const out = eventCoreToEventsV1(legacy as KubeObject);
    expect(out.reportingController).toBe("kubelet");
    expect(out.reportingInstance).toBe("node-1");
  });

  test("events.k8s.io/v1 -> core", () => {
    const ev: KubeObject = {
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { name: "e", namespace: "default" },
      eventTime: "2024-01-01T00:00:00.000000Z",
      series: { count: 2, lastObservedTime: "2024-01-01T00:05:00.000000Z" },
      reportingController: "kubeplane.io/scheduler",
      reportingInstance: "scheduler-1",
      action: "Binding",
      reason: "Scheduled",
      regarding: { kind: "Pod", name: "p", namespace: "default" },
      related: { kind: "Node", name: "n1" },
      note: "Successfully assigned default/p to n1",
      type: "Normal",
    };
    expect(eventsV1ToCore(ev)).toEqual({
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: "e", namespace: "default" },
      involvedObject: { kind: "Pod", name: "p", namespace: "default" },
      reason: "Scheduled",
      message: "Successfully assigned default/p to n1",
      type: "Normal",
      eventTime: "2024-01-01T00:00:00.000000Z",
      series: { count: 2, lastObservedTime: "2024-01-01T00:05:00.000000Z" },
      action: "Binding",
      related: { kind: "Node", name: "n1" },
      reportingComponent: "kubeplane.io/scheduler",
      reportingInstance: "scheduler-1",
    });
    // and back again, unchanged
    expect(eventCoreToEventsV1(eventsV1ToCore(ev))).toEqual(ev);
  });

  test("core -> v1 -> core keeps a modern core event", () => {
    expect(eventsV1ToCore(eventCoreToEventsV1(core))).toEqual(core);
  });

  test("inputs are not modified", () => {
    const copy = structuredClone(core);
    const out = eventCoreToEventsV1(core);
    (out.regarding as O).name = "x";
    expect(core).toEqual(copy);
  });
});
