import type { Redis } from "ioredis";
import { keys } from "./keys.ts";

/** One entry of the event stream that dashboards, webhooks and SIEMs consume. */
export interface StreamEvent {
  /** e.g. "agent.linked", "tier1.changed", "guardrail.tripped", "credential.revoked". */
  type: string;
  /** The agent concerned, or "" for operator-level events (API keys, logins). */
  agentId: string;
  /** JSON-able detail; never secrets. */
  detail: Record<string, unknown>;
  /** Milliseconds since the epoch. */
  at: number;
}

/** Appends to the event stream (flat fields: type, agentId, detail JSON, at), capped near `maxLen`. */
export async function appendEvent(redis: Redis, event: StreamEvent, maxLen = 100_000): Promise<string> {
  const id = await redis.xadd(
    keys.eventStream,
    "MAXLEN",
    "~",
    String(maxLen),
    "*",
    "type",
    event.type,
    "agentId",
    event.agentId,
    "detail",
    JSON.stringify(event.detail),
    "at",
    String(event.at),
  );
  return id as string;
}
