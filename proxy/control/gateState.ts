/**
 * The control plane's writes into the gate's Redis state, in the formats of proxy/store/agentState.ts, and
 * its events on keys.eventStream. Every per-agent key shares the agent's hash tag, so each change is one
 * MULTI in one Cluster slot. A Redis that is not connected is refused at once (REDIS_UNAVAILABLE): queueing
 * the write for later would let the durable store and the gate disagree silently.
 */
import type { ChainableCommander, Redis } from "ioredis";
import type { StreamEvent } from "../store/eventStream.ts";
import { keys } from "../store/keys.ts";
import { ControlError } from "./errors.ts";

/** How long one control-plane Redis write may take before the API gives up (ms). */
const redisWriteTimeoutMs = 3_000;

export interface GuardrailLimits {
  rpm: number | null;
  rpd: number | null;
  /** Spend per UTC day in micro-USD. */
  usdMicros: number | null;
  action: "tier1" | "tier2";
}

/** Runs Redis work, mapping "not connected", errors and timeouts to REDIS_UNAVAILABLE. */
export async function withRedis<T>(redis: Redis, work: () => Promise<T>): Promise<T> {
  if (redis.status !== "ready") throw new ControlError("REDIS_UNAVAILABLE");
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ControlError("REDIS_UNAVAILABLE", { message: "Redis did not answer in time" })),
      redisWriteTimeoutMs,
    );
  });
  try {
    return await Promise.race([work(), timeout]);
  } catch (error) {
    if (error instanceof ControlError) throw error;
    throw new ControlError("REDIS_UNAVAILABLE", { cause: error });
  } finally {
    clearTimeout(timer);
  }
}

/** Executes a MULTI and fails when any command in it failed. */
async function execMulti(multi: ChainableCommander): Promise<void> {
  const results = await multi.exec();
  if (results === null) throw new Error("Redis transaction aborted");
  for (const [error] of results) if (error !== null) throw error;
}

/** The per-agent writes, collected and applied as one MULTI. */
export class AgentStateWrite {
  readonly agentId: string;
  private readonly ops: Array<(multi: ChainableCommander) => void> = [];

  constructor(agentId: string) {
    this.agentId = agentId;
  }

  /** Tier 2. Enabling also clears a guardrail trip's `tripped:agent` reason (the operator reset it). */
  agentEnabled(enabled: boolean): this {
    return this.flag("agent", enabled);
  }

  /** Tier 1 for one provider connection (enabling clears `tripped:provider:<name>`). */
  providerEnabled(name: string, enabled: boolean): this {
    return this.flag(`provider:${name}`, enabled);
  }

  private flag(field: string, enabled: boolean): this {
    const key = keys.flags(this.agentId);
    this.ops.push((m) => m.hset(key, field, enabled ? "1" : "0"));
    if (enabled) this.ops.push((m) => m.hdel(key, `tripped:${field}`));
    return this;
  }

  /** Credentials issued before `cutoffMs` are dead. */
  cutoff(cutoffMs: number): this {
    this.ops.push((m) => m.hset(keys.flags(this.agentId), "cutoff", String(cutoffMs)));
    return this;
  }

  credential(secretHash: string, fields: { id: string; issuedAt: number; revokedAt?: number | null }): this {
    const values: Record<string, string> = { id: fields.id, issuedAt: String(fields.issuedAt) };
    if (fields.revokedAt !== undefined && fields.revokedAt !== null) values.revokedAt = String(fields.revokedAt);
    this.ops.push((m) => m.hset(keys.credential(this.agentId, secretHash), values));
    return this;
  }

  /** Replaces one scope's limits (`*` or a provider name); `undefined` removes the scope. */
  guardrail(scope: string, limits: GuardrailLimits | undefined): this {
    const key = keys.guardrails(this.agentId);
    this.ops.push((m) => m.hdel(key, `${scope}:rpm`, `${scope}:rpd`, `${scope}:usd`, `${scope}:action`));
    if (limits !== undefined) {
      const values: Record<string, string> = { [`${scope}:action`]: limits.action };
      if (limits.rpm !== null) values[`${scope}:rpm`] = String(limits.rpm);
      if (limits.rpd !== null) values[`${scope}:rpd`] = String(limits.rpd);
      if (limits.usdMicros !== null) values[`${scope}:usd`] = String(limits.usdMicros);
      this.ops.push((m) => m.hset(key, values));
    }
    return this;
  }

  get empty(): boolean {
    return this.ops.length === 0;
  }

  async apply(redis: Redis): Promise<void> {
    if (this.empty) return;
    await withRedis(redis, async () => {
      const multi = redis.multi();
      for (const op of this.ops) op(multi);
      await execMulti(multi);
    });
  }
}

/** What the control plane announces on the event stream. */
export type ControlEvent = StreamEvent;
