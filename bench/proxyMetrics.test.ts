import { describe, expect, it } from "vitest";
import { createMetrics } from "../proxy/metrics/metrics.ts";
import { histogramWindow, metricValue } from "./proxyMetrics.ts";

const gate = "killcord_proxy_gate_duration_seconds";

describe("bench reading of the proxy's metrics", () => {
  it("takes the gate histogram between two scrapes, not since the proxy started", async () => {
    const metrics = createMetrics();
    // Before the window: slow calls that must not count.
    for (let i = 0; i < 50; i++) metrics.gateSeconds(0.02);
    const before = await metrics.registry.metrics();
    for (let i = 0; i < 98; i++) metrics.gateSeconds(0.0002);
    metrics.gateSeconds(0.0008);
    metrics.gateSeconds(0.004);
    const after = await metrics.registry.metrics();

    const window = histogramWindow(before, after, gate);
    expect(window.count).toBe(100);
    expect(window.p50AtMostMs).toBeCloseTo(0.25);
    expect(window.p99AtMostMs).toBeCloseTo(1);
    expect(window.over1Ms).toBeCloseTo(0.01);
    expect(metricValue(after, `${gate}_count`)).toBe(150);
  });

  it("says nothing of an empty window", async () => {
    const metrics = createMetrics();
    const text = await metrics.registry.metrics();
    const window = histogramWindow(text, text, gate);
    expect(window.count).toBe(0);
    expect(window.p99AtMostMs).toBeNaN();
    expect(metricValue(text, "killcord_proxy_no_such_metric")).toBeNaN();
  });
});
