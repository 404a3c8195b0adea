// `npm start`: the local stack for development. Starts a Hardhat node with Killcord deployed (the same as
// `killcord chain`), finds or starts a Redis, and runs the indexer mirroring chain kills into it; later parts
// (the proxy) are added here in order.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { startIndexer } from "../indexer/lib/startIndexer.ts";
import { hardhatAccount0Key, parsePort } from "./cli/commands/chain.ts";
import { deployKillcord } from "./deploy/deploy.ts";
import { packageRoot } from "./lib/artifacts.ts";
import { connectChain } from "./lib/chain.ts";
import { startLocalChain } from "./lib/localChain.ts";
import { localRedis } from "./lib/localRedis.ts";

const port = parsePort(process.env.KILLCORD_CHAIN_PORT, 8545);
const indexerPort = parsePort(process.env.KILLCORD_INDEXER_PORT, 42069);
// What is running so far, stopped in reverse order on Ctrl-C or when a later part fails to start.
const running: { stop(): Promise<void> }[] = [];
async function stopAll(): Promise<void> {
  for (const part of running.reverse()) await part.stop().catch(() => {});
}
async function step<T extends { stop(): Promise<void> }>(start: Promise<T>): Promise<T> {
  try {
    const part = await start;
    running.push(part);
    return part;
  } catch (error) {
    await stopAll();
    throw error;
  }
}

const redis = await step(localRedis());
const chain = await step(startLocalChain({ port }));
const connection = await connectChain({
  rpcUrl: chain.rpcUrl,
  privateKey: process.env.KILLCORD_PRIVATE_KEY ?? hardhatAccount0Key,
});
const { deployment, path } = await deployKillcord(connection);

// The chain is new on every start, so is the indexer's database (PGlite, even when DATABASE_URL is set for
// the proxy): a fresh chain must never be indexed on top of the last one.
const indexerDir = join(packageRoot, ".killcord", "local-stack", "indexer");
rmSync(indexerDir, { recursive: true, force: true });
const indexer = await step(
  startIndexer({
    env: {
      ...process.env,
      KILLCORD_RPC_URL: chain.rpcUrl,
      KILLCORD_WS_URL: chain.wsUrl,
      REDIS_URL: redis.url,
      KILLCORD_INDEXER_DATA_DIR: indexerDir,
      DATABASE_URL: "",
    },
    port: indexerPort,
    output: "inherit",
    // A Redis kept across `npm start` runs saw the previous (reset) local chain: this one takes it over.
    replaceRedisChainIdentity: true,
    progress: (line) => console.log(line),
  }),
);

console.log(`Killcord local stack
  chain     ${chain.rpcUrl} (WebSocket ${chain.wsUrl}), chain id ${deployment.chainId}
  registry  ${deployment.registry}
  EAS       ${deployment.eas}
  schema    ${deployment.agentSchemaUid}
  deployment written to ${path}
  redis     ${redis.url} (${redis.origin === "started" ? "throwaway redis-server started for this stack" : redis.origin === "env" ? "REDIS_URL" : "already running"})
  indexer   ${indexer.url}  (status ${indexer.url}/agents/<agentId>, GraphQL ${indexer.url}/graphql)

Try it (in another terminal):
  export KILLCORD_RPC_URL=${chain.rpcUrl}
  export KILLCORD_PRIVATE_KEY=${hardhatAccount0Key}   # Hardhat test account #0, local only
  npx killcord agent register --name my-agent
  npx killcord revoke <agentId>
  curl ${indexer.url}/agents/<agentId>
Ctrl-C stops everything.`);

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  await stopAll();
  process.exit(0);
};
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
void indexer.exited.then(async (code) => {
  if (stopping) return;
  console.error(`the indexer exited (code ${code}); stopping the local stack`);
  await shutdown();
});
