import { describe, expect, it } from "vitest";
import { gateDenialCodes } from "../errors.ts";
import { createMetrics } from "./metrics.ts";

describe("proxy metrics", () => {
  it("folds the per-request counts into the exposition when read, without counting twice", async () => {
    const metrics = createMetrics();
    metrics.outcome("allowed");
    metrics.outcome("allowed");
    metrics.outcome("denied");
    metrics.denial("RATE_LIMITED");
    metrics.tokens(11, 7);
    metrics.spend(1250);
    metrics.unmetered();
    metrics.gateSeconds(0.0003);
    metrics.gateSeconds(0.002);
    metrics.gateSeconds(5);
    const first = await metrics.registry.metrics();
    expect(first).toContain("# TYPE killcord_proxy_gate_duration_seconds histogram");
    expect(first).toContain('killcord_proxy_gate_duration_seconds_bucket{le="0.00025"} 0');
    expect(first).toContain('killcord_proxy_gate_duration_seconds_bucket{le="0.0005"} 1');
    expect(first).toContain('killcord_proxy_gate_duration_seconds_bucket{le="0.0025"} 2');
    expect(first).toContain('killcord_proxy_gate_duration_seconds_bucket{le="1"} 2');
    expect(first).toContain('killcord_proxy_gate_duration_seconds_bucket{le="+Inf"} 3');
    expect(first).toContain("killcord_proxy_gate_duration_seconds_sum 5.0023");
    expect(first).toContain("killcord_proxy_gate_duration_seconds_count 3");
    expect(first).toContain('killcord_proxy_requests_total{outcome="allowed"} 2');
    expect(first).toContain('killcord_proxy_requests_total{outcome="denied"} 1');
    expect(first).toContain('killcord_proxy_requests_total{outcome="aborted"} 0');
    expect(first).toContain('killcord_proxy_denials_total{code="RATE_LIMITED"} 1');
    // Every gate code is exported from the start, at 0 until it happens.
    for (const code of gateDenialCodes) expect(first).toContain(`killcord_proxy_denials_total{code="${code}"}`);
    expect(first).toContain('killcord_proxy_tokens_total{direction="input"} 11');
    expect(first).toContain('killcord_proxy_tokens_total{direction="output"} 7');
    expect(first).toContain("killcord_proxy_spend_micro_usd_total 1250");
    expect(first).toContain("killcord_proxy_unmetered_responses_total 1");

    metrics.outcome("allowed");
    const second = await metrics.registry.metrics();
    expect(second).toContain('killcord_proxy_requests_total{outcome="allowed"} 3');
    expect(second).toContain('killcord_proxy_denials_total{code="RATE_LIMITED"} 1');
    expect(second).toContain("killcord_proxy_spend_micro_usd_total 1250");
  });
});
