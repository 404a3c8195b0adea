/**
 * Prometheus metrics of the data plane, in a registry of its own (several proxies can live in one process in
 * tests). Label values are bounded sets (outcomes, codes, kinds): never agent ids or provider keys.
 */
import { Counter, Gauge, type Metric, Registry } from "prom-client";
import { gateDenialCodes, type ProxyErrorCode } from "../errors.ts";
import { collectProcessMetrics } from "./processMetrics.ts";

export type Outcome = "allowed" | "denied" | "upstream_error" | "aborted";

export interface ProxyMetrics {
  registry: Registry;
  outcome(outcome: Outcome): void;
  denial(code: ProxyErrorCode): void;
  gateSeconds(seconds: number): void;
  tokens(input: number, output: number): void;
  spend(microUsd: number): void;
  unmetered(): void;
  trip(kind: string): void;
  killEntry(aborted: number): void;
  inFlight(get: () => number): void;
  /** The gate connection's batching: writes and commands so far. */
  gateBatching(get: () => { writes: number; commands: number }): void;
}

/**
 * A histogram without labels, observed on every request: an array of bucket counts, turned into the
 * Prometheus histogram (cumulative `_bucket{le}`, `_sum`, `_count`) only when /metrics is read. prom-client's
 * Histogram hashes labels and walks objects per observation (bench: ~1.5% of the proxy's CPU under load).
 */
function localHistogram(registry: Registry, name: string, help: string, buckets: readonly number[]) {
  const counts = new Float64Array(buckets.length);
  let sum = 0;
  let count = 0;
  const metric = {
    name,
    help,
    type: "histogram",
    aggregator: "sum",
    async get() {
      const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
      let cumulative = 0;
      for (let i = 0; i < buckets.length; i++) {
        cumulative += counts[i]!;
        values.push({ metricName: `${name}_bucket`, labels: { le: buckets[i]! }, value: cumulative });
      }
      values.push({ metricName: `${name}_bucket`, labels: { le: "+Inf" }, value: count });
      values.push({ metricName: `${name}_sum`, labels: {}, value: sum });
      values.push({ metricName: `${name}_count`, labels: {}, value: count });
      return { name, help, type: "histogram", values, aggregator: "sum" };
    },
    reset() {
      counts.fill(0);
      sum = 0;
      count = 0;
    },
  };
  registry.registerMetric(metric as unknown as Metric);
  return {
    observe(value: number) {
      let i = 0;
      while (i < buckets.length && value > buckets[i]!) i++;
      if (i < buckets.length) counts[i]!++;
      sum += value;
      count++;
    },
  };
}

export function createMetrics(): ProxyMetrics {
  const registry = new Registry();
  collectProcessMetrics(registry, "killcord_proxy_");
  // The per-request counts are plain numbers, folded into the prom-client counters when /metrics is read
  // (their `collect`): prom-client's inc() hashes its labels and allocates on every call, which the bench
  // measured at ~0.5 KB and a microsecond per proxied request.
  const pendingOutcomes: Record<Outcome, number> = { allowed: 0, denied: 0, upstream_error: 0, aborted: 0 };
  const pendingDenials = new Map<string, number>();
  const pendingUsage = { input: 0, output: 0, microUsd: 0, unmetered: 0 };
  new Counter({
    name: "killcord_proxy_requests_total",
    help: "Proxied requests by outcome",
    labelNames: ["outcome"],
    registers: [registry],
    collect() {
      for (const outcome of Object.keys(pendingOutcomes) as Outcome[]) {
        this.inc({ outcome }, pendingOutcomes[outcome]);
        pendingOutcomes[outcome] = 0;
      }
    },
  });
  new Counter({
    name: "killcord_proxy_denials_total",
    help: "Requests denied, by stable code",
    labelNames: ["code"],
    registers: [registry],
    collect() {
      for (const code of gateDenialCodes) this.inc({ code }, 0);
      for (const [code, n] of pendingDenials) this.inc({ code }, n);
      pendingDenials.clear();
    },
  });
  const gate = localHistogram(
    registry,
    "killcord_proxy_gate_duration_seconds",
    "Time to decide a request: credential, local deny set and the Redis round trip",
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1],
  );
  new Counter({
    name: "killcord_proxy_tokens_total",
    help: "Tokens reported by providers",
    labelNames: ["direction"],
    registers: [registry],
    collect() {
      this.inc({ direction: "input" }, pendingUsage.input);
      this.inc({ direction: "output" }, pendingUsage.output);
      pendingUsage.input = 0;
      pendingUsage.output = 0;
    },
  });
  new Counter({
    name: "killcord_proxy_spend_micro_usd_total",
    help: "Metered spend in micro-USD",
    registers: [registry],
    collect() {
      this.inc(pendingUsage.microUsd);
      pendingUsage.microUsd = 0;
    },
  });
  new Counter({
    name: "killcord_proxy_unmetered_responses_total",
    help: "Successful responses that carried no usage report",
    registers: [registry],
    collect() {
      this.inc(pendingUsage.unmetered);
      pendingUsage.unmetered = 0;
    },
  });
  const trips = new Counter({
    name: "killcord_proxy_guardrail_trips_total",
    help: "Guardrail breaches that tripped a tier",
    labelNames: ["kind"],
    registers: [registry],
  });
  const killEntries = new Counter({
    name: "killcord_proxy_kill_stream_entries_total",
    help: "Kill stream entries applied to the local deny set",
    registers: [registry],
  });
  const killAborts = new Counter({
    name: "killcord_proxy_kill_aborted_requests_total",
    help: "In-flight requests and streams cut by a kill",
    registers: [registry],
  });
  return {
    registry,
    outcome(o) {
      pendingOutcomes[o]++;
    },
    denial(code) {
      pendingDenials.set(code, (pendingDenials.get(code) ?? 0) + 1);
    },
    gateSeconds: (s) => gate.observe(s),
    tokens(input, output) {
      if (input > 0) pendingUsage.input += input;
      if (output > 0) pendingUsage.output += output;
    },
    spend(micro) {
      if (micro > 0) pendingUsage.microUsd += micro;
    },
    unmetered() {
      pendingUsage.unmetered++;
    },
    trip: (kind) => trips.labels(kind).inc(),
    killEntry(aborted) {
      killEntries.inc();
      if (aborted > 0) killAborts.inc(aborted);
    },
    gateBatching(get) {
      new Gauge({
        name: "killcord_proxy_gate_redis_writes",
        help: "Writes the gate's Redis connection has made (each carries a batch of script calls)",
        registers: [registry],
        collect() {
          this.set(get().writes);
        },
      });
      new Gauge({
        name: "killcord_proxy_gate_redis_commands",
        help: "Script calls the gate's Redis connection has sent",
        registers: [registry],
        collect() {
          this.set(get().commands);
        },
      });
    },
    inFlight(get) {
      new Gauge({
        name: "killcord_proxy_in_flight_requests",
        help: "Proxied requests and streams currently open",
        registers: [registry],
        collect() {
          this.set(get());
        },
      });
    },
  };
}
