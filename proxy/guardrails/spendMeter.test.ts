import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedis, type TestRedis } from "../../test/support/redis.ts";
import { until } from "../../test/support/until.ts";
import { createGate, type Gate, usageCounters } from "../gate/gate.ts";
import { LocalDenySet } from "../gate/localDenySet.ts";
import { ScriptConnection } from "../gate/scriptConnection.ts";
import { keys } from "../store/keys.ts";
import { SpendMeter } from "./spendMeter.ts";

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

describe("spend meter", () => {
  it("batches spend per agent and provider into one meter call each, on its timer", async () => {
    const errors: unknown[] = [];
    const meter = new SpendMeter({ sink: gate, flushMs: 50, onTrip: () => {}, onError: (e) => errors.push(e) });
    const agentId = newAgentId();
    meter.add(agentId, "openai", 1_000);
    meter.add(agentId, "openai", 2_000);
    meter.add(agentId, "anthropic", 500);
    meter.add(agentId, "openai", 0); // nothing to meter
    expect(meter.pending).toBe(3_500);
    await until(async () => (await spent(agentId, "*")) === 3_500);
    expect(await spent(agentId, "openai")).toBe(3_000);
    expect(await spent(agentId, "anthropic")).toBe(500);
    expect(meter.pending).toBe(0);

    // The same entries carry the next window's spend.
    meter.add(agentId, "openai", 250);
    await meter.flush();
    expect(await spent(agentId, "openai")).toBe(3_250);
    await meter.close();
    expect(errors).toEqual([]);
  });

  it("keeps spend while Redis is down and writes it once Redis is back", async () => {
    const errors: unknown[] = [];
    const meter = new SpendMeter({ sink: gate, flushMs: 60_000, onTrip: () => {}, onError: (e) => errors.push(e) });
    const agentId = newAgentId();
    meter.add(agentId, "openai", 700);
    await meter.flush();
    expect(await spent(agentId, "openai")).toBe(700);

    await redis.stop();
    try {
      meter.add(agentId, "openai", 300);
      await meter.flush();
      expect(errors.length).toBe(1);
      expect(meter.pending).toBe(300);
      meter.add(agentId, "openai", 50); // spend keeps arriving meanwhile
      expect(meter.pending).toBe(350);
    } finally {
      await redis.start();
    }
    await scripts.waitReady(10_000);
    await meter.flush();
    expect(meter.pending).toBe(0);
    // The test server keeps nothing on disk: the restarted one holds exactly what was pending.
    expect(await spent(agentId, "openai")).toBe(350);
    expect(await spent(agentId, "*")).toBe(350);
    await meter.close();
  });
});
