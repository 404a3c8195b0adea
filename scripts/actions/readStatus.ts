import type { Address, Hex } from "viem";
import { killcordRegistryAbi } from "../../contracts/abi/KillcordRegistry.ts";
import { type AgentStatusName, agentStatusName } from "../lib/agentStatus.ts";
import type { Killcord } from "../lib/killcord.ts";
import { resolveAgent } from "./resolveAgent.ts";

export interface AgentChainStatus {
  agentId: Hex;
  uid: Hex;
  /** The verifier's answer: the registry's `isActive(uid)`. */
  active: boolean;
  status: AgentStatusName;
  operator: Address;
  parent: Hex;
  depth: number;
  /** The agentId itself is killed (it can never be attested active again). */
  killed: boolean;
  chainId: number;
  blockNumber: number;
}

/** The verifier's answer, read from the chain (one block for every read). */
export async function readStatus(kc: Killcord, ref: string): Promise<AgentChainStatus> {
  const { agentId, uid } = await resolveAgent(kc, ref);
  // cacheTime 0: viem otherwise reuses a block number for a polling interval (a second or more on real chains),
  // and a status read right after the caller's own revocation would answer from before it.
  const blockNumber = await kc.publicClient.getBlockNumber({ cacheTime: 0 });
  const read = { address: kc.deployment.registry, abi: killcordRegistryAbi, blockNumber } as const;
  const [status, record, killed] = await Promise.all([
    kc.publicClient.readContract({ ...read, functionName: "status", args: [uid] }),
    kc.publicClient.readContract({ ...read, functionName: "getAgent", args: [uid] }),
    kc.publicClient.readContract({ ...read, functionName: "isKilled", args: [agentId] }),
  ]);
  const name = agentStatusName(status);
  return {
    agentId,
    uid,
    active: name === "active",
    status: name,
    operator: record.operator,
    parent: record.parent,
    depth: record.depth,
    killed,
    chainId: kc.chain.id,
    blockNumber: Number(blockNumber),
  };
}
