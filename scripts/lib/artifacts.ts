import { readFileSync } from "node:fs";
import type { Abi, Hex } from "viem";
import { packageRoot } from "./packageRoot.ts";

export { packageRoot };

const artifactPaths = {
  KillcordRegistry: "artifacts/contracts/KillcordRegistry.sol/KillcordRegistry.json",
  EAS: "artifacts/@ethereum-attestation-service/eas-contracts/contracts/EAS.sol/EAS.json",
  SchemaRegistry: "artifacts/@ethereum-attestation-service/eas-contracts/contracts/SchemaRegistry.sol/SchemaRegistry.json",
} as const;

export type ContractName = keyof typeof artifactPaths;

export interface Artifact {
  abi: Abi;
  bytecode: Hex;
}

/** Reads a compiled contract from Hardhat's artifacts (run `npm run build` first). */
export function loadArtifact(name: ContractName): Artifact {
  const path = new URL(artifactPaths[name], `file://${packageRoot}`);
  let json: { abi: Abi; bytecode: Hex };
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (cause) {
    throw new Error(`missing compiled artifact for ${name}: run \`npm run build\` first`, { cause });
  }
  return { abi: json.abi, bytecode: json.bytecode };
}

export const artifactNames = Object.keys(artifactPaths) as ContractName[];
