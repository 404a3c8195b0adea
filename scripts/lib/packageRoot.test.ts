import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findPackageRoot, packageRoot } from "./packageRoot.ts";

describe("packageRoot", () => {
  it("is the folder of Killcord's package.json, with a trailing slash", () => {
    expect(packageRoot.endsWith("/")).toBe(true);
    expect(existsSync(join(packageRoot, "hardhat.config.ts"))).toBe(true);
  });

  it("is found from compiled code's folder too", () => {
    expect(findPackageRoot(join(packageRoot, "dist", "scripts", "lib"))).toBe(packageRoot.slice(0, -1));
  });

  it("skips package.json files of other packages", () => {
    expect(findPackageRoot(join(packageRoot, "node_modules", "zod", "v4"))).toBe(packageRoot.slice(0, -1));
  });
});
