/**
 * The proxy's fastify app, built from parts that server.ts opens: health, metrics, the data plane route and
 * the control plane's `/v1` API. Each concern is its own encapsulated plugin.
 */
import fastify, { type FastifyInstance, LogController } from "fastify";
import type { Redis } from "ioredis";
import type { Dispatcher } from "undici";
import type { ProxyConfig } from "./config.ts";
import { controlPlane } from "./control/plugin.ts";
import type { ProviderDirectory } from "./control/providerDirectory.ts";
import type { Db } from "./db/index.ts";
import { errorBody } from "./errors.ts";
import type { Gate } from "./gate/gate.ts";
import type { UsageMeter } from "./guardrails/usageMeter.ts";
import { health } from "./health/plugin.ts";
import type { ProxyMetrics } from "./metrics/metrics.ts";
import { metricsRoute } from "./metrics/plugin.ts";
import type { InFlight } from "./upstream/inFlight.ts";
import { dataPlane } from "./upstream/plugin.ts";

export interface AppParts {
  config: ProxyConfig;
  redis: Redis;
  db: Db;
  directory: ProviderDirectory;
  gate: Gate;
  usage: UsageMeter;
  inFlight: InFlight;
  /** The kill stream is loaded and tailed (readiness). */
  killStreamReady(): boolean;
  metrics: ProxyMetrics;
  dispatcher: Dispatcher;
  isShuttingDown(): boolean;
  /** The gate's Redis connection is up. */
  gateReady(): boolean;
  /** Log destination (default stdout). */
  logStream?: NodeJS.WritableStream;
}

/** Never log a request's headers or query string: credentials and keys travel there. */
const serializers = {
  req(request: { method: string; url: string; id: string }) {
    const q = request.url.indexOf("?");
    return { method: request.method, path: q < 0 ? request.url : request.url.slice(0, q), id: request.id };
  },
};

export async function buildApp(parts: AppParts): Promise<FastifyInstance> {
  const { config } = parts;
  const app = fastify({
    logger: {
      level: config.logLevel,
      ...(parts.logStream === undefined ? {} : { stream: parts.logStream }),
      serializers,
      redact: { paths: ["req.headers", "headers.authorization", 'headers["x-api-key"]', "apiKey", "masterKey"], censor: "***" },
    },
    // One access line per request halves throughput; outcomes are in /metrics, denials and failures are logged.
    logController: new LogController({ disableRequestLogging: true }),
    // Draining is answered by our own hook with a stable code.
    return503OnClosing: false,
    forceCloseConnections: "idle",
    bodyLimit: config.maxBodyBytes,
    // Upstream responses can take minutes; the server must not cut them.
    requestTimeout: 0,
  });

  // A callback hook, not an async one: it runs on every request, and an async hook costs a promise each time.
  app.addHook("onRequest", (_request, reply, done) => {
    if (!parts.isShuttingDown()) return done();
    reply
      .code(503)
      .header("connection", "close")
      .header("content-type", "application/json; charset=utf-8")
      .header("retry-after", "1")
      .send(errorBody("SHUTTING_DOWN"));
  });

  app.setNotFoundHandler((_request, reply) => {
    reply.code(404).header("content-type", "application/json; charset=utf-8").send(errorBody("NOT_FOUND"));
  });

  await app.register(health, {
    redis: parts.redis,
    db: parts.db,
    killStreamReady: parts.killStreamReady,
    gateReady: parts.gateReady,
    isShuttingDown: parts.isShuttingDown,
  });
  await app.register(metricsRoute, { metrics: parts.metrics });
  await app.register(controlPlane, { db: parts.db, redis: parts.redis, config, directory: parts.directory });
  await app.register(dataPlane, {
    gate: parts.gate,
    usage: parts.usage,
    directory: parts.directory,
    inFlight: parts.inFlight,
    dispatcher: parts.dispatcher,
    redis: parts.redis,
    metrics: parts.metrics,
    config,
    maxBodyBytes: config.maxBodyBytes,
  });
  return app;
}
