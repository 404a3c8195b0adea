/** Stable error codes the CLI prints (and `--json` returns as `error.code`), with the process exit code. */
export const cliErrorCodes = {
  INVALID_ARGUMENT: 2,
  MISSING_WALLET: 2,
  RPC_UNREACHABLE: 3,
  WRONG_CHAIN: 4,
  NOT_DEPLOYED: 4,
  UNKNOWN_AGENT: 5,
  NOT_ATTESTER: 6,
  NOT_AUTHORIZED: 6,
  ALREADY_REVOKED: 7,
  AGENT_KILLED: 7,
  INVALID_SIGNATURE: 8,
  CONTRACT_REVERT: 9,
} as const;

export type CliErrorCode = keyof typeof cliErrorCodes;

/** An error the operator can act on: a stable code, a one-line message, and the underlying cause. */
export class CliError extends Error {
  readonly code: CliErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CliError";
    this.code = code;
    this.details = options?.details;
  }

  get exitCode(): number {
    return cliErrorCodes[this.code];
  }
}

/**
 * Prints an error the way the CLI does (with --json one `{ error: { code, message } }` line on stdout, else
 * `killcord: <message> [<code>]` on stderr) and returns the exit code. Errors other than CliError are INTERNAL.
 */
export function reportCliError(error: unknown, json: boolean): number {
  const cliError = error instanceof CliError ? error : undefined;
  const code = cliError?.code ?? "INTERNAL";
  const message = error instanceof Error ? error.message : String(error);
  if (json) {
    console.log(JSON.stringify({ error: { code, message, ...(cliError?.details ?? {}) } }));
  } else {
    console.error(`killcord: ${message} [${code}]`);
    if (cliError === undefined && error instanceof Error && process.env.KILLCORD_DEBUG) console.error(error.stack);
  }
  return cliError?.exitCode ?? 1;
}
