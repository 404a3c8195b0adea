import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Address } from "viem";

/** Where EAS lives on a public chain, read from the eas-contracts package's own deployment records. */
export interface CanonicalEas {
  network: string;
  eas: Address;
  schemaRegistry: Address;
}

const require = createRequire(import.meta.url);

function easDeploymentsDir(): string {
  return join(dirname(require.resolve("@ethereum-attestation-service/eas-contracts/package.json")), "deployments");
}

let byChainId: Map<number, CanonicalEas> | undefined;

/** Canonical EAS addresses by chain id (Ethereum, Sepolia, Base, Base Sepolia, Optimism, Arbitrum and more). */
export function canonicalEasDeployments(): Map<number, CanonicalEas> {
  if (byChainId !== undefined) return byChainId;
  byChainId = new Map();
  const root = easDeploymentsDir();
  for (const network of readdirSync(root)) {
    const folder = join(root, network);
    const chainIdFile = join(folder, ".chainId");
    if (!existsSync(chainIdFile) || !existsSync(join(folder, "EAS.json"))) continue;
    const chainId = Number(readFileSync(chainIdFile, "utf8").trim());
    const address = (file: string) => (JSON.parse(readFileSync(join(folder, file), "utf8")) as { address: Address }).address;
    byChainId.set(chainId, { network, eas: address("EAS.json"), schemaRegistry: address("SchemaRegistry.json") });
  }
  return byChainId;
}

export function canonicalEas(chainId: number): CanonicalEas | undefined {
  return canonicalEasDeployments().get(chainId);
}
