/**
 * Liveness and readiness. `/healthz`: the process serves HTTP. `/readyz`: this instance can decide requests
 * (Redis answers, the kill stream is loaded and tailed, the durable store answers) and is not draining.
 * Each check has a short deadline so a hung dependency reads as "not ready", not as a hung probe.
 */
import type {} from "@fastify/swagger";
import type { FastifyPluginAsync } from "fastify";
import type { Redis } from "ioredis";
import type { Db } from "../db/index.ts";

export interface HealthOptions {
  redis: Redis;
  db: Db;
  /** The gate's own Redis connection is up. */
  gateReady(): boolean;
  /** The kill stream is loaded and tailed. */
  killStreamReady(): boolean;
  isShuttingDown(): boolean;
  /** Deadline of each readiness check, ms. */
  checkTimeoutMs?: number;
}

async function within(ms: number, work: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => false,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const statusSchema = {
  type: "object",
  properties: {
    status: { type: "string" },
    checks: {
      type: "object",
      properties: {
        redis: { type: "boolean" },
        killStream: { type: "boolean" },
        db: { type: "boolean" },
        draining: { type: "boolean" },
      },
    },
  },
} as const;

export const health: FastifyPluginAsync<HealthOptions> = async (app, options) => {
  const timeoutMs = options.checkTimeoutMs ?? 1000;
  app.get("/healthz", { schema: { hide: true, response: { 200: statusSchema } } }, async () => ({ status: "ok" }));
  app.get("/readyz", { schema: { hide: true, response: { 200: statusSchema, 503: statusSchema } } }, async (_request, reply) => {
    const [redis, db] = await Promise.all([
      within(timeoutMs, options.redis.ping()),
      within(timeoutMs, options.db.query("SELECT 1")),
    ]);
    const checks = {
      redis: redis && options.gateReady(),
      killStream: options.killStreamReady(),
      db,
      draining: options.isShuttingDown(),
    };
    const ready = checks.redis && checks.killStream && checks.db && !checks.draining;
    reply.code(ready ? 200 : 503).header("cache-control", "no-store");
    return { status: ready ? "ready" : "not ready", checks };
  });
};
