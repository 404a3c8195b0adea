/**
 * The indexer's own log lines (what it mirrors, what the reconciler and the chain guard do), printed beside
 * Ponder's. One line each, never a secret: URLs go through `redactUrl` first.
 */
type Level = "info" | "warn" | "error";

function line(level: Level, msg: string): string {
  const time = new Date().toISOString().slice(11, 23);
  return `${time} ${level.toUpperCase().padEnd(5)} killcord ${msg}`;
}

export const log = {
  info: (msg: string) => console.log(line("info", msg)),
  warn: (msg: string) => console.warn(line("warn", msg)),
  error: (msg: string) => console.error(line("error", msg)),
};
