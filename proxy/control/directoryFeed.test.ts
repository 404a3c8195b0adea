import type { FastifyBaseLogger } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, postgresAvailable, queryPostgres, type TestDatabase } from "../../test/support/postgres.ts";
import { until } from "../../test/support/until.ts";
import { type Db, openDb } from "../db/index.ts";
import { listenerApplicationName } from "../db/postgresListener.ts";
import { followDirectoryChanges } from "./directoryFeed.ts";
import { directoryChannel, type ProviderDirectory } from "./providerDirectory.ts";

describe.skipIf(!postgresAvailable)("directory feed", () => {
  let database: TestDatabase;
  let db: Db;

  beforeAll(async () => {
    database = await createTestDatabase("killcord_feed");
    db = await openDb({ databaseUrl: database.url, dataDir: "unused" });
  });
  afterAll(async () => {
    // The test closes it itself; a second close would refuse.
    await db?.close().catch(() => {});
    await database?.drop();
  });

  const listenerSessions = () =>
    queryPostgres<{ pid: number }>(
      database.url,
      `SELECT pid FROM pg_stat_activity WHERE application_name = '${listenerApplicationName}' AND datname = '${database.name}'`,
    );

  it("invalidates announced agents, clears after an outage, logs the outage once each way, and stops with the database", async () => {
    const calls: string[] = [];
    const directory: ProviderDirectory = {
      get: async () => undefined,
      invalidate: (agentId) => calls.push(`invalidate ${agentId}`),
      clear: () => calls.push("clear"),
    };
    const logged: string[] = [];
    const log = {
      info: (_: unknown, message?: string) => logged.push(`info ${message ?? _}`),
      warn: (_: unknown, message?: string) => logged.push(`warn ${message ?? _}`),
    } as unknown as FastifyBaseLogger;

    await followDirectoryChanges(db, directory, log);
    await db.query("SELECT pg_notify($1, $2)", [directoryChannel, "0xabc"]);
    await until(() => calls.length === 1);
    expect(calls).toEqual(["invalidate 0xabc"]);

    await queryPostgres(
      database.url,
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE application_name = '${listenerApplicationName}' AND datname = '${database.name}'`,
    );
    await until(() => calls.includes("clear"));
    expect(calls).toEqual(["invalidate 0xabc", "clear"]);
    expect(logged).toHaveLength(2);
    expect(logged[0]).toMatch(/^warn provider directory listener lost/);
    expect(logged[1]).toMatch(/^info provider directory listener back/);

    expect(await listenerSessions()).toHaveLength(1);
    await db.close();
    // The server forgets a session a moment after its client leaves.
    await until(async () => (await listenerSessions()).length === 0);
  });
});
