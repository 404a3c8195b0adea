/**
 * The data plane end to end: a real proxy (test Redis, temp PGlite, test chain), agents onboarded through
 * the real control plane API, the official `openai` SDK as the agent, and a fixture upstream that counts
 * what reaches it.
 */
import OpenAI, { APIError } from "openai";
import { Client } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usageCounters, utcDay } from "../proxy/gate/gate.ts";
import { type DenyRecord, writeDenyKey } from "../proxy/store/denyKey.ts";
import { keys } from "../proxy/store/keys.ts";
import { startChain, type TestChain, testKeys } from "./support/chain.ts";
import {
  call,
  issueCredential,
  loginOperator,
  type OperatorSession,
  onboardAgent,
  setGuardrail,
  setTier1,
  setTier2,
} from "./support/operator.ts";
import { startTestProxy, type TestProxy } from "./support/proxy.ts";
import { startRedis, type TestRedis } from "./support/redis.ts";
import { type FixtureUpstream, fixtureUsage, startFixtureUpstream } from "./support/upstream.ts";

const providerKey = "sk-fixture-provider-key-0123456789";
const model = "fixture-model";
/** USD per 1M tokens: one fixture call (11 + 7 tokens) costs 18,000 micro-USD ($0.018). */
const price = { input: 1000, output: 1000 };
const callCost = (fixtureUsage.prompt + fixtureUsage.completion) * 1000;

let redis: TestRedis;
let chain: TestChain;
let upstream: FixtureUpstream;
let proxy: TestProxy;
let session: OperatorSession;

beforeAll(async () => {
  [redis, chain, upstream] = await Promise.all([startRedis(), startChain(), startFixtureUpstream()]);
  proxy = await startTestProxy({
    redis,
    chain,
    env: { KILLCORD_PRICE_TABLE: JSON.stringify({ [model]: price }), KILLCORD_MAX_BODY_BYTES: String(64 * 1024) },
  });
  session = await loginOperator(proxy.url, testKeys.operator, chain);
});
afterAll(async () => {
  await proxy?.close();
  await Promise.all([upstream?.close(), chain?.close(), redis?.close()]);
});

/** A fresh onchain agent, linked, with an OpenAI-style and an Anthropic-style connection to the fixture. */
async function newAgent() {
  const { agentId, credential } = await onboardAgent(proxy.url, chain, {
    session,
    providers: [
      { name: "openai", baseUrl: upstream.baseUrl, apiKey: providerKey, style: "openai" },
      { name: "anthropic", baseUrl: upstream.baseUrl, apiKey: providerKey, style: "anthropic" },
    ],
  });
  return { agentId, credential, openai: sdk(credential) };
}

function sdk(credential: string, provider = "openai") {
  return new OpenAI({ baseURL: `${proxy.url}/${provider}`, apiKey: credential, maxRetries: 0 });
}

const ask = (client: OpenAI, content = "hi") => client.chat.completions.create({ model, messages: [{ role: "user", content }] });

/** Expects the call to be refused with `status` and `code`, and nothing to reach the upstream. */
async function expectDenied(work: () => Promise<unknown>, status: number, code: string) {
  const before = upstream.seen.length;
  const error = await work().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(APIError);
  expect({ status: (error as APIError).status, code: (error as APIError).code }).toEqual({ status, code });
  expect(upstream.seen.length).toBe(before);
}

async function eventually<T>(read: () => Promise<T>, accept: (v: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
}

const spent = (agentId: string, scope = "*") =>
  redis.client.get(keys.usage(agentId, `usd:${scope}:${utcDay(Date.now())}`)).then((v) => Number(v ?? 0));

describe("proxied calls", () => {
  it("passes a non-streamed completion with the provider key swapped in, and meters it", async () => {
    const { agentId, credential, openai } = await newAgent();
    const completion = await ask(openai);
    expect(completion.choices[0]?.message.content).toBe("Hello");
    const seen = upstream.seen.at(-1)!;
    expect(seen.path).toBe("/v1/chat/completions");
    expect(seen.authorization).toBe(`Bearer ${providerKey}`);
    expect(JSON.stringify(seen)).not.toContain(credential);
    expect(
      await eventually(
        () => spent(agentId),
        (v) => v > 0,
      ),
    ).toBe(callCost);
    expect(await spent(agentId, "openai")).toBe(callCost);
    // The agent has no request limit: its request is counted by the usage meter, with the spend.
    expect(await redis.client.get(keys.usage(agentId, usageCounters("openai", Date.now()).rpd))).toBe("1");
  });

  it("streams a completion through and meters its usage chunk", async () => {
    const { agentId, openai } = await newAgent();
    const stream = await openai.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("Hello");
    // The proxy asked for the usage chunk the agent did not request, so the stream is metered too.
    expect(upstream.seen.at(-1)!.body.stream_options).toEqual({ include_usage: true });
    expect(
      await eventually(
        () => spent(agentId),
        (v) => v > 0,
      ),
    ).toBe(callCost);
  });

  it("accepts an Anthropic-style x-api-key credential and meters streamed and plain messages", async () => {
    const { agentId, credential } = await newAgent();
    const post = (stream: boolean) =>
      fetch(`${proxy.url}/anthropic/messages`, {
        method: "POST",
        headers: { "x-api-key": credential, "anthropic-version": "2023-06-01", "content-type": "application/json" },
        body: JSON.stringify({ model, max_tokens: 10, stream, messages: [{ role: "user", content: "hi" }] }),
      });
    const plain = await post(false);
    expect(plain.status).toBe(200);
    expect((await plain.json()).content[0].text).toBe("Hello");
    expect(upstream.seen.at(-1)).toMatchObject({ apiKey: providerKey, authorization: undefined });
    const streamed = await post(true);
    expect(await streamed.text()).toContain("message_stop");
    expect(
      await eventually(
        () => spent(agentId),
        (v) => v >= 2 * callCost,
      ),
    ).toBe(2 * callCost);
  });

  it("never shows the provider key, even when the provider quotes it", async () => {
    const { credential } = await newAgent();
    const response = await fetch(`${proxy.url}/openai/error`, { headers: { authorization: `Bearer ${credential}` } });
    expect(response.status).toBe(401);
    const body = await response.text();
    expect(body).toContain("Incorrect API key provided");
    expect(body).not.toContain(providerKey);
  });

  it("passes other methods and query strings through, and keeps requests inside the base URL", async () => {
    const { credential } = await newAgent();
    const auth = { authorization: `Bearer ${credential}` };
    const listed = await fetch(`${proxy.url}/openai/models?limit=2`, { headers: auth });
    expect(listed.status).toBe(404);
    expect(upstream.seen.at(-1)).toMatchObject({ method: "GET", path: "/v1/models?limit=2" });
    // Sent raw (fetch would normalize the dots away before they reach the proxy).
    const raw = new Client(proxy.url);
    try {
      const before = upstream.seen.length;
      for (const path of ["/openai/../admin", "/openai/x/%2e%2e/y", "/openai/a/..%2Fb", "/openai/a\\..\\b"]) {
        const response = await raw.request({ path, method: "GET", headers: auth });
        expect({ path, status: response.statusCode, body: await response.body.json() }).toMatchObject({
          path,
          status: 400,
          body: { error: { code: "INVALID_REQUEST" } },
        });
      }
      expect(upstream.seen.length).toBe(before);
    } finally {
      await raw.close();
    }
  });

  it("refuses a body over the limit with REQUEST_TOO_LARGE", async () => {
    const { credential } = await newAgent();
    const before = upstream.seen.length;
    const response = await fetch(`${proxy.url}/openai/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${credential}`, "content-type": "application/json" },
      body: JSON.stringify({ model, messages: [{ role: "user", content: "x".repeat(100 * 1024) }] }),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: { code: "REQUEST_TOO_LARGE" } });
    expect(upstream.seen.length).toBe(before);
  });

  it("answers PROVIDER_NOT_FOUND for a connection the agent does not have", async () => {
    const { credential } = await newAgent();
    await expectDenied(() => ask(sdk(credential, "mistral")), 404, "PROVIDER_NOT_FOUND");
  });
});

describe("denials", () => {
  it("denies a missing, malformed or unknown credential with INVALID_CREDENTIAL", async () => {
    await expectDenied(() => ask(sdk("sk-not-killcord")), 401, "INVALID_CREDENTIAL");
    const { agentId } = await newAgent();
    const forged = `kc_${agentId.slice(2)}_${"A".repeat(43)}`;
    await expectDenied(() => ask(sdk(forged)), 401, "INVALID_CREDENTIAL");
    const bare = await fetch(`${proxy.url}/openai/chat/completions`, { method: "POST" });
    expect(bare.status).toBe(401);
    expect(await bare.json()).toEqual({ error: { code: "INVALID_CREDENTIAL", message: expect.any(String) } });
  });

  it("denies a revoked credential with CREDENTIAL_REVOKED", async () => {
    const { agentId, openai } = await newAgent();
    await ask(openai);
    const { credentials } = await call<{ credentials: { id: string }[] }>(session, "GET", `/v1/agents/${agentId}/credentials`);
    await call(session, "DELETE", `/v1/agents/${agentId}/credentials/${credentials[0]!.id}`);
    await expectDenied(() => ask(openai), 401, "CREDENTIAL_REVOKED");
    // A credential issued after the revocation works.
    expect((await ask(sdk(await issueCredential(session, agentId)))).choices).toHaveLength(1);
  });

  it("denies the next call after the key module writes a deny key, with the key's code", async () => {
    const cases: [DenyRecord["state"], DenyRecord["code"], number][] = [
      ["killed", "AGENT_KILLED", 403],
      ["suspended", "AGENT_SUSPENDED", 403],
      ["killed", "ATTESTATION_REVOKED", 403],
    ];
    for (const [state, code, status] of cases) {
      const { agentId, openai } = await newAgent();
      await ask(openai);
      await writeDenyKey(
        redis.client,
        agentId,
        { state, code, source: "chain", reason: "test", initiator: session.operator, at: Date.now() },
        60_000,
      );
      await expectDenied(() => ask(openai), status, code);
    }
  });

  it("toggles Tier 1 both ways, for that provider only", async () => {
    const { agentId, credential, openai } = await newAgent();
    await setTier1(session, agentId, "openai", false);
    await expectDenied(() => ask(openai), 403, "PROVIDER_DISABLED");
    const anthropic = await fetch(`${proxy.url}/anthropic/messages`, {
      method: "POST",
      headers: { "x-api-key": credential, "content-type": "application/json" },
      body: JSON.stringify({ model, max_tokens: 1, messages: [] }),
    });
    expect(anthropic.status).toBe(200);
    await setTier1(session, agentId, "openai", true);
    expect((await ask(openai)).choices).toHaveLength(1);
  });

  it("toggles Tier 2 both ways", async () => {
    const { agentId, openai } = await newAgent();
    await setTier2(session, agentId, false);
    await expectDenied(() => ask(openai), 403, "AGENT_DISABLED");
    await setTier2(session, agentId, true);
    expect((await ask(openai)).choices).toHaveLength(1);
  });
});

describe("guardrails", () => {
  it("allow exactly the limit of concurrent calls and trip the configured tier", async () => {
    const { agentId, openai } = await newAgent();
    await setGuardrail(session, agentId, { provider: "openai", rpd: 5, action: "tier1" });
    const before = upstream.seen.length;
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => ask(openai)));
    const passed = results.filter((r) => r.status === "fulfilled");
    const refused = results.flatMap((r) => (r.status === "rejected" ? [r.reason as APIError] : []));
    expect(passed).toHaveLength(5);
    expect(upstream.seen.length - before).toBe(5);
    // The first call over the limit is RATE_LIMITED and trips Tier 1; the ones behind it may already meet the switch.
    const codes = refused.map((e) => `${e.status} ${e.code}`);
    expect(codes).toContain("429 RATE_LIMITED");
    expect(codes.every((c) => c === "429 RATE_LIMITED" || c === "403 PROVIDER_DISABLED")).toBe(true);
    // The breach tripped Tier 1 for this provider, said why, and announced it.
    await expectDenied(() => ask(openai), 403, "PROVIDER_DISABLED");
    const why = JSON.parse((await redis.client.hget(keys.flags(agentId), "tripped:provider:openai"))!);
    expect(why).toMatchObject({ by: "guardrail", code: "RATE_LIMITED", scope: "openai", kind: "rpd", limit: 5 });
    const events = await eventually(
      async () =>
        (await redis.client.xrange(keys.eventStream, "-", "+")).filter(
          ([, f]) => f.includes(agentId) && f.includes("guardrail.tripped"),
        ),
      (e) => e.length > 0,
    );
    expect(events).toHaveLength(1);
  });

  it("meter spend, trip the configured tier on the crossing call, then answer BUDGET_EXCEEDED", async () => {
    const { agentId, openai } = await newAgent();
    // Two calls cost $0.036: the second crosses $0.03.
    await setGuardrail(session, agentId, { usdPerDay: 0.03, action: "tier2" });
    await ask(openai);
    await eventually(
      () => spent(agentId),
      (v) => v === callCost,
    );
    await ask(openai);
    await eventually(
      () => spent(agentId),
      (v) => v === 2 * callCost,
    );
    await eventually(
      () => redis.client.hget(keys.flags(agentId), "agent"),
      (v) => v === "0",
    );
    await expectDenied(() => ask(openai), 403, "AGENT_DISABLED");
    await setTier2(session, agentId, true);
    await expectDenied(() => ask(openai), 429, "BUDGET_EXCEEDED");
  });
});

describe("operations", () => {
  it("serves health, readiness and metrics", async () => {
    expect((await fetch(`${proxy.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${proxy.url}/readyz`);
    expect(await ready.json()).toEqual({ status: "ready", checks: { redis: true, killStream: true, db: true, draining: false } });
    const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
    expect(metrics).toMatch(/killcord_proxy_requests_total\{outcome="allowed"\} [1-9]/);
    expect(metrics).toMatch(/killcord_proxy_denials_total\{code="INVALID_CREDENTIAL"\} [1-9]/);
    expect(metrics).toMatch(/killcord_proxy_gate_duration_seconds_count [1-9]/);
    expect(metrics).toMatch(/killcord_proxy_tokens_total\{direction="output"\} [1-9]/);
    // The process metrics, all but the GC histogram (proxy/metrics/processMetrics.ts).
    for (const name of [
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "process_open_fds",
      "nodejs_eventloop_lag_p99_seconds",
      "nodejs_active_handles_total",
      "nodejs_heap_space_size_used_bytes",
      "nodejs_version_info",
    ]) {
      expect(metrics).toContain(`killcord_proxy_${name}`);
    }
    expect(metrics).not.toContain("gc_duration_seconds");
    expect(metrics).not.toContain(providerKey);
  });

  it("answers GATE_UNAVAILABLE while Redis is down and recovers when it is back, without a restart", async () => {
    const { openai } = await newAgent();
    await ask(openai);
    // Keep the data across the restart, as a production Redis with persistence would.
    await redis.client.save();
    await redis.stop();
    try {
      await expectDenied(() => ask(openai), 503, "GATE_UNAVAILABLE");
      const ready = await fetch(`${proxy.url}/readyz`);
      expect(ready.status).toBe(503);
    } finally {
      await redis.start();
    }
    const recovered = await eventually(
      () =>
        ask(openai).then(
          () => true,
          () => false,
        ),
      (ok) => ok,
    );
    expect(recovered).toBe(true);
  });
});
