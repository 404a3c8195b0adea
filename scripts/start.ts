// `npm start`: the local stack for development. Starts a Hardhat node with Killcord deployed (the same as
// `killcord chain`), finds or starts a Redis, runs the indexer mirroring chain kills into it, and runs the
// proxy (gate, upstream forwarding, operator API) on that Redis and chain, in a process of its own as in
// production (compiled when `npm run build` is current, with the proxy's V8 flags).
import { rmSync } from "node:fs";
import { join } from "node:path";
import { startIndexer } from "../indexer/lib/startIndexer.ts";
import { hardhatAccount0Key } from "./cli/commands/chain.ts";
import { deployKillcord } from "./deploy/deploy.ts";
import { packageRoot } from "./lib/artifacts.ts";
import { connectChain } from "./lib/chain.ts";
import { startLocalChain } from "./lib/localChain.ts";
import { localRedis } from "./lib/localRedis.ts";
import { parsePort } from "./lib/port.ts";
import { startProxyProcess } from "./lib/proxyProcess.ts";

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

// The proxy's store is new on every start too (agents linked to the last chain are gone); its master key is
// generated there (local stack only). DATABASE_URL, when set, selects Postgres instead.
const proxyDir = join(packageRoot, ".killcord", "local-stack", "proxy");
rmSync(proxyDir, { recursive: true, force: true });
const proxy = await step(
  startProxyProcess({
    env: {
      ...process.env,
      KILLCORD_LOCAL_STACK: "1",
      KILLCORD_DATA_DIR: proxyDir,
      KILLCORD_REDIS_URL: redis.url,
      KILLCORD_RPC_URL: chain.rpcUrl,
      KILLCORD_PROXY_PORT: String(parsePort(process.env.KILLCORD_PROXY_PORT, 8787)),
      KILLCORD_LOG_LEVEL: process.env.KILLCORD_LOG_LEVEL ?? "warn",
    },
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
  proxy     ${proxy.url}  (agents: /<provider>/<path>; operator API /v1, OpenAPI ${proxy.url}/docs, ${proxy.url}/metrics)

Try it (in another terminal):
  export KILLCORD_RPC_URL=${chain.rpcUrl}
  export KILLCORD_PRIVATE_KEY=${hardhatAccount0Key}   # Hardhat test account #0, local only
  npx killcord agent register --name my-agent
  npx killcord revoke <agentId>
  curl ${indexer.url}/agents/<agentId>

First call through the proxy (same terminal):
  export KILLCORD_PROXY_URL=${proxy.url}
  npx killcord login                        # signs in with KILLCORD_PRIVATE_KEY; export KILLCORD_OPERATOR_KEY=<operatorKey>
  npx killcord agent add <agentId>          # prints the agent's credential (shown once)
  OPENAI_API_KEY=sk-... npx killcord provider add <agentId> --name openai --base-url https://api.openai.com/v1 --api-key-env OPENAI_API_KEY
  curl ${proxy.url}/openai/chat/completions -H "authorization: Bearer <credential>" \\
    -H "content-type: application/json" -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
  (or point any OpenAI SDK at baseURL ${proxy.url}/openai with the credential as its API key)
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
void proxy.exited.then(async (code) => {
  if (stopping) return;
  console.error(`the proxy exited (code ${code}); stopping the local stack`);
  await shutdown();
});
