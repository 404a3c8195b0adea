/**
 * Which chain instance the indexer serves, and the guard that never mixes two. A local chain reset keeps its
 * chain id (31337) and even its contract addresses, but starts a new history: its genesis hash changes. The
 * deployments file, the indexer's database and the Redis it mirrors into each remember the genesis they were
 * made for; a mismatch anywhere is refused with what to do, never indexed on top of the old data.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Redis } from "ioredis";
import pg from "pg";
import { createPublicClient, type Hex, http } from "viem";
import { keys } from "../../proxy/store/keys.ts";
import { type Deployment, deploymentPath, readDeployment } from "../../scripts/lib/deployments.ts";
import { CliError } from "../../scripts/lib/errors.ts";
import { type IndexerSettings, pgliteDir, redactUrl } from "./settings.ts";

export interface ChainIdentity {
  chainId: number;
  genesisHash: Hex;
}

/** Reads the chain id and genesis hash from the node (one client, two calls). */
export async function readChainIdentity(rpcUrl: string, timeoutMs = 10_000): Promise<ChainIdentity> {
  const client = createPublicClient({ transport: http(rpcUrl, { retryCount: 0, timeout: timeoutMs }) });
  try {
    const [chainId, genesis] = await Promise.all([client.getChainId(), client.getBlock({ blockNumber: 0n })]);
    return { chainId, genesisHash: genesis.hash };
  } catch (cause) {
    throw new CliError("RPC_UNREACHABLE", `cannot reach the chain at ${redactUrl(rpcUrl)} (is the node running?)`, { cause });
  }
}

/**
 * Connects to the chain named by the settings and loads its deployment, refusing another chain id, a chain
 * with no deployment, or a deployment written for another instance of this chain id (a reset chain).
 */
export async function resolveDeployment(settings: IndexerSettings): Promise<{ identity: ChainIdentity; deployment: Deployment }> {
  const identity = await readChainIdentity(settings.rpcUrl);
  if (settings.expectedChainId !== undefined && settings.expectedChainId !== identity.chainId) {
    throw new CliError(
      "WRONG_CHAIN",
      `the RPC at ${redactUrl(settings.rpcUrl)} serves chain ${identity.chainId}, but KILLCORD_CHAIN_ID is ${settings.expectedChainId}`,
    );
  }
  const deployment = readDeployment(identity.chainId, settings.deploymentsDir);
  if (deployment === undefined) {
    throw new CliError(
      "NOT_DEPLOYED",
      `no Killcord deployment for chain ${identity.chainId} in ${settings.deploymentsDir}: run \`killcord deploy\` first`,
    );
  }
  if (deployment.genesisHash !== identity.genesisHash) {
    throw new CliError(
      "WRONG_CHAIN",
      `${deploymentPath(identity.chainId, settings.deploymentsDir)} was written for another instance of chain ${identity.chainId} (genesis ${deployment.genesisHash}; the node now has ${identity.genesisHash}): the chain was reset. Run \`killcord deploy\`, then start the indexer on a fresh database.`,
    );
  }
  return { identity, deployment };
}

/** What an operator does after a chain reset: start the indexer on a fresh database. */
export function resetAdvice(settings: IndexerSettings, chainId: number): string {
  if (settings.database.kind === "pglite") {
    return `Start the indexer on a fresh database: delete ${settings.database.dataDir} or point KILLCORD_INDEXER_DATA_DIR at a new folder (and run \`killcord deploy\` if the chain has no Killcord deployment yet).`;
  }
  return `Start the indexer on a fresh database: use a new Postgres database in DATABASE_URL, or drop schema "${settings.databaseSchema}", delete chain ${chainId}'s rows from the ponder_sync tables and from killcord_indexer.chain_identity (and run \`killcord deploy\` if the chain has no Killcord deployment yet).`;
}

function mismatch(settings: IndexerSettings, where: string, recorded: ChainIdentity, now: ChainIdentity): CliError {
  return new CliError(
    "WRONG_CHAIN",
    `the indexer database (${where}) holds chain ${recorded.chainId} with genesis ${recorded.genesisHash}, but the node now serves genesis ${now.genesisHash}: the chain was reset under the indexer and its data must not be mixed with the old. ${resetAdvice(settings, now.chainId)}`,
    { details: { recordedGenesis: recorded.genesisHash, chainGenesis: now.genesisHash, chainId: now.chainId } },
  );
}

/**
 * Checks (and on first use records) which chain instance the indexer's database was filled from. PGlite keeps
 * it in `<dataDir>/chain.json` beside the database folder; Postgres in `killcord_indexer.chain_identity`, per
 * database (Ponder's RPC cache, `ponder_sync`, is shared by every schema of a database). Must run before
 * Ponder opens the database.
 */
export async function checkDatabaseIdentity(settings: IndexerSettings, identity: ChainIdentity): Promise<"recorded" | "same"> {
  if (settings.database.kind === "pglite") {
    const { dataDir } = settings.database;
    const file = join(dataDir, "chain.json");
    if (existsSync(file)) {
      const recorded = JSON.parse(readFileSync(file, "utf8")) as ChainIdentity;
      if (recorded.chainId === identity.chainId && recorded.genesisHash === identity.genesisHash) return "same";
      throw mismatch(settings, dataDir, recorded, identity);
    }
    const db = pgliteDir(dataDir);
    if (existsSync(db) && readdirSync(db).length > 0) {
      throw new CliError(
        "WRONG_CHAIN",
        `the indexer database ${db} does not say which chain it was filled from (${file} is missing), so it cannot be trusted with chain ${identity.chainId}. ${resetAdvice(settings, identity.chainId)}`,
      );
    }
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(`${file}.tmp`, `${JSON.stringify(identity, null, 2)}\n`);
    renameSync(`${file}.tmp`, file);
    return "recorded";
  }
  const client = new pg.Client({ connectionString: settings.database.connectionString });
  try {
    await client.connect();
    await client.query("CREATE SCHEMA IF NOT EXISTS killcord_indexer");
    await client.query(
      "CREATE TABLE IF NOT EXISTS killcord_indexer.chain_identity (chain_id BIGINT PRIMARY KEY, genesis_hash TEXT NOT NULL, recorded_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    );
    await client.query(
      "INSERT INTO killcord_indexer.chain_identity (chain_id, genesis_hash) VALUES ($1, $2) ON CONFLICT (chain_id) DO NOTHING",
      [identity.chainId, identity.genesisHash],
    );
    const { rows } = await client.query<{ genesis_hash: Hex }>(
      "SELECT genesis_hash FROM killcord_indexer.chain_identity WHERE chain_id = $1",
      [identity.chainId],
    );
    const recorded = rows[0]?.genesis_hash;
    if (recorded === identity.genesisHash) return "same";
    throw mismatch(
      settings,
      `Postgres ${redactUrl(settings.database.connectionString)}`,
      { chainId: identity.chainId, genesisHash: recorded ?? "0x" },
      identity,
    );
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Checks (and on first use records) which chain instance a Redis holds deny keys for: `keys.indexerChain` is a
 * hash of chain id to genesis hash. A Redis shared with a reset chain is refused unless `replace` (the local
 * stack, which resets its own chain on every start) says to take it over.
 */
export async function checkRedisIdentity(
  redis: Redis,
  identity: ChainIdentity,
  options: { replace?: boolean; redisUrl?: string } = {},
): Promise<"recorded" | "same" | "replaced"> {
  const field = String(identity.chainId);
  const created = await redis.hsetnx(keys.indexerChain, field, identity.genesisHash);
  if (created === 1) return "recorded";
  const recorded = await redis.hget(keys.indexerChain, field);
  if (recorded === identity.genesisHash) return "same";
  if (options.replace === true) {
    await redis.hset(keys.indexerChain, field, identity.genesisHash);
    return "replaced";
  }
  const where = options.redisUrl === undefined ? "this Redis" : `the Redis at ${redactUrl(options.redisUrl)}`;
  throw new CliError(
    "WRONG_CHAIN",
    `${where} holds deny keys mirrored from another instance of chain ${identity.chainId} (genesis ${recorded}; the node now serves ${identity.genesisHash}): the chain was reset. Point REDIS_URL at a Redis for this chain, or, if the old chain's deny keys may go, delete the "${field}" field of ${keys.indexerChain} there.`,
  );
}
