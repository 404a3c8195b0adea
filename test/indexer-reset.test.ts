import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningIndexer, startIndexer } from "../indexer/lib/startIndexer.ts";
import { keys } from "../proxy/store/keys.ts";
import { deployKillcord } from "../scripts/deploy/deploy.ts";
import { connectChain } from "../scripts/lib/chain.ts";
import type { Deployment } from "../scripts/lib/deployments.ts";
import { type LocalChain, startLocalChain } from "../scripts/lib/localChain.ts";
import { testKeys } from "./support/chain.ts";
import { freePort } from "./support/ports.ts";
import { startRedis, type TestRedis } from "./support/redis.ts";

// A local node restarted on the same port keeps chain id 31337 and even the contract addresses, but its
// history is new. The indexer must refuse to mix it with what it indexed, at run time and at start.

let chainPort: number;
let chain: LocalChain;
let redis: TestRedis;
let first: Deployment;
const dirs: string[] = [];
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};
let deploymentsDir: string;
let dataDir: string;

async function deploy(): Promise<Deployment> {
  const connection = await connectChain({ rpcUrl: chain.rpcUrl, privateKey: testKeys.operator });
  return (await deployKillcord(connection, deploymentsDir)).deployment;
}

function env(overrides: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    KILLCORD_RPC_URL: chain.rpcUrl,
    KILLCORD_WS_URL: chain.wsUrl,
    KILLCORD_DEPLOYMENTS_DIR: deploymentsDir,
    KILLCORD_INDEXER_DATA_DIR: dataDir,
    KILLCORD_INDEXER_CHAIN_CHECK_MS: "250",
    REDIS_URL: redis.url,
    DATABASE_URL: "",
    ...overrides,
  };
}

beforeAll(async () => {
  chainPort = await freePort();
  [chain, redis] = await Promise.all([startLocalChain({ port: chainPort }), startRedis()]);
  deploymentsDir = tempDir("killcord-deployments-");
  dataDir = tempDir("killcord-indexer-");
  first = await deploy();
});

afterAll(async () => {
  await Promise.all([chain?.stop(), redis?.close()]);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("a chain reset under the indexer", () => {
  let indexer: RunningIndexer;

  it("stops the running indexer with what to do", async () => {
    indexer = await startIndexer({ env: env(), port: await freePort() });
    expect(await redis.client.hget(keys.indexerChain, "31337")).toBe(first.genesisHash);
    await chain.stop();
    chain = await startLocalChain({ port: chainPort });
    const code = await indexer.exited;
    expect(code).toBe(1);
    expect(indexer.output()).toMatch(/chain 31337 at .* was reset under the running indexer/);
    expect(indexer.output()).toMatch(/fresh database/);
  });

  it("refuses to start while the deployments file names the old chain", async () => {
    await expect(startIndexer({ env: env(), port: await freePort() })).rejects.toMatchObject({
      code: "WRONG_CHAIN",
      message: expect.stringMatching(/the chain was reset\. Run `killcord deploy`/),
    });
  });

  it("refuses to index the new chain into the old database", async () => {
    const second = await deploy();
    expect(second.genesisHash).not.toBe(first.genesisHash);
    expect(second.registry).toBe(first.registry);
    await expect(startIndexer({ env: env(), port: await freePort() })).rejects.toMatchObject({
      code: "WRONG_CHAIN",
      message: expect.stringMatching(new RegExp(`holds chain 31337 with genesis ${first.genesisHash}.*delete ${dataDir}`)),
    });
  });

  it("refuses a Redis that mirrors the old chain", async () => {
    await expect(
      startIndexer({ env: env({ KILLCORD_INDEXER_DATA_DIR: tempDir("killcord-indexer-") }), port: await freePort() }),
    ).rejects.toMatchObject({
      code: "WRONG_CHAIN",
      message: expect.stringMatching(/holds deny keys mirrored from another instance/),
    });
  });

  it("starts on a fresh database when told to take the Redis over", async () => {
    const fresh = await startIndexer({
      env: env({ KILLCORD_INDEXER_DATA_DIR: tempDir("killcord-indexer-") }),
      port: await freePort(),
      replaceRedisChainIdentity: true,
    });
    try {
      const genesis = (await (await connectChain({ rpcUrl: chain.rpcUrl })).publicClient.getBlock({ blockNumber: 0n })).hash;
      expect(await redis.client.hget(keys.indexerChain, "31337")).toBe(genesis);
      expect((await fetch(`${fresh.url}/ready`)).status).toBe(200);
    } finally {
      await fresh.stop();
    }
  });
});
