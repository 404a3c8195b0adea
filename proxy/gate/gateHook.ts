/**
 * The gate as a fastify onRequest hook on the data plane route: it runs before the body is read, so a
 * denied request costs no upload and never reaches the upstream. On allow it leaves the decided call on
 * the request for the forwarding handler.
 */
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from "fastify";
import type { Redis } from "ioredis";
import type { ProviderConnection, ProviderDirectory } from "../control/providerDirectory.ts";
import { reservedProviderNames } from "../control/schemas.ts";
import { errorBody, type ProxyErrorCode, proxyErrors } from "../errors.ts";
import { emitGuardrailTrip } from "../guardrails/tripEvent.ts";
import type { UsageMeter } from "../guardrails/usageMeter.ts";
import type { ProxyMetrics } from "../metrics/metrics.ts";
import { type ParsedCredential, parseCredential } from "../store/agentState.ts";
import { presentedCredential } from "../upstream/headers.ts";
import type { Breach, Gate } from "./gate.ts";

/** What the gate allowed: the handler forwards it. */
export interface AllowedCall {
  agentId: string;
  provider: string;
  connection: ProviderConnection;
  /** True when Redis was unreachable and the operator chose fail-open. */
  failOpen: boolean;
}

declare module "fastify" {
  interface FastifyRequest {
    killcordCall: AllowedCall | null;
  }
}

/** Provider connection names as they appear in the path (one segment, no dots-only, no encoding). */
export const providerNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Sends a stable-code denial. Exported: the forwarding handler answers its own failures the same way. */
export function sendError(
  reply: FastifyReply,
  code: ProxyErrorCode,
  extra?: { retryAfterSeconds?: number; message?: string },
): FastifyReply {
  reply
    .code(proxyErrors[code].status)
    .header("content-type", "application/json; charset=utf-8")
    .header("cache-control", "no-store");
  if (extra?.retryAfterSeconds !== undefined) reply.header("retry-after", String(extra.retryAfterSeconds));
  // Clients such as the openai SDK retry 429/5xx unless told not to; a retry cannot help these.
  if (!proxyErrors[code].retryable || (extra?.retryAfterSeconds ?? 0) > 60) reply.header("x-should-retry", "false");
  return reply.send(errorBody(code, extra?.message));
}

export interface GateHookDeps {
  gate: Gate;
  directory: ProviderDirectory;
  metrics: ProxyMetrics;
  /** For guardrail-trip events. */
  redis: Redis;
  /** Counts the requests the gate script left uncounted (agents without request limits). */
  usage: Pick<UsageMeter, "addRequests">;
}

/** Announces a tier trip (event stream, metric, log). Never throws: the denial stands either way. */
export function announceTrip(
  deps: Pick<GateHookDeps, "redis" | "metrics">,
  log: FastifyBaseLogger,
  agentId: string,
  provider: string,
  code: "RATE_LIMITED" | "BUDGET_EXCEEDED",
  breach: Breach,
): void {
  deps.metrics.trip(breach.kind);
  log.warn({ agentId, provider, code, breach }, "guardrail tripped");
  emitGuardrailTrip(deps.redis, agentId, { ...breach, provider, code }).catch((err) =>
    log.error({ err, agentId }, "guardrail trip event not written"),
  );
}

/** Parsed credentials by their presented string: agents send the same one on every call (sha256 each time otherwise). */
function credentialCache(max = 4096) {
  const cache = new Map<string, ParsedCredential>();
  return (presented: string): ParsedCredential | undefined => {
    const hit = cache.get(presented);
    if (hit !== undefined) return hit;
    const parsed = parseCredential(presented);
    // Only well-formed credentials are kept; whether they are issued is Redis's answer, every time.
    if (parsed !== undefined) {
      if (cache.size >= max) cache.delete(cache.keys().next().value!);
      cache.set(presented, parsed);
    }
    return parsed;
  };
}

export function createGateHook(deps: GateHookDeps) {
  const { gate, directory, metrics, usage } = deps;
  const parse = credentialCache();

  const deny = (
    request: FastifyRequest,
    reply: FastifyReply,
    code: ProxyErrorCode,
    context: { agentId?: string; provider?: string; retryAfterSeconds?: number; cause?: unknown },
  ) => {
    metrics.outcome("denied");
    metrics.denial(code);
    // Unknown credentials are what scanners send: keep them out of the info log.
    const level = code === "INVALID_CREDENTIAL" || code === "PROVIDER_NOT_FOUND" ? "debug" : "info";
    request.log[level]({ agentId: context.agentId, provider: context.provider, code, err: context.cause }, "request denied");
    return sendError(reply, code, { retryAfterSeconds: context.retryAfterSeconds });
  };

  return async function gateHook(request: FastifyRequest, reply: FastifyReply) {
    const started = performance.now();
    const provider = (request.params as { provider?: string }).provider ?? "";
    // `/v1/<unknown>` and the like fall through to this route: they are the proxy's own paths, not providers.
    if (reservedProviderNames.includes(provider)) return sendError(reply, "NOT_FOUND");
    if (!providerNamePattern.test(provider)) return deny(request, reply, "PROVIDER_NOT_FOUND", {});
    const presented = presentedCredential(request.headers);
    const credential = presented === undefined ? undefined : parse(presented);
    if (credential === undefined) return deny(request, reply, "INVALID_CREDENTIAL", { provider });
    const { agentId } = credential;

    let connection: ProviderConnection | undefined;
    try {
      connection = await directory.get(agentId, provider);
    } catch (cause) {
      // The durable store is unreadable: nothing to forward with, and nothing to allow. Fail closed.
      return deny(request, reply, "GATE_UNAVAILABLE", { agentId, provider, retryAfterSeconds: 1, cause });
    }
    const usable = connection?.enabled === true;
    const verdict = await gate.check({ credential, provider, count: usable });
    metrics.gateSeconds((performance.now() - started) / 1000);
    if (!verdict.allowed) {
      if (verdict.breach?.tripped && (verdict.code === "RATE_LIMITED" || verdict.code === "BUDGET_EXCEEDED")) {
        announceTrip(deps, request.log, agentId, provider, verdict.code, verdict.breach);
      }
      return deny(request, reply, verdict.code, {
        agentId,
        provider,
        retryAfterSeconds: verdict.retryAfterSeconds,
        cause: verdict.cause,
      });
    }
    if (connection === undefined) return deny(request, reply, "PROVIDER_NOT_FOUND", { agentId, provider });
    if (!connection.enabled) return deny(request, reply, "PROVIDER_DISABLED", { agentId, provider });
    if (verdict.failOpen) request.log.warn({ agentId, provider }, "gate unavailable: allowed by KILLCORD_GATE_FAIL_OPEN");
    if (verdict.uncounted === true) usage.addRequests(agentId, provider);
    request.killcordCall = { agentId, provider, connection, failOpen: verdict.failOpen === true };
  };
}
