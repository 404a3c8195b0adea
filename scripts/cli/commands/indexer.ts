import { CliError } from "../../lib/errors.ts";
import { type Command, stringFlag } from "../context.ts";
import { parsePort } from "./chain.ts";

export const indexerCommand: Command = {
  name: "indexer",
  usage: "killcord indexer [--port P]",
  summary:
    "run the indexer (chain kills -> Redis deny keys, status API, GraphQL) on KILLCORD_INDEXER_HOST:P (default 127.0.0.1:42069) until interrupted",
  options: { port: { type: "string" } },
  async run(ctx) {
    const port = parsePort(stringFlag(ctx, "port") ?? ctx.env.KILLCORD_INDEXER_PORT, 42069);
    const host = ctx.env.KILLCORD_INDEXER_HOST ?? "127.0.0.1";
    // Loaded on use: the other commands should not pay for Ponder's launcher at start-up.
    const { startIndexer } = await import("../../../indexer/lib/startIndexer.ts");
    const { redactUrl } = await import("../../../indexer/lib/settings.ts");
    const indexer = await startIndexer({
      env: ctx.env,
      port,
      host,
      // Ponder's log (and the mirror's "denied ..." lines) goes to the terminal; stdout stays one JSON object.
      output: ctx.json ? "stderr" : "inherit",
      progress: ctx.progress,
    });
    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      await indexer.stop();
      process.exit(0);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    const { settings, identity, deployment, url } = indexer;
    const json = {
      url,
      graphql: `${url}/graphql`,
      chainId: identity.chainId,
      genesisHash: identity.genesisHash,
      registry: deployment.registry,
      redis: redactUrl(settings.redisUrl),
      database: settings.database.kind,
      websocket: settings.wsUrl !== undefined,
    };
    const human = [
      `Killcord indexer ready at ${url} (chain ${identity.chainId}, registry ${deployment.registry})`,
      `  status API  ${url}/agents/<agentId>   ${url}/attestations/<uid>`,
      `  GraphQL     ${url}/graphql            Ponder: ${url}/ready ${url}/status ${url}/metrics`,
      `  mirrors     deny keys and kill-stream entries into ${redactUrl(settings.redisUrl)}`,
      `  database    ${settings.database.kind === "pglite" ? `PGlite in ${settings.database.dataDir}` : "Postgres (DATABASE_URL)"}, schema ${settings.databaseSchema}`,
      settings.wsUrl === undefined
        ? `  WARNING: KILLCORD_WS_URL is not set: new blocks are polled every ${settings.pollingIntervalMs} ms`
        : `  new heads   over ${redactUrl(settings.wsUrl)}`,
      "Press Ctrl-C to stop.",
    ].join("\n");
    // This command keeps running: print now, then wait for the indexer to exit.
    console.log(ctx.json ? JSON.stringify(json) : human);
    const code = await indexer.exited;
    if (stopping) await new Promise(() => {});
    throw new CliError("RPC_UNREACHABLE", `the indexer exited (code ${code}); its last log lines above say why`);
  },
};
