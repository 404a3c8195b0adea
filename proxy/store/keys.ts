/**
 * Every Redis key name Killcord uses, in one place: the contract between the indexer (which imports this
 * module) and the proxy. Per-agent keys share the hash tag `{<agentId>}` so that the gate's single script
 * touches one Redis Cluster slot.
 */

const agentIdPattern = /^0x[0-9a-f]{64}$/;

/** agentIds are 0x-prefixed lowercase hex (32 bytes) everywhere in Redis. */
export function normalizeAgentId(agentId: string): string {
  const id = agentId.toLowerCase();
  if (!agentIdPattern.test(id)) throw new Error(`not an agentId (32 bytes of 0x hex): ${agentId}`);
  return id;
}

function agentKey(agentId: string, suffix: string): string {
  return `kc:{${normalizeAgentId(agentId)}}:${suffix}`;
}

export const keys = {
  /**
   * Why the agent is denied: a JSON `DenyRecord` (see denyKey.ts). Killed: no TTL, never removed.
   * Suspended: TTL (default 24 h).
   */
  deny: (agentId: string) => agentKey(agentId, "deny"),
  /** Hash of operator switches: `agent` (Tier 2, "0" = off), `provider:<name>` (Tier 1), `cutoff` (ms epoch). */
  flags: (agentId: string) => agentKey(agentId, "flags"),
  /** One agent credential, by the hash of its secret; the agentId is part of the credential itself. */
  credential: (agentId: string, secretHash: string) => agentKey(agentId, `cred:${secretHash}`),
  /** Guardrail counter for a window (e.g. `rpm:<minute>`, `rpd:<day>`, `usd:<day>`), optionally per provider. */
  usage: (agentId: string, counter: string) => agentKey(agentId, `usage:${counter}`),
  /** Guardrail limits (hash), read by the gate in the same round trip. */
  guardrails: (agentId: string) => agentKey(agentId, "guardrails"),
  /** Set of the agent's live session ids (session termination needs no keyspace SCAN). */
  sessions: (agentId: string) => agentKey(agentId, "sessions"),
  /** Every kill from any trigger; gateways tail it, the cascade worker consumes it through a group. */
  killStream: "kc:stream:kills",
  /** Everything dashboards, webhooks and SIEMs consume. */
  eventStream: "kc:stream:events",
  /** Set once the control plane has restored gate state from the database into this Redis (absent after a loss). */
  controlRestored: "kc:control:restored",
  /** Which chain instance (chain id + genesis hash) the indexer mirrored into this Redis. */
  indexerChain: "kc:indexer:chain",
} as const;
