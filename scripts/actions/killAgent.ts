import type { Address, Hex } from "viem";
import { killcordRegistryAbi } from "../../contracts/abi/KillcordRegistry.ts";
import { type Killcord, sendContract } from "../lib/killcord.ts";
import { type AgentRef, resolveAgent } from "./resolveAgent.ts";

/** Kills an agent through the registry (operator or guardian): the agentId can never be active again. */
export async function killAgent(
  kc: Killcord,
  ref: string,
  reason: string,
): Promise<AgentRef & { reason: string; txHash: Hex; blockNumber: number }> {
  const agent = await resolveAgent(kc, ref);
  const receipt = await sendContract(kc, "kill", {
    address: kc.deployment.registry,
    abi: killcordRegistryAbi,
    functionName: "kill",
    args: [agent.agentId, reason],
  });
  return { ...agent, reason, txHash: receipt.transactionHash, blockNumber: Number(receipt.blockNumber) };
}

/** Kills every agent `operator` attested up to this block (operator or guardian). */
export async function killFleet(
  kc: Killcord,
  operator: Address,
  reason: string,
): Promise<{ operator: Address; killedUpToBlock: number; reason: string; txHash: Hex }> {
  const receipt = await sendContract(kc, "fleet-kill", {
    address: kc.deployment.registry,
    abi: killcordRegistryAbi,
    functionName: "killFleet",
    args: [operator, reason],
  });
  return { operator, killedUpToBlock: Number(receipt.blockNumber), reason, txHash: receipt.transactionHash };
}

/** Appoints or removes a guardian for the wallet's agents. */
export async function setGuardian(
  kc: Killcord,
  guardian: Address,
  appoint: boolean,
): Promise<{ operator: Address; guardian: Address; appointed: boolean; txHash: Hex }> {
  const receipt = await sendContract(kc, appoint ? "guardian add" : "guardian remove", {
    address: kc.deployment.registry,
    abi: killcordRegistryAbi,
    functionName: appoint ? "addGuardian" : "removeGuardian",
    args: [guardian],
  });
  return { operator: receipt.from, guardian, appointed: appoint, txHash: receipt.transactionHash };
}
