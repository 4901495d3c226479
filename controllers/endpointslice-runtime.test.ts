import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { counter, TriggerTimeTracker } from "./endpointslice-runtime.js";

describe("TriggerTimeTracker", () => {
  it("keeps the earliest pending change per key until taken", () => {
    const t = new TriggerTimeTracker();
    expect(t.take("ns/a")).toBeUndefined();
    t.note("ns/a", "2024-05-01T10:00:05Z");
    t.note("ns/a", "2024-05-01T10:00:02Z");
    t.note("ns/a", new Date("2024-05-01T10:00:09.500Z"));
    t.note("ns/a", "not a time");
    t.note("ns/a", undefined);
    t.note("ns/b", new Date("2024-05-01T10:00:09.500Z"));
    expect(t.take("ns/a")).toBe("2024-05-01T10:00:02Z");
    expect(t.take("ns/a")).toBeUndefined();
    expect(t.take("ns/b")).toBe("2024-05-01T10:00:09Z");
    t.note("ns/c", "2024-05-01T10:00:00Z");
    t.forget("ns/c");
    expect(t.take("ns/c")).toBeUndefined();
  });
});

describe("metric helpers", () => {
  it("register once per registry and return the same metric after", () => {
    const r = new Registry();
    const a = counter(r, "x_total", "x", ["op"]);
    const b = counter(r, "x_total", "x", ["op"]);
    expect(a).toBe(b);
  });
});
