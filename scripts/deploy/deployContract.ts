import type { Abi, Address, Hex } from "viem";
import { type ContractName, loadArtifact } from "../lib/artifacts.ts";
import { type ChainConnection, requireWallet } from "../lib/chain.ts";

/** Deploys a compiled contract and waits for it; returns its address and block. */
export async function deployContract(
  connection: ChainConnection,
  name: ContractName,
  args: readonly unknown[] = [],
): Promise<{ address: Address; blockNumber: bigint; txHash: Hex }> {
  const wallet = requireWallet(connection);
  const { abi, bytecode } = loadArtifact(name);
  const txHash = await wallet.deployContract({ abi: abi as Abi, bytecode, args: args as unknown[] });
  const receipt = await connection.publicClient.waitForTransactionReceipt({ hash: txHash });
  if (receipt.status !== "success" || receipt.contractAddress == null) {
    throw new Error(`deploying ${name} failed (tx ${txHash})`);
  }
  return { address: receipt.contractAddress, blockNumber: receipt.blockNumber, txHash };
}
