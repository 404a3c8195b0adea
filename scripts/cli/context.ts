import { CliError } from "../lib/errors.ts";
import { type Killcord, openKillcord } from "../lib/killcord.ts";

/** What a command receives: its positionals, its flags (already validated by parseArgs) and the output mode. */
export interface CommandContext {
  positionals: string[];
  flags: Record<string, string | boolean | undefined>;
  json: boolean;
  env: NodeJS.ProcessEnv;
  /** Progress lines for long work; silent with --json so stdout stays one JSON object. */
  progress(line: string): void;
}

/** A command returns the JSON object it prints with --json and the human text it prints otherwise. */
export interface CommandResult {
  json: Record<string, unknown>;
  human: string;
}

export interface Command {
  /** e.g. "agent register" */
  name: string;
  usage: string;
  summary: string;
  options?: Record<string, { type: "string" | "boolean"; short?: string }>;
  /** Sends transactions: refuse early (MISSING_WALLET) when KILLCORD_PRIVATE_KEY is unset. */
  needsWallet?: boolean;
  run(ctx: CommandContext): Promise<CommandResult>;
}

/** Connects to the chain named by the environment and loads its deployment. */
export function openFromEnv(ctx: CommandContext): Promise<Killcord> {
  const expected = ctx.env.KILLCORD_CHAIN_ID;
  if (expected !== undefined && !/^[0-9]+$/.test(expected)) {
    throw new CliError("INVALID_ARGUMENT", "KILLCORD_CHAIN_ID must be a number");
  }
  return openKillcord({
    rpcUrl: ctx.env.KILLCORD_RPC_URL,
    privateKey: ctx.env.KILLCORD_PRIVATE_KEY,
    expectedChainId: expected === undefined ? undefined : Number(expected),
  });
}

export function stringFlag(ctx: CommandContext, name: string): string | undefined {
  const value = ctx.flags[name];
  return typeof value === "string" ? value : undefined;
}

export function requirePositional(ctx: CommandContext, index: number, what: string): string {
  const value = ctx.positionals[index];
  if (value === undefined) throw new CliError("INVALID_ARGUMENT", `missing ${what}`);
  return value;
}
