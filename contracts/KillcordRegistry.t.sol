// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import { EAS } from "@ethereum-attestation-service/eas-contracts/contracts/EAS.sol";
import {
    AttestationRequest,
    AttestationRequestData,
    DelegatedRevocationRequest,
    RevocationRequest,
    RevocationRequestData
} from "@ethereum-attestation-service/eas-contracts/contracts/IEAS.sol";
import { ISchemaResolver } from "@ethereum-attestation-service/eas-contracts/contracts/resolver/ISchemaResolver.sol";
import { SchemaRegistry } from "@ethereum-attestation-service/eas-contracts/contracts/SchemaRegistry.sol";
import { InvalidSignature, Signature } from "@ethereum-attestation-service/eas-contracts/contracts/Common.sol";

import { AGENT_SCHEMA, MAX_DELEGATION_DEPTH, AgentRecord, AgentStatus } from "./AgentSchema.sol";
import { IKillcordRegistry } from "./IKillcordRegistry.sol";
import { KillcordRegistry } from "./KillcordRegistry.sol";
import { KillcordTest } from "./test/KillcordTest.sol";

contract KillcordRegistryTest is KillcordTest {
    SchemaRegistry internal schemas;
    EAS internal eas;
    KillcordRegistry internal registry;
    bytes32 internal schemaUid;

    uint256 internal constant OPERATOR_KEY = 0xA11CE;
    uint256 internal constant OTHER_OPERATOR_KEY = 0xB0B;
    uint256 internal constant SIGNER_KEY = 0x5167E2;
    address internal operator;
    address internal otherOperator;
    address internal agentSigner;
    address internal constant GUARDIAN = address(0x6A4D);
    address internal constant STRANGER = address(0xBAD);

    function setUp() public {
        schemas = new SchemaRegistry();
        eas = new EAS(schemas);
        registry = new KillcordRegistry(eas);
        schemaUid = schemas.register(AGENT_SCHEMA, ISchemaResolver(address(registry)), true);
        operator = vm.addr(OPERATOR_KEY);
        otherOperator = vm.addr(OTHER_OPERATOR_KEY);
        agentSigner = vm.addr(SIGNER_KEY);
        vm.roll(100);
        vm.warp(1_800_000_000);
    }

    // ------------------------------------------------------------ helpers

    function _attest(address attester, bytes32 agentId, bytes32 parent, address signer, uint64 expiration)
        internal
        returns (bytes32 uid)
    {
        vm.prank(attester);
        uid = eas.attest(
            AttestationRequest({
                schema: schemaUid,
                data: AttestationRequestData({
                    recipient: signer,
                    expirationTime: expiration,
                    revocable: true,
                    refUID: parent,
                    data: abi.encode(agentId, "agent", signer),
                    value: 0
                })
            })
        );
    }

    function _attest(bytes32 agentId) internal returns (bytes32) {
        return _attest(operator, agentId, 0, agentSigner, 0);
    }

    function _child(bytes32 parent, bytes32 agentId) internal returns (bytes32) {
        return _attest(operator, agentId, parent, agentSigner, 0);
    }

    /// @dev An attestation that is not a Killcord agent: a schema without the registry as resolver.
    function _attestUnderPlainSchema() internal returns (bytes32) {
        bytes32 plain = schemas.register("string note", ISchemaResolver(address(0)), true);
        vm.prank(operator);
        return eas.attest(
            AttestationRequest({
                schema: plain,
                data: AttestationRequestData({
                    recipient: address(0),
                    expirationTime: 0,
                    revocable: true,
                    refUID: 0,
                    data: abi.encode("hi"),
                    value: 0
                })
            })
        );
    }

    function _revoke(address revoker, bytes32 uid) internal {
        vm.prank(revoker);
        eas.revoke(RevocationRequest({ schema: schemaUid, data: RevocationRequestData({ uid: uid, value: 0 }) }));
    }

    function _status(bytes32 uid) internal view returns (uint256) {
        return uint256(registry.status(uid));
    }

    function _nextBlock() internal {
        vm.roll(block.number + 1);
        vm.warp(block.timestamp + 12);
    }

    // ------------------------------------------------------------ schema

    function test_agentSchemaUid_matchesTheRegisteredSchema() public view {
        assertEq(registry.agentSchemaUid(), schemaUid, "schema uid");
        assertEq(keccak256(bytes(registry.agentSchema())), keccak256(bytes(AGENT_SCHEMA)), "schema string");
    }

    // ------------------------------------------------------------ attest

    function test_attest_registersAnActiveRootAgent() public {
        bytes32 uid = _attest("a1");
        assertTrue(registry.isActive(uid), "active");
        assertEq(registry.currentUid("a1"), uid, "current uid");
        AgentRecord memory record = registry.getAgent(uid);
        assertEq(record.operator, operator, "operator");
        assertEq(record.depth, 0, "depth");
        assertEq(uint256(registry.agentStatus("a1")), uint256(AgentStatus.Active), "agentStatus");
    }

    function test_attest_revertsWhenAgentIdIsZero() public {
        vm.expectPartialRevert(IKillcordRegistry.ZeroAgentId.selector);
        _attest(bytes32(0));
    }

    function test_attest_revertsWhenNotRevocable() public {
        vm.prank(operator);
        vm.expectPartialRevert(IKillcordRegistry.AttestationNotRevocable.selector);
        eas.attest(
            AttestationRequest({
                schema: schemaUid,
                data: AttestationRequestData({
                    recipient: address(0),
                    expirationTime: 0,
                    revocable: false,
                    refUID: 0,
                    data: abi.encode(bytes32("a1"), "agent", address(0)),
                    value: 0
                })
            })
        );
    }

    function test_attest_revertsForAnotherSchemaUsingTheRegistryAsResolver() public {
        bytes32 foreign = schemas.register("bytes32 agentId", ISchemaResolver(address(registry)), true);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(IKillcordRegistry.WrongSchema.selector, foreign));
        eas.attest(
            AttestationRequest({
                schema: foreign,
                data: AttestationRequestData({
                    recipient: address(0),
                    expirationTime: 0,
                    revocable: true,
                    refUID: 0,
                    data: abi.encode(bytes32("a1")),
                    value: 0
                })
            })
        );
    }

    function test_attest_supersedesTheOldUidOnKeyRotation() public {
        bytes32 oldUid = _attest("a1");
        bytes32 newUid = _attest("a1");
        assertEq(_status(oldUid), uint256(AgentStatus.Superseded), "old superseded");
        assertTrue(registry.isActive(newUid), "new active");
        assertEq(registry.currentUid("a1"), newUid, "current");
    }

    function test_attest_revertsWhenAgentIdBelongsToAnotherOperator() public {
        _attest("a1");
        vm.expectRevert(abi.encodeWithSelector(IKillcordRegistry.AgentIdTaken.selector, bytes32("a1"), operator));
        _attest(otherOperator, "a1", 0, agentSigner, 0);
    }

    function test_attest_revertsWhenAgentIdWasKilled() public {
        bytes32 uid = _attest("a1");
        _revoke(operator, uid);
        vm.expectRevert(abi.encodeWithSelector(IKillcordRegistry.AgentIdKilled.selector, bytes32("a1")));
        _attest("a1");
    }

    // ------------------------------------------------------------ delegation

    function test_delegation_operatorAttestsASubAgent() public {
        bytes32 parent = _attest("p");
        bytes32 child = _child(parent, "c");
        assertTrue(registry.isActive(child), "child active");
        assertEq(registry.getAgent(child).depth, 1, "depth");
        assertEq(registry.getAgent(child).parent, parent, "parent");
    }

    function test_delegation_parentSignerAttestsASubAgentOfTheSameOperator() public {
        bytes32 parent = _attest("p");
        bytes32 child = _attest(agentSigner, "c", parent, address(0), 0);
        assertTrue(registry.isActive(child), "child active");
        assertEq(registry.getAgent(child).operator, operator, "root operator");
    }

    function test_delegation_revertsWhenAttesterIsNeitherOperatorNorSigner() public {
        bytes32 parent = _attest("p");
        vm.expectRevert(abi.encodeWithSelector(IKillcordRegistry.NotParentOperatorOrSigner.selector, STRANGER));
        _attest(STRANGER, "c", parent, address(0), 0);
    }

    function test_delegation_revertsWhenParentIsInactive() public {
        bytes32 parent = _attest("p");
        _revoke(operator, parent);
        vm.expectRevert(
            abi.encodeWithSelector(IKillcordRegistry.ParentInactive.selector, parent, AgentStatus.Revoked)
        );
        _child(parent, "c");
    }

    function test_delegation_revertsWhenParentIsNotAnAgent() public {
        bytes32 notAnAgent = _attestUnderPlainSchema();
        vm.expectRevert(abi.encodeWithSelector(IKillcordRegistry.UnknownParent.selector, notAnAgent));
        _child(notAnAgent, "c");
    }

    function test_delegation_revertsPastTheMaximumDepth() public {
        bytes32 uid = _attest(bytes32(uint256(1)));
        for (uint256 i = 2; i <= MAX_DELEGATION_DEPTH + 1; i++) {
            uid = _child(uid, bytes32(i));
        }
        assertEq(registry.getAgent(uid).depth, MAX_DELEGATION_DEPTH, "deepest allowed");
        vm.expectRevert(abi.encodeWithSelector(IKillcordRegistry.DelegationTooDeep.selector, MAX_DELEGATION_DEPTH + 1));
        _child(uid, "too deep");
    }

    // ------------------------------------------------------------ revoke

    function test_revoke_killsTheAgentAndMakesDescendantsInactive() public {
        bytes32 parent = _attest("p");
        bytes32 child = _child(parent, "c");
        bytes32 grandchild = _child(child, "g");
        _revoke(operator, parent);
        assertEq(_status(parent), uint256(AgentStatus.Revoked), "parent revoked");
        assertEq(_status(child), uint256(AgentStatus.AncestorInactive), "child");
        assertEq(_status(grandchild), uint256(AgentStatus.AncestorInactive), "grandchild");
        assertTrue(registry.isKilled("p"), "agentId killed");
    }

    function test_revoke_ofASupersededUidLeavesTheAgentActive() public {
        bytes32 oldUid = _attest("a1");
        bytes32 newUid = _attest("a1");
        _revoke(operator, oldUid);
        assertEq(_status(oldUid), uint256(AgentStatus.Revoked), "old revoked");
        assertTrue(registry.isActive(newUid), "new still active");
        assertTrue(!registry.isKilled("a1"), "not killed");
    }

    function test_revokeByDelegation_relayedSignatureKillsTheAgent() public {
        bytes32 uid = _attest("a1");
        bytes32 structHash = keccak256(
            abi.encode(eas.getRevokeTypeHash(), operator, schemaUid, uid, uint256(0), eas.getNonce(operator), uint64(0))
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", eas.getDomainSeparator(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(OPERATOR_KEY, digest);
        DelegatedRevocationRequest memory request = DelegatedRevocationRequest({
            schema: schemaUid,
            data: RevocationRequestData({ uid: uid, value: 0 }),
            signature: Signature({ v: v, r: r, s: s }),
            revoker: operator,
            deadline: 0
        });
        vm.prank(STRANGER);
        eas.revokeByDelegation(request);
        assertEq(_status(uid), uint256(AgentStatus.Revoked), "revoked by relay");
        vm.prank(STRANGER);
        vm.expectRevert(InvalidSignature.selector); // the nonce was consumed: a replay fails
        eas.revokeByDelegation(request);
    }

    // ------------------------------------------------------------ guardians and kill

    function test_kill_byAGuardianKillsTheAgent() public {
        bytes32 uid = _attest("a1");
        vm.prank(operator);
        registry.addGuardian(GUARDIAN);
        vm.prank(GUARDIAN);
        registry.kill("a1", "compromised");
        assertEq(_status(uid), uint256(AgentStatus.Killed), "killed");
        assertTrue(!registry.isActive(uid), "inactive");
    }

    function test_kill_revertsWhenCallerIsNotGuardian() public {
        _attest("a1");
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(IKillcordRegistry.NotOperatorOrGuardian.selector, STRANGER, operator));
        registry.kill("a1", "nope");
    }

    function test_kill_revertsForARemovedGuardian() public {
        _attest("a1");
        vm.startPrank(operator);
        registry.addGuardian(GUARDIAN);
        registry.removeGuardian(GUARDIAN);
        vm.stopPrank();
        vm.prank(GUARDIAN);
        vm.expectRevert(abi.encodeWithSelector(IKillcordRegistry.NotOperatorOrGuardian.selector, GUARDIAN, operator));
        registry.kill("a1", "nope");
    }

    function test_kill_revertsWhenAlreadyKilled() public {
        _attest("a1");
        vm.prank(operator);
        registry.kill("a1", "first");
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(IKillcordRegistry.AgentAlreadyKilled.selector, bytes32("a1")));
        registry.kill("a1", "second");
    }

    function test_kill_revertsForAnUnknownAgent() public {
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(IKillcordRegistry.UnknownAgent.selector, bytes32("ghost")));
        registry.kill("ghost", "nope");
    }

    function test_addGuardian_revertsForZeroOrSelf() public {
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(IKillcordRegistry.InvalidGuardian.selector, address(0)));
        registry.addGuardian(address(0));
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(IKillcordRegistry.InvalidGuardian.selector, operator));
        registry.addGuardian(operator);
    }

    // ------------------------------------------------------------ fleet kill

    function test_killFleet_killsEveryAgentAttestedUpToThatBlock() public {
        bytes32 a = _attest("a");
        bytes32 b = _child(a, "b");
        bytes32 other = _attest(otherOperator, "o", 0, address(0), 0);
        _nextBlock();
        vm.prank(operator);
        registry.killFleet(operator, "breach");
        assertEq(_status(a), uint256(AgentStatus.FleetKilled), "a");
        assertEq(_status(b), uint256(AgentStatus.FleetKilled), "b");
        assertTrue(registry.isActive(other), "another operator's agent survives");
        _nextBlock();
        bytes32 fresh = _attest("fresh");
        assertTrue(registry.isActive(fresh), "agents attested later are active");
        vm.expectRevert(abi.encodeWithSelector(IKillcordRegistry.AgentIdKilled.selector, bytes32("a")));
        _attest("a");
    }

    function test_killFleet_byAGuardian() public {
        bytes32 a = _attest("a");
        vm.prank(operator);
        registry.addGuardian(GUARDIAN);
        _nextBlock();
        vm.prank(GUARDIAN);
        registry.killFleet(operator, "key leak");
        assertTrue(!registry.isActive(a), "killed");
    }

    function test_killFleet_revertsWhenCallerIsNotGuardian() public {
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(IKillcordRegistry.NotOperatorOrGuardian.selector, STRANGER, operator));
        registry.killFleet(operator, "nope");
    }

    // ------------------------------------------------------------ status

    function test_status_expiredAttestationIsInactive() public {
        bytes32 uid = _attest(operator, "a1", 0, address(0), uint64(block.timestamp + 60));
        assertTrue(registry.isActive(uid), "active before expiry");
        vm.warp(block.timestamp + 60);
        assertEq(_status(uid), uint256(AgentStatus.Expired), "expired");
    }

    function test_status_unknownAndWrongSchema() public {
        assertEq(_status(bytes32(0)), uint256(AgentStatus.Unknown), "zero uid");
        assertEq(_status("nothing"), uint256(AgentStatus.Unknown), "unknown uid");
        bytes32 uid = _attestUnderPlainSchema();
        assertEq(_status(uid), uint256(AgentStatus.WrongSchema), "wrong schema");
    }

    // ------------------------------------------------------------ gas

    /// @dev Records the call gas of attest and revoke in snapshots/KillcordRegistry.json
    ///      (`npm run test:gas-snapshot`) so a change in gas shows in the diff. The targets (attest <= 400,000,
    ///      revoke <= 110,000) are for whole transactions and are asserted on a real node in
    ///      test/registry.test.ts: call gas inside a test transaction is not a transaction's gas.
    function test_gas_attestAndRevoke() public {
        bytes32 uid = _attest("gas");
        vm.snapshotGasLastCall("KillcordRegistry", "eas.attest root agent");
        bytes32 child = _child(uid, "gas child");
        vm.snapshotGasLastCall("KillcordRegistry", "eas.attest sub-agent");
        _revoke(operator, child);
        vm.snapshotGasLastCall("KillcordRegistry", "eas.revoke");
        vm.prank(operator);
        registry.kill("gas", "measure");
        vm.snapshotGasLastCall("KillcordRegistry", "registry.kill");
    }

    // ------------------------------------------------------------ invariants (fuzzed)

    /// @dev However an agentId is killed, it is never active again: not later in time, not by re-attesting.
    function testFuzz_killedAgentIdIsNeverActiveAgain(bytes32 agentId, uint8 how, uint32 later) public {
        vm.assume(agentId != 0);
        bytes32 uid = _attest(agentId);
        _nextBlock();
        uint8 method = how % 3;
        if (method == 0) _revoke(operator, uid);
        else if (method == 1) {
            vm.prank(operator);
            registry.kill(agentId, "fuzz");
        } else {
            vm.prank(operator);
            registry.killFleet(operator, "fuzz");
        }
        vm.warp(block.timestamp + later);
        vm.roll(block.number + 1 + (later % 1000));
        assertTrue(!registry.isActive(uid), "killed uid inactive");
        vm.expectRevert(abi.encodeWithSelector(IKillcordRegistry.AgentIdKilled.selector, agentId));
        _attest(agentId);
        assertTrue(!registry.isActive(registry.currentUid(agentId)), "agentId stays inactive");
    }

    /// @dev Every descendant of an inactive agent is inactive; its ancestors are untouched.
    function testFuzz_descendantsOfAnInactiveAgentAreInactive(uint8 depthSeed, uint8 killSeed, bool viaRevoke) public {
        uint256 depth = bound(depthSeed, 1, MAX_DELEGATION_DEPTH);
        uint256 killAt = bound(killSeed, 0, depth);
        bytes32[] memory chain = new bytes32[](depth + 1);
        chain[0] = _attest(bytes32(uint256(1)));
        for (uint256 i = 1; i <= depth; i++) {
            chain[i] = _child(chain[i - 1], bytes32(i + 1));
        }
        if (viaRevoke) _revoke(operator, chain[killAt]);
        else {
            vm.prank(operator);
            registry.kill(bytes32(killAt + 1), "fuzz");
        }
        for (uint256 i = 0; i <= depth; i++) {
            bool active = registry.isActive(chain[i]);
            if (i < killAt) assertTrue(active, "ancestor stays active");
            else assertTrue(!active, "killed agent and descendants inactive");
            if (i > killAt) assertEq(_status(chain[i]), uint256(AgentStatus.AncestorInactive), "reason");
        }
    }
}
