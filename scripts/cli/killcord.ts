#!/usr/bin/env node
// The `killcord` CLI: human output by default, one JSON object with --json, stable error codes and non-zero
// exit codes on failure.
import { parseArgs } from "node:util";
import { CliError, reportCliError } from "../lib/errors.ts";
import { commands } from "./commands/index.ts";
import type { Command, CommandContext } from "./context.ts";

function findCommand(args: string[]): { command: Command; rest: string[] } | undefined {
  const words = args.filter((a) => !a.startsWith("-"));
  // Longest name first so "agent register" wins over a hypothetical "agent".
  const sorted = [...commands].sort((a, b) => b.name.split(" ").length - a.name.split(" ").length);
  for (const command of sorted) {
    const parts = command.name.split(" ");
    if (parts.every((part, i) => words[i] === part)) {
      const rest = [...args];
      for (const part of parts) rest.splice(rest.indexOf(part), 1);
      return { command, rest };
    }
  }
  return undefined;
}

function help(): string {
  return [
    "killcord: a kill switch for AI agents whose root of trust is onchain",
    "",
    ...commands.map((c) => `  ${c.usage}\n      ${c.summary}`),
    "",
    "Every command takes --json. Environment: KILLCORD_RPC_URL (default http://127.0.0.1:8545),",
    "KILLCORD_PRIVATE_KEY (the wallet), KILLCORD_CHAIN_ID (refuse other chains), KILLCORD_DEPLOYMENTS_DIR.",
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  const found = findCommand(argv);
  if (found === undefined) {
    const asked = argv.includes("--help") || argv.includes("-h") || argv.filter((a) => !a.startsWith("-")).length === 0;
    if (asked) {
      console.log(help());
      return 0;
    }
    return reportCliError(new CliError("INVALID_ARGUMENT", `unknown command: ${argv.join(" ")}\n\n${help()}`), json);
  }
  const { command, rest } = found;
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      options: { ...command.options, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
    if (values.help === true) {
      console.log(`${command.usage}\n  ${command.summary}`);
      return 0;
    }
    const ctx: CommandContext = {
      positionals,
      flags: values as CommandContext["flags"],
      json,
      env: process.env,
      progress: (line) => {
        if (!json) console.error(line);
      },
    };
    if (command.needsWallet === true && (process.env.KILLCORD_PRIVATE_KEY ?? "") === "") {
      throw new CliError(
        "MISSING_WALLET",
        `\`${command.name}\` sends a transaction: set KILLCORD_PRIVATE_KEY to the wallet's key`,
      );
    }
    const result = await command.run(ctx);
    console.log(json ? JSON.stringify(result.json) : result.human);
    return 0;
  } catch (error) {
    if (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS")) {
      return reportCliError(new CliError("INVALID_ARGUMENT", `${error.message}\nusage: ${command.usage}`), json);
    }
    return reportCliError(error, json);
  }
}

process.exitCode = await main(process.argv.slice(2));
