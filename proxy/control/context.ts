/**
 * What every control-plane route works with, and the one way a change is applied: durable store first
 * (inside a transaction), then the gate's Redis state, then commit; the event goes out after the commit.
 * When Redis refuses, the transaction rolls back, so the API never reports a change the gate does not see.
 */
import type { FastifyBaseLogger } from "fastify";
import type { Redis } from "ioredis";
import type { ProxyConfig } from "../config.ts";
import type { Db } from "../db/index.ts";
import { appendEvent } from "../store/eventStream.ts";
import type { OperatorPrincipal } from "./auth/apiKeys.ts";
import { ControlError } from "./errors.ts";
import { AgentStateWrite, type ControlEvent } from "./gateState.ts";
import type { ChainReader } from "./onchain.ts";
import { directoryChannel, type ProviderDirectory } from "./providerDirectory.ts";

export interface ControlContext {
  db: Db;
  redis: Redis;
  config: ProxyConfig;
  directory: ProviderDirectory;
  chain: ChainReader;
  log: FastifyBaseLogger;
  /** Milliseconds since the epoch (Date.now, so tests can fake it). */
  now(): number;
}

export interface AgentRow {
  agent_id: string;
  operator: string;
  uid: string;
  name: string | null;
  enabled: boolean;
  enabled_reason: string | null;
  credential_cutoff: number | null;
  linked_at: number;
  updated_at: number;
}

/** The caller's agent, or AGENT_NOT_FOUND, also for another operator's agent (existence is not revealed). */
export async function requireAgent(db: Db, principal: OperatorPrincipal, agentId: string, lock = false): Promise<AgentRow> {
  const { rows } = await db.query<AgentRow>(
    `SELECT * FROM agents WHERE agent_id = $1 AND operator = $2${lock ? " FOR UPDATE" : ""}`,
    [agentId, principal.operator],
  );
  const row = rows[0];
  if (row === undefined) throw new ControlError("AGENT_NOT_FOUND");
  return row;
}

/** What applying a change needs (a subset of ControlContext, so the data plane can call tiers.ts too). */
export type ChangeDeps = Pick<ControlContext, "db" | "redis" | "directory" | "log" | "now">;

export interface Change<T> {
  result: T;
  /** The gate's state to write before committing (optional). */
  state?: AgentStateWrite;
  /** Events to append after committing. */
  events?: Omit<ControlEvent, "at">[];
  /** Agents whose cached provider connections changed. */
  invalidate?: string[];
}

/**
 * Applies a change: transaction { durable writes; change notices; Redis writes } commit; then events and
 * cache invalidation.
 */
export async function applyChange<T>(ctx: ChangeDeps, work: (tx: Db) => Promise<Change<T>>): Promise<T> {
  // Refuse before touching the store when Redis is already known to be down.
  if (ctx.redis.status !== "ready") throw new ControlError("REDIS_UNAVAILABLE");
  const change = await ctx.db.transaction(async (tx) => {
    const done = await work(tx);
    // Other proxy instances on the same Postgres drop their cached connections on this notice
    // (directoryFeed.ts). Postgres delivers it at commit and never for a rollback, so no instance reloads
    // before the change is visible. Harmless on PGlite, which has no other instance to tell.
    for (const agentId of new Set((done.invalidate ?? []).map((id) => id.toLowerCase()))) {
      await tx.query("SELECT pg_notify($1, $2)", [directoryChannel, agentId]);
    }
    if (done.state !== undefined) await done.state.apply(ctx.redis);
    return done;
  });
  for (const agentId of change.invalidate ?? []) ctx.directory.invalidate(agentId);
  const at = ctx.now();
  for (const event of change.events ?? []) {
    try {
      await appendEvent(ctx.redis, { ...event, at });
    } catch (error) {
      // The change is committed and the gate has it; only its announcement failed. Say so in the log.
      ctx.log.warn({ err: error, event: event.type, agentId: event.agentId }, "could not append a control-plane event");
    }
  }
  return change.result;
}

export { AgentStateWrite };
