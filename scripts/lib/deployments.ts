import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Address, Hex } from "viem";
import { packageRoot } from "./artifacts.ts";

/** What `deployments/<chainId>.json` records about one chain's Killcord deployment. */
export interface Deployment {
  chainId: number;
  /** Hash of block 0: tells a reset local chain (same chain id, new genesis) from the one deployed to. */
  genesisHash: Hex;
  eas: Address;
  schemaRegistry: Address;
  registry: Address;
  agentSchema: string;
  agentSchemaUid: Hex;
  /** Block of the registry's deployment: indexers start here. */
  deployBlock: number;
  /** Whether EAS itself was deployed by us (local chains) or is the canonical deployment. */
  easDeployedByKillcord: boolean;
}

/** The folder deployment files live in: `KILLCORD_DEPLOYMENTS_DIR`, default `<package>/deployments`. */
export function deploymentsDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.KILLCORD_DEPLOYMENTS_DIR ?? join(packageRoot, "deployments");
}

export function deploymentPath(chainId: number, dir = deploymentsDir()): string {
  return join(dir, `${chainId}.json`);
}

export function readDeployment(chainId: number, dir = deploymentsDir()): Deployment | undefined {
  const path = deploymentPath(chainId, dir);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, "utf8")) as Deployment;
}

/** Writes atomically (temp file + rename) so a reader never sees half a file. */
export function writeDeployment(deployment: Deployment, dir = deploymentsDir()): string {
  mkdirSync(dir, { recursive: true });
  const path = deploymentPath(deployment.chainId, dir);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(deployment, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
  return path;
}
