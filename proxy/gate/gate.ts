/**
 * The gate: decides one proxied request. The credential is parsed without Redis, the local deny set (fed by
 * the kill stream) answers next at no cost, then one EVALSHA of gateScript.ts over the agent's one slot, on
 * the gate's own lean connection (scriptConnection.ts).
 * Redis unreachable -> GATE_UNAVAILABLE (fail closed) unless the operator chose `failOpen`.
 */
import { type GateDenialCode, isProxyErrorCode } from "../errors.ts";
import type { ParsedCredential } from "../store/agentState.ts";
import { keys } from "../store/keys.ts";
import { gateLua, meterLua } from "./gateScript.ts";
import type { LocalDenySet } from "./localDenySet.ts";
import { type PreparedCall, prepare, type ScriptConnection, script } from "./scriptConnection.ts";

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
  | {
      allowed: true;
      failOpen?: boolean;
      /** The script did not count this request (the agent has no request limit): the usage meter counts it. */
      uncounted?: boolean;
    }
  | { allowed: false; code: GateDenialCode; breach?: Breach; retryAfterSeconds?: number; cause?: unknown };

const minuteMs = 60_000;
const dayMs = 86_400_000;
/** Counters live a little past their window so a late reader still sees them. */
const minuteTtlMs = String(2 * minuteMs);
const dayTtlMs = String(2 * dayMs);

/** The UTC day as yyyymmdd, the suffix of daily counters. */
let cachedDay = { minute: -1, day: "" };

export function utcDay(now: number): string {
  // Days change on minute boundaries: one Date per minute instead of two per request.
  const minute = Math.floor(now / minuteMs);
  if (minute === cachedDay.minute) return cachedDay.day;
  const d = new Date(now);
  const day = String(d.getUTCFullYear() * 10_000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate());
  cachedDay = { minute, day };
  return day;
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

/** The two allow verdicts, shared (callers do not change verdicts): no object per allowed request. */
const allowedCounted: GateVerdict = Object.freeze({ allowed: true });
const allowedUncounted: GateVerdict = Object.freeze({ allowed: true, uncounted: true });

const denyCodes = new Set(["AGENT_KILLED", "AGENT_SUSPENDED", "ATTESTATION_REVOKED"]);

/** Interprets the script's reply (see gateScript.ts). Exported for unit tests. */
export function verdictFromReply(reply: unknown, now: number): GateVerdict {
  if (!Array.isArray(reply) || typeof reply[0] !== "string") {
    return { allowed: false, code: "GATE_UNAVAILABLE", cause: new Error("unexpected gate script reply") };
  }
  const head = reply[0];
  if (head === "OK") return reply[1] === "U" ? allowedUncounted : allowedCounted;
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
  /**
   * Adds metered spend (micro-USD) and requests the gate left uncounted; resolves to the breach when this
   * spend crossed a limit.
   */
  meter(agentId: string, provider: string, microUsd: number, requests?: number, now?: number): Promise<Breach | undefined>;
}

const gateScript = script(gateLua);
const meterScript = script(meterLua);

/** An agent's key names, built once (keys.ts validates the agentId with a regex on every call). */
interface AgentKeys {
  deny: string;
  flags: string;
  guardrails: string;
  /** keys.credential(agentId, "") and keys.usage(agentId, ""): the names end with the hash or counter. */
  credentialPrefix: string;
  usagePrefix: string;
}

const maxCachedAgents = 20_000;
/** Credentials whose encoded gate commands are kept (about 1 KB per provider each). */
const maxCachedCredentials = 2048;
const maxCachedProviders = 16;

/** A credential's encoded gate commands for one provider, this minute. */
interface CachedCalls {
  minute: number;
  counted: PreparedCall | undefined;
  authOnly: PreparedCall | undefined;
}

function keyCache() {
  const cache = new Map<string, AgentKeys>();
  return (agentId: string): AgentKeys => {
    let k = cache.get(agentId);
    if (k === undefined) {
      if (cache.size >= maxCachedAgents) cache.delete(cache.keys().next().value!);
      k = {
        deny: keys.deny(agentId),
        flags: keys.flags(agentId),
        guardrails: keys.guardrails(agentId),
        credentialPrefix: keys.credential(agentId, ""),
        usagePrefix: keys.usage(agentId, ""),
      };
      cache.set(agentId, k);
    }
    return k;
  };
}

export function createGate(options: { scripts: ScriptConnection; localDeny: LocalDenySet; failOpen: boolean }): Gate {
  const { scripts, localDeny, failOpen } = options;
  const keysOf = keyCache();
  // A call's keys and arguments change only with the minute (the counter names), so each credential's
  // encoded command is reused within a minute: no string building or encoding per request.
  // Keyed by credential, then provider: no key string is built (and hashed) per request.
  const calls = new Map<string, Map<string, CachedCalls>>();
  const gateCall = (credential: ParsedCredential, provider: string, count: boolean, now: number): PreparedCall => {
    const minute = Math.floor(now / minuteMs);
    let byProvider = calls.get(credential.secretHash);
    if (byProvider === undefined) {
      if (calls.size >= maxCachedCredentials) calls.delete(calls.keys().next().value!);
      byProvider = new Map();
      calls.set(credential.secretHash, byProvider);
    }
    let cached = byProvider.get(provider);
    if (cached === undefined || cached.minute !== minute) {
      // Provider names come from the path: an agent asking for many names must not grow this without bound.
      if (cached === undefined && byProvider.size >= maxCachedProviders) byProvider.delete(byProvider.keys().next().value!);
      cached = { minute, counted: undefined, authOnly: undefined };
      byProvider.set(provider, cached);
    }
    const hit = count ? cached.counted : cached.authOnly;
    if (hit !== undefined) return hit;
    const k = keysOf(credential.agentId);
    const all = usageCounters("*", now);
    const own = usageCounters(provider, now);
    const call = prepare(
      gateScript,
      [
        k.deny,
        k.flags,
        k.credentialPrefix + credential.secretHash,
        k.guardrails,
        k.usagePrefix + all.rpm,
        k.usagePrefix + all.rpd,
        k.usagePrefix + all.usd,
        k.usagePrefix + own.rpm,
        k.usagePrefix + own.rpd,
        k.usagePrefix + own.usd,
      ],
      [provider, count ? "1" : "0", minuteTtlMs, dayTtlMs, `provider:${provider}`],
    );
    if (count) cached.counted = call;
    else cached.authOnly = call;
    return call;
  };
  return {
    async check({ credential, provider, count, now = Date.now() }) {
      const local = localDeny.get(credential.agentId, now);
      if (local !== undefined) return { allowed: false, code: local };
      let reply: unknown;
      try {
        reply = await scripts.runPrepared(gateCall(credential, provider, count, now));
      } catch (cause) {
        if (failOpen) return { allowed: true, failOpen: true };
        return { allowed: false, code: "GATE_UNAVAILABLE", retryAfterSeconds: 1, cause };
      }
      return verdictFromReply(reply, now);
    },

    async meter(agentId, provider, microUsd, requests = 0, now = Date.now()) {
      const amount = Math.max(0, Math.round(microUsd));
      const count = Math.max(0, Math.floor(requests));
      if (amount === 0 && count === 0) return undefined;
      const k = keysOf(agentId);
      const all = usageCounters("*", now);
      const own = usageCounters(provider, now);
      const reply = await scripts.run(
        meterScript,
        [
          k.usagePrefix + all.usd,
          k.usagePrefix + own.usd,
          k.guardrails,
          k.flags,
          k.usagePrefix + all.rpm,
          k.usagePrefix + all.rpd,
          k.usagePrefix + own.rpm,
          k.usagePrefix + own.rpd,
        ],
        [String(amount), provider, dayTtlMs, String(now), String(count), minuteTtlMs],
      );
      if (!Array.isArray(reply) || reply.length === 0) return undefined;
      const verdict = verdictFromReply(reply, now);
      return verdict.allowed ? undefined : verdict.breach;
    },
  };
}
