// An agent's expiry as the gate enforces it: the earliest expiration time of its current attestation and of
// every delegating ancestor (the registry's view makes a sub-agent inactive with its parent). Mirrored into
// Redis when the agent is registered and re-asserted by the reconciler.
// (Ponder loads every file under src/ as indexing code; this one registers no handler.)
import type { Context } from "ponder:registry";
import { attestation } from "ponder:schema";
import type { Hex } from "viem";
import type { AgentExpiry } from "../../proxy/store/agentExpiry.ts";
import { currentMirror } from "../lib/mirror.ts";

type Db = Context["db"];

/** Ancestors the registry allows above an agent (MAX_DELEGATION_DEPTH), plus the agent itself. */
const maxChain = 9;

/** Unix seconds of the earliest expiry along `uid` and its parents; null when none of them expires. */
export async function effectiveExpiry(db: Db, uid: Hex): Promise<bigint | null> {
  let earliest: bigint | null = null;
  let at: Hex | null = uid;
  for (let step = 0; at !== null && step < maxChain; step++) {
    const row: { expirationTime: bigint; parent: Hex | null } | null = await db.find(attestation, { uid: at });
    if (row === null) break;
    if (row.expirationTime > 0n && (earliest === null || row.expirationTime < earliest)) earliest = row.expirationTime;
    at = row.parent;
  }
  return earliest;
}

/** The gate's form of an agent row's expiry. */
export function agentExpiryOf(row: { agentId: Hex; expiresAt: bigint | null; attestedBlock: bigint }): AgentExpiry {
  return {
    agentId: row.agentId,
    expiresAtMs: row.expiresAt === null ? null : Number(row.expiresAt) * 1000,
    block: row.attestedBlock,
  };
}

/** Mirrors an agent's expiry into Redis (never throws; a failed write is retried by the mirror and reconciler). */
export async function mirrorExpiry(expiry: AgentExpiry): Promise<void> {
  await currentMirror()?.expire([expiry]);
}
