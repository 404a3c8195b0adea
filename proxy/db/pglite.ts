import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { type Extension, PGlite, type Transaction } from "@electric-sql/pglite";
import type { Session } from "./index.ts";

/**
 * Postgres settings that PGlite 0.2.13 puts on the backend's command line (`-c name=value`, which outranks
 * postgresql.conf and ALTER SYSTEM; the package has no option for them), and the values the proxy runs with.
 * PGlite's shared memory is resident from the start, so `shared_buffers=128MB` alone made up ~130 MB of the
 * proxy's RSS. The gate never reads the store and the control plane's reads cost ~0.7 ms each in PGlite's
 * protocol round trip whatever the cache holds: with 10,000 or 50,000 agents (13 and 65 MB of tables),
 * 8 MB of buffers answered as fast as 128 MB, pages beyond them coming from the OS page cache.
 */
export const pgliteSettings: readonly (readonly [builtIn: string, ours: string])[] = [
  ["shared_buffers=128MB", "shared_buffers=8MB"],
  ["wal_buffers=4MB", "wal_buffers=1MB"],
];

/**
 * Rewrites the built-in settings in the WASM module's memory after it is instantiated and before Postgres
 * starts: each is a NUL-terminated string in the module's data, overwritten in place by a shorter one. A
 * string that is missing or not unique (another PGlite build) is left alone with a warning: Postgres then
 * runs with PGlite's defaults, correct but larger.
 */
const smallerPostgres: Extension = {
  name: "killcord-smaller-postgres",
  setup: async (_pg, emscriptenOpts) => ({
    emscriptenOpts: {
      ...emscriptenOpts,
      preRun: [
        ...(emscriptenOpts.preRun ?? []),
        (mod: { HEAPU8: Uint8Array }) => {
          const heap = Buffer.from(mod.HEAPU8.buffer, mod.HEAPU8.byteOffset, mod.HEAPU8.byteLength);
          for (const [builtIn, ours] of pgliteSettings) {
            const needle = Buffer.from(`${builtIn}\0`);
            const at = heap.indexOf(needle);
            if (at < 0 || heap.lastIndexOf(needle) !== at || ours.length > builtIn.length) {
              process.emitWarning(`PGlite: could not set ${ours}; Postgres runs with ${builtIn}`);
              continue;
            }
            heap.fill(0, at, at + needle.length);
            heap.write(ours, at, "latin1");
          }
        },
      ],
    },
  }),
};

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
    pg = await PGlite.create(join(dataDir, "pglite"), { extensions: { smallerPostgres } });
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
