/** The benches' shared command-line and environment options. */
export const quick = process.argv.includes("--quick");

/** A positive integer from the environment variable `name`, or `fallback` when it is unset. */
export function intFromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

/** Node flags from the environment variable `name` (space-separated), or undefined when it is unset. */
export function flagsFromEnv(name: string): string[] | undefined {
  return process.env[name]?.split(" ").filter((flag) => flag !== "");
}
