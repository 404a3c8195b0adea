import type { Hex } from "viem";
import { killcordRegistryAbi } from "../../contracts/abi/KillcordRegistry.ts";
import { CliError } from "../lib/errors.ts";
import type { Killcord } from "../lib/killcord.ts";

export interface AgentRef {
  agentId: Hex;
  uid: Hex;
}

/** Parses a 32-byte hex id, refusing anything else with INVALID_ARGUMENT. */
export function parseBytes32(value: string | undefined, what: string): Hex {
  if (value === undefined || !/^0x[0-9a-fA-F]{64}$/.test(value)) {
    throw new CliError("INVALID_ARGUMENT", `${what} must be 32 bytes of 0x-prefixed hex, got ${JSON.stringify(value ?? "")}`);
  }
  return value.toLowerCase() as Hex;
}

/** Accepts either an attestation uid or an agentId (resolved to its current uid). */
export async function resolveAgent(kc: Killcord, ref: string): Promise<AgentRef> {
  const id = parseBytes32(ref, "agentId or uid");
  const registry = kc.deployment.registry;
  const record = await kc.publicClient.readContract({
    address: registry,
    abi: killcordRegistryAbi,
    functionName: "getAgent",
    args: [id],
  });
  if (record.agentId !== `0x${"0".repeat(64)}`) return { agentId: record.agentId, uid: id };
  const uid = await kc.publicClient.readContract({
    address: registry,
    abi: killcordRegistryAbi,
    functionName: "currentUid",
    args: [id],
  });
  if (uid === `0x${"0".repeat(64)}`) {
    throw new CliError("UNKNOWN_AGENT", `no Killcord agent has agentId or uid ${id} on chain ${kc.chain.id}`);
  }
  return { agentId: id, uid };
}
