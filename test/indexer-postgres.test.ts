import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startIndexer } from "../indexer/lib/startIndexer.ts";
import { keys } from "../proxy/store/keys.ts";
import { registerAgent } from "../scripts/actions/registerAgent.ts";
import { revokeAgent } from "../scripts/actions/revokeAgent.ts";
import { startChain, type TestChain } from "./support/chain.ts";
import { startPonder, type TestIndexer } from "./support/ponder.ts";
import { createTestDatabase, postgresAvailable, queryPostgres, type TestDatabase } from "./support/postgres.ts";
import { startRedis, type TestRedis } from "./support/redis.ts";

// The indexer on a Postgres server (DATABASE_URL) when one answers locally: the test creates its own
// database and drops it afterwards.
describe.skipIf(!postgresAvailable)("indexer on Postgres", () => {
  let chain: TestChain;
  let redis: TestRedis;
  let indexer: TestIndexer;
  let database: TestDatabase;
  let databaseUrl: string;

  beforeAll(async () => {
    database = await createTestDatabase("killcord_indexer_e2e");
    databaseUrl = database.url;
    [chain, redis] = await Promise.all([startChain(), startRedis()]);
    indexer = await startPonder(chain, redis, { env: { DATABASE_URL: databaseUrl, DATABASE_SCHEMA: "killcord_e2e" } });
  });
  afterAll(async () => {
    await indexer?.close();
    await Promise.all([chain?.close(), redis?.close()]);
    await database?.drop();
  });

  it("mirrors a revocation and keeps its tables in the Postgres schema", async () => {
    const kc = await chain.open();
    const agent = await registerAgent(kc, { name: "on-postgres" });
    const revoked = await revokeAgent(kc, agent.agentId);
    await indexer.waitForBlock(revoked.blockNumber);
    expect(await redis.client.exists(keys.deny(agent.agentId))).toBe(1);
    const rows = await queryPostgres<{ state: string; how: string }>(
      databaseUrl,
      `SELECT state, how FROM killcord_e2e.agent WHERE agent_id = '${agent.agentId}'`,
    );
    expect(rows).toEqual([{ state: "killed", how: "revoked" }]);
    const identity = await queryPostgres<{ chain_id: string; genesis_hash: string }>(
      databaseUrl,
      "SELECT chain_id, genesis_hash FROM killcord_indexer.chain_identity",
    );
    expect(identity).toEqual([{ chain_id: "31337", genesis_hash: chain.deployment.genesisHash }]);
  });

  it("refuses another instance of the chain on the same database, even in another schema", async () => {
    const other = await startChain();
    try {
      expect(other.deployment.genesisHash).not.toBe(chain.deployment.genesisHash);
      await expect(
        startIndexer({
          env: {
            ...process.env,
            ...other.env,
            REDIS_URL: redis.url,
            DATABASE_URL: databaseUrl,
            DATABASE_SCHEMA: "killcord_other",
          },
          port: indexer.port + 1,
        }),
      ).rejects.toMatchObject({ code: "WRONG_CHAIN", message: expect.stringMatching(/use a new Postgres database/) });
    } finally {
      await other.close();
    }
  });
});
