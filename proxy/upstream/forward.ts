/**
 * Forwards an allowed call to its provider: `/<provider>/<path>` -> connection base URL + path, over pooled
 * keep-alive connections (one undici Agent), with the provider key in the provider's style. The response
 * is relayed by an UpstreamCall (upstreamCall.ts), which also reads the usage report; the spend goes to the
 * spend meter when the response ends.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Dispatcher } from "undici";
import type { ProxyConfig } from "../config.ts";
import type { ProviderConnection } from "../control/providerDirectory.ts";
import { sendError } from "../gate/gateHook.ts";
import { costMicroUsd, priceFor } from "../guardrails/pricing.ts";
import type { UsageMeter } from "../guardrails/usageMeter.ts";
import type { ProxyMetrics } from "../metrics/metrics.ts";
import { upstreamHeaders } from "./headers.ts";
import type { InFlight } from "./inFlight.ts";
import { UpstreamCall } from "./upstreamCall.ts";

export interface ForwardDeps {
  /** Where metered spend goes (batched to Redis). */
  usage: UsageMeter;
  inFlight: InFlight;
  dispatcher: Dispatcher;
  config: Pick<ProxyConfig, "priceTable">;
  metrics: ProxyMetrics;
}

interface Target {
  origin: string;
  basePath: string;
}

/** Parsed base URLs, per connection object (the directory hands out the same frozen object on cache hits). */
const targets = new WeakMap<ProviderConnection, Target>();

function targetOf(connection: ProviderConnection): Target {
  let target = targets.get(connection);
  if (target === undefined) {
    const url = new URL(connection.baseUrl);
    target = { origin: url.origin, basePath: url.pathname.replace(/\/+$/, "") };
    targets.set(connection, target);
  }
  return target;
}

/** Path segments that would climb out of the connection's base path, plain or percent-encoded. */
const traversal = /(^|\/)(\.|%2e){1,2}(\/|$|\?)|%2f|%5c|\\/i;

/**
 * Reads an OpenAI-style streaming request and asks for the usage chunk (`stream_options.include_usage`),
 * so streamed spend is metered like the rest. Returns the body to send and the requested model.
 */
export function prepareBody(
  body: Buffer | undefined,
  contentType: string | undefined,
  style: ProviderConnection["style"],
): { body: Buffer | undefined; model: string | undefined } {
  if (body === undefined || body.length === 0 || contentType === undefined || !contentType.includes("json")) {
    return { body, model: undefined };
  }
  // Only streaming requests need a look inside; a byte search keeps plain requests free of JSON.parse.
  if (style !== "openai" || !body.includes('"stream"')) return { body, model: undefined };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return { body, model: undefined };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return { body, model: undefined };
  const request = parsed as Record<string, unknown>;
  const model = typeof request.model === "string" ? request.model : undefined;
  if (request.stream !== true) return { body, model };
  const options = request.stream_options;
  if (typeof options === "object" && options !== null && (options as Record<string, unknown>).include_usage === true) {
    return { body, model };
  }
  request.stream_options = { ...(typeof options === "object" && options !== null ? options : {}), include_usage: true };
  return { body: Buffer.from(JSON.stringify(request)), model };
}

export function createForwardHandler(deps: ForwardDeps) {
  const { usage, inFlight, dispatcher, config, metrics } = deps;

  return function forward(request: FastifyRequest, reply: FastifyReply) {
    const call = request.killcordCall;
    // The route's onRequest gate always sets it before the handler runs; this is a guard, not a path.
    if (call === null) return sendError(reply, "INTERNAL_ERROR");
    const { connection } = call;
    const rest = request.url.slice(call.provider.length + 1);
    if (traversal.test(rest.split("?", 1)[0]!)) {
      return sendError(reply, "INVALID_REQUEST", { message: "path may not leave the provider's base URL" });
    }
    const target = targetOf(connection);
    const path = rest === "" || rest[0] === "?" ? `${target.basePath}/${rest}` : `${target.basePath}${rest}`;
    const prepared = prepareBody(request.body as Buffer | undefined, request.headers["content-type"], connection.style);
    // From here the response is written by the UpstreamCall, straight on the socket.
    reply.hijack();
    const upstreamCall = new UpstreamCall({
      call,
      res: reply.raw,
      log: request.log,
      inFlight,
      metrics,
      onUsage(report) {
        const model = report.model ?? prepared.model;
        const cost = costMicroUsd(report, priceFor(model, config.priceTable));
        metrics.tokens(report.inputTokens, report.outputTokens);
        metrics.spend(cost);
        usage.addSpend(call.agentId, call.provider, cost);
      },
    });
    dispatcher.dispatch(
      {
        origin: target.origin,
        path,
        method: request.method as Dispatcher.HttpMethod,
        headers: upstreamHeaders(request.headers, connection.style, connection.apiKey),
        body: prepared.body ?? null,
        // The upstream timeout is the UpstreamCall's deadline, swept by InFlight (undici's timers cost
        // two old-generation objects per request).
        headersTimeout: 0,
        bodyTimeout: 0,
      },
      upstreamCall,
    );
  };
}
