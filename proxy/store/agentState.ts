/**
 * The per-agent state the control plane writes into Redis and the gate reads in its one round trip. Every
 * key comes from keys.ts (hash tag `{agentId}`, one Cluster slot per agent). Field formats here are the
 * contract between the control plane (writer) and the data plane's gate script (reader).
 *
 * - keys.flags(agentId): Redis hash
 *     agent            "0" = Tier 2 off (AGENT_DISABLED); absent or "1" = on
 *     provider:<name>  "0" = Tier 1 off for that provider connection (PROVIDER_DISABLED); absent or "1" = on
 *     cutoff           ms epoch; credentials issued before it are dead (CREDENTIAL_REVOKED)
 *     expiresAt        ms epoch; from then on the agent is denied (ATTESTATION_EXPIRED): the earliest expiration
 *                      time of its current attestation and its delegating ancestors'. Written by the indexer
 *                      (the chain's mirror, like deny keys), absent when none of them expires. Unlike a deny
 *                      key it follows the chain both ways: a new attestation of the agentId (key rotation)
 *                      replaces it, so an expired agent can be renewed.
 *     expiresBlock     block of the attestation `expiresAt` describes (agentExpiry.ts: older never overwrites newer)
 *     tripped:<field>  JSON reason a guardrail wrote when it switched <field> ("agent" or "provider:<name>") off;
 *                      the control plane shows it and clears it when the operator switches the field on again
 * - keys.credential(agentId, secretHash): Redis hash, one per issued credential
 *     id               the credential's id (as the control plane lists it)
 *     issuedAt         ms epoch
 *     revokedAt        ms epoch, present once revoked (the key stays so the gate can say CREDENTIAL_REVOKED)
 * - keys.guardrails(agentId): Redis hash of limits; absent field = no limit. `<scope>` is `*` (all providers)
 *   or a provider connection name.
 *     <scope>:rpm      requests per minute
 *     <scope>:rpd      requests per UTC day
 *     <scope>:usd      spend per UTC day, in micro-USD (integer)
 *     <scope>:action   "tier1" or "tier2": what a breach trips
 * - keys.usage(agentId, counter): integer counters with a TTL past their window:
 *     rpm:<scope>:<unix minute>, rpd:<scope>:<yyyymmdd>, usd:<scope>:<yyyymmdd> (micro-USD)
 * - keys.deny(agentId): see denyKey.ts.
 */
import { createHash } from "node:crypto";
import { normalizeAgentId } from "./keys.ts";

/** Agent credentials look like `kc_<64 hex agentId>_<43 base64url secret>`: the agentId is readable. */
const credentialPattern = /^kc_([0-9a-f]{64})_([A-Za-z0-9_-]{43})$/;

export interface ParsedCredential {
  agentId: string;
  /** sha256 hex of the whole credential string: the only form ever stored. */
  secretHash: string;
}

/** Parses a presented credential; undefined when it is not one (the gate answers 401 without Redis). */
export function parseCredential(credential: string): ParsedCredential | undefined {
  const match = credentialPattern.exec(credential);
  if (match === null) return undefined;
  return { agentId: `0x${match[1]}`, secretHash: hashCredential(credential) };
}

export function hashCredential(credential: string): string {
  return createHash("sha256").update(credential).digest("hex");
}

/** Builds a credential string for an agent from 32 random bytes (the control plane shows it once). */
export function formatCredential(agentId: string, secret: Uint8Array): string {
  if (secret.length !== 32) throw new Error("a credential secret is 32 bytes");
  return `kc_${normalizeAgentId(agentId).slice(2)}_${Buffer.from(secret).toString("base64url")}`;
}
