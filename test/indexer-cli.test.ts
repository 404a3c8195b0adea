import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startChain, type TestChain } from "./support/chain.ts";
import { runCli } from "./support/cli.ts";
import { freePort } from "./support/ports.ts";
import { startRedis, type TestRedis } from "./support/redis.ts";

const cliPath = fileURLToPath(new URL("../scripts/cli/killcord.ts", import.meta.url));
let chain: TestChain;
let redis: TestRedis;
let dataDir: string;

beforeAll(async () => {
  [chain, redis] = await Promise.all([startChain(), startRedis()]);
  dataDir = mkdtempSync(join(tmpdir(), "killcord-indexer-cli-"));
});
afterAll(async () => {
  await Promise.all([chain?.close(), redis?.close()]);
  rmSync(dataDir, { recursive: true, force: true });
});

describe("killcord indexer", () => {
  it("runs until ready, prints where it serves, and stops on SIGTERM", async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [cliPath, "indexer", "--port", String(port), "--json"], {
      env: { ...process.env, ...chain.env, REDIS_URL: redis.url, KILLCORD_INDEXER_DATA_DIR: dataDir, DATABASE_URL: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stderr.resume();
    const exited = once(child, "exit");
    const [line] = (await once(createInterface({ input: child.stdout }), "line")) as [string];
    const printed = JSON.parse(line);
    expect(printed).toMatchObject({
      url: `http://127.0.0.1:${port}`,
      graphql: `http://127.0.0.1:${port}/graphql`,
      chainId: 31337,
      genesisHash: chain.deployment.genesisHash,
      registry: chain.deployment.registry,
      database: "pglite",
      websocket: true,
    });
    expect((await fetch(`${printed.url}/ready`)).status).toBe(200);
    child.kill("SIGTERM");
    const [code] = await exited;
    expect(code).toBe(0);
  });

  it("refuses a chain with no deployment, a bad port and a port in use", async () => {
    const empty = mkdtempSync(join(tmpdir(), "killcord-deployments-"));
    try {
      const run = await runCli(["indexer", "--json"], { ...chain.env, KILLCORD_DEPLOYMENTS_DIR: empty, REDIS_URL: redis.url });
      expect(run.code).toBe(4);
      expect(run.json.error).toMatchObject({ code: "NOT_DEPLOYED", message: expect.stringMatching(/run `killcord deploy`/) });
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    const bad = await runCli(["indexer", "--port", "99999", "--json"], chain.env);
    expect(bad.code).toBe(2);
    expect(bad.json.error.code).toBe("INVALID_ARGUMENT");
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    try {
      const port = (taken.address() as AddressInfo).port;
      const busy = await runCli(["indexer", "--port", String(port), "--json"], {
        ...chain.env,
        REDIS_URL: redis.url,
        KILLCORD_INDEXER_DATA_DIR: dataDir,
        DATABASE_URL: "",
      });
      expect(busy.code).toBe(2);
      expect(busy.json.error).toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/already in use/) });
    } finally {
      taken.close();
    }
  });
});
