/**
 * The data plane route: `/<provider>/<path>` for every method, gated in onRequest (before the body is read)
 * and forwarded by the handler. Encapsulated: its raw-body parser and error mapping do not leak into the
 * control plane's routes.
 */
import type { FastifyError, FastifyPluginAsync } from "fastify";
import type { Redis } from "ioredis";
import type { ProviderDirectory } from "../control/providerDirectory.ts";
import type { ProxyErrorCode } from "../errors.ts";
import type { Gate } from "../gate/gate.ts";
import { createGateHook, sendError } from "../gate/gateHook.ts";
import { createForwardHandler, type ForwardDeps } from "./forward.ts";

export interface DataPlaneOptions extends ForwardDeps {
  directory: ProviderDirectory;
  gate: Gate;
  /** For guardrail-trip events. */
  redis: Redis;
  maxBodyBytes: number;
}

const methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

export const dataPlane: FastifyPluginAsync<DataPlaneOptions> = async (app, options) => {
  app.decorateRequest("killcordCall", null);
  // Bodies are forwarded as the agent sent them: keep bytes, never parse (JSON.parse costs and reorders).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: options.maxBodyBytes }, (_request, body, done) =>
    done(null, body),
  );

  app.setErrorHandler((error: FastifyError, request, reply) => {
    let code: ProxyErrorCode = "INTERNAL_ERROR";
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") code = "REQUEST_TOO_LARGE";
    else if (typeof error.statusCode === "number" && error.statusCode >= 400 && error.statusCode < 500) code = "INVALID_REQUEST";
    if (code === "INTERNAL_ERROR") request.log.error({ err: error }, "data plane error");
    return sendError(reply, code);
  });

  app.route({
    method: [...methods],
    url: "/:provider/*",
    // Data plane requests log with the parent logger: a pino child per request (only to bind the request id)
    // costs an object graph per call, and these logs carry agentId, provider and code instead.
    childLoggerFactory: (logger) => logger,
    onRequest: createGateHook({
      gate: options.gate,
      directory: options.directory,
      metrics: options.metrics,
      redis: options.redis,
      usage: options.usage,
    }),
    handler: createForwardHandler(options),
  });
};
