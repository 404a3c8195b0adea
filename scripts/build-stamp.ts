// The last step of `npm run build` (after `tsc -p tsconfig.build.json`): writes dist/BUILD.json, which the
// `killcord proxy` launcher checks before it runs the compiled proxy. `node scripts/build-stamp.ts [dist]`.
import { relative } from "node:path";
import { distDir, writeBuildStamp } from "../proxy/runtime.ts";
import { packageRoot } from "./lib/packageRoot.ts";

const dist = process.argv[2] === undefined ? distDir() : distDir({ KILLCORD_DIST_DIR: process.argv[2] });
const stamp = writeBuildStamp(dist);
console.log(
  `${relative(packageRoot, dist)}/BUILD.json: ${Object.keys(stamp.files).length} inputs, sha256 ${stamp.sha256.slice(0, 16)}`,
);
