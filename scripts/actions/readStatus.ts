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
  /** Unix seconds the agentId was killed, or null. */
  killedAt: number | null;
  chainId: number;
  blockNumber: number;
}

/** The verifier's answer, read from the chain (one block for every read). */
export async function readStatus(kc: Killcord, ref: string): Promise<AgentChainStatus> {
  const { agentId, uid } = await resolveAgent(kc, ref);
  const blockNumber = await kc.publicClient.getBlockNumber();
  const read = { address: kc.deployment.registry, abi: killcordRegistryAbi, blockNumber } as const;
  const [status, record, killedAt] = await Promise.all([
    kc.publicClient.readContract({ ...read, functionName: "status", args: [uid] }),
    kc.publicClient.readContract({ ...read, functionName: "getAgent", args: [uid] }),
    kc.publicClient.readContract({ ...read, functionName: "killedAt", args: [agentId] }),
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
    killedAt: killedAt === 0 ? null : killedAt,
    chainId: kc.chain.id,
    blockNumber: Number(blockNumber),
  };
}
