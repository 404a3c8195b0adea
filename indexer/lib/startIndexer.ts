/**
 * Starts the indexer (`ponder start` on indexer/) as a child process and waits until it is ready: what
 * `killcord indexer`, `npm start` and the tests share. Before spawning it checks what would otherwise fail
 * deep inside Ponder (no deployment, a reset chain, a database or Redis filled from another chain instance)
 * and refuses with a CliError that says what to do.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import type { Deployment } from "../../scripts/lib/deployments.ts";
import { CliError } from "../../scripts/lib/errors.ts";
import { type ChainIdentity, checkDatabaseIdentity, checkRedisIdentity, resolveDeployment } from "./chainIdentity.ts";
import { type IndexerSettings, indexerRoot, loadSettings, redactUrl } from "./settings.ts";

export interface StartIndexerOptions {
  /** Environment for the indexer (settings are read from it); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** HTTP port of the status API, GraphQL and /ready. Default 42069. */
  port?: number;
  /** Interface to listen on. Default "127.0.0.1". */
  host?: string;
  /**
   * "inherit" prints Ponder's output (the CLI), "stderr" prints it to stderr (the CLI with --json), "pipe"
   * only keeps the last lines for errors (tests). Default "pipe".
   */
  output?: "inherit" | "stderr" | "pipe";
  /** How long to wait for /ready, in milliseconds. Default 180000. */
  readyTimeoutMs?: number;
  /**
   * Take over a Redis whose recorded instance of this chain id is another one (the local stack resets its own
   * chain on every start). Never for a real chain. Default false.
   */
  replaceRedisChainIdentity?: boolean;
  /** Progress lines for the operator. */
  progress?: (line: string) => void;
}

export interface RunningIndexer {
  url: string;
  port: number;
  settings: IndexerSettings;
  identity: ChainIdentity;
  deployment: Deployment;
  process: ChildProcess;
  /** The last lines Ponder printed (with output "pipe"). */
  output(): string;
  /** Resolves when the process exits, with its exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Graceful stop (SIGTERM: Ponder unlocks its database), SIGKILL after 15 s. */
  stop(): Promise<void>;
}

/** Checks Redis before starting; an unreachable Redis is not fatal (the reconciler fills it when it comes up). */
async function preflightRedis(settings: IndexerSettings, identity: ChainIdentity, options: StartIndexerOptions) {
  const redis = new Redis(settings.redisUrl, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    retryStrategy: () => null,
  });
  redis.on("error", () => {});
  try {
    await redis.connect();
  } catch {
    options.progress?.(
      `Redis ${redactUrl(settings.redisUrl)} is not reachable yet: the indexer starts anyway and mirrors every deny key once it is`,
    );
    redis.disconnect();
    return;
  }
  try {
    const result = await checkRedisIdentity(redis, identity, {
      replace: options.replaceRedisChainIdentity === true,
      redisUrl: settings.redisUrl,
    });
    if (result === "replaced") {
      options.progress?.(
        `Redis ${redactUrl(settings.redisUrl)} mirrored an earlier instance of local chain ${identity.chainId}: taken over for this one (the old deny keys stay)`,
      );
    }
  } finally {
    redis.disconnect();
  }
}

/** Fails unless host:port can be bound now (else /ready could be answered by whatever holds the port). */
async function requireFreePort(host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new CliError(
          "INVALID_ARGUMENT",
          error.code === "EADDRINUSE" ? `port ${port} on ${host} is already in use: pick another with --port` : error.message,
        ),
      ),
    );
    server.listen(port, host, () => server.close(() => resolve()));
  });
}

async function waitReady(url: string, deadline: number, exited: Promise<number | null>): Promise<void> {
  let stop = false;
  const exit = exited.then((code) => {
    stop = true;
    return code;
  });
  while (!stop && Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await Promise.race([new Promise((r) => setTimeout(r, 200)), exit]);
  }
  if (stop) throw new Error("exited");
  throw new Error("timeout");
}

export async function startIndexer(options: StartIndexerOptions = {}): Promise<RunningIndexer> {
  const env = { ...(options.env ?? process.env) };
  let settings: IndexerSettings;
  try {
    settings = loadSettings(env);
  } catch (error) {
    throw new CliError("INVALID_ARGUMENT", (error as Error).message);
  }
  const { identity, deployment } = await resolveDeployment(settings);
  await checkDatabaseIdentity(settings, identity);
  await preflightRedis(settings, identity, options);

  const port = options.port ?? 42069;
  const host = options.host ?? "127.0.0.1";
  await requireFreePort(host, port);
  // ponder's package exports only its ESM entry (dist/esm/index.js); the CLI sits beside it.
  const bin = fileURLToPath(new URL("bin/ponder.js", import.meta.resolve("ponder")));
  const output = options.output ?? "pipe";
  const child = spawn(
    process.execPath,
    [bin, "start", "--root", indexerRoot, "--port", String(port), "--hostname", host, "--log-format", "pretty"],
    {
      cwd: indexerRoot,
      stdio:
        output === "inherit"
          ? ["ignore", "inherit", "inherit"]
          : output === "stderr"
            ? ["ignore", process.stderr, process.stderr]
            : ["ignore", "pipe", "pipe"],
      env: {
        ...env,
        PONDER_TELEMETRY_DISABLED: "1",
        DATABASE_SCHEMA: settings.databaseSchema,
        // Ponder reads PORT before --port; ours must win.
        PORT: String(port),
      },
    },
  );
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) {
      if (line.trim() === "") continue;
      lines.push(line);
      if (lines.length > 400) lines.shift();
    }
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = once(child, "exit").then(([code]) => code as number | null);
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  };

  options.progress?.(`starting the indexer for chain ${identity.chainId} on ${url} ...`);
  try {
    await waitReady(url, Date.now() + (options.readyTimeoutMs ?? 180_000), exited);
  } catch (error) {
    await stop();
    const tail = lines.slice(-30).join("\n");
    const refusal = lines.find((l) => /WRONG_CHAIN|NOT_DEPLOYED|RPC_UNREACHABLE|invalid indexer settings/.test(l));
    const why = (error as Error).message === "exited" ? `exited with code ${child.exitCode}` : "did not become ready in time";
    throw new Error(`the indexer ${why}${refusal === undefined ? "" : `: ${refusal.trim()}`}${tail === "" ? "" : `\n${tail}`}`);
  }
  return {
    url,
    port,
    settings,
    identity,
    deployment,
    process: child,
    output: () => lines.join("\n"),
    exited,
    stop,
  };
}
