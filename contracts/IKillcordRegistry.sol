// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import { AgentRecord, AgentStatus } from "./AgentSchema.sol";

/// @title IKillcordRegistry
/// @notice The Killcord root of trust: an EAS schema resolver for the agent schema plus a revocation registry
///         with delegation trees, guardians and fleet-wide kills. Every kill here is irreversible: a killed
///         agentId can never be attested active again, and nothing offchain can undo it.
/// @dev Verifiers must use `isActive` / `status`, never EAS `isAttestationValid` (it stays true after revocation).
interface IKillcordRegistry {
    /// @notice An agent attestation was accepted.
    /// @param agentId The agent's stable identity.
    /// @param uid The EAS attestation uid.
    /// @param operator The root operator the agent belongs to.
    /// @param attester Who attested (the operator, or the parent agent's signer for a sub-agent).
    /// @param parent The parent attestation uid, zero for a root agent.
    /// @param signer The agent's own signing address.
    /// @param depth The delegation depth (0 for a root agent).
    event AgentRegistered(
        bytes32 indexed agentId,
        bytes32 indexed uid,
        address indexed operator,
        address attester,
        bytes32 parent,
        address signer,
        uint8 depth
    );

    /// @notice A new attestation for a live agentId replaced the previous one (key rotation).
    event AgentSuperseded(bytes32 indexed agentId, bytes32 indexed oldUid, bytes32 indexed newUid);

    /// @notice An agent's EAS attestation was revoked. When it was the agent's current attestation the
    ///         agentId is killed for good (`killed` true).
    event AgentRevoked(bytes32 indexed agentId, bytes32 indexed uid, address indexed operator, bool killed);

    /// @notice An agent was killed through the registry by its operator or one of the operator's guardians.
    event AgentKilled(
        bytes32 indexed agentId, bytes32 indexed uid, address indexed operator, address killer, string reason
    );

    /// @notice Every agent `operator` attested up to and including block `killedUpToBlock` is killed.
    event FleetKilled(address indexed operator, address indexed killer, uint256 killedUpToBlock, string reason);

    /// @notice `operator` appointed `guardian`, who may now kill the operator's agents.
    event GuardianAdded(address indexed operator, address indexed guardian);

    /// @notice `operator` removed `guardian`.
    event GuardianRemoved(address indexed operator, address indexed guardian);

    /// @notice The attestation is not under the Killcord agent schema.
    error WrongSchema(bytes32 schema);
    /// @notice Agent attestations must be revocable, or the operator could not revoke them.
    error AttestationNotRevocable(bytes32 uid);
    /// @notice The agentId in the attestation data is zero.
    error ZeroAgentId(bytes32 uid);
    /// @notice The agentId was killed; it can never be attested active again.
    error AgentIdKilled(bytes32 agentId);
    /// @notice The agentId belongs to another operator.
    error AgentIdTaken(bytes32 agentId, address operator);
    /// @notice The refUID is not a Killcord agent attestation.
    error UnknownParent(bytes32 parent);
    /// @notice The parent agent is not active (see `status(parent)` for why).
    error ParentInactive(bytes32 parent, AgentStatus status);
    /// @notice Only the parent's operator or the parent agent's own signer may attest a sub-agent.
    error NotParentOperatorOrSigner(address attester);
    /// @notice The delegation chain would be deeper than MAX_DELEGATION_DEPTH.
    error DelegationTooDeep(uint8 depth);
    /// @notice No agent with this agentId was ever registered.
    error UnknownAgent(bytes32 agentId);
    /// @notice The agent is already killed.
    error AgentAlreadyKilled(bytes32 agentId);
    /// @notice The caller is neither the operator nor one of its guardians.
    error NotOperatorOrGuardian(address caller, address operator);
    /// @notice The guardian address is zero or the operator itself.
    error InvalidGuardian(address guardian);
    /// @notice The guardian is already appointed.
    error GuardianAlreadyAppointed(address guardian);
    /// @notice The guardian is not appointed.
    error GuardianNotAppointed(address guardian);

    /// @notice The agent schema string (also registered on EAS with this contract as its resolver).
    function agentSchema() external pure returns (string memory);

    /// @notice The EAS uid of the agent schema with this contract as resolver.
    function agentSchemaUid() external view returns (bytes32);

    /// @notice The deepest delegation allowed.
    function maxDelegationDepth() external pure returns (uint8);

    /// @notice True only when the attestation is an active Killcord agent: it exists under the agent schema,
    ///         is not revoked, expired, killed, fleet-killed or superseded, and every ancestor is active.
    function isActive(bytes32 uid) external view returns (bool);

    /// @notice Why `uid` is or is not active (the first reason that applies, checked in the enum's order).
    function status(bytes32 uid) external view returns (AgentStatus);

    /// @notice `status` of the agent's current attestation; Unknown for an agentId never registered.
    function agentStatus(bytes32 agentId) external view returns (AgentStatus);

    /// @notice The agent's current (latest) attestation uid, zero when never registered.
    function currentUid(bytes32 agentId) external view returns (bytes32);

    /// @notice What the registry keeps for the attestation `uid` (all zero when unknown).
    function getAgent(bytes32 uid) external view returns (AgentRecord memory);

    /// @notice Whether `agentId` was killed (revocation of its current attestation, registry kill or fleet kill).
    function isKilled(bytes32 agentId) external view returns (bool);

    /// @notice The last block covered by `operator`'s latest fleet kill, zero if none.
    function fleetKilledUpToBlock(address operator) external view returns (uint256);

    /// @notice Whether `guardian` may kill `operator`'s agents.
    function isGuardian(address operator, address guardian) external view returns (bool);

    /// @notice Appoints `guardian` for the caller's agents.
    function addGuardian(address guardian) external;

    /// @notice Removes `guardian` from the caller's guardians.
    function removeGuardian(address guardian) external;

    /// @notice Kills `agentId` for good. Callable by the agent's operator or one of its guardians.
    /// @param reason Free text recorded in the event (incident id, why).
    function kill(bytes32 agentId, string calldata reason) external;

    /// @notice Kills every agent `operator` attested up to and including this block. Callable by the
    ///         operator or one of its guardians.
    function killFleet(address operator, string calldata reason) external;
}
