import { type Command, stringFlag } from "../context.ts";

export const proxyCommand: Command = {
  name: "proxy",
  usage: "killcord proxy [--port P]",
  summary:
    "run the Killcord proxy (gate + upstream forwarding + operator API) on KILLCORD_PROXY_HOST:P (default 8787) until interrupted",
  options: { port: { type: "string" } },
  // A launcher: the proxy runs in a process of its own (compiled, with the V8 flags that keep its memory
  // down, see proxy/runtime.ts), whose output is this command's output and whose exit code is its exit code.
  async run(ctx) {
    const port = stringFlag(ctx, "port");
    // Loaded on use: the other commands should not pay for zod at start-up. A bad configuration is refused
    // here, before anything starts; the proxy validates it again itself.
    const { configForCommand } = await import("../../../proxy/config.ts");
    const { env, config } = configForCommand(ctx.env, port);
    const { exited, spawnProxy } = await import("../../lib/proxyProcess.ts");
    ctx.progress(`starting the proxy on ${config.host}:${config.port} ...`);
    const { child } = spawnProxy({ env, args: ctx.json ? ["--json"] : [], stdio: "inherit" });
    const forward = (signal: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    process.on("SIGINT", forward);
    process.on("SIGTERM", forward);
    // The proxy printed its own output (or error); this process adds nothing and leaves with its exit code.
    process.exit(await exited(child));
  },
};
