import { type Address, encodeAbiParameters, getAddress, type Hex, isAddress, parseEventLogs, toHex, zeroAddress } from "viem";
import { easAbi } from "../../contracts/abi/EAS.ts";
import { CliError } from "../lib/errors.ts";
import { type Killcord, sendContract } from "../lib/killcord.ts";
import { parseBytes32 } from "./resolveAgent.ts";

export interface RegisterAgentParams {
  name: string;
  /** The agent's own signing address (zero when it has none). */
  signer?: string;
  /** The parent agent's attestation uid, for a delegated sub-agent. */
  parent?: string;
  /** Reuse an agentId (key rotation supersedes the old attestation); random when absent. */
  agentId?: string;
  /** Unix seconds after which the attestation expires; 0 never. */
  expirationTime?: bigint;
}

export interface RegisteredAgent {
  agentId: Hex;
  uid: Hex;
  name: string;
  signer: Address;
  parent: Hex;
  txHash: Hex;
  blockNumber: number;
}

const agentDataParams = [
  { name: "agentId", type: "bytes32" },
  { name: "name", type: "string" },
  { name: "signer", type: "address" },
] as const;

/** Encodes attestation data for the agent schema ("bytes32 agentId,string name,address signer"). */
export function encodeAgentData(agentId: Hex, name: string, signer: Address): Hex {
  return encodeAbiParameters(agentDataParams, [agentId, name, signer]);
}

/** Attests an agent on EAS under the Killcord schema; the registry (its resolver) accepts or reverts. */
export async function registerAgent(kc: Killcord, params: RegisterAgentParams): Promise<RegisteredAgent> {
  if (params.name.trim() === "") throw new CliError("INVALID_ARGUMENT", "--name must not be empty");
  const signerInput = params.signer ?? zeroAddress;
  if (!isAddress(signerInput, { strict: false })) {
    throw new CliError("INVALID_ARGUMENT", `--signer must be an address, got ${params.signer}`);
  }
  const signer = getAddress(signerInput);
  const parent = params.parent === undefined ? (`0x${"0".repeat(64)}` as Hex) : parseBytes32(params.parent, "--parent");
  const agentId =
    params.agentId === undefined ? toHex(crypto.getRandomValues(new Uint8Array(32))) : parseBytes32(params.agentId, "--agent-id");
  const receipt = await sendContract(kc, "agent register", {
    address: kc.deployment.eas,
    abi: easAbi,
    functionName: "attest",
    args: [
      {
        schema: kc.deployment.agentSchemaUid,
        data: {
          recipient: signer,
          expirationTime: params.expirationTime ?? 0n,
          revocable: true,
          refUID: parent,
          data: encodeAgentData(agentId, params.name, signer),
          value: 0n,
        },
      },
    ],
  });
  const [attested] = parseEventLogs({ abi: easAbi, eventName: "Attested", logs: receipt.logs });
  if (attested === undefined) throw new Error(`no Attested event in tx ${receipt.transactionHash}`);
  return {
    agentId,
    uid: attested.args.uid,
    name: params.name,
    signer,
    parent,
    txHash: receipt.transactionHash,
    blockNumber: Number(receipt.blockNumber),
  };
}
