/**
 * The proxy's production entry, a process of its own: `node --max-semi-space-size=... dist/proxy/main.js
 * [--port P] [--json]` (compiled by `npm run build`; proxy/main.ts runs the same from sources). Configuration
 * comes from the environment (proxy/config.ts). Prints where it listens (with --json one line: url, docs,
 * metrics, failOpen, pid, build; logs then go to stderr), runs until SIGINT or SIGTERM, drains and exits 0.
 * A configuration error exits with INVALID_ARGUMENT's code (2) and the CLI's error shape.
 * `killcord proxy` and `npm start` start this file with the flags of proxy/runtime.ts.
 */
import { parseArgs } from "node:util";
import { CliError, reportCliError } from "../scripts/lib/errors.ts";
import { configForCommand } from "./config.ts";
import { runningBuild } from "./runtime.ts";
import { startProxy } from "./server.ts";

const usage = "node [flags] proxy/main.js [--port P] [--json]";

async function main(json: boolean): Promise<void> {
  let port: string | undefined;
  try {
    port = parseArgs({ options: { port: { type: "string" }, json: { type: "boolean" } }, strict: true }).values.port;
  } catch (error) {
    throw new CliError("INVALID_ARGUMENT", `${(error as Error).message}\nusage: ${usage}`);
  }
  const { config } = configForCommand(process.env, port);
  const proxy = await startProxy(config, { logStream: json ? process.stderr : process.stdout });
  let stopping = false;
  // `process.on`, not `once`: Ctrl-C in a terminal reaches this process twice (from the terminal, and
  // forwarded by the `killcord proxy` launcher); a second signal must not end the drain with Node's default.
  const stop = () => {
    if (stopping) return;
    stopping = true;
    proxy.close().then(
      () => process.exit(0),
      (error: unknown) => process.exit(reportCliError(error, json)),
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const line = {
    url: proxy.url,
    docs: `${proxy.url}/docs`,
    metrics: `${proxy.url}/metrics`,
    failOpen: config.failOpen,
    pid: process.pid,
    build: runningBuild,
  };
  const human = [
    `Killcord proxy at ${proxy.url}`,
    `  operator API  ${proxy.url}/v1   (OpenAPI at ${proxy.url}/docs)`,
    `  agents call   ${proxy.url}/<provider>/<path>  with their Killcord credential`,
    `  metrics       ${proxy.url}/metrics   health ${proxy.url}/healthz   ready ${proxy.url}/readyz`,
    config.failOpen ? "  WARNING: KILLCORD_GATE_FAIL_OPEN is set" : "  gate fails closed when Redis is unreachable",
    "Press Ctrl-C to stop (in-flight requests drain first).",
  ].join("\n");
  console.log(json ? JSON.stringify(line) : human);
}

const json = process.argv.includes("--json");
try {
  await main(json);
} catch (error) {
  // Exit now: a start that failed half-way may hold handles (sockets, timers) that would keep the process up.
  process.exit(reportCliError(error, json));
}
