/**
 * Kills reach every proxy instance through the kill stream: two proxies on one Redis (each with its own
 * durable store), open streams and in-flight calls on both, one kill-stream entry. Also graceful shutdown, and
 * the upstream timeout (calls the proxy cuts itself when the upstream goes quiet).
 */
import OpenAI, { APIError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendKill } from "../proxy/store/denyKey.ts";
import { keys } from "../proxy/store/keys.ts";
import { startChain, type TestChain, testKeys } from "./support/chain.ts";
import {
  addProvider,
  issueCredential,
  linkAgent,
  loginOperator,
  type OperatorSession,
  registerTestAgent,
} from "./support/operator.ts";
import { startTestProxy, type TestProxy } from "./support/proxy.ts";
import { startRedis, type TestRedis } from "./support/redis.ts";
import { until } from "./support/until.ts";
import { type FixtureUpstream, startFixtureUpstream } from "./support/upstream.ts";

const model = "fixture-model";
let redis: TestRedis;
let chain: TestChain;
let upstream: FixtureUpstream;
const proxies: TestProxy[] = [];
const sessions: OperatorSession[] = [];

beforeAll(async () => {
  [redis, chain, upstream] = await Promise.all([startRedis(), startChain(), startFixtureUpstream()]);
  for (let i = 0; i < 2; i++) {
    const proxy = await startTestProxy({ redis, chain });
    proxies.push(proxy);
    sessions.push(await loginOperator(proxy.url, testKeys.operator, chain));
  }
});
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await Promise.all([upstream?.close(), chain?.close(), redis?.close()]);
});

/** An agent linked on every instance (each has its own store; Redis, and so the credential, is shared). */
async function agentOnEveryInstance(): Promise<{ agentId: string; credential: string }> {
  const agentId = await registerTestAgent(chain);
  for (const session of sessions) {
    await linkAgent(session, agentId);
    await addProvider(session, agentId, { name: "openai", baseUrl: upstream.baseUrl, apiKey: "sk-fixture", style: "openai" });
  }
  return { agentId, credential: await issueCredential(sessions[0]!, agentId) };
}

const client = (proxy: TestProxy, credential: string) =>
  new OpenAI({ baseURL: `${proxy.url}/openai`, apiKey: credential, maxRetries: 0 });

/** A proxy of its own (settings overridden by `env`) with one agent linked, and that agent's client. */
async function proxyWithAgent(env: Record<string, string>): Promise<{ proxy: TestProxy; openai: OpenAI }> {
  const proxy = await startTestProxy({ redis, chain, env });
  try {
    const session = await loginOperator(proxy.url, testKeys.operator, chain);
    const agentId = await registerTestAgent(chain);
    await linkAgent(session, agentId);
    await addProvider(session, agentId, { name: "openai", baseUrl: upstream.baseUrl, apiKey: "sk-fixture", style: "openai" });
    return { proxy, openai: client(proxy, await issueCredential(session, agentId)) };
  } catch (error) {
    await proxy.close();
    throw error;
  }
}

/** Opens a stream the fixture holds after its first chunk; resolves once that chunk has arrived. */
async function openHeldStream(openai: OpenAI) {
  const stream = await openai.chat.completions.create({ model, messages: [{ role: "user", content: "hold" }], stream: true });
  const iterator = stream[Symbol.asyncIterator]();
  const first = await iterator.next();
  expect(first.value?.choices[0]?.delta.content).toBe("Hel");
  // The outcome of reading the rest: the error that ended it, or "ended" if it ended cleanly.
  const rest = (async () => {
    try {
      while (!(await iterator.next()).done) {}
      return "ended";
    } catch (error) {
      return error;
    }
  })();
  return { stream, rest };
}

describe("kill stream", () => {
  it("aborts the agent's open streams and in-flight calls on every instance, and denies its next call", async () => {
    const victim = await agentOnEveryInstance();
    const bystander = await agentOnEveryInstance();
    const holdingBefore = upstream.holding;

    const streams = await Promise.all(proxies.map((p) => openHeldStream(client(p, victim.credential))));
    const inFlight = proxies.map((p) =>
      client(p, victim.credential)
        .chat.completions.create({ model, messages: [{ role: "user", content: "hold" }] })
        .then(
          () => "answered",
          (e: unknown) => e,
        ),
    );
    const other = await openHeldStream(client(proxies[0]!, bystander.credential));
    await until(() => upstream.holding === holdingBefore + 5);

    // Only the kill stream: no deny key is written, so what denies afterwards is each instance's local set.
    await appendKill(redis.client, victim.agentId, {
      state: "killed",
      code: "AGENT_KILLED",
      source: "api",
      reason: "test kill",
      initiator: "test",
      at: Date.now(),
    });

    for (const { rest } of streams) {
      const error = await rest;
      expect(error).toBeInstanceOf(APIError);
      expect((error as APIError).code).toBe("AGENT_KILLED");
    }
    for (const outcome of await Promise.all(inFlight)) {
      expect(outcome).toBeInstanceOf(APIError);
      expect({ status: (outcome as APIError).status, code: (outcome as APIError).code }).toEqual({
        status: 403,
        code: "AGENT_KILLED",
      });
    }
    // The upstream saw the four calls go away; the bystander's stream is still open.
    await until(() => upstream.holding === holdingBefore + 1);
    expect(await redis.client.exists(keys.deny(victim.agentId))).toBe(0);

    const seen = upstream.seen.length;
    for (const proxy of proxies) {
      const error = await client(proxy, victim.credential)
        .chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] })
        .catch((e: unknown) => e);
      expect({ status: (error as APIError).status, code: (error as APIError).code }).toEqual({
        status: 403,
        code: "AGENT_KILLED",
      });
    }
    expect(upstream.seen.length).toBe(seen);

    // The bystander's stream was untouched; closing it from the client side lets the upstream go.
    other.stream.controller.abort();
    await other.rest;
    await until(() => upstream.holding === holdingBefore);
  });

  it("cuts a suspended agent's stream with AGENT_SUSPENDED", async () => {
    const agent = await agentOnEveryInstance();
    const { rest } = await openHeldStream(client(proxies[1]!, agent.credential));
    await appendKill(redis.client, agent.agentId, {
      state: "suspended",
      code: "AGENT_SUSPENDED",
      source: "cli",
      reason: "investigating",
      initiator: "test",
      at: Date.now(),
    });
    expect(((await rest) as APIError).code).toBe("AGENT_SUSPENDED");
  });
});

describe("graceful shutdown", () => {
  it("lets calls finish, then cuts a stream that outlives the grace period", async () => {
    const { proxy, openai } = await proxyWithAgent({ KILLCORD_SHUTDOWN_GRACE_MS: "300" });
    try {
      const { rest } = await openHeldStream(openai);
      const slow = openai.chat.completions.create({ model, messages: [{ role: "user", content: "slow" }] });
      await until(() => upstream.seen.at(-1)?.body?.messages?.[0]?.content === "slow");
      const closed = proxy.proxy.close();
      // The call in flight when shutdown began is answered; the stream that outlives the grace is cut.
      expect((await slow).choices[0]?.message.content).toBe("Hello");
      expect(((await rest) as APIError).code).toBe("SHUTTING_DOWN");
      await closed;
      expect((await fetch(`${proxy.url}/healthz`).catch((e: unknown) => e)) instanceof Error).toBe(true);
    } finally {
      await proxy.close();
    }
  });
});

describe("upstream timeout", () => {
  it("answers UPSTREAM_TIMEOUT when the upstream sends no headers, and cuts a stream that goes quiet", async () => {
    const { proxy, openai } = await proxyWithAgent({ KILLCORD_UPSTREAM_TIMEOUT_MS: "600" });
    try {
      const holdingBefore = upstream.holding;

      // A call slower than usual but within the timeout is answered.
      const slow = await openai.chat.completions.create({ model, messages: [{ role: "user", content: "slow" }] });
      expect(slow.choices[0]?.message.content).toBe("Hello");

      const started = performance.now();
      const error = await openai.chat.completions
        .create({ model, messages: [{ role: "user", content: "hold" }] })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(APIError);
      expect({ status: (error as APIError).status, code: (error as APIError).code }).toEqual({
        status: 504,
        code: "UPSTREAM_TIMEOUT",
      });
      expect(performance.now() - started).toBeGreaterThanOrEqual(600);

      // The stream's first chunk came through; then the upstream went quiet and the proxy ended the stream.
      const { rest } = await openHeldStream(openai);
      expect(((await rest) as APIError).code).toBe("UPSTREAM_TIMEOUT");
      // Both upstream requests were let go.
      await until(() => upstream.holding === holdingBefore);
      const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
      expect(metrics).toMatch(/killcord_proxy_requests_total\{outcome="upstream_error"\} [1-9]/);
    } finally {
      await proxy.close();
    }
  });
});
