import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keys } from "../proxy/store/keys.ts";
import { startChain, type TestChain, testKeys } from "./support/chain.ts";
import {
  addProvider,
  agentView,
  callRaw,
  createKey,
  issueCredential,
  linkAgent,
  loginOperator,
  registerTestAgent,
  setGuardrail,
  setTier1,
  startControlPlane,
  type TestControlPlane,
} from "./support/operator.ts";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "./support/postgres.ts";
import { startRedis, type TestRedis } from "./support/redis.ts";

// The same control plane on a Postgres server (DATABASE_URL) when one answers locally: the test creates
// its own database and drops it afterwards.
describe.skipIf(!postgresAvailable)("control plane on Postgres", () => {
  let redis: TestRedis;
  let chain: TestChain;
  let cp: TestControlPlane;
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase("killcord_cp_e2e");
    redis = await startRedis();
    chain = await startChain();
    cp = await startControlPlane(redis, chain, { databaseUrl: database.url });
  });
  afterAll(async () => {
    await cp?.close();
    await chain?.close();
    await redis?.close();
    await database?.drop();
  });

  it("runs an operator's whole flow", async () => {
    const owner = await loginOperator(cp.url, testKeys.operator, chain);
    const agentId = await registerTestAgent(chain);
    await linkAgent(owner, agentId, "pg bot");
    await addProvider(owner, agentId, { name: "openai", baseUrl: "https://api.openai.example/v1", apiKey: "sk-postgres-0001" });
    expect(await issueCredential(owner, agentId)).toMatch(/^kc_/);
    await setTier1(owner, agentId, "openai", false);
    await setGuardrail(owner, agentId, { rpd: 100 });
    expect(await redis.client.hgetall(keys.flags(agentId))).toMatchObject({ agent: "1", "provider:openai": "0" });
    const view = await agentView(owner, agentId);
    expect(view).toMatchObject({ name: "pg bot", providers: [{ name: "openai", enabled: false }], guardrails: [{ rpd: 100 }] });
    expect((await cp.directory.get(agentId, "openai"))?.apiKey).toBe("sk-postgres-0001");
    const viewer = await createKey(owner, "viewer");
    expect((await callRaw(viewer, "PUT", `/v1/agents/${agentId}/enabled`, { enabled: false })).status).toBe(403);
  });
});
