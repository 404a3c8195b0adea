/**
 * An HTTP load generator on undici, for the proxy bench. Two modes:
 * - closed loop: `concurrency` workers each send the next request when the last one ended (saturation);
 * - open loop: requests leave on a fixed schedule at `rate` per second whatever the server does (so a slow
 *   response never delays the next request); the schedule ticks every millisecond (a busy loop would steal
 *   the CPU the servers under test need), and each latency is counted from when its request left.
 * Every response body is read to the end; a non-2xx status counts as an error.
 */
import { writeFileSync } from "node:fs";
import { Pool } from "undici";

export interface Target {
  origin: string;
  path: string;
  /** Headers for the i-th request (e.g. a credential from a pool of agents). */
  headers(i: number): Record<string, string>;
  body: string;
}

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** One run's result with its raw latencies (µs), so interleaved runs can be merged. */
export interface LoadRun extends LoadResult {
  samplesUs: Float64Array;
}

/** Merges runs of the same target (e.g. interleaved rounds): requests/s over their summed time. */
export function mergeRuns(runs: LoadRun[]): LoadResult {
  const count = runs.reduce((n, r) => n + r.samplesUs.length, 0);
  const all = new Float64Array(count);
  let at = 0;
  for (const r of runs) {
    all.set(r.samplesUs, at);
    at += r.samplesUs.length;
  }
  const errors = runs.reduce((n, r) => n + r.errors, 0);
  const seconds = runs.reduce((n, r) => n + r.seconds, 0);
  return summarize(all, count, errors, seconds);
}

function summarize(latenciesUs: Float64Array, count: number, errors: number, seconds: number): LoadResult {
  const sorted = latenciesUs.slice(0, count).sort();
  const at = (q: number) => (count === 0 ? Number.NaN : sorted[Math.min(count - 1, Math.floor(q * count))]! / 1000);
  return {
    requests: count,
    errors,
    seconds,
    rps: count / seconds,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: count === 0 ? Number.NaN : sorted[count - 1]! / 1000,
  };
}

class Samples {
  data = new Float64Array(1 << 16);
  count = 0;
  push(us: number) {
    if (this.count === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.count++] = us;
  }
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

async function send(pool: Pool, target: Target, i: number): Promise<boolean> {
  const { statusCode, body } = await pool.request({
    path: target.path,
    method: "POST",
    headers: { "content-type": "application/json", ...target.headers(i) },
    body: target.body,
  });
  await body.dump({ limit: Number.POSITIVE_INFINITY });
  return statusCode >= 200 && statusCode < 300;
}

/** Saturation: `concurrency` requests always in flight for `seconds` (after a short warm-up). */
export async function closedLoop(
  target: Target,
  options: { concurrency: number; seconds: number; warmupSeconds?: number; onMeasureStart?(): void },
): Promise<LoadRun> {
  const pool = new Pool(target.origin, { connections: options.concurrency, pipelining: 1, keepAliveTimeout: 60_000 });
  let i = 0;
  const run = async (until: number, samples: Samples | undefined, errors: { n: number }) => {
    while (Date.now() < until) {
      const started = nowUs();
      const ok = await send(pool, target, i++).catch(() => false);
      if (!ok) errors.n++;
      else samples?.push(nowUs() - started);
    }
  };
  const warm = Date.now() + (options.warmupSeconds ?? 1) * 1000;
  await Promise.all(Array.from({ length: options.concurrency }, () => run(warm, undefined, { n: 0 })));
  const samples = new Samples();
  const errors = { n: 0 };
  // Called between warm-up and measurement, e.g. to read CPU counters over the measured window only.
  options.onMeasureStart?.();
  const started = performance.now();
  const until = Date.now() + options.seconds * 1000;
  await Promise.all(Array.from({ length: options.concurrency }, () => run(until, samples, errors)));
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  return { ...summarize(samples.data, samples.count, errors.n, seconds), samplesUs: samples.data.slice(0, samples.count) };
}

/**
 * Fixed rate: `rate` requests per second for `warmupSeconds` (not recorded: the pool's connections open, the
 * servers' JIT and connection pools settle) and then `seconds` (recorded). Without the warm-up, the first few hundred
 * milliseconds at full rate dominate the p99 of a short run: new connections are opened under load on both sides.
 */
export async function openLoop(
  target: Target,
  options: { rate: number; seconds: number; warmupSeconds?: number; connections?: number; traceFile?: string },
): Promise<LoadRun> {
  const pool = new Pool(target.origin, { connections: options.connections ?? 256, pipelining: 1, keepAliveTimeout: 60_000 });
  const samples = new Samples();
  const leftAts = options.traceFile === undefined ? undefined : new Samples();
  let errors = 0;
  const warm = Math.round(options.rate * (options.warmupSeconds ?? 2));
  const total = warm + Math.round(options.rate * options.seconds);
  const intervalUs = 1e6 / options.rate;
  const start = nowUs();
  let measuredFrom = Number.NaN;
  const pending: Promise<void>[] = [];
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor((nowUs() - start) / intervalUs) + 1);
      for (; sent < due; sent++) {
        const leftAt = nowUs();
        const i = sent;
        const recorded = i >= warm;
        if (i === warm) measuredFrom = leftAt;
        pending.push(
          send(pool, target, i).then(
            (ok) => {
              if (!recorded) return;
              if (ok) {
                samples.push(nowUs() - leftAt);
                leftAts?.push(leftAt - start);
              } else errors++;
            },
            () => {
              if (recorded) errors++;
            },
          ),
        );
      }
      if (sent >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(pending);
  const seconds = (nowUs() - measuredFrom) / 1e6;
  await pool.close();
  if (leftAts !== undefined && options.traceFile !== undefined) {
    // One line per request: when it left (ms into the run, warm-up included) and its latency (ms).
    const lines: string[] = [];
    for (let k = 0; k < samples.count; k++)
      lines.push(`${(leftAts.data[k]! / 1000).toFixed(3)} ${(samples.data[k]! / 1000).toFixed(3)}`);
    writeFileSync(options.traceFile, `# start ${Math.round(Date.now() - (nowUs() - start) / 1000)}\n${lines.join("\n")}\n`);
  }
  const result = summarize(samples.data, samples.count, errors, seconds);
  // The offered rate, not the completion rate over a tail that waits for the last responses.
  return { ...result, rps: samples.count / options.seconds, samplesUs: samples.data.slice(0, samples.count) };
}
