/**
 * An attestation's expiration time, read from the transaction that made it instead of an RPC call per
 * attestation (a backlog of thousands would otherwise wait on the RPC rate limit). EAS's Attested event does not
 * carry it, but a transaction sent straight to EAS (attest, multiAttest and their delegated forms) holds every
 * request: recomputing each request's uid the way EAS does (`_getUID`, bump 0) finds the one the event names.
 * Anything else (EAS called from another contract, a uid bumped by a collision) returns undefined and the
 * caller asks the chain.
 */
import { decodeFunctionData, encodePacked, type Hex, keccak256 } from "viem";
import { easAbi } from "../../contracts/abi/EAS.ts";

export interface AttestedEventFacts {
  uid: Hex;
  schema: Hex;
  attester: Hex;
  recipient: Hex;
  /** Unix seconds of the block (EAS's `time`). */
  blockTimestamp: bigint;
  /** The calldata of the transaction that emitted the event. */
  input: Hex;
}

interface RequestData {
  recipient: Hex;
  expirationTime: bigint;
  revocable: boolean;
  refUID: Hex;
  data: Hex;
}

/** Every (schema, request) pair of an EAS attest call, in call order; empty for any other calldata. */
function requestsOf(input: Hex): { schema: Hex; data: RequestData }[] {
  let decoded: ReturnType<typeof decodeFunctionData<typeof easAbi>>;
  try {
    decoded = decodeFunctionData({ abi: easAbi, data: input });
  } catch {
    return [];
  }
  switch (decoded.functionName) {
    case "attest":
    case "attestByDelegation": {
      const [request] = decoded.args;
      return [{ schema: request.schema, data: request.data }];
    }
    case "multiAttest":
    case "multiAttestByDelegation": {
      const [requests] = decoded.args;
      return requests.flatMap((r) => r.data.map((data) => ({ schema: r.schema, data })));
    }
    default:
      return [];
  }
}

/** EAS's `_getUID` with bump 0. */
function uidOf(schema: Hex, data: RequestData, attester: Hex, time: bigint): Hex {
  return keccak256(
    encodePacked(
      ["bytes32", "address", "address", "uint64", "uint64", "bool", "bytes32", "bytes", "uint32"],
      [schema, data.recipient, attester, time, data.expirationTime, data.revocable, data.refUID, data.data, 0],
    ),
  );
}

// A multiAttest of n agents emits n events from one calldata: decode it and hash its requests once (per
// attester and block time, which a delegated multi-attest may vary), not once per event.
const byInput = new Map<Hex, { requests: { schema: Hex; data: RequestData }[]; uids: Map<string, Map<Hex, bigint>> }>();

/** The expiration time (unix seconds, 0 = never) of the attestation the event names, when its calldata tells. */
export function expirationFromInput(event: AttestedEventFacts): bigint | undefined {
  let entry = byInput.get(event.input);
  if (entry === undefined) {
    entry = { requests: requestsOf(event.input), uids: new Map() };
    byInput.set(event.input, entry);
    if (byInput.size > 16) byInput.delete(byInput.keys().next().value as Hex);
  }
  if (entry.requests.length === 0) return undefined;
  const key = `${event.attester.toLowerCase()}:${event.blockTimestamp}`;
  let uids = entry.uids.get(key);
  if (uids === undefined) {
    uids = new Map();
    for (const { schema, data } of entry.requests) {
      uids.set(uidOf(schema, data, event.attester, event.blockTimestamp), data.expirationTime);
    }
    entry.uids.set(key, uids);
  }
  return uids.get(event.uid.toLowerCase() as Hex);
}
