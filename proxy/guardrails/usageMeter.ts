/**
 * Metered usage on its way to Redis: the spend of each response, and the requests of agents without a
 * request limit (the gate script counts those only when a limit needs an exact count; see gateScript.ts).
 * Every `flushMs` the pending amounts go out, one meter script per agent and provider, in one pipelined
 * write. A busy agent's many responses in a window cost one Redis call instead of one each, so metering
 * stays off the gate's budget of one round trip per request. The price: usage lands up to `flushMs` late, so
 * a burst can overshoot a daily budget by what the agent spends in that window, and a request limit set
 * while counts are pending sees them up to `flushMs` late. A failed flush keeps the amounts and retries on
 * the next tick.
 */
import type { Breach } from "../gate/gate.ts";

export interface UsageSink {
  /** Adds spend and requests in Redis; resolves to the breach when the spend crossed a limit. */
  meter(agentId: string, provider: string, microUsd: number, requests: number): Promise<Breach | undefined>;
}

export interface UsageMeterOptions {
  sink: UsageSink;
  flushMs: number;
  /** Called once per trip (the guardrail's tier was written by the meter script). */
  onTrip(agentId: string, provider: string, breach: Breach): void;
  /** Called when a flush failed (Redis down); the amounts stay pending. */
  onError(error: unknown, pending: { microUsd: number; requests: number }): void;
}

/** One agent x provider's usage not yet in Redis. */
interface Pending {
  microUsd: number;
  requests: number;
  /** Flushes since it last had usage (entries idle for `pruneAfterFlushes` are dropped). */
  idleFlushes: number;
}

/** An entry idle for this many flushes (a minute at the default 100 ms) is dropped. */
const pruneAfterFlushes = 600;

export class UsageMeter {
  readonly #options: UsageMeterOptions;
  /**
   * agentId -> provider -> pending usage. Entries stay across flushes (their amounts go back to 0) and are
   * pruned when idle: a map rebuilt every 100 ms allocated tables that outlived the young generation under
   * load, old-generation garbage on every flush.
   */
  readonly #pending = new Map<string, Map<string, Pending>>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;

  constructor(options: UsageMeterOptions) {
    this.#options = options;
  }

  #entry(agentId: string, provider: string): Pending {
    let byProvider = this.#pending.get(agentId);
    if (byProvider === undefined) {
      byProvider = new Map();
      this.#pending.set(agentId, byProvider);
    }
    let entry = byProvider.get(provider);
    if (entry === undefined) {
      entry = { microUsd: 0, requests: 0, idleFlushes: 0 };
      byProvider.set(provider, entry);
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.#options.flushMs);
    return entry;
  }

  /** Adds a response's spend. */
  addSpend(agentId: string, provider: string, microUsd: number): void {
    if (microUsd > 0) this.#entry(agentId, provider).microUsd += microUsd;
  }

  /** Adds requests the gate allowed without counting them. */
  addRequests(agentId: string, provider: string, requests = 1): void {
    if (requests > 0) this.#entry(agentId, provider).requests += requests;
  }

  /** Usage not yet in Redis. */
  get pending(): { microUsd: number; requests: number } {
    let microUsd = 0;
    let requests = 0;
    for (const byProvider of this.#pending.values()) {
      for (const entry of byProvider.values()) {
        microUsd += entry.microUsd;
        requests += entry.requests;
      }
    }
    return { microUsd, requests };
  }

  /** Sends everything pending now (shutdown calls this last, before Redis closes). */
  async flush(): Promise<void> {
    if (this.#flushing !== undefined) await this.#flushing;
    const sends: Promise<void>[] = [];
    for (const [agentId, byProvider] of this.#pending) {
      for (const [provider, entry] of byProvider) {
        const { microUsd, requests } = entry;
        if (microUsd === 0 && requests === 0) {
          if (++entry.idleFlushes >= pruneAfterFlushes) byProvider.delete(provider);
          continue;
        }
        entry.microUsd = 0;
        entry.requests = 0;
        entry.idleFlushes = 0;
        sends.push(
          this.#options.sink.meter(agentId, provider, microUsd, requests).then(
            (breach) => {
              if (breach?.tripped) this.#options.onTrip(agentId, provider, breach);
            },
            (error) => {
              // Keep it for the next flush: usage is never dropped because Redis blinked.
              this.addSpend(agentId, provider, microUsd);
              this.addRequests(agentId, provider, requests);
              this.#options.onError(error, { microUsd, requests });
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
