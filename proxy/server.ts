/**
 * Starts a proxy: opens Redis (gate connection + kill-stream tail), the durable store and the upstream
 * pool, builds the app and listens. Shutdown lives here, in one place and in order: stop taking requests,
 * let in-flight calls and streams finish (up to the grace period, then cut them), stop the kill tail, close
 * the upstream pool, quit Redis, close the database.
 */
import type { FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import { buildApp } from "./app.ts";
import { type ProxyConfig, redactedConfig } from "./config.ts";
import { followDirectoryChanges } from "./control/directoryFeed.ts";
import { createProviderDirectory } from "./control/providerDirectory.ts";
import { openDb } from "./db/index.ts";
import { type Breach, createGate } from "./gate/gate.ts";
import { announceTrip } from "./gate/gateHook.ts";
import { LocalDenySet } from "./gate/localDenySet.ts";
import { ScriptConnection } from "./gate/scriptConnection.ts";
import { UsageMeter } from "./guardrails/usageMeter.ts";
import { type KillListener, startKillListener } from "./killListener/killListener.ts";
import { createMetrics } from "./metrics/metrics.ts";
import { InFlight } from "./upstream/inFlight.ts";
import { refreshingDirectory } from "./upstream/refreshingDirectory.ts";
import { Agent } from "./upstream/undici.ts";

export interface RunningProxy {
  url: string;
  app: FastifyInstance;
  /** Graceful shutdown (idempotent). */
  close(): Promise<void>;
}

const startupWaitMs = 5000;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Resolves when the client is ready, or after `ms` (the proxy still starts; the gate fails closed meanwhile). */
function readyWithin(redis: Redis, ms: number): Promise<boolean> {
  if (redis.status === "ready") return Promise.resolve(true);
  return Promise.race([new Promise<boolean>((resolve) => redis.once("ready", () => resolve(true))), delay(ms).then(() => false)]);
}

export interface StartOptions {
  /** Where structured logs go (default stdout). The CLI uses stderr with --json so stdout stays one object. */
  logStream?: NodeJS.WritableStream;
}

export async function startProxy(config: ProxyConfig, options: StartOptions = {}): Promise<RunningProxy> {
  // The gate's connection: no offline queue and no retries, so a Redis outage answers GATE_UNAVAILABLE at
  // once instead of queueing requests; reconnects forever in the background.
  const redis = new Redis(config.redisUrl, {
    connectionName: "killcord-proxy",
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: config.gateTimeoutMs,
    enableAutoPipelining: true,
    retryStrategy: (attempt) => Math.min(50 * attempt, 1000),
  });
  // The kill-stream tail blocks in XREAD: a connection of its own, without the gate's command deadline.
  const tail = redis.duplicate({
    connectionName: "killcord-proxy-kills",
    commandTimeout: undefined,
    enableAutoPipelining: false,
  });
  let db: Awaited<ReturnType<typeof openDb>>;
  try {
    db = await openDb(config);
  } catch (error) {
    redis.disconnect();
    tail.disconnect();
    throw error;
  }

  const metrics = createMetrics();
  const localDeny = new LocalDenySet();
  const inFlight = new InFlight({ timeoutMs: config.upstreamTimeoutMs });
  metrics.inFlight(() => inFlight.size);
  // PGlite serves one process, so every change to a connection goes through this instance's control plane,
  // which invalidates the cache: entries can live long. With Postgres, other instances change connections
  // too and announce it (NOTIFY), which invalidates here (directoryFeed.ts, subscribed below): entries live
  // minutes too, their freshness only a safety net, jittered per entry so that refreshes never fall on one
  // beat. Either way requests never wait for a refresh (refreshingDirectory.ts).
  const embedded = config.databaseUrl === undefined;
  const directory = refreshingDirectory(
    // The refreshing layer is the cache: the inner directory only loads, decrypts and merges concurrent loads
    // (no second cached copy of every provider key, with its own expiry, behind the first).
    createProviderDirectory(db, config.masterKey, { ttlMs: 0 }),
    embedded ? { freshMs: 600_000, staleMs: 600_000 } : { freshMs: 300_000, staleMs: 300_000, jitter: 0.5 },
  );
  // The gate's hot path has a connection of its own (scriptConnection.ts): ioredis costs several times more
  // CPU per call. It also fails at once while disconnected and replaces itself past gateTimeoutMs.
  let onGateStatus: (ready: boolean, error?: Error) => void = () => {};
  const scripts = new ScriptConnection({
    url: config.redisUrl,
    timeoutMs: config.gateTimeoutMs,
    onStatus: (ready, error) => onGateStatus(ready, error),
  });
  const gate = createGate({ scripts, localDeny, failOpen: config.failOpen });
  metrics.gateBatching(() => scripts.stats);
  // Assigned once the app (and its logger) exists; trips before that cannot happen (no requests yet).
  let onTrip: (agentId: string, provider: string, breach: Breach) => void = () => {};
  let onUsageError: (error: unknown) => void = () => {};
  const usage = new UsageMeter({
    sink: gate,
    flushMs: config.meterFlushMs,
    onTrip: (agentId, provider, breach) => onTrip(agentId, provider, breach),
    onError: (error) => onUsageError(error),
  });
  const dispatcher = new Agent({
    connections: config.upstreamConnections,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 600_000,
    connect: { timeout: 10_000 },
  });
  let shuttingDown = false;

  let killListener: KillListener | undefined;
  const app = await buildApp({
    config,
    redis,
    db,
    directory,
    gate,
    usage,
    inFlight,
    metrics,
    dispatcher,
    isShuttingDown: () => shuttingDown,
    gateReady: () => scripts.ready,
    logStream: options.logStream,
    killStreamReady: () => killListener?.loaded === true && killListener.healthy,
  });
  const log = app.log;
  onTrip = (agentId, provider, breach) => announceTrip({ redis, metrics }, log, agentId, provider, "BUDGET_EXCEEDED", breach);
  let usageErrorLogged = false;
  onUsageError = (error) => {
    if (!usageErrorLogged)
      log.warn(
        { err: { message: (error as Error).message } },
        "usage (spend, request counts) not yet written to Redis; kept for the next flush",
      );
    usageErrorLogged = true;
  };

  onGateStatus = (ready, error) => {
    if (ready) log.info("gate connection to redis ready");
    else log.warn({ err: { message: error?.message } }, "gate connection to redis lost: the gate answers GATE_UNAVAILABLE");
  };
  let redisDown = false;
  redis.on("error", (err) => {
    if (!redisDown) log.warn({ err: { message: err.message } }, "redis unreachable: the gate answers GATE_UNAVAILABLE");
    redisDown = true;
  });
  redis.on("ready", () => {
    if (redisDown) log.info("redis reachable again");
    redisDown = false;
  });
  tail.on("error", () => {
    // Reported by the kill listener itself (once per outage).
  });

  // Before listening, so that no connection is cached before changes are followed; db.close() stops it.
  await followDirectoryChanges(db, directory, log);

  // Started before listening, so that (when Redis is up) no request is served before the stream is loaded.
  killListener = startKillListener({
    redis: tail,
    localDeny,
    inFlight,
    suspendTtlMs: config.suspendTtlSeconds * 1000,
    log,
    onEntry: (_agentId, _code, aborted) => metrics.killEntry(aborted),
  });

  if (config.masterKeyGenerated) {
    log.warn(
      { dataDir: config.dataDir },
      "local stack: using a generated master key from the data folder; set KILLCORD_MASTER_KEY in production",
    );
  }
  if (config.failOpen) log.warn("KILLCORD_GATE_FAIL_OPEN is set: requests pass unchecked by Redis while it is unreachable");
  const [clientReady, gateUp] = await Promise.all([readyWithin(redis, startupWaitMs), scripts.waitReady(startupWaitMs)]);
  if (!clientReady || !gateUp) log.warn("redis not reachable at start: the gate fails closed until it is");
  await Promise.race([killListener.ready.catch(() => {}), delay(startupWaitMs)]);

  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await killListener.stop();
    await app.close();
    await dispatcher.close();
    await scripts.close();
    redis.disconnect();
    await db.close();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : config.port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const url = `http://${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${port}`;
  log.info({ url, config: redactedConfig(config) }, "killcord proxy listening");

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      shuttingDown = true;
      log.info({ inFlight: inFlight.size }, "shutting down: draining");
      // Stop accepting connections; idle keep-alive sockets close now, busy ones when their response ends.
      const deadline = Date.now() + config.shutdownGraceMs;
      const serverClosed = app.close();
      const drained = await Promise.race([inFlight.drained().then(() => true), delay(config.shutdownGraceMs).then(() => false)]);
      if (!drained) {
        const cut = inFlight.abortAll("SHUTTING_DOWN");
        log.warn({ cut }, "grace period over: cutting in-flight requests");
        // Cut streams write their final error event asynchronously: let them, briefly, before closing sockets.
        await Promise.race([inFlight.drained(), delay(1000)]);
      }
      // A socket that never finished sending a request is not "idle" to Node and would hold the server open
      // until its headers timeout: past the grace period, close whatever is left.
      const closed = await Promise.race([
        serverClosed.then(() => true),
        delay(Math.max(deadline - Date.now(), 100)).then(() => false),
      ]);
      if (!closed) app.server.closeAllConnections();
      await serverClosed;
      inFlight.close();
      await killListener.stop();
      await usage.close().catch(() => {});
      await scripts.close();
      await dispatcher.close().catch(() => dispatcher.destroy());
      await redis.quit().catch(() => redis.disconnect());
      await db.close();
    })();
    return closing;
  };
  return { url, app, close };
}
