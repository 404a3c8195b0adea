// `npm run bench:indexer`: how fast chain kills reach Redis.
//  1. Live: over N revocations on a local node with the indexer on its WebSocket, the time from the revoke
//     transaction's receipt to its deny key being readable in Redis (target: median <= 15 ms, p95 <= 50 ms).
//  2. Cold backlog: a fresh indexer (empty database, empty Redis) started on a chain that already holds
//     R registered and K revoked agents: the time until all K deny keys are in Redis (target: <= 60 s).
// Prints a table and writes JSON under bench/results/. Options (environment): BENCH_REVOCATIONS (default 30),
// BENCH_REVOKE_INTERVAL_MS (250), BENCH_REGISTERED (2000), BENCH_REVOKED (1000), BENCH_INDEXER_LOG=1 (show
// the indexer's log on stderr); `--quick` shrinks them for a smoke run.
//
// Revocations are paced (one block per BENCH_REVOKE_INTERVAL_MS, i.e. 4 blocks a second, faster than any L1
// and most L2s): Ponder rate-limits its RPC client adaptively, starting at 20 requests a second per RPC URL
// and raising the limit only under sustained load, so an unpaced burst of one block every few milliseconds
// measures that limiter (sub-second stalls every ~10 blocks), not the indexer.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { type Hex, parseEventLogs, toHex, zeroAddress, zeroHash } from "viem";
import { easAbi } from "../contracts/abi/EAS.ts";
import { type RunningIndexer, startIndexer } from "../indexer/lib/startIndexer.ts";
import { keys } from "../proxy/store/keys.ts";
import { encodeAgentData } from "../scripts/actions/registerAgent.ts";
import { packageRoot } from "../scripts/lib/artifacts.ts";
import type { Killcord } from "../scripts/lib/killcord.ts";
import { startChain, type TestChain } from "../test/support/chain.ts";
import { freePort } from "../test/support/ports.ts";
import { startRedis, type TestRedis } from "../test/support/redis.ts";
import { intFromEnv, quick } from "./options.ts";

const revocations = intFromEnv("BENCH_REVOCATIONS", quick ? 20 : 30);
const registered = intFromEnv("BENCH_REGISTERED", quick ? 200 : 2_000);
const revoked = Math.min(intFromEnv("BENCH_REVOKED", quick ? 100 : 1_000), registered);
const warmup = 3;
const revokeIntervalMs = intFromEnv("BENCH_REVOKE_INTERVAL_MS", 250);
const indexerOutput = process.env.BENCH_INDEXER_LOG === "1" ? "stderr" : "pipe";
const t0 = performance.now();
/** Progress on stderr (the table goes to stdout). */
const progress = (line: string) => console.error(`[${((performance.now() - t0) / 1000).toFixed(1)} s] ${line}`);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

async function rpc(url: string, method: string, params: unknown[] = []): Promise<any> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (body.error !== undefined) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

/** Attests `count` root agents in multiAttest batches; returns their agentIds and uids. */
async function attestMany(kc: Killcord, count: number, batch = 40): Promise<{ agentId: Hex; uid: Hex }[]> {
  const wallet = kc.walletClient!;
  const out: { agentId: Hex; uid: Hex }[] = [];
  for (let done = 0; done < count; done += batch) {
    const agentIds = Array.from({ length: Math.min(batch, count - done) }, () =>
      toHex(crypto.getRandomValues(new Uint8Array(32))),
    );
    const hash = await wallet.writeContract({
      address: kc.deployment.eas,
      abi: easAbi,
      functionName: "multiAttest",
      args: [
        [
          {
            schema: kc.deployment.agentSchemaUid,
            data: agentIds.map((agentId, i) => ({
              recipient: zeroAddress,
              expirationTime: 0n,
              revocable: true,
              refUID: zeroHash,
              data: encodeAgentData(agentId, `bench-${done + i}`, zeroAddress),
              value: 0n,
            })),
          },
        ],
      ],
    });
    const receipt = await kc.publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`multiAttest reverted (tx ${hash})`);
    const uids = parseEventLogs({ abi: easAbi, eventName: "Attested", logs: receipt.logs }).map((l) => l.args.uid);
    agentIds.forEach((agentId, i) => {
      out.push({ agentId, uid: uids[i]! });
    });
  }
  return out;
}

async function revokeMany(kc: Killcord, uids: Hex[], batch = 100): Promise<void> {
  const wallet = kc.walletClient!;
  for (let done = 0; done < uids.length; done += batch) {
    const hash = await wallet.writeContract({
      address: kc.deployment.eas,
      abi: easAbi,
      functionName: "multiRevoke",
      args: [[{ schema: kc.deployment.agentSchemaUid, data: uids.slice(done, done + batch).map((uid) => ({ uid, value: 0n })) }]],
    });
    const receipt = await kc.publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`multiRevoke reverted (tx ${hash})`);
  }
}

function indexerEnv(chain: TestChain, redis: TestRedis, dataDir: string): NodeJS.ProcessEnv {
  return { ...process.env, ...chain.env, REDIS_URL: redis.url, KILLCORD_INDEXER_DATA_DIR: dataDir, DATABASE_URL: "" };
}

/** Part 1: revoke receipt -> deny key readable, one revocation at a time. */
async function benchLive(): Promise<{ samples: number[] }> {
  const [chain, redis] = await Promise.all([startChain(), startRedis()]);
  const dataDir = mkdtempSync(join(tmpdir(), "killcord-bench-indexer-"));
  let indexer: RunningIndexer | undefined;
  try {
    progress("live: starting a chain, a Redis and the indexer");
    indexer = await startIndexer({ env: indexerEnv(chain, redis, dataDir), port: await freePort(), output: indexerOutput });
    const kc = await chain.open();
    const agents = await attestMany(kc, revocations + warmup);
    progress(`live: revoking ${agents.length} agents one by one (${warmup} warm-up)`);
    const samples: number[] = [];
    let next = performance.now();
    for (const [i, agent] of agents.entries()) {
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      next = performance.now() + revokeIntervalMs;
      const hash = await kc.walletClient!.writeContract({
        address: kc.deployment.eas,
        abi: easAbi,
        functionName: "revoke",
        args: [{ schema: kc.deployment.agentSchemaUid, data: { uid: agent.uid, value: 0n } }],
      });
      // The receipt as early as a client can have it (automine: the transaction is in a block already).
      while ((await rpc(chain.chain.rpcUrl, "eth_getTransactionReceipt", [hash])) === null);
      const receiptAt = performance.now();
      const key = keys.deny(agent.agentId);
      while ((await redis.client.exists(key)) === 0) {
        if (performance.now() - receiptAt > 10_000) throw new Error(`deny key ${key} did not appear within 10 s`);
      }
      const latency = performance.now() - receiptAt;
      if (i >= warmup) samples.push(latency);
      if (indexerOutput === "stderr") progress(`revocation ${i}: ${latency.toFixed(1)} ms`);
    }
    progress("live: done");
    return { samples };
  } finally {
    await indexer?.stop();
    await Promise.all([redis.close(), chain.close()]);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Part 2: a cold indexer on a chain that already holds the backlog. */
async function benchBacklog(): Promise<{ readyMs: number; mirroredMs: number; denyKeys: number; streamEntries: number }> {
  const [chain, redis] = await Promise.all([startChain(), startRedis()]);
  const dataDir = mkdtempSync(join(tmpdir(), "killcord-bench-indexer-"));
  let indexer: RunningIndexer | undefined;
  try {
    const kc = await chain.open();
    progress(`backlog: attesting ${registered} agents`);
    const agents = await attestMany(kc, registered);
    progress(`backlog: revoking ${revoked}`);
    await revokeMany(
      kc,
      agents.slice(0, revoked).map((a) => a.uid),
    );
    // Past the local chain's 30-block finality window, so that the whole backlog is historical (backfilled)
    // rather than replayed block by block as live blocks.
    await rpc(chain.chain.rpcUrl, "hardhat_mine", ["0x40"]);
    progress("backlog: starting a cold indexer");
    const started = performance.now();
    let mirroredMs = Number.NaN;
    const watch = (async () => {
      while (Number.isNaN(mirroredMs)) {
        if ((await redis.client.xlen(keys.killStream)) >= revoked) mirroredMs = performance.now() - started;
        else await new Promise((r) => setTimeout(r, 20));
      }
    })();
    indexer = await startIndexer({
      env: indexerEnv(chain, redis, dataDir),
      port: await freePort(),
      readyTimeoutMs: 300_000,
      output: indexerOutput,
    });
    const readyMs = performance.now() - started;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      watch,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("the backlog was not mirrored within 300 s")), 300_000);
      }),
    ]).finally(() => clearTimeout(timer));
    progress("backlog: mirrored");
    const pipeline = redis.client.pipeline();
    for (const agent of agents.slice(0, revoked)) pipeline.exists(keys.deny(agent.agentId));
    const denyKeys = ((await pipeline.exec()) ?? []).filter(([, n]) => n === 1).length;
    return { readyMs, mirroredMs, denyKeys, streamEntries: await redis.client.xlen(keys.killStream) };
  } finally {
    await indexer?.stop();
    await Promise.all([redis.close(), chain.close()]);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const live = await benchLive();
const sorted = [...live.samples].sort((a, b) => a - b);
const latency = {
  revocations: sorted.length,
  medianMs: percentile(sorted, 50),
  p95Ms: percentile(sorted, 95),
  minMs: sorted[0] ?? Number.NaN,
  maxMs: sorted[sorted.length - 1] ?? Number.NaN,
};
const backlog = { registered, revoked, ...(await benchBacklog()) };

const ms = (n: number) => `${n.toFixed(1)} ms`;
const verdict = (ok: boolean) => (ok ? "ok" : "MISSED");
const rows: [string, string, string, string][] = [
  ["revoke receipt -> deny key, median", ms(latency.medianMs), "<= 15 ms", verdict(latency.medianMs <= 15)],
  ["revoke receipt -> deny key, p95", ms(latency.p95Ms), "<= 50 ms", verdict(latency.p95Ms <= 50)],
  ["revoke receipt -> deny key, min / max", `${ms(latency.minMs)} / ${ms(latency.maxMs)}`, "", ""],
  [`cold backlog (${registered} registered, ${revoked} revoked): ready`, `${(backlog.readyMs / 1000).toFixed(1)} s`, "", ""],
  [
    "cold backlog: all deny keys mirrored",
    `${(backlog.mirroredMs / 1000).toFixed(1)} s`,
    "<= 60 s",
    verdict(backlog.mirroredMs <= 60_000 && backlog.denyKeys === revoked),
  ],
];
const width = rows.map((r) => r.map((c) => c.length)).reduce((a, b) => a.map((n, i) => Math.max(n, b[i]!)));
console.log(
  `\nKillcord indexer benchmark (${latency.revocations} revocations over WebSocket, one per ${revokeIntervalMs} ms; ${cpus().length} CPUs)\n`,
);
for (const row of [["measure", "result", "target", ""] as (typeof rows)[number], ...rows]) {
  console.log(row.map((c, i) => c.padEnd(width[i]!)).join("  "));
}
if (backlog.denyKeys !== revoked) console.log(`\nWARNING: ${backlog.denyKeys} of ${revoked} deny keys present`);

const result = {
  bench: "indexer",
  at: new Date().toISOString(),
  node: process.version,
  cpus: cpus().length,
  latency: { ...latency, revokeIntervalMs, samplesMs: live.samples },
  backlog,
  targets: { medianMs: 15, p95Ms: 50, backlogMs: 60_000 },
};
const dir = join(packageRoot, "bench", "results");
mkdirSync(dir, { recursive: true });
const file = join(dir, `indexer-${result.at.replace(/[:.]/g, "-")}.json`);
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
console.log(`\nwrote ${file}`);
