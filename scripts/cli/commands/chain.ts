import { deployKillcord } from "../../deploy/deploy.ts";
import { connectChain } from "../../lib/chain.ts";
import { CliError } from "../../lib/errors.ts";
import { startLocalChain } from "../../lib/localChain.ts";
import { parsePort } from "../../lib/port.ts";
import { type Command, stringFlag } from "../context.ts";

/** Hardhat's first public test account: fine for a local chain, never for a real one. */
export const hardhatAccount0Key = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

// Lives in scripts/lib so that the proxy's own entry (proxy/main.ts) parses --port without loading this file.
export { parsePort };

export const deployCommand: Command = {
  name: "deploy",
  needsWallet: true,
  usage: "killcord deploy",
  summary: "deploy EAS (local chains), the registry and the agent schema; reuse an existing deployment",
  async run(ctx) {
    const connection = await connectChain({ rpcUrl: ctx.env.KILLCORD_RPC_URL, privateKey: ctx.env.KILLCORD_PRIVATE_KEY });
    if (connection.walletClient === undefined) {
      throw new CliError("MISSING_WALLET", "deploy sends transactions: set KILLCORD_PRIVATE_KEY");
    }
    const { deployment, deployed, path } = await deployKillcord(connection);
    const verb = deployed ? "deployed" : "already deployed (nothing sent)";
    return {
      json: { deployed, path, ...deployment },
      human: [
        `Killcord ${verb} on chain ${deployment.chainId}`,
        `  EAS              ${deployment.eas}`,
        `  SchemaRegistry   ${deployment.schemaRegistry}`,
        `  KillcordRegistry ${deployment.registry}`,
        `  agent schema     ${deployment.agentSchemaUid}  "${deployment.agentSchema}"`,
        `  deploy block     ${deployment.deployBlock}`,
        `  written to       ${path}`,
      ].join("\n"),
    };
  },
};

export const chainCommand: Command = {
  name: "chain",
  usage: "killcord chain [--port P]",
  summary: "run a local Hardhat node on 127.0.0.1:P (default 8545) with Killcord deployed, until interrupted",
  options: { port: { type: "string" } },
  async run(ctx) {
    const port = parsePort(stringFlag(ctx, "port"), 8545);
    ctx.progress(`starting a local chain on 127.0.0.1:${port} ...`);
    const chain = await startLocalChain({ port });
    const stop = async () => {
      await chain.stop();
      process.exit(0);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    const privateKey = ctx.env.KILLCORD_PRIVATE_KEY ?? hardhatAccount0Key;
    const connection = await connectChain({ rpcUrl: chain.rpcUrl, privateKey });
    const { deployment, path } = await deployKillcord(connection);
    const result = {
      json: { rpcUrl: chain.rpcUrl, wsUrl: chain.wsUrl, path, ...deployment },
      human: [
        `local chain ${deployment.chainId} at ${chain.rpcUrl} (WebSocket ${chain.wsUrl})`,
        `  KillcordRegistry ${deployment.registry}`,
        `  EAS              ${deployment.eas}`,
        `  agent schema     ${deployment.agentSchemaUid}`,
        `  deployment file  ${path}`,
        "",
        `export KILLCORD_RPC_URL=${chain.rpcUrl}`,
        "export KILLCORD_PRIVATE_KEY=<a Hardhat test account key, e.g. account #0>",
        "Press Ctrl-C to stop.",
      ].join("\n"),
    };
    // This command keeps running: print now, then wait for the node to exit.
    console.log(ctx.json ? JSON.stringify(result.json) : result.human);
    await new Promise<void>((resolve) => chain.process.once("exit", () => resolve()));
    throw new CliError("RPC_UNREACHABLE", "the local chain exited");
  },
};
