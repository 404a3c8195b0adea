import { CliError } from "../../lib/errors.ts";
import { type Command, stringFlag } from "../context.ts";
import { parsePort } from "./chain.ts";

export const proxyCommand: Command = {
  name: "proxy",
  usage: "killcord proxy [--port P]",
  summary:
    "run the Killcord proxy (gate + upstream forwarding + operator API) on KILLCORD_PROXY_HOST:P (default 8787) until interrupted",
  options: { port: { type: "string" } },
  async run(ctx) {
    const port = stringFlag(ctx, "port");
    const env = port === undefined ? ctx.env : { ...ctx.env, KILLCORD_PROXY_PORT: String(parsePort(port, 8787)) };
    // Loaded on use: the other commands should not pay for fastify, ioredis and PGlite at start-up.
    const { ConfigError, loadConfig } = await import("../../../proxy/config.ts");
    const { startProxy } = await import("../../../proxy/server.ts");
    let config: ReturnType<typeof loadConfig>;
    try {
      config = loadConfig(env);
    } catch (error) {
      if (error instanceof ConfigError) throw new CliError("INVALID_ARGUMENT", error.message);
      throw error;
    }
    ctx.progress(`starting the proxy on ${config.host}:${config.port} ...`);
    const proxy = await startProxy(config, { logStream: ctx.json ? process.stderr : process.stdout });
    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      await proxy.close();
      process.exit(0);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    const json = { url: proxy.url, docs: `${proxy.url}/docs`, metrics: `${proxy.url}/metrics`, failOpen: config.failOpen };
    const human = [
      `Killcord proxy at ${proxy.url}`,
      `  operator API  ${proxy.url}/v1   (OpenAPI at ${proxy.url}/docs)`,
      `  agents call   ${proxy.url}/<provider>/<path>  with their Killcord credential`,
      `  metrics       ${proxy.url}/metrics   health ${proxy.url}/healthz   ready ${proxy.url}/readyz`,
      config.failOpen ? "  WARNING: KILLCORD_GATE_FAIL_OPEN is set" : "  gate fails closed when Redis is unreachable",
      "Press Ctrl-C to stop (in-flight requests drain first).",
    ].join("\n");
    // This command keeps running: print now, then wait for a signal.
    console.log(ctx.json ? JSON.stringify(json) : human);
    await new Promise(() => {});
    return { json, human };
  },
};
