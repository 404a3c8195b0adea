// The verifier's status API: GET /agents/<agentId> and GET /attestations/<uid>. Answers come from the tables
// with the registry's rule (lib/status.ts); `active` is false in every error body, so a careless client fails
// closed. Stable error codes: INVALID_AGENT_ID, INVALID_UID (400), UNKNOWN_AGENT, UNKNOWN_ATTESTATION,
// WRONG_SCHEMA (404), NOT_INDEXED_YET, CHAIN_UNAVAILABLE (503).

import schema from "ponder:schema";
import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ReadonlyDrizzle } from "ponder";
import { eq } from "ponder";
import { type Hex, type PublicClient, zeroHash } from "viem";
import { z } from "zod";
import { easAbi } from "../../../contracts/abi/EAS.ts";
import type { AgentStatusName } from "../../../scripts/lib/agentStatus.ts";
import { denyRecordOf } from "../../lib/denyRecord.ts";
import { type AttestationFacts, attestationStatus, type StatusLookup } from "../../lib/status.ts";

type Db = ReadonlyDrizzle<typeof schema>;

export interface StatusRoutesOptions {
  db: Db;
  chainId: number;
  agentSchemaUid: Hex;
  eas: Hex;
  /** Tells an unknown uid from another schema's attestation (the registry's `wrong-schema`). */
  client: PublicClient;
  /** The clock expirations are checked against (unix seconds). */
  nowSeconds: () => bigint;
}

const bytes32 = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/)
  .transform((s) => s.toLowerCase() as Hex);

type ErrorCode =
  | "INVALID_AGENT_ID"
  | "INVALID_UID"
  | "UNKNOWN_AGENT"
  | "UNKNOWN_ATTESTATION"
  | "WRONG_SCHEMA"
  | "NOT_INDEXED_YET"
  | "CHAIN_UNAVAILABLE";

const httpStatus: Record<ErrorCode, ContentfulStatusCode> = {
  INVALID_AGENT_ID: 400,
  INVALID_UID: 400,
  UNKNOWN_AGENT: 404,
  UNKNOWN_ATTESTATION: 404,
  WRONG_SCHEMA: 404,
  NOT_INDEXED_YET: 503,
  CHAIN_UNAVAILABLE: 503,
};

function failure(code: ErrorCode, message: string, status?: AgentStatusName) {
  return {
    body: { active: false, ...(status === undefined ? {} : { status }), error: { code, message } },
    http: httpStatus[code],
  };
}

const num = (value: bigint | null) => (value === null ? null : Number(value));

export function statusRoutes(options: StatusRoutesOptions): Hono {
  const { db } = options;
  const { attestation, agent, fleetKill } = schema;

  const factsOf = (row: typeof attestation.$inferSelect): AttestationFacts | undefined =>
    row.agentId === null || row.operator === null
      ? undefined
      : {
          uid: row.uid,
          agentId: row.agentId,
          operator: row.operator,
          parent: row.parent,
          revoked: row.revoked,
          killed: row.killed,
          attestedBlock: row.attestedBlock,
          expirationTime: row.expirationTime,
        };

  // One lookup per request: memoized reads, so the walk up the tree reads each row once.
  const lookupFor = (): StatusLookup & { row(uid: Hex): Promise<typeof attestation.$inferSelect | undefined> } => {
    const rows = new Map<Hex, Promise<typeof attestation.$inferSelect | undefined>>();
    const row = (uid: Hex) => {
      let found = rows.get(uid);
      if (found === undefined) {
        found = db
          .select()
          .from(attestation)
          .where(eq(attestation.uid, uid))
          .then((r) => r[0]);
        rows.set(uid, found);
      }
      return found;
    };
    return {
      row,
      attestation: async (uid) => {
        const r = await row(uid);
        return r === undefined ? undefined : factsOf(r);
      },
      currentUid: async (agentId) => (await db.select({ uid: agent.uid }).from(agent).where(eq(agent.agentId, agentId)))[0]?.uid,
      fleetKilledUpToBlock: async (operator) =>
        (await db.select({ block: fleetKill.killedUpToBlock }).from(fleetKill).where(eq(fleetKill.operator, operator)))[0]
          ?.block ?? 0n,
    };
  };

  /** An agent record for the response: the mirror's deny verdict next to the chain's status. */
  const agentView = async (agentId: Hex) => {
    const row = (await db.select().from(agent).where(eq(agent.agentId, agentId)))[0];
    if (row === undefined) return undefined;
    return {
      row,
      deny: row.state === "killed" ? denyRecordOf(row) : null,
    };
  };

  /** Not in the tables: an attestation of another schema, one not indexed yet, or nothing at all. */
  const explainMissing = async (uid: Hex) => {
    try {
      const onchain = await options.client.readContract({
        address: options.eas,
        abi: easAbi,
        functionName: "getAttestation",
        args: [uid],
      });
      if (onchain.uid === zeroHash)
        return failure("UNKNOWN_ATTESTATION", `no attestation ${uid} on chain ${options.chainId}`, "unknown");
      if (onchain.schema.toLowerCase() !== options.agentSchemaUid.toLowerCase()) {
        return failure("WRONG_SCHEMA", `attestation ${uid} is not under the Killcord agent schema`, "wrong-schema");
      }
      return failure("NOT_INDEXED_YET", `attestation ${uid} exists but the indexer has not reached its block yet; retry shortly`);
    } catch {
      return failure("CHAIN_UNAVAILABLE", `attestation ${uid} is not indexed and the chain could not be asked about it`);
    }
  };

  const app = new Hono();

  app.get("/agents/:agentId", async (c) => {
    const parsed = bytes32.safeParse(c.req.param("agentId"));
    if (!parsed.success) {
      const f = failure("INVALID_AGENT_ID", "agentId must be 32 bytes of 0x-prefixed hex");
      return c.json(f.body, f.http);
    }
    const agentId = parsed.data;
    const view = await agentView(agentId);
    if (view === undefined) {
      const f = failure("UNKNOWN_AGENT", `no Killcord agent ${agentId} on chain ${options.chainId}`, "unknown");
      return c.json(f.body, f.http);
    }
    const lookup = lookupFor();
    const current = await lookup.attestation(view.row.uid);
    if (current === undefined) {
      const f = failure("NOT_INDEXED_YET", `agent ${agentId}'s attestation is still being indexed; retry shortly`);
      return c.json(f.body, f.http);
    }
    const status = await attestationStatus(current, lookup, options.nowSeconds());
    const attestationRow = await lookup.row(view.row.uid);
    return c.json({
      agentId,
      uid: view.row.uid,
      active: status === "active",
      status,
      operator: view.row.operator,
      signer: view.row.signer,
      parent: view.row.parent,
      depth: view.row.depth,
      attestedBlock: Number(view.row.attestedBlock),
      expirationTime: num(attestationRow?.expirationTime ?? null),
      denied: view.deny !== null,
      deny: view.deny,
      chainId: options.chainId,
    });
  });

  app.get("/attestations/:uid", async (c) => {
    const parsed = bytes32.safeParse(c.req.param("uid"));
    if (!parsed.success) {
      const f = failure("INVALID_UID", "uid must be 32 bytes of 0x-prefixed hex");
      return c.json(f.body, f.http);
    }
    const uid = parsed.data;
    const lookup = lookupFor();
    const row = await lookup.row(uid);
    const facts = row === undefined ? undefined : factsOf(row);
    if (row === undefined || facts === undefined) {
      const f = await explainMissing(uid);
      return c.json(f.body, f.http);
    }
    const status = await attestationStatus(facts, lookup, options.nowSeconds());
    const current = await lookup.currentUid(facts.agentId);
    return c.json({
      uid,
      agentId: facts.agentId,
      active: status === "active",
      status,
      current: current === uid,
      operator: facts.operator,
      attester: row.attester,
      signer: row.signer,
      parent: row.parent,
      depth: row.depth,
      attestedBlock: Number(row.attestedBlock),
      expirationTime: Number(row.expirationTime),
      revoked: row.revoked,
      revokedBy: row.revokedBy,
      revokedBlock: num(row.revokedBlock),
      revokedTx: row.revokedTx,
      supersededBy: row.supersededBy,
      txHash: row.txHash,
      chainId: options.chainId,
    });
  });

  return app;
}
