import { describe, expect, it } from "vitest";
import {
  DEFAULT_MEMORY_REQUEST,
  DEFAULT_MILLI_CPU_REQUEST,
  nodeAllocatable,
  podRequests,
  resourcesFromList,
} from "./resources.js";
import { makeNode, makePod } from "./testutil.js";

describe("resourcesFromList", () => {
  it("parses cpu to millicores and memory to bytes, rounding up", () => {
    const r = resourcesFromList({ cpu: "1.5", memory: "1Gi", "ephemeral-storage": "1G" });
    expect(r.milliCPU).toBe(1500);
    expect(r.memory).toBe(2 ** 30);
    expect(r.ephemeralStorage).toBe(1e9);
  });
  it("handles millicores, plain numbers, fractions and tiny quantities", () => {
    expect(resourcesFromList({ cpu: "600m" }).milliCPU).toBe(600);
    expect(resourcesFromList({ cpu: 2 }).milliCPU).toBe(2000);
    expect(resourcesFromList({ cpu: "0.1" }).milliCPU).toBe(100);
    expect(resourcesFromList({ cpu: "1n" }).milliCPU).toBe(1); // MilliValue rounds up
    expect(resourcesFromList({ memory: "1.5" }).memory).toBe(2);
    expect(resourcesFromList({ memory: "128974848" }).memory).toBe(128974848);
    expect(resourcesFromList({ memory: "129e6" }).memory).toBe(129_000_000);
    expect(resourcesFromList({ memory: "123Mi" }).memory).toBe(123 * 2 ** 20);
  });
  it("keeps extended resources as scalars and ignores pods and malformed values", () => {
    const r = resourcesFromList({ "nvidia.com/gpu": "2", pods: "110", cpu: "bogus", "hugepages-2Mi": "4Mi" });
    expect(r.scalar).toEqual({ "nvidia.com/gpu": 2, "hugepages-2Mi": 4 * 2 ** 20 });
    expect(r.milliCPU).toBe(0);
  });
  it("treats a missing list as empty", () => {
    expect(resourcesFromList(undefined)).toEqual({ milliCPU: 0, memory: 0, ephemeralStorage: 0, scalar: {} });
    expect(resourcesFromList(null)).toEqual({ milliCPU: 0, memory: 0, ephemeralStorage: 0, scalar: {} });
  });
});

describe("podRequests", () => {
  it("sums app containers", () => {
    const pod = makePod({
      containers: [
        { name: "a", resources: { requests: { cpu: "100m", memory: "64Mi" } } },
        { name: "b", resources: { requests: { cpu: "250m", memory: "64Mi" } } },
      ],
    });
    const r = podRequests(pod);
    expect(r.requests.milliCPU).toBe(350);
    expect(r.requests.memory).toBe(128 * 2 ** 20);
  });
  it("takes the larger of the app containers and the biggest init container", () => {
    const pod = makePod({
      containers: [{ name: "a", resources: { requests: { cpu: "100m", memory: "1Gi" } } }],
      initContainers: [
        { name: "i1", resources: { requests: { cpu: "2", memory: "10Mi" } } },
        { name: "i2", resources: { requests: { cpu: "500m" } } },
      ],
    });
    const r = podRequests(pod);
    expect(r.requests.milliCPU).toBe(2000);
    expect(r.requests.memory).toBe(2 ** 30);
  });
  it("adds sidecars (restartable init containers) to the app and to later init containers", () => {
    const pod = makePod({
      containers: [{ name: "a", resources: { requests: { cpu: "100m" } } }],
      initContainers: [
        { name: "side", restartPolicy: "Always", resources: { requests: { cpu: "200m" } } },
        { name: "init", resources: { requests: { cpu: "1" } } },
      ],
    });
    expect(podRequests(pod).requests.milliCPU).toBe(1200);
    const small = makePod({
      containers: [{ name: "a", resources: { requests: { cpu: "100m" } } }],
      initContainers: [
        { name: "init", resources: { requests: { cpu: "150m" } } },
        { name: "side", restartPolicy: "Always", resources: { requests: { cpu: "200m" } } },
      ],
    });
    // init runs before the sidecar starts: max(150, 100 + 200)
    expect(podRequests(small).requests.milliCPU).toBe(300);
  });
  it("adds pod overhead", () => {
    const pod = makePod({ cpu: "100m" });
    pod.spec!.overhead = { cpu: "50m", memory: "10Mi" };
    const r = podRequests(pod);
    expect(r.requests.milliCPU).toBe(150);
    expect(r.requests.memory).toBe(10 * 2 ** 20);
  });
  it("counts containers without requests as 100m / 200Mi for scoring only", () => {
    const pod = makePod({
      containers: [{ name: "a" }, { name: "b", resources: { requests: { cpu: "300m" } } }],
    });
    const r = podRequests(pod);
    expect(r.requests.milliCPU).toBe(300);
    expect(r.requests.memory).toBe(0);
    expect(r.nonZero.milliCPU).toBe(DEFAULT_MILLI_CPU_REQUEST + 300);
    expect(r.nonZero.memory).toBe(2 * DEFAULT_MEMORY_REQUEST);
  });
  it("copes with a pod without spec", () => {
    expect(podRequests({ metadata: { name: "x" } }).requests.milliCPU).toBe(0);
  });
});

describe("nodeAllocatable", () => {
  it("reads status.allocatable", () => {
    const a = nodeAllocatable(makeNode("n", { cpu: "2", memory: "4Gi", pods: "110" }));
    expect(a.pods).toBe(110);
    expect(a.resources.milliCPU).toBe(2000);
    expect(a.resources.memory).toBe(4 * 2 ** 30);
  });
  it("falls back to capacity, and to nothing", () => {
    expect(
      nodeAllocatable({ metadata: { name: "n" }, status: { capacity: { cpu: "1", pods: "3" } } }),
    ).toEqual({
      pods: 3,
      resources: { milliCPU: 1000, memory: 0, ephemeralStorage: 0, scalar: {} },
    });
    expect(nodeAllocatable({ metadata: { name: "n" } }).pods).toBe(0);
  });
});
