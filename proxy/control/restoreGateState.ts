/**
 * Rebuilds the gate's per-agent state in Redis from the durable store, after Redis lost it (a flush, a
 * failover without persistence) or at start. It never weakens what Redis holds: a switch the store has off
 * is written off, one it has on is only filled in when absent (a guardrail trip in Redis stays), a
 * credential's revocation is never removed, and the credential cut-off only moves forward. Each agent is one
 * script call in its own slot.
 */
import type { Redis } from "ioredis";
import type { Db } from "../db/index.ts";
import { keys } from "../store/keys.ts";

const restoreLua = `
local s = cjson.decode(ARGV[1])
local flags = KEYS[1]
local function switch(field, on)
  if on then redis.call('HSETNX', flags, field, '1') else redis.call('HSET', flags, field, '0') end
end
switch('agent', s.enabled)
for _, p in ipairs(s.providers) do switch('provider:' .. p[1], p[2]) end
if s.cutoff ~= '' then
  local current = tonumber(redis.call('HGET', flags, 'cutoff') or '0') or 0
  if tonumber(s.cutoff) > current then redis.call('HSET', flags, 'cutoff', s.cutoff) end
end
for _, g in ipairs(s.guardrails) do redis.call('HSET', KEYS[2], g[1], g[2]) end
for i, c in ipairs(s.credentials) do
  local key = KEYS[2 + i]
  redis.call('HSETNX', key, 'id', c[1])
  redis.call('HSETNX', key, 'issuedAt', c[2])
  if c[3] ~= '' then redis.call('HSETNX', key, 'revokedAt', c[3]) end
end
return #s.credentials
`;

/**
 * Present while Redis still holds what the control plane wrote. Redis comes back without it only when it
 * lost its data (flush, failover to an empty replica, restart without persistence): then the state is
 * restored. (Kept here rather than in store/keys.ts, which another part owns; it belongs there.)
 */
export const restoredMarkerKey = keys.controlRestored;

/** Restores everything when Redis lost the marker; a no-op otherwise. Returns undefined when skipped. */
export async function restoreGateStateIfLost(db: Db, redis: Redis): Promise<RestoreResult | undefined> {
  if ((await redis.exists(restoredMarkerKey)) === 1) return undefined;
  const result = await restoreGateState(db, redis);
  await redis.set(restoredMarkerKey, String(Date.now()));
  return result;
}

export interface RestoreResult {
  agents: number;
  credentials: number;
}

/** Restores every linked agent's gate state (or just `agentIds`), `concurrency` agents at a time. */
export async function restoreGateState(
  db: Db,
  redis: Redis,
  options: { agentIds?: string[]; concurrency?: number } = {},
): Promise<RestoreResult> {
  const ids =
    options.agentIds ??
    (await db.query<{ agent_id: string }>("SELECT agent_id FROM agents ORDER BY agent_id")).rows.map((r) => r.agent_id);
  const concurrency = options.concurrency ?? 32;
  let credentials = 0;
  let next = 0;
  async function worker(): Promise<void> {
    while (next < ids.length) {
      const agentId = ids[next++]!;
      credentials += await restoreAgent(db, redis, agentId);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));
  return { agents: ids.length, credentials };
}

/** Reads one agent right before writing it, so that the state written is as fresh as the store allows. */
async function restoreAgent(db: Db, redis: Redis, agentId: string): Promise<number> {
  const [agent, providers, guardrails, credentials] = await Promise.all([
    db.query<{ enabled: boolean; credential_cutoff: number | null }>(
      "SELECT enabled, credential_cutoff FROM agents WHERE agent_id = $1",
      [agentId],
    ),
    db.query<{ name: string; enabled: boolean }>("SELECT name, enabled FROM provider_connections WHERE agent_id = $1", [agentId]),
    db.query<{ scope: string; rpm: number | null; rpd: number | null; usd_micros: number | null; action: string }>(
      "SELECT scope, rpm, rpd, usd_micros, action FROM guardrails WHERE agent_id = $1",
      [agentId],
    ),
    db.query<{ id: string; hash: string; issued_at: number; revoked_at: number | null }>(
      "SELECT id, hash, issued_at, revoked_at FROM credentials WHERE agent_id = $1",
      [agentId],
    ),
  ]);
  const row = agent.rows[0];
  if (row === undefined) return 0;
  const guardrailFields: Array<[string, string]> = [];
  for (const g of guardrails.rows) {
    guardrailFields.push([`${g.scope}:action`, g.action]);
    if (g.rpm !== null) guardrailFields.push([`${g.scope}:rpm`, String(g.rpm)]);
    if (g.rpd !== null) guardrailFields.push([`${g.scope}:rpd`, String(g.rpd)]);
    if (g.usd_micros !== null) guardrailFields.push([`${g.scope}:usd`, String(g.usd_micros)]);
  }
  // Numbers travel as strings: cjson would round 13-digit millisecond times.
  const state = {
    enabled: row.enabled,
    cutoff: row.credential_cutoff === null ? "" : String(row.credential_cutoff),
    providers: providers.rows.map((p) => [p.name, p.enabled]),
    guardrails: guardrailFields,
    credentials: credentials.rows.map((c) => [c.id, String(c.issued_at), c.revoked_at === null ? "" : String(c.revoked_at)]),
  };
  const keyList = [
    keys.flags(agentId),
    keys.guardrails(agentId),
    ...credentials.rows.map((c) => keys.credential(agentId, c.hash)),
  ];
  // cjson decodes an empty JSON array as an empty table; ipairs over it is a no-op.
  await redis.eval(restoreLua, keyList.length, ...keyList, JSON.stringify(state));
  return credentials.rows.length;
}
