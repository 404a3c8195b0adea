import {
  type Account,
  type Chain,
  createPublicClient,
  createWalletClient,
  defineChain,
  type Hex,
  http,
  type PublicClient,
  type Transport,
  type WalletClient,
  webSocket,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { CliError } from "./errors.ts";

export const defaultRpcUrl = "http://127.0.0.1:8545";

/**
 * The local Hardhat chain. Defined here rather than imported from `viem/chains`: that entry point loads
 * every chain viem knows (hundreds of modules, ~25 MB of a long-running proxy's memory) for one object.
 */
const hardhat = defineChain({
  id: 31337,
  name: "Hardhat",
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [defaultRpcUrl] } },
});

export interface ChainConnection {
  rpcUrl: string;
  chain: Chain;
  publicClient: PublicClient<Transport, Chain>;
  /** Present only when a private key was given. */
  walletClient: WalletClient<Transport, Chain, Account> | undefined;
  account: Account | undefined;
}

export interface ConnectOptions {
  rpcUrl?: string;
  privateKey?: string;
  /** When set, refuse an RPC endpoint serving another chain. */
  expectedChainId?: number;
}

/** Reads the chain's id (failing with RPC_UNREACHABLE) and builds viem clients for it. */
export async function connectChain(options: ConnectOptions = {}): Promise<ChainConnection> {
  const rpcUrl = options.rpcUrl ?? defaultRpcUrl;
  const transport = rpcUrl.startsWith("ws") ? webSocket(rpcUrl) : http(rpcUrl, { retryCount: 0, timeout: 10_000 });
  const probe = createPublicClient({ transport });
  let chainId: number;
  try {
    chainId = await probe.getChainId();
  } catch (cause) {
    throw new CliError("RPC_UNREACHABLE", `cannot reach the chain at ${rpcUrl} (is the node running?)`, { cause });
  }
  if (options.expectedChainId !== undefined && options.expectedChainId !== chainId) {
    throw new CliError(
      "WRONG_CHAIN",
      `the RPC at ${rpcUrl} serves chain ${chainId}, but chain ${options.expectedChainId} was expected`,
      { details: { chainId, expectedChainId: options.expectedChainId } },
    );
  }
  const chain =
    chainId === hardhat.id
      ? hardhat
      : defineChain({
          id: chainId,
          name: `chain-${chainId}`,
          nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
          rpcUrls: { default: { http: [rpcUrl] } },
        });
  // Automining local nodes answer in milliseconds; polling every 4 s (viem's default) would dominate every call.
  const pollingInterval = chainId === hardhat.id ? 50 : 1_000;
  const publicClient = createPublicClient({ chain, transport, pollingInterval });
  let account: Account | undefined;
  let walletClient: WalletClient<Transport, Chain, Account> | undefined;
  if (options.privateKey !== undefined && options.privateKey !== "") {
    account = parsePrivateKey(options.privateKey);
    walletClient = createWalletClient({ chain, transport, account, pollingInterval });
  }
  return { rpcUrl, chain, publicClient, walletClient, account };
}

function parsePrivateKey(value: string) {
  const hex = (value.startsWith("0x") ? value : `0x${value}`) as Hex;
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) {
    throw new CliError("MISSING_WALLET", "KILLCORD_PRIVATE_KEY must be a 32-byte hex private key");
  }
  return privateKeyToAccount(hex);
}

/** The wallet of a connection, or a clear error telling the operator how to give one. */
export function requireWallet(connection: ChainConnection): WalletClient<Transport, Chain, Account> {
  if (connection.walletClient === undefined) {
    throw new CliError("MISSING_WALLET", "this command sends a transaction: set KILLCORD_PRIVATE_KEY to the wallet's key");
  }
  return connection.walletClient;
}
