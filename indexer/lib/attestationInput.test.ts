import { encodeFunctionData, type Hex, parseEventLogs, toHex, zeroAddress, zeroHash } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { easAbi } from "../../contracts/abi/EAS.ts";
import { schemaRegistryAbi } from "../../contracts/abi/SchemaRegistry.ts";
import { encodeAgentData } from "../../scripts/actions/registerAgent.ts";
import type { Killcord } from "../../scripts/lib/killcord.ts";
import { startChain, type TestChain } from "../../test/support/chain.ts";
import { expirationFromInput } from "./attestationInput.ts";

let chain: TestChain;
let kc: Killcord;

beforeAll(async () => {
  chain = await startChain();
  kc = await chain.open();
});
afterAll(async () => {
  await chain?.close();
});

async function send(data: Hex, to: Hex) {
  const hash = await kc.walletClient!.sendTransaction({ to, data });
  return await kc.publicClient.waitForTransactionReceipt({ hash });
}

describe("expiration from calldata", () => {
  it("finds each attestation's expiration in a multiAttest mixing schemas, as EAS recorded it", async () => {
    const registered = await send(
      encodeFunctionData({ abi: schemaRegistryAbi, functionName: "register", args: ["string note", zeroAddress, true] }),
      kc.deployment.schemaRegistry,
    );
    const noteSchema = parseEventLogs({ abi: schemaRegistryAbi, eventName: "Registered", logs: registered.logs })[0]!.args.uid;
    const { timestamp } = await kc.publicClient.getBlock();
    const agent = (expirationTime: bigint) => ({
      recipient: zeroAddress,
      expirationTime,
      revocable: true,
      refUID: zeroHash,
      data: encodeAgentData(toHex(crypto.getRandomValues(new Uint8Array(32))), "a", zeroAddress),
      value: 0n,
    });
    const input = encodeFunctionData({
      abi: easAbi,
      functionName: "multiAttest",
      args: [
        [
          { schema: kc.deployment.agentSchemaUid, data: [agent(0n), agent(timestamp + 3_600n)] },
          {
            schema: noteSchema,
            data: [{ recipient: zeroAddress, expirationTime: 0n, revocable: true, refUID: zeroHash, data: "0x", value: 0n }],
          },
          { schema: kc.deployment.agentSchemaUid, data: [agent(timestamp + 7_200n)] },
        ],
      ],
    });
    const receipt = await send(input, kc.deployment.eas);
    const block = await kc.publicClient.getBlock({ blockNumber: receipt.blockNumber });
    const events = parseEventLogs({ abi: easAbi, eventName: "Attested", logs: receipt.logs });
    expect(events).toHaveLength(4);
    for (const { args } of events) {
      const onchain = await kc.publicClient.readContract({
        address: kc.deployment.eas,
        abi: easAbi,
        functionName: "getAttestation",
        args: [args.uid],
      });
      const found = expirationFromInput({
        uid: args.uid,
        schema: args.schemaUID,
        attester: args.attester,
        recipient: args.recipient,
        blockTimestamp: block.timestamp,
        input,
      });
      expect(found).toBe(onchain.expirationTime);
    }
  });

  it("gives up on calldata that is not an EAS attest call", () => {
    const facts = { uid: zeroHash, schema: zeroHash, attester: zeroAddress, recipient: zeroAddress, blockTimestamp: 1n };
    expect(expirationFromInput({ ...facts, input: "0x" })).toBeUndefined();
    const revoke = encodeFunctionData({
      abi: easAbi,
      functionName: "revoke",
      args: [{ schema: zeroHash, data: { uid: zeroHash, value: 0n } }],
    });
    expect(expirationFromInput({ ...facts, input: revoke })).toBeUndefined();
  });
});
