/**
 * The verifier rule, answered from the indexer's tables: the same reasons, in the same order, as the
 * registry's `status(uid)` view (contracts/KillcordRegistry.sol `_status` / `_ownStatus`). Keep the two in step.
 */
import type { Hex } from "viem";
import type { AgentStatusName } from "../../scripts/lib/agentStatus.ts";

/** What the rule needs to know about one attestation (a row of the `attestation` table). */
export interface AttestationFacts {
  uid: Hex;
  agentId: Hex;
  operator: Hex;
  parent: Hex | null;
  revoked: boolean;
  /** The agentId was killed while this was its current attestation. */
  killed: boolean;
  attestedBlock: bigint;
  /** Unix seconds; 0 never expires. */
  expirationTime: bigint;
}

/** Reads the rule's inputs (from the tables, in the API). */
export interface StatusLookup {
  /** An agent attestation the registry accepted, or undefined when the indexer has none with this uid. */
  attestation(uid: Hex): Promise<AttestationFacts | undefined>;
  /** The agentId's current attestation uid. */
  currentUid(agentId: Hex): Promise<Hex | undefined>;
  /** The block up to which the operator's latest fleet kill reaches; 0 when none. */
  fleetKilledUpToBlock(operator: Hex): Promise<bigint>;
}

async function isFleetKilled(facts: AttestationFacts, lookup: StatusLookup): Promise<boolean> {
  return facts.attestedBlock <= (await lookup.fleetKilledUpToBlock(facts.operator));
}

/** One attestation's own state, ignoring its ancestors: revoked, killed, fleet-killed, superseded, expired. */
export async function ownStatus(facts: AttestationFacts, lookup: StatusLookup, nowSeconds: bigint): Promise<AgentStatusName> {
  if (facts.revoked) return "revoked";
  if (facts.killed) return "killed";
  if (await isFleetKilled(facts, lookup)) return "fleet-killed";
  const current = await lookup.currentUid(facts.agentId);
  if (current !== facts.uid) {
    // A superseded attestation shares its agentId's fate: killed if the current one was killed.
    const currentFacts = current === undefined ? undefined : await lookup.attestation(current);
    if (currentFacts !== undefined && (currentFacts.killed || (await isFleetKilled(currentFacts, lookup)))) return "killed";
    return "superseded";
  }
  if (facts.expirationTime !== 0n && facts.expirationTime <= nowSeconds) return "expired";
  return "active";
}

/**
 * The status of an agent attestation the indexer knows (`facts`): its own state, then every ancestor's.
 * Unknown and wrong-schema uids are the caller's to tell apart (they are not in the tables).
 */
export async function attestationStatus(
  facts: AttestationFacts,
  lookup: StatusLookup,
  nowSeconds: bigint,
): Promise<AgentStatusName> {
  const own = await ownStatus(facts, lookup, nowSeconds);
  if (own !== "active") return own;
  // The registry bounds the chain by its maximum delegation depth; the guard only stops a corrupt table.
  const seen = new Set<Hex>([facts.uid]);
  for (let ancestor = facts.parent; ancestor !== null; ) {
    if (seen.has(ancestor)) throw new Error(`delegation cycle at ${ancestor}`);
    seen.add(ancestor);
    const parent = await lookup.attestation(ancestor);
    if (parent === undefined) return "ancestor-inactive";
    if ((await ownStatus(parent, lookup, nowSeconds)) !== "active") return "ancestor-inactive";
    ancestor = parent.parent;
  }
  return "active";
}
