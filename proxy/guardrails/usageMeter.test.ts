import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedis, type TestRedis } from "../../test/support/redis.ts";
import { until } from "../../test/support/until.ts";
import { createGate, type Gate, usageCounters } from "../gate/gate.ts";
import { LocalDenySet } from "../gate/localDenySet.ts";
import { ScriptConnection } from "../gate/scriptConnection.ts";
import { keys } from "../store/keys.ts";
import { UsageMeter } from "./usageMeter.ts";

let redis: TestRedis;
let scripts: ScriptConnection;
let gate: Gate;

beforeAll(async () => {
  redis = await startRedis();
  scripts = new ScriptConnection({ url: redis.url, timeoutMs: 1000 });
  await scripts.waitReady(5000);
  gate = createGate({ scripts, localDeny: new LocalDenySet(), failOpen: false });
});
afterAll(async () => {
  await scripts.close();
  await redis.close();
});

const newAgentId = () => `0x${randomBytes(32).toString("hex")}`;
const spent = async (agentId: string, scope: string) =>
  Number((await redis.client.get(keys.usage(agentId, usageCounters(scope, Date.now()).usd))) ?? 0);
const requests = async (agentId: string, scope: string) => {
  const c = usageCounters(scope, Date.now());
  return {
    rpm: Number((await redis.client.get(keys.usage(agentId, c.rpm))) ?? 0),
    rpd: Number((await redis.client.get(keys.usage(agentId, c.rpd))) ?? 0),
  };
};

describe("usage meter", () => {
  it("batches spend and uncounted requests per agent and provider into one meter call each, on its timer", async () => {
    const errors: unknown[] = [];
    const meter = new UsageMeter({ sink: gate, flushMs: 50, onTrip: () => {}, onError: (e: unknown) => errors.push(e) });
    const agentId = newAgentId();
    meter.addSpend(agentId, "openai", 1_000);
    meter.addSpend(agentId, "openai", 2_000);
    meter.addSpend(agentId, "anthropic", 500);
    meter.addSpend(agentId, "openai", 0); // nothing to meter
    meter.addRequests(agentId, "openai");
    meter.addRequests(agentId, "openai");
    meter.addRequests(agentId, "anthropic");
    expect(meter.pending).toEqual({ microUsd: 3_500, requests: 3 });
    await until(async () => (await spent(agentId, "*")) === 3_500);
    expect(await spent(agentId, "openai")).toBe(3_000);
    expect(await spent(agentId, "anthropic")).toBe(500);
    expect(await requests(agentId, "*")).toEqual({ rpm: 3, rpd: 3 });
    expect(await requests(agentId, "openai")).toEqual({ rpm: 2, rpd: 2 });
    expect(meter.pending).toEqual({ microUsd: 0, requests: 0 });

    // The same entries carry the next window's spend.
    meter.addSpend(agentId, "openai", 250);
    await meter.flush();
    expect(await spent(agentId, "openai")).toBe(3_250);
    await meter.close();
    expect(errors).toEqual([]);
  });

  it("keeps spend while Redis is down and writes it once Redis is back", async () => {
    const errors: unknown[] = [];
    const meter = new UsageMeter({ sink: gate, flushMs: 60_000, onTrip: () => {}, onError: (e: unknown) => errors.push(e) });
    const agentId = newAgentId();
    meter.addSpend(agentId, "openai", 700);
    await meter.flush();
    expect(await spent(agentId, "openai")).toBe(700);

    await redis.stop();
    try {
      meter.addSpend(agentId, "openai", 300);
      await meter.flush();
      expect(errors.length).toBe(1);
      expect(meter.pending).toEqual({ microUsd: 300, requests: 0 });
      meter.addSpend(agentId, "openai", 50); // usage keeps arriving meanwhile
      meter.addRequests(agentId, "openai");
      expect(meter.pending).toEqual({ microUsd: 350, requests: 1 });
    } finally {
      await redis.start();
    }
    await scripts.waitReady(10_000);
    await meter.flush();
    expect(meter.pending).toEqual({ microUsd: 0, requests: 0 });
    // The test server keeps nothing on disk: the restarted one holds exactly what was pending.
    expect(await spent(agentId, "openai")).toBe(350);
    expect(await spent(agentId, "*")).toBe(350);
    expect(await requests(agentId, "openai")).toEqual({ rpm: 1, rpd: 1 });
    await meter.close();
  });
});
