import pg from "pg";
import type { Session } from "./index.ts";
import { listenPostgres } from "./postgresListener.ts";

const int8Oid = 20;

function clientSession(client: pg.PoolClient): Session {
  const session: Session = {
    query: async (sql, params) => ({ rows: (await client.query(sql, params as any[])).rows }),
    // Without parameters pg uses the simple query protocol, which runs a multi-statement script.
    exec: async (sql) => {
      await client.query(sql);
    },
    transaction: (fn) => fn(session),
    close: async () => {
      throw new Error("close the database, not a transaction");
    },
  };
  return session;
}

/** Connects a pool to a Postgres server; fails at once when the server does not answer. */
export async function openPostgres(databaseUrl: string): Promise<Session> {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: 10,
    connectionTimeoutMillis: 5_000,
    // Millisecond times are bigint columns; they stay far below 2^53, so numbers are exact.
    types: {
      getTypeParser: ((oid: number, format?: any) =>
        oid === int8Oid ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as any,
    },
  });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on("error", () => {});
  const probe = await pool.connect();
  probe.release();
  const listeners = new Set<() => Promise<void>>();
  return {
    query: async (sql, params) => ({ rows: (await pool.query(sql, params as any[])).rows }),
    exec: async (sql) => {
      await pool.query(sql);
    },
    transaction: async (fn) => {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query("BEGIN");
        const result = await fn(clientSession(client));
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {
          broken = true;
        });
        throw error;
      } finally {
        // A client whose ROLLBACK failed may sit in an aborted transaction: drop it rather than reuse it.
        client.release(broken);
      }
    },
    listen: async (channel, handlers) => {
      const stop = await listenPostgres(databaseUrl, channel, handlers);
      const unlisten = async () => {
        listeners.delete(unlisten);
        await stop();
      };
      listeners.add(unlisten);
      return unlisten;
    },
    close: async () => {
      await Promise.all([...listeners].map((unlisten) => unlisten()));
      await pool.end();
    },
  };
}
