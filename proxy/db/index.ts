/**
 * The control plane's durable store: embedded PGlite by default (one command runs everything), Postgres
 * when DATABASE_URL is set. Both speak the same SQL; numbered migrations in ./migrations run at start.
 * Times are stored as bigint milliseconds and come back as JS numbers from both drivers.
 */
import type { ProxyConfig } from "../config.ts";
import { runMigrations } from "./migrate.ts";

export interface Db {
  /** One statement with $1.. parameters. */
  query<T = any>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  /**
   * Runs `fn` in a transaction: committed when it resolves, rolled back when it throws. Inside, `tx` is the
   * transaction; calling `tx.transaction` joins the same transaction (no nesting).
   */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  /**
   * Postgres only (PGlite serves one process, so nobody else notifies it): follows a NOTIFY channel on a
   * connection of its own, reconnecting forever until stopped or the database is closed. Resolves once
   * the first attempt to listen is done, whether it succeeded or not; resolves the function that stops it.
   */
  listen?(channel: string, handlers: ListenHandlers): Promise<() => Promise<void>>;
  /** Closes the pool and every listener. */
  close(): Promise<void>;
}

/** What a `Db.listen` subscriber is told. */
export interface ListenHandlers {
  /** A notification on the channel, with its payload. */
  onPayload(payload: string): void;
  /**
   * Listening again after having been disconnected (or after a first attempt that failed): notifications
   * sent meanwhile are lost, so whatever they would have kept up to date must be reloaded.
   */
  onGap(): void;
  /** The connection was lost or could not be made: called once per outage, before reconnecting. */
  onDown?(error: Error): void;
}

/** A driver's session: a Db that can also run a multi-statement script (migrations only). */
export interface Session extends Db {
  exec(sql: string): Promise<void>;
  transaction<T>(fn: (tx: Session) => Promise<T>): Promise<T>;
}

/** Opens the configured store (PGlite in config.dataDir unless config.databaseUrl) and migrates it. */
export async function openDb(config: Pick<ProxyConfig, "databaseUrl" | "dataDir">): Promise<Db> {
  // Each driver is loaded only when chosen: PGlite's Emscripten module alone is megabytes of a Postgres-backed
  // proxy's heap, and pg is not needed beside PGlite.
  const db =
    config.databaseUrl === undefined
      ? await (await import("./pglite.ts")).openPglite(config.dataDir)
      : await (await import("./postgres.ts")).openPostgres(config.databaseUrl);
  try {
    await runMigrations(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}
