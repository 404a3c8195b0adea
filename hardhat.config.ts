import { createRequire } from "node:module";
import { defineConfig } from "hardhat/config";

const require = createRequire(import.meta.url);

export default defineConfig({
  solidity: {
    // EAS pins `pragma solidity 0.8.29`; the npm `solc` package (pinned to 0.8.29) is the compiler so that
    // builds never download one.
    version: "0.8.29",
    path: require.resolve("solc/soljson.js"),
    settings: { optimizer: { enabled: true, runs: 1000 }, evmVersion: "cancun" },
    npmFilesToBuild: [
      "@ethereum-attestation-service/eas-contracts/contracts/EAS.sol",
      "@ethereum-attestation-service/eas-contracts/contracts/SchemaRegistry.sol",
    ],
  },
  paths: { sources: "contracts", tests: { solidity: "contracts" } },
  test: { solidity: { fuzz: { runs: 256 } } },
});
