/**
 * Starts the proxy the production way: a Node process of its own, running the compiled entry when dist/ is
 * fresh (else the TypeScript one, with a warning), with the V8 flags of proxy/runtime.ts on its command line.
 * `killcord proxy` spawns it with stdio inherited; `npm start` waits for its ready line.
 */
import { type ChildProcess, type StdioOptions, spawn } from "node:child_process";
import { constants } from "node:os";
import { type ProxyBuild, type ProxyEntry, proxyEntry, proxyNodeFlags } from "../../proxy/runtime.ts";

export interface SpawnProxyOptions {
  /** The proxy's environment (its whole configuration). */
  env: NodeJS.ProcessEnv;
  /** Arguments of proxy/main (e.g. `--json`). */
  args?: string[];
  stdio: StdioOptions;
  /** Where the one-line warning goes when the proxy runs from its sources. Default stderr. */
  warn?: (line: string) => void;
}

export function spawnProxy(options: SpawnProxyOptions): { child: ChildProcess; entry: ProxyEntry } {
  const entry = proxyEntry(options.env);
  if (entry.build === "source") {
    (options.warn ?? ((line) => console.error(line)))(
      `killcord: running the proxy from its TypeScript sources (${entry.staleReason}): ` +
        "run `npm run build` for the compiled proxy (~25 MB less memory)",
    );
  }
  const child = spawn(process.execPath, [...proxyNodeFlags, entry.script, ...(options.args ?? [])], {
    env: options.env,
    stdio: options.stdio,
  });
  return { child, entry };
}

/** The exit code a shell would report: the child's own, or 128 + the signal's number when a signal ended it. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0));
}

/** Resolves with the child's exit code once it has exited (or failed to spawn: 1). */
export function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(exitCodeOf(child.exitCode, child.signalCode));
    child.once("exit", (code, signal) => resolve(exitCodeOf(code, signal)));
    child.once("error", () => resolve(1));
  });
}

/** The line proxy/main prints with --json once it listens. */
export interface ProxyReadyLine {
  url: string;
  docs: string;
  metrics: string;
  failOpen: boolean;
  pid: number;
  build: ProxyBuild;
}

export interface ProxyProcess extends ProxyReadyLine {
  child: ChildProcess;
  /** Resolves with the exit code when the proxy exits, for whatever reason. */
  exited: Promise<number>;
  /** SIGTERM (graceful: in-flight calls drain), then waits for the exit. */
  stop(): Promise<void>;
}

/**
 * Spawns the proxy with --json (logs on stderr, inherited) and resolves once it listens. Rejects with the
 * proxy's own error message when it refuses to start (configuration, port in use, ...).
 */
export async function startProxyProcess(options: Omit<SpawnProxyOptions, "stdio" | "args">): Promise<ProxyProcess> {
  const { child } = spawnProxy({ ...options, args: ["--json"], stdio: ["ignore", "pipe", "inherit"] });
  const exit = exited(child);
  const line = await new Promise<string | undefined>((resolve) => {
    let buffered = "";
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const end = buffered.indexOf("\n");
      if (end === -1) return;
      child.stdout?.off("data", onData);
      // Anything after the ready line is not expected; pass it on rather than lose it.
      if (end + 1 < buffered.length) process.stdout.write(buffered.slice(end + 1));
      child.stdout?.pipe(process.stdout);
      resolve(buffered.slice(0, end));
    };
    child.stdout?.on("data", onData);
    void exit.then(() => resolve(undefined));
  });
  let ready: Partial<ProxyReadyLine> & { error?: { code: string; message: string } } = {};
  try {
    ready = line === undefined ? {} : JSON.parse(line);
  } catch {
    // not the ready line: reported below
  }
  if (ready.url === undefined) {
    if (line !== undefined) child.kill("SIGKILL"); // printed something else than its ready line
    const code = await exit;
    const why = ready.error === undefined ? `exited with code ${code}` : `${ready.error.message} [${ready.error.code}]`;
    throw new Error(`the proxy did not start: ${why}`);
  }
  return {
    ...(ready as ProxyReadyLine),
    child,
    exited: exit,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exit;
    },
  };
}
