/**
 * Reads the Killcord proxy's own Prometheus exposition (/metrics) for the bench: single values, and the
 * gate-duration histogram between two scrapes, so the bench can say what the gate itself took during a phase
 * apart from what the rest of the machine added to the client's latency.
 */
import { request } from "undici";

/** The exposition text of `${origin}/metrics`. */
export async function scrapeMetrics(origin: string): Promise<string> {
  return (await request(`${origin}/metrics`)).body.text();
}

/** The value of an unlabelled sample (`name value`), NaN when absent. */
export function metricValue(text: string, name: string): number {
  return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
}

/** Cumulative bucket counts of a histogram, by upper bound (seconds; +Inf as Infinity), in exposition order. */
function buckets(text: string, name: string): { le: number; count: number }[] {
  const out: { le: number; count: number }[] = [];
  const pattern = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`, "gm");
  for (const match of text.matchAll(pattern)) {
    out.push({ le: match[1] === "+Inf" ? Number.POSITIVE_INFINITY : Number(match[1]), count: Number(match[2]) });
  }
  return out;
}

/** A histogram's observations between two scrapes: how many, and at most how long the q-quantile took. */
export interface HistogramWindow {
  count: number;
  /** Upper bound (ms) of the bucket holding the median; Infinity past the last finite bucket. */
  p50AtMostMs: number;
  /** Upper bound (ms) of the bucket holding the 99th percentile. */
  p99AtMostMs: number;
  /** Share of observations above 1 ms. */
  over1Ms: number;
}

/** The window of histogram `name` from scrape `before` to scrape `after` (both of the same process). */
export function histogramWindow(before: string, after: string, name: string): HistogramWindow {
  const start = new Map(buckets(before, name).map((b) => [b.le, b.count]));
  const delta = buckets(after, name).map((b) => ({ le: b.le, count: b.count - (start.get(b.le) ?? 0) }));
  const count = delta.at(-1)?.count ?? 0;
  const atMost = (q: number) => (delta.find((b) => b.count >= q * count)?.le ?? Number.NaN) * 1000;
  const withinMs = delta.find((b) => b.le === 0.001)?.count ?? Number.NaN;
  return {
    count,
    p50AtMostMs: count === 0 ? Number.NaN : atMost(0.5),
    p99AtMostMs: count === 0 ? Number.NaN : atMost(0.99),
    over1Ms: count === 0 ? Number.NaN : (count - withinMs) / count,
  };
}
