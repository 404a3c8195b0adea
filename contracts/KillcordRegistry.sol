// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import { IEAS, Attestation } from "@ethereum-attestation-service/eas-contracts/contracts/IEAS.sol";
import { SchemaResolver } from "@ethereum-attestation-service/eas-contracts/contracts/resolver/SchemaResolver.sol";

import {
    AGENT_SCHEMA, FLAG_KILLED, FLAG_REVOKED, MAX_DELEGATION_DEPTH, AgentRecord, AgentStatus
} from "./AgentSchema.sol";
import { IKillcordRegistry } from "./IKillcordRegistry.sol";

/// @title KillcordRegistry
/// @notice EAS schema resolver for Killcord agents plus the revocation registry. See IKillcordRegistry.
/// @dev The registry keeps its own copy of what the verifier rule needs (agentId, parent, operator, expiry,
///      revocation) so that attesting a sub-agent and answering `status` walk the delegation chain without
///      reading whole attestations back from EAS.
contract KillcordRegistry is IKillcordRegistry, SchemaResolver {
    bytes32 private immutable _agentSchemaUid;

    mapping(bytes32 uid => AgentRecord) private _records;
    mapping(bytes32 agentId => bytes32 uid) private _currentUid;
    mapping(address operator => uint256 blockNumber) private _fleetKilledUpToBlock;
    mapping(address operator => mapping(address guardian => bool appointed)) private _guardians;

    constructor(IEAS eas) SchemaResolver(eas) {
        // Same derivation as EAS's SchemaRegistry: the uid the deploy script will get when it registers
        // AGENT_SCHEMA with this contract as its (revocable) resolver.
        _agentSchemaUid = keccak256(abi.encodePacked(AGENT_SCHEMA, address(this), true));
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IKillcordRegistry
    function agentSchema() external pure returns (string memory) {
        return AGENT_SCHEMA;
    }

    /// @inheritdoc IKillcordRegistry
    function agentSchemaUid() external view returns (bytes32) {
        return _agentSchemaUid;
    }

    /// @inheritdoc IKillcordRegistry
    function maxDelegationDepth() external pure returns (uint8) {
        return MAX_DELEGATION_DEPTH;
    }

    /// @inheritdoc IKillcordRegistry
    function isActive(bytes32 uid) external view returns (bool) {
        return _status(uid) == AgentStatus.Active;
    }

    /// @inheritdoc IKillcordRegistry
    function status(bytes32 uid) external view returns (AgentStatus) {
        return _status(uid);
    }

    /// @inheritdoc IKillcordRegistry
    function agentStatus(bytes32 agentId) external view returns (AgentStatus) {
        bytes32 uid = _currentUid[agentId];
        return uid == 0 ? AgentStatus.Unknown : _status(uid);
    }

    /// @inheritdoc IKillcordRegistry
    function currentUid(bytes32 agentId) external view returns (bytes32) {
        return _currentUid[agentId];
    }

    /// @inheritdoc IKillcordRegistry
    function getAgent(bytes32 uid) external view returns (AgentRecord memory) {
        return _records[uid];
    }

    /// @inheritdoc IKillcordRegistry
    function isKilled(bytes32 agentId) external view returns (bool) {
        bytes32 uid = _currentUid[agentId];
        if (uid == 0) return false;
        AgentRecord storage record = _records[uid];
        return record.flags & FLAG_KILLED != 0 || _isFleetKilled(record);
    }

    /// @inheritdoc IKillcordRegistry
    function fleetKilledUpToBlock(address operator) external view returns (uint256) {
        return _fleetKilledUpToBlock[operator];
    }

    /// @inheritdoc IKillcordRegistry
    function isGuardian(address operator, address guardian) external view returns (bool) {
        return _guardians[operator][guardian];
    }

    // ---------------------------------------------------------------- kills and guardians

    /// @inheritdoc IKillcordRegistry
    function addGuardian(address guardian) external {
        if (guardian == address(0) || guardian == msg.sender) revert InvalidGuardian(guardian);
        if (_guardians[msg.sender][guardian]) revert GuardianAlreadyAppointed(guardian);
        _guardians[msg.sender][guardian] = true;
        emit GuardianAdded(msg.sender, guardian);
    }

    /// @inheritdoc IKillcordRegistry
    function removeGuardian(address guardian) external {
        if (!_guardians[msg.sender][guardian]) revert GuardianNotAppointed(guardian);
        delete _guardians[msg.sender][guardian];
        emit GuardianRemoved(msg.sender, guardian);
    }

    /// @inheritdoc IKillcordRegistry
    function kill(bytes32 agentId, string calldata reason) external {
        bytes32 uid = _currentUid[agentId];
        if (uid == 0) revert UnknownAgent(agentId);
        AgentRecord storage record = _records[uid];
        address operator = record.operator;
        _requireOperatorOrGuardian(operator);
        if (record.flags & FLAG_KILLED != 0) revert AgentAlreadyKilled(agentId);
        // The kill lives on the current attestation's record: a killed agentId never gets another one.
        record.flags |= FLAG_KILLED;
        emit AgentKilled(agentId, uid, operator, msg.sender, reason);
    }

    /// @inheritdoc IKillcordRegistry
    function killFleet(address operator, string calldata reason) external {
        _requireOperatorOrGuardian(operator);
        _fleetKilledUpToBlock[operator] = block.number;
        emit FleetKilled(operator, msg.sender, block.number, reason);
    }

    // ---------------------------------------------------------------- resolver callbacks

    /// @dev Accepts an agent attestation or reverts with the reason it is refused (a revert, not `false`, so
    ///      that the operator sees why).
    function onAttest(Attestation calldata attestation, uint256 /* value */ ) internal override returns (bool) {
        if (attestation.schema != _agentSchemaUid) revert WrongSchema(attestation.schema);
        if (!attestation.revocable) revert AttestationNotRevocable(attestation.uid);
        (bytes32 agentId,, address signer) = abi.decode(attestation.data, (bytes32, string, address));
        if (agentId == 0) revert ZeroAgentId(attestation.uid);

        address operator = attestation.attester;
        uint8 depth = 0;
        bytes32 parent = attestation.refUID;
        if (parent != 0) {
            AgentRecord storage parentRecord = _records[parent];
            if (parentRecord.agentId == 0 || parentRecord.agentId == agentId) revert UnknownParent(parent);
            AgentStatus parentStatus = _status(parent);
            if (parentStatus != AgentStatus.Active) revert ParentInactive(parent, parentStatus);
            operator = parentRecord.operator;
            if (attestation.attester != operator && attestation.attester != _signerOf(parent)) {
                revert NotParentOperatorOrSigner(attestation.attester);
            }
            depth = parentRecord.depth + 1;
            if (depth > MAX_DELEGATION_DEPTH) revert DelegationTooDeep(depth);
        }

        bytes32 previous = _currentUid[agentId];
        if (previous != 0) {
            AgentRecord storage previousRecord = _records[previous];
            if (previousRecord.operator != operator) revert AgentIdTaken(agentId, previousRecord.operator);
            if (previousRecord.flags & FLAG_KILLED != 0 || _isFleetKilled(previousRecord)) revert AgentIdKilled(agentId);
            emit AgentSuperseded(agentId, previous, attestation.uid);
        }
        _currentUid[agentId] = attestation.uid;

        AgentRecord storage record = _records[attestation.uid];
        record.agentId = agentId;
        if (parent != 0) record.parent = parent;
        record.operator = operator;
        record.expirationTime =
            attestation.expirationTime > type(uint40).max ? type(uint40).max : uint40(attestation.expirationTime);
        record.attestedBlock = uint40(block.number);
        record.depth = depth;

        emit AgentRegistered(agentId, attestation.uid, operator, attestation.attester, parent, signer, depth);
        return true;
    }

    /// @dev Revoking an agent's current attestation kills its agentId for good; revoking a superseded one
    ///      only retires that uid (an operator cleaning up after a key rotation must not kill the new key).
    function onRevoke(Attestation calldata attestation, uint256 /* value */ ) internal override returns (bool) {
        AgentRecord storage record = _records[attestation.uid];
        bytes32 agentId = record.agentId;
        uint8 flags = record.flags;
        bool kills = flags & FLAG_KILLED == 0 && _currentUid[agentId] == attestation.uid;
        record.flags = flags | FLAG_REVOKED | (kills ? FLAG_KILLED : 0);
        emit AgentRevoked(agentId, attestation.uid, record.operator, kills);
        return true;
    }

    // ---------------------------------------------------------------- internals

    /// @dev The verifier rule: the attestation's own state, then every ancestor's (bounded by the depth limit
    ///      enforced at attest time).
    function _status(bytes32 uid) internal view returns (AgentStatus) {
        AgentRecord storage record = _records[uid];
        if (record.agentId == 0) {
            if (uid == 0 || _eas.getAttestation(uid).uid == 0) return AgentStatus.Unknown;
            return AgentStatus.WrongSchema;
        }
        AgentStatus own = _ownStatus(uid, record);
        if (own != AgentStatus.Active) return own;
        for (bytes32 ancestor = record.parent; ancestor != 0; ancestor = _records[ancestor].parent) {
            if (_ownStatus(ancestor, _records[ancestor]) != AgentStatus.Active) return AgentStatus.AncestorInactive;
        }
        return AgentStatus.Active;
    }

    /// @dev One attestation's state, ignoring its ancestors. Order: revoked, killed, fleet-killed, superseded,
    ///      expired.
    function _ownStatus(bytes32 uid, AgentRecord storage record) private view returns (AgentStatus) {
        uint8 flags = record.flags;
        if (flags & FLAG_REVOKED != 0) return AgentStatus.Revoked;
        if (flags & FLAG_KILLED != 0) return AgentStatus.Killed;
        if (_isFleetKilled(record)) return AgentStatus.FleetKilled;
        bytes32 current = _currentUid[record.agentId];
        if (current != uid) {
            // A superseded attestation shares its agentId's fate: killed if the current one was killed.
            AgentRecord storage currentRecord = _records[current];
            if (currentRecord.flags & FLAG_KILLED != 0 || _isFleetKilled(currentRecord)) return AgentStatus.Killed;
            return AgentStatus.Superseded;
        }
        uint40 expiration = record.expirationTime;
        if (expiration != 0 && expiration <= _time()) return AgentStatus.Expired;
        return AgentStatus.Active;
    }

    function _isFleetKilled(AgentRecord storage record) private view returns (bool) {
        return record.attestedBlock <= _fleetKilledUpToBlock[record.operator];
    }

    /// @dev The parent agent's own signing address, read from its attestation data (only on the rarer path
    ///      where a sub-agent is attested by someone other than the operator).
    function _signerOf(bytes32 uid) private view returns (address signer) {
        (,, signer) = abi.decode(_eas.getAttestation(uid).data, (bytes32, string, address));
    }

    function _requireOperatorOrGuardian(address operator) private view {
        if (msg.sender != operator && !_guardians[operator][msg.sender]) {
            revert NotOperatorOrGuardian(msg.sender, operator);
        }
    }

    /// @dev The registry's clock (seconds). One function so tests can control it.
    function _time() internal view virtual returns (uint40) {
        return uint40(block.timestamp);
    }
}
