import { type Address, type Hex, isAddress, isHex, parseSignature } from "viem";
import { easAbi } from "../../contracts/abi/EAS.ts";
import { requireWallet } from "../lib/chain.ts";
import { CliError } from "../lib/errors.ts";
import { type Killcord, sendContract } from "../lib/killcord.ts";
import { checkRevocable } from "./revokeAgent.ts";

/** An EIP-712 delegated revocation (EAS `revokeByDelegation`): signed by the attester, relayable by anyone. */
export interface SignedRevocation {
  kind: "killcord.delegated-revocation";
  chainId: number;
  eas: Address;
  schema: Hex;
  uid: Hex;
  agentId: Hex;
  revoker: Address;
  nonce: string;
  /** Unix seconds; "0" never expires. */
  deadline: string;
  signature: Hex;
}

/** EAS 1.4's Revoke type (EIP1271Verifier.REVOKE_TYPEHASH). */
const revokeTypes = {
  Revoke: [
    { name: "revoker", type: "address" },
    { name: "schema", type: "bytes32" },
    { name: "uid", type: "bytes32" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint64" },
  ],
} as const;

async function easDomain(kc: Killcord) {
  const [, name, version, chainId, verifyingContract] = await kc.publicClient.readContract({
    address: kc.deployment.eas,
    abi: easAbi,
    functionName: "eip712Domain",
  });
  return { name, version, chainId, verifyingContract };
}

/** Signs a delegated revocation without sending anything (for cold wallets, break-glass runbooks, relayers). */
export async function signRevocation(kc: Killcord, ref: string, deadline: bigint): Promise<SignedRevocation> {
  const wallet = requireWallet(kc);
  const revoker = wallet.account.address;
  const agent = await checkRevocable(kc, ref, revoker);
  const nonce = await kc.publicClient.readContract({
    address: kc.deployment.eas,
    abi: easAbi,
    functionName: "getNonce",
    args: [revoker],
  });
  const message = { revoker, schema: kc.deployment.agentSchemaUid, uid: agent.uid, value: 0n, nonce, deadline };
  const signature = await wallet.signTypedData({
    domain: await easDomain(kc),
    types: revokeTypes,
    primaryType: "Revoke",
    message,
  });
  return {
    kind: "killcord.delegated-revocation",
    chainId: kc.chain.id,
    eas: kc.deployment.eas,
    schema: message.schema,
    uid: agent.uid,
    agentId: agent.agentId,
    revoker,
    nonce: nonce.toString(),
    deadline: deadline.toString(),
    signature,
  };
}

/** Validates a parsed JSON object as a SignedRevocation, with a clear error for each malformed field. */
export function parseSignedRevocation(input: unknown): SignedRevocation {
  const fail = (why: string): never => {
    throw new CliError("INVALID_SIGNATURE", `not a Killcord delegated revocation: ${why}`);
  };
  if (typeof input !== "object" || input === null) return fail("expected a JSON object");
  const o = input as Record<string, unknown>;
  if (o.kind !== "killcord.delegated-revocation") fail("kind must be killcord.delegated-revocation");
  if (typeof o.chainId !== "number") fail("chainId must be a number");
  for (const field of ["schema", "uid", "agentId"] as const) {
    if (typeof o[field] !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(o[field] as string)) fail(`${field} must be 32 bytes hex`);
  }
  for (const field of ["eas", "revoker"] as const) {
    if (typeof o[field] !== "string" || !isAddress(o[field] as string, { strict: false })) fail(`${field} must be an address`);
  }
  for (const field of ["nonce", "deadline"] as const) {
    if (typeof o[field] !== "string" || !/^[0-9]+$/.test(o[field] as string)) fail(`${field} must be a decimal string`);
  }
  if (typeof o.signature !== "string" || !isHex(o.signature) || o.signature.length !== 132)
    fail("signature must be 65 bytes hex");
  return o as unknown as SignedRevocation;
}

/** Submits a delegated revocation from any wallet. The chain checks the signature, nonce and deadline. */
export async function relayRevocation(
  kc: Killcord,
  signed: SignedRevocation,
): Promise<{ uid: Hex; agentId: Hex; revoker: Address; txHash: Hex; blockNumber: number }> {
  if (signed.chainId !== kc.chain.id) {
    throw new CliError("WRONG_CHAIN", `the revocation was signed for chain ${signed.chainId}, this chain is ${kc.chain.id}`);
  }
  if (signed.eas.toLowerCase() !== kc.deployment.eas.toLowerCase()) {
    throw new CliError("WRONG_CHAIN", `the revocation names EAS at ${signed.eas}, this deployment's EAS is ${kc.deployment.eas}`);
  }
  let parts: ReturnType<typeof parseSignature>;
  try {
    parts = parseSignature(signed.signature);
  } catch (cause) {
    throw new CliError("INVALID_SIGNATURE", "the revocation's signature is not a valid ECDSA signature", { cause });
  }
  const { r, s, v, yParity } = parts;
  const receipt = await sendContract(kc, "relay", {
    address: kc.deployment.eas,
    abi: easAbi,
    functionName: "revokeByDelegation",
    args: [
      {
        schema: signed.schema,
        data: { uid: signed.uid, value: 0n },
        signature: { v: Number(v ?? BigInt(yParity + 27)), r, s },
        revoker: signed.revoker,
        deadline: BigInt(signed.deadline),
      },
    ],
  });
  return {
    uid: signed.uid,
    agentId: signed.agentId,
    revoker: signed.revoker,
    txHash: receipt.transactionHash,
    blockNumber: Number(receipt.blockNumber),
  };
}
