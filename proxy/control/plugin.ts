/**
 * The control plane as one fastify plugin: every `/v1/...` operator route (sign-in, API keys, agents,
 * credentials, provider connections, Tier 1/2, guardrails) and the OpenAPI description at /docs. The data
 * plane's app registers it; it is encapsulated (its error handler, validator, JSON parser and auth hook apply
 * to its own routes only).
 */
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { Redis } from "ioredis";
import type { ProxyConfig } from "../config.ts";
import type { Db } from "../db/index.ts";
import { authenticate, authorize } from "./auth/apiKeys.ts";
import type { ControlContext } from "./context.ts";
import { ControlError } from "./errors.ts";
import { type ChainReader, createChainReader } from "./onchain.ts";
import type { ProviderDirectory } from "./providerDirectory.ts";
import { restoreGateStateIfLost } from "./restoreGateState.ts";
import { agentRoutes } from "./routes/agents.ts";
import { authRoutes } from "./routes/auth.ts";
import { credentialRoutes } from "./routes/credentials.ts";
import { guardrailRoutes } from "./routes/guardrails.ts";
import { keyRoutes } from "./routes/keys.ts";
import type { RouteAccess } from "./routes/principal.ts";
import { setPrincipal } from "./routes/principal.ts";
import { providerRoutes } from "./routes/providers.ts";
import { zodValidator } from "./schemas.ts";

export interface ControlPlaneOptions {
  db: Db;
  redis: Redis;
  config: ProxyConfig;
  directory: ProviderDirectory;
  /** The chain the agents live on; built from config (rpcUrl, deploymentsDir, chainId) when absent. */
  chain?: ChainReader;
}

/** Operator API bodies are small; the data plane's larger limit is for proxied requests. */
const controlBodyLimit = 64 * 1024;

const databaseDown = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|57P0[1-3]|08\d{3})$/;

function toControlError(error: FastifyError | Error): ControlError {
  if (error instanceof ControlError) return error;
  const e = error as FastifyError & { code?: string };
  if (e.code === "FST_ERR_CTP_BODY_TOO_LARGE") return new ControlError("BODY_TOO_LARGE");
  if (e.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") return new ControlError("UNSUPPORTED_MEDIA_TYPE");
  if (e.validation !== undefined) return new ControlError("VALIDATION_FAILED", { message: e.message });
  if (typeof e.code === "string" && databaseDown.test(e.code)) return new ControlError("DATABASE_UNAVAILABLE", { cause: error });
  if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    return new ControlError("BAD_REQUEST", { message: e.message });
  }
  return new ControlError("INTERNAL_ERROR", { cause: error });
}

/** Waits (bounded) for the connection at start; the control plane still starts when Redis is down. */
function readyWithin(redis: Redis, ms: number): Promise<void> {
  if (redis.status === "ready") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off("ready", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    redis.on("ready", done);
  });
}

export const controlPlane: FastifyPluginAsync<ControlPlaneOptions> = async (app, opts) => {
  // The control plane's own Redis connection, without an offline queue: a write while Redis is down fails
  // at once (503) instead of waiting in a queue and landing later, after the API has answered.
  const redis = opts.redis.duplicate({ enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  redis.on("error", () => {
    // Reconnection is automatic; each refused write answers REDIS_UNAVAILABLE.
  });
  // Whenever the connection comes (back) up, restore the gate's state if Redis lost it.
  let restoring: Promise<void> | undefined;
  let restoreAgain = false;
  const restore = () => {
    if (restoring !== undefined) {
      restoreAgain = true;
      return;
    }
    restoring = (async () => {
      do {
        restoreAgain = false;
        try {
          const result = await restoreGateStateIfLost(opts.db, redis);
          if (result !== undefined)
            app.log.warn(result, "Redis had lost the control plane's state: restored it from the durable store");
        } catch (error) {
          app.log.error({ err: error }, "could not restore the gate's state from the durable store");
        }
      } while (restoreAgain);
    })().finally(() => {
      restoring = undefined;
    });
  };
  redis.on("ready", restore);
  app.addHook("onClose", async () => {
    await restoring;
    redis.disconnect();
  });
  await readyWithin(redis, 2_000);
  const ctx: ControlContext = {
    db: opts.db,
    redis,
    config: opts.config,
    directory: opts.directory,
    chain: opts.chain ?? createChainReader(opts.config),
    log: app.log,
    now: () => Date.now(),
  };

  // JSON only, with fastify's prototype-poisoning protection, whatever parsers the data plane registered.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    "application/json",
    { parseAs: "string", bodyLimit: controlBodyLimit },
    app.getDefaultJsonParser("error", "error"),
  );
  app.setValidatorCompiler(zodValidator);

  // Every route in this context is either the OpenAPI description (/docs, public) or an operator route with
  // an access rule. Checked on registration (fail at start) and on each request (never public by omission).
  const isDocs = (url: string | undefined) => url === "/docs" || (url?.startsWith("/docs/") ?? false);

  app.addHook("onRoute", (route) => {
    if (isDocs(route.url)) return;
    const access = (route.config as unknown as RouteAccess | undefined)?.access;
    if (access === undefined) throw new Error(`control-plane route ${route.method} ${route.url} has no access rule`);
    route.bodyLimit = controlBodyLimit;
    if (access !== "public") {
      route.schema = { ...route.schema, security: [{ operatorKey: [] }] };
    }
  });

  app.addHook("onRequest", async (request: FastifyRequest) => {
    const access = (request.routeOptions.config as unknown as RouteAccess | undefined)?.access;
    if (access === undefined) {
      if (isDocs(request.routeOptions.url)) return;
      throw new ControlError("INTERNAL_ERROR");
    }
    if (access === "public") return;
    const principal = await authenticate(ctx.db, request);
    authorize(principal, access);
    setPrincipal(request, principal);
  });

  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const controlError = toControlError(error);
    if (controlError.status >= 500) {
      request.log.error({ err: controlError.cause ?? error, code: controlError.code }, "control-plane request failed");
    }
    reply.code(controlError.status).send(controlError.toJSON());
  });

  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "Killcord proxy: operator API",
        description:
          "Operators sign in with their wallet (EIP-4361), link their onchain agents, issue agent credentials, add provider " +
          "connections, and flip Tier 1 (per provider) and Tier 2 (per agent) switches and guardrails. Errors answer " +
          '`{ "error": { "code", "message", "details"? } }` with a stable code.',
        version: "1",
      },
      servers: [{ url: opts.config.publicUrl }],
      components: {
        securitySchemes: {
          operatorKey: {
            type: "http",
            scheme: "bearer",
            description: "an operator API key (kco_...) from /v1/auth/login or /v1/keys",
          },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });

  authRoutes(app, ctx);
  keyRoutes(app, ctx);
  agentRoutes(app, ctx);
  credentialRoutes(app, ctx);
  providerRoutes(app, ctx);
  guardrailRoutes(app, ctx);
};
