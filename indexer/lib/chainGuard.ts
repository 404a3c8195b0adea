/**
 * Watches the chain under a running indexer. A local node restarted under it keeps its chain id but starts a
 * new history (new genesis); Ponder would stall on it or, worse, index it on top of the old data. The guard
 * notices the new genesis and stops the process with what to do. It also tracks the chain head's timestamp,
 * the clock the status API checks expirations against.
 */
import { createPublicClient, http } from "viem";
import { CliError } from "../../scripts/lib/errors.ts";
import type { ChainIdentity } from "./chainIdentity.ts";
import { log } from "./log.ts";
import { redactUrl } from "./settings.ts";

export interface ChainGuard {
  /** The newest block timestamp seen (unix seconds), 0 before the first check. */
  headTimestamp(): bigint;
  /** One check now; rejects with WRONG_CHAIN when the chain was reset. */
  check(): Promise<void>;
  stop(): void;
}

export interface ChainGuardOptions {
  rpcUrl: string;
  identity: ChainIdentity;
  intervalMs: number;
  /** What to do on a reset. Default: log the error and exit the process (status 1). */
  onReset?: (error: CliError) => void;
  /** What the operator should do, appended to the error. */
  advice: string;
}

export function startChainGuard(options: ChainGuardOptions): ChainGuard {
  const client = createPublicClient({ transport: http(options.rpcUrl, { retryCount: 0, timeout: 5_000 }) });
  const onReset =
    options.onReset ??
    ((error: CliError) => {
      log.error(error.message);
      process.exit(1);
    });
  let head = 0n;
  let unreachable = false;

  const check = async () => {
    const [genesis, latest] = await Promise.all([client.getBlock({ blockNumber: 0n }), client.getBlock({ blockTag: "latest" })]);
    if (latest.timestamp > head) head = latest.timestamp;
    if (genesis.hash !== options.identity.genesisHash) {
      throw new CliError(
        "WRONG_CHAIN",
        `chain ${options.identity.chainId} at ${redactUrl(options.rpcUrl)} was reset under the running indexer (genesis was ${options.identity.genesisHash}, now ${genesis.hash}); stopping so that its new history is never mixed with the indexed one. ${options.advice}`,
      );
    }
  };

  const tick = async () => {
    try {
      await check();
      if (unreachable) log.info(`chain at ${redactUrl(options.rpcUrl)} answers again`);
      unreachable = false;
    } catch (error) {
      if (error instanceof CliError && error.code === "WRONG_CHAIN") {
        clearInterval(timer);
        onReset(error);
        return;
      }
      if (!unreachable)
        log.warn(`chain at ${redactUrl(options.rpcUrl)} does not answer (${(error as Error).message.split("\n")[0]})`);
      unreachable = true;
    }
  };

  const timer = setInterval(() => void tick(), options.intervalMs);
  timer.unref();
  void tick();
  return {
    headTimestamp: () => head,
    check,
    stop: () => clearInterval(timer),
  };
}
