import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { packageRoot } from "./artifacts.ts";

const require = createRequire(import.meta.url);

export interface LocalChain {
  rpcUrl: string;
  wsUrl: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Polls eth_chainId until the node answers or the deadline passes. */
export async function waitForRpc(rpcUrl: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      });
      if (res.ok) return;
      lastError = new Error(`HTTP ${res.status}`);
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the local chain at ${rpcUrl} did not answer within ${timeoutMs} ms`, { cause: lastError });
}

/**
 * Starts `hardhat node` on 127.0.0.1:port (JSON-RPC and WebSocket on the same port). The Hardhat bin is run
 * with node directly, not through npx, so the PID we hold is the node's own.
 */
export async function startLocalChain(options: { port: number; quiet?: boolean }): Promise<LocalChain> {
  const cli = join(dirname(require.resolve("hardhat/package.json", { paths: [packageRoot] })), "dist/src/cli.js");
  const child = spawn(process.execPath, [cli, "node", "--hostname", "127.0.0.1", "--port", String(options.port)], {
    cwd: packageRoot,
    stdio: ["ignore", options.quiet === false ? "inherit" : "ignore", "pipe"],
    env: { ...process.env, HARDHAT_DISABLE_TELEMETRY_PROMPT: "true" },
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const rpcUrl = `http://127.0.0.1:${options.port}`;
  const exited = once(child, "exit").then(([code]) => {
    throw new Error(`hardhat node exited with code ${code}: ${stderr.trim().slice(-2000)}`);
  });
  exited.catch(() => {});
  await Promise.race([waitForRpc(rpcUrl, 60_000), exited]);
  return {
    rpcUrl,
    wsUrl: `ws://127.0.0.1:${options.port}`,
    port: options.port,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = once(child, "exit");
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await done;
      clearTimeout(timer);
    },
  };
}
