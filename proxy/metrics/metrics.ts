/**
 * Prometheus metrics of the data plane, in a registry of its own (several proxies can live in one process in
 * tests). Label values are bounded sets (outcomes, codes, kinds): never agent ids or provider keys.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
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

export function createMetrics(): ProxyMetrics {
  const registry = new Registry();
  collectProcessMetrics(registry, "killcord_proxy_");
  const requests = new Counter({
    name: "killcord_proxy_requests_total",
    help: "Proxied requests by outcome",
    labelNames: ["outcome"],
    registers: [registry],
  });
  const denials = new Counter({
    name: "killcord_proxy_denials_total",
    help: "Requests denied, by stable code",
    labelNames: ["code"],
    registers: [registry],
  });
  const gate = new Histogram({
    name: "killcord_proxy_gate_duration_seconds",
    help: "Time to decide a request: credential, local deny set and the Redis round trip",
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1],
    registers: [registry],
  });
  const tokens = new Counter({
    name: "killcord_proxy_tokens_total",
    help: "Tokens reported by providers",
    labelNames: ["direction"],
    registers: [registry],
  });
  const spend = new Counter({
    name: "killcord_proxy_spend_micro_usd_total",
    help: "Metered spend in micro-USD",
    registers: [registry],
  });
  const unmetered = new Counter({
    name: "killcord_proxy_unmetered_responses_total",
    help: "Successful responses that carried no usage report",
    registers: [registry],
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
  // Pre-bound children: label lookups stay off the hot path.
  const outcomes = {
    allowed: requests.labels("allowed"),
    denied: requests.labels("denied"),
    upstream_error: requests.labels("upstream_error"),
    aborted: requests.labels("aborted"),
  };
  for (const code of gateDenialCodes) denials.labels(code).inc(0);
  const tokensIn = tokens.labels("input");
  const tokensOut = tokens.labels("output");
  return {
    registry,
    outcome: (o) => outcomes[o].inc(),
    denial: (code) => denials.labels(code).inc(),
    gateSeconds: (s) => gate.observe(s),
    tokens(input, output) {
      if (input > 0) tokensIn.inc(input);
      if (output > 0) tokensOut.inc(output);
    },
    spend: (micro) => spend.inc(micro),
    unmetered: () => unmetered.inc(),
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
