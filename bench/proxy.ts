// `npm run bench:proxy` (and part of `npm run bench`): the data plane's speed and memory.
// Against one local OpenAI-compatible upstream (bench/upstreamFixture.ts, its own process):
//   (a) direct to the upstream;
//   (b) a bare fastify + undici passthrough with no checks (bench/baselineProxy.ts);
//   (c) the Killcord proxy as production runs it (dist/proxy/main.js with the V8 flags of proxy/runtime.ts, its
//       own process; from TypeScript sources with a note when dist/ is stale) with 10,000 registered agents,
//       the load spread over 100 of them, every call gated (one Redis round trip) and metered.
// 1. saturation (closed loop, interleaved rounds): requests/s, p50, p99 for each, (c)/(b), and CPU per request
//    of the proxies and of Redis (over the measured windows only);
// 2. half of (c)'s saturation rate (open loop, interleaved rounds, each after a 2 s warm-up) for (a), (b), (c):
//    the p99 latency (c) adds over (a), beside what the bare baseline (b) adds;
// 3. the proxy's resident memory (peak over the run, including its /metrics scrapes);
// 4. the gate alone: credential parse + the Redis round trip, per request, sequential and concurrent;
// 5. kill latency: a kill-stream entry until the agent's open streams are cut at the client.
// Targets: (c)/(b) >= 0.75; added p99 <= 1 ms at half saturation; RSS <= 150 MB; kills within 50 ms.
// Options (environment): BENCH_SECONDS (per target and phase, default 10), BENCH_ROUNDS (interleaved rounds per
// phase, default 3), BENCH_CONCURRENCY (32), BENCH_AGENTS (10000), BENCH_ACTIVE_AGENTS (100), BENCH_DATABASE_URL
// (a Postgres server to create the bench's database on, default the local one; "pglite" for the embedded store),
// BENCH_PIN=1 (pin processes to cores), BENCH_ONLY (a comma list of phases), BENCH_PROXY_FLAGS (node flags for
// the proxy instead of proxy/runtime.ts's, space-separated, e.g. "--max-semi-space-size=4 --cpu-prof"),
// BENCH_BASELINE_NODE_OPTIONS (NODE_OPTIONS of the baseline), BENCH_BASELINE_FLAGS (node flags of the baseline,
// space-separated; "proxy" gives it the proxy's own V8 flags, to compare Killcord's code alone), BENCH_TRACE_DIR (keep every child's output and
// each half-saturation request's send time and latency there); `--quick` runs short phases for a smoke run.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { Redis } from "ioredis";
import pg from "pg";
import { Agent, request } from "undici";
import { providerKeyAad } from "../proxy/control/providerDirectory.ts";
import { seal } from "../proxy/crypto/secretBox.ts";
import { openDb } from "../proxy/db/index.ts";
import { createGate } from "../proxy/gate/gate.ts";
import { LocalDenySet } from "../proxy/gate/localDenySet.ts";
import { ScriptConnection } from "../proxy/gate/scriptConnection.ts";
import { proxyEntry, proxyNodeFlags } from "../proxy/runtime.ts";
import { formatCredential, hashCredential, type ParsedCredential, parseCredential } from "../proxy/store/agentState.ts";
import { appendKill } from "../proxy/store/denyKey.ts";
import { keys } from "../proxy/store/keys.ts";
import { packageRoot } from "../scripts/lib/artifacts.ts";
import { freePort } from "../test/support/ports.ts";
import { startRedis, type TestRedis } from "../test/support/redis.ts";
import { closedLoop, type LoadResult, type LoadRun, mergeRuns, openLoop, type Target } from "./loadGenerator.ts";
import { flagsFromEnv, intFromEnv, quick } from "./options.ts";
import { histogramWindow, metricValue, scrapeMetrics } from "./proxyMetrics.ts";

const seconds = intFromEnv("BENCH_SECONDS", quick ? 3 : 10);
const concurrency = intFromEnv("BENCH_CONCURRENCY", 32);
const rounds = intFromEnv("BENCH_ROUNDS", quick ? 1 : 3);
const agentCount = intFromEnv("BENCH_AGENTS", 10_000);
const activeAgents = Math.min(intFromEnv("BENCH_ACTIVE_AGENTS", 100), agentCount);
const killStreams = 20;
/** BENCH_ONLY=killcord,kill (any of gate, direct, baseline, killcord, half, kill) runs just those phases. */
const only = process.env.BENCH_ONLY?.split(",").map((p) => p.trim());
const runs = (phase: string) => only === undefined || only.includes(phase);
const skipped: LoadResult = {
  requests: 0,
  errors: 0,
  seconds: 0,
  rps: Number.NaN,
  p50Ms: Number.NaN,
  p99Ms: Number.NaN,
  maxMs: Number.NaN,
};

const targets = { throughputRatio: 0.75, addedP99Ms: 1, rssMb: 150, killMs: 50 };
const requestBody = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Say hello." }] });
const children: ChildProcess[] = [];
const traceDir = process.env.BENCH_TRACE_DIR;
const traceFile = (name: string) => (traceDir === undefined ? undefined : join(traceDir, `half-${name}.txt`));

/** Spawns `node <script> [...args]` and resolves the first JSON line it prints on stdout. */
async function spawnNode(
  script: string,
  args: string[],
  env: Record<string, string>,
  nodeFlags: readonly string[] = [],
): Promise<{ child: ChildProcess; line: any }> {
  const child = spawn(process.execPath, [...nodeFlags, resolve(packageRoot, script), ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  // BENCH_TRACE_DIR=<dir>: keep each child's whole output (e.g. with BENCH_PROXY_NODE_OPTIONS=--trace-gc).
  if (traceDir !== undefined) {
    const out = createWriteStream(join(traceDir, `${script.replace(/\W+/g, "_")}.log`));
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
  }
  const lines = createInterface({ input: child.stdout! });
  const line = await new Promise<any>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}: ${stderr}`)));
    lines.on("line", (text) => {
      try {
        resolve(JSON.parse(text));
      } catch {
        // not the JSON line
      }
    });
  });
  return { child, line };
}

/**
 * Pins a process (all its threads) to the given CPUs with taskset (Linux). With BENCH_PIN=1 the bench gives
 * the process under test, the baseline or the Killcord proxy, a core of its own and puts the load generator,
 * the upstream and Redis on the others, as separate machines would. Off by default: on a two-core machine
 * the proxies' GC threads then share their one core, which measured worse than leaving it to the scheduler.
 * Returns false when not pinned.
 */
function pin(pid: number, cpuList: string): boolean {
  if (process.env.BENCH_PIN !== "1" || process.platform !== "linux" || cpus().length < 2) return false;
  const result = spawnSync("taskset", ["-a", "-p", "-c", cpuList, String(pid)], { stdio: "ignore" });
  return result.status === 0;
}

/** CPU time (user + system) a process has used so far, in microseconds, from /proc (Linux); NaN elsewhere. */
function cpuMicros(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    // utime and stime are fields 14 and 15 of stat (indexes 11 and 12 after the command), in clock ticks (100/s).
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return Number.NaN;
  }
}

/** Peak resident memory of a process, sampled from /proc (Linux). */
function rssSampler(pid: number) {
  let peak = 0;
  const sample = () => {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (match) peak = Math.max(peak, Number(match[1]) / 1024);
    } catch {
      // process gone
    }
  };
  const timer = setInterval(sample, 200);
  sample();
  return {
    get peakMb() {
      sample();
      return peak;
    },
    stop: () => clearInterval(timer),
  };
}

/** 10,000 linked agents, each with a credential and an OpenAI-style connection: the durable store and Redis. */
async function seedAgents(
  store: { dataDir: string; databaseUrl: string | undefined },
  masterKey: Buffer,
  redis: Redis,
  upstreamBase: string,
): Promise<string[]> {
  const db = await openDb(store);
  const now = Date.now();
  const operator = `0x${randomBytes(20).toString("hex")}`;
  const credentials: string[] = [];
  await db.query("INSERT INTO operators (wallet, created_at) VALUES ($1, $2)", [operator, now]);
  const batch = 500;
  for (let start = 0; start < agentCount; start += batch) {
    const agents: unknown[] = [];
    const creds: unknown[] = [];
    const providers: unknown[] = [];
    const pipeline = redis.pipeline();
    for (let i = start; i < Math.min(agentCount, start + batch); i++) {
      const agentId = `0x${randomBytes(32).toString("hex")}`;
      const credential = formatCredential(agentId, randomBytes(32));
      const hash = hashCredential(credential);
      const id = `cred_${randomBytes(8).toString("hex")}`;
      const sealed = seal(masterKey, "sk-bench-provider", providerKeyAad(agentId, "openai"));
      credentials.push(credential);
      agents.push(agentId, operator, `0x${randomBytes(32).toString("hex")}`, `bench-${i}`, now);
      creds.push(id, agentId, hash, now);
      providers.push(agentId, upstreamBase, sealed.ciphertext, sealed.nonce, sealed.keyVersion, now);
      // The gate's view, in the formats of proxy/store/agentState.ts.
      pipeline.hset(keys.credential(agentId, hash), { id, issuedAt: String(now) });
      pipeline.hset(keys.flags(agentId), { agent: "1", "provider:openai": "1" });
    }
    const rows = (values: unknown[], width: number, template: (p: (k: number) => string) => string) =>
      Array.from({ length: values.length / width }, (_, r) => template((k) => `$${r * width + k}`)).join(", ");
    await db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO agents (agent_id, operator, uid, name, linked_at, updated_at) VALUES ${rows(agents, 5, (p) => `(${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(5)})`)}`,
        agents,
      );
      await tx.query(
        `INSERT INTO credentials (id, agent_id, hash, issued_at) VALUES ${rows(creds, 4, (p) => `(${p(1)}, ${p(2)}, ${p(3)}, ${p(4)})`)}`,
        creds,
      );
      await tx.query(
        `INSERT INTO provider_connections (agent_id, name, base_url, style, key_ciphertext, key_nonce, key_version, key_last4,
           key_fingerprint, enabled, created_at, updated_at)
         VALUES ${rows(providers, 6, (p) => `(${p(1)}, 'openai', ${p(2)}, 'openai', ${p(3)}, ${p(4)}, ${p(5)}, 'ider', 'bench', true, ${p(6)}, ${p(6)})`)}`,
        providers,
      );
    });
    await pipeline.exec();
  }
  await db.close();
  // What the control plane sets once Redis holds its state: without it, the proxy would start by restoring
  // all 10,000 agents from the store while the bench runs.
  await redis.set(keys.controlRestored, String(now));
  return credentials;
}

/**
 * The durable store for (c): a Postgres database of the bench's own when a server answers (BENCH_DATABASE_URL,
 * default the local server), as a production proxy runs; else embedded PGlite, whose WASM heap alone is
 * ~300 MB of the proxy's RSS. Returns the URL of the database to use and how to drop it.
 */
async function benchDatabase(): Promise<{ databaseUrl: string | undefined; drop(): Promise<void> }> {
  if (process.env.BENCH_DATABASE_URL === "pglite") return { databaseUrl: undefined, drop: async () => {} };
  const serverUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const admin = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 2000 });
  try {
    await admin.connect();
  } catch {
    return { databaseUrl: undefined, drop: async () => {} };
  }
  const name = `killcord_bench_${randomBytes(6).toString("hex")}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    databaseUrl: url.toString(),
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
      await admin.end();
    },
  };
}

/** The gate alone, in this process: credential parse + one Redis round trip, sequential and concurrent. */
async function benchGate(redisUrl: string, credentials: string[]) {
  const scripts = new ScriptConnection({ url: redisUrl, timeoutMs: 1000 });
  await scripts.waitReady(5000);
  const gate = createGate({ scripts, localDeny: new LocalDenySet(), failOpen: false });
  const check = async (i: number) => {
    const credential = parseCredential(credentials[i % activeAgents]!) as ParsedCredential;
    const verdict = await gate.check({ credential, provider: "openai", count: true });
    if (!verdict.allowed) throw new Error(`gate denied a bench agent: ${verdict.code}`);
  };
  for (let i = 0; i < 500; i++) await check(i);
  const n = quick ? 3_000 : 20_000;
  let started = performance.now();
  for (let i = 0; i < n; i++) await check(i);
  const sequentialUs = ((performance.now() - started) * 1000) / n;
  started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < n) await check(next++);
    }),
  );
  const concurrentPerSecond = n / ((performance.now() - started) / 1000);
  await scripts.close();
  return { sequentialUs, concurrentPerSecond };
}

/** Opens held streams for one agent, appends a kill, and times how long each takes to end at the client. */
async function benchKill(proxyUrl: string, redis: Redis, credential: string) {
  const dispatcher = new Agent({ connections: killStreams * 2 });
  const streams = await Promise.all(
    Array.from({ length: killStreams }, async () => {
      const response = await request(`${proxyUrl}/openai/chat/completions`, {
        method: "POST",
        dispatcher,
        headers: { authorization: `Bearer ${credential}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "hold" }] }),
      });
      const ended = new Promise<number>((resolve) => {
        response.body.on("data", () => {});
        response.body.once("end", () => resolve(performance.now()));
        response.body.once("error", () => resolve(performance.now()));
      });
      // Wrapped: an async function returning the promise itself would wait for the stream to end.
      return { ended };
    }),
  );
  await new Promise((r) => setTimeout(r, 200));
  const agentId = parseCredential(credential)!.agentId;
  const killedAt = performance.now();
  await appendKill(redis, agentId, {
    state: "killed",
    code: "AGENT_KILLED",
    source: "bench",
    reason: "bench",
    initiator: "bench",
    at: Date.now(),
  });
  const ends = (await Promise.all(streams.map((s) => s.ended))).map((t) => t - killedAt).sort((x, y) => x - y);
  await dispatcher.close();
  return { streams: killStreams, p50Ms: ends[Math.floor(ends.length / 2)]!, maxMs: ends[ends.length - 1]! };
}

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : "-");
const row = (name: string, r: LoadResult & { cpuUsPerRequest?: number }) =>
  `  ${name.padEnd(34)} ${fmt(r.rps, 0).padStart(8)} req/s   p50 ${fmt(r.p50Ms).padStart(6)} ms   p99 ${fmt(r.p99Ms).padStart(6)} ms   errors ${r.errors}` +
  (r.cpuUsPerRequest === undefined ? "" : `   cpu ${fmt(r.cpuUsPerRequest, 0)} µs/req`);

async function main() {
  let redis: TestRedis | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), "killcord-bench-proxy-"));
  let database: Awaited<ReturnType<typeof benchDatabase>> | undefined;
  try {
    console.log(`proxy bench: ${seconds} s per phase, concurrency ${concurrency}, ${agentCount} agents (${activeAgents} active)`);
    redis = await startRedis();
    const upstream = await spawnNode("bench/upstreamFixture.ts", [], {});
    const upstreamOrigin = `http://127.0.0.1:${upstream.line.port}`;
    const baselineFlagsOption = flagsFromEnv("BENCH_BASELINE_FLAGS") ?? [];
    const baselineFlags = baselineFlagsOption.join(" ") === "proxy" ? [...proxyNodeFlags] : baselineFlagsOption;
    const baseline = await spawnNode(
      "bench/baselineProxy.ts",
      [],
      { UPSTREAM: `${upstreamOrigin}/v1`, NODE_OPTIONS: process.env.BENCH_BASELINE_NODE_OPTIONS ?? "" },
      baselineFlags,
    );
    if (baselineFlags.length > 0) console.log(`baseline: node ${baselineFlags.join(" ")} bench/baselineProxy.ts`);
    const baselineOrigin = `http://127.0.0.1:${baseline.line.port}`;

    const masterKey = randomBytes(32);
    const seedStarted = performance.now();
    database = await benchDatabase();
    const storeName = database.databaseUrl === undefined ? "embedded PGlite" : "Postgres";
    const credentials = await seedAgents(
      { dataDir, databaseUrl: database.databaseUrl },
      masterKey,
      redis.client,
      `${upstreamOrigin}/v1`,
    );
    console.log(`store: ${storeName}`);
    console.log(`seeded ${agentCount} agents in ${fmt((performance.now() - seedStarted) / 1000, 1)} s`);

    const port = await freePort();
    const proxyEnv = {
      KILLCORD_PROXY_HOST: "127.0.0.1",
      KILLCORD_REDIS_URL: redis.url,
      KILLCORD_DATA_DIR: dataDir,
      ...(database.databaseUrl === undefined ? {} : { DATABASE_URL: database.databaseUrl }),
      KILLCORD_MASTER_KEY: masterKey.toString("hex"),
      KILLCORD_LOG_LEVEL: "warn",
      // e.g. BENCH_PROXY_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the proxy alone.
      NODE_OPTIONS: process.env.BENCH_PROXY_NODE_OPTIONS ?? "",
    };
    // The proxy runs as in production: its own process, the compiled entry (when dist/ is fresh) with the V8
    // flags of proxy/runtime.ts (BENCH_PROXY_FLAGS replaces them, space-separated, for experiments).
    const entry = proxyEntry();
    if (entry.build === "source")
      console.log(`note: running the proxy from TypeScript sources (${entry.staleReason}); run \`npm run build\``);
    const proxyFlags = flagsFromEnv("BENCH_PROXY_FLAGS") ?? proxyNodeFlags;
    const proxy = await spawnNode(entry.script, ["--port", String(port), "--json"], proxyEnv, proxyFlags);
    console.log(`proxy: ${entry.build} build, node ${[...proxyFlags, relative(packageRoot, entry.script)].join(" ")}`);
    const proxyOrigin = proxy.line.url as string;
    // The proxies under test get the last core; everything else (this load generator, the upstream, Redis)
    // the others.
    const lastCpu = cpus().length - 1;
    const others = lastCpu === 1 ? "0" : `0-${lastCpu - 1}`;
    const redisPid = Number(/process_id:(\d+)/.exec(await redis.client.info("server"))?.[1]);
    const pinned =
      pin(proxy.child.pid!, String(lastCpu)) &&
      pin(baseline.child.pid!, String(lastCpu)) &&
      pin(process.pid, others) &&
      pin(upstream.child.pid!, others) &&
      pin(redisPid, others);
    if (pinned) console.log(`pinned: proxies under test on CPU ${lastCpu}; load generator, upstream and Redis on CPU ${others}`);
    const proxyRss = rssSampler(proxy.child.pid!);
    const baselineRss = rssSampler(baseline.child.pid!);

    const bearer = (i: number) => ({ authorization: `Bearer ${credentials[i % activeAgents]}` });
    const direct: Target = { origin: upstreamOrigin, path: "/v1/chat/completions", headers: bearer, body: requestBody };
    const bare: Target = { origin: baselineOrigin, path: "/openai/chat/completions", headers: bearer, body: requestBody };
    const killcord: Target = { origin: proxyOrigin, path: "/openai/chat/completions", headers: bearer, body: requestBody };

    const gateAlone = runs("gate")
      ? await benchGate(redis.url, credentials)
      : { sequentialUs: Number.NaN, concurrentPerSecond: Number.NaN };
    console.log(
      `gate alone: ${fmt(gateAlone.sequentialUs, 1)} µs per request sequential, ${fmt(gateAlone.concurrentPerSecond, 0)}/s with 64 in flight`,
    );

    console.log(`\nsaturation (closed loop, ${concurrency} in flight, ${rounds} interleaved rounds)`);
    // Rounds alternate the targets so that load from elsewhere on the machine hits them alike.
    const runsOf = { direct: [] as LoadRun[], baseline: [] as LoadRun[], killcord: [] as LoadRun[] };
    // CPU (user + system, from /proc) over each measured window, warm-up excluded: the proxies', and Redis's
    // while Killcord runs (the gate's script is CPU the baseline never spends).
    const cpuOf = { baseline: 0, killcord: 0, redis: 0 };
    const roundSeconds = Math.max(1, seconds / rounds);
    const measured = (pids: number[], add: (used: number[]) => void, run: (start: () => void) => Promise<LoadRun>) => {
      let before: number[] = [];
      return run(() => {
        before = pids.map(cpuMicros);
      }).then((result) => {
        add(pids.map((pid, k) => cpuMicros(pid) - before[k]!));
        return result;
      });
    };
    for (let round = 0; round < rounds; round++) {
      if (runs("direct")) runsOf.direct.push(await closedLoop(direct, { concurrency, seconds: roundSeconds }));
      if (runs("baseline")) {
        const result = await measured(
          [baseline.child.pid!],
          ([used]) => {
            cpuOf.baseline += used!;
          },
          (onMeasureStart) => closedLoop(bare, { concurrency, seconds: roundSeconds, onMeasureStart }),
        );
        runsOf.baseline.push(result);
      }
      if (runs("killcord")) {
        const result = await measured(
          [proxy.child.pid!, redisPid],
          ([used, redisUsed]) => {
            cpuOf.killcord += used!;
            cpuOf.redis += redisUsed!;
          },
          (onMeasureStart) => closedLoop(killcord, { concurrency, seconds: roundSeconds, onMeasureStart }),
        );
        runsOf.killcord.push(result);
      }
    }
    // How well the gate batches its Redis calls under saturation (from the proxy's own metrics).
    const saturationMetrics = await scrapeMetrics(proxyOrigin);
    const gateCallsPerWrite =
      metricValue(saturationMetrics, "killcord_proxy_gate_redis_commands") /
      metricValue(saturationMetrics, "killcord_proxy_gate_redis_writes");
    const merged = (list: LoadRun[], cpu?: number): LoadResult & { cpuUsPerRequest?: number } => {
      if (list.length === 0) return skipped;
      const result = mergeRuns(list);
      return cpu === undefined ? result : { ...result, cpuUsPerRequest: cpu / Math.max(1, result.requests) };
    };
    const saturation = {
      direct: merged(runsOf.direct),
      baseline: merged(runsOf.baseline, cpuOf.baseline),
      killcord: merged(runsOf.killcord, cpuOf.killcord),
    };
    console.log(row("(a) direct", saturation.direct));
    console.log(row("(b) fastify + undici passthrough", saturation.baseline));
    console.log(row("(c) killcord proxy", saturation.killcord));
    const throughputRatio = saturation.killcord.rps / saturation.baseline.rps;
    const redisCpuUsPerRequest = cpuOf.redis / Math.max(1, saturation.killcord.requests);

    const rate = Math.max(50, Math.round((Number.isNaN(saturation.killcord.rps) ? 2000 : saturation.killcord.rps) / 2));
    console.log(`\nhalf of (c)'s saturation: ${rate} req/s (open loop, ${rounds} interleaved rounds after 2 s warm-up each)`);
    // Interleaved rounds (a, b, c, a, b, c, ...), each with its own warm-up, merged per target: noise from the
    // rest of the machine lands on all three alike instead of on whichever ran during it.
    const halfRuns = { direct: [] as LoadRun[], baseline: [] as LoadRun[], killcord: [] as LoadRun[] };
    const halfRoundSeconds = Math.max(1, seconds / rounds);
    // The proxy's own gate histogram over (c)'s rounds (warm-ups included): what the gate took inside the
    // proxy, beside what the client saw once the machine's scheduling had added its share.
    const beforeHalf = await scrapeMetrics(proxyOrigin);
    if (runs("half")) {
      for (let round = 0; round < rounds; round++) {
        const trace = (name: string) => traceFile(`${name}-${round}`);
        halfRuns.direct.push(await openLoop(direct, { rate, seconds: halfRoundSeconds, traceFile: trace("direct") }));
        halfRuns.baseline.push(await openLoop(bare, { rate, seconds: halfRoundSeconds, traceFile: trace("baseline") }));
        halfRuns.killcord.push(await openLoop(killcord, { rate, seconds: halfRoundSeconds, traceFile: trace("killcord") }));
      }
    }
    const half = { direct: merged(halfRuns.direct), baseline: merged(halfRuns.baseline), killcord: merged(halfRuns.killcord) };
    console.log(row("(a) direct", half.direct));
    console.log(row("(b) fastify + undici passthrough", half.baseline));
    console.log(row("(c) killcord proxy", half.killcord));
    const addedP99Ms = half.killcord.p99Ms - half.direct.p99Ms;
    // Each round's p99 on its own: how far the same target moves from round to round is the noise floor a
    // difference of p99s has to be read against.
    const roundsP99Ms = {
      direct: halfRuns.direct.map((r) => r.p99Ms),
      baseline: halfRuns.baseline.map((r) => r.p99Ms),
      killcord: halfRuns.killcord.map((r) => r.p99Ms),
    };
    const perRound = (list: number[]) => list.map((v) => fmt(v)).join(" / ");
    console.log(
      `  p99 per round (ms)                 (a) ${perRound(roundsP99Ms.direct)}   (b) ${perRound(roundsP99Ms.baseline)}   (c) ${perRound(roundsP99Ms.killcord)}`,
    );
    const gateAtHalf = histogramWindow(beforeHalf, await scrapeMetrics(proxyOrigin), "killcord_proxy_gate_duration_seconds");

    // Where the proxy's memory is, after the load (V8 heap vs. buffers and native).
    const memoryText = await scrapeMetrics(proxyOrigin);
    const memoryOf = (name: string) => metricValue(memoryText, name) / 1e6;
    const proxyMemory = {
      rssMb: memoryOf("killcord_proxy_process_resident_memory_bytes"),
      heapTotalMb: memoryOf("killcord_proxy_nodejs_heap_size_total_bytes"),
      heapUsedMb: memoryOf("killcord_proxy_nodejs_heap_size_used_bytes"),
      externalMb: memoryOf("killcord_proxy_nodejs_external_memory_bytes"),
    };
    const kill = runs("kill")
      ? await benchKill(proxyOrigin, redis.client, credentials[activeAgents]!)
      : { streams: 0, p50Ms: Number.NaN, maxMs: Number.NaN };
    // The sampler polls every 200 ms and can miss the moment of a /metrics scrape (which costs a few MB):
    // the RSS the proxy reported in its own scrape counts toward the peak too.
    const rssMb = Math.max(proxyRss.peakMb, Number.isFinite(proxyMemory.rssMb) ? proxyMemory.rssMb / 1.048576 : 0);
    proxyRss.stop();
    baselineRss.stop();

    const checks = {
      throughputRatio: {
        value: throughputRatio,
        target: `>= ${targets.throughputRatio}`,
        pass: throughputRatio >= targets.throughputRatio,
      },
      addedP99Ms: { value: addedP99Ms, target: `<= ${targets.addedP99Ms}`, pass: addedP99Ms <= targets.addedP99Ms },
      proxyRssMb: { value: rssMb, target: `<= ${targets.rssMb}`, pass: rssMb <= targets.rssMb },
      killMaxMs: { value: kill.maxMs, target: `<= ${targets.killMs}`, pass: kill.maxMs <= targets.killMs },
    };
    console.log(`
results
  (c)/(b) throughput          ${fmt(throughputRatio, 3)}   (target ${checks.throughputRatio.target})  ${checks.throughputRatio.pass ? "PASS" : "FAIL"}
  (c)/(a) throughput          ${fmt(saturation.killcord.rps / saturation.direct.rps, 3)}
  p99 added by (c) over (a)   ${fmt(addedP99Ms, 3)} ms at ${rate} req/s (target ${checks.addedP99Ms.target} ms)  ${checks.addedP99Ms.pass ? "PASS" : "FAIL"}
  p99 added by (b) over (a)   ${fmt(half.baseline.p99Ms - half.direct.p99Ms, 3)} ms (the bare baseline, same rate: what Node + fastify + undici add here)
  p99 added by (c) over (b)   ${fmt(half.killcord.p99Ms - half.baseline.p99Ms, 3)} ms (the gate, metering and Killcord's own code)
  gate inside the proxy       p50 <= ${fmt(gateAtHalf.p50AtMostMs)} ms, p99 <= ${fmt(gateAtHalf.p99AtMostMs)} ms, ${fmt(gateAtHalf.over1Ms * 100, 2)}% over 1 ms (its own histogram, ${gateAtHalf.count} calls at half saturation)
  proxy RSS (peak)            ${fmt(rssMb, 1)} MB with ${storeName} (target ${checks.proxyRssMb.target} MB)  ${checks.proxyRssMb.pass ? "PASS" : "FAIL"}   baseline ${fmt(baselineRss.peakMb, 1)} MB
  proxy memory after load     RSS ${fmt(proxyMemory.rssMb, 0)} MB: V8 heap ${fmt(proxyMemory.heapUsedMb, 0)} used of ${fmt(proxyMemory.heapTotalMb, 0)} MB, external ${fmt(proxyMemory.externalMb, 0)} MB
  gate alone                  ${fmt(gateAlone.sequentialUs, 1)} µs/request sequential; ${fmt(gateAlone.concurrentPerSecond, 0)} requests/s concurrent
  gate calls per Redis write  ${fmt(gateCallsPerWrite, 2)} (under saturation; one write per event-loop turn)
  proxy CPU per request       ${fmt(saturation.killcord.cpuUsPerRequest ?? Number.NaN, 0)} µs (baseline ${fmt(saturation.baseline.cpuUsPerRequest ?? Number.NaN, 0)} µs); Redis ${fmt(redisCpuUsPerRequest, 0)} µs per gated request
  kill -> ${kill.streams} streams cut     p50 ${fmt(kill.p50Ms)} ms, max ${fmt(kill.maxMs)} ms (target ${checks.killMaxMs.target} ms)  ${checks.killMaxMs.pass ? "PASS" : "FAIL"}`);

    const result = {
      bench: "proxy",
      at: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
      store: storeName,
      pinned,
      options: { seconds, rounds, concurrency, agents: agentCount, activeAgents, quick, proxyFlags, baselineFlags },
      saturation,
      halfSaturation: { rate, ...half, roundsP99Ms, gate: gateAtHalf },
      throughputRatio,
      addedP99Ms,
      proxyRssMb: rssMb,
      proxyMemory,
      baselineRssMb: baselineRss.peakMb,
      gateAlone,
      gateCallsPerWrite,
      redisCpuUsPerRequest,
      kill,
      checks,
    };
    const dir = join(packageRoot, "bench", "results");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `proxy-${result.at.replace(/[:.]/g, "-")}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\nwritten to ${file}`);
    // Missed targets are results, not failures: the run succeeded if it got here.
    return 0;
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await redis?.close();
    rmSync(dataDir, { recursive: true, force: true });
    await database?.drop();
  }
}

process.exitCode = await main();
