import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openPglite, pgliteSettings } from "./pglite.ts";

const dirs: string[] = [];
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "killcord-pglite-"));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs `body` (an async function body with `openPglite` and `dir` in scope) in a node process of its own,
 * resolves when it prints "committed", then kills it with SIGKILL: no close, no shutdown hook.
 */
async function commitThenCrash(dir: string, body: string): Promise<void> {
  const script = `
    const { openPglite } = await import(${JSON.stringify(new URL("./pglite.ts", import.meta.url).href)});
    const dir = ${JSON.stringify(dir)};
    ${body}
    process.stdout.write("committed\\n");
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    let out = "";
    child.stdout.setEncoding("utf8");
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: string) => {
        out += chunk;
        if (out.includes("committed\n")) resolve();
      });
      child.on("exit", (code) => reject(new Error(`the child exited (${code}) before committing: ${out}`)));
    });
  } finally {
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  }
}

describe("embedded PGlite", () => {
  it("starts Postgres with the proxy's smaller buffers", async () => {
    const db = await openPglite(dataDir());
    try {
      for (const [, ours] of pgliteSettings) {
        const [name, value] = ours.split("=") as [string, string];
        const { rows } = await db.query(`SHOW ${name}`);
        expect({ [name]: rows[0][name] }).toEqual({ [name]: value });
      }
    } finally {
      await db.close();
    }
  });

  it("keeps the smaller buffers when it reopens an existing folder", async () => {
    const dir = dataDir();
    await (await openPglite(dir)).close();
    const db = await openPglite(dir);
    try {
      const { rows } = await db.query("SHOW shared_buffers");
      expect(rows[0].shared_buffers).toBe(pgliteSettings[0]![1].split("=")[1]);
    } finally {
      await db.close();
    }
  });

  it("keeps every committed write when the process is killed", async () => {
    const dir = dataDir();
    await commitThenCrash(
      dir,
      `const db = await openPglite(dir);
       await db.exec("CREATE TABLE kept (n integer PRIMARY KEY)");
       for (let n = 1; n <= 50; n++) await db.transaction((tx) => tx.query("INSERT INTO kept VALUES ($1)", [n]));
       await db.query("INSERT INTO kept SELECT generate_series(51, 5000)");`,
    );
    // The dead process's lock is stale: this open takes it over and Postgres recovers from its WAL.
    const db = await openPglite(dir);
    try {
      const { rows } = await db.query("SELECT count(*)::int AS n, max(n) AS top FROM kept");
      expect(rows[0]).toEqual({ n: 5000, top: 5000 });
      await db.query("INSERT INTO kept VALUES (5001)");
    } finally {
      await db.close();
    }
  });
});
