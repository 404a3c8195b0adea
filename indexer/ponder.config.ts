// The Killcord indexer's Ponder config. Addresses, the agent schema uid and the start block come from
// `deployments/<chainId>.json`; only URLs and folders come from the environment (see lib/settings.ts).
// Before Ponder opens its database, the chain under it must be the instance the deployment and the database
// were made for: a reset chain is refused here with what to do (lib/chainIdentity.ts).
import { createConfig } from "ponder";
import { easAbi } from "../contracts/abi/EAS.ts";
import { killcordRegistryAbi } from "../contracts/abi/KillcordRegistry.ts";
import { checkDatabaseIdentity, resolveDeployment } from "./lib/chainIdentity.ts";
import { loadSettings, pgliteDir } from "./lib/settings.ts";

const settings = loadSettings();
const { identity, deployment } = await resolveDeployment(settings);
await checkDatabaseIdentity(settings, identity);

export default createConfig({
  ordering: "multichain",
  database:
    settings.database.kind === "pglite"
      ? { kind: "pglite", directory: pgliteDir(settings.database.dataDir) }
      : { kind: "postgres", connectionString: settings.database.connectionString },
  chains: {
    chain: {
      id: identity.chainId,
      rpc: settings.rpcUrl,
      ws: settings.wsUrl,
      pollingInterval: settings.pollingIntervalMs,
    },
  },
  contracts: {
    EAS: {
      chain: "chain",
      abi: easAbi,
      address: deployment.eas,
      // The agent schema is registered after the registry is deployed: nothing of ours happened before.
      startBlock: deployment.deployBlock,
      // EAS serves every schema on a real chain; only the Killcord agent schema's attestations matter.
      filter: [
        { event: "Attested", args: { schemaUID: deployment.agentSchemaUid } },
        { event: "Revoked", args: { schemaUID: deployment.agentSchemaUid } },
      ],
    },
    KillcordRegistry: {
      chain: "chain",
      abi: killcordRegistryAbi,
      address: deployment.registry,
      startBlock: deployment.deployBlock,
    },
  },
});
