import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createPublicClient, encodePacked, http, keccak256, parseEventLogs, zeroAddress, zeroHash } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { easAbi } from "../contracts/abi/EAS.ts";
import { killcordRegistryAbi } from "../contracts/abi/KillcordRegistry.ts";
import { schemaRegistryAbi } from "../contracts/abi/SchemaRegistry.ts";
import { readStatus } from "../scripts/actions/readStatus.ts";
import { encodeAgentData, registerAgent } from "../scripts/actions/registerAgent.ts";
import { revokeAgent } from "../scripts/actions/revokeAgent.ts";
import { renderAbiModule } from "../scripts/build-abis.ts";
import { deployKillcord } from "../scripts/deploy/deploy.ts";
import { artifactNames, packageRoot } from "../scripts/lib/artifacts.ts";
import { connectChain } from "../scripts/lib/chain.ts";
import { readDeployment } from "../scripts/lib/deployments.ts";
import type { Killcord } from "../scripts/lib/killcord.ts";
import { startLocalChain } from "../scripts/lib/localChain.ts";
import { startChain, type TestChain, testKeys } from "./support/chain.ts";
import { freePort } from "./support/ports.ts";

let t: TestChain;
let kc: Killcord;

beforeAll(async () => {
  t = await startChain();
  kc = await t.open();
});
afterAll(async () => {
  await t?.close();
});

describe("deployment", () => {
  it("writes deployments/<chainId>.json with addresses, schema uid and block", () => {
    const recorded = readDeployment(31337, t.deploymentsDir);
    expect(recorded).toMatchObject({
      chainId: 31337,
      eas: expect.stringMatching(/^0x[0-9a-fA-F]{40}$/),
      schemaRegistry: expect.stringMatching(/^0x[0-9a-fA-F]{40}$/),
      registry: expect.stringMatching(/^0x[0-9a-fA-F]{40}$/),
      agentSchemaUid: expect.stringMatching(/^0x[0-9a-f]{64}$/),
      agentSchema: "bytes32 agentId,string name,address signer",
    });
    expect(recorded?.deployBlock).toBeGreaterThan(0);
  });

  it("reads the schema string from the contract and registers it with the registry as resolver", async () => {
    const uid = await kc.publicClient.readContract({
      address: t.deployment.registry,
      abi: killcordRegistryAbi,
      functionName: "agentSchemaUid",
    });
    expect(uid).toBe(t.deployment.agentSchemaUid);
  });

  it("deploys nothing when the chain already has the deployment", async () => {
    const connection = await connectChain({ rpcUrl: t.chain.rpcUrl, privateKey: testKeys.operator });
    const before = await connection.publicClient.getBlockNumber();
    const again = await deployKillcord(connection, t.deploymentsDir);
    expect(again.deployed).toBe(false);
    expect(again.deployment.registry).toBe(t.deployment.registry);
    expect(await connection.publicClient.getBlockNumber()).toBe(before);
  });

  it("deploys again on a fresh local chain (new genesis)", async () => {
    const fresh = await startLocalChain({ port: await freePort() });
    try {
      const connection = await connectChain({ rpcUrl: fresh.rpcUrl, privateKey: testKeys.operator });
      const result = await deployKillcord(connection, t.deploymentsDir);
      expect(result.deployed).toBe(true);
      expect(result.deployment.genesisHash).not.toBe(t.deployment.genesisHash);
    } finally {
      await fresh.stop();
      // Put the first chain's record back for the other tests in this file.
      const connection = await connectChain({ rpcUrl: t.chain.rpcUrl, privateKey: testKeys.operator });
      await deployKillcord(connection, t.deploymentsDir);
    }
  });
});

describe("gas", () => {
  it("keeps attest under 400,000 and an EAS revoke through the resolver under 110,000", async () => {
    const parent = await registerAgent(kc, { name: "research-agent", signer: "0x70997970c51812dc3a010c7d01b509dc4696c79c" });
    const child = await registerAgent(kc, { name: "research-sub-1", parent: parent.uid });
    const revoked = await revokeAgent(kc, child.uid);
    const gas = async (hash: `0x${string}`) => (await kc.publicClient.getTransactionReceipt({ hash })).gasUsed;
    const figures = {
      attest: await gas(parent.txHash),
      attestSubAgent: await gas(child.txHash),
      revoke: await gas(revoked.txHash),
    };
    // The same attestation and revocation on EAS alone (same schema string, no resolver), for comparison.
    const wallet = kc.walletClient!;
    const schemaString = t.deployment.agentSchema;
    const register = await wallet.writeContract({
      address: t.deployment.schemaRegistry,
      abi: schemaRegistryAbi,
      functionName: "register",
      args: [schemaString, zeroAddress, true],
    });
    await kc.publicClient.waitForTransactionReceipt({ hash: register });
    const plainSchema = keccak256(encodePacked(["string", "address", "bool"], [schemaString, zeroAddress, true]));
    const plainAttest = await wallet.writeContract({
      address: t.deployment.eas,
      abi: easAbi,
      functionName: "attest",
      args: [
        {
          schema: plainSchema,
          data: {
            recipient: "0x70997970c51812dc3a010c7d01b509dc4696c79c",
            expirationTime: 0n,
            revocable: true,
            refUID: zeroHash,
            data: encodeAgentData(keccak256("0x01"), "research-agent", "0x70997970c51812dc3a010c7d01b509dc4696c79c"),
            value: 0n,
          },
        },
      ],
    });
    const attestReceipt = await kc.publicClient.waitForTransactionReceipt({ hash: plainAttest });
    const [attested] = parseEventLogs({ abi: easAbi, eventName: "Attested", logs: attestReceipt.logs });
    const plainRevoke = await wallet.writeContract({
      address: t.deployment.eas,
      abi: easAbi,
      functionName: "revoke",
      args: [{ schema: plainSchema, data: { uid: attested!.args.uid, value: 0n } }],
    });
    await kc.publicClient.waitForTransactionReceipt({ hash: plainRevoke });
    console.log("transaction gas", figures, "EAS alone", { attest: attestReceipt.gasUsed, revoke: await gas(plainRevoke) });
    expect(figures.attest).toBeLessThanOrEqual(400_000n);
    expect(figures.attestSubAgent).toBeLessThanOrEqual(400_000n);
    expect(figures.revoke).toBeLessThanOrEqual(110_000n);
  });
});

describe("readStatus", () => {
  it("sees the caller's own revocation at once, whatever block number the client has cached", async () => {
    // A client polling like one on a real chain (1 s and more): viem caches the block number that long.
    const slow = {
      ...kc,
      publicClient: createPublicClient({ chain: kc.chain, transport: http(t.chain.rpcUrl), pollingInterval: 60_000 }),
    };
    const agent = await registerAgent(kc, { name: "status-reader" });
    expect((await readStatus(slow, agent.uid)).status).toBe("active");
    await revokeAgent(kc, agent.uid);
    const after = await readStatus(slow, agent.uid);
    expect(after.status).toBe("revoked");
    expect(after.active).toBe(false);
  });
});

describe("generated ABIs", () => {
  it("contracts/abi matches the compiled contracts (run `npm run build:abis` after changing Solidity)", () => {
    for (const name of artifactNames) {
      const committed = readFileSync(join(packageRoot, "contracts/abi", `${name}.ts`), "utf8");
      expect(committed, `${name}.ts is stale`).toBe(renderAbiModule(name));
    }
  });
});
