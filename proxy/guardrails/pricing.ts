/**
 * Spend from a provider's usage report: tokens times the configured price table (USD per 1M tokens), kept
 * in micro-USD integers (the unit of the `usd` guardrail counters in agentState.ts).
 */
import type { ModelPrice } from "../config.ts";

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

/**
 * The price of a model: an exact entry, else the longest table key that prefixes the model (dated snapshots
 * such as "gpt-4o-2024-08-06" price as "gpt-4o"), else the "*" entry.
 */
export function priceFor(model: string | undefined, table: Readonly<Record<string, Readonly<ModelPrice>>>): Readonly<ModelPrice> {
  const zero = { input: 0, output: 0 };
  if (model !== undefined) {
    const exact = table[model];
    if (exact !== undefined) return exact;
    let best: string | undefined;
    for (const key of Object.keys(table)) {
      if (key !== "*" && model.startsWith(key) && (best === undefined || key.length > best.length)) best = key;
    }
    if (best !== undefined) return table[best]!;
  }
  return table["*"] ?? zero;
}

/** USD per 1M tokens equals micro-USD per token, so the cost is a dot product; rounded up, never down. */
export function costMicroUsd(usage: TokenUsage, price: Readonly<ModelPrice>): number {
  return Math.ceil(usage.inputTokens * price.input + usage.outputTokens * price.output);
}
