/**
 * One forwarded call, as an undici dispatch handler: the upstream's response is written to the agent's
 * socket as it arrives (no intermediate stream objects), its usage report is read in passing, and the call
 * can be cut at any moment (a kill, shutdown, the agent hanging up). This is the hot path, so it is one
 * object per call with its state in fields rather than a web of closures.
 *
 * How a call ends for the agent:
 * - upstream answered: status, headers and body as sent (error bodies with the provider key masked);
 * - cut before the upstream's headers: a JSON error with the stable code (e.g. 403 AGENT_KILLED);
 * - cut mid-stream: a final SSE `error` event carrying the code (OpenAI or Anthropic shape), then the end;
 * - cut mid-JSON: the connection is closed (a half body cannot be repaired).
 */
import type { ServerResponse } from "node:http";
import type { FastifyBaseLogger } from "fastify";
import type { Dispatcher } from "undici";
import type { ProviderConnection } from "../control/providerDirectory.ts";
import { errorBody, type ProxyErrorCode, proxyErrors } from "../errors.ts";
import type { AllowedCall } from "../gate/gateHook.ts";
import type { ProxyMetrics } from "../metrics/metrics.ts";
import { agentHeaders } from "./headers.ts";
import { AbortReason, type InFlight, type InFlightCall, UpstreamTimeout } from "./inFlight.ts";
import { errors as undiciErrors } from "./undici.ts";
import { SseUsageReader, type UsageReport, usageFromJson } from "./usage.ts";

/** JSON bodies larger than this keep only their tail for the usage read (usage comes last). */
const jsonKeepBytes = 1 << 20;
const jsonTailBytes = 64 << 10;
/** Error bodies are held whole (to mask the provider key) up to this size. */
const errorKeepBytes = 1 << 20;

/** The agent went away: nothing to answer. */
export class ClientGone extends Error {
  override name = "ClientGone";
}

export function upstreamFailure(error: unknown): ProxyErrorCode {
  if (error instanceof AbortReason) return error.code;
  if (
    error instanceof UpstreamTimeout ||
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError
  ) {
    return "UPSTREAM_TIMEOUT";
  }
  return "UPSTREAM_UNAVAILABLE";
}

/** The final SSE event that tells a streaming client why its stream was cut. */
export function sseErrorEvent(code: ProxyErrorCode, style: ProviderConnection["style"]): string {
  const message = proxyErrors[code].message;
  const data =
    style === "anthropic"
      ? { type: "error", error: { type: "killcord_error", code, message } }
      : { error: { code, message, type: "killcord_error" } };
  return `event: error\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Masks every occurrence of the provider key (same length, so Content-Length still holds). */
export function maskKey(body: Buffer, apiKey: string): Buffer {
  if (apiKey.length === 0 || !body.includes(apiKey)) return body;
  return Buffer.from(body.toString("utf8").replaceAll(apiKey, "*".repeat(apiKey.length)));
}

/** Writes a stable-code JSON error on a raw response whose headers are not sent yet. */
export function writeError(res: ServerResponse, code: ProxyErrorCode): void {
  res.writeHead(proxyErrors[code].status, {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
    ...(proxyErrors[code].retryable ? {} : { "x-should-retry": "false" }),
  });
  res.end(errorBody(code));
}

export interface UpstreamCallContext {
  call: AllowedCall;
  res: ServerResponse;
  log: FastifyBaseLogger;
  inFlight: InFlight;
  metrics: ProxyMetrics;
  /** Called with the usage the provider reported (the response is complete or was cut). */
  onUsage(report: UsageReport): void;
}

/**
 * The call writing to each agent response, for the one shared close listener below: a closure and a once()
 * wrapper per request otherwise, on the hot path.
 */
const callKey = Symbol("killcord.upstreamCall");
type AgentResponse = ServerResponse & { [callKey]?: UpstreamCall };

function onAgentClose(this: AgentResponse): void {
  const call = this[callKey];
  if (call !== undefined && !call.finished) call.abort(new ClientGone("client closed the connection"));
}

export class UpstreamCall implements Dispatcher.DispatchHandler, InFlightCall {
  finished = false;
  readonly agentId: string;
  deadline: number;
  inFlightPrev: InFlightCall | undefined = undefined;
  inFlightNext: InFlightCall | undefined = undefined;
  readonly #ctx: UpstreamCallContext;
  #controller: Dispatcher.DispatchController | undefined;
  #reason: Error | undefined;
  #status = 0;
  /** "pending" until headers; "stream" relays as it goes; "error" holds the body to mask the key. */
  #mode: "pending" | "stream" | "error" = "pending";
  #sse = false;
  #reader: SseUsageReader | undefined;
  #keepJson = false;
  #kept: Buffer[] = [];
  #keptBytes = 0;
  #headers: Record<string, string | string[] | undefined> = {};

  constructor(ctx: UpstreamCallContext) {
    this.#ctx = ctx;
    this.agentId = ctx.call.agentId;
    // The upstream timeout (UPSTREAM_TIMEOUT when no headers, or no body bytes, arrive for it) is InFlight's:
    // its sweep cuts the call past `deadline`, which every sign of progress moves forward.
    this.deadline = ctx.inFlight.deadlineFromNow();
    ctx.inFlight.track(this);
    (ctx.res as AgentResponse)[callKey] = this;
    ctx.res.on("close", onAgentClose);
  }

  abort(reason: Error): void {
    if (this.finished || this.#reason !== undefined) return;
    this.#reason = reason;
    // Not started yet: onRequestStart aborts as soon as undici hands over the controller.
    this.#controller?.abort(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#reason !== undefined) controller.abort(this.#reason);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | string[] | undefined>,
  ) {
    if (status < 200) return; // 1xx: informational, not relayed
    this.deadline = this.#ctx.inFlight.deadlineFromNow();
    this.#status = status;
    this.#headers = headers;
    const contentType = String(headers["content-type"] ?? "");
    const encoding = headers["content-encoding"];
    const encoded = encoding !== undefined && encoding !== "identity";
    this.#sse = contentType.startsWith("text/event-stream");
    if (status >= 400 && !this.#sse) {
      this.#mode = "error";
      return;
    }
    this.#mode = "stream";
    if (this.#sse && !encoded) this.#reader = new SseUsageReader();
    this.#keepJson = !this.#sse && !encoded && status < 300 && contentType.includes("json");
    const res = this.#ctx.res;
    res.writeHead(status, agentHeaders(headers));
    // A stream's headers go out now: it must not wait for its first event to show it is open. Other
    // responses let Node send headers and body in one write.
    if (this.#sse) res.flushHeaders();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.deadline = this.#ctx.inFlight.deadlineFromNow();
    if (this.#mode === "error") {
      this.#keptBytes += chunk.length;
      if (this.#keptBytes > errorKeepBytes) controller.abort(new Error("upstream error body too large"));
      else this.#kept.push(chunk);
      return;
    }
    if (this.#reader !== undefined) this.#reader.push(chunk);
    else if (this.#keepJson) {
      this.#kept.push(chunk);
      this.#keptBytes += chunk.length;
      while (
        this.#keptBytes > jsonKeepBytes &&
        this.#kept.length > 1 &&
        this.#keptBytes - this.#kept[0]!.length >= jsonTailBytes
      ) {
        this.#keptBytes -= this.#kept.shift()!.length;
      }
    }
    if (!this.#ctx.res.write(chunk)) {
      // The agent reads slower than the upstream sends: the upstream is not stalled while we hold it back.
      controller.pause();
      this.deadline = Number.POSITIVE_INFINITY;
      this.#ctx.res.once("drain", () => {
        this.deadline = this.#ctx.inFlight.deadlineFromNow();
        controller.resume();
      });
    }
  }

  onResponseEnd(): void {
    const res = this.#ctx.res;
    if (this.#mode === "error") {
      res.writeHead(this.#status, agentHeaders(this.#headers));
      res.end(maskKey(this.#kept.length === 1 ? this.#kept[0]! : Buffer.concat(this.#kept), this.#ctx.call.connection.apiKey));
    } else res.end();
    this.#finish("allowed");
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.finished) return;
    const reason = this.#reason ?? error;
    const { res, metrics, log, call } = this.#ctx;
    if (reason instanceof ClientGone) {
      this.#finish("aborted");
      return;
    }
    const code = upstreamFailure(reason);
    const killed = reason instanceof AbortReason;
    if (killed) metrics.denial(code);
    else log.warn({ agentId: call.agentId, provider: call.provider, code, err: { message: error.message } }, "upstream failed");
    if (!res.headersSent) writeError(res, code);
    else if (this.#sse && !res.destroyed) res.end(sseErrorEvent(code, call.connection.style));
    else res.destroy();
    this.#finish(killed ? "aborted" : this.#mode === "pending" ? "upstream_error" : "allowed");
  }

  #finish(outcome: "allowed" | "aborted" | "upstream_error"): void {
    if (this.finished) return;
    this.finished = true;
    const { inFlight, metrics } = this.#ctx;
    inFlight.done(this);
    metrics.outcome(outcome);
    if (this.#mode !== "stream") return;
    let report: UsageReport | undefined;
    if (this.#reader !== undefined) {
      this.#reader.end();
      if (this.#reader.found) report = this.#reader.report;
    } else if (this.#keepJson && this.#kept.length > 0) {
      const body = this.#kept.length === 1 ? this.#kept[0]! : Buffer.concat(this.#kept, this.#keptBytes);
      report = usageFromJson(body);
    }
    if (report !== undefined) this.#ctx.onUsage(report);
    else if (this.#status < 300 && outcome === "allowed") metrics.unmetered();
  }
}
