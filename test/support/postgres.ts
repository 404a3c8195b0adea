import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import pg from "pg";

/** The machine's local Postgres (trust auth); tests only create and drop databases of their own on it. */
const adminUrl = "postgres://postgres@127.0.0.1:5432/postgres";

/** Whether a Postgres server answers on 127.0.0.1:5432 (Postgres tests are skipped when none does). */
export const postgresAvailable: boolean = (() => {
  try {
    execFileSync("pg_isready", ["-h", "127.0.0.1", "-p", "5432"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** Runs one statement on a fresh connection (CREATE/DROP DATABASE cannot run inside a pool's transaction). */
export async function queryPostgres<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  /** Drops the database, disconnecting whoever still holds it. */
  drop(): Promise<void>;
}

/** Creates a uniquely named database for one test file. */
export async function createTestDatabase(prefix: string): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(4).toString("hex")}`;
  await queryPostgres(adminUrl, `CREATE DATABASE ${name}`);
  return {
    name,
    url: `postgres://postgres@127.0.0.1:5432/${name}`,
    drop: async () => {
      await queryPostgres(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
