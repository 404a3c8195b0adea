import type { Redis } from "ioredis";
import { keys, normalizeAgentId } from "./keys.ts";

/** The stable denial codes a deny key can carry (the gate answers with this code). */
export type DenyCode = "AGENT_KILLED" | "AGENT_SUSPENDED" | "ATTESTATION_REVOKED";

/** What a deny key holds: why the agent is denied. */
export interface DenyRecord {
  state: "killed" | "suspended";
  code: DenyCode;
  /** Where the decision came from: "chain" (indexer), "api", "dashboard", "cli", "guardrail", "risk". */
  source: string;
  /** For chain kills: "revoked", "registry-kill", "fleet-kill", "superseded", "ancestor-inactive". */
  how?: string;
  reason: string;
  /** Who pulled the cord: a wallet address, an operator key id, a guardrail name. */
  initiator: string;
  /** Milliseconds since the epoch when the decision was taken. */
  at: number;
  uid?: string;
  txHash?: string;
  block?: number;
  /** For descendants: the agentId whose kill made this one inactive. */
  cause?: string;
}

/**
 * Writes a deny key without ever weakening one: a killed record is never replaced (the first kill's
 * reason stays, so replays are harmless), a suspension never replaces a kill, and a kill replaces a
 * suspension and drops its TTL. Returns 1 when the key changed, 0 when it was already at least as strong.
 */
const denyScript = `
local current = redis.call('GET', KEYS[1])
if current then
  local state = cjson.decode(current).state
  if state == 'killed' then return 0 end
  if ARGV[2] == 'suspended' then
    if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3], 'GT') end
    return 0
  end
end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
`;

/**
 * Writes `record` as the agent's deny key (add-only, see above). `ttlMs` applies to suspensions only;
 * killed keys never expire.
 */
export async function writeDenyKey(redis: Redis, agentId: string, record: DenyRecord, ttlMs = 0): Promise<boolean> {
  const ttl = record.state === "killed" ? 0 : ttlMs;
  const changed = await redis.eval(denyScript, 1, keys.deny(agentId), JSON.stringify(record), record.state, String(ttl));
  return changed === 1;
}

export async function readDenyKey(redis: Redis, agentId: string): Promise<DenyRecord | undefined> {
  const raw = await redis.get(keys.deny(agentId));
  return raw === null ? undefined : (JSON.parse(raw) as DenyRecord);
}

/** One kill-stream entry: flat string fields, as Redis streams store them. */
export interface KillStreamEntry {
  agentId: string;
  state: DenyRecord["state"];
  code: DenyCode;
  source: string;
  reason: string;
  initiator: string;
  at: string;
  how?: string;
  uid?: string;
  txHash?: string;
  block?: string;
  cause?: string;
}

/** Appends a kill to the kill stream (capped approximately at `maxLen` entries). Returns the entry id. */
export async function appendKill(redis: Redis, agentId: string, record: DenyRecord, maxLen = 100_000): Promise<string> {
  const fields: string[] = ["agentId", normalizeAgentId(agentId)];
  for (const [k, v] of Object.entries(record)) {
    if (v !== undefined) fields.push(k, String(v));
  }
  const id = await redis.xadd(keys.killStream, "MAXLEN", "~", String(maxLen), "*", ...fields);
  return id as string;
}

/**
 * Denies an agent and, only if the deny key changed, announces it on the kill stream. The two writes are in
 * different slots, so they are two commands: deny first (what the gate reads), then the stream. A replay
 * finds the key already there and adds no duplicate entry.
 */
export async function denyAndAnnounce(
  redis: Redis,
  agentId: string,
  record: DenyRecord,
  ttlMs = 0,
): Promise<{ changed: boolean; streamId?: string }> {
  const changed = await writeDenyKey(redis, agentId, record, ttlMs);
  if (!changed) return { changed };
  return { changed, streamId: await appendKill(redis, agentId, record) };
}
