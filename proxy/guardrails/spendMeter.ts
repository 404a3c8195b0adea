/**
 * Metered spend on its way to Redis. Responses add their cost here; every `flushMs` the pending amounts go
 * out, one meter script per agent and provider, in one pipelined write. A busy agent's many responses in a
 * window cost one Redis call instead of one each, so metering stays off the gate's budget of one round trip
 * per request. The price: spend lands up to `flushMs` late, so a burst can overshoot a daily budget by what
 * the agent spends in that window. A failed flush keeps the amounts and retries on the next tick.
 */
import type { Breach } from "../gate/gate.ts";

export interface SpendSink {
  /** Adds spend in Redis; resolves to the breach when it crossed a limit. */
  meter(agentId: string, provider: string, microUsd: number): Promise<Breach | undefined>;
}

export interface SpendMeterOptions {
  sink: SpendSink;
  flushMs: number;
  /** Called once per trip (the guardrail's tier was written by the meter script). */
  onTrip(agentId: string, provider: string, breach: Breach): void;
  /** Called when a flush failed (Redis down); the amounts stay pending. */
  onError(error: unknown, pendingMicroUsd: number): void;
}

/** One agent x provider's spend not yet in Redis. */
interface Pending {
  readonly agentId: string;
  readonly provider: string;
  microUsd: number;
  /** Flushes since it last had spend (entries idle for `pruneAfterFlushes` are dropped). */
  idleFlushes: number;
}

/** An entry idle for this many flushes (a minute at the default 100 ms) is dropped. */
const pruneAfterFlushes = 600;

export class SpendMeter {
  readonly #options: SpendMeterOptions;
  /**
   * agentId -> provider -> pending spend. Entries stay across flushes (their amount goes back to 0) and are
   * pruned when idle: a map rebuilt every 100 ms allocated tables that outlived the young generation under
   * load, old-generation garbage on every flush.
   */
  readonly #pending = new Map<string, Map<string, Pending>>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;

  constructor(options: SpendMeterOptions) {
    this.#options = options;
  }

  add(agentId: string, provider: string, microUsd: number): void {
    if (!(microUsd > 0)) return;
    let byProvider = this.#pending.get(agentId);
    if (byProvider === undefined) {
      byProvider = new Map();
      this.#pending.set(agentId, byProvider);
    }
    const entry = byProvider.get(provider);
    if (entry === undefined) byProvider.set(provider, { agentId, provider, microUsd, idleFlushes: 0 });
    else entry.microUsd += microUsd;
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.#options.flushMs);
  }

  /** Micro-USD not yet in Redis. */
  get pending(): number {
    let sum = 0;
    for (const byProvider of this.#pending.values()) for (const entry of byProvider.values()) sum += entry.microUsd;
    return sum;
  }

  /** Sends everything pending now (shutdown calls this last, before Redis closes). */
  async flush(): Promise<void> {
    if (this.#flushing !== undefined) await this.#flushing;
    const sends: Promise<void>[] = [];
    for (const [agentId, byProvider] of this.#pending) {
      for (const [provider, entry] of byProvider) {
        const amount = entry.microUsd;
        if (amount === 0) {
          if (++entry.idleFlushes >= pruneAfterFlushes) byProvider.delete(provider);
          continue;
        }
        entry.microUsd = 0;
        entry.idleFlushes = 0;
        sends.push(
          this.#options.sink.meter(agentId, provider, amount).then(
            (breach) => {
              if (breach?.tripped) this.#options.onTrip(agentId, provider, breach);
            },
            (error) => {
              // Keep it for the next flush: spend is never dropped because Redis blinked.
              this.add(agentId, provider, amount);
              this.#options.onError(error, amount);
            },
          ),
        );
      }
      if (byProvider.size === 0) this.#pending.delete(agentId);
    }
    if (sends.length === 0) return;
    this.#flushing = Promise.all(sends).then(() => {});
    try {
      await this.#flushing;
    } finally {
      this.#flushing = undefined;
    }
  }

  /** Stops the timer and flushes what is left (best effort). */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
