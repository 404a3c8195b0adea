import { CliError } from "./errors.ts";

/** A `--port` value (1-65535), or `fallback` when absent; INVALID_ARGUMENT otherwise. */
export function parsePort(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65_535)
    throw new CliError("INVALID_ARGUMENT", `--port must be 1-65535, got ${value}`);
  return port;
}
