import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deployKillcord } from "../../scripts/deploy/deploy.ts";
import { connectChain } from "../../scripts/lib/chain.ts";
import type { Deployment } from "../../scripts/lib/deployments.ts";
import { type Killcord, openKillcord } from "../../scripts/lib/killcord.ts";
import { type LocalChain, startLocalChain } from "../../scripts/lib/localChain.ts";
import { freePort } from "./ports.ts";

/** Hardhat's public test accounts (fine in tests, never on a real chain). */
export const testKeys = {
  operator: "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  otherOperator: "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  guardian: "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
  agentSigner: "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
  relayer: "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
} as const;

/** A Hardhat node on a free port with Killcord deployed, and a deployments folder of its own. */
export interface TestChain {
  chain: LocalChain;
  deployment: Deployment;
  deploymentsDir: string;
  /** Environment for the CLI or the indexer pointed at this chain. */
  env: Record<string, string>;
  /** A Killcord handle for the given wallet key. */
  open(privateKey?: string): Promise<Killcord>;
  close(): Promise<void>;
}

export async function startChain(): Promise<TestChain> {
  const port = await freePort();
  const chain = await startLocalChain({ port });
  const deploymentsDir = mkdtempSync(join(tmpdir(), "killcord-deployments-"));
  const connection = await connectChain({ rpcUrl: chain.rpcUrl, privateKey: testKeys.operator });
  const { deployment } = await deployKillcord(connection, deploymentsDir);
  return {
    chain,
    deployment,
    deploymentsDir,
    env: {
      KILLCORD_RPC_URL: chain.rpcUrl,
      KILLCORD_WS_URL: chain.wsUrl,
      KILLCORD_DEPLOYMENTS_DIR: deploymentsDir,
    },
    open: (privateKey = testKeys.operator) => openKillcord({ rpcUrl: chain.rpcUrl, privateKey, deploymentsDir }),
    async close() {
      await chain.stop();
      rmSync(deploymentsDir, { recursive: true, force: true });
    },
  };
}
