import { randomBytes } from "node:crypto";
import fastify from "fastify";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedis, type TestRedis } from "../../test/support/redis.ts";
import { until } from "../../test/support/until.ts";
import { LocalDenySet } from "../gate/localDenySet.ts";
import { appendKill, type DenyRecord } from "../store/denyKey.ts";
import { type AbortReason, InFlight, type InFlightCall } from "../upstream/inFlight.ts";
import { startKillListener } from "./killListener.ts";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.close();
});

// fastify's own (pino) logger, silenced: the listener logs through the app's logger in the proxy.
const silent = fastify({ logger: { level: "silent" } }).log;
const newAgentId = () => `0x${randomBytes(32).toString("hex")}`;
const record = (state: DenyRecord["state"], code: DenyRecord["code"]): DenyRecord => ({
  state,
  code,
  source: "test",
  reason: "test",
  initiator: "test",
  at: Date.now(),
});

describe("kill listener", () => {
  it("loads earlier kills at start, then applies new ones and aborts the agent's calls", async () => {
    const before = newAgentId();
    await appendKill(redis.client, before, record("killed", "ATTESTATION_REVOKED"));
    const localDeny = new LocalDenySet();
    const inFlight = new InFlight();
    const connection = new Redis(redis.url, { maxRetriesPerRequest: 0 });
    connection.on("error", () => {});
    const listener = startKillListener({ redis: connection, localDeny, inFlight, suspendTtlMs: 60_000, log: silent });
    try {
      await listener.ready;
      expect(localDeny.get(before)).toBe("ATTESTATION_REVOKED");

      const victim = newAgentId();
      const aborted: AbortReason[] = [];
      const call: InFlightCall = {
        agentId: victim,
        finished: false,
        deadline: Number.POSITIVE_INFINITY,
        abort: (reason) => aborted.push(reason as AbortReason),
        inFlightPrev: undefined,
        inFlightNext: undefined,
      };
      inFlight.track(call);
      await appendKill(redis.client, victim, record("suspended", "AGENT_SUSPENDED"));
      await until(() => aborted.length === 1);
      expect(aborted[0]!.code).toBe("AGENT_SUSPENDED");
      expect(localDeny.get(victim)).toBe("AGENT_SUSPENDED");
      // A suspension lapses locally after its TTL; the deny key in Redis decides from then on.
      expect(localDeny.get(victim, Date.now() + 120_000)).toBeUndefined();
    } finally {
      await listener.stop();
    }
  });

  it("resumes from the last entry it saw after Redis comes back", async () => {
    const localDeny = new LocalDenySet();
    const connection = new Redis(redis.url, { maxRetriesPerRequest: 0 });
    connection.on("error", () => {});
    const listener = startKillListener({
      redis: connection,
      localDeny,
      inFlight: new InFlight(),
      suspendTtlMs: 60_000,
      log: silent,
    });
    try {
      await listener.ready;
      await redis.client.save();
      await redis.stop();
      await until(() => !listener.healthy);
      await redis.start();
      const after = newAgentId();
      await appendKill(redis.client, after, record("killed", "AGENT_KILLED"));
      await until(() => localDeny.get(after) === "AGENT_KILLED");
      expect(listener.healthy).toBe(true);
    } finally {
      await listener.stop();
    }
  });
});
