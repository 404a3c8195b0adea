/**
 * A guardrail breach that tripped a tier, announced on the event stream (contract 6: flat fields type,
 * agentId, detail JSON, at). The flag and its `tripped:<field>` reason were already written by the gate or
 * meter script, in the agent's slot; this is the second, cross-slot write, so it is its own command.
 */
import type { Redis } from "ioredis";
import type { Breach } from "../gate/gate.ts";
import { appendEvent } from "../store/eventStream.ts";

export const guardrailTrippedEvent = "guardrail.tripped";

export interface TripDetail extends Breach {
  /** The request's provider connection (the one a "tier1" action disabled). */
  provider: string;
  code: "RATE_LIMITED" | "BUDGET_EXCEEDED";
}

/** Appends the trip to the event stream (capped approximately at `maxLen`). Returns the entry id. */
export async function emitGuardrailTrip(redis: Redis, agentId: string, detail: TripDetail, at = Date.now(), maxLen = 100_000) {
  const tier = detail.action === "tier2" ? "tier2" : "tier1";
  const payload = { ...detail, tier, disabled: tier === "tier2" ? "agent" : `provider:${detail.provider}` };
  return await appendEvent(redis, { type: guardrailTrippedEvent, agentId, detail: payload, at }, maxLen);
}
