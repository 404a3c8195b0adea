// `npm start`: the local stack for development. Starts a Hardhat node with Killcord deployed (the same as
// `killcord chain`); later parts (indexer, proxy) are added here in order.

import { hardhatAccount0Key, parsePort } from "./cli/commands/chain.ts";
import { deployKillcord } from "./deploy/deploy.ts";
import { connectChain } from "./lib/chain.ts";
import { startLocalChain } from "./lib/localChain.ts";

const port = parsePort(process.env.KILLCORD_CHAIN_PORT, 8545);
const chain = await startLocalChain({ port });
const connection = await connectChain({
  rpcUrl: chain.rpcUrl,
  privateKey: process.env.KILLCORD_PRIVATE_KEY ?? hardhatAccount0Key,
});
const { deployment, path } = await deployKillcord(connection);

console.log(`Killcord local stack
  chain     ${chain.rpcUrl} (WebSocket ${chain.wsUrl}), chain id ${deployment.chainId}
  registry  ${deployment.registry}
  EAS       ${deployment.eas}
  schema    ${deployment.agentSchemaUid}
  deployment written to ${path}

Try it (in another terminal):
  export KILLCORD_RPC_URL=${chain.rpcUrl}
  export KILLCORD_PRIVATE_KEY=${hardhatAccount0Key}   # Hardhat test account #0, local only
  npx killcord agent register --name my-agent
  npx killcord status <agentId>
Ctrl-C stops everything.`);

const shutdown = async () => {
  await chain.stop();
  process.exit(0);
};
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
