import type { Address, Hex } from "viem";
import { killcordRegistryAbi } from "../../contracts/abi/KillcordRegistry.ts";
import { schemaRegistryAbi } from "../../contracts/abi/SchemaRegistry.ts";
import { type ChainConnection, requireWallet } from "../lib/chain.ts";

/** Step 3: register the agent schema (read from the registry contract) with the registry as its resolver. */
export async function registerSchema(
  connection: ChainConnection,
  schemaRegistry: Address,
  registry: Address,
): Promise<{ agentSchema: string; agentSchemaUid: Hex }> {
  const { publicClient } = connection;
  const [agentSchema, agentSchemaUid] = await Promise.all([
    publicClient.readContract({ address: registry, abi: killcordRegistryAbi, functionName: "agentSchema" }),
    publicClient.readContract({ address: registry, abi: killcordRegistryAbi, functionName: "agentSchemaUid" }),
  ]);
  const existing = await publicClient.readContract({
    address: schemaRegistry,
    abi: schemaRegistryAbi,
    functionName: "getSchema",
    args: [agentSchemaUid],
  });
  if (existing.uid !== agentSchemaUid) {
    const hash = await requireWallet(connection).writeContract({
      address: schemaRegistry,
      abi: schemaRegistryAbi,
      functionName: "register",
      args: [agentSchema, registry, true],
    });
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`registering the agent schema failed (tx ${hash})`);
  }
  return { agentSchema, agentSchemaUid };
}
