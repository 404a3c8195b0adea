import { type Abi, BaseError, ContractFunctionRevertedError, type Hex, type TransactionReceipt } from "viem";
import { easAbi } from "../../contracts/abi/EAS.ts";
import { killcordRegistryAbi } from "../../contracts/abi/KillcordRegistry.ts";
import { type ChainConnection, type ConnectOptions, connectChain, requireWallet } from "./chain.ts";
import { type Deployment, deploymentsDir, readDeployment } from "./deployments.ts";
import { CliError, type CliErrorCode } from "./errors.ts";

/** A chain connection plus the Killcord deployment on it: what every operator action needs. */
export interface Killcord extends ChainConnection {
  deployment: Deployment;
}

/** Connects and loads `deployments/<chainId>.json`, refusing a missing or stale (reset chain) deployment. */
export async function openKillcord(options: ConnectOptions & { deploymentsDir?: string } = {}): Promise<Killcord> {
  const connection = await connectChain(options);
  const dir = options.deploymentsDir ?? deploymentsDir();
  const deployment = readDeployment(connection.chain.id, dir);
  if (deployment === undefined) {
    throw new CliError(
      "NOT_DEPLOYED",
      `no Killcord deployment for chain ${connection.chain.id} in ${dir}: run \`killcord deploy\``,
    );
  }
  const genesis = await connection.publicClient.getBlock({ blockNumber: 0n });
  if (genesis.hash !== deployment.genesisHash) {
    throw new CliError(
      "WRONG_CHAIN",
      `deployments/${connection.chain.id}.json was written for another chain instance (genesis ${deployment.genesisHash}, this chain ${genesis.hash}): the chain was reset; run \`killcord deploy\``,
    );
  }
  return { ...connection, deployment };
}

/** Every custom error the registry or EAS can raise, so reverts decode by name. */
const revertAbi = [...killcordRegistryAbi, ...easAbi].filter((item) => item.type === "error") as Abi;

const revertCodes: Record<string, CliErrorCode> = {
  AccessDenied: "NOT_ATTESTER",
  AlreadyRevoked: "ALREADY_REVOKED",
  AgentAlreadyKilled: "AGENT_KILLED",
  AgentIdKilled: "AGENT_KILLED",
  NotOperatorOrGuardian: "NOT_AUTHORIZED",
  NotParentOperatorOrSigner: "NOT_AUTHORIZED",
  AgentIdTaken: "NOT_AUTHORIZED",
  UnknownAgent: "UNKNOWN_AGENT",
  UnknownParent: "UNKNOWN_AGENT",
  InvalidSignature: "INVALID_SIGNATURE",
  InvalidNonce: "INVALID_SIGNATURE",
  DeadlineExpired: "INVALID_SIGNATURE",
};

/** Turns a contract revert into a CliError naming the custom error and its arguments. */
export function explainRevert(error: unknown, action: string): Error {
  if (error instanceof CliError) return error;
  if (error instanceof BaseError) {
    const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
    if (reverted instanceof ContractFunctionRevertedError) {
      const name = reverted.data?.errorName ?? reverted.reason ?? "unknown revert";
      const args = (reverted.data?.args ?? []).map((a) => String(a));
      return new CliError(revertCodes[name] ?? "CONTRACT_REVERT", `${action} reverted: ${name}(${args.join(", ")})`, {
        cause: error,
        details: { error: name, args },
      });
    }
    // shortMessage alone can be as vague as "Missing or invalid parameters"; the node's details say why
    // (e.g. the wallet has no funds for gas).
    const message = error.details ? `${error.shortMessage} (${error.details})` : error.shortMessage;
    if (/fetch failed|ECONNREFUSED|HTTP request failed|socket/i.test(error.message)) {
      return new CliError("RPC_UNREACHABLE", `${action} failed: the chain stopped answering (${message})`, { cause: error });
    }
    return new CliError("CONTRACT_REVERT", `${action} failed: ${message}`, { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** Simulates first (so reverts come back decoded, before any gas is spent), then sends and waits. */
export async function sendContract(
  kc: Killcord,
  action: string,
  call: { address: Hex; abi: Abi; functionName: string; args?: readonly unknown[]; value?: bigint },
): Promise<TransactionReceipt> {
  const wallet = requireWallet(kc);
  try {
    const abi = [...call.abi, ...revertAbi];
    const { request } = await kc.publicClient.simulateContract({ ...call, abi, account: wallet.account } as never);
    const hash = await wallet.writeContract(request as never);
    const receipt = await kc.publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new CliError("CONTRACT_REVERT", `${action} reverted onchain (tx ${hash})`);
    return receipt;
  } catch (error) {
    throw explainRevert(error, action);
  }
}
