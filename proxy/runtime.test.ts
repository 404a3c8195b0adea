import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { packageRoot } from "../scripts/lib/packageRoot.ts";
import { type BuildStamp, checkBuild, proxyEntry, runningBuild, stampDigest, writeBuildStamp } from "./runtime.ts";

// A stand-in for dist/: empty .js files named after real sources, so that the stamp hashes the real sources
// without compiling them. Inside the package, as a real dist/ must be.
let dist: string;
beforeEach(() => {
  mkdirSync(join(packageRoot, ".killcord"), { recursive: true });
  dist = mkdtempSync(join(packageRoot, ".killcord", "test-dist-"));
  mkdirSync(join(dist, "proxy"));
  writeFileSync(join(dist, "proxy", "main.js"), "");
  writeFileSync(join(dist, "proxy", "runtime.js"), "");
});
afterEach(() => rmSync(dist, { recursive: true, force: true }));

function editStamp(edit: (stamp: BuildStamp) => void): void {
  const path = join(dist, "BUILD.json");
  const stamp = JSON.parse(readFileSync(path, "utf8")) as BuildStamp;
  edit(stamp);
  writeFileSync(path, JSON.stringify(stamp));
}

describe("build stamp", () => {
  it("covers the compiled sources and the tsconfigs", () => {
    writeFileSync(join(dist, "proxy", "deletedSince.js"), ""); // left by a source that no longer exists
    const stamp = writeBuildStamp(dist);
    expect(Object.keys(stamp.files).sort()).toEqual([
      "proxy/main.ts",
      "proxy/runtime.ts",
      "tsconfig.build.json",
      "tsconfig.json",
    ]);
    expect(stamp.sha256).toBe(stampDigest(stamp.files));
    expect(JSON.parse(readFileSync(join(dist, "BUILD.json"), "utf8"))).toEqual(stamp);
  });

  it("refuses a dist without the proxy's entry", () => {
    rmSync(join(dist, "proxy", "main.js"));
    expect(() => writeBuildStamp(dist)).toThrow(/main\.js/);
  });

  it("digests paths and contents, whatever the order", () => {
    expect(stampDigest({ a: "1", b: "2" })).toBe(stampDigest({ b: "2", a: "1" }));
    expect(stampDigest({ a: "1", b: "2" })).not.toBe(stampDigest({ a: "2", b: "1" }));
  });
});

describe("proxyEntry", () => {
  it("runs the compiled entry when the stamp matches the sources", () => {
    writeBuildStamp(dist);
    expect(checkBuild(dist)).toEqual({ fresh: true });
    expect(proxyEntry({ KILLCORD_DIST_DIR: dist })).toEqual({ script: join(dist, "proxy", "main.js"), build: "compiled" });
  });

  it("falls back to the sources when dist is missing", () => {
    const entry = proxyEntry({ KILLCORD_DIST_DIR: join(dist, "nowhere") });
    expect(entry).toMatchObject({ script: join(packageRoot, "proxy", "main.ts"), build: "source" });
    expect(entry.staleReason).toMatch(/BUILD\.json is missing/);
  });

  it("names the source that changed since the build", () => {
    writeBuildStamp(dist);
    editStamp((stamp) => {
      stamp.files["proxy/runtime.ts"] = "0".repeat(64);
    });
    expect(proxyEntry({ KILLCORD_DIST_DIR: dist })).toMatchObject({
      build: "source",
      staleReason: "proxy/runtime.ts changed since the build",
    });
  });

  it("is stale when a source was deleted, the entry is gone or the stamp is altered", () => {
    writeBuildStamp(dist);
    editStamp((stamp) => {
      stamp.files["proxy/deletedSince.ts"] = "0".repeat(64);
    });
    expect(checkBuild(dist)).toMatchObject({ fresh: false, reason: "proxy/deletedSince.ts was deleted since the build" });
    writeBuildStamp(dist);
    editStamp((stamp) => {
      stamp.sha256 = "0".repeat(64);
    });
    expect(checkBuild(dist)).toMatchObject({ fresh: false, reason: expect.stringMatching(/does not match the sources/) });
    writeBuildStamp(dist);
    rmSync(join(dist, "proxy", "main.js"));
    expect(checkBuild(dist)).toMatchObject({ fresh: false, reason: expect.stringMatching(/proxy\/main\.js is missing/) });
  });

  it("knows this process runs from sources", () => {
    expect(runningBuild).toBe("source");
  });
});
