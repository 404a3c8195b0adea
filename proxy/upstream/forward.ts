/**
 * Forwards an allowed call to its provider: `/<provider>/<path>` -> connection base URL + path, over pooled
 * keep-alive connections (one undici Agent), with the provider key in the provider's style. The response
 * streams back chunk by chunk (server-sent events unbuffered) while its usage report is read in passing;
 * the spend is metered when the body ends. A kill aborts the call: before the upstream answers with the
 * kill's code, mid-stream with a final SSE error event (OpenAI and Anthropic shapes), mid-JSON by cutting
 * the connection.
 */
import type { ServerResponse } from "node:http";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Dispatcher } from "undici";
import { errors as undiciErrors } from "undici";
import type { ProxyConfig } from "../config.ts";
import type { ProviderConnection } from "../control/providerDirectory.ts";
import { errorBody, type ProxyErrorCode, proxyErrors } from "../errors.ts";
import { type AllowedCall, sendError } from "../gate/gateHook.ts";
import { costMicroUsd, priceFor } from "../guardrails/pricing.ts";
import type { SpendMeter } from "../guardrails/spendMeter.ts";
import type { ProxyMetrics } from "../metrics/metrics.ts";
import { agentHeaders, upstreamHeaders } from "./headers.ts";
import { AbortReason, type InFlight } from "./inFlight.ts";
import { SseUsageReader, type UsageReport, usageFromJson } from "./usage.ts";

export interface ForwardDeps {
  /** Where metered spend goes (batched to Redis). */
  spend: SpendMeter;
  inFlight: InFlight;
  dispatcher: Dispatcher;
  config: Pick<ProxyConfig, "upstreamTimeoutMs" | "priceTable">;
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

/** JSON bodies larger than this keep only their tail for the usage read (usage comes last). */
const jsonKeepBytes = 1 << 20;
const jsonTailBytes = 64 << 10;
/** Error bodies are held whole (to scrub the provider key) up to this size. */
const errorKeepBytes = 1 << 20;

class ClientGone extends Error {
  override name = "ClientGone";
}

function upstreamFailure(error: unknown): ProxyErrorCode {
  if (error instanceof AbortReason) return error.code;
  if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError)
    return "UPSTREAM_TIMEOUT";
  if (error instanceof undiciErrors.ConnectTimeoutError) return "UPSTREAM_TIMEOUT";
  return "UPSTREAM_UNAVAILABLE";
}

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

/** The final SSE event that tells a streaming client why its stream was cut. */
function sseErrorEvent(code: ProxyErrorCode, style: ProviderConnection["style"]): string {
  const message = proxyErrors[code].message;
  const data =
    style === "anthropic"
      ? { type: "error", error: { type: "killcord_error", code, message } }
      : { error: { code, message, type: "killcord_error" } };
  return `event: error\ndata: ${JSON.stringify(data)}\n\n`;
}

function scrub(body: Buffer, apiKey: string): Buffer {
  if (apiKey.length === 0 || !body.includes(apiKey)) return body;
  return Buffer.from(body.toString("utf8").replaceAll(apiKey, "*".repeat(apiKey.length)));
}

export function createForwardHandler(deps: ForwardDeps) {
  const { spend, inFlight, dispatcher, config, metrics } = deps;

  const meter = (request: FastifyRequest, call: AllowedCall, report: UsageReport, fallbackModel: string | undefined) => {
    const model = report.model ?? fallbackModel;
    const cost = costMicroUsd(report, priceFor(model, config.priceTable));
    metrics.tokens(report.inputTokens, report.outputTokens);
    metrics.spend(cost);
    request.log.debug({ agentId: call.agentId, provider: call.provider, ...report, model, microUsd: cost }, "metered");
    spend.add(call.agentId, call.provider, cost);
  };

  return async function forward(request: FastifyRequest, reply: FastifyReply) {
    const call = request.killcordCall;
    // The route's onRequest gate always sets it before the handler runs; this is a guard, not a path.
    if (call === null) return sendError(reply, "INTERNAL_ERROR");
    const { connection, agentId } = call;
    const rest = request.url.slice(call.provider.length + 1);
    if (traversal.test(rest.split("?", 1)[0]!))
      return sendError(reply, "INVALID_REQUEST", { message: "path may not leave the provider's base URL" });
    const target = targetOf(connection);
    const path = rest === "" || rest[0] === "?" ? `${target.basePath}/${rest}` : `${target.basePath}${rest}`;
    const prepared = prepareBody(request.body as Buffer | undefined, request.headers["content-type"], connection.style);

    const controller = new AbortController();
    const untrack = inFlight.track(agentId, controller);
    const res = reply.raw;
    res.once("close", () => {
      if (!res.writableFinished) controller.abort(new ClientGone("client closed the connection"));
      untrack();
    });

    const started = performance.now();
    let upstream: Dispatcher.ResponseData;
    try {
      upstream = await dispatcher.request({
        origin: target.origin,
        path,
        method: request.method as Dispatcher.HttpMethod,
        headers: upstreamHeaders(request.headers, connection.style, connection.apiKey),
        body: prepared.body,
        signal: controller.signal,
        headersTimeout: config.upstreamTimeoutMs,
        bodyTimeout: config.upstreamTimeoutMs,
      });
    } catch (error) {
      untrack();
      const reason = controller.signal.reason ?? error;
      if (reason instanceof ClientGone) {
        metrics.outcome("aborted");
        return reply;
      }
      const code = upstreamFailure(reason);
      if (reason instanceof AbortReason) {
        metrics.outcome("aborted");
        metrics.denial(code);
      } else {
        metrics.outcome("upstream_error");
        request.log.warn(
          { agentId, provider: call.provider, code, err: { message: (error as Error).message } },
          "upstream failed",
        );
      }
      return sendError(reply, code);
    }
    metrics.upstreamSeconds((performance.now() - started) / 1000);

    const status = upstream.statusCode;
    const contentType = String(upstream.headers["content-type"] ?? "");
    const encoded = upstream.headers["content-encoding"] !== undefined && upstream.headers["content-encoding"] !== "identity";
    const sse = contentType.startsWith("text/event-stream");
    const body = upstream.body;
    reply.hijack();

    if (status >= 400 && !sse) {
      // Provider errors can quote the key they were given: hold the (small) body and mask it.
      relayError(
        res,
        status,
        upstream.headers,
        body,
        connection.apiKey,
        (error) => upstreamFailure(controller.signal.reason ?? error),
        () => {
          untrack();
          metrics.outcome("allowed");
        },
      );
      return reply;
    }

    const reader = sse && !encoded ? new SseUsageReader() : undefined;
    const keepJson = !sse && !encoded && status < 300 && contentType.includes("json");
    const kept: Buffer[] = [];
    let keptBytes = 0;
    res.writeHead(status, agentHeaders(upstream.headers));
    // A stream's headers go out now: it must not wait for its first event to show it is open. Other
    // responses let Node send headers and body in one write.
    if (sse) res.flushHeaders();

    body.on("data", (chunk: Buffer) => {
      if (reader !== undefined) reader.push(chunk);
      else if (keepJson) {
        kept.push(chunk);
        keptBytes += chunk.length;
        while (keptBytes > jsonKeepBytes && kept.length > 1 && keptBytes - kept[0]!.length >= jsonTailBytes) {
          keptBytes -= kept.shift()!.length;
        }
      }
      if (!res.write(chunk)) body.pause();
    });
    res.on("drain", () => body.resume());

    const finish = (outcome: "allowed" | "aborted") => {
      untrack();
      metrics.outcome(outcome);
      let report: UsageReport | undefined;
      if (reader !== undefined) {
        reader.end();
        if (reader.found) report = reader.report;
      } else if (keepJson && kept.length > 0) {
        report = usageFromJson(Buffer.concat(kept, keptBytes).toString("utf8"));
      }
      if (report !== undefined) meter(request, call, report, prepared.model);
      else if (status < 300 && outcome === "allowed") metrics.unmetered();
    };

    body.once("end", () => {
      res.end();
      finish("allowed");
    });
    body.once("error", (error: Error) => {
      const reason = controller.signal.reason ?? error;
      if (reason instanceof ClientGone) {
        finish("aborted");
        return;
      }
      const code = upstreamFailure(reason);
      if (reason instanceof AbortReason) metrics.denial(code);
      else request.log.warn({ agentId, provider: call.provider, code, err: { message: error.message } }, "upstream body failed");
      if (sse && !res.destroyed) res.end(sseErrorEvent(code, connection.style));
      else res.destroy();
      finish(reason instanceof AbortReason ? "aborted" : "allowed");
    });
    return reply;
  };
}

/**
 * Writes an upstream error response with the provider key masked (same length, so Content-Length holds).
 * `failure` names the code to answer if the body cannot be read (a kill, a timeout, a reset).
 */
function relayError(
  res: ServerResponse,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  body: Dispatcher.ResponseData["body"],
  apiKey: string,
  failure: (error: Error) => ProxyErrorCode,
  done: () => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  body.on("data", (chunk: Buffer) => {
    size += chunk.length;
    if (size > errorKeepBytes) {
      body.destroy(new Error("upstream error body too large"));
      return;
    }
    chunks.push(chunk);
  });
  body.once("end", () => {
    res.writeHead(status, agentHeaders(headers));
    res.end(scrub(Buffer.concat(chunks), apiKey));
    done();
  });
  body.once("error", (error: Error) => {
    if (!res.headersSent && !res.destroyed) {
      const code = failure(error);
      res.writeHead(proxyErrors[code].status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
      res.end(errorBody(code));
    } else res.destroy();
    done();
  });
}
