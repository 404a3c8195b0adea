import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../../test/support/postgres.ts";
import { type Db, openDb } from "./index.ts";
import { readMigrations, runMigrations } from "./migrate.ts";
import { openPglite } from "./pglite.ts";

const tables = ["agents", "api_keys", "credentials", "guardrails", "operators", "provider_connections", "siwe_nonces"];

async function tableNames(db: Db): Promise<string[]> {
  const { rows } = await db.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name",
  );
  return rows.map((r) => r.table_name);
}

/** The same behaviour, whichever driver: run against PGlite always and Postgres when one answers locally. */
function behavesLikeTheStore(name: string, open: () => Promise<Db>) {
  describe(name, () => {
    let db: Db;
    beforeAll(async () => {
      db = await open();
    });
    afterAll(async () => {
      await db?.close();
    });

    it("creates every control-plane table at start", async () => {
      expect(await tableNames(db)).toEqual(expect.arrayContaining([...tables, "schema_migrations"]));
    });

    it("returns bigint milliseconds as numbers and bytea as bytes", async () => {
      await db.query("INSERT INTO operators (wallet, created_at) VALUES ($1, $2)", [`0x${"a".repeat(40)}`, 1_750_000_000_123]);
      const { rows } = await db.query("SELECT created_at FROM operators WHERE wallet = $1", [`0x${"a".repeat(40)}`]);
      expect(rows[0].created_at).toBe(1_750_000_000_123);
      const bytes = await db.query("SELECT $1::bytea AS b", [Buffer.from([1, 2, 3])]);
      expect([...Buffer.from(bytes.rows[0].b)]).toEqual([1, 2, 3]);
    });

    it("rolls a failed transaction back", async () => {
      const wallet = `0x${"b".repeat(40)}`;
      await expect(
        db.transaction(async (tx) => {
          await tx.query("INSERT INTO operators (wallet, created_at) VALUES ($1, 1)", [wallet]);
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
      const { rows } = await db.query("SELECT 1 FROM operators WHERE wallet = $1", [wallet]);
      expect(rows).toHaveLength(0);
    });

    it("commits a transaction that resolves", async () => {
      const wallet = `0x${"c".repeat(40)}`;
      await db.transaction(async (tx) => {
        await tx.query("INSERT INTO operators (wallet, created_at) VALUES ($1, 1)", [wallet]);
      });
      const { rows } = await db.query("SELECT 1 FROM operators WHERE wallet = $1", [wallet]);
      expect(rows).toHaveLength(1);
    });

    it("applies each migration once", async () => {
      expect(await runMigrations(db as any)).toEqual([]);
      const { rows } = await db.query("SELECT version FROM schema_migrations ORDER BY version");
      expect(rows.map((r) => r.version)).toEqual(readMigrations().map((m) => m.version));
    });
  });
}

const pgliteDir = mkdtempSync(join(tmpdir(), "killcord-db-"));
afterAll(() => rmSync(pgliteDir, { recursive: true, force: true }));
behavesLikeTheStore("PGlite", () => openDb({ dataDir: pgliteDir }));

describe("PGlite data folder", () => {
  it("keeps data across a reopen", async () => {
    const dir = mkdtempSync(join(tmpdir(), "killcord-db-"));
    try {
      const first = await openDb({ dataDir: dir });
      await first.query("INSERT INTO operators (wallet, created_at) VALUES ($1, 7)", [`0x${"d".repeat(40)}`]);
      await first.close();
      const second = await openDb({ dataDir: dir });
      const { rows } = await second.query("SELECT created_at FROM operators");
      expect(rows).toEqual([{ created_at: 7 }]);
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a second opener while the first holds it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "killcord-db-"));
    try {
      const first = await openPglite(dir);
      await expect(openPglite(dir)).rejects.toThrow(/is open in process/);
      await first.close();
      const again = await openPglite(dir);
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a database migrated by a newer build", async () => {
    const dir = mkdtempSync(join(tmpdir(), "killcord-db-"));
    try {
      const db = await openDb({ dataDir: dir });
      await db.query("INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')");
      await db.close();
      await expect(openDb({ dataDir: dir })).rejects.toThrow(/newer than this build/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Postgres: only when a local server answers (trust auth); the test creates and drops its own database.
describe.skipIf(!postgresAvailable)("Postgres (DATABASE_URL)", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase("killcord_cp_test");
  });
  afterAll(async () => {
    await database?.drop();
  });
  behavesLikeTheStore("Postgres", () => openDb({ dataDir: "/nonexistent", databaseUrl: database.url }));
});
