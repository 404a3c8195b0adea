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

export class SpendMeter {
  readonly #options: SpendMeterOptions;
  /** agentId -> provider -> pending micro-USD. */
  #pending = new Map<string, Map<string, number>>();
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
    byProvider.set(provider, (byProvider.get(provider) ?? 0) + microUsd);
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.#options.flushMs);
  }

  /** Micro-USD not yet in Redis. */
  get pending(): number {
    let sum = 0;
    for (const byProvider of this.#pending.values()) for (const v of byProvider.values()) sum += v;
    return sum;
  }

  /** Sends everything pending now (shutdown calls this last, before Redis closes). */
  async flush(): Promise<void> {
    if (this.#flushing !== undefined) await this.#flushing;
    if (this.#pending.size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    this.#flushing = (async () => {
      const sends: Promise<void>[] = [];
      for (const [agentId, byProvider] of batch) {
        for (const [provider, amount] of byProvider) {
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
      }
      await Promise.all(sends);
    })();
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
