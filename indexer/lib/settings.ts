/**
 * The indexer's settings: one typed object read from the environment, validated and frozen. Only URLs,
 * folders and intervals come from here; addresses and the start block come from `deployments/<chainId>.json`.
 * Shared by the launcher (`killcord indexer`, `npm start`, tests) and by the Ponder process itself.
 */
import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

/** The package root (the folder with package.json, one above indexer/). */
export const packageRoot = fileURLToPath(new URL("../../", import.meta.url));
/** The Ponder app root (ponder.config.ts lives here). */
export const indexerRoot = fileURLToPath(new URL("../", import.meta.url));

export type IndexerDatabase =
  | {
      kind: "pglite";
      /** Folder holding the embedded database (`pglite/`) and the chain identity it was filled from. */
      dataDir: string;
    }
  | {
      kind: "postgres";
      /** Secret: never log it (see `redactUrl`). */
      connectionString: string;
    };

export interface IndexerSettings {
  /** JSON-RPC over HTTP of the indexed chain. KILLCORD_RPC_URL, default "http://127.0.0.1:8545". */
  readonly rpcUrl: string;
  /**
   * WebSocket of the same node, for new-head subscriptions (revocations reach handlers in milliseconds instead
   * of one polling interval). KILLCORD_WS_URL, default unset (HTTP polling).
   */
  readonly wsUrl: string | undefined;
  /** Redis the deny keys are mirrored into. REDIS_URL (or KILLCORD_REDIS_URL), default "redis://127.0.0.1:6379". */
  readonly redisUrl: string;
  /** DATABASE_URL selects Postgres; otherwise PGlite in KILLCORD_INDEXER_DATA_DIR (default "<package>/.killcord/indexer"). */
  readonly database: IndexerDatabase;
  /** Ponder's database schema for this app's tables. DATABASE_SCHEMA, default "killcord". */
  readonly databaseSchema: string;
  /** Folder of `deployments/<chainId>.json`. KILLCORD_DEPLOYMENTS_DIR, default "<package>/deployments". */
  readonly deploymentsDir: string;
  /** Refuse an RPC serving another chain. KILLCORD_CHAIN_ID, default unset (whatever the RPC serves). */
  readonly expectedChainId: number | undefined;
  /**
   * How often the reconciler re-asserts every inactive agent's deny key from the tables, in milliseconds (it
   * also runs at start and whenever the Redis connection comes back). Bounds how long a Redis flush or a
   * failover to an empty replica goes unhealed. KILLCORD_INDEXER_RECONCILE_MS, default 30000.
   */
  readonly reconcileIntervalMs: number;
  /**
   * How often the running indexer checks that the chain under it is still the one it indexed (genesis hash),
   * in milliseconds. KILLCORD_INDEXER_CHAIN_CHECK_MS, default 5000.
   */
  readonly chainCheckIntervalMs: number;
  /** Ponder's HTTP polling interval when no WebSocket is set, in milliseconds. KILLCORD_INDEXER_POLLING_MS, default 1000. */
  readonly pollingIntervalMs: number;
  /** Redis command timeout for mirror writes, in milliseconds (a hung Redis never blocks indexing longer). KILLCORD_INDEXER_REDIS_TIMEOUT_MS, default 2000. */
  readonly redisTimeoutMs: number;
}

const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine(
      (value) => {
        try {
          return protocols.includes(new URL(value).protocol);
        } catch {
          return false;
        }
      },
      `must be a ${protocols.join(" or ")} URL`,
    );

const milliseconds = (fallback: number, min: number) => z.coerce.number().int().min(min).max(86_400_000).default(fallback);

const envSchema = z.object({
  KILLCORD_RPC_URL: url(["http:", "https:"]).default("http://127.0.0.1:8545"),
  KILLCORD_WS_URL: url(["ws:", "wss:"]).optional(),
  REDIS_URL: url(["redis:", "rediss:"]).optional(),
  KILLCORD_REDIS_URL: url(["redis:", "rediss:"]).optional(),
  DATABASE_URL: url(["postgres:", "postgresql:"]).optional(),
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,44}$/, "must be a lowercase SQL identifier of at most 45 characters")
    .refine((s) => s !== "ponder_sync" && s !== "killcord_indexer", "is reserved")
    .default("killcord"),
  KILLCORD_INDEXER_DATA_DIR: z.string().min(1).optional(),
  KILLCORD_DEPLOYMENTS_DIR: z.string().min(1).optional(),
  KILLCORD_CHAIN_ID: z.coerce.number().int().positive().optional(),
  KILLCORD_INDEXER_RECONCILE_MS: milliseconds(30_000, 100),
  KILLCORD_INDEXER_CHAIN_CHECK_MS: milliseconds(5_000, 100),
  KILLCORD_INDEXER_POLLING_MS: milliseconds(1_000, 10),
  KILLCORD_INDEXER_REDIS_TIMEOUT_MS: milliseconds(2_000, 10),
});

/** Empty strings count as unset (a shell's `FOO= cmd`). */
function present(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== "") out[k] = v;
  return out;
}

function absolute(path: string): string {
  return isAbsolute(path) ? path : resolve(packageRoot, path);
}

/** Reads and validates the indexer's settings; throws one error naming every bad variable. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): IndexerSettings {
  const parsed = envSchema.safeParse(present(env));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ");
    throw new Error(`invalid indexer settings: ${problems}`);
  }
  const e = parsed.data;
  const database: IndexerDatabase =
    e.DATABASE_URL !== undefined
      ? { kind: "postgres", connectionString: e.DATABASE_URL }
      : { kind: "pglite", dataDir: absolute(e.KILLCORD_INDEXER_DATA_DIR ?? ".killcord/indexer") };
  return Object.freeze({
    rpcUrl: e.KILLCORD_RPC_URL,
    wsUrl: e.KILLCORD_WS_URL,
    redisUrl: e.REDIS_URL ?? e.KILLCORD_REDIS_URL ?? "redis://127.0.0.1:6379",
    database: Object.freeze(database),
    databaseSchema: e.DATABASE_SCHEMA,
    deploymentsDir: absolute(e.KILLCORD_DEPLOYMENTS_DIR ?? join(packageRoot, "deployments")),
    expectedChainId: e.KILLCORD_CHAIN_ID,
    reconcileIntervalMs: e.KILLCORD_INDEXER_RECONCILE_MS,
    chainCheckIntervalMs: e.KILLCORD_INDEXER_CHAIN_CHECK_MS,
    pollingIntervalMs: e.KILLCORD_INDEXER_POLLING_MS,
    redisTimeoutMs: e.KILLCORD_INDEXER_REDIS_TIMEOUT_MS,
  });
}

/** The PGlite folder inside the data dir (Ponder's own files; our identity file sits beside it). */
export function pgliteDir(dataDir: string): string {
  return join(dataDir, "pglite");
}

/** A URL with its password (and username) removed, for logs. */
export function redactUrl(value: string): string {
  try {
    const u = new URL(value);
    if (u.password !== "") u.password = "***";
    if (u.username !== "") u.username = "***";
    return u.toString();
  } catch {
    return "<unparseable url>";
  }
}
