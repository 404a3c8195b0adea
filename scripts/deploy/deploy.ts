import type { ChainConnection } from "../lib/chain.ts";
import { type Deployment, deploymentPath, deploymentsDir, readDeployment, writeDeployment } from "../lib/deployments.ts";
import { deployEas } from "./deployEas.ts";
import { deployRegistry } from "./deployRegistry.ts";
import { registerSchema } from "./registerSchema.ts";

export interface DeployResult {
  deployment: Deployment;
  /** False when the chain already had this deployment and nothing was sent. */
  deployed: boolean;
  path: string;
}

/**
 * Deploys Killcord to the connected chain, or returns the recorded deployment when the chain still has it
 * (same genesis, registry code present). A reset local chain gets a fresh deployment.
 */
export async function deployKillcord(connection: ChainConnection, dir = deploymentsDir()): Promise<DeployResult> {
  const { publicClient } = connection;
  const chainId = connection.chain.id;
  const genesis = await publicClient.getBlock({ blockNumber: 0n });
  const recorded = readDeployment(chainId, dir);
  if (recorded !== undefined && recorded.genesisHash === genesis.hash) {
    const code = await publicClient.getCode({ address: recorded.registry });
    if (code !== undefined && code !== "0x") return { deployment: recorded, deployed: false, path: deploymentPath(chainId, dir) };
  }
  const eas = await deployEas(connection);
  const { registry, deployBlock } = await deployRegistry(connection, eas.eas);
  const schema = await registerSchema(connection, eas.schemaRegistry, registry);
  const deployment: Deployment = {
    chainId,
    genesisHash: genesis.hash,
    eas: eas.eas,
    schemaRegistry: eas.schemaRegistry,
    registry,
    agentSchema: schema.agentSchema,
    agentSchemaUid: schema.agentSchemaUid,
    deployBlock,
    easDeployedByKillcord: eas.deployedByKillcord,
  };
  return { deployment, deployed: true, path: writeDeployment(deployment, dir) };
}
