import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "bench/**/*.test.ts", "proxy/**/*.test.ts", "indexer/**/*.test.ts", "scripts/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/.ponder/**"],
    // Every test file starts real servers (Hardhat node, Redis, Ponder): give them room, and keep two files
    // at most in flight on these two-core machines.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: "forks",
    maxWorkers: 2,
    // The JSON report lets .ci/run print a closing "N passed, N failed" line.
    reporters: ["default", ["json", { outputFile: ".vitest-results.json" }]],
  },
});
