// EAS events for the Killcord agent schema (the config filters on its schema uid). EAS logs come first in a
// transaction; the registry's AgentRegistered / AgentRevoked follow a few logs later and carry the verdicts.
import { ponder } from "ponder:registry";
import { agent, attestation } from "ponder:schema";
import type { Hex } from "viem";
import { expirationFromInput } from "../lib/attestationInput.ts";
import { applyDenials, denialFor, killFacts, revokedReason } from "./deny.ts";

ponder.on("EAS:Attested", async ({ event, context }) => {
  // The expiry is in the attestation, not the event: from the calldata when the transaction went straight to
  // EAS, else read at this block (Ponder caches the call).
  const expirationTime =
    expirationFromInput({
      uid: event.args.uid,
      schema: event.args.schemaUID,
      attester: event.args.attester,
      recipient: event.args.recipient,
      blockTimestamp: event.block.timestamp,
      input: event.transaction.input,
    }) ??
    (
      await context.client.readContract({
        abi: context.contracts.EAS.abi,
        address: context.contracts.EAS.address,
        functionName: "getAttestation",
        args: [event.args.uid],
      })
    ).expirationTime;
  const eas = {
    attester: event.args.attester.toLowerCase() as Hex,
    recipient: event.args.recipient.toLowerCase() as Hex,
    expirationTime,
    attestedBlock: event.block.number,
    attestedAt: event.block.timestamp,
    txHash: event.transaction.hash,
  };
  await context.db
    .insert(attestation)
    .values({ uid: event.args.uid, ...eas })
    .onConflictDoUpdate(eas);
});

ponder.on("EAS:Revoked", async ({ event, context }) => {
  const { uid } = event.args;
  const row = await context.db.find(attestation, { uid });
  if (row === null) return;
  // EAS calls the revoker `attester`; it stays the attester even when a relayer sent a delegated revocation.
  const revoker = event.args.attester.toLowerCase() as Hex;
  // Revoking an agent's current attestation kills its agentId. The registry's AgentRevoked says so a few logs
  // later, decided from the same state these tables mirror; denying here already saves the gate those logs.
  if (row.agentId !== null && !row.killed) {
    const current = await context.db.find(agent, { agentId: row.agentId });
    if (current?.uid === uid) {
      const denial = await denialFor(context.db, row.agentId, "revoked", killFacts(event, revoker, revokedReason), null);
      if (denial !== undefined) await applyDenials(context.db, [denial]);
    }
  }
  await context.db.update(attestation, { uid }).set({
    revoked: true,
    revokedBy: revoker,
    revokedBlock: event.block.number,
    revokedTx: event.transaction.hash,
  });
});
