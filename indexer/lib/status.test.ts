import type { Hex } from "viem";
import { describe, expect, it } from "vitest";
import { type AttestationFacts, attestationStatus, ownStatus, type StatusLookup } from "./status.ts";

const id = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as Hex;
const operator = "0x00000000000000000000000000000000000000aa" as Hex;

/** A registry's worth of attestations, current uids and fleet kills, as plain data. */
function registry(attestations: AttestationFacts[], current: Record<Hex, Hex>, fleet: Record<Hex, bigint> = {}): StatusLookup {
  const byUid = new Map(attestations.map((a) => [a.uid, a]));
  return {
    attestation: async (uid) => byUid.get(uid),
    currentUid: async (agentId) => current[agentId],
    fleetKilledUpToBlock: async (op) => fleet[op] ?? 0n,
  };
}

function facts(uid: number, agentId: number, extra: Partial<AttestationFacts> = {}): AttestationFacts {
  return {
    uid: id(uid),
    agentId: id(agentId),
    operator,
    parent: null,
    revoked: false,
    killed: false,
    attestedBlock: 10n,
    expirationTime: 0n,
    ...extra,
  };
}

const now = 1_000n;

describe("the verifier rule", () => {
  it("answers active for a current, unexpired root agent", async () => {
    const a = facts(1, 100);
    expect(await attestationStatus(a, registry([a], { [a.agentId]: a.uid }), now)).toBe("active");
  });

  it("checks revoked before killed and killed before fleet-killed", async () => {
    const both = facts(1, 100, { revoked: true, killed: true });
    const killed = facts(2, 200, { killed: true });
    const lookup = registry([both, killed], { [both.agentId]: both.uid, [killed.agentId]: killed.uid }, { [operator]: 50n });
    expect(await ownStatus(both, lookup, now)).toBe("revoked");
    expect(await ownStatus(killed, lookup, now)).toBe("killed");
  });

  it("fleet-kills attestations up to and including the fleet kill's block", async () => {
    const at = facts(1, 100, { attestedBlock: 50n });
    const after = facts(2, 200, { attestedBlock: 51n });
    const lookup = registry([at, after], { [at.agentId]: at.uid, [after.agentId]: after.uid }, { [operator]: 50n });
    expect(await ownStatus(at, lookup, now)).toBe("fleet-killed");
    expect(await ownStatus(after, lookup, now)).toBe("active");
  });

  it("says superseded for an old attestation, killed once its agent's current one is", async () => {
    const old = facts(1, 100);
    const current = facts(2, 100, { attestedBlock: 20n });
    const live = registry([old, current], { [old.agentId]: current.uid });
    expect(await ownStatus(old, live, now)).toBe("superseded");
    const killed = registry([old, { ...current, killed: true }], { [old.agentId]: current.uid });
    expect(await ownStatus(old, killed, now)).toBe("killed");
    const fleet = registry([old, current], { [old.agentId]: current.uid }, { [operator]: 20n });
    expect(await ownStatus({ ...old, attestedBlock: 30n }, fleet, now)).toBe("killed");
  });

  it("expires at the expiration time, never when it is zero", async () => {
    const a = facts(1, 100, { expirationTime: now });
    const lookup = registry([a], { [a.agentId]: a.uid });
    expect(await ownStatus(a, lookup, now)).toBe("expired");
    expect(await ownStatus(a, lookup, now - 1n)).toBe("active");
    expect(await ownStatus({ ...a, expirationTime: 0n }, lookup, now)).toBe("active");
  });

  it("answers ancestor-inactive when any ancestor is inactive, and the own reason first", async () => {
    const root = facts(1, 100);
    const child = facts(2, 200, { parent: root.uid });
    const grandchild = facts(3, 300, { parent: child.uid });
    const current = { [root.agentId]: root.uid, [child.agentId]: child.uid, [grandchild.agentId]: grandchild.uid };
    const live = registry([root, child, grandchild], current);
    expect(await attestationStatus(grandchild, live, now)).toBe("active");
    const rootRevoked = registry([{ ...root, revoked: true }, child, grandchild], current);
    expect(await attestationStatus(grandchild, rootRevoked, now)).toBe("ancestor-inactive");
    expect(await attestationStatus({ ...grandchild, killed: true }, rootRevoked, now)).toBe("killed");
    const rootRotated = registry([root, child, grandchild, facts(4, 100)], { ...current, [root.agentId]: id(4) });
    expect(await attestationStatus(grandchild, rootRotated, now)).toBe("ancestor-inactive");
  });
});
