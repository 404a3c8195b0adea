/**
 * Tier 1 (one provider of one agent) and Tier 2 (the whole agent) switches, written to the durable store and
 * the gate's Redis flags together. The operator API calls these after checking ownership; the data plane's
 * guardrails may call them directly when a breach trips a tier, so the durable store records the trip too.
 */
import { applyChange, type ChangeDeps } from "./context.ts";
import { ControlError } from "./errors.ts";
import { AgentStateWrite } from "./gateState.ts";

export interface SwitchCause {
  /** Who flipped it: "api", "cli", "guardrail", ... */
  source: string;
  /** The operator key id, a guardrail name, ... */
  actor: string;
  reason?: string;
}

export interface Tier2Result {
  agentId: string;
  enabled: boolean;
  changed: boolean;
}

/** Tier 2: enables or disables every call of the agent. */
export async function setAgentEnabled(
  ctx: ChangeDeps,
  agentId: string,
  enabled: boolean,
  cause: SwitchCause,
): Promise<Tier2Result> {
  return await applyChange(ctx, async (tx) => {
    const { rows } = await tx.query<{ enabled: boolean }>("SELECT enabled FROM agents WHERE agent_id = $1 FOR UPDATE", [agentId]);
    const row = rows[0];
    if (row === undefined) throw new ControlError("AGENT_NOT_FOUND");
    await tx.query("UPDATE agents SET enabled = $2, enabled_reason = $3, updated_at = $4 WHERE agent_id = $1", [
      agentId,
      enabled,
      cause.reason ?? null,
      ctx.now(),
    ]);
    return {
      result: { agentId, enabled, changed: row.enabled !== enabled },
      // Written even when unchanged in the store: it repairs a Redis flag that drifted (e.g. a lost Redis).
      state: new AgentStateWrite(agentId).agentEnabled(enabled),
      events: [{ type: "tier2.changed", agentId, detail: { enabled, ...cause } }],
    };
  });
}

export interface Tier1Result {
  agentId: string;
  provider: string;
  enabled: boolean;
  changed: boolean;
}

/** Tier 1: enables or disables one provider connection of the agent. */
export async function setProviderEnabled(
  ctx: ChangeDeps,
  agentId: string,
  provider: string,
  enabled: boolean,
  cause: SwitchCause,
): Promise<Tier1Result> {
  return await applyChange(ctx, async (tx) => {
    const { rows } = await tx.query<{ enabled: boolean }>(
      "SELECT enabled FROM provider_connections WHERE agent_id = $1 AND name = $2 FOR UPDATE",
      [agentId, provider],
    );
    const row = rows[0];
    if (row === undefined) throw new ControlError("PROVIDER_NOT_FOUND");
    await tx.query(
      "UPDATE provider_connections SET enabled = $3, enabled_reason = $4, updated_at = $5 WHERE agent_id = $1 AND name = $2",
      [agentId, provider, enabled, cause.reason ?? null, ctx.now()],
    );
    return {
      result: { agentId, provider, enabled, changed: row.enabled !== enabled },
      state: new AgentStateWrite(agentId).providerEnabled(provider, enabled),
      events: [{ type: "tier1.changed", agentId, detail: { provider, enabled, ...cause } }],
      invalidate: [agentId],
    };
  });
}
