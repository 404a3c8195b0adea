// `npm run bench`: every benchmark, one after the other, each in its own process (so one's memory and
// servers never skew the next): the proxy bench (bench/proxy.ts), then the indexer bench (bench/indexer.ts)
// when present. Arguments (e.g. --quick) are passed on. `--only proxy` or `--only indexer` runs one.
// Each bench prints its table and writes JSON under bench/results/; this exits non-zero if one crashed.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../scripts/lib/artifacts.ts";

const args = process.argv.slice(2);
const onlyAt = args.indexOf("--only");
const only = onlyAt >= 0 ? args[onlyAt + 1] : undefined;
const passOn = onlyAt >= 0 ? args.filter((_, i) => i !== onlyAt && i !== onlyAt + 1) : args;

const benches = ["proxy", "indexer"].filter(
  (name) => (only === undefined || only === name) && existsSync(join(packageRoot, "bench", `${name}.ts`)),
);
if (benches.length === 0) {
  console.error(`no bench to run${only === undefined ? "" : ` named ${only}`}`);
  process.exit(2);
}

const failed: string[] = [];
for (const name of benches) {
  console.log(`\n=== bench: ${name} ===`);
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [join(packageRoot, "bench", `${name}.ts`), ...passOn], { stdio: "inherit" });
    child.once("exit", (exitCode, signal) => resolve(exitCode ?? (signal === null ? 1 : 128)));
  });
  if (code !== 0) failed.push(`${name} (exit ${code})`);
}
if (failed.length > 0) {
  console.error(`\nbenches that did not complete: ${failed.join(", ")}`);
  process.exit(1);
}
