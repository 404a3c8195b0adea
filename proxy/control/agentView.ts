/**
 * One agent as the operator sees it: what the durable store holds (link, switches, credentials, provider
 * connections without keys, guardrails) beside what the gate sees right now in Redis (flags, deny key,
 * today's counters). The two can differ, e.g. after a guardrail tripped a tier in Redis.
 */
import type { Redis } from "ioredis";
import type { Db } from "../db/index.ts";
import type { DenyRecord } from "../store/denyKey.ts";
import { keys } from "../store/keys.ts";
import type { AgentRow } from "./context.ts";
import { withRedis } from "./gateState.ts";

export interface ProviderRow {
  name: string;
  base_url: string;
  style: string;
  enabled: boolean;
  enabled_reason: string | null;
  key_last4: string;
  key_fingerprint: string;
  created_at: number;
  updated_at: number;
}

export function providerView(row: ProviderRow) {
  return {
    name: row.name,
    baseUrl: row.base_url,
    style: row.style,
    enabled: row.enabled,
    enabledReason: row.enabled_reason,
    key: { last4: row.key_last4, fingerprint: row.key_fingerprint },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export const providerColumns =
  "name, base_url, style, enabled, enabled_reason, key_last4, key_fingerprint, created_at, updated_at";

export interface CredentialRow {
  id: string;
  label: string | null;
  issued_at: number;
  revoked_at: number | null;
}

export function credentialView(row: CredentialRow) {
  return { id: row.id, label: row.label, issuedAt: row.issued_at, revokedAt: row.revoked_at };
}

export interface GuardrailRow {
  scope: string;
  rpm: number | null;
  rpd: number | null;
  usd_micros: number | null;
  action: "tier1" | "tier2";
  updated_at: number;
}

export function guardrailView(row: GuardrailRow) {
  return {
    provider: row.scope === "*" ? null : row.scope,
    rpm: row.rpm,
    rpd: row.rpd,
    usdPerDay: row.usd_micros === null ? null : row.usd_micros / 1e6,
    action: row.action,
    updatedAt: row.updated_at,
  };
}

export function agentSummary(row: AgentRow) {
  return {
    agentId: row.agent_id,
    uid: row.uid,
    name: row.name,
    operator: row.operator,
    enabled: row.enabled,
    enabledReason: row.enabled_reason,
    credentialCutoff: row.credential_cutoff,
    linkedAt: row.linked_at,
    updatedAt: row.updated_at,
  };
}

/** `yyyymmdd` of a UTC day, as the usage counters name it. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replaceAll("-", "");
}

export interface GateView {
  /** Tier 2 as the gate reads it (absent flag = on). */
  agentEnabled: boolean;
  /** Tier 1 per provider as the gate reads it. */
  providers: Record<string, boolean>;
  credentialCutoff: number | null;
  /** When the attestation (or an ancestor's) expires, ms epoch, as the indexer mirrored it; null: never. */
  expiresAt: number | null;
  /** Switches a guardrail breach turned off, by flag field ("agent", "provider:<name>"), with why. */
  tripped: Record<string, unknown>;
  deny: DenyRecord | null;
  /** Guardrail limits as the gate reads them (raw hash). */
  guardrails: Record<string, string>;
  /** Current counters per scope (`*` and each provider): this minute, today, today's spend in USD. */
  usage: Record<string, { requestsThisMinute: number; requestsToday: number; usdToday: number }>;
}

/** Reads the gate's view of the agent in one pipeline (one slot). */
export async function readGateView(redis: Redis, agentId: string, providerNames: string[], now: number): Promise<GateView> {
  const minute = String(Math.floor(now / 60_000));
  const day = utcDay(now);
  const scopes = ["*", ...providerNames];
  return await withRedis(redis, async () => {
    const pipeline = redis.pipeline();
    pipeline.hgetall(keys.flags(agentId));
    pipeline.hgetall(keys.guardrails(agentId));
    pipeline.get(keys.deny(agentId));
    for (const scope of scopes) {
      pipeline.get(keys.usage(agentId, `rpm:${scope}:${minute}`));
      pipeline.get(keys.usage(agentId, `rpd:${scope}:${day}`));
      pipeline.get(keys.usage(agentId, `usd:${scope}:${day}`));
    }
    const results = (await pipeline.exec()) ?? [];
    const values = results.map(([error, value]) => {
      if (error !== null) throw error;
      return value;
    });
    const flags = (values[0] ?? {}) as Record<string, string>;
    const guardrails = (values[1] ?? {}) as Record<string, string>;
    const deny = values[2] === null || values[2] === undefined ? null : (JSON.parse(values[2] as string) as DenyRecord);
    const usage: GateView["usage"] = {};
    scopes.forEach((scope, i) => {
      const at = 3 + i * 3;
      usage[scope] = {
        requestsThisMinute: Number(values[at] ?? 0),
        requestsToday: Number(values[at + 1] ?? 0),
        usdToday: Number(values[at + 2] ?? 0) / 1e6,
      };
    });
    const tripped: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(flags)) {
      if (!field.startsWith("tripped:")) continue;
      try {
        tripped[field.slice("tripped:".length)] = JSON.parse(value);
      } catch {
        tripped[field.slice("tripped:".length)] = value;
      }
    }
    const providers: Record<string, boolean> = {};
    for (const name of providerNames) providers[name] = flags[`provider:${name}`] !== "0";
    return {
      agentEnabled: flags.agent !== "0",
      providers,
      credentialCutoff: flags.cutoff === undefined ? null : Number(flags.cutoff),
      expiresAt: flags.expiresAt === undefined ? null : Number(flags.expiresAt),
      tripped,
      deny,
      guardrails,
      usage,
    };
  });
}

/** The full view of one agent (the caller has already checked ownership). */
export async function readAgentView(db: Db, redis: Redis, agent: AgentRow, now: number) {
  const [providers, credentials, guardrails] = await Promise.all([
    db.query<ProviderRow>(`SELECT ${providerColumns} FROM provider_connections WHERE agent_id = $1 ORDER BY name`, [
      agent.agent_id,
    ]),
    db.query<CredentialRow>(
      "SELECT id, label, issued_at, revoked_at FROM credentials WHERE agent_id = $1 ORDER BY issued_at, id",
      [agent.agent_id],
    ),
    db.query<GuardrailRow>("SELECT * FROM guardrails WHERE agent_id = $1 ORDER BY scope", [agent.agent_id]),
  ]);
  const gate = await readGateView(
    redis,
    agent.agent_id,
    providers.rows.map((p) => p.name),
    now,
  );
  return {
    ...agentSummary(agent),
    providers: providers.rows.map(providerView),
    credentials: credentials.rows.map(credentialView),
    guardrails: guardrails.rows.map(guardrailView),
    gate,
  };
}
