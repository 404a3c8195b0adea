/**
 * The Node process metrics (prom-client's default set: CPU, memory, heap spaces, event-loop lag, handles,
 * file descriptors, version) without its GC-duration histogram. That histogram comes from a GC
 * PerformanceObserver: Node builds an entry object (with deprecation wrappers) for every garbage
 * collection and calls back into JavaScript, and under load (a scavenge every ~10-20 ms) those entries
 * outlived the young generation. Bench: about 4 µs of proxy CPU per request, and a tenth of what the proxy
 * promoted into the old generation. Event-loop lag (a native histogram) shows GC pauses as they matter to
 * requests; `node --trace-gc` shows each collection when needed.
 *
 * prom-client (pinned) has one module per default metric, each `(registry, config) => void`; this loads
 * all of them but `gc`. A test checks the set is present.
 */
import { createRequire } from "node:module";
import type { Registry } from "prom-client";

const require = createRequire(import.meta.url);

type DefaultMetric = (registry: Registry, config: { prefix: string; eventLoopMonitoringPrecision: number }) => void;

export const processMetricModules = [
  "processCpuTotal",
  "processStartTime",
  "osMemoryHeap",
  "processOpenFileDescriptors",
  "processMaxFileDescriptors",
  "eventLoopLag",
  "processResources",
  "processHandles",
  "processRequests",
  "heapSizeAndUsed",
  "heapSpacesSizeAndUsed",
  "version",
] as const;

/** Registers the process metrics on `registry`, each name prefixed with `prefix`. */
export function collectProcessMetrics(registry: Registry, prefix: string): void {
  for (const name of processMetricModules) {
    const collect = require(`prom-client/lib/metrics/${name}`) as DefaultMetric;
    collect(registry, { prefix, eventLoopMonitoringPrecision: 10 });
  }
}
