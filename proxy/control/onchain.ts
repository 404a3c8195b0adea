/**
 * What the control plane asks the chain: which chain the proxy's deployment is on (SIWE chain id), who
 * operates an agent and whether it is active (linking), and contract-wallet signatures (ERC-1271). The
 * connection is opened lazily and reopened after a failure, so the proxy starts without a chain and
 * recovers when it comes back.
 */
import { type Address, getAddress, type Hex, recoverMessageAddress } from "viem";
import { killcordRegistryAbi } from "../../contracts/abi/KillcordRegistry.ts";
import { type AgentStatusName, agentStatusName } from "../../scripts/lib/agentStatus.ts";
import { type Killcord, openKillcord } from "../../scripts/lib/killcord.ts";
import type { ProxyConfig } from "../config.ts";
import { ControlError } from "./errors.ts";

const zeroBytes32 = `0x${"0".repeat(64)}`;

export interface AgentOnchain {
  agentId: Hex;
  /** The agent's current attestation uid. */
  uid: Hex;
  /** The root operator (the attester of the agent or of its root ancestor). */
  operator: Address;
  status: AgentStatusName;
  active: boolean;
  blockNumber: number;
}

export interface ChainReader {
  /** The chain id of the proxy's Killcord deployment. */
  chainId(): Promise<number>;
  /** The agent's onchain record, or undefined when the agentId was never registered. */
  readAgent(agentId: Hex): Promise<AgentOnchain | undefined>;
  /** Whether `signature` over `message` (EIP-191) is `address`'s: ecrecover, then ERC-1271 for contract wallets. */
  verifyMessage(address: Address, message: string, signature: Hex): Promise<boolean>;
}

export function createChainReader(config: Pick<ProxyConfig, "rpcUrl" | "deploymentsDir" | "chainId">): ChainReader {
  let opening: Promise<Killcord> | undefined;

  function connect(): Promise<Killcord> {
    opening ??= openKillcord({ rpcUrl: config.rpcUrl, deploymentsDir: config.deploymentsDir, expectedChainId: config.chainId });
    return opening;
  }

  async function use<T>(work: (kc: Killcord) => Promise<T>): Promise<T> {
    try {
      return await work(await connect());
    } catch (error) {
      // Drop the handle: the next call reconnects (and rereads the deployment, e.g. after a local reset).
      opening = undefined;
      throw new ControlError("CHAIN_UNAVAILABLE", {
        message: `the chain or its Killcord deployment is unreachable: ${error instanceof Error ? error.message : String(error)}`,
        cause: error,
      });
    }
  }

  return {
    chainId: () => use(async (kc) => kc.chain.id),
    readAgent: (agentId) =>
      use(async (kc) => {
        // cacheTime 0: a block number cached from before the agent was registered would hide it.
        const blockNumber = await kc.publicClient.getBlockNumber({ cacheTime: 0 });
        const read = { address: kc.deployment.registry, abi: killcordRegistryAbi, blockNumber } as const;
        const uid = await kc.publicClient.readContract({ ...read, functionName: "currentUid", args: [agentId] });
        if (uid === zeroBytes32) return undefined;
        const [record, status] = await Promise.all([
          kc.publicClient.readContract({ ...read, functionName: "getAgent", args: [uid] }),
          kc.publicClient.readContract({ ...read, functionName: "status", args: [uid] }),
        ]);
        const name = agentStatusName(status);
        return {
          agentId,
          uid,
          operator: getAddress(record.operator),
          status: name,
          active: name === "active",
          blockNumber: Number(blockNumber),
        };
      }),
    async verifyMessage(address, message, signature) {
      try {
        const recovered = await recoverMessageAddress({ message, signature });
        if (recovered.toLowerCase() === address.toLowerCase()) return true;
      } catch {
        // Not a 65-byte ECDSA signature: perhaps a contract wallet's.
      }
      return await use(async (kc) => {
        const code = await kc.publicClient.getCode({ address });
        if (code === undefined || code === "0x") return false;
        return await kc.publicClient.verifyMessage({ address, message, signature });
      });
    },
  };
}
