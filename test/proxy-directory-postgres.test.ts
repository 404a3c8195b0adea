/**
 * Two proxy instances on one Postgres database (and one Redis): a provider connection changed through
 * instance A reaches instance B's data plane through the NOTIFY that A's change commits with, not through
 * B's cache expiring (B keeps connections fresh for minutes, far longer than these tests run). And when B's
 * listener loses its session, B drops its cache once it listens again, so a change it was not told about
 * is still picked up.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listenerApplicationName } from "../proxy/db/postgresListener.ts";
import { startChain, type TestChain, testKeys } from "./support/chain.ts";
import { call, loginOperator, type OperatorSession, onboardAgent } from "./support/operator.ts";
import { createTestDatabase, postgresAvailable, queryPostgres, type TestDatabase } from "./support/postgres.ts";
import { startTestProxy, type TestProxy } from "./support/proxy.ts";
import { startRedis, type TestRedis } from "./support/redis.ts";
import { type FixtureUpstream, startFixtureUpstream } from "./support/upstream.ts";

const model = "fixture-model";

describe.skipIf(!postgresAvailable)("provider directory across proxies on one Postgres", () => {
  let database: TestDatabase;
  let redis: TestRedis;
  let chain: TestChain;
  let first: FixtureUpstream;
  let second: FixtureUpstream;
  let a: TestProxy;
  let b: TestProxy;
  let session: OperatorSession;

  beforeAll(async () => {
    [database, redis, chain, first, second] = await Promise.all([
      createTestDatabase("killcord_directory"),
      startRedis(),
      startChain(),
      startFixtureUpstream(),
      startFixtureUpstream(),
    ]);
    // One database, so one master key: B decrypts the provider keys A sealed.
    const env = { DATABASE_URL: database.url, KILLCORD_MASTER_KEY: "ab".repeat(32) };
    a = await startTestProxy({ redis, chain, env });
    b = await startTestProxy({ redis, chain, env });
    session = await loginOperator(a.url, testKeys.operator, chain);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await Promise.all([first?.close(), second?.close(), chain?.close(), redis?.close()]);
    await database?.drop();
  });

  /** One completion through `proxy`; resolves the upstream request it produced (where it went, which key). */
  async function ask(proxy: TestProxy, credential: string) {
    const before = { first: first.seen.length, second: second.seen.length };
    const response = await fetch(`${proxy.url}/openai/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${credential}`, "content-type": "application/json" },
      body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    const upstream = first.seen.length > before.first ? "first" : second.seen.length > before.second ? "second" : "none";
    const seen = upstream === "first" ? first.seen.at(-1) : upstream === "second" ? second.seen.at(-1) : undefined;
    return { upstream, authorization: seen?.authorization };
  }

  /** Asks through `proxy` until `accept` holds; the deadline is generous (a busy machine), nothing asserts speed. */
  async function askUntil(
    proxy: TestProxy,
    credential: string,
    accept: (seen: Awaited<ReturnType<typeof ask>>) => boolean,
    ms = 5_000,
  ) {
    const deadline = Date.now() + ms;
    for (;;) {
      const seen = await ask(proxy, credential);
      if (accept(seen) || Date.now() > deadline) return seen;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async function newAgent(apiKey: string) {
    const { agentId, credential } = await onboardAgent(a.url, chain, {
      session,
      providers: [{ name: "openai", baseUrl: first.baseUrl, apiKey, style: "openai" }],
    });
    return { agentId, credential };
  }

  it("sends a provider key rotated through one instance from the other one at once", async () => {
    const { agentId, credential } = await newAgent("sk-directory-old-0001");
    // B caches the connection (fresh for minutes).
    expect(await ask(b, credential)).toEqual({ upstream: "first", authorization: "Bearer sk-directory-old-0001" });
    expect(await ask(b, credential)).toEqual({ upstream: "first", authorization: "Bearer sk-directory-old-0001" });

    await call(session, "PATCH", `/v1/agents/${agentId}/providers/openai`, { apiKey: "sk-directory-new-0002" });
    expect(await askUntil(b, credential, (s) => s.authorization === "Bearer sk-directory-new-0002")).toEqual({
      upstream: "first",
      authorization: "Bearer sk-directory-new-0002",
    });

    await call(session, "PATCH", `/v1/agents/${agentId}/providers/openai`, { baseUrl: second.baseUrl });
    expect(await askUntil(b, credential, (s) => s.upstream === "second")).toEqual({
      upstream: "second",
      authorization: "Bearer sk-directory-new-0002",
    });
  });

  it("picks up a change it was not told about once its listener reconnects", async () => {
    const { agentId, credential } = await newAgent("sk-directory-gap-0001");
    expect((await ask(b, credential)).upstream).toBe("first");

    // Written behind the control plane's back, so no notice is sent: it stands for a change whose notice was
    // lost while B's listener was disconnected (deterministic, unlike racing a change against the reconnect).
    const writer = new pg.Client({ connectionString: database.url });
    await writer.connect();
    try {
      const updated = await writer.query(
        "UPDATE provider_connections SET base_url = $1 WHERE lower(agent_id) = lower($2) AND name = 'openai'",
        [second.baseUrl, agentId],
      );
      expect(updated.rowCount).toBe(1);
    } finally {
      await writer.end();
    }
    // Nothing told B: it still serves what it cached.
    expect((await ask(b, credential)).upstream).toBe("first");

    // The listeners' sessions end (A's too: it does not matter here); each reconnects and clears its cache.
    const ended = await queryPostgres<{ ended: boolean }>(
      database.url,
      `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
        WHERE application_name = '${listenerApplicationName}' AND datname = '${database.name}'`,
    );
    expect(ended.length).toBeGreaterThanOrEqual(2);
    expect((await askUntil(b, credential, (s) => s.upstream === "second")).upstream).toBe("second");

    // Listening again: a change through A reaches B by its notice.
    await call(session, "PATCH", `/v1/agents/${agentId}/providers/openai`, { apiKey: "sk-directory-gap-0002" });
    expect((await askUntil(b, credential, (s) => s.authorization === "Bearer sk-directory-gap-0002")).authorization).toBe(
      "Bearer sk-directory-gap-0002",
    );
  });
});
