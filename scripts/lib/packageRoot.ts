import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The first folder at or above `from` whose package.json is Killcord's. Walks up instead of assuming a fixed
 * depth so that the same code finds the root from its source (scripts/lib/) and compiled (dist/scripts/lib/).
 */
export function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    try {
      if (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).name === "killcord") return dir;
    } catch {
      // no package.json here (or not JSON): keep walking up
    }
    if (dirname(dir) === dir) throw new Error(`no package.json named "killcord" at or above ${from}`);
  }
}

/** The package root (where package.json, hardhat.config.ts and artifacts/ live), with a trailing slash. */
export const packageRoot = `${findPackageRoot(fileURLToPath(new URL(".", import.meta.url)))}/`;
