/**
 * The gate: decides one proxied request. The credential is parsed without Redis, the local deny set (fed by
 * the kill stream) answers next at no cost, then one EVALSHA of gateScript.ts over the agent's one slot.
 * Redis unreachable -> GATE_UNAVAILABLE (fail closed) unless the operator chose `failOpen`.
 */
import type { Redis } from "ioredis";
import { type GateDenialCode, isProxyErrorCode } from "../errors.ts";
import type { ParsedCredential } from "../store/agentState.ts";
import { keys } from "../store/keys.ts";
import { gateLua, meterLua } from "./gateScript.ts";
import type { LocalDenySet } from "./localDenySet.ts";

/** What tripped: a guardrail breach, as the script reports it. */
export interface Breach {
  /** "*" (all providers) or a provider connection name. */
  scope: string;
  kind: "rpm" | "rpd" | "usd";
  limit: number;
  /** The counter's value when the breach was found (requests, or micro-USD for "usd"). */
  value: number;
  /** The configured action ("tier1", "tier2") or "" when the guardrail only denies. */
  action: string;
  /** True when this request wrote the tier flag (the first breach); the caller emits the event. */
  tripped: boolean;
}

export type GateVerdict =
  | { allowed: true; failOpen?: boolean }
  | { allowed: false; code: GateDenialCode; breach?: Breach; retryAfterSeconds?: number; cause?: unknown };

const minuteMs = 60_000;
const dayMs = 86_400_000;
/** Counters live a little past their window so a late reader still sees them. */
const minuteTtlMs = String(2 * minuteMs);
const dayTtlMs = String(2 * dayMs);

/** The UTC day as yyyymmdd, the suffix of daily counters. */
export function utcDay(now: number): string {
  const d = new Date(now);
  return String(d.getUTCFullYear() * 10_000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate());
}

/** Counter suffixes for this moment (see agentState.ts: rpm:<scope>:<unix minute>, rpd/usd:<scope>:<yyyymmdd>). */
export function usageCounters(scope: string, now: number): { rpm: string; rpd: string; usd: string } {
  const day = utcDay(now);
  return { rpm: `rpm:${scope}:${Math.floor(now / minuteMs)}`, rpd: `rpd:${scope}:${day}`, usd: `usd:${scope}:${day}` };
}

function retryAfter(kind: Breach["kind"], now: number): number {
  const window = kind === "rpm" ? minuteMs : dayMs;
  return Math.max(1, Math.ceil((window - (now % window)) / 1000));
}

const denyCodes = new Set(["AGENT_KILLED", "AGENT_SUSPENDED", "ATTESTATION_REVOKED"]);

/** Interprets the script's reply (see gateScript.ts). Exported for unit tests. */
export function verdictFromReply(reply: unknown, now: number): GateVerdict {
  if (!Array.isArray(reply) || typeof reply[0] !== "string") {
    return { allowed: false, code: "GATE_UNAVAILABLE", cause: new Error("unexpected gate script reply") };
  }
  const head = reply[0];
  if (head === "OK") return { allowed: true };
  if (head === "DENY") {
    const code = String(reply[1]);
    if (denyCodes.has(code)) return { allowed: false, code: code as GateDenialCode };
    // A deny key with an unknown code still denies; its state picks the nearest stable code.
    return { allowed: false, code: reply[2] === "suspended" ? "AGENT_SUSPENDED" : "AGENT_KILLED" };
  }
  if (head === "RATE_LIMITED" || head === "BUDGET_EXCEEDED") {
    const kind = reply[2] as Breach["kind"];
    const breach: Breach = {
      scope: String(reply[1]),
      kind,
      limit: Number(reply[3]),
      value: Number(reply[4]),
      action: String(reply[5] ?? ""),
      tripped: Number(reply[6]) === 1,
    };
    return { allowed: false, code: head, breach, retryAfterSeconds: retryAfter(kind, now) };
  }
  if (isProxyErrorCode(head) && head !== "GATE_UNAVAILABLE") return { allowed: false, code: head as GateDenialCode };
  return { allowed: false, code: "GATE_UNAVAILABLE", cause: new Error(`unknown gate verdict ${head}`) };
}

export interface GateRequest {
  credential: ParsedCredential;
  /** Provider connection name from the path. */
  provider: string;
  /** Check and count guardrails (false when the connection does not exist: authenticate only). */
  count: boolean;
  /** ms epoch (injectable for tests). */
  now?: number;
}

export interface Gate {
  check(request: GateRequest): Promise<GateVerdict>;
  /** Adds metered spend; resolves to the breach when this spend crossed a limit. */
  meter(agentId: string, provider: string, microUsd: number, now?: number): Promise<Breach | undefined>;
}

type ScriptedRedis = Redis & {
  kcGate(...args: string[]): Promise<unknown>;
  kcMeter(...args: string[]): Promise<unknown>;
};

/** Registers the scripts on the client (EVALSHA, with ioredis falling back to EVAL after a Redis restart). */
function scripted(redis: Redis): ScriptedRedis {
  const r = redis as ScriptedRedis;
  if (typeof r.kcGate !== "function") {
    redis.defineCommand("kcGate", { numberOfKeys: 10, lua: gateLua });
    redis.defineCommand("kcMeter", { numberOfKeys: 4, lua: meterLua });
  }
  return r;
}

export function createGate(options: { redis: Redis; localDeny: LocalDenySet; failOpen: boolean }): Gate {
  const redis = scripted(options.redis);
  const { localDeny, failOpen } = options;
  return {
    async check({ credential, provider, count, now = Date.now() }) {
      const { agentId, secretHash } = credential;
      const local = localDeny.get(agentId, now);
      if (local !== undefined) return { allowed: false, code: local };
      const all = usageCounters("*", now);
      const own = usageCounters(provider, now);
      let reply: unknown;
      try {
        reply = await redis.kcGate(
          keys.deny(agentId),
          keys.flags(agentId),
          keys.credential(agentId, secretHash),
          keys.guardrails(agentId),
          keys.usage(agentId, all.rpm),
          keys.usage(agentId, all.rpd),
          keys.usage(agentId, all.usd),
          keys.usage(agentId, own.rpm),
          keys.usage(agentId, own.rpd),
          keys.usage(agentId, own.usd),
          provider,
          String(now),
          count ? "1" : "0",
          minuteTtlMs,
          dayTtlMs,
        );
      } catch (cause) {
        if (failOpen) return { allowed: true, failOpen: true };
        return { allowed: false, code: "GATE_UNAVAILABLE", retryAfterSeconds: 1, cause };
      }
      return verdictFromReply(reply, now);
    },

    async meter(agentId, provider, microUsd, now = Date.now()) {
      const amount = Math.round(microUsd);
      if (!(amount > 0)) return undefined;
      const day = utcDay(now);
      const reply = await redis.kcMeter(
        keys.usage(agentId, `usd:*:${day}`),
        keys.usage(agentId, `usd:${provider}:${day}`),
        keys.guardrails(agentId),
        keys.flags(agentId),
        String(amount),
        provider,
        dayTtlMs,
        String(now),
      );
      if (!Array.isArray(reply) || reply.length === 0) return undefined;
      const verdict = verdictFromReply(reply, now);
      return verdict.allowed ? undefined : verdict.breach;
    },
  };
}
