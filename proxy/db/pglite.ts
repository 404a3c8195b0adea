import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import type { Session } from "./index.ts";

/**
 * PGlite is one process's database: two processes opening one folder corrupt it. A lock file holding the
 * owner's pid refuses a second opener while the first is alive and is taken over when it is stale.
 */
function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, "killcord.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const pid = Number(readFileSync(path, "utf8").trim());
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new Error(
          `the database in ${dataDir} is open in process ${pid}; PGlite serves one process (use DATABASE_URL for several proxies)`,
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new Error(`could not lock ${path}`);
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function txSession(tx: Transaction): Session {
  const session: Session = {
    query: async (sql, params) => ({ rows: (await tx.query(sql, params as any[])).rows as any[] }),
    exec: async (sql) => {
      await tx.exec(sql);
    },
    transaction: (fn) => fn(session),
    close: async () => {
      throw new Error("close the database, not a transaction");
    },
  };
  return session;
}

/** Opens (creating if needed) the embedded database in `dataDir`. */
export async function openPglite(dataDir: string): Promise<Session> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const unlock = lockDataDir(dataDir);
  let pg: PGlite;
  try {
    pg = await PGlite.create(join(dataDir, "pglite"));
  } catch (error) {
    unlock();
    throw error;
  }
  let closed = false;
  return {
    query: async (sql, params) => ({ rows: (await pg.query(sql, params as any[])).rows as any[] }),
    exec: async (sql) => {
      await pg.exec(sql);
    },
    // PGlite runs one statement at a time and holds its lock for the whole transaction, so a transaction
    // here is never interleaved with other queries.
    transaction: async (fn) => (await pg.transaction((tx) => fn(txSession(tx)))) as Awaited<ReturnType<typeof fn>>,
    close: async () => {
      if (closed) return;
      closed = true;
      try {
        await pg.close();
      } finally {
        unlock();
      }
    },
  };
}
