import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../scripts/lib/packageRoot.ts";
import type { Session } from "./index.ts";

// From the package root, not from this module: compiled, this module runs from dist/proxy/db/, and the build
// does not copy the SQL files there.
const migrationsDir = join(packageRoot, "proxy", "db", "migrations");

/** Any constant: every proxy instance sharing one Postgres takes this lock, so one of them migrates. */
const migrationLock = 0x6b696c6c;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The numbered SQL files (`0001_name.sql`), in order. */
export function readMigrations(dir = migrationsDir): Migration[] {
  const migrations = readdirSync(dir)
    .filter((file) => file.endsWith(".sql"))
    .map((file) => {
      const match = /^(\d+)_([a-z0-9_]+)\.sql$/.exec(file);
      if (match === null) throw new Error(`migration file ${file} must be named <number>_<name>.sql`);
      return { version: Number(match[1]), name: match[2]!, sql: readFileSync(join(dir, file), "utf8") };
    })
    .sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]!.version === migrations[i - 1]!.version)
      throw new Error(`two migrations numbered ${migrations[i]!.version}`);
  }
  return migrations;
}

/**
 * Applies every migration not yet recorded, all in one transaction under an advisory lock: a failure
 * leaves the schema as it was, and concurrent starts against one Postgres wait for each other.
 * Returns the versions applied.
 */
export async function runMigrations(db: Session, migrations = readMigrations()): Promise<number[]> {
  return await db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [migrationLock]);
    await tx.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    );
    const { rows } = await tx.query<{ version: number }>("SELECT version FROM schema_migrations");
    const applied = new Set(rows.map((r) => Number(r.version)));
    const newest = Math.max(0, ...applied);
    const known = new Set(migrations.map((m) => m.version));
    if ([...applied].some((v) => !known.has(v))) {
      // A newer build migrated this database; running older code against it would be guesswork.
      throw new Error(`the database has schema version ${newest}, newer than this build knows`);
    }
    const done: number[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue;
      await tx.exec(migration.sql);
      await tx.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [migration.version, migration.name]);
      done.push(migration.version);
    }
    return done;
  });
}
