/**
 * The agent's attestation expiry as the gate reads it: the `expiresAt` field of the agent's flags hash
 * (agentState.ts). The indexer writes it from the chain, for the agent's current attestation: the earliest
 * expiration time of that attestation and of its delegating ancestors, or none.
 *
 * Unlike a deny key it is not add-only (a key rotation may renew or remove the expiry), so every write carries
 * the block of the attestation it describes (`expiresBlock`) and a write for an older attestation never
 * replaces a newer one: a reconciler pass that read the tables just before a renewal cannot undo it.
 */
import type { Redis } from "ioredis";
import { keys } from "./keys.ts";

export interface AgentExpiry {
  agentId: string;
  /** When the agent stops (ms epoch); null when neither its attestation nor an ancestor's expires. */
  expiresAtMs: number | null;
  /** Block of the attestation this describes (the agent's current one). */
  block: bigint | number;
}

/** Compare-and-set on the attestation's block; returns 1 when it wrote. */
const writeExpiryLua = `
local stored = tonumber(redis.call('HGET', KEYS[1], 'expiresBlock') or '-1') or -1
if tonumber(ARGV[1]) < stored then return 0 end
redis.call('HSET', KEYS[1], 'expiresBlock', ARGV[1])
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], 'expiresAt') else redis.call('HSET', KEYS[1], 'expiresAt', ARGV[2]) end
return 1
`;

/** Writes an agent's expiry (idempotent; an older attestation's write is ignored). True when it wrote. */
export async function writeAgentExpiry(redis: Redis, expiry: AgentExpiry): Promise<boolean> {
  const written = await redis.eval(
    writeExpiryLua,
    1,
    keys.flags(expiry.agentId),
    String(expiry.block),
    expiry.expiresAtMs === null ? "" : String(expiry.expiresAtMs),
  );
  return written === 1;
}
