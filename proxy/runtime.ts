/**
 * How the proxy process runs in production: the V8 flags it needs on its command line, the build stamp that
 * says whether dist/ was compiled from the sources as they are now, and which entry to start (compiled
 * dist/proxy/main.js when the stamp matches, else proxy/main.ts run from TypeScript). Only node: imports:
 * the `killcord proxy` launcher and `npm start` load this before spawning the proxy.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { packageRoot } from "../scripts/lib/packageRoot.ts";

/**
 * V8 flags of the proxy process. `--max-semi-space-size` (MiB) caps the young generation's semi-spaces,
 * which V8 otherwise grows to 16 MiB each under load: resident memory the proxy does not need. 4 was chosen
 * by `npm run bench` (proxy on Postgres, saturation and half-saturation phases): the default (16) peaked at
 * ~180 MB RSS, 8 at ~155 MB, 4 at ~140 MB with the same CPU per request; 1 or 2 make the scavenger run every
 * megabyte, promote in-flight requests into the old generation and cost more CPU *and* more memory. Re-measured
 * after the proxy stopped making old-generation garbage per request (inFlight.ts, usageMeter.ts, metrics/): 8
 * now peaks at ~131-133 MB as well; in paired runs with `--single-threaded-gc` 4 gave (c)/(b) 0.700/0.708
 * and p99 added +3.5/+3.6 ms, 8 gave 0.685/0.682 and +4.4/+13.4 ms, so 4 stays. It must be on the node
 * command line (or NODE_OPTIONS): `v8.setFlagsFromString` at run time does not resize the heap.
 *
 * `--no-allocation-site-pretenuring`: under load V8 sees the proxy's request-scoped objects (fastify, undici and
 * node:http per-request state) survive a scavenge often enough to start allocating them straight into the old
 * generation, where they die young anyway: in about half of the bench's runs the old generation then grew by
 * ~70 MB/s and was mark-compacted every ~2 s (pauses of 4-14 ms, ~65 MB of freed pages kept resident), against
 * ~15 MB/s without pretenuring (7 runs of 7).
 *
 * `--single-threaded-gc`: V8 otherwise scavenges with helper threads and marks the old generation concurrently
 * on others. On a machine whose cores are busy anyway (the bench's two cores run the load generator, the
 * upstream, Redis and the proxy; in production, a proxy in a 1-2 vCPU container beside other work) those
 * threads compete with the proxy's own thread and its peers, and a marking cycle stretched over busy cores
 * is what requests waiting in the proxy feel. Same work on the main thread instead: in three paired bench runs
 * (same flags otherwise) (c)/(b) throughput 0.700/0.708/0.713 against 0.684/0.697/0.661, p99 added at half
 * saturation +3.5/+3.6/+9.0 ms against +10.4/+13.3/+12.3 ms, RSS peak 121-136 MB either way. The price: an
 * old-generation cycle marks on the proxy's thread (~90 ms of steps in one traced run, against 1-9 ms with
 * concurrent marking), and a half-saturation round that holds one has a p99 of 80-150 ms. Re-checked
 * 2026-11-29 without the flag: such rounds still came (a 96 ms p99 round in two runs), with RSS peaks of 135 and
 * 153 MB, so the flag stays.
 */
export const proxyNodeFlags: readonly string[] = [
  "--max-semi-space-size=4",
  "--no-allocation-site-pretenuring",
  "--single-threaded-gc",
];

export type ProxyBuild = "compiled" | "source";

/**
 * This process's code: "compiled" when loaded from dist/ (JavaScript), "source" when Node strips the types
 * of the .ts files as it loads them (which keeps a ~25 MB WASM transpiler resident for the process's life).
 */
export const runningBuild: ProxyBuild = import.meta.url.endsWith(".js") ? "compiled" : "source";

/** The build stamp, `<dist>/BUILD.json`. */
export interface BuildStamp {
  /** sha256 over the `sha256  path` lines of `files`, sorted by path (the format of `sha256sum`). */
  sha256: string;
  /** Every input of the build (package-relative path -> sha256 of its content): the compiled sources and the tsconfigs. */
  files: Record<string, string>;
  builtAt: string;
}

/** The build's settings: a changed tsconfig makes dist/ stale as a changed source does. */
const buildSettings = ["tsconfig.json", "tsconfig.build.json"];

/** Where the compiled proxy lives: KILLCORD_DIST_DIR (inside the package, so that node_modules resolve), default `<package>/dist`. */
export function distDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.KILLCORD_DIST_DIR;
  return dir === undefined || dir === "" ? join(packageRoot, "dist") : resolve(packageRoot, dir);
}

function fileSha256(path: string): string {
  return createHash("sha256")
    .update(readFileSync(join(packageRoot, path)))
    .digest("hex");
}

/** One digest over the files' paths and contents, independent of the order they are listed in. */
export function stampDigest(files: Record<string, string>): string {
  const lines = Object.keys(files)
    .sort()
    .map((path) => `${files[path]}  ${path}\n`);
  return createHash("sha256").update(lines.join("")).digest("hex");
}

function* compiledFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* compiledFiles(path);
    else if (entry.name.endsWith(".js")) yield path;
  }
}

/**
 * Writes `<dist>/BUILD.json` after `tsc -p tsconfig.build.json`. The compiled sources are read off dist/
 * itself (each `x.js` came from `x.ts`). A `.js` left from a source deleted since an earlier build is
 * skipped: nothing compiled imports it.
 */
export function writeBuildStamp(dist: string = distDir()): BuildStamp {
  const files: Record<string, string> = {};
  for (const path of compiledFiles(dist)) {
    const source = `${relative(dist, path).slice(0, -".js".length).split(sep).join("/")}.ts`;
    if (existsSync(join(packageRoot, source))) files[source] = fileSha256(source);
  }
  if (files["proxy/main.ts"] === undefined) throw new Error(`${dist} holds no compiled proxy/main.js: run tsc first`);
  for (const path of buildSettings) files[path] = fileSha256(path);
  const stamp: BuildStamp = { sha256: stampDigest(files), files, builtAt: new Date().toISOString() };
  writeFileSync(join(dist, "BUILD.json"), `${JSON.stringify(stamp, null, 2)}\n`);
  return stamp;
}

/** Whether `<dist>` was compiled from the sources as they are now; when not, why. Reads each input once (~60 files). */
export function checkBuild(dist: string = distDir()): { fresh: true } | { fresh: false; reason: string } {
  const shown = relative(packageRoot, dist) || ".";
  let stamp: BuildStamp;
  try {
    stamp = JSON.parse(readFileSync(join(dist, "BUILD.json"), "utf8"));
  } catch {
    return { fresh: false, reason: `${shown}/BUILD.json is missing (not built)` };
  }
  if (!existsSync(join(dist, "proxy", "main.js"))) return { fresh: false, reason: `${shown}/proxy/main.js is missing` };
  const now: Record<string, string> = {};
  for (const [path, sha] of Object.entries(stamp.files ?? {})) {
    if (!existsSync(join(packageRoot, path))) return { fresh: false, reason: `${path} was deleted since the build` };
    now[path] = fileSha256(path);
    if (now[path] !== sha) return { fresh: false, reason: `${path} changed since the build` };
  }
  if (stampDigest(now) !== stamp.sha256) return { fresh: false, reason: `${shown}/BUILD.json does not match the sources` };
  return { fresh: true };
}

export interface ProxyEntry {
  /** Absolute path of the script to run with `node ...proxyNodeFlags <script>`. */
  script: string;
  build: ProxyBuild;
  /** Why the compiled entry was not chosen (build "source" only). */
  staleReason?: string;
}

/** The proxy's entry: the compiled one when the build stamp matches the sources, else the TypeScript one. */
export function proxyEntry(env: NodeJS.ProcessEnv = process.env): ProxyEntry {
  const dist = distDir(env);
  const check = checkBuild(dist);
  if (check.fresh) return { script: join(dist, "proxy", "main.js"), build: "compiled" };
  return { script: join(packageRoot, "proxy", "main.ts"), build: "source", staleReason: check.reason };
}
