// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

/// @dev The EAS schema every Killcord agent attestation is made under. Defined here once; the deploy script
///      reads it from `KillcordRegistry.agentSchema()` and registers it with the registry as its resolver.
///      - agentId: the agent's stable identity across key rotations (never zero, never reused once killed);
///      - name: a display name for operators and dashboards;
///      - signer: the agent's own signing key (may be zero); it may attest delegated sub-agents.
string constant AGENT_SCHEMA = "bytes32 agentId,string name,address signer";

/// @dev The deepest a delegation chain may go: a root agent has depth 0, its sub-agents depth 1, and so on.
uint8 constant MAX_DELEGATION_DEPTH = 8;

/// @notice Why an attestation is or is not an active agent, as `status(uid)` answers. The order is part of
///         the ABI: append only.
enum AgentStatus {
    Active,
    Unknown,
    WrongSchema,
    Revoked,
    Expired,
    Killed,
    FleetKilled,
    Superseded,
    AncestorInactive
}

/// @dev AgentRecord.flags bits.
uint8 constant FLAG_REVOKED = 1; // the EAS attestation was revoked
uint8 constant FLAG_KILLED = 2; // the agentId was killed while this was its current attestation

/// @notice What the registry keeps per agent attestation (one uid). Packed into three storage slots (two for a
///         root agent), so that a revocation or kill flips bits in a slot it already touches.
struct AgentRecord {
    bytes32 agentId; // The agent's stable identity (from the attestation data).
    bytes32 parent; // The parent agent's attestation uid, or zero for a root agent.
    address operator; // The root operator: the attester of the root of this agent's delegation tree.
    uint40 expirationTime; // Copied from the attestation: zero never expires.
    uint40 attestedBlock; // The block the attestation was made in (fleet kills cover up to a block).
    uint8 depth; // 0 for a root agent, parent's depth + 1 for a sub-agent.
    uint8 flags; // FLAG_REVOKED | FLAG_KILLED.
}
