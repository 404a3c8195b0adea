// The indexer's tables: the source of truth the reconciler restores Redis from and the status API answers from.
// They mirror what the KillcordRegistry keeps (per attestation and per agentId) plus what the chain said about
// each kill. Ponder reverts rows on reorg and replays handlers on restart; every handler is safe to run twice.
import { index, onchainTable, primaryKey } from "ponder";

/** One Killcord agent attestation (EAS uid), as the registry's `AgentRecord` plus what EAS says about it. */
export const attestation = onchainTable(
  "attestation",
  (t) => ({
    uid: t.hex().primaryKey(),
    // Filled by the registry's AgentRegistered (same transaction as EAS Attested, a few logs later).
    agentId: t.hex(),
    /** The root operator of this agent's delegation tree. */
    operator: t.hex(),
    signer: t.hex(),
    /** Parent attestation uid; null for a root agent. */
    parent: t.hex(),
    depth: t.integer(),
    // From EAS.
    attester: t.hex().notNull(),
    recipient: t.hex().notNull(),
    /** Unix seconds; 0 never expires. */
    expirationTime: t.bigint().notNull(),
    attestedBlock: t.bigint().notNull(),
    /** Unix seconds of the attesting block. */
    attestedAt: t.bigint().notNull(),
    txHash: t.hex().notNull(),
    // What happened to it since (the registry's flags).
    revoked: t.boolean().notNull().default(false),
    /** The agentId was killed while this was its current attestation (registry FLAG_KILLED). */
    killed: t.boolean().notNull().default(false),
    revokedBy: t.hex(),
    revokedBlock: t.bigint(),
    revokedTx: t.hex(),
    supersededBy: t.hex(),
    /** Sub-agent attestations made with this one as parent (lets a kill skip the descendant query when 0). */
    childCount: t.integer().notNull().default(0),
  }),
  (table) => ({
    parentIndex: index().on(table.parent),
    agentIdIndex: index().on(table.agentId),
  }),
);

/**
 * One agent identity (agentId) and its current attestation. `state` is the mirror's verdict: "killed" once the
 * agentId was denied (its current attestation became inactive); it never goes back, like the deny key.
 */
export const agent = onchainTable(
  "agent",
  (t) => ({
    agentId: t.hex().primaryKey(),
    /** The current (latest) attestation uid. */
    uid: t.hex().notNull(),
    operator: t.hex().notNull(),
    signer: t.hex().notNull(),
    /** The current attestation's parent uid; null for a root agent. */
    parent: t.hex(),
    depth: t.integer().notNull(),
    /** Block of the current attestation (fleet kills cover agents attested up to a block). */
    attestedBlock: t.bigint().notNull(),
    /**
     * Unix seconds when the current attestation or one of its delegating ancestors expires, the earliest of
     * them; null when none does. Mirrored into the gate's flags (proxy/store/agentExpiry.ts).
     */
    expiresAt: t.bigint(),
    state: t.text().$type<"active" | "killed">().notNull(),
    // Why it was denied (the deny key's content), set once.
    /** "revoked" | "registry-kill" | "fleet-kill" | "ancestor-inactive" */
    how: t.text(),
    /** Who pulled the cord: the EAS revoker, the registry killer, or the sender of a supersession. */
    initiator: t.hex(),
    reason: t.text(),
    /** For a descendant: the agentId whose kill (or supersession) made it inactive. */
    cause: t.hex(),
    /** The attestation uid current when it was denied. */
    killUid: t.hex(),
    killBlock: t.bigint(),
    killTx: t.hex(),
    /** Milliseconds since the epoch (the block's timestamp). */
    killAt: t.bigint(),
  }),
  (table) => ({
    operatorIndex: index().on(table.operator),
    stateIndex: index().on(table.state),
  }),
);

/** Every kill event the chain produced, with how many agents it newly made inactive. */
export const kill = onchainTable("kill", (t) => ({
  /** Ponder's event id (unique per log). */
  id: t.text().primaryKey(),
  /** "revoked" | "registry-kill" | "fleet-kill" | "superseded" */
  kind: t.text().notNull(),
  agentId: t.hex(),
  uid: t.hex(),
  operator: t.hex().notNull(),
  initiator: t.hex().notNull(),
  reason: t.text().notNull(),
  block: t.bigint().notNull(),
  txHash: t.hex().notNull(),
  /** Milliseconds since the epoch (the block's timestamp). */
  at: t.bigint().notNull(),
  /** Agents this event newly made inactive (descendants included). */
  denied: t.integer().notNull(),
}));

/** The latest fleet kill per operator: every agent attested up to `killedUpToBlock` is dead. */
export const fleetKill = onchainTable("fleet_kill", (t) => ({
  operator: t.hex().primaryKey(),
  killedUpToBlock: t.bigint().notNull(),
  killer: t.hex().notNull(),
  reason: t.text().notNull(),
  txHash: t.hex().notNull(),
}));

/** Guardians operators appointed (they may kill the operator's agents through the registry). */
export const guardian = onchainTable(
  "guardian",
  (t) => ({
    operator: t.hex().notNull(),
    guardian: t.hex().notNull(),
    appointed: t.boolean().notNull(),
    block: t.bigint().notNull(),
    txHash: t.hex().notNull(),
  }),
  (table) => ({ pk: primaryKey({ columns: [table.operator, table.guardian] }) }),
);
