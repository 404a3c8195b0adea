// Marking agents killed in the tables and mirroring them into Redis: the part every kill handler shares.
// (Ponder loads every file under src/ as indexing code; this one registers no handler.)

import type { Context } from "ponder:registry";
import { agent, attestation } from "ponder:schema";
import { and, eq, inArray, lte } from "ponder";
import type { Hex } from "viem";
import type { ChainKillHow, DeniedAgent } from "../lib/denyRecord.ts";
import { currentMirror } from "../lib/mirror.ts";

type Db = Context["db"];

/** What the chain said about one kill: who, why, where. */
export interface KillFacts {
  initiator: Hex;
  reason: string;
  block: bigint;
  txHash: Hex;
  /** Milliseconds since the epoch (the block's timestamp). */
  atMs: bigint;
}

/** The reason recorded for an EAS revocation (EAS carries none). */
export const revokedReason = "attestation revoked on EAS";

/** The facts of the event being handled (block time in milliseconds, so replays write the same record). */
export function killFacts(
  event: { block: { number: bigint; timestamp: bigint }; transaction: { hash: Hex } },
  initiator: Hex,
  reason: string,
): KillFacts {
  return { initiator, reason, block: event.block.number, txHash: event.transaction.hash, atMs: event.block.timestamp * 1000n };
}

/**
 * The denial the event means for `agentId`, if it is still active in the tables (a killed agent keeps its first
 * reason forever, like its deny key). Reads only: the caller mirrors it to Redis first (what the gate reads),
 * then records it with `recordDenials`.
 */
export async function denialFor(
  db: Db,
  agentId: Hex,
  how: ChainKillHow,
  facts: KillFacts,
  cause: Hex | null,
): Promise<DeniedAgent | undefined> {
  const row = await db.find(agent, { agentId });
  if (row === null || row.state === "killed") return undefined;
  return {
    agentId,
    how,
    initiator: facts.initiator,
    reason: facts.reason,
    cause,
    killUid: row.uid,
    killBlock: facts.block,
    killTx: facts.txHash,
    killAt: facts.atMs,
  };
}

/** Marks the agents of `denials` killed in the tables, with the reason each was denied for. */
export async function recordDenials(db: Db, denials: readonly DeniedAgent[]): Promise<void> {
  for (const { agentId, ...why } of denials) await db.update(agent, { agentId }).set({ state: "killed", ...why });
}

/**
 * The denials of every agent whose current attestation descends from one of `uids` (each becomes
 * ancestor-inactive). Walks the delegation tree down through every child, superseded ones included, but denies
 * a child's agentId only when that child is its current attestation: a sub-agent re-attested under another
 * parent lives on.
 */
export async function descendantDenials(db: Db, uids: readonly Hex[], facts: KillFacts, cause: Hex): Promise<DeniedAgent[]> {
  const denied: DeniedAgent[] = [];
  const seen = new Set<Hex>(uids);
  let frontier: Hex[] = [...uids];
  while (frontier.length > 0) {
    // Most agents have no sub-agents: the child count (a cached row read) spares the query then.
    const parents: Hex[] = [];
    for (const uid of frontier) {
      const row = await db.find(attestation, { uid });
      if (row !== null && row.childCount > 0) parents.push(uid);
    }
    if (parents.length === 0) break;
    const children = await db.sql
      .select({ uid: attestation.uid, agentId: attestation.agentId })
      .from(attestation)
      .where(inArray(attestation.parent, parents));
    frontier = [];
    for (const child of children) {
      if (seen.has(child.uid)) continue;
      seen.add(child.uid);
      frontier.push(child.uid);
      if (child.agentId === null) continue;
      const current = await db.find(agent, { agentId: child.agentId });
      if (current === null || current.uid !== child.uid) continue;
      const denial = await denialFor(db, child.agentId, "ancestor-inactive", facts, cause);
      if (denial !== undefined) denied.push(denial);
    }
  }
  return denied;
}

/** The operator's agents still active in the tables whose current attestation is at or before `upToBlock`. */
export async function activeAgentsAttestedUpTo(db: Db, operator: Hex, upToBlock: bigint): Promise<Hex[]> {
  const rows = await db.sql
    .select({ agentId: agent.agentId })
    .from(agent)
    .where(and(eq(agent.operator, operator), eq(agent.state, "active"), lte(agent.attestedBlock, upToBlock)));
  return rows.map((r) => r.agentId);
}

/**
 * Applies denials: the deny keys first (what the gate reads; never throws, a failed write is retried by the
 * mirror and the reconciler), then the rows.
 */
export async function applyDenials(db: Db, denials: readonly DeniedAgent[]): Promise<void> {
  if (denials.length === 0) return;
  await currentMirror()?.deny(denials);
  await recordDenials(db, denials);
}
