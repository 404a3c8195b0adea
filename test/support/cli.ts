import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

const cliPath = fileURLToPath(new URL("../../scripts/cli/killcord.ts", import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as the one JSON object `--json` prints. */
  json: Record<string, any>;
}

/** Runs the real `killcord` CLI in a child process (as an operator would) with extra environment. */
export function runCli(args: string[], env: Record<string, string>, input?: string): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [cliPath, ...args],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        let json: Record<string, any> = {};
        try {
          json = JSON.parse(stdout);
        } catch {
          // human output
        }
        resolve({ code, stdout, stderr, json });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}
