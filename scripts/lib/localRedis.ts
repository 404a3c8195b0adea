import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { CliError } from "./errors.ts";

/** The Redis the local stack uses: one named by REDIS_URL, one already on 6379, or a throwaway one it started. */
export interface LocalRedis {
  url: string;
  /** How it was found: "env" (REDIS_URL), "running" (127.0.0.1:6379), "started" (a throwaway redis-server). */
  origin: "env" | "running" | "started";
  /** Stops the throwaway server (nothing for the others). */
  stop(): Promise<void>;
}

/** Whether something accepts TCP connections on host:port within `timeoutMs`. */
export function isListening(port: number, host = "127.0.0.1", timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

function onPath(binary: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

async function waitForPong(port: number, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    if (await isListening(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on port ${port} did not start within ${timeoutMs} ms`);
}

/**
 * Finds a Redis for the local stack: REDIS_URL when set; else the one listening on 127.0.0.1:6379; else a
 * throwaway `redis-server` on 6379 (no persistence, removed on stop) when one is on PATH; else a CliError
 * that explains how to get Redis.
 */
export async function localRedis(env: NodeJS.ProcessEnv = process.env): Promise<LocalRedis> {
  const nothing = async () => {};
  if (env.REDIS_URL !== undefined && env.REDIS_URL !== "") return { url: env.REDIS_URL, origin: "env", stop: nothing };
  const url = "redis://127.0.0.1:6379";
  if (await isListening(6379)) return { url, origin: "running", stop: nothing };
  const binary = onPath("redis-server", env);
  if (binary === undefined) {
    throw new CliError(
      "INVALID_ARGUMENT",
      "the local stack needs Redis: set REDIS_URL to one, start one on 127.0.0.1:6379 (e.g. `docker run -p 6379:6379 redis:7`), or install redis-server (`apt-get install redis-server`, `brew install redis`) so that `npm start` can run a throwaway one",
    );
  }
  const dir = mkdtempSync(join(tmpdir(), "killcord-redis-"));
  const child = spawn(binary, ["--port", "6379", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], {
    stdio: "ignore",
  });
  try {
    await waitForPong(6379, child);
  } catch (error) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    origin: "started",
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, "exit");
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
