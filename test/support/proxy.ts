/**
 * A real Killcord proxy for one test: its own free port, the test's Redis, a temporary PGlite folder, a
 * freshly generated master key, and (when given) the test chain's RPC and deployments. Runs in the test's
 * process (startProxy), so a test can start several instances on one Redis.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type ProxyConfig } from "../../proxy/config.ts";
import { type RunningProxy, startProxy } from "../../proxy/server.ts";
import type { TestChain } from "./chain.ts";
import { freePort } from "./ports.ts";
import type { TestRedis } from "./redis.ts";

export interface TestProxy {
  url: string;
  proxy: RunningProxy;
  config: ProxyConfig;
  /** Environment for the CLI pointed at this proxy (plus the chain's, when given). */
  env: Record<string, string>;
  close(): Promise<void>;
}

export interface TestProxyOptions {
  redis: TestRedis;
  chain?: TestChain;
  /** Extra or overriding KILLCORD_* variables. */
  env?: Record<string, string>;
}

export async function startTestProxy(options: TestProxyOptions): Promise<TestProxy> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "killcord-proxy-"));
  const env: Record<string, string> = {
    KILLCORD_PROXY_HOST: "127.0.0.1",
    KILLCORD_PROXY_PORT: String(port),
    KILLCORD_PUBLIC_URL: `http://127.0.0.1:${port}`,
    KILLCORD_REDIS_URL: options.redis.url,
    KILLCORD_DATA_DIR: dataDir,
    KILLCORD_MASTER_KEY: randomBytes(32).toString("hex"),
    KILLCORD_LOG_LEVEL: process.env.KILLCORD_TEST_LOG_LEVEL ?? "silent",
    KILLCORD_SHUTDOWN_GRACE_MS: "2000",
    ...(options.chain === undefined
      ? {}
      : {
          KILLCORD_RPC_URL: options.chain.chain.rpcUrl,
          KILLCORD_DEPLOYMENTS_DIR: options.chain.deploymentsDir,
          KILLCORD_CHAIN_ID: String(options.chain.deployment.chainId),
        }),
    ...options.env,
  };
  const config = loadConfig(env);
  let proxy: RunningProxy;
  try {
    proxy = await startProxy(config);
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: proxy.url,
    proxy,
    config,
    env: { ...(options.chain?.env ?? {}), KILLCORD_PROXY_URL: proxy.url },
    async close() {
      await proxy.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
