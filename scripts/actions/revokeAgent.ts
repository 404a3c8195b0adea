import type { Hex } from "viem";
import { easAbi } from "../../contracts/abi/EAS.ts";
import { requireWallet } from "../lib/chain.ts";
import { CliError } from "../lib/errors.ts";
import { type Killcord, sendContract } from "../lib/killcord.ts";
import { type AgentRef, resolveAgent } from "./resolveAgent.ts";

/** Checks that the wallet may revoke: the attestation's attester, not yet revoked. */
export async function checkRevocable(kc: Killcord, ref: string, revoker: Hex): Promise<AgentRef> {
  const agent = await resolveAgent(kc, ref);
  const attestation = await kc.publicClient.readContract({
    address: kc.deployment.eas,
    abi: easAbi,
    functionName: "getAttestation",
    args: [agent.uid],
  });
  if (attestation.attester.toLowerCase() !== revoker.toLowerCase()) {
    throw new CliError(
      "NOT_ATTESTER",
      `only the attester ${attestation.attester} can revoke ${agent.uid} (wallet is ${revoker})`,
      {
        details: { attester: attestation.attester },
      },
    );
  }
  if (attestation.revocationTime !== 0n) {
    throw new CliError("ALREADY_REVOKED", `attestation ${agent.uid} was already revoked`);
  }
  return agent;
}

/** Revokes the agent's attestation on EAS from the operator's wallet: its agentId is killed for good. */
export async function revokeAgent(kc: Killcord, ref: string): Promise<AgentRef & { txHash: Hex; blockNumber: number }> {
  const wallet = requireWallet(kc);
  const agent = await checkRevocable(kc, ref, wallet.account.address);
  const receipt = await sendContract(kc, "revoke", {
    address: kc.deployment.eas,
    abi: easAbi,
    functionName: "revoke",
    args: [{ schema: kc.deployment.agentSchemaUid, data: { uid: agent.uid, value: 0n } }],
  });
  return { ...agent, txHash: receipt.transactionHash, blockNumber: Number(receipt.blockNumber) };
}
