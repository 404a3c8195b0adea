// KillcordRegistry events: registrations, supersessions, and every way the chain makes an agent inactive.
// Each kill marks the agents it made inactive in the tables (descendants included), records the kill, and
// mirrors the newly killed agents into Redis. Handlers are safe to replay: a killed row stays killed with its
// first reason, and the deny key write is add-only, so a replay finds the key and announces nothing.
import { ponder } from "ponder:registry";
import { agent, attestation, fleetKill, guardian, kill } from "ponder:schema";
import type { Hex } from "viem";
import { zeroHash } from "viem";
import type { DeniedAgent } from "../lib/denyRecord.ts";
import { log } from "../lib/log.ts";
import {
  activeAgentsAttestedUpTo,
  applyDenials,
  denialFor,
  descendantDenials,
  type KillFacts,
  killFacts,
  revokedReason,
} from "./deny.ts";
import { agentExpiryOf, effectiveExpiry, mirrorExpiry } from "./expiry.ts";

const lower = (address: string) => address.toLowerCase() as Hex;

/** The `kill` row columns every kill shares. */
const killRow = (facts: KillFacts) => ({
  initiator: facts.initiator,
  reason: facts.reason,
  block: facts.block,
  txHash: facts.txHash,
  at: facts.atMs,
});

ponder.on("KillcordRegistry:AgentRegistered", async ({ event, context }) => {
  const { agentId, uid, operator, attester, parent, signer, depth } = event.args;
  const registry = {
    agentId,
    operator: lower(operator),
    signer: lower(signer),
    parent: parent === zeroHash ? null : parent,
    depth,
  };
  // EAS's Attested (earlier in this transaction) created the row; insert covers a reordered replay too.
  await context.db
    .insert(attestation)
    .values({
      uid,
      ...registry,
      attester: lower(attester),
      recipient: lower(signer),
      expirationTime: 0n,
      attestedBlock: event.block.number,
      attestedAt: event.block.timestamp,
      txHash: event.transaction.hash,
    })
    .onConflictDoUpdate(registry);
  if (registry.parent !== null) {
    await context.db.update(attestation, { uid: registry.parent }).set((row) => ({ childCount: row.childCount + 1 }));
  }
  const current = { uid, ...registry, attestedBlock: event.block.number, expiresAt: await effectiveExpiry(context.db, uid) };
  // The gate's copy first (as with deny keys). A new attestation replaces the agentId's expiry: renewed, or gone.
  await mirrorExpiry(agentExpiryOf(current));
  // A new attestation for a live agentId supersedes the old one; a denied agentId stays denied (add-only).
  await context.db
    .insert(agent)
    .values({ ...current, state: "active" })
    .onConflictDoUpdate(current);
});

ponder.on("KillcordRegistry:AgentSuperseded", async ({ event, context }) => {
  const { agentId, oldUid, newUid } = event.args;
  // The agentId lives on under its new attestation; the old one's sub-agents lose their parent.
  const facts = killFacts(event, lower(event.transaction.from), "parent attestation superseded (key rotation)");
  const denials = await descendantDenials(context.db, [oldUid], facts, agentId);
  await applyDenials(context.db, denials);
  const old = await context.db.update(attestation, { uid: oldUid }).set({ supersededBy: newUid });
  if (denials.length > 0) {
    await context.db.insert(kill).values({
      id: event.id,
      kind: "superseded",
      agentId,
      uid: oldUid,
      operator: old.operator ?? facts.initiator,
      ...killRow(facts),
      denied: denials.length,
    });
  }
});

ponder.on("KillcordRegistry:AgentRevoked", async ({ event, context }) => {
  const { agentId, uid, operator, killed } = event.args;
  const row = await context.db.find(attestation, { uid });
  const facts = killFacts(event, row?.revokedBy ?? lower(event.transaction.from), revokedReason);
  // EAS's Revoked (earlier in this transaction) normally denied the agent already; this covers any other order.
  // Revoking a superseded attestation retires only that uid (`killed` false): the agentId lives on.
  const self = killed ? await denialFor(context.db, agentId, "revoked", facts, null) : undefined;
  if (self !== undefined) await applyDenials(context.db, [self]);
  const descendants = await descendantDenials(context.db, [uid], facts, agentId);
  await applyDenials(context.db, descendants);
  await context.db.update(attestation, { uid }).set((r) => ({ revoked: true, killed: r.killed || killed }));
  const after = await context.db.find(agent, { agentId });
  const deniedSelf = after?.how === "revoked" && after.killTx === event.transaction.hash && after.killUid === uid;
  if (deniedSelf && !killed) {
    // Only a mirror out of step with the registry gets here; the agent stays denied (fail safe).
    log.error(`agent ${agentId} was denied for revoking ${uid}, but the registry says the revocation did not kill it`);
  }
  await context.db.insert(kill).values({
    id: event.id,
    kind: "revoked",
    agentId,
    uid,
    operator: lower(operator),
    ...killRow(facts),
    denied: descendants.length + (deniedSelf ? 1 : 0),
  });
});

ponder.on("KillcordRegistry:AgentKilled", async ({ event, context }) => {
  const { agentId, uid, operator, killer, reason } = event.args;
  const facts = killFacts(event, lower(killer), reason);
  // The agent's own key first, then its descendants': the gate reads the keys, the tables follow.
  const self = await denialFor(context.db, agentId, "registry-kill", facts, null);
  if (self !== undefined) await applyDenials(context.db, [self]);
  const descendants = await descendantDenials(context.db, [uid], facts, agentId);
  await applyDenials(context.db, descendants);
  await context.db.update(attestation, { uid }).set({ killed: true });
  await context.db.insert(kill).values({
    id: event.id,
    kind: "registry-kill",
    agentId,
    uid,
    operator: lower(operator),
    ...killRow(facts),
    denied: descendants.length + (self === undefined ? 0 : 1),
  });
});

ponder.on("KillcordRegistry:FleetKilled", async ({ event, context }) => {
  const { operator, killer, killedUpToBlock, reason } = event.args;
  const fleet = { killedUpToBlock, killer: lower(killer), reason, txHash: event.transaction.hash };
  await context.db
    .insert(fleetKill)
    .values({ operator: lower(operator), ...fleet })
    .onConflictDoUpdate(fleet);
  // Sub-agents share their root's operator and were attested after their parent, so every descendant of a
  // covered agent is covered itself: no separate descendant walk.
  const facts = killFacts(event, lower(killer), reason);
  const denials: DeniedAgent[] = [];
  for (const agentId of await activeAgentsAttestedUpTo(context.db, lower(operator), killedUpToBlock)) {
    const denial = await denialFor(context.db, agentId, "fleet-kill", facts, null);
    if (denial !== undefined) denials.push(denial);
  }
  await applyDenials(context.db, denials);
  await context.db.insert(kill).values({
    id: event.id,
    kind: "fleet-kill",
    agentId: null,
    uid: null,
    operator: lower(operator),
    ...killRow(facts),
    denied: denials.length,
  });
});

ponder.on("KillcordRegistry:GuardianAdded", async ({ event, context }) => {
  const row = { appointed: true, block: event.block.number, txHash: event.transaction.hash };
  await context.db
    .insert(guardian)
    .values({ operator: lower(event.args.operator), guardian: lower(event.args.guardian), ...row })
    .onConflictDoUpdate(row);
});

ponder.on("KillcordRegistry:GuardianRemoved", async ({ event, context }) => {
  const row = { appointed: false, block: event.block.number, txHash: event.transaction.hash };
  await context.db
    .insert(guardian)
    .values({ operator: lower(event.args.operator), guardian: lower(event.args.guardian), ...row })
    .onConflictDoUpdate(row);
});
