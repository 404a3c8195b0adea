// `killcord proxy` as a launcher: the proxy runs in a process of its own, compiled when the build is fresh,
// with the V8 flags of proxy/runtime.ts; signals and exit codes pass through.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BuildStamp, proxyNodeFlags, writeBuildStamp } from "../proxy/runtime.ts";
import { packageRoot } from "../scripts/lib/packageRoot.ts";
import { runCli } from "./support/cli.ts";
import { freePort } from "./support/ports.ts";
import { startRedis, type TestRedis } from "./support/redis.ts";

const cliPath = join(packageRoot, "scripts", "cli", "killcord.ts");
const cleanup: string[] = [];
let redis: TestRedis;
let buildDir: string;

/** `npm run build:proxy` into a folder of this run (inside the package, so that node_modules resolve from it). */
async function buildProxy(): Promise<void> {
  mkdirSync(join(packageRoot, ".killcord"), { recursive: true });
  buildDir = mkdtempSync(join(packageRoot, ".killcord", "test-dist-"));
  cleanup.push(buildDir);
  const tsc = join(packageRoot, "node_modules", "typescript", "bin", "tsc");
  await promisify(execFile)(process.execPath, [tsc, "-p", join(packageRoot, "tsconfig.build.json"), "--outDir", buildDir]);
  writeBuildStamp(buildDir);
}

beforeAll(async () => {
  [redis] = await Promise.all([startRedis(), buildProxy()]);
});
afterAll(async () => {
  await redis?.close();
  for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
});

async function proxyEnv(extra: Record<string, string>): Promise<Record<string, string>> {
  const dataDir = mkdtempSync(join(tmpdir(), "killcord-launcher-"));
  cleanup.push(dataDir);
  return {
    KILLCORD_PROXY_HOST: "127.0.0.1",
    KILLCORD_PROXY_PORT: String(await freePort()),
    KILLCORD_REDIS_URL: redis.url,
    KILLCORD_DATA_DIR: dataDir,
    KILLCORD_MASTER_KEY: randomBytes(32).toString("hex"),
    KILLCORD_LOG_LEVEL: "silent",
    KILLCORD_SHUTDOWN_GRACE_MS: "2000",
    ...extra,
  };
}

interface Launched {
  launcher: ChildProcess;
  /** The proxy's ready line (the first line on stdout). */
  line: Record<string, any>;
  stdout(): string;
  stderr(): string;
  exit: Promise<number | null>;
}

/** Runs `killcord proxy --json` and waits for its first stdout line. */
async function launch(env: Record<string, string>): Promise<Launched> {
  const launcher = spawn(process.execPath, [cliPath, "proxy", "--json"], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  launcher.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exit = new Promise<number | null>((resolve) => launcher.once("exit", (code) => resolve(code)));
  const first = await new Promise<string>((resolve, reject) => {
    launcher.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes("\n")) resolve(stdout.slice(0, stdout.indexOf("\n")));
    });
    void exit.then((code) => reject(new Error(`launcher exited (${code}) before its ready line: ${stdout}${stderr}`)));
  });
  return { launcher, line: JSON.parse(first), stdout: () => stdout, stderr: () => stderr, exit };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function commandLine(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
}

describe("killcord proxy", () => {
  it("runs the compiled proxy in a process of its own, with the V8 flags, and stops it on SIGTERM", async () => {
    const run = await launch(await proxyEnv({ KILLCORD_DIST_DIR: buildDir }));
    expect(run.line).toMatchObject({ build: "compiled", failOpen: false, url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:/) });
    expect(run.line.pid).not.toBe(run.launcher.pid);
    expect(commandLine(run.line.pid)).toEqual(expect.arrayContaining([...proxyNodeFlags, join(buildDir, "proxy", "main.js")]));
    expect((await fetch(`${run.line.url}/healthz`)).status).toBe(200);
    expect(run.stderr()).not.toContain("TypeScript sources");

    run.launcher.kill("SIGTERM");
    expect(await run.exit).toBe(0);
    expect(alive(run.line.pid)).toBe(false);
    // With --json the launcher adds nothing: stdout is the proxy's one line.
    expect(run.stdout().trim().split("\n")).toHaveLength(1);
  });

  it("runs the proxy from its sources, with a warning, when the build is stale", async () => {
    // A copy of the build whose stamp no longer matches a source (the real sources stay untouched).
    const staleDir = `${buildDir}-stale`;
    cleanup.push(staleDir);
    cpSync(buildDir, staleDir, { recursive: true });
    const stamp = JSON.parse(readFileSync(join(staleDir, "BUILD.json"), "utf8")) as BuildStamp;
    stamp.files["proxy/server.ts"] = "0".repeat(64);
    writeFileSync(join(staleDir, "BUILD.json"), JSON.stringify(stamp));

    const run = await launch(await proxyEnv({ KILLCORD_DIST_DIR: staleDir }));
    expect(run.line).toMatchObject({ build: "source" });
    expect(commandLine(run.line.pid)).toEqual(expect.arrayContaining([...proxyNodeFlags, join(packageRoot, "proxy", "main.ts")]));
    expect(run.stderr().match(/TypeScript sources/g)).toHaveLength(1);
    expect(run.stderr()).toContain("proxy/server.ts changed since the build");
    expect(run.stderr()).toContain("npm run build");
    expect((await fetch(`${run.line.url}/healthz`)).status).toBe(200);

    run.launcher.kill("SIGINT");
    expect(await run.exit).toBe(0);
    expect(alive(run.line.pid)).toBe(false);
  });

  it("refuses a bad configuration before starting anything", async () => {
    // A dist that does not exist: had the launcher gone on to pick an entry, it would warn about it.
    const env = await proxyEnv({ KILLCORD_MASTER_KEY: "not-a-key", KILLCORD_DIST_DIR: join(buildDir, "nowhere") });
    const json = await runCli(["proxy", "--json"], env);
    expect(json.code).toBe(2);
    expect(json.json.error).toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("KILLCORD_MASTER_KEY") });
    expect(json.json.error.message).not.toContain("\n");
    expect(json.json.error.message).not.toContain("not-a-key");
    expect(json.stderr).toBe("");

    const human = await runCli(["proxy"], env);
    expect(human.code).toBe(2);
    expect(human.stdout).toBe("");
    expect(human.stderr).toMatch(/^killcord: invalid proxy configuration: KILLCORD_MASTER_KEY: .* \[INVALID_ARGUMENT\]\n$/);

    // The proxy's own entry refuses it the same way.
    const direct = await promisify(execFile)(process.execPath, [join(buildDir, "proxy", "main.js"), "--json"], {
      env: { ...process.env, ...env },
    }).catch((error: { code: number; stdout: string }) => error);
    expect("code" in direct ? direct.code : 0).toBe(2);
    expect(JSON.parse(direct.stdout)).toEqual(json.json);
  });
});
