import type { Address } from "viem";
import type { ChainConnection } from "../lib/chain.ts";
import { deployContract } from "./deployContract.ts";

/** Step 2: the KillcordRegistry, bound to an EAS instance. */
export async function deployRegistry(
  connection: ChainConnection,
  eas: Address,
): Promise<{ registry: Address; deployBlock: number }> {
  const { address, blockNumber } = await deployContract(connection, "KillcordRegistry", [eas]);
  return { registry: address, deployBlock: Number(blockNumber) };
}
