import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startRedis, type TestRedis } from "../../test/support/redis.ts";
import { formatCredential, parseCredential } from "../store/agentState.ts";
import { writeDenyKey } from "../store/denyKey.ts";
import { keys } from "../store/keys.ts";
import { createGate, type Gate, usageCounters, utcDay } from "./gate.ts";
import { LocalDenySet } from "./localDenySet.ts";
import { ScriptConnection } from "./scriptConnection.ts";

let redis: TestRedis;
let scripts: ScriptConnection;
let gate: Gate;
let localDeny: LocalDenySet;

beforeAll(async () => {
  redis = await startRedis();
  scripts = new ScriptConnection({ url: redis.url, timeoutMs: 1000 });
  await scripts.waitReady(5000);
});
afterAll(async () => {
  await scripts.close();
  await redis.close();
});
beforeEach(async () => {
  await redis.client.flushall();
  localDeny = new LocalDenySet();
  gate = createGate({ scripts, localDeny, failOpen: false });
});

function newAgent() {
  const agentId = `0x${randomBytes(32).toString("hex")}`;
  const credential = parseCredential(formatCredential(agentId, randomBytes(32)))!;
  return { agentId, credential };
}

async function issue(agentId: string, secretHash: string, issuedAt = Date.now()) {
  await redis.client.hset(keys.credential(agentId, secretHash), { id: "c1", issuedAt: String(issuedAt) });
}

async function registered() {
  const agent = newAgent();
  await issue(agent.agentId, agent.credential.secretHash);
  return agent;
}

const check = (credential: ReturnType<typeof newAgent>["credential"], provider = "openai", now?: number) =>
  gate.check({ credential, provider, count: true, now });

describe("gate", () => {
  it("allows an issued credential and, with a request limit, counts the request in every window", async () => {
    const { agentId, credential } = await registered();
    await redis.client.hset(keys.guardrails(agentId), "openai:rpd", "1000");
    const now = Date.now();
    expect(await check(credential, "openai", now)).toEqual({ allowed: true });
    for (const scope of ["*", "openai"]) {
      const c = usageCounters(scope, now);
      expect(await redis.client.get(keys.usage(agentId, c.rpm))).toBe("1");
      expect(await redis.client.get(keys.usage(agentId, c.rpd))).toBe("1");
      expect(await redis.client.pttl(keys.usage(agentId, c.rpm))).toBeGreaterThan(60_000);
    }
  });

  it("leaves counting to the usage meter when the agent has no request limit, which meter() then writes", async () => {
    const { agentId, credential } = await registered();
    const now = Date.now();
    expect(await check(credential, "openai", now)).toEqual({ allowed: true, uncounted: true });
    // A spend limit alone needs no request count either.
    await redis.client.hset(keys.guardrails(agentId), "*:usd", "5000000");
    expect(await check(credential, "openai", now)).toEqual({ allowed: true, uncounted: true });
    expect(await redis.client.get(keys.usage(agentId, usageCounters("*", now).rpm))).toBeNull();

    expect(await gate.meter(agentId, "openai", 0, 2, now)).toBeUndefined();
    for (const scope of ["*", "openai"]) {
      const c = usageCounters(scope, now);
      expect(await redis.client.get(keys.usage(agentId, c.rpm))).toBe("2");
      expect(await redis.client.get(keys.usage(agentId, c.rpd))).toBe("2");
      expect(await redis.client.pttl(keys.usage(agentId, c.rpm))).toBeGreaterThan(60_000);
      expect(await redis.client.pttl(keys.usage(agentId, c.rpd))).toBeGreaterThan(86_400_000);
      expect(await redis.client.get(keys.usage(agentId, c.usd))).toBeNull();
    }
    // Once a limit exists the script counts on top of what the meter wrote.
    await redis.client.hset(keys.guardrails(agentId), "*:rpm", "3");
    expect(await check(credential, "openai", now)).toEqual({ allowed: true });
    expect(await check(credential, "openai", now)).toMatchObject({ allowed: false, code: "RATE_LIMITED" });
  });

  it("denies an unknown credential as INVALID_CREDENTIAL, even for a killed agent", async () => {
    const { agentId, credential } = newAgent();
    expect(await check(credential)).toMatchObject({ allowed: false, code: "INVALID_CREDENTIAL" });
    await writeDenyKey(redis.client, agentId, {
      state: "killed",
      code: "AGENT_KILLED",
      source: "api",
      reason: "x",
      initiator: "t",
      at: 1,
    });
    expect(await check(credential)).toMatchObject({ allowed: false, code: "INVALID_CREDENTIAL" });
  });

  it("answers each deny key with its code", async () => {
    for (const [state, code] of [
      ["killed", "AGENT_KILLED"],
      ["suspended", "AGENT_SUSPENDED"],
      ["killed", "ATTESTATION_REVOKED"],
    ] as const) {
      const { agentId, credential } = await registered();
      await writeDenyKey(redis.client, agentId, { state, code, source: "chain", reason: "r", initiator: "0xabc", at: 1 }, 60_000);
      expect(await check(credential)).toMatchObject({ allowed: false, code });
    }
  });

  it("denies on an unreadable deny key (fail closed)", async () => {
    const { agentId, credential } = await registered();
    await redis.client.set(keys.deny(agentId), "not json");
    expect(await check(credential)).toMatchObject({ allowed: false, code: "AGENT_KILLED" });
  });

  it("denies an agent once its attestation's expiry (by Redis's clock) has come, and only then", async () => {
    const { agentId, credential } = await registered();
    const [seconds] = await redis.client.time();
    const redisNow = Number(seconds) * 1000;
    await redis.client.hset(keys.flags(agentId), "expiresAt", String(redisNow + 60_000));
    expect(await check(credential)).toMatchObject({ allowed: true });
    await redis.client.hset(keys.flags(agentId), "expiresAt", String(redisNow - 1_000));
    expect(await check(credential)).toEqual({ allowed: false, code: "ATTESTATION_EXPIRED" });
    // Before the credential's own state, and whether or not the call would count guardrails.
    await redis.client.hset(keys.credential(agentId, credential.secretHash), "revokedAt", String(redisNow));
    expect(await check(credential)).toMatchObject({ code: "ATTESTATION_EXPIRED" });
    expect(await gate.check({ credential, provider: "openai", count: false })).toMatchObject({ code: "ATTESTATION_EXPIRED" });
    // An unreadable expiry denies (fail closed); a renewal (the indexer replaces or removes the field) allows.
    await redis.client.hdel(keys.credential(agentId, credential.secretHash), "revokedAt");
    await redis.client.hset(keys.flags(agentId), "expiresAt", "soon");
    expect(await check(credential)).toMatchObject({ code: "ATTESTATION_EXPIRED" });
    await redis.client.hdel(keys.flags(agentId), "expiresAt");
    expect(await check(credential)).toMatchObject({ allowed: true });
  });

  it("denies a revoked credential and one issued before the cut-off", async () => {
    const a = await registered();
    await redis.client.hset(keys.credential(a.agentId, a.credential.secretHash), "revokedAt", String(Date.now()));
    expect(await check(a.credential)).toMatchObject({ allowed: false, code: "CREDENTIAL_REVOKED" });

    const b = newAgent();
    await issue(b.agentId, b.credential.secretHash, 1000);
    await redis.client.hset(keys.flags(b.agentId), "cutoff", "2000");
    expect(await check(b.credential)).toMatchObject({ allowed: false, code: "CREDENTIAL_REVOKED" });
    await redis.client.hset(keys.flags(b.agentId), "cutoff", "1000");
    expect(await check(b.credential)).toMatchObject({ allowed: true });
  });

  it("toggles Tier 2 and Tier 1 both ways", async () => {
    const { agentId, credential } = await registered();
    await redis.client.hset(keys.flags(agentId), "agent", "0");
    expect(await check(credential)).toMatchObject({ allowed: false, code: "AGENT_DISABLED" });
    await redis.client.hset(keys.flags(agentId), "agent", "1");
    expect(await check(credential)).toMatchObject({ allowed: true });
    await redis.client.hset(keys.flags(agentId), "provider:openai", "0");
    expect(await check(credential, "openai")).toMatchObject({ allowed: false, code: "PROVIDER_DISABLED" });
    expect(await check(credential, "anthropic")).toMatchObject({ allowed: true });
    await redis.client.hset(keys.flags(agentId), "provider:openai", "1");
    expect(await check(credential, "openai")).toMatchObject({ allowed: true });
  });

  it("allows exactly the limit of concurrent requests per minute", async () => {
    const { agentId, credential } = await registered();
    await redis.client.hset(keys.guardrails(agentId), "*:rpm", "7");
    // One fixed instant: the calls must not straddle a minute boundary.
    const now = Date.now();
    const verdicts = await Promise.all(Array.from({ length: 20 }, () => check(credential, "openai", now)));
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(7);
    const denied = verdicts.filter((v) => !v.allowed);
    expect(denied.every((v) => !v.allowed && v.code === "RATE_LIMITED" && v.retryAfterSeconds! <= 60)).toBe(true);
  });

  it("trips Tier 1 for the provider once when its daily limit is breached", async () => {
    const { agentId, credential } = await registered();
    await redis.client.hset(keys.guardrails(agentId), { "openai:rpd": "2", "openai:action": "tier1" });
    expect((await check(credential)).allowed).toBe(true);
    expect((await check(credential)).allowed).toBe(true);
    const breach = await check(credential);
    expect(breach).toMatchObject({
      allowed: false,
      code: "RATE_LIMITED",
      breach: { scope: "openai", kind: "rpd", limit: 2, value: 2, action: "tier1", tripped: true },
    });
    expect(await redis.client.hget(keys.flags(agentId), "provider:openai")).toBe("0");
    expect(JSON.parse((await redis.client.hget(keys.flags(agentId), "tripped:provider:openai"))!)).toMatchObject({
      by: "guardrail",
      code: "RATE_LIMITED",
      kind: "rpd",
      limit: 2,
    });
    expect(await check(credential)).toMatchObject({ allowed: false, code: "PROVIDER_DISABLED" });
    // Another provider is untouched by a Tier 1 trip.
    expect((await check(credential, "anthropic")).allowed).toBe(true);
  });

  it("trips Tier 2 for the agent when the all-providers limit is breached", async () => {
    const { agentId, credential } = await registered();
    await redis.client.hset(keys.guardrails(agentId), { "*:rpm": "1", "*:action": "tier2" });
    expect((await check(credential)).allowed).toBe(true);
    expect(await check(credential, "anthropic")).toMatchObject({ code: "RATE_LIMITED", breach: { scope: "*", tripped: true } });
    expect(await redis.client.hget(keys.flags(agentId), "agent")).toBe("0");
    expect(await check(credential)).toMatchObject({ code: "AGENT_DISABLED" });
  });

  it("meters spend, trips on the crossing, then answers BUDGET_EXCEEDED", async () => {
    const { agentId, credential } = await registered();
    await redis.client.hset(keys.guardrails(agentId), { "*:usd": "1000", "*:action": "tier2" });
    const now = Date.now();
    expect(await gate.meter(agentId, "openai", 600, 0, now)).toBeUndefined();
    expect((await check(credential, "openai", now)).allowed).toBe(true);
    expect(await gate.meter(agentId, "openai", 400, 0, now)).toMatchObject({
      scope: "*",
      kind: "usd",
      limit: 1000,
      value: 1000,
      tripped: true,
    });
    expect(await gate.meter(agentId, "openai", 400, 0, now)).toBeUndefined();
    expect(await redis.client.get(keys.usage(agentId, `usd:*:${utcDay(now)}`))).toBe("1400");
    expect(await redis.client.get(keys.usage(agentId, `usd:openai:${utcDay(now)}`))).toBe("1400");
    expect(await check(credential, "openai", now)).toMatchObject({ code: "AGENT_DISABLED" });
    await redis.client.hset(keys.flags(agentId), "agent", "1");
    expect(await check(credential, "openai", now)).toMatchObject({ code: "BUDGET_EXCEEDED" });
  });

  it("neither checks nor counts guardrails when asked only to authenticate", async () => {
    const { agentId, credential } = await registered();
    await redis.client.hset(keys.guardrails(agentId), "*:rpm", "0");
    expect(await gate.check({ credential, provider: "nope", count: false })).toEqual({ allowed: true });
    expect(await redis.client.get(keys.usage(agentId, usageCounters("*", Date.now()).rpm))).toBeNull();
    expect(await check(credential)).toMatchObject({ code: "RATE_LIMITED" });
  });

  it("answers from the local deny set without Redis", async () => {
    const { agentId, credential } = await registered();
    localDeny.add(agentId, "AGENT_KILLED");
    await redis.stop();
    try {
      expect(await check(credential)).toMatchObject({ allowed: false, code: "AGENT_KILLED" });
      const other = newAgent();
      expect(await check(other.credential)).toMatchObject({ allowed: false, code: "GATE_UNAVAILABLE" });
      const open = createGate({ scripts, localDeny, failOpen: true });
      expect(await open.check({ credential: other.credential, provider: "openai", count: true })).toEqual({
        allowed: true,
        failOpen: true,
      });
      expect(await open.check({ credential, provider: "openai", count: true })).toMatchObject({ code: "AGENT_KILLED" });
    } finally {
      await redis.start();
      expect(await scripts.waitReady(10_000)).toBe(true);
    }
    // The script cache died with the server: the gate recovers through EVAL without help.
    expect((await check((await registered()).credential)).allowed).toBe(true);
  });
});

describe("local deny set", () => {
  it("holds a suspension until it lapses and never weakens a kill", () => {
    const set = new LocalDenySet();
    set.add("a", "AGENT_SUSPENDED", 100);
    expect(set.get("a", 99)).toBe("AGENT_SUSPENDED");
    expect(set.get("a", 100)).toBeUndefined();
    set.add("b", "AGENT_KILLED");
    set.add("b", "AGENT_SUSPENDED", 100);
    expect(set.get("b", 1e15)).toBe("AGENT_KILLED");
  });
});
