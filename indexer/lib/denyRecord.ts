/**
 * What the indexer writes into an agent's deny key, built from its row in the `agent` table. The handlers and
 * the reconciler both build it here, so a key restored after a Redis flush says exactly what the first one did.
 */
import type { Hex } from "viem";
import type { DenyRecord } from "../../proxy/store/denyKey.ts";

/** How the chain made an agent inactive (`DenyRecord.how`). Supersession itself denies only descendants. */
export type ChainKillHow = "revoked" | "registry-kill" | "fleet-kill" | "ancestor-inactive";

/** The `agent` columns a deny key is built from (a denied row has every kill field set). */
export interface DeniedAgent {
  agentId: Hex;
  how: string | null;
  initiator: Hex | null;
  reason: string | null;
  cause: Hex | null;
  killUid: Hex | null;
  killBlock: bigint | null;
  killTx: Hex | null;
  killAt: bigint | null;
}

/** The deny record of a denied agent row: killed for good, code ATTESTATION_REVOKED, source "chain". */
export function denyRecordOf(row: DeniedAgent): DenyRecord {
  if (row.how === null || row.initiator === null || row.killUid === null || row.killBlock === null || row.killTx === null) {
    throw new Error(`agent ${row.agentId} is marked killed without its kill fields`);
  }
  const record: DenyRecord = {
    state: "killed",
    code: "ATTESTATION_REVOKED",
    source: "chain",
    how: row.how,
    reason: row.reason ?? "",
    initiator: row.initiator,
    at: Number(row.killAt ?? 0n),
    uid: row.killUid,
    txHash: row.killTx,
    block: Number(row.killBlock),
  };
  if (row.cause !== null) record.cause = row.cause;
  return record;
}
