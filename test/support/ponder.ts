import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningIndexer, startIndexer } from "../../indexer/lib/startIndexer.ts";
import type { TestChain } from "./chain.ts";
import { freePort } from "./ports.ts";
import type { TestRedis } from "./redis.ts";

/** A real indexer (`ponder start` on indexer/) for one test file: its own PGlite folder and port. */
export interface TestIndexer {
  url: string;
  port: number;
  dataDir: string;
  /** The running process (replaced by each restart). */
  current(): RunningIndexer;
  /** Everything Ponder printed so far (for assertions on its log lines and for debugging). */
  output(): string;
  /** Graceful stop; `start` brings it back on the same database and port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Polls Ponder's /status until the chain is indexed up to `block`, mining a block when the node idles. */
  waitForBlock(block: bigint | number, timeoutMs?: number): Promise<void>;
  /** Stops it and removes its database folder. */
  close(): Promise<void>;
}

export interface StartPonderOptions {
  /** Extra environment (e.g. a short KILLCORD_INDEXER_RECONCILE_MS). */
  env?: Record<string, string>;
}

async function rpc(url: string, method: string, params: unknown[] = []): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  return ((await res.json()) as { result: unknown }).result;
}

/** Starts the indexer against a test chain and a test Redis and waits on its /ready. */
export async function startPonder(chain: TestChain, redis: TestRedis, options: StartPonderOptions = {}): Promise<TestIndexer> {
  const dataDir = mkdtempSync(join(tmpdir(), "killcord-indexer-"));
  const port = await freePort();
  const env = {
    ...process.env,
    ...chain.env,
    REDIS_URL: redis.url,
    KILLCORD_INDEXER_DATA_DIR: dataDir,
    DATABASE_URL: "",
    ...options.env,
  };
  let running: RunningIndexer | undefined;
  let previousOutput = "";
  const start = async () => {
    running = await startIndexer({ env, port, output: "pipe" });
  };
  const stop = async () => {
    if (running === undefined) return;
    await running.stop();
    previousOutput += `${running.output()}\n`;
    running = undefined;
  };
  await start();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    current: () => {
      if (running === undefined) throw new Error("the test indexer is stopped");
      return running;
    },
    output: () => previousOutput + (running?.output() ?? ""),
    stop,
    start,
    async restart() {
      await stop();
      await start();
    },
    async waitForBlock(block, timeoutMs = 30_000) {
      const target = Number(block);
      const deadline = Date.now() + timeoutMs;
      let idle = 0;
      for (;;) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/status`);
          const status = (await res.json()) as Record<string, { block: { number: number } }>;
          if ((status.chain?.block.number ?? -1) >= target) return;
        } catch {
          // restarting
        }
        if (Date.now() > deadline) throw new Error(`the indexer did not reach block ${target} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 25));
        // With automine a block can wait for the next one to be indexed: nudge the node now and then.
        if (++idle % 40 === 0) await rpc(chain.chain.rpcUrl, "evm_mine");
      }
    },
    async close() {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
