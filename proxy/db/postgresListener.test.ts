import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../../test/support/postgres.ts";
import { until } from "../../test/support/until.ts";
import { listenerApplicationName, listenPostgres } from "./postgresListener.ts";

const channel = "killcord_listener_test";

describe.skipIf(!postgresAvailable)("postgres listener", () => {
  let database: TestDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    database = await createTestDatabase("killcord_listen");
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
  });
  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });

  const notify = (payload: string) => pool.query("SELECT pg_notify($1, $2)", [channel, payload]);
  /** Ends the listener sessions of the test database from the server side, as an administrator would. */
  const terminateListeners = async () =>
    (
      await pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2", [
        listenerApplicationName,
        database.name,
      ])
    ).rowCount ?? 0;
  const listenerSessions = async () =>
    (
      await pool.query("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = $2", [
        listenerApplicationName,
        database.name,
      ])
    ).rowCount ?? 0;

  it("delivers committed notifications only", async () => {
    const payloads: string[] = [];
    const stop = await listenPostgres(database.url, channel, { onPayload: (p) => payloads.push(p), onGap: () => {} });
    try {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        await client.query("SELECT pg_notify($1, 'rolled back')", [channel]);
        await client.query("ROLLBACK");
      } finally {
        client.release();
      }
      await notify("committed");
      await until(() => payloads.length > 0);
      expect(payloads).toEqual(["committed"]);
    } finally {
      await stop();
    }
    expect(await listenerSessions()).toBe(0);
  });

  it("reconnects after its session is terminated, reports the outage once and the gap after it", async () => {
    const calls: string[] = [];
    const stop = await listenPostgres(
      database.url,
      channel,
      {
        onPayload: (p) => calls.push(`payload ${p}`),
        onGap: () => calls.push("gap"),
        onDown: () => calls.push("down"),
      },
      { minBackoffMs: 20 },
    );
    try {
      expect(calls).toEqual([]);
      expect(await terminateListeners()).toBe(1);
      await until(() => calls.includes("gap"));
      expect(calls).toEqual(["down", "gap"]);
      await notify("after");
      await until(() => calls.length === 3);
      expect(calls[2]).toBe("payload after");
    } finally {
      await stop();
    }
  });

  it("keeps trying while the database refuses it, and stops for good when stopped", async () => {
    const calls: string[] = [];
    // A database that does not exist: every attempt fails, and none may crash the process.
    const missing = database.url.replace(/\/[^/]+$/, `/${database.name}_missing`);
    const stop = await listenPostgres(
      missing,
      channel,
      { onPayload: () => {}, onGap: () => calls.push("gap"), onDown: () => calls.push("down") },
      { minBackoffMs: 10, maxBackoffMs: 50 },
    );
    await new Promise((r) => setTimeout(r, 300));
    await stop();
    expect(calls).toEqual(["down"]);
  });
});
