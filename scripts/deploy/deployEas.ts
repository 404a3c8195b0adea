import type { Address } from "viem";
import type { ChainConnection } from "../lib/chain.ts";
import { canonicalEas } from "./canonicalEas.ts";
import { deployContract } from "./deployContract.ts";

/** Step 1: EAS. The canonical deployment on public chains; a fresh SchemaRegistry + EAS elsewhere. */
export async function deployEas(
  connection: ChainConnection,
): Promise<{ eas: Address; schemaRegistry: Address; deployedByKillcord: boolean }> {
  const canonical = canonicalEas(connection.chain.id);
  if (canonical !== undefined) {
    const code = await connection.publicClient.getCode({ address: canonical.eas });
    if (code !== undefined && code !== "0x") {
      return { eas: canonical.eas, schemaRegistry: canonical.schemaRegistry, deployedByKillcord: false };
    }
  }
  const schemaRegistry = await deployContract(connection, "SchemaRegistry");
  const eas = await deployContract(connection, "EAS", [schemaRegistry.address]);
  return { eas: eas.address, schemaRegistry: schemaRegistry.address, deployedByKillcord: true };
}
